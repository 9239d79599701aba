//! Sealed-envelope benchmarks, each beside its floor: seal and open of a session message with
//! 256 bytes of plaintext, and multi-recipient sealing for 1, 10, 100 and 1,000 recipients;
//! the same for hybrid (X25519 + ML-KEM-768) envelopes (SPEC.md §13.8), whose floors add the
//! ML-KEM operation, the hash of the encapsulation key and (when sealing) the check of the
//! published key's signature. The sizes of both kinds are printed first.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use chacha20::ChaCha20Rng;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use hushwire::sealed::{
    self, ENVELOPE_OVERHEAD, EnvelopeKeyPublic, HYBRID_RECIPIENT_HEADER_LEN,
    MULTI_RECIPIENT_OVERHEAD, RECIPIENT_HEADER_LEN,
};
use hushwire::{Account, ContentType, IdentityKey, IdentityKeyPair, Metadata};
use ml_kem::array::Array;
use ml_kem::kem::{Decapsulate, Encapsulate, KeyExport};
use ml_kem::ml_kem_768::{DecapsulationKey, EncapsulationKey};
use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;

use common::fixtures::{Deployment, NOW, established, rng};
use common::floor;

/// Seal floor: one static-static DH, an ephemeral key generation and DH, two HKDFs, the
/// 32-byte sender-key AEAD and the content AEAD over the padded content.
fn floor_seal(
    sender: &StaticSecret,
    recipient: &[u8; 32],
    padded: &mut [u8],
    rng: &mut ChaCha20Rng,
) -> [u8; 48] {
    let dh_static = floor::dh(sender, recipient);
    let (ephemeral, ephemeral_public) = floor::x25519_keygen(rng);
    let dh_ephemeral = floor::dh(&ephemeral, recipient);
    let keys = floor::hkdf::<64>(
        &[0u8; 32],
        &dh_ephemeral,
        &[
            b"hushwire/v1/sealed/ephemeral",
            &ephemeral_public,
            recipient,
        ],
    );
    let mut sender_part = [0u8; 48];
    sender_part[..32].copy_from_slice(&[9u8; 32]);
    let tag = floor::seal(
        keys[32..].try_into().unwrap(),
        &[0u8; 12],
        &[1u8; 66],
        &mut sender_part[..32],
    );
    sender_part[32..].copy_from_slice(tag.as_ref());
    let content_key = floor::hkdf::<32>(
        &keys[..32],
        &dh_static,
        &[
            b"hushwire/v1/sealed/static",
            &ephemeral_public,
            recipient,
            &sender_part,
        ],
    );
    let _ = black_box(floor::seal(&content_key, &[0u8; 12], &[2u8; 114], padded));
    sender_part
}

/// Open floor: the ephemeral DH and HKDF, the sender-key AEAD, validating the sender's
/// identity key, the static DH and HKDF, the content AEAD, and validating the sender
/// certificate: two strict Ed25519 verifications (server certificate by the root, sender
/// certificate by the server key). The AEADs are opened without authentication here (the
/// floor has no real envelope), which costs the same.
fn floor_open(
    recipient: &StaticSecret,
    ephemeral_public: &[u8; 32],
    sender_identity: &[u8; 32],
    certificate: &(SigningKey, [u8; 64], Vec<u8>),
    padded: &mut [u8],
) {
    let dh_ephemeral = floor::dh(recipient, ephemeral_public);
    let keys = floor::hkdf::<64>(
        &[0u8; 32],
        &dh_ephemeral,
        &[
            b"hushwire/v1/sealed/ephemeral",
            ephemeral_public,
            &[3u8; 32],
        ],
    );
    let mut sender_part = [0u8; 32];
    let tag: floor::Tag = [0u8; 16];
    let key: &[u8; 32] = keys[32..].try_into().unwrap();
    floor::open_fails(key, &[0u8; 12], &[1u8; 66], &mut sender_part, tag);
    let sender_dh = floor::identity_key_from_bytes(sender_identity);
    let dh_static = floor::dh(recipient, &sender_dh);
    let content_key = floor::hkdf::<32>(
        &keys[..32],
        &dh_static,
        &[
            b"hushwire/v1/sealed/static",
            ephemeral_public,
            &[3u8; 32],
            &[4u8; 48],
        ],
    );
    floor::open_fails(&content_key, &[0u8; 12], &[2u8; 114], padded, tag);
    let (issuer, signature, signed) = certificate;
    floor::verify(&issuer.verifying_key(), signed, signature);
    floor::verify(&issuer.verifying_key(), signed, signature);
}

