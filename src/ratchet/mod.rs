//! The Double Ratchet with header encryption (SPEC.md §5).
//!
//! Decrypt works on copies and commits only after the body authenticates, so a failed
//! decrypt leaves the state exactly as it was. The sending half of a DH ratchet step is
//! deferred to the next encrypt, so decrypt needs no randomness and the new ratchet secret
//! exists only once it is used.

mod config;
mod error;
pub(crate) mod receiving;

pub use config::{
    DEFAULT_MAX_JUMP, DEFAULT_MAX_RECEIVING_CHAINS, DEFAULT_MAX_SKIPPED_KEYS,
    DEFAULT_SKIPPED_KEY_MAX_AGE, HARD_MAX_JUMP, HARD_MAX_RECEIVING_CHAINS,
    HARD_MAX_SKIPPED_KEY_MAX_AGE, HARD_MAX_SKIPPED_KEYS, RatchetConfig, SKIPPED_KEY_MEMORY_BYTES,
};
pub use error::{DecryptError, EncryptError};

use std::collections::VecDeque;
use std::sync::OnceLock;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};

use crate::aead::{NONCE_LEN, open_into, seal_into};
use crate::kdf::{SenderRole, chain_step, open_session_tag, root_step, session_tag};
use crate::keys::dh_checked;
use crate::keys::secret::{
    ChainKey, HeaderKey, MessageKey, RootKey, SessionTagKey, SharedSecret, reserve_wiping,
};
use crate::wire::{
    ENCRYPTED_HEADER_LEN, HEADER_PLAINTEXT_LEN, RATCHET_PREFIX_LEN, RatchetMessage, TYPE_RATCHET,
    WIRE_VERSION,
};
use receiving::{CurrentChain, Derived, PastChain, StoredKeys, skip_to};

/// The associated data every message of a session authenticates: both identity keys,
/// initiator first (SPEC.md §5.1).
pub(crate) type SessionAd = [u8; 64];

/// Our current ratchet key pair.
#[derive(Clone)]
pub(crate) struct RatchetKeyPair {
    pub(crate) secret: StaticSecret,
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

/// Our sending chain.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SendChain {
    pub(crate) header_key: HeaderKey,
    pub(crate) chain_key: ChainKey,
    pub(crate) next: u32,
    /// Length of our previous sending chain (PN in the header).
    pub(crate) previous_len: u32,
}

/// A decrypted header.
struct Header {
    ratchet_key: [u8; 32],
    previous_len: u32,
    counter: u32,
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
    pub(crate) root: RootKey,
    /// `None` between receiving a new peer ratchet key and our next send.
    pub(crate) our_ratchet: Option<RatchetKeyPair>,
    pub(crate) their_ratchet: Option<[u8; 32]>,
    pub(crate) sending: Option<SendChain>,
    pub(crate) next_send_header: HeaderKey,
    pub(crate) receiving: Option<CurrentChain>,
    pub(crate) next_receive_header: HeaderKey,
    /// Past receiving chains, newest first.
    pub(crate) past: VecDeque<PastChain>,
    pub(crate) receive_steps: u64,
    /// How many sending chains we have started: the epoch in our session tags.
    pub(crate) send_steps: u32,
    /// Session-constant key of the session tag.
    pub(crate) tag_key: SessionTagKey,
    /// Our side of the session: we tag as this role and verify the other.
    pub(crate) role: SenderRole,
    pub(crate) config: RatchetConfig,
}

fn header_ad(session_ad: &SessionAd) -> [u8; 66] {
    let mut ad = [0u8; 66];
    let (head, tail) = ad.split_at_mut(2);
    head.copy_from_slice(&[WIRE_VERSION, TYPE_RATCHET]);
    tail.copy_from_slice(session_ad);
    ad
}

fn body_ad(session_ad: &SessionAd, prefix: &[u8]) -> [u8; 64 + RATCHET_PREFIX_LEN] {
    let mut ad = [0u8; 64 + RATCHET_PREFIX_LEN];
    let (head, tail) = ad.split_at_mut(64);
    head.copy_from_slice(session_ad);
    if tail.len() == prefix.len() {
        tail.copy_from_slice(prefix);
    }
    ad
}

fn open_header(hk: &HeaderKey, msg: &RatchetMessage<'_>, ad: &[u8; 66]) -> Option<Header> {
    let mut plain = Vec::with_capacity(ENCRYPTED_HEADER_LEN);
    if !open_into(
        hk.as_bytes(),
        msg.header_nonce(),
        ad,
        msg.encrypted_header(),
        &mut plain,
    ) {
        return None;
    }
    let bytes: &[u8; HEADER_PLAINTEXT_LEN] = plain.as_slice().try_into().ok()?;
    let (key, counters) = bytes.split_at(32);
    let (pn, n) = counters.split_at(4);
    Some(Header {
        ratchet_key: key.try_into().ok()?,
        previous_len: u32::from_be_bytes(pn.try_into().ok()?),
        counter: u32::from_be_bytes(n.try_into().ok()?),
    })
}

