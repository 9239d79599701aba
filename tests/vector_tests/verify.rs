//! Fixed test vectors of identity verification (`tests/vectors/verify/*.json`, described in
//! spec/verify.md §8): safety numbers and QR payloads, short authentication strings, and
//! business identity certificates.
//!
//! Every value the library computes is recomputed here by an independent reference built from
//! the primitive crates only (`sha2`, `hkdf`, `ed25519-dalek`), written from the specification:
//! fingerprints and digits, QR payloads, the SAS run (binding, commitment, messages, SAS bytes)
//! and its emoji and numbers, and the
//! byte-exact certificate encodings and signatures (Ed25519 is deterministic). Every expected
//! rejection is written here by hand. The files built from them are then compared with the
//! committed ones. Keys of the safety-number and certificate files come from
//! `ChaCha20Rng::seed_from_u64`; every random value of `sas.json` comes from the tape of
//! SPEC.md §10.4, recorded in the file.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the files instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use hushwire::certificate::ServerCertificate;
use hushwire::verify::{
    FINGERPRINT_ITERATIONS, MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS, OperatorInfo,
    SAFETY_NUMBER_VERSION, SAS_EMOJI_TABLE, SAS_MESSAGE_LEN, SAS_RUN_TIMEOUT_SECS, SasReady,
    accept_sas, start_sas, verify_business_identity,
};
use hushwire::{
    Account, DecodeError, IdentityCertificate, IdentityKeyPair, IssuerKeyPair, OrganizationRoots,
    SafetyNumber, Session, ShortAuthString, Timestamp, UserId, Validity, VerifyError,
};
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use std::convert::Infallible;

use crate::common::vector_file;

use vector_file::{canonical_text, check_vector_file, json_file_names, regenerating};

use crate::common::vector_json;

use vector_json::{error_json, outcome_json};

use crate::common::NOW_SECS as NOW;
const DAY: u64 = 86_400;
const RNG: &str = "chacha20::ChaCha20Rng::seed_from_u64(seed); each identity or issuer key pair \
                   is one 32-byte draw (its Ed25519 seed), other random values are fill_bytes \
                   draws, in the order listed";

// Constants of the specification, written out again (not taken from the library).
const LABEL_SAFETY_NUMBER: &[u8] = b"hushwire/v1/safety-number";
const LABEL_VERIFICATION_KEY: &[u8] = b"hushwire/v1/verification-key";
const LABEL_SIG_SERVER_CERTIFICATE: &[u8] = b"hushwire/v1/sig/server-certificate";
const LABEL_SIG_IDENTITY_CERTIFICATE: &[u8] = b"hushwire/v1/sig/identity-certificate";
const ITERATIONS: usize = 5_200;
const TYPE_QR: u8 = 0x50;
const TYPE_SERVER_CERTIFICATE: u8 = 0x40;
const TYPE_IDENTITY_CERTIFICATE: u8 = 0x42;

fn ts(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn arr<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The reference.

fn ref_fingerprint(user_id: &[u8], key: &[u8; 32]) -> [u8; 32] {
    let mut x = [
        LABEL_SAFETY_NUMBER,
        &[1u8],
        key,
        &[u8::try_from(user_id.len()).unwrap()],
        user_id,
    ]
    .concat();
    for _ in 0..ITERATIONS {
        x = Sha512::digest([&x[..], key].concat()).to_vec();
    }
    arr(&x[..32])
}

fn ref_digits(fingerprint: &[u8; 32]) -> String {
    fingerprint[..30]
        .chunks(5)
        .map(|c| {
            let v = c.iter().fold(0u64, |a, b| a * 256 + u64::from(*b));
            format!("{:05}", v % 100_000)
        })
        .collect()
}

fn ref_safety_number(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a}{b}")
    } else {
        format!("{b}{a}")
    }
}

fn ref_qr(ours: &[u8; 32], theirs: &[u8; 32]) -> Vec<u8> {
    [&[1u8, TYPE_QR, 1][..], ours, theirs].concat()
}

fn hkdf_sha256(ikm: &[u8], info: &[u8], out: &mut [u8]) {
    Hkdf::<Sha256>::new(Some(&[0u8; 32]), ikm)
        .expand(info, out)
        .unwrap();
}

fn ref_verification_key(tag_key: &[u8; 32], session_id: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf_sha256(
        tag_key,
        &[LABEL_VERIFICATION_KEY, session_id].concat(),
        &mut out,
    );
    out
}

fn ref_emoji(sas: &[u8; 6]) -> Vec<u8> {
    // Like base64: 6 bits at a time from the most significant end.
    let bits: Vec<u8> = sas
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    bits.chunks(6)
        .take(7)
        .map(|c| c.iter().fold(0u8, |a, b| a * 2 + b))
        .collect()
}

fn ref_decimal(sas: &[u8; 6]) -> Vec<u16> {
    let v = sas[..5].iter().fold(0u64, |a, b| a * 256 + u64::from(*b));
    vec![
        ((v >> 27) & 0x1fff) as u16 + 1000,
        ((v >> 14) & 0x1fff) as u16 + 1000,
        ((v >> 1) & 0x1fff) as u16 + 1000,
    ]
}

fn ed25519_public(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

fn ref_server_certificate(
    root_seed: &[u8; 32],
    root_id: u32,
    key_id: u32,
    key: &[u8; 32],
    not_before: u64,
    expires_at: u64,
) -> Vec<u8> {
    let body = [
        &[1u8, TYPE_SERVER_CERTIFICATE][..],
        &root_id.to_be_bytes(),
        &key_id.to_be_bytes(),
        key,
        &not_before.to_be_bytes(),
        &expires_at.to_be_bytes(),
    ]
    .concat();
    let sig =
        SigningKey::from_bytes(root_seed).sign(&[LABEL_SIG_SERVER_CERTIFICATE, &body].concat());
    [body, sig.to_bytes().to_vec()].concat()
}

struct RefIdentityCert<'a> {
    org_key_seed: &'a [u8; 32],
    serial: u64,
    identity: &'a [u8; 32],
    not_before: u64,
    expires_at: u64,
    server_certificate: &'a [u8],
    organization: &'a str,
    operator_name: &'a str,
    role: &'a str,
}

