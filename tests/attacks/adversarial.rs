//! One test per attack. Every rejection must be a typed error, must leave the session or
//! account exactly as it was, and must not stop the genuine conversation.
//!
//! Byte offsets are those of SPEC.md §6 (wire format version 1).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use std::sync::OnceLock;

use crate::common::{Accounts, NOW, Pair, establish, establish_from, rng};
use ed25519_dalek::Signer;
use hushwire::wire::{MessageKind, message_kind};
use hushwire::{
    Account, BUNDLE_LEN_WITHOUT_ONE_TIME, ConfigError, DEFAULT_MAX_RECEIVING_CHAINS,
    DEFAULT_SKIPPED_KEY_MAX_AGE, DecodeError, DecryptError, Decrypted, EncryptError, Event,
    HARD_MAX_SKIPPED_KEY_MAX_AGE, HandshakeError, IdentityKey, KemPreKeyKind, KeyError,
    MAX_MESSAGE_LEN, MAX_ONE_TIME_KEM_PREKEYS, MAX_ONE_TIME_PREKEYS, MAX_PLAINTEXT_LEN,
    MAX_REPLAY_RECORDS, MAX_RETIRED_PREKEYS, PREKEY_GRACE_SECS, PreKeyBundle,
    RATCHET_MESSAGE_OVERHEAD, RatchetConfig, Session, SignedKeyKind, Timestamp,
};

// ---------------------------------------------------------------------------------------
// Layout (SPEC.md §6)
// ---------------------------------------------------------------------------------------

/// Ratchet message: end of the header nonce, end of the encrypted header, end of the prefix
/// (the session tag sits between the last two) that the body's associated data covers.
const NONCE_END: usize = 14;
const HEADER_END: usize = 70;
const PREFIX_LEN: usize = RATCHET_MESSAGE_OVERHEAD - 16;

/// Prekey message: identity key and base key offsets.
const IDENTITY_AT: usize = 2;
const BASE_KEY_AT: usize = 34;

/// Bundle: identity key offset, and the longest bundle (with a one-time prekey).
const BUNDLE_IDENTITY_AT: usize = 2;
const BUNDLE_MAX_LEN: usize = BUNDLE_LEN_WITHOUT_ONE_TIME + 36;

/// Field ends of a ratchet message: where a message cut short runs out.
fn ratchet_field_ends() -> Vec<usize> {
    let mut ends = vec![
        1,
        2,
        NONCE_END,
        HEADER_END,
        PREFIX_LEN,
        RATCHET_MESSAGE_OVERHEAD,
    ];
    ends.dedup();
    ends
}

/// Field ends of a prekey message with a one-time prekey, then of its ratchet message.
fn prekey_field_ends() -> Vec<usize> {
    let fields = [1, 2, 34, 66, 70, 71, 75, 79, 79 + 1088];
    let inner = ratchet_field_ends().into_iter().map(|e| e + 79 + 1088);
    fields.into_iter().chain(inner).collect()
}

// ---------------------------------------------------------------------------------------
// Hostile keys
// ---------------------------------------------------------------------------------------

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// X25519 u-coordinates of small order, canonical and not, with and without the (ignored)
/// top bit: 0, 1, the two points of order 8, p − 1, p and p + 1.
fn low_order_x25519_points() -> Vec<[u8; 32]> {
    let base = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    let mut points = Vec::new();
    for h in base {
        let p = hex32(h);
        let mut top = p;
        top[31] |= 0x80;
        points.push(p);
        points.push(top);
    }
    points
}

