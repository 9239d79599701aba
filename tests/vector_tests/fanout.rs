//! Fixed test vectors of fan-out (`tests/vectors/fanout/*.json`, SPEC.md §19.5, §19.6): the
//! body and key part from a message key, the fan-out message and its per-device envelopes,
//! encodings the decoders reject, and the relay's mismatch answers.
//!
//! The body, the key part and every encoding are built twice: by a reference here, written
//! from SPEC.md §19.5 with `hkdf`, `chacha20poly1305` and `sha2` only, and by the library (its
//! `Device::fan_out` with a generator whose first 32 bytes are the message key; the key part
//! read back by the recipient with `Device::decrypt_from`). The answers of §19.6.2 are
//! computed by a reference too. Files built from them are compared with the committed ones.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the files instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use hushwire::device::{DeviceList, MAX_FANOUT_DEVICES, MAX_FANOUT_KEY_MESSAGE_LEN};
use hushwire::sealed::padding::pad;
use hushwire::{
    DecodeError, Device, DeviceRef, FanOutEnvelope, FanOutMessage, MismatchAnswer, Timestamp,
    UserId,
};
use rand_core::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::vector_file::{canonical_text, check_vector_file};
use crate::common::vector_json::error_json;

const SUBDIR: &str = "fanout";
const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

// Constants of the specification, written out again (not taken from the library).
const LABEL_FANOUT_BODY: &[u8] = b"hushwire/v1/multi-device/fanout-body";
const LABEL_DEVICE_LIST_HASH: &[u8] = b"hushwire/v1/multi-device/list-hash";

fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn reference_body(m: &[u8; 32], plaintext: &[u8]) -> ([u8; 32], Vec<u8>, Vec<u8>, [u8; 32]) {
    let mut body_key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&[0u8; 32]), m)
        .expand(LABEL_FANOUT_BODY, &mut body_key)
        .unwrap();
    // §13.4: ISO/IEC 7816-4 padding to the bucket (the library's `pad`, itself checked by the
    // sealed vectors).
    let padded = pad(plaintext).to_vec();
    let cipher = ChaCha20Poly1305::new((&body_key).into());
    let body = cipher
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: &padded,
                aad: &[0x01, 0x91],
            },
        )
        .unwrap();
    let digest: [u8; 32] = Sha256::digest(&body).into();
    (body_key, padded, body, digest)
}

fn reference_key_part(
    m: &[u8; 32],
    digest: &[u8; 32],
    sender: Option<(&[u8], [u8; 8])>,
) -> Vec<u8> {
    let mut out = vec![0x01, 0x90];
    out.extend_from_slice(m);
    out.extend_from_slice(digest);
    match sender {
        None => out.push(0),
        Some((id, hash)) => {
            out.push(id.len() as u8);
            out.extend_from_slice(id);
            out.extend_from_slice(&hash);
        }
    }
    out
}

fn reference_ref(out: &mut Vec<u8>, user_id: &[u8], device_id: u32, incarnation: u32) {
    out.push(user_id.len() as u8);
    out.extend_from_slice(user_id);
    out.extend_from_slice(&device_id.to_be_bytes());
    out.extend_from_slice(&incarnation.to_be_bytes());
}

fn reference_list_hash(list: &[u8]) -> [u8; 8] {
    let h = Sha256::new()
        .chain_update(LABEL_DEVICE_LIST_HASH)
        .chain_update(list)
        .finalize();
    h[..8].try_into().unwrap()
}

fn new_device(rng: &mut ChaCha20Rng) -> Device {
    let mut d = Device::new(NOW, rng);
    d.account_mut()
        .generate_one_time_prekeys(2, 2, NOW, rng)
        .unwrap();
    d
}

