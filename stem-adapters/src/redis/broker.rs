//! The Redis broker on Redis Streams (see [`RedisBroker`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use stem::broker::{
    Broadcast, Broker, DeadLetter, DeadLetterPage, DeadLetters, Delivery, Nack, PublishRecorded, PurgeOptions,
    QueueCounts, QueueStats, Receipt, ReceiveRequest, ReplayOptions, ReplayResult,
};
use stem::envelope::{Envelope, MAX_PRIORITY};
use stem::{Error, Result, TaskId};

use super::conn::{Conn, grouped, slot};
use super::pipeline::{self, Batch};
use super::scripts::{ACK, CLAIM, COUNTS, PUBLISH, PURGE, REPLAY, SETTLE};
use super::{Shared, failed, millis, to_json};

/// The consumer group every worker reads through.
const GROUP: &str = "stem";

/// The most messages (or receipts) one script call handles, so that a large
/// batch does not hold Redis up for long.
const PER_SCRIPT: usize = 500;

/// A [`Broker`] on Redis Streams.
///
/// Per queue (every key under the queue's hash tag, `stem:<ns>:{<queue>}:`;
/// `scripts/queue_lib.lua` lists them all):
/// - `s0` .. `s9`: one stream per priority band, read through the consumer
///   group `stem`; an entry holds the task id and the envelope (JSON), so a
///   claim reads each message in the one `XREADGROUP`.
/// - `ids`: a hash from task id to where its one message is: `band:entry:token`
///   on a stream, or `d` while delayed. The token is the fencing token of the
///   message's current delivery (0 before the first): a settle checks, in one
///   script, that the receipt's entry and token are still the stored ones and
///   that its lease has not ended, so a stale worker can neither ack nor nack.
///   Tokens come from the queue's counter `seq` and only grow.
/// - `leases`: a sorted set of leased task ids by lease end (ms).
/// - `delayed` (task ids by `not_before`) and `later` (their band and
///   envelope), moved onto the streams by the claim script when due; `wake`: a
///   short stream that gets an entry whenever a delayed message is added, so
///   that blocked receivers wake and shorten their wait to its time.
/// - `dead`, `dead:<id>`, `dead_seq`: the dead letter queue, ordered by when
///   each was dead-lettered.
///
/// A claim, an ack and a publish make a fixed number of Redis calls per batch,
/// not per message (besides the one `XADD` of each publish).
///
/// `receive` runs `claim.lua`, which takes over deliveries whose lease ended
/// (`XCLAIM`), then reads new entries highest band first (`XREADGROUP COUNT`
/// up to what is asked), all in one round trip per queue. When it finds
/// nothing, the receiver blocks on `XREAD BLOCK` for entries newer than the last
/// ones the script saw, on a connection of its own, until one arrives, the
/// next delayed message or lease end is due, or the wait ends: no polling.
/// Entries are read into the group only inside the script, together with
/// their lease, so a dropped `receive` never strands an entry in a consumer's
/// pending list.
///
/// Publishing an id that is already stored replaces the stored copy (one
/// message per id).
///
/// Known limits: a message put back (requeue) goes to the end of its band, not
/// the front; with several queues, they are read in the order given (priority
/// orders messages within a queue); deliveries whose lease ended are handed
/// out before new ones; an error in the middle of a `receive` over several
/// queues leaves what it had leased to come back when the leases end. On a
/// Redis Cluster each script touches one queue's keys (one slot); a publish
/// or ack over several queues sends one pipeline per queue, and a receiver
/// waiting on several queues waits on each queue's streams with a connection
/// of its own until the first answers. Leases are
/// kept in a sorted set and taken over with `XCLAIM`, rather than found with
/// `XAUTOCLAIM` by idle time, because a lease's length is per delivery and can
/// be extended; a receiver waits with `XREAD BLOCK` and reads into the group
/// only inside the claim script, so that a dropped `receive` strands nothing.
#[derive(Debug)]
pub struct RedisBroker {
    shared: Arc<Shared>,
    /// Connections for blocking reads, one per waiting receiver, kept for reuse.
    blocking: Arc<Mutex<Vec<Conn>>>,
}

/// `claim.lua`'s result: server time, next event, the claimed messages (four
/// values each: id, band, entry, envelope), last entry per stream, entries
/// read (usable or not), the fencing token before the first claimed message
/// (the k-th, from 1, has this plus k) and their lease end.
/// The messages' fields are bytes: one entry whose id or envelope is not
/// UTF-8 must cost one dead letter, not the whole claimed batch.
type ClaimResult = (i64, i64, Vec<Vec<u8>>, Vec<(String, String)>, u64, u64, i64);