fn ref_identity_certificate(c: &RefIdentityCert<'_>) -> Vec<u8> {
    let text = |s: &str| [&[u8::try_from(s.len()).unwrap()][..], s.as_bytes()].concat();
    let body = [
        &[1u8, TYPE_IDENTITY_CERTIFICATE][..],
        &c.serial.to_be_bytes(),
        c.identity,
        &c.not_before.to_be_bytes(),
        &c.expires_at.to_be_bytes(),
        c.server_certificate,
        &text(c.organization),
        &text(c.operator_name),
        &text(c.role),
    ]
    .concat();
    let sig = SigningKey::from_bytes(c.org_key_seed)
        .sign(&[LABEL_SIG_IDENTITY_CERTIFICATE, &body].concat());
    [body, sig.to_bytes().to_vec()].concat()
}

// ---------------------------------------------------------------------------------------------
// Safety numbers

struct Side {
    user_id: Vec<u8>,
    pair: IdentityKeyPair,
}

fn side_json(s: &Side, fingerprint: &[u8; 32], digits: &str) -> Value {
    json!({
        "user_id": hx(&s.user_id),
        "identity_seed": hx(s.pair.dangerous_to_seed().as_ref()),
        "identity_key": hx(s.pair.public().as_bytes()),
        "fingerprint": hx(fingerprint),
        "digits": digits,
    })
}

fn safety_numbers() -> Value {
    let specs: [(&str, u64, Vec<u8>, Vec<u8>); 4] = [
        (
            "alice_and_bob",
            1,
            b"alice@example.com".to_vec(),
            b"bob@example.com".to_vec(),
        ),
        ("longest_user_ids", 2, vec![0xaa; 128], vec![0x55; 128]),
        ("one_byte_user_ids", 3, vec![0x00], vec![0xff]),
        (
            "same_user_id_on_both_sides",
            4,
            b"u".to_vec(),
            b"u".to_vec(),
        ),
    ];
    let mut cases = Vec::new();
    let mut views = Vec::new();
    for (name, seed, local_id, remote_id) in specs {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let local = Side {
            user_id: local_id,
            pair: IdentityKeyPair::generate(&mut rng),
        };
        let remote = Side {
            user_id: remote_id,
            pair: IdentityKeyPair::generate(&mut rng),
        };
        let (lu, ru) = (
            UserId::new(&local.user_id).unwrap(),
            UserId::new(&remote.user_id).unwrap(),
        );
        let ours = SafetyNumber::new(&lu, local.pair.public(), &ru, remote.pair.public());
        let theirs = SafetyNumber::new(&ru, remote.pair.public(), &lu, local.pair.public());

        let lf = ref_fingerprint(&local.user_id, local.pair.public().as_bytes());
        let rf = ref_fingerprint(&remote.user_id, remote.pair.public().as_bytes());
        assert_eq!(ours.local().as_bytes(), &lf, "{name}");
        assert_eq!(ours.remote().as_bytes(), &rf, "{name}");
        let (ld, rd) = (ref_digits(&lf), ref_digits(&rf));
        assert_eq!(ours.local().digits(), ld);
        let number = ref_safety_number(&ld, &rd);
        assert_eq!(ours.digits(), number, "{name}");
        assert_eq!(theirs.digits(), number, "{name}");
        let display: Vec<&str> = (0..12).map(|i| &number[i * 5..i * 5 + 5]).collect();
        let display = display.join(" ");
        assert_eq!(ours.to_string(), display);
        assert_eq!(ours.to_qr_payload().to_vec(), ref_qr(&lf, &rf));
        assert_eq!(theirs.to_qr_payload().to_vec(), ref_qr(&rf, &lf));
        ours.verify_scanned(&theirs.to_qr_payload()).unwrap();
        theirs.verify_scanned(&ours.to_qr_payload()).unwrap();

        cases.push(json!({
            "name": name,
            "seed": seed,
            "local": side_json(&local, &lf, &ld),
            "remote": side_json(&remote, &rf, &rd),
            "safety_number": number,
            "display": display,
            "local_qr_payload": hx(&ref_qr(&lf, &rf)),
            "remote_qr_payload": hx(&ref_qr(&rf, &lf)),
        }));
        views.push((ours, theirs));
    }

    // QR checks: the local side of case 0 scans each payload.
    let (scanner, peer) = views[0];
    let good = peer.to_qr_payload().to_vec();
    let with = |i: usize, v: u8| {
        let mut p = good.clone();
        p[i] = v;
        p
    };
    let checks: Vec<(&str, Vec<u8>, Result<(), VerifyError>)> = vec![
        ("the_peer_s_code", good.clone(), Ok(())),
        (
            "our_own_code",
            scanner.to_qr_payload().to_vec(),
            Err(VerifyError::Swapped),
        ),
        (
            "another_pair_s_code",
            views[1].1.to_qr_payload().to_vec(),
            Err(VerifyError::OtherPair),
        ),
        (
            "one_fingerprint_byte_changed",
            with(3, good[3] ^ 1),
            Err(VerifyError::OtherPair),
        ),
        (
            "other_safety_number_version",
            with(2, 2),
            Err(VerifyError::SafetyNumberVersion { ours: 1, theirs: 2 }),
        ),
        (
            "other_wire_version",
            with(0, 2),
            Err(VerifyError::Malformed(DecodeError::UnknownVersion(2))),
        ),
        (
            "other_structure",
            with(1, 0x40),
            Err(VerifyError::Malformed(DecodeError::WrongType {
                expected: 0x50,
                found: 0x40,
            })),
        ),
        (
            "ratchet_message_type",
            with(1, 0x01),
            Err(VerifyError::Malformed(DecodeError::WrongType {
                expected: 0x50,
                found: 0x01,
            })),
        ),
        (
            "unknown_type",
            with(1, 0x5f),
            Err(VerifyError::Malformed(DecodeError::UnknownType(0x5f))),
        ),
        (
            "truncated",
            good[..66].to_vec(),
            Err(VerifyError::Malformed(DecodeError::Truncated { needed: 1 })),
        ),
        (
            "trailing_byte",
            [&good[..], &[0]].concat(),
            Err(VerifyError::Malformed(DecodeError::TooLarge {
                len: 68,
                max: 67,
            })),
        ),
    ];
    let qr_checks: Vec<Value> = checks
        .into_iter()
        .map(|(name, payload, expected)| {
            let got = scanner.verify_scanned(&payload);
            assert_eq!(got, expected, "{name}");
            json!({
                "name": name,
                "scanner": "cases[0].local",
                "payload": hx(&payload),
                "result": outcome_json(&got),
            })
        })
        .collect();

    json!({
        "vector": "safety_numbers",
        "description": "Fingerprints, 60-digit safety numbers and QR payloads of four pairs of identities, computed on both sides; then QR payloads scanned by the local side of the first pair.",
        "protocol": "hushwire/v1",
        "label": hx(LABEL_SAFETY_NUMBER),
        "safety_number_version": SAFETY_NUMBER_VERSION,
        "iterations": FINGERPRINT_ITERATIONS,
        "rng": RNG,
        "cases": cases,
        "qr_checks": qr_checks,
    })
}

