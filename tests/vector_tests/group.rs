//! Fixed test vectors of the group protocol (`tests/vectors/group/*.json`, described in
//! `tests/vectors/group/LAYOUT.md` and SPEC.md §14.9).
//!
//! One deterministic scenario (`ChaCha20Rng::seed_from_u64(GROUP_VECTOR_SEED)`, every draw
//! recorded with its purpose) is run through hushwire's public API. Every value in the files
//! is checked against an independent reference written here from the primitive crates only
//! (Ed25519, HMAC-SHA-256, SHA-256, ChaCha20-Poly1305): chain steps, message keys, header and
//! body layout, AEAD opening, every signature and its input, roster bodies and hashes, roster
//! changes. Every rejected input has its exact error written by hand here, and is checked to
//! leave the state unchanged.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the files instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::convert::Infallible;

use chacha20::ChaCha20Rng;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use hushwire::group::{
    AuthenticatedSender, GroupError, GroupRole, GroupSession, Outgoing, Roster, RosterError,
    RosterUpdate,
};
use hushwire::{DecodeError, Error, IdentityKey, IdentityKeyPair, Timestamp};
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::vector_file;

use vector_file::{canonical_text, check_vector_file, vectors_dir};

use crate::common::vector_json;

use vector_json::{error_json, group_events_json};

const GROUP_VECTOR_SEED: u64 = 0x6875_7368_6772_6f75;

use crate::common::NOW;

/// The sender of a distribution message, as the 1:1 session carrying it would authenticate it.
fn auth(k: &IdentityKey) -> AuthenticatedSender {
    AuthenticatedSender::assume_authenticated(*k)
}

// Protocol constants, written out again (not taken from the library).
const VERSION: u8 = 0x01;
const TYPE_MESSAGE: u8 = 0x20;
const TYPE_DISTRIBUTION: u8 = 0x24;
const TYPE_DISTRIBUTION_V1: u8 = 0x21;
const TYPE_ROSTER: u8 = 0x22;
const TYPE_CHANGE: u8 = 0x23;
const LABEL_SIG_MESSAGE: &[u8] = b"hushwire/v1/sig/group-message";
const LABEL_SIG_DISTRIBUTION: &[u8] = b"hushwire/v1/sig/group-distribution";
const LABEL_SIG_ROSTER: &[u8] = b"hushwire/v1/sig/group-roster-snapshot";
const LABEL_SIG_CHANGE: &[u8] = b"hushwire/v1/sig/group-roster-change";
const LABEL_ROSTER_HASH: &[u8] = b"hushwire/v1/group/roster-hash";
const ROLE_ADMIN: u8 = 1;
const ROLE_MEMBER: u8 = 2;
const OP_ADD: u8 = 1;
const OP_REMOVE: u8 = 2;
const OP_SET_ROLE: u8 = 3;

// ---------------------------------------------------------------------------------------
// A recording RNG.
// ---------------------------------------------------------------------------------------

/// ChaCha20Rng that records every draw until the scenario names it.
struct Recorder {
    inner: ChaCha20Rng,
    unclaimed: Vec<Vec<u8>>,
}

impl TryRng for Recorder {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.fill_bytes(dst);
        self.unclaimed.push(dst.to_vec());
        Ok(())
    }
}

impl TryCryptoRng for Recorder {}

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    b.try_into().unwrap()
}

// ---------------------------------------------------------------------------------------
// The reference: primitives only.
// ---------------------------------------------------------------------------------------

fn hmac(key: &[u8; 32], input: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(input);
    m.finalize().into_bytes().into()
}

/// (message key, next chain key) of a sender chain step.
fn ref_step(ck: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    (hmac(ck, &[0x03]), hmac(ck, &[0x04]))
}

fn ref_chain_at(initial: &[u8; 32], from: u32, to: u32) -> [u8; 32] {
    let mut ck = *initial;
    for _ in from..to {
        ck = ref_step(&ck).1;
    }
    ck
}

fn aead_open(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (ciphertext, tag) = sealed.split_at(sealed.len().checked_sub(16)?);
    let tag = Tag::try_from(tag).ok()?;
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    let mut buf = ciphertext.to_vec();
    cipher
        .decrypt_inout_detached(&Nonce::from(*nonce), ad, buf.as_mut_slice().into(), &tag)
        .ok()?;
    Some(buf)
}

fn ed_public(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

fn ed_verify(public: &[u8; 32], label: &[u8], signed: &[u8], sig: &[u8]) -> bool {
    let key = VerifyingKey::from_bytes(public).unwrap();
    key.verify_strict(&[label, signed].concat(), &Signature::from_bytes(&arr(sig)))
        .is_ok()
}

fn ed_sign(seed: &[u8; 32], label: &[u8], signed: &[u8]) -> [u8; 64] {
    SigningKey::from_bytes(seed)
        .sign(&[label, signed].concat())
        .to_bytes()
}

fn role_byte(r: GroupRole) -> u8 {
    match r {
        GroupRole::Admin => ROLE_ADMIN,
        _ => ROLE_MEMBER,
    }
}

fn role_name(r: GroupRole) -> &'static str {
    match r {
        GroupRole::Admin => "admin",
        _ => "member",
    }
}

/// The roster body (SPEC.md §14.5.1), encoded from the roster's public fields.
fn ref_roster_body(r: &Roster) -> Vec<u8> {
    let mut b = r.group_id().as_bytes().to_vec();
    b.extend_from_slice(&r.epoch().to_be_bytes());
    b.extend_from_slice(r.previous_hash());
    b.extend_from_slice(&r.rekey_epoch().to_be_bytes());
    b.extend_from_slice(&u16::try_from(r.members().len()).unwrap().to_be_bytes());
    for m in r.members() {
        b.extend_from_slice(m.identity().as_bytes());
        b.push(role_byte(m.role()));
        b.extend_from_slice(&m.added_epoch().to_be_bytes());
    }
    b
}

fn ref_roster_hash(body: &[u8]) -> [u8; 32] {
    Sha256::digest([LABEL_ROSTER_HASH, body].concat()).into()
}

// ---------------------------------------------------------------------------------------
// The scenario.
// ---------------------------------------------------------------------------------------

const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];

struct Party {
    id: IdentityKeyPair,
    g: Option<GroupSession>,
}

struct SenderKeyRecord {
    owner: usize,
    key_id: u32,
    key_epoch: u64,
    chain_key: [u8; 32],
    signing_seed: [u8; 32],
}

struct Run {
    rng: Recorder,
    parties: Vec<Party>,
    draws: Vec<Value>,
    identities: Vec<Value>,
    sender_keys: Vec<SenderKeyRecord>,
    distributions: Vec<Value>,
    distribution_bytes: Vec<Vec<u8>>,
    messages: Vec<Value>,
    message_bytes: Vec<Vec<u8>>,
    deliveries: Vec<Value>,
    rosters: Vec<Value>,
    welcomes: Vec<Value>,
    changes: Vec<Value>,
    change_bytes: Vec<Vec<u8>>,
    rejected: Vec<Value>,
    /// Group states saved by name, for rejected inputs fed to earlier states.
    saved: BTreeMap<&'static str, GroupSession>,
    /// The time a rejected input is fed at (recorded with it).
    now: Timestamp,
}

