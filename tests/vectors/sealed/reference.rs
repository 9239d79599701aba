//! An independent reference of sealed envelopes and certificates (spec/sealed.md), written
//! from the specification with the primitive crates only (x25519-dalek's `x25519`,
//! ed25519-dalek, hkdf, sha2, chacha20poly1305). Nothing here calls hushwire.
//!
//! Included by `tests/api/sealed.rs` (to build envelopes the library refuses to build: a
//! certificate for another key, bad padding) and by `tests/vector_tests/sealed.rs` (to recompute
//! every value of the vectors). Each test crate uses part of it.

#![allow(dead_code, unreachable_pub)]

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use sha2::{Digest, Sha256, Sha512};
use x25519_dalek::{X25519_BASEPOINT_BYTES, x25519};

pub const VERSION: u8 = 0x01;
pub const TYPE_SEALED_ENVELOPE: u8 = 0x30;
pub const TYPE_MULTI_RECIPIENT: u8 = 0x31;
pub const TYPE_RECIPIENT_ENVELOPE: u8 = 0x32;
pub const TYPE_SERVER_CERTIFICATE: u8 = 0x40;
pub const TYPE_SENDER_CERTIFICATE: u8 = 0x41;

pub const LABEL_SIG_SERVER_CERTIFICATE: &[u8] = b"hushwire/v1/sig/server-certificate";
pub const LABEL_SIG_SENDER_CERTIFICATE: &[u8] = b"hushwire/v1/sig/sender-certificate";
pub const LABEL_SEALED_EPHEMERAL: &[u8] = b"hushwire/v1/sealed/ephemeral";
pub const LABEL_SEALED_STATIC: &[u8] = b"hushwire/v1/sealed/static";
pub const LABEL_MULTI_KEYS: &[u8] = b"hushwire/v1/sealed/multi/keys";
pub const LABEL_MULTI_WRAP: &[u8] = b"hushwire/v1/sealed/multi/wrap";
pub const LABEL_MULTI_AUTH: &[u8] = b"hushwire/v1/sealed/multi/auth";

pub const PADDING_BLOCK: usize = 160;
pub const BLOCK_PADDING_LIMIT: usize = 4_000;

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

pub fn arr<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut okm = vec![0u8; len];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm)
        .unwrap();
    okm
}

pub fn aead_seal(key: &[u8; 32], ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from([0u8; 12]), ad, buf.as_mut_slice().into())
        .unwrap();
    buf.extend_from_slice(&tag);
    buf
}

pub fn aead_open(key: &[u8; 32], ad: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
    let (body, tag) = ciphertext.split_at(ciphertext.len().checked_sub(16)?);
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    let mut buf = body.to_vec();
    let tag = Tag::try_from(tag).ok()?;
    cipher
        .decrypt_inout_detached(&Nonce::from([0u8; 12]), ad, buf.as_mut_slice().into(), &tag)
        .ok()?;
    Some(buf)
}

pub fn x25519_dh(secret: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    let out = x25519(*secret, *public);
    assert_ne!(out, [0u8; 32], "non-contributory DH in the reference");
    out
}

/// An Ed25519 key from its seed, with its X25519 form (RFC 8032 secret scalar, and the
/// birational map of the public key).
#[derive(Clone)]
pub struct Key {
    pub seed: [u8; 32],
    pub ed_public: [u8; 32],
    pub x_secret: [u8; 32],
    pub x_public: [u8; 32],
}

