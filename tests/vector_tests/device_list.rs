//! Fixed test vectors of signed device lists (`tests/vectors/device_list/*.json`, SPEC.md §19):
//! valid lists, lists the decoder rejects, and successor checks (§19.4) with their outcomes.
//!
//! Every list is built twice: by an independent reference here, written from the byte layout
//! of SPEC.md §19.2 with `ed25519-dalek` and `sha2` only (Ed25519 is deterministic, so the
//! bytes must be identical), and by the library (`DeviceEntry::sign`, `DeviceList::sign`).
//! Every expected error is written here by hand. The files built from them are compared with
//! the committed ones; a second test then reads the committed files and checks each vector
//! against the library: decode, byte-identical re-encoding, hash, and each outcome.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the files instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use ed25519_dalek::{Signer, SigningKey};
use hushwire::device::{DeviceEntry, DeviceList, Tombstone, UserSigningKey};
use hushwire::{IdentityKeyPair, Timestamp, UserId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::NOW_SECS as NOW;
use crate::common::vector_file::{canonical_text, check_vector_file};
use crate::common::vector_json::{error_json, type_byte};

const SUBDIR: &str = "device_list";

// Constants of the specification, written out again (not taken from the library).
const LABEL_SIG_DEVICE_LIST: &[u8] = b"hushwire/v1/sig/device-list";
const LABEL_SIG_DEVICE_ENTRY: &[u8] = b"hushwire/v1/sig/device-entry";
const LABEL_DEVICE_LIST_HASH: &[u8] = b"hushwire/v1/multi-device/list-hash";
const TYPE_DEVICE_LIST: u8 = 0x54;
const MAX_DEVICES_PER_USER: usize = 32;
const MAX_TOMBSTONES: usize = 64;
const MAX_DEVICE_LIST_LEN: usize = 4597;

/// A fixed 32-byte Ed25519 seed: `tag` repeated.
fn seed(tag: u8) -> [u8; 32] {
    [tag; 32]
}

const ALICE_USER: u8 = 0xa0;
const ALICE_OTHER_USER: u8 = 0xa1;
const BOB_USER: u8 = 0xb0;
const EDGE_USER: u8 = 0xe0;
const ALICE_ID: &[u8] = b"alice@example.org";
const BOB_ID: &[u8] = b"bob@example.org";

/// One live device of a reference list: `(device_id, incarnation, seed of its identity key)`.
#[derive(Clone, Copy)]
struct Dev(u32, u32, u8);

/// One tombstone: `(device_id, incarnation, removed_at)`.
#[derive(Clone, Copy)]
struct Tomb(u32, u32, u64);

/// The inputs of one list.
#[derive(Clone)]
struct Spec {
    user_seed: u8,
    user_id: Vec<u8>,
    version: u64,
    timestamp: u64,
    devices: Vec<Dev>,
    tombstones: Vec<Tomb>,
}

/// A list built by the reference, with its intermediate values.
struct Built {
    entry_messages: Vec<Vec<u8>>,
    counter_signatures: Vec<[u8; 64]>,
    signed_message: Vec<u8>,
    bytes: Vec<u8>,
}

fn public(tag: u8) -> [u8; 32] {
    SigningKey::from_bytes(&seed(tag))
        .verifying_key()
        .to_bytes()
}

/// SPEC.md §19.2.3: `LABEL || user_key || user_id_len || user_id || device_id || incarnation
/// || identity_key`.
fn entry_message(user_key: &[u8; 32], user_id: &[u8], d: Dev) -> Vec<u8> {
    let mut m = LABEL_SIG_DEVICE_ENTRY.to_vec();
    m.extend_from_slice(user_key);
    m.push(u8::try_from(user_id.len()).unwrap());
    m.extend_from_slice(user_id);
    m.extend_from_slice(&d.0.to_be_bytes());
    m.extend_from_slice(&d.1.to_be_bytes());
    m.extend_from_slice(&public(d.2));
    m
}

/// SPEC.md §19.2.1–§19.2.2, from the spec alone. Entries and tombstones are written in the
/// order given (sorted, except where a rejection wants otherwise).
fn reference(spec: &Spec) -> Built {
    reference_with(spec, |_, _| {})
}

/// [`reference`], with `tamper_entry(index, counter_signature)` changing each counter-signature
/// before it is written (the user key then signs the changed bytes).
fn reference_with(spec: &Spec, tamper_entry: impl Fn(usize, &mut [u8; 64])) -> Built {
    let user = SigningKey::from_bytes(&seed(spec.user_seed));
    let user_key = user.verifying_key().to_bytes();
    let mut bytes = vec![0x01, TYPE_DEVICE_LIST];
    bytes.extend_from_slice(&user_key);
    bytes.push(u8::try_from(spec.user_id.len()).unwrap());
    bytes.extend_from_slice(&spec.user_id);
    bytes.extend_from_slice(&spec.version.to_be_bytes());
    bytes.extend_from_slice(&spec.timestamp.to_be_bytes());
    bytes.push(u8::try_from(spec.devices.len()).unwrap());
    let mut entry_messages = Vec::new();
    let mut counter_signatures = Vec::new();
    for (i, d) in spec.devices.iter().enumerate() {
        let message = entry_message(&user_key, &spec.user_id, *d);
        let mut sig = SigningKey::from_bytes(&seed(d.2)).sign(&message).to_bytes();
        tamper_entry(i, &mut sig);
        bytes.extend_from_slice(&d.0.to_be_bytes());
        bytes.extend_from_slice(&d.1.to_be_bytes());
        bytes.extend_from_slice(&public(d.2));
        bytes.extend_from_slice(&sig);
        entry_messages.push(message);
        counter_signatures.push(sig);
    }
    bytes.push(u8::try_from(spec.tombstones.len()).unwrap());
    for t in &spec.tombstones {
        bytes.extend_from_slice(&t.0.to_be_bytes());
        bytes.extend_from_slice(&t.1.to_be_bytes());
        bytes.extend_from_slice(&t.2.to_be_bytes());
    }
    let mut signed_message = LABEL_SIG_DEVICE_LIST.to_vec();
    signed_message.extend_from_slice(&bytes);
    bytes.extend_from_slice(&user.sign(&signed_message).to_bytes());
    Built {
        entry_messages,
        counter_signatures,
        signed_message,
        bytes,
    }
}

/// SPEC.md §19.2.4.
fn reference_hash(bytes: &[u8]) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(LABEL_DEVICE_LIST_HASH)
        .chain_update(bytes)
        .finalize();
    digest[..8].try_into().unwrap()
}

