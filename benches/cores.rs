//! Many independent sessions on several cores (issue P22 item 4): 10,000 established
//! session pairs, built once; each receiver decrypts one prepared 256 B message.
//!
//! - `cores/threads/1`: all 10,000 decrypted on the calling thread;
//! - `cores/threads/2`: the sessions split in two halves, one `std::thread::scope` thread each
//!   (rayon is not a dependency; two scoped threads are all a 2-core split needs).
//!
//! Every iteration decrypts the same messages: it gets fresh clones of the prepared
//! receiving sessions (cloning is setup, not measured). Throughput is in sessions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hushwire::group::GroupSession;
use hushwire::{Account, Device, Session};

use common::fixtures::{NOW, rng, setup};

const SESSIONS: usize = 10_000;
const PLAINTEXT: [u8; 256] = [0x42; 256];

/// The types an app moves between threads must be `Send` (checked at compile time).
fn assert_send<T: Send>() {}
const _: fn() = || {
    assert_send::<Session>();
    assert_send::<Device>();
    assert_send::<GroupSession>();
};

fn decrypt_all(sessions: &mut [Session], messages: &[Vec<u8>]) {
    for (s, m) in sessions.iter_mut().zip(messages) {
        let _ = black_box(s.decrypt(black_box(m)).unwrap());
    }
}

fn cores(c: &mut Criterion) {
    let mut rng = rng(44);
    // One sender account, a fresh responder per session (a support desk's many customers).
    let alice = Account::new(NOW, &mut rng);
    let mut receivers = Vec::with_capacity(SESSIONS);
    let mut messages = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        let (mut a, b) = setup(&alice, &mut rng);
        messages.push(a.encrypt(&PLAINTEXT, &mut rng).unwrap());
        receivers.push(b);
    }

    let mut group = c.benchmark_group("cores");
    group.throughput(Throughput::Elements(SESSIONS as u64));
    group.bench_function(BenchmarkId::new("threads", 1), |b| {
        b.iter_batched(
            || receivers.clone(),
            |mut sessions| {
                decrypt_all(&mut sessions, &messages);
                sessions
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function(BenchmarkId::new("threads", 2), |b| {
        b.iter_batched(
            || receivers.clone(),
            |mut sessions| {
                let (left, right) = sessions.split_at_mut(SESSIONS / 2);
                let (m_left, m_right) = messages.split_at(SESSIONS / 2);
                std::thread::scope(|scope| {
                    scope.spawn(|| decrypt_all(left, m_left));
                    decrypt_all(right, m_right);
                });
                sessions
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = cores
}
criterion_main!(benches);
