//! Fixed test vectors of a version-2 (post-quantum ratchet) session
//! (`tests/vectors/pq_ratchet_conversation.json`, SPEC.md §5.9 and §10.12).
//!
//! The scenario runs twice from the same randomness tape: through hushwire's public API, and
//! through an independent reference written here from SPEC.md §4 and §5.9 with the primitive
//! crates only (the primitive helpers are those of `session.rs`). The reference computes the
//! key agreement, every root step of §5.9.2 (ML-KEM key generation from the drawn seed,
//! encapsulation with the drawn `m`, the responder's and initiator's decapsulation), every chain
//! step and the exact bytes of every message (§5.9.3, §5.9.7) and of the forged inputs; the test
//! checks that the library drew the same randomness in the same pieces and produced
//! byte-identical bundles and messages. The expected plaintexts, stored-key counts and errors
//! are written here by hand. The file built from both is compared with the committed one.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the file instead of comparing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hushwire::{Device, PreKeyBundle, Session, SessionVersion};
use serde_json::{Value, json};

use crate::common::vector_file::{canonical_text, check_vector_file};
use crate::common::vector_json::{error_json, events_json};
use crate::common::{NOW, NOW_SECS};

use super::session::{
    LABEL_PQXDH, TAPE_GENERATION, TAPE_MAX, TapeRng, aead_open, aead_seal, arr, chain_step,
    ed25519_sign, hkdf_sha256, hmac_sha256, hx, identity_keys, kem_decapsulate, kem_encapsulate,
    kem_prekey_message, kem_public, session_tag, sha256, signed_prekey_message, tape_stream,
    x25519_dh, x25519_public,
};

const FILE: &str = "pq_ratchet_conversation";
/// SPEC.md §5.9.2, written out again.
const LABEL_PQ_ROOT: &[u8] = b"hushwire/v1/pq-ratchet/root";
const TYPE_PREKEY_V2: u8 = 0x05;
const TYPE_RATCHET_V2: u8 = 0x04;
const KEM_NONE: u8 = 0x00;
const KEM_KEY: u8 = 0x01;
const KEM_CIPHERTEXT: u8 = 0x02;
const KEM_PART_PLAIN_LEN: usize = 1184;
const ALICE: usize = 0;
const BOB: usize = 1;
const PARTY: [&str; 2] = ["alice", "bob"];

