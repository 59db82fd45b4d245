//! `enqueue TASK --<arg> VALUE ...`: enqueues a task from the shell, its
//! arguments decoded into the task's own `Args` before anything is sent.

use std::time::Duration;

use clap::{Arg, ArgMatches, Command, value_parser};
use serde_json::{Value, json};
use stem::TaskId;
use stem::codec::Payload;
use stem::envelope::Envelope;
use stem::task::{EnqueueOptions, TaskOptions};

use super::result::{eta, finished, parse_id, wait_flags};
use crate::catalog::{Catalog, arg_flags, explain, json_from_flags, unknown};
use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::parse_duration;

pub(super) fn command(catalog: &Catalog) -> Command {
    if catalog.tasks().next().is_none() {
        // No task is linked (the bare `stem` binary): any name, `--args` as given.
        let task = Arg::new("task").required(true).value_name("TASK").help("The task's name");
        let args = Arg::new("args")
            .long("args")
            .required(true)
            .value_name("JSON")
            .help("The arguments as JSON, sent unchecked");
        let flags = call_flags().into_iter().skip(1);
        return Command::new("enqueue")
            .about(
                "Enqueues a task by name, its --args sent as given (this binary links no task to check them against)",
            )
            .arg(task)
            .arg(args)
            .args(flags);
    }
    let mut enqueue = Command::new("enqueue")
        .about("Enqueues a task; its arguments are checked against the task's own types first")
        .long_about(
            "Enqueues a task. Each argument is --<name> VALUE (JSON if it parses as JSON, else text where the \
             argument is a string), or --args JSON gives them all. They are decoded into the task's own \
             arguments before anything is enqueued: a missing or mistyped one exits 64 and nothing is sent.",
        )
        .subcommand_required(true)
        .subcommand_value_name("TASK")
        .subcommand_help_heading("Tasks")
        .allow_external_subcommands(true)
        .external_subcommand_value_parser(value_parser!(String));
    for task in catalog.tasks() {
        let call = Command::new(task.name()).about(task.doc().to_owned()).args(arg_flags(task.args(), "args"));
        enqueue = enqueue.subcommand(call.args(call_flags()));
    }
    enqueue
}

/// The flags of every call: all arguments as JSON, when and where it runs,
/// and whether to wait for its result.
fn call_flags() -> Vec<Arg> {
    let mut flags = vec![
        Arg::new("args")
            .long("args")
            .value_name("JSON")
            .help_heading("Arguments")
            .help("All the arguments as one JSON value (an object for several)"),
        Arg::new("countdown")
            .long("countdown")
            .value_name("DURATION")
            .value_parser(parse_duration)
            .help("Run no sooner than this long from now (5s, 10m)"),
        Arg::new("eta")
            .long("eta")
            .value_name("TIME")
            .value_parser(eta)
            .help("Run no sooner than this time (ISO 8601)"),
        Arg::new("priority")
            .long("priority")
            .value_name("N")
            .value_parser(value_parser!(u8).range(0..=9))
            .help("0 (the default) to 9, higher first"),
        Arg::new("queue").long("queue").value_name("QUEUE").help("Another queue than the task's"),
        Arg::new("task-id")
            .long("task-id")
            .value_name("ID")
            .value_parser(parse_id)
            .help("The task's id (an idempotent enqueue)"),
    ];
    flags.extend(wait_flags());
    flags.into_iter().map(|f| if f.get_help_heading().is_none() { f.help_heading("Call options") } else { f }).collect()
}

pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    if let Some(name) = matches.try_get_one::<String>("task").ok().flatten() {
        return enqueue(ctx, unlinked(name, matches)?, matches).await;
    }
    let (name, call) = matches.subcommand().ok_or_else(|| Failure::usage("name the task to enqueue"))?;
    let envelope = match ctx.catalog.task(name) {
        Some(task) => {
            let args = match call.get_one::<String>("args") {
                Some(text) => json_arg(text)?,
                None => json_from_flags(task.args(), call),
            };
            task.envelope(&args, options(call)).map_err(|e| match e {
                stem::Error::Args { name, error } => Failure::usage(explain(task.args(), &name, &error)),
                other => Failure::from(other),
            })?
        }
        None => return Err(Failure::usage(unknown("task", name, ctx.catalog.tasks().map(|t| t.name())))),
    };
    enqueue(ctx, envelope, call).await
}

/// Enqueues `envelope`, and prints its id or, with `--wait`, its result.
async fn enqueue(ctx: &Context, envelope: Envelope, call: &ArgMatches) -> Outcome {
    let stem = ctx.stem().await?;
    let (id, task) = (envelope.id, envelope.task.clone());
    // Where the routing file sends it, if there is one.
    let routed = stem.routing().and_then(|routing| routing.destination_of(&envelope));
    let queues: Vec<String> = match &routed {
        Some(destination) => destination.targets.iter().map(|(queue, _)| queue.clone()).collect(),
        None => vec![envelope.queue.clone()],
    };
    let broadcast = routed.and_then(|destination| destination.broadcast);
    stem.enqueue_envelope(envelope).await?;
    if !call.get_flag("wait") {
        let queue = queues.first().cloned().unwrap_or_default();
        let mut enqueued = json!({ "id": id, "task": task, "queue": queue });
        if let Some(name) = &broadcast {
            enqueued["broadcast"] = json!({ "name": name, "queues": queues });
        }
        return ctx.out.either(&enqueued, || match &broadcast {
            Some(name) => format!(
                "enqueued {task} as {id} on queue {queue}, the first copy of broadcast {name} (queues {})",
                queues.join(", ")
            ),
            None => format!("enqueued {task} as {id} on queue {queue}"),
        });
    }
    let timeout = call.get_one::<Duration>("timeout").copied();
    let result = finished(&stem, &ctx.catalog, id, timeout).await?;
    let done = json!({ "id": id, "task": task, "state": "succeeded", "result": result });
    ctx.out.either(&done, || serde_json::to_string_pretty(&result).unwrap_or_default())
}

/// The per-call options the flags give.
fn options(call: &ArgMatches) -> EnqueueOptions {
    let mut options = EnqueueOptions::default();
    options.countdown = call.get_one::<Duration>("countdown").copied();
    options.eta = call.get_one::<chrono::DateTime<chrono::Utc>>("eta").copied();
    options.priority = call.get_one::<u8>("priority").copied();
    options.queue = call.get_one::<String>("queue").cloned();
    options.task_id = call.get_one::<TaskId>("task-id").copied();
    options
}

fn json_arg(text: &str) -> Outcome<Value> {
    serde_json::from_str(text).map_err(|e| Failure::usage(format!("--args: `{text}` is not JSON ({e})")))
}

/// The envelope of a call of a task this binary does not link, its
/// arguments as `--args` gives them, with the default task options.
fn unlinked(name: &str, call: &ArgMatches) -> Outcome<Envelope> {
    let args = json_arg(call.get_one::<String>("args").map(String::as_str).unwrap_or("null"))?;
    eprintln!("note: task `{name}` is not linked into this binary: its arguments are sent as given, unchecked");
    let payload = Payload::new("json", serde_json::to_vec(&args).unwrap_or_default());
    options(call).envelope(name, &TaskOptions::DEFAULT, payload).map_err(Failure::from)
}
