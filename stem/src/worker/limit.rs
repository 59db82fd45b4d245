//! A rate-limited delivery's slot (see [`crate::rate`]): which schedule it
//! belongs to, and the delivery put back until its slot.
//!
//! A delivery put back holding its slot carries the header
//! [`SLOT_HEADER`], which no signature covers (the attempt it names changes
//! with every retry). So that a header written into the broker by hand
//! cannot skip the limit, the worker that puts the delivery back also records
//! the reservation in the lock store (`stem:rate-slot:<task id>:<attempt>`),
//! and a delivery that comes back runs at once only if it takes that record
//! away: a header with no record behind it is ignored and the delivery asks
//! for a slot like any other.

use std::sync::Arc;
use std::time::Duration;

use super::settle::{self, Finish, Op};
use crate::backend::TaskState;
use crate::broker::{Nack, Receipt};
use crate::envelope::Envelope;
use crate::rate::{Rate, SLOT_HEADER};
use crate::stem::Stem;
use crate::task::TaskRegistration;

/// A slot this close is waited for in place (holding the delivery, not a
/// concurrency slot); a later one puts the delivery back until then.
pub(super) const WAIT_IN_PLACE: Duration = Duration::from_millis(50);

/// How long a delivery waits when the limiter cannot be reached: it is put
/// back rather than run unlimited.
pub(super) const LIMITER_DOWN: Duration = Duration::from_secs(1);

/// How long the record of a slot held by a delivery put back outlives the
/// wait for it: a delivery that comes back later than that (every worker
/// down) asks for a new slot.
const SLOT_KEPT: Duration = Duration::from_secs(600);

/// The schedule a delivery takes a slot of.
#[derive(Debug)]
pub(super) struct Limit {
    pub(super) key: String,
    pub(super) rate: Rate,
    /// Whether its header says this attempt holds a slot already (to be
    /// checked against the store: [`take_held`]).
    pub(super) held: bool,
}

/// The schedule `envelope` must take a slot of before it runs; `None` when
/// its task has no rate limit.
pub(super) fn of(registration: &TaskRegistration, envelope: &Envelope) -> Option<Limit> {
    let options = registration.options();
    let rate = options.rate_limit?;
    let held = envelope.headers.get(SLOT_HEADER).is_some_and(|held| held.parse() == Ok(envelope.attempt));
    let key = match options.rate_limit_key.and_then(|header| envelope.headers.get(header)) {
        Some(value) => format!("{}#{value}", envelope.task),
        None => envelope.task.clone(),
    };
    Some(Limit { key, rate, held })
}

/// The lock store key of the slot `envelope`'s attempt holds.
fn slot_key(envelope: &Envelope) -> String {
    format!("stem:rate-slot:{}:{}", envelope.id, envelope.attempt)
}

/// Records that `envelope`'s attempt holds a slot starting `wait` from now,
/// before it is put back with [`SLOT_HEADER`]; whether it was recorded (if
/// not, the delivery asks for a slot again when it comes back).
pub(super) async fn record_held(stem: &Stem, envelope: &Envelope, wait: Duration) -> bool {
    match stem.locks().acquire(&slot_key(envelope), &envelope.id.to_string(), wait + SLOT_KEPT).await {
        Ok(recorded) => recorded,
        Err(error) => {
            tracing::warn!(task = %envelope.id, %error, "recording a rate-limit slot failed; it is asked for again");
            false
        }
    }
}

/// Takes away the record of the slot `envelope`'s header says it holds;
/// whether there was one (then it runs without asking again; otherwise the
/// header is not believed).
pub(super) async fn take_held(stem: &Stem, envelope: &Envelope) -> bool {
    match stem.locks().release(&slot_key(envelope), &envelope.id.to_string()).await {
        Ok(held) => {
            if !held {
                tracing::debug!(task = %envelope.id, "a rate-limit slot header with no slot recorded: ignored");
            }
            held
        }
        Err(error) => {
            tracing::warn!(task = %envelope.id, %error, "reading a rate-limit slot failed; a slot is asked for");
            false
        }
    }
}

/// The op that puts `envelope` back until `wait` from now, holding its slot:
/// the same attempt (no retry is used), its task queued.
pub(super) fn defer_op(envelope: &Arc<Envelope>, receipt: &Receipt, wait: Duration, holds_slot: bool) -> Op {
    let mut next = Envelope::clone(envelope);
    if holds_slot {
        next.headers.insert(SLOT_HEADER.to_owned(), envelope.attempt.to_string());
    }
    let nack = Nack::retry_in(next, wait);
    if envelope.ignores_result() {
        return Op::Quiet(receipt.clone(), Finish::Nack(nack));
    }
    let mut status = settle::status(envelope, receipt, TaskState::Queued);
    status.meta.insert("rate_limited_ms".to_owned(), u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).into());
    Op::Finish(Box::new(status), Arc::clone(envelope), receipt.clone(), Finish::Nack(nack))
}
