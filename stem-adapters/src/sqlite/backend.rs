//! The SQLite result backend.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use stem::backend::{
    GroupCount, GroupMember, GroupStatus, ResultBackend, TaskCursor, TaskListing, TaskPage, TaskQuery, TaskStatus,
    WorkerHeartbeat,
};
use stem::{Error, Result, TaskId};
use tokio::sync::Notify;

use super::{Shared, after_ms, conversion_error, now_ms};

/// How often, at most, a write also deletes expired rows.
const SWEEP_EVERY_MS: i64 = 1_000;

/// A [`ResultBackend`] on a SQLite file. Final states and groups are kept for
/// [`SqliteOptions::retention`](super::SqliteOptions::retention), then deleted.
///
/// It lists statuses ([`TaskListing`]) from four indexes of the status table
/// (by update time; by task name, by state, by both, then update time), each
/// page read after the previous page's last row.
#[derive(Debug)]
pub struct SqliteBackend {
    shared: Arc<Shared>,
    last_sweep: AtomicI64,
}

impl SqliteBackend {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, last_sweep: AtomicI64::new(0) }
    }

    fn waiter(&self, id: TaskId) -> Arc<Waiter> {
        let mut finished = self.shared.finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(finished.entry(id).or_default())
    }

    /// Drops this wait's hold on the task's waiter, and the waiter itself once
    /// nobody else holds it. Holds are taken and dropped under the map's lock.
    fn forget_waiter(&self, id: TaskId, waiter: Arc<Waiter>) {
        let mut finished = self.shared.finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        drop(waiter);
        if finished.get(&id).is_some_and(|w| Arc::strong_count(w) == 1) {
            finished.remove(&id);
        }
    }
}

/// Hands final states written by this process to the tasks' waiters.
fn wake(shared: &Shared, written: Vec<TaskStatus>) {
    let mut finished = shared.finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if finished.is_empty() {
        return;
    }
    for status in written {
        if let Some(waiter) = finished.remove(&status.id) {
            *waiter.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(status);
            waiter.notify.notify_waiters();
        }
    }
}

/// Where `wait` calls on one task in this process are woken, and handed the
/// final state written by this process so that they need not read it back.
#[derive(Debug, Default)]
pub(super) struct Waiter {
    notify: Notify,
    status: std::sync::Mutex<Option<TaskStatus>>,
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::adapter("cannot encode a result backend record", e))
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> rusqlite::Result<T> {
    serde_json::from_str(json).map_err(conversion_error)
}

fn read_status(conn: &Connection, id: &str) -> rusqlite::Result<Option<TaskStatus>> {
    let json: Option<String> = conn
        .prepare_cached(include_str!("sql/get_status.sql"))?
        .query_row(params![id, now_ms()], |r| r.get(0))
        .optional()?;
    json.map(|j| decode(&j)).transpose()
}