/// Ed25519 encodings of the eight small-order points, plus non-canonical encodings of some.
fn small_order_edwards_points() -> Vec<[u8; 32]> {
    [
        // identity (0, 1), and with the sign bit set ("-0")
        "0100000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000080",
        // order 2: (0, -1), and with the sign bit set
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        // order 4: y = 0, both signs; and y = p (non-canonical 0)
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        // y = p + 1 (non-canonical identity)
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        // order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ]
    .into_iter()
    .map(hex32)
    .collect()
}

/// Signs like the library does (SPEC.md §3.2, §3.3), so a test can vouch for keys an honest
/// account would never sign: a malicious responder controls its own identity key.
fn sign(identity_seed: &[u8; 32], label: &[u8], parts: &[&[u8]]) -> [u8; 64] {
    let key = ed25519_dalek::SigningKey::from_bytes(identity_seed);
    let mut message = label.to_vec();
    for part in parts {
        message.extend_from_slice(part);
    }
    key.sign(&message).to_bytes()
}

fn resign_signed_prekey(bundle: &mut PreKeyBundle, seed: &[u8; 32]) {
    let spk = &mut bundle.signed_prekey;
    spk.signature = sign(
        seed,
        b"hushwire/v1/sig/signed-prekey",
        &[&spk.id.to_be_bytes(), &spk.key],
    );
}

fn resign_kem_prekey(bundle: &mut PreKeyBundle, seed: &[u8; 32]) {
    let kem = &mut bundle.kem_prekey;
    let kind = match kem.kind {
        KemPreKeyKind::OneTime => 1u8,
        KemPreKeyKind::LastResort => 2u8,
        _ => unreachable!(),
    };
    kem.signature = sign(
        seed,
        b"hushwire/v1/sig/kem-prekey",
        &[&[kind], &kem.id.to_be_bytes(), kem.key.as_slice()],
    );
}

fn seed_of(account: &Account) -> [u8; 32] {
    *account.identity_key_pair().dangerous_to_seed()
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

/// `bytes` is rejected with exactly `expected`, and the session is unchanged.
#[track_caller]
fn rejects(session: &mut Session, bytes: &[u8], expected: DecryptError) {
    let before = session.clone();
    let result = session.decrypt(bytes).map(|d| d.plaintext);
    assert_eq!(result, Err(expected));
    assert_eq!(*session, before, "a rejected message changed the session");
}

/// `bytes` is refused as a new session with exactly `expected`, and the account is unchanged
/// (same keys held and published). Whether its replay records are unchanged shows when the
/// genuine message is accepted afterwards.
#[track_caller]
fn refuses(account: &mut Account, bytes: &[u8], now: Timestamp, expected: HandshakeError) {
    let counts = account.one_time_prekey_counts();
    let published = account.published_prekeys();
    let result = account
        .create_inbound_session(bytes, now)
        .map(|s| s.plaintext);
    assert_eq!(result, Err(expected));
    assert_eq!(account.one_time_prekey_counts(), counts);
    assert_eq!(account.published_prekeys(), published);
}

/// The conversation goes on in both directions.
#[track_caller]
fn still_talking(p: &mut Pair) {
    for (i, text) in [&b"still there?"[..], b"yes", b"good"]
        .into_iter()
        .enumerate()
    {
        let (from, to) = if i % 2 == 0 {
            (&mut p.alice, &mut p.bob)
        } else {
            (&mut p.bob, &mut p.alice)
        };
        let m = from.encrypt(text, &mut p.rng).unwrap();
        assert_eq!(to.decrypt(&m).unwrap().plaintext, text);
    }
}

/// One receiving ratchet step for Bob: Bob replies, then Alice answers on a new chain.
/// Returns the events of Bob's decrypt of Alice's answer.
fn bob_step(p: &mut Pair) -> Vec<Event> {
    let reply = p.bob.encrypt(b"bob", &mut p.rng).unwrap();
    assert_eq!(p.alice.decrypt(&reply).unwrap().plaintext, b"bob");
    let answer = p.alice.encrypt(b"alice", &mut p.rng).unwrap();
    let read = p.bob.decrypt(&answer).unwrap();
    assert_eq!(read.plaintext, b"alice");
    read.events
}

/// A pair past the prekey phase: both sides send plain ratchet messages.
fn talking_pair(seed: u64) -> Pair {
    let mut p = common::pair(seed);
    assert!(bob_step(&mut p).is_empty());
    p
}

fn with_config(mut p: Pair, config: RatchetConfig) -> Pair {
    p.alice.set_config(config);
    p.bob.set_config(config);
    p
}

// ---------------------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------------------

#[test]
fn signed_prekey_with_bad_signature_is_rejected() {
    let mut rng = rng(101);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    let other_key = bundle.one_time_prekey.unwrap().key;

    let mut forgeries = Vec::new();
    for bit in [0, 9, 511] {
        let mut b = bundle.clone();
        b.signed_prekey.signature[bit / 8] ^= 1 << (bit % 8);
        forgeries.push(b);
    }
    let mut b = bundle.clone();
    b.signed_prekey.key = other_key; // the server swaps in a key of its choice
    forgeries.push(b);
    let mut b = bundle.clone();
    b.signed_prekey.id += 1; // the id is signed too
    forgeries.push(b);
    let mut b = bundle.clone();
    b.signed_prekey.signature = [0; 64];
    forgeries.push(b);

    let expected = KeyError::InvalidSignature(SignedKeyKind::SignedPreKey);
    for forged in &forgeries {
        assert_eq!(forged.verify(), Err(expected));
        // Through the wire too: the decoder keeps the bytes, the session refuses them.
        let decoded = PreKeyBundle::from_bytes(&forged.to_bytes()).unwrap();
        for b in [forged, &decoded] {
            assert_eq!(
                accounts
                    .alice
                    .create_outbound_session(b, &mut rng)
                    .unwrap_err(),
                HandshakeError::Key(expected)
            );
        }
    }
    let mut p = establish_from(&mut accounts, &bundle, rng);
    still_talking(&mut p);
}

#[test]
fn kem_prekey_with_bad_signature_is_rejected() {
    let mut rng = rng(102);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    assert_eq!(bundle.kem_prekey.kind, KemPreKeyKind::OneTime);

    let mut forgeries = Vec::new();
    for bit in [0, 300, 511] {
        let mut b = bundle.clone();
        b.kem_prekey.signature[bit / 8] ^= 1 << (bit % 8);
        forgeries.push(b);
    }
    for byte in [0, 600, 1183] {
        let mut b = bundle.clone();
        b.kem_prekey.key[byte] ^= 0x01;
        forgeries.push(b);
    }
    let mut b = bundle.clone();
    b.kem_prekey.kind = KemPreKeyKind::LastResort; // the kind is signed
    forgeries.push(b);
    let mut b = bundle.clone();
    b.kem_prekey.id += 1; // so is the id
    forgeries.push(b);
    let mut b = bundle.clone();
    // The last-resort key of another account, validly signed by that account.
    let stranger = Account::new(NOW, &mut rng);
    b.kem_prekey = stranger.published_prekeys().last_resort_kem_prekey;
    forgeries.push(b);

    let expected = KeyError::InvalidSignature(SignedKeyKind::KemPreKey);
    for forged in &forgeries {
        assert_eq!(forged.verify(), Err(expected));
        assert_eq!(
            accounts
                .alice
                .create_outbound_session(forged, &mut rng)
                .unwrap_err(),
            HandshakeError::Key(expected)
        );
    }
    let mut p = establish_from(&mut accounts, &bundle, rng);
    still_talking(&mut p);
}

#[test]
fn validly_signed_malformed_kem_key_is_rejected() {
    let mut rng = rng(103);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    let seed = seed_of(&accounts.bob);

    // The signing helper reproduces the account's own signature (Ed25519 is deterministic).
    let mut same = bundle.clone();
    resign_kem_prekey(&mut same, &seed);
    assert_eq!(same, bundle);

    // A malicious responder signs an encapsulation key that fails the FIPS 203 check.
    let mut bad = bundle.clone();
    *bad.kem_prekey.key = [0xff; 1184];
    resign_kem_prekey(&mut bad, &seed);
    assert_eq!(bad.verify(), Ok(()));
    assert_eq!(
        accounts
            .alice
            .create_outbound_session(&bad, &mut rng)
            .unwrap_err(),
        HandshakeError::Key(KeyError::InvalidKemKey)
    );
    let mut p = establish_from(&mut accounts, &bundle, rng);
    still_talking(&mut p);
}

#[test]
fn low_order_one_time_prekey_is_non_contributory() {
    let mut rng = rng(104);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    // The one-time prekey is not signed: any server can swap it.
    for point in low_order_x25519_points() {
        let mut b = bundle.clone();
        b.one_time_prekey.as_mut().unwrap().key = point;
        assert_eq!(b.verify(), Ok(()));
        assert_eq!(
            accounts
                .alice
                .create_outbound_session(&b, &mut rng)
                .unwrap_err(),
            HandshakeError::NonContributory,
            "one-time prekey {}",
            hex::encode(point)
        );
    }
    let mut p = establish_from(&mut accounts, &bundle, rng);
    still_talking(&mut p);
}

#[test]
fn low_order_signed_prekey_is_non_contributory() {
    let mut rng = rng(105);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    let seed = seed_of(&accounts.bob);

    let mut same = bundle.clone();
    resign_signed_prekey(&mut same, &seed);
    assert_eq!(same, bundle);

    // A malicious responder signs a low-order signed prekey, with and without a one-time key.
    for point in low_order_x25519_points() {
        for one_time in [true, false] {
            let mut b = bundle.clone();
            b.signed_prekey.key = point;
            resign_signed_prekey(&mut b, &seed);
            if !one_time {
                b.one_time_prekey = None;
            }
            assert_eq!(b.verify(), Ok(()));
            assert_eq!(
                accounts
                    .alice
                    .create_outbound_session(&b, &mut rng)
                    .unwrap_err(),
                HandshakeError::NonContributory,
                "signed prekey {}",
                hex::encode(point)
            );
        }
    }
    let mut p = establish_from(&mut accounts, &bundle, rng);
    still_talking(&mut p);
}

// ---------------------------------------------------------------------------------------
// Identity keys
// ---------------------------------------------------------------------------------------

#[test]
fn small_order_identity_key_is_rejected() {
    let mut rng = rng(106);
    let mut accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let bundle_bytes = accounts.bob.published_prekeys().take_bundle().to_bytes();
    let mut p = establish(&mut accounts, rng);
    let second = p.alice.encrypt(b"second", &mut p.rng).unwrap();

    for point in small_order_edwards_points() {
        let name = hex::encode(point);
        assert_eq!(
            IdentityKey::from_bytes(&point),
            Err(KeyError::InvalidIdentityKey),
            "{name}"
        );
        assert_eq!(
            IdentityKey::try_from(&point[..]),
            Err(KeyError::InvalidIdentityKey)
        );

        // In a bundle: the decoder refuses it.
        let mut b = bundle_bytes.clone();
        b[BUNDLE_IDENTITY_AT..BUNDLE_IDENTITY_AT + 32].copy_from_slice(&point);
        assert_eq!(
            PreKeyBundle::from_bytes(&b),
            Err(DecodeError::InvalidField {
                field: "identity_key"
            })
        );

        // In a prekey message: no new session, and the existing one does not take it.
        let mut m = second.clone();
        m[IDENTITY_AT..IDENTITY_AT + 32].copy_from_slice(&point);
        refuses(
            &mut fresh_bob,
            &m,
            NOW,
            HandshakeError::Key(KeyError::InvalidIdentityKey),
        );
        rejects(&mut p.bob, &m, DecryptError::OtherSession);
    }
    assert_eq!(
        IdentityKey::try_from(&[1u8; 31][..]),
        Err(KeyError::InvalidIdentityKey)
    );
    // The genuine message is accepted by both.
    assert_eq!(
        fresh_bob
            .create_inbound_session(&second, NOW)
            .unwrap()
            .plaintext,
        b"second"
    );
    assert_eq!(p.bob.decrypt(&second).unwrap().plaintext, b"second");
    still_talking(&mut p);
}

/// A key with a small-order component (`A + T`) gives its owner up to eight encodings of one
/// Diffie-Hellman key, and an encoding with `y ≥ p` a second spelling of a point: either
/// would let one device pass as several identities. Both are refused, in bundles and in
/// prekey messages.
#[test]
fn identity_key_with_torsion_or_non_canonical_encoding_is_rejected() {
    let mut rng = rng(141);
    let mut accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let bundle_bytes = accounts.bob.published_prekeys().take_bundle().to_bytes();
    let alice_key = *accounts.alice.identity_key().as_bytes();
    let a = ed25519_dalek::VerifyingKey::from_bytes(&alice_key)
        .unwrap()
        .to_edwards();

    let mut hostile = Vec::new();
    // Alice's key plus each small-order point other than the identity.
    for t in small_order_edwards_points() {
        if let Ok(t) = ed25519_dalek::VerifyingKey::from_bytes(&t) {
            let mixed = (a + t.to_edwards()).compress().to_bytes();
            if mixed != alice_key {
                hostile.push(mixed);
            }
        }
    }
    // y = p + k for every small k: the non-canonical spelling of the point with y = k.
    for k in 0u8..=18 {
        let mut b = [0xffu8; 32];
        b[0] = 0xed + k;
        b[31] = 0x7f;
        hostile.push(b);
    }
    assert!(hostile.len() > 20);
    assert!(IdentityKey::from_bytes(&alice_key).is_ok());

    let mut p = establish(&mut accounts, rng);
    let second = p.alice.encrypt(b"second", &mut p.rng).unwrap();
    for key in hostile {
        let name = hex::encode(key);
        assert_eq!(
            IdentityKey::from_bytes(&key),
            Err(KeyError::InvalidIdentityKey),
            "{name}"
        );
        let mut b = bundle_bytes.clone();
        b[BUNDLE_IDENTITY_AT..BUNDLE_IDENTITY_AT + 32].copy_from_slice(&key);
        assert_eq!(
            PreKeyBundle::from_bytes(&b),
            Err(DecodeError::InvalidField {
                field: "identity_key"
            })
        );
        let mut m = second.clone();
        m[IDENTITY_AT..IDENTITY_AT + 32].copy_from_slice(&key);
        refuses(
            &mut fresh_bob,
            &m,
            NOW,
            HandshakeError::Key(KeyError::InvalidIdentityKey),
        );
        rejects(&mut p.bob, &m, DecryptError::OtherSession);
    }
    assert_eq!(p.bob.decrypt(&second).unwrap().plaintext, b"second");
    still_talking(&mut p);
}

// ---------------------------------------------------------------------------------------
// Prekey messages
// ---------------------------------------------------------------------------------------

#[test]
fn low_order_base_key_in_prekey_message_is_rejected() {
    let mut rng = rng(107);
    let accounts = Accounts::new(&mut rng);
    // With one-time keys, and on reusable keys only (where a replay record is at stake).
    let no_one_time = Accounts {
        alice: accounts.alice.clone(),
        bob: Account::new(NOW, &mut rng),
    };
    for mut accs in [accounts, no_one_time] {
        let bob_before = accs.bob.clone();
        let bundle = accs.bob.published_prekeys().take_bundle();
        let mut alice = accs
            .alice
            .create_outbound_session(&bundle, &mut rng)
            .unwrap();
        let first = alice.encrypt(b"first", &mut rng).unwrap();
        for point in low_order_x25519_points() {
            let mut m = first.clone();
            m[BASE_KEY_AT..BASE_KEY_AT + 32].copy_from_slice(&point);
            refuses(&mut accs.bob, &m, NOW, HandshakeError::NonContributory);
        }
        assert_eq!(
            accs.bob.one_time_prekey_counts(),
            bob_before.one_time_prekey_counts()
        );
        let inbound = accs.bob.create_inbound_session(&first, NOW).unwrap();
        assert_eq!(inbound.plaintext, b"first");
        let mut p = Pair {
            rng: common::rng(1),
            alice,
            bob: inbound.session,
        };
        still_talking(&mut p);
    }
}

#[test]
fn substituted_one_time_prekey_fails_without_consuming_keys() {
    let mut rng = rng(108);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    // The server replaces the unsigned one-time key with one of its own (a valid key).
    let mut swapped = bundle.clone();
    swapped.one_time_prekey.as_mut().unwrap().key = Account::new(NOW, &mut rng)
        .published_prekeys()
        .signed_prekey
        .key;
    let mut alice = accounts
        .alice
        .create_outbound_session(&swapped, &mut rng)
        .unwrap();
    let m = alice.encrypt(b"first", &mut rng).unwrap();
    refuses(
        &mut accounts.bob,
        &m,
        NOW,
        HandshakeError::FirstMessage(DecryptError::Undecryptable),
    );
    let mut p = establish_from(&mut accounts, &bundle, rng);
    still_talking(&mut p);
}

#[test]
fn replayed_prekey_message_reusing_one_time_prekey_is_rejected() {
    let mut rng = rng(109);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    let id = bundle.one_time_prekey.as_ref().unwrap().id;
    let mut alice = accounts
        .alice
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    let first = alice.encrypt(b"first", &mut rng).unwrap();
    let second = alice.encrypt(b"second", &mut rng).unwrap();
    let inbound = accounts.bob.create_inbound_session(&first, NOW).unwrap();
    assert!(
        inbound
            .events
            .contains(&Event::OneTimePreKeyConsumed { id })
    );
    let mut p = Pair {
        rng,
        alice,
        bob: inbound.session,
    };

    // Both prekey messages of the session name the consumed key: no second session.
    for m in [&first, &second] {
        refuses(
            &mut accounts.bob,
            m,
            NOW,
            HandshakeError::OneTimePreKeyReused(id),
        );
    }
    // The session they belong to takes each one once.
    rejects(&mut p.bob, &first, DecryptError::Duplicate { counter: 0 });
    assert_eq!(p.bob.decrypt(&second).unwrap().plaintext, b"second");
    rejects(&mut p.bob, &second, DecryptError::Duplicate { counter: 1 });
    still_talking(&mut p);
    refuses(
        &mut accounts.bob,
        &second,
        NOW,
        HandshakeError::OneTimePreKeyReused(id),
    );
}

#[test]
fn replayed_prekey_message_reusing_one_time_kem_prekey_is_rejected() {
    let mut rng = rng(110);
    let mut accounts = Accounts::new(&mut rng);
    let mut bundle = accounts.bob.published_prekeys().take_bundle();
    bundle.one_time_prekey = None; // the server ran out of X25519 one-time keys
    let kem_id = bundle.kem_prekey.id;
    let mut p = establish_from(&mut accounts, &bundle, rng);
    let second = p.alice.encrypt(b"second", &mut p.rng).unwrap();
    refuses(
        &mut accounts.bob,
        &second,
        NOW,
        HandshakeError::KemPreKeyReused(kem_id),
    );
    assert_eq!(p.bob.decrypt(&second).unwrap().plaintext, b"second");
    still_talking(&mut p);
}

#[test]
fn replayed_prekey_message_on_last_resort_keys_is_rejected() {
    let mut rng = rng(111);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng); // no one-time keys at all
    let bundle = bob.published_prekeys().take_bundle();
    assert!(bundle.one_time_prekey.is_none());
    assert_eq!(bundle.kem_prekey.kind, KemPreKeyKind::LastResort);
    let mut alice_session = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = alice_session.encrypt(b"first", &mut rng).unwrap();
    let second = alice_session.encrypt(b"second", &mut rng).unwrap();
    let inbound = bob.create_inbound_session(&first, NOW).unwrap();
    let mut p = Pair {
        rng,
        alice: alice_session,
        bob: inbound.session,
    };

    // Both prekey messages of that session attempt are replays for the account...
    for m in [&first, &second] {
        refuses(&mut bob, m, NOW, HandshakeError::ReplayedInitialMessage);
    }
    // ...also after a rotation, while the signed prekey they name is still accepted.
    bob.rotate_prekeys(NOW.plus_secs(60), &mut p.rng);
    for m in [&first, &second] {
        refuses(
            &mut bob,
            m,
            NOW.plus_secs(120),
            HandshakeError::ReplayedInitialMessage,
        );
    }
    // The session itself takes the second message once.
    rejects(&mut p.bob, &first, DecryptError::Duplicate { counter: 0 });
    assert_eq!(p.bob.decrypt(&second).unwrap().plaintext, b"second");
    still_talking(&mut p);

    // A new attempt on the same reusable keys is welcome.
    let mut again = alice.create_outbound_session(&bundle, &mut p.rng).unwrap();
    let m = again.encrypt(b"new attempt", &mut p.rng).unwrap();
    assert_eq!(
        bob.create_inbound_session(&m, NOW.plus_secs(180))
            .unwrap()
            .plaintext,
        b"new attempt"
    );
}

/// Bob without one-time keys after accepting `MAX_REPLAY_RECORDS` sessions built on his
/// reusable keys only: his replay records are full. Made once (4,096 handshakes) and cloned.
struct FullRecords {
    alice: Account,
    bob: Account,
    bundle: PreKeyBundle,
    /// The first of those sessions' first message.
    oldest: Vec<u8>,
}

fn full_replay_records() -> &'static FullRecords {
    static FULL: OnceLock<FullRecords> = OnceLock::new();
    FULL.get_or_init(|| {
        let mut rng = rng(112);
        let alice = Account::new(NOW, &mut rng);
        let mut bob = Account::new(NOW, &mut rng);
        let bundle = bob.published_prekeys().take_bundle();
        let mut oldest = Vec::new();
        for i in 0..MAX_REPLAY_RECORDS {
            let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
            let m = s.encrypt(b"hi", &mut rng).unwrap();
            assert_eq!(
                bob.create_inbound_session(&m, NOW).unwrap().plaintext,
                b"hi"
            );
            if i == 0 {
                oldest = m;
            }
        }
        FullRecords {
            alice,
            bob,
            bundle,
            oldest,
        }
    })
}

