//! The [`LockStore`] conformance suite: the Dart project's 7 lock store cases,
//! plus the owner taking its own lock again and the claim unique tasks make.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{Case, Namespace, Report, cases, eventually, run_suite};
use crate::lock::LockStore;

type Store = Arc<dyn LockStore>;

/// Runs every lock store case against stores made by `factory`, one per case.
pub async fn lock_suite<F, Fut>(factory: F) -> Report
where
    F: Fn(Namespace) -> Fut,
    Fut: Future<Output = crate::Result<Store>>,
{
    run_suite("lock", CASES, |_, _| None, factory).await
}

const CASES: &[Case<Store>] = cases!(Store:
    owner_is_reported_while_held_and_none_after_release,
    release_by_another_owner_keeps_the_lock,
    expired_lock_can_be_taken_again,
    renew_extends_the_ttl,
    only_one_contender_acquires,
    renew_by_another_owner_is_refused,
    renew_after_expiry_fails,
    the_owner_acquiring_again_renews,
    racing_losers_see_the_winner_as_owner,
);

const LONG: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(200);
const PATIENT: Duration = Duration::from_secs(5);

async fn owner_is_reported_while_held_and_none_after_release(locks: Store) {
    assert_eq!(locks.owner("k").await.expect("owner"), None);
    assert!(locks.acquire("k", "a", LONG).await.expect("acquire"));
    assert_eq!(locks.owner("k").await.expect("owner").as_deref(), Some("a"));
    assert!(locks.release("k", "a").await.expect("release"));
    assert_eq!(locks.owner("k").await.expect("owner"), None);
    assert!(locks.acquire("k", "b", LONG).await.expect("acquire"), "free again after release");
}

async fn release_by_another_owner_keeps_the_lock(locks: Store) {
    assert!(locks.acquire("k", "a", LONG).await.expect("acquire"));
    assert!(!locks.release("k", "b").await.expect("release"));
    assert_eq!(locks.owner("k").await.expect("owner").as_deref(), Some("a"));
    assert!(!locks.acquire("k", "b", LONG).await.expect("acquire"), "still held");
}

async fn expired_lock_can_be_taken_again(locks: Store) {
    let asked = tokio::time::Instant::now();
    assert!(locks.acquire("k", "a", SHORT).await.expect("acquire"));
    let taken = locks.acquire("k", "b", LONG).await.expect("acquire");
    // Only an attempt that ended before the ttl ran out must be refused (a
    // loaded machine may take longer than the ttl between the two calls).
    if asked.elapsed() < SHORT {
        assert!(!taken, "held until the ttl");
    }
    eventually("the lock expired", PATIENT, || async { locks.acquire("k", "b", LONG).await.expect("acquire") }).await;
    assert_eq!(locks.owner("k").await.expect("owner").as_deref(), Some("b"));
}

async fn renew_extends_the_ttl(locks: Store) {
    // A first ttl long enough for the renew to come before it ends on a loaded
    // machine (the renew of an expired lock is refused, see below).
    assert!(locks.acquire("k", "a", Duration::from_millis(1000)).await.expect("acquire"));
    assert!(locks.renew("k", "a", LONG).await.expect("renew"));
    tokio::time::sleep(Duration::from_millis(1300)).await; // past the first ttl, on purpose
    assert_eq!(locks.owner("k").await.expect("owner").as_deref(), Some("a"), "the renewed lock outlived its first ttl");
    assert!(!locks.acquire("k", "b", LONG).await.expect("acquire"));
}

async fn only_one_contender_acquires(locks: Store) {
    let contenders = (0..8).map(|n| {
        let locks = Arc::clone(&locks);
        tokio::spawn(async move { locks.acquire("k", &format!("owner-{n}"), LONG).await.expect("acquire") })
    });
    let won = futures_util::future::join_all(contenders).await.into_iter().filter(|r| *r.as_ref().expect("join"));
    assert_eq!(won.count(), 1);
}

async fn renew_by_another_owner_is_refused(locks: Store) {
    assert!(locks.acquire("k", "a", LONG).await.expect("acquire"));
    assert!(!locks.renew("k", "b", LONG).await.expect("renew"));
    assert_eq!(locks.owner("k").await.expect("owner").as_deref(), Some("a"));
}

async fn renew_after_expiry_fails(locks: Store) {
    assert!(locks.acquire("k", "a", SHORT).await.expect("acquire"));
    eventually("the lock expired", PATIENT, || async { locks.owner("k").await.expect("owner").is_none() }).await;
    assert!(!locks.renew("k", "a", LONG).await.expect("renew"), "an expired lock cannot be renewed");
    assert_eq!(locks.owner("k").await.expect("owner"), None);
}

async fn the_owner_acquiring_again_renews(locks: Store) {
    assert!(locks.acquire("k", "a", Duration::from_millis(600)).await.expect("acquire"));
    assert!(locks.acquire("k", "a", LONG).await.expect("acquire again"), "the owner takes its own lock again");
    tokio::time::sleep(Duration::from_millis(900)).await; // past the first ttl, on purpose
    assert_eq!(locks.owner("k").await.expect("owner").as_deref(), Some("a"), "taking it again renewed it");
    assert!(!locks.acquire("k", "b", LONG).await.expect("acquire"), "still held against others");
}

/// What a unique task's claim relies on: of many racing producers one takes
/// the claim, and every other one reads the winner as its owner.
async fn racing_losers_see_the_winner_as_owner(locks: Store) {
    let racers = (0..8).map(|n| {
        let locks = Arc::clone(&locks);
        tokio::spawn(async move {
            let me = format!("task-{n}");
            if locks.acquire("claim", &me, LONG).await.expect("acquire") {
                (me.clone(), me)
            } else {
                (me, locks.owner("claim").await.expect("owner").expect("an owner while held"))
            }
        })
    });
    let seen: Vec<(String, String)> =
        futures_util::future::join_all(racers).await.into_iter().map(|r| r.expect("join")).collect();
    let winners: Vec<&String> = seen.iter().filter(|(me, owner)| me == owner).map(|(me, _)| me).collect();
    assert_eq!(winners.len(), 1, "one racer takes the claim: {seen:?}");
    assert!(seen.iter().all(|(_, owner)| owner == winners[0]), "every racer reads the winner: {seen:?}");
}
