//! Unit tests of sealing and opening that need the crate internals (crafted contents).

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use x25519_dalek::PublicKey as XPublicKey;

use super::envelope::ZERO_NONCE;
use super::padding::pad;
use super::*;
use crate::aead::seal_into;
use crate::certificate::{
    IssuerKeyPair, SenderCertificateInfo, ServerCertificate, TrustStore, Validity,
};
use crate::keys::dh_checked;
use crate::wire::{TYPE_RECIPIENT_ENVELOPE, TYPE_SEALED_ENVELOPE, WIRE_VERSION};

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

struct Fixture {
    rng: ChaCha20Rng,
    trust: TrustStore,
    server: IssuerKeyPair,
    server_cert: ServerCertificate,
    alice: IdentityKeyPair,
    alice_cert: SenderCertificate,
    bob: IdentityKeyPair,
    carol: IdentityKeyPair,
}

fn certify(
    f_server: &IssuerKeyPair,
    server_cert: &ServerCertificate,
    key: &IdentityKey,
) -> SenderCertificate {
    SenderCertificate::issue(
        f_server,
        server_cert,
        SenderCertificateInfo {
            serial: 1,
            user_id: b"user".to_vec(),
            device_id: 1,
            identity_key: *key,
            validity: Validity::new(NOW, NOW.plus_secs(86_400)).unwrap(),
        },
    )
    .unwrap()
}

fn fixture(seed: u64) -> Fixture {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let root = IssuerKeyPair::generate(&mut rng);
    let server = IssuerKeyPair::generate(&mut rng);
    let server_cert = ServerCertificate::issue(
        &root,
        1,
        1,
        &server.public(),
        Validity::new(NOW, NOW.plus_secs(365 * 86_400)).unwrap(),
    );
    let mut trust = TrustStore::new();
    trust.add_root(1, root.public()).unwrap();
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = IdentityKeyPair::generate(&mut rng);
    let carol = IdentityKeyPair::generate(&mut rng);
    let alice_cert = certify(&server, &server_cert, alice.public());
    Fixture {
        rng,
        trust,
        server,
        server_cert,
        alice,
        alice_cert,
        bob,
        carol,
    }
}

fn metadata() -> Metadata {
    Metadata::new(ContentType::SESSION, NOW)
}

#[test]
fn single_round_trip_and_length() {
    let mut f = fixture(1);
    let meta = metadata().with_expiry(NonZeroU32::new(3_600).unwrap());
    let env = seal(
        &f.alice,
        &f.alice_cert,
        f.bob.public(),
        &meta,
        b"inner",
        &mut f.rng,
    )
    .unwrap();
    assert_eq!(env.len(), envelope_len(&meta, &f.alice_cert, 5));
    let opened = open(&f.bob, &env, &f.trust, NOW).unwrap();
    assert_eq!(opened.message(), b"inner");
    assert_eq!(opened.metadata(), &meta);
    assert_eq!(opened.metadata().expires_at(), Some(NOW.plus_secs(3_600)));
    assert_eq!(opened.sender(), &f.alice_cert);
    assert_eq!(opened.kind(), EnvelopeKind::Single);
    assert_eq!(envelope_recipient(&env), Ok(*f.bob.public()));
    assert_eq!(
        open(&f.carol, &env, &f.trust, NOW),
        Err(OpenError::NotForUs)
    );
}

#[test]
fn multi_round_trip_and_length() {
    let mut f = fixture(2);
    let recipients = [*f.bob.public(), *f.carol.public()];
    let meta = metadata();
    let multi = seal_multi(
        &f.alice,
        &f.alice_cert,
        &recipients,
        &meta,
        b"group",
        &mut f.rng,
    )
    .unwrap();
    assert_eq!(multi.len(), multi_recipient_len(&meta, &f.alice_cert, 5, 2));
    let parsed = MultiRecipientMessage::decode(&multi).unwrap();
    assert_eq!(parsed.recipients(), &recipients);
    for (key, pair) in [(f.bob.public(), &f.bob), (f.carol.public(), &f.carol)] {
        let env = parsed.envelope_for(key).unwrap();
        assert_eq!(env.len(), envelope_len(&meta, &f.alice_cert, 5));
        assert_eq!(envelope_recipient(&env), Ok(*key));
        let opened = open(pair, &env, &f.trust, NOW).unwrap();
        assert_eq!(opened.message(), b"group");
        assert_eq!(opened.kind(), EnvelopeKind::MultiRecipient);
        assert_eq!(opened.sender_identity(), f.alice.public());
    }
    assert!(parsed.envelope_for(f.alice.public()).is_none());
    assert!(parsed.envelope(2).is_none());
}

