//! Fixed test vectors (`tests/vectors/*.json`, described in `tests/vectors/LAYOUT.md`).
//!
//! This is the one test file that loads every vector file. Each scenario is run twice from the
//! same randomness tape: once through hushwire's public API, and once through an independent
//! reference written here from the raw primitives only (X25519, Ed25519, ML-KEM-768,
//! HKDF/HMAC-SHA-256, ChaCha20-Poly1305). The reference derives every intermediate secret and
//! the exact bytes every message must have; the test checks that the library drew randomness in
//! the same order, produced byte-identical bundles and messages, that the reference keys open
//! the library's headers and bodies, and that every delivery gave the expected result. The
//! files built from both are then compared with the committed ones.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the files instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use hushwire::{
    Account, DEFAULT_MAX_JUMP, DEFAULT_MAX_SKIPPED_KEYS, DEFAULT_SKIPPED_KEY_MAX_AGE, DecodeError,
    DecryptError, HandshakeError, KeyError, PreKeyBundle, PublishedPreKeys, RatchetConfig, Session,
    SignedKeyKind, Timestamp,
};
use ml_kem::array::Array;
use ml_kem::kem::{Decapsulate, KeyExport};
use ml_kem::ml_kem_768::{Ciphertext, DecapsulationKey, EncapsulationKey};
use rand_core::{TryCryptoRng, TryRng};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use x25519_dalek::{X25519_BASEPOINT_BYTES, x25519};

#[path = "common/vector_file.rs"]
mod vector_file;

use vector_file::{check_vector_file, json_file_names, regenerating};

#[path = "common/vector_json.rs"]
mod vector_json;

use vector_json::{error_json, events_json};

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);
/// Upper bound on the tape a scenario may use; the files record only the bytes drawn.
const TAPE_MAX: usize = 1 << 16;
const TAPE_GENERATION: &str =
    "SHA-256(utf8(seed) || u32_be(i)) for i = 0, 1, 2, ..., concatenated and cut to `length` bytes";

// ---------------------------------------------------------------------------------------------
// Protocol constants, written out again here (not taken from the library) so that the reference
// is an independent reading of the specification.

const LABEL_SIG_SIGNED_PREKEY: &[u8] = b"hushwire/v1/sig/signed-prekey";
const LABEL_SIG_KEM_PREKEY: &[u8] = b"hushwire/v1/sig/kem-prekey";
const LABEL_PQXDH: &[u8] = b"hushwire/v1/pqxdh";
const LABEL_ROOT: &[u8] = b"hushwire/v1/ratchet/root";
const VERSION: u8 = 1;
const TYPE_RATCHET: u8 = 0x01;
const TYPE_PREKEY: u8 = 0x02;
const TYPE_BUNDLE: u8 = 0x10;
const KEM_KIND_ONE_TIME: u8 = 1;
const KEM_KIND_LAST_RESORT: u8 = 2;
const KEM_CIPHERTEXT_LEN: usize = 1088;

// ---------------------------------------------------------------------------------------------
// The tape RNG.

/// The deterministic byte stream a tape is cut from (see `TAPE_GENERATION`).
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

/// A `CryptoRng` that hands out the bytes of a fixed tape in order and panics when it runs out.
/// It records every draw as (offset, length).
struct TapeRng {
    tape: Vec<u8>,
    pos: usize,
    draws: Vec<(usize, usize)>,
}

impl TapeRng {
    fn new(tape: Vec<u8>) -> Self {
        TapeRng {
            tape,
            pos: 0,
            draws: Vec::new(),
        }
    }

    fn take(&mut self, dst: &mut [u8]) {
        let end = self.pos + dst.len();
        assert!(
            end <= self.tape.len(),
            "randomness tape exhausted: a draw of {} bytes at offset {} but the tape has {} bytes",
            dst.len(),
            self.pos,
            self.tape.len()
        );
        dst.copy_from_slice(&self.tape[self.pos..end]);
        self.draws.push((self.pos, dst.len()));
        self.pos = end;
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
// Reference primitives: each is one call into a primitive crate, nothing from hushwire.

fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn arr<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap()
}

fn x25519_public(private: &[u8; 32]) -> [u8; 32] {
    x25519(*private, X25519_BASEPOINT_BYTES)
}

fn x25519_dh(private: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    let out = x25519(*private, *public);
    assert_ne!(out, [0u8; 32], "non-contributory DH in a test vector");
    out
}

fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut okm = vec![0u8; len];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm)
        .unwrap();
    okm
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn aead_seal(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(*nonce), ad, buf.as_mut_slice().into())
        .unwrap();
    buf.extend_from_slice(&tag);
    buf
}

fn aead_open(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (ciphertext, tag) = sealed.split_at(sealed.len().checked_sub(16)?);
    let tag = Tag::try_from(tag).ok()?;
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    let mut buf = ciphertext.to_vec();
    cipher
        .decrypt_inout_detached(&Nonce::from(*nonce), ad, buf.as_mut_slice().into(), &tag)
        .ok()?;
    Some(buf)
}

