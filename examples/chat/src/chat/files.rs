//! Files: encrypt as it streams (hushwire's attachments, SPEC.md §16), upload the object to
//! the relay's blob store in parts, send the pointer inside an end-to-end message; on the
//! other side fetch the object by ranges and release only verified bytes.
//!
//! Memory stays bounded whatever the file size: one read buffer, at most one upload part plus
//! one chunk of ciphertext, one download range.

use std::io::{Read, Write};

use hushwire::attachment::{
    AttachmentDecryptor, AttachmentEncryptor, AttachmentPointer, ChunkSize, MAX_ATTACHMENT_LEN,
    ciphertext_len,
};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::{BoxError, Peer, Sent};
use crate::body;
use crate::client::{BlobId, RelayClient};
use crate::relay::blobs::{MAX_BLOB_PART, MAX_BLOB_READ};
use crate::unix_now;

/// Bytes read from the file at a time.
const READ_PIECE: usize = 64 * 1024;

/// Told how far a transfer got: bytes done and bytes in all (of the object on the relay).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// A file sent: the message with its pointer, and the blob on the relay.
pub struct SentFile {
    pub sent: Sent,
    pub blob: BlobId,
    /// Bytes stored on the relay (the padded, encrypted object).
    pub object_len: u64,
    /// The SHA-256 of the object (what the relay checked at the end of the upload).
    pub object_sha256: [u8; 32],
}

/// A content type from a file name's extension (what the receiver is told the file is).
pub fn content_type_for(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

impl Peer {
    /// Encrypts `len` bytes read from `file` as an attachment named `file_name`, uploads the
    /// object to the relay in parts as it is produced, and sends `to` the pointer (with the
    /// blob id) in an end-to-end message. `progress` is called after every part.
    ///
    /// # Errors
    /// The relay's refusals (`BlobTooLarge`, `QuotaExceeded`), a file that does not have
    /// `len` bytes (changed while sent), and the errors of [`Peer::send_body`]. An upload cut
    /// short is never made downloadable (the relay expires it).
    #[allow(clippy::too_many_arguments)]
    pub async fn send_file<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        to: &str,
        file: &mut dyn Read,
        len: u64,
        file_name: &str,
        progress: Progress<'_>,
        rng: &mut R,
    ) -> Result<SentFile, BoxError> {
        if len > MAX_ATTACHMENT_LEN {
            return Err(format!("the file is larger than {MAX_ATTACHMENT_LEN} bytes").into());
        }
        // Resolve the peer first: no upload for a name nobody registered.
        self.resolve(client, to, unix_now()).await?;
        let object_len = ciphertext_len(len, ChunkSize::DEFAULT);
        let blob = client.blob_begin(object_len).await?;
        let mut encryptor = AttachmentEncryptor::new(rng);
        let mut pending = Vec::with_capacity(MAX_BLOB_PART + 2 * READ_PIECE);
        let mut piece = Zeroizing::new(vec![0u8; READ_PIECE]);
        let mut read = 0u64;
        let mut uploaded = 0u64;
        loop {
            let n = file.read(&mut piece)?;
            let Some(bytes) = piece.get(..n).filter(|b| !b.is_empty()) else {
                break;
            };
            read += u64::try_from(n)?;
            if read > len {
                return Err("the file grew while it was being sent".into());
            }
            encryptor.push(bytes, &mut pending)?;
            while pending.len() >= MAX_BLOB_PART {
                let rest = pending.split_off(MAX_BLOB_PART);
                let part = std::mem::replace(&mut pending, rest);
                uploaded = upload(client, blob, uploaded, part).await?;
                progress(uploaded, object_len);
            }
        }
        if read != len {
            return Err("the file shrank while it was being sent".into());
        }
        let mut pointer = encryptor.finish(&mut pending)?;
        for part in pending.chunks(MAX_BLOB_PART) {
            uploaded = upload(client, blob, uploaded, part.to_vec()).await?;
            progress(uploaded, object_len);
        }
        let object_sha256 = *pointer.ciphertext_sha256();
        client.blob_end(blob, object_sha256).await?;
        // A name hushwire refuses (a path separator, bidirectional controls, ...) is not sent.
        if pointer.set_file_name(file_name).is_err() {
            pointer.set_file_name("attachment")?;
        }
        pointer.set_content_type(content_type_for(file_name))?;
        let message = body::file(&blob, &pointer);
        let sent = self
            .send_body(client, to, &message, unix_now(), rng)
            .await?;
        Ok(SentFile {
            sent,
            blob,
            object_len,
            object_sha256,
        })
    }

    /// Downloads the object of `pointer` from the relay blob `blob` in ranges and writes the
    /// file to `out`, each chunk only after it verified. Returns the bytes written.
    ///
    /// # Errors
    /// The relay's refusals (`NoSuchBlob`: expired), and hushwire's
    /// [`hushwire::attachment::AttachmentError`] for a tampered, reordered or truncated
    /// object (bytes already written came from verified chunks; the caller deletes the
    /// partial file).
    pub async fn fetch_file(
        &self,
        client: &mut RelayClient,
        blob: BlobId,
        pointer: &AttachmentPointer,
        out: &mut dyn Write,
        progress: Progress<'_>,
    ) -> Result<u64, BoxError> {
        fetch(client, blob, pointer, out, progress).await
    }
}

async fn upload(
    client: &mut RelayClient,
    blob: BlobId,
    offset: u64,
    part: Vec<u8>,
) -> Result<u64, BoxError> {
    let end = offset + u64::try_from(part.len())?;
    client.blob_put(blob, offset, part).await?;
    Ok(end)
}

/// See [`Peer::fetch_file`] (it needs no account).
pub(crate) async fn fetch(
    client: &mut RelayClient,
    blob: BlobId,
    pointer: &AttachmentPointer,
    out: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<u64, BoxError> {
    let total = pointer.ciphertext_len();
    let mut decryptor = AttachmentDecryptor::new(pointer);
    let mut plaintext = Zeroizing::new(Vec::new());
    let mut written = 0u64;
    let mut offset = 0u64;
    while offset < total {
        let len = u32::try_from((total - offset).min(u64::from(MAX_BLOB_READ)))?;
        let bytes = client.blob_get(blob, offset, len).await?;
        decryptor.push(&bytes, &mut plaintext)?;
        out.write_all(&plaintext)?;
        written += u64::try_from(plaintext.len())?;
        plaintext.clear();
        offset += u64::from(len);
        progress(offset, total);
    }
    decryptor.finish().map_err(|(_, e)| e)?;
    out.flush()?;
    Ok(written)
}
