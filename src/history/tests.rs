//! Unit tests of history handover: layouts, limits at and past their edges, every refusal.

use rand_core::SeedableRng;

use super::wire::{decode_bundle, decode_notice, decode_share};
use super::*;
use crate::attachment::{AttachmentError, ChunkSize, ciphertext_len};
use crate::error::DecodeError;
use crate::keys::IdentityKeyPair;

const T0: u64 = 1_700_000_000;

fn key(seed: u8) -> IdentityKey {
    *IdentityKeyPair::dangerous_from_seed(&[seed; 32]).public()
}

/// A conversation as one device sees it.
struct Members {
    id: [u8; 32],
    own: IdentityKey,
    members: Vec<IdentityKey>,
}

impl HistoryMembers for Members {
    fn conversation_id(&self) -> [u8; 32] {
        self.id
    }
    fn own_identity(&self) -> &IdentityKey {
        &self.own
    }
    fn is_current_member(&self, who: &IdentityKey) -> bool {
        self.members.contains(who)
    }
}

fn view(own: u8) -> Members {
    Members {
        id: [7; 32],
        own: key(own),
        members: vec![key(1), key(2), key(3)],
    }
}

fn rng() -> chacha20::ChaCha20Rng {
    chacha20::ChaCha20Rng::seed_from_u64(9)
}

fn transcript(n: u64) -> Vec<HistoryEntry> {
    (0..n)
        .map(|i| {
            let body = format!("message {i}");
            HistoryEntry::new(
                i,
                Timestamp::from_unix_secs(T0 + 60 * i),
                key(3),
                body.as_bytes(),
            )
        })
        .collect()
}

fn from(seed: u8) -> AuthenticatedSender {
    AuthenticatedSender::assume_authenticated(key(seed))
}

#[test]
fn layout_constants() {
    assert_eq!(HISTORY_RANGE_LEN, 17);
    assert_eq!(HISTORY_HEADER_LEN, 119);
    assert_eq!(HISTORY_ENTRY_FIXED_LEN, 52);
    assert_eq!(HISTORY_SHARE_LEN, 239);
    assert_eq!(HISTORY_NOTICE_LEN, 151);
    assert_eq!(MIN_HISTORY_BUNDLE_LEN, 171);
    assert_eq!(
        MAX_HISTORY_ENTRY_LEN,
        u64::try_from(crate::MAX_PLAINTEXT_LEN).unwrap()
    );
}

#[test]
fn export_then_open_gives_exactly_the_range() {
    let t = transcript(20);
    let export = export_history(
        &view(1),
        &key(2),
        HistoryRange::indices(5, 9).unwrap(),
        &t,
        &mut rng(),
    )
    .unwrap();
    assert_eq!(export.entry_count, 4);
    assert_eq!(export.share.len(), HISTORY_SHARE_LEN);
    assert_eq!(export.notice.len(), HISTORY_NOTICE_LEN);
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    assert_eq!(*share.to_bytes(), *export.share);
    assert_eq!(
        share.object_len(),
        u64::try_from(export.object.len()).unwrap()
    );
    let bundle = share.open(&view(2), &from(1), &export.object).unwrap();
    assert_eq!(bundle.entries(), &t[5..9]);
    assert_eq!(bundle.exporter(), &key(1));

    // By time: the entries sent in [T0 + 60*10, T0 + 60*12 + 1).
    let range = HistoryRange::time(
        Timestamp::from_unix_secs(T0 + 600),
        Timestamp::from_unix_secs(T0 + 721),
    )
    .unwrap();
    let export = export_history(&view(1), &key(2), range, &t, &mut rng()).unwrap();
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    let bundle = share.open(&view(2), &from(1), &export.object).unwrap();
    assert_eq!(bundle.entries(), &t[10..13]);

    let notice = HistoryNotice::from_bytes(&export.notice).unwrap();
    assert_eq!(notice.to_bytes(), export.notice);
    let shared = notice.check(&view(3), &key(1)).unwrap();
    assert_eq!(shared.recipient(), &key(2));
    assert_eq!(shared.entry_count(), 3);
    assert_eq!(shared.object_sha256(), share.object_sha256());
}

