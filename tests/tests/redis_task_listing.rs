//! The Redis backend's task listing beyond the conformance cases: it is
//! opt-in and a store without it writes nothing for it; expired records are
//! never listed and their members leave the sorted sets, whether a listing
//! meets them or later writes of final states find them, so sets nobody
//! reads do not grow; a record rewritten while the listing was off is not
//! listed under its old state, and is listed again from its next write.

use std::time::Duration;

use stem::TaskId;
use stem::backend::{ResultBackend, TaskQuery, TaskState, TaskStatus};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, redis_url, until_ok};

/// A fresh namespace's options on the test Redis, or `None` (the test skips).
fn options(label: &str) -> Option<RedisOptions> {
    let url = redis_url()?;
    Some(RedisOptions::new(url).with_namespace(format!("test_{label}_{:08x}", fastrand::u32(..))))
}

fn status(task: &str, state: TaskState) -> TaskStatus {
    TaskStatus::new(TaskId::new(), task, "q", state)
}

async fn store_all(backend: &dyn ResultBackend, statuses: &[TaskStatus]) -> TestResult {
    let written = backend.set_batch(&mut statuses.to_vec()).await?;
    assert!(written.iter().all(|w| *w), "every status is written");
    Ok(())
}

async fn listed(backend: &dyn ResultBackend, query: TaskQuery) -> stem::Result<Vec<TaskId>> {
    let listing = backend.listing().expect("the listing is on");
    Ok(listing.list_tasks(&query).await?.statuses.iter().map(|s| s.id).collect())
}

async fn conn(options: &RedisOptions) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(options.url())?.get_multiplexed_async_connection().await
}

/// How many members the listing's set `set` holds (0 once it is gone).
async fn members(conn: &mut redis::aio::MultiplexedConnection, ns: &str, set: &str) -> redis::RedisResult<usize> {
    redis::cmd("ZCARD").arg(format!("stem:{ns}:listing:{set}")).query_async(conn).await
}

