//! Where the relay keeps what it holds: a SQLite file (the default, embedded, one node) or a
//! PostgreSQL database that several relay nodes share.
//!
//! Everything a device needs from the relay lives in the store, never in a node's memory:
//! registrations (name → device: the relay's device list), prekeys and envelope KEM keys, queued envelopes, blobs
//! and their quotas, backups. A node keeps only its own connections, so a client can sign in
//! on any node and a node can die without losing anything.
//!
//! Chosen with `--store`: `sqlite:PATH` or `postgres://user@host:port/db` (see
//! [`StoreUrl`]). Both implementations answer the same operations ([`Store`]); their SQL is
//! in [`sqlite`] and [`postgres`].
//!
//! Delivery across nodes: an envelope sent through node A for a device receiving on node B is
//! written to the shared queue and announced with PostgreSQL `NOTIFY`; node B `LISTEN`s and
//! wakes that device's connection at once. Every [`postgres::POLL_INTERVAL`] each node also
//! looks for missed envelopes (the fallback when a notification is lost, say while the
//! listening connection reconnects). An acknowledgment deletes the envelope from the shared
//! queue; an envelope delivered by a node that died before the acknowledgment is delivered
//! again by another, and the client's library refuses it as a duplicate.

use std::fmt;
use std::path::PathBuf;

use hushwire::{
    IdentityKey, KemPreKeyKind, KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle,
    SignedPreKeyPublic,
};

use super::{RelayError, StoredEnvelope};
use crate::frame::{BLOB_ID_LEN, ErasedCounts};

pub mod postgres;
pub mod sqlite;

/// Which store a relay uses, parsed from `--store`.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH`: a SQLite file (created if missing).
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`: a PostgreSQL connection string (libpq URL
    /// form), the database created beforehand; the relay creates its tables.
    Postgres(String),
}

impl StoreUrl {
    /// Parses `sqlite:PATH` or a `postgres://` / `postgresql://` URL.
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(url: &str) -> Result<StoreUrl, String> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("sqlite: needs a path (sqlite:/var/lib/relay/relay.sqlite)".into());
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url.parse::<tokio_postgres::Config>()
                .map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
            return Ok(StoreUrl::Postgres(url.to_owned()));
        }
        Err("a store is sqlite:PATH or postgres://USER@HOST:PORT/DB".into())
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StoreUrl::parse(s)
    }
}

/// Shows the URL without its password (it goes to logs and `Debug` output).
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreUrl::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                // Parameters may hold a password too: shown only when none does.
                let rest = match rest.split_once('?') {
                    Some((before, query)) if query.contains("password") => before,
                    _ => rest,
                };
                match rest.split_once('@') {
                    Some((user, host)) => {
                        let user = user.split_once(':').map_or(user, |(u, _)| u);
                        write!(f, "{scheme}://{user}@{host}")
                    }
                    None => write!(f, "{scheme}://{rest}"),
                }
            }
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

/// The outcome of a registration.
pub(crate) enum Registration {
    /// Another device holds the name (and `replace` was not asked).
    Taken,
    /// Registered; `moved` if the name was taken from another device.
    Done { moved: bool },
}

/// The outcome of queueing an envelope.
pub(crate) enum Enqueued {
    UnknownRecipient,
    Full,
    Id(u64),
}

/// A store: the relay's one way to its data.
pub(crate) enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

type R<T> = Result<T, RelayError>;

/// Each operation, on whichever store it is. SQLite runs synchronously under its lock (a few
/// short statements, never across an `.await`); PostgreSQL awaits its pool.
macro_rules! dispatch {
    ($self:ident . $op:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$op($($arg),*),
            Store::Postgres(p) => p.$op($($arg),*).await,
        }
    };
}

