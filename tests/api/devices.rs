//! Users with several devices (SPEC.md §19): signed device lists, accepting them, user-level
//! verification, removed devices' decrypt-only window, the user-devices record.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::device::{DeviceList, DeviceListError, UserSigningKey};
use hushwire::persist::Expected;
use hushwire::{
    Device, ErrorKind, Event, PeerError, RestoreError, StorageKey, Timestamp, UserId,
    VerificationState,
};

use crate::common::{NOW, rng};

const DAY: u64 = 24 * 3600;

pub(crate) fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn at(secs: u64) -> Timestamp {
    NOW.plus_secs(secs)
}

/// A device with prekeys to hand out.
pub(crate) fn device(rng: &mut ChaCha20Rng) -> Device {
    let mut d = Device::new(NOW, rng);
    d.account_mut()
        .generate_one_time_prekeys(20, 20, NOW, rng)
        .unwrap();
    d
}

/// `from` starts a session with `to` and `to` reads its first message: both hold it.
pub(crate) fn connect(from: &mut Device, to: &mut Device, rng: &mut ChaCha20Rng) {
    let bundle = to.account().published_prekeys().take_bundle();
    let _ = from.start_session(&bundle, rng).unwrap();
    let hello = from.encrypt_for(to.identity_key(), b"hello", rng).unwrap();
    let _ = to.decrypt_from(from.identity_key(), &hello, NOW).unwrap();
}

/// A user of `n` devices: the first creates the user and links the others.
pub(crate) fn multi_device_user(name: &str, n: usize, rng: &mut ChaCha20Rng) -> Vec<Device> {
    let id = user(name);
    let mut devices: Vec<Device> = (0..n).map(|_| device(rng)).collect();
    let mut list = devices[0].create_user(&id, 1, NOW, rng).unwrap();
    for i in 1..n {
        let entry = devices[i].device_entry(&id, list.user_key(), i as u32 + 1, 1);
        list = devices[0].add_own_device(entry, NOW).unwrap();
    }
    for d in devices.iter_mut().skip(1) {
        d.join_user(list.as_bytes(), NOW).unwrap();
    }
    devices
}

/// The user-devices record with a fixed generator: equal bytes mean equal state.
fn state(d: &Device) -> Vec<u8> {
    d.user_devices_to_encrypted(&StorageKey::from_bytes([9; 32]), 1, &mut rng(0))
}

fn book(d: &Device) -> Vec<u8> {
    d.identity_book_to_encrypted(&StorageKey::from_bytes([9; 32]), 1, &mut rng(0))
}

#[test]
fn a_linked_device_is_listed_and_every_device_follows_the_list() {
    let mut rng = rng(1);
    let alice = multi_device_user("alice", 3, &mut rng);
    let list = alice[0].own_device_list().unwrap().clone();
    assert_eq!(list.version(), 3);
    assert_eq!(list.devices().len(), 3);
    assert!(alice[0].holds_user_key());
    assert!(!alice[1].holds_user_key());
    for d in &alice {
        assert_eq!(d.user_key(), Some(list.user_key()));
        assert_eq!(d.own_device_list_hash(), Some(list.hash()));
        // Each device sees the other two as its sync copies.
        assert_eq!(d.devices_of(&user("alice")).unwrap().len(), 2);
    }
}

#[test]
fn adding_or_removing_a_device_keeps_the_safety_number_and_the_verification() {
    let mut rng = rng(2);
    let mut alice = multi_device_user("alice", 2, &mut rng);
    let mut bob = device(&mut rng);
    let (a, b) = (user("alice"), user("bob"));
    let list = alice[0].own_device_list().unwrap().clone();
    bob.accept_device_list(&a, list.as_bytes(), NOW).unwrap();
    let before = bob.safety_number(&b, &a).unwrap();
    // Alice's side computes the same number from her user key.
    let on_alice = hushwire::SafetyNumber::new(
        &a,
        list.user_key().as_identity_key(),
        &b,
        bob.identity_key(),
    );
    assert_eq!(on_alice.to_string(), before.to_string());
    bob.mark_verified(&a, list.user_key().as_identity_key(), NOW)
        .unwrap();
    let phone = *alice[1].identity_key();
    assert!(bob.is_device_verified(&a, &phone));

    // A laptop joins; then the phone is removed.
    let laptop = device(&mut rng);
    let entry = laptop.device_entry(&a, list.user_key(), 7, 1);
    let v3 = alice[0].add_own_device(entry, at(10)).unwrap();
    let accepted = bob.accept_device_list(&a, v3.as_bytes(), at(10)).unwrap();
    assert_eq!(accepted.added.len(), 1);
    assert!(accepted.events.is_empty());
    assert!(bob.is_device_verified(&a, laptop.identity_key()));
    let v4 = alice[0].remove_own_device(2, at(20)).unwrap();
    let accepted = bob.accept_device_list(&a, v4.as_bytes(), at(20)).unwrap();
    assert_eq!(accepted.removed.len(), 1);
    assert!(!bob.is_device_verified(&a, &phone));
    assert_eq!(
        bob.safety_number(&b, &a).unwrap().to_string(),
        before.to_string()
    );
    assert!(matches!(
        bob.verification_state(&a),
        Some(VerificationState::Verified { .. })
    ));
    let _ = alice.pop();
}

