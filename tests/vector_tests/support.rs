//! Fixed test vectors of live-chat support conversations (`tests/vectors/support/*.json`,
//! SPEC.md §20): a dispatcher certificate, every kind of roster change, a signed roster
//! (welcome), a link statement, and structures the visitor's conversation refuses, each with its
//! exact error (§8.4).
//!
//! Each genuine structure is made by the library from a seeded scene (`tests/common/support.rs`)
//! and checked here against the byte layout of SPEC.md §20 with `ed25519-dalek` and `sha2`
//! only: every signature over its label and the bytes before it, the offsets of the fixed
//! fields, and each roster hash. Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use ed25519_dalek::{Signature, VerifyingKey};
use hushwire::support::{AssignmentOp, AssignmentRoster, LinkStatement, SupportConversation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::support::{DANA, ELI, SAM, Scene, VISITOR};
use crate::common::vector_file::{canonical_text, check_vector_file};
use crate::common::vector_json::{error_json, type_byte};
use crate::common::{NOW, rng};

const SUBDIR: &str = "support";

// Constants of the specification, written out again (not taken from the library).
const LABEL_SIG_DISPATCHER_CERTIFICATE: &[u8] = b"hushwire/v1/sig/dispatcher-certificate";
const LABEL_SIG_SUPPORT_ROSTER: &[u8] = b"hushwire/v1/sig/support-roster";
const LABEL_SIG_SUPPORT_CHANGE: &[u8] = b"hushwire/v1/sig/support-change";
const LABEL_SUPPORT_ROSTER_HASH: &[u8] = b"hushwire/v1/support/roster-hash";
const LABEL_SIG_LINK_ACCOUNT: &[u8] = b"hushwire/v1/sig/visitor-link-account";
const LABEL_SIG_LINK_VISITOR: &[u8] = b"hushwire/v1/sig/visitor-link-visitor";

fn verify(key: &[u8; 32], label: &[u8], signed: &[u8], signature: &[u8]) {
    let key = VerifyingKey::from_bytes(key).unwrap();
    let signature = Signature::from_slice(signature).unwrap();
    let mut m = label.to_vec();
    m.extend_from_slice(signed);
    key.verify_strict(&m, &signature)
        .expect("the signature verifies under SPEC.md's label");
}

fn signed_part(bytes: &[u8]) -> (&[u8], &[u8]) {
    bytes.split_at(bytes.len() - 64)
}

/// SHA-256 of the label and a roster body (SPEC.md §20.3.2).
fn roster_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_SUPPORT_ROSTER_HASH);
    h.update(body);
    h.finalize().into()
}

/// The genesis body (§20.3.1), by hand.
fn genesis_body(conversation_id: &[u8; 32], visitor: &[u8; 32]) -> Vec<u8> {
    let mut b = conversation_id.to_vec();
    b.extend_from_slice(&0u64.to_be_bytes());
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(&0u64.to_be_bytes());
    b.extend_from_slice(visitor);
    b.extend_from_slice(&[0, 0]);
    b
}

/// The body of a signed roster (§20.3.3): after the version and type bytes, 114 fixed bytes
/// and `count` entries of `role(1) added_version(8) certificate_len(2) certificate`.
fn welcome_body(welcome: &[u8]) -> &[u8] {
    let count = usize::from(welcome[2 + 113]);
    let mut at = 2 + 114;
    for _ in 0..count {
        let len = usize::from(u16::from_be_bytes([welcome[at + 9], welcome[at + 10]]));
        at += 11 + len;
    }
    let dlen = usize::from(u16::from_be_bytes([welcome[at], welcome[at + 1]]));
    assert_eq!(at + 2 + dlen + 64, welcome.len(), "layout of §20.3.3");
    &welcome[2..at]
}

