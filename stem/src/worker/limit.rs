//! A rate-limited delivery's slot (see [`crate::rate`]): which schedule it
//! belongs to, and the delivery put back until its slot.

use std::sync::Arc;
use std::time::Duration;

use super::settle::{self, Finish, Op};
use crate::backend::TaskState;
use crate::broker::{Nack, Receipt};
use crate::envelope::Envelope;
use crate::rate::{Rate, SLOT_HEADER};
use crate::task::TaskRegistration;

/// A slot this close is waited for in place (holding the delivery, not a
/// concurrency slot); a later one puts the delivery back until then.
pub(super) const WAIT_IN_PLACE: Duration = Duration::from_millis(50);

/// How long a delivery waits when the limiter cannot be reached: it is put
/// back rather than run unlimited.
pub(super) const LIMITER_DOWN: Duration = Duration::from_secs(1);

/// The schedule a delivery takes a slot of.
#[derive(Debug)]
pub(super) struct Limit {
    pub(super) key: String,
    pub(super) rate: Rate,
}

/// The schedule `envelope` must take a slot of before it runs; `None` when
/// its task has no rate limit or this attempt holds its slot already.
pub(super) fn of(registration: &TaskRegistration, envelope: &Envelope) -> Option<Limit> {
    let options = registration.options();
    let rate = options.rate_limit?;
    if envelope.headers.get(SLOT_HEADER).is_some_and(|held| held.parse() == Ok(envelope.attempt)) {
        return None;
    }
    let key = match options.rate_limit_key.and_then(|header| envelope.headers.get(header)) {
        Some(value) => format!("{}#{value}", envelope.task),
        None => envelope.task.clone(),
    };
    Some(Limit { key, rate })
}

/// The op that puts `envelope` back until `wait` from now, holding its slot:
/// the same attempt (no retry is used), its task queued.
pub(super) fn defer_op(envelope: &Arc<Envelope>, receipt: &Receipt, wait: Duration, holds_slot: bool) -> Op {
    let mut next = Envelope::clone(envelope);
    if holds_slot {
        next.headers.insert(SLOT_HEADER.to_owned(), envelope.attempt.to_string());
    }
    let nack = Nack::retry_in(next, wait);
    let mut status = settle::status(envelope, receipt, TaskState::Queued);
    status.meta.insert("rate_limited_ms".to_owned(), u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).into());
    Op::Finish(Box::new(status), Arc::clone(envelope), receipt.clone(), Finish::Nack(nack))
}
