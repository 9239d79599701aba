//! Fixed test vectors of history handover (`tests/vectors/support/history.json`, SPEC.md
//! §20.8): two exports (an index range and a time range) with their bundle plaintext, object,
//! share and notice, and rejected shares, notices and opens with their errors.
//!
//! The bundle, the share's header and the notice are built twice: by a reference here,
//! written from the byte layouts of SPEC.md §20.8.1–§20.8.4 with `ed25519-dalek` and `sha2`
//! only, and by the library (`history::export_history` with a seeded RNG); they must be
//! identical. The object is the library's (its key and salt come from the seeded RNG); the
//! reference checks the pointer's fields (§16.6.1) against it and that it decrypts to the
//! reference bundle. A second test reads the committed file and checks every vector against
//! the library. `HUSHWIRE_REGENERATE_VECTORS=1` rewrites the file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use ed25519_dalek::SigningKey;
use hushwire::attachment::{self, AttachmentPointer};
use hushwire::group::AuthenticatedSender;
use hushwire::history::{
    self, HistoryEntry, HistoryMembers, HistoryNotice, HistoryRange, HistoryShare,
};
use hushwire::{IdentityKey, IdentityKeyPair, Timestamp};
use rand_core::SeedableRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::NOW_SECS;
use crate::common::vector_file::{canonical_text, check_vector_file, vectors_dir};
use crate::common::vector_json::{error_json, type_byte};

const SUBDIR: &str = "support";
const NAME: &str = "history";

// Constants of the specification, written out again (not taken from the library).
const TYPE_SHARE: u8 = 0x2B;
const TYPE_NOTICE: u8 = 0x2C;
const TYPE_BUNDLE: u8 = 0x61;
const CONVERSATION: [u8; 32] = [0xc0; 32];
const DANA: u8 = 0xda;
const ELI: u8 = 0xe1;
const VISITOR: u8 = 0x71;

fn public(seed: u8) -> [u8; 32] {
    SigningKey::from_bytes(&[seed; 32])
        .verifying_key()
        .to_bytes()
}

fn key(seed: u8) -> IdentityKey {
    *IdentityKeyPair::dangerous_from_seed(&[seed; 32]).public()
}

struct View {
    id: [u8; 32],
    own: IdentityKey,
    members: Vec<IdentityKey>,
}

