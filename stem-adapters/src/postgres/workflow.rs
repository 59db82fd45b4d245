//! The Postgres workflow store (see [`PostgresWorkflowStore`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use stem::workflow::{
    CancellationPolicy, Checkpoint, Finish, NewRun, OpenedRun, Resumed, RunFilter, RunId, RunState, RunStatus,
    Suspension, Watch, Watcher, WorkflowStore,
};
use stem::{Error, Result};
use uuid::Uuid;

use super::{Shared, failed, from_json, to_json};
use crate::group_commit::{Applied, GroupCommit};

/// A [`WorkflowStore`] on Postgres: tables `workflow_runs`,
/// `workflow_checkpoints` (one row per run and position) and
/// `workflow_watchers` (ordered by a sequence number) of the store's schema.
///
/// Every time is the caller's, never the database's. Fenced writes (claims,
/// checkpoints, suspensions, owned finishes) are single statements whose
/// `WHERE` checks the status and the lease holder on the locked run row.
/// Waking runs (`due_runs`, `resolve_watchers`) first locks the runs with
/// `FOR UPDATE SKIP LOCKED`, so that racing callers (in any process) take
/// disjoint runs, then changes them in a second statement of the same
/// transaction, whose snapshot sees every watcher committed before the lock;
/// `finish_run` and `rewind_run` do the same with a plain lock; `prune_runs`
/// locks and deletes the runs in one statement, skipping locked runs. Every
/// write commits durably.
///
/// # Cancel safety
///
/// Dropping a future of this store before it completes either leaves the
/// change undone (an open transaction rolls back) or lets a statement already
/// sent complete; the store is never left half-changed.
///
/// # Group commit
///
/// Checkpoints and owned finishes (the writes of executions) go through a
/// [`GroupCommit`]: those that many runs make at the same moment are one
/// statement (`sql/workflow_write.sql`, over arrays) and one durable commit,
/// each fenced on its own run as before, each caller answered once that
/// commit is done. A run opens with one statement too (`open_run`: the
/// claim and the reads of the run and its checkpoints).
#[derive(Debug)]
pub struct PostgresWorkflowStore {
    shared: Arc<Shared>,
    writes: GroupCommit<RunWrite>,
}

/// A fenced write of an execution, group-committed (see `sql/workflow_write.sql`).
struct RunWrite {
    run: Uuid,
    owner: String,
    at: DateTime<Utc>,
    what: Write,
}

enum Write {
    Checkpoint(StoredCheckpoint),
    /// An end, with the checkpoints the execution writes with it.
    Finish {
        status: &'static str,
        result: Option<String>,
        error: Option<String>,
        checkpoints: Vec<StoredCheckpoint>,
    },
}

/// A checkpoint as bound to `sql/workflow_write.sql`.
struct StoredCheckpoint {
    position: i64,
    name: String,
    value: String,
    at: DateTime<Utc>,
}

impl StoredCheckpoint {
    fn new(checkpoint: Checkpoint) -> Result<Self> {
        let value = to_json(&checkpoint.value)?;
        Ok(Self { position: i64::from(checkpoint.position), name: checkpoint.name, value, at: checkpoint.at })
    }
}

