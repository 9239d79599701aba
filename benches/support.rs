//! Live-chat support benchmarks. History handover (SPEC.md §20.8) of 500 messages beside its
//! floor, the attachment encryption of a plaintext of the same length; and (printed, not
//! timed) the bundle's sizes.
//!
//! - `history_handover/export_500`: `export_history` over a transcript of 500 entries with
//!   100-byte bodies (selection, bundle encoding, attachment encryption, share and notice).
//! - `history_handover/open_500`: the recipient's side: share decoding, membership and binding
//!   checks, digest, decryption, bundle decoding (500 sender keys checked) and range checks.
//! - `history_handover/export_and_open_500`: both, the whole handover in the core.
//! - `history_handover/floor_attachment_500`: `attachment::encrypt` then `attachment::decrypt`
//!   of a plaintext as long as the bundle, nothing else.

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
use hushwire::attachment;
use hushwire::group::AuthenticatedSender;
use hushwire::history::{self, HistoryEntry, HistoryMembers, HistoryRange, HistoryShare};
use hushwire::{IdentityKey, IdentityKeyPair, Timestamp};
use rand_core::SeedableRng;

const MESSAGES: u64 = 500;
const BODY: usize = 100;

struct View {
    own: IdentityKey,
    members: Vec<IdentityKey>,
}

impl HistoryMembers for View {
    fn conversation_id(&self) -> [u8; 32] {
        [9; 32]
    }
    fn own_identity(&self) -> &IdentityKey {
        &self.own
    }
    fn is_current_member(&self, who: &IdentityKey) -> bool {
        self.members.contains(who)
    }
}

struct Setup {
    dana: View,
    eli: View,
    transcript: Vec<HistoryEntry>,
    range: HistoryRange,
}

fn setup() -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let keys: Vec<IdentityKey> = (0..3)
        .map(|_| *IdentityKeyPair::generate(&mut rng).public())
        .collect();
    let at = Timestamp::from_unix_secs(1_700_000_000);
    let transcript = (0..MESSAGES)
        .map(|i| {
            let sender = keys[usize::from(i % 2 == 0) * 2];
            HistoryEntry::new(i, at.plus_secs(60 * i), sender, &[b'm'; BODY])
        })
        .collect();
    Setup {
        dana: View {
            own: keys[0],
            members: keys.clone(),
        },
        eli: View {
            own: keys[1],
            members: keys.clone(),
        },
        transcript,
        range: HistoryRange::indices(0, MESSAGES).unwrap(),
    }
}

fn handover(c: &mut Criterion) {
    let s = setup();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let export =
        history::export_history(&s.dana, &s.eli.own, s.range, &s.transcript, &mut rng).unwrap();
    println!(
        "history handover of {MESSAGES} messages of {BODY} bytes: bundle plaintext {} B, \
         object {} B (stored by the relay), share {} B, notice {} B",
        export.bundle_len,
        export.object.len(),
        export.share.len(),
        export.notice.len()
    );
    let from = AuthenticatedSender::assume_authenticated(s.dana.own);

    let mut group = c.benchmark_group("history_handover");
    group.bench_function("export_500", |b| {
        b.iter(|| {
            black_box(
                history::export_history(&s.dana, &s.eli.own, s.range, &s.transcript, &mut rng)
                    .unwrap(),
            )
        });
    });
    group.bench_function("open_500", |b| {
        b.iter(|| {
            let share = HistoryShare::from_bytes(&export.share).unwrap();
            black_box(share.open(&s.eli, &from, &export.object).unwrap())
        });
    });
    group.bench_function("export_and_open_500", |b| {
        b.iter(|| {
            let e = history::export_history(&s.dana, &s.eli.own, s.range, &s.transcript, &mut rng)
                .unwrap();
            let share = HistoryShare::from_bytes(&e.share).unwrap();
            black_box(share.open(&s.eli, &from, &e.object).unwrap())
        });
    });
    let plaintext = vec![b'm'; usize::try_from(export.bundle_len).unwrap()];
    group.bench_function("floor_attachment_500", |b| {
        b.iter_batched(
            || plaintext.clone(),
            |p| {
                let (object, pointer) = attachment::encrypt(&p, &mut rng).unwrap();
                black_box(attachment::decrypt(&pointer, &object).unwrap())
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = handover
}
criterion_main!(benches);
