//! The Redis adapter passes the conformance suites against a real Redis, each
//! case in its own namespace (key prefix), deleted afterwards; no `FLUSHDB`.
//! The same suites run on a Redis Cluster of three primaries that each test
//! starts for itself, where a script or pipeline that strays across hash
//! slots fails.

use std::sync::{Arc, Mutex};

use stem::testing::{
    Namespace, backend_suite, broker_suite, lock_suite, rate_limiter_suite, revoke_store_suite, schedule_store_suite,
    workflow_store_suite,
};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{RedisCluster, redis_url};

/// The stores a suite opened with `base`, so that their keys can be deleted at the end.
struct Opened {
    base: RedisOptions,
    stores: Mutex<Vec<RedisStore>>,
}

impl Opened {
    fn new(base: RedisOptions) -> Self {
        Self { base, stores: Mutex::default() }
    }

    async fn open(&self, ns: &Namespace) -> stem::Result<RedisStore> {
        let options = self.base.clone().with_namespace(format!("test_{}", ns.name)).with_retention(ns.retention);
        let options = options.with_dead_letter_retention(ns.dead_letter_retention);
        let store = RedisStore::connect_with(options).await?;
        self.stores.lock().expect("not poisoned").push(store.clone());
        Ok(store)
    }

    async fn clean(&self) {
        let stores = std::mem::take(&mut *self.stores.lock().expect("not poisoned"));
        for store in stores {
            store.delete_namespace().await.expect("delete the test keys");
        }
    }
}

/// The machine's Redis, or `None` (the test skips).
fn server() -> Option<RedisOptions> {
    redis_url().map(RedisOptions::new)
}

/// A cluster of the test's own (kept running while it is held), or `None` (the test skips).
fn cluster() -> Option<(RedisCluster, RedisOptions)> {
    let cluster = RedisCluster::start()?;
    let options = RedisOptions::cluster(cluster.urls());
    Some((cluster, options))
}

async fn broker_passes(base: RedisOptions) {
    let opened = Opened::new(base);
    let report = broker_suite(|ns| {
        let opened = &opened;
        async move { Ok(opened.open(&ns).await?.broker() as _) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "Redis has every broker capability");
}

/// With the task listing on, so that its cases run too (without it they are
/// skipped; see `redis_task_listing.rs`).
async fn backend_passes(base: RedisOptions) {
    let opened = Opened::new(base.with_task_listing(true));
    let report = backend_suite(|ns| {
        let opened = &opened;
        async move { Ok(opened.open(&ns).await?.backend() as _) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "with task_listing=true Redis lists task statuses: {report}");
}

async fn lock_store_passes(base: RedisOptions) {
    let opened = Opened::new(base);
    let report = lock_suite(|ns| {
        let opened = &opened;
        async move { Ok(opened.open(&ns).await?.locks() as Arc<dyn stem::LockStore>) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

async fn rate_limiter_passes(base: RedisOptions) {
    let opened = Opened::new(base);
    let report = rate_limiter_suite(|ns| {
        let opened = &opened;
        async move { Ok(opened.open(&ns).await?.rate_limiter() as Arc<dyn stem::RateLimiter>) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

async fn schedule_store_passes(base: RedisOptions) {
    let opened = Opened::new(base);
    let report = schedule_store_suite(|ns| {
        let opened = &opened;
        async move { Ok(opened.open(&ns).await?.schedules() as Arc<dyn stem::beat::ScheduleStore>) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

async fn revoke_store_passes(base: RedisOptions) {
    let opened = Opened::new(base);
    let report = revoke_store_suite(|ns| {
        let opened = &opened;
        async move { Ok(opened.open(&ns).await?.revokes() as Arc<dyn stem::revoke::RevokeStore>) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

async fn workflow_store_passes(base: RedisOptions) {
    let opened = Opened::new(base);
    let report = workflow_store_suite(|ns| {
        let opened = &opened;
        async move { Ok(opened.open(&ns).await?.workflows() as Arc<dyn stem::workflow::WorkflowStore>) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_broker_passes_every_case() {
    let Some(base) = server() else { return };
    broker_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_passes_every_case() {
    let Some(base) = server() else { return };
    backend_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lock_store_passes_every_case() {
    let Some(base) = server() else { return };
    lock_store_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rate_limiter_passes_every_case() {
    let Some(base) = server() else { return };
    rate_limiter_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_schedule_store_passes_every_case() {
    let Some(base) = server() else { return };
    schedule_store_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_revoke_store_passes_every_case() {
    let Some(base) = server() else { return };
    revoke_store_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_workflow_store_passes_every_case() {
    let Some(base) = server() else { return };
    workflow_store_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_broker_passes_every_case() {
    let Some((_cluster, base)) = cluster() else { return };
    broker_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_backend_passes_every_case() {
    let Some((_cluster, base)) = cluster() else { return };
    backend_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_lock_store_passes_every_case() {
    let Some((_cluster, base)) = cluster() else { return };
    lock_store_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_rate_limiter_passes_every_case() {
    let Some((_cluster, base)) = cluster() else { return };
    rate_limiter_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_schedule_store_passes_every_case() {
    let Some((_cluster, base)) = cluster() else { return };
    schedule_store_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_revoke_store_passes_every_case() {
    let Some((_cluster, base)) = cluster() else { return };
    revoke_store_passes(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_workflow_store_passes_every_case() {
    let Some((_cluster, base)) = cluster() else { return };
    workflow_store_passes(base).await;
}