/// Ed25519 public key, X25519 private key (first half of SHA-512(seed), clamped by X25519 when
/// used) and X25519 public key of an identity seed.
fn identity_keys(seed: &[u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let signing = SigningKey::from_bytes(seed);
    let ed_public = signing.verifying_key().to_bytes();
    let dh_private: [u8; 32] = arr(&Sha512::digest(seed)[..32]);
    let dh_public = x25519_public(&dh_private);
    // The birational map of the Ed25519 public key gives the same X25519 public key.
    assert_eq!(
        signing.verifying_key().to_montgomery().to_bytes(),
        dh_public
    );
    (ed_public, dh_private, dh_public)
}

fn ed25519_sign(seed: &[u8; 32], message: &[u8]) -> [u8; 64] {
    SigningKey::from_bytes(seed).sign(message).to_bytes()
}

fn kem_public(seed: &[u8; 64]) -> Vec<u8> {
    let dk = DecapsulationKey::from_seed(Array::from(*seed));
    dk.encapsulation_key().to_bytes().to_vec()
}

fn kem_encapsulate(public: &[u8], m: &[u8; 32]) -> (Vec<u8>, [u8; 32]) {
    let ek = EncapsulationKey::new(&Array::try_from(public).unwrap()).unwrap();
    let (ct, ss) = ek.encapsulate_deterministic(&Array::from(*m));
    (ct.to_vec(), arr(ss.as_slice()))
}

fn kem_decapsulate(seed: &[u8; 64], ciphertext: &[u8]) -> [u8; 32] {
    let dk = DecapsulationKey::from_seed(Array::from(*seed));
    let ct = Ciphertext::try_from(ciphertext).unwrap();
    arr(dk.decapsulate(&ct).as_slice())
}

fn signed_prekey_message(id: u32, public: &[u8; 32]) -> Vec<u8> {
    [LABEL_SIG_SIGNED_PREKEY, &id.to_be_bytes(), public].concat()
}

fn kem_prekey_message(id: u32, kind: u8, public: &[u8]) -> Vec<u8> {
    [LABEL_SIG_KEM_PREKEY, &[kind], &id.to_be_bytes(), public].concat()
}

/// SPEC.md §5.6: the session tag, `u32be(epoch) XOR HMAC(tk, 0x01 || role || nonce)[..4]`
/// followed by `HMAC(tk, 0x02 || role || nonce || encrypted_header || u32be(epoch))[..8]`,
/// where `role` is the sender's side: 0x01 initiator, 0x02 responder.
fn session_tag(
    tag_key: &[u8; 32],
    role: u8,
    nonce: &[u8; 12],
    encrypted_header: &[u8],
    epoch: u32,
) -> Vec<u8> {
    let mask = hmac_sha256(tag_key, &[&[0x01u8, role][..], nonce].concat());
    let mac = hmac_sha256(
        tag_key,
        &[
            &[0x02u8, role][..],
            nonce,
            encrypted_header,
            &epoch.to_be_bytes(),
        ]
        .concat(),
    );
    let mut out: Vec<u8> = epoch
        .to_be_bytes()
        .iter()
        .zip(&mask[..4])
        .map(|(e, m)| e ^ m)
        .collect();
    out.extend_from_slice(&mac[..8]);
    out
}

/// SPEC.md §5.2: root step.
fn root_step(root: &[u8; 32], dh: &[u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let okm = hkdf_sha256(root, dh, LABEL_ROOT, 96);
    (arr(&okm[..32]), arr(&okm[32..64]), arr(&okm[64..]))
}

/// SPEC.md §5.3: chain step, returning (next chain key, message key).
fn chain_step(chain_key: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    (
        hmac_sha256(chain_key, &[0x02]),
        hmac_sha256(chain_key, &[0x01]),
    )
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Party {
    Alice,
    Bob,
}

use Party::{Alice, Bob};

impl Party {
    fn name(self) -> &'static str {
        match self {
            Alice => "alice",
            Bob => "bob",
        }
    }

    fn other(self) -> Party {
        match self {
            Alice => Bob,
            Bob => Alice,
        }
    }

    fn idx(self) -> usize {
        match self {
            Alice => 0,
            Bob => 1,
        }
    }
}

/// One step of a scenario: what the app does, in order.
#[derive(Clone, Debug)]
enum Op {
    CreateAccount(Party),
    GenerateOneTimePreKeys {
        party: Party,
        x25519: u32,
        kem: u32,
    },
    /// The server hands out a bundle of `party`'s keys (popping the newest one-time keys).
    TakeBundle(Party),
    CreateOutboundSession {
        party: Party,
        bundle: usize,
    },
    Encrypt {
        session: usize,
        party: Party,
        plaintext: String,
    },
    /// Hands a message to its recipient: `create_inbound_session` if the recipient has no
    /// session for it yet, `Session::decrypt` otherwise.
    Deliver {
        message: usize,
    },
    /// `Session::set_config` with (max_jump, max_skipped_keys, max_receiving_chains,
    /// skipped_key_max_age).
    SetConfig {
        party: Party,
        session: usize,
        config: [u32; 4],
    },
}

/// What an invalid input is fed to.
#[derive(Clone, Copy, Debug)]
enum Target {
    Session {
        party: Party,
        session: usize,
    },
    Account(Party),
    /// `PreKeyBundle::from_bytes`, then `PreKeyBundle::verify`.
    Bundle,
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Message(usize),
    Bundle(usize),
}

#[derive(Clone, Debug)]
enum Mutation {
    Unchanged,
    TruncateTo(usize),
    DropLast,
    Append(u8),
    Set {
        offset: usize,
        value: u8,
    },
    Xor {
        offset: usize,
        mask: u8,
    },
    XorLast(u8),
    Splice {
        offset: usize,
        bytes: Vec<u8>,
    },
    /// The ratchet message embedded at the end of a prekey message.
    EmbeddedRatchetMessage,
}

impl Mutation {
    fn describe(&self) -> String {
        match self {
            Mutation::Unchanged => "unchanged".into(),
            Mutation::TruncateTo(n) => format!("truncated to its first {n} bytes"),
            Mutation::DropLast => "last byte removed".into(),
            Mutation::Append(b) => format!("byte 0x{b:02x} appended"),
            Mutation::Set { offset, value } => format!("byte {offset} set to 0x{value:02x}"),
            Mutation::Xor { offset, mask } => format!("byte {offset} xor 0x{mask:02x}"),
            Mutation::XorLast(mask) => format!("last byte xor 0x{mask:02x}"),
            Mutation::Splice { offset, bytes } => {
                format!(
                    "bytes {offset}..{} replaced by {}",
                    offset + bytes.len(),
                    hx(bytes)
                )
            }
            Mutation::EmbeddedRatchetMessage => {
                "only the ratchet message embedded at its end".into()
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Case {
    name: &'static str,
    description: &'static str,
    after_event: usize,
    target: Target,
    /// (max_jump, max_skipped_keys, max_receiving_chains, skipped_key_max_age)
    config: Option<[u32; 4]>,
    source: Source,
    mutation: Mutation,
    expected: Expected,
}

/// The error an invalid input must give, from the call its target makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Decrypt(DecryptError),
    Handshake(HandshakeError),
    Decode(DecodeError),
    Key(KeyError),
}

impl Expected {
    fn json(self) -> Value {
        match self {
            Expected::Decrypt(e) => error_json(e),
            Expected::Handshake(e) => error_json(e),
            Expected::Decode(e) => error_json(e),
            Expected::Key(e) => error_json(e),
        }
    }
}

impl From<DecryptError> for Expected {
    fn from(e: DecryptError) -> Self {
        Expected::Decrypt(e)
    }
}

impl From<HandshakeError> for Expected {
    fn from(e: HandshakeError) -> Self {
        Expected::Handshake(e)
    }
}

impl From<DecodeError> for Expected {
    fn from(e: DecodeError) -> Self {
        Expected::Decode(e)
    }
}

impl From<KeyError> for Expected {
    fn from(e: KeyError) -> Self {
        Expected::Key(e)
    }
}

struct Scenario {
    file: &'static str,
    description: &'static str,
    ops: Vec<Op>,
    cases: Vec<Case>,
    bundles: usize,
    sessions: usize,
    messages: usize,
}

impl Scenario {
    fn new(file: &'static str, description: &'static str) -> Self {
        Scenario {
            file,
            description,
            ops: Vec::new(),
            cases: Vec::new(),
            bundles: 0,
            sessions: 0,
            messages: 0,
        }
    }

    /// Adds an op and returns its event index.
    fn op(&mut self, op: Op) -> usize {
        match &op {
            Op::TakeBundle(_) => self.bundles += 1,
            Op::CreateOutboundSession { .. } => self.sessions += 1,
            Op::Encrypt { .. } => self.messages += 1,
            _ => {}
        }
        self.ops.push(op);
        self.ops.len() - 1
    }

    fn last_event(&self) -> usize {
        self.ops.len() - 1
    }

    /// Alice and Bob accounts, a bundle of Bob's, and Alice's session 0 on it.
    fn setup(&mut self, one_time_prekeys: bool) {
        self.op(Op::CreateAccount(Alice));
        self.op(Op::CreateAccount(Bob));
        if one_time_prekeys {
            self.op(Op::GenerateOneTimePreKeys {
                party: Bob,
                x25519: 1,
                kem: 1,
            });
        }
        self.op(Op::TakeBundle(Bob));
        self.op(Op::CreateOutboundSession {
            party: Alice,
            bundle: self.bundles - 1,
        });
    }

    /// Encrypts on `session` and returns the message index.
    fn send(&mut self, session: usize, party: Party, plaintext: &str) -> usize {
        self.op(Op::Encrypt {
            session,
            party,
            plaintext: plaintext.to_owned(),
        });
        self.messages - 1
    }

    fn deliver(&mut self, message: usize) -> usize {
        self.op(Op::Deliver { message })
    }
}

fn pqxdh_scenario(one_time: bool) -> Scenario {
    let mut s = if one_time {
        Scenario::new(
            "pqxdh_with_one_time_prekey",
            "Key agreement on a bundle with a one-time X25519 prekey and a one-time ML-KEM-768 \
             prekey (DH1..DH4 + KEM), then the first three messages: Alice's prekey message, \
             Bob's reply (his first ratchet step), Alice's answer (her second chain).",
        )
    } else {
        Scenario::new(
            "pqxdh_without_one_time_prekey",
            "Key agreement on a bundle without a one-time X25519 prekey, on Bob's last-resort \
             ML-KEM-768 prekey (DH1..DH3 + KEM), then the first three messages.",
        )
    };
    s.setup(one_time);
    let m0 = s.send(0, Alice, "Hi Bob, it's Alice. Has my order shipped?");
    s.deliver(m0);
    let m1 = s.send(0, Bob, "Yes, it left the warehouse this morning.");
    s.deliver(m1);
    let m2 = s.send(0, Alice, "Great, thank you!");
    s.deliver(m2);
    s
}

fn conversation_scenario() -> Scenario {
    let mut s = Scenario::new(
        "conversation",
        "A conversation delivered in order: ratchet turns both ways with bursts of 1 to 4 \
         messages, messages that cross in flight, an empty message and a long one.",
    );
    s.setup(true);
    let turns: &[(Party, usize)] = &[
        (Alice, 1),
        (Bob, 2),
        (Alice, 3),
        (Bob, 1),
        (Alice, 1),
        (Bob, 4),
        (Alice, 2),
    ];
    for (turn, &(party, count)) in turns.iter().enumerate() {
        let sent: Vec<usize> = (0..count)
            .map(|i| {
                s.send(
                    0,
                    party,
                    &format!("{} turn {turn} message {i}", party.name()),
                )
            })
            .collect();
        for m in sent {
            s.deliver(m);
        }
    }
    // Both write at once: each message is sent before the other one arrives.
    let a = s.send(0, Alice, "crossing: alice");
    let b = s.send(0, Bob, "crossing: bob");
    s.deliver(a);
    s.deliver(b);
    let e = s.send(0, Bob, "");
    s.deliver(e);
    let long = "A longer message, to cover bodies of several ChaCha20 blocks. ".repeat(4);
    let l = s.send(0, Alice, &long);
    s.deliver(l);
    let last = s.send(0, Bob, "bye");
    s.deliver(last);
    s
}

fn out_of_order_scenario() -> Scenario {
    let mut s = Scenario::new(
        "out_of_order",
        "Messages delivered in a permuted order, across ratchet steps: the responder's first \
         delivery is Alice's third message, late messages arrive after the sender's next chain \
         started, and two duplicates are delivered at the end.",
    );
    s.setup(true);
    let a: Vec<usize> = (0..4)
        .map(|i| s.send(0, Alice, &format!("alice chain 0 message {i}")))
        .collect();
    s.deliver(a[2]);
    s.deliver(a[0]);
    let b: Vec<usize> = (0..3)
        .map(|i| s.send(0, Bob, &format!("bob chain 1 message {i}")))
        .collect();
    s.deliver(b[1]);
    let a2: Vec<usize> = (0..2)
        .map(|i| s.send(0, Alice, &format!("alice chain 2 message {i}")))
        .collect();
    s.deliver(a2[1]);
    s.deliver(a[3]);
    s.deliver(b[0]);
    let b3 = s.send(0, Bob, "bob chain 3 message 0");
    s.deliver(b3);
    s.deliver(a2[0]);
    s.deliver(a[1]);
    s.deliver(b[2]);
    // Duplicates.
    s.deliver(a[1]);
    s.deliver(b[2]);
    s.deliver(a2[1]);
    s
}

#[allow(clippy::too_many_arguments)]
fn case(
    name: &'static str,
    description: &'static str,
    after_event: usize,
    target: Target,
    source: Source,
    mutation: Mutation,
    expected: impl Into<Expected>,
) -> Case {
    Case {
        name,
        description,
        after_event,
        target,
        config: None,
        source,
        mutation,
        expected: expected.into(),
    }
}

fn invalid_scenario() -> Scenario {
    let mut s = Scenario::new(
        "invalid_messages",
        "Invalid inputs, each fed to a state reached by the events before it, with the exact \
         error it must give. No invalid input changes the state it is fed to.",
    );
    s.setup(true);
    let bundle_event = 3;
    let m0 = s.send(0, Alice, "first");
    let before_inbound = s.last_event();
    s.deliver(m0);
    let after_inbound = s.last_event();
    let m1 = s.send(0, Bob, "reply");
    s.deliver(m1);
    let m2 = s.send(0, Alice, "target message");
    let established = s.last_event();
    let _m3 = s.send(0, Alice, "later 1");
    let _m4 = s.send(0, Alice, "later 2");
    let m5 = s.send(0, Alice, "later 3");
    let burst = s.last_event();
    // The conversation goes on: Bob replies on chain 3, Alice answers on chain 4, and Bob, who
    // now remembers only one past chain, receives it.
    s.deliver(m2);
    let m6 = s.send(0, Bob, "reply 2");
    s.deliver(m6);
    let m7 = s.send(0, Alice, "on chain 4");
    s.op(Op::SetConfig {
        party: Bob,
        session: 0,
        config: [
            DEFAULT_MAX_JUMP,
            DEFAULT_MAX_SKIPPED_KEYS,
            1,
            DEFAULT_SKIPPED_KEY_MAX_AGE,
        ],
    });
    s.deliver(m7);
    let forgot = s.last_event();
    let second_bundle = s.op(Op::TakeBundle(Bob));
    s.op(Op::CreateOutboundSession {
        party: Alice,
        bundle: 1,
    });
    let x0 = s.send(1, Alice, "another session");
    let other = s.last_event();

    let bob = Target::Session {
        party: Bob,
        session: 0,
    };
    let alice = Target::Session {
        party: Alice,
        session: 0,
    };
    let account = Target::Account(Bob);
    use Mutation as M;
    use Source::{Bundle as B, Message as Msg};
    let mut cases = vec![
        case(
            "truncated_in_header",
            "A ratchet message cut inside its encrypted header.",
            established,
            bob,
            Msg(m2),
            M::TruncateTo(40),
            DecryptError::Malformed(DecodeError::Truncated { needed: 30 }),
        ),
        case(
            "truncated_body",
            "A ratchet message missing its last byte: the header opens, the body does not.",
            established,
            bob,
            Msg(m2),
            M::DropLast,
            DecryptError::Tampered,
        ),
        case(
            "trailing_byte",
            "A ratchet message with one byte appended: the body (everything after the header) \
             no longer authenticates.",
            established,
            bob,
            Msg(m2),
            M::Append(0),
            DecryptError::Tampered,
        ),
        case(
            "unknown_version",
            "Version byte 2.",
            established,
            bob,
            Msg(m2),
            M::Set {
                offset: 0,
                value: 2,
            },
            DecryptError::Malformed(DecodeError::UnknownVersion(2)),
        ),
        case(
            "unknown_type",
            "Type byte 0x03.",
            established,
            bob,
            Msg(m2),
            M::Set {
                offset: 1,
                value: 3,
            },
            DecryptError::Malformed(DecodeError::UnknownType(0x03)),
        ),
        case(
            "bundle_as_message",
            "A prekey bundle fed to decrypt: type 0x10 is not a message type.",
            established,
            bob,
            B(0),
            M::Unchanged,
            DecryptError::Malformed(DecodeError::UnknownType(0x10)),
        ),
        case(
            "flipped_header_nonce_byte",
            "First byte of the header nonce flipped.",
            established,
            bob,
            Msg(m2),
            M::Xor {
                offset: 2,
                mask: 0x01,
            },
            DecryptError::Undecryptable,
        ),
        case(
            "flipped_header_byte",
            "First byte of the encrypted header flipped.",
            established,
            bob,
            Msg(m2),
            M::Xor {
                offset: 14,
                mask: 0x01,
            },
            DecryptError::Undecryptable,
        ),
        case(
            "flipped_header_tag_byte",
            "Last byte of the header's tag flipped.",
            established,
            bob,
            Msg(m2),
            M::Xor {
                offset: 69,
                mask: 0x80,
            },
            DecryptError::Undecryptable,
        ),
        case(
            "flipped_body_byte",
            "First byte of the body ciphertext flipped.",
            established,
            bob,
            Msg(m2),
            M::Xor {
                offset: 82,
                mask: 0x01,
            },
            DecryptError::Tampered,
        ),
        case(
            "flipped_body_tag_byte",
            "Last byte of the body tag flipped.",
            established,
            bob,
            Msg(m2),
            M::XorLast(0x01),
            DecryptError::Tampered,
        ),
        case(
            "replay_ratchet_message",
            "Bob's reply delivered to Alice a second time.",
            established,
            alice,
            Msg(m1),
            M::Unchanged,
            DecryptError::Duplicate { counter: 0 },
        ),
        case(
            "replay_prekey_message_on_session",
            "Alice's prekey message delivered to Bob's session a second time.",
            established,
            bob,
            Msg(m0),
            M::Unchanged,
            DecryptError::Duplicate { counter: 0 },
        ),
        case(
            "prekey_message_with_altered_field",
            "Alice's prekey message with a byte of its ML-KEM ciphertext flipped, fed to the \
             session it created: its fields no longer match the ones that created the session.",
            established,
            bob,
            Msg(m0),
            M::Xor {
                offset: 100,
                mask: 0x01,
            },
            DecryptError::Tampered,
        ),
        case(
            "bad_flag_byte_on_session",
            "Alice's prekey message with one_time_flag = 2.",
            established,
            bob,
            Msg(m0),
            M::Set {
                offset: 70,
                value: 2,
            },
            DecryptError::Malformed(DecodeError::InvalidField {
                field: "one_time_flag",
            }),
        ),
        case(
            "other_session_prekey_message",
            "A prekey message of Alice's second session (another base key) fed to Bob's first \
             session.",
            other,
            bob,
            Msg(x0),
            M::Unchanged,
            DecryptError::OtherSession,
        ),
        case(
            "other_session_ratchet_message",
            "The ratchet message embedded in a prekey message of Alice's second session, fed to \
             Bob's first session: no header key of that session opens it.",
            other,
            bob,
            Msg(x0),
            M::EmbeddedRatchetMessage,
            DecryptError::Undecryptable,
        ),
        case(
            "replay_prekey_message_on_account",
            "Alice's first prekey message fed to Bob's account again, after it created a \
             session: its one-time prekey is gone.",
            after_inbound,
            account,
            Msg(m0),
            M::Unchanged,
            HandshakeError::OneTimePreKeyReused(1),
        ),
        case(
            "bad_flag_byte_on_account",
            "Alice's prekey message with one_time_flag = 2, fed to Bob's account.",
            before_inbound,
            account,
            Msg(m0),
            M::Set {
                offset: 70,
                value: 2,
            },
            HandshakeError::Malformed(DecodeError::InvalidField {
                field: "one_time_flag",
            }),
        ),
        case(
            "unknown_signed_prekey",
            "Alice's prekey message naming signed prekey 7.",
            before_inbound,
            account,
            Msg(m0),
            M::Set {
                offset: 69,
                value: 7,
            },
            HandshakeError::UnknownSignedPreKey(7),
        ),
        case(
            "flipped_kem_ciphertext_on_account",
            "Alice's prekey message with a byte of its ML-KEM ciphertext flipped: decapsulation \
             gives an unrelated secret (implicit rejection), so the first message's header does \
             not open.",
            before_inbound,
            account,
            Msg(m0),
            M::Xor {
                offset: 100,
                mask: 0x01,
            },
            HandshakeError::FirstMessage(DecryptError::Undecryptable),
        ),
        case(
            "flipped_first_message_body_on_account",
            "A prekey message of Alice's second session with the last byte of its body tag \
             flipped, fed to Bob's account.",
            other,
            account,
            Msg(x0),
            M::XorLast(0x01),
            HandshakeError::FirstMessage(DecryptError::Tampered),
        ),
        case(
            "bundle_trailing_byte",
            "A bundle without a one-time prekey, with one byte appended.",
            second_bundle,
            Target::Bundle,
            B(1),
            M::Append(0),
            DecodeError::TrailingBytes { count: 1 },
        ),
        case(
            "bundle_too_large",
            "A bundle with a one-time prekey (the longest kind), with one byte appended: the \
             size check comes first.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Append(0),
            DecodeError::TooLarge {
                len: 1425,
                max: 1424,
            },
        ),
        case(
            "bundle_truncated",
            "A bundle missing its last byte.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::DropLast,
            DecodeError::Truncated { needed: 1 },
        ),
        case(
            "bundle_unknown_version",
            "A bundle with version byte 2.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Set {
                offset: 0,
                value: 2,
            },
            DecodeError::UnknownVersion(2),
        ),
        case(
            "bundle_bad_flag_byte",
            "A bundle with one_time_flag = 2.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Set {
                offset: 134,
                value: 2,
            },
            DecodeError::InvalidField {
                field: "one_time_flag",
            },
        ),
        case(
            "bundle_bad_kem_kind",
            "A bundle with kem_kind = 3.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Set {
                offset: 175,
                value: 3,
            },
            DecodeError::InvalidField { field: "kem_kind" },
        ),
        case(
            "bundle_small_order_identity",
            "A bundle whose identity key is the Ed25519 identity point (small order).",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Splice {
                offset: 2,
                bytes: [&[1u8][..], &[0u8; 31]].concat(),
            },
            DecodeError::InvalidField {
                field: "identity_key",
            },
        ),
        case(
            "bundle_bad_signed_prekey_signature",
            "A bundle with the first byte of the signed prekey's signature flipped.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Xor {
                offset: 70,
                mask: 0x01,
            },
            KeyError::InvalidSignature(SignedKeyKind::SignedPreKey),
        ),
        case(
            "bundle_bad_kem_prekey_signature",
            "A bundle with the first byte of the ML-KEM prekey's signature flipped.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Xor {
                offset: 176 + 1184,
                mask: 0x01,
            },
            KeyError::InvalidSignature(SignedKeyKind::KemPreKey),
        ),
    ];
    cases.extend([
        case(
            "flipped_session_tag_byte",
            "First byte of the session tag (masked epoch) flipped: the header opens, and the \
             body's associated data covers the tag.",
            established,
            bob,
            Msg(m2),
            M::Xor {
                offset: 70,
                mask: 0x01,
            },
            DecryptError::Tampered,
        ),
        case(
            "state_behind",
            "Bob's state from just after he accepted the session (an older copy) gets Alice's \
             message on her third chain (epoch 3): no header key of that state opens it, but the \
             session tag verifies and names a later epoch than the state reached.",
            after_inbound,
            bob,
            Msg(m7),
            M::Unchanged,
            DecryptError::StateBehind {
                their_epoch: 3,
                our_epoch: 1,
            },
        ),
        case(
            "state_behind_by_one_chain",
            "Bob's state from just after he accepted the session (an older copy, before he \
             replied) gets Alice's message on her second chain: its next-chain header key opens \
             the header, but Alice answers a ratchet key this state never sent.",
            after_inbound,
            bob,
            Msg(m2),
            M::Unchanged,
            DecryptError::StateBehind {
                their_epoch: 2,
                our_epoch: 1,
            },
        ),
        case(
            "chain_forgotten",
            "Alice's first message again, after Bob ratcheted twice while remembering only one \
             past chain: the session tag verifies, but the chain is no longer remembered.",
            forgot,
            bob,
            Msg(m0),
            M::Unchanged,
            DecryptError::ChainForgotten,
        ),
    ]);
    cases.push(Case {
        config: Some([2, 2_000, 10, 5]),
        ..case(
            "too_far_ahead",
            "Alice's fourth message on her second chain (counter 3) fed to Bob with max_jump = 2.",
            burst,
            bob,
            Msg(m5),
            M::Unchanged,
            DecryptError::TooFarAhead { gap: 3, max: 2 },
        )
    });
    cases.sort_by_key(|c| c.after_event);
    s.cases = cases;
    s
}

