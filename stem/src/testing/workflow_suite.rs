//! The [`WorkflowStore`] conformance suite: the Dart project's 23 workflow store
//! cases as they apply to this contract (runs carry their queue rather than a
//! map of runtime metadata; an auto-versioned step is a step id with its
//! occurrence, `name#n`), plus fencing, lease takeover, lost-run recovery and
//! exactly-once event delivery under racing resolvers, rewinding, recording
//! errors and pruning ended runs.
//!
//! Every time is an argument of the store's methods, so the cases use fixed
//! instants from 2024-01-01 and never sleep.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::{Case, Namespace, Report, cases, run_suite};
use crate::error::Error;
use crate::id::TaskId;
use crate::workflow::{
    CancellationPolicy, Checkpoint, Finish, NewRun, RunFilter, RunId, RunStatus, Suspension, Watch, WorkflowStore,
};

type Store = Arc<dyn WorkflowStore>;

/// Runs every workflow store case against stores made by `factory`, one per case.
pub async fn workflow_store_suite<F, Fut>(factory: F) -> Report
where
    F: Fn(Namespace) -> Fut,
    Fut: Future<Output = crate::Result<Store>>,
{
    run_suite("workflow", CASES, |_, _| None, factory).await
}

const CASES: &[Case<Store>] = cases!(Store:
    create_run_persists_metadata_and_cursor_zero,
    create_run_rejects_a_duplicate_id,
    create_run_persists_the_cancellation_policy,
    unknown_runs_are_absent,
    checkpoints_list_in_position_order_with_the_cursor,
    save_checkpoint_refreshes_updated_at,
    save_checkpoint_is_fenced_by_the_lease_and_position,
    claim_enforces_leases,
    lease_takeover_fences_the_old_owner,
    suspend_until_then_due_once_then_resumed,
    suspend_writes_its_checkpoint_and_releases_the_lease,
    due_runs_honors_the_limit_and_leaves_the_rest_due,
    watcher_resolves_exactly_once_with_its_value,
    racing_resolvers_deliver_each_watcher_once,
    list_watchers_exposes_deadlines_oldest_first,
    deadline_makes_a_watching_run_due_and_drops_its_watcher,
    finish_completed_stores_the_result_and_clears_the_suspension,
    finish_failed_records_the_error_and_is_fenced,
    cancel_from_outside_ends_a_suspended_run,
    list_runs_filters_by_workflow_and_status_newest_first,
    stale_runs_returns_lost_runs_once,
    rewind_drops_later_checkpoints_and_makes_the_run_runnable,
    rewind_ends_a_wait_and_reopens_a_final_run,
    record_error_keeps_the_status,
    prune_removes_runs_that_ended_before_the_cutoff,
    create_runs_creates_each_and_leaves_taken_ids_alone,
    open_run_claims_and_reads_in_one_call,
    open_run_leaves_held_suspended_and_final_runs_unclaimed,
    concurrent_writes_of_many_runs_apply_all_but_the_fenced_out,
    concurrent_finishes_of_many_runs_apply_all_but_the_fenced_out,
    finish_after_writes_the_last_checkpoints_with_the_end,
    finish_after_of_a_fenced_out_owner_writes_nothing,
);

