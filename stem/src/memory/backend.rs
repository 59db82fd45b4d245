//! The in-memory result backend.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::backend::{
    DEFAULT_RESULT_RETENTION, GroupCount, GroupMember, GroupStatus, ResultBackend, TaskCursor, TaskListing, TaskPage,
    TaskQuery, TaskStatus, WorkerHeartbeat,
};
use crate::error::Result;
use crate::id::TaskId;
use crate::id_map::IdMap;

/// A [`ResultBackend`] in process memory. `wait` wakes on the write that ends the
/// task, without polling. Final states expire after the retention. It lists
/// statuses ([`TaskListing`]) by scanning them all: no index costs its writes
/// anything.
#[derive(Debug)]
pub struct MemoryBackend {
    state: Mutex<State>,
    retention: Duration,
}

#[derive(Debug, Default)]
struct State {
    tasks: IdMap<TaskId, Record>,
    waiters: IdMap<TaskId, Arc<Notify>>,
    groups: IdMap<TaskId, (GroupStatus, Instant)>,
    heartbeats: HashMap<String, (WorkerHeartbeat, Instant)>,
    /// Expiry times of records, soonest first; an entry whose record now
    /// expires at another time is stale and skipped.
    expiries: BinaryHeap<Reverse<(Instant, TaskId)>>,
}

#[derive(Debug)]
struct Record {
    status: TaskStatus,
    expires: Option<Instant>,
}

impl Record {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::with_retention(DEFAULT_RESULT_RETENTION)
    }
}

impl MemoryBackend {
    /// An empty backend keeping final states for [`DEFAULT_RESULT_RETENTION`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty backend keeping final states for `retention`.
    pub fn with_retention(retention: Duration) -> Self {
        Self { state: Mutex::new(State::default()), retention }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    fn live(&self, id: TaskId, now: Instant) -> Option<&TaskStatus> {
        self.tasks.get(&id).filter(|r| r.live(now)).map(|r| &r.status)
    }

    /// Drops expired records, so memory stays bounded.
    fn sweep(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.expiries.peek() {
            if at > now {
                break;
            }
            self.expiries.pop();
            if self.tasks.get(&id).is_some_and(|r| r.expires == Some(at)) {
                self.tasks.remove(&id);
            }
            if self.groups.get(&id).is_some_and(|(_, until)| *until == at) {
                self.groups.remove(&id);
            }
        }
    }

    fn live_group(&mut self, id: TaskId) -> Option<&mut GroupStatus> {
        self.groups.get_mut(&id).filter(|(_, until)| *until > Instant::now()).map(|(g, _)| g)
    }

    fn expire_at(&mut self, id: TaskId, at: Instant) {
        if let Some(record) = self.tasks.get_mut(&id) {
            record.expires = Some(at);
            self.expiries.push(Reverse((at, id)));
        }
    }
}

impl MemoryBackend {
    /// Stores each status its fence allows, as it is (no copy).
    fn store(&self, statuses: impl ExactSizeIterator<Item = TaskStatus>) -> Vec<bool> {
        let now = Instant::now();
        let mut state = self.state();
        state.sweep(now);
        let mut stored = Vec::with_capacity(statuses.len());
        let state = &mut *state;
        for status in statuses {
            let id = status.id;
            let expires = status.state.is_terminal().then(|| now + self.retention);
            // One lookup: the record is overwritten in place when there is one
            // (there usually is: the producer's queued record).
            match state.tasks.get_mut(&id) {
                Some(old) if old.live(now) && old.status.fence > status.fence => {
                    stored.push(false);
                    continue;
                }
                Some(old) => {
                    let mut status = status;
                    // The record keeps its own copies of names that did not
                    // change, and the caller's copies go now: the writer frees
                    // what it allocated and reuses it at once, which keeps the
                    // allocator on its fast path (a measured 10% of a drain).
                    if old.status.task == status.task {
                        std::mem::swap(&mut old.status.task, &mut status.task);
                    }
                    if old.status.queue == status.queue {
                        std::mem::swap(&mut old.status.queue, &mut status.queue);
                    }
                    old.status = status;
                    old.expires = expires;
                }
                None => {
                    state.tasks.insert(id, Record { status, expires });
                }
            }
            if let Some(at) = expires {
                state.expiries.push(Reverse((at, id)));
                if let Some(waiter) = state.waiters.remove(&id) {
                    waiter.notify_waiters();
                }
            }
            stored.push(true);
        }
        stored
    }
}

#[async_trait]
impl ResultBackend for MemoryBackend {
    async fn set_batch(&self, statuses: &mut Vec<TaskStatus>) -> Result<Vec<bool>> {
        Ok(self.store(statuses.drain(..)))
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskStatus>> {
        Ok(self.state().live(id, Instant::now()).cloned())
    }

    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            let waiter = {
                let mut state = self.state();
                match state.live(id, Instant::now()) {
                    Some(status) if status.state.is_terminal() => return Ok(Some(status.clone())),
                    None if !state.waiters.contains_key(&id) && Instant::now() >= deadline => return Ok(None),
                    _ => {}
                }
                Arc::clone(state.waiters.entry(id).or_default())
            };
            let notified = waiter.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // The write may have landed between the check and `enable`.
            if let Some(status) = self.state().live(id, Instant::now()).filter(|s| s.state.is_terminal()) {
                return Ok(Some(status.clone()));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(self.state().live(id, Instant::now()).cloned());
            }
        }
    }

