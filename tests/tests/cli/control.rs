//! `worker ping|stats|inspect|pause|resume|grow|shrink|revoke|shutdown`: two
//! worker processes of the example application on one store, steered from
//! the shell (on SQLite, Redis and Postgres; the in-memory store cannot be
//! shared between processes, and `worker_control.rs` runs two workers in
//! one process on it).

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stem::{Stem, TaskId, TaskState, TaskStatus};
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

/// The log of worker process `n` (`worker-<n>.log`).
fn log(app: &App, n: u32) -> String {
    std::fs::read_to_string(app.dir.file(&format!("worker-{n}.log"))).unwrap_or_default()
}

/// Every worker's log, for failure messages.
fn logs(app: &App) -> String {
    (1..=WORKERS).map(|n| format!("worker-{n}.log:\n{}\n", log(app, n))).collect()
}

/// The most worker processes one scenario starts.
const WORKERS: u32 = 3;

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

/// The store as the library sees it from this process: for reads quicker
/// than a CLI process (a state change timed to the millisecond) and for
/// what the CLI never sends (a malformed control message).
struct Library {
    runtime: tokio::runtime::Runtime,
    stem: Stem,
}

impl Library {
    fn connect(app: &App) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the library");
        let stem = runtime.block_on(stem_adapters::connect(&app.broker)).expect("the store opens");
        Self { runtime, stem }
    }

    /// Task `id`'s status.
    fn status(&self, id: &str) -> Option<TaskStatus> {
        let id: TaskId = id.parse().expect("a task id");
        self.runtime.block_on(self.stem.handle::<Value>(id).status()).expect("a status read")
    }

    /// Polls `id`'s state until it is `want` (never `never` on the way), 1 s
    /// at most after `from`: how long after `from` it was seen.
    fn reaches_within_a_second(&self, id: &str, want: TaskState, never: TaskState, from: Instant) -> Duration {
        loop {
            let state = self.status(id).map(|s| s.state);
            let took = from.elapsed();
            if state == Some(want) {
                return took;
            }
            assert_ne!(state, Some(never), "task {id} ended {never}");
            assert!(took < Duration::from_secs(1), "task {id} is {state:?}, not {want}, {took:?} after the command");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the revoked `id`'s delivery is settled: `queue` holds
    /// nothing ready, delayed (a retry waiting) or leased, and no dead letter
    /// of `id`; then checks that it is revoked at its first attempt (never
    /// retried).
    fn settled(&self, app: &App, queue: &str, id: &str) {
        let stats = self.stem.queue_stats().expect("queue stats");
        let deadline = Instant::now() + WAIT;
        loop {
            let counts = self.runtime.block_on(stats.queues()).expect("queue counts");
            let counts = counts.into_iter().find(|q| q.queue == queue);
            let left = counts.as_ref().map_or((0, 0, 0), |c| (c.ready, c.delayed, c.leased));
            if left == (0, 0, 0) {
                break;
            }
            assert!(Instant::now() < deadline, "{id} on {queue}: not settled: {counts:?}\n{}", logs(app));
            std::thread::sleep(Duration::from_millis(20));
        }
        let dead = self.stem.broker().dead_letters().expect("dead letters");
        let task: TaskId = id.parse().expect("a task id");
        assert!(self.runtime.block_on(dead.get_dead_letter(queue, task)).expect("a dead letter read").is_none());
        let status = self.status(id).expect("a status");
        assert_eq!((status.state, status.attempt), (TaskState::Revoked, 0), "{status:?}");
    }

    /// Sends `payload` on the control channel, as a request would go.
    fn broadcast(&self, payload: &str) {
        let channel = self.stem.broker().broadcast().expect("a broadcast channel");
        self.runtime.block_on(channel.broadcast("stem.control", payload.as_bytes().to_vec())).expect("sent");
    }
}

/// Waits until the worker process exits, `within` at most after `from`:
/// how long after `from` it had, and whether it exited 0.
fn exits(app: &App, worker: &mut Worker, id: &str, from: Instant, within: Duration) -> (Duration, bool) {
    loop {
        if let Some(status) = worker.0.try_wait().expect("the worker's status") {
            return (from.elapsed(), status.success());
        }
        assert!(from.elapsed() < within, "worker {id} did not stop within {within:?}\n{}", logs(app));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Which of `workers` runs task `id` (polled with `inspect` until one does;
/// only those are asked: a worker that stopped keeps its heartbeat a while).
fn runner(app: &App, id: &str, workers: &[(String, Worker)]) -> String {
    let deadline = Instant::now() + WAIT;
    let mut args = vec!["inspect"];
    for (worker, _) in workers {
        args.extend(["-w", worker.as_str()]);
    }
    loop {
        let held = answered(app, &args);
        let runs = |r: &&Value| {
            r["body"]["active"].as_array().is_some_and(|a| a.iter().any(|t| t["id"] == id && t["running"] == true))
        };
        if let Some(r) = held.iter().find(runs) {
            return r["worker"].as_str().expect("a worker id").to_owned();
        }
        assert!(Instant::now() < deadline, "task {id} never ran: {held:?}\n{}", logs(app));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pings `ids` until every one answers (each listens once it is up).
fn all_answer(app: &App, ids: &[&str]) {
    let deadline = Instant::now() + WAIT;
    let mut args = vec!["ping", "--timeout", "1s"];
    for id in ids {
        args.extend(["-w", id]);
    }
    loop {
        let (code, replies, _) = control(app, &args);
        let all = ids.iter().all(|id| of(&replies, id).is_some_and(|r| r["ok"] == true && r["body"] == "pong"));
        if code == Some(0) && all && replies.len() == ids.len() {
            return;
        }
        assert!(Instant::now() < deadline, "{ids:?} never all answered a ping: {replies:?}\n{}", logs(app));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The whole scenario on `app`'s store.
fn two_workers_are_steered(app: &App) {
    let lib = Library::connect(app);
    // Nobody to ask: a broadcast says so and exits 1; a revoke is stored anyway.
    let out = app.run(&["worker", "ping"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no live workers"), "{}", stderr(&out));
    let early = enqueue(app, &["app::math::add", "--a", "1", "--b", "1", "--countdown", "2s"]);
    let out = app.run(&["worker", "revoke", &early]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no live workers to tell"), "{out:?}");

    let worker = |n: u32| app.process(&format!("worker-{n}.log"), &["worker", "-c", "4", "-v"], &[]);
    let (first, second) = (worker(1), worker(2));
    let ids = worker_ids(app, &[&first, &second]);
    let mut workers: Vec<(String, Worker)> = ids.iter().cloned().zip([first, second]).collect();
    let (a, b) = (ids[0].as_str(), ids[1].as_str());

    // ping: both answer (polled until both listen), each under its own id.
    all_answer(app, &[a, b]);
    let text = String::from_utf8_lossy(&app.run(&["worker", "ping"]).stdout).into_owned();
    assert!(text.lines().any(|l| l.trim_start().starts_with(a) && l.contains("pong")), "{text}");

    // The task revoked before any worker started is revoked when due, never run.
    reaches(app, &early, "revoked", "succeeded", WAIT);
    lib.settled(app, "default", &early);

    // A malformed control message: each worker logs it and still answers.
    let malformed = format!("{{not json {}", TaskId::new());
    lib.broadcast(&malformed);
    let deadline = Instant::now() + WAIT;
    for n in [1, 2] {
        let warned = |log: &str| log.lines().any(|l| l.contains(&malformed) && l.contains("does not parse"));
        while !warned(&log(app, n)) {
            assert!(Instant::now() < deadline, "worker {n} did not log {malformed}\n{}", logs(app));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(answered(app, &["ping"]).len(), 2, "both still answer");

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

    // inspect: a task sent with a countdown is scheduled on the workers of its queue.
    let email = r#"{"to": "ada@example.com", "subject": "later"}"#;
    let scheduled = enqueue(app, &["app::emails::send", "--email", email, "--countdown", "1h"]);
    let held = answered(app, &["inspect"]);
    for id in [a, b] {
        let listed = of(&held, id).and_then(|r| r["body"]["scheduled"].as_array()).cloned().unwrap_or_default();
        let entry = listed.iter().find(|s| s["id"] == scheduled.as_str());
        let entry = entry.unwrap_or_else(|| panic!("{id} lists no scheduled {scheduled}: {held:?}"));
        assert_eq!((entry["task"].as_str(), entry["queue"].as_str()), (Some("app::emails::send"), Some("emails")));
    }
    let text = String::from_utf8_lossy(&app.run(&["worker", "inspect"]).stdout).into_owned();
    let row = |l: &&str| l.contains(&scheduled) && l.contains("app::emails::send") && l.contains("scheduled, due in");
    assert!(text.lines().any(|l| row(&l)), "{text}");

    // revoke: a task due later never runs; its delivery is settled.
    let later = enqueue(app, &["app::math::add", "--a", "1", "--b", "2", "--countdown", "2s"]);
    let revoked = answered(app, &["revoke", &later]);
    assert!(revoked.iter().all(|r| r["ok"] == true), "{revoked:?}");
    reaches(app, &later, "revoked", "succeeded", WAIT);
    lib.settled(app, "default", &later);

    // revoke --terminate hard: a running task is stopped on its worker within
    // a second of the command; the worker counts it in flight meanwhile.
    let long = enqueue(app, &["app::ops::linger", "--seconds", "600"]);
    let runs = runner(app, &long, &workers);
    let stats = answered(app, &["stats", "-w", &runs]);
    assert!(stats[0]["body"]["in_flight"].as_u64() >= Some(1), "{stats:?}");
    if cfg!(target_os = "linux") {
        assert!(stats[0]["body"]["memory_bytes"].as_u64() > Some(0), "{stats:?}");
    }
    let text = String::from_utf8_lossy(&app.run(&["worker", "inspect"]).stdout).into_owned();
    let row =
        |l: &&str| l.contains(&long) && l.contains("app::ops::linger") && l.contains("ops") && l.contains("running");
    assert!(text.lines().any(|l| row(&l)), "{text}");
    let stopped = answered(app, &["revoke", &long, "--terminate", "hard"]);
    let sent = Instant::now();
    assert_eq!(of(&stopped, &runs).map(|r| r["body"]["terminated"].clone()), Some(json!(1)), "{stopped:?}");
    lib.reaches_within_a_second(&long, TaskState::Revoked, TaskState::Succeeded, sent);
    lib.settled(app, "ops", &long);

    // revoke --terminate soft: the task sees its context cancelled and ends
    // itself (it says so in its worker's log: a hard stop leaves no such
    // line), within a second; revoked, not retried though it has retries.
    let batch = enqueue(app, &["app::ops::batch", "--seconds", "600"]);
    let runs = runner(app, &batch, &workers);
    let stopped = answered(app, &["revoke", &batch, "--terminate", "soft"]);
    let sent = Instant::now();
    assert_eq!(of(&stopped, &runs).map(|r| r["body"]["terminated"].clone()), Some(json!(1)), "{stopped:?}");
    lib.reaches_within_a_second(&batch, TaskState::Revoked, TaskState::Succeeded, sent);
    let said = format!("app::ops::batch {batch}: asked to stop");
    assert!(logs(app).contains(&said), "no `{said}` in the logs\n{}", logs(app));
    lib.settled(app, "ops", &batch);

    // shutdown --mode soft: the worker running a task exits 0; the task goes
    // back to the queue and the other worker runs it to its end.
    let task = enqueue(app, &["app::ops::linger", "--seconds", "3"]);
    let runs = runner(app, &task, &workers);
    let bye = answered(app, &["shutdown", "--mode", "soft", "--worker", &runs]);
    assert_eq!((bye.len(), &bye[0]["body"]), (1, &json!({ "mode": "soft" })), "{bye:?}");
    let at = workers.iter().position(|(id, _)| *id == runs).expect("one of ours");
    let (_, mut gone) = workers.remove(at);
    let (_, success) = exits(app, &mut gone, &runs, Instant::now(), WAIT);
    assert!(success, "worker {runs} failed\n{}", logs(app));
    assert_eq!(runner(app, &task, &workers), workers[0].0, "the task runs again on the worker left");
    assert_eq!(app.json(&["result", &task, "--wait"]), 3, "to its end");

    // A third worker; then shutdown --mode hard: the worker running a task
    // exits at once and the task goes back to the queue, to the other worker.
    let third = worker(3);
    let id = worker_ids(app, &[&third]).remove(0);
    workers.push((id.clone(), third));
    let live: Vec<&str> = workers.iter().map(|(id, _)| id.as_str()).collect();
    all_answer(app, &live);
    let task = enqueue(app, &["app::ops::linger", "--seconds", "600"]);
    let runs = runner(app, &task, &workers);
    answered(app, &["shutdown", "--mode", "hard", "--worker", &runs]);
    let sent = Instant::now();
    let at = workers.iter().position(|(id, _)| *id == runs).expect("one of ours");
    let (_, mut gone) = workers.remove(at);
    let (took, success) = exits(app, &mut gone, &runs, sent, Duration::from_secs(3));
    assert!(success, "worker {runs} failed after {took:?}\n{}", logs(app));
    let again = runner(app, &task, &workers);
    assert_eq!(again, workers[0].0, "the task runs again on the worker left");
    answered(app, &["revoke", &task, "--terminate", "hard", "-w", &again]);
    reaches(app, &task, "revoked", "succeeded", WAIT);

    // shutdown (warm) of the last worker: it exits 0.
    let (last, mut process) = workers.remove(0);
    let bye = answered(app, &["shutdown", "--worker", &last]);
    assert_eq!((bye.len(), &bye[0]["body"]), (1, &json!({ "mode": "warm" })), "{bye:?}");
    let (_, success) = exits(app, &mut process, &last, Instant::now(), WAIT);
    assert!(success, "worker {last} failed\n{}", logs(app));
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
