//! Encrypted file transfer: streaming, seekable attachments that no relay or CDN can read,
//! cut or splice (SPEC.md §16).
//!
//! A message tops out at `MAX_PLAINTEXT_LEN` and is encrypted in one piece; a screenshot, an
//! invoice or a 200 MB video is not. The app streams the file through an
//! [`AttachmentEncryptor`], uploads the ciphertext anywhere (its CDN, S3, the example relay),
//! and sends the small [`AttachmentPointer`] inside an ordinary encrypted message (1:1,
//! sealed or group). The receiver fetches the object and streams it through an
//! [`AttachmentDecryptor`], or reads single chunks and byte ranges with an
//! [`AttachmentReader`]. No I/O happens here.
//!
//! ```text
//!  sender                          CDN / relay (sees only this)            receiver
//!  AttachmentEncryptor::push ----> "HWAT" header || chunk 0 || ... ---->  AttachmentDecryptor
//!  ...finish -> AttachmentPointer   (length reveals only a bucket)         (or AttachmentReader)
//!  Session::encrypt(pointer.to_bytes()) ---- ordinary message -------->   AttachmentPointer::from_bytes
//! ```
//!
//! - **STREAM** (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over XChaCha20-Poly1305, from
//!   RustCrypto's `aead-stream`: chunk `i` is sealed under the nonce `prefix || u32be(i) ||
//!   last_flag`, with the object header as associated data, under a key derived from a fresh
//!   random file key and a random salt. Truncation, reordering, duplication, chunks of another
//!   file and a missing final chunk are each refused with their own error.
//! - **Bounded memory**: the encryptor and decryptor hold less than one chunk (64 KiB by
//!   default); plaintext is released only from verified chunks.
//! - **Random access**: any chunk or byte range decrypts alone, for seeking and resumed
//!   downloads.
//! - **Padding**: the object's length reveals only a bucket (at most 1/32 above the file,
//!   minimum 4 KiB); the true length travels in the pointer.
//!
//! ```
//! use hushwire::attachment::{self, AttachmentPointer};
//! # fn main() -> Result<(), hushwire::Error> {
//! let mut rng = chacha20::ChaCha20Rng::from_seed([1; 32]); // the OS RNG in an app
//! # use rand_core::SeedableRng;
//! let invoice = b"%PDF-1.7 ... invoice 1042 ... total 99.00 EUR".repeat(1_000);
//!
//! // Sender: encrypt, upload `object`, send `pointer.to_bytes()` inside a message.
//! let (object, mut pointer) = attachment::encrypt(&invoice, &mut rng)?;
//! pointer.set_content_type("application/pdf")?;
//! pointer.set_file_name("invoice-1042.pdf")?;
//! let message_body = pointer.to_bytes();
//! assert!(object.len() as u64 > invoice.len() as u64); // padded to its bucket
//!
//! // Receiver: decode the pointer from the decrypted message, fetch and check the object.
//! let pointer = AttachmentPointer::from_bytes(&message_body)?;
//! pointer.verify_digest(&object)?;
//! assert_eq!(attachment::decrypt(&pointer, &object)?, invoice);
//! assert_eq!(pointer.file_name(), "invoice-1042.pdf");
//! # Ok(())
//! # }
//! ```

mod error;
mod header;
mod padding;
mod pointer;
mod stream;

pub use error::AttachmentError;
pub use header::{
    ATTACHMENT_FORMAT_VERSION, ATTACHMENT_HEADER_LEN, ATTACHMENT_KEY_LEN, ATTACHMENT_MAGIC,
    ATTACHMENT_SALT_LEN, ChunkSize, DEFAULT_CHUNK_SIZE_LOG2, MAX_CHUNK_SIZE_LOG2,
    MIN_CHUNK_SIZE_LOG2,
};
pub use padding::{
    CHUNK_TAG_LEN, MAX_ATTACHMENT_LEN, MIN_PADDED_LEN, PADDING_PRECISION_BITS, TRAILER_LEN,
    ciphertext_len, padded_len,
};
pub use pointer::{
    AttachmentPointer, MAX_CONTENT_TYPE_LEN, MAX_FILE_NAME_LEN, MAX_POINTER_LEN, MAX_THUMBNAIL_LEN,
    POINTER_BASE_LEN,
};
pub use stream::{
    AttachmentDecryptor, AttachmentEncryptor, AttachmentReader, REORDER_SEARCH_WINDOW,
};

use rand_core::CryptoRng;

/// Encrypts a whole file held in memory, with the default chunk size: returns the object to
/// upload and the pointer to send. (For large files, stream them through an
/// [`AttachmentEncryptor`].)
///
/// # Errors
/// [`AttachmentError::TooLarge`] above [`MAX_ATTACHMENT_LEN`].
pub fn encrypt<R: CryptoRng + ?Sized>(
    plaintext: &[u8],
    rng: &mut R,
) -> Result<(Vec<u8>, AttachmentPointer), AttachmentError> {
    let mut encryptor = AttachmentEncryptor::new(rng);
    let mut object = Vec::with_capacity(
        usize::try_from(ciphertext_len(
            u64::try_from(plaintext.len()).unwrap_or(u64::MAX),
            ChunkSize::DEFAULT,
        ))
        .unwrap_or(0),
    );
    encryptor.push(plaintext, &mut object)?;
    let pointer = encryptor.finish(&mut object)?;
    Ok((object, pointer))
}

/// Decrypts a whole stored object held in memory.
///
/// # Errors
/// As [`AttachmentDecryptor::push`] and [`AttachmentDecryptor::finish`]: every chunk must
/// verify and the object must be complete.
pub fn decrypt(pointer: &AttachmentPointer, object: &[u8]) -> Result<Vec<u8>, AttachmentError> {
    let mut decryptor = AttachmentDecryptor::new(pointer);
    let capacity = usize::try_from(pointer.plaintext_len()).unwrap_or(0);
    let mut plaintext = Vec::with_capacity(capacity.min(object.len()));
    decryptor.push(object, &mut plaintext)?;
    decryptor.finish().map_err(|(_, e)| e)?;
    Ok(plaintext)
}
