//! The group protocol's labels, its sender-chain step, signature inputs and the roster hash
//! (SPEC.md §14.2). A change here is a wire change.

use hmac::Mac;
use hmac::digest::FixedOutput;
use sha2::{Digest, Sha256};

use crate::kdf::hmac_keyed;
use crate::keys::secret::{ChainKey, MessageKey};
use crate::labels::LABEL_ROSTER_HASH;

/// HMAC input that derives a group message key from a sender chain key. Distinct from the
/// 1:1 chain's 0x01 and 0x02.
pub(crate) const SENDER_CHAIN_MESSAGE_KEY: u8 = 0x03;
/// HMAC input that derives the next sender chain key.
pub(crate) const SENDER_CHAIN_NEXT_KEY: u8 = 0x04;

/// One step of a sender chain: the message key for the current position, then the chain key
/// of the next position. The old chain key cannot be recomputed from either.
pub(crate) fn sender_chain_step(chain: &ChainKey) -> (ChainKey, MessageKey) {
    let keyed = hmac_keyed(chain.as_bytes());
    let mut for_message = keyed.clone();
    for_message.update(&[SENDER_CHAIN_MESSAGE_KEY]);
    let mut for_next = keyed;
    for_next.update(&[SENDER_CHAIN_NEXT_KEY]);
    // Each MAC writes its output straight into the key that holds it (no bare copy).
    let mut mk = MessageKey::from_bytes([0u8; 32]);
    FixedOutput::finalize_into(for_message, mk.as_mut_bytes().into());
    let mut ck = ChainKey::from_bytes([0u8; 32]);
    FixedOutput::finalize_into(for_next, ck.as_mut_bytes().into());
    (ck, mk)
}

/// What an Ed25519 key signs: the label, then the encoded structure up to its signature.
pub(crate) fn signature_input(label: &[u8], signed: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(label.len() + signed.len());
    m.extend_from_slice(label);
    m.extend_from_slice(signed);
    m
}

/// The roster hash: SHA-256 over the label and the roster body (SPEC.md §14.2.4).
pub(crate) fn roster_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_ROSTER_HASH);
    h.update(body);
    h.finalize().into()
}

/// A local digest of a roster change's bytes, to tell a duplicate from a fork.
pub(crate) fn change_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit};

    #[test]
    fn chain_step_is_hmac_with_bytes_3_and_4() {
        let ck = ChainKey::from_bytes([5u8; 32]);
        let (next, mk) = sender_chain_step(&ck);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[5u8; 32]).unwrap();
        mac.update(&[3]);
        let expected_mk: [u8; 32] = mac.finalize().into_bytes().into();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[5u8; 32]).unwrap();
        mac.update(&[4]);
        let expected_ck: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(mk.as_bytes(), &expected_mk);
        assert_eq!(next.as_bytes(), &expected_ck);
    }

    #[test]
    fn chain_step_differs_from_the_one_to_one_chain() {
        let ck = ChainKey::from_bytes([5u8; 32]);
        let (n1, m1) = sender_chain_step(&ck);
        let (n2, m2) = crate::kdf::chain_step(&ck);
        assert_ne!(n1.as_bytes(), n2.as_bytes());
        assert_ne!(m1.as_bytes(), m2.as_bytes());
    }
}
