//! The `ring` backend (cargo feature `ring`): ring's ChaCha20-Poly1305, hand-written assembly
//! chosen at run time, for native apps and servers that want the cheapest AEAD call on small
//! messages (BENCHMARKS.md).
//!
//! ring does not wipe its key objects: a `LessSafeKey` keeps the 32 key bytes until its memory
//! is reused. hushwire builds one per call on the stack and drops it at the end of the call, so
//! the copy lives no longer than the operation, but it is not overwritten (README "AEAD
//! backends").

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};

use super::{Backend, KEY_LEN, NONCE_LEN, TAG_LEN};

/// ring's ChaCha20-Poly1305.
pub(crate) struct Ring;

impl Backend for Ring {
    /// ring's key object: not wiped on drop (see the module documentation).
    type Key = Option<LessSafeKey>;

    fn key(bytes: &[u8; KEY_LEN]) -> Self::Key {
        // Cannot fail: ring only refuses keys of the wrong length.
        UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .ok()
            .map(LessSafeKey::new)
    }

    fn seal_append(
        key: &Self::Key,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(key) = key else {
            return false;
        };
        let start = out.len();
        // ring encrypts in place only: copy, then encrypt the copy.
        out.extend_from_slice(plaintext);
        let Some(body) = out.get_mut(start..) else {
            return false;
        };
        match key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(ad),
            body,
        ) {
            Ok(tag) => {
                out.extend_from_slice(tag.as_ref());
                true
            }
            Err(_) => {
                if let Some(body) = out.get_mut(start..) {
                    zeroize::Zeroize::zeroize(body);
                }
                out.truncate(start);
                false
            }
        }
    }

    fn open_append(
        key: &Self::Key,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; TAG_LEN],
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(key) = key else {
            return false;
        };
        let start = out.len();
        out.extend_from_slice(ciphertext);
        let Some(body) = out.get_mut(start..) else {
            return false;
        };
        let opened = key
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(ad),
                Tag::from(*tag),
                body,
                0..,
            )
            .is_ok();
        if !opened {
            // ring leaves the buffer's contents unspecified on failure.
            if let Some(body) = out.get_mut(start..) {
                zeroize::Zeroize::zeroize(body);
            }
            out.truncate(start);
        }
        opened
    }
}