#[derive(Clone, Copy)]
enum Op {
    CreateAccount(usize),
    TakeBundle,
    CreateOutbound,
    Encrypt(usize, &'static str),
    /// Bob's `create_inbound_session` with a message; stored skipped keys after.
    Inbound(usize, usize),
    /// (recipient, message, stored skipped keys after, or the expected duplicate counter).
    Decrypt(usize, usize, Result<usize, u32>),
}

/// The scenario: K = 1 (every initiator chain carries a key, every responder chain the
/// ciphertext answering it), a burst of three delivered out of order, a two-message initiator
/// chain delivered reversed, and a replay.
const SCRIPT: [Op; 25] = [
    Op::CreateAccount(ALICE),
    Op::CreateAccount(BOB),
    Op::TakeBundle,
    Op::CreateOutbound,
    Op::Encrypt(ALICE, "hello, post-quantum Bob"),
    Op::Encrypt(ALICE, "second prekey message"),
    Op::Inbound(0, 0),
    Op::Decrypt(BOB, 1, Ok(0)),
    Op::Encrypt(BOB, "hi Alice: ciphertext 1"),
    Op::Encrypt(BOB, "burst 2"),
    Op::Encrypt(BOB, "burst 3"),
    Op::Decrypt(ALICE, 4, Ok(2)),
    Op::Decrypt(ALICE, 2, Ok(1)),
    Op::Decrypt(ALICE, 3, Ok(0)),
    Op::Encrypt(ALICE, "new key on chain 2"),
    Op::Decrypt(BOB, 5, Ok(0)),
    Op::Encrypt(BOB, "ciphertext for chain 2"),
    Op::Decrypt(ALICE, 6, Ok(0)),
    Op::Encrypt(ALICE, "chain 4, first"),
    Op::Encrypt(ALICE, "chain 4, second"),
    Op::Decrypt(BOB, 8, Ok(1)),
    Op::Decrypt(BOB, 7, Ok(0)),
    Op::Encrypt(BOB, "last reply"),
    Op::Decrypt(ALICE, 9, Ok(0)),
    Op::Decrypt(ALICE, 9, Err(0)),
];

// ---------------------------------------------------------------------------------------------
// The reference.

struct RefTape {
    bytes: Vec<u8>,
    pos: usize,
    draws: Vec<(String, usize, usize)>,
}

impl RefTape {
    fn draw<const N: usize>(&mut self, purpose: String) -> [u8; N] {
        let out = arr(&self.bytes[self.pos..self.pos + N]);
        self.draws.push((purpose, self.pos, N));
        self.pos += N;
        out
    }
}

struct RefAccount {
    identity_seed: [u8; 32],
    identity_key: [u8; 32],
    dh_private: [u8; 32],
    dh_public: [u8; 32],
    spk_private: [u8; 32],
    spk_public: [u8; 32],
    spk_signature: [u8; 64],
    kem_seed: [u8; 64],
    kem_public: Vec<u8>,
    kem_signature: [u8; 64],
}

struct RefChain {
    sender: usize,
    ratchet_private: [u8; 32],
    ratchet_public: [u8; 32],
    their_ratchet_public: [u8; 32],
    dh: [u8; 32],
    kem_kind: u8,
    /// Initiator chains: the 64-byte ML-KEM seed and its encapsulation key.
    kem_seed: Option<[u8; 64]>,
    /// The encapsulation key this chain carries, or (responder) answers.
    kem_key: Option<Vec<u8>>,
    kem_m: Option<[u8; 32]>,
    kem_ciphertext: Option<Vec<u8>>,
    kem_shared_secret: Option<[u8; 32]>,
    ikm: Vec<u8>,
    info: Vec<u8>,
    root_key_in: [u8; 32],
    root_key_out: [u8; 32],
    chain_key: [u8; 32],
    next_header_key: [u8; 32],
    header_key: [u8; 32],
    kem_part_key: [u8; 32],
    previous_chain_length: u32,
    epoch: u32,
    messages: u32,
    running_chain_key: [u8; 32],
}

struct RefMessage {
    sender: usize,
    chain: usize,
    counter: u32,
    prekey: bool,
    plaintext: Vec<u8>,
    chain_key: [u8; 32],
    message_key: [u8; 32],
    nonce: [u8; 12],
    header: Vec<u8>,
    encrypted_header: Vec<u8>,
    session_tag: Vec<u8>,
    kem_part: Vec<u8>,
    body_ad: Vec<u8>,
    body: Vec<u8>,
    ratchet_message: Vec<u8>,
    wire: Vec<u8>,
}

#[derive(Default)]
struct RefParty {
    /// The peer's newest chain received, and whether the next encrypt takes a sending step.
    last_received: Option<usize>,
    step_due: bool,
    current: Option<usize>,
    heard_back: bool,
}

struct Agreement {
    base_private: [u8; 32],
    base_public: [u8; 32],
    kem_m: [u8; 32],
    kem_ciphertext: Vec<u8>,
    kem_shared_secret: [u8; 32],
    dh: [[u8; 32]; 3],
    ikm: Vec<u8>,
    info: Vec<u8>,
    okm: Vec<u8>,
    prekey_fields: Vec<u8>,
}

struct Reference {
    tape: RefTape,
    /// Draw indices of each event.
    event_draws: Vec<Vec<usize>>,
    accounts: Vec<RefAccount>,
    bundle: Vec<u8>,
    agreement: Option<Agreement>,
    chains: Vec<RefChain>,
    messages: Vec<RefMessage>,
    parties: [RefParty; 2],
}

impl Reference {
    fn agreement(&self) -> &Agreement {
        self.agreement.as_ref().unwrap()
    }
    fn ad(&self) -> Vec<u8> {
        [
            self.accounts[ALICE].identity_key,
            self.accounts[BOB].identity_key,
        ]
        .concat()
    }
    fn okm(&self, range: std::ops::Range<usize>) -> [u8; 32] {
        arr(&self.agreement().okm[range])
    }

    fn run() -> Self {
        let mut r = Reference {
            tape: RefTape {
                bytes: tape_stream(&format!("hushwire/v1/test-vectors/{FILE}"), TAPE_MAX),
                pos: 0,
                draws: Vec::new(),
            },
            event_draws: Vec::new(),
            accounts: Vec::new(),
            bundle: Vec::new(),
            agreement: None,
            chains: Vec::new(),
            messages: Vec::new(),
            parties: Default::default(),
        };
        for op in SCRIPT {
            let before = r.tape.draws.len();
            r.step(op);
            r.event_draws.push((before..r.tape.draws.len()).collect());
        }
        r
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::CreateAccount(p) => {
                let identity_seed = self.tape.draw(format!("{}.identity_seed", PARTY[p]));
                let spk_private = self
                    .tape
                    .draw(format!("{}.signed_prekey[1].private", PARTY[p]));
                let kem_seed = self
                    .tape
                    .draw(format!("{}.last_resort_kem_prekey[1].seed", PARTY[p]));
                let (identity_key, dh_private, dh_public) = identity_keys(&identity_seed);
                let spk_public = x25519_public(&spk_private);
                let kem_pub = kem_public(&kem_seed);
                self.accounts.push(RefAccount {
                    identity_seed,
                    identity_key,
                    dh_private,
                    dh_public,
                    spk_private,
                    spk_public,
                    spk_signature: ed25519_sign(
                        &identity_seed,
                        &signed_prekey_message(1, &spk_public),
                    ),
                    kem_signature: ed25519_sign(
                        &identity_seed,
                        &kem_prekey_message(1, 2, &kem_pub),
                    ),
                    kem_seed,
                    kem_public: kem_pub,
                });
            }
            Op::TakeBundle => {
                // SPEC.md §6.4, without a one-time prekey, on the last-resort ML-KEM prekey.
                let b = &self.accounts[BOB];
                self.bundle = [
                    &[1u8, 0x10][..],
                    &b.identity_key,
                    &1u32.to_be_bytes(),
                    &b.spk_public,
                    &b.spk_signature,
                    &[0],
                    &1u32.to_be_bytes(),
                    &[2],
                    &b.kem_public,
                    &b.kem_signature,
                ]
                .concat();
            }
            Op::CreateOutbound => self.create_outbound(),
            Op::Encrypt(p, text) => self.encrypt(p, text.as_bytes()),
            Op::Inbound(m, _) => {
                self.responder_agreement_check();
                self.receive(BOB, m);
            }
            Op::Decrypt(p, m, _) => self.receive(p, m),
        }
    }