fn scene_vectors() -> Value {
    let mut s = Scene::new(4242);
    let conversation_id = *s.conv(VISITOR).id().as_bytes();
    let visitor = s.key(VISITOR).to_bytes();
    let dispatcher_key = s.tenant.dispatcher_key.public().to_bytes();
    let org_key = s.tenant.org_key.public().to_bytes();

    let dcert = s.tenant.dispatcher.certificate().as_bytes().to_vec();
    assert_eq!(dcert[..2], [0x01, 0x43]);
    assert_eq!(dcert[10..42], dispatcher_key);
    let (signed, sig) = signed_part(&dcert);
    verify(&org_key, LABEL_SIG_DISPATCHER_CERTIFICATE, signed, sig);
    assert_eq!(dcert.len(), 246 + "Acme Bank".len() + "Card desk".len());

    let mut previous = roster_hash(&genesis_body(&conversation_id, &visitor));
    assert_eq!(
        previous,
        AssignmentRoster::genesis(s.conv(VISITOR).id(), s.key(VISITOR)).hash()
    );
    let mut changes = Vec::new();
    let ops: Vec<(&str, AssignmentOp)> = vec![
        ("assign", AssignmentOp::Assign(s.cert(DANA))),
        ("add_supervisor", AssignmentOp::AddSupervisor(s.cert(SAM))),
        (
            "reassign",
            AssignmentOp::Reassign {
                from: s.key(DANA),
                to: s.cert(ELI),
            },
        ),
        ("remove", AssignmentOp::Remove(s.key(SAM))),
        ("close", AssignmentOp::Close),
    ];
    let mut welcomes = Vec::new();
    for (version, (name, op)) in (1u64..).zip(ops) {
        let d = s.change_kept(op);
        let c = &d.change;
        assert_eq!(c[0], 0x01);
        assert_eq!(c[2..34], conversation_id);
        assert_eq!(c[34..42], version.to_be_bytes());
        assert_eq!(c[42..74], previous, "{name}: previous_hash");
        let (signed, sig) = signed_part(c);
        verify(&dispatcher_key, LABEL_SIG_SUPPORT_CHANGE, signed, sig);
        let after = d.roster.hash();
        assert_eq!(s.conv(VISITOR).roster().hash(), after);
        if let Some(w) = &d.welcome {
            let (signed, sig) = signed_part(w);
            verify(&dispatcher_key, LABEL_SIG_SUPPORT_ROSTER, signed, sig);
            let body = welcome_body(w);
            assert_eq!(roster_hash(body), after, "{name}: welcome body hash");
            assert_eq!(body[32..40], version.to_be_bytes());
            assert_eq!(body[40..72], previous);
            welcomes.push(json!({
                "after": name,
                "version": version,
                "welcome": hex::encode(w),
                "roster_hash": hex::encode(after),
            }));
        }
        changes.push(json!({
            "name": name,
            "type": type_byte(c[1]),
            "version": version,
            "previous_hash": hex::encode(previous),
            "change": hex::encode(c),
            "roster_hash_after": hex::encode(after),
            "readers_after": s.readers(),
        }));
        previous = after;
    }

    // A link statement, checked by hand.
    let mut s2 = Scene::new(4243);
    let account = hushwire::IdentityKeyPair::generate(&mut rng(4243));
    let id = s2.conv(VISITOR).id();
    let link = s2
        .visitor
        .link_account(&account, "alice@example.com", id, NOW)
        .unwrap();
    let b = link.as_bytes();
    assert_eq!(b[..2], [0x01, 0x58]);
    assert_eq!(b[34..66], s2.key(VISITOR).to_bytes());
    assert_eq!(b[66..98], account.public().to_bytes());
    assert_eq!(b.len(), 235 + "alice@example.com".len());
    let n = b.len();
    verify(
        &account.public().to_bytes(),
        LABEL_SIG_LINK_ACCOUNT,
        &b[..n - 128],
        &b[n - 128..n - 64],
    );
    verify(
        &s2.key(VISITOR).to_bytes(),
        LABEL_SIG_LINK_VISITOR,
        &b[..n - 64],
        &b[n - 64..],
    );

    json!({
        "comment": "SPEC.md §20: a conversation of seed 4242 (tests/common/support.rs) through every change; each change's signature (dispatcher key), previous hash and the roster hash after it; welcomes for added operators; a link statement of seed 4243",
        "conversation_id": hex::encode(conversation_id),
        "visitor_key": hex::encode(visitor),
        "organization_key": hex::encode(org_key),
        "dispatcher_key": hex::encode(dispatcher_key),
        "dispatcher_certificate": hex::encode(&dcert),
        "genesis_hash": hex::encode(roster_hash(&genesis_body(&conversation_id, &visitor))),
        "changes": changes,
        "welcomes": welcomes,
        "link_statement": {
            "statement": hex::encode(b),
            "account_key": hex::encode(account.public().to_bytes()),
            "user_id": "alice@example.com",
            "issued_at": NOW.as_unix_secs(),
            "displayed": "visitor verified as alice@example.com",
        },
    })
}

