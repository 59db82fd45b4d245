//! The Redis result backend: one hash per task (`fence`, the fencing token of
//! the delivery that wrote it, absent in a producer's queued record; `status`,
//! the status as JSON) written through a fencing script, final states
//! expiring after the retention, `wait` woken by pub/sub, groups as hashes
//! (each with a count of its members, see `Keys::group`), heartbeats with TTLs.
//!
//! On one server a batch's statuses are written by one script over up to 500
//! task keys, and a batch of producer's records by another (`set_queued.lua`,
//! which writes only where a task has no record). On a Redis Cluster task
//! records spread over 16 hash slots per namespace (see `Keys::task`): each
//! slot's share of a batch goes to its own script calls, all sent at once
//! (one pipeline per slot).
//!
//! A producer on the same Redis and namespace writes no queued record: until
//! a worker writes a task's status, `get` finds the task's message (through
//! the `located` hash, task id -> queue, and that queue's `ids` hash,
//! `find_queued.lua`: a lookup by id, whatever the number of queues) and
//! reads it as queued. A worker's status write removes the task's `located`
//! entry; one whose message was purged or dead-lettered before it started is
//! removed when looked up, and the task is then unknown rather than queued
//! forever.
//!
//! It does not list statuses ([`stem::backend::TaskListing`]:
//! `ResultBackend::listing` returns `None`): a listing by name and state,
//! newest first, would need sorted sets per name, per state and per both,
//! updated by every status write (a state change moves a task between sets)
//! and pruned as records expire, on every write path and across cluster
//! slots. The dashboard looks tasks up by id there.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stem::backend::{GroupCount, GroupMember, GroupStatus, ResultBackend, TaskState, TaskStatus, WorkerHeartbeat};
use stem::envelope::Envelope;
use stem::{Error, Result, TaskId};

use super::conn::{grouped, slot};
use super::keys::Keys;
use super::pipeline::{self, Batch};
use super::scripts::{CLAIM_CHORD, FIND_QUEUED, GROUP_ADD, SET_QUEUED, SET_STATUS};
use super::{Shared, failed, from_json, millis, to_json};

/// A [`ResultBackend`] on Redis. See the [module docs](super) for the keys.
/// It does not implement [`TaskListing`](stem::backend::TaskListing): no
/// index of statuses by name and state is kept, which would cost every
/// status write.
#[derive(Debug)]
pub struct RedisBackend {
    shared: Arc<Shared>,
}

impl RedisBackend {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn retention_ms(&self) -> u64 {
        millis(self.shared.options().retention())
    }

    /// The task's stored record, if any.
    async fn record(&self, id: TaskId) -> Result<Option<TaskStatus>> {
        let text: Option<String> = redis::cmd("HGET")
            .arg(self.shared.keys().task(id))
            .arg("status")
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a task status", e))?;
        text.map(|text| if text.starts_with('~') { from_compact(id, &text) } else { from_json(&text, "task status") })
            .transpose()
    }

    /// The queued status a task's message stands for, if a queue holds one.
    async fn queued_message(&self, id: TaskId) -> Result<Option<TaskStatus>> {
        let keys = self.shared.keys();
        let env = if self.shared.is_cluster() {
            // Where it is, then a search of that queue, in its own slot.
            let mut conn = self.shared.conn();
            let queue: Option<String> = redis::cmd("HGET")
                .arg(keys.located())
                .arg(id.to_string())
                .query_async(&mut conn)
                .await
                .map_err(|e| failed("reading where a task's message is", e))?;
            let Some(queue) = queue else { return Ok(None) };
            let key = keys.queue(&queue);
            let mut call = FIND_QUEUED.cmd(&[&key]);
            call.arg(id.to_string()).arg(1);
            let env: Option<String> =
                call.query_async(&mut conn).await.map_err(|e| failed("reading a task status", e))?;
            if env.is_none() {
                // Purged or dead-lettered before any status was written.
                let _: redis::RedisResult<()> =
                    redis::cmd("HDEL").arg(keys.located()).arg(id.to_string()).query_async(&mut conn).await;
            }
            env
        } else {
            let mut pipe = redis::pipe();
            FIND_QUEUED.push(&mut pipe, &[keys.prefix()]).arg(id.to_string());
            let (env,): (Option<String>,) =
                pipeline::query(&mut self.shared.conn(), &pipe, "reading a task status").await?;
            env
        };
        env.map(|env| from_json::<Envelope>(&env, "envelope").map(|envelope| TaskStatus::queued(&envelope))).transpose()
    }

