//! The errors of workflow fns and their steps.

use std::fmt;

/// Why a workflow run failed; the error type of a `#[stem::workflow]` fn.
///
/// Any `std::error::Error` converts into it (so `?` works), and so do
/// [`StepError`]s. Like `anyhow::Error`, it does not itself implement
/// `std::error::Error`.
pub struct WorkflowError {
    kind: &'static str,
    message: String,
}

impl WorkflowError {
    /// A failure with this message.
    pub fn fail(message: impl fmt::Display) -> Self {
        Self { kind: "failed", message: message.to_string() }
    }

    pub(crate) fn with_kind(kind: &'static str, message: impl fmt::Display) -> Self {
        Self { kind, message: message.to_string() }
    }

    /// What failed: `failed` (the fn's own), `step`, `task`, `event`, `codec`.
    pub fn kind(&self) -> &str {
        self.kind
    }

    /// The message, as recorded with the run.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for WorkflowError {
    fn from(error: E) -> Self {
        Self::fail(chain(&error))
    }
}

impl From<StepError> for WorkflowError {
    fn from(error: StepError) -> Self {
        Self::with_kind("step", error.message)
    }
}

impl fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowError").field("kind", &self.kind).field("message", &self.message).finish()
    }
}

/// Why a step failed, and whether trying it again may help; the error type of
/// a `#[stem::step]` fn.
///
/// Any `std::error::Error` converts into a `StepError` that retries; use
/// [`StepError::fail`] for errors that retrying cannot fix.
pub struct StepError {
    retry: bool,
    message: String,
}

impl StepError {
    /// A failure worth retrying (with the step's policy).
    pub fn retry(message: impl fmt::Display) -> Self {
        Self { retry: true, message: message.to_string() }
    }

    /// A failure not to retry.
    pub fn fail(message: impl fmt::Display) -> Self {
        Self { retry: false, message: message.to_string() }
    }

    /// Whether it may be retried.
    pub fn is_retryable(&self) -> bool {
        self.retry
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error, its message prefixed with the step's id.
    pub(crate) fn in_step(self, step: &str, attempts: u32) -> Self {
        let tries = if attempts == 1 { "1 attempt".to_owned() } else { format!("{attempts} attempts") };
        Self { retry: false, message: format!("step `{step}` failed after {tries}: {}", self.message) }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for StepError {
    fn from(error: E) -> Self {
        Self::retry(chain(&error))
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepError").field("retry", &self.retry).field("message", &self.message).finish()
    }
}

/// An error's message followed by its causes.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