fn open_body(
    mk: &MessageKey,
    msg: &RatchetMessage<'_>,
    ad: &SessionAd,
) -> Result<Vec<u8>, DecryptError> {
    let mut out = Vec::new();
    if open_into(
        mk.as_bytes(),
        msg.header_nonce(),
        &body_ad(ad, msg.prefix()),
        msg.body(),
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

impl RatchetState {
    /// The initiator's state right after the key agreement (it can send at once).
    pub(crate) fn new_initiator<R: CryptoRng + ?Sized>(
        shared_root: RootKey,
        their_signed_prekey: [u8; 32],
        send_header: HeaderKey,
        receive_header: HeaderKey,
        tag_key: SessionTagKey,
        config: RatchetConfig,
        rng: &mut R,
    ) -> Result<Self, DecryptError> {
        let ours = RatchetKeyPair::generate(rng);
        let dh = ours
            .dh(&their_signed_prekey)
            .ok_or(DecryptError::NonContributory)?;
        let (root, chain_key, next_send_header) = root_step(&shared_root, &dh);
        Ok(RatchetState {
            root,
            our_ratchet: Some(ours),
            their_ratchet: Some(their_signed_prekey),
            sending: Some(SendChain {
                header_key: send_header,
                chain_key,
                next: 0,
                previous_len: 0,
            }),
            next_send_header,
            receiving: None,
            next_receive_header: receive_header,
            past: VecDeque::new(),
            receive_steps: 0,
            send_steps: 1,
            tag_key,
            role: SenderRole::Initiator,
            config,
        })
    }

    /// The responder's state before its first decrypt: its signed prekey is the ratchet key.
    pub(crate) fn new_responder(
        shared_root: RootKey,
        our_signed_prekey: RatchetKeyPair,
        send_header: HeaderKey,
        receive_header: HeaderKey,
        tag_key: SessionTagKey,
        config: RatchetConfig,
    ) -> Self {
        RatchetState {
            root: shared_root,
            our_ratchet: Some(our_signed_prekey),
            their_ratchet: None,
            sending: None,
            next_send_header: send_header,
            receiving: None,
            next_receive_header: receive_header,
            past: VecDeque::new(),
            receive_steps: 0,
            send_steps: 0,
            tag_key,
            role: SenderRole::Responder,
            config,
        }
    }

    pub(crate) fn config(&self) -> &RatchetConfig {
        &self.config
    }

    pub(crate) fn set_config(&mut self, config: RatchetConfig) {
        self.config = config;
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

    /// Encrypts one message, appending its wire form to `out`.
    pub(crate) fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        ad: &SessionAd,
        plaintext: &[u8],
        rng: &mut R,
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        if self.our_ratchet.is_none() || self.sending.is_none() {
            self.sending_step(rng)?;
        }
        let Some(ours) = self.our_ratchet.as_ref() else {
            return Err(EncryptError::ChainExhausted);
        };
        let Some(sending) = self.sending.as_mut() else {
            return Err(EncryptError::ChainExhausted);
        };
        if sending.next == u32::MAX {
            return Err(EncryptError::ChainExhausted);
        }
        let (next_chain, mk) = chain_step(&sending.chain_key);

        let mut header = [0u8; HEADER_PLAINTEXT_LEN];
        let (key, counters) = header.split_at_mut(32);
        key.copy_from_slice(ours.public());
        let (pn, n) = counters.split_at_mut(4);
        pn.copy_from_slice(&sending.previous_len.to_be_bytes());
        n.copy_from_slice(&sending.next.to_be_bytes());

        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);

        let start = out.len();
        out.reserve(RATCHET_PREFIX_LEN + plaintext.len() + crate::aead::TAG_LEN);
        out.push(WIRE_VERSION);
        out.push(TYPE_RATCHET);
        out.extend_from_slice(&nonce);
        seal_into(
            sending.header_key.as_bytes(),
            &nonce,
            &header_ad(ad),
            &header,
            out,
        );
        let tag = session_tag(
            &self.tag_key,
            self.role,
            &nonce,
            out.get(start + 2 + NONCE_LEN..).unwrap_or_default(),
            self.send_steps,
        );
        out.extend_from_slice(&tag);
        let prefix = out.get(start..).unwrap_or_default();
        let bad = body_ad(ad, prefix);
        // The body nonce is the header nonce: fresh per message, so even a message key
        // re-derived after a restore from backup never meets the same nonce twice.
        seal_into(mk.as_bytes(), &nonce, &bad, plaintext, out);

        sending.chain_key = next_chain;
        sending.next += 1;
        Ok(())
    }

    /// The sending half of a DH ratchet step: a fresh ratchet key and a new sending chain.
    fn sending_step<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) -> Result<(), EncryptError> {
        let Some(their) = self.their_ratchet else {
            return Err(EncryptError::ChainExhausted);
        };
        let ours = RatchetKeyPair::generate(rng);
        // Their key already gave a contributory DH on receipt, so it is not of low order and
        // this cannot fail; the check stays as a guard.
        let dh = ours.dh(&their).ok_or(EncryptError::ChainExhausted)?;
        let (root, chain_key, next_header) = root_step(&self.root, &dh);
        let previous_len = self.sending.as_ref().map_or(0, |s| s.next);
        self.sending = Some(SendChain {
            header_key: self.next_send_header.clone(),
            chain_key,
            next: 0,
            previous_len,
        });
        self.next_send_header = next_header;
        self.root = root;
        self.our_ratchet = Some(ours);
        self.send_steps = self.send_steps.saturating_add(1);
        Ok(())
    }

    /// Decrypts one message. On error the state is unchanged.
    pub(crate) fn decrypt(
        &mut self,
        ad: &SessionAd,
        msg: &RatchetMessage<'_>,
    ) -> Result<(Vec<u8>, DecryptReport), DecryptError> {
        let had = header_ad(ad);

        // 1. The current receiving chain (the common case).
        if let Some(current) = self.receiving.as_ref()
            && let Some(header) = open_header(&current.header_key, msg, &had)
        {
            if Some(header.ratchet_key) != self.their_ratchet {
                return Err(DecryptError::PeerStateForked);
            }
            return self.decrypt_current(ad, msg, &header);
        }

        // 2. The peer's next chain: a DH ratchet step.
        if let Some(header) = open_header(&self.next_receive_header, msg, &had) {
            return self.decrypt_new_chain(ad, msg, &header);
        }

        // 3. Past chains, newest first: delayed messages and replays.
        for index in 0..self.past.len() {
            let Some(chain) = self.past.get(index) else {
                break;
            };
            if let Some(header) = open_header(&chain.header_key, msg, &had) {
                if header.ratchet_key != chain.ratchet_key {
                    return Err(DecryptError::PeerStateForked);
                }
                if header.counter >= chain.end {
                    // An honest peer never sends past the length it announced for a chain
                    // it left: its state was restored and continued on the old chain.
                    return Err(DecryptError::PeerStateForked);
                }
                let Some(pos) = chain.stored.position(header.counter) else {
                    return Err(chain.stored.missing(header.counter));
                };
                let Some(mk) = chain.stored.key(pos) else {
                    return Err(chain.stored.missing(header.counter));
                };
                let plaintext = open_body(mk, msg, ad)?;
                if let Some(chain) = self.past.get_mut(index) {
                    chain.stored.take(pos);
                }
                return Ok((plaintext, DecryptReport::default()));
            }
        }

        // 4. No key opens the header. A valid session tag still proves the message belongs to
        // this session: our state is behind (restored from an older copy), or the chain is
        // older than the chains we remember.
        match open_session_tag(
            &self.tag_key,
            self.role.other(),
            msg.header_nonce(),
            msg.encrypted_header(),
            msg.session_tag(),
        ) {
            Some(epoch) if u64::from(epoch) > self.receive_steps => {
                Err(DecryptError::StateBehind {
                    their_epoch: epoch,
                    our_epoch: self.receive_steps,
                })
            }
            Some(_) => Err(DecryptError::ChainForgotten),
            None => Err(DecryptError::Undecryptable),
        }
    }

    fn decrypt_current(
        &mut self,
        ad: &SessionAd,
        msg: &RatchetMessage<'_>,
        header: &Header,
    ) -> Result<(Vec<u8>, DecryptReport), DecryptError> {
        let Some(current) = self.receiving.as_ref() else {
            return Err(DecryptError::Undecryptable);
        };
        let n = header.counter;
        if n < current.next {
            let Some(pos) = current.stored.position(n) else {
                return Err(current.stored.missing(n));
            };
            let Some(mk) = current.stored.key(pos) else {
                return Err(current.stored.missing(n));
            };
            let plaintext = open_body(mk, msg, ad)?;
            if let Some(current) = self.receiving.as_mut() {
                current.stored.take(pos);
            }
            return Ok((plaintext, DecryptReport::default()));
        }
        let gap = n - current.next;
        if gap > self.config.max_jump() {
            return Err(DecryptError::TooFarAhead {
                gap: u64::from(gap),
                max: self.config.max_jump(),
            });
        }
        if n == u32::MAX {
            return Err(DecryptError::InvalidCounter);
        }
        let cap = as_usize(self.config.max_skipped_keys());
        let derived = skip_to(&current.chain_key, current.next, n, cap);
        let (next_chain, mk) = chain_step(&derived.chain_key);
        let plaintext = open_body(&mk, msg, ad)?;

        // Authenticated: commit.
        let mut report = DecryptReport {
            evicted: derived.dropped,
            expired: 0,
        };
        if let Some(current) = self.receiving.as_mut() {
            current.chain_key = next_chain;
            current.next = n + 1;
            if derived.dropped > 0 {
                current.stored.expired_below = current
                    .stored
                    .expired_below
                    .max(derived.skipped.front().map_or(n, |(first, _)| *first));
            }
            current.stored.append(derived.skipped);
        }
        report.evicted = report.evicted.saturating_add(self.enforce_key_cap());
        Ok((plaintext, report))
    }

    fn decrypt_new_chain(
        &mut self,
        ad: &SessionAd,
        msg: &RatchetMessage<'_>,
        header: &Header,
    ) -> Result<(Vec<u8>, DecryptReport), DecryptError> {
        let max_jump = self.config.max_jump();
        let cap = as_usize(self.config.max_skipped_keys());
        if Some(header.ratchet_key) == self.their_ratchet {
            return Err(DecryptError::InvalidCounter);
        }
        let Some(ours) = self.our_ratchet.as_ref() else {
            // The peer answers a ratchet key we no longer know we sent: our state was
            // restored from a copy taken before that send.
            return match open_session_tag(
                &self.tag_key,
                self.role.other(),
                msg.header_nonce(),
                msg.encrypted_header(),
                msg.session_tag(),
            ) {
                Some(their_epoch) => Err(DecryptError::StateBehind {
                    their_epoch,
                    our_epoch: self.receive_steps,
                }),
                None => Err(DecryptError::Tampered),
            };
        };

        // Check the announced length of the chain the peer left before any work.
        if let Some(current) = self.receiving.as_ref() {
            if header.previous_len < current.next {
                // The peer announces a shorter chain than we received from it: its state was
                // restored from an older copy.
                return Err(DecryptError::PeerStateForked);
            }
            let gap = header.previous_len - current.next;
            if gap > max_jump {
                return Err(DecryptError::TooFarAhead {
                    gap: u64::from(gap),
                    max: max_jump,
                });
            }
        }
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
        let (root, chain_key, next_receive_header) = root_step(&self.root, &dh);
        let derived = skip_to(&chain_key, 0, header.counter, cap);
        let (next_chain, mk) = chain_step(&derived.chain_key);
        let plaintext = open_body(&mk, msg, ad)?;

        // Authenticated. Finish the chain the peer left up to the length it announces,
        // keeping only what still fits beside the new chain's keys (older keys go first).
        let finished: Option<Derived> = self.receiving.as_ref().map(|current| {
            skip_to(
                &current.chain_key,
                current.next,
                header.previous_len,
                cap.saturating_sub(derived.skipped.len()),
            )
        });

        // Commit.
        let mut report = DecryptReport::default();
        if let (Some(old), Some(finished)) = (self.receiving.take(), finished) {
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
        let mut stored = StoredKeys::default();
        if derived.dropped > 0 {
            stored.expired_below = derived
                .skipped
                .front()
                .map_or(header.counter, |(first, _)| *first);
        }
        report.evicted = report.evicted.saturating_add(derived.dropped);
        stored.keys = derived.skipped;
        let header_key = core::mem::replace(&mut self.next_receive_header, next_receive_header);
        self.receiving = Some(CurrentChain {
            header_key,
            ratchet_key: header.ratchet_key,
            chain_key: next_chain,
            next: header.counter + 1,
            stored,
        });
        self.root = root;
        self.their_ratchet = Some(header.ratchet_key);
        self.our_ratchet = None;
        self.receive_steps = self.receive_steps.saturating_add(1);

        report.expired = report.expired.saturating_add(self.expire_old_chains());
        report.evicted = report.evicted.saturating_add(self.enforce_key_cap());
        Ok((plaintext, report))
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
            &mut rng,
        )
        .unwrap();
        let mut bob = RatchetState::new_responder(
            root,
            pair(9),
            to_alice,
            to_bob,
            tag,
            RatchetConfig::default(),
        );
        assert_eq!(bob.role, SenderRole::Responder);
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
        recv(&mut bob, &first);
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
