//! `certificate`: server certificates, sender certificates, identity (business) certificates,
//! issuer keys, safety-number QR payloads and the three SAS messages, decoded and verified
//! against a fixture's trust store, organization roots and safety number, and fed to the steps
//! of a SAS run on the session fixture's established sessions.
//!
//! Input: mode byte. Bit 0 clear: the rest goes to every decoder and verifier. Bit 0 set: the
//! next byte picks a genuine input (see [`CertificateFixture::inputs`]) and the rest are edits.
//!
//! Properties: whatever decodes re-encodes to exactly the input and decodes again to an equal
//! value; only a genuine certificate (or the peer's QR payload) verifies, and only if it does
//! in the fixture; `verify_business_identity` agrees with decode-then-verify. SAS runs: no step
//! panics; a refused step hands back a state that the genuine message still completes; only
//! the genuine reveal completes the accepter's run; an accept that completes the starter's run
//! names the run, and gives the honest string only if it is the genuine accept.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::verify::{
    OperatorInfo, SAS_MESSAGE_LEN, SasAccept, SasAwaitingAccept, SasAwaitingReveal, SasMessage,
    SasReady, SasReveal, SasStart, accept_sas, start_sas, verify_business_identity,
};
use hushwire::{
    IdentityCertificate, IdentityKey, IdentityKeyPair, IssuerKey, IssuerKeyPair, OrganizationRoots,
    SafetyNumber, SenderCertificate, ServerCertificate, Timestamp, TrustStore, UserId, Validity,
};
use rand_core::SeedableRng;

use super::{NOW, SEED, raw_or_edited, session_fixture};

const DAY: u64 = 86_400;

/// What a genuine input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Server,
    Sender,
    Identity,
    Qr,
    SasStart,
    SasAccept,
    SasReveal,
}

pub(crate) struct CertInput {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) bytes: Vec<u8>,
    /// Verifies in the fixture.
    pub(crate) valid: bool,
}

pub(crate) struct CertificateFixture {
    pub(crate) trust: TrustStore,
    pub(crate) roots: OrganizationRoots,
    pub(crate) operator: IdentityKey,
    pub(crate) safety: SafetyNumber,
    pub(crate) inputs: Vec<CertInput>,
}

