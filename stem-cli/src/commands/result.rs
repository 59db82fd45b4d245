//! `status ID` and `result ID [--wait]`: what the result backend knows of a
//! task, and its result decoded as the task's own output type.

use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{Value, json};
use stem::backend::{TaskState, TaskStatus};
use stem::codec::Payload;
use stem::{Stem, TaskFailure, TaskId};

use crate::catalog::Catalog;
use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::{ago, parse_duration, parse_time};

pub(super) fn commands() -> [Command; 2] {
    let id = || {
        Arg::new("id")
            .required(true)
            .value_name("ID")
            .value_parser(parse_id)
            .help("The task's id, as `enqueue` printed it")
    };
    [
        Command::new("status").about("Shows a task's state: attempt, progress, error, times").arg(id()),
        Command::new("result")
            .about("Prints a task's result, decoded as the task's own output type; exits 1 if it failed")
            .arg(id())
            .args(wait_flags()),
    ]
}

/// `--wait` and `--timeout`, shared with `enqueue` and `wf start`.
pub(crate) fn wait_flags() -> [Arg; 2] {
    [
        Arg::new("wait").long("wait").action(ArgAction::SetTrue).help("Wait until it ends, then print its result"),
        Arg::new("timeout")
            .long("timeout")
            .value_name("DURATION")
            .default_value("30s")
            .value_parser(parse_duration)
            .help("How long --wait waits"),
    ]
}

/// A task id, as the CLI reads it.
pub(crate) fn parse_id(text: &str) -> Result<TaskId, String> {
    text.parse::<TaskId>().map_err(|e| format!("`{text}` is not a task id ({e})"))
}

pub(super) async fn run(ctx: &Context, name: &str, matches: &ArgMatches) -> Outcome {
    let id = *matches.get_one::<TaskId>("id").ok_or_else(|| Failure::usage("an id is needed"))?;
    let stem = ctx.stem().await?;
    if name == "status" {
        let status = stem.backend().get(id).await?.ok_or_else(|| unknown(id))?;
        return ctx.out.either(&status, || described(&status));
    }
    let timeout = matches.get_flag("wait").then(|| *matches.get_one::<Duration>("timeout").unwrap_or(&WAIT));
    let value = finished(&stem, &ctx.catalog, id, timeout).await?;
    ctx.out.either(&value, || serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// How long `--wait` waits by default.
const WAIT: Duration = Duration::from_secs(30);

/// The result of task `id`, decoded as JSON, once it has ended (waiting up
/// to `wait` for that); a failure (exit 1) if it failed, expired or was
/// revoked, or has not ended.
pub(crate) async fn finished(stem: &Stem, catalog: &Catalog, id: TaskId, wait: Option<Duration>) -> Outcome<Value> {
    let status = match wait {
        Some(timeout) => stem.backend().wait(id, timeout).await?,
        None => stem.backend().get(id).await?,
    }
    .ok_or_else(|| unknown(id))?;
    if let Some(failure) = TaskFailure::from_status(&status) {
        return Err(Failure::failed(failure));
    }
    match status.state {
        TaskState::Succeeded => {
            let payload =
                status.result.ok_or_else(|| Failure::failed(format!("task {id} succeeded but stored no result")))?;
            decoded(catalog, &status.task, &payload)
        }
        state => Err(Failure::failed(match wait {
            Some(timeout) => format!("task {id} is {state} after {}", humantime::format_duration(timeout)),
            None => format!("task {id} is {state}: it has no result yet (--wait waits for it)"),
        })),
    }
}

/// A task's encoded result as JSON: decoded as the task's output type when
/// the task is linked, read as JSON when its codec is JSON, shown as the
/// stored payload otherwise.
fn decoded(catalog: &Catalog, task: &str, payload: &Payload) -> Outcome<Value> {
    if let Some(registration) = catalog.task(task) {
        return registration.output_json(payload).map_err(Failure::from);
    }
    if payload.codec() == "json" {
        return serde_json::from_slice(payload.bytes())
            .map_err(|e| Failure::failed(format!("the stored result is not JSON: {e}")));
    }
    Ok(json!(payload))
}

fn unknown(id: TaskId) -> Failure {
    Failure::failed(format!("no task {id} is known to the result backend (never enqueued, or its record expired)"))
}

fn described(status: &TaskStatus) -> String {
    let mut out = format!(
        "{} {}\n  state      {}\n  queue      {}\n  runs       {}\n  updated    {}",
        status.task,
        status.id,
        status.state,
        status.queue,
        status.attempt + 1,
        ago(status.updated_at)
    );
    if let Some(progress) = &status.progress {
        out.push_str(&format!("\n  progress   {:.0}%", progress.fraction * 100.0));
    }
    if let Some(error) = &status.error {
        out.push_str(&format!("\n  error      {}: {}", error.kind, error.message));
    }
    out
}

/// `--eta`'s parser, shared with `enqueue`.
pub(crate) fn eta(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    parse_time(text)
}
