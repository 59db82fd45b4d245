//! The Postgres lock store: one row per lock; every statement compares the
//! owner and the expiry in its `WHERE`, so only the owner renews or releases.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stem::{LockStore, Result};

use super::{Shared, failed, millis};

/// A [`LockStore`] on Postgres (table `locks` of the store's schema).
#[derive(Debug)]
pub struct PostgresLockStore {
    shared: Arc<Shared>,
}

impl PostgresLockStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    async fn changed(&self, what: &str, sql: &str, key: &str, owner: &str, ttl: Option<Duration>) -> Result<bool> {
        let mut query = sqlx::query(self.shared.sql(sql)).bind(key).bind(owner);
        if let Some(ttl) = ttl {
            query = query.bind(millis(ttl));
        }
        let done = query.execute(&self.shared.pool).await.map_err(|e| failed(what, e))?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl LockStore for PostgresLockStore {
    async fn acquire(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let sql = include_str!("sql/lock_acquire.sql");
        self.changed("taking a lock", sql, key, owner, Some(ttl)).await
    }

    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let sql = include_str!("sql/lock_renew.sql");
        self.changed("renewing a lock", sql, key, owner, Some(ttl)).await
    }

    async fn owner(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar(self.shared.sql(include_str!("sql/lock_owner.sql")))
            .bind(key)
            .fetch_optional(&self.shared.pool)
            .await
            .map_err(|e| failed("reading a lock", e))
    }

    async fn release(&self, key: &str, owner: &str) -> Result<bool> {
        let sql = include_str!("sql/lock_release.sql");
        self.changed("releasing a lock", sql, key, owner, None).await
    }
}
