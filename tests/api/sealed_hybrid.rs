//! Hybrid (X25519 + ML-KEM-768) sealed envelopes end to end (SPEC.md §13.8): publishing and
//! rotating the envelope KEM key, negotiation per recipient, single and multi-recipient round
//! trips, every rejection with its own error, the refusal of classical envelopes, and
//! persistence of the keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hushwire::persist::{Expected, STATE_FORMAT_VERSION, peek_blob};
use hushwire::sealed::{
    self, ENVELOPE_KEY_LEN, ENVELOPE_OVERHEAD, EnvelopeKeyPublic, EnvelopeKind,
    HYBRID_ENVELOPE_OVERHEAD, HYBRID_RECIPIENT_HEADER_LEN, MultiRecipientMessage,
    RECIPIENT_HEADER_LEN, Recipient, envelope_len, hybrid_envelope_len, hybrid_multi_recipient_len,
    multi_recipient_len,
};
use hushwire::{
    Account, ContentType, DecodeError, Device, ErrorKind, Metadata, OpenError, SealError,
    StorageKey, Timestamp,
};

use super::sealed::Deployment;
use crate::common::{NOW, rng};

const DAY: u64 = 86_400;

fn metadata() -> Metadata {
    Metadata::new(ContentType::SESSION, NOW)
}

/// Alice (a plain account), Bob and Carol with hybrid envelopes enabled.
struct World {
    rng: chacha20::ChaCha20Rng,
    dep: Deployment,
    alice: Account,
    bob: Account,
    carol: Account,
}

fn world(seed: u64) -> World {
    let mut rng = rng(seed);
    let dep = Deployment::new(&mut rng);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let mut carol = Account::new(NOW, &mut rng);
    assert!(bob.enable_hybrid_envelopes(NOW, &mut rng));
    assert!(carol.enable_hybrid_envelopes(NOW, &mut rng));
    World {
        rng,
        dep,
        alice,
        bob,
        carol,
    }
}

/// What a sender fetches from the server: the published key, through its encoding.
fn fetched(account: &Account) -> EnvelopeKeyPublic {
    let published = account.published_prekeys().envelope_key.unwrap();
    let bytes = published.encode();
    assert_eq!(bytes.len(), ENVELOPE_KEY_LEN);
    EnvelopeKeyPublic::decode(&bytes).unwrap()
}

#[test]
fn single_hybrid_round_trip_costs_1092_bytes_more() {
    let mut w = world(1);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let key = fetched(&w.bob);
    let to = Recipient::negotiate(w.bob.identity_key(), Some(&key)).unwrap();
    assert!(matches!(to, Recipient::Hybrid(_)));
    let message = b"a session message".to_vec();
    let envelope = sealed::seal_to(
        w.alice.identity_key_pair(),
        &cert,
        &to,
        &metadata(),
        &message,
        &mut w.rng,
    )
    .unwrap();
    assert_eq!(envelope[1], 0x33);
    assert_eq!(
        envelope.len(),
        hybrid_envelope_len(&metadata(), &cert, message.len())
    );
    assert_eq!(
        envelope.len() - envelope_len(&metadata(), &cert, message.len()),
        HYBRID_ENVELOPE_OVERHEAD - ENVELOPE_OVERHEAD
    );
    assert_eq!(HYBRID_ENVELOPE_OVERHEAD - ENVELOPE_OVERHEAD, 1_092);
    let opened =
        sealed::open_with(&w.bob.recipient_keys(NOW), &envelope, &w.dep.trust, NOW).unwrap();
    assert!(opened.is_hybrid());
    assert_eq!(opened.kind(), EnvelopeKind::Single);
    assert_eq!(opened.message(), message);
    assert_eq!(opened.sender_identity(), w.alice.identity_key());
    assert_eq!(
        sealed::envelope_recipient(&envelope).unwrap(),
        *w.bob.identity_key()
    );

    // Without an envelope key the negotiation is classical, and so is the envelope.
    let classical = Recipient::negotiate(w.alice.identity_key(), None).unwrap();
    assert!(matches!(classical, Recipient::Classical(_)));
}

