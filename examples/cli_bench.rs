//! The command line's bulk operations on a full store, timed as the CLI runs
//! them (through `stem_cli::Cli`): `observe queues` over N queued tasks, and
//! `dlq replay` of M dead letters. The last line printed is one JSON line of
//! figures (the commands print their own output before it).
//!
//! `cargo run --release --example cli_bench -- --broker sqlite:///tmp/stem-cli.db --queued 1000000 --dead 100000`
//!
//! The store is emptied first (a new SQLite file, or a new Postgres schema).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use stem::broker::ReceiveRequest;
use stem::codec::Payload;
use stem::{Envelope, Stem};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What to measure.
struct Options {
    broker: String,
    queued: usize,
    dead: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options { broker: "sqlite:///tmp/stem-cli-bench.db".to_owned(), queued: 1_000_000, dead: 100_000 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--broker" => o.broker = value()?,
            "--queued" => o.queued = value()?.parse().map_err(|e| format!("--queued: {e}"))?,
            "--dead" => o.dead = value()?.parse().map_err(|e| format!("--dead: {e}"))?,
            other => return Err(format!("unknown flag {other}; flags: --broker URL --queued N --dead M")),
        }
    }
    Ok(o)
}

/// A fresh store at `url`: the SQLite file or the Postgres schema is made anew.
async fn fresh(url: &str) -> Result<Stem, Error> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        stem_adapters::postgres::PostgresStore::connect(url).await?.drop_schema().await?;
    }
    Ok(stem_adapters::connect(url).await?)
}

fn message(queue: &str) -> Envelope {
    Envelope::new("bench.noop", queue, Payload::new("json", b"1".to_vec()))
}

/// Publishes `n` messages on `queue`, 10,000 at a time.
async fn fill(stem: &Stem, queue: &str, n: usize) -> Result<(), Error> {
    let mut left = n;
    while left > 0 {
        let batch = left.min(10_000);
        stem.enqueue_envelopes((0..batch).map(|_| message(queue)).collect()).await?;
        left -= batch;
    }
    Ok(())
}

/// Makes `n` dead letters on `queue`: published, leased, dead-lettered.
async fn kill(stem: &Stem, queue: &str, n: usize) -> Result<(), Error> {
    fill(stem, queue, n).await?;
    let request = ReceiveRequest {
        queues: vec![queue.to_owned()],
        max: 1000,
        lease: Duration::from_secs(600),
        wait: Duration::from_secs(1),
        consumer: "cli-bench".to_owned(),
    };
    let mut dead = 0;
    while dead < n {
        let deliveries = stem.broker().receive(&request).await?;
        let settled = join_all(deliveries.iter().map(|d| stem.broker().dead_letter(&d.receipt, "bench"))).await;
        for result in settled {
            result?;
            dead += 1;
        }
    }
    Ok(())
}

/// Runs the CLI with `args` on `stem`; how long it took.
async fn timed(stem: &Stem, args: &[&str]) -> Result<Duration, Error> {
    let started = Instant::now();
    let code =
        stem_cli::Cli::new().stem(stem.clone()).run_from(std::iter::once("cli").chain(args.iter().copied())).await;
    let took = started.elapsed();
    if code != std::process::ExitCode::SUCCESS {
        return Err(format!("`{}` failed", args.join(" ")).into());
    }
    Ok(took)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let o = options()?;
    let stem = fresh(&o.broker).await?;
    let started = Instant::now();
    fill(&stem, "bench", o.queued).await?;
    let filled = started.elapsed();
    let mut observe = Vec::new();
    for _ in 0..3 {
        observe.push(timed(&stem, &["observe", "queues", "--json"]).await?);
    }
    kill(&stem, "dead", o.dead).await?;
    let replay = timed(&stem, &["dlq", "replay", "-q", "dead", "--yes", "--json"]).await?;
    let counts = stem.queue_stats()?.queues().await?;
    let replayed = counts.iter().find(|q| q.queue == "dead").map_or(0, |q| q.ready);
    let ms = |d: &Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    println!(
        "{{\"system\":\"stem\",\"backend\":\"{}\",\"queued\":{},\"fill_s\":{:.1},\"observe_queues_ms\":[{}],\"dead\":{},\"dlq_replay_s\":{:.2},\"replayed\":{replayed}}}",
        o.broker.split("://").next().unwrap_or_default(),
        o.queued,
        filled.as_secs_f64(),
        observe.iter().map(ms).collect::<Vec<_>>().join(","),
        o.dead,
        replay.as_secs_f64(),
    );
    Ok(())
}
