//! Fan-out to users with several devices (SPEC.md §19.5, §19.6): one body for every device,
//! sync copies to the sender's own devices, the list-hash hint, the relay's mismatch answer,
//! limits, and the byte counts of the figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::device::{
    DeviceEntry, DeviceList, DeviceListError, MAX_FANOUT_DEVICES, MAX_FANOUT_PLAINTEXT_LEN,
    UserSigningKey,
};
use hushwire::{
    Device, DeviceRef, FanOutError, FanOutMessage, FanOutSkip, IdentityKeyPair, MismatchAnswer,
    PeerError, RATCHET_MESSAGE_OVERHEAD, StorageKey, UserId,
};

use crate::common::{NOW, rng};
use crate::devices::{connect, device, multi_device_user, user};

/// Every session of `from` with every device of `users` (and its own other devices).
fn connect_all(from: &mut Device, users: &mut [&mut Vec<Device>], rng: &mut ChaCha20Rng) {
    for devices in users.iter_mut() {
        for d in devices.iter_mut() {
            if d.identity_key() != from.identity_key() {
                connect(from, d, rng);
            }
        }
    }
}

/// Every device of `user` learns the lists of `others`.
fn learn(devices: &mut [Device], others: &[&DeviceList]) {
    for d in devices.iter_mut() {
        for list in others {
            d.accept_device_list(list.user_id(), list.as_bytes(), NOW)
                .unwrap();
        }
    }
}

fn list_of(devices: &[Device]) -> DeviceList {
    devices[0].own_device_list().unwrap().clone()
}

/// The device records as persisted: equal bytes mean equal session state.
fn records(d: &Device) -> Vec<Vec<u8>> {
    let key = StorageKey::from_bytes([3; 32]);
    let mut out = vec![d.account_record_to_encrypted(&key, 1, &mut rng(0))];
    for peer in d.peers() {
        out.push(
            d.peer_record_to_encrypted(&peer, &key, 1, &mut rng(0))
                .unwrap(),
        );
    }
    out
}

/// The devices an envelope list goes to, as `(user, device id)`.
fn ids(manifest: &[DeviceRef]) -> Vec<(String, u32)> {
    manifest
        .iter()
        .map(|d| {
            (
                String::from_utf8(d.user_id.as_bytes().to_vec()).unwrap(),
                d.device_id,
            )
        })
        .collect()
}

struct World {
    alice: Vec<Device>,
    bob: Vec<Device>,
    carol: Vec<Device>,
}

/// Alice (2 devices), Bob (2), Carol (1): everyone holds everyone's list, Alice's first
/// device has a session with every other device.
fn world(rng: &mut ChaCha20Rng) -> World {
    let mut alice = multi_device_user("alice", 2, rng);
    let mut bob = multi_device_user("bob", 2, rng);
    let mut carol = multi_device_user("carol", 1, rng);
    let (la, lb, lc) = (list_of(&alice), list_of(&bob), list_of(&carol));
    learn(&mut alice, &[&lb, &lc]);
    learn(&mut bob, &[&la, &lc]);
    learn(&mut carol, &[&la, &lb]);
    let mut sender = alice.remove(0);
    connect_all(&mut sender, &mut [&mut alice, &mut bob, &mut carol], rng);
    alice.insert(0, sender);
    World { alice, bob, carol }
}

/// The device of `devices` a manifest entry names.
fn pick<'a>(devices: &'a mut [Device], r: &DeviceRef) -> &'a mut Device {
    devices
        .iter_mut()
        .find(|d| {
            d.own_device_list()
                .and_then(|l| l.device_with_key(d.identity_key()))
                .is_some_and(|e| e.device_id() == r.device_id)
        })
        .unwrap()
}

