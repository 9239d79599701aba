//! The client side of the relay's blob store (`relay::blobs`): upload in parts, download by
//! range. Bytes only: the attachment encryption is in `chat::files`.

use super::{ClientError, RelayClient};
use crate::frame::{BLOB_ID_LEN, Frame};

/// A blob's id on the relay: 16 random bytes, the capability to download it.
pub type BlobId = [u8; BLOB_ID_LEN];

impl RelayClient {
    /// Announces an upload of `len` bytes; the relay checks its size limit and this device's
    /// quota before storing anything, and returns the new blob's id.
    ///
    /// # Errors
    /// [`ClientError::Relay`] with `BlobTooLarge`, `QuotaExceeded` or `Full` (too many
    /// uploads under way on this connection), and the connection's errors.
    pub async fn blob_begin(&mut self, len: u64) -> Result<BlobId, ClientError> {
        match self.request(Frame::BlobBegin { len }).await? {
            Frame::BlobId(id) => Ok(id),
            _ => Err(ClientError::Protocol("expected a blob id")),
        }
    }

    /// Appends `data` at `offset` (the bytes uploaded so far) to the upload `id`, begun on
    /// this connection.
    ///
    /// # Errors
    /// [`ClientError::Relay`] with `BadRange` (not the next offset, or past the announced
    /// length), `BlobTooLarge` (a part above `MAX_BLOB_PART`) or `NoSuchBlob` (expired).
    pub async fn blob_put(
        &mut self,
        id: BlobId,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<(), ClientError> {
        self.expect_ok(Frame::BlobPut { id, offset, data }).await
    }

    /// Ends the upload `id`: the relay checks it got the announced length with this
    /// SHA-256, and from then on serves it.
    ///
    /// # Errors
    /// [`ClientError::Relay`] with `BadRange` (short, or another digest: the relay deleted
    /// the upload) or `NoSuchBlob`.
    pub async fn blob_end(&mut self, id: BlobId, sha256: [u8; 32]) -> Result<(), ClientError> {
        self.expect_ok(Frame::BlobEnd { id, sha256 }).await
    }

    /// Bytes `offset..offset + len` of the blob `id`.
    ///
    /// # Errors
    /// [`ClientError::Relay`] with `NoSuchBlob` (unknown, expired or unfinished), `BadRange`
    /// or `BlobTooLarge` (a range above `MAX_BLOB_READ`); [`ClientError::Protocol`] if the
    /// relay sent another length than asked for.
    pub async fn blob_get(
        &mut self,
        id: BlobId,
        offset: u64,
        len: u32,
    ) -> Result<Vec<u8>, ClientError> {
        match self.request(Frame::BlobGet { id, offset, len }).await? {
            Frame::BlobData(data) if u32::try_from(data.len()).ok() == Some(len) => Ok(data),
            Frame::BlobData(_) => Err(ClientError::Protocol("a blob range of another length")),
            _ => Err(ClientError::Protocol("expected blob data")),
        }
    }
}
