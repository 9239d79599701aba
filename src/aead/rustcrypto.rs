//! The default backend: RustCrypto's `chacha20poly1305` (pure Rust, builds for every target,
//! wipes its key, ChaCha20 state and Poly1305 state on drop).

use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use zeroize::Zeroize;

use super::{Backend, KEY_LEN, NONCE_LEN, TAG_LEN};

/// RustCrypto's ChaCha20-Poly1305.
pub(crate) struct RustCrypto;

impl Backend for RustCrypto {
    /// Holds a copy of the 32 key bytes, wiped on drop (the crate's `zeroize` feature).
    type Key = ChaCha20Poly1305;

    fn key(bytes: &[u8; KEY_LEN]) -> Self::Key {
        let mut key = Key::default();
        key.copy_from_slice(bytes);
        let cipher = ChaCha20Poly1305::new(&key);
        key.as_mut_slice().zeroize();
        cipher
    }

    fn seal_append(
        key: &Self::Key,
        nonce: &[u8; NONCE_LEN],
        ad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let start = out.len();
        // Encrypt from `plaintext` straight into `out`: one pass over the data.
        out.resize(start + plaintext.len(), 0);
        let Some(body) = out.get_mut(start..) else {
            return false;
        };
        let sealed = InOutBuf::new(plaintext, body).ok().and_then(|buf| {
            key.encrypt_inout_detached(&Nonce::from(*nonce), ad, buf)
                .ok()
        });
        match sealed {
            Some(tag) => {
                out.extend_from_slice(&tag);
                true
            }
            None => {
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
        let start = out.len();
        out.resize(start + ciphertext.len(), 0);
        let Some(body) = out.get_mut(start..) else {
            return false;
        };
        // The tag is checked before anything is decrypted into `body`.
        let opened = InOutBuf::new(ciphertext, body).is_ok_and(|buf| {
            key.decrypt_inout_detached(&Nonce::from(*nonce), ad, buf, &Tag::from(*tag))
                .is_ok()
        });
        if !opened {
            out.truncate(start);
        }
        opened
    }
}