fn last_resort_first_message(alice: &Account, bundle: &PreKeyBundle, seed: u64) -> Vec<u8> {
    let mut rng = rng(seed);
    let mut s = alice.create_outbound_session(bundle, &mut rng).unwrap();
    s.encrypt(b"new", &mut rng).unwrap()
}

/// At `MAX_REPLAY_RECORDS` the oldest record still rejects its replay, and a new session on
/// reusable keys only is refused rather than evicting a record (which would let that replay
/// through). Sessions with a one-time key need no record and are still accepted.
#[test]
fn replay_records_at_the_limit_refuse_new_last_resort_sessions() {
    let full = full_replay_records();
    let mut bob = full.bob.clone();
    refuses(
        &mut bob,
        &full.oldest,
        NOW,
        HandshakeError::ReplayedInitialMessage,
    );
    let new = last_resort_first_message(&full.alice, &full.bundle, 1);
    refuses(&mut bob, &new, NOW, HandshakeError::ReplayRecordsFull);
    assert!(
        bob.maintenance_events(NOW)
            .contains(&Event::PreKeyRotationDue)
    );

    let mut rng = rng(2);
    bob.generate_one_time_prekeys(1, 0, NOW, &mut rng).unwrap();
    let with_one_time = bob.published_prekeys().take_bundle();
    assert!(with_one_time.one_time_prekey.is_some());
    let m = last_resort_first_message(&full.alice, &with_one_time, 3);
    assert_eq!(
        bob.create_inbound_session(&m, NOW).unwrap().plaintext,
        b"new"
    );
}

/// The doc of `MAX_REPLAY_RECORDS` says full records refuse new sessions "until
/// `rotate_prekeys` retires the keys they were built on", and `maintenance_events` asks for a
/// rotation. But the records of a retired signed prekey are kept for its whole grace window
/// (30 days), and the limit counts all records, so after the rotation new sessions on the new
/// keys are still refused.
#[test]
fn rotation_makes_room_for_new_last_resort_sessions() {
    let full = full_replay_records();
    let mut bob = full.bob.clone();
    let later = NOW.plus_secs(60);
    bob.rotate_prekeys(later, &mut rng(4));
    // The old records still guard the retired key during its grace window.
    refuses(
        &mut bob,
        &full.oldest,
        later,
        HandshakeError::ReplayedInitialMessage,
    );
    let bundle = bob.published_prekeys().take_bundle();
    let m = last_resort_first_message(&full.alice, &bundle, 5);
    assert_eq!(
        bob.create_inbound_session(&m, later).map(|s| s.plaintext),
        Ok(b"new".to_vec())
    );
}

// ---------------------------------------------------------------------------------------
// Ratchet messages: replays, splices, other sessions
// ---------------------------------------------------------------------------------------

/// A decrypted message replayed as the ratchet moves on: `Duplicate` while its chain's keys
/// are kept, `KeyExpired` once they expired (SPEC.md §5.8, "replay classification"), and
/// `ChainForgotten` once the chain itself is forgotten (SPEC.md §5.7 T.2).
#[test]
fn message_replayed_after_the_session_moved_on_is_rejected() {
    let mut p = talking_pair(113);
    let m = p.alice.encrypt(b"once", &mut p.rng).unwrap();
    assert_eq!(p.bob.decrypt(&m).unwrap().plaintext, b"once");
    rejects(&mut p.bob, &m, DecryptError::Duplicate { counter: 1 });
    for step in 1..=DEFAULT_MAX_RECEIVING_CHAINS + 1 {
        assert!(bob_step(&mut p).is_empty());
        let expected = if step <= DEFAULT_SKIPPED_KEY_MAX_AGE {
            DecryptError::Duplicate { counter: 1 }
        } else if step <= DEFAULT_MAX_RECEIVING_CHAINS {
            DecryptError::KeyExpired { counter: 1 }
        } else {
            DecryptError::ChainForgotten
        };
        rejects(&mut p.bob, &m, expected);
    }
    still_talking(&mut p);
}

#[test]
fn header_spliced_onto_another_sessions_body_is_rejected() {
    let mut rng = rng(114);
    let mut accounts = Accounts::new(&mut rng);
    // Two sessions between the same two accounts.
    let mut p = establish(&mut accounts, common::rng(1));
    let mut q = establish(&mut accounts, common::rng(2));
    assert!(bob_step(&mut p).is_empty());
    assert!(bob_step(&mut q).is_empty());
    let mine = p.alice.encrypt(b"to Bob on session p", &mut p.rng).unwrap();
    let next = p.alice.encrypt(b"next on session p", &mut p.rng).unwrap();
    let theirs = q
        .alice
        .encrypt(b"to Bob on session q!", &mut q.rng)
        .unwrap();

    let splice = |head: &[u8], body: &[u8]| [&head[..PREFIX_LEN], &body[PREFIX_LEN..]].concat();
    // p's header opens, the body is q's: the body's associated data covers the header.
    rejects(&mut p.bob, &splice(&mine, &theirs), DecryptError::Tampered);
    // q's header: no key of p opens it.
    rejects(
        &mut p.bob,
        &splice(&theirs, &mine),
        DecryptError::Undecryptable,
    );
    // Within one session: one message's header on the next one's body.
    rejects(&mut p.bob, &splice(&mine, &next), DecryptError::Tampered);
    rejects(&mut p.bob, &splice(&next, &mine), DecryptError::Tampered);

    assert_eq!(
        p.bob.decrypt(&next).unwrap().plaintext,
        b"next on session p"
    );
    assert_eq!(
        p.bob.decrypt(&mine).unwrap().plaintext,
        b"to Bob on session p"
    );
    assert_eq!(
        q.bob.decrypt(&theirs).unwrap().plaintext,
        b"to Bob on session q!"
    );
    still_talking(&mut p);
    still_talking(&mut q);
}

#[test]
fn message_from_another_session_is_undecryptable() {
    let mut rng = rng(115);
    let mut accounts = Accounts::new(&mut rng);
    let mut p = establish(&mut accounts, common::rng(1));
    let mut q = establish(&mut accounts, common::rng(2));
    let q_prekey = q.alice.encrypt(b"q prekey", &mut q.rng).unwrap();
    assert!(bob_step(&mut p).is_empty());
    assert!(bob_step(&mut q).is_empty());
    let q_to_bob = q.alice.encrypt(b"q", &mut q.rng).unwrap();
    let q_to_alice = q.bob.encrypt(b"q", &mut q.rng).unwrap();

    rejects(&mut p.bob, &q_to_bob, DecryptError::Undecryptable);
    rejects(&mut p.alice, &q_to_alice, DecryptError::Undecryptable);
    // Session q's prekey message names q's base key: "not this session".
    rejects(&mut p.bob, &q_prekey, DecryptError::OtherSession);
    rejects(&mut p.alice, &q_prekey, DecryptError::OtherSession);

    assert_eq!(q.bob.decrypt(&q_to_bob).unwrap().plaintext, b"q");
    assert_eq!(q.alice.decrypt(&q_to_alice).unwrap().plaintext, b"q");
    still_talking(&mut p);
    still_talking(&mut q);
}