/// The same list signed by the library; panics if its bytes differ from the reference's.
fn library(spec: &Spec, built: &Built) -> DeviceList {
    let user = UserSigningKey::dangerous_from_seed(&seed(spec.user_seed));
    let user_id = UserId::new(&spec.user_id).unwrap();
    let devices = spec
        .devices
        .iter()
        .map(|d| {
            let pair = IdentityKeyPair::dangerous_from_seed(&seed(d.2));
            DeviceEntry::sign(&pair, &user_id, user.public(), d.0, d.1)
        })
        .collect();
    let tombstones = spec
        .tombstones
        .iter()
        .map(|t| Tombstone::new(t.0, t.1, Timestamp::from_unix_secs(t.2)))
        .collect();
    let list = DeviceList::sign(
        &user,
        &user_id,
        spec.version,
        Timestamp::from_unix_secs(spec.timestamp),
        devices,
        tombstones,
    )
    .unwrap();
    assert_eq!(
        hex::encode(list.as_bytes()),
        hex::encode(&built.bytes),
        "library and reference disagree on list {}",
        spec.version
    );
    assert_eq!(list.hash().as_bytes(), &reference_hash(&built.bytes));
    list
}

fn spec_json(spec: &Spec) -> Value {
    json!({
        "user_seed": hex::encode(seed(spec.user_seed)),
        "user_key": hex::encode(public(spec.user_seed)),
        "user_id": hex::encode(&spec.user_id),
        "list_version": spec.version,
        "timestamp": spec.timestamp,
        "devices": spec.devices.iter().map(|d| json!({
            "device_id": d.0,
            "incarnation": d.1,
            "seed": hex::encode(seed(d.2)),
            "identity_key": hex::encode(public(d.2)),
        })).collect::<Vec<_>>(),
        "tombstones": spec.tombstones.iter().map(|t| json!({
            "device_id": t.0,
            "incarnation": t.1,
            "removed_at": t.2,
        })).collect::<Vec<_>>(),
    })
}

