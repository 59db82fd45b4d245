use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;

/// A message that will not run again unless replayed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The message as it was last delivered.
    pub envelope: Envelope,
    /// Why it was dead-lettered (`unknown task ...`, `retries exhausted ...`).
    pub reason: String,
    /// When it was dead-lettered.
    pub dead_at: DateTime<Utc>,
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

/// Which dead letters [`Broker::replay_dead_letters`](super::Broker::replay_dead_letters) puts back.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// At most this many, oldest first.
    pub limit: usize,
    /// Only those dead at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Deliver them this long from now rather than at once.
    pub delay: Option<Duration>,
    /// Report what would be replayed and change nothing.
    pub dry_run: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self { limit: 50, since: None, delay: None, dry_run: false }
    }
}

/// What a replay did (or, for a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct ReplayResult {
    /// The entries replayed, as they were in the dead letter queue.
    pub entries: Vec<DeadLetter>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}
