//! The [`ResultBackend`] conformance suite: the Dart project's 15 result backend
//! cases, mapped onto Stem's contract, plus fencing, `wait` and the
//! [`TaskListing`] capability.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{Case, Namespace, Report, cases, eventually, run_suite};
use crate::backend::{
    ErrorInfo, GroupCount, GroupMember, Progress, ResultBackend, TaskListing, TaskPage, TaskQuery, TaskState,
    TaskStatus, WorkerHeartbeat,
};
use crate::codec::Payload;
use crate::id::TaskId;

type Store = Arc<dyn ResultBackend>;

/// Runs every result backend case against backends made by `factory`, one per
/// case. The backend must keep final states for [`Namespace::retention`].
///
/// The cases that list statuses are reported skipped, by name, when the
/// backend does not implement [`TaskListing`] ([`ResultBackend::listing`]
/// returns `None`).
pub async fn backend_suite<F, Fut>(factory: F) -> Report
where
    F: Fn(Namespace) -> Fut,
    Fut: Future<Output = crate::Result<Store>>,
{
    run_suite("backend", CASES, skip, factory).await
}

fn skip(backend: &Store, case: &'static str) -> Option<&'static str> {
    if NEED_LISTING.contains(&case) && backend.listing().is_none() {
        return Some("the adapter does not implement TaskListing (ResultBackend::listing returns None)");
    }
    None
}

/// The cases that list statuses.
const NEED_LISTING: &[&str] = &[
    "listing_filters_by_task_and_state",
    "listing_is_newest_first",
    "listing_pages_visit_every_match_once",
    "listing_nothing_is_an_empty_page",
    "listing_limit_is_bounded",
    "listing_refuses_a_cursor_it_did_not_make",
];

const CASES: &[Case<Store>] = cases!(Store:
    set_and_get_round_trip_every_field,
    expire_removes_a_status_after_its_ttl,
    final_states_expire_after_the_retention,
    set_overwrites_and_clears_the_error,
    wait_returns_the_final_state_not_an_intermediate_one,
    group_lifecycle,
    group_counts_a_member_added_again_once,
    group_add_takes_a_batch_across_groups,
    group_counts_are_exact_under_concurrent_adds,
    group_init_resets_the_group,
    group_expires_after_its_ttl,
    chord_has_a_single_claimant,
    heartbeats_are_stored_and_listed,
    heartbeats_update_in_place,
    heartbeats_expire_after_their_ttl,
    binary_payloads_round_trip,
    meta_survives_status_and_group_storage,
    group_results_decode_to_typed_values,
    lower_fence_is_refused,
    one_batch_is_written_in_order,
    batch_writes_are_fenced_and_wake_waiters,
    wait_on_an_unknown_task_times_out,
    unknown_task_reads_as_none,
    a_large_batch_of_final_states_wakes_its_waiters,
    listing_filters_by_task_and_state,
    listing_is_newest_first,
    listing_pages_visit_every_match_once,
    listing_nothing_is_an_empty_page,
    listing_limit_is_bounded,
    listing_refuses_a_cursor_it_did_not_make,
);

const PATIENT: Duration = Duration::from_secs(5);

fn status(state: TaskState) -> TaskStatus {
    TaskStatus::new(TaskId::new(), "conformance.task", "q", state)
}

fn json<T: serde::Serialize>(value: &T) -> Payload {
    crate::codec::encode("json", value).expect("encode")
}

async fn set_and_get_round_trip_every_field(backend: Store) {
    let mut s = status(TaskState::Failed);
    s.attempt = 3;
    s.fence = 4;
    s.result = Some(json(&vec![1, 2, 3]));
    s.error = Some(ErrorInfo { kind: "io".into(), message: "disk full".into() });
    s.progress = Some(Progress { fraction: 0.5, data: Some(serde_json::json!({"rows": 10})) });
    s.meta.insert("tenant".into(), "acme".into());
    assert!(backend.set(s.clone()).await.expect("set"));
    assert_eq!(backend.get(s.id).await.expect("get"), Some(s));
}

async fn expire_removes_a_status_after_its_ttl(backend: Store) {
    let s = status(TaskState::Started);
    backend.set(s.clone()).await.expect("set");
    let ttl = Duration::from_secs(1);
    let asked = tokio::time::Instant::now();
    backend.expire(s.id, ttl).await.expect("expire");
    let present = backend.get(s.id).await.expect("get").is_some();
    // Only a read that ended before the ttl ran out must see the status (a
    // loaded machine may take longer than the ttl between the two calls).
    if asked.elapsed() < ttl {
        assert!(present, "still there before the ttl");
    }
    eventually("the status expired", PATIENT, || async { backend.get(s.id).await.expect("get").is_none() }).await;
}

async fn final_states_expire_after_the_retention(backend: Store) {
    let running = status(TaskState::Started);
    let done = status(TaskState::Succeeded);
    backend.set_batch(&mut vec![running.clone(), done.clone()]).await.expect("set");
    eventually("the final state expired", PATIENT, || async { backend.get(done.id).await.expect("get").is_none() })
        .await;
    assert!(backend.get(running.id).await.expect("get").is_some(), "a running task's state does not expire");
}

async fn set_overwrites_and_clears_the_error(backend: Store) {
    let mut s = status(TaskState::Retrying);
    s.attempt = 1;
    s.error = Some(ErrorInfo { kind: "io".into(), message: "timeout".into() });
    backend.set(s.clone()).await.expect("set");
    s.state = TaskState::Succeeded;
    s.attempt = 2;
    s.error = None;
    s.result = Some(json(&"done"));
    s.meta.insert("k".into(), "v".into());
    backend.set(s.clone()).await.expect("set");
    let got = backend.get(s.id).await.expect("get").expect("stored");
    assert_eq!(got.error, None, "the old error is gone");
    assert_eq!(got, s);
}

async fn wait_returns_the_final_state_not_an_intermediate_one(backend: Store) {
    let mut s = status(TaskState::Queued);
    backend.set(s.clone()).await.expect("set");
    let waiter = {
        let backend = Arc::clone(&backend);
        tokio::spawn(async move { backend.wait(s.id, PATIENT * 2).await })
    };
    s.state = TaskState::Started;
    backend.set(s.clone()).await.expect("set");
    let mut waiter = waiter;
    let early = tokio::time::timeout(Duration::from_millis(200), &mut waiter).await;
    assert!(early.is_err(), "wait returned on a state that is not final: {early:?}");
    s.state = TaskState::Succeeded;
    s.result = Some(json(&7));
    backend.set(s.clone()).await.expect("set");
    let got = tokio::time::timeout(PATIENT, waiter).await.expect("wait woke up").expect("join").expect("wait");
    assert_eq!(got, Some(s));
}

fn member(group: TaskId, index: usize, state: TaskState) -> GroupMember {
    GroupMember { group, index, status: status(state) }
}

async fn add(backend: &Store, member: GroupMember) -> Option<GroupCount> {
    backend.group_add(&[member]).await.expect("add").pop().flatten()
}

async fn group_lifecycle(backend: Store) {
    let group = TaskId::new();
    assert_eq!(add(&backend, member(group, 0, TaskState::Succeeded)).await, None, "unknown group");
    backend.group_init(group, 2).await.expect("init");
    let first = member(group, 1, TaskState::Succeeded);
    assert_eq!(add(&backend, first.clone()).await, Some(GroupCount { expected: 2, done: 1 }));
    let second = member(group, 0, TaskState::Failed);
    let count = add(&backend, second.clone()).await.expect("exists");
    assert!(count.is_complete(), "{count:?}");
    let g = backend.group_get(group).await.expect("get").expect("exists");
    assert_eq!((g.id, g.expected, g.is_complete()), (group, 2, true));
    let in_order: Vec<_> = g.results.into_iter().collect();
    assert_eq!(in_order, vec![(0, second.status), (1, first.status)], "results in member order");
}

async fn group_counts_a_member_added_again_once(backend: Store) {
    let group = TaskId::new();
    backend.group_init(group, 3).await.expect("init");
    add(&backend, member(group, 2, TaskState::Failed)).await;
    let again = member(group, 2, TaskState::Succeeded);
    assert_eq!(add(&backend, again.clone()).await, Some(GroupCount { expected: 3, done: 1 }), "counted once");
    let g = backend.group_get(group).await.expect("get").expect("exists");
    assert_eq!(g.results.get(&2), Some(&again.status), "the later status replaces the earlier");
}

async fn group_add_takes_a_batch_across_groups(backend: Store) {
    let (a, b, unknown) = (TaskId::new(), TaskId::new(), TaskId::new());
    backend.group_init(a, 2).await.expect("init");
    backend.group_init(b, 1).await.expect("init");
    let batch = [
        member(a, 0, TaskState::Succeeded),
        member(unknown, 0, TaskState::Succeeded),
        member(b, 0, TaskState::Succeeded),
        member(a, 1, TaskState::Succeeded),
    ];
    let counts = backend.group_add(&batch).await.expect("add");
    let expected = vec![
        Some(GroupCount { expected: 2, done: 1 }),
        None,
        Some(GroupCount { expected: 1, done: 1 }),
        Some(GroupCount { expected: 2, done: 2 }),
    ];
    assert_eq!(counts, expected, "one count per member, in order");
    assert_eq!(backend.group_get(b).await.expect("get").map(|g| g.results.len()), Some(1));
}

async fn group_counts_are_exact_under_concurrent_adds(backend: Store) {
    const MEMBERS: usize = 40;
    let group = TaskId::new();
    backend.group_init(group, MEMBERS).await.expect("init");
    let adds = (0..MEMBERS).map(|index| {
        let backend = Arc::clone(&backend);
        tokio::spawn(async move { add(&backend, member(group, index, TaskState::Succeeded)).await })
    });
    let counts: Vec<_> = futures_util::future::join_all(adds).await.into_iter().map(|r| r.expect("join")).collect();
    let completing = counts.iter().filter(|c| c.is_some_and(|c| c.done == MEMBERS)).count();
    assert_eq!(completing, 1, "exactly one add completes the group: {counts:?}");
    let mut seen: Vec<usize> = counts.iter().map(|c| c.expect("exists").done).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=MEMBERS).collect::<Vec<_>>(), "each add saw a count of its own");
    let g = backend.group_get(group).await.expect("get").expect("exists");
    assert_eq!(g.results.keys().copied().collect::<Vec<_>>(), (0..MEMBERS).collect::<Vec<_>>());
}

