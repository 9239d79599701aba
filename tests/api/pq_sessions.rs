//! Version-2 sessions (the post-quantum ratchet, SPEC.md §5.9): chosen by the initiator on
//! the account, the device or per peer; accepted by every responder; stored and restored by
//! sessions, accounts, devices and records; never answered in version 1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::persist::{Expected, STATE_FORMAT_VERSION, peek_blob};
use hushwire::wire::{
    KEM_PART_LEN, MAX_PQ_MESSAGE_LEN, MessageKind, PQ_RATCHET_MESSAGE_OVERHEAD, PqPreKeyMessage,
    PqRatchetMessage, RATCHET_MESSAGE_OVERHEAD, message_kind,
};
use hushwire::{Account, Device, RatchetConfig, Session, SessionVersion, StorageKey};
use rand_core::SeedableRng;

use crate::common::NOW;

fn key() -> StorageKey {
    StorageKey::from_bytes([0x5a; 32])
}

/// Alice's version-`version` session with Bob and Bob's from her first message.
fn pair(version: SessionVersion, seed: u64) -> (ChaCha20Rng, Session, Session, Vec<u8>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut alice = Account::new(NOW, &mut rng);
    alice.set_session_version(version);
    let mut bob = Account::new(NOW, &mut rng);
    bob.generate_one_time_prekeys(2, 2, NOW, &mut rng).unwrap();
    let mut a = alice
        .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let first = a.encrypt(b"first", &mut rng).unwrap();
    let inbound = bob.create_inbound_session(&first, NOW).unwrap();
    assert_eq!(inbound.plaintext, b"first");
    (rng, a, inbound.session, first)
}

/// The account chooses the version (V1 by default); the responder follows the prekey
/// message; every message of a version-2 session is of type 0x05 (until a reply) or 0x04,
/// carries the KEM part with K = 1, and both sides keep talking.
#[test]
fn a_v2_session_is_chosen_by_the_initiator_and_followed_by_the_responder() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    assert_eq!(
        Account::new(NOW, &mut rng).session_version(),
        SessionVersion::V1
    );
    assert_eq!(
        Device::new(NOW, &mut rng).session_version(),
        SessionVersion::V1
    );

    let (mut rng, mut a, mut b, first) = pair(SessionVersion::V2, 2);
    assert_eq!(first[1], 0x05);
    assert_eq!(message_kind(&first), Ok(MessageKind::PreKey));
    let prekey = PqPreKeyMessage::decode(&first).unwrap();
    assert_eq!(
        prekey.message().as_bytes().len(),
        5 + PQ_RATCHET_MESSAGE_OVERHEAD + KEM_PART_LEN
    );
    assert_eq!(
        (a.version(), b.version()),
        (SessionVersion::V2, SessionVersion::V2)
    );
    for round in 0..3u8 {
        let reply = b.encrypt(&[round], &mut rng).unwrap();
        assert_eq!(reply[1], 0x04);
        assert_eq!(message_kind(&reply), Ok(MessageKind::Ratchet));
        assert!(PqRatchetMessage::decode(&reply).is_ok());
        assert_eq!(reply.len(), 1 + PQ_RATCHET_MESSAGE_OVERHEAD + KEM_PART_LEN);
        assert_eq!(a.decrypt(&reply).unwrap().plaintext, [round]);
        let next = a.encrypt(&[round, 1], &mut rng).unwrap();
        assert_eq!(next[1], 0x04, "no prekey message once answered");
        assert_eq!(b.decrypt(&next).unwrap().plaintext, [round, 1]);
    }

    // The version-1 default is unchanged: 0x02 then 0x01, 98 bytes of overhead.
    let (mut rng, mut a, mut b, first) = pair(SessionVersion::V1, 3);
    assert_eq!(first[1], 0x02);
    let reply = b.encrypt(b"r", &mut rng).unwrap();
    assert_eq!(
        (reply[1], reply.len()),
        (0x01, 1 + RATCHET_MESSAGE_OVERHEAD)
    );
    let _ = a.decrypt(&reply).unwrap();
    assert_eq!(a.version(), SessionVersion::V1);
}

