//! An independent reference for attachments (SPEC.md §16), written from the specification
//! with primitive crates only (`hkdf`, `sha2`, `chacha20poly1305`'s XChaCha20-Poly1305 called
//! with explicit 24-byte nonces, no STREAM crate). `tests/api/attachment.rs` checks hushwire's
//! objects and pointers against it byte for byte.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used
)]

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};

pub const LABEL: &[u8] = b"hushwire/v1/attachment/stream";
pub const HEADER_LEN: usize = 38;
pub const TAG_LEN: usize = 16;

/// §16.4: the file, zeros, and `u64be(len)`, rounded up to 6 significant bits, at least 4096.
pub fn padded_len(len: u64) -> u64 {
    let content = (len + 8).max(4096);
    let mut e = 0u32;
    while (1u64 << (e + 1)) <= content {
        e += 1;
    }
    let step = 1u64 << (e - 5);
    content.div_ceil(step) * step
}

/// §16.3: the header.
pub fn header(chunk_log2: u8, salt: &[u8; 32]) -> Vec<u8> {
    let mut h = b"HWAT".to_vec();
    h.push(1);
    h.push(chunk_log2);
    h.extend_from_slice(salt);
    h
}

/// §16.3: `HKDF(salt, key, label, 51)` = stream key (32) || nonce prefix (19).
pub fn derive(key: &[u8; 32], salt: &[u8; 32]) -> ([u8; 32], [u8; 19]) {
    let mut okm = [0u8; 51];
    Hkdf::<Sha256>::new(Some(salt), key)
        .expand(LABEL, &mut okm)
        .unwrap();
    (okm[..32].try_into().unwrap(), okm[32..].try_into().unwrap())
}

/// §16.5.1: `prefix || u32be(index) || last`.
pub fn nonce(prefix: &[u8; 19], index: u32, last: bool) -> [u8; 24] {
    let mut n = [0u8; 24];
    n[..19].copy_from_slice(prefix);
    n[19..23].copy_from_slice(&index.to_be_bytes());
    n[23] = u8::from(last);
    n
}

/// One sealed chunk, as the vectors record it.
pub struct Chunk {
    pub index: u32,
    pub last: bool,
    pub nonce: [u8; 24],
    pub plain: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// A whole encrypted file.
pub struct Encrypted {
    pub header: Vec<u8>,
    pub stream_key: [u8; 32],
    pub nonce_prefix: [u8; 19],
    pub padded_len: u64,
    pub chunks: Vec<Chunk>,
    pub object: Vec<u8>,
    pub sha256: [u8; 32],
}

/// §16.5: pads the file, splits it into chunks and seals each with the header as AD.
pub fn encrypt(key: &[u8; 32], salt: &[u8; 32], chunk_log2: u8, file: &[u8]) -> Encrypted {
    let header = header(chunk_log2, salt);
    let (stream_key, nonce_prefix) = derive(key, salt);
    let padded = padded_len(file.len() as u64) as usize;
    let mut stream = file.to_vec();
    stream.resize(padded - 8, 0);
    stream.extend_from_slice(&(file.len() as u64).to_be_bytes());
    let aead = XChaCha20Poly1305::new(&stream_key.into());
    let size = 1usize << chunk_log2;
    let count = padded.div_ceil(size);
    let mut object = header.clone();
    let mut chunks = Vec::new();
    for (i, plain) in stream.chunks(size).enumerate() {
        let index = u32::try_from(i).unwrap();
        let last = i + 1 == count;
        let nonce = nonce(&nonce_prefix, index, last);
        let mut sealed = plain.to_vec();
        let tag = aead
            .encrypt_inout_detached(&nonce.into(), &header, sealed.as_mut_slice().into())
            .unwrap();
        sealed.extend_from_slice(&tag);
        object.extend_from_slice(&sealed);
        chunks.push(Chunk {
            index,
            last,
            nonce,
            plain: plain.to_vec(),
            sealed,
        });
    }
    assert_eq!(chunks.len(), count);
    Encrypted {
        header,
        stream_key,
        nonce_prefix,
        padded_len: padded as u64,
        sha256: Sha256::digest(&object).into(),
        chunks,
        object,
    }
}

/// §16.6.1: the pointer encoding.
#[allow(clippy::too_many_arguments)]
pub fn pointer(
    chunk_log2: u8,
    key: &[u8; 32],
    salt: &[u8; 32],
    sha256: &[u8; 32],
    plaintext_len: u64,
    ciphertext_len: u64,
    content_type: &str,
    file_name: &str,
    thumbnail: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x01, 0x60, 0x01, chunk_log2];
    p.extend_from_slice(key);
    p.extend_from_slice(salt);
    p.extend_from_slice(sha256);
    p.extend_from_slice(&plaintext_len.to_be_bytes());
    p.extend_from_slice(&ciphertext_len.to_be_bytes());
    p.push(content_type.len() as u8);
    p.extend_from_slice(content_type.as_bytes());
    p.push(file_name.len() as u8);
    p.extend_from_slice(file_name.as_bytes());
    p.extend_from_slice(&(thumbnail.len() as u16).to_be_bytes());
    p.extend_from_slice(thumbnail);
    p
}
