//! Unique tasks: `unique_for = "10m"` on a task (or
//! [`Signature::unique_for`](super::Signature::unique_for) on one call) makes
//! a second enqueue of the same call within the window return the first
//! one's handle instead of enqueuing another task.
//!
//! "The same call" is the same task with the same arguments, compared in
//! canonical form (JSON arguments with their object keys sorted at every
//! depth and no whitespace, so `{"a":1,"b":2}` and `{"b": 2, "a": 1}` are one
//! call; the encoded bytes for other codecs), or the same explicit
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
        let mut out = Vec::with_capacity(args.bytes().len());
        canonical_json(&value, &mut out).map_err(|e| crate::codec::codec_error("json", e))?;
        out
    } else {
        args.bytes().to_vec()
    };
    let digest = Sha256::new().chain_update(args.codec()).chain_update([0]).chain_update(&canonical).finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `value` as compact JSON with every object's keys in sorted order,
/// at every depth, whatever order its map keeps (serde_json's
/// `preserve_order` feature, turned on by any crate of the build, keeps the
/// order of the input).
fn canonical_json(value: &serde_json::Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                canonical_json(value, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Payload;

    /// The lock key `mark` gives a JSON call of `args`.
    fn key_of(args: &str) -> String {
        let mut envelope = Envelope::new("report", "default", Payload::new("json", args.as_bytes().to_vec()));
        mark(&mut envelope, Duration::from_secs(60), true, None).expect("marked");
        claim_of(&envelope).expect("a claim").lock.to_owned()
    }

    #[test]
    fn reordered_keys_give_one_unique_key() {
        assert_eq!(key_of(r#"{"a":1,"b":2}"#), key_of(r#"{"b":2,"a":1}"#));
        assert_eq!(
            key_of(r#"{"outer":{"x":[{"p":1,"q":2}],"y":null},"z":"s"}"#),
            key_of(r#"{ "z" : "s", "outer" : { "y" : null, "x" : [ { "q" : 2, "p" : 1 } ] } }"#),
            "nested objects, whitespace"
        );
        assert_ne!(key_of(r#"{"a":1,"b":2}"#), key_of(r#"{"a":2,"b":1}"#), "other values");
        assert_ne!(key_of("[1,2]"), key_of("[2,1]"), "arrays keep their order");
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        // Built in reverse order: with serde_json's `preserve_order` the map
        // keeps it, and only the sort makes the text canonical.
        let mut inner = serde_json::Map::new();
        inner.insert("d".to_owned(), 4.into());
        inner.insert("c".to_owned(), serde_json::Value::String("é\"".to_owned()));
        let mut outer = serde_json::Map::new();
        outer.insert("b".to_owned(), serde_json::Value::Array(vec![inner.into(), 1.5.into()]));
        outer.insert("a".to_owned(), true.into());
        let mut out = Vec::new();
        canonical_json(&outer.into(), &mut out).expect("written");
        assert_eq!(String::from_utf8(out).expect("UTF-8"), r#"{"a":true,"b":[{"c":"é\"","d":4},1.5]}"#);
    }
}