/// Per peer on a device: the device's default stays V1 while one peer gets V2, and a
/// responder device accepts both whatever its own setting.
#[test]
fn a_device_chooses_the_version_per_peer_and_accepts_both() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut alice = Device::new(NOW, &mut rng);
    let mut bob = Device::new(NOW, &mut rng);
    let mut carol = Device::new(NOW, &mut rng);
    let bundle = bob.account().published_prekeys().take_bundle();
    let _ = alice
        .start_session_with_version(&bundle, SessionVersion::V2, &mut rng)
        .unwrap();
    let bundle = carol.account().published_prekeys().take_bundle();
    let _ = alice.start_session(&bundle, &mut rng).unwrap();
    let to_bob = alice
        .encrypt_for(bob.identity_key(), b"pq", &mut rng)
        .unwrap();
    let to_carol = alice
        .encrypt_for(carol.identity_key(), b"classic", &mut rng)
        .unwrap();
    assert_eq!((to_bob[1], to_carol[1]), (0x05, 0x02));
    assert_eq!(
        bob.decrypt_from(alice.identity_key(), &to_bob, NOW)
            .unwrap()
            .plaintext,
        b"pq"
    );
    let _ = carol
        .decrypt_from(alice.identity_key(), &to_carol, NOW)
        .unwrap();
    let reply = bob
        .encrypt_for(alice.identity_key(), b"back", &mut rng)
        .unwrap();
    assert_eq!(reply[1], 0x04);
    let _ = alice.decrypt_from(bob.identity_key(), &reply, NOW).unwrap();

    // The device setting: later sessions are version 2; a V2 responder reads V1 too.
    bob.set_session_version(SessionVersion::V2);
    assert!(bob.changes().account);
    let mut dave = Device::new(NOW, &mut rng);
    let bundle = bob.account().published_prekeys().take_bundle();
    let _ = dave.start_session(&bundle, &mut rng).unwrap();
    let v1 = dave
        .encrypt_for(bob.identity_key(), b"old", &mut rng)
        .unwrap();
    assert_eq!(v1[1], 0x02);
    assert_eq!(
        bob.decrypt_from(dave.identity_key(), &v1, NOW)
            .unwrap()
            .plaintext,
        b"old"
    );
    let bundle = carol.account().published_prekeys().take_bundle();
    let _ = bob.start_session(&bundle, &mut rng).unwrap();
    let v2 = bob
        .encrypt_for(carol.identity_key(), b"new", &mut rng)
        .unwrap();
    assert_eq!(v2[1], 0x05);
}

/// A version-2 session stored as a blob, inside an account blob of a device and as records
/// comes back equal and keeps talking; the blob is of the current format version; the
/// account's session setting and ML-KEM schedule come back too.
#[test]
fn v2_sessions_and_the_session_setting_survive_every_kind_of_storage() {
    let (mut rng, mut a, mut b, _) = pair(SessionVersion::V2, 5);
    // Bob owes a ciphertext (a pending key), Alice holds a key pair: both parts are stored.
    let blob_b = b.to_encrypted(&key(), 1, &mut rng);
    assert_eq!(peek_blob(&blob_b).unwrap().version, STATE_FORMAT_VERSION);
    let mut b2 = Session::from_encrypted(&blob_b, &key(), 0, &Expected::any()).unwrap();
    assert_eq!(b2, b);
    let reply = b2.encrypt(b"after restore", &mut rng).unwrap();
    let blob_a = a.to_encrypted(&key(), 1, &mut rng);
    let mut a2 = Session::from_encrypted(&blob_a, &key(), 0, &Expected::any()).unwrap();
    assert_eq!(a2, a);
    assert_eq!(a2.decrypt(&reply).unwrap().plaintext, b"after restore");
    let next = a2.encrypt(b"and on", &mut rng).unwrap();
    assert_eq!(b2.decrypt(&next).unwrap().plaintext, b"and on");
    let _ = (&mut a, &mut b);

    // Devices: the account blob and the records.
    let mut alice = Device::new(NOW, &mut rng);
    let config = RatchetConfig::default().with_pq_schedule(3, 500).unwrap();
    alice.account_mut().set_session_config(config);
    alice.set_session_version(SessionVersion::V2);
    let mut bob = Device::new(NOW, &mut rng);
    let bundle = bob.account().published_prekeys().take_bundle();
    let _ = alice.start_session(&bundle, &mut rng).unwrap();
    let first = alice
        .encrypt_for(bob.identity_key(), b"hi", &mut rng)
        .unwrap();
    let _ = bob.decrypt_from(alice.identity_key(), &first, NOW).unwrap();

    let blob = alice.to_encrypted(&key(), 1, &mut rng);
    let mut back = Device::from_encrypted(&blob, &key(), 0, &Expected::any()).unwrap();
    assert_eq!(back.session_version(), SessionVersion::V2);
    assert_eq!(back.account().session_config(), &config);
    let account_only = Account::from_encrypted(
        &Account::clone(alice.account()).to_encrypted(&key(), 1, &mut rng),
        &key(),
        0,
        &Expected::any(),
    )
    .unwrap();
    assert_eq!(account_only.session_version(), SessionVersion::V2);
    assert_eq!(account_only.session_config(), &config);

    let reply = bob
        .encrypt_for(alice.identity_key(), b"yo", &mut rng)
        .unwrap();
    assert_eq!(
        back.decrypt_from(bob.identity_key(), &reply, NOW)
            .unwrap()
            .plaintext,
        b"yo"
    );

    let _ = alice.take_changes();
    let account_record = alice.account_record_to_encrypted(&key(), 1, &mut rng);
    let peer_record = alice
        .peer_record_to_encrypted(bob.identity_key(), &key(), 1, &mut rng)
        .unwrap();
    let book = alice.identity_book_to_encrypted(&key(), 1, &mut rng);
    let mut cold =
        Device::from_records(&account_record, 0, &book, 0, &key(), &Expected::any()).unwrap();
    assert_eq!(cold.session_version(), SessionVersion::V2);
    cold.load_peer(&peer_record, &key(), 0, &Expected::peer(bob.identity_key()))
        .unwrap();
    assert_eq!(
        cold.decrypt_from(bob.identity_key(), &reply, NOW)
            .unwrap()
            .plaintext,
        b"yo"
    );
}

