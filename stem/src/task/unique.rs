//! Unique tasks: `unique_for = "10m"` on a task (or
//! [`Signature::unique_for`](super::Signature::unique_for) on one call) makes
//! a second enqueue of the same call within the window return the first
//! one's handle instead of enqueuing another task.
//!
//! "The same call" is the same task with the same arguments, compared in
//! canonical form (JSON arguments with their object keys sorted; the encoded
//! bytes for other codecs), or the same explicit
//! [`unique_key`](super::Signature::unique_key). The claim is a lock of the
//! store's [`LockStore`](crate::LockStore), taken at enqueue with the new
//! task's id as its owner: atomic on every store, so two racing producers
//! get one task. The window ends when the first task reaches a final state
//! (succeeded, failed, expired; a worker releases the lock), unless the task
//! says `unique_until_finished = false`; it ends after `unique_for` in any
//! case. A publish that fails gives the claim back. If a producer dies
//! between its claim and its publish, the claim stands until the window
//! ends, and a duplicate's handle waits for a task that was never sent.
//!
//! Claims are taken by [`Stem::enqueue_envelope`](crate::Stem::enqueue_envelope)
//! and [`enqueue_envelopes`](crate::Stem::enqueue_envelopes), which every
//! enqueue of a typed call, a canvas and the command line goes through; an
//! enqueue inside a Postgres transaction (`stem_adapters`' `enqueue_in`)
//! does not claim: it is not unique.
//!
//! The claim travels with the envelope in the header `stem-unique`
//! (`<window ms>;<finished|window>;<lock key>`), which is how the worker
//! knows what to release (`unique_window.rs`).

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::id::TaskId;
use crate::lock::LockStore;

/// The header of a unique call's claim.
pub const UNIQUE_HEADER: &str = "stem-unique";

/// How often a claim is tried when the holder's lock vanishes in between.
const TRIES: usize = 3;

/// Marks `envelope` as unique for `window` (its key from `key`, or from its
/// task and canonical arguments).
pub(crate) fn mark(envelope: &mut Envelope, window: Duration, until_finished: bool, key: Option<&str>) -> Result<()> {
    if window.is_zero() {
        return Err(Error::Config(format!("task `{}`: a unique window must be longer than zero", envelope.task)));
    }
    let lock = match key {
        Some(key) => format!("stem:unique:{}:key:{key}", envelope.task),
        None => format!("stem:unique:{}:{}", envelope.task, canonical_hash(envelope)?),
    };
    let until = if until_finished { "finished" } else { "window" };
    envelope.headers.insert(UNIQUE_HEADER.to_owned(), format!("{};{until};{lock}", window.as_millis()));
    Ok(())
}

/// The claim an envelope carries: the window, whether it ends when the task
/// finishes, and the lock key.
struct Claim<'a> {
    window: Duration,
    until_finished: bool,
    lock: &'a str,
}

fn claim_of(envelope: &Envelope) -> Option<Claim<'_>> {
    let header = envelope.headers.get(UNIQUE_HEADER)?;
    let mut parts = header.splitn(3, ';');
    let window = Duration::from_millis(parts.next()?.parse().ok()?);
    let until_finished = parts.next()? == "finished";
    Some(Claim { window, until_finished, lock: parts.next()? })
}

/// The SHA-256 of the call's arguments in canonical form, in hex.
fn canonical_hash(envelope: &Envelope) -> Result<String> {
    let args = &envelope.args;
    let canonical = if args.codec() == "json" {
        let value: serde_json::Value =
            serde_json::from_slice(args.bytes()).map_err(|e| crate::codec::codec_error("json", e))?;
        serde_json::to_vec(&value).map_err(|e| crate::codec::codec_error("json", e))?
    } else {
        args.bytes().to_vec()
    };
    let digest = Sha256::new().chain_update(args.codec()).chain_update([0]).chain_update(&canonical).finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Claims the call `envelope` is, if it is unique: `None` when it is the
/// first (enqueue it), or the id of the task that holds the claim.
pub(crate) async fn claim(locks: &dyn LockStore, envelope: &Envelope) -> Result<Option<TaskId>> {
    let Some(claim) = claim_of(envelope) else { return Ok(None) };
    let owner = envelope.id.to_string();
    for _ in 0..TRIES {
        if locks.acquire(claim.lock, &owner, claim.window).await? {
            return Ok(None);
        }
        if let Some(holder) = locks.owner(claim.lock).await? {
            let id = holder.parse::<TaskId>().map_err(|e| {
                Error::Config(format!("the unique claim `{}` is held by `{holder}`, not a task id: {e}", claim.lock))
            })?;
            return Ok(Some(id));
        }
    }
    Err(Error::Config(format!(
        "the unique claim `{}` changed hands {TRIES} times while it was taken; enqueue again",
        claim.lock
    )))
}

/// Gives back the claim of `envelope` (its publish failed, or it finished).
pub(crate) async fn release(locks: &dyn LockStore, envelope: &Envelope) -> Result<()> {
    if let Some(claim) = claim_of(envelope) {
        locks.release(claim.lock, &envelope.id.to_string()).await?;
    }
    Ok(())
}

/// Whether the claim `envelope` carries ends when its task finishes.
pub(crate) fn ends_when_finished(envelope: &Envelope) -> bool {
    claim_of(envelope).is_some_and(|claim| claim.until_finished)
}
