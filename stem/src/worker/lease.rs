//! The lease keeper: renews the leases of every delivery a worker holds.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::Shared;
use crate::error::Error;

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
