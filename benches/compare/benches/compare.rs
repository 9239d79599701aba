//! hushwire beside vodozemac (Olm and Megolm, `SessionConfig::version_1`), in the same run, on
//! the scenarios both can do. Messages in wire form for both: hushwire's bytes as they are,
//! vodozemac's through `OlmMessage::to_parts`/`from_parts` and `MegolmMessage::to_bytes`/
//! `from_bytes`. Every group is named `vs_*` and has a `hushwire` and a `vodozemac` entry.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../common/fixtures.rs"]
mod fixtures;

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hushwire::{Account, Session, StorageKey};
use vodozemac::megolm::{
    self, GroupSession, InboundGroupSession, InboundGroupSessionPickle, MegolmMessage,
};
use vodozemac::olm::{self, OlmMessage, SessionConfig, SessionPickle};

use fixtures::{GroupPair, NOW, SIZES, established, rng, size_label};

const PICKLE_KEY: [u8; 32] = [9u8; 32];

/// vodozemac's full setup: Bob creates an account with one one-time key, Alice creates the
/// outbound session and encrypts the first (pre-key) message, Bob creates the inbound
/// session from it (which decrypts it). Alice's account exists already, as in hushwire's.
fn vz_setup(alice: &olm::Account) -> (olm::Session, olm::Session) {
    let mut bob = olm::Account::new();
    bob.generate_one_time_keys(1);
    let identity = bob.curve25519_key();
    let one_time = *bob.one_time_keys().values().next().unwrap();
    bob.mark_keys_as_published();
    let mut a = alice
        .create_outbound_session(SessionConfig::version_1(), identity, one_time)
        .unwrap();
    let (kind, bytes) = a.encrypt(b"hello").unwrap().to_parts();
    let OlmMessage::PreKey(first) = OlmMessage::from_parts(kind, &bytes).unwrap() else {
        panic!("the first message is a pre-key message")
    };
    let inbound = bob
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
        .unwrap();
    (a, inbound.session)
}

/// An established vodozemac session (one message each way), Alice's side first.
fn vz_established() -> (olm::Session, olm::Session) {
    let alice = olm::Account::new();
    let (mut a, mut b) = vz_setup(&alice);
    let reply = b.encrypt(b"hi").unwrap();
    a.decrypt(&reply).unwrap();
    (a, b)
}

/// Encrypts to wire form.
fn vz_encrypt(s: &mut olm::Session, plaintext: &[u8]) -> (usize, Vec<u8>) {
    s.encrypt(plaintext).unwrap().to_parts()
}

/// Decrypts from wire form.
fn vz_decrypt(s: &mut olm::Session, wire: &(usize, Vec<u8>)) -> Vec<u8> {
    s.decrypt(&OlmMessage::from_parts(wire.0, &wire.1).unwrap())
        .unwrap()
}

fn setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("vs_setup_full");
    let mut rng = rng(20);
    let alice = Account::new(NOW, &mut rng);
    group.bench_function("hushwire", |b| b.iter(|| fixtures::setup(&alice, &mut rng)));
    let vz_alice = olm::Account::new();
    group.bench_function("vodozemac", |b| b.iter(|| vz_setup(&vz_alice)));
    group.finish();
}

fn same_chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("vs_round_trip");
    for size in SIZES {
        let label = size_label(size);
        group.throughput(Throughput::Bytes(size as u64));
        let plaintext = vec![0x42u8; size];
        let (mut rng, mut a, mut b) = established(21);
        group.bench_function(BenchmarkId::new("hushwire", &label), |bench| {
            bench.iter(|| {
                let m = a.encrypt(black_box(&plaintext), &mut rng).unwrap();
                b.decrypt(&m).unwrap()
            })
        });
        let (mut va, mut vb) = vz_established();
        group.bench_function(BenchmarkId::new("vodozemac", &label), |bench| {
            bench.iter(|| {
                let m = vz_encrypt(&mut va, black_box(&plaintext));
                vz_decrypt(&mut vb, &m)
            })
        });
    }
    group.finish();
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("vs_ping_pong");
    let (mut rng, mut a, mut b) = established(22);
    group.bench_function("hushwire", |bench| {
        bench.iter(|| {
            let m = a.encrypt(b"ping", &mut rng).unwrap();
            let _ = black_box(b.decrypt(&m).unwrap());
            let m = b.encrypt(b"pong", &mut rng).unwrap();
            black_box(a.decrypt(&m).unwrap())
        })
    });
    let (mut va, mut vb) = vz_established();
    group.bench_function("vodozemac", |bench| {
        bench.iter(|| {
            let m = vz_encrypt(&mut va, b"ping");
            black_box(vz_decrypt(&mut vb, &m));
            let m = vz_encrypt(&mut vb, b"pong");
            black_box(vz_decrypt(&mut va, &m))
        })
    });
    group.finish();
}

