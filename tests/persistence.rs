//! Encrypted export/import of accounts and sessions: round trips with the conversation
//! continuing, every rejection with its own error, and frozen fixtures from format v1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use chacha20::ChaCha20Rng;
use hushwire::group::{GroupRole, GroupSession};
use hushwire::persist::{STATE_FORMAT_VERSION, STATE_OVERHEAD, peek_blob};
use hushwire::{
    Account, IdentityKeyPair, RatchetConfig, RestoreError, Session, StorageKey, Timestamp,
};
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

fn key() -> StorageKey {
    StorageKey::from_bytes([0x5a; 32])
}

struct World {
    rng: ChaCha20Rng,
    bob_account: Account,
    alice: Session,
    bob: Session,
}

fn world(seed: u64) -> World {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice_account = Account::new(NOW, &mut rng);
    let mut bob_account = Account::new(NOW, &mut rng);
    bob_account
        .generate_one_time_prekeys(3, 3, NOW, &mut rng)
        .unwrap();
    let bundle = bob_account.published_prekeys().take_bundle();
    let mut alice = alice_account
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    let first = alice.encrypt(b"first", &mut rng).unwrap();
    let bob = bob_account
        .create_inbound_session(&first, NOW)
        .unwrap()
        .session;
    World {
        rng,
        bob_account,
        alice,
        bob,
    }
}

#[test]
fn session_round_trip_mid_chain_with_skipped_keys_continues() {
    let mut w = world(1);
    let r = w.bob.encrypt(b"r", &mut w.rng).unwrap();
    let _ = w.alice.decrypt(&r).unwrap();
    let msgs: Vec<_> = (0..6)
        .map(|i| w.alice.encrypt(&[i], &mut w.rng).unwrap())
        .collect();
    // Deliver 5 first: 0..4 become stored skipped keys.
    assert_eq!(w.bob.decrypt(&msgs[5]).unwrap().plaintext, [5]);
    assert_eq!(w.bob.stored_skipped_keys(), 5);

    let blob = w.bob.to_encrypted(&key(), 7, &mut w.rng);
    let mut restored = Session::from_encrypted(&blob, &key(), 7).unwrap();
    assert_eq!(restored, w.bob);
    for i in [3usize, 0, 4, 1, 2] {
        assert_eq!(restored.decrypt(&msgs[i]).unwrap().plaintext, [i as u8]);
    }
    let reply = restored.encrypt(b"after restore", &mut w.rng).unwrap();
    assert_eq!(w.alice.decrypt(&reply).unwrap().plaintext, b"after restore");
}

#[test]
fn account_round_trip_still_accepts_sessions_and_remembers_consumed_keys() {
    let mut w = world(2);
    let blob = w.bob_account.to_encrypted(&key(), 1, &mut w.rng);
    let restored = Account::from_encrypted(&blob, &key(), 0).unwrap();
    assert_eq!(restored.identity_key(), w.bob_account.identity_key());
    assert_eq!(
        restored.published_prekeys(),
        w.bob_account.published_prekeys()
    );
    assert_eq!(
        restored.one_time_prekey_counts(),
        w.bob_account.one_time_prekey_counts()
    );
    // A new initiator can still start a session with the restored account.
    let mut restored = restored;
    let carol = Account::new(NOW, &mut w.rng);
    let bundle = restored.published_prekeys().take_bundle();
    let mut s = carol.create_outbound_session(&bundle, &mut w.rng).unwrap();
    let first = s.encrypt(b"carol", &mut w.rng).unwrap();
    assert_eq!(
        restored
            .create_inbound_session(&first, NOW)
            .unwrap()
            .plaintext,
        b"carol"
    );
}

#[test]
fn fresh_session_state_fits_in_one_kib() {
    let mut w = world(3);
    let r = w.bob.encrypt(b"r", &mut w.rng).unwrap();
    let _ = w.alice.decrypt(&r).unwrap();
    let blob = w.alice.to_encrypted(&key(), 0, &mut w.rng);
    assert!(
        blob.len() <= 1024,
        "established session blob is {} bytes",
        blob.len()
    );
}

