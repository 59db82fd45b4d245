//! Tasks as canvas pieces: a full call ([`Signature`]) and a call whose first
//! argument comes from the step before ([`Link`]), each with the steps that
//! follow it ([`link`](Link::link)) and those that run if it fails
//! ([`link_error`](Link::link_error)).

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

use super::piece::{Node, Piece, Start, Takes, lower};
use crate::codec::{self, Payload};
use crate::envelope::{Envelope, Plan};
use crate::error::{Error, Result, TaskFailure};
use crate::task::signature::call_options;
use crate::task::{EnqueueOptions, Signature, Task, TaskHandle};

/// A task whose first argument can come from the step before it.
/// `#[stem::task]` implements it for every task with at least one argument,
/// and generates `Task::link(rest)` to build a [`Link`].
pub trait Linkable: Task {
    /// The first argument's type: what the step before must give.
    type First;
    /// The other arguments: `()` for none, the one type for one, a generated
    /// struct (`ResizeRest`) for more.
    type Rest;
}

/// How a task's arguments are laid out, for [`args_from`]: the first
/// argument's name and what the others are.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// One argument: the arguments are the first one itself.
    Alone,
    /// Two: the arguments are `{first, second}`, the rest the second one.
    Pair(&'static str, &'static str),
    /// More: the arguments are `{first, ...rest}`, the rest a struct of the others.
    Struct(&'static str),
}

/// The arguments of `T` from a canvas input (its first argument) and the
/// others, `rest`, laid out as `shape` says (for `#[stem::task]`'s
/// `__args_from`). With JSON the two are merged as values; with a codec that
/// encodes a struct as its fields in order (bincode), their bytes are joined.
#[doc(hidden)]
pub fn args_from<T: Task>(input: &Payload, rest: &Payload, shape: Shape) -> Result<T::Args> {
    if input.codec() == "json" && rest.codec() == "json" {
        let value = |p: &Payload| serde_json::from_slice::<Value>(p.bytes()).map_err(|e| codec::codec_error("json", e));
        let merged = match shape {
            Shape::Alone => value(input)?,
            Shape::Pair(first, second) => serde_json::json!({ first: value(input)?, second: value(rest)? }),
            Shape::Struct(first) => {
                let mut fields = match value(rest)? {
                    Value::Object(fields) => fields,
                    other => {
                        return Err(codec::codec_error("json", format!("expected the other arguments, got {other}")));
                    }
                };
                fields.insert(first.to_owned(), value(input)?);
                Value::Object(fields)
            }
        };
        return serde_json::from_value(merged).map_err(|e| codec::codec_error("json", e));
    }
    if input.codec() != rest.codec() {
        return Err(codec::codec_error(
            rest.codec(),
            format!("task `{}` uses `{}`, but the step before it gave `{}`", T::NAME, rest.codec(), input.codec()),
        ));
    }
    let bytes = match shape {
        Shape::Alone => input.bytes().to_vec(),
        Shape::Pair(..) | Shape::Struct(_) => [input.bytes(), rest.bytes()].concat(),
    };
    codec::decode(&Payload::new(input.codec().to_owned(), bytes))
}

/// A call of task `T` whose first argument is the output of the step before
/// it: its other arguments and per-call options. Made by the generated
/// `Resize::link(rest)`; it goes after another piece in a
/// [`chain`](super::chain), in a group that follows one, as a chord's callback,
/// or in [`link`](Signature::link).
pub struct Link<T: Linkable> {
    rest: T::Rest,
    options: EnqueueOptions,
    plan: Plan,
    /// Why a piece linked to it could not be built (reported on enqueue).
    broken: Option<String>,
    _task: PhantomData<fn() -> T>,
}

impl<T: Linkable> Link<T> {
    /// A link of `T` with its other arguments `rest` and the task's default options.
    pub fn new(rest: T::Rest) -> Self {
        Self { rest, options: EnqueueOptions::default(), plan: Plan::default(), broken: None, _task: PhantomData }
    }