impl Key {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        let ed_public = signing.verifying_key().to_bytes();
        // RFC 8032 §5.1.5: the secret scalar is the first half of SHA-512(seed), clamped
        // (X25519 clamps it again).
        let x_secret: [u8; 32] = arr(&Sha512::digest(seed)[..32]);
        let x_public = x25519(x_secret, X25519_BASEPOINT_BYTES);
        assert_eq!(
            x_public,
            signing.verifying_key().to_montgomery().to_bytes(),
            "the X25519 public key is the birational map of the Ed25519 key"
        );
        Key {
            seed,
            ed_public,
            x_secret,
            x_public,
        }
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        SigningKey::from_bytes(&self.seed).sign(message).to_bytes()
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates.

pub struct ServerCertFields {
    pub root_id: u32,
    pub key_id: u32,
    pub key: [u8; 32],
    pub not_before: u64,
    pub expires_at: u64,
}

/// Returns (signed message, encoding).
pub fn server_certificate(root: &Key, f: &ServerCertFields) -> (Vec<u8>, Vec<u8>) {
    let unsigned = cat(&[
        &[VERSION, TYPE_SERVER_CERTIFICATE],
        &f.root_id.to_be_bytes(),
        &f.key_id.to_be_bytes(),
        &f.key,
        &f.not_before.to_be_bytes(),
        &f.expires_at.to_be_bytes(),
    ]);
    let message = cat(&[LABEL_SIG_SERVER_CERTIFICATE, &unsigned]);
    let signature = root.sign(&message);
    (message, cat(&[&unsigned, &signature]))
}

pub struct SenderCertFields<'a> {
    pub serial: u64,
    pub device_id: u32,
    pub identity_key: [u8; 32],
    pub not_before: u64,
    pub expires_at: u64,
    pub server_certificate: &'a [u8],
    pub user_id: &'a [u8],
}

/// Returns (signed message, encoding).
pub fn sender_certificate(server: &Key, f: &SenderCertFields<'_>) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(f.server_certificate.len(), 122);
    let unsigned = cat(&[
        &[VERSION, TYPE_SENDER_CERTIFICATE],
        &f.serial.to_be_bytes(),
        &f.device_id.to_be_bytes(),
        &f.identity_key,
        &f.not_before.to_be_bytes(),
        &f.expires_at.to_be_bytes(),
        f.server_certificate,
        &[u8::try_from(f.user_id.len()).unwrap()],
        f.user_id,
    ]);
    let message = cat(&[LABEL_SIG_SENDER_CERTIFICATE, &unsigned]);
    let signature = server.sign(&message);
    (message, cat(&[&unsigned, &signature]))
}

// ---------------------------------------------------------------------------------------------
// Content and padding.

pub fn content(
    content_type: u8,
    sent_at: u64,
    expires_after_secs: Option<u32>,
    certificate: &[u8],
    message: &[u8],
) -> Vec<u8> {
    let expiry = match expires_after_secs {
        Some(s) => cat(&[&[1], &s.to_be_bytes()]),
        None => vec![0],
    };
    cat(&[
        &[content_type],
        &sent_at.to_be_bytes(),
        &expiry,
        &u16::try_from(certificate.len()).unwrap().to_be_bytes(),
        certificate,
        message,
    ])
}

/// The bucket for `n` bytes (content plus marker), written from the spec's formula.
pub fn bucket(n: usize) -> usize {
    if n <= BLOCK_PADDING_LIMIT {
        n.div_ceil(PADDING_BLOCK).max(1) * PADDING_BLOCK
    } else {
        let e = n.ilog2();
        let s = e.ilog2() + 1;
        let step = 1usize << (e - s);
        n.div_ceil(step) * step
    }
}

pub fn pad(content: &[u8]) -> Vec<u8> {
    let mut out = content.to_vec();
    out.push(0x80);
    out.resize(bucket(content.len() + 1), 0);
    out
}

// ---------------------------------------------------------------------------------------------
// Single-recipient envelope (type 0x30).

pub struct SingleTrace {
    pub ephemeral_secret: [u8; 32],
    pub ephemeral_public: [u8; 32],
    pub dh_ephemeral: [u8; 32],
    pub chain_key: [u8; 32],
    pub static_key: [u8; 32],
    pub header: Vec<u8>,
    pub encrypted_static: Vec<u8>,
    pub dh_static: [u8; 32],
    pub content_key: [u8; 32],
    pub envelope: Vec<u8>,
}