#[test]
fn one_body_reaches_every_device_of_every_user_and_the_own_other_devices() {
    let mut rng = rng(1);
    let mut w = world(&mut rng);
    let (bob_id, carol_id) = (user("bob"), user("carol"));
    let fan_out = w.alice[0]
        .fan_out(
            &[carol_id.clone(), bob_id.clone(), bob_id],
            b"order #42 shipped",
            &mut rng,
        )
        .unwrap();
    assert!(fan_out.skipped().is_empty());
    assert_eq!(
        ids(&fan_out.manifest()),
        vec![
            ("alice".into(), 2),
            ("bob".into(), 1),
            ("bob".into(), 2),
            ("carol".into(), 1)
        ]
    );
    let upload = fan_out.to_bytes().unwrap();
    let message = FanOutMessage::decode(&upload).unwrap();
    assert_eq!(message.manifest(), fan_out.manifest().as_slice());
    // The body is in the upload once.
    let body = fan_out.body().to_vec();
    assert_eq!(upload.windows(body.len()).filter(|w| *w == body).count(), 1);
    let sender = *w.alice[0].identity_key();
    let alice_list = list_of(&w.alice);
    for (r, envelope) in message.split() {
        assert!(envelope.ends_with(&body));
        let devices = match r.user_id.as_bytes() {
            b"alice" => &mut w.alice,
            b"bob" => &mut w.bob,
            _ => &mut w.carol,
        };
        let d = pick(devices, &r);
        let read = d.decrypt_fan_out(&sender, &envelope, NOW).unwrap();
        assert_eq!(read.plaintext, b"order #42 shipped");
        assert_eq!(read.sender_user, Some(user("alice")));
        let from = read.sender_device.unwrap();
        assert_eq!((from.device_id, from.incarnation), (1, 1));
        assert!(!read.list_changed);
        // Exactly once.
        assert!(matches!(
            d.decrypt_fan_out(&sender, &envelope, NOW),
            Err(FanOutError::Peer(_))
        ));
    }
    assert_eq!(alice_list, list_of(&w.alice));
}

#[test]
fn a_device_without_a_session_is_skipped_until_one_is_started() {
    let mut rng = rng(2);
    let mut w = world(&mut rng);
    // Bob links a third device; Alice accepts the new list but has no session with it.
    let key = *list_of(&w.bob).user_key();
    let entry = w
        .bob
        .push_and(device(&mut rng))
        .device_entry(&user("bob"), &key, 3, 1);
    let list = w.bob[0].add_own_device(entry, NOW).unwrap();
    w.alice[0]
        .accept_device_list(&user("bob"), list.as_bytes(), NOW)
        .unwrap();
    let mut fan_out = w.alice[0].fan_out(&[user("bob")], b"hi", &mut rng).unwrap();
    assert_eq!(fan_out.manifest().len(), 3);
    let [FanOutSkip::Device { device, reason }] = fan_out.skipped() else {
        panic!("{:?}", fan_out.skipped());
    };
    assert_eq!((device.device_id, *reason), (3, PeerError::UnknownPeer));
    // Nothing changes on a refresh without a session.
    let update = w.alice[0].refresh_fan_out(&mut fan_out, &mut rng).unwrap();
    assert!(update.added.is_empty() && update.dropped.is_empty());
    let bundle = w.bob[2].account().published_prekeys().take_bundle();
    let _ = w.alice[0].start_session(&bundle, &mut rng).unwrap();
    let update = w.alice[0].refresh_fan_out(&mut fan_out, &mut rng).unwrap();
    assert_eq!(update.added, vec![DeviceRef::new(user("bob"), 3, 1)]);
    assert!(update.skipped.is_empty() && fan_out.skipped().is_empty());
    let envelope = fan_out
        .envelope_for(&DeviceRef::new(user("bob"), 3, 1))
        .unwrap();
    // A session-starting key message: Bob's new device reads it.
    w.bob[2].join_user(list.as_bytes(), NOW).unwrap();
    let sender = *w.alice[0].identity_key();
    let read = w.bob[2].decrypt_fan_out(&sender, &envelope, NOW).unwrap();
    assert_eq!(read.plaintext, b"hi");
    // Bob's third device does not hold Alice's list: it is told to fetch it.
    assert!(read.list_changed && read.sender_device.is_none());
}