/// The version-2 size limit of `message_kind`: at `MAX_PQ_MESSAGE_LEN` the kind, one past it
/// `TooLarge`; version-1 types keep their own limit.
#[test]
fn message_kind_checks_each_version_against_its_own_limit() {
    for (ty, kind) in [(0x04u8, MessageKind::Ratchet), (0x05, MessageKind::PreKey)] {
        let mut bytes = vec![1u8, ty];
        bytes.resize(MAX_PQ_MESSAGE_LEN, 0);
        assert_eq!(message_kind(&bytes), Ok(kind));
        bytes.push(0);
        assert_eq!(
            message_kind(&bytes),
            Err(hushwire::DecodeError::TooLarge {
                len: MAX_PQ_MESSAGE_LEN + 1,
                max: MAX_PQ_MESSAGE_LEN
            })
        );
    }
    let mut bytes = vec![1u8, 0x01];
    bytes.resize(hushwire::MAX_MESSAGE_LEN + 1, 0);
    assert!(matches!(
        message_kind(&bytes),
        Err(hushwire::DecodeError::TooLarge { .. })
    ));
}

fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/state_v4")
        .join(name)
}

/// The frozen version-4 fixtures (SPEC.md §11.4) and the SHA-256 of each: written once by
/// `HUSHWIRE_WRITE_FIXTURES=1` with a build that writes format version 4, never regenerated.
const FIXTURES_V4: [(&str, &str); 2] = [
    (
        "session_alice_v2.bin",
        "8ad386cf4a7bc0473091b05f12fa8fc6c717f70549ab880ae76b9d4033999c11",
    ),
    (
        "message_to_alice_v2.bin",
        "80bf12fefa7962acd65ae6f3b54f659df3ef43f168baaffa870d83659279f914",
    ),
];

/// Writes the version-4 fixtures that do not exist yet: Alice's version-2 session after Bob's
/// first reply and her second key (she holds an ML-KEM key pair), and Bob's next reply,
/// which carries the ciphertext answering that key.
fn write_v4_fixtures() {
    assert_eq!(STATE_FORMAT_VERSION, 4, "state_v4/ is frozen");
    let (mut rng, mut a, mut b, _) = pair(SessionVersion::V2, 404);
    let reply = b.encrypt(b"first reply", &mut rng).unwrap();
    let _ = a.decrypt(&reply).unwrap();
    let to_bob = a.encrypt(b"with a new key", &mut rng).unwrap();
    let _ = b.decrypt(&to_bob).unwrap();
    let message = b.encrypt(b"pq reply", &mut rng).unwrap();
    let blob = a.to_encrypted(&key(), 3, &mut rng);
    std::fs::create_dir_all(fixture_path("")).unwrap();
    for (name, bytes) in [
        ("session_alice_v2.bin", &blob),
        ("message_to_alice_v2.bin", &message),
    ] {
        let path = fixture_path(name);
        if !path.exists() {
            std::fs::write(path, bytes).unwrap();
        }
    }
}