    /// Writes a large batch of queued records (a producer's) on one server,
    /// each script call of [`PER_SCRIPT`] sent as soon as it is encoded (see
    /// `pipeline::query_streamed`).
    async fn set_queued(&self, queued: &[TaskStatus]) -> Result<Vec<bool>> {
        let keys = self.shared.keys();
        let all: Vec<(String, &TaskStatus)> = queued.iter().map(|status| (keys.task(status.id), status)).collect();
        let pipes = all.chunks(PER_SCRIPT).map(|chunk| {
            let mut pipe = redis::pipe();
            pipe.add_command(set_queued_call(chunk.iter().map(|(key, status)| (key.as_str(), *status)))?);
            Ok(pipe)
        });
        let replies: Vec<(Vec<i64>,)> =
            pipeline::query_streamed(&self.shared.conn(), pipes, "writing queued records").await?;
        Ok(replies.into_iter().flat_map(|(written,)| written).map(|written| written == 1).collect())
    }
}

/// The call of `set_queued.lua` that writes producers' records (state
/// queued, fence 0) at their keys only where a task has no record, so that
/// none replaces a worker's (any worker's fence is higher); its reply says
/// which were written.
fn set_queued_call<'a>(records: impl Iterator<Item = (&'a str, &'a TaskStatus)>) -> Result<redis::Cmd> {
    let (names, statuses): (Vec<&str>, Vec<&TaskStatus>) = records.unzip();
    let mut call = SET_QUEUED.cmd(&names);
    for status in statuses {
        call.arg(encoded(status)?);
    }
    Ok(call)
}

/// Per status of `count` written in script `calls` (their places among the
/// statuses), whether it was written, from the calls' `replies` (1 or 0 per key).
fn written_by(calls: &[Vec<usize>], replies: Vec<redis::Value>, count: usize) -> Result<Vec<bool>> {
    let mut written = vec![false; count];
    for (call, reply) in calls.iter().zip(replies) {
        let reply: Vec<i64> = redis::from_redis_value(reply)
            .map_err(|e| Error::adapter("Redis: a status write's reply is not a list of numbers", e))?;
        for (&at, one) in call.iter().zip(reply) {
            written[at] = one == 1;
        }
    }
    Ok(written)
}

/// Whether `status` is a producer's record: queued, fence 0.
fn is_queued_record(status: &TaskStatus) -> bool {
    status.fence == 0 && status.state == TaskState::Queued
}

/// Where the reply about one status is.
enum Answer {
    /// The n-th queued record.
    Queued(usize),
    /// The n-th status of the scripted writes.
    Fenced(usize),
}

/// A task's stored `status`: JSON, or a producer's queued record in short.
fn encoded(status: &TaskStatus) -> Result<Vec<u8>> {
    if let Some(compact) = compact_queued(status) {
        return Ok(compact.into_bytes());
    }
    serde_json::to_vec(status).map_err(|e| Error::adapter("encoding a record for Redis", e))
}

/// A producer's queued record in short: `~<attempt>|<updated_at in ns since
/// the epoch>|<length of the queue name>|<queue><task>`, written for every
/// enqueued task, so kept cheap to make and small to store. `None` for any
/// other status (those are JSON).
fn compact_queued(status: &TaskStatus) -> Option<String> {
    let plain = status.state == TaskState::Queued
        && status.fence == 0
        && status.result.is_none()
        && status.error.is_none()
        && status.progress.is_none()
        && status.meta.is_empty();
    let nanos = status.updated_at.timestamp_nanos_opt().filter(|_| plain)?;
    Some(format!("~{}|{nanos}|{}|{}{}", status.attempt, status.queue.len(), status.queue, status.task))
}

/// The status a short queued record stands for (see [`compact_queued`]).
fn from_compact(id: TaskId, text: &str) -> Result<TaskStatus> {
    let bad = || Error::adapter("a queued record in Redis does not parse", format!("`{text}`"));
    let mut fields = text.strip_prefix('~').ok_or_else(bad)?.splitn(4, '|');
    let mut next = || fields.next().ok_or_else(bad);
    let attempt: u32 = next()?.parse().map_err(|_| bad())?;
    let nanos: i64 = next()?.parse().map_err(|_| bad())?;
    let queue_len: usize = next()?.parse().map_err(|_| bad())?;
    let rest = next()?;
    let (queue, task) = (rest.get(..queue_len).ok_or_else(bad)?, rest.get(queue_len..).ok_or_else(bad)?);
    let mut status = TaskStatus::new(id, task, queue, TaskState::Queued);
    status.attempt = attempt;
    status.updated_at = chrono::DateTime::from_timestamp_nanos(nanos);
    Ok(status)
}

