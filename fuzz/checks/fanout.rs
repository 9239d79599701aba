//! `fanout`: the fan-out decoders and apply paths (SPEC.md §19.5, §19.6): the per-device
//! envelope (`0x91`) read by `Device::decrypt_fan_out`, the fan-out message (`0x92`) the relay
//! decodes, and the relay's mismatch answer (`0x93`) applied by `Device::apply_mismatch`.
//!
//! Input: a mode byte. Bit 1 clear: bit 0 picks raw bytes (clear) or one of the fixture's
//! genuine envelopes and fan-out messages with 4-byte edits (set, see [`super::mutate`]);
//! the bytes go to `FanOutMessage::decode`, `FanOutEnvelope::decode` and Bob's first device.
//! Bit 1 set: the same for mismatch answers, applied by Alice to a fresh fan-out to Bob.
//!
//! Properties: no panic; only a genuine envelope decrypts (to its plaintext), once; a
//! fan-out message that decodes has a strictly ordered manifest and splits into envelopes
//! that decode; an answer that decodes re-encodes to exactly the input; applying one never
//! puts in the manifest a device that Alice's held lists do not carry; every refusal leaves
//! Bob's and Alice's records and the fan-out unchanged.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::device::DeviceList;
use hushwire::{
    Device, DeviceRef, FanOutEnvelope, FanOutMessage, MismatchAnswer, StorageKey, UserId,
};
use rand_core::SeedableRng;

use super::{NOW, raw_or_edited};

pub(crate) struct FanOutFixture {
    alice: Device,
    bob1: Device,
    /// Bob's list as the relay stores it: version 3, with a third device Alice does not know.
    relay_list: DeviceList,
    alice_list: DeviceList,
    /// Genuine envelopes to Bob's first device, with their plaintexts.
    envelopes: Vec<(Vec<u8>, Vec<u8>)>,
    /// Genuine fan-out messages.
    messages: Vec<Vec<u8>>,
    /// Genuine answers.
    answers: Vec<Vec<u8>>,
}

fn user(name: &str) -> UserId {
    UserId::new(name.as_bytes()).unwrap()
}

fn device(rng: &mut ChaCha20Rng) -> Device {
    let mut d = Device::new(NOW, rng);
    d.account_mut()
        .generate_one_time_prekeys(4, 4, NOW, rng)
        .unwrap();
    d
}

fn connect(from: &mut Device, to: &mut Device, rng: &mut ChaCha20Rng) {
    let bundle = to.account().published_prekeys().take_bundle();
    let _ = from.start_session(&bundle, rng).unwrap();
    let hello = from.encrypt_for(to.identity_key(), b"hello", rng).unwrap();
    let _ = to.decrypt_from(from.identity_key(), &hello, NOW).unwrap();
    let ack = to.encrypt_for(from.identity_key(), b"ack", rng).unwrap();
    let _ = from.decrypt_from(to.identity_key(), &ack, NOW).unwrap();
}

pub(crate) fn fixture() -> &'static FanOutFixture {
    static FIXTURE: OnceLock<FanOutFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x66616e6f7574);
        let mut alice = device(&mut rng);
        let alice_list = alice.create_user(&user("alice"), 1, NOW, &mut rng).unwrap();
        let mut bob1 = device(&mut rng);
        let mut bob2 = device(&mut rng);
        let bob3 = device(&mut rng);
        let bob = user("bob");
        let list = bob1.create_user(&bob, 1, NOW, &mut rng).unwrap();
        let entry = bob2.device_entry(&bob, list.user_key(), 2, 1);
        let list = bob1.add_own_device(entry, NOW).unwrap();
        bob2.join_user(list.as_bytes(), NOW).unwrap();
        alice
            .accept_device_list(&bob, list.as_bytes(), NOW)
            .unwrap();
        bob1.accept_device_list(&user("alice"), alice_list.as_bytes(), NOW)
            .unwrap();
        connect(&mut alice, &mut bob1, &mut rng);
        connect(&mut alice, &mut bob2, &mut rng);
        let entry = bob3.device_entry(&bob, list.user_key(), 3, 1);
        let relay_list = bob1.add_own_device(entry, NOW).unwrap();

        let mut envelopes = Vec::new();
        let mut messages = Vec::new();
        let first = DeviceRef::new(bob.clone(), 1, 1);
        for text in [&b"short"[..], &[0x42; 300][..], b""] {
            let fan_out = alice
                .fan_out(std::slice::from_ref(&bob), text, &mut rng)
                .unwrap();
            envelopes.push((fan_out.envelope_for(&first).unwrap(), text.to_vec()));
            messages.push(fan_out.to_bytes().unwrap());
        }
        let sender = DeviceRef::new(user("alice"), 1, 1);
        let manifest = vec![first.clone(), DeviceRef::new(bob.clone(), 2, 1)];
        let mut answers = vec![
            MismatchAnswer::between(&manifest, &[&relay_list, &alice_list], Some(&sender))
                .unwrap()
                .to_bytes(),
        ];
        answers.push(
            MismatchAnswer::new(
                vec![DeviceRef::new(bob.clone(), 2, 2)],
                vec![first],
                vec![DeviceRef::new(bob.clone(), 2, 1)],
            )
            .unwrap()
            .to_bytes(),
        );
        answers.push(
            MismatchAnswer::new(vec![], vec![DeviceRef::new(bob.clone(), 2, 1)], vec![])
                .unwrap()
                .to_bytes(),
        );
        FanOutFixture {
            alice,
            bob1,
            relay_list,
            alice_list,
            envelopes,
            messages,
            answers,
        }
    })
}

