//! The [`RevokeStore`] conformance suite: revokes in and out, expiry,
//! replacement, removal, pruning.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Case, Namespace, Report, cases, run_suite};
use crate::id::TaskId;
use crate::revoke::{Revoke, RevokeStore, Terminate};

type Store = Arc<dyn RevokeStore>;

/// Runs every revoke store case against stores made by `factory`, one per
/// case (each namespace must have its own revokes).
pub async fn revoke_store_suite<F, Fut>(factory: F) -> Report
where
    F: Fn(Namespace) -> Fut,
    Fut: Future<Output = crate::Result<Store>>,
{
    run_suite("revoke", CASES, |_, _| None, factory).await
}

const CASES: &[Case<Store>] = cases!(Store:
    a_put_revoke_reads_back_whole,
    an_unknown_id_is_not_revoked,
    an_expired_revoke_does_not_hold,
    live_lists_every_holding_revoke_by_id,
    a_second_revoke_of_an_id_replaces_the_first,
    removal_lets_a_task_run_again,
    prune_forgets_only_expired_revokes,
    a_batch_of_many_revokes_is_kept_whole,
);

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a time")
}

const NOW: &str = "2026-12-07T10:00:00Z";

async fn a_put_revoke_reads_back_whole(store: Store) {
    let revoke = Revoke::new(TaskId::new(), at("2026-12-08T10:00:00Z")).terminate(Terminate::Hard).reason("runaway");
    store.put(std::slice::from_ref(&revoke)).await.expect("put");
    assert_eq!(store.is_revoked(revoke.id, at(NOW)).await.expect("read"), Some(revoke));
}

async fn an_unknown_id_is_not_revoked(store: Store) {
    assert_eq!(store.is_revoked(TaskId::new(), at(NOW)).await.expect("read"), None);
}

async fn an_expired_revoke_does_not_hold(store: Store) {
    let revoke = Revoke::new(TaskId::new(), at("2026-12-07T09:59:59Z"));
    store.put(std::slice::from_ref(&revoke)).await.expect("put");
    assert_eq!(store.is_revoked(revoke.id, at(NOW)).await.expect("read"), None);
    assert!(store.live(at(NOW)).await.expect("live").is_empty());
    assert!(store.is_revoked(revoke.id, at("2026-12-07T09:00:00Z")).await.expect("read").is_some(), "it held before");
}

async fn live_lists_every_holding_revoke_by_id(store: Store) {
    let mut ids: Vec<TaskId> = (0..3).map(|_| TaskId::new()).collect();
    let revokes: Vec<Revoke> = ids.iter().map(|id| Revoke::new(*id, at("2026-12-08T00:00:00Z"))).collect();
    store.put(&revokes).await.expect("put");
    store.put(&[Revoke::new(TaskId::new(), at("2026-12-01T00:00:00Z"))]).await.expect("put an expired one");
    ids.sort();
    let live: Vec<TaskId> = store.live(at(NOW)).await.expect("live").into_iter().map(|r| r.id).collect();
    assert_eq!(live, ids);
}

async fn a_second_revoke_of_an_id_replaces_the_first(store: Store) {
    let id = TaskId::new();
    store.put(&[Revoke::new(id, at("2026-12-08T00:00:00Z"))]).await.expect("put");
    let second = Revoke::new(id, at("2026-12-09T00:00:00Z")).terminate(Terminate::Soft);
    store.put(std::slice::from_ref(&second)).await.expect("put again");
    assert_eq!(store.is_revoked(id, at(NOW)).await.expect("read"), Some(second));
    assert_eq!(store.live(at(NOW)).await.expect("live").len(), 1);
}

async fn removal_lets_a_task_run_again(store: Store) {
    let id = TaskId::new();
    store.put(&[Revoke::new(id, at("2026-12-08T00:00:00Z"))]).await.expect("put");
    assert!(store.remove(id).await.expect("remove"));
    assert!(!store.remove(id).await.expect("remove again"));
    assert_eq!(store.is_revoked(id, at(NOW)).await.expect("read"), None);
}

async fn prune_forgets_only_expired_revokes(store: Store) {
    let (old, young) = (TaskId::new(), TaskId::new());
    store
        .put(&[Revoke::new(old, at("2026-12-07T09:00:00Z")), Revoke::new(young, at("2026-12-07T11:00:00Z"))])
        .await
        .expect("put");
    assert_eq!(store.prune(at(NOW)).await.expect("prune"), 1);
    assert_eq!(store.prune(at(NOW)).await.expect("prune again"), 0);
    assert!(store.is_revoked(old, at("2026-12-07T08:00:00Z")).await.expect("read").is_none(), "forgotten");
    assert!(store.is_revoked(young, at(NOW)).await.expect("read").is_some());
}

async fn a_batch_of_many_revokes_is_kept_whole(store: Store) {
    let revokes: Vec<Revoke> = (0..500).map(|_| Revoke::new(TaskId::new(), at("2026-12-08T00:00:00Z"))).collect();
    store.put(&revokes).await.expect("put");
    assert_eq!(store.live(at(NOW)).await.expect("live").len(), 500);
    for revoke in revokes.iter().step_by(97) {
        assert!(store.is_revoked(revoke.id, at(NOW)).await.expect("read").is_some());
    }
}