/// Multi-recipient floor: the message secret, its HKDF, the ephemeral public key, the
/// content AEAD and its SHA-256; per recipient two DH (static, ephemeral) and two HKDFs
/// (wrapping key, authentication tag).
fn floor_seal_multi(
    sender: &StaticSecret,
    recipients: &[[u8; 32]],
    padded: &mut [u8],
    rng: &mut ChaCha20Rng,
) {
    let message_key = floor::random::<32>(rng);
    let keys = floor::hkdf::<64>(
        &[0u8; 32],
        &message_key,
        &[b"hushwire/v1/sealed/multi/keys"],
    );
    let ephemeral = StaticSecret::from(<[u8; 32]>::try_from(&keys[..32]).unwrap());
    let ephemeral_public = x25519_dalek::PublicKey::from(&ephemeral).to_bytes();
    let tag = floor::seal(
        keys[32..].try_into().unwrap(),
        &[0u8; 12],
        &ephemeral_public,
        padded,
    );
    let mut h = Sha256::new();
    h.update(&*padded);
    h.update(tag.as_ref());
    let digest: [u8; 32] = h.finalize().into();
    for recipient in recipients {
        let dh_static = floor::dh(sender, recipient);
        let dh_ephemeral = floor::dh(&ephemeral, recipient);
        let wrap = floor::hkdf::<32>(
            &[0u8; 32],
            &dh_ephemeral,
            &[
                b"hushwire/v1/sealed/multi/wrap",
                &ephemeral_public,
                recipient,
            ],
        );
        black_box(floor::hkdf::<16>(
            &[0u8; 32],
            &dh_static,
            &[
                b"hushwire/v1/sealed/multi/auth",
                &ephemeral_public,
                recipient,
                &wrap,
                &[5u8; 32],
                &digest,
            ],
        ));
    }
}

/// What the hybrid floors add per recipient when sealing: checking the published key's
/// signature, the FIPS 203 key check and the encapsulation, and hashing the key.
fn floor_kem_seal(
    ek_bytes: &[u8],
    signed: &(SigningKey, [u8; 64], Vec<u8>),
    rng: &mut ChaCha20Rng,
) -> [u8; 32] {
    let (issuer, signature, message) = signed;
    floor::verify(&issuer.verifying_key(), message, signature);
    let key: Array<u8, _> = Array::try_from(ek_bytes).unwrap();
    let ek = EncapsulationKey::new(&key).unwrap();
    let (ct, ss) = ek.encapsulate_with_rng(rng);
    black_box(ct);
    black_box(Sha256::digest(ek_bytes));
    let mut out = [0u8; 32];
    out.copy_from_slice(ss.as_slice());
    out
}

/// What the hybrid floor adds when opening: the decapsulation and the hash of the key.
fn floor_kem_open(dk: &DecapsulationKey, ek_bytes: &[u8], ct: &ml_kem::ml_kem_768::Ciphertext) {
    black_box(dk.decapsulate(ct));
    black_box(Sha256::digest(ek_bytes));
}

/// Prints the sizes SPEC.md §13.8.7 states, for the benchmark's 256-byte session message.
fn print_sizes(metadata: &Metadata, certificate: &hushwire::SenderCertificate, len: usize) {
    let single = sealed::envelope_len(metadata, certificate, len);
    let hybrid = sealed::hybrid_envelope_len(metadata, certificate, len);
    println!(
        "sizes (inner message {len} bytes): envelope classical {single} B, hybrid {hybrid} B \
         (+{} B); per multi-recipient recipient classical {RECIPIENT_HEADER_LEN} B, hybrid \
         {HYBRID_RECIPIENT_HEADER_LEN} B (+{} B)",
        hybrid - single,
        HYBRID_RECIPIENT_HEADER_LEN - RECIPIENT_HEADER_LEN
    );
    for n in [1usize, 10, 100, 1000] {
        println!(
            "sizes: multi-recipient message for {n}: classical {} B, hybrid {} B",
            sealed::multi_recipient_len(metadata, certificate, len, n),
            sealed::hybrid_multi_recipient_len(metadata, certificate, len, n)
        );
    }
}