#[test]
fn multi_hybrid_round_trip_and_per_recipient_cost() {
    let mut w = world(2);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let (bob_key, carol_key) = (fetched(&w.bob), fetched(&w.carol));
    let message = b"to both".to_vec();
    let sealed_multi = sealed::seal_multi_hybrid(
        w.alice.identity_key_pair(),
        &cert,
        &[&bob_key, &carol_key],
        &metadata(),
        &message,
        &mut w.rng,
    )
    .unwrap();
    assert_eq!(sealed_multi[1], 0x34);
    assert_eq!(
        sealed_multi.len(),
        hybrid_multi_recipient_len(&metadata(), &cert, message.len(), 2)
    );
    assert_eq!(HYBRID_RECIPIENT_HEADER_LEN - RECIPIENT_HEADER_LEN, 1_092);
    let parsed = MultiRecipientMessage::decode(&sealed_multi).unwrap();
    assert!(parsed.is_hybrid());
    for (account, (identity, envelope)) in [&w.bob, &w.carol].iter().zip(parsed.split()) {
        assert_eq!(&identity, account.identity_key());
        assert_eq!(envelope[1], 0x35);
        assert_eq!(
            envelope.len(),
            hybrid_envelope_len(&metadata(), &cert, message.len())
        );
        let opened =
            sealed::open_with(&account.recipient_keys(NOW), &envelope, &w.dep.trust, NOW).unwrap();
        assert!(opened.is_hybrid());
        assert_eq!(opened.kind(), EnvelopeKind::MultiRecipient);
        assert_eq!(opened.message(), message);
    }
}

/// Mixed recipients get two messages: a hybrid one and a classical one, so no classical
/// header ever wraps the hybrid recipients' content key.
#[test]
fn mixed_recipients_get_separate_messages() {
    let mut w = world(3);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let dave = Account::new(NOW, &mut w.rng);
    let bob_key = fetched(&w.bob);
    let recipients = [
        Recipient::negotiate(w.bob.identity_key(), Some(&bob_key)).unwrap(),
        Recipient::negotiate(dave.identity_key(), None).unwrap(),
    ];
    let out = sealed::seal_multi_to(
        w.alice.identity_key_pair(),
        &cert,
        &recipients,
        &metadata(),
        b"hi",
        &mut w.rng,
    )
    .unwrap();
    let hybrid = out.hybrid.unwrap();
    let classical = out.classical.unwrap();
    assert_eq!(
        classical.len(),
        multi_recipient_len(&metadata(), &cert, 2, 1)
    );
    let hybrid = MultiRecipientMessage::decode(&hybrid).unwrap();
    assert_eq!(hybrid.recipients(), &[*w.bob.identity_key()]);
    let classical = MultiRecipientMessage::decode(&classical).unwrap();
    assert!(!classical.is_hybrid());
    assert_eq!(classical.recipients(), &[*dave.identity_key()]);
    let env = hybrid.envelope(0).unwrap();
    let opened = sealed::open_with(&w.bob.recipient_keys(NOW), &env, &w.dep.trust, NOW).unwrap();
    assert_eq!(opened.message(), b"hi");
    let env = classical.envelope(0).unwrap();
    let opened = sealed::open(dave.identity_key_pair(), &env, &w.dep.trust, NOW).unwrap();
    assert!(!opened.is_hybrid());
    // A duplicate across the two groups is refused before anything is drawn.
    let twice = [
        recipients[0],
        Recipient::negotiate(w.bob.identity_key(), None).unwrap(),
    ];
    assert_eq!(
        sealed::seal_multi_to(
            w.alice.identity_key_pair(),
            &cert,
            &twice,
            &metadata(),
            b"hi",
            &mut w.rng
        ),
        Err(SealError::DuplicateRecipient { index: 1 })
    );
}