#[test]
fn reflected_prekey_message_and_own_identity_are_rejected() {
    let mut rng = rng(116);
    let mut accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let bob_bundle = accounts.bob.published_prekeys().take_bundle();
    let mut p = establish(&mut accounts, rng);
    let prekey = p.alice.encrypt(b"prekey", &mut p.rng).unwrap();
    // Alice's own prekey message, bounced back to her.
    rejects(&mut p.alice, &prekey, DecryptError::OtherSession);

    // A prekey message that names Bob's own identity as the initiator's.
    let mut own = prekey.clone();
    own[IDENTITY_AT..IDENTITY_AT + 32].copy_from_slice(accounts.bob.identity_key().as_bytes());
    refuses(&mut fresh_bob, &own, NOW, HandshakeError::OwnIdentity);
    // Bob starting a session with his own bundle.
    assert_eq!(
        accounts
            .bob
            .create_outbound_session(&bob_bundle, &mut p.rng)
            .unwrap_err(),
        HandshakeError::OwnIdentity
    );
    assert_eq!(p.bob.decrypt(&prekey).unwrap().plaintext, b"prekey");
    still_talking(&mut p);
}

/// A relay that bounces a party's own ratchet message back to it has forged nothing a
/// receiver should trust: the message is not from the peer. It must be `Undecryptable`,
/// like any message no receiving key opens. The session tag key is the same in both
/// directions, so today the tag verifies and the reflection is reported as this session's
/// own traffic: `StateBehind` for the initiator (which `PeerError::reset_reason` turns into
/// a reset request) and `ChainForgotten` for the responder.
#[test]
fn reflected_ratchet_message_is_not_taken_for_the_peers() {
    let mut p = talking_pair(140);
    let from_bob = p.bob.encrypt(b"to Alice", &mut p.rng).unwrap();
    let from_alice = p.alice.encrypt(b"to Bob", &mut p.rng).unwrap();
    let bounced_to_alice = p.alice.clone().decrypt(&from_alice).map(|d| d.plaintext);
    let bounced_to_bob = p.bob.clone().decrypt(&from_bob).map(|d| d.plaintext);
    assert_eq!(
        (bounced_to_alice, bounced_to_bob),
        (
            Err(DecryptError::Undecryptable),
            Err(DecryptError::Undecryptable)
        )
    );
    rejects(&mut p.alice, &from_alice, DecryptError::Undecryptable);
    rejects(&mut p.bob, &from_bob, DecryptError::Undecryptable);
    assert_eq!(p.alice.decrypt(&from_bob).unwrap().plaintext, b"to Alice");
    assert_eq!(p.bob.decrypt(&from_alice).unwrap().plaintext, b"to Bob");
    still_talking(&mut p);
}

// ---------------------------------------------------------------------------------------
// Limits: jumps, skipped keys, expiry
// ---------------------------------------------------------------------------------------

const JUMP: u32 = 10;

fn jump_config() -> RatchetConfig {
    RatchetConfig::new(JUMP, 100, 5, 5).unwrap()
}

#[test]
fn counter_jump_within_a_chain_at_and_past_the_limit() {
    let mut p = with_config(talking_pair(117), jump_config());
    // Bob expects counter 1 next; msgs[i] has counter i + 1, a gap of i.
    let msgs: Vec<_> = (0..=JUMP + 1)
        .map(|i| p.alice.encrypt(&[i as u8], &mut p.rng).unwrap())
        .collect();
    for gap in [JUMP - 1, JUMP] {
        let mut bob = p.bob.clone();
        assert_eq!(
            bob.decrypt(&msgs[gap as usize]).unwrap().plaintext,
            [gap as u8]
        );
        assert_eq!(bob.stored_skipped_keys(), gap as usize);
    }
    rejects(
        &mut p.bob,
        &msgs[JUMP as usize + 1],
        DecryptError::TooFarAhead {
            gap: u64::from(JUMP) + 1,
            max: JUMP,
        },
    );
    // Once the gap is within the limit, everything arrives.
    assert!(p.bob.decrypt(&msgs[JUMP as usize]).is_ok());
    assert!(p.bob.decrypt(&msgs[JUMP as usize + 1]).is_ok());
    for (i, m) in msgs.iter().enumerate().take(JUMP as usize) {
        assert_eq!(p.bob.decrypt(m).unwrap().plaintext, [i as u8]);
    }
    assert_eq!(p.bob.stored_skipped_keys(), 0);
    still_talking(&mut p);
}

/// A new chain's header says how long the previous chain was; finishing that chain is a jump
/// too, checked against the same limit.
#[test]
fn previous_chain_length_jump_at_and_past_the_limit() {
    for unseen in [JUMP - 1, JUMP, JUMP + 1] {
        let mut p = with_config(talking_pair(118), jump_config());
        // Bob has read counter 0 of Alice's chain; `unseen` more are sent but held back.
        let held: Vec<_> = (0..unseen)
            .map(|i| p.alice.encrypt(&[i as u8], &mut p.rng).unwrap())
            .collect();
        let reply = p.bob.encrypt(b"reply", &mut p.rng).unwrap();
        assert_eq!(p.alice.decrypt(&reply).unwrap().plaintext, b"reply");
        let new_chain = p.alice.encrypt(b"new chain", &mut p.rng).unwrap();
        if unseen <= JUMP {
            assert_eq!(p.bob.decrypt(&new_chain).unwrap().plaintext, b"new chain");
        } else {
            rejects(
                &mut p.bob,
                &new_chain,
                DecryptError::TooFarAhead {
                    gap: u64::from(unseen),
                    max: JUMP,
                },
            );
            // One held message arrives: the gap is within the limit again.
            assert_eq!(p.bob.decrypt(&held[0]).unwrap().plaintext, [0]);
            assert_eq!(p.bob.decrypt(&new_chain).unwrap().plaintext, b"new chain");
        }
        for (i, m) in held.iter().enumerate().skip(usize::from(unseen > JUMP)) {
            assert_eq!(p.bob.decrypt(m).unwrap().plaintext, [i as u8]);
        }
        still_talking(&mut p);
    }
}

#[test]
fn new_chain_counter_at_and_past_the_jump_limit() {
    let mut p = with_config(talking_pair(119), jump_config());
    let reply = p.bob.encrypt(b"reply", &mut p.rng).unwrap();
    assert_eq!(p.alice.decrypt(&reply).unwrap().plaintext, b"reply");
    // A new chain whose first messages are lost: counters 0..=JUMP+1.
    let msgs: Vec<_> = (0..=JUMP + 1)
        .map(|i| p.alice.encrypt(&[i as u8], &mut p.rng).unwrap())
        .collect();
    for counter in [JUMP - 1, JUMP] {
        let mut bob = p.bob.clone();
        assert!(bob.decrypt(&msgs[counter as usize]).is_ok());
    }
    rejects(
        &mut p.bob,
        &msgs[JUMP as usize + 1],
        DecryptError::TooFarAhead {
            gap: u64::from(JUMP) + 1,
            max: JUMP,
        },
    );
    assert!(p.bob.decrypt(&msgs[JUMP as usize]).is_ok());
    for (i, m) in msgs.iter().enumerate() {
        if i != JUMP as usize {
            assert_eq!(p.bob.decrypt(m).unwrap().plaintext, [i as u8]);
        }
    }
    still_talking(&mut p);
}

#[test]
fn skipped_key_flood_stays_under_the_cap_and_reports_evictions() {
    const CAP: u32 = 20;
    let mut p = with_config(
        talking_pair(120),
        RatchetConfig::new(1_000, CAP, 100, HARD_MAX_SKIPPED_KEY_MAX_AGE).unwrap(),
    );
    let evicted = |d: &Decrypted| -> u32 {
        d.events
            .iter()
            .map(|e| match e {
                Event::SkippedKeysEvicted { count } => *count,
                other => panic!("unexpected event {other:?}"),
            })
            .sum()
    };

    // 1. Within one chain: Bob reads every 7th message, skipping 6 each time.
    let flood: Vec<_> = (0..140u32)
        .map(|i| p.alice.encrypt(&i.to_be_bytes(), &mut p.rng).unwrap())
        .collect();
    let (mut created, mut total_evicted, mut stored) = (0u32, 0u32, 0u32);
    for i in (6..140).step_by(7) {
        let d = p.bob.decrypt(&flood[i]).unwrap();
        created += 6;
        let expect = (stored + 6).saturating_sub(CAP);
        assert_eq!(evicted(&d), expect);
        stored = stored + 6 - expect;
        total_evicted += expect;
        assert_eq!(p.bob.stored_skipped_keys(), stored as usize);
        assert!(p.bob.stored_skipped_keys() <= CAP as usize);
    }
    assert_eq!(total_evicted + stored, created);

    // 2. One jump far beyond the cap: only the newest CAP keys are kept.
    let jump: Vec<_> = (0..101u32)
        .map(|i| p.alice.encrypt(&i.to_be_bytes(), &mut p.rng).unwrap())
        .collect();
    let d = p.bob.decrypt(&jump[100]).unwrap();
    assert_eq!(d.events, [Event::SkippedKeysEvicted { count: 100 }]);
    assert_eq!(p.bob.stored_skipped_keys(), CAP as usize);
    // Evicted messages say so; the kept ones decrypt.
    for (i, m) in flood.iter().enumerate().filter(|(i, _)| i % 7 != 6) {
        assert!(
            matches!(
                p.bob.clone().decrypt(m),
                Err(DecryptError::KeyExpired { .. })
            ),
            "flood message {i}"
        );
    }
    for (i, m) in jump.iter().enumerate().take(100) {
        let before = p.bob.clone();
        match p.bob.decrypt(m) {
            Ok(d) => assert!(i >= 80 && d.plaintext == (i as u32).to_be_bytes()),
            Err(e) => {
                assert!(
                    i < 80 && matches!(e, DecryptError::KeyExpired { .. }),
                    "{i}: {e:?}"
                );
                assert_eq!(p.bob, before);
            }
        }
    }
    assert_eq!(p.bob.stored_skipped_keys(), 0);

    // 3. Across ratchet steps: each new chain skips 3; the oldest chains are evicted first.
    let mut rounds = Vec::new();
    stored = 0;
    for _ in 0..10 {
        let reply = p.bob.encrypt(b"r", &mut p.rng).unwrap();
        assert_eq!(p.alice.decrypt(&reply).unwrap().plaintext, b"r");
        let chain: Vec<_> = (0..4u32)
            .map(|i| p.alice.encrypt(&i.to_be_bytes(), &mut p.rng).unwrap())
            .collect();
        let d = p.bob.decrypt(&chain[3]).unwrap();
        let expect = (stored + 3).saturating_sub(CAP);
        assert_eq!(evicted(&d), expect);
        stored = stored + 3 - expect;
        assert_eq!(p.bob.stored_skipped_keys(), stored as usize);
        rounds.push(chain);
    }
    // 30 keys were skipped and 10 evicted: rounds 0..3 entirely, and counter 0 of round 3.
    for (r, chain) in rounds.iter().enumerate() {
        for (i, m) in chain.iter().enumerate().take(3) {
            let lost = r < 3 || (r == 3 && i == 0);
            let got = p.bob.decrypt(m);
            if lost {
                assert_eq!(
                    got.unwrap_err(),
                    DecryptError::KeyExpired { counter: i as u32 }
                );
            } else {
                assert_eq!(got.unwrap().plaintext, (i as u32).to_be_bytes());
            }
        }
    }
    assert_eq!(p.bob.stored_skipped_keys(), 0);
    still_talking(&mut p);
}