#[test]
fn a_certificate_for_another_key_is_refused_single() {
    let mut f = fixture(3);
    // Carol's certificate inside an envelope Alice authenticates.
    let carol_cert = certify(&f.server, &f.server_cert, f.carol.public());
    let padded = content::encode_padded(&metadata(), &carol_cert, b"spoof");
    let env = envelope::seal(&f.alice, f.bob.public(), &padded, &mut f.rng).unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::SenderNotAuthenticated)
    );
    // The public API refuses to build it.
    assert_eq!(
        seal(
            &f.alice,
            &carol_cert,
            f.bob.public(),
            &metadata(),
            b"x",
            &mut f.rng
        ),
        Err(SealError::CertificateMismatch)
    );
}

#[test]
fn a_certificate_for_another_key_is_refused_multi() {
    let mut f = fixture(4);
    let carol_cert = certify(&f.server, &f.server_cert, f.carol.public());
    let padded = content::encode_padded(&metadata(), &carol_cert, b"spoof");
    let multi = multi::seal(&f.alice, &[*f.bob.public()], &padded, &mut f.rng).unwrap();
    let env = MultiRecipientMessage::decode(&multi)
        .unwrap()
        .envelope(0)
        .unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::SenderNotAuthenticated)
    );
}

#[test]
fn bad_padding_and_malformed_content_have_their_own_errors() {
    let mut f = fixture(5);
    let mut bad = pad(b"content").to_vec();
    let last = bad.len() - 1;
    bad[last] = 1;
    let env = envelope::seal(&f.alice, f.bob.public(), &bad, &mut f.rng).unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::BadPadding(padding::PaddingError::MissingMarker))
    );
    let multi = multi::seal(&f.alice, &[*f.bob.public()], &bad, &mut f.rng).unwrap();
    let env = MultiRecipientMessage::decode(&multi)
        .unwrap()
        .envelope(0)
        .unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::BadPadding(padding::PaddingError::MissingMarker))
    );

    let zero_type = pad(&[0u8; 20]);
    let env = envelope::seal(&f.alice, f.bob.public(), &zero_type, &mut f.rng).unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::MalformedContent(DecodeError::InvalidField {
            field: "content_type"
        }))
    );
    let mut no_cert = vec![1u8];
    no_cert.extend_from_slice(&[0u8; 8]);
    no_cert.push(0);
    no_cert.extend_from_slice(&[0, 3, 1, 2, 3]);
    let env = envelope::seal(&f.alice, f.bob.public(), &pad(&no_cert), &mut f.rng).unwrap();
    assert!(matches!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::Certificate(CertificateError::Malformed(_)))
    ));
    let mut bad_flag = vec![1u8];
    bad_flag.extend_from_slice(&[0u8; 8]);
    bad_flag.push(2);
    let env = envelope::seal(&f.alice, f.bob.public(), &pad(&bad_flag), &mut f.rng).unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::MalformedContent(DecodeError::InvalidField {
            field: "expiry_flag"
        }))
    );
    // A certificate length one past the largest certificate.
    let mut long_cert = vec![1u8];
    long_cert.extend_from_slice(&[0u8; 8]);
    long_cert.push(0);
    let too_long = u16::try_from(crate::certificate::MAX_SENDER_CERTIFICATE_LEN + 1).unwrap();
    long_cert.extend_from_slice(&too_long.to_be_bytes());
    long_cert.extend_from_slice(&[0u8; 400]);
    let env = envelope::seal(&f.alice, f.bob.public(), &pad(&long_cert), &mut f.rng).unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::MalformedContent(DecodeError::InvalidField {
            field: "certificate_len"
        }))
    );
    // A message one past the largest inner message (possible with a short certificate).
    let mut huge = content::encode_padded(&metadata(), &f.alice_cert, b"");
    let plain_len = content::content_len(&metadata(), f.alice_cert.as_bytes().len(), 0);
    huge.truncate(plain_len);
    huge.resize(plain_len + MAX_SEALED_MESSAGE_LEN + 1, 7);
    let env = envelope::seal(&f.alice, f.bob.public(), &pad(&huge), &mut f.rng).unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::MalformedContent(DecodeError::TooLarge {
            len: MAX_SEALED_MESSAGE_LEN + 1,
            max: MAX_SEALED_MESSAGE_LEN
        }))
    );
    let mut zero_expiry = vec![1u8];
    zero_expiry.extend_from_slice(&[0u8; 8]);
    zero_expiry.extend_from_slice(&[1, 0, 0, 0, 0]);
    let env = envelope::seal(&f.alice, f.bob.public(), &pad(&zero_expiry), &mut f.rng).unwrap();
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW),
        Err(OpenError::MalformedContent(DecodeError::InvalidField {
            field: "expires_after_secs"
        }))
    );
}

