//! The in-memory adapters pass every conformance case.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use stem::broker::{DeadLetters, Delivery, Nack, QueueStats, Receipt, ReceiveRequest};
use stem::{Broker, Envelope};

use stem::memory::{MemoryBackend, MemoryBroker, MemoryLockStore, MemoryWorkflowStore};
use stem::testing::{backend_suite, broker_suite, lock_suite, workflow_store_suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_broker_passes_every_case() {
    let report = broker_suite(|ns| async move {
        Ok(Arc::new(MemoryBroker::with_dead_letter_retention(ns.dead_letter_retention)) as _)
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "the in-memory broker has every capability");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_passes_every_case() {
    let report =
        backend_suite(|ns| async move { Ok(Arc::new(MemoryBackend::with_retention(ns.retention)) as _) }).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_lock_store_passes_every_case() {
    let report = lock_suite(|_ns| async { Ok(Arc::new(MemoryLockStore::new()) as _) }).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_workflow_store_passes_every_case() {
    let report = workflow_store_suite(|_ns| async { Ok(Arc::new(MemoryWorkflowStore::new()) as _) }).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

/// The in-memory broker with its broadcast capability hidden, to see the suite
/// report a missing capability as skipped, by name.
#[derive(Debug, Default)]
struct WithoutBroadcast(MemoryBroker);

#[async_trait::async_trait]
impl Broker for WithoutBroadcast {
    async fn publish(&self, envelope: Envelope) -> stem::Result<()> {
        self.0.publish(envelope).await
    }
    async fn publish_batch(&self, envelopes: Vec<Envelope>) -> stem::Result<()> {
        self.0.publish_batch(envelopes).await
    }
    async fn receive(&self, request: &ReceiveRequest) -> stem::Result<Vec<Delivery>> {
        self.0.receive(request).await
    }
    async fn ack_batch(&self, receipts: &[Receipt]) -> stem::Result<usize> {
        self.0.ack_batch(receipts).await
    }
    async fn nack(&self, receipt: &Receipt, nack: Nack) -> stem::Result<()> {
        self.0.nack(receipt, nack).await
    }
    async fn extend_lease(&self, receipt: &Receipt, by: Duration) -> stem::Result<DateTime<Utc>> {
        self.0.extend_lease(receipt, by).await
    }
    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> stem::Result<()> {
        self.0.dead_letter(receipt, reason).await
    }
    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        self.0.dead_letters()
    }
    fn stats(&self) -> Option<&dyn QueueStats> {
        self.0.stats()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_capability_is_reported_skipped_by_name() {
    let report = broker_suite(|ns| async move {
        Ok(Arc::new(WithoutBroadcast(MemoryBroker::with_dead_letter_retention(ns.dead_letter_retention))) as _)
    })
    .await;
    report.assert_passed();
    assert_eq!(report.skipped(), ["broadcast_fans_out_to_every_subscriber"]);
    let shown = report.to_string();
    assert!(
        shown.contains("SKIPPED broadcast_fans_out_to_every_subscriber: the adapter does not implement Broadcast"),
        "{shown}"
    );
    assert!(shown.contains("33 passed, 1 skipped, 0 failed"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_rate_limiter_passes_every_case() {
    let report = stem::testing::rate_limiter_suite(|_ns| async {
        Ok(std::sync::Arc::new(stem::memory::MemoryRateLimiter::new()) as std::sync::Arc<dyn stem::RateLimiter>)
    })
    .await;
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_schedule_store_passes_every_case() {
    let report = stem::testing::schedule_store_suite(|_ns| async {
        Ok(std::sync::Arc::new(stem::memory::MemoryScheduleStore::new())
            as std::sync::Arc<dyn stem::beat::ScheduleStore>)
    })
    .await;
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_revoke_store_passes_every_case() {
    let report = stem::testing::revoke_store_suite(|_ns| async {
        Ok(std::sync::Arc::new(stem::memory::MemoryRevokeStore::new()) as std::sync::Arc<dyn stem::revoke::RevokeStore>)
    })
    .await;
    report.assert_passed();
}
