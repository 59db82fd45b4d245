//! The broker contract: where task messages wait until a worker takes them.
//!
//! Delivery is at least once. A worker [`receive`](Broker::receive)s a batch of
//! [`Delivery`]s, each leased to it until its lease ends; it then acks, nacks or
//! dead-letters each one through its [`Receipt`]. A delivery whose lease ends
//! first is delivered again, and the old receipt stops working (fencing): its
//! token is lower than the new delivery's.
//!
//! [`Broker`] is what a worker needs. What operators and front ends need
//! besides are capabilities, each a trait of its own that a broker exposes
//! through an accessor ([`Broker::dead_letters`], [`Broker::stats`],
//! [`Broker::broadcast`]): [`DeadLetters`], [`QueueStats`] and [`Broadcast`].
//! Every adapter of this project has all three; a broker without one returns
//! `None`, and the conformance suite reports the cases that need it skipped.

mod broadcast;
mod dead_letter;
mod delivery;
mod recorded;
mod stats;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// How long dead letters are kept unless a store is told otherwise: 30
/// days, for someone to look at them, replay or purge them.
pub const DEFAULT_DEAD_LETTER_RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 60 * 60);

pub use self::broadcast::Broadcast;
pub use self::dead_letter::{DeadLetter, DeadLetterPage, DeadLetters, PurgeOptions, ReplayOptions, ReplayResult};
pub use self::delivery::{Delivery, Nack, Receipt, ReceiveRequest};
pub use self::recorded::PublishRecorded;
pub use self::stats::{QueueCounts, QueueStats};
use crate::envelope::Envelope;
use crate::error::Result;

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
    /// Stores one envelope on its queue. An envelope whose id is stored
    /// already replaces the stored one.
    async fn publish(&self, envelope: Envelope) -> Result<()>;

    /// Stores many envelopes, in one round trip where the store allows it.
    async fn publish_batch(&self, envelopes: Vec<Envelope>) -> Result<()> {
        for envelope in envelopes {
            self.publish(envelope).await?;
        }
        Ok(())
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

    /// The broker's dead letter administration (list, show, replay, purge),
    /// if it has one.
    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        None
    }

    /// The broker's queue statistics (ready and leased counts, purge), if it
    /// keeps them.
    fn stats(&self) -> Option<&dyn QueueStats> {
        None
    }

    /// The broker's broadcast channel for control commands, if it has one.
    fn broadcast(&self) -> Option<&dyn Broadcast> {
        None
    }
}
