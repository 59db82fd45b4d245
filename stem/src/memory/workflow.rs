//! The in-memory workflow store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::workflow::{
    Checkpoint, Finish, NewRun, Resumed, RunFilter, RunId, RunState, RunStatus, Suspension, Watcher, WorkflowStore,
};

/// A [`WorkflowStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemoryWorkflowStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    runs: HashMap<RunId, Run>,
    /// Watchers in registration order (the key is a sequence number).
    watchers: BTreeMap<u64, Watcher>,
    next_watcher: u64,
}

#[derive(Debug)]
struct Run {
    state: RunState,
    checkpoints: BTreeMap<u32, Checkpoint>,
}

impl MemoryWorkflowStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    /// The run if it is running and `owner` holds its lease.
    fn owned(&mut self, id: RunId, owner: &str) -> Option<&mut Run> {
        self.runs
            .get_mut(&id)
            .filter(|r| r.state.status == RunStatus::Running && r.state.owner.as_deref() == Some(owner))
    }

    fn drop_watchers(&mut self, id: RunId) {
        self.watchers.retain(|_, w| w.run != id);
    }
}

impl Run {
    fn record(&mut self, checkpoint: Checkpoint) {
        self.state.updated_at = checkpoint.at;
        self.checkpoints.insert(checkpoint.position, checkpoint);
        self.state.cursor = u32::try_from(self.checkpoints.len()).unwrap_or(u32::MAX);
    }

    /// Makes a suspended run running again.
    fn wake(&mut self, now: DateTime<Utc>) -> Resumed {
        self.state.status = RunStatus::Running;
        self.end_wait(now);
        Resumed { run: self.state.id, queue: self.state.queue.clone() }
    }

    /// Clears the run's wait (topic, wake time, suspension time) and stamps `now`.
    fn end_wait(&mut self, now: DateTime<Utc>) {
        let s = &mut self.state;
        s.wait_topic = None;
        s.resume_at = None;
        s.suspended_at = None;
        s.updated_at = now;
    }

    /// Clears the lease.
    fn release(&mut self) {
        self.state.owner = None;
        self.state.lease_until = None;
    }
}

#[async_trait]
impl WorkflowStore for MemoryWorkflowStore {
    async fn create_run(&self, run: NewRun) -> Result<()> {
        let mut state = self.state();
        if state.runs.contains_key(&run.id) {
            return Err(Error::RunExists(run.id));
        }
        state.runs.insert(run.id, Run { state: RunState::new(run), checkpoints: BTreeMap::new() });
        Ok(())
    }

    async fn get_run(&self, id: RunId) -> Result<Option<RunState>> {
        Ok(self.state().runs.get(&id).map(|r| r.state.clone()))
    }

    async fn checkpoints(&self, id: RunId) -> Result<Vec<Checkpoint>> {
        Ok(self.state().runs.get(&id).map(|r| r.checkpoints.values().cloned().collect()).unwrap_or_default())
    }

    async fn claim_run(&self, id: RunId, owner: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let mut state = self.state();
        let Some(run) = state.runs.get_mut(&id) else { return Ok(false) };
        let s = &mut run.state;
        let free = s.owner.as_deref().is_none_or(|o| o == owner) || s.lease_until.is_none_or(|t| t <= now);
        if s.status != RunStatus::Running || !free {
            return Ok(false);
        }
        s.owner = Some(owner.to_owned());
        s.lease_until = Some(until);
        Ok(true)
    }

    async fn renew_run(&self, id: RunId, owner: &str, until: DateTime<Utc>) -> Result<bool> {
        Ok(self.state().owned(id, owner).map(|run| run.state.lease_until = Some(until)).is_some())
    }

    async fn release_run(&self, id: RunId, owner: &str) -> Result<()> {
        if let Some(run) = self.state().runs.get_mut(&id)
            && run.state.owner.as_deref() == Some(owner)
        {
            run.state.owner = None;
            run.state.lease_until = None;
        }
        Ok(())
    }

    async fn save_checkpoint(&self, id: RunId, owner: &str, checkpoint: Checkpoint) -> Result<bool> {
        let mut state = self.state();
        let Some(run) = state.owned(id, owner) else { return Ok(false) };
        if run.checkpoints.contains_key(&checkpoint.position) {
            return Ok(false);
        }
        run.record(checkpoint);
        Ok(true)
    }

    async fn suspend_run(&self, id: RunId, owner: &str, suspension: Suspension) -> Result<bool> {
        let mut state = self.state();
        let Some(run) = state.owned(id, owner) else { return Ok(false) };
        if let Some(c) = &suspension.checkpoint
            && run.checkpoints.contains_key(&c.position)
        {
            return Ok(false);
        }
        if let Some(c) = suspension.checkpoint {
            run.record(c);
        }
        let s = &mut run.state;
        s.status = RunStatus::Suspended;
        s.resume_at = suspension.resume_at;
        s.suspended_at = Some(suspension.at);
        s.wait_topic = suspension.watch.as_ref().map(|w| w.topic.clone());
        s.updated_at = suspension.at;
        run.release();
        if let Some(watch) = suspension.watch {
            let watcher = Watcher { run: id, watch, deadline: suspension.resume_at, created_at: suspension.at };
            state.next_watcher += 1;
            let seq = state.next_watcher;
            state.watchers.insert(seq, watcher);
        }
        Ok(true)
    }