#[test]
fn a_low_order_ephemeral_key_is_non_contributory() {
    let mut f = fixture(6);
    let env = seal(
        &f.alice,
        &f.alice_cert,
        f.bob.public(),
        &metadata(),
        b"m",
        &mut f.rng,
    )
    .unwrap();
    for kind in [TYPE_SEALED_ENVELOPE, TYPE_RECIPIENT_ENVELOPE] {
        let mut bad = env.clone();
        bad[1] = kind;
        bad[34..66].copy_from_slice(&[0u8; 32]);
        assert_eq!(
            open(&f.bob, &bad, &f.trust, NOW),
            Err(OpenError::NonContributory)
        );
    }
}

/// A co-recipient knows the message secret M of a multi-recipient message, so it can
/// re-encrypt the shared body. The tag binds SHA-256 of the body, so the other recipients
/// refuse the altered envelope.
#[test]
fn a_co_recipient_cannot_swap_the_body() {
    let mut f = fixture(7);
    let recipients = [*f.bob.public(), *f.carol.public()];
    let multi = seal_multi(
        &f.alice,
        &f.alice_cert,
        &recipients,
        &metadata(),
        b"real",
        &mut f.rng,
    )
    .unwrap();
    let parsed = MultiRecipientMessage::decode(&multi).unwrap();
    let carol_env = parsed.envelope(1).unwrap();
    // Carol recovers M from her envelope as open does.
    let e_pub: [u8; 32] = carol_env[34..66].try_into().unwrap();
    let wrapped: [u8; 32] = carol_env[66..98].try_into().unwrap();
    let dh = dh_checked(f.carol.dh_secret(), &XPublicKey::from(e_pub)).unwrap();
    let wrap = kdf::wrap_key(&dh, &e_pub, f.carol.public().as_bytes());
    let mut m = [0u8; 32];
    for i in 0..32 {
        m[i] = wrapped[i] ^ wrap[i];
    }
    let (_, body_key) = kdf::multi_keys(&m);
    // She forges a body in Alice's name (Alice's certificate, her own words).
    let forged_padded = content::encode_padded(&metadata(), &f.alice_cert, b"forged");
    let mut ad = vec![WIRE_VERSION];
    ad.extend_from_slice(&e_pub);
    let mut forged_body = Vec::new();
    seal_into(
        &body_key,
        &ZERO_NONCE,
        &ad,
        &forged_padded,
        &mut forged_body,
    );
    assert_eq!(
        forged_body.len(),
        parsed.envelope(0).unwrap().len() - ENVELOPE_PREFIX_LEN
    );
    let mut bob_env = parsed.envelope(0).unwrap();
    bob_env.truncate(ENVELOPE_PREFIX_LEN);
    bob_env.extend_from_slice(&forged_body);
    assert_eq!(
        open(&f.bob, &bob_env, &f.trust, NOW),
        Err(OpenError::SenderNotAuthenticated)
    );
    // Sanity: the digest really is what differs.
    assert_ne!(
        Sha256::digest(&forged_body),
        Sha256::digest(&parsed.envelope(0).unwrap()[ENVELOPE_PREFIX_LEN..])
    );
}

#[test]
fn an_altered_wrapped_key_is_tampered() {
    let mut f = fixture(8);
    let multi = seal_multi(
        &f.alice,
        &f.alice_cert,
        &[*f.bob.public()],
        &metadata(),
        b"m",
        &mut f.rng,
    )
    .unwrap();
    let env = MultiRecipientMessage::decode(&multi)
        .unwrap()
        .envelope(0)
        .unwrap();
    for offset in [66, 97, 98, 113, 114, env.len() - 1] {
        let mut bad = env.clone();
        bad[offset] ^= 0x01;
        let err = open(&f.bob, &bad, &f.trust, NOW).unwrap_err();
        let expected = if (98..114).contains(&offset) {
            OpenError::SenderNotAuthenticated
        } else {
            OpenError::Tampered
        };
        assert_eq!(err, expected, "offset {offset}");
    }
}

