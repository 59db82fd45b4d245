//! The in-memory revoke store.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::id::TaskId;
use crate::revoke::{Revoke, RevokeStore};

/// A [`RevokeStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemoryRevokeStore {
    revokes: Mutex<BTreeMap<TaskId, Revoke>>,
}

impl MemoryRevokeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn revokes(&self) -> MutexGuard<'_, BTreeMap<TaskId, Revoke>> {
        self.revokes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl RevokeStore for MemoryRevokeStore {
    async fn put(&self, revokes: &[Revoke]) -> Result<()> {
        let mut held = self.revokes();
        for revoke in revokes {
            held.insert(revoke.id, revoke.clone());
        }
        Ok(())
    }

    async fn live(&self, now: DateTime<Utc>) -> Result<Vec<Revoke>> {
        Ok(self.revokes().values().filter(|r| r.expires > now).cloned().collect())
    }

    async fn is_revoked(&self, id: TaskId, now: DateTime<Utc>) -> Result<Option<Revoke>> {
        Ok(self.revokes().get(&id).filter(|r| r.expires > now).cloned())
    }

    async fn remove(&self, id: TaskId) -> Result<bool> {
        Ok(self.revokes().remove(&id).is_some())
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut held = self.revokes();
        let before = held.len();
        held.retain(|_, r| r.expires > now);
        Ok((before - held.len()) as u64)
    }
}
