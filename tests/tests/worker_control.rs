//! The control plane, on every store, with two workers: ping both and get
//! both; stats count what ran; pause stops one queue only and resume
//! restarts it; a queued revoked task never runs; a running one is stopped
//! (soft and hard) within a second on whichever worker runs it; the pool
//! grows and shrinks; shutdown by command; a malformed control message
//! changes nothing.

use std::time::Duration;

use stem::prelude::*;
use stem::revoke::Terminate;
use stem::{Error, Stem, TaskState, WorkerHandle};
use stem_tests::{TestResult, WAIT, every_store, until_ok};

#[stem::task(queue = "ctl-a")]
async fn quick(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

#[stem::task(queue = "ctl-b")]
async fn other(n: u32) -> Result<u32, TaskError> {
    Ok(n)
}

/// Runs until cancelled, checking its context (a soft stop).
#[stem::task(queue = "ctl-a")]
async fn polite(ctx: TaskContext) -> Result<(), TaskError> {
    while !ctx.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Sleeps far longer than any test (a hard stop drops it).
#[stem::task(queue = "ctl-a")]
async fn stubborn() -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_secs(600)).await;
    Ok(())
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

        // A malformed control message changes nothing.
        stem.broker().broadcast().expect("broadcast").broadcast("stem.control", b"{not json".to_vec()).await?;

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

        // A queued task revoked never runs; its handle says revoked.
        let later = Quick::call(9).countdown(Duration::from_millis(500)).enqueue(&stem).await?;
        stem.control().to(ids.clone()).revoke(&[later.id()], Terminate::No, Duration::from_secs(600)).await?;
        match later.wait_timeout(WAIT).await {
            Err(Error::TaskFailed(failure)) => assert_eq!(failure.state, TaskState::Revoked, "{label}"),
            other => panic!("{label}: expected a revoked task, got {other:?}"),
        }

        // A running task is stopped within a second, soft or hard, wherever it runs.
        for (terminate, id) in [
            (Terminate::Soft, Polite::enqueue(&stem, ()).await?.id()),
            (Terminate::Hard, Stubborn::enqueue(&stem, ()).await?.id()),
        ] {
            reaches(&stem, id, TaskState::Started, &format!("{label}: {terminate:?} started")).await;
            let inspected = stem.control().to(ids.clone()).inspect().await?;
            let active: Vec<&serde_json::Value> =
                inspected.replies.iter().filter_map(|r| r.body["active"].as_array()).flatten().collect();
            let listed = active.iter().find(|a| a["id"] == id.to_string()).expect("the running task is listed");
            assert_eq!(listed["running"], true, "{label}: {listed}");
            let replies = stem.control().to(ids.clone()).revoke(&[id], terminate, Duration::from_secs(600)).await?;
            let stopped: u64 = replies.replies.iter().map(|r| r.body["terminated"].as_u64().unwrap_or(0)).sum();
            assert_eq!(stopped, 1, "{label}: {terminate:?}: one worker ran it: {replies:?}");
            reaches(&stem, id, TaskState::Revoked, &format!("{label}: {terminate:?} revoked")).await;
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