// ---------------------------------------------------------------------------------------------
// The reference model.

struct RefX25519 {
    id: u32,
    private: [u8; 32],
    public: [u8; 32],
    signature: Option<[u8; 64]>,
}

struct RefKem {
    id: u32,
    kind: u8,
    seed: [u8; 64],
    public: Vec<u8>,
    signature: [u8; 64],
}

struct RefAccount {
    identity_seed: [u8; 32],
    identity_key: [u8; 32],
    dh_private: [u8; 32],
    dh_public: [u8; 32],
    signed_prekey: RefX25519,
    last_resort_kem: RefKem,
    one_time: Vec<RefX25519>,
    one_time_kem: Vec<RefKem>,
    consumed: BTreeSet<(bool, u32)>,
    next_one_time_id: u32,
    next_kem_id: u32,
}

/// What the server holds for an account: ids of unused one-time keys, handed out newest first.
#[derive(Default)]
struct RefServer {
    one_time: Vec<u32>,
    one_time_kem: Vec<u32>,
}

struct RefBundle {
    party: Party,
    one_time_prekey_id: Option<u32>,
    kem_prekey_id: u32,
    kem_kind: u8,
    bytes: Vec<u8>,
}

struct RefChain {
    sender: Party,
    ratchet_private: [u8; 32],
    ratchet_public: [u8; 32],
    their_ratchet_public: [u8; 32],
    dh: [u8; 32],
    root_key_in: [u8; 32],
    root_key_out: [u8; 32],
    chain_key: [u8; 32],
    next_header_key: [u8; 32],
    header_key: [u8; 32],
    previous_chain_length: u32,
    /// The sender's epoch: how many sending chains it has started, this one included.
    epoch: u32,
    current_chain_key: [u8; 32],
    sent: u32,
}

