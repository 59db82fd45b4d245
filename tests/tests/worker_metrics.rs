//! A worker's metrics, scraped over HTTP (curl) from its Prometheus endpoint
//! after known tasks ran, on every store: counters per task, task durations,
//! queue depths (the dead letter among them) and the live workers. A taken
//! metrics address fails the worker's build, naming it.

use std::time::Duration;

use stem::prelude::*;
use stem_tests::{TestResult, WAIT, every_store, free_port};

#[stem::task(max_retries = 2, retry_backoff = "5ms", retry_jitter = false, queue = "metered")]
async fn counted(ctx: TaskContext, fail_first: bool) -> Result<u32, TaskError> {
    if fail_first && ctx.attempt() == 0 {
        return Err(TaskError::retry("the first attempt fails"));
    }
    Ok(1)
}

#[stem::task(max_retries = 0, queue = "metered")]
async fn refused() -> Result<(), TaskError> {
    Err(TaskError::fail("no"))
}

/// Runs for several of the test worker's 100 ms leases.
#[stem::task(queue = "metered")]
async fn lingering() -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

#[stem::workflow(queue = "metered")]
async fn tallied(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    wf.step("first", || async { Ok::<_, StepError>(1) }).await?;
    Ok(wf.step("second", || async { Ok::<_, StepError>(2) }).await?)
}

/// `GET http://127.0.0.1:{port}/metrics` with curl.
fn scrape(port: u16) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of the sample of `metric` whose labels include every one of `labels`.
fn sample(text: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{metric}{{")) || line.starts_with(&format!("{metric} ")))
        .find(|line| labels.iter().all(|(k, v)| line.contains(&format!("{k}=\"{v}\""))))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_endpoint_counts_known_tasks() -> TestResult {
    for env in every_store("metrics").await {
        let (label, stem) = (env.label, env.stem.clone());
        let port = free_port();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let worker = Worker::builder(&stem)
            .task::<Counted>()
            .task::<Refused>()
            .task::<Lingering>()
            .workflow::<Tallied>()
            .lease(Duration::from_millis(100))
            .handle_signals(false)
            .heartbeat_interval(Duration::from_millis(100))
            .metrics_addr(addr)
            .build()?;
        let taken = Worker::builder(&stem).task::<Counted>().metrics_addr(addr).build();
        let why = taken.expect_err("a second worker on a taken address").to_string();
        assert!(why.contains(&addr.to_string()), "{label}: {why}");
        let worker = worker.spawn();
        // A Beat schedule with two fires claimed and one skipped, its last
        // fire 250 ms late and failed.
        let mut entry =
            stem::beat::ScheduleEntry::of_task("nightly", "x", serde_json::Value::Null, "every 1h".parse()?);
        let fire = entry.next_fire.expect("a next fire");
        stem.stores().schedules().put(&entry).await?;
        let next = fire + chrono::Duration::hours(1);
        let claim =
            stem::beat::Claim { id: "nightly".into(), fire, last: fire, next: Some(next), enqueued: 2, skipped: 1 };
        assert_eq!(stem.stores().schedules().claim(&[claim]).await?, [true], "{label}");
        let fired = stem::beat::Fired { id: "nightly".into(), fire, drift_ms: 250, error: Some("no such task".into()) };
        stem.stores().schedules().record(&[fired]).await?;
        entry.next_fire = Some(next);

        assert_eq!(Counted::enqueue(&stem, false).await?.wait_timeout(WAIT).await?, 1, "{label}");
        assert_eq!(Counted::enqueue(&stem, true).await?.wait_timeout(WAIT).await?, 1, "{label}");
        assert!(Refused::enqueue(&stem, ()).await?.wait_timeout(WAIT).await.is_err(), "{label}");
        Lingering::enqueue(&stem, ()).await?.wait_timeout(WAIT).await?;
        assert_eq!(Tallied::start(&stem, ()).await?.wait_timeout(WAIT).await?, 2, "{label}");

        let counted = ("task", <Counted as Task>::NAME);
        let refused = ("task", <Refused as Task>::NAME);
        // Hooks count off the tasks' path: scrape until the last count shows,
        // then check everything at once.
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            text = scrape(port);
            let dead = sample(&text, "stem_queue_depth", &[("queue", "metered"), ("state", "dead")]);
            let failed = sample(&text, "stem_tasks_dead_lettered_total", &[refused]);
            let runs = sample(&text, "stem_workflow_runs_total", &[("status", "completed")]);
            if dead == Some(1.0) && failed == Some(1.0) && runs == Some(1.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let get = |metric: &str, labels: &[(&str, &str)]| sample(&text, metric, labels);
        assert_eq!(get("stem_tasks_received_total", &[counted]), Some(3.0), "{label}: {text}");
        assert_eq!(get("stem_tasks_started_total", &[counted]), Some(3.0), "{label}");
        assert_eq!(get("stem_tasks_succeeded_total", &[counted, ("queue", "metered")]), Some(2.0), "{label}");
        assert_eq!(get("stem_tasks_retried_total", &[counted]), Some(1.0), "{label}");
        assert_eq!(get("stem_tasks_failed_total", &[refused]), Some(1.0), "{label}");
        assert_eq!(get("stem_tasks_dead_lettered_total", &[refused]), Some(1.0), "{label}");
        assert_eq!(get("stem_task_duration_seconds_count", &[counted]), Some(3.0), "{label}");
        assert_eq!(get("stem_queue_depth", &[("queue", "metered"), ("state", "dead")]), Some(1.0), "{label}");
        assert_eq!(get("stem_queue_depth", &[("queue", "metered"), ("state", "ready")]), Some(0.0), "{label}");
        assert!(get("stem_workers_alive", &[]).is_some_and(|n| n >= 1.0), "{label}: {text}");
        let lingering = ("task", <Lingering as Task>::NAME);
        assert!(get("stem_lease_renewed_total", &[lingering]).is_some_and(|n| n >= 1.0), "{label}: {text}");
        let workflow = ("workflow", <Tallied as Workflow>::NAME);
        assert_eq!(get("stem_workflow_steps_total", &[workflow, ("outcome", "ok")]), Some(2.0), "{label}");
        assert_eq!(get("stem_workflow_runs_total", &[workflow, ("status", "completed")]), Some(1.0), "{label}");
        assert!(text.contains(&format!("worker=\"{}\"", worker.id())), "{label}: the worker label");
        let nightly = ("schedule", "nightly");
        assert_eq!(get("stem_beat_runs_total", &[nightly]), Some(2.0), "{label}: {text}");
        assert_eq!(get("stem_beat_skipped_total", &[nightly]), Some(1.0), "{label}");
        assert_eq!(get("stem_beat_drift_seconds", &[nightly]), Some(0.25), "{label}");
        assert_eq!(get("stem_beat_failing", &[nightly]), Some(1.0), "{label}");
        let next_fire = entry.next_fire.expect("next").timestamp() as f64;
        assert!(get("stem_beat_next_fire_seconds", &[nightly]).is_some_and(|t| (t - next_fire).abs() < 1.0), "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}
