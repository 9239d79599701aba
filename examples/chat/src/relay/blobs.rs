//! The relay's blob store: encrypted attachment objects (hushwire SPEC.md §16) that a device
//! uploads in parts and any device holding the id downloads by range.
//!
//! The relay never sees a key: a blob is the ciphertext object of an attachment, and the
//! pointer that opens it travels inside an end-to-end encrypted message. What the store
//! enforces, each limit a named constant (the defaults of [`BlobLimits`]):
//!
//! - **Size**: a blob is 1 to [`MAX_BLOB_LEN`] bytes, announced up front (`BlobBegin`); a part
//!   carries at most [`MAX_BLOB_PART`] bytes and a download range at most [`MAX_BLOB_READ`].
//! - **Quota**: the blobs a device stores (finished or still uploading, not yet expired) add up
//!   to at most [`BLOB_QUOTA`] bytes. Checked when the upload begins, against the announced
//!   length, before a byte is stored; the device's expired blobs are deleted first.
//! - **Order and integrity of the upload**: parts come in order on the connection that began
//!   the upload (at most [`MAX_OPEN_UPLOADS`] at once); `BlobEnd` names the SHA-256 the
//!   uploader computed (the attachment pointer's `ciphertext_sha256`), and the relay makes the
//!   blob downloadable only if it received exactly the announced length with that digest.
//!   Anything else deletes the upload.
//! - **Expiry**: an unfinished upload expires [`UPLOAD_TTL`] after it began, a finished blob
//!   [`BLOB_TTL`] after it finished. Expired blobs are never served; a sweeper deletes them
//!   every [`BLOB_SWEEP_INTERVAL`] (and at start).
//! - **Ids** are 16 random bytes from the OS: knowing the id is what lets a device download
//!   a blob, so ids cannot be guessed or enumerated.
//!
//! Blobs live in the relay's store (SQLite or PostgreSQL, see [`super::store`]), beside the
//! mailboxes: a `blobs` row per blob and its bytes in `blob_parts`, one row per uploaded part,
//! so a range read touches only the parts it needs. Every request is answered with a frame; a refusal is an `Error` frame with
//! a code the peer prints ([`ErrorCode::BlobTooLarge`], [`ErrorCode::QuotaExceeded`],
//! [`ErrorCode::NoSuchBlob`], [`ErrorCode::BadRange`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::time::sleep;

use super::{Conn, RelayError, RelayHandle, Shared};
use crate::frame::{BLOB_ID_LEN, ErrorCode, Frame, MAX_FRAME_LEN};

/// Largest blob, bytes (a 60 MiB file fits, with its padding).
pub const MAX_BLOB_LEN: u64 = 64 * 1024 * 1024;
/// Most bytes a device stores at once (its unexpired blobs, finished or not).
pub const BLOB_QUOTA: u64 = 256 * 1024 * 1024;
/// Largest part of an upload (`BlobPut`).
pub const MAX_BLOB_PART: usize = 512 * 1024;
/// Largest range of one download request (`BlobGet`).
pub const MAX_BLOB_READ: u32 = 512 * 1024;
/// How long a finished blob stays downloadable.
pub const BLOB_TTL: Duration = Duration::from_secs(7 * 24 * 3_600);
/// How long an upload may take before it is dropped.
pub const UPLOAD_TTL: Duration = Duration::from_secs(3_600);
/// How often expired blobs are deleted.
pub const BLOB_SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// Most uploads one connection has under way at once.
pub const MAX_OPEN_UPLOADS: usize = 4;

// A part frame is tag, id, offset and the part; a data frame is tag and the range.
const _: () = assert!(1 + BLOB_ID_LEN + 8 + MAX_BLOB_PART <= MAX_FRAME_LEN);
const _: () = assert!((MAX_BLOB_READ as usize) < MAX_FRAME_LEN);
const _: () = assert!(MAX_BLOB_LEN <= BLOB_QUOTA);

/// The blob store's limits; `Default` gives the constants above (tests shorten them).
#[derive(Clone, Debug)]
pub struct BlobLimits {
    /// Largest blob ([`MAX_BLOB_LEN`]).
    pub max_len: u64,
    /// Bytes a device may store at once ([`BLOB_QUOTA`]).
    pub quota: u64,
    /// Lifetime of a finished blob ([`BLOB_TTL`]).
    pub ttl: Duration,
    /// Lifetime of an unfinished upload ([`UPLOAD_TTL`]).
    pub upload_ttl: Duration,
    /// Sweep period ([`BLOB_SWEEP_INTERVAL`]).
    pub sweep_interval: Duration,
}

