//! The SQLite store (rusqlite): one file, one node. WAL mode without an fsync per commit, so
//! each operation is a few short statements under one lock, never held across an `.await`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hushwire::{IdentityKey, KemPreKeyKind, PreKeyBundle};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Enqueued, R, Registration, assemble_bundle, count32};
use crate::frame::{BLOB_ID_LEN, ErasedCounts};
use crate::relay::{MAX_STORED_ONE_TIME, RelayError, StoredEnvelope, unix_secs_i64};

/// The tables holding a device's prekeys, and its envelope KEM key (deleted and counted with
/// them).
const PREKEY_TABLES: [&str; 5] = [
    "signed_prekeys",
    "last_resort_kem_prekeys",
    "one_time_prekeys",
    "one_time_kem_prekeys",
    "envelope_keys",
];

pub(crate) struct SqliteStore {
    db: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (or creates) the database file and its tables.
    pub(crate) fn open(path: &Path) -> R<SqliteStore> {
        let db = Connection::open(path)?;
        db.busy_timeout(Duration::from_secs(5))?;
        // WAL with synchronous=NORMAL: a commit survives a crash of the relay process (not of
        // the OS), and costs no fsync.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS devices (
                 identity BLOB PRIMARY KEY,
                 name TEXT NOT NULL UNIQUE,
                 registered_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS signed_prekeys (
                 identity BLOB PRIMARY KEY,
                 id INTEGER NOT NULL,
                 key BLOB NOT NULL,
                 signature BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS last_resort_kem_prekeys (
                 identity BLOB PRIMARY KEY,
                 id INTEGER NOT NULL,
                 key BLOB NOT NULL,
                 signature BLOB NOT NULL);
             -- One-time keys stay (without their key) once handed out, so that publishing the
             -- same key again cannot make the relay hand it out a second time.
             CREATE TABLE IF NOT EXISTS one_time_prekeys (
                 identity BLOB NOT NULL,
                 id INTEGER NOT NULL,
                 key BLOB,
                 PRIMARY KEY (identity, id));
             CREATE TABLE IF NOT EXISTS one_time_kem_prekeys (
                 identity BLOB NOT NULL,
                 id INTEGER NOT NULL,
                 key BLOB,
                 signature BLOB,
                 PRIMARY KEY (identity, id));
             -- The device's signed envelope KEM key (hushwire type 0x36), opaque bytes.
             CREATE TABLE IF NOT EXISTS envelope_keys (
                 identity BLOB PRIMARY KEY,
                 key BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS queue (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 recipient BLOB NOT NULL,
                 envelope BLOB NOT NULL,
                 received_at INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS queue_by_recipient ON queue (recipient, id);
             -- Names are ASCII (frame::valid_name) and compared without case: `Bob` is `bob`.
             CREATE UNIQUE INDEX IF NOT EXISTS devices_by_name ON devices (name COLLATE NOCASE);
             CREATE TABLE IF NOT EXISTS blobs (
                 id BLOB PRIMARY KEY,
                 owner BLOB NOT NULL,
                 len INTEGER NOT NULL,
                 received INTEGER NOT NULL,
                 -- NULL while uploading; the SHA-256 once finished (downloadable).
                 sha256 BLOB,
                 -- Unix milliseconds.
                 expires_at INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS blobs_by_owner ON blobs (owner);
             CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs (expires_at);
             CREATE TABLE IF NOT EXISTS blob_parts (
                 blob BLOB NOT NULL,
                 offset INTEGER NOT NULL,
                 data BLOB NOT NULL,
                 PRIMARY KEY (blob, offset));
             CREATE TABLE IF NOT EXISTS backups (
                 name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
                 backup BLOB NOT NULL,
                 stored_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS device_lists (
                 name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
                 version INTEGER NOT NULL,
                 list BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS listed_devices (
                 identity BLOB PRIMARY KEY,
                 name TEXT NOT NULL COLLATE NOCASE);",
        )?;
        Ok(SqliteStore { db: Mutex::new(db) })
    }

    fn db(&self) -> R<MutexGuard<'_, Connection>> {
        self.db.lock().map_err(|_| RelayError::Poisoned)
    }

    pub(crate) fn name_of(&self, device: &[u8; 32]) -> R<Option<String>> {
        Ok(current_name(&*self.db()?, device)?)
    }

    pub(crate) fn identity_of(&self, name: &str) -> R<Option<[u8; 32]>> {
        let identity: Option<Vec<u8>> = self
            .db()?
            .query_row(
                "SELECT identity FROM devices WHERE name = ?1 COLLATE NOCASE",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        identity
            .map(|i| i.try_into().map_err(|_| RelayError::Corrupt("identity")))
            .transpose()
    }

    pub(crate) fn register(&self, device: &[u8; 32], name: &str, replace: bool) -> R<Registration> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        let owner: Option<Vec<u8>> = tx
            .query_row(
                "SELECT identity FROM devices WHERE name = ?1 COLLATE NOCASE",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        let moved = match owner {
            Some(owner) if owner == device => false,
            Some(_) if !replace => return Ok(Registration::Taken),
            Some(owner) => {
                for table in std::iter::once("devices").chain(PREKEY_TABLES) {
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE identity = ?1"),
                        params![owner],
                    )?;
                }
                tx.execute("DELETE FROM queue WHERE recipient = ?1", params![owner])?;
                true
            }
            None => false,
        };
        tx.execute(
            "INSERT INTO devices (identity, name, registered_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (identity) DO UPDATE SET name = excluded.name",
            params![device.as_slice(), name, unix_secs_i64()],
        )?;
        tx.commit()?;
        Ok(Registration::Done { moved })
    }

    pub(crate) fn publish(&self, device: &[u8; 32], bundle: &PreKeyBundle) -> R<bool> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        let stored = store_bundle(&tx, device, bundle)?;
        if stored {
            tx.commit()?;
        }
        Ok(stored)
    }

    pub(crate) fn take_bundle(&self, identity: IdentityKey) -> R<Option<PreKeyBundle>> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        let bundle = take_bundle(&tx, identity)?;
        if bundle.is_some() {
            tx.commit()?;
        }
        Ok(bundle)
    }

    pub(crate) fn put_envelope_key(&self, device: &[u8; 32], key: &[u8]) -> R<()> {
        self.db()?.execute(
            "INSERT INTO envelope_keys (identity, key) VALUES (?1, ?2)
             ON CONFLICT (identity) DO UPDATE SET key = excluded.key",
            params![device.as_slice(), key],
        )?;
        Ok(())
    }

    pub(crate) fn envelope_key(&self, device: &[u8; 32]) -> R<Option<Vec<u8>>> {
        Ok(self
            .db()?
            .query_row(
                "SELECT key FROM envelope_keys WHERE identity = ?1",
                params![device.as_slice()],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub(crate) fn enqueue(
        &self,
        recipient: &[u8; 32],
        envelope: &[u8],
        max_queue: u32,
        any_recipient: bool,
    ) -> R<Enqueued> {
        let db = self.db()?;
        let known: Option<i64> = db
            .prepare_cached(
                "SELECT 1 FROM devices WHERE identity = ?1
                 UNION ALL SELECT 1 FROM listed_devices WHERE identity = ?1",
            )?
            .query_row(params![recipient.as_slice()], |r| r.get(0))
            .optional()?;
        if known.is_none() && !any_recipient {
            return Ok(Enqueued::UnknownRecipient);
        }
        let queued: i64 = db
            .prepare_cached("SELECT COUNT(*) FROM queue WHERE recipient = ?1")?
            .query_row(params![recipient.as_slice()], |r| r.get(0))?;
        if queued >= i64::from(max_queue) {
            return Ok(Enqueued::Full);
        }
        db.prepare_cached(
            "INSERT INTO queue (recipient, envelope, received_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![recipient.as_slice(), envelope, unix_secs_i64()])?;
        let id = u64::try_from(db.last_insert_rowid())
            .map_err(|_| RelayError::Corrupt("envelope id"))?;
        Ok(Enqueued::Id(id))
    }

    pub(crate) fn ack(&self, device: &[u8; 32], id: u64) -> R<()> {
        let Ok(row) = i64::try_from(id) else {
            return Ok(());
        };
        self.db()?
            .prepare_cached("DELETE FROM queue WHERE id = ?1 AND recipient = ?2")?
            .execute(params![row, device.as_slice()])?;
        Ok(())
    }

    pub(crate) fn next_batch(
        &self,
        device: &[u8; 32],
        after: u64,
        _in_flight: &[u64],
        n: usize,
    ) -> R<Vec<(u64, Vec<u8>)>> {
        let db = self.db()?;
        let mut stmt = db.prepare_cached(
            "SELECT id, envelope FROM queue WHERE recipient = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(n).unwrap_or(16);
        let rows = stmt.query_map(params![device.as_slice(), after, limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, envelope) = row?;
            out.push((
                u64::try_from(id).map_err(|_| RelayError::Corrupt("envelope id"))?,
                envelope,
            ));
        }
        Ok(out)
    }

    pub(crate) fn queued_for(&self, device: &[u8; 32]) -> R<u64> {
        let n: i64 = self.db()?.query_row(
            "SELECT COUNT(*) FROM queue WHERE recipient = ?1",
            params![device.as_slice()],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) fn queued_total(&self) -> R<u64> {
        let n: i64 = self
            .db()?
            .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) fn stored(&self, limit: u32) -> R<Vec<StoredEnvelope>> {
        let db = self.db()?;
        let mut stmt =
            db.prepare_cached("SELECT id, recipient, envelope FROM queue ORDER BY id LIMIT ?1")?;
        let rows = stmt.query_map(params![limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, recipient, envelope) = row?;
            out.push(StoredEnvelope {
                id: u64::try_from(id).map_err(|_| RelayError::Corrupt("envelope id"))?,
                recipient: recipient
                    .try_into()
                    .map_err(|_| RelayError::Corrupt("recipient"))?,
                envelope,
            });
        }
        Ok(out)
    }

    pub(crate) fn blob_reserve(
        &self,
        owner: &[u8; 32],
        id: &[u8; BLOB_ID_LEN],
        len: u64,
        quota: u64,
        now: i64,
        expires_at: i64,
    ) -> R<bool> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        delete_expired(&tx, Some(owner), now)?;
        let used: i64 = tx.query_row(
            "SELECT COALESCE(SUM(len), 0) FROM blobs WHERE owner = ?1",
            params![owner.as_slice()],
            |r| r.get(0),
        )?;
        let used = u64::try_from(used).map_err(|_| RelayError::Corrupt("blob length"))?;
        if used.saturating_add(len) > quota {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO blobs (id, owner, len, received, sha256, expires_at)
             VALUES (?1, ?2, ?3, 0, NULL, ?4)",
            params![id.as_slice(), owner.as_slice(), to_i64(len)?, expires_at],
        )?;
        tx.commit()?;
        Ok(true)
    }

    pub(crate) fn blob_upload_len(
        &self,
        owner: &[u8; 32],
        id: &[u8; BLOB_ID_LEN],
        now: i64,
    ) -> R<Option<u64>> {
        let row: Option<(i64, i64)> = self
            .db()?
            .query_row(
                "SELECT len, expires_at FROM blobs WHERE id = ?1 AND owner = ?2 AND sha256 IS NULL",
                params![id.as_slice(), owner.as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        live_len(row, now)
    }

    pub(crate) fn blob_append(
        &self,
        id: &[u8; BLOB_ID_LEN],
        offset: u64,
        data: &[u8],
        end: u64,
    ) -> R<()> {
        let db = self.db()?;
        db.execute(
            "INSERT INTO blob_parts (blob, offset, data) VALUES (?1, ?2, ?3)",
            params![id.as_slice(), to_i64(offset)?, data],
        )?;
        db.execute(
            "UPDATE blobs SET received = ?2 WHERE id = ?1",
            params![id.as_slice(), to_i64(end)?],
        )?;
        Ok(())
    }

    pub(crate) fn blob_finish(
        &self,
        id: &[u8; BLOB_ID_LEN],
        sha256: &[u8; 32],
        expires_at: i64,
    ) -> R<()> {
        self.db()?.execute(
            "UPDATE blobs SET sha256 = ?2, expires_at = ?3 WHERE id = ?1",
            params![id.as_slice(), sha256.as_slice(), expires_at],
        )?;
        Ok(())
    }

    pub(crate) fn blob_delete(&self, id: &[u8; BLOB_ID_LEN]) -> R<()> {
        let db = self.db()?;
        db.execute(
            "DELETE FROM blob_parts WHERE blob = ?1",
            params![id.as_slice()],
        )?;
        db.execute("DELETE FROM blobs WHERE id = ?1", params![id.as_slice()])?;
        Ok(())
    }

    pub(crate) fn blob_finished_len(&self, id: &[u8; BLOB_ID_LEN], now: i64) -> R<Option<u64>> {
        let row: Option<(i64, i64)> = self
            .db()?
            .query_row(
                "SELECT len, expires_at FROM blobs WHERE id = ?1 AND sha256 IS NOT NULL",
                params![id.as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        live_len(row, now)
    }

    pub(crate) fn blob_read(
        &self,
        id: &[u8; BLOB_ID_LEN],
        start: u64,
        end: u64,
    ) -> R<Option<Vec<u8>>> {
        Ok(read_range(&*self.db()?, id, start, end)?)
    }

    pub(crate) fn sweep_blobs(&self, now: i64) -> R<usize> {
        Ok(delete_expired(&*self.db()?, None, now)?)
    }

    pub(crate) fn blob_stored(&self, id: &[u8; BLOB_ID_LEN]) -> R<Option<Vec<u8>>> {
        let db = self.db()?;
        let len: Option<i64> = db
            .query_row(
                "SELECT received FROM blobs WHERE id = ?1",
                params![id.as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        match len.and_then(|l| u64::try_from(l).ok()) {
            None => Ok(None),
            Some(0) => Ok(Some(Vec::new())),
            Some(len) => Ok(read_range(&db, id, 0, len)?),
        }
    }

    pub(crate) fn blob_count(&self) -> R<u64> {
        let n: i64 = self
            .db()?
            .query_row("SELECT COUNT(*) FROM blobs", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) fn flip_blob_bit(&self, id: &[u8; BLOB_ID_LEN], offset: u64) -> R<bool> {
        let db = self.db()?;
        let Ok(at) = i64::try_from(offset) else {
            return Ok(false);
        };
        let part: Option<(i64, Vec<u8>)> = db
            .query_row(
                "SELECT offset, data FROM blob_parts WHERE blob = ?1 AND offset <= ?2
                 ORDER BY offset DESC LIMIT 1",
                params![id.as_slice(), at],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((part_offset, mut data)) = part else {
            return Ok(false);
        };
        let index = usize::try_from(at - part_offset).unwrap_or(usize::MAX);
        let Some(byte) = data.get_mut(index) else {
            return Ok(false);
        };
        *byte ^= 0x01;
        db.execute(
            "UPDATE blob_parts SET data = ?3 WHERE blob = ?1 AND offset = ?2",
            params![id.as_slice(), part_offset, data],
        )?;
        Ok(true)
    }

    pub(crate) fn put_backup(&self, device: &[u8; 32], backup: &[u8]) -> R<Option<String>> {
        let db = self.db()?;
        let Some(name) = current_name(&db, device)? else {
            return Ok(None);
        };
        db.execute(
            "INSERT INTO backups (name, backup, stored_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET backup = excluded.backup,
                 stored_at = excluded.stored_at",
            params![name, backup, unix_secs_i64()],
        )?;
        Ok(Some(name))
    }

    pub(crate) fn get_backup(&self, device: &[u8; 32]) -> R<Option<Option<Vec<u8>>>> {
        let db = self.db()?;
        let Some(name) = current_name(&db, device)? else {
            return Ok(None);
        };
        Ok(Some(backup_of(&db, &name)?))
    }

    /// Stores `list` (version `version`) as `name`'s device list if it is newer than the one
    /// stored, and makes `devices` (its live devices) the devices listed under `name`;
    /// `false` if a list of this or a higher version is stored.
    pub(crate) fn put_device_list(
        &self,
        name: &str,
        version: u64,
        list: &[u8],
        devices: &[[u8; 32]],
    ) -> R<bool> {
        let version = i64::try_from(version).map_err(|_| RelayError::Corrupt("list version"))?;
        let mut db = self.db()?;
        let tx = db.transaction()?;
        let stored: Option<i64> = tx
            .query_row(
                "SELECT version FROM device_lists WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        if stored.is_some_and(|v| v >= version) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO device_lists (name, version, list) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, list = excluded.list",
            params![name, version, list],
        )?;
        tx.execute("DELETE FROM listed_devices WHERE name = ?1", params![name])?;
        for device in devices {
            tx.execute(
                "INSERT INTO listed_devices (identity, name) VALUES (?1, ?2)
                 ON CONFLICT (identity) DO UPDATE SET name = excluded.name",
                params![device.as_slice(), name],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// The device list stored under `name`.
    pub(crate) fn device_list(&self, name: &str) -> R<Option<Vec<u8>>> {
        Ok(self
            .db()?
            .query_row(
                "SELECT list FROM device_lists WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The user whose stored list carries `device` live.
    pub(crate) fn listed_user_of(&self, device: &[u8; 32]) -> R<Option<String>> {
        Ok(self
            .db()?
            .query_row(
                "SELECT name FROM listed_devices WHERE identity = ?1",
                params![device.as_slice()],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub(crate) fn backup_of(&self, name: &str) -> R<Option<Vec<u8>>> {
        Ok(backup_of(&*self.db()?, name)?)
    }

    pub(crate) fn erase(&self, device: &[u8; 32]) -> R<ErasedCounts> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        let name = current_name(&tx, device)?;
        let key = device.as_slice();
        let queue = tx.execute("DELETE FROM queue WHERE recipient = ?1", params![key])?;
        let mut prekeys = 0;
        for table in PREKEY_TABLES {
            prekeys += tx.execute(
                &format!("DELETE FROM {table} WHERE identity = ?1"),
                params![key],
            )?;
        }
        let devices = tx.execute("DELETE FROM devices WHERE identity = ?1", params![key])?;
        tx.execute(
            "DELETE FROM blob_parts WHERE blob IN (SELECT id FROM blobs WHERE owner = ?1)",
            params![key],
        )?;
        let blobs = tx.execute("DELETE FROM blobs WHERE owner = ?1", params![key])?;
        let backups = match &name {
            Some(name) => tx.execute("DELETE FROM backups WHERE name = ?1", params![name])?,
            None => 0,
        };
        tx.commit()?;
        let n = |rows: usize| count32(u64::try_from(rows).unwrap_or(u64::MAX));
        Ok(ErasedCounts {
            queue: n(queue),
            prekeys: n(prekeys),
            devices: n(devices),
            blobs: n(blobs),
            backups: n(backups),
        })
    }
}

fn to_i64(n: u64) -> R<i64> {
    i64::try_from(n).map_err(|_| RelayError::Corrupt("length"))
}

/// The length of a blob row that has not expired by `now`.
fn live_len(row: Option<(i64, i64)>, now: i64) -> R<Option<u64>> {
    row.filter(|&(_, expires_at)| expires_at > now)
        .map(|(len, _)| u64::try_from(len).map_err(|_| RelayError::Corrupt("blob length")))
        .transpose()
}

/// The name `device` holds now, if any.
fn current_name(db: &Connection, device: &[u8; 32]) -> rusqlite::Result<Option<String>> {
    db.query_row(
        "SELECT name FROM devices WHERE identity = ?1",
        params![device.as_slice()],
        |r| r.get(0),
    )
    .optional()
}

fn backup_of(db: &Connection, name: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    db.query_row(
        "SELECT backup FROM backups WHERE name = ?1",
        params![name],
        |r| r.get(0),
    )
    .optional()
}

/// Deletes every blob that expired by `now` (unix ms), with its parts; `owner` limits it to
/// one device's. Returns how many blobs went.
fn delete_expired(db: &Connection, owner: Option<&[u8; 32]>, now: i64) -> rusqlite::Result<usize> {
    let owner = owner.map(|o| o.to_vec());
    db.execute(
        "DELETE FROM blob_parts WHERE blob IN
             (SELECT id FROM blobs WHERE expires_at <= ?1 AND (?2 IS NULL OR owner = ?2))",
        params![now, owner],
    )?;
    db.execute(
        "DELETE FROM blobs WHERE expires_at <= ?1 AND (?2 IS NULL OR owner = ?2)",
        params![now, owner],
    )
}

/// Bytes `start..end` of a blob from its parts; `None` if the parts do not cover the range
/// (a corrupt store).
fn read_range(
    db: &Connection,
    id: &[u8; BLOB_ID_LEN],
    start: u64,
    end: u64,
) -> rusqlite::Result<Option<Vec<u8>>> {
    let (Ok(start_i), Ok(end_i)) = (i64::try_from(start), i64::try_from(end)) else {
        return Ok(None);
    };
    // The part holding `start` begins at the last offset at or below it.
    let first: Option<i64> = db.query_row(
        "SELECT MAX(offset) FROM blob_parts WHERE blob = ?1 AND offset <= ?2",
        params![id.as_slice(), start_i],
        |r| r.get(0),
    )?;
    let Some(first) = first else {
        return Ok(None);
    };
    let mut stmt = db.prepare_cached(
        "SELECT offset, data FROM blob_parts WHERE blob = ?1 AND offset >= ?2 AND offset < ?3
         ORDER BY offset",
    )?;
    let rows = stmt.query_map(params![id.as_slice(), first, end_i], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut parts = Vec::new();
    for row in rows {
        parts.push(row?);
    }
    Ok(crate::relay::blobs::assemble_range(parts, start, end))
}

/// Stores the parts of a published bundle. Returns `Ok(false)` if the device already has the
/// maximum of unused one-time prekeys.
fn store_bundle(
    tx: &rusqlite::Transaction<'_>,
    device: &[u8; 32],
    bundle: &PreKeyBundle,
) -> rusqlite::Result<bool> {
    let spk = &bundle.signed_prekey;
    tx.execute(
        "INSERT INTO signed_prekeys (identity, id, key, signature) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (identity) DO UPDATE SET id = excluded.id, key = excluded.key,
             signature = excluded.signature",
        params![
            device.as_slice(),
            spk.id,
            spk.key.as_slice(),
            spk.signature.as_slice()
        ],
    )?;
    let kem = &bundle.kem_prekey;
    match kem.kind {
        KemPreKeyKind::LastResort => {
            tx.execute(
                "INSERT INTO last_resort_kem_prekeys (identity, id, key, signature)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (identity) DO UPDATE SET id = excluded.id, key = excluded.key,
                     signature = excluded.signature",
                params![
                    device.as_slice(),
                    kem.id,
                    kem.key.as_slice(),
                    kem.signature.as_slice()
                ],
            )?;
        }
        _ => {
            let unused: i64 = tx.query_row(
                "SELECT COUNT(*) FROM one_time_kem_prekeys WHERE identity = ?1 AND key IS NOT NULL",
                params![device.as_slice()],
                |r| r.get(0),
            )?;
            if unused >= MAX_STORED_ONE_TIME {
                return Ok(false);
            }
            tx.execute(
                "INSERT OR IGNORE INTO one_time_kem_prekeys (identity, id, key, signature)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    device.as_slice(),
                    kem.id,
                    kem.key.as_slice(),
                    kem.signature.as_slice()
                ],
            )?;
        }
    }
    if let Some(otk) = &bundle.one_time_prekey {
        let unused: i64 = tx.query_row(
            "SELECT COUNT(*) FROM one_time_prekeys WHERE identity = ?1 AND key IS NOT NULL",
            params![device.as_slice()],
            |r| r.get(0),
        )?;
        if unused >= MAX_STORED_ONE_TIME {
            return Ok(false);
        }
        tx.execute(
            "INSERT OR IGNORE INTO one_time_prekeys (identity, id, key) VALUES (?1, ?2, ?3)",
            params![device.as_slice(), otk.id, otk.key.as_slice()],
        )?;
    }
    Ok(true)
}

/// Assembles a bundle for `identity`, handing out (and forgetting) one one-time prekey of each
/// kind if any is left. `None` if the device published no signed prekey or ML-KEM prekey.
fn take_bundle(
    tx: &rusqlite::Transaction<'_>,
    identity_key: IdentityKey,
) -> rusqlite::Result<Option<PreKeyBundle>> {
    let device = identity_key.to_bytes();
    let signed: Option<(u32, Vec<u8>, Vec<u8>)> = tx
        .query_row(
            "SELECT id, key, signature FROM signed_prekeys WHERE identity = ?1",
            params![device.as_slice()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some(signed) = signed else {
        return Ok(None);
    };
    let otk: Option<(u32, Vec<u8>)> = tx
        .query_row(
            "SELECT id, key FROM one_time_prekeys WHERE identity = ?1 AND key IS NOT NULL
             ORDER BY id LIMIT 1",
            params![device.as_slice()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((id, _)) = &otk {
        tx.execute(
            "UPDATE one_time_prekeys SET key = NULL WHERE identity = ?1 AND id = ?2",
            params![device.as_slice(), id],
        )?;
    }
    let one_time_kem: Option<(u32, Vec<u8>, Vec<u8>)> = tx
        .query_row(
            "SELECT id, key, signature FROM one_time_kem_prekeys
             WHERE identity = ?1 AND key IS NOT NULL ORDER BY id LIMIT 1",
            params![device.as_slice()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let kem = match one_time_kem {
        Some((id, key, sig)) => {
            tx.execute(
                "UPDATE one_time_kem_prekeys SET key = NULL, signature = NULL
                 WHERE identity = ?1 AND id = ?2",
                params![device.as_slice(), id],
            )?;
            (id, KemPreKeyKind::OneTime, key, sig)
        }
        None => {
            let last: Option<(u32, Vec<u8>, Vec<u8>)> = tx
                .query_row(
                    "SELECT id, key, signature FROM last_resort_kem_prekeys WHERE identity = ?1",
                    params![device.as_slice()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((id, key, sig)) = last else {
                return Ok(None);
            };
            (id, KemPreKeyKind::LastResort, key, sig)
        }
    };
    Ok(assemble_bundle(identity_key, signed, otk, kem))
}
