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
//! # Listing
//!
//! With `task_listing=true` ([`RedisOptions::with_task_listing`](super::RedisOptions::with_task_listing))
//! it lists statuses ([`TaskListing`]) from two kinds of sorted set (see
//! `keys.rs`): per state, and per task name and state. A query of one
//! state reads one set; a query of every state (of all tasks, or of one
//! name) merges the seven states' sets, newest first, in the listing script
//! (each read a few members at a time): two sets a status write updates
//! rather than four (sets of every task and per name would make those
//! queries one read), for a few more members read per page. Their scores are all 0 and their members sort as the
//! listing does: a member is the status's `updated_at` in microseconds (16
//! hex digits, the sign bit flipped so that the digits sort as the times
//! do), the task id (36 characters, which sort as ids do), then
//! `:<state>:<task name>`. So equal times come by id, as
//! [`TaskPage::from_rows`] wants, exactly (scores of times would order equal
//! times by the whole member, and a double cannot hold a time and an id),
//! and a page after a cursor is read from the cursor's member prefix on
//! (`ZREVRANGEBYLEX`): the same cost at any depth.
//!
//! The status write scripts (`set_status_listed.lua`, `set_queued_listed.lua`,
//! used instead of the plain ones only when the listing is on: without it a
//! write does nothing more) keep each record's member in its `listed` field
//! and, in the same script, move a rewritten task's member from its old sets
//! to its new ones: a state change reads the old state there, atomically.
//! Records expire (final states after the retention, any after `expire`) and
//! their members stay behind; a member is current only while its record
//! lists it. The listing script (`list_tasks.lua`) skips stale members and
//! removes them from their sets as it meets them, reading on until the page
//! is full, and each write of final states also checks as many of the
//! oldest members of that state's set as it wrote, plus one, pruning stale
//! ones until it meets a current one, so sets nobody lists do not grow for
//! ever. A page reads `limit + 1` members (plus up to 32 per other state's
//! set in a merge) and the stale ones it prunes, each once.
//!
//! On a Cluster the sets are kept per slot of the task records (16 per
//! namespace, see `Keys::task`), in that slot, so that a write script
//! updates the sets of its records' slot; a page reads each slot's sets
//! (16 calls, sent at once, each answering up to a page) and merges them.
//!
//! A task published through the same store has no record until a worker
//! writes its first status (see above), so it is listed from then on, not
//! while it waits in its queue, as on Postgres. Statuses written while the
//! listing was off are in no set: they are listed from their next write
//! (the stores do not scan for them when the listing is turned on), and a
//! record rewritten while it was off is left out, and its member pruned, where
//! the member no longer matches it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stem::backend::{
    GroupCount, GroupMember, GroupStatus, ResultBackend, TaskCursor, TaskListing, TaskPage, TaskQuery, TaskState,
    TaskStatus, WorkerHeartbeat,
};
use stem::envelope::Envelope;
use stem::{Error, Result, TaskId};

use super::conn::{grouped, slot};
use super::keys::Keys;
use super::pipeline::{self, Batch};
use super::scripts::{
    CLAIM_CHORD, FIND_QUEUED, GROUP_ADD, LIST_TASKS, SET_QUEUED, SET_QUEUED_LISTED, SET_STATUS, SET_STATUS_LISTED,
    UNLIST,
};
use super::{Shared, failed, from_json, millis, to_json};

