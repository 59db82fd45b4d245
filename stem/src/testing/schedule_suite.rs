//! The [`ScheduleStore`] conformance suite: entries in and out, due
//! listing, claims (one winner among racers), enable / disable, last run
//! and last error, removal, time zones.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Case, Namespace, Report, cases, run_suite};
use crate::beat::{CatchUp, Claim, Fired, Schedule, ScheduleEntry, ScheduleStore};

type Store = Arc<dyn ScheduleStore>;

/// Runs every schedule store case against stores made by `factory`, one per
/// case (each namespace must have its own schedules).
pub async fn schedule_store_suite<F, Fut>(factory: F) -> Report
where
    F: Fn(Namespace) -> Fut,
    Fut: Future<Output = crate::Result<Store>>,
{
    run_suite("schedule", CASES, |_, _| None, factory).await
}

const CASES: &[Case<Store>] = cases!(Store:
    a_put_entry_reads_back_whole,
    an_unknown_id_reads_as_none,
    list_gives_every_entry_by_id,
    putting_again_updates_the_definition_and_moves_the_next_fire,
    putting_again_keeps_the_counts,
    due_lists_enabled_entries_at_or_before_now_earliest_first,
    due_takes_at_most_the_limit,
    an_entry_with_no_next_fire_is_never_due,
    a_claim_moves_the_next_fire_and_counts,
    a_stale_claim_loses,
    exactly_one_of_racing_schedulers_claims_a_fire,
    claims_in_one_call_win_or_lose_on_their_own,
    disabled_entries_are_not_due_and_cannot_be_claimed,
    enabling_sets_the_next_fire,
    enabling_an_unknown_id_is_false,
    the_last_drift_and_error_are_recorded_and_cleared,
    removal_deletes_and_says_so,
    a_removed_entry_cannot_be_claimed,
    a_time_zone_survives_the_round_trip,
);

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a time")
}

/// An entry `id` firing every minute, next at `next`.
fn entry(id: &str, next: &str) -> ScheduleEntry {
    let mut e =
        ScheduleEntry::of_task(id, "report", serde_json::json!({"n": 1}), "every 1m".parse().expect("schedule"));
    e.next_fire = Some(at(next));
    e
}

fn claim(id: &str, fire: &str, next: Option<&str>) -> Claim {
    Claim { id: id.to_owned(), fire: at(fire), last: at(fire), next: next.map(at), enqueued: 1, skipped: 0 }
}

async fn get(store: &Store, id: &str) -> ScheduleEntry {
    store.get(id).await.expect("get").expect("the entry")
}

async fn a_put_entry_reads_back_whole(store: Store) {
    let mut e = entry("full", "2026-12-07T10:00:00Z")
        .jitter(Duration::from_millis(1500))
        .catching_up(Duration::from_secs(300), CatchUp::All);
    e.queue = Some("reports".to_owned());
    e.priority = Some(7);
    e.headers.insert("tenant".to_owned(), "acme".to_owned());
    e.start = Some(at("2026-01-01T00:00:00Z"));
    e.end = Some(at("2027-01-01T00:00:00Z"));
    store.put(&e).await.expect("put");
    assert_eq!(get(&store, "full").await, e);
}

async fn an_unknown_id_reads_as_none(store: Store) {
    assert_eq!(store.get("nothing").await.expect("get"), None);
}