#[test]
fn a_list_under_another_user_key_is_an_identity_change_that_blocks_until_accepted() {
    let mut rng = rng(3);
    let alice = multi_device_user("alice", 2, &mut rng);
    let mut bob = device(&mut rng);
    let a = user("alice");
    let list = alice[0].own_device_list().unwrap().clone();
    bob.accept_device_list(&a, list.as_bytes(), NOW).unwrap();
    bob.mark_verified(&a, list.user_key().as_identity_key(), NOW)
        .unwrap();

    // The relay (or a thief of one device) makes a new user key and lists a device of its own.
    let mallory = UserSigningKey::generate(&mut rng);
    let intruder = device(&mut rng);
    let entry = intruder.device_entry(&a, mallory.public(), 9, 1);
    let forged = DeviceList::sign(&mallory, &a, 99, NOW, vec![entry], vec![]).unwrap();
    let accepted = bob.accept_device_list(&a, forged.as_bytes(), NOW).unwrap();
    assert_eq!(
        accepted.events,
        vec![Event::IdentityChanged {
            user_id: a.clone(),
            was_verified: true
        }]
    );
    assert_eq!(
        bob.devices_of(&a).unwrap_err(),
        DeviceListError::IdentityChanged
    );
    assert!(!bob.is_device_verified(&a, intruder.identity_key()));
    // Accepting the change (after asking the user) unblocks.
    bob.accept_identity_change(&a, mallory.public().as_identity_key())
        .unwrap();
    assert_eq!(bob.devices_of(&a).unwrap().len(), 1);
}

#[test]
fn rejected_lists_change_nothing() {
    let mut rng = rng(4);
    let mut alice = multi_device_user("alice", 3, &mut rng);
    let mut bob = device(&mut rng);
    let a = user("alice");
    let v3 = alice[0].own_device_list().unwrap().clone();
    bob.accept_device_list(&a, v3.as_bytes(), NOW).unwrap();
    let v4 = alice[0].remove_own_device(3, at(5)).unwrap();
    bob.accept_device_list(&a, v4.as_bytes(), at(5)).unwrap();

    let carol = multi_device_user("carol", 1, &mut rng);
    let carols = carol[0].own_device_list().unwrap().clone();
    let mut unsigned = v4.to_bytes();
    let last = unsigned.len() - 1;
    unsigned[last] ^= 1;
    let mut no_counter_signature = v4.to_bytes();
    // The first entry's counter-signature: header, key, id (5), version, time, count, id,
    // incarnation, key.
    let sig_at = 2 + 32 + 1 + 5 + 8 + 8 + 1 + 4 + 4 + 32;
    no_counter_signature[sig_at..sig_at + 64].fill(0);

    let cases: Vec<(&str, Vec<u8>, DeviceListError)> = vec![
        (
            "replayed older list",
            v3.to_bytes(),
            DeviceListError::NotNewer {
                held: 4,
                received: 3,
            },
        ),
        (
            "same list again",
            v4.to_bytes(),
            DeviceListError::NotNewer {
                held: 4,
                received: 4,
            },
        ),
        ("altered signature", unsigned, DeviceListError::BadSignature),
        (
            "another user's list",
            carols.to_bytes(),
            DeviceListError::OtherUser,
        ),
    ];
    for (what, bytes, expected) in cases {
        let (before, before_book) = (state(&bob), book(&bob));
        let err = bob.accept_device_list(&a, &bytes, at(6)).unwrap_err();
        assert_eq!(err, expected, "{what}");
        assert_eq!(state(&bob), before, "{what}");
        assert_eq!(book(&bob), before_book, "{what}");
    }
    // A zeroed counter-signature breaks the user signature too: re-sign to isolate it.
    assert!(DeviceList::decode(&no_counter_signature).is_err());

    // Alice's device holding the key can't drop a device silently; forge it with her key
    // through the raw API to show Bob refuses it.
    let _ = alice.pop();
}