fn valid_json(name: &str, comment: &str, spec: &Spec) -> Value {
    let built = reference(spec);
    library(spec, &built);
    let mut v = spec_json(spec);
    let o = v.as_object_mut().unwrap();
    o.insert("name".into(), json!(name));
    o.insert("comment".into(), json!(comment));
    o.insert(
        "counter_signatures".into(),
        json!(
            built
                .entry_messages
                .iter()
                .zip(&built.counter_signatures)
                .map(|(m, s)| json!({
                    "signed_message": hex::encode(m),
                    "signature": hex::encode(s),
                }))
                .collect::<Vec<_>>()
        ),
    );
    o.insert(
        "user_signed_message".into(),
        json!(hex::encode(&built.signed_message)),
    );
    o.insert(
        "user_signature".into(),
        json!(hex::encode(&built.bytes[built.bytes.len() - 64..])),
    );
    o.insert("bytes".into(), json!(hex::encode(&built.bytes)));
    o.insert(
        "hash".into(),
        json!(hex::encode(reference_hash(&built.bytes))),
    );
    v
}

fn alice(version: u64, devices: &[Dev], tombstones: &[Tomb]) -> Spec {
    Spec {
        user_seed: ALICE_USER,
        user_id: ALICE_ID.to_vec(),
        version,
        timestamp: NOW + version * 3_600,
        devices: devices.to_vec(),
        tombstones: tombstones.to_vec(),
    }
}

// Alice's devices: ids 1, 2, 3; device 2 is reinstalled (incarnation 1, new key).
const PHONE: Dev = Dev(1, 0, 0x01);
const LAPTOP: Dev = Dev(2, 0, 0x02);
const LAPTOP_REINSTALLED: Dev = Dev(2, 1, 0x12);
const TABLET: Dev = Dev(3, 0, 0x03);

/// The named lists: Alice's history v1..v5 and the lists the rejections start from.
fn named_lists() -> Vec<(&'static str, &'static str, Spec)> {
    let t = NOW + 4 * 3_600;
    let edge_devices: Vec<Dev> = (0..MAX_DEVICES_PER_USER)
        .map(|i| {
            Dev(
                u32::try_from(i).unwrap() + 1,
                0,
                0x40 + u8::try_from(i).unwrap(),
            )
        })
        .collect();
    let edge_tombs: Vec<Tomb> = (0..MAX_TOMBSTONES)
        .map(|i| Tomb(1_000 + u32::try_from(i).unwrap(), 7, NOW))
        .collect();
    vec![
        ("alice_v1", "one device", alice(1, &[PHONE], &[])),
        (
            "alice_v2",
            "successor of v1 adding device 2",
            alice(2, &[PHONE, LAPTOP], &[]),
        ),
        (
            "alice_v3",
            "three devices",
            alice(3, &[PHONE, LAPTOP, TABLET], &[]),
        ),
        (
            "alice_v4",
            "successor of v3: device 2 reinstalled with incarnation 1 and a new key; the old incarnation tombstoned",
            alice(4, &[PHONE, LAPTOP_REINSTALLED, TABLET], &[Tomb(2, 0, t)]),
        ),
        (
            "alice_v5",
            "successor of v4: device 1 removed with a tombstone",
            alice(
                5,
                &[LAPTOP_REINSTALLED, TABLET],
                &[Tomb(1, 0, t + 3_600), Tomb(2, 0, t)],
            ),
        ),
        (
            "bob_v2",
            "another user's list (Bob), version 2",
            Spec {
                user_seed: BOB_USER,
                user_id: BOB_ID.to_vec(),
                version: 2,
                timestamp: NOW,
                devices: vec![Dev(1, 0, 0x21)],
                tombstones: vec![],
            },
        ),
        (
            "alice_other_user_key_v2",
            "Alice's user id under another user key, version 2",
            Spec {
                user_seed: ALICE_OTHER_USER,
                ..alice(2, &[PHONE], &[])
            },
        ),
        (
            "alice_v4_dropped",
            "version 4 that drops device 2 without a tombstone",
            alice(4, &[PHONE, TABLET], &[]),
        ),
        (
            "alice_v4_same_incarnation_new_key",
            "version 4 that lists device 2 with the same incarnation and another key",
            alice(4, &[PHONE, Dev(2, 0, 0x12), TABLET], &[]),
        ),
        (
            "alice_v6_resurrected",
            "version 6 that lists device 1, incarnation 0, again although v5 tombstoned it",
            alice(6, &[PHONE, LAPTOP_REINSTALLED, TABLET], &[Tomb(2, 0, t)]),
        ),
        (
            "edge_max",
            "the largest list: a 128-byte user id, MAX_DEVICES_PER_USER devices, MAX_TOMBSTONES tombstones (MAX_DEVICE_LIST_LEN bytes)",
            Spec {
                user_seed: EDGE_USER,
                user_id: vec![b'e'; 128],
                version: 1,
                timestamp: NOW,
                devices: edge_devices,
                tombstones: edge_tombs,
            },
        ),
    ]
}