#[test]
fn wrong_or_missing_envelope_keys_are_refused() {
    let mut w = world(4);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let bob_key = fetched(&w.bob);
    let envelope = sealed::seal_hybrid(
        w.alice.identity_key_pair(),
        &cert,
        &bob_key,
        &metadata(),
        b"x",
        &mut w.rng,
    )
    .unwrap();
    // Another recipient.
    assert_eq!(
        sealed::open_with(&w.carol.recipient_keys(NOW), &envelope, &w.dep.trust, NOW).err(),
        Some(OpenError::NotForUs)
    );
    // Bob without his envelope keys (the classical `open`, or an old build).
    let err = sealed::open(w.bob.identity_key_pair(), &envelope, &w.dep.trust, NOW).unwrap_err();
    assert_eq!(err, OpenError::UnknownEnvelopeKey { key_id: 1 });
    assert_eq!(err.kind(), ErrorKind::UnknownSession);
    // A key id Bob never issued.
    let mut other_id = envelope.clone();
    other_id[66..70].copy_from_slice(&9u32.to_be_bytes());
    assert_eq!(
        sealed::open_with(&w.bob.recipient_keys(NOW), &other_id, &w.dep.trust, NOW).err(),
        Some(OpenError::UnknownEnvelopeKey { key_id: 9 })
    );
    // Carol's key under Bob's identity: refused when negotiating.
    let carol_key = fetched(&w.carol);
    assert_eq!(
        Recipient::negotiate(w.bob.identity_key(), Some(&carol_key)).err(),
        Some(SealError::EnvelopeKeyMismatch)
    );
}

#[test]
fn tampered_hybrid_envelopes_are_refused() {
    let mut w = world(5);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let bob_key = fetched(&w.bob);
    let single = sealed::seal_hybrid(
        w.alice.identity_key_pair(),
        &cert,
        &bob_key,
        &metadata(),
        b"x",
        &mut w.rng,
    )
    .unwrap();
    let multi = sealed::seal_multi_hybrid(
        w.alice.identity_key_pair(),
        &cert,
        &[&bob_key],
        &metadata(),
        b"x",
        &mut w.rng,
    )
    .unwrap();
    let split = MultiRecipientMessage::decode(&multi)
        .unwrap()
        .envelope(0)
        .unwrap();
    let keys = w.bob.recipient_keys(NOW);
    for envelope in [&single, &split] {
        // The ephemeral key, the KEM ciphertext (first and last byte), the sender part and
        // the content: every one is bound.
        for at in [40, 70, 70 + 1087, 1160, envelope.len() - 1] {
            let mut t = envelope.clone();
            t[at] ^= 0x01;
            let err = sealed::open_with(&keys, &t, &w.dep.trust, NOW).unwrap_err();
            assert!(
                matches!(
                    err,
                    OpenError::Tampered
                        | OpenError::SenderNotAuthenticated
                        | OpenError::NonContributory
                ),
                "byte {at}: {err:?}"
            );
            assert_eq!(err.kind(), ErrorKind::Tampered);
        }
        // Truncated and oversize.
        assert!(matches!(
            sealed::open_with(&keys, &envelope[..1000], &w.dep.trust, NOW),
            Err(OpenError::Malformed(DecodeError::Truncated { .. }))
        ));
    }
}

/// A recipient that refuses classical envelopes refuses both classical types, whoever sent
/// them, before any cryptography; hybrid ones still open.
#[test]
fn a_downgrade_is_refused_where_classical_envelopes_are_refused() {
    let mut w = world(6);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let classical = sealed::seal(
        w.alice.identity_key_pair(),
        &cert,
        w.bob.identity_key(),
        &metadata(),
        b"x",
        &mut w.rng,
    )
    .unwrap();
    let multi = sealed::seal_multi(
        w.alice.identity_key_pair(),
        &cert,
        &[*w.bob.identity_key()],
        &metadata(),
        b"x",
        &mut w.rng,
    )
    .unwrap();
    let split = MultiRecipientMessage::decode(&multi)
        .unwrap()
        .envelope(0)
        .unwrap();
    // Accepted by default (senders without hybrid support keep working).
    assert!(sealed::open_with(&w.bob.recipient_keys(NOW), &classical, &w.dep.trust, NOW).is_ok());
    assert!(w.bob.set_refuse_classical_envelopes(true));
    let keys = w.bob.recipient_keys(NOW);
    assert!(keys.refuses_classical());
    for envelope in [&classical, &split] {
        let err = sealed::open_with(&keys, envelope, &w.dep.trust, NOW).unwrap_err();
        assert_eq!(err, OpenError::ClassicalRefused);
        assert_eq!(err.kind(), ErrorKind::Untrusted);
    }
    let hybrid = sealed::seal_hybrid(
        w.alice.identity_key_pair(),
        &cert,
        &fetched(&w.bob),
        &metadata(),
        b"x",
        &mut w.rng,
    )
    .unwrap();
    assert!(sealed::open_with(&keys, &hybrid, &w.dep.trust, NOW).is_ok());
    // An account without envelope keys cannot refuse classical envelopes.
    assert!(!w.alice.set_refuse_classical_envelopes(true));
}

