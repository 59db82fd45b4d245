//! `dlq list|show|replay|purge`: a queue's dead letters, and putting them
//! back or deleting them, in batches, with confirmation.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use stem::broker::{DeadLetter, PurgeOptions, ReplayOptions};
use stem::{Stem, TaskId};

use super::result::parse_id;
use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::{ago, cut, parse_duration, parse_time, table};

/// How many dead letters one store call replays or purges.
const PAGE: usize = 1000;

pub(super) fn command() -> Command {
    let queue = || {
        Arg::new("queue")
            .short('q')
            .long("queue")
            .value_name("QUEUE")
            .default_value("default")
            .help("The queue whose dead letter queue to use")
    };
    let limit = |default: Option<&'static str>| {
        let arg = Arg::new("limit").short('l').long("limit").value_name("N").value_parser(value_parser!(usize));
        match default {
            Some(n) => arg.default_value(n).help("At most N, newest first"),
            None => arg.help("At most N, oldest first [default: all]"),
        }
    };
    let since = || {
        Arg::new("since")
            .long("since")
            .value_name("TIME")
            .value_parser(since)
            .help("Only those dead at or after TIME (ISO 8601), or within the last DURATION (1h)")
    };
    let ids = || {
        Arg::new("ids")
            .long("id")
            .value_name("TASK_ID")
            .value_parser(parse_id)
            .action(ArgAction::Append)
            .help("Only the dead letters of this task id; repeat for several [default: any]")
    };
    let yes = || Arg::new("yes").short('y').long("yes").action(ArgAction::SetTrue).help("Do it without asking");
    Command::new("dlq")
        .about("Lists, shows, replays and purges dead letters")
        .subcommand_required(true)
        .subcommand(
            Command::new("list")
                .about("Lists a queue's dead letters with their reasons")
                .arg(queue())
                .arg(limit(Some("20"))),
        )
        .subcommand(
            Command::new("show")
                .about("Shows one dead letter, its arguments included")
                .arg(queue())
                .arg(
                    Arg::new("id")
                        .value_name("ID")
                        .value_parser(parse_id)
                        .required_unless_present("id-flag")
                        .help("The dead task's id"),
                )
                .arg(
                    Arg::new("id-flag")
                        .long("id")
                        .value_name("ID")
                        .value_parser(parse_id)
                        .conflicts_with("id")
                        .help("The same, as a flag (as the reference CLI spells it)"),
                ),
        )
        .subcommand(
            Command::new("replay")
                .about("Puts dead letters back on their queue with a fresh retry budget")
                .arg(queue())
                .arg(limit(None))
                .arg(since())
                .arg(ids())
                .arg(
                    Arg::new("delay")
                        .long("delay")
                        .value_name("DURATION")
                        .value_parser(parse_duration)
                        .help("Deliver them this long from now"),
                )
                .arg(
                    Arg::new("dry-run")
                        .long("dry-run")
                        .action(ArgAction::SetTrue)
                        .help("Show what would be replayed; change nothing"),
                )
                .arg(yes()),
        )
        .subcommand(
            Command::new("purge")
                .about("Deletes dead letters for good")
                .arg(queue())
                .arg(limit(None))
                .arg(since())
                .arg(ids())
                .arg(yes()),
        )
}

/// `--since`: an instant, or a duration meaning that long ago.
fn since(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time(text).or_else(|_| {
        let ago = parse_duration(text)
            .map_err(|_| format!("`{text}` is neither a time (2026-12-07T09:00:00Z) nor a duration (1h)"))?;
        Ok(Utc::now() - chrono::Duration::from_std(ago).unwrap_or(chrono::Duration::MAX))
    })
}

pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let (name, sub) = matches.subcommand().ok_or_else(|| Failure::usage("name a dlq command"))?;
    let queue = sub.get_one::<String>("queue").map(String::as_str).unwrap_or("default");
    let stem = ctx.stem().await?;
    match name {
        "list" => {
            let limit = sub.get_one::<usize>("limit").copied().unwrap_or(20);
            let page = stem.dead_letters()?.list_dead_letters(queue, limit, 0).await?;
            ctx.out.either(&page.entries, || listed(queue, &page.entries))
        }
        "show" => {
            let id = *sub
                .get_one::<TaskId>("id")
                .or_else(|| sub.get_one::<TaskId>("id-flag"))
                .ok_or_else(|| Failure::usage("name the dead letter's task id"))?;
            let dead = stem
                .dead_letters()?
                .get_dead_letter(queue, id)
                .await?
                .ok_or_else(|| Failure::failed(format!("queue `{queue}` has no dead letter {id}")))?;
            ctx.out.either(&dead, || shown(&dead))
        }
        "replay" => replay(ctx, &stem, queue, sub).await,
        _ => purge(ctx, &stem, queue, sub).await,
    }
}

fn listed(queue: &str, entries: &[DeadLetter]) -> String {
    if entries.is_empty() {
        return format!("queue `{queue}` has no dead letters");
    }
    let mut t = table(["TASK ID", "TASK", "ATTEMPTS", "DEAD", "REASON"]);
    for d in entries {
        let e = &d.envelope;
        t.add_row([e.id.to_string(), e.task.clone(), (e.attempt + 1).to_string(), ago(d.dead_at), cut(&d.reason, 80)]);
    }
    t.to_string()
}

/// "1 dead letter", "3 dead letters".
fn letters(n: usize) -> String {
    if n == 1 { "1 dead letter".to_owned() } else { format!("{n} dead letters") }
}

/// One dead letter for people: its arguments decoded when they are JSON.
fn shown(dead: &DeadLetter) -> String {
    let e = &dead.envelope;
    let args = match e.args.codec() {
        "json" => serde_json::from_slice::<serde_json::Value>(e.args.bytes())
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| String::from_utf8_lossy(e.args.bytes()).into_owned()),
        codec => format!("{} bytes of {codec}", e.args.bytes().len()),
    };
    format!(
        "{} {}\n  queue      {}\n  attempts   {}\n  created    {}\n  dead       {}\n  reason     {}\n  args       {}",
        e.task,
        e.id,
        e.queue,
        e.attempt + 1,
        ago(e.created_at),
        ago(dead.dead_at),
        dead.reason,
        args.replace('\n', "\n             ")
    )
}

/// What replay and purge do to: the queue's dead letters since `since`, of
/// the task ids `ids` (any when empty), at most `limit`.
struct Selection<'a> {
    queue: &'a str,
    since: Option<DateTime<Utc>>,
    limit: Option<usize>,
    ids: Vec<TaskId>,
}

impl Selection<'_> {
    fn of<'a>(queue: &'a str, sub: &ArgMatches) -> Selection<'a> {
        Selection {
            queue,
            since: sub.get_one::<DateTime<Utc>>("since").copied(),
            limit: sub.get_one::<usize>("limit").copied(),
            ids: sub.get_many::<TaskId>("ids").map(|ids| ids.copied().collect()).unwrap_or_default(),
        }
    }

    /// The replay options of one store call of at most `page` dead letters.
    fn replay(&self, page: usize, delay: Option<Duration>, dry_run: bool) -> ReplayOptions {
        ReplayOptions { limit: page, since: self.since, ids: self.ids.clone(), delay, dry_run }
    }

    /// How many dead letters the selection holds at most: the queue's count,
    /// capped; with ids, those of them that have a dead letter (a dry run).
    async fn count(&self, stem: &Stem) -> Outcome<usize> {
        let limit = self.limit.unwrap_or(usize::MAX);
        if !self.ids.is_empty() {
            let found = stem.replay_dead_letters(self.queue, &self.replay(limit, None, true)).await?;
            return Ok(found.entries.len());
        }
        let queues = stem.queue_stats()?.queues().await?;
        let dead = queues.iter().find(|q| q.queue == self.queue).map_or(0, |q| q.dead);
        Ok(dead.min(limit))
    }

    /// "dead letters of queue `q`", with the ids when there are any.
    fn describe(&self, n: usize) -> String {
        let queue = self.queue;
        match self.ids.as_slice() {
            [] => format!("{} of queue `{queue}`", letters(n)),
            ids => {
                let ids: Vec<String> = ids.iter().map(TaskId::to_string).collect();
                format!("{} of queue `{queue}` (task ids {})", letters(n), ids.join(", "))
            }
        }
    }

    /// What to say when nothing is selected.
    fn none(&self, what: &str) -> String {
        match self.ids.as_slice() {
            [] => format!("queue `{}` has no dead letters to {what}", self.queue),
            _ => format!("queue `{}` has no dead letters of those task ids to {what}", self.queue),
        }
    }
}

