//! What every canvas primitive is: a [`Piece`] with an input, an output and
//! a handle, built into an untyped [`Node`] tree that is then lowered into
//! envelopes whose [`Plan`]s say what follows each task.

use crate::envelope::{DEFAULT_QUEUE, Envelope, GroupPlan, Member, Next, Plan};
use crate::error::{Error, Result};
use crate::id::TaskId;
use crate::stem::Stem;

/// The input of a piece that needs none: a task called with all its
/// arguments ([`Task::call`](crate::Signature)), or a group, chord or chain
/// that starts with one. Only such a piece can be enqueued as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start;

/// The check that a step can follow another: the step's input type must be
/// the output type of the step before it.
#[diagnostic::on_unimplemented(
    message = "this step takes `{Self}`, but the step before it gives `{Given}`",
    label = "takes `{Self}` as its first argument, but is given `{Given}`",
    note = "a step gets the output of the step before it as its first argument: the types must be the same",
    note = "a task called with all its arguments (`Task::call(..)`) takes no input; build a step with `Task::link(..)`"
)]
pub trait Takes<Given> {}

impl<T> Takes<T> for T {}

/// A piece of canvas: a task call ([`Signature`](crate::Signature)) or link
/// ([`Link`](super::Link)), a [`Group`](super::Group), a [`Chord`](super::Chord)
/// or a [`Chain`](super::Chain).
pub trait Piece: Sized {
    /// What it takes from the step before it: its first task's first
    /// argument, or [`Start`] when it needs nothing.
    type Input;
    /// What it gives the step after it.
    type Output;
    /// What enqueueing it returns: a handle whose `wait` yields `Output`.
    type Handle: FromNode;

    /// The piece as an untyped tree of envelopes.
    #[doc(hidden)]
    fn into_node(self) -> Result<Node>;
}

/// A handle on an enqueued piece, made from the piece's node (the ids of
/// its tasks are chosen when it is built).
#[doc(hidden)]
pub trait FromNode {
    /// The handle on the piece built as `node`.
    fn from_node(stem: &Stem, node: &Node) -> Self;
}

impl<O> FromNode for crate::task::TaskHandle<O> {
    fn from_node(stem: &Stem, node: &Node) -> Self {
        stem.handle(node.tail().unwrap_or_default())
    }
}

/// A piece with its types erased: what the canvas primitives build, before
/// it is lowered into envelopes.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum Node {
    /// One task.
    Task(Box<Envelope>),
    /// Pieces that run side by side.
    Group {
        /// The group id.
        id: TaskId,
        /// The members, in order.
        members: Vec<Node>,
    },
    /// Pieces that run one after the other, each given the last one's output.
    Chain(Vec<Node>),
    /// A group and what runs with its members' outputs once all succeeded.
    Chord {
        /// The group id.
        id: TaskId,
        /// The members, in order.
        members: Vec<Node>,
        /// What runs with the list of their outputs.
        callback: Box<Node>,
    },
}

impl Node {
    /// The task whose result is the piece's output: the last task of a chain,
    /// a chord's callback; `None` for a group (each member has its own).
    pub(crate) fn tail(&self) -> Option<TaskId> {
        self.tail_envelope().map(|e| e.id)
    }

    /// The envelope of the task whose result is the piece's output.
    pub(crate) fn tail_envelope(&self) -> Option<&Envelope> {
        match self {
            Self::Task(envelope) => Some(envelope),
            Self::Chain(nodes) => nodes.last().and_then(Self::tail_envelope),
            Self::Chord { callback, .. } => callback.tail_envelope(),
            Self::Group { .. } => None,
        }
    }

    /// The envelope of the task whose result is the piece's output, to change.
    pub(crate) fn tail_envelope_mut(&mut self) -> Option<&mut Envelope> {
        match self {
            Self::Task(envelope) => Some(envelope),
            Self::Chain(nodes) => nodes.last_mut().and_then(Self::tail_envelope_mut),
            Self::Chord { callback, .. } => callback.tail_envelope_mut(),
            Self::Group { .. } => None,
        }
    }

