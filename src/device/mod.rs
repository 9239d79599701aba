//! The device layer: an [`Account`] plus everything a chat needs around it, so an app can
//! "just give me a chat" without managing [`crate::Session`] values itself.
//!
//! [`Account`] is the core: identity, prekeys, their rotation and session creation. A
//! [`Device`] owns one account and adds, per peer device, its session records
//! ([`peers`], SPEC.md §12.1), the reset protocol ([`reset`], §12.4), the identity book and
//! verification state ([`verification`], §15.5) and the sealed-envelope shortcuts
//! ([`sealed`], §13). Apps that keep their own sessions use [`Account`] and
//! [`crate::Session`] directly; apps that want a conversation per peer use a `Device`.
//!
//! A device persists as the account blob it always was (SPEC.md §11): [`Device::to_encrypted`]
//! writes the same type tag, format version and binding, so every account blob restores as a
//! device ([`persist`]). It also persists as separate records (SPEC.md §11.9):
//! the account record, the identity book and one record per peer, each written only when a
//! call changed it ([`Device::take_changes`]), and loaded only when needed.

pub mod device_list;
mod fanout;
mod fanout_wire;
mod link;
mod peers;
mod persist;
mod records;
mod reset;
mod sealed;
mod users;
mod users_record;
mod verification;

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use rand_core::CryptoRng;

use crate::account::Account;
use crate::keys::IdentityKey;
use crate::time::Timestamp;
use crate::verify::IdentityBook;

pub use device_list::{
    DEVICE_ENTRY_LEN, DEVICE_LIST_HASH_LEN, DeviceEntry, DeviceList, DeviceListError,
    DeviceListHash, MAX_DEVICE_LIST_LEN, MAX_DEVICES_PER_USER, MAX_TOMBSTONES, TOMBSTONE_LEN,
    Tombstone, UserKey, UserSigningKey,
};
pub use fanout::{FanOut, FanOutDecrypted, FanOutError, FanOutPart, FanOutSkip, FanOutUpdate};
pub use fanout_wire::{
    DeviceRef, FANOUT_ENVELOPE_PREFIX_LEN, FANOUT_KEY_BASE_LEN, FanOutEnvelope, FanOutMessage,
    MAX_DEVICE_REF_LEN, MAX_FANOUT_BODY_LEN, MAX_FANOUT_DEVICES, MAX_FANOUT_ENVELOPE_LEN,
    MAX_FANOUT_KEY_LEN, MAX_FANOUT_KEY_MESSAGE_LEN, MAX_FANOUT_MESSAGE_LEN,
    MAX_FANOUT_PLAINTEXT_LEN, MAX_MISMATCH_ANSWER_LEN, MismatchAnswer,
};
pub use link::{
    JoinAwaitingList, JoinAwaitingReveal, JoinComparing, JoinRequested, LINK_CONFIRM_LEN,
    LINK_NONCE_LEN, LINK_REQUEST_LEN, LINK_TIMEOUT_SECS, LinkApproved, LinkComparing,
    LinkConfirmed, LinkError, LinkOffer, LinkPayload, LinkSasStarted, MAX_LINK_DONE_LEN,
    MAX_LINK_PAYLOAD_LEN, is_link_message,
};
pub use records::Changes;
pub use users::{
    DeviceAddress, DeviceListAccepted, MAX_HELD_DEVICE_LISTS, REMOVED_DEVICE_WINDOW_SECS,
};
pub use users_record::MAX_REMOVED_DEVICES;

pub use peers::{MAX_PEERS, MAX_SESSIONS_PER_PEER, PeerDecrypted, PeerError, SessionStarted};
pub use reset::{
    MAX_RESET_LOGS, RESET_MAX_AGE_SECS, RESET_MAX_FUTURE_SKEW_SECS, RESET_MIN_INTERVAL_SECS,
    RESET_REQUEST_LEN, ResetAnswered, ResetError, ResetReason, ResetRequest,
};
pub use sealed::SealedSessionError;

pub(crate) use peers::PeerRecord;
pub(crate) use reset::ResetLog;

