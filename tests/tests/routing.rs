//! Routing files on every store: calls that name no queue go where the first
//! matching route says (through an alias too), a queue the call names wins,
//! a route's priority is the default and every priority is clamped into its
//! queue's range, a canvas step started later was routed with its canvas, a
//! broadcast runs one copy on each of its queues, and a Stem without routing
//! publishes as before. The worker consumes only the routed queues (one of
//! them by its alias): a call that was not routed would never run.

use std::sync::Mutex;

use stem::canvas::chain;
use stem::prelude::*;
use stem::routing::Routing;
use stem::{TaskId, Worker};
use stem_tests::{TestResult, WAIT, every_store, until_ok};

const ROUTING: &str = r#"
[queues.reports]
aliases = ["rep"]
priority = [2, 6]

[queues.urgent]
[queues.cache-a]
[queues.cache-b]

[broadcasts.refresh]
queues = ["cache-a", "cache-b"]

[[routes]]
task = "reports.*"
queue = "rep"
priority = 4

[[routes]]
task = "reports.daily"
queue = "urgent"

[[routes]]
task = "cache.refresh"
broadcast = "refresh"
"#;

/// The queue and priority a task ran with.
type Placed = (String, u8);

/// Reports where it ran.
#[stem::task(name = "reports.daily", queue = "unrouted")]
async fn daily(ctx: TaskContext, n: u32) -> Result<Placed, TaskError> {
    let _ = n;
    Ok((ctx.queue().to_owned(), ctx.envelope().priority))
}

/// Matched by no route: it stays on its own queue.
#[stem::task(name = "billing.run", queue = "billing")]
async fn billing(ctx: TaskContext, n: u32) -> Result<u32, TaskError> {
    let _ = ctx;
    Ok(n)
}

/// Each copy of a broadcast call that ran: its queue and task id.
static REFRESHED: Mutex<Vec<(String, TaskId)>> = Mutex::new(Vec::new());

/// Records its copy.
#[stem::task(name = "cache.refresh", queue = "unrouted")]
async fn refresh(ctx: TaskContext) -> Result<String, TaskError> {
    REFRESHED.lock().expect("not poisoned").push((ctx.queue().to_owned(), ctx.id()));
    Ok(ctx.queue().to_owned())
}

fn refreshed() -> Vec<(String, TaskId)> {
    let mut copies = REFRESHED.lock().expect("not poisoned").clone();
    copies.sort();
    copies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_go_where_the_routing_file_says_on_every_store() -> TestResult {
    for env in every_store("routing").await {
        let label = env.label;
        REFRESHED.lock().expect("not poisoned").clear();
        let stem = env.stem.with_routing(Routing::from_toml(ROUTING)?);
        let queues = ["rep", "urgent", "cache-a", "cache-b", "billing"];
        let worker = Worker::builder(&stem)
            .task::<Daily>()
            .task::<Billing>()
            .task::<Refresh>()
            .queues(queues)
            .handle_signals(false)
            .build()?;
        assert_eq!(worker.queues(), ["billing", "cache-a", "cache-b", "reports", "urgent"], "{label}: rep is reports");
        let worker = worker.spawn();

        // The first matching route (file order), through its alias, with its priority.
        let by_pattern = Daily::enqueue(&stem, 1).await?.wait_timeout(WAIT).await?;
        assert_eq!(by_pattern, ("reports".to_owned(), 4), "{label}");
        // A queue the call names wins; the route's priority still applies.
        let named = Daily::call(2).queue("urgent").enqueue(&stem).await?.wait_timeout(WAIT).await?;
        assert_eq!(named, ("urgent".to_owned(), 4), "{label}");
        // A named alias resolves; a priority the call sets wins, clamped to the range.
        let high = Daily::call(3).queue("rep").priority(9).enqueue(&stem).await?.wait_timeout(WAIT).await?;
        assert_eq!(high, ("reports".to_owned(), 6), "{label}: clamped down");
        let low = Daily::call(4).priority(0).enqueue(&stem).await?.wait_timeout(WAIT).await?;
        assert_eq!(low, ("reports".to_owned(), 2), "{label}: clamped up");
        // Unmatched: its own queue.
        assert_eq!(Billing::enqueue(&stem, 5).await?.wait_timeout(WAIT).await?, 5, "{label}");
        // A batch is routed too.
        let batch = stem.enqueue_many([Daily::call(6), Daily::call(7).queue("urgent")]).await?;
        let mut placed = Vec::new();
        for handle in &batch {
            placed.push(handle.wait_timeout(WAIT).await?);
        }
        assert_eq!(placed, [("reports".to_owned(), 4), ("urgent".to_owned(), 4)], "{label}");
        // A chain's second step, started by the worker from the first's
        // stored plan, was routed when the chain was enqueued.
        let chained = chain(Billing::call(8)).then(Daily::link()).enqueue(&stem).await?.wait_timeout(WAIT).await?;
        assert_eq!(chained, ("reports".to_owned(), 4), "{label}");

        // A broadcast: one copy per queue, each with its own id, the handle the first's.
        let handle = Refresh::enqueue(&stem, ()).await?;
        assert_eq!(handle.wait_timeout(WAIT).await?, "cache-a", "{label}: the first copy's handle");
        let copies = until_ok("both copies", || async {
            let copies = refreshed();
            if copies.len() >= 2 { Ok(copies) } else { Err(copies.len()) }
        })
        .await;
        assert_eq!(copies.iter().map(|(q, _)| q.as_str()).collect::<Vec<_>>(), ["cache-a", "cache-b"], "{label}");
        assert_ne!(copies[0].1, copies[1].1, "{label}: a task id each");
        assert_eq!(copies[0].1, handle.id(), "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        assert_eq!(refreshed().len(), 2, "{label}: each copy ran once");

        // The same store without routing: the task's own queue, as before.
        Daily::enqueue(&env.stem, 9).await?;
        assert_eq!(env.stem.queue_stats()?.pending_count("unrouted").await?, 1, "{label}");
        assert_eq!(stem.queue_stats()?.pending_count("unrouted").await?, 1, "{label}: only that one");
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_given_no_queues_consumes_the_routed_ones_too() -> TestResult {
    let stem = Stem::in_memory().with_routing(Routing::from_toml(ROUTING)?);
    let worker = Worker::builder(&stem).task::<Daily>().task::<Refresh>().handle_signals(false).build()?;
    assert_eq!(worker.queues(), ["cache-a", "cache-b", "default", "reports", "unrouted"]);
    let plain = Worker::builder(&Stem::in_memory()).task::<Daily>().task::<Refresh>().handle_signals(false).build()?;
    assert_eq!(plain.queues(), ["default", "unrouted"]);
    Ok(())
}
