//! Waiters by task id, for the adapters whose `wait` is woken by a message
//! from the store (Redis pub/sub, Postgres LISTEN/NOTIFY): every `wait` of one
//! task shares one notifier, woken when the store says the task is final.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use stem::TaskId;
use stem::backend::TaskStatus;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often a `wait` reads the status again even without a wake-up: a safety
/// net for a message lost while the subscription reconnected.
const SAFETY_NET: Duration = Duration::from_secs(3);

/// Waits until `get` reads a final status, or `timeout` passes (then returns
/// what it reads last): reads, sleeps until `notify` wakes it (or the safety
/// net's time), reads again.
pub(crate) async fn wait_final<F, Fut>(notify: &Notify, timeout: Duration, get: F) -> stem::Result<Option<TaskStatus>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = stem::Result<Option<TaskStatus>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let status = get().await?;
        if status.as_ref().is_some_and(|s| s.state.is_terminal()) || Instant::now() >= deadline {
            return Ok(status);
        }
        let look_again = deadline.min(Instant::now() + SAFETY_NET);
        if tokio::time::timeout_at(look_again, notified).await.is_err() && Instant::now() >= deadline {
            return get().await;
        }
    }
}

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
