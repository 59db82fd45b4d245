//! The control plane, on every store, with two workers in this process (the
//! in-memory store cannot be shared between processes; `cli/control.rs`
//! runs two worker processes on the other stores): ping both and get both;
//! stats count what ran; pause stops one queue only and resume restarts it;
//! a queued revoked task never runs; a running one is stopped (soft and
//! hard) within a second on whichever worker runs it, and its delivery is
//! settled, never retried; inspect lists running, reserved and scheduled
//! deliveries; a worker started later honours an earlier revoke; the pool
//! grows and shrinks; shutdown by command; a malformed control message is
//! logged and changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value;
use stem::prelude::*;
use stem::revoke::{Revoke, Terminate};
use stem::{Error, Stem, TaskId, TaskState, WorkerHandle};
use stem_tests::{TestResult, WAIT, every_store, until_ok};

/// How many times the body of each counted task ran, by task id.
static RUNS: Mutex<BTreeMap<TaskId, u32>> = Mutex::new(BTreeMap::new());

/// The `polite` runs that saw their context cancelled and ended themselves:
/// only a soft stop leaves this mark (a hard one drops the future first).
static SOFT_STOPPED: Mutex<BTreeSet<TaskId>> = Mutex::new(BTreeSet::new());

/// Counts a run of `id`'s body.
fn ran(id: TaskId) {
    *RUNS.lock().unwrap_or_else(PoisonError::into_inner).entry(id).or_default() += 1;
}

/// How many times `id`'s body ran.
fn runs(id: TaskId) -> u32 {
    RUNS.lock().unwrap_or_else(PoisonError::into_inner).get(&id).copied().unwrap_or(0)
}

#[stem::task(queue = "ctl-a")]
async fn quick(ctx: TaskContext, n: u32) -> Result<u32, TaskError> {
    ran(ctx.id());
    Ok(n)
}

#[stem::task(queue = "ctl-b")]
async fn other(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

/// Runs until cancelled, checking its context (a soft stop), then marks
/// that it saw the cancellation and fails asking for a retry, which a
/// revoke must not grant.
#[stem::task(queue = "ctl-a", max_retries = 3, retry_backoff = "10ms", retry_jitter = false)]
async fn polite(ctx: TaskContext) -> Result<(), TaskError> {
    ran(ctx.id());
    while !ctx.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    SOFT_STOPPED.lock().unwrap_or_else(PoisonError::into_inner).insert(ctx.id());
    Err(TaskError::retry("stopped on request"))
}

/// Sleeps far longer than any test (a hard stop drops it); a retry policy
/// that a revoke must not use.
#[stem::task(queue = "ctl-a", max_retries = 3, retry_backoff = "10ms", retry_jitter = false)]
async fn stubborn(ctx: TaskContext) -> Result<(), TaskError> {
    ran(ctx.id());
    tokio::time::sleep(Duration::from_secs(600)).await;
    Ok(())
}

/// What this test binary logs at warn and above, for the assertions on what
/// a worker logged (the workers log from their own tokio tasks, on any
/// thread: a global subscriber sees them all).
static LOGGED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The writer of the captured log.
struct Captured;

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGGED.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once for the binary).
fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| Captured)
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber in this test binary");
    });
}

