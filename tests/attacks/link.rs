//! Attacks on linking a device (SPEC.md §19.11): forged, replayed, out-of-order and late link
//! messages, entries for another device, completions carrying another list. Each is refused
//! with its typed error, the run's state comes back unchanged and goes on to complete, and
//! no list changes on either device.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::device::{LINK_TIMEOUT_SECS, LinkError, LinkOffer, LinkPayload};
use hushwire::{Device, StorageKey, UserId};

use crate::common::{NOW, rng};

fn ana() -> UserId {
    UserId::try_from("ana").unwrap()
}

fn device(rng: &mut ChaCha20Rng) -> Device {
    let mut d = Device::new(NOW, rng);
    d.account_mut()
        .generate_one_time_prekeys(10, 10, NOW, rng)
        .unwrap();
    d
}

/// The user-devices record with a fixed generator: equal bytes mean equal state.
fn state(d: &Device) -> Vec<u8> {
    d.user_devices_to_encrypted(&StorageKey::from_bytes([9; 32]), 1, &mut rng(0))
}

fn carry(from: &mut Device, to: &mut Device, plaintext: &[u8], rng: &mut ChaCha20Rng) -> Vec<u8> {
    let key = *to.identity_key();
    let wire = from.encrypt_for(&key, plaintext, rng).unwrap();
    to.decrypt_from(from.identity_key(), &wire, NOW)
        .unwrap()
        .plaintext
}

/// A phone holding user "ana", its offer and payload.
fn offer(rng: &mut ChaCha20Rng) -> (Device, LinkOffer, LinkPayload) {
    let mut phone = device(rng);
    phone.create_user(&ana(), 1, NOW, rng).unwrap();
    let (offer, payload) = phone.offer_link(None, NOW, rng).unwrap();
    (phone, offer, payload)
}

#[test]
fn a_request_without_the_qr_nonce_or_replayed_from_another_run_is_refused() {
    let mut rng = rng(50);
    let (mut phone, offer, payload) = offer(&mut rng);
    let before = state(&phone);
    // An earlier run's payload (another nonce), scanned by an attacker device.
    let (_old, old_payload) = phone.offer_link(None, NOW, &mut rng).unwrap();
    let mut attacker = device(&mut rng);
    let bundle = phone.account().published_prekeys().take_bundle();
    let (_, forged) = attacker
        .request_link(&old_payload, &bundle, NOW, &mut rng)
        .unwrap();
    let a = *attacker.identity_key();
    let forged = carry(&mut attacker, &mut phone, &forged, &mut rng);
    let (offer, e) = offer
        .receive_request(&phone, &a, &forged, NOW, &mut rng)
        .unwrap_err();
    assert_eq!(e, LinkError::WrongNonce);
    assert_eq!(e.kind(), hushwire::ErrorKind::Tampered);
    assert_eq!(state(&phone), before);

    // The genuine laptop's request still goes through the same offer.
    let mut laptop = device(&mut rng);
    let bundle = phone.account().published_prekeys().take_bundle();
    let (_, request) = laptop
        .request_link(&payload, &bundle, NOW, &mut rng)
        .unwrap();
    let l = *laptop.identity_key();
    let request = carry(&mut laptop, &mut phone, &request, &mut rng);
    // Replayed from the attacker's session: its entry is not the sender's.
    let (offer, e) = offer
        .receive_request(&phone, &a, &request, NOW, &mut rng)
        .unwrap_err();
    assert_eq!(e, LinkError::EntryMismatch);
    assert!(
        offer
            .receive_request(&phone, &l, &request, NOW, &mut rng)
            .is_ok()
    );
    assert_eq!(state(&phone), before);
}

#[test]
fn an_entry_for_another_id_or_with_a_forged_counter_signature_is_refused() {
    let mut rng = rng(51);
    let (mut phone, offer, payload) = offer(&mut rng);
    let mut laptop = device(&mut rng);
    let bundle = phone.account().published_prekeys().take_bundle();
    let (_, request) = laptop
        .request_link(&payload, &bundle, NOW, &mut rng)
        .unwrap();
    let l = *laptop.identity_key();
    let request = carry(&mut laptop, &mut phone, &request, &mut rng);
    let mut offer = offer;
    // Byte 34..38 is the entry's device id, 38..42 its incarnation, 106.. the signature.
    for at in [34 + 3, 38 + 3, 120] {
        let mut bad = request.clone();
        bad[at] ^= 1;
        let (back, e) = offer
            .receive_request(&phone, &l, &bad, NOW, &mut rng)
            .unwrap_err();
        assert_eq!(e, LinkError::EntryMismatch, "byte {at}");
        offer = back;
    }
    // Truncated, trailing byte: malformed.
    for bad in [
        &request[..request.len() - 1],
        &[request.as_slice(), &[0]].concat()[..],
    ] {
        let (back, e) = offer
            .receive_request(&phone, &l, bad, NOW, &mut rng)
            .unwrap_err();
        assert!(matches!(e, LinkError::Malformed(_)), "{e:?}");
        offer = back;
    }
    assert!(
        offer
            .receive_request(&phone, &l, &request, NOW, &mut rng)
            .is_ok()
    );
}

