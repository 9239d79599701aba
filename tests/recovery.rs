//! State restored from an older copy: detected, reported as its own error, never mistaken for
//! a forgery.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::{Account, DecryptError, ErrorKind, Session, StorageKey, Timestamp};
use rand_core::SeedableRng;

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

fn pair(seed: u64) -> (ChaCha20Rng, Session, Session) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let bundle = bob.published_prekeys().take_bundle();
    let mut a = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = a.encrypt(b"hi", &mut rng).unwrap();
    let b = bob.create_inbound_session(&first, NOW).unwrap().session;
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
    let mut restored = Session::from_encrypted(&backup, &key, 0).unwrap();
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