impl HistoryMembers for View {
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

fn view(own: u8) -> View {
    View {
        id: CONVERSATION,
        own: key(own),
        members: vec![key(DANA), key(ELI), key(VISITOR)],
    }
}

/// The transcript: 8 entries, index 10 + i, a minute apart, the visitor and Dana in turn.
fn transcript() -> Vec<(u64, u64, u8, Vec<u8>)> {
    (0..8u64)
        .map(|i| {
            let sender = if i % 2 == 0 { VISITOR } else { DANA };
            (
                10 + i,
                NOW_SECS + 60 * i,
                sender,
                format!("message {}", 10 + i).into_bytes(),
            )
        })
        .collect()
}

/// SPEC.md §20.8.1: the header, version and type included.
fn reference_header(type_byte: u8, range: (u8, u64, u64), count: u32) -> Vec<u8> {
    let mut out = vec![0x01, type_byte];
    out.extend_from_slice(&CONVERSATION);
    out.extend_from_slice(&public(DANA));
    out.extend_from_slice(&public(ELI));
    out.push(range.0);
    out.extend_from_slice(&range.1.to_be_bytes());
    out.extend_from_slice(&range.2.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out
}

/// SPEC.md §20.8.2: the bundle of the entries whose index (kind 1) or time (kind 2) is in
/// the range.
fn reference_bundle(range: (u8, u64, u64)) -> Vec<u8> {
    let selected: Vec<_> = transcript()
        .into_iter()
        .filter(|(index, at, _, _)| {
            let k = if range.0 == 1 { *index } else { *at };
            range.1 <= k && k < range.2
        })
        .collect();
    let mut out = reference_header(TYPE_BUNDLE, range, u32::try_from(selected.len()).unwrap());
    for (index, at, sender, body) in selected {
        out.extend_from_slice(&index.to_be_bytes());
        out.extend_from_slice(&at.to_be_bytes());
        out.extend_from_slice(&public(sender));
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(&body);
    }
    out
}

struct Export {
    name: &'static str,
    range: (u8, u64, u64),
    seed: u64,
    bundle: Vec<u8>,
    object: Vec<u8>,
    share: Vec<u8>,
    notice: Vec<u8>,
}

fn library_export(name: &'static str, range: (u8, u64, u64), seed: u64) -> Export {
    let entries: Vec<HistoryEntry> = transcript()
        .into_iter()
        .map(|(i, at, s, body)| HistoryEntry::new(i, Timestamp::from_unix_secs(at), key(s), &body))
        .collect();
    let r = if range.0 == 1 {
        HistoryRange::indices(range.1, range.2).unwrap()
    } else {
        HistoryRange::time(
            Timestamp::from_unix_secs(range.1),
            Timestamp::from_unix_secs(range.2),
        )
        .unwrap()
    };
    let export = history::export_history(
        &view(DANA),
        &key(ELI),
        r,
        &entries,
        &mut ChaCha20Rng::seed_from_u64(seed),
    )
    .unwrap();
    let bundle = reference_bundle(range);
    let count = u32::from_be_bytes(bundle[115..119].try_into().unwrap());
    assert_eq!(export.entry_count, count);

    // The share: the reference header, then a 120-byte pointer (§16.6.1) naming the object.
    let share = export.share.to_vec();
    assert_eq!(share.len(), 239);
    assert_eq!(share[..119], reference_header(TYPE_SHARE, range, count)[..]);
    let p = &share[119..];
    assert_eq!(p[..4], [0x01, 0x60, 0x01, 16]);
    let digest: [u8; 32] = Sha256::digest(&export.object).into();
    assert_eq!(p[68..100], digest);
    assert_eq!(
        u64::from_be_bytes(p[100..108].try_into().unwrap()),
        u64::try_from(bundle.len()).unwrap()
    );
    assert_eq!(
        u64::from_be_bytes(p[108..116].try_into().unwrap()),
        u64::try_from(export.object.len()).unwrap()
    );
    assert_eq!(p[116..120], [0, 0, 0, 0]);
    let pointer = AttachmentPointer::from_bytes(p).unwrap();
    assert_eq!(
        attachment::decrypt(&pointer, &export.object).unwrap(),
        bundle
    );

    // The notice: the reference header and the object's SHA-256.
    let mut notice = reference_header(TYPE_NOTICE, range, count);
    notice.extend_from_slice(&digest);
    assert_eq!(export.notice, notice);
    Export {
        name,
        range,
        seed,
        bundle,
        object: export.object,
        share,
        notice,
    }
}

fn exports() -> Vec<Export> {
    vec![
        library_export("index_12_to_16", (1, 12, 16), 1),
        library_export(
            "time_last_3_minutes",
            (2, NOW_SECS + 300, NOW_SECS + 421),
            2,
        ),
    ]
}

fn edit(bytes: &[u8], offset: usize, new: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[offset..offset + new.len()].copy_from_slice(new);
    b
}

/// What a second implementation's decoder must refuse, with the exact error.
fn rejected_decodes(e: &Export) -> Vec<Value> {
    let s = &e.share;
    let n = &e.notice;
    let mut cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("share_truncated", "share", s[..238].to_vec()),
        ("share_trailing_byte", "share", [&s[..], &[0]].concat()),
        ("share_version_2", "share", edit(s, 0, &[2])),
        ("share_notice_type", "share", edit(s, 1, &[TYPE_NOTICE])),
        ("share_unknown_type", "share", edit(s, 1, &[0x2D])),
        ("share_exporter_zero", "share", edit(s, 34, &[0; 32])),
        ("share_recipient_zero", "share", edit(s, 66, &[0; 32])),
        ("share_range_kind_3", "share", edit(s, 98, &[3])),
        (
            "share_range_empty",
            "share",
            edit(s, 107, &12u64.to_be_bytes()),
        ),
        (
            "share_entry_count_0",
            "share",
            edit(s, 115, &0u32.to_be_bytes()),
        ),
        (
            "share_entry_count_10001",
            "share",
            edit(s, 115, &10_001u32.to_be_bytes()),
        ),
        ("share_pointer_type", "share", edit(s, 120, &[0x61])),
        ("notice_truncated", "notice", n[..150].to_vec()),
        ("notice_trailing_byte", "notice", [&n[..], &[0]].concat()),
        ("notice_share_type", "notice", edit(n, 1, &[TYPE_SHARE])),
    ];
    cases
        .drain(..)
        .map(|(name, decoder, bytes)| {
            let error = if decoder == "share" {
                HistoryShare::from_bytes(&bytes).unwrap_err()
            } else {
                HistoryNotice::from_bytes(&bytes).unwrap_err()
            };
            json!({
                "name": name,
                "decoder": decoder,
                "bytes": hex::encode(&bytes),
                "error": error_json(error),
            })
        })
        .collect()
}

/// Opens of the first export by someone, from someone, with some object.
fn rejected_opens(e: &Export) -> Vec<Value> {
    let mut flipped = e.object.clone();
    flipped[200] ^= 1;
    let mut other_conversation = view(ELI);
    other_conversation.id = [0xc1; 32];
    let cases: Vec<(&str, &str, u8, Vec<u8>, View)> = vec![
        ("genuine", "eli", DANA, e.object.clone(), view(ELI)),
        (
            "visitor_opens",
            "visitor",
            DANA,
            e.object.clone(),
            view(VISITOR),
        ),
        (
            "forwarded_by_visitor",
            "eli",
            VISITOR,
            e.object.clone(),
            view(ELI),
        ),
        (
            "object_truncated",
            "eli",
            DANA,
            e.object[..e.object.len() - 1].to_vec(),
            view(ELI),
        ),
        ("object_flipped", "eli", DANA, flipped, view(ELI)),
        (
            "other_conversation",
            "eli_elsewhere",
            DANA,
            e.object.clone(),
            other_conversation,
        ),
    ];
    let share = HistoryShare::from_bytes(&e.share).unwrap();
    cases
        .into_iter()
        .map(|(name, opener, from, object, v)| {
            let outcome = share.open(
                &v,
                &AuthenticatedSender::assume_authenticated(key(from)),
                &object,
            );
            json!({
                "name": name,
                "opener": opener,
                "from": hex::encode(public(from)),
                "object_sha256": hex::encode(Sha256::digest(&object)),
                "object_len": object.len(),
                "outcome": match outcome {
                    Ok(b) => json!({ "entries": b.entries().len() }),
                    Err(err) => error_json(err),
                },
            })
        })
        .collect()
}

fn document() -> Value {
    let exports = exports();
    json!({
        "description": "History handover (SPEC.md §20.8): exports, rejected decodes and opens.",
        "types": { "share": type_byte(TYPE_SHARE), "notice": type_byte(TYPE_NOTICE), "bundle": type_byte(TYPE_BUNDLE) },
        "conversation_id": hex::encode(CONVERSATION),
        "keys": {
            "dana": { "seed": hex::encode([DANA; 32]), "public": hex::encode(public(DANA)) },
            "eli": { "seed": hex::encode([ELI; 32]), "public": hex::encode(public(ELI)) },
            "visitor": { "seed": hex::encode([VISITOR; 32]), "public": hex::encode(public(VISITOR)) },
        },
        "transcript": transcript().iter().map(|(i, at, s, body)| json!({
            "index": i, "sent_at": at, "sender": hex::encode(public(*s)), "body": hex::encode(body),
        })).collect::<Vec<_>>(),
        "exports": exports.iter().map(|e| json!({
            "name": e.name,
            "exporter": "dana",
            "recipient": "eli",
            "range": { "kind": e.range.0, "start": e.range.1, "end": e.range.2 },
            "rng_seed_u64": e.seed,
            "bundle": hex::encode(&e.bundle),
            "object": hex::encode(&e.object),
            "share": hex::encode(&e.share),
            "notice": hex::encode(&e.notice),
        })).collect::<Vec<_>>(),
        "rejected_decodes": rejected_decodes(&exports[0]),
        "opens": rejected_opens(&exports[0]),
    })
}

#[test]
fn history_vectors_match_the_reference() {
    check_vector_file(SUBDIR, NAME, &canonical_text(&document()));
}

/// Reads the committed file and checks it against the library alone: every export's share
/// and notice decode, re-encode, and open to exactly the selected entries; every rejected
/// decode fails with its error.
#[test]
fn committed_history_vectors_hold() {
    let path = vectors_dir(SUBDIR).join(format!("{NAME}.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let h = |v: &Value| hex::decode(v.as_str().unwrap()).unwrap();
    for e in doc["exports"].as_array().unwrap() {
        let share_bytes = h(&e["share"]);
        let share = HistoryShare::from_bytes(&share_bytes).unwrap();
        assert_eq!(*share.to_bytes(), share_bytes);
        let bundle = share
            .open(
                &view(ELI),
                &AuthenticatedSender::assume_authenticated(key(DANA)),
                &h(&e["object"]),
            )
            .unwrap();
        let bundle_bytes = h(&e["bundle"]);
        assert_eq!(
            u32::try_from(bundle.entries().len()).unwrap(),
            u32::from_be_bytes(bundle_bytes[115..119].try_into().unwrap())
        );
        let notice_bytes = h(&e["notice"]);
        let notice = HistoryNotice::from_bytes(&notice_bytes).unwrap();
        assert_eq!(notice.to_bytes(), notice_bytes);
        assert_eq!(
            notice
                .check(&view(VISITOR), &key(DANA))
                .unwrap()
                .recipient(),
            &key(ELI)
        );
    }
    for r in doc["rejected_decodes"].as_array().unwrap() {
        let bytes = h(&r["bytes"]);
        let error = if r["decoder"] == "share" {
            HistoryShare::from_bytes(&bytes).unwrap_err()
        } else {
            HistoryNotice::from_bytes(&bytes).unwrap_err()
        };
        assert_eq!(error_json(error), r["error"], "{}", r["name"]);
    }
}
