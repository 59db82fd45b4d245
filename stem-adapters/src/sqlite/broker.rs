//! The SQLite broker.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use stem::broker::{
    Broker, DeadLetter, DeadLetterPage, DeadLetters, Delivery, Nack, PurgeOptions, QueueCounts, QueueStats, Receipt,
    ReceiveRequest, ReplayOptions, ReplayResult,
};
use stem::envelope::MAX_PRIORITY;
use stem::{Envelope, Error, Result, TaskId};

use super::{Shared, after_ms, conversion_error, from_ms, now_ms, now_us};

/// A [`Broker`] on a SQLite file: priorities, delays, leases with fencing tokens
/// and a dead letter queue, safe for several processes on one file.
#[derive(Debug)]
pub struct SqliteBroker {
    shared: Arc<Shared>,
}

impl SqliteBroker {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// An envelope ready to insert, encoded off the connection thread.
struct Row {
    id: String,
    queue: String,
    priority: u8,
    state: i64,
    ready_at: i64,
    json: String,
}

/// The `state` column's values.
const READY: i64 = 0;
const DELAYED: i64 = 3;

impl Row {
    fn of(envelope: &Envelope, now: i64) -> Result<Self> {
        let json = serde_json::to_string(envelope).map_err(|e| Error::adapter("cannot encode an envelope", e))?;
        let ready_at = envelope.not_before.map_or(now, |at| at.timestamp_millis()).max(now);
        Ok(Self {
            id: envelope.id.to_string(),
            queue: envelope.queue.clone(),
            priority: envelope.priority.min(MAX_PRIORITY),
            state: if ready_at > now { DELAYED } else { READY },
            ready_at,
            json,
        })
    }

