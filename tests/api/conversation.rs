//! Whole conversations between two accounts: setup, ratchet turns, out-of-order delivery,
//! limits, and transactional failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::{
    Account, DecryptError, Event, HandshakeError, RatchetConfig, Role, Session,
    wire::{MessageKind, message_kind},
};
use rand_core::SeedableRng;

use crate::common::NOW;

struct Pair {
    rng: ChaCha20Rng,
    alice: Session,
    bob: Session,
}

fn pair(seed: u64) -> Pair {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice_account = Account::new(NOW, &mut rng);
    let mut bob_account = Account::new(NOW, &mut rng);
    bob_account
        .generate_one_time_prekeys(5, 5, NOW, &mut rng)
        .unwrap();
    let bundle = bob_account.published_prekeys().take_bundle();
    let mut alice = alice_account
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    let first = alice.encrypt(b"hello", &mut rng).unwrap();
    let inbound = bob_account.create_inbound_session(&first, NOW).unwrap();
    assert_eq!(inbound.plaintext, b"hello");
    Pair {
        rng,
        alice,
        bob: inbound.session,
    }
}

#[test]
fn both_sides_agree_on_session_id_and_roles() {
    let p = pair(1);
    assert_eq!(p.alice.session_id(), p.bob.session_id());
    assert_eq!(p.alice.role(), Role::Initiator);
    assert_eq!(p.bob.role(), Role::Responder);
    assert_eq!(p.alice.remote_identity(), p.bob.local_identity());
}

#[test]
fn initiator_sends_prekey_messages_until_it_hears_back() {
    let mut p = pair(2);
    let m = p.alice.encrypt(b"second", &mut p.rng).unwrap();
    assert_eq!(message_kind(&m).unwrap(), MessageKind::PreKey);
    assert_eq!(p.bob.decrypt(&m).unwrap().plaintext, b"second");
    let reply = p.bob.encrypt(b"reply", &mut p.rng).unwrap();
    assert_eq!(message_kind(&reply).unwrap(), MessageKind::Ratchet);
    assert_eq!(p.alice.decrypt(&reply).unwrap().plaintext, b"reply");
    let m = p.alice.encrypt(b"third", &mut p.rng).unwrap();
    assert_eq!(message_kind(&m).unwrap(), MessageKind::Ratchet);
    assert_eq!(p.bob.decrypt(&m).unwrap().plaintext, b"third");
}

#[test]
fn many_ratchet_turns_and_bursts() {
    let mut p = pair(3);
    for turn in 0..20u32 {
        for i in 0..(turn % 4 + 1) {
            let text = format!("a{turn}-{i}");
            let m = p.alice.encrypt(text.as_bytes(), &mut p.rng).unwrap();
            assert_eq!(p.bob.decrypt(&m).unwrap().plaintext, text.as_bytes());
        }
        for i in 0..(turn % 3 + 1) {
            let text = format!("b{turn}-{i}");
            let m = p.bob.encrypt(text.as_bytes(), &mut p.rng).unwrap();
            assert_eq!(p.alice.decrypt(&m).unwrap().plaintext, text.as_bytes());
        }
    }
}

#[test]
fn out_of_order_across_chains_decrypts_each_exactly_once() {
    let mut p = pair(4);
    let a1: Vec<_> = (0..5)
        .map(|i| p.alice.encrypt(&[i], &mut p.rng).unwrap())
        .collect();
    // Bob receives only the last one, replies; Alice ratchets; then old ones arrive.
    assert_eq!(p.bob.decrypt(&a1[4]).unwrap().plaintext, [4]);
    let r = p.bob.encrypt(b"r", &mut p.rng).unwrap();
    let _ = p.alice.decrypt(&r).unwrap();
    let a2 = p.alice.encrypt(b"new chain", &mut p.rng).unwrap();
    assert_eq!(p.bob.decrypt(&a2).unwrap().plaintext, b"new chain");
    for i in [2usize, 0, 3, 1] {
        assert_eq!(p.bob.decrypt(&a1[i]).unwrap().plaintext, [i as u8]);
    }
    for m in a1.iter().chain([&a2]) {
        assert!(matches!(
            p.bob.decrypt(m),
            Err(DecryptError::Duplicate { .. })
        ));
    }
}

#[test]
fn replay_is_rejected_and_state_unchanged() {
    let mut p = pair(5);
    let r = p.bob.encrypt(b"x", &mut p.rng).unwrap();
    let _ = p.alice.decrypt(&r).unwrap();
    let before = p.alice.clone();
    assert_eq!(
        p.alice.decrypt(&r).unwrap_err(),
        DecryptError::Duplicate { counter: 0 }
    );
    assert_eq!(p.alice, before);
}

