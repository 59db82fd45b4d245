//! `worker`: runs a worker for the linked tasks and workflows until a signal,
//! and with `--beat` a Beat scheduler beside it. Its subcommands (`worker
//! ping|stats|...`) steer running workers instead: they live in `control/`.

use clap::{ArgMatches, Args, Command};
use stem::Worker;
use stem::beat::Scheduler;

use super::control;
use crate::args::parse;
use crate::catalog::unknown;
use crate::context::Context;
use crate::error::{Failure, Outcome};

/// Runs a worker until SIGTERM (warm: running tasks finish), SIGINT (soft:
/// they are cancelled and go back to the queue) or a second signal (hard);
/// its subcommands ask and steer the running workers
#[derive(Debug, Args)]
struct WorkerArgs {
    /// Consume this queue or alias (repeat for more) [default: the queues of its tasks and workflows, routed ones too]
    #[arg(short = 'q', long = "queue", value_name = "QUEUE")]
    queues: Vec<String>,
    /// Run at most N tasks at once [default: the number of CPUs]
    #[arg(short = 'c', long, value_name = "N")]
    concurrency: Option<usize>,
    /// Hold at most N deliveries at once [default: twice the concurrency]
    #[arg(long, value_name = "N")]
    prefetch: Option<usize>,
    /// Run only this task (repeat for more) [default: every linked task and workflow]
    #[arg(long = "task", value_name = "NAME")]
    tasks: Vec<String>,
    /// Serve Prometheus metrics on GET http://ADDR/metrics (e.g. 127.0.0.1:9464)
    #[arg(long, value_name = "ADDR", env = "STEM_METRICS_ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Also run a Beat scheduler in this process: it enqueues the tasks of the store's due schedules (as `beat` does) until the worker stops
    #[arg(long)]
    beat: bool,
}

/// `worker`: a runner with its flags, and a group of control commands; a
/// runner's flag given with a control command is refused.
pub(super) fn command() -> Command {
    let runner = WorkerArgs::augment_args(Command::new("worker"));
    control::commands(runner).args_conflicts_with_subcommands(true)
}

pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    if matches.subcommand().is_some() {
        return control::run(ctx, matches).await;
    }
    let args: WorkerArgs = parse(matches)?;
    if let Some(name) = args.tasks.iter().find(|n| ctx.catalog.task(n).is_none()) {
        return Err(Failure::usage(unknown("task", name, ctx.catalog.tasks().map(|t| t.name()))).context("--task"));
    }
    let stem = ctx.stem().await?;
    let mut builder = ctx.configure_worker(Worker::builder(&stem));
    if !args.queues.is_empty() {
        builder = builder.queues(args.queues);
    }
    if let Some(n) = args.concurrency {
        builder = builder.concurrency(n);
    }
    if let Some(n) = args.prefetch {
        builder = builder.prefetch(n);
    }
    if !args.tasks.is_empty() {
        builder = builder.only(args.tasks);
    }
    if let Some(addr) = args.metrics_addr {
        builder = builder.metrics_addr(addr);
    }
    let worker = builder.build()?;
    eprintln!(
        "worker {} consumes {}; runs {} tasks{}; SIGTERM stops it warm, Ctrl-C soft, a second signal hard",
        worker.id(),
        worker.queues().join(", "),
        worker.registry().len(),
        if args.beat { "; fires the store's schedules (--beat)" } else { "" }
    );
    // The scheduler knows every linked task, not only those `--task` keeps.
    let beat = args.beat.then(|| Scheduler::new(&stem).spawn());
    let ran = worker.run().await;
    if let Some(beat) = beat {
        beat.stop().await;
    }
    ran?;
    Ok(())
}
