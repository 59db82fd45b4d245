//! Hearing of final states on Redis: one pub/sub subscription per store wakes
//! the `wait` calls of this process, so that they never poll.
//!
//! Every batch of status writes publishes the record keys of the tasks that
//! reached a final state, separated by spaces, on the namespace's done channel (see
//! `set_status.lua`). If the subscription breaks, the listener reconnects with
//! backoff and then wakes every waiter, since a message may have been missed;
//! each waiter then reads its task's status again.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
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
    /// Subscribes to `channel` and returns once the subscription is active, so
    /// that a final state published after this returns is heard.
    pub(crate) async fn start(client: redis::Client, channel: String) -> stem::Result<Self> {
        let mut pubsub = client.get_async_pubsub().await.map_err(|e| failed("opening the pub/sub connection", e))?;
        pubsub.subscribe(&channel).await.map_err(|e| failed("subscribing to final states", e))?;
        let waiters = Arc::new(Waiters::default());
        let task = tokio::spawn(listen(client, channel, pubsub, Arc::clone(&waiters)));
        Ok(Self { waiters, task })
    }
}

async fn listen(client: redis::Client, channel: String, mut pubsub: redis::aio::PubSub, waiters: Arc<Waiters>) {
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                // One message names, by their record keys (`...:task:<id>`, on a
                // Cluster `...:task:{<tag>}:<id>`),
                // every task of one batch that reached a final state; a bare id
                // (an older writer's) reads the same.
                let keys = message.get_payload::<String>().unwrap_or_default();
                for id in keys.split(' ').filter_map(|key| key.rsplit(':').next()?.parse::<TaskId>().ok()) {
                    waiters.wake(id);
                }
            }
        }
        tracing::warn!(%channel, "the Redis subscription to final states broke; reconnecting");
        let mut pause = Duration::from_millis(100);
        pubsub = loop {
            tokio::time::sleep(pause).await;
            match client.get_async_pubsub().await {
                Ok(mut fresh) => match fresh.subscribe(&channel).await {
                    Ok(()) => break fresh,
                    Err(error) => tracing::warn!(%error, "subscribing to final states failed; retrying"),
                },
                Err(error) => tracing::warn!(%error, "reconnecting to Redis for final states failed; retrying"),
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        };
        waiters.wake_all();
    }
}
