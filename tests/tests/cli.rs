//! The generated command line, end to end through the real binaries: the
//! example application (`examples/app.rs`, whose `main` is `stem_cli::run()`)
//! and the bare `stem` binary, on SQLite and on Redis. The control commands
//! (`worker ping|stats|...`) are tested in `cli/control.rs`.

#[path = "cli/control.rs"]
mod control;

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use stem_tests::{TempDir, TestResult, WAIT, free_port, redis_url};

/// The example application, on one store.
struct App {
    broker: String,
    dir: TempDir,
}

impl App {
    fn sqlite(label: &str) -> Self {
        let dir = TempDir::new(label);
        let broker = format!("sqlite://{}", dir.file("app.db").display());
        Self { broker, dir }
    }

    fn command(&self, binary: &str, args: &[&str]) -> Command {
        let mut command = Command::new(binary);
        command
            .arg("--broker")
            .arg(&self.broker)
            .args(args)
            .current_dir(self.dir.file(""))
            .env_remove("STEM_BROKER_URL")
            .env_remove("STEM_RESULT_BACKEND_URL")
            .env_remove("STEM_ROUTING_CONFIG")
            .stdin(Stdio::null());
        command
    }

    /// Runs the app with `args`.
    fn run(&self, args: &[&str]) -> Output {
        self.run_in(args, &[])
    }

    /// Runs the app with `args` and environment variables `vars`.
    fn run_in(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        self.command(env!("CARGO_BIN_EXE_app"), args).envs(vars.iter().copied()).output().expect("the app runs")
    }

