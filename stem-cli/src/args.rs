//! Typed arguments from a subcommand's matches.

use clap::{ArgMatches, FromArgMatches};

use crate::error::{Failure, Outcome};

/// A subcommand's matches as `T`, which clap guarantees for a defined
/// subcommand; a usage failure otherwise.
pub(crate) fn parse<T: FromArgMatches>(matches: &ArgMatches) -> Outcome<T> {
    T::from_arg_matches(matches).map_err(Failure::usage)
}