    call_options!();

    /// Runs `next` after this task, with its output as `next`'s input.
    pub fn link<P: Piece>(mut self, next: P) -> Self
    where
        P::Input: Takes<T::Output>,
    {
        then(&mut self.plan, &mut self.broken, next);
        self
    }

    /// Runs `errback` with this task's [`TaskFailure`] if it fails for good.
    pub fn link_error<E: Linkable>(mut self, errback: Link<E>) -> Self
    where
        E::First: Takes<TaskFailure>,
        E::Rest: Serialize,
    {
        on_error(&mut self.plan, &mut self.broken, errback);
        self
    }
}

impl<T: Linkable> Link<T>
where
    T::Rest: Serialize,
{
    /// The envelope: the other arguments encoded with the task's codec, the
    /// input left for the step before to fill in.
    pub(crate) fn into_envelope(self) -> Result<Envelope> {
        if let Some(why) = self.broken {
            return Err(Error::Config(why));
        }
        let rest = codec::encode(T::CODEC, &self.rest)?;
        let mut envelope = self.options.envelope(T::NAME, &T::OPTIONS, rest)?;
        if !self.plan.is_empty() {
            envelope.canvas = Some(Box::new(self.plan));
        }
        Ok(envelope)
    }
}

impl<T: Task> Signature<T> {
    /// Runs `next` after this task, with its output as `next`'s input; the
    /// handle stays this task's.
    pub fn link<P: Piece>(mut self, next: P) -> Self
    where
        P::Input: Takes<T::Output>,
    {
        then(&mut self.plan, &mut self.broken, next);
        self
    }

    /// Runs `errback` with this task's [`TaskFailure`] if it fails for good.
    pub fn link_error<E: Linkable>(mut self, errback: Link<E>) -> Self
    where
        E::First: Takes<TaskFailure>,
        E::Rest: Serialize,
    {
        on_error(&mut self.plan, &mut self.broken, errback);
        self
    }
}

/// Adds `next` to what follows a task, or notes why it could not be built.
fn then<P: Piece>(plan: &mut Plan, broken: &mut Option<String>, next: P) {
    match next.into_node().and_then(lower) {
        Ok(next) => plan.then.push(next),
        Err(error) => {
            broken.get_or_insert(error.to_string());
        }
    }
}

/// Adds `errback` to what runs if a task fails, or notes why it could not be built.
fn on_error<E: Linkable>(plan: &mut Plan, broken: &mut Option<String>, errback: Link<E>)
where
    E::Rest: Serialize,
{
    match errback.into_envelope() {
        Ok(errback) => plan.on_error.push(errback),
        Err(error) => {
            broken.get_or_insert(error.to_string());
        }
    }
}

impl<T: Task> Piece for Signature<T> {
    type Input = Start;
    type Output = T::Output;
    type Handle = TaskHandle<T::Output>;

    fn into_node(self) -> Result<Node> {
        Ok(Node::Task(Box::new(self.into_envelope()?)))
    }
}

impl<T: Linkable> Piece for Link<T>
where
    T::Rest: Serialize,
{
    type Input = T::First;
    type Output = T::Output;
    type Handle = TaskHandle<T::Output>;

    fn into_node(self) -> Result<Node> {
        Ok(Node::Task(Box::new(self.into_envelope()?)))
    }
}

impl<T: Linkable> Clone for Link<T>
where
    T::Rest: Clone,
{
    fn clone(&self) -> Self {
        Self {
            rest: self.rest.clone(),
            options: self.options.clone(),
            plan: self.plan.clone(),
            broken: self.broken.clone(),
            _task: PhantomData,
        }
    }
}

impl<T: Linkable> fmt::Debug for Link<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link").field("task", &T::NAME).field("options", &self.options).finish_non_exhaustive()
    }
}
