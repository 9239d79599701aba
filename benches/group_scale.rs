//! Sender-key groups as they grow (issue P22 item 3): 10, 100 and 1,000 members.
//!
//! - `group_scale_encrypt/hushwire/<n>`, `group_scale_decrypt/hushwire/<n>`: one 256 B
//!   message, sent by the creator, read by one member;
//! - `group_scale_setup/{create,join,floor_create,floor_join}/<n>`: the creator's `create`
//!   (roster signed, first sender key) and one member's `join` (roster verified, every member
//!   key validated), beside their necessary-signature floors (Ed25519 key generation and
//!   signature over a roster of that length; strict verification and `n` identity-key
//!   validations). Sealing the distributions is measured as in a removal (below);
//! - a removal, from the side of one remaining member (`r = n − 1` remain):
//!   `group_scale_removal/apply/<n>` (verify the change, rotate the sender key),
//!   `.../seal_multi/<n>` (its new distribution sealed once for the `r − 1` others:
//!   `sealed::seal_multi`, one upload), `.../seal_per_recipient/<n>` (the same over `r − 1`
//!   1:1 sessions), `.../receive/<n>` (open the `r − 1` others' envelopes and accept their
//!   keys) and `.../member_total/<n>` (apply, seal_multi, receive: the member-side CPU).
//!
//! Bytes uploaded per removal across the group are printed once as a table (criterion
//! measures only time).
//!
//! The group API has no multi-recipient distribution call: the distribution bytes of
//! `Outgoing` are sealed here with `sealed::seal_multi`, and the receiver names the sender
//! from the opened envelope (`AuthenticatedSender::assume_authenticated` of the certificate's
//! identity key, which the envelope's static-DH tag authenticated).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use hushwire::group::{
    AuthenticatedSender, GroupRole, GroupSession, ROSTER_FIXED_LEN, ROSTER_MEMBER_LEN,
};
use hushwire::sealed::{self, ContentType, Metadata, MultiRecipientMessage};
use hushwire::{Account, IdentityKey, IdentityKeyPair, SenderCertificate, Session, TrustStore};

use common::fixtures::{Deployment, NOW, rng, setup};
use common::floor;

const SIZES: [usize; 3] = [10, 100, 1_000];
const PLAINTEXT: [u8; 256] = [0x42; 256];

/// One remaining member's removal work, prepared once per group size.
struct Removal {
    /// The measured member before the removal, holding every other member's sender key.
    member: GroupSession,
    member_id: IdentityKeyPair,
    member_cert: SenderCertificate,
    /// The signed change removing the last member.
    change: Vec<u8>,
    /// The `r − 1` other remaining members.
    others: Vec<IdentityKey>,
    /// Each other remaining member's fresh distribution, sealed, split for the member.
    incoming: Vec<Vec<u8>>,
    /// 1:1 sessions from the member to each other remaining member (per-recipient path).
    sessions: Vec<Session>,
    trust: TrustStore,
}

/// A group of `n`: the creator (admin) at 0, the measured member at 1, the member removed
/// at `n − 1`. Every member joins for real from the signed welcome.
struct Fixture {
    ids: Vec<IdentityKeyPair>,
    creator: GroupSession,
    welcome: Vec<u8>,
    /// Member 1 holding the creator's sender key (for decrypt).
    reader: GroupSession,
    removal: Removal,
    /// Bytes of one removal's roster change sealed once for its `n − 1` recipients.
    change_multi_len: usize,
    /// Bytes of one member's distribution sealed once for the `r − 1` others.
    distribution_multi_len: usize,
}

fn metadata() -> Metadata {
    Metadata::new(ContentType::GROUP, NOW)
}

