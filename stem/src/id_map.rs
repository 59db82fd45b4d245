//! Maps keyed by [`TaskId`](crate::TaskId) with a cheap hasher.
//!
//! Task ids are UUIDs (random bits, or ids a user chose); the in-process stores
//! look them up several times per task, where SipHash's cost shows. The hasher
//! mixes each 8-byte word with a multiply (the FxHash step), which spreads the
//! bits well enough for ids and is a few cycles. It is not meant to resist
//! crafted keys; only the worker's own maps use it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` from task ids, hashed with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The multiply-and-rotate hasher behind [`IdMap`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;
    use crate::id::TaskId;

    #[test]
    fn ids_made_in_one_millisecond_spread_over_the_top_bits() {
        // hashbrown takes its 7-bit tag from the top of the hash: ids that share
        // their timestamp must still differ there.
        let build = BuildHasherDefault::<IdHasher>::default();
        let tags: std::collections::HashSet<u64> = (0..1000).map(|_| build.hash_one(TaskId::new()) >> 57).collect();
        assert!(tags.len() > 100, "only {} distinct tags of 128", tags.len());
    }

    #[test]
    fn equal_ids_hash_equal() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let id = TaskId::new();
        assert_eq!(build.hash_one(id), build.hash_one(id));
        let mut map: IdMap<TaskId, u32> = IdMap::default();
        map.insert(id, 1);
        assert_eq!(map.get(&id), Some(&1));
    }
}
