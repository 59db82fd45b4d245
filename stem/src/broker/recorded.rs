//! [`PublishRecorded`]: publishing and recording as queued in one operation.

use async_trait::async_trait;

use crate::envelope::Envelope;
use crate::error::Result;

/// A capability of a store that holds both a broker and a result backend:
/// publishing messages records them as queued in that backend, as one
/// operation (Redis and Postgres: the stored message stands for the task's
/// queued record until a worker writes one, so the record costs no write).
///
/// An adapter's store provides it with its [`Stores`](crate::Stores), and a
/// [`Stem`](crate::Stem) then enqueues through it. It holds only for that
/// broker and that backend: replacing either in the `Stores` drops it, and
/// enqueues then publish and write the records side by side.
///
/// It is [`Any`](std::any::Any), so that an adapter can find its own store
/// behind a `Stem` (the Postgres adapter's `enqueue_in` does, to write in
/// the caller's transaction).
#[async_trait]
pub trait PublishRecorded: std::any::Any + Send + Sync + std::fmt::Debug {
    /// Publishes `envelopes`, each recorded as queued ([`TaskStatus::queued`](crate::TaskStatus::queued))
    /// in the store's backend. On an error nothing is recorded that was not published.
    async fn publish_recorded(&self, envelopes: Vec<Envelope>) -> Result<()>;
}
