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
use hushwire::persist::{
    BlobLabel, Expected, MAX_BLOB_LABEL_LEN, STATE_FORMAT_VERSION, STATE_OVERHEAD, peek_blob,
};
use hushwire::{
    Account, Device, ErrorKind, IdentityKeyPair, RatchetConfig, RestoreError, Session, StorageKey,
    UserId,
};
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

use crate::common::NOW;

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
    let mut restored = Session::from_encrypted(&blob, &key(), 7, &Expected::any()).unwrap();
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
    let restored = Account::from_encrypted(&blob, &key(), 0, &Expected::any()).unwrap();
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
        Session::from_encrypted(&blob, &wrong_key, 0, &Expected::any()).unwrap_err(),
        RestoreError::Authentication
    );
    assert_eq!(
        Session::from_encrypted(&blob[..10], &key(), 0, &Expected::any()).unwrap_err(),
        RestoreError::Truncated
    );
    assert_eq!(
        Session::from_encrypted(&blob[..STATE_OVERHEAD - 1], &key(), 0, &Expected::any())
            .unwrap_err(),
        RestoreError::Truncated
    );
    for bit in [0usize, 40, 8 * 20, 8 * (blob.len() - 1)] {
        let mut bad = blob.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let err = Session::from_encrypted(&bad, &key(), 0, &Expected::any()).unwrap_err();
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
        Session::from_encrypted(&body_flip, &key(), 0, &Expected::any()).unwrap_err(),
        RestoreError::Authentication
    );
    let account_blob = w.bob_account.to_encrypted(&key(), 0, &mut w.rng);
    assert_eq!(
        Session::from_encrypted(&account_blob, &key(), 0, &Expected::any()).unwrap_err(),
        RestoreError::WrongType {
            expected: 2,
            found: 1
        }
    );
    let mut future = blob.clone();
    future[4..6].copy_from_slice(&(STATE_FORMAT_VERSION + 1).to_be_bytes());
    assert_eq!(
        Session::from_encrypted(&future, &key(), 0, &Expected::any()).unwrap_err(),
        RestoreError::UnknownVersion(STATE_FORMAT_VERSION + 1)
    );
    let mut foreign = blob.clone();
    foreign[0] = b'X';
    assert_eq!(
        Session::from_encrypted(&foreign, &key(), 0, &Expected::any()).unwrap_err(),
        RestoreError::NotStateBlob
    );
    assert_eq!(
        Session::from_encrypted(&blob, &key(), 6, &Expected::any()).unwrap_err(),
        RestoreError::RolledBack {
            found: 5,
            minimum: 6
        }
    );
    // Raising the generation in the header breaks authentication: it cannot be forged.
    let mut bumped = blob.clone();
    bumped[7..15].copy_from_slice(&9u64.to_be_bytes());
    assert_eq!(
        Session::from_encrypted(&bumped, &key(), 6, &Expected::any()).unwrap_err(),
        RestoreError::Authentication
    );
    assert_eq!(peek_blob(&blob).unwrap().generation, 5);
}