    fn insert(&self, conn: &Connection, token: i64) -> rusqlite::Result<()> {
        conn.prepare_cached(include_str!("sql/publish.sql"))?.execute(params![
            self.id,
            self.queue,
            self.priority,
            self.state,
            self.ready_at,
            token,
            self.json
        ])?;
        Ok(())
    }
}

/// The receipt's row and token; `None` for a receipt this broker did not issue.
fn locate(receipt: &Receipt) -> Option<(i64, i64)> {
    Some((receipt.tag.parse().ok()?, i64::try_from(receipt.token).ok()?))
}

/// A column's value as bytes, whatever its type.
fn bytes(value: rusqlite::types::Value) -> Vec<u8> {
    use rusqlite::types::Value;
    match value {
        Value::Text(text) => text.into_bytes(),
        Value::Blob(blob) => blob,
        Value::Integer(n) => n.to_string().into_bytes(),
        Value::Real(x) => x.to_string().into_bytes(),
        Value::Null => Vec::new(),
    }
}

/// A column's value as text, whatever its type (bytes that are not UTF-8
/// replaced).
fn text(value: rusqlite::types::Value) -> String {
    String::from_utf8_lossy(&bytes(value)).into_owned()
}

fn decode(json: &str) -> rusqlite::Result<Envelope> {
    serde_json::from_str(json).map_err(conversion_error)
}

/// Leases up to `max` due messages of `queues`, highest priority first, FIFO
/// within a priority. Returns them, or when there are none, when the next one is due.
fn claim(
    conn: &Connection,
    queues: &[String],
    max: usize,
    lease: Duration,
    consumer: &str,
) -> rusqlite::Result<(Vec<Delivery>, Option<i64>)> {
    let now = now_ms();
    let until = after_ms(now, lease);
    conn.prepare_cached(include_str!("sql/claim_due.sql"))?.execute([now])?;
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let mut queues: Vec<&String> = queues.iter().collect();
    queues.sort();
    queues.dedup();
    let mut candidates: Vec<(i64, i64)> = Vec::new();
    let mut select = conn.prepare_cached(include_str!("sql/claim_candidates.sql"))?;
    for queue in &queues {
        let rows = select.query_map(params![queue, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        candidates.extend(rows.collect::<rusqlite::Result<Vec<(i64, i64)>>>()?);
    }
    candidates.sort_by_key(|&(priority, seq)| (std::cmp::Reverse(priority), seq));
    candidates.truncate(max);
    let mut take = conn.prepare_cached(include_str!("sql/claim.sql"))?;
    let mut out = Vec::with_capacity(candidates.len());
    for (_, seq) in candidates {
        // Columns read as whatever they hold (another program may have
        // stored a BLOB): one row that does not decode costs one dead
        // letter, never the claim of the others.
        let Some((id, queue, token, stored)) = take
            .query_row(params![now_us(), until, consumer, seq], |r| {
                Ok((text(r.get(0)?), text(r.get(1)?), r.get::<_, i64>(2)?, bytes(r.get(3)?)))
            })
            .optional()?
        else {
            continue;
        };
        let decoded = std::str::from_utf8(&stored)
            .map_err(|e| format!("it is not UTF-8 ({e})"))
            .and_then(|json| decode(json).map_err(|e| e.to_string()));
        match decoded {
            Ok(envelope) => {
                let receipt =
                    Receipt { id: envelope.id, queue: queue.into(), token: token as u64, tag: seq.to_string() };
                out.push(Delivery { envelope: Arc::new(envelope), receipt, lease_expires_at: from_ms(until) });
            }
            Err(why) => bury_undecodable(conn, seq, &id, &queue, token, stored, &why)?,
        }
    }
    if !out.is_empty() {
        return Ok((out, None));
    }
    let mut next_of = conn.prepare_cached(include_str!("sql/next_due.sql"))?;
    let mut next: Option<i64> = None;
    for queue in &queues {
        if let Some(at) = next_of.query_row([queue], |r| r.get::<_, i64>(0)).optional()? {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    }
    Ok((out, next))
}

/// Moves a message whose stored envelope does not decode to the dead letter
/// queue, keeping its text whole as the arguments of a `stem.undecodable` envelope.
fn bury_undecodable(
    conn: &Connection,
    seq: i64,
    id: &str,
    queue: &str,
    token: i64,
    stored: Vec<u8>,
    error: &str,
) -> rusqlite::Result<()> {
    let (envelope, reason) = crate::undecodable::stand_in(id.parse().unwrap_or_default(), queue, stored, error);
    tracing::error!(seq, queue, %reason, "moved a message to the dead letter queue");
    let text = serde_json::to_string(&envelope).map_err(conversion_error)?;
    conn.prepare_cached(include_str!("sql/bury.sql"))?.execute([seq])?;
    conn.prepare_cached(include_str!("sql/dead_letter_insert.sql"))?.execute(params![
        envelope.id.to_string(),
        queue,
        reason,
        now_ms(),
        token,
        text
    ])?;
    Ok(())
}

#[async_trait]
impl Broker for SqliteBroker {
    async fn publish(&self, envelope: Envelope) -> Result<()> {
        self.publish_batch(vec![envelope]).await
    }

    async fn publish_batch(&self, envelopes: Vec<Envelope>) -> Result<()> {
        let now = now_ms();
        let rows = envelopes.iter().map(|e| Row::of(e, now)).collect::<Result<Vec<_>>>()?;
        let mut queues: Vec<String> = Vec::new();
        for envelope in &envelopes {
            if !queues.contains(&envelope.queue) {
                queues.push(envelope.queue.clone());
            }
        }
        let shared = Arc::clone(&self.shared);
        self.shared
            .db
            .call_then(
                "publish",
                move |conn| {
                    for row in &rows {
                        row.insert(conn, 0)?;
                    }
                    let mut add = conn.prepare_cached(include_str!("sql/queue_add.sql"))?;
                    for queue in &queues {
                        add.execute([queue])?;
                    }
                    Ok(())
                },
                move |()| shared.published.notify_waiters(),
            )
            .await
    }

    async fn receive(&self, request: &ReceiveRequest) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + request.wait;
        loop {
            let (published, external) = (self.shared.published.notified(), self.shared.external.notified());
            tokio::pin!(published, external);
            published.as_mut().enable();
            external.as_mut().enable();
            let (queues, max, lease, consumer) =
                (request.queues.clone(), request.max, request.lease, request.consumer.clone());
            let (deliveries, next) =
                self.shared.db.call("receive", move |conn| claim(conn, &queues, max, lease, &consumer)).await?;
            if !deliveries.is_empty() || request.max == 0 {
                return Ok(deliveries);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let mut until = deadline;
            if let Some(at) = next {
                let in_ms = u64::try_from(at - now_ms()).unwrap_or(0) + 1;
                until = until.min(now + Duration::from_millis(in_ms));
            }
            tokio::select! {
                () = &mut published => {}
                () = &mut external => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn ack_batch(&self, receipts: &[Receipt]) -> Result<usize> {
        let keys: Vec<(i64, i64)> = receipts.iter().filter_map(locate).collect();
        self.shared
            .db
            .call("ack", move |conn| {
                let mut delete = conn.prepare_cached(include_str!("sql/ack.sql"))?;
                let (mut acked, now) = (0, now_ms());
                for (seq, token) in keys {
                    acked += delete.execute([seq, token, now])?;
                }
                Ok(acked)
            })
            .await
    }

    async fn nack(&self, receipt: &Receipt, nack: Nack) -> Result<()> {
        let (seq, token) = locate(receipt).ok_or(Error::LeaseLost(receipt.id))?;
        let now = now_ms();
        let replacement = match nack {
            Nack::Requeue => None,
            Nack::Replace(envelope) => Some(Row::of(&envelope, now)?),
            _ => return Err(Error::Config("this SQLite broker does not know that kind of nack".into())),
        };
        let shared = Arc::clone(&self.shared);
        let changed = self
            .shared
            .db
            .call_then(
                "nack",
                move |conn| match replacement {
                    None => conn.prepare_cached(include_str!("sql/requeue.sql"))?.execute([now, seq, token, now_ms()]),
                    Some(row) => conn.prepare_cached(include_str!("sql/replace.sql"))?.execute(params![
                        row.state,
                        row.ready_at,
                        row.queue,
                        row.priority,
                        row.json,
                        seq,
                        token,
                        now_ms()
                    ]),
                },
                move |changed| {
                    if *changed > 0 {
                        shared.published.notify_waiters();
                    }
                },
            )
            .await?;
        if changed == 0 {
            return Err(Error::LeaseLost(receipt.id));
        }
        Ok(())
    }

    async fn extend_lease(&self, receipt: &Receipt, by: Duration) -> Result<DateTime<Utc>> {
        let (seq, token) = locate(receipt).ok_or(Error::LeaseLost(receipt.id))?;
        let until = after_ms(now_ms(), by);
        let changed = self
            .shared
            .db
            .call("extend lease", move |conn| {
                conn.prepare_cached(include_str!("sql/extend.sql"))?.execute([until, seq, token, now_ms()])
            })
            .await?;
        if changed == 0 {
            return Err(Error::LeaseLost(receipt.id));
        }
        Ok(from_ms(until))
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        let (seq, token) = locate(receipt).ok_or(Error::LeaseLost(receipt.id))?;
        let reason = reason.to_owned();
        let moved = self
            .shared
            .db
            .call("dead letter", move |conn| {
                let row: Option<(String, String, String)> = conn
                    .prepare_cached(include_str!("sql/dead_letter.sql"))?
                    .query_row([seq, token, now_ms()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let Some((id, queue, envelope)) = row else { return Ok(false) };
                conn.prepare_cached(include_str!("sql/dead_letter_insert.sql"))?.execute(params![
                    id,
                    queue,
                    reason,
                    now_ms(),
                    token,
                    envelope
                ])?;
                Ok(true)
            })
            .await?;
        if !moved {
            return Err(Error::LeaseLost(receipt.id));
        }
        Ok(())
    }

    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        Some(self)
    }

    fn stats(&self) -> Option<&dyn QueueStats> {
        Some(self)
    }

    fn broadcast(&self) -> Option<&dyn stem::broker::Broadcast> {
        Some(self)
    }
}

impl SqliteBroker {
    /// Deletes the dead letters older than the file's dead letter retention.
    async fn expire_dead(&self) -> Result<()> {
        let kept = i64::try_from(self.shared.options.dead_letter_retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms().saturating_sub(kept);
        self.shared
            .db
            .call("expire dead letters", move |conn| {
                conn.prepare_cached(include_str!("sql/dead_expire.sql"))?.execute([cutoff])
            })
            .await
            .map(drop)
    }
}

#[async_trait]
impl DeadLetters for SqliteBroker {
    async fn list_dead_letters(&self, queue: &str, limit: usize, offset: usize) -> Result<DeadLetterPage> {
        self.expire_dead().await?;
        let queue = queue.to_owned();
        let (take, skip) = (i64::try_from(limit).unwrap_or(i64::MAX - 1), i64::try_from(offset).unwrap_or(i64::MAX));
        let mut entries = self
            .shared
            .db
            .read("list dead letters", move |conn| {
                conn.prepare_cached(include_str!("sql/dead_list.sql"))?
                    .query_map(params![queue, take + 1, skip], dead_letter_row)?
                    .map(|r| r.map(|(d, _)| d))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next_offset = more.then_some(offset + limit);
        Ok(DeadLetterPage { entries, next_offset })
    }

    async fn get_dead_letter(&self, queue: &str, id: TaskId) -> Result<Option<DeadLetter>> {
        self.expire_dead().await?;
        let (queue, id) = (queue.to_owned(), id.to_string());
        self.shared
            .db
            .read("get dead letter", move |conn| {
                conn.prepare_cached(include_str!("sql/dead_get.sql"))?
                    .query_row([queue, id], dead_letter_row)
                    .optional()
                    .map(|row| row.map(|(d, _)| d))
            })
            .await
    }

    async fn replay_dead_letters(&self, queue: &str, options: &ReplayOptions) -> Result<ReplayResult> {
        self.expire_dead().await?;
        let queue = queue.to_owned();
        let since = options.since.map_or(i64::MIN, |s| s.timestamp_millis());
        let limit = i64::try_from(options.limit).unwrap_or(i64::MAX);
        let ids = ids_json(&options.ids)?;
        let (dry_run, delay) = (options.dry_run, options.delay);
        let shared = Arc::clone(&self.shared);
        let entries = self
            .shared
            .db
            .call_then(
                "replay dead letters",
                move |conn| {
                    let read = |r: &rusqlite::Row<'_>| {
                        let token = r.get(4)?;
                        Ok((r.get(0)?, (decode_dead(r.get(1)?, r.get(2)?, r.get(3)?, token)?, token)))
                    };
                    let chosen: Vec<(i64, (DeadLetter, i64))> = match &ids {
                        None => conn
                            .prepare_cached(include_str!("sql/replay.sql"))?
                            .query_map(params![queue, since, limit], read)?
                            .collect::<rusqlite::Result<_>>()?,
                        Some(ids) => conn
                            .prepare_cached(include_str!("sql/replay_ids.sql"))?
                            .query_map(params![queue, ids, since, limit], read)?
                            .collect::<rusqlite::Result<_>>()?,
                    };
                    if dry_run {
                        return Ok(chosen.into_iter().map(|(_, (d, _))| d).collect());
                    }
                    let now = Utc::now();
                    let mut out = Vec::with_capacity(chosen.len());
                    for (seq, (dead, token)) in chosen {
                        conn.prepare_cached(include_str!("sql/replay_remove.sql"))?.execute([seq])?;
                        let row = Row::of(&dead.replay_envelope(now, delay), now.timestamp_millis())
                            .map_err(conversion_error)?;
                        row.insert(conn, token)?;
                        out.push(dead);
                    }
                    Ok(out)
                },
                move |replayed| {
                    if !replayed.is_empty() {
                        shared.published.notify_waiters();
                    }
                },
            )
            .await?;
        Ok(ReplayResult { entries, dry_run })
    }

    async fn purge_dead_letters(&self, queue: &str, options: &PurgeOptions) -> Result<usize> {
        self.expire_dead().await?;
        let queue = queue.to_owned();
        let since = options.since.map_or(i64::MIN, |s| s.timestamp_millis());
        let limit = options.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let ids = ids_json(&options.ids)?;
        self.shared
            .db
            .call("purge dead letters", move |conn| match ids {
                None => conn.prepare_cached(include_str!("sql/dead_purge.sql"))?.execute(params![queue, since, limit]),
                Some(ids) => conn
                    .prepare_cached(include_str!("sql/dead_purge_ids.sql"))?
                    .execute(params![queue, ids, since, limit]),
            })
            .await
    }
}

/// The task ids a dead letter replay or purge is limited to, as the JSON
/// array its statement reads; `None` when it takes any.
fn ids_json(ids: &[TaskId]) -> Result<Option<String>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = ids.iter().map(TaskId::to_string).collect();
    serde_json::to_string(&ids).map(Some).map_err(|e| Error::adapter("cannot encode dead letter ids", e))
}

#[async_trait]
impl QueueStats for SqliteBroker {
    async fn pending_count(&self, queue: &str) -> Result<usize> {
        self.count("pending count", include_str!("sql/count_pending.sql"), queue).await
    }

    async fn inflight_count(&self, queue: &str) -> Result<usize> {
        self.count("in-flight count", include_str!("sql/count_inflight.sql"), queue).await
    }

    async fn purge(&self, queue: &str) -> Result<usize> {
        let queue = queue.to_owned();
        self.shared
            .db
            .call("purge", move |conn| {
                conn.prepare_cached(include_str!("sql/purge.sql"))?.execute(params![queue, now_ms()])
            })
            .await
    }

    async fn queues(&self) -> Result<Vec<QueueCounts>> {
        let count = |r: &rusqlite::Row<'_>, i| r.get::<_, i64>(i).map(|n| usize::try_from(n).unwrap_or(0));
        self.shared
            .db
            .read("queue counts", move |conn| {
                let mut statement = conn.prepare_cached(include_str!("sql/queue_counts.sql"))?;
                let rows = statement.query_map(params![now_ms()], |r| {
                    Ok(QueueCounts::new(r.get::<_, String>(0)?, count(r, 1)?, count(r, 2)?, count(r, 3)?, count(r, 4)?))
                })?;
                rows.collect()
            })
            .await
    }

    async fn delayed(&self, queue: &str, limit: usize) -> Result<Vec<Envelope>> {
        let (queue, limit) = (queue.to_owned(), i64::try_from(limit).unwrap_or(i64::MAX));
        let rows: Vec<(String, i64)> = self
            .shared
            .db
            .read("delayed messages", move |conn| {
                let mut statement = conn.prepare_cached(include_str!("sql/delayed.sql"))?;
                let rows = statement.query_map(params![queue, now_ms(), limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect()
            })
            .await?;
        // A row that does not decode is left out: a worker buries it when due.
        let decoded = rows.into_iter().filter_map(|(text, due)| {
            let mut envelope = decode(&text).ok()?;
            envelope.not_before = Some(from_ms(due));
            Some(envelope)
        });
        Ok(decoded.collect())
    }
}

impl SqliteBroker {
    async fn count(&self, what: &'static str, sql: &'static str, queue: &str) -> Result<usize> {
        let queue = queue.to_owned();
        self.shared
            .db
            .read(what, move |conn| {
                conn.prepare_cached(sql)?.query_row(params![queue, now_ms()], |r| r.get::<_, i64>(0))
            })
            .await
            .map(|n| usize::try_from(n).unwrap_or(0))
    }
}

fn decode_dead(envelope: String, reason: String, dead_at: i64, token: i64) -> rusqlite::Result<DeadLetter> {
    let fence = u64::try_from(token).unwrap_or(0);
    Ok(DeadLetter { envelope: decode(&envelope)?, reason, dead_at: from_ms(dead_at), fence })
}

fn dead_letter_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(DeadLetter, i64)> {
    let token = r.get(3)?;
    Ok((decode_dead(r.get(0)?, r.get(1)?, r.get(2)?, token)?, token))
}
