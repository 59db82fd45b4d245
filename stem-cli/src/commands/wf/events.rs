//! `wf emit|waiters`: events sent from the shell (checked against the
//! topic's type when this binary declares it) and the runs waiting for them.

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use serde_json::{Value, json};
use stem::workflow::{RunFilter, RunState, RunStatus};

use crate::catalog::unknown;
use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::{ago, table};

pub(super) fn commands() -> [Command; 2] {
    [
        Command::new("emit")
            .about("Sends an event to the runs waiting for it now; the payload is checked against the topic's type")
            .arg(Arg::new("topic").required(true).value_name("TOPIC"))
            .arg(Arg::new("payload").long("payload").required(true).value_name("JSON").help("The event's value"))
            .arg(
                Arg::new("raw")
                    .long("raw")
                    .action(ArgAction::SetTrue)
                    .help("Send to a topic this binary does not know, unchecked"),
            ),
        Command::new("waiters")
            .about("Runs waiting for events: on one topic, or every suspended run with the topic it waits for")
            .arg(Arg::new("topic").long("topic").value_name("TOPIC"))
            .arg(
                Arg::new("limit").long("limit").value_name("N").default_value("50").value_parser(value_parser!(usize)),
            ),
    ]
}

pub(super) async fn emit(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let topic = matches.get_one::<String>("topic").map(String::as_str).unwrap_or_default();
    let text = matches.get_one::<String>("payload").map(String::as_str).unwrap_or("null");
    let payload: Value =
        serde_json::from_str(text).map_err(|e| Failure::usage(format!("--payload: `{text}` is not JSON ({e})")))?;
    let payload = match ctx.catalog.event(topic) {
        Some(event) => event.check(&payload).map_err(|e| Failure::from(e).context("--payload"))?,
        None if matches.get_flag("raw") => payload,
        None => {
            let mut message = unknown("event topic", topic, ctx.catalog.events().iter().map(|e| e.name()));
            message.push_str(" (declare it with #[stem::event], or send it unchecked with --raw)");
            return Err(Failure::usage(message));
        }
    };
    let resumed = ctx.stem().await?.emit_json(topic, payload).await?;
    ctx.out.either(&json!({ "topic": topic, "resumed": resumed }), || format!("`{topic}`: resumed {resumed} runs"))
}

pub(super) async fn waiters(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let stem = ctx.stem().await?;
    let limit = matches.get_one::<usize>("limit").copied().unwrap_or(50);
    if let Some(topic) = matches.get_one::<String>("topic") {
        let watchers = stem.workflows().list_watchers(topic, limit).await?;
        return ctx.out.either(&watchers, || {
            if watchers.is_empty() {
                return format!("no run waits for `{topic}`");
            }
            let mut t = table(["RUN", "STEP", "DEADLINE", "WAITING SINCE"]);
            for w in &watchers {
                t.add_row([
                    w.run.to_string(),
                    w.watch.step.clone(),
                    w.deadline.map(ago).unwrap_or_default(),
                    ago(w.created_at),
                ]);
            }
            t.to_string()
        });
    }
    let filter = RunFilter::new().status(RunStatus::Suspended).page(limit, 0);
    let runs: Vec<RunState> =
        stem.workflows().list_runs(&filter).await?.into_iter().filter(|r| r.wait_topic.is_some()).collect();
    let shown: Vec<Value> = runs
        .iter()
        .map(|r| json!({ "run": r.id, "workflow": r.workflow, "topic": r.wait_topic, "resume_at": r.resume_at }))
        .collect();
    ctx.out.either(&shown, || {
        if runs.is_empty() {
            return "no run waits for an event".to_owned();
        }
        let mut t = table(["RUN", "WORKFLOW", "TOPIC", "DEADLINE", "SUSPENDED"]);
        for r in &runs {
            t.add_row([
                r.id.to_string(),
                r.workflow.clone(),
                r.wait_topic.clone().unwrap_or_default(),
                r.resume_at.map(ago).unwrap_or_default(),
                r.suspended_at.map(ago).unwrap_or_default(),
            ]);
        }
        t.to_string()
    })
}
