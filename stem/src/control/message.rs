//! What travels on the control channels: requests, and each worker's reply.

use serde::{Deserialize, Serialize};

use crate::revoke::Revoke;
use crate::worker::ShutdownMode;

/// The channel requests go out on.
pub(crate) const REQUESTS: &str = "stem.control";

/// The channel replies come back on.
pub(crate) const REPLIES: &str = "stem.control.reply";

/// A control command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// Answer.
    Ping,
    /// Counts: processed, succeeded, failed, in flight, uptime, concurrency, memory.
    Stats,
    /// The deliveries held (running or reserved), and the scheduled ones
    /// (due later) of the worker's queues.
    Inspect,
    /// Stop.
    Shutdown {
        /// How.
        mode: ShutdownMode,
    },
    /// Stop delivering from a queue.
    Pause {
        /// The queue.
        queue: String,
    },
    /// Deliver from a queue again.
    Resume {
        /// The queue.
        queue: String,
    },
    /// Grow the pool.
    Grow {
        /// By how many slots.
        n: usize,
    },
    /// Shrink the pool.
    Shrink {
        /// By how many slots.
        n: usize,
    },
    /// Take note of revokes (already in the store), stopping running tasks
    /// as they say.
    Revoke {
        /// The revokes.
        revokes: Vec<Revoke>,
    },
}

/// A request: a command, to every worker or to some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Request {
    /// Its id, which the replies carry.
    pub(crate) id: String,
    /// The workers addressed; every worker when empty.
    #[serde(default)]
    pub(crate) targets: Vec<String>,
    #[serde(flatten)]
    pub(crate) command: Command,
}

/// One worker's reply to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reply {
    /// The request it answers.
    pub request: String,
    /// The worker's id.
    pub worker: String,
    /// Whether the command was carried out.
    pub ok: bool,
    /// What the command returns (stats, active tasks, the pool size ...).
    #[serde(default)]
    pub body: serde_json::Value,
    /// Why it was not, if it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
