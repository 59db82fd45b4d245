//! [`Call`]: what a new call named itself (a queue, a priority), carried in
//! its envelope from the enqueue options to the publish so that routing
//! (see [`crate::routing`]) fills in only the rest.

/// Whether an envelope is a new call that routing may place, and what the
/// call named itself. Never stored: an envelope read back from a store (a
/// retry, a replay, a canvas step a worker starts) has [`Call::Placed`] and
/// is published as it is. Every `Call` equals every other, so that envelope
/// equality is the stored fields' only.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum Call {
    /// Published as it is: read from a store, built by hand, or routed already.
    #[default]
    Placed,
    /// A new call (made by `EnqueueOptions::envelope`), not yet routed.
    New {
        /// Whether the call named its queue.
        queue: bool,
        /// Whether the call set its priority.
        priority: bool,
    },
}

impl PartialEq for Call {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::codec::Payload;
    use crate::envelope::{Call, Envelope};

    #[test]
    fn the_mark_changes_neither_equality_nor_the_encoding() {
        let placed = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
        let mut new = placed.clone();
        new.call = Call::New { queue: true, priority: false };
        assert_eq!(placed, new);
        let (a, b) = (serde_json::to_string(&placed).expect("encode"), serde_json::to_string(&new).expect("encode"));
        assert_eq!(a, b);
        let back: Envelope = serde_json::from_str(&b).expect("decode");
        assert!(matches!(back.call, Call::Placed), "a decoded envelope is never routed again");
    }
}