fn fixture(n: usize, rng: &mut ChaCha20Rng) -> Fixture {
    let deployment = Deployment::new(rng);
    let ids: Vec<IdentityKeyPair> = (0..n).map(|_| IdentityKeyPair::generate(rng)).collect();
    let others: Vec<(IdentityKey, GroupRole)> = ids[1..]
        .iter()
        .map(|id| (*id.public(), GroupRole::Member))
        .collect();
    let created = GroupSession::create(&ids[0], &others, rng).unwrap();
    let welcome = created.welcome.bytes.to_vec();
    let mut sessions: Vec<GroupSession> = vec![created.session];
    let mut distributions = vec![created.distribution.bytes.to_vec()];
    // Joining validates every member key of the welcome: at 1,000 members the 999 joins are
    // most of the setup, so they run on two threads (setup only, not measured).
    let (first, second) = ids[1..].split_at((n - 1) / 2);
    let join_all = |part: &[IdentityKeyPair], seed: u64| {
        let mut rng = common::fixtures::rng(seed);
        part.iter()
            .map(|id| {
                let joined = GroupSession::join(id, &welcome, ids[0].public(), &mut rng).unwrap();
                (joined.session, joined.distribution.bytes.to_vec())
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| join_all(first, 1_001));
        let b = join_all(second, 1_002);
        (a.join().unwrap(), b)
    });
    for (session, distribution) in a.into_iter().chain(b) {
        sessions.push(session);
        distributions.push(distribution);
    }
    // Only the member measured needs everyone's key (its inbound state as a removal finds
    // it); the others need none to rotate. Carried by hand, as in `fixtures::group_setup`.
    for (i, d) in distributions.iter().enumerate().filter(|(i, _)| *i != 1) {
        sessions[1]
            .receive_distribution(
                AuthenticatedSender::assume_authenticated(*ids[i].public()),
                d,
            )
            .unwrap();
    }
    let reader = sessions[1].clone();

    let removed = *ids[n - 1].public();
    let mut admin = sessions[0].clone();
    let update = admin.remove_member(&ids[0], removed, NOW, rng).unwrap();
    let change = update.change.unwrap().bytes.to_vec();
    let admin_cert = deployment.certify(ids[0].public());
    let change_recipients: Vec<IdentityKey> = ids[1..].iter().map(|id| *id.public()).collect();
    let change_multi_len = sealed::seal_multi(
        &ids[0],
        &admin_cert,
        &change_recipients,
        &metadata(),
        &change,
        rng,
    )
    .unwrap()
    .len();

    // Every other remaining member (the admin included) rotates and seals its distribution;
    // only the envelope for the member measured is kept. Opening a split envelope costs the
    // same whatever the recipient count, so each is sealed for the member alone (cheap setup).
    let member_pub = *ids[1].public();
    let mut incoming = Vec::new();
    let mut other_remaining = Vec::new();
    for i in (0..n - 1).filter(|i| *i != 1) {
        let distribution = if i == 0 {
            update.distribution.clone().unwrap()
        } else {
            sessions[i]
                .apply_roster_change(&ids[i], &change, NOW, rng)
                .unwrap()
                .distribution
                .unwrap()
        };
        let cert = deployment.certify(ids[i].public());
        let multi = sealed::seal_multi(
            &ids[i],
            &cert,
            &[member_pub],
            &metadata(),
            &distribution.bytes,
            rng,
        )
        .unwrap();
        let split = MultiRecipientMessage::decode(&multi).unwrap();
        incoming.push(split.envelope_for(&member_pub).unwrap());
        other_remaining.push(*ids[i].public());
    }

    // The measured member's 1:1 sessions to the others (per-recipient path): one account,
    // a fresh responder per peer.
    let member_account = Account::new(NOW, rng);
    let sessions_1to1: Vec<Session> = other_remaining
        .iter()
        .map(|_| setup(&member_account, rng).0)
        .collect();

    let member_cert = deployment.certify(&member_pub);
    let mut probe = sessions[1].clone();
    let fresh = probe
        .apply_roster_change(&ids[1], &change, NOW, rng)
        .unwrap()
        .distribution
        .unwrap();
    let distribution_multi_len = sealed::seal_multi(
        &ids[1],
        &member_cert,
        &other_remaining,
        &metadata(),
        &fresh.bytes,
        rng,
    )
    .unwrap()
    .len();

    let member = sessions.swap_remove(1);
    let member_id = ids[1].clone();
    Fixture {
        creator: sessions.swap_remove(0),
        welcome,
        reader,
        removal: Removal {
            member,
            member_id,
            member_cert,
            change,
            others: other_remaining,
            incoming,
            sessions: sessions_1to1,
            trust: deployment.trust,
        },
        change_multi_len,
        distribution_multi_len,
        ids,
    }
}

/// The member side of a removal: apply the change (rotating), seal the new distribution
/// once for the others, open and accept each other member's new key.
fn member_removal(r: &Removal, member: &mut GroupSession, rng: &mut ChaCha20Rng) {
    let update = member
        .apply_roster_change(&r.member_id, &r.change, NOW, rng)
        .unwrap();
    let out = update.distribution.unwrap();
    black_box(
        sealed::seal_multi(
            &r.member_id,
            &r.member_cert,
            &r.others,
            &metadata(),
            &out.bytes,
            rng,
        )
        .unwrap(),
    );
    receive_all(r, member);
}

fn receive_all(r: &Removal, member: &mut GroupSession) {
    for envelope in &r.incoming {
        let opened = sealed::open(&r.member_id, envelope, &r.trust, NOW).unwrap();
        let from = AuthenticatedSender::assume_authenticated(*opened.sender_identity());
        black_box(member.receive_distribution(from, opened.message()).unwrap());
    }
}

/// Prints, per group size, the bytes all members upload for one removal.
fn print_bytes(n: usize, f: &Fixture) {
    let r = n - 1;
    let change = f.removal.change.len();
    let distribution = hushwire::group::DISTRIBUTION_LEN;
    // A 1:1 ratchet message adds RATCHET_MESSAGE_OVERHEAD (98 B, SPEC.md §6.1).
    let ratchet = 98;
    let per_recipient = (n - 1) * (change + ratchet) + r * (r - 1) * (distribution + ratchet);
    let multi = f.change_multi_len + r * f.distribution_multi_len;
    println!(
        "| {n} | {r} | {} | {} | {} | {} | {} |",
        r * (r - 1),
        per_recipient,
        (r - 1) * (distribution + ratchet),
        multi,
        f.distribution_multi_len,
    );
}

