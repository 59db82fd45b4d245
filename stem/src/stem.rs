//! [`Stem`]: the handle producers and workers share.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;

use crate::backend::{ResultBackend, TaskStatus};
use crate::broker::{Broker, DeadLetters, QueueStats, ReplayOptions, ReplayResult};
use crate::clock::{Clock, Skew, SystemClock};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::id::TaskId;
use crate::lock::LockStore;
use crate::stores::Stores;
use crate::task::unique;
use crate::workflow::WorkflowStore;

/// The entry point: the [`Stores`] and the clock. Cheap to clone.
///
/// Producers enqueue through it (`SendEmail::enqueue(&stem, args)`); workers are
/// built from it ([`Worker::builder`](crate::Worker::builder)). Make one from an
/// adapter's stores (`stem_adapters::connect(url)`, or `Stem::new(store.stores())`),
/// or keep everything in this process with [`Stem::in_memory`].
#[derive(Clone)]
pub struct Stem {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    stores: Stores,
    clock: Arc<dyn Clock>,
    /// How far the workflow store's clock is ahead of `clock`.
    skew: Arc<Skew>,
    /// The largest encoded arguments or result accepted, in bytes.
    max_payload: usize,
    /// The keys envelopes are signed and verified with, if any.
    signing: Option<Arc<crate::signing::Signing>>,
    /// Where new calls go, if a routing file says.
    routing: Option<Arc<crate::routing::Routing>>,
    /// Whether the statuses of what it enqueues keep their arguments.
    keep_args: bool,
    /// Work that must outlive what started it (a workflow run's lease,
    /// released when a stopping worker drops the run's execution); a worker
    /// that stops waits for it.
    cleanup: tokio_util::task::TaskTracker,
}

impl Stem {
    /// Stem over `stores`, reading the system clock.
    pub fn new(stores: Stores) -> Self {
        let cleanup = tokio_util::task::TaskTracker::new();
        Self {
            inner: Arc::new(Inner {
                stores,
                clock: Arc::new(SystemClock),
                skew: Arc::default(),
                max_payload: DEFAULT_MAX_PAYLOAD,
                signing: None,
                routing: None,
                keep_args: false,
                cleanup,
            }),
        }
    }

    /// Everything in this process's memory ([`Stores::in_memory`]): for
    /// tests, docs and one-process apps. Nothing survives the process.
    pub fn in_memory() -> Self {
        Self::new(Stores::in_memory())
    }

    /// Runs `work` in a task of its own that a stopping worker waits for
    /// (see [`cleaned_up`](Self::cleaned_up)).
    pub(crate) fn spawn_cleanup(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.inner.cleanup.spawn(work);
    }

    /// Waits, `within` at most, until the work of
    /// [`spawn_cleanup`](Self::spawn_cleanup) is done.
    pub(crate) async fn cleaned_up(&self, within: std::time::Duration) {
        self.inner.cleanup.close();
        let _ = tokio::time::timeout(within, self.inner.cleanup.wait()).await;
        self.inner.cleanup.reopen();
    }

    /// The same Stem with workflows reading the time from `clock` (a
    /// [`FakeClock`](crate::clock::FakeClock) in tests).
    #[must_use]
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Self {
        let mut inner = (*self.inner).clone();
        inner.clock = clock;
        inner.skew = Arc::default();
        Self { inner: Arc::new(inner) }
    }

    /// The same Stem with `bytes` as the largest encoded arguments an enqueue
    /// accepts and the largest result a worker records (default
    /// [`DEFAULT_MAX_PAYLOAD`]). A larger enqueue fails with
    /// [`Error::PayloadTooLarge`] and stores nothing; a larger result fails
    /// its task (kind `payload_too_large`, not retried). The stores' own hard
    /// limits are far above the default: 512 MiB for a Redis string, about
    /// 1 GiB for a Postgres `text` and a SQLite value (`SQLITE_MAX_LENGTH`),
    /// none but memory in memory (`docs/adapters.md` lists them). The
    /// Postgres adapter's `enqueue_in` applies it too (see [`prepare`](Self::prepare)).
    #[must_use]
    pub fn with_max_payload(&self, bytes: usize) -> Self {
        let mut inner = (*self.inner).clone();
        inner.max_payload = bytes;
        Self { inner: Arc::new(inner) }
    }