#[test]
fn recipient_list_limits() {
    let mut f = fixture(9);
    let meta = metadata();
    assert_eq!(
        seal_multi(&f.alice, &f.alice_cert, &[], &meta, b"m", &mut f.rng),
        Err(SealError::NoRecipients)
    );
    assert_eq!(
        seal_multi(
            &f.alice,
            &f.alice_cert,
            &[*f.bob.public(), *f.carol.public(), *f.bob.public()],
            &meta,
            b"m",
            &mut f.rng
        ),
        Err(SealError::DuplicateRecipient { index: 2 })
    );
}

#[test]
fn message_length_limit_at_and_past_the_edge() {
    let mut f = fixture(10);
    let meta = metadata().with_expiry(NonZeroU32::new(1).unwrap());
    let long_cert = SenderCertificate::issue(
        &f.server,
        &f.server_cert,
        SenderCertificateInfo {
            serial: 2,
            user_id: vec![b'u'; crate::certificate::MAX_USER_ID_LEN],
            device_id: 1,
            identity_key: *f.alice.public(),
            validity: Validity::new(NOW, NOW.plus_secs(60)).unwrap(),
        },
    )
    .unwrap();
    let max = vec![7u8; MAX_SEALED_MESSAGE_LEN];
    let env = seal(
        &f.alice,
        &long_cert,
        f.bob.public(),
        &meta,
        &max,
        &mut f.rng,
    )
    .unwrap();
    assert_eq!(content_len(&meta, &long_cert, max.len()), MAX_CONTENT_LEN);
    assert_eq!(env.len(), MAX_ENVELOPE_LEN);
    assert_eq!(
        open(&f.bob, &env, &f.trust, NOW).unwrap().message(),
        &max[..]
    );
    let over = vec![7u8; MAX_SEALED_MESSAGE_LEN + 1];
    assert_eq!(
        seal(
            &f.alice,
            &long_cert,
            f.bob.public(),
            &meta,
            &over,
            &mut f.rng
        ),
        Err(SealError::MessageTooLarge {
            len: MAX_SEALED_MESSAGE_LEN + 1,
            max: MAX_SEALED_MESSAGE_LEN
        })
    );
    let mut too_long = env.clone();
    too_long.push(0);
    assert_eq!(
        open(&f.bob, &too_long, &f.trust, NOW),
        Err(OpenError::Malformed(DecodeError::TooLarge {
            len: MAX_ENVELOPE_LEN + 1,
            max: MAX_ENVELOPE_LEN
        }))
    );
}

#[test]
fn opened_debug_hides_the_message() {
    let mut f = fixture(11);
    let env = seal(
        &f.alice,
        &f.alice_cert,
        f.bob.public(),
        &metadata(),
        b"top secret",
        &mut f.rng,
    )
    .unwrap();
    let opened = open(&f.bob, &env, &f.trust, NOW).unwrap();
    let shown = format!("{opened:?}");
    assert!(shown.contains("message_len: 10"));
    assert!(!shown.contains("top secret"));
    assert!(!shown.contains("116, 111, 112"));
    assert!(shown.starts_with("Opened { sender: SenderCertificate { serial: 1, user_id_len: 4,"));
}

/// An envelope the recipient sealed itself (echoed back by a relay) authenticates, but is
/// refused: its content must not reach the app as a message from a peer (SPEC.md §13.2.4).
#[test]
fn an_envelope_sealed_by_our_own_identity_is_refused() {
    let mut f = fixture(14);
    let meta = metadata();
    let single = seal(
        &f.alice,
        &f.alice_cert,
        f.alice.public(),
        &meta,
        b"to myself",
        &mut f.rng,
    )
    .unwrap();
    assert_eq!(
        open(&f.alice, &single, &f.trust, NOW),
        Err(OpenError::SelfSend)
    );
    assert_eq!(OpenError::SelfSend.kind(), ErrorKind::UnknownSession);
    let multi = seal_multi(
        &f.alice,
        &f.alice_cert,
        &[*f.bob.public(), *f.alice.public()],
        &meta,
        b"to us all",
        &mut f.rng,
    )
    .unwrap();
    let parsed = MultiRecipientMessage::decode(&multi).unwrap();
    let ours = parsed.envelope_for(f.alice.public()).unwrap();
    assert_eq!(
        open(&f.alice, &ours, &f.trust, NOW),
        Err(OpenError::SelfSend)
    );
    // The other recipient still opens its copy.
    let theirs = parsed.envelope_for(f.bob.public()).unwrap();
    assert_eq!(
        open(&f.bob, &theirs, &f.trust, NOW).unwrap().message(),
        b"to us all"
    );
}
