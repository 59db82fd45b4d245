//! How a command fails: a message for stderr and the exit code, 64 for a
//! usage mistake or invalid input (nothing was done), 1 for a failure.

use std::fmt;
use std::process::ExitCode;

/// A failed command.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

/// What a command returns.
pub(crate) type Outcome<T = ()> = Result<T, Failure>;

/// The exit code of a usage mistake or invalid input, as `sysexits.h` names it.
pub(crate) const USAGE: u8 = 64;

impl Failure {
    /// A usage mistake or invalid input: exit 64, and nothing was done.
    pub(crate) fn usage(message: impl fmt::Display) -> Self {
        Self { code: USAGE, message: message.to_string() }
    }

    /// A failure: exit 1.
    pub(crate) fn failed(message: impl fmt::Display) -> Self {
        Self { code: 1, message: message.to_string() }
    }

    /// Prints `error: ...` to stderr and gives the exit code.
    pub(crate) fn report(self) -> ExitCode {
        if !self.message.is_empty() {
            eprintln!("error: {}", self.message);
        }
        ExitCode::from(self.code)
    }

    /// The same failure, its message prefixed with what was being done.
    pub(crate) fn context(self, doing: impl fmt::Display) -> Self {
        Self { code: self.code, message: format!("{doing}: {}", self.message) }
    }

    /// The same failure with the password of `url` taken out of its message.
    pub(crate) fn scrubbed(self, url: &str) -> Self {
        Self { code: self.code, message: stem_adapters::scrub_secrets(&self.message, url) }
    }

    /// The exit code alone, the message already printed (clap's own errors).
    pub(crate) fn silent(code: u8) -> Self {
        Self { code, message: String::new() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<stem::Error> for Failure {
    /// Stem's errors about the caller's input are usage mistakes; the rest
    /// are failures.
    fn from(error: stem::Error) -> Self {
        match &error {
            stem::Error::Args { .. } | stem::Error::Config(_) => Self::usage(error),
            _ => Self::failed(error),
        }
    }
}