#[test]
fn export_refusals_in_order() {
    let t = transcript(10);
    let range = HistoryRange::indices(0, 5).unwrap();
    let mut outsider = view(9);
    assert_eq!(
        export_history(&outsider, &key(2), range, &t, &mut rng()).unwrap_err(),
        HistoryError::NotMember
    );
    outsider.members.push(key(9));
    assert_eq!(
        export_history(&view(1), &key(1), range, &t, &mut rng()).unwrap_err(),
        HistoryError::OwnIdentity
    );
    assert_eq!(
        export_history(&view(1), &key(8), range, &t, &mut rng()).unwrap_err(),
        HistoryError::RecipientNotMember {
            recipient: key(8).to_bytes()
        }
    );
    let mut swapped = t.clone();
    swapped.swap(3, 4);
    assert_eq!(
        export_history(&view(1), &key(2), range, &swapped, &mut rng()).unwrap_err(),
        HistoryError::TranscriptOutOfOrder { position: 4 }
    );
    let mut repeated = t.clone();
    repeated[7].index = 6;
    assert_eq!(
        export_history(&view(1), &key(2), range, &repeated, &mut rng()).unwrap_err(),
        HistoryError::TranscriptOutOfOrder { position: 7 }
    );
    assert_eq!(
        export_history(
            &view(1),
            &key(2),
            HistoryRange::indices(10, 20).unwrap(),
            &t,
            &mut rng()
        )
        .unwrap_err(),
        HistoryError::NothingInRange
    );
    assert_eq!(
        HistoryRange::indices(5, 5).unwrap_err(),
        HistoryError::InvalidRange { start: 5, end: 5 }
    );
    assert_eq!(
        HistoryRange::time(Timestamp::from_unix_secs(9), Timestamp::from_unix_secs(3)).unwrap_err(),
        HistoryError::InvalidRange { start: 9, end: 3 }
    );
}

#[test]
fn entry_body_limit_at_and_past_its_edge() {
    let max = usize::try_from(MAX_HISTORY_ENTRY_LEN).unwrap();
    let at = vec![HistoryEntry::new(
        0,
        Timestamp::from_unix_secs(T0),
        key(3),
        &vec![1; max],
    )];
    let range = HistoryRange::indices(0, 1).unwrap();
    let export = export_history(&view(1), &key(2), range, &at, &mut rng()).unwrap();
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    assert_eq!(
        share
            .open(&view(2), &from(1), &export.object)
            .unwrap()
            .entries()[0]
            .body()
            .len(),
        max
    );
    let past = vec![HistoryEntry::new(
        0,
        Timestamp::from_unix_secs(T0),
        key(3),
        &vec![1; max + 1],
    )];
    assert_eq!(
        export_history(&view(1), &key(2), range, &past, &mut rng()).unwrap_err(),
        HistoryError::EntryTooLarge {
            index: 0,
            len: MAX_HISTORY_ENTRY_LEN + 1,
            max: MAX_HISTORY_ENTRY_LEN
        }
    );
    // Entries outside the range are not checked: they are not exported.
    let range = HistoryRange::indices(1, 2).unwrap();
    let mut both = past;
    both.push(HistoryEntry::new(
        1,
        Timestamp::from_unix_secs(T0),
        key(3),
        b"ok",
    ));
    assert!(export_history(&view(1), &key(2), range, &both, &mut rng()).is_ok());
}

#[test]
fn entry_count_limit_at_and_past_its_edge() {
    let max = MAX_HISTORY_ENTRIES;
    let t: Vec<HistoryEntry> = (0..=max)
        .map(|i| HistoryEntry::new(i, Timestamp::from_unix_secs(T0), key(3), b""))
        .collect();
    let at = HistoryRange::indices(0, max).unwrap();
    let export = export_history(&view(1), &key(2), at, &t, &mut rng()).unwrap();
    assert_eq!(u64::from(export.entry_count), max);
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    let bundle = share.open(&view(2), &from(1), &export.object).unwrap();
    assert_eq!(u64::try_from(bundle.entries().len()).unwrap(), max);
    let past = HistoryRange::indices(0, max + 1).unwrap();
    assert_eq!(
        export_history(&view(1), &key(2), past, &t, &mut rng()).unwrap_err(),
        HistoryError::TooManyEntries {
            count: max + 1,
            max
        }
    );
}

/// Entries whose bundle is exactly `len` bytes (63 full bodies and one for the rest).
fn transcript_of_bundle_len(len: u64) -> Vec<HistoryEntry> {
    let body_max = MAX_HISTORY_ENTRY_LEN;
    let fixed = u64::try_from(HISTORY_ENTRY_FIXED_LEN).unwrap();
    let header = u64::try_from(HISTORY_HEADER_LEN).unwrap();
    let mut rest = len - header - 64 * fixed;
    (0..64)
        .map(|i| {
            let body = rest.min(body_max);
            rest -= body;
            HistoryEntry::new(
                i,
                Timestamp::from_unix_secs(T0),
                key(3),
                &vec![0x42; usize::try_from(body).unwrap()],
            )
        })
        .collect()
}

