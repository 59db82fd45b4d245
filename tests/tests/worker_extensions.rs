//! An extension plugs into the worker: it adds a task and a default queue,
//! runs a service from the worker's start to its stop, sees the outcomes the
//! worker recorded (only those it watches, only once accepted) and names the
//! reason for an unknown task it knows about.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stem::backend::TaskStatus;
use stem::codec::Payload;
use stem::prelude::*;
use stem::worker::{Extension, FollowUp, Recorded, Service, WorkerInfo};
use stem::{Envelope, Error, Registry, TaskState};
use stem_tests::{TestResult, WAIT, within};
use tokio::sync::{Notify, mpsc};

#[stem::task(max_retries = 0)]
async fn settle(ok: bool) -> Result<u32, TaskError> {
    if ok { Ok(1) } else { Err(TaskError::fail("no")) }
}

/// The task the extension brings, on a queue of its own.
#[stem::task(name = "probe.extra", queue = "extra")]
async fn extra() -> Result<u32, TaskError> {
    Ok(7)
}

/// What the probe saw.
#[derive(Debug, Default)]
struct Seen {
    outcomes: Vec<(String, TaskState)>,
}

/// An extension that watches failed and succeeded `settle` tasks, runs a
/// service, brings a task and its queue, and explains one unknown task name.
#[derive(Debug)]
struct Probe {
    seen: Arc<Mutex<Seen>>,
    started: mpsc::UnboundedSender<String>,
    dropped: Arc<Notify>,
}

