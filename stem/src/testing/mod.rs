//! Conformance suites every adapter runs (feature `testing`).
//!
//! One call runs a whole suite against an adapter:
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use stem::memory::MemoryBroker;
//!
//! let report = stem::testing::broker_suite(|_ns| async { Ok(Arc::new(MemoryBroker::new()) as _) }).await;
//! report.assert_passed();
//! # }
//! ```
//!
//! The factory gets a fresh [`Namespace`] for every case, and the adapter must give
//! each namespace its own data (a file, a key prefix, a schema), so that the cases
//! run concurrently and never see or wipe each other's data. A case that needs a
//! capability the adapter does not declare (for example [`Broadcast`]) is
//! reported as skipped by name in the [`Report`], never silently passed.
//!
//! [`Broadcast`]: crate::broker::Broadcast

mod backend_suite;
mod broker_suite;
mod lock_suite;
mod rate_suite;
mod report;
mod revoke_suite;
mod schedule_suite;
mod workflow_suite;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

pub use self::backend_suite::backend_suite;
pub use self::broker_suite::broker_suite;
pub use self::lock_suite::lock_suite;
pub use self::rate_suite::rate_limiter_suite;
pub use self::report::{Outcome, Report};
pub use self::revoke_suite::revoke_store_suite;
pub use self::schedule_suite::schedule_store_suite;
pub use self::workflow_suite::workflow_store_suite;
/// The fake clock workflow tests advance instead of sleeping.
pub use crate::clock::FakeClock;

/// The longest a single case may take before it counts as failed.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where one case keeps its data, and the settings the suite asks the adapter to use.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Namespace {
    /// Unique per case and run: use it as a file name, key prefix or schema name.
    /// Only ASCII letters, digits and `_`.
    pub name: String,
    /// How long a result backend keeps final task states (and groups): short
    /// for the cases that watch them expire, a minute for the others, so that a
    /// case held up on a loaded machine never sees its data expire under it.
    pub retention: Duration,
    /// How long a broker keeps dead letters: short for the case that
    /// watches them expire, an hour for the others.
    pub dead_letter_retention: Duration,
}

/// The cases whose namespace asks for a short retention: they watch final
/// states expire.
const EXPIRING_CASES: &[&str] = &["final_states_expire_after_the_retention"];

/// The cases whose namespace asks for a short dead letter retention.
const EXPIRING_DEAD_CASES: &[&str] = &["dead_letters_expire_after_their_retention"];

impl Namespace {
    fn for_case(suite: &str, case: &str) -> Self {
        let name = format!("{suite}_{case}_{:08x}", fastrand::u32(..));
        let retention =
            if EXPIRING_CASES.contains(&case) { Duration::from_millis(600) } else { Duration::from_secs(60) };
        let dead_letter_retention =
            if EXPIRING_DEAD_CASES.contains(&case) { Duration::from_millis(600) } else { Duration::from_secs(3600) };
        Self { name, retention, dead_letter_retention }
    }
}

/// One named case: what it needs and how to run it on a store.
struct Case<S> {
    name: &'static str,
    run: fn(S) -> BoxFuture<'static, ()>,
}

/// Why a store cannot run a case, when it lacks a capability the case needs.
type Skip<S> = fn(&S, &'static str) -> Option<&'static str>;

/// Runs every case concurrently, each on a store made for its own namespace.
async fn run_suite<S, F, Fut>(suite: &'static str, cases: &[Case<S>], skip: Skip<S>, factory: F) -> Report
where
    S: Send + 'static,
    F: Fn(Namespace) -> Fut,
    Fut: Future<Output = crate::Result<S>>,
{
    let runs = cases.iter().map(|case| {
        let ns = Namespace::for_case(suite, case.name);
        let store = factory(ns.clone());
        async move {
            let outcome = match store.await {
                Err(error) => Outcome::Failed(format!("the factory failed for namespace `{}`: {error}", ns.name)),
                Ok(store) => match skip(&store, case.name) {
                    Some(reason) => Outcome::Skipped(reason.to_owned()),
                    None => run_case(case, store).await,
                },
            };
            (case.name, outcome)
        }
    });
    Report::new(suite, futures_util::future::join_all(runs).await)
}

async fn run_case<S: Send + 'static>(case: &Case<S>, store: S) -> Outcome {
    // Spawned, so that a slow case cannot starve the others and a panic stays in its task.
    let mut task = tokio::spawn(AssertUnwindSafe((case.run)(store)).catch_unwind());
    match tokio::time::timeout(CASE_TIMEOUT, &mut task).await {
        Err(_) => {
            task.abort();
            Outcome::Failed(format!("did not finish within {CASE_TIMEOUT:?}"))
        }
        Ok(Err(join)) => Outcome::Failed(format!("the case's task failed: {join}")),
        Ok(Ok(Err(panic))) => Outcome::Failed(crate::panic::message(&*panic)),
        Ok(Ok(Ok(()))) => Outcome::Passed,
    }
}

/// Polls `check` until it is true or `within` has passed; for outcomes that
/// depend on a clock (expiry), not on another task's progress.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: still not true after {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Declares a case list from async fns taking the store.
macro_rules! cases {
    ($store:ty: $($name:ident),* $(,)?) => {
        &[$($crate::testing::Case::<$store> { name: stringify!($name), run: |s| Box::pin($name(s)) }),*]
    };
}
use cases;
