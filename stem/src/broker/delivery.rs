use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::envelope::Envelope;
use crate::id::TaskId;

/// What a consumer asks of [`Broker::receive`](super::Broker::receive).
#[derive(Debug, Clone)]
pub struct ReceiveRequest {
    /// Queues to take from; a message of higher priority on any of them goes first.
    pub queues: Vec<String>,
    /// The most deliveries to return (the free part of the consumer's prefetch).
    pub max: usize,
    /// How long each delivery stays leased unless extended.
    pub lease: Duration,
    /// How long to wait for the first delivery before returning an empty batch.
    pub wait: Duration,
    /// The consumer's name, for adapters and operators that track it.
    pub consumer: String,
}

/// One leased message.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message (shared, so that an adapter that keeps it need not copy it).
    pub envelope: Arc<Envelope>,
    /// The handle for acking, nacking, extending or dead-lettering it.
    pub receipt: Receipt,
    /// When the lease ends unless extended.
    pub lease_expires_at: DateTime<Utc>,
}

/// A broker's handle on one delivery.
///
/// `token` grows with every delivery of the same message (the fencing token): a
/// receipt from an earlier delivery no longer acks, nacks or extends anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The task id.
    pub id: TaskId,
    /// The queue it was taken from (shared: a receipt is cloned and dropped
    /// on every delivery's way through a worker).
    pub queue: Arc<str>,
    /// The fencing token of this delivery (1 for the first).
    pub token: u64,
    /// Adapter-specific data (a stream entry id, a row id); empty when unused.
    pub tag: String,
}

/// How a delivery is given back with [`Broker::nack`](super::Broker::nack).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Nack {
    /// Put the message back unchanged, ready now (used when a worker stops).
    Requeue,
    /// Replace the message by this envelope (same id), delivered at its
    /// `not_before` (used for retries, with the attempt raised).
    Replace(Box<Envelope>),
}

impl Nack {
    /// Replaces the message with `envelope` delivered no sooner than `delay` from now.
    pub fn retry_in(mut envelope: Envelope, delay: Duration) -> Self {
        envelope.not_before = Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX));
        Self::Replace(Box::new(envelope))
    }
}