trait PushAnd<T> {
    fn push_and(&mut self, value: T) -> &mut T;
}

impl<T> PushAnd<T> for Vec<T> {
    fn push_and(&mut self, value: T) -> &mut T {
        self.push(value);
        self.last_mut().unwrap()
    }
}

#[test]
fn a_changed_sender_list_is_flagged_until_the_new_list_is_accepted() {
    let mut rng = rng(3);
    let mut w = world(&mut rng);
    // Alice links a third device: Bob still holds version 2 of her list.
    let key = *list_of(&w.alice).user_key();
    let entry = w
        .alice
        .push_and(device(&mut rng))
        .device_entry(&user("alice"), &key, 3, 1);
    let list = w.alice[0].add_own_device(entry, NOW).unwrap();
    let fan_out = w.alice[0]
        .fan_out(&[user("bob")], b"new laptop", &mut rng)
        .unwrap();
    let r = DeviceRef::new(user("bob"), 1, 1);
    let sender = *w.alice[0].identity_key();
    let read = w.bob[0]
        .decrypt_fan_out(&sender, &fan_out.envelope_for(&r).unwrap(), NOW)
        .unwrap();
    assert!(read.list_changed);
    assert_eq!(read.sender_device.unwrap().device_id, 1);
    w.bob[0]
        .accept_device_list(&user("alice"), list.as_bytes(), NOW)
        .unwrap();
    let fan_out = w.alice[0]
        .fan_out(&[user("bob")], b"again", &mut rng)
        .unwrap();
    let read = w.bob[0]
        .decrypt_fan_out(&sender, &fan_out.envelope_for(&r).unwrap(), NOW)
        .unwrap();
    assert!(!read.list_changed);
}

#[test]
fn removed_devices_are_never_encrypted_to_but_read_late_messages() {
    let mut rng = rng(4);
    let mut w = world(&mut rng);
    // Bob's second device sent Alice a message before it was removed.
    let late = w.bob[1]
        .encrypt_for(w.alice[0].identity_key(), b"sent before removal", &mut rng)
        .unwrap();
    let list = w.bob[0].remove_own_device(2, NOW).unwrap();
    w.alice[0]
        .accept_device_list(&user("bob"), list.as_bytes(), NOW)
        .unwrap();
    let fan_out = w.alice[0]
        .fan_out(&[user("bob")], b"after", &mut rng)
        .unwrap();
    assert_eq!(
        ids(&fan_out.manifest()),
        vec![("alice".into(), 2), ("bob".into(), 1)]
    );
    assert!(fan_out.skipped().is_empty());
    let bob2 = *w.bob[1].identity_key();
    let read = w.alice[0].decrypt_from(&bob2, &late, NOW).unwrap();
    assert_eq!(read.plaintext, b"sent before removal");
}

