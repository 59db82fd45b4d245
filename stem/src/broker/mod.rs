//! The broker contract: where task messages wait until a worker takes them.
//!
//! Delivery is at least once. A worker [`receive`](Broker::receive)s a batch of
//! [`Delivery`]s, each leased to it until its lease ends; it then acks, nacks or
//! dead-letters each one through its [`Receipt`]. A delivery whose lease ends
//! first is delivered again, and the old receipt stops working (fencing): its
//! token is lower than the new delivery's.

mod dead_letter;
mod delivery;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use self::dead_letter::{DeadLetter, DeadLetterPage, ReplayOptions, ReplayResult};
pub use self::delivery::{Delivery, Nack, Receipt, ReceiveRequest};
use crate::backend::{ResultBackend, TaskStatus};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::TaskId;

/// Publishes `envelopes` and writes their queued records
/// ([`TaskStatus::queued`]) to `backend` side by side: what
/// [`Broker::publish_recorded`] does by default, and what a broker that
/// overrides it does with a backend it cannot write through.
pub async fn publish_beside<B: Broker + ?Sized>(
    broker: &B,
    envelopes: Vec<Envelope>,
    backend: &dyn ResultBackend,
) -> (Result<()>, Result<()>) {
    let queued: Vec<TaskStatus> = envelopes.iter().map(TaskStatus::queued).collect();
    let (published, recorded) = futures_util::join!(broker.publish_batch(envelopes), backend.set_batch(&queued));
    (published, recorded.map(drop))
}

/// A message store with leases, priorities, delays and a dead letter queue.
///
/// Every adapter implements all of it: priorities 0-9 (higher first, FIFO within
/// one priority) and delayed delivery (`not_before`) are not optional.
///
/// # Cancel safety
/// Dropping a `receive` future may leave messages leased to nobody; they come back
/// when their lease ends. Every other method either takes effect or not.
#[async_trait]
pub trait Broker: Send + Sync + std::fmt::Debug + 'static {
    /// Stores one envelope on its queue.
    async fn publish(&self, envelope: Envelope) -> Result<()>;

    /// Stores many envelopes, in one round trip where the store allows it.
    async fn publish_batch(&self, envelopes: Vec<Envelope>) -> Result<()> {
        for envelope in envelopes {
            self.publish(envelope).await?;
        }
        Ok(())
    }

    /// Whether [`publish_recorded`](Self::publish_recorded) publishes and
    /// records as one operation with `backend`: true when both live in one
    /// store that can do so (in one round trip, or with the stored message
    /// standing for its record). The producer then uses it for every enqueue.
    fn records_with(&self, backend: &dyn ResultBackend) -> bool {
        let _ = backend;
        false
    }

    /// Publishes `envelopes` and records each as queued in `backend` (its
    /// [`TaskStatus::queued`], which the envelope alone determines, so a store
    /// whose messages stand for their records need not build or write them):
    /// as one operation where [`records_with`](Self::records_with) says so; by
    /// default the publish and the write run side by side. Returns both
    /// outcomes, publish first; when the publish failed and the record did
    /// not, the records may have been written (the producer forgets them).
    async fn publish_recorded(
        &self,
        envelopes: Vec<Envelope>,
        backend: &dyn ResultBackend,
    ) -> (Result<()>, Result<()>) {
        publish_beside(self, envelopes, backend).await
    }

    /// Leases up to `request.max` due messages from `request.queues`, highest
    /// priority first, waiting up to `request.wait` for the first one. An empty
    /// batch means the wait ended.
    async fn receive(&self, request: &ReceiveRequest) -> Result<Vec<Delivery>>;

    /// Removes finished deliveries. Receipts whose lease was lost are skipped;
    /// returns how many were removed.
    async fn ack_batch(&self, receipts: &[Receipt]) -> Result<usize>;

    /// Removes one finished delivery; [`Error::LeaseLost`](crate::Error::LeaseLost)
    /// if its lease was lost.
    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        match self.ack_batch(std::slice::from_ref(receipt)).await? {
            0 => Err(crate::Error::LeaseLost(receipt.id)),
            _ => Ok(()),
        }
    }

    /// Gives a delivery back: as it was, or replaced by a new envelope (a retry).
    async fn nack(&self, receipt: &Receipt, nack: Nack) -> Result<()>;

    /// Moves the lease's end to `by` from now; returns the new end.
    async fn extend_lease(&self, receipt: &Receipt, by: Duration) -> Result<DateTime<Utc>>;

    /// Moves a delivery to its queue's dead letter queue with a reason.
    async fn dead_letter(&self, receipt: &Receipt, reason: &str) -> Result<()>;

    /// Dead letters of `queue`, newest first.
    async fn list_dead_letters(&self, queue: &str, limit: usize, offset: usize) -> Result<DeadLetterPage>;

    /// One dead letter by task id.
    async fn get_dead_letter(&self, queue: &str, id: TaskId) -> Result<Option<DeadLetter>>;

    /// Puts dead letters back on their queue (oldest first); a dry run changes nothing.
    async fn replay_dead_letters(&self, queue: &str, options: &ReplayOptions) -> Result<ReplayResult>;

    /// Deletes dead letters dead at or after `since` (all when `None`), at most
    /// `limit`; returns how many.
    async fn purge_dead_letters(
        &self,
        queue: &str,
        since: Option<DateTime<Utc>>,
        limit: Option<usize>,
    ) -> Result<usize>;

    /// Messages of `queue` ready to run now (delayed ones are not counted).
    async fn pending_count(&self, queue: &str) -> Result<usize>;

    /// Messages of `queue` leased to a consumer and not yet acked.
    async fn inflight_count(&self, queue: &str) -> Result<usize>;

    /// Removes every pending message of `queue`; returns how many.
    async fn purge(&self, queue: &str) -> Result<usize>;

    /// The broker's broadcast channel for control commands, if it has one. The
    /// conformance suite skips the broadcast cases, by name, when this is `None`.
    fn broadcast(&self) -> Option<&dyn Broadcast> {
        None
    }
}

/// A capability: a fan-out channel for control commands (every subscriber sees
/// every message). Adapters that have it implement it beside [`Broker`].
#[async_trait]
pub trait Broadcast: Send + Sync + 'static {
    /// Sends `payload` to every current subscriber of `channel`.
    async fn broadcast(&self, channel: &str, payload: Vec<u8>) -> Result<()>;

    /// Subscribes to `channel`; messages sent before this call are not seen.
    async fn subscribe(&self, channel: &str) -> Result<futures_util::stream::BoxStream<'static, Vec<u8>>>;
}
