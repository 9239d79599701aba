//! Attachment benchmarks beside their floor, the bare AEAD over the same 64 KiB chunks:
//! streaming encryption and decryption of 1 MiB and 100 MiB files, time to the first verified
//! byte, and (printed, not timed) the bytes the format adds per MiB. Peak memory is measured by
//! `tests/attachment_memory.rs`.
//!
//! - `attachment_encrypt/hushwire`: `AttachmentEncryptor` fed 64 KiB pieces, its output taken
//!   (cleared) after each piece, as an uploader would; the SHA-256 of the object included.
//! - `attachment_encrypt/floor`: XChaCha20-Poly1305 in place over the same chunks (same nonce
//!   layout and associated data), nothing else; `floor_sha256` adds SHA-256 over the output.
//! - `attachment_decrypt/hushwire`: `AttachmentDecryptor` fed the object in 64 KiB pieces.
//! - `attachment_decrypt/floor`: the bare AEAD decrypting the same chunks in place.
//! - `attachment_first_byte`: from the pointer to the first verified chunk's bytes (key
//!   derivation, header check, one chunk), beside one bare chunk decryption.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hushwire::attachment::{
    AttachmentDecryptor, AttachmentEncryptor, AttachmentPointer, ChunkSize, ciphertext_len,
};
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

const CHUNK: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;
const SIZES: [(usize, &str); 2] = [(MIB, "1MiB"), (100 * MIB, "100MiB")];

fn encrypt_object(file: &[u8]) -> (Vec<u8>, AttachmentPointer) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut encryptor = AttachmentEncryptor::new(&mut rng);
    let mut object = Vec::new();
    encryptor.push(file, &mut object).unwrap();
    let pointer = encryptor.finish(&mut object).unwrap();
    (object, pointer)
}

/// The bare AEAD over `data` in 64 KiB chunks: nonce `prefix || u32be(i) || last`, a 38-byte
/// associated data, tags kept aside.
fn floor_seal(aead: &XChaCha20Poly1305, data: &mut [u8], tags: &mut Vec<[u8; 16]>, hash: bool) {
    let mut hasher = Sha256::new();
    let count = data.len().div_ceil(CHUNK);
    tags.clear();
    for (i, chunk) in data.chunks_mut(CHUNK).enumerate() {
        let mut nonce = [7u8; 24];
        nonce[19..23].copy_from_slice(&(i as u32).to_be_bytes());
        nonce[23] = u8::from(i + 1 == count);
        let tag = aead
            .encrypt_inout_detached(&nonce.into(), &[1u8; 38], chunk.into())
            .unwrap();
        if hash {
            hasher.update(&*chunk);
            hasher.update(tag);
        }
        tags.push(tag.into());
    }
    if hash {
        black_box(hasher.finalize());
    }
}

fn floor_open(aead: &XChaCha20Poly1305, data: &mut [u8], tags: &[[u8; 16]]) {
    let count = data.len().div_ceil(CHUNK);
    for (i, chunk) in data.chunks_mut(CHUNK).enumerate() {
        let mut nonce = [7u8; 24];
        nonce[19..23].copy_from_slice(&(i as u32).to_be_bytes());
        nonce[23] = u8::from(i + 1 == count);
        aead.decrypt_inout_detached(&nonce.into(), &[1u8; 38], chunk.into(), &tags[i].into())
            .unwrap();
    }
}

/// Bytes the format adds per MiB of file (header, padding, tags), printed with the results.
fn print_overhead() {
    for len in [
        4 * 1024u64,
        64 * 1024,
        MIB as u64,
        10 * MIB as u64,
        100 * MIB as u64,
        1024 * MIB as u64,
    ] {
        let total = ciphertext_len(len, ChunkSize::DEFAULT);
        let extra = total - len;
        println!(
            "attachment overhead: file {len} B -> object {total} B: +{extra} B ({:.3} %, \
             {:.0} B per MiB)",
            extra as f64 * 100.0 / len as f64,
            extra as f64 * MIB as f64 / len as f64
        );
    }
}

fn attachment(c: &mut Criterion) {
    print_overhead();
    let aead = XChaCha20Poly1305::new(&[9u8; 32].into());
    for (size, label) in SIZES {
        let file = vec![0x5a_u8; size];
        let (object, pointer) = encrypt_object(&file);
        let many = size >= 10 * MIB;

        let mut group = c.benchmark_group("attachment_encrypt");
        group.throughput(Throughput::Bytes(size as u64));
        if many {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(8));
        }
        group.bench_function(BenchmarkId::new("hushwire", label), |b| {
            let mut rng = ChaCha20Rng::seed_from_u64(2);
            let mut out = Vec::with_capacity(CHUNK + 64);
            b.iter(|| {
                let mut encryptor = AttachmentEncryptor::new(&mut rng);
                for piece in file.chunks(CHUNK) {
                    encryptor.push(piece, &mut out).unwrap();
                    black_box(&out);
                    out.clear();
                }
                loop {
                    let done = encryptor.finish_chunk(&mut out).unwrap();
                    black_box(&out);
                    out.clear();
                    if let Some(pointer) = done {
                        break pointer;
                    }
                }
            })
        });
        for (name, hash) in [("floor", false), ("floor_sha256", true)] {
            group.bench_function(BenchmarkId::new(name, label), |b| {
                let mut tags = Vec::with_capacity(size / CHUNK + 1);
                b.iter_batched_ref(
                    || file.clone(),
                    |data| floor_seal(&aead, data, &mut tags, hash),
                    BatchSize::LargeInput,
                )
            });
        }
        group.finish();

        let mut group = c.benchmark_group("attachment_decrypt");
        group.throughput(Throughput::Bytes(size as u64));
        if many {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(8));
        }
        group.bench_function(BenchmarkId::new("hushwire", label), |b| {
            let mut out = Vec::with_capacity(2 * CHUNK);
            b.iter(|| {
                let mut decryptor = AttachmentDecryptor::new(&pointer);
                for piece in object.chunks(CHUNK) {
                    decryptor.push(piece, &mut out).unwrap();
                    black_box(&out);
                    out.clear();
                }
                decryptor.finish().map_err(|(_, e)| e).unwrap();
            })
        });
        let mut sealed = file.clone();
        let mut tags = Vec::new();
        floor_seal(&aead, &mut sealed, &mut tags, false);
        group.bench_function(BenchmarkId::new("floor", label), |b| {
            b.iter_batched_ref(
                || sealed.clone(),
                |data| floor_open(&aead, data, &tags),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }

    // Time to first verified byte of a 100 MiB file.
    let file = vec![0x5a_u8; 100 * MIB];
    let (object, pointer) = encrypt_object(&file);
    drop(file);
    let first = &object[..38 + CHUNK + 16];
    let mut group = c.benchmark_group("attachment_first_byte");
    group.bench_function("hushwire", |b| {
        let mut out = Vec::with_capacity(CHUNK + 16);
        b.iter(|| {
            let pointer = AttachmentPointer::from_bytes(black_box(&pointer.to_bytes())).unwrap();
            let mut decryptor = AttachmentDecryptor::new(&pointer);
            decryptor.push(first, &mut out).unwrap();
            assert_eq!(out.len(), CHUNK);
            out.clear();
        })
    });
    let mut chunk = vec![0x5a_u8; CHUNK];
    let mut tags = Vec::new();
    floor_seal(&aead, &mut chunk, &mut tags, false);
    group.bench_function("floor", |b| {
        b.iter_batched_ref(
            || chunk.clone(),
            |data| floor_open(&aead, data, &tags),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, attachment);
criterion_main!(benches);