/// The envelope key rotates with the signed prekey; envelopes sealed to the previous key
/// open for the grace window, then name an unknown key.
#[test]
fn late_envelopes_open_within_the_grace_window() {
    let mut w = world(7);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let old_key = fetched(&w.bob);
    let late = sealed::seal_hybrid(
        w.alice.identity_key_pair(),
        &cert,
        &old_key,
        &metadata(),
        b"late",
        &mut w.rng,
    )
    .unwrap();
    assert!(!w.bob.prekeys_due_for_rotation(NOW));
    let later = NOW.plus_secs(7 * DAY);
    assert!(w.bob.prekeys_due_for_rotation(later));
    w.bob.rotate_prekeys(later, &mut w.rng);
    let new_key = fetched(&w.bob);
    assert_eq!(new_key.key_id(), 2);
    assert_ne!(new_key.encapsulation_key(), old_key.encapsulation_key());
    let grace_end = later.plus_secs(hushwire::PREKEY_GRACE_SECS);
    let before_end = Timestamp::from_unix_secs(grace_end.as_unix_secs() - 1);
    let opened =
        sealed::open_with(&w.bob.recipient_keys(before_end), &late, &w.dep.trust, NOW).unwrap();
    assert_eq!(opened.message(), b"late");
    assert_eq!(
        sealed::open_with(&w.bob.recipient_keys(grace_end), &late, &w.dep.trust, NOW).err(),
        Some(OpenError::UnknownEnvelopeKey { key_id: 1 })
    );
}

/// A published key that does not verify is refused before anything is drawn; so is one
/// whose encapsulation key fails the FIPS 203 check. Decoding is strict.
#[test]
fn published_keys_are_checked() {
    let mut w = world(8);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let bytes = fetched(&w.bob).encode();
    let mut forged = bytes.clone();
    forged[100] ^= 1;
    let forged = EnvelopeKeyPublic::decode(&forged).unwrap();
    assert!(!forged.verify());
    let before = w.rng.get_word_pos();
    assert_eq!(
        sealed::seal_hybrid(
            w.alice.identity_key_pair(),
            &cert,
            &forged,
            &metadata(),
            b"x",
            &mut w.rng
        ),
        Err(SealError::BadEnvelopeKey { index: 0 })
    );
    assert_eq!(
        Recipient::negotiate(w.bob.identity_key(), Some(&forged)).err(),
        Some(SealError::BadEnvelopeKey { index: 0 })
    );
    let good = fetched(&w.bob);
    assert_eq!(
        sealed::seal_multi_hybrid(
            w.alice.identity_key_pair(),
            &cert,
            &[&good, &forged],
            &metadata(),
            b"x",
            &mut w.rng
        ),
        Err(SealError::DuplicateRecipient { index: 1 })
    );
    let carol = fetched(&w.carol);
    assert_eq!(
        sealed::seal_multi_hybrid(
            w.alice.identity_key_pair(),
            &cert,
            &[&carol, &forged],
            &metadata(),
            b"x",
            &mut w.rng
        ),
        Err(SealError::BadEnvelopeKey { index: 1 })
    );
    assert_eq!(
        w.rng.get_word_pos(),
        before,
        "nothing drawn for refused inputs"
    );

    assert_eq!(
        EnvelopeKeyPublic::decode(&bytes[..bytes.len() - 1]).err(),
        Some(DecodeError::Truncated { needed: 1 })
    );
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        EnvelopeKeyPublic::decode(&long),
        Err(DecodeError::TooLarge { .. })
    ));
    let mut zero_id = bytes.clone();
    zero_id[34..38].copy_from_slice(&[0; 4]);
    assert_eq!(
        EnvelopeKeyPublic::decode(&zero_id).err(),
        Some(DecodeError::InvalidField { field: "key_id" })
    );
    let mut bad_identity = bytes.clone();
    bad_identity[2..34].copy_from_slice(&[0; 32]);
    assert_eq!(
        EnvelopeKeyPublic::decode(&bad_identity).err(),
        Some(DecodeError::InvalidField {
            field: "identity_key"
        })
    );
    let mut wrong_type = bytes;
    wrong_type[1] = 0x10;
    assert_eq!(
        EnvelopeKeyPublic::decode(&wrong_type).err(),
        Some(DecodeError::WrongType {
            expected: 0x36,
            found: 0x10
        })
    );
}

