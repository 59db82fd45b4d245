//! The built-in task that ends a group nested in a chord (or in a workflow
//! call): it gets the group's outputs as one list, and gives them back as
//! its result, so that the group has one task to count and wait for.

use std::future::Future;

use serde_json::Value;

use crate::codec::{self, Payload};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;
use crate::task::{EnqueueOptions, Task, TaskContext, TaskError, TaskOptions};

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

    /// Its one argument is its input: the list.
    fn __args_from(input: &Payload, rest: &Payload) -> Result<Value> {
        let _ = rest;
        codec::decode(input)
    }
}

/// The collect step with task id `id` on `queue`, its input left for the
/// group before it to fill in.
pub(crate) fn envelope(id: TaskId, queue: &str) -> Result<Envelope> {
    let options = EnqueueOptions { task_id: Some(id), queue: Some(queue.to_owned()), ..EnqueueOptions::default() };
    options.envelope(Collect::NAME, &Collect::OPTIONS, codec::encode(Collect::CODEC, &())?)
}
