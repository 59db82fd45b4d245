//! What every worker running workflows does besides executing them: wake
//! runs whose timer is due, re-enqueue runs whose execution message was lost,
//! and delete runs that ended longer ago than the retention. No leader: the
//! store hands each due run to one caller.

use std::time::Duration;

use super::resume::continue_runs;
use crate::clock::before;
use crate::stem::Stem;

/// The most runs woken per store call.
const BATCH: usize = 256;

/// How often a worker looks for lost runs. A run waiting behind a long backlog
/// looks lost too and gets a second execution message, which is harmless (the
/// second execution finds the run held or ended) but costs work, hence rarely.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Wakes due runs every `every` (and at once when a fake clock jumps); once a
/// minute, re-enqueues runs nobody has touched for `lost_after` and deletes
/// runs that ended more than `retention` ago. Runs until dropped.
pub(crate) async fn keep(stem: Stem, every: Duration, lost_after: Duration, retention: Duration) {
    let clock = std::sync::Arc::clone(stem.clock());
    // The first pass sweeps at once, then once a minute.
    let mut swept = tokio::time::Instant::now().checked_sub(SWEEP_EVERY).unwrap_or_else(tokio::time::Instant::now);
    loop {
        let jumped = clock.jumps().map(tokio::sync::Notify::notified);
        let mut jumped = std::pin::pin!(jumped);
        if let Some(jumped) = jumped.as_mut().as_pin_mut() {
            jumped.enable();
        }
        let sweep = swept.elapsed() >= SWEEP_EVERY;
        if sweep {
            swept = tokio::time::Instant::now();
        }
        // The store's time, measured at the start and, on a clock that moves
        // by itself, at every sweep (so that a clock stepped by hand or by NTP
        // is followed); a fake clock keeps its first measure.
        if ((sweep && clock.jumps().is_none()) || !stem.clock_synced())
            && let Err(error) = stem.sync_clock().await
        {
            tracing::warn!(%error, "reading the workflow store's time failed; trying again");
        }
        let now = stem.now();
        loop {
            match stem.workflows().due_runs(now, BATCH).await {
                Ok(due) => {
                    let n = due.len();
                    if let Err(error) = continue_runs(&stem, due).await {
                        tracing::warn!(%error, "enqueueing due workflow runs failed; they are picked up as lost runs");
                    }
                    if n < BATCH {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "looking for due workflow runs failed");
                    break;
                }
            }
        }
        let idle_since = before(now, lost_after);
        match if sweep { stem.workflows().stale_runs(idle_since, now, BATCH).await } else { Ok(Vec::new()) } {
            Ok(lost) if !lost.is_empty() => {
                tracing::info!(runs = lost.len(), "re-enqueueing workflow runs whose execution was lost");
                if let Err(error) = continue_runs(&stem, lost).await {
                    tracing::warn!(%error, "re-enqueueing lost workflow runs failed");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "looking for lost workflow runs failed"),
        }
        if sweep {
            let ended_before = before(now, retention);
            match stem.workflows().prune_runs(ended_before, 1000).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(runs = n, "deleted workflow runs past their retention"),
                Err(error) => tracing::warn!(%error, "deleting old workflow runs failed"),
            }
        }
        match jumped.as_pin_mut() {
            Some(jumped) => {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = jumped => {}
                }
            }
            None => tokio::time::sleep(every).await,
        }
    }
}
