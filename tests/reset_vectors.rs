//! Fixed test vectors of reset requests (`tests/vectors/reset/reset_request.json`, SPEC.md
//! §12.4).
//!
//! Each request is built twice: by hushwire's public API (`Account::reset_request`, its nonce
//! drawn from a fixed tape) and by an independent reference below written from the spec with
//! the primitive crates only (the X25519 form of both identity keys, static-static DH,
//! HKDF-SHA256, HMAC-SHA256). The bytes must agree, the target must accept them, and every
//! invalid case must be refused with the error written here by hand. The file built from
//! all of it is compared with the committed one.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the file instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "vectors/sealed/reference.rs"]
mod reference;

use std::convert::Infallible;

use chacha20::ChaCha20Rng;
use hmac::{Hmac, KeyInit, Mac};
use hushwire::{
    Account, DecodeError, IdentityKeyPair, RESET_MAX_AGE_SECS, RESET_MAX_FUTURE_SKEW_SECS,
    RESET_REQUEST_LEN, ResetError, ResetReason, Timestamp,
};
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use reference::{Key, cat, hkdf, sha256, x25519_dh};
use serde_json::{Value, json};
use sha2::Sha256;

#[path = "common/vector_file.rs"]
mod vector_file;

use vector_file::{canonical_text, check_vector_file};

#[path = "common/vector_json.rs"]
mod vector_json;

use vector_json::outcome_json;

const NOW: u64 = 1_700_000_000;
const LABEL_RESET_MAC: &[u8] = b"hushwire/v1/reset-request-mac";
const WIRE_VERSION: u8 = 0x01;
const TYPE_RESET_REQUEST: u8 = 0x03;

fn ts(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

/// A 32-byte value named in the vectors: SHA-256 of a fixed label.
fn fixed(label: &str) -> [u8; 32] {
    sha256(format!("hushwire/v1/test-vectors/reset/{label}").as_bytes())
}

/// Hands out fixed bytes (the request nonce) and nothing else.
struct NonceRng(Vec<u8>);

impl TryRng for NonceRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        panic!("a reset request draws only its nonce")
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        panic!("a reset request draws only its nonce")
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        assert!(dst.len() <= self.0.len(), "nonce tape exhausted");
        let rest = self.0.split_off(dst.len());
        dst.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}

impl TryCryptoRng for NonceRng {}

fn reason_byte(reason: ResetReason) -> u8 {
    match reason {
        ResetReason::NoSession => 1,
        ResetReason::StateBehind => 2,
        ResetReason::PeerForked => 3,
        ResetReason::TooFarBehind => 4,
        _ => panic!("a reason this test does not know"),
    }
}

/// The reference: the request bytes and the MAC key, from the two identity seeds.
fn reference_request(
    requester: &Key,
    target: &Key,
    created_at: u64,
    since: u64,
    reason: u8,
    nonce: &[u8; 16],
) -> (Vec<u8>, [u8; 32]) {
    let shared = x25519_dh(&requester.x_secret, &target.x_public);
    // The other side computes the same secret from its own key.
    assert_eq!(shared, x25519_dh(&target.x_secret, &requester.x_public));
    // HKDF without a salt is HKDF with 32 zero bytes of salt (RFC 5869 §2.2).
    let key: [u8; 32] = reference::arr(&hkdf(&[0u8; 32], &shared, LABEL_RESET_MAC, 32));
    let signed = cat(&[
        &[WIRE_VERSION, TYPE_RESET_REQUEST],
        &requester.ed_public,
        &target.ed_public,
        &created_at.to_be_bytes(),
        &since.to_be_bytes(),
        &[reason],
        nonce,
    ]);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(&signed);
    let tag = mac.finalize().into_bytes();
    (cat(&[&signed, &tag]), key)
}

fn account(seed: &[u8; 32], rng: &mut ChaCha20Rng) -> Account {
    Account::from_identity(IdentityKeyPair::dangerous_from_seed(seed), ts(NOW), rng)
}

/// An invalid case: the bytes to answer, when, and the outcome hushwire must give (written
/// by hand; `Ok` for the accepted edges).
struct Invalid {
    name: &'static str,
    request: Vec<u8>,
    now: u64,
    expected: Result<(), ResetError>,
}

fn invalid(
    name: &'static str,
    request: &[u8],
    now: u64,
    expected: Result<(), ResetError>,
) -> Invalid {
    Invalid {
        name,
        request: request.to_vec(),
        now,
        expected,
    }
}

