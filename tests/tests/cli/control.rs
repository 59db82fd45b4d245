//! `worker ping|stats|inspect|pause|resume|grow|shrink|revoke|shutdown`: two
//! worker processes of the example application on one store, steered from
//! the shell.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stem_tests::{TempDir, WAIT, redis_url};

use super::{App, Worker, code, stderr};

/// `worker <args> --json`, whatever it exits with: its exit code, its
/// replies, and the whole output for failure messages.
fn control(app: &App, args: &[&str]) -> (Option<i32>, Vec<Value>, Output) {
    let out = app.run(&[&["worker"], args, &["--json"]].concat());
    let replies = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_else(|| panic!("worker {args:?} printed no JSON array: {out:?}"));
    (code(&out), replies, out)
}

/// `worker <args> --json`, expecting exit 0: its replies, by worker id.
fn answered(app: &App, args: &[&str]) -> Vec<Value> {
    let (code, replies, out) = control(app, args);
    assert_eq!(code, Some(0), "worker {args:?}: {}\n{replies:?}\n{}", stderr(&out), logs(app));
    replies
}

/// The reply of `worker`, if it is among `replies`.
fn of<'a>(replies: &'a [Value], worker: &str) -> Option<&'a Value> {
    replies.iter().find(|r| r["worker"] == worker)
}

/// Both workers' logs, for failure messages.
fn logs(app: &App) -> String {
    let read = |name: &str| std::fs::read_to_string(app.dir.file(name)).unwrap_or_default();
    format!("worker-1.log:\n{}\nworker-2.log:\n{}", read("worker-1.log"), read("worker-2.log"))
}

