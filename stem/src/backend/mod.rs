//! The result backend contract: task states, results, groups and worker
//! heartbeats; listing statuses ([`TaskListing`]) is a capability a backend
//! returns from [`ResultBackend::listing`].

mod group;
mod heartbeat;
mod listing;
pub(crate) mod status;

use std::time::Duration;

use async_trait::async_trait;

pub use self::group::{GroupCount, GroupMember, GroupStatus};
pub use self::heartbeat::WorkerHeartbeat;
pub use self::listing::{TaskCursor, TaskListing, TaskPage, TaskQuery};
pub use self::status::{
    ARGS_META, ErrorInfo, GROUP_META, KEEP_ARGS_META, PARENT_META, Progress, ROOT_META, TaskState, TaskStatus,
    args_json,
};
use crate::error::Result;
use crate::id::TaskId;

/// How long finished task records are kept unless a backend is told otherwise:
/// one day, as Celery's `result_expires`.
pub const DEFAULT_RESULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Where task states and results live.
///
/// Writes are fenced: a status whose `fence` is lower than the stored one is
/// refused, so a worker whose lease was lost cannot overwrite the outcome of the
/// delivery that replaced it. Final states are kept for the backend's retention
/// (default [`DEFAULT_RESULT_RETENTION`]) and then disappear.
///
/// # Cancel safety
/// Dropping a `wait` future is harmless. A dropped write either happened or not.
#[async_trait]
pub trait ResultBackend: Send + Sync + std::fmt::Debug + 'static {
    /// Writes statuses in order, in one round trip where the store allows it.
    /// Returns, per status, whether it was stored (false: refused by its fence).
    ///
    /// Once they are stored, the backend may take the statuses out of
    /// `statuses` rather than copy them (the in-memory backend keeps them as
    /// they are); on an error it leaves them there, so that the caller can try
    /// again.
    async fn set_batch(&self, statuses: &mut Vec<TaskStatus>) -> Result<Vec<bool>>;

    /// Writes one status; false if refused by its fence.
    async fn set(&self, status: TaskStatus) -> Result<bool> {
        Ok(self.set_batch(&mut vec![status]).await?.first().copied().unwrap_or(false))
    }

    /// Reads a status; `None` if unknown or expired.
    async fn get(&self, id: TaskId) -> Result<Option<TaskStatus>>;

    /// Waits until the task is in a final state, for at most `timeout`; returns
    /// the status then (final or not), `None` if the task is unknown.
    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskStatus>>;

    /// Makes the record of the task, or of the group, with this id expire `ttl`
    /// from now.
    async fn expire(&self, id: TaskId, ttl: Duration) -> Result<()>;

    /// Creates (or resets) a group of `expected` members. A group expires after
    /// the backend's retention, like a final state, unless [`expire`](Self::expire)
    /// says otherwise.
    async fn group_init(&self, group: TaskId, expected: usize) -> Result<()>;

    /// Records members' final statuses, in one round trip where the store
    /// allows it; returns, per member, its group's count right after it was
    /// added (`None` if the group is unknown or expired).
    ///
    /// A member is known by its group and index: adding an index again (a
    /// redelivered member that ran twice) replaces its status and counts it
    /// once. Counts are exact under concurrent adds: of members added at
    /// once, exactly one sees the count reach `expected` for the first time.
    async fn group_add(&self, members: &[GroupMember]) -> Result<Vec<Option<GroupCount>>>;

    /// Reads a group, its members' statuses in member order.
    async fn group_get(&self, group: TaskId) -> Result<Option<GroupStatus>>;

    /// Claims the right to start a chord's callback; true for the first caller only.
    async fn claim_chord(&self, group: TaskId, callback: TaskId) -> Result<bool>;

    /// Stores a worker heartbeat that expires after `ttl`.
    async fn set_heartbeat(&self, heartbeat: WorkerHeartbeat, ttl: Duration) -> Result<()>;

    /// The heartbeats that have not expired, by worker id.
    async fn list_heartbeats(&self) -> Result<Vec<WorkerHeartbeat>>;

    /// Listing statuses by task name and state ([`TaskListing`]), if this
    /// backend can do it from an index; `None` if it cannot (the default).
    fn listing(&self) -> Option<&dyn TaskListing> {
        None
    }
}
