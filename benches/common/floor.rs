//! The floor: the raw primitive work the design must do for an operation, written directly
//! against the primitive crates hushwire itself uses (the ChaCha20-Poly1305 of the build's
//! AEAD backend: RustCrypto's by default, ring's with the `ring` feature; RustCrypto
//! HMAC/HKDF/SHA-2, dalek X25519/Ed25519, RustCrypto ML-KEM), on preallocated buffers, with
//! no encoding, no state and no checks beyond what the primitives do. A hushwire result is
//! reported as its ratio to the floor measured in the same run and build.

#![allow(dead_code)]

use chacha20::ChaCha20Rng;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use rand_core::Rng;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

/// HMAC-SHA256 keyed by a 32-byte key.
pub(crate) fn hmac_keyed(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap()
}

/// One symmetric chain step: HMAC-SHA256 under the chain key over one byte, twice (the
/// keyed state computed once).
pub(crate) fn chain_step(ck: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let keyed = hmac_keyed(ck);
    let mut m = keyed.clone();
    m.update(&[1]);
    let mut n = keyed;
    n.update(&[2]);
    (
        n.finalize().into_bytes().into(),
        m.finalize().into_bytes().into(),
    )
}

/// HKDF-SHA256 (extract and expand) into `N` bytes.
pub(crate) fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> [u8; N] {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut out = [0u8; N];
    hk.expand_multi_info(info, &mut out).unwrap();
    out
}

/// A Poly1305 tag.
pub(crate) type Tag = [u8; 16];

/// The AEAD backend these floors use: the one hushwire is built with.
#[cfg(feature = "ring")]
pub(crate) const AEAD_BACKEND: &str = "ring";
/// The AEAD backend these floors use: the one hushwire is built with.
#[cfg(not(feature = "ring"))]
pub(crate) const AEAD_BACKEND: &str = "rustcrypto";

#[cfg(feature = "ring")]
mod aead_impl {
    use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

    pub(crate) type Prepared = LessSafeKey;

    pub(crate) fn key(key: &[u8; 32]) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).unwrap())
    }

    pub(crate) fn open_prepared(
        key: &Prepared,
        nonce: &[u8; 12],
        ad: &[u8],
        buf: &mut [u8],
        tag: super::Tag,
    ) -> bool {
        key.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(ad),
            ring::aead::Tag::from(tag),
            buf,
            0..,
        )
        .is_ok()
    }

    pub(crate) fn seal(
        key_bytes: &[u8; 32],
        nonce: &[u8; 12],
        ad: &[u8],
        buf: &mut [u8],
    ) -> super::Tag {
        let tag = key(key_bytes)
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(ad), buf)
            .unwrap();
        tag.as_ref().try_into().unwrap()
    }

    pub(crate) fn open(
        key_bytes: &[u8; 32],
        nonce: &[u8; 12],
        ad: &[u8],
        buf: &mut [u8],
        tag: super::Tag,
    ) -> bool {
        key(key_bytes)
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(ad),
                ring::aead::Tag::from(tag),
                buf,
                0..,
            )
            .is_ok()
    }
}

#[cfg(not(feature = "ring"))]
mod aead_impl {
    use chacha20poly1305::ChaCha20Poly1305;
    use chacha20poly1305::aead::{AeadInOut, KeyInit};

    pub(crate) type Prepared = ChaCha20Poly1305;

    pub(crate) fn key(key: &[u8; 32]) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&(*key).into())
    }

    pub(crate) fn open_prepared(
        key: &Prepared,
        nonce: &[u8; 12],
        ad: &[u8],
        buf: &mut [u8],
        tag: super::Tag,
    ) -> bool {
        key.decrypt_inout_detached(&(*nonce).into(), ad, buf.into(), &tag.into())
            .is_ok()
    }

    pub(crate) fn seal(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], buf: &mut [u8]) -> super::Tag {
        ChaCha20Poly1305::new(&(*key).into())
            .encrypt_inout_detached(&(*nonce).into(), ad, buf.into())
            .unwrap()
            .into()
    }

    pub(crate) fn open(
        key: &[u8; 32],
        nonce: &[u8; 12],
        ad: &[u8],
        buf: &mut [u8],
        tag: super::Tag,
    ) -> bool {
        ChaCha20Poly1305::new(&(*key).into())
            .decrypt_inout_detached(&(*nonce).into(), ad, buf.into(), &tag.into())
            .is_ok()
    }
}

/// ChaCha20-Poly1305 seal in place (the build's backend, as hushwire uses it), fresh key.
pub(crate) fn seal(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], buf: &mut [u8]) -> Tag {
    aead_impl::seal(key, nonce, ad, buf)
}

/// ChaCha20-Poly1305 open in place (the build's backend), fresh key.
pub(crate) fn open(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], buf: &mut [u8], tag: Tag) {
    assert!(aead_impl::open(key, nonce, ad, buf, tag));
}

/// A key prepared once (the backend's key object), for measuring key reuse.
pub(crate) type PreparedKey = aead_impl::Prepared;

/// Prepares `key` once.
pub(crate) fn prepare(key: &[u8; 32]) -> PreparedKey {
    aead_impl::key(key)
}