fn group_scale(c: &mut Criterion) {
    let mut rng = rng(22);
    let fixtures: Vec<(usize, Fixture)> =
        SIZES.iter().map(|&n| (n, fixture(n, &mut rng))).collect();

    println!(
        "\nBytes uploaded per removal across the group (one member removed, r = n − 1 remain):"
    );
    println!(
        "| n | r | distributions | per-recipient 1:1 total B | per member out (1:1) B | multi-recipient sealed total B | per member out (multi) B |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (n, f) in &fixtures {
        print_bytes(*n, f);
    }
    println!();

    let mut group = c.benchmark_group("group_scale_encrypt");
    for (n, f) in &fixtures {
        let mut creator = f.creator.clone();
        group.bench_function(BenchmarkId::new("hushwire", n), |b| {
            b.iter(|| creator.encrypt(black_box(&PLAINTEXT), &mut rng).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("group_scale_decrypt");
    for (n, f) in &fixtures {
        let mut creator = f.creator.clone();
        let mut reader = f.reader.clone();
        group.bench_function(BenchmarkId::new("hushwire", n), |b| {
            b.iter_batched_ref(
                || creator.encrypt(&PLAINTEXT, &mut rng).unwrap(),
                |m| reader.decrypt(black_box(m), NOW).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("group_scale_setup");
    for (n, f) in &fixtures {
        let members: Vec<(IdentityKey, GroupRole)> = f.ids[1..]
            .iter()
            .map(|id| (*id.public(), GroupRole::Member))
            .collect();
        group.bench_function(BenchmarkId::new("create", n), |b| {
            b.iter(|| GroupSession::create(&f.ids[0], black_box(&members), &mut rng).unwrap())
        });
        group.bench_function(BenchmarkId::new("join", n), |b| {
            b.iter(|| {
                GroupSession::join(
                    &f.ids[1],
                    black_box(&f.welcome),
                    f.ids[0].public(),
                    &mut rng,
                )
                .unwrap()
            })
        });
        let signer = SigningKey::from_bytes(&[1u8; 32]);
        let roster = vec![7u8; ROSTER_FIXED_LEN - 64 + ROSTER_MEMBER_LEN * n];
        let signature = floor::sign(&signer, &roster);
        let keys: Vec<[u8; 32]> = f.ids.iter().map(|id| id.public().to_bytes()).collect();
        group.bench_function(BenchmarkId::new("floor_create", n), |b| {
            b.iter(|| {
                let sender_key = SigningKey::from_bytes(&floor::random::<32>(&mut rng));
                black_box(sender_key.verifying_key());
                floor::sign(&signer, black_box(&roster))
            })
        });
        group.bench_function(BenchmarkId::new("floor_join", n), |b| {
            b.iter(|| {
                for key in &keys {
                    black_box(floor::identity_key_from_bytes(key));
                }
                floor::verify(&signer.verifying_key(), black_box(&roster), &signature);
                let sender_key = SigningKey::from_bytes(&floor::random::<32>(&mut rng));
                black_box(sender_key.verifying_key())
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("group_scale_removal");
    // At 1,000 members an iteration takes a good part of a second: the same iteration count
    // in every sample, not criterion's 1, 2, ..., 10 ramp.
    group.sampling_mode(SamplingMode::Flat);
    for (n, f) in &fixtures {
        let r = &f.removal;
        group.bench_function(BenchmarkId::new("apply", n), |b| {
            b.iter_batched(
                || r.member.clone(),
                |mut m| {
                    let _ = black_box(
                        m.apply_roster_change(&r.member_id, &r.change, NOW, &mut rng)
                            .unwrap(),
                    );
                    m
                },
                BatchSize::LargeInput,
            )
        });
        let fresh = r
            .member
            .clone()
            .apply_roster_change(&r.member_id, &r.change, NOW, &mut rng)
            .unwrap()
            .distribution
            .unwrap();
        group.bench_function(BenchmarkId::new("seal_multi", n), |b| {
            b.iter(|| {
                sealed::seal_multi(
                    &r.member_id,
                    &r.member_cert,
                    &r.others,
                    &metadata(),
                    black_box(&fresh.bytes),
                    &mut rng,
                )
                .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("seal_per_recipient", n), |b| {
            b.iter_batched(
                || r.sessions.clone(),
                |mut sessions| {
                    for s in &mut sessions {
                        black_box(s.encrypt(black_box(&fresh.bytes), &mut rng).unwrap());
                    }
                    sessions
                },
                BatchSize::LargeInput,
            )
        });
        let mut applied = r.member.clone();
        let _ = applied
            .apply_roster_change(&r.member_id, &r.change, NOW, &mut rng)
            .unwrap();
        group.bench_function(BenchmarkId::new("receive", n), |b| {
            b.iter_batched(
                || applied.clone(),
                |mut m| {
                    receive_all(r, &mut m);
                    m
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("member_total", n), |b| {
            b.iter_batched(
                || r.member.clone(),
                |mut m| {
                    member_removal(r, &mut m, &mut rng);
                    m
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = group_scale
}
criterion_main!(benches);
