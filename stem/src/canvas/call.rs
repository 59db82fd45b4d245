//! A canvas as one durable workflow step (`wf.call(group(..))`): built with
//! ids derived from the step's id, so that a replay builds the same canvas,
//! and ending in one task, whose end resumes the run.

use serde_json::Value;

use super::piece::{Node, derived_id, lower, single_tail};
use super::start::Launch;
use crate::envelope::{Envelope, Member, Next};
use crate::error::Result;
use crate::id::TaskId;
use crate::stem::Stem;

/// The name a workflow records the call under: `stem.call:` and the task
/// that ends the piece (`stem.call:group` for a group).
pub(crate) fn step_name(node: &Node) -> String {
    match node.tail_envelope() {
        Some(tail) => format!("stem.call:{}", tail.task),
        None => "stem.call:group".to_owned(),
    }
}

/// Starts `node` so that it ends in the task `id` with `meta` (a group ends
/// in a `collect` task): every other task and group gets an id derived from
/// `id`, in order, so that starting it again starts nothing twice.
pub(crate) async fn launch_as(stem: &Stem, node: Node, id: TaskId, meta: (&str, Value)) -> Result<()> {
    let mut node = ending_in_one(node)?;
    let mut count = 0;
    renumber(&mut node, id, &mut count);
    let one_task = matches!(node, Node::Task(_));
    if let Some(tail) = node.tail_envelope_mut() {
        tail.id = id;
        tail.meta.insert(meta.0.to_owned(), meta.1);
    }
    let mut launch = Launch::default();
    launch.add(lower(node)?, None);
    // A lone task is started once by its caller; a canvas may be started
    // again after a crash, and keeps what is already under way.
    launch.run(stem, !one_task).await
}

/// The piece with one task at its end: a group (or a chain ending in one)
/// gets a `collect` task after it.
fn ending_in_one(node: Node) -> Result<Node> {
    match node {
        Node::Group { .. } => single_tail(node),
        Node::Chain(mut nodes) => {
            if let Some(last) = nodes.pop() {
                nodes.push(ending_in_one(last)?);
            }
            Ok(Node::Chain(nodes))
        }
        other => Ok(other),
    }
}

/// Gives every task and group in `node` the next id derived from `base`.
fn renumber(node: &mut Node, base: TaskId, count: &mut u32) {
    match node {
        Node::Task(envelope) => renumber_envelope(envelope, base, count),
        Node::Chain(nodes) => nodes.iter_mut().for_each(|n| renumber(n, base, count)),
        Node::Group { id, members } => {
            *id = next_id(base, count);
            members.iter_mut().for_each(|n| renumber(n, base, count));
        }
        Node::Chord { id, members, callback } => {
            *id = next_id(base, count);
            members.iter_mut().for_each(|n| renumber(n, base, count));
            renumber(callback, base, count);
        }
    }
}

/// The next id derived from `base`.
fn next_id(base: TaskId, count: &mut u32) -> TaskId {
    *count += 1;
    derived_id(base, &count.to_string())
}

fn renumber_envelope(envelope: &mut Envelope, base: TaskId, count: &mut u32) {
    envelope.id = next_id(base, count);
    if let Some(plan) = envelope.canvas.as_deref_mut() {
        plan.then.iter_mut().chain(plan.rest.iter_mut()).for_each(|next| renumber_next(next, base, count));
        plan.on_error.iter_mut().for_each(|errback| renumber_envelope(errback, base, count));
    }
}

fn renumber_next(next: &mut Next, base: TaskId, count: &mut u32) {
    match next {
        Next::Task(envelope) => renumber_envelope(envelope, base, count),
        Next::Group(group) => {
            let old = group.id;
            group.id = next_id(base, count);
            // Each member's last task names the chord and carries a copy of
            // its callback: all point to the new id and share one renumbered
            // callback.
            let mut callback: Option<std::sync::Arc<Vec<Next>>> = None;
            for member in &mut group.members {
                renumber_next(member, base, count);
                for_each_marker(member, old, &mut |marker: &mut Member| {
                    marker.group = group.id;
                    match &callback {
                        Some(renumbered) => marker.then = std::sync::Arc::clone(renumbered),
                        None => {
                            let then = std::sync::Arc::make_mut(&mut marker.then);
                            then.iter_mut().for_each(|next| renumber_next(next, base, count));
                            callback = Some(std::sync::Arc::clone(&marker.then));
                        }
                    }
                });
            }
        }
    }
}

/// Calls `f` on every chord membership of group `group` in `next`.
fn for_each_marker(next: &mut Next, group: TaskId, f: &mut dyn FnMut(&mut Member)) {
    match next {
        Next::Task(envelope) => {
            if let Some(plan) = envelope.canvas.as_deref_mut() {
                match plan.member.as_mut() {
                    Some(member) if member.group == group => f(member),
                    // The chord of a nested group ends in a task that ends
                    // the outer member: look in its callback.
                    Some(inner) => {
                        std::sync::Arc::make_mut(&mut inner.then)
                            .iter_mut()
                            .for_each(|next| for_each_marker(next, group, f));
                    }
                    None => {}
                }
                plan.then.iter_mut().chain(plan.rest.iter_mut()).for_each(|next| for_each_marker(next, group, f));
            }
        }
        Next::Group(inner) => inner.members.iter_mut().for_each(|member| for_each_marker(member, group, f)),
    }
}
