use std::any::TypeId;
use std::collections::BTreeMap;
use std::fmt;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{EnqueueOptions, Task, TaskContext, TaskError};
use crate::args::{self, Arg};
use crate::codec::{self, Payload};
use crate::envelope::Envelope;
use crate::error::{Error, Result};

/// Runs a task on an envelope's arguments (and its canvas input, if any):
/// `Err` if they do not decode, otherwise the run's future, which yields the
/// encoded output.
pub(crate) type Handler = fn(TaskContext, &Envelope) -> Result<BoxFuture<'static, Result<Payload, TaskError>>>;

/// JSON arguments decoded into the task's `Args`, encoded with its codec.
type EncodeJson = fn(&Value) -> std::result::Result<Payload, args::ArgsError>;

/// An encoded output decoded as the task's `Output`, as JSON.
type OutputJson = fn(&Payload) -> Result<Value>;

/// The arguments the task's declared schedule enqueues, as JSON.
type ScheduledArgs = fn() -> Result<Value>;

/// A task as a worker knows it: name, defaults, source location and runner.
///
/// `#[stem::task]` submits one per task to `inventory`, so that a worker finds
/// every task linked into its binary.
#[derive(Clone, Copy)]
pub struct TaskRegistration {
    name: &'static str,
    options: super::TaskOptions,
    file: &'static str,
    line: u32,
    handler: Handler,
    type_id: fn() -> TypeId,
    args: &'static [Arg],
    output_type: &'static str,
    doc: &'static str,
    encode_json: EncodeJson,
    output_json: OutputJson,
    scheduled_args: ScheduledArgs,
}

inventory::collect!(TaskRegistration);

impl TaskRegistration {
    /// The registration of `T`, defined at `file:line` (for `#[stem::task]`;
    /// [`Registry::register`] adds a task by hand).
    #[doc(hidden)]
    pub const fn of<T: Task>(file: &'static str, line: u32) -> Self {
        Self {
            name: T::NAME,
            options: T::OPTIONS,
            file,
            line,
            handler: run::<T>,
            type_id: TypeId::of::<T>,
            args: T::ARGS,
            output_type: T::OUTPUT_TYPE,
            doc: T::DOC,
            encode_json: encode_json::<T>,
            output_json: output_json::<T>,
            scheduled_args: scheduled_args::<T>,
        }
    }

    /// The task name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The task's defaults.
    pub fn options(&self) -> &super::TaskOptions {
        &self.options
    }

    /// Where the task is defined, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The fn's arguments by name and Rust type (empty for a task written by
    /// hand).
    pub fn args(&self) -> &'static [Arg] {
        self.args
    }

    /// The output's Rust type as written (empty for a task written by hand).
    pub fn output_type(&self) -> &'static str {
        self.output_type
    }

    /// The first line of the fn's doc comment.
    pub fn doc(&self) -> &'static str {
        self.doc
    }

    /// The envelope of a call with `args` given as JSON (for front ends such
    /// as the CLI): checked against the task's own `Args` and encoded with its
    /// codec, with the task's defaults overridden by `options`. Fails with
    /// [`Error::Args`], naming the field and why, when they do not decode.
    pub fn envelope(&self, args: &Value, options: EnqueueOptions) -> Result<Envelope> {
        let payload = (self.encode_json)(args).map_err(|e| Error::Args { name: self.name.to_owned(), error: e })?;
        options.envelope(self.name, &self.options, payload)
    }

    /// The task's encoded output, decoded as its `Output`, as JSON (whatever
    /// the codec).
    pub fn output_json(&self, payload: &Payload) -> Result<Value> {
        (self.output_json)(payload)
    }

    /// The arguments the schedule the task declares (`schedule = "..."`)
    /// enqueues, as JSON: each argument's default for a task with arguments,
    /// `null` for one without.
    pub fn scheduled_args(&self) -> Result<Value> {
        (self.scheduled_args)()
    }

    pub(crate) fn handler(&self) -> Handler {
        self.handler
    }
}

