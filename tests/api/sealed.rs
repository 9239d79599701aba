//! Sealed envelopes end to end: certificates, seal/open with real sessions, every rejection
//! with its own error and no state change, multi-recipient sealing with 1, 2, 1,000 and
//! `MAX_RECIPIENTS` recipients, and the padding property (spec/sealed.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common::sealed_reference as reference;

use std::num::NonZeroU32;

use chacha20::ChaCha20Rng;
use hushwire::certificate::{
    CertificateKind, MAX_SENDER_CERTIFICATE_LEN, MAX_USER_ID_LEN, SENDER_CERTIFICATE_BASE_LEN,
    SERVER_CERTIFICATE_LEN, SenderCertificateInfo,
};
use hushwire::sealed::padding::{PaddingError, padded_len};
use hushwire::sealed::{
    self, ENVELOPE_OVERHEAD, EnvelopeKind, MAX_RECIPIENTS, MULTI_RECIPIENT_OVERHEAD,
    MultiRecipientMessage, RECIPIENT_HEADER_LEN, content_len, envelope_len, multi_recipient_len,
};
use hushwire::{
    Account, CertificateError, ContentType, DecodeError, Device, ErrorKind, HandshakeError,
    IdentityKey, IdentityKeyPair, IssuerKeyPair, Metadata, OpenError, PeerError, SealError,
    SealedSessionError, SenderCertificate, ServerCertificate, Session, StorageKey, Timestamp,
    TrustStore, Validity,
};
use proptest::prelude::*;
use rand_core::Rng;

use crate::common::NOW;
const DAY: u64 = 86_400;

use crate::common::rng;

/// A server operator: a trust root, one server key certified by it, and the trust store
/// clients ship with.
pub(super) struct Deployment {
    root: IssuerKeyPair,
    server: IssuerKeyPair,
    server_cert: ServerCertificate,
    pub(super) trust: TrustStore,
}

const ROOT_ID: u32 = 1;
const SERVER_KEY_ID: u32 = 7;

impl Deployment {
    pub(super) fn new(rng: &mut ChaCha20Rng) -> Self {
        let root = IssuerKeyPair::generate(rng);
        let server = IssuerKeyPair::generate(rng);
        let server_cert = ServerCertificate::issue(
            &root,
            ROOT_ID,
            SERVER_KEY_ID,
            &server.public(),
            Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(365 * DAY)).unwrap(),
        );
        let mut trust = TrustStore::new();
        trust.add_root(ROOT_ID, root.public()).unwrap();
        Deployment {
            root,
            server,
            server_cert,
            trust,
        }
    }

    fn certify_with(
        &self,
        key: &IdentityKey,
        serial: u64,
        validity: Validity,
    ) -> SenderCertificate {
        SenderCertificate::issue(
            &self.server,
            &self.server_cert,
            SenderCertificateInfo {
                serial,
                user_id: format!("user-{serial}").into_bytes(),
                device_id: 1,
                identity_key: *key,
                validity,
            },
        )
        .unwrap()
    }

    pub(super) fn certify(&self, key: &IdentityKey, serial: u64) -> SenderCertificate {
        self.certify_with(
            key,
            serial,
            Validity::new(
                Timestamp::from_unix_secs(NOW.as_unix_secs() - 3_600),
                NOW.plus_secs(DAY),
            )
            .unwrap(),
        )
    }
}

fn session_metadata() -> Metadata {
    Metadata::new(ContentType::SESSION, NOW)
}

/// A deterministic fingerprint of an account's whole state.
fn fingerprint(account: &Account) -> Vec<u8> {
    account.to_encrypted(&StorageKey::from_bytes([9u8; 32]), 0, &mut rng(0))
}

/// Alice and Bob with accounts and certificates, Alice's first (prekey) message to Bob sealed.
struct World {
    rng: ChaCha20Rng,
    dep: Deployment,
    alice: Account,
    bob: Account,
    alice_cert: SenderCertificate,
    bob_cert: SenderCertificate,
    to_bob: Session,
    first: Vec<u8>,
    sealed_first: Vec<u8>,
}

fn world(seed: u64) -> World {
    let mut rng = rng(seed);
    let dep = Deployment::new(&mut rng);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    bob.generate_one_time_prekeys(5, 5, NOW, &mut rng).unwrap();
    let alice_cert = dep.certify(alice.identity_key(), 1);
    let bob_cert = dep.certify(bob.identity_key(), 2);
    let bundle = bob.published_prekeys().take_bundle();
    let mut to_bob = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = to_bob.encrypt(b"hi Bob", &mut rng).unwrap();
    let sealed_first = sealed::seal(
        alice.identity_key_pair(),
        &alice_cert,
        bob.identity_key(),
        &session_metadata(),
        &first,
        &mut rng,
    )
    .unwrap();
    World {
        rng,
        dep,
        alice,
        bob,
        alice_cert,
        bob_cert,
        to_bob,
        first,
        sealed_first,
    }
}

impl World {
    /// Opening `envelope` as Bob fails with `expected`; Bob's account is unchanged and Alice's
    /// genuine sealed prekey message still creates the session afterwards.
    fn rejected_then_genuine(&mut self, envelope: &[u8], trust: &TrustStore, expected: OpenError) {
        let before = fingerprint(&self.bob);
        assert_eq!(
            sealed::open(self.bob.identity_key_pair(), envelope, trust, NOW),
            Err(expected)
        );
        assert_eq!(
            fingerprint(&self.bob),
            before,
            "a failed open changed state"
        );
        let opened = sealed::open(
            self.bob.identity_key_pair(),
            &self.sealed_first,
            &self.dep.trust,
            NOW,
        )
        .unwrap();
        let inbound = opened.create_inbound_session(&mut self.bob, NOW).unwrap();
        assert_eq!(inbound.plaintext, b"hi Bob");
    }

    fn bob_key(&self) -> reference::Key {
        reference::Key::from_seed(*self.bob.identity_key_pair().dangerous_to_seed())
    }