async fn group_init_resets_the_group(backend: Store) {
    let group = TaskId::new();
    backend.group_init(group, 2).await.expect("init");
    add(&backend, member(group, 0, TaskState::Succeeded)).await;
    backend.claim_chord(group, TaskId::new()).await.expect("claim");
    backend.group_init(group, 3).await.expect("init again");
    let g = backend.group_get(group).await.expect("get").expect("exists");
    assert_eq!((g.expected, g.results.len(), g.chord_callback), (3, 0, None));
}

async fn group_expires_after_its_ttl(backend: Store) {
    let group = TaskId::new();
    backend.group_init(group, 2).await.expect("init");
    backend.expire(group, Duration::from_millis(200)).await.expect("expire");
    eventually("the group expired", PATIENT, || async { backend.group_get(group).await.expect("get").is_none() }).await;
    assert_eq!(add(&backend, member(group, 0, TaskState::Succeeded)).await, None, "a late add");
}

async fn chord_has_a_single_claimant(backend: Store) {
    let group = TaskId::new();
    assert!(!backend.claim_chord(group, TaskId::new()).await.expect("claim"), "no group, no claim");
    backend.group_init(group, 1).await.expect("init");
    let claims = (0..16).map(|_| {
        let backend = Arc::clone(&backend);
        let callback = TaskId::new();
        tokio::spawn(async move { (callback, backend.claim_chord(group, callback).await.expect("claim")) })
    });
    let results: Vec<_> = futures_util::future::join_all(claims).await.into_iter().map(|r| r.expect("join")).collect();
    let winners: Vec<_> = results.iter().filter(|(_, won)| *won).map(|(cb, _)| *cb).collect();
    assert_eq!(winners.len(), 1, "exactly one claimant wins");
    let g = backend.group_get(group).await.expect("get").expect("exists");
    assert_eq!(g.chord_callback, Some(winners[0]), "the winner's callback is recorded");
}

