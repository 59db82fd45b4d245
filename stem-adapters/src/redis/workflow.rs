//! The Redis workflow store: one hash per run and one per run's checkpoints,
//! sorted sets for due, running, ended and listed runs and for each topic's
//! watchers (see [the key layout](super::keys)). Every write is one Lua script
//! (`scripts/wf_*.lua`), so it is atomic: racing resolvers never deliver one
//! watcher twice, a due run is returned once and a pruned run goes whole.
//!
//! Times are the caller's (the contract's arguments), stored as milliseconds
//! since the epoch, so a run's times read back to the millisecond; checkpoint
//! and watcher times are kept exactly in their JSON. Finished runs stay (no
//! expiry; the result retention applies to task states only), and so does
//! their entry in the index of all runs, until `prune_runs` deletes them: they
//! are indexed by when they ended (`wf:ended`) so that it finds them without a
//! scan.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::{FromRedisValue, ScriptInvocation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stem::workflow::{
    CancellationPolicy, Checkpoint, Finish, NewRun, OpenedRun, Resumed, RunFilter, RunId, RunState, RunStatus,
    Suspension, Watch, Watcher, WorkflowStore,
};
use stem::{Error, Result};

use super::scripts::{
    Lua, WF_CLAIM, WF_CREATE, WF_DUE, WF_FINISH, WF_LIST, WF_OPEN, WF_PRUNE, WF_RECORD_ERROR, WF_RELEASE, WF_RENEW,
    WF_RESOLVE, WF_REWIND, WF_STALE, WF_SUSPEND, WF_WATCHERS, WF_WRITE,
};
use super::{Shared, failed, from_json, to_json};
use crate::group_commit::{Applied, GroupCommit};

/// The most runs or watchers one call hands to a script (limits and offsets
/// above it are cut to it, so that they stay exact in Lua's numbers).
const MAX_COUNT: usize = u32::MAX as usize;

/// A [`WorkflowStore`] on Redis: a hash per run and per run's checkpoints,
/// sorted sets of due, running, ended and all runs and of each topic's
/// watchers, all under `stem:<namespace>:wf:{<namespace>}:` (one hash slot on
/// a Redis Cluster, since a script touches many runs).
///
/// Each method is one command or one Lua script, so every write is atomic: a
/// dropped future either never sent it or lets it finish in Redis, never half
/// of it. Times are stored to the millisecond; finished runs do not expire
/// (`prune_runs` deletes them).
///
/// Checkpoints and owned finishes, the writes of executions, are group
/// committed: those many runs make at the same moment go to Redis as one call
/// of `wf_write.lua`, each fenced on its own run, each caller answered once
/// it returned. A run opens with one script too (`wf_open.lua`: the read, the
/// claim and the checkpoints' read).
#[derive(Debug)]
pub struct RedisWorkflowStore {
    shared: Arc<Shared>,
    /// The start of every workflow key, the scripts' `KEYS[1]`.
    prefix: String,
    /// Each write is the arguments of `wf_write.lua`: a checkpoint, or a
    /// finish after the checkpoints written with it.
    writes: GroupCommit<Vec<[String; 7]>>,
}

/// A watcher as stored (JSON) in its run's hash.
#[derive(Serialize, Deserialize)]
struct StoredWatcher {
    run: RunId,
    watch: Watch,
    deadline: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl RedisWorkflowStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let prefix = shared.keys().workflows();
        let (on, at) = (Arc::clone(&shared), prefix.clone());
        let writes = GroupCommit::new("writing workflow checkpoints and ends", move |batch: Vec<Vec<[String; 7]>>| {
            let (on, at) = (Arc::clone(&on), at.clone());
            Box::pin(async move {
                let mut call = WF_WRITE.on_prefix(&at);
                for op in batch.iter().flatten() {
                    call.arg(op.as_slice());
                }
                let applied: Vec<i64> =
                    super::pipeline::invoke_moving(&on, &call, "writing workflow checkpoints and ends").await?;
                Ok(applied.into_iter().map(|a| a == 1).collect())
            }) as Applied
        });
        Self { shared, prefix, writes }
    }

    /// A call of `lua` on this namespace's workflow keys; chain its arguments.
    fn script(&self, lua: &'static Lua) -> ScriptInvocation<'static> {
        lua.on_prefix(&self.prefix)
    }

    /// Runs `call` (see `pipeline::invoke_moving`).
    async fn invoke<T: FromRedisValue>(&self, call: &ScriptInvocation<'_>, what: &str) -> Result<T> {
        super::pipeline::invoke_moving(&self.shared, call, what).await
    }

    /// Runs `call`, which answers 1 when it changed the run.
    async fn changed(&self, call: &ScriptInvocation<'_>, what: &str) -> Result<bool> {
        Ok(self.invoke::<i64>(call, what).await? == 1)
    }

    /// Runs `call`, which answers run id, queue, run id, queue ...
    async fn resumed(&self, call: &ScriptInvocation<'_>, what: &str) -> Result<Vec<Resumed>> {
        let flat: Vec<String> = self.invoke(call, what).await?;
        flat.chunks_exact(2).map(|pair| Ok(Resumed { run: run_id(&pair[0])?, queue: pair[1].clone() })).collect()
    }
}