#[test]
fn bundle_length_limit_at_and_past_its_edge() {
    let range = HistoryRange::indices(0, 64).unwrap();
    let at = transcript_of_bundle_len(MAX_HISTORY_BUNDLE_LEN);
    let export = export_history(&view(1), &key(2), range, &at, &mut rng()).unwrap();
    assert_eq!(export.bundle_len, MAX_HISTORY_BUNDLE_LEN);
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    assert_eq!(
        share
            .open(&view(2), &from(1), &export.object)
            .unwrap()
            .entries(),
        &at[..]
    );
    let past = transcript_of_bundle_len(MAX_HISTORY_BUNDLE_LEN + 1);
    assert_eq!(
        export_history(&view(1), &key(2), range, &past, &mut rng()).unwrap_err(),
        HistoryError::BundleTooLarge {
            len: MAX_HISTORY_BUNDLE_LEN + 1,
            max: MAX_HISTORY_BUNDLE_LEN
        }
    );
}

fn sample_export() -> (Vec<HistoryEntry>, HistoryExport) {
    let t = transcript(10);
    let export = export_history(
        &view(1),
        &key(2),
        HistoryRange::indices(2, 6).unwrap(),
        &t,
        &mut rng(),
    )
    .unwrap();
    (t, export)
}

#[test]
fn open_refusals_in_order() {
    let (_, export) = sample_export();
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    let object = &export.object;
    assert_eq!(
        share.open(&view(9), &from(1), object).unwrap_err(),
        HistoryError::NotMember
    );
    let mut other = view(2);
    other.id = [8; 32];
    assert_eq!(
        share.open(&other, &from(1), object).unwrap_err(),
        HistoryError::WrongConversation
    );
    assert_eq!(
        share.open(&view(3), &from(1), object).unwrap_err(),
        HistoryError::NotForUs
    );
    assert_eq!(
        share.open(&view(2), &from(3), object).unwrap_err(),
        HistoryError::SenderMismatch
    );
    let mut exporter_gone = view(2);
    exporter_gone.members.retain(|k| *k != key(1));
    assert_eq!(
        share.open(&exporter_gone, &from(1), object).unwrap_err(),
        HistoryError::ExporterNotMember {
            exporter: key(1).to_bytes()
        }
    );
    assert_eq!(
        share
            .open(&view(2), &from(1), &object[..object.len() - 1])
            .unwrap_err(),
        HistoryError::Attachment(AttachmentError::Truncated {
            len: u64::try_from(object.len() - 1).unwrap(),
            expected: u64::try_from(object.len()).unwrap()
        })
    );
    let mut flipped = object.clone();
    flipped[100] ^= 1;
    assert_eq!(
        share.open(&view(2), &from(1), &flipped).unwrap_err(),
        HistoryError::Attachment(AttachmentError::DigestMismatch)
    );
    // The object of another export (same sizes) under this share.
    let (_, other_export) = {
        let t = transcript(10);
        let e = export_history(
            &view(1),
            &key(2),
            HistoryRange::indices(2, 6).unwrap(),
            &t,
            &mut chacha20::ChaCha20Rng::seed_from_u64(10),
        )
        .unwrap();
        (t, e)
    };
    assert_eq!(
        share
            .open(&view(2), &from(1), &other_export.object)
            .unwrap_err(),
        HistoryError::Attachment(AttachmentError::DigestMismatch)
    );
}

/// A share whose object holds `bundle` (any bytes), as a misbehaving exporter builds it.
fn share_for_bundle(header_share: &HistoryShare, bundle: &[u8]) -> (HistoryShare, Vec<u8>) {
    let (object, pointer) = attachment::encrypt(bundle, &mut rng()).unwrap();
    let share = HistoryShare {
        header: header_share.header,
        pointer,
    };
    (share, object)
}

