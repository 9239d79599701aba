//! ChaCha20-Poly1305 (RFC 8439) as the protocol uses it: explicit nonces, the tag appended.
//!
//! Two implementations of the same construction sit behind the small [`Backend`] trait:
//!
//! - the default, RustCrypto's `chacha20poly1305`: pure Rust, builds for every target
//!   (`wasm32-unknown-unknown` included), and wipes its key and cipher state on drop;
//! - with the cargo feature `ring`, ring's (hand-written assembly, several times faster per
//!   call on small messages, BENCHMARKS.md; it does not wipe its key objects, see `ring.rs`).
//!
//! Both give the same bytes: the RFC 8439 and Wycheproof vectors run through this module in
//! either build, and a `ring` build also checks the two against each other. No feature
//! changes the wire.

#[cfg(feature = "ring")]
mod ring;
#[cfg_attr(feature = "ring", allow(dead_code))] // Built for the cross-check only.
mod rustcrypto;

/// Length of a ChaCha20-Poly1305 key.
pub(crate) const KEY_LEN: usize = 32;
/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of a ChaCha20-Poly1305 nonce.
pub(crate) const NONCE_LEN: usize = 12;

/// One implementation of ChaCha20-Poly1305.
pub(crate) trait Backend {
    /// A key in the implementation's own form, made once per key and usable for many calls.
    type Key;

    /// Prepares `bytes` for use.
    fn key(bytes: &[u8; KEY_LEN]) -> Self::Key;

    /// Appends the ciphertext of `plaintext`, then the tag, to `out`. Returns `false`, with
    /// `out` as it was, only for inputs the cipher refuses (over 256 GiB).
    fn seal_append(
        key: &Self::Key,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> bool;

    /// Appends the plaintext of `ciphertext` to `out` if `tag` authenticates it. Returns
    /// `false`, with `out` as it was (nothing of the ciphertext's plaintext left in it),
    /// otherwise.
    fn open_append(
        key: &Self::Key,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; TAG_LEN],
        out: &mut Vec<u8>,
    ) -> bool;
}

/// The backend of this build.
#[cfg(not(feature = "ring"))]
type Active = rustcrypto::RustCrypto;
/// The backend of this build.
#[cfg(feature = "ring")]
type Active = ring::Ring;

/// Seals and opens made on this thread (tests only): the protocol's call sites are checked
/// to make no more AEAD calls than the protocol needs.
#[cfg(test)]
pub(crate) mod count {
    use std::cell::Cell;

    thread_local! {
        static CALLS: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
    }

    pub(crate) fn seal() {
        CALLS.with(|c| c.set((c.get().0 + 1, c.get().1)));
    }

    pub(crate) fn open() {
        CALLS.with(|c| c.set((c.get().0, c.get().1 + 1)));
    }

    /// `(seals, opens)` since the last call, and resets the count.
    pub(crate) fn take() -> (u32, u32) {
        CALLS.with(|c| c.replace((0, 0)))
    }
}

/// A ChaCha20-Poly1305 key prepared once for several calls (for example a header key tried on
/// several messages). Dropped as soon as the caller is done with it; the default backend
/// wipes it then.
pub(crate) struct AeadKey(<Active as Backend>::Key);

impl AeadKey {
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
        AeadKey(Active::key(key))
    }

    /// Encrypts `plaintext` and appends `ciphertext || tag` to `out`.
    pub(crate) fn seal_into(
        &self,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        #[cfg(test)]
        count::seal();
        // Cannot fail: ChaCha20-Poly1305 only refuses inputs over 256 GiB, and callers cap
        // plaintexts at MAX_PLAINTEXT_LEN.
        let _ = Active::seal_append(&self.0, nonce, ad, plaintext, out);
    }

    /// Decrypts `ciphertext || tag` into `out` (cleared first). Returns `false`, leaving
    /// `out` empty, if authentication fails.
    pub(crate) fn open_into(
        &self,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8],
        ciphertext_and_tag: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        #[cfg(test)]
        count::open();
        out.clear();
        let Some(split) = ciphertext_and_tag.len().checked_sub(TAG_LEN) else {
            return false;
        };
        let (ciphertext, tag) = ciphertext_and_tag.split_at(split);
        let Ok(tag) = <&[u8; TAG_LEN]>::try_from(tag) else {
            return false;
        };
        Active::open_append(&self.0, nonce, ad, ciphertext, tag, out)
    }
}

