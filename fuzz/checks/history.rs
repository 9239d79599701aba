//! `history`: the history-share, history-notice and history-bundle decoders (SPEC.md §20.8),
//! and the open of a share, on raw bytes or on a fixture's genuine export with edits.
//!
//! Input: mode byte. Bit 0: raw (clear) or the genuine structure with edits (set; the next
//! byte picks it, the rest are edits, see `raw_or_edited`). Bits 1–2: what the bytes are:
//! 0 a share (opened with the genuine object), 1 a notice, 2 an object (opened with the
//! genuine share), 3 a bundle plaintext (encrypted afresh and opened under a share with the
//! genuine header).
//!
//! Properties: whatever decodes re-encodes to exactly the input; a share opens only if it is
//! the genuine share, an object only if it is the genuine object, each to exactly the genuine
//! entries; an opened bundle always holds exactly the header's count of entries, in strictly
//! increasing index order, all inside the range; a notice that checks names the exporter as
//! the sender and a current member as recipient.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::attachment::{self, AttachmentPointer};
use hushwire::group::AuthenticatedSender;
use hushwire::history::{
    self, HISTORY_HEADER_LEN, HistoryEntry, HistoryMembers, HistoryNotice, HistoryRange,
    HistoryShare,
};
use hushwire::{IdentityKey, IdentityKeyPair};
use rand_core::SeedableRng;

use super::{NOW, SEED, raw_or_edited};

pub(crate) struct View {
    own: IdentityKey,
    members: Vec<IdentityKey>,
}

impl HistoryMembers for View {
    fn conversation_id(&self) -> [u8; 32] {
        [0x5c; 32]
    }
    fn own_identity(&self) -> &IdentityKey {
        &self.own
    }
    fn is_current_member(&self, who: &IdentityKey) -> bool {
        self.members.contains(who)
    }
}

pub(crate) struct HistoryFixture {
    dana: IdentityKey,
    eli_view: View,
    visitor_view: View,
    entries: Vec<HistoryEntry>,
    share: Vec<u8>,
    notice: Vec<u8>,
    object: Vec<u8>,
    bundle: Vec<u8>,
}

pub(crate) fn fixture() -> &'static HistoryFixture {
    static FIXTURE: OnceLock<HistoryFixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn build() -> HistoryFixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 0x4157);
    let keys: Vec<IdentityKey> = (0..3)
        .map(|_| *IdentityKeyPair::generate(&mut rng).public())
        .collect();
    let (dana, eli, visitor) = (keys[0], keys[1], keys[2]);
    let view = |own| View {
        own,
        members: keys.clone(),
    };
    let transcript: Vec<HistoryEntry> = (0..12u64)
        .map(|i| {
            let sender = if i % 2 == 0 { visitor } else { dana };
            let body = format!("message {i}");
            HistoryEntry::new(i, NOW.plus_secs(60 * i), sender, body.as_bytes())
        })
        .collect();
    let range = HistoryRange::indices(2, 8).expect("range");
    let export =
        history::export_history(&view(dana), &eli, range, &transcript, &mut rng).expect("export");
    let pointer =
        AttachmentPointer::from_bytes(&export.share[HISTORY_HEADER_LEN..]).expect("pointer");
    let bundle = attachment::decrypt(&pointer, &export.object).expect("bundle");
    HistoryFixture {
        dana,
        eli_view: view(eli),
        visitor_view: view(visitor),
        entries: transcript[2..8].to_vec(),
        share: export.share.to_vec(),
        notice: export.notice,
        object: export.object,
        bundle,
    }
}

fn genuine(f: &HistoryFixture, what: u8) -> &[u8] {
    match what {
        0 => &f.share,
        1 => &f.notice,
        2 => &f.object,
        _ => &f.bundle,
    }
}

pub(crate) fn check_history(data: &[u8]) {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let what = (mode >> 1) & 3;
    let originals = [genuine(f, what)];
    let Some(bytes) = raw_or_edited(mode, rest, &originals, |b| b) else {
        return;
    };
    let from = AuthenticatedSender::assume_authenticated(f.dana);
    match what {
        0 => {
            let Ok(share) = HistoryShare::from_bytes(&bytes) else {
                return;
            };
            assert_eq!(share.to_bytes().as_slice(), &bytes[..]);
            let opened = share.open(&f.eli_view, &from, &f.object);
            assert_eq!(
                opened.is_ok(),
                bytes == f.share,
                "only the genuine share opens"
            );
            if let Ok(bundle) = opened {
                assert_eq!(bundle.entries(), &f.entries[..]);
            }
        }
        1 => {
            let Ok(notice) = HistoryNotice::from_bytes(&bytes) else {
                return;
            };
            assert_eq!(notice.to_bytes(), bytes);
            if let Ok(shared) = notice.check(&f.visitor_view, &f.dana) {
                assert_eq!(shared.exporter(), &f.dana);
                assert!(f.visitor_view.members.contains(shared.recipient()));
            }
        }
        2 => {
            let share = HistoryShare::from_bytes(&f.share).expect("genuine share");
            let opened = share.open(&f.eli_view, &from, &bytes);
            assert_eq!(
                opened.is_ok(),
                bytes == f.object,
                "only the genuine object opens"
            );
            if let Ok(bundle) = opened {
                assert_eq!(bundle.entries(), &f.entries[..]);
            }
        }
        _ => {
            // A bundle as a misbehaving exporter would encrypt it, under the genuine header.
            let mut rng = ChaCha20Rng::seed_from_u64(SEED);
            let Ok((object, pointer)) = attachment::encrypt(&bytes, &mut rng) else {
                return;
            };
            let mut share_bytes = f.share[..HISTORY_HEADER_LEN].to_vec();
            share_bytes.extend_from_slice(&pointer.to_bytes());
            let Ok(share) = HistoryShare::from_bytes(&share_bytes) else {
                return;
            };
            let Ok(bundle) = share.open(&f.eli_view, &from, &object) else {
                return;
            };
            let range = share.range();
            assert_eq!(
                u32::try_from(bundle.entries().len()).ok(),
                Some(share.entry_count())
            );
            let mut previous = None;
            for entry in bundle.entries() {
                assert!(range.contains(entry));
                assert!(previous.is_none_or(|p| entry.index() > p));
                previous = Some(entry.index());
            }
            if bytes == f.bundle {
                assert_eq!(bundle.entries(), &f.entries[..]);
            }
        }
    }
}

pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let f = fixture();
    let mut out = Vec::new();
    for (what, name) in [(0u8, "share"), (1, "notice"), (2, "object"), (3, "bundle")] {
        let bytes = genuine(f, what);
        let mut raw = vec![what << 1];
        raw.extend_from_slice(bytes);
        out.push((format!("raw-{name}"), raw));
        out.push((format!("mutate-{name}-none"), vec![(what << 1) | 1, 0]));
        // One flipped bit in the range end, one in the last byte.
        let last = u16::try_from(bytes.len() - 1).expect("short");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("mutate-{name}-flips"),
            vec![(what << 1) | 1, 0, 0, 0, 114, 0x01, 0, hi, lo, 0x80],
        ));
    }
    out
}
