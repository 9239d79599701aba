//! `unseal`: sealed envelopes (single `0x30`, split `0x32`, and the hybrid `0x33`, `0x35`)
//! and multi-recipient messages (`0x31`, hybrid `0x34`) into [`sealed::open_with`] (Bob's
//! recipient keys, with hybrid envelopes enabled, and again refusing classical envelopes),
//! [`MultiRecipientMessage::decode`], [`EnvelopeKeyPublic::decode`] (the published envelope
//! key, type `0x36`) and, for what opens, the recipient's session.
//!
//! Input: mode byte. Bit 1 clear, the envelope comes from the fuzzer: bit 0 clear, the rest
//! is the envelope or message; bit 0 set, the next byte picks a genuine input (see
//! [`UnsealFixture::inputs`]) and the rest are edits.
//!
//! Bit 1 set, a *certified* sender seals what the fuzzer gives it: the next byte picks the
//! sender (bit 0: Alice or Carol) and the content type (bit 1: session or group); then, as
//! above, bit 0 of the mode picks raw bytes or an edited genuine inner message (see
//! [`UnsealFixture::inner`]). The opened content goes to [`Opened::decrypt`] on Bob's
//! session, [`Opened::create_inbound_session`] on Bob's account before any session, and
//! [`hushwire::Device::decrypt_sealed`] on Bob's device that already talks to Alice.
//!
//! Properties: whatever decodes re-encodes (a multi-recipient message reassembles from its
//! split envelopes byte for byte); only a genuine envelope for Bob opens, to exactly what its
//! sender sealed, hybrid exactly when its type is; refusing classical envelopes changes the
//! outcome of exactly the classical envelopes that would open (to `ClassicalRefused`); an opened session message decrypts only if it is genuine and unread, and
//! every failed decrypt leaves Bob's session unchanged. A certified sender's content is
//! accepted by the session and account paths only if it is a genuine message of that
//! sender's, with the result the genuine message gets; every failure leaves the session or
//! account (compared by its encrypted export under a fixed key and nonce) unchanged, and what
//! is accepted once is refused the second time.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::sealed::{
    self, EnvelopeKeyPublic, EnvelopeKind, HYBRID_RECIPIENT_HEADER_LEN, MultiRecipientMessage,
    RECIPIENT_HEADER_LEN, envelope_recipient,
};
use hushwire::wire::PreKeyMessage;
use hushwire::{
    Account, ContentType, Device, IdentityKey, IdentityKeyPair, IssuerKeyPair, Metadata, OpenError,
    Opened, SenderCertificate, ServerCertificate, Session, StorageKey, Timestamp, TrustStore,
    Validity,
};
use rand_core::SeedableRng;

use super::{NOW, SEED, raw_or_edited};

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

/// The three ways Bob's app can consume an opened session message.
#[derive(Clone, Copy, Debug)]
enum Consume {
    /// [`Opened::decrypt`] on [`UnsealFixture::bob_session`].
    Session,
    /// [`Opened::create_inbound_session`] on [`UnsealFixture::bob_fresh`].
    Inbound,
    /// [`hushwire::Device::decrypt_sealed`] on [`UnsealFixture::bob_peered`].
    Account,
}

const CONSUME: [Consume; 3] = [Consume::Session, Consume::Inbound, Consume::Account];

/// A certified sender: its key pair and certificate.
pub(crate) struct Certified {
    pub(crate) name: &'static str,
    pub(crate) keys: IdentityKeyPair,
    pub(crate) certificate: SenderCertificate,
}

/// A genuine session message a certified sender may seal, and what each way of consuming
/// it gives when sealed by each sender (`expected[sender][consume]`, `None`: refused).
pub(crate) struct InnerMessage {
    pub(crate) name: &'static str,
    pub(crate) bytes: Vec<u8>,
    expected: [[Option<Vec<u8>>; 3]; 2],
}

pub(crate) struct UnsealFixture {
    pub(crate) bob: IdentityKeyPair,
    /// Bob's account with hybrid envelopes enabled (its recipient keys open every input).
    pub(crate) bob_hybrid: Account,
    /// The same, refusing classical envelopes.
    pub(crate) bob_strict: Account,
    pub(crate) bob_session: Session,
    /// Bob's account with its prekeys and no session yet.
    pub(crate) bob_fresh: Device,
    /// Bob's account after reading Alice's first message and replying (holds `bob_session`).
    pub(crate) bob_peered: Device,
    /// [`account_state`] of `bob_fresh` and `bob_peered`.
    fresh_state: Vec<u8>,
    peered_state: Vec<u8>,
    pub(crate) trust: TrustStore,
    pub(crate) inputs: Vec<SealedInput>,
    /// Alice and Carol, both certified by the trusted server.
    pub(crate) senders: [Certified; 2],
    pub(crate) inner: Vec<InnerMessage>,
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
    let mut bob_account = Device::new(NOW, rng);
    bob_account
        .account_mut()
        .generate_one_time_prekeys(2, 2, NOW, rng)
        .expect("prekeys");
    let carol = IdentityKeyPair::generate(rng);
    let alice = alice_account.identity_key_pair();
    let bob = bob_account.account().identity_key_pair().clone();
    let alice_cert = certify(&server, &server_cert, alice.public(), 1, valid);
    let alice_expired = certify(&server, &server_cert, alice.public(), 2, expired);
    let carol_cert = certify(&server, &server_cert, carol.public(), 3, valid);