/// The most statuses one script call writes.
const PER_SCRIPT: usize = 500;

/// A group from its hash's fields (`HGETALL`); `None` when there are none.
/// Its `done` count is not read (`results` holds the members), nor fields of
/// the older layout (see `Keys::group`).
fn group_from(id: TaskId, fields: Vec<(String, String)>) -> Result<Option<GroupStatus>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut group = GroupStatus { id, expected: 0, results: BTreeMap::new(), chord_callback: None };
    for (field, value) in fields {
        if field == "expected" {
            group.expected = value.parse().map_err(|e| Error::adapter("a group's size in Redis is not a number", e))?;
        } else if field == "chord" {
            group.chord_callback =
                Some(value.parse().map_err(|e| Error::adapter("a chord callback id in Redis is not a task id", e))?);
        } else if let Some(index) = field.strip_prefix("m:") {
            let index = index.parse().map_err(|e| {
                Error::adapter(format!("a group member's index in Redis (field `{field}`) is not a number"), e)
            })?;
            group.results.insert(index, from_json(&value, "group member status")?);
        }
    }
    Ok(Some(group))
}

/// The script calls that add `members` (their places in the batch): one per
/// group and [`PER_SCRIPT`] members, on the group's key, members in order.
fn group_calls(keys: &Keys, members: &[GroupMember]) -> Vec<(String, Vec<usize>)> {
    grouped(0..members.len(), |&at| members[at].group)
        .into_iter()
        .flat_map(|(group, places)| {
            let key = keys.group(group);
            places.chunks(PER_SCRIPT).map(|call| (key.clone(), call.to_vec())).collect::<Vec<_>>()
        })
        .collect()
}

/// Per member of a batch of `count`, its group's count, from the replies of
/// the script `calls` (their members' places in the batch) that added them:
/// `group_add.lua` answers the group's size then a count per member, or
/// nothing for a group that does not exist.
fn counts_from(
    calls: &[(String, Vec<usize>)],
    replies: Vec<redis::Value>,
    count: usize,
) -> Result<Vec<Option<GroupCount>>> {
    let mut counts = vec![None; count];
    for ((key, call), reply) in calls.iter().zip(replies) {
        let reply: Vec<usize> = redis::from_redis_value(reply).map_err(|e| {
            Error::adapter(format!("Redis: adding to the group `{key}` answered no list of numbers"), e)
        })?;
        let Some((&expected, done)) = reply.split_first() else { continue };
        if done.len() != call.len() {
            return Err(Error::adapter(
                format!("Redis: adding to the group `{key}` answered a wrong number of counts"),
                format!("{} for {} members", done.len(), call.len()),
            ));
        }
        for (&at, &done) in call.iter().zip(done) {
            counts[at] = Some(GroupCount { expected, done });
        }
    }
    Ok(counts)
}

