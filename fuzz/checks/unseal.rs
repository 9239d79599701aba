//! `unseal`: sealed envelopes (single `0x30`, split `0x32`) and multi-recipient messages
//! (`0x31`) into [`sealed::open`], [`MultiRecipientMessage::decode`] and, for what opens, the
//! recipient's session.
//!
//! Input: mode byte. Bit 0 clear: the rest is the envelope or message. Bit 0 set: the next
//! byte picks a genuine input (see [`UnsealFixture::inputs`]) and the rest are edits.
//!
//! Properties: whatever decodes re-encodes (a multi-recipient message reassembles from its
//! split envelopes byte for byte); only a genuine envelope for Bob opens, to exactly what its
//! sender sealed; an opened session message decrypts only if it is genuine and unread, and
//! every failed decrypt leaves Bob's session unchanged.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::sealed::{
    self, EnvelopeKind, MultiRecipientMessage, RECIPIENT_HEADER_LEN, envelope_recipient,
};
use hushwire::{
    Account, ContentType, IdentityKey, IdentityKeyPair, IssuerKeyPair, Metadata, Opened,
    SenderCertificate, ServerCertificate, Session, Timestamp, TrustStore, Validity,
};
use rand_core::SeedableRng;

use super::{NOW, SEED, mutate};

const DAY: u64 = 86_400;

/// A genuine envelope or multi-recipient message and what Bob reads from it.
pub(crate) struct SealedInput {
    pub(crate) name: &'static str,
    pub(crate) bytes: Vec<u8>,
    /// What `open` gives Bob (`None`: not for Bob, or its certificate does not validate).
    pub(crate) opened: Option<Opened>,
    /// The inner session message's plaintext, if it decrypts on Bob's session.
    pub(crate) plaintext: Option<Vec<u8>>,
}

pub(crate) struct UnsealFixture {
    pub(crate) bob: IdentityKeyPair,
    pub(crate) bob_session: Session,
    pub(crate) trust: TrustStore,
    pub(crate) inputs: Vec<SealedInput>,
}

pub(crate) fn fixture() -> &'static UnsealFixture {
    static FIXTURE: OnceLock<UnsealFixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn certify(
    server: &IssuerKeyPair,
    server_cert: &ServerCertificate,
    key: &IdentityKey,
    serial: u64,
    validity: Validity,
) -> SenderCertificate {
    SenderCertificate::issue(
        server,
        server_cert,
        SenderCertificateInfo {
            serial,
            user_id: format!("user-{serial}").into_bytes(),
            device_id: 1,
            identity_key: *key,
            validity,
        },
    )
    .expect("certificate")
}