/// The envelope keys and the refusal survive a restore (format version 3), of the account
/// and of the device; hybrid envelopes sealed before open after.
#[test]
fn envelope_keys_persist() {
    let mut w = world(9);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let envelope = sealed::seal_hybrid(
        w.alice.identity_key_pair(),
        &cert,
        &fetched(&w.bob),
        &metadata(),
        b"kept",
        &mut w.rng,
    )
    .unwrap();
    w.bob.rotate_prekeys(NOW.plus_secs(DAY), &mut w.rng);
    w.bob.set_refuse_classical_envelopes(true);
    let key = StorageKey::from_bytes([3; 32]);
    let blob = w.bob.to_encrypted(&key, 1, &mut w.rng);
    assert_eq!(peek_blob(&blob).unwrap().version, STATE_FORMAT_VERSION);
    let back = Account::from_encrypted(&blob, &key, 0, &Expected::any()).unwrap();
    assert_eq!(back.published_prekeys(), w.bob.published_prekeys());
    let keys = back.recipient_keys(NOW);
    assert!(keys.refuses_classical());
    assert_eq!(
        sealed::open_with(&keys, &envelope, &w.dep.trust, NOW)
            .unwrap()
            .message(),
        b"kept"
    );

    let device = Device::from_encrypted(&blob, &key, 0, &Expected::any()).unwrap();
    assert_eq!(
        device
            .open_sealed(&envelope, &w.dep.trust, NOW)
            .unwrap()
            .message(),
        b"kept"
    );
    let records = device.account_record_to_encrypted(&key, 1, &mut w.rng);
    let book = device.identity_book_to_encrypted(&key, 1, &mut w.rng);
    let cold = Device::from_records(&records, 0, &book, 0, &key, &Expected::any()).unwrap();
    assert_eq!(
        cold.account().published_prekeys(),
        w.bob.published_prekeys()
    );
}

/// The device shortcuts: `seal_for` negotiates, `open_sealed` opens both kinds.
#[test]
fn device_shortcuts_negotiate_and_open_both_kinds() {
    let mut rng = rng(10);
    let dep = Deployment::new(&mut rng);
    let alice = Device::new(NOW, &mut rng);
    let mut bob = Device::new(NOW, &mut rng);
    assert!(bob.account_mut().enable_hybrid_envelopes(NOW, &mut rng));
    let cert = dep.certify(alice.identity_key(), 1);
    let key = bob.account().envelope_key().unwrap();
    let hybrid = alice
        .seal_for(
            &cert,
            bob.identity_key(),
            Some(&key),
            &metadata(),
            b"pq",
            &mut rng,
        )
        .unwrap();
    let classical = alice
        .seal_for(
            &cert,
            bob.identity_key(),
            None,
            &metadata(),
            b"cl",
            &mut rng,
        )
        .unwrap();
    let opened = bob.open_sealed(&hybrid, &dep.trust, NOW).unwrap();
    assert!(opened.is_hybrid());
    assert_eq!(opened.message(), b"pq");
    let opened = bob.open_sealed(&classical, &dep.trust, NOW).unwrap();
    assert!(!opened.is_hybrid());
    bob.account_mut().set_refuse_classical_envelopes(true);
    assert_eq!(
        bob.open_sealed(&classical, &dep.trust, NOW).err(),
        Some(OpenError::ClassicalRefused)
    );
}

/// `Debug` shows ids, never key material: the published key's encapsulation key, the
/// envelope key's seed.
#[test]
fn debug_shows_no_key_material() {
    let w = world(11);
    let key = fetched(&w.bob);
    let shown = format!("{key:?}");
    assert_eq!(
        shown,
        format!(
            "EnvelopeKeyPublic {{ identity_key: {:?}, key_id: 1, .. }}",
            w.bob.identity_key()
        )
    );
    let ek_hex: String = key.encapsulation_key()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let keys = format!("{:?}", w.bob.recipient_keys(NOW));
    assert!(keys.contains("EnvelopeKeyPair { id: 1, .. }"), "{keys}");
    assert!(!keys.contains(&ek_hex) && !shown.contains(&ek_hex));
}

