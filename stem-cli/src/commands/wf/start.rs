//! `wf start`: a subcommand per linked workflow with its arguments as
//! flags, checked against the workflow's own types before the run starts.

use std::time::Duration;

use clap::{Arg, ArgMatches, Command, value_parser};
use serde_json::{Value, json};
use stem::Error;
use stem::workflow::{WorkflowHandle, WorkflowRegistration};

use crate::catalog::{Catalog, arg_flags, explain, json_from_flags, unknown};
use crate::commands::result::wait_flags;
use crate::context::Context;
use crate::error::{Failure, Outcome};

/// `wf start`: a subcommand per linked workflow, its arguments as flags; with
/// none linked (the bare `stem` binary), any name with `--params` as given.
pub(super) fn command(catalog: &Catalog) -> Command {
    if catalog.workflows().is_empty() {
        return Command::new("start")
            .about("Starts a workflow run by name, its --params sent as given (this binary links no workflow)")
            .arg(Arg::new("workflow").required(true).value_name("WORKFLOW").help("The workflow's name"))
            .arg(params_flag().required(true))
            .arg(
                Arg::new("queue")
                    .long("queue")
                    .value_name("QUEUE")
                    .default_value("default")
                    .help("The queue its executions go to"),
            )
            .args(wait_flags());
    }
    let mut start = Command::new("start")
        .about("Starts a workflow run; its arguments are checked against the workflow's own types first")
        .subcommand_required(true)
        .subcommand_value_name("WORKFLOW")
        .subcommand_help_heading("Workflows")
        .allow_external_subcommands(true)
        .external_subcommand_value_parser(value_parser!(String));
    for workflow in catalog.workflows() {
        let named =
            Command::new(workflow.name()).about(workflow.doc().to_owned()).args(arg_flags(workflow.args(), "params"));
        start = start.subcommand(named.arg(params_flag()).args(wait_flags()));
    }
    start
}

fn params_flag() -> Arg {
    Arg::new("params")
        .long("params")
        .value_name("JSON")
        .help_heading("Arguments")
        .help("All the arguments as one JSON value (an object for several)")
}

pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let (name, handle, call) = match matches.try_get_one::<String>("workflow").ok().flatten() {
        Some(name) => (name.as_str(), start_unlinked(ctx, name, matches).await?, matches),
        None => {
            let (name, call) = matches.subcommand().ok_or_else(|| Failure::usage("name the workflow to start"))?;
            let Some(workflow) = ctx.catalog.workflow(name) else {
                return Err(Failure::usage(unknown(
                    "workflow",
                    name,
                    ctx.catalog.workflows().iter().map(|w| w.name()),
                )));
            };
            (name, start_linked(ctx, workflow, call).await?, call)
        }
    };
    let run = handle.id();
    if !call.get_flag("wait") {
        return ctx.out.either(&json!({ "run": run, "workflow": name }), || format!("started {name} run {run}"));
    }
    let timeout = call.get_one::<Duration>("timeout").copied().unwrap_or(Duration::from_secs(30));
    let result = handle.wait_timeout(timeout).await.map_err(|e| match e {
        Error::Timeout { .. } => {
            Failure::failed(format!("run {run} did not end within {}", humantime::format_duration(timeout)))
        }
        other => Failure::failed(other),
    })?;
    let done = json!({ "run": run, "workflow": name, "status": "completed", "result": result });
    ctx.out.either(&done, || serde_json::to_string_pretty(&result).unwrap_or_default())
}

async fn start_linked(
    ctx: &Context,
    workflow: &WorkflowRegistration,
    call: &ArgMatches,
) -> Outcome<WorkflowHandle<Value>> {
    let params = match call.get_one::<String>("params") {
        Some(text) => json_param(text)?,
        None => json_from_flags(workflow.args(), call),
    };
    let stem = ctx.stem().await?;
    workflow.start_json(&stem, &params).await.map_err(|e| match e {
        Error::Args { name, error } => Failure::usage(explain(workflow.args(), &name, &error)).context("--params"),
        other => Failure::from(other),
    })
}

/// A workflow this binary does not link (the bare `stem` binary): started
/// with `--params` as given, on `--queue`.
async fn start_unlinked(ctx: &Context, name: &str, call: &ArgMatches) -> Outcome<WorkflowHandle<Value>> {
    let params = json_param(call.get_one::<String>("params").map(String::as_str).unwrap_or("null"))?;
    let queue = call.get_one::<String>("queue").map(String::as_str).unwrap_or("default");
    eprintln!("note: workflow `{name}` is not linked into this binary: its arguments are sent as given, unchecked");
    Ok(ctx.stem().await?.start_workflow_json(name, queue, params).await?)
}

fn json_param(text: &str) -> Outcome<Value> {
    serde_json::from_str(text).map_err(|e| Failure::usage(format!("--params: `{text}` is not JSON ({e})")))
}
