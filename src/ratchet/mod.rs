//! The Double Ratchet with header encryption (SPEC.md §5).
//!
//! Decrypt works on copies and commits only after the body authenticates, so a failed
//! decrypt leaves the state exactly as it was. The sending half of a DH ratchet step is
//! deferred to the next encrypt, so decrypt needs no randomness and the new ratchet secret
//! exists only once it is used.

mod config;
mod error;
mod pq;
mod receiving;
mod sending;
mod snapshot;

pub use config::{
    DEFAULT_KEM_INTERVAL, DEFAULT_KEM_MESSAGE_BOUND, DEFAULT_MAX_JUMP,
    DEFAULT_MAX_RECEIVING_CHAINS, DEFAULT_MAX_SKIPPED_KEYS, DEFAULT_SKIPPED_KEY_MAX_AGE,
    HARD_MAX_JUMP, HARD_MAX_KEM_INTERVAL, HARD_MAX_KEM_MESSAGE_BOUND, HARD_MAX_RECEIVING_CHAINS,
    HARD_MAX_SKIPPED_KEY_MAX_AGE, HARD_MAX_SKIPPED_KEYS, RatchetConfig, SKIPPED_KEY_MEMORY_BYTES,
};
pub use error::{DecryptError, EncryptError};
pub use pq::SessionVersion;

use std::collections::VecDeque;
use std::sync::OnceLock;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};

use zeroize::Zeroizing;

use crate::aead::{NONCE_LEN, TAG_LEN, open_into, seal_into};
use crate::kdf::{
    KemMix, SenderRole, chain_step, kem_part_key, open_session_tag, root_step, root_step_pq,
    session_tag,
};
use crate::keys::secret::{
    HeaderKey, MessageKey, RootKey, SessionTagKey, SharedSecret, reserve_wiping,
};
use crate::keys::{
    KEM_CIPHERTEXT_LEN, KEM_PUBLIC_KEY_LEN, KemKeyPair, dh_checked, kem_encapsulate,
};
use crate::wire::{
    HEADER_PLAINTEXT_LEN, KEM_PART_LEN, KEM_PART_PLAINTEXT_LEN, PQ_RATCHET_PREFIX_LEN,
    PqRatchetMessage, RATCHET_PREFIX_LEN, RatchetMessage, SESSION_TAG_LEN, TYPE_PQ_RATCHET,
    TYPE_RATCHET, WIRE_VERSION,
};
use pq::{Attachment, KEM_CIPHERTEXT, KEM_KEY, KEM_NONE, PqSchedule};
use receiving::{CurrentChain, Derived, PastChain, StoredKeys, skip_to};
use sending::{SendChain, Sending};
#[cfg(test)]
pub(crate) use snapshot::AttachmentV1;
pub(crate) use snapshot::{ConfigV1, PqRatchetV1, RatchetV1, pq_config_to_live};
#[cfg(test)]
pub(crate) use snapshot::{PastChainV1, StoredKeysV1};

/// The associated data every message of a session authenticates: both identity keys,
/// initiator first (SPEC.md §5.1).
pub(crate) type SessionAd = [u8; 64];

/// Our current ratchet key pair.
#[derive(Clone)]
pub(crate) struct RatchetKeyPair {
    secret: StaticSecret,
    /// `X25519(secret, 9)`, always that of `secret`: computed with the pair, or for a pair
    /// restored from a state blob on its first use (SPEC.md §11.8), so that a restore does
    /// not pay a scalar multiplication the session may never need.
    public: OnceLock<[u8; 32]>,
}

impl RatchetKeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_secret(StaticSecret::random_from_rng(rng))
    }

    pub(crate) fn from_secret(secret: StaticSecret) -> Self {
        let public = OnceLock::from(XPublicKey::from(&secret).to_bytes());
        RatchetKeyPair { secret, public }
    }

    /// A pair restored from a state blob: its public key is computed when first needed.
    pub(crate) fn from_stored_secret(secret: StaticSecret) -> Self {
        RatchetKeyPair {
            secret,
            public: OnceLock::new(),
        }
    }

    pub(crate) fn public(&self) -> &[u8; 32] {
        self.public
            .get_or_init(|| XPublicKey::from(&self.secret).to_bytes())
    }

    pub(crate) fn dh(&self, their: &[u8; 32]) -> Option<SharedSecret> {
        dh_checked(&self.secret, &XPublicKey::from(*their))
    }
}

/// The public half is a function of the secret (computed now or later), so equal secrets
/// are equal pairs.
impl PartialEq for RatchetKeyPair {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.secret.as_bytes().ct_eq(other.secret.as_bytes()))
    }
}

impl Eq for RatchetKeyPair {}

/// The test-only "broken DH" hook (SPEC.md §5.9.8). It models an adversary who breaks
/// X25519: the test replays a conversation from a compromised state with the victims' own
/// RNG, so it knows every X25519 secret and output, while ML-KEM randomness comes from a
/// source set here per run, which the replay does not share. Compiled only into the crate's
/// own tests, never into a build.
#[cfg(test)]
pub(crate) mod broken_dh {
    use std::cell::RefCell;

    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    thread_local! {
        static KEM_ENTROPY: RefCell<Option<ChaCha20Rng>> = const { RefCell::new(None) };
    }

    /// From now on (this thread), ML-KEM randomness comes from a generator seeded with
    /// `seed`, not from the caller's RNG; `None` turns the hook off.
    pub(crate) fn separate_kem_entropy(seed: Option<u64>) {
        KEM_ENTROPY.with(|e| *e.borrow_mut() = seed.map(ChaCha20Rng::seed_from_u64));
    }

    /// Runs `f` with the separate ML-KEM source if the hook is on.
    pub(crate) fn with_kem_rng<T>(f: impl FnOnce(&mut ChaCha20Rng) -> T) -> Option<T> {
        KEM_ENTROPY.with(|e| e.borrow_mut().as_mut().map(f))
    }
}

/// A fresh ML-KEM key pair for a sending chain (from the test hook's source in tests that
/// turn it on).
fn kem_generate<R: CryptoRng + ?Sized>(rng: &mut R) -> KemKeyPair {
    #[cfg(test)]
    if let Some(pair) = broken_dh::with_kem_rng(KemKeyPair::generate) {
        return pair;
    }
    KemKeyPair::generate(rng)
}

/// Encapsulates to the peer's ML-KEM key (the test hook as in [`kem_generate`]).
fn kem_encapsulate_to<R: CryptoRng + ?Sized>(
    key: &[u8; KEM_PUBLIC_KEY_LEN],
    rng: &mut R,
) -> Result<([u8; KEM_CIPHERTEXT_LEN], SharedSecret), crate::error::KeyError> {
    #[cfg(test)]
    if let Some(result) = broken_dh::with_kem_rng(|r| kem_encapsulate(key, r)) {
        return result;
    }
    kem_encapsulate(key, rng)
}