fn lists_file() -> Value {
    let lists: Vec<Value> = named_lists()
        .iter()
        .map(|(name, comment, spec)| valid_json(name, comment, spec))
        .collect();
    let edge = lists.last().unwrap();
    assert_eq!(
        edge["bytes"].as_str().unwrap().len() / 2,
        MAX_DEVICE_LIST_LEN,
        "edge_max is not at the length limit"
    );
    json!({
        "description": "Signed device lists (SPEC.md §19.2), each built from fixed Ed25519 seeds \
                        (an identity or user key pair is SigningKey::from_bytes(seed)). For each \
                        list: every counter-signed message (§19.2.3) and its signature, the \
                        message the user key signs (§19.2.2), the encoded list, and the list \
                        hash (§19.2.4). Every list decodes, re-encodes to the same bytes, and \
                        has that hash.",
        "labels": {
            "sig_device_list": hex::encode(LABEL_SIG_DEVICE_LIST),
            "sig_device_entry": hex::encode(LABEL_SIG_DEVICE_ENTRY),
            "device_list_hash": hex::encode(LABEL_DEVICE_LIST_HASH),
        },
        "type": type_byte(TYPE_DEVICE_LIST),
        "lists": lists,
    })
}

fn find(name: &str) -> Spec {
    named_lists()
        .into_iter()
        .find(|(n, _, _)| *n == name)
        .unwrap()
        .2
}

fn malformed(decode: Value) -> Value {
    json!({"code": "device_list.malformed", "kind": "malformed", "fields": {"error": decode}})
}

