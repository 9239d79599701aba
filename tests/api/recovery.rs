//! State restored from an older copy: detected, reported as its own error, never mistaken for
//! a forgery.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::persist::Expected;
use hushwire::{DecryptError, Device, ErrorKind, Session, StorageKey, Timestamp};
use rand_core::SeedableRng;

use crate::common::NOW;

fn pair(seed: u64) -> (ChaCha20Rng, Session, Session) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = Device::new(NOW, &mut rng);
    let mut bob = Device::new(NOW, &mut rng);
    let bundle = bob.account().published_prekeys().take_bundle();
    let mut a = alice
        .account()
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    let first = a.encrypt(b"hi", &mut rng).unwrap();
    let b = bob
        .account_mut()
        .create_inbound_session(&first, NOW)
        .unwrap()
        .session;
    (rng, a, b)
}

fn turns(rng: &mut ChaCha20Rng, a: &mut Session, b: &mut Session, n: usize) {
    for i in 0..n {
        let m = b.encrypt(&[i as u8], rng).unwrap();
        let _ = a.decrypt(&m).unwrap();
        let m = a.encrypt(&[i as u8], rng).unwrap();
        let _ = b.decrypt(&m).unwrap();
    }
}

#[test]
fn restored_receiver_reports_state_behind_not_forgery() {
    let (mut rng, mut a, mut b) = pair(1);
    turns(&mut rng, &mut a, &mut b, 2);
    let key = StorageKey::from_bytes([3; 32]);
    let backup = b.to_encrypted(&key, 1, &mut rng);
    // 50 more messages (25 round trips) happen after the backup.
    turns(&mut rng, &mut a, &mut b, 25);
    let mut restored = Session::from_encrypted(&backup, &key, 0, &Expected::any()).unwrap();
    let m = a.encrypt(b"after the restore", &mut rng).unwrap();
    let before = restored.clone();
    let err = restored.decrypt(&m).unwrap_err();
    assert!(
        matches!(err, DecryptError::StateBehind { their_epoch, our_epoch } if u64::from(their_epoch) > our_epoch),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::StateOutOfSync);
    assert_eq!(restored, before);
    // The live session still reads it.
    assert_eq!(b.decrypt(&m).unwrap().plaintext, b"after the restore");
    // A forged message is still just undecryptable, never "state behind".
    let mut forged = m.clone();
    forged[80] ^= 1;
    assert_eq!(
        restored.decrypt(&forged).unwrap_err(),
        DecryptError::Undecryptable
    );
}

#[test]
fn peer_that_was_restored_and_sent_again_is_reported_as_forked() {
    let (mut rng, mut a, mut b) = pair(2);
    turns(&mut rng, &mut a, &mut b, 2);
    // Bob's next send will start a new chain (he last received).
    let stale = b.clone();
    let m = b.encrypt(b"original", &mut rng).unwrap();
    let _ = a.decrypt(&m).unwrap();
    // Bob is restored to `stale` and sends again: same chain position, new ratchet key.
    let mut restored = stale;
    let forked = restored.encrypt(b"after restore", &mut rng).unwrap();
    let before = a.clone();
    let err = a.decrypt(&forked).unwrap_err();
    assert_eq!(err, DecryptError::PeerStateForked);
    assert_eq!(err.kind(), ErrorKind::StateOutOfSync);
    assert_eq!(a, before);
    // A plain replay of the original is still a duplicate, not a fork.
    assert_eq!(
        a.decrypt(&m).unwrap_err(),
        DecryptError::Duplicate { counter: 0 }
    );
}

#[test]
fn message_from_a_forgotten_chain_is_recognised_as_this_sessions() {
    let (mut rng, mut a, mut b) = pair(3);
    let old = a.encrypt(b"very late", &mut rng).unwrap();
    // Many ratchet steps later, past the remembered chains.
    turns(&mut rng, &mut a, &mut b, 15);
    assert_eq!(b.decrypt(&old).unwrap_err(), DecryptError::ChainForgotten);
}

mod reset {
    use super::*;
    use hushwire::{
        Event, PeerError, RESET_MIN_INTERVAL_SECS, ResetError, ResetReason, ResetRequest,
    };

