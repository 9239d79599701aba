//! Fixed test vectors of reset requests (`tests/vectors/reset/reset_request.json`, SPEC.md
//! §12.4).
//!
//! Each request is built twice: by hushwire's public API (`Device::reset_request`, its nonce
//! drawn from a fixed tape) and by an independent reference below written from the spec with
//! the primitive crates only (the X25519 form of both identity keys, static-static DH,
//! HKDF-SHA256, HMAC-SHA256). The bytes must agree, the target must accept them, and every
//! invalid case must be refused with the error written here by hand. The file built from
//! all of it is compared with the committed one. The refused requests cover every `ResetError`
//! the answerer can give without a failing handshake, each with its inner error.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the file instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common::sealed_reference as reference;

use std::convert::Infallible;

use chacha20::ChaCha20Rng;
use hmac::{Hmac, KeyInit, Mac};
use hushwire::{
    DecodeError, Device, IdentityKey, IdentityKeyPair, RESET_MAX_AGE_SECS,
    RESET_MAX_FUTURE_SKEW_SECS, RESET_MIN_INTERVAL_SECS, RESET_REQUEST_LEN, ResetError,
    ResetReason, Timestamp,
};
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use reference::{Key, cat, hkdf, sha256, x25519_dh};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::vector_file;

use vector_file::{canonical_text, check_vector_file};

use crate::common::vector_json;

use vector_json::outcome_json;

use crate::common::NOW_SECS as NOW;
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

fn account(seed: &[u8; 32], rng: &mut ChaCha20Rng) -> Device {
    Device::from_account(hushwire::Account::from_identity(
        IdentityKeyPair::dangerous_from_seed(seed),
        ts(NOW),
        rng,
    ))
}

/// Whose account answers, or whose bundle is given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Requester,
    Target,
    Stranger,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Requester => "requester",
            Who::Target => "target",
            Who::Stranger => "stranger",
        }
    }
}

/// An invalid case: the bytes to answer, when, by whom, with whose bundle, after which requests
/// were answered, and the outcome hushwire must give (written by hand; `Ok` for the accepted
/// edges).
struct Invalid {
    name: &'static str,
    request: Vec<u8>,
    now: u64,
    answerer: Who,
    bundle: Who,
    answered_before: Vec<(Vec<u8>, u64)>,
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
        answerer: Who::Target,
        bundle: Who::Requester,
        answered_before: Vec::new(),
        expected,
    }
}

/// A request made by the library (its nonce from a fixed tape) and checked against the
/// reference; returns its bytes and MAC key.
fn make_request(
    requester_seed: &[u8; 32],
    target: &Key,
    created_at: u64,
    reason: ResetReason,
    nonce_label: &str,
    rng: &mut ChaCha20Rng,
) -> (Vec<u8>, [u8; 32], [u8; 16]) {
    let since = NOW - 86_400;
    let nonce: [u8; 16] = reference::arr(&fixed(nonce_label)[..16]);
    // A fresh requester each time: its own rate limit is checked in `requesting`.
    let mut requester = account(requester_seed, rng);
    let target_id = IdentityKey::from_bytes(&target.ed_public).unwrap();
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
        &Key::from_seed(*requester_seed),
        target,
        created_at,
        since,
        reason_byte(reason),
        &nonce,
    );
    assert_eq!(
        bytes, expected,
        "request {nonce_label} differs from the reference"
    );
    assert_eq!(bytes.len(), RESET_REQUEST_LEN);
    (bytes, key, nonce)
}