    fn alice_key(&self) -> reference::Key {
        reference::Key::from_seed(*self.alice.identity_key_pair().dangerous_to_seed())
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips.

#[test]
fn sealed_prekey_message_creates_the_session_and_the_reply_decrypts() {
    let mut w = world(1);
    let opened = sealed::open(
        w.bob.identity_key_pair(),
        &w.sealed_first,
        &w.dep.trust,
        NOW,
    )
    .unwrap();
    assert_eq!(opened.sender(), &w.alice_cert);
    assert_eq!(opened.sender().user_id(), b"user-1");
    assert_eq!(opened.sender().device_id(), 1);
    assert_eq!(opened.sender_identity(), w.alice.identity_key());
    assert_eq!(opened.metadata(), &session_metadata());
    assert_eq!(opened.message(), &w.first[..]);
    assert_eq!(opened.kind(), EnvelopeKind::Single);
    let inbound = opened.create_inbound_session(&mut w.bob, NOW).unwrap();
    assert_eq!(inbound.plaintext, b"hi Bob");
    let mut to_alice = inbound.session;

    // Bob's reply is a disappearing message.
    let reply = to_alice.encrypt(b"hello Alice", &mut w.rng).unwrap();
    let meta = session_metadata().with_expiry(NonZeroU32::new(30).unwrap());
    let env = sealed::seal(
        w.bob.identity_key_pair(),
        &w.bob_cert,
        w.alice.identity_key(),
        &meta,
        &reply,
        &mut w.rng,
    )
    .unwrap();
    let opened = sealed::open(w.alice.identity_key_pair(), &env, &w.dep.trust, NOW).unwrap();
    assert_eq!(opened.metadata().expires_after_secs(), NonZeroU32::new(30));
    assert_eq!(opened.metadata().expires_at(), Some(NOW.plus_secs(30)));
    let read = opened.decrypt(&mut w.to_bob).unwrap();
    assert_eq!(read.plaintext, b"hello Alice");

    // And a ratchet message back, sealed again.
    let next = w.to_bob.encrypt(b"thanks", &mut w.rng).unwrap();
    let env = sealed::seal(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        w.bob.identity_key(),
        &session_metadata(),
        &next,
        &mut w.rng,
    )
    .unwrap();
    let opened = sealed::open(w.bob.identity_key_pair(), &env, &w.dep.trust, NOW).unwrap();
    assert_eq!(opened.decrypt(&mut to_alice).unwrap().plaintext, b"thanks");
}

#[test]
fn sealed_messages_through_the_account_session_records() {
    let mut w = world(2);
    let mut bob = Device::from_account(w.bob.clone());
    let opened = bob.open_sealed(&w.sealed_first, &w.dep.trust, NOW).unwrap();
    let read = bob.decrypt_sealed(&opened, NOW).unwrap();
    assert_eq!(read.plaintext, b"hi Bob");
    assert_eq!(
        bob.sessions_with(w.alice.identity_key()),
        vec![read.session_id]
    );
    let second = w.to_bob.encrypt(b"again", &mut w.rng).unwrap();
    let env = sealed::seal(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        w.bob.identity_key(),
        &session_metadata(),
        &second,
        &mut w.rng,
    )
    .unwrap();
    let opened = bob.open_sealed(&env, &w.dep.trust, NOW).unwrap();
    assert_eq!(
        bob.decrypt_sealed(&opened, NOW).unwrap().plaintext,
        b"again"
    );
}

#[test]
fn the_envelope_hides_the_sender_and_the_content_type() {
    let mut w = world(3);
    let alice = w.alice_key();
    for env in [&w.sealed_first] {
        for needle in [&alice.ed_public, &alice.x_public] {
            assert!(
                !env.windows(32).any(|win| win == needle),
                "sender key in clear"
            );
        }
        assert!(!env.windows(6).any(|win| win == b"user-1"));
    }
    // The same inner message as a group message: same length, nothing else in clear.
    let group = sealed::seal(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        w.bob.identity_key(),
        &Metadata::new(ContentType::GROUP, NOW),
        &w.first,
        &mut w.rng,
    )
    .unwrap();
    assert_eq!(group.len(), w.sealed_first.len());
    assert_eq!(
        &group[..34],
        &w.sealed_first[..34],
        "only version, type, recipient are fixed"
    );
    assert_ne!(&group[34..66], &w.sealed_first[34..66]);
}

// ---------------------------------------------------------------------------------------------
// Rejections: each its own error, no state change.

#[test]
fn a_forged_sender_certificate_is_rejected() {
    let mut w = world(10);
    // Signed by a key that is not the certified server key, claiming the same server cert.
    let impostor = IssuerKeyPair::generate(&mut w.rng);
    let forged_server_cert = ServerCertificate::issue(
        &impostor,
        ROOT_ID,
        SERVER_KEY_ID,
        &impostor.public(),
        *w.dep.server_cert.validity(),
    );
    // A correct sender certificate re-signed by the impostor: bytes of a genuine one with the
    // signature replaced.
    let mut bytes = w.alice_cert.to_bytes();
    let len = bytes.len();
    bytes[len - 1] ^= 0x01;
    let bad_signature = SenderCertificate::from_bytes(&bytes).unwrap();
    let env = sealed::seal(
        w.alice.identity_key_pair(),
        &bad_signature,
        w.bob.identity_key(),
        &session_metadata(),
        &w.first,
        &mut w.rng,
    )
    .unwrap();
    let trust = w.dep.trust.clone();
    w.rejected_then_genuine(
        &env,
        &trust,
        OpenError::Certificate(CertificateError::BadSignature(CertificateKind::Sender)),
    );

    // A server certificate claiming the pinned root but signed by the impostor.
    let mut w = world(11);
    let forged = SenderCertificate::issue(
        &impostor,
        &forged_server_cert,
        SenderCertificateInfo {
            serial: 1,
            user_id: b"user-1".to_vec(),
            device_id: 1,
            identity_key: *w.alice.identity_key(),
            validity: *w.alice_cert.validity(),
        },
    )
    .unwrap();
    let env = sealed::seal(
        w.alice.identity_key_pair(),
        &forged,
        w.bob.identity_key(),
        &session_metadata(),
        &w.first,
        &mut w.rng,
    )
    .unwrap();
    let trust = w.dep.trust.clone();
    w.rejected_then_genuine(
        &env,
        &trust,
        OpenError::Certificate(CertificateError::BadSignature(CertificateKind::Server)),
    );
}

#[test]
fn an_expired_certificate_is_rejected() {
    let mut w = world(12);
    let expired = w.dep.certify_with(
        w.alice.identity_key(),
        3,
        Validity::new(Timestamp::from_unix_secs(1), NOW).unwrap(),
    );
    let env = sealed::seal(
        w.alice.identity_key_pair(),
        &expired,
        w.bob.identity_key(),
        &session_metadata(),
        &w.first,
        &mut w.rng,
    )
    .unwrap();
    let trust = w.dep.trust.clone();
    w.rejected_then_genuine(
        &env,
        &trust,
        OpenError::Certificate(CertificateError::Expired {
            kind: CertificateKind::Sender,
            expires_at: NOW,
        }),
    );
    // The server certificate expiring first is reported as such.
    let expiry = w.dep.server_cert.validity().expires_at();
    assert_eq!(
        sealed::open(
            w.bob.identity_key_pair(),
            &w.sealed_first,
            &w.dep.trust,
            expiry
        ),
        Err(OpenError::Certificate(CertificateError::Expired {
            kind: CertificateKind::Server,
            expires_at: expiry,
        }))
    );
    // One second before the sender certificate expires it is still valid.
    let last = w.alice_cert.validity().expires_at().as_unix_secs() - 1;
    assert!(
        sealed::open(
            w.bob.identity_key_pair(),
            &w.sealed_first,
            &w.dep.trust,
            Timestamp::from_unix_secs(last)
        )
        .is_ok()
    );
}

#[test]
fn a_not_yet_valid_certificate_is_rejected() {
    let mut w = world(13);
    let future = w.dep.certify_with(
        w.alice.identity_key(),
        4,
        Validity::new(NOW.plus_secs(1), NOW.plus_secs(DAY)).unwrap(),
    );
    let env = sealed::seal(
        w.alice.identity_key_pair(),
        &future,
        w.bob.identity_key(),
        &session_metadata(),
        &w.first,
        &mut w.rng,
    )
    .unwrap();
    let trust = w.dep.trust.clone();
    w.rejected_then_genuine(
        &env,
        &trust,
        OpenError::Certificate(CertificateError::NotYetValid {
            kind: CertificateKind::Sender,
            not_before: NOW.plus_secs(1),
        }),
    );
}

#[test]
fn a_certificate_under_another_root_is_rejected() {
    let mut w = world(14);
    let other = Deployment::new(&mut w.rng);
    // Another deployment's root under another id: unknown root.
    let mut other_trust = TrustStore::new();
    other_trust.add_root(99, other.root.public()).unwrap();
    w.rejected_then_genuine(
        &w.sealed_first.clone(),
        &other_trust,
        OpenError::Certificate(CertificateError::UnknownRoot { root_id: ROOT_ID }),
    );
    // The same root id pinned to another key: the server certificate's signature fails.
    let mut w = world(15);
    let mut wrong_key = TrustStore::new();
    wrong_key.add_root(ROOT_ID, other.root.public()).unwrap();
    w.rejected_then_genuine(
        &w.sealed_first.clone(),
        &wrong_key,
        OpenError::Certificate(CertificateError::BadSignature(CertificateKind::Server)),
    );
}

#[test]
fn a_revoked_certificate_or_server_key_is_rejected() {
    let mut w = world(16);
    let mut trust = w.dep.trust.clone();
    trust.revoke_certificate(ROOT_ID, SERVER_KEY_ID, 1).unwrap();
    w.rejected_then_genuine(
        &w.sealed_first.clone(),
        &trust,
        OpenError::Certificate(CertificateError::CertificateRevoked {
            kind: CertificateKind::Sender,
            server_key_id: SERVER_KEY_ID,
            serial: 1,
        }),
    );
    let mut w = world(17);
    let mut trust = w.dep.trust.clone();
    trust.revoke_server_key(ROOT_ID, SERVER_KEY_ID).unwrap();
    w.rejected_then_genuine(
        &w.sealed_first.clone(),
        &trust,
        OpenError::Certificate(CertificateError::ServerKeyRevoked {
            key_id: SERVER_KEY_ID,
        }),
    );
}

#[test]
fn a_certificate_for_a_different_identity_key_is_rejected() {
    let mut w = world(18);
    // Mallory holds a valid certificate of her own. She seals with Alice's certificate (copied
    // from an earlier envelope Alice sent her) to pass as Alice: the library refuses to build
    // it, so the reference does.
    let mallory = IdentityKeyPair::generate(&mut w.rng);
    assert_eq!(
        sealed::seal(
            &mallory,
            &w.alice_cert,
            w.bob.identity_key(),
            &session_metadata(),
            b"x",
            &mut w.rng
        ),
        Err(SealError::CertificateMismatch)
    );
    let mallory_key = reference::Key::from_seed(*mallory.dangerous_to_seed());
    let content = reference::content(1, NOW.as_unix_secs(), None, w.alice_cert.as_bytes(), b"x");
    let env = reference::seal_single(
        &mallory_key,
        &w.bob_key(),
        [5u8; 32],
        &reference::pad(&content),
    )
    .envelope;
    let trust = w.dep.trust.clone();
    w.rejected_then_genuine(&env, &trust, OpenError::SenderNotAuthenticated);

    // The same in a multi-recipient message.
    let multi = reference::seal_multi(
        &mallory_key,
        &[w.bob_key()],
        [6u8; 32],
        &reference::pad(&content),
    );
    let trust = w.dep.trust.clone();
    let mut w = world(19);
    let bob = reference::Key::from_seed(*w.bob.identity_key_pair().dangerous_to_seed());
    let multi_for_this_bob =
        reference::seal_multi(&mallory_key, &[bob], [6u8; 32], &reference::pad(&content));
    assert_eq!(multi.message.len(), multi_for_this_bob.message.len());
    w.rejected_then_genuine(
        &multi_for_this_bob.recipients[0].envelope,
        &trust,
        OpenError::SenderNotAuthenticated,
    );
}

#[test]
fn bad_padding_is_rejected() {
    let mut w = world(20);
    let alice = w.alice_key();
    let content = reference::content(
        1,
        NOW.as_unix_secs(),
        None,
        w.alice_cert.as_bytes(),
        &w.first,
    );
    let mut no_marker = reference::pad(&content);
    no_marker[content.len()] = 0x00;
    let env = reference::seal_single(&alice, &w.bob_key(), [7u8; 32], &no_marker).envelope;
    let trust = w.dep.trust.clone();
    w.rejected_then_genuine(
        &env,
        &trust,
        OpenError::BadPadding(PaddingError::MissingMarker),
    );

    let mut w = world(21);
    let content = reference::content(
        1,
        NOW.as_unix_secs(),
        None,
        w.alice_cert.as_bytes(),
        &w.first,
    );
    let mut too_much = reference::pad(&content);
    let expected = too_much.len();
    too_much.resize(expected + 160, 0);
    let env = reference::seal_single(&w.alice_key(), &w.bob_key(), [8u8; 32], &too_much).envelope;
    let trust = w.dep.trust.clone();
    w.rejected_then_genuine(
        &env,
        &trust,
        OpenError::BadPadding(PaddingError::WrongLength {
            len: expected + 160,
            expected,
        }),
    );

    // Multi-recipient: the marker replaced by another byte.
    let mut w = world(22);
    let content = reference::content(2, NOW.as_unix_secs(), None, w.alice_cert.as_bytes(), b"g");
    let mut wrong_marker = reference::pad(&content);
    wrong_marker[content.len()] = 0x81;
    let multi = reference::seal_multi(&w.alice_key(), &[w.bob_key()], [9u8; 32], &wrong_marker);
    let trust = w.dep.trust.clone();
    w.rejected_then_genuine(
        &multi.recipients[0].envelope,
        &trust,
        OpenError::BadPadding(PaddingError::MissingMarker),
    );
}

#[test]
fn an_envelope_for_another_recipient_is_rejected() {
    let mut w = world(23);
    let carol = Account::new(NOW, &mut w.rng);
    let before = fingerprint(&carol);
    assert_eq!(
        sealed::open(
            carol.identity_key_pair(),
            &w.sealed_first,
            &w.dep.trust,
            NOW
        ),
        Err(OpenError::NotForUs)
    );
    // Re-addressed to Carol by the relay: the key agreement fails.
    let mut readdressed = w.sealed_first.clone();
    readdressed[2..34].copy_from_slice(carol.identity_key().as_bytes());
    assert_eq!(
        sealed::open(carol.identity_key_pair(), &readdressed, &w.dep.trust, NOW),
        Err(OpenError::Tampered)
    );
    assert_eq!(fingerprint(&carol), before);
    let genuine = w.sealed_first.clone();
    let trust = w.dep.trust.clone();
    // Bob still opens it (the helper checks Bob's state too).
    let mut bad_for_bob = genuine.clone();
    bad_for_bob[2..34].copy_from_slice(carol.identity_key().as_bytes());
    w.rejected_then_genuine(&bad_for_bob, &trust, OpenError::NotForUs);
}

#[test]
fn a_tampered_envelope_is_rejected_at_every_byte() {
    let mut w = world(24);
    let env = w.sealed_first.clone();
    let before = fingerprint(&w.bob);
    for i in 0..env.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = env.clone();
            bad[i] ^= flip;
            let err = sealed::open(w.bob.identity_key_pair(), &bad, &w.dep.trust, NOW).unwrap_err();
            let ok = match i {
                0 => err == OpenError::Malformed(DecodeError::UnknownVersion(env[0] ^ flip)),
                1 => matches!(
                    err,
                    OpenError::Malformed(
                        DecodeError::WrongType { .. } | DecodeError::UnknownType(_)
                    )
                ),
                2..34 => err == OpenError::NotForUs,
                _ => err == OpenError::Tampered || err == OpenError::NonContributory,
            };
            assert!(ok, "byte {i} flip {flip:#04x}: {err:?}");
            assert_eq!(err.kind() == ErrorKind::Tampered, i >= 2, "byte {i}");
        }
    }
    // Truncated or extended ciphertexts are malformed before any cryptography.
    for cut in [1, 16, 159] {
        let err = sealed::open(
            w.bob.identity_key_pair(),
            &env[..env.len() - cut],
            &w.dep.trust,
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "cut {cut}: {err:?}");
    }
    // Cut by a whole block, the length is a bucket again: the AEAD refuses it.
    assert_eq!(
        sealed::open(
            w.bob.identity_key_pair(),
            &env[..env.len() - 160],
            &w.dep.trust,
            NOW
        ),
        Err(OpenError::Tampered)
    );
    assert_eq!(fingerprint(&w.bob), before);
    let trust = w.dep.trust.clone();
    let mut last = env.clone();
    *last.last_mut().unwrap() ^= 1;
    w.rejected_then_genuine(&last, &trust, OpenError::Tampered);
}