#[async_trait]
impl ResultBackend for RedisBackend {
    async fn set_batch(&self, statuses: &mut Vec<TaskStatus>) -> Result<Vec<bool>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let cluster = self.shared.is_cluster();
        if !cluster && statuses.len() > PER_SCRIPT && statuses.iter().all(is_queued_record) {
            return self.set_queued(statuses).await;
        }
        let keys = self.shared.keys();
        let channel = keys.done_channel();
        let retention = self.retention_ms();
        let mut batch = Batch::default();
        // Where each status's answer is: its place among the queued records,
        // or among the fenced writes.
        let mut answers = Vec::with_capacity(statuses.len());
        let mut queued: Vec<(String, &TaskStatus)> = Vec::new();
        let mut fenced: Vec<(String, &TaskStatus)> = Vec::new();
        for status in statuses {
            if is_queued_record(status) {
                answers.push(Answer::Queued(queued.len()));
                queued.push((keys.task(status.id), status));
            } else {
                answers.push(Answer::Fenced(fenced.len()));
                fenced.push((keys.task(status.id), status));
            }
        }
        // A producer's records, written only where none exists (so never over
        // a worker's): in script calls of up to PER_SCRIPT, one slot each on a
        // Cluster, sent with the rest.
        let queued_calls: Vec<Vec<usize>> =
            grouped(0..queued.len(), |&at| if cluster { slot(queued[at].0.as_bytes()) } else { 0 })
                .into_iter()
                .flat_map(|(_, group)| group.chunks(PER_SCRIPT).map(<[usize]>::to_vec).collect::<Vec<_>>())
                .collect();
        for call in &queued_calls {
            let cmd = set_queued_call(call.iter().map(|&at| (queued[at].0.as_str(), queued[at].1)))?;
            batch.add(&queued[call[0]].0, cmd);
        }
        // The fenced writes go in scripts of up to PER_SCRIPT statuses, whose
        // keys are in one slot on a Cluster (on one server a script may touch
        // the keys of any tasks), final ones first in each. A key already in
        // a script starts the next one, which runs after it: a later status of
        // one task is then compared with the earlier, as if written in turn.
        let groups = grouped(0..fenced.len(), |&at| if cluster { slot(fenced[at].0.as_bytes()) } else { 0 });
        let mut calls: Vec<Vec<usize>> = Vec::new();
        for (_, group) in groups {
            let (mut call, mut in_call) = (Vec::new(), HashSet::new());
            for at in group {
                let key = fenced[at].0.as_str();
                if call.len() >= PER_SCRIPT || in_call.contains(key) {
                    calls.push(std::mem::take(&mut call));
                    in_call.clear();
                }
                in_call.insert(key);
                call.push(at);
            }
            if !call.is_empty() {
                calls.push(call);
            }
        }
        for call in &mut calls {
            call.sort_by_key(|&at| !fenced[at].1.state.is_terminal());
            let finals = call.iter().take_while(|&&at| fenced[at].1.state.is_terminal()).count();
            let names: Vec<&str> = call.iter().map(|&at| fenced[at].0.as_str()).collect();
            let mut script = SET_STATUS.cmd(&names);
            script.arg(retention).arg(&channel).arg(finals);
            for &at in call.iter() {
                let status = fenced[at].1;
                script.arg(status.fence).arg(encoded(status)?);
            }
            batch.add(names[0], script);
        }
        // A task with a record is no longer looked for by its message.
        if !fenced.is_empty() {
            let located = keys.located();
            let mut forget = redis::cmd("HDEL");
            forget.arg(&located);
            for (_, status) in &fenced {
                forget.arg(status.id.to_string());
            }
            batch.add(&located, forget);
        }
        let mut values = batch.run(&self.shared.conn(), "writing task statuses").await?;
        if !fenced.is_empty() {
            values.pop();
        }
        let scripted = values.split_off(queued_calls.len().min(values.len()));
        let queued_written = written_by(&queued_calls, values, queued.len())?;
        let fenced_written = written_by(&calls, scripted, fenced.len())?;
        Ok(answers
            .into_iter()
            .map(|answer| match answer {
                Answer::Queued(at) => queued_written[at],
                Answer::Fenced(at) => fenced_written[at],
            })
            .collect())
    }

    /// A short call (see `spin.rs`): one round trip, or a few for a task
    /// that no worker has started yet.
    async fn get(&self, id: TaskId) -> Result<Option<TaskStatus>> {
        self.shared
            .quick(async {
                if let Some(status) = self.record(id).await? {
                    return Ok(Some(status));
                }
                if let Some(status) = self.queued_message(id).await? {
                    return Ok(Some(status));
                }
                // A worker writes a task's record before it settles the message: if
                // both went between the two reads above, the record is there now.
                self.record(id).await
            })
            .await
    }

    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskStatus>> {
        let notify = self.shared.done().await?.waiters.register(id);
        crate::waiters::wait_final(&notify, timeout, || self.get(id)).await
    }

    async fn expire(&self, id: TaskId, ttl: Duration) -> Result<()> {
        let keys = self.shared.keys();
        let mut batch = Batch::default();
        for key in [keys.task(id), keys.group(id)] {
            batch.add(&key, redis::cmd("PEXPIRE").arg(&key).arg(millis(ttl)).to_owned());
        }
        batch.run(&self.shared.conn(), "setting an expiry").await.map(drop)
    }

    async fn group_init(&self, group: TaskId, expected: usize) -> Result<()> {
        let key = self.shared.keys().group(group);
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("DEL").arg(&key).ignore();
        pipe.cmd("HSET").arg(&key).arg("expected").arg(expected).ignore();
        pipe.cmd("PEXPIRE").arg(&key).arg(self.retention_ms()).ignore();
        pipeline::query::<()>(&mut self.shared.conn(), &pipe, "creating a group").await
    }

    /// One script call per group (and [`PER_SCRIPT`] members), all sent in
    /// one pipeline (on a Cluster, one per slot, sent at once).
    async fn group_add(&self, members: &[GroupMember]) -> Result<Vec<Option<GroupCount>>> {
        let calls = group_calls(self.shared.keys(), members);
        let mut batch = Batch::default();
        for (key, call) in &calls {
            let mut script = GROUP_ADD.cmd(&[key]);
            for &at in call {
                script.arg(members[at].index).arg(to_json(&members[at].status)?);
            }
            batch.add(key, script);
        }
        let replies = batch.run(&self.shared.conn(), "adding to a group").await?;
        counts_from(&calls, replies, members.len())
    }

    async fn group_get(&self, group: TaskId) -> Result<Option<GroupStatus>> {
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.shared.keys().group(group))
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a group", e))?;
        group_from(group, fields)
    }

    async fn claim_chord(&self, group: TaskId, callback: TaskId) -> Result<bool> {
        let key = self.shared.keys().group(group);
        let mut pipe = redis::pipe();
        CLAIM_CHORD.push(&mut pipe, &[&key]).arg(callback.to_string());
        let (claimed,): (i64,) = pipeline::query(&mut self.shared.conn(), &pipe, "claiming a chord").await?;
        Ok(claimed == 1)
    }

    async fn set_heartbeat(&self, heartbeat: WorkerHeartbeat, ttl: Duration) -> Result<()> {
        let keys = self.shared.keys();
        let until = chrono::Utc::now().timestamp_millis() + i64::try_from(millis(ttl)).unwrap_or(i64::MAX / 2);
        let (worker, workers) = (keys.worker(&heartbeat.worker_id), keys.workers());
        let mut batch = Batch::default();
        batch.add(
            &worker,
            redis::cmd("SET").arg(&worker).arg(to_json(&heartbeat)?).arg("PX").arg(millis(ttl)).to_owned(),
        );
        batch.add(&workers, redis::cmd("ZADD").arg(&workers).arg(until).arg(&heartbeat.worker_id).to_owned());
        // Workers that stopped beating leave the set here too, not only when listed.
        let now = chrono::Utc::now().timestamp_millis();
        batch.add(&workers, redis::cmd("ZREMRANGEBYSCORE").arg(&workers).arg("-inf").arg(now).to_owned());
        batch.run(&self.shared.conn(), "storing a heartbeat").await.map(drop)
    }

    async fn list_heartbeats(&self) -> Result<Vec<WorkerHeartbeat>> {
        let keys = self.shared.keys();
        let mut conn = self.shared.conn();
        let now = chrono::Utc::now().timestamp_millis();
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE").arg(keys.workers()).arg("-inf").arg(now).ignore();
        pipe.cmd("ZRANGE").arg(keys.workers()).arg(0).arg(-1);
        let (mut ids,): (Vec<String>,) = pipeline::query(&mut conn, &pipe, "listing workers").await?;
        ids.sort();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // A `GET` each, not one `MGET`: on a Cluster the keys are in many slots.
        let mut batch = Batch::default();
        for id in &ids {
            let key = keys.worker(id);
            batch.add(&key, redis::cmd("GET").arg(&key).to_owned());
        }
        let beats = batch.run(&conn, "reading heartbeats").await?;
        let beats: Vec<Option<String>> = beats
            .into_iter()
            .map(redis::from_redis_value)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::adapter("Redis: a heartbeat is not text", e))?;
        beats.into_iter().flatten().map(|b| from_json(&b, "heartbeat")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_record_round_trips_in_short() {
        let mut status = TaskStatus::new(TaskId::new(), "mail::send|now", "q|1", TaskState::Queued);
        status.attempt = 2;
        let short = compact_queued(&status).expect("a plain queued record");
        assert!(short.starts_with('~') && short.len() < 80, "{short}");
        assert_eq!(from_compact(status.id, &short).expect("parses"), status);
    }

    #[test]
    fn other_statuses_stay_json() {
        let mut started = TaskStatus::new(TaskId::new(), "t", "q", TaskState::Started);
        assert!(compact_queued(&started).is_none());
        started.state = TaskState::Queued;
        started.fence = 3;
        assert!(compact_queued(&started).is_none(), "a worker's write");
        let mut meta = TaskStatus::new(TaskId::new(), "t", "q", TaskState::Queued);
        meta.meta.insert("k".into(), serde_json::json!(1));
        assert!(compact_queued(&meta).is_none(), "metadata needs JSON");
        assert!(from_compact(meta.id, "~x|1|1|qt").is_err(), "a bad record names itself");
    }
}