/// Opens `id` for `owner` at second `now` with a lease until `now + 30`.
async fn open(store: &Store, id: RunId, owner: &str, now: i64) -> Option<crate::workflow::OpenedRun> {
    store.open_run(id, owner, at(now), at(now + 30)).await.expect("open")
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").expect("a valid time").with_timezone(&Utc)
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

fn new_run(workflow: &str, created: i64) -> NewRun {
    NewRun {
        id: TaskId::new(),
        workflow: workflow.to_owned(),
        queue: "wf-queue".to_owned(),
        args: json!({"order": 42}),
        policy: CancellationPolicy::NONE,
        at: at(created),
    }
}

fn checkpoint(position: u32, name: &str, value: serde_json::Value, secs: i64) -> Checkpoint {
    Checkpoint { position, name: name.to_owned(), value, at: at(secs) }
}

/// A created run claimed by `owner` until second 30.
async fn claimed(store: &Store, owner: &str) -> RunId {
    let run = new_run("flow", 0);
    let id = run.id;
    store.create_run(run).await.expect("create");
    assert!(store.claim_run(id, owner, at(0), at(30)).await.expect("claim"), "a new run can be claimed");
    id
}

fn sleep_until(secs: i64, now: i64) -> Suspension {
    Suspension { checkpoint: None, resume_at: Some(at(secs)), watch: None, at: at(now) }
}

fn watching(topic: &str, position: u32, deadline: Option<i64>, now: i64) -> Suspension {
    Suspension {
        checkpoint: None,
        resume_at: deadline.map(at),
        watch: Some(Watch { topic: topic.to_owned(), position, step: format!("stem.event:{topic}#0") }),
        at: at(now),
    }
}

async fn status(store: &Store, id: RunId) -> RunStatus {
    store.get_run(id).await.expect("get").expect("the run exists").status
}

async fn create_run_persists_metadata_and_cursor_zero(store: Store) {
    let run = new_run("checkout", 5);
    let id = run.id;
    store.create_run(run).await.expect("create");
    let state = store.get_run(id).await.expect("get").expect("created");
    assert_eq!(state.id, id);
    assert_eq!(state.workflow, "checkout");
    assert_eq!(state.queue, "wf-queue");
    assert_eq!(state.args, json!({"order": 42}));
    assert_eq!(state.status, RunStatus::Running);
    assert_eq!(state.cursor, 0);
    assert_eq!((state.created_at, state.updated_at), (at(5), at(5)));
    assert_eq!((state.result, state.error, state.owner, state.resume_at), (None, None, None, None));
}

async fn create_run_rejects_a_duplicate_id(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.save_checkpoint(id, "a", checkpoint(0, "first#0", json!(1), 1)).await.expect("save"));
    let mut again = new_run("other", 9);
    again.id = id;
    let error = store.create_run(again).await.expect_err("a duplicate id fails");
    assert!(matches!(error, Error::RunExists(dup) if dup == id), "{error}");
    let state = store.get_run(id).await.expect("get").expect("kept");
    assert_eq!(state.workflow, "flow", "the first run is untouched");
    assert_eq!(store.checkpoints(id).await.expect("checkpoints").len(), 1, "its checkpoint too");
}

async fn create_run_persists_the_cancellation_policy(store: Store) {
    let mut run = new_run("flow", 0);
    run.policy = CancellationPolicy {
        max_run_time: Some(Duration::from_secs(3600)),
        max_suspended_time: Some(Duration::from_millis(1500)),
    };
    let (id, policy) = (run.id, run.policy);
    store.create_run(run).await.expect("create");
    assert_eq!(store.get_run(id).await.expect("get").expect("created").policy, policy);
}

async fn unknown_runs_are_absent(store: Store) {
    let id = TaskId::new();
    assert!(store.get_run(id).await.expect("get").is_none());
    assert!(store.checkpoints(id).await.expect("checkpoints").is_empty());
    assert!(!store.claim_run(id, "a", at(0), at(30)).await.expect("claim"));
    assert!(!store.finish_run(id, None, Finish::Cancelled("x".into()), at(0)).await.expect("finish"));
}

async fn checkpoints_list_in_position_order_with_the_cursor(store: Store) {
    let id = claimed(&store, "a").await;
    for (position, name) in [(0, "a#0"), (1, "repeat#0"), (2, "repeat#1"), (3, "tail#0")] {
        let value = json!({"step": name});
        assert!(store.save_checkpoint(id, "a", checkpoint(position, name, value, 1)).await.expect("save"));
    }
    let listed = store.checkpoints(id).await.expect("checkpoints");
    let names: Vec<(u32, &str)> = listed.iter().map(|c| (c.position, c.name.as_str())).collect();
    assert_eq!(names, [(0, "a#0"), (1, "repeat#0"), (2, "repeat#1"), (3, "tail#0")]);
    assert_eq!(listed[2].value, json!({"step": "repeat#1"}));
    assert_eq!(listed[2].at, at(1));
    assert_eq!(store.get_run(id).await.expect("get").expect("run").cursor, 4);
    let runs = store.list_runs(&RunFilter::new()).await.expect("list");
    assert_eq!(runs.iter().find(|r| r.id == id).expect("listed").cursor, 4, "listing reports the cursor");
}

async fn save_checkpoint_refreshes_updated_at(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.save_checkpoint(id, "a", checkpoint(0, "s#0", json!(null), 7)).await.expect("save"));
    assert_eq!(store.get_run(id).await.expect("get").expect("run").updated_at, at(7));
}

async fn save_checkpoint_is_fenced_by_the_lease_and_position(store: Store) {
    let run = new_run("flow", 0);
    let id = run.id;
    store.create_run(run).await.expect("create");
    assert!(!store.save_checkpoint(id, "a", checkpoint(0, "s#0", json!(1), 1)).await.expect("save"), "unleased");
    assert!(store.claim_run(id, "a", at(0), at(30)).await.expect("claim"));
    assert!(!store.save_checkpoint(id, "b", checkpoint(0, "s#0", json!(1), 1)).await.expect("save"), "not the owner");
    assert!(store.save_checkpoint(id, "a", checkpoint(0, "s#0", json!(1), 1)).await.expect("save"));
    assert!(
        !store.save_checkpoint(id, "a", checkpoint(0, "other#0", json!(2), 2)).await.expect("save"),
        "a position is written once"
    );
    let listed = store.checkpoints(id).await.expect("checkpoints");
    assert_eq!((listed.len(), &listed[0].value), (1, &json!(1)), "the first write stands");
}