#[test]
fn a_tampered_split_envelope_is_rejected_at_every_byte() {
    let mut w = world(25);
    let multi = sealed::seal_multi(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        &[*w.bob.identity_key()],
        &Metadata::new(ContentType::GROUP, NOW),
        b"group message",
        &mut w.rng,
    )
    .unwrap();
    let env = MultiRecipientMessage::decode(&multi)
        .unwrap()
        .envelope(0)
        .unwrap();
    assert!(sealed::open(w.bob.identity_key_pair(), &env, &w.dep.trust, NOW).is_ok());
    for i in 0..env.len() {
        let mut bad = env.clone();
        bad[i] ^= 0x01;
        let err = sealed::open(w.bob.identity_key_pair(), &bad, &w.dep.trust, NOW).unwrap_err();
        let ok = match i {
            0 => err == OpenError::Malformed(DecodeError::UnknownVersion(0)),
            // 0x32 ^ 1 = 0x33, a hybrid envelope: too short for its longer prefix.
            1 => matches!(err, OpenError::Malformed(DecodeError::Truncated { .. })),
            2..34 => err == OpenError::NotForUs,
            98..114 => err == OpenError::SenderNotAuthenticated,
            _ => err == OpenError::Tampered || err == OpenError::NonContributory,
        };
        assert!(ok, "byte {i}: {err:?}");
    }
}

