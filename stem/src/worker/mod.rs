//! The worker: takes deliveries, runs tasks, records outcomes, never goes down
//! with a task.
//!
//! Inside, one loop leases batches of deliveries (up to the free prefetch), one
//! tokio task per delivery runs it (bounded by the concurrency; a task known to
//! finish in its first poll runs inline in the loop instead), a lease keeper
//! renews the leases of everything held, and one writer (on its own thread on a
//! multi-thread runtime) settles outcomes in batches: status writes first, then
//! acks, so nothing is acked whose outcome was not recorded.
//!
//! Features beyond running tasks (workflows, and later canvas, schedules,
//! metrics and control) plug in as [`Extension`]s: the worker knows none of
//! them by name.

mod autoscale;
mod builder;
mod control;
mod execute;
mod extension;
mod hooks;
mod lease;
mod limit;
#[cfg(feature = "metrics")]
mod metrics;
mod settle;
mod shutdown;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::builder::Config;
pub use self::builder::{Concurrency, WorkerBuilder};
pub use self::control::{ActiveTask, SCHEDULED_LIMIT, ScheduledTask, WorkerControl, WorkerStats};
pub use self::extension::{Extension, FollowUp, Recorded, Service, WorkerInfo};
pub(crate) use self::extension::{LinkedExtension, StatusListener, written};
pub use self::hooks::{HOOK_QUEUE, Hook, HookError, WorkerEvent};
use self::lease::Lease;
use self::settle::Op;
pub use self::shutdown::ShutdownMode;
use self::shutdown::{Level, escalate, reached};
use crate::backend::WorkerHeartbeat;
use crate::broker::{Delivery, Receipt, ReceiveRequest};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;
use crate::stem::Stem;
use crate::task::Registry;

/// A worker: runs the tasks of its registry from its queues.
///
/// ```no_run
/// # async fn demo(stem: stem::Stem) -> stem::Result<()> {
/// stem::Worker::builder(&stem).concurrency(16).build()?.run().await
/// # }
/// ```
#[derive(Debug)]
pub struct Worker {
    stem: Stem,
    registry: Registry,
    config: Config,
    extensions: Arc<[Arc<dyn Extension>]>,
}

/// A running worker started by [`Worker::spawn`].
#[derive(Debug)]
pub struct WorkerHandle {
    id: String,
    level: watch::Sender<Level>,
    join: JoinHandle<Result<()>>,
    finished: Arc<AtomicU64>,
}

/// What a worker shares with its parts.
struct Shared {
    stem: Stem,
    registry: Registry,
    config: Config,
    extensions: Arc<[Arc<dyn Extension>]>,
    /// The hooks, if any are registered (see `hooks.rs`).
    hooks: Option<Arc<hooks::Hooks>>,
    held: Mutex<HashMap<(TaskId, u64), Held>>,
    /// Per task name, whether its runs go inline (see `execute::start`).
    inline: BTreeMap<&'static str, AtomicBool>,
    slots: Arc<Semaphore>,
    stopping: CancellationToken,
    ops: mpsc::UnboundedSender<Op>,
    /// Permits for outcomes of inline runs not yet written (see [`BACKLOG`]).
    backlog: Arc<Semaphore>,
    /// Outcome lists the writer has emptied, for the next batches.
    spares: Arc<settle::Spares>,
    processed: AtomicU64,
    /// What the control handle sees and changes (see `control.rs`).
    control: control::ControlState,
    /// A handle on this worker, for its extensions.
    handle: WorkerControl,
    /// The shutdown level: raised by signals, the worker's handle or a
    /// control command.
    level: watch::Sender<Level>,
}

/// A delivery the worker holds, running or waiting for a slot.
struct Held {
    envelope: Arc<Envelope>,
    receipt: Receipt,
    lease: Arc<Lease>,
    cancel: CancellationToken,
    abort: CancellationToken,
    settled: Arc<AtomicBool>,
    /// Whether it has a slot and runs (else it waits for one).
    running: Arc<AtomicBool>,
}

impl Worker {
    /// Starts configuring a worker on `stem`.
    pub fn builder(stem: &Stem) -> WorkerBuilder {
        WorkerBuilder::new(stem)
    }