/// A [`ResultBackend`] on Redis. See the [module docs](super) for the keys.
/// It lists statuses ([`TaskListing`]) when opened with `task_listing=true`
/// ([`RedisOptions::with_task_listing`](super::RedisOptions::with_task_listing)):
/// every status write then also updates two sorted sets of the tasks, per
/// state and per name and state, ordered as the listing is, from which a
/// page is read without a scan; members of expired records are pruned as they are
/// met. A task enqueued through the same store is listed once a worker
/// writes its first status.
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

    /// The keys, if status writes keep the listing's sets.
    fn listed(&self) -> Option<&Keys> {
        self.shared.options().task_listing().then(|| self.shared.keys())
    }

    /// The task's stored record, if any.
    async fn record(&self, id: TaskId) -> Result<Option<TaskStatus>> {
        let text: Option<String> = redis::cmd("HGET")
            .arg(self.shared.keys().task(id))
            .arg("status")
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a task status", e))?;
        text.map(|text| decoded(id, &text)).transpose()
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
        let listed = self.listed();
        let all: Vec<(String, &TaskStatus)> = queued.iter().map(|status| (keys.task(status.id), status)).collect();
        let pipes = all.chunks(PER_SCRIPT).map(|chunk| {
            let mut pipe = redis::pipe();
            pipe.add_command(set_queued_call(chunk.iter().map(|(key, status)| (key.as_str(), *status)), listed)?);
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
/// which were written. With `listed` keys (the listing on), the call of
/// `set_queued_listed.lua`, which lists them too (the records of one slot).
fn set_queued_call<'a>(
    records: impl Iterator<Item = (&'a str, &'a TaskStatus)>,
    listed: Option<&Keys>,
) -> Result<redis::Cmd> {
    let (names, statuses): (Vec<&str>, Vec<&TaskStatus>) = records.unzip();
    let Some(keys) = listed else {
        let mut call = SET_QUEUED.cmd(&names);
        for status in statuses {
            call.arg(encoded(status)?);
        }
        return Ok(call);
    };
    let mut call = SET_QUEUED_LISTED.cmd(&names);
    if let Some(first) = statuses.first() {
        call.arg(keys.listing(first.id).0);
    }
    for status in statuses {
        call.arg(encoded(status)?).arg(listing_member(status));
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

/// The status a task's stored `status` field holds (see [`encoded`]).
fn decoded(id: TaskId, text: &str) -> Result<TaskStatus> {
    if text.starts_with('~') { from_compact(id, text) } else { from_json(text, "task status") }
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
        let listed = self.listed();
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
            let cmd = set_queued_call(call.iter().map(|&at| (queued[at].0.as_str(), queued[at].1)), listed)?;
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
            let mut script = if listed.is_some() { SET_STATUS_LISTED.cmd(&names) } else { SET_STATUS.cmd(&names) };
            script.arg(retention).arg(&channel).arg(finals);
            if let Some(keys) = listed {
                let (sets, records) = keys.listing(fenced[call[0]].1.id);
                script.arg(sets).arg(records);
            }
            for &at in call.iter() {
                let status = fenced[at].1;
                script.arg(status.fence).arg(encoded(status)?);
                if listed.is_some() {
                    script.arg(listing_member(status));
                }
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

    fn listing(&self) -> Option<&dyn TaskListing> {
        self.listed().is_some().then_some(self as &dyn TaskListing)
    }
}

/// How many stale members (see the module docs) one call of
/// `list_tasks.lua` prunes at most besides the page it reads, so that a
/// call stays short; the next call goes on from where it stopped.
const STALE_PER_CALL: usize = 1000;

/// One slot's sets of a listing, as a page is read from them.
struct Shard {
    /// The sets read (merged when several).
    keys: Vec<String>,
    /// The prefix of the listing's sets in its slot.
    sets: String,
    /// The prefix of its slot's task records.
    records: String,
    /// Where the next call reads from (`+`, or `(` and a member), `None`
    /// once the set is read to its end.
    bound: Option<String>,
    /// How many current statuses it gave.
    found: usize,
}

#[async_trait]
impl TaskListing for RedisBackend {
    /// One call of `list_tasks.lua` per slot of records (one on a server),
    /// sent at once, each answering up to `limit + 1` statuses; again for
    /// the slots whose call met stale members and answered fewer.
    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage> {
        let size = query.page_size();
        let want = size + 1;
        let start = query.cursor()?.map_or_else(|| "+".to_owned(), |at| format!("({}", listing_order(at)));
        let states = query.state.as_ref().map_or(&TaskState::ALL[..], std::slice::from_ref);
        let sets: Vec<String> = states
            .iter()
            .map(|state| match &query.task {
                None => format!("state:{}", state.as_str()),
                Some(task) => format!("both:{}:{task}", state.as_str()),
            })
            .collect();
        let mut shards: Vec<Shard> = self
            .shared
            .keys()
            .listing_shards()
            .into_iter()
            .map(|(prefix, records)| Shard {
                keys: sets.iter().map(|set| format!("{prefix}{set}")).collect(),
                sets: prefix,
                records,
                bound: Some(start.clone()),
                found: 0,
            })
            .collect();
        let conn = self.shared.conn();
        let (mut rows, mut stale) = (Vec::new(), Vec::new());
        loop {
            let open: Vec<usize> =
                (0..shards.len()).filter(|&at| shards[at].found < want && shards[at].bound.is_some()).collect();
            if open.is_empty() {
                break;
            }
            let mut batch = Batch::default();
            for &at in &open {
                let shard = &shards[at];
                let need = want - shard.found;
                let keys: Vec<&str> = shard.keys.iter().map(String::as_str).collect();
                let mut call = LIST_TASKS.cmd(&keys);
                call.arg(&shard.sets)
                    .arg(&shard.records)
                    .arg(shard.bound.as_deref().unwrap_or("+"))
                    .arg(need)
                    .arg(need + STALE_PER_CALL);
                batch.add(keys[0], call);
            }
            let replies = batch.run(&conn, "listing task statuses").await?;
            for (&at, reply) in open.iter().zip(replies) {
                let reply: Vec<String> = redis::from_redis_value(reply)
                    .map_err(|e| Error::adapter("Redis: a task listing's reply is not a list of texts", e))?;
                let shard = &mut shards[at];
                let mut reply = reply.into_iter();
                shard.bound = reply.next().filter(|next| !next.is_empty());
                while let (Some(member), Some(text)) = (reply.next(), reply.next()) {
                    match listed_row(&member, &text)? {
                        Some(row) => {
                            shard.found += 1;
                            rows.push(row);
                        }
                        None => stale.push((at, member)),
                    }
                }
            }
        }
        if !stale.is_empty() {
            let mut batch = Batch::default();
            for (at, members) in grouped(stale, |(at, _)| *at) {
                let shard = &shards[at];
                let mut call = UNLIST.cmd(&[&shard.keys[0]]);
                call.arg(&shard.sets);
                for (_, member) in members {
                    call.arg(member);
                }
                batch.add(&shard.keys[0], call);
            }
            batch.run(&conn, "pruning the task listing").await?;
        }
        rows.sort_unstable_by_key(|(at, _)| std::cmp::Reverse(*at));
        Ok(TaskPage::from_rows(rows, size))
    }
}

/// The first 52 characters of a listing member (see the module docs),
/// which order it: the update time in microseconds as 16 hex digits, its
/// sign bit flipped (so that the digits sort as the times do, before 1970
/// too), then the id.
fn listing_order(at: TaskCursor) -> String {
    format!("{:016x}{}", at.updated_us.cast_unsigned() ^ (1 << 63), at.id)
}

/// `status`'s member in the listing's sets: its order, `:`, its state, `:`, its task name.
fn listing_member(status: &TaskStatus) -> String {
    format!("{}:{}:{}", listing_order(TaskCursor::of(status)), status.state.as_str(), status.task)
}

/// The position, state and task name a listing member stands for.
fn parse_member(member: &str) -> Option<(TaskCursor, &str, &str)> {
    let bits = u64::from_str_radix(member.get(..16)?, 16).ok()? ^ (1 << 63);
    let id = member.get(16..52)?.parse().ok()?;
    let (state, task) = member.get(52..)?.strip_prefix(':')?.split_once(':')?;
    Some((TaskCursor::new(bits.cast_signed(), id), state, task))
}

/// A listed status at its position, from a current `member` and its
/// record's stored `status` text; `None` when the record no longer matches
/// the member (rewritten while the listing was off).
fn listed_row(member: &str, text: &str) -> Result<Option<(TaskCursor, TaskStatus)>> {
    let (at, state, task) = parse_member(member)
        .ok_or_else(|| Error::adapter("Redis: a task listing member does not parse", format!("`{member}`")))?;
    let status = decoded(at.id, text)?;
    let current = TaskCursor::of(&status) == at && status.state.as_str() == state && status.task == task;
    Ok(current.then_some((at, status)))
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
    fn listing_members_sort_as_the_listing_does_and_parse_back() {
        let mut statuses: Vec<TaskStatus> = [-5_000_000, -1, 0, 1, 1, 1, 1_700_000_000_000_000, 4_102_444_800_000_000]
            .into_iter()
            .map(|us| {
                let mut status = TaskStatus::new(TaskId::new(), "app::mail:send", "q", TaskState::Failed);
                status.updated_at = chrono::DateTime::from_timestamp_micros(us).expect("in range");
                status
            })
            .collect();
        let mut members: Vec<String> = statuses.iter().map(listing_member).collect();
        members.sort();
        statuses.sort_by_key(TaskCursor::of);
        for (member, status) in members.iter().zip(&statuses) {
            assert_eq!(parse_member(member), Some((TaskCursor::of(status), "failed", "app::mail:send")), "{member}");
            assert!(listed_row(member, &to_json(status).expect("json")).expect("decodes").is_some());
        }
        let mut moved = statuses[0].clone();
        moved.state = TaskState::Succeeded;
        let member = listing_member(&statuses[0]);
        assert_eq!(listed_row(&member, &to_json(&moved).expect("json")).expect("decodes"), None, "another state");
        assert_eq!(parse_member("0123"), None);
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
