//! Hooks: what a worker tells the code that wants to hear of its tasks and
//! of itself (metrics, audit logs, alerts), as [`WorkerEvent`]s.
//!
//! How they are run is on [`Hook`].

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::extension::{Extension, FollowUp, Recorded};
use crate::backend::{TaskState, TaskStatus};
use crate::envelope::Envelope;
use crate::stem::Stem;
use crate::workflow::{RunId, RunStatus};

/// How many events wait for the hooks at most before the worker drops new ones.
pub const HOOK_QUEUE: usize = 65_536;

/// Something that happened in a worker.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WorkerEvent {
    /// The worker consumes its queues from now on.
    Ready {
        /// Its id.
        worker: String,
        /// The queues it consumes.
        queues: Vec<String>,
    },
    /// The worker was asked to stop: it takes no new deliveries.
    Stopping {
        /// Its id.
        worker: String,
    },
    /// A delivery of a task the worker runs arrived.
    Received {
        /// The delivery's message.
        envelope: Arc<Envelope>,
    },
    /// The task's body is about to run.
    Started {
        /// The delivery's message.
        envelope: Arc<Envelope>,
    },
    /// The task's body returned (or panicked, or hit its time limit).
    Returned {
        /// The delivery's message.
        envelope: Arc<Envelope>,
        /// How long it ran.
        elapsed: Duration,
    },
    /// The task succeeded; its result is recorded.
    Succeeded {
        /// The delivery's message.
        envelope: Arc<Envelope>,
        /// The status recorded.
        status: TaskStatus,
    },
    /// The attempt failed and another is scheduled.
    Retried {
        /// The delivery's message.
        envelope: Arc<Envelope>,
        /// The status recorded (its error, `meta.retry_delay_ms`).
        status: TaskStatus,
    },
    /// The task failed for good (no retry left, or an error that allows none).
    Failed {
        /// The delivery's message.
        envelope: Arc<Envelope>,
        /// The status recorded (its error).
        status: TaskStatus,
    },
    /// The delivery went to the dead letter queue.
    DeadLettered {
        /// The delivery's message.
        envelope: Arc<Envelope>,
        /// Why.
        reason: String,
    },
    /// The lease of a running task was renewed.
    LeaseRenewed {
        /// The delivery's message.
        envelope: Arc<Envelope>,
    },
    /// A live workflow step ended (a replayed one is not run, and not heard of).
    StepEnded {
        /// The run.
        run: RunId,
        /// The workflow's name.
        workflow: String,
        /// The step's id (`charge_card#0`).
        step: String,
        /// How long it ran, its retries included.
        elapsed: Duration,
        /// Whether it failed (its error is recorded as its outcome).
        failed: bool,
    },
    /// A workflow run ended on this worker: completed, failed or cancelled.
    RunEnded {
        /// The run.
        run: RunId,
        /// The workflow's name.
        workflow: String,
        /// How it ended.
        status: RunStatus,
    },
}

impl WorkerEvent {
    /// The event's name: `worker.ready`, `task.received`, `task.succeeded` ...
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ready { .. } => "worker.ready",
            Self::Stopping { .. } => "worker.stopping",
            Self::Received { .. } => "task.received",
            Self::Started { .. } => "task.started",
            Self::Returned { .. } => "task.returned",
            Self::Succeeded { .. } => "task.succeeded",
            Self::Retried { .. } => "task.retried",
            Self::Failed { .. } => "task.failed",
            Self::DeadLettered { .. } => "task.dead_lettered",
            Self::LeaseRenewed { .. } => "task.lease_renewed",
            Self::StepEnded { .. } => "workflow.step_ended",
            Self::RunEnded { .. } => "workflow.run_ended",
        }
    }

    /// The message of the delivery it is about; `None` for a worker's or a
    /// workflow's event.
    pub fn envelope(&self) -> Option<&Arc<Envelope>> {
        match self {
            Self::Ready { .. } | Self::Stopping { .. } | Self::StepEnded { .. } | Self::RunEnded { .. } => None,
            Self::Received { envelope }
            | Self::Started { envelope }
            | Self::Returned { envelope, .. }
            | Self::Succeeded { envelope, .. }
            | Self::Retried { envelope, .. }
            | Self::Failed { envelope, .. }
            | Self::DeadLettered { envelope, .. }
            | Self::LeaseRenewed { envelope } => Some(envelope),
        }
    }
}