/// One device of a user, ready to chat: its [`Account`] plus a session record per peer
/// device, the reset bookkeeping and the identity book.
///
/// ```
/// use hushwire::{Device, Timestamp};
/// use rand_core::SeedableRng;
/// # fn main() -> Result<(), hushwire::Error> {
/// // Use the OS RNG in an app; a seeded one makes this example deterministic.
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
/// let now = Timestamp::from_unix_secs(1_700_000_000);
///
/// let mut alice = Device::new(now, &mut rng);
/// let mut bob = Device::new(now, &mut rng);
/// bob.account_mut().generate_one_time_prekeys(10, 10, now, &mut rng)?;
///
/// // Alice fetches one of Bob's bundles from the server and writes to him.
/// let bundle = bob.account().published_prekeys().take_bundle();
/// let _ = alice.start_session(&bundle, &mut rng)?;
/// let first = alice.encrypt_for(bob.identity_key(), b"is my order shipped?", &mut rng)?;
///
/// // Bob reads it as coming from Alice's identity key (as the transport or a sealed
/// // envelope names her), and answers on the same conversation.
/// let read = bob.decrypt_from(alice.identity_key(), &first, now)?;
/// assert_eq!(read.plaintext, b"is my order shipped?");
/// let reply = bob.encrypt_for(alice.identity_key(), b"it left this morning", &mut rng)?;
/// let read = alice.decrypt_from(bob.identity_key(), &reply, now)?;
/// assert_eq!(read.plaintext, b"it left this morning");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Device {
    pub(crate) account: Account,
    /// Sessions with each peer device, keyed by its identity key.
    pub(crate) peers: BTreeMap<IdentityKey, PeerRecord>,
    /// Peers with a stored record that is not loaded (a cold start from records, SPEC.md
    /// §11.9): known, so a call about one fails with `NotLoaded` rather than start afresh.
    pub(crate) unloaded: BTreeSet<IdentityKey>,
    /// The logical clock of peer use: the `last_used` of the most recently used record. Not
    /// persisted; a restore sets it to the largest `last_used` held.
    pub(crate) peer_clock: u64,
    /// Reset-protocol bookkeeping per peer (rate limits, replays).
    pub(crate) resets: BTreeMap<IdentityKey, ResetLog>,
    /// The identity key recorded for each of the app's users, and its verification state.
    pub(crate) identities: IdentityBook,
    /// The records changed since the app last took them ([`Device::take_changes`]).
    pub(crate) changes: Changes,
    /// Users with several devices: the own user, held device lists, removed devices.
    pub(crate) users: users::UserDevices,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("account", &self.account)
            .field("peers", &self.peers.len())
            .field("unloaded_peers", &self.unloaded.len())
            .field("reset_logs", &self.resets.len())
            .field("identity_records", &self.identities.len())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Creates a device with a fresh account ([`Account::new`]) and no peers.
    pub fn new<R: CryptoRng + ?Sized>(now: Timestamp, rng: &mut R) -> Self {
        Self::from_account(Account::new(now, rng))
    }

    /// Wraps an existing account, with no peers, resets or recorded identities yet. Its
    /// changes ([`Device::take_changes`]) list the account record and the identity book: a
    /// device that was never stored as records.
    pub fn from_account(account: Account) -> Self {
        Device {
            account,
            peers: BTreeMap::new(),
            unloaded: BTreeSet::new(),
            peer_clock: 0,
            resets: BTreeMap::new(),
            identities: IdentityBook::default(),
            changes: Changes::fresh(),
            users: users::UserDevices::default(),
        }
    }

    /// The account: identity, prekeys to publish, rotation.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The account, to generate or rotate prekeys or change the session limits. Lists the
    /// account record in [`Device::changes`]: persist it before publishing new prekeys.
    pub fn account_mut(&mut self) -> &mut Account {
        self.mark_account();
        &mut self.account
    }

    /// The version of the sessions [`Device::start_session`] starts: its account's
    /// ([`Account::session_version`]).
    pub fn session_version(&self) -> crate::SessionVersion {
        self.account.session_version()
    }

    /// Sets the version of the sessions [`Device::start_session`] starts from now on
    /// ([`Account::set_session_version`]; [`Device::start_session_with_version`] chooses per
    /// peer). Lists the account record in [`Device::changes`].
    pub fn set_session_version(&mut self, version: crate::SessionVersion) {
        self.account_mut().set_session_version(version);
    }

    /// This device's public identity key (its account's).
    pub fn identity_key(&self) -> &IdentityKey {
        self.account.identity_key()
    }
}