impl RedisBroker {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, blocking: Arc::default() }
    }

    /// On a Cluster, a queue name that would leave its keys without a hash tag
    /// (empty, or starting with `}`) is an error: its keys would fall in many
    /// slots, which its scripts cannot touch together.
    fn check_queue(&self, queue: &str) -> Result<()> {
        if self.shared.is_cluster() && (queue.is_empty() || queue.starts_with('}')) {
            return Err(Error::Config(format!(
                "the queue name `{queue}` cannot be used on a Redis Cluster: its keys' hash tag `{{{queue}}}` \
                 would be empty; use a name that does not start with `}}`"
            )));
        }
        Ok(())
    }

    fn queue_key(&self, queue: &str) -> String {
        self.shared.keys().queue(queue)
    }

    /// Runs `settle.lua` for one receipt; `LeaseLost` when the receipt is stale.
    async fn settle(&self, receipt: &Receipt, op: &str, extra: &[String]) -> Result<i64> {
        let id = receipt.id.to_string();
        let result = self.settle_raw(&receipt.queue, id.as_bytes(), receipt.token, op, extra).await?;
        if result < 0 { Err(Error::LeaseLost(receipt.id)) } else { Ok(result) }
    }

    /// Runs `settle.lua` for the message stored under `id` (as stored: it may
    /// not be a task id) and `token`; negative when the token is stale.
    async fn settle_raw(&self, queue: &str, id: &[u8], token: u64, op: &str, extra: &[String]) -> Result<i64> {
        let mut pipe = redis::pipe();
        let call = SETTLE.push(&mut pipe, &[&self.queue_key(queue)]).arg(op).arg(id).arg(token).arg(GROUP);
        for arg in extra {
            call.arg(arg);
        }
        let (result,): (i64,) = pipeline::query(&mut self.shared.conn(), &pipe, "settling a delivery").await?;
        Ok(result)
    }

    /// Claims up to `max` deliveries from `queue`.
    async fn claim(&self, queue: &str, request: &ReceiveRequest, max: usize) -> Result<(ClaimResult, Vec<Delivery>)> {
        let mut pipe = redis::pipe();
        CLAIM
            .push(&mut pipe, &[&self.queue_key(queue)])
            .arg(GROUP)
            .arg(&request.consumer)
            .arg(max)
            .arg(millis(request.lease));
        let (result,): (ClaimResult,) = pipeline::query(&mut self.shared.conn(), &pipe, "claiming messages").await?;
        let mut out = Vec::with_capacity(result.2.len() / 4);
        let name: Arc<str> = Arc::from(queue);
        let lease_expires_at = from_ms(result.6);
        for (token, message) in (result.5 + 1..).zip(result.2.chunks_exact(4)) {
            let (raw_id, env) = (&message[0], &message[3]);
            let tag = format!("{}:{}", String::from_utf8_lossy(&message[1]), String::from_utf8_lossy(&message[2]));
            let id = std::str::from_utf8(raw_id).ok().and_then(|id| id.parse::<TaskId>().ok());
            let decoded = match (id, std::str::from_utf8(env)) {
                (None, _) => Err(format!("its id `{}` is not a task id", String::from_utf8_lossy(raw_id))),
                (Some(_), Err(e)) => Err(format!("it is not UTF-8 ({e})")),
                (Some(id), Ok(text)) => {
                    serde_json::from_str::<Envelope>(text).map(|e| (id, e)).map_err(|e| e.to_string())
                }
            };
            match decoded {
                Ok((id, envelope)) => {
                    let receipt = Receipt { id, queue: Arc::clone(&name), token, tag };
                    out.push(Delivery { envelope: Arc::new(envelope), receipt, lease_expires_at });
                }
                Err(why) => self.bury_undecodable(queue, raw_id, id, token, env, &why).await?,
            }
        }
        Ok((result, out))
    }

    /// Moves a message whose stored entry does not decode to the dead letter
    /// queue, its text kept whole as the arguments of a `stem.undecodable`
    /// envelope (under a new task id if its own is not one).
    async fn bury_undecodable(
        &self,
        queue: &str,
        raw_id: &[u8],
        id: Option<TaskId>,
        token: u64,
        text: &[u8],
        why: &str,
    ) -> Result<()> {
        let (envelope, reason) = crate::undecodable::stand_in(id.unwrap_or_default(), queue, text, why);
        tracing::error!(task = %String::from_utf8_lossy(raw_id), %queue, %reason, "moved a message to the dead letter queue");
        let json = to_json(&envelope)?;
        self.settle_raw(queue, raw_id, token, "dead", &[reason, Utc::now().to_rfc3339(), json]).await.map(drop)
    }

    /// Waits until a stream of `lasts` has an entry newer than its last one, or
    /// `timeout` passes. On a Cluster one `XREAD` names the streams of one slot
    /// (one queue): the reads of several queues' streams wait together, each
    /// in a task of its own, until the first answers; the others finish in the
    /// background (by `timeout` at the latest) and put their connections back.
    async fn block(&self, lasts: &[(String, String)], timeout: Duration) -> Result<()> {
        if !self.shared.is_cluster() {
            return block_on(&self.shared, &self.blocking, lasts, timeout).await;
        }
        let by_slot = grouped(lasts, |(stream, _)| slot(stream.as_bytes()));
        if by_slot.len() <= 1 {
            return block_on(&self.shared, &self.blocking, lasts, timeout).await;
        }
        let waits = by_slot.into_iter().map(|(_, list)| {
            let lasts: Vec<(String, String)> = list.into_iter().cloned().collect();
            let (shared, pool) = (Arc::clone(&self.shared), Arc::clone(&self.blocking));
            tokio::spawn(async move { block_on(&shared, &pool, &lasts, timeout).await })
        });
        let (first, ..) = futures_util::future::select_all(waits).await;
        first.unwrap_or_else(|e| Err(Error::adapter("a Redis blocking read's task failed", e)))
    }

    /// Deletes the dead letters of `queue` older than the store's dead letter
    /// retention: the oldest first (the set is in the order they died), a
    /// page at a time, until a younger one; entries whose hash is gone go too.
    async fn expire_dead(&self, queue: &str) -> Result<()> {
        const PAGE: isize = 100;
        let kept = self.shared.options.dead_letter_retention();
        let cutoff = Utc::now() - chrono::Duration::from_std(kept).unwrap_or(chrono::Duration::MAX);
        let prefix = self.queue_key(queue);
        let (key, mut conn) = (format!("{prefix}dead"), self.shared.conn());
        loop {
            let ids: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(PAGE - 1)
                .query_async(&mut conn)
                .await
                .map_err(|e| failed("listing dead letters", e))?;
            let page = self.dead_letters(queue, &ids).await?;
            let young: Option<&Vec<u8>> = page.iter().find(|(_, d)| d.dead_at >= cutoff).map(|(id, _)| id);
            let old: Vec<&Vec<u8>> = ids.iter().take_while(|id| Some(*id) != young).collect();
            if old.is_empty() {
                return Ok(());
            }
            let mut pipe = redis::pipe();
            for id in &old {
                pipe.cmd("ZREM").arg(&key).arg(id.as_slice()).ignore();
                pipe.cmd("DEL").arg([prefix.as_bytes(), b"dead:", id].concat()).ignore();
            }
            pipeline::query::<()>(&mut conn, &pipe, "expiring dead letters").await?;
            if young.is_some() || ids.len() < PAGE as usize {
                return Ok(());
            }
        }
    }

    /// Up to `limit` dead letters of `queue` dead at or after `since`, oldest
    /// first, read a page at a time (not the whole dead letter queue).
    async fn oldest_dead(&self, queue: &str, since: Option<DateTime<Utc>>, limit: usize) -> Result<Vec<Dead>> {
        const PAGE: usize = 1000;
        let prefix = self.queue_key(queue);
        let (key, mut conn) = (format!("{prefix}dead"), self.shared.conn());
        let (mut chosen, mut start) = (Vec::new(), 0);
        while chosen.len() < limit {
            let ids: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(start)
                .arg(start + PAGE - 1)
                .query_async(&mut conn)
                .await
                .map_err(|e| failed("listing dead letters", e))?;
            start += ids.len();
            let page = self.dead_letters(queue, &ids).await?;
            chosen.extend(page.into_iter().filter(|(_, d)| since.is_none_or(|s| d.dead_at >= s)));
            if ids.len() < PAGE {
                break;
            }
        }
        chosen.truncate(limit);
        Ok(chosen)
    }

    /// The dead letters of `queue` that a replay or purge selects: those dead
    /// at or after `since` of the tasks `ids`, oldest first, at most `limit`.
    /// With ids, their hashes are read directly, in one round trip; without,
    /// the queue's dead letters are paged through (see `oldest_dead`).
    async fn chosen_dead(
        &self,
        queue: &str,
        since: Option<DateTime<Utc>>,
        limit: usize,
        ids: &[TaskId],
    ) -> Result<Vec<Dead>> {
        if ids.is_empty() {
            return self.oldest_dead(queue, since, limit).await;
        }
        let mut keys: Vec<Vec<u8>> = Vec::with_capacity(ids.len());
        for id in ids {
            let key = id.to_string().into_bytes();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let mut chosen = self.dead_letters(queue, &keys).await?;
        chosen.retain(|(_, d)| since.is_none_or(|s| d.dead_at >= s));
        chosen.sort_by_key(|(_, d)| d.dead_at);
        chosen.truncate(limit);
        Ok(chosen)
    }

    /// The dead letters of `queue` stored under these ids (those still
    /// there), in that order, each with its stored id. One whose stored
    /// envelope no longer decodes is shown as a `stem.undecodable` stand-in
    /// (its bytes kept whole), so that it can be listed and purged.
    async fn dead_letters(&self, queue: &str, ids: &[Vec<u8>]) -> Result<Vec<Dead>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = self.queue_key(queue);
        let mut pipe = redis::pipe();
        for id in ids {
            let key = [prefix.as_bytes(), b"dead:", id].concat();
            pipe.cmd("HMGET").arg(key).arg("env").arg("reason").arg("dead_at").arg("token");
        }
        let rows: Vec<DeadRow> = pipeline::query(&mut self.shared.conn(), &pipe, "reading dead letters").await?;
        let found = ids.iter().zip(rows).filter_map(|(id, (env, reason, dead_at, token))| {
            Some((id.clone(), env?, reason?, dead_at?, token.unwrap_or(0)))
        });
        Ok(found
            .map(|(id, env, reason, dead_at, fence)| {
                let dead_at = std::str::from_utf8(&dead_at)
                    .ok()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc));
                let mut reason = String::from_utf8_lossy(&reason).into_owned();
                let decoded = std::str::from_utf8(&env)
                    .map_err(|e| e.to_string())
                    .and_then(|text| serde_json::from_str::<Envelope>(text).map_err(|e| e.to_string()));
                let envelope = match decoded {
                    Ok(envelope) => envelope,
                    Err(error) => {
                        let own = std::str::from_utf8(&id).ok().and_then(|id| id.parse().ok()).unwrap_or_default();
                        let (stand_in, why) = crate::undecodable::stand_in(own, queue, env, error);
                        reason = format!("{reason} ({why})");
                        stand_in
                    }
                };
                (id, DeadLetter { envelope, reason, dead_at, fence })
            })
            .collect())
    }
}