/// What a hook's error is.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// Code that hears a worker's events. How hooks are run:
///
/// - A hook is registered on the worker's builder
///   ([`WorkerBuilder::hook`](super::WorkerBuilder::hook), or
///   [`on_event`](super::WorkerBuilder::on_event) for a closure). Hooks are
///   async and hear every event, in the order the worker emits them, one
///   event at a time, all hooks of one event before the next event.
/// - They run off the tasks' path, in a task of their own: a slow hook never
///   slows a task down. The worker queues events for them (up to
///   [`HOOK_QUEUE`]); past that it drops events rather than hold tasks up,
///   and says so in the log (at warn, on the first drop and every 1,024th).
/// - A hook that returns an error or panics is logged at warn and its event
///   goes on to the next hook; no task and no worker fails because of one.
/// - A worker that stops hears its own [`Stopping`](WorkerEvent::Stopping),
///   then lets its hooks finish the events queued before it returns (five
///   seconds at most).
///
/// The events of one delivery come in this order: `Received`, `Started`,
/// `Returned` (the task's body returned, whatever it returned), then one of
/// `Succeeded`, `Retried` or `Failed` once the outcome is recorded in the
/// result backend; a `Failed` task's delivery went to the dead letter queue,
/// and `DeadLettered` follows it. A delivery the worker refuses before running
/// it (an unknown task, arguments that do not decode, a newer envelope) gets
/// `Failed` and `DeadLettered` only. `LeaseRenewed` comes each time the
/// worker renews a delivery's lease, from `Started` until the outcome is
/// recorded (the lease is kept until then). A workflow run's execution is a
/// delivery like any other; within it each live step ends with `StepEnded`,
/// and the execution that ends the run says `RunEnded`.
///
/// ```
/// use stem::worker::{Hook, HookError, WorkerEvent};
///
/// #[derive(Debug)]
/// struct Audit;
///
/// #[async_trait::async_trait]
/// impl Hook for Audit {
///     async fn on(&self, event: &WorkerEvent) -> Result<(), HookError> {
///         if let WorkerEvent::Failed { envelope, status } = event {
///             eprintln!("{} {} failed: {:?}", envelope.task, envelope.id, status.error);
///         }
///         Ok(())
///     }
/// }
///
/// # fn main() -> stem::Result<()> {
/// let stem = stem::Stem::in_memory();
/// let worker = stem::Worker::builder(&stem).hook(Audit).build()?;
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Hook: Send + Sync + fmt::Debug + 'static {
    /// Hears `event`. An error is logged; it changes nothing else.
    async fn on(&self, event: &WorkerEvent) -> Result<(), HookError>;
}

/// What hears every event synchronously, on the worker's own path, before
/// the hooks: for counting (metrics), never for anything slow. Internal: a
/// user's code is a [`Hook`], run off the tasks' path.
pub(super) trait Observer: Send + Sync + fmt::Debug + 'static {
    /// Hears `event`, at once.
    fn observe(&self, event: &WorkerEvent);
}

/// A closure as a hook (see [`WorkerBuilder::on_event`](super::WorkerBuilder::on_event)).
pub(super) struct FnHook<F>(pub(super) F);

impl<F> fmt::Debug for FnHook<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnHook")
    }
}

#[async_trait]
impl<F, Fut> Hook for FnHook<F>
where
    F: Fn(WorkerEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    async fn on(&self, event: &WorkerEvent) -> Result<(), HookError> {
        (self.0)(event.clone()).await;
        Ok(())
    }
}

/// A message to the hooks' task. Events travel inline (no allocation each);
/// the one `Close` of a worker run costs its size, which is nothing.
#[allow(clippy::large_enum_variant)]
enum Message {
    Event(WorkerEvent),
    Close,
}