#[test]
fn session_conveniences_refuse_the_wrong_session_content_or_sender() {
    let mut w = world(26);
    let before = fingerprint(&w.bob);
    // Mallory (a valid user) seals Alice's prekey message, captured in flight, as her own.
    let mallory = Account::new(NOW, &mut w.rng);
    let mallory_cert = w.dep.certify(mallory.identity_key(), 9);
    let env = sealed::seal(
        mallory.identity_key_pair(),
        &mallory_cert,
        w.bob.identity_key(),
        &session_metadata(),
        &w.first,
        &mut w.rng,
    )
    .unwrap();
    let opened = sealed::open(w.bob.identity_key_pair(), &env, &w.dep.trust, NOW).unwrap();
    assert_eq!(
        opened.create_inbound_session(&mut w.bob, NOW).unwrap_err(),
        SealedSessionError::SenderMismatch
    );
    let mut device = Device::from_account(w.bob.clone());
    assert_eq!(
        device.decrypt_sealed(&opened, NOW).unwrap_err(),
        SealedSessionError::Peer(PeerError::SenderMismatch)
    );
    assert!(device.peers().is_empty());
    assert_eq!(fingerprint(device.account()), before);
    assert_eq!(fingerprint(&w.bob), before);

    // A group message is not a session message.
    let group = sealed::seal(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        w.bob.identity_key(),
        &Metadata::new(ContentType::GROUP, NOW),
        &w.first,
        &mut w.rng,
    )
    .unwrap();
    let opened = sealed::open(w.bob.identity_key_pair(), &group, &w.dep.trust, NOW).unwrap();
    assert_eq!(
        opened.create_inbound_session(&mut w.bob, NOW).unwrap_err(),
        SealedSessionError::NotSessionContent {
            content_type: ContentType::GROUP
        }
    );
    // Garbage as a session message: the handshake error, account unchanged.
    let junk = sealed::seal(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        w.bob.identity_key(),
        &session_metadata(),
        b"not a message",
        &mut w.rng,
    )
    .unwrap();
    let opened = sealed::open(w.bob.identity_key_pair(), &junk, &w.dep.trust, NOW).unwrap();
    assert!(matches!(
        opened.create_inbound_session(&mut w.bob, NOW).unwrap_err(),
        SealedSessionError::Handshake(HandshakeError::Malformed(_))
    ));
    assert_eq!(fingerprint(&w.bob), before);

    // The genuine one creates the session; a reply decrypted with the wrong session is refused
    // and leaves that session unchanged.
    let opened = sealed::open(
        w.bob.identity_key_pair(),
        &w.sealed_first,
        &w.dep.trust,
        NOW,
    )
    .unwrap();
    let mut to_alice = opened
        .create_inbound_session(&mut w.bob, NOW)
        .unwrap()
        .session;
    let reply = to_alice.encrypt(b"reply", &mut w.rng).unwrap();
    let env = sealed::seal(
        w.bob.identity_key_pair(),
        &w.bob_cert,
        w.alice.identity_key(),
        &session_metadata(),
        &reply,
        &mut w.rng,
    )
    .unwrap();
    let opened = sealed::open(w.alice.identity_key_pair(), &env, &w.dep.trust, NOW).unwrap();
    let mut unrelated = to_alice.clone();
    assert_eq!(
        opened.decrypt(&mut unrelated).unwrap_err(),
        SealedSessionError::WrongSession
    );
    assert_eq!(unrelated, to_alice);
    let mut tampered_reply = reply.clone();
    *tampered_reply.last_mut().unwrap() ^= 1;
    let env = sealed::seal(
        w.bob.identity_key_pair(),
        &w.bob_cert,
        w.alice.identity_key(),
        &session_metadata(),
        &tampered_reply,
        &mut w.rng,
    )
    .unwrap();
    let bad = sealed::open(w.alice.identity_key_pair(), &env, &w.dep.trust, NOW).unwrap();
    let session_before = w.to_bob.clone();
    assert!(matches!(
        bad.decrypt(&mut w.to_bob).unwrap_err(),
        SealedSessionError::Decrypt(_)
    ));
    assert_eq!(w.to_bob, session_before);
    assert_eq!(opened.decrypt(&mut w.to_bob).unwrap().plaintext, b"reply");
}

