//! Measures the dashboard's reads on a large store: fills it with N task
//! statuses (default 1,000,000, through the backend's batch write, 10,000 a
//! call), then times, 20 times each, the first page of a listing by task
//! name, by state, by both, a deep page (the 51st of the unfiltered listing,
//! after following 50 pages' cursors) and a queue-stats read, and prints
//! p50 and p99 in milliseconds, one JSON line per query.
//!
//! `cargo run --release --example dashboard_bench -- --store sqlite:///tmp/stem-dash.db --store "postgres://localhost/stem?schema=dash_bench"`
//!
//! `--store URL` (repeatable) takes any URL `stem_adapters::connect` knows;
//! its backend must list statuses (SQLite, Postgres, Redis, memory). A store that
//! already holds statuses is measured as it is unless `--fresh` is given,
//! which deletes the SQLite file or drops the Postgres schema first (give
//! Redis a namespace of its own: `redis://host?namespace=dash_bench_1`). `--n N`
//! sets how many statuses to write, `--samples S` how many times each query runs.

use std::time::{Duration, Instant};

use stem::Stem;
use stem::backend::{TaskQuery, TaskState, TaskStatus};

/// Statuses per `set_batch` call.
const CHUNK: usize = 10_000;
/// Task names the statuses are spread over.
const NAMES: usize = 20;
/// Pages followed before the deep page.
const DEEP: usize = 50;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    stores: Vec<String>,
    n: usize,
    samples: usize,
    fresh: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options { stores: Vec::new(), n: 1_000_000, samples: 20, fresh: false };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--store" => o.stores.push(value()?),
            "--n" => o.n = value()?.parse().map_err(|e| format!("--n: {e}"))?,
            "--samples" => o.samples = value()?.parse().map_err(|e| format!("--samples: {e}"))?,
            "--fresh" => o.fresh = true,
            other => {
                return Err(format!("unknown flag {other}; flags: --store URL (repeatable) --n N --samples S --fresh"));
            }
        }
    }
    if o.stores.is_empty() {
        o.stores.push("sqlite:///tmp/stem-dashboard-bench.db".to_owned());
    }
    Ok(o)
}

/// Connects to `url`; when `fresh`, first deletes its SQLite file or drops its Postgres schema.
async fn connect(url: &str, fresh: bool) -> Result<Stem, BoxError> {
    if fresh {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            stem_adapters::postgres::PostgresStore::connect(url).await?.drop_schema().await?;
        }
    }
    // The listing needs its indexes: on unless the URL says otherwise.
    let with_listing = if url.contains("task_listing=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&task_listing=true")
    } else {
        format!("{url}?task_listing=true")
    };
    Ok(stem_adapters::connect(&with_listing).await?)
}

/// The state of the `i`th status: 80% succeeded, 5% failed, started and
/// queued each, 3% retrying, 2% revoked, spread over the names alike.
fn state_of(i: usize) -> TaskState {
    match (i as u64).wrapping_mul(2_654_435_761) % 1_000_003 % 100 {
        0..80 => TaskState::Succeeded,
        80..85 => TaskState::Failed,
        85..90 => TaskState::Started,
        90..95 => TaskState::Queued,
        95..98 => TaskState::Retrying,
        _ => TaskState::Revoked,
    }
}

fn name_of(i: usize) -> String {
    format!("bench.task{:02}", (i / 7) % NAMES)
}

/// Writes `n` statuses, a millisecond apart, the newest now.
async fn fill(stem: &Stem, n: usize) -> Result<(), BoxError> {
    let now = chrono::Utc::now();
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(CHUNK) {
        let mut batch: Vec<TaskStatus> = chunk
            .iter()
            .map(|&i| {
                let mut s = TaskStatus::new(stem::TaskId::new(), name_of(i), "bench", state_of(i));
                s.attempt = u32::from(s.state == TaskState::Retrying);
                s.fence = 1;
                s.updated_at = now - chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(i64::MAX));
                s
            })
            .collect();
        stem.backend().set_batch(&mut batch).await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{{\"mode\":\"fill\",\"statuses\":{n},\"seconds\":{secs:.1},\"per_s\":{:.0}}}", n as f64 / secs);
    Ok(())
}

/// The `p`th percentile of sorted `samples`, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Runs `read` `samples` times and prints its p50 and p99.
async fn time<F, Fut>(store: &str, query: &str, samples: usize, mut read: F) -> Result<(), BoxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, BoxError>>,
{
    let mut took = Vec::with_capacity(samples);
    let mut rows = 0;
    for _ in 0..samples {
        let started = Instant::now();
        rows = read().await?;
        took.push(started.elapsed());
    }
    took.sort_unstable();
    println!(
        "{{\"store\":\"{store}\",\"query\":\"{query}\",\"samples\":{samples},\"rows\":{rows},\"p50_ms\":{:.2},\"p99_ms\":{:.2}}}",
        percentile(&took, 50.0),
        percentile(&took, 99.0)
    );
    Ok(())
}

async fn measure(url: &str, o: &Options) -> Result<(), BoxError> {
    let stem = connect(url, o.fresh).await?;
    let store = url.split("://").next().unwrap_or(url).to_owned();
    let listing = stem.backend().listing().ok_or("this store's backend does not list task statuses")?;
    if listing.list_tasks(&TaskQuery::new().limit(1)).await?.statuses.is_empty() {
        fill(&stem, o.n).await?;
    }
    let page = |query: TaskQuery| async move { Ok::<_, BoxError>(listing.list_tasks(&query).await?.statuses.len()) };
    let name = name_of(7 * 7);
    time(&store, "by_name", o.samples, || page(TaskQuery::new().task(&name))).await?;
    time(&store, "by_state", o.samples, || page(TaskQuery::new().state(TaskState::Failed))).await?;
    time(&store, "by_name_and_state", o.samples, || page(TaskQuery::new().task(&name).state(TaskState::Failed)))
        .await?;
    time(&store, "by_name_and_rare_state", o.samples, || page(TaskQuery::new().task(&name).state(TaskState::Revoked)))
        .await?;
    let mut deep = TaskQuery::new();
    for _ in 0..DEEP {
        let next = listing.list_tasks(&deep).await?.next.ok_or("fewer than 51 pages")?;
        deep = deep.after(next);
    }
    time(&store, "deep_page_51", o.samples, || page(deep.clone())).await?;
    time(&store, "queue_stats", o.samples, || async { Ok(stem.queue_stats()?.queues().await?.len()) }).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let o = options()?;
    for url in &o.stores {
        measure(url, &o).await?;
    }
    Ok(())
}
