//! A device persisted as separate records (SPEC.md §11.9): what each call reports as changed,
//! each record's round trip, a cold start that loads only the peer it needs, records bound to
//! another object refused without change, and the sizes written per message.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{NOW, rng};
use chacha20::ChaCha20Rng;
use hushwire::persist::{Expected, StateType, peek_blob};
use hushwire::{
    Device, DeviceChanges, HandshakeError, IdentityKey, PeerError, ResetReason, RestoreError,
    StorageKey, UserId,
};

fn key() -> StorageKey {
    StorageKey::from_bytes([3; 32])
}

/// An in-memory store of records, as an app keeps them: written only when listed as changed.
#[derive(Default)]
struct Store {
    account: Vec<u8>,
    book: Vec<u8>,
    peers: BTreeMap<IdentityKey, Vec<u8>>,
    generation: u64,
    /// Bytes written by the last `save`.
    written: usize,
}

impl Store {
    fn save(&mut self, device: &mut Device, rng: &mut ChaCha20Rng) -> DeviceChanges {
        let changes = device.take_changes();
        self.generation += 1;
        let g = self.generation;
        self.written = 0;
        if changes.account {
            self.account = device.account_record_to_encrypted(&key(), g, rng);
            self.written += self.account.len();
        }
        if changes.identity_book {
            self.book = device.identity_book_to_encrypted(&key(), g, rng);
            self.written += self.book.len();
        }
        for peer in &changes.peers {
            let blob = device
                .peer_record_to_encrypted(peer, &key(), g, rng)
                .unwrap();
            self.written += blob.len();
            self.peers.insert(*peer, blob);
        }
        for peer in &changes.removed_peers {
            self.peers.remove(peer);
        }
        changes
    }

    fn cold_start(&self) -> Device {
        Device::from_records(&self.account, 0, &self.book, 0, &key(), &Expected::any()).unwrap()
    }

    fn load(&self, device: &mut Device, peer: &IdentityKey) {
        let got = device
            .load_peer(&self.peers[peer], &key(), 0, &Expected::peer(peer))
            .unwrap();
        assert_eq!(got, *peer);
    }
}

fn peers(keys: &[&IdentityKey]) -> BTreeSet<IdentityKey> {
    keys.iter().map(|k| **k).collect()
}

/// Alice and Bob as devices, Bob with one-time prekeys; both stores hold their first records.
fn setup(seed: u64) -> (ChaCha20Rng, Device, Device, Store, Store) {
    let mut rng = rng(seed);
    let mut alice = Device::new(NOW, &mut rng);
    let mut bob = Device::new(NOW, &mut rng);
    bob.account_mut()
        .generate_one_time_prekeys(5, 5, NOW, &mut rng)
        .unwrap();
    let (mut a_store, mut b_store) = (Store::default(), Store::default());
    let fresh = a_store.save(&mut alice, &mut rng);
    assert!(fresh.account && fresh.identity_book && fresh.peers.is_empty());
    let _ = b_store.save(&mut bob, &mut rng);
    (rng, alice, bob, a_store, b_store)
}