fn build() -> Value {
    let requester_seed = fixed("requester-identity-seed");
    let target_seed = fixed("target-identity-seed");
    let stranger_seed = fixed("stranger-identity-seed");
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
        let (bytes, key, nonce) = make_request(
            &requester_seed,
            &target_ref,
            created_at,
            reason,
            &format!("nonce-{i}"),
            &mut rng,
        );
        // The target accepts it (a bundle of the requester answers it).
        let bundle = account(&requester_seed, &mut rng)
            .account()
            .published_prekeys()
            .take_bundle();
        let answered = target
            .answer_reset(&bytes, &bundle, ts(created_at), &mut rng)
            .unwrap();
        assert_eq!(answered.resend_since, ts(NOW - 86_400));
        if i == 0 {
            first_request = bytes.clone();
        }
        valid.push(json!({
            "reason": reason_byte(reason),
            "created_at": created_at,
            "since": NOW - 86_400,
            "nonce": hex::encode(nonce),
            "mac_key": hex::encode(key),
            "request": hex::encode(&bytes),
        }));
    }

    // Refused requests, each answered by a fresh account (no rate limit or replay record but
    // the requests it answers first).
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

    let mut unknown_type = base.clone();
    unknown_type[1] = 0x7f;
    cases.push(invalid(
        "unknown-type",
        &unknown_type,
        NOW,
        Err(ResetError::Malformed(DecodeError::UnknownType(0x7f))),
    ));
    cases.push(Invalid {
        answerer: Who::Stranger,
        ..invalid("not-for-us", &base, NOW, Err(ResetError::NotForUs))
    });
    cases.push(Invalid {
        bundle: Who::Stranger,
        ..invalid(
            "bundle-of-another-identity",
            &base,
            NOW,
            Err(ResetError::BundleMismatch),
        )
    });
    // After the target answered `base` (made at NOW) at NOW: a newer request of the same
    // requester within RESET_MIN_INTERVAL_SECS, at its end, and `base` again once the interval
    // has passed (a replay of an answered request).
    let (newer, _, _) = make_request(
        &requester_seed,
        &target_ref,
        NOW + 20,
        ResetReason::StateBehind,
        "nonce-newer",
        &mut rng,
    );
    cases.push(Invalid {
        answered_before: vec![(base.clone(), NOW)],
        ..invalid(
            "rate-limited",
            &newer,
            NOW + 30,
            Err(ResetError::RateLimited {
                retry_after_secs: 30,
            }),
        )
    });
    cases.push(Invalid {
        answered_before: vec![(base.clone(), NOW)],
        ..invalid(
            "rate-limit-over",
            &newer,
            NOW + RESET_MIN_INTERVAL_SECS,
            Ok(()),
        )
    });
    cases.push(Invalid {
        answered_before: vec![(base.clone(), NOW)],
        ..invalid(
            "replay-of-answered-request",
            &base,
            NOW + RESET_MIN_INTERVAL_SECS + 1,
            Err(ResetError::Stale),
        )
    });

    let bundle_of = |who: Who, rng: &mut ChaCha20Rng| {
        let seed = match who {
            Who::Requester => requester_seed,
            Who::Target => target_seed,
            Who::Stranger => stranger_seed,
        };
        account(&seed, rng)
            .account()
            .published_prekeys()
            .take_bundle()
    };
    let mut invalid_json = Vec::new();
    for case in &cases {
        let seed = match case.answerer {
            Who::Target => target_seed,
            Who::Stranger => stranger_seed,
            Who::Requester => requester_seed,
        };
        let mut answerer = account(&seed, &mut rng);
        for (request, now) in &case.answered_before {
            let bundle = bundle_of(Who::Requester, &mut rng);
            let _ = answerer
                .answer_reset(request, &bundle, ts(*now), &mut rng)
                .unwrap();
        }
        let bundle = bundle_of(case.bundle, &mut rng);
        let got = answerer
            .answer_reset(&case.request, &bundle, ts(case.now), &mut rng)
            .map(|_| ());
        assert_eq!(got, case.expected, "case {}", case.name);
        invalid_json.push(json!({
            "name": case.name,
            "answerer": case.answerer.name(),
            "bundle": case.bundle.name(),
            "answered_before": case
                .answered_before
                .iter()
                .map(|(r, now)| json!({ "request": hex::encode(r), "now": now }))
                .collect::<Vec<_>>(),
            "request": hex::encode(&case.request),
            "now": case.now,
            "error": outcome_json(&case.expected),
        }));
    }

    // The requester's side: a second request to the same peer within RESET_MIN_INTERVAL_SECS
    // is refused, one at its end is made.
    let mut requesting = Vec::new();
    for (name, second_at, expected) in [
        (
            "second-request-too-soon",
            NOW + RESET_MIN_INTERVAL_SECS - 1,
            Err(ResetError::RateLimited {
                retry_after_secs: 1,
            }),
        ),
        (
            "second-request-at-the-limit",
            NOW + RESET_MIN_INTERVAL_SECS,
            Ok(()),
        ),
    ] {
        let mut requester = account(&requester_seed, &mut rng);
        let mut nonces = NonceRng([[0u8; 16], [1u8; 16]].concat());
        requester
            .reset_request(
                &target_id,
                ResetReason::NoSession,
                ts(NOW - 86_400),
                ts(NOW),
                &mut nonces,
            )
            .unwrap();
        let got = requester
            .reset_request(
                &target_id,
                ResetReason::NoSession,
                ts(NOW - 86_400),
                ts(second_at),
                &mut nonces,
            )
            .map(|_| ());
        assert_eq!(got, expected, "{name}");
        requesting.push(json!({
            "name": name,
            "first_at": NOW,
            "second_at": second_at,
            "error": outcome_json(&expected),
        }));
    }

    json!({
        "description": "Reset requests (SPEC.md §12.4): the requester's and target's identity \
            seeds, each request's fields, the HMAC key HKDF-SHA256(salt = none, ikm = \
            X25519(requester, target), info = label, 32 bytes) and the request bytes; then \
            requests that must be refused, each with who answers it (a fresh account of \
            `answerer`, which first answers `answered_before`), whose bundle it is given, and \
            the outcome at `now`; then the requester's own rate limit.",
        "label": String::from_utf8(LABEL_RESET_MAC.to_vec()).unwrap(),
        "requester_identity_seed": hex::encode(requester_seed),
        "target_identity_seed": hex::encode(target_seed),
        "stranger_identity_seed": hex::encode(stranger_seed),
        "max_age_secs": RESET_MAX_AGE_SECS,
        "max_future_skew_secs": RESET_MAX_FUTURE_SKEW_SECS,
        "valid": valid,
        "requesting": requesting,
        "invalid": invalid_json,
    })
}

#[test]
fn reset_request_vectors_match_the_reference_and_the_committed_file() {
    check_vector_file("reset", "reset_request", &canonical_text(&build()));
}
