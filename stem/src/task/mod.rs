//! Tasks: the typed unit of background work.
//!
//! Normally written with [`#[stem::task]`](macro@crate::task), which implements [`Task`]
//! for a generated type; implementing it by hand works the same.

mod context;
mod error;
pub(crate) mod handle;
mod options;
mod registry;
pub(crate) mod signature;
pub mod unique;
mod unique_window;

use std::future::Future;

use serde::Serialize;

use crate::args::Arg;
use crate::codec::Payload;
use serde::de::DeserializeOwned;

pub use self::context::TaskContext;
pub(crate) use self::context::WorkerLink;
pub use self::error::{RetryAction, TaskError};
pub use self::handle::TaskHandle;
pub use self::options::{RetryPolicy, TaskOptions};
pub use self::registry::{Registry, TaskRegistration};
pub use self::signature::{EnqueueOptions, Signature};

/// A task: a name, typed arguments and output, options, and the code that runs it.
pub trait Task: Send + Sync + 'static {
    /// The name the task is enqueued and registered under; unique per worker.
    const NAME: &'static str;

    /// Defaults for every call of the task.
    const OPTIONS: TaskOptions;

    /// The id of the codec for arguments and results (`"json"` by default).
    const CODEC: &'static str = <crate::codec::Json as crate::codec::Codec>::ID;

    /// The fn's arguments by name and Rust type, for front ends such as the
    /// CLI (set by `#[stem::task]`; empty for a task written by hand).
    const ARGS: &'static [Arg] = &[];

    /// The output's Rust type as written (set by `#[stem::task]`).
    const OUTPUT_TYPE: &'static str = "";

    /// The first line of the fn's doc comment (set by `#[stem::task]`).
    const DOC: &'static str = "";

    /// The arguments.
    type Args: TaskArgs;

    /// What a successful run returns.
    type Output: TaskOutput;

    /// Runs the task once.
    fn run(ctx: TaskContext, args: Self::Args) -> impl Future<Output = Result<Self::Output, TaskError>> + Send;

    /// The arguments of a call that follows a step in a canvas: `input` (the
    /// step before's output) is the first argument, `rest` the others.
    /// `#[stem::task]` implements it through [`Linkable`](crate::canvas::Linkable)
    /// for a task with arguments.
    #[doc(hidden)]
    fn __args_from(input: &Payload, rest: &Payload) -> crate::Result<Self::Args> {
        let _ = (input, rest);
        Err(crate::Error::Config(format!("task `{}` takes no arguments, so no step can come before it", Self::NAME)))
    }

    /// The arguments the schedule the task declares (`schedule = "..."`)
    /// enqueues: `#[stem::task]` gives each argument's `Default::default()`
    /// for a scheduled task with arguments; `None`, the default, enqueues
    /// JSON `null`, the arguments of a task that takes none.
    #[doc(hidden)]
    fn __scheduled_args() -> Option<Self::Args> {
        None
    }
}

/// What task arguments must be: serializable, deserializable and `Send`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a task argument: it must implement `Serialize` and `Deserialize`",
    label = "not serializable",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to the type"
)]
pub trait TaskArgs: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> TaskArgs for T {}

/// What a task's output must be: serializable, deserializable and `Send`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a task result: it must implement `Serialize` and `Deserialize`",
    label = "not serializable",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to the type"
)]
pub trait TaskOutput: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> TaskOutput for T {}

/// What a task fn's error type must be: convertible into [`TaskError`]. Every
/// `std::error::Error + Send + Sync + 'static` is, and so is `TaskError` itself.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a task error: it must convert into `TaskError`",
    label = "not convertible into `TaskError`",
    note = "implement `std::error::Error` for it, or return `TaskError` (`TaskError::fail(..)`, `TaskError::retry(..)`)"
)]
pub trait IntoTaskError: Into<TaskError> {}

impl<E: Into<TaskError>> IntoTaskError for E {}