#[test]
fn each_bad_blob_has_its_own_error() {
    let mut w = world(4);
    let blob = w.bob.to_encrypted(&key(), 5, &mut w.rng);

    let wrong_key = StorageKey::from_bytes([1; 32]);
    assert_eq!(
        Session::from_encrypted(&blob, &wrong_key, 0).unwrap_err(),
        RestoreError::Authentication
    );
    assert_eq!(
        Session::from_encrypted(&blob[..10], &key(), 0).unwrap_err(),
        RestoreError::Truncated
    );
    assert_eq!(
        Session::from_encrypted(&blob[..STATE_OVERHEAD - 1], &key(), 0).unwrap_err(),
        RestoreError::Truncated
    );
    for bit in [0usize, 40, 8 * 20, 8 * (blob.len() - 1)] {
        let mut bad = blob.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let err = Session::from_encrypted(&bad, &key(), 0).unwrap_err();
        assert!(
            matches!(
                err,
                RestoreError::Authentication
                    | RestoreError::NotStateBlob
                    | RestoreError::UnknownVersion(_)
                    | RestoreError::WrongType { .. }
            ),
            "bit {bit}: {err:?}"
        );
    }
    let mut body_flip = blob.clone();
    let last = body_flip.len() - 20;
    body_flip[last] ^= 0x80;
    assert_eq!(
        Session::from_encrypted(&body_flip, &key(), 0).unwrap_err(),
        RestoreError::Authentication
    );
    let account_blob = w.bob_account.to_encrypted(&key(), 0, &mut w.rng);
    assert_eq!(
        Session::from_encrypted(&account_blob, &key(), 0).unwrap_err(),
        RestoreError::WrongType {
            expected: 2,
            found: 1
        }
    );
    let mut future = blob.clone();
    future[4..6].copy_from_slice(&(STATE_FORMAT_VERSION + 1).to_be_bytes());
    assert_eq!(
        Session::from_encrypted(&future, &key(), 0).unwrap_err(),
        RestoreError::UnknownVersion(STATE_FORMAT_VERSION + 1)
    );
    let mut foreign = blob.clone();
    foreign[0] = b'X';
    assert_eq!(
        Session::from_encrypted(&foreign, &key(), 0).unwrap_err(),
        RestoreError::NotStateBlob
    );
    assert_eq!(
        Session::from_encrypted(&blob, &key(), 6).unwrap_err(),
        RestoreError::RolledBack {
            found: 5,
            minimum: 6
        }
    );
    // Raising the generation in the header breaks authentication: it cannot be forged.
    let mut bumped = blob.clone();
    bumped[7..15].copy_from_slice(&9u64.to_be_bytes());
    assert_eq!(
        Session::from_encrypted(&bumped, &key(), 6).unwrap_err(),
        RestoreError::Authentication
    );
    assert_eq!(peek_blob(&blob).unwrap().generation, 5);
}

#[test]
fn restored_config_is_kept() {
    let mut w = world(5);
    let config = RatchetConfig::new(50, 60, 3, 2).unwrap();
    w.bob.set_config(config);
    let blob = w.bob.to_encrypted(&key(), 0, &mut w.rng);
    let restored = Session::from_encrypted(&blob, &key(), 0).unwrap();
    assert_eq!(restored.config(), &config);
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state_v1")
}

/// The v1 fixtures and the SHA-256 of each. They were written once by `write_fixtures` and are
/// frozen: a later format version must keep reading these exact bytes, so the hashes are
/// pinned here and the writer refuses to overwrite files that exist.
const FIXTURES: [(&str, &str); 7] = [
    (
        "account.bin",
        "9aaea98b1f4c017b923d7b056ef24558b697462ce92c990541c55e811f2c70e9",
    ),
    (
        "session_bob.bin",
        "7a867166b339cbcf22d95997ffce73ac5d14d36c387ee2addaa2ab4217d1a65b",
    ),
    (
        "message_delayed.bin",
        "3e03428b858951c47dd81d92525e88456ff7febe48effe2932f47dc6b94bbe11",
    ),
    (
        "message_next.bin",
        "8df69d1cc4cbad32fbaf61995731de8ebadedf9e6bf3a69c174a9e1b4d284e33",
    ),
    (
        "group_member.bin",
        "ad634fe74f129ea97ac5f13a6d430530572c62057101732d78ec6fedc5983ca6",
    ),
    (
        "group_message_1.bin",
        "426dee5e75beaaedb61f30a2947e845e4f890b5ad265c8eefb9eb654589c6ee4",
    ),
    (
        "group_message_2.bin",
        "b8962a77555abb4d1d5d73edffdc836dc15f7f533c6b30e356458175e4c92460",
    ),
];