/// Encrypts `plaintext` under `key` (used once) and appends `ciphertext || tag` to `out`.
pub(crate) fn seal_into(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) {
    AeadKey::new(key).seal_into(nonce, ad, plaintext, out);
}

/// Decrypts `ciphertext || tag` under `key` (used once) into `out` (cleared first). Returns
/// `false`, leaving `out` empty, if authentication fails.
pub(crate) fn open_into(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    ciphertext_and_tag: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    AeadKey::new(key).open_into(nonce, ad, ciphertext_and_tag, out)
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

    #[test]
    fn appends_after_what_out_holds_and_a_prepared_key_matches_one_shot_calls() {
        let key = AeadKey::new(&[5u8; 32]);
        let mut out = b"prefix".to_vec();
        key.seal_into(&[1u8; 12], b"ad", b"first", &mut out);
        assert_eq!(&out[..6], b"prefix");
        let mut one_shot = Vec::new();
        seal_into(&[5u8; 32], &[1u8; 12], b"ad", b"first", &mut one_shot);
        assert_eq!(&out[6..], &one_shot[..]);
        // The same prepared key, again, with another nonce.
        let mut second = Vec::new();
        key.seal_into(&[2u8; 12], b"ad", b"first", &mut second);
        assert_ne!(second, one_shot);
        let mut back = Vec::new();
        assert!(key.open_into(&[2u8; 12], b"ad", &second, &mut back));
        assert_eq!(back, b"first");
        assert!(key.open_into(&[1u8; 12], b"ad", &out[6..], &mut back));
        assert_eq!(back, b"first");
        // Empty plaintext: the tag alone.
        let mut empty = Vec::new();
        key.seal_into(&[3u8; 12], b"", b"", &mut empty);
        assert_eq!(empty.len(), TAG_LEN);
        assert!(key.open_into(&[3u8; 12], b"", &empty, &mut back));
        assert!(back.is_empty());
    }

    /// With the `ring` feature both backends are built: they must give the same bytes for any
    /// input, and open each other's output.
    #[cfg(feature = "ring")]
    mod backends_agree {
        use super::super::ring::Ring;
        use super::super::rustcrypto::RustCrypto;
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn ring_and_rustcrypto_give_the_same_bytes(
                key in any::<[u8; 32]>(),
                nonce in any::<[u8; 12]>(),
                ad in proptest::collection::vec(any::<u8>(), 0..200),
                plaintext in proptest::collection::vec(any::<u8>(), 0..1200),
            ) {
                let (r, c) = (Ring::key(&key), RustCrypto::key(&key));
                let mut by_ring = vec![9];
                let mut by_rustcrypto = vec![9];
                prop_assert!(Ring::seal_append(&r, &nonce, &ad, &plaintext, &mut by_ring));
                prop_assert!(RustCrypto::seal_append(&c, &nonce, &ad, &plaintext, &mut by_rustcrypto));
                prop_assert_eq!(&by_ring, &by_rustcrypto);
                let (ct, tag) = by_ring[1..].split_at(plaintext.len());
                let tag: &[u8; TAG_LEN] = tag.try_into().unwrap();
                let (mut a, mut b) = (Vec::new(), Vec::new());
                prop_assert!(Ring::open_append(&r, &nonce, &ad, ct, tag, &mut a));
                prop_assert!(RustCrypto::open_append(&c, &nonce, &ad, ct, tag, &mut b));
                prop_assert_eq!(&a, &plaintext);
                prop_assert_eq!(&b, &plaintext);
                let mut bad = *tag;
                bad[0] ^= 1;
                prop_assert!(!Ring::open_append(&r, &nonce, &ad, ct, &bad, &mut a));
                prop_assert!(!RustCrypto::open_append(&c, &nonce, &ad, ct, &bad, &mut b));
                prop_assert_eq!(&a, &plaintext);
                prop_assert_eq!(&b, &plaintext);
            }
        }
    }
}
