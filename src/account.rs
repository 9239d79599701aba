//! The device's long-term state: identity, prekeys, and session creation.

use core::fmt;
use std::collections::{BTreeMap, VecDeque};

use rand_core::CryptoRng;

use crate::error::{ConfigError, HandshakeError};
use crate::event::Event;
use crate::keys::{
    IdentityKey, IdentityKeyPair, KemPreKey, KemPreKeyKind, OneTimePreKey, SignedPreKey,
};
use crate::peer::PeerRecord;
use crate::ratchet::{RatchetConfig, RatchetKeyPair, RatchetState};
use crate::reset::ResetLog;
use crate::session::{Role, Session, SessionId, prekey_fields_digest, report_events};
use crate::time::Timestamp;
use crate::wire::PreKeyMessage;
use crate::x3dh::{
    KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic, initiate, respond,
};

/// Most unused one-time X25519 prekeys an account holds.
pub const MAX_ONE_TIME_PREKEYS: u32 = 1_000;
/// Most unused one-time ML-KEM prekeys an account holds (each is 1,248 bytes of state).
pub const MAX_ONE_TIME_KEM_PREKEYS: u32 = 200;
/// Below this many unused one-time prekeys of a kind, [`Event::OneTimePreKeysLow`] fires.
pub const ONE_TIME_PREKEYS_LOW: u32 = 10;
/// How long a replaced signed prekey (or last-resort ML-KEM prekey) still accepts new
/// sessions: 30 days, for initiators that fetched a bundle just before the rotation.
pub const PREKEY_GRACE_SECS: u64 = 30 * 24 * 3600;
/// How often the signed prekey and last-resort ML-KEM prekey should be rotated: 7 days.
pub const PREKEY_ROTATION_SECS: u64 = 7 * 24 * 3600;
/// How many initial messages built only on reusable prekeys are remembered, per signed
/// prekey, to reject replays. When a signed prekey's records are full, further such sessions
/// on it are refused ([`HandshakeError::ReplayRecordsFull`]); after
/// [`Account::rotate_prekeys`] new sessions use the new key, and the old key's records go when
/// its grace window ends. Evicting records instead would let an old first message be replayed.
/// At most `MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS)` records (36 bytes each) are held.
pub const MAX_REPLAY_RECORDS: usize = 4_096;
/// Most retired signed prekeys (and last-resort ML-KEM prekeys) kept for their grace window;
/// the oldest go first if keys are rotated faster than weekly.
pub const MAX_RETIRED_PREKEYS: usize = 8;

/// A key that is replaced periodically; retired keys stay usable for a grace window.
#[derive(Clone)]
pub(crate) struct Rotating<T> {
    pub(crate) current: T,
    /// Retired keys with the time they were retired, oldest first, at most
    /// [`MAX_RETIRED_PREKEYS`].
    pub(crate) retired: Vec<(T, Timestamp)>,
}

impl<T> Rotating<T> {
    fn rotate(&mut self, next: T, now: Timestamp) {
        let old = core::mem::replace(&mut self.current, next);
        self.retired.push((old, now));
        self.retired
            .retain(|(_, retired)| now < retired.plus_secs(PREKEY_GRACE_SECS));
        while self.retired.len() > MAX_RETIRED_PREKEYS {
            self.retired.remove(0);
        }
    }

    /// The current key if `matches` it, else a retired one still within its grace window.
    fn find(&self, now: Timestamp, matches: impl Fn(&T) -> bool) -> Option<&T> {
        if matches(&self.current) {
            return Some(&self.current);
        }
        self.retired
            .iter()
            .find(|(key, retired)| matches(key) && now < retired.plus_secs(PREKEY_GRACE_SECS))
            .map(|(key, _)| key)
    }
}

/// The outcome of accepting a session from a prekey message.
#[must_use]
#[non_exhaustive]
pub struct InboundSession {
    /// The new session.
    pub session: Session,
    /// The first message's plaintext.
    pub plaintext: Vec<u8>,
    /// Events: prekeys consumed (persist the account now), prekeys running low.
    pub events: Vec<Event>,
}