#[test]
fn each_call_reports_the_records_it_changed() {
    let (mut rng, mut alice, mut bob, mut a_store, mut b_store) = setup(1);
    let (a, b) = (*alice.identity_key(), *bob.identity_key());
    assert!(alice.changes().is_empty());

    // A session with a new peer: the peer's record and the account's list of peers.
    let bundle = bob.account().published_prekeys().take_bundle();
    let _ = alice.start_session(&bundle, &mut rng).unwrap();
    let changes = a_store.save(&mut alice, &mut rng);
    assert!(changes.account && !changes.identity_book);
    assert_eq!(changes.peers, peers(&[&b]));

    // A message: the peer's record only.
    let m1 = alice.encrypt_for(&b, b"one", &mut rng).unwrap();
    let changes = a_store.save(&mut alice, &mut rng);
    assert!(!changes.account && !changes.identity_book);
    assert_eq!(changes.peers, peers(&[&b]));

    // Receiving a session-starting message: prekeys consumed, so the account too.
    let _ = bob.decrypt_from(&a, &m1, NOW).unwrap();
    let changes = b_store.save(&mut bob, &mut rng);
    assert!(changes.account);
    assert_eq!(changes.peers, peers(&[&a]));

    // A reply and its receipt on an established session: the peer's record only.
    let r = bob.encrypt_for(&a, b"two", &mut rng).unwrap();
    assert_eq!(b_store.save(&mut bob, &mut rng).peers, peers(&[&a]));
    let _ = alice.decrypt_from(&b, &r, NOW).unwrap();
    let changes = a_store.save(&mut alice, &mut rng);
    assert!(!changes.account);
    assert_eq!(changes.peers, peers(&[&b]));

    // A failed call reports nothing.
    assert!(alice.decrypt_from(&b, &r, NOW).is_err());
    assert!(alice.changes().is_empty());
    assert!(alice.encrypt_for(&a, b"self", &mut rng).is_err());
    assert!(alice.changes().is_empty());

    // The identity book.
    let user = UserId::new(b"bob").unwrap();
    let _ = alice.record_identity(&user, &b, NOW).unwrap();
    let changes = a_store.save(&mut alice, &mut rng);
    assert!(changes.identity_book && !changes.account && changes.peers.is_empty());
    // The same key again changes nothing.
    let _ = alice.record_identity(&user, &b, NOW).unwrap();
    assert!(alice.changes().is_empty());

    // The account: prekeys, and the reset logs.
    bob.account_mut().rotate_prekeys(NOW, &mut rng);
    assert!(bob.take_changes().account);
    let _ = alice
        .reset_request(&b, ResetReason::NoSession, NOW, NOW, &mut rng)
        .unwrap();
    let changes = a_store.save(&mut alice, &mut rng);
    assert!(changes.account && changes.peers.is_empty());

    // Forgetting a peer: its record is removed, and the account's list changes.
    assert!(alice.forget_peer(&b));
    let changes = a_store.save(&mut alice, &mut rng);
    assert!(changes.account && changes.peers.is_empty());
    assert_eq!(changes.removed_peers, peers(&[&b]));
    assert!(a_store.peers.is_empty());
}

