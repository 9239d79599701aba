//! The post-quantum ratchet (version-2 sessions, SPEC.md §5.9) beside version 1 and beside its
//! floor: `pq_ping_pong` runs a ratchet turn on every message with K = 1 (every message of the
//! initiator carries an ML-KEM key, every message of the responder the ciphertext answering
//! it), two messages per iteration.
//!
//! The floor of one iteration is version 1's (benches/session.rs `ping_pong`: per message an
//! X25519 keygen, two DHs, two root steps, a failed header open and the chain's AEADs) plus
//! what version 2 adds per round trip: one ML-KEM-768 KeyGen, one Encaps, one Decaps; per
//! message: the KEM part sealed and opened (1184 bytes each way) with its HMAC-derived key, and
//! on the ciphertext step the two SHA-256 of the transcript (ek, ct) on each side.
//!
//! Bytes per message and messages to heal are counts, not timings: they are computed
//! deterministically by `tests/api/pq_sessions.rs` (`pq_overhead_figures`) and
//! `src/ratchet/pq.rs` (`messages_to_heal_for_ping_pong_and_one_sided_traffic`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hushwire::{Account, Session, SessionVersion};
use ml_kem::array::Array;
use ml_kem::kem::{Decapsulate, Encapsulate, KeyExport};
use ml_kem::ml_kem_768::{DecapsulationKey, EncapsulationKey};
use sha2::{Digest, Sha256};

use common::fixtures::{NOW, rng};
use common::floor::{self, ChainFloor};

/// An established pair of `version` (the initiator has read one reply).
fn established(version: SessionVersion, seed: u64) -> (chacha20::ChaCha20Rng, Session, Session) {
    let mut rng = rng(seed);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let bundle = bob.published_prekeys().take_bundle();
    let mut a = alice
        .create_outbound_session_with_version(&bundle, version, &mut rng)
        .unwrap();
    let first = a.encrypt(b"hi", &mut rng).unwrap();
    let mut b = bob.create_inbound_session(&first, NOW).unwrap().session;
    let reply = b.encrypt(b"hi", &mut rng).unwrap();
    let _ = a.decrypt(&reply).unwrap();
    (rng, a, b)
}

fn pq_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("pq_ping_pong");
    for (name, version) in [
        ("hushwire_v1", SessionVersion::V1),
        ("hushwire_v2_k1", SessionVersion::V2),
    ] {
        let (mut rng, mut a, mut b) = established(version, 4);
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let m = a.encrypt(b"ping", &mut rng).unwrap();
                let _ = black_box(b.decrypt(&m).unwrap());
                let m = b.encrypt(b"pong", &mut rng).unwrap();
                black_box(a.decrypt(&m).unwrap())
            })
        });
    }

    let mut rng = rng(5);
    let (their, their_public) = floor::x25519_keygen(&mut rng);
    let chain = ChainFloor::new();
    let root = [9u8; 32];
    let mut body = [0u8; 4];
    let mut kem_part = [0u8; 1184];
    group.bench_function("floor_v2_k1", |bench| {
        bench.iter(|| {
            // Alice's key pair for her chain; Bob's ciphertext for his.
            let dk = DecapsulationKey::from_seed(Array::from(floor::random::<64>(&mut rng)));
            let ek_bytes = dk.encapsulation_key().to_bytes();
            let ek = EncapsulationKey::new(&ek_bytes).unwrap();
            let (ct, _ss) = ek.encapsulate_with_rng(&mut rng);
            black_box(dk.decapsulate(&ct));
            for side in 0..2 {
                // Version 1's work for the message.
                let (ours, ours_public) = floor::x25519_keygen(&mut rng);
                let dh = floor::dh(&ours, black_box(&their_public));
                black_box(floor::root_step(&root, &dh));
                let mut m = chain.encrypt(&mut rng, &mut body);
                floor::open_fails(
                    &[4u8; 32],
                    &m.nonce,
                    &[3u8; floor::HEADER_AD_LEN],
                    &mut m.header.clone(),
                    m.header_tag,
                );
                let dh = floor::dh(&their, black_box(&ours_public));
                black_box(floor::root_step(&root, &dh));
                chain.decrypt(&mut m, &mut body);
                // The KEM part: its key from the header key, sealed by the sender, opened by
                // the receiver (a new chain).
                let kk = floor::chain_step(black_box(&[4u8; 32])).0;
                let tag = floor::seal(&kk, &m.nonce, &[3u8; 83], &mut kem_part);
                let kk = floor::chain_step(black_box(&[4u8; 32])).0;
                floor::open(&kk, &m.nonce, &[3u8; 83], &mut kem_part, tag);
                if side == 1 {
                    // The ciphertext step's transcript, on both sides.
                    for _ in 0..2 {
                        black_box(Sha256::digest(ek_bytes.as_slice()));
                        black_box(Sha256::digest(ct.as_slice()));
                    }
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, pq_ping_pong);
criterion_main!(benches);