    /// SPEC.md §4.2 (DH1..DH3 + KEM, no one-time prekey), then the initiator's first chain
    /// (§5.4 with the root step of §5.9.2).
    fn create_outbound(&mut self) {
        let base_private: [u8; 32] = self.tape.draw("session0.alice.base_key".into());
        let kem_m: [u8; 32] = self.tape.draw("session0.kem_encaps_m".into());
        let (a, b) = (&self.accounts[ALICE], &self.accounts[BOB]);
        let base_public = x25519_public(&base_private);
        let (kem_ciphertext, kem_shared_secret) = kem_encapsulate(&b.kem_public, &kem_m);
        let dh = [
            x25519_dh(&a.dh_private, &b.spk_public),
            x25519_dh(&base_private, &b.dh_public),
            x25519_dh(&base_private, &b.spk_public),
        ];
        let ikm = [
            &[0xFFu8; 32][..],
            &dh[0],
            &dh[1],
            &dh[2],
            &kem_shared_secret,
        ]
        .concat();
        let info = [
            LABEL_PQXDH,
            &a.identity_key,
            &b.identity_key,
            &base_public,
            &b.spk_public,
            &[0],
            &sha256(&b.kem_public),
            &sha256(&kem_ciphertext),
        ]
        .concat();
        let okm = hkdf_sha256(&[0u8; 32], &ikm, &info, 160);
        // SPEC.md §5.9.7: the prekey fields of §6.3 with type 0x05.
        let prekey_fields = [
            &[1u8, TYPE_PREKEY_V2][..],
            &a.identity_key,
            &base_public,
            &1u32.to_be_bytes(),
            &[0],
            &1u32.to_be_bytes(),
            &kem_ciphertext,
        ]
        .concat();
        self.agreement = Some(Agreement {
            base_private,
            base_public,
            kem_m,
            kem_ciphertext,
            kem_shared_secret,
            dh,
            ikm,
            info,
            okm,
            prekey_fields,
        });
        let spk = self.accounts[BOB].spk_public;
        let rk0 = self.okm(0..32);
        self.start_chain(ALICE, spk, rk0);
    }

    /// Bob's side of the key agreement from his own secrets (§4.3) gives the same values.
    fn responder_agreement_check(&self) {
        let (a, b, g) = (&self.accounts[ALICE], &self.accounts[BOB], self.agreement());
        assert_eq!(x25519_dh(&b.spk_private, &a.dh_public), g.dh[0]);
        assert_eq!(x25519_dh(&b.dh_private, &g.base_public), g.dh[1]);
        assert_eq!(x25519_dh(&b.spk_private, &g.base_public), g.dh[2]);
        assert_eq!(
            kem_decapsulate(&b.kem_seed, &g.kem_ciphertext),
            g.kem_shared_secret
        );
    }

