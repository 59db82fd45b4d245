//! Revokes: tasks that must not run, kept in the store so that a worker that
//! starts later still honours them.
//!
//! A [`Revoke`] names a task id, until when the revoke holds (after that the
//! task id has long finished or been forgotten), and whether a running task
//! is to be stopped (`terminate`). Workers load the live revokes when they
//! start and hear new ones over the control channel (see [`crate::control`]);
//! a delivery of a revoked task is never run: its state becomes `revoked`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::id::TaskId;

/// How a running task is stopped when it is revoked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Terminate {
    /// Not at all: only a delivery that has not started is refused.
    #[default]
    No,
    /// Its context reports cancellation (`ctx.is_cancelled()`); the task
    /// ends itself.
    Soft,
    /// Its future is dropped at once.
    Hard,
}

/// One revoked task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Revoke {
    /// The task.
    pub id: TaskId,
    /// Until when the revoke holds.
    pub expires: DateTime<Utc>,
    /// Whether a running task is stopped, and how.
    #[serde(default)]
    pub terminate: Terminate,
    /// Who asked, and why, if they said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Revoke {
    /// A revoke of `id` that holds until `expires`.
    pub fn new(id: TaskId, expires: DateTime<Utc>) -> Self {
        Self { id, expires, terminate: Terminate::No, reason: None }
    }

    /// The same revoke, stopping a running task as `terminate` says.
    #[must_use]
    pub fn terminate(mut self, terminate: Terminate) -> Self {
        self.terminate = terminate;
        self
    }

    /// The same revoke with a reason.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// Where revokes live.
#[async_trait]
pub trait RevokeStore: Send + Sync + std::fmt::Debug + 'static {
    /// Puts `revokes` (a revoke of an id already revoked replaces it).
    async fn put(&self, revokes: &[Revoke]) -> Result<()>;

    /// The revokes that hold at `now`, by task id.
    async fn live(&self, now: DateTime<Utc>) -> Result<Vec<Revoke>>;

    /// Whether `id` is revoked at `now`.
    async fn is_revoked(&self, id: TaskId, now: DateTime<Utc>) -> Result<Option<Revoke>>;

    /// Removes the revoke of `id` (the task may run again); false if there
    /// was none.
    async fn remove(&self, id: TaskId) -> Result<bool>;

    /// Forgets revokes that expired before `now`; how many.
    async fn prune(&self, now: DateTime<Utc>) -> Result<u64>;
}