    pub(crate) fn new(stem: Stem, registry: Registry, config: Config, extensions: Vec<Arc<dyn Extension>>) -> Self {
        Self { stem, registry, config, extensions: extensions.into() }
    }

    /// The worker's id.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The queues it consumes.
    pub fn queues(&self) -> &[String] {
        &self.config.queues
    }

    /// The tasks it runs.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Runs until a shutdown signal (SIGTERM: warm, SIGINT: soft, a second
    /// signal: hard), then returns once every held delivery is settled.
    pub async fn run(self) -> Result<()> {
        let (tx, rx) = watch::channel(None);
        let signals = self.config.signals.then(|| tokio::spawn(shutdown::listen_for_signals(tx.clone())));
        let result = self.run_until(tx, rx, Arc::default()).await;
        if let Some(signals) = signals {
            signals.abort();
        }
        result
    }

    /// Starts the worker on the current runtime and returns a handle to stop it.
    /// Signals are not handled; call [`WorkerHandle::shutdown`].
    pub fn spawn(self) -> WorkerHandle {
        let (tx, rx) = watch::channel(None);
        let id = self.config.id.clone();
        let finished = Arc::new(AtomicU64::new(0));
        let join = tokio::spawn(self.run_until(tx.clone(), rx, Arc::clone(&finished)));
        WorkerHandle { id, level: tx, join, finished }
    }

    async fn run_until(
        self,
        level_tx: watch::Sender<Level>,
        mut level: watch::Receiver<Level>,
        finished: Arc<AtomicU64>,
    ) -> Result<()> {
        // Unbounded in type, bounded by construction: every op is sent for a
        // delivery that holds a prefetch permit until its outcome is settled
        // (`Op::Kept`), and a delivery sends at most two (its start and its
        // outcome, or a requeue; progress is written directly), so the channel
        // holds at most twice the prefetch, plus the closing op. Sending
        // never waits, which keeps the inline path free of await points.
        let (ops, ops_rx) = mpsc::unbounded_channel();
        let spares = Arc::new(settle::Spares::default());
        let extensions = Arc::clone(&self.extensions);
        let hooks = extensions.iter().find_map(|e| {
            let any: Arc<dyn std::any::Any + Send + Sync> = Arc::clone(e) as _;
            any.downcast::<hooks::Hooks>().ok().filter(|h| h.any())
        });
        let closer = hooks.as_ref().and_then(|h| h.start());
        let writer =
            settle::start_writer(self.stem.clone(), Arc::clone(&extensions), ops_rx, finished, Arc::clone(&spares));
        let concurrency = self.config.concurrency;
        let shared = Arc::new_cyclic(|me| Shared {
            slots: Arc::new(Semaphore::new(concurrency)),
            control: control::ControlState::new(concurrency),
            handle: WorkerControl::from_weak(me.clone()),
            level: level_tx,
            stem: self.stem,
            inline: self.registry.iter().map(|r| (r.name(), AtomicBool::new(false))).collect(),
            registry: self.registry,
            config: self.config,
            extensions,
            hooks,
            held: Mutex::new(HashMap::new()),
            stopping: CancellationToken::new(),
            ops,
            backlog: Arc::new(Semaphore::new(BACKLOG)),
            spares,
            processed: AtomicU64::new(0),
        });
        // The revokes made while no worker ran, before anything is delivered.
        match shared.stem.stores().revokes().live(chrono::Utc::now()).await {
            Ok(revokes) => shared.control.learn(revokes),
            Err(error) => tracing::warn!(%error, "reading the revokes failed; revoked tasks may run"),
        }
        tracing::info!(worker = %shared.config.id, queues = ?shared.config.queues, tasks = shared.registry.len(), "worker started");
        let keeper = tokio::spawn(lease::keep(Arc::clone(&shared)));
        let scaler = shared.config.scale.map(|(top, idle)| {
            tokio::spawn(autoscale::run(shared.handle.clone(), shared.config.concurrency, top, idle))
        });
        let beat = tokio::spawn(heartbeat(Arc::clone(&shared)));
        let services: Vec<JoinHandle<()>> = {
            let info = shared.info();
            shared.extensions.iter().flat_map(|e| e.services(&info)).map(tokio::spawn).collect()
        };
        let tracker = TaskTracker::new();
        shared.emit(|| WorkerEvent::Ready { worker: shared.config.id.clone(), queues: shared.config.queues.clone() });

        consume(&shared, &tracker, &mut level).await;
        shared.emit(|| WorkerEvent::Stopping { worker: shared.config.id.clone() });

        shared.stopping.cancel();
        tracker.close();
        let mut watching = level.clone();
        let soft = async {
            reached(&mut watching, ShutdownMode::Soft).await;
            shared.cancel_all();
            reached(&mut watching, ShutdownMode::Hard).await;
            shared.requeue_all();
            std::future::pending::<()>().await;
        };
        tokio::select! {
            () = tracker.wait() => {}
            () = soft => {}
        }
        beat.abort();
        if let Some(scaler) = &scaler {
            scaler.abort();
        }
        for service in &services {
            service.abort();
        }
        let _ = shared.ops.send(Op::Close);
        writer.join().await;
        // The keeper renews the leases of outcomes still being settled.
        keeper.abort();
        if let Some(closer) = closer {
            closer.close().await;
        }
        // What the dropped tasks left to do (a workflow run's release).
        shared.stem.cleaned_up(Duration::from_secs(5)).await;
        tracing::info!(worker = %shared.config.id, processed = shared.processed.load(Ordering::Relaxed), "worker stopped");
        Ok(())
    }
}