proptest::proptest! {
    #![proptest_config(crate::common::proptest_config(24))]

    /// Any message round-trips through a hybrid envelope, whose length is the classical
    /// envelope's plus 1,092 bytes whatever the content: the padding bucket alone sets it.
    #[test]
    fn any_message_round_trips_and_costs_1092_bytes(
        message in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2_000),
        seed in 0u64..1_000,
    ) {
        let mut w = world(1_000 + seed);
        let cert = w.dep.certify(w.alice.identity_key(), 1);
        let key = fetched(&w.bob);
        let envelope = sealed::seal_hybrid(
            w.alice.identity_key_pair(), &cert, &key, &metadata(), &message, &mut w.rng,
        ).unwrap();
        proptest::prop_assert_eq!(
            envelope.len(),
            envelope_len(&metadata(), &cert, message.len()) + 1_092
        );
        let opened =
            sealed::open_with(&w.bob.recipient_keys(NOW), &envelope, &w.dep.trust, NOW).unwrap();
        proptest::prop_assert_eq!(opened.message(), &message[..]);
    }
}

/// The size limits of the hybrid types, at and one past their edge, and the classical limits
/// still apply to the classical types (checked right after the type byte, before any field).
#[test]
fn hybrid_size_limits_at_and_past_the_edge() {
    use hushwire::sealed::{
        MAX_ENVELOPE_LEN, MAX_HYBRID_ENVELOPE_LEN, MAX_HYBRID_MULTI_RECIPIENT_LEN,
        MAX_MULTI_RECIPIENT_LEN,
    };
    let w = world(12);
    let keys = w.bob.recipient_keys(NOW);
    let crafted = |kind: u8, len: usize| {
        let mut bytes = vec![0u8; len];
        bytes[0] = 0x01;
        bytes[1] = kind;
        bytes
    };
    for kind in [0x33u8, 0x35] {
        let past = crafted(kind, MAX_HYBRID_ENVELOPE_LEN + 1);
        assert_eq!(
            sealed::open_with(&keys, &past, &w.dep.trust, NOW).err(),
            Some(OpenError::Malformed(DecodeError::TooLarge {
                len: MAX_HYBRID_ENVELOPE_LEN + 1,
                max: MAX_HYBRID_ENVELOPE_LEN
            }))
        );
        // At the limit the length passes; the (zero) recipient is what fails.
        let at = crafted(kind, MAX_HYBRID_ENVELOPE_LEN);
        let err = sealed::open_with(&keys, &at, &w.dep.trust, NOW).unwrap_err();
        assert!(
            !matches!(err, OpenError::Malformed(DecodeError::TooLarge { .. })),
            "{err:?}"
        );
    }
    for kind in [0x30u8, 0x32] {
        let past = crafted(kind, MAX_ENVELOPE_LEN + 1);
        assert_eq!(
            sealed::open_with(&keys, &past, &w.dep.trust, NOW).err(),
            Some(OpenError::Malformed(DecodeError::TooLarge {
                len: MAX_ENVELOPE_LEN + 1,
                max: MAX_ENVELOPE_LEN
            }))
        );
    }
    let past = crafted(0x34, MAX_HYBRID_MULTI_RECIPIENT_LEN + 1);
    assert_eq!(
        MultiRecipientMessage::decode(&past).err(),
        Some(DecodeError::TooLarge {
            len: MAX_HYBRID_MULTI_RECIPIENT_LEN + 1,
            max: MAX_HYBRID_MULTI_RECIPIENT_LEN
        })
    );
    let at = crafted(0x34, MAX_HYBRID_MULTI_RECIPIENT_LEN);
    assert_eq!(
        MultiRecipientMessage::decode(&at).err(),
        Some(DecodeError::InvalidField {
            field: "recipient_count"
        })
    );
    let past = crafted(0x31, MAX_MULTI_RECIPIENT_LEN + 1);
    assert_eq!(
        MultiRecipientMessage::decode(&past).err(),
        Some(DecodeError::TooLarge {
            len: MAX_MULTI_RECIPIENT_LEN + 1,
            max: MAX_MULTI_RECIPIENT_LEN
        })
    );
    assert_eq!(MAX_HYBRID_ENVELOPE_LEN, 271_558);
    assert_eq!(MAX_HYBRID_MULTI_RECIPIENT_LEN, 2_670_644);
    assert_eq!(ENVELOPE_KEY_LEN, 1_286);
}