/// A decoded message of either session version, as the ratchet reads it.
#[derive(Clone, Copy)]
pub(crate) struct Incoming<'a> {
    version: SessionVersion,
    bytes: &'a [u8],
    nonce: [u8; NONCE_LEN],
    encrypted_header: &'a [u8],
    session_tag: &'a [u8; SESSION_TAG_LEN],
    /// Bytes before the KEM part or body: version, type, nonce, encrypted header, tag.
    prefix_len: usize,
    /// The KEM part, if the header announces one, and the body.
    rest: &'a [u8],
}

impl<'a> From<&RatchetMessage<'a>> for Incoming<'a> {
    fn from(msg: &RatchetMessage<'a>) -> Self {
        Incoming {
            version: SessionVersion::V1,
            bytes: msg.as_bytes(),
            nonce: *msg.header_nonce(),
            encrypted_header: msg.encrypted_header(),
            session_tag: msg.session_tag(),
            prefix_len: RATCHET_PREFIX_LEN,
            rest: msg.body(),
        }
    }
}

impl<'a> From<&PqRatchetMessage<'a>> for Incoming<'a> {
    fn from(msg: &PqRatchetMessage<'a>) -> Self {
        Incoming {
            version: SessionVersion::V2,
            bytes: msg.as_bytes(),
            nonce: *msg.header_nonce(),
            encrypted_header: msg.encrypted_header(),
            session_tag: msg.session_tag(),
            prefix_len: PQ_RATCHET_PREFIX_LEN,
            rest: msg.rest(),
        }
    }
}

impl<'a> From<&crate::wire::AnyPreKey<'a>> for Incoming<'a> {
    /// The message a prekey message of either version embeds.
    fn from(msg: &crate::wire::AnyPreKey<'a>) -> Self {
        match msg {
            crate::wire::AnyPreKey::V1(m) => Incoming::from(m.message()),
            crate::wire::AnyPreKey::V2(m) => Incoming::from(m.message()),
        }
    }
}

impl<'a> Incoming<'a> {
    fn prefix(&self) -> &'a [u8] {
        self.bytes.get(..self.prefix_len).unwrap_or_default()
    }
}

/// A decrypted header.
struct Header {
    ratchet_key: [u8; 32],
    previous_len: u32,
    counter: u32,
    /// `kem_kind` of a version-2 header ([`KEM_NONE`] in version 1).
    kem_kind: u8,
}

/// A message split once its header is known: what the body authenticates besides the
/// session's associated data, the sealed KEM part, and the body.
struct Framed<'a> {
    authenticated: &'a [u8],
    kem_part: Option<&'a [u8]>,
    body: &'a [u8],
}

fn frame<'a>(msg: &Incoming<'a>, header: &Header) -> Result<Framed<'a>, DecryptError> {
    if header.kem_kind == KEM_NONE {
        return Ok(Framed {
            authenticated: msg.prefix(),
            kem_part: None,
            body: msg.rest,
        });
    }
    // The authenticated header announces a KEM part the message does not have room for.
    let (part, body) = msg
        .rest
        .split_at_checked(KEM_PART_LEN)
        .ok_or(DecryptError::Tampered)?;
    if body.len() < TAG_LEN {
        return Err(DecryptError::Tampered);
    }
    Ok(Framed {
        authenticated: msg
            .bytes
            .get(..msg.prefix_len + KEM_PART_LEN)
            .unwrap_or_default(),
        kem_part: Some(part),
        body,
    })
}

/// The `kem_kind` values a peer of role `sender` may send (SPEC.md §5.9.5).
fn check_kind(header: &Header, sender: SenderRole) -> Result<(), DecryptError> {
    match (sender, header.kem_kind) {
        (_, KEM_NONE)
        | (SenderRole::Initiator, KEM_KEY)
        | (SenderRole::Responder, KEM_CIPHERTEXT) => Ok(()),
        _ => Err(DecryptError::KemPartUnexpected),
    }
}

/// Opens a message's KEM part under the chain's KEM-part key (SPEC.md §5.9.3).
fn open_kem_part(
    header_key: &HeaderKey,
    msg: &Incoming<'_>,
    framed: &Framed<'_>,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let part = framed.kem_part.ok_or(DecryptError::KemPartMissing)?;
    let mut plain = Zeroizing::new(Vec::with_capacity(KEM_PART_PLAINTEXT_LEN));
    if !open_into(
        kem_part_key(header_key).as_bytes(),
        &msg.nonce,
        msg.prefix(),
        part,
        &mut plain,
    ) || plain.len() != KEM_PART_PLAINTEXT_LEN
    {
        return Err(DecryptError::Tampered);
    }
    Ok(plain)
}

/// The ciphertext of an opened KEM part: 1088 bytes, then padding that must be zero.
fn ciphertext_of(plain: &[u8]) -> Result<[u8; KEM_CIPHERTEXT_LEN], DecryptError> {
    let (ct, padding) = plain
        .split_first_chunk::<KEM_CIPHERTEXT_LEN>()
        .ok_or(DecryptError::Tampered)?;
    if padding.iter().any(|b| *b != 0) {
        return Err(DecryptError::Tampered);
    }
    Ok(*ct)
}

/// The encapsulation key of an opened KEM part.
fn key_of(plain: &[u8]) -> Result<Box<[u8; KEM_PUBLIC_KEY_LEN]>, DecryptError> {
    let key: &[u8; KEM_PUBLIC_KEY_LEN] = plain.try_into().map_err(|_| DecryptError::Tampered)?;
    Ok(Box::new(*key))
}

/// What a successful decrypt did to the stored keys, for the caller's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DecryptReport {
    /// Stored keys dropped because the store was full.
    pub(crate) evicted: u32,
    /// Stored keys dropped because their chain grew too old.
    pub(crate) expired: u32,
}

/// The complete Double Ratchet state of one session.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RatchetState {
    root: RootKey,
    /// Our ratchet key pair, the peer's ratchet key and our sending chain (DHs, DHr, `send`).
    sending: Sending,
    next_send_header: HeaderKey,
    receiving: Option<CurrentChain>,
    next_receive_header: HeaderKey,
    /// Past receiving chains, newest first.
    past: VecDeque<PastChain>,
    receive_steps: u64,
    /// How many sending chains we have started: the epoch in our session tags.
    send_steps: u32,
    /// Session-constant key of the session tag.
    tag_key: SessionTagKey,
    /// Our side of the session: we tag as this role and verify the other.
    role: SenderRole,
    config: RatchetConfig,
    /// `Some` in a version-2 session (SPEC.md §5.9): the initiator's schedule of KEM keys.
    pq: Option<PqSchedule>,
}

/// The responder's ratchet before its first message (SPEC.md §5.4): its signed prekey is
/// the ratchet key, it knows no peer ratchet key and has nothing to send on. Decrypting the
/// first message turns it into a [`RatchetState`]; it has no `encrypt` and is never stored.
pub(crate) struct ResponderStart {
    root: RootKey,
    signed_prekey: RatchetKeyPair,
    send_header: HeaderKey,
    receive_header: HeaderKey,
    tag_key: SessionTagKey,
    config: RatchetConfig,
    version: SessionVersion,
}

