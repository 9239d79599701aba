//! Linking a new device to a user (SPEC.md §19.8, §19.11): the QR payload, the link run over
//! the 1:1 session with the SAS compared on both screens, the list published, the new device
//! joining; cancel and mismatch change no list; removing a linked device.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::device::{
    JoinAwaitingList, JoinComparing, LINK_TIMEOUT_SECS, LinkComparing, LinkError, LinkPayload,
    is_link_message,
};
use hushwire::{Device, ErrorKind};

use crate::common::{NOW, rng};
use crate::devices::{device, user};

/// One message from `from` to `to` on their 1:1 session: the plaintext `to` reads.
pub(crate) fn carry(
    from: &mut Device,
    to: &mut Device,
    plaintext: &[u8],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let key = *to.identity_key();
    let wire = from.encrypt_for(&key, plaintext, rng).unwrap();
    let read = to.decrypt_from(from.identity_key(), &wire, NOW).unwrap();
    assert!(is_link_message(&read.plaintext));
    read.plaintext
}

/// `phone` (holding the user key of "ana") and a fresh `laptop`, run up to both showing the
/// string; the laptop's request carried as the payload asked.
pub(crate) fn run_to_comparing(
    phone: &mut Device,
    laptop: &mut Device,
    rng: &mut ChaCha20Rng,
) -> (LinkComparing, JoinComparing) {
    let (offer, payload) = phone.offer_link(None, NOW, rng).unwrap();
    let scanned = LinkPayload::decode(&payload.to_bytes()).unwrap();
    assert_eq!(scanned, payload);
    let bundle = phone.account().published_prekeys().take_bundle();
    let (joining, request) = laptop.request_link(&scanned, &bundle, NOW, rng).unwrap();
    let (p, l) = (*phone.identity_key(), *laptop.identity_key());
    let request = carry(laptop, phone, &request, rng);
    let (linking, start) = offer
        .receive_request(phone, &l, &request, NOW, rng)
        .unwrap();
    let start = carry(phone, laptop, &start, rng);
    let (joining, accept) = joining.receive_start(laptop, &p, &start, NOW, rng).unwrap();
    let accept = carry(laptop, phone, &accept, rng);
    let (comparing, reveal) = linking.receive_accept(phone, &l, &accept, NOW).unwrap();
    let reveal = carry(phone, laptop, &reveal, rng);
    let joining = joining.receive_reveal(laptop, &p, &reveal, NOW).unwrap();
    (comparing, joining)
}

/// A phone that created user "ana" (device 1), and a laptop to link.
pub(crate) fn phone_and_laptop(rng: &mut ChaCha20Rng) -> (Device, Device) {
    let mut phone = device(rng);
    phone.create_user(&user("ana"), 1, NOW, rng).unwrap();
    let laptop = device(rng);
    (phone, laptop)
}

/// Runs the whole link: returns the confirmed laptop state's list version.
pub(crate) fn link(phone: &mut Device, laptop: &mut Device, rng: &mut ChaCha20Rng) {
    let (comparing, joining) = run_to_comparing(phone, laptop, rng);
    assert_eq!(comparing.sas(), joining.sas());
    let (joining, confirm) = joining.confirm();
    let l = *laptop.identity_key();
    let confirm = carry(laptop, phone, &confirm, rng);
    let confirmed = comparing.receive_confirm(&l, &confirm, NOW).unwrap();
    let approved = confirmed.approve(phone, NOW).unwrap();
    let done = carry(phone, laptop, &approved.message, rng);
    let p = *phone.identity_key();
    joining.receive_list(laptop, &p, &done, NOW).unwrap();
}

#[test]
fn a_scanned_qr_code_links_the_laptop_after_the_strings_match() {
    let mut rng = rng(40);
    let (mut phone, mut laptop) = phone_and_laptop(&mut rng);
    let (comparing, joining) = run_to_comparing(&mut phone, &mut laptop, &mut rng);
    // Both screens show the same seven emoji.
    assert_eq!(comparing.sas().emoji(), joining.sas().emoji());
    assert_eq!(comparing.peer(), laptop.identity_key());
    // Nothing is listed before both users said the strings match.
    assert_eq!(phone.own_device_list().unwrap().version(), 1);
    assert!(laptop.own_user_id().is_none());

    let (joining, confirm) = joining.confirm();
    let l = *laptop.identity_key();
    let confirm = carry(&mut laptop, &mut phone, &confirm, &mut rng);
    let confirmed = comparing.receive_confirm(&l, &confirm, NOW).unwrap();
    assert_eq!(phone.own_device_list().unwrap().version(), 1);
    let approved = confirmed.approve(&mut phone, NOW).unwrap();
    assert_eq!(approved.list.version(), 2);
    assert_eq!(approved.entry.device_id(), 2);
    assert_eq!(approved.entry.incarnation(), 1);
    assert!(phone.changes().user_devices);

    let done = carry(&mut phone, &mut laptop, &approved.message, &mut rng);
    let p = *phone.identity_key();
    let joined = joining.receive_list(&mut laptop, &p, &done, NOW).unwrap();
    assert_eq!(joined.added.len(), 2);
    assert_eq!(laptop.own_user_id(), Some(&user("ana")));
    assert!(!laptop.holds_user_key());
    assert_eq!(laptop.own_device_list(), phone.own_device_list());
    // Each device now sends to the other as its user's other device (a sync copy).
    let to_phone = laptop.devices_of(&user("ana")).unwrap();
    assert_eq!(to_phone.len(), 1);
    assert_eq!(&to_phone[0].identity_key, phone.identity_key());
    assert_eq!(phone.devices_of(&user("ana")).unwrap()[0].device_id, 2);
}

