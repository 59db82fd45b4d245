//! The store vacuums its busiest tables itself, as they churn.
//!
//! Every message is inserted, updated when it is leased and deleted when it is
//! acked: the `messages` table turns over all its rows, and each leaves two
//! dead versions behind. Every task status is inserted, then replaced by its
//! outcome. Until a vacuum reclaims them, dead versions fill the table and sit
//! in the index that every claim scans from its head. Autovacuum looks at a
//! table once a minute at best, and some servers run with it off: on this
//! project's CI machine, a million tasks left `messages` at 747 MB with no live
//! row, and the drain slowed from 29,700/s to 20,500/s along the way.
//!
//! So each process counts the rows it retires (acked messages, written
//! statuses) and, after every `n` acked messages or `5 * n` statuses
//! ([`PostgresOptions::with_vacuum_every`](super::PostgresOptions::with_vacuum_every)),
//! vacuums that table in the background: `VACUUM (SKIP_LOCKED)`, so a vacuum
//! that another process is running is skipped rather than waited for, and at
//! most one at a time per table and process. A vacuum by a role that does not
//! own the table is a warning from the server, not an error; a failed vacuum
//! is logged and tried again after the next count.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sqlx::AssertSqlSafe;

use super::Shared;

/// Status writes per acked message between two vacuums: `tasks` is vacuumed
/// less often than `messages` (it is larger, and its rows are replaced once
/// rather than turned over).
const TASKS_FACTOR: u64 = 5;

/// A table the store vacuums.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    /// The broker's messages.
    Messages,
    /// The result backend's task statuses.
    Tasks,
}

/// Rows retired since the last vacuum, per table, and whether one is running.
#[derive(Debug, Default)]
pub(crate) struct Churn {
    messages: Counter,
    tasks: Counter,
}

#[derive(Debug, Default)]
struct Counter {
    rows: AtomicU64,
    running: AtomicBool,
}

impl Churn {
    fn counter(&self, table: Table) -> &Counter {
        match table {
            Table::Messages => &self.messages,
            Table::Tasks => &self.tasks,
        }
    }
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Tasks => "tasks",
        }
    }

    fn every(self, messages: u64) -> u64 {
        match self {
            Self::Messages => messages,
            Self::Tasks => messages.saturating_mul(TASKS_FACTOR),
        }
    }
}

/// Counts `rows` retired from `table`; starts a background vacuum of it when
/// enough have been since the last one.
pub(crate) fn retired(shared: &Arc<Shared>, table: Table, rows: u64) {
    let Some(every) = shared.options.vacuum_every() else { return };
    if rows == 0 {
        return;
    }
    let counter = shared.churn.counter(table);
    if counter.rows.fetch_add(rows, Ordering::Relaxed) + rows < table.every(every) {
        return;
    }
    if counter.running.swap(true, Ordering::AcqRel) {
        return;
    }
    counter.rows.store(0, Ordering::Relaxed);
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        if let Err(error) = vacuum(&shared, table).await {
            tracing::warn!(%error, table = table.name(), "vacuuming a Stem table failed; it is tried again later");
        }
        shared.churn.counter(table).running.store(false, Ordering::Release);
    });
}

/// Vacuums one table now.
async fn vacuum(shared: &Shared, table: Table) -> Result<(), sqlx::Error> {
    let sql = format!("VACUUM (SKIP_LOCKED) {}.{}", shared.schema, table.name());
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&shared.pool).await.map(drop)
}