/// A dead letter with the id it is stored under (not its envelope's, for
/// one whose envelope does not decode).
type Dead = (Vec<u8>, DeadLetter);

/// A dead letter's hash fields as `HMGET` returns them: envelope, reason,
/// time and fence (each missing if the dead letter went meanwhile).
/// Bytes, so that one that is not UTF-8 reads too.
type DeadRow = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<u64>);

/// How long after its end a blocking read may still take to answer.
const BLOCK_MARGIN: Duration = Duration::from_secs(5);

/// One `XREAD BLOCK` on the streams of `lasts`, on a connection from `pool`
/// (or a new one), which goes back to it after.
async fn block_on(
    shared: &Shared,
    pool: &Mutex<Vec<Conn>>,
    lasts: &[(String, String)],
    timeout: Duration,
) -> Result<()> {
    let pooled = pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
    let mut conn = match pooled {
        Some(conn) => conn,
        None => shared.blocking_conn().await?,
    };
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT").arg(1).arg("BLOCK").arg(millis(timeout)).arg("STREAMS");
    for (stream, _) in lasts {
        cmd.arg(stream);
    }
    for (_, last) in lasts {
        cmd.arg(last);
    }
    // The server answers by `timeout`; one that has not, some time after,
    // is gone (a half-open connection would wait forever): the connection
    // is dropped and the caller retries on a new one.
    let answered = tokio::time::timeout(timeout + BLOCK_MARGIN, cmd.query_async::<redis::Value>(&mut conn))
        .await
        .map_err(|_| {
            Error::adapter(
                format!("Redis: a blocking read got no answer {BLOCK_MARGIN:?} after its end; is the server alive?"),
                std::io::Error::from(std::io::ErrorKind::TimedOut),
            )
        })?;
    answered.map_err(|e| failed("waiting for messages", e))?;
    pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(conn);
    Ok(())
}

