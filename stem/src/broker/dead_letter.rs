//! Dead letters: messages that will not run again unless replayed, and the
//! [`DeadLetters`] capability that lists, replays and purges them.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;

/// A capability: the administration of a broker's dead letter queues (one per
/// queue). Adapters that have it implement it beside [`Broker`](super::Broker)
/// and return it from [`Broker::dead_letters`](super::Broker::dead_letters).
#[async_trait]
pub trait DeadLetters: Send + Sync + 'static {
    /// Dead letters of `queue`, newest first.
    async fn list_dead_letters(&self, queue: &str, limit: usize, offset: usize) -> Result<DeadLetterPage>;

    /// One dead letter by task id.
    async fn get_dead_letter(&self, queue: &str, id: TaskId) -> Result<Option<DeadLetter>>;

    /// Puts the dead letters that `options` selects back on their queue
    /// (oldest first); a dry run changes nothing.
    /// [`Stem::replay_dead_letters`](crate::Stem::replay_dead_letters) also
    /// marks the replayed tasks queued again in the result backend.
    async fn replay_dead_letters(&self, queue: &str, options: &ReplayOptions) -> Result<ReplayResult>;

    /// Deletes the dead letters of `queue` that `options` selects (oldest
    /// first); returns how many.
    async fn purge_dead_letters(&self, queue: &str, options: &PurgeOptions) -> Result<usize>;
}

/// A message that will not run again unless replayed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The message as it was last delivered.
    pub envelope: Envelope,
    /// Why it was dead-lettered (`unknown task ...`, `retries exhausted ...`).
    pub reason: String,
    /// When it was dead-lettered.
    pub dead_at: DateTime<Utc>,
    /// The fencing token of the delivery that dead-lettered it: the failure
    /// recorded for it carries the same, so a replay's queued record replaces
    /// it without reading it first.
    #[serde(default)]
    pub fence: u64,
}

impl DeadLetter {
    /// The envelope a replay publishes: a fresh retry budget (attempt 0),
    /// delivered `delay` after `now` (at once when `None`), with the replay time
    /// in `meta["stem.replayed_at"]`.
    pub fn replay_envelope(&self, now: DateTime<Utc>, delay: Option<Duration>) -> Envelope {
        let mut envelope = self.envelope.clone();
        envelope.attempt = 0;
        envelope.not_before = delay.map(|d| now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
        envelope.meta.insert("stem.replayed_at".to_owned(), serde_json::Value::String(now.to_rfc3339()));
        envelope
    }
}

/// One page of dead letters, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterPage {
    /// The entries of this page.
    pub entries: Vec<DeadLetter>,
    /// The offset of the next page, if there is one.
    pub next_offset: Option<usize>,
}

/// Which dead letters [`DeadLetters::replay_dead_letters`] puts back, and how.
///
/// The selections combine: with `ids` and `since`, only the dead letters of
/// those tasks that died at or after that time, at most `limit`.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// At most this many, oldest first.
    pub limit: usize,
    /// Only those dead at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only the dead letters of these task ids; empty means any. An id with
    /// no dead letter in the queue selects nothing.
    pub ids: Vec<TaskId>,
    /// Deliver them this long from now rather than at once.
    pub delay: Option<Duration>,
    /// Report what would be replayed and change nothing.
    pub dry_run: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self { limit: 50, since: None, ids: Vec::new(), delay: None, dry_run: false }
    }
}

/// Which dead letters [`DeadLetters::purge_dead_letters`] deletes; the
/// default selects them all.
///
/// The selections combine: with `ids` and `since`, only the dead letters of
/// those tasks that died at or after that time, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct PurgeOptions {
    /// Only those dead at or after this time (any time when `None`).
    pub since: Option<DateTime<Utc>>,
    /// At most this many, oldest first (no limit when `None`).
    pub limit: Option<usize>,
    /// Only the dead letters of these task ids; empty means any. An id with
    /// no dead letter in the queue selects nothing.
    pub ids: Vec<TaskId>,
}

/// What a replay did (or, for a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct ReplayResult {
    /// The entries replayed, as they were in the dead letter queue.
    pub entries: Vec<DeadLetter>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}