/// Checkpoints from their stored JSON, in position order.
fn checkpoints_from(values: &[String]) -> Result<Vec<Checkpoint>> {
    let mut checkpoints: Vec<Checkpoint> =
        values.iter().map(|v| from_json(v, "workflow checkpoint")).collect::<Result<_>>()?;
    checkpoints.sort_by_key(|c| c.position);
    Ok(checkpoints)
}

/// Milliseconds since the epoch, as the scripts compare and store times.
fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A count for a script, at least 1 (callers return early on 0).
fn count(n: usize) -> usize {
    n.clamp(1, MAX_COUNT)
}

fn run_id(text: &str) -> Result<RunId> {
    text.parse().map_err(|e| Error::adapter(format!("Redis: `{text}` stored as a workflow run id is not a UUID"), e))
}

/// A run from its hash's fields; `None` when there are none.
fn run_from(fields: Vec<(String, String)>) -> Result<Option<RunState>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let fields: HashMap<String, String> = fields.into_iter().collect();
    let get = |name: &str| fields.get(name).map(String::as_str);
    let need = |name: &str| {
        get(name).ok_or_else(|| {
            Error::adapter(
                format!("Redis: a stored workflow run has no `{name}`"),
                "a field of the run's hash is missing",
            )
        })
    };
    let time = |name: &str, text: &str| {
        text.parse::<i64>().ok().and_then(DateTime::from_timestamp_millis).ok_or_else(|| {
            Error::adapter(
                format!("Redis: a stored workflow run's `{name}` is not a time"),
                format!("`{text}` is not milliseconds since the epoch"),
            )
        })
    };
    let optional_time = |name: &str| get(name).map(|text| time(name, text)).transpose();
    let id = run_id(need("id")?)?;
    let policy: CancellationPolicy = from_json(need("policy")?, "workflow cancellation policy")?;
    let mut state = RunState::new(NewRun {
        id,
        workflow: need("workflow")?.to_owned(),
        queue: need("queue")?.to_owned(),
        args: from_json(need("args")?, "workflow arguments")?,
        policy,
        at: time("created_at", need("created_at")?)?,
    });
    let status = need("status")?;
    state.status = RunStatus::parse(status).ok_or_else(|| {
        Error::adapter(format!("Redis: `{status}` stored as a workflow run's status is not one"), "unknown status")
    })?;
    let cursor = need("cursor")?;
    state.cursor = cursor.parse().map_err(|e| {
        Error::adapter(format!("Redis: `{cursor}` stored as a workflow run's cursor is not a number"), e)
    })?;
    state.updated_at = time("updated_at", need("updated_at")?)?;
    state.result = get("result").map(|text| from_json(text, "workflow result")).transpose()?;
    state.error = get("error").map(str::to_owned);
    state.wait_topic = get("wait_topic").map(str::to_owned);
    state.resume_at = optional_time("resume_at")?;
    state.suspended_at = optional_time("suspended_at")?;
    state.owner = get("owner").map(str::to_owned);
    state.lease_until = optional_time("lease_until")?;
    Ok(Some(state))
}

#[async_trait]
impl WorkflowStore for RedisWorkflowStore {
    /// The Redis server's clock (`TIME`).
    async fn now(&self) -> Result<DateTime<Utc>> {
        let (secs, micros): (i64, u32) = redis::cmd("TIME")
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading the server's time", e))?;
        DateTime::from_timestamp(secs, micros * 1000)
            .ok_or_else(|| Error::adapter("reading the server's time", format!("TIME answered {secs} s {micros} µs")))
    }

    async fn create_run(&self, run: NewRun) -> Result<()> {
        let id = run.id;
        if self.create_runs(vec![run]).await?.first() == Some(&true) { Ok(()) } else { Err(Error::RunExists(id)) }
    }