/// A pipeline of the publish script's call for one queue's `key` and `envelopes`; its reply is ignored.
fn publish_pipe((key, envelopes): &(String, &[&Envelope])) -> Result<redis::Pipeline> {
    let mut pipe = redis::pipe();
    pipe.add_command(publish_call(key, envelopes)?).ignore();
    Ok(pipe)
}

/// The write that records each envelope's queue under its task id
/// ([`Keys::located`](super::keys::Keys::located)).
fn locate(keys: &super::keys::Keys, envelopes: &[impl std::borrow::Borrow<Envelope>]) -> redis::Cmd {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(keys.located());
    for envelope in envelopes {
        let envelope = envelope.borrow();
        cmd.arg(envelope.id.to_string()).arg(&envelope.queue);
    }
    cmd
}

/// The publish script's call for `envelopes` on the queue at `key`.
fn publish_call(key: &str, envelopes: &[&Envelope]) -> Result<redis::Cmd> {
    let mut call = PUBLISH.cmd(&[key]);
    call.arg(GROUP);
    for envelope in envelopes {
        call.arg(envelope.id.to_string()).arg(to_json(envelope)?).arg(band(envelope)).arg(not_before(envelope));
    }
    Ok(call)
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn band(envelope: &Envelope) -> String {
    envelope.priority.min(MAX_PRIORITY).to_string()
}

fn not_before(envelope: &Envelope) -> String {
    envelope.not_before.map(|at| at.timestamp_millis().to_string()).unwrap_or_default()
}

#[async_trait]
impl Broker for RedisBroker {
    async fn publish(&self, envelope: Envelope) -> Result<()> {
        self.publish_batch(vec![envelope]).await
    }

    async fn publish_batch(&self, envelopes: Vec<Envelope>) -> Result<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        if self.shared.is_cluster() {
            return self.publish_on_cluster(&envelopes).await;
        }
        if envelopes.len() <= PER_SCRIPT {
            let mut pipe = redis::pipe();
            self.push_publish(&mut pipe, &envelopes)?;
            let mut conn = self.shared.conn();
            let publish = pipeline::query::<()>(&mut conn, &pipe, "publishing messages");
            // One message (a one-call enqueue): a short call.
            return if envelopes.len() == 1 { self.shared.quick(publish).await } else { publish.await };
        }
        // A large batch: each script call's worth is sent as soon as it is encoded.
        let pipes = envelopes.chunks(PER_SCRIPT).map(|chunk| {
            let mut pipe = redis::pipe();
            self.push_publish(&mut pipe, chunk).map(|()| pipe)
        });
        pipeline::query_streamed::<()>(&self.shared.conn(), pipes, "publishing messages").await.map(drop)
    }

    async fn receive(&self, request: &ReceiveRequest) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + request.wait;
        let mut queues: Vec<&str> = Vec::with_capacity(request.queues.len());
        for queue in &request.queues {
            self.check_queue(queue)?;
            if !queues.contains(&queue.as_str()) {
                queues.push(queue);
            }
        }
        loop {
            let mut out = Vec::new();
            let mut lasts = Vec::new();
            let mut next_in: Option<i64> = None;
            let mut touched = 0;
            for queue in &queues {
                let max = request.max.saturating_sub(out.len());
                let ((now, next, _, queue_lasts, read, ..), delivered) = self.claim(queue, request, max).await?;
                out.extend(delivered);
                lasts.extend(queue_lasts);
                touched += read;
                if next >= 0 {
                    let due = (next - now).max(0);
                    next_in = Some(next_in.map_or(due, |n| n.min(due)));
                }
            }
            if !out.is_empty() || request.max == 0 {
                return Ok(out);
            }
            if touched > 0 {
                // Entries were read but none was usable (stale, or buried as
                // undecodable): more may be ready behind them; look again.
                continue;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(out);
            }
            let mut timeout = deadline - now;
            if let Some(ms) = next_in {
                timeout = timeout.min(Duration::from_millis(u64::try_from(ms).unwrap_or(0) + 1));
            }
            self.block(&lasts, timeout).await?;
        }
    }

    async fn ack_batch(&self, receipts: &[Receipt]) -> Result<usize> {
        // The tag is `band:entry`; a receipt without one is not ours, so not acked.
        let tagged = receipts.iter().filter_map(|r| r.tag.split_once(':').map(|(band, entry)| (r, band, entry)));
        let mut batch = Batch::default();
        for (queue, list) in grouped(tagged, |(receipt, ..)| &*receipt.queue) {
            let key = self.queue_key(queue);
            for chunk in list.chunks(PER_SCRIPT) {
                let mut call = ACK.cmd(&[&key]);
                call.arg(GROUP);
                for (receipt, band, entry) in chunk {
                    call.arg(receipt.id.to_string()).arg(receipt.token).arg(*band).arg(*entry);
                }
                batch.add(&key, call);
            }
        }
        let mut acked = 0;
        for reply in batch.run(&self.shared.conn(), "acking deliveries").await? {
            acked += redis::from_redis_value::<usize>(reply)
                .map_err(|e| Error::adapter("Redis: an ack's reply is not a count", e))?;
        }
        Ok(acked)
    }

    async fn nack(&self, receipt: &Receipt, nack: Nack) -> Result<()> {
        match nack {
            Nack::Requeue => self.settle(receipt, "requeue", &[]).await.map(drop),
            Nack::Replace(envelope) => {
                let args = [to_json(&*envelope)?, band(&envelope), not_before(&envelope)];
                self.settle(receipt, "replace", &args).await.map(drop)
            }
            _ => Err(Error::Config("this kind of nack is not supported by the Redis broker".to_owned())),
        }
    }

    async fn extend_lease(&self, receipt: &Receipt, by: Duration) -> Result<DateTime<Utc>> {
        self.settle(receipt, "extend", &[millis(by).to_string()]).await.map(from_ms)
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        let args = [reason.to_owned(), Utc::now().to_rfc3339(), String::new()];
        self.settle(receipt, "dead", &args).await.map(drop)
    }

    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        Some(self)
    }

    fn stats(&self) -> Option<&dyn QueueStats> {
        Some(self)
    }

    fn broadcast(&self) -> Option<&dyn Broadcast> {
        Some(self)
    }
}