// ---------------------------------------------------------------------------------------------
// Short authentication strings: the tape RNG (SPEC.md §10.4), the reference, the vectors

const TAPE_GENERATION: &str =
    "SHA-256(utf8(seed) || u32_be(i)) for i = 0, 1, 2, ..., concatenated and cut to `length` bytes";

fn tape_stream(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i: u32 = 0;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed.as_bytes());
        h.update(i.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        i += 1;
    }
    out.truncate(len);
    out
}

struct Draw {
    purpose: String,
    offset: usize,
    length: usize,
}

/// Hands out the bytes of a tape in order, recording every draw. Panics when it runs out.
struct TapeRng {
    seed: String,
    tape: Vec<u8>,
    pos: usize,
    draws: Vec<Draw>,
}

impl TapeRng {
    fn new(seed: &str) -> Self {
        TapeRng {
            seed: seed.to_owned(),
            tape: tape_stream(seed, 1 << 13),
            pos: 0,
            draws: Vec::new(),
        }
    }

    fn take(&mut self, dst: &mut [u8]) {
        let end = self.pos + dst.len();
        assert!(end <= self.tape.len(), "randomness tape exhausted");
        dst.copy_from_slice(&self.tape[self.pos..end]);
        self.draws.push(Draw {
            purpose: String::new(),
            offset: self.pos,
            length: dst.len(),
        });
        self.pos = end;
    }

    /// Names the draws made since the last call (one name and length per draw, in order) and
    /// returns their bytes.
    fn label(&mut self, names: &[(&str, usize)]) -> Vec<Vec<u8>> {
        let fresh: Vec<&mut Draw> = self
            .draws
            .iter_mut()
            .filter(|d| d.purpose.is_empty())
            .collect();
        let got: Vec<usize> = fresh.iter().map(|d| d.length).collect();
        let expected: Vec<usize> = names.iter().map(|(_, len)| *len).collect();
        assert_eq!(got, expected, "draws of {names:?}");
        let mut out = Vec::new();
        for (d, (name, _)) in fresh.into_iter().zip(names) {
            d.purpose = (*name).to_owned();
            out.push(self.tape[d.offset..d.offset + d.length].to_vec());
        }
        out
    }

    /// One draw made by the test itself.
    fn draw<const N: usize>(&mut self, purpose: &str) -> [u8; N] {
        let mut b = [0u8; N];
        self.take(&mut b);
        self.label(&[(purpose, N)]);
        b
    }

    fn to_json(&self) -> Value {
        json!({
            "generation": TAPE_GENERATION,
            "seed": self.seed,
            "length": self.pos,
            "bytes": hx(&self.tape[..self.pos]),
            "draws": self.draws.iter().enumerate().map(|(i, d)| json!({
                "index": i,
                "purpose": d.purpose,
                "offset": d.offset,
                "length": d.length,
                "value": hx(&self.tape[d.offset..d.offset + d.length]),
            })).collect::<Vec<_>>(),
        })
    }
}

impl TryRng for TapeRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.take(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.take(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.take(dst);
        Ok(())
    }
}

impl TryCryptoRng for TapeRng {}

const LABEL_SAS_COMMITMENT: &[u8] = b"hushwire/v1/verification/sas-commitment";
const LABEL_SAS_BYTES: &[u8] = b"hushwire/v1/verification/sas-bytes";
const TYPE_SAS_START: u8 = 0x51;
const TYPE_SAS_ACCEPT: u8 = 0x52;
const TYPE_SAS_REVEAL: u8 = 0x53;
const ROLE_INITIATOR: u8 = 0x01;
const ROLE_RESPONDER: u8 = 0x02;

fn ref_binding(
    session_id: &[u8; 32],
    initiator: &[u8; 32],
    responder: &[u8; 32],
    starter_role: u8,
    run_id: &[u8; 16],
) -> Vec<u8> {
    [
        &session_id[..],
        initiator,
        responder,
        &[starter_role],
        run_id,
    ]
    .concat()
}

fn ref_commitment(binding: &[u8], starter_nonce: &[u8; 32]) -> [u8; 32] {
    Sha256::digest([LABEL_SAS_COMMITMENT, binding, starter_nonce].concat()).into()
}

fn ref_sas(
    vk: &[u8; 32],
    binding: &[u8],
    commitment: &[u8; 32],
    starter_nonce: &[u8; 32],
    accepter_nonce: &[u8; 32],
) -> [u8; 6] {
    let mut out = [0u8; 6];
    let info = [
        LABEL_SAS_BYTES,
        binding,
        commitment,
        starter_nonce,
        accepter_nonce,
    ]
    .concat();
    hkdf_sha256(vk, &info, &mut out);
    out
}

