//! Device-level sessions: records per peer, simultaneous initiation, a peer that lost its
//! state, forgetting a peer, and persistence of the whole account.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::persist::Expected;
use hushwire::{
    DecryptError, Device, Event, HandshakeError, MAX_PEERS, MAX_SESSIONS_PER_PEER, PeerError,
    StorageKey, UserId,
};
use rand_core::SeedableRng;

use crate::common::NOW;

fn accounts(seed: u64) -> (ChaCha20Rng, Device, Device) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut alice = Device::new(NOW, &mut rng);
    let mut bob = Device::new(NOW, &mut rng);
    alice
        .account_mut()
        .generate_one_time_prekeys(10, 10, NOW, &mut rng)
        .unwrap();
    bob.account_mut()
        .generate_one_time_prekeys(10, 10, NOW, &mut rng)
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
    let _ = alice
        .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
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
        .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap()
        .session_id;
    let sb = bob
        .start_session(&alice.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap()
        .session_id;
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
    let _ = alice
        .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
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
        .start_session(&alice.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap()
        .session_id;
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
        let _ = bob
            .start_session(&alice.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let m = bob.encrypt_for(&a_id, b"hi", &mut rng).unwrap();
        let _ = alice.decrypt_from(bob.identity_key(), &m, NOW).unwrap();
    }
    assert_eq!(
        alice.sessions_with(bob.identity_key()).len(),
        MAX_SESSIONS_PER_PEER
    );
}

/// A stranger's first message to `operator` from a fresh throwaway identity, on whatever
/// prekeys the operator publishes. Returns the identity and the message.
fn throwaway_hello(
    rng: &mut ChaCha20Rng,
    bundle: &hushwire::PreKeyBundle,
) -> (hushwire::IdentityKey, Vec<u8>) {
    let stranger = Device::new(NOW, rng);
    let mut session = stranger
        .account()
        .create_outbound_session(bundle, rng)
        .unwrap();
    (
        *stranger.identity_key(),
        session.encrypt(b"hi", rng).unwrap(),
    )
}

fn evicted(events: &[Event]) -> Vec<hushwire::IdentityKey> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PeerEvicted { peer } => Some(*peer),
            _ => None,
        })
        .collect()
}