/// Seals `padded` from `sender` (whose identity key goes in the envelope) to `recipient`.
pub fn seal_single(
    sender: &Key,
    recipient: &Key,
    ephemeral_secret: [u8; 32],
    padded: &[u8],
) -> SingleTrace {
    let ephemeral_public = x25519(ephemeral_secret, X25519_BASEPOINT_BYTES);
    let dh_ephemeral = x25519_dh(&ephemeral_secret, &recipient.x_public);
    let okm = hkdf(
        &[0u8; 32],
        &dh_ephemeral,
        &cat(&[
            LABEL_SEALED_EPHEMERAL,
            &ephemeral_public,
            &recipient.ed_public,
        ]),
        64,
    );
    let chain_key: [u8; 32] = arr(&okm[..32]);
    let static_key: [u8; 32] = arr(&okm[32..]);
    let header = cat(&[
        &[VERSION, TYPE_SEALED_ENVELOPE],
        &recipient.ed_public,
        &ephemeral_public,
    ]);
    let encrypted_static = aead_seal(&static_key, &header, &sender.ed_public);
    let dh_static = x25519_dh(&sender.x_secret, &recipient.x_public);
    let content_key: [u8; 32] = arr(&hkdf(
        &chain_key,
        &dh_static,
        &cat(&[
            LABEL_SEALED_STATIC,
            &ephemeral_public,
            &recipient.ed_public,
            &encrypted_static,
        ]),
        32,
    ));
    let prefix = cat(&[&header, &encrypted_static]);
    let ciphertext = aead_seal(&content_key, &prefix, padded);
    SingleTrace {
        ephemeral_secret,
        ephemeral_public,
        dh_ephemeral,
        chain_key,
        static_key,
        header,
        encrypted_static,
        dh_static,
        content_key,
        envelope: cat(&[&prefix, &ciphertext]),
    }
}

// ---------------------------------------------------------------------------------------------
// Multi-recipient message (type 0x31) and per-recipient envelopes (type 0x32).

pub struct RecipientTrace {
    pub dh_ephemeral: [u8; 32],
    pub wrap_key: [u8; 32],
    pub wrapped: [u8; 32],
    pub dh_static: [u8; 32],
    pub tag: [u8; 16],
    pub envelope: Vec<u8>,
}

pub struct MultiTrace {
    pub message_key: [u8; 32],
    pub ephemeral_secret: [u8; 32],
    pub ephemeral_public: [u8; 32],
    pub body_key: [u8; 32],
    pub ciphertext: Vec<u8>,
    pub ciphertext_digest: [u8; 32],
    pub recipients: Vec<RecipientTrace>,
    pub message: Vec<u8>,
}

/// Keys derived from the message secret `M`: (ephemeral secret, body key).
pub fn multi_keys(message_key: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let okm = hkdf(&[0u8; 32], message_key, LABEL_MULTI_KEYS, 64);
    (arr(&okm[..32]), arr(&okm[32..]))
}

/// The ciphertext's associated data: version || ephemeral public key.
pub fn body_ad(ephemeral_public: &[u8; 32]) -> Vec<u8> {
    cat(&[&[VERSION], ephemeral_public])
}

pub fn wrap_key(
    dh_ephemeral: &[u8; 32],
    ephemeral_public: &[u8; 32],
    recipient: &[u8; 32],
) -> [u8; 32] {
    arr(&hkdf(
        &[0u8; 32],
        dh_ephemeral,
        &cat(&[LABEL_MULTI_WRAP, ephemeral_public, recipient]),
        32,
    ))
}

pub fn auth_tag(
    dh_static: &[u8; 32],
    ephemeral_public: &[u8; 32],
    recipient: &[u8; 32],
    wrapped: &[u8; 32],
    sender: &[u8; 32],
    ciphertext_digest: &[u8; 32],
) -> [u8; 16] {
    arr(&hkdf(
        &[0u8; 32],
        dh_static,
        &cat(&[
            LABEL_MULTI_AUTH,
            ephemeral_public,
            recipient,
            wrapped,
            sender,
            ciphertext_digest,
        ]),
        16,
    ))
}