    /// The same Stem recording, in every status of the tasks it enqueues
    /// (queued, started, succeeded ...), their arguments, under the meta key
    /// [`ARGS_META`](crate::backend::ARGS_META), so that front ends such as
    /// the dashboard can show them after the message has gone: Celery's
    /// `result_extended`. Off by default, because it writes the arguments
    /// to the result backend a second time. The envelopes carry the choice
    /// (meta [`KEEP_ARGS_META`](crate::backend::KEEP_ARGS_META)), so workers
    /// need no setting of their own.
    #[must_use]
    pub fn with_kept_args(&self, keep: bool) -> Self {
        let mut inner = (*self.inner).clone();
        inner.keep_args = keep;
        Self { inner: Arc::new(inner) }
    }

    /// Marks `envelopes` to keep their arguments in their statuses, if this
    /// Stem keeps them (see [`with_kept_args`](Self::with_kept_args)).
    fn mark_kept_args(&self, envelopes: &mut [Envelope]) {
        if self.inner.keep_args {
            for envelope in envelopes {
                envelope.meta.insert(crate::backend::KEEP_ARGS_META.to_owned(), serde_json::Value::Bool(true));
            }
        }
    }

    /// The largest encoded arguments or result accepted, in bytes.
    pub fn max_payload(&self) -> usize {
        self.inner.max_payload
    }

    /// The same Stem signing what it publishes with `signing`'s active key
    /// (if it has one), and its workers running only envelopes whose
    /// signature one of `signing`'s keys verifies (see [`crate::signing`]).
    #[must_use]
    pub fn with_signing(&self, signing: crate::signing::Signing) -> Self {
        let mut inner = (*self.inner).clone();
        inner.signing = Some(Arc::new(signing));
        Self { inner: Arc::new(inner) }
    }

    /// The keys envelopes are signed and verified with, if any.
    pub fn signing(&self) -> Option<&crate::signing::Signing> {
        self.inner.signing.as_deref()
    }

    /// The same Stem publishing new calls where `routing` says: queues by
    /// task name pattern, aliases, default priorities and ranges, broadcasts
    /// (see [`crate::routing`]). A call routed to a broadcast is published
    /// once per member queue, and its enqueue returns the first copy's
    /// handle. Workers built from it resolve aliases among their queues and,
    /// given none, consume their tasks' routed queues too.
    #[must_use]
    pub fn with_routing(&self, routing: crate::routing::Routing) -> Self {
        let mut inner = (*self.inner).clone();
        inner.routing = Some(Arc::new(routing));
        Self { inner: Arc::new(inner) }
    }

    /// The routing new calls follow, if any.
    pub fn routing(&self) -> Option<&crate::routing::Routing> {
        self.inner.routing.as_deref()
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        self.inner.stores.broker()
    }

    /// The result backend.
    pub fn backend(&self) -> &Arc<dyn ResultBackend> {
        self.inner.stores.backend()
    }

    /// The Beat schedules (see [`crate::beat`]).
    pub fn schedules(&self) -> &Arc<dyn crate::beat::ScheduleStore> {
        self.inner.stores.schedules()
    }

    /// The lock store.
    pub fn locks(&self) -> &Arc<dyn LockStore> {
        self.inner.stores.locks()
    }

    /// The workflow store.
    pub fn workflows(&self) -> &Arc<dyn WorkflowStore> {
        self.inner.stores.workflows()
    }

