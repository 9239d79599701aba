//! Prints, as JSON, the state and wire sizes BENCHMARKS.md reports for hushwire and
//! vodozemac (`benches/report.py` runs it): exported session sizes, bytes per stored skipped
//! message key, and message overheads. Sizes are deterministic; nothing is timed here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../common/fixtures.rs"]
mod fixtures;

use hushwire::sealed::{self, RECIPIENT_HEADER_LEN};
use hushwire::{ContentType, IdentityKeyPair, Metadata, StorageKey};
use serde_json::json;
use vodozemac::megolm::{GroupSession, SessionConfig as MegolmConfig};
use vodozemac::olm::{self, OlmMessage, SessionConfig};

use fixtures::{Deployment, GroupPair, NOW, established};

const SKIPPED: usize = 40;

fn vz_established() -> (olm::Session, olm::Session) {
    let alice = olm::Account::new();
    let mut bob = olm::Account::new();
    bob.generate_one_time_keys(1);
    let one_time = *bob.one_time_keys().values().next().unwrap();
    let mut a = alice
        .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), one_time)
        .unwrap();
    let OlmMessage::PreKey(first) = a.encrypt(b"hello").unwrap() else {
        panic!("the first message is a pre-key message")
    };
    let mut b = bob
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
        .unwrap()
        .session;
    let reply = b.encrypt(b"hi").unwrap();
    a.decrypt(&reply).unwrap();
    (a, b)
}

fn vz_pickle_sizes(s: &olm::Session) -> (usize, usize) {
    let json = serde_json::to_vec(&s.pickle()).unwrap().len();
    let encrypted = s.pickle().encrypt(&[9u8; 32]).len();
    (json, encrypted)
}

fn main() {
    let key = StorageKey::from_bytes([9u8; 32]);

    // hushwire sessions.
    let (mut rng, mut a, mut b) = established(30);
    let initiator_export = a.to_encrypted(&key, 1, &mut rng).len();
    let responder_export = b.to_encrypted(&key, 1, &mut rng).len();
    let msgs: Vec<Vec<u8>> = (0..=SKIPPED)
        .map(|_| a.encrypt(&[0u8; 32], &mut rng).unwrap())
        .collect();
    let before = b.to_encrypted(&key, 1, &mut rng).len();
    let _ = b.decrypt(msgs.last().unwrap()).unwrap();
    assert_eq!(b.stored_skipped_keys(), SKIPPED);
    let after = b.to_encrypted(&key, 1, &mut rng).len();
    let per_skipped = (after - before) as f64 / SKIPPED as f64;
    let message_256 = a.encrypt(&[0u8; 256], &mut rng).unwrap();

    // A prekey message and a bundle.
    let mut setup_rng = fixtures::rng(31);
    let alice = hushwire::Account::new(NOW, &mut setup_rng);
    let (_bob, bundle) = fixtures::responder(&mut setup_rng);
    let bundle_parsed = hushwire::PreKeyBundle::from_bytes(&bundle).unwrap();
    let mut first = alice
        .create_outbound_session(&bundle_parsed, &mut setup_rng)
        .unwrap();
    let prekey_message = first.encrypt(&[0u8; 256], &mut setup_rng).unwrap();

    // Groups and sealed envelopes.
    let mut pair = GroupPair::new(&mut rng);
    let group_message = pair.alice.encrypt(&[0u8; 256], &mut rng).unwrap();
    let deployment = Deployment::new(&mut rng);
    let sender = IdentityKeyPair::generate(&mut rng);
    let recipient = IdentityKeyPair::generate(&mut rng);
    let certificate = deployment.certify(sender.public());
    let metadata = Metadata::new(ContentType::SESSION, NOW);
    let envelope = sealed::seal(
        &sender,
        &certificate,
        recipient.public(),
        &metadata,
        &message_256,
        &mut rng,
    )
    .unwrap();

    // vodozemac.
    let (mut va, mut vb) = vz_established();
    let (vz_initiator_json, vz_initiator_encrypted) = vz_pickle_sizes(&va);
    let (vz_responder_json, vz_responder_encrypted) = vz_pickle_sizes(&vb);
    let vz_msgs: Vec<OlmMessage> = (0..=SKIPPED)
        .map(|_| va.encrypt([0u8; 32]).unwrap())
        .collect();
    let (vz_before, _) = vz_pickle_sizes(&vb);
    vb.decrypt(vz_msgs.last().unwrap()).unwrap();
    let (vz_after, _) = vz_pickle_sizes(&vb);
    let vz_message_256 = va.encrypt([0u8; 256]).unwrap().to_parts().1.len();
    let vz_alice = olm::Account::new();
    let mut vz_bob = olm::Account::new();
    vz_bob.generate_one_time_keys(1);
    let one_time = *vz_bob.one_time_keys().values().next().unwrap();
    let mut vz_first = vz_alice
        .create_outbound_session(
            SessionConfig::version_1(),
            vz_bob.curve25519_key(),
            one_time,
        )
        .unwrap();
    let vz_prekey_256 = vz_first.encrypt([0u8; 256]).unwrap().to_parts().1.len();
    let mut megolm = GroupSession::new(MegolmConfig::version_1());
    let megolm_256 = megolm.encrypt([0u8; 256]).to_bytes().len();

    let out = json!({
        "hushwire": {
            "session_export_initiator_bytes": initiator_export,
            "session_export_responder_bytes": responder_export,
            "state_blob_overhead_bytes": hushwire::persist::STATE_OVERHEAD,
            "exported_bytes_per_skipped_key": per_skipped,
            "memory_bytes_per_skipped_key": hushwire::SKIPPED_KEY_MEMORY_BYTES,
            "ratchet_message_overhead_bytes": message_256.len() - 256,
            "prekey_message_overhead_bytes": prekey_message.len() - 256,
            "bundle_bytes": bundle.len(),
            "group_message_overhead_bytes": group_message.len() - 256,
            "sealed_envelope_bytes_for_256B_message": envelope.len(),
            "sealed_inner_message_bytes": message_256.len(),
            "multi_recipient_bytes_per_recipient": RECIPIENT_HEADER_LEN,
        },
        "vodozemac": {
            "version": "0.11",
            "session_pickle_initiator_json_bytes": vz_initiator_json,
            "session_pickle_initiator_encrypted_bytes": vz_initiator_encrypted,
            "session_pickle_responder_json_bytes": vz_responder_json,
            "session_pickle_responder_encrypted_bytes": vz_responder_encrypted,
            "pickle_json_bytes_per_skipped_key": (vz_after - vz_before) as f64 / SKIPPED as f64,
            "olm_message_overhead_bytes": vz_message_256 - 256,
            "olm_prekey_message_overhead_bytes": vz_prekey_256 - 256,
            "megolm_message_overhead_bytes": megolm_256 - 256,
        },
        "skipped_keys_measured": SKIPPED,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