#[test]
fn a_bundle_that_is_not_the_shared_one_is_refused() {
    let (t, export) = sample_export();
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    let header = share.header;
    let refs = |r: core::ops::Range<usize>| t[r].iter().collect::<Vec<_>>();

    // Another conversation, range, recipient or count in the bundle header.
    for changed in [
        Header {
            conversation_id: [8; 32],
            ..header
        },
        Header {
            range: HistoryRange::indices(2, 7).unwrap(),
            ..header
        },
        Header {
            recipient: key(3),
            ..header
        },
        Header {
            exporter: key(3),
            ..header
        },
    ] {
        let bundle = wire::encode_bundle(&changed, &refs(2..6));
        let (s, object) = share_for_bundle(&share, &bundle);
        assert_eq!(
            s.open(&view(2), &from(1), &object).unwrap_err(),
            HistoryError::BundleMismatch
        );
    }
    // An entry outside the range, under a header that is the share's.
    let mut outside = refs(2..6);
    outside[3] = &t[7];
    let (s, object) = share_for_bundle(&share, &wire::encode_bundle(&header, &outside));
    assert_eq!(
        s.open(&view(2), &from(1), &object).unwrap_err(),
        HistoryError::EntryOutsideRange { index: 7 }
    );
    // Entries out of order.
    let mut swapped = refs(2..6);
    swapped.swap(1, 2);
    let (s, object) = share_for_bundle(&share, &wire::encode_bundle(&header, &swapped));
    assert_eq!(
        s.open(&view(2), &from(1), &object).unwrap_err(),
        HistoryError::EntriesOutOfOrder { position: 2 }
    );
    // Fewer entries than the header counts: the decoder runs out of bytes.
    let bundle = wire::encode_bundle(&header, &refs(2..5));
    let (s, object) = share_for_bundle(&share, &bundle);
    assert!(matches!(
        s.open(&view(2), &from(1), &object).unwrap_err(),
        HistoryError::BundleMalformed(DecodeError::Truncated { .. })
    ));
    // A trailing byte, and a bundle of another type.
    let mut trailing = wire::encode_bundle(&header, &refs(2..6)).to_vec();
    trailing.push(0);
    let (s, object) = share_for_bundle(&share, &trailing);
    assert_eq!(
        s.open(&view(2), &from(1), &object).unwrap_err(),
        HistoryError::BundleMalformed(DecodeError::TrailingBytes { count: 1 })
    );
    let (s, object) = share_for_bundle(&share, &export.share);
    assert_eq!(
        s.open(&view(2), &from(1), &object).unwrap_err(),
        HistoryError::BundleMalformed(DecodeError::WrongType {
            expected: 0x61,
            found: 0x2B
        })
    );
}

#[test]
fn notice_refusals_in_order() {
    let (_, export) = sample_export();
    let notice = HistoryNotice::from_bytes(&export.notice).unwrap();
    let mut other = view(3);
    other.id = [8; 32];
    assert_eq!(
        notice.check(&other, &key(1)).unwrap_err(),
        HistoryError::WrongConversation
    );
    assert_eq!(
        notice.check(&view(3), &key(2)).unwrap_err(),
        HistoryError::SenderMismatch
    );
    let mut exporter_gone = view(3);
    exporter_gone.members.retain(|k| *k != key(1));
    assert_eq!(
        notice.check(&exporter_gone, &key(1)).unwrap_err(),
        HistoryError::ExporterNotMember {
            exporter: key(1).to_bytes()
        }
    );
    let mut recipient_gone = view(3);
    recipient_gone.members.retain(|k| *k != key(2));
    assert_eq!(
        notice.check(&recipient_gone, &key(1)).unwrap_err(),
        HistoryError::RecipientNotMember {
            recipient: key(2).to_bytes()
        }
    );
}