pub(crate) fn fixture() -> &'static CertificateFixture {
    static FIXTURE: OnceLock<CertificateFixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn t(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

fn build() -> CertificateFixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 0xce27);
    let rng = &mut rng;
    let now = NOW.as_unix_secs();
    let valid = Validity::new(t(now - 3_600), NOW.plus_secs(DAY)).expect("validity");
    let expired = Validity::new(t(now - 2 * DAY), t(now - DAY)).expect("validity");
    let year = Validity::new(t(0), NOW.plus_secs(365 * DAY)).expect("validity");

    // The relay operator: root 1, server key 7 (and an unknown root 9).
    let root = IssuerKeyPair::generate(rng);
    let server = IssuerKeyPair::generate(rng);
    let stranger = IssuerKeyPair::generate(rng);
    let server_cert = ServerCertificate::issue(&root, 1, 7, &server.public(), year);
    let foreign_cert = ServerCertificate::issue(&stranger, 9, 8, &server.public(), year);
    let mut trust = TrustStore::new();
    trust.add_root(1, root.public()).expect("root");
    trust.revoke_certificate(1, 7, 99).expect("revoke");

    let alice = IdentityKeyPair::generate(rng);
    let bob = IdentityKeyPair::generate(rng);
    let sender = |serial: u64, validity: Validity, issuer: &ServerCertificate| {
        SenderCertificate::issue(
            &server,
            issuer,
            SenderCertificateInfo {
                serial,
                user_id: format!("alice-{serial}").into_bytes(),
                device_id: 3,
                identity_key: *alice.public(),
                validity,
            },
        )
        .expect("sender certificate")
    };

    // The organization: root 2 pinned as "Acme Bank", organization key 5, one operator.
    let org_root = IssuerKeyPair::generate(rng);
    let org_key = IssuerKeyPair::generate(rng);
    let org_key_cert = ServerCertificate::issue(&org_root, 2, 5, &org_key.public(), year);
    let mut roots = OrganizationRoots::new();
    roots.pin(2, org_root.public(), "Acme Bank").expect("pin");
    let operator = IdentityKeyPair::generate(rng);
    let identity = |organization: &str, validity: Validity| {
        IdentityCertificate::issue(
            &org_key,
            &org_key_cert,
            OperatorInfo {
                serial: 11,
                organization: organization.into(),
                operator_name: "Dana".into(),
                role: "Customer support".into(),
                identity_key: *operator.public(),
                validity,
            },
        )
        .expect("identity certificate")
    };

    let alice_user = UserId::new(b"alice").expect("user");
    let bob_user = UserId::new(b"bob").expect("user");
    let safety = SafetyNumber::new(&alice_user, alice.public(), &bob_user, bob.public());
    let peer = SafetyNumber::new(&bob_user, bob.public(), &alice_user, alice.public());

    let raw = vec![
        ("server", Kind::Server, server_cert.to_bytes()),
        ("server-foreign", Kind::Server, foreign_cert.to_bytes()),
        ("server-org", Kind::Server, org_key_cert.to_bytes()),
        (
            "sender",
            Kind::Sender,
            sender(1, valid, &server_cert).to_bytes(),
        ),
        (
            "sender-expired",
            Kind::Sender,
            sender(2, expired, &server_cert).to_bytes(),
        ),
        (
            "sender-revoked",
            Kind::Sender,
            sender(99, valid, &server_cert).to_bytes(),
        ),
        (
            "sender-foreign",
            Kind::Sender,
            sender(3, valid, &foreign_cert).to_bytes(),
        ),
        (
            "identity",
            Kind::Identity,
            identity("Acme Bank", valid).to_bytes(),
        ),
        (
            "identity-expired",
            Kind::Identity,
            identity("Acme Bank", expired).to_bytes(),
        ),
        (
            "identity-other-org",
            Kind::Identity,
            identity("Acme Bonk", valid).to_bytes(),
        ),
        ("qr-peer", Kind::Qr, peer.to_qr_payload().to_vec()),
        ("qr-own", Kind::Qr, safety.to_qr_payload().to_vec()),
        ("sas-start", Kind::SasStart, sas_run().start.to_vec()),
        ("sas-accept", Kind::SasAccept, sas_run().accept.to_vec()),
        ("sas-reveal", Kind::SasReveal, sas_run().reveal.to_vec()),
    ];
    let mut fixture = CertificateFixture {
        trust,
        roots,
        operator: *operator.public(),
        safety,
        inputs: Vec::new(),
    };
    let inputs = raw
        .into_iter()
        .map(|(name, kind, bytes)| {
            let valid = verifies(&fixture, kind, &bytes);
            CertInput {
                name,
                kind,
                bytes,
                valid,
            }
        })
        .collect();
    fixture.inputs = inputs;
    fixture
}

fn verifies(fixture: &CertificateFixture, kind: Kind, bytes: &[u8]) -> bool {
    match kind {
        Kind::Server => ServerCertificate::from_bytes(bytes)
            .is_ok_and(|c| c.validate(&fixture.trust, NOW).is_ok()),
        Kind::Sender => SenderCertificate::from_bytes(bytes)
            .is_ok_and(|c| c.validate(&fixture.trust, NOW).is_ok()),
        Kind::Identity => {
            verify_business_identity(bytes, &fixture.operator, &fixture.roots, NOW).is_ok()
        }
        Kind::Qr => fixture.safety.verify_scanned(bytes).is_ok(),
        Kind::SasStart => {
            let s = session_fixture();
            accept_sas(&s.bob, bytes, NOW, &mut sas_rng()).is_ok()
        }
        Kind::SasAccept => {
            let s = session_fixture();
            starter().receive_accept(&s.alice, bytes, NOW).is_ok()
        }
        Kind::SasReveal => {
            let s = session_fixture();
            accepter().receive_reveal(&s.bob, bytes, NOW).is_ok()
        }
    }
}

// ─── SAS runs ───────────────────────────────────────────────────────────────────────────────