/// Notifies when dropped: the service ended.
struct OnDrop(Arc<Notify>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

impl Extension for Probe {
    fn tasks(&self, _explicit: bool) -> Registry {
        Registry::new().register::<Extra>()
    }

    fn queues(&self, registry: &Registry, _explicit: bool) -> Vec<String> {
        registry.get(Extra::NAME).map(|r| vec![r.options().queue.to_owned()]).unwrap_or_default()
    }

    fn services(&self, worker: &WorkerInfo<'_>) -> Vec<Service> {
        let (started, dropped, id) = (self.started.clone(), Arc::clone(&self.dropped), worker.id.to_owned());
        vec![Box::pin(async move {
            let _guard = OnDrop(dropped);
            let _ = started.send(id);
            std::future::pending::<()>().await;
        })]
    }

    fn watches(&self, envelope: &Envelope, status: &TaskStatus) -> bool {
        envelope.task == Settle::NAME && status.state.is_terminal()
    }

    fn recorded(&self, _stem: &Stem, outcomes: Vec<Recorded>) -> Option<FollowUp> {
        let mut seen = self.seen.lock().expect("not poisoned");
        seen.outcomes.extend(outcomes.into_iter().map(|o| (o.envelope.task.clone(), o.status.state)));
        None
    }

    fn unknown_task(&self, envelope: &Envelope, worker: &WorkerInfo<'_>) -> Option<String> {
        (envelope.task == "probe.retired").then(|| format!("probe.retired was retired; worker {} knows", worker.id))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_adds_a_task_runs_a_service_and_sees_outcomes() -> TestResult {
    let stem = Stem::in_memory();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (started, mut services) = mpsc::unbounded_channel();
    let dropped = Arc::new(Notify::new());
    let probe = Probe { seen: Arc::clone(&seen), started, dropped: Arc::clone(&dropped) };
    let worker = Worker::builder(&stem).task::<Settle>().extension(probe).id("w-ext").handle_signals(false).build()?;
    assert!(worker.registry().get(Extra::NAME).is_some(), "the extension's task is added");
    assert!(worker.queues().contains(&"extra".to_owned()), "and its queue: {:?}", worker.queues());
    let worker = worker.spawn();
    assert_eq!(within("the service to start", services.recv()).await.as_deref(), Some("w-ext"));

    let ok = Settle::enqueue(&stem, true).await?;
    let failed = Settle::enqueue(&stem, false).await?;
    assert_eq!(ok.wait_timeout(WAIT).await?, 1);
    assert!(matches!(failed.wait_timeout(WAIT).await, Err(Error::TaskFailed(_))));
    assert_eq!(Extra::enqueue(&stem, ()).await?.wait_timeout(WAIT).await?, 7, "the extension's task runs");

    // An unknown task that the extension knows about is dead-lettered with its reason.
    let retired = Envelope::new("probe.retired", "default", Payload::new("json", b"null".to_vec()));
    stem.enqueue_envelope(retired.clone()).await?;
    let status = stem.handle::<()>(retired.id).wait_timeout(WAIT).await;
    assert!(matches!(status, Err(Error::TaskFailed(_))), "{status:?}");
    let dead = stem_tests::dead_letter(&stem, "default", retired.id).await;
    assert_eq!(dead.reason, "probe.retired was retired; worker w-ext knows");

    let stopped = dropped.notified();
    worker.stop(ShutdownMode::Warm).await?;
    within("the service to be dropped when the worker stops", stopped).await;
    let mut outcomes = seen.lock().expect("not poisoned").outcomes.clone();
    outcomes.sort_by_key(|(_, state)| state.as_str());
    assert_eq!(
        outcomes,
        vec![(Settle::NAME.to_owned(), TaskState::Failed), (Settle::NAME.to_owned(), TaskState::Succeeded)],
        "each watched outcome once; the extension's own task and the unknown one are not watched"
    );
    Ok(())
}

#[tokio::test]
async fn an_extension_of_the_same_type_replaces_the_first() -> TestResult {
    let stem = Stem::in_memory();
    let probe = |queue_seen: &Arc<Mutex<Seen>>| {
        let (started, _) = mpsc::unbounded_channel();
        Probe { seen: Arc::clone(queue_seen), started, dropped: Arc::new(Notify::new()) }
    };
    let (first, second) = (Arc::new(Mutex::new(Seen::default())), Arc::new(Mutex::new(Seen::default())));
    let worker = Worker::builder(&stem)
        .task::<Settle>()
        .extension(probe(&first))
        .extension(probe(&second))
        .handle_signals(false)
        .build()?
        .spawn();
    Settle::enqueue(&stem, true).await?.wait_timeout(WAIT).await?;
    worker.stop(ShutdownMode::Warm).await?;
    assert!(first.lock().expect("not poisoned").outcomes.is_empty(), "the first probe was replaced");
    assert_eq!(second.lock().expect("not poisoned").outcomes.len(), 1);
    Ok(())
}

/// Runs of [`counted`].
static COUNTED_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task]
async fn counted() -> Result<u32, TaskError> {
    Ok(COUNTED_RUNS.fetch_add(1, Ordering::SeqCst) + 1)
}

/// An extension whose follow-up fails the first time: the fences it saw.
#[derive(Debug, Default)]
struct FailsOnce {
    fences: Arc<Mutex<Vec<u64>>>,
}

impl Extension for FailsOnce {
    fn watches(&self, envelope: &Envelope, _status: &TaskStatus) -> bool {
        envelope.task == Counted::NAME
    }

    fn recorded(&self, _stem: &Stem, outcomes: Vec<Recorded>) -> Option<FollowUp> {
        let fences = Arc::clone(&self.fences);
        Some(Box::pin(async move {
            let mut fences = fences.lock().expect("not poisoned");
            let first = fences.is_empty();
            fences.extend(outcomes.iter().map(|o| o.status.fence));
            if first { Err(Error::Config("the follow-up failed".to_owned())) } else { Ok(()) }
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_follow_up_leaves_the_delivery_to_come_back() -> TestResult {
    let stem = Stem::in_memory();
    let fences = Arc::new(Mutex::new(Vec::new()));
    let worker = Worker::builder(&stem)
        .task::<Counted>()
        .extension(FailsOnce { fences: Arc::clone(&fences) })
        .lease(Duration::from_millis(300))
        .handle_signals(false)
        .build()?
        .spawn();
    let handle = Counted::enqueue(&stem, ()).await?;
    within("the task's second run", async {
        while fences.lock().expect("not poisoned").len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(handle.wait_timeout(WAIT).await?, 2, "the delivery came back and the task ran again");
    assert_eq!(*fences.lock().expect("not poisoned"), vec![1, 2], "the second outcome has the higher fence");
    worker.stop(ShutdownMode::Warm).await?;
    assert_eq!(stem.queue_stats()?.queues().await?.iter().map(|q| q.ready + q.leased).sum::<usize>(), 0, "then acked");
    Ok(())
}
