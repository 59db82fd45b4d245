//! [`WorkerBuilder`]: what a worker runs and how.

use std::collections::BTreeSet;
use std::time::Duration;

use super::Worker;
use crate::envelope::DEFAULT_QUEUE;
use crate::error::{Error, Result};
use crate::stem::Stem;
use crate::task::{Registry, Task};
use crate::workflow::{RunWorkflow, WorkflowDefinition, linked};

/// How long ended workflow runs are kept by default.
pub const DEFAULT_WORKFLOW_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Configures a [`Worker`]; made by [`Worker::builder`].
#[derive(Debug)]
pub struct WorkerBuilder {
    stem: Stem,
    registry: Option<Registry>,
    only: Option<Vec<String>>,
    queues: Vec<String>,
    concurrency: usize,
    prefetch: Option<usize>,
    lease: Duration,
    id: Option<String>,
    signals: bool,
    heartbeat: Duration,
    workflow_queues: Vec<String>,
    workflow_poll: Duration,
    workflow_retention: Duration,
    explicit: bool,
}

/// A built worker's settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) id: String,
    pub(crate) queues: Vec<String>,
    pub(crate) concurrency: usize,
    pub(crate) prefetch: usize,
    pub(crate) lease: Duration,
    pub(crate) signals: bool,
    pub(crate) heartbeat: Duration,
    /// How often due workflow runs are looked for (when the worker runs workflows).
    pub(crate) workflow_poll: Duration,
    /// How long ended workflow runs are kept.
    pub(crate) workflow_retention: Duration,
}

impl WorkerBuilder {
    pub(crate) fn new(stem: &Stem) -> Self {
        Self {
            stem: stem.clone(),
            registry: None,
            only: None,
            queues: Vec::new(),
            concurrency: std::thread::available_parallelism().map_or(4, |n| n.get()),
            prefetch: None,
            lease: Duration::from_secs(30),
            id: None,
            signals: true,
            heartbeat: Duration::from_secs(10),
            workflow_queues: Vec::new(),
            workflow_poll: Duration::from_secs(1),
            workflow_retention: DEFAULT_WORKFLOW_RETENTION,
            explicit: false,
        }
    }

    /// Consumes `queue` (may be called again for more). Without any, the worker
    /// consumes every queue its tasks default to.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queues.push(queue.into());
        self
    }

    /// Consumes these queues.
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.queues.extend(queues.into_iter().map(Into::into));
        self
    }

    /// Runs at most `n` tasks at once (default: the number of CPUs).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Holds at most `n` deliveries at once, running or waiting to run
    /// (default: twice the concurrency).
    pub fn prefetch(mut self, n: usize) -> Self {
        self.prefetch = Some(n);
        self
    }

    /// The lease each delivery gets, renewed while the task runs (default 30 s;
    /// a task's `visibility_timeout` overrides it).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The worker's id (default `<host>-<pid>-<random>`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Whether [`Worker::run`] turns SIGTERM and SIGINT into shutdowns (default true).
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.signals = on;
        self
    }

    /// How often the worker stores a heartbeat (default 10 s).
    pub fn heartbeat_interval(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Runs `T`. Once any task is added this way, the worker runs only the
    /// tasks added so; otherwise it runs every task linked into the binary.
    #[track_caller]
    pub fn task<T: Task>(mut self) -> Self {
        self.registry = Some(self.registry.take().unwrap_or_default().register::<T>());
        self
    }

    /// Runs workflow `W`: adds the task that executes workflow runs
    /// ([`RunWorkflow`]) and, unless queues are given, `W`'s queue. Without
    /// any `task` or `workflow` call the worker runs every linked task and
    /// workflow.
    #[track_caller]
    pub fn workflow<W: WorkflowDefinition>(mut self) -> Self {
        self.workflow_queues.push(W::OPTIONS.queue.to_owned());
        self.task::<RunWorkflow>()
    }

    /// How often the worker looks for workflow runs whose timer is due (default
    /// 1 s; a [`FakeClock`](crate::clock::FakeClock) that advances wakes it at once).
    pub fn workflow_poll_interval(mut self, every: Duration) -> Self {
        self.workflow_poll = every.max(Duration::from_millis(1));
        self
    }

    /// How long workflow runs that ended (completed, failed or cancelled) are
    /// kept, with their steps, before a worker deletes them (default 7 days;
    /// workers look once a minute).
    pub fn workflow_retention(mut self, keep: Duration) -> Self {
        self.workflow_retention = keep;
        self
    }

    /// Runs the tasks of this registry instead of the linked ones.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Runs only the tasks with these names.
    pub fn only<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.only = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Checks the configuration and the task names.
    ///
    /// Fails when two tasks share a name (naming both source locations), when a
    /// name given to [`only`](Self::only) is not a task, or on zero concurrency.
    pub fn build(mut self) -> Result<Worker> {
        self.explicit = self.registry.is_some();
        let mut registry = self.registry.take().unwrap_or_else(Registry::linked);
        registry.check()?;
        if let Some(only) = &self.only {
            if let Some(missing) = only.iter().find(|n| registry.get(n).is_none()) {
                let known: Vec<&str> = registry.iter().map(|r| r.name()).collect();
                return Err(Error::Config(format!("`only` names `{missing}`, which is not a task; tasks: {known:?}")));
            }
            let names: Vec<&str> = only.iter().map(String::as_str).collect();
            registry.retain(&names);
        }
        if self.concurrency == 0 {
            return Err(Error::Config("worker concurrency must be at least 1".to_owned()));
        }
        let mut queues: BTreeSet<String> = self.queues.into_iter().collect();
        if queues.is_empty() {
            queues.extend(registry.iter().map(|r| r.options().queue.to_owned()));
            if registry.get(RunWorkflow::NAME).is_some() {
                queues.extend(self.workflow_queues);
                if !self.explicit {
                    queues.extend(linked().values().map(|w| w.options().queue.to_owned()));
                }
            }
        }
        if queues.is_empty() {
            queues.insert(DEFAULT_QUEUE.to_owned());
        }
        if let Some(empty) = queues.iter().find(|q| q.trim().is_empty()) {
            return Err(Error::Config(format!("queue name {empty:?} is empty")));
        }
        let config = Config {
            id: self.id.unwrap_or_else(default_id),
            queues: queues.into_iter().collect(),
            concurrency: self.concurrency,
            prefetch: self.prefetch.unwrap_or(self.concurrency * 2).max(1),
            lease: self.lease.max(Duration::from_millis(10)),
            signals: self.signals,
            heartbeat: self.heartbeat,
            workflow_poll: self.workflow_poll,
            workflow_retention: self.workflow_retention,
        };
        Ok(Worker::new(self.stem, registry, config))
    }
}

fn default_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    format!("{host}-{}-{:04x}", std::process::id(), fastrand::u16(..))
}
