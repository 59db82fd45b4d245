//! Enqueueing inside the caller's own Postgres transaction: the task exists
//! only if the transaction commits, and idle workers hear of it at commit.
//!
//! ```no_run
//! # use stem::prelude::*;
//! # #[stem::task] async fn send_email(to: String) -> Result<(), TaskError> { Ok(()) }
//! # async fn demo(stem: Stem, pool: sqlx::PgPool) -> stem::Result<()> {
//! use stem_adapters::postgres::EnqueueInTransaction;
//!
//! // `stem` runs on a Postgres store: `stem_adapters::connect("postgres://...")`,
//! // or `Stem::new(store.stores())`, with its signing, payload limit and routing.
//! let mut tx = pool.begin().await.map_err(|e| stem::Error::adapter("begin", e))?;
//! // ... the caller's own writes ...
//! let handle = SendEmail::call("ada@example.com".to_owned()).enqueue_in(&mut tx, &stem).await?;
//! tx.commit().await.map_err(|e| stem::Error::adapter("commit", e))?;
//! handle.wait().await?;
//! # Ok(()) }
//! ```
//!
//! The call goes through the same steps as an enqueue through the `Stem`
//! ([`Stem::prepare`]): its routing (a broadcast stores one message per member
//! queue), the payload limit (a larger call is an error and nothing is
//! written), kept arguments and the signature. It takes no unique claim: a
//! claim is not part of the transaction, so a rolled back enqueue would keep
//! it; a call made in a transaction is never unique.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use sqlx::PgConnection;
use stem::backend::TaskStatus;
use stem::envelope::MAX_PRIORITY;
use stem::task::{Signature, Task, TaskHandle};
use stem::{Envelope, Error, Result, Stem};

use super::{PostgresBroker, Shared, failed, to_json};

/// Enqueues a typed call inside a caller's transaction (see the module docs).
pub trait EnqueueInTransaction<T: Task> {
    /// Stores the task and its queued record through `tx` (a transaction, or
    /// any connection, on the database of `stem`'s Postgres store), prepared
    /// as `stem` enqueues (routed, held to its payload limit, signed); it
    /// becomes visible to workers, and they hear of it, when `tx` commits.
    /// Rolled back, it never existed.
    ///
    /// An error if `stem`'s broker and result backend are not one Postgres
    /// store, or if the call is refused ([`Error::PayloadTooLarge`], a bad
    /// route); nothing is written through `tx` then.
    ///
    /// # Cancel safety
    ///
    /// Dropped midway, some of its writes may be in `tx`: roll it back.
    fn enqueue_in(
        self,
        tx: &mut PgConnection,
        stem: &Stem,
    ) -> impl Future<Output = Result<TaskHandle<T::Output>>> + Send;
}

impl<T: Task> EnqueueInTransaction<T> for Signature<T> {
    async fn enqueue_in(self, tx: &mut PgConnection, stem: &Stem) -> Result<TaskHandle<T::Output>> {
        let shared = store_of(stem)?;
        let envelopes = stem.prepare(self.into_envelope()?)?;
        let Some(id) = envelopes.first().map(|e| e.id) else {
            return Err(Error::Config("routing left no queue to enqueue in".to_owned()));
        };
        insert(shared, tx, &envelopes).await?;
        Ok(stem.handle(id))
    }
}

/// The Postgres store behind `stem`: its broker's, when the broker and the
/// backend are that one store's (what [`stem::broker::PublishRecorded`] stands for).
fn store_of(stem: &Stem) -> Result<&Arc<Shared>> {
    stem.stores()
        .publish_recorded()
        .and_then(|recorded| (recorded.as_ref() as &dyn Any).downcast_ref::<PostgresBroker>())
        .map(PostgresBroker::shared)
        .ok_or_else(|| {
            Error::Config(
                "enqueue_in needs a Stem whose broker and result backend are one Postgres store \
                 (`stem_adapters::connect(\"postgres://...\")` or `Stem::new(store.stores())`)"
                    .to_owned(),
            )
        })
}

/// Writes `envelopes` and their queued records through `tx`.
async fn insert(shared: &Shared, tx: &mut PgConnection, envelopes: &[Envelope]) -> Result<()> {
    let ids: Vec<uuid::Uuid> = envelopes.iter().map(|e| *e.id.as_uuid()).collect();
    let queues: Vec<&str> = envelopes.iter().map(|e| e.queue.as_str()).collect();
    let priorities: Vec<i16> = envelopes.iter().map(|e| i16::from(e.priority.min(MAX_PRIORITY))).collect();
    let not_before: Vec<_> = envelopes.iter().map(|e| e.not_before).collect();
    let texts = envelopes.iter().map(to_json).collect::<Result<Vec<String>>>()?;
    sqlx::query(shared.sql(include_str!("sql/publish.sql")))
        .bind(ids)
        .bind(queues)
        .bind(priorities)
        .bind(not_before)
        .bind(texts)
        .bind(shared.messages_channel())
        .execute(&mut *tx)
        .await
        .map_err(|e| failed("enqueueing in a transaction", e))?;
    for envelope in envelopes {
        let status = TaskStatus::queued(envelope);
        let updated_us = status.updated_at.timestamp_micros();
        sqlx::query(shared.sql(include_str!("sql/enqueue_status.sql")))
            .bind(*envelope.id.as_uuid())
            .bind(&envelope.task)
            .bind(&envelope.queue)
            .bind(to_json(&status)?)
            .bind(updated_us)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("recording a task enqueued in a transaction", e))?;
    }
    Ok(())
}