#[test]
fn skipped_keys_expire_after_max_age_receiving_steps() {
    const AGE: u32 = 2;
    let mut p = with_config(
        talking_pair(121),
        RatchetConfig::new(1_000, 100, 10, AGE).unwrap(),
    );
    let late = p.alice.encrypt(b"late", &mut p.rng).unwrap(); // counter 1
    let on_time = p.alice.encrypt(b"on time", &mut p.rng).unwrap();
    assert!(p.bob.decrypt(&on_time).unwrap().events.is_empty());
    assert_eq!(p.bob.stored_skipped_keys(), 1);
    for step in 1..=AGE {
        let d = bob_step(&mut p);
        assert!(d.is_empty(), "step {step}: {d:?}");
        assert_eq!(p.bob.stored_skipped_keys(), 1);
        // Still readable after `step` receiving steps.
        assert_eq!(p.bob.clone().decrypt(&late).unwrap().plaintext, b"late");
    }
    let d = bob_step(&mut p);
    assert_eq!(d, [Event::SkippedKeysExpired { count: 1 }]);
    assert_eq!(p.bob.stored_skipped_keys(), 0);
    rejects(&mut p.bob, &late, DecryptError::KeyExpired { counter: 1 });
    still_talking(&mut p);
}

#[test]
fn keys_of_forgotten_chains_are_reported_expired() {
    const CHAINS: u32 = 2;
    let mut p = with_config(
        talking_pair(122),
        RatchetConfig::new(1_000, 100, CHAINS, HARD_MAX_SKIPPED_KEY_MAX_AGE).unwrap(),
    );
    let late = p.alice.encrypt(b"late", &mut p.rng).unwrap();
    let on_time = p.alice.encrypt(b"on time", &mut p.rng).unwrap();
    assert_eq!(p.bob.decrypt(&on_time).unwrap().plaintext, b"on time");
    // Bob's past chains: Alice's chain 0 (no stored keys), then this one.
    for _ in 0..CHAINS {
        assert!(bob_step(&mut p).is_empty());
        assert_eq!(p.bob.clone().decrypt(&late).unwrap().plaintext, b"late");
    }
    let d = bob_step(&mut p);
    assert_eq!(d, [Event::SkippedKeysExpired { count: 1 }]);
    assert_eq!(p.bob.stored_skipped_keys(), 0);
    // Its header key is gone with the chain (SPEC.md §5.8, "chain count"); the session tag
    // still says it is from this session.
    rejects(&mut p.bob, &late, DecryptError::ChainForgotten);
    still_talking(&mut p);
}

// ---------------------------------------------------------------------------------------
// Malformed bytes: truncation, versions, types, trailing bytes, sizes
// ---------------------------------------------------------------------------------------

fn needed_at(ends: &[usize], len: usize) -> Option<usize> {
    ends.iter().find(|&&end| end > len).map(|end| end - len)
}

#[test]
fn truncated_ratchet_message_is_rejected_at_every_offset() {
    let mut p = talking_pair(123);
    let ends = ratchet_field_ends();
    for (from_alice, text) in [(true, &b"a ratchet message"[..]), (false, b"")] {
        let (sender, receiver) = if from_alice {
            (&mut p.alice, &mut p.bob)
        } else {
            (&mut p.bob, &mut p.alice)
        };
        let m = sender.encrypt(text, &mut p.rng).unwrap();
        for len in 0..m.len() {
            let expected = match needed_at(&ends, len) {
                Some(needed) => DecryptError::Malformed(DecodeError::Truncated { needed }),
                // Complete layout, shorter body: the body fails to authenticate.
                None => DecryptError::Tampered,
            };
            rejects(receiver, &m[..len], expected);
        }
        assert_eq!(receiver.decrypt(&m).unwrap().plaintext, text);
    }
    still_talking(&mut p);
}

#[test]
fn truncated_prekey_message_is_rejected_at_every_offset() {
    let mut rng = rng(124);
    let mut accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let mut p = establish(&mut accounts, rng);
    // Alice's second message: a prekey message with a one-time prekey.
    let m = p.alice.encrypt(b"second", &mut p.rng).unwrap();
    assert_eq!(message_kind(&m), Ok(MessageKind::PreKey));
    let ends = prekey_field_ends();
    for len in 0..m.len() {
        let (on_session, as_new) = match needed_at(&ends, len) {
            Some(needed) => {
                let e = DecodeError::Truncated { needed };
                (DecryptError::Malformed(e), HandshakeError::Malformed(e))
            }
            None => (
                DecryptError::Tampered,
                HandshakeError::FirstMessage(DecryptError::Tampered),
            ),
        };
        rejects(&mut p.bob, &m[..len], on_session);
        refuses(&mut fresh_bob, &m[..len], NOW, as_new);
    }
    assert_eq!(p.bob.decrypt(&m).unwrap().plaintext, b"second");
    assert_eq!(
        fresh_bob.create_inbound_session(&m, NOW).unwrap().plaintext,
        b"second"
    );
    still_talking(&mut p);
}

#[test]
fn unknown_or_downgraded_version_is_rejected() {
    let mut rng = rng(125);
    let mut accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let bundle = accounts.bob.published_prekeys().take_bundle().to_bytes();
    let mut p = establish(&mut accounts, rng);
    let prekey = p.alice.encrypt(b"prekey", &mut p.rng).unwrap();
    assert!(bob_step(&mut p).is_empty());
    let ratchet = p.alice.encrypt(b"ratchet", &mut p.rng).unwrap();

    for version in [0u8, 2] {
        let with = |bytes: &[u8]| {
            let mut b = bytes.to_vec();
            b[0] = version;
            b
        };
        let e = DecodeError::UnknownVersion(version);
        assert_eq!(message_kind(&with(&ratchet)), Err(e));
        rejects(&mut p.bob, &with(&ratchet), DecryptError::Malformed(e));
        rejects(&mut p.bob, &with(&prekey), DecryptError::Malformed(e));
        refuses(
            &mut fresh_bob,
            &with(&prekey),
            NOW,
            HandshakeError::Malformed(e),
        );
        assert_eq!(PreKeyBundle::from_bytes(&with(&bundle)), Err(e));
    }
    // The embedded ratchet message's version byte is checked too.
    let mut inner = prekey.clone();
    inner[79 + 1088] = 2;
    rejects(
        &mut p.bob,
        &inner,
        DecryptError::Malformed(DecodeError::UnknownVersion(2)),
    );
    assert_eq!(p.bob.decrypt(&prekey).unwrap().plaintext, b"prekey");
    assert_eq!(p.bob.decrypt(&ratchet).unwrap().plaintext, b"ratchet");
    assert!(fresh_bob.create_inbound_session(&prekey, NOW).is_ok());
    still_talking(&mut p);
}

#[test]
fn wrong_or_unknown_message_type_is_rejected() {
    let mut rng = rng(126);
    let accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let bundle = accounts.bob.published_prekeys().take_bundle().to_bytes();
    let mut p = talking_pair(126);
    let ratchet = p.alice.encrypt(b"ratchet", &mut p.rng).unwrap();
    let mut unknown = ratchet.clone();
    unknown[1] = 0x7f;

    rejects(
        &mut p.bob,
        &bundle,
        DecryptError::Malformed(DecodeError::UnknownType(0x10)),
    );
    rejects(
        &mut p.bob,
        &unknown,
        DecryptError::Malformed(DecodeError::UnknownType(0x7f)),
    );
    refuses(
        &mut fresh_bob,
        &ratchet,
        NOW,
        HandshakeError::Malformed(DecodeError::WrongType {
            expected: 0x02,
            found: 0x01,
        }),
    );
    refuses(
        &mut fresh_bob,
        &bundle,
        NOW,
        HandshakeError::Malformed(DecodeError::WrongType {
            expected: 0x02,
            found: 0x10,
        }),
    );
    refuses(
        &mut fresh_bob,
        &unknown,
        NOW,
        HandshakeError::Malformed(DecodeError::UnknownType(0x7f)),
    );
    assert_eq!(
        PreKeyBundle::from_bytes(&ratchet),
        Err(DecodeError::WrongType {
            expected: 0x10,
            found: 0x01
        })
    );
    assert_eq!(
        PreKeyBundle::from_bytes(&unknown),
        Err(DecodeError::UnknownType(0x7f))
    );
    assert_eq!(p.bob.decrypt(&ratchet).unwrap().plaintext, b"ratchet");
    still_talking(&mut p);
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut rng = rng(127);
    let mut accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let mut no_one_time = accounts.bob.published_prekeys().take_bundle();
    let with_one_time = no_one_time.to_bytes();
    no_one_time.one_time_prekey = None;
    let no_one_time = no_one_time.to_bytes();
    assert_eq!(no_one_time.len(), BUNDLE_LEN_WITHOUT_ONE_TIME);
    assert_eq!(with_one_time.len(), BUNDLE_MAX_LEN);

    // A bundle is a closed structure: extra bytes are counted, up to the size limit.
    for count in 1..=36 {
        let b = [&no_one_time[..], &vec![0u8; count]].concat();
        assert_eq!(
            PreKeyBundle::from_bytes(&b),
            Err(DecodeError::TrailingBytes { count })
        );
    }
    for b in [
        [&no_one_time[..], &[0u8; 37]].concat(),
        [&with_one_time[..], &[0u8; 1]].concat(),
    ] {
        assert_eq!(
            PreKeyBundle::from_bytes(&b),
            Err(DecodeError::TooLarge {
                len: b.len(),
                max: BUNDLE_MAX_LEN
            })
        );
    }

    // A message's body takes the rest: extra bytes fail the body's authentication.
    let mut p = establish(&mut accounts, rng);
    let prekey = p.alice.encrypt(b"prekey", &mut p.rng).unwrap();
    for extra in [&[0u8][..], &[0xff; 16], &[7; 100]] {
        let m = [&prekey[..], extra].concat();
        rejects(&mut p.bob, &m, DecryptError::Tampered);
        refuses(
            &mut fresh_bob,
            &m,
            NOW,
            HandshakeError::FirstMessage(DecryptError::Tampered),
        );
    }
    assert_eq!(p.bob.decrypt(&prekey).unwrap().plaintext, b"prekey");
    assert!(bob_step(&mut p).is_empty());
    let ratchet = p.alice.encrypt(b"ratchet", &mut p.rng).unwrap();
    for extra in [&[0u8][..], &[0xff; 16], &[7; 100]] {
        rejects(
            &mut p.bob,
            &[&ratchet[..], extra].concat(),
            DecryptError::Tampered,
        );
    }
    assert_eq!(p.bob.decrypt(&ratchet).unwrap().plaintext, b"ratchet");
    still_talking(&mut p);
}