fn read_group(conn: &Connection, id: &str) -> rusqlite::Result<Option<GroupStatus>> {
    let group: Option<(i64, Option<String>)> = conn
        .prepare_cached(include_str!("sql/group_get.sql"))?
        .query_row(params![id, now_ms()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((expected, chord_callback)) = group else { return Ok(None) };
    let results = conn
        .prepare_cached(include_str!("sql/group_members.sql"))?
        .query_map([id], |r| {
            let index = usize::try_from(r.get::<_, i64>(0)?).map_err(conversion_error)?;
            Ok((index, decode::<TaskStatus>(&r.get::<_, String>(1)?)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(GroupStatus {
        id: id.parse().map_err(conversion_error)?,
        expected: usize::try_from(expected).unwrap_or(0),
        results,
        chord_callback: chord_callback.map(|c| c.parse().map_err(conversion_error)).transpose()?,
    }))
}

/// A member to add, as stored: group id, index, status (JSON).
type MemberRow = (String, i64, String);

/// A group's count while a batch is added: its size, its count in the file
/// before the batch, and the members the batch counted so far.
struct Counting {
    expected: i64,
    done: i64,
    added: i64,
}

/// A live group's size and count, `None` if it is unknown or expired.
fn group_count(conn: &Connection, id: &str, now: i64) -> rusqlite::Result<Option<Counting>> {
    conn.prepare_cached(include_str!("sql/group_count.sql"))?
        .query_row(params![id, now], |r| Ok(Counting { expected: r.get(0)?, done: r.get(1)?, added: 0 }))
        .optional()
}

/// Stores a member's status; true if its index was new to the group (and
/// so is to be counted), false if it replaced an earlier status.
fn store_member(conn: &Connection, (group, index, json): &MemberRow) -> rusqlite::Result<bool> {
    if conn.prepare_cached(include_str!("sql/group_add.sql"))?.execute(params![group, index, json])? == 1 {
        return Ok(true);
    }
    conn.prepare_cached(include_str!("sql/group_replace.sql"))?.execute(params![json, group, index])?;
    Ok(false)
}

/// Adds `members` in turn, each group read once and its count written once:
/// per member, its group's count right after it was added. Runs in one
/// transaction on the writing connection, so no other write comes between.
fn add_members(conn: &Connection, members: &[MemberRow], now: i64) -> rusqlite::Result<Vec<Option<GroupCount>>> {
    let mut groups: HashMap<&str, Option<Counting>> = HashMap::new();
    let mut counts = Vec::with_capacity(members.len());
    for member in members {
        let group = member.0.as_str();
        let counting = match groups.entry(group) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(group_count(conn, group, now)?),
        };
        let Some(counting) = counting else {
            counts.push(None);
            continue;
        };
        if store_member(conn, member)? {
            counting.added += 1;
        }
        counts.push(Some(GroupCount {
            expected: usize::try_from(counting.expected).unwrap_or(0),
            done: usize::try_from(counting.done + counting.added).unwrap_or(0),
        }));
    }
    let mut counted = conn.prepare_cached(include_str!("sql/group_counted.sql"))?;
    for (group, counting) in &groups {
        if let Some(counting) = counting.as_ref().filter(|c| c.added > 0) {
            counted.execute(params![counting.added, group])?;
        }
    }
    Ok(counts)
}

/// A status as `set_statuses.sql` writes it.
struct StatusRow {
    id: String,
    fence: i64,
    json: String,
    expires: Option<i64>,
    task: String,
    state: &'static str,
    updated_us: i64,
}

/// A page of statuses matching `query`, read from the index of its filter.
fn list_page(conn: &Connection, query: &TaskQuery, after: Option<TaskCursor>) -> rusqlite::Result<TaskPage> {
    let size = query.page_size();
    let (after_us, after_id) = after.map_or((i64::MAX, String::new()), |c| (c.updated_us, c.id.to_string()));
    let mut values: Vec<rusqlite::types::Value> =
        vec![after_us.into(), after_id.into(), i64::try_from(size + 1).unwrap_or(i64::MAX).into(), now_ms().into()];
    let filter = match (&query.task, query.state) {
        (None, None) => "1",
        (Some(task), None) => {
            values.push(task.clone().into());
            "task = ?5"
        }
        (None, Some(state)) => {
            values.push(state.as_str().to_owned().into());
            "state = ?5"
        }
        (Some(task), Some(state)) => {
            values.push(task.clone().into());
            values.push(state.as_str().to_owned().into());
            "task = ?5 AND state = ?6"
        }
    };
    let sql = include_str!("sql/list_tasks.sql").replace("{filter}", filter);
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(values), |r| {
            let id: String = r.get(1)?;
            let at = TaskCursor::new(r.get(0)?, id.parse().map_err(conversion_error)?);
            Ok((at, decode::<TaskStatus>(&r.get::<_, String>(2)?)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(TaskPage::from_rows(rows, size))
}

/// Deletes expired rows of every table.
fn sweep(conn: &Connection, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(include_str!("sql/prune_tasks.sql"))?.execute([now])?;
    conn.prepare_cached(include_str!("sql/prune_group_members.sql"))?.execute([now])?;
    conn.prepare_cached(include_str!("sql/prune_groups.sql"))?.execute([now])?;
    conn.prepare_cached(include_str!("sql/prune_heartbeats.sql"))?.execute([now])?;
    conn.prepare_cached(include_str!("sql/prune_locks.sql"))?.execute([now])?;
    Ok(())
}

#[async_trait]
impl ResultBackend for SqliteBackend {
    async fn set_batch(&self, statuses: &mut Vec<TaskStatus>) -> Result<Vec<bool>> {
        let now = now_ms();
        let keep_until = after_ms(now, self.shared.options.retention);
        let rows = statuses
            .iter()
            .map(|s| {
                let expires = s.state.is_terminal().then_some(keep_until);
                let row = StatusRow {
                    id: s.id.to_string(),
                    fence: i64::try_from(s.fence).unwrap_or(i64::MAX),
                    json: encode(s)?,
                    expires,
                    task: s.task.clone(),
                    state: s.state.as_str(),
                    updated_us: s.updated_at.timestamp_micros(),
                };
                Ok(row)
            })
            .collect::<Result<Vec<_>>>()?;
        let last = self.last_sweep.load(Ordering::Relaxed);
        let sweep_now = now - last >= SWEEP_EVERY_MS
            && self.last_sweep.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok();
        // Final states go to this process's waiters right after the commit, on
        // the connection thread, so that a dropped caller cannot lose a wakeup.
        let finals: Vec<(usize, TaskStatus)> =
            statuses.iter().enumerate().filter(|(_, s)| s.state.is_terminal()).map(|(i, s)| (i, s.clone())).collect();
        let shared = Arc::clone(&self.shared);
        let on_commit = move |stored: &Vec<bool>| {
            wake(&shared, finals.into_iter().filter(|(i, _)| stored[*i]).map(|(_, s)| s).collect());
        };
        let stored = self
            .shared
            .db
            .call_then(
                "set status",
                move |conn| {
                    if sweep_now {
                        sweep(conn, now)?;
                    }
                    let mut upsert = conn.prepare_cached(include_str!("sql/set_statuses.sql"))?;
                    rows.iter()
                        .map(|r| {
                            let values = params![r.id, r.fence, r.json, r.expires, now, r.task, r.state, r.updated_us];
                            Ok(upsert.execute(values)? == 1)
                        })
                        .collect::<rusqlite::Result<Vec<bool>>>()
                },
                on_commit,
            )
            .await?;
        Ok(stored)
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskStatus>> {
        let id = id.to_string();
        self.shared.db.read("get status", move |conn| read_status(conn, &id)).await
    }

    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskStatus>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let waiter = self.waiter(id);
        let outcome = loop {
            let (notified, external) = (waiter.notify.notified(), self.shared.external.notified());
            tokio::pin!(notified, external);
            notified.as_mut().enable();
            external.as_mut().enable();
            let handed = waiter.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            let status = match handed {
                Some(status) => Some(status),
                None => match self.get(id).await {
                    Ok(status) => status,
                    Err(e) => break Err(e),
                },
            };
            if status.as_ref().is_some_and(|s| s.state.is_terminal()) || tokio::time::Instant::now() >= deadline {
                break Ok(status);
            }
            // Written by this process: handed over; by another: woken to read again.
            tokio::select! {
                () = &mut notified => {}
                () = &mut external => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        };
        self.forget_waiter(id, waiter);
        outcome
    }

    async fn expire(&self, id: TaskId, ttl: Duration) -> Result<()> {
        let (id, at) = (id.to_string(), after_ms(now_ms(), ttl));
        self.shared
            .db
            .call("expire", move |conn| {
                conn.prepare_cached(include_str!("sql/expire_task.sql"))?.execute(params![at, id])?;
                conn.prepare_cached(include_str!("sql/expire_group.sql"))?.execute(params![at, id])?;
                Ok(())
            })
            .await
    }

    async fn group_init(&self, group: TaskId, expected: usize) -> Result<()> {
        let id = group.to_string();
        let until = after_ms(now_ms(), self.shared.options.retention);
        let expected = i64::try_from(expected).unwrap_or(i64::MAX);
        self.shared
            .db
            .call("group init", move |conn| {
                conn.prepare_cached(include_str!("sql/group_delete.sql"))?.execute([&id])?;
                conn.prepare_cached(include_str!("sql/group_insert.sql"))?.execute(params![id, expected, until])?;
                Ok(())
            })
            .await
    }

    async fn group_add(&self, members: &[GroupMember]) -> Result<Vec<Option<GroupCount>>> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let rows = members
            .iter()
            .map(|m| {
                let index = i64::try_from(m.index).map_err(|e| {
                    Error::adapter(format!("group member index {} is too large for SQLite", m.index), e)
                })?;
                Ok((m.group.to_string(), index, encode(&m.status)?))
            })
            .collect::<Result<Vec<MemberRow>>>()?;
        self.shared.db.call("group add", move |conn| add_members(conn, &rows, now_ms())).await
    }

    async fn group_get(&self, group: TaskId) -> Result<Option<GroupStatus>> {
        let id = group.to_string();
        self.shared
            .db
            .read("group get", move |conn| {
                // One snapshot for the group and its members.
                let tx = conn.unchecked_transaction()?;
                let group = read_group(&tx, &id)?;
                tx.commit()?;
                Ok(group)
            })
            .await
    }

    async fn claim_chord(&self, group: TaskId, callback: TaskId) -> Result<bool> {
        let (id, callback) = (group.to_string(), callback.to_string());
        self.shared
            .db
            .call("claim chord", move |conn| {
                let changed = conn.prepare_cached(include_str!("sql/claim_chord.sql"))?.execute(params![
                    callback,
                    id,
                    now_ms()
                ])?;
                Ok(changed == 1)
            })
            .await
    }

    async fn set_heartbeat(&self, heartbeat: WorkerHeartbeat, ttl: Duration) -> Result<()> {
        let (worker, json, until) = (heartbeat.worker_id.clone(), encode(&heartbeat)?, after_ms(now_ms(), ttl));
        self.shared
            .db
            .call("set heartbeat", move |conn| {
                conn.prepare_cached(include_str!("sql/heartbeat_set.sql"))?.execute(params![worker, json, until])?;
                Ok(())
            })
            .await
    }

    async fn list_heartbeats(&self) -> Result<Vec<WorkerHeartbeat>> {
        self.shared
            .db
            .read("list heartbeats", move |conn| {
                conn.prepare_cached(include_str!("sql/heartbeats.sql"))?
                    .query_map([now_ms()], |r| decode(&r.get::<_, String>(0)?))?
                    .collect()
            })
            .await
    }

    fn listing(&self) -> Option<&dyn TaskListing> {
        self.shared.options.task_listing.then_some(self as &dyn TaskListing)
    }
}

#[async_trait]
impl TaskListing for SqliteBackend {
    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage> {
        let (query, after) = (query.clone(), query.cursor()?);
        self.shared.db.read("list tasks", move |conn| list_page(conn, &query, after)).await
    }
}
