//! Durability of workflows: a worker process killed with SIGKILL while steps
//! are in flight loses no run. A new worker on the same store finishes every
//! run; steps completed before the kill do not run again, and only the steps
//! in flight at the kill run twice (counted through a side effect outside the
//! store). With many runs going, the kill lands while group commits are in
//! flight (SQLite, Redis and Postgres): each run repeats at most one step,
//! the one whose checkpoint was in the batch the kill cut off.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use stem::prelude::*;
use stem::workflow::RunStatus;
use stem_tests::{TempDir, TestResult, WAIT, within};

#[path = "../src/crash_flow.rs"]
mod crash_flow;

/// The child process, killed if the test fails before it kills it.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn effects(dir: &TempDir) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in std::fs::read_to_string(dir.file("effects")).unwrap_or_default().lines() {
        *counts.entry(line.to_owned()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_run_and_repeats_no_finished_step() -> TestResult {
    const N: u64 = 5;
    let dir = TempDir::new("wf-crash");
    crash_flow::DIR.set(dir.file("")).expect("set once");
    std::fs::write(dir.file("block"), b"")?;
    let file = dir.file("stem.db");
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_workflow_crash_worker"))
            .arg(format!("sqlite://{}", file.display()))
            .arg(N.to_string())
            .env("CRASH_DIR", dir.file(""))
            .spawn()?,
    );
    within("every run to be inside its charge step", async {
        while effects(&dir).keys().filter(|k| k.starts_with("charge ")).count() < N as usize {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    child.0.kill()?; // SIGKILL, mid-step
    child.0.wait()?;
    std::fs::remove_file(dir.file("block"))?;

    let ids: Vec<stem::TaskId> =
        std::fs::read_to_string(dir.file("runs"))?.lines().map(str::parse).collect::<Result<_, _>>()?;
    assert_eq!(ids.len(), N as usize);
    let stem = stem_adapters::connect(&format!("sqlite://{}", file.display())).await?;
    for id in &ids {
        let state = stem.workflows().get_run(*id).await?.expect("stored");
        assert_eq!((state.status, state.cursor), (RunStatus::Running, 1), "run {id}: only `reserve` was recorded");
    }

    let worker = Worker::builder(&stem).concurrency(8).lease(Duration::from_secs(1)).build()?.spawn();
    for (n, id) in (1..).zip(&ids) {
        let run = stem.workflow_handle::<String>(*id);
        assert_eq!(run.wait_timeout(WAIT).await?, format!("shipped for {}", n * 200), "run {id}");
    }
    worker.stop(ShutdownMode::Warm).await?;

    let counts = effects(&dir);
    for id in &ids {
        assert_eq!(counts.get(&format!("reserve {id}")), Some(&1), "run {id}: a recorded step never runs again");
        assert_eq!(counts.get(&format!("charge {id}")), Some(&2), "run {id}: the step in flight ran again");
        assert_eq!(counts.get(&format!("ship {id}")), Some(&1), "run {id}");
    }
    Ok(())
}

/// Kills a worker running `n` quick runs on the store at `url` once `after`
/// steps have run, then finishes them in this process and checks what repeated.
async fn kill_mid_batch(label: &str, url: &str, n: u64, after: usize) -> TestResult {
    let dir = TempDir::new(&format!("wf-batch-{label}"));
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_workflow_crash_worker"))
            .arg(url)
            .arg(n.to_string())
            .arg("quick")
            .env("CRASH_DIR", dir.file(""))
            .spawn()?,
    );
    within("the quick runs to be under way", async {
        while effects(&dir).values().sum::<usize>() < after {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    child.0.kill()?; // SIGKILL, with checkpoints in flight
    child.0.wait()?;
    let ran_before = effects(&dir).values().sum::<usize>();

    let ids: Vec<stem::TaskId> =
        std::fs::read_to_string(dir.file("runs"))?.lines().map(str::parse).collect::<Result<_, _>>()?;
    assert_eq!(ids.len(), n as usize, "{label}");
    let stem = stem_adapters::connect(url).await?;
    let worker = Worker::builder(&stem).concurrency(16).lease(Duration::from_secs(1)).build()?.spawn();
    for (i, id) in (1..).zip(&ids) {
        let run = stem.workflow_handle::<u64>(*id);
        assert_eq!(run.wait_timeout(WAIT).await?, i + 3, "{label}: run {id}");
    }
    worker.stop(ShutdownMode::Warm).await?;

    let counts = effects(&dir);
    let mut repeated = 0;
    for id in &ids {
        let runs: Vec<usize> =
            ["one", "two", "three"].iter().map(|s| counts.get(&format!("{s} {id}")).copied().unwrap_or(0)).collect();
        assert!(runs.iter().all(|c| (1..=2).contains(c)), "{label}: run {id}: every step ran, at most twice: {runs:?}");
        let twice = runs.iter().filter(|c| **c == 2).count();
        assert!(twice <= 1, "{label}: run {id} repeated {twice} steps; at most the one of the lost batch: {runs:?}");
        repeated += twice;
    }
    assert!(repeated <= 16, "{label}: {repeated} steps repeated; at most one per execution in flight (16)");
    println!("{label}: killed after {ran_before} steps; {repeated} steps repeated after the restart");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_repeats_at_most_one_step_per_run() -> TestResult {
    let dir = TempDir::new("wf-batch-file");
    kill_mid_batch("sqlite", &format!("sqlite://{}", dir.file("stem.db").display()), 300, 400).await?;
    let ns = format!("t_wf_batch_{:08x}", fastrand::u32(..));
    if let Some(url) = stem_tests::redis_url() {
        let url = format!("{url}{}namespace={ns}", if url.contains('?') { '&' } else { '?' });
        kill_mid_batch("redis", &url, 300, 400).await?;
        stem_adapters::redis::RedisStore::connect(&url).await?.delete_namespace().await?;
    }
    if let Some(url) = stem_tests::postgres_url() {
        let url = format!("{url}{}schema={ns}", if url.contains('?') { '&' } else { '?' });
        kill_mid_batch("postgres", &url, 300, 400).await?;
        stem_adapters::postgres::PostgresStore::connect(&url).await?.drop_schema().await?;
    }
    Ok(())
}
