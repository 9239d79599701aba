//! Sender keys: our outbound chain and signing key, the inbound chains of the other members,
//! and the bounded store of skipped message keys (SPEC.md §14.3 and §14.4).

use std::collections::VecDeque;
use std::sync::OnceLock;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::kdf::sender_chain_step;
use crate::keys::secret::{ChainKey, MessageKey};

/// Our sending chain in one group, with the signing key of this sender key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct OutboundSenderKey {
    pub(crate) key_id: u32,
    /// The roster epoch at which this key was created.
    pub(crate) key_epoch: u64,
    /// The chain key of position `index`.
    pub(crate) chain_key: ChainKey,
    /// The position of the next message.
    pub(crate) index: u32,
    pub(crate) signing: SenderSigningKey,
}

/// The signing key of our sender key: its seed and, derived from it once, the key. A key
/// restored from a state blob is derived when it first signs (SPEC.md §11.8), so that a
/// restore does not pay a scalar multiplication for a group it may not send to. Compared in
/// constant time by seed; both halves are zeroized on drop.
#[derive(Clone)]
pub(crate) struct SenderSigningKey {
    seed: Zeroizing<[u8; 32]>,
    key: OnceLock<SigningKey>,
}

impl SenderSigningKey {
    /// A key derived now (a fresh sender key, whose public half is sent at once).
    pub(crate) fn new(seed: &[u8; 32]) -> Self {
        SenderSigningKey {
            seed: Zeroizing::new(*seed),
            key: OnceLock::from(SigningKey::from_bytes(seed)),
        }
    }

    /// A key restored from a state blob: derived on first use.
    pub(crate) fn stored(seed: &[u8; 32]) -> Self {
        SenderSigningKey {
            seed: Zeroizing::new(*seed),
            key: OnceLock::new(),
        }
    }

    /// The 32-byte seed (the whole secret).
    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        self.seed.clone()
    }

    fn key(&self) -> &SigningKey {
        self.key.get_or_init(|| SigningKey::from_bytes(&self.seed))
    }
}

impl PartialEq for SenderSigningKey {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.seed.ct_eq(other.seed.as_ref()))
    }
}

impl Eq for SenderSigningKey {}

impl OutboundSenderKey {
    /// A fresh sender key: draws the chain key (32 bytes), then the signing seed (32 bytes).
    pub(crate) fn generate<R: CryptoRng + ?Sized>(
        key_id: u32,
        key_epoch: u64,
        rng: &mut R,
    ) -> Self {
        let mut chain = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(chain.as_mut());
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        OutboundSenderKey {
            key_id,
            key_epoch,
            chain_key: ChainKey::from_bytes(*chain),
            index: 0,
            signing: SenderSigningKey::new(&seed),
        }
    }

    pub(crate) fn signing_public(&self) -> [u8; 32] {
        self.signing.key().verifying_key().to_bytes()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.key().sign(message).to_bytes()
    }

    /// The message key of the current position and the chain key of the next (not committed).
    pub(crate) fn step(&self) -> (ChainKey, MessageKey) {
        sender_chain_step(&self.chain_key)
    }
}

/// A member's sender key as we received it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct InboundChain {
    pub(crate) key_id: u32,
    pub(crate) key_epoch: u64,
    /// The sender key's public signing key (checked by [`signing_key_from_bytes`], or
    /// restored from a blob with [`signing_key_from_stored_bytes`]).
    pub(crate) signing: SigningPublic,
    /// The chain key of position `next`.
    pub(crate) chain_key: ChainKey,
    /// The next position expected in order.
    pub(crate) next: u32,
    /// The position at which the key reached us: earlier messages cannot be read.
    pub(crate) first: u32,
    /// A position below this with no stored key had its key evicted.
    pub(crate) expired_below: u32,
}

/// The sender keys held for one member, newest first.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct MemberKeys {
    /// At most [`super::MAX_SENDER_KEYS_PER_MEMBER`].
    pub(crate) chains: VecDeque<InboundChain>,
    /// A new distribution message must name at least this id (one more than the newest
    /// accepted), so an old key cannot be replayed in.
    pub(crate) next_key_id: u32,
    /// Messages accepted on this member's keys from before the last removal, since that
    /// removal: at most [`super::MAX_OLD_EPOCH_MESSAGES`].
    pub(crate) old_epoch_accepted: u32,
}

/// Parses a sender key's public signing key with the rules of identity keys (SPEC.md §2.3):
/// a canonical encoding of a curve point that is neither of small order nor has a
/// small-order component. One key thus has one encoding, and every strict verifier accepts
/// the same signatures under it.
pub(crate) fn signing_key_from_bytes(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    let key = VerifyingKey::from_bytes(bytes).ok()?;
    let point = key.to_edwards();
    (!key.is_weak() && point.is_torsion_free() && point.compress().to_bytes() == *bytes)
        .then_some(key)
}