async fn claim_enforces_leases(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(!store.claim_run(id, "b", at(10), at(40)).await.expect("claim"), "held by a");
    assert!(store.claim_run(id, "a", at(10), at(40)).await.expect("claim"), "the owner claims again");
    assert!(store.renew_run(id, "a", at(60)).await.expect("renew"), "the owner renews");
    assert!(!store.renew_run(id, "b", at(90)).await.expect("renew"), "another owner cannot renew");
    assert!(!store.claim_run(id, "b", at(59), at(90)).await.expect("claim"), "renewed until 60");
    store.release_run(id, "b").await.expect("release by a stranger");
    assert!(!store.claim_run(id, "b", at(59), at(90)).await.expect("claim"), "a stranger's release changes nothing");
    store.release_run(id, "a").await.expect("release");
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.owner, state.lease_until), (None, None));
    assert!(store.claim_run(id, "b", at(59), at(90)).await.expect("claim"), "free after release");
}

async fn lease_takeover_fences_the_old_owner(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.claim_run(id, "b", at(31), at(61)).await.expect("claim"), "a's lease ended at 30");
    assert!(!store.renew_run(id, "a", at(90)).await.expect("renew"), "a lost the lease");
    assert!(!store.save_checkpoint(id, "a", checkpoint(0, "s#0", json!("a"), 32)).await.expect("save"));
    assert!(!store.suspend_run(id, "a", sleep_until(100, 32)).await.expect("suspend"));
    assert!(!store.finish_run(id, Some("a"), Finish::Completed(json!("a")), at(32)).await.expect("finish"));
    assert!(store.save_checkpoint(id, "b", checkpoint(0, "s#0", json!("b"), 33)).await.expect("save"));
    assert!(store.finish_run(id, Some("b"), Finish::Completed(json!("b")), at(34)).await.expect("finish"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.result), (RunStatus::Completed, Some(json!("b"))));
    assert_eq!(store.checkpoints(id).await.expect("checkpoints")[0].value, json!("b"));
}

async fn suspend_until_then_due_once_then_resumed(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.suspend_run(id, "a", sleep_until(40, 10)).await.expect("suspend"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!(state.status, RunStatus::Suspended);
    assert_eq!((state.resume_at, state.suspended_at), (Some(at(40)), Some(at(10))));
    assert!(!store.claim_run(id, "b", at(11), at(41)).await.expect("claim"), "a suspended run is not claimable");
    assert!(store.due_runs(at(39), 10).await.expect("due").is_empty(), "not due yet");
    let due = store.due_runs(at(40), 10).await.expect("due");
    assert_eq!(due.iter().map(|r| (r.run, r.queue.as_str())).collect::<Vec<_>>(), [(id, "wf-queue")]);
    assert!(store.due_runs(at(50), 10).await.expect("due").is_empty(), "returned once");
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.resume_at, state.wait_topic), (RunStatus::Running, None, None));
    assert!(store.claim_run(id, "b", at(50), at(80)).await.expect("claim"), "runnable again");
}

async fn suspend_writes_its_checkpoint_and_releases_the_lease(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(!store.suspend_run(id, "b", sleep_until(40, 10)).await.expect("suspend"), "only the owner suspends");
    let mut suspension = sleep_until(40, 10);
    suspension.checkpoint = Some(checkpoint(0, "stem.sleep#0", json!("2024-01-01T00:00:40Z"), 10));
    assert!(store.suspend_run(id, "a", suspension).await.expect("suspend"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.owner, state.lease_until, state.cursor), (None, None, 1));
    let listed = store.checkpoints(id).await.expect("checkpoints");
    assert_eq!(listed[0].name, "stem.sleep#0");
}

async fn due_runs_honors_the_limit_and_leaves_the_rest_due(store: Store) {
    let mut ids = Vec::new();
    for wake in [20, 10, 30] {
        let id = claimed(&store, "a").await;
        assert!(store.suspend_run(id, "a", sleep_until(wake, 1)).await.expect("suspend"));
        ids.push(id);
    }
    let first = store.due_runs(at(100), 2).await.expect("due");
    assert_eq!(first.iter().map(|r| r.run).collect::<Vec<_>>(), [ids[1], ids[0]], "earliest first");
    let rest = store.due_runs(at(100), 2).await.expect("due");
    assert_eq!(rest.iter().map(|r| r.run).collect::<Vec<_>>(), [ids[2]]);
}

