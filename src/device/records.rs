//! A device at rest as separate records (SPEC.md §11.9), so that persisting after one message
//! costs one peer's sessions, not the whole device: the account record (identity, prekeys,
//! configuration, reset logs and the list of peers with a record), the identity book, and one
//! record per peer. The device notes which records each call changed ([`Changes`]); the app
//! takes them with [`Device::take_changes`] and writes those records before it sends or
//! acknowledges anything.
//!
//! A cold start restores the account record and the identity book ([`Device::from_records`])
//! and then only the peers it needs ([`Device::load_peer`]); a call about a peer the device
//! has a record of but has not loaded fails with [`super::PeerError::NotLoaded`] (or
//! [`crate::HandshakeError::PeerNotLoaded`]) and changes nothing, so the app loads it and
//! retries.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use super::peers::{MAX_PEERS, MAX_SESSIONS_PER_PEER};
use super::persist::{device_limits, device_sections};
use super::{Device, PeerRecord};
use crate::account::Account;
use crate::account::{
    AccountSnapshotV2, AccountSnapshotV3, AccountSnapshotV4, PeerRecordV2, PeerRecordV3,
};
use crate::keys::IdentityKey;
use crate::persist::{
    Binding, BlobLabel, Expected, KeyChecks, RestoreError, StateType, StorageKey, decode_exact,
    restore_state, seal_state, within_limit,
};
use crate::session::SessionSnapshotV2;
use crate::verify::IdentityBook;
use crate::verify::IdentityRecordV1;

/// The records of a [`Device`] that calls changed since the app last took them
/// ([`Device::take_changes`]): write each one listed, with its own blob, before sending or
/// acknowledging what the call produced (SPEC.md §11.9).
///
/// ```
/// use hushwire::{Device, StorageKey, Timestamp, persist::Expected};
/// use rand_core::SeedableRng;
/// # fn main() -> Result<(), hushwire::Error> {
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
/// let now = Timestamp::from_unix_secs(1_700_000_000);
/// let key = StorageKey::from_bytes([7; 32]); // from the platform keystore
///
/// let mut alice = Device::new(now, &mut rng);
/// let bob = Device::new(now, &mut rng);
/// let _ = alice.start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)?;
/// let message = alice.encrypt_for(bob.identity_key(), b"hello", &mut rng)?;
/// // Before sending: write what changed (here the account record, the identity book of a new
/// // device, and Bob's record), each replacing its slot atomically.
/// let changes = alice.take_changes();
/// let account = alice.account_record_to_encrypted(&key, 1, &mut rng);
/// let book = alice.identity_book_to_encrypted(&key, 1, &mut rng);
/// let bob_record = alice.peer_record_to_encrypted(bob.identity_key(), &key, 1, &mut rng);
/// assert!(changes.account && changes.peers.contains(bob.identity_key()));
///
/// // After a restart: the account and the book, then only the peer a message is for.
/// let mut alice = Device::from_records(&account, 1, &book, 1, &key, &Expected::any())?;
/// assert!(!alice.is_loaded(bob.identity_key()));
/// if let Some(record) = bob_record {
///     alice.load_peer(&record, &key, 1, &Expected::peer(bob.identity_key()))?;
/// }
/// let _ = alice.encrypt_for(bob.identity_key(), b"still here", &mut rng)?;
/// # let _ = message;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Changes {
    /// The account record changed ([`Device::account_record_to_encrypted`]): prekeys,
    /// configuration, reset logs, or which peers have a record.
    pub account: bool,
    /// The identity book changed ([`Device::identity_book_to_encrypted`]).
    pub identity_book: bool,
    /// Peers whose record changed ([`Device::peer_record_to_encrypted`]).
    pub peers: BTreeSet<IdentityKey>,
    /// Peers whose record is gone (forgotten or evicted): delete their stored record.
    pub removed_peers: BTreeSet<IdentityKey>,
    /// The user-devices record changed ([`Device::user_devices_to_encrypted`]): the own
    /// user, the device lists held, the removed devices (SPEC.md §19.9).
    pub user_devices: bool,
}

impl Changes {
    /// Whether nothing needs writing.
    pub fn is_empty(&self) -> bool {
        !self.account
            && !self.identity_book
            && self.peers.is_empty()
            && self.removed_peers.is_empty()
            && !self.user_devices
    }

    /// Everything a device that was never persisted holds: its account and identity book.
    pub(crate) fn fresh() -> Self {
        Changes {
            account: true,
            identity_book: true,
            ..Changes::default()
        }
    }
}

