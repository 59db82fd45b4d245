//! Hearing of final states on Postgres: one LISTEN per store wakes the `wait`
//! calls of this process. Every status write that makes tasks final sends
//! their ids, separated by spaces, with `pg_notify` on the schema's channel.
//! When the listening connection breaks, sqlx reconnects it, and the listener
//! wakes every waiter, since a notification may have been missed.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use stem::TaskId;
use tokio::task::JoinHandle;

use super::failed;
use crate::waiters::Waiters;

/// The running subscription; stops when dropped.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) waiters: Arc<Waiters>,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Listens on `channel` and returns once listening, so that a final state
    /// announced after this returns is heard.
    pub(crate) async fn start(pool: PgPool, channel: String) -> stem::Result<Self> {
        let mut listener = PgListener::connect_with(&pool).await.map_err(|e| failed("opening the listener", e))?;
        listener.listen(&channel).await.map_err(|e| failed("listening for final states", e))?;
        let waiters = Arc::new(Waiters::default());
        let task = tokio::spawn(listen(listener, Arc::clone(&waiters)));
        Ok(Self { waiters, task })
    }
}

async fn listen(mut listener: PgListener, waiters: Arc<Waiters>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                for id in notification.payload().split(' ').filter_map(|s| s.parse::<TaskId>().ok()) {
                    waiters.wake(id);
                }
            }
            Ok(None) => {
                tracing::warn!("the Postgres listener lost its connection; reconnecting");
                waiters.wake_all();
            }
            Err(error) => {
                tracing::warn!(%error, "the Postgres listener failed; retrying");
                waiters.wake_all();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