/// Newest first, up to vodozemac's limit of 40 stored message keys per chain.
fn out_of_order(c: &mut Criterion) {
    let mut group = c.benchmark_group("vs_out_of_order");
    let count = 40usize;
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function(BenchmarkId::new("hushwire", count), |bench| {
        bench.iter_batched(
            || {
                let (mut rng, mut a, b) = established(23);
                let msgs: Vec<Vec<u8>> = (0..count)
                    .map(|_| a.encrypt(&[0u8; 32], &mut rng).unwrap())
                    .collect();
                (b, msgs)
            },
            |(mut b, msgs)| {
                for m in msgs.iter().rev() {
                    let _ = black_box(b.decrypt(m).unwrap());
                }
                (b, msgs)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function(BenchmarkId::new("vodozemac", count), |bench| {
        bench.iter_batched(
            || {
                let (mut a, b) = vz_established();
                let msgs: Vec<(usize, Vec<u8>)> =
                    (0..count).map(|_| vz_encrypt(&mut a, &[0u8; 32])).collect();
                (b, msgs)
            },
            |(mut b, msgs)| {
                for m in msgs.iter().rev() {
                    black_box(vz_decrypt(&mut b, m));
                }
                (b, msgs)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn groups(c: &mut Criterion) {
    let plaintext = [0x42u8; 256];
    let mut rng = rng(24);
    let GroupPair { mut alice, .. } = GroupPair::new(&mut rng);
    let mut outbound = GroupSession::new(megolm::SessionConfig::version_1());
    let mut inbound =
        InboundGroupSession::new(&outbound.session_key(), megolm::SessionConfig::version_1());

    let mut group = c.benchmark_group("vs_group_encrypt");
    group.bench_function("hushwire", |b| {
        b.iter(|| alice.encrypt(black_box(&plaintext), &mut rng).unwrap())
    });
    group.bench_function("vodozemac", |b| {
        b.iter(|| outbound.encrypt(black_box(plaintext)).to_bytes())
    });
    group.finish();

    // A fresh pair: Bob must receive every message of Alice's chain (a group message may
    // jump at most MAX_GROUP_JUMP positions ahead).
    let GroupPair {
        mut alice, mut bob, ..
    } = GroupPair::new(&mut rng);
    let mut group = c.benchmark_group("vs_group_decrypt");
    group.bench_function("hushwire", |b| {
        b.iter_batched_ref(
            || alice.encrypt(&plaintext, &mut rng).unwrap(),
            |m| bob.decrypt(black_box(m), NOW).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("vodozemac", |b| {
        b.iter_batched_ref(
            || outbound.encrypt(plaintext).to_bytes(),
            |m| {
                inbound
                    .decrypt(&MegolmMessage::from_bytes(black_box(m)).unwrap())
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn persistence(c: &mut Criterion) {
    let (mut rng, a, _b) = established(25);
    let key = StorageKey::from_bytes(PICKLE_KEY);
    let blob = a.to_encrypted(&key, 1, &mut rng);
    let (va, _vb) = vz_established();
    let pickle = va.pickle().encrypt(&PICKLE_KEY);

    let mut group = c.benchmark_group("vs_session_export");
    group.bench_function("hushwire", |b| {
        b.iter(|| black_box(&a).to_encrypted(&key, 1, &mut rng))
    });
    group.bench_function("vodozemac", |b| {
        b.iter(|| black_box(&va).pickle().encrypt(&PICKLE_KEY))
    });
    group.finish();

    let mut group = c.benchmark_group("vs_session_import");
    group.bench_function("hushwire", |b| {
        b.iter(|| Session::from_encrypted(black_box(&blob), &key, 0, &hushwire::persist::Expected::any()).unwrap())
    });
    group.bench_function("vodozemac", |b| {
        b.iter(|| {
            olm::Session::from_pickle(
                SessionPickle::from_encrypted(black_box(&pickle), &PICKLE_KEY).unwrap(),
            )
        })
    });
    group.finish();

    // A group receiver: hushwire's is Bob's group session in a two-member group, holding
    // Alice's sender key (and its own); vodozemac's is the inbound Megolm session of one sender.
    let GroupPair { bob, .. } = GroupPair::new(&mut rng);
    let blob = bob.to_encrypted(&key, 1, &mut rng);
    let outbound = GroupSession::new(megolm::SessionConfig::version_1());
    let inbound =
        InboundGroupSession::new(&outbound.session_key(), megolm::SessionConfig::version_1());
    let pickle = inbound.pickle().encrypt(&PICKLE_KEY);
    let mut group = c.benchmark_group("vs_group_receiver_import");
    group.bench_function("hushwire", |b| {
        b.iter(|| {
            hushwire::group::GroupSession::from_encrypted(
                black_box(&blob),
                &key,
                0,
                &hushwire::persist::Expected::any(),
            )
            .unwrap()
        })
    });
    group.bench_function("vodozemac", |b| {
        b.iter(|| {
            InboundGroupSession::from_pickle(
                InboundGroupSessionPickle::from_encrypted(black_box(&pickle), &PICKLE_KEY).unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    setup,
    same_chain,
    ping_pong,
    out_of_order,
    groups,
    persistence
);
criterion_main!(benches);