/// The account record of format version 2 (type [`StateType::AccountRecord`], SPEC.md
/// §11.9), frozen.
#[derive(Serialize, Deserialize)]
struct AccountRecordV1 {
    /// The account and its reset logs; `peers` and `identities` empty.
    account: AccountSnapshotV2,
    /// The identity keys of the peers with a record, by increasing bytes.
    peers: Vec<[u8; 32]>,
}

/// The account record of format version 3: the account snapshot gains its envelope keys.
#[derive(Serialize, Deserialize)]
struct AccountRecordV2 {
    /// The account and its reset logs; `peers` and `identities` empty.
    account: AccountSnapshotV3,
    /// The identity keys of the peers with a record, by increasing bytes.
    peers: Vec<[u8; 32]>,
}

impl From<AccountRecordV1> for AccountRecordV2 {
    fn from(v1: AccountRecordV1) -> Self {
        AccountRecordV2 {
            account: v1.account.into(),
            peers: v1.peers,
        }
    }
}

/// The account record of format version 4: the account snapshot gains its session defaults
/// (SPEC.md §5.9.7).
#[derive(Serialize, Deserialize)]
struct AccountRecordV3 {
    /// The account and its reset logs; `peers` and `identities` empty.
    account: AccountSnapshotV4,
    /// The identity keys of the peers with a record, by increasing bytes.
    peers: Vec<[u8; 32]>,
}

impl From<AccountRecordV2> for AccountRecordV3 {
    fn from(v2: AccountRecordV2) -> Self {
        AccountRecordV3 {
            account: v2.account.into(),
            peers: v2.peers,
        }
    }
}

/// The identity book (type [`StateType::IdentityBook`], SPEC.md §11.9).
#[derive(Serialize, Deserialize)]
struct IdentityBookV1 {
    identities: Vec<IdentityRecordV1>,
}

impl Device {
    /// The records changed since they were last taken, without taking them.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Takes the records changed since the last call, leaving none. After each mutating call
    /// write every record listed (and delete the removed ones) before sending or acknowledging
    /// what the call produced: a message sent before its session is stored would be followed,
    /// after a crash, by another message under the same keys. A new device lists its account
    /// and identity book.
    pub fn take_changes(&mut self) -> Changes {
        core::mem::take(&mut self.changes)
    }

    pub(crate) fn mark_account(&mut self) {
        self.changes.account = true;
    }

    pub(crate) fn mark_identity_book(&mut self) {
        self.changes.identity_book = true;
    }

    pub(crate) fn mark_user_devices(&mut self) {
        self.changes.user_devices = true;
    }

    pub(crate) fn mark_peer(&mut self, peer: &IdentityKey) {
        self.changes.removed_peers.remove(peer);
        self.changes.peers.insert(*peer);
    }

    /// A peer's record is gone, and so is its entry in the account record.
    pub(crate) fn mark_removed(&mut self, peer: &IdentityKey) {
        self.changes.peers.remove(peer);
        self.changes.removed_peers.insert(*peer);
        self.changes.account = true;
    }

    /// Whether the device holds a record of `peer` (loaded or not).
    pub(crate) fn knows_peer(&self, peer: &IdentityKey) -> bool {
        self.peers.contains_key(peer) || self.unloaded.contains(peer)
    }

