//! Shutdown modes and the OS signals that trigger them.

use tokio::sync::watch;

/// How a worker stops. A later, stronger mode escalates an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownMode {
    /// Stop taking work and let running tasks finish (SIGTERM). Prefetched tasks
    /// that have not started go back to the queue.
    Warm,
    /// Stop taking work, cancel running tasks at their next await point and put
    /// them back on the queue (SIGINT).
    Soft,
    /// Put every held task back on the queue at once, without waiting for running
    /// ones to reach an await point (a second signal).
    Hard,
}

/// The shutdown level a worker's parts watch: `None` while running.
pub(crate) type Level = Option<ShutdownMode>;

/// Raises the level, never lowers it.
pub(crate) fn escalate(tx: &watch::Sender<Level>, mode: ShutdownMode) {
    tx.send_if_modified(|level| {
        if level.is_none_or(|current| mode > current) {
            *level = Some(mode);
            true
        } else {
            false
        }
    });
}

/// Waits until the level is at least `mode`.
pub(crate) async fn reached(rx: &mut watch::Receiver<Level>, mode: ShutdownMode) {
    let _closed = rx.wait_for(|level| level.is_some_and(|l| l >= mode)).await;
}

/// Turns SIGTERM into a warm shutdown and SIGINT (Ctrl-C) into a soft one; any
/// further signal makes it hard. Runs until the worker ends.
pub(crate) async fn listen_for_signals(tx: watch::Sender<Level>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            tracing::warn!("cannot install signal handlers; stop the worker through its handle");
            return;
        };
        loop {
            let mode = tokio::select! {
                Some(()) = term.recv() => ShutdownMode::Warm,
                Some(()) = int.recv() => ShutdownMode::Soft,
                else => return,
            };
            let mode = if tx.borrow().is_some() { ShutdownMode::Hard } else { mode };
            tracing::info!(?mode, "signal received, shutting down");
            escalate(&tx, mode);
        }
    }
    #[cfg(not(unix))]
    loop {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        let mode = if tx.borrow().is_some() { ShutdownMode::Hard } else { ShutdownMode::Soft };
        escalate(&tx, mode);
    }
}
