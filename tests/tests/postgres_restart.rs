//! A worker outlives its database: while Postgres is down a producer gets a
//! clear error and the worker keeps retrying; when it is back the worker
//! resumes without a restart, and what was recorded before is still there.
//!
//! The test owns its server: a cluster made with `initdb` in a temp dir, on a
//! free port, stopped with `pg_ctl -m immediate` (a crash) and started again.

use std::path::{Path, PathBuf};
use std::process::Command;

use stem::prelude::*;
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::{TempDir, TestResult, WAIT, free_port, until_ok};

#[stem::task]
async fn double(n: u64) -> Result<u64, TaskError> {
    Ok(n * 2)
}

/// The newest `.../postgresql/<version>/bin` with `initdb` in it.
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| d.parent().and_then(Path::file_name).and_then(|v| v.to_str()?.parse::<u32>().ok()));
    dirs.pop()
}

/// A cluster of the test's own.
struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl OwnPostgres {
    /// Runs a server program, as the `postgres` user when the test runs as
    /// root (the server refuses to run as root).
    fn run(&self, program: &str, args: &[&str]) -> bool {
        let path = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command.args(args).output().is_ok_and(|o| o.status.success())
    }

    fn start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.data.display());
        let log = self.data.join("log");
        let started = self.run(
            "pg_ctl",
            &["-D", &self.data.display().to_string(), "-o", &options, "-l", &log.display().to_string(), "-w", "start"],
        );
        assert!(started, "the test's Postgres started on port {}", self.port);
    }

    fn crash(&self) {
        assert!(self.run("pg_ctl", &["-D", &self.data.display().to_string(), "-m", "immediate", "stop"]), "stopped");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["-D", &self.data.display().to_string(), "-m", "immediate", "stop"]);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_resumes_when_postgres_comes_back() -> TestResult {
    let Some(bin) = bin_dir() else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "no Postgres server programs under CI=true");
        eprintln!("skipped: no /usr/lib/postgresql/<version>/bin/initdb; install PostgreSQL to run this test");
        return Ok(());
    };
    let dir = TempDir::new("pg-restart");
    if is_root() {
        assert!(Command::new("chown").args(["postgres:postgres"]).arg(dir.file("")).status()?.success());
    }
    let server = OwnPostgres { bin, data: dir.file("data"), port: free_port() };
    let data = server.data.display().to_string();
    assert!(server.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres"]), "initdb made a cluster");
    server.start();

    let store = PostgresStore::connect_with(PostgresOptions::new(server.url())).await?;
    let stem = Stem::new(store.stores());
    let worker = Worker::builder(&stem).task::<Double>().concurrency(4).handle_signals(false).build()?.spawn();
    let before = Double::enqueue(&stem, 1).await?;
    assert_eq!(before.wait_timeout(WAIT).await?, 2);

    server.crash();
    let error = Double::enqueue(&stem, 2).await.expect_err("Postgres is down");
    assert!(error.to_string().contains("Postgres is unreachable"), "the error names the store and the cause: {error}");
    eprintln!("enqueue while Postgres was down: {error}");

    server.start();
    // The pools reconnect on their own; the worker was never restarted.
    let after = until_ok("Postgres to accept tasks again", || Double::enqueue(&stem, 21)).await;
    assert_eq!(after.wait_timeout(WAIT).await?, 42, "the worker resumed consuming");
    assert_eq!(before.wait_timeout(WAIT).await?, 2, "what was recorded before the crash is still there");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}
