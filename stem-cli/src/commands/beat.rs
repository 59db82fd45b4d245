//! `beat`: a Beat scheduler alone, firing the store's schedules until Ctrl-C
//! or SIGTERM and logging each minute what it did. (`worker --beat` runs one
//! beside a worker instead.)

use clap::Command;
use stem::beat::Scheduler;

use crate::context::Context;
use crate::error::{Failure, Outcome};

pub(super) fn command() -> Command {
    Command::new("beat")
        .about("Runs a Beat scheduler alone: enqueues the store's due schedules until Ctrl-C or SIGTERM")
        .long_about(
            "Runs a Beat scheduler alone: puts the schedules tasks declare, then enqueues the tasks of the store's \
         due schedules until Ctrl-C or SIGTERM (it stops after its current tick), logging at info (-v) each \
         minute how many it enqueued. Any number of schedulers may share one store: each fire is enqueued once.",
        )
}

pub(super) async fn run(ctx: &Context) -> Outcome {
    let mut signals = Signals::install()?;
    let stem = ctx.stem().await?;
    let running = Scheduler::new(&stem).spawn();
    eprintln!("beat fires the schedules in the store; Ctrl-C or SIGTERM stops it after its current tick");
    signals.recv().await;
    tracing::info!("signal received; stopping after this tick");
    // A tick is not cut short (a claimed fire would be lost); a second
    // signal during one stops at once.
    tokio::select! {
        () = running.stop() => {}
        () = signals.recv() => return Err(Failure::failed("stopped by a second signal during a tick")),
    }
    eprintln!("beat stopped");
    Ok(())
}

/// SIGTERM and SIGINT (Ctrl-C), installed before anything starts.
pub(super) struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub(super) fn install() -> Outcome<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let cannot = |e: std::io::Error| Failure::failed(format!("cannot install the signal handlers: {e}"));
            Ok(Self {
                term: signal(SignalKind::terminate()).map_err(cannot)?,
                int: signal(SignalKind::interrupt()).map_err(cannot)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next signal.
    pub(super) async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