/// Hybrid seal and open, and hybrid multi-recipient sealing, each beside its floor.
fn hybrid(c: &mut Criterion) {
    let mut rng = rng(9);
    let deployment = Deployment::new(&mut rng);
    let sender = IdentityKeyPair::generate(&mut rng);
    let mut recipient = Account::new(NOW, &mut rng);
    recipient.enable_hybrid_envelopes(NOW, &mut rng);
    let key = recipient.envelope_key().unwrap();
    let certificate = deployment.certify(sender.public());
    let metadata = Metadata::new(ContentType::SESSION, NOW);
    let (mut session_rng, mut a, _b) = established(10);
    let message = a.encrypt(&[0x42u8; 256], &mut session_rng).unwrap();
    print_sizes(&metadata, &certificate, message.len());
    let padded_len =
        sealed::envelope_len(&metadata, &certificate, message.len()) - ENVELOPE_OVERHEAD;
    let mut padded = vec![0u8; padded_len];

    let sender_floor = StaticSecret::random_from_rng(&mut rng);
    let (recipient_floor, recipient_floor_public) = floor::x25519_keygen(&mut rng);
    let issuer = SigningKey::from_bytes(&[6u8; 32]);
    let signed = vec![1u8; 200];
    let floor_certificate = (issuer.clone(), floor::sign(&issuer, &signed), signed);
    let kem_signed = vec![2u8; 1220];
    let floor_key_signature = (
        issuer.clone(),
        floor::sign(&issuer, &kem_signed),
        kem_signed,
    );
    let dk = DecapsulationKey::from_seed(Array::from([7u8; 64]));
    let ek_bytes = dk.encapsulation_key().to_bytes().to_vec();
    let (floor_ct, _) = dk.encapsulation_key().encapsulate_with_rng(&mut rng);

    let mut group = c.benchmark_group("sealed_hybrid_seal");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| {
            sealed::seal_hybrid(
                &sender,
                &certificate,
                &key,
                &metadata,
                black_box(&message),
                &mut rng,
            )
            .unwrap()
        })
    });
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            floor_kem_seal(&ek_bytes, &floor_key_signature, &mut rng);
            floor_seal(
                &sender_floor,
                &recipient_floor_public,
                &mut padded,
                &mut rng,
            )
        })
    });
    group.finish();

    let envelope =
        sealed::seal_hybrid(&sender, &certificate, &key, &metadata, &message, &mut rng).unwrap();
    let keys = recipient.recipient_keys(NOW);
    let mut group = c.benchmark_group("sealed_hybrid_open");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| {
            sealed::open_with(&keys, black_box(&envelope), &deployment.trust, NOW).unwrap()
        })
    });
    let ephemeral_public = floor::x25519_keygen(&mut rng).1;
    let sender_identity = sender.public().to_bytes();
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            floor_kem_open(&dk, &ek_bytes, &floor_ct);
            floor_open(
                &recipient_floor,
                &ephemeral_public,
                &sender_identity,
                &floor_certificate,
                &mut padded,
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sealed_hybrid_seal_multi");
    group.sample_size(10);
    for count in [1usize, 10, 100] {
        group.throughput(Throughput::Elements(count as u64));
        let accounts: Vec<Account> = (0..count)
            .map(|_| {
                let mut a = Account::new(NOW, &mut rng);
                a.enable_hybrid_envelopes(NOW, &mut rng);
                a
            })
            .collect();
        let published: Vec<EnvelopeKeyPublic> =
            accounts.iter().map(|a| a.envelope_key().unwrap()).collect();
        let refs: Vec<&EnvelopeKeyPublic> = published.iter().collect();
        group.bench_function(BenchmarkId::new("hushwire", count), |bench| {
            bench.iter(|| {
                sealed::seal_multi_hybrid(
                    &sender,
                    &certificate,
                    black_box(&refs),
                    &metadata,
                    &message,
                    &mut rng,
                )
                .unwrap()
            })
        });
        let recipients_floor: Vec<[u8; 32]> = (0..count)
            .map(|_| floor::x25519_keygen(&mut rng).1)
            .collect();
        let multi_padded_len =
            sealed::multi_recipient_len(&metadata, &certificate, message.len(), 1)
                - MULTI_RECIPIENT_OVERHEAD
                - RECIPIENT_HEADER_LEN;
        let mut multi_padded = vec![0u8; multi_padded_len];
        group.bench_function(BenchmarkId::new("floor", count), |bench| {
            bench.iter(|| {
                for _ in 0..count {
                    floor_kem_seal(&ek_bytes, &floor_key_signature, &mut rng);
                }
                floor_seal_multi(
                    &sender_floor,
                    &recipients_floor,
                    &mut multi_padded,
                    &mut rng,
                )
            })
        });
    }
    group.finish();
}