#[test]
fn a_device_dropped_without_a_tombstone_is_refused() {
    let mut rng = rng(5);
    let id = user("alice");
    let key = UserSigningKey::generate(&mut rng);
    let phones: Vec<Device> = (0..2).map(|_| device(&mut rng)).collect();
    let entries: Vec<_> = phones
        .iter()
        .enumerate()
        .map(|(i, d)| d.device_entry(&id, key.public(), i as u32 + 1, 1))
        .collect();
    let v1 = DeviceList::sign(&key, &id, 1, NOW, entries.clone(), vec![]).unwrap();
    let v2 = DeviceList::sign(&key, &id, 2, NOW, vec![entries[0]], vec![]).unwrap();
    let mut bob = device(&mut rng);
    bob.accept_device_list(&id, v1.as_bytes(), NOW).unwrap();
    let before = state(&bob);
    assert_eq!(
        bob.accept_device_list(&id, v2.as_bytes(), NOW).unwrap_err(),
        DeviceListError::DroppedWithoutTombstone { device_id: 2 }
    );
    assert_eq!(
        DeviceListError::DroppedWithoutTombstone { device_id: 2 }.kind(),
        ErrorKind::Tampered
    );
    assert_eq!(state(&bob), before);
}

#[test]
fn a_removed_device_is_decrypt_only_for_its_window_then_erased() {
    let mut rng = rng(6);
    let mut alice = multi_device_user("alice", 2, &mut rng);
    let mut bob = device(&mut rng);
    let a = user("alice");
    let list = alice[0].own_device_list().unwrap().clone();
    bob.accept_device_list(&a, list.as_bytes(), NOW).unwrap();
    connect(&mut alice[1], &mut bob, &mut rng);
    let phone = *alice[1].identity_key();
    // The phone writes, and the message is late.
    let late = alice[1]
        .encrypt_for(bob.identity_key(), b"late", &mut rng)
        .unwrap();

    let v3 = alice[0].remove_own_device(2, at(100)).unwrap();
    bob.accept_device_list(&a, v3.as_bytes(), at(100)).unwrap();
    assert!(bob.is_device_removed(&phone));
    assert_eq!(
        bob.encrypt_for(&phone, b"no", &mut rng).unwrap_err(),
        PeerError::DeviceRemoved
    );
    assert_eq!(
        bob.decrypt_from(&phone, &late, at(200)).unwrap().plaintext,
        b"late"
    );
    // A window of 7 days by default: still held the second before, erased at the end.
    let window = hushwire::device::REMOVED_DEVICE_WINDOW_SECS;
    assert_eq!(window, 7 * DAY);
    assert!(bob.expire_removed_devices(at(100 + window - 1)).is_empty());
    assert_eq!(bob.expire_removed_devices(at(100 + window)), vec![phone]);
    assert!(bob.sessions_with(&phone).is_empty());
    assert!(bob.changes().removed_peers.contains(&phone));
    assert!(!bob.is_device_removed(&phone));
}

#[test]
fn a_single_device_user_who_adds_a_user_key_keeps_its_verification() {
    let mut rng = rng(7);
    let mut alice = device(&mut rng);
    let mut bob = device(&mut rng);
    let a = user("alice");
    bob.record_identity(&a, alice.identity_key(), NOW).unwrap();
    bob.mark_verified(&a, alice.identity_key(), NOW).unwrap();
    let list = alice.create_user(&a, 1, NOW, &mut rng).unwrap();
    let accepted = bob.accept_device_list(&a, list.as_bytes(), NOW).unwrap();
    assert!(accepted.events.is_empty());
    assert_eq!(
        bob.verification_state(&a),
        Some(VerificationState::Verified {
            identity_key: *list.user_key().as_identity_key(),
            verified_at: NOW
        })
    );
    assert!(bob.is_device_verified(&a, alice.identity_key()));
}

#[test]
fn the_user_devices_record_restores_and_checks_its_lists() {
    let mut rng = rng(8);
    let mut alice = multi_device_user("alice", 2, &mut rng);
    let key = StorageKey::from_bytes([4; 32]);
    assert!(alice[0].changes().user_devices);
    let record = alice[0].user_devices_to_encrypted(&key, 1, &mut rng);
    let account = alice[0].to_encrypted(&key, 1, &mut rng);
    let mut restored = Device::from_encrypted(&account, &key, 1, &Expected::any()).unwrap();
    assert_eq!(restored.user_key(), None);
    restored.load_user_devices(&record, &key, 1).unwrap();
    assert_eq!(state(&restored), state(&alice[0]));
    assert!(restored.holds_user_key());
    // The restored device keeps publishing.
    let v3 = restored.remove_own_device(2, at(1)).unwrap();
    assert_eq!(v3.version(), 3);
    // Another device's record is refused, and nothing changes.
    let before = state(&alice[1]);
    assert!(matches!(
        alice[1].load_user_devices(&record, &key, 1),
        Err(RestoreError::WrongObject { .. })
    ));
    assert_eq!(state(&alice[1]), before);
    let _ = alice.pop();
}