#[test]
fn frozen_v4_fixtures_are_byte_identical() {
    use sha2::{Digest, Sha256};
    if std::env::var_os("HUSHWIRE_WRITE_FIXTURES").is_some() {
        write_v4_fixtures();
    }
    for (name, pin) in FIXTURES_V4 {
        let bytes = std::fs::read(fixture_path(name)).unwrap();
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex, pin,
            "{name} changed: the frozen fixtures must never change"
        );
    }
}

/// The frozen version-4 session restores as a version-2 session holding its key pair, and
/// decrypts the reply that answers its key; then the conversation goes on.
#[test]
fn frozen_v4_fixtures_still_restore_and_work() {
    let blob = std::fs::read(fixture_path("session_alice_v2.bin")).unwrap();
    assert_eq!(peek_blob(&blob).unwrap().version, 4);
    let mut alice = Session::from_encrypted(&blob, &key(), 3, &Expected::any())
        .expect("the v4 fixture must restore");
    assert_eq!(alice.version(), SessionVersion::V2);
    let message = std::fs::read(fixture_path("message_to_alice_v2.bin")).unwrap();
    assert_eq!(
        message.len(),
        8 + PQ_RATCHET_MESSAGE_OVERHEAD + KEM_PART_LEN
    );
    assert_eq!(alice.decrypt(&message).unwrap().plaintext, b"pq reply");
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let next = alice.encrypt(b"on", &mut rng).unwrap();
    assert_eq!(next[1], 0x04);
}

/// Bytes per message (SPEC.md §5.9.6): mean and p99 over ping-pong and over 1:20 one-sided
/// traffic (20 messages of one side per reply of the other), 32-byte plaintexts, for version 1
/// and for version 2 with K = 1, 2 and 4. Counts, not timings: asserted for K = 1 and version 1
/// (every message of a KEM-carrying chain repeats its part), printed for all.
#[test]
fn pq_overhead_figures() {
    fn run(version: SessionVersion, k: u32, burst: usize, alice_heavy: bool) -> (f64, usize) {
        let mut rng = ChaCha20Rng::seed_from_u64(77);
        let mut alice = Account::new(NOW, &mut rng);
        alice.set_session_config(RatchetConfig::default().with_pq_schedule(k, 1_000).unwrap());
        let mut bob = Account::new(NOW, &mut rng);
        let bundle = bob.published_prekeys().take_bundle();
        let mut a = alice
            .create_outbound_session_with_version(&bundle, version, &mut rng)
            .unwrap();
        let first = a.encrypt(&[0; 32], &mut rng).unwrap();
        let mut b = bob.create_inbound_session(&first, NOW).unwrap().session;
        let reply = b.encrypt(&[0; 32], &mut rng).unwrap();
        let _ = a.decrypt(&reply).unwrap();
        let mut sizes = Vec::new();
        for turn in 0..40 {
            let alice_turn = turn % 2 == 0;
            let count = if alice_turn == alice_heavy { burst } else { 1 };
            for _ in 0..count {
                let (from, to) = if alice_turn {
                    (&mut a, &mut b)
                } else {
                    (&mut b, &mut a)
                };
                let m = from.encrypt(&[0; 32], &mut rng).unwrap();
                let _ = to.decrypt(&m).unwrap();
                sizes.push(m.len());
            }
        }
        sizes.sort_unstable();
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        let p99 = sizes[(sizes.len() * 99).div_ceil(100) - 1];
        (mean, p99)
    }
    let mut lines = Vec::new();
    for (name, burst, alice_heavy) in [
        ("ping-pong", 1, true),
        ("1:20 initiator-heavy", 20, true),
        ("1:20 responder-heavy", 20, false),
    ] {
        let v1 = run(SessionVersion::V1, 1, burst, alice_heavy);
        assert_eq!(v1, (130.0, 130), "version 1: 32 + 98");
        let k1 = run(SessionVersion::V2, 1, burst, alice_heavy);
        assert_eq!(k1, (1331.0, 1331), "K = 1: 32 + 99 + 1200 on every message");
        let k2 = run(SessionVersion::V2, 2, burst, alice_heavy);
        let k4 = run(SessionVersion::V2, 4, burst, alice_heavy);
        lines.push(format!(
            "{name}: v1 mean {:.1} p99 {}; v2 K=1 mean {:.1} p99 {}; K=2 mean {:.1} p99 {}; K=4 mean {:.1} p99 {}",
            v1.0, v1.1, k1.0, k1.1, k2.0, k2.1, k4.0, k4.1
        ));
    }
    println!(
        "bytes per message (32-byte plaintexts):\n{}",
        lines.join("\n")
    );
}
