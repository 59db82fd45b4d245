//! Canvas end to end through the macros, a worker and the store, on every
//! adapter: chains, groups (of one kind, tuples, nested), chords, links and
//! errbacks, a failing member that stops its chord, a retried member that
//! does not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use stem::canvas::{chain, chord, group};
use stem::prelude::*;
use stem::{Error, TaskFailure, TaskId, TaskState, WorkerHandle};
use stem_tests::{TestResult, WAIT, every_store, within};

fn worker(stem: &Stem) -> WorkerHandle {
    Worker::builder(stem).concurrency(8).build().expect("a valid worker").spawn()
}

/// Adds two numbers.
#[stem::task]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

/// Doubles a number.
#[stem::task]
async fn double(n: i64) -> Result<i64, TaskError> {
    Ok(2 * n)
}

/// One more.
#[stem::task]
async fn inc(n: i64) -> Result<i64, TaskError> {
    Ok(n + 1)
}

/// Squares a number.
#[stem::task]
async fn square(n: i64) -> Result<i64, TaskError> {
    Ok(n * n)
}

/// Adds a list up.
#[stem::task]
async fn total(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

/// A number with its unit: two arguments, so its link takes the unit.
#[stem::task]
async fn describe(n: i64, unit: String) -> Result<String, TaskError> {
    Ok(format!("{n} {unit}"))
}

/// Three arguments: its link takes a generated `LabelRest`.
#[stem::task]
async fn label(n: i64, prefix: String, suffix: String) -> Result<String, TaskError> {
    Ok(format!("{prefix}{n}{suffix}"))
}

/// Fails for good, at once.
#[stem::task(max_retries = 0)]
async fn explode(n: i64) -> Result<i64, TaskError> {
    Err(TaskError::fail(format!("boom {n}")))
}

/// Squares a number, but fails for good on 2.
#[stem::task(max_retries = 0)]
async fn square_but_two(n: i64) -> Result<i64, TaskError> {
    if n == 2 { Err(TaskError::fail(format!("boom {n}"))) } else { Ok(n * n) }
}

/// Adds the two numbers of a pair.
#[stem::task]
async fn pair_sum(pair: (i64, i64)) -> Result<i64, TaskError> {
    Ok(pair.0 + pair.1)
}

/// Attempts per key of [`flaky`].
static ATTEMPTS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

/// Fails its first two attempts per key, then gives the attempt count.
#[stem::task(max_retries = 3, retry_backoff = "10ms", retry_jitter = false)]
async fn flaky(key: String) -> Result<u32, TaskError> {
    let attempt = {
        let mut attempts = ATTEMPTS.lock().expect("lock");
        let count = attempts.get_or_insert_with(HashMap::new).entry(key).or_insert(0);
        *count += 1;
        *count
    };
    if attempt < 3 { Err(TaskError::retry(format!("attempt {attempt} is too early"))) } else { Ok(attempt) }
}

/// Adds attempt counts up.
#[stem::task]
async fn sum_attempts(attempts: Vec<u32>) -> Result<u32, TaskError> {
    Ok(attempts.iter().sum())
}

/// The failures errbacks got, per tag.
static FAILURES: Mutex<Option<HashMap<String, Vec<TaskFailure>>>> = Mutex::new(None);

/// An errback: records the failure it is given under `tag`.
#[stem::task]
async fn record_failure(failure: TaskFailure, tag: String) -> Result<(), TaskError> {
    FAILURES.lock().expect("lock").get_or_insert_with(HashMap::new).entry(tag).or_default().push(failure);
    Ok(())
}

fn failures(tag: &str) -> Vec<TaskFailure> {
    FAILURES.lock().expect("lock").as_ref().and_then(|f| f.get(tag).cloned()).unwrap_or_default()
}

/// A tag no other test or store uses.
fn tag(what: &str, store: &str) -> String {
    format!("{what}-{store}-{}", TaskId::new())
}

/// The failure a wait ended with.
fn failure_of<T: std::fmt::Debug>(result: stem::Result<T>) -> TaskFailure {
    match result {
        Err(Error::TaskFailed(failure)) => failure,
        other => panic!("expected a failed task, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_passes_each_output_on() -> TestResult {
    for env in every_store("canvas-chain").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        let handle = chain(Add::call(AddArgs { a: 2, b: 3 }))
            .then(Double::link())
            .then(Describe::link("apples".into()))
            .enqueue(&stem)
            .await?;
        assert_eq!(handle.wait_timeout(WAIT).await?, "10 apples", "{label}");
        // The last link's status names its chain's first task (the dashboard links them).
        let last = handle.status().await?.expect("a status");
        let root = last.meta.get(stem::backend::ROOT_META).and_then(serde_json::Value::as_str).map(str::to_owned);
        assert!(root.is_some() && root.as_deref() != Some(&*handle.id().to_string()), "{label}: {:?}", last.meta);
        let first = stem.handle::<serde_json::Value>(root.expect("root").parse()?).status().await?;
        assert_eq!(
            first.map(|s| s.task),
            Some(<Add as Task>::NAME.to_owned()),
            "{label}: the root is the chain's first"
        );
        let three = chain(Square::call(4)).then(Label::link(LabelRest { prefix: "<".into(), suffix: ">".into() }));
        assert_eq!(three.enqueue(&stem).await?.wait_timeout(WAIT).await?, "<16>", "{label}: a generated Rest struct");
        // A long chain nests nothing in its envelopes (JSON decoders stop at 128 levels).
        let long = (0..300).fold(chain(Inc::call(0)), |chain, _| chain.then(Inc::link()));
        assert_eq!(long.enqueue(&stem).await?.wait_timeout(WAIT).await?, 301, "{label}: a chain of 301 steps");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_gives_its_outputs_in_member_order() -> TestResult {
    for env in every_store("canvas-group").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        let squares = group((0..100).map(Square::call).collect::<Vec<_>>()).enqueue(&stem).await?;
        assert_eq!(squares.members().len(), 100);
        let expected: Vec<i64> = (0..100).map(|n| n * n).collect();
        assert_eq!(squares.wait_timeout(WAIT).await?, expected, "{label}");
        let mixed = group((Square::call(3), Describe::call(DescribeArgs { n: 1, unit: "pear".into() })));
        let (nine, pear): (i64, String) = mixed.enqueue(&stem).await?.wait_timeout(WAIT).await?;
        assert_eq!((nine, pear.as_str()), (9, "1 pear"), "{label}: a tuple of different tasks");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chord_runs_its_callback_once_with_every_output() -> TestResult {
    for env in every_store("canvas-chord").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        let header = group((1..=20).map(Square::call).collect::<Vec<_>>());
        let header_id = header.id();
        let handle = chord(header, Total::link()).enqueue(&stem).await?;
        assert_eq!(handle.wait_timeout(WAIT).await?, (1..=20).map(|n| n * n).sum::<i64>(), "{label}");
        let counter = stem.backend().group_get(header_id).await?.expect("the counter is kept a while");
        assert_eq!((counter.results.len(), counter.chord_callback.is_some()), (20, true), "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_chains_nest() -> TestResult {
    for env in every_store("canvas-nest").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        // A group inside a chain: fan out from add, fan in to total.
        let fan = chain(Add::call(AddArgs { a: 1, b: 2 }))
            .then(group([Double::link(), Double::link(), Double::link()]))
            .then(Total::link());
        assert_eq!(fan.enqueue(&stem).await?.wait_timeout(WAIT).await?, 18, "{label}: chain of a group");
        let pair = chain(Add::call(AddArgs { a: 1, b: 2 }))
            .then(group((Double::link(), Square::link())))
            .then(PairSum::link());
        assert_eq!(pair.enqueue(&stem).await?.wait_timeout(WAIT).await?, 6 + 9, "{label}: fan-in of a tuple group");
        // A group of chains, and a chord over one.
        let chains = || (2..=4).map(|n| chain(Square::call(n)).then(Double::link())).collect::<Vec<_>>();
        assert_eq!(group(chains()).enqueue(&stem).await?.wait_timeout(WAIT).await?, vec![8, 18, 32], "{label}");
        let summed = chord(group(chains()), Total::link()).enqueue(&stem).await?;
        assert_eq!(summed.wait_timeout(WAIT).await?, 58, "{label}: chord of chains");
        // A group inside a group, and a chain ending in a group.
        let inner = group(vec![Square::call(5), Square::call(6)]);
        let outer = group((inner, Double::call(7))).enqueue(&stem).await?;
        assert_eq!(outer.wait_timeout(WAIT).await?, (vec![25, 36], 14), "{label}: a group in a group");
        let fanned = chain(Square::call(3)).then(group((Double::link(), Square::link()))).enqueue(&stem).await?;
        assert_eq!(fanned.wait_timeout(WAIT).await?, (18, 81), "{label}: a chain ending in a group");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_run_after_success_and_errbacks_after_failure() -> TestResult {
    for env in every_store("canvas-link").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        let next = TaskId::new();
        let first = Add::call(AddArgs { a: 20, b: 1 }).link(Double::link().task_id(next)).enqueue(&stem).await?;
        assert_eq!(first.wait_timeout(WAIT).await?, 21, "{label}: the handle stays the first task's");
        assert_eq!(stem.handle::<i64>(next).wait_timeout(WAIT).await?, 42, "{label}: the linked task ran with it");

        let tag = tag("errback", label);
        let doomed = Explode::call(7).link_error(RecordFailure::link(tag.clone())).enqueue(&stem).await?;
        let failure = failure_of(doomed.wait_timeout(WAIT).await);
        within("the errback", async {
            while failures(&tag).is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let got = failures(&tag);
        assert_eq!(got.len(), 1, "{label}: the errback ran once");
        assert_eq!((got[0].id, got[0].task.as_str()), (doomed.id(), "canvas::explode"), "{label}");
        assert_eq!(got[0].error.as_ref().map(|e| e.message.as_str()), Some("boom 7"), "{label}");
        assert_eq!(got[0], failure, "{label}: the errback got what the waiter got");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_stops_what_follows_it() -> TestResult {
    for env in every_store("canvas-stop").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        // A chain step that fails: the steps after it never run.
        let tag_chain = tag("chain", label);
        let stopped = chain(Square::call(2))
            .then(Explode::link())
            .then(Double::link())
            .then(Describe::link("never".into()))
            .link_error(RecordFailure::link(tag_chain.clone()))
            .enqueue(&stem)
            .await?;
        let failure = failure_of(stopped.wait_timeout(WAIT).await);
        let cause = failure.cause.as_deref().expect("the cause is named");
        assert_eq!(cause.task, "canvas::explode", "{label}: {failure}");
        assert_eq!(cause.error.as_ref().map(|e| e.message.as_str()), Some("boom 4"), "{label}");
        assert!(failure.to_string().contains("canvas::explode"), "{label}: {failure}");

        // A chord member that fails for good: no callback, one errback.
        let tag_chord = tag("chord", label);
        let header = group((1..=3).map(SquareButTwo::call).collect::<Vec<_>>());
        let handle =
            chord(header, Total::link()).link_error(RecordFailure::link(tag_chord.clone())).enqueue(&stem).await?;
        let failure = failure_of(handle.wait_timeout(WAIT).await);
        let root = failure.root();
        let why = (root.task.as_str(), root.error.as_ref().map(|e| e.message.as_str()));
        assert_eq!(why, ("canvas::square_but_two", Some("boom 2")), "{label}: the member is named");
        assert_eq!(
            handle.status().await?.map(|s| s.state),
            Some(TaskState::Failed),
            "{label}: the callback did not run"
        );
        within("the errbacks", async {
            while failures(&tag_chain).is_empty() || failures(&tag_chord).is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert_eq!(failures(&tag_chain).len(), 1, "{label}: the chain's errback ran for the failed step only");
        assert_eq!(failures(&tag_chord).len(), 1, "{label}: the chord's errback ran once");
        assert_eq!(failures(&tag_chord)[0].root().task, "canvas::square_but_two", "{label}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_member_is_not_a_failure() -> TestResult {
    for env in every_store("canvas-retry").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        let keys: Vec<String> = (0..3).map(|i| tag(&format!("flaky{i}"), label)).collect();
        let header = group(keys.iter().cloned().map(Flaky::call).collect::<Vec<_>>());
        let handle = chord(header, SumAttempts::link()).enqueue(&stem).await?;
        assert_eq!(handle.wait_timeout(WAIT).await?, 9, "{label}: each member took three attempts, then counted once");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

/// Fans out from a workflow: a group and a chord, each one durable step.
#[stem::workflow]
async fn fan_out(wf: WorkflowContext, n: i64) -> Result<(Vec<i64>, i64), WorkflowError> {
    let squares = wf.call(group((1..=n).map(Square::call).collect::<Vec<_>>())).await?;
    let fanned = wf.call(chain(Square::call(n)).then(group((Double::link(), Inc::link())))).await?;
    assert_eq!(fanned, (2 * n * n, n * n + 1));
    let total = wf.call(chord(group((1..=n).map(Double::call).collect::<Vec<_>>()), Total::link())).await?;
    Ok((squares, total))
}

/// A chord with a member that fails, called from a workflow.
#[stem::workflow]
async fn doomed_fan_out(wf: WorkflowContext) -> Result<i64, WorkflowError> {
    let header = group(vec![SquareButTwo::call(1), SquareButTwo::call(2)]);
    wf.call(chord(header, Total::link())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_calls_a_group_or_a_chord_as_one_step() -> TestResult {
    for env in every_store("canvas-wf").await {
        let (label, stem) = (env.label, env.stem.clone());
        let worker = worker(&stem);
        let run = FanOut::start(&stem, 4).await?;
        assert_eq!(run.wait_timeout(WAIT).await?, (vec![1, 4, 9, 16], 20), "{label}");
        let names: Vec<String> = run.steps().await?.into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["stem.call:group#0", "stem.call:group#1", "stem.call:canvas::total#0"],
            "{label}: one step each"
        );
        // A member that fails ends the run at once (not at the next recheck).
        let doomed = DoomedFanOut::start(&stem, ()).await?;
        let error = doomed.wait_timeout(WAIT).await.expect_err("the run fails");
        assert!(error.to_string().contains("boom 2"), "{label}: {error}");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}