fn build() -> Value {
    let requester_seed = fixed("requester-identity-seed");
    let target_seed = fixed("target-identity-seed");
    let stranger_seed = fixed("stranger-identity-seed");
    let requester_ref = Key::from_seed(requester_seed);
    let target_ref = Key::from_seed(target_seed);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut target = account(&target_seed, &mut rng);
    let target_id = *target.identity_key();

    let mut valid = Vec::new();
    let mut first_request = Vec::new();
    let reasons = [
        ResetReason::NoSession,
        ResetReason::StateBehind,
        ResetReason::PeerForked,
        ResetReason::TooFarBehind,
    ];
    for (i, reason) in reasons.into_iter().enumerate() {
        let created_at = NOW + 3_600 * i as u64;
        let since = NOW - 86_400;
        let nonce: [u8; 16] = reference::arr(&fixed(&format!("nonce-{i}"))[..16]);
        // A fresh requester each time: the rate limit is per pair and tested elsewhere.
        let mut requester = account(&requester_seed, &mut rng);
        let bytes = requester
            .reset_request(
                &target_id,
                reason,
                ts(since),
                ts(created_at),
                &mut NonceRng(nonce.to_vec()),
            )
            .unwrap();
        let (expected, key) = reference_request(
            &requester_ref,
            &target_ref,
            created_at,
            since,
            reason_byte(reason),
            &nonce,
        );
        assert_eq!(bytes, expected, "request {i} differs from the reference");
        assert_eq!(bytes.len(), RESET_REQUEST_LEN);
        // The target accepts it (a bundle of the requester answers it).
        let bundle = requester.published_prekeys().take_bundle();
        let answered = target
            .answer_reset(&bytes, &bundle, ts(created_at), &mut rng)
            .unwrap();
        assert_eq!(answered.resend_since, ts(since));
        if i == 0 {
            first_request = bytes.clone();
        }
        valid.push(json!({
            "reason": reason_byte(reason),
            "created_at": created_at,
            "since": since,
            "nonce": hex::encode(nonce),
            "mac_key": hex::encode(key),
            "request": hex::encode(&bytes),
        }));
    }

    // Invalid cases, each answered by a fresh target (no rate limit or replay record).
    let base = first_request;
    let mut cases = Vec::new();
    let mut flipped_mac = base.clone();
    *flipped_mac.last_mut().unwrap() ^= 0x01;
    cases.push(invalid(
        "mac-bit-flipped",
        &flipped_mac,
        NOW,
        Err(ResetError::BadSignature),
    ));
    let mut flipped_since = base.clone();
    flipped_since[2 + 32 + 32 + 8] ^= 0x80;
    cases.push(invalid(
        "since-changed",
        &flipped_since,
        NOW,
        Err(ResetError::BadSignature),
    ));
    cases.push(invalid(
        "too-old",
        &base,
        NOW + RESET_MAX_AGE_SECS + 1,
        Err(ResetError::Stale),
    ));
    cases.push(invalid(
        "oldest-accepted",
        &base,
        NOW + RESET_MAX_AGE_SECS,
        Ok(()),
    ));
    cases.push(invalid(
        "too-far-in-the-future",
        &base,
        NOW - RESET_MAX_FUTURE_SKEW_SECS - 1,
        Err(ResetError::Stale),
    ));
    cases.push(invalid(
        "furthest-future-accepted",
        &base,
        NOW - RESET_MAX_FUTURE_SKEW_SECS,
        Ok(()),
    ));
    let mut reason_zero = base.clone();
    reason_zero[2 + 32 + 32 + 8 + 8] = 0;
    cases.push(invalid(
        "unknown-reason",
        &reason_zero,
        NOW,
        Err(ResetError::Malformed(DecodeError::InvalidField {
            field: "reason",
        })),
    ));
    cases.push(invalid(
        "truncated",
        &base[..base.len() - 1],
        NOW,
        Err(ResetError::Malformed(DecodeError::Truncated { needed: 1 })),
    ));
    let mut longer = base.clone();
    longer.push(0);
    cases.push(invalid(
        "trailing-byte",
        &longer,
        NOW,
        Err(ResetError::Malformed(DecodeError::TooLarge {
            len: RESET_REQUEST_LEN + 1,
            max: RESET_REQUEST_LEN,
        })),
    ));
    let mut future_version = base.clone();
    future_version[0] = 0x02;
    cases.push(invalid(
        "unknown-version",
        &future_version,
        NOW,
        Err(ResetError::Malformed(DecodeError::UnknownVersion(2))),
    ));
    let mut other_type = base.clone();
    other_type[1] = 0x01;
    cases.push(invalid(
        "wrong-type",
        &other_type,
        NOW,
        Err(ResetError::Malformed(DecodeError::WrongType {
            expected: TYPE_RESET_REQUEST,
            found: 0x01,
        })),
    ));

    let requester_bundle = account(&requester_seed, &mut rng)
        .published_prekeys()
        .take_bundle();
    let mut invalid_json = Vec::new();
    for case in &cases {
        let mut fresh = account(&target_seed, &mut rng);
        let got = fresh
            .answer_reset(&case.request, &requester_bundle, ts(case.now), &mut rng)
            .map(|_| ());
        assert_eq!(got, case.expected, "case {}", case.name);
        invalid_json.push(json!({
            "name": case.name,
            "request": hex::encode(&case.request),
            "now": case.now,
            "error": outcome_json(&case.expected),
        }));
    }
    // A request for someone else is refused by whoever receives it.
    let mut stranger = account(&stranger_seed, &mut rng);
    assert_eq!(
        stranger
            .answer_reset(&base, &requester_bundle, ts(NOW), &mut rng)
            .unwrap_err(),
        ResetError::NotForUs
    );

    json!({
        "description": "Reset requests (SPEC.md §12.4): the requester's and target's identity \
            seeds, each request's fields, the HMAC key HKDF-SHA256(salt = none, ikm = \
            X25519(requester, target), info = label, 32 bytes) and the request bytes; then \
            invalid requests with the error the target must give when answering at `now`.",
        "label": String::from_utf8(LABEL_RESET_MAC.to_vec()).unwrap(),
        "requester_identity_seed": hex::encode(requester_seed),
        "target_identity_seed": hex::encode(target_seed),
        "stranger_identity_seed": hex::encode(stranger_seed),
        "max_age_secs": RESET_MAX_AGE_SECS,
        "max_future_skew_secs": RESET_MAX_FUTURE_SKEW_SECS,
        "valid": valid,
        "invalid": invalid_json,
    })
}

#[test]
fn reset_request_vectors_match_the_reference_and_the_committed_file() {
    check_vector_file("reset", "reset_request", &canonical_text(&build()));
}
