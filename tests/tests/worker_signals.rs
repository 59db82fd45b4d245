//! OS signals: SIGTERM drains (warm), SIGINT cancels and requeues (soft).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs the signal worker with a task of `millis`, sends `signal` once the task
/// has started, and returns everything the worker printed.
fn run_and_signal(millis: u64, signal: &str) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signal_worker"))
        .arg(millis.to_string())
        .stdout(Stdio::piped())
        .env("RUST_LOG", "off")
        .spawn()
        .expect("the signal worker starts");
    let stdout = child.stdout.take().expect("piped");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = lines.recv_timeout(Duration::from_secs(20)).expect("the task starts");
        seen.push(line);
        if seen.last().is_some_and(|l| l == "started") {
            break;
        }
    }
    let sent = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} works");
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(20)) {
        seen.push(line);
    }
    let status = child.wait().expect("the worker exits");
    assert!(status.success(), "the worker exits cleanly: {status:?}, output {seen:?}");
    seen
}

#[test]
fn sigterm_lets_the_running_task_finish() {
    let output = run_and_signal(500, "TERM");
    assert_eq!(output, ["started", "finished", "stopped: state=succeeded pending=0"]);
}

#[test]
fn sigint_cancels_the_running_task_and_requeues_it() {
    let output = run_and_signal(60_000, "INT");
    assert_eq!(output, ["started", "stopped: state=queued pending=1"]);
}