#[test]
fn out_of_order_and_late_messages_are_refused_and_the_run_goes_on() {
    let mut rng = rng(52);
    let (mut phone, offer, payload) = offer(&mut rng);
    let mut laptop = device(&mut rng);
    let bundle = phone.account().published_prekeys().take_bundle();
    let (joining, request) = laptop
        .request_link(&payload, &bundle, NOW, &mut rng)
        .unwrap();
    let (p, l) = (*phone.identity_key(), *laptop.identity_key());
    let request = carry(&mut laptop, &mut phone, &request, &mut rng);
    let late = NOW.plus_secs(LINK_TIMEOUT_SECS);
    let (offer, e) = offer
        .receive_request(&phone, &l, &request, late, &mut rng)
        .unwrap_err();
    assert_eq!(
        e,
        LinkError::Expired {
            expired_at: payload.expires_at()
        }
    );
    let (linking, start) = offer
        .receive_request(&phone, &l, &request, NOW, &mut rng)
        .unwrap();
    let start = carry(&mut phone, &mut laptop, &start, &mut rng);
    // The laptop's request replayed to the phone where the SAS accept is due.
    let (linking, e) = linking
        .receive_accept(&phone, &l, &request, NOW)
        .unwrap_err();
    assert_eq!(
        e,
        LinkError::OutOfOrder {
            expected: 0x52,
            found: 0x56
        }
    );
    let (joining, accept) = joining
        .receive_start(&laptop, &p, &start, NOW, &mut rng)
        .unwrap();
    let accept = carry(&mut laptop, &mut phone, &accept, &mut rng);
    let (comparing, reveal) = linking.receive_accept(&phone, &l, &accept, NOW).unwrap();
    let reveal = carry(&mut phone, &mut laptop, &reveal, &mut rng);
    // The start again where the reveal is due.
    let (joining, e) = joining
        .receive_reveal(&laptop, &p, &start, NOW)
        .unwrap_err();
    assert_eq!(
        e,
        LinkError::OutOfOrder {
            expected: 0x53,
            found: 0x51
        }
    );
    let joining = joining.receive_reveal(&laptop, &p, &reveal, NOW).unwrap();
    // The reveal where the confirmation is due.
    let (comparing, e) = comparing.receive_confirm(&l, &reveal, NOW).unwrap_err();
    assert!(matches!(e, LinkError::OutOfOrder { found: 0x53, .. }));
    let (joining, confirm) = joining.confirm();
    let confirm = carry(&mut laptop, &mut phone, &confirm, &mut rng);
    // A late approval is refused and changes no list.
    let before = state(&phone);
    let confirmed = comparing.receive_confirm(&l, &confirm, NOW).unwrap();
    let (confirmed, e) = confirmed.approve(&mut phone, late).unwrap_err();
    assert!(matches!(e, LinkError::Expired { .. }));
    assert_eq!(state(&phone), before);
    let approved = confirmed.approve(&mut phone, NOW).unwrap();
    let done = carry(&mut phone, &mut laptop, &approved.message, &mut rng);
    joining.receive_list(&mut laptop, &p, &done, NOW).unwrap();
}