    /// A sending step of `p` (SPEC.md §5.9.4): the next chain, answering `their` (the peer's
    /// ratchet key it last received, or the signed prekey).
    fn start_chain(&mut self, p: usize, their: [u8; 32], root_key_in: [u8; 32]) {
        let g = self.chains.len();
        let ratchet_private: [u8; 32] = self
            .tape
            .draw(format!("session0.{}.ratchet_key[chain {g}]", PARTY[p]));
        let ratchet_public = x25519_public(&ratchet_private);
        let dh = x25519_dh(&ratchet_private, &their);
        let mut chain_kem = (KEM_NONE, None, None, None, None, None);
        if p == ALICE {
            // K = 1: every initiator chain carries a fresh key.
            let seed: [u8; 64] = self.tape.draw(format!("session0.kem_seed[chain {g}]"));
            chain_kem = (
                KEM_KEY,
                Some(seed),
                Some(kem_public(&seed)),
                None,
                None,
                None,
            );
        } else if let Some(key) = self.chains[g - 1].kem_key.clone() {
            let m: [u8; 32] = self.tape.draw(format!("session0.kem_encaps_m[chain {g}]"));
            let (ct, ss) = kem_encapsulate(&key, &m);
            // The initiator decapsulates with the seed of the chain answered.
            assert_eq!(
                kem_decapsulate(&self.chains[g - 1].kem_seed.unwrap(), &ct),
                ss
            );
            chain_kem = (KEM_CIPHERTEXT, None, Some(key), Some(m), Some(ct), Some(ss));
        }
        let (kem_kind, kem_seed, kem_key, kem_m, kem_ciphertext, kem_shared_secret) = chain_kem;
        // SPEC.md §5.9.2.
        let mut info = [LABEL_PQ_ROOT, &ratchet_public, &their].concat();
        let mut ikm = dh.to_vec();
        if let (Some(ss), Some(ct)) = (&kem_shared_secret, &kem_ciphertext) {
            info.push(0x01);
            info.extend_from_slice(&sha256(kem_key.as_ref().unwrap()));
            info.extend_from_slice(&sha256(ct));
            ikm.extend_from_slice(ss);
        } else {
            info.push(0x00);
        }
        let okm = hkdf_sha256(&root_key_in, &ikm, &info, 96);
        let header_key = match g {
            0 => self.okm(32..64),
            1 => self.okm(64..96),
            _ => self.chains[g - 2].next_header_key,
        };
        let previous_chain_length = if g >= 2 {
            self.chains[g - 2].messages
        } else {
            0
        };
        let chain_key = arr(&okm[32..64]);
        self.chains.push(RefChain {
            sender: p,
            ratchet_private,
            ratchet_public,
            their_ratchet_public: their,
            dh,
            kem_kind,
            kem_seed,
            kem_key,
            kem_m,
            kem_ciphertext,
            kem_shared_secret,
            ikm,
            info,
            root_key_in,
            root_key_out: arr(&okm[..32]),
            chain_key,
            next_header_key: arr(&okm[64..]),
            header_key,
            kem_part_key: hmac_sha256(&header_key, &[0x05]),
            previous_chain_length,
            epoch: u32::try_from(g / 2 + 1).unwrap(),
            messages: 0,
            running_chain_key: chain_key,
        });
        self.parties[p].current = Some(g);
        self.parties[p].step_due = false;
    }

    fn encrypt(&mut self, p: usize, plaintext: &[u8]) {
        if self.parties[p].step_due {
            let their = self.chains[self.parties[p].last_received.unwrap()].ratchet_public;
            let root = self.chains.last().unwrap().root_key_out;
            self.start_chain(p, their, root);
        }
        let g = self.parties[p].current.unwrap();
        let index = self.messages.len();
        let nonce: [u8; 12] = self
            .tape
            .draw(format!("session0.header_nonce[message {index}]"));
        let ad = self.ad();
        let tag_key = self.okm(128..160);
        let c = &mut self.chains[g];
        let counter = c.messages;
        let chain_key = c.running_chain_key;
        let (next, message_key) = chain_step(&chain_key);
        c.running_chain_key = next;
        c.messages += 1;
        let c = &self.chains[g];
        // SPEC.md §5.9.3.
        let header = [
            &c.ratchet_public[..],
            &c.previous_chain_length.to_be_bytes(),
            &counter.to_be_bytes(),
            &[c.kem_kind],
        ]
        .concat();
        let header_ad = [&[1u8, TYPE_RATCHET_V2][..], &ad].concat();
        let encrypted_header = aead_seal(&c.header_key, &nonce, &header_ad, &header);
        let role = if p == ALICE { 0x01 } else { 0x02 };
        let session_tag = session_tag(&tag_key, role, &nonce, &encrypted_header, c.epoch);
        let prefix = [
            &[1u8, TYPE_RATCHET_V2][..],
            &nonce,
            &encrypted_header,
            &session_tag,
        ]
        .concat();
        let kem_plain = match c.kem_kind {
            KEM_KEY => c.kem_key.clone().unwrap(),
            KEM_CIPHERTEXT => {
                let mut v = c.kem_ciphertext.clone().unwrap();
                v.resize(KEM_PART_PLAIN_LEN, 0);
                v
            }
            _ => Vec::new(),
        };
        let kem_part = if kem_plain.is_empty() {
            Vec::new()
        } else {
            aead_seal(&c.kem_part_key, &nonce, &prefix, &kem_plain)
        };
        let body_ad = [&ad[..], &prefix, &kem_part].concat();
        let body = aead_seal(&message_key, &nonce, &body_ad, plaintext);
        let ratchet_message = [&prefix[..], &kem_part, &body].concat();
        let prekey = p == ALICE && !self.parties[ALICE].heard_back;
        let wire = if prekey {
            [&self.agreement().prekey_fields[..], &ratchet_message].concat()
        } else {
            ratchet_message.clone()
        };
        self.messages.push(RefMessage {
            sender: p,
            chain: g,
            counter,
            prekey,
            plaintext: plaintext.to_vec(),
            chain_key,
            message_key,
            nonce,
            header,
            encrypted_header,
            session_tag,
            kem_part,
            body_ad,
            body,
            ratchet_message,
            wire,
        });
    }