/// Two limits: no message may exceed `MAX_MESSAGE_LEN`, and no ratchet message (standalone or
/// inside a prekey message) may carry a body longer than the largest plaintext `encrypt`
/// produces. At each limit the bytes decode (and here fail authentication); one byte past it
/// they are refused as too large, before any cryptography.
#[test]
fn message_larger_than_the_limits_is_rejected() {
    const RATCHET_MAX: usize = RATCHET_MESSAGE_OVERHEAD + MAX_PLAINTEXT_LEN;
    let mut rng = rng(128);
    let mut accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let mut p = establish(&mut accounts, rng);
    let prekey = p.alice.encrypt(b"prekey", &mut p.rng).unwrap();
    let fields = prekey.len() - (RATCHET_MESSAGE_OVERHEAD + b"prekey".len());
    assert!(bob_step(&mut p).is_empty());
    let ratchet = p.alice.encrypt(b"ratchet", &mut p.rng).unwrap();
    let padded = |m: &[u8], len: usize| {
        let mut b = m.to_vec();
        b.resize(len, 0);
        b
    };
    let too_large = |len, max| DecodeError::TooLarge { len, max };

    // The body limit.
    rejects(
        &mut p.bob,
        &padded(&ratchet, RATCHET_MAX),
        DecryptError::Tampered,
    );
    rejects(
        &mut p.bob,
        &padded(&ratchet, RATCHET_MAX + 1),
        DecryptError::Malformed(too_large(RATCHET_MAX + 1, RATCHET_MAX)),
    );
    refuses(
        &mut fresh_bob,
        &padded(&prekey, fields + RATCHET_MAX),
        NOW,
        HandshakeError::FirstMessage(DecryptError::Tampered),
    );
    rejects(
        &mut p.bob,
        &padded(&prekey, fields + RATCHET_MAX),
        DecryptError::Tampered,
    );
    let inner_too_large = too_large(RATCHET_MAX + 1, RATCHET_MAX);
    refuses(
        &mut fresh_bob,
        &padded(&prekey, fields + RATCHET_MAX + 1),
        NOW,
        HandshakeError::Malformed(inner_too_large),
    );
    rejects(
        &mut p.bob,
        &padded(&prekey, fields + RATCHET_MAX + 1),
        DecryptError::Malformed(inner_too_large),
    );

    // The message limit.
    for len in [MAX_MESSAGE_LEN + 1, 2 * MAX_MESSAGE_LEN] {
        let e = too_large(len, MAX_MESSAGE_LEN);
        assert_eq!(message_kind(&padded(&ratchet, len)), Err(e));
        rejects(
            &mut p.bob,
            &padded(&ratchet, len),
            DecryptError::Malformed(e),
        );
        rejects(
            &mut p.bob,
            &padded(&prekey, len),
            DecryptError::Malformed(e),
        );
        refuses(
            &mut fresh_bob,
            &padded(&prekey, len),
            NOW,
            HandshakeError::Malformed(e),
        );
    }
    assert_eq!(p.bob.decrypt(&ratchet).unwrap().plaintext, b"ratchet");
    assert!(fresh_bob.create_inbound_session(&prekey, NOW).is_ok());
    still_talking(&mut p);
}

#[test]
fn plaintext_at_max_len_works_and_one_byte_more_is_rejected() {
    let mut rng = rng(129);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    let mut alice = accounts
        .alice
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    let largest = vec![0x5a; MAX_PLAINTEXT_LEN];
    let too_large = vec![0x5a; MAX_PLAINTEXT_LEN + 1];
    let refused = Err(EncryptError::PlaintextTooLarge {
        len: MAX_PLAINTEXT_LEN + 1,
        max: MAX_PLAINTEXT_LEN,
    });

    let before = alice.clone();
    assert_eq!(alice.encrypt(&too_large, &mut rng), refused);
    assert_eq!(alice, before);
    // The largest plaintext fits in a prekey message, which starts the session.
    let first = alice.encrypt(&largest, &mut rng).unwrap();
    assert!(first.len() <= MAX_MESSAGE_LEN);
    let inbound = accounts.bob.create_inbound_session(&first, NOW).unwrap();
    assert_eq!(inbound.plaintext, largest);
    let mut p = Pair {
        rng,
        alice,
        bob: inbound.session,
    };
    // And in ratchet messages, both ways.
    let before = p.bob.clone();
    assert_eq!(p.bob.encrypt(&too_large, &mut p.rng), refused);
    assert_eq!(p.bob, before);
    let reply = p.bob.encrypt(&largest, &mut p.rng).unwrap();
    assert_eq!(reply.len(), MAX_PLAINTEXT_LEN + RATCHET_MESSAGE_OVERHEAD);
    assert_eq!(p.alice.decrypt(&reply).unwrap().plaintext, largest);
    let before = p.alice.clone();
    assert_eq!(p.alice.encrypt(&too_large, &mut p.rng), refused);
    assert_eq!(p.alice, before);
    let m = p.alice.encrypt(&largest, &mut p.rng).unwrap();
    assert_eq!(p.bob.decrypt(&m).unwrap().plaintext, largest);
    still_talking(&mut p);
}

// ---------------------------------------------------------------------------------------
// Account limits and prekey lifetimes
// ---------------------------------------------------------------------------------------

#[test]
fn one_time_prekey_generation_at_and_past_the_limits() {
    let mut rng = rng(130);
    let mut bob = Account::new(NOW, &mut rng);
    let out_of_range = |name, value: u32, max: u32| {
        Err(ConfigError::OutOfRange {
            name,
            value: u64::from(value),
            min: 0,
            max: u64::from(max),
        })
    };
    const X: &str = "one-time prekeys";
    const KEM: &str = "one-time ML-KEM prekeys";

    // Past either limit at once: refused, and nothing of either kind is generated.
    for (x, kem, expected) in [
        (
            MAX_ONE_TIME_PREKEYS + 1,
            0,
            out_of_range(X, MAX_ONE_TIME_PREKEYS + 1, MAX_ONE_TIME_PREKEYS),
        ),
        (
            0,
            MAX_ONE_TIME_KEM_PREKEYS + 1,
            out_of_range(KEM, MAX_ONE_TIME_KEM_PREKEYS + 1, MAX_ONE_TIME_KEM_PREKEYS),
        ),
        (
            5,
            MAX_ONE_TIME_KEM_PREKEYS + 1,
            out_of_range(KEM, MAX_ONE_TIME_KEM_PREKEYS + 1, MAX_ONE_TIME_KEM_PREKEYS),
        ),
        (
            MAX_ONE_TIME_PREKEYS + 1,
            5,
            out_of_range(X, MAX_ONE_TIME_PREKEYS + 1, MAX_ONE_TIME_PREKEYS),
        ),
        (
            u32::MAX,
            u32::MAX,
            out_of_range(X, u32::MAX, MAX_ONE_TIME_PREKEYS),
        ),
    ] {
        assert_eq!(
            bob.generate_one_time_prekeys(x, kem, NOW, &mut rng),
            expected
        );
        assert_eq!(bob.one_time_prekey_counts(), (0, 0));
    }

    // Up to exactly the limits, in two calls.
    bob.generate_one_time_prekeys(
        MAX_ONE_TIME_PREKEYS - 1,
        MAX_ONE_TIME_KEM_PREKEYS - 1,
        NOW,
        &mut rng,
    )
    .unwrap();
    bob.generate_one_time_prekeys(1, 1, NOW, &mut rng).unwrap();
    let full = (
        MAX_ONE_TIME_PREKEYS as usize,
        MAX_ONE_TIME_KEM_PREKEYS as usize,
    );
    assert_eq!(bob.one_time_prekey_counts(), full);
    assert_eq!(bob.generate_one_time_prekeys(0, 0, NOW, &mut rng), Ok(()));
    assert_eq!(
        bob.generate_one_time_prekeys(1, 0, NOW, &mut rng),
        out_of_range(X, 1, 0)
    );
    assert_eq!(
        bob.generate_one_time_prekeys(0, 1, NOW, &mut rng),
        out_of_range(KEM, 1, 0)
    );
    assert_eq!(bob.one_time_prekey_counts(), full);

    // Every published key is distinct and usable; using one makes room for one more.
    let mut published = bob.published_prekeys();
    assert_eq!(published.one_time_prekeys.len(), full.0);
    assert_eq!(published.one_time_kem_prekeys.len(), full.1);
    let mut ids: Vec<_> = published.one_time_prekeys.iter().map(|k| k.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), full.0);
    let alice = Account::new(NOW, &mut rng);
    let bundle = published.take_bundle();
    let mut s = alice.create_outbound_session(&bundle, &mut rng).unwrap();
    let m = s.encrypt(b"hi", &mut rng).unwrap();
    assert_eq!(
        bob.create_inbound_session(&m, NOW).unwrap().plaintext,
        b"hi"
    );
    assert_eq!(bob.one_time_prekey_counts(), (full.0 - 1, full.1 - 1));
    assert_eq!(
        bob.generate_one_time_prekeys(2, 0, NOW, &mut rng),
        out_of_range(X, 2, 1)
    );
    bob.generate_one_time_prekeys(1, 1, NOW, &mut rng).unwrap();
    assert_eq!(bob.one_time_prekey_counts(), full);
}

