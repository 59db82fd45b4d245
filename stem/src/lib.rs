//! # Stem
//!
//! Typed background jobs for Rust. Put `#[stem::task]` on an `async fn` and get a
//! task you can enqueue with its own argument types and wait for with its own
//! return type; run it on a [`Worker`] that retries, time-limits, leases and
//! dead-letters, and never goes down with a task.
//!
//! ```
//! use stem::prelude::*;
//!
//! /// Adds two numbers.
//! #[stem::task]
//! async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
//!     Ok(a + b)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> stem::Result<()> {
//! let stem = Stem::in_memory();
//! let worker = Worker::builder(&stem).task::<Add>().build()?.spawn();
//! let sum: i64 = Add::enqueue(&stem, AddArgs { a: 2, b: 3 }).await?.wait().await?;
//! assert_eq!(sum, 5);
//! worker.stop(ShutdownMode::Warm).await
//! # }
//! ```
//!
//! The crate is organised by contract: [`broker`], [`backend`] and [`lock`] hold
//! the store traits every adapter implements, [`memory`] the in-process adapters,
//! [`task`](mod@task) the typed task API, [`worker`] the runtime, and
//! [`workflow`](mod@workflow) durable workflows.

pub mod args;
pub mod backend;
pub mod beat;
pub mod broker;
pub mod canvas;
pub mod clock;
pub mod codec;
pub mod control;
pub mod envelope;
mod error;
mod id;
mod id_map;
pub mod lock;
pub mod memory;
mod panic;
pub mod queue;
pub mod rate;
pub mod revoke;
pub mod routing;
pub mod signing;
mod stem;
mod stores;
pub mod task;
#[cfg(feature = "testing")]
pub mod testing;
mod toml_file;
mod trace;
pub mod worker;
pub mod workflow;

pub use stem_macros::{event, step, task, workflow};

pub use crate::backend::{ResultBackend, TaskState, TaskStatus};
pub use crate::broker::Broker;
pub use crate::envelope::Envelope;
pub use crate::error::{Error, Result, TaskFailure};
pub use crate::id::TaskId;
pub use crate::lock::LockStore;
pub use crate::rate::{Rate, RateLimiter};
pub use crate::stem::{DEFAULT_MAX_PAYLOAD, Stem};
pub use crate::stores::Stores;
pub use crate::task::{Registry, Signature, Task, TaskContext, TaskError, TaskHandle, TaskOptions};
pub use crate::worker::{ShutdownMode, Worker, WorkerHandle};
pub use crate::workflow::{EventTopic, StepError, Workflow, WorkflowContext, WorkflowError, WorkflowHandle};

/// The names most programs need, one `use` away.
pub mod prelude {
    pub use crate::task;
    pub use crate::{
        EventTopic, ShutdownMode, Signature, Stem, StepError, Stores, Task, TaskContext, TaskError, TaskHandle, Worker,
        Workflow, WorkflowContext, WorkflowError, WorkflowHandle,
    };
    pub use crate::{event, step, workflow};
}

/// What generated code needs; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use ::inventory;
    pub use ::serde;

    pub use crate::task::{IntoTaskError, TaskArgs, TaskOutput, TaskRegistration};
    pub use crate::workflow::{EventRegistration, StepOptions, WorkflowOptions, WorkflowRegistration};

    /// Names a workflow fn's error type in errors about it.
    pub const fn assert_workflow_error<E: IntoWorkflowError>() {}

    /// Names a step's error type in errors about it.
    pub const fn assert_step_error<E: IntoStepError>() {}

    /// Turns a workflow fn's error into a [`WorkflowError`](crate::WorkflowError).
    pub fn into_workflow_error<E: IntoWorkflowError>(error: E) -> crate::WorkflowError {
        error.into()
    }

    /// What a workflow fn's error type must be.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a workflow error: it must convert into `WorkflowError`",
        label = "not convertible into `WorkflowError`",
        note = "return `WorkflowError` (`WorkflowError::fail(..)`), or a type implementing `std::error::Error`"
    )]
    pub trait IntoWorkflowError: Into<crate::WorkflowError> {}
    impl<E: Into<crate::WorkflowError>> IntoWorkflowError for E {}

    /// What a step's error type must be.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a step error: it must convert into `StepError`",
        label = "not convertible into `StepError`",
        note = "return `StepError` (`StepError::fail(..)`, `StepError::retry(..)`), or a type implementing `std::error::Error`"
    )]
    pub trait IntoStepError: Into<crate::StepError> {}
    impl<E: Into<crate::StepError>> IntoStepError for E {}

    /// Names a step's output type in errors about it.
    pub const fn assert_step_output<T: crate::workflow::StepOutput>() {}

    /// Turns a task fn's error into a [`TaskError`](crate::TaskError).
    pub fn into_task_error<E: IntoTaskError>(error: E) -> crate::TaskError {
        error.into()
    }

    /// Names the error type in errors about it.
    pub const fn assert_task_error<E: IntoTaskError>() {}

    /// Names the argument type in errors about it.
    pub const fn assert_task_arg<T: TaskArgs>() {}

    /// Names the output type in errors about it.
    pub const fn assert_task_output<T: TaskOutput>() {}

    /// What the type of an argument of a task with a `schedule` must be.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no default, so a task with a `schedule` cannot take it",
        label = "no `Default`",
        note = "a `schedule = \"...\"` task is enqueued with each argument's `Default::default()`: implement `Default` for the type, or schedule the call with its arguments in code (`stem::beat::ScheduleEntry::new`) or in a schedule file"
    )]
    pub trait ScheduledArg: Default {}
    impl<T: Default> ScheduledArg for T {}

    /// The argument of a task with a `schedule`: its default, named in errors
    /// about its type.
    pub fn scheduled_arg<T: ScheduledArg>() -> T {
        T::default()
    }
}