pub fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// Seals `padded` from `sender` (whose identity key goes into the tags) to `recipients`.
pub fn seal_multi(
    sender: &Key,
    recipients: &[Key],
    message_key: [u8; 32],
    padded: &[u8],
) -> MultiTrace {
    let (ephemeral_secret, body_key) = multi_keys(&message_key);
    let ephemeral_public = x25519(ephemeral_secret, X25519_BASEPOINT_BYTES);
    let ciphertext = aead_seal(&body_key, &body_ad(&ephemeral_public), padded);
    let ciphertext_digest = sha256(&ciphertext);
    let mut message = cat(&[
        &[VERSION, TYPE_MULTI_RECIPIENT],
        &ephemeral_public,
        &u16::try_from(recipients.len()).unwrap().to_be_bytes(),
    ]);
    let mut traces = Vec::new();
    for r in recipients {
        let dh_ephemeral = x25519_dh(&ephemeral_secret, &r.x_public);
        let wrap = wrap_key(&dh_ephemeral, &ephemeral_public, &r.ed_public);
        let wrapped = xor32(&message_key, &wrap);
        let dh_static = x25519_dh(&sender.x_secret, &r.x_public);
        let tag = auth_tag(
            &dh_static,
            &ephemeral_public,
            &r.ed_public,
            &wrapped,
            &sender.ed_public,
            &ciphertext_digest,
        );
        message.extend_from_slice(&cat(&[&r.ed_public, &wrapped, &tag]));
        let envelope = cat(&[
            &[VERSION, TYPE_RECIPIENT_ENVELOPE],
            &r.ed_public,
            &ephemeral_public,
            &wrapped,
            &tag,
            &ciphertext,
        ]);
        traces.push(RecipientTrace {
            dh_ephemeral,
            wrap_key: wrap,
            wrapped,
            dh_static,
            tag,
            envelope,
        });
    }
    message.extend_from_slice(&ciphertext);
    MultiTrace {
        message_key,
        ephemeral_secret,
        ephemeral_public,
        body_key,
        ciphertext,
        ciphertext_digest,
        recipients: traces,
        message,
    }
}

/// What a recipient recovers from its envelope (type 0x32) before the sender check:
/// (message secret M, padded content).
pub fn open_recipient(recipient: &Key, envelope: &[u8]) -> Option<([u8; 32], Vec<u8>)> {
    let ephemeral_public: [u8; 32] = arr(&envelope[34..66]);
    let wrapped: [u8; 32] = arr(&envelope[66..98]);
    let dh = x25519_dh(&recipient.x_secret, &ephemeral_public);
    let m = xor32(
        &wrapped,
        &wrap_key(&dh, &ephemeral_public, &recipient.ed_public),
    );
    let (e, k) = multi_keys(&m);
    if x25519(e, X25519_BASEPOINT_BYTES) != ephemeral_public {
        return None;
    }
    let padded = aead_open(&k, &body_ad(&ephemeral_public), &envelope[114..])?;
    Some((m, padded))
}

// ---------------------------------------------------------------------------------------------
// Hybrid envelopes (SPEC.md §13.8), with the ml-kem crate for ML-KEM-768 only.

pub const TYPE_HYBRID_ENVELOPE: u8 = 0x33;
pub const TYPE_HYBRID_MULTI_RECIPIENT: u8 = 0x34;
pub const TYPE_HYBRID_RECIPIENT_ENVELOPE: u8 = 0x35;
pub const TYPE_ENVELOPE_KEY: u8 = 0x36;
pub const LABEL_SIG_ENVELOPE_KEY: &[u8] = b"hushwire/v1/sig/envelope-kem-key";
pub const LABEL_SEALED_HYBRID: &[u8] = b"hushwire/v1/sealed/hybrid/ephemeral";
pub const LABEL_MULTI_HYBRID_WRAP: &[u8] = b"hushwire/v1/sealed/hybrid/multi-wrap";
pub const LABEL_MULTI_HYBRID_AUTH: &[u8] = b"hushwire/v1/sealed/hybrid/multi-auth";