#[test]
fn a_mismatch_or_cancel_changes_no_list() {
    let mut rng = rng(41);
    let (mut phone, mut laptop) = phone_and_laptop(&mut rng);
    let before = phone.own_device_list().unwrap().clone();
    // The user says the strings differ on the laptop: it drops its state, sends nothing.
    let (comparing, joining) = run_to_comparing(&mut phone, &mut laptop, &mut rng);
    drop(joining);
    drop(comparing);
    assert_eq!(phone.own_device_list(), Some(&before));
    assert!(laptop.own_user_id().is_none());

    // The laptop confirmed but the phone's user says they differ: dropping changes nothing.
    let mut laptop2 = device(&mut rng);
    let (comparing, joining) = run_to_comparing(&mut phone, &mut laptop2, &mut rng);
    let (_joining, confirm) = joining.confirm();
    let l = *laptop2.identity_key();
    let confirm = carry(&mut laptop2, &mut phone, &confirm, &mut rng);
    let confirmed = comparing.receive_confirm(&l, &confirm, NOW).unwrap();
    drop(confirmed);
    assert_eq!(phone.own_device_list(), Some(&before));
    assert!(laptop2.own_user_id().is_none());
}

#[test]
fn the_offer_picks_the_next_id_and_a_reinstall_takes_the_next_incarnation() {
    let mut rng = rng(42);
    let (mut phone, mut laptop) = phone_and_laptop(&mut rng);
    link(&mut phone, &mut laptop, &mut rng);
    let (_, payload) = phone.offer_link(None, NOW, &mut rng).unwrap();
    assert_eq!((payload.new_device_id(), payload.new_incarnation()), (3, 1));
    assert_eq!(payload.existing_device_id(), 1);
    assert_eq!(payload.user_id(), &user("ana"));
    assert_eq!(payload.expires_at(), NOW.plus_secs(LINK_TIMEOUT_SECS));
    // The laptop reinstalled: same id 2, next incarnation; approving tombstones the old one.
    let (_, payload) = phone.offer_link(Some(2), NOW, &mut rng).unwrap();
    assert_eq!((payload.new_device_id(), payload.new_incarnation()), (2, 2));
    assert_eq!(
        phone.offer_link(Some(1), NOW, &mut rng).unwrap_err(),
        LinkError::List(hushwire::device::DeviceListError::DeviceIdTaken { device_id: 1 })
    );
    // Only the device holding the user key offers.
    assert_eq!(
        laptop.offer_link(None, NOW, &mut rng).unwrap_err(),
        LinkError::NoUserKey
    );
    assert_eq!(
        device(&mut rng)
            .offer_link(None, NOW, &mut rng)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );

    let mut reinstalled = device(&mut rng);
    let (offer, payload) = phone.offer_link(Some(2), NOW, &mut rng).unwrap();
    let bundle = phone.account().published_prekeys().take_bundle();
    let (joining, request) = reinstalled
        .request_link(&payload, &bundle, NOW, &mut rng)
        .unwrap();
    let (p, r) = (*phone.identity_key(), *reinstalled.identity_key());
    let request = carry(&mut reinstalled, &mut phone, &request, &mut rng);
    let (linking, start) = offer
        .receive_request(&phone, &r, &request, NOW, &mut rng)
        .unwrap();
    let start = carry(&mut phone, &mut reinstalled, &start, &mut rng);
    let (joining, accept) = joining
        .receive_start(&reinstalled, &p, &start, NOW, &mut rng)
        .unwrap();
    let accept = carry(&mut reinstalled, &mut phone, &accept, &mut rng);
    let (comparing, reveal) = linking.receive_accept(&phone, &r, &accept, NOW).unwrap();
    let reveal = carry(&mut phone, &mut reinstalled, &reveal, &mut rng);
    let joining = joining
        .receive_reveal(&reinstalled, &p, &reveal, NOW)
        .unwrap();
    let (joining, confirm) = joining.confirm();
    let confirm = carry(&mut reinstalled, &mut phone, &confirm, &mut rng);
    let approved = comparing
        .receive_confirm(&r, &confirm, NOW)
        .unwrap()
        .approve(&mut phone, NOW)
        .unwrap();
    assert_eq!(approved.list.tombstones().len(), 1);
    assert!(phone.is_device_removed(laptop.identity_key()));
    let done = carry(&mut phone, &mut reinstalled, &approved.message, &mut rng);
    joining
        .receive_list(&mut reinstalled, &p, &done, NOW)
        .unwrap();
    assert_eq!(reinstalled.own_device_list().unwrap().version(), 3);
}

