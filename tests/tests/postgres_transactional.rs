//! Enqueueing inside the caller's Postgres transaction: the task runs if the
//! transaction commits, and never exists if it rolls back; the call is
//! prepared as the Stem prepares every enqueue: held to its payload limit
//! (an error, nothing stored), signed (a verifying worker runs it), routed.

use stem::prelude::*;
use stem::routing::Routing;
use stem::signing::Signing;
use stem::{Error, TaskId};
use stem_adapters::postgres::{EnqueueInTransaction, PostgresOptions, PostgresStore};
use stem_tests::{TestResult, WAIT, postgres_url};

#[stem::task]
async fn greet(name: String) -> Result<String, TaskError> {
    Ok(format!("hello, {name}"))
}

/// A store in a schema of its own, the Stem on it, and a pool for the
/// caller's transactions.
async fn open(label: &str) -> Option<(PostgresStore, Stem, sqlx::PgPool)> {
    let url = postgres_url()?;
    let schema = format!("test_{label}_{:08x}", fastrand::u32(..));
    let store = PostgresStore::connect_with(PostgresOptions::new(&url).with_schema(&schema)).await.expect("postgres");
    let pool = sqlx::PgPool::connect(&url).await.expect("a pool");
    Some((store.clone(), Stem::new(store.stores()), pool))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_enqueued_in_a_transaction_exists_only_if_it_commits() -> TestResult {
    let Some((store, stem, pool)) = open("tx").await else { return Ok(()) };
    let worker = Worker::builder(&stem).task::<Greet>().handle_signals(false).build()?.spawn();

    // Rolled back: nothing was ever enqueued.
    let mut tx = pool.begin().await?;
    let ghost = Greet::call("ghost".to_owned()).enqueue_in(&mut tx, &stem).await?;
    tx.rollback().await?;
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 0);
    assert!(ghost.status().await?.is_none(), "no record of a rolled back task");

    // Committed: invisible until the commit, then run.
    let mut tx = pool.begin().await?;
    let handle = Greet::call("ada".to_owned()).enqueue_in(&mut tx, &stem).await?;
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 0, "not visible before the commit");
    assert!(handle.status().await?.is_none());
    tx.commit().await?;
    assert_eq!(handle.wait_timeout(WAIT).await?, "hello, ada");

    // A Stem that is not on one Postgres store cannot enqueue in its transaction.
    let mut tx = pool.begin().await?;
    let refused = Greet::call("x".to_owned()).enqueue_in(&mut tx, &Stem::in_memory()).await.map(drop);
    assert!(matches!(&refused, Err(Error::Config(m)) if m.contains("one Postgres store")), "{refused:?}");
    tx.rollback().await?;

    worker.stop(ShutdownMode::Warm).await?;
    store.drop_schema().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_call_in_a_transaction_is_refused_and_nothing_is_stored() -> TestResult {
    let Some((store, stem, pool)) = open("tx_big").await else { return Ok(()) };
    let stem = stem.with_max_payload(64);
    let big_id = TaskId::new();
    let mut tx = pool.begin().await?;
    let big = Greet::call("z".repeat(100)).task_id(big_id).enqueue_in(&mut tx, &stem).await.map(drop);
    let Err(error) = big else { panic!("an oversized call was accepted") };
    let message = error.to_string();
    let Error::PayloadTooLarge { task, size, limit } = &error else { panic!("not a payload error: {error:?}") };
    assert_eq!((task.as_str(), *limit), (<Greet as Task>::NAME, 64));
    assert!(*size > 100, "the encoded size of 100 characters: {size}");
    for part in [task.as_str(), &format!("{size} bytes"), "64 bytes"] {
        assert!(message.contains(part), "`{message}` does not say {part}");
    }
    // The transaction goes on, and commits what fits.
    let small = Greet::call("ada".to_owned()).enqueue_in(&mut tx, &stem).await?;
    tx.commit().await?;
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 1, "only the call that fits");
    assert!(stem.handle::<String>(big_id).status().await?.is_none(), "no record of the refused call");
    assert!(small.status().await?.is_some());
    store.drop_schema().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_call_in_a_transaction_runs_on_a_verifying_worker() -> TestResult {
    let Some((store, stem, pool)) = open("tx_signed").await else { return Ok(()) };
    let secret = [3u8; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key().to_bytes().to_vec();
    let producer =
        stem.with_signing(Signing::ed25519([("tx1", public.clone())], [("tx1", secret.to_vec())], Some("tx1"))?);
    // The worker holds the public key only: it can verify, never sign.
    let verifier = stem.with_signing(Signing::ed25519([("tx1", public)], Vec::<(&str, Vec<u8>)>::new(), None)?);
    let worker = Worker::builder(&verifier).task::<Greet>().handle_signals(false).build()?.spawn();

    let mut tx = pool.begin().await?;
    let signed = Greet::call("ada".to_owned()).enqueue_in(&mut tx, &producer).await?;
    // Unsigned, from a Stem without signing: the worker refuses it.
    let unsigned = Greet::call("eve".to_owned()).enqueue_in(&mut tx, &stem).await?;
    tx.commit().await?;
    assert_eq!(signed.wait_timeout(WAIT).await?, "hello, ada", "the signed call runs");
    match unsigned.wait_timeout(WAIT).await {
        Err(Error::TaskFailed(failure)) => {
            let error = failure.error.expect("an error");
            assert_eq!(error.kind, "signature_invalid", "{error:?}");
        }
        other => panic!("an unsigned call ran on a verifying worker: {other:?}"),
    }
    worker.stop(ShutdownMode::Warm).await?;
    store.drop_schema().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_a_transaction_follows_the_routing() -> TestResult {
    let Some((store, stem, pool)) = open("tx_routed").await else { return Ok(()) };
    let routing =
        format!("[queues.greetings]\n\n[[routes]]\ntask = \"{}\"\nqueue = \"greetings\"\n", <Greet as Task>::NAME);
    let stem = stem.with_routing(Routing::from_toml(&routing)?);
    let mut tx = pool.begin().await?;
    let handle = Greet::call("ada".to_owned()).enqueue_in(&mut tx, &stem).await?;
    tx.commit().await?;
    let stats = stem.queue_stats()?;
    assert_eq!(stats.pending_count("greetings").await?, 1, "on the routed queue");
    assert_eq!(stats.pending_count("default").await?, 0, "not on the task's own");
    let worker = Worker::builder(&stem).task::<Greet>().handle_signals(false).build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, "hello, ada");
    worker.stop(ShutdownMode::Warm).await?;
    store.drop_schema().await?;
    Ok(())
}
