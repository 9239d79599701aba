//! The account: a device's long-term state (identity, prekeys, their rotation) and session
//! creation, the vodozemac-shaped core. It knows nothing of peers, resets, the identity book
//! or sealed envelopes: sessions are values the app keeps ([`Session`]), or the device layer
//! above keeps them per peer (`Device`, src/device).

mod snapshot;

#[cfg(feature = "serde")]
pub(crate) use snapshot::AccountSnapshotV1;
pub(crate) use snapshot::{
    AccountSnapshotV2, AccountSnapshotV3, AccountSnapshotV4, PeerRecordV2, PeerRecordV3,
    ResetLogV1, account_snapshot_from_version,
};

use core::fmt;
use std::collections::{BTreeMap, VecDeque};

use rand_core::CryptoRng;

use crate::error::ConfigError;
use crate::event::Event;
use crate::keys::{
    EnvelopeKeyPair, IdentityKey, IdentityKeyPair, KemPreKey, KemPreKeyKind, OneTimePreKey,
    SignedPreKey,
};
use crate::ratchet::{RatchetConfig, RatchetKeyPair, RatchetState, ResponderStart, SessionVersion};
use crate::sealed::{EnvelopeKeyPublic, RecipientKeys};
use crate::session::{Session, SessionId, SessionNames, report_events};
use crate::time::Timestamp;
use crate::wire::AnyPreKey;
use crate::x3dh::HandshakeError;
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

