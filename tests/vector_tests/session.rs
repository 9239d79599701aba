//! Fixed test vectors of the 1:1 core (`tests/vectors/*.json`, specified in SPEC.md §10).
//!
//! This is the one test file that loads every vector file. Each scenario is run twice from the
//! same randomness tape: once through hushwire's public API, and once through an independent
//! reference written here from the raw primitives only (X25519, Ed25519, ML-KEM-768,
//! HKDF/HMAC-SHA-256, ChaCha20-Poly1305). The reference derives every intermediate secret and
//! the exact bytes every message must have; the test checks that the library drew randomness in
//! the same order, produced byte-identical bundles and messages, that the reference keys open
//! the library's headers and bodies, and that every delivery gave the expected result and events
//! (for the sessions an account holds: which session read it, and which is active). The
//! invalid inputs' errors are written here by hand. The files built from both are then
//! compared with the committed ones.
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
    DEFAULT_MAX_JUMP, DEFAULT_MAX_SKIPPED_KEYS, DEFAULT_SKIPPED_KEY_MAX_AGE, DecodeError,
    DecryptError, Device, HandshakeError, KeyError, PeerError, PreKeyBundle, PublishedPreKeys,
    RatchetConfig, Session, SignedKeyKind, Timestamp,
};
use ml_kem::array::Array;
use ml_kem::kem::{Decapsulate, KeyExport};
use ml_kem::ml_kem_768::{Ciphertext, DecapsulationKey, EncapsulationKey};
use rand_core::{TryCryptoRng, TryRng};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use x25519_dalek::{X25519_BASEPOINT_BYTES, x25519};

use crate::common::vector_file;

use vector_file::{check_vector_file, json_file_names, regenerating};

use crate::common::vector_json;

use vector_json::{error_json, events_json};

use crate::common::NOW;
/// Upper bound on the tape a scenario may use; the files record only the bytes drawn.
pub(super) const TAPE_MAX: usize = 1 << 16;
pub(super) const TAPE_GENERATION: &str =
    "SHA-256(utf8(seed) || u32_be(i)) for i = 0, 1, 2, ..., concatenated and cut to `length` bytes";

// ---------------------------------------------------------------------------------------------
// Protocol constants, written out again here (not taken from the library) so that the reference
// is an independent reading of the specification.

const LABEL_SIG_SIGNED_PREKEY: &[u8] = b"hushwire/v1/sig/signed-prekey";
const LABEL_SIG_KEM_PREKEY: &[u8] = b"hushwire/v1/sig/kem-prekey";
pub(super) const LABEL_PQXDH: &[u8] = b"hushwire/v1/pqxdh";
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
pub(super) fn tape_stream(seed: &str, len: usize) -> Vec<u8> {
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
pub(super) struct TapeRng {
    pub(super) tape: Vec<u8>,
    pub(super) pos: usize,
    pub(super) draws: Vec<(usize, usize)>,
}

impl TapeRng {
    pub(super) fn new(tape: Vec<u8>) -> Self {
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

pub(super) fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

pub(super) fn arr<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap()
}

pub(super) fn x25519_public(private: &[u8; 32]) -> [u8; 32] {
    x25519(*private, X25519_BASEPOINT_BYTES)
}

pub(super) fn x25519_dh(private: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    let out = x25519(*private, *public);
    assert_ne!(out, [0u8; 32], "non-contributory DH in a test vector");
    out
}

pub(super) fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut okm = vec![0u8; len];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm)
        .unwrap();
    okm
}

pub(super) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub(super) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub(super) fn aead_seal(key: &[u8; 32], nonce: &[u8; 12], ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(*nonce), ad, buf.as_mut_slice().into())
        .unwrap();
    buf.extend_from_slice(&tag);
    buf
}

