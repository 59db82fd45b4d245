//! Leases: each held delivery's [`Lease`] (also the running task's link to
//! the worker), and the keeper that renews them.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::settle::Op;
use crate::backend::TaskStatus;
use crate::error::{Error, Result};
use crate::task::WorkerLink;

/// A delivery's lease as the worker tracks it: when it ends and how long each
/// renewal lasts. Shared between the lease keeper and the running task's
/// context, whose link to the worker it is (the context records statuses
/// through the worker's writer, and renews the lease itself on request).
#[derive(Debug)]
pub(super) struct Lease {
    state: Mutex<(DateTime<Utc>, Duration)>,
    writer: mpsc::UnboundedSender<Op>,
}

impl Lease {
    pub(super) fn new(until: DateTime<Utc>, length: Duration, writer: mpsc::UnboundedSender<Op>) -> Self {
        Self { state: Mutex::new((until, length)), writer }
    }

    fn state(&self) -> MutexGuard<'_, (DateTime<Utc>, Duration)> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// When the lease ends, and how long a renewal lasts.
    pub(super) fn get(&self) -> (DateTime<Utc>, Duration) {
        *self.state()
    }

    pub(super) fn renewed(&self, until: DateTime<Utc>, length: Duration) {
        *self.state() = (until, length);
    }
}

impl WorkerLink for Lease {
    fn record(&self, status: TaskStatus) -> BoxFuture<'static, Result<()>> {
        let (done, written) = oneshot::channel();
        let sent = self.writer.send(Op::Status(Box::new(status), Some(done)));
        Box::pin(async move {
            sent.map_err(|_| Error::Closed("worker"))?;
            written.await.map_err(|_| Error::Closed("worker"))
        })
    }

    fn lease_length(&self) -> Duration {
        self.get().1
    }

    fn lease_renewed(&self, until: DateTime<Utc>, length: Duration) {
        self.renewed(until, length);
    }
}

/// Renews each held lease when less than half of it is left, for its length
/// (the task's `visibility_timeout`, or the worker's lease).
pub(super) async fn keep(shared: Arc<Shared>) {
    let shortest = shared
        .registry
        .iter()
        .filter_map(|r| r.options().visibility_timeout)
        .chain([shared.config.lease])
        .min()
        .unwrap_or(shared.config.lease);
    let tick = (shortest / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
    let mut every = tokio::time::interval(tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let now = Utc::now();
        let due: Vec<_> = shared
            .held()
            .values()
            .filter_map(|held| {
                let (until, length) = held.lease.get();
                let half = chrono::Duration::from_std(length / 2).unwrap_or(chrono::Duration::MAX);
                (until - now < half)
                    .then(|| (held.receipt.clone(), Arc::clone(&held.lease), held.cancel.clone(), length))
            })
            .collect();
        for (receipt, lease, cancel, length) in due {
            match shared.stem.broker().extend_lease(&receipt, length).await {
                Ok(until) => lease.renewed(until, length),
                Err(Error::LeaseLost(id)) => {
                    tracing::warn!(task = %id, "lease lost: the task was delivered again elsewhere; asking it to stop");
                    cancel.cancel();
                    lease.renewed(chrono::DateTime::<Utc>::MAX_UTC, length);
                }
                Err(error) => tracing::warn!(task = %receipt.id, %error, "renewing a lease failed; will try again"),
            }
        }
    }
}
