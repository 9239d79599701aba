//! The relay's backup store: one opaque backup per registered name (hushwire's encrypted key
//! backup, SPEC.md §18, which only the user's recovery key opens).
//!
//! - **Who**: a request acts on the name the signed-in device holds *now*, read from the
//!   `devices` table at the time of the request (not when the connection signed in), so a
//!   device whose name moved to another device (`Reregister`) can no longer read or replace
//!   the backup. A device without a name gets [`ErrorCode::Invalid`].
//! - **Kept across a takeover**: the backup belongs to the name, not the device. A device that
//!   takes the name over (`Reregister`, after the user lost the old one) reads it: that is the
//!   restore path. The relay cannot read it either way; someone who takes a name over without
//!   the recovery key gets bytes they cannot open (and could replace them, as they could
//!   already take the name: the example relay's names are first come, first served).
//! - **Size**: at most [`MAX_STORED_BACKUP_LEN`] bytes; a larger upload is refused with
//!   [`ErrorCode::BackupTooLarge`] and the stored backup stays.
//! - **Atomic replace**: an upload replaces the stored backup in one SQLite statement; a
//!   reader sees the old backup or the new one, never a mix.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Conn, RelayError, RelayHandle, unix_secs_i64};
use crate::frame::{ErrorCode, Frame, MAX_STORED_BACKUP_LEN};

pub(super) fn create_tables(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS backups (
             name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
             backup BLOB NOT NULL,
             stored_at INTEGER NOT NULL);",
    )
}

/// The name `device` holds now, if any.
fn current_name(db: &Connection, device: &[u8; 32]) -> Result<Option<String>, ErrorCode> {
    db.query_row(
        "SELECT name FROM devices WHERE identity = ?1",
        params![device.as_slice()],
        |r| r.get(0),
    )
    .optional()
    .map_err(|_| ErrorCode::Internal)
}

impl Conn {
    /// Stores `backup` as the backup of the name `device` holds, replacing the stored one.
    pub(super) fn put_backup(&self, device: [u8; 32], backup: &[u8]) -> Result<Frame, ErrorCode> {
        if backup.len() > MAX_STORED_BACKUP_LEN {
            return Err(ErrorCode::BackupTooLarge);
        }
        let db = self.shared.db().map_err(|_| ErrorCode::Internal)?;
        let name = current_name(&db, &device)?.ok_or(ErrorCode::Invalid)?;
        db.execute(
            "INSERT INTO backups (name, backup, stored_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET backup = excluded.backup,
                 stored_at = excluded.stored_at",
            params![name, backup, unix_secs_i64()],
        )
        .map_err(|_| ErrorCode::Internal)?;
        drop(db);
        self.shared.log(format_args!(
            "conn #{}: stored a backup of {} B for {name}",
            self.id,
            backup.len()
        ));
        Ok(Frame::Ok)
    }

    /// The backup of the name `device` holds.
    pub(super) fn get_backup(&self, device: [u8; 32]) -> Result<Frame, ErrorCode> {
        let db = self.shared.db().map_err(|_| ErrorCode::Internal)?;
        let name = current_name(&db, &device)?.ok_or(ErrorCode::Invalid)?;
        let backup: Option<Vec<u8>> = db
            .query_row(
                "SELECT backup FROM backups WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|_| ErrorCode::Internal)?;
        match backup {
            Some(b) if !b.is_empty() => Ok(Frame::Backup(b)),
            _ => Err(ErrorCode::NoBackup),
        }
    }
}

impl RelayHandle {
    /// The backup stored for `name` (for the demo's relay column and tests).
    ///
    /// # Errors
    /// [`RelayError::Db`] or [`RelayError::Poisoned`].
    pub fn backup_of(&self, name: &str) -> Result<Option<Vec<u8>>, RelayError> {
        let db = self.shared.db()?;
        Ok(db
            .query_row(
                "SELECT backup FROM backups WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }
}