#[test]
fn the_relay_answer_adds_only_devices_a_held_list_vouches_for() {
    let mut rng = rng(5);
    let mut w = world(&mut rng);
    // Bob links a third device and publishes version 3 to the relay; Alice has not fetched it.
    let key = *list_of(&w.bob).user_key();
    let entry = w
        .bob
        .push_and(device(&mut rng))
        .device_entry(&user("bob"), &key, 3, 1);
    let new_list = w.bob[0].add_own_device(entry, NOW).unwrap();
    let old_list = w.alice[0].device_list(&user("bob")).unwrap().clone();
    let mut fan_out = w.alice[0]
        .fan_out(&[user("bob")], b"to all of bob", &mut rng)
        .unwrap();
    let sender_ref = DeviceRef::new(user("alice"), 1, 1);
    let alice_list = list_of(&w.alice);
    let answer = MismatchAnswer::between(
        &fan_out.manifest(),
        &[&new_list, &alice_list],
        Some(&sender_ref),
    )
    .unwrap();
    assert_eq!(answer.missing(), &[DeviceRef::new(user("bob"), 3, 1)]);
    assert!(answer.extra().is_empty() && answer.stale().is_empty());
    let answer = MismatchAnswer::decode(&answer.to_bytes()).unwrap();
    // No list held vouches for device 3: nothing changes.
    let before = (records(&w.alice[0]), fan_out.to_bytes());
    assert_eq!(
        w.alice[0]
            .apply_mismatch(&mut fan_out, &answer, &mut rng)
            .unwrap_err(),
        FanOutError::Unvouched { device_id: 3 }
    );
    assert_eq!((records(&w.alice[0]), fan_out.to_bytes()), before);
    assert_eq!(w.alice[0].device_list(&user("bob")), Some(&old_list));
    // Alice fetches and accepts the signed list, starts a session, and applies again.
    w.alice[0]
        .accept_device_list(&user("bob"), new_list.as_bytes(), NOW)
        .unwrap();
    let bundle = w.bob[2].account().published_prekeys().take_bundle();
    let _ = w.alice[0].start_session(&bundle, &mut rng).unwrap();
    let parts_before = fan_out.parts().to_vec();
    let body_before = fan_out.body().to_vec();
    let update = w.alice[0]
        .apply_mismatch(&mut fan_out, &answer, &mut rng)
        .unwrap();
    assert_eq!(update.added, vec![DeviceRef::new(user("bob"), 3, 1)]);
    assert!(update.dropped.is_empty());
    // Only the added device was encrypted to; the body is the same bytes.
    assert_eq!(fan_out.body(), body_before.as_slice());
    for p in &parts_before {
        assert!(fan_out.parts().contains(p));
    }
    assert_eq!(fan_out.parts().len(), parts_before.len() + 1);
    assert!(
        MismatchAnswer::between(
            &fan_out.manifest(),
            &[&new_list, &alice_list],
            Some(&sender_ref)
        )
        .is_none()
    );
    w.bob[2].join_user(new_list.as_bytes(), NOW).unwrap();
    let sender = *w.alice[0].identity_key();
    let envelope = fan_out
        .envelope_for(&DeviceRef::new(user("bob"), 3, 1))
        .unwrap();
    let read = w.bob[2].decrypt_fan_out(&sender, &envelope, NOW).unwrap();
    assert_eq!(read.plaintext, b"to all of bob");
}

#[test]
fn stale_and_extra_devices_are_dropped_and_a_reinstall_is_added() {
    let mut rng = rng(6);
    let mut w = world(&mut rng);
    let mut fan_out = w.alice[0]
        .fan_out(&[user("bob"), user("carol")], b"x", &mut rng)
        .unwrap();
    // Bob reinstalls device 2 (incarnation 2), and Carol's list is gone from the relay.
    let reinstalled = device(&mut rng);
    let entry = reinstalled.device_entry(&user("bob"), list_of(&w.bob).user_key(), 2, 2);
    let new_list = w.bob[0].add_own_device(entry, NOW).unwrap();
    let alice_list = list_of(&w.alice);
    let answer = MismatchAnswer::between(
        &fan_out.manifest(),
        &[&new_list, &alice_list],
        Some(&DeviceRef::new(user("alice"), 1, 1)),
    )
    .unwrap();
    assert_eq!(answer.stale(), &[DeviceRef::new(user("bob"), 2, 1)]);
    assert_eq!(answer.missing(), &[DeviceRef::new(user("bob"), 2, 2)]);
    assert_eq!(answer.extra(), &[DeviceRef::new(user("carol"), 1, 1)]);
    w.alice[0]
        .accept_device_list(&user("bob"), new_list.as_bytes(), NOW)
        .unwrap();
    let mut reinstalled = reinstalled;
    let bundle = reinstalled.account().published_prekeys().take_bundle();
    let _ = w.alice[0].start_session(&bundle, &mut rng).unwrap();
    let update = w.alice[0]
        .apply_mismatch(&mut fan_out, &answer, &mut rng)
        .unwrap();
    assert_eq!(update.added, vec![DeviceRef::new(user("bob"), 2, 2)]);
    assert_eq!(update.dropped.len(), 2);
    assert_eq!(
        fan_out.manifest(),
        vec![
            DeviceRef::new(user("alice"), 2, 1),
            DeviceRef::new(user("bob"), 1, 1),
            DeviceRef::new(user("bob"), 2, 2),
        ]
    );
    reinstalled.join_user(new_list.as_bytes(), NOW).unwrap();
    let envelope = fan_out
        .envelope_for(&DeviceRef::new(user("bob"), 2, 2))
        .unwrap();
    let sender = *w.alice[0].identity_key();
    assert_eq!(
        reinstalled
            .decrypt_fan_out(&sender, &envelope, NOW)
            .unwrap()
            .plaintext,
        b"x"
    );
}