/// One party's view of a session, enough to predict the library's behaviour.
#[derive(Default)]
struct View {
    own_chain: Option<usize>,
    newest_other: Option<usize>,
    received_any: bool,
    has_session: bool,
    delivered: BTreeSet<usize>,
    /// Per chain of the other party: how far this party has derived its keys.
    reached: BTreeMap<usize, u32>,
    delivered_on: BTreeMap<usize, u32>,
}

impl View {
    fn stored_keys(&self) -> usize {
        self.reached
            .iter()
            .map(|(c, r)| {
                usize::try_from(r - self.delivered_on.get(c).copied().unwrap_or(0)).unwrap()
            })
            .sum()
    }
}

struct RefSession {
    initiator: Party,
    responder: Party,
    bundle: usize,
    base_private: [u8; 32],
    base_public: [u8; 32],
    kem_m: [u8; 32],
    kem_ciphertext: Vec<u8>,
    kem_shared_secret: [u8; 32],
    dh: Vec<[u8; 32]>,
    ikm: Vec<u8>,
    info: Vec<u8>,
    okm: Vec<u8>,
    root_key: [u8; 32],
    initiator_header_key: [u8; 32],
    responder_header_key: [u8; 32],
    session_id: [u8; 32],
    tag_key: [u8; 32],
    ad: [u8; 64],
    /// The prekey-message fields before the ratchet message.
    prekey_fields: Vec<u8>,
    responder_signed_prekey: [u8; 32],
    chains: Vec<RefChain>,
    views: [View; 2],
}

struct RefMessage {
    session: usize,
    sender: Party,
    chain: usize,
    counter: u32,
    previous_chain_length: u32,
    plaintext: Vec<u8>,
    prekey: bool,
    chain_key: [u8; 32],
    message_key: [u8; 32],
    next_chain_key: [u8; 32],
    header_key: [u8; 32],
    header_nonce: [u8; 12],
    header_plaintext: Vec<u8>,
    header_ad: Vec<u8>,
    encrypted_header: Vec<u8>,
    epoch: u32,
    session_tag: Vec<u8>,
    body_ad: Vec<u8>,
    body: Vec<u8>,
    ratchet_message: Vec<u8>,
    wire: Vec<u8>,
}

struct RefDraw {
    purpose: String,
    offset: usize,
    length: usize,
}

/// What the reference expects from a delivery: the plaintext, or the error in its JSON
/// encoding (SPEC.md §8.4), written here by hand.
struct RefDelivery {
    inbound: bool,
    result: Result<Vec<u8>, Value>,
    stored_after: usize,
}

struct Reference {
    tape: Vec<u8>,
    pos: usize,
    draws: Vec<RefDraw>,
    accounts: [Option<RefAccount>; 2],
    servers: [RefServer; 2],
    bundles: Vec<RefBundle>,
    sessions: Vec<RefSession>,
    messages: Vec<RefMessage>,
}

impl Reference {
    fn new(tape: Vec<u8>) -> Self {
        Reference {
            tape,
            pos: 0,
            draws: Vec::new(),
            accounts: [None, None],
            servers: [RefServer::default(), RefServer::default()],
            bundles: Vec::new(),
            sessions: Vec::new(),
            messages: Vec::new(),
        }
    }

    fn draw<const N: usize>(&mut self, purpose: String) -> [u8; N] {
        let out: [u8; N] = arr(&self.tape[self.pos..self.pos + N]);
        self.draws.push(RefDraw {
            purpose,
            offset: self.pos,
            length: N,
        });
        self.pos += N;
        out
    }

    fn account(&self, party: Party) -> &RefAccount {
        self.accounts[party.idx()].as_ref().unwrap()
    }

    fn upload(&mut self, party: Party) {
        let acct = self.account(party);
        let one_time = acct
            .one_time
            .iter()
            .filter(|k| !acct.consumed.contains(&(false, k.id)))
            .map(|k| k.id)
            .collect();
        let one_time_kem = acct
            .one_time_kem
            .iter()
            .filter(|k| !acct.consumed.contains(&(true, k.id)))
            .map(|k| k.id)
            .collect();
        self.servers[party.idx()] = RefServer {
            one_time,
            one_time_kem,
        };
    }

    fn kem_key(&mut self, party: Party, id: u32, kind: u8, identity_seed: &[u8; 32]) -> RefKem {
        let what = if kind == KEM_KIND_ONE_TIME {
            "one_time_kem_prekey"
        } else {
            "last_resort_kem_prekey"
        };
        let seed: [u8; 64] = self.draw(format!("{}.{what}[{id}].seed", party.name()));
        let public = kem_public(&seed);
        let signature = ed25519_sign(identity_seed, &kem_prekey_message(id, kind, &public));
        RefKem {
            id,
            kind,
            seed,
            public,
            signature,
        }
    }

    fn apply(&mut self, op: &Op) -> Option<RefDelivery> {
        match op {
            Op::CreateAccount(party) => {
                let p = *party;
                let identity_seed: [u8; 32] = self.draw(format!("{}.identity_seed", p.name()));
                let (identity_key, dh_private, dh_public) = identity_keys(&identity_seed);
                let private: [u8; 32] = self.draw(format!("{}.signed_prekey[1].private", p.name()));
                let public = x25519_public(&private);
                let signed_prekey = RefX25519 {
                    id: 1,
                    private,
                    public,
                    signature: Some(ed25519_sign(
                        &identity_seed,
                        &signed_prekey_message(1, &public),
                    )),
                };
                let last_resort_kem = self.kem_key(p, 1, KEM_KIND_LAST_RESORT, &identity_seed);
                self.accounts[p.idx()] = Some(RefAccount {
                    identity_seed,
                    identity_key,
                    dh_private,
                    dh_public,
                    signed_prekey,
                    last_resort_kem,
                    one_time: Vec::new(),
                    one_time_kem: Vec::new(),
                    consumed: BTreeSet::new(),
                    next_one_time_id: 1,
                    next_kem_id: 2,
                });
                self.upload(p);
                None
            }
            Op::GenerateOneTimePreKeys { party, x25519, kem } => {
                let p = *party;
                for _ in 0..*x25519 {
                    let id = self.account(p).next_one_time_id;
                    let private: [u8; 32] =
                        self.draw(format!("{}.one_time_prekey[{id}].private", p.name()));
                    let key = RefX25519 {
                        id,
                        private,
                        public: x25519_public(&private),
                        signature: None,
                    };
                    let acct = self.accounts[p.idx()].as_mut().unwrap();
                    acct.one_time.push(key);
                    acct.next_one_time_id += 1;
                }
                for _ in 0..*kem {
                    let (id, seed) = {
                        let acct = self.account(p);
                        (acct.next_kem_id, acct.identity_seed)
                    };
                    let key = self.kem_key(p, id, KEM_KIND_ONE_TIME, &seed);
                    let acct = self.accounts[p.idx()].as_mut().unwrap();
                    acct.one_time_kem.push(key);
                    acct.next_kem_id += 1;
                }
                self.upload(p);
                None
            }
            Op::TakeBundle(party) => {
                let p = *party;
                let server = &mut self.servers[p.idx()];
                let otk = server.one_time.pop();
                let kem_id = server.one_time_kem.pop();
                let acct = self.account(p);
                let kem = match kem_id {
                    Some(id) => acct.one_time_kem.iter().find(|k| k.id == id).unwrap(),
                    None => &acct.last_resort_kem,
                };
                let spk = &acct.signed_prekey;
                let mut bytes = vec![VERSION, TYPE_BUNDLE];
                bytes.extend_from_slice(&acct.identity_key);
                bytes.extend_from_slice(&spk.id.to_be_bytes());
                bytes.extend_from_slice(&spk.public);
                bytes.extend_from_slice(&spk.signature.unwrap());
                match otk {
                    Some(id) => {
                        let k = acct.one_time.iter().find(|k| k.id == id).unwrap();
                        bytes.push(1);
                        bytes.extend_from_slice(&id.to_be_bytes());
                        bytes.extend_from_slice(&k.public);
                    }
                    None => bytes.push(0),
                }
                bytes.extend_from_slice(&kem.id.to_be_bytes());
                bytes.push(kem.kind);
                bytes.extend_from_slice(&kem.public);
                bytes.extend_from_slice(&kem.signature);
                self.bundles.push(RefBundle {
                    party: p,
                    one_time_prekey_id: otk,
                    kem_prekey_id: kem.id,
                    kem_kind: kem.kind,
                    bytes,
                });
                None
            }
            Op::CreateOutboundSession { party, bundle } => {
                self.create_outbound(*party, *bundle);
                None
            }
            Op::Encrypt {
                session,
                party,
                plaintext,
            } => {
                self.encrypt(*session, *party, plaintext.as_bytes());
                None
            }
            Op::Deliver { message } => Some(self.deliver(*message)),
            // Limits are local policy; the scenarios that lower them store no skipped keys.
            Op::SetConfig { .. } => None,
        }
    }