    /// The id of a group (or of the group a chain or chord ends with).
    pub(crate) fn group_id(&self) -> Option<TaskId> {
        match self {
            Self::Group { id, .. } => Some(*id),
            Self::Chain(nodes) => nodes.last().and_then(Self::group_id),
            Self::Chord { callback, .. } => callback.group_id(),
            Self::Task(_) => None,
        }
    }

    /// The members of a group (or of the group a chain ends with).
    pub(crate) fn members(&self) -> &[Node] {
        match self {
            Self::Group { members, .. } => members,
            Self::Chain(nodes) => nodes.last().map_or(&[], Self::members),
            Self::Chord { callback, .. } => callback.members(),
            Self::Task(_) => &[],
        }
    }

    /// Adds `errback` to every task of the piece that can fail on its own:
    /// each task of a chain or group, and the callback of a chord (which
    /// fails, once, when a member fails).
    pub(crate) fn on_error(&mut self, errback: &Envelope) {
        match self {
            Self::Task(envelope) => plan_of(envelope).on_error.push(errback.clone()),
            Self::Chain(nodes) | Self::Group { members: nodes, .. } => {
                nodes.iter_mut().for_each(|node| node.on_error(errback));
            }
            Self::Chord { callback, .. } => callback.on_error(errback),
        }
    }
}

/// What a node's output goes to: branches started with it, the rest of the
/// chain it heads (a task only), or the chord it ends a member of.
#[derive(Debug, Default)]
struct Continuation {
    then: Vec<Next>,
    rest: Vec<Next>,
    member: Option<Member>,
}

/// The node as the envelopes to start, with what follows each task written
/// into their plans: the entry point of the canvas.
pub(crate) fn lower(node: Node) -> Result<Next> {
    lower_into(node, Continuation::default())
}

fn lower_into(node: Node, after: Continuation) -> Result<Next> {
    match node {
        Node::Task(mut envelope) => {
            let plan = plan_of(&mut envelope);
            plan.then.extend(after.then);
            plan.rest = after.rest;
            plan.member = after.member;
            Ok(Next::Task(envelope))
        }
        Node::Chain(nodes) => lower_chain(nodes, after),
        Node::Group { id, members } if after.then.is_empty() && after.member.is_none() => {
            let members = members.into_iter().map(lower).collect::<Result<_>>()?;
            Ok(Next::Group(GroupPlan { id, members, chord: false }))
        }
        // A group with something after it is a chord. What follows runs with
        // the list of outputs; a group that is itself a chord member hands
        // that list on through `collect`, which ends the member.
        Node::Group { id, members } => {
            let callback = match after.member {
                None => CallbackOf::Steps(after.then),
                Some(member) => CallbackOf::Collect(member),
            };
            lower_chord(id, members, callback)
        }
        Node::Chord { id, members, callback } => {
            let callback = lower_into(*callback, after)?;
            lower_chord(id, members, CallbackOf::Steps(vec![callback]))
        }
    }
}

/// A chain, flat: its first task's plan lists the steps after it in order
/// (`rest`), each started with the one before's output and handed the steps
/// after it, so that a chain of any length nests nothing. A group (or chord)
/// in a chain takes every step after it as its callback.
fn lower_chain(nodes: Vec<Node>, end: Continuation) -> Result<Next> {
    let mut steps = Vec::new();
    flatten(nodes, &mut steps);
    if let Some(at) = steps.iter().position(|s| matches!(s, Node::Group { .. } | Node::Chord { .. }))
        && at + 1 < steps.len()
    {
        let after: Vec<Node> = steps.drain(at + 1..).collect();
        let absorbed = match steps.pop() {
            Some(Node::Group { id, members }) => Node::Chord { id, members, callback: Box::new(Node::Chain(after)) },
            Some(Node::Chord { id, members, callback }) => {
                let callback = Node::Chain(std::iter::once(*callback).chain(after).collect());
                Node::Chord { id, members, callback: Box::new(callback) }
            }
            _ => return Err(Error::Config("a chain step could not be placed".to_owned())),
        };
        steps.push(absorbed);
    }
    let mut steps = steps.into_iter();
    let head = steps.next().ok_or_else(|| Error::Config("a chain needs at least one step".to_owned()))?;
    let mut rest: Vec<Node> = steps.collect();
    let Some(last) = rest.pop() else { return lower_into(head, end) };
    let mut lowered = rest.into_iter().map(lower).collect::<Result<Vec<_>>>()?;
    lowered.push(lower_into(last, end)?);
    lower_into(head, Continuation { rest: lowered, ..Continuation::default() })
}