async fn replay(ctx: &Context, stem: &Stem, queue: &str, sub: &ArgMatches) -> Outcome {
    let selection = Selection::of(queue, sub);
    let delay = sub.get_one::<Duration>("delay").copied();
    if sub.get_flag("dry-run") {
        let options = selection.replay(selection.limit.unwrap_or(usize::MAX), delay, true);
        let result = stem.replay_dead_letters(queue, &options).await?;
        let shown = json!({ "dry_run": true, "replayed": result.entries.len(), "entries": result.entries });
        return ctx.out.either(&shown, || {
            format!(
                "would replay {} of queue `{queue}`:\n{}",
                letters(result.entries.len()),
                listed(queue, &result.entries)
            )
        });
    }
    let total = selection.count(stem).await?;
    if total == 0 {
        return ctx.out.either(&json!({ "replayed": 0 }), || selection.none("replay"));
    }
    confirm(&format!("replay {}", selection.describe(total)), sub.get_flag("yes"))?;
    let bar = progress(total, "replayed");
    let mut replayed = 0;
    loop {
        let page = PAGE.min(selection.limit.map_or(PAGE, |l| l.saturating_sub(replayed)));
        if page == 0 {
            break;
        }
        let result = stem.replay_dead_letters(queue, &selection.replay(page, delay, false)).await?;
        replayed += result.entries.len();
        bar.inc(result.entries.len() as u64);
        if result.entries.len() < page {
            break;
        }
    }
    bar.finish_and_clear();
    ctx.out.either(&json!({ "replayed": replayed }), || format!("replayed {} of queue `{queue}`", letters(replayed)))
}

async fn purge(ctx: &Context, stem: &Stem, queue: &str, sub: &ArgMatches) -> Outcome {
    let selection = Selection::of(queue, sub);
    let total = selection.count(stem).await?;
    if total == 0 {
        return ctx.out.either(&json!({ "purged": 0 }), || selection.none("purge"));
    }
    confirm(&format!("delete {} for good", selection.describe(total)), sub.get_flag("yes"))?;
    let bar = progress(total, "purged");
    let mut purged = 0;
    loop {
        let page = PAGE.min(selection.limit.map_or(PAGE, |l| l.saturating_sub(purged)));
        if page == 0 {
            break;
        }
        let options = PurgeOptions { since: selection.since, limit: Some(page), ids: selection.ids.clone() };
        let n = stem.dead_letters()?.purge_dead_letters(queue, &options).await?;
        purged += n;
        bar.inc(n as u64);
        if n < page {
            break;
        }
    }
    bar.finish_and_clear();
    ctx.out.either(&json!({ "purged": purged }), || format!("purged {} of queue `{queue}`", letters(purged)))
}

/// Asks on a terminal; refuses without `--yes` anywhere else.
fn confirm(what: &str, yes: bool) -> Outcome {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!("not on a terminal, so not asking whether to {what}: add --yes")));
    }
    eprint!("{what}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| Failure::failed(format!("reading the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { Err(Failure::failed("nothing done")) }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn progress(total: usize, done: &str) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let template = format!("{{bar:40}} {{pos}}/{{len}} {done} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