fn heartbeat(worker: &str, processed: u64) -> WorkerHeartbeat {
    let mut hb = WorkerHeartbeat::new(worker, vec!["default".into(), "emails".into()], 8);
    hb.processed = processed;
    hb.inflight = 3;
    hb
}

async fn heartbeats_are_stored_and_listed(backend: Store) {
    let (a, b) = (heartbeat("worker-a", 1), heartbeat("worker-b", 2));
    backend.set_heartbeat(b.clone(), PATIENT * 6).await.expect("set");
    backend.set_heartbeat(a.clone(), PATIENT * 6).await.expect("set");
    assert_eq!(backend.list_heartbeats().await.expect("list"), vec![a, b], "sorted by worker id");
}

async fn heartbeats_update_in_place(backend: Store) {
    backend.set_heartbeat(heartbeat("w", 1), PATIENT * 6).await.expect("set");
    let latest = heartbeat("w", 99);
    backend.set_heartbeat(latest.clone(), PATIENT * 6).await.expect("set");
    assert_eq!(backend.list_heartbeats().await.expect("list"), vec![latest], "one entry per worker, the latest");
}

async fn heartbeats_expire_after_their_ttl(backend: Store) {
    backend.set_heartbeat(heartbeat("gone", 1), Duration::from_millis(200)).await.expect("set");
    let stays = heartbeat("stays", 1);
    backend.set_heartbeat(stays.clone(), PATIENT * 6).await.expect("set");
    eventually("the heartbeat expired", PATIENT, || async {
        backend.list_heartbeats().await.expect("list") == vec![stays.clone()]
    })
    .await;
}

