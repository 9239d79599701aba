//! A hostile relay against fan-out (SPEC.md §19.6): it injects a device no signed list
//! carries, replays an older list, or answers a mismatch with a device of its own. Each
//! achieves nothing: no key message is made for its device, and the sender's state (sessions,
//! held lists, the prepared fan-out) is unchanged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::device::{DeviceEntry, DeviceList, DeviceListError, UserSigningKey};
use hushwire::{
    Device, DeviceRef, FanOut, FanOutError, FanOutSkip, IdentityKeyPair, MismatchAnswer,
    StorageKey, UserId,
};

use crate::common::{NOW, rng};

fn bob() -> UserId {
    UserId::try_from("bob").unwrap()
}

fn new_device(rng: &mut ChaCha20Rng) -> Device {
    let mut d = Device::new(NOW, rng);
    d.account_mut()
        .generate_one_time_prekeys(4, 4, NOW, rng)
        .unwrap();
    d
}

/// Alice's whole persisted state.
fn state(d: &Device) -> Vec<Vec<u8>> {
    let key = StorageKey::from_bytes([4; 32]);
    let mut out = vec![
        d.account_record_to_encrypted(&key, 1, &mut rng(0)),
        d.user_devices_to_encrypted(&key, 1, &mut rng(0)),
        d.identity_book_to_encrypted(&key, 1, &mut rng(0)),
    ];
    for peer in d.peers() {
        out.push(
            d.peer_record_to_encrypted(&peer, &key, 1, &mut rng(0))
                .unwrap(),
        );
    }
    out
}

fn snapshot(alice: &Device, fan_out: &FanOut) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    (state(alice), fan_out.to_bytes())
}

/// Alice holds Bob's list (devices 1 and 2) and a session with each; Bob's first device
/// holds his user key. Returns `(alice, bob1, bob2, the lists Bob published in order)`.
fn setup(rng: &mut ChaCha20Rng) -> (Device, Device, Device, Vec<DeviceList>) {
    let mut alice = new_device(rng);
    let mut bob1 = new_device(rng);
    let mut bob2 = new_device(rng);
    let v1 = bob1.create_user(&bob(), 1, NOW, rng).unwrap();
    let entry = bob2.device_entry(&bob(), v1.user_key(), 2, 1);
    let v2 = bob1.add_own_device(entry, NOW).unwrap();
    bob2.join_user(v2.as_bytes(), NOW).unwrap();
    alice
        .accept_device_list(&bob(), v2.as_bytes(), NOW)
        .unwrap();
    for d in [&mut bob1, &mut bob2] {
        let bundle = d.account().published_prekeys().take_bundle();
        let _ = alice.start_session(&bundle, rng).unwrap();
    }
    (alice, bob1, bob2, vec![v1, v2])
}

#[test]
fn a_relay_injecting_an_unsigned_device_achieves_nothing() {
    let mut rng = rng(1);
    let (mut alice, bob1, _bob2, lists) = setup(&mut rng);
    let mut fan_out = alice.fan_out(&[bob()], b"secret", &mut rng).unwrap();
    let before = snapshot(&alice, &fan_out);

    // The relay's own device, with no user signature (nor counter-signature): it edits Bob's
    // list to carry it.
    let relay = IdentityKeyPair::generate(&mut rng);
    let mut forged = lists[1].to_bytes();
    let devices_at = 2 + 32 + 1 + 3 + 8 + 8;
    forged[devices_at] = 3;
    let at = forged.len() - 64 - 1;
    let mut tail = forged.split_off(at);
    let mut entry_bytes = 3u32.to_be_bytes().to_vec();
    entry_bytes.extend_from_slice(&1u32.to_be_bytes());
    entry_bytes.extend_from_slice(relay.public().as_bytes());
    entry_bytes.extend_from_slice(&[0u8; 64]);
    forged.extend_from_slice(&entry_bytes);
    forged.append(&mut tail);
    assert_eq!(
        alice.accept_device_list(&bob(), &forged, NOW).unwrap_err(),
        DeviceListError::BadSignature
    );

    // And hints that device 3 is missing.
    let answer = MismatchAnswer::new(vec![DeviceRef::new(bob(), 3, 1)], vec![], vec![]).unwrap();
    assert_eq!(
        alice
            .apply_mismatch(&mut fan_out, &answer, &mut rng)
            .unwrap_err(),
        FanOutError::Unvouched { device_id: 3 }
    );
    assert_eq!(snapshot(&alice, &fan_out), before);
    assert!(
        fan_out
            .parts()
            .iter()
            .all(|p| p.device.identity_key != *relay.public())
    );
    let _ = bob1;
}