async fn watcher_resolves_exactly_once_with_its_value(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.save_checkpoint(id, "a", checkpoint(0, "charge#0", json!(1), 1)).await.expect("save"));
    assert!(store.suspend_run(id, "a", watching("parcel.shipped", 1, None, 2)).await.expect("suspend"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.wait_topic.as_deref()), (RunStatus::Suspended, Some("parcel.shipped")));
    assert!(store.resolve_watchers("other.topic", json!("x"), at(3), 10).await.expect("resolve").is_empty());
    let resumed = store.resolve_watchers("parcel.shipped", json!({"parcel": 7}), at(3), 10).await.expect("resolve");
    assert_eq!(resumed.iter().map(|r| (r.run, r.queue.as_str())).collect::<Vec<_>>(), [(id, "wf-queue")]);
    assert!(store.resolve_watchers("parcel.shipped", json!(2), at(4), 10).await.expect("resolve").is_empty());
    assert!(store.list_watchers("parcel.shipped", 10).await.expect("watchers").is_empty());
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.wait_topic), (RunStatus::Running, None));
    let listed = store.checkpoints(id).await.expect("checkpoints");
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[1].position, listed[1].name.as_str()), (1, "stem.event:parcel.shipped#0"));
    assert_eq!((&listed[1].value, listed[1].at), (&json!({"parcel": 7}), at(3)));
}

async fn racing_resolvers_deliver_each_watcher_once(store: Store) {
    let mut ids = Vec::new();
    for _ in 0..20 {
        let id = claimed(&store, "a").await;
        assert!(store.suspend_run(id, "a", watching("race", 0, None, 1)).await.expect("suspend"));
        ids.push(id);
    }
    let resolvers = (0..4).map(|n| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.resolve_watchers("race", json!(n), at(2), 3).await.expect("resolve");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|r| r.run));
            }
        })
    });
    let mut delivered: Vec<RunId> = Vec::new();
    for resolver in resolvers.collect::<Vec<_>>() {
        delivered.extend(resolver.await.expect("resolver"));
    }
    delivered.sort();
    ids.sort();
    assert_eq!(delivered, ids, "every watcher resolved exactly once");
    for id in ids {
        assert_eq!(store.checkpoints(id).await.expect("checkpoints").len(), 1, "one event value per run");
    }
}

async fn list_watchers_exposes_deadlines_oldest_first(store: Store) {
    let first = claimed(&store, "a").await;
    let second = claimed(&store, "a").await;
    assert!(store.suspend_run(first, "a", watching("t", 2, Some(90), 5)).await.expect("suspend"));
    assert!(store.suspend_run(second, "a", watching("t", 0, None, 6)).await.expect("suspend"));
    let listed = store.list_watchers("t", 10).await.expect("watchers");
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].run, listed[0].deadline, listed[0].created_at), (first, Some(at(90)), at(5)));
    assert_eq!((listed[0].watch.position, listed[0].watch.step.as_str()), (2, "stem.event:t#0"));
    assert_eq!((listed[1].run, listed[1].deadline), (second, None));
    assert_eq!(store.list_watchers("t", 1).await.expect("watchers").len(), 1, "the limit holds");
}

async fn deadline_makes_a_watching_run_due_and_drops_its_watcher(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.suspend_run(id, "a", watching("late", 0, Some(20), 1)).await.expect("suspend"));
    assert_eq!(store.due_runs(at(20), 10).await.expect("due").len(), 1);
    assert!(store.list_watchers("late", 10).await.expect("watchers").is_empty(), "the deadline ended the wait");
    assert!(store.resolve_watchers("late", json!(1), at(21), 10).await.expect("resolve").is_empty());
    assert!(store.checkpoints(id).await.expect("checkpoints").is_empty(), "no value after the deadline");
}

