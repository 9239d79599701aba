//! Version 1 snapshots: plain serde structs mirroring the live state, encoded with postcard
//! (SPEC.md §11.3). Live types never derive serde; only these do, so no secret field is
//! serialized by accident. Secret fields are `Zeroizing`.

use std::collections::{BTreeMap, VecDeque};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::{StateType, StorageKey, open_state, seal_state};
use crate::account::{Account, Rotating};
use crate::error::RestoreError;
use crate::kdf::SenderRole;
use crate::keys::secret::{ChainKey, HeaderKey, MessageKey, RootKey, SessionTagKey};
use crate::keys::{
    IdentityKey, IdentityKeyPair, KEM_CIPHERTEXT_LEN, KemKeyPair, KemPreKey, KemPreKeyKind,
    OneTimePreKey, SignedPreKey,
};
use crate::peer::{MAX_PEERS, MAX_SESSIONS_PER_PEER, PeerRecord};
use crate::ratchet::receiving::{CurrentChain, PastChain, StoredKeys};
use crate::ratchet::{RatchetConfig, RatchetKeyPair, RatchetState, SendChain};
use crate::reset::ResetLog;
use crate::session::{Role, Session, SessionId};
use crate::time::Timestamp;
use crate::verify::{IdentityBook, IdentityRecordV1};
use crate::wire::PreKeyFields;

type Secret32 = Zeroizing<[u8; 32]>;

