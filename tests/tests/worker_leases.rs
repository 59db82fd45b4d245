//! Leases: a delivery not acked before its lease ends is delivered again; a
//! running task keeps its lease alive; a stale holder cannot settle.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stem::broker::ReceiveRequest;
use stem::prelude::*;
use stem::{Error, TaskState};
use stem_tests::{TestResult, WAIT};

#[stem::task]
async fn echo(text: String) -> Result<String, TaskError> {
    Ok(text)
}

fn request(lease: Duration) -> ReceiveRequest {
    ReceiveRequest {
        queues: vec!["default".to_owned()],
        max: 1,
        lease,
        wait: Duration::from_secs(1),
        consumer: "crashed".to_owned(),
    }
}

#[tokio::test]
async fn a_delivery_whose_lease_ends_is_delivered_again() -> TestResult {
    let stem = Stem::in_memory();
    let handle = Echo::enqueue(&stem, "again".to_owned()).await?;
    // A consumer takes the task and dies without acking.
    let taken = stem.broker().receive(&request(Duration::from_millis(200))).await?;
    assert_eq!(taken.len(), 1);

    let worker = Worker::builder(&stem).task::<Echo>().build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, "again");
    let status = handle.status().await?.expect("recorded");
    assert_eq!((status.state, status.attempt, status.fence), (TaskState::Succeeded, 0, 2));

    // The dead consumer's receipt is stale now: it can neither ack nor extend.
    let stale = &taken[0].receipt;
    assert!(matches!(stem.broker().ack(stale).await, Err(Error::LeaseLost(_))));
    assert!(matches!(stem.broker().extend_lease(stale, Duration::from_secs(1)).await, Err(Error::LeaseLost(_))));
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static SLOW_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task]
async fn slow() -> Result<u32, TaskError> {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await; // the work outlives several leases
    Ok(SLOW_RUNS.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_running_task_keeps_its_lease_alive() -> TestResult {
    let stem = Stem::in_memory();
    let lease = Duration::from_millis(100);
    let first = Worker::builder(&stem).task::<Slow>().lease(lease).build()?.spawn();
    let handle = Slow::enqueue(&stem, ()).await?;
    // A second worker would take the task if its lease ever lapsed.
    let second = Worker::builder(&stem).task::<Slow>().lease(lease).build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, 1, "ran once");
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 1);
    first.stop(ShutdownMode::Warm).await?;
    second.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn a_stale_status_write_is_refused_by_its_fence() -> TestResult {
    let stem = Stem::in_memory();
    let handle = Echo::enqueue(&stem, "x".to_owned()).await?;
    let mut newer = handle.status().await?.expect("queued");
    newer.state = TaskState::Started;
    newer.fence = 2;
    assert!(stem.backend().set(newer.clone()).await?);
    let mut stale = newer;
    stale.state = TaskState::Succeeded;
    stale.fence = 1;
    assert!(!stem.backend().set(stale).await?, "a lower fence is refused");
    assert_eq!(handle.status().await?.map(|s| s.state), Some(TaskState::Started));
    Ok(())
}

/// The in-memory broker as a troubled store shows it: lease ends read
/// `ahead` of the worker's clock, and acks that take `ack_delay`.
#[derive(Debug, Default)]
struct Troubled {
    inner: stem::memory::MemoryBroker,
    ahead: chrono::TimeDelta,
    ack_delay: Duration,
}

#[async_trait::async_trait]
impl stem::Broker for Troubled {
    async fn publish(&self, envelope: stem::Envelope) -> stem::Result<()> {
        self.inner.publish(envelope).await
    }
    async fn publish_batch(&self, envelopes: Vec<stem::Envelope>) -> stem::Result<()> {
        self.inner.publish_batch(envelopes).await
    }
    async fn receive(&self, request: &ReceiveRequest) -> stem::Result<Vec<stem::broker::Delivery>> {
        let mut deliveries = self.inner.receive(request).await?;
        deliveries.iter_mut().for_each(|d| d.lease_expires_at += self.ahead);
        Ok(deliveries)
    }
    async fn ack_batch(&self, receipts: &[stem::broker::Receipt]) -> stem::Result<usize> {
        tokio::time::sleep(self.ack_delay).await; // the slowness simulated, not a wait for an event
        self.inner.ack_batch(receipts).await
    }
    async fn nack(&self, receipt: &stem::broker::Receipt, nack: stem::broker::Nack) -> stem::Result<()> {
        self.inner.nack(receipt, nack).await
    }
    async fn extend_lease(
        &self,
        receipt: &stem::broker::Receipt,
        by: Duration,
    ) -> stem::Result<chrono::DateTime<chrono::Utc>> {
        Ok(self.inner.extend_lease(receipt, by).await? + self.ahead)
    }
    async fn dead_letter(&self, receipt: &stem::broker::Receipt, reason: &str) -> stem::Result<()> {
        self.inner.dead_letter(receipt, reason).await
    }
}

/// A Stem on `broker` and in-memory stores for the rest.
fn stem_on(broker: Troubled) -> Stem {
    use stem::memory::{MemoryBackend, MemoryLockStore, MemoryWorkflowStore};
    Stem::new(stem::Stores::new(
        std::sync::Arc::new(broker),
        std::sync::Arc::new(MemoryBackend::new()),
        std::sync::Arc::new(MemoryLockStore::new()),
        std::sync::Arc::new(MemoryWorkflowStore::new()),
    ))
}

static SKEWED_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task]
async fn outlives_its_lease() -> Result<u32, TaskError> {
    SKEWED_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    Ok(SKEWED_RUNS.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_worker_whose_clock_is_behind_the_stores_renews_in_time() -> TestResult {
    // The store's clock 15 s ahead of the worker's.
    let stem = stem_on(Troubled { ahead: chrono::TimeDelta::seconds(15), ..Troubled::default() });
    let lease = Duration::from_millis(100);
    let first = Worker::builder(&stem).task::<OutlivesItsLease>().lease(lease).build()?.spawn();
    let handle = OutlivesItsLease::enqueue(&stem, ()).await?;
    // A second worker would take the task if its lease ever lapsed.
    let second = Worker::builder(&stem).task::<OutlivesItsLease>().lease(lease).build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, 1, "ran once");
    assert_eq!(SKEWED_RUNS.load(Ordering::SeqCst), 1);
    first.stop(ShutdownMode::Warm).await?;
    second.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static SETTLED_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task]
async fn settles_slowly() -> Result<u32, TaskError> {
    SETTLED_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await; // a task of its own, not inline
    Ok(SETTLED_RUNS.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_lease_is_renewed_until_the_outcome_is_settled() -> TestResult {
    // Acks that take 800 ms: a slow store.
    let stem = stem_on(Troubled { ack_delay: Duration::from_millis(800), ..Troubled::default() });
    let lease = Duration::from_millis(100);
    let first = Worker::builder(&stem).task::<SettlesSlowly>().lease(lease).build()?.spawn();
    let handle = SettlesSlowly::enqueue(&stem, ()).await?;
    // A second worker would take the task if its lease lapsed while the ack was slow.
    let second = Worker::builder(&stem).task::<SettlesSlowly>().lease(lease).build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, 1);
    first.stop(ShutdownMode::Warm).await?;
    second.stop(ShutdownMode::Warm).await?;
    assert_eq!(SETTLED_RUNS.load(Ordering::SeqCst), 1, "ran once");
    Ok(())
}