    let mut published = bob_account.account().published_prekeys();
    let bundle = published.take_bundle();
    let mut to_bob = alice_account
        .create_outbound_session(&bundle, rng)
        .expect("outbound");
    let first = to_bob.encrypt(b"first", rng).expect("encrypt");
    let bob_fresh = bob_account.clone();
    let mut bob_peered = bob_account.clone();
    let _ = bob_peered
        .decrypt_from(alice.public(), &first, NOW)
        .expect("bob reads the first message");
    let reply = bob_peered
        .encrypt_for(alice.public(), b"reply", rng)
        .expect("encrypt");
    let bob_session = bob_peered
        .active_session(alice.public())
        .expect("session with alice")
        .clone();
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
    // Hybrid envelopes (SPEC.md §13.8), drawn from their own generator so that the classical
    // inputs above keep their bytes.
    let mut hybrid_rng = ChaCha20Rng::seed_from_u64(SEED ^ 0x5ea2);
    let hrng = &mut hybrid_rng;
    let mut bob_hybrid = bob_account.account().clone();
    bob_hybrid.enable_hybrid_envelopes(NOW, hrng);
    let mut bob_strict = bob_hybrid.clone();
    bob_strict.set_refuse_classical_envelopes(true);
    let mut dave = Account::new(NOW, hrng);
    dave.enable_hybrid_envelopes(NOW, hrng);
    let bob_envelope_key = bob_hybrid.envelope_key().expect("enabled");
    let dave_envelope_key = dave.envelope_key().expect("enabled");
    raw.push((
        "hybrid-single-session",
        sealed::seal_hybrid(alice, &alice_cert, &bob_envelope_key, &session, &m1, hrng)
            .expect("seal hybrid"),
    ));
    raw.push((
        "hybrid-single-group",
        sealed::seal_hybrid(
            alice,
            &alice_cert,
            &bob_envelope_key,
            &group,
            b"group",
            hrng,
        )
        .expect("seal hybrid"),
    ));
    let hybrid_multi = sealed::seal_multi_hybrid(
        alice,
        &alice_cert,
        &[&dave_envelope_key, &bob_envelope_key],
        &session,
        &m2,
        hrng,
    )
    .expect("seal multi hybrid");
    let hybrid_split = MultiRecipientMessage::decode(&hybrid_multi)
        .expect("hybrid multi decodes")
        .split();
    raw.push(("hybrid-multi", hybrid_multi));
    for ((_, envelope), name) in hybrid_split
        .into_iter()
        .zip(["hybrid-split-dave", "hybrid-split-bob"])
    {
        raw.push((name, envelope));
    }
    // The published envelope key (type 0x36): a decoder of its own, checked below.
    raw.push(("envelope-key-bob", bob_envelope_key.encode()));

