//! The Redis lock store: one key per lock holding its owner, with scripts that
//! take it (free, or already the caller's), renew it and release it, so only the
//! owner can do the last two.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stem::{LockStore, Result};

use super::scripts::{LOCK_ACQUIRE, LOCK_RELEASE, LOCK_RENEW, Lua};
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

    /// Runs one of the lock scripts on `key` for `owner` (with the TTL, if
    /// any); true when it answered 1 (the owner holds, renewed or released it).
    async fn run(&self, lua: &Lua, what: &str, key: &str, owner: &str, ttl: Option<Duration>) -> Result<bool> {
        let mut call = lua.script().key(self.shared.keys().lock(key));
        call.arg(owner);
        if let Some(ttl) = ttl {
            call.arg(millis(ttl));
        }
        let answer: i64 = call.invoke_async(&mut self.shared.conn()).await.map_err(|e| failed(what, e))?;
        Ok(answer == 1)
    }
}

#[async_trait]
impl LockStore for RedisLockStore {
    async fn acquire(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        self.run(&LOCK_ACQUIRE, "taking a lock", key, owner, Some(ttl)).await
    }

    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        self.run(&LOCK_RENEW, "renewing a lock", key, owner, Some(ttl)).await
    }

    async fn owner(&self, key: &str) -> Result<Option<String>> {
        redis::cmd("GET")
            .arg(self.shared.keys().lock(key))
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a lock", e))
    }

    async fn release(&self, key: &str, owner: &str) -> Result<bool> {
        self.run(&LOCK_RELEASE, "releasing a lock", key, owner, None).await
    }
}