/// Everything captured so far.
fn logged() -> String {
    String::from_utf8_lossy(&LOGGED.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}

fn worker(stem: &Stem) -> stem::Result<WorkerHandle> {
    Ok(Worker::builder(stem)
        .task::<Quick>()
        .task::<Other>()
        .task::<Polite>()
        .task::<Stubborn>()
        .queues(["ctl-a", "ctl-b"])
        .concurrency(4)
        .heartbeat_interval(Duration::from_millis(100))
        .handle_signals(false)
        .build()?
        .spawn())
}

/// Waits until `id`'s task is in `state`, one second at most.
async fn reaches(stem: &Stem, id: stem::TaskId, state: TaskState, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let now = stem.handle::<()>(id).status().await.expect("status").map(|s| s.state);
        if now == Some(state) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: still {now:?} after 1 s, not {state:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the revoked `id`'s delivery is settled: `queue` holds nothing
/// ready, delayed (a retry waiting) or leased, and no dead letter of `id`;
/// then checks that it stayed revoked at its first attempt, its body run
/// `ran` times (no second attempt).
async fn settled(stem: &Stem, queue: &str, id: TaskId, ran: u32, what: &str) -> TestResult {
    let stats = stem.queue_stats()?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let counts = stats.queues().await?.into_iter().find(|q| q.queue == queue);
        let left = counts.as_ref().map_or((0, 0, 0), |c| (c.ready, c.delayed, c.leased));
        let unacked = (stats.pending_count(queue).await?, stats.inflight_count(queue).await?);
        if left == (0, 0, 0) && unacked == (0, 0) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let held = stem.control().inspect().await?;
            panic!("{what}: not settled: {counts:?}, {unacked:?}\n{held:?}\n{}", logged());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dead = stem.broker().dead_letters().expect("dead letters").get_dead_letter(queue, id).await?;
    assert!(dead.is_none(), "{what}: dead-lettered: {dead:?}");
    let status = stem.handle::<()>(id).status().await?.expect("a status");
    assert_eq!((status.state, status.attempt, runs(id)), (TaskState::Revoked, 0, ran), "{what}: {status:?}");
    Ok(())
}

/// The entries of `list` (`active` or `scheduled`) of every inspect reply.
fn listed<'a>(replies: &'a stem::control::Replies, list: &str) -> Vec<&'a Value> {
    replies.replies.iter().filter_map(|r| r.body[list].as_array()).flatten().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_answer_and_obey_control_commands() -> TestResult {
    for env in every_store("control").await {
        let (label, stem) = (env.label, env.stem.clone());
        let (one, two) = (worker(&stem)?, worker(&stem)?);
        let ids = [one.id().to_owned(), two.id().to_owned()];
        // Both answer (once their heartbeats and subscriptions are up).
        let pinged = until_ok("both workers answer a ping", || async {
            let replies = stem.control().to(ids.clone()).ping().await.map_err(|e| e.to_string())?;
            if replies.missing.is_empty() { Ok(replies) } else { Err(format!("missing {:?}", replies.missing)) }
        })
        .await;
        let mut answered: Vec<&str> = pinged.replies.iter().map(|r| r.worker.as_str()).collect();
        answered.sort_unstable();
        let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(answered, expected, "{label}");
        let nobody = stem.control().to(["nobody"]).timeout(Duration::from_millis(300)).ping().await?;
        assert_eq!((nobody.replies.len(), nobody.missing), (0, vec!["nobody".to_owned()]), "{label}");

        // A malformed control message is logged by each worker, which goes on.
        capture_logs();
        let malformed = format!("{{not json {label} {}", TaskId::new());
        stem.broker().broadcast().expect("broadcast").broadcast("stem.control", malformed.clone().into_bytes()).await?;
        until_ok("both workers log the malformed message", || async {
            let log = logged();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains(&malformed)).collect();
            let warned = lines.iter().filter(|l| l.contains("WARN") && l.contains("does not parse")).count();
            if warned == 2 { Ok(()) } else { Err(format!("{lines:?}")) }
        })
        .await;
        let pinged = stem.control().to(ids.clone()).ping().await?;
        assert!(pinged.missing.is_empty() && pinged.replies.iter().all(|r| r.ok), "{label}: {pinged:?}");

        // Stats count what ran.
        for n in 0..3 {
            Quick::enqueue(&stem, n).await?.wait_timeout(WAIT).await?;
        }
        let stats = stem.control().to(ids.clone()).stats().await?;
        assert!(stats.missing.is_empty(), "{label}: {:?}", stats.missing);
        let sum = |field: &str| stats.replies.iter().map(|r| r.body[field].as_u64().unwrap_or(0)).sum::<u64>();
        assert_eq!((sum("processed"), sum("succeeded"), sum("failed")), (3, 3, 0), "{label}: {stats:?}");
        assert!(stats.replies.iter().all(|r| r.body["concurrency"] == 4 && r.body["uptime_s"].is_u64()), "{label}");

        // Pause stops delivery from that queue only; resume restarts it.
        let paused = stem.control().to(ids.clone()).pause("ctl-b").await?;
        assert!(paused.replies.iter().all(|r| r.ok) && paused.missing.is_empty(), "{label}: {paused:?}");
        let held_back = Other::enqueue(&stem, 7).await?;
        Quick::enqueue(&stem, 8).await?.wait_timeout(WAIT).await?;
        let state = held_back.status().await?.map(|s| s.state);
        assert_eq!(state, Some(TaskState::Queued), "{label}: a task of a paused queue waits");
        stem.control().to(ids.clone()).resume("ctl-b").await?;
        assert_eq!(held_back.wait_timeout(WAIT).await?, 7, "{label}: resumed");
        let unknown = stem.control().to(ids.clone()).pause("elsewhere").await?;
        assert!(
            unknown.replies.iter().all(|r| !r.ok && r.error.as_deref().is_some_and(|e| e.contains("elsewhere"))),
            "{label}"
        );

        // A queued task revoked never runs; its handle says revoked, and its
        // delivery is settled.
        let later = Quick::call(9).countdown(Duration::from_millis(500)).enqueue(&stem).await?;
        stem.control().to(ids.clone()).revoke(&[later.id()], Terminate::No, Duration::from_secs(600)).await?;
        match later.wait_timeout(WAIT).await {
            Err(Error::TaskFailed(failure)) => assert_eq!(failure.state, TaskState::Revoked, "{label}"),
            other => panic!("{label}: expected a revoked task, got {other:?}"),
        }
        settled(&stem, "ctl-a", later.id(), 0, &format!("{label}: queued revoke")).await?;

        // A running task is stopped within a second, soft or hard, wherever
        // it runs; its delivery is settled and it is not retried, though both
        // tasks have a retry policy.
        for terminate in [Terminate::Soft, Terminate::Hard] {
            let id = match terminate {
                Terminate::Soft => Polite::enqueue(&stem, ()).await?.id(),
                _ => Stubborn::enqueue(&stem, ()).await?.id(),
            };
            let what = format!("{label}: {terminate:?}");
            reaches(&stem, id, TaskState::Started, &format!("{what} started")).await;
            let inspected = stem.control().to(ids.clone()).inspect().await?;
            let active = listed(&inspected, "active");
            let entry = active.iter().find(|a| a["id"] == id.to_string()).expect("the running task is listed");
            assert_eq!(entry["running"], true, "{what}: {entry}");
            // Stats see it in flight, and the process's memory (Linux).
            let stats = stem.control().to(ids.clone()).stats().await?;
            let in_flight: u64 = stats.replies.iter().filter_map(|r| r.body["in_flight"].as_u64()).sum();
            assert!(in_flight >= 1, "{what}: {stats:?}");
            if cfg!(target_os = "linux") {
                assert!(stats.replies.iter().all(|r| r.body["memory_bytes"].as_u64() > Some(0)), "{what}: {stats:?}");
            }
            let replies = stem.control().to(ids.clone()).revoke(&[id], terminate, Duration::from_secs(600)).await?;
            let stopped: u64 = replies.replies.iter().map(|r| r.body["terminated"].as_u64().unwrap_or(0)).sum();
            assert_eq!(stopped, 1, "{what}: one worker ran it: {replies:?}");
            reaches(&stem, id, TaskState::Revoked, &format!("{what} revoked")).await;
            let soft_mark = SOFT_STOPPED.lock().unwrap_or_else(PoisonError::into_inner).contains(&id);
            assert_eq!(soft_mark, terminate == Terminate::Soft, "{what}: the task ended itself only when soft");
            settled(&stem, "ctl-a", id, 1, &format!("{what} revoke")).await?;
        }

        // The pool grows and shrinks.
        let grown = stem.control().to([ids[0].clone()]).grow(2).await?;
        assert_eq!(grown.replies[0].body["concurrency"], 6, "{label}");
        let shrunk = stem.control().to([ids[0].clone()]).shrink(5).await?;
        assert_eq!(shrunk.replies[0].body["concurrency"], 1, "{label}");

        // Shutdown by command: the first worker stops, the second goes on.
        stem.control().to([ids[0].clone()]).shutdown(ShutdownMode::Warm).await?;
        tokio::time::timeout(WAIT, one.join()).await.map_err(|_| format!("{label}: still running"))??;
        assert_eq!(Quick::enqueue(&stem, 10).await?.wait_timeout(WAIT).await?, 10, "{label}: the other runs on");
        two.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

/// Busy for a while.
#[stem::task(queue = "ctl-scale")]
async fn busy() -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

/// The pool size a worker reports in its stats.
async fn pool(stem: &Stem, id: &str) -> Result<u64, String> {
    let stats = stem.control().to([id]).stats().await.map_err(|e| e.to_string())?;
    stats.replies.first().and_then(|r| r.body["concurrency"].as_u64()).ok_or_else(|| "no reply".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_grows_with_a_backlog_and_shrinks_when_quiet() -> TestResult {
    for env in every_store("autoscale").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = Worker::builder(&stem)
            .task::<Busy>()
            .concurrency(1..=4)
            .scale_down_after(Duration::from_millis(300))
            .heartbeat_interval(Duration::from_millis(100))
            .handle_signals(false)
            .build()?
            .spawn();
        let id = worker.id().to_owned();
        until_ok("the worker answers", || pool(&stem, &id)).await;
        assert_eq!(pool(&stem, &id).await?, 1, "{label}: it starts at the bottom");
        let handles = stem.enqueue_many((0..40).map(|_| Busy::call(()))).await?;
        until_ok("the pool grows to the top", || async {
            let size = pool(&stem, &id).await?;
            if size == 4 { Ok(()) } else { Err(format!("{size} slots")) }
        })
        .await;
        for handle in &handles {
            handle.wait_timeout(WAIT).await?;
        }
        until_ok("the pool shrinks to the bottom", || async {
            let size = pool(&stem, &id).await?;
            if size == 1 { Ok(()) } else { Err(format!("{size} slots")) }
        })
        .await;
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[stem::workflow(queue = "ctl-wf")]
async fn napping(wf: WorkflowContext) -> Result<(), WorkflowError> {
    wf.sleep(Duration::from_secs(3600)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_workflow_run_cancels_it() -> TestResult {
    for env in every_store("control-wf").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = Worker::builder(&stem).workflow::<Napping>().handle_signals(false).build()?.spawn();
        let run = Napping::start(&stem, ()).await?;
        until_ok("the run sleeps", || async {
            match run.status().await.map_err(|e| e.to_string())?.map(|s| s.status) {
                Some(stem::workflow::RunStatus::Suspended) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        stem.control().revoke(&[run.id()], Terminate::No, Duration::from_secs(60)).await?;
        let status = run.status().await?.map(|s| s.status);
        assert_eq!(status, Some(stem::workflow::RunStatus::Cancelled), "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

/// Holds its slot far longer than any test.
#[stem::task(queue = "ctl-held")]
async fn hold() -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_secs(600)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_lists_running_reserved_and_scheduled_deliveries() -> TestResult {
    for env in every_store("control-inspect").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = Worker::builder(&stem)
            .task::<Hold>()
            .concurrency(1)
            .prefetch(2)
            .heartbeat_interval(Duration::from_millis(100))
            .handle_signals(false)
            .build()?
            .spawn();
        let id = worker.id().to_owned();
        // One slot, two deliveries: one runs, the other is reserved.
        let (first, second) = (Hold::enqueue(&stem, ()).await?.id(), Hold::enqueue(&stem, ()).await?.id());
        let active = until_ok("both deliveries held", || async {
            let replies = stem.control().to([id.as_str()]).inspect().await.map_err(|e| e.to_string())?;
            let active: Vec<(String, bool)> = listed(&replies, "active")
                .iter()
                .map(|a| (a["id"].as_str().unwrap_or("?").to_owned(), a["running"] == true))
                .collect();
            if active.len() == 2 && active.iter().any(|(_, running)| *running) {
                Ok(active)
            } else {
                Err(format!("{active:?}"))
            }
        })
        .await;
        let mut held: Vec<String> = active.iter().map(|(id, _)| id.clone()).collect();
        held.sort();
        let mut sent = vec![first.to_string(), second.to_string()];
        sent.sort();
        assert_eq!(held, sent, "{label}");
        let running: Vec<bool> = active.iter().map(|(_, running)| *running).collect();
        assert_eq!(running.iter().filter(|r| **r).count(), 1, "{label}: one runs, one is reserved: {active:?}");

        // A task sent with a countdown is scheduled: listed with its id, name and eta.
        let sent_at = chrono::Utc::now();
        let later = Hold::call(()).countdown(Duration::from_secs(60)).enqueue(&stem).await?;
        let replies = stem.control().to([id.as_str()]).inspect().await?;
        let scheduled = listed(&replies, "scheduled");
        assert_eq!(scheduled.len(), 1, "{label}: {replies:?}");
        let entry = scheduled[0];
        assert_eq!(entry["id"], later.id().to_string(), "{label}: {entry}");
        assert_eq!((entry["task"].as_str(), entry["queue"].as_str()), (Some(<Hold as Task>::NAME), Some("ctl-held")));
        assert_eq!(entry["attempt"], 0, "{label}: {entry}");
        let eta: chrono::DateTime<chrono::Utc> = serde_json::from_value(entry["eta"].clone())?;
        let ahead = eta - sent_at;
        assert!(ahead > chrono::Duration::seconds(55) && ahead <= chrono::Duration::seconds(61), "{label}: {eta}");
        // Not held: it waits in the broker until due.
        assert!(listed(&replies, "active").iter().all(|a| a["id"] != later.id().to_string()), "{label}");
        worker.stop(ShutdownMode::Hard).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_later_honours_an_earlier_revoke() -> TestResult {
    for env in every_store("control-early").await {
        let (label, stem) = (env.label, env.stem.clone());
        // Revoked, then sent, while no worker runs.
        let id = TaskId::new();
        let expires = chrono::Utc::now() + chrono::Duration::minutes(10);
        stem.stores().revokes().put(&[Revoke::new(id, expires)]).await?;
        let handle = Quick::call(5).task_id(id).enqueue(&stem).await?;
        let worker = worker(&stem)?;
        match handle.wait_timeout(WAIT).await {
            Err(Error::TaskFailed(failure)) => assert_eq!(failure.state, TaskState::Revoked, "{label}"),
            other => panic!("{label}: expected a revoked task, got {other:?}"),
        }
        settled(&stem, "ctl-a", id, 0, &format!("{label}: revoked before the worker started")).await?;
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}
