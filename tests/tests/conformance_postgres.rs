//! The Postgres adapter passes the conformance suites against a real Postgres,
//! each case in its own schema, dropped afterwards.

use std::sync::{Arc, Mutex};

use stem::testing::{
    Namespace, backend_suite, broker_suite, lock_suite, rate_limiter_suite, revoke_store_suite, schedule_store_suite,
    workflow_store_suite,
};
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::postgres_url;

/// The schemas a suite made, dropped at the end. Stores are not kept, so that
/// each case's connections close when the case ends (the suite runs its cases
/// at once, and the server allows 100 connections).
#[derive(Default)]
struct Opened(Mutex<Vec<String>>);

impl Opened {
    async fn open(&self, url: &str, ns: &Namespace) -> stem::Result<PostgresStore> {
        let schema = format!("test_{}", ns.name.to_ascii_lowercase());
        self.0.lock().expect("not poisoned").push(schema.clone());
        let options = PostgresOptions::new(url)
            .with_schema(schema)
            .with_retention(ns.retention)
            .with_max_connections(2)
            .with_task_listing(true);
        let options = options.with_dead_letter_retention(ns.dead_letter_retention);
        PostgresStore::connect_with(options).await
    }

    async fn clean(&self, url: &str) {
        let schemas = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        let pool = sqlx::PgPool::connect(url).await.expect("connect to drop the test schemas");
        for schema in schemas {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
                .execute(&pool)
                .await
                .expect("drop a test schema");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_broker_passes_every_case() {
    let Some(url) = postgres_url() else { return };
    let opened = Opened::default();
    let report = broker_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.broker() as _) }
    })
    .await;
    opened.clean(&url).await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "Postgres has every broker capability");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_passes_every_case() {
    let Some(url) = postgres_url() else { return };
    let opened = Opened::default();
    let report = backend_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.backend() as _) }
    })
    .await;
    opened.clean(&url).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lock_store_passes_every_case() {
    let Some(url) = postgres_url() else { return };
    let opened = Opened::default();
    let report = lock_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.locks() as Arc<dyn stem::LockStore>) }
    })
    .await;
    opened.clean(&url).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rate_limiter_passes_every_case() {
    let Some(url) = postgres_url() else { return };
    let opened = Opened::default();
    let report = rate_limiter_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.rate_limiter() as Arc<dyn stem::RateLimiter>) }
    })
    .await;
    opened.clean(&url).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schedule_store_passes_every_case() {
    let Some(url) = postgres_url() else { return };
    let opened = Opened::default();
    let report = schedule_store_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.schedules() as Arc<dyn stem::beat::ScheduleStore>) }
    })
    .await;
    opened.clean(&url).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_revoke_store_passes_every_case() {
    let Some(url) = postgres_url() else { return };
    let opened = Opened::default();
    let report = revoke_store_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.revokes() as Arc<dyn stem::revoke::RevokeStore>) }
    })
    .await;
    opened.clean(&url).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_workflow_store_passes_every_case() {
    let Some(url) = postgres_url() else { return };
    let opened = Opened::default();
    let report = workflow_store_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.workflows() as Arc<dyn stem::workflow::WorkflowStore>) }
    })
    .await;
    opened.clean(&url).await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}
