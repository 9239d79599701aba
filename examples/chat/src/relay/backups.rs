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
//! - **Atomic replace**: an upload replaces the stored backup in one statement (SQLite or
//!   PostgreSQL, see [`super::store`]); a reader sees the old backup or the new one, never a
//!   mix.

use super::{Conn, RelayError, RelayHandle};
use crate::frame::{ErrorCode, Frame, MAX_STORED_BACKUP_LEN};

impl Conn {
    /// Stores `backup` as the backup of the name `device` holds, replacing the stored one.
    pub(super) async fn put_backup(
        &mut self,
        device: [u8; 32],
        backup: &[u8],
    ) -> Result<Frame, ErrorCode> {
        if backup.len() > MAX_STORED_BACKUP_LEN {
            return Err(ErrorCode::BackupTooLarge);
        }
        let stored = self.shared.store.put_backup(&device, backup).await;
        let name = stored
            .map_err(|_| ErrorCode::Internal)?
            .ok_or(ErrorCode::Invalid)?;
        self.shared.log(format_args!(
            "conn #{}: stored a backup of {} B for {name}",
            self.id,
            backup.len()
        ));
        Ok(Frame::Ok)
    }

    /// The backup of the name `device` holds.
    pub(super) async fn get_backup(&mut self, device: [u8; 32]) -> Result<Frame, ErrorCode> {
        let backup = self.shared.store.get_backup(&device).await;
        let backup = backup
            .map_err(|_| ErrorCode::Internal)?
            .ok_or(ErrorCode::Invalid)?;
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
    /// [`RelayError::Db`] or [`RelayError::Poisoned`] (or the PostgreSQL store's errors).
    pub fn backup_of(&self, name: &str) -> Result<Option<Vec<u8>>, RelayError> {
        let store = &self.shared.store;
        store.block_on(store.backup_of(name))
    }
}
