//! Schedule files: TOML that the command line applies
//! (`schedule apply -f FILE`). Each `[[schedules]]` entry must name a task
//! linked into the binary and arguments that decode into its `Args`; one bad
//! entry rejects the whole file, with a message naming the entry and the
//! field, and nothing is applied.
//!
//! ```toml
//! [[schedules]]
//! id = "nightly-report"
//! task = "reports.nightly"
//! schedule = "cron: 0 3 * * * Europe/Paris"
//! args = { account = "acme" }    # by name; default: no arguments
//! queue = "reports"              # default: the task's
//! priority = 5                   # default: the task's
//! jitter = "30s"                 # a random delay up to this
//! start = "2026-01-01T00:00:00Z" # no fire before
//! end = "2027-01-01T00:00:00Z"   # no fire after
//! grace = "5m"                   # default 1m
//! catch_up = "all"               # default "latest"
//! enabled = false                # default true
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::entry::{CatchUp, DEFAULT_GRACE, ScheduleEntry};
use super::schedule::Schedule;
use crate::task::{EnqueueOptions, Registry};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    schedules: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    task: String,
    schedule: String,
    #[serde(default)]
    args: Option<toml::Value>,
    queue: Option<String>,
    priority: Option<u8>,
    jitter: Option<String>,
    start: Option<String>,
    end: Option<String>,
    grace: Option<String>,
    catch_up: Option<CatchUp>,
    enabled: Option<bool>,
}

/// The schedules `text` describes, checked against the tasks of `registry`;
/// or every mistake, each naming its entry and field, joined with `; `.
pub fn parse(text: &str, registry: &Registry) -> Result<Vec<ScheduleEntry>, String> {
    let file: File = crate::toml_file::decode(text)?;
    let mut errors = Vec::new();
    let mut ids = BTreeSet::new();
    let mut entries = Vec::new();
    for (n, raw) in file.schedules.into_iter().enumerate() {
        let at = format!("schedules[{n}] (id \"{}\")", raw.id);
        let mut bad = |field: &str, why: String| errors.push(format!("{at}: {field}: {why}"));
        if raw.id.trim().is_empty() {
            bad("id", "must not be empty".to_owned());
        } else if !ids.insert(raw.id.clone()) {
            bad("id", "another entry has the same id".to_owned());
        }
        let schedule = raw.schedule.parse::<Schedule>().map_err(|e| bad("schedule", e.to_string())).ok();
        let args = match raw.args.map(serde_json::to_value).transpose() {
            Ok(args) => args.unwrap_or_else(|| serde_json::json!({})),
            Err(e) => {
                bad("args", e.to_string());
                serde_json::Value::Null
            }
        };
        let mut args = args;
        match registry.get(&raw.task) {
            None => bad("task", format!("`{}` is not a task linked into this binary (see `tasks`)", raw.task)),
            Some(registration) => {
                // A task of one argument takes it bare; `{ name = value }` names it.
                if let [only] = registration.args()
                    && let Some(value) = args.as_object().filter(|o| o.len() == 1).and_then(|o| o.get(only.name))
                {
                    args = value.clone();
                }
                if let Err(e) = registration.envelope(&args, EnqueueOptions::default()) {
                    bad("args", e.to_string());
                }
            }
        }
        if let Some(queue) = &raw.queue
            && let Err(e) = crate::queue::check(queue)
        {
            bad("queue", e.to_string());
        }
        if raw.priority.is_some_and(|p| p > 9) {
            bad("priority", "must be 0 to 9".to_owned());
        }
        let mut duration = |field: &str, text: Option<&String>| {
            text.and_then(|t| humantime::parse_duration(t).map_err(|e| bad(field, format!("`{t}`: {e}"))).ok())
        };
        let jitter = duration("jitter", raw.jitter.as_ref());
        let grace = duration("grace", raw.grace.as_ref()).unwrap_or(DEFAULT_GRACE);
        let mut time = |field: &str, text: Option<&String>| {
            text.and_then(|t| t.parse::<DateTime<Utc>>().map_err(|e| bad(field, format!("`{t}`: {e} (RFC 3339)"))).ok())
        };
        let (start, end) = (time("start", raw.start.as_ref()), time("end", raw.end.as_ref()));
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            bad("end", "must be after start".to_owned());
        }
        let Some(schedule) = schedule else { continue };
        let mut entry = ScheduleEntry::of_task(raw.id, raw.task, args, schedule)
            .between(start, end)
            .catching_up(grace, raw.catch_up.unwrap_or_default())
            .enabled(raw.enabled.unwrap_or(true));
        entry.queue = raw.queue;
        entry.priority = raw.priority;
        entry.jitter = jitter.filter(|j| *j > Duration::ZERO);
        entries.push(entry);
    }
    if errors.is_empty() { Ok(entries) } else { Err(errors.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[crate::task(crate = "crate", name = "file.report")]
    async fn report(account: String) -> Result<String, crate::TaskError> {
        Ok(account)
    }

    fn registry() -> Registry {
        Registry::new().register::<Report>()
    }

    #[test]
    fn a_good_file_gives_its_entries() {
        let text = r#"
            [[schedules]]
            id = "nightly"
            task = "file.report"
            schedule = "cron: 0 3 * * * Europe/Paris"
            args = { account = "acme" }
            queue = "reports"
            jitter = "30s"
            grace = "5m"
            catch_up = "all"
            enabled = false
        "#;
        let entries = parse(text, &registry()).expect("parses");
        let e = &entries[0];
        assert_eq!((e.id.as_str(), e.task.as_str(), e.queue.as_deref()), ("nightly", "file.report", Some("reports")));
        assert_eq!(e.args, serde_json::json!("acme"), "a task of one argument takes it bare");
        assert_eq!(
            (e.jitter, e.grace, e.catch_up, e.enabled),
            (Some(Duration::from_secs(30)), Duration::from_secs(300), CatchUp::All, false)
        );
    }

    #[test]
    fn every_mistake_names_its_entry_and_field_and_nothing_is_returned() {
        let text = r#"
            [[schedules]]
            id = "ok"
            task = "file.report"
            schedule = "every 1h"
            args = { account = "acme" }

            [[schedules]]
            id = "bad"
            task = "file.report"
            schedule = "cron: 0 3 * * * Mars/Base"
            args = { account = 3 }
            jitter = "soon"

            [[schedules]]
            id = "ok"
            task = "nope"
            schedule = "every 0s"
        "#;
        let error = parse(text, &registry()).expect_err("bad entries");
        for part in [
            "schedules[1] (id \"bad\"): schedule: ",
            "Mars/Base",
            "schedules[1] (id \"bad\"): args: ",
            "schedules[1] (id \"bad\"): jitter: `soon`",
            "schedules[2] (id \"ok\"): id: another entry has the same id",
            "schedules[2] (id \"ok\"): task: `nope` is not a task",
            "schedules[2] (id \"ok\"): schedule: ",
        ] {
            assert!(error.contains(part), "`{error}` does not say {part}");
        }
        let unknown = parse(
            "[[schedules]]\nid = \"x\"\ntask = \"file.report\"\nschedule = \"every 1h\"\ncolour = 1\n",
            &registry(),
        )
        .expect_err("an unknown field");
        assert!(unknown.contains("colour"), "{unknown}");
    }
}
