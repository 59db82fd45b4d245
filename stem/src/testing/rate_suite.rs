//! The [`RateLimiter`] conformance suite: slots of one schedule, bursts,
//! keys, racing callers, idle keys and the extremes of an interval.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{Case, Namespace, Report, cases, run_suite};
use crate::rate::RateLimiter;

type Store = Arc<dyn RateLimiter>;

/// Runs every rate limiter case against limiters made by `factory`, one per
/// case (each namespace must have its own schedules).
pub async fn rate_limiter_suite<F, Fut>(factory: F) -> Report
where
    F: Fn(Namespace) -> Fut,
    Fut: Future<Output = crate::Result<Store>>,
{
    run_suite("rate", CASES, |_, _| None, factory).await
}

const CASES: &[Case<Store>] = cases!(Store:
    a_new_key_starts_now,
    the_next_slot_waits_one_interval,
    slots_follow_one_interval_apart,
    a_burst_starts_at_once,
    keys_keep_their_own_schedules,
    racing_callers_get_distinct_slots,
    an_idle_key_starts_now_again,
    odd_keys_are_kept_apart,
    a_long_interval_does_not_overflow,
    sub_millisecond_intervals_keep_their_precision,
);

const TEN_S: Duration = Duration::from_secs(10);

/// How much time the calls of a case may take between them on a loaded
/// machine (a wait is shorter by the time that passed since the schedule moved).
const SLACK: Duration = Duration::from_secs(2);

async fn reserve(rates: &Store, key: &str, interval: Duration, burst: u32) -> Duration {
    rates.reserve(key, interval, burst).await.expect("reserve")
}

/// Asserts that `wait` is `expected`, or less by at most [`SLACK`].
fn about(wait: Duration, expected: Duration, what: &str) {
    assert!(
        wait <= expected && wait + SLACK >= expected,
        "{what}: waits {wait:?}, expected {expected:?} (or up to {SLACK:?} less)"
    );
}

async fn a_new_key_starts_now(rates: Store) {
    assert_eq!(reserve(&rates, "k", TEN_S, 1).await, Duration::ZERO);
}

async fn the_next_slot_waits_one_interval(rates: Store) {
    assert_eq!(reserve(&rates, "k", TEN_S, 1).await, Duration::ZERO);
    about(reserve(&rates, "k", TEN_S, 1).await, TEN_S, "the second slot");
}

async fn slots_follow_one_interval_apart(rates: Store) {
    for n in 0..5u32 {
        about(reserve(&rates, "k", TEN_S, 1).await, TEN_S * n, &format!("slot {n}"));
    }
}

async fn a_burst_starts_at_once(rates: Store) {
    for n in 0..3 {
        assert_eq!(reserve(&rates, "k", TEN_S, 3).await, Duration::ZERO, "slot {n} of a burst of 3");
    }
    about(reserve(&rates, "k", TEN_S, 3).await, TEN_S, "the slot after the burst");
}

async fn keys_keep_their_own_schedules(rates: Store) {
    assert_eq!(reserve(&rates, "a", TEN_S, 1).await, Duration::ZERO);
    about(reserve(&rates, "a", TEN_S, 1).await, TEN_S, "a's second slot");
    assert_eq!(reserve(&rates, "b", TEN_S, 1).await, Duration::ZERO, "b has a schedule of its own");
    assert_eq!(reserve(&rates, "a:b", TEN_S, 1).await, Duration::ZERO, "so has a:b");
}

async fn racing_callers_get_distinct_slots(rates: Store) {
    let callers = (0..20).map(|_| {
        let rates = Arc::clone(&rates);
        tokio::spawn(async move { reserve(&rates, "k", TEN_S, 1).await })
    });
    let mut waits: Vec<Duration> =
        futures_util::future::join_all(callers).await.into_iter().map(|r| r.expect("join")).collect();
    waits.sort();
    for (n, wait) in (0u32..).zip(&waits) {
        about(*wait, TEN_S * n, &format!("the slot of racer {n} in order"));
    }
}

async fn an_idle_key_starts_now_again(rates: Store) {
    let interval = Duration::from_millis(200);
    assert_eq!(reserve(&rates, "k", interval, 1).await, Duration::ZERO);
    assert!(reserve(&rates, "k", interval, 1).await > Duration::ZERO, "the second slot is ahead");
    tokio::time::sleep(interval * 3).await; // past the schedule, on purpose
    assert_eq!(reserve(&rates, "k", interval, 1).await, Duration::ZERO, "an idle schedule starts now");
}

async fn odd_keys_are_kept_apart(rates: Store) {
    let long = "é/ :{}*?\"'\\".repeat(40);
    for key in [long.as_str(), "task:tenant with spaces", "task:tenant with spaces ", ""] {
        assert_eq!(reserve(&rates, key, TEN_S, 1).await, Duration::ZERO, "{key:?} starts now");
    }
    about(reserve(&rates, &long, TEN_S, 1).await, TEN_S, "the long key's second slot");
}

async fn a_long_interval_does_not_overflow(rates: Store) {
    let day = Duration::from_secs(86_400);
    assert_eq!(reserve(&rates, "k", day, 1).await, Duration::ZERO);
    about(reserve(&rates, "k", day, 1).await, day, "a day later");
    about(reserve(&rates, "k", day, 1).await, day * 2, "two days later");
}

async fn sub_millisecond_intervals_keep_their_precision(rates: Store) {
    let interval = Duration::from_micros(100);
    let mut total = Duration::ZERO;
    for _ in 0..10 {
        total = reserve(&rates, "k", interval, 1).await;
    }
    // Ten slots 100 us apart end 0.9 ms after the first: never more.
    assert!(total <= Duration::from_micros(900), "the tenth slot waits {total:?}");
}