async fn finish_completed_stores_the_result_and_clears_the_suspension(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.suspend_run(id, "a", sleep_until(10, 1)).await.expect("suspend"));
    assert_eq!(store.due_runs(at(10), 1).await.expect("due").len(), 1);
    assert!(store.claim_run(id, "a", at(10), at(40)).await.expect("claim"));
    assert!(store.finish_run(id, Some("a"), Finish::Completed(json!({"ok": true})), at(11)).await.expect("finish"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!(state.status, RunStatus::Completed);
    assert_eq!(state.result, Some(json!({"ok": true})));
    assert_eq!((state.suspended_at, state.resume_at, state.wait_topic, state.owner), (None, None, None, None));
    assert_eq!(state.updated_at, at(11));
    assert!(!store.claim_run(id, "a", at(12), at(40)).await.expect("claim"), "a final run is not claimable");
}

async fn finish_failed_records_the_error_and_is_fenced(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(!store.finish_run(id, Some("b"), Finish::Failed("x".into()), at(1)).await.expect("finish"));
    assert_eq!(status(&store, id).await, RunStatus::Running);
    assert!(store.finish_run(id, Some("a"), Finish::Failed("card declined".into()), at(1)).await.expect("finish"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.error.as_deref()), (RunStatus::Failed, Some("card declined")));
    assert!(!store.finish_run(id, None, Finish::Cancelled("late".into()), at(2)).await.expect("finish"), "final");
}

async fn cancel_from_outside_ends_a_suspended_run(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.suspend_run(id, "a", watching("never", 0, Some(50), 1)).await.expect("suspend"));
    assert!(store.finish_run(id, None, Finish::Cancelled("by request".into()), at(2)).await.expect("cancel"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.error.as_deref()), (RunStatus::Cancelled, Some("by request")));
    assert_eq!(state.wait_topic, None);
    assert!(store.list_watchers("never", 10).await.expect("watchers").is_empty());
    assert!(store.due_runs(at(60), 10).await.expect("due").is_empty(), "a cancelled run never wakes");
}

async fn list_runs_filters_by_workflow_and_status_newest_first(store: Store) {
    let mut made = Vec::new();
    for (n, workflow) in ["alpha", "beta", "alpha", "alpha"].into_iter().enumerate() {
        let run = new_run(workflow, i64::try_from(n).expect("small"));
        made.push(run.id);
        store.create_run(run).await.expect("create");
    }
    assert!(store.claim_run(made[3], "a", at(5), at(30)).await.expect("claim"));
    assert!(store.finish_run(made[3], Some("a"), Finish::Completed(json!(1)), at(6)).await.expect("finish"));
    let ids = |runs: Vec<crate::workflow::RunState>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let alpha = store.list_runs(&RunFilter::new().workflow("alpha")).await.expect("list");
    assert_eq!(ids(alpha), [made[3], made[2], made[0]], "newest first");
    let running_alpha = RunFilter::new().workflow("alpha").status(RunStatus::Running);
    assert_eq!(ids(store.list_runs(&running_alpha).await.expect("list")), [made[2], made[0]]);
    let completed = RunFilter::new().status(RunStatus::Completed);
    assert_eq!(ids(store.list_runs(&completed).await.expect("list")), [made[3]]);
    let page = RunFilter::new().workflow("alpha").page(1, 1);
    assert_eq!(ids(store.list_runs(&page).await.expect("list")), [made[2]]);
}

async fn stale_runs_returns_lost_runs_once(store: Store) {
    let lost = new_run("flow", 0);
    let lost_id = lost.id;
    store.create_run(lost).await.expect("create");
    let held = claimed(&store, "a").await; // leased until 30
    let asleep = claimed(&store, "a").await;
    assert!(store.suspend_run(asleep, "a", sleep_until(1000, 0)).await.expect("suspend"));
    assert!(store.stale_runs(at(-1), at(10), 10).await.expect("stale").is_empty(), "nothing idle that long");
    let stale = store.stale_runs(at(5), at(10), 10).await.expect("stale");
    assert_eq!(stale.iter().map(|r| r.run).collect::<Vec<_>>(), [lost_id], "only the unleased running run");
    assert_eq!(store.get_run(lost_id).await.expect("get").expect("run").updated_at, at(10), "touched");
    assert!(store.stale_runs(at(5), at(11), 10).await.expect("stale").is_empty(), "not again until idle again");
    let later = store.stale_runs(at(20), at(40), 10).await.expect("stale");
    let mut got: Vec<RunId> = later.iter().map(|r| r.run).collect();
    got.sort();
    let mut want = vec![lost_id, held];
    want.sort();
    assert_eq!(got, want, "an expired lease counts as lost");
}

async fn rewind_drops_later_checkpoints_and_makes_the_run_runnable(store: Store) {
    let id = claimed(&store, "a").await;
    for (position, name) in [(0, "a#0"), (1, "repeat#0"), (2, "repeat#1"), (3, "tail#0")] {
        assert!(store.save_checkpoint(id, "a", checkpoint(position, name, json!(position), 1)).await.expect("save"));
    }
    assert!(store.rewind_run(id, 1, at(5)).await.expect("rewind"));
    let listed = store.checkpoints(id).await.expect("checkpoints");
    assert_eq!(listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a#0"], "every occurrence after goes");
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.cursor, state.updated_at), (RunStatus::Running, 1, at(5)));
    assert_eq!((state.owner, state.lease_until), (None, None), "the lease is released");
    assert!(store.claim_run(id, "b", at(6), at(36)).await.expect("claim"), "runnable by anyone");
    assert!(store.save_checkpoint(id, "b", checkpoint(1, "repeat#0", json!("again"), 7)).await.expect("save"));
    assert!(!store.rewind_run(TaskId::new(), 0, at(8)).await.expect("rewind"), "an unknown run");
}