fn ref_message(kind: u8, run_id: &[u8; 16], field: &[u8; 32]) -> Vec<u8> {
    [&[1u8, kind][..], run_id, field].concat()
}

fn sas_json(sas: &[u8; 6]) -> Value {
    let emoji = ref_emoji(sas);
    json!({
        "sas_bytes": hx(sas),
        "emoji": emoji,
        "emoji_names": emoji
            .iter()
            .map(|i| SAS_EMOJI_TABLE[usize::from(*i)].name())
            .collect::<Vec<_>>(),
        "decimal": ref_decimal(sas),
    })
}

fn check_library_sas(lib: &ShortAuthString, sas: &[u8; 6]) {
    assert_eq!(lib.as_bytes(), sas);
    let indices: Vec<u8> = lib.emoji().iter().map(|e| e.index()).collect();
    assert_eq!(indices, ref_emoji(sas));
    assert_eq!(lib.decimal().to_vec(), ref_decimal(sas));
}

fn merge(mut entry: Value, more: Value) -> Value {
    entry
        .as_object_mut()
        .unwrap()
        .extend(more.as_object().unwrap().clone());
    entry
}

fn role_name(role: u8) -> &'static str {
    if role == ROLE_INITIATOR {
        "initiator"
    } else {
        "responder"
    }
}

/// The derivation from inputs drawn from the tape (the library's side is checked by the unit
/// test `verify::sas_exchange::tests::derivation_vectors`, which reads this file).
fn sas_derivation(tape: &mut TapeRng, index: usize, starter_role: u8) -> Value {
    let p = |what: &str| format!("derivations[{index}].{what}");
    let tag_key: [u8; 32] = tape.draw(&p("tag_key"));
    let session_id: [u8; 32] = tape.draw(&p("session_id"));
    let init = IdentityKeyPair::generate(tape).public().to_bytes();
    tape.label(&[(&p("initiator_identity_seed"), 32)]);
    let resp = IdentityKeyPair::generate(tape).public().to_bytes();
    tape.label(&[(&p("responder_identity_seed"), 32)]);
    let run_id: [u8; 16] = tape.draw(&p("run_id"));
    let starter_nonce: [u8; 32] = tape.draw(&p("starter_nonce"));
    let accepter_nonce: [u8; 32] = tape.draw(&p("accepter_nonce"));
    let vk = ref_verification_key(&tag_key, &session_id);
    let binding = ref_binding(&session_id, &init, &resp, starter_role, &run_id);
    let commitment = ref_commitment(&binding, &starter_nonce);
    let sas = ref_sas(&vk, &binding, &commitment, &starter_nonce, &accepter_nonce);
    merge(
        json!({
            "tag_key": hx(&tag_key),
            "session_id": hx(&session_id),
            "initiator_identity": hx(&init),
            "responder_identity": hx(&resp),
            "starter": role_name(starter_role),
            "run_id": hx(&run_id),
            "starter_nonce": hx(&starter_nonce),
            "accepter_nonce": hx(&accepter_nonce),
            "verification_key": hx(&vk),
            "binding": hx(&binding),
            "commitment": hx(&commitment),
            "start": hx(&ref_message(TYPE_SAS_START, &run_id, &commitment)),
            "accept": hx(&ref_message(TYPE_SAS_ACCEPT, &run_id, &accepter_nonce)),
            "reveal": hx(&ref_message(TYPE_SAS_REVEAL, &run_id, &starter_nonce)),
        }),
        sas_json(&sas),
    )
}

/// Times of the steps of every session run: start, accept, the starter reading the accept,
/// the accepter reading the reveal.
const T_START: u64 = NOW;
const T_ACCEPT: u64 = NOW + 10;
const T_READ_ACCEPT: u64 = NOW + 20;
const T_READ_REVEAL: u64 = NOW + 30;

/// Records one refused step: the state it was fed to, the session passed, the message and
/// the time, and the error.
fn rejection(
    name: &str,
    state: &str,
    session: &str,
    message: &[u8],
    now: u64,
    result: &Result<(), VerifyError>,
) -> Value {
    assert!(result.is_err(), "{name}");
    json!({
        "name": name,
        "state": state,
        "session": session,
        "message": hx(message),
        "now": now,
        "result": outcome_json(result),
    })
}

/// A step fed a message it refuses: name, message, session name, session, `now`, the error.
type RefusedStep<'a> = (&'a str, Vec<u8>, &'a str, &'a Session, u64, VerifyError);

fn with_byte(bytes: &[u8], at: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] = value;
    out
}

