//! The Redis lock store: one key per lock holding its owner, with scripts that
//! take it (free, or already the caller's), renew it and release it, so only the
//! owner can do the last two.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stem::{LockStore, Result};

use super::scripts::{LOCK_ACQUIRE, LOCK_RELEASE, LOCK_RENEW};
use super::{Shared, failed, millis};

/// A [`LockStore`] on Redis: one key per lock, holding its owner, expiring with
/// the lock's TTL.
#[derive(Debug)]
pub struct RedisLockStore {
    shared: Arc<Shared>,
}

impl RedisLockStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[async_trait]
impl LockStore for RedisLockStore {
    async fn acquire(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let held: i64 = LOCK_ACQUIRE
            .script()
            .key(self.shared.keys().lock(key))
            .arg(owner)
            .arg(millis(ttl))
            .invoke_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("taking a lock", e))?;
        Ok(held == 1)
    }

    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let renewed: i64 = LOCK_RENEW
            .script()
            .key(self.shared.keys().lock(key))
            .arg(owner)
            .arg(millis(ttl))
            .invoke_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("renewing a lock", e))?;
        Ok(renewed == 1)
    }

    async fn owner(&self, key: &str) -> Result<Option<String>> {
        redis::cmd("GET")
            .arg(self.shared.keys().lock(key))
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a lock", e))
    }

    async fn release(&self, key: &str, owner: &str) -> Result<bool> {
        let released: i64 = LOCK_RELEASE
            .script()
            .key(self.shared.keys().lock(key))
            .arg(owner)
            .invoke_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("releasing a lock", e))?;
        Ok(released == 1)
    }
}