/// On one Redis store, a published message stands for its task's queued
/// record until a worker writes one: the backend's `get` reads it there, which
/// spares Redis a key per task and the producer a write.
#[async_trait]
impl PublishRecorded for RedisBroker {
    async fn publish_recorded(&self, envelopes: Vec<Envelope>) -> Result<()> {
        self.publish_batch(envelopes).await
    }
}

#[async_trait]
impl DeadLetters for RedisBroker {
    async fn list_dead_letters(&self, queue: &str, limit: usize, offset: usize) -> Result<DeadLetterPage> {
        if limit == 0 {
            return Ok(DeadLetterPage::default());
        }
        self.expire_dead(queue).await?;
        let prefix = self.queue_key(queue);
        let mut pipe = redis::pipe();
        pipe.cmd("ZREVRANGE").arg(format!("{prefix}dead")).arg(offset).arg(offset + limit - 1);
        pipe.cmd("ZCARD").arg(format!("{prefix}dead"));
        let (ids, total): (Vec<Vec<u8>>, usize) =
            pipeline::query(&mut self.shared.conn(), &pipe, "listing dead letters").await?;
        let entries = self.dead_letters(queue, &ids).await?.into_iter().map(|(_, d)| d).collect();
        let next_offset = (offset + ids.len() < total).then_some(offset + ids.len());
        Ok(DeadLetterPage { entries, next_offset })
    }

