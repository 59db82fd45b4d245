//! Durable workflows end to end through the macros, a worker and the store, on
//! every adapter: in memory, a SQLite file, Redis and Postgres. Time is a fake clock: tests advance
//! it instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stem::clock::{Clock, FakeClock};
use stem::prelude::*;
use stem::workflow::{RunStatus, WorkflowHandle};
use stem::{Envelope, Error, TaskState, WorkerHandle};
use stem_tests::{TestResult, WAIT, until_ok};

/// One store a test runs on, its clock, and what it leaves behind.
struct Env {
    label: &'static str,
    stem: Stem,
    clock: Arc<FakeClock>,
    store: stem_tests::Env,
}

impl Env {
    /// Removes the namespace or schema of a server store.
    async fn clean(self) -> TestResult {
        self.store.clean().await
    }
}

/// Each test's stores ([`stem_tests::every_store`]), all on a fake clock.
async fn stems(label: &str) -> Vec<Env> {
    stem_tests::every_store(label)
        .await
        .into_iter()
        .map(|store| {
            let clock = Arc::new(FakeClock::new());
            Env { label: store.label, stem: store.stem.with_clock(clock.clone()), clock, store }
        })
        .collect()
}

fn worker(stem: &Stem) -> WorkerHandle {
    Worker::builder(stem)
        .concurrency(4)
        .workflow_poll_interval(Duration::from_millis(20))
        .build()
        .expect("a valid worker")
        .spawn()
}

/// Waits until the run is in `status` (it gets there through a worker); a
/// timeout names the status last seen.
async fn until_status<T>(run: &WorkflowHandle<T>, status: RunStatus) {
    let seen = std::cell::Cell::new(None);
    let reached = poll_until(|| async {
        seen.set(run.status().await.expect("status").map(|s| s.status));
        seen.get() == Some(status)
    })
    .await;
    assert!(reached, "timed out waiting for run {} to be {status}; last seen: {:?}", run.id(), seen.get());
}

/// Waits until `check` is true, looking every 5 ms, for at most [`WAIT`].
async fn until<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    assert!(poll_until(check).await, "timed out waiting for {what}");
}

/// Calls `check` every 5 ms until it is true (then true) or [`WAIT`] has passed (false).
async fn poll_until<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    tokio::time::timeout(WAIT, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .is_ok()
}

// ---- sleep and resume ------------------------------------------------------