fn rejected_vectors() -> Value {
    let mut s = Scene::new(4244);
    let d1 = s.change_kept(AssignmentOp::Assign(s.cert(DANA)));
    let d2 = s.dispatch(AssignmentOp::AddSupervisor(s.cert(SAM)));
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    cases.push(("replayed change", d1.change.clone()));
    let mut t = d2.change.clone();
    t.push(0);
    cases.push(("trailing byte", t));
    cases.push(("truncated", d2.change[..73].to_vec()));
    let mut t = d2.change.clone();
    t[1] = 0x23;
    cases.push(("group roster change type", t));
    let mut t = d2.change.clone();
    t[1] = 0xa0;
    cases.push(("unknown type (unassigned range)", t));
    let mut t = d2.change.clone();
    t[34..42].copy_from_slice(&0u64.to_be_bytes());
    cases.push(("version zero", t));
    let mut t = d2.change.clone();
    t[34..42].copy_from_slice(&5u64.to_be_bytes());
    cases.push(("skipped version (signature fails first)", t));
    let n = d2.change.len();
    let mut t = d2.change.clone();
    t[n - 1] ^= 0x80;
    cases.push(("flipped signature bit", t));
    let mut t = d2.change.clone();
    t[2] ^= 1;
    cases.push(("other conversation", t));
    let out: Vec<Value> = cases
        .into_iter()
        .map(|(name, bytes)| {
            let (roots, now) = (s.tenant.roots.clone(), s.now);
            let mut c = s.conv(VISITOR).clone();
            let err = c
                .apply_change(&bytes, &roots, now, &mut rng(1))
                .unwrap_err();
            assert!(c == *s.conv(VISITOR));
            json!({ "name": name, "change": hex::encode(&bytes), "error": error_json(err) })
        })
        .collect();
    // A forged link statement (its last bit flipped).
    let account = hushwire::IdentityKeyPair::generate(&mut rng(4245));
    let id = s.conv(VISITOR).id();
    let mut link = s
        .visitor
        .clone()
        .link_account(&account, "alice", id, NOW)
        .unwrap()
        .as_bytes()
        .to_vec();
    let n = link.len();
    link[n - 1] ^= 1;
    let err = s.conv(DANA).apply_link(&link, NOW).unwrap_err();
    assert!(LinkStatement::from_bytes(&link).is_ok());
    let welcome_for_eli = s.tenant.dispatcher.welcome(&s.roster);
    let eli = s.operators[ELI - 1].account.identity_key_pair().clone();
    let join_err =
        SupportConversation::join(&eli, &welcome_for_eli, &s.tenant.roots, NOW, &mut rng(2))
            .map(|_| ())
            .unwrap_err();
    json!({
        "comment": "SPEC.md §20.3.4, §20.4: inputs the visitor's conversation at version 1 (seed 4244) refuses, each with its error; the conversation is unchanged after each",
        "conversation_id": hex::encode(s.conv(VISITOR).id().as_bytes()),
        "changes": out,
        "forged_link": { "statement": hex::encode(&link), "error": error_json(err) },
        "welcome_not_listing_joiner": { "welcome": hex::encode(&welcome_for_eli), "error": error_json(join_err) },
    })
}

#[test]
fn support_vectors_match_the_committed_files() {
    check_vector_file(SUBDIR, "structures", &canonical_text(&scene_vectors()));
    check_vector_file(SUBDIR, "rejected", &canonical_text(&rejected_vectors()));
}