#[test]
fn every_single_byte_flip_is_rejected_without_state_change() {
    let mut p = pair(6);
    let r = p.bob.encrypt(b"establish", &mut p.rng).unwrap();
    let _ = p.alice.decrypt(&r).unwrap();
    for prekey_phase in [false, true] {
        let m = if prekey_phase {
            // A fresh pair whose initiator still sends prekey messages.
            let mut q = pair(60);
            let m = q.alice.encrypt(b"prekey phase", &mut q.rng).unwrap();
            for i in 0..m.len() {
                let mut bad = m.clone();
                bad[i] ^= 0x01;
                let before = q.bob.clone();
                assert!(q.bob.decrypt(&bad).is_err(), "flip at byte {i} accepted");
                assert_eq!(q.bob, before);
            }
            assert_eq!(q.bob.decrypt(&m).unwrap().plaintext, b"prekey phase");
            continue;
        } else {
            p.alice
                .encrypt(b"a message of some length", &mut p.rng)
                .unwrap()
        };
        for i in 0..m.len() {
            for bit in 0..8 {
                let mut bad = m.clone();
                bad[i] ^= 1 << bit;
                let before = p.bob.clone();
                assert!(p.bob.decrypt(&bad).is_err(), "flip at byte {i} accepted");
                assert_eq!(p.bob, before);
            }
        }
        assert_eq!(
            p.bob.decrypt(&m).unwrap().plaintext,
            b"a message of some length"
        );
    }
}

#[test]
fn jump_limit_is_enforced_at_and_past_its_edge() {
    let mut p = pair(7);
    let config = RatchetConfig::new(10, 100, 5, 5).unwrap();
    p.bob.set_config(config);
    let msgs: Vec<_> = (0..13)
        .map(|_| p.alice.encrypt(b"m", &mut p.rng).unwrap())
        .collect();
    // Bob is at counter 1 (message 0 was the prekey message). Message 12 needs a gap of 11.
    let before = p.bob.clone();
    assert_eq!(
        p.bob.decrypt(&msgs[11]).unwrap_err(),
        DecryptError::TooFarAhead { gap: 11, max: 10 }
    );
    assert_eq!(p.bob, before);
    // Message 11 (counter 11) is exactly 10 ahead: accepted.
    assert!(p.bob.decrypt(&msgs[10]).is_ok());
}

#[test]
fn skipped_key_store_is_bounded_and_evicts_oldest_first() {
    let mut p = pair(8);
    p.bob.set_config(RatchetConfig::new(1000, 3, 5, 5).unwrap());
    let msgs: Vec<_> = (0..6)
        .map(|_| p.alice.encrypt(b"m", &mut p.rng).unwrap())
        .collect();
    let out = p.bob.decrypt(&msgs[5]).unwrap();
    assert_eq!(p.bob.stored_skipped_keys(), 3);
    assert!(out.events.contains(&Event::SkippedKeysEvicted { count: 2 }));
    // msgs[0] is counter 1: evicted.
    assert_eq!(
        p.bob.decrypt(&msgs[0]).unwrap_err(),
        DecryptError::KeyExpired { counter: 1 }
    );
    for m in &msgs[2..5] {
        let _ = p.bob.decrypt(m).unwrap();
    }
    assert_eq!(p.bob.stored_skipped_keys(), 0);
}

#[test]
fn one_time_prekey_reuse_is_a_typed_error_and_account_unchanged() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    bob.generate_one_time_prekeys(2, 2, NOW, &mut rng).unwrap();
    let bundle = bob.published_prekeys().take_bundle();
    let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = s.encrypt(b"1", &mut rng).unwrap();
    let inbound = bob.create_inbound_session(&first, NOW).unwrap();
    assert!(
        inbound
            .events
            .iter()
            .any(|e| matches!(e, Event::OneTimePreKeyConsumed { .. }))
    );
    let counts = bob.one_time_prekey_counts();
    let id = bundle.one_time_prekey.as_ref().unwrap().id;
    assert_eq!(
        bob.create_inbound_session(&first, NOW).unwrap_err(),
        HandshakeError::OneTimePreKeyReused(id)
    );
    assert_eq!(bob.one_time_prekey_counts(), counts);
}

#[test]
fn last_resort_replay_is_rejected() {
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    // No one-time keys at all: signed prekey + last-resort ML-KEM key.
    let bundle = bob.published_prekeys().take_bundle();
    assert!(bundle.one_time_prekey.is_none());
    let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = s.encrypt(b"1", &mut rng).unwrap();
    let inbound = bob.create_inbound_session(&first, NOW).unwrap();
    assert!(
        inbound
            .events
            .iter()
            .any(|e| matches!(e, Event::LastResortKemPreKeyUsed { .. }))
    );
    assert_eq!(
        bob.create_inbound_session(&first, NOW).unwrap_err(),
        HandshakeError::ReplayedInitialMessage
    );
    // A different initiator on the same last-resort keys is still welcome.
    let mut s2 = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first2 = s2.encrypt(b"2", &mut rng).unwrap();
    assert_eq!(
        bob.create_inbound_session(&first2, NOW).unwrap().plaintext,
        b"2"
    );
}