    /// Exports the account record (SPEC.md §11.9): identity, prekeys, configuration, the
    /// reset logs and the list of peers with a record; no sessions, no identity book. Bound
    /// to this device's identity key. `generation` is the app's counter for this record
    /// (SPEC.md §11.2).
    pub fn account_record_to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        let mut account = AccountSnapshotV4::from_account(&self.account);
        account.resets = self.resets_snapshot();
        let peers: BTreeSet<[u8; 32]> = self
            .peers
            .keys()
            .chain(self.unloaded.iter())
            .map(IdentityKey::to_bytes)
            .collect();
        let record = AccountRecordV3 {
            account,
            peers: peers.into_iter().collect(),
        };
        seal_state(
            &record,
            StateType::AccountRecord,
            &Binding::account(self.identity_key()),
            &BlobLabel::default(),
            generation,
            key,
            rng,
        )
    }

    /// Exports the identity book (SPEC.md §11.9), bound to this device's identity key.
    pub fn identity_book_to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        let book = IdentityBookV1 {
            identities: self.identities.to_snapshot(),
        };
        seal_state(
            &book,
            StateType::IdentityBook,
            &Binding::account(self.identity_key()),
            &BlobLabel::default(),
            generation,
            key,
            rng,
        )
    }

    /// Exports the record of `peer` (its sessions, SPEC.md §11.9), bound to this device's
    /// identity key and the peer's. `None` if the peer is not loaded (nothing to write: its
    /// stored record is current) or has no record.
    pub fn peer_record_to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        peer: &IdentityKey,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Option<Vec<u8>> {
        let record = self.peers.get(peer)?;
        Some(seal_state(
            &peer_snapshot(peer, record),
            StateType::PeerRecord,
            &Binding::peer_record(self.identity_key(), peer),
            &BlobLabel::default(),
            generation,
            key,
            rng,
        ))
    }

    /// Cold start: restores a device from its account record and identity book, with no
    /// peer loaded ([`Device::load_peer`] loads those needed). Each blob has its own
    /// `min_generation` (0 accepts any); `expected` is checked against the account record
    /// (usually [`Expected::any`] or [`Expected::identity`]), and the identity book must be
    /// bound to the same identity.
    ///
    /// # Errors
    /// [`RestoreError`] as for [`Device::from_encrypted`], for either blob; a limit of
    /// SPEC.md §11.9 past its value is [`RestoreError::LimitExceeded`].
    pub fn from_records(
        account_record: &[u8],
        account_min_generation: u64,
        identity_book: &[u8],
        book_min_generation: u64,
        key: &StorageKey,
        expected: &Expected,
    ) -> Result<Device, RestoreError> {
        let (account, resets, unloaded) = restore_state(
            account_record,
            StateType::AccountRecord,
            key,
            account_min_generation,
            expected,
            account_record_from,
            |(account, _, _): &(Account, _, _)| Binding::account(account.identity_key()),
        )?;
        let own = *account.identity_key();
        let identities = restore_state(
            identity_book,
            StateType::IdentityBook,
            key,
            book_min_generation,
            &Expected::identity(&own),
            identity_book_from,
            |_| Binding::account(&own),
        )?;
        Ok(Device {
            account,
            peers: BTreeMap::new(),
            unloaded,
            peer_clock: 0,
            resets,
            identities,
            changes: Changes::default(),
            users: super::users::UserDevices::default(),
        })
    }

    /// Loads one peer's record, exported with [`Device::peer_record_to_encrypted`], after a
    /// cold start. `expected` names what the app stored in that slot (usually
    /// [`Expected::peer`]); the record must also be bound to this device's identity. Returns
    /// the peer. A peer already loaded keeps its live state (the blob is not used).
    ///
    /// # Errors
    /// [`RestoreError`] as for [`Device::from_encrypted`]; [`RestoreError::WrongObject`] with
    /// `field` `"peer"` also when the device has no record of that peer (forgotten or evicted
    /// since). Nothing changes on error.
    pub fn load_peer(
        &mut self,
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<IdentityKey, RestoreError> {
        let own = *self.identity_key();
        let (peer, record) = restore_state(
            bytes,
            StateType::PeerRecord,
            key,
            min_generation,
            &expected.clone().with_identity(&own),
            |version, bytes| peer_record_from(version, bytes, &own),
            |(peer, _): &(IdentityKey, PeerRecord)| Binding::peer_record(&own, peer),
        )?;
        if self.peers.contains_key(&peer) {
            return Ok(peer);
        }
        if !self.unloaded.remove(&peer) {
            return Err(RestoreError::WrongObject { field: "peer" });
        }
        self.peer_clock = self.peer_clock.max(record.last_used);
        self.peers.insert(peer, record);
        Ok(peer)
    }

    /// Drops a loaded peer's sessions from memory (wiping them), keeping its stored record
    /// as the current one. Returns false, changing nothing, if the peer is not loaded or its
    /// record has changes not yet taken ([`Device::take_changes`]): write them first.
    pub fn unload_peer(&mut self, peer: &IdentityKey) -> bool {
        if self.changes.peers.contains(peer) || self.peers.remove(peer).is_none() {
            return false;
        }
        self.unloaded.insert(*peer);
        true
    }

    /// Whether `peer`'s sessions are in memory.
    pub fn is_loaded(&self, peer: &IdentityKey) -> bool {
        self.peers.contains_key(peer)
    }

    /// The peers with a stored record that is not loaded.
    pub fn unloaded_peers(&self) -> Vec<IdentityKey> {
        self.unloaded.iter().copied().collect()
    }
}

