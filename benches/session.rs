//! 1:1 session benchmarks, each beside its floor: the raw primitive work the design must do
//! for the same operation, measured in the same run. Messages are always in wire form.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use chacha20::ChaCha20Rng;
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::AeadInOut;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use hushwire::{Account, Session, Timestamp};
use rand_core::{Rng, SeedableRng};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

fn established(seed: u64) -> (ChaCha20Rng, Session, Session) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    bob.generate_one_time_prekeys(1, 1, NOW, &mut rng).unwrap();
    let bundle = bob.published_prekeys().take_bundle();
    let mut a = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = a.encrypt(b"hi", &mut rng).unwrap();
    let mut b = bob.create_inbound_session(&first, NOW).unwrap().session;
    let reply = b.encrypt(b"hello", &mut rng).unwrap();
    let _ = a.decrypt(&reply).unwrap();
    (rng, a, b)
}

/// One chain step: HMAC-SHA256 keyed by the chain key, twice.
fn floor_chain_step(ck: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(ck).unwrap();
    let mut m = keyed.clone();
    m.update(&[1]);
    let mut n = keyed;
    n.update(&[2]);
    (
        n.finalize().into_bytes().into(),
        m.finalize().into_bytes().into(),
    )
}

fn ring_key(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).unwrap())
}

/// The AEAD as hushwire uses it (ring), with a fresh key per call.
fn floor_seal(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], buf: &mut [u8]) -> Tag {
    ring_key(key)
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(ad), buf)
        .unwrap()
}

fn floor_open(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], buf: &mut [u8], tag: Tag) {
    ring_key(key)
        .open_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(ad),
            tag,
            buf,
            0..,
        )
        .unwrap();
}

/// The primitive work of one same-chain message, both sides: two chain steps, header AEAD
/// seal + open (40 bytes), body AEAD seal + open, the 12-byte header nonce, and the session
/// tag (two HMAC-SHA256 over a few dozen bytes) on the sending side.
fn floor_round_trip(rng: &mut ChaCha20Rng, ck: &[u8; 32], hk: &[u8; 32], body: &mut [u8]) {
    let (_, mk) = floor_chain_step(ck);
    let _ = floor_chain_step(hk);
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let mut header = [7u8; 40];
    let ad = [3u8; 66];
    let htag = floor_seal(hk, &nonce, &ad, &mut header);
    let bad = [5u8; 64 + 82];
    let btag = floor_seal(&mk, &nonce, &bad, body);
    let (_, mk2) = floor_chain_step(ck);
    floor_open(hk, &nonce, &ad, &mut header, htag);
    floor_open(&mk2, &nonce, &bad, body, btag);
}

fn same_chain(c: &mut Criterion) {
    for size in [32usize, 256, 4096, 65536] {
        let (mut rng, mut a, mut b) = established(1);
        let plaintext = vec![0x42u8; size];
        c.bench_function(&format!("round_trip/{size}B/hushwire"), |bench| {
            bench.iter(|| {
                let m = a.encrypt(black_box(&plaintext), &mut rng).unwrap();
                let _ = black_box(b.decrypt(&m).unwrap());
            })
        });
        let ck = [1u8; 32];
        let hk = [2u8; 32];
        let mut body = plaintext.clone();
        c.bench_function(&format!("round_trip/{size}B/floor"), |bench| {
            bench.iter(|| floor_round_trip(&mut rng, black_box(&ck), &hk, &mut body))
        });
    }
}

/// The fixed cost of one 256-byte AEAD call: ring (what hushwire uses) beside RustCrypto's
/// `chacha20poly1305` in the same build (see BENCHMARKS.md for why they differ).
fn aead_implementations(c: &mut Criterion) {
    let key = [7u8; 32];
    let nonce = [1u8; 12];
    let mut buf = [0u8; 256];
    c.bench_function("aead_256B/ring", |bench| {
        bench.iter(|| black_box(floor_seal(&key, &nonce, b"ad", &mut buf)))
    });
    c.bench_function("aead_256B/rustcrypto", |bench| {
        bench.iter(|| {
            let cipher = ChaCha20Poly1305::new(&key.into());
            black_box(
                cipher
                    .encrypt_inout_detached(&nonce.into(), b"ad", (&mut buf[..]).into())
                    .unwrap(),
            )
        })
    });
}

fn ping_pong(c: &mut Criterion) {
    let (mut rng, mut a, mut b) = established(2);
    c.bench_function("ping_pong/hushwire", |bench| {
        bench.iter(|| {
            let m = a.encrypt(b"ping", &mut rng).unwrap();
            let _ = black_box(b.decrypt(&m).unwrap());
            let m = b.encrypt(b"pong", &mut rng).unwrap();
            let _ = black_box(a.decrypt(&m).unwrap());
        })
    });
    // Floor of two ratchet turns: per turn one key generation, two X25519 DH and two
    // root-step HKDFs, plus the same-chain work of one message.
    let their = PublicKey::from(&StaticSecret::random_from_rng(&mut rng));
    let ck = [1u8; 32];
    let hk = [2u8; 32];
    let mut body = [0u8; 4];
    c.bench_function("ping_pong/floor", |bench| {
        bench.iter(|| {
            for _ in 0..2 {
                let ours = StaticSecret::random_from_rng(&mut rng);
                let _ = PublicKey::from(&ours);
                let d1 = ours.diffie_hellman(black_box(&their));
                let d2 = ours.diffie_hellman(black_box(&their));
                for d in [d1, d2] {
                    let hkdf = hkdf::Hkdf::<Sha256>::new(Some(&[9u8; 32]), d.as_bytes());
                    let mut okm = [0u8; 96];
                    hkdf.expand(b"hushwire/v1/ratchet/root", &mut okm).unwrap();
                    black_box(okm);
                }
                floor_round_trip(&mut rng, &ck, &hk, &mut body);
            }
        })
    });
}

fn out_of_order(c: &mut Criterion) {
    for count in [40usize, 100, 1000] {
        c.bench_function(&format!("out_of_order/{count}/hushwire"), |bench| {
            bench.iter_batched(
                || {
                    let (mut rng, mut a, b) = established(3);
                    let msgs: Vec<Vec<u8>> = (0..count)
                        .map(|_| a.encrypt(&[0u8; 32], &mut rng).unwrap())
                        .collect();
                    (b, msgs)
                },
                |(mut b, msgs)| {
                    for m in msgs.iter().rev() {
                        let _ = black_box(b.decrypt(m).unwrap());
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
}

fn setup(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    c.bench_function("setup/responder_publishes", |bench| {
        bench.iter(|| {
            let mut bob = Account::new(NOW, &mut rng);
            bob.generate_one_time_prekeys(1, 1, NOW, &mut rng).unwrap();
            black_box(bob.published_prekeys().take_bundle().to_bytes())
        })
    });
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let bundle = bob.published_prekeys().take_bundle();
    let bundle_bytes = bundle.to_bytes();
    c.bench_function("setup/initiator_session_and_first_encrypt", |bench| {
        bench.iter(|| {
            let bundle = hushwire::PreKeyBundle::from_bytes(&bundle_bytes).unwrap();
            let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
            black_box(s.encrypt(b"hello", &mut rng).unwrap())
        })
    });
    c.bench_function("setup/responder_session_and_first_decrypt", |bench| {
        bench.iter_batched(
            || {
                let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
                s.encrypt(b"hello", &mut rng).unwrap()
            },
            |first| black_box(bob.create_inbound_session(&first, NOW).unwrap()),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(
    benches,
    aead_implementations,
    same_chain,
    ping_pong,
    out_of_order,
    setup
);
criterion_main!(benches);
