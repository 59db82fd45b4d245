//! `schedule list|show|apply|delete|enable|disable|dry-run`: the Beat
//! schedules in the store, a schedule file put all or nothing, and the next
//! fires of one schedule.

use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use serde_json::{Value, json};
use stem::Stem;
use stem::beat::{Schedule, ScheduleEntry};

use crate::context::Context;
use crate::error::{Failure, Outcome};
use crate::output::{ago, cut, rough, table};

pub(super) fn command() -> Command {
    let id = || Arg::new("id").required(true).value_name("ID").help("The schedule's id, as `schedule list` shows it");
    Command::new("schedule")
        .about("Lists, shows, applies, enables, disables and deletes Beat schedules; prints their next fires")
        .subcommand_required(true)
        .subcommand(
            Command::new("list")
                .about("Lists the schedules in the store: next and last fire, runs, skipped, drift, last error"),
        )
        .subcommand(Command::new("show").about("Shows every field of one schedule").arg(id()))
        .subcommand(
            Command::new("apply")
                .about("Puts the schedules of a schedule file (TOML), all or none; their counts are kept")
                .arg(
                    Arg::new("file")
                        .short('f')
                        .long("file")
                        .required(true)
                        .value_name("FILE")
                        .value_parser(value_parser!(PathBuf))
                        .help("The schedule file: [[schedules]] entries, checked against the linked tasks"),
                )
                .arg(
                    Arg::new("dry-run")
                        .long("dry-run")
                        .action(ArgAction::SetTrue)
                        .help("Show what would be created or updated; put nothing"),
                ),
        )
        .subcommand(Command::new("delete").about("Deletes a schedule (tasks it enqueued stay queued)").arg(id()))
        .subcommand(
            Command::new("enable").about("Enables a schedule: it fires next at its first fire from now").arg(id()),
        )
        .subcommand(Command::new("disable").about("Disables a schedule; it keeps its next fire").arg(id()))
        .subcommand(
            Command::new("dry-run")
                .about("Prints a schedule's next fires, in UTC and in the zone of its cron expression")
                .arg(id())
                .arg(
                    Arg::new("count")
                        .short('n')
                        .long("count")
                        .value_name("N")
                        .default_value("5")
                        .value_parser(value_parser!(u16).range(1..=1000))
                        .help("How many fires"),
                ),
        )
}

pub(super) async fn run(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let (name, sub) = matches.subcommand().ok_or_else(|| Failure::usage("name a schedule command"))?;
    if name == "apply" {
        return apply(ctx, sub).await;
    }
    let stem = ctx.stem().await?;
    if name == "list" {
        return list(ctx, &stem).await;
    }
    let id = sub.get_one::<String>("id").map(String::as_str).unwrap_or_default();
    match name {
        "show" => {
            let entry = entry(&stem, id).await?;
            ctx.out.either(&entry, || shown(&entry))
        }
        "delete" => {
            if !stem.schedules().remove(id).await? {
                return Err(not_found(id));
            }
            ctx.out.either(&json!({ "id": id, "deleted": true }), || format!("deleted schedule `{id}`"))
        }
        "enable" | "disable" => switch(ctx, &stem, id, name == "enable").await,
        _ => {
            let count = sub.get_one::<u16>("count").copied().unwrap_or(5);
            dry_run(ctx, &stem, id, usize::from(count)).await
        }
    }
}

