//! A device with `MAX_PEERS` = 10,000 peers, persisted as records (SPEC.md §11.9): the cost of
//! `encrypt_for` and `decrypt_from` together with writing the records they changed (one peer
//! record, whatever the number of peers), beside writing the whole account blob; and a cold
//! start (account record + identity book + the one peer needed) beside restoring the whole
//! device. Criterion measures time; the bytes written per message are printed once.
//!
//! Setup (not measured) builds the peers as a support desk meets them: each stranger's first
//! message on the operator's published last-resort keys, rotated when their replay records
//! fill. One customer has an answered conversation: the messages measured are with them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20::ChaCha20Rng;
use criterion::{Criterion, criterion_group, criterion_main};
use hushwire::persist::Expected;
use hushwire::{Device, IdentityKey, MAX_PEERS, StorageKey, Timestamp};
use rand_core::SeedableRng;

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

/// Rotate the last-resort keys before their replay records fill (`MAX_REPLAY_RECORDS`).
const ROTATE_EVERY: usize = 4_000;

struct Desk {
    rng: ChaCha20Rng,
    key: StorageKey,
    operator: Device,
    customer: Device,
}

/// The operator with `MAX_PEERS` peers; the first is `customer`, who has answered.
fn desk() -> Desk {
    let mut rng = ChaCha20Rng::seed_from_u64(22);
    let mut operator = Device::new(NOW, &mut rng);
    let op = *operator.identity_key();
    let mut customer = Device::new(NOW, &mut rng);
    let _ = customer
        .start_session(
            &operator.account().published_prekeys().take_bundle(),
            &mut rng,
        )
        .unwrap();
    let hello = customer.encrypt_for(&op, b"hello", &mut rng).unwrap();
    let _ = operator
        .decrypt_from(customer.identity_key(), &hello, NOW)
        .unwrap();
    let answer = operator
        .encrypt_for(customer.identity_key(), b"how can I help?", &mut rng)
        .unwrap();
    let _ = customer.decrypt_from(&op, &answer, NOW).unwrap();

    let mut bundle = operator.account().published_prekeys().take_bundle();
    for n in 1..MAX_PEERS {
        if n % ROTATE_EVERY == 0 {
            operator.account_mut().rotate_prekeys(NOW, &mut rng);
            bundle = operator.account().published_prekeys().take_bundle();
        }
        let stranger = Device::new(NOW, &mut rng);
        let mut session = stranger
            .account()
            .create_outbound_session(&bundle, &mut rng)
            .unwrap();
        let first = session.encrypt(b"hi", &mut rng).unwrap();
        let _ = operator
            .decrypt_from(stranger.identity_key(), &first, NOW)
            .unwrap();
    }
    assert_eq!(operator.peers().len(), MAX_PEERS);
    let _ = operator.take_changes();
    Desk {
        rng,
        key: StorageKey::from_bytes([22; 32]),
        operator,
        customer,
    }
}

/// Writes what the last call changed, as a store would (the blobs are dropped here); returns
/// the bytes written.
fn persist_changes(device: &mut Device, key: &StorageKey, rng: &mut ChaCha20Rng) -> usize {
    let changes = device.take_changes();
    let mut written = 0;
    if changes.account {
        written += device.account_record_to_encrypted(key, 2, rng).len();
    }
    if changes.identity_book {
        written += device.identity_book_to_encrypted(key, 2, rng).len();
    }
    for peer in &changes.peers {
        written += device
            .peer_record_to_encrypted(peer, key, 2, rng)
            .map_or(0, |blob| blob.len());
    }
    written
}

fn scale(c: &mut Criterion) {
    let started = Instant::now();
    let Desk {
        mut rng,
        key,
        mut operator,
        mut customer,
    } = desk();
    let op = *operator.identity_key();
    let them: IdentityKey = *customer.identity_key();
    eprintln!(
        "scale: {} peers set up in {:.1} s",
        MAX_PEERS,
        started.elapsed().as_secs_f64()
    );

    // Bytes, once.
    let _ = operator.encrypt_for(&them, b"a 32-byte message to a customer", &mut rng);
    let sent = persist_changes(&mut operator, &key, &mut rng);
    let reply = customer
        .encrypt_for(&op, b"a 32-byte answer from a customer", &mut rng)
        .unwrap();
    let _ = operator.decrypt_from(&them, &reply, NOW).unwrap();
    let received = persist_changes(&mut operator, &key, &mut rng);
    let account_record = operator.account_record_to_encrypted(&key, 2, &mut rng);
    let book = operator.identity_book_to_encrypted(&key, 2, &mut rng);
    let peer_record = operator
        .peer_record_to_encrypted(&them, &key, 2, &mut rng)
        .unwrap();
    let full = operator.to_encrypted(&key, 2, &mut rng);
    println!(
        "scale: {MAX_PEERS} peers; bytes written per message: encrypt_for {sent} B, \
         decrypt_from {received} B (target <= 2048); account record {} B, identity book {} B, \
         one peer record {} B; the whole account blob {} B",
        account_record.len(),
        book.len(),
        peer_record.len(),
        full.len()
    );

    let mut group = c.benchmark_group("scale_10000_peers");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(2));

    group.bench_function("encrypt_for+persist_records", |b| {
        b.iter(|| {
            let m = operator
                .encrypt_for(
                    &them,
                    black_box(b"a 32-byte message to a customer"),
                    &mut rng,
                )
                .unwrap();
            black_box(persist_changes(&mut operator, &key, &mut rng));
            m
        })
    });

    group.bench_function("decrypt_from+persist_records", |b| {
        b.iter_custom(|iters| {
            // The customer's messages, made outside the measurement.
            let messages: Vec<Vec<u8>> = (0..iters)
                .map(|_| {
                    customer
                        .encrypt_for(&op, b"a 32-byte answer from a customer", &mut rng)
                        .unwrap()
                })
                .collect();
            let start = Instant::now();
            for m in &messages {
                let read = operator.decrypt_from(&them, m, NOW).unwrap();
                let _ = black_box(read);
                black_box(persist_changes(&mut operator, &key, &mut rng));
            }
            start.elapsed()
        })
    });

    // For comparison: the same message, persisted as the whole account blob.
    group.bench_function("encrypt_for+persist_whole_account", |b| {
        b.iter(|| {
            let m = operator
                .encrypt_for(
                    &them,
                    black_box(b"a 32-byte message to a customer"),
                    &mut rng,
                )
                .unwrap();
            let _ = operator.take_changes();
            black_box(operator.to_encrypted(&key, 2, &mut rng));
            m
        })
    });

    let account_record = operator.account_record_to_encrypted(&key, 2, &mut rng);
    let peer_record = operator
        .peer_record_to_encrypted(&them, &key, 2, &mut rng)
        .unwrap();
    let full = operator.to_encrypted(&key, 2, &mut rng);
    let expected_peer = Expected::peer(&them);
    group.bench_function("cold_start_account+book+one_peer", |b| {
        b.iter(|| {
            let mut device = Device::from_records(
                black_box(&account_record),
                0,
                &book,
                0,
                &key,
                &Expected::any(),
            )
            .unwrap();
            device
                .load_peer(&peer_record, &key, 0, &expected_peer)
                .unwrap();
            device
        })
    });
    group.bench_function("full_restore_whole_account", |b| {
        b.iter(|| Device::from_encrypted(black_box(&full), &key, 0, &Expected::any()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
