//! `wf`: workflow runs from the shell. Starting one (checked against the
//! linked workflow's arguments) is `start`; reading and steering runs is
//! `runs`; events and the runs waiting for them are `events`.

mod events;
mod runs;
mod start;

use clap::{ArgMatches, Command};

use crate::catalog::Catalog;
use crate::context::Context;
use crate::error::{Failure, Outcome};

pub(super) fn command(catalog: &Catalog) -> Command {
    Command::new("wf")
        .about("Starts, lists, shows, cancels and rewinds workflow runs; emits events")
        .subcommand_required(true)
        .subcommand(start::command(catalog))
        .subcommands(runs::commands())
        .subcommands(events::commands())
}

pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let (name, sub) = matches.subcommand().ok_or_else(|| Failure::usage("name a wf command"))?;
    match name {
        "start" => start::run(ctx, sub).await,
        "emit" => events::emit(ctx, sub).await,
        "waiters" => events::waiters(ctx, sub).await,
        _ => runs::run(ctx, name, sub).await,
    }
}