impl Store {
    /// Whether other nodes may write to this store (so deliveries need waking from outside).
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Runs a store operation to completion from synchronous code (the relay handle's
    /// inspection methods, for the demo and tests): SQLite finishes at the first poll;
    /// PostgreSQL blocks this worker thread on the current multi-thread tokio runtime.
    pub(crate) fn block_on<T>(&self, op: impl Future<Output = R<T>>) -> R<T> {
        let mut op = std::pin::pin!(op);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready(done) = op.as_mut().poll(&mut cx) {
            return done;
        }
        let runtime = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|r| r.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
            .ok_or(RelayError::NoRuntime)?;
        tokio::task::block_in_place(|| runtime.block_on(op))
    }

    // Devices (the device list: one device per name on this relay).

    pub(crate) async fn name_of(&self, device: &[u8; 32]) -> R<Option<String>> {
        dispatch!(self.name_of(device))
    }

    pub(crate) async fn identity_of(&self, name: &str) -> R<Option<[u8; 32]>> {
        dispatch!(self.identity_of(name))
    }

    pub(crate) async fn register(
        &self,
        device: &[u8; 32],
        name: &str,
        replace: bool,
    ) -> R<Registration> {
        dispatch!(self.register(device, name, replace))
    }

    // Prekeys.

    /// Stores a published bundle's parts; `false` if the device has the most unused
    /// one-time prekeys already.
    pub(crate) async fn publish(&self, device: &[u8; 32], bundle: &PreKeyBundle) -> R<bool> {
        dispatch!(self.publish(device, bundle))
    }

    /// A bundle for `identity`, handing out (and forgetting) one one-time prekey of each kind.
    pub(crate) async fn take_bundle(&self, identity: IdentityKey) -> R<Option<PreKeyBundle>> {
        dispatch!(self.take_bundle(identity))
    }

    /// Stores `device`'s envelope KEM key (opaque bytes), replacing the one stored.
    pub(crate) async fn put_envelope_key(&self, device: &[u8; 32], key: &[u8]) -> R<()> {
        dispatch!(self.put_envelope_key(device, key))
    }

    /// The envelope KEM key `device` published, if any.
    pub(crate) async fn envelope_key(&self, device: &[u8; 32]) -> R<Option<Vec<u8>>> {
        dispatch!(self.envelope_key(device))
    }

    // The queue.

    /// Queues `envelope` for `recipient`, a registered or listed device unless
    /// `any_recipient` (a `SendDirect`, which may go to a device not listed yet).
    pub(crate) async fn enqueue(
        &self,
        recipient: &[u8; 32],
        envelope: &[u8],
        max_queue: u32,
        any_recipient: bool,
    ) -> R<Enqueued> {
        dispatch!(self.enqueue(recipient, envelope, max_queue, any_recipient))
    }

    /// Deletes envelope `id` if it is `device`'s.
    pub(crate) async fn ack(&self, device: &[u8; 32], id: u64) -> R<()> {
        dispatch!(self.ack(device, id))
    }

    /// Up to `n` envelopes for `device` not delivered on this connection yet: on SQLite,
    /// those after `after` (ids grow in commit order, one writer); on PostgreSQL, those not in
    /// `in_flight` (ids of concurrent writers on several nodes may commit out of order).
    pub(crate) async fn next_batch(
        &self,
        device: &[u8; 32],
        after: u64,
        in_flight: &[u64],
        n: usize,
    ) -> R<Vec<(u64, Vec<u8>)>> {
        dispatch!(self.next_batch(device, after, in_flight, n))
    }

    pub(crate) async fn queued_for(&self, device: &[u8; 32]) -> R<u64> {
        dispatch!(self.queued_for(device))
    }

    pub(crate) async fn queued_total(&self) -> R<u64> {
        dispatch!(self.queued_total())
    }

    pub(crate) async fn stored(&self, limit: u32) -> R<Vec<StoredEnvelope>> {
        dispatch!(self.stored(limit))
    }

    // Blobs (see `relay::blobs` for what each step checks).

    /// Deletes the owner's expired blobs, then records an empty upload of `len` bytes if the
    /// owner's blobs stay within `quota`; `false` if they would not.
    pub(crate) async fn blob_reserve(
        &self,
        owner: &[u8; 32],
        id: &[u8; BLOB_ID_LEN],
        len: u64,
        quota: u64,
        now: i64,
        expires_at: i64,
    ) -> R<bool> {
        dispatch!(self.blob_reserve(owner, id, len, quota, now, expires_at))
    }

    /// The announced length of `owner`'s unfinished, unexpired upload `id`.
    pub(crate) async fn blob_upload_len(
        &self,
        owner: &[u8; 32],
        id: &[u8; BLOB_ID_LEN],
        now: i64,
    ) -> R<Option<u64>> {
        dispatch!(self.blob_upload_len(owner, id, now))
    }

    pub(crate) async fn blob_append(
        &self,
        id: &[u8; BLOB_ID_LEN],
        offset: u64,
        data: &[u8],
        end: u64,
    ) -> R<()> {
        dispatch!(self.blob_append(id, offset, data, end))
    }

    pub(crate) async fn blob_finish(
        &self,
        id: &[u8; BLOB_ID_LEN],
        sha256: &[u8; 32],
        expires_at: i64,
    ) -> R<()> {
        dispatch!(self.blob_finish(id, sha256, expires_at))
    }

    pub(crate) async fn blob_delete(&self, id: &[u8; BLOB_ID_LEN]) -> R<()> {
        dispatch!(self.blob_delete(id))
    }

    /// The length of finished, unexpired blob `id`.
    pub(crate) async fn blob_finished_len(
        &self,
        id: &[u8; BLOB_ID_LEN],
        now: i64,
    ) -> R<Option<u64>> {
        dispatch!(self.blob_finished_len(id, now))
    }

    /// Bytes `start..end` of blob `id`; `None` if its parts do not cover them.
    pub(crate) async fn blob_read(
        &self,
        id: &[u8; BLOB_ID_LEN],
        start: u64,
        end: u64,
    ) -> R<Option<Vec<u8>>> {
        dispatch!(self.blob_read(id, start, end))
    }

    /// Deletes every blob expired by `now`; how many went.
    pub(crate) async fn sweep_blobs(&self, now: i64) -> R<usize> {
        dispatch!(self.sweep_blobs(now))
    }

    pub(crate) async fn blob_stored(&self, id: &[u8; BLOB_ID_LEN]) -> R<Option<Vec<u8>>> {
        dispatch!(self.blob_stored(id))
    }

    pub(crate) async fn blob_count(&self) -> R<u64> {
        dispatch!(self.blob_count())
    }

    pub(crate) async fn flip_blob_bit(&self, id: &[u8; BLOB_ID_LEN], offset: u64) -> R<bool> {
        dispatch!(self.flip_blob_bit(id, offset))
    }

    // Device lists (one signed list per user name, hushwire SPEC.md §19).

    /// Stores `list` as `name`'s if its `version` is above the stored one's, and records its
    /// live `devices` as `name`'s devices; `false` if not newer.
    pub(crate) async fn put_device_list(
        &self,
        name: &str,
        version: u64,
        list: &[u8],
        devices: &[[u8; 32]],
    ) -> R<bool> {
        dispatch!(self.put_device_list(name, version, list, devices))
    }

    /// The list stored under `name`.
    pub(crate) async fn device_list(&self, name: &str) -> R<Option<Vec<u8>>> {
        dispatch!(self.device_list(name))
    }

    /// The user whose stored list carries `device` live.
    pub(crate) async fn listed_user_of(&self, device: &[u8; 32]) -> R<Option<String>> {
        dispatch!(self.listed_user_of(device))
    }

    // Backups (one per name).

    /// Stores `backup` for the name `device` holds now; `None` if it holds none.
    pub(crate) async fn put_backup(&self, device: &[u8; 32], backup: &[u8]) -> R<Option<String>> {
        dispatch!(self.put_backup(device, backup))
    }

    /// The backup of the name `device` holds now: `None` if it holds no name.
    pub(crate) async fn get_backup(&self, device: &[u8; 32]) -> R<Option<Option<Vec<u8>>>> {
        dispatch!(self.get_backup(device))
    }

    pub(crate) async fn backup_of(&self, name: &str) -> R<Option<Vec<u8>>> {
        dispatch!(self.backup_of(name))
    }

    // Erasure on request.

    /// Deletes everything held for `device` and the name it holds, in one transaction.
    pub(crate) async fn erase(&self, device: &[u8; 32]) -> R<ErasedCounts> {
        dispatch!(self.erase(device))
    }
}

/// Clamps a row count into a frame's 4-byte counter.
pub(crate) fn count32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A bundle from its stored parts; `None` if a stored key or signature has the wrong size.
pub(crate) fn assemble_bundle(
    identity_key: IdentityKey,
    (spk_id, spk_key, spk_sig): (u32, Vec<u8>, Vec<u8>),
    one_time: Option<(u32, Vec<u8>)>,
    (kem_id, kind, kem_key, kem_sig): (u32, KemPreKeyKind, Vec<u8>, Vec<u8>),
) -> Option<PreKeyBundle> {
    let (Ok(spk_key), Ok(spk_sig)) = (spk_key.try_into(), spk_sig.try_into()) else {
        return None;
    };
    let one_time_prekey = one_time.and_then(|(id, key)| {
        key.try_into()
            .ok()
            .map(|key| OneTimePreKeyPublic { id, key })
    });
    let (Ok(kem_key), Ok(kem_sig)) = (kem_key.into_boxed_slice().try_into(), kem_sig.try_into())
    else {
        return None;
    };
    Some(PreKeyBundle {
        identity_key,
        signed_prekey: SignedPreKeyPublic {
            id: spk_id,
            key: spk_key,
            signature: spk_sig,
        },
        one_time_prekey,
        kem_prekey: KemPreKeyPublic {
            id: kem_id,
            kind,
            key: kem_key,
            signature: kem_sig,
        },
    })
}