/// Undecodable lists: `(name, comment, bytes, expected error)`, errors written by hand.
fn rejected_cases() -> Vec<(&'static str, String, Vec<u8>, Value)> {
    let v3 = find("alice_v3");
    let base = reference(&v3).bytes;
    let len = base.len();
    let mut out = Vec::new();

    let mut b = base.clone();
    b[len - 1] ^= 0x01;
    out.push((
        "bad_user_signature",
        "alice_v3 with the last bit of the user signature flipped".to_string(),
        b,
        json!({"code": "device_list.bad_signature", "kind": "tampered", "fields": {}}),
    ));

    let b = reference_with(&v3, |i, s| {
        if i == 1 {
            s[0] ^= 0x01;
        }
    })
    .bytes;
    out.push((
        "bad_counter_signature",
        "alice_v3 with device 2's counter-signature altered (first bit), then signed by the user key".to_string(),
        b,
        json!({"code": "device_list.bad_counter_signature", "kind": "tampered", "fields": {"device_id": 2}}),
    ));

    let b = reference_with(&v3, |i, s| {
        if i == 2 {
            *s = [0; 64];
        }
    })
    .bytes;
    out.push((
        "missing_counter_signature",
        "alice_v3 with device 3's counter-signature all zeros, then signed by the user key".to_string(),
        b,
        json!({"code": "device_list.bad_counter_signature", "kind": "tampered", "fields": {"device_id": 3}}),
    ));

    // Device 1's entry counter-signed for Bob, copied into Alice's list.
    let bob = find("bob_v2");
    let bob_key = public(bob.user_seed);
    let copied = SigningKey::from_bytes(&seed(PHONE.2))
        .sign(&entry_message(&bob_key, &bob.user_id, PHONE))
        .to_bytes();
    let b = reference_with(&v3, |i, s| {
        if i == 0 {
            *s = copied;
        }
    })
    .bytes;
    out.push((
        "counter_signature_for_another_user",
        "alice_v3 whose device 1 entry carries the counter-signature device 1 made for Bob's user id and user key".to_string(),
        b,
        json!({"code": "device_list.bad_counter_signature", "kind": "tampered", "fields": {"device_id": 1}}),
    ));

    let mut many = find("alice_v1");
    many.devices = (0..=MAX_DEVICES_PER_USER)
        .map(|i| {
            Dev(
                u32::try_from(i).unwrap() + 1,
                0,
                0x40 + u8::try_from(i).unwrap(),
            )
        })
        .collect();
    out.push((
        "too_many_devices",
        format!("{} devices, all correctly signed", MAX_DEVICES_PER_USER + 1),
        reference(&many).bytes,
        json!({"code": "device_list.device_count", "kind": "limit_exceeded", "fields": {"count": MAX_DEVICES_PER_USER + 1, "max": MAX_DEVICES_PER_USER}}),
    ));

    let mut none = find("alice_v1");
    none.devices = vec![];
    out.push((
        "no_devices",
        "device_count 0, correctly signed".to_string(),
        reference(&none).bytes,
        json!({"code": "device_list.device_count", "kind": "limit_exceeded", "fields": {"count": 0, "max": MAX_DEVICES_PER_USER}}),
    ));

    let mut tombs = find("alice_v1");
    tombs.tombstones = (0..=MAX_TOMBSTONES)
        .map(|i| Tomb(1_000 + u32::try_from(i).unwrap(), 0, NOW))
        .collect();
    out.push((
        "too_many_tombstones",
        format!("{} tombstones, correctly signed", MAX_TOMBSTONES + 1),
        reference(&tombs).bytes,
        json!({"code": "device_list.too_many_tombstones", "kind": "limit_exceeded", "fields": {"count": MAX_TOMBSTONES + 1, "max": MAX_TOMBSTONES}}),
    ));

    let mut b = base.clone();
    b.pop();
    out.push((
        "truncated",
        "alice_v3 without its last byte (the signature field misses 1 byte, SPEC §1.4)".to_string(),
        b,
        malformed(
            json!({"code": "decode.truncated", "kind": "malformed", "fields": {"needed": 1}}),
        ),
    ));

    let mut b = base.clone();
    b.push(0);
    out.push((
        "trailing_byte",
        "alice_v3 with one byte 0x00 appended".to_string(),
        b,
        malformed(
            json!({"code": "decode.trailing_bytes", "kind": "malformed", "fields": {"count": 1}}),
        ),
    ));

    let mut b = base.clone();
    b[0] = 0x02;
    out.push((
        "wrong_version",
        "alice_v3 with version byte 0x02".to_string(),
        b,
        malformed(json!({"code": "decode.unknown_version", "kind": "malformed", "fields": {"version": 2}})),
    ));

    let mut b = base.clone();
    b[1] = 0x01;
    out.push((
        "wrong_type",
        "alice_v3 with type byte 0x01 (a ratchet message)".to_string(),
        b,
        malformed(json!({"code": "decode.wrong_type", "kind": "malformed", "fields": {"expected": "0x54", "found": "0x01"}})),
    ));

    let mut b = base.clone();
    b[2..34].fill(0);
    out.push((
        "user_key_not_an_identity_key",
        "alice_v3 with user_key all zeros (fails the identity-key checks of §2.3)".to_string(),
        b,
        malformed(json!({"code": "decode.invalid_field", "kind": "malformed", "fields": {"field": "user_key"}})),
    ));

    let entry0 = 2 + 32 + 1 + ALICE_ID.len() + 8 + 8 + 1;
    let mut b = base.clone();
    b[entry0 + 8..entry0 + 40].fill(0);
    out.push((
        "identity_key_not_an_identity_key",
        "alice_v3 with device 1's identity_key all zeros".to_string(),
        b,
        malformed(json!({"code": "decode.invalid_field", "kind": "malformed", "fields": {"field": "identity_key"}})),
    ));

    for (name, len) in [("empty_user_id", 0), ("user_id_too_long", 129)] {
        let mut s = v3.clone();
        s.user_id = vec![b'u'; len];
        out.push((
            name,
            format!("alice_v3 with a user id of {len} bytes, correctly signed"),
            reference(&s).bytes,
            malformed(json!({"code": "decode.invalid_field", "kind": "malformed", "fields": {"field": "user_id"}})),
        ));
    }

    let mut zero = v3.clone();
    zero.version = 0;
    out.push((
        "list_version_zero",
        "alice_v3 with list_version 0, correctly signed".to_string(),
        reference(&zero).bytes,
        malformed(json!({"code": "decode.invalid_field", "kind": "malformed", "fields": {"field": "list_version"}})),
    ));

    let mut live_tomb = v3.clone();
    live_tomb.tombstones = vec![Tomb(2, 0, NOW)];
    out.push((
        "tombstone_of_a_live_incarnation",
        "alice_v3 with a tombstone for device 2 at its live incarnation 0, correctly signed".to_string(),
        reference(&live_tomb).bytes,
        json!({"code": "device_list.duplicate", "kind": "invalid_input", "fields": {"device_id": 2}}),
    ));

    let mut user_key_listed = v3.clone();
    user_key_listed.devices[2].2 = ALICE_USER;
    out.push((
        "user_key_listed_as_device",
        "alice_v3 whose device 3 has the user key as identity key, correctly signed".to_string(),
        reference(&user_key_listed).bytes,
        json!({"code": "device_list.duplicate", "kind": "invalid_input", "fields": {"device_id": 3}}),
    ));

    // Entries out of order: device 2 before device 1, both correctly signed.
    let mut unsorted = v3.clone();
    unsorted.devices.swap(0, 1);
    out.push((
        "devices_out_of_order",
        "alice_v3 with devices 2 and 1 swapped (entries must ascend by device_id), correctly signed".to_string(),
        reference(&unsorted).bytes,
        json!({"code": "device_list.duplicate", "kind": "invalid_input", "fields": {"device_id": 1}}),
    ));

    out
}