fn sas() -> Value {
    let table: Vec<Value> = SAS_EMOJI_TABLE
        .iter()
        .map(|e| {
            json!({
                "index": e.index(),
                "emoji": e.symbol(),
                "codepoints": e
                    .symbol()
                    .chars()
                    .map(|c| format!("U+{:04X}", u32::from(c)))
                    .collect::<Vec<_>>()
                    .join(" "),
                "name": e.name(),
            })
        })
        .collect();

    let mut tape = TapeRng::new("hushwire/v1/test-vectors/verify/sas");
    let derivations = vec![
        sas_derivation(&mut tape, 0, ROLE_INITIATOR),
        sas_derivation(&mut tape, 1, ROLE_RESPONDER),
    ];

    // Two real sessions between Alice and Bob, built from the tape.
    let mut accounts = Vec::new();
    for party in ["alice", "bob"] {
        accounts.push(Account::new(ts(NOW), &mut tape));
        tape.label(&[
            (&format!("{party}.identity_seed"), 32),
            (&format!("{party}.signed_prekey[1].private"), 32),
            (&format!("{party}.last_resort_kem_prekey[1].seed"), 64),
        ]);
    }
    let mut bob = accounts.pop().unwrap();
    let alice = accounts.pop().unwrap();
    bob.generate_one_time_prekeys(2, 2, ts(NOW), &mut tape)
        .unwrap();
    tape.label(&[
        ("bob.one_time_prekey[1].private", 32),
        ("bob.one_time_prekey[2].private", 32),
        ("bob.one_time_kem_prekey[2].seed", 64),
        ("bob.one_time_kem_prekey[3].seed", 64),
    ]);
    let mut pairs = Vec::new();
    for s in 0..2u32 {
        let mut a = alice
            .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut tape)
            .unwrap();
        let first = a.encrypt(b"hello", &mut tape).unwrap();
        tape.label(&[
            (&format!("session{s}.alice.base_key"), 32),
            (&format!("session{s}.kem_encaps_m"), 32),
            (&format!("session{s}.alice.ratchet_key[chain 0]"), 32),
            (&format!("session{s}.header_nonce[message 0]"), 12),
        ]);
        // The bundles hand out the one-time keys named above, the newest first.
        let prekey_message = hushwire::wire::PreKeyMessage::decode(&first).unwrap();
        assert_eq!(prekey_message.one_time_prekey_id(), Some(2 - s));
        assert_eq!(prekey_message.kem_prekey_id(), 3 - s);

        let mut b = bob.create_inbound_session(&first, ts(NOW)).unwrap().session;
        let reply = b.encrypt(b"hi", &mut tape).unwrap();
        tape.label(&[
            (&format!("session{s}.bob.ratchet_key[chain 1]"), 32),
            (&format!("session{s}.header_nonce[message 1]"), 12),
        ]);
        assert_eq!(a.decrypt(&reply).unwrap().plaintext, b"hi");
        pairs.push((a, b));
    }

    let mut sessions = Vec::new();
    let mut rejections = Vec::new();
    for (s, (a, b)) in pairs.iter().enumerate() {
        // Alice starts on session 0, Bob on session 1.
        let (starter, accepter, starter_name, accepter_name) = if s == 0 {
            (a, b, "alice", "bob")
        } else {
            (b, a, "bob", "alice")
        };
        let starter_role = if s == 0 {
            ROLE_INITIATOR
        } else {
            ROLE_RESPONDER
        };
        let (waiting, start) = start_sas(starter, ts(T_START), &mut tape).unwrap();
        let drawn = tape.label(&[
            (&format!("session{s}.{starter_name}.sas_run_id"), 16),
            (&format!("session{s}.{starter_name}.sas_starter_nonce"), 32),
        ]);
        let run_id: [u8; 16] = arr(&drawn[0]);
        let starter_nonce: [u8; 32] = arr(&drawn[1]);
        let (answering, accept) = accept_sas(accepter, &start, ts(T_ACCEPT), &mut tape).unwrap();
        let drawn = tape.label(&[(
            &format!("session{s}.{accepter_name}.sas_accepter_nonce"),
            32,
        )]);
        let accepter_nonce: [u8; 32] = arr(&drawn[0]);

        let binding = ref_binding(
            a.session_id().as_bytes(),
            alice.identity_key().as_bytes(),
            bob.identity_key().as_bytes(),
            starter_role,
            &run_id,
        );
        let commitment = ref_commitment(&binding, &starter_nonce);
        assert_eq!(
            start.to_vec(),
            ref_message(TYPE_SAS_START, &run_id, &commitment)
        );
        assert_eq!(
            accept.to_vec(),
            ref_message(TYPE_SAS_ACCEPT, &run_id, &accepter_nonce)
        );
        let reveal_ref = ref_message(TYPE_SAS_REVEAL, &run_id, &starter_nonce);

        // Session 0: every refusal first, each handing the state back; then the genuine
        // messages complete the run.
        let mut waiting = waiting;
        let mut answering = answering;
        if s == 0 {
            let starter_state = "sessions[0].alice awaiting accept";
            let accepter_state = "sessions[0].bob awaiting reveal";
            let here_alice = "sessions[0].alice";
            let here_bob = "sessions[0].bob";
            let other_alice = "sessions[1].alice";
            let deadline_starter = T_START + SAS_RUN_TIMEOUT_SECS;
            let deadline_accepter = T_ACCEPT + SAS_RUN_TIMEOUT_SECS;
            let bad_accepts: Vec<RefusedStep<'_>> = vec![
                (
                    "accept_of_another_run",
                    with_byte(&accept, 2, accept[2] ^ 0x01),
                    here_alice,
                    a,
                    T_READ_ACCEPT,
                    VerifyError::SasOtherRun,
                ),
                (
                    "start_instead_of_accept",
                    start.to_vec(),
                    here_alice,
                    a,
                    T_READ_ACCEPT,
                    VerifyError::Malformed(DecodeError::WrongType {
                        expected: 0x52,
                        found: 0x51,
                    }),
                ),
                (
                    "accept_truncated",
                    accept[..SAS_MESSAGE_LEN - 1].to_vec(),
                    here_alice,
                    a,
                    T_READ_ACCEPT,
                    VerifyError::Malformed(DecodeError::Truncated { needed: 1 }),
                ),
                (
                    "accept_with_a_trailing_byte",
                    [&accept[..], &[0]].concat(),
                    here_alice,
                    a,
                    T_READ_ACCEPT,
                    VerifyError::Malformed(DecodeError::TooLarge { len: 51, max: 50 }),
                ),
                (
                    "accept_of_another_wire_version",
                    with_byte(&accept, 0, 2),
                    here_alice,
                    a,
                    T_READ_ACCEPT,
                    VerifyError::Malformed(DecodeError::UnknownVersion(2)),
                ),
                (
                    "accept_on_another_session",
                    accept.to_vec(),
                    other_alice,
                    &pairs[1].0,
                    T_READ_ACCEPT,
                    VerifyError::SasOtherSession,
                ),
                (
                    "accept_at_the_deadline",
                    accept.to_vec(),
                    here_alice,
                    a,
                    deadline_starter,
                    VerifyError::SasExpired {
                        expired_at: ts(deadline_starter),
                    },
                ),
            ];
            for (name, message, session_name, session, now, expected) in bad_accepts {
                let (back, e) = waiting
                    .receive_accept(session, &message, ts(now))
                    .unwrap_err();
                assert_eq!(e, expected, "{name}");
                rejections.push(rejection(
                    name,
                    starter_state,
                    session_name,
                    &message,
                    now,
                    &Err(e),
                ));
                waiting = back;
            }
            let mut other_nonce = reveal_ref.clone();
            other_nonce[SAS_MESSAGE_LEN - 1] ^= 0x01;
            let bad_reveals: Vec<RefusedStep<'_>> = vec![
                (
                    "reveal_that_does_not_open_the_commitment",
                    other_nonce,
                    here_bob,
                    b,
                    T_READ_REVEAL,
                    VerifyError::SasCommitmentMismatch,
                ),
                (
                    "reveal_of_another_run",
                    with_byte(&reveal_ref, 17, reveal_ref[17] ^ 0x80),
                    here_bob,
                    b,
                    T_READ_REVEAL,
                    VerifyError::SasOtherRun,
                ),
                (
                    "accept_instead_of_reveal",
                    accept.to_vec(),
                    here_bob,
                    b,
                    T_READ_REVEAL,
                    VerifyError::Malformed(DecodeError::WrongType {
                        expected: 0x53,
                        found: 0x52,
                    }),
                ),
                (
                    "reveal_of_an_unknown_type",
                    with_byte(&reveal_ref, 1, 0x5f),
                    here_bob,
                    b,
                    T_READ_REVEAL,
                    VerifyError::Malformed(DecodeError::UnknownType(0x5f)),
                ),
                (
                    "reveal_on_the_peer_s_end_of_the_session",
                    reveal_ref.clone(),
                    here_alice,
                    a,
                    T_READ_REVEAL,
                    VerifyError::SasOtherSession,
                ),
                (
                    "reveal_at_the_deadline",
                    reveal_ref.clone(),
                    here_bob,
                    b,
                    deadline_accepter,
                    VerifyError::SasExpired {
                        expired_at: ts(deadline_accepter),
                    },
                ),
            ];
            for (name, message, session_name, session, now, expected) in bad_reveals {
                let (back, e) = answering
                    .receive_reveal(session, &message, ts(now))
                    .unwrap_err();
                assert_eq!(e, expected, "{name}");
                rejections.push(rejection(
                    name,
                    accepter_state,
                    session_name,
                    &message,
                    now,
                    &Err(e),
                ));
                answering = back;
            }
            let truncated = &start[..20];
            let e = accept_sas(b, truncated, ts(T_ACCEPT), &mut tape).map(|_| ());
            assert_eq!(
                e,
                Err(VerifyError::Malformed(DecodeError::Truncated {
                    needed: 30
                }))
            );
            rejections.push(rejection(
                "start_truncated",
                "accept_sas",
                here_bob,
                truncated,
                T_ACCEPT,
                &e,
            ));
        }

        let (on_starter, reveal) = waiting
            .receive_accept(starter, &accept, ts(T_READ_ACCEPT))
            .unwrap();
        assert_eq!(reveal.to_vec(), reveal_ref);
        let on_accepter = answering
            .receive_reveal(accepter, &reveal, ts(T_READ_REVEAL))
            .unwrap();
        assert_eq!(on_starter.sas(), on_accepter.sas());
        let bytes = *on_starter.sas().as_bytes();
        check_library_sas(on_starter.sas(), &bytes);
        let ready = |r: &SasReady| r.remote_identity().to_bytes();
        assert_eq!(ready(&on_starter), accepter.local_identity().to_bytes());
        assert_eq!(ready(&on_accepter), starter.local_identity().to_bytes());
        sessions.push(merge(
            json!({
                "initiator_identity": hx(alice.identity_key().as_bytes()),
                "responder_identity": hx(bob.identity_key().as_bytes()),
                "session_id": hx(a.session_id().as_bytes()),
                "starter": starter_name,
                "starter_role": role_name(starter_role),
                "run_id": hx(&run_id),
                "starter_nonce": hx(&starter_nonce),
                "accepter_nonce": hx(&accepter_nonce),
                "binding": hx(&binding),
                "commitment": hx(&commitment),
                "start": { "message": hx(&start), "now": T_START },
                "accept": { "message": hx(&accept), "now": T_ACCEPT },
                "starter_reads_accept_at": T_READ_ACCEPT,
                "reveal": { "message": hx(&reveal), "now": T_READ_REVEAL },
                "display": on_starter.sas().to_string(),
            }),
            sas_json(&bytes),
        ));
    }

    json!({
        "vector": "sas",
        "description": "Interactive SAS verification: the 64-emoji table; the derivation from inputs drawn from the tape (tag key, session id, identities, run id, nonces); two runs on real sessions built from the tape (Alice starts on the first, Bob on the second), equal on both ends; and the refused steps of the first run, each handing its state back unchanged before the genuine messages complete it.",
        "protocol": "hushwire/v1",
        "label_verification_key": hx(LABEL_VERIFICATION_KEY),
        "label_sas_commitment": hx(LABEL_SAS_COMMITMENT),
        "label_sas_bytes": hx(LABEL_SAS_BYTES),
        "type_sas_start": TYPE_SAS_START,
        "type_sas_accept": TYPE_SAS_ACCEPT,
        "type_sas_reveal": TYPE_SAS_REVEAL,
        "message_len": SAS_MESSAGE_LEN,
        "run_timeout_secs": SAS_RUN_TIMEOUT_SECS,
        "tape": tape.to_json(),
        "emoji_table": table,
        "derivations": derivations,
        "sessions": sessions,
        "rejections": rejections,
    })
}