fn records(d: &Device) -> Vec<Vec<u8>> {
    let key = StorageKey::from_bytes([5; 32]);
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let mut out = vec![
        d.account_record_to_encrypted(&key, 1, &mut rng),
        d.user_devices_to_encrypted(&key, 1, &mut rng),
    ];
    for peer in d.peers() {
        let mut rng = ChaCha20Rng::seed_from_u64(0);
        out.push(
            d.peer_record_to_encrypted(&peer, &key, 1, &mut rng)
                .unwrap(),
        );
    }
    out
}

pub(crate) fn check_fanout(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    if mode & 2 == 0 {
        let mut originals: Vec<&[u8]> = f.envelopes.iter().map(|(e, _)| e.as_slice()).collect();
        originals.extend(f.messages.iter().map(Vec::as_slice));
        let Some(bytes) = raw_or_edited(mode, rest, &originals, |b| b) else {
            return;
        };
        check_envelope(f, &bytes);
    } else {
        let originals: Vec<&[u8]> = f.answers.iter().map(Vec::as_slice).collect();
        let Some(bytes) = raw_or_edited(mode, rest, &originals, |b| b) else {
            return;
        };
        check_answer(f, &bytes);
    }
}

fn check_envelope(f: &FanOutFixture, bytes: &[u8]) {
    if let Ok(message) = FanOutMessage::decode(bytes) {
        let manifest = message.manifest();
        assert!(!manifest.is_empty());
        assert!(manifest.windows(2).all(|w| {
            (w[0].user_id.as_bytes(), w[0].device_id) < (w[1].user_id.as_bytes(), w[1].device_id)
        }));
        for (i, (device, envelope)) in message.split().into_iter().enumerate() {
            assert_eq!(&manifest[i], &device);
            let decoded = FanOutEnvelope::decode(&envelope).unwrap();
            assert_eq!(decoded.body().len(), message.body_len());
        }
    }
    let mut bob = f.bob1.clone();
    let before = records(&bob);
    let sender = *f.alice.identity_key();
    match bob.decrypt_fan_out(&sender, bytes, NOW) {
        Ok(read) => {
            let (_, plaintext) = f
                .envelopes
                .iter()
                .find(|(e, _)| e.as_slice() == bytes)
                .expect("only a genuine envelope decrypts");
            assert_eq!(&read.plaintext, plaintext);
            assert_eq!(read.sender_user, Some(user("alice")));
            assert!(!read.list_changed);
            assert!(bob.decrypt_fan_out(&sender, bytes, NOW).is_err());
        }
        Err(_) => assert_eq!(records(&bob), before, "a refused envelope changed Bob"),
    }
}

fn check_answer(f: &FanOutFixture, bytes: &[u8]) {
    let Ok(answer) = MismatchAnswer::decode(bytes) else {
        return;
    };
    assert_eq!(answer.to_bytes(), bytes);
    let mut alice = f.alice.clone();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut fan_out = alice.fan_out(&[user("bob")], b"fuzz", &mut rng).unwrap();
    let records_before = records(&alice);
    let bytes_before = fan_out.to_bytes();
    match alice.apply_mismatch(&mut fan_out, &answer, &mut rng) {
        Ok(_) => {
            let held = alice.device_list(&user("bob")).unwrap();
            for d in fan_out.manifest() {
                let list = if d.user_id == user("bob") {
                    held
                } else {
                    &f.alice_list
                };
                let entry = list.device(d.device_id).expect("a device no list carries");
                assert_eq!(entry.incarnation(), d.incarnation);
            }
            // Bob's third device is only on the relay's list: never added.
            assert!(fan_out.manifest().iter().all(|d| d.device_id != 3));
            let _ = &f.relay_list;
        }
        Err(_) => {
            assert_eq!(
                records(&alice),
                records_before,
                "a refused answer changed Alice"
            );
            assert_eq!(
                fan_out.to_bytes(),
                bytes_before,
                "a refused answer changed the fan-out"
            );
        }
    }
}

/// Seed inputs: each genuine structure raw, and unedited and with two flipped bits.
pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let f = fixture();
    let mut out = Vec::new();
    let mut originals: Vec<&[u8]> = f.envelopes.iter().map(|(e, _)| e.as_slice()).collect();
    originals.extend(f.messages.iter().map(Vec::as_slice));
    for (mode, kind, set) in [
        (0u8, "envelope", originals),
        (2u8, "answer", f.answers.iter().map(Vec::as_slice).collect()),
    ] {
        for (i, bytes) in set.iter().enumerate() {
            let mut raw = vec![mode];
            raw.extend_from_slice(bytes);
            out.push((format!("{kind}-raw-{i}"), raw));
            let pick = u8::try_from(i).unwrap();
            out.push((format!("{kind}-mutate-{i}-none"), vec![mode | 1, pick]));
            let last = u16::try_from(bytes.len() - 1).unwrap();
            let [hi, lo] = last.to_be_bytes();
            out.push((
                format!("{kind}-mutate-{i}-flips"),
                vec![mode | 1, pick, 0, 0, 10, 0x01, 0, hi, lo, 0x80],
            ));
        }
    }
    out
}
