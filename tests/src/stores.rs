//! Every store a cross-adapter test runs on: in memory, a SQLite file, and
//! Redis and Postgres (a namespace and a schema of the test's own) when
//! reachable.

use stem::Stem;
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_adapters::redis::{RedisOptions, RedisStore};

use crate::{TempDir, TestResult, postgres_url, redis_url};

/// One store a test runs on, and what it leaves behind.
#[allow(missing_debug_implementations)]
pub struct Env {
    /// `memory`, `sqlite`, `redis` or `postgres`, for assertion messages.
    pub label: &'static str,
    /// The Stem on it.
    pub stem: Stem,
    store: Store,
}

enum Store {
    Local(#[allow(dead_code)] TempDir),
    Redis(RedisStore),
    Postgres(PostgresStore),
}

impl Env {
    /// Removes the namespace or schema of a server store (a local one goes
    /// when dropped).
    pub async fn clean(self) -> TestResult {
        match self.store {
            Store::Local(_) => {}
            Store::Redis(store) => drop(store.delete_namespace().await?),
            Store::Postgres(store) => store.drop_schema().await?,
        }
        Ok(())
    }
}

/// The stores of one test named `label`.
pub async fn every_store(label: &str) -> Vec<Env> {
    let dir = TempDir::new(label);
    // With the task listing, so that the dashboard's search runs on them too.
    let url = format!("sqlite://{}?task_listing=true", dir.file("stem.db").display());
    let sqlite = stem_adapters::connect(&url).await.expect("open");
    let mut all = vec![
        Env { label: "memory", stem: Stem::in_memory(), store: Store::Local(TempDir::new(label)) },
        Env { label: "sqlite", stem: sqlite, store: Store::Local(dir) },
    ];
    let ns = format!("t_{}_{:08x}", label.replace('-', "_"), fastrand::u32(..));
    if let Some(url) = redis_url() {
        let options = RedisOptions::new(&url).with_namespace(&ns).with_task_listing(true);
        let store = RedisStore::connect_with(options).await.expect("redis");
        all.push(Env { label: "redis", stem: Stem::new(store.stores()), store: Store::Redis(store) });
    }
    if let Some(url) = postgres_url() {
        let options = PostgresOptions::new(&url).with_schema(&ns).with_max_connections(4).with_task_listing(true);
        let store = PostgresStore::connect_with(options).await.expect("postgres");
        all.push(Env { label: "postgres", stem: Stem::new(store.stores()), store: Store::Postgres(store) });
    }
    all
}