/// Waits until every one of `ids` has expired.
async fn expired(backend: &dyn ResultBackend, ids: &[TaskId]) {
    until_ok("the statuses to expire", || async {
        for id in ids {
            if backend.get(*id).await?.is_some() {
                return Err(stem::Error::Config("not yet".into()));
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_is_opt_in_and_costs_nothing_without_it() -> TestResult {
    let Some(base) = options("listing_opt_in") else { return Ok(()) };
    let url = redis_url().expect("answers");
    let plain = stem_adapters::connect(&url).await?;
    assert!(plain.backend().listing().is_none(), "off by default: the sets cost every status write");
    let listed = stem_adapters::connect(&format!("{url}?task_listing=true")).await?;
    assert!(listed.backend().listing().is_some());
    let bad = stem_adapters::connect(&format!("{url}?task_listing=maybe")).await;
    assert!(bad.map(drop).expect_err("a bad value").to_string().contains("task_listing"));

    let ns = base.namespace().to_owned();
    let store = RedisStore::connect_with(base.clone()).await?;
    let backend = store.backend();
    let queued: Vec<TaskStatus> = (0..600).map(|_| status("plain", TaskState::Queued)).collect();
    store_all(backend.as_ref(), &queued).await?;
    store_all(backend.as_ref(), &[status("plain", TaskState::Started), status("plain", TaskState::Failed)]).await?;
    let mut conn = conn(&base).await?;
    let sets: Vec<String> = redis::cmd("KEYS").arg(format!("stem:{ns}:listing:*")).query_async(&mut conn).await?;
    assert!(sets.is_empty(), "no listing keys without the listing: {sets:?}");
    let fields: Vec<String> =
        redis::cmd("HKEYS").arg(format!("stem:{ns}:task:{}", queued[0].id)).query_async(&mut conn).await?;
    assert_eq!(fields, ["status"], "a record without the listing's field");
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_statuses_are_not_listed_and_leave_every_set() -> TestResult {
    let Some(base) = options("listing_expired") else { return Ok(()) };
    let base = base.with_task_listing(true).with_retention(Duration::from_secs(1));
    let ns = base.namespace().to_owned();
    let store = RedisStore::connect_with(base.clone()).await?;
    let backend = store.backend();
    let done: Vec<TaskStatus> = (0..3).map(|_| status("exp", TaskState::Succeeded)).collect();
    let running = status("exp", TaskState::Started);
    store_all(backend.as_ref(), &done).await?;
    store_all(backend.as_ref(), std::slice::from_ref(&running)).await?;
    assert_eq!(listed(backend.as_ref(), TaskQuery::new().task("exp")).await?.len(), 4);

    expired(backend.as_ref(), &done.iter().map(|s| s.id).collect::<Vec<_>>()).await;
    assert_eq!(listed(backend.as_ref(), TaskQuery::new().task("exp")).await?, [running.id], "only the live one");
    let mut conn = conn(&base).await?;
    for (set, left) in
        [("state:started", 1), ("both:started:exp", 1), ("state:succeeded", 0), ("both:succeeded:exp", 0)]
    {
        assert_eq!(members(&mut conn, &ns, set).await?, left, "`{set}`: the listing pruned the expired members");
    }
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_of_final_states_prune_expired_members_nobody_lists() -> TestResult {
    let Some(base) = options("listing_pruned") else { return Ok(()) };
    let base = base.with_task_listing(true).with_retention(Duration::from_secs(1));
    let ns = base.namespace().to_owned();
    let store = RedisStore::connect_with(base.clone()).await?;
    let backend = store.backend();
    let old: Vec<TaskStatus> = (0..5).map(|_| status("old", TaskState::Failed)).collect();
    store_all(backend.as_ref(), &old).await?;
    expired(backend.as_ref(), &old.iter().map(|s| s.id).collect::<Vec<_>>()).await;
    let mut conn = conn(&base).await?;
    assert_eq!(members(&mut conn, &ns, "both:failed:old").await?, 5, "members stay until found stale");

    // As many final writes as expired members: every one of them goes, no listing read.
    let new: Vec<TaskStatus> = (0..5).map(|_| status("new", TaskState::Failed)).collect();
    store_all(backend.as_ref(), &new).await?;
    for (set, left) in [("both:failed:new", 5), ("both:failed:old", 0), ("state:failed", 5)] {
        assert_eq!(members(&mut conn, &ns, set).await?, left, "`{set}` after the writes");
    }
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_rewritten_while_the_listing_was_off_is_listed_from_its_next_write() -> TestResult {
    let Some(base) = options("listing_toggled") else { return Ok(()) };
    let listed_store = RedisStore::connect_with(base.clone().with_task_listing(true)).await?;
    let plain_store = RedisStore::connect_with(base.clone()).await?;
    let (on, off) = (listed_store.backend(), plain_store.backend());
    let mut task = status("toggled", TaskState::Started);
    store_all(on.as_ref(), std::slice::from_ref(&task)).await?;
    let started = || TaskQuery::new().state(TaskState::Started);
    assert_eq!(listed(on.as_ref(), started()).await?, [task.id]);

    // Finished by a store without the listing: not listed as started any more.
    task.state = TaskState::Succeeded;
    task.updated_at = chrono::Utc::now();
    store_all(off.as_ref(), std::slice::from_ref(&task)).await?;
    let unlisted = status("toggled", TaskState::Started);
    store_all(off.as_ref(), std::slice::from_ref(&unlisted)).await?;
    assert!(listed(on.as_ref(), started()).await?.is_empty(), "neither the stale member nor the unlisted write");
    let mut conn = conn(&base).await?;
    assert_eq!(members(&mut conn, base.namespace(), "state:started").await?, 0, "the stale member went");

    // Its next write with the listing on lists it again.
    task.updated_at = chrono::Utc::now();
    store_all(on.as_ref(), std::slice::from_ref(&task)).await?;
    let succeeded = TaskQuery::new().task("toggled").state(TaskState::Succeeded);
    assert_eq!(listed(on.as_ref(), succeeded).await?, [task.id]);
    listed_store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_of_every_state_merges_them_by_time_then_id_page_after_page() -> TestResult {
    let Some(base) = options("listing_merged") else { return Ok(()) };
    let store = RedisStore::connect_with(base.with_task_listing(true)).await?;
    let backend = store.backend();
    // The same microsecond in every state, and older ones between them.
    let now = chrono::Utc::now();
    let states = [TaskState::Queued, TaskState::Started, TaskState::Retrying, TaskState::Succeeded, TaskState::Failed];
    let mut statuses = Vec::new();
    for (n, state) in states.into_iter().enumerate() {
        for ago in [0, 0, i64::try_from(n)? + 1] {
            let mut s = status("merged", state);
            s.fence = 1;
            s.updated_at = now - chrono::Duration::microseconds(ago);
            statuses.push(s);
        }
    }
    store_all(backend.as_ref(), &statuses).await?;
    statuses.sort_by_key(|s| std::cmp::Reverse((s.updated_at.timestamp_micros(), s.id)));
    let expected: Vec<TaskId> = statuses.iter().map(|s| s.id).collect();
    for query in [TaskQuery::new(), TaskQuery::new().task("merged")] {
        assert_eq!(listed(backend.as_ref(), query.clone()).await?, expected, "one page: {query:?}");
        let listing = backend.listing().expect("on");
        let (mut seen, mut next) = (Vec::new(), None);
        loop {
            let mut page_query = query.clone().limit(2);
            page_query.after = next;
            let page = listing.list_tasks(&page_query).await?;
            seen.extend(page.statuses.iter().map(|s| s.id));
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        assert_eq!(seen, expected, "pages of two: {query:?}");
    }
    store.delete_namespace().await?;
    Ok(())
}
