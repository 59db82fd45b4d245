//! The SQLite adapter passes the conformance suites, each case in its own file.

use std::sync::Arc;

use stem::testing::{backend_suite, broker_suite, lock_suite};
use stem_adapters::sqlite::{SqliteOptions, SqliteStore};
use stem_tests::TempDir;

async fn store(dir: &TempDir, ns: &stem::testing::Namespace) -> stem::Result<SqliteStore> {
    SqliteStore::open_with(SqliteOptions::new(dir.file(&format!("{}.db", ns.name))).with_retention(ns.retention)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_broker_passes_every_case_but_broadcast() {
    let dir = TempDir::new("conformance-broker");
    let report = broker_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.broker() as _) }
    })
    .await;
    report.assert_passed();
    assert_eq!(report.skipped(), ["broadcast_fans_out_to_every_subscriber"], "SQLite declares no Broadcast");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_passes_every_case() {
    let dir = TempDir::new("conformance-backend");
    let report = backend_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.backend() as _) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lock_store_passes_every_case() {
    let dir = TempDir::new("conformance-lock");
    let report = lock_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.locks() as Arc<dyn stem::LockStore>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}
