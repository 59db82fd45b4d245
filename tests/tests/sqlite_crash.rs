//! Durability: a worker process killed with SIGKILL mid-run loses nothing. A new
//! worker on the same SQLite file finishes every task; only tasks whose message
//! was still there at the kill run again (in flight, or finished and recorded
//! but not yet acked: outcome first, ack after), and no acked task runs again.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use stem::prelude::*;
use stem::{TaskId, TaskState};
use stem_tests::{TempDir, TestResult, WAIT, within};

/// The ids this process ran, in order.
static RAN_HERE: Mutex<Vec<TaskId>> = Mutex::new(Vec::new());

#[stem::task(name = "crash.work")]
async fn work(ctx: TaskContext, millis: u64) -> Result<u64, TaskError> {
    RAN_HERE.lock().expect("lock").push(ctx.id());
    tokio::time::sleep(Duration::from_millis(millis)).await;
    Ok(millis)
}

fn read_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_task() -> TestResult {
    const N: usize = 200;
    let dir = TempDir::new("crash");
    let file = dir.file("stem.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .arg(&file)
        .arg(dir.file(""))
        .arg(N.to_string())
        .env("CRASH_DIR", dir.file(""))
        .spawn()?;

    // Kill it once it has started a good share of the work, and well before the end.
    within("the child to start 30 tasks", async {
        while read_lines(&dir.file("runs")).len() < 30 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    child.kill()?; // SIGKILL
    child.wait()?;
    let started_in_child: HashSet<String> = read_lines(&dir.file("runs")).into_iter().collect();
    let ids: Vec<TaskId> = read_lines(&dir.file("ids")).iter().map(|l| l.parse()).collect::<Result<_, _>>()?;
    assert_eq!(ids.len(), N, "the child enqueued every task before working");

    // The messages still in the file at the kill (read before anything opens it again).
    let still_queued: HashSet<String> = {
        let conn = rusqlite::Connection::open(&file)?;
        let mut stmt = conn.prepare("SELECT id FROM stem_messages")?;
        stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?
    };
    let stem = stem_adapters::connect(&format!("sqlite://{}", file.display())).await?;
    let mut finished_before = HashSet::new();
    for id in &ids {
        if stem.backend().get(*id).await?.is_some_and(|s| s.state == TaskState::Succeeded) {
            finished_before.insert(*id);
        }
    }
    assert!(finished_before.len() < N, "the kill came before the end ({} finished)", finished_before.len());
    assert!(!finished_before.is_empty(), "the child finished some tasks before the kill");

    let worker = Worker::builder(&stem).task::<Work>().concurrency(8).build()?.spawn();
    for id in &ids {
        let status = within("every task to finish", stem.backend().wait(*id, WAIT)).await?;
        assert_eq!(status.map(|s| s.state), Some(TaskState::Succeeded), "task {id}");
    }
    worker.stop(ShutdownMode::Warm).await?;

    let ran_here = RAN_HERE.lock().expect("lock").clone();
    let mut runs: HashMap<TaskId, usize> = HashMap::new();
    for id in &ran_here {
        *runs.entry(*id).or_default() += 1;
    }
    assert!(runs.values().all(|n| *n == 1), "without a crash, each task runs once here");
    for id in &ids {
        let again = runs.contains_key(id);
        let queued = still_queued.contains(&id.to_string());
        assert!(!again || queued, "task {id} ran again although its message had been acked before the kill");
        assert!(queued || finished_before.contains(id), "task {id} was acked but not recorded as finished");
        if !again {
            assert!(finished_before.contains(id), "task {id} neither finished before the kill nor ran after it");
        }
    }
    let twice: Vec<_> =
        ids.iter().filter(|id| runs.contains_key(id) && started_in_child.contains(&id.to_string())).collect();
    let mut report = std::io::stderr();
    writeln!(
        report,
        "{} finished before the kill, {} ran after it, {} of those were in flight at the kill",
        finished_before.len(),
        runs.len(),
        twice.len()
    )?;
    assert_eq!(
        stem.queue_stats()?.pending_count("default").await? + stem.queue_stats()?.inflight_count("default").await?,
        0
    );
    Ok(())
}
