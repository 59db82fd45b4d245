//! The in-memory schedule store.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::beat::{Claim, Fired, ScheduleEntry, ScheduleStore};
use crate::error::Result;

/// A [`ScheduleStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemoryScheduleStore {
    entries: Mutex<BTreeMap<String, ScheduleEntry>>,
}

impl MemoryScheduleStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, ScheduleEntry>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ScheduleStore for MemoryScheduleStore {
    async fn put(&self, entry: &ScheduleEntry) -> Result<()> {
        let mut entries = self.entries();
        let mut new = entry.clone();
        if let Some(old) = entries.get(&entry.id) {
            new.last_fire = old.last_fire;
            new.last_drift_ms = old.last_drift_ms;
            new.runs = old.runs;
            new.skipped = old.skipped;
            new.last_error.clone_from(&old.last_error);
        }
        entries.insert(entry.id.clone(), new);
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<ScheduleEntry>> {
        Ok(self.entries().get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<ScheduleEntry>> {
        Ok(self.entries().values().cloned().collect())
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        Ok(self.entries().remove(id).is_some())
    }

    async fn set_enabled(&self, id: &str, enabled: bool, next_fire: Option<DateTime<Utc>>) -> Result<bool> {
        Ok(self.entries().get_mut(id).map(|e| (e.enabled, e.next_fire) = (enabled, next_fire)).is_some())
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ScheduleEntry>> {
        let entries = self.entries();
        let mut due: Vec<&ScheduleEntry> =
            entries.values().filter(|e| e.enabled && e.next_fire.is_some_and(|f| f <= now)).collect();
        due.sort_by_key(|e| e.next_fire);
        Ok(due.into_iter().take(limit).cloned().collect())
    }

    async fn claim(&self, claims: &[Claim]) -> Result<Vec<bool>> {
        let mut entries = self.entries();
        Ok(claims
            .iter()
            .map(|claim| match entries.get_mut(&claim.id) {
                Some(e) if e.enabled && e.next_fire == Some(claim.fire) => {
                    e.next_fire = claim.next;
                    e.last_fire = Some(claim.last);
                    e.runs += claim.enqueued;
                    e.skipped += claim.skipped;
                    true
                }
                _ => false,
            })
            .collect())
    }

    async fn record(&self, fired: &[Fired]) -> Result<()> {
        let mut entries = self.entries();
        for f in fired {
            if let Some(e) = entries.get_mut(&f.id) {
                e.last_drift_ms = Some(f.drift_ms);
                e.last_error.clone_from(&f.error);
            }
        }
        Ok(())
    }
}