    fn create_outbound(&mut self, initiator: Party, bundle_index: usize) {
        let index = self.sessions.len();
        let bundle = &self.bundles[bundle_index];
        let responder = bundle.party;
        assert_eq!(responder, initiator.other());
        let (otk_id, kem_id, kem_kind) = (
            bundle.one_time_prekey_id,
            bundle.kem_prekey_id,
            bundle.kem_kind,
        );
        let base_private: [u8; 32] =
            self.draw(format!("session{index}.{}.base_key", initiator.name()));
        let kem_m: [u8; 32] = self.draw(format!("session{index}.kem_encaps_m"));

        let me = self.account(initiator);
        let them = self.account(responder);
        let base_public = x25519_public(&base_private);
        let spk = them.signed_prekey.public;
        let otk = otk_id.map(|id| them.one_time.iter().find(|k| k.id == id).unwrap().public);
        let kem_public = if kem_kind == KEM_KIND_ONE_TIME {
            &them
                .one_time_kem
                .iter()
                .find(|k| k.id == kem_id)
                .unwrap()
                .public
        } else {
            &them.last_resort_kem.public
        };
        let (kem_ciphertext, kem_shared_secret) = kem_encapsulate(kem_public, &kem_m);

        // SPEC.md §4.2, initiator side.
        let mut dh = vec![
            x25519_dh(&me.dh_private, &spk),
            x25519_dh(&base_private, &them.dh_public),
            x25519_dh(&base_private, &spk),
        ];
        if let Some(otk) = &otk {
            dh.push(x25519_dh(&base_private, otk));
        }
        let mut ikm = vec![0xffu8; 32];
        for d in &dh {
            ikm.extend_from_slice(d);
        }
        ikm.extend_from_slice(&kem_shared_secret);
        let mut info = LABEL_PQXDH.to_vec();
        info.extend_from_slice(&me.identity_key);
        info.extend_from_slice(&them.identity_key);
        info.extend_from_slice(&base_public);
        info.extend_from_slice(&spk);
        match &otk {
            Some(k) => {
                info.push(1);
                info.extend_from_slice(k);
            }
            None => info.push(0),
        }
        info.extend_from_slice(&sha256(kem_public));
        info.extend_from_slice(&sha256(&kem_ciphertext));
        let okm = hkdf_sha256(&[0u8; 32], &ikm, &info, 160);

        let mut ad = [0u8; 64];
        ad[..32].copy_from_slice(&me.identity_key);
        ad[32..].copy_from_slice(&them.identity_key);

        let mut prekey_fields = vec![VERSION, TYPE_PREKEY];
        prekey_fields.extend_from_slice(&me.identity_key);
        prekey_fields.extend_from_slice(&base_public);
        prekey_fields.extend_from_slice(&them.signed_prekey.id.to_be_bytes());
        match otk_id {
            Some(id) => {
                prekey_fields.push(1);
                prekey_fields.extend_from_slice(&id.to_be_bytes());
            }
            None => prekey_fields.push(0),
        }
        prekey_fields.extend_from_slice(&kem_id.to_be_bytes());
        prekey_fields.extend_from_slice(&kem_ciphertext);

        let mut views = [View::default(), View::default()];
        views[initiator.idx()].has_session = true;
        self.sessions.push(RefSession {
            initiator,
            responder,
            bundle: bundle_index,
            base_private,
            base_public,
            kem_m,
            kem_ciphertext,
            kem_shared_secret,
            dh,
            root_key: arr(&okm[..32]),
            initiator_header_key: arr(&okm[32..64]),
            responder_header_key: arr(&okm[64..96]),
            session_id: arr(&okm[96..128]),
            tag_key: arr(&okm[128..]),
            ikm,
            info,
            okm,
            ad,
            prekey_fields,
            responder_signed_prekey: spk,
            chains: Vec::new(),
            views,
        });
        // The initiator's first sending chain (SPEC.md §5.2).
        self.new_chain(index, initiator);
    }

    /// Draws a ratchet key and performs the root step that starts the next chain of `sender`.
    fn new_chain(&mut self, s: usize, sender: Party) {
        let g = self.sessions[s].chains.len();
        let ratchet_private: [u8; 32] = self.draw(format!(
            "session{s}.{}.ratchet_key[chain {g}]",
            sender.name()
        ));
        let session = &mut self.sessions[s];
        assert_eq!(
            sender,
            if g.is_multiple_of(2) {
                session.initiator
            } else {
                session.responder
            },
            "chains alternate between the parties"
        );
        let (their_ratchet_public, root_key_in, header_key) = match g {
            0 => (
                session.responder_signed_prekey,
                session.root_key,
                session.initiator_header_key,
            ),
            1 => (
                session.chains[0].ratchet_public,
                session.chains[0].root_key_out,
                session.responder_header_key,
            ),
            _ => (
                session.chains[g - 1].ratchet_public,
                session.chains[g - 1].root_key_out,
                session.chains[g - 2].next_header_key,
            ),
        };
        let dh = x25519_dh(&ratchet_private, &their_ratchet_public);
        let (root_key_out, chain_key, next_header_key) = root_step(&root_key_in, &dh);
        let view = &mut session.views[sender.idx()];
        let previous_chain_length = view.own_chain.map_or(0, |c| session.chains[c].sent);
        let epoch = view.own_chain.map_or(1, |c| session.chains[c].epoch + 1);
        view.own_chain = Some(g);
        session.chains.push(RefChain {
            sender,
            ratchet_private,
            ratchet_public: x25519_public(&ratchet_private),
            their_ratchet_public,
            dh,
            root_key_in,
            root_key_out,
            chain_key,
            next_header_key,
            header_key,
            previous_chain_length,
            epoch,
            current_chain_key: chain_key,
            sent: 0,
        });
    }

    fn encrypt(&mut self, s: usize, sender: Party, plaintext: &[u8]) {
        let view = &self.sessions[s].views[sender.idx()];
        assert!(view.has_session);
        // A party starts a new chain when it has received the other party's newest chain.
        let needs_chain = match (view.own_chain, view.newest_other) {
            (None, _) => true,
            (Some(own), Some(other)) => other > own,
            (Some(_), None) => false,
        };
        if needs_chain {
            self.new_chain(s, sender);
        }
        let index = self.messages.len();
        let header_nonce: [u8; 12] = self.draw(format!("session{s}.header_nonce[message {index}]"));
        let session = &mut self.sessions[s];
        let g = session.views[sender.idx()].own_chain.unwrap();
        let prekey = sender == session.initiator && !session.views[sender.idx()].received_any;
        let chain = &mut session.chains[g];
        let counter = chain.sent;
        let chain_key = chain.current_chain_key;
        let (next_chain_key, message_key) = chain_step(&chain_key);
        chain.current_chain_key = next_chain_key;
        chain.sent += 1;

        // SPEC.md §5.4 / §6.2.
        let mut header_plaintext = chain.ratchet_public.to_vec();
        header_plaintext.extend_from_slice(&chain.previous_chain_length.to_be_bytes());
        header_plaintext.extend_from_slice(&counter.to_be_bytes());
        let header_ad = [&[VERSION, TYPE_RATCHET][..], &session.ad].concat();
        let encrypted_header = aead_seal(
            &chain.header_key,
            &header_nonce,
            &header_ad,
            &header_plaintext,
        );
        let role = if sender == session.initiator { 1 } else { 2 };
        let session_tag = session_tag(
            &session.tag_key,
            role,
            &header_nonce,
            &encrypted_header,
            chain.epoch,
        );
        let prefix = [
            &[VERSION, TYPE_RATCHET][..],
            &header_nonce,
            &encrypted_header,
            &session_tag,
        ]
        .concat();
        let body_ad = [&session.ad[..], &prefix].concat();
        let body = aead_seal(&message_key, &header_nonce, &body_ad, plaintext);
        let ratchet_message = [prefix, body.clone()].concat();
        let wire = if prekey {
            [session.prekey_fields.clone(), ratchet_message.clone()].concat()
        } else {
            ratchet_message.clone()
        };
        self.messages.push(RefMessage {
            session: s,
            sender,
            chain: g,
            counter,
            previous_chain_length: chain.previous_chain_length,
            plaintext: plaintext.to_vec(),
            prekey,
            chain_key,
            message_key,
            next_chain_key,
            header_key: chain.header_key,
            header_nonce,
            header_plaintext,
            header_ad,
            encrypted_header,
            epoch: chain.epoch,
            session_tag,
            body_ad,
            body,
            ratchet_message,
            wire,
        });
    }

