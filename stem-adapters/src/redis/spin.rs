//! Waiting for a short reply without letting the thread fall asleep.
//!
//! A call that waits on its reply parks its thread; on a virtual machine the
//! wake-up when the reply lands costs more than a loopback round trip itself
//! (on the 2-core VM of the benchmarks, `PING`s one at a time from Python:
//! about 15,000 / s with a blocking socket, 46,000 / s polling one). So a
//! short call (a one-message publish, a status read) first waits *busily*:
//! it yields to the runtime and looks again, until the reply is there or the
//! budget ([`RedisOptions::with_spin`](super::RedisOptions::with_spin), 100 us
//! by default) is spent; then it waits as usual.
//!
//! What a yield does depends on the runtime. On a current-thread runtime the
//! thread runs every other ready task, then polls for I/O without sleeping.
//! On the multi-thread runtime it runs the other ready tasks of its worker,
//! and the runtime keeps another worker awake to poll for I/O (each round
//! wakes an idle worker to look for work): two threads stay busy while the
//! call waits, which is where the speed comes from on this VM, and what it
//! costs. Outside a runtime's workers (the thread blocked in `block_on`) the
//! call polls its reply in a loop. Every way, a call spins at most the budget.
//!
//! Spinning pays off only where replies come within the budget, so it is
//! adaptive: a call spins if the last timed call was answered within the
//! budget, and otherwise one call in [`PROBE_EVERY`] spins, to notice when
//! replies are quick again. Against a Redis farther away (a round trip of a
//! millisecond) calls stop spinning after the first and cost almost no CPU.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// The default spin budget of a short call (see
/// [`RedisOptions::with_spin`](super::RedisOptions::with_spin)).
pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);

/// The longest spin budget: spinning longer only burns CPU.
pub const MAX_SPIN: Duration = Duration::from_millis(10);

/// While replies are slower than the budget, one call in this many spins.
const PROBE_EVERY: u64 = 32;

/// How a store waits for its short calls' replies (see the module docs).
#[derive(Debug)]
pub(crate) struct Spin {
    budget: Duration,
    /// How long the last timed call took, in nanoseconds.
    last: AtomicU64,
    /// Calls so far, for the probes.
    calls: AtomicU64,
}

impl Spin {
    /// Spins at most `budget` per call (at most [`MAX_SPIN`]); zero never spins.
    pub(crate) fn new(budget: Duration) -> Self {
        Self { budget: budget.min(MAX_SPIN), last: AtomicU64::new(0), calls: AtomicU64::new(0) }
    }

    /// Whether the last timed call was answered within the budget.
    fn last_was_quick(&self) -> bool {
        u128::from(self.last.load(Ordering::Relaxed)) <= self.budget.as_nanos()
    }