impl Run {
    fn claim(&mut self, call: &str, purposes: &[(String, usize)]) -> Vec<Vec<u8>> {
        let got = std::mem::take(&mut self.rng.unclaimed);
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            purposes.iter().map(|p| p.1).collect::<Vec<_>>(),
            "{call}: draws differ from the documented order"
        );
        for (value, (purpose, len)) in got.iter().zip(purposes) {
            self.draws.push(json!({
                "index": self.draws.len(),
                "call": call,
                "purpose": purpose,
                "length": len,
                "value": hx(value),
            }));
        }
        got
    }

    fn key(&self, p: usize) -> IdentityKey {
        *self.parties[p].id.public()
    }

    fn g(&mut self, p: usize) -> &mut GroupSession {
        self.parties[p].g.as_mut().unwrap()
    }

    fn party_of(&self, k: &IdentityKey) -> usize {
        self.parties
            .iter()
            .position(|p| p.id.public() == k)
            .unwrap()
    }

    fn new_sender_key(&mut self, call: &str, owner: usize, key_id: u32, key_epoch: u64) {
        let who = NAMES[owner];
        let d = self.claim(
            call,
            &[
                (format!("{who}.sender_key[{key_id}].chain_key"), 32),
                (format!("{who}.sender_key[{key_id}].signing_seed"), 32),
            ],
        );
        self.sender_keys.push(SenderKeyRecord {
            owner,
            key_id,
            key_epoch,
            chain_key: arr(&d[0]),
            signing_seed: arr(&d[1]),
        });
    }

    fn sender_key(&self, owner: usize, key_id: u32) -> &SenderKeyRecord {
        self.sender_keys
            .iter()
            .find(|k| k.owner == owner && k.key_id == key_id)
            .unwrap()
    }

    /// Checks a distribution message against the reference and records it.
    fn record_distribution(&mut self, sender: usize, out: &Outgoing, why: &str) -> usize {
        let b = out.bytes.to_vec();
        assert_eq!(b.len(), 154);
        assert_eq!(&b[..2], &[VERSION, TYPE_DISTRIBUTION]);
        assert_eq!(&b[42..74], self.key(sender).as_bytes());
        let key_id = u32::from_be_bytes(arr(&b[74..78]));
        let key_epoch = u64::from_be_bytes(arr(&b[78..86]));
        let chain_index = u32::from_be_bytes(arr(&b[86..90]));
        let sk = self.sender_key(sender, key_id);
        assert_eq!(sk.key_epoch, key_epoch);
        assert_eq!(&b[90..122], &ref_chain_at(&sk.chain_key, 0, chain_index));
        assert_eq!(&b[122..154], &ed_public(&sk.signing_seed));
        let mut recipients: Vec<&str> = out
            .recipients
            .iter()
            .map(|k| NAMES[self.party_of(k)])
            .collect();
        recipients.sort_unstable();
        let index = self.distributions.len();
        self.distributions.push(json!({
            "index": index,
            "sender": NAMES[sender],
            "why": why,
            "recipients": recipients,
            "group_id": hx(&b[2..34]),
            "epoch": u64::from_be_bytes(arr(&b[34..42])),
            "key_id": key_id,
            "key_epoch": key_epoch,
            "chain_index": chain_index,
            "chain_key": hx(&b[90..122]),
            "signing_public": hx(&b[122..154]),
            "bytes": hx(&b),
        }));
        self.distribution_bytes.push(b);
        index
    }

    fn deliver_distribution(&mut self, index: usize, from: usize, to: usize) {
        let bytes = self.distribution_bytes[index].clone();
        let sender = self.key(from);
        let events = self
            .g(to)
            .receive_distribution(auth(&sender), &bytes)
            .unwrap();
        self.deliveries.push(json!({
            "kind": "distribution",
            "distribution": index,
            "to": NAMES[to],
            "events": group_events_json(&events),
        }));
    }

    fn distribute(&mut self, index: usize, from: usize) {
        let recipients: Vec<usize> = self.distributions[index]["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                NAMES
                    .iter()
                    .position(|x| *x == n.as_str().unwrap())
                    .unwrap()
            })
            .collect();
        for to in recipients {
            self.deliver_distribution(index, from, to);
        }
    }

    fn send(&mut self, sender: usize, text: &str) -> usize {
        assert!(self.rng.unclaimed.is_empty());
        let Run { rng, parties, .. } = self;
        let b = parties[sender]
            .g
            .as_mut()
            .unwrap()
            .encrypt(text.as_bytes(), rng)
            .unwrap();
        let index = self.messages.len();
        let d = self.claim(
            "GroupSession::encrypt",
            &[(format!("message[{index}].nonce"), 12)],
        );
        assert_eq!(b.len(), 174 + text.len());
        let key_id = u32::from_be_bytes(arr(&b[74..78]));
        let chain_index = u32::from_be_bytes(arr(&b[78..82]));
        let sk = self.sender_key(sender, key_id);
        let ck = ref_chain_at(&sk.chain_key, 0, chain_index);
        let (mk, next) = ref_step(&ck);
        // Header recomposed from its fields.
        let mut header = vec![VERSION, TYPE_MESSAGE];
        header.extend_from_slice(
            self.parties[sender]
                .g
                .as_ref()
                .unwrap()
                .group_id()
                .as_bytes(),
        );
        header.extend_from_slice(&b[34..42]);
        header.extend_from_slice(self.key(sender).as_bytes());
        header.extend_from_slice(&key_id.to_be_bytes());
        header.extend_from_slice(&chain_index.to_be_bytes());
        header.extend_from_slice(&d[0]);
        assert_eq!(&b[..94], &header[..]);
        let body_end = b.len() - 64;
        let body = &b[94..body_end];
        let opened = aead_open(&mk, &arr(&d[0]), &header, body).unwrap();
        assert_eq!(opened, text.as_bytes());
        let signing_public = ed_public(&sk.signing_seed);
        assert!(ed_verify(
            &signing_public,
            LABEL_SIG_MESSAGE,
            &b[..body_end],
            &b[body_end..]
        ));
        assert_eq!(
            &b[body_end..],
            &ed_sign(&sk.signing_seed, LABEL_SIG_MESSAGE, &b[..body_end])
        );
        self.messages.push(json!({
            "index": index,
            "sender": NAMES[sender],
            "epoch": u64::from_be_bytes(arr(&b[34..42])),
            "key_id": key_id,
            "chain_index": chain_index,
            "plaintext": hx(text.as_bytes()),
            "plaintext_utf8": text,
            "chain_key": hx(&ck),
            "message_key": hx(&mk),
            "next_chain_key": hx(&next),
            "nonce": hx(&d[0]),
            "header": hx(&header),
            "body": hx(body),
            "signing_public": hx(&signing_public),
            "signature_input": hx(&[LABEL_SIG_MESSAGE, &b[..body_end]].concat()),
            "signature": hx(&b[body_end..]),
            "bytes": hx(&b),
        }));
        self.message_bytes.push(b);
        index
    }

    fn read(&mut self, message: usize, to: usize) {
        let bytes = self.message_bytes[message].clone();
        let read = self.g(to).decrypt(&bytes, NOW).unwrap();
        let expected = hex::decode(self.messages[message]["plaintext"].as_str().unwrap()).unwrap();
        assert_eq!(read.plaintext, expected);
        let stored = self.g(to).stored_skipped_keys();
        self.deliveries.push(json!({
            "kind": "message",
            "message": message,
            "to": NAMES[to],
            "now": NOW.as_unix_secs(),
            "plaintext": hx(&read.plaintext),
            "stored_skipped_keys": stored,
            "events": group_events_json(&read.events),
        }));
    }

    /// Records the roster `p` holds, checked against the reference.
    fn record_roster(&mut self, p: usize) {
        let r = self.parties[p].g.as_ref().unwrap().roster().clone();
        let body = ref_roster_body(&r);
        let hash = ref_roster_hash(&body);
        assert_eq!(r.hash(), hash);
        if let Some(prev) = self.rosters.last() {
            assert_eq!(
                hx(r.previous_hash()),
                prev["hash"].as_str().unwrap(),
                "epochs chain by hash"
            );
        }
        self.rosters.push(json!({
            "epoch": r.epoch(),
            "group_id": hx(r.group_id().as_bytes()),
            "previous_hash": hx(r.previous_hash()),
            "rekey_epoch": r.rekey_epoch(),
            "members": r.members().iter().map(|m| json!({
                "name": NAMES[self.party_of(m.identity())],
                "identity": hx(m.identity().as_bytes()),
                "role": role_name(m.role()),
                "added_epoch": m.added_epoch(),
            })).collect::<Vec<_>>(),
            "body": hx(&body),
            "hash_input": hx(&[LABEL_ROSTER_HASH, &body].concat()),
            "hash": hx(&hash),
        }));
    }

    fn record_welcome(&mut self, signer: usize, out: &Outgoing) -> Vec<u8> {
        let b = out.bytes.to_vec();
        let r = self.parties[signer].g.as_ref().unwrap().roster().clone();
        let body = ref_roster_body(&r);
        let mut expected = vec![VERSION, TYPE_ROSTER];
        expected.extend_from_slice(&body);
        expected.extend_from_slice(self.key(signer).as_bytes());
        let sig = &b[expected.len()..];
        assert!(ed_verify(
            self.key(signer).as_bytes(),
            LABEL_SIG_ROSTER,
            &expected,
            sig
        ));
        assert_eq!(&b[..expected.len()], &expected[..]);
        assert_eq!(b.len(), 180 + 41 * r.members().len());
        let mut recipients: Vec<&str> = out
            .recipients
            .iter()
            .map(|k| NAMES[self.party_of(k)])
            .collect();
        recipients.sort_unstable();
        self.welcomes.push(json!({
            "index": self.welcomes.len(),
            "signer": NAMES[signer],
            "recipients": recipients,
            "epoch": r.epoch(),
            "signature_input": hx(&[LABEL_SIG_ROSTER, &expected].concat()),
            "signature": hx(sig),
            "bytes": hx(&b),
        }));
        b
    }

    fn record_change(&mut self, signer: usize, update: &RosterUpdate, previous_hash: [u8; 32]) {
        let out = update.change.as_ref().unwrap();
        let b = out.bytes.to_vec();
        assert_eq!(b.len(), 204);
        assert_eq!(&b[..2], &[VERSION, TYPE_CHANGE]);
        assert_eq!(&b[42..74], &previous_hash);
        assert_eq!(&b[108..140], self.key(signer).as_bytes());
        assert!(ed_verify(
            self.key(signer).as_bytes(),
            LABEL_SIG_CHANGE,
            &b[..140],
            &b[140..]
        ));
        let op = match b[74] {
            OP_ADD => "add",
            OP_REMOVE => "remove",
            OP_SET_ROLE => "set_role",
            _ => panic!("op"),
        };
        let target = IdentityKey::from_bytes(&arr(&b[75..107])).unwrap();
        let mut recipients: Vec<&str> = out
            .recipients
            .iter()
            .map(|k| NAMES[self.party_of(k)])
            .collect();
        recipients.sort_unstable();
        self.changes.push(json!({
            "index": self.changes.len(),
            "group_id": hx(&b[2..34]),
            "epoch": u64::from_be_bytes(arr(&b[34..42])),
            "previous_hash": hx(&b[42..74]),
            "op": op,
            "op_byte": b[74],
            "target": NAMES[self.party_of(&target)],
            "role_byte": b[107],
            "signer": NAMES[signer],
            "recipients": recipients,
            "events": group_events_json(&update.events),
            "signature_input": hx(&[LABEL_SIG_CHANGE, &b[..140]].concat()),
            "signature": hx(&b[140..]),
            "bytes": hx(&b),
        }));
        self.change_bytes.push(b);
    }

    fn apply_change(&mut self, change: usize, to: usize) -> RosterUpdate {
        let bytes = self.change_bytes[change].clone();
        let Run { rng, parties, .. } = self;
        let p = &mut parties[to];
        let u =
            p.g.as_mut()
                .unwrap()
                .apply_roster_change(&p.id, &bytes, NOW, rng)
                .unwrap();
        self.deliveries.push(json!({
            "kind": "roster_change",
            "change": change,
            "to": NAMES[to],
            "now": NOW.as_unix_secs(),
            "events": group_events_json(&u.events),
        }));
        u
    }

    /// Feeds `input` to a copy of a state, expects `expected`, checks nothing changed.
    #[allow(clippy::too_many_arguments)]
    fn reject<E: std::fmt::Debug + PartialEq + Copy + Into<Error>>(
        &mut self,
        name: &str,
        description: &str,
        target: &str,
        call: &str,
        state: &mut GroupSession,
        input: &[u8],
        expected: E,
        f: impl FnOnce(&mut GroupSession, &[u8]) -> Result<(), E>,
    ) {
        let before = state.clone();
        let got = f(state, input);
        assert_eq!(got, Err(expected), "{name}");
        assert!(*state == before, "{name}: state changed");
        self.rejected.push(json!({
            "index": self.rejected.len(),
            "name": name,
            "description": description,
            "target": target,
            "call": call,
            "now": self.now.as_unix_secs(),
            "input": hx(input),
            "error": error_json(expected),
        }));
    }
}

