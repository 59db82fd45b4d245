//! Durable workflows: async fns whose progress survives crashes and restarts.
//!
//! ```
//! use std::time::Duration;
//! use stem::prelude::*;
//! use stem::workflow::{StepError, WorkflowContext, WorkflowError};
//!
//! #[stem::workflow]
//! async fn greet(wf: WorkflowContext, name: String) -> Result<String, WorkflowError> {
//!     let greeting = wf.step("compose", || async { Ok::<_, StepError>(format!("hello {name}")) }).await?;
//!     wf.sleep(Duration::from_millis(1)).await;
//!     Ok(greeting)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> stem::Result<()> {
//! let stem = Stem::in_memory();
//! let worker = Worker::builder(&stem).workflow_poll_interval(Duration::from_millis(5)).build()?.spawn();
//! let run = Greet::start(&stem, "ada".to_owned()).await?;
//! assert_eq!(run.wait().await?, "hello ada");
//! worker.stop(ShutdownMode::Warm).await
//! # }
//! ```
//!
//! A run is durable by replay. Its executions are ordinary tasks
//! (`stem.workflow.run`) on the workflow's queue; each one
//! re-runs the fn from the top, and every durable operation (see [`WorkflowContext`])
//! that has a checkpoint returns it instead of running again. Sleeps and event
//! waits suspend the run in the [`WorkflowStore`] and end the execution, so no
//! worker is held while a run waits; a worker's timer loop (no leader: the
//! store hands each due run to one worker) or [`Stem::emit`](crate::Stem::emit)
//! enqueues the next execution. Each execution holds a lease on its run,
//! renewed while it runs, so two workers never execute one run at once; a
//! crashed worker's delivery comes back and takes the run over once the lease
//! has ended. A run whose execution message was lost (a crash between a wake-up
//! and its enqueue) is re-enqueued once it has been idle for five minutes (workers look once a
//! minute).
//!
//! Decisions where the reference is silent: values, arguments and results are
//! stored as JSON whatever the task codec; a failed step's error is recorded
//! like its success, so a replay takes the same branch; step retries pause in
//! the execution (keep backoffs short, or sleep with `wf.sleep` between tries);
//! an event emitted while no run waits for it is dropped.

mod calls;
mod context;
mod definition;
mod error;
mod event;
mod handle;
mod outcome;
mod resume;
pub(crate) mod run;
mod runner;
mod start;
mod store;
mod timers;
mod worker;

pub use self::context::{StepOutput, WorkflowContext};
pub use self::definition::{StepOptions, Workflow, WorkflowOptions, WorkflowRegistration, linked_workflows};
pub use self::error::{StepError, WorkflowError};
pub use self::event::{EventRegistration, EventTopic, EventValue, linked_events};
pub use self::handle::WorkflowHandle;
pub use self::run::{CancellationPolicy, Finish, NewRun, RunFilter, RunId, RunState, RunStatus};
pub use self::start::WorkflowStart;
pub use self::store::{Checkpoint, OpenedRun, Resumed, Suspension, Watch, Watcher, WorkflowStore};
pub use self::worker::DEFAULT_WORKFLOW_RETENTION;
