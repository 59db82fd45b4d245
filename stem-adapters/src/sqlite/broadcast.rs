//! Broadcast on SQLite: a table of recent control messages that every
//! subscriber reads from the row after the newest it has seen.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use rusqlite::params;
use stem::Result;
use stem::broker::Broadcast;

use super::broker::SqliteBroker;
use super::{Shared, now_ms};

/// How long a broadcast stays readable: subscribers that fall further behind miss it.
const KEEP: Duration = Duration::from_secs(60);

#[async_trait]
impl Broadcast for SqliteBroker {
    async fn broadcast(&self, channel: &str, payload: Vec<u8>) -> Result<()> {
        let channel = channel.to_owned();
        let shared = Arc::clone(self.shared());
        self.shared()
            .db
            .call_then(
                "broadcast",
                move |conn| {
                    let now = now_ms();
                    conn.prepare_cached(include_str!("sql/broadcast.sql"))?.execute(params![channel, payload, now])?;
                    let old = now - i64::try_from(KEEP.as_millis()).unwrap_or(i64::MAX);
                    conn.prepare_cached(include_str!("sql/broadcast_prune.sql"))?.execute([old])?;
                    Ok(())
                },
                move |()| shared.broadcasts.notify_waiters(),
            )
            .await
    }

    /// Subscribes to what is broadcast on `channel` from now on.
    async fn subscribe(&self, channel: &str) -> Result<BoxStream<'static, Vec<u8>>> {
        let shared = Arc::clone(self.shared());
        let name = channel.to_owned();
        let after: i64 = shared
            .db
            .read("subscribe", move |conn| {
                conn.prepare_cached(include_str!("sql/broadcast_latest.sql"))?.query_row([name], |r| r.get(0))
            })
            .await?;
        let state = Subscription { shared, channel: channel.to_owned(), after, buffered: VecDeque::new() };
        Ok(Box::pin(futures_util::stream::unfold(state, Subscription::next)))
    }
}

/// One subscriber's place in a channel.
struct Subscription {
    shared: Arc<Shared>,
    channel: String,
    after: i64,
    buffered: VecDeque<Vec<u8>>,
}

impl Subscription {
    async fn next(mut self) -> Option<(Vec<u8>, Self)> {
        loop {
            if let Some(payload) = self.buffered.pop_front() {
                return Some((payload, self));
            }
            let (mine, external) = (self.shared.broadcasts.notified(), self.shared.external.notified());
            tokio::pin!(mine, external);
            mine.as_mut().enable();
            external.as_mut().enable();
            let (channel, after) = (self.channel.clone(), self.after);
            let rows = self
                .shared
                .db
                .read("read broadcasts", move |conn| {
                    conn.prepare_cached(include_str!("sql/broadcast_read.sql"))?
                        .query_map(params![channel, after], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .await;
            match rows {
                Ok(rows) => {
                    for (seq, payload) in rows {
                        self.after = seq;
                        self.buffered.push_back(payload);
                    }
                }
                Err(error) => {
                    // Keep the subscription: try again after the poll interval.
                    tracing::warn!(%error, channel = %self.channel, "reading broadcasts failed; retrying");
                    tokio::time::sleep(self.shared.options.poll_interval).await;
                    continue;
                }
            }
            if self.buffered.is_empty() {
                tokio::select! {
                    () = &mut mine => {}
                    () = &mut external => {}
                }
            }
        }
    }
}
