//! The primitives themselves, as the floors use them: what each costs on this machine, so
//! the floors of the other benches can be read as sums of these.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use ml_kem::array::Array;
use ml_kem::kem::{Decapsulate, Encapsulate, KeyExport};
use ml_kem::ml_kem_768::{DecapsulationKey, EncapsulationKey};

use common::fixtures::rng;
use common::floor;

fn primitives(c: &mut Criterion) {
    let mut rng = rng(11);
    let mut group = c.benchmark_group("primitive");
    let (secret, public) = floor::x25519_keygen(&mut rng);
    group.bench_function("x25519_keygen", |b| {
        b.iter(|| floor::x25519_keygen(&mut rng))
    });
    group.bench_function("x25519_dh", |b| {
        b.iter(|| floor::dh(&secret, black_box(&public)))
    });
    let signing = SigningKey::from_bytes(&[1u8; 32]);
    let message = [5u8; 100];
    let signature = floor::sign(&signing, &message);
    let verifying = signing.verifying_key();
    group.bench_function("ed25519_keygen", |b| {
        b.iter(|| SigningKey::from_bytes(black_box(&[2u8; 32])))
    });
    group.bench_function("ed25519_sign_100B", |b| {
        b.iter(|| floor::sign(&signing, black_box(&message)))
    });
    group.bench_function("ed25519_verify_strict_100B", |b| {
        b.iter(|| floor::verify(&verifying, black_box(&message), &signature))
    });
    let identity = verifying.to_bytes();
    group.bench_function("ed25519_identity_key_validate", |b| {
        b.iter(|| floor::identity_key_from_bytes(black_box(&identity)))
    });
    group.bench_function("mlkem768_keygen", |b| {
        b.iter(|| {
            let dk = DecapsulationKey::from_seed(Array::from(floor::random::<64>(&mut rng)));
            dk.encapsulation_key().to_bytes()
        })
    });
    let dk = DecapsulationKey::from_seed(Array::from([3u8; 64]));
    let ek_bytes = dk.encapsulation_key().to_bytes();
    group.bench_function("mlkem768_encapsulate", |b| {
        b.iter(|| {
            let ek = EncapsulationKey::new(black_box(&ek_bytes)).unwrap();
            ek.encapsulate_with_rng(&mut rng)
        })
    });
    group.bench_function("mlkem768_decapsulate", |b| {
        b.iter_batched(
            || {
                let ek = EncapsulationKey::new(&ek_bytes).unwrap();
                ek.encapsulate_with_rng(&mut rng).0
            },
            |ct| dk.decapsulate(&ct),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hmac_sha256_chain_step", |b| {
        b.iter(|| floor::chain_step(black_box(&[4u8; 32])))
    });
    group.bench_function("hkdf_sha256_96B", |b| {
        b.iter(|| floor::root_step(black_box(&[4u8; 32]), &[5u8; 32]))
    });
    let mut buf = vec![0u8; 256];
    group.bench_function("chacha20poly1305_seal_256B", |b| {
        b.iter(|| floor::seal(&[7u8; 32], &[0u8; 12], b"", black_box(&mut buf)))
    });
    let mut buf = vec![0u8; 65536];
    group.bench_function("chacha20poly1305_seal_64KiB", |b| {
        b.iter(|| floor::seal(&[7u8; 32], &[0u8; 12], b"", black_box(&mut buf)))
    });
    group.finish();
}

criterion_group!(benches, primitives);
criterion_main!(benches);