async fn rewind_ends_a_wait_and_reopens_a_final_run(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.save_checkpoint(id, "a", checkpoint(0, "s#0", json!(1), 1)).await.expect("save"));
    assert!(store.suspend_run(id, "a", watching("t", 1, Some(100), 2)).await.expect("suspend"));
    assert!(store.rewind_run(id, 0, at(3)).await.expect("rewind"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.wait_topic, state.resume_at, state.cursor), (RunStatus::Running, None, None, 0));
    assert!(store.list_watchers("t", 10).await.expect("watchers").is_empty(), "its watcher is gone");
    assert!(store.due_runs(at(200), 10).await.expect("due").is_empty(), "its timer too");

    assert!(store.claim_run(id, "a", at(4), at(34)).await.expect("claim"));
    assert!(store.finish_run(id, Some("a"), Finish::Failed("boom".into()), at(5)).await.expect("finish"));
    assert!(store.rewind_run(id, 0, at(6)).await.expect("rewind"), "a final run can be re-run");
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.error, state.result), (RunStatus::Running, None, None));
}

async fn record_error_keeps_the_status(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.record_error(id, "step `x#0` attempt 1 failed: busy", at(3)).await.expect("record"));
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!(state.status, RunStatus::Running, "a recorded error does not end the run");
    assert_eq!((state.error.as_deref(), state.updated_at), (Some("step `x#0` attempt 1 failed: busy"), at(3)));
    assert_eq!(state.owner.as_deref(), Some("a"), "nor touch its lease");
    assert!(store.finish_run(id, Some("a"), Finish::Completed(json!(1)), at(4)).await.expect("finish"));
    assert!(!store.record_error(id, "late", at(5)).await.expect("record"), "a final run keeps its record");
    assert!(!store.record_error(TaskId::new(), "x", at(5)).await.expect("record"));
}

async fn prune_removes_runs_that_ended_before_the_cutoff(store: Store) {
    let mut ended = Vec::new();
    for (n, end) in [(0, 10), (1, 20), (2, 30)] {
        let id = claimed(&store, "a").await;
        assert!(store.save_checkpoint(id, "a", checkpoint(0, "s#0", json!(n), 1)).await.expect("save"));
        let how = if n == 1 { Finish::Failed("x".into()) } else { Finish::Completed(json!(n)) };
        assert!(store.finish_run(id, Some("a"), how, at(end)).await.expect("finish"));
        ended.push(id);
    }
    let running = claimed(&store, "a").await;
    let asleep = claimed(&store, "a").await;
    assert!(store.suspend_run(asleep, "a", watching("t", 0, None, 1)).await.expect("suspend"));
    assert_eq!(store.prune_runs(at(5), 10).await.expect("prune"), 0, "nothing ended that early");
    assert_eq!(store.prune_runs(at(20), 10).await.expect("prune"), 2, "ended at 10 and at 20");
    assert!(store.get_run(ended[0]).await.expect("get").is_none());
    assert!(store.checkpoints(ended[1]).await.expect("checkpoints").is_empty(), "its checkpoints go too");
    assert!(store.get_run(ended[2]).await.expect("get").is_some(), "ended after the cutoff");
    assert_eq!(store.prune_runs(at(1000), 1).await.expect("prune"), 1, "the limit holds");
    assert!(store.get_run(ended[2]).await.expect("get").is_none());
    assert_eq!(store.prune_runs(at(1000), 10).await.expect("prune"), 0, "runs that have not ended stay");
    assert!(store.get_run(running).await.expect("get").is_some());
    assert_eq!(store.list_watchers("t", 10).await.expect("watchers").len(), 1, "a waiting run keeps its watcher");
    let _ = asleep;
}

