//! Unique tasks, on every store: a second enqueue of the same call within the
//! window returns the first one's handle (one call, a batch, two racing
//! producers); other arguments, or a new window, make a new task; an
//! explicit key; arguments compared in canonical JSON (hand-built envelopes
//! whose keys are in another order are one call); the window ends when the
//! first task finishes, or only when it runs out; a failed publish gives the
//! claim back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stem::codec::Payload;
use stem::prelude::*;
use stem::task::EnqueueOptions;
use stem::task::unique::UNIQUE_HEADER;
use stem::{Envelope, Error, TaskId};
use stem_tests::{TestResult, WAIT, every_store, until_ok};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[stem::task(queue = "unique", unique_for = "10m")]
async fn report(account: String, month: u32) -> Result<String, TaskError> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(format!("{account}/{month}"))
}

#[stem::task(queue = "unique", unique_for = "10m")]
async fn daily(account: String, day: u32) -> Result<String, TaskError> {
    Ok(format!("{account}/{day}"))
}

#[stem::task(queue = "unique", unique_for = "10m", unique_until_finished = false)]
async fn kept(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

#[stem::task(queue = "unique")]
async fn plain(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_call_within_the_window_gets_the_first_handle() -> TestResult {
    for env in every_store("unique-same").await {
        let (label, stem) = (env.label, env.stem.clone());
        let first = Report::enqueue(&stem, ReportArgs { account: "acme".into(), month: 3 }).await?;
        let again = Report::enqueue(&stem, ReportArgs { account: "acme".into(), month: 3 }).await?;
        assert_eq!(again.id(), first.id(), "{label}: the same call");
        let other = Report::enqueue(&stem, ReportArgs { account: "acme".into(), month: 4 }).await?;
        assert_ne!(other.id(), first.id(), "{label}: other arguments are another call");

        // In one batch, with itself and with what is queued.
        let batch = stem
            .enqueue_many([
                Report::call(ReportArgs { account: "beta".into(), month: 1 }),
                Report::call(ReportArgs { account: "beta".into(), month: 1 }),
                Report::call(ReportArgs { account: "acme".into(), month: 3 }),
            ])
            .await?;
        assert_eq!(batch[0].id(), batch[1].id(), "{label}: twice in one batch");
        assert_eq!(batch[2].id(), first.id(), "{label}: a batch call of what is queued");

        // An explicit key makes calls the same whatever their arguments; a
        // window given on the call makes a task without one unique.
        let keyed =
            Report::call(ReportArgs { account: "x".into(), month: 1 }).unique_key("nightly").enqueue(&stem).await?;
        let same_key =
            Report::call(ReportArgs { account: "y".into(), month: 2 }).unique_key("nightly").enqueue(&stem).await?;
        assert_eq!(same_key.id(), keyed.id(), "{label}: one key");
        let a = Plain::call(7).unique_for(Duration::from_secs(60)).enqueue(&stem).await?;
        let b = Plain::call(7).unique_for(Duration::from_secs(60)).enqueue(&stem).await?;
        assert_eq!(a.id(), b.id(), "{label}: a window given on the call");
        assert_ne!(Plain::enqueue(&stem, 7).await?.id(), a.id(), "{label}: without a window every call is new");
        let refused = Plain::call(7).unique_key("k").enqueue(&stem).await.map(drop).expect_err("no window");
        assert!(matches!(refused, Error::Config(ref m) if m.contains("unique_for")), "{label}: {refused}");

        // Exactly the distinct calls are queued, and each runs once.
        let queued = stem.queue_stats()?.pending_count("unique").await?;
        assert_eq!(queued, 6, "{label}: acme/3, acme/4, beta/1, nightly, plain/7 twice");
        RUNS.store(0, Ordering::SeqCst);
        let worker = Worker::builder(&stem).task::<Report>().task::<Plain>().handle_signals(false).build()?.spawn();
        assert_eq!(again.wait_timeout(WAIT).await?, "acme/3", "{label}: the duplicate's handle has the result");
        assert_eq!(same_key.wait_timeout(WAIT).await?, "x/1", "{label}: the first keyed call ran");
        other.wait_timeout(WAIT).await?;
        batch[0].wait_timeout(WAIT).await?;
        assert_eq!(RUNS.load(Ordering::SeqCst), 4, "{label}: one run per distinct call");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_producers_get_one_task() -> TestResult {
    for env in every_store("unique-race").await {
        let label = env.label;
        for round in 0..5u32 {
            let producers = (0..8).map(|_| {
                let stem = env.stem.clone();
                tokio::spawn(async move {
                    Report::enqueue(&stem, ReportArgs { account: "race".into(), month: round }).await.map(|h| h.id())
                })
            });
            let ids: Vec<TaskId> = futures_util::future::join_all(producers)
                .await
                .into_iter()
                .map(|r| r.expect("join"))
                .collect::<Result<_, _>>()?;
            assert!(ids.iter().all(|id| *id == ids[0]), "{label}: round {round}: racing producers got {ids:?}");
        }
        let queued = env.stem.queue_stats()?.pending_count("unique").await?;
        assert_eq!(queued, 5, "{label}: one task per round");
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_ends_when_the_first_task_finishes_unless_kept() -> TestResult {
    for env in every_store("unique-window").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = Worker::builder(&stem).task::<Daily>().task::<Kept>().handle_signals(false).build()?.spawn();
        let first = Daily::enqueue(&stem, DailyArgs { account: "done".into(), day: 1 }).await?;
        first.wait_timeout(WAIT).await?;
        // The window ends once the worker has given the claim back, just
        // after the result is written.
        let next = until_ok("a new task once the first finished", || async {
            let handle =
                Daily::enqueue(&stem, DailyArgs { account: "done".into(), day: 1 }).await.map_err(|e| e.to_string())?;
            if handle.id() == first.id() { Err("still the first task".to_owned()) } else { Ok(handle) }
        })
        .await;
        assert_eq!(next.wait_timeout(WAIT).await?, "done/1", "{label}");

        // Kept for the whole window. The worker gives a claim back after the
        // result is written (before it acks the delivery), so a claim still
        // held right after the result proves nothing: first see the release
        // step run for a task of the default option in this worker, then wait
        // until every delivery is settled, and only then look at the claim.
        let kept = Kept::enqueue(&stem, 1).await?;
        let pair = || DailyArgs { account: "pair".into(), day: 2 };
        let ended = Daily::enqueue(&stem, pair()).await?;
        kept.wait_timeout(WAIT).await?;
        ended.wait_timeout(WAIT).await?;
        let (kept_lock, ended_lock) =
            (lock_of(&Kept::call(1).into_envelope()?), lock_of(&Daily::call(pair()).into_envelope()?));
        until_ok("the default task's claim given back", || async {
            match stem.locks().owner(&ended_lock).await {
                Ok(None) => Ok(()),
                Ok(Some(owner)) => Err(format!("still held by {owner}")),
                Err(error) => Err(error.to_string()),
            }
        })
        .await;
        until_ok("every delivery settled", || async {
            let stats = stem.queue_stats().map_err(|e| e.to_string())?;
            let pending = stats.pending_count("unique").await.map_err(|e| e.to_string())?;
            let inflight = stats.inflight_count("unique").await.map_err(|e| e.to_string())?;
            if pending + inflight == 0 { Ok(()) } else { Err(format!("{pending} pending, {inflight} in flight")) }
        })
        .await;
        assert_eq!(
            stem.locks().owner(&kept_lock).await?,
            Some(kept.id().to_string()),
            "{label}: the kept task still holds its claim after it finished"
        );
        assert_eq!(Kept::enqueue(&stem, 1).await?.id(), kept.id(), "{label}: kept for the whole window");
        worker.stop(ShutdownMode::Warm).await?;

        // A short window runs out by itself.
        let short = Plain::call(1).unique_for(Duration::from_millis(300)).enqueue(&stem).await?;
        let later = until_ok("a new task once the window ran out", || async {
            let handle = Plain::call(1)
                .unique_for(Duration::from_millis(300))
                .enqueue(&stem)
                .await
                .map_err(|e| e.to_string())?;
            if handle.id() == short.id() { Err("still in the window".to_owned()) } else { Ok(handle) }
        })
        .await;
        assert_ne!(later.id(), short.id(), "{label}");
        env.clean().await?;
    }
    Ok(())
}

/// The lock key of the unique claim `envelope` carries.
fn lock_of(envelope: &Envelope) -> String {
    let header = envelope.headers.get(UNIQUE_HEADER).expect("a unique call");
    header.splitn(3, ';').nth(2).expect("`<window>;<until>;<lock>`").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_built_envelopes_whose_argument_keys_differ_in_order_are_one_call() -> TestResult {
    for env in every_store("unique-canonical").await {
        let (label, stem) = (env.label, env.stem.clone());
        let envelope = |args: &str| {
            EnqueueOptions::default().envelope(
                <Report as Task>::NAME,
                &<Report as Task>::OPTIONS,
                Payload::new("json", args.as_bytes().to_vec()),
            )
        };
        let first = stem.enqueue_envelope(envelope(r#"{"account":"acme","month":3}"#)?).await?;
        let reordered = stem.enqueue_envelope(envelope(r#"{ "month": 3, "account": "acme" }"#)?).await?;
        assert_eq!(reordered, first, "{label}: the same arguments, keys in another order");
        let typed = Report::enqueue(&stem, ReportArgs { account: "acme".into(), month: 3 }).await?;
        assert_eq!(typed.id(), first, "{label}: the typed call too");
        let other = stem.enqueue_envelope(envelope(r#"{"month":4,"account":"acme"}"#)?).await?;
        assert_ne!(other, first, "{label}: other arguments");
        assert_eq!(stem.queue_stats()?.pending_count("unique").await?, 2, "{label}: two calls queued");
        let worker = Worker::builder(&stem).task::<Report>().handle_signals(false).build()?.spawn();
        assert_eq!(stem.handle::<String>(first).wait_timeout(WAIT).await?, "acme/3", "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_gives_the_claim_back() -> TestResult {
    for env in every_store("unique-failed").await {
        let label = env.label;
        let stem = env.stem.with_max_payload(64);
        let big = Report::call(ReportArgs { account: "z".repeat(100), month: 1 })
            .unique_key("monthly")
            .enqueue(&stem)
            .await
            .map(drop);
        assert!(matches!(big, Err(Error::PayloadTooLarge { .. })), "{label}: {big:?}");
        let small =
            Report::call(ReportArgs { account: "z".into(), month: 1 }).unique_key("monthly").enqueue(&stem).await?;
        assert_eq!(stem.queue_stats()?.pending_count("unique").await?, 1, "{label}: the claim was free again");
        let again =
            Report::call(ReportArgs { account: "w".into(), month: 2 }).unique_key("monthly").enqueue(&stem).await?;
        assert_eq!(again.id(), small.id(), "{label}");
        env.clean().await?;
    }
    Ok(())
}