    async fn get_dead_letter(&self, queue: &str, id: TaskId) -> Result<Option<DeadLetter>> {
        self.expire_dead(queue).await?;
        Ok(self.dead_letters(queue, &[id.to_string().into_bytes()]).await?.pop().map(|(_, d)| d))
    }

    async fn replay_dead_letters(&self, queue: &str, options: &ReplayOptions) -> Result<ReplayResult> {
        self.expire_dead(queue).await?;
        let chosen: Vec<DeadLetter> = self
            .chosen_dead(queue, options.since, options.limit, &options.ids)
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        if options.dry_run || chosen.is_empty() {
            return Ok(ReplayResult { entries: chosen, dry_run: options.dry_run });
        }
        let now = Utc::now();
        let mut pipe = redis::pipe();
        for dead in &chosen {
            let envelope = dead.replay_envelope(now, options.delay);
            REPLAY
                .push(&mut pipe, &[&self.queue_key(queue)])
                .arg(envelope.id.to_string())
                .arg(to_json(&envelope)?)
                .arg(band(&envelope))
                .arg(not_before(&envelope))
                .arg(GROUP);
        }
        let replayed: Vec<i64> = pipeline::query(&mut self.shared.conn(), &pipe, "replaying dead letters").await?;
        let entries = chosen.into_iter().zip(replayed).filter(|(_, r)| *r == 1).map(|(d, _)| d).collect();
        Ok(ReplayResult { entries, dry_run: false })
    }