fn build() -> UnsealFixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 0x5ea1);
    let rng = &mut rng;
    let root = IssuerKeyPair::generate(rng);
    let server = IssuerKeyPair::generate(rng);
    let server_cert = ServerCertificate::issue(
        &root,
        1,
        7,
        &server.public(),
        Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(365 * DAY)).expect("validity"),
    );
    let mut trust = TrustStore::new();
    trust.add_root(1, root.public()).expect("root");
    let valid = Validity::new(
        Timestamp::from_unix_secs(NOW.as_unix_secs() - 3_600),
        NOW.plus_secs(DAY),
    )
    .expect("validity");
    let expired = Validity::new(
        Timestamp::from_unix_secs(NOW.as_unix_secs() - 2 * DAY),
        Timestamp::from_unix_secs(NOW.as_unix_secs() - DAY),
    )
    .expect("validity");

    let alice_account = Account::new(NOW, rng);
    let mut bob_account = Account::new(NOW, rng);
    bob_account
        .generate_one_time_prekeys(2, 2, NOW, rng)
        .expect("prekeys");
    let carol = IdentityKeyPair::generate(rng);
    let alice = alice_account.identity_key_pair();
    let bob = bob_account.identity_key_pair().clone();
    let alice_cert = certify(&server, &server_cert, alice.public(), 1, valid);
    let alice_expired = certify(&server, &server_cert, alice.public(), 2, expired);
    let carol_cert = certify(&server, &server_cert, carol.public(), 3, valid);

    let bundle = bob_account.published_prekeys().take_bundle();
    let mut to_bob = alice_account
        .create_outbound_session(&bundle, rng)
        .expect("outbound");
    let first = to_bob.encrypt(b"first", rng).expect("encrypt");
    let mut bob_session = bob_account
        .create_inbound_session(&first, NOW)
        .expect("inbound")
        .session;
    let reply = bob_session.encrypt(b"reply", rng).expect("encrypt");
    let _ = to_bob.decrypt(&reply).expect("alice reads");
    let m1 = to_bob.encrypt(b"sealed m1", rng).expect("encrypt");
    let m2 = to_bob.encrypt(b"sealed m2 (multi)", rng).expect("encrypt");

    let session = Metadata::new(ContentType::SESSION, NOW);
    let group = Metadata::new(ContentType::GROUP, NOW)
        .with_expiry(std::num::NonZeroU32::new(3_600).expect("non-zero"));
    let app = Metadata::new(ContentType::from_byte(0x80).expect("type"), NOW);
    let bob_key = *bob.public();

    let mut raw: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let seal = |cert: &SenderCertificate,
                sender: &IdentityKeyPair,
                meta: &Metadata,
                message: &[u8],
                rng: &mut ChaCha20Rng| {
        sealed::seal(sender, cert, &bob_key, meta, message, rng).expect("seal")
    };
    raw.push((
        "single-session",
        seal(&alice_cert, alice, &session, &m1, rng),
    ));
    raw.push((
        "single-first",
        seal(&alice_cert, alice, &session, &first, rng),
    ));
    raw.push((
        "single-group",
        seal(&alice_cert, alice, &group, b"group bytes", rng),
    ));
    raw.push(("single-app-empty", seal(&alice_cert, alice, &app, b"", rng)));
    raw.push((
        "single-expired-cert",
        seal(&alice_expired, alice, &session, &m1, rng),
    ));
    raw.push((
        "single-carol",
        seal(&carol_cert, &carol, &session, &m1, rng),
    ));
    let to_carol = sealed::seal(alice, &alice_cert, carol.public(), &session, &m1, rng)
        .expect("seal for carol");
    raw.push(("single-for-carol", to_carol));
    let multi = sealed::seal_multi(
        alice,
        &alice_cert,
        &[*carol.public(), bob_key],
        &session,
        &m2,
        rng,
    )
    .expect("seal multi");
    let split = MultiRecipientMessage::decode(&multi)
        .expect("multi decodes")
        .split();
    raw.push(("multi", multi));
    for ((_, envelope), name) in split.into_iter().zip(["split-carol", "split-bob"]) {
        raw.push((name, envelope));
    }

    let inputs = raw
        .into_iter()
        .map(|(name, bytes)| {
            let opened = sealed::open(&bob, &bytes, &trust, NOW).ok();
            let plaintext = opened.as_ref().and_then(|o| {
                let mut s = bob_session.clone();
                o.decrypt(&mut s).ok().map(|d| d.plaintext)
            });
            SealedInput {
                name,
                bytes,
                opened,
                plaintext,
            }
        })
        .collect();
    UnsealFixture {
        bob,
        bob_session,
        trust,
        inputs,
    }
}

/// Reassembles a multi-recipient message from its split envelopes (SPEC.md §13 layouts).
fn reassemble(data: &[u8], m: &MultiRecipientMessage<'_>) -> Vec<u8> {
    let split = m.split();
    assert_eq!(split.len(), m.recipients().len());
    let mut out = data[..2].to_vec();
    let first = &split.first().expect("at least one recipient").1;
    out.extend_from_slice(&first[34..66]);
    out.extend_from_slice(&u16::try_from(split.len()).expect("count").to_be_bytes());
    let rest = RECIPIENT_HEADER_LEN - 32;
    for (recipient, envelope) in &split {
        assert_eq!(&envelope[2..34], recipient.as_bytes());
        assert_eq!(&envelope[34..66], &first[34..66]);
        assert_eq!(envelope_recipient(envelope), Ok(*recipient));
        out.extend_from_slice(&envelope[2..34]);
        out.extend_from_slice(&envelope[66..66 + rest]);
    }
    out.extend_from_slice(&first[66 + rest..]);
    out
}