#[test]
fn answers_that_do_not_fit_the_fan_out_change_nothing() {
    let mut rng = rng(7);
    let mut w = world(&mut rng);
    let mut fan_out = w.alice[0].fan_out(&[user("bob")], b"x", &mut rng).unwrap();
    let before = (records(&w.alice[0]), fan_out.to_bytes());
    let cases = [
        (
            MismatchAnswer::new(vec![], vec![DeviceRef::new(user("bob"), 9, 1)], vec![]),
            FanOutError::NotInManifest { device_id: 9 },
        ),
        (
            MismatchAnswer::new(vec![], vec![], vec![DeviceRef::new(user("bob"), 1, 7)]),
            FanOutError::NotInManifest { device_id: 1 },
        ),
        (
            MismatchAnswer::new(vec![DeviceRef::new(user("carol"), 1, 1)], vec![], vec![]),
            FanOutError::NotRecipient { device_id: 1 },
        ),
        (
            MismatchAnswer::new(vec![DeviceRef::new(user("bob"), 1, 1)], vec![], vec![]),
            FanOutError::AlreadyIncluded { device_id: 1 },
        ),
        (
            MismatchAnswer::new(vec![DeviceRef::new(user("alice"), 1, 1)], vec![], vec![]),
            FanOutError::Unvouched { device_id: 1 },
        ),
        (
            MismatchAnswer::new(vec![DeviceRef::new(user("bob"), 2, 2)], vec![], vec![]),
            FanOutError::Unvouched { device_id: 2 },
        ),
    ];
    for (answer, error) in cases {
        let answer = answer.unwrap();
        assert_eq!(
            w.alice[0]
                .apply_mismatch(&mut fan_out, &answer, &mut rng)
                .unwrap_err(),
            error
        );
        assert_eq!((records(&w.alice[0]), fan_out.to_bytes()), before);
    }
    let _ = &mut w.bob;
}

#[test]
fn a_swapped_body_is_refused_and_the_genuine_envelope_still_reads() {
    let mut rng = rng(8);
    let mut w = world(&mut rng);
    let first = w.alice[0]
        .fan_out(&[user("bob")], b"genuine", &mut rng)
        .unwrap();
    let other = w.alice[0]
        .fan_out(&[user("bob")], b"forged!", &mut rng)
        .unwrap();
    let r = DeviceRef::new(user("bob"), 1, 1);
    let genuine = first.envelope_for(&r).unwrap();
    let key_len = usize::from(u16::from_be_bytes([genuine[2], genuine[3]]));
    let mut swapped = genuine[..4 + key_len].to_vec();
    swapped.extend_from_slice(other.body());
    let sender = *w.alice[0].identity_key();
    let before = records(&w.bob[0]);
    assert_eq!(
        w.bob[0]
            .decrypt_fan_out(&sender, &swapped, NOW)
            .unwrap_err(),
        FanOutError::Tampered
    );
    assert_eq!(records(&w.bob[0]), before);
    let read = w.bob[0].decrypt_fan_out(&sender, &genuine, NOW).unwrap();
    assert_eq!(read.plaintext, b"genuine");
    let read = w.bob[0]
        .decrypt_fan_out(&sender, &other.envelope_for(&r).unwrap(), NOW)
        .unwrap();
    assert_eq!(read.plaintext, b"forged!");
}

