//! Status reads in batches: the `get` calls of one store that arrive while a
//! read is in flight share the next query (`id = ANY(..)`), so that hundreds
//! of waiters woken by one notification cost a few round trips, not hundreds.
//! One query at a time; an idle store reads at once.

use std::collections::HashMap;

use sqlx::PgPool;
use stem::TaskId;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::failed;

/// The most ids one query reads.
const BATCH: usize = 512;

/// What is stored for a task.
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    /// Its status record (JSON).
    Status(String),
    /// No record, but its message (the envelope as JSON): it is queued.
    Message(String),
}

type Answer = oneshot::Sender<stem::Result<Option<Stored>>>;

/// A row of `get_statuses.sql`: id, status record or nothing, envelope or nothing.
type Row = (Uuid, Option<String>, Option<String>);

/// The reader's queue; the reader stops when the store is dropped.
#[derive(Debug)]
pub(crate) struct Reads {
    queue: mpsc::UnboundedSender<(TaskId, Answer)>,
}

impl Reads {
    /// Starts the reader on the current runtime, running `sql` on `pool`.
    pub(crate) fn start(pool: PgPool, sql: String) -> Self {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(serve(pool, sql, requests));
        Self { queue }
    }

    /// What is stored for `id`, `None` if nothing (or an expired record).
    pub(crate) async fn get(&self, id: TaskId) -> stem::Result<Option<Stored>> {
        let (answer, read) = oneshot::channel();
        self.queue.send((id, answer)).map_err(|_| stem::Error::Closed("Postgres status reader"))?;
        read.await.map_err(|_| stem::Error::Closed("Postgres status reader"))?
    }
}

async fn serve(pool: PgPool, sql: String, mut requests: mpsc::UnboundedReceiver<(TaskId, Answer)>) {
    let mut batch = Vec::with_capacity(BATCH);
    while requests.recv_many(&mut batch, BATCH).await > 0 {
        let mut ids: Vec<Uuid> = batch.iter().map(|(id, _)| *id.as_uuid()).collect();
        ids.sort_unstable();
        ids.dedup();
        let rows: Result<Vec<Row>, _> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(ids).fetch_all(&pool).await;
        match rows {
            Ok(rows) => {
                let found: HashMap<Uuid, Stored> = rows
                    .into_iter()
                    .filter_map(|(id, status, envelope)| match (status, envelope) {
                        (Some(status), _) => Some((id, Stored::Status(status))),
                        (None, Some(envelope)) => Some((id, Stored::Message(envelope))),
                        (None, None) => None,
                    })
                    .collect();
                for (id, answer) in batch.drain(..) {
                    let _ = answer.send(Ok(found.get(id.as_uuid()).cloned()));
                }
            }
            Err(error) => {
                let message = failed("reading task statuses", error).to_string();
                for (_, answer) in batch.drain(..) {
                    let _ = answer.send(Err(stem::Error::adapter(message.clone(), message.clone())));
                }
            }
        }
    }
}