pub(crate) fn check_unseal(data: &[u8]) {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let message = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let Some((&pick, edits)) = rest.split_first() else {
            return;
        };
        let inputs = &fixture.inputs;
        mutate(&inputs[usize::from(pick) % inputs.len()].bytes, edits)
    };
    let genuine = fixture.inputs.iter().find(|g| g.bytes == message);

    // The relay's parse of a multi-recipient message: reassembles to the input.
    let mut envelopes = vec![message.clone()];
    if let Ok(multi) = MultiRecipientMessage::decode(&message) {
        assert_eq!(reassemble(&message, &multi), message);
        if let Some(envelope) = multi.envelope_for(fixture.bob.public()) {
            envelopes.push(envelope);
        }
    }

    for envelope in envelopes {
        if let Ok(recipient) = envelope_recipient(&envelope) {
            assert_eq!(&envelope[2..34], recipient.as_bytes());
        }
        let opened = sealed::open(&fixture.bob, &envelope, &fixture.trust, NOW);
        let original = fixture.inputs.iter().find(|g| g.bytes == envelope);
        match opened {
            Ok(opened) => {
                let Some(original) = original else {
                    panic!(
                        "a forged or edited envelope opens: {:?} {:?}",
                        opened.metadata(),
                        opened.message()
                    );
                };
                assert_eq!(Some(&opened), original.opened.as_ref(), "{}", original.name);
                assert_eq!(
                    opened.kind(),
                    if envelope[1] == 0x30 {
                        EnvelopeKind::Single
                    } else {
                        EnvelopeKind::MultiRecipient
                    }
                );
                assert_eq!(opened.sender_identity(), opened.sender().identity_key());
                check_session_decrypt(&opened, original);
            }
            Err(e) => {
                if let Some(original) = original {
                    assert!(
                        original.opened.is_none(),
                        "genuine {} fails to open: {e:?}",
                        original.name
                    );
                }
            }
        }
    }
    if let Some(g) = genuine {
        assert_eq!(g.bytes, message);
    }
}

fn check_session_decrypt(opened: &Opened, original: &SealedInput) {
    let fixture = fixture();
    let mut session = fixture.bob_session.clone();
    match opened.decrypt(&mut session) {
        Ok(read) => {
            assert_eq!(
                Some(&read.plaintext),
                original.plaintext.as_ref(),
                "{}",
                original.name
            );
            let after = session.clone();
            assert!(
                opened.decrypt(&mut session).is_err(),
                "{} replayed",
                original.name
            );
            assert!(session == after, "rejected replay changed the session");
        }
        Err(e) => {
            assert!(
                session == fixture.bob_session,
                "failed decrypt ({e:?}) changed the session"
            );
            assert!(
                original.plaintext.is_none(),
                "genuine {} does not decrypt: {e:?}",
                original.name
            );
        }
    }
}

pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, g) in fixture().inputs.iter().enumerate() {
        let mut raw = vec![0u8];
        raw.extend_from_slice(&g.bytes);
        out.push((format!("raw-{}", g.name), raw));
        let pick = u8::try_from(i).expect("few inputs");
        out.push((format!("mutate-{}-none", g.name), vec![1, pick]));
        // A flipped bit in the ephemeral key, one at the end (the body's tag).
        let last = u16::try_from(g.bytes.len() - 1).expect("short");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("mutate-{}-flips", g.name),
            vec![1, pick, 0, 0, 40, 0x01, 0, hi, lo, 0x80],
        ));
    }
    out
}
