//! A fixed link run (`tests/vectors/link/link.json`, SPEC.md §19.11.7): two devices from a
//! seeded generator link over their 1:1 session; the payload, request, confirmation and
//! completion are recorded with the inputs of the confirmation hash, and the payload decoder's
//! rejections with their errors.
//!
//! The payload and the confirmation hash are rebuilt here from the byte layout of SPEC.md
//! §19.11 with `sha2` only, the request and completion from the entry and the list the run
//! produced; each must equal the library's bytes. The file is compared with the committed one
//! (`HUSHWIRE_REGENERATE_VECTORS=1` rewrites it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hushwire::device::LinkPayload;
use hushwire::{Device, UserId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::vector_file::{canonical_text, check_vector_file};
use crate::common::vector_json::error_json;
use crate::common::{NOW, rng};

// Constants of the specification, written out again (not taken from the library).
const LABEL_LINK_CONFIRM: &[u8] = b"hushwire/v1/multi-device/link-confirm";
const TYPE_LINK_PAYLOAD: u8 = 0x55;
const TYPE_LINK_REQUEST: u8 = 0x56;
const TYPE_LINK_CONFIRM: u8 = 0x57;
const TYPE_LINK_DONE: u8 = 0x98;
const LINK_TIMEOUT_SECS: u64 = 600;

fn carry(
    from: &mut Device,
    to: &mut Device,
    plaintext: &[u8],
    r: &mut chacha20::ChaCha20Rng,
) -> Vec<u8> {
    let key = *to.identity_key();
    let wire = from.encrypt_for(&key, plaintext, r).unwrap();
    to.decrypt_from(from.identity_key(), &wire, NOW)
        .unwrap()
        .plaintext
}

fn vectors() -> Value {
    let mut r = rng(0x11);
    let ana = UserId::try_from("ana@example.org").unwrap();
    let mut phone = Device::new(NOW, &mut r);
    phone
        .account_mut()
        .generate_one_time_prekeys(1, 1, NOW, &mut r)
        .unwrap();
    phone.create_user(&ana, 1, NOW, &mut r).unwrap();
    let mut laptop = Device::new(NOW, &mut r);
    let (p, l) = (*phone.identity_key(), *laptop.identity_key());

    let (offer, payload) = phone.offer_link(None, NOW, &mut r).unwrap();
    let payload_bytes = payload.to_bytes();
    let nonce = payload_bytes[payload_bytes.len() - 40..payload_bytes.len() - 8].to_vec();
    let user_key = *phone.user_key().unwrap().as_bytes();
    // The reference payload (§19.11.2).
    let mut reference = vec![0x01, TYPE_LINK_PAYLOAD, ana.as_bytes().len() as u8];
    reference.extend_from_slice(ana.as_bytes());
    reference.extend_from_slice(&user_key);
    reference.extend_from_slice(p.as_bytes());
    reference.extend_from_slice(&1u32.to_be_bytes());
    reference.extend_from_slice(&2u32.to_be_bytes());
    reference.extend_from_slice(&1u32.to_be_bytes());
    reference.extend_from_slice(&nonce);
    reference.extend_from_slice(&(NOW.as_unix_secs() + LINK_TIMEOUT_SECS).to_be_bytes());
    assert_eq!(payload_bytes, reference);

    let bundle = phone.account().published_prekeys().take_bundle();
    let (joining, request) = laptop.request_link(&payload, &bundle, NOW, &mut r).unwrap();
    let request_read = carry(&mut laptop, &mut phone, &request, &mut r);
    let (linking, start) = offer
        .receive_request(&phone, &l, &request_read, NOW, &mut r)
        .unwrap();
    let start = carry(&mut phone, &mut laptop, &start, &mut r);
    let (joining, accept) = joining
        .receive_start(&laptop, &p, &start, NOW, &mut r)
        .unwrap();
    let accept = carry(&mut laptop, &mut phone, &accept, &mut r);
    let (comparing, reveal) = linking.receive_accept(&phone, &l, &accept, NOW).unwrap();
    let reveal = carry(&mut phone, &mut laptop, &reveal, &mut r);
    let joining = joining.receive_reveal(&laptop, &p, &reveal, NOW).unwrap();
    let sas = *joining.sas().as_bytes();
    assert_eq!(comparing.sas().as_bytes(), &sas);
    let (joining, confirm) = joining.confirm();
    let run_id = confirm[2..18].to_vec();
    // The reference confirmation (§19.11.4).
    let mut h = Sha256::new();
    h.update(LABEL_LINK_CONFIRM);
    h.update(&nonce);
    h.update(&run_id);
    h.update(sas);
    let hash: [u8; 32] = h.finalize().into();
    assert_eq!(
        confirm.to_vec(),
        [&[0x01, TYPE_LINK_CONFIRM][..], &run_id, &hash].concat()
    );
    let confirm_read = carry(&mut laptop, &mut phone, &confirm, &mut r);
    let approved = comparing
        .receive_confirm(&l, &confirm_read, NOW)
        .unwrap()
        .approve(&mut phone, NOW)
        .unwrap();
    let list = approved.list.to_bytes();
    // The request carries the nonce and the entry exactly as the list lists it (§19.11.3).
    let entry = approved.entry;
    let entry_bytes: Vec<u8> = [
        &entry.device_id().to_be_bytes()[..],
        &entry.incarnation().to_be_bytes(),
        entry.identity_key().as_bytes(),
    ]
    .concat();
    assert_eq!(
        &request[..34],
        &[&[0x01, TYPE_LINK_REQUEST][..], &nonce].concat()[..]
    );
    assert_eq!(&request[34..74], &entry_bytes[..]);
    let at = list
        .windows(entry_bytes.len())
        .position(|w| w == entry_bytes.as_slice())
        .unwrap();
    assert_eq!(&request[34..], &list[at..at + 104]);
    assert_eq!(
        approved.message,
        [&[0x01, TYPE_LINK_DONE][..], &run_id, &list].concat()
    );
    let done = carry(&mut phone, &mut laptop, &approved.message, &mut r);
    joining.receive_list(&mut laptop, &p, &done, NOW).unwrap();

    // Payloads the decoder rejects (§19.11.2), each with its error.
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = payload_bytes.clone();
        f(&mut b);
        b
    };
    let ids = 3 + ana.as_bytes().len() + 64;
    let rejects: Vec<(&str, Vec<u8>)> = vec![
        ("empty user id", edit(&|b| b[2] = 0)),
        (
            "identity key equals the user key",
            edit(&|b| {
                let k = b[3 + 15..3 + 15 + 32].to_vec();
                b[3 + 15 + 32..3 + 15 + 64].copy_from_slice(&k);
            }),
        ),
        (
            "new device id equals the existing one",
            edit(&|b| {
                let d = b[ids..ids + 4].to_vec();
                b[ids + 4..ids + 8].copy_from_slice(&d);
            }),
        ),
        (
            "incarnation 0",
            edit(&|b| b[ids + 8..ids + 12].copy_from_slice(&[0; 4])),
        ),
        ("trailing byte", edit(&|b| b.push(0))),
        (
            "truncated",
            edit(&|b| {
                b.pop();
            }),
        ),
        ("another type", edit(&|b| b[1] = TYPE_LINK_REQUEST)),
        ("version 2", edit(&|b| b[0] = 2)),
    ];
    let rejects: Vec<Value> = rejects
        .into_iter()
        .map(|(name, bytes)| {
            let e = LinkPayload::decode(&bytes).unwrap_err();
            json!({ "name": name, "bytes": hex::encode(&bytes), "error": error_json(e) })
        })
        .collect();

    json!({
        "description": "One link run (SPEC.md §19.11) from seeded devices; the payload decoder's rejections.",
        "user_id": hex::encode(ana.as_bytes()),
        "user_key": hex::encode(user_key),
        "existing_identity": hex::encode(p.as_bytes()),
        "new_identity": hex::encode(l.as_bytes()),
        "link_nonce": hex::encode(&nonce),
        "payload": hex::encode(&payload_bytes),
        "request": hex::encode(&request),
        "sas_run_id": hex::encode(&run_id),
        "sas": hex::encode(sas),
        "confirm": hex::encode(confirm),
        "list": hex::encode(&list),
        "done": hex::encode(&approved.message),
        "payload_rejects": rejects,
    })
}

#[test]
fn link_run_vectors_match_the_committed_file() {
    check_vector_file("link", "link", &canonical_text(&vectors()));
}