async fn list_gives_every_entry_by_id(store: Store) {
    for id in ["b", "c", "a"] {
        store.put(&entry(id, "2026-12-07T10:00:00Z")).await.expect("put");
    }
    let ids: Vec<String> = store.list().await.expect("list").into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

async fn putting_again_updates_the_definition_and_moves_the_next_fire(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z")).await.expect("put");
    let mut changed = entry("e", "2026-12-08T08:00:00Z");
    changed.schedule = "cron: 0 8 * * * Europe/Paris".parse().expect("schedule");
    changed.args = serde_json::json!({"n": 2});
    store.put(&changed).await.expect("put again");
    let read = get(&store, "e").await;
    assert_eq!((read.schedule, read.args, read.next_fire), (changed.schedule, changed.args, changed.next_fire));
    assert!(store.due(at("2026-12-07T12:00:00Z"), 10).await.expect("due").is_empty(), "the old fire is gone");
    assert_eq!(store.due(at("2026-12-08T08:00:00Z"), 10).await.expect("due").len(), 1);
}

async fn putting_again_keeps_the_counts(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z")).await.expect("put");
    assert_eq!(
        store.claim(&[claim("e", "2026-12-07T10:00:00Z", Some("2026-12-07T10:01:00Z"))]).await.expect("claim"),
        [true]
    );
    store.put(&entry("e", "2026-12-07T11:00:00Z")).await.expect("put again");
    let read = get(&store, "e").await;
    assert_eq!((read.runs, read.last_fire), (1, Some(at("2026-12-07T10:00:00Z"))));
}

async fn due_lists_enabled_entries_at_or_before_now_earliest_first(store: Store) {
    store.put(&entry("late", "2026-12-07T10:02:00Z")).await.expect("put");
    store.put(&entry("early", "2026-12-07T10:00:00Z")).await.expect("put");
    store.put(&entry("exact", "2026-12-07T10:01:00Z")).await.expect("put");
    store.put(&entry("future", "2026-12-07T10:05:00Z")).await.expect("put");
    let due: Vec<String> =
        store.due(at("2026-12-07T10:02:00Z"), 10).await.expect("due").into_iter().map(|e| e.id).collect();
    assert_eq!(due, ["early", "exact", "late"]);
}

async fn due_takes_at_most_the_limit(store: Store) {
    for n in 0..5 {
        store.put(&entry(&format!("e{n}"), &format!("2026-12-07T10:0{n}:00Z"))).await.expect("put");
    }
    let due: Vec<String> =
        store.due(at("2026-12-07T11:00:00Z"), 2).await.expect("due").into_iter().map(|e| e.id).collect();
    assert_eq!(due, ["e0", "e1"]);
}

async fn an_entry_with_no_next_fire_is_never_due(store: Store) {
    let mut done = entry("done", "2026-12-07T10:00:00Z");
    done.next_fire = None;
    store.put(&done).await.expect("put");
    assert!(store.due(at("2099-01-01T00:00:00Z"), 10).await.expect("due").is_empty());
    assert_eq!(get(&store, "done").await.next_fire, None);
}

async fn a_claim_moves_the_next_fire_and_counts(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z")).await.expect("put");
    let mut c = claim("e", "2026-12-07T10:00:00Z", Some("2026-12-07T10:03:00Z"));
    c.last = at("2026-12-07T10:02:00Z");
    c.enqueued = 2;
    c.skipped = 1;
    assert_eq!(store.claim(&[c]).await.expect("claim"), [true]);
    let read = get(&store, "e").await;
    assert_eq!(read.next_fire, Some(at("2026-12-07T10:03:00Z")));
    assert_eq!(
        (read.last_fire, read.runs, read.skipped),
        (Some(at("2026-12-07T10:02:00Z")), 2, 1),
        "the latest fire covered"
    );
    assert!(store.due(at("2026-12-07T10:02:00Z"), 10).await.expect("due").is_empty());
}

async fn a_stale_claim_loses(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z")).await.expect("put");
    assert_eq!(
        store.claim(&[claim("e", "2026-12-07T10:00:00Z", Some("2026-12-07T10:01:00Z"))]).await.expect("claim"),
        [true]
    );
    assert_eq!(
        store.claim(&[claim("e", "2026-12-07T10:00:00Z", Some("2026-12-07T10:01:00Z"))]).await.expect("claim"),
        [false],
        "the same fire again"
    );
    let read = get(&store, "e").await;
    assert_eq!((read.runs, read.next_fire), (1, Some(at("2026-12-07T10:01:00Z"))));
}

async fn exactly_one_of_racing_schedulers_claims_a_fire(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z")).await.expect("put");
    let racers = (0..8).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store.claim(&[claim("e", "2026-12-07T10:00:00Z", Some("2026-12-07T10:01:00Z"))]).await.expect("claim")[0]
        })
    });
    let won = futures_util::future::join_all(racers).await.into_iter().filter(|r| *r.as_ref().expect("join")).count();
    assert_eq!(won, 1);
    assert_eq!(get(&store, "e").await.runs, 1);
}

