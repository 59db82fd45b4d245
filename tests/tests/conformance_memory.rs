//! The in-memory adapters pass every conformance case.

use std::sync::Arc;

use stem::memory::{MemoryBackend, MemoryBroker, MemoryLockStore};
use stem::testing::{backend_suite, broker_suite, lock_suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_broker_passes_every_case() {
    let report = broker_suite(|_ns| async { Ok(Arc::new(MemoryBroker::new()) as _) }).await;
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
