//! Session setup (the PQXDH-style hybrid key agreement), in full and in its three parts, each
//! beside its floor: the sum of the primitive operations it must do.
//!
//! - `setup_publish`: the responder creates an account with one one-time X25519 prekey and
//!   one one-time ML-KEM prekey, and encodes the bundle the server hands out;
//! - `setup_initiate`: the initiator decodes and verifies the bundle, builds its session and
//!   encrypts the first (prekey) message;
//! - `setup_respond`: the responder builds its session from that message and decrypts it;
//! - `setup_full`: all three.

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
use ed25519_dalek::SigningKey;
use hushwire::{Account, PreKeyBundle};
use ml_kem::array::Array;
use ml_kem::kem::{Decapsulate, Encapsulate, KeyExport};
use ml_kem::ml_kem_768::{Ciphertext, DecapsulationKey, EncapsulationKey};
use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;

use common::fixtures::{NOW, responder, rng};
use common::floor::{self, ChainFloor};

/// Long-term keys of the floor's responder, as the floor's initiator sees them published.
struct FloorResponder {
    identity: SigningKey,
    identity_public: [u8; 32],
    identity_dh: StaticSecret,
    signed_prekey: StaticSecret,
    signed_prekey_public: [u8; 32],
    signed_prekey_signature: [u8; 64],
    one_time: StaticSecret,
    one_time_public: [u8; 32],
    kem: DecapsulationKey,
    kem_public: Vec<u8>,
    kem_signature: [u8; 64],
}

/// Publish floor: an Ed25519 identity (and its X25519 form), a signed X25519 prekey, a
/// signed last-resort ML-KEM-768 prekey, a one-time X25519 prekey and a signed one-time
/// ML-KEM-768 prekey: one Ed25519 key generation, two X25519 and two ML-KEM key
/// generations, three signatures.
fn floor_publish(rng: &mut ChaCha20Rng) -> FloorResponder {
    let identity = SigningKey::from_bytes(&floor::random::<32>(rng));
    let identity_dh = StaticSecret::from(identity.to_scalar_bytes());
    let identity_public = identity.verifying_key().to_bytes();
    black_box(identity.verifying_key().to_montgomery());
    let (signed_prekey, signed_prekey_public) = floor::x25519_keygen(rng);
    let mut m = Vec::with_capacity(80);
    m.extend_from_slice(b"hushwire/v1/sig/signed-prekey");
    m.extend_from_slice(&1u32.to_be_bytes());
    m.extend_from_slice(&signed_prekey_public);
    let signed_prekey_signature = floor::sign(&identity, &m);
    let mut kem_signature = [0u8; 64];
    let mut last = None;
    for _ in 0..2 {
        let kem = DecapsulationKey::from_seed(Array::from(floor::random::<64>(rng)));
        let kem_public = kem.encapsulation_key().to_bytes().to_vec();
        let mut m = Vec::with_capacity(1250);
        m.extend_from_slice(b"hushwire/v1/sig/kem-prekey");
        m.extend_from_slice(&2u32.to_be_bytes());
        m.push(1);
        m.extend_from_slice(&kem_public);
        kem_signature = floor::sign(&identity, &m);
        last = Some((kem, kem_public));
    }
    let (kem, kem_public) = last.unwrap();
    let (one_time, one_time_public) = floor::x25519_keygen(rng);
    FloorResponder {
        identity,
        identity_public,
        identity_dh,
        signed_prekey,
        signed_prekey_public,
        signed_prekey_signature,
        one_time,
        one_time_public,
        kem,
        kem_public,
        kem_signature,
    }
}

/// What the floor's initiator sends.
struct FloorFirst {
    identity_public: [u8; 32],
    base_public: [u8; 32],
    ratchet_public: [u8; 32],
    kem_ciphertext: Vec<u8>,
    message: common::floor::FloorMessage,
    body: [u8; 5],
}

/// The key-agreement KDF: SHA-256 of the ML-KEM public key and ciphertext, then HKDF over
/// the four DH outputs and the KEM secret, 160 bytes out.
fn floor_agreement_kdf(dhs: &[[u8; 32]; 4], kem: &[u8], kem_public: &[u8], ct: &[u8]) {
    let mut ikm = [0xffu8; 32 * 6];
    for (i, d) in dhs.iter().enumerate() {
        ikm[32 * (i + 1)..32 * (i + 2)].copy_from_slice(d);
    }
    ikm[160..].copy_from_slice(kem);
    let pk_hash: [u8; 32] = Sha256::digest(kem_public).into();
    let ct_hash: [u8; 32] = Sha256::digest(ct).into();
    black_box(floor::hkdf::<160>(
        &[0u8; 32],
        &ikm,
        &[
            b"hushwire/v1/pqxdh",
            &[1u8; 32],
            &[2u8; 32],
            &[3u8; 32],
            &[4u8; 32],
            &[1],
            &[5u8; 32],
            &pk_hash,
            &ct_hash,
        ],
    ));
}