#[test]
fn previous_signed_prekey_accepted_within_grace_and_rejected_after() {
    let mut rng = rng(131);
    let mut accounts = Accounts::new(&mut rng);
    let with_one_time = accounts.bob.published_prekeys().take_bundle();
    let mut reusable = with_one_time.clone();
    reusable.one_time_prekey = None;
    reusable.kem_prekey = accounts.bob.published_prekeys().last_resort_kem_prekey;
    let old_id = with_one_time.signed_prekey.id;

    let retired = NOW.plus_secs(3_600);
    accounts.bob.rotate_prekeys(retired, &mut rng);
    let new_bundle = accounts.bob.published_prekeys().take_bundle();
    assert_ne!(new_bundle.signed_prekey.id, old_id);

    for bundle in [&with_one_time, &reusable] {
        // Alice fetched the bundle before the rotation.
        let mut alice = accounts
            .alice
            .create_outbound_session(bundle, &mut rng)
            .unwrap();
        let first = alice.encrypt(b"first", &mut rng).unwrap();
        let last_moment = retired.plus_secs(PREKEY_GRACE_SECS - 1);
        let mut bob = accounts.bob.clone();
        let inbound = bob.create_inbound_session(&first, last_moment).unwrap();
        assert_eq!(inbound.plaintext, b"first");
        let mut p = Pair {
            rng: common::rng(1),
            alice,
            bob: inbound.session,
        };
        still_talking(&mut p);

        refuses(
            &mut accounts.bob,
            &first,
            retired.plus_secs(PREKEY_GRACE_SECS),
            HandshakeError::UnknownSignedPreKey(old_id),
        );
    }
    // The current signed prekey has no end date.
    let mut alice = accounts
        .alice
        .create_outbound_session(&new_bundle, &mut rng)
        .unwrap();
    let first = alice.encrypt(b"current", &mut rng).unwrap();
    let much_later = retired.plus_secs(10 * PREKEY_GRACE_SECS);
    assert!(
        accounts
            .bob
            .create_inbound_session(&first, much_later)
            .is_ok()
    );
}

/// Rotating faster than the grace window keeps every retired key for its full window, up to
/// `MAX_RETIRED_PREKEYS` of them; one more rotation drops the oldest.
#[test]
fn retired_prekeys_are_kept_for_their_window_up_to_max_retired_prekeys() {
    let mut rng = rng(132);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    let old_id = bundle.signed_prekey.id;
    let mut alice = accounts
        .alice
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    let first = alice.encrypt(b"first", &mut rng).unwrap();

    // A rotation every 42 hours: the first key was retired at NOW + 1 s.
    let mut now = NOW;
    for i in 0..MAX_RETIRED_PREKEYS {
        now = NOW.plus_secs(1 + i as u64 * 7 * 24 * 3_600 / 4);
        accounts.bob.rotate_prekeys(now, &mut rng);
    }
    assert!(now < NOW.plus_secs(1 + PREKEY_GRACE_SECS));
    let mut bob = accounts.bob.clone();
    assert_eq!(
        bob.create_inbound_session(&first, now.plus_secs(1))
            .unwrap()
            .plaintext,
        b"first"
    );
    // Still within its window, but pushed out by one rotation too many.
    accounts.bob.rotate_prekeys(now.plus_secs(1), &mut rng);
    refuses(
        &mut accounts.bob,
        &first,
        now.plus_secs(2),
        HandshakeError::UnknownSignedPreKey(old_id),
    );
}

// ---------------------------------------------------------------------------------------
// Debug output
// ---------------------------------------------------------------------------------------

/// Runs of at least 16 hex digits in `s`.
fn hex_runs(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|run| run.len() >= 16)
        .collect()
}

#[test]
fn debug_output_contains_no_secrets() {
    let mut rng = rng(133);
    let mut accounts = Accounts::new(&mut rng);
    let mut fresh_bob = accounts.bob.clone();
    let mut p = establish(&mut accounts, rng);
    let secret_text = b"the launch code is 0123456789abcdef0123";
    let m = p.alice.encrypt(secret_text, &mut p.rng).unwrap();
    let inbound = fresh_bob.create_inbound_session(&m, NOW).unwrap();
    let decrypted = p.bob.decrypt(&m).unwrap();

    let mut secrets: Vec<String> = Vec::new();
    for account in [&accounts.alice, &accounts.bob] {
        let seed = seed_of(account);
        let scalar = ed25519_dalek::SigningKey::from_bytes(&seed).to_scalar_bytes();
        for bytes in [seed, scalar] {
            secrets.push(hex::encode(bytes));
            secrets.push(hex::encode_upper(bytes));
            secrets.push(format!("{:?}", bytes));
            secrets.push(format!("{:?}", &bytes[..8]));
        }
    }
    secrets.push(String::from_utf8(secret_text.to_vec()).unwrap());

    // Public values that may be shown.
    let public: Vec<String> = [
        hex::encode(accounts.alice.identity_key().as_bytes()),
        hex::encode(accounts.bob.identity_key().as_bytes()),
        hex::encode(p.alice.session_id().as_bytes()),
        hex::encode(inbound.session.session_id().as_bytes()),
    ]
    .into();

    let mut shown = Vec::new();
    for pretty in [false, true] {
        let show = |x: &dyn std::fmt::Debug| {
            if pretty {
                format!("{x:#?}")
            } else {
                format!("{x:?}")
            }
        };
        shown.push(show(&accounts.alice));
        shown.push(show(&accounts.bob));
        shown.push(show(accounts.bob.identity_key_pair()));
        shown.push(show(&p.alice));
        shown.push(show(&p.bob));
        shown.push(show(&inbound));
        shown.push(show(&decrypted));
    }
    for text in &shown {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{text} shows {secret}");
        }
        for run in hex_runs(text) {
            let run = run.to_ascii_lowercase();
            assert!(
                public.iter().any(|p| p.contains(&run)),
                "{text} shows bytes that are not a public key or id: {run}"
            );
        }
    }
    assert!(shown[2].contains("IdentityKeyPair"));
    still_talking(&mut p);
}

/// Hiding secrets must not hide everything: a vendor's logs still say which session, which
/// role, how long the plaintext was and which prekey ids a bundle carries.
#[test]
fn debug_output_still_identifies_sessions_and_prekeys() {
    let mut rng = rng(134);
    let mut accounts = Accounts::new(&mut rng);
    let bundle = accounts.bob.published_prekeys().take_bundle();
    let mut p = establish_from(&mut accounts, &bundle, rng);
    let m = p.alice.encrypt(b"twelve bytes", &mut p.rng).unwrap();
    let decrypted = p.bob.decrypt(&m).unwrap();

    let id = p.alice.session_id();
    let id_prefix = hex::encode(&id.as_bytes()[..8]);
    assert_eq!(format!("{id:?}"), format!("SessionId({id_prefix}..)"));
    let session = format!("{:?}", p.alice);
    for part in [
        "Session {",
        &id_prefix,
        "role: Initiator",
        "remote_identity",
    ] {
        assert!(session.contains(part), "{session} lacks {part}");
    }
    let read = format!("{decrypted:?}");
    assert!(read.starts_with("Decrypted {"), "{read}");
    assert!(read.contains("plaintext_len: 12"), "{read}");

    let shown = format!("{bundle:?}");
    let one_time = bundle.one_time_prekey.as_ref().unwrap();
    for part in [
        "PreKeyBundle {".to_owned(),
        format!("SignedPreKeyPublic {{ id: {}", bundle.signed_prekey.id),
        format!("OneTimePreKeyPublic {{ id: {}", one_time.id),
        format!("KemPreKeyPublic {{ id: {}", bundle.kem_prekey.id),
    ] {
        assert!(shown.contains(&part), "{shown} lacks {part}");
    }
}

// ---------------------------------------------------------------------------------------
// Sealed envelopes and groups (P2, P3)
// ---------------------------------------------------------------------------------------

use crate::common::sealed_reference as reference;

/// A relay operator's trust root and server key, and the trust store clients ship with.
struct Relay {
    server: hushwire::IssuerKeyPair,
    server_cert: hushwire::ServerCertificate,
    trust: hushwire::TrustStore,
}

impl Relay {
    fn new(rng: &mut chacha20::ChaCha20Rng) -> Relay {
        let root = hushwire::IssuerKeyPair::generate(rng);
        let server = hushwire::IssuerKeyPair::generate(rng);
        let year =
            hushwire::Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(365 * 86_400))
                .unwrap();
        let server_cert = hushwire::ServerCertificate::issue(&root, 1, 7, &server.public(), year);
        let mut trust = hushwire::TrustStore::new();
        trust.add_root(1, root.public()).unwrap();
        Relay {
            server,
            server_cert,
            trust,
        }
    }

    fn certify(&self, key: &IdentityKey, serial: u64) -> hushwire::SenderCertificate {
        let validity = hushwire::Validity::new(
            Timestamp::from_unix_secs(NOW.as_unix_secs() - 60),
            NOW.plus_secs(86_400),
        )
        .unwrap();
        hushwire::SenderCertificate::issue(
            &self.server,
            &self.server_cert,
            hushwire::certificate::SenderCertificateInfo {
                serial,
                user_id: format!("user-{serial}").into_bytes(),
                device_id: 1,
                identity_key: *key,
                validity,
            },
        )
        .unwrap()
    }
}

#[test]
fn sealed_envelope_with_another_senders_certificate_is_rejected() {
    use hushwire::sealed::{self, MultiRecipientMessage};
    use hushwire::{ContentType, Metadata, OpenError, SealError, SealedSessionError};

    let mut rng = rng(140);
    let relay = Relay::new(&mut rng);
    let mut accounts = Accounts::new(&mut rng);
    let alice_cert = relay.certify(accounts.alice.identity_key(), 1);
    let mallory = hushwire::IdentityKeyPair::generate(&mut rng);
    let mallory_cert = relay.certify(mallory.public(), 2);
    let mut p = establish(&mut accounts, rng);
    let bob_id = accounts.bob.identity_key_pair().clone();
    let meta = Metadata::new(ContentType::SESSION, NOW);
    let genuine = p.alice.encrypt(b"sealed hello", &mut p.rng).unwrap();

    // The library refuses to seal under a certificate that is not the sender's.
    assert_eq!(
        sealed::seal(
            &mallory,
            &alice_cert,
            bob_id.public(),
            &meta,
            b"x",
            &mut p.rng
        ),
        Err(SealError::CertificateMismatch)
    );
    // Mallory builds one anyway (with the independent reference): Alice's certificate in an
    // envelope authenticated by Mallory's key, single and multi-recipient.
    let mallory_key = reference::Key::from_seed(*mallory.dangerous_to_seed());
    let bob_key = reference::Key::from_seed(*bob_id.dangerous_to_seed());
    let content = reference::content(1, NOW.as_unix_secs(), None, alice_cert.as_bytes(), &genuine);
    let padded = reference::pad(&content);
    let single = reference::seal_single(&mallory_key, &bob_key, [5u8; 32], &padded).envelope;
    let multi = reference::seal_multi(&mallory_key, &[bob_key], [6u8; 32], &padded);
    let split = &multi.recipients[0].envelope;
    assert_eq!(
        MultiRecipientMessage::decode(&multi.message)
            .unwrap()
            .envelope(0)
            .unwrap(),
        *split
    );
    for envelope in [&single, split] {
        assert_eq!(
            sealed::open(&bob_id, envelope, &relay.trust, NOW).unwrap_err(),
            OpenError::SenderNotAuthenticated
        );
    }

    // With her own certificate she can open the envelope, but not pass Alice's session
    // message off as hers: it is refused and Bob's session is unchanged.
    let own = sealed::seal(
        &mallory,
        &mallory_cert,
        bob_id.public(),
        &meta,
        &genuine,
        &mut p.rng,
    )
    .unwrap();
    let opened = sealed::open(&bob_id, &own, &relay.trust, NOW).unwrap();
    assert_eq!(opened.sender_identity(), mallory.public());
    let before = p.bob.clone();
    assert_eq!(
        opened.decrypt(&mut p.bob).unwrap_err(),
        SealedSessionError::WrongSession
    );
    assert_eq!(p.bob, before);

    // The genuine envelope opens and the conversation goes on.
    let real = sealed::seal(
        accounts.alice.identity_key_pair(),
        &alice_cert,
        bob_id.public(),
        &meta,
        &genuine,
        &mut p.rng,
    )
    .unwrap();
    let opened = sealed::open(&bob_id, &real, &relay.trust, NOW).unwrap();
    assert_eq!(
        opened.decrypt(&mut p.bob).unwrap().plaintext,
        b"sealed hello"
    );
    still_talking(&mut p);
}