impl fmt::Debug for InboundSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundSession")
            .field("session", &self.session)
            .field("plaintext_len", &self.plaintext.len())
            .field("events", &self.events)
            .finish()
    }
}

/// Everything an account publishes to its server, from which the server hands out bundles.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishedPreKeys {
    /// The identity key.
    pub identity_key: IdentityKey,
    /// The current signed prekey.
    pub signed_prekey: SignedPreKeyPublic,
    /// The current last-resort ML-KEM prekey.
    pub last_resort_kem_prekey: KemPreKeyPublic,
    /// Unused one-time X25519 prekeys.
    pub one_time_prekeys: Vec<OneTimePreKeyPublic>,
    /// Unused one-time ML-KEM prekeys.
    pub one_time_kem_prekeys: Vec<KemPreKeyPublic>,
}

impl PublishedPreKeys {
    /// What a server does on a bundle request: hand out one one-time prekey of each kind
    /// (removing it, so no one else gets it), falling back to the last-resort ML-KEM prekey.
    pub fn take_bundle(&mut self) -> PreKeyBundle {
        let one_time_prekey = self.one_time_prekeys.pop();
        let kem_prekey = self
            .one_time_kem_prekeys
            .pop()
            .unwrap_or_else(|| self.last_resort_kem_prekey.clone());
        PreKeyBundle {
            identity_key: self.identity_key,
            signed_prekey: self.signed_prekey.clone(),
            one_time_prekey,
            kem_prekey,
        }
    }
}

/// A device's long-term state: its identity key, its prekeys, and the replay records of
/// its last-resort keys. Sessions are separate values ([`Session`]).
#[derive(Clone)]
pub struct Account {
    pub(crate) identity: IdentityKeyPair,
    pub(crate) signed_prekey: Rotating<SignedPreKey>,
    pub(crate) last_resort_kem: Rotating<KemPreKey>,
    pub(crate) one_time: BTreeMap<u32, OneTimePreKey>,
    pub(crate) one_time_kem: BTreeMap<u32, KemPreKey>,
    pub(crate) next_signed_id: u32,
    pub(crate) next_one_time_id: u32,
    pub(crate) next_kem_id: u32,
    /// (signed prekey id, base key) of initial messages accepted on reusable prekeys only.
    pub(crate) replay_records: VecDeque<(u32, [u8; 32])>,
    pub(crate) config: RatchetConfig,
    /// Sessions with each peer device, keyed by its identity key.
    pub(crate) peers: BTreeMap<IdentityKey, PeerRecord>,
    /// Reset-protocol bookkeeping per peer (rate limits, replays).
    pub(crate) resets: BTreeMap<IdentityKey, ResetLog>,
    /// The identity key recorded for each of the app's users, and its verification state
    /// (src/verify).
    pub(crate) identities: crate::verify::IdentityBook,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("identity", self.identity.public())
            .field("signed_prekey_id", &self.signed_prekey.current.id)
            .field("one_time_prekeys", &self.one_time.len())
            .field("one_time_kem_prekeys", &self.one_time_kem.len())
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl Account {
    /// Creates an account with a fresh identity, a signed prekey and a last-resort ML-KEM
    /// prekey. Generate one-time prekeys with [`Account::generate_one_time_prekeys`].
    pub fn new<R: CryptoRng + ?Sized>(now: Timestamp, rng: &mut R) -> Self {
        let identity = IdentityKeyPair::generate(rng);
        Self::from_identity(identity, now, rng)
    }

    /// Creates an account around an existing identity.
    pub fn from_identity<R: CryptoRng + ?Sized>(
        identity: IdentityKeyPair,
        now: Timestamp,
        rng: &mut R,
    ) -> Self {
        let signed = SignedPreKey::generate(1, &identity, now, rng);
        let last_resort = KemPreKey::generate(1, KemPreKeyKind::LastResort, &identity, now, rng);
        Account {
            identity,
            signed_prekey: Rotating {
                current: signed,
                retired: Vec::new(),
            },
            last_resort_kem: Rotating {
                current: last_resort,
                retired: Vec::new(),
            },
            one_time: BTreeMap::new(),
            one_time_kem: BTreeMap::new(),
            next_signed_id: 2,
            next_one_time_id: 1,
            next_kem_id: 2,
            replay_records: VecDeque::new(),
            config: RatchetConfig::default(),
            peers: BTreeMap::new(),
            resets: BTreeMap::new(),
            identities: crate::verify::IdentityBook::default(),
        }
    }

    /// The public identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        self.identity.public()
    }

