//! [`QueueStats`]: how many messages a queue holds, and emptying it.

use async_trait::async_trait;

use crate::error::Result;

/// A capability: what operators ask of a queue's messages. Adapters that have
/// it implement it beside [`Broker`](super::Broker) and return it from
/// [`Broker::stats`](super::Broker::stats).
#[async_trait]
pub trait QueueStats: Send + Sync + 'static {
    /// Messages of `queue` ready to run now (delayed ones are not counted).
    async fn pending_count(&self, queue: &str) -> Result<usize>;

    /// Messages of `queue` leased to a consumer and not yet acked.
    async fn inflight_count(&self, queue: &str) -> Result<usize>;

    /// Removes every message of `queue` that is not leased (ready and
    /// delayed ones, and those whose lease ended); returns how many.
    async fn purge(&self, queue: &str) -> Result<usize>;
}