    let inputs = raw
        .into_iter()
        .map(|(name, bytes)| {
            let opened =
                sealed::open_with(&bob_hybrid.recipient_keys(NOW), &bytes, &trust, NOW).ok();
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
    // What a certified sender may seal: Alice's messages (a prekey message, its embedded
    // ratchet message, two ratchet messages, a restart with the other one-time prekey) and
    // Carol's first message to Bob.
    let embedded = PreKeyMessage::decode(&first)
        .expect("prekey message")
        .message()
        .as_bytes()
        .to_vec();
    let restart = alice_account
        .create_outbound_session(&published.take_bundle(), rng)
        .expect("outbound")
        .encrypt(b"restart", rng)
        .expect("encrypt");
    let carol_account = Account::from_identity(carol.clone(), NOW, rng);
    let carol_first = carol_account
        .create_outbound_session(&published.take_bundle(), rng)
        .expect("outbound")
        .encrypt(b"carol first", rng)
        .expect("encrypt");
    let senders = [
        Certified {
            name: "alice",
            keys: alice.clone(),
            certificate: alice_cert,
        },
        Certified {
            name: "carol",
            keys: carol,
            certificate: carol_cert,
        },
    ];
    let mut fixture = UnsealFixture {
        bob,
        bob_hybrid,
        bob_strict,
        bob_session,
        fresh_state: account_state(&bob_fresh),
        peered_state: account_state(&bob_peered),
        bob_fresh,
        bob_peered,
        trust,
        inputs,
        senders,
        inner: Vec::new(),
    };
    let raw_inner = [
        ("first", first),
        ("first-embedded", embedded),
        ("m1", m1),
        ("m2", m2),
        ("restart", restart),
        ("carol-first", carol_first),
    ];
    for (name, bytes) in raw_inner {
        let expected = [0, 1].map(|sender| {
            let opened = seal_inner(&fixture, sender, ContentType::SESSION, &bytes);
            CONSUME.map(|how| consume(&fixture, &opened, how).ok())
        });
        fixture.inner.push(InnerMessage {
            name,
            bytes,
            expected,
        });
    }
    // Which (sender, way of consuming) pairs accept each genuine message: a message is read
    // once, and only from its own sender.
    let accepted: Vec<[[bool; 3]; 2]> = fixture
        .inner
        .iter()
        .map(|g| {
            g.expected
                .each_ref()
                .map(|by| by.each_ref().map(Option::is_some))
        })
        .collect();
    let none = [false; 3];
    assert_eq!(
        accepted,
        [
            [[false, true, false], none], // first: already read, except by a fresh account
            [none, none],                 // first-embedded: already read
            [[true, false, true], none],  // m1
            [[true, false, true], none],  // m2
            [[false, true, true], none],  // restart: a new session
            [none, [false, true, true]],  // carol-first: only from Carol
        ]
    );
    fixture
}

/// Seals `message` from certified sender `sender` to Bob and opens it (a genuine sender's
/// envelope always opens).
fn seal_inner(
    fixture: &UnsealFixture,
    sender: usize,
    content_type: ContentType,
    message: &[u8],
) -> Opened {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 0x5e);
    let sender = &fixture.senders[sender];
    let envelope = sealed::seal(
        &sender.keys,
        &sender.certificate,
        fixture.bob.public(),
        &Metadata::new(content_type, NOW),
        message,
        &mut rng,
    )
    .expect("a certified sender seals");
    let opened = sealed::open(&fixture.bob, &envelope, &fixture.trust, NOW)
        .expect("a certified sender's envelope opens");
    assert_eq!(opened.message(), message);
    assert_eq!(opened.sender_identity(), sender.keys.public());
    opened
}

/// Bob's account as exported under a fixed key, generation and nonce: equal bytes, equal
/// state.
fn account_state(account: &Device) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    account.to_encrypted(&StorageKey::from_bytes([7; 32]), 1, &mut rng)
}

/// Consumes `opened` on a copy of Bob's state the way `how` says; on an error, asserts that
/// the state is unchanged; on success, that the same content is refused a second time and
/// that refusal changes nothing either.
fn consume(fixture: &UnsealFixture, opened: &Opened, how: Consume) -> Result<Vec<u8>, String> {
    match how {
        Consume::Session => {
            let mut session = fixture.bob_session.clone();
            match opened.decrypt(&mut session) {
                Ok(read) => {
                    let after = session.clone();
                    assert!(opened.decrypt(&mut session).is_err(), "replay accepted");
                    assert!(session == after, "refused replay changed the session");
                    Ok(read.plaintext)
                }
                Err(e) => {
                    assert!(session == fixture.bob_session, "{e:?} changed the session");
                    Err(format!("{e:?}"))
                }
            }
        }
        Consume::Inbound | Consume::Account => {
            let (original, original_state) = if matches!(how, Consume::Inbound) {
                (&fixture.bob_fresh, &fixture.fresh_state)
            } else {
                (&fixture.bob_peered, &fixture.peered_state)
            };
            let mut account = original.clone();
            let attempt = |account: &mut Device| match how {
                Consume::Inbound => opened
                    .create_inbound_session(account.account_mut(), NOW)
                    .map(|inbound| inbound.plaintext)
                    .map_err(|e| format!("{e:?}")),
                _ => account
                    .decrypt_sealed(opened, NOW)
                    .map(|read| read.plaintext)
                    .map_err(|e| format!("{e:?}")),
            };
            match attempt(&mut account) {
                Ok(plaintext) => {
                    // `create_inbound_session` hands the session to the caller: the account
                    // keeps only the spent one-time prekey and the replay record.
                    let after = account_state(&account);
                    assert!(attempt(&mut account).is_err(), "{how:?}: replay accepted");
                    assert_eq!(account_state(&account), after, "refused replay changed it");
                    Ok(plaintext)
                }
                Err(e) => {
                    assert!(
                        account_state(&account) == *original_state,
                        "{how:?}: {e} changed the account"
                    );
                    Err(e)
                }
            }
        }
    }
}

