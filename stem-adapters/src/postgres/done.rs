//! Hearing from the database: one LISTEN connection per store wakes the
//! `wait` calls of this process when tasks become final (the status write
//! sends their ids, separated by spaces, with `pg_notify`; `*` when there are
//! too many for one notification, which wakes every waiter), and its idle
//! receivers when messages are published. When the connection breaks, sqlx
//! reconnects it, and the listener wakes everyone, since a notification may
//! have been missed.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use stem::TaskId;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::failed;
use crate::waiters::Waiters;

/// The running subscription; stops when dropped.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) waiters: Arc<Waiters>,
    /// Woken when messages are published (or put back) on any queue.
    pub(crate) published: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Listens on `done` (final states) and `messages` (publishes) and returns
    /// once listening, so that what is announced after this returns is heard.
    pub(crate) async fn start(pool: PgPool, done: String, messages: String) -> stem::Result<Self> {
        let mut listener = PgListener::connect_with(&pool).await.map_err(|e| failed("opening the listener", e))?;
        listener.listen_all([done.as_str(), messages.as_str()]).await.map_err(|e| failed("listening", e))?;
        let (waiters, published) = (Arc::new(Waiters::default()), Arc::new(Notify::new()));
        let task = tokio::spawn(listen(listener, done, Arc::clone(&waiters), Arc::clone(&published)));
        Ok(Self { waiters, published, task })
    }
}

async fn listen(mut listener: PgListener, done: String, waiters: Arc<Waiters>, published: Arc<Notify>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) if notification.channel() == done => {
                if notification.payload() == "*" {
                    waiters.wake_all(); // too many ids for one notification
                }
                for id in notification.payload().split(' ').filter_map(|s| s.parse::<TaskId>().ok()) {
                    waiters.wake(id);
                }
            }
            Ok(Some(_)) => published.notify_waiters(),
            Ok(None) => {
                tracing::warn!("the Postgres listener lost its connection; reconnecting");
                waiters.wake_all();
                published.notify_waiters();
            }
            Err(error) => {
                tracing::warn!(%error, "the Postgres listener failed; retrying");
                waiters.wake_all();
                published.notify_waiters();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
