//! Starting runs: typed ([`WorkflowStart`]), by a linked workflow's
//! registration with JSON arguments, or by name unchecked.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::definition::{Workflow, WorkflowRegistration};
use super::handle::WorkflowHandle;
use super::resume;
use super::run::{CancellationPolicy, NewRun, RunId};
use super::store::Resumed;
use crate::backend::{TaskState, TaskStatus};
use crate::error::{Error, Result};
use crate::stem::Stem;

/// One run of workflow `W` about to start, with per-run options. Made by the
/// generated `Checkout::call(args)`.
pub struct WorkflowStart<W: Workflow> {
    args: W::Args,
    id: Option<RunId>,
    queue: Option<String>,
    policy: CancellationPolicy,
    _workflow: PhantomData<fn() -> W>,
}

impl<W: Workflow> WorkflowStart<W> {
    /// A run of `W` with `args` and the workflow's defaults.
    pub fn new(args: W::Args) -> Self {
        let o = W::OPTIONS;
        let policy = CancellationPolicy { max_run_time: o.max_run_time, max_suspended_time: o.max_suspended_time };
        Self { args, id: None, queue: None, policy, _workflow: PhantomData }
    }

    /// Runs under this id (for idempotent starts: a second start with one id fails
    /// with [`Error::RunExists`]); a new UUID v7 otherwise.
    pub fn run_id(mut self, id: RunId) -> Self {
        self.id = Some(id);
        self
    }

    /// Executes on `queue` instead of the workflow's default.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Cancels the run once it has taken longer than `limit` in all.
    pub fn max_run_time(mut self, limit: Duration) -> Self {
        self.policy.max_run_time = Some(limit);
        self
    }

    /// Cancels the run once one sleep or event wait has lasted longer than `limit`.
    pub fn max_suspended_time(mut self, limit: Duration) -> Self {
        self.policy.max_suspended_time = Some(limit);
        self
    }

    /// Starts many runs together: their runs created, their statuses
    /// recorded and their first executions enqueued in one batch each (one
    /// round trip each where the store allows), rather than three round trips
    /// per run. The handles come in the order of `starts`.
    ///
    /// A start whose run id is taken fails the call with
    /// [`Error::RunExists`] naming the first such id; the other runs are
    /// started all the same (their ids are the ones given, or read them from
    /// a call without taken ids).
    pub async fn start_many(
        stem: &Stem,
        starts: impl IntoIterator<Item = Self>,
    ) -> Result<Vec<WorkflowHandle<W::Output>>> {
        let at = stem.synced_now().await?;
        let runs = starts
            .into_iter()
            .map(|start| {
                let args = serde_json::to_value(&start.args)
                    .map_err(|e| Error::Codec { codec: "json".to_owned(), message: e.to_string() })?;
                let queue = start.queue.unwrap_or_else(|| W::OPTIONS.queue.to_owned());
                let id = start.id.unwrap_or_default();
                Ok(NewRun { id, workflow: W::NAME.to_owned(), queue, args, policy: start.policy, at })
            })
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<RunId> = runs.iter().map(|r| r.id).collect();
        start_runs(stem, runs).await?;
        Ok(ids.into_iter().map(|id| WorkflowHandle::new(stem.clone(), id)).collect())
    }

    /// Creates the run and enqueues its first execution.
    ///
    /// If the enqueue fails, the error is returned but the run exists: a
    /// worker picks it up as a lost run within about five minutes, so retry with the
    /// same run id rather than a new one.
    pub async fn start(self, stem: &Stem) -> Result<WorkflowHandle<W::Output>> {
        let id = self.id.unwrap_or_default();
        let queue = self.queue.unwrap_or_else(|| W::OPTIONS.queue.to_owned());
        let args = serde_json::to_value(&self.args)
            .map_err(|e| Error::Codec { codec: "json".to_owned(), message: e.to_string() })?;
        start_run(stem, id, W::NAME, queue, args, self.policy).await?;
        Ok(WorkflowHandle::new(stem.clone(), id))
    }
}

/// Creates run `id` of the workflow named `workflow` with its (JSON) `args`,
/// records it queued for waiting handles, and enqueues its first execution.
pub(crate) async fn start_run(
    stem: &Stem,
    id: RunId,
    workflow: &str,
    queue: String,
    args: serde_json::Value,
    policy: CancellationPolicy,
) -> Result<()> {
    let run = NewRun { id, workflow: workflow.to_owned(), queue, args, policy, at: stem.synced_now().await? };
    start_runs(stem, vec![run]).await
}

/// Creates `runs`, records them queued and enqueues their first executions,
/// a batch each. Fails with [`Error::RunExists`] for the first run whose id
/// was taken, after starting the others.
pub(crate) async fn start_runs(stem: &Stem, runs: Vec<NewRun>) -> Result<()> {
    for run in &runs {
        crate::queue::check_for(&format!("workflow `{}`: ", run.workflow), &run.queue)?;
    }
    let started: Vec<(RunId, String, String)> =
        runs.iter().map(|r| (r.id, r.workflow.clone(), r.queue.clone())).collect();
    let created = stem.workflows().create_runs(runs).await?;
    let mut taken = None;
    let (mut statuses, mut executions) = (Vec::new(), Vec::new());
    for ((id, workflow, queue), created) in started.into_iter().zip(created) {
        if !created {
            taken.get_or_insert(id);
            continue;
        }
        statuses.push(TaskStatus::new(id, workflow, queue.clone(), TaskState::Queued));
        executions.push(Resumed { run: id, queue });
    }
    if !statuses.is_empty() {
        stem.backend().set_batch(&mut statuses).await?;
        resume::continue_runs(stem, executions).await?;
    }
    taken.map_or(Ok(()), |id| Err(Error::RunExists(id)))
}

impl<W: Workflow> fmt::Debug for WorkflowStart<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowStart").field("workflow", &W::NAME).field("id", &self.id).finish_non_exhaustive()
    }
}

impl WorkflowRegistration {
    /// Starts a run with `args` given as JSON (for front ends such as the
    /// CLI), checked against the workflow's own `Args` first: fails with
    /// [`Error::Args`], naming the field and why, when they do not decode,
    /// and nothing is started. The run has the workflow's defaults.
    pub async fn start_json(&self, stem: &Stem, args: &serde_json::Value) -> Result<WorkflowHandle<serde_json::Value>> {
        let args = self.checked_args(args)?;
        let o = self.options();
        let policy = CancellationPolicy { max_run_time: o.max_run_time, max_suspended_time: o.max_suspended_time };
        let id = super::RunId::default();
        start_run(stem, id, self.name(), o.queue.to_owned(), args, policy).await?;
        Ok(WorkflowHandle::new(stem.clone(), id))
    }
}

impl Stem {
    /// Starts a run of the workflow named `workflow` on `queue` with `args`
    /// as given, unchecked: for front ends that do not link the workflow
    /// (the bare `stem` binary). The worker that executes the run decodes the
    /// arguments; if they do not decode, the run fails saying why. A binary
    /// that links the workflow checks them first with
    /// [`WorkflowRegistration::start_json`](super::WorkflowRegistration::start_json).
    pub async fn start_workflow_json(
        &self,
        workflow: &str,
        queue: &str,
        args: serde_json::Value,
    ) -> Result<WorkflowHandle<serde_json::Value>> {
        let id = RunId::default();
        start_run(self, id, workflow, queue.to_owned(), args, CancellationPolicy::NONE).await?;
        Ok(WorkflowHandle::new(self.clone(), id))
    }
}
