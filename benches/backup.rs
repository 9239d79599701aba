//! Key backup benchmarks (SPEC.md §18): appending one group entry, restoring the backup of a
//! user in 1,000 conversations, and Argon2id at the default parameters. Sizes are printed
//! once at the start (they are not timings): bytes per entry and the whole backup.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hushwire::backup::{
    self, Argon2Params, BackupItem, BackupOptions, BackupWriter, ENTRY_OVERHEAD, RecoveryKey,
    WrappedRecoveryKey,
};
use hushwire::group::{AuthenticatedSender, GroupRole, GroupSession};
use hushwire::verify::UserId;
use hushwire::{Device, IdentityKeyPair, Timestamp};
use rand_core::SeedableRng;

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);
/// Conversations of the large backup: each a group of three (the user and two agents) with
/// both agents' sender keys received, and each agent a verified user in the identity book.
const CONVERSATIONS: usize = 1_000;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A group of three as the user holds it: own sender key and both others' received.
fn group(user: &IdentityKeyPair, rng: &mut ChaCha20Rng) -> (GroupSession, [IdentityKeyPair; 2]) {
    let agents = [
        IdentityKeyPair::generate(rng),
        IdentityKeyPair::generate(rng),
    ];
    let members: Vec<_> = agents
        .iter()
        .map(|a| (*a.public(), GroupRole::Member))
        .collect();
    let created = GroupSession::create(user, &members, rng).unwrap();
    let mut session = created.session;
    for a in &agents {
        let joined = GroupSession::join(a, &created.welcome.bytes, user.public(), rng).unwrap();
        session
            .receive_distribution(
                AuthenticatedSender::assume_authenticated(*a.public()),
                &joined.distribution.bytes,
            )
            .unwrap();
    }
    (session, agents)
}

struct Large {
    key: RecoveryKey,
    stored: Vec<u8>,
    writer: BackupWriter,
    one_group: GroupSession,
}

fn large() -> Large {
    let mut rng = rng(1);
    let mut account = Device::new(NOW, &mut rng);
    let user = account.account().identity_key_pair().clone();
    let key = RecoveryKey::generate(&mut rng);
    let (mut writer, _) = BackupWriter::create(&key, None, NOW, &mut rng);
    let mut groups = Vec::with_capacity(CONVERSATIONS);
    for i in 0..CONVERSATIONS {
        let (g, agents) = group(&user, &mut rng);
        let id = UserId::new(format!("agent-{i}").as_bytes()).unwrap();
        account
            .record_identity(&id, agents[0].public(), NOW)
            .unwrap();
        account.mark_verified(&id, agents[0].public(), NOW).unwrap();
        groups.push(g);
    }
    let items: Vec<BackupItem<'_>> = groups.iter().map(BackupItem::GroupSession).collect();
    let mut entries = Vec::new();
    let out = writer.append(&items, NOW, &mut rng).unwrap();
    entries.extend(out.entries);
    let out = writer
        .append_device(&account, &BackupOptions::default(), NOW, &mut rng)
        .unwrap();
    entries.extend(out.entries);
    let stored = backup::encode_backup(None, &out.manifest, &entries).unwrap();

    let group_entry = entries[0].len();
    let book_entry = entries[CONVERSATIONS].len();
    eprintln!(
        "backup sizes: entry overhead {ENTRY_OVERHEAD} B; group-of-3 entry {group_entry} B \
         (payload {} B) + 65 B manifest record; identity book of {CONVERSATIONS} verified \
         users {book_entry} B; manifest {} B; whole backup for {CONVERSATIONS} conversations \
         {} B ({:.2} MiB)",
        group_entry - ENTRY_OVERHEAD,
        out.manifest.len(),
        stored.len(),
        stored.len() as f64 / (1024.0 * 1024.0),
    );
    Large {
        key,
        stored,
        writer,
        one_group: groups.swap_remove(0),
    }
}

fn bench_backup(c: &mut Criterion) {
    let l = large();
    let mut g = c.benchmark_group("backup");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("append one group entry", |b| {
        let mut rng = rng(2);
        b.iter_batched(
            || l.writer.clone(),
            |mut w| {
                black_box(
                    w.append(&[BackupItem::GroupSession(&l.one_group)], NOW, &mut rng)
                        .unwrap(),
                )
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("restore 1000 conversations", |b| {
        b.iter(|| black_box(backup::restore(&l.key, &l.stored, 0).unwrap()));
    });
    g.finish();

    let mut g = c.benchmark_group("backup argon2id");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let key = RecoveryKey::generate(&mut rng(3));
    let wrapped =
        WrappedRecoveryKey::wrap(&key, b"passphrase", Argon2Params::default(), &mut rng(4))
            .unwrap();
    g.bench_function(
        "unwrap at default parameters (64 MiB, 3 passes, 1 lane)",
        |b| {
            b.iter(|| black_box(wrapped.unwrap(b"passphrase").unwrap()));
        },
    );
    g.finish();
}

criterion_group!(benches, bench_backup);
criterion_main!(benches);
