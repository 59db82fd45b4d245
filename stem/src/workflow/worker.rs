//! Workflows in the worker: the [`Extension`] that lets a worker execute runs
//! (the task `stem.workflow.run`), wake them when their timers are due, and
//! resume them when a task they called ends; and the builder methods that
//! configure it.

use std::time::Duration;

use super::calls;
use super::definition::{self, Workflow, linked};
use super::runner::RunWorkflow;
use super::timers;
use crate::backend::TaskStatus;
use crate::envelope::Envelope;
use crate::stem::Stem;
use crate::task::{Registry, Task};
use crate::worker::{
    Extension, FollowUp, LinkedExtension, Recorded, Service, StatusListener, WorkerBuilder, WorkerInfo,
};

/// How long ended workflow runs are kept by default.
pub const DEFAULT_WORKFLOW_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long a running workflow run may go untouched and unleased before a
/// worker re-enqueues it as lost (its execution message was lost in a crash
/// between a wake-up and its enqueue).
const LOST_RUN_AFTER: Duration = Duration::from_secs(300);

/// The workflow extension of a worker. Every worker has it: a worker whose
/// tasks are not picked by hand runs every linked workflow; one whose tasks
/// are picked runs those added with [`WorkerBuilder::workflow`].
#[derive(Debug)]
pub(crate) struct Workflows {
    /// The queues of the workflows added by hand.
    queues: Vec<String>,
    /// How often due runs are looked for.
    poll: Duration,
    /// How long ended runs are kept.
    retention: Duration,
}

impl Default for Workflows {
    fn default() -> Self {
        Self { queues: Vec::new(), poll: Duration::from_secs(1), retention: DEFAULT_WORKFLOW_RETENTION }
    }
}

inventory::submit! { LinkedExtension::new(|| Box::new(Workflows::default())) }

// A called task that will never run (a canvas step stopped by a failure
// before it) resumes its run as soon as its state is written.
inventory::submit! {
    StatusListener::new(|stem, statuses| {
        Box::pin(async move {
            for status in statuses.iter().filter(|s| calls::is_call(s.id)) {
                calls::notify(&stem, status).await;
            }
        })
    })
}

impl Extension for Workflows {
    /// Two linked workflows with one name fail the build, naming both.
    fn check(&self) -> crate::Result<()> {
        definition::check_linked()
    }

    /// A worker that runs every linked task runs workflow executions too.
    fn tasks(&self, explicit: bool) -> Registry {
        if explicit { Registry::new() } else { Registry::new().register::<RunWorkflow>() }
    }

    /// Where it runs executions: the queues of the workflows added by hand,
    /// and, unless its tasks were picked by hand, of every linked workflow.
    fn queues(&self, registry: &Registry, explicit: bool) -> Vec<String> {
        if registry.get(RunWorkflow::NAME).is_none() {
            return Vec::new();
        }
        let mut queues = self.queues.clone();
        if !explicit {
            queues.extend(linked().values().map(|w| w.options().queue.to_owned()));
        }
        queues
    }

    /// The timer loop, in a worker that runs executions of linked workflows.
    fn services(&self, worker: &WorkerInfo<'_>) -> Vec<Service> {
        if worker.registry.get(RunWorkflow::NAME).is_none() || linked().is_empty() {
            return Vec::new();
        }
        vec![Box::pin(timers::keep(worker.stem.clone(), self.poll, LOST_RUN_AFTER, self.retention))]
    }

    /// The ends of tasks that workflow runs called (their ids say so).
    fn watches(&self, _envelope: &Envelope, status: &TaskStatus) -> bool {
        status.state.is_terminal() && calls::is_call(status.id)
    }

    /// Resumes the runs waiting for them, off the writer.
    fn recorded(&self, stem: &Stem, outcomes: Vec<Recorded>) -> Option<FollowUp> {
        // Best effort, off the writer: a run that is not resumed now looks
        // for its task's end again after a while.
        let stem = stem.clone();
        tokio::spawn(async move {
            for outcome in outcomes {
                calls::notify(&stem, &outcome.status).await;
            }
        });
        None
    }

    /// An execution on a worker that runs no workflows: says how to fix it.
    fn unknown_task(&self, envelope: &Envelope, worker: &WorkerInfo<'_>) -> Option<String> {
        (envelope.task == RunWorkflow::NAME).then(|| {
            format!(
                "worker {} runs no workflows, but consumes a queue a workflow run was enqueued on: add \
                 `.workflow::<W>()` to its builder (or add no tasks by hand, and it runs everything linked)",
                worker.id
            )
        })
    }
}

impl WorkerBuilder {
    /// Runs workflow `W`: adds the task that executes workflow runs and,
    /// unless queues are given, `W`'s queue. Without any `task` or `workflow`
    /// call the worker runs every linked task and workflow.
    #[track_caller]
    pub fn workflow<W: Workflow>(self) -> Self {
        self.configure(|w: &mut Workflows| w.queues.push(W::OPTIONS.queue.to_owned())).task::<RunWorkflow>()
    }

    /// How often the worker looks for workflow runs whose timer is due (default
    /// 1 s; a [`FakeClock`](crate::clock::FakeClock) that advances wakes it at once).
    pub fn workflow_poll_interval(self, every: Duration) -> Self {
        self.configure(|w: &mut Workflows| w.poll = every.max(Duration::from_millis(1)))
    }

    /// How long workflow runs that ended (completed, failed or cancelled) are
    /// kept, with their steps, before a worker deletes them (default 7 days;
    /// workers look once a minute).
    pub fn workflow_retention(self, keep: Duration) -> Self {
        self.configure(|w: &mut Workflows| w.retention = keep)
    }
}