/// The worker's hooks and the queue of events on their way to them: an
/// extension, so that it hears recorded outcomes as other extensions do, and
/// what the worker emits its other events through.
#[derive(Debug, Default)]
pub(super) struct Hooks {
    hooks: Vec<Arc<dyn Hook>>,
    observers: Vec<Arc<dyn Observer>>,
    tx: OnceLock<mpsc::Sender<Message>>,
    dropped: AtomicU64,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event(event) => f.write_str(event.name()),
            Self::Close => f.write_str("close"),
        }
    }
}

impl Hooks {
    /// Adds a hook.
    pub(super) fn add(&mut self, hook: Arc<dyn Hook>) {
        self.hooks.push(hook);
    }

    /// Adds an observer.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) fn observe(&mut self, observer: Arc<dyn Observer>) {
        self.observers.push(observer);
    }

    /// Whether any hook or observer is registered (the worker emits nothing
    /// otherwise).
    pub(super) fn any(&self) -> bool {
        !self.hooks.is_empty() || !self.observers.is_empty()
    }

    /// Starts the task that runs the hooks (a worker runs once); `None`
    /// without hooks.
    pub(super) fn start(&self) -> Option<Closer> {
        if self.hooks.is_empty() {
            return None;
        }
        let (tx, rx) = mpsc::channel(HOOK_QUEUE);
        self.tx.set(tx.clone()).ok()?;
        let task = tokio::spawn(run(self.hooks.clone(), rx));
        Some(Closer { tx, task })
    }

    /// Queues `event` for the hooks, unless the queue is full: then the
    /// event is dropped and counted.
    pub(super) fn emit(&self, event: WorkerEvent) {
        for observer in &self.observers {
            observer.observe(&event);
        }
        let Some(tx) = self.tx.get() else { return };
        if let Err(mpsc::error::TrySendError::Full(Message::Event(event))) = tx.try_send(Message::Event(event)) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n % 1024 == 1 {
                tracing::warn!(event = event.name(), dropped = n, "the worker's hooks fall behind; events are dropped");
            }
        }
    }
}

/// Ends a worker run's hooks.
#[derive(Debug)]
pub(super) struct Closer {
    tx: mpsc::Sender<Message>,
    task: tokio::task::JoinHandle<()>,
}

impl Closer {
    /// Lets the hooks hear the events queued so far, five seconds at most.
    pub(super) async fn close(self) {
        let _ = self.tx.send(Message::Close).await;
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
            tracing::warn!("the worker's hooks did not finish within 5 s; their last events are dropped");
            task.abort();
        }
    }
}

/// Runs each event past every hook, in order, until closed.
async fn run(hooks: Vec<Arc<dyn Hook>>, mut rx: mpsc::Receiver<Message>) {
    while let Some(Message::Event(event)) = rx.recv().await {
        for hook in &hooks {
            match AssertUnwindSafe(hook.on(&event)).catch_unwind().await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(event = event.name(), ?hook, %error, "a hook failed"),
                Err(panic) => {
                    let message = crate::panic::message(panic.as_ref());
                    tracing::warn!(event = event.name(), ?hook, panic = %message, "a hook panicked");
                }
            }
        }
    }
}

/// The hooks hear of recorded outcomes as the worker's other extensions do.
impl Extension for Hooks {
    fn watches(&self, _envelope: &Envelope, status: &TaskStatus) -> bool {
        self.any() && matches!(status.state, TaskState::Succeeded | TaskState::Retrying | TaskState::Failed)
    }

    fn recorded(&self, _stem: &Stem, outcomes: Vec<Recorded>) -> Option<FollowUp> {
        for Recorded { envelope, status, .. } in outcomes {
            match status.state {
                TaskState::Succeeded => self.emit(WorkerEvent::Succeeded { envelope, status }),
                TaskState::Retrying => self.emit(WorkerEvent::Retried { envelope, status }),
                TaskState::Failed => {
                    let reason = status.error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
                    self.emit(WorkerEvent::Failed { envelope: Arc::clone(&envelope), status });
                    self.emit(WorkerEvent::DeadLettered { envelope, reason });
                }
                _ => {}
            }
        }
        None
    }
}