    fn receive(&mut self, p: usize, m: usize) {
        let chain = self.messages[m].chain;
        let party = &mut self.parties[p];
        party.heard_back = true;
        if party.last_received.is_none_or(|l| chain > l) {
            party.last_received = Some(chain);
            party.step_due = true;
        }
    }

    /// SPEC.md §10.10 "forged": a header only a holder of the chain's header key could make,
    /// with `kem_kind`, under the header key of chain `g` (the next one's: `chains[g - 2]`'s
    /// `next_header_key` when `g` was never started), sent by `sender` with a new ratchet key.
    fn forge(&self, name: &str, g: usize, sender: usize, pn: u32, kem_kind: u8) -> Vec<u8> {
        let nonce: [u8; 12] =
            arr(&sha256(&[b"hushwire/v1/test-vectors/forged/", name.as_bytes()].concat())[..12]);
        let ratchet_key = x25519_public(&sha256(b"hushwire/v1/test-vectors/forged-ratchet-key"));
        let header_key = self.chains[g - 2].next_header_key;
        let header = [
            &ratchet_key[..],
            &pn.to_be_bytes(),
            &0u32.to_be_bytes(),
            &[kem_kind],
        ]
        .concat();
        let ad = [&[1u8, TYPE_RATCHET_V2][..], &self.ad()].concat();
        let eh = aead_seal(&header_key, &nonce, &ad, &header);
        let role = if sender == ALICE { 0x01 } else { 0x02 };
        let epoch = u32::try_from(g / 2 + 1).unwrap();
        let tag = session_tag(&self.okm(128..160), role, &nonce, &eh, epoch);
        let rest = if kem_kind == KEM_NONE { 16 } else { 1216 };
        [
            &[1u8, TYPE_RATCHET_V2][..],
            &nonce,
            &eh,
            &tag,
            &vec![0u8; rest],
        ]
        .concat()
    }
}

// ---------------------------------------------------------------------------------------------
// Invalid inputs.

struct Case {
    name: &'static str,
    description: &'static str,
    target: &'static str,
    party: usize,
    after_event: usize,
    source: String,
    input: Vec<u8>,
    error: Value,
}