// ---------------------------------------------------------------------------------------------
// Business identity certificates

struct Org {
    name: &'static str,
    root_id: u32,
    key_id: u32,
    root: IssuerKeyPair,
    key: IssuerKeyPair,
    key_cert: ServerCertificate,
}

fn org(rng: &mut ChaCha20Rng, name: &'static str, root_id: u32, key_id: u32) -> Org {
    let root = IssuerKeyPair::generate(rng);
    let key = IssuerKeyPair::generate(rng);
    let (nb, exp) = (NOW - 30 * DAY, NOW + 365 * DAY);
    let key_cert = ServerCertificate::issue(
        &root,
        root_id,
        key_id,
        &key.public(),
        Validity::new(ts(nb), ts(exp)).unwrap(),
    );
    let reference = ref_server_certificate(
        &root.dangerous_to_seed(),
        root_id,
        key_id,
        key.public().as_bytes(),
        nb,
        exp,
    );
    assert_eq!(key_cert.as_bytes(), &reference[..], "{name}");
    assert_eq!(
        ed25519_public(&root.dangerous_to_seed()),
        root.public().to_bytes()
    );
    Org {
        name,
        root_id,
        key_id,
        root,
        key,
        key_cert,
    }
}

struct Cert {
    name: &'static str,
    org: usize,
    operator: usize,
    serial: u64,
    organization: &'static str,
    operator_name: &'static str,
    role: &'static str,
    not_before: u64,
    expires_at: u64,
}