    /// Runs the app with `args` and `--json`, expecting success: its stdout, parsed.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["--json"]].concat());
        assert!(
            out.status.success(),
            "{args:?} failed: {}\nthe worker's log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.worker_log()
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out:?}"))
    }

    /// A worker process, killed when dropped; its output goes to `worker.log`.
    fn worker(&self) -> Worker {
        self.worker_with(&[])
    }

    /// [`worker`](Self::worker) with more arguments.
    fn worker_with(&self, more: &[&str]) -> Worker {
        self.worker_in(more, &[])
    }

    /// [`worker`](Self::worker) with more arguments and environment variables.
    fn worker_in(&self, more: &[&str], vars: &[(&str, &str)]) -> Worker {
        self.process("worker.log", &[&["worker", "-c", "4", "-v"], more].concat(), vars)
    }

    /// The app running `args` as a process, killed when dropped; its output
    /// goes to the file `log`.
    fn process(&self, log: &str, args: &[&str], vars: &[(&str, &str)]) -> Worker {
        let log = std::fs::File::create(self.dir.file(log)).expect("a log file");
        let child = self
            .command(env!("CARGO_BIN_EXE_app"), args)
            .envs(vars.iter().copied())
            .stdout(log.try_clone().expect("the log again"))
            .stderr(log)
            .spawn()
            .expect("the process starts");
        Worker(child)
    }

    /// What the worker has logged so far, for failure messages.
    fn worker_log(&self) -> String {
        std::fs::read_to_string(self.dir.file("worker.log")).unwrap_or_default()
    }

    /// Polls `args` (with `--json`) every 50 ms until `done` holds of its output.
    fn until(&self, what: &str, args: &[&str], done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let value = self.json(args);
            if done(&value) {
                return value;
            }
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}: {value}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The counts of `queue`, from `observe queues --json`.
    fn queue(&self, queue: &str) -> Value {
        let all = self.json(&["observe", "queues"]);
        all.as_array()
            .and_then(|qs| qs.iter().find(|q| q["queue"] == queue).cloned())
            .unwrap_or_else(|| json!({ "queue": queue, "ready": 0, "delayed": 0, "leased": 0, "dead": 0 }))
    }
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Enqueue, work and read results by CLI; dead letters; a workflow run.
fn tasks_dead_letters_and_workflows(app: &App) {
    let worker = app.worker();
    let sum = app.json(&["enqueue", "app::math::add", "--a", "2", "--b", "40", "--wait"]);
    assert_eq!((sum["state"].as_str(), &sum["result"]), (Some("succeeded"), &json!(42)));

    let email = r#"{"to": "ada@example.com", "subject": "hi"}"#;
    let sent = app.json(&["enqueue", "app::emails::send", "--email", email, "--wait"]);
    assert_eq!(sent["result"], json!({ "to": "ada@example.com", "message_id": 1002 }), "a struct result, decoded");

    let later = app.json(&["enqueue", "app::math::add", "--args", r#"{"a": 1, "b": 1}"#]);
    let id = later["id"].as_str().expect("an id").to_owned();
    assert_eq!((later["task"].as_str(), later["queue"].as_str()), (Some("app::math::add"), Some("default")));
    assert_eq!(app.json(&["result", &id, "--wait"]), json!(2));
    assert_eq!(app.json(&["status", &id])["state"], "succeeded");

    let refused = app.run(&["enqueue", "app::emails::newsletter", "--list", "all", "--wait"]);
    assert_eq!(code(&refused), Some(1), "a failed task exits 1");
    assert!(stderr(&refused).contains("the provider refused the newsletter to all"), "{}", stderr(&refused));
    app.until("the dead letter", &["observe", "queues"], |qs| qs.to_string().contains(r#""dead":1"#));
    let dead = app.json(&["dlq", "list", "-q", "emails"]);
    assert_eq!(dead.as_array().map(Vec::len), Some(1));
    assert!(dead[0]["reason"].as_str().is_some_and(|r| r.contains("refused")), "{dead}");

    // A workflow run: started by CLI, resumed by an event sent by CLI.
    let started = app.json(&["wf", "start", "app::checkout::checkout", "--order", r#"{"id": 7, "email": "b@x"}"#]);
    let run = started["run"].as_str().expect("a run id").to_owned();
    app.until("the run to wait for its parcel", &["wf", "waiters"], |w| w.to_string().contains(&run));
    let emitted = app.json(&["wf", "emit", "app.parcel.shipped", "--payload", r#"{"tracking": "1Z"}"#]);
    assert_eq!(emitted["resumed"], 1);
    let shown = app.until("the run to complete", &["wf", "show", &run], |s| s["run"]["status"] == "completed");
    assert_eq!(shown["run"]["result"], "ch_7 1Z 1019");
    let steps: Vec<&str> =
        shown["steps"].as_array().expect("steps").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(steps[0], "charge#0", "the steps in order: {steps:?}");
    drop(worker);

    // With no worker: a dry run changes nothing, --yes replays.
    let dry = app.json(&["dlq", "replay", "-q", "emails", "--dry-run"]);
    assert_eq!((dry["dry_run"].as_bool(), dry["replayed"].as_u64()), (Some(true), Some(1)));
    assert_eq!((app.queue("emails")["dead"].as_u64(), app.queue("emails")["ready"].as_u64()), (Some(1), Some(0)));
    let refused = app.run(&["dlq", "replay", "-q", "emails"]);
    assert_eq!(code(&refused), Some(64), "not on a terminal and no --yes: {}", stderr(&refused));
    assert!(stderr(&refused).contains("add --yes"), "{}", stderr(&refused));
    // By task id: an unknown one purges nothing; the dead one is replayed.
    let id = dead[0]["envelope"]["id"].as_str().expect("the dead letter's task id").to_owned();
    let unknown = stem::TaskId::new().to_string();
    let purged = app.json(&["dlq", "purge", "-q", "emails", "--id", &unknown, "--yes"]);
    assert_eq!(purged["purged"], 0, "an unknown id purges nothing");
    let dry = app.json(&["dlq", "replay", "-q", "emails", "--id", &id, "--id", &unknown, "--dry-run"]);
    assert_eq!(dry["replayed"], 1, "{dry}");
    assert_eq!(app.json(&["dlq", "replay", "-q", "emails", "--id", &id, "--yes"])["replayed"], 1);
    assert_eq!((app.queue("emails")["dead"].as_u64(), app.queue("emails")["ready"].as_u64()), (Some(0), Some(1)));
    assert_eq!(app.json(&["dlq", "purge", "-q", "emails", "--yes"])["purged"], 0, "nothing left to purge");
}

#[test]
fn tasks_dead_letters_and_workflows_on_sqlite() {
    tasks_dead_letters_and_workflows(&App::sqlite("cli-sqlite"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_dead_letters_and_workflows_on_redis() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_cli_{:08x}", fastrand::u32(..));
    let broker = format!("{url}?namespace={namespace}");
    let app = App { broker: broker.clone(), dir: TempDir::new("cli-redis") };
    tokio::task::spawn_blocking(move || tasks_dead_letters_and_workflows(&app)).await?;
    stem_adapters::redis::RedisStore::connect(&broker).await?.delete_namespace().await?;
    Ok(())
}

#[test]
fn invalid_input_exits_64_and_enqueues_nothing() {
    let app = App::sqlite("cli-invalid");
    let cases: &[(&[&str], &str)] = &[
        (&["enqueue", "app::math::add", "--a", "2"], "--b <i64>"),
        (
            &["enqueue", "app::math::add", "--a", "2", "--b", "forty"],
            "--b: expected i64 (invalid type: string \"forty\"",
        ),
        (&["enqueue", "app::math::add", "--args", r#"{"a": 2}"#], "missing field `b`"),
        (&["enqueue", "app::math::add", "--args", "{not json"], "--args: `{not json` is not JSON"),
        (
            &["enqueue", "app::emails::send", "--email", r#"{"to": "ada"}"#],
            "--email: expected Email (missing field `subject`",
        ),
        (&["enqueue", "app::math::ad", "--a", "1"], "did you mean `app::math::add`?"),
        (&["enqueue", "app::math::add", "--a", "1", "--b", "2", "--priority", "10"], "10 is not in 0..=9"),
        (&["enqueue", "app::math::add", "--a", "1", "--b", "2", "--countdown", "soon"], "not a duration"),
        (&["wf", "start", "app::checkout::checkout", "--order", r#"{"id": "seven"}"#], "--order: expected Order"),
        (&["wf", "emit", "app.parcel.shiped", "--payload", "{}"], "did you mean `app.parcel.shipped`?"),
        (&["wf", "emit", "app.parcel.shipped", "--payload", r#"{"tracking": 5}"#], "`tracking`: invalid type"),
        (&["worker", "--task", "app::math::ad"], "--task: no task is named `app::math::ad`; did you mean"),
        (&["worker", "revoke", "7"], "invalid value '7' for '<TASK_ID>...': `7` is not a task id"),
        (
            &["worker", "revoke", "0192f0c1-7b2a-7000-8000-000000000001", "--keep", "ever"],
            "for '--keep <DURATION>': `ever` is not a duration",
        ),
        (&["worker", "revoke", "0192f0c1-7b2a-7000-8000-000000000001", "--terminate", "now"], "'now' for '--terminate"),
        (&["worker", "ping", "--timeout", "soon"], "--timeout <DURATION>': `soon` is not a duration"),
        (&["worker", "grow", "0"], "`0` is not a number of slots"),
        (&["worker", "shutdown", "--mode", "gentle"], "invalid value 'gentle' for '--mode"),
        (&["worker", "-c", "4", "ping"], "cannot be used with"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, says) in cases {
        let out = app.run(args);
        assert_eq!(code(&out), Some(64), "{args:?} exits 64: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?} says {says:?}: {}", stderr(&out));
    }
    let queues = app.json(&["observe", "queues"]);
    let ready: u64 = queues.as_array().map_or(0, |qs| qs.iter().filter_map(|q| q["ready"].as_u64()).sum());
    assert_eq!(ready, 0, "nothing was enqueued: {queues}");
    assert_eq!(app.json(&["wf", "ls"]), json!([]), "no run was started");
}

#[test]
fn health_exits_1_when_a_store_does_not_answer() {
    let app = App::sqlite("cli-health");
    let checks = app.json(&["health"]);
    assert!(checks.as_array().is_some_and(|cs| cs.iter().all(|c| c["ok"] == true)), "{checks}");
    let down = App { broker: format!("redis://:secret@127.0.0.1:{}", free_port()), dir: TempDir::new("cli-down") };
    let out = down.run(&["health", "--json"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let checks: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((checks[0]["store"].as_str(), checks[0]["ok"].as_bool()), (Some("broker"), Some(false)), "{checks}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("secret"), "no password shown: {checks}");
}

#[test]
fn tasks_are_listed_with_their_argument_types() {
    let app = App::sqlite("cli-tasks");
    let tasks = app.json(&["tasks", "ls"]);
    let add = tasks.as_array().and_then(|ts| ts.iter().find(|t| t["name"] == "app::math::add")).expect("listed");
    assert_eq!(add["args"], json!([{ "name": "a", "type": "i64" }, { "name": "b", "type": "i64" }]));
    assert_eq!(
        (add["output"].as_str(), add["doc"].as_str(), add["queue"].as_str()),
        (Some("i64"), Some("Adds two numbers."), Some("default"))
    );
    let send = app.json(&["tasks", "show", "app::emails::send"]);
    assert_eq!((send["args"][0]["type"].as_str(), send["options"]["max_retries"].as_u64()), (Some("Email"), Some(2)));
    assert!(send["location"].as_str().is_some_and(|l| l.contains("examples/app.rs:")), "{send}");
}

#[test]
fn help_is_pinned() {
    let app = App::sqlite("cli-help");
    for (name, args) in [
        ("root", &["--help"][..]),
        ("enqueue_add", &["enqueue", "app::math::add", "--help"][..]),
        ("schedule", &["schedule", "--help"][..]),
        ("worker", &["worker", "--help"][..]),
        ("worker_revoke", &["worker", "revoke", "--help"][..]),
    ] {
        let out = app.run(args);
        assert!(out.status.success());
        insta::assert_snapshot!(name, String::from_utf8_lossy(&out.stdout));
    }
    let completions = app.run(&["completions", "bash"]);
    let script = String::from_utf8_lossy(&completions.stdout);
    assert!(script.contains("app::math::add") && script.contains("enqueue"), "completions cover the linked tasks");
}

#[test]
fn the_bare_stem_binary_sends_arguments_as_given_and_says_so() {
    let app = App::sqlite("cli-bare");
    let stem = |args: &[&str]| app.command(env!("CARGO_BIN_EXE_stem_bare"), args).output().expect("runs");
    let out = stem(&["tasks", "ls"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no tasks are linked into this binary"));
    let out = stem(&["enqueue", "billing::invoice", "--args", r#"{"order": 7}"#, "--queue", "billing", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not linked into this binary: its arguments are sent as given, unchecked"));
    let enqueued: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(enqueued["queue"], "billing");
    assert_eq!(app.queue("billing")["ready"], 1);
    let out = stem(&["enqueue", "billing::invoice"]);
    assert_eq!(code(&out), Some(64), "--args is needed: {}", stderr(&out));
}

#[test]
fn a_worker_serves_prometheus_metrics_on_metrics_addr() {
    let app = App::sqlite("cli-metrics");
    let addr = format!("127.0.0.1:{}", free_port());
    let _worker = app.worker_with(&["--metrics-addr", &addr]);
    let sum = app.json(&["enqueue", "app::math::add", "--a", "2", "--b", "3", "--wait"]);
    assert_eq!(sum["result"], json!(5));
    // Scraped with curl until the hook has counted the task.
    let deadline = std::time::Instant::now() + WAIT;
    let text = loop {
        let out = Command::new("curl").args(["-sS", "--max-time", "5", &format!("http://{addr}/metrics")]).output();
        let text = String::from_utf8_lossy(&out.expect("curl runs").stdout).into_owned();
        if text.contains("stem_tasks_succeeded_total{") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "no metrics on {addr}: {text}\n{}", app.worker_log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(text.contains(r#"task="app::math::add""#), "{text}");
    assert!(text.contains("# TYPE stem_task_duration_seconds histogram"), "{text}");
}

/// A stand-in OpenTelemetry collector on a free port: answers every HTTP
/// request 200 and keeps its body (OTLP protobuf).
fn collector() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = std::sync::Arc::clone(&kept);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("the stream"));
                let mut stream = stream;
                // Requests one after another on the connection, until it closes.
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(n) = lower.strip_prefix("content-length:") {
                            length = n.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    kept.lock().unwrap().push(body);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                    );
                }
            });
        }
    });
    (port, bodies)
}

#[test]
fn spans_go_to_the_otlp_collector_the_environment_names() {
    let app = App::sqlite("cli-otlp");
    let (port, bodies) = collector();
    let endpoint = format!("http://127.0.0.1:{port}");
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "shop"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ];
    let _worker = app.worker_in(&[], &vars);
    let out = app.run_in(&["enqueue", "app::math::add", "--a", "1", "--b", "2", "--wait", "--json"], &vars);
    assert!(out.status.success(), "{}", stderr(&out));
    // The producer flushed its span as it exited; the worker exports in batches.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let all: Vec<u8> = bodies.lock().unwrap().concat();
        let has = |what: &str| all.windows(what.len()).any(|w| w == what.as_bytes());
        if has("stem.enqueue") && has("stem.execute") && has("shop") && has("app::math::add") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the collector did not get both spans ({} bodies)\n{}",
            bodies.lock().unwrap().len(),
            app.worker_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_cli_signs_and_verifies_from_stem_signing_variables() {
    let app = App::sqlite("cli-signing");
    let keys = [("STEM_SIGNING_KEYS", "v1:c2VjcmV0IG9mIHYx"), ("STEM_SIGNING_ACTIVE_KEY", "v1")];
    let _worker = app.worker_in(&[], &keys);
    let signed = app.run_in(&["enqueue", "app::math::add", "--a", "4", "--b", "5", "--wait", "--json"], &keys);
    assert!(signed.status.success(), "{}\n{}", stderr(&signed), app.worker_log());
    // Unsigned, to the signing worker: dead-lettered, never run.
    let unsigned = app.run(&["enqueue", "app::math::add", "--a", "1", "--b", "1", "--wait"]);
    assert_eq!(code(&unsigned), Some(1), "{}", stderr(&unsigned));
    assert!(stderr(&unsigned).contains("signature-invalid"), "{}", stderr(&unsigned));
    // A misconfiguration names its variable.
    let misnamed = [("STEM_SIGNING_KEYS", "v1:c2VjcmV0IG9mIHYx"), ("STEM_SIGNING_ACTIVE_KEY", "v9")];
    let wrong = app.run_in(&["enqueue", "app::math::add", "--a", "1", "--b", "1"], &misnamed);
    assert!(!wrong.status.success() && stderr(&wrong).contains("STEM_SIGNING_ACTIVE_KEY"), "{}", stderr(&wrong));
}

/// Runs the app with `args` and `vars`, expecting it to exit by itself
/// within [`WAIT`] (it is killed, and the test fails, if it does not).
fn exits(app: &App, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut child = app
        .command(env!("CARGO_BIN_EXE_app"), args)
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the app runs");
    let deadline = std::time::Instant::now() + WAIT;
    while child.try_wait().expect("the app's status").is_none() {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("the app's output");
            panic!("`{}` did not exit within {WAIT:?}:\n{}", args.join(" "), stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("the app's output")
}

/// Environment variables by name.
type Vars = Vec<(&'static str, &'static str)>;

#[test]
fn a_worker_with_a_wrong_signing_variable_refuses_to_start_naming_it() {
    let app = App::sqlite("cli-signing-worker");
    let p1 = "p1:6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="; // the public key of the secret [7; 32]
    let s1 = "p1:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    let ed = |more: &[(&'static str, &'static str)]| {
        [&[("STEM_SIGNING_ALGORITHM", "ed25519"), ("STEM_SIGNING_PUBLIC_KEYS", p1)][..], more].concat()
    };
    // The variables, the one an error must name, and what it must say.
    let cases: [(Vars, &str, &str); 4] = [
        (
            vec![("STEM_SIGNING_KEYS", "v1:c2VjcmV0IG9mIHYx"), ("STEM_SIGNING_ACTIVE_KEY", "v9")],
            "STEM_SIGNING_ACTIVE_KEY",
            "`v9`",
        ),
        // "short": 5 bytes.
        (
            vec![("STEM_SIGNING_ALGORITHM", "ed25519"), ("STEM_SIGNING_PUBLIC_KEYS", "p1:c2hvcnQ=")],
            "STEM_SIGNING_PUBLIC_KEYS",
            "5 bytes, not 32",
        ),
        (
            ed(&[("STEM_SIGNING_PRIVATE_KEYS", "p1:c2hvcnQ="), ("STEM_SIGNING_ACTIVE_KEY", "p1")]),
            "STEM_SIGNING_PRIVATE_KEYS",
            "5 bytes, not 32",
        ),
        (
            ed(&[("STEM_SIGNING_PRIVATE_KEYS", s1), ("STEM_SIGNING_ACTIVE_KEY", "p2")]),
            "STEM_SIGNING_ACTIVE_KEY",
            "`p2` is not among the keys",
        ),
    ];
    for (vars, variable, why) in cases {
        let out = exits(&app, &["worker"], &vars);
        let said = stderr(&out);
        assert_eq!(code(&out), Some(64), "{vars:?}: {said}");
        assert!(said.starts_with("error: ") && said.contains(variable) && said.contains(why), "{vars:?}: {said}");
        let others =
            ["STEM_SIGNING_KEYS", "STEM_SIGNING_PUBLIC_KEYS", "STEM_SIGNING_PRIVATE_KEYS", "STEM_SIGNING_ACTIVE_KEY"];
        for other in others.iter().filter(|v| **v != variable) {
            assert!(!said.contains(other), "{vars:?}: names {other} too: {said}");
        }
    }
}

/// A routing file for the example application's tasks.
const ROUTING: &str = r#"
[queues.maths]
aliases = ["numbers"]
priority = [1, 6]

[queues.mail]
aliases = ["post"]

[broadcasts.everyone]
queues = ["mail", "numbers"]

[[routes]]
task = "app::math::*"
queue = "numbers"
priority = 7

[[routes]]
task = "app::emails::newsletter"
broadcast = "everyone"

[[routes]]
task = "app::emails::*"
queue = "post"
"#;

/// `args` with `--json` and the variables `vars`, expecting success: its stdout, parsed.
fn json_in(app: &App, args: &[&str], vars: &[(&str, &str)]) -> Value {
    let out = app.run_in(&[args, &["--json"]].concat(), vars);
    assert!(out.status.success(), "{args:?} failed: {}\nthe worker's log:\n{}", stderr(&out), app.worker_log());
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out:?}"))
}

#[test]
fn routing_dump_shows_the_routing_file_and_where_each_task_goes() {
    let app = App::sqlite("cli-routing");
    let path = app.dir.file("routing.toml");
    std::fs::write(&path, ROUTING).expect("write the routing file");
    let path = path.to_str().expect("a UTF-8 path");

    let none = app.json(&["routing", "dump"]);
    assert_eq!((&none["routing"], &none["file"], &none["routes"]), (&json!(false), &Value::Null, &json!([])));
    let add = none["tasks"].as_array().and_then(|ts| ts.iter().find(|t| t["name"] == "app::math::add")).cloned();
    assert_eq!(add.map(|a| a["targets"].clone()), Some(json!([{ "queue": "default", "priority": 0 }])), "{none}");
    let text = app.run(&["routing", "dump"]);
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("no routing file (set STEM_ROUTING_CONFIG"), "{text:?}");

    let text = app.run(&["--routing", path, "routing", "dump"]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = String::from_utf8_lossy(&text.stdout);
    let row = |cells: &[&str]| text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == cells);
    assert!(text.starts_with(&format!("routing file {path}")), "{text}");
    assert!(row(&["maths", "numbers", "1", "to", "6"]), "{text}");
    assert!(row(&["everyone", "mail,", "maths"]), "{text}");
    assert!(row(&["routes[0]", "app::math::*", "queue", "maths", "(as", "numbers)", "7"]), "{text}");
    assert!(row(&["app::math::add", "maths", "6", "routes[0]"]), "priority 7 clamped into 1 to 6: {text}");
    assert!(row(&["app::emails::send", "mail", "0", "routes[2]"]), "the first matching route: {text}");

    let dump = json_in(&app, &["routing", "dump"], &[("STEM_ROUTING_CONFIG", path)]);
    assert_eq!((&dump["routing"], dump["file"].as_str()), (&json!(true), Some(path)));
    assert_eq!(
        dump["queues"],
        json!([
            { "name": "mail", "aliases": ["post"], "priority": [0, 9] },
            { "name": "maths", "aliases": ["numbers"], "priority": [1, 6] },
        ])
    );
    assert_eq!(dump["broadcasts"], json!([{ "name": "everyone", "queues": ["mail", "maths"] }]));
    let routes: Vec<&str> =
        dump["routes"].as_array().expect("routes").iter().filter_map(|r| r["task"].as_str()).collect();
    assert_eq!(routes, ["app::math::*", "app::emails::newsletter", "app::emails::*"], "in file order");
    assert_eq!(
        dump["routes"][0],
        json!({ "index": 0, "task": "app::math::*", "queue": "maths", "alias": "numbers", "broadcast": null, "priority": 7 })
    );
    let task = |name: &str| {
        dump["tasks"].as_array().and_then(|ts| ts.iter().find(|t| t["name"] == name)).cloned().expect("listed")
    };
    assert_eq!(
        task("app::emails::newsletter"),
        json!({
            "name": "app::emails::newsletter", "route": 1, "broadcast": "everyone",
            "targets": [{ "queue": "mail", "priority": 0 }, { "queue": "maths", "priority": 1 }],
        })
    );
    assert_eq!(task("app::math::add")["targets"], json!([{ "queue": "maths", "priority": 6 }]));

    // A worker on the alias of the routed queue runs what the routing sends there.
    let routed = [("STEM_ROUTING_CONFIG", path)];
    let _worker = app.worker_in(&["-q", "numbers"], &routed);
    let sent = json_in(&app, &["enqueue", "app::math::add", "--a", "2", "--b", "40"], &routed);
    assert_eq!(sent["queue"], "maths", "{sent}");
    let id = sent["id"].as_str().expect("an id");
    assert_eq!(json_in(&app, &["result", id, "--wait"], &routed), json!(42));
    let copies = json_in(&app, &["enqueue", "app::emails::newsletter", "--list", "all"], &routed);
    assert_eq!(copies["broadcast"], json!({ "name": "everyone", "queues": ["mail", "maths"] }), "{copies}");
}

#[test]
fn a_bad_routing_file_is_refused_before_anything_runs() {
    let app = App::sqlite("cli-routing-bad");
    let bad = app.dir.file("bad.toml");
    std::fs::write(&bad, "[queues.maths]\n\n[[routes]]\ntask = \"app::math::*\"\nqueue = \"math\"\n").expect("write");
    let bad = bad.to_str().expect("a UTF-8 path");
    let out = app.run(&["--routing", bad, "enqueue", "app::math::add", "--a", "1", "--b", "2"]);
    assert_eq!(code(&out), Some(64), "{}", stderr(&out));
    let expected = format!(
        "error: invalid configuration: routing file {bad}: routes[0] (task \"app::math::*\"): queue \"math\" is \
         neither a queue nor an alias of one\n"
    );
    assert_eq!(stderr(&out), expected);

    let misspelled = app.dir.file("misspelled.toml");
    std::fs::write(&misspelled, "[queues.maths]\nalias = [\"numbers\"]\n").expect("write");
    let misspelled = misspelled.to_str().expect("a UTF-8 path");
    let out = app.run_in(&["worker"], &[("STEM_ROUTING_CONFIG", misspelled)]);
    assert_eq!(code(&out), Some(64), "{}", stderr(&out));
    let says = format!("routing file {misspelled}: line 2: queues.maths.alias: unknown field `alias`");
    assert!(stderr(&out).contains(&says), "{}", stderr(&out));

    let missing = app.run(&["--routing", "nowhere.toml", "routing", "dump"]);
    assert_eq!(code(&missing), Some(64), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("routing file nowhere.toml: cannot be read"), "{}", stderr(&missing));
    assert_eq!(app.queue("default")["ready"], 0, "nothing was enqueued");
}

/// A schedule file for the example application's tasks.
const SCHEDULES: &str = r#"
[[schedules]]
id = "sum"
task = "app::math::add"
schedule = "every 1s"
args = { a = 2, b = 40 }
catch_up = "all"

[[schedules]]
id = "morning"
task = "app::emails::send"
schedule = "cron: 0 8 * * 1-5 Europe/Paris"
args = { email = { to = "ada@example.com", subject = "good morning" } }
"#;

/// The schedule `id` from `schedule list --json`, if it is there.
fn listed(app: &App, id: &str) -> Option<Value> {
    app.json(&["schedule", "list"]).as_array().and_then(|all| all.iter().find(|e| e["id"] == id).cloned())
}

/// Writes `text` to the file `name` of the app's directory; its path.
fn write(app: &App, name: &str, text: &str) -> String {
    let path = app.dir.file(name);
    std::fs::write(&path, text).expect("write the file");
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[test]
fn schedule_files_apply_all_or_nothing_and_schedules_are_steered_by_id() {
    let app = App::sqlite("cli-schedule");
    // One good entry and two bad ones: refused whole, each mistake named.
    let bad = write(
        &app,
        "bad.toml",
        &format!(
            "{SCHEDULES}\n[[schedules]]\nid = \"typo\"\ntask = \"app::math::ad\"\nschedule = \"every 1h\"\n\n\
             [[schedules]]\nid = \"never\"\ntask = \"app::math::add\"\nschedule = \"every 0s\"\nargs = {{ a = 1, b = 2 }}\n"
        ),
    );
    let out = app.run(&["schedule", "apply", "-f", &bad]);
    assert_eq!(code(&out), Some(64), "{}", stderr(&out));
    for says in [
        format!("error: schedule file {bad}: "),
        "schedules[2] (id \"typo\"): task: `app::math::ad` is not a task linked into this binary".to_owned(),
        "schedules[3] (id \"never\"): schedule: ".to_owned(),
        "schedule `every 0s`: the interval must be longer than zero".to_owned(),
    ] {
        assert!(stderr(&out).contains(&says), "says {says:?}: {}", stderr(&out));
    }
    assert_eq!(app.json(&["schedule", "list"]), json!([]), "nothing was applied");

    // A dry run says what it would do and puts nothing.
    let good = write(&app, "schedules.toml", SCHEDULES);
    let dry = app.json(&["schedule", "apply", "-f", &good, "--dry-run"]);
    assert_eq!((&dry["dry_run"], &dry["created"], &dry["updated"]), (&json!(true), &json!(2), &json!(0)), "{dry}");
    assert_eq!(app.json(&["schedule", "list"]), json!([]), "a dry run puts nothing");

    let applied = app.json(&["schedule", "apply", "-f", &good]);
    assert_eq!((&applied["created"], &applied["unchanged"]), (&json!(2), &json!(0)), "{applied}");
    let all = app.json(&["schedule", "list"]);
    let ids: Vec<&str> = all.as_array().expect("a list").iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, ["morning", "sum"], "{all}");
    let sum = listed(&app, "sum").expect("listed");
    assert_eq!(
        (&sum["task"], &sum["schedule"], &sum["args"], &sum["enabled"], &sum["catch_up"], &sum["runs"]),
        (
            &json!("app::math::add"),
            &json!("every 1s"),
            &json!({ "a": 2, "b": 40 }),
            &json!(true),
            &json!("all"),
            &json!(0)
        )
    );
    let text = String::from_utf8_lossy(&app.run(&["schedule", "list"]).stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("sum ") && l.contains("app::math::add") && l.contains("every 1s")),
        "{text}"
    );

    // Applied again: unchanged; a changed field is named.
    assert_eq!(app.json(&["schedule", "apply", "-f", &good])["unchanged"], 2);
    let changed = write(&app, "changed.toml", &SCHEDULES.replace("\"every 1s\"", "\"every 2s\""));
    let updated = app.json(&["schedule", "apply", "-f", &changed]);
    assert_eq!((&updated["created"], &updated["updated"], &updated["unchanged"]), (&json!(0), &json!(1), &json!(1)));
    let entry = updated["entries"].as_array().and_then(|es| es.iter().find(|e| e["id"] == "sum").cloned());
    assert_eq!(
        entry.map(|e| (e["change"].clone(), e["fields"].clone())),
        Some((json!("updated"), json!(["schedule"])))
    );

    // Show, disable (the next fire kept), enable.
    let morning = app.json(&["schedule", "show", "morning"]);
    assert_eq!((&morning["id"], &morning["args"]["to"]), (&json!("morning"), &json!("ada@example.com")), "{morning}");
    let disabled = app.json(&["schedule", "disable", "morning"]);
    assert_eq!((&disabled["enabled"], &disabled["next_fire"]), (&json!(false), &morning["next_fire"]));
    assert_eq!(listed(&app, "morning").map(|e| e["enabled"].clone()), Some(json!(false)));
    assert_eq!(app.json(&["schedule", "enable", "morning"])["enabled"], true);
    assert_eq!(listed(&app, "morning").map(|e| e["enabled"].clone()), Some(json!(true)));

    // The next three fires: 08:00 in Paris, whatever the offset of the day.
    let fires = app.json(&["schedule", "dry-run", "morning", "--count", "3"]);
    assert_eq!(fires["zone"], "Europe/Paris", "{fires}");
    let fires = fires["fires"].as_array().expect("fires").clone();
    assert_eq!(fires.len(), 3, "{fires:?}");
    assert!(fires.iter().all(|f| f["local"].as_str().is_some_and(|l| l.contains("T08:00:00+0"))), "{fires:?}");
    let text = app.run(&["schedule", "dry-run", "morning", "--count", "3"]);
    let text = String::from_utf8_lossy(&text.stdout);
    let rows: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows.iter().all(|r| r.contains(" 08:00:00 CE")), "08:00 CET or CEST: {text}");

    // Deleted, and unknown ids.
    assert_eq!(app.json(&["schedule", "delete", "sum"])["deleted"], true);
    assert!(listed(&app, "sum").is_none());
    for command in ["show", "enable", "disable", "delete", "dry-run"] {
        let out = app.run(&["schedule", command, "sum"]);
        assert_eq!(code(&out), Some(1), "{command} of an unknown id: {}", stderr(&out));
        assert!(stderr(&out).contains("no schedule `sum`"), "{command}: {}", stderr(&out));
    }
}

/// Waits until the schedule `id` has fired a task that succeeded; that
/// task's result. Every `last_fire` seen is looked up by its task id.
fn fired_and_succeeded(app: &App, id: &str, log: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT * 3;
    loop {
        let fire = listed(app, id).and_then(|e| e["last_fire"].as_str().map(str::to_owned));
        if let Some(fire) = fire {
            let at: chrono::DateTime<chrono::Utc> = fire.parse().expect("a time");
            let task = stem::beat::fire_id(id, at).to_string();
            let status = app.run(&["status", &task, "--json"]);
            if status.status.success() {
                let status: Value = serde_json::from_slice(&status.stdout).expect("JSON");
                if status["state"] == "succeeded" {
                    return app.json(&["result", &task]);
                }
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "schedule {id} fired nothing that succeeded: {:?}\n{log}:\n{}\nworker.log:\n{}",
            listed(app, id),
            std::fs::read_to_string(app.dir.file(log)).unwrap_or_default(),
            app.worker_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn schedule_fires_of_beat_are_run_by_a_worker_and_beat_stops_on_sigterm() {
    let app = App::sqlite("cli-beat");
    let file = write(&app, "schedules.toml", SCHEDULES);
    app.json(&["schedule", "apply", "-f", &file]);
    let mut beat = app.process("beat.log", &["beat", "-v"], &[]);
    let _worker = app.worker();
    assert_eq!(fired_and_succeeded(&app, "sum", "beat.log"), json!(42));

    // SIGTERM: it stops after its tick, exits 0, and says what it enqueued.
    let pid = beat.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = beat.0.try_wait().expect("the beat's status") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "beat did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = std::fs::read_to_string(app.dir.file("beat.log")).unwrap_or_default();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("fire(s) enqueued") && log.contains("beat stopped"), "{log}");
}

#[test]
fn schedule_declared_by_a_task_fires_in_worker_with_beat() {
    let app = App::sqlite("cli-worker-beat");
    let _worker = app.worker_with(&["--beat"]);
    let name = "app::housekeeping::heartbeat";
    assert_eq!(fired_and_succeeded(&app, name, "worker.log"), json!("alive"));
    let declared = listed(&app, name).expect("declared");
    assert_eq!((&declared["task"], &declared["schedule"]), (&json!(name), &json!("every 1s")), "{declared}");
}