    async fn resolve_watchers(
        &self,
        topic: &str,
        value: Value,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Resumed>> {
        let mut state = self.state();
        let chosen: Vec<Watcher> =
            state.watchers.values().filter(|w| w.watch.topic == topic).take(limit).cloned().collect();
        let mut resumed = Vec::with_capacity(chosen.len());
        for watcher in chosen {
            state.drop_watchers(watcher.run);
            let Some(run) = state.runs.get_mut(&watcher.run).filter(|r| r.state.status == RunStatus::Suspended) else {
                continue;
            };
            let at = watcher.watch.position;
            run.record(Checkpoint { position: at, name: watcher.watch.step, value: value.clone(), at: now });
            resumed.push(run.wake(now));
        }
        Ok(resumed)
    }

    async fn due_runs(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>> {
        let mut state = self.state();
        let mut due: Vec<(DateTime<Utc>, RunId)> = state
            .runs
            .values()
            .filter(|r| r.state.status == RunStatus::Suspended)
            .filter_map(|r| r.state.resume_at.filter(|t| *t <= now).map(|t| (t, r.state.id)))
            .collect();
        due.sort();
        due.truncate(limit);
        let mut resumed = Vec::with_capacity(due.len());
        for (_, id) in due {
            state.drop_watchers(id);
            if let Some(run) = state.runs.get_mut(&id) {
                resumed.push(run.wake(now));
            }
        }
        Ok(resumed)
    }

    async fn stale_runs(&self, idle_since: DateTime<Utc>, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>> {
        let mut state = self.state();
        let mut stale: Vec<&mut Run> = state
            .runs
            .values_mut()
            .filter(|r| {
                let s = &r.state;
                s.status == RunStatus::Running && s.lease_until.is_none_or(|t| t <= now) && s.updated_at <= idle_since
            })
            .collect();
        stale.sort_by_key(|r| r.state.updated_at);
        Ok(stale
            .into_iter()
            .take(limit)
            .map(|r| {
                r.state.updated_at = now;
                Resumed { run: r.state.id, queue: r.state.queue.clone() }
            })
            .collect())
    }

    async fn finish_run(&self, id: RunId, owner: Option<&str>, finish: Finish, now: DateTime<Utc>) -> Result<bool> {
        let mut state = self.state();
        let Some(run) = state.runs.get_mut(&id) else { return Ok(false) };
        let s = &mut run.state;
        let allowed = match owner {
            Some(owner) => s.status == RunStatus::Running && s.owner.as_deref() == Some(owner),
            None => !s.status.is_terminal(),
        };
        if !allowed {
            return Ok(false);
        }
        s.status = finish.status();
        match finish {
            Finish::Completed(value) => s.result = Some(value),
            Finish::Failed(error) | Finish::Cancelled(error) => s.error = Some(error),
        }
        run.end_wait(now);
        run.release();
        state.drop_watchers(id);
        Ok(true)
    }

    async fn record_error(&self, id: RunId, error: &str, now: DateTime<Utc>) -> Result<bool> {
        let mut state = self.state();
        let Some(run) = state.runs.get_mut(&id).filter(|r| !r.state.status.is_terminal()) else { return Ok(false) };
        run.state.error = Some(error.to_owned());
        run.state.updated_at = now;
        Ok(true)
    }

    async fn rewind_run(&self, id: RunId, position: u32, now: DateTime<Utc>) -> Result<bool> {
        let mut state = self.state();
        let Some(run) = state.runs.get_mut(&id) else { return Ok(false) };
        run.checkpoints.retain(|p, _| *p < position);
        run.state.cursor = u32::try_from(run.checkpoints.len()).unwrap_or(u32::MAX);
        run.state.result = None;
        run.state.error = None;
        run.wake(now);
        run.release();
        state.drop_watchers(id);
        Ok(true)
    }

    async fn prune_runs(&self, ended_before: DateTime<Utc>, limit: usize) -> Result<usize> {
        let mut state = self.state();
        let mut ended: Vec<(DateTime<Utc>, RunId)> = state
            .runs
            .values()
            .filter(|r| r.state.status.is_terminal() && r.state.updated_at <= ended_before)
            .map(|r| (r.state.updated_at, r.state.id))
            .collect();
        ended.sort();
        ended.truncate(limit);
        for (_, id) in &ended {
            state.runs.remove(id);
            state.drop_watchers(*id);
        }
        Ok(ended.len())
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunState>> {
        let state = self.state();
        let mut runs: Vec<&RunState> = state.runs.values().map(|r| &r.state).filter(|s| filter.matches(s)).collect();
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(runs.into_iter().skip(filter.offset).take(filter.effective_limit()).cloned().collect())
    }

    async fn list_watchers(&self, topic: &str, limit: usize) -> Result<Vec<Watcher>> {
        Ok(self.state().watchers.values().filter(|w| w.watch.topic == topic).take(limit).cloned().collect())
    }
}
