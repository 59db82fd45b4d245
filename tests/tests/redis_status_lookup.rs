//! On Redis a producer writes no queued record: a task's status is read from
//! its message until a worker writes one. That lookup goes by the task's id,
//! whatever the number of queue names (a producer inventing names must not
//! make every status read scan them all inside Redis), and leaves nothing
//! behind once the task is recorded or its message is purged.

use stem::TaskState;
use stem::prelude::*;
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, WAIT, redis_url};

#[stem::task(queue = "lookup")]
async fn echo(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

/// How many `HGET`s the server has run, scripts' included.
async fn hgets(conn: &mut redis::aio::MultiplexedConnection) -> redis::RedisResult<u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(conn).await?;
    Ok(info
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_hget:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_tasks_status_is_found_by_id_whatever_the_number_of_queues() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_lookup_{:08x}", fastrand::u32(..));
    let store = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(&namespace)).await?;
    let stem = Stem::new(store.stores());
    let mut conn = redis::Client::open(url.as_str())?.get_multiplexed_async_connection().await?;

    // A producer that invented 20,000 queue names (below the API: names are
    // only ever added by a publish).
    let names: Vec<String> = (0..20_000).map(|n| format!("invented-{n}")).collect();
    for chunk in names.chunks(5_000) {
        let () = redis::cmd("SADD").arg(format!("stem:{namespace}:queues")).arg(chunk).query_async(&mut conn).await?;
    }
    let queued = Echo::enqueue(&stem, 1).await?;
    let before = hgets(&mut conn).await?;
    let status = queued.status().await?.expect("the queued task is known");
    let spent = hgets(&mut conn).await? - before;
    assert_eq!(status.state, TaskState::Queued);
    assert!(spent < 10, "one status read ran {spent} HGETs: it scanned the queue names");

    // Recorded by a worker: its entry goes; its status is the record.
    let worker = Worker::builder(&stem).task::<Echo>().handle_signals(false).build()?.spawn();
    assert_eq!(queued.wait_timeout(WAIT).await?, 1);
    worker.stop(ShutdownMode::Warm).await?;
    let located: usize = redis::cmd("HLEN").arg(format!("stem:{namespace}:located")).query_async(&mut conn).await?;
    assert_eq!(located, 0, "a recorded task leaves no entry behind");

    // Purged before it ran: unknown, and its entry goes when looked up.
    let purged = Echo::enqueue(&stem, 2).await?;
    assert_eq!(stem.queue_stats()?.purge("lookup").await?, 1);
    assert_eq!(stem.backend().get(purged.id()).await?, None, "a purged task is unknown, not queued forever");
    let located: usize = redis::cmd("HLEN").arg(format!("stem:{namespace}:located")).query_async(&mut conn).await?;
    assert_eq!(located, 0, "a purged task's entry goes when it is looked up");
    store.delete_namespace().await?;
    Ok(())
}
