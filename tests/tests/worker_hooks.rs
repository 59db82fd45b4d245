//! Hooks hear a worker's events in order, on every store: per delivery
//! received, started, (lease renewals,) returned, then succeeded, retried or
//! failed and dead lettered; a workflow's step and run ends; the worker's
//! ready first and stopping after the last delivery received. A hook that panics or
//! fails changes nothing for the tasks, the worker or the other hooks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use stem::codec::Payload;
use stem::prelude::*;
use stem::worker::{Hook, HookError, WorkerEvent};
use stem::{Envelope, TaskId};
use stem_tests::{TestResult, WAIT, every_store};

#[stem::task(max_retries = 2, retry_backoff = "5ms", retry_jitter = false, queue = "hooked")]
async fn flaky(ctx: TaskContext, fail_first: bool) -> Result<u32, TaskError> {
    if fail_first && ctx.attempt() == 0 {
        return Err(TaskError::retry("the first attempt fails"));
    }
    Ok(ctx.attempt())
}

#[stem::task(max_retries = 0, queue = "hooked")]
async fn doomed() -> Result<(), TaskError> {
    Err(TaskError::fail("no"))
}

/// Runs for several of the test worker's 100 ms leases.
#[stem::task(queue = "hooked")]
async fn slow() -> Result<(), TaskError> {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    Ok(())
}

#[stem::workflow(queue = "hooked")]
async fn packed(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    Ok(wf.step("pack", || async { Ok::<_, StepError>(3) }).await?)
}

/// Every event's name, and per task id the names of its events.
#[derive(Debug, Default)]
struct Heard {
    all: Vec<&'static str>,
    by_task: BTreeMap<TaskId, Vec<&'static str>>,
    reasons: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Heard>>);

#[async_trait::async_trait]
impl Hook for Recorder {
    async fn on(&self, event: &WorkerEvent) -> Result<(), HookError> {
        let mut heard = self.0.lock().unwrap();
        heard.all.push(event.name());
        if let Some(envelope) = event.envelope() {
            heard.by_task.entry(envelope.id).or_default().push(event.name());
        }
        if let WorkerEvent::DeadLettered { reason, .. } = event {
            heard.reasons.push(reason.clone());
        }
        Ok(())
    }
}

/// Panics on every event.
#[derive(Debug)]
struct Panics;

#[async_trait::async_trait]
impl Hook for Panics {
    async fn on(&self, event: &WorkerEvent) -> Result<(), HookError> {
        panic!("a hook that panics on {}", event.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_hear_every_event_in_order_and_a_failing_hook_changes_nothing() -> TestResult {
    for env in every_store("hooks").await {
        let (label, stem) = (env.label, env.stem.clone());
        let recorder = Recorder::default();
        let worker = Worker::builder(&stem)
            .task::<Flaky>()
            .task::<Doomed>()
            .task::<Slow>()
            .workflow::<Packed>()
            .lease(std::time::Duration::from_millis(100))
            .handle_signals(false)
            .hook(Panics)
            .on_event(|_event: WorkerEvent| async move { panic!("a closure hook that panics") })
            .hook(recorder.clone())
            .build()?
            .spawn();
        let ok = Flaky::enqueue(&stem, false).await?;
        let retried = Flaky::enqueue(&stem, true).await?;
        let failed = Doomed::enqueue(&stem, ()).await?;
        // A message of a task no worker knows: refused before it runs.
        let unknown = stem
            .enqueue_envelope(Envelope::new("no.such.task", "hooked", Payload::new("json", b"null".to_vec())))
            .await?;
        assert_eq!(ok.wait_timeout(WAIT).await?, 0, "{label}");
        assert_eq!(retried.wait_timeout(WAIT).await?, 1, "{label}");
        assert!(failed.wait_timeout(WAIT).await.is_err(), "{label}");
        let refused = stem.handle::<()>(unknown);
        assert!(refused.wait_timeout(WAIT).await.is_err(), "{label}");
        let slow = Slow::enqueue(&stem, ()).await?;
        slow.wait_timeout(WAIT).await?;
        assert_eq!(Packed::start(&stem, ()).await?.wait_timeout(WAIT).await?, 3, "{label}");
        worker.stop(ShutdownMode::Warm).await?;

        {
            let heard = recorder.0.lock().unwrap();
            assert_eq!(heard.all.first(), Some(&"worker.ready"), "{label}: {:?}", heard.all);
            // Stopping: nothing is received after it (what runs may still end).
            let stopping = heard.all.iter().position(|n| *n == "worker.stopping").expect("stopping is heard");
            let last_received = heard.all.iter().rposition(|n| *n == "task.received").expect("deliveries");
            assert!(last_received < stopping, "{label}: {:?}", heard.all);
            // Renewals come whenever a held lease runs low, until the delivery
            // is settled (after its outcome event): left out of the order.
            let all_of = |id: TaskId| heard.by_task.get(&id).cloned().unwrap_or_default();
            let of =
                |id: TaskId| -> Vec<&str> { all_of(id).into_iter().filter(|n| *n != "task.lease_renewed").collect() };
            let run = ["task.received", "task.started", "task.returned"];
            assert_eq!(of(ok.id()), [&run[..], &["task.succeeded"]].concat(), "{label}");
            assert_eq!(
                of(retried.id()),
                [&run[..], &["task.retried"], &run[..], &["task.succeeded"]].concat(),
                "{label}"
            );
            assert_eq!(of(failed.id()), [&run[..], &["task.failed", "task.dead_lettered"]].concat(), "{label}");
            assert_eq!(of(unknown), ["task.failed", "task.dead_lettered"], "{label}: refused before it ran");
            assert_eq!(of(slow.id()), [&run[..], &["task.succeeded"]].concat(), "{label}");
            let slow_events = all_of(slow.id());
            let started = slow_events.iter().position(|n| *n == "task.started");
            let renewed = slow_events.iter().position(|n| *n == "task.lease_renewed");
            assert!(
                renewed.is_some() && started < renewed,
                "{label}: a task that outlives its lease has it renewed once started: {slow_events:?}"
            );
            let workflow: Vec<_> = heard.all.iter().filter(|n| n.starts_with("workflow.")).collect();
            assert_eq!(workflow, [&"workflow.step_ended", &"workflow.run_ended"], "{label}");
            assert!(
                heard.reasons.iter().any(|r| r.contains("unknown task `no.such.task`")),
                "{label}: {:?}",
                heard.reasons
            );
        }
        env.clean().await?;
    }
    Ok(())
}
