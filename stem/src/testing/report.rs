//! What a conformance suite found.

use std::fmt;

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The adapter behaved as the contract says.
    Passed,
    /// The adapter lacks a capability the case needs; the reason names it.
    Skipped(String),
    /// The adapter broke the contract; the message says how.
    Failed(String),
}

/// The outcome of every case of one suite run, in the suite's order.
#[derive(Debug, Clone)]
pub struct Report {
    /// The suite's name: `broker`, `backend` or `lock`.
    pub suite: &'static str,
    /// Each case's name and outcome.
    pub cases: Vec<(&'static str, Outcome)>,
}

impl Report {
    pub(super) fn new(suite: &'static str, cases: Vec<(&'static str, Outcome)>) -> Self {
        Self { suite, cases }
    }

    /// The names of the skipped cases.
    pub fn skipped(&self) -> Vec<&'static str> {
        self.cases.iter().filter(|(_, o)| matches!(o, Outcome::Skipped(_))).map(|(n, _)| *n).collect()
    }

    /// The names of the failed cases.
    pub fn failed(&self) -> Vec<&'static str> {
        self.cases.iter().filter(|(_, o)| matches!(o, Outcome::Failed(_))).map(|(n, _)| *n).collect()
    }

    /// Prints the report to stderr and panics if any case failed. Skipped cases
    /// are listed by name with their reason.
    #[track_caller]
    pub fn assert_passed(&self) {
        eprintln!("{self}");
        let failed = self.failed();
        assert!(
            failed.is_empty(),
            "{} conformance: {} case(s) failed: {}",
            self.suite,
            failed.len(),
            failed.join(", ")
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |want: fn(&Outcome) -> bool| self.cases.iter().filter(|(_, o)| want(o)).count();
        writeln!(
            f,
            "{} conformance: {} passed, {} skipped, {} failed",
            self.suite,
            count(|o| *o == Outcome::Passed),
            count(|o| matches!(o, Outcome::Skipped(_))),
            count(|o| matches!(o, Outcome::Failed(_))),
        )?;
        for (name, outcome) in &self.cases {
            match outcome {
                Outcome::Passed => writeln!(f, "  ok      {name}")?,
                Outcome::Skipped(why) => writeln!(f, "  SKIPPED {name}: {why}")?,
                Outcome::Failed(why) => writeln!(f, "  FAILED  {name}: {why}")?,
            }
        }
        Ok(())
    }
}