/// Takes `count` ids from the id counter `counter` (SPEC.md §3.1): each new key takes the
/// counter's value unless `in_use` holds it, in which case that id is skipped; the counter
/// then advances to `max(counter + 1 mod 2^32, 1)`, so 0 is never issued. Returns the ids and
/// the counter after them, or `None` when fewer than `count` ids are free.
///
/// `held` is how many ids `in_use` holds: after `held + count` candidates every id has been
/// tried once, since `held + count` is far below the 2^32 - 1 ids (the caps keep it so).
fn allocate_ids(
    counter: u32,
    count: u32,
    in_use: impl Fn(u32) -> bool,
    held: usize,
) -> Option<(Vec<u32>, u32)> {
    if count == 0 {
        return Some((Vec::new(), counter));
    }
    let wanted = usize::try_from(count).ok()?;
    let mut ids = Vec::with_capacity(wanted);
    let mut candidate = counter.max(1);
    let budget = held.checked_add(wanted)?;
    let space = usize::try_from(u32::MAX).unwrap_or(usize::MAX);
    for _ in 0..budget.min(space) {
        if ids.len() == wanted {
            break;
        }
        if !in_use(candidate) {
            ids.push(candidate);
        }
        candidate = candidate.wrapping_add(1).max(1);
    }
    (ids.len() == wanted).then_some((ids, candidate))
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
    /// The current envelope KEM key, if hybrid sealed envelopes are enabled
    /// ([`Account::enable_hybrid_envelopes`]): published as its own item (type `0x36`), which
    /// the server hands to every sender with the identity key (SPEC.md §13.8.2).
    pub envelope_key: Option<EnvelopeKeyPublic>,
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

/// The envelope KEM keys of an account that enabled hybrid sealed envelopes (SPEC.md §13.8.2).
#[derive(Clone)]
pub(crate) struct EnvelopeKeys {
    pub(crate) keys: Rotating<EnvelopeKeyPair>,
    pub(crate) next_id: u32,
    /// Whether classical envelopes (types `0x30`, `0x32`) are refused.
    pub(crate) refuse_classical: bool,
}

/// A device's long-term state: its identity key, its prekeys, and the replay records of
/// its last-resort keys. Sessions are separate values ([`Session`]) the app keeps; an app
/// that wants them kept per peer uses a [`crate::Device`], which owns an account.
///
/// ```
/// use hushwire::{Account, Timestamp};
/// use rand_core::SeedableRng;
/// # fn main() -> Result<(), hushwire::Error> {
/// // Use the OS RNG in an app; a seeded one makes this example deterministic.
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
/// let now = Timestamp::from_unix_secs(1_700_000_000);
///
/// let alice = Account::new(now, &mut rng);
/// let mut bob = Account::new(now, &mut rng);
/// bob.generate_one_time_prekeys(10, 10, now, &mut rng)?;
///
/// // The server stores Bob's published keys and hands Alice one bundle.
/// let bundle = bob.published_prekeys().take_bundle();
/// let mut to_bob = alice.create_outbound_session(&bundle, &mut rng)?;
/// let first = to_bob.encrypt(b"hi Bob", &mut rng)?;
///
/// // Bob builds his side from Alice's first message; both keep their session.
/// let inbound = bob.create_inbound_session(&first, now)?;
/// assert_eq!(inbound.plaintext, b"hi Bob");
/// let mut to_alice = inbound.session;
/// let reply = to_alice.encrypt(b"hi Alice", &mut rng)?;
/// assert_eq!(to_bob.decrypt(&reply)?.plaintext, b"hi Alice");
/// # Ok(())
/// # }
/// ```
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
    /// Envelope KEM keys, once hybrid sealed envelopes are enabled.
    pub(crate) envelope_keys: Option<EnvelopeKeys>,
    /// The version of the sessions [`Account::create_outbound_session`] starts (SPEC.md
    /// §5.9.7).
    pub(crate) session_version: SessionVersion,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("identity", self.identity.public())
            .field("signed_prekey_id", &self.signed_prekey.current.id)
            .field("one_time_prekeys", &self.one_time.len())
            .field("one_time_kem_prekeys", &self.one_time_kem.len())
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
            envelope_keys: None,
            session_version: SessionVersion::V1,
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

    /// The version of the sessions this account starts ([`SessionVersion::V1`] unless set).
    pub fn session_version(&self) -> SessionVersion {
        self.session_version
    }

    /// Sets the version of the sessions [`Account::create_outbound_session`] starts from now
    /// on (SPEC.md §5.9.7). Choose [`SessionVersion::V2`] (the post-quantum ratchet) only if
    /// the peers run a build that reads it: an older responder rejects its prekey message
    /// (type `0x05`) as an unknown type. Sessions already made keep their version; as a
    /// responder the account accepts both versions whatever this says. Stored with the
    /// account.
    pub fn set_session_version(&mut self, version: SessionVersion) {
        self.session_version = version;
    }

    /// Generates `x25519` one-time X25519 prekeys and `kem` one-time ML-KEM prekeys.
    ///
    /// Ids are taken from the id counters, skipping ids still held (SPEC.md §3.1), so a
    /// counter that wrapped never replaces a live key.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] if the account would then hold more than
    /// [`MAX_ONE_TIME_PREKEYS`] or [`MAX_ONE_TIME_KEM_PREKEYS`];
    /// [`ConfigError::IdsExhausted`] if no free id is left. Nothing is generated and the
    /// account is unchanged on error.
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
        let (x25519_ids, next_one_time_id) = allocate_ids(
            self.next_one_time_id,
            x25519,
            |id| self.one_time.contains_key(&id),
            self.one_time.len(),
        )
        .ok_or(ConfigError::IdsExhausted {
            name: "one-time prekeys",
        })?;
        let (kem_ids, next_kem_id) = allocate_ids(
            self.next_kem_id,
            kem,
            |id| self.kem_id_in_use(id),
            self.kem_ids_held(),
        )
        .ok_or(ConfigError::IdsExhausted {
            name: "one-time ML-KEM prekeys",
        })?;
        for id in x25519_ids {
            self.one_time.insert(id, OneTimePreKey::generate(rng));
        }
        for id in kem_ids {
            let key = KemPreKey::generate(id, KemPreKeyKind::OneTime, &self.identity, now, rng);
            self.one_time_kem.insert(id, key);
        }
        self.next_one_time_id = next_one_time_id;
        self.next_kem_id = next_kem_id;
        Ok(())
    }

    /// Whether an ML-KEM prekey (one-time, or last-resort current or retired) holds `id`.
    fn kem_id_in_use(&self, id: u32) -> bool {
        self.one_time_kem.contains_key(&id)
            || self.last_resort_kem.current.id == id
            || self.last_resort_kem.retired.iter().any(|(k, _)| k.id == id)
    }

    /// How many ML-KEM prekey ids are held (they share one id space).
    fn kem_ids_held(&self) -> usize {
        self.one_time_kem.len() + 1 + self.last_resort_kem.retired.len()
    }

    /// Replaces the signed prekey and the last-resort ML-KEM prekey. The previous ones keep
    /// accepting new sessions for [`PREKEY_GRACE_SECS`]. Publish the result.
    pub fn rotate_prekeys<R: CryptoRng + ?Sized>(&mut self, now: Timestamp, rng: &mut R) {
        // At most 1 + MAX_RETIRED_PREKEYS signed prekey ids and
        // 1 + MAX_RETIRED_PREKEYS + MAX_ONE_TIME_KEM_PREKEYS ML-KEM ids are held, far fewer
        // than the 2^32 - 1 ids, so a free id always exists; the fallbacks are unreachable.
        let signed_held = 1 + self.signed_prekey.retired.len();
        let (signed_id, next_signed_id) = allocate_ids(
            self.next_signed_id,
            1,
            |id| {
                self.signed_prekey.current.id == id
                    || self.signed_prekey.retired.iter().any(|(k, _)| k.id == id)
            },
            signed_held,
        )
        .and_then(|(ids, next)| Some((*ids.first()?, next)))
        .unwrap_or((self.next_signed_id, self.next_signed_id));
        let (kem_id, next_kem_id) = allocate_ids(
            self.next_kem_id,
            1,
            |id| self.kem_id_in_use(id),
            self.kem_ids_held(),
        )
        .and_then(|(ids, next)| Some((*ids.first()?, next)))
        .unwrap_or((self.next_kem_id, self.next_kem_id));
        let signed = SignedPreKey::generate(signed_id, &self.identity, now, rng);
        self.next_signed_id = next_signed_id;
        self.signed_prekey.rotate(signed, now);
        self.next_kem_id = next_kem_id;
        let last_resort =
            KemPreKey::generate(kem_id, KemPreKeyKind::LastResort, &self.identity, now, rng);
        self.last_resort_kem.rotate(last_resort, now);
        let live: Vec<u32> = core::iter::once(self.signed_prekey.current.id)
            .chain(self.signed_prekey.retired.iter().map(|(k, _)| k.id))
            .collect();
        self.replay_records.retain(|(id, _)| live.contains(id));
        if let Some(envelope) = &mut self.envelope_keys {
            // At most 1 + MAX_RETIRED_PREKEYS ids are held: a free one always exists.
            let held = 1 + envelope.keys.retired.len();
            let (id, next_id) = allocate_ids(
                envelope.next_id,
                1,
                |id| {
                    envelope.keys.current.id == id
                        || envelope.keys.retired.iter().any(|(k, _)| k.id == id)
                },
                held,
            )
            .and_then(|(ids, next)| Some((*ids.first()?, next)))
            .unwrap_or((envelope.next_id, envelope.next_id));
            envelope.next_id = next_id;
            let key = EnvelopeKeyPair::generate(id, &self.identity, now, rng);
            envelope.keys.rotate(key, now);
        }
    }

    /// Turns on hybrid sealed envelopes (SPEC.md §13.8): generates the first envelope KEM
    /// key (id 1), which [`Account::published_prekeys`] then includes and
    /// [`Account::rotate_prekeys`] rotates with the signed prekey. Draws 64 bytes. Returns
    /// false, drawing nothing, if they are already on. Publish the result.
    pub fn enable_hybrid_envelopes<R: CryptoRng + ?Sized>(
        &mut self,
        now: Timestamp,
        rng: &mut R,
    ) -> bool {
        if self.envelope_keys.is_some() {
            return false;
        }
        let key = EnvelopeKeyPair::generate(1, &self.identity, now, rng);
        self.envelope_keys = Some(EnvelopeKeys {
            keys: Rotating {
                current: key,
                retired: Vec::new(),
            },
            next_id: 2,
            refuse_classical: false,
        });
        true
    }

    /// Whether hybrid sealed envelopes are enabled.
    pub fn hybrid_envelopes_enabled(&self) -> bool {
        self.envelope_keys.is_some()
    }

    /// Refuses (or accepts again) classical sealed envelopes (types `0x30`, `0x32`) in
    /// [`Account::recipient_keys`], so that a relay withholding the envelope key cannot
    /// downgrade senders to classical envelopes. Turn it on only once every sender supports
    /// hybrid envelopes (SPEC.md §13.8.4). Returns false, changing nothing, while hybrid
    /// envelopes are not enabled.
    pub fn set_refuse_classical_envelopes(&mut self, refuse: bool) -> bool {
        match &mut self.envelope_keys {
            Some(envelope) => {
                envelope.refuse_classical = refuse;
                true
            }
            None => false,
        }
    }

    /// The current envelope KEM key as published, if hybrid envelopes are enabled.
    pub fn envelope_key(&self) -> Option<EnvelopeKeyPublic> {
        self.envelope_keys
            .as_ref()
            .map(|e| EnvelopeKeyPublic::from_pair(*self.identity.public(), &e.keys.current))
    }

    /// What to open sealed envelopes with at `now` ([`crate::sealed::open_with`]): the
    /// identity key pair, the current envelope key and the retired ones still within
    /// [`PREKEY_GRACE_SECS`], and whether classical envelopes are refused.
    pub fn recipient_keys(&self, now: Timestamp) -> RecipientKeys<'_> {
        match &self.envelope_keys {
            None => RecipientKeys::classical(&self.identity),
            Some(envelope) => {
                let keys = core::iter::once(&envelope.keys.current)
                    .chain(
                        envelope
                            .keys
                            .retired
                            .iter()
                            .filter(|(_, retired)| now < retired.plus_secs(PREKEY_GRACE_SECS))
                            .map(|(key, _)| key),
                    )
                    .collect();
                RecipientKeys::new(&self.identity, keys, envelope.refuse_classical)
            }
        }
    }

    /// Whether the signed prekey, the last-resort ML-KEM prekey or the envelope KEM key is
    /// older than [`PREKEY_ROTATION_SECS`].
    pub fn prekeys_due_for_rotation(&self, now: Timestamp) -> bool {
        let mut oldest = self
            .signed_prekey
            .current
            .created_at
            .min(self.last_resort_kem.current.created_at);
        if let Some(envelope) = &self.envelope_keys {
            oldest = oldest.min(envelope.keys.current.created_at);
        }
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
            envelope_key: self.envelope_key(),
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
        self.create_outbound_session_with_version(bundle, self.session_version, rng)
    }

    /// As [`Account::create_outbound_session`], with the session version chosen for this
    /// peer rather than the account's [`Account::session_version`] (an app that knows which
    /// of its peers read version 2).
    ///
    /// ```
    /// use hushwire::{Account, SessionVersion, Timestamp};
    /// use rand_core::SeedableRng;
    /// # fn main() -> Result<(), hushwire::Error> {
    /// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
    /// let now = Timestamp::from_unix_secs(1_700_000_000);
    /// let (alice, mut bob) = (Account::new(now, &mut rng), Account::new(now, &mut rng));
    /// let bundle = bob.published_prekeys().take_bundle();
    /// let mut to_bob =
    ///     alice.create_outbound_session_with_version(&bundle, SessionVersion::V2, &mut rng)?;
    /// let first = to_bob.encrypt(b"post-quantum hello", &mut rng)?;
    /// let mut to_alice = bob.create_inbound_session(&first, now)?.session;
    /// assert_eq!(to_alice.version(), SessionVersion::V2);
    /// let reply = to_alice.encrypt(b"hi", &mut rng)?;
    /// assert_eq!(to_bob.decrypt(&reply)?.plaintext, b"hi");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Account::create_outbound_session`].
    pub fn create_outbound_session_with_version<R: CryptoRng + ?Sized>(
        &self,
        bundle: &PreKeyBundle,
        version: SessionVersion,
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
            version,
            rng,
        )
        .map_err(|_| HandshakeError::NonContributory)?;
        let names = SessionNames {
            local_identity: *self.identity.public(),
            remote_identity: bundle.identity_key,
            session_id: SessionId::from_bytes(initiated.keys.session_id),
            base_key: initiated.fields.base_key,
        };
        Ok(Session::new_initiator(names, ratchet, initiated.fields))
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
        // Both session versions, whatever this account starts (SPEC.md §5.9.7).
        let prekey = AnyPreKey::decode(message)?;
        let version = match prekey {
            AnyPreKey::V1(_) => SessionVersion::V1,
            AnyPreKey::V2(_) => SessionVersion::V2,
        };
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
        let start = ResponderStart::new(
            keys.root,
            RatchetKeyPair::from_secret(signed.secret.clone()),
            keys.responder_header,
            keys.initiator_header,
            keys.tag_key,
            self.config,
            version,
        );
        let names = SessionNames {
            local_identity: *self.identity.public(),
            remote_identity: their_identity,
            session_id: SessionId::from_bytes(keys.session_id),
            base_key: *prekey.base_key(),
        };
        let (session, plaintext, report) =
            Session::accept_first(names, start, &prekey).map_err(HandshakeError::FirstMessage)?;

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

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn publics(account: &Account) -> BTreeMap<u32, [u8; 32]> {
        account
            .one_time
            .iter()
            .map(|(id, k)| (*id, k.public))
            .collect()
    }

    fn kem_publics(account: &Account) -> BTreeMap<u32, Vec<u8>> {
        account
            .one_time_kem
            .iter()
            .map(|(id, k)| (*id, k.pair.public().to_vec()))
            .collect()
    }

    #[test]
    fn wrapped_one_time_counters_skip_live_ids() {
        let mut rng = ChaCha20Rng::seed_from_u64(91);
        let mut account = Account::new(NOW, &mut rng);
        account
            .generate_one_time_prekeys(3, 2, NOW, &mut rng)
            .unwrap();
        assert_eq!(
            account.one_time.keys().copied().collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(
            account.one_time_kem.keys().copied().collect::<Vec<_>>(),
            [2, 3]
        );
        let before = publics(&account);
        let kem_before = kem_publics(&account);

        account.next_one_time_id = u32::MAX - 1;
        account.next_kem_id = u32::MAX;
        account
            .generate_one_time_prekeys(4, 2, NOW, &mut rng)
            .unwrap();
        // The counters wrapped past 0 and skipped the ids still held: 1, 2, 3 for X25519;
        // 1 (the last-resort key), 2 and 3 for ML-KEM.
        assert_eq!(
            account.one_time.keys().copied().collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, u32::MAX - 1, u32::MAX]
        );
        assert_eq!(
            account.one_time_kem.keys().copied().collect::<Vec<_>>(),
            [2, 3, 4, u32::MAX]
        );
        assert_eq!((account.next_one_time_id, account.next_kem_id), (6, 5));
        let after = publics(&account);
        let kem_after = kem_publics(&account);
        for (id, public) in &before {
            assert_eq!(
                after.get(id),
                Some(public),
                "live one-time prekey {id} replaced"
            );
        }
        for (id, public) in &kem_before {
            assert_eq!(
                kem_after.get(id),
                Some(public),
                "live ML-KEM prekey {id} replaced"
            );
        }
        // What is published is one key per id, each signed for the id it carries.
        let published = account.published_prekeys();
        assert_eq!(published.one_time_prekeys.len(), 7);
        for k in &published.one_time_kem_prekeys {
            assert!(crate::keys::verify_kem_prekey(
                account.identity_key(),
                k.id,
                k.kind,
                &k.key,
                &k.signature
            ));
        }
    }

    #[test]
    fn rotation_skips_ids_still_held() {
        let mut rng = ChaCha20Rng::seed_from_u64(92);
        let mut account = Account::new(NOW, &mut rng);
        account
            .generate_one_time_prekeys(0, 2, NOW, &mut rng)
            .unwrap();
        let kem_before = kem_publics(&account);
        // Counters pointing at held ids: the signed prekey 1, the ML-KEM ids 1 (last resort),
        // 2 and 3 (one-time).
        account.next_signed_id = 1;
        account.next_kem_id = 1;
        account.rotate_prekeys(NOW.plus_secs(1), &mut rng);
        assert_eq!(account.signed_prekey.current.id, 2);
        assert_eq!(
            account.signed_prekey.retired.first().map(|(k, _)| k.id),
            Some(1)
        );
        assert_eq!(account.last_resort_kem.current.id, 4);
        assert_eq!(kem_publics(&account), kem_before);
        assert_eq!((account.next_signed_id, account.next_kem_id), (3, 5));
    }

    #[test]
    fn allocation_refuses_when_every_id_is_held() {
        assert_eq!(allocate_ids(7, 1, |_| true, 3), None);
        assert_eq!(allocate_ids(7, 2, |id| id != 8, 3), None);
        assert_eq!(allocate_ids(7, 1, |id| id != 8, 3), Some((vec![8], 9)));
        assert_eq!(
            allocate_ids(u32::MAX, 2, |_| false, 0),
            Some((vec![u32::MAX, 1], 2))
        );
        assert_eq!(allocate_ids(0, 0, |_| true, 5), Some((Vec::new(), 0)));
        let err = ConfigError::IdsExhausted {
            name: "one-time prekeys",
        };
        assert_eq!(err.kind(), crate::ErrorKind::LimitExceeded);
    }
}