fn sealed(c: &mut Criterion) {
    let mut rng = rng(7);
    let deployment = Deployment::new(&mut rng);
    let sender = IdentityKeyPair::generate(&mut rng);
    let recipient = IdentityKeyPair::generate(&mut rng);
    let certificate = deployment.certify(sender.public());
    let metadata = Metadata::new(ContentType::SESSION, NOW);
    let (mut session_rng, mut a, _b) = established(8);
    let message = a.encrypt(&[0x42u8; 256], &mut session_rng).unwrap();
    let padded_len =
        sealed::envelope_len(&metadata, &certificate, message.len()) - ENVELOPE_OVERHEAD;
    let mut padded = vec![0u8; padded_len];

    let sender_floor = StaticSecret::random_from_rng(&mut rng);
    let (recipient_floor, recipient_floor_public) = floor::x25519_keygen(&mut rng);
    let issuer = SigningKey::from_bytes(&[6u8; 32]);
    let signed = vec![1u8; 200];
    let floor_certificate = (issuer.clone(), floor::sign(&issuer, &signed), signed);

    let mut group = c.benchmark_group("sealed_seal");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| {
            sealed::seal(
                &sender,
                &certificate,
                recipient.public(),
                &metadata,
                black_box(&message),
                &mut rng,
            )
            .unwrap()
        })
    });
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            floor_seal(
                &sender_floor,
                &recipient_floor_public,
                &mut padded,
                &mut rng,
            )
        })
    });
    group.finish();

    let envelope = sealed::seal(
        &sender,
        &certificate,
        recipient.public(),
        &metadata,
        &message,
        &mut rng,
    )
    .unwrap();
    let mut group = c.benchmark_group("sealed_open");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| {
            sealed::open(&recipient, black_box(&envelope), &deployment.trust, NOW).unwrap()
        })
    });
    let ephemeral_public = floor::x25519_keygen(&mut rng).1;
    let sender_identity = sender.public().to_bytes();
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            floor_open(
                &recipient_floor,
                &ephemeral_public,
                &sender_identity,
                &floor_certificate,
                &mut padded,
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sealed_seal_multi");
    group.sample_size(20);
    for count in [1usize, 10, 100, 1000] {
        group.throughput(Throughput::Elements(count as u64));
        let recipients: Vec<IdentityKey> = (0..count)
            .map(|_| *IdentityKeyPair::generate(&mut rng).public())
            .collect();
        group.bench_function(BenchmarkId::new("hushwire", count), |bench| {
            bench.iter(|| {
                sealed::seal_multi(
                    &sender,
                    &certificate,
                    black_box(&recipients),
                    &metadata,
                    &message,
                    &mut rng,
                )
                .unwrap()
            })
        });
        let recipients_floor: Vec<[u8; 32]> = (0..count)
            .map(|_| floor::x25519_keygen(&mut rng).1)
            .collect();
        let multi_padded_len =
            sealed::multi_recipient_len(&metadata, &certificate, message.len(), 1)
                - MULTI_RECIPIENT_OVERHEAD
                - RECIPIENT_HEADER_LEN;
        let mut multi_padded = vec![0u8; multi_padded_len];
        group.bench_function(BenchmarkId::new("floor", count), |bench| {
            bench.iter(|| {
                floor_seal_multi(
                    &sender_floor,
                    &recipients_floor,
                    &mut multi_padded,
                    &mut rng,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sealed, hybrid);
criterion_main!(benches);
