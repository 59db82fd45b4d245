//! Waiting for a short reply without letting the thread fall asleep.
//!
//! A call that waits on its reply parks its thread; on a virtual machine the
//! wake-up when the reply lands costs more than a loopback round trip itself
//! (on the 2-core VM of the benchmarks a `PING` one at a time: about 15,000 / s
//! parked, 33,000 / s not). So a short call (one enqueue, one status read)
//! first waits *busily*: it yields to the runtime, which runs every other
//! ready task and polls the network without sleeping, then looks again, for
//! at most the budget ([`RedisOptions::with_spin`](super::RedisOptions::with_spin),
//! 100 us by default); then it waits as usual.
//!
//! Spinning pays off only where replies come within the budget, so it is
//! adaptive: a call spins only if the last timed call was answered within
//! the budget. Against a Redis farther away (a round trip of a millisecond)
//! calls stop spinning after the first and cost no CPU; every call is timed,
//! so they start again if replies become quick.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// The default budget of [`Spin`].
pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);

/// How a store waits for its short calls' replies (see the module docs).
#[derive(Debug)]
pub(crate) struct Spin {
    budget: Duration,
    /// How long the last timed call took, in nanoseconds.
    last: AtomicU64,
}

impl Spin {
    /// Spins at most `budget` per call; zero never spins.
    pub(crate) fn new(budget: Duration) -> Self {
        Self { budget, last: AtomicU64::new(0) }
    }

    /// Whether the next call spins.
    fn spins(&self) -> bool {
        !self.budget.is_zero() && u128::from(self.last.load(Ordering::Relaxed)) <= self.budget.as_nanos()
    }

    /// `call`'s output, waited for busily for up to the budget when the last
    /// call was answered within it.
    pub(crate) async fn wait<F: Future>(&self, call: F) -> F::Output {
        if self.budget.is_zero() {
            return call.await;
        }
        let start = Instant::now();
        let mut call = pin!(call);
        let output = if self.spins() {
            loop {
                if let Poll::Ready(output) = poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
                    break output;
                }
                if start.elapsed() > self.budget {
                    break call.await;
                }
                // Back after every other ready task has run and the runtime
                // has polled the network (without sleeping).
                tokio::task::yield_now().await;
            }
        } else {
            call.await
        };
        let took = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.store(took, Ordering::Relaxed);
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_reply_stops_the_spinning_and_a_quick_one_restarts_it() {
        let spin = Spin::new(Duration::from_millis(5));
        assert!(spin.spins(), "spins until a call is slow");
        assert_eq!(spin.wait(tokio::time::sleep(Duration::from_millis(20))).await, ());
        assert!(!spin.spins(), "a reply later than the budget");
        assert_eq!(spin.wait(async { 7 }).await, 7);
        assert!(spin.spins(), "a quick reply");
    }

    #[tokio::test]
    async fn a_zero_budget_never_spins() {
        let spin = Spin::new(Duration::ZERO);
        assert!(!spin.spins());
        assert_eq!(spin.wait(async { 1 }).await, 1);
        assert!(!spin.spins());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn other_tasks_run_while_a_call_spins() {
        // On one thread, the call's reply comes from another task, which the
        // spinning must let run: a starved sender would only run once the
        // call gave up spinning, after the budget.
        let budget = Duration::from_secs(3);
        let spin = Spin::new(budget);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move { tx.send(5).expect("the receiver waits") });
        let start = Instant::now();
        assert_eq!(spin.wait(rx).await.expect("sent"), 5);
        assert!(start.elapsed() < budget / 2, "the sender ran while the call spun");
        assert!(spin.spins());
    }
}
