//! The in-memory result backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::backend::{DEFAULT_RESULT_RETENTION, GroupStatus, ResultBackend, TaskStatus, WorkerHeartbeat};
use crate::error::Result;
use crate::id::TaskId;

/// A [`ResultBackend`] in process memory. `wait` wakes on the write that ends the
/// task, without polling. Final states expire after the retention.
#[derive(Debug)]
pub struct MemoryBackend {
    state: Mutex<State>,
    retention: Duration,
}

#[derive(Debug, Default)]
struct State {
    tasks: HashMap<TaskId, Record>,
    waiters: HashMap<TaskId, Arc<Notify>>,
    groups: HashMap<TaskId, GroupStatus>,
    heartbeats: HashMap<String, (WorkerHeartbeat, Instant)>,
    writes: u64,
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

    /// Drops expired records now and then, so memory stays bounded.
    fn sweep(&mut self, now: Instant) {
        self.writes += 1;
        if self.writes % 4096 == 0 {
            self.tasks.retain(|_, r| r.live(now));
            self.heartbeats.retain(|_, (_, until)| *until > now);
        }
    }
}

#[async_trait]
impl ResultBackend for MemoryBackend {
    async fn set_batch(&self, statuses: Vec<TaskStatus>) -> Result<Vec<bool>> {
        let now = Instant::now();
        let mut state = self.state();
        let mut stored = Vec::with_capacity(statuses.len());
        for status in statuses {
            let id = status.id;
            if state.live(id, now).is_some_and(|old| old.fence > status.fence) {
                stored.push(false);
                continue;
            }
            let terminal = status.state.is_terminal();
            let expires = terminal.then(|| now + self.retention);
            state.tasks.insert(id, Record { status, expires });
            if terminal && let Some(waiter) = state.waiters.remove(&id) {
                waiter.notify_waiters();
            }
            state.sweep(now);
            stored.push(true);
        }
        Ok(stored)
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
        if let Some(record) = self.state().tasks.get_mut(&id) {
            record.expires = Some(Instant::now() + ttl);
        }
        Ok(())
    }

    async fn group_init(&self, group: TaskId, expected: usize) -> Result<()> {
        let status = GroupStatus { id: group, expected, results: Default::default(), chord_callback: None };
        self.state().groups.insert(group, status);
        Ok(())
    }

    async fn group_add(&self, group: TaskId, status: TaskStatus) -> Result<Option<GroupStatus>> {
        let mut state = self.state();
        Ok(state.groups.get_mut(&group).map(|g| {
            g.results.insert(status.id, status);
            g.clone()
        }))
    }

    async fn group_get(&self, group: TaskId) -> Result<Option<GroupStatus>> {
        Ok(self.state().groups.get(&group).cloned())
    }

    async fn claim_chord(&self, group: TaskId, callback: TaskId) -> Result<bool> {
        let mut state = self.state();
        Ok(match state.groups.get_mut(&group) {
            Some(g) if g.chord_callback.is_none() => {
                g.chord_callback = Some(callback);
                true
            }
            _ => false,
        })
    }

    async fn set_heartbeat(&self, heartbeat: WorkerHeartbeat, ttl: Duration) -> Result<()> {
        let until = Instant::now() + ttl;
        self.state().heartbeats.insert(heartbeat.worker_id.clone(), (heartbeat, until));
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
}