async fn binary_payloads_round_trip(backend: Store) {
    let mut s = status(TaskState::Succeeded);
    let bytes: Vec<u8> = (0..=255).collect();
    s.result = Some(Payload::new("bincode", bytes.clone()));
    backend.set(s.clone()).await.expect("set");
    let got = backend.get(s.id).await.expect("get").expect("stored");
    let result = got.result.expect("a result");
    assert_eq!((result.codec(), result.bytes()), ("bincode", &bytes[..]));
}

async fn meta_survives_status_and_group_storage(backend: Store) {
    let mut s = status(TaskState::Succeeded);
    s.meta.insert("stem.codec".into(), "json".into());
    s.meta.insert("nested".into(), serde_json::json!({"a": [1, 2]}));
    backend.set(s.clone()).await.expect("set");
    assert_eq!(backend.get(s.id).await.expect("get").expect("stored").meta, s.meta);
    let group = TaskId::new();
    backend.group_init(group, 1).await.expect("init");
    backend.group_add(&[GroupMember { group, index: 0, status: s.clone() }]).await.expect("add");
    let g = backend.group_get(group).await.expect("get").expect("exists");
    assert_eq!(g.results.get(&0).map(|m| &m.meta), Some(&s.meta));
}

async fn group_results_decode_to_typed_values(backend: Store) {
    let group = TaskId::new();
    backend.group_init(group, 2).await.expect("init");
    for (index, value) in [7u32, 42].into_iter().enumerate() {
        let mut s = status(TaskState::Succeeded);
        s.result = Some(json(&value));
        backend.group_add(&[GroupMember { group, index, status: s }]).await.expect("add");
    }
    let g = backend.group_get(group).await.expect("get").expect("exists");
    let values: Vec<u32> = g
        .results
        .values()
        .map(|s| crate::codec::decode(s.result.as_ref().expect("a result")).expect("decode"))
        .collect();
    assert_eq!(values, vec![7, 42]);
}