impl PostgresWorkflowStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let on = Arc::clone(&shared);
        let writes = GroupCommit::new("writing workflow checkpoints and ends", move |batch| {
            Box::pin(apply(Arc::clone(&on), batch)) as Applied
        });
        Self { shared, writes }
    }

    /// The durable pool: every workflow write must survive a crash.
    fn pool(&self) -> &PgPool {
        &self.shared.pool
    }

    /// Runs an `UPDATE` (with `what` for errors); true if it changed one row.
    async fn changed(
        &self,
        what: &str,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<bool> {
        let done = query.execute(self.pool()).await.map_err(|e| failed(what, e))?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl WorkflowStore for PostgresWorkflowStore {
    /// The database server's clock.
    async fn now(&self) -> Result<DateTime<Utc>> {
        sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(self.pool())
            .await
            .map_err(|e| failed("reading the server's time", e))
    }

    async fn create_run(&self, run: NewRun) -> Result<()> {
        let id = run.id;
        if self.create_runs(vec![run]).await?.first() == Some(&true) { Ok(()) } else { Err(Error::RunExists(id)) }
    }

    async fn create_runs(&self, runs: Vec<NewRun>) -> Result<Vec<bool>> {
        let ids: Vec<Uuid> = runs.iter().map(|r| *r.id.as_uuid()).collect();
        let args = runs.iter().map(|r| to_json(&r.args)).collect::<Result<Vec<_>>>()?;
        let created: Vec<Uuid> = sqlx::query_scalar(self.shared.sql(include_str!("sql/workflow_create_many.sql")))
            .bind(&ids)
            .bind(runs.iter().map(|r| r.workflow.as_str()).collect::<Vec<_>>())
            .bind(runs.iter().map(|r| r.queue.as_str()).collect::<Vec<_>>())
            .bind(args)
            .bind(runs.iter().map(|r| millis(r.policy.max_run_time)).collect::<Vec<_>>())
            .bind(runs.iter().map(|r| millis(r.policy.max_suspended_time)).collect::<Vec<_>>())
            .bind(runs.iter().map(|r| r.at).collect::<Vec<_>>())
            .fetch_all(self.pool())
            .await
            .map_err(|e| failed("creating workflow runs", e))?;
        let created: std::collections::HashSet<Uuid> = created.into_iter().collect();
        Ok(ids.iter().map(|id| created.contains(id)).collect())
    }

    async fn get_run(&self, id: RunId) -> Result<Option<RunState>> {
        let row = sqlx::query(self.shared.sql(include_str!("sql/workflow_get.sql")))
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| failed("reading a workflow run", e))?;
        row.as_ref().map(run_state).transpose()
    }

    async fn checkpoints(&self, id: RunId) -> Result<Vec<Checkpoint>> {
        let rows = sqlx::query(self.shared.sql(include_str!("sql/workflow_checkpoints.sql")))
            .bind(id.as_uuid())
            .fetch_all(self.pool())
            .await
            .map_err(|e| failed("reading workflow checkpoints", e))?;
        rows.iter().map(checkpoint).collect()
    }

    async fn claim_run(&self, id: RunId, owner: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let query = sqlx::query(self.shared.sql(include_str!("sql/workflow_claim.sql")))
            .bind(id.as_uuid())
            .bind(owner)
            .bind(now)
            .bind(until);
        self.changed("claiming a workflow run", query).await
    }

    async fn renew_run(&self, id: RunId, owner: &str, until: DateTime<Utc>) -> Result<bool> {
        let query = sqlx::query(self.shared.sql(include_str!("sql/workflow_renew.sql")))
            .bind(id.as_uuid())
            .bind(owner)
            .bind(until);
        self.changed("renewing a workflow run's lease", query).await
    }

    async fn release_run(&self, id: RunId, owner: &str) -> Result<()> {
        let query =
            sqlx::query(self.shared.sql(include_str!("sql/workflow_release.sql"))).bind(id.as_uuid()).bind(owner);
        self.changed("releasing a workflow run's lease", query).await.map(drop)
    }

    async fn open_run(
        &self,
        id: RunId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<OpenedRun>> {
        let row = sqlx::query(self.shared.sql(include_str!("sql/workflow_open.sql")))
            .bind(id.as_uuid())
            .bind(owner)
            .bind(now)
            .bind(until)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| failed("opening a workflow run", e))?;
        let Some(row) = row else { return Ok(None) };
        let checkpoints: Option<String> =
            row.try_get("checkpoints").map_err(|e| failed("reading an opened workflow run", e))?;
        let checkpoints = checkpoints.map(|json| from_json(&json, "workflow checkpoints")).transpose()?;
        Ok(Some(OpenedRun::new(run_state(&row)?, checkpoints)))
    }

    async fn save_checkpoint(&self, id: RunId, owner: &str, checkpoint: Checkpoint) -> Result<bool> {
        let at = checkpoint.at;
        let what = Write::Checkpoint(StoredCheckpoint::new(checkpoint)?);
        self.writes.write(RunWrite { run: *id.as_uuid(), owner: owner.to_owned(), at, what }).await
    }

    async fn suspend_run(&self, id: RunId, owner: &str, suspension: Suspension) -> Result<bool> {
        let Suspension { checkpoint, resume_at, watch, at } = suspension;
        let value = checkpoint.as_ref().map(|c| to_json(&c.value)).transpose()?;
        let query = sqlx::query(self.shared.sql(include_str!("sql/workflow_suspend.sql")))
            .bind(id.as_uuid())
            .bind(owner)
            .bind(checkpoint.as_ref().map(|c| i64::from(c.position)))
            .bind(checkpoint.as_ref().map(|c| c.name.as_str()))
            .bind(value)
            .bind(checkpoint.as_ref().map(|c| c.at))
            .bind(resume_at)
            .bind(watch.as_ref().map(|w| w.topic.as_str()))
            .bind(watch.as_ref().map(|w| i64::from(w.position)))
            .bind(watch.as_ref().map(|w| w.step.as_str()))
            .bind(at);
        self.changed("suspending a workflow run", query).await
    }

    async fn resolve_watchers(
        &self,
        topic: &str,
        value: Value,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Resumed>> {
        const WHAT: &str = "delivering a workflow event";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let value = to_json(&value)?;
        let mut tx = self.pool().begin().await.map_err(|e| failed(WHAT, e))?;
        let ids: Vec<Uuid> = sqlx::query_scalar(self.shared.sql(include_str!("sql/workflow_resolve_lock.sql")))
            .bind(topic)
            .bind(count(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| failed(WHAT, e))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(self.shared.sql(include_str!("sql/workflow_resolve.sql")))
            .bind(&ids)
            .bind(topic)
            .bind(value)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| failed(WHAT, e))?;
        let resumed = rows.iter().map(resumed).collect::<Result<Vec<_>>>()?;
        tx.commit().await.map_err(|e| failed(WHAT, e))?;
        Ok(resumed)
    }

    async fn due_runs(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>> {
        const WHAT: &str = "waking due workflow runs";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.pool().begin().await.map_err(|e| failed(WHAT, e))?;
        let ids: Vec<Uuid> = sqlx::query_scalar(self.shared.sql(include_str!("sql/workflow_due_lock.sql")))
            .bind(now)
            .bind(count(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| failed(WHAT, e))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(self.shared.sql(include_str!("sql/workflow_due.sql")))
            .bind(&ids)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| failed(WHAT, e))?;
        let resumed = rows.iter().map(resumed).collect::<Result<Vec<_>>>()?;
        tx.commit().await.map_err(|e| failed(WHAT, e))?;
        Ok(resumed)
    }

    async fn stale_runs(&self, idle_since: DateTime<Utc>, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(self.shared.sql(include_str!("sql/workflow_stale.sql")))
            .bind(idle_since)
            .bind(now)
            .bind(count(limit))
            .fetch_all(self.pool())
            .await
            .map_err(|e| failed("finding lost workflow runs", e))?;
        rows.iter().map(resumed).collect()
    }

    async fn finish_run(&self, id: RunId, owner: Option<&str>, finish: Finish, now: DateTime<Utc>) -> Result<bool> {
        const WHAT: &str = "finishing a workflow run";
        if let Some(owner) = owner {
            return self.finish_run_after(id, owner, Vec::new(), finish, now).await;
        }
        let (status, result, error) = stored_end(finish)?;
        let mut tx = self.pool().begin().await.map_err(|e| failed(WHAT, e))?;
        let exists: Option<Uuid> = sqlx::query_scalar(self.shared.sql(include_str!("sql/workflow_lock.sql")))
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| failed(WHAT, e))?;
        if exists.is_none() {
            return Ok(false);
        }
        let ended: Option<Uuid> = sqlx::query_scalar(self.shared.sql(include_str!("sql/workflow_finish.sql")))
            .bind(id.as_uuid())
            .bind(status)
            .bind(result)
            .bind(error)
            .bind(owner)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| failed(WHAT, e))?;
        tx.commit().await.map_err(|e| failed(WHAT, e))?;
        Ok(ended.is_some())
    }

    /// One group-committed write: the checkpoints and the end in one statement.
    async fn finish_run_after(
        &self,
        id: RunId,
        owner: &str,
        checkpoints: Vec<Checkpoint>,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (status, result, error) = stored_end(finish)?;
        let checkpoints = checkpoints.into_iter().map(StoredCheckpoint::new).collect::<Result<_>>()?;
        let what = Write::Finish { status, result, error, checkpoints };
        self.writes.write(RunWrite { run: *id.as_uuid(), owner: owner.to_owned(), at: now, what }).await
    }

    async fn record_error(&self, id: RunId, error: &str, now: DateTime<Utc>) -> Result<bool> {
        let query = sqlx::query(self.shared.sql(include_str!("sql/workflow_record_error.sql")))
            .bind(id.as_uuid())
            .bind(error)
            .bind(now);
        self.changed("recording a workflow run's error", query).await
    }

    async fn rewind_run(&self, id: RunId, position: u32, now: DateTime<Utc>) -> Result<bool> {
        const WHAT: &str = "rewinding a workflow run";
        let mut tx = self.pool().begin().await.map_err(|e| failed(WHAT, e))?;
        let exists: Option<Uuid> = sqlx::query_scalar(self.shared.sql(include_str!("sql/workflow_lock.sql")))
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| failed(WHAT, e))?;
        if exists.is_none() {
            return Ok(false);
        }
        let done = sqlx::query(self.shared.sql(include_str!("sql/workflow_rewind.sql")))
            .bind(id.as_uuid())
            .bind(i64::from(position))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed(WHAT, e))?;
        tx.commit().await.map_err(|e| failed(WHAT, e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune_runs(&self, ended_before: DateTime<Utc>, limit: usize) -> Result<usize> {
        if limit == 0 {
            return Ok(0);
        }
        let pruned: i64 = sqlx::query_scalar(self.shared.sql(include_str!("sql/workflow_prune.sql")))
            .bind(ended_before)
            .bind(count(limit))
            .fetch_one(self.pool())
            .await
            .map_err(|e| failed("pruning ended workflow runs", e))?;
        Ok(usize::try_from(pruned).unwrap_or(0))
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunState>> {
        let rows = sqlx::query(self.shared.sql(include_str!("sql/workflow_list.sql")))
            .bind(filter.workflow.as_deref())
            .bind(filter.status.map(RunStatus::as_str))
            .bind(count(filter.effective_limit()))
            .bind(count(filter.offset))
            .fetch_all(self.pool())
            .await
            .map_err(|e| failed("listing workflow runs", e))?;
        rows.iter().map(run_state).collect()
    }

    async fn list_watchers(&self, topic: &str, limit: usize) -> Result<Vec<Watcher>> {
        let rows = sqlx::query(self.shared.sql(include_str!("sql/workflow_watchers.sql")))
            .bind(topic)
            .bind(count(limit))
            .fetch_all(self.pool())
            .await
            .map_err(|e| failed("listing workflow watchers", e))?;
        rows.iter().map(watcher).collect()
    }
}

/// Applies a batch of executions' writes in one statement; which were applied, in order.
async fn apply(shared: Arc<Shared>, batch: Vec<RunWrite>) -> Result<Vec<bool>> {
    let mut rows = Rows::default();
    // The row (its ordinal, from 1) whose outcome is each write's: a finish's
    // own row, after the rows of the checkpoints written with it.
    let mut decides = Vec::with_capacity(batch.len());
    for write in batch {
        match write.what {
            Write::Checkpoint(checkpoint) => rows.checkpoint(write.run, &write.owner, checkpoint),
            Write::Finish { status, result, error, checkpoints } => {
                for checkpoint in checkpoints {
                    rows.checkpoint(write.run, &write.owner, checkpoint);
                }
                rows.finish(write.run, write.owner, status, result, error, write.at);
            }
        }
        decides.push(i64::try_from(rows.runs.len()).unwrap_or(i64::MAX));
    }
    let Rows { kinds, runs, owners, positions, names, values, statuses, results, errors, ats } = rows;
    let applied: Vec<i64> = sqlx::query_scalar(shared.sql(include_str!("sql/workflow_write.sql")))
        .bind(kinds)
        .bind(runs)
        .bind(owners)
        .bind(positions)
        .bind(names)
        .bind(values)
        .bind(statuses)
        .bind(results)
        .bind(errors)
        .bind(ats)
        .fetch_all(&shared.pool)
        .await
        .map_err(|e| failed("writing workflow checkpoints and ends", e))?;
    let applied: std::collections::HashSet<i64> = applied.into_iter().collect();
    Ok(decides.iter().map(|ord| applied.contains(ord)).collect())
}

/// The columns `sql/workflow_write.sql` takes, one row per checkpoint or end.
#[derive(Default)]
struct Rows {
    kinds: Vec<&'static str>,
    runs: Vec<Uuid>,
    owners: Vec<String>,
    positions: Vec<Option<i64>>,
    names: Vec<Option<String>>,
    values: Vec<Option<String>>,
    statuses: Vec<Option<&'static str>>,
    results: Vec<Option<String>>,
    errors: Vec<Option<String>>,
    ats: Vec<DateTime<Utc>>,
}

impl Rows {
    fn checkpoint(&mut self, run: Uuid, owner: &str, checkpoint: StoredCheckpoint) {
        self.row("c", run, owner.to_owned(), checkpoint.at);
        self.positions.push(Some(checkpoint.position));
        self.names.push(Some(checkpoint.name));
        self.values.push(Some(checkpoint.value));
        self.statuses.push(None);
        self.results.push(None);
        self.errors.push(None);
    }

    fn finish(
        &mut self,
        run: Uuid,
        owner: String,
        status: &'static str,
        result: Option<String>,
        error: Option<String>,
        at: DateTime<Utc>,
    ) {
        self.row("f", run, owner, at);
        self.positions.push(None);
        self.names.push(None);
        self.values.push(None);
        self.statuses.push(Some(status));
        self.results.push(result);
        self.errors.push(error);
    }

    fn row(&mut self, kind: &'static str, run: Uuid, owner: String, at: DateTime<Utc>) {
        self.kinds.push(kind);
        self.runs.push(run);
        self.owners.push(owner);
        self.ats.push(at);
    }
}

/// `n` as a SQL `LIMIT` or `OFFSET`.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A policy limit as whole milliseconds (what the table keeps).
fn millis(limit: Option<Duration>) -> Option<i64> {
    limit.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A policy limit read back from milliseconds.
fn duration(ms: Option<i64>) -> Option<Duration> {
    ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// A stored position, which `u32` holds unless the row was written by hand.
fn position(stored: i64, what: &str) -> Result<u32> {
    u32::try_from(stored)
        .map_err(|e| Error::adapter(format!("a stored {what} in Postgres has the position {stored}, past u32"), e))
}

/// A run ready to be enqueued, from a row with `id` and `queue`.
fn resumed(row: &PgRow) -> Result<Resumed> {
    let get = |e| failed("reading a resumed workflow run", e);
    let id: Uuid = row.try_get("id").map_err(get)?;
    Ok(Resumed { run: RunId::from(id), queue: row.try_get("queue").map_err(get)? })
}

/// A checkpoint from a row of `workflow_checkpoints.sql`.
fn checkpoint(row: &PgRow) -> Result<Checkpoint> {
    let get = |e| failed("reading a workflow checkpoint", e);
    let value: String = row.try_get("value").map_err(get)?;
    Ok(Checkpoint {
        position: position(row.try_get("position").map_err(get)?, "workflow checkpoint")?,
        name: row.try_get("name").map_err(get)?,
        value: from_json(&value, "workflow checkpoint value")?,
        at: row.try_get("at").map_err(get)?,
    })
}

/// A run from a row of `workflow_get.sql` or `workflow_list.sql`.
fn run_state(row: &PgRow) -> Result<RunState> {
    let get = |e| failed("reading a workflow run", e);
    let id: Uuid = row.try_get("id").map_err(get)?;
    let status: String = row.try_get("status").map_err(get)?;
    let status = RunStatus::parse(&status).ok_or_else(|| {
        Error::adapter(
            format!("the stored workflow run {id} in Postgres has the unknown status `{status}`"),
            "a newer Stem may have written it; upgrade Stem",
        )
    })?;
    let args: String = row.try_get("args").map_err(get)?;
    let result: Option<String> = row.try_get("result").map_err(get)?;
    let cursor: i64 = row.try_get("cursor").map_err(get)?;
    let mut state = RunState::new(NewRun {
        id: RunId::from(id),
        workflow: row.try_get("workflow").map_err(get)?,
        queue: row.try_get("queue").map_err(get)?,
        args: from_json(&args, "workflow run's arguments")?,
        policy: CancellationPolicy {
            max_run_time: duration(row.try_get("max_run_time_ms").map_err(get)?),
            max_suspended_time: duration(row.try_get("max_suspended_time_ms").map_err(get)?),
        },
        at: row.try_get("created_at").map_err(get)?,
    });
    state.status = status;
    state.cursor = u32::try_from(cursor).unwrap_or(u32::MAX);
    state.result = result.map(|r| from_json(&r, "workflow run's result")).transpose()?;
    state.error = row.try_get("error").map_err(get)?;
    state.wait_topic = row.try_get("wait_topic").map_err(get)?;
    state.resume_at = row.try_get("resume_at").map_err(get)?;
    state.suspended_at = row.try_get("suspended_at").map_err(get)?;
    state.owner = row.try_get("owner").map_err(get)?;
    state.lease_until = row.try_get("lease_until").map_err(get)?;
    state.updated_at = row.try_get("updated_at").map_err(get)?;
    Ok(state)
}

/// A watcher from a row of `workflow_watchers.sql`.
fn watcher(row: &PgRow) -> Result<Watcher> {
    let get = |e| failed("reading a workflow watcher", e);
    let run: Uuid = row.try_get("run_id").map_err(get)?;
    let watch = Watch {
        topic: row.try_get("topic").map_err(get)?,
        position: position(row.try_get("position").map_err(get)?, "workflow watcher")?,
        step: row.try_get("step").map_err(get)?,
    };
    let deadline: Option<DateTime<Utc>> = row.try_get("deadline").map_err(get)?;
    let created_at: DateTime<Utc> = row.try_get("created_at").map_err(get)?;
    Ok(Watcher::new(RunId::from(run), watch, deadline, created_at))
}

/// An end as stored: its final status, and its result (JSON) or error.
fn stored_end(finish: Finish) -> Result<(&'static str, Option<String>, Option<String>)> {
    let status = finish.status().as_str();
    Ok(match finish {
        Finish::Completed(value) => (status, Some(to_json(&value)?), None),
        Finish::Failed(error) | Finish::Cancelled(error) => (status, None, Some(error)),
    })
}