/// One peer's snapshot, as in an account blob (`PeerRecordV3`, SPEC.md §11.3).
pub(super) fn peer_snapshot(peer: &IdentityKey, record: &PeerRecord) -> PeerRecordV3 {
    PeerRecordV3 {
        identity: peer.to_bytes(),
        last_used: record.last_used,
        sessions: record
            .sessions
            .iter()
            .map(SessionSnapshotV2::from_live)
            .collect(),
    }
}

/// The record types exist from format version 2 on: a version 1 blob of one was not written
/// by the library.
pub(super) fn since_version_2(version: u16) -> Result<(), RestoreError> {
    if version < 2 {
        return Err(RestoreError::Corrupt);
    }
    Ok(())
}

type AccountRecordLive = (
    Account,
    BTreeMap<IdentityKey, super::ResetLog>,
    BTreeSet<IdentityKey>,
);

/// The account record's content: limits first (the account's, then the reset logs', then
/// `MAX_PEERS` for the peer list), then parsing (SPEC.md §11.9).
fn account_record_from(version: u16, bytes: &[u8]) -> Result<AccountRecordLive, RestoreError> {
    since_version_2(version)?;
    let record: AccountRecordV3 = match version {
        2 => AccountRecordV2::from(decode_exact::<AccountRecordV1>(bytes)?).into(),
        3 => decode_exact::<AccountRecordV2>(bytes)?.into(),
        _ => decode_exact(bytes)?,
    };
    record.account.check_limits(device_limits)?;
    within_limit("MAX_PEERS", record.peers.len(), MAX_PEERS)?;
    if !record.account.peers.is_empty() || !record.account.identities.is_empty() {
        return Err(RestoreError::Corrupt);
    }
    let checks = KeyChecks::Stored;
    let (account, (_, _, resets)) = record.account.account_to_live(checks, device_sections)?;
    let mut peers = BTreeSet::new();
    let mut previous: Option<&[u8; 32]> = None;
    for bytes in &record.peers {
        if previous.is_some_and(|p| p >= bytes) {
            return Err(RestoreError::Corrupt);
        }
        previous = Some(bytes);
        peers.insert(checks.identity(bytes)?);
    }
    Ok((account, resets, peers))
}

fn identity_book_from(version: u16, bytes: &[u8]) -> Result<IdentityBook, RestoreError> {
    since_version_2(version)?;
    let book: IdentityBookV1 = decode_exact(bytes)?;
    within_limit(
        "MAX_IDENTITY_RECORDS",
        book.identities.len(),
        crate::verify::MAX_IDENTITY_RECORDS,
    )?;
    for record in &book.identities {
        record.check_limits()?;
    }
    IdentityBook::from_snapshot(&book.identities, KeyChecks::Stored)
}

