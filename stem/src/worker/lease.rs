//! Leases: each held delivery's [`Lease`] (also the running task's link to
//! the worker), and the keeper that renews them.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::hooks::Hooks;
use super::settle::Op;
use super::{Shared, WorkerEvent};
use crate::backend::TaskStatus;
use crate::error::{Error, Result};
use crate::task::WorkerLink;

/// A delivery's lease as the worker tracks it: when it ends and how long each
/// renewal lasts. Shared between the lease keeper and the running task's
/// context, whose link to the worker it is (the context records statuses
/// through the worker's writer, and renews the lease itself on request).
///
/// The end is a deadline on this machine's monotonic clock, taken from when
/// the claim or renewal was asked for (so never later than the store's end),
/// not the store's end time: a worker whose wall clock is behind the store's
/// would otherwise renew too late, and its tasks would run twice.
#[derive(Debug)]
pub(super) struct Lease {
    state: Mutex<(Instant, Duration)>,
    writer: mpsc::UnboundedSender<Op>,
    /// The worker's hooks, for the task's own events (a workflow's steps).
    hooks: Option<Arc<Hooks>>,
}

impl Lease {
    pub(super) fn new(
        ends: Instant,
        length: Duration,
        writer: mpsc::UnboundedSender<Op>,
        hooks: Option<Arc<Hooks>>,
    ) -> Self {
        Self { state: Mutex::new((ends, length)), writer, hooks }
    }

    fn state(&self) -> MutexGuard<'_, (Instant, Duration)> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// When the lease ends at the latest, and how long a renewal lasts.
    pub(super) fn get(&self) -> (Instant, Duration) {
        *self.state()
    }

    /// Notes a renewal for `length`, asked for at `asked`.
    pub(super) fn renewed(&self, asked: Instant, length: Duration) {
        *self.state() = (asked + length, length);
    }

    /// Notes that the lease is gone: the keeper stops renewing it.
    fn forget(&self) {
        let mut state = self.state();
        state.0 = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
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

    fn lease_renewed(&self, asked: Instant, length: Duration) {
        self.renewed(asked, length);
    }

    fn emit(&self, event: WorkerEvent) {
        if let Some(hooks) = &self.hooks {
            hooks.emit(event);
        }
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
        let now = Instant::now();
        let due: Vec<_> = shared
            .held()
            .values()
            .filter_map(|held| {
                let (ends, length) = held.lease.get();
                (ends.saturating_duration_since(now) < length / 2).then(|| {
                    (
                        held.receipt.clone(),
                        Arc::clone(&held.lease),
                        held.cancel.clone(),
                        length,
                        Arc::clone(&held.envelope),
                    )
                })
            })
            .collect();
        for (receipt, lease, cancel, length, envelope) in due {
            let asked = Instant::now();
            match shared.stem.broker().extend_lease(&receipt, length).await {
                Ok(_) => {
                    lease.renewed(asked, length);
                    shared.emit(|| WorkerEvent::LeaseRenewed { envelope });
                }
                Err(Error::LeaseLost(id)) => {
                    tracing::warn!(task = %id, "lease lost: the task was delivered again elsewhere; asking it to stop");
                    cancel.cancel();
                    lease.forget();
                }
                Err(error) => tracing::warn!(task = %receipt.id, %error, "renewing a lease failed; will try again"),
            }
        }
    }
}
