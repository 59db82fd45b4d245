//! The Postgres broker (see [`PostgresBroker`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sqlx::Row;
use sqlx::postgres::PgListener;
use stem::broker::{
    Broadcast, Broker, DeadLetter, DeadLetterPage, DeadLetters, Delivery, Nack, PublishRecorded, PurgeOptions,
    QueueCounts, QueueStats, Receipt, ReceiveRequest, ReplayOptions, ReplayResult,
};
use stem::envelope::MAX_PRIORITY;
use stem::{Envelope, Error, Result, TaskId};
use uuid::Uuid;

use super::vacuum::{self, Table};
use super::{Shared, failed, from_json, millis, to_json};

/// How long an idle receiver waits at most before it looks again, even without
/// a notification: a safety net for one lost while the listener reconnected.
const SAFETY_NET: Duration = Duration::from_secs(1);

/// A [`Broker`] on Postgres: one `messages` table of the store's schema.
///
/// A message is ready, leased or delayed; its row's `ready_at` is when it is
/// due, or when its lease ends, and its `deliveries` column is the fencing
/// token of its latest delivery: the claim time in microseconds, or one more
/// than the last (see `sql/claim.sql`), so that no token repeats. `receive` leases a batch in one statement (`FOR UPDATE SKIP LOCKED`,
/// so that many workers claim side by side), taking back delayed messages now
/// due and leases that ended on the way. Every settle names the token and
/// checks the lease in its `WHERE`, so a stale worker changes nothing. An idle
/// receiver sleeps until a publish is announced (`LISTEN`/`NOTIFY`), the next
/// delayed message or lease end is due, or a second passes (a safety net).
/// Claims, acks and lease renewals commit without waiting for the disk (a
/// crash that loses one only means a delivery comes again); publishes, status
/// writes, retries and dead letters wait for it. Dead letters are rows of
/// `dead_letters`. Broadcast uses `NOTIFY` (a payload
/// of at most 6,000 bytes, sent as base64). Publishing an id that is already
/// stored replaces the stored copy; its delivery count stays.
#[derive(Debug)]
pub struct PostgresBroker {
    shared: Arc<Shared>,
}

impl PostgresBroker {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The store it belongs to (for `enqueue_in`, which finds it behind a `Stem`).
    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn pool(&self) -> &sqlx::PgPool {
        &self.shared.pool
    }

    /// The pool for writes whose loss in a crash only means a delivery comes
    /// again (see `Shared::relaxed`).
    fn relaxed(&self) -> &sqlx::PgPool {
        &self.shared.relaxed
    }

