use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::TaskStatus;
use crate::id::TaskId;

/// A group (and a chord's header): how many members it has, and the final
/// statuses of those that finished, in member order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group id.
    pub id: TaskId,
    /// How many members the group has.
    pub expected: usize,
    /// The final statuses of the members that finished, by member index
    /// (their place in the group, from 0).
    pub results: BTreeMap<usize, TaskStatus>,
    /// Whether a chord callback was claimed, and its task id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chord_callback: Option<TaskId>,
}

impl GroupStatus {
    /// Whether every member finished.
    pub fn is_complete(&self) -> bool {
        self.results.len() >= self.expected
    }
}

/// One member's final status, for [`ResultBackend::group_add`](super::ResultBackend::group_add).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMember {
    /// The group.
    pub group: TaskId,
    /// The member's place in the group, from 0.
    pub index: usize,
    /// Its final status.
    pub status: TaskStatus,
}

/// How far a group is once a member was added: what
/// [`ResultBackend::group_add`](super::ResultBackend::group_add) returns, so
/// that counting a member does not read every other member's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCount {
    /// How many members the group has.
    pub expected: usize,
    /// How many of them have finished, this one included.
    pub done: usize,
}

impl GroupCount {
    /// Whether every member finished.
    pub fn is_complete(&self) -> bool {
        self.done >= self.expected
    }
}
