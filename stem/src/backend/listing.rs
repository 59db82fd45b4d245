//! [`TaskListing`]: the statuses a result backend holds, by task name and
//! state, newest first, a page at a time.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;

use super::{TaskState, TaskStatus};
use crate::error::{Error, Result};
use crate::id::TaskId;

/// What [`TaskListing::list_tasks`] looks for: statuses of one task name
/// and / or in one state, a page of at most [`limit`](Self::limit) of them,
/// after the page whose [`TaskPage::next`] is [`after`](Self::after).
///
/// ```
/// use stem::backend::{TaskQuery, TaskState};
///
/// let query = TaskQuery::new().task("app::emails::send").state(TaskState::Failed).limit(50);
/// assert_eq!(query.page_size(), 50);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskQuery {
    /// Only statuses of this task name (exact match); any name if `None`.
    pub task: Option<String>,
    /// Only statuses in this state; any state if `None`.
    pub state: Option<TaskState>,
    /// The most statuses a page holds; a store answers with
    /// [`page_size`](Self::page_size), this bounded to `1..=`[`TaskQuery::MAX_LIMIT`].
    pub limit: usize,
    /// The cursor of the previous page ([`TaskPage::next`]), opaque; `None`
    /// for the first page.
    pub after: Option<String>,
}

impl Default for TaskQuery {
    fn default() -> Self {
        Self { task: None, state: None, limit: Self::DEFAULT_LIMIT, after: None }
    }
}

impl TaskQuery {
    /// The page size of a query that does not say ([`TaskQuery::new`]).
    pub const DEFAULT_LIMIT: usize = 50;

    /// The largest page a store returns, whatever the query's `limit`.
    pub const MAX_LIMIT: usize = 1000;

    /// The first page of every status, [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) long.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only statuses of this task name.
    pub fn task(mut self, task: impl Into<String>) -> Self {
        self.task = Some(task.into());
        self
    }

    /// Only statuses in this state.
    pub fn state(mut self, state: TaskState) -> Self {
        self.state = Some(state);
        self
    }

    /// At most `limit` statuses a page (bounded, see [`page_size`](Self::page_size)).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The page after the one whose [`TaskPage::next`] was `cursor`.
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.after = Some(cursor.into());
        self
    }

    /// The number of statuses a page holds at most: `limit` bounded to
    /// `1..=`[`MAX_LIMIT`](Self::MAX_LIMIT).
    pub fn page_size(&self) -> usize {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }

    /// The position the page starts after, read from [`after`](Self::after);
    /// `None` for the first page, an error if the cursor was not made by
    /// [`TaskCursor`] (a store's [`TaskPage::next`]).
    pub fn cursor(&self) -> Result<Option<TaskCursor>> {
        self.after.as_deref().map(str::parse).transpose()
    }
}

/// One page of statuses, newest first (by `updated_at`, then by id, both
/// descending).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskPage {
    /// The statuses, newest first.
    pub statuses: Vec<TaskStatus>,
    /// The cursor of the next page (for [`TaskQuery::after`]), `None` if this
    /// page is the last.
    pub next: Option<String>,
}

impl TaskPage {
    /// A page of `statuses` (newest first) followed by the page after `next`.
    pub fn new(statuses: Vec<TaskStatus>, next: Option<String>) -> Self {
        Self { statuses, next }
    }

    /// The page made of up to `size` of `rows` (newest first, each with its
    /// position as the store orders it; up to one more than `size` read to
    /// know whether more follow): its next cursor is the last kept row's
    /// position when one more was read.
    pub fn from_rows(mut rows: Vec<(TaskCursor, TaskStatus)>, size: usize) -> Self {
        let more = rows.len() > size;
        rows.truncate(size);
        let next = if more { rows.last().map(|(at, _)| at.to_string()) } else { None };
        Self { statuses: rows.into_iter().map(|(_, s)| s).collect(), next }
    }
}

/// Where a page ends: the last status's update time, in whole microseconds
/// since the epoch (the stores' precision), and its id, as the store indexes
/// them. Shown as `MICROS_ID`; callers pass it back as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct TaskCursor {
    /// `updated_at` in microseconds since the epoch.
    pub updated_us: i64,
    /// The task id.
    pub id: TaskId,
}

impl TaskCursor {
    /// The position of `updated_us` (microseconds since the epoch) and `id`.
    pub fn new(updated_us: i64, id: TaskId) -> Self {
        Self { updated_us, id }
    }

    /// The position of `status` in the listing order: its `updated_at`
    /// truncated to whole microseconds, and its id.
    pub fn of(status: &TaskStatus) -> Self {
        Self { updated_us: status.updated_at.timestamp_micros(), id: status.id }
    }
}

impl fmt::Display for TaskCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.updated_us, self.id)
    }
}

impl FromStr for TaskCursor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::Config(format!("`{s}` is not a task listing cursor (pass a page's `next` as it is)"));
        let (micros, id) = s.split_once('_').ok_or_else(bad)?;
        Ok(Self { updated_us: micros.parse().map_err(|_| bad())?, id: id.parse().map_err(|_| bad())? })
    }
}

/// A capability: listing the task statuses a result backend holds, by task
/// name and state, newest first, with keyset pagination (a page reads an
/// index from the previous page's end, never skipping rows, so a deep page
/// costs what the first does). Backends that have it implement it beside
/// [`ResultBackend`](super::ResultBackend) and return it from
/// [`ResultBackend::listing`](super::ResultBackend::listing).
///
/// A listing holds the statuses a read of each id would return: expired
/// ones are left out. Statuses written while a listing is paged through may
/// be seen or not; none that stays unchanged is seen twice or missed.
///
/// # Cancel safety
/// A read: dropping the future changes nothing.
#[async_trait]
pub trait TaskListing: Send + Sync + 'static {
    /// One page of the statuses matching `query`, newest first; an error if
    /// its cursor is not one a page returned.
    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage>;
}
