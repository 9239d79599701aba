//! Fan-out benchmarks (SPEC.md §19.5): one message to 3 users × 4 devices (12 devices) with
//! `Device::fan_out` (the body encrypted once, its key wrapped through each session) against
//! 12 single `Device::encrypt_for` sends of the same message, at 256 B and 64 KiB; beside the
//! floor of the shared part (ChaCha20-Poly1305 over the padded body and its SHA-256). The
//! targets (issue P11): at 64 KiB the fan-out costs at most 0.25× the 12 sends, at 256 B it is
//! no slower. The upload sizes are printed first.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use chacha20::ChaCha20Rng;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hushwire::sealed::padding::padded_len;
use hushwire::{Device, IdentityKey, UserId};
use sha2::{Digest, Sha256};

use common::fixtures::{NOW, rng, size_label};
use common::floor;

const USERS: usize = 3;
const DEVICES_PER_USER: usize = 4;
const BENCH_SIZES: [usize; 2] = [256, 65536];

fn new_device(rng: &mut ChaCha20Rng) -> Device {
    let mut d = Device::new(NOW, rng);
    d.account_mut()
        .generate_one_time_prekeys(2, 2, NOW, rng)
        .unwrap();
    d
}

/// The sender (a user of one device) with answered sessions with 3 users × 4 devices, whose
/// lists it holds; the users and the 12 device keys.
fn world(rng: &mut ChaCha20Rng) -> (Device, Vec<UserId>, Vec<IdentityKey>) {
    let mut sender = new_device(rng);
    let _ = sender
        .create_user(&UserId::try_from("sender").unwrap(), 1, NOW, rng)
        .unwrap();
    let mut users = Vec::new();
    let mut keys = Vec::new();
    for u in 0..USERS {
        let id = UserId::try_from(format!("user-{u}").as_str()).unwrap();
        let mut devices: Vec<Device> = (0..DEVICES_PER_USER).map(|_| new_device(rng)).collect();
        let mut list = devices[0].create_user(&id, 1, NOW, rng).unwrap();
        for i in 1..DEVICES_PER_USER {
            let entry = devices[i].device_entry(&id, list.user_key(), i as u32 + 1, 1);
            list = devices[0].add_own_device(entry, NOW).unwrap();
        }
        sender
            .accept_device_list(&id, list.as_bytes(), NOW)
            .unwrap();
        for d in &mut devices {
            let bundle = d.account().published_prekeys().take_bundle();
            let _ = sender.start_session(&bundle, rng).unwrap();
            let hello = sender.encrypt_for(d.identity_key(), b"hi", rng).unwrap();
            let _ = d.decrypt_from(sender.identity_key(), &hello, NOW).unwrap();
            let ack = d.encrypt_for(sender.identity_key(), b"ack", rng).unwrap();
            let _ = sender.decrypt_from(d.identity_key(), &ack, NOW).unwrap();
            keys.push(*d.identity_key());
        }
        users.push(id);
    }
    (sender, users, keys)
}

fn print_sizes(sender: &Device, users: &[UserId], keys: &[IdentityKey], rng: &mut ChaCha20Rng) {
    for size in BENCH_SIZES {
        let message = vec![0x61u8; size];
        let mut s = sender.clone();
        let upload = s.fan_out(users, &message, rng).unwrap().to_bytes().unwrap();
        let mut s = sender.clone();
        let singles: usize = keys
            .iter()
            .map(|k| s.encrypt_for(k, &message, rng).unwrap().len())
            .sum();
        println!(
            "fanout/sizes/{}: fan-out upload {} bytes (body {} once), 12 single sends {} bytes",
            size_label(size),
            upload.len(),
            padded_len(size) + 16,
            singles
        );
    }
}

fn fanout(c: &mut Criterion) {
    let mut rng = rng(0xfa);
    let (after_reply, users, keys) = world(&mut rng);
    print_sizes(&after_reply, &users, &keys, &mut rng);
    // The same sessions one message later: each send continues a sending chain (no DH
    // ratchet step), as when a conversation goes on without a reply in between.
    let mut mid_chain = after_reply.clone();
    for k in &keys {
        let _ = mid_chain.encrypt_for(k, b"earlier", &mut rng).unwrap();
    }
    let mut group = c.benchmark_group("fanout");
    for (state, sender) in [("after_reply", &after_reply), ("mid_chain", &mid_chain)] {
        for size in BENCH_SIZES {
            let message = vec![0x61u8; size];
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("fan_out_3x4/{state}"), size_label(size)),
                &message,
                |b, message| {
                    b.iter_batched(
                        || sender.clone(),
                        |mut s| {
                            let fan_out = s.fan_out(&users, message, &mut rng).unwrap();
                            black_box((fan_out.to_bytes(), s))
                        },
                        BatchSize::SmallInput,
                    );
                },
            );
            group.bench_with_input(
                BenchmarkId::new(format!("encrypt_for_x12/{state}"), size_label(size)),
                &message,
                |b, message| {
                    b.iter_batched(
                        || sender.clone(),
                        |mut s| {
                            let out: Vec<Vec<u8>> = keys
                                .iter()
                                .map(|k| s.encrypt_for(k, message, &mut rng).unwrap())
                                .collect();
                            black_box((out, s))
                        },
                        BatchSize::SmallInput,
                    );
                },
            );
        }
    }
    for size in BENCH_SIZES {
        let message = vec![0x61u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        // Floor of the shared part: the body AEAD over the padded message and its SHA-256.
        group.bench_with_input(
            BenchmarkId::new("floor_body", size_label(size)),
            &message,
            |b, message| {
                let mut padded = vec![0u8; padded_len(message.len())];
                padded[..message.len()].copy_from_slice(message);
                b.iter(|| {
                    let tag = floor::seal(&[7u8; 32], &[0u8; 12], &[1, 0x91], &mut padded);
                    let digest: [u8; 32] = Sha256::digest(&padded).into();
                    black_box((tag, digest))
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