    /// The clock workflows read, as it reads; [`now`](Self::now) is what they
    /// use.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The time on the workflow store's clock, as this process reads it: the
    /// clock's reading moved by the difference last measured against the store
    /// ([`sync_clock`](Self::sync_clock)); the clock's own reading until then.
    /// Workflow leases, timers, deadlines and `wf.now()` read it, so that
    /// workers whose clocks disagree still agree on when a lease ends.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.skew.apply(self.inner.clock.now())
    }

    /// Measures how far the workflow store's clock is from this Stem's clock
    /// (one read of [`WorkflowStore::now`]; differences under 250 ms count as
    /// none) and moves [`now`](Self::now) by it from then on; returns it (the
    /// store's time minus the clock's). A worker measures when it starts and
    /// then once a minute (once only on a clock that jumps, such as a fake
    /// one: what it is told to advance is kept); a producer before its first
    /// workflow write. A difference is logged once, at warn level.
    pub async fn sync_clock(&self) -> Result<chrono::TimeDelta> {
        let before = self.inner.clock.now();
        let store = self.workflows().now().await?;
        let after = self.inner.clock.now();
        let (skew, news) = self.inner.skew.record(before, store, after);
        if news && skew.is_zero() {
            tracing::info!("this process's clock agrees with the workflow store's again");
        } else if news {
            tracing::warn!(
                skew_ms = skew.num_milliseconds(),
                "this process's clock differs from the workflow store's; workflow times follow the store's"
            );
        }
        Ok(skew)
    }

    /// Whether the difference has been measured once.
    pub(crate) fn clock_synced(&self) -> bool {
        self.inner.skew.is_measured()
    }

    /// [`now`](Self::now), measuring the difference first if it never was.
    pub(crate) async fn synced_now(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        if !self.clock_synced() {
            self.sync_clock().await?;
        }
        Ok(self.now())
    }

    /// The broker's dead letter administration; an error if it has none.
    pub fn dead_letters(&self) -> Result<&dyn DeadLetters> {
        self.broker().dead_letters().ok_or(Error::Unsupported("dead letter administration"))
    }

    /// The broker's queue statistics; an error if it keeps none.
    pub fn queue_stats(&self) -> Result<&dyn QueueStats> {
        self.broker().stats().ok_or(Error::Unsupported("queue statistics"))
    }

    /// Publishes a prepared envelope and records it as queued (a
    /// `stem.enqueue` span; see `trace.rs` for the trace context it writes).
    ///
    /// A unique call (see [`crate::task::unique`]) that another task holds
    /// the claim of is not published: the holder's id is returned.
    pub async fn enqueue_envelope(&self, mut envelope: Envelope) -> Result<TaskId> {
        let unique = envelope.headers.contains_key(unique::UNIQUE_HEADER);
        if unique && let Some(holder) = unique::claim(self.locks().as_ref(), &envelope).await? {
            return Ok(holder);
        }
        let span = crate::trace::enqueue_span(std::slice::from_ref(&envelope));
        crate::trace::inject(&span, std::slice::from_mut(&mut envelope));
        let claimed = unique.then(|| envelope.clone());
        let published = self.publish_one(envelope).instrument(span).await;
        if let (Err(_), Some(claimed)) = (&published, claimed) {
            let _ = unique::release(self.locks().as_ref(), &claimed).await;
        }
        published
    }

    async fn publish_one(&self, mut envelope: Envelope) -> Result<TaskId> {
        if let Some(routing) = self.routing() {
            let (first, copies) = routing.apply(envelope)?;
            if !copies.is_empty() {
                // A broadcast: its copies in one batch, the handle the first's.
                let id = first.id;
                return self.publish_routed([first].into_iter().chain(copies).collect()).await.map(|_| id);
            }
            envelope = first;
        }
        self.finish(std::slice::from_mut(&mut envelope))?;
        let id = envelope.id;
        if let Some(recorded) = self.inner.stores.publish_recorded() {
            recorded.publish_recorded(vec![envelope]).await?;
            return Ok(id);
        }
        if envelope.ignores_result() {
            self.broker().publish(envelope).await?;
            return Ok(id);
        }
        let status = TaskStatus::queued(&envelope);
        let (published, recorded) = tokio::join!(self.broker().publish(envelope), self.backend().set(status));
        self.settle_enqueue(&[id], published, recorded.map(drop)).await?;
        Ok(id)
    }

    /// Publishes prepared envelopes in one batch and records them as queued:
    /// one publish and one write of their queued records for all of them
    /// (one operation where the broker and backend are one store that can do
    /// it; see [`Stores::with_publish_recorded`]).
    ///
    /// Unique calls are claimed one by one first; those another task holds
    /// are left out, the holder's id in their place.
    pub async fn enqueue_envelopes(&self, mut envelopes: Vec<Envelope>) -> Result<Vec<TaskId>> {
        if envelopes.iter().any(|e| e.headers.contains_key(unique::UNIQUE_HEADER)) {
            return self.enqueue_unique(envelopes).await;
        }
        let span = crate::trace::enqueue_span(&envelopes);
        crate::trace::inject(&span, &mut envelopes);
        self.publish_many(envelopes).instrument(span).await
    }

    /// [`enqueue_envelopes`](Self::enqueue_envelopes) of a batch with unique calls.
    async fn enqueue_unique(&self, envelopes: Vec<Envelope>) -> Result<Vec<TaskId>> {
        let mut ids = Vec::with_capacity(envelopes.len());
        let mut send = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            match unique::claim(self.locks().as_ref(), &envelope).await? {
                Some(holder) => ids.push(holder),
                None => {
                    ids.push(envelope.id);
                    send.push(envelope);
                }
            }
        }
        if send.is_empty() {
            return Ok(ids);
        }
        let claimed: Vec<Envelope> =
            send.iter().filter(|e| e.headers.contains_key(unique::UNIQUE_HEADER)).cloned().collect();
        let span = crate::trace::enqueue_span(&send);
        crate::trace::inject(&span, &mut send);
        if let Err(error) = self.publish_many(send).instrument(span).await {
            for envelope in &claimed {
                let _ = unique::release(self.locks().as_ref(), envelope).await;
            }
            return Err(error);
        }
        Ok(ids)
    }

    /// Routes new calls (if this Stem has routing) and publishes them; the
    /// ids are one per envelope given (a broadcast's first copy's).
    async fn publish_many(&self, envelopes: Vec<Envelope>) -> Result<Vec<TaskId>> {
        let Some(routing) = self.routing() else { return self.publish_routed(envelopes).await };
        let ids: Vec<TaskId> = envelopes.iter().map(|e| e.id).collect();
        self.publish_routed(routing.apply_all(envelopes)?).await?;
        Ok(ids)
    }

    async fn publish_routed(&self, mut envelopes: Vec<Envelope>) -> Result<Vec<TaskId>> {
        self.finish(&mut envelopes)?;
        let ids: Vec<TaskId> = envelopes.iter().map(|e| e.id).collect();
        if let Some(recorded) = self.inner.stores.publish_recorded() {
            recorded.publish_recorded(envelopes).await?;
            return Ok(ids);
        }
        let mut statuses: Vec<TaskStatus> =
            envelopes.iter().filter(|e| !e.ignores_result()).map(TaskStatus::queued).collect();
        let recorded_ids: Vec<TaskId> = statuses.iter().map(|s| s.id).collect();
        let (published, recorded) = if envelopes.len() >= SPAWN_PUBLISH_FROM {
            // A large batch publishes from a task of its own, so that encoding the
            // messages and encoding the statuses use two threads where there are two.
            let broker = Arc::clone(self.broker());
            let publish = tokio::spawn(async move { broker.publish_batch(envelopes).await });
            let recorded = self.backend().set_batch(&mut statuses).await;
            let published = publish.await.unwrap_or_else(|e| Err(Error::adapter("the publish task failed", e)));
            (published, recorded)
        } else {
            tokio::join!(self.broker().publish_batch(envelopes), self.backend().set_batch(&mut statuses))
        };
        self.settle_enqueue(&recorded_ids, published, recorded.map(drop)).await?;
        Ok(ids)
    }

    /// What an enqueue of `envelope` through this Stem would store, for a
    /// producer that stores it by other means (the Postgres adapter's
    /// `enqueue_in`, inside the caller's transaction): routed if this Stem
    /// has routing (a broadcast gives one envelope per member queue, the
    /// call's own id first), each queue name checked, its arguments held to
    /// the payload limit ([`Error::PayloadTooLarge`] otherwise), marked to
    /// keep its arguments if this Stem keeps them, and signed if it signs.
    ///
    /// No unique claim is taken and nothing is published or recorded.
    pub fn prepare(&self, envelope: Envelope) -> Result<Vec<Envelope>> {
        let mut envelopes = match self.routing() {
            Some(routing) => {
                let (first, copies) = routing.apply(envelope)?;
                [first].into_iter().chain(copies).collect()
            }
            None => vec![envelope],
        };
        self.finish(&mut envelopes)?;
        Ok(envelopes)
    }

    /// The last steps before routed `envelopes` are stored: their queues
    /// and sizes checked, kept arguments marked, signatures added.
    fn finish(&self, envelopes: &mut [Envelope]) -> Result<()> {
        envelopes.iter().try_for_each(|e| crate::queue::check(&e.queue).and_then(|()| self.check_payload(e)))?;
        self.mark_kept_args(envelopes);
        self.sign(envelopes)
    }

    /// Signs `envelopes`, if this Stem signs.
    fn sign(&self, envelopes: &mut [Envelope]) -> Result<()> {
        match self.signing() {
            Some(signing) if signing.signs() => envelopes.iter_mut().try_for_each(|e| signing.sign(e)),
            _ => Ok(()),
        }
    }

    /// Refuses an envelope whose arguments are over the payload limit.
    fn check_payload(&self, envelope: &Envelope) -> Result<()> {
        let (size, limit) = (envelope.args.bytes().len(), self.inner.max_payload);
        if size > limit {
            return Err(Error::PayloadTooLarge { task: envelope.task.clone(), size, limit });
        }
        Ok(())
    }

    /// The publish and the queued record went out together (a worker's write
    /// wins over the record whichever lands first). If the publish failed, a
    /// record that was written is forgotten (best effort), so that no task
    /// looks queued that never was.
    async fn settle_enqueue(&self, ids: &[TaskId], published: Result<()>, recorded: Result<()>) -> Result<()> {
        if let Err(error) = published {
            if recorded.is_ok() {
                for id in ids {
                    let _ = self.backend().expire(*id, std::time::Duration::from_millis(1)).await;
                }
            }
            return Err(error);
        }
        recorded
    }

    /// Puts dead letters of `queue` back on it (see
    /// [`DeadLetters::replay_dead_letters`]) and marks each replayed task
    /// queued again, so that handles waiting on them wait for the new run.
    pub async fn replay_dead_letters(&self, queue: &str, options: &ReplayOptions) -> Result<ReplayResult> {
        let result = self.dead_letters()?.replay_dead_letters(queue, options).await?;
        if !result.dry_run {
            let now = chrono::Utc::now();
            let mut statuses: Vec<TaskStatus> = result
                .entries
                .iter()
                .map(|dead| {
                    // The same fence as the stored failure: it replaces it, and any
                    // write of the new delivery (a higher fence) replaces it in turn.
                    let mut status = TaskStatus::queued(&dead.envelope);
                    status.attempt = 0;
                    status.updated_at = now;
                    status.fence = dead.fence;
                    status
                })
                .collect();
            self.backend().set_batch(&mut statuses).await?;
        }
        Ok(result)
    }
}

impl From<Stores> for Stem {
    fn from(stores: Stores) -> Self {
        Self::new(stores)
    }
}

/// The default payload limit (see [`Stem::with_max_payload`]): 8 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 8 * 1024 * 1024;

/// The batch size from which `enqueue_envelopes` publishes from a task of its own.
const SPAWN_PUBLISH_FROM: usize = 1024;

impl fmt::Debug for Stem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stem").field("stores", &self.inner.stores).field("clock", &self.inner.clock).finish()
    }
}