/// Alice (a user of one device) with answered sessions, mid-chain, with Bob's two devices.
fn world(rng: &mut ChaCha20Rng) -> (Device, Vec<Device>, DeviceList) {
    let mut alice = new_device(rng);
    let alice_list = alice.create_user(&user("alice"), 1, NOW, rng).unwrap();
    let mut bob = vec![new_device(rng), new_device(rng)];
    let list = bob[0].create_user(&user("bob"), 1, NOW, rng).unwrap();
    let entry = bob[1].device_entry(&user("bob"), list.user_key(), 2, 1);
    let list = bob[0].add_own_device(entry, NOW).unwrap();
    bob[1].join_user(list.as_bytes(), NOW).unwrap();
    alice
        .accept_device_list(&user("bob"), list.as_bytes(), NOW)
        .unwrap();
    for d in &mut bob {
        let bundle = d.account().published_prekeys().take_bundle();
        let _ = alice.start_session(&bundle, rng).unwrap();
        let hi = alice.encrypt_for(d.identity_key(), b"hi", rng).unwrap();
        let _ = d.decrypt_from(alice.identity_key(), &hi, NOW).unwrap();
        let ack = d.encrypt_for(alice.identity_key(), b"ack", rng).unwrap();
        let _ = alice.decrypt_from(d.identity_key(), &ack, NOW).unwrap();
        // One more send: the next one continues the chain and draws nothing.
        let more = alice.encrypt_for(d.identity_key(), b"more", rng).unwrap();
        let _ = d.decrypt_from(alice.identity_key(), &more, NOW).unwrap();
    }
    (alice, bob, alice_list)
}

fn messages() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6f7574);
    let (mut alice, mut bob, alice_list) = world(&mut rng);
    let hash = reference_list_hash(alice_list.as_bytes());
    assert_eq!(&hash, alice_list.hash().as_bytes());
    let mut vectors = Vec::new();
    for (case, (name, plaintext)) in [
        ("empty", Vec::new()),
        ("hello", b"hello, every device".to_vec()),
        ("bucket_edge_159", vec![0x41; 159]),
        ("padme_5000", vec![0x42; 5000]),
    ]
    .into_iter()
    .enumerate()
    {
        // The message key is the generator's first 32 bytes (SPEC.md §19.5.2): the sessions
        // continue their sending chains and draw nothing.
        let seed = 0x100 + case as u64;
        let mut m = [0u8; 32];
        ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut m);
        let mut case_rng = ChaCha20Rng::seed_from_u64(seed);
        let fan_out = alice
            .fan_out(&[user("bob")], &plaintext, &mut case_rng)
            .unwrap();
        let (body_key, padded, body, digest) = reference_body(&m, &plaintext);
        assert_eq!(fan_out.body(), body.as_slice(), "{name}: body");
        let key_part = reference_key_part(&m, &digest, Some((b"alice", hash)));
        let mut upload = vec![0x01, 0x92];
        upload.extend_from_slice(&(fan_out.parts().len() as u16).to_be_bytes());
        let mut devices = Vec::new();
        for (part, d) in fan_out.parts().iter().zip(bob.iter_mut()) {
            assert_eq!(&part.device.identity_key, d.identity_key());
            // The recipient's session reads the key part the reference built.
            let read = d
                .decrypt_from(alice.identity_key(), &part.key_message, NOW)
                .unwrap();
            assert_eq!(read.plaintext, key_part, "{name}: key part");
            reference_ref(&mut upload, b"bob", part.device.device_id, 1);
            upload.extend_from_slice(&(part.key_message.len() as u16).to_be_bytes());
            upload.extend_from_slice(&part.key_message);
            let mut envelope = vec![0x01, 0x91];
            envelope.extend_from_slice(&(part.key_message.len() as u16).to_be_bytes());
            envelope.extend_from_slice(&part.key_message);
            envelope.extend_from_slice(&body);
            let r = DeviceRef::new(user("bob"), part.device.device_id, 1);
            assert_eq!(
                fan_out.envelope_for(&r).unwrap(),
                envelope,
                "{name}: envelope"
            );
            devices.push(json!({
                "user_id": hex::encode("bob"),
                "device_id": part.device.device_id,
                "incarnation": 1,
                "key_message": hex::encode(&part.key_message),
                "envelope": hex::encode(&envelope),
            }));
        }
        upload.extend_from_slice(&body);
        let bytes = fan_out.to_bytes().unwrap();
        assert_eq!(bytes, upload, "{name}: fan-out message");
        let decoded = FanOutMessage::decode(&bytes).unwrap();
        assert_eq!(decoded.manifest(), fan_out.manifest().as_slice());
        vectors.push(json!({
            "name": name,
            "message_key": hex::encode(m),
            "plaintext": hex::encode(&plaintext),
            "body_key": hex::encode(body_key),
            "padded": hex::encode(&padded),
            "body": hex::encode(&body),
            "body_digest": hex::encode(digest),
            "sender_user_id": hex::encode("alice"),
            "sender_list_hash": hex::encode(hash),
            "key_part": hex::encode(&key_part),
            "devices": devices,
            "fanout_message": hex::encode(&upload),
        }));
    }
    // A sender with no user: the key part's user id length is 0 and no hash follows.
    let m = [0x5a; 32];
    let (_, _, _, digest) = reference_body(&m, b"");
    let no_user = reference_key_part(&m, &digest, None);
    assert_eq!(no_user.len(), 67);
    json!({
        "labels": { "LABEL_FANOUT_BODY": hex::encode(LABEL_FANOUT_BODY) },
        "types": { "key_part": "0x90", "envelope": "0x91", "fanout_message": "0x92", "mismatch_answer": "0x93" },
        "vectors": vectors,
        "key_part_without_user": { "message_key": hex::encode(m), "body_digest": hex::encode(digest), "key_part": hex::encode(&no_user) },
    })
}

