//! [`TaskContext`]: what a running task knows about itself and can do, and
//! the narrow handle ([`WorkerLink`]) through which it reaches the worker.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{Signature, Task, TaskHandle};
use crate::backend::{Progress, TaskState, TaskStatus};
use crate::broker::Receipt;
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;
use crate::stem::Stem;

/// The worker as a running task's context reaches it: the context records
/// statuses in order with the worker's own writes, and keeps the worker's view
/// of the lease up to date when the task renews it. Whoever runs the task
/// implements it; the context knows nothing else of the worker.
pub(crate) trait WorkerLink: Send + Sync + 'static {
    /// Records `status` in order with the worker's own writes; the future
    /// ends once it is written.
    fn record(&self, status: TaskStatus) -> BoxFuture<'static, Result<()>>;

    /// How long one renewal of the task's lease lasts.
    fn lease_length(&self) -> Duration;

    /// Notes that the lease was renewed for `length` by a call made at
    /// `asked` (on this machine's monotonic clock: the lease ends no sooner
    /// than `asked + length`, whatever the store's clock says), and that
    /// renewals last `length` from now on.
    fn lease_renewed(&self, asked: tokio::time::Instant, length: Duration);

    /// Tells the worker's hooks of `event` (a workflow step's end).
    fn emit(&self, event: crate::worker::WorkerEvent) {
        let _ = event;
    }
}

/// What a running task knows about itself and can do: report progress, keep its
/// lease, enqueue follow-up tasks, and notice limits and cancellation.
///
/// Take it as the first parameter of a `#[stem::task]` fn. Cheap to clone.
#[derive(Clone)]
pub struct TaskContext {
    inner: Arc<Inner>,
}

struct Inner {
    envelope: Arc<Envelope>,
    stem: Stem,
    receipt: Receipt,
    /// The worker running the task.
    link: Arc<dyn WorkerLink>,
    cancel: LazyToken,
    soft_limit: LazyToken,
    /// Set once the task has written a status of its own (progress), so the
    /// worker's later "started" write does not overwrite it.
    reported: AtomicBool,
}

/// A cancellation token made on first use: most runs end without anyone
/// asking whether they were cancelled, and then no token is ever made.
#[derive(Default)]
struct LazyToken(OnceLock<CancellationToken>);

impl LazyToken {
    fn get(&self) -> &CancellationToken {
        self.0.get_or_init(CancellationToken::new)
    }

    fn is_cancelled(&self) -> bool {
        self.0.get().is_some_and(CancellationToken::is_cancelled)
    }
}

impl From<Option<CancellationToken>> for LazyToken {
    fn from(token: Option<CancellationToken>) -> Self {
        Self(token.map(OnceLock::from).unwrap_or_default())
    }
}

impl TaskContext {
    pub(crate) fn new(
        envelope: Arc<Envelope>,
        stem: Stem,
        receipt: Receipt,
        link: Arc<dyn WorkerLink>,
        cancel: Option<CancellationToken>,
    ) -> Self {
        let (cancel, soft_limit) = (LazyToken::from(cancel), LazyToken::default());
        let reported = AtomicBool::new(false);
        Self { inner: Arc::new(Inner { envelope, stem, receipt, link, cancel, soft_limit, reported }) }
    }

    /// The token the worker cancels to ask the task to stop.
    pub(crate) fn cancel_token(&self) -> CancellationToken {
        self.inner.cancel.get().clone()
    }

    /// The token the worker cancels when the soft time limit passes.
    pub(crate) fn soft_limit_token(&self) -> CancellationToken {
        self.inner.soft_limit.get().clone()
    }

    /// Tells the worker's hooks of `event`.
    pub(crate) fn emit(&self, event: crate::worker::WorkerEvent) {
        self.inner.link.emit(event);
    }

    /// Whether the task has written a status of its own.
    pub(crate) fn reported(&self) -> bool {
        self.inner.reported.load(Ordering::Acquire)
    }

    /// The task id.
    pub fn id(&self) -> TaskId {
        self.inner.envelope.id
    }

    /// The task name.
    pub fn task_name(&self) -> &str {
        &self.inner.envelope.task
    }

    /// The queue it came from.
    pub fn queue(&self) -> &str {
        &self.inner.envelope.queue
    }

    /// The attempt: 0 for the first run, one more per retry.
    pub fn attempt(&self) -> u32 {
        self.inner.envelope.attempt
    }

    /// Retries allowed after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.inner.envelope.max_retries
    }

    /// The headers it was enqueued with.
    pub fn headers(&self) -> &BTreeMap<String, String> {
        &self.inner.envelope.headers
    }

    /// The metadata it was enqueued with.
    pub fn meta(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.inner.envelope.meta
    }

    /// The whole envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.inner.envelope
    }

    /// The [`Stem`] the worker runs on, for anything the context does not wrap.
    pub fn stem(&self) -> &Stem {
        &self.inner.stem
    }

    /// Records progress (0.0 to 1.0) in the result backend; returns once written.
    pub async fn progress(&self, fraction: f64) -> Result<()> {
        self.record_progress(Progress { fraction: fraction.clamp(0.0, 1.0), data: None }).await
    }

    /// Records progress with task-defined detail.
    pub async fn progress_with(&self, fraction: f64, data: impl Serialize) -> Result<()> {
        let data = serde_json::to_value(data).map_err(|e| crate::codec::codec_error("json", e))?;
        self.record_progress(Progress { fraction: fraction.clamp(0.0, 1.0), data: Some(data) }).await
    }

    async fn record_progress(&self, progress: Progress) -> Result<()> {
        let e = &self.inner.envelope;
        let mut status = TaskStatus::new(e.id, e.task.clone(), e.queue.clone(), TaskState::Started);
        status.attempt = e.attempt;
        status.fence = self.inner.receipt.token;
        status.progress = Some(progress);
        self.inner.reported.store(true, Ordering::Release);
        self.inner.link.record(status).await
    }

    /// Renews the lease now for its usual length. The worker renews leases on its
    /// own; call this in a long stretch without awaits if you want to be sure.
    pub async fn heartbeat(&self) -> Result<()> {
        self.extend_lease(self.inner.link.lease_length()).await
    }

    /// Extends the lease to `by` from now, and keeps renewing it by `by` from
    /// then on. Fails with [`LeaseLost`](crate::Error::LeaseLost) if it is gone.
    pub async fn extend_lease(&self, by: Duration) -> Result<()> {
        let asked = tokio::time::Instant::now();
        self.inner.stem.broker().extend_lease(&self.inner.receipt, by).await?;
        self.inner.link.lease_renewed(asked, by);
        Ok(())
    }

    /// Enqueues a follow-up task, recording this task as its parent.
    pub async fn enqueue<T: Task>(&self, signature: Signature<T>) -> Result<TaskHandle<T::Output>> {
        let e = &self.inner.envelope;
        signature.with_parent(e.id, e.root_id.unwrap_or(e.id)).enqueue(&self.inner.stem).await
    }

    /// Whether the worker asked this task to stop (shutdown or revoke).
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Completes when the worker asks this task to stop.
    pub async fn cancelled(&self) {
        self.inner.cancel.get().cancelled().await;
    }

    /// Whether the soft time limit has passed.
    pub fn soft_limit_reached(&self) -> bool {
        self.inner.soft_limit.is_cancelled()
    }

    /// Completes when the soft time limit passes (never, without one).
    pub async fn soft_limit(&self) {
        self.inner.soft_limit.get().cancelled().await;
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("id", &self.id())
            .field("task", &self.task_name())
            .field("attempt", &self.attempt())
            .finish_non_exhaustive()
    }
}
