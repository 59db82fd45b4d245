//! `wf ls|show|cancel|rewind`: reading and steering workflow runs.

use clap::{Arg, ArgMatches, Command, value_parser};
use serde_json::{Value, json};
use stem::Stem;
use stem::workflow::{RunFilter, RunId, RunState, RunStatus};

use crate::commands::result::parse_id;
use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::{ago, cut, table};

pub(super) fn commands() -> [Command; 4] {
    let run = || {
        Arg::new("run")
            .required(true)
            .value_name("RUN")
            .value_parser(parse_id)
            .help("The run's id, as `wf start` printed it")
    };
    let statuses = ["running", "suspended", "completed", "failed", "cancelled"];
    [
        Command::new("ls")
            .about("Lists runs, newest first")
            .arg(Arg::new("workflow").long("workflow").value_name("NAME").help("Only runs of this workflow"))
            .arg(
                Arg::new("status")
                    .long("status")
                    .value_name("STATUS")
                    .value_parser(statuses)
                    .help("Only runs in this status"),
            )
            .arg(
                Arg::new("limit").long("limit").value_name("N").default_value("50").value_parser(value_parser!(usize)),
            ),
        Command::new("show").about("Shows a run and its steps in order, with their values and times").arg(run()),
        Command::new("cancel").about("Cancels a run that has not ended").arg(run()),
        Command::new("rewind")
            .about("Runs a run again from one of its steps (its checkpoint and every later one are deleted)")
            .arg(run())
            .arg(
                Arg::new("step")
                    .long("step")
                    .required(true)
                    .value_name("STEP")
                    .help("A step's id (charge_card#0) or name"),
            ),
    ]
}

pub(super) async fn run(ctx: &Context, name: &str, matches: &ArgMatches) -> Outcome {
    match name {
        "ls" => list(ctx, matches).await,
        "show" => show(ctx, matches).await,
        "cancel" => cancel(ctx, matches).await,
        _ => rewind(ctx, matches).await,
    }
}

async fn list(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let mut filter = RunFilter::new().page(matches.get_one::<usize>("limit").copied().unwrap_or(50), 0);
    if let Some(workflow) = matches.get_one::<String>("workflow") {
        filter = filter.workflow(workflow.clone());
    }
    if let Some(status) = matches.get_one::<String>("status").and_then(|s| RunStatus::parse(s)) {
        filter = filter.status(status);
    }
    let runs = ctx.stem().await?.workflows().list_runs(&filter).await?;
    ctx.out.either(&runs, || {
        if runs.is_empty() {
            return "no runs".to_owned();
        }
        let mut t = table(["RUN", "WORKFLOW", "STATUS", "CREATED", "UPDATED", "ERROR"]);
        for r in &runs {
            let error = r.error.as_deref().map(|e| cut(e, 50)).unwrap_or_default();
            t.add_row([
                r.id.to_string(),
                r.workflow.clone(),
                r.status.to_string(),
                ago(r.created_at),
                ago(r.updated_at),
                error,
            ]);
        }
        t.to_string()
    })
}

async fn state(stem: &Stem, matches: &ArgMatches) -> Outcome<RunState> {
    let run = *matches.get_one::<RunId>("run").ok_or_else(|| Failure::usage("name the run"))?;
    stem.workflows().get_run(run).await?.ok_or_else(|| Failure::failed(format!("no workflow run {run} is known")))
}

async fn show(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let stem = ctx.stem().await?;
    let run = state(&stem, matches).await?;
    let steps = stem.workflows().checkpoints(run.id).await?;
    ctx.out.either(&json!({ "run": run, "steps": steps }), || {
        let mut out = format!(
            "{} run {}\n  status   {}\n  queue    {}\n  created  {}\n  updated  {}",
            run.workflow,
            run.id,
            run.status,
            run.queue,
            ago(run.created_at),
            ago(run.updated_at)
        );
        if let Some(topic) = &run.wait_topic {
            out.push_str(&format!("\n  waits    for `{topic}`"));
        }
        if let Some(at) = run.resume_at {
            out.push_str(&format!("\n  resumes  {}", ago(at)));
        }
        if let Some(error) = &run.error {
            out.push_str(&format!("\n  error    {error}"));
        }
        if let Some(result) = &run.result {
            out.push_str(&format!("\n  result   {}", cut(&result.to_string(), 100)));
        }
        let mut t = table(["#", "STEP", "OUTCOME", "ATTEMPTS", "RECORDED"]);
        for c in &steps {
            let attempts = c.value.get("attempts").map(Value::to_string).unwrap_or_default();
            t.add_row([c.position.to_string(), c.name.clone(), cut(&outcome(&c.value), 70), attempts, ago(c.at)]);
        }
        format!("{out}\n\n{t}")
    })
}

/// A checkpoint's value for people: a step's or a task's value or error,
/// a JSON task result decoded; an internal operation's value as recorded.
fn outcome(value: &Value) -> String {
    if let Some(error) = value.get("err") {
        return format!("error: {}", error.as_str().map_or_else(|| error.to_string(), str::to_owned));
    }
    let Some(ok) = value.get("ok") else { return value.to_string() };
    let json_payload =
        (ok.get("codec") == Some(&json!("json"))).then(|| ok.get("data").and_then(Value::as_str)).flatten();
    match json_payload.and_then(|data| serde_json::from_str::<Value>(data).ok()) {
        Some(decoded) => decoded.to_string(),
        None => ok.to_string(),
    }
}

async fn cancel(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let stem = ctx.stem().await?;
    let run = state(&stem, matches).await?;
    if !stem.workflow_handle::<Value>(run.id).cancel().await? {
        return Err(Failure::failed(format!("run {} has already ended ({})", run.id, run.status)));
    }
    ctx.out.either(&json!({ "run": run.id, "cancelled": true }), || format!("cancelled run {}", run.id))
}

async fn rewind(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let stem = ctx.stem().await?;
    let run = state(&stem, matches).await?;
    let step = matches.get_one::<String>("step").map(String::as_str).unwrap_or_default();
    stem.workflow_handle::<Value>(run.id).rewind_to(step).await?;
    ctx.out.either(&json!({ "run": run.id, "rewound_to": step }), || {
        format!("run {} runs again from step `{step}`", run.id)
    })
}
