//! Downgrade attempts on version-2 sessions (SPEC.md §5.9.5, §5.9.7): a message of the other
//! version, a version-2 prekey message relabelled as version 1 (and the reverse), a KEM part
//! stripped. Each is a typed error and leaves the session or the account unchanged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::wire::KEM_PART_LEN;
use hushwire::{Account, DecodeError, DecryptError, HandshakeError, Session, SessionVersion};
use rand_core::SeedableRng;

use crate::common::NOW;

struct World {
    rng: ChaCha20Rng,
    bob: Account,
    /// Alice's version-2 session with Bob, and Bob's.
    a2: Session,
    b2: Session,
    /// Alice's first message of it (type 0x05), and a version-1 session of the same pair.
    first: Vec<u8>,
    a1: Session,
    b1: Session,
}

fn world(seed: u64) -> World {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    bob.generate_one_time_prekeys(4, 4, NOW, &mut rng).unwrap();
    let mut a2 = alice
        .create_outbound_session_with_version(
            &bob.published_prekeys().take_bundle(),
            SessionVersion::V2,
            &mut rng,
        )
        .unwrap();
    let first = a2.encrypt(b"v2", &mut rng).unwrap();
    let b2 = bob.create_inbound_session(&first, NOW).unwrap().session;
    let mut a1 = alice
        .create_outbound_session_with_version(
            &bob.published_prekeys().take_bundle(),
            SessionVersion::V1,
            &mut rng,
        )
        .unwrap();
    let first1 = a1.encrypt(b"v1", &mut rng).unwrap();
    let b1 = bob.create_inbound_session(&first1, NOW).unwrap().session;
    World {
        rng,
        bob,
        a2,
        b2,
        first,
        a1,
        b1,
    }
}

#[track_caller]
fn rejects(session: &mut Session, bytes: &[u8], expected: DecryptError) {
    let before = session.clone();
    assert_eq!(session.decrypt(bytes).map(|d| d.plaintext), Err(expected));
    assert_eq!(*session, before, "a rejected message changed the session");
}

/// A version-2 session never reads a version-1 message, and a version-1 session never reads
/// a version-2 one: `SessionVersionMismatch`, nothing changed.
#[test]
fn a_message_of_the_other_version_is_rejected() {
    let mut w = world(1);
    let v1_reply = w.b1.encrypt(b"classic", &mut w.rng).unwrap();
    assert_eq!(v1_reply[1], 0x01);
    rejects(
        &mut w.a2,
        &v1_reply,
        DecryptError::SessionVersionMismatch {
            session: 2,
            message: 1,
        },
    );
    let v2_reply = w.b2.encrypt(b"pq", &mut w.rng).unwrap();
    rejects(
        &mut w.a1,
        &v2_reply,
        DecryptError::SessionVersionMismatch {
            session: 1,
            message: 2,
        },
    );
    // The genuine messages still decrypt afterwards.
    assert_eq!(w.a2.decrypt(&v2_reply).unwrap().plaintext, b"pq");
    assert_eq!(w.a1.decrypt(&v1_reply).unwrap().plaintext, b"classic");
}

/// The version-2 prekey message relabelled: 0x05 → 0x02 alone does not decode (the embedded
/// message is 0x04); with the embedded type relabelled too it decodes, but the responder
/// opens it as version 1 and it fails (`FirstMessage(Undecryptable)`); the account keeps its
/// keys either way, and the genuine message is accepted afterwards.
#[test]
fn a_relabelled_prekey_message_starts_no_session() {
    let mut w = world(2);
    let mut bob = w.bob.clone();
    let counts = bob.one_time_prekey_counts();
    // A fresh first message, not yet accepted.
    let alice = Account::new(NOW, &mut w.rng);
    let mut a = alice
        .create_outbound_session_with_version(
            &bob.published_prekeys().take_bundle(),
            SessionVersion::V2,
            &mut w.rng,
        )
        .unwrap();
    let genuine = a.encrypt(b"hello", &mut w.rng).unwrap();
    let offset = genuine.len() - (83 + KEM_PART_LEN + 5 + 16);
    assert_eq!(genuine[offset + 1], 0x04);

    let mut outer = genuine.clone();
    outer[1] = 0x02;
    assert_eq!(
        bob.create_inbound_session(&outer, NOW).map(|s| s.plaintext),
        Err(HandshakeError::Malformed(DecodeError::WrongType {
            expected: 0x01,
            found: 0x04
        }))
    );
    let mut both = outer.clone();
    both[offset + 1] = 0x01;
    assert_eq!(
        bob.create_inbound_session(&both, NOW).map(|s| s.plaintext),
        Err(HandshakeError::FirstMessage(DecryptError::Undecryptable))
    );
    let mut inner = genuine.clone();
    inner[offset + 1] = 0x01;
    assert_eq!(
        bob.create_inbound_session(&inner, NOW).map(|s| s.plaintext),
        Err(HandshakeError::Malformed(DecodeError::WrongType {
            expected: 0x04,
            found: 0x01
        }))
    );
    assert_eq!(bob.one_time_prekey_counts(), counts);
    assert_eq!(
        bob.create_inbound_session(&genuine, NOW).unwrap().plaintext,
        b"hello"
    );
}

/// On an established version-2 responder session, a repeated prekey message relabelled as
/// version 1 fails the prekey digest, which covers the type byte (SPEC.md §7.4): `Tampered`.
#[test]
fn a_relabelled_repeat_of_the_prekey_message_fails_the_digest() {
    let mut w = world(3);
    let second = w.a2.encrypt(b"again", &mut w.rng).unwrap();
    assert_eq!(second[1], 0x05);
    let mut relabelled = second.clone();
    relabelled[1] = 0x02;
    // Its embedded message is still 0x04: not a version-1 prekey message at all.
    rejects(
        &mut w.b2,
        &relabelled,
        DecryptError::Malformed(DecodeError::WrongType {
            expected: 0x01,
            found: 0x04,
        }),
    );
    let offset = second.len() - (83 + KEM_PART_LEN + 5 + 16);
    relabelled[offset + 1] = 0x01;
    rejects(&mut w.b2, &relabelled, DecryptError::Tampered);
    assert_eq!(w.b2.decrypt(&second).unwrap().plaintext, b"again");
    let _ = &w.first;
}

/// The responder's answer with its KEM part cut out, or with the KEM part of another
/// message: rejected, nothing changed; the genuine answer decrypts after.
#[test]
fn a_stripped_or_swapped_kem_part_is_rejected() {
    let mut w = world(4);
    let reply = w.b2.encrypt(b"answer", &mut w.rng).unwrap();
    let other = w.b2.encrypt(b"other", &mut w.rng).unwrap();
    let mut stripped = reply[..83].to_vec();
    stripped.extend_from_slice(&reply[83 + KEM_PART_LEN..]);
    let before = w.a2.clone();
    assert!(w.a2.decrypt(&stripped).is_err());
    assert_eq!(w.a2, before);
    let mut swapped = reply.clone();
    swapped[83..83 + KEM_PART_LEN].copy_from_slice(&other[83..83 + KEM_PART_LEN]);
    rejects(&mut w.a2, &swapped, DecryptError::Tampered);
    assert_eq!(w.a2.decrypt(&reply).unwrap().plaintext, b"answer");
}
