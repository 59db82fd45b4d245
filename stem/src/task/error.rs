use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// How a failed attempt continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAction {
    /// Retry after the task's backoff, if retries are left.
    Retry,
    /// Retry after this delay, if retries are left.
    RetryAfter(Duration),
    /// Do not retry: the task fails now and goes to the dead letter queue.
    Fail,
}

/// A task's failure: what happened and whether to try again.
///
/// Any `std::error::Error` converts into a `TaskError` that retries (so `?` works
/// in a task); use [`TaskError::fail`] for errors that retrying cannot fix.
/// Like `anyhow::Error`, it does not itself implement `std::error::Error`.
pub struct TaskError {
    action: RetryAction,
    kind: Cow<'static, str>,
    message: String,
}

impl TaskError {
    /// A failure to retry with the task's backoff.
    pub fn retry(message: impl fmt::Display) -> Self {
        Self { action: RetryAction::Retry, kind: Cow::Borrowed("retry"), message: message.to_string() }
    }

    /// A failure to retry after `delay`.
    pub fn retry_after(delay: Duration, message: impl fmt::Display) -> Self {
        Self { action: RetryAction::RetryAfter(delay), kind: Cow::Borrowed("retry"), message: message.to_string() }
    }

    /// A failure not to retry.
    pub fn fail(message: impl fmt::Display) -> Self {
        Self { action: RetryAction::Fail, kind: Cow::Borrowed("fail"), message: message.to_string() }
    }

    /// Sets the kind recorded with the error (an error type's name by default).
    pub fn with_kind(mut self, kind: impl Into<Cow<'static, str>>) -> Self {
        self.kind = kind.into();
        self
    }

    /// How the attempt continues.
    pub fn action(&self) -> RetryAction {
        self.action
    }

    /// The kind recorded with the error.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { action: RetryAction::Retry, kind: Cow::Borrowed(std::any::type_name::<E>()), message }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("action", &self.action)
            .field("kind", &self.kind)
            .field("message", &self.message)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_errors_retry_and_keep_their_type_and_causes() {
        let err: TaskError = "x".parse::<u32>().expect_err("not a number").into();
        assert_eq!(err.action(), RetryAction::Retry);
        assert_eq!(err.kind(), "core::num::error::ParseIntError");
        assert_eq!(err.message(), "invalid digit found in string");
    }

    #[test]
    fn constructors_set_the_action() {
        assert_eq!(TaskError::fail("no").action(), RetryAction::Fail);
        let d = Duration::from_secs(3);
        assert_eq!(TaskError::retry_after(d, "later").action(), RetryAction::RetryAfter(d));
    }
}