/// One peer's record: at most [`MAX_SESSIONS_PER_PEER`] sessions, at least one, each between
/// this device (`own`) and that peer.
fn peer_record_from(
    version: u16,
    bytes: &[u8],
    own: &IdentityKey,
) -> Result<(IdentityKey, PeerRecord), RestoreError> {
    since_version_2(version)?;
    let snapshot: PeerRecordV3 = if version < 4 {
        decode_exact::<PeerRecordV2>(bytes)?.into()
    } else {
        decode_exact(bytes)?
    };
    within_limit(
        "MAX_SESSIONS_PER_PEER",
        snapshot.sessions.len(),
        MAX_SESSIONS_PER_PEER,
    )?;
    let checks = KeyChecks::Stored;
    let peer = checks.identity(&snapshot.identity)?;
    if snapshot.sessions.is_empty() {
        return Err(RestoreError::Corrupt);
    }
    let mut sessions = VecDeque::new();
    for s in &snapshot.sessions {
        let session = s.to_live(checks)?;
        if session.remote_identity() != &peer || session.local_identity() != own {
            return Err(RestoreError::Corrupt);
        }
        sessions.push_back(session);
    }
    Ok((
        peer,
        PeerRecord {
            sessions,
            last_used: snapshot.last_used,
        },
    ))
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::time::Timestamp;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn key() -> StorageKey {
        StorageKey::from_bytes([5; 32])
    }

    fn limit(limit: &'static str, max: usize) -> RestoreError {
        RestoreError::LimitExceeded {
            limit,
            max: max as u64,
        }
    }

    /// `n` distinct identity keys that pass the stored-key checks (small canonical `y`
    /// values, none of small order), by increasing bytes.
    fn directory(n: usize) -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| {
                let mut id = [0u8; 32];
                id[29..31].copy_from_slice(&((i + 2) as u16).to_be_bytes());
                id
            })
            .collect()
    }

    fn account_record(device: &Device, peers: Vec<[u8; 32]>) -> Vec<u8> {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        seal_state(
            &AccountRecordV3 {
                account: AccountSnapshotV4::from_account(&device.account),
                peers,
            },
            StateType::AccountRecord,
            &Binding::account(device.identity_key()),
            &BlobLabel::default(),
            1,
            &key(),
            &mut rng,
        )
    }

    fn cold_start(device: &Device, account: &[u8]) -> Result<Device, RestoreError> {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let book = device.identity_book_to_encrypted(&key(), 1, &mut rng);
        Device::from_records(account, 0, &book, 0, &key(), &Expected::any())
    }

    #[test]
    fn peer_list_at_and_past_max_peers() {
        let mut rng = ChaCha20Rng::seed_from_u64(401);
        let device = Device::new(NOW, &mut rng);
        let at = cold_start(&device, &account_record(&device, directory(MAX_PEERS))).unwrap();
        assert_eq!(at.unloaded_peers().len(), MAX_PEERS);
        assert_eq!(at.peers().len(), MAX_PEERS);
        assert!(at.changes().is_empty());
        // Written back, the same list.
        let again = at.account_record_to_encrypted(&key(), 2, &mut rng);
        let back = cold_start(&device, &again).unwrap();
        assert_eq!(back.unloaded_peers(), at.unloaded_peers());
        let past = account_record(&device, directory(MAX_PEERS + 1));
        assert_eq!(
            cold_start(&device, &past).err(),
            Some(limit("MAX_PEERS", MAX_PEERS))
        );
    }

    /// A device full of peers that are not loaded makes room for a new one by evicting one of
    /// them (ranked as answered, last used at 0: the smallest key first), reported as removed.
    #[test]
    fn a_full_device_evicts_a_peer_that_is_not_loaded() {
        let mut rng = ChaCha20Rng::seed_from_u64(406);
        let device = Device::new(NOW, &mut rng);
        let list = directory(MAX_PEERS);
        let mut cold = cold_start(&device, &account_record(&device, list.clone())).unwrap();
        let newcomer = Device::new(NOW, &mut rng);
        let started = cold
            .start_session(
                &newcomer.account().published_prekeys().take_bundle(),
                &mut rng,
            )
            .unwrap();
        let first = KeyChecks::Stored.identity(&list[0]).unwrap();
        assert_eq!(
            started.events,
            [crate::event::Event::PeerEvicted { peer: first }]
        );
        assert_eq!(cold.peers().len(), MAX_PEERS);
        let changes = cold.take_changes();
        assert!(changes.account);
        assert_eq!(
            changes.removed_peers.into_iter().collect::<Vec<_>>(),
            [first]
        );
        assert_eq!(
            changes.peers.into_iter().collect::<Vec<_>>(),
            [*newcomer.identity_key()]
        );
    }

    #[test]
    fn peer_list_out_of_order_or_repeated_is_corrupt() {
        let mut rng = ChaCha20Rng::seed_from_u64(402);
        let device = Device::new(NOW, &mut rng);
        let mut list = directory(3);
        list.swap(0, 1);
        let bad = account_record(&device, list);
        assert_eq!(cold_start(&device, &bad).err(), Some(RestoreError::Corrupt));
        let mut list = directory(2);
        list.push(list[1]);
        let bad = account_record(&device, list);
        assert_eq!(cold_start(&device, &bad).err(), Some(RestoreError::Corrupt));
        // A key of small order (y = 1) fails the stored-key checks.
        let mut one = [0u8; 32];
        one[0] = 1;
        let bad = account_record(&device, vec![one]);
        assert_eq!(cold_start(&device, &bad).err(), Some(RestoreError::Corrupt));
    }

    /// A peer record with `n` copies of one session: at the limit it loads, past it is refused
    /// on the count, and the device is unchanged.
    #[test]
    fn sessions_per_peer_record_at_and_past_the_limit() {
        let mut rng = ChaCha20Rng::seed_from_u64(403);
        let mut alice = Device::new(NOW, &mut rng);
        let bob = Device::new(NOW, &mut rng);
        let _ = alice
            .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let peer = *bob.identity_key();
        let session = alice.active_session(&peer).unwrap().clone();
        let account = alice.account_record_to_encrypted(&key(), 1, &mut rng);
        let record = |n: usize| {
            let snapshot = PeerRecordV3 {
                identity: peer.to_bytes(),
                last_used: 7,
                sessions: (0..n)
                    .map(|_| SessionSnapshotV2::from_live(&session))
                    .collect(),
            };
            seal_state(
                &snapshot,
                StateType::PeerRecord,
                &Binding::peer_record(alice.identity_key(), &peer),
                &BlobLabel::default(),
                1,
                &key(),
                &mut ChaCha20Rng::seed_from_u64(3),
            )
        };
        let mut cold = cold_start(&alice, &account).unwrap();
        let past = cold.load_peer(
            &record(MAX_SESSIONS_PER_PEER + 1),
            &key(),
            0,
            &Expected::peer(&peer),
        );
        assert_eq!(
            past.err(),
            Some(limit("MAX_SESSIONS_PER_PEER", MAX_SESSIONS_PER_PEER))
        );
        assert!(!cold.is_loaded(&peer));
        assert_eq!(cold.unloaded_peers(), [peer]);
        let none = cold.load_peer(&record(0), &key(), 0, &Expected::peer(&peer));
        assert_eq!(none.err(), Some(RestoreError::Corrupt));
        assert_eq!(
            cold.load_peer(
                &record(MAX_SESSIONS_PER_PEER),
                &key(),
                0,
                &Expected::peer(&peer)
            ),
            Ok(peer)
        );
        assert_eq!(cold.sessions_with(&peer).len(), MAX_SESSIONS_PER_PEER);
        assert!(cold.changes().is_empty());
    }

    #[test]
    fn an_account_record_holding_sessions_or_identities_is_corrupt() {
        let mut rng = ChaCha20Rng::seed_from_u64(404);
        let mut alice = Device::new(NOW, &mut rng);
        let bob = Device::new(NOW, &mut rng);
        let _ = alice
            .start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let mut account = alice.snapshot();
        account.identities.clear();
        let blob = seal_state(
            &AccountRecordV3 {
                account,
                peers: Vec::new(),
            },
            StateType::AccountRecord,
            &Binding::account(alice.identity_key()),
            &BlobLabel::default(),
            1,
            &key(),
            &mut rng,
        );
        assert_eq!(cold_start(&alice, &blob).err(), Some(RestoreError::Corrupt));
    }

    fn book_blob(device: &Device, identities: Vec<IdentityRecordV1>) -> Vec<u8> {
        seal_state(
            &IdentityBookV1 { identities },
            StateType::IdentityBook,
            &Binding::account(device.identity_key()),
            &BlobLabel::default(),
            1,
            &key(),
            &mut ChaCha20Rng::seed_from_u64(4),
        )
    }

    fn unverified(user_id: Vec<u8>, current: [u8; 32]) -> IdentityRecordV1 {
        IdentityRecordV1 {
            user_id,
            current,
            seen_at: 0,
            verified: None,
        }
    }

    #[test]
    fn identity_book_at_and_past_its_limits() {
        use crate::ids::MAX_USER_ID_LEN;
        use crate::verify::MAX_IDENTITY_RECORDS;
        let mut rng = ChaCha20Rng::seed_from_u64(405);
        let alice = Device::new(NOW, &mut rng);
        let account = alice.account_record_to_encrypted(&key(), 1, &mut rng);
        let current = directory(1)[0];
        let users = |n: usize| -> Vec<IdentityRecordV1> {
            (0..n)
                .map(|i| unverified(format!("{i:08}").into_bytes(), current))
                .collect()
        };
        let restore =
            |book: &[u8]| Device::from_records(&account, 0, book, 0, &key(), &Expected::any());
        let at = restore(&book_blob(&alice, users(MAX_IDENTITY_RECORDS))).unwrap();
        assert_eq!(at.identity_record_count(), MAX_IDENTITY_RECORDS);
        assert_eq!(
            restore(&book_blob(&alice, users(MAX_IDENTITY_RECORDS + 1))).err(),
            Some(limit("MAX_IDENTITY_RECORDS", MAX_IDENTITY_RECORDS))
        );
        let long = |n: usize| vec![unverified(vec![b'u'; n], current)];
        assert!(restore(&book_blob(&alice, long(MAX_USER_ID_LEN))).is_ok());
        assert_eq!(
            restore(&book_blob(&alice, long(MAX_USER_ID_LEN + 1))).err(),
            Some(limit("MAX_USER_ID_LEN", MAX_USER_ID_LEN))
        );
    }
}
