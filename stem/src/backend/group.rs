use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::TaskStatus;
use crate::id::TaskId;

/// The members' results of a group (and a chord's header) so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group id.
    pub id: TaskId,
    /// How many members the group has.
    pub expected: usize,
    /// The final statuses of the members that finished, by task id.
    pub results: BTreeMap<TaskId, TaskStatus>,
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