impl Default for BlobLimits {
    fn default() -> Self {
        BlobLimits {
            max_len: MAX_BLOB_LEN,
            quota: BLOB_QUOTA,
            ttl: BLOB_TTL,
            upload_ttl: UPLOAD_TTL,
            sweep_interval: BLOB_SWEEP_INTERVAL,
        }
    }
}

/// The uploads a connection has under way: each blob's running SHA-256 and bytes received.
#[derive(Default)]
pub(super) struct Uploads {
    open: HashMap<[u8; BLOB_ID_LEN], (Sha256, u64)>,
}

/// Unix time in milliseconds.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn later(now: i64, after: Duration) -> i64 {
    now.saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX))
}

/// Deletes expired blobs every `sweep_interval` until the relay stops.
pub(super) async fn sweeper(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        match shared.store.sweep_blobs(now_ms()).await {
            Ok(0) => {}
            Ok(n) => shared.log(format_args!("deleted {n} expired blob(s)")),
            Err(_) => shared.log(format_args!("blob sweep failed (database)")),
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = sleep(shared.config.blobs.sweep_interval) => {}
        }
    }
}

impl Conn {
    fn limits(&self) -> &BlobLimits {
        &self.shared.config.blobs
    }

    /// `BlobBegin`: checks the length and the device's quota, then records an empty upload
    /// under a fresh random id.
    pub(super) async fn blob_begin(
        &mut self,
        owner: [u8; 32],
        len: u64,
    ) -> Result<Frame, ErrorCode> {
        if self.name.is_none() {
            return Err(ErrorCode::Invalid);
        }
        if len == 0 {
            return Err(ErrorCode::BadRange);
        }
        if len > self.limits().max_len {
            return Err(ErrorCode::BlobTooLarge);
        }
        if self.uploads.open.len() >= MAX_OPEN_UPLOADS {
            return Err(ErrorCode::Full);
        }
        let mut id = [0u8; BLOB_ID_LEN];
        getrandom::fill(&mut id).map_err(|_| ErrorCode::Internal)?;
        let now = now_ms();
        let (quota, upload_ttl) = (self.limits().quota, self.limits().upload_ttl);
        let reserved = self
            .shared
            .store
            .blob_reserve(&owner, &id, len, quota, now, later(now, upload_ttl))
            .await;
        if !reserved.map_err(|_| ErrorCode::Internal)? {
            return Err(ErrorCode::QuotaExceeded);
        }
        self.uploads.open.insert(id, (Sha256::new(), 0));
        Ok(Frame::BlobId(id))
    }

    /// `BlobPut`: appends the next part of an upload this connection began.
    pub(super) async fn blob_put(
        &mut self,
        owner: [u8; 32],
        id: [u8; BLOB_ID_LEN],
        offset: u64,
        data: &[u8],
    ) -> Result<Frame, ErrorCode> {
        if data.len() > MAX_BLOB_PART {
            return Err(ErrorCode::BlobTooLarge);
        }
        let Some((_, received)) = self.uploads.open.get(&id) else {
            return Err(ErrorCode::NoSuchBlob);
        };
        let received = *received;
        let len = self
            .shared
            .store
            .blob_upload_len(&owner, &id, now_ms())
            .await;
        let Some(len) = len.map_err(|_| ErrorCode::Internal)? else {
            self.uploads.open.remove(&id);
            return Err(ErrorCode::NoSuchBlob);
        };
        let part = u64::try_from(data.len()).map_err(|_| ErrorCode::BadRange)?;
        let end = offset.checked_add(part).ok_or(ErrorCode::BadRange)?;
        if offset != received || end > len {
            return Err(ErrorCode::BadRange);
        }
        let appended = self.shared.store.blob_append(&id, offset, data, end).await;
        appended.map_err(|_| ErrorCode::Internal)?;
        if let Some((hash, received)) = self.uploads.open.get_mut(&id) {
            hash.update(data);
            *received = end;
        }
        Ok(Frame::Ok)
    }