#[test]
fn every_record_round_trips_and_the_conversation_goes_on() {
    let (mut rng, mut alice, mut bob, mut a_store, mut b_store) = setup(2);
    let (a, b) = (*alice.identity_key(), *bob.identity_key());
    let mut carol = Device::new(NOW, &mut rng);
    let c = *carol.identity_key();
    for peer in [&bob, &carol] {
        let _ = alice
            .start_session(&peer.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
    }
    let m = alice.encrypt_for(&b, b"to bob", &mut rng).unwrap();
    let _ = bob.decrypt_from(&a, &m, NOW).unwrap();
    let m = alice.encrypt_for(&c, b"to carol", &mut rng).unwrap();
    let _ = carol.decrypt_from(&a, &m, NOW).unwrap();
    let user = UserId::new(b"bob").unwrap();
    alice.mark_verified(&user, &b, NOW).unwrap();
    let _ = alice
        .reset_request(&c, ResetReason::NoSession, NOW, NOW, &mut rng)
        .unwrap();
    let _ = a_store.save(&mut alice, &mut rng);
    let _ = b_store.save(&mut bob, &mut rng);

    // Each blob says what it is.
    let tag = |blob: &[u8]| peek_blob(blob).unwrap().type_tag;
    assert_eq!(tag(&a_store.account), StateType::AccountRecord.tag());
    assert_eq!(tag(&a_store.book), StateType::IdentityBook.tag());
    assert_eq!(tag(&a_store.peers[&b]), StateType::PeerRecord.tag());

    // Everything back: the same peers, sessions, verification and reset state.
    let mut back = a_store.cold_start();
    assert_eq!(back.peers(), alice.peers());
    assert_eq!(back.unloaded_peers(), alice.peers());
    assert_eq!(
        back.verification_state(&user),
        alice.verification_state(&user)
    );
    for peer in [&b, &c] {
        a_store.load(&mut back, peer);
        assert_eq!(back.sessions_with(peer), alice.sessions_with(peer));
    }
    assert!(back.unloaded_peers().is_empty());
    assert!(back.changes().is_empty());
    // The reset log came back: a second request within the interval is refused.
    assert!(
        back.reset_request(&c, ResetReason::NoSession, NOW, NOW, &mut rng)
            .is_err()
    );
    // The restored device holds the same state as the full account blob would.
    let full = alice.to_encrypted(&key(), 1, &mut rng);
    let from_full = Device::from_encrypted(&full, &key(), 0, &Expected::any()).unwrap();
    assert_eq!(
        back.to_encrypted(&key(), 1, &mut rng).len(),
        from_full.to_encrypted(&key(), 1, &mut rng).len()
    );

    // Bob, restored from his records, answers on the same session.
    let mut bob = b_store.cold_start();
    b_store.load(&mut bob, &a);
    let r = bob.encrypt_for(&a, b"hi alice", &mut rng).unwrap();
    assert_eq!(
        back.decrypt_from(&b, &r, NOW).unwrap().plaintext,
        b"hi alice"
    );
}

#[test]
fn cold_start_loads_only_the_peer_it_needs() {
    let (mut rng, mut operator, _, mut store, _) = setup(3);
    let op = *operator.identity_key();
    let mut customers: Vec<Device> = (0..8).map(|_| Device::new(NOW, &mut rng)).collect();
    for customer in &mut customers {
        let _ = operator
            .start_session(
                &customer.account().published_prekeys().take_bundle(),
                &mut rng,
            )
            .unwrap();
        let m = operator
            .encrypt_for(customer.identity_key(), b"hello", &mut rng)
            .unwrap();
        let _ = customer.decrypt_from(&op, &m, NOW).unwrap();
    }
    let _ = store.save(&mut operator, &mut rng);
    drop(operator);

    // A message from customer 5 arrives after a restart.
    let five = *customers[5].identity_key();
    let question = customers[5]
        .encrypt_for(&op, b"where is my order?", &mut rng)
        .unwrap();
    let mut cold = store.cold_start();
    assert_eq!(cold.peers().len(), 8);
    assert!(!cold.is_loaded(&five));
    // Not loaded: a typed error, nothing changed, no reset advised.
    let refused = cold.decrypt_from(&five, &question, NOW).unwrap_err();
    assert_eq!(refused, PeerError::NotLoaded);
    assert_eq!(refused.reset_reason(), None);
    assert!(cold.changes().is_empty());
    assert_eq!(cold.unloaded_peers().len(), 8);
    assert_eq!(
        cold.encrypt_for(&five, b"x", &mut rng).unwrap_err(),
        PeerError::NotLoaded
    );
    let bundle = customers[5].account().published_prekeys().take_bundle();
    assert_eq!(
        cold.start_session(&bundle, &mut rng).unwrap_err(),
        HandshakeError::PeerNotLoaded
    );
    assert!(cold.changes().is_empty());

    // Load that one record and retry: only it is in memory, and only it is written back.
    store.load(&mut cold, &five);
    let read = cold.decrypt_from(&five, &question, NOW).unwrap();
    assert_eq!(read.plaintext, b"where is my order?");
    let answer = cold.encrypt_for(&five, b"it shipped", &mut rng).unwrap();
    let changes = store.save(&mut cold, &mut rng);
    assert!(!changes.account && !changes.identity_book);
    assert_eq!(changes.peers, peers(&[&five]));
    assert_eq!(
        customers[5]
            .decrypt_from(&op, &answer, NOW)
            .unwrap()
            .plaintext,
        b"it shipped"
    );
    assert_eq!(cold.unloaded_peers().len(), 7);

    // Unloading: refused while its record has changes not taken, then done.
    let _ = cold
        .encrypt_for(&five, b"anything else?", &mut rng)
        .unwrap();
    assert!(!cold.unload_peer(&five));
    let _ = store.save(&mut cold, &mut rng);
    assert!(cold.unload_peer(&five));
    assert!(!cold.is_loaded(&five));
    assert_eq!(
        cold.encrypt_for(&five, b"x", &mut rng).unwrap_err(),
        PeerError::NotLoaded
    );
    // Forgetting a peer that is not loaded works without loading it.
    let three = *customers[3].identity_key();
    assert!(cold.forget_peer(&three));
    let changes = store.save(&mut cold, &mut rng);
    assert_eq!(changes.removed_peers, peers(&[&three]));
    assert_eq!(store.cold_start().peers().len(), 7);
}

#[test]
fn a_record_of_another_object_is_refused_without_change() {
    let (mut rng, mut alice, bob, mut store, _) = setup(4);
    let carol = Device::new(NOW, &mut rng);
    let (b, c) = (*bob.identity_key(), *carol.identity_key());
    for peer in [&bob, &carol] {
        let _ = alice
            .start_session(&peer.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
    }
    let _ = store.save(&mut alice, &mut rng);
    let mut cold = store.cold_start();
    let unchanged = |d: &Device| {
        assert_eq!(d.unloaded_peers(), {
            let mut v = vec![b, c];
            v.sort();
            v
        });
        assert!(d.changes().is_empty());
    };
    unchanged(&cold);

    // Carol's record in Bob's slot.
    assert_eq!(
        cold.load_peer(&store.peers[&c], &key(), 0, &Expected::peer(&b)),
        Err(RestoreError::WrongObject { field: "peer" })
    );
    unchanged(&cold);
    // Another device's record of a peer (same storage key).
    let mut other = Device::new(NOW, &mut rng);
    let _ = other
        .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let foreign = other
        .peer_record_to_encrypted(&b, &key(), 1, &mut rng)
        .unwrap();
    assert_eq!(
        cold.load_peer(&foreign, &key(), 0, &Expected::peer(&b)),
        Err(RestoreError::WrongObject { field: "identity" })
    );
    // Another record type, a rolled-back copy, a tampered one.
    assert!(matches!(
        cold.load_peer(&store.account, &key(), 0, &Expected::peer(&b)),
        Err(RestoreError::WrongType { .. })
    ));
    assert!(matches!(
        cold.load_peer(&store.peers[&b], &key(), 100, &Expected::peer(&b)),
        Err(RestoreError::RolledBack { .. })
    ));
    let mut tampered = store.peers[&b].clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(
        cold.load_peer(&tampered, &key(), 0, &Expected::peer(&b)),
        Err(RestoreError::Authentication)
    );
    unchanged(&cold);
    // A peer the device no longer has a record of (forgotten since the blob was written).
    let stale = store.peers[&b].clone();
    assert!(cold.forget_peer(&b));
    let _ = cold.take_changes();
    assert_eq!(
        cold.load_peer(&stale, &key(), 0, &Expected::peer(&b)),
        Err(RestoreError::WrongObject { field: "peer" })
    );
    assert!(!cold.is_loaded(&b));
    // The identity book and account record of another device are refused too.
    let mut other_store = Store::default();
    let _ = other_store.save(&mut other, &mut rng);
    assert_eq!(
        Device::from_records(
            &store.account,
            0,
            &other_store.book,
            0,
            &key(),
            &Expected::any()
        )
        .err(),
        Some(RestoreError::WrongObject { field: "identity" })
    );
    assert_eq!(
        Device::from_records(
            &other_store.account,
            0,
            &store.book,
            0,
            &key(),
            &Expected::identity(alice.identity_key())
        )
        .err(),
        Some(RestoreError::WrongObject { field: "identity" })
    );
}

/// Sizes a store writes: one message costs one peer record, whatever the number of peers.
#[test]
fn bytes_written_per_message_do_not_grow_with_peers() {
    let (mut rng, mut operator, _, mut store, _) = setup(5);
    let mut customers: Vec<Device> = (0..20).map(|_| Device::new(NOW, &mut rng)).collect();
    for customer in &mut customers {
        let _ = operator
            .start_session(
                &customer.account().published_prekeys().take_bundle(),
                &mut rng,
            )
            .unwrap();
    }
    let _ = store.save(&mut operator, &mut rng);
    let account_bytes = store.account.len();
    let one = *customers[0].identity_key();
    let op = *operator.identity_key();
    // A conversation that has been answered (no pending prekey fields).
    let m = operator.encrypt_for(&one, b"hello", &mut rng).unwrap();
    let _ = customers[0].decrypt_from(&op, &m, NOW).unwrap();
    let r = customers[0].encrypt_for(&op, b"hi", &mut rng).unwrap();
    let _ = operator.decrypt_from(&one, &r, NOW).unwrap();
    let _ = store.save(&mut operator, &mut rng);
    let _ = operator.encrypt_for(&one, b"a message", &mut rng).unwrap();
    let _ = store.save(&mut operator, &mut rng);
    let per_message = store.written;
    let full = operator.to_encrypted(&key(), 1, &mut rng).len();
    println!(
        "account record {account_bytes} B with 20 peers, identity book {} B, peer record \
         {per_message} B written per message, full account blob {full} B",
        store.book.len()
    );
    assert!(per_message <= 2048, "{per_message} bytes per message");
    assert!(per_message < full / 10);
    // The account record holds 32 bytes per peer, no sessions.
    assert!(account_bytes < 4096 + 20 * 32);
}

/// The record fixtures (tests/fixtures/README.md, `records_v2/`): written once by
/// `write_record_fixtures` (`HUSHWIRE_WRITE_FIXTURES=1` creates missing files only) and frozen,
/// like `state_v2/`. Each is a version 2 blob under the storage key `0x5A` × 32, generation 3.
const FIXTURES_RECORDS: [(&str, &str); 5] = [
    (
        "account_record.bin",
        "e0f6e47a451aeb10917267b92c40b3ab94ecbdbaab35b4e5e6e039bbb5a8afd3",
    ),
    (
        "identity_book.bin",
        "4ea23db8a667aab97b51697904a17ebdc0e14624c6456cd621e218adb8f89895",
    ),
    (
        "peer_alice.bin",
        "5379f474aad4ceb14136662b542637e54a562a4cb2d1a3cc10a38769d2299663",
    ),
    (
        "message_delayed.bin",
        "1798bd2688337329b76be728c8666c7b758dbc550e43d0dc202f216a17c99814",
    ),
    (
        "message_next.bin",
        "a4c51ca62274490b3b7578962d0eca360a93e3cb6a0cfc53c1d1f17c1892b66b",
    ),
];

fn fixture_key() -> StorageKey {
    StorageKey::from_bytes([0x5a; 32])
}

fn records_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records_v2")
}

fn read_record_fixture(name: &str) -> Vec<u8> {
    std::fs::read(records_dir().join(name))
        .unwrap_or_else(|e| panic!("record fixture {name} is missing ({e})"))
}

/// Bob's device of `state_v2/account.bin` (the same seed and steps), stored as records.
fn write_record_fixtures() {
    use rand_core::SeedableRng;
    assert_eq!(
        hushwire::persist::STATE_FORMAT_VERSION,
        2,
        "this build writes another format version: records_v2/ is frozen"
    );
    let dir = records_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(path, bytes).unwrap();
        }
    };
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
    let k = fixture_key();
    write(
        "account_record.bin",
        &bob.account_record_to_encrypted(&k, 3, &mut rng),
    );
    write(
        "identity_book.bin",
        &bob.identity_book_to_encrypted(&k, 3, &mut rng),
    );
    write(
        "peer_alice.bin",
        &bob.peer_record_to_encrypted(&a, &k, 3, &mut rng).unwrap(),
    );
    write("message_delayed.bin", &delayed);
    write("message_next.bin", &next);
}