    async fn purge_dead_letters(&self, queue: &str, options: &PurgeOptions) -> Result<usize> {
        self.expire_dead(queue).await?;
        // By the ids they are stored under (see `chosen_dead`), whether or
        // not their envelopes decode.
        let limit = options.limit.unwrap_or(usize::MAX);
        let chosen = self.chosen_dead(queue, options.since, limit, &options.ids).await?;
        if chosen.is_empty() {
            return Ok(0);
        }
        let prefix = self.queue_key(queue);
        let mut pipe = redis::pipe();
        for (id, _) in &chosen {
            pipe.cmd("ZREM").arg(format!("{prefix}dead")).arg(id.as_slice());
            pipe.cmd("DEL").arg([prefix.as_bytes(), b"dead:", id].concat()).ignore();
        }
        let removed: Vec<i64> = pipeline::query(&mut self.shared.conn(), &pipe, "purging dead letters").await?;
        Ok(removed.into_iter().filter(|r| *r == 1).count())
    }
}

#[async_trait]
impl QueueStats for RedisBroker {
    async fn pending_count(&self, queue: &str) -> Result<usize> {
        Ok(self.counts(queue).await?.0)
    }

    async fn inflight_count(&self, queue: &str) -> Result<usize> {
        Ok(self.counts(queue).await?.1)
    }

    async fn queues(&self) -> Result<Vec<QueueCounts>> {
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.shared.keys().queues())
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("listing queues", e))?;
        names.sort();
        self.queue_counts(&names).await
    }

    async fn purge(&self, queue: &str) -> Result<usize> {
        let mut pipe = redis::pipe();
        PURGE.push(&mut pipe, &[&self.queue_key(queue)]).arg(GROUP);
        let (removed,): (usize,) = pipeline::query(&mut self.shared.conn(), &pipe, "purging a queue").await?;
        Ok(removed)
    }

    async fn delayed(&self, queue: &str, limit: usize) -> Result<Vec<Envelope>> {
        let prefix = self.queue_key(queue);
        let now = Utc::now().timestamp_millis();
        let later: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
            .arg(format!("{prefix}delayed"))
            .arg(format!("({now}"))
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("listing delayed messages", e))?;
        if later.is_empty() {
            return Ok(Vec::new());
        }
        // Each is its band digit, then the envelope; one that went meanwhile
        // (due, or purged) is gone, and one that does not decode left out.
        let stored: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(format!("{prefix}later"))
            .arg(later.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>())
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading delayed messages", e))?;
        let decoded = later.iter().zip(stored).filter_map(|((_, due), stored)| {
            let mut envelope = serde_json::from_str::<Envelope>(stored?.get(1..)?).ok()?;
            envelope.not_before = Some(DateTime::from_timestamp_millis(*due as i64)?);
            Some(envelope)
        });
        Ok(decoded.collect())
    }
}

impl RedisBroker {
    /// Adds the publish scripts of `envelopes` to `pipe`, grouped by queue, at
    /// most [`PER_SCRIPT`] per call; their replies are ignored.
    fn push_publish(&self, pipe: &mut redis::Pipeline, envelopes: &[Envelope]) -> Result<()> {
        let queues = self.shared.keys().queues();
        // Before the messages: a status read that finds no record looks for
        // the message in the queue named here.
        pipe.add_command(locate(self.shared.keys(), envelopes)).ignore();
        for (queue, list) in grouped(envelopes, |envelope| envelope.queue.as_str()) {
            pipe.cmd("SADD").arg(&queues).arg(queue).ignore();
            let key = self.queue_key(queue);
            for chunk in list.chunks(PER_SCRIPT) {
                pipe.add_command(publish_call(&key, chunk)?).ignore();
            }
        }
        Ok(())
    }