    /// `BlobEnd`: the upload is complete if it has its announced length and the SHA-256 the
    /// uploader names; it becomes downloadable for [`BlobLimits::ttl`]. Otherwise it is
    /// deleted (and its quota freed).
    pub(super) async fn blob_end(
        &mut self,
        owner: [u8; 32],
        id: [u8; BLOB_ID_LEN],
        sha256: &[u8; 32],
    ) -> Result<Frame, ErrorCode> {
        let Some((hash, received)) = self.uploads.open.remove(&id) else {
            return Err(ErrorCode::NoSuchBlob);
        };
        let ttl = self.limits().ttl;
        let now = now_ms();
        let store = &self.shared.store;
        let len = store.blob_upload_len(&owner, &id, now).await;
        let Some(len) = len.map_err(|_| ErrorCode::Internal)? else {
            return Err(ErrorCode::NoSuchBlob);
        };
        let digest: [u8; 32] = hash.finalize().into();
        if len != received || &digest != sha256 {
            store
                .blob_delete(&id)
                .await
                .map_err(|_| ErrorCode::Internal)?;
            return Err(ErrorCode::BadRange);
        }
        let finished = store.blob_finish(&id, &digest, later(now, ttl)).await;
        finished.map_err(|_| ErrorCode::Internal)?;
        Ok(Frame::Ok)
    }

    /// `BlobGet`: bytes `offset..offset + len` of a finished, unexpired blob.
    pub(super) async fn blob_get(
        &mut self,
        id: &[u8; BLOB_ID_LEN],
        offset: u64,
        len: u32,
    ) -> Result<Frame, ErrorCode> {
        if len > MAX_BLOB_READ {
            return Err(ErrorCode::BlobTooLarge);
        }
        if len == 0 {
            return Err(ErrorCode::BadRange);
        }
        let store = &self.shared.store;
        let blob_len = store.blob_finished_len(id, now_ms()).await;
        let Some(blob_len) = blob_len.map_err(|_| ErrorCode::Internal)? else {
            return Err(ErrorCode::NoSuchBlob);
        };
        let end = offset
            .checked_add(u64::from(len))
            .filter(|&end| end <= blob_len)
            .ok_or(ErrorCode::BadRange)?;
        let data = store.blob_read(id, offset, end).await;
        let data = data.map_err(|_| ErrorCode::Internal)?;
        data.map(Frame::BlobData).ok_or(ErrorCode::Internal)
    }
}

/// Bytes `start..end` of a blob from its parts `(offset, data)` in offset order, the first
/// one holding `start`; `None` if the parts do not cover the range (a corrupt store).
pub(super) fn assemble_range(parts: Vec<(i64, Vec<u8>)>, start: u64, end: u64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(end.saturating_sub(start)).unwrap_or(0));
    for (offset, data) in parts {
        let offset = u64::try_from(offset).ok()?;
        // Parts are contiguous: each must begin where the bytes so far end.
        if offset > start.saturating_add(u64::try_from(out.len()).unwrap_or(u64::MAX)) {
            return None;
        }
        let from = usize::try_from(start.saturating_sub(offset)).unwrap_or(usize::MAX);
        let to = usize::try_from(end.saturating_sub(offset)).unwrap_or(usize::MAX);
        let piece = data.get(from.min(data.len())..to.min(data.len()))?;
        out.extend_from_slice(piece);
    }
    (u64::try_from(out.len()).ok() == Some(end.saturating_sub(start))).then_some(out)
}

/// What the demo and the tests read from the store directly (a relay operator's view).
impl RelayHandle {
    /// The bytes the relay stores for blob `id` (finished or not): what it could read.
    ///
    /// # Errors
    /// [`RelayError::Db`] if the database fails.
    pub fn blob(&self, id: &[u8; BLOB_ID_LEN]) -> Result<Option<Vec<u8>>, RelayError> {
        let store = &self.shared.store;
        store.block_on(store.blob_stored(id))
    }

    /// How many blobs the relay stores (expired ones not swept yet included).
    ///
    /// # Errors
    /// [`RelayError::Db`] if the database fails.
    pub fn blob_count(&self) -> Result<u64, RelayError> {
        let store = &self.shared.store;
        store.block_on(store.blob_count())
    }

    /// Deletes expired blobs now (the sweeper does it every [`BlobLimits::sweep_interval`]).
    ///
    /// # Errors
    /// [`RelayError::Db`] if the database fails.
    pub fn sweep_blobs(&self) -> Result<usize, RelayError> {
        let store = &self.shared.store;
        store.block_on(store.sweep_blobs(now_ms()))
    }

    /// Flips one bit of the stored byte at `offset` of blob `id`: what a compromised relay
    /// (or a failing disk) could do. For the demo and the tests; returns whether the byte
    /// exists.
    ///
    /// # Errors
    /// [`RelayError::Db`] if the database fails.
    pub fn dangerous_flip_blob_bit(
        &self,
        id: &[u8; BLOB_ID_LEN],
        offset: u64,
    ) -> Result<bool, RelayError> {
        let store = &self.shared.store;
        store.block_on(store.flip_blob_bit(id, offset))
    }
}