    fn deliver(&mut self, index: usize) -> RefDelivery {
        let (s, receiver) = {
            let m = &self.messages[index];
            (m.session, m.sender.other())
        };
        let inbound = !self.sessions[s].views[receiver.idx()].has_session;
        if inbound {
            self.respond(s);
        }
        let m = &self.messages[index];
        let view = &mut self.sessions[s].views[receiver.idx()];
        let result = if view.delivered.contains(&index) {
            Err(json!({
                "code": "decrypt.duplicate",
                "kind": "replay",
                "fields": { "counter": m.counter },
            }))
        } else {
            if view.newest_other.is_none_or(|n| m.chain > n) {
                // A new chain of the sender: the receiver finishes the sender's previous chain
                // up to the length the header announces.
                if m.chain >= 2 {
                    let r = view.reached.entry(m.chain - 2).or_default();
                    *r = (*r).max(m.previous_chain_length);
                }
                view.newest_other = Some(m.chain);
            }
            let r = view.reached.entry(m.chain).or_default();
            *r = (*r).max(m.counter + 1);
            *view.delivered_on.entry(m.chain).or_default() += 1;
            view.delivered.insert(index);
            view.received_any = true;
            Ok(m.plaintext.clone())
        };
        RefDelivery {
            inbound,
            result,
            stored_after: view.stored_keys(),
        }
    }

    /// The responder's side of the key agreement, from its own secrets: must agree with the
    /// initiator's.
    fn respond(&mut self, s: usize) {
        let session = &self.sessions[s];
        let bundle = &self.bundles[session.bundle];
        let me = self.account(session.responder);
        let them = self.account(session.initiator);
        let spk = &me.signed_prekey;
        let base = session.base_public;
        let mut dh = vec![
            x25519_dh(&spk.private, &them.dh_public),
            x25519_dh(&me.dh_private, &base),
            x25519_dh(&spk.private, &base),
        ];
        if let Some(id) = bundle.one_time_prekey_id {
            let otk = me.one_time.iter().find(|k| k.id == id).unwrap();
            dh.push(x25519_dh(&otk.private, &base));
        }
        let kem_seed = if bundle.kem_kind == KEM_KIND_ONE_TIME {
            me.one_time_kem
                .iter()
                .find(|k| k.id == bundle.kem_prekey_id)
                .unwrap()
                .seed
        } else {
            me.last_resort_kem.seed
        };
        assert_eq!(dh, session.dh, "responder and initiator DH outputs differ");
        assert_eq!(
            kem_decapsulate(&kem_seed, &session.kem_ciphertext),
            session.kem_shared_secret,
            "ML-KEM decapsulation disagrees with encapsulation"
        );
        let (otk, kem_id, kem_kind) = (
            bundle.one_time_prekey_id,
            bundle.kem_prekey_id,
            bundle.kem_kind,
        );
        let responder = session.responder;
        let acct = self.accounts[responder.idx()].as_mut().unwrap();
        if let Some(id) = otk {
            acct.consumed.insert((false, id));
        }
        if kem_kind == KEM_KIND_ONE_TIME {
            acct.consumed.insert((true, kem_id));
        }
        self.sessions[s].views[responder.idx()].has_session = true;
    }
}

// ---------------------------------------------------------------------------------------------
// The library side.

struct Library {
    rng: TapeRng,
    accounts: [Option<Account>; 2],
    servers: [Option<PublishedPreKeys>; 2],
    bundles: Vec<PreKeyBundle>,
    sessions: Vec<[Option<Session>; 2]>,
    messages: Vec<(usize, Party, Vec<u8>)>,
    /// Accounts and sessions after each event, for the invalid inputs.
    snapshots: Vec<Snapshot>,
}

type Snapshot = ([Option<Account>; 2], Vec<[Option<Session>; 2]>);

struct LibDelivery {
    result: Result<Vec<u8>, Value>,
    events: Vec<Value>,
    stored_after: usize,
    session_id: [u8; 32],
}

impl Library {
    fn account(&mut self, party: Party) -> &mut Account {
        self.accounts[party.idx()].as_mut().unwrap()
    }