#[test]
fn a_completion_with_another_list_or_run_changes_nothing() {
    let mut rng = rng(53);
    let (mut phone, offer, payload) = offer(&mut rng);
    let mut laptop = device(&mut rng);
    let bundle = phone.account().published_prekeys().take_bundle();
    let (joining, request) = laptop
        .request_link(&payload, &bundle, NOW, &mut rng)
        .unwrap();
    let (p, l) = (*phone.identity_key(), *laptop.identity_key());
    let request = carry(&mut laptop, &mut phone, &request, &mut rng);
    let (linking, start) = offer
        .receive_request(&phone, &l, &request, NOW, &mut rng)
        .unwrap();
    let start = carry(&mut phone, &mut laptop, &start, &mut rng);
    let (joining, accept) = joining
        .receive_start(&laptop, &p, &start, NOW, &mut rng)
        .unwrap();
    let accept = carry(&mut laptop, &mut phone, &accept, &mut rng);
    let (comparing, reveal) = linking.receive_accept(&phone, &l, &accept, NOW).unwrap();
    let reveal = carry(&mut phone, &mut laptop, &reveal, &mut rng);
    let joining = joining.receive_reveal(&laptop, &p, &reveal, NOW).unwrap();
    let (joining, confirm) = joining.confirm();
    let confirm = carry(&mut laptop, &mut phone, &confirm, &mut rng);
    let run_id: [u8; 16] = confirm[2..18].try_into().unwrap();
    let approved = comparing
        .receive_confirm(&l, &confirm, NOW)
        .unwrap()
        .approve(&mut phone, NOW)
        .unwrap();
    let laptop_before = state(&laptop);

    let done = |list: &[u8], run: [u8; 16]| [&[0x01, 0x98][..], &run, list].concat();
    // The phone's list version 1 (a replay, without the laptop).
    let v1 = {
        let mut fresh = device(&mut rng);
        fresh
            .create_user(&ana(), 1, NOW, &mut rng)
            .unwrap()
            .to_bytes()
    };
    // Another user key's list for "ana" carrying the laptop (the laptop's own entry).
    let mut other = device(&mut rng);
    let list = other.create_user(&ana(), 1, NOW, &mut rng).unwrap();
    let entry = laptop.device_entry(&ana(), list.user_key(), 2, 1);
    let forged = other.add_own_device(entry, NOW).unwrap().to_bytes();
    let mut wrong_run = run_id;
    wrong_run[0] ^= 1;
    let cases: Vec<(Vec<u8>, LinkError)> = vec![
        (done(&v1, run_id), LinkError::ListMismatch),
        (done(&forged, run_id), LinkError::ListMismatch),
        (
            done(approved.list.as_bytes(), wrong_run),
            LinkError::OtherRun,
        ),
        (
            done(&v1[..v1.len() - 1], run_id),
            LinkError::List(hushwire::device::DeviceListError::Malformed(
                hushwire::DecodeError::Truncated { needed: 1 },
            )),
        ),
    ];
    let mut joining = joining;
    for (message, expected) in cases {
        let read = carry(&mut phone, &mut laptop, &message, &mut rng);
        let (back, e) = joining
            .receive_list(&mut laptop, &p, &read, NOW)
            .unwrap_err();
        assert_eq!(e, expected);
        assert_eq!(state(&laptop), laptop_before);
        assert!(laptop.own_user_id().is_none());
        joining = back;
    }
    let read = carry(&mut phone, &mut laptop, &approved.message, &mut rng);
    joining.receive_list(&mut laptop, &p, &read, NOW).unwrap();
    assert_eq!(laptop.own_device_list(), phone.own_device_list());
}

#[test]
fn scanned_payloads_decode_strictly() {
    let mut rng = rng(54);
    let (_phone, _offer, payload) = offer(&mut rng);
    let bytes = payload.to_bytes();
    assert_eq!(LinkPayload::decode(&bytes).unwrap(), payload);
    let err = |b: &[u8]| LinkPayload::decode(b).unwrap_err();
    assert!(matches!(
        err(&[bytes.as_slice(), &[0]].concat()),
        hushwire::DecodeError::TrailingBytes { .. } | hushwire::DecodeError::TooLarge { .. }
    ));
    assert!(matches!(
        err(&bytes[..bytes.len() - 1]),
        hushwire::DecodeError::Truncated { .. }
    ));
    // user id length 0.
    let mut b = bytes.clone();
    b[2] = 0;
    assert_eq!(
        err(&b),
        hushwire::DecodeError::InvalidField { field: "user_id" }
    );
    // The new device id equal to the existing one (both at fixed offsets after "ana").
    let ids = 3 + 3 + 64;
    let mut b = bytes.clone();
    b[ids + 4..ids + 8].copy_from_slice(&bytes[ids..ids + 4]);
    assert_eq!(
        err(&b),
        hushwire::DecodeError::InvalidField {
            field: "new_device_id"
        }
    );
    let mut b = bytes.clone();
    b[ids + 8..ids + 12].copy_from_slice(&[0; 4]);
    assert_eq!(
        err(&b),
        hushwire::DecodeError::InvalidField {
            field: "new_incarnation"
        }
    );
    // The existing device's key equal to the user key.
    let mut b = bytes.clone();
    let (k1, k2) = (6, 6 + 32);
    let user_key = b[k1..k1 + 32].to_vec();
    b[k2..k2 + 32].copy_from_slice(&user_key);
    assert_eq!(
        err(&b),
        hushwire::DecodeError::InvalidField {
            field: "identity_key"
        }
    );
    // Another type.
    let mut b = bytes;
    b[1] = 0x56;
    assert_eq!(
        err(&b),
        hushwire::DecodeError::WrongType {
            expected: 0x55,
            found: 0x56
        }
    );
}
