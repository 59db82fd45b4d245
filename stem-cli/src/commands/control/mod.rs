//! `worker ping|stats|inspect|pause|resume|grow|shrink|shutdown|revoke`: the
//! control plane from the shell. Each command sends one request to every
//! worker with a live heartbeat, or to those `--worker` names, waits for
//! their replies up to `--timeout`, prints them (`render.rs`) and fails if
//! an addressed worker did not answer or none carried the command out.

mod render;

use std::time::Duration;

use clap::{ArgMatches, Args, Command, FromArgMatches as _, Subcommand, ValueEnum};
use stem::control::Replies;
use stem::revoke::Terminate;
use stem::{ShutdownMode, TaskId};

use super::result::parse_id;
use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::parse_duration;

// The control commands, under `worker` (plain comments here and on the
// argument structs: a doc comment would become the about text of `worker`
// and of the commands).
#[derive(Debug, Subcommand)]
enum Control {
    /// Asks the running workers to answer
    Ping(Target),
    /// Each worker's counts: processed, succeeded, failed, in flight, uptime, pool size, memory
    Stats(Target),
    /// The deliveries each worker holds (running, or reserved and waiting for a slot) and those scheduled on its queues (due later)
    Inspect(Target),
    /// Stops delivery from a queue (deliveries already received go back to it)
    Pause(QueueArgs),
    /// Restarts delivery from a paused queue
    Resume(QueueArgs),
    /// Grows each worker's pool by N slots
    Grow(PoolArgs),
    /// Shrinks each worker's pool by N slots (running tasks finish)
    Shrink(PoolArgs),
    /// Stops workers: warm (running tasks finish), soft (they go back to the queue) or hard
    Shutdown(ShutdownArgs),
    /// Revokes tasks: one that has not started never runs; with --terminate a running one is stopped
    Revoke(RevokeArgs),
}

// Which workers to ask and how long to wait.
#[derive(Debug, Args)]
struct Target {
    /// Ask only the worker with this id (repeat for more) [default: every worker with a live heartbeat]
    #[arg(short = 'w', long = "worker", value_name = "ID")]
    workers: Vec<String>,
    /// Wait at most this long for the replies
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    timeout: Duration,
}

// `pause` and `resume`.
#[derive(Debug, Args)]
struct QueueArgs {
    /// The queue, or a routing file's alias of it
    #[arg(value_name = "QUEUE")]
    queue: String,
    #[command(flatten)]
    target: Target,
}

// `grow` and `shrink`.
#[derive(Debug, Args)]
struct PoolArgs {
    /// How many slots
    #[arg(value_name = "N", value_parser = slots)]
    n: usize,
    #[command(flatten)]
    target: Target,
}

// `shutdown`.
#[derive(Debug, Args)]
struct ShutdownArgs {
    /// warm: running tasks finish; soft: they are cancelled and go back to the queue; hard: at once
    #[arg(long, value_enum, default_value_t = Mode::Warm)]
    mode: Mode,
    #[command(flatten)]
    target: Target,
}

// `revoke`.
#[derive(Debug, Args)]
struct RevokeArgs {
    /// The ids of the tasks to revoke
    #[arg(value_name = "TASK_ID", required = true, value_parser = parse_id)]
    ids: Vec<TaskId>,
    /// Also stop them if they run: soft (their context reports cancellation) or hard (dropped at once) [default: a running task finishes]
    #[arg(long, value_enum, value_name = "HOW")]
    terminate: Option<Stop>,
    /// How long the revokes hold (a worker that starts within it still honours them)
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_duration)]
    keep: Duration,
    #[command(flatten)]
    target: Target,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Warm,
    Soft,
    Hard,
}

/// `--terminate`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Stop {
    Soft,
    Hard,
}

/// A number of slots, 1 or more.
fn slots(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a number of slots (1 or more)")),
    }
}

/// `runner` (the `worker` command) with the control commands.
pub(super) fn commands(runner: Command) -> Command {
    Control::augment_subcommands(runner)
}

impl Control {
    fn target(&self) -> &Target {
        match self {
            Self::Ping(t) | Self::Stats(t) | Self::Inspect(t) => t,
            Self::Pause(q) | Self::Resume(q) => &q.target,
            Self::Grow(p) | Self::Shrink(p) => &p.target,
            Self::Shutdown(s) => &s.target,
            Self::Revoke(r) => &r.target,
        }
    }
}

/// Runs the control command of `matches` (the `worker` command's).
pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let command = Control::from_arg_matches(matches).map_err(Failure::usage)?;
    let stem = ctx.stem().await?;
    let target = command.target();
    let control = stem.control().to(target.workers.clone()).timeout(target.timeout);
    let queue = |name: &str| match ctx.routing() {
        Some((_, routing)) => routing.resolve(name).to_owned(),
        None => name.to_owned(),
    };
    let replies = match &command {
        Control::Ping(_) => control.ping().await,
        Control::Stats(_) => control.stats().await,
        Control::Inspect(_) => control.inspect().await,
        Control::Pause(q) => control.pause(&queue(&q.queue)).await,
        Control::Resume(q) => control.resume(&queue(&q.queue)).await,
        Control::Grow(p) => control.grow(p.n).await,
        Control::Shrink(p) => control.shrink(p.n).await,
        Control::Shutdown(s) => control.shutdown(s.mode.into()).await,
        Control::Revoke(r) => {
            let terminate = r.terminate.map_or(Terminate::No, Into::into);
            control.revoke(&r.ids, terminate, r.keep).await
        }
    }?;
    render::print(ctx, &command, &replies)?;
    verdict(&command, &replies)
}

/// Exit 1 if an addressed worker did not answer, if no worker is live (but
/// for `revoke`, whose revokes are stored anyway), or if none of those that
/// answered carried the command out.
fn verdict(command: &Control, replies: &Replies) -> Outcome {
    let revoke = matches!(command, Control::Revoke(_));
    if !replies.missing.is_empty() {
        let stored = if revoke { " (the revokes are stored: a worker honours them within 30s)" } else { "" };
        let wait = humantime::format_duration(command.target().timeout);
        return Err(Failure::failed(format!("no answer within {wait} from {}{stored}", replies.missing.join(", "))));
    }
    if replies.replies.is_empty() {
        return if revoke { Ok(()) } else { Err(Failure::failed(render::NO_LIVE_WORKERS)) };
    }
    if replies.replies.iter().all(|r| !r.ok) {
        let why: Vec<String> = replies
            .replies
            .iter()
            .map(|r| format!("{}: {}", r.worker, r.error.as_deref().unwrap_or("refused")))
            .collect();
        return Err(Failure::failed(format!("no worker carried it out ({})", why.join("; "))));
    }
    Ok(())
}

impl From<Mode> for ShutdownMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Warm => Self::Warm,
            Mode::Soft => Self::Soft,
            Mode::Hard => Self::Hard,
        }
    }
}

impl From<Stop> for Terminate {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Soft => Self::Soft,
            Stop::Hard => Self::Hard,
        }
    }
}