fn secret(bytes: &[u8; 32]) -> Secret32 {
    Zeroizing::new(*bytes)
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ConfigV1 {
    max_jump: u32,
    max_skipped_keys: u32,
    max_receiving_chains: u32,
    skipped_key_max_age: u32,
}

impl ConfigV1 {
    fn from_live(c: &RatchetConfig) -> Self {
        ConfigV1 {
            max_jump: c.max_jump(),
            max_skipped_keys: c.max_skipped_keys(),
            max_receiving_chains: c.max_receiving_chains(),
            skipped_key_max_age: c.skipped_key_max_age(),
        }
    }

    /// Values above a ceiling that a later version lowered are clamped, so older blobs keep
    /// restoring; zero is never valid.
    fn to_live(&self) -> Result<RatchetConfig, RestoreError> {
        use crate::ratchet::{
            HARD_MAX_JUMP, HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEY_MAX_AGE,
            HARD_MAX_SKIPPED_KEYS,
        };
        RatchetConfig::new(
            self.max_jump.min(HARD_MAX_JUMP),
            self.max_skipped_keys.min(HARD_MAX_SKIPPED_KEYS),
            self.max_receiving_chains.min(HARD_MAX_RECEIVING_CHAINS),
            self.skipped_key_max_age.min(HARD_MAX_SKIPPED_KEY_MAX_AGE),
        )
        .map_err(|_| RestoreError::Corrupt)
    }
}

#[derive(Serialize, Deserialize)]
struct SignedPreKeyV1 {
    id: u32,
    secret: Secret32,
    signature: Vec<u8>,
    created_at: u64,
}

impl SignedPreKeyV1 {
    fn from_live(k: &SignedPreKey) -> Self {
        SignedPreKeyV1 {
            id: k.id,
            secret: secret(k.secret.as_bytes()),
            signature: k.signature.to_vec(),
            created_at: k.created_at.as_unix_secs(),
        }
    }

    fn to_live(&self) -> Result<SignedPreKey, RestoreError> {
        let secret = StaticSecret::from(*self.secret);
        Ok(SignedPreKey {
            id: self.id,
            public: XPublicKey::from(&secret).to_bytes(),
            secret,
            signature: self
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| RestoreError::Corrupt)?,
            created_at: Timestamp::from_unix_secs(self.created_at),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct KemPreKeyV1 {
    id: u32,
    kind: u8,
    seed: Zeroizing<Vec<u8>>,
    signature: Vec<u8>,
    created_at: u64,
}

impl KemPreKeyV1 {
    fn from_live(k: &KemPreKey) -> Self {
        KemPreKeyV1 {
            id: k.id,
            kind: k.kind.to_byte(),
            seed: Zeroizing::new(k.pair.seed().to_vec()),
            signature: k.signature.to_vec(),
            created_at: k.created_at.as_unix_secs(),
        }
    }

    fn to_live(&self) -> Result<KemPreKey, RestoreError> {
        let seed: Zeroizing<[u8; 64]> = Zeroizing::new(
            self.seed
                .as_slice()
                .try_into()
                .map_err(|_| RestoreError::Corrupt)?,
        );
        Ok(KemPreKey {
            id: self.id,
            kind: KemPreKeyKind::from_byte(self.kind).ok_or(RestoreError::Corrupt)?,
            pair: KemKeyPair::from_seed(&seed),
            signature: self
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| RestoreError::Corrupt)?,
            created_at: Timestamp::from_unix_secs(self.created_at),
        })
    }
}

/// Version 1 of the persisted [`Account`].
#[derive(Serialize, Deserialize)]
pub(crate) struct AccountSnapshotV1 {
    identity_seed: Secret32,
    signed_prekey: SignedPreKeyV1,
    retired_signed_prekeys: Vec<(SignedPreKeyV1, u64)>,
    last_resort_kem: KemPreKeyV1,
    retired_last_resort_kem: Vec<(KemPreKeyV1, u64)>,
    one_time: Vec<(u32, Secret32)>,
    one_time_kem: Vec<KemPreKeyV1>,
    next_signed_id: u32,
    next_one_time_id: u32,
    next_kem_id: u32,
    replay_records: Vec<(u32, [u8; 32])>,
    config: ConfigV1,
    /// Per peer identity key: its sessions, active first.
    peers: Vec<([u8; 32], Vec<SessionSnapshotV1>)>,
    /// Per peer identity key: reset bookkeeping.
    resets: Vec<([u8; 32], ResetLogV1)>,
    /// Per user id, by increasing id: the recorded identity key and its verification
    /// (SPEC.md §15.5.4).
    identities: Vec<IdentityRecordV1>,
}

#[derive(Serialize, Deserialize)]
struct ResetLogV1 {
    last_requested: Option<u64>,
    last_answered: Option<u64>,
    newest_answered_request: Option<u64>,
    awaiting_new_session: bool,
}

impl AccountSnapshotV1 {
    fn from_live(a: &Account) -> Self {
        AccountSnapshotV1 {
            identity_seed: a.identity.dangerous_to_seed(),
            signed_prekey: SignedPreKeyV1::from_live(&a.signed_prekey.current),
            retired_signed_prekeys: a
                .signed_prekey
                .retired
                .iter()
                .map(|(k, t)| (SignedPreKeyV1::from_live(k), t.as_unix_secs()))
                .collect(),
            last_resort_kem: KemPreKeyV1::from_live(&a.last_resort_kem.current),
            retired_last_resort_kem: a
                .last_resort_kem
                .retired
                .iter()
                .map(|(k, t)| (KemPreKeyV1::from_live(k), t.as_unix_secs()))
                .collect(),
            one_time: a
                .one_time
                .iter()
                .map(|(id, k)| (*id, secret(k.secret.as_bytes())))
                .collect(),
            one_time_kem: a
                .one_time_kem
                .values()
                .map(KemPreKeyV1::from_live)
                .collect(),
            next_signed_id: a.next_signed_id,
            next_one_time_id: a.next_one_time_id,
            next_kem_id: a.next_kem_id,
            replay_records: a.replay_records.iter().copied().collect(),
            config: ConfigV1::from_live(&a.config),
            peers: a
                .peers
                .iter()
                .map(|(id, record)| {
                    (
                        id.to_bytes(),
                        record
                            .sessions
                            .iter()
                            .map(SessionSnapshotV1::from_live)
                            .collect(),
                    )
                })
                .collect(),
            resets: a
                .resets
                .iter()
                .map(|(id, log)| {
                    (
                        id.to_bytes(),
                        ResetLogV1 {
                            last_requested: log.last_requested.map(Timestamp::as_unix_secs),
                            last_answered: log.last_answered.map(Timestamp::as_unix_secs),
                            newest_answered_request: log
                                .newest_answered_request
                                .map(Timestamp::as_unix_secs),
                            awaiting_new_session: log.awaiting_new_session,
                        },
                    )
                })
                .collect(),
            identities: a.identities.to_snapshot(),
        }
    }

    fn to_live(&self) -> Result<Account, RestoreError> {
        let mut one_time = BTreeMap::new();
        for (id, s) in &self.one_time {
            let secret = StaticSecret::from(**s);
            let public = XPublicKey::from(&secret).to_bytes();
            if one_time
                .insert(*id, OneTimePreKey { secret, public })
                .is_some()
            {
                return Err(RestoreError::Corrupt);
            }
        }
        let mut one_time_kem = BTreeMap::new();
        for k in &self.one_time_kem {
            let live = k.to_live()?;
            if live.kind != KemPreKeyKind::OneTime || one_time_kem.insert(k.id, live).is_some() {
                return Err(RestoreError::Corrupt);
            }
        }
        let last_resort = self.last_resort_kem.to_live()?;
        if last_resort.kind != KemPreKeyKind::LastResort {
            return Err(RestoreError::Corrupt);
        }
        if self.peers.len() > MAX_PEERS {
            return Err(RestoreError::Corrupt);
        }
        let mut peers = BTreeMap::new();
        for (id, sessions) in &self.peers {
            let identity = IdentityKey::from_bytes(id).map_err(|_| RestoreError::Corrupt)?;
            if sessions.is_empty() || sessions.len() > MAX_SESSIONS_PER_PEER {
                return Err(RestoreError::Corrupt);
            }
            let mut record = PeerRecord::default();
            for s in sessions {
                let session = s.to_live()?;
                if session.remote_identity() != &identity {
                    return Err(RestoreError::Corrupt);
                }
                record.sessions.push_back(session);
            }
            if peers.insert(identity, record).is_some() {
                return Err(RestoreError::Corrupt);
            }
        }
        let mut resets = BTreeMap::new();
        for (id, log) in &self.resets {
            let identity = IdentityKey::from_bytes(id).map_err(|_| RestoreError::Corrupt)?;
            let live = ResetLog {
                last_requested: log.last_requested.map(Timestamp::from_unix_secs),
                last_answered: log.last_answered.map(Timestamp::from_unix_secs),
                newest_answered_request: log.newest_answered_request.map(Timestamp::from_unix_secs),
                awaiting_new_session: log.awaiting_new_session,
            };
            if resets.insert(identity, live).is_some() {
                return Err(RestoreError::Corrupt);
            }
        }
        Ok(Account {
            identity: IdentityKeyPair::dangerous_from_seed(&self.identity_seed),
            signed_prekey: Rotating {
                current: self.signed_prekey.to_live()?,
                retired: self
                    .retired_signed_prekeys
                    .iter()
                    .map(|(k, t)| Ok((k.to_live()?, Timestamp::from_unix_secs(*t))))
                    .collect::<Result<_, RestoreError>>()?,
            },
            last_resort_kem: Rotating {
                current: last_resort,
                retired: self
                    .retired_last_resort_kem
                    .iter()
                    .map(|(k, t)| Ok((k.to_live()?, Timestamp::from_unix_secs(*t))))
                    .collect::<Result<_, RestoreError>>()?,
            },
            one_time,
            one_time_kem,
            next_signed_id: self.next_signed_id,
            next_one_time_id: self.next_one_time_id,
            next_kem_id: self.next_kem_id,
            replay_records: self.replay_records.iter().copied().collect::<VecDeque<_>>(),
            config: self.config.to_live()?,
            peers,
            resets,
            identities: IdentityBook::from_snapshot(&self.identities)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredKeysV1 {
    keys: Vec<(u32, Secret32)>,
    expired_below: u32,
}

impl StoredKeysV1 {
    fn from_live(s: &StoredKeys) -> Self {
        StoredKeysV1 {
            keys: s
                .keys
                .iter()
                .map(|(n, k)| (*n, secret(k.as_bytes())))
                .collect(),
            expired_below: s.expired_below,
        }
    }

    fn to_live(&self) -> Result<StoredKeys, RestoreError> {
        let mut keys = VecDeque::with_capacity(self.keys.len());
        let mut last: Option<u32> = None;
        for (n, k) in &self.keys {
            if last.is_some_and(|l| l >= *n) {
                return Err(RestoreError::Corrupt);
            }
            last = Some(*n);
            keys.push_back((*n, MessageKey::from_bytes(**k)));
        }
        Ok(StoredKeys {
            keys,
            expired_below: self.expired_below,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct SendChainV1 {
    header_key: Secret32,
    chain_key: Secret32,
    next: u32,
    previous_len: u32,
}

#[derive(Serialize, Deserialize)]
struct CurrentChainV1 {
    header_key: Secret32,
    ratchet_key: [u8; 32],
    chain_key: Secret32,
    next: u32,
    stored: StoredKeysV1,
}

#[derive(Serialize, Deserialize)]
struct PastChainV1 {
    header_key: Secret32,
    ratchet_key: [u8; 32],
    end: u32,
    step: u64,
    stored: StoredKeysV1,
}

#[derive(Serialize, Deserialize)]
struct RatchetV1 {
    root: Secret32,
    our_ratchet: Option<Secret32>,
    their_ratchet: Option<[u8; 32]>,
    sending: Option<SendChainV1>,
    next_send_header: Secret32,
    receiving: Option<CurrentChainV1>,
    next_receive_header: Secret32,
    past: Vec<PastChainV1>,
    receive_steps: u64,
    send_steps: u32,
    tag_key: Secret32,
    /// 1 = initiator, 2 = responder (the role this state tags its messages with).
    role: u8,
    config: ConfigV1,
}

impl RatchetV1 {
    fn from_live(r: &RatchetState) -> Self {
        RatchetV1 {
            root: secret(r.root.as_bytes()),
            our_ratchet: r.our_ratchet.as_ref().map(|k| secret(k.secret.as_bytes())),
            their_ratchet: r.their_ratchet,
            sending: r.sending.as_ref().map(|s| SendChainV1 {
                header_key: secret(s.header_key.as_bytes()),
                chain_key: secret(s.chain_key.as_bytes()),
                next: s.next,
                previous_len: s.previous_len,
            }),
            next_send_header: secret(r.next_send_header.as_bytes()),
            receiving: r.receiving.as_ref().map(|c| CurrentChainV1 {
                header_key: secret(c.header_key.as_bytes()),
                ratchet_key: c.ratchet_key,
                chain_key: secret(c.chain_key.as_bytes()),
                next: c.next,
                stored: StoredKeysV1::from_live(&c.stored),
            }),
            next_receive_header: secret(r.next_receive_header.as_bytes()),
            past: r
                .past
                .iter()
                .map(|p| PastChainV1 {
                    header_key: secret(p.header_key.as_bytes()),
                    ratchet_key: p.ratchet_key,
                    end: p.end,
                    step: p.step,
                    stored: StoredKeysV1::from_live(&p.stored),
                })
                .collect(),
            receive_steps: r.receive_steps,
            send_steps: r.send_steps,
            tag_key: secret(r.tag_key.as_bytes()),
            role: match r.role {
                SenderRole::Initiator => 1,
                SenderRole::Responder => 2,
            },
            config: ConfigV1::from_live(&r.config),
        }
    }

    fn to_live(&self) -> Result<RatchetState, RestoreError> {
        let mut past = VecDeque::with_capacity(self.past.len());
        for p in &self.past {
            past.push_back(PastChain {
                header_key: HeaderKey::from_bytes(*p.header_key),
                ratchet_key: p.ratchet_key,
                end: p.end,
                step: p.step,
                stored: p.stored.to_live()?,
            });
        }
        Ok(RatchetState {
            root: RootKey::from_bytes(*self.root),
            our_ratchet: self
                .our_ratchet
                .as_ref()
                .map(|s| RatchetKeyPair::from_secret(StaticSecret::from(**s))),
            their_ratchet: self.their_ratchet,
            sending: self.sending.as_ref().map(|s| SendChain {
                header_key: HeaderKey::from_bytes(*s.header_key),
                chain_key: ChainKey::from_bytes(*s.chain_key),
                next: s.next,
                previous_len: s.previous_len,
            }),
            next_send_header: HeaderKey::from_bytes(*self.next_send_header),
            receiving: match &self.receiving {
                Some(c) => Some(CurrentChain {
                    header_key: HeaderKey::from_bytes(*c.header_key),
                    ratchet_key: c.ratchet_key,
                    chain_key: ChainKey::from_bytes(*c.chain_key),
                    next: c.next,
                    stored: c.stored.to_live()?,
                }),
                None => None,
            },
            next_receive_header: HeaderKey::from_bytes(*self.next_receive_header),
            past,
            receive_steps: self.receive_steps,
            send_steps: self.send_steps,
            tag_key: SessionTagKey::from_bytes(*self.tag_key),
            role: match self.role {
                1 => SenderRole::Initiator,
                2 => SenderRole::Responder,
                _ => return Err(RestoreError::Corrupt),
            },
            config: self.config.to_live()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct PreKeyFieldsV1 {
    identity_key: [u8; 32],
    base_key: [u8; 32],
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    kem_prekey_id: u32,
    kem_ciphertext: Vec<u8>,
}

/// Version 1 of the persisted [`Session`].
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionSnapshotV1 {
    local_identity: [u8; 32],
    remote_identity: [u8; 32],
    session_id: [u8; 32],
    /// 1 = initiator, 2 = responder.
    role: u8,
    base_key: [u8; 32],
    prekey_digest: Option<[u8; 32]>,
    pending_prekey: Option<PreKeyFieldsV1>,
    ratchet: RatchetV1,
}

impl SessionSnapshotV1 {
    fn from_live(s: &Session) -> Self {
        SessionSnapshotV1 {
            local_identity: s.local_identity.to_bytes(),
            remote_identity: s.remote_identity.to_bytes(),
            session_id: *s.session_id.as_bytes(),
            role: match s.role {
                Role::Initiator => 1,
                Role::Responder => 2,
            },
            base_key: s.base_key,
            prekey_digest: s.prekey_digest,
            pending_prekey: s.pending_prekey.as_ref().map(|f| PreKeyFieldsV1 {
                identity_key: f.identity_key,
                base_key: f.base_key,
                signed_prekey_id: f.signed_prekey_id,
                one_time_prekey_id: f.one_time_prekey_id,
                kem_prekey_id: f.kem_prekey_id,
                kem_ciphertext: f.kem_ciphertext.to_vec(),
            }),
            ratchet: RatchetV1::from_live(&s.ratchet),
        }
    }

    fn to_live(&self) -> Result<Session, RestoreError> {
        let role = match self.role {
            1 => Role::Initiator,
            2 => Role::Responder,
            _ => return Err(RestoreError::Corrupt),
        };
        let pending_prekey = match &self.pending_prekey {
            Some(f) => {
                let ct: [u8; KEM_CIPHERTEXT_LEN] = f
                    .kem_ciphertext
                    .as_slice()
                    .try_into()
                    .map_err(|_| RestoreError::Corrupt)?;
                Some(PreKeyFields {
                    identity_key: f.identity_key,
                    base_key: f.base_key,
                    signed_prekey_id: f.signed_prekey_id,
                    one_time_prekey_id: f.one_time_prekey_id,
                    kem_prekey_id: f.kem_prekey_id,
                    kem_ciphertext: Box::new(ct),
                })
            }
            None => None,
        };
        Ok(Session::new(
            self.ratchet.to_live()?,
            IdentityKey::from_bytes(&self.local_identity).map_err(|_| RestoreError::Corrupt)?,
            IdentityKey::from_bytes(&self.remote_identity).map_err(|_| RestoreError::Corrupt)?,
            SessionId::from_bytes(self.session_id),
            role,
            self.base_key,
            self.prekey_digest,
            pending_prekey,
        ))
    }
}

impl Account {
    /// Exports the account as an encrypted blob (SPEC.md §11). `generation` is the app's
    /// monotonic counter for this object: store the latest one outside the blob and pass it
    /// to [`Account::from_encrypted`] to detect a rolled-back copy.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        seal_state(
            &AccountSnapshotV1::from_live(self),
            StateType::Account,
            generation,
            key,
            rng,
        )
    }

    /// Restores an account exported with [`Account::to_encrypted`], rejecting blobs whose
    /// generation is below `min_generation` (pass 0 to accept any).
    ///
    /// # Errors
    /// [`RestoreError`]: each cause (truncated, foreign, future version, other type, wrong key
    /// or tampered, invalid content, rolled back) has its own variant.
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
    ) -> Result<Account, RestoreError> {
        let (snapshot, _version, _generation) =
            open_state::<AccountSnapshotV1>(bytes, StateType::Account, key, min_generation)?;
        snapshot.to_live()
    }
}

impl Session {
    /// Exports the session as an encrypted blob (SPEC.md §11); see
    /// [`Account::to_encrypted`] for `generation`.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        seal_state(
            &SessionSnapshotV1::from_live(self),
            StateType::Session,
            generation,
            key,
            rng,
        )
    }

    /// Restores a session exported with [`Session::to_encrypted`].
    ///
    /// # Errors
    /// [`RestoreError`], as for [`Account::from_encrypted`].
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
    ) -> Result<Session, RestoreError> {
        let (snapshot, _version, _generation) =
            open_state::<SessionSnapshotV1>(bytes, StateType::Session, key, min_generation)?;
        snapshot.to_live()
    }
}

/// Plain serde for apps that encrypt state themselves: the same versioned snapshot as the
/// encrypted blob, prefixed by the format version. Secret fields appear only here.
#[cfg(feature = "serde")]
mod plain_serde {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{AccountSnapshotV1, SessionSnapshotV1};
    use crate::account::Account;
    use crate::persist::STATE_FORMAT_VERSION;
    use crate::session::Session;

    impl Serialize for Account {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (STATE_FORMAT_VERSION, AccountSnapshotV1::from_live(self)).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Account {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let (version, snapshot) = <(u16, AccountSnapshotV1)>::deserialize(deserializer)?;
            if version != STATE_FORMAT_VERSION {
                return Err(D::Error::custom("unknown hushwire state format version"));
            }
            snapshot.to_live().map_err(D::Error::custom)
        }
    }

    impl Serialize for Session {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (STATE_FORMAT_VERSION, SessionSnapshotV1::from_live(self)).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Session {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let (version, snapshot) = <(u16, SessionSnapshotV1)>::deserialize(deserializer)?;
            if version != STATE_FORMAT_VERSION {
                return Err(D::Error::custom("unknown hushwire state format version"));
            }
            snapshot.to_live().map_err(D::Error::custom)
        }
    }

    #[cfg(test)]
    mod tests {
        use chacha20::ChaCha20Rng;
        use rand_core::SeedableRng;

        use crate::{Account, Session, Timestamp};

        #[test]
        fn plain_serde_round_trips_account_and_session() {
            let now = Timestamp::from_unix_secs(1);
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let alice = Account::new(now, &mut rng);
            let mut bob = Account::new(now, &mut rng);
            let mut s = alice
                .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
                .unwrap();
            let m = s.encrypt(b"x", &mut rng).unwrap();
            let _ = bob.create_inbound_session(&m, now).unwrap();
            let json = serde_json::to_string(&s).unwrap();
            let back: Session = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s);
            let json = serde_json::to_string(&bob).unwrap();
            let back: Account = serde_json::from_str(&json).unwrap();
            assert_eq!(back.published_prekeys(), bob.published_prekeys());
        }
    }
}