/// A group of four: 0 = admin (creator), 1 = the member under test, 2 and 3 = members; every
/// sender key delivered.
struct Group {
    ids: Vec<hushwire::IdentityKeyPair>,
    g: Vec<hushwire::GroupSession>,
    rng: chacha20::ChaCha20Rng,
}

impl Group {
    fn new(seed: u64) -> Group {
        use hushwire::group::{GroupRole, GroupSession};
        let mut rng = rng(seed);
        let ids: Vec<_> = (0..4)
            .map(|_| hushwire::IdentityKeyPair::generate(&mut rng))
            .collect();
        let others: Vec<_> = ids[1..]
            .iter()
            .map(|k| (*k.public(), GroupRole::Member))
            .collect();
        let created = GroupSession::create(&ids[0], &others, &mut rng).unwrap();
        let mut g = vec![created.session];
        let mut dists = vec![(0, created.distribution)];
        for (i, id) in ids.iter().enumerate().skip(1) {
            let joined =
                GroupSession::join(id, &created.welcome.bytes, ids[0].public(), &mut rng).unwrap();
            g.push(joined.session);
            dists.push((i, joined.distribution));
        }
        let mut group = Group { ids, g, rng };
        for (from, d) in dists {
            group.distribute(from, &d);
        }
        group
    }

    fn idx(&self, key: &IdentityKey) -> usize {
        self.ids.iter().position(|k| k.public() == key).unwrap()
    }

    fn distribute(&mut self, from: usize, d: &hushwire::group::Outgoing) {
        for r in &d.recipients {
            let i = self.idx(r);
            let sender = *self.ids[from].public();
            let from = hushwire::group::AuthenticatedSender::assume_authenticated(sender);
            self.g[i].receive_distribution(from, &d.bytes).unwrap();
        }
    }

    fn send(&mut self, from: usize, text: &[u8]) -> Vec<u8> {
        self.g[from].encrypt(text, &mut self.rng).unwrap()
    }
}

/// `bytes` is refused by group member `i` with exactly `expected`, its session unchanged.
#[track_caller]
fn group_rejects(group: &mut Group, i: usize, bytes: &[u8], expected: hushwire::GroupError) {
    let before = group.g[i].clone();
    assert_eq!(
        group.g[i].decrypt(bytes, NOW).map(|d| d.plaintext),
        Err(expected)
    );
    assert!(
        group.g[i] == before,
        "a rejected group message changed the session"
    );
}

#[test]
fn group_message_with_forged_signature_is_rejected() {
    use hushwire::GroupError;
    let mut group = Group::new(141);
    let genuine = group.send(2, b"from member 2");
    let n = genuine.len();
    let signed = &genuine[..n - 64];

    // Re-signed by another member (who holds the same sender key), by a stranger, and with
    // the signature malleated (S + L) or zeroed: all refused, nothing changes.
    let mut forgeries = Vec::new();
    for seed in [
        *group.ids[3].dangerous_to_seed(),
        *hushwire::IdentityKeyPair::generate(&mut group.rng).dangerous_to_seed(),
    ] {
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let mut message = b"hushwire/v1/sig/group-message".to_vec();
        message.extend_from_slice(signed);
        let mut f = signed.to_vec();
        f.extend_from_slice(&key.sign(&message).to_bytes());
        forgeries.push(f);
    }
    let mut malleated = genuine.clone();
    let mut carry = 0u16;
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    for (b, l) in malleated[n - 32..].iter_mut().zip(L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = u8::try_from(sum & 0xff).unwrap();
        carry = sum >> 8;
    }
    forgeries.push(malleated);
    let mut zeroed = genuine.clone();
    zeroed[n - 64..].fill(0);
    forgeries.push(zeroed);
    for f in &forgeries {
        for receiver in [0, 1, 3] {
            group_rejects(&mut group, receiver, f, GroupError::BadSignature);
        }
    }
    // A forged sender field (member 3's key on member 2's message) is refused too.
    let mut spoofed = genuine.clone();
    let at = spoofed
        .windows(32)
        .position(|w| w == group.ids[2].public().as_bytes())
        .unwrap();
    spoofed[at..at + 32].copy_from_slice(group.ids[3].public().as_bytes());
    let before = group.g[1].clone();
    assert!(group.g[1].decrypt(&spoofed, NOW).is_err());
    assert!(group.g[1] == before);

    // The genuine message is still read by everyone, and the group goes on.
    for receiver in [0, 1, 3] {
        assert_eq!(
            group.g[receiver].decrypt(&genuine, NOW).unwrap().plaintext,
            b"from member 2"
        );
    }
    let next = group.send(1, b"next");
    assert_eq!(group.g[2].decrypt(&next, NOW).unwrap().plaintext, b"next");
}

#[test]
fn group_message_from_removed_member_is_rejected() {
    use hushwire::GroupError;
    let mut group = Group::new(142);
    let removed = *group.ids[3].public();
    let before_removal = group.send(3, b"sent before the removal");

    // The admin removes member 3; members 1 and 2 apply it (member 3 does not yet know).
    let admin = group.ids[0].clone();
    let update = group.g[0]
        .remove_member(&admin, removed, NOW, &mut group.rng)
        .unwrap();
    let change = update.change.unwrap();
    let mut dists = vec![(0, update.distribution.unwrap())];
    for i in [1, 2] {
        let id = group.ids[i].clone();
        let u = group.g[i]
            .apply_roster_change(&id, &change.bytes, NOW, &mut group.rng)
            .unwrap();
        dists.push((i, u.distribution.unwrap()));
    }
    for (from, d) in dists {
        assert!(
            !d.recipients.contains(&removed),
            "the removed member gets no new key"
        );
        group.distribute(from, &d);
    }

    // Member 3 still sends on its old key, at the old epoch: refused by every remaining
    // member with a typed error and no state change, whether sent before or after.
    let after_removal = group.send(3, b"sent after the removal");
    for receiver in [0, 1, 2] {
        for m in [&before_removal, &after_removal] {
            group_rejects(&mut group, receiver, m, GroupError::UnknownSender);
        }
    }
    // The remaining members go on; the removed member cannot read them.
    let next = group.send(1, b"without member 3");
    for receiver in [0, 2] {
        assert_eq!(
            group.g[receiver].decrypt(&next, NOW).unwrap().plaintext,
            b"without member 3"
        );
    }
    assert!(group.g[3].decrypt(&next, NOW).is_err());
}

#[test]
fn downgraded_version_of_sealed_group_and_certificate_encodings_is_rejected() {
    use hushwire::group::{RosterError, peek};
    use hushwire::sealed::{self, MultiRecipientMessage};
    use hushwire::{ContentType, GroupError, Metadata, OpenError};

    let mut rng = rng(143);
    let relay = Relay::new(&mut rng);
    let accounts = Accounts::new(&mut rng);
    let alice = accounts.alice.identity_key_pair();
    let bob = accounts.bob.identity_key_pair();
    let cert = relay.certify(alice.public(), 1);
    let meta = Metadata::new(ContentType::SESSION, NOW);
    let envelope = sealed::seal(alice, &cert, bob.public(), &meta, b"x", &mut rng).unwrap();
    let multi = sealed::seal_multi(alice, &cert, &[*bob.public()], &meta, b"x", &mut rng).unwrap();
    let mut group = Group::new(144);
    let message = group.send(2, b"group");
    let admin = group.ids[0].clone();
    let update = group.g[0]
        .set_role(
            &admin,
            *group.ids[1].public(),
            hushwire::group::GroupRole::Admin,
            &mut group.rng,
        )
        .unwrap();
    let change = update.change.unwrap().bytes.to_vec();

    for version in [0u8, 2] {
        let e = DecodeError::UnknownVersion(version);
        let with = |bytes: &[u8]| {
            let mut b = bytes.to_vec();
            b[0] = version;
            b
        };
        assert_eq!(
            sealed::open(bob, &with(&envelope), &relay.trust, NOW).unwrap_err(),
            OpenError::Malformed(e)
        );
        assert_eq!(MultiRecipientMessage::decode(&with(&multi)).unwrap_err(), e);
        assert_eq!(
            hushwire::SenderCertificate::from_bytes(&with(cert.as_bytes())).unwrap_err(),
            e
        );
        assert_eq!(
            hushwire::ServerCertificate::from_bytes(&with(relay.server_cert.as_bytes()))
                .unwrap_err(),
            e
        );
        assert_eq!(peek(&with(&message)).unwrap_err(), e);
        group_rejects(&mut group, 1, &with(&message), GroupError::Malformed(e));
        let before = group.g[1].clone();
        let id = group.ids[1].clone();
        assert_eq!(
            group.g[1]
                .apply_roster_change(&id, &with(&change), NOW, &mut group.rng)
                .unwrap_err(),
            RosterError::Malformed(e)
        );
        assert!(group.g[1] == before);
    }
    // The genuine encodings still work.
    assert!(sealed::open(bob, &envelope, &relay.trust, NOW).is_ok());
    assert_eq!(
        group.g[1].decrypt(&message, NOW).unwrap().plaintext,
        b"group"
    );
    let id = group.ids[1].clone();
    assert!(
        group.g[1]
            .apply_roster_change(&id, &change, NOW, &mut group.rng)
            .is_ok()
    );
}
