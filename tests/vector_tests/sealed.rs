//! Fixed test vectors of certificates and sealed envelopes (`tests/vectors/sealed/*.json`,
//! described in `tests/vectors/sealed/LAYOUT.md`).
//!
//! Every scenario runs from a randomness tape, twice: through hushwire's public API, and
//! through the independent reference in `tests/vectors/sealed/reference.rs` (primitive crates
//! only), fed the same tape bytes. The test checks that both produce byte-identical
//! certificates, envelopes and multi-recipient messages, that every rejection case gives the
//! error written here by hand, and then compares the files built from them with the committed
//! ones.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the files instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common::sealed_reference as reference;

use std::convert::Infallible;
use std::num::NonZeroU32;

use hushwire::certificate::{CertificateKind, SenderCertificateInfo};
use hushwire::sealed::padding::PaddingError;
use hushwire::sealed::{self, EnvelopeKeyPublic, MultiRecipientMessage};
use hushwire::{
    Account, CertificateError, ContentType, DecodeError, IdentityKeyPair, IssuerKey, IssuerKeyPair,
    Metadata, OpenError, SenderCertificate, ServerCertificate, Timestamp, TrustStore, Validity,
};
use rand_core::{TryCryptoRng, TryRng};
use reference::{Key, cat};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::vector_file;

use vector_file::{canonical_text, check_vector_file, json_file_names, regenerating};

use crate::common::vector_json;

use vector_json::outcome_json;

use crate::common::NOW_SECS as NOW;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
const TAPE_GENERATION: &str =
    "SHA-256(utf8(seed) || u32_be(i)) for i = 0, 1, 2, ..., concatenated and cut to `length` bytes";
const ROOT_ID: u32 = 1;
const SERVER_KEY_ID: u32 = 7;
const SERIAL: u64 = 42;
const DEVICE_ID: u32 = 3;
const USER_ID: &[u8] = b"alice@example.com";
const SERVER_NOT_BEFORE: u64 = NOW - 30 * DAY;
const SERVER_EXPIRES_AT: u64 = NOW + 365 * DAY;
const SENDER_NOT_BEFORE: u64 = NOW - HOUR;
const SENDER_EXPIRES_AT: u64 = NOW + DAY;
const INNER_MESSAGE: &[u8] = b"an inner session message: opaque bytes to the envelope layer";
const GROUP_MESSAGE: &[u8] = b"a group message, encrypted once for every member";