    /// Announces that messages were stored or put back.
    async fn announce(&self) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(self.shared.messages_channel())
            .execute(self.pool())
            .await
            .map(drop)
            .map_err(|e| failed("announcing messages", e))
    }

    /// Leases up to `max` messages of `queues`.
    async fn claim(&self, queues: &[String], max: usize, lease: Duration) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(self.shared.sql(include_str!("sql/claim.sql")))
            .bind(queues)
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(millis(lease))
            .fetch_all(self.relaxed())
            .await
            .map_err(|e| failed("claiming messages", e))?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            // The receipt's columns (the key, the queue, the token) must read,
            // or the row cannot even be settled; any other column that does
            // not read (a schema changed by hand) costs this row a dead
            // letter, not the batch.
            let get = |e| failed("reading a claimed message", e);
            let id: Uuid = row.try_get("id").map_err(get)?;
            let queue: String = row.try_get("queue").map_err(get)?;
            let token: i64 = row.try_get("deliveries").map_err(get)?;
            let receipt = Receipt {
                id: TaskId::from(id),
                queue: queue.into(),
                token: u64::try_from(token).unwrap_or(0),
                tag: String::new(),
            };
            let rest = (|| {
                let seq: i64 = row.try_get("seq")?;
                let priority: i16 = row.try_get("priority")?;
                let until: DateTime<Utc> = row.try_get("ready_at")?;
                let text: Option<String> = row.try_get("envelope")?;
                Ok::<_, sqlx::Error>((seq, priority, until, text))
            })();
            match rest {
                Ok((seq, priority, until, Some(text))) => claimed.push((priority, seq, receipt, until, text)),
                Ok((.., None)) => self.bury_undecodable(&receipt, String::new(), "no envelope is stored").await?,
                Err(e) => self.bury_undecodable(&receipt, String::new(), format!("the row does not read: {e}")).await?,
            }
        }
        // RETURNING keeps no order: highest priority first, oldest first.
        claimed.sort_by_key(|(priority, seq, ..)| (std::cmp::Reverse(*priority), *seq));
        let mut out = Vec::with_capacity(claimed.len());
        for (_, _, receipt, until, text) in claimed {
            match serde_json::from_str::<Envelope>(&text) {
                Ok(envelope) => out.push(Delivery { envelope: Arc::new(envelope), receipt, lease_expires_at: until }),
                Err(e) => self.bury_undecodable(&receipt, text, e).await?,
            }
        }
        Ok(out)
    }

    /// Moves a message whose stored envelope does not decode to the dead letter
    /// queue, its text kept whole as the arguments of a `stem.undecodable` envelope.
    async fn bury_undecodable(&self, receipt: &Receipt, text: String, error: impl std::fmt::Display) -> Result<()> {
        let (envelope, reason) = crate::undecodable::stand_in(receipt.id, &receipt.queue, text, error);
        tracing::error!(task = %receipt.id, queue = %receipt.queue, %reason, "moved a message to the dead letter queue");
        self.dead(receipt, &reason, Some(to_json(&envelope)?)).await
    }

    /// Runs a fenced single-row statement; `LeaseLost` if it changed nothing.
    async fn fenced(
        &self,
        receipt: &Receipt,
        sql: &str,
        what: &str,
        bind: impl FnOnce(Query<'_>) -> Query<'_>,
    ) -> Result<()> {
        let query = sqlx::query(self.shared.sql(sql)).bind(receipt.id.as_uuid()).bind(token(receipt));
        let done = bind(query).execute(self.pool()).await.map_err(|e| failed(what, e))?;
        if done.rows_affected() == 0 {
            return Err(Error::LeaseLost(receipt.id));
        }
        Ok(())
    }

    async fn dead(&self, receipt: &Receipt, reason: &str, envelope: Option<String>) -> Result<()> {
        let done = sqlx::query(self.shared.sql(include_str!("sql/dead_letter.sql")))
            .bind(receipt.id.as_uuid())
            .bind(token(receipt))
            .bind(reason)
            .bind(envelope)
            .execute(self.pool())
            .await
            .map_err(|e| failed("dead-lettering a delivery", e))?;
        if done.rows_affected() == 0 {
            return Err(Error::LeaseLost(receipt.id));
        }
        Ok(())
    }

    /// Dead letters of `queue` dead at or after `since`, of the tasks `ids`
    /// (any when empty; looked up by id, in one statement), oldest first, at
    /// most `limit`.
    async fn oldest_dead(
        &self,
        queue: &str,
        since: Option<DateTime<Utc>>,
        limit: Option<usize>,
        ids: &[TaskId],
    ) -> Result<Vec<(i64, u64, DeadLetter)>> {
        let sql = match ids {
            [] => include_str!("sql/dead_oldest.sql"),
            _ => include_str!("sql/dead_oldest_ids.sql"),
        };
        let mut query = sqlx::query(self.shared.sql(sql))
            .bind(queue)
            .bind(since)
            .bind(limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)));
        if !ids.is_empty() {
            query = query.bind(uuids(ids));
        }
        let rows = query.fetch_all(self.pool()).await.map_err(|e| failed("listing dead letters", e))?;
        rows.iter()
            .map(|row| {
                let get = |e| failed("reading a dead letter", e);
                let seq: i64 = row.try_get("seq").map_err(get)?;
                let deliveries: i64 = row.try_get("deliveries").map_err(get)?;
                Ok((seq, u64::try_from(deliveries).unwrap_or(0), dead_letter(row)?))
            })
            .collect()
    }

    /// Replays the dead letters of `chunk` (distinct task ids) in one
    /// statement; returns those replayed (still there), in order.
    async fn replay_chunk(
        &self,
        chunk: Vec<(i64, DeadLetter)>,
        now: DateTime<Utc>,
        delay: Option<Duration>,
    ) -> Result<Vec<DeadLetter>> {
        if chunk.is_empty() {
            return Ok(Vec::new());
        }
        let (mut seqs, mut ids, mut queues, mut priorities, mut not_before, mut texts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (seq, dead) in &chunk {
            let envelope = dead.replay_envelope(now, delay);
            seqs.push(*seq);
            ids.push(*envelope.id.as_uuid());
            priorities.push(priority(&envelope));
            not_before.push(envelope.not_before);
            texts.push(to_json(&envelope)?);
            queues.push(envelope.queue);
        }
        let replayed: std::collections::HashSet<i64> =
            sqlx::query_scalar(self.shared.sql(include_str!("sql/replay.sql")))
                .bind(seqs)
                .bind(ids)
                .bind(queues)
                .bind(priorities)
                .bind(not_before)
                .bind(texts)
                .fetch_all(self.pool())
                .await
                .map_err(|e| failed("replaying dead letters", e))?
                .into_iter()
                .collect();
        Ok(chunk.into_iter().filter(|(seq, _)| replayed.contains(seq)).map(|(_, dead)| dead).collect())
    }

    /// (pending, in flight) of `queue`.
    async fn counts(&self, queue: &str) -> Result<(usize, usize)> {
        let row = sqlx::query(self.shared.sql(include_str!("sql/counts.sql")))
            .bind(queue)
            .fetch_one(self.pool())
            .await
            .map_err(|e| failed("counting messages", e))?;
        let get = |name| row.try_get::<i64, _>(name).map_err(|e| failed("counting messages", e));
        Ok((usize::try_from(get("pending")?).unwrap_or(0), usize::try_from(get("inflight")?).unwrap_or(0)))
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Task ids as the `uuid[]` a statement binds.
fn uuids(ids: &[TaskId]) -> Vec<Uuid> {
    ids.iter().map(|id| *id.as_uuid()).collect()
}

fn token(receipt: &Receipt) -> i64 {
    i64::try_from(receipt.token).unwrap_or(i64::MAX)
}

fn priority(envelope: &Envelope) -> i16 {
    i16::from(envelope.priority.min(MAX_PRIORITY))
}

fn dead_letter(row: &sqlx::postgres::PgRow) -> Result<DeadLetter> {
    let get = |e| failed("reading a dead letter", e);
    let text: String = row.try_get("envelope").map_err(get)?;
    let envelope = from_json(&text, "dead letter's envelope")?;
    let deliveries: i64 = row.try_get("deliveries").map_err(get)?;
    Ok(DeadLetter {
        envelope,
        reason: row.try_get("reason").map_err(get)?,
        dead_at: row.try_get("dead_at").map_err(get)?,
        fence: u64::try_from(deliveries).unwrap_or(0),
    })
}

#[async_trait]
impl Broker for PostgresBroker {
    async fn publish(&self, envelope: Envelope) -> Result<()> {
        self.publish_batch(vec![envelope]).await
    }

    async fn publish_batch(&self, envelopes: Vec<Envelope>) -> Result<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        // One statement may not touch a row twice: later copies of an id win.
        let mut last = std::collections::HashMap::new();
        for (i, envelope) in envelopes.iter().enumerate() {
            last.insert(envelope.id, i);
        }
        let chosen: Vec<&Envelope> =
            envelopes.iter().enumerate().filter(|(i, e)| last.get(&e.id) == Some(i)).map(|(_, e)| e).collect();
        let ids: Vec<Uuid> = chosen.iter().map(|e| *e.id.as_uuid()).collect();
        let queues: Vec<&str> = chosen.iter().map(|e| e.queue.as_str()).collect();
        let priorities: Vec<i16> = chosen.iter().map(|e| priority(e)).collect();
        let not_before: Vec<Option<DateTime<Utc>>> = chosen.iter().map(|e| e.not_before).collect();
        let texts = chosen.iter().map(|e| to_json(*e)).collect::<Result<Vec<String>>>()?;
        sqlx::query(self.shared.sql(include_str!("sql/publish.sql")))
            .bind(ids)
            .bind(queues)
            .bind(priorities)
            .bind(not_before)
            .bind(texts)
            .bind(self.shared.messages_channel())
            .execute(self.pool())
            .await
            .map(drop)
            .map_err(|e| failed("publishing messages", e))
    }

    async fn receive(&self, request: &ReceiveRequest) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + request.wait;
        let published = Arc::clone(&self.shared.done().await?.published);
        loop {
            let notified = published.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let out = self.claim(&request.queues, request.max, request.lease).await?;
            if !out.is_empty() || request.max == 0 {
                return Ok(out);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(out);
            }
            let next_due: Option<DateTime<Utc>> = sqlx::query_scalar(self.shared.sql(include_str!("sql/next_due.sql")))
                .bind(&request.queues)
                .fetch_one(self.pool())
                .await
                .map_err(|e| failed("finding the next due message", e))?;
            let mut until = deadline.min(now + SAFETY_NET);
            if let Some(due) = next_due {
                let wait = (due - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(1);
                until = until.min(now + wait);
            }
            let _ = tokio::time::timeout_at(until, notified).await;
        }
    }

    async fn ack_batch(&self, receipts: &[Receipt]) -> Result<usize> {
        if receipts.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = receipts.iter().map(|r| *r.id.as_uuid()).collect();
        let tokens: Vec<i64> = receipts.iter().map(token).collect();
        let acked: Vec<Uuid> = sqlx::query_scalar(self.shared.sql(include_str!("sql/ack.sql")))
            .bind(ids)
            .bind(tokens)
            .fetch_all(self.relaxed())
            .await
            .map_err(|e| failed("acking deliveries", e))?;
        vacuum::retired(&self.shared, Table::Messages, acked.len() as u64);
        Ok(acked.len())
    }

    async fn nack(&self, receipt: &Receipt, nack: Nack) -> Result<()> {
        match nack {
            Nack::Requeue => {
                self.fenced(receipt, include_str!("sql/requeue.sql"), "putting a delivery back", |q| q).await?;
            }
            Nack::Replace(envelope) => {
                let text = to_json(&*envelope)?;
                let (p, at) = (priority(&envelope), envelope.not_before);
                self.fenced(receipt, include_str!("sql/replace.sql"), "replacing a delivery", move |q| {
                    q.bind(text).bind(p).bind(at)
                })
                .await?;
            }
            _ => return Err(Error::Config("this kind of nack is not supported by the Postgres broker".to_owned())),
        }
        self.announce().await
    }

    async fn extend_lease(&self, receipt: &Receipt, by: Duration) -> Result<DateTime<Utc>> {
        let until: Option<DateTime<Utc>> = sqlx::query_scalar(self.shared.sql(include_str!("sql/extend.sql")))
            .bind(receipt.id.as_uuid())
            .bind(token(receipt))
            .bind(millis(by))
            .fetch_optional(self.relaxed())
            .await
            .map_err(|e| failed("extending a lease", e))?;
        until.ok_or(Error::LeaseLost(receipt.id))
    }

    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()> {
        self.dead(receipt, reason, None).await
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

/// In one Postgres store, only the messages are stored: the backend reads a
/// task that has a message and no record as queued (see
/// `sql/get_statuses.sql`), so the queued records cost no writes, and a
/// message is never without its record.
#[async_trait]
impl PublishRecorded for PostgresBroker {
    async fn publish_recorded(&self, envelopes: Vec<Envelope>) -> Result<()> {
        self.publish_batch(envelopes).await
    }
}

impl PostgresBroker {
    /// Deletes the dead letters older than the store's dead letter retention.
    async fn expire_dead(&self) -> Result<()> {
        sqlx::query(self.shared.sql(include_str!("sql/dead_expire.sql")))
            .bind(millis(self.shared.options.dead_letter_retention()))
            .execute(self.pool())
            .await
            .map(drop)
            .map_err(|e| failed("expiring dead letters", e))
    }
}

#[async_trait]
impl DeadLetters for PostgresBroker {
    async fn list_dead_letters(&self, queue: &str, limit: usize, offset: usize) -> Result<DeadLetterPage> {
        self.expire_dead().await?;
        let rows = sqlx::query(self.shared.sql(include_str!("sql/dead_list.sql")))
            .bind(queue)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await
            .map_err(|e| failed("listing dead letters", e))?;
        let total = rows
            .first()
            .map_or(Ok(0), |r| r.try_get::<i64, _>("total").map_err(|e| failed("listing dead letters", e)))?;
        let entries = rows.iter().map(dead_letter).collect::<Result<Vec<_>>>()?;
        let next = offset + entries.len();
        let next_offset = (i64::try_from(next).unwrap_or(i64::MAX) < total).then_some(next);
        Ok(DeadLetterPage { entries, next_offset })
    }

    async fn get_dead_letter(&self, queue: &str, id: TaskId) -> Result<Option<DeadLetter>> {
        self.expire_dead().await?;
        let row = sqlx::query(self.shared.sql(include_str!("sql/dead_get.sql")))
            .bind(queue)
            .bind(id.as_uuid())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| failed("reading a dead letter", e))?;
        row.as_ref().map(dead_letter).transpose()
    }

    async fn replay_dead_letters(&self, queue: &str, options: &ReplayOptions) -> Result<ReplayResult> {
        self.expire_dead().await?;
        let chosen = self.oldest_dead(queue, options.since, Some(options.limit), &options.ids).await?;
        if options.dry_run || chosen.is_empty() {
            return Ok(ReplayResult {
                entries: chosen.into_iter().map(|(.., d)| d).collect(),
                dry_run: options.dry_run,
            });
        }
        let now = Utc::now();
        let mut entries = Vec::with_capacity(chosen.len());
        // One statement per run of distinct task ids (a task dead-lettered
        // twice is replayed by the later of its dead letters' statements).
        let mut chunk: Vec<(i64, DeadLetter)> = Vec::new();
        for (seq, _, dead) in chosen {
            if chunk.iter().any(|(_, d)| d.envelope.id == dead.envelope.id) {
                entries.extend(self.replay_chunk(std::mem::take(&mut chunk), now, options.delay).await?);
            }
            chunk.push((seq, dead));
        }
        entries.extend(self.replay_chunk(chunk, now, options.delay).await?);
        self.announce().await?;
        Ok(ReplayResult { entries, dry_run: false })
    }

    async fn purge_dead_letters(&self, queue: &str, options: &PurgeOptions) -> Result<usize> {
        self.expire_dead().await?;
        let sql = match options.ids.as_slice() {
            [] => include_str!("sql/dead_purge.sql"),
            _ => include_str!("sql/dead_purge_ids.sql"),
        };
        let mut query = sqlx::query(self.shared.sql(sql))
            .bind(queue)
            .bind(options.since)
            .bind(options.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)));
        if !options.ids.is_empty() {
            query = query.bind(uuids(&options.ids));
        }
        let done = query.execute(self.pool()).await.map_err(|e| failed("purging dead letters", e))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}

#[async_trait]
impl QueueStats for PostgresBroker {
    async fn pending_count(&self, queue: &str) -> Result<usize> {
        Ok(self.counts(queue).await?.0)
    }

    async fn inflight_count(&self, queue: &str) -> Result<usize> {
        Ok(self.counts(queue).await?.1)
    }

    async fn queues(&self) -> Result<Vec<QueueCounts>> {
        let rows = sqlx::query(self.shared.sql(include_str!("sql/queue_counts.sql")))
            .fetch_all(self.pool())
            .await
            .map_err(|e| failed("counting the queues' messages", e))?;
        let n = |v: i64| usize::try_from(v).unwrap_or(0);
        rows.iter()
            .map(|row| {
                let count = |i: usize| row.try_get::<i64, _>(i).map(n);
                Ok(QueueCounts::new(row.try_get::<String, _>(0)?, count(1)?, count(2)?, count(3)?, count(4)?))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| failed("reading queue counts", e))
    }

    async fn purge(&self, queue: &str) -> Result<usize> {
        let done = sqlx::query(self.shared.sql(include_str!("sql/purge.sql")))
            .bind(queue)
            .execute(self.pool())
            .await
            .map_err(|e| failed("purging a queue", e))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    async fn delayed(&self, queue: &str, limit: usize) -> Result<Vec<Envelope>> {
        let rows = sqlx::query(self.shared.sql(include_str!("sql/delayed.sql")))
            .bind(queue)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await
            .map_err(|e| failed("listing delayed messages", e))?;
        // A row that does not decode is left out: a worker buries it when due.
        let decoded = rows.iter().filter_map(|row| {
            let mut envelope = serde_json::from_str::<Envelope>(&row.try_get::<String, _>(0).ok()?).ok()?;
            envelope.not_before = Some(row.try_get(1).ok()?);
            Some(envelope)
        });
        Ok(decoded.collect())
    }
}

/// The most bytes one broadcast carries (NOTIFY takes 8,000 bytes of text;
/// base64 makes 6,000 bytes into 8,000).
const MAX_BROADCAST: usize = 6000;

#[async_trait]
impl Broadcast for PostgresBroker {
    async fn broadcast(&self, channel: &str, payload: Vec<u8>) -> Result<()> {
        if payload.len() > MAX_BROADCAST {
            return Err(Error::Config(format!(
                "a Postgres broadcast carries at most {MAX_BROADCAST} bytes; this one has {}",
                payload.len()
            )));
        }
        use base64::Engine as _;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(self.shared.channel("bc", channel))
            .bind(base64::engine::general_purpose::STANDARD.encode(payload))
            .execute(self.pool())
            .await
            .map(drop)
            .map_err(|e| failed("broadcasting", e))
    }

    async fn subscribe(&self, channel: &str) -> Result<BoxStream<'static, Vec<u8>>> {
        let mut listener =
            PgListener::connect_with(&self.shared.listener()).await.map_err(|e| failed("opening a listener", e))?;
        listener.listen(&self.shared.channel("bc", channel)).await.map_err(|e| failed("subscribing", e))?;
        let stream = listener.into_stream().filter_map(|notification| async move {
            use base64::Engine as _;
            let notification = notification.ok()?;
            base64::engine::general_purpose::STANDARD.decode(notification.payload()).ok()
        });
        Ok(Box::pin(stream))
    }
}