#[test]
fn a_session_starting_key_message_with_a_swapped_body_leaves_the_prekeys() {
    let mut rng = rng(9);
    let mut alice = device(&mut rng);
    let mut bob = multi_device_user("bob", 1, &mut rng).remove(0);
    alice
        .accept_device_list(
            &user("bob"),
            list_of(std::slice::from_ref(&bob)).as_bytes(),
            NOW,
        )
        .unwrap();
    let bundle = bob.account().published_prekeys().take_bundle();
    let _ = alice.start_session(&bundle, &mut rng).unwrap();
    let first = alice.fan_out(&[user("bob")], b"hello", &mut rng).unwrap();
    let other = alice.fan_out(&[user("bob")], b"other", &mut rng).unwrap();
    let r = DeviceRef::new(user("bob"), 1, 1);
    let genuine = first.envelope_for(&r).unwrap();
    let key_len = usize::from(u16::from_be_bytes([genuine[2], genuine[3]]));
    let mut swapped = genuine[..4 + key_len].to_vec();
    swapped.extend_from_slice(other.body());
    let before = records(&bob);
    assert_eq!(
        bob.decrypt_fan_out(alice.identity_key(), &swapped, NOW)
            .unwrap_err(),
        FanOutError::Tampered
    );
    assert_eq!(records(&bob), before);
    let read = bob
        .decrypt_fan_out(alice.identity_key(), &genuine, NOW)
        .unwrap();
    assert_eq!(read.plaintext, b"hello");
    // A sender with no user of its own: no user named, nothing to fetch.
    assert_eq!(read.sender_user, None);
    assert!(!read.list_changed);
}

#[test]
fn users_without_a_list_or_with_a_blocked_key_are_skipped() {
    let mut rng = rng(10);
    let mut w = world(&mut rng);
    let fan_out = w.alice[0]
        .fan_out(&[user("bob"), user("dave")], b"x", &mut rng)
        .unwrap();
    assert!(fan_out.skipped().contains(&FanOutSkip::User {
        user_id: user("dave"),
        reason: DeviceListError::NoList,
    }));
    let _ = &mut w.bob;
}

#[test]
fn plaintext_and_device_limits_at_and_past_their_edge() {
    let mut rng = rng(11);
    let mut w = world(&mut rng);
    let at = vec![7u8; MAX_FANOUT_PLAINTEXT_LEN];
    let fan_out = w.alice[0].fan_out(&[user("bob")], &at, &mut rng).unwrap();
    let sender = *w.alice[0].identity_key();
    let read = w.bob[0]
        .decrypt_fan_out(
            &sender,
            &fan_out
                .envelope_for(&DeviceRef::new(user("bob"), 1, 1))
                .unwrap(),
            NOW,
        )
        .unwrap();
    assert_eq!(read.plaintext, at);
    let past = vec![7u8; MAX_FANOUT_PLAINTEXT_LEN + 1];
    let before = records(&w.alice[0]);
    assert_eq!(
        w.alice[0]
            .fan_out(&[user("bob")], &past, &mut rng)
            .unwrap_err(),
        FanOutError::PlaintextTooLarge {
            len: MAX_FANOUT_PLAINTEXT_LEN + 1,
            max: MAX_FANOUT_PLAINTEXT_LEN
        }
    );
    assert_eq!(records(&w.alice[0]), before);
    let mut lonely = device(&mut rng);
    assert_eq!(
        lonely.fan_out(&[], b"x", &mut rng).unwrap_err(),
        FanOutError::NoRecipients
    );

    // 32 users of 32 devices is the limit; one more device is past it.
    let mut sender = device(&mut rng);
    let mut users = Vec::new();
    let per_user = MAX_FANOUT_DEVICES / 32;
    for u in 0..=32u32 {
        let id = UserId::try_from(format!("user{u}").as_str()).unwrap();
        let signing = UserSigningKey::generate(&mut rng);
        let n = if u == 32 { 1 } else { per_user };
        let entries: Vec<DeviceEntry> = (0..n as u32)
            .map(|i| {
                DeviceEntry::sign(
                    &IdentityKeyPair::generate(&mut rng),
                    &id,
                    signing.public(),
                    i + 1,
                    1,
                )
            })
            .collect();
        let list = DeviceList::sign(&signing, &id, 1, NOW, entries, vec![]).unwrap();
        sender
            .accept_device_list(&id, list.as_bytes(), NOW)
            .unwrap();
        users.push(id);
    }
    let at_limit = sender.fan_out(&users[..32], b"x", &mut rng).unwrap();
    assert_eq!(at_limit.skipped().len(), MAX_FANOUT_DEVICES);
    assert!(at_limit.to_bytes().is_none());
    assert_eq!(
        sender.fan_out(&users, b"x", &mut rng).unwrap_err(),
        FanOutError::TooManyDevices {
            count: MAX_FANOUT_DEVICES + 1,
            max: MAX_FANOUT_DEVICES
        }
    );
}