/// An envelope KEM key from its 64-byte seed: `(ek, signed message, encoding of type 0x36)`.
pub fn envelope_key(owner: &Key, id: u32, seed: &[u8; 64]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use ml_kem::kem::KeyExport;
    let dk = ml_kem::ml_kem_768::DecapsulationKey::from_seed(ml_kem::array::Array::from(*seed));
    let ek = dk.encapsulation_key().to_bytes().to_vec();
    let signed = cat(&[LABEL_SIG_ENVELOPE_KEY, &id.to_be_bytes(), &ek]);
    let signature = owner.sign(&signed);
    let encoded = cat(&[
        &[VERSION, TYPE_ENVELOPE_KEY],
        &owner.ed_public,
        &id.to_be_bytes(),
        &ek,
        &signature,
    ]);
    (ek, signed, encoded)
}

/// `ML-KEM.Encaps_internal(ek, m)`: `(shared secret, ciphertext)`.
pub fn kem_encaps(ek: &[u8], m: &[u8; 32]) -> ([u8; 32], Vec<u8>) {
    let key: [u8; 1184] = arr(ek);
    let ek = ml_kem::ml_kem_768::EncapsulationKey::new(&ml_kem::array::Array::from(key))
        .expect("valid encapsulation key");
    let (ct, ss) = ek.encapsulate_deterministic(&ml_kem::array::Array::from(*m));
    (arr(ss.as_slice()), ct.as_slice().to_vec())
}

/// `ML-KEM.Decaps(dk, ct)` with the decapsulation key of `seed`.
pub fn kem_decaps(seed: &[u8; 64], ct: &[u8]) -> [u8; 32] {
    use ml_kem::kem::Decapsulate;
    let dk = ml_kem::ml_kem_768::DecapsulationKey::from_seed(ml_kem::array::Array::from(*seed));
    let ct: [u8; 1088] = arr(ct);
    let ss = dk.decapsulate(&ml_kem::array::Array::from(ct));
    arr(ss.as_slice())
}

pub struct HybridTrace {
    pub kem_shared: [u8; 32],
    pub kem_ciphertext: Vec<u8>,
    pub ephemeral_public: [u8; 32],
    pub dh_ephemeral: [u8; 32],
    pub chain_key: [u8; 32],
    pub static_key: [u8; 32],
    pub header: Vec<u8>,
    pub encrypted_static: Vec<u8>,
    pub content_key: [u8; 32],
    pub envelope: Vec<u8>,
}

/// A single-recipient hybrid envelope (type `0x33`) from the encapsulation draw `m` and the
/// ephemeral secret.
pub fn seal_hybrid_single(
    sender: &Key,
    recipient: &Key,
    key_id: u32,
    ek: &[u8],
    m: [u8; 32],
    ephemeral_secret: [u8; 32],
    padded: &[u8],
) -> HybridTrace {
    let (kem_shared, kem_ciphertext) = kem_encaps(ek, &m);
    let ephemeral_public = x25519(ephemeral_secret, X25519_BASEPOINT_BYTES);
    let dh_ephemeral = x25519_dh(&ephemeral_secret, &recipient.x_public);
    let okm = hkdf(
        &[0u8; 32],
        &cat(&[&dh_ephemeral, &kem_shared]),
        &cat(&[
            LABEL_SEALED_HYBRID,
            &ephemeral_public,
            &recipient.ed_public,
            &key_id.to_be_bytes(),
            &sha256(ek),
            &kem_ciphertext,
        ]),
        64,
    );
    let chain_key: [u8; 32] = arr(&okm[..32]);
    let static_key: [u8; 32] = arr(&okm[32..]);
    let header = cat(&[
        &[VERSION, TYPE_HYBRID_ENVELOPE],
        &recipient.ed_public,
        &ephemeral_public,
        &key_id.to_be_bytes(),
        &kem_ciphertext,
    ]);
    let encrypted_static = aead_seal(&static_key, &header, &sender.ed_public);
    let dh_static = x25519_dh(&sender.x_secret, &recipient.x_public);
    let content_key: [u8; 32] = arr(&hkdf(
        &chain_key,
        &dh_static,
        &cat(&[
            LABEL_SEALED_STATIC,
            &ephemeral_public,
            &recipient.ed_public,
            &encrypted_static,
        ]),
        32,
    ));
    let prefix = cat(&[&header, &encrypted_static]);
    let ciphertext = aead_seal(&content_key, &prefix, padded);
    HybridTrace {
        kem_shared,
        kem_ciphertext,
        ephemeral_public,
        dh_ephemeral,
        chain_key,
        static_key,
        header,
        encrypted_static,
        content_key,
        envelope: cat(&[&prefix, &ciphertext]),
    }
}

