//! Account-level sessions: records per peer, simultaneous initiation, a peer that lost its
//! state, forgetting a peer, and persistence of the whole account.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::{
    Account, DecryptError, Event, HandshakeError, MAX_PEERS, MAX_SESSIONS_PER_PEER, PeerError,
    StorageKey, Timestamp,
};
use rand_core::SeedableRng;

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

fn accounts(seed: u64) -> (ChaCha20Rng, Account, Account) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    alice
        .generate_one_time_prekeys(10, 10, NOW, &mut rng)
        .unwrap();
    bob.generate_one_time_prekeys(10, 10, NOW, &mut rng)
        .unwrap();
    (rng, alice, bob)
}

#[test]
fn account_level_conversation() {
    let (mut rng, mut alice, mut bob) = accounts(1);
    let a_id = *alice.identity_key();
    let b_id = *bob.identity_key();
    assert_eq!(
        alice.encrypt_for(&b_id, b"x", &mut rng).unwrap_err(),
        PeerError::UnknownPeer
    );
    alice
        .start_session(&bob.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    for round in 0..5u8 {
        let m = alice.encrypt_for(&b_id, &[round], &mut rng).unwrap();
        let got = bob.decrypt_from(&a_id, &m, NOW).unwrap();
        assert_eq!(got.plaintext, [round]);
        let r = bob.encrypt_for(&a_id, &[round, 1], &mut rng).unwrap();
        assert_eq!(
            alice.decrypt_from(&b_id, &r, NOW).unwrap().plaintext,
            [round, 1]
        );
    }
    assert_eq!(bob.sessions_with(&a_id).len(), 1);
    assert_eq!(alice.sessions_with(&b_id), bob.sessions_with(&a_id));
}

#[test]
fn simultaneous_initiation_converges_on_the_smaller_session_id() {
    let (mut rng, mut alice, mut bob) = accounts(2);
    let a_id = *alice.identity_key();
    let b_id = *bob.identity_key();
    let sa = alice
        .start_session(&bob.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let sb = bob
        .start_session(&alice.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    // Both send before hearing from the other.
    let from_a: Vec<_> = (0..3)
        .map(|i| alice.encrypt_for(&b_id, &[b'a', i], &mut rng).unwrap())
        .collect();
    let from_b: Vec<_> = (0..3)
        .map(|i| bob.encrypt_for(&a_id, &[b'b', i], &mut rng).unwrap())
        .collect();
    for (i, m) in from_a.iter().enumerate() {
        assert_eq!(
            bob.decrypt_from(&a_id, m, NOW).unwrap().plaintext,
            [b'a', i as u8]
        );
    }
    for (i, m) in from_b.iter().enumerate() {
        assert_eq!(
            alice.decrypt_from(&b_id, m, NOW).unwrap().plaintext,
            [b'b', i as u8]
        );
    }
    let winner = sa.min(sb);
    assert_eq!(alice.active_session(&b_id).unwrap().session_id(), winner);
    assert_eq!(bob.active_session(&a_id).unwrap().session_id(), winner);
    // From now on both use the same session, and it stays active.
    for i in 0..3u8 {
        let m = alice.encrypt_for(&b_id, &[i], &mut rng).unwrap();
        assert_eq!(bob.decrypt_from(&a_id, &m, NOW).unwrap().session_id, winner);
        let r = bob.encrypt_for(&a_id, &[i], &mut rng).unwrap();
        assert_eq!(
            alice.decrypt_from(&b_id, &r, NOW).unwrap().session_id,
            winner
        );
    }
    assert_eq!(alice.active_session(&b_id).unwrap().session_id(), winner);
    assert_eq!(bob.active_session(&a_id).unwrap().session_id(), winner);
}

#[test]
fn a_peer_that_lost_its_sessions_starts_over_and_the_new_session_takes_over() {
    let (mut rng, mut alice, mut bob) = accounts(3);
    let a_id = *alice.identity_key();
    let b_id = *bob.identity_key();
    alice
        .start_session(&bob.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let m = alice.encrypt_for(&b_id, b"1", &mut rng).unwrap();
    let _ = bob.decrypt_from(&a_id, &m, NOW).unwrap();
    let r = bob.encrypt_for(&a_id, b"2", &mut rng).unwrap();
    let _ = alice.decrypt_from(&b_id, &r, NOW).unwrap();
    // Bob loses all sessions (keeps his identity and prekeys) and starts again.
    assert!(bob.forget_peer(&a_id));
    assert_eq!(
        bob.encrypt_for(&a_id, b"x", &mut rng).unwrap_err(),
        PeerError::UnknownPeer
    );
    // Alice's message on the old session cannot be read by Bob any more.
    let stale = alice.encrypt_for(&b_id, b"stale", &mut rng).unwrap();
    assert_eq!(
        bob.decrypt_from(&a_id, &stale, NOW).unwrap_err(),
        PeerError::UnknownPeer
    );
    let new_id = bob
        .start_session(&alice.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let hello = bob.encrypt_for(&a_id, b"back again", &mut rng).unwrap();
    let got = alice.decrypt_from(&b_id, &hello, NOW).unwrap();
    assert_eq!(got.plaintext, b"back again");
    assert!(
        got.events
            .contains(&Event::SessionEstablished { session_id: new_id })
    );
    assert_eq!(alice.active_session(&b_id).unwrap().session_id(), new_id);
    assert_eq!(alice.sessions_with(&b_id).len(), 2);
    let reply = alice.encrypt_for(&b_id, b"welcome back", &mut rng).unwrap();
    assert_eq!(
        bob.decrypt_from(&a_id, &reply, NOW).unwrap().plaintext,
        b"welcome back"
    );
}

#[test]
fn sessions_per_peer_are_bounded() {
    let (mut rng, mut alice, mut bob) = accounts(4);
    let a_id = *alice.identity_key();
    for _ in 0..MAX_SESSIONS_PER_PEER + 2 {
        bob.forget_peer(&a_id);
        bob.start_session(&alice.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let m = bob.encrypt_for(&a_id, b"hi", &mut rng).unwrap();
        let _ = alice.decrypt_from(bob.identity_key(), &m, NOW).unwrap();
    }
    assert_eq!(
        alice.sessions_with(bob.identity_key()).len(),
        MAX_SESSIONS_PER_PEER
    );
}

#[test]
fn peers_per_account_are_bounded_at_and_past_the_limit() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut operator = Account::new(NOW, &mut rng);
    // One bundle per peer device; each device is a fresh account.
    let first = Account::new(NOW, &mut rng);
    operator
        .start_session(&first.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    for _ in 1..MAX_PEERS {
        let customer = Account::new(NOW, &mut rng);
        operator
            .start_session(&customer.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
    }
    assert_eq!(operator.peers().len(), MAX_PEERS);
    let full = operator.to_encrypted(&StorageKey::from_bytes([1; 32]), 0, &mut rng);

    // Past the limit, outbound: refused, nothing added.
    let mut newcomer = Account::new(NOW, &mut rng);
    newcomer
        .generate_one_time_prekeys(1, 1, NOW, &mut rng)
        .unwrap();
    let refused = operator
        .start_session(&newcomer.published_prekeys().take_bundle(), &mut rng)
        .unwrap_err();
    assert_eq!(refused, HandshakeError::TooManyPeers { limit: MAX_PEERS });
    assert_eq!(refused.kind(), hushwire::ErrorKind::LimitExceeded);
    assert_eq!(operator.peers().len(), MAX_PEERS);

    // Past the limit, inbound: a new peer's prekey message is refused, prekeys untouched.
    let mut operator_prekeys = operator.published_prekeys();
    let mut session = newcomer
        .create_outbound_session(&operator_prekeys.take_bundle(), &mut rng)
        .unwrap();
    let hello = session.encrypt(b"hello", &mut rng).unwrap();
    let counts = operator.one_time_prekey_counts();
    assert_eq!(
        operator
            .decrypt_from(newcomer.identity_key(), &hello, NOW)
            .unwrap_err(),
        PeerError::Handshake(HandshakeError::TooManyPeers { limit: MAX_PEERS })
    );
    assert_eq!(operator.one_time_prekey_counts(), counts);
    assert_eq!(operator.peers().len(), MAX_PEERS);

    // At the limit, a peer already held may still start over.
    let known = *first.identity_key();
    operator
        .start_session(&first.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    assert_eq!(operator.sessions_with(&known).len(), 2);

    // Forgetting one makes room for the newcomer.
    assert!(operator.forget_peer(&known));
    let got = operator
        .decrypt_from(newcomer.identity_key(), &hello, NOW)
        .unwrap();
    assert_eq!(got.plaintext, b"hello");
    assert_eq!(operator.peers().len(), MAX_PEERS);

    // A full account round-trips through persistence.
    let restored = Account::from_encrypted(&full, &StorageKey::from_bytes([1; 32]), 0).unwrap();
    assert_eq!(restored.peers().len(), MAX_PEERS);
}

#[test]
fn wrong_sender_and_garbage_are_rejected_without_change() {
    let (mut rng, mut alice, mut bob) = accounts(5);
    let a_id = *alice.identity_key();
    let b_id = *bob.identity_key();
    alice
        .start_session(&bob.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let m = alice.encrypt_for(&b_id, b"1", &mut rng).unwrap();
    // Attributed to the wrong peer by the transport.
    let mallory = Account::new(NOW, &mut rng);
    assert_eq!(
        bob.decrypt_from(mallory.identity_key(), &m, NOW)
            .unwrap_err(),
        PeerError::SenderMismatch
    );
    let _ = bob.decrypt_from(&a_id, &m, NOW).unwrap();
    let r = bob.encrypt_for(&a_id, b"2", &mut rng).unwrap();
    let mut bad = r.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        alice.decrypt_from(&b_id, &bad, NOW).unwrap_err(),
        PeerError::Decrypt(DecryptError::Tampered)
    );
    let mut bad_header = r.clone();
    bad_header[20] ^= 1;
    // Alice has not read a reply yet: the peer may be on a session she lost, so it is a
    // reason to reset; once Bob's reply is read, the same junk is not.
    let unanswered = alice.decrypt_from(&b_id, &bad_header, NOW).unwrap_err();
    assert_eq!(unanswered, PeerError::NoAnsweredSession);
    assert_eq!(
        unanswered.reset_reason(),
        Some(hushwire::ResetReason::NoSession)
    );
    assert_eq!(alice.decrypt_from(&b_id, &r, NOW).unwrap().plaintext, b"2");
    let junk = alice.decrypt_from(&b_id, &bad_header, NOW).unwrap_err();
    assert_eq!(junk, PeerError::NoMatchingSession);
    assert_eq!(junk.reset_reason(), None);
    assert_eq!(
        alice.decrypt_from(&b_id, &r, NOW).unwrap_err(),
        PeerError::Decrypt(DecryptError::Duplicate { counter: 0 })
    );
}

#[test]
fn whole_account_with_sessions_survives_export_and_import() {
    let (mut rng, mut alice, mut bob) = accounts(6);
    let a_id = *alice.identity_key();
    let b_id = *bob.identity_key();
    alice
        .start_session(&bob.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let m = alice.encrypt_for(&b_id, b"1", &mut rng).unwrap();
    let _ = bob.decrypt_from(&a_id, &m, NOW).unwrap();
    let key = StorageKey::from_bytes([9; 32]);
    let blob = bob.to_encrypted(&key, 1, &mut rng);
    let mut bob = Account::from_encrypted(&blob, &key, 1).unwrap();
    let r = bob.encrypt_for(&a_id, b"after reload", &mut rng).unwrap();
    assert_eq!(
        alice.decrypt_from(&b_id, &r, NOW).unwrap().plaintext,
        b"after reload"
    );
    assert_eq!(bob.peers(), vec![a_id]);
}

#[test]
fn maintenance_events_fire_exactly_when_due() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut account = Account::new(NOW, &mut rng);
    account
        .generate_one_time_prekeys(
            hushwire::ONE_TIME_PREKEYS_LOW,
            hushwire::ONE_TIME_PREKEYS_LOW,
            NOW,
            &mut rng,
        )
        .unwrap();
    assert!(account.maintenance_events(NOW).is_empty());
    let due = NOW.plus_secs(hushwire::PREKEY_ROTATION_SECS);
    assert_eq!(
        account.maintenance_events(NOW.plus_secs(hushwire::PREKEY_ROTATION_SECS - 1)),
        vec![]
    );
    assert_eq!(
        account.maintenance_events(due),
        vec![Event::PreKeyRotationDue]
    );
    account.rotate_prekeys(due, &mut rng);
    assert!(account.maintenance_events(due).is_empty());
    // One session consumes one key of each kind: now below the threshold.
    let mut other = Account::new(NOW, &mut rng);
    other
        .start_session(&account.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let m = other
        .encrypt_for(account.identity_key(), b"hi", &mut rng)
        .unwrap();
    let got = account.decrypt_from(other.identity_key(), &m, due).unwrap();
    let low = Event::OneTimePreKeysLow {
        x25519_remaining: hushwire::ONE_TIME_PREKEYS_LOW - 1,
        kem_remaining: hushwire::ONE_TIME_PREKEYS_LOW - 1,
    };
    assert!(got.events.contains(&low));
    assert_eq!(account.maintenance_events(due), vec![low]);
}
