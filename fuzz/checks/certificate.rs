//! `certificate`: server certificates, sender certificates, identity (business) certificates,
//! issuer keys and safety-number QR payloads, decoded and verified against a fixture's trust
//! store, organization roots and safety number.
//!
//! Input: mode byte. Bit 0 clear: the rest goes to every decoder and verifier. Bit 0 set: the
//! next byte picks a genuine input (see [`CertificateFixture::inputs`]) and the rest are edits.
//!
//! Properties: whatever decodes re-encodes to exactly the input and decodes again to an equal
//! value; only a genuine certificate (or the peer's QR payload) verifies, and only if it does
//! in the fixture; `verify_business_identity` agrees with decode-then-verify.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::verify::{OperatorInfo, verify_business_identity};
use hushwire::{
    IdentityCertificate, IdentityKey, IdentityKeyPair, IssuerKey, IssuerKeyPair, OrganizationRoots,
    SafetyNumber, SenderCertificate, ServerCertificate, Timestamp, TrustStore, UserId, Validity,
};
use rand_core::SeedableRng;

use super::{NOW, SEED, raw_or_edited};

const DAY: u64 = 86_400;

/// What a genuine input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Server,
    Sender,
    Identity,
    Qr,
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
