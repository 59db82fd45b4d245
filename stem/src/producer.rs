//! [`Stem`]: the handle producers and workers share.

use std::fmt;
use std::sync::Arc;

use crate::backend::{ResultBackend, TaskStatus};
use crate::broker::{Broker, ReplayOptions, ReplayResult, publish_beside};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;
use crate::lock::LockStore;
use crate::memory::{MemoryBackend, MemoryBroker, MemoryLockStore, MemoryWorkflowStore};
use crate::task::{Signature, Task, TaskHandle};
use crate::workflow::{Clock, SystemClock, WorkflowStore};

/// The entry point: a broker, a result backend and a lock store. Cheap to clone.
///
/// Producers enqueue through it (`SendEmail::enqueue(&stem, args)`); workers are
/// built from it ([`Worker::builder`](crate::Worker::builder)).
#[derive(Clone)]
pub struct Stem {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    broker: Arc<dyn Broker>,
    backend: Arc<dyn ResultBackend>,
    locks: Arc<dyn LockStore>,
    workflows: Arc<dyn WorkflowStore>,
    clock: Arc<dyn Clock>,
}

impl Stem {
    /// Stem over a broker and a result backend, with an in-memory lock store.
    pub fn new(broker: Arc<dyn Broker>, backend: Arc<dyn ResultBackend>) -> Self {
        Self::with_locks(broker, backend, Arc::new(MemoryLockStore::new()))
    }

    /// Stem over a broker, a result backend and a lock store, with an
    /// in-memory workflow store (see [`with_workflow_store`](Self::with_workflow_store))
    /// and the system clock.
    pub fn with_locks(broker: Arc<dyn Broker>, backend: Arc<dyn ResultBackend>, locks: Arc<dyn LockStore>) -> Self {
        let workflows = Arc::new(MemoryWorkflowStore::new());
        Self { inner: Arc::new(Inner { broker, backend, locks, workflows, clock: Arc::new(SystemClock) }) }
    }

    /// The same Stem with its workflow runs in `store`.
    #[must_use]
    pub fn with_workflow_store(&self, store: Arc<dyn WorkflowStore>) -> Self {
        let mut inner = (*self.inner).clone();
        inner.workflows = store;
        Self { inner: Arc::new(inner) }
    }

    /// The same Stem with workflows reading the time from `clock` (a
    /// [`FakeClock`](crate::workflow::FakeClock) in tests).
    #[must_use]
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Self {
        let mut inner = (*self.inner).clone();
        inner.clock = clock;
        Self { inner: Arc::new(inner) }
    }

