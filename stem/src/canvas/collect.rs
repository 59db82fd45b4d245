//! The built-in task that ends a group nested in a chord (or in a workflow
//! call): it gets the group's outputs as one list, and gives them back as
//! its result, so that the group has one task to count and wait for.

use std::future::Future;

use serde_json::Value;

use super::link::{Link, Linkable, Shape, args_from};
use super::piece::Node;
use crate::codec::Payload;
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;
use crate::task::{Task, TaskContext, TaskError, TaskOptions};

/// The task `stem.canvas.collect`: its input, a list, is its output. Every
/// worker runs it (the canvas extension adds it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Collect;

impl Task for Collect {
    const NAME: &'static str = "stem.canvas.collect";
    const OPTIONS: TaskOptions = TaskOptions::DEFAULT;
    type Args = Value;
    type Output = Value;

    fn run(ctx: TaskContext, args: Value) -> impl Future<Output = std::result::Result<Value, TaskError>> + Send {
        let _ = ctx;
        async move { Ok(args) }
    }

    fn __args_from(input: &Payload, rest: &Payload) -> Result<Value> {
        args_from::<Self>(input, rest, Shape::Alone)
    }
}

impl Linkable for Collect {
    type First = Value;
    type Rest = ();
}

/// The collect step with task id `id` on `queue`.
pub(crate) fn envelope(id: TaskId, queue: &str) -> Result<Envelope> {
    Link::<Collect>::new(()).task_id(id).queue(queue).into_envelope()
}

/// The collect step as a node.
pub(crate) fn node(id: TaskId, queue: &str) -> Result<Node> {
    Ok(Node::Task(Box::new(envelope(id, queue)?)))
}