/// The type byte of a session version's ratchet messages.
fn message_type(version: SessionVersion) -> u8 {
    match version {
        SessionVersion::V1 => TYPE_RATCHET,
        SessionVersion::V2 => TYPE_PQ_RATCHET,
    }
}

fn header_ad(session_ad: &SessionAd, version: SessionVersion) -> [u8; 66] {
    let mut ad = [0u8; 66];
    let (head, tail) = ad.split_at_mut(2);
    head.copy_from_slice(&[WIRE_VERSION, message_type(version)]);
    tail.copy_from_slice(session_ad);
    ad
}

/// `SessionAD || everything before the body` (SPEC.md §5.1, §5.9.3).
fn body_ad(session_ad: &SessionAd, authenticated: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(64 + authenticated.len());
    ad.extend_from_slice(session_ad);
    ad.extend_from_slice(authenticated);
    ad
}

fn open_header(hk: &HeaderKey, msg: &Incoming<'_>, ad: &[u8; 66]) -> Option<Header> {
    let mut plain = Vec::with_capacity(HEADER_PLAINTEXT_LEN + 1);
    if !open_into(
        hk.as_bytes(),
        &msg.nonce,
        ad,
        msg.encrypted_header,
        &mut plain,
    ) {
        return None;
    }
    // `ratchet_key (32) || PN (4) || N (4)`, then `kem_kind (1)` in version 2.
    let (ratchet_key, rest) = plain.split_first_chunk::<32>()?;
    let (previous_len, rest) = rest.split_first_chunk::<4>()?;
    let (counter, rest) = rest.split_first_chunk::<4>()?;
    let kem_kind = match (msg.version, rest) {
        (SessionVersion::V1, []) => KEM_NONE,
        (SessionVersion::V2, [kind]) => *kind,
        _ => return None,
    };
    Some(Header {
        ratchet_key: *ratchet_key,
        previous_len: u32::from_be_bytes(*previous_len),
        counter: u32::from_be_bytes(*counter),
        kem_kind,
    })
}

fn open_body(
    mk: &MessageKey,
    msg: &Incoming<'_>,
    framed: &Framed<'_>,
    ad: &SessionAd,
) -> Result<Vec<u8>, DecryptError> {
    let mut out = Vec::new();
    if open_into(
        mk.as_bytes(),
        &msg.nonce,
        &body_ad(ad, framed.authenticated),
        framed.body,
        &mut out,
    ) {
        Ok(out)
    } else {
        Err(DecryptError::Tampered)
    }
}

fn as_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The message's session tag under the peer's role: its sending epoch, if it verifies.
fn peer_epoch(tag_key: &SessionTagKey, role: SenderRole, msg: &Incoming<'_>) -> Option<u32> {
    open_session_tag(
        tag_key,
        role.other(),
        &msg.nonce,
        msg.encrypted_header,
        msg.session_tag,
    )
}

/// Path T (SPEC.md §5.7): no header key opens the message. A valid session tag still proves
/// the message belongs to this session: our state is behind (restored from an older copy),
/// or the chain is older than the chains we remember.
fn unopened(
    tag_key: &SessionTagKey,
    role: SenderRole,
    receive_steps: u64,
    msg: &Incoming<'_>,
) -> DecryptError {
    match peer_epoch(tag_key, role, msg) {
        Some(epoch) if u64::from(epoch) > receive_steps => DecryptError::StateBehind {
            their_epoch: epoch,
            our_epoch: receive_steps,
        },
        Some(_) => DecryptError::ChainForgotten,
        None => DecryptError::Undecryptable,
    }
}

/// Step S (SPEC.md §5.7): opens the body with a stored key and, only then, deletes the key.
fn open_stored(
    stored: &mut StoredKeys,
    counter: u32,
    msg: &Incoming<'_>,
    framed: &Framed<'_>,
    ad: &SessionAd,
) -> Result<Vec<u8>, DecryptError> {
    let (pos, mk) = stored.find(counter)?;
    let plaintext = open_body(mk, msg, framed, ad)?;
    stored.take(pos);
    Ok(plaintext)
}

/// Path C (SPEC.md §5.7) on the current receiving chain, the ratchet key already checked.
/// Returns the plaintext and, when the chain advanced, how many derived keys it dropped
/// (the caller then enforces the key cap). On error the chain is unchanged.
fn decrypt_current(
    current: &mut CurrentChain,
    config: &RatchetConfig,
    ad: &SessionAd,
    msg: &Incoming<'_>,
    framed: &Framed<'_>,
    header: &Header,
) -> Result<(Vec<u8>, Option<u32>), DecryptError> {
    let n = header.counter;
    let Some(gap) = n.checked_sub(current.next) else {
        return Ok((open_stored(&mut current.stored, n, msg, framed, ad)?, None));
    };
    if gap > config.max_jump() {
        return Err(DecryptError::TooFarAhead {
            gap: u64::from(gap),
            max: config.max_jump(),
        });
    }
    if n == u32::MAX {
        return Err(DecryptError::InvalidCounter);
    }
    let cap = as_usize(config.max_skipped_keys());
    let derived = skip_to(&current.chain_key, current.next, n, cap);
    let (next_chain, mk) = chain_step(&derived.chain_key);
    let plaintext = open_body(&mk, msg, framed, ad)?;

    // Authenticated: commit.
    current.chain_key = next_chain;
    current.next = n + 1;
    if derived.dropped > 0 {
        current.stored.expired_below = current
            .stored
            .expired_below
            .max(derived.skipped.front().map_or(n, |(first, _)| *first));
    }
    current.stored.append(derived.skipped);
    Ok((plaintext, Some(derived.dropped)))
}

/// Path N steps 4–7 (SPEC.md §5.7): the new chain's root step, its skipped keys and the
/// body, all on copies. Nothing is committed.
struct NewChain {
    root: RootKey,
    next_receive_header: HeaderKey,
    /// The new chain's key after the message's counter, and the keys skipped before it.
    derived: Derived,
    plaintext: Vec<u8>,
}

/// How a receiving root step mixes (SPEC.md §5.2 or §5.9.2).
enum ReceiveMix<'a> {
    V1,
    /// Version 2, with the KEM secret of the chain's ciphertext if it carries one.
    V2(Option<KemMix<'a>>),
}