/// The genuine messages of one SAS run on the session fixture (Alice starts), and the string
/// both ends show.
pub(crate) struct SasRun {
    pub(crate) start: [u8; SAS_MESSAGE_LEN],
    pub(crate) accept: [u8; SAS_MESSAGE_LEN],
    pub(crate) reveal: [u8; SAS_MESSAGE_LEN],
    pub(crate) ready: SasReady,
}

/// The RNG of every SAS state: the same draws each time, so every state rebuilt from it is
/// the run of [`sas_run`].
fn sas_rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(SEED ^ 0x5a5)
}

/// Alice's run waiting for the accept (the same run each call).
fn starter() -> SasAwaitingAccept {
    start_sas(&session_fixture().alice, NOW, &mut sas_rng())
        .expect("start")
        .0
}

/// Bob's run waiting for the reveal (the same run each call).
fn accepter() -> SasAwaitingReveal {
    accept_sas(
        &session_fixture().bob,
        &sas_run().start,
        NOW,
        &mut sas_rng(),
    )
    .expect("accept")
    .0
}

pub(crate) fn sas_run() -> &'static SasRun {
    static RUN: OnceLock<SasRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let s = session_fixture();
        let (waiting, start) = start_sas(&s.alice, NOW, &mut sas_rng()).expect("start");
        let (answering, accept) = accept_sas(&s.bob, &start, NOW, &mut sas_rng()).expect("accept");
        let (ready, reveal) = waiting
            .receive_accept(&s.alice, &accept, NOW)
            .expect("read accept");
        let on_bob = answering
            .receive_reveal(&s.bob, &reveal, NOW)
            .expect("read reveal");
        assert_eq!(ready.sas(), on_bob.sas());
        SasRun {
            start,
            accept,
            reveal,
            ready,
        }
    })
}

/// The SAS decoders and the three steps of a run on `bytes`.
fn check_sas(bytes: &[u8]) {
    let run = sas_run();
    let sessions = session_fixture();

    let decoded = SasMessage::from_bytes(bytes);
    let (start, accept, reveal) = (
        SasStart::from_bytes(bytes),
        SasAccept::from_bytes(bytes),
        SasReveal::from_bytes(bytes),
    );
    match decoded {
        Ok(m) => {
            assert_eq!(bytes.len(), SAS_MESSAGE_LEN);
            assert_eq!(m.to_bytes(), bytes);
            assert_eq!(SasMessage::from_bytes(&m.to_bytes()), Ok(m));
            match m {
                SasMessage::Start(x) => assert_eq!(start, Ok(x)),
                SasMessage::Accept(x) => assert_eq!(accept, Ok(x)),
                SasMessage::Reveal(x) => assert_eq!(reveal, Ok(x)),
                _ => unreachable!("three kinds"),
            }
        }
        Err(_) => assert!(start.is_err() && accept.is_err() && reveal.is_err()),
    }

    // Bob answers anything that decodes as a start; nothing else.
    assert_eq!(
        accept_sas(&sessions.bob, bytes, NOW, &mut sas_rng()).is_ok(),
        start.is_ok()
    );

    // Alice's run reads the bytes as the accept.
    match starter().receive_accept(&sessions.alice, bytes, NOW) {
        Ok((ready, reveal_bytes)) => {
            let a = accept.expect("only an accept completes the starter's run");
            assert_eq!(a.run_id(), ready.run_id());
            assert_eq!(reveal_bytes, run.reveal);
            assert_eq!(ready.sas() == run.ready.sas(), bytes == run.accept);
        }
        Err((back, _)) => {
            assert_ne!(bytes, run.accept);
            let (ready, _) = back
                .receive_accept(&sessions.alice, &run.accept, NOW)
                .expect("the genuine accept after a refusal");
            assert_eq!(ready.sas(), run.ready.sas());
        }
    }

    // Bob's run reads the bytes as the reveal: only the genuine one completes it.
    match accepter().receive_reveal(&sessions.bob, bytes, NOW) {
        Ok(ready) => {
            assert_genuine(fixture(), Kind::SasReveal, bytes);
            assert_eq!(ready.sas(), run.ready.sas());
        }
        Err((back, _)) => {
            let ready = back
                .receive_reveal(&sessions.bob, &run.reveal, NOW)
                .expect("the genuine reveal after a refusal");
            assert_eq!(ready.sas(), run.ready.sas());
        }
    }
}