/// The steps of `nodes` with the steps of nested chains in their place.
fn flatten(nodes: Vec<Node>, into: &mut Vec<Node>) {
    for node in nodes {
        match node {
            Node::Chain(inner) => flatten(inner, into),
            other => into.push(other),
        }
    }
}

/// What a chord runs once its members succeeded.
enum CallbackOf {
    Steps(Vec<Next>),
    /// The list goes to the built-in `collect` task, which ends a member of
    /// an enclosing chord.
    Collect(Member),
}

fn lower_chord(id: TaskId, members: Vec<Node>, callback: CallbackOf) -> Result<Next> {
    if members.is_empty() {
        return Err(Error::Config("a chord needs at least one member".to_owned()));
    }
    let then = match callback {
        CallbackOf::Steps(then) => then,
        CallbackOf::Collect(outer) => {
            let queue = members.first().and_then(Node::tail_envelope).map_or(DEFAULT_QUEUE, |e| &e.queue);
            let mut collect = super::collect::envelope(derived_id(id, "collect"), queue)?;
            plan_of(&mut collect).member = Some(outer);
            vec![Next::Task(Box::new(collect))]
        }
    };
    // The callback gets the members' outputs as one JSON list, whatever
    // their types: their results must be JSON.
    for member in &members {
        if let Some(tail) = member.tail_envelope().filter(|e| e.args.codec() != "json") {
            return Err(Error::Config(format!(
                "task `{}` ends a chord member but uses the `{}` codec; a chord's members must use JSON",
                tail.task,
                tail.args.codec()
            )));
        }
    }
    let size = members.len();
    let then = std::sync::Arc::new(then);
    let members = members
        .into_iter()
        .enumerate()
        .map(|(index, node)| {
            let member = Member { group: id, index, size, then: std::sync::Arc::clone(&then) };
            lower_into(node, Continuation { member: Some(member), ..Continuation::default() })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Next::Group(GroupPlan { id, members, chord: true }))
}

/// A group member that is a plain group ends in many tasks; it becomes a
/// chord of its own whose `collect` task is its one tail (the task an outer
/// chord counts, and the member's result).
pub(crate) fn single_tail(node: Node) -> Result<Node> {
    match node {
        Node::Group { id, members } => {
            let queue = members.first().and_then(Node::tail_envelope).map_or(DEFAULT_QUEUE, |e| &e.queue);
            let collect = Node::Task(Box::new(super::collect::envelope(derived_id(id, "collect"), queue)?));
            Ok(Node::Chord { id, members, callback: Box::new(collect) })
        }
        other => Ok(other),
    }
}

/// An id derived from `base` and `what`: the same every time, so that a step
/// started again after a crash has the id it had.
pub(crate) fn derived_id(base: TaskId, what: &str) -> TaskId {
    // FNV-1a, 128 bits: stable across builds and Rust versions.
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in base.as_uuid().as_bytes().iter().chain(what.as_bytes()) {
        hash ^= u128::from(*byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    TaskId::from_uuid(uuid::Builder::from_custom_bytes(hash.to_be_bytes()).into_uuid())
}

/// The plan of `envelope`, made if it has none.
pub(crate) fn plan_of(envelope: &mut Envelope) -> &mut Plan {
    envelope.canvas.get_or_insert_with(Default::default)
}
