//! The SQLite workflow store.
//!
//! Runs, checkpoints and watchers are three tables (`migrations/0002_workflows.sql`).
//! Every write is one call on the writing thread, so a multi-step operation
//! (suspending, resolving watchers, waking due runs) is one savepoint: it
//! happens whole or not at all, and no other call (of this process, or of
//! another, which waits for the file's write lock) sees half of it. The SQL is
//! in `sql/workflow_*.sql`; the status names in it are those of [`RunStatus::as_str`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use stem::workflow::{
    CancellationPolicy, Checkpoint, Finish, NewRun, OpenedRun, Resumed, RunFilter, RunId, RunState, RunStatus,
    Suspension, Watch, Watcher, WorkflowStore,
};
use stem::{Error, Result};

use super::{Shared, conversion_error, from_ms};

/// A [`WorkflowStore`] on a SQLite file, shared by every process using the file.
/// Runs are kept until [`WorkflowStore::prune_runs`] deletes them; times have millisecond precision.
#[derive(Debug)]
pub struct SqliteWorkflowStore {
    shared: Arc<Shared>,
}

impl SqliteWorkflowStore {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// Reads a run from a row of every run column, in the order that
/// `sql/workflow_get.sql` and `sql/workflow_list.sql` select them.
fn read_run(r: &Row<'_>) -> rusqlite::Result<RunState> {
    let status: String = r.get(2)?;
    let mut run = RunState::new(NewRun {
        id: r.get::<_, String>(0)?.parse().map_err(conversion_error)?,
        workflow: r.get(1)?,
        queue: r.get(3)?,
        args: decode(&r.get::<_, String>(4)?)?,
        policy: CancellationPolicy { max_run_time: duration(r.get(13)?)?, max_suspended_time: duration(r.get(14)?)? },
        at: from_ms(r.get(15)?),
    });
    run.status = RunStatus::parse(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            Type::Text,
            format!("unknown workflow run status `{status}`").into(),
        )
    })?;
    run.cursor = u32::try_from(r.get::<_, i64>(5)?).map_err(conversion_error)?;
    run.result = r.get::<_, Option<String>>(6)?.map(|json| decode(&json)).transpose()?;
    run.error = r.get(7)?;
    run.wait_topic = r.get(8)?;
    run.resume_at = r.get::<_, Option<i64>>(9)?.map(from_ms);
    run.suspended_at = r.get::<_, Option<i64>>(10)?.map(from_ms);
    run.owner = r.get(11)?;
    run.lease_until = r.get::<_, Option<i64>>(12)?.map(from_ms);
    run.updated_at = from_ms(r.get(16)?);
    Ok(run)
}

fn read_watcher(r: &Row<'_>) -> rusqlite::Result<Watcher> {
    let run: RunId = r.get::<_, String>(0)?.parse().map_err(conversion_error)?;
    let watch = Watch { topic: r.get(1)?, position: position(r.get(2)?)?, step: r.get(3)? };
    let deadline = r.get::<_, Option<i64>>(4)?.map(from_ms);
    let created_at = from_ms(r.get(5)?);
    // `Watcher` is `#[non_exhaustive]` without a constructor: built from its serde form.
    let json = serde_json::json!({ "run": run, "watch": watch, "deadline": deadline, "created_at": created_at });
    serde_json::from_value(json).map_err(conversion_error)
}

/// A checkpoint as stored.
struct StoredCheckpoint {
    position: i64,
    name: String,
    value: String,
    at: i64,
}

impl StoredCheckpoint {
    fn new(c: Checkpoint) -> Result<Self> {
        Ok(Self { position: i64::from(c.position), name: c.name, value: encode(&c.value)?, at: ms(c.at) })
    }
}

fn encode(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::adapter("cannot encode a workflow value", e))
}