#[test]
fn share_and_notice_decoding_is_strict() {
    let (_, export) = sample_export();
    let share = export.share.to_vec();
    for (bytes, expected) in [
        (share[..238].to_vec(), DecodeError::Truncated { needed: 1 }),
        (
            [&share[..], &[0]].concat(),
            DecodeError::TooLarge { len: 240, max: 239 },
        ),
        (
            [&[2u8][..], &share[1..]].concat(),
            DecodeError::UnknownVersion(2),
        ),
        (
            [&[1u8, 0x2C][..], &share[2..]].concat(),
            DecodeError::WrongType {
                expected: 0x2B,
                found: 0x2C,
            },
        ),
        (
            [&[1u8, 0x2D][..], &share[2..]].concat(),
            DecodeError::UnknownType(0x2D),
        ),
    ] {
        assert_eq!(
            HistoryShare::from_bytes(&bytes).unwrap_err(),
            HistoryError::Malformed(expected)
        );
    }
    let edit = |offset: usize, bytes: &[u8]| {
        let mut s = share.clone();
        s[offset..offset + bytes.len()].copy_from_slice(bytes);
        s
    };
    let field = |field| HistoryError::Malformed(DecodeError::InvalidField { field });
    for (bytes, f) in [
        (edit(34, &[0; 32]), "exporter"),
        (edit(66, &[0; 32]), "recipient"),
        (edit(98, &[3]), "range_kind"),
        (edit(98, &[0]), "range_kind"),
        (edit(107, &2u64.to_be_bytes()), "range_end"),
        (edit(115, &0u32.to_be_bytes()), "entry_count"),
        (edit(115, &10_001u32.to_be_bytes()), "entry_count"),
        (edit(120, &[0x61]), "pointer"),
    ] {
        assert_eq!(HistoryShare::from_bytes(&bytes).unwrap_err(), field(f));
    }
    assert!(HistoryShare::from_bytes(&edit(115, &10_000u32.to_be_bytes())).is_ok());
    // The pointer's plaintext length: 171 ..= 16 MiB.
    let with_len = |len: u64| {
        let object_len = ciphertext_len(len, ChunkSize::DEFAULT);
        let s = edit(119 + 100, &len.to_be_bytes());
        let mut s = s;
        s[119 + 108..119 + 116].copy_from_slice(&object_len.to_be_bytes());
        s
    };
    for (len, ok) in [
        (170, false),
        (171, true),
        (MAX_HISTORY_BUNDLE_LEN, true),
        (MAX_HISTORY_BUNDLE_LEN + 1, false),
    ] {
        let r = HistoryShare::from_bytes(&with_len(len));
        if ok {
            assert!(r.is_ok(), "{len}");
        } else {
            assert_eq!(r.unwrap_err(), field("plaintext_len"), "{len}");
        }
    }

    let notice = export.notice.clone();
    assert_eq!(
        decode_notice(&notice[..150]).unwrap_err(),
        DecodeError::Truncated { needed: 1 }
    );
    assert_eq!(
        decode_notice(&[&notice[..], &[0]].concat()).unwrap_err(),
        DecodeError::TooLarge { len: 152, max: 151 }
    );
    assert!(decode_share(&notice).is_err());
}

#[test]
fn bundle_decoding_limits() {
    let (t, export) = sample_export();
    let header = HistoryShare::from_bytes(&export.share).unwrap().header;
    let one = Header {
        entry_count: 1,
        ..header
    };
    let max = usize::try_from(MAX_HISTORY_ENTRY_LEN).unwrap();
    let at = HistoryEntry::new(2, t[2].sent_at, key(3), &vec![0; max]);
    let bytes = wire::encode_bundle(&one, &[&at]);
    assert_eq!(decode_bundle(&bytes).unwrap().1, vec![at]);
    // body_len one past its limit (the body bytes follow).
    let mut past = bytes.to_vec();
    past[HISTORY_HEADER_LEN + 48..HISTORY_HEADER_LEN + 52]
        .copy_from_slice(&u32::try_from(max + 1).unwrap().to_be_bytes());
    past.push(0);
    assert_eq!(
        decode_bundle(&past).unwrap_err(),
        DecodeError::InvalidField { field: "body_len" }
    );
    let mut bad_sender = bytes.to_vec();
    bad_sender[HISTORY_HEADER_LEN + 16..HISTORY_HEADER_LEN + 48].fill(0);
    assert_eq!(
        decode_bundle(&bad_sender).unwrap_err(),
        DecodeError::InvalidField { field: "sender" }
    );
    let too_long = vec![0u8; usize::try_from(MAX_HISTORY_BUNDLE_LEN).unwrap() + 1];
    let mut too_long = too_long;
    too_long[0] = 1;
    too_long[1] = 0x61;
    assert_eq!(
        decode_bundle(&too_long).unwrap_err(),
        DecodeError::TooLarge {
            len: too_long.len(),
            max: usize::try_from(MAX_HISTORY_BUNDLE_LEN).unwrap()
        }
    );
}

#[test]
fn debug_shows_no_body_or_key() {
    let (_, export) = sample_export();
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    let text = format!("{share:?} {export:?} {:?}", transcript(1)[0]);
    assert!(!text.contains("message 0"));
    assert!(text.contains("body_len"));
    assert!(!text.contains("key:"));
}

#[test]
fn group_session_is_a_conversation() {
    use crate::group::{GroupRole, GroupSession};
    let mut r = rng();
    let dana = IdentityKeyPair::generate(&mut r);
    let eli = IdentityKeyPair::generate(&mut r);
    let created =
        GroupSession::create(&dana, &[(*eli.public(), GroupRole::Member)], &mut r).unwrap();
    let g = created.session;
    assert_eq!(
        HistoryMembers::conversation_id(&g),
        *g.group_id().as_bytes()
    );
    assert!(g.is_current_member(dana.public()));
    assert!(g.is_current_member(eli.public()));
    assert!(!g.is_current_member(&key(5)));
}
