//! What a task's envelope says about the canvas around it (see [`crate::canvas`]): the input its
//! step before gave it, what runs after it, what runs if it fails, and the
//! chord it is a member of. The worker that records the task's outcome reads
//! this and carries the canvas on; nothing else holds a canvas's state
//! besides the chord counters in the result backend.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Envelope;
use crate::codec::Payload;
use crate::id::TaskId;

/// The canvas around one task, carried in its envelope
/// ([`Envelope::canvas`](crate::Envelope::canvas)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// The step before's output: the task's first argument. The envelope's
    /// `args` then hold the other arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Payload>,
    /// What runs once the task succeeds, each given its output as input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<Next>,
    /// The rest of the chain the task is a step of, in order: the first is
    /// started with the task's output and handed the others (a flat list,
    /// so that a long chain nests nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rest: Vec<Next>,
    /// Tasks that run with the failure ([`TaskFailure`](crate::TaskFailure))
    /// as input if the task fails for good.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_error: Vec<Envelope>,
    /// The chord whose header this task ends a member of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
}

impl Plan {
    /// Whether the plan says nothing (the envelope then carries none).
    pub fn is_empty(&self) -> bool {
        self.input.is_none()
            && self.then.is_empty()
            && self.rest.is_empty()
            && self.on_error.is_empty()
            && self.member.is_none()
    }
}

/// A step that runs after a task, with the task's output as its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// One task, the output its first argument.
    Task(Box<Envelope>),
    /// A group: each member given the output as its first argument.
    Group(GroupPlan),
}

impl Next {
    /// The task id of a task step, the group id of a group.
    pub fn id(&self) -> TaskId {
        match self {
            Self::Task(envelope) => envelope.id,
            Self::Group(group) => group.id,
        }
    }
}

/// A group started by the step before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupPlan {
    /// The group id.
    pub id: TaskId,
    /// Its members' first steps, in member order.
    pub members: Vec<Next>,
    /// Whether it is a chord's header (its members' last tasks count in the
    /// result backend, which then needs the group created first).
    #[serde(default)]
    pub chord: bool,
}

/// Membership of a chord's header: carried by the last task of each member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The chord's group id.
    pub group: TaskId,
    /// The member's place in the group, from 0.
    pub index: usize,
    /// How many members the group has.
    pub size: usize,
    /// What runs once every member succeeded, given their outputs in member
    /// order as one list: the chord's callback (shared by the members' copies
    /// in memory).
    pub then: Arc<Vec<Next>>,
}