    async fn expire(&self, id: TaskId, ttl: Duration) -> Result<()> {
        let at = Instant::now() + ttl;
        let mut state = self.state();
        state.expire_at(id, at);
        if let Some((_, until)) = state.groups.get_mut(&id) {
            *until = at;
            state.expiries.push(Reverse((at, id)));
        }
        Ok(())
    }

    async fn group_init(&self, group: TaskId, expected: usize) -> Result<()> {
        let status = GroupStatus { id: group, expected, results: Default::default(), chord_callback: None };
        let mut state = self.state();
        let until = Instant::now() + self.retention;
        state.groups.insert(group, (status, until));
        state.expiries.push(Reverse((until, group)));
        Ok(())
    }

    async fn group_add(&self, members: &[GroupMember]) -> Result<Vec<Option<GroupCount>>> {
        let mut state = self.state();
        Ok(members
            .iter()
            .map(|m| {
                state.live_group(m.group).map(|g| {
                    g.results.insert(m.index, m.status.clone());
                    GroupCount { expected: g.expected, done: g.results.len() }
                })
            })
            .collect())
    }

    async fn group_get(&self, group: TaskId) -> Result<Option<GroupStatus>> {
        Ok(self.state().live_group(group).map(|g| g.clone()))
    }

    async fn claim_chord(&self, group: TaskId, callback: TaskId) -> Result<bool> {
        let mut state = self.state();
        Ok(match state.live_group(group) {
            Some(g) if g.chord_callback.is_none() => {
                g.chord_callback = Some(callback);
                true
            }
            _ => false,
        })
    }

    async fn set_heartbeat(&self, heartbeat: WorkerHeartbeat, ttl: Duration) -> Result<()> {
        let until = Instant::now() + ttl;
        let mut state = self.state();
        state.heartbeats.retain(|_, (_, until)| *until > Instant::now());
        state.heartbeats.insert(heartbeat.worker_id.clone(), (heartbeat, until));
        Ok(())
    }

    async fn list_heartbeats(&self) -> Result<Vec<WorkerHeartbeat>> {
        let now = Instant::now();
        let state = self.state();
        let mut beats: Vec<_> =
            state.heartbeats.values().filter(|(_, until)| *until > now).map(|(hb, _)| hb.clone()).collect();
        beats.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
        Ok(beats)
    }

    fn listing(&self) -> Option<&dyn TaskListing> {
        Some(self)
    }
}

#[async_trait]
impl TaskListing for MemoryBackend {
    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage> {
        let (size, after) = (query.page_size(), query.cursor()?);
        let now = Instant::now();
        let state = self.state();
        let mut found: Vec<(TaskCursor, &TaskStatus)> = state
            .tasks
            .values()
            .filter(|r| r.live(now))
            .map(|r| &r.status)
            .filter(|s| query.task.as_deref().is_none_or(|task| s.task == task))
            .filter(|s| query.state.is_none_or(|state| s.state == state))
            .map(|s| (TaskCursor::of(s), s))
            .filter(|(at, _)| after.is_none_or(|after| *at < after))
            .collect();
        found.sort_unstable_by_key(|(at, _)| std::cmp::Reverse(*at));
        found.truncate(size + 1);
        Ok(TaskPage::from_rows(found.into_iter().map(|(at, s)| (at, s.clone())).collect(), size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::TaskState;

    fn done(id: TaskId) -> TaskStatus {
        TaskStatus::new(id, "t", "q", TaskState::Succeeded)
    }

    #[tokio::test(start_paused = true)]
    async fn final_states_and_heartbeats_expire() -> Result<()> {
        let backend = MemoryBackend::with_retention(Duration::from_secs(60));
        let id = TaskId::new();
        backend.set(done(id)).await?;
        backend.set_heartbeat(WorkerHeartbeat::new("w1", vec!["q".into()], 4), Duration::from_secs(30)).await?;
        assert!(backend.get(id).await?.is_some());
        assert_eq!(backend.list_heartbeats().await?.len(), 1);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(backend.list_heartbeats().await?.is_empty());
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(backend.get(id).await?, None, "kept for the retention, then gone");
        Ok(())
    }

    #[tokio::test]
    async fn wait_wakes_on_the_final_write() -> Result<()> {
        let backend = Arc::new(MemoryBackend::new());
        let id = TaskId::new();
        backend.set(TaskStatus::new(id, "t", "q", TaskState::Queued)).await?;
        let waiter = tokio::spawn({
            let backend = Arc::clone(&backend);
            async move { backend.wait(id, Duration::from_secs(30)).await }
        });
        tokio::task::yield_now().await;
        backend.set(done(id)).await?;
        let status = tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("woken").expect("joined")?;
        assert_eq!(status.map(|s| s.state), Some(TaskState::Succeeded));
        Ok(())
    }
}