/// The schedule `id`, or a failure naming it.
async fn entry(stem: &Stem, id: &str) -> Outcome<ScheduleEntry> {
    stem.schedules().get(id).await?.ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> Failure {
    Failure::failed(format!("no schedule `{id}` is in the store (`schedule list` lists them)"))
}

async fn list(ctx: &Context, stem: &Stem) -> Outcome {
    let entries = stem.schedules().list().await?;
    ctx.out.either(&entries, || {
        if entries.is_empty() {
            return "no schedules (`schedule apply -f FILE` puts those of a schedule file; a worker with --beat or \
                    `beat` puts those tasks declare)"
                .to_owned();
        }
        let mut t = table([
            "ID",
            "TASK",
            "SCHEDULE",
            "ENABLED",
            "NEXT FIRE",
            "LAST FIRE",
            "RUNS",
            "SKIPPED",
            "DRIFT",
            "LAST ERROR",
        ]);
        for e in &entries {
            t.add_row([
                e.id.clone(),
                e.task.clone(),
                e.schedule.to_string(),
                yes_no(e.enabled).to_owned(),
                e.next_fire.map_or_else(|| "never".to_owned(), ago),
                e.last_fire.map_or_else(|| "-".to_owned(), ago),
                e.runs.to_string(),
                e.skipped.to_string(),
                drift(e.last_drift_ms),
                e.last_error.as_deref().map(|error| cut(error, 40)).unwrap_or_default(),
            ]);
        }
        t.to_string()
    })
}

/// Every field of `e`, for people.
fn shown(e: &ScheduleEntry) -> String {
    let or = |value: Option<String>, none: &str| value.unwrap_or_else(|| none.to_owned());
    let time = |at: Option<DateTime<Utc>>, none: &str| or(at.map(|at| format!("{} ({})", instant(at), ago(at))), none);
    let headers: Vec<String> = e.headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let catch_up = serde_json::to_value(e.catch_up).ok().and_then(|v| v.as_str().map(str::to_owned));
    let rows = [
        ("task", e.task.clone()),
        ("args", e.args.to_string()),
        ("schedule", e.schedule.to_string()),
        ("enabled", yes_no(e.enabled).to_owned()),
        ("queue", or(e.queue.clone(), "the task's")),
        ("priority", or(e.priority.map(|p| p.to_string()), "the task's")),
        ("headers", if headers.is_empty() { "-".to_owned() } else { headers.join(", ") }),
        ("jitter", or(e.jitter.map(|j| humantime::format_duration(j).to_string()), "-")),
        ("start", time(e.start, "-")),
        ("end", time(e.end, "-")),
        ("grace", humantime::format_duration(e.grace).to_string()),
        ("catch up", or(catch_up, "-")),
        ("created", time(Some(e.created_at), "-")),
        ("next fire", time(e.next_fire, "never")),
        ("last fire", time(e.last_fire, "-")),
        ("drift", drift(e.last_drift_ms)),
        ("runs", e.runs.to_string()),
        ("skipped", e.skipped.to_string()),
        ("last error", or(e.last_error.clone(), "-")),
    ];
    let mut out = format!("schedule {}", e.id);
    for (name, value) in rows {
        out.push_str(&format!("\n  {name:<11} {value}"));
    }
    out
}

/// Enables (its next fire computed from now) or disables (its next fire
/// kept) schedule `id`. Enabling an enabled schedule leaves it as it is, so
/// that a fire already due is not skipped.
async fn switch(ctx: &Context, stem: &Stem, id: &str, enable: bool) -> Outcome {
    let entry = entry(stem, id).await?;
    let next = if enable && !entry.enabled { entry.fire_after(stem.now()) } else { entry.next_fire };
    if entry.enabled != enable && !stem.schedules().set_enabled(id, enable, next).await? {
        return Err(not_found(id));
    }
    let was = if entry.enabled == enable { " (it already was)" } else { "" };
    ctx.out.either(&json!({ "id": id, "enabled": enable, "next_fire": next }), || {
        let verb = if enable { "enabled" } else { "disabled" };
        match (enable, next) {
            (true, Some(at)) => format!("{verb} schedule `{id}`{was}; it fires next at {} ({})", instant(at), ago(at)),
            (true, None) => {
                format!("{verb} schedule `{id}`{was}; it never fires again (its end or its one fire passed)")
            }
            (false, _) => format!("{verb} schedule `{id}`{was}"),
        }
    })
}

/// The zone a cron schedule names, if it names one.
fn cron_zone(schedule: &Schedule) -> Option<Tz> {
    schedule.zone()
}

async fn dry_run(ctx: &Context, stem: &Stem, id: &str, count: usize) -> Outcome {
    let entry = entry(stem, id).await?;
    let fires = entry.fires_after(stem.now(), count);
    let zone = cron_zone(&entry.schedule);
    if !entry.enabled {
        eprintln!("note: schedule `{id}` is disabled; these are the fires it would have if it were enabled");
    }
    let document = json!({
        "id": entry.id,
        "schedule": entry.schedule,
        "enabled": entry.enabled,
        "zone": zone.map(|z| z.name()),
        "fires": fires.iter().map(|at| json!({
            "at": at,
            "local": zone.map(|z| at.with_timezone(&z).to_rfc3339_opts(SecondsFormat::AutoSi, false)),
        })).collect::<Vec<Value>>(),
    });
    ctx.out.either(&document, || {
        let mut out = format!("schedule `{id}` ({}):", entry.schedule);
        if fires.is_empty() {
            out.push_str(" it never fires again");
            return out;
        }
        let mut t = match zone {
            Some(z) => table(["#", "UTC", z.name(), "IN"]),
            None => table(["#", "UTC", "IN"]),
        };
        for (n, at) in fires.iter().enumerate() {
            let mut row = vec![(n + 1).to_string(), instant(*at)];
            row.extend(zone.map(|z| at.with_timezone(&z).format("%Y-%m-%d %H:%M:%S %Z").to_string()));
            row.push(ago(*at));
            t.add_row(row);
        }
        if fires.len() < count {
            out.push_str(&format!(" it fires only {} more time(s)", fires.len()));
        }
        format!("{out}\n{t}")
    })
}

/// What applying one entry of a file does to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Unchanged,
}