/// Successor checks (§19.4): `(name, held, received, expected)`.
fn acceptance_cases() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    let ok = json!("ok");
    vec![
        ("add_device", "alice_v1", "alice_v2", ok.clone()),
        ("skip_a_version", "alice_v1", "alice_v3", ok.clone()),
        ("add_third_device", "alice_v2", "alice_v3", ok.clone()),
        (
            "reinstall_new_incarnation",
            "alice_v3",
            "alice_v4",
            ok.clone(),
        ),
        ("remove_with_tombstone", "alice_v4", "alice_v5", ok),
        (
            "replayed_older_version",
            "alice_v3",
            "alice_v2",
            json!({"code": "device_list.not_newer", "kind": "replay", "fields": {"held": 3, "received": 2}}),
        ),
        (
            "same_version",
            "alice_v3",
            "alice_v3",
            json!({"code": "device_list.not_newer", "kind": "replay", "fields": {"held": 3, "received": 3}}),
        ),
        (
            "another_users_list",
            "alice_v1",
            "bob_v2",
            json!({"code": "device_list.other_user", "kind": "invalid_input", "fields": {}}),
        ),
        (
            "user_key_changed",
            "alice_v1",
            "alice_other_user_key_v2",
            json!({"code": "device_list.user_key_changed", "kind": "untrusted", "fields": {}}),
        ),
        (
            "dropped_without_tombstone",
            "alice_v3",
            "alice_v4_dropped",
            json!({"code": "device_list.dropped_without_tombstone", "kind": "tampered", "fields": {"device_id": 2}}),
        ),
        (
            "same_incarnation_new_key",
            "alice_v3",
            "alice_v4_same_incarnation_new_key",
            json!({"code": "device_list.dropped_without_tombstone", "kind": "tampered", "fields": {"device_id": 2}}),
        ),
        (
            "resurrected_tombstone",
            "alice_v5",
            "alice_v6_resurrected",
            json!({"code": "device_list.resurrected", "kind": "tampered", "fields": {"device_id": 1}}),
        ),
    ]
}

fn rejected_file() -> Value {
    let vectors: Vec<Value> = rejected_cases()
        .into_iter()
        .map(|(name, comment, bytes, error)| {
            let got = error_json(DeviceList::decode(&bytes).unwrap_err());
            assert_eq!(
                got, error,
                "{name}: library error differs from the hand-written one"
            );
            json!({"name": name, "comment": comment, "bytes": hex::encode(bytes), "error": error})
        })
        .collect();
    json!({
        "description": "Encodings DeviceList::decode rejects (SPEC.md §19.2.1), each with the exact \
                        error (§8.4). Lists named after a valid list of lists.json are that list \
                        with the change described; those said to be signed carry a correct user \
                        signature over the changed bytes.",
        "vectors": vectors,
    })
}