/// The largest message a hybrid envelope carries opens; the envelope is exactly as long as
/// the limit allows for it.
#[test]
fn the_largest_hybrid_envelope_opens() {
    let mut w = world(13);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let message = vec![7u8; sealed::MAX_SEALED_MESSAGE_LEN];
    let envelope = sealed::seal_hybrid(
        w.alice.identity_key_pair(),
        &cert,
        &fetched(&w.bob),
        &metadata(),
        &message,
        &mut w.rng,
    )
    .unwrap();
    assert!(envelope.len() <= sealed::MAX_HYBRID_ENVELOPE_LEN);
    let opened =
        sealed::open_with(&w.bob.recipient_keys(NOW), &envelope, &w.dep.trust, NOW).unwrap();
    assert_eq!(opened.message().len(), message.len());
    let too_long = vec![7u8; sealed::MAX_SEALED_MESSAGE_LEN + 1];
    assert_eq!(
        sealed::seal_hybrid(
            w.alice.identity_key_pair(),
            &cert,
            &fetched(&w.bob),
            &metadata(),
            &too_long,
            &mut w.rng,
        ),
        Err(SealError::MessageTooLarge {
            len: sealed::MAX_SEALED_MESSAGE_LEN + 1,
            max: sealed::MAX_SEALED_MESSAGE_LEN
        })
    );
}

/// `MAX_RECIPIENTS` bounds hybrid multi-recipient sealing too (the check is shared with the
/// classical form, whose test seals exactly `MAX_RECIPIENTS`); nothing is drawn when refused.
#[test]
fn too_many_hybrid_recipients_are_refused() {
    let mut w = world(14);
    let cert = w.dep.certify(w.alice.identity_key(), 1);
    let key = fetched(&w.bob);
    let keys: Vec<&EnvelopeKeyPublic> = vec![&key; sealed::MAX_RECIPIENTS + 1];
    let before = w.rng.get_word_pos();
    assert_eq!(
        sealed::seal_multi_hybrid(
            w.alice.identity_key_pair(),
            &cert,
            &keys,
            &metadata(),
            b"x",
            &mut w.rng
        ),
        Err(SealError::TooManyRecipients {
            count: sealed::MAX_RECIPIENTS + 1,
            max: sealed::MAX_RECIPIENTS
        })
    );
    assert_eq!(
        sealed::seal_multi_hybrid(
            w.alice.identity_key_pair(),
            &cert,
            &[],
            &metadata(),
            b"x",
            &mut w.rng
        ),
        Err(SealError::NoRecipients)
    );
    assert_eq!(w.rng.get_word_pos(), before);
}

/// The frozen account blobs of format versions 1 and 2 restore with hybrid envelopes off; the
/// device can turn them on, write format 3, and restore that with its envelope key.
#[test]
fn frozen_old_blobs_restore_and_can_turn_hybrid_envelopes_on() {
    let key = StorageKey::from_bytes([0x5a; 32]);
    for version in [1, 2] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/state_v{version}/account.bin"));
        let blob = std::fs::read(path).unwrap();
        assert_eq!(peek_blob(&blob).unwrap().version, version);
        let mut device = Device::from_encrypted(&blob, &key, 3, &Expected::any()).unwrap();
        assert!(!device.account().hybrid_envelopes_enabled());
        assert_eq!(device.account().published_prekeys().envelope_key, None);
        let mut rng = rng(15);
        assert!(device.account_mut().enable_hybrid_envelopes(NOW, &mut rng));
        let again = device.to_encrypted(&key, 4, &mut rng);
        assert_eq!(peek_blob(&again).unwrap().version, STATE_FORMAT_VERSION);
        let back = Device::from_encrypted(&again, &key, 4, &Expected::any()).unwrap();
        assert_eq!(
            back.account().envelope_key(),
            device.account().envelope_key()
        );
        assert_eq!(back.peers(), device.peers());
    }
}
