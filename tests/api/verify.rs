//! Identity verification: safety numbers and their QR payload, the account's verification
//! state (a changed key is refused until accepted), and certified business identities. Short
//! authentication strings are in `tests/api/sas.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::certificate::ServerCertificate;
use hushwire::verify::{
    MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS, OperatorInfo, QR_PAYLOAD_LEN, SAFETY_NUMBER_VERSION,
    verify_business_identity,
};
use hushwire::{
    DecodeError, Device, ErrorKind, Event, IdentityCertificate, IdentityKey, IdentityKeyPair,
    IssuerKeyPair, OrganizationRoots, PeerError, SafetyNumber, StorageKey, Timestamp, UserId,
    Validity, VerificationState, VerifyError,
};
use rand_core::SeedableRng;

use crate::common::NOW;
const DAY: u64 = 24 * 3600;

fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn keys(seed: u64, n: usize) -> Vec<IdentityKey> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| *IdentityKeyPair::generate(&mut rng).public())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Safety numbers and QR payloads

#[test]
fn both_sides_compute_the_same_safety_number() {
    let k = keys(1, 2);
    let (alice, bob) = (user("alice@example.com"), user("bob@example.com"));
    let on_alice = SafetyNumber::new(&alice, &k[0], &bob, &k[1]);
    let on_bob = SafetyNumber::new(&bob, &k[1], &alice, &k[0]);
    assert_eq!(on_alice.digits(), on_bob.digits());
    assert_eq!(on_alice.to_string(), on_bob.to_string());
    assert_eq!(on_alice.groups(), on_bob.groups());
    let digits = on_alice.digits();
    assert_eq!(digits.len(), 60);
    assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(on_alice.groups().len(), 12);
    assert_eq!(on_alice.to_string().split(' ').count(), 12);
    // Each half is one identity's fingerprint digits, the smaller first.
    let (a, b) = (on_alice.local().digits(), on_alice.remote().digits());
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    assert_eq!(digits, lo + &hi);
    // Each side's QR payload verifies on the other side.
    on_alice.verify_scanned(&on_bob.to_qr_payload()).unwrap();
    on_bob.verify_scanned(&on_alice.to_qr_payload()).unwrap();
}

#[test]
fn any_change_of_either_identity_changes_the_code() {
    let k = keys(2, 4);
    let (alice, bob) = (user("alice"), user("bob"));
    let base = SafetyNumber::new(&alice, &k[0], &bob, &k[1]).digits();
    let variants = [
        SafetyNumber::new(&alice, &k[2], &bob, &k[1]),
        SafetyNumber::new(&alice, &k[0], &bob, &k[3]),
        SafetyNumber::new(&user("alicf"), &k[0], &bob, &k[1]),
        SafetyNumber::new(&alice, &k[0], &user("bob2"), &k[1]),
        // Same keys, user ids swapped: a code names who, not only which key.
        SafetyNumber::new(&bob, &k[0], &alice, &k[1]),
    ];
    for (i, v) in variants.iter().enumerate() {
        let d = v.digits();
        assert_ne!(d, base, "variant {i}");
        // Both 30-digit halves of a changed identity differ, not just a few digits.
        let changed_halves = [&d[..30], &d[30..]]
            .iter()
            .filter(|h| !base.contains(*h))
            .count();
        assert!(changed_halves >= 1, "variant {i}");
    }
}

