//! The lock store contract: named, expiring locks with owners.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// Distributed locks (for unique tasks, schedulers, leader-less timers).
///
/// A lock has a key, an owner and an expiry; only its owner may renew or release
/// it, and a mismatched release leaves it in place.
#[async_trait]
pub trait LockStore: Send + Sync + std::fmt::Debug + 'static {
    /// Takes `key` for `owner` for `ttl`; false if someone else holds it.
    /// The same owner taking it again renews it.
    async fn acquire(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool>;

    /// Extends `owner`'s hold of `key` to `ttl` from now; false if not held by `owner`.
    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool>;

    /// The current owner of `key`, `None` when free or expired.
    async fn owner(&self, key: &str) -> Result<Option<String>>;

    /// Releases `key` if `owner` holds it; false otherwise (the lock stays).
    async fn release(&self, key: &str, owner: &str) -> Result<bool>;
}