/// Writes the v1 fixtures that do not exist yet (HUSHWIRE_WRITE_FIXTURES=1). Existing files
/// are never overwritten: they are the published format.
fn write_fixtures() {
    let dir = fixture_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(path, bytes).unwrap();
        }
    };
    let mut w = world(42);
    let r = w.bob.encrypt(b"r", &mut w.rng).unwrap();
    let _ = w.alice.decrypt(&r).unwrap();
    let skipped = w.alice.encrypt(b"delayed message", &mut w.rng).unwrap();
    let next = w.alice.encrypt(b"next message", &mut w.rng).unwrap();
    let k = key();
    write(
        "account.bin",
        &w.bob_account.to_encrypted(&k, 3, &mut w.rng),
    );
    write("session_bob.bin", &w.bob.to_encrypted(&k, 3, &mut w.rng));
    write("message_delayed.bin", &skipped);
    write("message_next.bin", &next);

    // A two-member group: the member's state is saved before either message arrives.
    let (mut admin, member) = group_pair(44);
    write("group_member.bin", &member.to_encrypted(&k, 3, &mut w.rng));
    write(
        "group_message_1.bin",
        &admin.encrypt(b"group one", &mut w.rng).unwrap(),
    );
    write(
        "group_message_2.bin",
        &admin.encrypt(b"group two", &mut w.rng).unwrap(),
    );
}

/// An admin's new group and the member who joined it from the welcome and holds the admin's
/// sender key.
fn group_pair(seed: u64) -> (GroupSession, GroupSession) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let admin = IdentityKeyPair::generate(&mut rng);
    let member = IdentityKeyPair::generate(&mut rng);
    let created =
        GroupSession::create(&admin, &[(*member.public(), GroupRole::Member)], &mut rng).unwrap();
    let mut joined =
        GroupSession::join(&member, &created.welcome.bytes, admin.public(), &mut rng).unwrap();
    joined
        .session
        .receive_distribution(
            hushwire::group::AuthenticatedSender::assume_authenticated(*admin.public()),
            &created.distribution.bytes,
        )
        .unwrap();
    (created.session, joined.session)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn frozen_v1_fixtures_are_byte_identical() {
    for (name, pinned) in FIXTURES {
        let bytes = std::fs::read(fixture_dir().join(name))
            .unwrap_or_else(|e| panic!("fixture {name} is missing ({e})"));
        assert_eq!(
            sha256_hex(&bytes),
            pinned,
            "fixture {name} changed: published state must never be rewritten"
        );
    }
}

#[test]
fn frozen_v1_fixtures_still_restore_and_work() {
    if std::env::var_os("HUSHWIRE_WRITE_FIXTURES").is_some() {
        write_fixtures();
    }
    let dir = fixture_dir();
    let k = key();
    let account = Account::from_encrypted(&std::fs::read(dir.join("account.bin")).unwrap(), &k, 3)
        .expect("v1 account fixture must restore");
    assert_eq!(account.one_time_prekey_counts(), (2, 2));
    let mut bob =
        Session::from_encrypted(&std::fs::read(dir.join("session_bob.bin")).unwrap(), &k, 3)
            .expect("v1 session fixture must restore");
    let next = std::fs::read(dir.join("message_next.bin")).unwrap();
    let delayed = std::fs::read(dir.join("message_delayed.bin")).unwrap();
    assert_eq!(bob.decrypt(&next).unwrap().plaintext, b"next message");
    assert_eq!(bob.decrypt(&delayed).unwrap().plaintext, b"delayed message");
    assert_ne!(bob.remote_identity(), account.identity_key());
    assert_eq!(bob.local_identity(), account.identity_key());

    let mut member =
        GroupSession::from_encrypted(&std::fs::read(dir.join("group_member.bin")).unwrap(), &k, 3)
            .expect("v1 group session fixture must restore");
    let second = std::fs::read(dir.join("group_message_2.bin")).unwrap();
    let first = std::fs::read(dir.join("group_message_1.bin")).unwrap();
    assert_eq!(
        member.decrypt(&second, NOW).unwrap().plaintext,
        b"group two"
    );
    assert_eq!(member.decrypt(&first, NOW).unwrap().plaintext, b"group one");
}
