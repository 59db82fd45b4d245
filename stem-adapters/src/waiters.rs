//! Waiters by task id, for the adapters whose `wait` is woken by a message
//! from the store (Redis pub/sub, Postgres LISTEN/NOTIFY): every `wait` of one
//! task shares one notifier, woken when the store says the task is final.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use stem::TaskId;
use tokio::sync::Notify;

/// Waiters by task id, woken when their task's final state is published.
#[derive(Debug, Default)]
pub(crate) struct Waiters(Mutex<HashMap<TaskId, Weak<Notify>>>);

impl Waiters {
    /// The notifier for `id`, shared by every waiter of that task.
    pub(crate) fn register(&self, id: TaskId) -> Arc<Notify> {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(notify) = map.get(&id).and_then(Weak::upgrade) {
            return notify;
        }
        if map.len() >= 1024 && map.len().is_power_of_two() {
            // Forget the waiters that are gone, now and then: amortized, not per call.
            map.retain(|_, w| w.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        map.insert(id, Arc::downgrade(&notify));
        notify
    }

    /// Wakes the waiters of `id`.
    pub(crate) fn wake(&self, id: TaskId) {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(notify) = map.get(&id).and_then(Weak::upgrade) {
            notify.notify_waiters();
        }
    }

    /// Wakes every waiter (after a message may have been missed).
    pub(crate) fn wake_all(&self) {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for notify in map.values().filter_map(Weak::upgrade) {
            notify.notify_waiters();
        }
    }
}