#[test]
fn qr_of_another_pair_is_rejected() {
    let k = keys(3, 4);
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let on_alice = SafetyNumber::new(&alice, &k[0], &bob, &k[1]);

    // The code of another conversation of Bob's.
    let bob_with_carol = SafetyNumber::new(&bob, &k[1], &carol, &k[2]);
    assert_eq!(
        on_alice.verify_scanned(&bob_with_carol.to_qr_payload()),
        Err(VerifyError::OtherPair)
    );

    // Someone in the middle: Alice sees Mallory's key as Bob's, Bob sees Mallory's as Alice's.
    let mallory = k[3];
    let alice_view = SafetyNumber::new(&alice, &k[0], &bob, &mallory);
    let bob_view = SafetyNumber::new(&bob, &k[1], &alice, &mallory);
    assert_ne!(alice_view.digits(), bob_view.digits());
    assert_eq!(
        alice_view.verify_scanned(&bob_view.to_qr_payload()),
        Err(VerifyError::OtherPair)
    );
    assert_eq!(
        bob_view.verify_scanned(&alice_view.to_qr_payload()),
        Err(VerifyError::OtherPair)
    );
    assert_eq!(VerifyError::OtherPair.kind(), ErrorKind::Tampered);

    // Our own code (a screenshot of our screen).
    assert_eq!(
        on_alice.verify_scanned(&on_alice.to_qr_payload()),
        Err(VerifyError::Swapped)
    );

    // Another safety-number version, another wire version, malformed bytes.
    let good = SafetyNumber::new(&bob, &k[1], &alice, &k[0]).to_qr_payload();
    let mut newer = good;
    newer[2] = SAFETY_NUMBER_VERSION + 1;
    assert_eq!(
        on_alice.verify_scanned(&newer),
        Err(VerifyError::SafetyNumberVersion {
            ours: SAFETY_NUMBER_VERSION,
            theirs: SAFETY_NUMBER_VERSION + 1
        })
    );
    let mut other_wire = good;
    other_wire[0] = 9;
    assert_eq!(
        on_alice.verify_scanned(&other_wire),
        Err(VerifyError::Malformed(DecodeError::UnknownVersion(9)))
    );
    assert_eq!(
        on_alice.verify_scanned(&good[..40]),
        Err(VerifyError::Malformed(DecodeError::Truncated {
            needed: QR_PAYLOAD_LEN - 40
        }))
    );
    let mut trailing = good.to_vec();
    trailing.push(0);
    assert!(matches!(
        on_alice.verify_scanned(&trailing),
        Err(VerifyError::Malformed(DecodeError::TooLarge { .. }))
    ));
    on_alice.verify_scanned(&good).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Verification state

/// Alice's account with sessions to Bob's first device (`k1`) and to the device Bob reinstalled
/// on (`k2`), so there is something to encrypt to either way.
struct Reinstall {
    rng: ChaCha20Rng,
    alice: Device,
    k1: IdentityKey,
    k2: IdentityKey,
}

fn reinstall(seed: u64) -> Reinstall {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut alice = Device::new(NOW, &mut rng);
    let bob1 = Device::new(NOW, &mut rng);
    let bob2 = Device::new(NOW, &mut rng);
    let _ = alice
        .start_session(&bob1.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let _ = alice
        .start_session(&bob2.account().published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    Reinstall {
        rng,
        alice,
        k1: *bob1.identity_key(),
        k2: *bob2.identity_key(),
    }
}

#[test]
fn verified_then_changed_key_is_blocked_until_accepted() {
    let mut r = reinstall(20);
    let bob = user("bob");
    let t = |d: u64| NOW.plus_secs(d * DAY);
    assert_eq!(r.alice.verification_state(&bob), None);

    // First sight: unverified, no event.
    assert_eq!(r.alice.record_identity(&bob, &r.k1, t(0)), Ok(vec![]));
    assert_eq!(
        r.alice.verification_state(&bob),
        Some(VerificationState::Unverified { identity_key: r.k1 })
    );
    assert_eq!(r.alice.record_identity(&bob, &r.k1, t(1)), Ok(vec![]));

    // Verified (after comparing the safety number).
    r.alice.mark_verified(&bob, &r.k1, t(2)).unwrap();
    assert_eq!(
        r.alice.verification_state(&bob),
        Some(VerificationState::Verified {
            identity_key: r.k1,
            verified_at: t(2)
        })
    );

    // The key changes: one event, then nothing more for the same key.
    let events = r.alice.record_identity(&bob, &r.k2, t(3)).unwrap();
    assert_eq!(
        events,
        vec![Event::IdentityChanged {
            user_id: bob.clone(),
            was_verified: true
        }]
    );
    assert_eq!(r.alice.record_identity(&bob, &r.k2, t(4)), Ok(vec![]));
    assert_eq!(r.alice.record_identity(&bob, &r.k2, t(5)), Ok(vec![]));
    assert_eq!(
        r.alice.verification_state(&bob),
        Some(VerificationState::ChangedSinceVerification {
            verified_key: r.k1,
            verified_at: t(2),
            current_key: r.k2,
            changed_at: t(3)
        })
    );

    // Encrypting to the new key is refused and changes nothing; the old key still works.
    assert!(r.alice.is_identity_blocked(&r.k2));
    let before = r.alice.active_session(&r.k2).cloned();
    assert_eq!(
        r.alice.encrypt_for(&r.k2, b"my card number", &mut r.rng),
        Err(PeerError::IdentityChanged)
    );
    assert_eq!(PeerError::IdentityChanged.kind(), ErrorKind::Untrusted);
    assert_eq!(r.alice.active_session(&r.k2).cloned(), before);
    r.alice
        .encrypt_for(&r.k1, b"to the old device", &mut r.rng)
        .unwrap();

    // Accepting another key than the one shown fails and changes nothing.
    assert_eq!(
        r.alice.accept_identity_change(&bob, &r.k1),
        Err(VerifyError::IdentityMismatch)
    );
    assert_eq!(
        r.alice.accept_identity_change(&user("nobody"), &r.k2),
        Err(VerifyError::UnknownUser)
    );
    assert!(r.alice.is_identity_blocked(&r.k2));

    // Accepted: unverified with the new key, encryption works again.
    r.alice.accept_identity_change(&bob, &r.k2).unwrap();
    assert_eq!(
        r.alice.verification_state(&bob),
        Some(VerificationState::Unverified { identity_key: r.k2 })
    );
    assert!(!r.alice.is_identity_blocked(&r.k2));
    r.alice
        .encrypt_for(&r.k2, b"hello again", &mut r.rng)
        .unwrap();
    // Accepting again is a no-op.
    r.alice.accept_identity_change(&bob, &r.k2).unwrap();
}

#[test]
fn verifying_the_new_key_also_ends_the_refusal() {
    let mut r = reinstall(21);
    let bob = user("bob");
    r.alice.mark_verified(&bob, &r.k1, NOW).unwrap();
    r.alice.record_identity(&bob, &r.k2, NOW).unwrap();
    assert_eq!(
        r.alice.mark_verified(&bob, &r.k1, NOW),
        Err(VerifyError::IdentityMismatch)
    );
    assert!(r.alice.is_identity_blocked(&r.k2));
    r.alice
        .mark_verified(&bob, &r.k2, NOW.plus_secs(60))
        .unwrap();
    assert_eq!(
        r.alice.verification_state(&bob),
        Some(VerificationState::Verified {
            identity_key: r.k2,
            verified_at: NOW.plus_secs(60)
        })
    );
    r.alice.encrypt_for(&r.k2, b"ok", &mut r.rng).unwrap();
}

#[test]
fn other_transitions() {
    let mut r = reinstall(22);
    let (bob, carol) = (user("bob"), user("carol"));
    let own = *r.alice.identity_key();

    // An unverified user's key change is reported but not blocked.
    r.alice.record_identity(&carol, &r.k1, NOW).unwrap();
    assert_eq!(
        r.alice.record_identity(&carol, &r.k2, NOW),
        Ok(vec![Event::IdentityChanged {
            user_id: carol.clone(),
            was_verified: false
        }])
    );
    assert!(!r.alice.is_identity_blocked(&r.k2));
    assert_eq!(
        r.alice.verification_state(&carol),
        Some(VerificationState::Unverified { identity_key: r.k2 })
    );

    // The verified key coming back after a change restores the verified state silently.
    r.alice.mark_verified(&bob, &r.k1, NOW).unwrap();
    assert_eq!(r.alice.record_identity(&bob, &r.k2, NOW).unwrap().len(), 1);
    assert_eq!(r.alice.record_identity(&bob, &r.k1, NOW), Ok(vec![]));
    assert!(!r.alice.is_identity_blocked(&r.k2));
    assert!(matches!(
        r.alice.verification_state(&bob),
        Some(VerificationState::Verified { .. })
    ));
    // A second change after that is a new change: reported again.
    assert_eq!(r.alice.record_identity(&bob, &r.k2, NOW).unwrap().len(), 1);
    assert_eq!(
        r.alice.users_with_identity(&r.k2),
        vec![bob.clone(), carol.clone()]
    );

    // Our own key is refused.
    assert_eq!(
        r.alice.record_identity(&user("me"), &own, NOW),
        Err(VerifyError::OwnIdentity)
    );
    assert_eq!(
        r.alice.mark_verified(&user("me"), &own, NOW),
        Err(VerifyError::OwnIdentity)
    );
    assert_eq!(r.alice.verification_state(&user("me")), None);

    // Clearing the verification of a changed user unblocks it; forgetting removes the record.
    assert!(r.alice.clear_verification(&bob));
    assert!(!r.alice.is_identity_blocked(&r.k2));
    assert!(!r.alice.clear_verification(&bob));
    assert!(r.alice.forget_identity(&bob));
    assert!(!r.alice.forget_identity(&bob));
    assert_eq!(r.alice.verification_state(&bob), None);
    assert_eq!(r.alice.identity_record_count(), 1);
}

#[test]
fn verification_state_survives_persistence() {
    let mut r = reinstall(23);
    let (bob, dave) = (user("bob"), user("dave"));
    r.alice.mark_verified(&bob, &r.k1, NOW).unwrap();
    r.alice
        .record_identity(&bob, &r.k2, NOW.plus_secs(5))
        .unwrap();
    r.alice.record_identity(&dave, &r.k1, NOW).unwrap();
    let key = StorageKey::from_bytes([9; 32]);
    let blob = r.alice.to_encrypted(&key, 7, &mut r.rng);
    let mut restored =
        Device::from_encrypted(&blob, &key, 7, &hushwire::persist::Expected::any()).unwrap();
    for u in [&bob, &dave] {
        assert_eq!(
            restored.verification_state(u),
            r.alice.verification_state(u)
        );
    }
    assert!(restored.is_identity_blocked(&r.k2));
    assert_eq!(
        restored.encrypt_for(&r.k2, b"x", &mut r.rng),
        Err(PeerError::IdentityChanged)
    );
    // No event again after restore for the key already reported.
    assert_eq!(restored.record_identity(&bob, &r.k2, NOW), Ok(vec![]));
}

// ---------------------------------------------------------------------------------------------
// Certified business identities

struct Org {
    root: IssuerKeyPair,
    key: IssuerKeyPair,
    key_cert: ServerCertificate,
    roots: OrganizationRoots,
}

const ORG_ROOT_ID: u32 = 100;
const ORG_KEY_ID: u32 = 7;

fn org(rng: &mut ChaCha20Rng, root_id: u32, name: &str) -> Org {
    let root = IssuerKeyPair::generate(rng);
    let key = IssuerKeyPair::generate(rng);
    let key_cert = ServerCertificate::issue(
        &root,
        root_id,
        ORG_KEY_ID,
        &key.public(),
        Validity::new(NOW.plus_secs(0), NOW.plus_secs(365 * DAY)).unwrap(),
    );
    let mut roots = OrganizationRoots::new();
    roots.pin(root_id, root.public(), name).unwrap();
    Org {
        root,
        key,
        key_cert,
        roots,
    }
}

fn operator_info(name: &str, key: &IdentityKey, from: u64, days: u64) -> OperatorInfo {
    OperatorInfo {
        serial: 1234,
        organization: "Acme Bank".into(),
        operator_name: name.into(),
        role: "Card support".into(),
        identity_key: *key,
        validity: Validity::new(
            NOW.plus_secs(from * DAY),
            NOW.plus_secs(from * DAY + days * DAY),
        )
        .unwrap(),
    }
}

/// Organizations pinned side by side number their keys and serials independently: revoking
/// one organization's key 7, or its certificate 1234, must leave another organization's key 7
/// and certificate 1234 trusted.
#[test]
fn revocations_are_scoped_by_root() {
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let bank = org(&mut rng, ORG_ROOT_ID, "Acme Bank");
    let shop = org(&mut rng, 200, "Acme Shop");
    let mut roots = bank.roots.clone();
    roots.pin(200, shop.root.public(), "Acme Shop").unwrap();
    let operator = *IdentityKeyPair::generate(&mut rng).public();
    let bank_cert = IdentityCertificate::issue(
        &bank.key,
        &bank.key_cert,
        operator_info("Dana Smith", &operator, 1, 7),
    )
    .unwrap();
    let mut shop_info = operator_info("Dana Smith", &operator, 1, 7);
    shop_info.organization = "Acme Shop".into();
    let shop_cert = IdentityCertificate::issue(&shop.key, &shop.key_cert, shop_info).unwrap();
    assert_eq!(bank_cert.serial(), shop_cert.serial());
    let now = NOW.plus_secs(2 * DAY);
    assert!(bank_cert.verify(&operator, &roots, now).is_ok());
    assert!(shop_cert.verify(&operator, &roots, now).is_ok());

    // The shop's organization key is revoked: only the shop's certificate stops verifying.
    let mut revoked = roots.clone();
    revoked.revoke_organization_key(200, ORG_KEY_ID).unwrap();
    assert_eq!(
        shop_cert.verify(&operator, &revoked, now),
        Err(VerifyError::Revoked)
    );
    assert_eq!(
        bank_cert
            .verify(&operator, &revoked, now)
            .map(|b| b.organization),
        Ok("Acme Bank".to_string())
    );

    // The shop's certificate 1234 is revoked: the bank's certificate 1234 still verifies.
    let mut revoked = roots.clone();
    revoked.revoke_certificate(200, ORG_KEY_ID, 1234).unwrap();
    assert_eq!(
        shop_cert.verify(&operator, &revoked, now),
        Err(VerifyError::Revoked)
    );
    assert_eq!(
        bank_cert
            .verify(&operator, &revoked, now)
            .map(|b| b.organization),
        Ok("Acme Bank".to_string())
    );
}

#[test]
fn business_identity_cases() {
    let mut rng = ChaCha20Rng::seed_from_u64(30);
    let bank = org(&mut rng, ORG_ROOT_ID, "Acme Bank");
    // An operator device with a real session to a customer.
    let mut operator = Device::new(NOW, &mut rng);
    operator
        .account_mut()
        .generate_one_time_prekeys(2, 2, NOW, &mut rng)
        .unwrap();
    let customer = Device::new(NOW, &mut rng);
    let bundle = operator.account().published_prekeys().take_bundle();
    let session = customer
        .account()
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    let operator_key = *session.remote_identity();
    assert_eq!(&operator_key, operator.identity_key());
    let now = NOW.plus_secs(2 * DAY);

    let cert = IdentityCertificate::issue(
        &bank.key,
        &bank.key_cert,
        operator_info("Dana Smith", &operator_key, 1, 7),
    )
    .unwrap();
    let check = |bytes: &[u8], roots: &OrganizationRoots, at: Timestamp| {
        verify_business_identity(bytes, session.remote_identity(), roots, at)
    };

    // Valid.
    let ok = check(cert.as_bytes(), &bank.roots, now).unwrap();
    assert_eq!(
        ok.to_string(),
        "verified as Acme Bank, Dana Smith, Card support"
    );
    assert_eq!(
        (
            ok.organization.as_str(),
            ok.operator_name.as_str(),
            ok.role.as_str()
        ),
        ("Acme Bank", "Dana Smith", "Card support")
    );
    assert_eq!(ok.identity_key, operator_key);
    assert_eq!(ok.root_id, ORG_ROOT_ID);
    assert_eq!(ok.valid_until, NOW.plus_secs(8 * DAY));

    // Expired, and not yet valid (edges of the half-open window).
    assert!(check(cert.as_bytes(), &bank.roots, NOW.plus_secs(8 * DAY - 1)).is_ok());
    assert_eq!(
        check(cert.as_bytes(), &bank.roots, NOW.plus_secs(8 * DAY)),
        Err(VerifyError::Expired {
            expires_at: NOW.plus_secs(8 * DAY)
        })
    );
    assert!(check(cert.as_bytes(), &bank.roots, NOW.plus_secs(DAY)).is_ok());
    assert_eq!(
        check(cert.as_bytes(), &bank.roots, NOW.plus_secs(DAY - 1)),
        Err(VerifyError::NotYetValid {
            not_before: NOW.plus_secs(DAY)
        })
    );

    // Wrong organization: a certificate from another organization's root, which the
    // customer's app does not pin.
    let other = org(&mut rng, 200, "Evil Corp");
    let foreign = IdentityCertificate::issue(
        &other.key,
        &other.key_cert,
        operator_info("Dana Smith", &operator_key, 1, 7),
    )
    .unwrap();
    assert_eq!(
        check(foreign.as_bytes(), &bank.roots, now),
        Err(VerifyError::ForeignOrganization { root_id: 200 })
    );
    // The same, claiming the pinned root's id: a forgery.
    let claims_root = ServerCertificate::issue(
        &other.root,
        ORG_ROOT_ID,
        ORG_KEY_ID,
        &other.key.public(),
        Validity::new(NOW, NOW.plus_secs(365 * DAY)).unwrap(),
    );
    let claims = IdentityCertificate::issue(
        &other.key,
        &claims_root,
        operator_info("Dana Smith", &operator_key, 1, 7),
    )
    .unwrap();
    assert_eq!(
        check(claims.as_bytes(), &bank.roots, now),
        Err(VerifyError::Forged)
    );
    // A pinned organization naming another one.
    let mut both = bank.roots.clone();
    both.pin(200, other.root.public(), "Evil Corp").unwrap();
    assert_eq!(
        check(foreign.as_bytes(), &both, now),
        Err(VerifyError::OrganizationMismatch { root_id: 200 })
    );

    // Forged: a flipped signature bit, and a certificate signed by an uncertified key.
    let mut tampered = cert.to_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(check(&tampered, &bank.roots, now), Err(VerifyError::Forged));
    let mut renamed = cert.to_bytes();
    let at = renamed.len() - 64 - "Card support".len();
    renamed[at] = b'K';
    assert_eq!(check(&renamed, &bank.roots, now), Err(VerifyError::Forged));
    let rogue = IssuerKeyPair::generate(&mut rng);
    let rogue_cert = ServerCertificate::issue(
        &rogue,
        ORG_ROOT_ID,
        ORG_KEY_ID,
        &rogue.public(),
        Validity::new(NOW, NOW.plus_secs(365 * DAY)).unwrap(),
    );
    let rogue_signed = IdentityCertificate::issue(
        &rogue,
        &rogue_cert,
        operator_info("Dana Smith", &operator_key, 1, 7),
    )
    .unwrap();
    assert_eq!(
        check(rogue_signed.as_bytes(), &bank.roots, now),
        Err(VerifyError::Forged)
    );

    // Operator key mismatch: a valid certificate of another operator, replayed.
    let colleague = *IdentityKeyPair::generate(&mut rng).public();
    let theirs = IdentityCertificate::issue(
        &bank.key,
        &bank.key_cert,
        operator_info("Sam Jones", &colleague, 1, 7),
    )
    .unwrap();
    assert_eq!(
        check(theirs.as_bytes(), &bank.roots, now),
        Err(VerifyError::OperatorKeyMismatch)
    );
    assert_eq!(VerifyError::OperatorKeyMismatch.kind(), ErrorKind::Tampered);

    // Revoked, by serial and by organization key.
    let mut revoked = bank.roots.clone();
    revoked
        .revoke_certificate(ORG_ROOT_ID, ORG_KEY_ID, 1234)
        .unwrap();
    assert_eq!(
        check(cert.as_bytes(), &revoked, now),
        Err(VerifyError::Revoked)
    );
    let mut revoked = bank.roots.clone();
    revoked
        .revoke_organization_key(ORG_ROOT_ID, ORG_KEY_ID)
        .unwrap();
    assert_eq!(
        check(cert.as_bytes(), &revoked, now),
        Err(VerifyError::Revoked)
    );

    // Too long-lived: refused when issuing.
    assert_eq!(
        IdentityCertificate::issue(
            &bank.key,
            &bank.key_cert,
            operator_info("Dana Smith", &operator_key, 1, 8)
        )
        .map(|_| ()),
        Err(VerifyError::LifetimeTooLong {
            lifetime_secs: 8 * DAY,
            max_secs: MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS
        })
    );

    // Malformed, and other structures.
    assert!(matches!(
        check(&cert.as_bytes()[..100], &bank.roots, now),
        Err(VerifyError::Malformed(DecodeError::Truncated { .. }))
    ));
    assert_eq!(
        check(bank.key_cert.as_bytes(), &bank.roots, now),
        Err(VerifyError::Malformed(DecodeError::WrongType {
            expected: 0x42,
            found: 0x40
        }))
    );
    assert_eq!(
        check(&[], &bank.roots, now),
        Err(VerifyError::Malformed(DecodeError::Truncated { needed: 1 }))
    );

    // Nothing pinned: never verified.
    assert_eq!(
        check(cert.as_bytes(), &OrganizationRoots::new(), now),
        Err(VerifyError::ForeignOrganization {
            root_id: ORG_ROOT_ID
        })
    );
    let _ = &bank.root;
}

#[test]
fn every_error_has_a_kind() {
    let all = [
        VerifyError::Malformed(DecodeError::Truncated { needed: 1 }),
        VerifyError::SafetyNumberVersion { ours: 1, theirs: 2 },
        VerifyError::OtherPair,
        VerifyError::Swapped,
        VerifyError::UserIdLength { len: 0, max: 128 },
        VerifyError::SessionNotEstablished,
        VerifyError::SasOtherRun,
        VerifyError::SasOtherSession,
        VerifyError::SasCommitmentMismatch,
        VerifyError::SasExpired { expired_at: NOW },
        VerifyError::UnknownUser,
        VerifyError::IdentityMismatch,
        VerifyError::OwnIdentity,
        VerifyError::TooManyIdentities { max: 1 },
        VerifyError::Forged,
        VerifyError::Revoked,
        VerifyError::Expired { expires_at: NOW },
    ];
    for e in all {
        let umbrella = hushwire::Error::from(e);
        assert_eq!(umbrella.kind(), e.kind());
        assert!(!umbrella.to_string().is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: attacker bytes never panic and never verify; encodings round-trip.

mod properties {
    use super::*;
    use proptest::prelude::*;

    struct Fixture {
        on_alice: SafetyNumber,
        good_qr: Vec<u8>,
        bank: Org,
        operator: IdentityKey,
        cert: IdentityCertificate,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
        FIXTURE.get_or_init(|| {
            let k = keys(40, 3);
            let (alice, bob) = (user("alice"), user("bob"));
            let on_alice = SafetyNumber::new(&alice, &k[0], &bob, &k[1]);
            let good_qr = SafetyNumber::new(&bob, &k[1], &alice, &k[0])
                .to_qr_payload()
                .to_vec();
            let mut rng = ChaCha20Rng::seed_from_u64(41);
            let bank = org(&mut rng, ORG_ROOT_ID, "Acme Bank");
            let cert = IdentityCertificate::issue(
                &bank.key,
                &bank.key_cert,
                operator_info("Dana Smith", &k[2], 1, 7),
            )
            .unwrap();
            Fixture {
                on_alice,
                good_qr,
                bank,
                operator: k[2],
                cert,
            }
        })
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        // Printable text, trimmed; at most `max` bytes once encoded.
        proptest::string::string_regex("[A-Za-z0-9àéïõüßÅÆØ ,.'&-]{1,40}")
            .unwrap()
            .prop_map(move |s| {
                let mut t = s.trim().to_owned();
                while t.len() > max {
                    t.pop();
                }
                t.trim().to_owned()
            })
            .prop_filter("non-empty", |s| !s.is_empty())
    }

    proptest! {
        #![proptest_config(crate::common::proptest_config(256))]

        #[test]
        fn random_qr_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let f = fixture();
            let result = f.on_alice.verify_scanned(&bytes);
            prop_assert!(result.is_err() || bytes == f.good_qr);
        }

        #[test]
        fn mutated_qr_never_verifies(index in 0usize..QR_PAYLOAD_LEN, flip in 1u8..=255) {
            let f = fixture();
            let mut bytes = f.good_qr.clone();
            bytes[index] ^= flip;
            prop_assert!(f.on_alice.verify_scanned(&bytes).is_err());
        }

        #[test]
        fn random_certificate_bytes_never_verify(
            bytes in proptest::collection::vec(any::<u8>(), 0..500),
        ) {
            let f = fixture();
            let now = NOW.plus_secs(2 * DAY);
            prop_assert!(verify_business_identity(&bytes, &f.operator, &f.bank.roots, now).is_err());
        }

        #[test]
        fn mutated_certificate_never_verifies(index in 0usize..278, flip in 1u8..=255) {
            let f = fixture();
            let mut bytes = f.cert.to_bytes();
            prop_assume!(index < bytes.len());
            bytes[index] ^= flip;
            let now = NOW.plus_secs(2 * DAY);
            prop_assert!(verify_business_identity(&bytes, &f.operator, &f.bank.roots, now).is_err());
        }

        #[test]
        fn truncated_or_extended_certificate_never_verifies(cut in 0usize..278, extra in 1usize..4) {
            let f = fixture();
            let now = NOW.plus_secs(2 * DAY);
            let bytes = f.cert.to_bytes();
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(
                verify_business_identity(&bytes[..cut], &f.operator, &f.bank.roots, now).is_err()
            );
            let mut longer = bytes.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            prop_assert!(
                verify_business_identity(&longer, &f.operator, &f.bank.roots, now).is_err()
            );
        }

        #[test]
        fn identity_certificate_round_trips(
            organization in text(64),
            name in text(64),
            role in text(64),
            serial in any::<u64>(),
            from in 0u64..1_000,
            lifetime in 1u64..=MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS,
        ) {
            let f = fixture();
            let validity = Validity::new(NOW.plus_secs(from), NOW.plus_secs(from + lifetime)).unwrap();
            let info = OperatorInfo {
                serial,
                organization: organization.clone(),
                operator_name: name.clone(),
                role: role.clone(),
                identity_key: f.operator,
                validity,
            };
            let cert = IdentityCertificate::issue(&f.bank.key, &f.bank.key_cert, info).unwrap();
            prop_assert_eq!(
                cert.as_bytes().len(),
                hushwire::verify::IDENTITY_CERTIFICATE_BASE_LEN
                    + organization.len()
                    + name.len()
                    + role.len()
            );
            let back = IdentityCertificate::from_bytes(cert.as_bytes()).unwrap();
            prop_assert_eq!(&back, &cert);
            prop_assert_eq!(back.organization(), organization.as_str());
            prop_assert_eq!(back.operator_name(), name.as_str());
            prop_assert_eq!(back.role(), role.as_str());
            prop_assert_eq!(back.serial(), serial);
            prop_assert_eq!(back.validity(), &validity);
        }
    }
}

#[test]
fn debug_output_shows_no_user_id_and_no_secret() {
    let k = keys(50, 2);
    let alice = user("alice@example.com");
    let sn = SafetyNumber::from_fingerprints(
        hushwire::verify::Fingerprint::from_bytes([0xab; 32]),
        hushwire::verify::Fingerprint::compute(&alice, &k[0]),
    );
    let shown = format!("{sn:?}");
    assert!(shown.starts_with(
        "SafetyNumber { local: Fingerprint(abababababababab..), remote: Fingerprint("
    ));
    assert!(!shown.contains("alice"));
    assert_eq!(format!("{alice:?}"), "UserId(len 17)");
    let event = Event::IdentityChanged {
        user_id: alice,
        was_verified: true,
    };
    assert_eq!(
        format!("{event:?}"),
        "IdentityChanged { user_id: UserId(len 17), was_verified: true }"
    );
    let roots = OrganizationRoots::new();
    assert_eq!(
        format!("{roots:?}"),
        "OrganizationRoots { organizations: {}, trust: TrustStore { root_ids: [], \
         revoked_server_keys: 0, revoked_certificates: 0 } }"
    );
}
