//! The SQLite adapter passes the conformance suites, each case in its own file.

use std::sync::Arc;

use stem::testing::{
    backend_suite, broker_suite, lock_suite, rate_limiter_suite, revoke_store_suite, schedule_store_suite,
    workflow_store_suite,
};
use stem_adapters::sqlite::{SqliteOptions, SqliteStore};
use stem_tests::TempDir;

async fn store(dir: &TempDir, ns: &stem::testing::Namespace) -> stem::Result<SqliteStore> {
    let options =
        SqliteOptions::new(dir.file(&format!("{}.db", ns.name))).with_retention(ns.retention).with_task_listing(true);
    SqliteStore::open_with(options.with_dead_letter_retention(ns.dead_letter_retention)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_broker_passes_every_case() {
    let dir = TempDir::new("conformance-broker");
    let report = broker_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.broker() as _) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "SQLite has every broker capability");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rate_limiter_passes_every_case() {
    let dir = TempDir::new("conformance-rate");
    let report = rate_limiter_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.rate_limiter() as Arc<dyn stem::RateLimiter>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_schedule_store_passes_every_case() {
    let dir = TempDir::new("conformance-schedule");
    let report = schedule_store_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.schedules() as Arc<dyn stem::beat::ScheduleStore>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_revoke_store_passes_every_case() {
    let dir = TempDir::new("conformance-revoke");
    let report = revoke_store_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.revokes() as Arc<dyn stem::revoke::RevokeStore>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_workflow_store_passes_every_case() {
    let dir = TempDir::new("conformance-workflow");
    let report = workflow_store_suite(|ns| {
        let dir = &dir;
        async move { Ok(store(dir, &ns).await?.workflows() as Arc<dyn stem::workflow::WorkflowStore>) }
    })
    .await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_written_by_another_connection_reach_subscribers() {
    use futures_util::StreamExt;

    let dir = TempDir::new("broadcast-external");
    let file = dir.file("stem.db");
    let broker = SqliteStore::open(&file).await.expect("open").broker();
    let channel = stem::Broker::broadcast(&*broker).expect("SQLite broadcasts");
    let mut subscriber = channel.subscribe("control").await.expect("subscribe");
    // Another process's commit, as far as this process can tell: another connection.
    let other = rusqlite::Connection::open(&file).expect("open");
    other
        .execute("INSERT INTO stem_broadcasts (channel, payload, sent_at) VALUES ('control', x'70696E67', 0)", [])
        .expect("insert");
    let got = tokio::time::timeout(stem_tests::WAIT, subscriber.next()).await.expect("delivered in time");
    assert_eq!(got.as_deref(), Some(&b"ping"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lists_tasks_only_when_asked() {
    let dir = TempDir::new("listing-option");
    let url = format!("sqlite://{}", dir.file("plain.db").display());
    let plain = stem_adapters::connect(&url).await.expect("open");
    assert!(plain.backend().listing().is_none(), "no listing indexes by default: they cost every status write");
    let listed = stem_adapters::connect(&format!("sqlite://{}?task_listing=true", dir.file("listed.db").display()))
        .await
        .expect("open");
    assert!(listed.backend().listing().is_some());
    let bad = stem_adapters::connect(&format!("sqlite://{}?task_listing=maybe", dir.file("x.db").display())).await;
    assert!(bad.map(drop).expect_err("a bad value").to_string().contains("task_listing"));
}
