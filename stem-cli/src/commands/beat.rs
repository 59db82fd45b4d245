//! `beat`: a Beat scheduler alone, firing the store's schedules until Ctrl-C
//! or SIGTERM and logging each minute what it did. (`worker --beat` runs one
//! beside a worker instead.)

use std::time::{Duration, Instant};

use clap::Command;
use stem::beat::{Scheduler, Tick};

use crate::context::Context;
use crate::error::{Failure, Outcome};

/// How often the scheduler looks for due fires, as `Scheduler::run` does.
const TICK: Duration = Duration::from_millis(100);

/// How often it logs its counts and measures the store's clock again.
const REPORT: Duration = Duration::from_secs(60);

pub(super) fn command() -> Command {
    Command::new("beat").about(
        "Runs a Beat scheduler: enqueues the tasks of the store's due schedules until Ctrl-C or SIGTERM \
         (any number may run on one store; each fire is enqueued once)",
    )
}

pub(super) async fn run(ctx: &Context) -> Outcome {
    let mut signals = Signals::install()?;
    let stem = ctx.stem().await?;
    let scheduler = Scheduler::new(&stem);
    eprintln!("beat fires the schedules in the store; Ctrl-C or SIGTERM stops it after its current tick");
    if let Err(error) = stem.sync_clock().await {
        tracing::warn!(%error, "reading the store's clock failed; the scheduler uses this machine's");
    }
    match scheduler.declare().await {
        Ok(0) => {}
        Ok(put) => tracing::info!(put, "put the schedules tasks declare"),
        Err(error) => tracing::error!(%error, "putting the schedules tasks declare failed"),
    }
    let mut minute = Tick::default();
    let mut since = Instant::now();
    let mut stopping = false;
    loop {
        // A tick is not cut short (a claimed fire would be lost): a signal
        // during one stops the loop after it; a second one stops at once.
        let tick = scheduler.tick();
        tokio::pin!(tick);
        let ticked = loop {
            tokio::select! {
                ticked = &mut tick => break ticked,
                () = signals.recv() => {
                    if stopping {
                        return Err(Failure::failed("stopped by a second signal during a tick"));
                    }
                    stopping = true;
                    tracing::info!("signal received; stopping after this tick");
                }
            }
        };
        let full = match ticked {
            Ok((tick, full)) => {
                add(&mut minute, tick);
                full
            }
            Err(error) => {
                tracing::warn!(%error, "a beat tick failed; trying again");
                false
            }
        };
        if since.elapsed() >= REPORT {
            report(&minute, since.elapsed());
            (minute, since) = (Tick::default(), Instant::now());
            if let Err(error) = stem.sync_clock().await {
                tracing::warn!(%error, "reading the store's clock failed");
            }
        }
        if stopping {
            break;
        }
        let pause = if full { Duration::ZERO } else { TICK };
        tokio::select! {
            () = signals.recv() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    report(&minute, since.elapsed());
    eprintln!("beat stopped");
    Ok(())
}

/// `tick`'s counts added to `total`'s.
fn add(total: &mut Tick, tick: Tick) {
    total.claimed += tick.claimed;
    total.lost += tick.lost;
    total.enqueued += tick.enqueued;
    total.skipped += tick.skipped;
    total.failed += tick.failed;
}

fn report(counts: &Tick, over: Duration) {
    tracing::info!(
        enqueued = counts.enqueued,
        claimed = counts.claimed,
        lost = counts.lost,
        skipped = counts.skipped,
        failed = counts.failed,
        seconds = over.as_secs(),
        "beat: {} fire(s) enqueued",
        counts.enqueued
    );
}

/// SIGTERM and SIGINT (Ctrl-C), installed before anything starts.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Outcome<Self> {
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
    async fn recv(&mut self) {
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