/// Encodings the decoders reject, each made from a valid one by hand.
fn rejected() -> Value {
    let body = vec![0u8; 160 + 16];
    let key = vec![0x01u8; 100];
    let envelope = |key_len: u16, key: &[u8], body: &[u8]| {
        let mut e = vec![0x01, 0x91];
        e.extend_from_slice(&key_len.to_be_bytes());
        e.extend_from_slice(key);
        e.extend_from_slice(body);
        e
    };
    let message = |entries: &[(&[u8], u32, u32)], count: u16, body: &[u8]| {
        let mut e = vec![0x01, 0x92];
        e.extend_from_slice(&count.to_be_bytes());
        for (id, device, inc) in entries {
            reference_ref(&mut e, id, *device, *inc);
            e.extend_from_slice(&100u16.to_be_bytes());
            e.extend_from_slice(&[0x01; 100]);
        }
        e.extend_from_slice(body);
        e
    };
    let answer = |sets: [&[(&[u8], u32, u32)]; 3]| {
        let mut e = vec![0x01, 0x93];
        for set in sets {
            e.extend_from_slice(&(set.len() as u16).to_be_bytes());
            for (id, device, inc) in set {
                reference_ref(&mut e, id, *device, *inc);
            }
        }
        e
    };
    let max_key = envelope(MAX_FANOUT_KEY_MESSAGE_LEN as u16, &vec![1; 4096], &body);
    let long_key = envelope(4097, &vec![1; 4097], &body);
    let long_id = vec![b'x'; 129];
    let mut trailing = answer([&[(b"bob", 1, 1)], &[], &[]]);
    trailing.push(0);
    let cases: Vec<(&str, &str, Vec<u8>, DecodeError)> = vec![
        (
            "envelope_key_len_0",
            "0x91 with key_len 0",
            envelope(0, &[], &body),
            DecodeError::InvalidField { field: "key_len" },
        ),
        (
            "envelope_key_len_4097",
            "0x91 with key_len one past MAX_FANOUT_KEY_MESSAGE_LEN",
            long_key,
            DecodeError::InvalidField { field: "key_len" },
        ),
        (
            "envelope_key_truncated",
            "0x91 whose key message is 10 bytes short",
            envelope(100, &key[..90], &[]),
            DecodeError::Truncated { needed: 10 },
        ),
        (
            "envelope_body_15",
            "0x91 with a 15-byte body",
            envelope(100, &key, &[0; 15]),
            DecodeError::Truncated { needed: 1 },
        ),
        (
            "envelope_body_not_bucket",
            "0x91 whose body minus the tag (161 bytes) is not a padding bucket",
            envelope(100, &key, &[0; 161 + 16]),
            DecodeError::InvalidField { field: "body_len" },
        ),
        (
            "envelope_wrong_type",
            "a 0x92 header on an envelope body",
            {
                let mut e = envelope(100, &key, &body);
                e[1] = 0x92;
                e
            },
            DecodeError::WrongType {
                expected: 0x91,
                found: 0x92,
            },
        ),
        (
            "envelope_unknown_version",
            "version 2",
            {
                let mut e = envelope(100, &key, &body);
                e[0] = 2;
                e
            },
            DecodeError::UnknownVersion(2),
        ),
        (
            "message_count_0",
            "0x92 with count 0",
            message(&[], 0, &body),
            DecodeError::InvalidField {
                field: "device_count",
            },
        ),
        (
            "message_count_1025",
            "0x92 with count one past MAX_FANOUT_DEVICES",
            message(&[], 1025, &body),
            DecodeError::InvalidField {
                field: "device_count",
            },
        ),
        (
            "message_out_of_order",
            "0x92 listing bob/2 before bob/1",
            message(&[(b"bob", 2, 1), (b"bob", 1, 1)], 2, &body),
            DecodeError::InvalidField { field: "order" },
        ),
        (
            "message_same_device_twice",
            "0x92 listing bob/1 at incarnations 1 and 2",
            message(&[(b"bob", 1, 1), (b"bob", 1, 2)], 2, &body),
            DecodeError::InvalidField { field: "order" },
        ),
        (
            "message_user_id_129",
            "0x92 with a 129-byte user id",
            message(&[(&long_id, 1, 1)], 1, &body),
            DecodeError::InvalidField { field: "user_id" },
        ),
        (
            "message_user_id_0",
            "0x92 with an empty user id",
            message(&[(b"", 1, 1)], 1, &body),
            DecodeError::InvalidField { field: "user_id" },
        ),
        (
            "message_no_body",
            "0x92 with no body",
            message(&[(b"bob", 1, 1)], 1, &[]),
            DecodeError::Truncated { needed: 16 },
        ),
        (
            "answer_empty",
            "0x93 with three empty sets",
            answer([&[], &[], &[]]),
            DecodeError::InvalidField { field: "empty" },
        ),
        (
            "answer_out_of_order",
            "0x93 missing bob/2 before bob/1",
            answer([&[(b"bob", 2, 1), (b"bob", 1, 1)], &[], &[]]),
            DecodeError::InvalidField { field: "order" },
        ),
        (
            "answer_extra_and_missing",
            "0x93 naming bob/1 at incarnation 1 as both missing and extra",
            answer([&[(b"bob", 1, 1)], &[(b"bob", 1, 1)], &[]]),
            DecodeError::InvalidField { field: "conflict" },
        ),
        (
            "answer_extra_and_stale",
            "0x93 naming bob/1 as both extra and stale",
            answer([&[], &[(b"bob", 1, 1)], &[(b"bob", 1, 2)]]),
            DecodeError::InvalidField { field: "conflict" },
        ),
        (
            "answer_stale_not_older",
            "0x93 naming bob/1 stale at incarnation 2 and missing at 2",
            answer([&[(b"bob", 1, 2)], &[], &[(b"bob", 1, 2)]]),
            DecodeError::InvalidField { field: "conflict" },
        ),
        (
            "answer_count_1025",
            "0x93 whose missing count is one past MAX_FANOUT_DEVICES",
            answer([&[], &[], &[]])
                .iter()
                .take(2)
                .copied()
                .chain([0x04, 0x01])
                .collect(),
            DecodeError::InvalidField {
                field: "missing_count",
            },
        ),
        (
            "answer_trailing",
            "0x93 with a trailing byte",
            trailing,
            DecodeError::TrailingBytes { count: 1 },
        ),
        (
            "answer_truncated",
            "0x93 cut inside its stale count",
            answer([&[(b"bob", 1, 1)], &[], &[]])[..19].to_vec(),
            DecodeError::Truncated { needed: 1 },
        ),
    ];
    // The edge that decodes.
    assert!(FanOutEnvelope::decode(&max_key).is_ok());
    let mut vectors = Vec::new();
    for (name, comment, bytes, error) in cases {
        let decoder = if name.starts_with("envelope") {
            FanOutEnvelope::decode(&bytes).err()
        } else if name.starts_with("message") {
            FanOutMessage::decode(&bytes).err()
        } else {
            MismatchAnswer::decode(&bytes).err()
        };
        assert_eq!(decoder, Some(error), "{name}");
        let structure = name.split('_').next().unwrap();
        vectors.push(json!({
            "name": name,
            "structure": structure,
            "comment": comment,
            "bytes": hex::encode(&bytes),
            "error": error_json(error),
        }));
    }
    assert_eq!(MAX_FANOUT_DEVICES, 1024);
    json!({ "vectors": vectors })
}