#[allow(clippy::too_many_arguments)]
fn open_new_chain(
    root: &RootKey,
    ours: &RatchetKeyPair,
    config: &RatchetConfig,
    ad: &SessionAd,
    msg: &Incoming<'_>,
    framed: &Framed<'_>,
    header: &Header,
    mix: &ReceiveMix<'_>,
) -> Result<NewChain, DecryptError> {
    let max_jump = config.max_jump();
    if header.counter > max_jump {
        return Err(DecryptError::TooFarAhead {
            gap: u64::from(header.counter),
            max: max_jump,
        });
    }
    if header.counter == u32::MAX {
        return Err(DecryptError::InvalidCounter);
    }
    let dh = ours
        .dh(&header.ratchet_key)
        .ok_or(DecryptError::NonContributory)?;
    let (root, chain_key, next_receive_header) = match mix {
        ReceiveMix::V1 => root_step(root, &dh),
        ReceiveMix::V2(kem) => {
            root_step_pq(root, &dh, &header.ratchet_key, ours.public(), kem.as_ref())
        }
    };
    let mut derived = skip_to(
        &chain_key,
        0,
        header.counter,
        as_usize(config.max_skipped_keys()),
    );
    let (next_chain, mk) = chain_step(&derived.chain_key);
    let plaintext = open_body(&mk, msg, framed, ad)?;
    derived.chain_key = next_chain;
    Ok(NewChain {
        root,
        next_receive_header,
        derived,
        plaintext,
    })
}

/// The receiving chain a new-chain message starts (§5.7 N.9.2).
fn new_current(header_key: HeaderKey, header: &Header, derived: Derived) -> CurrentChain {
    let mut stored = StoredKeys::default();
    if derived.dropped > 0 {
        stored.expired_below = derived
            .skipped
            .front()
            .map_or(header.counter, |(first, _)| *first);
    }
    stored.keys = derived.skipped;
    CurrentChain {
        header_key,
        ratchet_key: header.ratchet_key,
        chain_key: derived.chain_key,
        next: header.counter + 1,
        stored,
    }
}

/// What a sender's session tags are made with (SPEC.md §5.6).
#[derive(Clone, Copy)]
struct TagSigner<'a> {
    key: &'a SessionTagKey,
    role: SenderRole,
    /// Our `send_steps` for the chain the message is on.
    epoch: u32,
}

impl SendChain {
    /// Seals one message under this chain and our key pair `ours` (SPEC.md §5.6 steps 3–11,
    /// §5.9.3), appending it to `out`. The chain advances only on success.
    #[allow(clippy::too_many_arguments)]
    fn seal<R: CryptoRng + ?Sized>(
        &mut self,
        ours: &RatchetKeyPair,
        attachment: &Attachment,
        version: SessionVersion,
        tag: &TagSigner<'_>,
        ad: &SessionAd,
        plaintext: &[u8],
        rng: &mut R,
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        if self.next == u32::MAX {
            return Err(EncryptError::ChainExhausted);
        }
        let (next_chain, mk) = chain_step(&self.chain_key);

        // `ratchet_key || PN || N`, then `kem_kind` in version 2.
        let mut header = Vec::with_capacity(HEADER_PLAINTEXT_LEN + 1);
        header.extend_from_slice(ours.public());
        header.extend_from_slice(&self.previous_len.to_be_bytes());
        header.extend_from_slice(&self.next.to_be_bytes());
        if version == SessionVersion::V2 {
            header.push(attachment.kind());
        }

        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);

        let mut prefix = Vec::with_capacity(PQ_RATCHET_PREFIX_LEN + KEM_PART_LEN);
        prefix.extend_from_slice(&[WIRE_VERSION, message_type(version)]);
        prefix.extend_from_slice(&nonce);
        let header_start = prefix.len();
        seal_into(
            self.header_key.as_bytes(),
            &nonce,
            &header_ad(ad, version),
            &header,
            &mut prefix,
        );
        let session_tag = session_tag(
            tag.key,
            tag.role,
            &nonce,
            prefix.get(header_start..).unwrap_or_default(),
            tag.epoch,
        );
        prefix.extend_from_slice(&session_tag);

        // The KEM part: a key, or a ciphertext padded to the key's length (SPEC.md §5.9.3).
        let kem_plain: Option<Zeroizing<Vec<u8>>> = match attachment {
            Attachment::None => None,
            Attachment::Key(pair) => Some(Zeroizing::new(pair.public().to_vec())),
            Attachment::Ciphertext(ct) => {
                let mut plain = Zeroizing::new(Vec::with_capacity(KEM_PART_PLAINTEXT_LEN));
                plain.extend_from_slice(ct.as_slice());
                plain.resize(KEM_PART_PLAINTEXT_LEN, 0);
                Some(plain)
            }
        };
        if let Some(plain) = kem_plain {
            let part_ad = prefix.clone();
            seal_into(
                kem_part_key(&self.header_key).as_bytes(),
                &nonce,
                &part_ad,
                &plain,
                &mut prefix,
            );
        }

        out.reserve(prefix.len() + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&prefix);
        // The body nonce is the header nonce: fresh per message, so even a message key
        // re-derived after a restore from backup never meets the same nonce twice.
        seal_into(mk.as_bytes(), &nonce, &body_ad(ad, &prefix), plaintext, out);

        self.chain_key = next_chain;
        self.next += 1;
        Ok(())
    }
}

impl ResponderStart {
    /// The responder's state after the key agreement: its signed prekey is the ratchet key.
    pub(crate) fn new(
        shared_root: RootKey,
        signed_prekey: RatchetKeyPair,
        send_header: HeaderKey,
        receive_header: HeaderKey,
        tag_key: SessionTagKey,
        config: RatchetConfig,
        version: SessionVersion,
    ) -> Self {
        ResponderStart {
            root: shared_root,
            signed_prekey,
            send_header,
            receive_header,
            tag_key,
            config,
            version,
        }
    }

    /// Decrypts the first message (a new chain, SPEC.md §5.7 path N with no DHr and no
    /// receiving chain yet) and returns the state that can answer. The signed prekey is
    /// dropped with `self`, so the session keeps no copy of it.
    #[cfg(test)]
    pub(crate) fn accept(
        self,
        ad: &SessionAd,
        msg: &RatchetMessage<'_>,
    ) -> Result<(RatchetState, Vec<u8>, DecryptReport), DecryptError> {
        self.accept_incoming(ad, &Incoming::from(msg))
    }

