//! What the control commands print: a table with a row per worker that
//! answered (a row per held or scheduled delivery for `inspect`), or with `--json` an
//! array with an object per addressed worker, those that did not answer
//! included as `{worker, ok: false, missing: true}`.

use std::time::Duration;

use comfy_table::Table;
use serde_json::{Value, json};
use stem::control::{Replies, Reply};

use super::Control;
use crate::context::Context;
use crate::error::Outcome;
use crate::output::{cut, rough, table};

/// What a broadcast says when no worker has a live heartbeat.
pub(super) const NO_LIVE_WORKERS: &str = "no live workers (none has sent a heartbeat lately)";

/// Prints `replies` to `command`, sorted by worker id.
pub(super) fn print(ctx: &Context, command: &Control, replies: &Replies) -> Outcome {
    let mut answered: Vec<&Reply> = replies.replies.iter().collect();
    answered.sort_by(|a, b| a.worker.cmp(&b.worker));
    let mut document: Vec<Value> = answered.iter().map(|r| answered_json(r)).collect();
    document.extend(replies.missing.iter().map(|w| json!({ "worker": w, "ok": false, "missing": true })));
    if ctx.out.json() {
        return ctx.out.document(&document);
    }
    if let Control::Revoke(r) = command {
        let until = chrono::Utc::now() + chrono::Duration::from_std(r.keep).unwrap_or(chrono::Duration::days(365));
        let how = match r.terminate {
            Some(stop) => format!("; running ones are stopped ({})", format!("{stop:?}").to_lowercase()),
            None => String::new(),
        };
        println!("revoked {} task(s) until {}{how}", r.ids.len(), until.format("%Y-%m-%d %H:%M:%S UTC"));
        if answered.is_empty() && replies.missing.is_empty() {
            println!("no live workers to tell: a worker that starts later honours the revokes");
        }
    }
    if !answered.is_empty() {
        println!("{}", rows(command, &answered));
    }
    Ok(())
}

/// One answered reply as JSON: `{worker, ok, missing: false, body, error, request}`.
fn answered_json(reply: &Reply) -> Value {
    let mut value = json!({ "worker": reply.worker, "ok": reply.ok, "missing": false, "body": reply.body });
    if let Some(error) = &reply.error {
        value["error"] = json!(error);
    }
    value["request"] = json!(reply.request);
    value
}

/// The table of `answered`, its columns chosen by `command`.
fn rows(command: &Control, answered: &[&Reply]) -> Table {
    match command {
        Control::Stats(_) => stats(answered),
        Control::Inspect(_) => inspect(answered),
        _ => {
            let mut t = table(["WORKER", "OK", "REPLY"]);
            for r in answered {
                let said = match &r.error {
                    Some(error) => cut(error, 80),
                    None => summary(command, &r.body),
                };
                t.add_row([r.worker.clone(), yes(r.ok), said]);
            }
            t
        }
    }
}

/// What one reply's body says, in a few words.
fn summary(command: &Control, body: &Value) -> String {
    match command {
        Control::Pause(_) | Control::Resume(_) => {
            let queue = body["queue"].as_str().unwrap_or("?");
            if body["paused"] == true { format!("paused `{queue}`") } else { format!("resumed `{queue}`") }
        }
        Control::Grow(_) | Control::Shrink(_) => format!("concurrency now {}", body["concurrency"]),
        Control::Shutdown(_) => format!("stopping ({})", body["mode"].as_str().unwrap_or("?")),
        Control::Revoke(r) => match (body["terminated"].as_u64(), r.terminate) {
            (Some(n @ 1..), Some(super::Stop::Hard)) => format!("noted; stopped {n} running"),
            (Some(n @ 1..), _) => format!("noted; told {n} running to stop"),
            _ => "noted (none of them runs here)".to_owned(),
        },
        _ => body.as_str().map_or_else(|| cut(&body.to_string(), 80), str::to_owned),
    }
}

/// `stats`: a worker's counts on its row.
fn stats(answered: &[&Reply]) -> Table {
    let mut t = table([
        "WORKER",
        "OK",
        "PROCESSED",
        "SUCCEEDED",
        "FAILED",
        "IN FLIGHT",
        "UP",
        "CONCURRENCY",
        "MEMORY",
        "PAUSED",
    ]);
    for r in answered {
        let b = &r.body;
        let count = |field: &str| b[field].as_u64().map_or_else(|| "-".to_owned(), |n| n.to_string());
        let up = b["uptime_s"].as_u64().map_or_else(|| "-".to_owned(), |s| rough(Duration::from_secs(s)));
        let memory =
            b["memory_bytes"].as_u64().map_or_else(|| "-".to_owned(), |m| format!("{:.1} MB", m as f64 / 1_048_576.0));
        let paused =
            b["paused"].as_array().map(|qs| qs.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
        t.add_row([
            r.worker.clone(),
            yes(r.ok),
            count("processed"),
            count("succeeded"),
            count("failed"),
            count("in_flight"),
            up,
            count("concurrency"),
            memory,
            paused.unwrap_or_default(),
        ]);
    }
    t
}

/// `inspect`: a row per held delivery, then one per scheduled delivery (due
/// later on the worker's queues), the worker named on its first; a worker
/// with none of either gets one row saying so.
fn inspect(answered: &[&Reply]) -> Table {
    let mut t = table(["WORKER", "OK", "TASK ID", "TASK", "QUEUE", "STATE"]);
    let now = chrono::Utc::now();
    for r in answered {
        let list = |field: &str| r.body[field].as_array().map(Vec::as_slice).unwrap_or_default().to_vec();
        let (active, scheduled) = (list("active"), list("scheduled"));
        if active.is_empty() && scheduled.is_empty() {
            let state = r.error.clone().unwrap_or_else(|| "holds nothing".to_owned());
            t.add_row([r.worker.clone(), yes(r.ok), "-".into(), "-".into(), "-".into(), state]);
        }
        let held = active.iter().map(|a| (a, if a["running"] == true { "running" } else { "reserved" }.to_owned()));
        let due = scheduled.iter().map(|a| {
            let eta = a["eta"].as_str().and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok());
            let left = eta.and_then(|eta| (eta.with_timezone(&chrono::Utc) - now).to_std().ok());
            (a, left.map_or_else(|| "scheduled".to_owned(), |left| format!("scheduled, due in {}", rough(left))))
        });
        for (i, (a, state)) in held.chain(due).enumerate() {
            let (worker, ok) = if i == 0 { (r.worker.clone(), yes(r.ok)) } else { (String::new(), String::new()) };
            let text = |field: &str| a[field].as_str().unwrap_or("?").to_owned();
            let state = match a["attempt"].as_u64() {
                Some(n) if n > 0 => format!("{state} (attempt {})", n + 1),
                _ => state,
            };
            t.add_row([worker, ok, text("id"), text("task"), text("queue"), state]);
        }
        if let Some(error) = r.body["scheduled_error"].as_str() {
            t.add_row([String::new(), String::new(), "-".into(), "-".into(), "-".into(), cut(error, 80)]);
        }
    }
    t
}

fn yes(ok: bool) -> String {
    if ok { "yes" } else { "no" }.to_owned()
}