    fn apply(&mut self, op: &Op) -> Option<LibDelivery> {
        match op {
            Op::CreateAccount(p) => {
                let acct = Account::new(NOW, &mut self.rng);
                self.servers[p.idx()] = Some(acct.published_prekeys());
                self.accounts[p.idx()] = Some(acct);
            }
            Op::GenerateOneTimePreKeys { party, x25519, kem } => {
                let acct = self.accounts[party.idx()].as_mut().unwrap();
                acct.generate_one_time_prekeys(*x25519, *kem, NOW, &mut self.rng)
                    .unwrap();
                self.servers[party.idx()] = Some(acct.published_prekeys());
            }
            Op::TakeBundle(p) => {
                let bundle = self.servers[p.idx()].as_mut().unwrap().take_bundle();
                self.bundles.push(bundle);
            }
            Op::CreateOutboundSession { party, bundle } => {
                let acct = self.accounts[party.idx()].as_ref().unwrap();
                let session = acct
                    .create_outbound_session(&self.bundles[*bundle], &mut self.rng)
                    .unwrap();
                let mut slots = [None, None];
                slots[party.idx()] = Some(session);
                self.sessions.push(slots);
            }
            Op::Encrypt {
                session,
                party,
                plaintext,
            } => {
                let wire = self.sessions[*session][party.idx()]
                    .as_mut()
                    .unwrap()
                    .encrypt(plaintext.as_bytes(), &mut self.rng)
                    .unwrap();
                self.messages.push((*session, *party, wire));
            }
            Op::Deliver { message } => {
                let (s, sender, wire) = self.messages[*message].clone();
                let receiver = sender.other();
                let delivery = match self.sessions[s][receiver.idx()].as_mut() {
                    Some(session) => {
                        let result = session.decrypt(&wire);
                        let (result, events) = match result {
                            Ok(d) => (Ok(d.plaintext), events_json(&d.events)),
                            Err(e) => (Err(error_json(e)), Vec::new()),
                        };
                        LibDelivery {
                            result,
                            events,
                            stored_after: session.stored_skipped_keys(),
                            session_id: *session.session_id().as_bytes(),
                        }
                    }
                    None => {
                        let inbound = self
                            .account(receiver)
                            .create_inbound_session(&wire, NOW)
                            .unwrap();
                        let delivery = LibDelivery {
                            result: Ok(inbound.plaintext),
                            events: events_json(&inbound.events),
                            stored_after: inbound.session.stored_skipped_keys(),
                            session_id: *inbound.session.session_id().as_bytes(),
                        };
                        self.sessions[s][receiver.idx()] = Some(inbound.session);
                        delivery
                    }
                };
                return Some(delivery);
            }
            Op::SetConfig {
                party,
                session,
                config: [a, b, c, d],
            } => {
                self.sessions[*session][party.idx()]
                    .as_mut()
                    .unwrap()
                    .set_config(RatchetConfig::new(*a, *b, *c, *d).unwrap());
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The JSON files. Field order here is the order in the files; LAYOUT.md describes each field.

#[derive(Serialize)]
struct VectorFile {
    vector: &'static str,
    description: &'static str,
    protocol: &'static str,
    wire_version: u8,
    now_unix_secs: u64,
    tape: TapeJson,
    accounts: Vec<AccountJson>,
    bundles: Vec<BundleJson>,
    sessions: Vec<SessionJson>,
    messages: Vec<MessageJson>,
    events: Vec<EventJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    invalid_inputs: Vec<CaseJson>,
}

#[derive(Serialize)]
struct TapeJson {
    generation: &'static str,
    seed: String,
    length: usize,
    bytes: String,
    draws: Vec<DrawJson>,
}

#[derive(Serialize)]
struct DrawJson {
    index: usize,
    purpose: String,
    offset: usize,
    length: usize,
    value: String,
}

#[derive(Serialize)]
struct AccountJson {
    party: &'static str,
    identity_seed: String,
    identity_key: String,
    identity_dh_private: String,
    identity_dh_public: String,
    signed_prekey: SignedPreKeyJson,
    last_resort_kem_prekey: KemPreKeyJson,
    one_time_prekeys: Vec<OneTimePreKeyJson>,
    one_time_kem_prekeys: Vec<KemPreKeyJson>,
}

#[derive(Serialize)]
struct SignedPreKeyJson {
    id: u32,
    private: String,
    public: String,
    signature: String,
}

#[derive(Serialize)]
struct OneTimePreKeyJson {
    id: u32,
    private: String,
    public: String,
}

#[derive(Serialize)]
struct KemPreKeyJson {
    id: u32,
    kind: &'static str,
    seed: String,
    public: String,
    signature: String,
}

#[derive(Serialize)]
struct BundleJson {
    index: usize,
    party: &'static str,
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    kem_prekey_id: u32,
    kem_prekey_kind: &'static str,
    bytes: String,
}

#[derive(Serialize)]
struct SessionJson {
    index: usize,
    initiator: &'static str,
    responder: &'static str,
    bundle: usize,
    base_key_private: String,
    base_key_public: String,
    kem_encaps_m: String,
    kem_ciphertext: String,
    kem_shared_secret: String,
    dh1: String,
    dh2: String,
    dh3: String,
    dh4: Option<String>,
    ikm: String,
    info: String,
    okm: String,
    root_key: String,
    initiator_header_key: String,
    responder_header_key: String,
    session_id: String,
    session_tag_key: String,
    associated_data: String,
    chains: Vec<ChainJson>,
}

#[derive(Serialize)]
struct ChainJson {
    index: usize,
    sender: &'static str,
    ratchet_private: String,
    ratchet_public: String,
    their_ratchet_public: String,
    dh: String,
    root_key_in: String,
    root_key_out: String,
    chain_key: String,
    next_header_key: String,
    header_key: String,
    previous_chain_length: u32,
    epoch: u32,
    messages: u32,
}

#[derive(Serialize)]
struct MessageJson {
    index: usize,
    session: usize,
    sender: &'static str,
    recipient: &'static str,
    chain: usize,
    counter: u32,
    previous_chain_length: u32,
    kind: &'static str,
    plaintext: String,
    plaintext_utf8: String,
    chain_key: String,
    message_key: String,
    next_chain_key: String,
    header_key: String,
    header_nonce: String,
    header_plaintext: String,
    header_ad: String,
    encrypted_header: String,
    epoch: u32,
    session_tag: String,
    body_ad: String,
    body: String,
    ratchet_message: String,
    wire: String,
}

#[derive(Serialize)]
struct EventJson {
    index: usize,
    op: &'static str,
    party: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    x25519: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kem: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<ConfigJson>,
    draws: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    library_events: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stored_skipped_keys: Option<usize>,
}

#[derive(Serialize)]
struct ConfigJson {
    max_jump: u32,
    max_skipped_keys: u32,
    max_receiving_chains: u32,
    skipped_key_max_age: u32,
}

#[derive(Serialize)]
struct CaseJson {
    index: usize,
    name: &'static str,
    description: &'static str,
    target: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    party: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<usize>,
    after_event: usize,
    config: Option<ConfigJson>,
    source: String,
    mutation: String,
    input: String,
    error: Value,
}

// ---------------------------------------------------------------------------------------------
// Running a scenario.

fn mutate(bytes: &[u8], mutation: &Mutation, reference: &Reference, source: Source) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match mutation {
        Mutation::Unchanged => {}
        Mutation::TruncateTo(n) => out.truncate(*n),
        Mutation::DropLast => {
            out.pop();
        }
        Mutation::Append(b) => out.push(*b),
        Mutation::Set { offset, value } => out[*offset] = *value,
        Mutation::Xor { offset, mask } => out[*offset] ^= *mask,
        Mutation::XorLast(mask) => *out.last_mut().unwrap() ^= *mask,
        Mutation::Splice { offset, bytes } => {
            out[*offset..*offset + bytes.len()].copy_from_slice(bytes);
        }
        Mutation::EmbeddedRatchetMessage => {
            let Source::Message(i) = source else {
                panic!("only messages embed ratchet messages")
            };
            let m = &reference.messages[i];
            assert!(m.prekey);
            out = m.ratchet_message.clone();
            assert!(bytes.ends_with(&out));
        }
    }
    out
}

/// Feeds one invalid input to a copy of its target state; checks the error and that the state
/// did not change.
fn run_case(
    case: &Case,
    accounts: &[Option<Account>; 2],
    sessions: &[[Option<Session>; 2]],
    input: &[u8],
) {
    let got: Expected = match case.target {
        Target::Session { party, session } => {
            let mut state = sessions[session][party.idx()].clone().unwrap();
            if let Some([a, b, c, d]) = case.config {
                state.set_config(RatchetConfig::new(a, b, c, d).unwrap());
            }
            let before = state.clone();
            let err = state
                .decrypt(input)
                .expect_err("invalid input was accepted");
            assert_eq!(
                state, before,
                "{}: a failed decrypt changed the session",
                case.name
            );
            err.into()
        }
        Target::Account(party) => {
            let mut state = accounts[party.idx()].clone().unwrap();
            let counts = state.one_time_prekey_counts();
            let err = state
                .create_inbound_session(input, NOW)
                .expect_err("invalid input was accepted");
            assert_eq!(state.one_time_prekey_counts(), counts);
            err.into()
        }
        Target::Bundle => match PreKeyBundle::from_bytes(input) {
            Err(err) => err.into(),
            Ok(bundle) => bundle
                .verify()
                .expect_err("invalid bundle was accepted")
                .into(),
        },
    };
    assert_eq!(
        got, case.expected,
        "invalid input `{}` gave an unexpected error",
        case.name
    );
}

/// Checks a library message against the reference: identical bytes, and the reference keys
/// open the library's header and body.
fn check_message(lib_wire: &[u8], m: &RefMessage, s: &RefSession, index: usize) {
    let (ad, tag_key) = (&s.ad, &s.tag_key);
    assert_eq!(
        hx(lib_wire),
        hx(&m.wire),
        "message {index}: library bytes differ from the reference"
    );
    let ratchet = &lib_wire[lib_wire.len() - m.ratchet_message.len()..];
    assert_eq!(
        ratchet.len() - m.plaintext.len(),
        hushwire::RATCHET_MESSAGE_OVERHEAD
    );
    assert_eq!(&ratchet[..2], &[VERSION, TYPE_RATCHET]);
    let nonce: [u8; 12] = arr(&ratchet[2..14]);
    let header_ad = [&[VERSION, TYPE_RATCHET][..], ad].concat();
    let header = aead_open(&m.header_key, &nonce, &header_ad, &ratchet[14..70])
        .unwrap_or_else(|| panic!("message {index}: the reference header key does not open it"));
    assert_eq!(header, m.header_plaintext);
    assert_eq!(
        session_tag(
            tag_key,
            if m.sender == s.initiator { 1 } else { 2 },
            &nonce,
            &ratchet[14..70],
            m.epoch
        ),
        &ratchet[70..82],
        "message {index}: session tag"
    );
    let body_ad = [&ad[..], &ratchet[..82]].concat();
    let body = aead_open(&m.message_key, &nonce, &body_ad, &ratchet[82..])
        .unwrap_or_else(|| panic!("message {index}: the reference message key does not open it"));
    assert_eq!(body, m.plaintext);
    if m.prekey {
        assert_eq!(&lib_wire[..2], &[VERSION, TYPE_PREKEY]);
        let kem_ciphertext_end = lib_wire.len() - ratchet.len();
        let otk_len = if lib_wire[70] == 1 { 4 } else { 0 };
        assert_eq!(
            kem_ciphertext_end,
            2 + 32 + 32 + 4 + 1 + otk_len + 4 + KEM_CIPHERTEXT_LEN
        );
    }
}

fn build(scenario: &Scenario) -> String {
    let seed = format!("hushwire/v1/test-vectors/{}", scenario.file);
    let stream = tape_stream(&seed, TAPE_MAX);
    let mut lib = Library {
        rng: TapeRng::new(stream.clone()),
        accounts: [None, None],
        servers: [None, None],
        bundles: Vec::new(),
        sessions: Vec::new(),
        messages: Vec::new(),
        snapshots: Vec::new(),
    };
    let mut reference = Reference::new(stream);
    let mut events = Vec::new();
    let mut cases = Vec::new();

    for (index, op) in scenario.ops.iter().enumerate() {
        let first_draw = reference.draws.len();
        let lib_delivery = lib.apply(op);
        let ref_delivery = reference.apply(op);
        let lib_draws = &lib.rng.draws[first_draw..];
        let ref_draws: Vec<(usize, usize)> = reference.draws[first_draw..]
            .iter()
            .map(|d| (d.offset, d.length))
            .collect();
        assert_eq!(
            lib_draws,
            &ref_draws[..],
            "event {index} ({op:?}): the library drew randomness in another order than the \
             reference expects"
        );
        let draws: Vec<usize> = (first_draw..reference.draws.len()).collect();
        let mut event = EventJson {
            index,
            op: "",
            party: "",
            x25519: None,
            kem: None,
            bundle: None,
            session: None,
            message: None,
            config: None,
            draws,
            plaintext: None,
            error: None,
            library_events: None,
            stored_skipped_keys: None,
        };
        match op {
            Op::CreateAccount(p) => {
                event.op = "create_account";
                event.party = p.name();
                let lib_acct = lib.accounts[p.idx()].as_ref().unwrap();
                let r = reference.account(*p);
                assert_eq!(lib_acct.identity_key().as_bytes(), &r.identity_key);
                let published = lib_acct.published_prekeys();
                assert_eq!(published.signed_prekey.key, r.signed_prekey.public);
                assert_eq!(
                    published.signed_prekey.signature,
                    r.signed_prekey.signature.unwrap()
                );
                assert_eq!(
                    published.last_resort_kem_prekey.key.as_slice(),
                    &r.last_resort_kem.public[..]
                );
                assert_eq!(
                    published.last_resort_kem_prekey.signature,
                    r.last_resort_kem.signature
                );
            }
            Op::GenerateOneTimePreKeys { party, x25519, kem } => {
                event.op = "generate_one_time_prekeys";
                event.party = party.name();
                event.x25519 = Some(*x25519);
                event.kem = Some(*kem);
                let published = lib.accounts[party.idx()]
                    .as_ref()
                    .unwrap()
                    .published_prekeys();
                let r = reference.account(*party);
                let lib_otk: Vec<_> = published
                    .one_time_prekeys
                    .iter()
                    .map(|k| (k.id, k.key))
                    .collect();
                let ref_otk: Vec<_> = r.one_time.iter().map(|k| (k.id, k.public)).collect();
                assert_eq!(lib_otk, ref_otk);
                let lib_kem: Vec<_> = published
                    .one_time_kem_prekeys
                    .iter()
                    .map(|k| (k.id, k.key.to_vec(), k.signature))
                    .collect();
                let ref_kem: Vec<_> = r
                    .one_time_kem
                    .iter()
                    .map(|k| (k.id, k.public.clone(), k.signature))
                    .collect();
                assert_eq!(lib_kem, ref_kem);
            }
            Op::TakeBundle(p) => {
                event.op = "take_bundle";
                event.party = p.name();
                let b = lib.bundles.len() - 1;
                event.bundle = Some(b);
                let bytes = &reference.bundles[b].bytes;
                assert_eq!(
                    hx(&lib.bundles[b].to_bytes()),
                    hx(bytes),
                    "bundle {b} differs"
                );
                assert_eq!(PreKeyBundle::from_bytes(bytes).unwrap(), lib.bundles[b]);
                lib.bundles[b].verify().unwrap();
            }
            Op::CreateOutboundSession { party, bundle } => {
                event.op = "create_outbound_session";
                event.party = party.name();
                event.bundle = Some(*bundle);
                let s = lib.sessions.len() - 1;
                event.session = Some(s);
                let session = lib.sessions[s][party.idx()].as_ref().unwrap();
                assert_eq!(
                    session.session_id().as_bytes(),
                    &reference.sessions[s].session_id
                );
            }
            Op::Encrypt { session, party, .. } => {
                event.op = "encrypt";
                event.party = party.name();
                event.session = Some(*session);
                let i = lib.messages.len() - 1;
                event.message = Some(i);
                check_message(
                    &lib.messages[i].2,
                    &reference.messages[i],
                    &reference.sessions[*session],
                    i,
                );
            }
            Op::Deliver { message } => {
                let lib_d = lib_delivery.unwrap();
                let ref_d = ref_delivery.unwrap();
                let m = &reference.messages[*message];
                event.op = if ref_d.inbound {
                    "create_inbound_session"
                } else {
                    "decrypt"
                };
                event.party = m.sender.other().name();
                event.session = Some(m.session);
                event.message = Some(*message);
                assert_eq!(
                    lib_d.result, ref_d.result,
                    "event {index}: delivery of message {message} gave an unexpected result"
                );
                assert_eq!(
                    lib_d.stored_after, ref_d.stored_after,
                    "event {index}: stored skipped keys after delivering message {message}"
                );
                assert_eq!(lib_d.session_id, reference.sessions[m.session].session_id);
                match lib_d.result {
                    Ok(p) => event.plaintext = Some(hx(&p)),
                    Err(e) => event.error = Some(e),
                }
                event.library_events = Some(lib_d.events);
                event.stored_skipped_keys = Some(lib_d.stored_after);
            }
            Op::SetConfig {
                party,
                session,
                config,
            } => {
                event.op = "set_config";
                event.party = party.name();
                event.session = Some(*session);
                event.config = Some(config_json(*config));
            }
        }
        events.push(event);

        lib.snapshots
            .push((lib.accounts.clone(), lib.sessions.clone()));
    }

    for case in &scenario.cases {
        let (bytes, source) = match case.source {
            Source::Message(i) => (&reference.messages[i].wire, format!("message {i}")),
            Source::Bundle(i) => (&reference.bundles[i].bytes, format!("bundle {i}")),
        };
        let input = mutate(bytes, &case.mutation, &reference, case.source);
        let (accounts, sessions) = &lib.snapshots[case.after_event];
        run_case(case, accounts, sessions, &input);
        let (target, party, session) = match case.target {
            Target::Session { party, session } => ("session", Some(party.name()), Some(session)),
            Target::Account(party) => ("account", Some(party.name()), None),
            Target::Bundle => ("bundle", None, None),
        };
        cases.push(CaseJson {
            index: cases.len(),
            name: case.name,
            description: case.description,
            target,
            party,
            session,
            after_event: case.after_event,
            config: case.config.map(config_json),
            source,
            mutation: case.mutation.describe(),
            input: hx(&input),
            error: case.expected.json(),
        });
    }
    assert_eq!(lib.rng.pos, reference.pos);
    assert_eq!(reference.messages.len(), scenario.messages);
    assert_eq!(reference.sessions.len(), scenario.sessions);
    assert_eq!(reference.bundles.len(), scenario.bundles);

    let tape = &reference.tape[..reference.pos];
    let file = VectorFile {
        vector: scenario.file,
        description: scenario.description,
        protocol: "hushwire/v1",
        wire_version: VERSION,
        now_unix_secs: NOW.as_unix_secs(),
        tape: TapeJson {
            generation: TAPE_GENERATION,
            seed,
            length: tape.len(),
            bytes: hx(tape),
            draws: reference
                .draws
                .iter()
                .enumerate()
                .map(|(index, d)| DrawJson {
                    index,
                    purpose: d.purpose.clone(),
                    offset: d.offset,
                    length: d.length,
                    value: hx(&tape[d.offset..d.offset + d.length]),
                })
                .collect(),
        },
        accounts: [Alice, Bob]
            .iter()
            .filter_map(|p| {
                reference.accounts[p.idx()]
                    .as_ref()
                    .map(|a| account_json(*p, a))
            })
            .collect(),
        bundles: reference
            .bundles
            .iter()
            .enumerate()
            .map(|(index, b)| BundleJson {
                index,
                party: b.party.name(),
                signed_prekey_id: reference.account(b.party).signed_prekey.id,
                one_time_prekey_id: b.one_time_prekey_id,
                kem_prekey_id: b.kem_prekey_id,
                kem_prekey_kind: kem_kind_name(b.kem_kind),
                bytes: hx(&b.bytes),
            })
            .collect(),
        sessions: reference
            .sessions
            .iter()
            .enumerate()
            .map(|(index, s)| session_json(index, s))
            .collect(),
        messages: reference
            .messages
            .iter()
            .enumerate()
            .map(|(index, m)| MessageJson {
                index,
                session: m.session,
                sender: m.sender.name(),
                recipient: m.sender.other().name(),
                chain: m.chain,
                counter: m.counter,
                previous_chain_length: m.previous_chain_length,
                kind: if m.prekey { "prekey" } else { "ratchet" },
                plaintext: hx(&m.plaintext),
                plaintext_utf8: String::from_utf8(m.plaintext.clone()).unwrap(),
                chain_key: hx(&m.chain_key),
                message_key: hx(&m.message_key),
                next_chain_key: hx(&m.next_chain_key),
                header_key: hx(&m.header_key),
                header_nonce: hx(&m.header_nonce),
                header_plaintext: hx(&m.header_plaintext),
                header_ad: hx(&m.header_ad),
                encrypted_header: hx(&m.encrypted_header),
                epoch: m.epoch,
                session_tag: hx(&m.session_tag),
                body_ad: hx(&m.body_ad),
                body: hx(&m.body),
                ratchet_message: hx(&m.ratchet_message),
                wire: hx(&m.wire),
            })
            .collect(),
        events,
        invalid_inputs: cases,
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap();
    text.push('\n');
    text
}

fn config_json([a, b, c, d]: [u32; 4]) -> ConfigJson {
    ConfigJson {
        max_jump: a,
        max_skipped_keys: b,
        max_receiving_chains: c,
        skipped_key_max_age: d,
    }
}

fn kem_kind_name(kind: u8) -> &'static str {
    match kind {
        KEM_KIND_ONE_TIME => "one_time",
        KEM_KIND_LAST_RESORT => "last_resort",
        _ => unreachable!(),
    }
}

fn kem_json(k: &RefKem) -> KemPreKeyJson {
    KemPreKeyJson {
        id: k.id,
        kind: kem_kind_name(k.kind),
        seed: hx(&k.seed),
        public: hx(&k.public),
        signature: hx(&k.signature),
    }
}

fn account_json(party: Party, a: &RefAccount) -> AccountJson {
    AccountJson {
        party: party.name(),
        identity_seed: hx(&a.identity_seed),
        identity_key: hx(&a.identity_key),
        identity_dh_private: hx(&a.dh_private),
        identity_dh_public: hx(&a.dh_public),
        signed_prekey: SignedPreKeyJson {
            id: a.signed_prekey.id,
            private: hx(&a.signed_prekey.private),
            public: hx(&a.signed_prekey.public),
            signature: hx(&a.signed_prekey.signature.unwrap()),
        },
        last_resort_kem_prekey: kem_json(&a.last_resort_kem),
        one_time_prekeys: a
            .one_time
            .iter()
            .map(|k| OneTimePreKeyJson {
                id: k.id,
                private: hx(&k.private),
                public: hx(&k.public),
            })
            .collect(),
        one_time_kem_prekeys: a.one_time_kem.iter().map(kem_json).collect(),
    }
}

fn session_json(index: usize, s: &RefSession) -> SessionJson {
    SessionJson {
        index,
        initiator: s.initiator.name(),
        responder: s.responder.name(),
        bundle: s.bundle,
        base_key_private: hx(&s.base_private),
        base_key_public: hx(&s.base_public),
        kem_encaps_m: hx(&s.kem_m),
        kem_ciphertext: hx(&s.kem_ciphertext),
        kem_shared_secret: hx(&s.kem_shared_secret),
        dh1: hx(&s.dh[0]),
        dh2: hx(&s.dh[1]),
        dh3: hx(&s.dh[2]),
        dh4: s.dh.get(3).map(|d| hx(d)),
        ikm: hx(&s.ikm),
        info: hx(&s.info),
        okm: hx(&s.okm),
        root_key: hx(&s.root_key),
        initiator_header_key: hx(&s.initiator_header_key),
        responder_header_key: hx(&s.responder_header_key),
        session_id: hx(&s.session_id),
        session_tag_key: hx(&s.tag_key),
        associated_data: hx(&s.ad),
        chains: s
            .chains
            .iter()
            .enumerate()
            .map(|(index, c)| ChainJson {
                index,
                sender: c.sender.name(),
                ratchet_private: hx(&c.ratchet_private),
                ratchet_public: hx(&c.ratchet_public),
                their_ratchet_public: hx(&c.their_ratchet_public),
                dh: hx(&c.dh),
                root_key_in: hx(&c.root_key_in),
                root_key_out: hx(&c.root_key_out),
                chain_key: hx(&c.chain_key),
                next_header_key: hx(&c.next_header_key),
                header_key: hx(&c.header_key),
                previous_chain_length: c.previous_chain_length,
                epoch: c.epoch,
                messages: c.sent,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing with (or rewriting) the committed files.

fn check_file(scenario: &Scenario) {
    check_vector_file("", scenario.file, &build(scenario));
}

const FILES: [&str; 5] = [
    "pqxdh_with_one_time_prekey",
    "pqxdh_without_one_time_prekey",
    "conversation",
    "out_of_order",
    "invalid_messages",
];

#[test]
fn pqxdh_with_one_time_prekey() {
    check_file(&pqxdh_scenario(true));
}

#[test]
fn pqxdh_without_one_time_prekey() {
    check_file(&pqxdh_scenario(false));
}

#[test]
fn conversation() {
    check_file(&conversation_scenario());
}

#[test]
fn out_of_order() {
    check_file(&out_of_order_scenario());
}

#[test]
fn invalid_messages() {
    check_file(&invalid_scenario());
}

#[test]
fn every_vector_file_is_checked_here() {
    if regenerating() {
        return;
    }
    let found = json_file_names("");
    let mut expected: Vec<String> = FILES.iter().map(|f| format!("{f}.json")).collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "every file in tests/vectors/ must be checked by this test"
    );
}

#[test]
#[should_panic(expected = "randomness tape exhausted")]
fn tape_rng_fails_loudly_when_the_tape_runs_out() {
    let mut rng = TapeRng::new(tape_stream("short", 40));
    let mut buf = [0u8; 32];
    rng.try_fill_bytes(&mut buf).unwrap();
    rng.try_fill_bytes(&mut buf).unwrap();
}

#[test]
fn tape_stream_is_sha256_counter_mode() {
    let t = tape_stream("seed", 40);
    let block = |i: u32| sha256(&[b"seed".as_slice(), &i.to_be_bytes()].concat());
    assert_eq!(&t[..32], &block(0));
    assert_eq!(&t[32..], &block(1)[..8]);
}