    /// [`ResponderStart::accept`] for a message of either version.
    pub(crate) fn accept_incoming(
        self,
        ad: &SessionAd,
        msg: &Incoming<'_>,
    ) -> Result<(RatchetState, Vec<u8>, DecryptReport), DecryptError> {
        let role = SenderRole::Responder;
        if msg.version != self.version {
            return Err(DecryptError::SessionVersionMismatch {
                session: self.version.number(),
                message: msg.version.number(),
            });
        }
        let Some(header) = open_header(&self.receive_header, msg, &header_ad(ad, self.version))
        else {
            return Err(unopened(&self.tag_key, role, 0, msg));
        };
        check_kind(&header, role.other())?;
        let framed = frame(msg, &header)?;
        let their_key = match header.kem_kind {
            KEM_KEY => Some(key_of(&open_kem_part(&self.receive_header, msg, &framed)?)?),
            _ => None,
        };
        let mix = match self.version {
            SessionVersion::V1 => ReceiveMix::V1,
            SessionVersion::V2 => ReceiveMix::V2(None),
        };
        let opened = open_new_chain(
            &self.root,
            &self.signed_prekey,
            &self.config,
            ad,
            msg,
            &framed,
            &header,
            &mix,
        )?;
        let report = DecryptReport {
            evicted: opened.derived.dropped,
            expired: 0,
        };
        let state = RatchetState {
            root: opened.root,
            sending: Sending::StepDue {
                theirs: header.ratchet_key,
                last: None,
                their_key,
            },
            next_send_header: self.send_header,
            receiving: Some(new_current(self.receive_header, &header, opened.derived)),
            next_receive_header: opened.next_receive_header,
            past: VecDeque::new(),
            receive_steps: 1,
            send_steps: 0,
            tag_key: self.tag_key,
            role,
            config: self.config,
            pq: match self.version {
                SessionVersion::V1 => None,
                SessionVersion::V2 => Some(PqSchedule::default()),
            },
        };
        Ok((state, opened.plaintext, report))
    }
}