    /// The identity key pair (for sealing and signing features built on the account).
    pub fn identity_key_pair(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// The limits given to sessions this account creates.
    pub fn session_config(&self) -> &RatchetConfig {
        &self.config
    }

    /// Sets the limits given to sessions this account creates from now on.
    pub fn set_session_config(&mut self, config: RatchetConfig) {
        self.config = config;
    }

    /// Generates `x25519` one-time X25519 prekeys and `kem` one-time ML-KEM prekeys.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] if the account would then hold more than
    /// [`MAX_ONE_TIME_PREKEYS`] or [`MAX_ONE_TIME_KEM_PREKEYS`]; nothing is generated then.
    pub fn generate_one_time_prekeys<R: CryptoRng + ?Sized>(
        &mut self,
        x25519: u32,
        kem: u32,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(), ConfigError> {
        let held = u32::try_from(self.one_time.len()).unwrap_or(u32::MAX);
        let room = MAX_ONE_TIME_PREKEYS.saturating_sub(held);
        if x25519 > room {
            return Err(ConfigError::OutOfRange {
                name: "one-time prekeys",
                value: u64::from(x25519),
                min: 0,
                max: u64::from(room),
            });
        }
        let held_kem = u32::try_from(self.one_time_kem.len()).unwrap_or(u32::MAX);
        let room_kem = MAX_ONE_TIME_KEM_PREKEYS.saturating_sub(held_kem);
        if kem > room_kem {
            return Err(ConfigError::OutOfRange {
                name: "one-time ML-KEM prekeys",
                value: u64::from(kem),
                min: 0,
                max: u64::from(room_kem),
            });
        }
        for _ in 0..x25519 {
            let id = self.next_one_time_id;
            self.next_one_time_id = self.next_one_time_id.wrapping_add(1).max(1);
            self.one_time.insert(id, OneTimePreKey::generate(rng));
        }
        for _ in 0..kem {
            let id = self.next_kem_id;
            self.next_kem_id = self.next_kem_id.wrapping_add(1).max(1);
            let key = KemPreKey::generate(id, KemPreKeyKind::OneTime, &self.identity, now, rng);
            self.one_time_kem.insert(id, key);
        }
        Ok(())
    }

    /// Replaces the signed prekey and the last-resort ML-KEM prekey. The previous ones keep
    /// accepting new sessions for [`PREKEY_GRACE_SECS`]. Publish the result.
    pub fn rotate_prekeys<R: CryptoRng + ?Sized>(&mut self, now: Timestamp, rng: &mut R) {
        let signed = SignedPreKey::generate(self.next_signed_id, &self.identity, now, rng);
        self.next_signed_id = self.next_signed_id.wrapping_add(1).max(1);
        self.signed_prekey.rotate(signed, now);
        let kem_id = self.next_kem_id;
        self.next_kem_id = self.next_kem_id.wrapping_add(1).max(1);
        let last_resort =
            KemPreKey::generate(kem_id, KemPreKeyKind::LastResort, &self.identity, now, rng);
        self.last_resort_kem.rotate(last_resort, now);
        let live: Vec<u32> = core::iter::once(self.signed_prekey.current.id)
            .chain(self.signed_prekey.retired.iter().map(|(k, _)| k.id))
            .collect();
        self.replay_records.retain(|(id, _)| live.contains(id));
    }

    /// Whether the signed prekey or the last-resort ML-KEM prekey is older than
    /// [`PREKEY_ROTATION_SECS`].
    pub fn prekeys_due_for_rotation(&self, now: Timestamp) -> bool {
        let oldest = self
            .signed_prekey
            .current
            .created_at
            .min(self.last_resort_kem.current.created_at);
        now >= oldest.plus_secs(PREKEY_ROTATION_SECS)
    }

    /// Everything to upload to the server.
    pub fn published_prekeys(&self) -> PublishedPreKeys {
        let kem_public = |k: &KemPreKey| KemPreKeyPublic {
            id: k.id,
            kind: k.kind,
            key: Box::new(*k.pair.public()),
            signature: k.signature,
        };
        let spk = &self.signed_prekey.current;
        PublishedPreKeys {
            identity_key: *self.identity.public(),
            signed_prekey: SignedPreKeyPublic {
                id: spk.id,
                key: spk.public,
                signature: spk.signature,
            },
            last_resort_kem_prekey: kem_public(&self.last_resort_kem.current),
            one_time_prekeys: self
                .one_time
                .iter()
                .map(|(id, k)| OneTimePreKeyPublic {
                    id: *id,
                    key: k.public,
                })
                .collect(),
            one_time_kem_prekeys: self.one_time_kem.values().map(kem_public).collect(),
        }
    }

    /// Starts a session with the owner of `bundle`. The session can encrypt at once; its
    /// messages are prekey messages until the peer replies.
    ///
    /// # Errors
    /// [`HandshakeError`] if a signature fails, a key is invalid or of low order.
    pub fn create_outbound_session<R: CryptoRng + ?Sized>(
        &self,
        bundle: &PreKeyBundle,
        rng: &mut R,
    ) -> Result<Session, HandshakeError> {
        let initiated = initiate(&self.identity, bundle, rng)?;
        let ratchet = RatchetState::new_initiator(
            initiated.keys.root,
            bundle.signed_prekey.key,
            initiated.keys.initiator_header,
            initiated.keys.responder_header,
            initiated.keys.tag_key,
            self.config,
            rng,
        )
        .map_err(|_| HandshakeError::NonContributory)?;
        Ok(Session::new(
            ratchet,
            *self.identity.public(),
            bundle.identity_key,
            SessionId::from_bytes(initiated.keys.session_id),
            Role::Initiator,
            initiated.fields.base_key,
            None,
            Some(initiated.fields),
        ))
    }

    /// Builds the session a prekey message starts and decrypts its first message. Only on
    /// success are one-time prekeys consumed (and reported in the events).
    ///
    /// # Errors
    /// [`HandshakeError`]; the account is unchanged on every error.
    pub fn create_inbound_session(
        &mut self,
        message: &[u8],
        now: Timestamp,
    ) -> Result<InboundSession, HandshakeError> {
        let prekey = PreKeyMessage::decode(message)?;
        let their_identity = IdentityKey::from_bytes(prekey.identity_key_bytes())?;
        if their_identity == *self.identity.public() {
            return Err(HandshakeError::OwnIdentity);
        }
        let spk_id = prekey.signed_prekey_id();
        let signed = self
            .signed_prekey
            .find(now, |k| k.id == spk_id)
            .ok_or(HandshakeError::UnknownSignedPreKey(spk_id))?;

        let one_time = match prekey.one_time_prekey_id() {
            Some(id) => Some((
                id,
                self.one_time
                    .get(&id)
                    .ok_or(if (1..self.next_one_time_id).contains(&id) {
                        HandshakeError::OneTimePreKeyReused(id)
                    } else {
                        HandshakeError::UnknownOneTimePreKey(id)
                    })?,
            )),
            None => None,
        };

        let kem_id = prekey.kem_prekey_id();
        let kem = match self.one_time_kem.get(&kem_id) {
            Some(k) => k,
            None => self.last_resort_kem.find(now, |k| k.id == kem_id).ok_or(
                if (1..self.next_kem_id).contains(&kem_id) {
                    HandshakeError::KemPreKeyReused(kem_id)
                } else {
                    HandshakeError::UnknownKemPreKey(kem_id)
                },
            )?,
        };
        let reusable_only = one_time.is_none() && kem.kind == KemPreKeyKind::LastResort;
        if reusable_only
            && self
                .replay_records
                .iter()
                .any(|(id, base)| *id == spk_id && base == prekey.base_key())
        {
            return Err(HandshakeError::ReplayedInitialMessage);
        }
        if reusable_only
            && self
                .replay_records
                .iter()
                .filter(|(id, _)| *id == spk_id)
                .count()
                >= MAX_REPLAY_RECORDS
        {
            return Err(HandshakeError::ReplayRecordsFull);
        }

        let ciphertext: &[u8; crate::keys::KEM_CIPHERTEXT_LEN] =
            prekey.kem_ciphertext().try_into().map_err(|_| {
                HandshakeError::Malformed(crate::error::DecodeError::InvalidField {
                    field: "kem_ciphertext",
                })
            })?;
        let keys = respond(
            &self.identity,
            &their_identity,
            prekey.base_key(),
            signed,
            one_time.map(|(_, k)| k),
            kem,
            ciphertext,
        )?;
        let ratchet = RatchetState::new_responder(
            keys.root,
            RatchetKeyPair::from_secret(signed.secret.clone()),
            keys.responder_header,
            keys.initiator_header,
            keys.tag_key,
            self.config,
        );
        let mut session = Session::new(
            ratchet,
            *self.identity.public(),
            their_identity,
            SessionId::from_bytes(keys.session_id),
            Role::Responder,
            *prekey.base_key(),
            Some(prekey_fields_digest(&prekey)),
            None,
        );
        let (plaintext, report) = session
            .decrypt_first(prekey.message())
            .map_err(HandshakeError::FirstMessage)?;

        // Authenticated: commit the consumption of one-time keys.
        let mut events = Vec::new();
        let kem_kind = kem.kind;
        if let Some((id, _)) = one_time {
            self.one_time.remove(&id);
            events.push(Event::OneTimePreKeyConsumed { id });
        }
        if kem_kind == KemPreKeyKind::OneTime {
            self.one_time_kem.remove(&kem_id);
            events.push(Event::KemPreKeyConsumed { id: kem_id });
        } else {
            events.push(Event::LastResortKemPreKeyUsed { id: kem_id });
        }
        if reusable_only {
            self.replay_records.push_back((spk_id, *prekey.base_key()));
        }
        let x25519_remaining = u32::try_from(self.one_time.len()).unwrap_or(u32::MAX);
        let kem_remaining = u32::try_from(self.one_time_kem.len()).unwrap_or(u32::MAX);
        if x25519_remaining < ONE_TIME_PREKEYS_LOW || kem_remaining < ONE_TIME_PREKEYS_LOW {
            events.push(Event::OneTimePreKeysLow {
                x25519_remaining,
                kem_remaining,
            });
        }
        report_events(report, &mut events);
        Ok(InboundSession {
            session,
            plaintext,
            events,
        })
    }

    /// Housekeeping events for `now`: prekeys due for rotation, one-time prekeys running low.
    /// Call it when the app wakes up or after publishing keys.
    pub fn maintenance_events(&self, now: Timestamp) -> Vec<Event> {
        let mut events = Vec::new();
        let current = self.signed_prekey.current.id;
        let current_records = self
            .replay_records
            .iter()
            .filter(|(id, _)| *id == current)
            .count();
        if self.prekeys_due_for_rotation(now) || current_records >= MAX_REPLAY_RECORDS / 10 * 9 {
            events.push(Event::PreKeyRotationDue);
        }
        let x25519_remaining = u32::try_from(self.one_time.len()).unwrap_or(u32::MAX);
        let kem_remaining = u32::try_from(self.one_time_kem.len()).unwrap_or(u32::MAX);
        if x25519_remaining < ONE_TIME_PREKEYS_LOW || kem_remaining < ONE_TIME_PREKEYS_LOW {
            events.push(Event::OneTimePreKeysLow {
                x25519_remaining,
                kem_remaining,
            });
        }
        events
    }

    /// Number of unused one-time X25519 and ML-KEM prekeys held.
    pub fn one_time_prekey_counts(&self) -> (usize, usize) {
        (self.one_time.len(), self.one_time_kem.len())
    }
}