fn cases(r: &Reference) -> Vec<Case> {
    let relabel = |m: usize, at: &[(usize, u8)]| {
        let mut w = r.messages[m].wire.clone();
        for &(i, b) in at {
            w[i] = b;
        }
        w
    };
    let embedded = r.agreement().prekey_fields.len();
    let mut stripped = r.messages[6].wire.clone();
    stripped.drain(83..83 + 1200);
    vec![
        Case {
            name: "downgrade_prekey_type_only",
            description: "the first message (0x05) relabelled 0x02: the version-1 decoder finds an embedded 0x04",
            target: "account",
            party: BOB,
            after_event: 5,
            source: "message 0, byte 1 set to 0x02".into(),
            input: relabel(0, &[(1, 0x02)]),
            error: json!({"code": "handshake.malformed", "kind": "malformed", "fields": {"error":
                {"code": "decode.wrong_type", "kind": "malformed", "fields": {"expected": "0x01", "found": "0x04"}}}}),
        },
        Case {
            name: "downgrade_prekey_and_embedded_type",
            description: "the first message relabelled 0x05 -> 0x02 and its embedded 0x04 -> 0x01: it decodes, the first decrypt fails",
            target: "account",
            party: BOB,
            after_event: 5,
            source: format!("message 0, byte 1 set to 0x02 and byte {} set to 0x01", embedded + 1),
            input: relabel(0, &[(1, 0x02), (embedded + 1, 0x01)]),
            error: json!({"code": "handshake.first_message", "kind": "tampered", "fields": {"error":
                {"code": "decrypt.undecryptable", "kind": "tampered", "fields": {}}}}),
        },
        Case {
            name: "version1_type_in_version2_session",
            description: "a ratchet message of the session relabelled 0x04 -> 0x01",
            target: "session",
            party: ALICE,
            after_event: 11,
            source: "message 3, byte 1 set to 0x01".into(),
            input: relabel(3, &[(1, 0x01)]),
            error: json!({"code": "decrypt.session_version_mismatch", "kind": "tampered",
                "fields": {"session": 2, "message": 1}}),
        },
        Case {
            name: "kem_part_missing",
            description: "forged in session 0: a new responder chain without the ciphertext due for the initiator's key-carrying chain 2",
            target: "session",
            party: ALICE,
            after_event: 14,
            source: "forged in session 0: chain 3 (header key chains[1].next_header_key), sender bob, epoch 2, forged ratchet key, PN 3, N 0, kem_kind 0x00, 16 zero bytes".into(),
            input: r.forge("kem_part_missing", 3, BOB, 3, KEM_NONE),
            error: json!({"code": "decrypt.kem_part_missing", "kind": "tampered", "fields": {}}),
        },
        Case {
            name: "kem_part_unexpected_direction",
            description: "forged in session 0: a new initiator chain announcing a ciphertext (kem_kind 0x02), which only the responder sends",
            target: "session",
            party: BOB,
            after_event: 14,
            source: "forged in session 0: chain 2 (header key chains[0].next_header_key), sender alice, epoch 2, forged ratchet key, PN 2, N 0, kem_kind 0x02, 1216 zero bytes".into(),
            input: r.forge("kem_part_unexpected_direction", 2, ALICE, 2, KEM_CIPHERTEXT),
            error: json!({"code": "decrypt.kem_part_unexpected", "kind": "tampered", "fields": {}}),
        },
        Case {
            name: "kem_part_removed",
            description: "the responder's ciphertext-carrying message with its 1200-byte KEM part cut out: the header announces a part the rest cannot hold",
            target: "session",
            party: ALICE,
            after_event: 16,
            source: "message 6, bytes 83..1283 removed".into(),
            input: stripped,
            error: json!({"code": "decrypt.tampered", "kind": "tampered", "fields": {}}),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// The library run, checked against the reference, and the file.

fn account_state(device: &Device) -> Vec<u8> {
    let key = hushwire::StorageKey::from_bytes([7; 32]);
    device.to_encrypted(&key, 0, &mut TapeRng::new(tape_stream("state blob", 64)))
}

fn build() -> String {
    let r = Reference::run();
    let cases = cases(&r);
    let mut rng = TapeRng::new(r.tape.bytes.clone());
    let mut devices: [Option<Device>; 2] = [None, None];
    let mut sessions: [Option<Session>; 2] = [None, None];
    let mut bundle: Option<PreKeyBundle> = None;
    let mut wires: Vec<Vec<u8>> = Vec::new();
    let mut events = Vec::new();
    let mut case_errors = Vec::new();
    for (i, op) in SCRIPT.into_iter().enumerate() {
        let before = rng.draws.len();
        let mut event = match op {
            Op::CreateAccount(p) => {
                devices[p] = Some(Device::new(NOW, &mut rng));
                json!({"op": "create_account", "party": PARTY[p]})
            }
            Op::TakeBundle => {
                let b = devices[BOB]
                    .as_ref()
                    .unwrap()
                    .account()
                    .published_prekeys()
                    .take_bundle();
                assert_eq!(b.to_bytes(), r.bundle, "bundle bytes");
                bundle = Some(b);
                json!({"op": "take_bundle", "party": "bob", "bundle": 0})
            }
            Op::CreateOutbound => {
                let s = devices[ALICE]
                    .as_ref()
                    .unwrap()
                    .account()
                    .create_outbound_session_with_version(
                        bundle.as_ref().unwrap(),
                        SessionVersion::V2,
                        &mut rng,
                    )
                    .unwrap();
                assert_eq!(s.version(), SessionVersion::V2);
                sessions[ALICE] = Some(s);
                json!({"op": "create_outbound_session", "party": "alice", "bundle": 0,
                    "session": 0, "session_version": 2})
            }
            Op::Encrypt(p, text) => {
                let wire = sessions[p]
                    .as_mut()
                    .unwrap()
                    .encrypt(text.as_bytes(), &mut rng)
                    .unwrap();
                let m = wires.len();
                assert_eq!(hx(&wire), hx(&r.messages[m].wire), "message {m}");
                wires.push(wire);
                json!({"op": "encrypt", "party": PARTY[p], "session": 0, "message": m})
            }
            Op::Inbound(m, stored) => {
                let inbound = devices[BOB]
                    .as_mut()
                    .unwrap()
                    .account_mut()
                    .create_inbound_session(&wires[m], NOW)
                    .unwrap();
                assert_eq!(inbound.plaintext, r.messages[m].plaintext);
                assert_eq!(inbound.session.version(), SessionVersion::V2);
                assert_eq!(inbound.session.stored_skipped_keys(), stored);
                sessions[BOB] = Some(inbound.session);
                json!({"op": "create_inbound_session", "party": "bob", "session": 0, "message": m,
                    "plaintext": hx(&inbound.plaintext), "library_events": events_json(&inbound.events),
                    "stored_skipped_keys": stored})
            }
            Op::Decrypt(p, m, expected) => {
                let s = sessions[p].as_mut().unwrap();
                let got = s.decrypt(&wires[m]);
                let mut e = json!({"op": "decrypt", "party": PARTY[p], "session": 0, "message": m});
                match (got, expected) {
                    (Ok(d), Ok(stored)) => {
                        assert_eq!(d.plaintext, r.messages[m].plaintext, "event {i}");
                        assert_eq!(s.stored_skipped_keys(), stored, "event {i}");
                        e["plaintext"] = json!(hx(&d.plaintext));
                        e["library_events"] = json!(events_json(&d.events));
                        e["stored_skipped_keys"] = json!(stored);
                    }
                    (Err(err), Err(counter)) => {
                        let want = json!({"code": "decrypt.duplicate", "kind": "replay",
                            "fields": {"counter": counter}});
                        assert_eq!(error_json(err), want, "event {i}");
                        e["error"] = want;
                        e["stored_skipped_keys"] = json!(s.stored_skipped_keys());
                    }
                    (got, _) => panic!("event {i}: unexpected outcome {:?}", got.map(|_| ())),
                }
                e
            }
        };
        // The library drew what the reference drew, in the same pieces.
        let lib: Vec<(usize, usize)> = rng.draws[before..].to_vec();
        let want: Vec<(usize, usize)> = r.event_draws[i]
            .iter()
            .map(|&d| (r.tape.draws[d].1, r.tape.draws[d].2))
            .collect();
        assert_eq!(lib, want, "draws of event {i}");
        event["index"] = json!(i);
        event["draws"] = json!(r.event_draws[i]);
        events.push(event);

        for case in cases.iter().filter(|c| c.after_event == i) {
            let got = match case.target {
                "session" => {
                    let mut s = sessions[case.party].clone().unwrap();
                    let err = s.decrypt(&case.input).expect_err(case.name);
                    assert!(
                        s == *sessions[case.party].as_ref().unwrap(),
                        "{}: session changed",
                        case.name
                    );
                    error_json(err)
                }
                _ => {
                    let mut d = devices[case.party].clone().unwrap();
                    let before = account_state(&d);
                    let err = d
                        .account_mut()
                        .create_inbound_session(&case.input, NOW)
                        .expect_err(case.name);
                    assert_eq!(account_state(&d), before, "{}: account changed", case.name);
                    error_json(err)
                }
            };
            if got != case.error {
                eprintln!("{}: got {got}", case.name);
            }
            case_errors.push(got == case.error);
        }
    }
    assert_eq!(case_errors.len(), cases.len());
    assert!(
        case_errors.iter().all(|ok| *ok),
        "invalid inputs gave other errors"
    );
    // Every message opens with the reference's keys (header, KEM part, body).
    for (i, m) in r.messages.iter().enumerate() {
        let c = &r.chains[m.chain];
        let ad = [&[1u8, TYPE_RATCHET_V2][..], &r.ad()].concat();
        assert_eq!(
            aead_open(&c.header_key, &m.nonce, &ad, &m.encrypted_header).unwrap(),
            m.header
        );
        assert_eq!(
            aead_open(&m.message_key, &m.nonce, &m.body_ad, &m.body).unwrap(),
            m.plaintext,
            "{i}"
        );
    }
    canonical_text(&file_json(&r, &cases, events))
}

fn opt_hx<T: AsRef<[u8]>>(v: &Option<T>) -> Value {
    v.as_ref().map_or(Value::Null, |b| json!(hx(b.as_ref())))
}

fn file_json(r: &Reference, cases: &[Case], events: Vec<Value>) -> Value {
    let g = r.agreement();
    let accounts: Vec<Value> = r
        .accounts
        .iter()
        .enumerate()
        .map(|(p, a)| {
            json!({"party": PARTY[p], "identity_seed": hx(&a.identity_seed), "identity_key": hx(&a.identity_key),
            "identity_dh_private": hx(&a.dh_private), "identity_dh_public": hx(&a.dh_public),
            "signed_prekey": {"id": 1, "private": hx(&a.spk_private), "public": hx(&a.spk_public), "signature": hx(&a.spk_signature)},
            "last_resort_kem_prekey": {"id": 1, "kind": "last_resort", "seed": hx(&a.kem_seed), "public": hx(&a.kem_public), "signature": hx(&a.kem_signature)},
            "one_time_prekeys": [], "one_time_kem_prekeys": []})
        })
        .collect();
    let chains: Vec<Value> = r.chains.iter().enumerate().map(|(i, c)| json!({
        "index": i, "sender": PARTY[c.sender], "ratchet_private": hx(&c.ratchet_private),
        "ratchet_public": hx(&c.ratchet_public), "their_ratchet_public": hx(&c.their_ratchet_public),
        "dh": hx(&c.dh), "kem_kind": c.kem_kind, "kem_seed": opt_hx(&c.kem_seed),
        "kem_encapsulation_key": opt_hx(&c.kem_key), "kem_encaps_m": opt_hx(&c.kem_m),
        "kem_ciphertext": opt_hx(&c.kem_ciphertext), "kem_shared_secret": opt_hx(&c.kem_shared_secret),
        "root_ikm": hx(&c.ikm), "root_info": hx(&c.info), "root_key_in": hx(&c.root_key_in),
        "root_key_out": hx(&c.root_key_out), "chain_key": hx(&c.chain_key),
        "next_header_key": hx(&c.next_header_key), "header_key": hx(&c.header_key),
        "kem_part_key": hx(&c.kem_part_key), "previous_chain_length": c.previous_chain_length,
        "epoch": c.epoch, "messages": c.messages,
    })).collect();
    let messages: Vec<Value> = r.messages.iter().enumerate().map(|(i, m)| json!({
        "index": i, "session": 0, "sender": PARTY[m.sender], "recipient": PARTY[1 - m.sender],
        "chain": m.chain, "counter": m.counter,
        "previous_chain_length": r.chains[m.chain].previous_chain_length,
        "kind": if m.prekey { "prekey" } else { "ratchet" },
        "plaintext": hx(&m.plaintext), "plaintext_utf8": String::from_utf8(m.plaintext.clone()).unwrap(),
        "chain_key": hx(&m.chain_key), "message_key": hx(&m.message_key),
        "next_chain_key": hx(&chain_step(&m.chain_key).0), "header_key": hx(&r.chains[m.chain].header_key),
        "header_nonce": hx(&m.nonce), "header_plaintext": hx(&m.header),
        "header_ad": hx(&[&[1u8, TYPE_RATCHET_V2][..], &r.ad()].concat()),
        "encrypted_header": hx(&m.encrypted_header), "epoch": r.chains[m.chain].epoch,
        "session_tag": hx(&m.session_tag), "kem_part": hx(&m.kem_part), "body_ad": hx(&m.body_ad),
        "body": hx(&m.body), "ratchet_message": hx(&m.ratchet_message), "wire": hx(&m.wire),
    })).collect();
    let used = r.tape.pos;
    let draws: Vec<Value> = r
        .tape
        .draws
        .iter()
        .enumerate()
        .map(|(i, (purpose, off, len))| {
            json!({
                "index": i, "purpose": purpose, "offset": off, "length": len,
                "value": hx(&r.tape.bytes[*off..off + len]),
            })
        })
        .collect();
    let invalid: Vec<Value> = cases.iter().enumerate().map(|(i, c)| json!({
        "index": i, "name": c.name, "description": c.description, "target": c.target,
        "party": PARTY[c.party], "session": if c.target == "session" { json!(0) } else { Value::Null },
        "after_event": c.after_event, "now": NOW_SECS, "config": Value::Null,
        "source": c.source, "input": hx(&c.input), "error": c.error,
    })).collect();
    json!({
        "vector": FILE,
        "description": "A version-2 session (SPEC.md §5.9): key agreement on a bundle without a one-time X25519 prekey, Alice's two 0x05 prekey messages, then ratchet messages of type 0x04 in both directions with the default schedule K = 1 (every initiator chain carries a fresh ML-KEM-768 key, every responder chain the ciphertext answering it): a burst of three delivered last-first, a two-message chain delivered reversed, a replay; and rejected version-2 inputs.",
        "protocol": "hushwire/v1",
        "wire_version": 1,
        "session_version": 2,
        "now_unix_secs": NOW_SECS,
        "tape": {"generation": TAPE_GENERATION, "seed": format!("hushwire/v1/test-vectors/{FILE}"),
            "length": used, "bytes": hx(&r.tape.bytes[..used]), "draws": draws},
        "accounts": accounts,
        "bundles": [{"index": 0, "party": "bob", "signed_prekey_id": 1, "one_time_prekey_id": null,
            "kem_prekey_id": 1, "kem_prekey_kind": "last_resort", "bytes": hx(&r.bundle)}],
        "sessions": [{"index": 0, "initiator": "alice", "responder": "bob", "bundle": 0,
            "session_version": 2,
            "base_key_private": hx(&g.base_private), "base_key_public": hx(&g.base_public),
            "kem_encaps_m": hx(&g.kem_m), "kem_ciphertext": hx(&g.kem_ciphertext),
            "kem_shared_secret": hx(&g.kem_shared_secret), "dh1": hx(&g.dh[0]), "dh2": hx(&g.dh[1]),
            "dh3": hx(&g.dh[2]), "dh4": null, "ikm": hx(&g.ikm), "info": hx(&g.info), "okm": hx(&g.okm),
            "root_key": hx(&g.okm[..32]), "initiator_header_key": hx(&g.okm[32..64]),
            "responder_header_key": hx(&g.okm[64..96]), "session_id": hx(&g.okm[96..128]),
            "session_tag_key": hx(&g.okm[128..160]), "associated_data": hx(&r.ad()),
            "chains": chains}],
        "messages": messages,
        "events": events,
        "invalid_inputs": invalid,
    })
}

#[test]
fn pq_ratchet_conversation() {
    check_vector_file("", FILE, &build());
}