async fn open_run_claims_and_reads_in_one_call(store: Store) {
    assert!(open(&store, TaskId::new(), "a", 0).await.is_none(), "an unknown run opens as none");
    let run = new_run("flow", 0);
    let id = run.id;
    store.create_run(run).await.expect("create");
    let opened = open(&store, id, "a", 1).await.expect("the run exists");
    assert_eq!((opened.state.id, opened.state.status), (id, RunStatus::Running));
    assert_eq!(opened.state.args, json!({"order": 42}));
    assert_eq!(opened.checkpoints, Some(Vec::new()), "claimed, with no checkpoints yet");
    assert!(store.save_checkpoint(id, "a", checkpoint(0, "s#0", json!(1), 2)).await.expect("save"), "a holds it");
    assert!(store.save_checkpoint(id, "a", checkpoint(1, "t#0", json!(2), 3)).await.expect("save"));
    let taken = open(&store, id, "b", 40).await.expect("the run exists");
    let names: Vec<_> = taken.checkpoints.expect("a's lease ended at 31").into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["s#0", "t#0"], "in position order");
    assert_eq!(taken.state.cursor, 2);
    assert!(!store.save_checkpoint(id, "a", checkpoint(2, "u#0", json!(3), 41)).await.expect("save"), "fenced out");
    assert!(store.save_checkpoint(id, "b", checkpoint(2, "u#0", json!(3), 41)).await.expect("save"), "b holds it");
}

async fn open_run_leaves_held_suspended_and_final_runs_unclaimed(store: Store) {
    let held = claimed(&store, "a").await;
    let opened = open(&store, held, "b", 10).await.expect("the run exists");
    assert_eq!(opened.checkpoints, None, "a holds it until 30");
    assert_eq!((opened.state.owner.as_deref(), opened.state.lease_until), (Some("a"), Some(at(30))));
    assert!(store.renew_run(held, "a", at(60)).await.expect("renew"), "a still holds it");

    let suspended = claimed(&store, "a").await;
    assert!(store.suspend_run(suspended, "a", sleep_until(100, 5)).await.expect("suspend"));
    let opened = open(&store, suspended, "b", 10).await.expect("the run exists");
    assert_eq!((opened.state.status, opened.checkpoints), (RunStatus::Suspended, None));

    let ended = claimed(&store, "a").await;
    assert!(store.finish_run(ended, Some("a"), Finish::Completed(json!(7)), at(5)).await.expect("finish"));
    let opened = open(&store, ended, "b", 10).await.expect("the run exists");
    assert_eq!(
        (opened.state.status, opened.state.result, opened.checkpoints),
        (RunStatus::Completed, Some(json!(7)), None)
    );
}

/// Many runs' checkpoints written at once go to the store together (one
/// transaction, script call or pipeline where it group-commits): one whose
/// writer lost its lease is refused and the others are recorded.
async fn concurrent_writes_of_many_runs_apply_all_but_the_fenced_out(store: Store) {
    let mut runs = Vec::new();
    for _ in 0..24 {
        runs.push(claimed(&store, "a").await);
    }
    let fenced = runs[7];
    assert!(store.claim_run(fenced, "b", at(31), at(61)).await.expect("claim"), "b takes one run over");
    let saves = runs.iter().map(|&id| {
        let store = Arc::clone(&store);
        async move { store.save_checkpoint(id, "a", checkpoint(0, "s#0", json!(id.to_string()), 32)).await }
    });
    let saved: Vec<bool> = futures_util::future::join_all(saves).await.into_iter().map(|r| r.expect("save")).collect();
    for (id, saved) in runs.iter().zip(&saved) {
        assert_eq!(*saved, *id != fenced, "run {id}: only the fenced-out run's write is refused");
        let checkpoints = store.checkpoints(*id).await.expect("checkpoints");
        if *id == fenced {
            assert!(checkpoints.is_empty(), "nothing of the fenced-out write is kept");
        } else {
            assert_eq!(checkpoints.len(), 1);
            assert_eq!(checkpoints[0].value, json!(id.to_string()), "each run got its own checkpoint");
            assert_eq!(store.get_run(*id).await.expect("get").expect("run").updated_at, at(32));
        }
    }
}

/// Many runs ended at once: the run whose lease was taken over is not
/// ended by its old owner; the others end with their own results.
async fn concurrent_finishes_of_many_runs_apply_all_but_the_fenced_out(store: Store) {
    let mut runs = Vec::new();
    for _ in 0..24 {
        runs.push(claimed(&store, "a").await);
    }
    let fenced = runs[3];
    assert!(store.claim_run(fenced, "b", at(31), at(61)).await.expect("claim"), "b takes one run over");
    let finishes = runs.iter().enumerate().map(|(i, &id)| {
        let store = Arc::clone(&store);
        let how = if i % 2 == 0 { Finish::Completed(json!(i)) } else { Finish::Failed(format!("run {i} failed")) };
        async move { store.finish_run(id, Some("a"), how, at(32)).await }
    });
    let ended: Vec<bool> =
        futures_util::future::join_all(finishes).await.into_iter().map(|r| r.expect("finish")).collect();
    for (i, (id, ended)) in runs.iter().zip(&ended).enumerate() {
        let state = store.get_run(*id).await.expect("get").expect("run");
        if *id == fenced {
            assert!(!ended, "the fenced-out finish is refused");
            assert_eq!((state.status, state.owner.as_deref()), (RunStatus::Running, Some("b")));
        } else if i % 2 == 0 {
            assert!(ended);
            assert_eq!((state.status, state.result), (RunStatus::Completed, Some(json!(i))));
        } else {
            assert!(ended);
            assert_eq!((state.status, state.error), (RunStatus::Failed, Some(format!("run {i} failed"))));
        }
    }
}