    /// One pipeline of `wf_create.lua` calls.
    async fn create_runs(&self, runs: Vec<NewRun>) -> Result<Vec<bool>> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for run in &runs {
            WF_CREATE
                .push(&mut pipe, &[&self.prefix])
                .arg(run.id.to_string())
                .arg(&run.workflow)
                .arg(&run.queue)
                .arg(to_json(&run.args)?)
                .arg(to_json(&run.policy)?)
                .arg(ms(run.at));
        }
        let created: Vec<i64> =
            super::pipeline::query(&mut self.shared.conn(), &pipe, "creating workflow runs").await?;
        Ok(created.into_iter().map(|c| c == 1).collect())
    }

    async fn get_run(&self, id: RunId) -> Result<Option<RunState>> {
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.shared.keys().run(id))
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a workflow run", e))?;
        run_from(fields)
    }

    async fn checkpoints(&self, id: RunId) -> Result<Vec<Checkpoint>> {
        let values: Vec<String> = redis::cmd("HVALS")
            .arg(self.shared.keys().checkpoints(id))
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a workflow run's checkpoints", e))?;
        checkpoints_from(&values)
    }

    async fn claim_run(&self, id: RunId, owner: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let mut call = self.script(&WF_CLAIM);
        call.arg(id.to_string()).arg(owner).arg(ms(now)).arg(ms(until));
        self.changed(&call, "claiming a workflow run").await
    }

    /// One script: the read, the claim and the checkpoints' read at once.
    async fn open_run(
        &self,
        id: RunId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<OpenedRun>> {
        let mut call = self.script(&WF_OPEN);
        call.arg(id.to_string()).arg(owner).arg(ms(now)).arg(ms(until));
        let opened: Option<(Vec<(String, String)>, i64, Vec<String>)> =
            self.invoke(&call, "opening a workflow run").await?;
        let Some((fields, claimed, values)) = opened else { return Ok(None) };
        let Some(state) = run_from(fields)? else { return Ok(None) };
        let checkpoints = (claimed == 1).then(|| checkpoints_from(&values)).transpose()?;
        Ok(Some(OpenedRun::new(state, checkpoints)))
    }

    async fn renew_run(&self, id: RunId, owner: &str, until: DateTime<Utc>) -> Result<bool> {
        let mut call = self.script(&WF_RENEW);
        call.arg(id.to_string()).arg(owner).arg(ms(until));
        self.changed(&call, "renewing a workflow run's lease").await
    }

    async fn release_run(&self, id: RunId, owner: &str) -> Result<()> {
        let mut call = self.script(&WF_RELEASE);
        call.arg(id.to_string()).arg(owner);
        self.changed(&call, "releasing a workflow run's lease").await.map(drop)
    }

    async fn save_checkpoint(&self, id: RunId, owner: &str, checkpoint: Checkpoint) -> Result<bool> {
        self.writes.write(vec![checkpoint_op("c", id, owner, &checkpoint)?]).await
    }

    async fn suspend_run(&self, id: RunId, owner: &str, suspension: Suspension) -> Result<bool> {
        let mut call = self.script(&WF_SUSPEND);
        call.arg(id.to_string()).arg(owner).arg(ms(suspension.at));
        match suspension.resume_at {
            Some(at) => call.arg(ms(at)),
            None => call.arg(""),
        };
        match &suspension.checkpoint {
            Some(checkpoint) => call.arg(checkpoint.position).arg(to_json(checkpoint)?),
            None => call.arg("").arg(""),
        };
        match &suspension.watch {
            Some(watch) => {
                let watcher = StoredWatcher {
                    run: id,
                    watch: watch.clone(),
                    deadline: suspension.resume_at,
                    created_at: suspension.at,
                };
                call.arg("1").arg(&watch.topic).arg(to_json(&watcher)?).arg(watch.position).arg(to_json(&watch.step)?)
            }
            None => call.arg("0"),
        };
        self.changed(&call, "suspending a workflow run").await
    }

    async fn resolve_watchers(
        &self,
        topic: &str,
        value: Value,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Resumed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut call = self.script(&WF_RESOLVE);
        call.arg(topic).arg(to_json(&value)?).arg(ms(now)).arg(to_json(&now)?).arg(count(limit));
        self.resumed(&call, "delivering a workflow event").await
    }

    async fn due_runs(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut call = self.script(&WF_DUE);
        call.arg(ms(now)).arg(count(limit));
        self.resumed(&call, "waking due workflow runs").await
    }

    async fn stale_runs(&self, idle_since: DateTime<Utc>, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut call = self.script(&WF_STALE);
        call.arg(ms(idle_since)).arg(ms(now)).arg(count(limit));
        self.resumed(&call, "finding lost workflow runs").await
    }

    async fn finish_run(&self, id: RunId, owner: Option<&str>, finish: Finish, now: DateTime<Utc>) -> Result<bool> {
        if let Some(owner) = owner {
            return self.finish_run_after(id, owner, Vec::new(), finish, now).await;
        }
        let mut call = self.script(&WF_FINISH);
        call.arg(id.to_string());
        match owner {
            Some(owner) => call.arg("1").arg(owner),
            None => call.arg("0").arg(""),
        };
        call.arg(finish.status().as_str());
        match &finish {
            Finish::Completed(value) => call.arg("result").arg(to_json(value)?),
            Finish::Failed(error) | Finish::Cancelled(error) => call.arg("error").arg(error),
        };
        call.arg(ms(now));
        self.changed(&call, "finishing a workflow run").await
    }

    /// One group-committed write: the checkpoints and the end in one script call.
    async fn finish_run_after(
        &self,
        id: RunId,
        owner: &str,
        checkpoints: Vec<Checkpoint>,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut ops = Vec::with_capacity(checkpoints.len() + 1);
        for checkpoint in &checkpoints {
            ops.push(checkpoint_op("C", id, owner, checkpoint)?);
        }
        let (field, value) = match &finish {
            Finish::Completed(value) => ("result", to_json(value)?),
            Finish::Failed(error) | Finish::Cancelled(error) => ("error", error.clone()),
        };
        let status = finish.status().as_str().to_owned();
        let (run, owner, field, at) = (id.to_string(), owner.to_owned(), field.to_owned(), ms(now).to_string());
        ops.push(["f".to_owned(), run, owner, status, field, value, at]);
        self.writes.write(ops).await
    }

    async fn record_error(&self, id: RunId, error: &str, now: DateTime<Utc>) -> Result<bool> {
        let mut call = self.script(&WF_RECORD_ERROR);
        call.arg(id.to_string()).arg(error).arg(ms(now));
        self.changed(&call, "recording a workflow run's error").await
    }

    async fn rewind_run(&self, id: RunId, position: u32, now: DateTime<Utc>) -> Result<bool> {
        let mut call = self.script(&WF_REWIND);
        call.arg(id.to_string()).arg(position).arg(ms(now));
        self.changed(&call, "rewinding a workflow run").await
    }

    async fn prune_runs(&self, ended_before: DateTime<Utc>, limit: usize) -> Result<usize> {
        if limit == 0 {
            return Ok(0);
        }
        let mut call = self.script(&WF_PRUNE);
        call.arg(ms(ended_before)).arg(count(limit));
        self.invoke(&call, "pruning ended workflow runs").await
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunState>> {
        let mut call = self.script(&WF_LIST);
        match &filter.workflow {
            Some(workflow) => call.arg("1").arg(workflow),
            None => call.arg("0").arg(""),
        };
        match filter.status {
            Some(status) => call.arg("1").arg(status.as_str()),
            None => call.arg("0").arg(""),
        };
        call.arg(filter.offset.min(MAX_COUNT)).arg(count(filter.effective_limit()));
        let runs: Vec<Vec<(String, String)>> = self.invoke(&call, "listing workflow runs").await?;
        Ok(runs.into_iter().map(run_from).collect::<Result<Vec<_>>>()?.into_iter().flatten().collect())
    }

    async fn list_watchers(&self, topic: &str, limit: usize) -> Result<Vec<Watcher>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut call = self.script(&WF_WATCHERS);
        call.arg(topic).arg(count(limit));
        let watchers: Vec<String> = self.invoke(&call, "listing workflow watchers").await?;
        watchers
            .iter()
            .map(|text| {
                let w: StoredWatcher = from_json(text, "workflow watcher")?;
                Ok(Watcher::new(w.run, w.watch, w.deadline, w.created_at))
            })
            .collect()
    }
}

/// The `wf_write.lua` arguments of a checkpoint (`kind` 'c', or 'C' for one
/// written with a finish).
fn checkpoint_op(kind: &str, id: RunId, owner: &str, checkpoint: &Checkpoint) -> Result<[String; 7]> {
    Ok([
        kind.to_owned(),
        id.to_string(),
        owner.to_owned(),
        checkpoint.position.to_string(),
        to_json(checkpoint)?,
        String::new(),
        ms(checkpoint.at).to_string(),
    ])
}