impl Change {
    fn name(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Self::Created, false) => "created",
            (Self::Updated, false) => "updated",
            (Self::Created, true) => "would create",
            (Self::Updated, true) => "would update",
            (Self::Unchanged, _) => "unchanged",
        }
    }
}

/// The fields of an entry that are the store's state, not its definition:
/// a file does not set them, so they never make an entry differ.
const STATE: [&str; 7] = ["created_at", "next_fire", "last_fire", "last_drift_ms", "runs", "skipped", "last_error"];

/// What putting `new` over `old` changes, the fields of the definition that
/// differ, and `new` made ready to put: a changed schedule keeps the old
/// one's creation time (an interval keeps its phase) and its next fire,
/// unless its timing changed or it is enabled again, when the next fire is
/// computed from `now`.
fn planned(
    mut new: ScheduleEntry,
    old: Option<&ScheduleEntry>,
    now: DateTime<Utc>,
) -> (Change, Vec<String>, ScheduleEntry) {
    let Some(old) = old else { return (Change::Created, Vec::new(), new) };
    let (a, b) = (serde_json::to_value(&new).unwrap_or_default(), serde_json::to_value(old).unwrap_or_default());
    let (a, b) = (a.as_object().cloned().unwrap_or_default(), b.as_object().cloned().unwrap_or_default());
    let mut fields: Vec<String> =
        a.keys().chain(b.keys()).filter(|k| !STATE.contains(&k.as_str()) && a.get(*k) != b.get(*k)).cloned().collect();
    fields.sort();
    fields.dedup();
    if fields.is_empty() {
        return (Change::Unchanged, fields, new);
    }
    new.created_at = old.created_at;
    let timing = new.schedule == old.schedule && new.start == old.start && new.end == old.end;
    new.next_fire = if timing && (old.enabled || !new.enabled) { old.next_fire } else { new.fire_after(now) };
    (Change::Updated, fields, new)
}

