//! A chord survives its workers: 1,000 members run while the worker process
//! is killed with SIGKILL twice and started again, on SQLite and on Redis.
//! The callback runs exactly once (counted through a side effect outside the
//! store), with every member's result.

use std::process::Command;
use std::time::Duration;

use stem::canvas::{chord, group};
use stem_tests::{TempDir, TestResult, WAIT, redis_url, within};

#[path = "../src/chord_flow.rs"]
mod chord_flow;

use chord_flow::{Member, Total};

const MEMBERS: u64 = 1000;

/// The worker process, killed if the test fails before it kills it.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines(dir: &TempDir, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.file(file)).unwrap_or_default().lines().map(str::to_owned).collect()
}

fn start_worker(url: &str, dir: &TempDir) -> std::io::Result<Child> {
    let child =
        Command::new(env!("CARGO_BIN_EXE_chord_crash_worker")).arg(url).env("CRASH_DIR", dir.file("")).spawn()?;
    Ok(Child(child))
}

/// Waits until `count` member runs are noted.
async fn members_ran(dir: &TempDir, count: usize) {
    within(&format!("{count} member runs"), async {
        while lines(dir, "members").len() < count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

async fn survives_two_kills(url: &str, dir: &TempDir) -> TestResult {
    chord_flow::DIR.set(dir.file("")).ok();
    let stem = stem_adapters::connect(url).await?;
    let header = group((1..=MEMBERS).map(Member::call).collect::<Vec<_>>());
    let handle = chord(header, Total::link()).enqueue(&stem).await?;

    let mut worker = start_worker(url, dir)?;
    // Once early, once as the last members finish (when the chord is claimed).
    for progress in [300, 990] {
        members_ran(dir, progress).await;
        worker.0.kill()?; // SIGKILL, mid-run
        worker.0.wait()?;
        worker = start_worker(url, dir)?;
    }
    let sum = tokio::time::timeout(WAIT * 3, handle.wait()).await??;
    assert_eq!(sum, MEMBERS * (MEMBERS + 1) / 2, "the callback got every result");
    drop(worker);

    let member_runs = lines(dir, "members");
    eprintln!("{url}: {} member runs for {MEMBERS} members", member_runs.len());
    assert!(member_runs.len() >= MEMBERS as usize, "every member ran: {}", member_runs.len());
    let callbacks = lines(dir, "callbacks");
    assert_eq!(callbacks, vec![format!("{MEMBERS} {sum}")], "the callback ran exactly once, with all results");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chord_on_sqlite_survives_two_killed_workers() -> TestResult {
    let dir = TempDir::new("chord-crash-sqlite");
    let url = format!("sqlite://{}", dir.file("stem.db").display());
    survives_two_kills(&url, &dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chord_on_redis_survives_two_killed_workers() -> TestResult {
    let Some(base) = redis_url() else { return Ok(()) };
    let dir = TempDir::new("chord-crash-redis");
    let url = format!("{base}?namespace=chord_crash_{:08x}", fastrand::u32(..));
    let outcome = survives_two_kills(&url, &dir).await;
    stem_adapters::redis::RedisStore::connect(&url).await?.delete_namespace().await?;
    outcome
}