/// The figures of SPEC.md §19.5.8: bytes per extra device on the wire, and the device list's
/// size against its number of devices. Printed with `--nocapture`.
#[test]
fn bytes_per_extra_device() {
    let mut rng = rng(12);
    let mut w = world(&mut rng);
    // Warm every session up so each key message is a ratchet message (answered sessions).
    let sender = *w.alice[0].identity_key();
    let (first, rest) = w.alice.split_at_mut(1);
    for d in w
        .bob
        .iter_mut()
        .chain(w.carol.iter_mut())
        .chain(rest.iter_mut())
    {
        let reply = d.encrypt_for(&sender, b"ack", &mut rng).unwrap();
        let _ = first[0]
            .decrypt_from(d.identity_key(), &reply, NOW)
            .unwrap();
    }
    let small = w.alice[0].fan_out(&[user("bob")], b"x", &mut rng).unwrap();
    let big = w.alice[0]
        .fan_out(&[user("bob"), user("carol")], b"x", &mut rng)
        .unwrap();
    let small_len = small.to_bytes().unwrap().len();
    let big_len = big.to_bytes().unwrap().len();
    // One more device (carol/1): reference 1 + 5 + 8, key_len 2, key message 98 + 75 + 5.
    let per_device = 1 + "carol".len() + 8 + 2 + RATCHET_MESSAGE_OVERHEAD + 75 + "alice".len();
    assert_eq!(big_len - small_len, per_device);
    assert_eq!(per_device, 184 + "carol".len() + "alice".len());
    for p in big.parts() {
        assert_eq!(
            p.key_message.len(),
            RATCHET_MESSAGE_OVERHEAD + 75 + "alice".len()
        );
    }
    println!("fan-out bytes per extra device (user ids of 5 bytes): {per_device}");
    // A device list: 104 bytes per device.
    let mut sizes = Vec::new();
    for n in [1usize, 2, 4, 8, 16, 32] {
        let id = user("u");
        let signing = UserSigningKey::generate(&mut rng);
        let entries: Vec<DeviceEntry> = (0..n as u32)
            .map(|i| {
                DeviceEntry::sign(
                    &IdentityKeyPair::generate(&mut rng),
                    &id,
                    signing.public(),
                    i + 1,
                    1,
                )
            })
            .collect();
        let list = DeviceList::sign(&signing, &id, 1, NOW, entries, vec![]).unwrap();
        sizes.push((n, list.as_bytes().len()));
    }
    for (n, len) in &sizes {
        assert_eq!(*len, 2 + 32 + 1 + 1 + 8 + 8 + 1 + 104 * n + 1 + 64);
        println!("device list of {n} devices: {len} bytes");
    }
}