    /// Everything in this process's memory: for tests, docs and one-process apps.
    /// Nothing survives the process.
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryBroker::new()), Arc::new(MemoryBackend::new()))
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.inner.broker
    }

    /// The result backend.
    pub fn backend(&self) -> &Arc<dyn ResultBackend> {
        &self.inner.backend
    }

    /// The lock store.
    pub fn locks(&self) -> &Arc<dyn LockStore> {
        &self.inner.locks
    }

    /// The workflow store.
    pub fn workflows(&self) -> &Arc<dyn WorkflowStore> {
        &self.inner.workflows
    }

    /// The clock workflows read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Enqueues one typed call; the same as `signature.enqueue(self)`.
    pub async fn enqueue<T: Task>(&self, signature: Signature<T>) -> Result<TaskHandle<T::Output>> {
        let envelope = signature.into_envelope()?;
        let id = self.enqueue_envelope(envelope).await?;
        Ok(TaskHandle::new(self.clone(), id))
    }

    /// Enqueues many calls of one task in one batch: one publish and one write
    /// of their queued records for all of them (together, where the broker
    /// records with the backend; see [`Broker::records_with`](crate::Broker::records_with)).
    pub async fn enqueue_many<T: Task>(
        &self,
        signatures: impl IntoIterator<Item = Signature<T>>,
    ) -> Result<Vec<TaskHandle<T::Output>>> {
        let envelopes = signatures.into_iter().map(Signature::into_envelope).collect::<Result<Vec<_>>>()?;
        let ids = self.enqueue_envelopes(envelopes).await?;
        Ok(ids.into_iter().map(|id| TaskHandle::new(self.clone(), id)).collect())
    }

    /// Publishes a prepared envelope and records it as queued.
    pub async fn enqueue_envelope(&self, envelope: Envelope) -> Result<TaskId> {
        let id = envelope.id;
        let (broker, backend) = (&self.inner.broker, &*self.inner.backend);
        let (published, recorded) = if broker.records_with(backend) {
            broker.publish_recorded(vec![envelope], backend).await
        } else {
            let status = TaskStatus::queued(&envelope);
            let (published, recorded) = tokio::join!(broker.publish(envelope), backend.set(status));
            (published, recorded.map(drop))
        };
        self.settle_enqueue(&[id], published, recorded).await?;
        Ok(id)
    }

    /// Publishes prepared envelopes in one batch and records them as queued.
    pub async fn enqueue_envelopes(&self, envelopes: Vec<Envelope>) -> Result<Vec<TaskId>> {
        let ids: Vec<TaskId> = envelopes.iter().map(|e| e.id).collect();
        let (broker, backend) = (&self.inner.broker, &*self.inner.backend);
        let (published, recorded) = if broker.records_with(backend) {
            broker.publish_recorded(envelopes, backend).await
        } else if envelopes.len() >= SPAWN_PUBLISH_FROM {
            // A large batch publishes from a task of its own, so that encoding the
            // messages and encoding the statuses use two threads where there are two.
            let statuses: Vec<TaskStatus> = envelopes.iter().map(TaskStatus::queued).collect();
            let broker = Arc::clone(broker);
            let publish = tokio::spawn(async move { broker.publish_batch(envelopes).await });
            let recorded = backend.set_batch(&statuses).await;
            let published = publish.await.unwrap_or_else(|e| Err(crate::Error::adapter("the publish task failed", e)));
            (published, recorded.map(drop))
        } else {
            publish_beside(&**broker, envelopes, backend).await
        };
        self.settle_enqueue(&ids, published, recorded).await?;
        Ok(ids)
    }

    /// The publish and the queued record go out together (one round trip on a
    /// networked store, one request where the broker records with the backend
    /// itself; a worker's write wins over the record whichever lands first).
    /// If the publish failed, a record that was written is forgotten (best
    /// effort), so that no task looks queued that never was.
    async fn settle_enqueue(&self, ids: &[TaskId], published: Result<()>, recorded: Result<()>) -> Result<()> {
        if let Err(error) = published {
            if recorded.is_ok() {
                for id in ids {
                    let _ = self.inner.backend.expire(*id, std::time::Duration::from_millis(1)).await;
                }
            }
            return Err(error);
        }
        recorded
    }

    /// Puts dead letters of `queue` back on it (see
    /// [`Broker::replay_dead_letters`]) and marks each replayed task queued
    /// again, so that handles waiting on them wait for the new run.
    pub async fn replay_dead_letters(&self, queue: &str, options: &ReplayOptions) -> Result<ReplayResult> {
        let result = self.inner.broker.replay_dead_letters(queue, options).await?;
        if !result.dry_run {
            let mut statuses = Vec::with_capacity(result.entries.len());
            for dead in &result.entries {
                // The same fence as the stored failure: it replaces it, and any
                // write of the new delivery (a higher fence) replaces it in turn.
                let fence = self.inner.backend.get(dead.envelope.id).await?.map_or(0, |s| s.fence);
                let mut status = TaskStatus::queued(&dead.envelope);
                status.attempt = 0;
                status.updated_at = chrono::Utc::now();
                status.fence = fence;
                statuses.push(status);
            }
            self.inner.backend.set_batch(&statuses).await?;
        }
        Ok(result)
    }

    /// A typed handle on a task enqueued earlier (for example by another process).
    ///
    /// The output type is the caller's claim: waiting fails with a codec error if
    /// the stored result does not decode as `T`.
    pub fn handle<T>(&self, id: TaskId) -> TaskHandle<T> {
        TaskHandle::new(self.clone(), id)
    }
}

/// The batch size from which `enqueue_envelopes` publishes from a task of its own.
const SPAWN_PUBLISH_FROM: usize = 1024;

impl fmt::Debug for Stem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stem")
            .field("broker", &self.inner.broker)
            .field("backend", &self.inner.backend)
            .field("locks", &self.inner.locks)
            .field("workflows", &self.inner.workflows)
            .finish()
    }
}