impl RatchetState {
    /// The initiator's state right after the key agreement (it can send at once).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_initiator<R: CryptoRng + ?Sized>(
        shared_root: RootKey,
        their_signed_prekey: [u8; 32],
        send_header: HeaderKey,
        receive_header: HeaderKey,
        tag_key: SessionTagKey,
        config: RatchetConfig,
        version: SessionVersion,
        rng: &mut R,
    ) -> Result<Self, DecryptError> {
        let ours = RatchetKeyPair::generate(rng);
        let dh = ours
            .dh(&their_signed_prekey)
            .ok_or(DecryptError::NonContributory)?;
        // Version 2: the first chain always carries a key (SPEC.md §5.9.4).
        let (root, chain_key, next_send_header, kem, pq) = match version {
            SessionVersion::V1 => {
                let (root, chain_key, header) = root_step(&shared_root, &dh);
                (root, chain_key, header, Attachment::None, None)
            }
            SessionVersion::V2 => {
                let pair = kem_generate(rng);
                let (root, chain_key, header) =
                    root_step_pq(&shared_root, &dh, ours.public(), &their_signed_prekey, None);
                let mut schedule = PqSchedule::default();
                schedule.chain_started(true);
                (
                    root,
                    chain_key,
                    header,
                    Attachment::Key(Box::new(pair)),
                    Some(schedule),
                )
            }
        };
        Ok(RatchetState {
            root,
            sending: Sending::Active {
                ours,
                kem,
                theirs: their_signed_prekey,
                chain: SendChain {
                    header_key: send_header,
                    chain_key,
                    next: 0,
                    previous_len: 0,
                },
            },
            next_send_header,
            receiving: None,
            next_receive_header: receive_header,
            past: VecDeque::new(),
            receive_steps: 0,
            send_steps: 1,
            tag_key,
            role: SenderRole::Initiator,
            config,
            pq,
        })
    }

    /// The session version this state runs.
    pub(crate) fn version(&self) -> SessionVersion {
        match self.pq {
            None => SessionVersion::V1,
            Some(_) => SessionVersion::V2,
        }
    }

    pub(crate) fn config(&self) -> &RatchetConfig {
        &self.config
    }

    pub(crate) fn set_config(&mut self, config: RatchetConfig) {
        self.config = config;
    }

    /// How many receiving chains this state has stepped to.
    pub(crate) fn receive_steps(&self) -> u64 {
        self.receive_steps
    }

    /// The key that tags this session's messages (and derives its verification key).
    pub(crate) fn tag_key(&self) -> &SessionTagKey {
        &self.tag_key
    }

    /// Whether any message from the peer has been decrypted yet.
    pub(crate) fn has_received(&self) -> bool {
        self.receiving.is_some()
    }

    /// Number of skipped message keys currently stored.
    pub(crate) fn stored_key_count(&self) -> usize {
        self.receiving.as_ref().map_or(0, |c| c.stored.keys.len())
            + self.past.iter().map(|c| c.stored.keys.len()).sum::<usize>()
    }

    /// Encrypts one message, appending its wire form to `out`. On error the state is
    /// unchanged.
    pub(crate) fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        ad: &SessionAd,
        plaintext: &[u8],
        rng: &mut R,
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        let version = self.version();
        let tag = TagSigner {
            key: &self.tag_key,
            role: self.role,
            epoch: self.send_steps,
        };
        match &mut self.sending {
            Sending::Active {
                ours, chain, kem, ..
            } => chain.seal(ours, kem, version, &tag, ad, plaintext, rng, out)?,
            Sending::StepDue {
                theirs,
                last,
                their_key,
            } => {
                // The sending half of the DH ratchet step (SPEC.md §5.6 step 2, §5.9.4): a
                // fresh ratchet key and a new chain, committed once the message is sealed.
                let theirs = *theirs;
                let previous_len = last.as_ref().map_or(0, |s| s.next);
                let ours = RatchetKeyPair::generate(rng);
                // Their key already gave a contributory DH on receipt, so it is not of low
                // order and this cannot fail; the check stays as a guard.
                let dh = ours.dh(&theirs).ok_or(EncryptError::ChainExhausted)?;
                let (root, chain_key, next_header, kem) = match (version, self.role) {
                    (SessionVersion::V1, _) => {
                        let (root, chain_key, header) = root_step(&self.root, &dh);
                        (root, chain_key, header, Attachment::None)
                    }
                    (SessionVersion::V2, SenderRole::Initiator) => {
                        let due = self.pq.is_some_and(|pq| pq.key_due(&self.config));
                        let kem = if due {
                            Attachment::Key(Box::new(kem_generate(rng)))
                        } else {
                            Attachment::None
                        };
                        let (root, chain_key, header) =
                            root_step_pq(&self.root, &dh, ours.public(), &theirs, None);
                        (root, chain_key, header, kem)
                    }
                    (SessionVersion::V2, SenderRole::Responder) => match their_key {
                        // Answer the key of the chain we reply to (SPEC.md §5.9.4).
                        Some(key) => {
                            let (ct, shared) = kem_encapsulate_to(key, rng)
                                .map_err(|_| EncryptError::InvalidKemKey)?;
                            let mix = KemMix {
                                shared: &shared,
                                encapsulation_key: key.as_slice(),
                                ciphertext: &ct,
                            };
                            let (root, chain_key, header) =
                                root_step_pq(&self.root, &dh, ours.public(), &theirs, Some(&mix));
                            (
                                root,
                                chain_key,
                                header,
                                Attachment::Ciphertext(Box::new(ct)),
                            )
                        }
                        None => {
                            let (root, chain_key, header) =
                                root_step_pq(&self.root, &dh, ours.public(), &theirs, None);
                            (root, chain_key, header, Attachment::None)
                        }
                    },
                };
                let mut chain = SendChain {
                    header_key: self.next_send_header.clone(),
                    chain_key,
                    next: 0,
                    previous_len,
                };
                let epoch = self.send_steps.saturating_add(1);
                let tag = TagSigner { epoch, ..tag };
                chain.seal(&ours, &kem, version, &tag, ad, plaintext, rng, out)?;
                if self.role == SenderRole::Initiator
                    && let Some(pq) = self.pq.as_mut()
                {
                    pq.chain_started(matches!(kem, Attachment::Key(_)));
                }
                // The peer's key is dropped with the old state: it has been answered.
                self.sending = Sending::Active {
                    ours,
                    theirs,
                    chain,
                    kem,
                };
                self.next_send_header = next_header;
                self.root = root;
                self.send_steps = epoch;
            }
        }
        if let Some(pq) = self.pq.as_mut() {
            pq.message();
        }
        Ok(())
    }

    /// Decrypts one version-1 message. On error the state is unchanged.
    #[cfg(test)]
    pub(crate) fn decrypt(
        &mut self,
        ad: &SessionAd,
        msg: &RatchetMessage<'_>,
    ) -> Result<(Vec<u8>, DecryptReport), DecryptError> {
        self.decrypt_incoming(ad, &Incoming::from(msg))
    }

    /// Decrypts one message of either version. On error the state is unchanged.
    pub(crate) fn decrypt_incoming(
        &mut self,
        ad: &SessionAd,
        msg: &Incoming<'_>,
    ) -> Result<(Vec<u8>, DecryptReport), DecryptError> {
        let version = self.version();
        if msg.version != version {
            // A session never continues without (or with) the PQ step it started with.
            return Err(DecryptError::SessionVersionMismatch {
                session: version.number(),
                message: msg.version.number(),
            });
        }
        let result = self.decrypt_paths(ad, msg)?;
        if let Some(pq) = self.pq.as_mut() {
            pq.message();
        }
        Ok(result)
    }

    /// Paths C, N, P and T of SPEC.md §5.7.
    fn decrypt_paths(
        &mut self,
        ad: &SessionAd,
        msg: &Incoming<'_>,
    ) -> Result<(Vec<u8>, DecryptReport), DecryptError> {
        let had = header_ad(ad, self.version());
        let peer = self.role.other();

        // C. The current receiving chain (the common case).
        if let Some(current) = self.receiving.as_mut()
            && let Some(header) = open_header(&current.header_key, msg, &had)
        {
            if header.ratchet_key != *self.sending.theirs() {
                return Err(DecryptError::PeerStateForked);
            }
            check_kind(&header, peer)?;
            let framed = frame(msg, &header)?;
            let (plaintext, advanced) =
                decrypt_current(current, &self.config, ad, msg, &framed, &header)?;
            let mut report = DecryptReport::default();
            if let Some(dropped) = advanced {
                report.evicted = dropped.saturating_add(self.enforce_key_cap());
            }
            return Ok((plaintext, report));
        }

        // N. The peer's next chain: a DH ratchet step.
        if let Some(header) = open_header(&self.next_receive_header, msg, &had) {
            return self.decrypt_new_chain(ad, msg, &header);
        }

        // P. Past chains, newest first: delayed messages and replays.
        for chain in self.past.iter_mut() {
            if let Some(header) = open_header(&chain.header_key, msg, &had) {
                // A header under this chain's key with another ratchet key, or past the
                // length the peer announced when it left the chain: an honest peer never
                // sends that, its state was restored and continued on the old chain.
                if header.ratchet_key != chain.ratchet_key || header.counter >= chain.end {
                    return Err(DecryptError::PeerStateForked);
                }
                check_kind(&header, peer)?;
                let framed = frame(msg, &header)?;
                let plaintext = open_stored(&mut chain.stored, header.counter, msg, &framed, ad)?;
                return Ok((plaintext, DecryptReport::default()));
            }
        }

        // T. No key opens the header.
        Err(unopened(&self.tag_key, self.role, self.receive_steps, msg))
    }

    fn decrypt_new_chain(
        &mut self,
        ad: &SessionAd,
        msg: &Incoming<'_>,
        header: &Header,
    ) -> Result<(Vec<u8>, DecryptReport), DecryptError> {
        let max_jump = self.config.max_jump();
        if header.ratchet_key == *self.sending.theirs() {
            return Err(DecryptError::InvalidCounter);
        }
        let Some(ours) = self.sending.ours() else {
            // A sending step is due: the peer answers a ratchet key we no longer know we
            // sent, so our state was restored from a copy taken before that send.
            return match peer_epoch(&self.tag_key, self.role, msg) {
                Some(their_epoch) => Err(DecryptError::StateBehind {
                    their_epoch,
                    our_epoch: self.receive_steps,
                }),
                None => Err(DecryptError::Tampered),
            };
        };

        // Check the announced length of the chain the peer left before any work.
        if let Some(current) = self.receiving.as_ref() {
            let Some(gap) = header.previous_len.checked_sub(current.next) else {
                // The peer announces a shorter chain than we received from it: its state
                // was restored from an older copy.
                return Err(DecryptError::PeerStateForked);
            };
            if gap > max_jump {
                return Err(DecryptError::TooFarAhead {
                    gap: u64::from(gap),
                    max: max_jump,
                });
            }
        }
        check_kind(header, self.role.other())?;
        let framed = frame(msg, header)?;

        // SPEC.md §5.9.5: the responder's chain answers our current chain, so it carries a
        // ciphertext exactly when our chain carries a key.
        let our_key = match &self.sending {
            Sending::Active {
                kem: Attachment::Key(pair),
                ..
            } => Some(pair),
            _ => None,
        };
        if self.version() == SessionVersion::V2 && self.role == SenderRole::Initiator {
            match (our_key.is_some(), header.kem_kind) {
                (true, KEM_CIPHERTEXT) | (false, KEM_NONE) => {}
                (true, _) => return Err(DecryptError::KemPartMissing),
                (false, _) => return Err(DecryptError::KemPartUnexpected),
            }
        }
        let part = match header.kem_kind {
            KEM_NONE => None,
            _ => Some(open_kem_part(&self.next_receive_header, msg, &framed)?),
        };
        let ciphertext = match (header.kem_kind, &part) {
            (KEM_CIPHERTEXT, Some(plain)) => Some(ciphertext_of(plain)?),
            _ => None,
        };
        let their_key = match (header.kem_kind, &part) {
            (KEM_KEY, Some(plain)) => Some(key_of(plain)?),
            _ => None,
        };
        let shared = match (our_key, &ciphertext) {
            (Some(pair), Some(ct)) => Some(pair.decapsulate(ct)),
            _ => None,
        };
        let mix = match self.version() {
            SessionVersion::V1 => ReceiveMix::V1,
            SessionVersion::V2 => ReceiveMix::V2(match (our_key, &ciphertext, &shared) {
                (Some(pair), Some(ct), Some(shared)) => Some(KemMix {
                    shared,
                    encapsulation_key: pair.public().as_slice(),
                    ciphertext: ct.as_slice(),
                }),
                _ => None,
            }),
        };
        let opened = open_new_chain(
            &self.root,
            ours,
            &self.config,
            ad,
            msg,
            &framed,
            header,
            &mix,
        )?;
        drop(shared);

        // Authenticated: commit. Finish the chain the peer left up to the length it
        // announces, keeping only what still fits beside the new chain's keys (older keys
        // go first).
        let mut report = DecryptReport {
            evicted: opened.derived.dropped,
            expired: 0,
        };
        if let Some(old) = self.receiving.take() {
            let finished = skip_to(
                &old.chain_key,
                old.next,
                header.previous_len,
                as_usize(self.config.max_skipped_keys())
                    .saturating_sub(opened.derived.skipped.len()),
            );
            let mut stored = old.stored;
            if finished.dropped > 0 {
                stored.expired_below = stored.expired_below.max(
                    finished
                        .skipped
                        .front()
                        .map_or(header.previous_len, |(first, _)| *first),
                );
            }
            report.evicted = report.evicted.saturating_add(finished.dropped);
            stored.append(finished.skipped);
            // Past chains hold header keys: grow their list without leaving a copy behind.
            reserve_wiping(&mut self.past, 1);
            self.past.push_front(PastChain {
                header_key: old.header_key,
                ratchet_key: old.ratchet_key,
                end: header.previous_len,
                step: self.receive_steps,
                stored,
            });
        }
        let header_key =
            core::mem::replace(&mut self.next_receive_header, opened.next_receive_header);
        self.receiving = Some(new_current(header_key, header, opened.derived));
        self.root = opened.root;
        // Our key pair, and with it our KEM decapsulation key, is dropped (wiped) here.
        self.sending.owe_step(header.ratchet_key, their_key);
        self.receive_steps = self.receive_steps.saturating_add(1);

        report.expired = report.expired.saturating_add(self.expire_old_chains());
        report.evicted = report.evicted.saturating_add(self.enforce_key_cap());
        Ok((opened.plaintext, report))
    }
    /// Drops stored keys of chains older than the configured age and forgets chains beyond
    /// the configured count. Returns how many keys expired.
    fn expire_old_chains(&mut self) -> u32 {
        let mut expired = 0usize;
        let max_age = u64::from(self.config.skipped_key_max_age());
        let now = self.receive_steps;
        for chain in self.past.iter_mut() {
            if now.saturating_sub(chain.step) > max_age {
                expired += chain.stored.expire_all(chain.end);
            }
        }
        while self.past.len() > as_usize(self.config.max_receiving_chains()) {
            if let Some(chain) = self.past.pop_back() {
                expired += chain.stored.keys.len();
            }
        }
        u32::try_from(expired).unwrap_or(u32::MAX)
    }

    /// Evicts the oldest stored keys until the total is within the cap. Returns how many.
    fn enforce_key_cap(&mut self) -> u32 {
        let cap = as_usize(self.config.max_skipped_keys());
        let mut total = self.stored_key_count();
        let mut evicted = 0u32;
        // Oldest first: past chains from the back, then the current chain.
        for index in (0..self.past.len()).rev() {
            while total > cap {
                let Some(chain) = self.past.get_mut(index) else {
                    break;
                };
                if !chain.stored.evict_oldest() {
                    break;
                }
                total -= 1;
                evicted = evicted.saturating_add(1);
            }
        }
        if let Some(current) = self.receiving.as_mut() {
            while total > cap && current.stored.evict_oldest() {
                total -= 1;
                evicted = evicted.saturating_add(1);
            }
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(seed: u8) -> RatchetKeyPair {
        RatchetKeyPair::from_secret(StaticSecret::from([seed; 32]))
    }

    /// Session equality (what "a failed decrypt leaves the session unchanged" is checked
    /// with) must see a changed ratchet key pair. The public half is always the secret's
    /// (computed with the pair, or on first use for a restored one), so the secret decides.
    #[test]
    fn ratchet_key_pairs_are_equal_only_when_their_secrets_are() {
        assert!(pair(1) == pair(1));
        assert!(pair(1) != pair(2));
        for seed in [1u8, 2, 0xff] {
            let restored = RatchetKeyPair::from_stored_secret(StaticSecret::from([seed; 32]));
            assert!(restored.public.get().is_none(), "not computed on restore");
            assert!(restored == pair(seed));
            assert!(restored != pair(seed.wrapping_add(1)));
            assert_eq!(restored.public(), pair(seed).public());
            assert_eq!(
                *restored.public(),
                x25519_dalek::x25519([seed; 32], x25519_dalek::X25519_BASEPOINT_BYTES)
            );
        }
    }

    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    const AD: SessionAd = [7u8; 64];

    /// Alice (initiator, able to send at once) and Bob's start (before his first message).
    fn alice_and_bob_start(rng: &mut ChaCha20Rng) -> (RatchetState, ResponderStart) {
        start_pair(SessionVersion::V1, RatchetConfig::default(), rng)
    }

    /// As `alice_and_bob_start`, for a given session version and configuration (also used
    /// by the version-2 tests of `pq.rs`).
    pub(super) fn start_pair(
        version: SessionVersion,
        config: RatchetConfig,
        rng: &mut ChaCha20Rng,
    ) -> (RatchetState, ResponderStart) {
        let root = RootKey::from_bytes([1; 32]);
        let tag = SessionTagKey::from_bytes([4; 32]);
        let (to_bob, to_alice) = (
            HeaderKey::from_bytes([2; 32]),
            HeaderKey::from_bytes([3; 32]),
        );
        let alice = RatchetState::new_initiator(
            root.clone(),
            *pair(9).public(),
            to_bob.clone(),
            to_alice.clone(),
            tag.clone(),
            config,
            version,
            rng,
        )
        .unwrap();
        let bob = ResponderStart::new(root, pair(9), to_alice, to_bob, tag, config, version);
        (alice, bob)
    }

    fn seal(state: &mut RatchetState, rng: &mut ChaCha20Rng) -> Vec<u8> {
        let mut out = Vec::new();
        state.encrypt(&AD, b"hi", rng, &mut out).unwrap();
        out
    }

    fn open(state: &mut RatchetState, message: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let message = RatchetMessage::decode(message).unwrap();
        state.decrypt(&AD, &message).map(|(plaintext, _)| plaintext)
    }

    /// The sending side's transitions (SPEC.md §5.4–§5.7): the initiator starts active; the
    /// responder's first message leaves it owing a step with no chain before; a new peer
    /// chain makes a step due and keeps the last chain for its length, which the next
    /// encrypt announces as PN when it starts the next chain and epoch.
    #[test]
    fn sending_states_follow_the_ratchet_steps() {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        let (mut alice, bob) = alice_and_bob_start(&mut rng);
        assert!(matches!(alice.sending, Sending::Active { ref chain, .. } if chain.next == 0));
        assert_eq!(alice.send_steps, 1);
        let first = seal(&mut alice, &mut rng);
        let second = seal(&mut alice, &mut rng);
        let (mut bob, plaintext, _) = bob
            .accept(&AD, &RatchetMessage::decode(&first).unwrap())
            .unwrap();
        assert_eq!(plaintext, b"hi");
        let alice_key = *alice.sending.ours().unwrap().public();
        assert!(matches!(
            bob.sending,
            Sending::StepDue { theirs, last: None, .. } if theirs == alice_key
        ));
        assert_eq!((bob.send_steps, bob.receive_steps), (0, 1));
        open(&mut bob, &second).unwrap();

        let reply = seal(&mut bob, &mut rng);
        let bob_key = *bob.sending.ours().unwrap().public();
        assert!(matches!(
            bob.sending,
            Sending::Active { theirs, ref chain, .. } if theirs == alice_key
                && chain.next == 1 && chain.previous_len == 0
        ));
        assert_eq!(bob.send_steps, 1);

        open(&mut alice, &reply).unwrap();
        assert!(matches!(
            alice.sending,
            Sending::StepDue { theirs, last: Some(ref last), .. } if theirs == bob_key && last.next == 2
        ));
        let next = seal(&mut alice, &mut rng);
        assert!(matches!(
            alice.sending,
            Sending::Active { theirs, ref chain, .. } if theirs == bob_key
                && chain.next == 1 && chain.previous_len == 2
        ));
        assert_ne!(*alice.sending.ours().unwrap().public(), alice_key);
        assert_eq!(alice.send_steps, 2);
        assert_eq!(open(&mut bob, &next).unwrap(), b"hi");
    }

    /// Invalid transitions are typed errors that change nothing: a new peer chain answering
    /// a ratchet key this state no longer holds (it was copied before that send) is
    /// `StateBehind`; an exhausted chain refuses to encrypt.
    #[test]
    fn invalid_sending_transitions_are_typed_errors_and_change_nothing() {
        let mut rng = ChaCha20Rng::seed_from_u64(22);
        let (mut alice, bob) = alice_and_bob_start(&mut rng);
        let first = seal(&mut alice, &mut rng);
        let (mut bob, _, _) = bob
            .accept(&AD, &RatchetMessage::decode(&first).unwrap())
            .unwrap();
        let reply = seal(&mut bob, &mut rng);
        open(&mut alice, &reply).unwrap();
        let before_send = alice.clone();
        let next = seal(&mut alice, &mut rng);
        open(&mut bob, &next).unwrap();
        let answer = seal(&mut bob, &mut rng);

        // Alice restored from before her send: a step is due, so she holds no ratchet key
        // that `answer` was made for.
        let mut restored = before_send.clone();
        assert!(matches!(restored.sending, Sending::StepDue { .. }));
        assert_eq!(
            open(&mut restored, &answer),
            Err(DecryptError::StateBehind {
                their_epoch: 2,
                our_epoch: 1
            })
        );
        assert!(restored == before_send);

        let mut exhausted = alice.clone();
        if let Sending::Active { chain, .. } = &mut exhausted.sending {
            chain.next = u32::MAX;
        }
        let copy = exhausted.clone();
        let mut out = Vec::new();
        assert_eq!(
            exhausted.encrypt(&AD, b"x", &mut rng, &mut out),
            Err(EncryptError::ChainExhausted)
        );
        assert!(exhausted == copy && out.is_empty());
    }

    /// A first message whose header does not open under the start's key is classified like
    /// any message no key opens (SPEC.md §5.7 path T).
    #[test]
    fn a_first_message_under_another_key_is_undecryptable() {
        let mut rng = ChaCha20Rng::seed_from_u64(23);
        let (mut alice, bob) = alice_and_bob_start(&mut rng);
        let mut first = seal(&mut alice, &mut rng);
        if let Some(byte) = first.get_mut(20) {
            *byte ^= 1;
        }
        assert_eq!(
            bob.accept(&AD, &RatchetMessage::decode(&first).unwrap())
                .err(),
            Some(DecryptError::Undecryptable)
        );
    }

    /// Every message costs the AEAD calls the protocol needs and no more: a same-chain
    /// message one header seal and one body seal, then one header open and one body open; a
    /// message that starts a chain one failed header open more (the current chain's key is
    /// tried first); a delayed message from a past chain one failed open per newer chain.
    #[test]
    fn aead_calls_per_message_are_the_protocol_minimum() {
        use crate::aead::count;
        use crate::kdf::SenderRole;
        use chacha20::ChaCha20Rng;
        use rand_core::SeedableRng;

        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (root, tag) = (
            RootKey::from_bytes([1; 32]),
            SessionTagKey::from_bytes([4; 32]),
        );
        let (to_bob, to_alice) = (
            HeaderKey::from_bytes([2; 32]),
            HeaderKey::from_bytes([3; 32]),
        );
        let mut alice = RatchetState::new_initiator(
            root.clone(),
            *pair(9).public(),
            to_bob.clone(),
            to_alice.clone(),
            tag.clone(),
            RatchetConfig::default(),
            SessionVersion::V1,
            &mut rng,
        )
        .unwrap();
        let bob = ResponderStart::new(
            root,
            pair(9),
            to_alice,
            to_bob,
            tag,
            RatchetConfig::default(),
            SessionVersion::V1,
        );
        let ad = [7u8; 64];
        let send = |s: &mut RatchetState, rng: &mut ChaCha20Rng| {
            let mut out = Vec::new();
            s.encrypt(&ad, b"hi", rng, &mut out).unwrap();
            out
        };
        let recv = |s: &mut RatchetState, m: &[u8]| {
            s.decrypt(&ad, &RatchetMessage::decode(m).unwrap()).unwrap();
        };

        let first = send(&mut alice, &mut rng);
        assert_eq!(count::take(), (2, 0));
        let (mut bob, _, _) = bob
            .accept(&ad, &RatchetMessage::decode(&first).unwrap())
            .unwrap();
        assert_eq!(bob.role, SenderRole::Responder);
        assert_eq!(
            count::take(),
            (0, 2),
            "first message: no current chain to try"
        );
        let late = send(&mut alice, &mut rng);
        let same_chain = send(&mut alice, &mut rng);
        count::take();
        recv(&mut bob, &same_chain);
        assert_eq!(count::take(), (0, 2), "same chain");
        let reply = send(&mut bob, &mut rng);
        recv(&mut alice, &reply);
        assert_eq!(count::take(), (2, 2));
        let next_chain = send(&mut alice, &mut rng);
        count::take();
        recv(&mut bob, &next_chain);
        assert_eq!(
            count::take(),
            (0, 3),
            "new chain: the current chain's key fails first"
        );
        recv(&mut bob, &late);
        assert_eq!(
            count::take(),
            (0, 4),
            "past chain: current and next keys fail first"
        );
    }
}