// ---------------------------------------------------------------------------------------------
// Multi-recipient.

fn identities(rng: &mut ChaCha20Rng, n: usize) -> Vec<IdentityKeyPair> {
    (0..n).map(|_| IdentityKeyPair::generate(rng)).collect()
}

fn multi_round_trip(n: usize, seed: u64) {
    let mut w = world(seed);
    let members = identities(&mut w.rng, n);
    let keys: Vec<IdentityKey> = members.iter().map(|m| *m.public()).collect();
    let meta = Metadata::new(ContentType::GROUP, NOW);
    let body = b"one body for everyone";
    let multi = sealed::seal_multi(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        &keys,
        &meta,
        body,
        &mut w.rng,
    )
    .unwrap();
    assert_eq!(
        multi.len(),
        multi_recipient_len(&meta, &w.alice_cert, body.len(), n)
    );
    assert_eq!(
        multi.len(),
        MULTI_RECIPIENT_OVERHEAD
            + n * RECIPIENT_HEADER_LEN
            + padded_len(content_len(&meta, &w.alice_cert, body.len()))
    );
    let parsed = MultiRecipientMessage::decode(&multi).unwrap();
    assert_eq!(parsed.recipients(), &keys[..]);
    let split = parsed.split();
    assert_eq!(split.len(), n);
    let single_len = envelope_len(&meta, &w.alice_cert, body.len());
    for ((key, env), member) in split.iter().zip(&members) {
        assert_eq!(key, member.public());
        assert_eq!(env.len(), single_len);
        assert_eq!(sealed::envelope_recipient(env), Ok(*key));
        let opened = sealed::open(member, env, &w.dep.trust, NOW).unwrap();
        assert_eq!(opened.message(), body);
        assert_eq!(opened.sender(), &w.alice_cert);
        assert_eq!(opened.kind(), EnvelopeKind::MultiRecipient);
        assert_eq!(opened.metadata(), &meta);
    }
    // Nobody else opens any of them, and the sender is not in clear anywhere.
    let alice = w.alice_key();
    assert!(
        !multi
            .windows(32)
            .any(|win| win == alice.ed_public || win == alice.x_public)
    );
    if n > 1 {
        assert_eq!(
            sealed::open(&members[1], &split[0].1, &w.dep.trust, NOW),
            Err(OpenError::NotForUs)
        );
    }
}

