//! The SQLite lock store.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use stem::Result;
use stem::lock::LockStore;

use super::{Shared, after_ms, now_ms};

/// A [`LockStore`] on a SQLite file: expiring named locks shared by every
/// process using the file.
#[derive(Debug)]
pub struct SqliteLockStore {
    shared: Arc<Shared>,
}

impl SqliteLockStore {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    async fn changed(
        &self,
        what: &'static str,
        sql: &'static str,
        key: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        let now = now_ms();
        let until = after_ms(now, ttl);
        self.shared
            .db
            .call(what, move |conn| Ok(conn.prepare_cached(sql)?.execute(params![key, owner, until, now])? == 1))
            .await
    }
}

#[async_trait]
impl LockStore for SqliteLockStore {
    async fn acquire(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        self.changed("acquire lock", include_str!("sql/lock_acquire.sql"), key, owner, ttl).await
    }

    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        self.changed("renew lock", include_str!("sql/lock_renew.sql"), key, owner, ttl).await
    }

    async fn owner(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.shared
            .db
            .read("lock owner", move |conn| {
                conn.prepare_cached(include_str!("sql/lock_owner.sql"))?
                    .query_row(params![key, now_ms()], |r| r.get(0))
                    .optional()
            })
            .await
    }

    async fn release(&self, key: &str, owner: &str) -> Result<bool> {
        self.changed("release lock", include_str!("sql/lock_release.sql"), key, owner, Duration::ZERO).await
    }
}
