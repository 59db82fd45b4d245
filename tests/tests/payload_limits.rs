//! The payload limit, on every store: an enqueue whose arguments encode over
//! it fails naming the task, the size and the limit, and stores nothing (one
//! call or a batch); a result over it fails its task with that reason, into
//! the dead letter queue; under it everything runs.

use stem::prelude::*;
use stem::{Error, TaskState};
use stem_tests::{TestResult, WAIT, every_store};

#[stem::task(queue = "payload")]
async fn echo(text: String) -> Result<String, TaskError> {
    Ok(text)
}

#[stem::task(queue = "payload", max_retries = 3)]
async fn grow(n: usize) -> Result<String, TaskError> {
    Ok("y".repeat(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_over_the_limit_are_refused_and_results_over_it_fail_the_task() -> TestResult {
    for env in every_store("payload").await {
        let label = env.label;
        let stem = env.stem.with_max_payload(1024);
        let big = "x".repeat(2000);

        let refused = Echo::enqueue(&stem, big.clone()).await.map(drop).expect_err("over the limit");
        let message = refused.to_string();
        match refused {
            Error::PayloadTooLarge { task, size, limit } => {
                assert_eq!((task.as_str(), limit), (<Echo as Task>::NAME, 1024), "{label}");
                assert!(size > 2000, "{label}: {size}");
                for part in [task.as_str(), &format!("{size} bytes"), "1024 bytes", "with_max_payload"] {
                    assert!(message.contains(part), "{label}: `{message}` does not say {part}");
                }
            }
            other => panic!("{label}: expected a payload error, got {other:?}"),
        }
        let batch = stem.enqueue_many([Echo::call("small".into()), Echo::call(big.clone())]).await;
        assert!(matches!(batch, Err(Error::PayloadTooLarge { .. })), "{label}: one large call refuses the batch");
        assert_eq!(stem.queue_stats()?.pending_count("payload").await?, 0, "{label}: nothing was stored");

        let worker = Worker::builder(&stem).task::<Echo>().task::<Grow>().handle_signals(false).build()?.spawn();
        assert_eq!(Echo::enqueue(&stem, "ab".into()).await?.wait_timeout(WAIT).await?, "ab", "{label}");
        assert_eq!(Grow::enqueue(&stem, 10).await?.wait_timeout(WAIT).await?.len(), 10, "{label}");
        let grown = Grow::enqueue(&stem, 5000).await?;
        let failure = match grown.wait_timeout(WAIT).await {
            Err(Error::TaskFailed(failure)) => failure,
            other => panic!("{label}: expected a failed task, got {other:?}"),
        };
        let error = failure.error.expect("an error");
        assert_eq!(error.kind, "payload_too_large", "{label}");
        // The JSON of 5,000 characters: 5,002 bytes.
        assert!(error.message.contains("5002 bytes") && error.message.contains("1024"), "{label}: {}", error.message);
        let status = grown.status().await?.expect("a status");
        assert_eq!((status.state, status.attempt), (TaskState::Failed, 0), "{label}: not retried");
        // The status is written before the delivery is settled into the dead
        // letter queue: wait for it to land.
        stem_tests::until_ok("the dead letter", || async {
            let dead = stem.dead_letters().map_err(|e| e.to_string())?;
            let n = dead.list_dead_letters("payload", 10, 0).await.map_err(|e| e.to_string())?.entries.len();
            if n == 1 { Ok(()) } else { Err(format!("{n} dead letters")) }
        })
        .await;
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}