/// The reference of SPEC.md §19.6.2.
fn reference_between(
    manifest: &[(&str, u32, u32)],
    lists: &[&DeviceList],
    sender: (&str, u32),
) -> Option<[Vec<(String, u32, u32)>; 3]> {
    let list_of = |u: &str| {
        lists
            .iter()
            .find(|l| l.user_id().as_bytes() == u.as_bytes())
    };
    let (mut missing, mut extra, mut stale) = (Vec::new(), Vec::new(), Vec::new());
    for &(u, d, i) in manifest {
        match list_of(u).and_then(|l| l.device(d)) {
            Some(e) if e.incarnation() == i => {}
            Some(e) if e.incarnation() > i => stale.push((u.to_string(), d, i)),
            _ => extra.push((u.to_string(), d, i)),
        }
    }
    let mut users: Vec<&str> = manifest.iter().map(|m| m.0).collect();
    users.push(sender.0);
    users.sort();
    users.dedup();
    for u in users {
        if let Some(l) = list_of(u) {
            for e in l.devices() {
                let me = u == sender.0 && e.device_id() == sender.1;
                if !me && !manifest.contains(&(u, e.device_id(), e.incarnation())) {
                    missing.push((u.to_string(), e.device_id(), e.incarnation()));
                }
            }
        }
    }
    for s in [&mut missing, &mut extra, &mut stale] {
        s.sort();
    }
    (!missing.is_empty() || !extra.is_empty() || !stale.is_empty())
        .then_some([missing, extra, stale])
}