#[test]
fn multi_recipient_with_one_recipient() {
    multi_round_trip(1, 30);
}

#[test]
fn multi_recipient_with_two_recipients() {
    multi_round_trip(2, 31);
}

#[test]
fn multi_recipient_with_a_thousand_recipients() {
    multi_round_trip(1_000, 32);
}

#[test]
fn multi_recipient_size_grows_by_a_constant_per_recipient() {
    let mut w = world(33);
    let members = identities(&mut w.rng, 3);
    let keys: Vec<IdentityKey> = members.iter().map(|m| *m.public()).collect();
    let meta = session_metadata();
    let lens: Vec<usize> = (1..=3)
        .map(|n| {
            sealed::seal_multi(
                w.alice.identity_key_pair(),
                &w.alice_cert,
                &keys[..n],
                &meta,
                &w.first,
                &mut w.rng,
            )
            .unwrap()
            .len()
        })
        .collect();
    assert_eq!(lens[1] - lens[0], RECIPIENT_HEADER_LEN);
    assert_eq!(lens[2] - lens[1], RECIPIENT_HEADER_LEN);
    assert_eq!(RECIPIENT_HEADER_LEN, 80);
    // One recipient costs the same as a single envelope, less the recipient count's 2 bytes.
    let single = sealed::seal(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        &keys[0],
        &meta,
        &w.first,
        &mut w.rng,
    )
    .unwrap();
    assert_eq!(lens[0], single.len() + 2);
    assert_eq!(ENVELOPE_OVERHEAD, 130);
    assert_eq!(
        MULTI_RECIPIENT_OVERHEAD + RECIPIENT_HEADER_LEN,
        ENVELOPE_OVERHEAD + 2
    );
}

#[test]
fn max_recipients_at_and_past_the_edge() {
    let mut w = world(34);
    let members = identities(&mut w.rng, MAX_RECIPIENTS + 1);
    let keys: Vec<IdentityKey> = members.iter().map(|m| *m.public()).collect();
    let meta = session_metadata();
    let multi = sealed::seal_multi(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        &keys[..MAX_RECIPIENTS],
        &meta,
        b"everyone",
        &mut w.rng,
    )
    .unwrap();
    assert_eq!(
        multi.len(),
        multi_recipient_len(&meta, &w.alice_cert, 8, MAX_RECIPIENTS)
    );
    assert!(multi.len() <= sealed::MAX_MULTI_RECIPIENT_LEN);
    let parsed = MultiRecipientMessage::decode(&multi).unwrap();
    assert_eq!(parsed.recipients().len(), MAX_RECIPIENTS);
    let last = parsed.envelope(MAX_RECIPIENTS - 1).unwrap();
    assert_eq!(
        sealed::open(&members[MAX_RECIPIENTS - 1], &last, &w.dep.trust, NOW)
            .unwrap()
            .message(),
        b"everyone"
    );
    assert_eq!(
        sealed::seal_multi(
            w.alice.identity_key_pair(),
            &w.alice_cert,
            &keys,
            &meta,
            b"everyone",
            &mut w.rng,
        ),
        Err(SealError::TooManyRecipients {
            count: MAX_RECIPIENTS + 1,
            max: MAX_RECIPIENTS
        })
    );
    // A hand-edited count past the limit (or zero) is refused by the relay's decoder.
    for count in [0u16, (MAX_RECIPIENTS + 1) as u16, u16::MAX] {
        let mut bad = multi.clone();
        bad[34..36].copy_from_slice(&count.to_be_bytes());
        assert_eq!(
            MultiRecipientMessage::decode(&bad).unwrap_err(),
            DecodeError::InvalidField {
                field: "recipient_count"
            }
        );
    }
}