fn decode(json: &str) -> rusqlite::Result<Value> {
    serde_json::from_str(json).map_err(conversion_error)
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn millis(d: Option<Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn duration(ms: Option<i64>) -> rusqlite::Result<Option<Duration>> {
    ms.map(|ms| u64::try_from(ms).map(Duration::from_millis).map_err(conversion_error)).transpose()
}

fn position(n: i64) -> rusqlite::Result<u32> {
    u32::try_from(n).map_err(conversion_error)
}

/// A `LIMIT` for `n`.
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn resumed(id: &str, queue: String) -> rusqlite::Result<Resumed> {
    Ok(Resumed { run: id.parse().map_err(conversion_error)?, queue })
}

/// Whether the run is running and `owner` holds its lease.
fn owned(conn: &Connection, id: &str, owner: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(include_str!("sql/workflow_owned.sql"))?.exists(params![id, owner])
}

/// A run's checkpoints in position order.
fn read_checkpoints(conn: &Connection, id: &str) -> rusqlite::Result<Vec<Checkpoint>> {
    conn.prepare_cached(include_str!("sql/workflow_checkpoints.sql"))?
        .query_map([id], |r| {
            Ok(Checkpoint {
                position: position(r.get(0)?)?,
                name: r.get(1)?,
                value: decode(&r.get::<_, String>(2)?)?,
                at: from_ms(r.get(3)?),
            })
        })?
        .collect()
}

/// Writes a checkpoint (over one at its position if `replace`) and sets the
/// run's cursor and last change; false if the position was taken and kept.
fn record(conn: &Connection, id: &str, c: &StoredCheckpoint, replace: bool) -> rusqlite::Result<bool> {
    let insert = if replace {
        include_str!("sql/workflow_checkpoint_replace.sql")
    } else {
        include_str!("sql/workflow_checkpoint.sql")
    };
    if conn.prepare_cached(insert)?.execute(params![id, c.position, c.name, c.value, c.at])? == 0 {
        return Ok(false);
    }
    conn.prepare_cached(include_str!("sql/workflow_cursor.sql"))?.execute(params![id, c.at])?;
    Ok(true)
}

/// Makes a suspended run running again.
fn wake(conn: &Connection, id: &str, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(include_str!("sql/workflow_wake.sql"))?.execute(params![now, id])?;
    Ok(())
}

fn drop_watchers(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(include_str!("sql/workflow_drop_watchers.sql"))?.execute([id])?;
    Ok(())
}

/// The `(id, queue)` rows of `sql` run with `args`.
fn ids_and_queues(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<Vec<(String, String)>> {
    conn.prepare_cached(sql)?.query_map(args, |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

#[async_trait]
impl WorkflowStore for SqliteWorkflowStore {
    async fn create_run(&self, run: NewRun) -> Result<()> {
        let id = run.id;
        if self.create_runs(vec![run]).await?.first() == Some(&true) { Ok(()) } else { Err(Error::RunExists(id)) }
    }

    /// One call on the writing thread for them all.
    async fn create_runs(&self, runs: Vec<NewRun>) -> Result<Vec<bool>> {
        let rows = runs
            .into_iter()
            .map(|run| {
                let (max_run, max_suspended) = (millis(run.policy.max_run_time), millis(run.policy.max_suspended_time));
                Ok((
                    run.id.to_string(),
                    run.workflow,
                    run.queue,
                    encode(&run.args)?,
                    max_run,
                    max_suspended,
                    ms(run.at),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.shared
            .db
            .call("create workflow runs", move |conn| {
                let mut insert = conn.prepare_cached(include_str!("sql/workflow_create.sql"))?;
                rows.iter()
                    .map(|(id, workflow, queue, args, max_run, max_suspended, at)| {
                        Ok(insert.execute(params![id, workflow, queue, args, max_run, max_suspended, at])? == 1)
                    })
                    .collect()
            })
            .await
    }

    async fn get_run(&self, id: RunId) -> Result<Option<RunState>> {
        let id = id.to_string();
        self.shared
            .db
            .read("get workflow run", move |conn| {
                conn.prepare_cached(include_str!("sql/workflow_get.sql"))?.query_row([id], read_run).optional()
            })
            .await
    }

    async fn checkpoints(&self, id: RunId) -> Result<Vec<Checkpoint>> {
        let id = id.to_string();
        self.shared.db.read("list workflow checkpoints", move |conn| read_checkpoints(conn, &id)).await
    }

    /// One call on the writing thread: the read, the claim and the
    /// checkpoints' read are one savepoint of its batch.
    async fn open_run(
        &self,
        id: RunId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<OpenedRun>> {
        let (id, owner, now, until) = (id.to_string(), owner.to_owned(), ms(now), ms(until));
        self.shared
            .db
            .call("open workflow run", move |conn| {
                let Some(state) =
                    conn.prepare_cached(include_str!("sql/workflow_get.sql"))?.query_row([&id], read_run).optional()?
                else {
                    return Ok(None);
                };
                let claimed = state.status == RunStatus::Running
                    && conn
                        .prepare_cached(include_str!("sql/workflow_claim.sql"))?
                        .execute(params![id, owner, now, until])?
                        == 1;
                let checkpoints = if claimed { Some(read_checkpoints(conn, &id)?) } else { None };
                Ok(Some(OpenedRun::new(state, checkpoints)))
            })
            .await
    }

    async fn claim_run(&self, id: RunId, owner: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let (id, owner, now, until) = (id.to_string(), owner.to_owned(), ms(now), ms(until));
        self.shared
            .db
            .call("claim workflow run", move |conn| {
                Ok(conn
                    .prepare_cached(include_str!("sql/workflow_claim.sql"))?
                    .execute(params![id, owner, now, until])?
                    == 1)
            })
            .await
    }

    async fn renew_run(&self, id: RunId, owner: &str, until: DateTime<Utc>) -> Result<bool> {
        let (id, owner, until) = (id.to_string(), owner.to_owned(), ms(until));
        self.shared
            .db
            .call("renew workflow run", move |conn| {
                Ok(conn.prepare_cached(include_str!("sql/workflow_renew.sql"))?.execute(params![id, owner, until])?
                    == 1)
            })
            .await
    }

    async fn release_run(&self, id: RunId, owner: &str) -> Result<()> {
        let (id, owner) = (id.to_string(), owner.to_owned());
        self.shared
            .db
            .call("release workflow run", move |conn| {
                conn.prepare_cached(include_str!("sql/workflow_release.sql"))?.execute(params![id, owner])?;
                Ok(())
            })
            .await
    }

    async fn save_checkpoint(&self, id: RunId, owner: &str, checkpoint: Checkpoint) -> Result<bool> {
        let (id, owner, checkpoint) = (id.to_string(), owner.to_owned(), StoredCheckpoint::new(checkpoint)?);
        self.shared
            .db
            .call("save workflow checkpoint", move |conn| {
                Ok(owned(conn, &id, &owner)? && record(conn, &id, &checkpoint, false)?)
            })
            .await
    }

    async fn suspend_run(&self, id: RunId, owner: &str, suspension: Suspension) -> Result<bool> {
        let (id, owner) = (id.to_string(), owner.to_owned());
        let checkpoint = suspension.checkpoint.map(StoredCheckpoint::new).transpose()?;
        let (resume_at, at, watch) = (suspension.resume_at.map(ms), ms(suspension.at), suspension.watch);
        self.shared
            .db
            .call("suspend workflow run", move |conn| {
                if !owned(conn, &id, &owner)? {
                    return Ok(false);
                }
                if let Some(c) = &checkpoint
                    && !record(conn, &id, c, false)?
                {
                    return Ok(false);
                }
                conn.prepare_cached(include_str!("sql/workflow_suspend.sql"))?.execute(params![
                    id,
                    resume_at,
                    at,
                    watch.as_ref().map(|w| &w.topic)
                ])?;
                if let Some(w) = &watch {
                    conn.prepare_cached(include_str!("sql/workflow_watch.sql"))?.execute(params![
                        id,
                        w.topic,
                        i64::from(w.position),
                        w.step,
                        resume_at,
                        at
                    ])?;
                }
                Ok(true)
            })
            .await
    }

    async fn resolve_watchers(
        &self,
        topic: &str,
        value: Value,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Resumed>> {
        let (topic, value, now, limit) = (topic.to_owned(), encode(&value)?, ms(now), sql_limit(limit));
        self.shared
            .db
            .call("resolve workflow watchers", move |conn| {
                let chosen: Vec<(String, i64, String)> = conn
                    .prepare_cached(include_str!("sql/workflow_resolve.sql"))?
                    .query_map(params![topic, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut woken = Vec::with_capacity(chosen.len());
                for (run, position, name) in chosen {
                    drop_watchers(conn, &run)?;
                    let queue: Option<String> = conn
                        .prepare_cached(include_str!("sql/workflow_resolve_queue.sql"))?
                        .query_row([&run], |r| r.get(0))
                        .optional()?;
                    let Some(queue) = queue else { continue };
                    record(conn, &run, &StoredCheckpoint { position, name, value: value.clone(), at: now }, true)?;
                    wake(conn, &run, now)?;
                    woken.push(resumed(&run, queue)?);
                }
                Ok(woken)
            })
            .await
    }

    async fn due_runs(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>> {
        let (now, limit) = (ms(now), sql_limit(limit));
        self.shared
            .db
            .call("wake due workflow runs", move |conn| {
                let due = ids_and_queues(conn, include_str!("sql/workflow_due.sql"), params![now, limit])?;
                due.into_iter()
                    .map(|(id, queue)| {
                        drop_watchers(conn, &id)?;
                        wake(conn, &id, now)?;
                        resumed(&id, queue)
                    })
                    .collect()
            })
            .await
    }

    async fn stale_runs(&self, idle_since: DateTime<Utc>, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>> {
        let (idle_since, now, limit) = (ms(idle_since), ms(now), sql_limit(limit));
        self.shared
            .db
            .call("find lost workflow runs", move |conn| {
                let stale =
                    ids_and_queues(conn, include_str!("sql/workflow_stale.sql"), params![now, idle_since, limit])?;
                let mut touch = conn.prepare_cached(include_str!("sql/workflow_touch.sql"))?;
                stale
                    .into_iter()
                    .map(|(id, queue)| {
                        touch.execute(params![now, id])?;
                        resumed(&id, queue)
                    })
                    .collect()
            })
            .await
    }

    async fn finish_run(&self, id: RunId, owner: Option<&str>, finish: Finish, now: DateTime<Utc>) -> Result<bool> {
        if let Some(owner) = owner {
            return self.finish_run_after(id, owner, Vec::new(), finish, now).await;
        }
        let (end, id, now) = (stored_end(finish)?, id.to_string(), ms(now));
        self.shared.db.call("finish workflow run", move |conn| end_run(conn, &id, &end, now, None)).await
    }

    /// One call on the writer: the checkpoints and the end in one transaction.
    async fn finish_run_after(
        &self,
        id: RunId,
        owner: &str,
        checkpoints: Vec<Checkpoint>,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let end = stored_end(finish)?;
        let checkpoints = checkpoints.into_iter().map(StoredCheckpoint::new).collect::<Result<Vec<_>>>()?;
        let (id, owner, now) = (id.to_string(), owner.to_owned(), ms(now));
        self.shared
            .db
            .call("finish workflow run", move |conn| {
                if !owned(conn, &id, &owner)? {
                    return Ok(false);
                }
                for checkpoint in &checkpoints {
                    record(conn, &id, checkpoint, false)?;
                }
                end_run(conn, &id, &end, now, Some(&owner))
            })
            .await
    }

    async fn record_error(&self, id: RunId, error: &str, now: DateTime<Utc>) -> Result<bool> {
        let (id, error, now) = (id.to_string(), error.to_owned(), ms(now));
        self.shared
            .db
            .call("record workflow run error", move |conn| {
                Ok(conn
                    .prepare_cached(include_str!("sql/workflow_record_error.sql"))?
                    .execute(params![id, error, now])?
                    == 1)
            })
            .await
    }

    async fn rewind_run(&self, id: RunId, position: u32, now: DateTime<Utc>) -> Result<bool> {
        let (id, position, now) = (id.to_string(), i64::from(position), ms(now));
        self.shared
            .db
            .call("rewind workflow run", move |conn| {
                conn.prepare_cached(include_str!("sql/workflow_rewind_checkpoints.sql"))?
                    .execute(params![id, position])?;
                let changed =
                    conn.prepare_cached(include_str!("sql/workflow_rewind.sql"))?.execute(params![id, now])?;
                if changed == 0 {
                    return Ok(false);
                }
                drop_watchers(conn, &id)?;
                Ok(true)
            })
            .await
    }

    async fn prune_runs(&self, ended_before: DateTime<Utc>, limit: usize) -> Result<usize> {
        let (ended_before, limit) = (ms(ended_before), sql_limit(limit));
        self.shared
            .db
            .call("prune workflow runs", move |conn| {
                let ended: Vec<String> = conn
                    .prepare_cached(include_str!("sql/workflow_prune.sql"))?
                    .query_map(params![ended_before, limit], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut checkpoints = conn.prepare_cached(include_str!("sql/workflow_prune_checkpoints.sql"))?;
                let mut run = conn.prepare_cached(include_str!("sql/workflow_prune_run.sql"))?;
                for id in &ended {
                    checkpoints.execute([id])?;
                    drop_watchers(conn, id)?;
                    run.execute([id])?;
                }
                Ok(ended.len())
            })
            .await
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunState>> {
        let (workflow, status) = (filter.workflow.clone(), filter.status.map(RunStatus::as_str));
        let (limit, offset) = (sql_limit(filter.effective_limit()), sql_limit(filter.offset));
        self.shared
            .db
            .read("list workflow runs", move |conn| {
                conn.prepare_cached(include_str!("sql/workflow_list.sql"))?
                    .query_map(params![workflow, status, limit, offset], read_run)?
                    .collect()
            })
            .await
    }

    async fn list_watchers(&self, topic: &str, limit: usize) -> Result<Vec<Watcher>> {
        let (topic, limit) = (topic.to_owned(), sql_limit(limit));
        self.shared
            .db
            .read("list workflow watchers", move |conn| {
                conn.prepare_cached(include_str!("sql/workflow_watchers.sql"))?
                    .query_map(params![topic, limit], read_watcher)?
                    .collect()
            })
            .await
    }
}

/// An end as stored: its final status, and its result (JSON) or error.
type StoredEnd = (&'static str, Option<String>, Option<String>);

/// Ends run `id` at `now` (`sql/workflow_finish.sql`: with an `owner`, only
/// if it is running and held by it) and drops its watchers; true if it ended.
fn end_run(conn: &Connection, id: &str, end: &StoredEnd, now: i64, owner: Option<&str>) -> rusqlite::Result<bool> {
    let (status, result, error) = end;
    let changed = conn
        .prepare_cached(include_str!("sql/workflow_finish.sql"))?
        .execute(params![id, status, result, error, now, owner])?;
    if changed == 0 {
        return Ok(false);
    }
    drop_watchers(conn, id)?;
    Ok(true)
}

/// `finish` as stored.
fn stored_end(finish: Finish) -> Result<StoredEnd> {
    let status = finish.status().as_str();
    Ok(match finish {
        Finish::Completed(value) => (status, Some(encode(&value)?), None),
        Finish::Failed(error) | Finish::Cancelled(error) => (status, None, Some(error)),
    })
}