fn mismatch() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6d69);
    let mut bob: [Device; 4] = core::array::from_fn(|_| new_device(&mut rng));
    let mut alice = new_device(&mut rng);
    let alice_v1 = alice.create_user(&user("alice"), 1, NOW, &mut rng).unwrap();
    let b1 = bob[0].create_user(&user("bob"), 1, NOW, &mut rng).unwrap();
    let e2 = bob[1].device_entry(&user("bob"), b1.user_key(), 2, 1);
    let bob_v2 = bob[0].add_own_device(e2, NOW).unwrap();
    let e3 = bob[2].device_entry(&user("bob"), b1.user_key(), 3, 1);
    let bob_v3 = bob[0].add_own_device(e3, NOW).unwrap();
    let e2b = bob[3].device_entry(&user("bob"), b1.user_key(), 2, 2);
    let bob_v4 = bob[0].add_own_device(e2b, NOW).unwrap();
    let lists = [
        ("alice_v1", &alice_v1),
        ("bob_v2", &bob_v2),
        ("bob_v3", &bob_v3),
        ("bob_v4", &bob_v4),
    ];
    type Case<'a> = (&'a str, Vec<(&'a str, u32, u32)>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (
            "matches",
            vec![("bob", 1, 1), ("bob", 2, 1)],
            vec!["bob_v2", "alice_v1"],
        ),
        (
            "missing_new_device",
            vec![("bob", 1, 1), ("bob", 2, 1)],
            vec!["bob_v3", "alice_v1"],
        ),
        (
            "stale_reinstall",
            vec![("bob", 1, 1), ("bob", 2, 1), ("bob", 3, 1)],
            vec!["bob_v4", "alice_v1"],
        ),
        (
            "extra_unknown_device_and_user",
            vec![("bob", 1, 1), ("bob", 2, 1), ("bob", 9, 1), ("carol", 1, 1)],
            vec!["bob_v2", "alice_v1"],
        ),
        (
            "extra_newer_incarnation",
            vec![("bob", 1, 1), ("bob", 2, 3)],
            vec!["bob_v2", "alice_v1"],
        ),
    ];
    let sender = ("alice", 1u32);
    let mut vectors = Vec::new();
    for (name, manifest, names) in cases {
        let held: Vec<&DeviceList> = names
            .iter()
            .map(|n| lists.iter().find(|(m, _)| m == n).unwrap().1)
            .collect();
        let refs: Vec<DeviceRef> = manifest
            .iter()
            .map(|&(u, d, i)| DeviceRef::new(user(u), d, i))
            .collect();
        let got = MismatchAnswer::between(
            &refs,
            &held,
            Some(&DeviceRef::new(user(sender.0), sender.1, 1)),
        );
        let want = reference_between(&manifest, &held, sender);
        let answer = match (&got, &want) {
            (None, None) => Value::Null,
            (Some(a), Some([missing, extra, stale])) => {
                let mut bytes = vec![0x01, 0x93];
                for set in [missing, extra, stale] {
                    bytes.extend_from_slice(&(set.len() as u16).to_be_bytes());
                    for (u, d, i) in set {
                        reference_ref(&mut bytes, u.as_bytes(), *d, *i);
                    }
                }
                assert_eq!(a.to_bytes(), bytes, "{name}");
                assert_eq!(&MismatchAnswer::decode(&bytes).unwrap(), a);
                let set_json = |s: &Vec<(String, u32, u32)>| {
                    s.iter()
                        .map(|(u, d, i)| json!({ "user_id": hex::encode(u), "device_id": d, "incarnation": i }))
                        .collect::<Vec<_>>()
                };
                json!({
                    "missing": set_json(missing),
                    "extra": set_json(extra),
                    "stale": set_json(stale),
                    "bytes": hex::encode(&bytes),
                })
            }
            _ => panic!("{name}: library {got:?}, reference {want:?}"),
        };
        vectors.push(json!({
            "name": name,
            "manifest": manifest.iter().map(|(u, d, i)| json!({ "user_id": hex::encode(u), "device_id": d, "incarnation": i })).collect::<Vec<_>>(),
            "lists": names,
            "sender": { "user_id": hex::encode(sender.0), "device_id": sender.1 },
            "answer": answer,
        }));
    }
    json!({
        "lists": lists.iter().map(|(n, l)| json!({ "name": n, "bytes": hex::encode(l.as_bytes()) })).collect::<Vec<_>>(),
        "vectors": vectors,
    })
}

#[test]
fn fanout_vectors_match_the_reference_and_the_committed_files() {
    check_vector_file(SUBDIR, "messages", &canonical_text(&messages()));
    check_vector_file(SUBDIR, "rejected", &canonical_text(&rejected()));
    check_vector_file(SUBDIR, "mismatch", &canonical_text(&mismatch()));
}
