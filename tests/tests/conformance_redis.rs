//! The Redis adapter passes the conformance suites against a real Redis, each
//! case in its own namespace (key prefix), deleted afterwards; no `FLUSHDB`.

use std::sync::{Arc, Mutex};

use stem::testing::{Namespace, backend_suite, broker_suite, lock_suite, workflow_store_suite};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::redis_url;

/// The stores a suite opened, so that their keys can be deleted at the end.
#[derive(Default)]
struct Opened(Mutex<Vec<RedisStore>>);

impl Opened {
    async fn open(&self, url: &str, ns: &Namespace) -> stem::Result<RedisStore> {
        let options = RedisOptions::new(url).with_namespace(format!("test_{}", ns.name)).with_retention(ns.retention);
        let store = RedisStore::connect_with(options).await?;
        self.0.lock().expect("not poisoned").push(store.clone());
        Ok(store)
    }

    async fn clean(&self) {
        let stores = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        for store in stores {
            store.delete_namespace().await.expect("delete the test keys");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_broker_passes_every_case() {
    let Some(url) = redis_url() else { return };
    let opened = Opened::default();
    let report = broker_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.broker() as _) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "Redis has every broker capability");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_passes_every_case() {
    let Some(url) = redis_url() else { return };
    let opened = Opened::default();
    let report = backend_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.backend() as _) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lock_store_passes_every_case() {
    let Some(url) = redis_url() else { return };
    let opened = Opened::default();
    let report = lock_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.locks() as Arc<dyn stem::LockStore>) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_workflow_store_passes_every_case() {
    let Some(url) = redis_url() else { return };
    let opened = Opened::default();
    let report = workflow_store_suite(|ns| {
        let (opened, url) = (&opened, &url);
        async move { Ok(opened.open(url, &ns).await?.workflows() as Arc<dyn stem::workflow::WorkflowStore>) }
    })
    .await;
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}