fn ts(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// The tape RNG (same generation as tests/vector_tests/session.rs).

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
    fn new(name: &str) -> Self {
        let seed = format!("hushwire/v1/test-vectors/sealed/{name}");
        TapeRng {
            tape: tape_stream(&seed, 1 << 12),
            seed,
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

    /// Names the draws made since the last call; asserts how many there were and returns
    /// their bytes.
    fn label(&mut self, purpose: &str, expected_draws: usize) -> Vec<[u8; 32]> {
        let fresh: Vec<&mut Draw> = self
            .draws
            .iter_mut()
            .filter(|d| d.purpose.is_empty())
            .collect();
        assert_eq!(fresh.len(), expected_draws, "draws for {purpose}");
        let mut out = Vec::new();
        for d in fresh {
            assert_eq!(d.length, 32, "every draw of these scenarios is 32 bytes");
            d.purpose = purpose.to_owned();
            out.push(reference::arr(&self.tape[d.offset..d.offset + 32]));
        }
        out
    }

    /// As [`TapeRng::label`] for draws of any length (ML-KEM seeds are 64 bytes).
    fn label_bytes(&mut self, purpose: &str, expected_draws: usize) -> Vec<Vec<u8>> {
        let fresh: Vec<&mut Draw> = self
            .draws
            .iter_mut()
            .filter(|d| d.purpose.is_empty())
            .collect();
        assert_eq!(fresh.len(), expected_draws, "draws for {purpose}");
        let mut out = Vec::new();
        for d in fresh {
            d.purpose = purpose.to_owned();
            out.push(self.tape[d.offset..d.offset + d.length].to_vec());
        }
        out
    }

    /// A 32-byte draw made by the test itself (for envelopes the reference builds alone).
    fn draw32(&mut self, purpose: &str) -> [u8; 32] {
        let mut b = [0u8; 32];
        self.take(&mut b);
        self.label(purpose, 1)[0]
    }

    fn to_json(&self) -> Value {
        let bytes = &self.tape[..self.pos];
        json!({
            "generation": TAPE_GENERATION,
            "seed": self.seed,
            "length": self.pos,
            "bytes": hx(bytes),
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

// ---------------------------------------------------------------------------------------------
// The certificate chain every scenario starts from.

struct Chain {
    server: IssuerKeyPair,
    root_ref: Key,
    server_ref: Key,
    server_cert: ServerCertificate,
    server_signed_message: Vec<u8>,
    trust: TrustStore,
}

fn chain(rng: &mut TapeRng) -> Chain {
    let root = IssuerKeyPair::generate(rng);
    let root_seed = rng.label("trust root seed", 1)[0];
    let server = IssuerKeyPair::generate(rng);
    let server_seed = rng.label("server key seed", 1)[0];
    let root_ref = Key::from_seed(root_seed);
    let server_ref = Key::from_seed(server_seed);
    assert_eq!(root.public().as_bytes(), &root_ref.ed_public);
    assert_eq!(server.public().as_bytes(), &server_ref.ed_public);
    let server_cert = ServerCertificate::issue(
        &root,
        ROOT_ID,
        SERVER_KEY_ID,
        &server.public(),
        Validity::new(ts(SERVER_NOT_BEFORE), ts(SERVER_EXPIRES_AT)).unwrap(),
    );
    let (server_signed_message, server_cert_ref) = reference::server_certificate(
        &root_ref,
        &reference::ServerCertFields {
            root_id: ROOT_ID,
            key_id: SERVER_KEY_ID,
            key: server_ref.ed_public,
            not_before: SERVER_NOT_BEFORE,
            expires_at: SERVER_EXPIRES_AT,
        },
    );
    assert_eq!(server_cert.as_bytes(), &server_cert_ref[..]);
    let mut trust = TrustStore::new();
    trust.add_root(ROOT_ID, root.public()).unwrap();
    Chain {
        server,
        root_ref,
        server_ref,
        server_cert,
        server_signed_message,
        trust,
    }
}

/// A device identity from the tape, with its reference keys.
fn device(rng: &mut TapeRng, name: &str) -> (IdentityKeyPair, Key) {
    let pair = IdentityKeyPair::generate(rng);
    let seed = rng.label(&format!("{name} identity seed"), 1)[0];
    let key = Key::from_seed(seed);
    assert_eq!(pair.public().as_bytes(), &key.ed_public);
    (pair, key)
}

/// Issues a sender certificate with the library and the reference; checks they agree.
fn certify(
    c: &Chain,
    device: &IdentityKeyPair,
    serial: u64,
    user_id: &[u8],
    not_before: u64,
    expires_at: u64,
) -> (SenderCertificate, Vec<u8>) {
    let cert = SenderCertificate::issue(
        &c.server,
        &c.server_cert,
        SenderCertificateInfo {
            serial,
            user_id: user_id.to_vec(),
            device_id: DEVICE_ID,
            identity_key: *device.public(),
            validity: Validity::new(ts(not_before), ts(expires_at)).unwrap(),
        },
    )
    .unwrap();
    let (signed_message, bytes) = reference::sender_certificate(
        &c.server_ref,
        &reference::SenderCertFields {
            serial,
            device_id: DEVICE_ID,
            identity_key: *device.public().as_bytes(),
            not_before,
            expires_at,
            server_certificate: c.server_cert.as_bytes(),
            user_id,
        },
    );
    assert_eq!(cert.as_bytes(), &bytes[..]);
    (cert, signed_message)
}

fn key_json(k: &Key) -> Value {
    json!({
        "seed": hx(&k.seed),
        "ed25519_public": hx(&k.ed_public),
        "x25519_private": hx(&k.x_secret),
        "x25519_public": hx(&k.x_public),
    })
}

fn chain_json(c: &Chain) -> Value {
    json!({
        "trust_root": { "root_id": ROOT_ID, "key": key_json(&c.root_ref) },
        "server_key": { "key_id": SERVER_KEY_ID, "key": key_json(&c.server_ref) },
        "server_certificate": {
            "root_id": ROOT_ID,
            "key_id": SERVER_KEY_ID,
            "key": hx(&c.server_ref.ed_public),
            "not_before": SERVER_NOT_BEFORE,
            "expires_at": SERVER_EXPIRES_AT,
            "signed_message": hx(&c.server_signed_message),
            "signature": hx(c.server_cert.signature()),
            "encoding": hx(c.server_cert.as_bytes()),
        },
    })
}

fn sender_cert_json(cert: &SenderCertificate, signed_message: &[u8]) -> Value {
    json!({
        "serial": cert.serial(),
        "user_id": hx(cert.user_id()),
        "device_id": cert.device_id(),
        "identity_key": hx(cert.identity_key().as_bytes()),
        "not_before": cert.validity().not_before().as_unix_secs(),
        "expires_at": cert.validity().expires_at().as_unix_secs(),
        "server_certificate": hx(cert.server_certificate().as_bytes()),
        "signed_message": hx(signed_message),
        "signature": hx(cert.signature()),
        "encoding": hx(cert.as_bytes()),
    })
}

/// A trust store as JSON, with the library value it describes.
struct Trust {
    roots: Vec<(u32, [u8; 32])>,
    /// `(root_id, key_id)`.
    revoked_server_keys: Vec<(u32, u32)>,
    /// `(root_id, server_key_id, serial)`.
    revoked_certificates: Vec<(u32, u32, u64)>,
}

impl Trust {
    fn pinned(c: &Chain) -> Self {
        Trust {
            roots: vec![(ROOT_ID, c.root_ref.ed_public)],
            revoked_server_keys: vec![],
            revoked_certificates: vec![],
        }
    }

    fn store(&self) -> TrustStore {
        let mut t = TrustStore::new();
        for (id, key) in &self.roots {
            t.add_root(*id, IssuerKey::from_bytes(key).unwrap())
                .unwrap();
        }
        for (root, id) in &self.revoked_server_keys {
            t.revoke_server_key(*root, *id).unwrap();
        }
        for (root, id, serial) in &self.revoked_certificates {
            t.revoke_certificate(*root, *id, *serial).unwrap();
        }
        t
    }

    fn to_json(&self) -> Value {
        json!({
            "roots": self.roots.iter().map(|(id, k)| json!({"root_id": id, "key": hx(k)})).collect::<Vec<_>>(),
            "revoked_server_keys": self.revoked_server_keys.iter().map(|(root, id)| json!({"root_id": root, "key_id": id})).collect::<Vec<_>>(),
            "revoked_certificates": self.revoked_certificates.iter().map(|(root, id, s)| json!({"root_id": root, "server_key_id": id, "serial": s})).collect::<Vec<_>>(),
        })
    }
}

fn file(
    name: &str,
    description: &str,
    tape: &TapeRng,
    mut body: serde_json::Map<String, Value>,
) -> Value {
    let mut top = serde_json::Map::new();
    top.insert("vector".into(), json!(format!("sealed/{name}")));
    top.insert("description".into(), json!(description));
    top.insert("protocol".into(), json!("hushwire/v1"));
    top.insert("wire_version".into(), json!(1));
    top.insert("now_unix_secs".into(), json!(NOW));
    top.insert("tape".into(), tape.to_json());
    top.append(&mut body);
    Value::Object(top)
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: the certificate chain and its validation cases.

fn certificates() -> Value {
    let mut rng = TapeRng::new("certificates");
    let c = chain(&mut rng);
    let (alice, alice_ref) = device(&mut rng, "device");
    let (cert, signed_message) = certify(
        &c,
        &alice,
        SERIAL,
        USER_ID,
        SENDER_NOT_BEFORE,
        SENDER_EXPIRES_AT,
    );
    let mut forged = cert.to_bytes();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    // The server key pinned as the root: the server certificate's signature fails.
    let mut wrong_root = Trust::pinned(&c);
    wrong_root.roots = vec![(ROOT_ID, c.server_ref.ed_public)];
    let mut revoked_key = Trust::pinned(&c);
    revoked_key.revoked_server_keys = vec![(ROOT_ID, SERVER_KEY_ID)];
    let mut revoked_cert = Trust::pinned(&c);
    revoked_cert.revoked_certificates = vec![(ROOT_ID, SERVER_KEY_ID, SERIAL)];
    let other_root = Trust {
        roots: vec![(2, c.root_ref.ed_public)],
        revoked_server_keys: vec![],
        revoked_certificates: vec![],
    };
    // Key 7 and its serial 42 revoked under root 2: other keys than root 1's key 7.
    let mut revoked_elsewhere = Trust::pinned(&c);
    revoked_elsewhere.revoked_server_keys = vec![(2, SERVER_KEY_ID)];
    revoked_elsewhere.revoked_certificates = vec![(2, SERVER_KEY_ID, SERIAL)];
    type Case = (
        &'static str,
        &'static str,
        u64,
        Trust,
        Vec<u8>,
        Result<(), CertificateError>,
    );
    let cases: Vec<Case> = vec![
        (
            "valid",
            "the genuine chain at now",
            NOW,
            Trust::pinned(&c),
            cert.to_bytes(),
            Ok(()),
        ),
        (
            "valid_at_not_before",
            "the first valid second",
            SENDER_NOT_BEFORE,
            Trust::pinned(&c),
            cert.to_bytes(),
            Ok(()),
        ),
        (
            "valid_at_last_second",
            "the last valid second",
            SENDER_EXPIRES_AT - 1,
            Trust::pinned(&c),
            cert.to_bytes(),
            Ok(()),
        ),
        (
            "not_yet_valid",
            "one second before not_before",
            SENDER_NOT_BEFORE - 1,
            Trust::pinned(&c),
            cert.to_bytes(),
            Err(CertificateError::NotYetValid {
                kind: CertificateKind::Sender,
                not_before: ts(SENDER_NOT_BEFORE),
            }),
        ),
        (
            "expired",
            "at expires_at",
            SENDER_EXPIRES_AT,
            Trust::pinned(&c),
            cert.to_bytes(),
            Err(CertificateError::Expired {
                kind: CertificateKind::Sender,
                expires_at: ts(SENDER_EXPIRES_AT),
            }),
        ),
        (
            "server_expired",
            "at the server certificate's expiry (checked before the sender's)",
            SERVER_EXPIRES_AT,
            Trust::pinned(&c),
            cert.to_bytes(),
            Err(CertificateError::Expired {
                kind: CertificateKind::Server,
                expires_at: ts(SERVER_EXPIRES_AT),
            }),
        ),
        (
            "server_not_yet_valid",
            "before the server certificate's window",
            SERVER_NOT_BEFORE - 1,
            Trust::pinned(&c),
            cert.to_bytes(),
            Err(CertificateError::NotYetValid {
                kind: CertificateKind::Server,
                not_before: ts(SERVER_NOT_BEFORE),
            }),
        ),
        (
            "unknown_root",
            "the store pins the root under another id",
            NOW,
            other_root,
            cert.to_bytes(),
            Err(CertificateError::UnknownRoot { root_id: ROOT_ID }),
        ),
        (
            "wrong_root_key",
            "the root id is pinned to another key",
            NOW,
            wrong_root,
            cert.to_bytes(),
            Err(CertificateError::BadSignature(CertificateKind::Server)),
        ),
        (
            "forged_sender_signature",
            "last signature byte flipped",
            NOW,
            Trust::pinned(&c),
            forged,
            Err(CertificateError::BadSignature(CertificateKind::Sender)),
        ),
        (
            "revoked_server_key",
            "server key 7 revoked",
            NOW,
            revoked_key,
            cert.to_bytes(),
            Err(CertificateError::ServerKeyRevoked {
                key_id: SERVER_KEY_ID,
            }),
        ),
        (
            "revoked_certificate",
            "serial 42 of server key 7 revoked",
            NOW,
            revoked_cert,
            cert.to_bytes(),
            Err(CertificateError::CertificateRevoked {
                kind: CertificateKind::Sender,
                server_key_id: SERVER_KEY_ID,
                serial: SERIAL,
            }),
        ),
        (
            "revoked_under_another_root",
            "server key 7 and its serial 42 revoked under root 2, the chain is under root 1",
            NOW,
            revoked_elsewhere,
            cert.to_bytes(),
            Ok(()),
        ),
    ];
    let mut validations = Vec::new();
    for (name, description, now, trust, bytes, expected) in cases {
        let parsed = SenderCertificate::from_bytes(&bytes).unwrap();
        let got = parsed.validate(&trust.store(), ts(now));
        assert_eq!(got, expected, "certificate case {name}");
        validations.push(json!({
            "name": name,
            "description": description,
            "now": now,
            "trust_store": trust.to_json(),
            "certificate": hx(&bytes),
            "expected": outcome_json(&got),
        }));
    }
    let mut body = serde_json::Map::new();
    body.insert("chain".into(), chain_json(&c));
    body.insert("device".into(), key_json(&alice_ref));
    body.insert(
        "sender_certificate".into(),
        sender_cert_json(&cert, &signed_message),
    );
    body.insert("validations".into(), json!(validations));

    // Decoding: the type byte of each certificate decoder, and of the server certificate
    // embedded in a sender certificate (SPEC.md §1.4.1: another known type is WrongType,
    // anything else UnknownType).
    let sender_bytes = cert.to_bytes();
    let server_bytes = sender_bytes[62..184].to_vec();
    let with = |bytes: &[u8], at: usize, t: u8| {
        let mut b = bytes.to_vec();
        b[at] = t;
        b
    };
    let decodings: Vec<(&str, &str, Vec<u8>, DecodeError)> = vec![
        (
            "server_certificate_with_sender_type",
            "server_certificate",
            with(&server_bytes, 1, 0x41),
            DecodeError::WrongType {
                expected: 0x40,
                found: 0x41,
            },
        ),
        (
            "server_certificate_with_unknown_type",
            "server_certificate",
            with(&server_bytes, 1, 0x4f),
            DecodeError::UnknownType(0x4f),
        ),
        (
            "sender_certificate_with_identity_certificate_type",
            "sender_certificate",
            with(&sender_bytes, 1, 0x42),
            DecodeError::WrongType {
                expected: 0x41,
                found: 0x42,
            },
        ),
        (
            "embedded_server_certificate_with_sender_type",
            "sender_certificate",
            with(&sender_bytes, 62 + 1, 0x41),
            DecodeError::WrongType {
                expected: 0x40,
                found: 0x41,
            },
        ),
    ];
    let decodings: Vec<Value> = decodings
        .into_iter()
        .map(|(name, structure, bytes, expected)| {
            let got = match structure {
                "server_certificate" => ServerCertificate::from_bytes(&bytes).map(|_| ()),
                _ => SenderCertificate::from_bytes(&bytes).map(|_| ()),
            };
            assert_eq!(got, Err(expected), "decoding case {name}");
            json!({
                "name": name,
                "structure": structure,
                "bytes": hx(&bytes),
                "expected": outcome_json(&got),
            })
        })
        .collect();
    body.insert("decodings".into(), json!(decodings));
    file(
        "certificates",
        "A trust root certifies server key 7; server key 7 certifies a device. The encodings, \
         the exact signed messages, and validation at several times and under several trust \
         stores.",
        &rng,
        body,
    )
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: one sealed message.

fn single_json(t: &reference::SingleTrace) -> Value {
    json!({
        "ephemeral_private": hx(&t.ephemeral_secret),
        "ephemeral_public": hx(&t.ephemeral_public),
        "dh_ephemeral": hx(&t.dh_ephemeral),
        "chain_key": hx(&t.chain_key),
        "static_key": hx(&t.static_key),
        "header": hx(&t.header),
        "encrypted_sender_identity": hx(&t.encrypted_static),
        "dh_static": hx(&t.dh_static),
        "content_key": hx(&t.content_key),
        "envelope": hx(&t.envelope),
    })
}

fn sealed_message() -> Value {
    let mut rng = TapeRng::new("sealed_message");
    let c = chain(&mut rng);
    let (alice, alice_ref) = device(&mut rng, "sender");
    let (bob, bob_ref) = device(&mut rng, "recipient");
    let (cert, signed_message) = certify(
        &c,
        &alice,
        SERIAL,
        USER_ID,
        SENDER_NOT_BEFORE,
        SENDER_EXPIRES_AT,
    );
    let meta =
        Metadata::new(ContentType::SESSION, ts(NOW)).with_expiry(NonZeroU32::new(3_600).unwrap());
    let envelope =
        sealed::seal(&alice, &cert, bob.public(), &meta, INNER_MESSAGE, &mut rng).unwrap();
    let ephemeral = rng.label("envelope ephemeral private key", 1)[0];
    let content = reference::content(0x01, NOW, Some(3_600), cert.as_bytes(), INNER_MESSAGE);
    let padded = reference::pad(&content);
    let trace = reference::seal_single(&alice_ref, &bob_ref, ephemeral, &padded);
    assert_eq!(
        envelope, trace.envelope,
        "library and reference envelopes differ"
    );
    let opened = sealed::open(&bob, &envelope, &c.trust, ts(NOW)).unwrap();
    assert_eq!(opened.message(), INNER_MESSAGE);
    assert_eq!(opened.sender(), &cert);
    assert_eq!(opened.metadata(), &meta);

    let mut body = serde_json::Map::new();
    body.insert("chain".into(), chain_json(&c));
    body.insert("sender".into(), key_json(&alice_ref));
    body.insert("recipient".into(), key_json(&bob_ref));
    body.insert(
        "sender_certificate".into(),
        sender_cert_json(&cert, &signed_message),
    );
    body.insert(
        "metadata".into(),
        json!({
            "content_type": 1,
            "sent_at": NOW,
            "expires_after_secs": 3_600,
        }),
    );
    body.insert("inner_message".into(), json!(hx(INNER_MESSAGE)));
    body.insert("content".into(), json!(hx(&content)));
    body.insert("padded_content".into(), json!(hx(&padded)));
    body.insert("seal".into(), single_json(&trace));
    body.insert(
        "opened".into(),
        json!({
            "recipient": "recipient",
            "now": NOW,
            "sender_user_id": hx(opened.sender().user_id()),
            "sender_device_id": opened.sender().device_id(),
            "sender_identity_key": hx(opened.sender_identity().as_bytes()),
            "message": hx(opened.message()),
            "expires_at": opened.metadata().expires_at().map(Timestamp::as_unix_secs),
        }),
    );
    file(
        "sealed_message",
        "A single-recipient sealed envelope (type 0x30) carrying a session message with a \
         one-hour disappearing-message timer, with every intermediate value, and its opening.",
        &rng,
        body,
    )
}

// ---------------------------------------------------------------------------------------------
// Scenario 3: one multi-recipient message.

fn multi_recipient() -> Value {
    let mut rng = TapeRng::new("multi_recipient");
    let c = chain(&mut rng);
    let (alice, alice_ref) = device(&mut rng, "sender");
    let mut members = Vec::new();
    for name in ["bob", "carol", "dave"] {
        members.push((name, device(&mut rng, name)));
    }
    let (cert, signed_message) = certify(
        &c,
        &alice,
        SERIAL,
        USER_ID,
        SENDER_NOT_BEFORE,
        SENDER_EXPIRES_AT,
    );
    let meta = Metadata::new(ContentType::GROUP, ts(NOW));
    let keys: Vec<_> = members.iter().map(|(_, (p, _))| *p.public()).collect();
    let message = sealed::seal_multi(&alice, &cert, &keys, &meta, GROUP_MESSAGE, &mut rng).unwrap();
    let m = rng.label("message secret M", 1)[0];
    let content = reference::content(0x02, NOW, None, cert.as_bytes(), GROUP_MESSAGE);
    let padded = reference::pad(&content);
    let refs: Vec<Key> = members.iter().map(|(_, (_, k))| k.clone()).collect();
    let trace = reference::seal_multi(&alice_ref, &refs, m, &padded);
    assert_eq!(
        message, trace.message,
        "library and reference messages differ"
    );
    let parsed = MultiRecipientMessage::decode(&message).unwrap();
    let split = parsed.split();
    let mut recipients = Vec::new();
    for (((name, (pair, key)), (split_key, envelope)), t) in
        members.iter().zip(&split).zip(&trace.recipients)
    {
        assert_eq!(split_key, pair.public());
        assert_eq!(envelope, &t.envelope);
        let opened = sealed::open(pair, envelope, &c.trust, ts(NOW)).unwrap();
        assert_eq!(opened.message(), GROUP_MESSAGE);
        assert_eq!(reference::open_recipient(key, envelope).unwrap().0, m);
        recipients.push(json!({
            "name": name,
            "key": key_json(key),
            "dh_ephemeral": hx(&t.dh_ephemeral),
            "wrap_key": hx(&t.wrap_key),
            "wrapped_message_secret": hx(&t.wrapped),
            "dh_static": hx(&t.dh_static),
            "auth_tag": hx(&t.tag),
            "header": hx(&cat(&[&key.ed_public, &t.wrapped, &t.tag])),
            "envelope": hx(&t.envelope),
        }));
    }
    let mut body = serde_json::Map::new();
    body.insert("chain".into(), chain_json(&c));
    body.insert("sender".into(), key_json(&alice_ref));
    body.insert(
        "sender_certificate".into(),
        sender_cert_json(&cert, &signed_message),
    );
    body.insert(
        "metadata".into(),
        json!({ "content_type": 2, "sent_at": NOW, "expires_after_secs": null }),
    );
    body.insert("inner_message".into(), json!(hx(GROUP_MESSAGE)));
    body.insert("content".into(), json!(hx(&content)));
    body.insert("padded_content".into(), json!(hx(&padded)));
    body.insert(
        "seal".into(),
        json!({
            "message_secret": hx(&trace.message_key),
            "ephemeral_private": hx(&trace.ephemeral_secret),
            "ephemeral_public": hx(&trace.ephemeral_public),
            "body_key": hx(&trace.body_key),
            "ciphertext": hx(&trace.ciphertext),
            "ciphertext_sha256": hx(&trace.ciphertext_digest),
            "recipients": recipients,
            "multi_recipient_message": hx(&trace.message),
        }),
    );
    file(
        "multi_recipient",
        "A multi-recipient message (type 0x31) for three recipients, with every intermediate \
         value, and the three per-recipient envelopes (type 0x32) the relay splits it into.",
        &rng,
        body,
    )
}

// ---------------------------------------------------------------------------------------------
// Scenario 4: rejections.

struct Rejection {
    name: &'static str,
    description: &'static str,
    recipient: &'static str,
    now: u64,
    trust: Trust,
    envelope: Vec<u8>,
    expected: OpenError,
}

fn flip(bytes: &[u8], offset: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[offset] ^= 0x01;
    out
}

fn rejections() -> Value {
    let mut rng = TapeRng::new("rejections");
    let c = chain(&mut rng);
    let (alice, alice_ref) = device(&mut rng, "alice");
    let (bob, bob_ref) = device(&mut rng, "bob");
    let (carol, carol_ref) = device(&mut rng, "carol");
    let (_mallory, mallory_ref) = device(&mut rng, "mallory");
    let (cert, _) = certify(
        &c,
        &alice,
        SERIAL,
        USER_ID,
        SENDER_NOT_BEFORE,
        SENDER_EXPIRES_AT,
    );
    let meta = Metadata::new(ContentType::SESSION, ts(NOW));

    // The genuine envelope most cases alter.
    let genuine =
        sealed::seal(&alice, &cert, bob.public(), &meta, INNER_MESSAGE, &mut rng).unwrap();
    let e = rng.label("genuine envelope ephemeral", 1)[0];
    let content = reference::content(0x01, NOW, None, cert.as_bytes(), INNER_MESSAGE);
    assert_eq!(
        genuine,
        reference::seal_single(&alice_ref, &bob_ref, e, &reference::pad(&content)).envelope
    );
    assert!(sealed::open(&bob, &genuine, &c.trust, ts(NOW)).is_ok());

    // A certificate with a bad signature, sealed correctly by Alice.
    let mut forged_bytes = cert.to_bytes();
    let last = forged_bytes.len() - 1;
    forged_bytes[last] ^= 0x01;
    let forged = SenderCertificate::from_bytes(&forged_bytes).unwrap();
    let forged_env = sealed::seal(
        &alice,
        &forged,
        bob.public(),
        &meta,
        INNER_MESSAGE,
        &mut rng,
    )
    .unwrap();
    rng.label("forged-certificate envelope ephemeral", 1);

    // Envelopes only the reference builds.
    let spoof = reference::seal_single(
        &mallory_ref,
        &bob_ref,
        rng.draw32("spoofed-certificate envelope ephemeral"),
        &reference::pad(&content),
    )
    .envelope;
    let mut no_marker = reference::pad(&content);
    no_marker[content.len()] = 0x00;
    let no_marker_env = reference::seal_single(
        &alice_ref,
        &bob_ref,
        rng.draw32("missing-marker envelope ephemeral"),
        &no_marker,
    )
    .envelope;
    let mut overlong = reference::pad(&content);
    let bucket = overlong.len();
    overlong.resize(bucket + 160, 0);
    let overlong_env = reference::seal_single(
        &alice_ref,
        &bob_ref,
        rng.draw32("over-padded envelope ephemeral"),
        &overlong,
    )
    .envelope;
    let mut zero_type = content.clone();
    zero_type[0] = 0;
    let zero_type_env = reference::seal_single(
        &alice_ref,
        &bob_ref,
        rng.draw32("zero-content-type envelope ephemeral"),
        &reference::pad(&zero_type),
    )
    .envelope;

    // Multi-recipient: Bob and Carol.
    let group_content = reference::content(0x02, NOW, None, cert.as_bytes(), GROUP_MESSAGE);
    let multi_lib = sealed::seal_multi(
        &alice,
        &cert,
        &[*bob.public(), *carol.public()],
        &Metadata::new(ContentType::GROUP, ts(NOW)),
        GROUP_MESSAGE,
        &mut rng,
    )
    .unwrap();
    let m = rng.label("multi-recipient message secret", 1)[0];
    let multi = reference::seal_multi(
        &alice_ref,
        &[bob_ref.clone(), carol_ref.clone()],
        m,
        &reference::pad(&group_content),
    );
    assert_eq!(multi_lib, multi.message);
    let bob_split = multi.recipients[0].envelope.clone();
    let multi_spoof = reference::seal_multi(
        &mallory_ref,
        std::slice::from_ref(&bob_ref),
        rng.draw32("spoofed multi-recipient message secret"),
        &reference::pad(&group_content),
    )
    .recipients[0]
        .envelope
        .clone();
    // Carol, a co-recipient, recovers M from her envelope and re-encrypts the shared
    // ciphertext with her own words in Alice's name.
    let (carol_m, _) =
        reference::open_recipient(&carol_ref, &multi.recipients[1].envelope).unwrap();
    let (_, body_key) = reference::multi_keys(&carol_m);
    let forged_content = reference::content(
        0x02,
        NOW,
        None,
        cert.as_bytes(),
        b"forged by a co-recipient!",
    );
    let forged_body = reference::aead_seal(
        &body_key,
        &reference::body_ad(&multi.ephemeral_public),
        &reference::pad(&forged_content),
    );
    let swapped = cat(&[&bob_split[..114], &forged_body]);
    let mut multi_bad_marker = reference::pad(&group_content);
    multi_bad_marker[group_content.len()] = 0x81;
    let multi_bad_padding = reference::seal_multi(
        &alice_ref,
        std::slice::from_ref(&bob_ref),
        rng.draw32("bad-padding multi-recipient message secret"),
        &multi_bad_marker,
    )
    .recipients[0]
        .envelope
        .clone();

    let pinned = || Trust::pinned(&c);
    let mut revoked_key = pinned();
    revoked_key.revoked_server_keys = vec![(ROOT_ID, SERVER_KEY_ID)];
    let mut revoked_cert = pinned();
    revoked_cert.revoked_certificates = vec![(ROOT_ID, SERVER_KEY_ID, SERIAL)];
    let mut wrong_root = pinned();
    wrong_root.roots = vec![(ROOT_ID, carol_ref.ed_public)];
    let unknown_root = Trust {
        roots: vec![],
        revoked_server_keys: vec![],
        revoked_certificates: vec![],
    };
    let mut low_order = genuine.clone();
    low_order[34..66].copy_from_slice(&[0u8; 32]);
    let mut readdressed = genuine.clone();
    readdressed[2..34].copy_from_slice(&carol_ref.ed_public);
    let mut version = genuine.clone();
    version[0] = 2;
    let mut unknown_type = genuine.clone();
    unknown_type[1] = 0x3f;
    let mut other_structure = genuine.clone();
    other_structure[1] = 0x10;

    let cases = vec![
        Rejection {
            name: "other_recipient",
            description: "Bob's envelope opened by Carol",
            recipient: "carol",
            now: NOW,
            trust: pinned(),
            envelope: genuine.clone(),
            expected: OpenError::NotForUs,
        },
        Rejection {
            name: "readdressed",
            description: "Bob's envelope with Carol's key as recipient, opened by Carol",
            recipient: "carol",
            now: NOW,
            trust: pinned(),
            envelope: readdressed,
            expected: OpenError::Tampered,
        },
        Rejection {
            name: "tampered_ephemeral",
            description: "bit 0 of byte 34 (ephemeral key) flipped",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: flip(&genuine, 34),
            expected: OpenError::Tampered,
        },
        Rejection {
            name: "tampered_encrypted_sender",
            description: "bit 0 of byte 66 (encrypted sender identity) flipped",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: flip(&genuine, 66),
            expected: OpenError::Tampered,
        },
        Rejection {
            name: "tampered_ciphertext",
            description: "bit 0 of the last byte flipped",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: flip(&genuine, genuine.len() - 1),
            expected: OpenError::Tampered,
        },
        Rejection {
            name: "low_order_ephemeral",
            description: "ephemeral key replaced by the all-zero (low-order) point",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: low_order,
            expected: OpenError::NonContributory,
        },
        Rejection {
            name: "unknown_version",
            description: "version byte 2",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: version,
            expected: OpenError::Malformed(DecodeError::UnknownVersion(2)),
        },
        Rejection {
            name: "unknown_type",
            description: "type byte 0x3f",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: unknown_type,
            expected: OpenError::Malformed(DecodeError::UnknownType(0x3f)),
        },
        Rejection {
            name: "other_structure",
            description: "type byte 0x10 (a prekey bundle's): a known type of another family",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: other_structure,
            expected: OpenError::Malformed(DecodeError::WrongType {
                expected: 0x30,
                found: 0x10,
            }),
        },
        Rejection {
            name: "multi_recipient_message_to_open",
            description: "the whole multi-recipient message (type 0x31) given to a recipient",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: multi.message.clone(),
            expected: OpenError::Malformed(DecodeError::WrongType {
                expected: 0x30,
                found: 0x31,
            }),
        },
        Rejection {
            name: "truncated",
            description: "last byte removed: the ciphertext is not a bucket plus tag",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: genuine[..genuine.len() - 1].to_vec(),
            expected: OpenError::Malformed(DecodeError::InvalidField {
                field: "ciphertext_len",
            }),
        },
        Rejection {
            name: "certificate_for_another_key",
            description: "Mallory authenticates the envelope but carries Alice's certificate",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: spoof,
            expected: OpenError::SenderNotAuthenticated,
        },
        Rejection {
            name: "padding_marker_missing",
            description: "the 0x80 marker replaced by 0x00",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: no_marker_env,
            expected: OpenError::BadPadding(PaddingError::MissingMarker),
        },
        Rejection {
            name: "padding_too_long",
            description: "160 more zero bytes than the bucket",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: overlong_env,
            expected: OpenError::BadPadding(PaddingError::WrongLength {
                len: bucket + 160,
                expected: bucket,
            }),
        },
        Rejection {
            name: "content_type_zero",
            description: "authenticated content with content type 0",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: zero_type_env,
            expected: OpenError::MalformedContent(DecodeError::InvalidField {
                field: "content_type",
            }),
        },
        Rejection {
            name: "forged_certificate",
            description: "Alice seals with a certificate whose last signature byte is flipped",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: forged_env,
            expected: OpenError::Certificate(CertificateError::BadSignature(
                CertificateKind::Sender,
            )),
        },
        Rejection {
            name: "expired_certificate",
            description: "opened at the sender certificate's expiry",
            recipient: "bob",
            now: SENDER_EXPIRES_AT,
            trust: pinned(),
            envelope: genuine.clone(),
            expected: OpenError::Certificate(CertificateError::Expired {
                kind: CertificateKind::Sender,
                expires_at: ts(SENDER_EXPIRES_AT),
            }),
        },
        Rejection {
            name: "not_yet_valid_certificate",
            description: "opened one second before the sender certificate's window",
            recipient: "bob",
            now: SENDER_NOT_BEFORE - 1,
            trust: pinned(),
            envelope: genuine.clone(),
            expected: OpenError::Certificate(CertificateError::NotYetValid {
                kind: CertificateKind::Sender,
                not_before: ts(SENDER_NOT_BEFORE),
            }),
        },
        Rejection {
            name: "expired_server_certificate",
            description: "opened at the server certificate's expiry",
            recipient: "bob",
            now: SERVER_EXPIRES_AT,
            trust: pinned(),
            envelope: genuine.clone(),
            expected: OpenError::Certificate(CertificateError::Expired {
                kind: CertificateKind::Server,
                expires_at: ts(SERVER_EXPIRES_AT),
            }),
        },
        Rejection {
            name: "unknown_root",
            description: "a trust store with no root pinned",
            recipient: "bob",
            now: NOW,
            trust: unknown_root,
            envelope: genuine.clone(),
            expected: OpenError::Certificate(CertificateError::UnknownRoot { root_id: ROOT_ID }),
        },
        Rejection {
            name: "wrong_root",
            description: "root id 1 pinned to another key",
            recipient: "bob",
            now: NOW,
            trust: wrong_root,
            envelope: genuine.clone(),
            expected: OpenError::Certificate(CertificateError::BadSignature(
                CertificateKind::Server,
            )),
        },
        Rejection {
            name: "revoked_server_key",
            description: "server key 7 revoked",
            recipient: "bob",
            now: NOW,
            trust: revoked_key,
            envelope: genuine.clone(),
            expected: OpenError::Certificate(CertificateError::ServerKeyRevoked {
                key_id: SERVER_KEY_ID,
            }),
        },
        Rejection {
            name: "revoked_certificate",
            description: "serial 42 of server key 7 revoked",
            recipient: "bob",
            now: NOW,
            trust: revoked_cert,
            envelope: genuine.clone(),
            expected: OpenError::Certificate(CertificateError::CertificateRevoked {
                kind: CertificateKind::Sender,
                server_key_id: SERVER_KEY_ID,
                serial: SERIAL,
            }),
        },
        Rejection {
            name: "multi_other_recipient",
            description: "Bob's split envelope opened by Carol",
            recipient: "carol",
            now: NOW,
            trust: pinned(),
            envelope: bob_split.clone(),
            expected: OpenError::NotForUs,
        },
        Rejection {
            name: "multi_tampered_wrapped_secret",
            description: "bit 0 of byte 66 (wrapped M) flipped: the derived ephemeral key differs",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: flip(&bob_split, 66),
            expected: OpenError::Tampered,
        },
        Rejection {
            name: "multi_tampered_tag",
            description: "bit 0 of byte 98 (authentication tag) flipped",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: flip(&bob_split, 98),
            expected: OpenError::SenderNotAuthenticated,
        },
        Rejection {
            name: "multi_tampered_ciphertext",
            description: "bit 0 of the last byte flipped",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: flip(&bob_split, bob_split.len() - 1),
            expected: OpenError::Tampered,
        },
        Rejection {
            name: "multi_certificate_for_another_key",
            description: "Mallory's tags with Alice's certificate",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: multi_spoof,
            expected: OpenError::SenderNotAuthenticated,
        },
        Rejection {
            name: "multi_ciphertext_swapped_by_co_recipient",
            description: "Carol re-encrypts the shared ciphertext under the body key she knows; the tag binds SHA-256 of the ciphertext",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: swapped,
            expected: OpenError::SenderNotAuthenticated,
        },
        Rejection {
            name: "multi_bad_padding",
            description: "the marker replaced by 0x81",
            recipient: "bob",
            now: NOW,
            trust: pinned(),
            envelope: multi_bad_padding,
            expected: OpenError::BadPadding(PaddingError::MissingMarker),
        },
    ];
    let mut out = Vec::new();
    for case in cases {
        let recipient = match case.recipient {
            "bob" => &bob,
            "carol" => &carol,
            other => panic!("unknown recipient {other}"),
        };
        let got = sealed::open(recipient, &case.envelope, &case.trust.store(), ts(case.now));
        assert_eq!(
            got.as_ref().err(),
            Some(&case.expected),
            "rejection case {}",
            case.name
        );
        out.push(json!({
            "name": case.name,
            "description": case.description,
            "recipient": case.recipient,
            "now": case.now,
            "trust_store": case.trust.to_json(),
            "envelope": hx(&case.envelope),
            "expected": outcome_json(&got),
        }));
    }

    // What the relay refuses when splitting.
    let mut zero_count = multi.message.clone();
    zero_count[34..36].copy_from_slice(&0u16.to_be_bytes());
    let mut duplicate = multi.message.clone();
    duplicate[36 + 80..36 + 80 + 32].copy_from_slice(&bob_ref.ed_public);
    let relay_cases = [
        (
            "zero_recipients",
            "recipient count 0",
            zero_count,
            DecodeError::InvalidField {
                field: "recipient_count",
            },
        ),
        (
            "too_many_recipients",
            "recipient count 2049",
            {
                let mut m = multi.message.clone();
                m[34..36].copy_from_slice(&2049u16.to_be_bytes());
                m
            },
            DecodeError::InvalidField {
                field: "recipient_count",
            },
        ),
        (
            "duplicate_recipient",
            "Carol's header names Bob",
            duplicate,
            DecodeError::InvalidField { field: "recipient" },
        ),
        (
            "truncated",
            "last byte removed",
            multi.message[..multi.message.len() - 1].to_vec(),
            DecodeError::InvalidField {
                field: "ciphertext_len",
            },
        ),
        (
            "envelope_to_relay",
            "a single-recipient envelope (type 0x30) given to the relay's decoder",
            genuine.clone(),
            DecodeError::WrongType {
                expected: 0x31,
                found: 0x30,
            },
        ),
        (
            "unknown_type",
            "type byte 0x3f, reserved and not assigned",
            {
                let mut m = multi.message.clone();
                m[1] = 0x3f;
                m
            },
            DecodeError::UnknownType(0x3f),
        ),
    ];
    let mut relay = Vec::new();
    for (name, description, bytes, expected) in relay_cases {
        let got = MultiRecipientMessage::decode(&bytes).map(|_| ());
        assert_eq!(got, Err(expected), "relay case {name}");
        relay.push(json!({
            "name": name,
            "description": description,
            "multi_recipient_message": hx(&bytes),
            "expected": outcome_json(&got),
        }));
    }

    let mut body = serde_json::Map::new();
    body.insert("chain".into(), chain_json(&c));
    body.insert(
        "parties".into(),
        json!({
            "alice": key_json(&alice_ref),
            "bob": key_json(&bob_ref),
            "carol": key_json(&carol_ref),
            "mallory": key_json(&mallory_ref),
        }),
    );
    body.insert("sender_certificate".into(), json!(hx(cert.as_bytes())));
    body.insert("genuine_envelope".into(), json!(hx(&genuine)));
    body.insert(
        "genuine_multi_recipient_message".into(),
        json!(hx(&multi.message)),
    );
    body.insert("cases".into(), json!(out));
    body.insert("relay_cases".into(), json!(relay));
    file(
        "rejections",
        "Envelopes that must be refused, each with the trust store, the time and the exact \
         error (SPEC.md §8.4).",
        &rng,
        body,
    )
}

// ---------------------------------------------------------------------------------------------
// Scenario 5: hybrid envelopes (SPEC.md §13.8).

/// The reference's `(ek, signed message, encoding)` of an envelope KEM key.
type ReferenceEnvelopeKey = (Vec<u8>, Vec<u8>, Vec<u8>);

/// An account around `identity` with hybrid envelopes on, from the tape; its envelope key
/// seed and the reference's view of the key.
fn hybrid_account(
    rng: &mut TapeRng,
    name: &str,
    identity: &IdentityKeyPair,
    reference_key: &Key,
) -> (Account, [u8; 64], ReferenceEnvelopeKey) {
    let mut account = Account::from_identity(identity.clone(), ts(NOW), rng);
    rng.label_bytes(
        &format!("{name} signed prekey and last-resort ML-KEM prekey (unused here)"),
        2,
    );
    assert!(account.enable_hybrid_envelopes(ts(NOW), rng));
    let seed: [u8; 64] = rng.label_bytes(&format!("{name} envelope KEM key seed"), 1)[0]
        .as_slice()
        .try_into()
        .unwrap();
    let reference = reference::envelope_key(reference_key, 1, &seed);
    assert_eq!(account.envelope_key().unwrap().encode(), reference.2);
    (account, seed, reference)
}

fn hybrid() -> Value {
    let mut rng = TapeRng::new("hybrid");
    let c = chain(&mut rng);
    let (alice, alice_ref) = device(&mut rng, "sender");
    let (bob_id, bob_ref) = device(&mut rng, "bob");
    let (carol_id, carol_ref) = device(&mut rng, "carol");
    let (bob, bob_seed, bob_key) = hybrid_account(&mut rng, "bob", &bob_id, &bob_ref);
    let (carol, carol_seed, carol_key) = hybrid_account(&mut rng, "carol", &carol_id, &carol_ref);
    let (cert, signed_message) = certify(
        &c,
        &alice,
        SERIAL,
        USER_ID,
        SENDER_NOT_BEFORE,
        SENDER_EXPIRES_AT,
    );
    let bob_public = EnvelopeKeyPublic::decode(&bob_key.2).unwrap();
    let carol_public = EnvelopeKeyPublic::decode(&carol_key.2).unwrap();
    assert!(bob_public.verify() && carol_public.verify());

    // Single recipient.
    let meta = Metadata::new(ContentType::SESSION, ts(NOW));
    let envelope =
        sealed::seal_hybrid(&alice, &cert, &bob_public, &meta, INNER_MESSAGE, &mut rng).unwrap();
    let draws = rng.label(
        "single: ML-KEM encapsulation randomness m, then the ephemeral private key",
        2,
    );
    let (m, ephemeral) = (draws[0], draws[1]);
    let content = reference::content(0x01, NOW, None, cert.as_bytes(), INNER_MESSAGE);
    let padded = reference::pad(&content);
    let trace =
        reference::seal_hybrid_single(&alice_ref, &bob_ref, 1, &bob_key.0, m, ephemeral, &padded);
    assert_eq!(envelope, trace.envelope, "library and reference differ");
    assert_eq!(
        reference::kem_decaps(&bob_seed, &trace.kem_ciphertext),
        trace.kem_shared
    );
    let opened =
        sealed::open_with(&bob.recipient_keys(ts(NOW)), &envelope, &c.trust, ts(NOW)).unwrap();
    assert!(opened.is_hybrid());
    assert_eq!(opened.message(), INNER_MESSAGE);

    // Two recipients.
    let group_meta = Metadata::new(ContentType::GROUP, ts(NOW));
    let multi = sealed::seal_multi_hybrid(
        &alice,
        &cert,
        &[&bob_public, &carol_public],
        &group_meta,
        GROUP_MESSAGE,
        &mut rng,
    )
    .unwrap();
    let draws = rng.label(
        "multi: ML-KEM encapsulation randomness m_i for bob, then carol, then the message secret M",
        3,
    );
    let ms = [draws[0], draws[1]];
    let message_key = draws[2];
    let group_content = reference::content(0x02, NOW, None, cert.as_bytes(), GROUP_MESSAGE);
    let group_padded = reference::pad(&group_content);
    let multi_trace = reference::seal_hybrid_multi(
        &alice_ref,
        &[
            (&bob_ref, 1, &bob_key.0, ms[0]),
            (&carol_ref, 1, &carol_key.0, ms[1]),
        ],
        message_key,
        &group_padded,
    );
    assert_eq!(multi, multi_trace.message, "library and reference differ");
    let split = MultiRecipientMessage::decode(&multi).unwrap().split();
    for ((account, (_, env)), t) in [&bob, &carol]
        .iter()
        .zip(&split)
        .zip(&multi_trace.recipients)
    {
        assert_eq!(env, &t.envelope);
        let opened =
            sealed::open_with(&account.recipient_keys(ts(NOW)), env, &c.trust, ts(NOW)).unwrap();
        assert_eq!(opened.message(), GROUP_MESSAGE);
    }
    assert_eq!(
        reference::kem_decaps(&carol_seed, &multi_trace.recipients[1].kem_ciphertext),
        multi_trace.recipients[1].kem_shared
    );

    // Rejections.
    let classical = sealed::seal(
        &alice,
        &cert,
        bob_id.public(),
        &meta,
        INNER_MESSAGE,
        &mut rng,
    )
    .unwrap();
    rng.label("envelope ephemeral private key (classical, refused)", 1);
    let mut strict = bob.clone();
    strict.set_refuse_classical_envelopes(true);
    let mut unknown_id = envelope.clone();
    unknown_id[66..70].copy_from_slice(&2u32.to_be_bytes());
    let bob_split = &split[0].1;
    let cases: Vec<(&str, &str, Vec<u8>, &Account, OpenError)> = vec![
        (
            "classical_refused",
            "a classical envelope (type 0x30) to a recipient that refuses them",
            classical.clone(),
            &strict,
            OpenError::ClassicalRefused,
        ),
        (
            "unknown_envelope_key",
            "the single hybrid envelope with key id 2, which Bob never issued",
            unknown_id,
            &bob,
            OpenError::UnknownEnvelopeKey { key_id: 2 },
        ),
        (
            "kem_ciphertext_altered",
            "the single hybrid envelope with bit 0 of the KEM ciphertext's first byte flipped",
            flip(&envelope, 70),
            &bob,
            OpenError::Tampered,
        ),
        (
            "ephemeral_altered",
            "the single hybrid envelope with bit 0 of the ephemeral key's last byte flipped",
            flip(&envelope, 65),
            &bob,
            OpenError::Tampered,
        ),
        (
            "content_altered",
            "the single hybrid envelope with its last byte (the tag) altered",
            flip(&envelope, envelope.len() - 1),
            &bob,
            OpenError::Tampered,
        ),
        (
            "split_kem_ciphertext_altered",
            "Bob's split envelope (type 0x35) with its KEM ciphertext's last byte altered",
            flip(bob_split, 70 + 1087),
            &bob,
            OpenError::Tampered,
        ),
        (
            "split_tag_altered",
            "Bob's split envelope with its authentication tag's first byte altered",
            flip(bob_split, 1206 - 16),
            &bob,
            OpenError::SenderNotAuthenticated,
        ),
        (
            "truncated",
            "the single hybrid envelope cut inside its KEM ciphertext (1,000 bytes)",
            envelope[..1000].to_vec(),
            &bob,
            OpenError::Malformed(DecodeError::Truncated { needed: 158 }),
        ),
        (
            "not_for_us",
            "Carol opens the single hybrid envelope addressed to Bob",
            envelope.clone(),
            &carol,
            OpenError::NotForUs,
        ),
    ];
    let mut rejections = Vec::new();
    for (name, description, bytes, account, expected) in cases {
        let got = sealed::open_with(&account.recipient_keys(ts(NOW)), &bytes, &c.trust, ts(NOW));
        assert_eq!(got.as_ref().err(), Some(&expected), "{name}");
        rejections.push(json!({
            "name": name,
            "description": description,
            "recipient": if std::ptr::eq(account, &carol) { "carol" } else { "bob" },
            "refuse_classical": std::ptr::eq(account, &strict),
            "envelope": hx(&bytes),
            "expected": outcome_json(&got),
        }));
    }
    // Decodings of the published key.
    let mut key_cases = Vec::new();
    let mut forged = bob_key.2.clone();
    forged[100] ^= 1;
    let mut zero_id = bob_key.2.clone();
    zero_id[34..38].copy_from_slice(&[0; 4]);
    let mut wrong_type = bob_key.2.clone();
    wrong_type[1] = 0x10;
    for (name, bytes, expected) in [
        ("forged", forged, Ok(false)),
        (
            "zero_key_id",
            zero_id,
            Err(DecodeError::InvalidField { field: "key_id" }),
        ),
        (
            "wrong_type",
            wrong_type,
            Err(DecodeError::WrongType {
                expected: 0x36,
                found: 0x10,
            }),
        ),
        (
            "truncated",
            bob_key.2[..bob_key.2.len() - 1].to_vec(),
            Err(DecodeError::Truncated { needed: 1 }),
        ),
    ] {
        let got = EnvelopeKeyPublic::decode(&bytes).map(|k| k.verify());
        assert_eq!(got, expected, "{name}");
        key_cases.push(json!({
            "name": name,
            "encoded": hx(&bytes),
            "expected": match got {
                Ok(verifies) => json!({ "decodes": true, "signature_verifies": verifies }),
                Err(e) => json!({ "decodes": false, "error": outcome_json(&Err::<(), _>(e)) }),
            },
        }));
    }

    let key_entry = |name: &str, seed: &[u8; 64], k: &ReferenceEnvelopeKey| {
        json!({
            "owner": name,
            "key_id": 1,
            "seed": hx(seed),
            "encapsulation_key": hx(&k.0),
            "encapsulation_key_sha256": hx(&Sha256::digest(&k.0)),
            "signed_message": hx(&k.1),
            "encoded": hx(&k.2),
        })
    };
    let mut body = serde_json::Map::new();
    body.insert("chain".into(), chain_json(&c));
    body.insert("sender".into(), key_json(&alice_ref));
    body.insert("bob".into(), key_json(&bob_ref));
    body.insert("carol".into(), key_json(&carol_ref));
    body.insert(
        "sender_certificate".into(),
        sender_cert_json(&cert, &signed_message),
    );
    body.insert(
        "envelope_keys".into(),
        json!([
            key_entry("bob", &bob_seed, &bob_key),
            key_entry("carol", &carol_seed, &carol_key)
        ]),
    );
    body.insert(
        "single".into(),
        json!({
            "recipient": "bob",
            "metadata": { "content_type": 1, "sent_at": NOW },
            "inner_message": hx(INNER_MESSAGE),
            "content": hx(&content),
            "padded_content": hx(&padded),
            "kem_randomness_m": hx(&m),
            "kem_ciphertext": hx(&trace.kem_ciphertext),
            "kem_shared_secret": hx(&trace.kem_shared),
            "ephemeral_private": hx(&ephemeral),
            "ephemeral_public": hx(&trace.ephemeral_public),
            "dh_ephemeral": hx(&trace.dh_ephemeral),
            "chain_key": hx(&trace.chain_key),
            "static_key": hx(&trace.static_key),
            "header": hx(&trace.header),
            "encrypted_sender_identity": hx(&trace.encrypted_static),
            "content_key": hx(&trace.content_key),
            "envelope": hx(&envelope),
        }),
    );
    body.insert(
        "multi".into(),
        json!({
            "recipients": ["bob", "carol"],
            "metadata": { "content_type": 2, "sent_at": NOW },
            "inner_message": hx(GROUP_MESSAGE),
            "padded_content": hx(&group_padded),
            "message_secret": hx(&message_key),
            "ephemeral_public": hx(&multi_trace.ephemeral_public),
            "body_key": hx(&multi_trace.body_key),
            "ciphertext_sha256": hx(&multi_trace.digest),
            "per_recipient": multi_trace.recipients.iter().zip(&ms).map(|(t, m)| json!({
                "kem_randomness_m": hx(m),
                "kem_ciphertext": hx(&t.kem_ciphertext),
                "kem_shared_secret": hx(&t.kem_shared),
                "dh_ephemeral": hx(&t.dh_ephemeral),
                "wrap_key": hx(&t.wrap_key),
                "wrapped": hx(&t.wrapped),
                "dh_static": hx(&t.dh_static),
                "tag": hx(&t.tag),
                "split_envelope": hx(&t.envelope),
            })).collect::<Vec<_>>(),
            "message": hx(&multi),
        }),
    );
    body.insert("rejections".into(), json!(rejections));
    body.insert("envelope_key_decodings".into(), json!(key_cases));
    file(
        "hybrid",
        "Hybrid (X25519 + ML-KEM-768) sealed envelopes (SPEC.md §13.8): two published envelope \
         KEM keys (type 0x36), a single-recipient envelope (0x33) and a two-recipient message \
         (0x34) with its split envelopes (0x35), every intermediate value, rejected envelopes \
         with their errors, and decodings of the published key.",
        &rng,
        body,
    )
}

// ---------------------------------------------------------------------------------------------
// Files.

fn check_file(name: &str, value: &Value) {
    check_vector_file("sealed", name, &canonical_text(value));
}

const FILES: [&str; 5] = [
    "certificates",
    "sealed_message",
    "multi_recipient",
    "rejections",
    "hybrid",
];

#[test]
fn certificates_vectors() {
    check_file("certificates", &certificates());
}

#[test]
fn sealed_message_vectors() {
    check_file("sealed_message", &sealed_message());
}

#[test]
fn multi_recipient_vectors() {
    check_file("multi_recipient", &multi_recipient());
}

#[test]
fn rejection_vectors() {
    check_file("rejections", &rejections());
}

#[test]
fn hybrid_vectors() {
    check_file("hybrid", &hybrid());
}

#[test]
fn every_sealed_vector_file_is_checked_here() {
    if regenerating() {
        return;
    }
    let found = json_file_names("sealed");
    let mut expected: Vec<String> = FILES.iter().map(|f| format!("{f}.json")).collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "every file in tests/vectors/sealed/ must be checked here"
    );
}

#[test]
fn the_reference_padding_matches_the_library() {
    for len in (0..300_000).step_by(7) {
        assert_eq!(
            reference::bucket(len + 1),
            sealed::padding::padded_len(len),
            "content length {len}"
        );
    }
}
