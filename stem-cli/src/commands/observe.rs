//! `observe queues|workers|dlq [--watch D]`: what the stores hold now, once or
//! redrawn until Ctrl-C.

use std::io::IsTerminal;
use std::time::Duration;

use clap::{Arg, ArgMatches, Command};
use serde_json::{Value, json};
use stem::Stem;

use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::{ago, cut, parse_duration, table};

/// How many of each queue's newest dead letters `observe dlq` shows.
const NEWEST: usize = 5;

pub(super) fn command() -> Command {
    let watch = || {
        Arg::new("watch")
            .long("watch")
            .value_name("DURATION")
            .value_parser(parse_duration)
            .help("Redraw every DURATION (2s) until Ctrl-C")
    };
    Command::new("observe")
        .about("Shows queues, workers and dead letters now")
        .subcommand_required(true)
        .subcommand(
            Command::new("queues").about("Per queue: ready, delayed, leased and dead-lettered messages").arg(watch()),
        )
        .subcommand(Command::new("workers").about("Live workers, from their heartbeats").arg(watch()))
        .subcommand(
            Command::new("dlq").about("Per queue: dead letters, and the newest with their reasons").arg(watch()),
        )
}

pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let (name, sub) = matches.subcommand().ok_or_else(|| Failure::usage("name what to observe"))?;
    let stem = ctx.stem().await?;
    let watch = sub.get_one::<Duration>("watch").copied();
    loop {
        let (value, human) = match name {
            "queues" => queues(&stem).await?,
            "workers" => workers(&stem).await?,
            _ => dead_letters(&stem).await?,
        };
        let Some(every) = watch else {
            return ctx.out.either(&value, || human);
        };
        if ctx.out.json() {
            println!("{}", serde_json::to_string(&value).unwrap_or_default());
        } else {
            if std::io::stdout().is_terminal() {
                print!("\x1b[2J\x1b[H");
            }
            println!(
                "{} (every {}; Ctrl-C stops)\n{human}",
                chrono::Utc::now().format("%H:%M:%S"),
                humantime::format_duration(every)
            );
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn queues(stem: &Stem) -> Outcome<(Value, String)> {
    let queues = stem.queue_stats()?.queues().await?;
    let human = if queues.is_empty() {
        "no queues yet".to_owned()
    } else {
        let mut t = table(["QUEUE", "READY", "DELAYED", "LEASED", "DEAD"]);
        for q in &queues {
            t.add_row([
                q.queue.clone(),
                q.ready.to_string(),
                q.delayed.to_string(),
                q.leased.to_string(),
                q.dead.to_string(),
            ]);
        }
        t.to_string()
    };
    Ok((json!(queues), human))
}

async fn workers(stem: &Stem) -> Outcome<(Value, String)> {
    let beats = stem.backend().list_heartbeats().await?;
    let human = if beats.is_empty() {
        "no live workers (none has sent a heartbeat lately)".to_owned()
    } else {
        let mut t = table(["WORKER", "HOST", "PID", "QUEUES", "IN FLIGHT", "PROCESSED", "UP", "LAST SEEN"]);
        for b in &beats {
            t.add_row([
                b.worker_id.clone(),
                b.host.clone(),
                b.pid.to_string(),
                b.queues.join(", "),
                format!("{}/{}", b.inflight, b.concurrency),
                b.processed.to_string(),
                ago(b.started_at).trim_end_matches(" ago").to_owned(),
                ago(b.at),
            ]);
        }
        t.to_string()
    };
    Ok((json!(beats), human))
}

async fn dead_letters(stem: &Stem) -> Outcome<(Value, String)> {
    let queues = stem.queue_stats()?.queues().await?;
    let mut listed = Vec::new();
    let mut t = table(["QUEUE", "DEAD", "TASK ID", "TASK", "DEAD SINCE", "REASON"]);
    for q in queues.iter().filter(|q| q.dead > 0) {
        let page = stem.dead_letters()?.list_dead_letters(&q.queue, NEWEST, 0).await?;
        for (i, d) in page.entries.iter().enumerate() {
            let count = if i == 0 { q.dead.to_string() } else { String::new() };
            let name = if i == 0 { q.queue.clone() } else { String::new() };
            t.add_row([
                name,
                count,
                d.envelope.id.to_string(),
                d.envelope.task.clone(),
                ago(d.dead_at),
                cut(&d.reason, 60),
            ]);
        }
        listed.push(json!({ "queue": q.queue, "dead": q.dead, "newest": page.entries }));
    }
    let human = if listed.is_empty() { "no dead letters".to_owned() } else { t.to_string() };
    Ok((json!(listed), human))
}