#[test]
fn a_relay_replaying_an_older_list_achieves_nothing() {
    let mut rng = rng(2);
    let (mut alice, mut bob1, _bob2, lists) = setup(&mut rng);
    // Bob removes device 2 (version 3); Alice accepts it.
    let v3 = bob1.remove_own_device(2, NOW).unwrap();
    alice
        .accept_device_list(&bob(), v3.as_bytes(), NOW)
        .unwrap();
    let mut fan_out = alice.fan_out(&[bob()], b"after removal", &mut rng).unwrap();
    assert_eq!(fan_out.manifest(), vec![DeviceRef::new(bob(), 1, 1)]);
    let before = snapshot(&alice, &fan_out);

    // The relay replays version 2, which still carries device 2, and says it is missing.
    assert_eq!(
        alice
            .accept_device_list(&bob(), lists[1].as_bytes(), NOW)
            .unwrap_err(),
        DeviceListError::NotNewer {
            held: 3,
            received: 2
        }
    );
    let answer = MismatchAnswer::new(vec![DeviceRef::new(bob(), 2, 1)], vec![], vec![]).unwrap();
    assert_eq!(
        alice
            .apply_mismatch(&mut fan_out, &answer, &mut rng)
            .unwrap_err(),
        FanOutError::Unvouched { device_id: 2 }
    );
    // A refresh does not bring it back either.
    let update = alice.refresh_fan_out(&mut fan_out, &mut rng).unwrap();
    assert!(update.added.is_empty() && update.dropped.is_empty());
    assert_eq!(snapshot(&alice, &fan_out), before);
}

#[test]
fn a_relay_answering_with_a_device_of_its_own_user_key_achieves_nothing() {
    let mut rng = rng(3);
    let (mut alice, _bob1, _bob2, lists) = setup(&mut rng);
    // Alice verified Bob's user key.
    alice
        .mark_verified(&bob(), lists[1].user_key().as_identity_key(), NOW)
        .unwrap();
    let mut fan_out = alice.fan_out(&[bob()], b"verified only", &mut rng).unwrap();
    let before = snapshot(&alice, &fan_out);

    // The relay signs a list for "bob" with a user key of its own, carrying its device.
    let relay_user = UserSigningKey::generate(&mut rng);
    let relay_device = IdentityKeyPair::generate(&mut rng);
    let entry = DeviceEntry::sign(&relay_device, &bob(), relay_user.public(), 3, 1);
    let impostor = DeviceList::sign(&relay_user, &bob(), 99, NOW, vec![entry], vec![]).unwrap();
    let answer = MismatchAnswer::new(vec![DeviceRef::new(bob(), 3, 1)], vec![], vec![]).unwrap();

    // Before Alice sees the list: nothing vouches.
    assert_eq!(
        alice
            .apply_mismatch(&mut fan_out, &answer, &mut rng)
            .unwrap_err(),
        FanOutError::Unvouched { device_id: 3 }
    );
    assert_eq!(snapshot(&alice, &fan_out), before);

    // Offered the list, Alice records an identity change that blocks Bob (she verified him):
    // nothing is encrypted to any of "Bob's" devices until she accepts it.
    let accepted = alice
        .accept_device_list(&bob(), impostor.as_bytes(), NOW)
        .unwrap();
    assert!(!accepted.events.is_empty());
    let failed = alice
        .apply_mismatch(&mut fan_out, &answer, &mut rng)
        .unwrap_err();
    assert_eq!(
        failed,
        FanOutError::DeviceList(DeviceListError::IdentityChanged)
    );
    assert_eq!(fan_out.to_bytes(), before.1);
    let next = alice.fan_out(&[bob()], b"blocked", &mut rng).unwrap();
    assert!(next.parts().is_empty());
    assert_eq!(
        next.skipped(),
        &[FanOutSkip::User {
            user_id: bob(),
            reason: DeviceListError::IdentityChanged
        }]
    );
}