/// MAX_PEERS throwaway identities used to fill the account and lock out every new contact
/// with TooManyPeers. Now the least recently used unverified peer that never answered makes
/// room; a verified peer is never evicted, and only an account full of verified peers
/// refuses a new one.
#[test]
fn a_flood_of_throwaway_identities_does_not_lock_out_new_contacts() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut operator = Device::new(NOW, &mut rng);
    let op = *operator.identity_key();
    // The oldest record: a contact the user verified.
    let verified = Device::new(NOW, &mut rng);
    let _ = operator
        .start_session(
            &verified.account().published_prekeys().take_bundle(),
            &mut rng,
        )
        .unwrap();
    let verified_user = UserId::new(b"verified contact").unwrap();
    operator
        .mark_verified(&verified_user, verified.identity_key(), NOW)
        .unwrap();
    // A contact who answered.
    let mut friend = Device::new(NOW, &mut rng);
    let _ = operator
        .start_session(
            &friend.account().published_prekeys().take_bundle(),
            &mut rng,
        )
        .unwrap();
    let m = operator
        .encrypt_for(friend.identity_key(), b"hello", &mut rng)
        .unwrap();
    let _ = friend.decrypt_from(&op, &m, NOW).unwrap();
    let r = friend.encrypt_for(&op, b"hi!", &mut rng).unwrap();
    let _ = operator
        .decrypt_from(friend.identity_key(), &r, NOW)
        .unwrap();

    // The flood: first messages from throwaway identities, on the operator's last-resort
    // keys (rotated when their replay records fill, as maintenance_events asks).
    let mut bundle = operator.account().published_prekeys().take_bundle();
    let mut strangers = Vec::new();
    for _ in 2..MAX_PEERS {
        if strangers.len() % 4_000 == 3_999 {
            operator.account_mut().rotate_prekeys(NOW, &mut rng);
            bundle = operator.account().published_prekeys().take_bundle();
        }
        let (stranger, hello) = throwaway_hello(&mut rng, &bundle);
        let got = operator.decrypt_from(&stranger, &hello, NOW).unwrap();
        assert!(evicted(&got.events).is_empty());
        strangers.push(stranger);
    }
    assert_eq!(operator.peers().len(), MAX_PEERS);
    let key = StorageKey::from_bytes([1; 32]);
    let full = operator.to_encrypted(&key, 0, &mut rng);

    // More strangers: each is accepted, evicting the least recently used stranger, never the
    // verified contact (older still) nor the friend who answered.
    for oldest in strangers.iter().take(3) {
        let (stranger, hello) = throwaway_hello(&mut rng, &bundle);
        let got = operator.decrypt_from(&stranger, &hello, NOW).unwrap();
        assert_eq!(got.plaintext, b"hi");
        assert_eq!(evicted(&got.events), [*oldest]);
        assert_eq!(operator.peers().len(), MAX_PEERS);
    }
    // A genuine new contact the operator writes to is not locked out either.
    let newcomer = Device::new(NOW, &mut rng);
    let started = operator
        .start_session(
            &newcomer.account().published_prekeys().take_bundle(),
            &mut rng,
        )
        .unwrap();
    assert_eq!(evicted(&started.events), [strangers[3]]);
    assert_eq!(
        operator
            .active_session(newcomer.identity_key())
            .unwrap()
            .session_id(),
        started.session_id
    );
    for kept in [verified.identity_key(), friend.identity_key()] {
        assert_eq!(operator.sessions_with(kept).len(), 1);
    }
    // The friend's conversation goes on.
    let m = operator
        .encrypt_for(friend.identity_key(), b"still here", &mut rng)
        .unwrap();
    assert_eq!(
        friend.decrypt_from(&op, &m, NOW).unwrap().plaintext,
        b"still here"
    );

    // Recency is persisted: a restored full account evicts what the live one would have.
    let mut restored = Device::from_encrypted(&full, &key, 0, &Expected::any()).unwrap();
    assert_eq!(restored.peers().len(), MAX_PEERS);
    let other = Device::new(NOW, &mut rng);
    let started = restored
        .start_session(&other.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    assert_eq!(evicted(&started.events), [strangers[0]]);

    // Full of verified peers: a new peer is refused, in both directions, nothing changed.
    for (i, peer) in operator.peers().iter().enumerate() {
        let user = UserId::new(format!("user {i}").as_bytes()).unwrap();
        operator.mark_verified(&user, peer, NOW).unwrap();
    }
    let mut outsider = Device::new(NOW, &mut rng);
    outsider
        .account_mut()
        .generate_one_time_prekeys(1, 1, NOW, &mut rng)
        .unwrap();
    let refused = operator
        .start_session(
            &outsider.account().published_prekeys().take_bundle(),
            &mut rng,
        )
        .unwrap_err();
    assert_eq!(refused, HandshakeError::TooManyPeers { limit: MAX_PEERS });
    assert_eq!(refused.kind(), hushwire::ErrorKind::LimitExceeded);
    let mut prekeys = operator.account().published_prekeys();
    let mut session = outsider
        .account()
        .create_outbound_session(&prekeys.take_bundle(), &mut rng)
        .unwrap();
    let hello = session.encrypt(b"hello", &mut rng).unwrap();
    let counts = operator.account().one_time_prekey_counts();
    assert_eq!(
        operator
            .decrypt_from(outsider.identity_key(), &hello, NOW)
            .unwrap_err(),
        PeerError::Handshake(HandshakeError::TooManyPeers { limit: MAX_PEERS })
    );
    assert_eq!(operator.account().one_time_prekey_counts(), counts);
    assert_eq!(operator.peers().len(), MAX_PEERS);
    // A peer already held may still start over; forgetting one makes room.
    let _ = operator
        .start_session(
            &friend.account().published_prekeys().take_bundle(),
            &mut rng,
        )
        .unwrap();
    assert_eq!(operator.sessions_with(friend.identity_key()).len(), 2);
    assert!(operator.forget_peer(friend.identity_key()));
    let got = operator
        .decrypt_from(outsider.identity_key(), &hello, NOW)
        .unwrap();
    assert_eq!(got.plaintext, b"hello");
    assert!(evicted(&got.events).is_empty());
}

#[test]
fn wrong_sender_and_garbage_are_rejected_without_change() {
    let (mut rng, mut alice, mut bob) = accounts(5);
    let a_id = *alice.identity_key();
    let b_id = *bob.identity_key();
    let _ = alice
        .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let m = alice.encrypt_for(&b_id, b"1", &mut rng).unwrap();
    // Attributed to the wrong peer by the transport.
    let mallory = Device::new(NOW, &mut rng);
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
    let _ = alice
        .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let m = alice.encrypt_for(&b_id, b"1", &mut rng).unwrap();
    let _ = bob.decrypt_from(&a_id, &m, NOW).unwrap();
    let key = StorageKey::from_bytes([9; 32]);
    let blob = bob.to_encrypted(&key, 1, &mut rng);
    let mut bob = Device::from_encrypted(&blob, &key, 1, &Expected::any()).unwrap();
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
    let mut account = Device::new(NOW, &mut rng);
    account
        .account_mut()
        .generate_one_time_prekeys(
            hushwire::ONE_TIME_PREKEYS_LOW,
            hushwire::ONE_TIME_PREKEYS_LOW,
            NOW,
            &mut rng,
        )
        .unwrap();
    assert!(account.account().maintenance_events(NOW).is_empty());
    let due = NOW.plus_secs(hushwire::PREKEY_ROTATION_SECS);
    assert_eq!(
        account
            .account()
            .maintenance_events(NOW.plus_secs(hushwire::PREKEY_ROTATION_SECS - 1)),
        vec![]
    );
    assert_eq!(
        account.account().maintenance_events(due),
        vec![Event::PreKeyRotationDue]
    );
    account.account_mut().rotate_prekeys(due, &mut rng);
    assert!(account.account().maintenance_events(due).is_empty());
    // One session consumes one key of each kind: now below the threshold.
    let mut other = Device::new(NOW, &mut rng);
    let _ = other
        .start_session(
            &account.account().published_prekeys().take_bundle(),
            &mut rng,
        )
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
    assert_eq!(account.account().maintenance_events(due), vec![low]);
}
