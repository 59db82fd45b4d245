//! [`Workflow`]: what `#[stem::workflow]` implements, and the
//! registration that lets any worker find it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{WorkflowContext, WorkflowError};
use crate::args::{self, Arg, ArgsError};
use crate::error::Error;
use crate::task::{TaskArgs, TaskOutput};

/// A workflow: a name, typed arguments and output, and the fn that runs it.
pub trait Workflow: Send + Sync + 'static {
    /// The name runs are stored under; unique per binary.
    const NAME: &'static str;

    /// Defaults for every run.
    const OPTIONS: WorkflowOptions;

    /// The arguments.
    type Args: TaskArgs;

    /// What a completed run returns.
    type Output: TaskOutput;

    /// The fn's arguments (after the context) by name and Rust type, for
    /// front ends such as the CLI (set by `#[stem::workflow]`).
    const ARGS: &'static [Arg] = &[];

    /// The output's Rust type as written (set by `#[stem::workflow]`).
    const OUTPUT_TYPE: &'static str = "";

    /// The first line of the fn's doc comment (set by `#[stem::workflow]`).
    const DOC: &'static str = "";

    /// Runs (or replays) the workflow fn once.
    fn run(wf: WorkflowContext, args: Self::Args) -> impl Future<Output = Result<Self::Output, WorkflowError>> + Send;
}

/// Defaults for a workflow's runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowOptions {
    /// The queue its executions go to (`"default"`).
    pub queue: &'static str,
    /// The longest a run may take from start to end before it is cancelled.
    pub max_run_time: Option<Duration>,
    /// The longest a run may stay asleep or waiting for one event before it is cancelled.
    pub max_suspended_time: Option<Duration>,
    /// How long an execution holds a run before another worker may take it
    /// over (renewed while it runs; 30 s).
    pub lease: Duration,
}

impl WorkflowOptions {
    /// The defaults.
    pub const DEFAULT: Self =
        Self { queue: "default", max_run_time: None, max_suspended_time: None, lease: Duration::from_secs(30) };
}

impl Default for WorkflowOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How a step retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepOptions {
    /// Retries after the first attempt (3).
    pub max_retries: u32,
    /// The pause before the first retry, doubling for each next one (1 s).
    pub backoff: Duration,
    /// The longest pause (1 min).
    pub backoff_max: Duration,
}

impl StepOptions {
    /// The defaults.
    pub const DEFAULT: Self =
        Self { max_retries: 3, backoff: Duration::from_secs(1), backoff_max: Duration::from_secs(60) };

    /// The pause before retry number `retry` (from 0).
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        self.backoff.saturating_mul(1u32 << retry.min(20)).min(self.backoff_max)
    }
}

impl Default for StepOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Runs a workflow fn on encoded arguments: `Err` if they do not decode.
type Runner = fn(WorkflowContext, Value) -> Result<BoxFuture<'static, Result<Value, WorkflowError>>, String>;

/// A workflow as workers and front ends know it. `#[stem::workflow]` submits
/// one per workflow to `inventory`, so that every worker linked with it can
/// run it; [`linked_workflows`] lists them.
#[derive(Clone, Copy)]
pub struct WorkflowRegistration {
    name: &'static str,
    options: WorkflowOptions,
    file: &'static str,
    line: u32,
    runner: Runner,
    args: &'static [Arg],
    output_type: &'static str,
    doc: &'static str,
    check: fn(&Value) -> Result<Value, ArgsError>,
}

inventory::collect!(WorkflowRegistration);

impl WorkflowRegistration {
    /// The registration of `W`, defined at `file:line` (for `#[stem::workflow]`).
    #[doc(hidden)]
    pub const fn of<W: Workflow>(file: &'static str, line: u32) -> Self {
        Self {
            name: W::NAME,
            options: W::OPTIONS,
            file,
            line,
            runner: run::<W>,
            args: W::ARGS,
            output_type: W::OUTPUT_TYPE,
            doc: W::DOC,
            check: args::check::<W::Args>,
        }
    }

    /// The workflow's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its defaults.
    pub fn options(&self) -> &WorkflowOptions {
        &self.options
    }

    /// Where it is defined, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The fn's arguments (after the context) by name and Rust type.
    pub fn args(&self) -> &'static [Arg] {
        self.args
    }

    /// The output's Rust type as written.
    pub fn output_type(&self) -> &'static str {
        self.output_type
    }

    /// The first line of the fn's doc comment.
    pub fn doc(&self) -> &'static str {
        self.doc
    }

    /// Checks `args` (JSON) against the workflow's own `Args`: [`Error::Args`],
    /// naming the field and why, when they do not decode.
    pub(super) fn checked_args(&self, args: &Value) -> crate::Result<Value> {
        (self.check)(args).map_err(|error| Error::Args { name: self.name.to_owned(), error })
    }

    /// Replays the workflow fn on a context, from its stored arguments.
    pub(crate) fn execute(
        &self,
        wf: WorkflowContext,
        args: Value,
    ) -> Result<BoxFuture<'static, Result<Value, WorkflowError>>, String> {
        (self.runner)(wf, args)
    }
}

impl std::fmt::Debug for WorkflowRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowRegistration").field("name", &self.name).field("location", &self.location()).finish()
    }
}

fn run<W: Workflow>(
    wf: WorkflowContext,
    args: Value,
) -> Result<BoxFuture<'static, Result<Value, WorkflowError>>, String> {
    let args: W::Args = serde_json::from_value(args).map_err(|e| format!("the arguments do not decode: {e}"))?;
    Ok(Box::pin(async move {
        let output = W::run(wf, args).await?;
        serde_json::to_value(&output)
            .map_err(|e| WorkflowError::with_kind("codec", format!("the result could not be encoded: {e}")))
    }))
}

/// Every workflow linked into this binary, by name (for front ends such as
/// the CLI).
pub fn linked_workflows() -> impl Iterator<Item = &'static WorkflowRegistration> {
    let mut all: Vec<_> = linked().values().collect();
    all.sort_by_key(|w| w.name);
    all.into_iter()
}

/// Every workflow linked into this binary, by name (the first of two with one
/// name; [`check_linked`] refuses those).
pub(crate) fn linked() -> &'static HashMap<&'static str, WorkflowRegistration> {
    &linked_and_clash().0
}

/// Fails if two different workflows linked into this binary share a name,
/// naming both source locations in source order.
pub(crate) fn check_linked() -> crate::Result<()> {
    match &linked_and_clash().1 {
        Some((first, second)) => {
            let (a, b) =
                if (second.file, second.line) < (first.file, first.line) { (second, first) } else { (first, second) };
            Err(Error::DuplicateWorkflow { name: a.name.to_owned(), first: a.location(), second: b.location() })
        }
        None => Ok(()),
    }
}

/// The linked workflows by name, and the first two found sharing a name.
type Linked = (HashMap<&'static str, WorkflowRegistration>, Option<(WorkflowRegistration, WorkflowRegistration)>);

fn linked_and_clash() -> &'static Linked {
    static LINKED: OnceLock<Linked> = OnceLock::new();
    LINKED.get_or_init(|| {
        let mut all: HashMap<&'static str, WorkflowRegistration> = HashMap::new();
        let mut clash = None;
        for registration in inventory::iter::<WorkflowRegistration> {
            match all.get(registration.name) {
                // One workflow submitted twice is the same file and line.
                Some(first) if (first.file, first.line) != (registration.file, registration.line) => {
                    clash.get_or_insert((*first, *registration));
                }
                Some(_) => {}
                None => {
                    all.insert(registration.name, *registration);
                }
            }
        }
        (all, clash)
    })
}