/// Polls `state` of task `id` until it is `want`, `within` at most; it must
/// never be `never` on the way.
fn reaches(app: &App, id: &str, want: &str, never: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let state = app.json(&["status", id])["state"].clone();
        if state == want {
            return;
        }
        assert_ne!(state, never, "task {id} ended {never}\n{}", logs(app));
        assert!(Instant::now() < deadline, "task {id} is {state}, not {want}, after {within:?}\n{}", logs(app));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The id of an enqueued task, from `enqueue ... --json`.
fn enqueue(app: &App, args: &[&str]) -> String {
    let sent = app.json(&[&["enqueue"], args].concat());
    sent["id"].as_str().expect("an id").to_owned()
}

/// The whole scenario on `app`'s store.
fn two_workers_are_steered(app: &App) {
    // Nobody to ask: a broadcast says so and exits 1; a revoke is stored anyway.
    let out = app.run(&["worker", "ping"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no live workers"), "{}", stderr(&out));
    let early = enqueue(app, &["app::math::add", "--a", "1", "--b", "1", "--countdown", "1h"]);
    let out = app.run(&["worker", "revoke", &early]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no live workers to tell"), "{out:?}");

    let worker = |n: u32| app.process(&format!("worker-{n}.log"), &["worker", "-c", "4", "-v"], &[]);
    let (first, mut second) = (worker(1), worker(2));
    let ids = worker_ids(app, &[&first, &second]);
    let (a, b) = (ids[0].as_str(), ids[1].as_str());

    // ping: both answer (polled until both listen), each under its own id.
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, replies, _) = control(app, &["ping", "--timeout", "1s"]);
        let both = [a, b].iter().all(|id| of(&replies, id).is_some_and(|r| r["ok"] == true && r["body"] == "pong"));
        if code == Some(0) && both && replies.len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "both workers never answered a ping: {replies:?}\n{}", logs(app));
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = String::from_utf8_lossy(&app.run(&["worker", "ping"]).stdout).into_owned();
    assert!(text.lines().any(|l| l.trim_start().starts_with(a) && l.contains("pong")), "{text}");

    // A worker that does not exist is named as missing, and exits 1.
    let (exit, replies, out) = control(app, &["ping", "--worker", a, "--worker", "nobody", "--timeout", "300ms"]);
    assert_eq!(exit, Some(1), "{}", stderr(&out));
    assert_eq!(of(&replies, "nobody"), Some(&json!({ "worker": "nobody", "ok": false, "missing": true })));
    assert_eq!(of(&replies, a).map(|r| r["ok"].clone()), Some(json!(true)), "{replies:?}");
    assert!(stderr(&out).contains("no answer within 300ms from nobody"), "{}", stderr(&out));

    // stats: counts the task run, once, on whichever worker ran it.
    let sum = app.json(&["enqueue", "app::math::add", "--a", "2", "--b", "40", "--wait"]);
    assert_eq!(sum["result"], 42);
    let total = |replies: &[Value], field: &str| replies.iter().filter_map(|r| r["body"][field].as_u64()).sum::<u64>();
    let deadline = Instant::now() + WAIT;
    let stats = loop {
        let stats = answered(app, &["stats"]);
        if total(&stats, "succeeded") >= 1 {
            break stats;
        }
        assert!(Instant::now() < deadline, "the task was never counted: {stats:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((stats.len(), total(&stats, "succeeded"), total(&stats, "processed")), (2, 1, 1), "{stats:?}");
    assert!(stats.iter().all(|s| s["body"]["concurrency"] == 4 && s["body"]["paused"] == json!([])), "{stats:?}");

    // pause: a task sent to the paused queue waits; one on another queue runs.
    let paused = answered(app, &["pause", "default"]);
    assert!(paused.iter().all(|r| r["ok"] == true && r["body"]["paused"] == true), "{paused:?}");
    let stats = answered(app, &["stats"]);
    assert!(stats.iter().all(|s| s["body"]["paused"] == json!(["default"])), "{stats:?}");
    let waiting = enqueue(app, &["app::math::add", "--a", "3", "--b", "4"]);
    let other = app.json(&["enqueue", "app::math::add", "--a", "5", "--b", "6", "--queue", "ops", "--wait"]);
    assert_eq!(other["result"], 11, "the ops queue is not paused");
    assert_eq!(app.json(&["status", &waiting])["state"], "queued", "the paused queue's task waits");
    assert_eq!(app.queue("default")["ready"], 1);
    let resumed = answered(app, &["resume", "default"]);
    assert!(resumed.iter().all(|r| r["ok"] == true && r["body"]["paused"] == false), "{resumed:?}");
    assert_eq!(app.json(&["result", &waiting, "--wait"]), 7);

    // grow and shrink one worker's pool.
    let grown = answered(app, &["grow", "2", "--worker", a]);
    assert_eq!((grown.len(), &grown[0]["body"]), (1, &json!({ "concurrency": 6 })), "{grown:?}");
    let shrunk = answered(app, &["shrink", "2", "-w", a]);
    assert_eq!(shrunk[0]["body"], json!({ "concurrency": 4 }), "{shrunk:?}");

    // revoke: a task due later never runs.
    let later = enqueue(app, &["app::math::add", "--a", "1", "--b", "2", "--countdown", "2s"]);
    let revoked = answered(app, &["revoke", &later]);
    assert!(revoked.iter().all(|r| r["ok"] == true), "{revoked:?}");
    reaches(app, &later, "revoked", "succeeded", WAIT);

    // revoke --terminate hard: a running task is stopped on its worker at once.
    let long = enqueue(app, &["app::ops::linger", "--seconds", "600"]);
    let deadline = Instant::now() + WAIT;
    let runner = loop {
        let held = answered(app, &["inspect"]);
        let runs = |r: &&Value| {
            r["body"]["active"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t["id"] == long.as_str() && t["running"] == true))
        };
        if let Some(r) = held.iter().find(runs) {
            break r["worker"].as_str().expect("a worker id").to_owned();
        }
        assert!(Instant::now() < deadline, "the long task never ran: {held:?}\n{}", logs(app));
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = String::from_utf8_lossy(&app.run(&["worker", "inspect"]).stdout).into_owned();
    let row =
        |l: &&str| l.contains(&long) && l.contains("app::ops::linger") && l.contains("ops") && l.contains("running");
    assert!(text.lines().any(|l| row(&l)), "{text}");
    let started = Instant::now();
    let stopped = answered(app, &["revoke", &long, "--terminate", "hard"]);
    assert_eq!(of(&stopped, &runner).map(|r| r["body"]["terminated"].clone()), Some(json!(1)), "{stopped:?}");
    reaches(app, &long, "revoked", "succeeded", Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(2), "stopped in {:?}", started.elapsed());

    // shutdown: the second worker exits 0; the first still answers.
    let bye = answered(app, &["shutdown", "--worker", b]);
    assert_eq!((bye.len(), &bye[0]["body"]), (1, &json!({ "mode": "warm" })), "{bye:?}");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = second.0.try_wait().expect("the worker's status") {
            break status;
        }
        assert!(Instant::now() < deadline, "worker {b} did not stop\n{}", logs(app));
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}\n{}", logs(app));
    assert_eq!(answered(app, &["ping", "-w", a]).len(), 1);
    drop(first);
}

/// The ids of `workers`, in their order, from their heartbeats (polled until
/// each has sent one).
fn worker_ids(app: &App, workers: &[&Worker]) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let beats = app.json(&["observe", "workers"]);
        let id = |w: &&Worker| {
            let beat = beats.as_array()?.iter().find(|b| b["pid"] == w.0.id())?;
            beat["worker_id"].as_str().map(str::to_owned)
        };
        if let Some(ids) = workers.iter().map(id).collect::<Option<Vec<_>>>() {
            return ids;
        }
        assert!(Instant::now() < deadline, "the workers sent no heartbeat: {beats}\n{}", logs(app));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_workers_are_steered_by_the_control_commands_on_sqlite() {
    two_workers_are_steered(&App::sqlite("cli-control"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_are_steered_by_the_control_commands_on_redis() -> stem_tests::TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_cli_control_{:08x}", fastrand::u32(..));
    let broker = format!("{url}?namespace={namespace}");
    let app = App { broker: broker.clone(), dir: TempDir::new("cli-control-redis") };
    tokio::task::spawn_blocking(move || two_workers_are_steered(&app)).await?;
    stem_adapters::redis::RedisStore::connect(&broker).await?.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_are_steered_by_the_control_commands_on_postgres() -> stem_tests::TestResult {
    let Some(url) = stem_tests::postgres_url() else { return Ok(()) };
    let schema = format!("test_cli_control_{:08x}", fastrand::u32(..));
    let sep = if url.contains('?') { '&' } else { '?' };
    let broker = format!("{url}{sep}schema={schema}");
    let app = App { broker: broker.clone(), dir: TempDir::new("cli-control-postgres") };
    tokio::task::spawn_blocking(move || two_workers_are_steered(&app)).await?;
    stem_adapters::postgres::PostgresStore::connect(&broker).await?.drop_schema().await?;
    Ok(())
}
