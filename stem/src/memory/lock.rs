//! The in-memory lock store.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::Result;
use crate::lock::LockStore;

/// A [`LockStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemoryLockStore {
    locks: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryLockStore {
    /// An empty lock store.
    pub fn new() -> Self {
        Self::default()
    }

    fn locks(&self) -> MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl LockStore for MemoryLockStore {
    async fn acquire(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut locks = self.locks();
        match locks.get(key) {
            Some((held_by, until)) if *until > now && held_by != owner => Ok(false),
            _ => {
                locks.insert(key.to_owned(), (owner.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        Ok(match self.locks().get_mut(key) {
            Some((held_by, until)) if *until > now && held_by == owner => {
                *until = now + ttl;
                true
            }
            _ => false,
        })
    }

    async fn owner(&self, key: &str) -> Result<Option<String>> {
        let now = Instant::now();
        Ok(self.locks().get(key).filter(|(_, until)| *until > now).map(|(owner, _)| owner.clone()))
    }

    async fn release(&self, key: &str, owner: &str) -> Result<bool> {
        let now = Instant::now();
        let mut locks = self.locks();
        match locks.get(key) {
            Some((held_by, until)) if *until > now && held_by == owner => {
                locks.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_owner_renews_or_releases() {
        let store = MemoryLockStore::new();
        let ttl = Duration::from_secs(30);
        assert!(store.acquire("k", "a", ttl).await.expect("acquire"));
        assert!(!store.acquire("k", "b", ttl).await.expect("acquire"));
        assert!(!store.renew("k", "b", ttl).await.expect("renew"));
        assert!(!store.release("k", "b").await.expect("release"));
        assert_eq!(store.owner("k").await.expect("owner").as_deref(), Some("a"));
        assert!(store.release("k", "a").await.expect("release"));
        assert_eq!(store.owner("k").await.expect("owner"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_locks_are_free() {
        let store = MemoryLockStore::new();
        assert!(store.acquire("k", "a", Duration::from_secs(1)).await.expect("acquire"));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(store.owner("k").await.expect("owner"), None);
        assert!(!store.renew("k", "a", Duration::from_secs(1)).await.expect("renew"));
        assert!(store.acquire("k", "b", Duration::from_secs(1)).await.expect("acquire"));
    }
}
