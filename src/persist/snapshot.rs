//! Version 1 snapshots: plain serde structs mirroring the live state, encoded with postcard
//! (SPEC.md §11.3). Live types never derive serde; only these do, so no secret field is
//! serialized by accident. Secret fields are `Zeroizing`.

use std::collections::{BTreeMap, VecDeque};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::RestoreError;
use super::{
    Binding, BlobLabel, Expected, KeyChecks, StateType, StorageKey, decode_exact, restore_state,
    seal_state,
};
use crate::account::{Account, Rotating};
use crate::kdf::SenderRole;
use crate::keys::secret::{ChainKey, HeaderKey, MessageKey, RootKey, SessionTagKey};
use crate::keys::{
    IdentityKeyPair, KEM_CIPHERTEXT_LEN, KemKeyPair, KemPreKey, KemPreKeyKind, OneTimePreKey,
    SignedPreKey,
};
use crate::ratchet::receiving::{CurrentChain, PastChain, StoredKeys};
use crate::ratchet::{RatchetConfig, RatchetKeyPair, RatchetState, SendChain, Sending};
use crate::session::{Role, Session, SessionId, SessionNames, Side};
use crate::time::Timestamp;
use crate::wire::PreKeyFields;

type Secret32 = Zeroizing<[u8; 32]>;

fn secret(bytes: &[u8; 32]) -> Secret32 {
    Zeroizing::new(*bytes)
}