#[test]
fn removing_the_linked_laptop_is_the_next_version_with_a_tombstone() {
    let mut rng = rng(43);
    let (mut phone, mut laptop) = phone_and_laptop(&mut rng);
    link(&mut phone, &mut laptop, &mut rng);
    let list = phone.remove_own_device(2, NOW.plus_secs(60)).unwrap();
    assert_eq!(list.version(), 3);
    assert_eq!(list.devices().len(), 1);
    assert_eq!(list.tombstones()[0].device_id(), 2);
    assert!(phone.is_device_removed(laptop.identity_key()));
    // The laptop follows its user's list and sees itself removed.
    let accepted = laptop
        .accept_device_list(&user("ana"), list.as_bytes(), NOW.plus_secs(61))
        .unwrap();
    assert_eq!(accepted.removed.len(), 1);
}

#[test]
fn an_expired_payload_or_a_swapped_bundle_is_refused_before_any_session() {
    let mut rng = rng(44);
    let (mut phone, mut laptop) = phone_and_laptop(&mut rng);
    let (_offer, payload) = phone.offer_link(None, NOW, &mut rng).unwrap();
    let bundle = phone.account().published_prekeys().take_bundle();
    let late = NOW.plus_secs(LINK_TIMEOUT_SECS);
    assert_eq!(
        laptop
            .request_link(&payload, &bundle, late, &mut rng)
            .unwrap_err(),
        LinkError::Expired {
            expired_at: payload.expires_at()
        }
    );
    // The relay hands out another device's bundle.
    let other = device(&mut rng);
    let swapped = other.account().published_prekeys().take_bundle();
    assert_eq!(
        laptop
            .request_link(&payload, &swapped, NOW, &mut rng)
            .unwrap_err(),
        LinkError::BundleMismatch
    );
    assert!(laptop.peers().is_empty());
    // A device of a user already cannot join another.
    assert_eq!(
        phone
            .request_link(&payload, &bundle, NOW, &mut rng)
            .unwrap_err(),
        LinkError::AlreadyLinked
    );
}

#[test]
fn the_run_survives_a_refused_message_and_completes() {
    let mut rng = rng(45);
    let (mut phone, mut laptop) = phone_and_laptop(&mut rng);
    let (comparing, joining) = run_to_comparing(&mut phone, &mut laptop, &mut rng);
    let (joining, confirm) = joining.confirm();
    let l = *laptop.identity_key();
    // A garbled confirmation is refused; the state comes back and the real one is accepted.
    let mut bad = confirm;
    bad[30] ^= 1;
    let (comparing, e) = comparing.receive_confirm(&l, &bad, NOW).unwrap_err();
    assert_eq!(e, LinkError::BadConfirm);
    let confirm = carry(&mut laptop, &mut phone, &confirm, &mut rng);
    let approved = comparing
        .receive_confirm(&l, &confirm, NOW)
        .unwrap()
        .approve(&mut phone, NOW)
        .unwrap();
    let done = carry(&mut phone, &mut laptop, &approved.message, &mut rng);
    let p = *phone.identity_key();
    let still: JoinAwaitingList = match joining.receive_list(&mut laptop, &l, &done, NOW) {
        Err((state, e)) => {
            assert_eq!(e, LinkError::WrongPeer);
            state
        }
        Ok(_) => panic!("a completion from the wrong device was accepted"),
    };
    still.receive_list(&mut laptop, &p, &done, NOW).unwrap();
    assert_eq!(laptop.own_device_list().unwrap().version(), 2);
}

/// README.md's linking example is the doctest of `src/device/link.rs`.
#[test]
fn readme_linking_example_is_the_module_doctest() {
    let readme = include_str!("../../README.md");
    let module = include_str!("../../src/device/link.rs");
    let block = |lines: Vec<&str>, fence: &str| -> Vec<String> {
        let start = (0..lines.len() - 1)
            .find(|&i| {
                lines[i].trim() == fence
                    && lines[i + 1].starts_with("use hushwire::device::is_link_message")
            })
            .unwrap()
            + 1;
        let end = start
            + lines[start..]
                .iter()
                .position(|l| l.trim() == "```")
                .unwrap();
        lines[start..end]
            .iter()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| (*l).to_owned())
            .collect()
    };
    let doc: Vec<&str> = module
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let readme_lines: Vec<&str> = readme.lines().collect();
    assert_eq!(
        block(readme_lines, "```rust,ignore"),
        block(doc, "```"),
        "README.md's linking example differs from src/device/link.rs's doctest"
    );
}