pub(super) fn aead_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    ad: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
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
pub(super) fn identity_keys(seed: &[u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
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

pub(super) fn ed25519_sign(seed: &[u8; 32], message: &[u8]) -> [u8; 64] {
    SigningKey::from_bytes(seed).sign(message).to_bytes()
}

pub(super) fn kem_public(seed: &[u8; 64]) -> Vec<u8> {
    let dk = DecapsulationKey::from_seed(Array::from(*seed));
    dk.encapsulation_key().to_bytes().to_vec()
}

pub(super) fn kem_encapsulate(public: &[u8], m: &[u8; 32]) -> (Vec<u8>, [u8; 32]) {
    let ek = EncapsulationKey::new(&Array::try_from(public).unwrap()).unwrap();
    let (ct, ss) = ek.encapsulate_deterministic(&Array::from(*m));
    (ct.to_vec(), arr(ss.as_slice()))
}

pub(super) fn kem_decapsulate(seed: &[u8; 64], ciphertext: &[u8]) -> [u8; 32] {
    let dk = DecapsulationKey::from_seed(Array::from(*seed));
    let ct = Ciphertext::try_from(ciphertext).unwrap();
    arr(dk.decapsulate(&ct).as_slice())
}

pub(super) fn signed_prekey_message(id: u32, public: &[u8; 32]) -> Vec<u8> {
    [LABEL_SIG_SIGNED_PREKEY, &id.to_be_bytes(), public].concat()
}

pub(super) fn kem_prekey_message(id: u32, kind: u8, public: &[u8]) -> Vec<u8> {
    [LABEL_SIG_KEM_PREKEY, &[kind], &id.to_be_bytes(), public].concat()
}

/// SPEC.md §5.6: the session tag, `u32be(epoch) XOR HMAC(tk, 0x01 || role || nonce)[..4]`
/// followed by `HMAC(tk, 0x02 || role || nonce || encrypted_header || u32be(epoch))[..8]`,
/// where `role` is the sender's side: 0x01 initiator, 0x02 responder.
pub(super) fn session_tag(
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
pub(super) fn chain_step(chain_key: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
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
    /// The `now` passed to every later call, in Unix seconds.
    SetClock(u64),
    /// `Account::rotate_prekeys(now, rng)`; then the account re-uploads its published keys.
    RotatePreKeys(Party),
    /// `Account::maintenance_events(now)`.
    MaintenanceEvents(Party),
    /// `Account::start_session(bundle, rng)`: a session held by the account.
    StartSession {
        party: Party,
        bundle: usize,
    },
    /// `Account::encrypt_for(other party, plaintext, rng)` on the active session.
    EncryptFor {
        party: Party,
        plaintext: String,
    },
    /// `Account::decrypt_from(sender, message, now)` by the message's recipient.
    DecryptFrom {
        message: usize,
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
    /// `Account::create_outbound_session(input, rng)` on `party`'s account.
    Outbound(Party),
    /// `Account::decrypt_from(claimed's identity key, input, now)` on `party`'s account.
    Peer {
        party: Party,
        claimed: Party,
    },
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Message(usize),
    Bundle(usize),
    /// A ratchet message the reference builds (see [`Forge`]).
    Forged(Forge),
}

/// A ratchet message forged with the keys of a session (SPEC.md §5.7): a header
/// `ratchet_key || u32be(pn) || u32be(n)` sealed under the header key of `header_chain`, the
/// sender's session tag for that chain's epoch, and a body of 16 zero bytes. The receiver
/// fails on the header, before the body is ever checked. It stands for what a peer restored
/// from an older copy, or an attacker holding the session's keys, could send.
#[derive(Clone, Copy, Debug)]
struct Forge {
    session: usize,
    header_chain: usize,
    ratchet_key: ForgedKey,
    pn: u32,
    n: u32,
}

#[derive(Clone, Copy, Debug)]
enum ForgedKey {
    /// The ratchet public key of this chain.
    Chain(usize),
    /// A key no chain uses: `X25519(SHA-256("hushwire/v1/test-vectors/forged-ratchet-key"), 9)`.
    Fresh,
    /// 32 zero bytes, a point of small order.
    Zero,
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
    /// A bundle's signed prekey replaced by 32 zero bytes (a point of small order) and its
    /// signature made again by the owner's identity key, so that the bundle verifies.
    ZeroSignedPreKeyResigned,
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
            Mutation::ZeroSignedPreKeyResigned => {
                "bytes 38..70 (signed prekey) replaced by zeros and bytes 70..134 by the \
                 owner's signature over them"
                    .into()
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
    /// The error the input must give, from the call its target makes.
    expected: hushwire::Error,
}

struct Scenario {
    file: &'static str,
    description: &'static str,
    ops: Vec<Op>,
    cases: Vec<Case>,
    /// A `decrypt_from` of a late prekey message that must have landed on a held session that
    /// is not active (checked after the run: which session is kept depends on the ids).
    late_prekey_event: Option<usize>,
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
            late_prekey_event: None,
            bundles: 0,
            sessions: 0,
            messages: 0,
        }
    }

    /// Adds an op and returns its event index.
    fn op(&mut self, op: Op) -> usize {
        match &op {
            Op::TakeBundle(_) => self.bundles += 1,
            Op::CreateOutboundSession { .. } | Op::StartSession { .. } => self.sessions += 1,
            Op::Encrypt { .. } | Op::EncryptFor { .. } => self.messages += 1,
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

    /// Takes a bundle of `party`'s keys and returns its index.
    fn take_bundle(&mut self, party: Party) -> usize {
        self.op(Op::TakeBundle(party));
        self.bundles - 1
    }

    /// `create_outbound_session` by `party` on a bundle; returns the session index.
    fn outbound(&mut self, party: Party, bundle: usize) -> usize {
        self.op(Op::CreateOutboundSession { party, bundle });
        self.sessions - 1
    }

    /// `start_session` by `party` on a bundle; returns the session index.
    fn start_session(&mut self, party: Party, bundle: usize) -> usize {
        self.op(Op::StartSession { party, bundle });
        self.sessions - 1
    }

    /// `encrypt_for` by `party` to the other party; returns the message index.
    fn send_for(&mut self, party: Party, plaintext: &str) -> usize {
        self.op(Op::EncryptFor {
            party,
            plaintext: plaintext.to_owned(),
        });
        self.messages - 1
    }

    fn decrypt_from(&mut self, message: usize) -> usize {
        self.op(Op::DecryptFrom { message })
    }

    fn clock(&mut self, now: u64) -> usize {
        self.op(Op::SetClock(now))
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
    expected: impl Into<hushwire::Error>,
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
    let bob_on_chain_2 = s.deliver(m2);
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
    let forged = |header_chain, ratchet_key, pn, n| {
        Source::Forged(Forge {
            session: 0,
            header_chain,
            ratchet_key,
            pn,
            n,
        })
    };
    // A peer restored from an older copy (SPEC.md §5.7, §12.2), low-order keys (§2.4), and
    // one type-byte rule for every decoder (§1.4.1).
    cases.extend([
        case(
            "forked_peer_known_chain_new_key",
            "Alice's chain-0 header key, the chain Bob's state is on, opens the header, but it \
             names a ratchet key that chain does not have: Alice's state was restored and took \
             another sending step (C.1).",
            established,
            bob,
            forged(0, ForgedKey::Fresh, 0, 1),
            M::Unchanged,
            DecryptError::PeerStateForked,
        ),
        case(
            "forked_peer_shorter_previous_chain",
            "The next-chain header key opens a header announcing a previous chain of 0 \
             messages, but Bob has received 1 on it (N.3).",
            established,
            bob,
            forged(2, ForgedKey::Fresh, 0, 0),
            M::Unchanged,
            DecryptError::PeerStateForked,
        ),
        case(
            "forked_peer_past_chain_new_key",
            "After Bob moved on to Alice's chain 2, a header under her chain-0 header key with \
             another ratchet key (P.1).",
            bob_on_chain_2,
            bob,
            forged(0, ForgedKey::Fresh, 0, 0),
            M::Unchanged,
            DecryptError::PeerStateForked,
        ),
        case(
            "forked_peer_past_chain_end",
            "After Bob moved on to Alice's chain 2, whose header announced 1 message on chain 0, \
             a header of chain 0 with counter 1 (P.2).",
            bob_on_chain_2,
            bob,
            forged(0, ForgedKey::Chain(0), 0, 1),
            M::Unchanged,
            DecryptError::PeerStateForked,
        ),
        case(
            "new_chain_with_current_ratchet_key",
            "The next-chain header key opens a header that names the ratchet key of the chain \
             Bob is on (N.1).",
            established,
            bob,
            forged(2, ForgedKey::Chain(0), 1, 0),
            M::Unchanged,
            DecryptError::InvalidCounter,
        ),
        case(
            "new_chain_low_order_ratchet_key",
            "The next-chain header key opens a header whose ratchet key is 32 zero bytes: the \
             DH of the ratchet step is all zero (N.5).",
            established,
            bob,
            forged(2, ForgedKey::Zero, 1, 0),
            M::Unchanged,
            DecryptError::NonContributory,
        ),
        case(
            "low_order_base_key_on_account",
            "Alice's first prekey message with its base key replaced by 32 zero bytes: DH2 is \
             all zero (SPEC.md §4.3 step 7).",
            before_inbound,
            account,
            Msg(m0),
            M::Splice {
                offset: 34,
                bytes: vec![0; 32],
            },
            HandshakeError::NonContributory,
        ),
        case(
            "low_order_signed_prekey_in_bundle",
            "Bob's bundle with its signed prekey replaced by 32 zero bytes and signed again, \
             used by Alice: both signatures verify, DH1 is all zero (SPEC.md §4.1 step 5).",
            bundle_event,
            Target::Outbound(Alice),
            B(0),
            M::ZeroSignedPreKeyResigned,
            HandshakeError::NonContributory,
        ),
        case(
            "ratchet_message_to_account",
            "Bob's ratchet message fed to Bob's account as a prekey message: type 0x01 is a known \
             type, so the prekey decoder reports it as the wrong one.",
            before_inbound,
            account,
            Msg(m1),
            M::Unchanged,
            HandshakeError::Malformed(DecodeError::WrongType {
                expected: 0x02,
                found: 0x01,
            }),
        ),
        case(
            "unknown_type_to_account",
            "Alice's prekey message with type byte 0x7f, which no structure has.",
            before_inbound,
            account,
            Msg(m0),
            M::Set {
                offset: 1,
                value: 0x7f,
            },
            HandshakeError::Malformed(DecodeError::UnknownType(0x7f)),
        ),
        case(
            "embedded_message_wrong_type",
            "Alice's prekey message whose embedded ratchet message has type byte 0x02: the \
             decoder of the embedded message reports a known type in the wrong place.",
            established,
            bob,
            Msg(m0),
            M::Set {
                offset: 1168,
                value: 0x02,
            },
            DecryptError::Malformed(DecodeError::WrongType {
                expected: 0x01,
                found: 0x02,
            }),
        ),
        case(
            "bundle_wrong_type",
            "A bundle with type byte 0x50 (a QR payload's): a known type of another family.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Set {
                offset: 1,
                value: 0x50,
            },
            DecodeError::WrongType {
                expected: 0x10,
                found: 0x50,
            },
        ),
        case(
            "bundle_unknown_type",
            "A bundle with type byte 0x7f, which no structure has.",
            bundle_event,
            Target::Bundle,
            B(0),
            M::Set {
                offset: 1,
                value: 0x7f,
            },
            DecodeError::UnknownType(0x7f),
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

/// Signed-prekey and last-resort rotation, retired-key lookup at the ends of the grace window
/// and past the cap of retired keys, and the replay records of sessions built on reusable keys
/// only (SPEC.md §3.5–§3.7). Bob publishes no one-time prekeys.
fn rotation_scenario() -> Scenario {
    let mut s = Scenario::new(
        "prekey_rotation",
        "Bob publishes no one-time prekeys, so every session is built on reusable keys only. He \
         rotates his prekeys after 7 days; messages on the retired keys are accepted until the \
         grace window ends, and replays are refused by the replay records. Then nine rotations \
         at once push the oldest retired key out, inside its grace window.",
    );
    s.op(Op::CreateAccount(Alice));
    s.op(Op::CreateAccount(Bob));
    let old: Vec<usize> = (0..3)
        .map(|i| {
            let b = s.take_bundle(Bob);
            let session = s.outbound(Alice, b);
            s.send(session, Alice, &format!("on signed prekey 1, session {i}"))
        })
        .collect();
    let rotated_at = NOW.as_unix_secs() + PREKEY_ROTATION_SECS;
    s.clock(rotated_at);
    s.op(Op::MaintenanceEvents(Bob));
    s.op(Op::RotatePreKeys(Bob));
    s.op(Op::MaintenanceEvents(Bob));
    let b = s.take_bundle(Bob);
    let session = s.outbound(Alice, b);
    let current = s.send(session, Alice, "on signed prekey 2");
    s.deliver(old[0]);
    let accepted = s.deliver(current);
    s.clock(rotated_at + PREKEY_GRACE_SECS - 1);
    s.deliver(old[1]);
    let grace_over = s.clock(rotated_at + PREKEY_GRACE_SECS);
    let b = s.take_bundle(Bob);
    let session = s.outbound(Alice, b);
    let on_2 = s.send(session, Alice, "on signed prekey 2, to be pushed out");
    s.op(Op::RotatePreKeys(Bob));
    let b = s.take_bundle(Bob);
    let session = s.outbound(Alice, b);
    let on_3 = s.send(session, Alice, "on signed prekey 3");
    for _ in 0..8 {
        s.op(Op::RotatePreKeys(Bob));
    }
    s.deliver(on_3);
    let capped = s.op(Op::MaintenanceEvents(Bob));

    let account = Target::Account(Bob);
    use Mutation as M;
    use Source::Message as Msg;
    let mut cases = vec![
        case(
            "replayed_on_retired_keys",
            "Alice's first message again, built on the retired signed prekey 1 and last-resort \
             key 1: its replay record (signed prekey 1, base key) refuses it (SPEC.md §3.7).",
            accepted,
            account,
            Msg(old[0]),
            M::Unchanged,
            HandshakeError::ReplayedInitialMessage,
        ),
        case(
            "replayed_on_current_keys",
            "The message on the current keys again.",
            accepted,
            account,
            Msg(current),
            M::Unchanged,
            HandshakeError::ReplayedInitialMessage,
        ),
        case(
            "signed_prekey_not_issued",
            "The message on the current keys, naming signed prekey 3, which is not issued yet.",
            accepted,
            account,
            Msg(current),
            M::Set {
                offset: 69,
                value: 3,
            },
            HandshakeError::UnknownSignedPreKey(3),
        ),
        case(
            "retired_signed_prekey_after_grace",
            "A message on the retired signed prekey 1 at the first second after its grace window \
             (retired_at + PREKEY_GRACE_SECS): the key is no longer accepted, although it is \
             still held until the next rotation.",
            grace_over,
            account,
            Msg(old[2]),
            M::Unchanged,
            HandshakeError::UnknownSignedPreKey(1),
        ),
        case(
            "retired_last_resort_after_grace",
            "The message on the current signed prekey, naming the retired last-resort key 1 after \
             its grace window: an expired last-resort id counts as reused (SPEC.md §3.6).",
            grace_over,
            account,
            Msg(current),
            M::Splice {
                offset: 71,
                bytes: 1u32.to_be_bytes().to_vec(),
            },
            HandshakeError::KemPreKeyReused(1),
        ),
        case(
            "kem_prekey_not_issued",
            "The message on the current signed prekey, naming ML-KEM prekey 9, not issued yet.",
            grace_over,
            account,
            Msg(current),
            M::Splice {
                offset: 71,
                bytes: 9u32.to_be_bytes().to_vec(),
            },
            HandshakeError::UnknownKemPreKey(9),
        ),
        case(
            "retired_signed_prekey_past_the_cap",
            "A message on signed prekey 2, retired inside its grace window but pushed out by \
             nine rotations at once (MAX_RETIRED_PREKEYS = 8).",
            capped,
            account,
            Msg(on_2),
            M::Unchanged,
            HandshakeError::UnknownSignedPreKey(2),
        ),
    ];
    cases.sort_by_key(|c| c.after_event);
    s.cases = cases;
    s
}

/// Sessions held by the account (SPEC.md §12.1): simultaneous initiation, a second session
/// started while the first is in use, promotion by ratchet messages, and the account-level
/// errors.
fn account_scenario() -> Scenario {
    let mut s = Scenario::new(
        "account_sessions",
        "Alice and Bob start sessions with each other at the same time; both keep the one with \
         the smaller id active. Later Bob starts a third session while Alice still writes on \
         the active one: ratchet messages on a held session that is not active make it active, \
         a late prekey message does not. All through Account::start_session, encrypt_for and \
         decrypt_from.",
    );
    s.op(Op::CreateAccount(Alice));
    s.op(Op::CreateAccount(Bob));
    s.op(Op::GenerateOneTimePreKeys {
        party: Alice,
        x25519: 2,
        kem: 2,
    });
    let before_sessions = s.op(Op::GenerateOneTimePreKeys {
        party: Bob,
        x25519: 2,
        kem: 2,
    });
    // Simultaneous initiation.
    let to_bob = s.take_bundle(Bob);
    let to_alice = s.take_bundle(Alice);
    s.start_session(Alice, to_bob);
    s.start_session(Bob, to_alice);
    let a0 = s.send_for(Alice, "alice starts");
    let a0_again = s.send_for(Alice, "alice again, before any reply");
    let b0 = s.send_for(Bob, "bob starts");
    let b1 = s.send_for(Bob, "bob again, before any reply");
    s.decrypt_from(a0);
    s.decrypt_from(b0);
    s.decrypt_from(b1);
    let a1 = s.send_for(Alice, "alice on the kept session");
    s.decrypt_from(a1);
    // Alice's second prekey message arrives late, on the session Bob did not keep active: it
    // decrypts there, and the active session stays.
    let late = s.decrypt_from(a0_again);
    let b2 = s.send_for(Bob, "bob on the kept session");
    s.decrypt_from(b2);
    // Bob starts another session; Alice's messages on the old one still arrive.
    let to_alice = s.take_bundle(Alice);
    s.start_session(Bob, to_alice);
    let b3 = s.send_for(Bob, "bob on a new session");
    let a2 = s.send_for(Alice, "alice still on the old session");
    s.decrypt_from(b3);
    s.decrypt_from(a2);
    let a3 = s.send_for(Alice, "alice on the new session");
    s.decrypt_from(a3);
    let b4 = s.send_for(Bob, "bob on the new session");
    let last = s.decrypt_from(b4);
    s.late_prekey_event = Some(late);

    use Mutation as M;
    use Source::Message as Msg;
    let alice_from_bob = Target::Peer {
        party: Alice,
        claimed: Bob,
    };
    let mut cases = vec![
        case(
            "unknown_peer",
            "A ratchet message from Bob to Alice's account before she holds any session with him.",
            before_sessions,
            alice_from_bob,
            Msg(b2),
            M::Unchanged,
            PeerError::UnknownPeer,
        ),
        case(
            "no_matching_session",
            "Alice's own message handed back to her as Bob's: no held session opens it (the \
             session tag is checked with the peer's role).",
            last,
            alice_from_bob,
            Msg(a3),
            M::Unchanged,
            PeerError::NoMatchingSession,
        ),
        case(
            "duplicate_on_held_session",
            "Bob's last message delivered again: the session that read it reports the duplicate.",
            last,
            alice_from_bob,
            Msg(b4),
            M::Unchanged,
            PeerError::Decrypt(DecryptError::Duplicate { counter: 0 }),
        ),
        case(
            "sender_mismatch",
            "Bob's prekey message handed to Alice as if Alice had sent it.",
            last,
            Target::Peer {
                party: Alice,
                claimed: Alice,
            },
            Msg(b3),
            M::Unchanged,
            PeerError::SenderMismatch,
        ),
        case(
            "prekey_message_with_another_base_key",
            "Alice's first prekey message with another base key: it names no held session, so it \
             would start one, but its one-time prekey is used.",
            last,
            Target::Peer {
                party: Bob,
                claimed: Alice,
            },
            Msg(a0),
            M::Splice {
                offset: 34,
                bytes: x25519_public(&[1; 32]).to_vec(),
            },
            PeerError::Handshake(HandshakeError::OneTimePreKeyReused(2)),
        ),
    ];
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
    created_at: u64,
}

struct RefKem {
    id: u32,
    kind: u8,
    seed: [u8; 64],
    public: Vec<u8>,
    signature: [u8; 64],
    created_at: u64,
}

/// SPEC.md §3.5, written out again.
const PREKEY_ROTATION_SECS: u64 = 604_800;
const PREKEY_GRACE_SECS: u64 = 2_592_000;
const MAX_RETIRED_PREKEYS: usize = 8;
const ONE_TIME_PREKEYS_LOW: usize = 10;
const MAX_SESSIONS_PER_PEER: usize = 5;

struct RefAccount {
    identity_seed: [u8; 32],
    identity_key: [u8; 32],
    dh_private: [u8; 32],
    dh_public: [u8; 32],
    /// Every signed prekey made, in order; the last one is current (SPEC.md §3.5).
    signed_prekeys: Vec<RefX25519>,
    /// Every last-resort ML-KEM prekey made, in order; the last one is current.
    last_resort_kems: Vec<RefKem>,
    /// `(id, retired_at)` of the retired keys of each kind, oldest first.
    retired_signed: Vec<(u32, u64)>,
    retired_last_resort: Vec<(u32, u64)>,
    one_time: Vec<RefX25519>,
    one_time_kem: Vec<RefKem>,
    consumed: BTreeSet<(bool, u32)>,
    next_signed_id: u32,
    next_one_time_id: u32,
    next_kem_id: u32,
}

impl RefAccount {
    fn signed_prekey(&self) -> &RefX25519 {
        self.signed_prekeys.last().unwrap()
    }

    fn last_resort_kem(&self) -> &RefKem {
        self.last_resort_kems.last().unwrap()
    }

    /// SPEC.md §3.5: the current key whatever its age, else a retired one within its grace
    /// window, oldest first.
    fn accepted_signed_prekey(&self, id: u32, now: u64) -> Option<&RefX25519> {
        let current = self.signed_prekey();
        if current.id == id {
            return Some(current);
        }
        let (id, _) = self
            .retired_signed
            .iter()
            .find(|(r, at)| *r == id && now < at + PREKEY_GRACE_SECS)?;
        self.signed_prekeys.iter().find(|k| k.id == *id)
    }

    /// SPEC.md §3.6: held one-time ML-KEM keys, then the current last-resort key, then the
    /// retired ones within their grace window.
    fn accepted_kem_prekey(&self, id: u32, now: u64) -> Option<&RefKem> {
        if let Some(k) = self
            .one_time_kem
            .iter()
            .find(|k| k.id == id && !self.consumed.contains(&(true, id)))
        {
            return Some(k);
        }
        let current = self.last_resort_kem();
        if current.id == id {
            return Some(current);
        }
        let (id, _) = self
            .retired_last_resort
            .iter()
            .find(|(r, at)| *r == id && now < at + PREKEY_GRACE_SECS)?;
        self.last_resort_kems.iter().find(|k| k.id == *id)
    }

    fn unused_one_time(&self) -> (usize, usize) {
        let x = self
            .one_time
            .iter()
            .filter(|k| !self.consumed.contains(&(false, k.id)))
            .count();
        let kem = self
            .one_time_kem
            .iter()
            .filter(|k| !self.consumed.contains(&(true, k.id)))
            .count();
        (x, kem)
    }
}

/// SPEC.md §3.5 "Retiring": the old current key becomes the newest retired key, expired ones
/// are dropped, then the oldest beyond `MAX_RETIRED_PREKEYS`.
fn retire(retired: &mut Vec<(u32, u64)>, old: u32, now: u64) {
    retired.push((old, now));
    retired.retain(|(_, at)| now < at + PREKEY_GRACE_SECS);
    while retired.len() > MAX_RETIRED_PREKEYS {
        retired.remove(0);
    }
}

/// What the reference writes for an event (SPEC.md §8.4), by hand.
fn ref_event(code: &str, fields: Value) -> Value {
    json!({ "code": code, "fields": fields })
}

/// What the server holds for an account: ids of unused one-time keys, handed out newest first.
#[derive(Default)]
struct RefServer {
    one_time: Vec<u32>,
    one_time_kem: Vec<u32>,
}

struct RefBundle {
    party: Party,
    signed_prekey_id: u32,
    signed_prekey_public: [u8; 32],
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
/// encoding (SPEC.md §8.4), and the events, written here by hand.
struct RefDelivery {
    inbound: bool,
    result: Result<Vec<u8>, Value>,
    events: Vec<Value>,
    stored_after: usize,
    /// For `decrypt_from`: the sessions the recipient holds with the sender, active first.
    held: Option<Vec<usize>>,
}

/// What the reference expects from an op.
enum RefOut {
    Nothing,
    Delivery(RefDelivery),
    Events(Vec<Value>),
}

struct Reference {
    tape: Vec<u8>,
    pos: usize,
    now: u64,
    draws: Vec<RefDraw>,
    accounts: [Option<RefAccount>; 2],
    /// The sessions each party's account holds with the other (SPEC.md §12.1), active first.
    held: [Vec<usize>; 2],
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
            now: NOW.as_unix_secs(),
            draws: Vec::new(),
            accounts: [None, None],
            held: [Vec::new(), Vec::new()],
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
            created_at: self.now,
        }
    }

    fn account_mut(&mut self, party: Party) -> &mut RefAccount {
        self.accounts[party.idx()].as_mut().unwrap()
    }

    fn apply(&mut self, op: &Op) -> RefOut {
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
                    created_at: self.now,
                };
                let last_resort_kem = self.kem_key(p, 1, KEM_KIND_LAST_RESORT, &identity_seed);
                self.accounts[p.idx()] = Some(RefAccount {
                    identity_seed,
                    identity_key,
                    dh_private,
                    dh_public,
                    signed_prekeys: vec![signed_prekey],
                    last_resort_kems: vec![last_resort_kem],
                    retired_signed: Vec::new(),
                    retired_last_resort: Vec::new(),
                    one_time: Vec::new(),
                    one_time_kem: Vec::new(),
                    consumed: BTreeSet::new(),
                    next_signed_id: 2,
                    next_one_time_id: 1,
                    next_kem_id: 2,
                });
                self.upload(p);
                RefOut::Nothing
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
                        created_at: self.now,
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
                RefOut::Nothing
            }
            Op::TakeBundle(party) => {
                let p = *party;
                let server = &mut self.servers[p.idx()];
                let otk = server.one_time.pop();
                let kem_id = server.one_time_kem.pop();
                let acct = self.account(p);
                let kem = match kem_id {
                    Some(id) => acct.one_time_kem.iter().find(|k| k.id == id).unwrap(),
                    None => acct.last_resort_kem(),
                };
                let spk = acct.signed_prekey();
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
                    signed_prekey_id: spk.id,
                    signed_prekey_public: spk.public,
                    one_time_prekey_id: otk,
                    kem_prekey_id: kem.id,
                    kem_kind: kem.kind,
                    bytes,
                });
                RefOut::Nothing
            }
            Op::CreateOutboundSession { party, bundle } => {
                self.create_outbound(*party, *bundle);
                RefOut::Nothing
            }
            Op::Encrypt {
                session,
                party,
                plaintext,
            } => {
                self.encrypt(*session, *party, plaintext.as_bytes());
                RefOut::Nothing
            }
            Op::Deliver { message } => RefOut::Delivery(self.deliver(*message)),
            // Limits are local policy; the scenarios that lower them store no skipped keys.
            Op::SetConfig { .. } => RefOut::Nothing,
            Op::SetClock(now) => {
                self.now = *now;
                RefOut::Nothing
            }
            Op::RotatePreKeys(party) => {
                self.rotate(*party);
                RefOut::Nothing
            }
            Op::MaintenanceEvents(party) => RefOut::Events(self.maintenance_events(*party)),
            Op::StartSession { party, bundle } => {
                let s = self.create_outbound(*party, *bundle);
                let held = &mut self.held[party.idx()];
                held.insert(0, s);
                held.truncate(MAX_SESSIONS_PER_PEER);
                RefOut::Nothing
            }
            Op::EncryptFor { party, plaintext } => {
                let s = self.held[party.idx()][0];
                self.encrypt(s, *party, plaintext.as_bytes());
                RefOut::Nothing
            }
            Op::DecryptFrom { message } => RefOut::Delivery(self.decrypt_from(*message)),
        }
    }

    /// Builds the ratchet message a [`Forge`] describes, with the keys of its session, and
    /// says how (the `source` of the case).
    fn forge(&self, f: &Forge, name: &str) -> (Vec<u8>, String) {
        let session = &self.sessions[f.session];
        let g = f.header_chain;
        let header_key = match session.chains.get(g) {
            Some(chain) => chain.header_key,
            None => session.chains[g - 2].next_header_key,
        };
        let ratchet_key = match f.ratchet_key {
            ForgedKey::Chain(c) => session.chains[c].ratchet_public,
            ForgedKey::Fresh => {
                x25519_public(&sha256(b"hushwire/v1/test-vectors/forged-ratchet-key"))
            }
            ForgedKey::Zero => [0u8; 32],
        };
        let nonce: [u8; 12] =
            arr(&sha256(format!("hushwire/v1/test-vectors/forged/{name}").as_bytes())[..12]);
        let header = [&ratchet_key[..], &f.pn.to_be_bytes(), &f.n.to_be_bytes()].concat();
        let header_ad = [&[VERSION, TYPE_RATCHET][..], &session.ad].concat();
        let encrypted_header = aead_seal(&header_key, &nonce, &header_ad, &header);
        // Chains alternate, the initiator's first: the sender's role and epoch follow from g.
        let (role, epoch) = (
            if g.is_multiple_of(2) { 1 } else { 2 },
            u32::try_from(g / 2 + 1).unwrap(),
        );
        let tag = session_tag(&session.tag_key, role, &nonce, &encrypted_header, epoch);
        let message = [
            &[VERSION, TYPE_RATCHET][..],
            &nonce,
            &encrypted_header,
            &tag,
            &[0u8; 16],
        ]
        .concat();
        let source = format!(
            "forged in session {}: header {} (ratchet key {}, PN {}, N {}) sealed under the \
             header key of chain {g} with nonce {} (SHA-256(\"hushwire/v1/test-vectors/forged/\
             {name}\")[0..12]), the sender's session tag for epoch {epoch}, and a body of 16 \
             zero bytes",
            f.session,
            hx(&header),
            hx(&ratchet_key),
            f.pn,
            f.n,
            hx(&nonce),
        );
        (message, source)
    }

    /// SPEC.md §3.5 `rotate_prekeys`: a new signed prekey, then a new last-resort ML-KEM
    /// prekey, each retiring the current one.
    fn rotate(&mut self, p: Party) {
        let (id, seed) = {
            let a = self.account(p);
            (a.next_signed_id, a.identity_seed)
        };
        let private: [u8; 32] = self.draw(format!("{}.signed_prekey[{id}].private", p.name()));
        let public = x25519_public(&private);
        let key = RefX25519 {
            id,
            private,
            public,
            signature: Some(ed25519_sign(&seed, &signed_prekey_message(id, &public))),
            created_at: self.now,
        };
        let now = self.now;
        let a = self.account_mut(p);
        let old = a.signed_prekey().id;
        a.signed_prekeys.push(key);
        a.next_signed_id += 1;
        retire(&mut a.retired_signed, old, now);
        let kem_id = a.next_kem_id;
        a.next_kem_id += 1;
        let kem = self.kem_key(p, kem_id, KEM_KIND_LAST_RESORT, &seed);
        let a = self.account_mut(p);
        let old = a.last_resort_kem().id;
        a.last_resort_kems.push(kem);
        retire(&mut a.retired_last_resort, old, now);
        self.upload(p);
    }

    /// SPEC.md §8.3: `PreKeyRotationDue` once the older of the current keys is
    /// `PREKEY_ROTATION_SECS` old, then `OneTimePreKeysLow`. (The replay-record threshold
    /// cannot be reached in a vector.)
    fn maintenance_events(&self, p: Party) -> Vec<Value> {
        let a = self.account(p);
        let oldest = a
            .signed_prekey()
            .created_at
            .min(a.last_resort_kem().created_at);
        let mut events = Vec::new();
        if self.now >= oldest + PREKEY_ROTATION_SECS {
            events.push(ref_event("event.prekey_rotation_due", json!({})));
        }
        events.extend(low_event(a));
        events
    }

    /// SPEC.md §12.1 `decrypt_from`, by the recipient of message `index`.
    fn decrypt_from(&mut self, index: usize) -> RefDelivery {
        let (s, receiver, prekey) = {
            let m = &self.messages[index];
            (m.session, m.sender.other(), m.prekey)
        };
        let known = self.sessions[s].views[receiver.idx()].has_session;
        if prekey && !known {
            // A new session: §4.3, then the simultaneous-initiation rule.
            let mut d = self.deliver(index);
            let id = self.sessions[s].session_id;
            d.events.push(ref_event(
                "event.session_established",
                json!({ "session_id": hx(&id) }),
            ));
            let held = &mut self.held[receiver.idx()];
            let simultaneous = held.first().is_some_and(|&t| {
                let t = &self.sessions[t];
                t.initiator == receiver && !t.views[receiver.idx()].received_any
            });
            held.insert(0, s);
            held.truncate(MAX_SESSIONS_PER_PEER);
            if simultaneous && held.len() >= 2 && self.sessions[held[1]].session_id < id {
                held.swap(0, 1);
            }
            d.held = Some(held.clone());
            return d;
        }
        let held = self.held[receiver.idx()].clone();
        let error = |code: &str, kind: &str, fields: Value| json!({ "code": code, "kind": kind, "fields": fields });
        let mut d = if held.is_empty() {
            RefDelivery {
                inbound: false,
                result: Err(error("peer.unknown_peer", "unknown_session", json!({}))),
                events: Vec::new(),
                stored_after: 0,
                held: None,
            }
        } else if let Some(position) = held.iter().position(|&t| t == s) {
            // Every other held session gives Undecryptable or OtherSession: only `s` opens it.
            let mut d = self.deliver(index);
            match &mut d.result {
                Ok(_) => {
                    if position > 0 && !prekey {
                        let held = &mut self.held[receiver.idx()];
                        held.remove(position);
                        held.insert(0, s);
                        d.events.push(ref_event(
                            "event.active_session_changed",
                            json!({ "session_id": hx(&self.sessions[s].session_id) }),
                        ));
                    }
                }
                Err(e) => {
                    let inner = e.take();
                    let kind = inner["kind"].clone();
                    *e = json!({
                        "code": "peer.decrypt",
                        "kind": kind,
                        "fields": { "error": inner },
                    });
                }
            }
            d
        } else {
            RefDelivery {
                inbound: false,
                result: Err(error(
                    "peer.no_matching_session",
                    "unknown_session",
                    json!({}),
                )),
                events: Vec::new(),
                stored_after: 0,
                held: None,
            }
        };
        d.held = Some(self.held[receiver.idx()].clone());
        d
    }

    fn create_outbound(&mut self, initiator: Party, bundle_index: usize) -> usize {
        let index = self.sessions.len();
        let bundle = &self.bundles[bundle_index];
        let responder = bundle.party;
        assert_eq!(responder, initiator.other());
        let (otk_id, kem_id, kem_kind, spk_id, spk) = (
            bundle.one_time_prekey_id,
            bundle.kem_prekey_id,
            bundle.kem_kind,
            bundle.signed_prekey_id,
            bundle.signed_prekey_public,
        );
        let base_private: [u8; 32] =
            self.draw(format!("session{index}.{}.base_key", initiator.name()));
        let kem_m: [u8; 32] = self.draw(format!("session{index}.kem_encaps_m"));

        let me = self.account(initiator);
        let them = self.account(responder);
        let base_public = x25519_public(&base_private);
        let otk = otk_id.map(|id| them.one_time.iter().find(|k| k.id == id).unwrap().public);
        let kem_public = if kem_kind == KEM_KIND_ONE_TIME {
            &them
                .one_time_kem
                .iter()
                .find(|k| k.id == kem_id)
                .unwrap()
                .public
        } else {
            &them
                .last_resort_kems
                .iter()
                .find(|k| k.id == kem_id)
                .unwrap()
                .public
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
        prekey_fields.extend_from_slice(&spk_id.to_be_bytes());
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
        index
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
        let events = if inbound { self.respond(s) } else { Vec::new() };
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
            events,
            stored_after: view.stored_keys(),
            held: None,
        }
    }

    /// The responder's side of the key agreement, from its own secrets: must agree with the
    /// initiator's. Returns the events of SPEC.md §4.3 step 12.
    fn respond(&mut self, s: usize) -> Vec<Value> {
        let session = &self.sessions[s];
        let bundle = &self.bundles[session.bundle];
        let me = self.account(session.responder);
        let them = self.account(session.initiator);
        let spk = me
            .accepted_signed_prekey(bundle.signed_prekey_id, self.now)
            .expect("the scenario delivers only messages whose signed prekey is accepted");
        let kem = me
            .accepted_kem_prekey(bundle.kem_prekey_id, self.now)
            .expect("the scenario delivers only messages whose ML-KEM prekey is accepted");
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
        assert_eq!(kem.kind, bundle.kem_kind);
        assert_eq!(dh, session.dh, "responder and initiator DH outputs differ");
        assert_eq!(
            kem_decapsulate(&kem.seed, &session.kem_ciphertext),
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
        let mut events = Vec::new();
        if let Some(id) = otk {
            events.push(ref_event(
                "event.one_time_prekey_consumed",
                json!({ "id": id }),
            ));
        }
        events.push(if kem_kind == KEM_KIND_ONE_TIME {
            ref_event("event.kem_prekey_consumed", json!({ "id": kem_id }))
        } else {
            ref_event("event.last_resort_kem_prekey_used", json!({ "id": kem_id }))
        });
        events.extend(low_event(self.account(responder)));
        events
    }
}

/// `OneTimePreKeysLow` if fewer than `ONE_TIME_PREKEYS_LOW` unused keys of either kind are left.
fn low_event(a: &RefAccount) -> Option<Value> {
    let (x, kem) = a.unused_one_time();
    (x < ONE_TIME_PREKEYS_LOW || kem < ONE_TIME_PREKEYS_LOW).then(|| {
        ref_event(
            "event.one_time_prekeys_low",
            json!({ "x25519_remaining": x, "kem_remaining": kem }),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// The library side.

struct Library {
    rng: TapeRng,
    now: Timestamp,
    accounts: [Option<Device>; 2],
    servers: [Option<PublishedPreKeys>; 2],
    bundles: Vec<PreKeyBundle>,
    /// The `Session` values of `create_outbound_session` and `create_inbound_session`; sessions
    /// held by an account (`start_session`, `decrypt_from`) stay inside it.
    sessions: Vec<[Option<Session>; 2]>,
    /// The session ids, by session index (both kinds).
    session_ids: Vec<[u8; 32]>,
    /// (session, sender, wire) of every message; the session is `None` for `encrypt_for`.
    messages: Vec<(Option<usize>, Party, Vec<u8>)>,
    /// Accounts, sessions and clock after each event, for the invalid inputs.
    snapshots: Vec<Snapshot>,
}

type Snapshot = ([Option<Device>; 2], Vec<[Option<Session>; 2]>, Timestamp);

/// What the library gave for a delivery or an account call.
struct LibDelivery {
    result: Result<Vec<u8>, Value>,
    events: Vec<Value>,
    stored_after: Option<usize>,
    session_id: Option<[u8; 32]>,
    /// For `decrypt_from`: the ids of the sessions held with the sender, active first.
    held: Option<Vec<[u8; 32]>>,
}

impl Library {
    fn account(&mut self, party: Party) -> &mut Device {
        self.accounts[party.idx()].as_mut().unwrap()
    }

    fn identity(&self, party: Party) -> hushwire::IdentityKey {
        *self.accounts[party.idx()].as_ref().unwrap().identity_key()
    }

    fn apply(&mut self, op: &Op) -> Option<LibDelivery> {
        match op {
            Op::CreateAccount(p) => {
                let acct = Device::new(self.now, &mut self.rng);
                self.servers[p.idx()] = Some(acct.account().published_prekeys());
                self.accounts[p.idx()] = Some(acct);
            }
            Op::GenerateOneTimePreKeys { party, x25519, kem } => {
                let (now, acct) = (self.now, self.accounts[party.idx()].as_mut().unwrap());
                acct.account_mut()
                    .generate_one_time_prekeys(*x25519, *kem, now, &mut self.rng)
                    .unwrap();
                self.servers[party.idx()] = Some(acct.account().published_prekeys());
            }
            Op::TakeBundle(p) => {
                let bundle = self.servers[p.idx()].as_mut().unwrap().take_bundle();
                self.bundles.push(bundle);
            }
            Op::CreateOutboundSession { party, bundle } => {
                let acct = self.accounts[party.idx()].as_ref().unwrap();
                let session = acct
                    .account()
                    .create_outbound_session(&self.bundles[*bundle], &mut self.rng)
                    .unwrap();
                self.session_ids.push(*session.session_id().as_bytes());
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
                self.messages.push((Some(*session), *party, wire));
            }
            Op::Deliver { message } => {
                let (s, sender, wire) = self.messages[*message].clone();
                let s = s.expect("deliver is for messages of Session values");
                let receiver = sender.other();
                let now = self.now;
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
                            stored_after: Some(session.stored_skipped_keys()),
                            session_id: Some(*session.session_id().as_bytes()),
                            held: None,
                        }
                    }
                    None => {
                        let inbound = self
                            .account(receiver)
                            .account_mut()
                            .create_inbound_session(&wire, now)
                            .unwrap();
                        let delivery = LibDelivery {
                            result: Ok(inbound.plaintext),
                            events: events_json(&inbound.events),
                            stored_after: Some(inbound.session.stored_skipped_keys()),
                            session_id: Some(*inbound.session.session_id().as_bytes()),
                            held: None,
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
            Op::SetClock(now) => self.now = Timestamp::from_unix_secs(*now),
            Op::RotatePreKeys(p) => {
                let (now, acct) = (self.now, self.accounts[p.idx()].as_mut().unwrap());
                acct.account_mut().rotate_prekeys(now, &mut self.rng);
                self.servers[p.idx()] = Some(acct.account().published_prekeys());
            }
            Op::MaintenanceEvents(p) => {
                let now = self.now;
                let events = self.account(*p).account().maintenance_events(now);
                return Some(LibDelivery {
                    result: Ok(Vec::new()),
                    events: events_json(&events),
                    stored_after: None,
                    session_id: None,
                    held: None,
                });
            }
            Op::StartSession { party, bundle } => {
                let bundle = self.bundles[*bundle].clone();
                let id = self.accounts[party.idx()]
                    .as_mut()
                    .unwrap()
                    .start_session(&bundle, &mut self.rng)
                    .unwrap();
                self.session_ids.push(*id.session_id.as_bytes());
                self.sessions.push([None, None]);
            }
            Op::EncryptFor { party, plaintext } => {
                let peer = self.identity(party.other());
                let acct = self.accounts[party.idx()].as_mut().unwrap();
                let wire = acct
                    .encrypt_for(&peer, plaintext.as_bytes(), &mut self.rng)
                    .unwrap();
                self.messages.push((None, *party, wire));
            }
            Op::DecryptFrom { message } => {
                let (_, sender, wire) = self.messages[*message].clone();
                let peer = self.identity(sender);
                let now = self.now;
                let acct = self.account(sender.other());
                let delivery = match acct.decrypt_from(&peer, &wire, now) {
                    Ok(d) => LibDelivery {
                        result: Ok(d.plaintext),
                        events: events_json(&d.events),
                        stored_after: None,
                        session_id: Some(*d.session_id.as_bytes()),
                        held: None,
                    },
                    Err(e) => LibDelivery {
                        result: Err(error_json(e)),
                        events: Vec::new(),
                        stored_after: None,
                        session_id: None,
                        held: None,
                    },
                };
                let held = acct
                    .sessions_with(&peer)
                    .iter()
                    .map(|id| *id.as_bytes())
                    .collect();
                return Some(LibDelivery {
                    held: Some(held),
                    ..delivery
                });
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rotated_prekeys: Vec<RotatedJson>,
}

/// The keys one `rotate_prekeys` made.
#[derive(Serialize)]
struct RotatedJson {
    at: u64,
    signed_prekey: SignedPreKeyJson,
    last_resort_kem_prekey: KemPreKeyJson,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    party: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    now: Option<u64>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    held_sessions: Option<Vec<usize>>,
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
    claimed_sender: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<usize>,
    after_event: usize,
    now: u64,
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
        Mutation::ZeroSignedPreKeyResigned => {
            let Source::Bundle(i) = source else {
                panic!("only bundles hold a signed prekey")
            };
            let seed = reference.account(reference.bundles[i].party).identity_seed;
            let id = u32::from_be_bytes(arr(&out[34..38]));
            out[38..70].copy_from_slice(&[0u8; 32]);
            out[70..134]
                .copy_from_slice(&ed25519_sign(&seed, &signed_prekey_message(id, &[0u8; 32])));
        }
    }
    out
}

/// A state blob of an account, with a fixed nonce: equal blobs mean equal accounts.
fn account_state(account: &Device) -> Vec<u8> {
    let key = hushwire::StorageKey::from_bytes([7; 32]);
    account.to_encrypted(&key, 0, &mut TapeRng::new(tape_stream("state blob", 64)))
}

/// Feeds one invalid input to a copy of its target state; checks the error and that the state
/// did not change.
fn run_case(case: &Case, (accounts, sessions, now): &Snapshot, input: &[u8]) {
    let now = *now;
    let got: hushwire::Error = match case.target {
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
            let before = account_state(&state);
            let err = state
                .account_mut()
                .create_inbound_session(input, now)
                .expect_err("invalid input was accepted");
            assert_eq!(
                account_state(&state),
                before,
                "{}: account changed",
                case.name
            );
            err.into()
        }
        Target::Outbound(party) => {
            let state = accounts[party.idx()].clone().unwrap();
            let bundle = PreKeyBundle::from_bytes(input).unwrap();
            // The base key is drawn before the DH values are checked; any bytes will do.
            let mut rng = TapeRng::new(tape_stream("outbound", 64));
            state
                .account()
                .create_outbound_session(&bundle, &mut rng)
                .expect_err("invalid bundle was accepted")
                .into()
        }
        Target::Peer { party, claimed } => {
            let mut state = accounts[party.idx()].clone().unwrap();
            let before = account_state(&state);
            let claimed = *accounts[claimed.idx()].as_ref().unwrap().identity_key();
            let err = state
                .decrypt_from(&claimed, input, now)
                .expect_err("invalid input was accepted");
            assert_eq!(
                account_state(&state),
                before,
                "{}: account changed",
                case.name
            );
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

/// The library publishes the reference's current signed prekey and last-resort ML-KEM prekey.
fn check_published(account: &Device, r: &RefAccount) {
    let published = account.account().published_prekeys();
    assert_eq!(published.signed_prekey.id, r.signed_prekey().id);
    assert_eq!(published.signed_prekey.key, r.signed_prekey().public);
    assert_eq!(
        published.signed_prekey.signature,
        r.signed_prekey().signature.unwrap()
    );
    assert_eq!(published.last_resort_kem_prekey.id, r.last_resort_kem().id);
    assert_eq!(
        published.last_resort_kem_prekey.key.as_slice(),
        &r.last_resort_kem().public[..]
    );
    assert_eq!(
        published.last_resort_kem_prekey.signature,
        r.last_resort_kem().signature
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
        now: NOW,
        accounts: [None, None],
        servers: [None, None],
        bundles: Vec::new(),
        sessions: Vec::new(),
        session_ids: Vec::new(),
        messages: Vec::new(),
        snapshots: Vec::new(),
    };
    let mut reference = Reference::new(stream);
    let mut events = Vec::new();
    let mut cases = Vec::new();

    for (index, op) in scenario.ops.iter().enumerate() {
        let first_draw = reference.draws.len();
        let lib_out = lib.apply(op);
        let ref_out = reference.apply(op);
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
            party: None,
            now: None,
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
            held_sessions: None,
        };
        match op {
            Op::CreateAccount(p) => {
                event.op = "create_account";
                event.party = Some(p.name());
                let lib_acct = lib.accounts[p.idx()].as_ref().unwrap();
                let r = reference.account(*p);
                assert_eq!(lib_acct.identity_key().as_bytes(), &r.identity_key);
                check_published(lib_acct, r);
            }
            Op::GenerateOneTimePreKeys { party, x25519, kem } => {
                event.op = "generate_one_time_prekeys";
                event.party = Some(party.name());
                event.x25519 = Some(*x25519);
                event.kem = Some(*kem);
                let published = lib.accounts[party.idx()]
                    .as_ref()
                    .unwrap()
                    .account()
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
                event.party = Some(p.name());
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
            Op::CreateOutboundSession { party, bundle } | Op::StartSession { party, bundle } => {
                event.op = if matches!(op, Op::StartSession { .. }) {
                    "start_session"
                } else {
                    "create_outbound_session"
                };
                event.party = Some(party.name());
                event.bundle = Some(*bundle);
                let s = lib.session_ids.len() - 1;
                event.session = Some(s);
                assert_eq!(lib.session_ids[s], reference.sessions[s].session_id);
            }
            Op::Encrypt { session, party, .. } => {
                event.op = "encrypt";
                event.party = Some(party.name());
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
            Op::EncryptFor { party, .. } => {
                event.op = "encrypt_for";
                event.party = Some(party.name());
                let i = lib.messages.len() - 1;
                let s = reference.messages[i].session;
                event.session = Some(s);
                event.message = Some(i);
                check_message(
                    &lib.messages[i].2,
                    &reference.messages[i],
                    &reference.sessions[s],
                    i,
                );
            }
            Op::Deliver { message } | Op::DecryptFrom { message } => {
                let lib_d = lib_out.unwrap();
                let RefOut::Delivery(ref_d) = ref_out else {
                    panic!("a delivery")
                };
                let m = &reference.messages[*message];
                event.op = match op {
                    Op::DecryptFrom { .. } => "decrypt_from",
                    _ if ref_d.inbound => "create_inbound_session",
                    _ => "decrypt",
                };
                event.party = Some(m.sender.other().name());
                event.session = Some(m.session);
                event.message = Some(*message);
                assert_eq!(
                    lib_d.result, ref_d.result,
                    "event {index}: delivery of message {message} gave an unexpected result"
                );
                assert_eq!(
                    lib_d.events, ref_d.events,
                    "event {index}: delivery of message {message} gave other events"
                );
                if let Some(stored) = lib_d.stored_after {
                    assert_eq!(
                        stored, ref_d.stored_after,
                        "event {index}: stored skipped keys after delivering message {message}"
                    );
                    event.stored_skipped_keys = Some(stored);
                }
                if let Some(id) = lib_d.session_id {
                    assert_eq!(id, reference.sessions[m.session].session_id);
                }
                if let Some(held) = lib_d.held {
                    let held: Vec<usize> = held
                        .iter()
                        .map(|id| lib.session_ids.iter().position(|s| s == id).unwrap())
                        .collect();
                    assert_eq!(
                        Some(&held),
                        ref_d.held.as_ref(),
                        "event {index}: sessions held after decrypt_from"
                    );
                    event.held_sessions = Some(held);
                }
                match lib_d.result {
                    Ok(p) => event.plaintext = Some(hx(&p)),
                    Err(e) => event.error = Some(e),
                }
                event.library_events = Some(lib_d.events);
            }
            Op::SetConfig {
                party,
                session,
                config,
            } => {
                event.op = "set_config";
                event.party = Some(party.name());
                event.session = Some(*session);
                event.config = Some(config_json(*config));
            }
            Op::SetClock(now) => {
                event.op = "set_clock";
                event.now = Some(*now);
            }
            Op::RotatePreKeys(p) => {
                event.op = "rotate_prekeys";
                event.party = Some(p.name());
                check_published(
                    lib.accounts[p.idx()].as_ref().unwrap(),
                    reference.account(*p),
                );
            }
            Op::MaintenanceEvents(p) => {
                event.op = "maintenance_events";
                event.party = Some(p.name());
                let RefOut::Events(expected) = ref_out else {
                    panic!("events")
                };
                let got = lib_out.unwrap().events;
                assert_eq!(got, expected, "event {index}: maintenance events");
                event.library_events = Some(got);
            }
        }
        events.push(event);

        lib.snapshots
            .push((lib.accounts.clone(), lib.sessions.clone(), lib.now));
    }

    for case in &scenario.cases {
        let (bytes, source) = match case.source {
            Source::Message(i) => (reference.messages[i].wire.clone(), format!("message {i}")),
            Source::Bundle(i) => (reference.bundles[i].bytes.clone(), format!("bundle {i}")),
            Source::Forged(f) => reference.forge(&f, case.name),
        };
        let input = mutate(&bytes, &case.mutation, &reference, case.source);
        let snapshot = &lib.snapshots[case.after_event];
        run_case(case, snapshot, &input);
        let (target, party, claimed, session) = match case.target {
            Target::Session { party, session } => {
                ("session", Some(party.name()), None, Some(session))
            }
            Target::Account(party) => ("account", Some(party.name()), None, None),
            Target::Bundle => ("bundle", None, None, None),
            Target::Outbound(party) => ("outbound", Some(party.name()), None, None),
            Target::Peer { party, claimed } => {
                ("peer", Some(party.name()), Some(claimed.name()), None)
            }
        };
        cases.push(CaseJson {
            index: cases.len(),
            name: case.name,
            description: case.description,
            target,
            party,
            claimed_sender: claimed,
            session,
            after_event: case.after_event,
            now: snapshot.2.as_unix_secs(),
            config: case.config.map(config_json),
            source,
            mutation: case.mutation.describe(),
            input: hx(&input),
            error: error_json(case.expected),
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
                signed_prekey_id: b.signed_prekey_id,
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

fn signed_prekey_json(k: &RefX25519) -> SignedPreKeyJson {
    SignedPreKeyJson {
        id: k.id,
        private: hx(&k.private),
        public: hx(&k.public),
        signature: hx(&k.signature.unwrap()),
    }
}

fn account_json(party: Party, a: &RefAccount) -> AccountJson {
    AccountJson {
        party: party.name(),
        identity_seed: hx(&a.identity_seed),
        identity_key: hx(&a.identity_key),
        identity_dh_private: hx(&a.dh_private),
        identity_dh_public: hx(&a.dh_public),
        signed_prekey: signed_prekey_json(&a.signed_prekeys[0]),
        last_resort_kem_prekey: kem_json(&a.last_resort_kems[0]),
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
        rotated_prekeys: a
            .signed_prekeys
            .iter()
            .zip(&a.last_resort_kems)
            .skip(1)
            .map(|(spk, kem)| RotatedJson {
                at: spk.created_at,
                signed_prekey: signed_prekey_json(spk),
                last_resort_kem_prekey: kem_json(kem),
            })
            .collect(),
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

pub(super) const FILES: [&str; 8] = [
    "pqxdh_with_one_time_prekey",
    "pqxdh_without_one_time_prekey",
    "conversation",
    "out_of_order",
    "invalid_messages",
    "prekey_rotation",
    "account_sessions",
    // Written and checked by `pq_session.rs` (version-2 sessions, SPEC.md §10.12).
    "pq_ratchet_conversation",
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
fn prekey_rotation() {
    check_file(&rotation_scenario());
}

#[test]
fn account_sessions() {
    let scenario = account_scenario();
    let text = build(&scenario);
    // The scenario means what it says: the late prekey message was read by a session that
    // is not the active one, and no event promoted it.
    let file: Value = serde_json::from_str(&text).unwrap();
    let late = &file["events"][scenario.late_prekey_event.unwrap()];
    assert_ne!(late["held_sessions"][0], late["session"]);
    assert_eq!(late["library_events"], json!([]));
    check_vector_file("", scenario.file, &text);
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
