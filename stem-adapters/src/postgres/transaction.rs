//! Enqueueing inside the caller's own Postgres transaction: the task exists
//! only if the transaction commits, and idle workers hear of it at commit.
//!
//! ```no_run
//! # use stem::prelude::*;
//! # #[stem::task] async fn send_email(to: String) -> Result<(), TaskError> { Ok(()) }
//! # async fn demo(store: stem_adapters::postgres::PostgresStore, pool: sqlx::PgPool) -> stem::Result<()> {
//! use stem_adapters::postgres::EnqueueInTransaction;
//!
//! let mut tx = pool.begin().await.map_err(|e| stem::Error::adapter("begin", e))?;
//! // ... the caller's own writes ...
//! let handle = SendEmail::call("ada@example.com".to_owned()).enqueue_in(&mut tx, &store).await?;
//! tx.commit().await.map_err(|e| stem::Error::adapter("commit", e))?;
//! handle.wait().await?;
//! # Ok(()) }
//! ```

use std::future::Future;

use sqlx::PgConnection;
use stem::Result;
use stem::backend::{TaskState, TaskStatus};
use stem::envelope::MAX_PRIORITY;
use stem::task::{Signature, Task, TaskHandle};

use super::{PostgresStore, failed, to_json};

/// Enqueues a typed call inside a caller's transaction (see the module docs).
pub trait EnqueueInTransaction<T: Task> {
    /// Stores the task and its queued record through `tx` (a transaction, or
    /// any connection, on the database of `store`); it becomes visible to
    /// workers, and they hear of it, when `tx` commits. Rolled back, it never
    /// existed.
    fn enqueue_in(
        self,
        tx: &mut PgConnection,
        store: &PostgresStore,
    ) -> impl Future<Output = Result<TaskHandle<T::Output>>> + Send;
}

impl<T: Task> EnqueueInTransaction<T> for Signature<T> {
    async fn enqueue_in(self, tx: &mut PgConnection, store: &PostgresStore) -> Result<TaskHandle<T::Output>> {
        let shared = &store.shared;
        let envelope = self.into_envelope()?;
        let text = to_json(&envelope)?;
        let mut status = TaskStatus::new(envelope.id, envelope.task.clone(), envelope.queue.clone(), TaskState::Queued);
        status.attempt = envelope.attempt;
        let updated_us = status.updated_at.timestamp_micros();
        let status = to_json(&status)?;
        let id = *envelope.id.as_uuid();
        sqlx::query(shared.sql(include_str!("sql/publish.sql")))
            .bind(vec![id])
            .bind(vec![envelope.queue.clone()])
            .bind(vec![i16::from(envelope.priority.min(MAX_PRIORITY))])
            .bind(vec![envelope.not_before])
            .bind(vec![text])
            .bind(shared.messages_channel())
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("enqueueing in a transaction", e))?;
        sqlx::query(shared.sql(include_str!("sql/enqueue_status.sql")))
            .bind(id)
            .bind(&envelope.task)
            .bind(&envelope.queue)
            .bind(status)
            .bind(updated_us)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("recording a task enqueued in a transaction", e))?;
        Ok(stem::Stem::new(store.stores()).handle(envelope.id))
    }
}