/// A started status stored at fence 2, and a final one for the same task at
/// fence 1 (a stale worker's), not stored.
async fn stored_at_fence_2(backend: &Store) -> (TaskStatus, TaskStatus) {
    let mut newer = status(TaskState::Started);
    newer.fence = 2;
    assert!(backend.set(newer.clone()).await.expect("set"));
    let mut stale = newer.clone();
    stale.fence = 1;
    stale.state = TaskState::Succeeded;
    (newer, stale)
}

async fn lower_fence_is_refused(backend: Store) {
    let (newer, stale) = stored_at_fence_2(&backend).await;
    let mut same = newer.clone();
    same.state = TaskState::Retrying;
    let other = status(TaskState::Queued);
    let stored = backend.set_batch(&mut vec![stale, same.clone(), other]).await.expect("set batch");
    assert_eq!(stored, vec![false, true, true], "per status: refused, equal fence accepted, new id accepted");
    assert_eq!(backend.get(newer.id).await.expect("get"), Some(same));
}

/// Statuses of one task in one batch are written as if one after the other:
/// a later one is fenced by an earlier one of the batch.
async fn one_batch_is_written_in_order(backend: Store) {
    let mut first = status(TaskState::Started);
    first.fence = 3;
    let mut stale = first.clone();
    stale.fence = 2;
    stale.state = TaskState::Succeeded;
    let mut newer = first.clone();
    newer.fence = 4;
    newer.state = TaskState::Succeeded;
    newer.result = Some(json(&1));
    let other = status(TaskState::Succeeded);
    let stored = backend.set_batch(&mut vec![first, stale, other.clone(), newer.clone()]).await.expect("set batch");
    assert_eq!(stored, vec![true, false, true, true], "per status: stored, refused by the one before, stored, stored");
    assert_eq!(backend.get(newer.id).await.expect("get"), Some(newer));
    assert_eq!(backend.get(other.id).await.expect("get"), Some(other));
}

async fn batch_writes_are_fenced_and_wake_waiters(backend: Store) {
    let (newer, stale) = stored_at_fence_2(&backend).await;
    let mut done = status(TaskState::Succeeded);
    done.fence = 1;
    done.result = Some(json(&7));
    let waiting = {
        let (backend, id) = (Arc::clone(&backend), done.id);
        tokio::spawn(async move { backend.wait(id, PATIENT).await })
    };
    tokio::task::yield_now().await;
    let stored = backend.set_batch(&mut vec![stale, done.clone()]).await.expect("set batch");
    assert_eq!(stored, vec![false, true], "per status: refused by its fence, stored");
    assert_eq!(backend.get(newer.id).await.expect("get"), Some(newer), "the refused status changed nothing");
    let woke = waiting.await.expect("join").expect("wait").expect("known");
    assert_eq!(woke, done, "the waiter woke with the stored status");
}

async fn wait_on_an_unknown_task_times_out(backend: Store) {
    let started = tokio::time::Instant::now();
    assert_eq!(backend.wait(TaskId::new(), Duration::from_millis(200)).await.expect("wait"), None);
    assert!(started.elapsed() >= Duration::from_millis(200), "wait returned before its timeout");
}

async fn unknown_task_reads_as_none(backend: Store) {
    assert_eq!(backend.get(TaskId::new()).await.expect("get"), None);
    assert_eq!(backend.group_get(TaskId::new()).await.expect("get"), None);
    assert!(backend.list_heartbeats().await.expect("list").is_empty());
}

async fn a_large_batch_of_final_states_wakes_its_waiters(backend: Store) {
    // Big enough to overflow a single notification (Postgres caps its payload
    // at 8,000 bytes); every write must land and every waiter must wake.
    let mut batch: Vec<TaskStatus> = (0..600).map(|_| status(TaskState::Succeeded)).collect();
    for s in &mut batch {
        s.fence = 1;
    }
    let (first, last) = (batch[0].id, batch[599].id);
    let waiting = {
        let backend = Arc::clone(&backend);
        tokio::spawn(async move { backend.wait(last, PATIENT).await })
    };
    tokio::task::yield_now().await;
    let stored = backend.set_batch(&mut batch.clone()).await.expect("set a large batch");
    assert!(stored.iter().all(|s| *s), "every status of the batch is stored");
    let started = tokio::time::Instant::now();
    let woke = waiting.await.expect("join").expect("wait").expect("known");
    assert_eq!(woke.state, TaskState::Succeeded);
    assert!(started.elapsed() < Duration::from_secs(2), "the waiter woke {:?} after the write", started.elapsed());
    assert_eq!(backend.get(first).await.expect("get").map(|s| s.state), Some(TaskState::Succeeded));
}

