//! `tasks ls` and `tasks show NAME`: the tasks linked into this binary, with
//! each argument's name and Rust type.

use clap::{Arg, ArgMatches, Command};
use serde_json::{Value, json};
use stem::task::TaskRegistration;

use crate::catalog::unknown;
use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::table;

pub(super) fn command() -> Command {
    Command::new("tasks")
        .about("Lists the tasks linked into this binary, with their arguments' names and types")
        .subcommand_required(true)
        .subcommand(Command::new("ls").about("Lists every linked task"))
        .subcommand(
            Command::new("show")
                .about("Shows one task: arguments, output, options, where it is defined")
                .arg(Arg::new("name").required(true).value_name("NAME")),
        )
}

pub(super) fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    match matches.subcommand() {
        Some(("show", sub)) => {
            let name = sub.get_one::<String>("name").map(String::as_str).unwrap_or_default();
            let task = ctx
                .catalog
                .task(name)
                .ok_or_else(|| Failure::usage(unknown("task", name, ctx.catalog.tasks().map(|t| t.name()))))?;
            ctx.out.either(&detail(task), || shown(task))
        }
        _ => {
            let tasks: Vec<&TaskRegistration> = ctx.catalog.tasks().collect();
            let list: Vec<Value> = tasks.iter().map(|t| summary(t)).collect();
            ctx.out.either(&list, || {
                if tasks.is_empty() {
                    return "no tasks are linked into this binary (the `stem` binary links none: run your \
                            application's own binary, whose main calls stem_cli::run())"
                        .to_owned();
                }
                let mut t = table(["TASK", "QUEUE", "ARGUMENTS", "OUTPUT", "DOC"]);
                for task in &tasks {
                    t.add_row([task.name(), task.options().queue, &arguments(task), task.output_type(), task.doc()]);
                }
                t.to_string()
            })
        }
    }
}

/// `to: String, subject: String`.
fn arguments(task: &TaskRegistration) -> String {
    task.args().iter().map(|a| format!("{}: {}", a.name, a.ty)).collect::<Vec<_>>().join(", ")
}

/// What `tasks ls --json` gives per task.
fn summary(task: &TaskRegistration) -> Value {
    json!({
        "name": task.name(),
        "queue": task.options().queue,
        "args": task.args(),
        "output": task.output_type(),
        "doc": task.doc(),
    })
}

/// What `tasks show --json` gives: the summary, the options and the location.
fn detail(task: &TaskRegistration) -> Value {
    let o = task.options();
    let ms = |d: Option<std::time::Duration>| d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut value = summary(task);
    value["options"] = json!({
        "max_retries": o.max_retries,
        "retry_backoff_ms": ms(Some(o.retry.backoff)),
        "retry_backoff_max_ms": ms(Some(o.retry.backoff_max)),
        "retry_jitter": o.retry.jitter,
        "time_limit_ms": ms(o.time_limit),
        "soft_time_limit_ms": ms(o.soft_time_limit),
        "visibility_timeout_ms": ms(o.visibility_timeout),
        "priority": o.priority,
    });
    value["location"] = json!(task.location());
    value
}

fn shown(task: &TaskRegistration) -> String {
    let o = task.options();
    let limit = |d: Option<std::time::Duration>| {
        d.map_or_else(|| "none".to_owned(), |d| humantime::format_duration(d).to_string())
    };
    let mut out = format!("{}\n", task.name());
    if !task.doc().is_empty() {
        out.push_str(&format!("  {}\n", task.doc()));
    }
    out.push_str(&format!("  queue        {}\n", o.queue));
    for arg in task.args() {
        out.push_str(&format!("  {:<12} {}\n", format!("--{}", crate::catalog::flag(arg.name)), arg.ty));
    }
    out.push_str(&format!("  output       {}\n", task.output_type()));
    out.push_str(&format!(
        "  retries      {} (backoff {} to {}{})\n",
        o.max_retries,
        humantime::format_duration(o.retry.backoff),
        humantime::format_duration(o.retry.backoff_max),
        if o.retry.jitter { ", jittered" } else { "" }
    ));
    out.push_str(&format!("  time limit   {} (soft {})\n", limit(o.time_limit), limit(o.soft_time_limit)));
    out.push_str(&format!("  priority     {}\n", o.priority));
    out.push_str(&format!("  defined at   {}", task.location()));
    out
}
