//! The tasks of the chord crash test, compiled into both the child worker
//! (`bin/chord_crash_worker.rs`) and the test: members that note each run in
//! `$CRASH_DIR/members`, and a callback that notes each of its runs, with
//! how many results it got and their sum, in `$CRASH_DIR/callbacks` (side
//! effects outside the store).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use stem::prelude::*;

/// Where the side effects go: set by the test process; the child reads `$CRASH_DIR`.
pub(crate) static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn note(file: &str, line: &str) -> Result<(), TaskError> {
    let dir = DIR.get_or_init(|| PathBuf::from(std::env::var("CRASH_DIR").expect("CRASH_DIR is set")));
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(file))?;
    // One write per line: concurrent tasks append whole lines.
    log.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

/// A member: a few milliseconds of work, so that a kill lands mid-run.
#[stem::task(name = "chord_crash.member")]
pub(crate) async fn member(n: u64) -> Result<u64, TaskError> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    note("members", &n.to_string())?;
    Ok(n)
}

/// The callback: notes its run, with the count and sum of what it got.
#[stem::task(name = "chord_crash.total")]
pub(crate) async fn total(values: Vec<u64>) -> Result<u64, TaskError> {
    let sum = values.iter().sum();
    note("callbacks", &format!("{} {sum}", values.len()))?;
    Ok(sum)
}