fn forge_change(
    group: &[u8],
    epoch: u64,
    previous_hash: &[u8],
    op: u8,
    target: &IdentityKey,
    role: u8,
    signer_seed: &[u8; 32],
) -> Vec<u8> {
    let mut b = vec![VERSION, TYPE_CHANGE];
    b.extend_from_slice(group);
    b.extend_from_slice(&epoch.to_be_bytes());
    b.extend_from_slice(previous_hash);
    b.push(op);
    b.extend_from_slice(target.as_bytes());
    b.push(role);
    b.extend_from_slice(&ed_public(signer_seed));
    let sig = ed_sign(signer_seed, LABEL_SIG_CHANGE, &b);
    b.extend_from_slice(&sig);
    b
}

fn decrypt_call(g: &mut GroupSession, input: &[u8]) -> Result<(), GroupError> {
    g.decrypt(input, NOW).map(|_| ())
}

/// A version-1 distribution message (type `0x21`) with the fields of the version-2 `v2`,
/// signed by `signer_seed` as older builds signed it.
fn legacy_distribution(v2: &[u8], signer_seed: &[u8; 32]) -> Vec<u8> {
    let mut b = v2.to_vec();
    b[1] = TYPE_DISTRIBUTION_V1;
    let sig = ed_sign(signer_seed, LABEL_SIG_DISTRIBUTION, &b);
    b.extend_from_slice(&sig);
    b
}