#[stem::workflow]
async fn nap(wf: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    let before = wf.now().await;
    let (id, dice) = (wf.uuid().await, wf.random().await);
    wf.sleep(Duration::from_secs(3600)).await;
    let after = wf.now().await;
    Ok(format!("{name} slept {}s; {id} {dice}", (after - before).num_seconds()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_suspends_the_run_and_the_clock_resumes_it() -> TestResult {
    for env in stems("wf-sleep").await {
        let (label, stem, clock) = (env.label, env.stem.clone(), env.clock.clone());
        let worker = worker(&stem);
        let run = Nap::start(&stem, "ada".into()).await?;
        until_status(&run, RunStatus::Suspended).await;
        let state = run.status().await?.expect("stored");
        assert!(state.resume_at.is_some(), "{label}: a wake time is stored");
        assert!(run.wait_timeout(Duration::from_millis(100)).await.is_err(), "{label}: still asleep");
        clock.advance(Duration::from_secs(3600));
        run.wait_timeout(WAIT).await?;
        let steps = run.steps().await?;
        let names: Vec<&str> = steps.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["stem.now#0", "stem.uuid#0", "stem.random#0", "stem.sleep#0", "stem.now#1"], "{label}");
        // The execution after the sleep replayed the recorded values.
        let (id, dice) = (steps[1].value.as_str().expect("a uuid"), steps[2].value.as_u64().expect("a number"));
        assert_eq!(run.wait_timeout(WAIT).await?, format!("ada slept 3600s; {id} {dice}"), "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- events --------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Parcel {
    tracking: String,
}

const SHIPPED: EventTopic<Parcel> = EventTopic::new("test.parcel.shipped");
const NEVER: EventTopic<u32> = EventTopic::new("test.never");

#[stem::workflow]
async fn ship(wf: WorkflowContext, order: u32) -> Result<String, WorkflowError> {
    let parcel = wf.await_event(SHIPPED).await?;
    Ok(format!("order {order} shipped as {}", parcel.tracking))
}

#[stem::workflow]
async fn impatient(wf: WorkflowContext) -> Result<Option<u32>, WorkflowError> {
    wf.await_event_timeout(NEVER, Duration::from_secs(60)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_resumes_each_waiting_run_exactly_once() -> TestResult {
    for env in stems("wf-event").await {
        let (label, stem, _clock) = (env.label, env.stem.clone(), env.clock.clone());
        let worker = worker(&stem);
        assert_eq!(stem.emit(SHIPPED, Parcel { tracking: "early".into() }).await?, 0, "{label}: nobody waits yet");
        let runs = [Ship::start(&stem, 1).await?, Ship::start(&stem, 2).await?];
        for run in &runs {
            until_status(run, RunStatus::Suspended).await;
            assert_eq!(run.status().await?.expect("stored").wait_topic.as_deref(), Some("test.parcel.shipped"));
        }
        assert_eq!(stem.emit(SHIPPED, Parcel { tracking: "T-1".into() }).await?, 2, "{label}");
        assert_eq!(stem.emit(SHIPPED, Parcel { tracking: "T-2".into() }).await?, 0, "{label}: delivered once");
        assert_eq!(runs[0].wait_timeout(WAIT).await?, "order 1 shipped as T-1", "{label}");
        assert_eq!(runs[1].wait_timeout(WAIT).await?, "order 2 shipped as T-1", "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_wait_with_a_timeout_returns_none_at_the_deadline() -> TestResult {
    for env in stems("wf-timeout").await {
        let (label, stem, clock) = (env.label, env.stem.clone(), env.clock.clone());
        let worker = worker(&stem);
        let run = Impatient::start(&stem, ()).await?;
        until_status(&run, RunStatus::Suspended).await;
        clock.advance(Duration::from_secs(59));
        assert!(run.wait_timeout(Duration::from_millis(100)).await.is_err(), "{label}: not before the deadline");
        clock.advance(Duration::from_secs(1));
        assert_eq!(run.wait_timeout(WAIT).await?, None, "{label}");
        assert_eq!(stem.emit(NEVER, 5).await?, 0, "{label}: the watcher is gone");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- steps, loops and tasks as steps ---------------------------------------

static CHARGES: AtomicU32 = AtomicU32::new(0);
static EMAILS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: u32,
    cents: u64,
}

#[stem::step(max_retries = 2, retry_backoff = "1ms")]
async fn charge_card(wf: &WorkflowContext, order: &Order) -> Result<u64, StepError> {
    let _ = wf.id();
    // The first attempt of every run fails, the retry succeeds.
    if CHARGES.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
        return Err(StepError::retry("card network busy"));
    }
    Ok(order.cents)
}

#[stem::task]
async fn send_receipt(order: u32, cents: u64) -> Result<String, TaskError> {
    EMAILS.fetch_add(1, Ordering::SeqCst);
    Ok(format!("receipt for order {order}: {cents} cents"))
}

#[stem::workflow]
async fn checkout(wf: WorkflowContext, order: Order) -> Result<String, WorkflowError> {
    let charged = charge_card(&wf, &order).await?;
    let mut lines = 0;
    for line in 0..3u32 {
        lines += wf.step("pack_line", || async move { Ok::<_, StepError>(line + 1) }).await?;
    }
    wf.sleep(Duration::from_secs(60)).await;
    let receipt = wf.call(SendReceipt::call(SendReceiptArgs { order: order.id, cents: charged })).await?;
    Ok(format!("{receipt}, {lines} lines packed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_loops_and_a_task_as_a_step_run_once_each() -> TestResult {
    for env in stems("wf-checkout").await {
        let (label, stem, clock) = (env.label, env.stem.clone(), env.clock.clone());
        CHARGES.store(0, Ordering::SeqCst);
        EMAILS.store(0, Ordering::SeqCst);
        let worker = worker(&stem);
        let run = Checkout::start(&stem, Order { id: 7, cents: 1250 }).await?;
        until_status(&run, RunStatus::Suspended).await;
        clock.advance(Duration::from_secs(60));
        assert_eq!(run.wait_timeout(WAIT).await?, "receipt for order 7: 1250 cents, 6 lines packed", "{label}");
        assert_eq!(CHARGES.load(Ordering::SeqCst), 2, "{label}: one failed attempt, one success, never replayed");
        assert_eq!(EMAILS.load(Ordering::SeqCst), 1, "{label}: the task ran once");
        let steps: Vec<(String, serde_json::Value)> =
            run.steps().await?.into_iter().map(|c| (c.name, c.value)).collect();
        let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "charge_card#0",
                "pack_line#0",
                "pack_line#1",
                "pack_line#2",
                "stem.sleep#0",
                "stem.call:workflows::send_receipt#0"
            ],
            "{label}"
        );
        assert_eq!(steps[0].1, serde_json::json!({"ok": 1250, "attempts": 2}), "{label}: the value and its attempts");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[stem::step(max_retries = 0)]
async fn always_fails(wf: &WorkflowContext) -> Result<u32, StepError> {
    let _ = wf;
    Err(StepError::fail("the bank said no"))
}

#[stem::workflow]
async fn doomed(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    Ok(always_fails(&wf).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_step_fails_the_run_with_its_error() -> TestResult {
    for env in stems("wf-fail").await {
        let (label, stem, _clock) = (env.label, env.stem.clone(), env.clock.clone());
        let worker = worker(&stem);
        let run = Doomed::start(&stem, ()).await?;
        match run.wait_timeout(WAIT).await {
            Err(Error::WorkflowFailed { status, error, .. }) => {
                assert_eq!(status, RunStatus::Failed, "{label}");
                assert!(
                    error.contains("step `always_fails#0` failed after 1 attempt: the bank said no"),
                    "{label}: {error}"
                );
            }
            other => panic!("{label}: expected a failed run, got {other:?}"),
        }
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- versioning and non-determinism --------------------------------------------

static NEW_CODE: AtomicBool = AtomicBool::new(false);

#[stem::workflow]
async fn versioned(wf: WorkflowContext) -> Result<String, WorkflowError> {
    wf.step("start", || async { Ok::<_, StepError>(()) }).await?;
    if NEW_CODE.load(Ordering::SeqCst) && wf.patched("skip-the-wait").await {
        return Ok(wf.step("finish_v2", || async { Ok::<_, StepError>("new".to_owned()) }).await?);
    }
    wf.sleep(Duration::from_secs(10)).await;
    Ok(wf.step("finish", || async { Ok::<_, StepError>("old".to_owned()) }).await?)
}

static SWAPPED: AtomicBool = AtomicBool::new(false);

#[stem::workflow]
async fn drifting(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    let name = if SWAPPED.load(Ordering::SeqCst) { "second_version" } else { "first_version" };
    wf.step(name, || async { Ok::<_, StepError>(1) }).await?;
    wf.sleep(Duration::from_secs(10)).await;
    Ok(2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patched_keeps_runs_in_flight_on_their_old_path_and_drift_is_detected() -> TestResult {
    for env in stems("wf-version").await {
        let (label, stem, clock) = (env.label, env.stem.clone(), env.clock.clone());
        NEW_CODE.store(false, Ordering::SeqCst);
        SWAPPED.store(false, Ordering::SeqCst);
        let worker = worker(&stem);
        let old = Versioned::start(&stem, ()).await?;
        let drift = Drifting::start(&stem, ()).await?;
        until_status(&old, RunStatus::Suspended).await;
        until_status(&drift, RunStatus::Suspended).await;

        NEW_CODE.store(true, Ordering::SeqCst); // a deploy
        SWAPPED.store(true, Ordering::SeqCst);
        let new = Versioned::start(&stem, ()).await?;
        assert_eq!(new.wait_timeout(WAIT).await?, "new", "{label}: a new run takes the patched path");
        clock.advance(Duration::from_secs(10));
        assert_eq!(old.wait_timeout(WAIT).await?, "old", "{label}: the run in flight keeps its path");

        match drift.wait_timeout(WAIT).await {
            Err(Error::WorkflowFailed { status, error, .. }) => {
                assert_eq!(status, RunStatus::Failed, "{label}");
                assert!(error.contains("non-determinism"), "{label}: {error}");
                assert!(
                    error.contains("`first_version#0`") && error.contains("`second_version#0`"),
                    "{label}: {error}"
                );
            }
            other => panic!("{label}: expected a non-determinism failure, got {other:?}"),
        }
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- cancellation ----------------------------------------------------------------

#[stem::workflow(max_suspended_time = "5m")]
async fn waits_too_long(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    wf.await_event(NEVER).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_policies_and_requests_end_runs() -> TestResult {
    for env in stems("wf-cancel").await {
        let (label, stem, clock) = (env.label, env.stem.clone(), env.clock.clone());
        let worker = worker(&stem);
        let limited = WaitsTooLong::start(&stem, ()).await?;
        let capped = Nap::call("bo".into()).max_run_time(Duration::from_secs(600)).start(&stem).await?;
        let manual = Ship::start(&stem, 3).await?;
        until_status(&limited, RunStatus::Suspended).await;
        until_status(&manual, RunStatus::Suspended).await;
        until_status(&capped, RunStatus::Suspended).await;
        clock.advance(Duration::from_secs(301));
        let cancelled = |r: stem::Result<()>| match r {
            Err(Error::WorkflowFailed { status: RunStatus::Cancelled, error, .. }) => error,
            other => panic!("{label}: expected a cancelled run, got {other:?}"),
        };
        assert!(cancelled(limited.wait_timeout(WAIT).await.map(drop)).contains("max_suspended_time"), "{label}");
        clock.advance(Duration::from_secs(300));
        assert!(cancelled(capped.wait_timeout(WAIT).await.map(drop)).contains("max_run_time"), "{label}");

        assert!(manual.cancel().await?, "{label}");
        assert!(!manual.cancel().await?, "{label}: cancelled once");
        assert!(cancelled(manual.wait_timeout(WAIT).await.map(drop)).contains("by request"), "{label}");
        assert_eq!(stem.emit(SHIPPED, Parcel { tracking: "late".into() }).await?, 0, "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- leases ------------------------------------------------------------------

static BLOCKING: AtomicU32 = AtomicU32::new(0);
static RUNNING: AtomicU32 = AtomicU32::new(0);
static OVERLAPPED: AtomicBool = AtomicBool::new(false);

#[stem::workflow(lease = "300ms")]
async fn held(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    let attempts = wf
        .step("slow", || async {
            if RUNNING.fetch_add(1, Ordering::SeqCst) > 0 {
                OVERLAPPED.store(true, Ordering::SeqCst);
            }
            let attempt = BLOCKING.fetch_add(1, Ordering::SeqCst) + 1;
            if attempt == 1 {
                std::future::pending::<()>().await; // the first worker dies here
            }
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, StepError>(attempt)
        })
        .await?;
    Ok(attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_run_is_taken_over_when_its_lease_ends() -> TestResult {
    for env in stems("wf-lease").await {
        let (label, stem, clock) = (env.label, env.stem.clone(), env.clock.clone());
        BLOCKING.store(0, Ordering::SeqCst);
        RUNNING.store(0, Ordering::SeqCst);
        OVERLAPPED.store(false, Ordering::SeqCst);
        let first = worker(&stem);
        let run = Held::start(&stem, ()).await?;
        until("the first execution to start its step", || async { BLOCKING.load(Ordering::SeqCst) > 0 }).await;
        // The first worker dies: its execution is dropped mid-step, its delivery goes back.
        first.stop(ShutdownMode::Hard).await?;
        RUNNING.store(0, Ordering::SeqCst);
        // Leases are kept on the workflow clock: let the dead worker's lease run out.
        clock.advance(Duration::from_secs(1));
        let second = worker(&stem);
        let ended = run.wait_timeout(WAIT).await;
        let stored = run.status().await?;
        let ended =
            ended.map_err(|e| format!("{label}: {e}; the run as stored: {stored:?}; the clock: {}", clock.now()))?;
        assert_eq!(ended, 2, "{label}: the second worker finished the run");
        assert!(!OVERLAPPED.load(Ordering::SeqCst), "{label}: never two executions at once");
        assert_eq!(run.steps().await?.len(), 1, "{label}");
        second.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- clocks ------------------------------------------------------------------

static GUARDED: AtomicU32 = AtomicU32::new(0);
static GUARD_RELEASED: AtomicBool = AtomicBool::new(false);

#[stem::workflow(queue = "wf-skew")]
async fn guarded(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    let entered = wf
        .step("guarded", || async {
            let entered = GUARDED.fetch_add(1, Ordering::SeqCst) + 1;
            while !GUARD_RELEASED.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, StepError>(entered)
        })
        .await?;
    Ok(entered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_clock_is_minutes_ahead_does_not_take_over_a_live_run() -> TestResult {
    for store in stem_tests::every_store("wf-skew").await {
        let label = store.label;
        GUARDED.store(0, Ordering::SeqCst);
        GUARD_RELEASED.store(false, Ordering::SeqCst);
        // Two workers on one store: the first on the right time, the second on
        // a clock ten minutes ahead (a fake one standing for a machine's).
        let right = store.stem.clone();
        let ahead = store.stem.with_clock(Arc::new(FakeClock::at(chrono::Utc::now() + chrono::TimeDelta::minutes(10))));
        let first = Worker::builder(&right).concurrency(1).prefetch(1).queue("wf-skew").build()?.spawn();
        let run = Guarded::start(&right, ()).await?;
        until("the first execution to enter its step", || async { GUARDED.load(Ordering::SeqCst) == 1 }).await;
        let second = worker(&ahead);
        // A second execution message for the live run, for the second worker
        // (the first is busy): it must find the run held, not take it over.
        let mut execution = Envelope::new(
            "stem.workflow.run",
            "wf-skew",
            stem::codec::encode(<stem::codec::Json as stem::codec::Codec>::ID, &run.id())?,
        );
        execution.max_retries = 10;
        let duplicate = ahead.enqueue_envelope(execution).await?;
        let seen = std::sync::Mutex::new(None);
        let ended = poll_until(|| async {
            let status = ahead.backend().get(duplicate).await.expect("status");
            let state = status.as_ref().map(|s| s.state);
            *seen.lock().unwrap() = status;
            GUARDED.load(Ordering::SeqCst) > 1 || matches!(state, Some(TaskState::Retrying | TaskState::Succeeded))
        })
        .await;
        assert!(ended, "{label}: the second execution did not end its attempt: {:?}", seen.lock().unwrap());
        assert_eq!(GUARDED.load(Ordering::SeqCst), 1, "{label}: the second worker took the live run over");
        let state = seen.lock().unwrap().as_ref().map(|s| s.state);
        assert_eq!(state, Some(TaskState::Retrying), "{label}: the second execution waits its turn");
        GUARD_RELEASED.store(true, Ordering::SeqCst);
        assert_eq!(run.wait_timeout(WAIT).await?, 1, "{label}: the first execution finished the run");
        assert_eq!(GUARDED.load(Ordering::SeqCst), 1, "{label}: the step ran once");
        // Both read the store's time, so their timers and deadlines agree too.
        assert!(
            (ahead.now() - right.now()).abs() < chrono::TimeDelta::seconds(1),
            "{label}: both read the store's time: {} vs {}",
            ahead.now(),
            right.now()
        );
        second.stop(ShutdownMode::Hard).await?;
        first.stop(ShutdownMode::Warm).await?;
        store.clean().await?;
    }
    Ok(())
}

// ---- continuations go to the run's own queue ------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_is_enqueued_on_the_queue_it_was_started_on() -> TestResult {
    for env in stems("wf-queue").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = Worker::builder(&stem)
            .workflow::<Ship>()
            .queue("orders-a")
            .workflow_poll_interval(Duration::from_millis(20))
            .build()?
            .spawn();
        let run = Ship::call(9).queue("orders-a").start(&stem).await?;
        until_status(&run, RunStatus::Suspended).await;
        assert_eq!(run.status().await?.expect("stored").queue, "orders-a", "{label}");
        // Another producer (this Stem stands for it) emits; the continuation
        // must go to the run's queue, the only one the worker consumes.
        assert_eq!(stem.emit(SHIPPED, Parcel { tracking: "Q".into() }).await?, 1, "{label}");
        assert_eq!(run.wait_timeout(WAIT).await?, "order 9 shipped as Q", "{label}");
        assert_eq!(
            stem.queue_stats()?.pending_count("default").await?,
            0,
            "{label}: nothing went to the default queue"
        );
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- rewinding a failed run --------------------------------------------------

static FIXED: AtomicBool = AtomicBool::new(false);
static PREPARED: AtomicU32 = AtomicU32::new(0);

#[stem::workflow]
async fn fragile(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    let a = wf
        .step("prepare", || async {
            PREPARED.fetch_add(1, Ordering::SeqCst);
            Ok::<_, StepError>(1)
        })
        .await?;
    let b = wf
        .step("deliver", || async move {
            if FIXED.load(Ordering::SeqCst) { Ok(a + 1) } else { Err(StepError::fail("a bug")) }
        })
        .await?;
    Ok(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_rewound_to_a_step_runs_again_from_there() -> TestResult {
    for env in stems("wf-rewind").await {
        let (label, stem) = (env.label, env.stem.clone());
        FIXED.store(false, Ordering::SeqCst);
        PREPARED.store(0, Ordering::SeqCst);
        let worker = worker(&stem);
        let run = Fragile::start(&stem, ()).await?;
        assert!(matches!(run.wait_timeout(WAIT).await, Err(Error::WorkflowFailed { .. })), "{label}");
        FIXED.store(true, Ordering::SeqCst); // the fix is deployed
        assert!(run.rewind_to("nope").await.is_err(), "{label}: an unknown step is an error");
        run.rewind_to("deliver").await?;
        assert_eq!(run.wait_timeout(WAIT).await?, 2, "{label}");
        assert_eq!(PREPARED.load(Ordering::SeqCst), 1, "{label}: the steps before were not run again");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- a worker without workflows says so -------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_workflows_dead_letters_a_run_with_the_fix() -> TestResult {
    let stem = Stem::in_memory();
    let worker = Worker::builder(&stem).task::<SendReceipt>().build()?.spawn();
    let run = Ship::start(&stem, 5).await?;
    let dead = until_ok("the execution to be dead-lettered", || async {
        let page = stem.dead_letters().expect("dead letters").list_dead_letters("default", 10, 0).await.expect("list");
        page.entries.into_iter().next().ok_or("no dead letter yet")
    })
    .await;
    assert!(dead.reason.contains("runs no workflows"), "{}", dead.reason);
    assert!(dead.reason.contains(".workflow::<W>()"), "{}", dead.reason);
    assert_eq!(
        run.status().await?.expect("stored").status,
        RunStatus::Running,
        "the run waits for a worker that has it"
    );
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

// ---- a called task that fails ------------------------------------------------

#[stem::task]
async fn refuse_parcel(reason: String) -> Result<u32, TaskError> {
    Err(TaskError::fail(reason))
}

#[stem::workflow]
async fn picky(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    wf.call(RefuseParcel::call("damaged".to_owned())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_called_task_that_fails_fails_the_run_with_its_error() -> TestResult {
    for env in stems("wf-call-fail").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        let run = Picky::start(&stem, ()).await?;
        match run.wait_timeout(WAIT).await {
            Err(Error::WorkflowFailed { status, error, .. }) => {
                assert_eq!(status, RunStatus::Failed, "{label}");
                assert!(error.contains("refuse_parcel") && error.contains("damaged"), "{label}: {error}");
            }
            other => panic!("{label}: expected a failed run, got {other:?}"),
        }
        let steps = run.steps().await?;
        assert_eq!(steps.len(), 1, "{label}: the failure is recorded as the step's outcome");
        assert!(steps[0].value.get("err").is_some(), "{label}: {:?}", steps[0].value);
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- retention ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_ended_are_deleted_after_the_retention() -> TestResult {
    for env in stems("wf-retention").await {
        let (label, stem, clock) = (env.label, env.stem.clone(), env.clock.clone());
        let first = worker(&stem);
        let old = Ship::start(&stem, 1).await?;
        until_status(&old, RunStatus::Suspended).await;
        stem.emit(SHIPPED, Parcel { tracking: "R".into() }).await?;
        old.wait_timeout(WAIT).await?;
        first.stop(ShutdownMode::Warm).await?;

        clock.advance(Duration::from_secs(3600));
        let waiting = Ship::start(&stem, 2).await?; // not ended: kept whatever its age
        let second = Worker::builder(&stem)
            .workflow_poll_interval(Duration::from_millis(20))
            .workflow_retention(Duration::from_secs(1800))
            .build()?
            .spawn();
        until_status(&waiting, RunStatus::Suspended).await;
        until("the ended run to be deleted", || async { old.status().await.expect("status").is_none() }).await;
        assert!(old.steps().await?.is_empty(), "{label}: its steps went with it");
        assert!(waiting.status().await?.is_some(), "{label}: a run that has not ended stays");
        second.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

// ---- many workers, no leader ----------------------------------------------------

static STEPS_RUN: std::sync::Mutex<Vec<(stem::TaskId, &'static str)>> = std::sync::Mutex::new(Vec::new());

#[stem::workflow]
async fn relay(wf: WorkflowContext, n: u32) -> Result<u32, WorkflowError> {
    let id = wf.id();
    let a = wf
        .step("before", || async move {
            STEPS_RUN.lock().expect("lock").push((id, "before"));
            Ok::<_, StepError>(n)
        })
        .await?;
    wf.sleep(Duration::from_secs(60)).await;
    let b = wf
        .step("after", || async move {
            STEPS_RUN.lock().expect("lock").push((id, "after"));
            Ok::<_, StepError>(a + 1)
        })
        .await?;
    let parcel = wf.await_event(SHIPPED).await?;
    Ok(b + u32::try_from(parcel.tracking.len()).unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_runs_and_timers_without_duplicates() -> TestResult {
    for env in stems("wf-many").await {
        let (label, stem, clock) = (env.label, env.stem.clone(), env.clock.clone());
        STEPS_RUN.lock().expect("lock").clear();
        let workers: Vec<WorkerHandle> = (0..3).map(|_| worker(&stem)).collect();
        let mut runs = Vec::new();
        for n in 0..30 {
            runs.push(Relay::start(&stem, n).await?);
        }
        for run in &runs {
            until_status(run, RunStatus::Suspended).await;
        }
        clock.advance(Duration::from_secs(60));
        for run in &runs {
            until("the run to wait for its event", || async {
                run.status().await.expect("status").is_some_and(|s| s.wait_topic.is_some())
            })
            .await;
        }
        assert_eq!(stem.emit(SHIPPED, Parcel { tracking: "abc".into() }).await?, 30, "{label}");
        for (n, run) in (0u32..).zip(&runs) {
            assert_eq!(run.wait_timeout(WAIT).await?, n + 4, "{label}");
        }
        let ran = STEPS_RUN.lock().expect("lock").clone();
        assert_eq!(ran.len(), 60, "{label}: each step of each run ran exactly once: {ran:?}");
        for worker in workers {
            worker.stop(ShutdownMode::Warm).await?;
        }
        env.clean().await?;
    }
    Ok(())
}

/// Three checkpointed steps, each adding one.
#[stem::workflow]
async fn add_three(wf: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let mut value = n;
    for _ in 0..3 {
        let before = value;
        value = wf.step("add", || async move { Ok::<_, StepError>(before + 1) }).await?;
    }
    Ok(value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_runs_start_in_one_batch_and_run_concurrently_to_their_own_results() -> TestResult {
    for env in stems("wf-many").await {
        let (label, stem) = (env.label, env.stem.clone());
        let runs = AddThree::start_many(&stem, 0..40u64).await?;
        assert_eq!(runs.len(), 40, "{label}: one handle per start");
        let worker = Worker::builder(&stem)
            .concurrency(16)
            .workflow_poll_interval(Duration::from_millis(20))
            .build()
            .expect("a valid worker")
            .spawn();
        for (n, run) in runs.iter().enumerate() {
            assert_eq!(run.wait_timeout(WAIT).await?, n as u64 + 3, "{label}: run {n} got its own steps' values");
            let steps: Vec<String> = run.steps().await?.into_iter().map(|c| c.name).collect();
            assert_eq!(steps, ["add#0", "add#1", "add#2"], "{label}: each step recorded once");
        }
        // A start whose run id is taken is refused; the others start.
        let taken = runs[0].id();
        let other = stem::workflow::RunId::new();
        let starts = [AddThree::call(100).run_id(taken), AddThree::call(200).run_id(other)];
        let started = stem::workflow::WorkflowStart::start_many(&stem, starts).await;
        assert!(matches!(started, Err(Error::RunExists(id)) if id == taken), "{label}: {started:?}");
        assert_eq!(runs[0].wait_timeout(WAIT).await?, 3, "{label}: the taken run is as it was");
        until("the other run to complete", || async {
            let state = stem.workflows().get_run(other).await.expect("get");
            state.is_some_and(|s| s.status == RunStatus::Completed && s.result == Some(serde_json::json!(203)))
        })
        .await;
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}