/// The backend's listing (the suite skips cases that need it when there is none).
fn listing(backend: &Store) -> &dyn TaskListing {
    backend.listing().expect("checked by the suite")
}

async fn list(backend: &Store, query: TaskQuery) -> TaskPage {
    listing(backend).list_tasks(&query).await.expect("list tasks")
}

/// Statuses of `task` in `state`, `ago` seconds old each, stored in one batch.
async fn stored_ago(backend: &Store, task: &str, state: TaskState, ago: &[i64]) -> Vec<TaskStatus> {
    let now = chrono::Utc::now();
    let statuses: Vec<TaskStatus> = ago
        .iter()
        .map(|secs| {
            let mut s = TaskStatus::new(TaskId::new(), task, "q", state);
            s.updated_at = now - chrono::Duration::seconds(*secs);
            s
        })
        .collect();
    let stored = backend.set_batch(&mut statuses.clone()).await.expect("set batch");
    assert!(stored.iter().all(|s| *s), "every status is stored");
    statuses
}

fn ids(statuses: &[TaskStatus]) -> Vec<TaskId> {
    statuses.iter().map(|s| s.id).collect()
}

/// `statuses` newest first, as a listing orders them.
fn newest_first(mut statuses: Vec<TaskStatus>) -> Vec<TaskId> {
    statuses.sort_by_key(|s| std::cmp::Reverse((s.updated_at.timestamp_micros(), s.id)));
    ids(&statuses)
}

async fn listing_filters_by_task_and_state(backend: Store) {
    let a_failed = stored_ago(&backend, "listing.a", TaskState::Failed, &[1, 5]).await;
    let a_done = stored_ago(&backend, "listing.a", TaskState::Succeeded, &[2]).await;
    let b_failed = stored_ago(&backend, "listing.b", TaskState::Failed, &[3]).await;
    let b_started = stored_ago(&backend, "listing.b", TaskState::Started, &[4]).await;
    let everything = [&a_failed[..], &a_done, &b_failed, &b_started].concat();
    let by_task = list(&backend, TaskQuery::new().task("listing.a")).await;
    assert_eq!(ids(&by_task.statuses), newest_first([&a_failed[..], &a_done].concat()), "by task name");
    let by_state = list(&backend, TaskQuery::new().state(TaskState::Failed)).await;
    assert_eq!(ids(&by_state.statuses), newest_first([&a_failed[..], &b_failed].concat()), "by state");
    let both = list(&backend, TaskQuery::new().task("listing.b").state(TaskState::Started)).await;
    assert_eq!(both.statuses, b_started, "by task name and state: the statuses as stored");
    let all = list(&backend, TaskQuery::new()).await;
    assert_eq!(ids(&all.statuses), newest_first(everything), "no filter: every status");
    for page in [by_task, by_state, both, all] {
        assert_eq!(page.next, None, "one page holds them all");
    }
    let none = list(&backend, TaskQuery::new().task("listing.a").state(TaskState::Started)).await;
    assert!(none.statuses.is_empty(), "no status of that name in that state: {none:?}");
}