/// Open in place under a prepared key.
pub(crate) fn open_prepared(
    key: &PreparedKey,
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut [u8],
    tag: Tag,
) {
    assert!(aead_impl::open_prepared(key, nonce, ad, buf, tag));
}

/// An open that fails authentication (a header tried under the wrong key).
pub(crate) fn open_fails(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], buf: &mut [u8], tag: Tag) {
    assert!(!aead_impl::open(key, nonce, ad, buf, tag));
}

/// X25519 key generation: a random scalar and one fixed-base multiplication.
pub(crate) fn x25519_keygen(rng: &mut ChaCha20Rng) -> (StaticSecret, [u8; 32]) {
    let secret = StaticSecret::random_from_rng(rng);
    let public = PublicKey::from(&secret).to_bytes();
    (secret, public)
}

/// One X25519 Diffie-Hellman (variable base).
pub(crate) fn dh(secret: &StaticSecret, public: &[u8; 32]) -> [u8; 32] {
    secret.diffie_hellman(&PublicKey::from(*public)).to_bytes()
}

/// An Ed25519 signature.
pub(crate) fn sign(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    key.sign(message).to_bytes()
}

/// A strict Ed25519 verification (as hushwire verifies every signature).
pub(crate) fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) {
    key.verify_strict(message, &Signature::from_bytes(signature))
        .unwrap();
}

/// Parsing an Ed25519 public key as hushwire must for an identity key: decompression, the
/// prime-order-subgroup check and the birational map to X25519.
pub(crate) fn identity_key_from_bytes(bytes: &[u8; 32]) -> [u8; 32] {
    let key = VerifyingKey::from_bytes(bytes).unwrap();
    assert!(key.to_edwards().is_torsion_free());
    key.to_montgomery().to_bytes()
}

/// Fills `n` random bytes (nonces, seeds) from the benchmark RNG.
pub(crate) fn random<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

/// Bytes of a ratchet header before encryption: ratchet key, previous length, counter.
pub(crate) const HEADER_LEN: usize = 40;
/// Associated data of the header AEAD: version, type, both identity keys.
pub(crate) const HEADER_AD_LEN: usize = 66;
/// Associated data of the body AEAD: both identity keys and the 82-byte message prefix.
pub(crate) const BODY_AD_LEN: usize = 64 + 82;

/// Keys of one direction of a same-chain floor.
pub(crate) struct ChainFloor {
    pub(crate) chain_key: [u8; 32],
    pub(crate) header_key: [u8; 32],
    pub(crate) tag_key: [u8; 32],
}

/// What a floor message carries between the two halves.
pub(crate) struct FloorMessage {
    pub(crate) nonce: [u8; 12],
    pub(crate) header: [u8; HEADER_LEN],
    pub(crate) header_tag: Tag,
    pub(crate) body_tag: Tag,
}

impl ChainFloor {
    pub(crate) fn new() -> Self {
        ChainFloor {
            chain_key: [1u8; 32],
            header_key: [2u8; 32],
            tag_key: [3u8; 32],
        }
    }

    /// The sending side of one same-chain message: chain step, a 12-byte nonce, header
    /// AEAD, the session tag (two HMAC-SHA256 under one key), body AEAD (in place).
    #[inline(never)]
    pub(crate) fn encrypt(&self, rng: &mut ChaCha20Rng, body: &mut [u8]) -> FloorMessage {
        let (_, mk) = chain_step(&self.chain_key);
        let nonce = random::<12>(rng);
        let mut header = [7u8; HEADER_LEN];
        let header_tag = seal(&self.header_key, &nonce, &[3u8; HEADER_AD_LEN], &mut header);
        let keyed = hmac_keyed(&self.tag_key);
        let mut mask = keyed.clone();
        mask.update(&[1, 1]);
        mask.update(&nonce);
        let mut mac = keyed;
        mac.update(&[2, 1]);
        mac.update(&nonce);
        mac.update(&header);
        mac.update(header_tag.as_ref());
        mac.update(&[0, 0, 0, 1]);
        std::hint::black_box((mask.finalize(), mac.finalize()));
        let body_tag = seal(&mk, &nonce, &[5u8; BODY_AD_LEN], body);
        FloorMessage {
            nonce,
            header,
            header_tag,
            body_tag,
        }
    }

    /// The receiving side: header AEAD open, chain step, body AEAD open (in place).
    #[inline(never)]
    pub(crate) fn decrypt(&self, m: &mut FloorMessage, body: &mut [u8]) {
        open(
            &self.header_key,
            &m.nonce,
            &[3u8; HEADER_AD_LEN],
            &mut m.header,
            m.header_tag,
        );
        let (_, mk) = chain_step(&self.chain_key);
        open(&mk, &m.nonce, &[5u8; BODY_AD_LEN], body, m.body_tag);
    }

    /// Encrypt then decrypt.
    #[inline(never)]
    pub(crate) fn round_trip(&self, rng: &mut ChaCha20Rng, body: &mut [u8]) {
        let mut m = self.encrypt(rng, body);
        self.decrypt(&mut m, body);
    }
}

/// The root-chain step: HKDF-SHA256 of a DH output under the root key, 96 bytes out.
pub(crate) fn root_step(root: &[u8; 32], dh: &[u8; 32]) -> [u8; 96] {
    hkdf::<96>(root, dh, &[b"hushwire/v1/ratchet/root"])
}
