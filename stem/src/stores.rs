//! [`Stores`]: the four stores a [`Stem`](crate::Stem) runs on, as one value.

use std::fmt;
use std::sync::Arc;

use crate::backend::ResultBackend;
use crate::beat::ScheduleStore;
use crate::broker::{Broker, PublishRecorded};
use crate::lock::LockStore;
use crate::memory::{
    MemoryBackend, MemoryBroker, MemoryLockStore, MemoryRateLimiter, MemoryRevokeStore, MemoryScheduleStore,
    MemoryWorkflowStore,
};
use crate::rate::RateLimiter;
use crate::revoke::RevokeStore;
use crate::workflow::WorkflowStore;

/// The stores a [`Stem`](crate::Stem) runs on: a broker, a result backend, a
/// lock store and a workflow store. Cheap to clone.
///
/// Each adapter's store hands out all four at once (`SqliteStore::stores()`,
/// `RedisStore::stores()`, `PostgresStore::stores()`, or
/// `stem_adapters::connect(url)`), so that no part is silently left in memory.
/// [`Stores::new`] takes each part by hand; [`Stores::in_memory`] keeps all
/// of them in this process, on purpose.
///
/// ```
/// use std::sync::Arc;
/// use stem::memory::MemoryBroker;
/// use stem::{Stem, Stores};
///
/// // Everything in memory but the broker.
/// let stores = Stores::in_memory().with_broker(Arc::new(MemoryBroker::new()));
/// let stem = Stem::new(stores);
/// ```
#[derive(Clone)]
pub struct Stores {
    broker: Arc<dyn Broker>,
    backend: Arc<dyn ResultBackend>,
    locks: Arc<dyn LockStore>,
    workflows: Arc<dyn WorkflowStore>,
    rates: Arc<dyn RateLimiter>,
    schedules: Arc<dyn ScheduleStore>,
    revokes: Arc<dyn RevokeStore>,
    /// The broker and backend's combined enqueue, while both are the ones it
    /// was given for.
    recorded: Option<Arc<dyn PublishRecorded>>,
}

impl Stores {
    /// The four stores, each given, and a rate limiter, a schedule store and a
    /// revoke store in this process's memory (an adapter's `stores()` sets its own with
    /// [`with_rate_limiter`](Self::with_rate_limiter) and
    /// [`with_schedules`](Self::with_schedules), shared by every worker of
    /// the store).
    pub fn new(
        broker: Arc<dyn Broker>,
        backend: Arc<dyn ResultBackend>,
        locks: Arc<dyn LockStore>,
        workflows: Arc<dyn WorkflowStore>,
    ) -> Self {
        Self {
            broker,
            backend,
            locks,
            workflows,
            rates: Arc::new(MemoryRateLimiter::new()),
            schedules: Arc::new(MemoryScheduleStore::new()),
            revokes: Arc::new(MemoryRevokeStore::new()),
            recorded: None,
        }
    }

    /// Every store in this process's memory: for tests, docs and one-process
    /// apps. Nothing survives the process.
    pub fn in_memory() -> Self {
        Self::new(
            Arc::new(MemoryBroker::new()),
            Arc::new(MemoryBackend::new()),
            Arc::new(MemoryLockStore::new()),
            Arc::new(MemoryWorkflowStore::new()),
        )
    }

    /// Enqueues publish through `recorded`, which records each message as
    /// queued in this broker's and backend's store in the same operation. For
    /// adapters whose broker and backend are one store (see
    /// [`PublishRecorded`]); it is dropped when the broker or the backend is
    /// replaced.
    #[must_use]
    pub fn with_publish_recorded(mut self, recorded: Arc<dyn PublishRecorded>) -> Self {
        self.recorded = Some(recorded);
        self
    }

    /// The same stores with another broker.
    #[must_use]
    pub fn with_broker(mut self, broker: Arc<dyn Broker>) -> Self {
        self.broker = broker;
        self.recorded = None;
        self
    }

    /// The same stores with another result backend.
    #[must_use]
    pub fn with_backend(mut self, backend: Arc<dyn ResultBackend>) -> Self {
        self.backend = backend;
        self.recorded = None;
        self
    }

    /// The same stores with another lock store.
    #[must_use]
    pub fn with_locks(mut self, locks: Arc<dyn LockStore>) -> Self {
        self.locks = locks;
        self
    }

    /// The same stores with another workflow store.
    #[must_use]
    pub fn with_workflows(mut self, workflows: Arc<dyn WorkflowStore>) -> Self {
        self.workflows = workflows;
        self
    }

    /// The same stores with another rate limiter.
    #[must_use]
    pub fn with_rate_limiter(mut self, rates: Arc<dyn RateLimiter>) -> Self {
        self.rates = rates;
        self
    }

    /// The same stores with another revoke store.
    #[must_use]
    pub fn with_revokes(mut self, revokes: Arc<dyn RevokeStore>) -> Self {
        self.revokes = revokes;
        self
    }

    /// The same stores with another schedule store.
    #[must_use]
    pub fn with_schedules(mut self, schedules: Arc<dyn ScheduleStore>) -> Self {
        self.schedules = schedules;
        self
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// The result backend.
    pub fn backend(&self) -> &Arc<dyn ResultBackend> {
        &self.backend
    }

    /// The lock store.
    pub fn locks(&self) -> &Arc<dyn LockStore> {
        &self.locks
    }

    /// The workflow store.
    pub fn workflows(&self) -> &Arc<dyn WorkflowStore> {
        &self.workflows
    }

    /// The rate limiter.
    pub fn rate_limiter(&self) -> &Arc<dyn RateLimiter> {
        &self.rates
    }

    /// The revoke store.
    pub fn revokes(&self) -> &Arc<dyn RevokeStore> {
        &self.revokes
    }

    /// The schedule store.
    pub fn schedules(&self) -> &Arc<dyn ScheduleStore> {
        &self.schedules
    }

    /// The combined publish and record, when the broker and the backend are
    /// one store that has one.
    pub fn publish_recorded(&self) -> Option<&Arc<dyn PublishRecorded>> {
        self.recorded.as_ref()
    }
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores")
            .field("broker", &self.broker)
            .field("backend", &self.backend)
            .field("locks", &self.locks)
            .field("workflows", &self.workflows)
            .field("rates", &self.rates)
            .field("schedules", &self.schedules)
            .field("revokes", &self.revokes)
            .field("publish_recorded", &self.recorded.is_some())
            .finish()
    }
}
