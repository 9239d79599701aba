//! Newtypes for the symmetric secrets of the protocol.
//!
//! Each one zeroizes on drop, compares in constant time and never prints its bytes.

use std::collections::VecDeque;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

macro_rules! secret_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub(crate) struct $name([u8; $len]);

        impl $name {
            #[allow(dead_code)] // Not every key type is made this way.
            pub(crate) fn from_bytes(bytes: [u8; $len]) -> Self {
                $name(bytes)
            }

            pub(crate) fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Copies `bytes` (exactly the key's length, else the key stays zero) straight
            /// into a new key, so no bare copy of the secret is made on the way.
            #[allow(dead_code)] // Not every key type is made this way.
            pub(crate) fn copy_from(bytes: &[u8]) -> Self {
                let mut key = $name([0u8; $len]);
                if bytes.len() == $len {
                    key.0.copy_from_slice(bytes);
                }
                key
            }

            /// The key's bytes, for a primitive to write its output into in place.
            #[allow(dead_code)] // Not every key type is made this way.
            pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8; $len] {
                &mut self.0
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }

        impl Eq for $name {}

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

secret_bytes!(
    /// The root key of the Double Ratchet: mixed with every DH ratchet output.
    RootKey, 32
);
secret_bytes!(
    /// A sending or receiving chain key: stepped once per message.
    ChainKey, 32
);
secret_bytes!(
    /// The key for exactly one message body.
    MessageKey, 32
);
secret_bytes!(
    /// A header-encryption key: one per chain.
    HeaderKey, 32
);
secret_bytes!(
    /// The output of a Diffie-Hellman or KEM operation, or a KDF input made from them.
    SharedSecret, 32
);
secret_bytes!(
    /// The session-constant key of the session tag: lets a receiver recognise its session.
    SessionTagKey, 32
);

// Collections of secrets. A `VecDeque` (or `Vec`) that grows moves its elements into a new
// buffer and frees the old one as it is; one that removes or pops moves the value out and
// leaves its bytes behind; one that shifts elements (`remove`, `retain`) leaves a copy of a
// neighbour in the slot it vacates. The helpers below do each of these without leaving a copy
// of a secret in memory the allocator gets back. `T`'s drop must wipe every secret it holds
// (`ZeroizeOnDrop`).

/// Makes room in `deque` for `additional` more elements: clones the elements into a buffer of
/// at least twice the size and drops the old deque, so each old element wipes itself in
/// place before its buffer is freed.
pub(crate) fn reserve_wiping<T: Clone>(deque: &mut VecDeque<T>, additional: usize) {
    let needed = deque.len().saturating_add(additional);
    if needed <= deque.capacity() {
        return;
    }
    let mut grown = VecDeque::with_capacity(needed.max(deque.capacity().saturating_mul(2)).max(4));
    grown.extend(deque.iter().cloned());
    *deque = grown;
}

/// Removes the element at `index`, keeping the others in order: `wipe` clears its secrets
/// where it lies, then it is walked to the nearer end by swaps (which exchange slots and copy
/// nothing) and popped there. Returns the wiped element.
pub(crate) fn remove_wiping<T>(
    deque: &mut VecDeque<T>,
    index: usize,
    wipe: impl FnOnce(&mut T),
) -> Option<T> {
    wipe(deque.get_mut(index)?);
    if index < deque.len() / 2 {
        for i in (0..index).rev() {
            deque.swap(i, i + 1);
        }
        deque.pop_front()
    } else {
        for i in index..deque.len().saturating_sub(1) {
            deque.swap(i, i + 1);
        }
        deque.pop_back()
    }
}

/// Keeps only the elements `keep` accepts: the kept ones are cloned into a new deque of the
/// same capacity and the old deque is dropped (every old element wipes itself in place).
pub(crate) fn retain_wiping<T: Clone>(deque: &mut VecDeque<T>, mut keep: impl FnMut(&T) -> bool) {
    let mut kept = VecDeque::with_capacity(deque.capacity());
    kept.extend(deque.iter().filter(|t| keep(t)).cloned());
    *deque = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deque(n: u8) -> VecDeque<(u8, MessageKey)> {
        (0..n)
            .map(|i| (i, MessageKey::from_bytes([i; 32])))
            .collect()
    }

    #[test]
    fn remove_wiping_keeps_the_order_and_returns_the_wiped_element() {
        for n in 1..8u8 {
            for index in 0..usize::from(n) {
                let mut d = deque(n);
                let removed = remove_wiping(&mut d, index, |(_, k)| k.zeroize()).unwrap();
                assert_eq!(usize::from(removed.0), index);
                assert_eq!(removed.1.as_bytes(), &[0u8; 32]);
                let expected: Vec<u8> = (0..n).filter(|&i| usize::from(i) != index).collect();
                assert_eq!(d.iter().map(|(i, _)| *i).collect::<Vec<_>>(), expected);
                assert!(d.iter().all(|(i, k)| k.as_bytes() == &[*i; 32]));
            }
            let mut d = deque(n);
            assert!(remove_wiping(&mut d, usize::from(n), |(_, k)| k.zeroize()).is_none());
            assert_eq!(d.len(), usize::from(n));
        }
    }

    #[test]
    fn reserve_and_retain_keep_the_elements() {
        let mut d = deque(5);
        d.shrink_to_fit();
        reserve_wiping(&mut d, 1);
        assert!(d.capacity() >= 10);
        let cap = d.capacity();
        reserve_wiping(&mut d, 1);
        assert_eq!(d.capacity(), cap, "no growth when there is room");
        assert_eq!(d, deque(5));
        retain_wiping(&mut d, |(i, _)| i % 2 == 0);
        assert_eq!(d.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 2, 4]);
        assert!(d.iter().all(|(i, k)| k.as_bytes() == &[*i; 32]));
        assert_eq!(d.capacity(), cap);
    }
}