/// Initiate floor: validate the responder's identity key (decompression, subgroup check,
/// X25519 form), verify two prekey signatures, generate the base key, four DH, one ML-KEM
/// encapsulation (with parsing the encapsulation key), the key-agreement KDF, then the first
/// ratchet step (a key generation, one DH, one root step) and one same-chain encrypt.
fn floor_initiate(
    alice: &SigningKey,
    alice_dh: &StaticSecret,
    bob: &FloorResponder,
    rng: &mut ChaCha20Rng,
) -> FloorFirst {
    let bob_dh = floor::identity_key_from_bytes(&bob.identity_public);
    let verifying = bob.identity.verifying_key();
    let mut m = Vec::with_capacity(80);
    m.extend_from_slice(b"hushwire/v1/sig/signed-prekey");
    m.extend_from_slice(&1u32.to_be_bytes());
    m.extend_from_slice(&bob.signed_prekey_public);
    floor::verify(&verifying, &m, &bob.signed_prekey_signature);
    let mut m = Vec::with_capacity(1250);
    m.extend_from_slice(b"hushwire/v1/sig/kem-prekey");
    m.extend_from_slice(&2u32.to_be_bytes());
    m.push(1);
    m.extend_from_slice(&bob.kem_public);
    floor::verify(&verifying, &m, &bob.kem_signature);

    let (base, base_public) = floor::x25519_keygen(rng);
    let dhs = [
        floor::dh(alice_dh, &bob.signed_prekey_public),
        floor::dh(&base, &bob_dh),
        floor::dh(&base, &bob.signed_prekey_public),
        floor::dh(&base, &bob.one_time_public),
    ];
    let ek = EncapsulationKey::new(&Array::try_from(bob.kem_public.as_slice()).unwrap()).unwrap();
    let (ct, kem_secret) = ek.encapsulate_with_rng(rng);
    floor_agreement_kdf(&dhs, kem_secret.as_slice(), &bob.kem_public, ct.as_slice());

    let (ratchet, ratchet_public) = floor::x25519_keygen(rng);
    let dh = floor::dh(&ratchet, &bob.signed_prekey_public);
    black_box(floor::root_step(&[1u8; 32], &dh));
    let mut body = *b"hello";
    let message = ChainFloor::new().encrypt(rng, &mut body);
    FloorFirst {
        identity_public: alice.verifying_key().to_bytes(),
        base_public,
        ratchet_public,
        kem_ciphertext: ct.as_slice().to_vec(),
        message,
        body,
    }
}

/// Respond floor: validate the initiator's identity key, four DH, one ML-KEM decapsulation,
/// the key-agreement KDF and a SHA-256 of the prekey fields, then the first decrypt (one DH,
/// one root step, one same-chain decrypt).
fn floor_respond(bob: &FloorResponder, first: &mut FloorFirst) {
    let alice_dh = floor::identity_key_from_bytes(&first.identity_public);
    let dhs = [
        floor::dh(&bob.signed_prekey, &alice_dh),
        floor::dh(&bob.identity_dh, &first.base_public),
        floor::dh(&bob.signed_prekey, &first.base_public),
        floor::dh(&bob.one_time, &first.base_public),
    ];
    let ct = Ciphertext::try_from(first.kem_ciphertext.as_slice()).unwrap();
    let kem_secret = bob.kem.decapsulate(&ct);
    floor_agreement_kdf(
        &dhs,
        kem_secret.as_slice(),
        &bob.kem_public,
        &first.kem_ciphertext,
    );
    let mut fields = Vec::with_capacity(1200);
    fields.extend_from_slice(&first.identity_public);
    fields.extend_from_slice(&first.base_public);
    fields.extend_from_slice(&first.kem_ciphertext);
    black_box(Sha256::digest(&fields));

    let dh = floor::dh(&bob.signed_prekey, &first.ratchet_public);
    black_box(floor::root_step(&[1u8; 32], &dh));
    ChainFloor::new().decrypt(&mut first.message, &mut first.body);
}

fn setup(c: &mut Criterion) {
    let mut rng = rng(4);
    let alice = Account::new(NOW, &mut rng);

    let mut group = c.benchmark_group("setup_publish");
    group.bench_function("hushwire", |bench| bench.iter(|| responder(&mut rng)));
    group.bench_function("floor", |bench| bench.iter(|| floor_publish(&mut rng)));
    group.finish();

    let (bob, bundle) = responder(&mut rng);
    let mut group = c.benchmark_group("setup_initiate");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| {
            let bundle = PreKeyBundle::from_bytes(black_box(&bundle)).unwrap();
            let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
            s.encrypt(b"hello", &mut rng).unwrap()
        })
    });
    let alice_floor = SigningKey::from_bytes(&[3u8; 32]);
    let alice_floor_dh = StaticSecret::from(alice_floor.to_scalar_bytes());
    let bob_floor = floor_publish(&mut rng);
    group.bench_function("floor", |bench| {
        bench.iter(|| floor_initiate(&alice_floor, &alice_floor_dh, &bob_floor, &mut rng))
    });
    group.finish();

    let mut group = c.benchmark_group("setup_respond");
    let bundle = PreKeyBundle::from_bytes(&bundle).unwrap();
    group.bench_function("hushwire", |bench| {
        bench.iter_batched(
            || {
                let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
                (bob.clone(), s.encrypt(b"hello", &mut rng).unwrap())
            },
            |(mut bob, first)| {
                let inbound = bob.create_inbound_session(black_box(&first), NOW).unwrap();
                (bob, inbound)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("floor", |bench| {
        bench.iter_batched_ref(
            || floor_initiate(&alice_floor, &alice_floor_dh, &bob_floor, &mut rng),
            |first| floor_respond(&bob_floor, first),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("setup_full");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| common::fixtures::setup(&alice, &mut rng))
    });
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            let bob = floor_publish(&mut rng);
            let mut first = floor_initiate(&alice_floor, &alice_floor_dh, &bob, &mut rng);
            floor_respond(&bob, &mut first);
        })
    });
    group.finish();
}

criterion_group!(benches, setup);
criterion_main!(benches);
