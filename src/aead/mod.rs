//! ChaCha20-Poly1305 (RFC 8439) as the protocol uses it: detached tags, explicit nonces.
//!
//! The implementation is `ring`'s, chosen for speed in default builds: RustCrypto's
//! `poly1305` compiles its AVX2 key setup without the target feature unless the whole build
//! sets `-C target-cpu`, which costs about a microsecond per call (BENCHMARKS.md). The wire
//! is the same RFC 8439 construction; the test vectors cross-check it against RustCrypto's.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};

/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of a ChaCha20-Poly1305 nonce.
pub(crate) const NONCE_LEN: usize = 12;

fn cipher(key: &[u8; 32]) -> Option<LessSafeKey> {
    // Cannot fail: ring only refuses keys of the wrong length.
    UnboundKey::new(&CHACHA20_POLY1305, key)
        .ok()
        .map(LessSafeKey::new)
}

/// Encrypts `plaintext` and appends `ciphertext || tag` to `out`.
pub(crate) fn seal_into(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) {
    let Some(cipher) = cipher(key) else {
        return;
    };
    let start = out.len();
    out.extend_from_slice(plaintext);
    let body = out.get_mut(start..).unwrap_or_default();
    // Cannot fail: ChaCha20-Poly1305 only refuses inputs over 256 GiB, and callers cap
    // plaintexts at MAX_PLAINTEXT_LEN.
    if let Ok(tag) =
        cipher.seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(ad), body)
    {
        out.extend_from_slice(tag.as_ref());
    }
}

/// Decrypts `ciphertext || tag` into `out` (cleared first). Returns `false`, leaving `out`
/// empty, if authentication fails.
pub(crate) fn open_into(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    ciphertext_and_tag: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let Some(split) = ciphertext_and_tag.len().checked_sub(TAG_LEN) else {
        return false;
    };
    let (ciphertext, tag) = ciphertext_and_tag.split_at(split);
    let Ok(tag) = <[u8; TAG_LEN]>::try_from(tag) else {
        return false;
    };
    let Some(cipher) = cipher(key) else {
        return false;
    };
    out.extend_from_slice(ciphertext);
    let ok = cipher
        .open_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(ad),
            Tag::from(tag),
            out.as_mut_slice(),
            0..,
        )
        .is_ok();
    if !ok {
        zeroize::Zeroize::zeroize(out);
        out.clear();
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8439_section_2_8_2_vector() {
        let key: [u8; 32] =
            hex::decode("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
                .unwrap()
                .try_into()
                .unwrap();
        let nonce: [u8; 12] = hex::decode("070000004041424344454647")
            .unwrap()
            .try_into()
            .unwrap();
        let ad = hex::decode("50515253c0c1c2c3c4c5c6c7").unwrap();
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let mut out = Vec::new();
        seal_into(&key, &nonce, &ad, pt, &mut out);
        let tag = &out[out.len() - 16..];
        assert_eq!(hex::encode(tag), "1ae10b594f09e26a7e902ecbd0600691");
        let mut back = Vec::new();
        assert!(open_into(&key, &nonce, &ad, &out, &mut back));
        assert_eq!(&back[..], &pt[..]);
    }

    #[test]
    fn any_flipped_bit_fails_and_leaves_output_empty() {
        let key = [9u8; 32];
        let nonce = [0u8; 12];
        let mut ct = Vec::new();
        seal_into(&key, &nonce, b"ad", b"hello", &mut ct);
        for i in 0..ct.len() * 8 {
            let mut bad = ct.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let mut out = vec![1, 2, 3];
            assert!(!open_into(&key, &nonce, b"ad", &bad, &mut out));
            assert!(out.is_empty());
        }
        let mut out = Vec::new();
        assert!(!open_into(&key, &nonce, b"other", &ct, &mut out));
        assert!(!open_into(&key, &nonce, b"ad", &ct[..10], &mut out));
    }
}