fn identity_certificates() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(300);
    let orgs = [
        org(&mut rng, "Acme Bank", 100, 7),
        org(&mut rng, "Evil Corp", 200, 9),
    ];
    let operators: Vec<(&str, IdentityKeyPair)> = ["dana", "sam"]
        .into_iter()
        .map(|n| (n, IdentityKeyPair::generate(&mut rng)))
        .collect();
    let specs = [
        Cert {
            name: "dana_valid",
            org: 0,
            operator: 0,
            serial: 1001,
            organization: "Acme Bank",
            operator_name: "Dana Smith",
            role: "Card support",
            not_before: NOW - DAY,
            expires_at: NOW + 6 * DAY,
        },
        Cert {
            name: "dana_expired",
            org: 0,
            operator: 0,
            serial: 1000,
            organization: "Acme Bank",
            operator_name: "Dana Smith",
            role: "Card support",
            not_before: NOW - 8 * DAY,
            expires_at: NOW - DAY,
        },
        Cert {
            name: "dana_next_week",
            org: 0,
            operator: 0,
            serial: 1002,
            organization: "Acme Bank",
            operator_name: "Dana Smith",
            role: "Card support",
            not_before: NOW + DAY,
            expires_at: NOW + 8 * DAY,
        },
        Cert {
            name: "dana_by_evil_corp",
            org: 1,
            operator: 0,
            serial: 1,
            organization: "Evil Corp",
            operator_name: "Dana Smith",
            role: "Card support",
            not_before: NOW - DAY,
            expires_at: NOW + 6 * DAY,
        },
        Cert {
            name: "evil_corp_claiming_acme",
            org: 1,
            operator: 0,
            serial: 2,
            organization: "Acme Bank",
            operator_name: "Dana Smith",
            role: "Card support",
            not_before: NOW - DAY,
            expires_at: NOW + 6 * DAY,
        },
        Cert {
            name: "sam_valid",
            org: 0,
            operator: 1,
            serial: 1003,
            organization: "Acme Bank",
            operator_name: "Sam Jones",
            role: "Fraud team",
            not_before: NOW - DAY,
            expires_at: NOW + 6 * DAY,
        },
        Cert {
            name: "dana_full_week_utf8",
            org: 0,
            operator: 0,
            serial: 1004,
            organization: "Acme Bank",
            operator_name: "Zoë Ångström",
            role: "Conseillère",
            not_before: NOW,
            expires_at: NOW + MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS,
        },
    ];
    let mut certs = Vec::new();
    let mut cert_json = Vec::new();
    for s in &specs {
        let o = &orgs[s.org];
        let operator = operators[s.operator].1.public();
        let cert = IdentityCertificate::issue(
            &o.key,
            &o.key_cert,
            OperatorInfo {
                serial: s.serial,
                organization: s.organization.into(),
                operator_name: s.operator_name.into(),
                role: s.role.into(),
                identity_key: *operator,
                validity: Validity::new(ts(s.not_before), ts(s.expires_at)).unwrap(),
            },
        )
        .unwrap();
        let reference = ref_identity_certificate(&RefIdentityCert {
            org_key_seed: &o.key.dangerous_to_seed(),
            serial: s.serial,
            identity: operator.as_bytes(),
            not_before: s.not_before,
            expires_at: s.expires_at,
            server_certificate: o.key_cert.as_bytes(),
            organization: s.organization,
            operator_name: s.operator_name,
            role: s.role,
        });
        assert_eq!(cert.as_bytes(), &reference[..], "{}", s.name);
        assert_eq!(IdentityCertificate::from_bytes(&reference).unwrap(), cert);
        cert_json.push(json!({
            "name": s.name,
            "organization_index": s.org,
            "operator_index": s.operator,
            "serial": s.serial,
            "organization": s.organization,
            "operator_name": s.operator_name,
            "role": s.role,
            "not_before": s.not_before,
            "expires_at": s.expires_at,
            "bytes": hx(&reference),
        }));
        certs.push(cert);
    }

    let dana = *operators[0].1.public();
    let acme_only = [0usize];
    let both = [0usize, 1];
    let mut forged = certs[0].to_bytes();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    let verified = |c: usize| -> Result<String, VerifyError> {
        Ok(format!(
            "verified as {}, {}, {}",
            specs[c].organization, specs[c].operator_name, specs[c].role
        ))
    };
    let with_type = |bytes: &[u8], t: u8| {
        let mut b = bytes.to_vec();
        b[1] = t;
        b
    };
    type Check<'a> = (
        &'a str,
        Vec<u8>,
        &'a [usize],
        // Revoked certificates: (root_id, organization_key_id, serial).
        Vec<(u32, u32, u64)>,
        Result<String, VerifyError>,
    );
    let checks: Vec<Check<'_>> = vec![
        (
            "valid",
            certs[0].to_bytes(),
            &acme_only,
            vec![],
            verified(0),
        ),
        (
            "valid_full_week_utf8",
            certs[6].to_bytes(),
            &acme_only,
            vec![],
            verified(6),
        ),
        (
            "expired",
            certs[1].to_bytes(),
            &acme_only,
            vec![],
            Err(VerifyError::Expired {
                expires_at: ts(NOW - DAY),
            }),
        ),
        (
            "not_yet_valid",
            certs[2].to_bytes(),
            &acme_only,
            vec![],
            Err(VerifyError::NotYetValid {
                not_before: ts(NOW + DAY),
            }),
        ),
        (
            "foreign_organization",
            certs[3].to_bytes(),
            &acme_only,
            vec![],
            Err(VerifyError::ForeignOrganization { root_id: 200 }),
        ),
        (
            "organization_mismatch",
            certs[4].to_bytes(),
            &both,
            vec![],
            Err(VerifyError::OrganizationMismatch { root_id: 200 }),
        ),
        (
            "forged",
            forged,
            &acme_only,
            vec![],
            Err(VerifyError::Forged),
        ),
        (
            "operator_key_mismatch",
            certs[5].to_bytes(),
            &acme_only,
            vec![],
            Err(VerifyError::OperatorKeyMismatch),
        ),
        (
            "revoked",
            certs[0].to_bytes(),
            &acme_only,
            vec![(100, 7, 1001)],
            Err(VerifyError::Revoked),
        ),
        (
            // Another organization's key 7, certificate 1001: not Acme's.
            "revoked_under_another_root",
            certs[0].to_bytes(),
            &both,
            vec![(200, 7, 1001)],
            verified(0),
        ),
        (
            "truncated",
            certs[0].as_bytes()[..200].to_vec(),
            &acme_only,
            vec![],
            // 200 bytes end inside the operator name (offset 191, 10 bytes).
            Err(VerifyError::Malformed(DecodeError::Truncated { needed: 1 })),
        ),
        (
            "sender_certificate_type",
            with_type(&certs[0].to_bytes(), 0x41),
            &acme_only,
            vec![],
            Err(VerifyError::Malformed(DecodeError::WrongType {
                expected: 0x42,
                found: 0x41,
            })),
        ),
        (
            "unknown_type",
            with_type(&certs[0].to_bytes(), 0x4f),
            &acme_only,
            vec![],
            Err(VerifyError::Malformed(DecodeError::UnknownType(0x4f))),
        ),
    ];
    let check_json: Vec<Value> = checks
        .into_iter()
        .map(|(name, bytes, pinned, revoked, expected)| {
            let mut roots = OrganizationRoots::new();
            for i in pinned {
                let o = &orgs[*i];
                roots.pin(o.root_id, o.root.public(), o.name).unwrap();
            }
            for (root_id, key_id, serial) in &revoked {
                roots
                    .revoke_certificate(*root_id, *key_id, *serial)
                    .unwrap();
            }
            let got =
                verify_business_identity(&bytes, &dana, &roots, ts(NOW)).map(|b| b.to_string());
            assert_eq!(got, expected, "{name}");
            json!({
                "name": name,
                "certificate": hx(&bytes),
                "session_identity": hx(dana.as_bytes()),
                "now": NOW,
                "pinned": pinned
                    .iter()
                    .map(|i| json!({"root_id": orgs[*i].root_id, "organization": orgs[*i].name}))
                    .collect::<Vec<_>>(),
                "revoked_certificates": revoked
                    .iter()
                    .map(|(r, k, s)| json!({"root_id": r, "organization_key_id": k, "serial": s}))
                    .collect::<Vec<_>>(),
                "result": match got {
                    Ok(text) => json!(text),
                    Err(e) => error_json(e),
                },
            })
        })
        .collect();

    json!({
        "vector": "identity_certificates",
        "description": "Two organizations (root, organization key and its certificate), two operators, seven identity certificates encoded and signed byte for byte, and twelve checks of a certificate for a session with Dana's device at `now`.",
        "protocol": "hushwire/v1",
        "label_sig_identity_certificate": hx(LABEL_SIG_IDENTITY_CERTIFICATE),
        "label_sig_server_certificate": hx(LABEL_SIG_SERVER_CERTIFICATE),
        "max_lifetime_secs": MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS,
        "seed": 300,
        "rng": RNG,
        "organizations": orgs
            .iter()
            .map(|o| json!({
                "name": o.name,
                "root_id": o.root_id,
                "root_seed": hx(o.root.dangerous_to_seed().as_ref()),
                "root_key": hx(o.root.public().as_bytes()),
                "organization_key_id": o.key_id,
                "organization_key_seed": hx(o.key.dangerous_to_seed().as_ref()),
                "organization_key": hx(o.key.public().as_bytes()),
                "organization_key_certificate": hx(o.key_cert.as_bytes()),
            }))
            .collect::<Vec<_>>(),
        "operators": operators
            .iter()
            .map(|(n, k)| json!({
                "name": n,
                "identity_seed": hx(k.dangerous_to_seed().as_ref()),
                "identity_key": hx(k.public().as_bytes()),
            }))
            .collect::<Vec<_>>(),
        "certificates": cert_json,
        "checks": check_json,
    })
}

// ---------------------------------------------------------------------------------------------
// Files

fn check_file(name: &str, value: &Value) {
    check_vector_file("verify", name, &canonical_text(value));
}

#[test]
fn safety_number_vectors() {
    check_file("safety_numbers", &safety_numbers());
}

#[test]
fn sas_vectors() {
    check_file("sas", &sas());
}

#[test]
fn identity_certificate_vectors() {
    check_file("identity_certificates", &identity_certificates());
}

#[test]
fn every_vector_file_is_checked_here() {
    if regenerating() {
        return; // the other tests are writing the files right now
    }
    let names = json_file_names("verify");
    assert_eq!(
        names,
        [
            "identity_certificates.json",
            "safety_numbers.json",
            "sas.json"
        ]
    );
}