/// The most deliveries one receive asks for after a full batch that ran wholly
/// inline (see `consume`).
const INLINE_BATCH: u32 = 512;

/// The most outcomes of inline runs sent to the writer and not yet written
/// (see `consume`): a few batches, so the writer always has the next one
/// queued, and what both threads touch stays in cache.
const BACKLOG: usize = 4 * INLINE_BATCH as usize;

/// The backlog permits one batch of `max` deliveries takes.
fn backlog_share(max: usize) -> u32 {
    u32::try_from(max.min(BACKLOG)).unwrap_or(INLINE_BATCH)
}

/// Leases deliveries while there is room and no shutdown, and starts each one.
///
/// A receive asks for as many deliveries as there are free prefetch permits,
/// except after a full batch whose deliveries all ran inline (tasks that end
/// in their first poll): those end within this pass of the loop and hold
/// nothing after it, so the next receive asks for up to [`INLINE_BATCH`]. If
/// some of such a batch turn out not to run inline, the worker holds up to
/// that many deliveries beyond its prefetch until they end; the batch after
/// is bounded by the permits again.
async fn consume(shared: &Arc<Shared>, tracker: &TaskTracker, level: &mut watch::Receiver<Level>) {
    let prefetch = Arc::new(Semaphore::new(shared.config.prefetch));
    let mut failures = 0u32;
    let mut inline_streak = false;
    loop {
        let first = tokio::select! {
            () = reached(level, ShutdownMode::Warm) => return,
            permit = Arc::clone(&prefetch).acquire_owned() => match permit { Ok(p) => p, Err(_) => return },
        };
        let mut permits = first;
        let free = u32::try_from(prefetch.available_permits()).unwrap_or(u32::MAX);
        if free > 0
            && let Ok(more) = Arc::clone(&prefetch).try_acquire_many_owned(free)
        {
            permits.merge(more);
        }
        let max = if inline_streak { permits.num_permits().max(INLINE_BATCH as usize) } else { permits.num_permits() };
        // Inline runs give their prefetch permits back at once, before the
        // writer has recorded them: the writer's backlog bounds them instead,
        // so that the loop never runs far ahead of the writer.
        let backlog = tokio::select! {
            () = reached(level, ShutdownMode::Warm) => return,
            permit = Arc::clone(&shared.backlog).acquire_many_owned(backlog_share(max)) => match permit { Ok(p) => p, Err(_) => return },
        };
        let queues = shared.control.unpaused(&shared.config.queues);
        if queues.is_empty() {
            // Every queue is paused: wait for a resume.
            drop((permits, backlog));
            tokio::select! {
                () = reached(level, ShutdownMode::Warm) => return,
                () = shared.control.changed.notified() => continue,
            }
        }
        let request = ReceiveRequest {
            queues,
            max,
            lease: shared.config.lease,
            wait: Duration::from_secs(5),
            consumer: shared.config.id.clone(),
        };
        // The leases end no sooner than this, whatever the clocks say.
        let lease_ends = tokio::time::Instant::now() + request.lease;
        let batch = tokio::select! {
            () = reached(level, ShutdownMode::Warm) => return,
            // A pause or resume asks again with the new queues (a delivery the
            // abandoned receive had leased comes back when its lease ends).
            () = shared.control.changed.notified() => continue,
            batch = shared.stem.broker().receive(&request) => batch,
        };
        match batch {
            Ok(deliveries) => {
                failures = 0;
                let full = deliveries.len() >= max;
                let mut permits = execute::Permits::new(permits, shared.spares.take(deliveries.len()));
                for delivery in deliveries {
                    if shared.control.is_paused(&delivery.envelope.queue) {
                        let Delivery { envelope, receipt, .. } = delivery;
                        let _ = shared.ops.send(settle::requeue_op(&envelope, &receipt, &shared.config.id));
                        continue;
                    }
                    execute::start(shared, tracker, delivery, lease_ends, &mut permits);
                }
                permits.send_outcomes(shared, backlog);
                inline_streak = full && permits.all_inline();
            }
            Err(error) => {
                // 100 ms, doubling up to 2 s: a store that comes back is used again soon.
                failures = (failures + 1).min(5);
                let pause = Duration::from_millis(50 << failures).min(Duration::from_secs(2));
                tracing::warn!(%error, ?pause, "receiving from the broker failed; retrying");
                tokio::select! {
                    () = reached(level, ShutdownMode::Warm) => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

async fn heartbeat(shared: Arc<Shared>) {
    let c = &shared.config;
    let mut beat = WorkerHeartbeat::new(c.id.clone(), c.queues.clone(), c.concurrency);
    let mut every = tokio::time::interval(c.heartbeat);
    loop {
        every.tick().await;
        beat.at = chrono::Utc::now();
        beat.inflight = shared.held().len();
        beat.processed = shared.processed.load(Ordering::Relaxed);
        if let Err(error) = shared.stem.backend().set_heartbeat(beat.clone(), c.heartbeat * 3).await {
            tracing::warn!(%error, "storing the worker heartbeat failed");
        }
    }
}

impl Shared {
    /// Tells the hooks of the event `make` makes; made only if there are hooks.
    fn emit(&self, make: impl FnOnce() -> WorkerEvent) {
        if let Some(hooks) = &self.hooks {
            hooks.emit(make());
        }
    }

    /// The worker as its extensions see it.
    fn info(&self) -> WorkerInfo<'_> {
        WorkerInfo {
            stem: &self.stem,
            id: &self.config.id,
            queues: &self.config.queues,
            registry: &self.registry,
            control: &self.handle,
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<(TaskId, u64), Held>> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Soft shutdown: every running task is told to stop and is dropped at its
    /// next await point; each then goes back to the queue.
    fn cancel_all(&self) {
        for held in self.held().values() {
            held.cancel.cancel();
            held.abort.cancel();
        }
    }

    /// Hard shutdown: every held delivery goes back to the queue now.
    fn requeue_all(&self) {
        for held in self.held().values() {
            held.cancel.cancel();
            held.abort.cancel();
            if !held.settled.swap(true, Ordering::SeqCst) {
                let _ = self.ops.send(settle::requeue_op(&held.envelope, &held.receipt, &self.config.id));
            }
        }
    }
}

impl WorkerHandle {
    /// The worker's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many deliveries this worker has finished so far: each one's outcome
    /// (a success, a failure, a retry or a dead letter) recorded in the result
    /// backend, then the delivery settled with the broker (acked, given back or
    /// moved to the dead letter queue). A delivery whose settling failed, or
    /// whose outcome was refused because a newer delivery of its task exists, is
    /// not counted: it comes back.
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// Asks the worker to stop; a stronger mode escalates an earlier request.
    pub fn shutdown(&self, mode: ShutdownMode) {
        escalate(&self.level, mode);
    }

    /// Waits for the worker to stop.
    pub async fn join(self) -> Result<()> {
        match self.join.await {
            Ok(result) => result,
            Err(e) => Err(crate::Error::adapter("the worker task ended abnormally", e)),
        }
    }

    /// Asks the worker to stop in `mode` and waits until it has.
    pub async fn stop(self, mode: ShutdownMode) -> Result<()> {
        self.shutdown(mode);
        self.join().await
    }
}