fn encode_json<T: Task>(value: &Value) -> std::result::Result<Payload, args::ArgsError> {
    let decoded: T::Args = args::decode(value)?;
    codec::encode(T::CODEC, &decoded).map_err(|e| args::ArgsError { field: None, message: e.to_string() })
}

fn scheduled_args<T: Task>() -> Result<Value> {
    match T::__scheduled_args() {
        Some(args) => serde_json::to_value(&args).map_err(|e| codec::codec_error("json", e)),
        None => Ok(Value::Null),
    }
}

fn output_json<T: Task>(payload: &Payload) -> Result<Value> {
    let output: T::Output = codec::decode(payload)?;
    serde_json::to_value(&output).map_err(|e| codec::codec_error("json", e))
}

impl fmt::Debug for TaskRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRegistration")
            .field("name", &self.name)
            .field("location", &self.location())
            .field("options", &self.options)
            .finish()
    }
}

fn run<T: Task>(ctx: TaskContext, envelope: &Envelope) -> Result<BoxFuture<'static, Result<Payload, TaskError>>> {
    let args: T::Args = match envelope.canvas.as_ref().and_then(|plan| plan.input.as_ref()) {
        Some(input) => T::__args_from(input, &envelope.args)?,
        None => codec::decode(&envelope.args)?,
    };
    Ok(Box::pin(async move {
        let output = T::run(ctx, args).await?;
        codec::encode(T::CODEC, &output)
            .map_err(|e| TaskError::fail(format!("the result could not be encoded: {e}")).with_kind("codec"))
    }))
}

/// The set of tasks a worker runs, by name.
///
/// [`Registry::linked`] holds every task linked into the binary (collected by
/// `inventory`); [`Registry::register`] adds tasks one by one, the fallback for
/// platforms where link-time collection does not work. Two different tasks under
/// one name make [`Registry::check`] fail with both source locations.
#[derive(Clone, Default)]
pub struct Registry {
    tasks: BTreeMap<&'static str, TaskRegistration>,
    conflict: Option<(TaskRegistration, TaskRegistration)>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every task linked into this binary.
    pub fn linked() -> Self {
        let mut registry = Self::new();
        for registration in inventory::iter::<TaskRegistration> {
            registry.insert(*registration);
        }
        registry
    }

    /// Adds `T`, recording the caller's location for duplicate reports.
    #[track_caller]
    pub fn register<T: Task>(mut self) -> Self {
        let at = std::panic::Location::caller();
        self.insert(TaskRegistration::of::<T>(at.file(), at.line()));
        self
    }

    /// Adds a registration.
    pub fn insert(&mut self, registration: TaskRegistration) {
        match self.tasks.get(registration.name) {
            Some(existing) if (existing.type_id)() != (registration.type_id)() => {
                if self.conflict.is_none() {
                    self.conflict = Some((*existing, registration));
                }
            }
            Some(_) => {}
            None => {
                self.tasks.insert(registration.name, registration);
            }
        }
    }

    /// Fails if two different tasks share a name, naming both locations.
    pub fn check(&self) -> Result<()> {
        match &self.conflict {
            Some((first, second)) => {
                // In source order: by file, then by line as a number.
                let (a, b) = if (second.file, second.line) < (first.file, first.line) {
                    (second, first)
                } else {
                    (first, second)
                };
                Err(Error::DuplicateTask { name: first.name.to_owned(), first: a.location(), second: b.location() })
            }
            None => Ok(()),
        }
    }

    /// The registration named `name`.
    pub fn get(&self, name: &str) -> Option<&TaskRegistration> {
        self.tasks.get(name)
    }

    /// Keeps only the tasks named in `names`.
    pub fn retain(&mut self, names: &[&str]) {
        self.tasks.retain(|name, _| names.contains(name));
    }

    /// The registrations, by name.
    pub fn iter(&self) -> impl Iterator<Item = &TaskRegistration> {
        self.tasks.values()
    }

    /// How many tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.tasks.keys()).finish()
    }
}