async fn listing_is_newest_first(backend: Store) {
    let older = stored_ago(&backend, "listing.order", TaskState::Started, &[30, 10, 20]).await;
    // Statuses written in the same microsecond come by id, highest first.
    let mut same = stored_ago(&backend, "listing.order", TaskState::Started, &[0, 0, 0]).await;
    let page = list(&backend, TaskQuery::new().task("listing.order")).await;
    same.sort_by_key(|s| std::cmp::Reverse(s.id));
    let expected = [ids(&same), ids(&[older[1].clone(), older[2].clone(), older[0].clone()])].concat();
    assert_eq!(ids(&page.statuses), expected, "by update time, then by id, both descending");
    // A newer write moves a status to the front.
    let mut moved = older[0].clone();
    moved.state = TaskState::Succeeded;
    moved.updated_at = chrono::Utc::now() + chrono::Duration::seconds(1);
    backend.set(moved.clone()).await.expect("set");
    let page = list(&backend, TaskQuery::new().task("listing.order")).await;
    assert_eq!(page.statuses.first(), Some(&moved), "the latest write comes first");
    assert_eq!(page.statuses.len(), 6, "a status is listed once, as last written");
}

async fn listing_pages_visit_every_match_once(backend: Store) {
    let ago: Vec<i64> = (0..23).collect();
    let matching = stored_ago(&backend, "listing.pages", TaskState::Failed, &ago).await;
    // Same name, other state; other name, same state: never listed.
    stored_ago(&backend, "listing.pages", TaskState::Succeeded, &ago[..7]).await;
    stored_ago(&backend, "listing.other", TaskState::Failed, &ago[..7]).await;
    let query = TaskQuery::new().task("listing.pages").state(TaskState::Failed).limit(5);
    let (mut seen, mut sizes, mut next) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let mut page_query = query.clone();
        page_query.after = next.clone();
        let page = list(&backend, page_query).await;
        sizes.push(page.statuses.len());
        seen.extend(ids(&page.statuses));
        match page.next {
            Some(cursor) => next = Some(cursor),
            None => break,
        }
        assert!(sizes.len() <= 10, "the pages never end: {sizes:?}");
    }
    assert_eq!(sizes, vec![5, 5, 5, 5, 3], "full pages, then the rest");
    assert_eq!(seen, newest_first(matching), "every match once, in order, across the pages");
}

async fn listing_nothing_is_an_empty_page(backend: Store) {
    let empty = list(&backend, TaskQuery::new()).await;
    assert_eq!((empty.statuses.len(), empty.next), (0, None), "an empty store");
    stored_ago(&backend, "listing.some", TaskState::Started, &[1, 2]).await;
    let unknown = list(&backend, TaskQuery::new().task("listing.unknown")).await;
    assert_eq!((unknown.statuses.len(), unknown.next), (0, None), "an unknown name");
    let exact = list(&backend, TaskQuery::new().task("listing.some").limit(2)).await;
    assert_eq!((exact.statuses.len(), exact.next), (2, None), "a last page as long as the limit has no next");
}

async fn listing_limit_is_bounded(backend: Store) {
    let ago: Vec<i64> = (0..=i64::try_from(TaskQuery::MAX_LIMIT).expect("small")).collect();
    stored_ago(&backend, "listing.bounds", TaskState::Queued, &ago).await;
    let zero = list(&backend, TaskQuery::new().limit(0)).await;
    assert_eq!(zero.statuses.len(), 1, "a limit of 0 reads as 1");
    assert!(zero.next.is_some());
    let huge = list(&backend, TaskQuery::new().limit(usize::MAX)).await;
    assert_eq!(huge.statuses.len(), TaskQuery::MAX_LIMIT, "a page holds at most MAX_LIMIT statuses");
    let rest = list(&backend, TaskQuery::new().limit(usize::MAX).after(huge.next.expect("more follow"))).await;
    assert_eq!((rest.statuses.len(), rest.next), (1, None), "the one left");
}

async fn listing_refuses_a_cursor_it_did_not_make(backend: Store) {
    stored_ago(&backend, "listing.cursor", TaskState::Started, &[1]).await;
    for cursor in ["", "not a cursor", "12_not-an-id", "x_0190c0de-0000-7000-8000-000000000000"] {
        let refused = listing(&backend).list_tasks(&TaskQuery::new().after(cursor)).await;
        assert!(refused.is_err(), "`{cursor}` is refused: {refused:?}");
    }
}