#[test]
fn the_relay_decoder_is_strict() {
    let mut w = world(35);
    let members = identities(&mut w.rng, 2);
    let keys: Vec<IdentityKey> = members.iter().map(|m| *m.public()).collect();
    let multi = sealed::seal_multi(
        w.alice.identity_key_pair(),
        &w.alice_cert,
        &keys,
        &session_metadata(),
        b"m",
        &mut w.rng,
    )
    .unwrap();
    // A repeated recipient.
    let mut dup = multi.clone();
    let (first, second) = (36, 36 + RECIPIENT_HEADER_LEN);
    let key = dup[first..first + 32].to_vec();
    dup[second..second + 32].copy_from_slice(&key);
    assert_eq!(
        MultiRecipientMessage::decode(&dup).unwrap_err(),
        DecodeError::InvalidField { field: "recipient" }
    );
    // An invalid recipient key.
    let mut weak = multi.clone();
    weak[first..first + 32].copy_from_slice(&[0u8; 32]);
    assert_eq!(
        MultiRecipientMessage::decode(&weak).unwrap_err(),
        DecodeError::InvalidField { field: "recipient" }
    );
    // Truncated by one byte: the ciphertext is no longer a bucket plus tag.
    assert_eq!(
        MultiRecipientMessage::decode(&multi[..multi.len() - 1]).unwrap_err(),
        DecodeError::InvalidField {
            field: "ciphertext_len"
        }
    );
    // A single envelope is not a multi-recipient message, and vice versa.
    assert_eq!(
        MultiRecipientMessage::decode(&w.sealed_first).unwrap_err(),
        DecodeError::WrongType {
            expected: 0x31,
            found: 0x30
        }
    );
    assert_eq!(
        sealed::open(&members[0], &multi, &w.dep.trust, NOW),
        Err(OpenError::Malformed(DecodeError::WrongType {
            expected: 0x30,
            found: 0x31
        }))
    );
    // Tampering with the shared ciphertext breaks every recipient; with one header, only
    // that recipient.
    let mut body = multi.clone();
    *body.last_mut().unwrap() ^= 1;
    let parsed = MultiRecipientMessage::decode(&body).unwrap();
    for (i, m) in members.iter().enumerate() {
        assert_eq!(
            sealed::open(m, &parsed.envelope(i).unwrap(), &w.dep.trust, NOW),
            Err(OpenError::Tampered)
        );
    }
    let mut header = multi.clone();
    header[36 + 40] ^= 1;
    let parsed = MultiRecipientMessage::decode(&header).unwrap();
    assert_eq!(
        sealed::open(&members[0], &parsed.envelope(0).unwrap(), &w.dep.trust, NOW),
        Err(OpenError::Tampered)
    );
    assert!(sealed::open(&members[1], &parsed.envelope(1).unwrap(), &w.dep.trust, NOW).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Sizes and limits.

#[test]
fn certificate_and_envelope_sizes() {
    let w = world(36);
    assert_eq!(SERVER_CERTIFICATE_LEN, 122);
    assert_eq!(SENDER_CERTIFICATE_BASE_LEN, 249);
    assert_eq!(MAX_SENDER_CERTIFICATE_LEN, 249 + MAX_USER_ID_LEN);
    assert_eq!(w.alice_cert.as_bytes().len(), 249 + b"user-1".len());
    // A 16-byte user id (a UUID), no expiry: the measured fixed cost of sealing.
    let mut rng = rng(37);
    let uuid_cert = SenderCertificate::issue(
        &w.dep.server,
        &w.dep.server_cert,
        SenderCertificateInfo {
            serial: 5,
            user_id: vec![0xab; 16],
            device_id: 2,
            identity_key: *w.alice.identity_key(),
            validity: *w.alice_cert.validity(),
        },
    )
    .unwrap();
    assert_eq!(uuid_cert.as_bytes().len(), 265);
    let meta = session_metadata();
    assert_eq!(content_len(&meta, &uuid_cert, 0), 12 + 265);
    // Envelope = 130 + padded(277 + message + 1): 408 bytes of overhead before padding.
    for message_len in [0usize, 1, 100, 1_000, 10_000] {
        let env = sealed::seal(
            w.alice.identity_key_pair(),
            &uuid_cert,
            w.bob.identity_key(),
            &meta,
            &vec![1u8; message_len],
            &mut rng,
        )
        .unwrap();
        assert_eq!(env.len(), 130 + padded_len(277 + message_len));
        assert!(env.len() >= 408 + message_len);
    }
}

// ---------------------------------------------------------------------------------------------
// The padding property.

fn padding_fixture() -> (IdentityKeyPair, SenderCertificate, IdentityKey) {
    let mut r = rng(40);
    let dep = Deployment::new(&mut r);
    let sender = IdentityKeyPair::generate(&mut r);
    let recipient = IdentityKeyPair::generate(&mut r);
    let cert = dep.certify(sender.public(), 1);
    (sender, cert, *recipient.public())
}

proptest! {
    #![proptest_config(crate::common::proptest_config(96))]

    /// The envelope length is a function of the padding bucket alone: two messages give
    /// envelopes of equal length exactly when their contents fall into the same bucket, and
    /// the length is the bucket plus the fixed overhead, whatever the bytes, content type or
    /// expiry.
    #[test]
    fn ciphertext_length_depends_only_on_the_bucket(
        a in 0usize..20_000,
        b in 0usize..20_000,
        seed in any::<u64>(),
        expiry_a in any::<bool>(),
        expiry_b in any::<bool>(),
        kind in 1u8..=255,
    ) {
        let (sender, cert, recipient) = padding_fixture();
        let mut r = rng(seed);
        let meta = |expiry: bool, t: u8| {
            let m = Metadata::new(ContentType::from_byte(t).unwrap(), NOW);
            if expiry { m.with_expiry(NonZeroU32::new(60).unwrap()) } else { m }
        };
        let (ma, mb) = (meta(expiry_a, kind), meta(expiry_b, 1));
        let mut msg_a = vec![0u8; a];
        r.fill_bytes(&mut msg_a);
        let msg_b = vec![0xffu8; b];
        let env_a = sealed::seal(&sender, &cert, &recipient, &ma, &msg_a, &mut r).unwrap();
        let env_b = sealed::seal(&sender, &cert, &recipient, &mb, &msg_b, &mut r).unwrap();
        let bucket_a = padded_len(content_len(&ma, &cert, a));
        let bucket_b = padded_len(content_len(&mb, &cert, b));
        prop_assert_eq!(env_a.len(), ENVELOPE_OVERHEAD + bucket_a);
        prop_assert_eq!(env_b.len(), ENVELOPE_OVERHEAD + bucket_b);
        prop_assert_eq!(env_a.len() == env_b.len(), bucket_a == bucket_b);
    }

    /// Within one bucket every content length gives the same envelope length.
    #[test]
    fn every_length_in_a_bucket_gives_the_same_envelope(
        base in 0usize..30_000,
        seed in any::<u64>(),
    ) {
        let (sender, cert, recipient) = padding_fixture();
        let mut r = rng(seed);
        let meta = session_metadata();
        let fixed = content_len(&meta, &cert, 0);
        let bucket = padded_len(fixed + base);
        // The shortest and longest messages of this bucket.
        let mut lo = base;
        while lo > 0 && padded_len(fixed + lo - 1) == bucket {
            lo -= 1;
        }
        let mut hi = base;
        while padded_len(fixed + hi + 1) == bucket {
            hi += 1;
        }
        let env_lo = sealed::seal(&sender, &cert, &recipient, &meta, &vec![1; lo], &mut r).unwrap();
        let env_hi = sealed::seal(&sender, &cert, &recipient, &meta, &vec![2; hi], &mut r).unwrap();
        prop_assert_eq!(env_lo.len(), env_hi.len());
        let env_next = sealed::seal(&sender, &cert, &recipient, &meta, &vec![3; hi + 1], &mut r)
            .unwrap();
        prop_assert!(env_next.len() > env_hi.len());
        let multi_lo = sealed::seal_multi(&sender, &cert, &[recipient], &meta, &vec![1; lo], &mut r)
            .unwrap();
        let multi_hi = sealed::seal_multi(&sender, &cert, &[recipient], &meta, &vec![2; hi], &mut r)
            .unwrap();
        prop_assert_eq!(multi_lo.len(), multi_hi.len());
    }
}

#[test]
fn the_largest_multi_recipient_message_is_accepted_and_one_byte_more_is_not() {
    let mut w = world(38);
    let members = identities(&mut w.rng, MAX_RECIPIENTS);
    let keys: Vec<IdentityKey> = members.iter().map(|m| *m.public()).collect();
    let long_cert = SenderCertificate::issue(
        &w.dep.server,
        &w.dep.server_cert,
        SenderCertificateInfo {
            serial: 78,
            user_id: vec![b'u'; MAX_USER_ID_LEN],
            device_id: 1,
            identity_key: *w.alice.identity_key(),
            validity: *w.alice_cert.validity(),
        },
    )
    .unwrap();
    let meta = session_metadata().with_expiry(NonZeroU32::new(1).unwrap());
    let message = vec![0x5a; sealed::MAX_SEALED_MESSAGE_LEN];
    let multi = sealed::seal_multi(
        w.alice.identity_key_pair(),
        &long_cert,
        &keys,
        &meta,
        &message,
        &mut w.rng,
    )
    .unwrap();
    assert_eq!(multi.len(), sealed::MAX_MULTI_RECIPIENT_LEN);
    let parsed = MultiRecipientMessage::decode(&multi).unwrap();
    let env = parsed.envelope(MAX_RECIPIENTS - 1).unwrap();
    assert_eq!(env.len(), sealed::MAX_ENVELOPE_LEN);
    let opened = sealed::open(&members[MAX_RECIPIENTS - 1], &env, &w.dep.trust, NOW).unwrap();
    assert_eq!(opened.message(), &message[..]);
    let mut over = multi.clone();
    over.push(0);
    assert_eq!(
        MultiRecipientMessage::decode(&over).unwrap_err(),
        DecodeError::TooLarge {
            len: sealed::MAX_MULTI_RECIPIENT_LEN + 1,
            max: sealed::MAX_MULTI_RECIPIENT_LEN
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Attacker bytes never panic.

struct Genuine {
    bob: IdentityKeyPair,
    member: IdentityKeyPair,
    trust: TrustStore,
    single: Vec<u8>,
    multi: Vec<u8>,
}

/// A genuine envelope for Bob and a multi-recipient message for Bob and one member, built once.
fn genuine() -> &'static Genuine {
    static GENUINE: std::sync::OnceLock<Genuine> = std::sync::OnceLock::new();
    GENUINE.get_or_init(|| {
        let mut w = world(39);
        let member = IdentityKeyPair::generate(&mut w.rng);
        let multi = sealed::seal_multi(
            w.alice.identity_key_pair(),
            &w.alice_cert,
            &[*w.bob.identity_key(), *member.public()],
            &session_metadata(),
            b"m",
            &mut w.rng,
        )
        .unwrap();
        Genuine {
            bob: w.bob.identity_key_pair().clone(),
            member,
            trust: w.dep.trust.clone(),
            single: w.sealed_first.clone(),
            multi,
        }
    })
}

proptest! {
    #![proptest_config(crate::common::proptest_config(256))]

    /// Arbitrary bytes, with or without a valid version and type prefix, give an error from
    /// every decoder and from `open`, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(
        type_byte in prop_oneof![Just(0x30u8), Just(0x31), Just(0x32), Just(0x40), Just(0x41), any::<u8>()],
        mut bytes in proptest::collection::vec(any::<u8>(), 0..700),
        prefix in any::<bool>(),
    ) {
        if prefix && bytes.len() >= 2 {
            bytes[0] = 1;
            bytes[1] = type_byte;
        }
        let g = genuine();
        prop_assert!(sealed::open(&g.bob, &bytes, &g.trust, NOW).is_err());
        let _ = sealed::envelope_recipient(&bytes);
        let _ = MultiRecipientMessage::decode(&bytes);
        let _ = SenderCertificate::from_bytes(&bytes);
        let _ = ServerCertificate::from_bytes(&bytes);
    }

    /// Mutations of genuine envelopes and multi-recipient messages (byte changes, truncation,
    /// extension) are refused without panicking, by the recipient and by the relay.
    #[test]
    fn mutated_envelopes_never_panic_and_never_open(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in 0usize..300,
        extend in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let g = genuine();
        for original in [&g.single, &g.multi] {
            let mut bytes = original.clone();
            for (at, x) in &edits {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            bytes.truncate(bytes.len().saturating_sub(cut));
            bytes.extend_from_slice(&extend);
            if bytes == *original {
                // Two edits cancelled out.
                continue;
            }
            prop_assert!(sealed::open(&g.bob, &bytes, &g.trust, NOW).is_err());
            if let Ok(parsed) = MultiRecipientMessage::decode(&bytes) {
                for (i, (_, env)) in parsed.split().iter().enumerate() {
                    let who = if i == 0 { &g.bob } else { &g.member };
                    // Edits confined to the other recipient's header leave this one intact,
                    // so only the absence of a panic is checked here.
                    let _ = sealed::open(who, env, &g.trust, NOW);
                }
            }
        }
    }
}