/// Takes a sender key's signing key read from a version 2 group snapshot that the storage
/// key authenticated (SPEC.md §11.8), with the checks that need no curve arithmetic, as
/// [`crate::IdentityKey`]'s restore does: a canonical `y`, not that of a small-order point.
/// Decoding waits until the first verification; the subgroup check is not repeated (the key
/// passed [`signing_key_from_bytes`] when its distribution message was accepted).
pub(crate) fn signing_key_from_stored_bytes(bytes: &[u8; 32]) -> Option<SigningPublic> {
    (crate::keys::y_is_canonical(bytes) && !crate::keys::is_small_order_encoding(bytes)).then(
        || SigningPublic {
            bytes: *bytes,
            decoded: OnceLock::new(),
        },
    )
}

/// A sender key's public signing key: its encoding and the decoded key, decoded when the key
/// arrived, or on its first verification for a key restored from a blob. Compared by
/// encoding.
#[derive(Clone)]
pub(crate) struct SigningPublic {
    bytes: [u8; 32],
    /// `None` inside: the bytes do not decode (only a blob made with the storage key holds
    /// such a key); nothing verifies under it.
    decoded: OnceLock<Option<VerifyingKey>>,
}

impl SigningPublic {
    /// A key that passed [`signing_key_from_bytes`].
    pub(crate) fn decoded(key: VerifyingKey) -> Self {
        SigningPublic {
            bytes: key.to_bytes(),
            decoded: OnceLock::from(Some(key)),
        }
    }

    pub(crate) fn to_bytes(&self) -> [u8; 32] {
        self.bytes
    }

    fn key(&self) -> Option<&VerifyingKey> {
        self.decoded
            .get_or_init(|| VerifyingKey::from_bytes(&self.bytes).ok())
            .as_ref()
    }
}

impl PartialEq for SigningPublic {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for SigningPublic {}

impl InboundChain {
    /// Strict Ed25519 verification under the sender key (as identity keys use).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.signing.key().is_some_and(|key| {
            key.verify_strict(message, &Signature::from_bytes(signature))
                .is_ok()
        })
    }
}

impl MemberKeys {
    pub(crate) fn chain(&self, key_id: u32) -> Option<&InboundChain> {
        self.chains.iter().find(|c| c.key_id == key_id)
    }

    pub(crate) fn chain_mut(&mut self, key_id: u32) -> Option<&mut InboundChain> {
        self.chains.iter_mut().find(|c| c.key_id == key_id)
    }
}

/// One stored message key for a message skipped over.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SkippedKey {
    /// The sender's identity key bytes.
    pub(crate) sender: [u8; 32],
    pub(crate) key_id: u32,
    pub(crate) index: u32,
    pub(crate) key: MessageKey,
}

/// Message keys derived on a copy of a chain, not yet committed.
pub(crate) struct Derived {
    /// The chain key after the message's position.
    pub(crate) chain_key: ChainKey,
    /// The message's key.
    pub(crate) message_key: MessageKey,
    /// Keys of the positions skipped over, in order.
    pub(crate) skipped: Vec<(u32, MessageKey)>,
}

/// Steps a copy of `chain` from position `from` to `to` (inclusive): the keys of `from..to`
/// are kept as skipped, `to`'s is the message key. The caller bounds `to - from`.
pub(crate) fn derive_to(chain: &ChainKey, from: u32, to: u32) -> Derived {
    let mut ck = chain.clone();
    let mut skipped = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
    let mut n = from;
    while n < to {
        let (next, mk) = sender_chain_step(&ck);
        skipped.push((n, mk));
        ck = next;
        n += 1;
    }
    let (chain_key, message_key) = sender_chain_step(&ck);
    Derived {
        chain_key,
        message_key,
        skipped,
    }
}

/// Skipped keys across all senders, oldest first, at most [`super::MAX_GROUP_SKIPPED_KEYS`].
pub(crate) type SkippedStore = VecDeque<SkippedKey>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_to_matches_stepping_one_by_one() {
        let ck = ChainKey::from_bytes([3; 32]);
        let d = derive_to(&ck, 5, 8);
        let mut c = ck.clone();
        let mut keys = Vec::new();
        for _ in 0..4 {
            let (next, mk) = sender_chain_step(&c);
            keys.push(mk);
            c = next;
        }
        assert_eq!(d.skipped.len(), 3);
        assert_eq!(d.skipped[0].0, 5);
        assert_eq!(d.skipped[2].0, 7);
        assert!(d.skipped.iter().zip(&keys).all(|((_, a), b)| a == b));
        assert_eq!(d.message_key, keys[3]);
        assert_eq!(d.chain_key, c);
    }
}