#[test]
fn frozen_record_fixtures_are_byte_identical() {
    use sha2::{Digest, Sha256};
    for (name, pinned) in FIXTURES_RECORDS {
        let hex: String = Sha256::digest(read_record_fixture(name))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex, pinned,
            "record fixture {name} changed: it must never be rewritten"
        );
    }
}

#[test]
fn frozen_record_fixtures_restore_and_work() {
    if std::env::var_os("HUSHWIRE_WRITE_FIXTURES").is_some() {
        write_record_fixtures();
    }
    let k = fixture_key();
    let account = read_record_fixture("account_record.bin");
    let book = read_record_fixture("identity_book.bin");
    let peer = read_record_fixture("peer_alice.bin");
    for (blob, tag) in [(&account, 4), (&book, 5), (&peer, 6)] {
        let info = peek_blob(blob).unwrap();
        assert_eq!((info.version, info.type_tag, info.generation), (2, tag, 3));
    }
    let mut bob = Device::from_records(&account, 3, &book, 3, &k, &Expected::any())
        .expect("record fixtures must restore");
    assert_eq!(bob.account().one_time_prekey_counts(), (2, 2));
    let alice = bob.unloaded_peers()[0];
    assert_eq!(bob.peers(), [alice]);
    let user = UserId::new(b"alice").unwrap();
    assert_eq!(bob.users_with_identity(&alice), [user]);
    let next = read_record_fixture("message_next.bin");
    let delayed = read_record_fixture("message_delayed.bin");
    assert_eq!(
        bob.decrypt_from(&alice, &next, NOW).unwrap_err(),
        PeerError::NotLoaded
    );
    assert_eq!(
        bob.load_peer(&peer, &k, 3, &Expected::peer(&alice)),
        Ok(alice)
    );
    assert_eq!(
        bob.decrypt_from(&alice, &next, NOW).unwrap().plaintext,
        b"next message"
    );
    assert_eq!(
        bob.decrypt_from(&alice, &delayed, NOW).unwrap().plaintext,
        b"delayed message"
    );
    // The same device as the full account blob of state_v2 (same seed and steps).
    let full = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/state_v2/account.bin"),
    )
    .unwrap();
    let whole = Device::from_encrypted(&full, &k, 3, &Expected::any()).unwrap();
    assert_eq!(whole.identity_key(), bob.identity_key());
    assert_eq!(whole.sessions_with(&alice), bob.sessions_with(&alice));
}