pub struct HybridRecipientTrace {
    pub kem_shared: [u8; 32],
    pub kem_ciphertext: Vec<u8>,
    pub dh_ephemeral: [u8; 32],
    pub wrap_key: [u8; 32],
    pub wrapped: [u8; 32],
    pub dh_static: [u8; 32],
    pub tag: [u8; 16],
    pub envelope: Vec<u8>,
}

pub struct HybridMultiTrace {
    pub ephemeral_public: [u8; 32],
    pub body_key: [u8; 32],
    pub ciphertext: Vec<u8>,
    pub digest: [u8; 32],
    pub recipients: Vec<HybridRecipientTrace>,
    pub message: Vec<u8>,
}

/// A hybrid multi-recipient message (type `0x34`) for `(recipient, key id, ek, m)` each,
/// with message secret `message_key`, and its split envelopes (type `0x35`).
pub fn seal_hybrid_multi(
    sender: &Key,
    recipients: &[(&Key, u32, &[u8], [u8; 32])],
    message_key: [u8; 32],
    padded: &[u8],
) -> HybridMultiTrace {
    let (e, body_key) = multi_keys(&message_key);
    let ephemeral_public = x25519(e, X25519_BASEPOINT_BYTES);
    let ciphertext = aead_seal(&body_key, &body_ad(&ephemeral_public), padded);
    let digest = sha256(&ciphertext);
    let count = u16::try_from(recipients.len()).expect("count");
    let mut message = cat(&[
        &[VERSION, TYPE_HYBRID_MULTI_RECIPIENT],
        &ephemeral_public,
        &count.to_be_bytes(),
    ]);
    let mut traces = Vec::new();
    for (recipient, key_id, ek, m) in recipients {
        let (kem_shared, kem_ciphertext) = kem_encaps(ek, m);
        let dh_ephemeral = x25519_dh(&e, &recipient.x_public);
        let wrap_key: [u8; 32] = arr(&hkdf(
            &[0u8; 32],
            &cat(&[&dh_ephemeral, &kem_shared]),
            &cat(&[
                LABEL_MULTI_HYBRID_WRAP,
                &ephemeral_public,
                &recipient.ed_public,
                &key_id.to_be_bytes(),
                &sha256(ek),
                &kem_ciphertext,
            ]),
            32,
        ));
        let wrapped = xor32(&message_key, &wrap_key);
        let dh_static = x25519_dh(&sender.x_secret, &recipient.x_public);
        let tag: [u8; 16] = arr(&hkdf(
            &[0u8; 32],
            &dh_static,
            &cat(&[
                LABEL_MULTI_HYBRID_AUTH,
                &ephemeral_public,
                &recipient.ed_public,
                &key_id.to_be_bytes(),
                &kem_ciphertext,
                &wrapped,
                &sender.ed_public,
                &digest,
            ]),
            16,
        ));
        message.extend_from_slice(&cat(&[
            &recipient.ed_public,
            &key_id.to_be_bytes(),
            &kem_ciphertext,
            &wrapped,
            &tag,
        ]));
        let envelope = cat(&[
            &[VERSION, TYPE_HYBRID_RECIPIENT_ENVELOPE],
            &recipient.ed_public,
            &ephemeral_public,
            &key_id.to_be_bytes(),
            &kem_ciphertext,
            &wrapped,
            &tag,
            &ciphertext,
        ]);
        traces.push(HybridRecipientTrace {
            kem_shared,
            kem_ciphertext,
            dh_ephemeral,
            wrap_key,
            wrapped,
            dh_static,
            tag,
            envelope,
        });
    }
    message.extend_from_slice(&ciphertext);
    HybridMultiTrace {
        ephemeral_public,
        body_key,
        ciphertext,
        digest,
        recipients: traces,
        message,
    }
}
