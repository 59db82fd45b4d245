//! [`Broadcast`]: the fan-out channel that control commands travel on.

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::error::Result;

/// A capability: a fan-out channel for control commands (every subscriber sees
/// every message). Adapters that have it implement it beside
/// [`Broker`](super::Broker) and return it from
/// [`Broker::broadcast`](super::Broker::broadcast).
#[async_trait]
pub trait Broadcast: Send + Sync + 'static {
    /// Sends `payload` to every current subscriber of `channel`.
    async fn broadcast(&self, channel: &str, payload: Vec<u8>) -> Result<()>;

    /// Subscribes to `channel`; messages sent before this call are not seen.
    async fn subscribe(&self, channel: &str) -> Result<BoxStream<'static, Vec<u8>>>;
}