/// Mode bit 1: a certified sender seals fuzzer-chosen content to Bob.
fn check_certified_content(mode: u8, rest: &[u8]) {
    let fixture = fixture();
    let Some((&select, rest)) = rest.split_first() else {
        return;
    };
    let sender = usize::from(select & 1);
    let content_type = if select & 2 == 0 {
        ContentType::SESSION
    } else {
        ContentType::GROUP
    };
    let Some(message) = raw_or_edited(mode, rest, &fixture.inner, |g| &g.bytes) else {
        return;
    };
    if message.len() > sealed::MAX_SEALED_MESSAGE_LEN {
        return;
    }
    let opened = seal_inner(fixture, sender, content_type, &message);
    let genuine = fixture.inner.iter().find(|g| g.bytes == message);
    for (index, how) in CONSUME.into_iter().enumerate() {
        let result = consume(fixture, &opened, how);
        match (genuine, content_type == ContentType::SESSION) {
            (Some(genuine), true) => assert_eq!(
                result.as_ref().ok(),
                genuine.expected[sender][index].as_ref(),
                "{} sealed by {}, {how:?}: {result:?}",
                genuine.name,
                fixture.senders[sender].name
            ),
            _ => assert!(
                result.is_err(),
                "{how:?} accepts content that is not a genuine session message of {}",
                fixture.senders[sender].name
            ),
        }
    }
}

/// Reassembles a multi-recipient message (classical or hybrid) from its split envelopes
/// (SPEC.md §13.3, §13.8.6 layouts).
fn reassemble(data: &[u8], m: &MultiRecipientMessage<'_>) -> Vec<u8> {
    let split = m.split();
    assert_eq!(split.len(), m.recipients().len());
    let mut out = data[..2].to_vec();
    let first = &split.first().expect("at least one recipient").1;
    out.extend_from_slice(&first[34..66]);
    out.extend_from_slice(&u16::try_from(split.len()).expect("count").to_be_bytes());
    let header_len = if m.is_hybrid() {
        HYBRID_RECIPIENT_HEADER_LEN
    } else {
        RECIPIENT_HEADER_LEN
    };
    let rest = header_len - 32;
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
    if mode & 2 != 0 {
        check_certified_content(mode, rest);
        return;
    }
    let Some(message) = raw_or_edited(mode, rest, &fixture.inputs, |g| &g.bytes) else {
        return;
    };
    let genuine = fixture.inputs.iter().find(|g| g.bytes == message);

    // A published envelope key: what decodes re-encodes to the input, and its signature
    // verifies only if it is Bob's genuine key.
    if let Ok(key) = EnvelopeKeyPublic::decode(&message) {
        assert_eq!(key.encode(), message);
        let bobs = fixture.bob_hybrid.envelope_key().expect("enabled");
        assert_eq!(key.verify(), key == bobs, "a forged envelope key verifies");
    }

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
        let keys = fixture.bob_hybrid.recipient_keys(NOW);
        let opened = sealed::open_with(&keys, &envelope, &fixture.trust, NOW);
        let strict = sealed::open_with(
            &fixture.bob_strict.recipient_keys(NOW),
            &envelope,
            &fixture.trust,
            NOW,
        );
        let classical = matches!(envelope.get(1), Some(0x30 | 0x32));
        match (&opened, &strict) {
            (Ok(_), Err(OpenError::ClassicalRefused)) if classical => {}
            (Err(OpenError::NotForUs | OpenError::Malformed(_)), _) => {
                assert_eq!(strict, opened)
            }
            (Err(_), Err(OpenError::ClassicalRefused)) if classical => {}
            _ => assert_eq!(
                strict, opened,
                "refusing classical envelopes changed a result"
            ),
        }
        if let Ok(o) = &opened {
            assert_eq!(o.is_hybrid(), !classical);
        }
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
                    if envelope[1] == 0x30 || envelope[1] == 0x33 {
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
    for (i, g) in fixture().inner.iter().enumerate() {
        let pick = u8::try_from(i).expect("few inner messages");
        for (select, sender) in [(0u8, "alice"), (1, "carol"), (2, "alice-group")] {
            let mut raw = vec![2, select];
            raw.extend_from_slice(&g.bytes);
            out.push((format!("certified-{sender}-raw-{}", g.name), raw));
        }
        let last = u16::try_from(g.bytes.len() - 1).expect("short");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("certified-alice-mutate-{}-tag", g.name),
            vec![3, 0, pick, 0, hi, lo, 0x01],
        ));
    }
    out
}