async fn apply(ctx: &Context, matches: &ArgMatches) -> Outcome {
    let path = matches.get_one::<PathBuf>("file").ok_or_else(|| Failure::usage("name the file: -f FILE"))?;
    let dry_run = matches.get_flag("dry-run");
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("schedule file {file}: cannot be read ({e})")))?;
    // Checked whole before anything is connected to or put.
    let entries = stem::beat::file::parse(&text, ctx.catalog.registry())
        .map_err(|e| Failure::usage(format!("schedule file {file}: {e}")))?;
    let stem = ctx.stem().await?;
    let store = stem.schedules();
    let now = stem.now();
    let mut plan = Vec::with_capacity(entries.len());
    for entry in entries {
        let old = store.get(&entry.id).await?;
        plan.push(planned(entry, old.as_ref(), now));
    }
    if !dry_run {
        for (change, _, entry) in &plan {
            if *change != Change::Unchanged {
                store
                    .put(entry)
                    .await
                    .map_err(|e| Failure::from(e).context(format!("putting schedule `{}`", entry.id)))?;
            }
        }
    }
    let counted = |c: Change| plan.iter().filter(|(change, ..)| *change == c).count();
    let document = json!({
        "file": file,
        "dry_run": dry_run,
        "created": counted(Change::Created),
        "updated": counted(Change::Updated),
        "unchanged": counted(Change::Unchanged),
        "entries": plan.iter().map(|(change, fields, e)| json!({
            "id": e.id,
            "task": e.task,
            "schedule": e.schedule,
            "change": change.name(false),
            "fields": fields,
        })).collect::<Vec<Value>>(),
    });
    ctx.out.either(&document, || {
        let mut t = table(["CHANGE", "ID", "TASK", "SCHEDULE", "FIELDS"]);
        for (change, fields, e) in &plan {
            t.add_row([
                change.name(dry_run).to_owned(),
                e.id.clone(),
                e.task.clone(),
                e.schedule.to_string(),
                fields.join(", "),
            ]);
        }
        let summary = format!(
            "schedule file {file}: {} created, {} updated, {} unchanged",
            counted(Change::Created),
            counted(Change::Updated),
            counted(Change::Unchanged)
        );
        let summary = if dry_run { format!("{summary} (dry run: nothing was put)") } else { summary };
        if plan.is_empty() { format!("{summary}; the file has no [[schedules]]") } else { format!("{t}\n{summary}") }
    })
}

fn yes_no(on: bool) -> &'static str {
    if on { "yes" } else { "no" }
}

/// An instant for people: RFC 3339 in UTC, to the millisecond when it has
/// a fraction of a second.
fn instant(at: DateTime<Utc>) -> String {
    let precision = if at.timestamp_subsec_nanos() == 0 { SecondsFormat::Secs } else { SecondsFormat::Millis };
    at.to_rfc3339_opts(precision, true)
}

/// A fire's drift: `35ms`, `2s`, `-`.
fn drift(ms: Option<i64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms.abs() < 1000 => format!("{ms}ms"),
        Some(ms) => {
            let sign = if ms < 0 { "-" } else { "" };
            format!("{sign}{}", rough(std::time::Duration::from_millis(ms.unsigned_abs())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(schedule: &str) -> ScheduleEntry {
        ScheduleEntry::of_task("s", "app::t", json!({}), schedule.parse().expect(schedule))
    }

    #[test]
    fn a_cron_schedule_names_its_zone_and_other_schedules_none() {
        let zone = |text: &str| cron_zone(&text.parse().expect(text)).map(|z| z.name());
        assert_eq!(zone("cron: 0 8 * * 1-5 Europe/Paris"), Some("Europe/Paris"));
        assert_eq!(zone("cron: @daily UTC"), Some("UTC"));
        assert_eq!((zone("cron: 0 8 * * *"), zone("cron: @daily"), zone("every 5m")), (None, None, None));
    }

    #[test]
    fn applying_keeps_the_state_and_the_phase_and_names_what_changed() {
        let now = Utc::now();
        let mut old = entry("every 1h");
        old.runs = 3;
        old.created_at = now - chrono::Duration::minutes(90);
        old.next_fire = Some(now + chrono::Duration::minutes(30));
        let (change, fields, _) = planned(entry("every 1h"), Some(&old), now);
        assert_eq!((change, fields.len()), (Change::Unchanged, 0), "{fields:?}");

        let mut queued = entry("every 1h");
        queued.queue = Some("reports".to_owned());
        let (change, fields, put) = planned(queued, Some(&old), now);
        assert_eq!((change, fields), (Change::Updated, vec!["queue".to_owned()]));
        assert_eq!((put.created_at, put.next_fire), (old.created_at, old.next_fire), "the next fire is kept");

        let (change, fields, put) = planned(entry("every 2h"), Some(&old), now);
        assert_eq!((change, fields), (Change::Updated, vec!["schedule".to_owned()]));
        assert_eq!(put.next_fire, Some(old.created_at + chrono::Duration::hours(2)), "counted from its creation");

        assert_eq!(planned(entry("every 1h"), None, now).0, Change::Created);
        assert_eq!((drift(Some(35)), drift(Some(-2500)), drift(None)), ("35ms".into(), "-2s".into(), "-".into()));
    }
}
