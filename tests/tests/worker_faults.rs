//! A task never takes the worker down: panics, time limits, unknown tasks and
//! undecodable arguments end in recorded failures, and the worker goes on.

use std::sync::atomic::{AtomicBool, Ordering};

use stem::codec::Payload;
use stem::prelude::*;
use stem::{Envelope, Error, TaskState};
use stem_tests::{TestResult, WAIT, dead_letter, spawn_worker};

#[stem::task(max_retries = 0)]
async fn explodes() -> Result<(), TaskError> {
    panic!("boom")
}

#[stem::task]
async fn healthy(n: u32) -> Result<u32, TaskError> {
    Ok(n + 1)
}

async fn failure_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(handle: &TaskHandle<T>) -> stem::TaskFailure {
    match handle.wait_timeout(WAIT).await {
        Err(Error::TaskFailed(failure)) => failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_panic_is_a_failed_attempt_and_the_worker_keeps_going() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Explodes>().task::<Healthy>().concurrency(1));
    let failure = failure_of(&Explodes::enqueue(&stem, ()).await?).await;
    let error = failure.error.expect("recorded");
    assert_eq!((error.kind.as_str(), error.message.as_str()), ("panic", "task panicked: boom"));
    assert_eq!(Healthy::enqueue(&stem, 1).await?.wait_timeout(WAIT).await?, 2);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static HANG_DROPPED: AtomicBool = AtomicBool::new(false);

struct SetOnDrop(&'static AtomicBool);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[stem::task(max_retries = 0, time_limit = "100ms")]
async fn hangs() -> Result<(), TaskError> {
    let _guard = SetOnDrop(&HANG_DROPPED);
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::test]
async fn the_hard_time_limit_aborts_the_task() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Hangs>().task::<Healthy>());
    let failure = failure_of(&Hangs::enqueue(&stem, ()).await?).await;
    let error = failure.error.expect("recorded");
    assert_eq!(error.kind, "time_limit");
    assert_eq!(error.message, "hard time limit of 100ms exceeded");
    assert!(HANG_DROPPED.load(Ordering::SeqCst), "the task's future was dropped");
    assert_eq!(Healthy::enqueue(&stem, 2).await?.wait_timeout(WAIT).await?, 3);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[stem::task(soft_time_limit = "50ms", time_limit = "10s")]
async fn wraps_up(ctx: TaskContext) -> Result<bool, TaskError> {
    let before = ctx.soft_limit_reached();
    ctx.soft_limit().await;
    Ok(!before && ctx.soft_limit_reached())
}

#[tokio::test]
async fn the_soft_time_limit_is_visible_to_the_task_first() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<WrapsUp>());
    assert!(WrapsUp::enqueue(&stem, ()).await?.wait_timeout(WAIT).await?);
    let limited = WrapsUp::call(()).soft_time_limit(std::time::Duration::from_millis(10)).enqueue(&stem).await?;
    assert!(limited.wait_timeout(WAIT).await?, "a per-call soft limit works too");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn an_unknown_task_goes_to_the_dead_letter_queue_saying_so() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Healthy>());
    let envelope = Envelope::new("nobody::here", "default", Payload::new("json", b"null".to_vec()));
    let handle: TaskHandle<()> = stem.handle(stem.enqueue_envelope(envelope).await?);
    let failure = failure_of(&handle).await;
    assert_eq!(failure.state, TaskState::Failed);
    assert_eq!(failure.error.map(|e| e.kind).as_deref(), Some("unknown_task"));
    let dead = dead_letter(&stem, "default", handle.id()).await;
    assert!(dead.reason.starts_with("unknown task `nobody::here`: worker "), "{}", dead.reason);
    assert_eq!(Healthy::enqueue(&stem, 3).await?.wait_timeout(WAIT).await?, 4);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn undecodable_arguments_go_to_the_dead_letter_queue_saying_so() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Healthy>());
    let envelope = Envelope::new(Healthy::NAME, "default", Payload::new("json", br#""not a number""#.to_vec()));
    let handle: TaskHandle<u32> = stem.handle(stem.enqueue_envelope(envelope).await?);
    let failure = failure_of(&handle).await;
    assert_eq!(failure.error.map(|e| e.kind).as_deref(), Some("undecodable_args"));
    let dead = dead_letter(&stem, "default", handle.id()).await;
    assert!(
        dead.reason.starts_with("undecodable arguments for task `worker_faults::healthy`: codec `json` failed"),
        "{}",
        dead.reason
    );
    let unknown_codec = Envelope::new(Healthy::NAME, "default", Payload::new("yaml", b"1".to_vec()));
    let handle: TaskHandle<u32> = stem.handle(stem.enqueue_envelope(unknown_codec).await?);
    let failure = failure_of(&handle).await;
    assert!(failure.error.expect("recorded").message.contains("unknown codec `yaml`"));
    assert_eq!(Healthy::enqueue(&stem, 4).await?.wait_timeout(WAIT).await?, 5);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn finished_counts_every_settled_delivery_successes_and_failures_alike() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Explodes>().task::<Healthy>());
    assert_eq!(worker.finished(), 0);
    let healthy = stem.enqueue_many((0..5).map(Healthy::call)).await?;
    let exploded = Explodes::enqueue(&stem, ()).await?;
    for (i, handle) in healthy.into_iter().enumerate() {
        assert_eq!(handle.wait_timeout(WAIT).await?, i as u32 + 1);
    }
    failure_of(&exploded).await;
    // The outcome is recorded before the message is acked, so the count may
    // trail the results by one write.
    stem_tests::within("six finished deliveries", async {
        while worker.finished() < 6 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(worker.finished(), 6, "each delivery counted once");
    assert_eq!(stem.queue_stats()?.inflight_count(stem::envelope::DEFAULT_QUEUE).await?, 0);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

/// An argument whose `Deserialize` panics on 13.
#[derive(Debug, serde::Serialize)]
struct Unlucky(u32);

impl<'de> serde::Deserialize<'de> for Unlucky {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(deserializer)?;
        assert_ne!(n, 13, "unlucky");
        Ok(Self(n))
    }
}

#[stem::task]
async fn touchy(value: Unlucky) -> Result<u32, TaskError> {
    Ok(value.0)
}

#[tokio::test]
async fn a_panic_while_decoding_arguments_is_a_dead_letter_and_the_worker_keeps_going() -> TestResult {
    for concurrency in [1, 4] {
        let (stem, worker) = spawn_worker(|b| b.task::<Touchy>().concurrency(concurrency));
        let doomed = Touchy::enqueue(&stem, Unlucky(13)).await?;
        let failure = failure_of(&doomed).await;
        assert_eq!(failure.error.map(|e| e.kind).as_deref(), Some("undecodable_args"));
        let dead = dead_letter(&stem, "default", doomed.id()).await;
        assert!(dead.reason.contains("decoding them panicked") && dead.reason.contains("unlucky"), "{}", dead.reason);
        assert_eq!(Touchy::enqueue(&stem, Unlucky(7)).await?.wait_timeout(WAIT).await?, 7, "the worker is still up");
        worker.stop(ShutdownMode::Warm).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_from_a_newer_stem_is_dead_lettered_not_run() -> TestResult {
    for env in stem_tests::every_store("newer-envelope").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = Worker::builder(&stem).task::<Healthy>().handle_signals(false).build()?.spawn();
        let mut newer = Envelope::new(Healthy::NAME, "default", Payload::new("json", b"1".to_vec()));
        newer.version = stem::envelope::ENVELOPE_VERSION + 1;
        let handle: TaskHandle<u32> = stem.handle(stem.enqueue_envelope(newer).await?);
        let failure = failure_of(&handle).await;
        assert_eq!(failure.error.map(|e| e.kind).as_deref(), Some("unsupported_envelope"), "{label}");
        let dead = dead_letter(&stem, "default", handle.id()).await;
        assert!(
            dead.reason.starts_with("envelope version 2 is newer than this worker knows (1)"),
            "{label}: {}",
            dead.reason
        );
        assert_eq!(Healthy::enqueue(&stem, 1).await?.wait_timeout(WAIT).await?, 2, "{label}: others still run");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}
