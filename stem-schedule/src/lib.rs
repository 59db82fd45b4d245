//! When Stem's Beat schedules fire, written as one line of text: shared by
//! the runtime (`stem::beat`) and the `#[stem::task(schedule = "...")]`
//! macro, which refuses a schedule that does not parse at compile time.
//!
//! | text | fires |
//! |---|---|
//! | `every 30s` (`every 1h30m from 2026-01-01T00:00:00Z`) | every interval, from its start (or from an anchor the caller gives) |
//! | `cron: 0 8 * * 1-5 Europe/Paris` | at the cron expression's times, in the zone (UTC if none; see [`Spec`] for the fields and daylight saving) |
//! | `at: 2026-12-24T18:00:00Z` | once, at that instant (a clocked schedule) |
//! | `solar: sunrise 48.8566 2.3522` | at a solar event at a latitude and longitude (see [`solar`]) |

mod cron;
pub mod solar;
mod spec;

pub use self::spec::Spec;
/// The time zones schedules name (IANA, from `chrono-tz`).
pub use chrono_tz::Tz;