    /// `call`'s output, waited for busily for up to the budget when the last
    /// call was answered within it (or this call is a probe).
    pub(crate) async fn wait<F: Future>(&self, call: F) -> F::Output {
        if self.budget.is_zero() {
            return call.await;
        }
        let probe = self.calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(PROBE_EVERY);
        if !probe && !self.last_was_quick() {
            let start = Instant::now();
            let output = call.await;
            self.timed(start);
            return output;
        }
        let start = Instant::now();
        let mut call = pin!(call);
        let output = loop {
            if let Poll::Ready(output) = poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
                break output;
            }
            tokio::task::yield_now().await;
            if start.elapsed() > self.budget {
                break call.await;
            }
        };
        self.timed(start);
        output
    }

    fn timed(&self, start: Instant) {
        let took = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.store(took, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Context;

    use super::*;

    /// Ready once `at` has passed, found only by being polled: it never
    /// arranges to be woken. Counts its polls.
    struct ReadyAt {
        at: Instant,
        polls: Arc<AtomicUsize>,
    }

    impl Future for ReadyAt {
        type Output = ();

        fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            if Instant::now() >= self.at { Poll::Ready(()) } else { Poll::Pending }
        }
    }

    /// How long `spin` takes to find a reply that is there after `delay`
    /// and that nothing announces, and how often it looked. Only a spinning
    /// call finds it before the timeout of 300 ms, whose timer is otherwise
    /// what polls it again.
    async fn find_silent(spin: &Spin, delay: Duration) -> (Duration, usize) {
        let polls = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let silent = ReadyAt { at: start + delay, polls: Arc::clone(&polls) };
        let _ = tokio::time::timeout(Duration::from_millis(300), spin.wait(silent)).await;
        (start.elapsed(), polls.load(Ordering::Relaxed))
    }

    async fn finds_a_silent_reply() {
        let spin = Spin::new(Duration::from_millis(200));
        let (took, polls) = find_silent(&spin, Duration::from_millis(5)).await;
        assert!(took < Duration::from_millis(150), "found by spinning, not by the timeout's poll ({took:?})");
        assert!(polls > 2, "polled again and again ({polls})");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_spinning_call_finds_a_silent_reply_on_one_thread() {
        finds_a_silent_reply().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_spinning_call_finds_a_silent_reply_on_workers() {
        // The body of a multi-thread test runs outside the workers: spawned.
        tokio::spawn(finds_a_silent_reply()).await.expect("the test task");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_stops_spinning_at_the_budget() {
        let spin = Spin::new(Duration::from_millis(20));
        let polls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let counted = {
            let polls = Arc::clone(&polls);
            let mut rx = rx;
            poll_fn(move |cx| {
                polls.fetch_add(1, Ordering::Relaxed);
                std::pin::Pin::new(&mut rx).poll(cx)
            })
        };
        let watched = Arc::clone(&polls);
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let after_budget = watched.load(Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(()).expect("the call waits");
            after_budget
        });
        spin.wait(counted).await.expect("sent");
        let after_budget = sender.await.expect("the sender");
        let all = polls.load(Ordering::Relaxed);
        assert!(after_budget > 2, "spun before the budget ran out ({after_budget} polls)");
        assert!(all <= after_budget + 1, "only the wake-up polled it after the budget ({all} against {after_budget})");
        assert!(!spin.last_was_quick(), "a reply later than the budget");
    }

    #[tokio::test]
    async fn a_slow_reply_stops_the_spinning_but_for_probes_and_a_quick_one_restarts_it() {
        let spin = Spin::new(Duration::from_millis(5));
        assert!(spin.last_was_quick(), "spins until a call is slow");
        spin.wait(tokio::time::sleep(Duration::from_millis(20))).await;
        assert!(!spin.last_was_quick(), "a reply later than the budget");
        let (took, _) = find_silent(&spin, Duration::from_millis(1)).await;
        assert!(took >= Duration::from_millis(300), "the next call does not spin ({took:?})");
        // One call in PROBE_EVERY spins all the same.
        while !spin.calls.load(Ordering::Relaxed).is_multiple_of(PROBE_EVERY) {
            spin.wait(tokio::time::sleep(Duration::from_millis(6))).await;
        }
        let (took, _) = find_silent(&spin, Duration::from_millis(1)).await;
        assert!(took < Duration::from_millis(150), "a probe spins ({took:?})");
        assert!(spin.last_was_quick(), "and its quick reply restarts the spinning");
        let (took, _) = find_silent(&spin, Duration::from_millis(1)).await;
        assert!(took < Duration::from_millis(150), "spinning again ({took:?})");
    }

    #[tokio::test]
    async fn a_zero_budget_never_spins_and_a_huge_one_is_capped() {
        let spin = Spin::new(Duration::ZERO);
        for _ in 0..2 {
            let (took, _) = find_silent(&spin, Duration::from_millis(1)).await;
            assert!(took >= Duration::from_millis(300), "never spins ({took:?})");
        }
        assert_eq!(Spin::new(Duration::from_secs(60)).budget, MAX_SPIN);
    }
}