    /// Publishes on a Cluster, where a pipeline stays within one slot: the
    /// queues' names (their set has a slot of its own) and each queue's
    /// messages go at once, in pipelines of their own; a batch of up to
    /// [`PER_SCRIPT`] in one round trip, a larger one a script call's worth at
    /// a time, each sent as soon as it is encoded. A status read that finds no
    /// record looks for the message in the named queues, so both are written
    /// when this returns.
    async fn publish_on_cluster(&self, envelopes: &[Envelope]) -> Result<()> {
        let by_queue = grouped(envelopes, |envelope| envelope.queue.as_str());
        for (queue, _) in &by_queue {
            self.check_queue(queue)?;
        }
        let queues = self.shared.keys().queues();
        let mut names = redis::cmd("SADD");
        names.arg(&queues);
        for (queue, _) in &by_queue {
            names.arg(*queue);
        }
        // Where each task's message is goes first (its own slot, one round
        // trip): were it sent beside the messages, a worker could write a
        // task's status, which removes the entry, before the entry lands.
        locate(self.shared.keys(), envelopes)
            .query_async::<()>(&mut self.shared.conn())
            .await
            .map_err(|e| failed("recording where messages are", e))?;
        if envelopes.len() <= PER_SCRIPT {
            let mut batch = Batch::default();
            batch.add(&queues, names);
            for (queue, list) in &by_queue {
                let key = self.queue_key(queue);
                batch.add(&key, publish_call(&key, list)?);
            }
            let conn = self.shared.conn();
            let publish = batch.run(&conn, "publishing messages");
            let published = if envelopes.len() == 1 { self.shared.quick(publish).await } else { publish.await };
            return published.map(drop);
        }
        let named = async {
            names.query_async::<()>(&mut self.shared.conn()).await.map_err(|e| failed("naming the queues", e))
        };
        // Which queue each script call's worth goes to; encoded only as it is sent.
        let calls: Vec<(String, &[&Envelope])> = by_queue
            .iter()
            .flat_map(|(queue, list)| list.chunks(PER_SCRIPT).map(|chunk| (self.queue_key(queue), chunk)))
            .collect();
        let pipes = calls.iter().map(publish_pipe);
        let conn = self.shared.conn();
        let published = pipeline::query_streamed::<()>(&conn, pipes, "publishing messages");
        futures_util::try_join!(named, published).map(drop)
    }

    /// (pending, in flight) of `queue`.
    async fn counts(&self, queue: &str) -> Result<(usize, usize)> {
        let counts = self.queue_counts(&[queue.to_owned()]).await?;
        Ok(counts.first().map_or((0, 0), |c| (c.ready, c.leased)))
    }

    /// The counts of each of `queues`, in one script call each, sent together.
    async fn queue_counts(&self, queues: &[String]) -> Result<Vec<QueueCounts>> {
        let mut batch = Batch::default();
        for queue in queues {
            let key = self.queue_key(queue);
            batch.add(&key, COUNTS.cmd(&[&key]).arg(GROUP).to_owned());
        }
        let replies = batch.run(&self.shared.conn(), "counting messages").await?;
        queues
            .iter()
            .zip(replies)
            .map(|(queue, reply)| {
                let [ready, leased, delayed, dead]: [i64; 4] = redis::from_redis_value(reply)
                    .map_err(|e| Error::adapter("Redis: the counts script answered something else", e))?;
                let n = |v: i64| usize::try_from(v).unwrap_or(0);
                Ok(QueueCounts::new(queue.as_str(), n(ready), n(delayed), n(leased), n(dead)))
            })
            .collect()
    }
}

#[async_trait]
impl Broadcast for RedisBroker {
    async fn broadcast(&self, channel: &str, payload: Vec<u8>) -> Result<()> {
        redis::cmd("PUBLISH")
            .arg(self.shared.keys().broadcast(channel))
            .arg(payload)
            .query_async::<()>(&mut self.shared.conn())
            .await
            .map_err(|e| failed("broadcasting", e))
    }

    async fn subscribe(&self, channel: &str) -> Result<BoxStream<'static, Vec<u8>>> {
        let mut pubsub =
            self.shared.client().get_async_pubsub().await.map_err(|e| failed("opening a pub/sub connection", e))?;
        pubsub.subscribe(self.shared.keys().broadcast(channel)).await.map_err(|e| failed("subscribing", e))?;
        Ok(Box::pin(pubsub.into_on_message().map(|message| message.get_payload_bytes().to_vec())))
    }
}
