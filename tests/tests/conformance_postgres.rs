//! The Postgres adapter passes the result backend and lock store suites against
//! a real Postgres, each case in its own schema, dropped afterwards.

use std::sync::{Arc, Mutex};

use stem::testing::{Namespace, backend_suite, lock_suite};
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::postgres_url;

/// The stores a suite opened, so that their schemas can be dropped at the end.
#[derive(Default)]
struct Opened(Mutex<Vec<PostgresStore>>);

impl Opened {
    async fn open(&self, url: &str, ns: &Namespace) -> stem::Result<PostgresStore> {
        let schema = format!("test_{}", ns.name.to_ascii_lowercase());
        let options =
            PostgresOptions::new(url).with_schema(schema).with_retention(ns.retention).with_max_connections(4);
        let store = PostgresStore::connect_with(options).await?;
        self.0.lock().expect("not poisoned").push(store.clone());
        Ok(store)
    }

    async fn clean(&self) {
        let stores = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        for store in stores {
            store.drop_schema().await.expect("drop the test schema");
        }
    }
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
    opened.clean().await;
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
    opened.clean().await;
    report.assert_passed();
    assert!(report.skipped().is_empty());
}