/// `honest` plus the point of order 2 `(0, -1)`: a curve point of mixed order.
fn mixed_order(honest: &[u8]) -> [u8; 32] {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let mut t = [0xffu8; 32];
    t[0] = 0xec;
    t[31] = 0x7f;
    let torsion = CompressedEdwardsY(t).decompress().unwrap();
    let point = CompressedEdwardsY(arr(honest)).decompress().unwrap();
    (point + torsion).compress().to_bytes()
}

#[allow(clippy::too_many_lines)]
fn scenario() -> [(&'static str, Value); 3] {
    let mut run = Run {
        rng: Recorder {
            inner: ChaCha20Rng::seed_from_u64(GROUP_VECTOR_SEED),
            unclaimed: vec![],
        },
        parties: vec![],
        draws: vec![],
        identities: vec![],
        sender_keys: vec![],
        distributions: vec![],
        distribution_bytes: vec![],
        messages: vec![],
        message_bytes: vec![],
        deliveries: vec![],
        rosters: vec![],
        welcomes: vec![],
        changes: vec![],
        change_bytes: vec![],
        rejected: vec![],
        saved: BTreeMap::new(),
        now: NOW,
    };
    const ALICE: usize = 0;
    const BOB: usize = 1;
    const CAROL: usize = 2;
    const DAVE: usize = 3;

    // 1. Identities.
    for name in NAMES {
        let id = IdentityKeyPair::generate(&mut run.rng);
        let d = run.claim(
            "IdentityKeyPair::generate",
            &[(format!("{name}.identity_seed"), 32)],
        );
        assert_eq!(ed_public(&arr(&d[0])), id.public().to_bytes());
        run.identities.push(json!({
            "name": name,
            "identity_seed": hx(&d[0]),
            "identity_key": hx(id.public().as_bytes()),
        }));
        run.parties.push(Party { id, g: None });
    }

    // 2. Alice creates the group with Bob; Bob joins.
    let created = GroupSession::create(
        &run.parties[ALICE].id,
        &[(run.key(BOB), GroupRole::Member)],
        &mut run.rng,
    )
    .unwrap();
    let d = run.claim(
        "GroupSession::create",
        &[
            ("group_id".to_owned(), 32),
            ("alice.sender_key[0].chain_key".to_owned(), 32),
            ("alice.sender_key[0].signing_seed".to_owned(), 32),
        ],
    );
    assert_eq!(created.session.group_id().as_bytes(), &d[0][..]);
    run.sender_keys.push(SenderKeyRecord {
        owner: ALICE,
        key_id: 0,
        key_epoch: 0,
        chain_key: arr(&d[1]),
        signing_seed: arr(&d[2]),
    });
    run.parties[ALICE].g = Some(created.session);
    run.record_roster(ALICE);
    let welcome0 = run.record_welcome(ALICE, &created.welcome);
    let d_alice0 = run.record_distribution(ALICE, &created.distribution, "create");
    let joined = GroupSession::join(
        &run.parties[BOB].id,
        &welcome0,
        &run.key(ALICE),
        &mut run.rng,
    )
    .unwrap();
    run.new_sender_key("GroupSession::join", BOB, 0, 0);
    run.parties[BOB].g = Some(joined.session);
    run.saved
        .insert("bob@joined", run.parties[BOB].g.clone().unwrap());
    let d_bob0 = run.record_distribution(BOB, &joined.distribution, "join");
    run.distribute(d_alice0, ALICE);
    run.distribute(d_bob0, BOB);

    // 3. Messages at epoch 0, one delivered out of order.
    let m0 = run.send(ALICE, "hello bob");
    let m1 = run.send(ALICE, "are you there?");
    let m2 = run.send(BOB, "yes, hi alice");
    run.read(m1, BOB);
    run.read(m0, BOB);
    run.read(m2, ALICE);

    // 4. Alice adds Carol (epoch 1).
    let hash0 = run.g(ALICE).roster().hash();
    let carol = run.key(CAROL);
    let Run { rng, parties, .. } = &mut run;
    let p = &mut parties[ALICE];
    let add =
        p.g.as_mut()
            .unwrap()
            .add_member(&p.id, carol, GroupRole::Member, rng)
            .unwrap();
    run.record_change(ALICE, &add, hash0);
    run.record_roster(ALICE);
    let welcome1 = run.record_welcome(ALICE, add.welcome.as_ref().unwrap());
    let d_alice_to_carol =
        run.record_distribution(ALICE, add.distribution.as_ref().unwrap(), "add");
    run.saved
        .insert("bob@epoch0", run.parties[BOB].g.clone().unwrap());
    let bob_add = run.apply_change(0, BOB);
    let d_bob_to_carol =
        run.record_distribution(BOB, bob_add.distribution.as_ref().unwrap(), "add");
    let joined = GroupSession::join(
        &run.parties[CAROL].id,
        &welcome1,
        &run.key(ALICE),
        &mut run.rng,
    )
    .unwrap();
    run.new_sender_key("GroupSession::join", CAROL, 0, 1);
    run.parties[CAROL].g = Some(joined.session);
    let d_carol0 = run.record_distribution(CAROL, &joined.distribution, "join");
    run.distribute(d_alice_to_carol, ALICE);
    run.distribute(d_bob_to_carol, BOB);
    run.distribute(d_carol0, CAROL);

    let m3 = run.send(ALICE, "carol joined");
    run.read(m3, BOB);
    run.read(m3, CAROL);
    let m4 = run.send(CAROL, "hi all");
    run.read(m4, ALICE);
    run.read(m4, BOB);

    // 5. Alice promotes Carol (epoch 2); Carol removes Bob (epoch 3): everyone rotates.
    let hash1 = run.g(ALICE).roster().hash();
    let Run { rng, parties, .. } = &mut run;
    let p = &mut parties[ALICE];
    let promote =
        p.g.as_mut()
            .unwrap()
            .set_role(&p.id, carol, GroupRole::Admin, rng)
            .unwrap();
    run.record_change(ALICE, &promote, hash1);
    run.record_roster(ALICE);
    let _ = run.apply_change(1, BOB);
    let _ = run.apply_change(1, CAROL);
    run.saved
        .insert("bob@epoch2", run.parties[BOB].g.clone().unwrap());
    run.saved
        .insert("alice@epoch2", run.parties[ALICE].g.clone().unwrap());

    let hash2 = run.g(CAROL).roster().hash();
    let bob = run.key(BOB);
    let Run { rng, parties, .. } = &mut run;
    let p = &mut parties[CAROL];
    let remove =
        p.g.as_mut()
            .unwrap()
            .remove_member(&p.id, bob, NOW, rng)
            .unwrap();
    run.new_sender_key("GroupSession::remove_member", CAROL, 1, 3);
    run.record_change(CAROL, &remove, hash2);
    run.record_roster(CAROL);
    let d_carol1 = run.record_distribution(CAROL, remove.distribution.as_ref().unwrap(), "removal");
    let alice_rm = run.apply_change(2, ALICE);
    run.new_sender_key("GroupSession::apply_roster_change", ALICE, 1, 3);
    let d_alice1 =
        run.record_distribution(ALICE, alice_rm.distribution.as_ref().unwrap(), "removal");
    let bob_rm = run.apply_change(2, BOB);
    assert!(bob_rm.distribution.is_none());
    run.distribute(d_carol1, CAROL);
    run.distribute(d_alice1, ALICE);

    let m5 = run.send(ALICE, "bob has left");
    run.read(m5, CAROL);
    let m6 = run.send(CAROL, "noted");
    run.read(m6, ALICE);

    // 6. Another group, for wrong-group inputs.
    let other = GroupSession::create(
        &run.parties[ALICE].id,
        &[(run.key(BOB), GroupRole::Member)],
        &mut run.rng,
    )
    .unwrap();
    let other_group_draws = run.claim(
        "GroupSession::create (second group)",
        &[
            ("other.group_id".to_owned(), 32),
            ("other.alice.sender_key[0].chain_key".to_owned(), 32),
            ("other.alice.sender_key[0].signing_seed".to_owned(), 32),
        ],
    );
    let mut other_g = other.session;
    let foreign_message = other_g.encrypt(b"wrong room", &mut run.rng).unwrap();
    let _ = run.claim(
        "GroupSession::encrypt (second group)",
        &[("other.message[0].nonce".to_owned(), 12)],
    );
    let foreign_distribution = other.distribution.bytes.to_vec();
    assert_eq!(&foreign_message[2..34], &other_group_draws[0][..]);

    // 7. Rejected inputs.
    let msg = |run: &Run, i: usize| run.message_bytes[i].clone();
    let flip = |mut b: Vec<u8>, at: usize, bit: u8| {
        b[at] ^= bit;
        b
    };
    let mut bob0 = run.saved["bob@epoch0"].clone();
    let mut bob2 = run.saved["bob@epoch2"].clone();
    let mut alice2 = run.saved["alice@epoch2"].clone();
    let mut alice = run.parties[ALICE].g.clone().unwrap();
    let mut carol_g = run.parties[CAROL].g.clone().unwrap();
    let mut bob_now = run.parties[BOB].g.clone().unwrap();

    let m1b = msg(&run, m1);
    let len1 = m1b.len();
    run.reject(
        "replayed_message",
        "message 1 delivered to bob a second time",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &m1b,
        GroupError::Duplicate { index: 1 },
        decrypt_call,
    );
    run.reject(
        "body_bit_flipped",
        "message 1 with bit 0 of its first body byte flipped",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &flip(m1b.clone(), 94, 0x01),
        GroupError::BadSignature,
        decrypt_call,
    );
    run.reject(
        "signature_bit_flipped",
        "message 1 with the last bit of its signature flipped",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &flip(m1b.clone(), len1 - 1, 0x80),
        GroupError::BadSignature,
        decrypt_call,
    );
    run.reject(
        "nonce_bit_flipped",
        "message 1 with a nonce bit flipped",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &flip(m1b.clone(), 85, 0x02),
        GroupError::BadSignature,
        decrypt_call,
    );
    run.reject(
        "chain_index_changed",
        "message 1 claiming chain position 7",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &flip(m1b.clone(), 81, 0x06),
        GroupError::BadSignature,
        decrypt_call,
    );
    run.reject(
        "unknown_sender_key",
        "message 1 naming sender-key id 4",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &flip(m1b.clone(), 77, 0x04),
        GroupError::UnknownSenderKey { key_id: 4 },
        decrypt_call,
    );
    run.reject(
        "truncated",
        "message 1 cut inside its signature",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &m1b[..len1 - 60],
        GroupError::Malformed(DecodeError::Truncated { needed: 46 }),
        decrypt_call,
    );
    run.reject(
        "truncated_header",
        "message 1 cut after 50 bytes, inside its sender field (bytes 42..74)",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &m1b[..50],
        GroupError::Malformed(DecodeError::Truncated { needed: 24 }),
        decrypt_call,
    );
    run.reject(
        "unknown_version",
        "message 1 with version byte 0x02",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &flip(m1b.clone(), 0, 0x03),
        GroupError::Malformed(DecodeError::UnknownVersion(2)),
        decrypt_call,
    );
    run.reject(
        "wrong_type",
        "message 1 with the type byte of a version-1 distribution message",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &flip(m1b.clone(), 1, 0x01),
        GroupError::Malformed(DecodeError::WrongType {
            expected: TYPE_MESSAGE,
            found: TYPE_DISTRIBUTION_V1,
        }),
        decrypt_call,
    );
    run.reject(
        "wrong_group",
        "a message of another group with the same members",
        "bob after epoch 0 deliveries",
        "decrypt",
        &mut bob0,
        &foreign_message,
        GroupError::WrongGroup,
        decrypt_call,
    );
    run.reject(
        "own_message",
        "alice's own message echoed back to her",
        "alice at epoch 2",
        "decrypt",
        &mut alice2,
        &msg(&run, m0),
        GroupError::OwnMessage,
        decrypt_call,
    );
    run.reject(
        "history_before_join",
        "message 0 (sent before carol was added) to carol",
        "carol at the end",
        "decrypt",
        &mut carol_g,
        &msg(&run, m0),
        GroupError::BeforeSenderKey { index: 0, first: 2 },
        decrypt_call,
    );
    run.reject(
        "after_removal_stale_state",
        "message 5 (after bob's removal) to bob's state from before it",
        "bob at epoch 2",
        "decrypt",
        &mut bob2,
        &msg(&run, m5),
        GroupError::FutureEpoch {
            message_epoch: 3,
            our_epoch: 2,
        },
        decrypt_call,
    );
    run.reject(
        "after_removal",
        "message 5 to bob after he applied his removal",
        "bob at the end",
        "decrypt",
        &mut bob_now,
        &msg(&run, m5),
        GroupError::Removed,
        decrypt_call,
    );
    let bob_late = {
        let mut b = run.saved["bob@epoch2"].clone();
        let mut r = ChaCha20Rng::seed_from_u64(1);
        b.encrypt(b"still here", &mut r).unwrap()
    };
    run.reject(
        "from_removed_member",
        "a message bob's pre-removal state sends after his removal",
        "alice at the end",
        "decrypt",
        &mut alice,
        &bob_late,
        GroupError::UnknownSender,
        decrypt_call,
    );

    // Distribution messages.
    let dist = |run: &Run, i: usize| run.distribution_bytes[i].clone();
    let from_alice = run.key(ALICE);
    let from_bob = run.key(BOB);
    run.reject(
        "replayed_distribution",
        "alice's first distribution message to bob again",
        "bob after epoch 0 deliveries",
        "receive_distribution(from alice)",
        &mut bob0,
        &dist(&run, d_alice0),
        GroupError::DuplicateDistribution { key_id: 0 },
        |g, b| g.receive_distribution(auth(&from_alice), b).map(|_| ()),
    );
    run.reject(
        "stale_distribution",
        "alice's key 0 (from before the removal) to carol after it",
        "carol at the end",
        "receive_distribution(from alice)",
        &mut carol_g,
        &dist(&run, d_alice0),
        GroupError::StaleSenderKey { key_id: 0 },
        |g, b| g.receive_distribution(auth(&from_alice), b).map(|_| ()),
    );
    run.reject(
        "distribution_not_first_hand",
        "bob's distribution message presented as coming from alice",
        "alice at epoch 2",
        "receive_distribution(from alice)",
        &mut alice2,
        &dist(&run, d_bob0),
        GroupError::SenderMismatch,
        |g, b| g.receive_distribution(auth(&from_alice), b).map(|_| ()),
    );
    let alice_seed: [u8; 32] = *run.parties[ALICE].id.dangerous_to_seed();
    let bob_seed: [u8; 32] = *run.parties[BOB].id.dangerous_to_seed();
    run.reject(
        "legacy_distribution_bad_signature",
        "bob's distribution message as version 1 (0x21, signed by bob), chain key altered",
        "alice at epoch 2",
        "receive_distribution(from bob)",
        &mut alice2,
        &flip(
            legacy_distribution(&dist(&run, d_bob0), &bob_seed),
            100,
            0x01,
        ),
        GroupError::BadSignature,
        |g, b| g.receive_distribution(auth(&from_bob), b).map(|_| ()),
    );
    run.reject(
        "legacy_distribution_signed_by_another",
        "bob's distribution message as version 1, signed by alice",
        "alice at epoch 2",
        "receive_distribution(from bob)",
        &mut alice2,
        &legacy_distribution(&dist(&run, d_bob0), &alice_seed),
        GroupError::BadSignature,
        |g, b| g.receive_distribution(auth(&from_bob), b).map(|_| ()),
    );
    let with_signing_key = |run: &Run, i: usize, key: &[u8; 32]| {
        let mut b = dist(run, i);
        b[122..154].copy_from_slice(key);
        b
    };
    let honest = dist(&run, d_alice0)[122..154].to_vec();
    run.reject(
        "distribution_mixed_order_signing_key",
        "alice's first distribution message with the point of order 2 added to its signing key",
        "bob right after joining",
        "receive_distribution(from alice)",
        &mut run.saved["bob@joined"].clone(),
        &with_signing_key(&run, d_alice0, &mixed_order(&honest)),
        GroupError::Malformed(DecodeError::InvalidField {
            field: "signing_key",
        }),
        |g, b| g.receive_distribution(auth(&from_alice), b).map(|_| ()),
    );
    // The curve point with the smallest y >= 2, encoded with y + p (non-canonical).
    let non_canonical = (2u8..19)
        .map(|y| {
            let mut b = [0xffu8; 32];
            b[0] = 0xed + y;
            b[31] = 0x7f;
            b
        })
        .find(|b| {
            curve25519_dalek::edwards::CompressedEdwardsY(*b)
                .decompress()
                .is_some()
        })
        .unwrap();
    run.reject(
        "distribution_non_canonical_signing_key",
        "alice's first distribution message whose signing key is a point encoded with y >= p",
        "bob right after joining",
        "receive_distribution(from alice)",
        &mut run.saved["bob@joined"].clone(),
        &with_signing_key(&run, d_alice0, &non_canonical),
        GroupError::Malformed(DecodeError::InvalidField {
            field: "signing_key",
        }),
        |g, b| g.receive_distribution(auth(&from_alice), b).map(|_| ()),
    );
    run.reject(
        "distribution_wrong_group",
        "alice's distribution message of another group",
        "bob after epoch 0 deliveries",
        "receive_distribution(from alice)",
        &mut bob0,
        &foreign_distribution,
        GroupError::WrongGroup,
        |g, b| g.receive_distribution(auth(&from_alice), b).map(|_| ()),
    );
    run.reject(
        "distribution_trailing_byte",
        "a distribution message with one byte appended",
        "bob after epoch 0 deliveries",
        "receive_distribution(from alice)",
        &mut bob0,
        &[dist(&run, d_alice0), vec![0]].concat(),
        GroupError::Malformed(DecodeError::TooLarge { len: 155, max: 154 }),
        |g, b| g.receive_distribution(auth(&from_alice), b).map(|_| ()),
    );

    // Roster changes: forged, skipping, forking, replayed.
    let gid = alice.group_id();
    let hash3 = alice.roster().hash();
    let dave = run.key(DAVE);
    let alice_id = run.parties[ALICE].id.clone();
    let apply = |id: IdentityKeyPair| {
        move |g: &mut GroupSession, b: &[u8]| {
            let mut r = ChaCha20Rng::seed_from_u64(2);
            g.apply_roster_change(&id, b, NOW, &mut r).map(|_| ())
        }
    };
    let bob_key_bytes = run.key(BOB).to_bytes();
    let carol_id = run.parties[CAROL].id.clone();
    run.reject(
        "change_by_non_admin",
        "bob (a member) signs adding dave at epoch 1",
        "bob at epoch 0",
        "apply_roster_change",
        &mut bob0.clone(),
        &forge_change(
            gid.as_bytes(),
            1,
            &hash0,
            OP_ADD,
            &dave,
            ROLE_MEMBER,
            &bob_seed,
        ),
        RosterError::NotAdmin {
            signer: bob_key_bytes,
        },
        apply(run.parties[BOB].id.clone()),
    );
    run.reject(
        "change_skips_epoch",
        "alice signs adding dave at epoch 5 (the next is 4)",
        "carol at the end (epoch 3)",
        "apply_roster_change",
        &mut carol_g,
        &forge_change(
            gid.as_bytes(),
            5,
            &hash3,
            OP_ADD,
            &dave,
            ROLE_MEMBER,
            &alice_seed,
        ),
        RosterError::SkippedEpoch {
            current: 3,
            found: 5,
        },
        apply(carol_id.clone()),
    );
    run.reject(
        "change_forks_history",
        "alice signs adding dave at epoch 4 on the epoch-2 roster",
        "carol at the end (epoch 3)",
        "apply_roster_change",
        &mut carol_g,
        &forge_change(
            gid.as_bytes(),
            4,
            &hash2,
            OP_ADD,
            &dave,
            ROLE_MEMBER,
            &alice_seed,
        ),
        RosterError::ForkedEpoch { epoch: 4 },
        apply(carol_id.clone()),
    );
    run.reject(
        "competing_change",
        "alice signs removing carol at epoch 3 (carol removed bob at epoch 3)",
        "carol at the end (epoch 3)",
        "apply_roster_change",
        &mut carol_g,
        &forge_change(
            gid.as_bytes(),
            3,
            &hash2,
            OP_REMOVE,
            &run.key(CAROL),
            0,
            &alice_seed,
        ),
        RosterError::ForkedEpoch { epoch: 3 },
        apply(carol_id.clone()),
    );
    let mut bad_sig = forge_change(
        gid.as_bytes(),
        4,
        &hash3,
        OP_ADD,
        &dave,
        ROLE_MEMBER,
        &alice_seed,
    );
    bad_sig[203] ^= 0x01;
    run.reject(
        "change_bad_signature",
        "alice's change adding dave at epoch 4, signature bit flipped",
        "carol at the end (epoch 3)",
        "apply_roster_change",
        &mut carol_g,
        &bad_sig,
        RosterError::BadSignature,
        apply(carol_id.clone()),
    );
    let removed_bob = run.change_bytes[2].clone();
    run.reject(
        "replayed_change",
        "carol's removal of bob (epoch 3) to alice again",
        "alice at the end",
        "apply_roster_change",
        &mut alice,
        &removed_bob,
        RosterError::DuplicateChange { epoch: 3 },
        apply(alice_id.clone()),
    );
    let add_carol = run.change_bytes[0].clone();
    run.reject(
        "stale_change",
        "alice's addition of carol (epoch 1) to alice at epoch 3",
        "alice at the end",
        "apply_roster_change",
        &mut alice,
        &add_carol,
        RosterError::StaleEpoch {
            current: 3,
            found: 1,
        },
        apply(alice_id.clone()),
    );
    run.reject(
        "leave_for_someone_else",
        "bob (a member) signs removing alice at epoch 1",
        "bob at epoch 0",
        "apply_roster_change",
        &mut bob0.clone(),
        &forge_change(
            gid.as_bytes(),
            1,
            &hash0,
            OP_REMOVE,
            &run.key(ALICE),
            0,
            &bob_seed,
        ),
        RosterError::NotAdmin {
            signer: bob_key_bytes,
        },
        apply(run.parties[BOB].id.clone()),
    );
    run.reject(
        "change_bad_role",
        "a change whose role byte is 7",
        "carol at the end (epoch 3)",
        "apply_roster_change",
        &mut carol_g,
        &flip(
            forge_change(
                gid.as_bytes(),
                4,
                &hash3,
                OP_ADD,
                &dave,
                ROLE_MEMBER,
                &alice_seed,
            ),
            107,
            0x05,
        ),
        RosterError::Malformed(DecodeError::InvalidField { field: "role" }),
        apply(carol_id.clone()),
    );
    let carol_key = run.key(CAROL);
    run.reject(
        "change_adds_a_member",
        "alice signs adding carol (already a member) at epoch 4",
        "carol at the end (epoch 3)",
        "apply_roster_change",
        &mut carol_g,
        &forge_change(
            gid.as_bytes(),
            4,
            &hash3,
            OP_ADD,
            &carol_key,
            ROLE_MEMBER,
            &alice_seed,
        ),
        RosterError::AlreadyMember {
            member: carol_key.to_bytes(),
        },
        apply(carol_id.clone()),
    );
    run.reject(
        "change_removes_a_non_member",
        "alice signs removing dave (never a member) at epoch 4",
        "carol at the end (epoch 3)",
        "apply_roster_change",
        &mut carol_g,
        &forge_change(gid.as_bytes(), 4, &hash3, OP_REMOVE, &dave, 0, &alice_seed),
        RosterError::NotAMember {
            member: dave.to_bytes(),
        },
        apply(carol_id.clone()),
    );
    run.reject(
        "change_sets_role_of_a_non_member",
        "alice signs making dave (never a member) an admin at epoch 4",
        "carol at the end (epoch 3)",
        "apply_roster_change",
        &mut carol_g,
        &forge_change(
            gid.as_bytes(),
            4,
            &hash3,
            OP_SET_ROLE,
            &dave,
            ROLE_ADMIN,
            &alice_seed,
        ),
        RosterError::NotAMember {
            member: dave.to_bytes(),
        },
        apply(carol_id),
    );

    // Welcomes.
    let dave_id = run.parties[DAVE].id.clone();
    let carol_id = run.parties[CAROL].id.clone();
    let mut nobody = alice.clone();
    run.reject(
        "welcome_not_listing_us",
        "the epoch-1 welcome given to dave",
        "(no state: GroupSession::join by dave, inviter alice)",
        "join",
        &mut nobody,
        &welcome1,
        RosterError::NotInRoster,
        |_, b| {
            GroupSession::join(&dave_id, b, &from_alice, &mut ChaCha20Rng::seed_from_u64(3))
                .map(|_| ())
        },
    );
    run.reject(
        "welcome_from_other_inviter",
        "the epoch-1 welcome given to carol as if bob had invited her",
        "(no state: GroupSession::join by carol, inviter bob)",
        "join",
        &mut nobody,
        &welcome1,
        RosterError::InviterMismatch,
        |_, b| {
            GroupSession::join(&carol_id, b, &from_bob, &mut ChaCha20Rng::seed_from_u64(3))
                .map(|_| ())
        },
    );
    // The per-member checks of a welcome, in their order (SPEC.md §14.6.4): identity, role,
    // added epoch, then the order of identities. Entries start at byte 84, 41 bytes each.
    let entry = |k: usize| 84 + 41 * k;
    let swapped = {
        let mut b = welcome1.clone();
        let (a, c) = (entry(0), entry(1));
        let first = b[a..c].to_vec();
        let second = b[c..c + 41].to_vec();
        b[a..c].copy_from_slice(&second);
        b[c..c + 41].copy_from_slice(&first);
        b
    };
    let join_as_carol = |carol: IdentityKeyPair, inviter: IdentityKey| {
        move |_: &mut GroupSession, b: &[u8]| {
            GroupSession::join(&carol, b, &inviter, &mut ChaCha20Rng::seed_from_u64(3)).map(|_| ())
        }
    };
    run.reject(
        "welcome_members_out_of_order",
        "the epoch-1 welcome with its first two members swapped",
        "(no state: GroupSession::join by carol, inviter alice)",
        "join",
        &mut nobody,
        &swapped,
        RosterError::Malformed(DecodeError::InvalidField { field: "members" }),
        join_as_carol(carol_id.clone(), from_alice),
    );
    let mut bad_role = swapped.clone();
    bad_role[entry(1) + 32] = 7;
    run.reject(
        "welcome_role_checked_before_order",
        "the swapped welcome, the second member's role byte also 7",
        "(no state: GroupSession::join by carol, inviter alice)",
        "join",
        &mut nobody,
        &bad_role,
        RosterError::Malformed(DecodeError::InvalidField { field: "role" }),
        join_as_carol(carol_id.clone(), from_alice),
    );
    let mut late_added = swapped.clone();
    late_added[entry(1) + 33..entry(1) + 41].copy_from_slice(&2u64.to_be_bytes());
    run.reject(
        "welcome_added_epoch_checked_before_order",
        "the swapped welcome, the second member's added epoch also 2 (above the epoch, 1)",
        "(no state: GroupSession::join by carol, inviter alice)",
        "join",
        &mut nobody,
        &late_added,
        RosterError::Malformed(DecodeError::InvalidField {
            field: "added_epoch",
        }),
        join_as_carol(carol_id.clone(), from_alice),
    );
    let mut bad_identity = bad_role.clone();
    bad_identity[entry(1)..entry(1) + 32]
        .copy_from_slice(&mixed_order(&welcome1[entry(1)..entry(1) + 32]));
    run.reject(
        "welcome_identity_checked_first",
        "the swapped welcome with the bad role, the second member's identity key also of mixed order",
        "(no state: GroupSession::join by carol, inviter alice)",
        "join",
        &mut nobody,
        &bad_identity,
        RosterError::Malformed(DecodeError::InvalidField { field: "member" }),
        join_as_carol(carol_id.clone(), from_alice),
    );
    let tampered_welcome = flip(welcome1.clone(), 124, 0x01);
    run.reject(
        "welcome_tampered",
        "the epoch-1 welcome with the first member's added epoch changed from 0 to 1",
        "(no state: GroupSession::join by carol, inviter alice)",
        "join",
        &mut nobody,
        &tampered_welcome,
        RosterError::BadSignature,
        |_, b| {
            GroupSession::join(
                &carol_id,
                b,
                &from_alice,
                &mut ChaCha20Rng::seed_from_u64(3),
            )
            .map(|_| ())
        },
    );

    // 8. A removal withheld from a member. Alice's epoch-2 state (as if carol's removal of bob
    // had not reached her) sends two messages on her key 0; carol, who applied the removal
    // at NOW, reads the second within the grace window (with an OldEpochMessage event),
    // storing the key of the first.
    let alice_current = run.parties[ALICE].g.take();
    run.parties[ALICE].g = Some(run.saved["alice@epoch2"].clone());
    let m7 = run.send(ALICE, "sent before seeing the removal");
    let m8 = run.send(ALICE, "still before seeing it");
    run.parties[ALICE].g = alice_current;
    run.read(m8, CAROL);
    let mut carol_after_m8 = run.parties[CAROL].g.clone().unwrap();
    // Alice rotates; carol's third key of alice evicts key 0 with its stored key.
    let Run { rng, parties, .. } = &mut run;
    let p = &mut parties[ALICE];
    let rotated = p.g.as_mut().unwrap().rotate_sender_key(&p.id, rng).unwrap();
    run.new_sender_key("GroupSession::rotate_sender_key", ALICE, 2, 3);
    let d_alice2 = run.record_distribution(ALICE, &rotated, "rotate");
    run.distribute(d_alice2, ALICE);
    let mut carol_end = run.parties[CAROL].g.clone().unwrap();
    run.now = NOW.plus_secs(3_601);
    let late = run.now;
    run.reject(
        "old_epoch_after_the_window",
        "message 7 (alice's key 0, epoch 2, after carol applied the removal at epoch 3 at NOW) one hour and one second later",
        "carol after reading message 8",
        "decrypt",
        &mut carol_after_m8,
        &msg(&run, m7),
        GroupError::OldEpochRefused {
            key_id: 0,
            rekey_epoch: 3,
        },
        |g, b| g.decrypt(b, late).map(|_| ()),
    );
    run.now = NOW;
    run.reject(
        "old_epoch_key_evicted",
        "message 7 after alice's third key evicted key 0",
        "carol after alice's rotation",
        "decrypt",
        &mut carol_end,
        &msg(&run, m7),
        GroupError::UnknownSenderKey { key_id: 0 },
        decrypt_call,
    );

    // Version-1 distribution messages, as older peers send them, are still accepted.
    let (index, from, to, state) = (d_alice0, ALICE, BOB, "bob@joined");
    let seed: [u8; 32] = *run.parties[from].id.dangerous_to_seed();
    let b = legacy_distribution(&run.distribution_bytes[index], &seed);
    assert_eq!(b.len(), 218);
    assert!(ed_verify(
        run.key(from).as_bytes(),
        LABEL_SIG_DISTRIBUTION,
        &b[..154],
        &b[154..]
    ));
    let mut g = run.saved[state].clone();
    let events = g.receive_distribution(auth(&run.key(from)), &b).unwrap();
    let legacy = vec![json!({
        "distribution": index,
        "from": NAMES[from],
        "to": NAMES[to],
        "state": "bob right after joining (before any distribution message)",
        "signature_input": hx(&[LABEL_SIG_DISTRIBUTION, &b[..154]].concat()),
        "signature": hx(&b[154..]),
        "bytes": hx(&b),
        "events": group_events_json(&events),
    })];

    assert!(run.rng.unclaimed.is_empty());

    let head = |name: &str, description: &str| {
        json!({
            "vector": name,
            "description": description,
            "protocol": "hushwire/v1 groups (SPEC.md §14)",
            "wire_version": VERSION,
            "rng": format!("ChaCha20Rng::seed_from_u64({GROUP_VECTOR_SEED:#x}) (chacha20 0.10); every draw is listed with its purpose"),
        })
    };
    let mut sender_keys = head(
        "sender_keys",
        "Identities, every sender key (chain key and signing seed as drawn), every distribution message and group message with all its keys and parts, every delivery in order, and version-1 (signed) distribution messages as older peers send them.",
    );
    sender_keys["draws"] = Value::Array(run.draws.clone());
    sender_keys["identities"] = Value::Array(run.identities.clone());
    sender_keys["sender_keys"] = Value::Array(
        run.sender_keys
            .iter()
            .map(|k| {
                json!({
                    "owner": NAMES[k.owner],
                    "key_id": k.key_id,
                    "key_epoch": k.key_epoch,
                    "chain_key": hx(&k.chain_key),
                    "signing_seed": hx(&k.signing_seed),
                    "signing_public": hx(&ed_public(&k.signing_seed)),
                })
            })
            .collect(),
    );
    sender_keys["distributions"] = Value::Array(run.distributions.clone());
    sender_keys["messages"] = Value::Array(run.messages.clone());
    sender_keys["deliveries"] = Value::Array(run.deliveries.clone());
    sender_keys["legacy_distributions"] = Value::Array(legacy);
    let mut roster = head(
        "roster",
        "The roster at every epoch (body, hash input, hash), every welcome and every roster change of the scenario: genesis with alice and bob, alice adds carol (1), promotes her (2), carol removes bob (3).",
    );
    roster["rosters"] = Value::Array(run.rosters.clone());
    roster["welcomes"] = Value::Array(run.welcomes.clone());
    roster["changes"] = Value::Array(run.changes.clone());
    let mut rejected = head(
        "rejected",
        "Inputs that must be rejected, each with the state it is fed to and the exact error; none changes the state.",
    );
    rejected["rejected"] = Value::Array(run.rejected.clone());
    [
        ("sender_keys", sender_keys),
        ("roster", roster),
        ("rejected", rejected),
    ]
}

// ---------------------------------------------------------------------------------------
// Files.
// ---------------------------------------------------------------------------------------

#[test]
fn group_vectors_match_the_committed_files() {
    let files = scenario();
    for (name, value) in files {
        check_vector_file("group", name, &canonical_text(&value));
    }
    // Every file in the directory is one this test writes (or its LAYOUT.md).
    let mut found: Vec<String> = std::fs::read_dir(vectors_dir("group"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "LAYOUT.md",
            "rejected.json",
            "roster.json",
            "sender_keys.json"
        ]
    );
}