/// Asserts that `bytes`, which verified as `kind`, are a genuine input that verifies.
fn assert_genuine(fixture: &CertificateFixture, kind: Kind, bytes: &[u8]) {
    match fixture
        .inputs
        .iter()
        .find(|g| g.kind == kind && g.bytes == bytes)
    {
        Some(g) => assert!(g.valid, "{} verifies but not in the fixture", g.name),
        None => panic!("a forged or edited {kind:?} verifies"),
    }
}

pub(crate) fn check_certificate(data: &[u8]) {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some(bytes) = raw_or_edited(mode, rest, &fixture.inputs, |g| &g.bytes) else {
        return;
    };
    let bytes = bytes.as_slice();

    if let Ok(cert) = ServerCertificate::from_bytes(bytes) {
        assert_eq!(cert.as_bytes(), bytes);
        assert_eq!(cert.to_bytes(), bytes);
        assert_eq!(
            ServerCertificate::from_bytes(&cert.to_bytes()),
            Ok(cert.clone())
        );
        assert_eq!(
            IssuerKey::from_bytes(cert.key().as_bytes()),
            Ok(*cert.key())
        );
        if cert.validate(&fixture.trust, NOW).is_ok() {
            assert_genuine(fixture, Kind::Server, bytes);
        }
    }
    if let Ok(cert) = SenderCertificate::from_bytes(bytes) {
        assert_eq!(cert.as_bytes(), bytes);
        assert_eq!(cert.to_bytes(), bytes);
        assert_eq!(
            SenderCertificate::from_bytes(&cert.to_bytes()),
            Ok(cert.clone())
        );
        let issuer = cert.server_certificate().as_bytes();
        assert!(bytes.windows(issuer.len()).any(|w| w == issuer));
        assert!(cert.user_id().len() <= hushwire::certificate::MAX_USER_ID_LEN);
        if cert.validate(&fixture.trust, NOW).is_ok() {
            assert_genuine(fixture, Kind::Sender, bytes);
        }
    }
    let decoded = IdentityCertificate::from_bytes(bytes);
    if let Ok(cert) = &decoded {
        assert_eq!(cert.as_bytes(), bytes);
        assert_eq!(cert.to_bytes(), bytes);
        assert_eq!(
            IdentityCertificate::from_bytes(&cert.to_bytes()).as_ref(),
            Ok(cert)
        );
        let verified = cert.verify(&fixture.operator, &fixture.roots, NOW);
        assert_eq!(
            verify_business_identity(bytes, &fixture.operator, &fixture.roots, NOW),
            verified.clone()
        );
        if let Ok(identity) = verified {
            assert_genuine(fixture, Kind::Identity, bytes);
            assert!(!identity.to_string().is_empty());
        }
    } else {
        assert!(verify_business_identity(bytes, &fixture.operator, &fixture.roots, NOW).is_err());
    }
    if fixture.safety.verify_scanned(bytes).is_ok() {
        assert_genuine(fixture, Kind::Qr, bytes);
    }
    if let Ok(key) = <[u8; 32]>::try_from(bytes) {
        if let Ok(issuer) = IssuerKey::from_bytes(&key) {
            assert_eq!(issuer.as_bytes(), &key);
            assert_eq!(IdentityKey::from_bytes(&key).map(|k| k.to_bytes()), Ok(key));
        } else {
            assert!(IdentityKey::from_bytes(&key).is_err());
        }
    }
    if let Ok(user) = UserId::new(bytes) {
        assert_eq!(user.as_bytes(), bytes);
    }
    check_sas(bytes);
}

pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, g) in fixture().inputs.iter().enumerate() {
        let mut raw = vec![0u8];
        raw.extend_from_slice(&g.bytes);
        out.push((format!("raw-{}", g.name), raw));
        let pick = u8::try_from(i).expect("few inputs");
        out.push((format!("mutate-{}-none", g.name), vec![1, pick]));
        let last = u16::try_from(g.bytes.len() - 1).expect("short");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("mutate-{}-flips", g.name),
            vec![1, pick, 0, 0, 20, 0x01, 0, hi, lo, 0x80],
        ));
    }
    out
}
