//! What a broker does with a stored message whose envelope no longer decodes:
//! it goes to the dead letter queue with the reason, its text kept whole.

use std::fmt::Display;

use stem::codec::Payload;
use stem::{Envelope, TaskId};

/// The envelope that stands in for an undecodable message in the dead letter
/// queue (task `stem.undecodable`, the stored text as its `raw` arguments),
/// and the reason to record.
pub(crate) fn stand_in(id: TaskId, queue: &str, text: impl Into<Vec<u8>>, error: impl Display) -> (Envelope, String) {
    let reason = format!("undecodable envelope: {error}");
    let mut envelope = Envelope::new("stem.undecodable", queue, Payload::new("raw", text.into()));
    envelope.id = id;
    (envelope, reason)
}