    fn accounts(seed: u64) -> (ChaCha20Rng, Device, Device) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut alice = Device::new(NOW, &mut rng);
        let mut bob = Device::new(NOW, &mut rng);
        alice
            .account_mut()
            .generate_one_time_prekeys(20, 20, NOW, &mut rng)
            .unwrap();
        bob.account_mut()
            .generate_one_time_prekeys(20, 20, NOW, &mut rng)
            .unwrap();
        (rng, alice, bob)
    }

    fn chat(rng: &mut ChaCha20Rng, alice: &mut Device, bob: &mut Device, n: usize) {
        let a = *alice.identity_key();
        let b = *bob.identity_key();
        for i in 0..n {
            let m = alice.encrypt_for(&b, &[i as u8], rng).unwrap();
            assert_eq!(bob.decrypt_from(&a, &m, NOW).unwrap().plaintext, [i as u8]);
            let m = bob.encrypt_for(&a, &[i as u8], rng).unwrap();
            assert_eq!(
                alice.decrypt_from(&b, &m, NOW).unwrap().plaintext,
                [i as u8]
            );
        }
    }

    /// Runs the reset from `bob` (who cannot read) to `alice`; returns the round trips used.
    fn recover(
        rng: &mut ChaCha20Rng,
        alice: &mut Device,
        bob: &mut Device,
        failure: &PeerError,
        now: Timestamp,
    ) -> usize {
        let a = *alice.identity_key();
        let b = *bob.identity_key();
        let reason = failure
            .reset_reason()
            .expect("this failure leads into a reset");
        let request = bob.reset_request(&a, reason, NOW, now, rng).unwrap();
        // Round trip 1: the request goes to Alice, her fresh session's first message comes back.
        let bundle = bob.account().published_prekeys().take_bundle();
        let answered = alice.answer_reset(&request, &bundle, now, rng).unwrap();
        assert!(matches!(answered.events[0], Event::SessionReset { .. }));
        let m = alice.encrypt_for(&b, b"re-secured", rng).unwrap();
        let got = bob.decrypt_from(&a, &m, now).unwrap();
        assert_eq!(got.plaintext, b"re-secured");
        assert!(got
            .events
            .iter()
            .any(|e| matches!(e, Event::SessionReset { session_id, .. } if *session_id == answered.session_id)));
        chat(rng, alice, bob, 2);
        1
    }

    #[test]
    fn lost_state_recovers_in_one_round_trip() {
        let (mut rng, mut alice, mut bob) = accounts(10);
        let _ = alice
            .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        chat(&mut rng, &mut alice, &mut bob, 3);
        assert!(bob.forget_peer(alice.identity_key()));
        let m = alice
            .encrypt_for(bob.identity_key(), b"lost", &mut rng)
            .unwrap();
        let err = bob.decrypt_from(alice.identity_key(), &m, NOW).unwrap_err();
        assert_eq!(err.reset_reason(), Some(ResetReason::NoSession));
        assert_eq!(recover(&mut rng, &mut alice, &mut bob, &err, NOW), 1);
    }

    /// Junk that looks like a ratchet message, attributed to a peer by the transport (which
    /// anyone who can inject traffic can do), must not lead into a reset: before, each junk
    /// message past the rate limit made the victim ask for a reset, the peer answered with a
    /// fresh session (one of the victim's one-time prekeys each), and after
    /// MAX_SESSIONS_PER_PEER of them the real session was dropped with mail in flight.
    #[test]
    fn ratchet_junk_attributed_to_a_peer_never_leads_into_a_reset() {
        use rand_core::Rng;
        let (mut rng, mut alice, mut bob) = accounts(14);
        let a = *alice.identity_key();
        let b = *bob.identity_key();
        let _ = alice
            .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        chat(&mut rng, &mut alice, &mut bob, 2);
        let in_flight = alice.encrypt_for(&b, b"in flight", &mut rng).unwrap();
        let sessions = bob.sessions_with(&a);
        let prekeys = bob.account().one_time_prekey_counts();
        let mut now = NOW;
        for _ in 0..2 * hushwire::MAX_SESSIONS_PER_PEER {
            now = now.plus_secs(RESET_MIN_INTERVAL_SECS + 1);
            // Version 1, type ratchet message, then random header, tag and body.
            let mut junk = vec![1u8, 1];
            let mut body = [0u8; 120];
            rng.fill_bytes(&mut body);
            junk.extend_from_slice(&body);
            let err = bob.decrypt_from(&a, &junk, now).unwrap_err();
            assert_eq!(err, PeerError::NoMatchingSession);
            assert_eq!(err.reset_reason(), None);
            // What an app does with a failure: reset only if told to.
            if let Some(reason) = err.reset_reason() {
                let request = bob.reset_request(&a, reason, NOW, now, &mut rng).unwrap();
                let bundle = bob.account().published_prekeys().take_bundle();
                let _ = alice
                    .answer_reset(&request, &bundle, now, &mut rng)
                    .unwrap();
                let m = alice.encrypt_for(&b, b"re-secured", &mut rng).unwrap();
                let _ = bob.decrypt_from(&a, &m, now).unwrap();
            }
        }
        assert_eq!(bob.sessions_with(&a), sessions);
        assert_eq!(bob.account().one_time_prekey_counts(), prekeys);
        assert_eq!(
            bob.decrypt_from(&a, &in_flight, now).unwrap().plaintext,
            b"in flight"
        );
        // A peer whose record we lost still gets a reset: its messages name an unknown peer.
        assert!(bob.forget_peer(&a));
        let m = alice.encrypt_for(&b, b"lost", &mut rng).unwrap();
        let err = bob.decrypt_from(&a, &m, now).unwrap_err();
        assert_eq!(err, PeerError::UnknownPeer);
        assert_eq!(err.reset_reason(), Some(ResetReason::NoSession));
    }

    /// Both devices started a session at once and then both lost it (each crashed back to
    /// before its own start): each now holds only the session the other started, and each
    /// replies on a session the other no longer has. Neither peer has answered on a held
    /// session, so the failure is `NoAnsweredSession`, which leads into a reset.
    #[test]
    fn sessions_lost_on_both_sides_still_recover() {
        let (mut rng, mut alice, mut bob) = accounts(15);
        let a = *alice.identity_key();
        let b = *bob.identity_key();
        let _ = alice
            .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let from_alice = alice.encrypt_for(&b, b"a", &mut rng).unwrap();
        let _ = bob
            .start_session(&alice.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let from_bob = bob.encrypt_for(&a, b"b", &mut rng).unwrap();
        assert!(alice.forget_peer(&b));
        assert!(bob.forget_peer(&a));
        assert_eq!(
            alice.decrypt_from(&b, &from_bob, NOW).unwrap().plaintext,
            b"b"
        );
        assert_eq!(
            bob.decrypt_from(&a, &from_alice, NOW).unwrap().plaintext,
            b"a"
        );
        let reply = alice.encrypt_for(&b, b"reply", &mut rng).unwrap();
        let err = bob.decrypt_from(&a, &reply, NOW).unwrap_err();
        assert_eq!(err, PeerError::NoAnsweredSession);
        assert_eq!(err.reset_reason(), Some(ResetReason::NoSession));
        assert_eq!(recover(&mut rng, &mut alice, &mut bob, &err, NOW), 1);
    }

    #[test]
    fn account_restored_from_a_blob_50_messages_old_recovers() {
        let (mut rng, mut alice, mut bob) = accounts(11);
        let _ = alice
            .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        chat(&mut rng, &mut alice, &mut bob, 2);
        let key = StorageKey::from_bytes([8; 32]);
        let backup = bob.to_encrypted(&key, 1, &mut rng);
        chat(&mut rng, &mut alice, &mut bob, 25);
        let mut bob = Device::from_encrypted(&backup, &key, 1, &Expected::any()).unwrap();
        let m = alice
            .encrypt_for(bob.identity_key(), b"after restore", &mut rng)
            .unwrap();
        let err = bob.decrypt_from(alice.identity_key(), &m, NOW).unwrap_err();
        assert!(
            matches!(err, PeerError::Decrypt(DecryptError::StateBehind { .. })),
            "{err:?}"
        );
        assert_eq!(err.reset_reason(), Some(ResetReason::StateBehind));
        assert_eq!(recover(&mut rng, &mut alice, &mut bob, &err, NOW), 1);
    }

    #[test]
    fn long_offline_recovers_up_to_the_limit_and_resets_past_it() {
        let (mut rng, mut alice, mut bob) = accounts(12);
        let _ = alice
            .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        chat(&mut rng, &mut alice, &mut bob, 1);
        let a = *alice.identity_key();
        let b = *bob.identity_key();
        let limit = hushwire::DEFAULT_MAX_JUMP as usize;
        // Bob is offline while Alice sends `limit` messages; the last is exactly at the limit.
        let mut last = Vec::new();
        for _ in 0..=limit {
            last = alice.encrypt_for(&b, b"x", &mut rng).unwrap();
        }
        assert_eq!(bob.decrypt_from(&a, &last, NOW).unwrap().plaintext, b"x");
        // One more than the limit ahead: a typed error that leads into the reset protocol.
        for _ in 0..=limit + 1 {
            last = alice.encrypt_for(&b, b"y", &mut rng).unwrap();
        }
        let err = bob.decrypt_from(&a, &last, NOW).unwrap_err();
        assert!(
            matches!(err, PeerError::Decrypt(DecryptError::TooFarAhead { .. })),
            "{err:?}"
        );
        assert_eq!(err.reset_reason(), Some(ResetReason::TooFarBehind));
        assert_eq!(recover(&mut rng, &mut alice, &mut bob, &err, NOW), 1);
    }

    #[test]
    fn reset_requests_are_rate_limited_authenticated_and_not_replayable() {
        let (mut rng, mut alice, mut bob) = accounts(13);
        let a = *alice.identity_key();
        let request = bob
            .reset_request(&a, ResetReason::NoSession, NOW, NOW, &mut rng)
            .unwrap();
        assert_eq!(
            bob.reset_request(&a, ResetReason::NoSession, NOW, NOW.plus_secs(10), &mut rng)
                .unwrap_err(),
            ResetError::RateLimited {
                retry_after_secs: RESET_MIN_INTERVAL_SECS - 10
            }
        );
        let bundle = bob.account().published_prekeys().take_bundle();
        let mut forged = request.clone();
        forged[70] ^= 1; // inside the timestamp
        assert_eq!(
            alice
                .answer_reset(&forged, &bundle, NOW, &mut rng)
                .unwrap_err(),
            ResetError::BadSignature
        );
        let carol = Device::new(NOW, &mut rng);
        let carol_bundle = carol.account().published_prekeys().take_bundle();
        assert_eq!(
            alice
                .answer_reset(&request, &carol_bundle, NOW, &mut rng)
                .unwrap_err(),
            ResetError::BundleMismatch
        );
        let mut carol = carol;
        assert_eq!(
            carol
                .answer_reset(&request, &bundle, NOW, &mut rng)
                .unwrap_err(),
            ResetError::NotForUs
        );
        assert!(alice.sessions_with(bob.identity_key()).is_empty());
        let _ = alice
            .answer_reset(&request, &bundle, NOW, &mut rng)
            .unwrap();
        assert_eq!(
            alice
                .answer_reset(&request, &bundle, NOW.plus_secs(3600), &mut rng)
                .unwrap_err(),
            ResetError::Stale
        );
        // A fresh request inside the interval is rate-limited on the answering side too.
        let later = NOW.plus_secs(RESET_MIN_INTERVAL_SECS);
        let second = bob
            .reset_request(&a, ResetReason::NoSession, NOW, later, &mut rng)
            .unwrap();
        assert_eq!(
            alice
                .answer_reset(&second, &bundle, NOW.plus_secs(1), &mut rng)
                .unwrap_err(),
            ResetError::RateLimited {
                retry_after_secs: RESET_MIN_INTERVAL_SECS - 1
            }
        );
        assert_eq!(alice.sessions_with(bob.identity_key()).len(), 1);
        // Too old.
        assert_eq!(
            alice
                .answer_reset(
                    &second,
                    &bundle,
                    later.plus_secs(hushwire::RESET_MAX_AGE_SECS + 1),
                    &mut rng
                )
                .unwrap_err(),
            ResetError::Stale
        );
        // Dated too far in the future by the answerer's clock.
        let mut dave = Device::new(NOW, &mut rng);
        let future = dave
            .reset_request(
                &a,
                ResetReason::NoSession,
                NOW,
                NOW.plus_secs(hushwire::RESET_MAX_FUTURE_SKEW_SECS + 1),
                &mut rng,
            )
            .unwrap();
        let dave_bundle = dave.account().published_prekeys().take_bundle();
        assert_eq!(
            alice
                .answer_reset(&future, &dave_bundle, NOW, &mut rng)
                .unwrap_err(),
            ResetError::Stale
        );
        // Forgetting the peer erases its reset bookkeeping too.
        assert!(dave.forget_peer(&a));
        assert!(!dave.forget_peer(&a));
        let decoded = ResetRequest::from_bytes(&second).unwrap();
        assert_eq!(decoded.requester(), bob.identity_key());
        assert_eq!(decoded.to_bytes(), second);
        assert_eq!(second.len(), hushwire::RESET_REQUEST_LEN);
    }
}