async fn claims_in_one_call_win_or_lose_on_their_own(store: Store) {
    store.put(&entry("a", "2026-12-07T10:00:00Z")).await.expect("put");
    store.put(&entry("b", "2026-12-07T10:00:00Z")).await.expect("put");
    let claims = [
        claim("a", "2026-12-07T09:59:00Z", Some("2026-12-07T10:01:00Z")),
        claim("b", "2026-12-07T10:00:00Z", Some("2026-12-07T10:01:00Z")),
        claim("missing", "2026-12-07T10:00:00Z", None),
    ];
    assert_eq!(store.claim(&claims).await.expect("claim"), [false, true, false]);
    assert_eq!(get(&store, "a").await.next_fire, Some(at("2026-12-07T10:00:00Z")), "the stale claim changed nothing");
}

async fn disabled_entries_are_not_due_and_cannot_be_claimed(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z").enabled(false)).await.expect("put");
    assert!(store.due(at("2026-12-07T11:00:00Z"), 10).await.expect("due").is_empty());
    assert_eq!(store.claim(&[claim("e", "2026-12-07T10:00:00Z", None)]).await.expect("claim"), [false]);
    store.put(&entry("f", "2026-12-07T10:00:00Z")).await.expect("put");
    assert!(store.set_enabled("f", false, Some(at("2026-12-07T10:00:00Z"))).await.expect("disable"));
    assert!(store.due(at("2026-12-07T11:00:00Z"), 10).await.expect("due").is_empty());
    assert!(!get(&store, "f").await.enabled);
}

async fn enabling_sets_the_next_fire(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z").enabled(false)).await.expect("put");
    assert!(store.set_enabled("e", true, Some(at("2026-12-07T12:00:00Z"))).await.expect("enable"));
    let read = get(&store, "e").await;
    assert_eq!((read.enabled, read.next_fire), (true, Some(at("2026-12-07T12:00:00Z"))));
    assert_eq!(store.due(at("2026-12-07T12:00:00Z"), 10).await.expect("due").len(), 1);
}

async fn enabling_an_unknown_id_is_false(store: Store) {
    assert!(!store.set_enabled("nothing", true, None).await.expect("enable"));
    assert_eq!(store.get("nothing").await.expect("get"), None, "nothing was made");
}

async fn the_last_drift_and_error_are_recorded_and_cleared(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z")).await.expect("put");
    let fired = |error: Option<&str>, drift_ms| Fired {
        id: "e".to_owned(),
        fire: at("2026-12-07T10:00:00Z"),
        drift_ms,
        error: error.map(str::to_owned),
    };
    store.record(&[fired(Some("task `report` is not linked"), 12)]).await.expect("record");
    let read = get(&store, "e").await;
    assert_eq!((read.last_drift_ms, read.last_error.as_deref()), (Some(12), Some("task `report` is not linked")));
    store.record(&[fired(None, 3), Fired { id: "unknown".to_owned(), ..fired(None, 1) }]).await.expect("record");
    let read = get(&store, "e").await;
    assert_eq!((read.last_drift_ms, read.last_error), (Some(3), None));
}

async fn removal_deletes_and_says_so(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z")).await.expect("put");
    assert!(store.remove("e").await.expect("remove"));
    assert!(!store.remove("e").await.expect("remove again"));
    assert_eq!(store.get("e").await.expect("get"), None);
    assert!(store.due(at("2026-12-07T11:00:00Z"), 10).await.expect("due").is_empty());
}

async fn a_removed_entry_cannot_be_claimed(store: Store) {
    store.put(&entry("e", "2026-12-07T10:00:00Z")).await.expect("put");
    store.remove("e").await.expect("remove");
    assert_eq!(store.claim(&[claim("e", "2026-12-07T10:00:00Z", None)]).await.expect("claim"), [false]);
    assert_eq!(store.get("e").await.expect("get"), None, "the claim made nothing");
}

async fn a_time_zone_survives_the_round_trip(store: Store) {
    let schedule: Schedule = "cron: 30 2 * * * Europe/Paris".parse().expect("schedule");
    let mut e = ScheduleEntry::of_task("paris", "report", serde_json::json!(null), schedule);
    e.next_fire = Some(at("2026-03-28T12:00:00Z"));
    store.put(&e).await.expect("put");
    let read = get(&store, "paris").await;
    // 02:30 does not exist in Paris on 2026-03-29: it fires when the clocks jump.
    assert_eq!(read.fire_after(at("2026-03-28T12:00:00Z")), Some(at("2026-03-29T01:00:00Z")));
    assert_eq!(read.fire_after(at("2026-07-01T12:00:00Z")), Some(at("2026-07-02T00:30:00Z")));
}