/// Refuses `count` items where the limit named `limit` allows at most `max` (SPEC.md §11.3).
pub(crate) fn within_limit(
    limit: &'static str,
    count: usize,
    max: usize,
) -> Result<(), RestoreError> {
    if count > max {
        return Err(RestoreError::LimitExceeded {
            limit,
            max: u64::try_from(max).unwrap_or(u64::MAX),
        });
    }
    Ok(())
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

    /// A value above its `HARD_MAX_*` ceiling was never written (SPEC.md §11.3). Should a
    /// later version lower a ceiling, it clamps older blobs' values in its migration instead
    /// (§11.4).
    fn check_limits(&self) -> Result<(), RestoreError> {
        use crate::ratchet::{
            HARD_MAX_JUMP, HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEY_MAX_AGE,
            HARD_MAX_SKIPPED_KEYS,
        };
        for (limit, value, max) in [
            ("HARD_MAX_JUMP", self.max_jump, HARD_MAX_JUMP),
            (
                "HARD_MAX_SKIPPED_KEYS",
                self.max_skipped_keys,
                HARD_MAX_SKIPPED_KEYS,
            ),
            (
                "HARD_MAX_RECEIVING_CHAINS",
                self.max_receiving_chains,
                HARD_MAX_RECEIVING_CHAINS,
            ),
            (
                "HARD_MAX_SKIPPED_KEY_MAX_AGE",
                self.skipped_key_max_age,
                HARD_MAX_SKIPPED_KEY_MAX_AGE,
            ),
        ] {
            if value > max {
                return Err(RestoreError::LimitExceeded {
                    limit,
                    max: u64::from(max),
                });
            }
        }
        Ok(())
    }

    /// Zero is never valid (limits are checked before, [`ConfigV1::check_limits`]).
    fn to_live(&self) -> Result<RatchetConfig, RestoreError> {
        self.check_limits()?;
        RatchetConfig::new(
            self.max_jump,
            self.max_skipped_keys,
            self.max_receiving_chains,
            self.skipped_key_max_age,
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
    pub(crate) peers: Vec<([u8; 32], Vec<SessionSnapshotV1>)>,
    /// Per peer identity key: reset bookkeeping.
    resets: Vec<([u8; 32], ResetLogV1)>,
    /// Per user id, by increasing id: the recorded identity key and its verification
    /// (SPEC.md §15.5.4).
    identities: Vec<IdentityRecordV1>,
}

/// Version 1 of one user's record in the persisted account (`AccountSnapshotV1.identities`,
/// SPEC.md §15.5.4), read and written by the identity book (src/verify/state.rs).
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityRecordV1 {
    pub(crate) user_id: Vec<u8>,
    pub(crate) current: [u8; 32],
    pub(crate) seen_at: u64,
    pub(crate) verified: Option<([u8; 32], u64)>,
}

impl IdentityRecordV1 {
    /// The user id's length limit (SPEC.md §11.3).
    pub(crate) fn check_limits(&self) -> Result<(), RestoreError> {
        within_limit(
            "MAX_USER_ID_LEN",
            self.user_id.len(),
            crate::ids::MAX_USER_ID_LEN,
        )
    }
}

/// One peer's reset bookkeeping (SPEC.md §12.4), read and written by the device layer.
#[derive(Serialize, Deserialize)]
pub(crate) struct ResetLogV1 {
    pub(crate) last_requested: Option<u64>,
    pub(crate) last_answered: Option<u64>,
    pub(crate) newest_answered_request: Option<u64>,
    pub(crate) awaiting_new_session: bool,
}

/// Version 2 of the persisted [`Account`]: version 1 with, per peer, when it was last used
/// (for eviction, SPEC.md §12.1).
///
/// One struct holds both layers, so the blob is the one it always was: the account's fields
/// first, then the device's sections (`peers`, `resets`, `identities`), which an account
/// alone writes empty and the device layer (src/device/persist.rs) fills and reads.
#[derive(Serialize, Deserialize)]
pub(crate) struct AccountSnapshotV2 {
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
    /// By increasing identity key bytes.
    pub(crate) peers: Vec<PeerRecordV2>,
    /// Per peer identity key: reset bookkeeping.
    pub(crate) resets: Vec<([u8; 32], ResetLogV1)>,
    /// Per user id, by increasing id: the recorded identity key and its verification
    /// (SPEC.md §15.5.4).
    pub(crate) identities: Vec<IdentityRecordV1>,
}

/// One peer's record (SPEC.md §12.1).
#[derive(Serialize, Deserialize)]
pub(crate) struct PeerRecordV2 {
    pub(crate) identity: [u8; 32],
    /// The device's logical clock when the record was last used.
    pub(crate) last_used: u64,
    /// Active first.
    pub(crate) sessions: Vec<SessionSnapshotV1>,
}

/// Version 1 had no recency: every peer migrates as last used at 0, so until they are used
/// again ties are broken by key bytes.
impl From<AccountSnapshotV1> for AccountSnapshotV2 {
    fn from(v1: AccountSnapshotV1) -> Self {
        AccountSnapshotV2 {
            identity_seed: v1.identity_seed,
            signed_prekey: v1.signed_prekey,
            retired_signed_prekeys: v1.retired_signed_prekeys,
            last_resort_kem: v1.last_resort_kem,
            retired_last_resort_kem: v1.retired_last_resort_kem,
            one_time: v1.one_time,
            one_time_kem: v1.one_time_kem,
            next_signed_id: v1.next_signed_id,
            next_one_time_id: v1.next_one_time_id,
            next_kem_id: v1.next_kem_id,
            replay_records: v1.replay_records,
            config: v1.config,
            peers: v1
                .peers
                .into_iter()
                .map(|(identity, sessions)| PeerRecordV2 {
                    identity,
                    last_used: 0,
                    sessions,
                })
                .collect(),
            resets: v1.resets,
            identities: v1.identities,
        }
    }
}

impl AccountSnapshotV2 {
    /// The account's part; the device's sections are empty (an account alone holds none).
    pub(crate) fn from_account(a: &Account) -> Self {
        AccountSnapshotV2 {
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
            peers: Vec::new(),
            resets: Vec::new(),
            identities: Vec::new(),
        }
    }

    /// Whether the device's sections hold anything: such a blob restores only as a device.
    pub(crate) fn has_device_state(&self) -> bool {
        !(self.peers.is_empty() && self.resets.is_empty() && self.identities.is_empty())
    }

    /// Every count limit of the snapshot, checked before anything is parsed (SPEC.md §11.3).
    /// `device_limits` checks the device's sections (peers, sessions per peer, reset logs,
    /// identity records), whose limits the device layer owns.
    pub(crate) fn check_limits(
        &self,
        device_limits: impl FnOnce(&Self) -> Result<(), RestoreError>,
    ) -> Result<(), RestoreError> {
        use crate::account::{
            MAX_ONE_TIME_KEM_PREKEYS, MAX_ONE_TIME_PREKEYS, MAX_REPLAY_RECORDS, MAX_RETIRED_PREKEYS,
        };
        let as_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        within_limit(
            "MAX_ONE_TIME_PREKEYS",
            self.one_time.len(),
            as_usize(MAX_ONE_TIME_PREKEYS),
        )?;
        within_limit(
            "MAX_ONE_TIME_KEM_PREKEYS",
            self.one_time_kem.len(),
            as_usize(MAX_ONE_TIME_KEM_PREKEYS),
        )?;
        within_limit(
            "MAX_RETIRED_PREKEYS",
            self.retired_signed_prekeys.len(),
            MAX_RETIRED_PREKEYS,
        )?;
        within_limit(
            "MAX_RETIRED_PREKEYS",
            self.retired_last_resort_kem.len(),
            MAX_RETIRED_PREKEYS,
        )?;
        // Records are kept per signed prekey, for the current and each retired one.
        within_limit(
            "MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS)",
            self.replay_records.len(),
            MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS),
        )?;
        let mut per_key: BTreeMap<u32, usize> = BTreeMap::new();
        for (id, _) in &self.replay_records {
            let count = per_key.entry(*id).or_default();
            *count += 1;
            within_limit("MAX_REPLAY_RECORDS", *count, MAX_REPLAY_RECORDS)?;
        }
        device_limits(self)?;
        self.config.check_limits()?;
        for peer in &self.peers {
            for session in &peer.sessions {
                session.ratchet.check_limits()?;
            }
        }
        Ok(())
    }

    /// The live account, after [`AccountSnapshotV2::check_limits`]; `checks` says how
    /// identity keys are parsed (SPEC.md §11.8). `device` parses the device's peers and reset
    /// logs, at the point of the account's checks where they always were.
    pub(crate) fn account_to_live<D>(
        &self,
        checks: KeyChecks,
        device: impl FnOnce(&Self, KeyChecks) -> Result<D, RestoreError>,
    ) -> Result<(Account, D), RestoreError> {
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
        let device = device(self, checks)?;
        let account = Account {
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
        };
        Ok((account, device))
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
            our_ratchet: r.sending.ours().map(|k| secret(k.secret.as_bytes())),
            their_ratchet: Some(*r.sending.theirs()),
            sending: r.sending.chain().map(|s| SendChainV1 {
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

    /// The hard caps of the ratchet (SPEC.md §5.5): a session never holds more past chains
    /// or stored keys, whatever its configuration (a lowered configured cap may leave more
    /// than the configured number until the next decrypt, never more than the hard cap).
    fn check_limits(&self) -> Result<(), RestoreError> {
        use crate::ratchet::{HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEYS};
        self.config.check_limits()?;
        let as_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        within_limit(
            "HARD_MAX_RECEIVING_CHAINS",
            self.past.len(),
            as_usize(HARD_MAX_RECEIVING_CHAINS),
        )?;
        let stored = self
            .past
            .iter()
            .map(|p| p.stored.keys.len())
            .chain(self.receiving.iter().map(|c| c.stored.keys.len()))
            .fold(0usize, usize::saturating_add);
        within_limit(
            "HARD_MAX_SKIPPED_KEYS",
            stored,
            as_usize(HARD_MAX_SKIPPED_KEYS),
        )
    }

    fn to_live(&self) -> Result<RatchetState, RestoreError> {
        self.check_limits()?;
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
        let chain = self.sending.as_ref().map(|s| SendChain {
            header_key: HeaderKey::from_bytes(*s.header_key),
            chain_key: ChainKey::from_bytes(*s.chain_key),
            next: s.next,
            previous_len: s.previous_len,
        });
        // The sending side's states (SPEC.md §5.4): a responder before its first message is
        // never stored, and no state holds a key pair without a chain to send on.
        let sending = match (&self.our_ratchet, self.their_ratchet, chain) {
            (Some(ours), Some(theirs), Some(chain)) => Sending::Active {
                ours: RatchetKeyPair::from_stored_secret(StaticSecret::from(**ours)),
                theirs,
                chain,
            },
            (None, Some(theirs), last) => Sending::StepDue { theirs, last },
            (_, None, _) | (Some(_), Some(_), None) => return Err(RestoreError::Corrupt),
        };
        Ok(RatchetState {
            root: RootKey::from_bytes(*self.root),
            sending,
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
    pub(crate) fn from_live(s: &Session) -> Self {
        SessionSnapshotV1 {
            local_identity: s.local_identity.to_bytes(),
            remote_identity: s.remote_identity.to_bytes(),
            session_id: *s.session_id.as_bytes(),
            role: match s.role() {
                Role::Initiator => 1,
                Role::Responder => 2,
            },
            base_key: s.base_key,
            prekey_digest: match &s.side {
                Side::Initiator { .. } => None,
                Side::Responder { prekey_digest } => Some(*prekey_digest),
            },
            pending_prekey: match &s.side {
                Side::Initiator { prekey_phase } => prekey_phase.as_ref(),
                Side::Responder { .. } => None,
            }
            .map(|f| PreKeyFieldsV1 {
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

    /// The live session; `checks` says how its identity keys are parsed (SPEC.md §11.8).
    pub(crate) fn to_live(&self, checks: KeyChecks) -> Result<Session, RestoreError> {
        self.ratchet.check_limits()?;
        let prekey_phase = match &self.pending_prekey {
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
        // Each role's own fields (SPEC.md §7.1): a responder always has its prekey digest and
        // never prekey fields to repeat; an initiator never has a digest.
        let side = match (self.role, self.prekey_digest, prekey_phase) {
            (1, None, prekey_phase) => Side::Initiator { prekey_phase },
            (2, Some(prekey_digest), None) => Side::Responder { prekey_digest },
            _ => return Err(RestoreError::Corrupt),
        };
        let ratchet = self.ratchet.to_live()?;
        let names = SessionNames {
            local_identity: checks.identity(&self.local_identity)?,
            remote_identity: checks.identity(&self.remote_identity)?,
            session_id: SessionId::from_bytes(self.session_id),
            base_key: self.base_key,
        };
        Ok(Session::from_parts(names, side, ratchet))
    }
}

/// Decodes an account snapshot of format `version` (from a blob the storage key
/// authenticated), migrated to the current version.
pub(crate) fn account_snapshot_from_version(
    version: u16,
    bytes: &[u8],
) -> Result<AccountSnapshotV2, RestoreError> {
    Ok(match version {
        1 => AccountSnapshotV2::from(decode_exact::<AccountSnapshotV1>(bytes)?),
        _ => decode_exact::<AccountSnapshotV2>(bytes)?,
    })
}

/// The live account of a snapshot that holds no device state.
///
/// # Errors
/// [`RestoreError::DeviceState`] if it holds peers, reset logs or recorded identities (restore
/// it as a `Device`, which owns them, so nothing is dropped); then as for any restore.
pub(crate) fn account_from_snapshot(
    snapshot: &AccountSnapshotV2,
    checks: KeyChecks,
) -> Result<Account, RestoreError> {
    if snapshot.has_device_state() {
        return Err(RestoreError::DeviceState);
    }
    snapshot.check_limits(|_| Ok(()))?;
    Ok(snapshot.account_to_live(checks, |_, _| Ok(()))?.0)
}

fn account_from_version(version: u16, bytes: &[u8]) -> Result<Account, RestoreError> {
    account_from_snapshot(
        &account_snapshot_from_version(version, bytes)?,
        KeyChecks::for_blob_version(version),
    )
}

/// Decodes a session snapshot (the same struct in versions 1 and 2) from a blob the storage
/// key authenticated.
fn session_from_version(version: u16, bytes: &[u8]) -> Result<Session, RestoreError> {
    decode_exact::<SessionSnapshotV1>(bytes)?.to_live(KeyChecks::for_blob_version(version))
}

fn session_binding(s: &Session) -> Binding {
    Binding::session(&s.local_identity, &s.remote_identity, &s.session_id)
}

impl Account {
    /// Exports the account as an encrypted blob (SPEC.md §11), bound to this account's
    /// identity key. It is the blob a [`crate::Device`] writes, with no peers, reset logs or
    /// recorded identities: it restores as an account or as a device. `generation` is the app's monotonic counter for this object: store the
    /// latest one outside the blob and pass it to [`Account::from_encrypted`] to detect a
    /// rolled-back copy.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        self.to_encrypted_labeled(key, &BlobLabel::default(), generation, rng)
    }

    /// As [`Account::to_encrypted`], and binds the app's `label` for the slot into the blob
    /// (SPEC.md §11.7): restoring then needs [`Expected::with_label`].
    pub fn to_encrypted_labeled<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        label: &BlobLabel,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        seal_state(
            &AccountSnapshotV2::from_account(self),
            StateType::Account,
            &Binding::account(self.identity_key()),
            label,
            generation,
            key,
            rng,
        )
    }

    /// Restores an account exported with [`Account::to_encrypted`], rejecting blobs whose
    /// generation is below `min_generation` (pass 0 to accept any) and blobs of another object
    /// than `expected` (usually [`Expected::any`], or [`Expected::identity`] when the app
    /// keeps the account's identity key elsewhere; add the slot's label if it gave one).
    ///
    /// # Errors
    /// [`RestoreError`]: each cause (truncated, foreign, future version, other type, wrong key
    /// or tampered, rolled back, another object, a limit exceeded, invalid content) has its own
    /// variant. A blob that holds a device's peers, reset logs or recorded identities is
    /// [`RestoreError::DeviceState`]: restore it with `Device::from_encrypted`, so nothing is
    /// dropped. Nothing changes on error.
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<Account, RestoreError> {
        restore_state(
            bytes,
            StateType::Account,
            key,
            min_generation,
            expected,
            account_from_version,
            |a: &Account| Binding::account(a.identity_key()),
        )
    }
}

impl Session {
    /// Exports the session as an encrypted blob (SPEC.md §11), bound to our identity, the
    /// peer's and the session id; see [`Account::to_encrypted`] for `generation`.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        self.to_encrypted_labeled(key, &BlobLabel::default(), generation, rng)
    }

    /// As [`Session::to_encrypted`], and binds the app's `label` for the slot into the blob
    /// (SPEC.md §11.7): restoring then needs [`Expected::with_label`].
    pub fn to_encrypted_labeled<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        label: &BlobLabel,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        seal_state(
            &SessionSnapshotV1::from_live(self),
            StateType::Session,
            &session_binding(self),
            label,
            generation,
            key,
            rng,
        )
    }

    /// Restores a session exported with [`Session::to_encrypted`]. Pass what the slot is for,
    /// usually [`Expected::peer`]: Carol's session is then refused in the slot kept for Bob.
    ///
    /// ```
    /// # use hushwire::{Account, Session, StorageKey, Timestamp};
    /// # use hushwire::persist::Expected;
    /// # use rand_core::SeedableRng;
    /// # let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
    /// # let now = Timestamp::from_unix_secs(1);
    /// # let alice = Account::new(now, &mut rng);
    /// # let (bob, carol) = (Account::new(now, &mut rng), Account::new(now, &mut rng));
    /// let with_carol =
    ///     alice.create_outbound_session(&carol.published_prekeys().take_bundle(), &mut rng)?;
    /// let key = StorageKey::from_bytes([7; 32]);
    /// let blob = with_carol.to_encrypted(&key, 1, &mut rng);
    /// // The app restores the slot it keeps for Bob, but the storage holds Carol's blob.
    /// let refused = Session::from_encrypted(&blob, &key, 1, &Expected::peer(bob.identity_key()));
    /// assert_eq!(refused, Err(hushwire::RestoreError::WrongObject { field: "peer" }));
    /// let back = Session::from_encrypted(&blob, &key, 1, &Expected::peer(carol.identity_key()))?;
    /// assert_eq!(back, with_carol);
    /// # Ok::<(), hushwire::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`RestoreError`], as for [`Account::from_encrypted`]. Nothing changes on error.
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<Session, RestoreError> {
        restore_state(
            bytes,
            StateType::Session,
            key,
            min_generation,
            expected,
            session_from_version,
            session_binding,
        )
    }
}

/// Plain serde for apps that encrypt state themselves: the same versioned snapshot as the
/// encrypted blob, prefixed by the format version. Secret fields appear only here.
#[cfg(feature = "serde")]
pub(crate) mod plain_serde {
    use core::fmt;
    use core::marker::PhantomData;

    use serde::de::{DeserializeOwned, Error as _, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{AccountSnapshotV1, AccountSnapshotV2, SessionSnapshotV1};
    use crate::account::Account;
    use crate::persist::{KeyChecks, STATE_FORMAT_VERSION};
    use crate::session::Session;

    /// Reads `(version, snapshot)`, decoding the snapshot with the struct of its version
    /// (`V1` for version 1, `V2` for the current one) and migrating it to `V2`.
    struct Versioned<V1, V2>(PhantomData<(V1, V2)>);

    impl<'de, V1: DeserializeOwned + Into<V2>, V2: DeserializeOwned> Visitor<'de>
        for Versioned<V1, V2>
    {
        type Value = V2;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a hushwire state format version and snapshot")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V2, A::Error> {
            let version: u16 = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(0, &self))?;
            let snapshot = match version {
                1 => seq.next_element::<V1>()?.map(Into::into),
                v if v == STATE_FORMAT_VERSION => seq.next_element::<V2>()?,
                _ => return Err(A::Error::custom("unknown hushwire state format version")),
            };
            snapshot.ok_or_else(|| A::Error::invalid_length(1, &self))
        }
    }

    /// Deserializes `(version, snapshot)` for the versions `V1` (1) and `V2` (current).
    pub(crate) fn versioned<'de, D: Deserializer<'de>, V1, V2>(
        deserializer: D,
    ) -> Result<V2, D::Error>
    where
        V1: DeserializeOwned + Into<V2>,
        V2: DeserializeOwned,
    {
        deserializer.deserialize_tuple(2, Versioned::<V1, V2>(PhantomData))
    }

    impl Serialize for Account {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (STATE_FORMAT_VERSION, AccountSnapshotV2::from_account(self)).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Account {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let snapshot = versioned::<D, AccountSnapshotV1, AccountSnapshotV2>(deserializer)?;
            super::account_from_snapshot(&snapshot, KeyChecks::Full).map_err(D::Error::custom)
        }
    }

    impl Serialize for Session {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (STATE_FORMAT_VERSION, SessionSnapshotV1::from_live(self)).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Session {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            // The session snapshot is the same struct in versions 1 and 2.
            versioned::<D, SessionSnapshotV1, SessionSnapshotV1>(deserializer)?
                .to_live(KeyChecks::Full)
                .map_err(D::Error::custom)
        }
    }

    #[cfg(test)]
    mod tests {
        use chacha20::ChaCha20Rng;
        use rand_core::SeedableRng;

        use crate::persist::STATE_FORMAT_VERSION;
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

        /// Version 1 values (the frozen fixtures' snapshots) still deserialize, migrated;
        /// an unknown version is refused.
        #[test]
        fn plain_serde_reads_version_1() {
            use super::super::super::open_state;
            use super::super::{AccountSnapshotV1, SessionSnapshotV1, decode_exact};
            use crate::persist::{Expected, StateType, StorageKey};
            let key = StorageKey::from_bytes([0x5a; 32]);
            let blob = include_bytes!("../../tests/fixtures/state_v1/account.bin");
            let (plain, version) = open_state(blob, StateType::Account, &key, 0).unwrap();
            assert_eq!(version, 1);
            let v1: AccountSnapshotV1 = decode_exact(&plain).unwrap();
            let json = serde_json::to_string(&(1u16, v1)).unwrap();
            let account: Account = serde_json::from_str(&json).unwrap();
            let from_blob = Account::from_encrypted(blob, &key, 0, &Expected::any()).unwrap();
            assert_eq!(account.published_prekeys(), from_blob.published_prekeys());

            let blob = include_bytes!("../../tests/fixtures/state_v1/session_bob.bin");
            let (plain, _) = open_state(blob, StateType::Session, &key, 0).unwrap();
            let v1: SessionSnapshotV1 = decode_exact(&plain).unwrap();
            let json = serde_json::to_string(&(1u16, &v1)).unwrap();
            let session: Session = serde_json::from_str(&json).unwrap();
            let from_blob = Session::from_encrypted(blob, &key, 0, &Expected::any()).unwrap();
            assert_eq!(session, from_blob);
            let json = serde_json::to_string(&(3u16, &v1)).unwrap();
            let err = serde_json::from_str::<Session>(&json).unwrap_err();
            assert!(
                err.to_string()
                    .contains("unknown hushwire state format version"),
                "{err}"
            );
        }

        /// The serde path runs the same limit checks as the blob path.
        #[test]
        fn plain_serde_enforces_the_limits() {
            use super::super::{SessionSnapshotV1, StoredKeysV1, secret};
            let now = Timestamp::from_unix_secs(1);
            let mut rng = ChaCha20Rng::seed_from_u64(2);
            let alice = Account::new(now, &mut rng);
            let mut bob = Account::new(now, &mut rng);
            bob.generate_one_time_prekeys(2, 0, now, &mut rng).unwrap();
            let mut s = alice
                .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
                .unwrap();
            let m = s.encrypt(b"x", &mut rng).unwrap();
            let session = bob.create_inbound_session(&m, now).unwrap().session;
            let mut snapshot = SessionSnapshotV1::from_live(&session);
            let cap = crate::HARD_MAX_SKIPPED_KEYS;
            snapshot.ratchet.receiving.as_mut().unwrap().stored = StoredKeysV1 {
                keys: (0..=cap).map(|n| (n, secret(&[7; 32]))).collect(),
                expired_below: 0,
            };
            let json = serde_json::to_string(&(STATE_FORMAT_VERSION, snapshot)).unwrap();
            let err = serde_json::from_str::<Session>(&json).unwrap_err();
            assert!(
                err.to_string()
                    .contains("exceeds the limit `HARD_MAX_SKIPPED_KEYS` of 100000"),
                "{err}"
            );
            let mut account = serde_json::to_value(&bob).unwrap();
            let one_time = &mut account[1]["one_time"];
            let entry = one_time[0].clone();
            for _ in 0..=crate::MAX_ONE_TIME_PREKEYS {
                one_time.as_array_mut().unwrap().push(entry.clone());
            }
            let err = serde_json::from_value::<Account>(account).unwrap_err();
            assert!(err.to_string().contains("MAX_ONE_TIME_PREKEYS"), "{err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::account::{
        MAX_ONE_TIME_KEM_PREKEYS, MAX_ONE_TIME_PREKEYS, MAX_REPLAY_RECORDS, MAX_RETIRED_PREKEYS,
    };
    use crate::ratchet::{
        HARD_MAX_JUMP, HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEY_MAX_AGE,
        HARD_MAX_SKIPPED_KEYS,
    };

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn limit(limit: &'static str, max: usize) -> RestoreError {
        RestoreError::LimitExceeded {
            limit,
            max: max as u64,
        }
    }

    fn account_error(snapshot: &AccountSnapshotV2) -> Option<RestoreError> {
        account_from_snapshot(snapshot, KeyChecks::Stored).err()
    }

    /// Bob with one session with Alice that has stored skipped keys.
    fn bob_with_session(rng: &mut ChaCha20Rng) -> (Account, Session) {
        let alice = Account::new(NOW, rng);
        let mut bob = Account::new(NOW, rng);
        bob.generate_one_time_prekeys(1, 1, NOW, rng).unwrap();
        let mut s = alice
            .create_outbound_session(&bob.published_prekeys().take_bundle(), rng)
            .unwrap();
        let first = s.encrypt(b"1", rng).unwrap();
        let session = bob.create_inbound_session(&first, NOW).unwrap().session;
        (bob, session)
    }

    #[test]
    fn account_prekey_counts_at_and_past_their_limits() {
        let mut rng = ChaCha20Rng::seed_from_u64(301);
        let mut account = Account::new(NOW, &mut rng);
        account
            .generate_one_time_prekeys(
                MAX_ONE_TIME_PREKEYS,
                MAX_ONE_TIME_KEM_PREKEYS,
                NOW,
                &mut rng,
            )
            .unwrap();
        for _ in 0..=MAX_RETIRED_PREKEYS {
            account.rotate_prekeys(NOW, &mut rng);
        }
        let full = AccountSnapshotV2::from_account(&account);
        assert_eq!(full.retired_signed_prekeys.len(), MAX_RETIRED_PREKEYS);
        assert_eq!(account_error(&full), None, "at every limit");

        let mut more = AccountSnapshotV2::from_account(&account);
        more.one_time.push((u32::MAX, secret(&[1; 32])));
        assert_eq!(
            account_error(&more),
            Some(limit("MAX_ONE_TIME_PREKEYS", MAX_ONE_TIME_PREKEYS as usize))
        );
        let mut more = AccountSnapshotV2::from_account(&account);
        more.one_time_kem
            .push(KemPreKeyV1::from_live(&account.last_resort_kem.current));
        assert_eq!(
            account_error(&more),
            Some(limit(
                "MAX_ONE_TIME_KEM_PREKEYS",
                MAX_ONE_TIME_KEM_PREKEYS as usize
            ))
        );
        let mut more = AccountSnapshotV2::from_account(&account);
        more.retired_signed_prekeys
            .push((SignedPreKeyV1::from_live(&account.signed_prekey.current), 0));
        assert_eq!(
            account_error(&more),
            Some(limit("MAX_RETIRED_PREKEYS", MAX_RETIRED_PREKEYS))
        );
        let mut more = AccountSnapshotV2::from_account(&account);
        more.retired_last_resort_kem
            .push((KemPreKeyV1::from_live(&account.last_resort_kem.current), 0));
        assert_eq!(
            account_error(&more),
            Some(limit("MAX_RETIRED_PREKEYS", MAX_RETIRED_PREKEYS))
        );
    }

    #[test]
    fn replay_records_at_and_past_their_limits() {
        let mut rng = ChaCha20Rng::seed_from_u64(302);
        let account = Account::new(NOW, &mut rng);
        let record = |id: u32, n: usize| {
            let mut base = [0u8; 32];
            base[..8].copy_from_slice(&(n as u64).to_be_bytes());
            (id, base)
        };
        // Per signed prekey: exactly MAX_REPLAY_RECORDS, for the current and every retired id.
        let mut snapshot = AccountSnapshotV2::from_account(&account);
        for id in 1..=(1 + MAX_RETIRED_PREKEYS as u32) {
            snapshot
                .replay_records
                .extend((0..MAX_REPLAY_RECORDS).map(|n| record(id, n)));
        }
        assert_eq!(account_error(&snapshot), None);
        let mut one_more_key = AccountSnapshotV2::from_account(&account);
        one_more_key.replay_records = snapshot.replay_records.clone();
        one_more_key.replay_records.push(record(99, 0));
        assert_eq!(
            account_error(&one_more_key),
            Some(limit(
                "MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS)",
                MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS)
            ))
        );
        let mut one_more = AccountSnapshotV2::from_account(&account);
        one_more
            .replay_records
            .extend((0..=MAX_REPLAY_RECORDS).map(|n| record(1, n)));
        assert_eq!(
            account_error(&one_more),
            Some(limit("MAX_REPLAY_RECORDS", MAX_REPLAY_RECORDS))
        );
    }

    fn stored(count: usize) -> StoredKeysV1 {
        StoredKeysV1 {
            keys: (0..count).map(|n| (n as u32, secret(&[7; 32]))).collect(),
            expired_below: 0,
        }
    }

    #[test]
    fn session_hard_caps_at_and_past_their_edges() {
        let mut rng = ChaCha20Rng::seed_from_u64(304);
        let (_, session) = bob_with_session(&mut rng);
        let hard_keys = HARD_MAX_SKIPPED_KEYS as usize;
        let with_keys = |current: usize, past: usize| {
            let mut s = SessionSnapshotV1::from_live(&session);
            s.ratchet.receiving.as_mut().unwrap().stored = stored(current);
            let template = PastChainV1 {
                header_key: secret(&[1; 32]),
                ratchet_key: [2; 32],
                end: u32::MAX,
                step: 0,
                stored: stored(past),
            };
            s.ratchet.past = vec![template];
            s
        };
        // The total over the current and past chains counts.
        assert!(
            with_keys(hard_keys - 10, 10)
                .to_live(KeyChecks::Stored)
                .is_ok()
        );
        assert_eq!(
            with_keys(hard_keys - 10, 11)
                .to_live(KeyChecks::Stored)
                .err(),
            Some(limit("HARD_MAX_SKIPPED_KEYS", hard_keys))
        );
        // 10^6 keys, far past the cap.
        assert_eq!(
            with_keys(1_000_000, 0).to_live(KeyChecks::Stored).err(),
            Some(limit("HARD_MAX_SKIPPED_KEYS", hard_keys))
        );

        let with_chains = |n: usize| {
            let mut s = SessionSnapshotV1::from_live(&session);
            s.ratchet.past = (0..n)
                .map(|i| PastChainV1 {
                    header_key: secret(&[1; 32]),
                    ratchet_key: [i as u8; 32],
                    end: 1,
                    step: 0,
                    stored: stored(0),
                })
                .collect();
            s
        };
        let hard_chains = HARD_MAX_RECEIVING_CHAINS as usize;
        assert!(with_chains(hard_chains).to_live(KeyChecks::Stored).is_ok());
        assert_eq!(
            with_chains(hard_chains + 1)
                .to_live(KeyChecks::Stored)
                .err(),
            Some(limit("HARD_MAX_RECEIVING_CHAINS", hard_chains))
        );
    }

    #[test]
    fn configurations_at_and_past_their_ceilings() {
        let ceilings = [
            HARD_MAX_JUMP,
            HARD_MAX_SKIPPED_KEYS,
            HARD_MAX_RECEIVING_CHAINS,
            HARD_MAX_SKIPPED_KEY_MAX_AGE,
        ];
        let config = |v: [u32; 4]| ConfigV1 {
            max_jump: v[0],
            max_skipped_keys: v[1],
            max_receiving_chains: v[2],
            skipped_key_max_age: v[3],
        };
        assert!(config(ceilings).to_live().is_ok());
        let names = [
            "HARD_MAX_JUMP",
            "HARD_MAX_SKIPPED_KEYS",
            "HARD_MAX_RECEIVING_CHAINS",
            "HARD_MAX_SKIPPED_KEY_MAX_AGE",
        ];
        for i in 0..4 {
            let mut past = ceilings;
            past[i] += 1;
            assert_eq!(
                config(past).to_live().err(),
                Some(limit(names[i], ceilings[i] as usize))
            );
            let mut zero = ceilings;
            zero[i] = 0;
            assert_eq!(config(zero).to_live().err(), Some(RestoreError::Corrupt));
        }
    }

    /// Bytes that pass the checks of a key restored from a blob (canonical `y`, not of small
    /// order) but do not decode: `from` with its first byte changed.
    fn undecodable(from: &[u8; 32]) -> [u8; 32] {
        (0u8..=255)
            .map(|first| {
                let mut b = *from;
                b[0] = first;
                b
            })
            .find(|b| {
                crate::keys::y_is_canonical(b)
                    && !crate::keys::is_small_order_encoding(b)
                    && ed25519_dalek::VerifyingKey::from_bytes(b).is_err()
            })
            .unwrap()
    }

    /// `honest` plus the point of order 2: passes every check of §2.3 but the subgroup check.
    fn mixed_order(honest: &[u8; 32]) -> [u8; 32] {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let mut t = [0xffu8; 32];
        t[0] = 0xec;
        t[31] = 0x7f;
        let torsion = CompressedEdwardsY(t).decompress().unwrap();
        let point = CompressedEdwardsY(*honest).decompress().unwrap();
        (point + torsion).compress().to_bytes()
    }

    /// What a restore checks of the identity keys in a blob (SPEC.md §11.8): in version 2 the
    /// checks that need no curve arithmetic (a small-order or non-canonical key is corrupt);
    /// a key that passes them but does not decode restores and fails at first use, without a
    /// panic. Version 1 blobs keep every check of §2.3.
    #[test]
    fn identity_keys_in_a_blob_get_the_checks_of_their_version() {
        let mut rng = ChaCha20Rng::seed_from_u64(306);
        let (_, session) = bob_with_session(&mut rng);
        let key = StorageKey::from_bytes([5; 32]);
        let snapshot_with = |remote: [u8; 32]| {
            let mut snapshot = SessionSnapshotV1::from_live(&session);
            snapshot.remote_identity = remote;
            snapshot
        };
        let v2 = |remote: [u8; 32]| {
            let binding = crate::persist::BindingV2 {
                peer: Some(remote),
                ..crate::persist::BindingV2::new(&session_binding(&session), &BlobLabel::default())
            };
            let plain = postcard::to_allocvec(&(binding, snapshot_with(remote))).unwrap();
            let blob = super::super::seal_plaintext_for_tests(&plain, StateType::Session, &key);
            Session::from_encrypted(&blob, &key, 0, &Expected::any())
        };
        let v1 = |remote: [u8; 32]| {
            let blob =
                super::super::seal_v1_for_tests(&snapshot_with(remote), StateType::Session, &key);
            Session::from_encrypted(&blob, &key, 0, &Expected::any())
        };
        let honest = session.remote_identity().to_bytes();
        assert_eq!(v2(honest).unwrap(), session);
        assert_eq!(v1(honest).unwrap(), session);

        let mut order_two = [0xffu8; 32];
        order_two[0] = 0xec;
        order_two[31] = 0x7f;
        let mut not_canonical = [0xffu8; 32];
        not_canonical[0] = 0xef;
        not_canonical[31] = 0x7f;
        for bad in [order_two, not_canonical, [0; 32]] {
            assert_eq!(v2(bad).err(), Some(RestoreError::Corrupt));
            assert_eq!(v1(bad).err(), Some(RestoreError::Corrupt));
        }

        // Passes the checks of a version 2 blob, not the subgroup check: only the holder of
        // the storage key can put it there.
        let mixed = mixed_order(&honest);
        assert_eq!(v2(mixed).unwrap().remote_identity().to_bytes(), mixed);
        assert_eq!(v1(mixed).err(), Some(RestoreError::Corrupt));

        let odd = undecodable(&honest);
        let restored = v2(odd).unwrap();
        assert_eq!(restored.remote_identity().to_bytes(), odd);
        assert!(restored.remote_identity().dh_public().is_none());
        assert!(
            !restored
                .remote_identity()
                .verify_relay_challenge(b"c", &[0; 64])
        );
        assert_eq!(v1(odd).err(), Some(RestoreError::Corrupt));
    }

    /// The sending side's states and each role's fields map onto the same snapshot fields as
    /// before they were types (so blobs are unchanged), and the combinations no live session
    /// can be in restore as corrupt.
    #[test]
    fn sending_states_and_role_fields_round_trip_and_impossible_ones_are_corrupt() {
        let mut rng = ChaCha20Rng::seed_from_u64(309);
        let alice = Account::new(NOW, &mut rng);
        let mut bob = Account::new(NOW, &mut rng);
        let mut a = alice
            .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let first = a.encrypt(b"1", &mut rng).unwrap();
        let mut b = bob.create_inbound_session(&first, NOW).unwrap().session;
        let a_start = a.clone();
        let restore = |s: &SessionSnapshotV1| s.to_live(KeyChecks::Stored);
        let fields = |s: &SessionSnapshotV1| {
            let r = &s.ratchet;
            (
                s.role,
                s.prekey_digest.is_some(),
                s.pending_prekey.is_some(),
                r.our_ratchet.is_some(),
                r.their_ratchet.is_some(),
                r.sending.as_ref().map(|c| (c.next, c.previous_len)),
            )
        };

        // Initiator in its prekey phase, sending active; responder owing its first step.
        let a_active = SessionSnapshotV1::from_live(&a);
        assert_eq!(
            fields(&a_active),
            (1, false, true, true, true, Some((1, 0)))
        );
        let b_due = SessionSnapshotV1::from_live(&b);
        assert_eq!(fields(&b_due), (2, true, false, false, true, None));
        // Initiator answered (no prekey fields), owing a step after a chain of 1.
        let reply = b.encrypt(b"2", &mut rng).unwrap();
        let _ = a.decrypt(&reply).unwrap();
        let a_due = SessionSnapshotV1::from_live(&a);
        assert_eq!(fields(&a_due), (1, false, false, false, true, Some((1, 0))));
        let b_active = SessionSnapshotV1::from_live(&b);
        assert_eq!(
            fields(&b_active),
            (2, true, false, true, true, Some((1, 0)))
        );
        for (snapshot, live) in [(&a_due, &a), (&b_active, &b)] {
            assert_eq!(&restore(snapshot).unwrap(), live);
        }
        assert!(restore(&a_active).is_ok() && restore(&b_due).is_ok());

        let corrupt = |edit: &dyn Fn(&mut SessionSnapshotV1)| {
            let mut s = SessionSnapshotV1::from_live(&b);
            edit(&mut s);
            restore(&s).err()
        };
        let cases: [&dyn Fn(&mut SessionSnapshotV1); 6] = [
            // No peer ratchet key: a responder before its first message, never stored.
            &|s| s.ratchet.their_ratchet = None,
            // A key pair without a chain to send on.
            &|s| s.ratchet.sending = None,
            // A responder without its digest, or with prekey fields to repeat.
            &|s| s.prekey_digest = None,
            &|s| s.pending_prekey = SessionSnapshotV1::from_live(&a_start).pending_prekey,
            // An initiator with a digest; an unknown role.
            &|s| s.role = 1,
            &|s| s.role = 3,
        ];
        for case in cases {
            assert_eq!(corrupt(case), Some(RestoreError::Corrupt));
        }
    }

    /// End to end: a validly sealed blob past a limit is refused by `from_encrypted`.
    #[test]
    fn a_sealed_blob_past_a_limit_is_refused_with_its_limit() {
        let mut rng = ChaCha20Rng::seed_from_u64(305);
        let (_, session) = bob_with_session(&mut rng);
        let key = StorageKey::from_bytes([3; 32]);
        let mut snapshot = SessionSnapshotV1::from_live(&session);
        snapshot.ratchet.receiving.as_mut().unwrap().stored =
            stored(HARD_MAX_SKIPPED_KEYS as usize + 1);
        let blob = seal_state(
            &snapshot,
            StateType::Session,
            &session_binding(&session),
            &BlobLabel::default(),
            1,
            &key,
            &mut rng,
        );
        let err = Session::from_encrypted(&blob, &key, 0, &Expected::any()).unwrap_err();
        assert_eq!(
            err,
            limit("HARD_MAX_SKIPPED_KEYS", HARD_MAX_SKIPPED_KEYS as usize)
        );
        assert_eq!(err.kind(), crate::ErrorKind::LimitExceeded);
    }
}

#[cfg(test)]
mod binding_tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::persist::BindingV2;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    /// A binding that names another object than the content (a blob made with the storage
    /// key, never by the library) is refused as `Corrupt`, even when the app expects what the
    /// binding names.
    #[test]
    fn a_binding_that_does_not_name_the_content_is_corrupt() {
        let mut rng = ChaCha20Rng::seed_from_u64(311);
        let alice = Account::new(NOW, &mut rng);
        let (bob, carol) = (Account::new(NOW, &mut rng), Account::new(NOW, &mut rng));
        let with_carol = alice
            .create_outbound_session(&carol.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let with_bob = alice
            .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let key = StorageKey::from_bytes([4; 32]);
        let lying = seal_state(
            &SessionSnapshotV1::from_live(&with_carol),
            StateType::Session,
            &session_binding(&with_bob),
            &BlobLabel::default(),
            1,
            &key,
            &mut rng,
        );
        for expected in [Expected::any(), Expected::peer(bob.identity_key())] {
            assert_eq!(
                Session::from_encrypted(&lying, &key, 0, &expected),
                Err(RestoreError::Corrupt)
            );
        }
        // An account blob bound to another identity.
        let lying = seal_state(
            &AccountSnapshotV2::from_account(&bob),
            StateType::Account,
            &Binding::account(carol.identity_key()),
            &BlobLabel::default(),
            1,
            &key,
            &mut rng,
        );
        assert_eq!(
            Account::from_encrypted(&lying, &key, 0, &Expected::any()).err(),
            Some(RestoreError::Corrupt)
        );
        // A label past its limit.
        let long = BindingV2 {
            label: vec![b'x'; crate::persist::MAX_BLOB_LABEL_LEN + 1],
            ..BindingV2::new(&Binding::account(bob.identity_key()), &BlobLabel::default())
        };
        let plain = postcard::to_allocvec(&(long, AccountSnapshotV2::from_account(&bob))).unwrap();
        let blob = super::super::seal_plaintext_for_tests(&plain, StateType::Account, &key);
        assert_eq!(
            Account::from_encrypted(&blob, &key, 0, &Expected::any()).err(),
            Some(RestoreError::LimitExceeded {
                limit: "MAX_BLOB_LABEL_LEN",
                max: crate::persist::MAX_BLOB_LABEL_LEN as u64
            })
        );
    }
}
