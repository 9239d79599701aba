//! Sender-key group benchmarks, each beside its floor: two-member group setup, and encrypt
//! and decrypt of a 256-byte message (wire form, signed by the sender key).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use chacha20::ChaCha20Rng;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hushwire::IdentityKeyPair;
use hushwire::group::{GROUP_MESSAGE_OVERHEAD, ROSTER_FIXED_LEN};

use common::fixtures::{GroupPair, NOW, group_setup, rng};
use common::floor;

/// Bytes of a group message header (the AEAD's associated data).
const HEADER_LEN: usize = GROUP_MESSAGE_OVERHEAD - 16 - 64;
const SIG_MESSAGE: &[u8] = b"hushwire/v1/sig/group-message";
const PLAINTEXT: [u8; 256] = [0x42; 256];

/// Group encrypt floor: a chain step, a 12-byte nonce, the AEAD (header as associated data)
/// and an Ed25519 signature over the label, header and ciphertext.
fn floor_encrypt(
    chain_key: &[u8; 32],
    signing: &SigningKey,
    rng: &mut ChaCha20Rng,
) -> (Vec<u8>, [u8; 64]) {
    let (_, mk) = floor::chain_step(chain_key);
    let nonce = floor::random::<12>(rng);
    let mut m = Vec::with_capacity(SIG_MESSAGE.len() + GROUP_MESSAGE_OVERHEAD + PLAINTEXT.len());
    m.extend_from_slice(SIG_MESSAGE);
    m.extend_from_slice(&[5u8; HEADER_LEN]);
    m.extend_from_slice(&PLAINTEXT);
    let (head, body) = m.split_at_mut(SIG_MESSAGE.len() + HEADER_LEN);
    let tag = floor::seal(&mk, &nonce, &head[SIG_MESSAGE.len()..], body);
    m.extend_from_slice(tag.as_ref());
    let signature = floor::sign(signing, &m);
    (m, signature)
}

/// Group decrypt floor: a strict Ed25519 verification, a chain step and the AEAD open.
fn floor_decrypt(chain_key: &[u8; 32], verifying: &VerifyingKey, m: &mut (Vec<u8>, [u8; 64])) {
    floor::verify(verifying, &m.0, &m.1);
    let (_, mk) = floor::chain_step(chain_key);
    let (head, rest) = m.0.split_at_mut(SIG_MESSAGE.len() + HEADER_LEN);
    let (body, tag) = rest.split_at_mut(PLAINTEXT.len());
    let tag: floor::Tag = (&tag[..]).try_into().unwrap();
    floor::open(&mk, &[0u8; 12], &head[SIG_MESSAGE.len()..], body, tag);
}

/// Group setup floor: per member a sender-key generation (32-byte chain key, Ed25519 key
/// generation); the creator signs the roster; the joiner validates both members' identity
/// keys and verifies the roster; each parses the other's sender signing key with the checks
/// of an identity key. Distribution messages carry no signature: the 1:1 session that
/// carries them authenticates them (its cost is not part of either side here).
fn floor_setup(alice: &SigningKey, bob: &SigningKey, rng: &mut ChaCha20Rng) {
    let roster = [7u8; ROSTER_FIXED_LEN - 64 + 2 * (32 + 1 + 8)];
    let roster_signature = floor::sign(alice, &roster);
    let mut sender_keys = Vec::new();
    for _ in [alice, bob] {
        let _chain_key = floor::random::<32>(rng);
        let sender_key = SigningKey::from_bytes(&floor::random::<32>(rng));
        sender_keys.push(sender_key.verifying_key().to_bytes());
    }
    floor::identity_key_from_bytes(&alice.verifying_key().to_bytes());
    floor::identity_key_from_bytes(&bob.verifying_key().to_bytes());
    floor::verify(&alice.verifying_key(), &roster, &roster_signature);
    for public in sender_keys {
        floor::identity_key_from_bytes(&public);
    }
}

fn group(c: &mut Criterion) {
    let mut rng = rng(6);
    let alice_id = IdentityKeyPair::generate(&mut rng);
    let bob_id = IdentityKeyPair::generate(&mut rng);
    let alice_floor = SigningKey::from_bytes(&[1u8; 32]);
    let bob_floor = SigningKey::from_bytes(&[2u8; 32]);

    let mut group = c.benchmark_group("group_setup");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| group_setup(&alice_id, &bob_id, &mut rng))
    });
    group.bench_function("floor", |bench| {
        bench.iter(|| floor_setup(&alice_floor, &bob_floor, &mut rng))
    });
    group.finish();

    let GroupPair { mut alice, .. } = GroupPair::new(&mut rng);
    let chain_key = [3u8; 32];
    let sender_key = SigningKey::from_bytes(&[4u8; 32]);
    let verifying = sender_key.verifying_key();

    let mut group = c.benchmark_group("group_encrypt");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| alice.encrypt(black_box(&PLAINTEXT), &mut rng).unwrap())
    });
    group.bench_function("floor", |bench| {
        bench.iter(|| floor_encrypt(&chain_key, &sender_key, &mut rng))
    });
    group.finish();

    // A fresh pair: Bob must receive every message of Alice's chain (a group message may
    // jump at most MAX_GROUP_JUMP positions ahead).
    let GroupPair {
        mut alice, mut bob, ..
    } = GroupPair::new(&mut rng);
    let mut group = c.benchmark_group("group_decrypt");
    group.bench_function("hushwire", |bench| {
        bench.iter_batched_ref(
            || alice.encrypt(&PLAINTEXT, &mut rng).unwrap(),
            |m| bob.decrypt(black_box(m), NOW).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let mut floor_rng = common::fixtures::rng(60);
    group.bench_function("floor", |bench| {
        bench.iter_batched_ref(
            || {
                let mut m = floor_encrypt(&chain_key, &sender_key, &mut floor_rng);
                // Decrypt under the nonce the floor's open uses.
                let (_, mk) = floor::chain_step(&chain_key);
                let (head, rest) = m.0.split_at_mut(SIG_MESSAGE.len() + HEADER_LEN);
                let (body, tag) = rest.split_at_mut(PLAINTEXT.len());
                body.copy_from_slice(&PLAINTEXT);
                let t = floor::seal(&mk, &[0u8; 12], &head[SIG_MESSAGE.len()..], body);
                tag.copy_from_slice(t.as_ref());
                m.1 = floor::sign(&sender_key, &m.0);
                m
            },
            |m| floor_decrypt(&chain_key, &verifying, m),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, group);
criterion_main!(benches);
