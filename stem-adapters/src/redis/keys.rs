//! Every key the adapter uses, in one place.
//!
//! All keys start with `stem:<namespace>:`. The keys of one queue carry the
//! queue's name as a hash tag (`stem:<ns>:{<queue>}:...`), so that on Redis
//! Cluster they live in one slot and the queue's scripts may touch them together.

use stem::TaskId;

/// The key names of one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(namespace: &str) -> Self {
        Self { prefix: format!("stem:{namespace}:") }
    }

    /// The prefix of every key, for scans.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A task's state: a hash with the JSON status and its fence.
    pub(crate) fn task(&self, id: TaskId) -> String {
        format!("{}task:{id}", self.prefix)
    }

    /// The channel on which the id of every task that reaches a final state is published.
    pub(crate) fn done_channel(&self) -> String {
        format!("{}done", self.prefix)
    }

    /// A group: a hash with `expected`, `chord` and one field per member.
    pub(crate) fn group(&self, id: TaskId) -> String {
        format!("{}group:{id}", self.prefix)
    }

    /// One worker's heartbeat (JSON, expiring).
    pub(crate) fn worker(&self, id: &str) -> String {
        format!("{}worker:{id}", self.prefix)
    }

    /// The ids of workers that sent heartbeats, scored by when each expires.
    pub(crate) fn workers(&self) -> String {
        format!("{}workers", self.prefix)
    }

    /// A named lock.
    pub(crate) fn lock(&self, key: &str) -> String {
        format!("{}lock:{key}", self.prefix)
    }

    /// The start of every key of `queue`, hash tag included.
    pub(crate) fn queue(&self, queue: &str) -> String {
        format!("{}{{{queue}}}:", self.prefix)
    }

    /// The broadcast channel `channel`.
    pub(crate) fn broadcast(&self, channel: &str) -> String {
        format!("{}broadcast:{channel}", self.prefix)
    }
}
