//! Receiving chains: the current one, the past ones still remembered, and the bounded store
//! of message keys skipped over for delayed messages.
//!
//! The store never hands a buffer holding keys back to the allocator unwiped: a key is wiped
//! where it lies before it leaves the store, and the store grows by copying into a larger
//! buffer and dropping the old one, whose keys wipe themselves (the helpers in
//! [`crate::keys::secret`]).

use std::collections::VecDeque;

use zeroize::Zeroize;

use super::DecryptError;
use crate::kdf::chain_step;
use crate::keys::secret::{ChainKey, HeaderKey, MessageKey, remove_wiping, reserve_wiping};

/// Skipped message keys of one chain, in increasing counter order.
#[derive(Clone, Default, PartialEq, Eq)]
pub(super) struct StoredKeys {
    pub(super) keys: VecDeque<(u32, MessageKey)>,
    /// A counter below this with no stored key was evicted or expired, not decrypted.
    pub(super) expired_below: u32,
}

impl StoredKeys {
    /// The stored key for `counter` and its position, or the error for a counter below the
    /// chain's position that has none.
    pub(super) fn find(&self, counter: u32) -> Result<(usize, &MessageKey), DecryptError> {
        self.keys
            .binary_search_by_key(&counter, |(n, _)| *n)
            .ok()
            .and_then(|pos| self.keys.get(pos).map(|(_, key)| (pos, key)))
            .ok_or_else(|| self.missing(counter))
    }

    /// The error for a counter below the chain's position that has no stored key.
    pub(super) fn missing(&self, counter: u32) -> DecryptError {
        if counter < self.expired_below {
            DecryptError::KeyExpired { counter }
        } else {
            DecryptError::Duplicate { counter }
        }
    }

    /// Drops the oldest stored key; returns whether there was one.
    pub(super) fn evict_oldest(&mut self) -> bool {
        match pop_front_wiped(&mut self.keys) {
            Some(n) => {
                self.expired_below = self.expired_below.max(n.saturating_add(1));
                true
            }
            None => false,
        }
    }

    /// Removes the key at `index` (its message was decrypted), keeping the others in order,
    /// and leaving no copy of it or of a neighbour in the buffer.
    pub(super) fn take(&mut self, index: usize) {
        remove_wiping(&mut self.keys, index, |(_, key)| key.zeroize());
    }

    /// Appends keys of later counters than any stored (the buffer grows without leaving a
    /// copy behind; `more`'s keys are wiped when it is dropped).
    pub(super) fn append(&mut self, more: VecDeque<(u32, MessageKey)>) {
        reserve_wiping(&mut self.keys, more.len());
        self.keys.extend(more.iter().cloned());
    }

    /// Drops every stored key (they expired); returns how many.
    pub(super) fn expire_all(&mut self, end: u32) -> usize {
        let count = self.keys.len();
        self.keys.clear();
        self.expired_below = self.expired_below.max(end);
        count
    }
}

/// The chain the peer is currently sending on.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct CurrentChain {
    pub(super) header_key: HeaderKey,
    /// The peer's ratchet public key for this chain.
    pub(super) ratchet_key: [u8; 32],
    pub(super) chain_key: ChainKey,
    /// The counter of the next message expected in order.
    pub(super) next: u32,
    pub(super) stored: StoredKeys,
}

/// A chain the peer has ratcheted away from.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct PastChain {
    pub(super) header_key: HeaderKey,
    /// The peer's ratchet public key for this chain: a header under this chain's key with
    /// another ratchet key means the peer's state forked (restored from an older copy).
    pub(super) ratchet_key: [u8; 32],
    /// The chain's length as announced by the peer: no counter at or above it is valid.
    pub(super) end: u32,
    /// The receiving step at which this chain was current (for expiry).
    pub(super) step: u64,
    pub(super) stored: StoredKeys,
}

/// Message keys derived on a copy of a chain, not yet committed.
pub(super) struct Derived {
    pub(super) chain_key: ChainKey,
    pub(super) skipped: VecDeque<(u32, MessageKey)>,
    /// Keys derived but dropped at once because more were skipped than may be stored.
    pub(super) dropped: u32,
}

/// Removes the front entry of `keys`, wiping its key where it lies first (a popped value is
/// moved out, which would leave the bytes in the buffer). Returns its counter.
fn pop_front_wiped(keys: &mut VecDeque<(u32, MessageKey)>) -> Option<u32> {
    remove_wiping(keys, 0, |(_, key)| key.zeroize()).map(|(n, _)| n)
}

/// Steps a copy of `chain_key` from counter `from` up to (not including) `to`, keeping at
/// most `cap` of the skipped keys (the newest ones).
pub(super) fn skip_to(chain_key: &ChainKey, from: u32, to: u32, cap: usize) -> Derived {
    let mut ck = chain_key.clone();
    // Sized once: the store never grows (a grown buffer would be freed holding keys).
    let count = usize::try_from(to.saturating_sub(from)).unwrap_or(usize::MAX);
    let mut skipped = VecDeque::with_capacity(count.min(cap));
    let mut dropped = 0u32;
    let mut n = from;
    while n < to {
        let (next, mk) = chain_step(&ck);
        ck = next;
        if cap == 0 {
            dropped = dropped.saturating_add(1);
        } else {
            if skipped.len() == cap {
                pop_front_wiped(&mut skipped);
                dropped = dropped.saturating_add(1);
            }
            skipped.push_back((n, mk));
        }
        n += 1;
    }
    Derived {
        chain_key: ck,
        skipped,
        dropped,
    }
}
