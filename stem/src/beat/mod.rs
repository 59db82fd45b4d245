//! Beat: periodic schedules, kept in the store and fired by any number of
//! schedulers.
//!
//! A [`ScheduleEntry`] names a task call and a [`Schedule`] (an interval, a
//! cron expression in a time zone, a clocked instant or a solar event). A
//! [`Scheduler`] (in a worker with `worker --beat`, or alone with `beat`)
//! reads due fires from the [`ScheduleStore`], claims each in the store (a
//! compare-and-set of the entry's next fire, so of many schedulers exactly
//! one wins), and enqueues the call with a task id derived from the
//! schedule and the fire time: even a fire claimed twice (a store restored
//! from a backup, say) enqueues one task, since every store keeps one
//! message per id.

mod entry;
pub mod file;
mod schedule;
mod scheduler;
pub use stem_schedule::solar;
mod store;

pub use self::entry::{CATCH_UP_MAX, CatchUp, DEFAULT_GRACE, ScheduleEntry};
pub use self::schedule::Schedule;
pub use self::scheduler::{Running, Scheduler, Tick, fire_id};
pub use self::store::{Claim, Fired, ScheduleStore};