/// With one storage key for every blob, Carol's session used to restore without error in the
/// slot an app keeps for Bob, and a message "for Bob" was then encrypted to Carol. A blob is
/// now bound to the object it holds, and restore refuses another one.
#[test]
fn a_blob_restores_only_as_the_object_the_app_expects() {
    let mut rng = ChaCha20Rng::seed_from_u64(20);
    let alice = Account::new(NOW, &mut rng);
    let (bob, carol) = (Account::new(NOW, &mut rng), Account::new(NOW, &mut rng));
    let with_bob = alice
        .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let with_carol = alice
        .create_outbound_session(&carol.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let k = key();
    // The storage holds Carol's blob where the app keeps Bob's.
    let in_bobs_slot = with_carol.to_encrypted(&k, 1, &mut rng);
    let for_bob = Expected::peer(bob.identity_key());
    let err = Session::from_encrypted(&in_bobs_slot, &k, 1, &for_bob).unwrap_err();
    assert_eq!(err, RestoreError::WrongObject { field: "peer" });
    assert_eq!(err.kind(), ErrorKind::Tampered);
    let bobs = with_bob.to_encrypted(&k, 1, &mut rng);
    assert_eq!(
        Session::from_encrypted(&bobs, &k, 1, &for_bob).unwrap(),
        with_bob
    );

    // Every part of the binding is checked.
    let exact = Expected::peer(bob.identity_key())
        .with_identity(alice.identity_key())
        .with_session_id(&with_bob.session_id());
    assert!(Session::from_encrypted(&bobs, &k, 1, &exact).is_ok());
    for (expected, field) in [
        (Expected::identity(bob.identity_key()), "identity"),
        (
            Expected::peer(bob.identity_key()).with_session_id(&with_carol.session_id()),
            "session_id",
        ),
        (Expected::group(&[1; 32]), "group_id"),
    ] {
        assert_eq!(
            Session::from_encrypted(&bobs, &k, 1, &expected),
            Err(RestoreError::WrongObject { field })
        );
    }
    // An account has no peer; it is bound to its identity key.
    let account_blob = alice.to_encrypted(&k, 1, &mut rng);
    assert_eq!(
        Account::from_encrypted(&account_blob, &k, 1, &for_bob).unwrap_err(),
        RestoreError::WrongObject { field: "peer" }
    );
    assert_eq!(
        Account::from_encrypted(
            &account_blob,
            &k,
            1,
            &Expected::identity(bob.identity_key())
        )
        .unwrap_err(),
        RestoreError::WrongObject { field: "identity" }
    );
    let restored = Account::from_encrypted(
        &account_blob,
        &k,
        1,
        &Expected::identity(alice.identity_key()),
    )
    .unwrap();
    assert_eq!(restored.identity_key(), alice.identity_key());

    // Labels name the app's slots: a labeled blob restores only under its label.
    let slot = BlobLabel::new(b"sessions/bob").unwrap();
    let labeled = with_bob.to_encrypted_labeled(&k, &slot, 2, &mut rng);
    assert_eq!(
        Session::from_encrypted(&labeled, &k, 2, &for_bob),
        Err(RestoreError::WrongObject { field: "label" })
    );
    let other_slot = BlobLabel::new(b"sessions/carol").unwrap();
    assert_eq!(
        Session::from_encrypted(&labeled, &k, 2, &for_bob.clone().with_label(&other_slot)),
        Err(RestoreError::WrongObject { field: "label" })
    );
    assert_eq!(
        Session::from_encrypted(&labeled, &k, 2, &for_bob.clone().with_label(&slot)).unwrap(),
        with_bob
    );
    assert_eq!(
        Session::from_encrypted(&bobs, &k, 1, &for_bob.with_label(&slot)),
        Err(RestoreError::WrongObject { field: "label" })
    );
    assert!(BlobLabel::new(&[0; MAX_BLOB_LABEL_LEN]).is_ok());
    assert!(BlobLabel::new(&[0; MAX_BLOB_LABEL_LEN + 1]).is_err());

    // Groups are bound to their group id.
    let (_, member) = group_pair(21);
    let group_blob = member.to_encrypted(&k, 1, &mut rng);
    let group_id = member.group_id();
    assert!(
        GroupSession::from_encrypted(&group_blob, &k, 1, &Expected::group(group_id.as_bytes()))
            .is_ok()
    );
    assert_eq!(
        GroupSession::from_encrypted(&group_blob, &k, 1, &Expected::group(&[0; 32])).err(),
        Some(RestoreError::WrongObject { field: "group_id" })
    );
    // Blobs are written in the current format, which carries the binding.
    assert_eq!(peek_blob(&bobs).unwrap().version, STATE_FORMAT_VERSION);
}

#[test]
fn restored_config_is_kept() {
    let mut w = world(5);
    let config = RatchetConfig::new(50, 60, 3, 2).unwrap();
    w.bob.set_config(config);
    let blob = w.bob.to_encrypted(&key(), 0, &mut w.rng);
    let restored = Session::from_encrypted(&blob, &key(), 0, &Expected::any()).unwrap();
    assert_eq!(restored.config(), &config);
}

fn fixture_dir(version: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/state_v{version}"))
}

/// The v1 fixtures and the SHA-256 of each (tests/fixtures/README.md). They were written once,
/// by a build that wrote format version 1, and are frozen: every later build must keep reading
/// these exact bytes, so the hashes are pinned here. This build writes version 2 and can no
/// longer make them.
const FIXTURES_V1: [(&str, &str); 7] = [
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

/// The v2 fixtures and the SHA-256 of each (tests/fixtures/README.md), written once by
/// `write_v2_fixtures` and frozen like the v1 ones.
const FIXTURES_V2: [(&str, &str); 7] = [
    (
        "account.bin",
        "aea83fc734664ee9d9b1f4d2ed12fb3469a483fe9dada2e0d7ce437d2f8e059b",
    ),
    (
        "session_bob.bin",
        "9c8a65a0a805d7bb5c986640d071a0c17cce96ff22977f6d11c2bcb28f350316",
    ),
    (
        "message_delayed.bin",
        "1798bd2688337329b76be728c8666c7b758dbc550e43d0dc202f216a17c99814",
    ),
    (
        "message_next.bin",
        "a4c51ca62274490b3b7578962d0eca360a93e3cb6a0cfc53c1d1f17c1892b66b",
    ),
    (
        "group_member.bin",
        "421185204763ae2aadd7f70cdcfff9a29369e352529a1773221ed2f8fcfae635",
    ),
    (
        "group_message_1.bin",
        "e3e9ad542adb6d4ba0078de0d64857254de2d6d52c420fd783b4b0e2c700ac74",
    ),
    (
        "group_message_2.bin",
        "e586b06d71833b8e3a41f147d76c58d21afbd821fe04e8b86ac79ae4ec598d51",
    ),
];

/// The label `session_bob.bin` of version 2 is bound to.
const V2_SESSION_LABEL: &[u8] = b"sessions/alice";

/// Writes the v2 fixtures that do not exist yet (HUSHWIRE_WRITE_FIXTURES=1). Existing files
/// are never overwritten: they are the published format.
fn write_v2_fixtures() {
    assert_eq!(
        STATE_FORMAT_VERSION, 2,
        "this build writes another format version: state_v2/ is frozen, add state_v3/ instead"
    );
    let dir = fixture_dir(2);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(path, bytes).unwrap();
        }
    };
    // Bob's account holds the session with Alice itself (a peer record with its recency)
    // and an identity record for her; Alice then sends two messages.
    let mut rng = ChaCha20Rng::seed_from_u64(52);
    let mut alice = Device::new(NOW, &mut rng);
    let mut bob = Device::new(NOW, &mut rng);
    bob.account_mut()
        .generate_one_time_prekeys(3, 3, NOW, &mut rng)
        .unwrap();
    let (a, b) = (*alice.identity_key(), *bob.identity_key());
    let _ = alice
        .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let first = alice.encrypt_for(&b, b"first", &mut rng).unwrap();
    let _ = bob.decrypt_from(&a, &first, NOW).unwrap();
    let r = bob.encrypt_for(&a, b"r", &mut rng).unwrap();
    let _ = alice.decrypt_from(&b, &r, NOW).unwrap();
    let delayed = alice.encrypt_for(&b, b"delayed message", &mut rng).unwrap();
    let next = alice.encrypt_for(&b, b"next message", &mut rng).unwrap();
    let _ = bob
        .record_identity(&UserId::new(b"alice").unwrap(), &a, NOW)
        .unwrap();
    let k = key();
    write("account.bin", &bob.to_encrypted(&k, 3, &mut rng));
    let label = BlobLabel::new(V2_SESSION_LABEL).unwrap();
    let session = bob.active_session(&a).unwrap();
    write(
        "session_bob.bin",
        &session.to_encrypted_labeled(&k, &label, 3, &mut rng),
    );
    write("message_delayed.bin", &delayed);
    write("message_next.bin", &next);

    // A two-member group: the member's state is saved before either message arrives.
    let (mut admin, member) = group_pair(54);
    write("group_member.bin", &member.to_encrypted(&k, 3, &mut rng));
    write(
        "group_message_1.bin",
        &admin.encrypt(b"group one", &mut rng).unwrap(),
    );
    write(
        "group_message_2.bin",
        &admin.encrypt(b"group two", &mut rng).unwrap(),
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

fn check_pinned(version: u16, fixtures: &[(&str, &str)]) {
    for (name, pinned) in fixtures {
        let bytes = std::fs::read(fixture_dir(version).join(name))
            .unwrap_or_else(|e| panic!("fixture v{version}/{name} is missing ({e})"));
        assert_eq!(
            sha256_hex(&bytes),
            *pinned,
            "fixture v{version}/{name} changed: published state must never be rewritten"
        );
    }
}

fn read_fixture(version: u16, name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir(version).join(name)).unwrap()
}

#[test]
fn frozen_v1_fixtures_are_byte_identical() {
    check_pinned(1, &FIXTURES_V1);
}

#[test]
fn frozen_v2_fixtures_are_byte_identical() {
    check_pinned(2, &FIXTURES_V2);
}

#[test]
fn frozen_v1_fixtures_still_restore_and_work() {
    let k = key();
    let device = Device::from_encrypted(&read_fixture(1, "account.bin"), &k, 3, &Expected::any())
        .expect("v1 account fixture must restore as a device");
    let account = device.account();
    assert_eq!(account.one_time_prekey_counts(), (2, 2));
    let blob = read_fixture(1, "session_bob.bin");
    let mut bob = Session::from_encrypted(&blob, &k, 3, &Expected::any())
        .expect("v1 session fixture must restore");
    let next = read_fixture(1, "message_next.bin");
    let delayed = read_fixture(1, "message_delayed.bin");
    assert_eq!(bob.decrypt(&next).unwrap().plaintext, b"next message");
    assert_eq!(bob.decrypt(&delayed).unwrap().plaintext, b"delayed message");
    assert_ne!(bob.remote_identity(), account.identity_key());
    assert_eq!(bob.local_identity(), account.identity_key());
    // A v1 blob carries no binding: its content is checked against what the app expects,
    // and it has no label.
    let alice = *bob.remote_identity();
    let exact = Expected::peer(&alice)
        .with_identity(account.identity_key())
        .with_session_id(&bob.session_id());
    assert!(Session::from_encrypted(&blob, &k, 3, &exact).is_ok());
    assert_eq!(
        Session::from_encrypted(&blob, &k, 3, &Expected::peer(account.identity_key())),
        Err(RestoreError::WrongObject { field: "peer" })
    );
    let label = BlobLabel::new(b"sessions/alice").unwrap();
    assert_eq!(
        Session::from_encrypted(&blob, &k, 3, &Expected::peer(&alice).with_label(&label)),
        Err(RestoreError::WrongObject { field: "label" })
    );
    assert_eq!(
        Device::from_encrypted(
            &read_fixture(1, "account.bin"),
            &k,
            3,
            &Expected::identity(&alice)
        )
        .err(),
        Some(RestoreError::WrongObject { field: "identity" })
    );

    let group_blob = read_fixture(1, "group_member.bin");
    let mut member = GroupSession::from_encrypted(&group_blob, &k, 3, &Expected::any())
        .expect("v1 group session fixture must restore");
    let second = read_fixture(1, "group_message_2.bin");
    let first = read_fixture(1, "group_message_1.bin");
    assert_eq!(
        member.decrypt(&second, NOW).unwrap().plaintext,
        b"group two"
    );
    assert_eq!(member.decrypt(&first, NOW).unwrap().plaintext, b"group one");
    let group_id = member.group_id();
    assert!(
        GroupSession::from_encrypted(&group_blob, &k, 3, &Expected::group(group_id.as_bytes()))
            .is_ok()
    );
    // Re-exported, a v1 state is a current-version blob bound to the same object.
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let again = bob.to_encrypted(&k, 4, &mut rng);
    assert_eq!(peek_blob(&again).unwrap().version, STATE_FORMAT_VERSION);
    assert!(Session::from_encrypted(&again, &k, 4, &Expected::peer(&alice)).is_ok());
}

#[test]
fn frozen_v2_fixtures_still_restore_and_work() {
    if std::env::var_os("HUSHWIRE_WRITE_FIXTURES").is_some() {
        write_v2_fixtures();
    }
    let k = key();
    let account_blob = read_fixture(2, "account.bin");
    assert_eq!(peek_blob(&account_blob).unwrap().version, 2);
    let mut account = Device::from_encrypted(&account_blob, &k, 3, &Expected::any())
        .expect("v2 account fixture must restore as a device");
    assert_eq!(account.account().one_time_prekey_counts(), (2, 2));
    // It holds a peer and an identity record: a bare account would drop them, so it refuses.
    assert_eq!(
        Account::from_encrypted(&account_blob, &k, 3, &Expected::any()).err(),
        Some(RestoreError::DeviceState)
    );
    let peers = account.peers();
    assert_eq!(peers.len(), 1);
    let alice = peers[0];
    let user = UserId::new(b"alice").unwrap();
    assert_eq!(account.users_with_identity(&alice), [user]);
    assert!(
        Device::from_encrypted(
            &account_blob,
            &k,
            3,
            &Expected::identity(account.identity_key())
        )
        .is_ok()
    );
    let next = read_fixture(2, "message_next.bin");
    let delayed = read_fixture(2, "message_delayed.bin");
    assert_eq!(
        account.decrypt_from(&alice, &next, NOW).unwrap().plaintext,
        b"next message"
    );
    assert_eq!(
        account
            .decrypt_from(&alice, &delayed, NOW)
            .unwrap()
            .plaintext,
        b"delayed message"
    );

    // The session blob is labeled: it restores only in its slot.
    let session_blob = read_fixture(2, "session_bob.bin");
    assert_eq!(
        Session::from_encrypted(&session_blob, &k, 3, &Expected::peer(&alice)),
        Err(RestoreError::WrongObject { field: "label" })
    );
    let label = BlobLabel::new(V2_SESSION_LABEL).unwrap();
    let mut bob = Session::from_encrypted(
        &session_blob,
        &k,
        3,
        &Expected::peer(&alice).with_label(&label),
    )
    .expect("v2 session fixture must restore");
    assert_eq!(bob.local_identity(), account.identity_key());
    assert_eq!(bob.decrypt(&next).unwrap().plaintext, b"next message");
    assert_eq!(bob.decrypt(&delayed).unwrap().plaintext, b"delayed message");

    let group_blob = read_fixture(2, "group_member.bin");
    let mut member = GroupSession::from_encrypted(&group_blob, &k, 3, &Expected::any())
        .expect("v2 group session fixture must restore");
    let group_id = member.group_id();
    assert_eq!(
        GroupSession::from_encrypted(&group_blob, &k, 3, &Expected::group(&[0; 32])).err(),
        Some(RestoreError::WrongObject { field: "group_id" })
    );
    assert!(
        GroupSession::from_encrypted(&group_blob, &k, 3, &Expected::group(group_id.as_bytes()))
            .is_ok()
    );
    let second = read_fixture(2, "group_message_2.bin");
    let first = read_fixture(2, "group_message_1.bin");
    assert_eq!(
        member.decrypt(&second, NOW).unwrap().plaintext,
        b"group two"
    );
    assert_eq!(member.decrypt(&first, NOW).unwrap().plaintext, b"group one");
}
