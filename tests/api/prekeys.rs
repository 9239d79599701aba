//! Prekey lifecycle: grace windows across several rotations, replay records at their limit,
//! id classification, and identity-key encodings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::{
    Account, DecodeError, HandshakeError, IdentityKey, KeyError, PREKEY_GRACE_SECS,
    PREKEY_ROTATION_SECS,
    wire::{MAX_PLAINTEXT_LEN, RATCHET_MESSAGE_OVERHEAD, RatchetMessage},
};
use rand_core::SeedableRng;

use crate::common::NOW;

#[test]
fn retired_signed_prekeys_keep_their_full_grace_window_across_weekly_rotations() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    // Alice fetches a bundle, then Bob rotates weekly three times before she writes.
    let bundle = bob.published_prekeys().take_bundle();
    let mut t = NOW;
    for _ in 0..3 {
        t = t.plus_secs(PREKEY_ROTATION_SECS);
        bob.rotate_prekeys(t, &mut rng);
    }
    let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = s.encrypt(b"late", &mut rng).unwrap();
    // Retired at the first rotation; still inside the grace window at the third.
    let retired_at = NOW.plus_secs(PREKEY_ROTATION_SECS);
    let mut bob_later = bob.clone();
    assert_eq!(
        bob_later
            .create_inbound_session(&first, retired_at.plus_secs(PREKEY_GRACE_SECS))
            .unwrap_err(),
        HandshakeError::UnknownSignedPreKey(bundle.signed_prekey.id)
    );
    assert_eq!(
        bob.create_inbound_session(&first, retired_at.plus_secs(PREKEY_GRACE_SECS - 1))
            .unwrap()
            .plaintext,
        b"late"
    );
}

#[test]
fn replay_records_full_refuses_instead_of_forgetting() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let bundle = bob.published_prekeys().take_bundle();
    assert!(bundle.one_time_prekey.is_none());
    let mut firsts = Vec::new();
    for _ in 0..hushwire::MAX_REPLAY_RECORDS {
        let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
        let first = s.encrypt(b"x", &mut rng).unwrap();
        let _ = bob.create_inbound_session(&first, NOW).unwrap();
        if firsts.is_empty() {
            firsts.push(first);
        }
    }
    let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let one_more = s.encrypt(b"x", &mut rng).unwrap();
    assert_eq!(
        bob.create_inbound_session(&one_more, NOW).unwrap_err(),
        HandshakeError::ReplayRecordsFull
    );
    // The oldest record is still there: its replay is still caught.
    assert_eq!(
        bob.create_inbound_session(&firsts[0], NOW).unwrap_err(),
        HandshakeError::ReplayedInitialMessage
    );
    assert!(
        bob.maintenance_events(NOW)
            .contains(&hushwire::Event::PreKeyRotationDue)
    );
}

#[test]
fn prekey_id_zero_is_unknown_not_reused() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    bob.generate_one_time_prekeys(1, 0, NOW, &mut rng).unwrap();
    let mut bundle = bob.published_prekeys().take_bundle();
    // Point the one-time prekey id at 0 (never issued); the server could send anything.
    bundle.one_time_prekey.as_mut().unwrap().id = 0;
    let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = s.encrypt(b"x", &mut rng).unwrap();
    assert_eq!(
        bob.create_inbound_session(&first, NOW).unwrap_err(),
        HandshakeError::UnknownOneTimePreKey(0)
    );
}

#[test]
fn identity_keys_must_be_canonical_and_torsion_free() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let account = Account::new(NOW, &mut rng);
    let good = account.identity_key().to_bytes();
    assert!(IdentityKey::from_bytes(&good).is_ok());
    // The same point with the sign bit of x flipped is another point; flip a y bit to make a
    // non-canonical y >= p: y = p + 3 encodes like y = 3 but differs in bytes.
    let mut non_canonical = [0xffu8; 32];
    non_canonical[0] = 0xed + 3; // p = 2^255 - 19: low byte 0xed
    non_canonical[31] = 0x7f;
    assert_eq!(
        IdentityKey::from_bytes(&non_canonical),
        Err(KeyError::InvalidIdentityKey)
    );
    // A valid key plus a point of order 2 (0, -1): decodes, but has a torsion component.
    let order_two_added = {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let p = CompressedEdwardsY(good).decompress().unwrap();
        let mut t = [0xffu8; 32];
        t[0] = 0xec;
        t[31] = 0x7f;
        let t = CompressedEdwardsY(t).decompress().unwrap();
        (p + t).compress().to_bytes()
    };
    assert_eq!(
        IdentityKey::from_bytes(&order_two_added),
        Err(KeyError::InvalidIdentityKey)
    );
}

#[test]
fn a_body_longer_than_the_plaintext_limit_is_too_large() {
    let mut msg = vec![1u8, 1];
    msg.resize(RATCHET_MESSAGE_OVERHEAD + MAX_PLAINTEXT_LEN, 0);
    assert!(RatchetMessage::decode(&msg).is_ok());
    msg.push(0);
    assert!(matches!(
        RatchetMessage::decode(&msg),
        Err(DecodeError::TooLarge { .. })
    ));
    // A message from a newer version is reported as such, whatever its size.
    let mut newer = vec![2u8, 1];
    newer.resize(hushwire::MAX_MESSAGE_LEN + 10, 0);
    assert_eq!(
        RatchetMessage::decode(&newer),
        Err(DecodeError::UnknownVersion(2))
    );
}