fn acceptance_file() -> Value {
    let lists: Vec<(&str, DeviceList)> = named_lists()
        .iter()
        .map(|(n, _, s)| (*n, library(s, &reference(s))))
        .collect();
    let get = |n: &str| &lists.iter().find(|(m, _)| *m == n).unwrap().1;
    let vectors: Vec<Value> = acceptance_cases()
        .into_iter()
        .map(|(name, held, received, expected)| {
            let got = match get(held).check_successor(get(received)) {
                Ok(()) => json!("ok"),
                Err(e) => error_json(e),
            };
            assert_eq!(
                got, expected,
                "{name}: library outcome differs from the hand-written one"
            );
            json!({"name": name, "held": held, "received": received, "outcome": expected})
        })
        .collect();
    json!({
        "description": "Successor checks (SPEC.md §19.4): a holder of the list `held` receives \
                        `received` (both named in lists.json); `outcome` is \"ok\" or the exact \
                        error (§8.4).",
        "vectors": vectors,
    })
}

#[test]
fn device_list_vectors_match_the_committed_files() {
    check_vector_file(SUBDIR, "lists", &canonical_text(&lists_file()));
    check_vector_file(SUBDIR, "rejected", &canonical_text(&rejected_file()));
    check_vector_file(SUBDIR, "acceptance", &canonical_text(&acceptance_file()));
}

fn read(name: &str) -> Value {
    let path = crate::common::vector_file::vectors_dir(SUBDIR).join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// Reads the committed files (not the regenerated values) and checks each vector against the
/// library, the way a second implementation would use them.
#[test]
fn committed_device_list_vectors_hold_for_the_library() {
    let lists = read("lists");
    let mut decoded = Vec::new();
    for v in lists["lists"].as_array().unwrap() {
        let bytes = unhex(&v["bytes"]);
        let list = DeviceList::decode(&bytes).unwrap();
        assert_eq!(list.as_bytes(), &bytes[..]);
        assert_eq!(list.hash().as_bytes()[..], unhex(&v["hash"])[..]);
        assert_eq!(list.version(), v["list_version"].as_u64().unwrap());
        assert_eq!(list.user_key().as_bytes()[..], unhex(&v["user_key"])[..]);
        assert_eq!(list.user_id().as_bytes(), &unhex(&v["user_id"])[..]);
        assert_eq!(list.devices().len(), v["devices"].as_array().unwrap().len());
        assert_eq!(
            list.tombstones().len(),
            v["tombstones"].as_array().unwrap().len()
        );
        for (entry, d) in list.devices().iter().zip(v["devices"].as_array().unwrap()) {
            assert_eq!(
                u64::from(entry.device_id()),
                d["device_id"].as_u64().unwrap()
            );
            assert_eq!(
                u64::from(entry.incarnation()),
                d["incarnation"].as_u64().unwrap()
            );
            assert_eq!(
                entry.identity_key().as_bytes()[..],
                unhex(&d["identity_key"])[..]
            );
        }
        let signed = unhex(&v["user_signed_message"]);
        assert_eq!(
            signed[LABEL_SIG_DEVICE_LIST.len()..],
            bytes[..bytes.len() - 64]
        );
        decoded.push((v["name"].as_str().unwrap().to_string(), list));
    }
    for v in read("rejected")["vectors"].as_array().unwrap() {
        let got = error_json(DeviceList::decode(&unhex(&v["bytes"])).unwrap_err());
        assert_eq!(got, v["error"], "{}", v["name"]);
    }
    let get = |n: &Value| {
        &decoded
            .iter()
            .find(|(m, _)| m == n.as_str().unwrap())
            .unwrap()
            .1
    };
    for v in read("acceptance")["vectors"].as_array().unwrap() {
        let got = match get(&v["held"]).check_successor(get(&v["received"])) {
            Ok(()) => json!("ok"),
            Err(e) => error_json(e),
        };
        assert_eq!(got, v["outcome"], "{}", v["name"]);
    }
}