/// An execution's end carries the checkpoints it has not written yet: they
/// are recorded with the end (a taken position is left as it was), while
/// other runs' checkpoints and ends go to the store at the same moment.
async fn finish_after_writes_the_last_checkpoints_with_the_end(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.save_checkpoint(id, "a", checkpoint(0, "first#0", json!(1), 1)).await.expect("save"));
    let last = vec![checkpoint(0, "first#0", json!("again"), 2), checkpoint(1, "second#0", json!(2), 2)];
    let others: Vec<RunId> = futures_util::future::join_all((0..8).map(|_| claimed(&store, "a"))).await;
    let finish = store.finish_run_after(id, "a", last, Finish::Completed(json!("done")), at(3));
    let writes = others.iter().enumerate().map(|(i, &other)| {
        let store = Arc::clone(&store);
        async move {
            let written = store.save_checkpoint(other, "a", checkpoint(0, "s#0", json!(i), 2)).await.expect("save");
            let last = vec![checkpoint(1, "t#0", json!(i), 3)];
            written && store.finish_run_after(other, "a", last, Finish::Completed(json!(i)), at(3)).await.expect("end")
        }
    });
    let (ended, written) = tokio::join!(finish, futures_util::future::join_all(writes));
    assert!(ended.expect("finish"), "the owner's end is applied");
    assert!(written.iter().all(|w| *w), "every other run's writes are applied");
    let values: Vec<_> = store.checkpoints(id).await.expect("checkpoints").into_iter().map(|c| c.value).collect();
    assert_eq!(values, [json!(1), json!(2)], "the new checkpoint is written, the taken position left");
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.result, state.owner), (RunStatus::Completed, Some(json!("done")), None));
    assert_eq!(state.updated_at, at(3));
    for (i, other) in others.iter().enumerate() {
        let values: Vec<_> =
            store.checkpoints(*other).await.expect("checkpoints").into_iter().map(|c| c.value).collect();
        assert_eq!(values, [json!(i), json!(i)], "run {other} has both its checkpoints");
        let state = store.get_run(*other).await.expect("get").expect("run");
        assert_eq!((state.status, state.result), (RunStatus::Completed, Some(json!(i))));
    }
    let none = store.finish_run_after(id, "a", Vec::new(), Finish::Failed("late".to_owned()), at(4));
    assert!(!none.await.expect("finish"), "a final run ends once");
}

/// An end whose writer lost the run's lease records neither the end nor its
/// checkpoints.
async fn finish_after_of_a_fenced_out_owner_writes_nothing(store: Store) {
    let id = claimed(&store, "a").await;
    assert!(store.claim_run(id, "b", at(31), at(61)).await.expect("claim"), "b takes the run over");
    let last = vec![checkpoint(0, "s#0", json!("a"), 32)];
    assert!(!store.finish_run_after(id, "a", last, Finish::Completed(json!("a")), at(32)).await.expect("finish"));
    assert!(store.checkpoints(id).await.expect("checkpoints").is_empty(), "no checkpoint of the old owner");
    let state = store.get_run(id).await.expect("get").expect("run");
    assert_eq!((state.status, state.owner.as_deref()), (RunStatus::Running, Some("b")));
}

async fn create_runs_creates_each_and_leaves_taken_ids_alone(store: Store) {
    let taken = new_run("first", 1);
    let taken_id = taken.id;
    store.create_run(taken).await.expect("create");
    let mut again = new_run("second", 2);
    again.id = taken_id;
    let runs = vec![new_run("a", 3), again, new_run("b", 4)];
    let ids: Vec<RunId> = runs.iter().map(|r| r.id).collect();
    assert_eq!(store.create_runs(runs).await.expect("create many"), [true, false, true]);
    assert_eq!(store.get_run(taken_id).await.expect("get").expect("run").workflow, "first", "left as it was");
    for (id, workflow) in [(ids[0], "a"), (ids[2], "b")] {
        let state = store.get_run(id).await.expect("get").expect("created");
        assert_eq!(
            (state.workflow.as_str(), state.status, state.created_at),
            (workflow, RunStatus::Running, state.updated_at)
        );
    }
    assert!(store.create_runs(Vec::new()).await.expect("create none").is_empty());
}
