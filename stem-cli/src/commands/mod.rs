//! The commands, one file each; `tree` assembles them, `run` dispatches.

mod beat;
mod completions;
mod control;
mod dashboard;
mod dlq;
mod enqueue;
mod health;
mod observe;
mod result;
mod routing;
mod schedule;
mod tasks;
mod wf;
mod worker;

use clap::{ArgMatches, Command};

use crate::catalog::Catalog;
use crate::context::Context;
use crate::error::{Failure, Outcome};

/// `root` with every command.
pub(crate) fn tree(root: Command, catalog: &Catalog) -> Command {
    root.subcommand(worker::command())
        .subcommand(tasks::command())
        .subcommand(enqueue::command(catalog))
        .subcommands(result::commands())
        .subcommand(dlq::command())
        .subcommand(observe::command())
        .subcommand(wf::command(catalog))
        .subcommand(routing::command())
        .subcommand(schedule::command())
        .subcommand(beat::command())
        .subcommand(dashboard::command())
        .subcommand(health::command())
        .subcommand(completions::command())
}

/// Runs the command `name` with its matches; `whole` builds the whole
/// command tree (for the completion scripts).
pub(crate) async fn run(ctx: &Context, name: &str, matches: &ArgMatches, whole: fn(&Catalog) -> Command) -> Outcome {
    match name {
        "worker" => worker::run(ctx, matches).await,
        "tasks" => tasks::run(ctx, matches),
        "enqueue" => enqueue::run(ctx, matches).await,
        "status" | "result" => result::run(ctx, name, matches).await,
        "dlq" => dlq::run(ctx, matches).await,
        "observe" => observe::run(ctx, matches).await,
        "wf" => wf::run(ctx, matches).await,
        "routing" => routing::run(ctx),
        "schedule" => schedule::run(ctx, matches).await,
        "beat" => beat::run(ctx).await,
        "dashboard" => dashboard::run(ctx, matches).await,
        "health" => health::run(ctx).await,
        "completions" => completions::run(ctx, matches, whole),
        other => Err(Failure::usage(format!("unknown command `{other}`"))),
    }
}
