//! The streaming encryptor and decryptor, and random access to single chunks and byte ranges
//! (SPEC.md §16.5).

use core::ops::Range;

use aead_stream::StreamPrimitive;
use aead_stream::aead::Buffer;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::AttachmentError;
use super::header::{ATTACHMENT_HEADER_LEN, ChunkCipher, ChunkSize, FileSecrets, parse_header};
use super::padding::{CHUNK_TAG_LEN, Layout, MAX_ATTACHMENT_LEN, TRAILER_LEN};
use super::pointer::AttachmentPointer;

/// How many positions before and after a chunk that fails authentication are tried, to tell
/// a reordered or duplicated chunk from an altered one (SPEC.md §16.5.4).
pub const REORDER_SEARCH_WINDOW: u64 = 8;

/// A length from the layout as a `usize` (every chunk fits; saturates on 16-bit targets).
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Empties a plaintext buffer, zeroizing its bytes but keeping its allocation.
trait ClearZeroized {
    fn clear_zeroized(&mut self);
}

impl ClearZeroized for Vec<u8> {
    fn clear_zeroized(&mut self) {
        self.as_mut_slice().zeroize();
        self.clear();
    }
}

/// Zeroizes and removes everything of `out` from `start` on.
fn wipe_from(out: &mut Vec<u8>, start: usize) {
    if let Some(tail) = out.get_mut(start..) {
        tail.zeroize();
    }
    out.truncate(start);
}

/// The tail of a caller's buffer, from `start` on, as the in-place buffer of the AEAD.
struct Tail<'a> {
    vec: &'a mut Vec<u8>,
    start: usize,
}

impl AsRef<[u8]> for Tail<'_> {
    fn as_ref(&self) -> &[u8] {
        self.vec.get(self.start..).unwrap_or_default()
    }
}

impl AsMut<[u8]> for Tail<'_> {
    fn as_mut(&mut self) -> &mut [u8] {
        self.vec.get_mut(self.start..).unwrap_or_default()
    }
}

impl Buffer for Tail<'_> {
    fn extend_from_slice(&mut self, other: &[u8]) -> aead_stream::aead::Result<()> {
        self.vec.extend_from_slice(other);
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        self.vec.truncate(self.start.saturating_add(len));
    }
}

/// Encrypts one file as it streams through: [`push`](Self::push) plaintext in pieces of any
/// size, then [`finish`](Self::finish). Ciphertext is appended to the caller's buffer as soon
/// as each chunk is complete; the encryptor itself holds less than one chunk of plaintext.
///
/// ```
/// use hushwire::attachment::{AttachmentEncryptor, AttachmentDecryptor};
/// # fn main() -> Result<(), hushwire::attachment::AttachmentError> {
/// let mut rng = chacha20::ChaCha20Rng::from_seed([7; 32]);
/// # use rand_core::SeedableRng;
/// let mut encryptor = AttachmentEncryptor::new(&mut rng);
/// let mut stored = Vec::new(); // in an app: upload each piece, then clear it
/// for piece in [&b"%PDF-1.7 invoice "[..], b"no. 1042, total 99 EUR"] {
///     encryptor.push(piece, &mut stored)?;
/// }
/// let pointer = encryptor.finish(&mut stored)?;
///
/// let mut decryptor = AttachmentDecryptor::new(&pointer);
/// let mut file = Vec::new();
/// decryptor.push(&stored, &mut file)?;
/// decryptor.finish().map_err(|(_, e)| e)?;
/// assert_eq!(file, b"%PDF-1.7 invoice no. 1042, total 99 EUR");
/// # Ok(())
/// # }
/// ```
pub struct AttachmentEncryptor {
    secrets: FileSecrets,
    header: [u8; ATTACHMENT_HEADER_LEN],
    cipher: ChunkCipher,
    /// Plaintext of the chunk being filled: always shorter than a chunk.
    pending: Zeroizing<Vec<u8>>,
    plaintext_len: u64,
    next_chunk: u64,
    header_written: bool,
    digest: Sha256,
    /// Set by the first `finish_chunk`: no more plaintext.
    finishing: Option<Layout>,
    done: bool,
}

impl AttachmentEncryptor {
    /// A new file with the default chunk size (64 KiB), its key and salt drawn from `rng`.
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::with_chunk_size(ChunkSize::DEFAULT, rng)
    }

    /// A new file with the given chunk size (the unit of random access and of the memory
    /// the decryptor needs), its key and salt drawn from `rng`.
    pub fn with_chunk_size<R: CryptoRng + ?Sized>(chunk_size: ChunkSize, rng: &mut R) -> Self {
        let secrets = FileSecrets::generate(chunk_size, rng);
        AttachmentEncryptor {
            header: secrets.header(),
            cipher: secrets.cipher(),
            secrets,
            // Never longer than a chunk less one byte: allocated once.
            pending: Zeroizing::new(Vec::with_capacity(chunk_size.bytes())),
            plaintext_len: 0,
            next_chunk: 0,
            header_written: false,
            digest: Sha256::new(),
            finishing: None,
            done: false,
        }
    }

    /// The chunk size of this file.
    pub fn chunk_size(&self) -> ChunkSize {
        self.secrets.chunk_size
    }

    /// Plaintext bytes pushed so far.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Adds `plaintext` to the file and appends to `out` the ciphertext now ready: the header
    /// on the first call, then every chunk that is complete.
    ///
    /// # Errors
    /// [`AttachmentError::TooLarge`] if the file would exceed [`MAX_ATTACHMENT_LEN`];
    /// [`AttachmentError::Finished`] after [`finish_chunk`](Self::finish_chunk). Nothing
    /// changes on error.
    pub fn push(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        if self.finishing.is_some() {
            return Err(AttachmentError::Finished);
        }
        let len = self.plaintext_len.saturating_add(to_u64(plaintext.len()));
        if len > MAX_ATTACHMENT_LEN {
            return Err(AttachmentError::TooLarge {
                len,
                max: MAX_ATTACHMENT_LEN,
            });
        }
        self.write_header(out);
        let size = self.secrets.chunk_size.bytes();
        let mut rest = plaintext;
        // A chunk made only of file bytes is never the final one (the trailer comes after
        // them), so it is sealed as soon as it is full.
        if !self.pending.is_empty() {
            let need = size.saturating_sub(self.pending.len());
            if rest.len() < need {
                self.pending.extend_from_slice(rest);
                self.plaintext_len = len;
                return Ok(());
            }
            let (head, tail) = rest.split_at(need);
            let start = out.len();
            out.reserve(size.saturating_add(CHUNK_TAG_LEN));
            out.extend_from_slice(&self.pending);
            out.extend_from_slice(head);
            self.pending.clear_zeroized();
            self.seal_next(false, out, start);
            rest = tail;
        }
        while rest.len() >= size {
            let (head, tail) = rest.split_at(size);
            let start = out.len();
            out.reserve(size.saturating_add(CHUNK_TAG_LEN));
            out.extend_from_slice(head);
            self.seal_next(false, out, start);
            rest = tail;
        }
        self.pending.extend_from_slice(rest);
        self.plaintext_len = len;
        Ok(())
    }

    /// Ends the file, appending to `out` at most one more chunk: the rest of the file, zero
    /// padding, and in the final chunk the length trailer. Returns the pointer with the final
    /// chunk, `None` before it. Call it until it returns the pointer, emptying `out` between
    /// calls to keep memory at two chunks whatever the padding (up to 1/32 of the file).
    ///
    /// # Errors
    /// [`AttachmentError::Finished`] once the pointer was returned. Nothing changes on error.
    pub fn finish_chunk(
        &mut self,
        out: &mut Vec<u8>,
    ) -> Result<Option<AttachmentPointer>, AttachmentError> {
        if self.done {
            return Err(AttachmentError::Finished);
        }
        self.write_header(out);
        let layout = *self
            .finishing
            .get_or_insert(Layout::new(self.plaintext_len, self.secrets.chunk_size));
        let index = self.next_chunk;
        let plain_len = to_usize(layout.plain_len(index));
        let last = layout.is_last(index);
        let start = out.len();
        out.reserve(plain_len.saturating_add(CHUNK_TAG_LEN));
        out.extend_from_slice(&self.pending);
        self.pending.clear_zeroized();
        out.resize(start.saturating_add(plain_len), 0);
        if last {
            let at = out.len().saturating_sub(TRAILER_LEN);
            if let Some(trailer) = out.get_mut(at..) {
                trailer.copy_from_slice(&self.plaintext_len.to_be_bytes());
            }
        }
        self.seal_next(last, out, start);
        if !last {
            return Ok(None);
        }
        self.done = true;
        let digest: [u8; 32] = core::mem::take(&mut self.digest).finalize().into();
        Ok(Some(AttachmentPointer::new(
            self.secrets.clone(),
            digest,
            self.plaintext_len,
        )))
    }

    /// Ends the file and appends all the remaining ciphertext to `out` (the padding adds up to
    /// 1/32 of the file; use [`finish_chunk`](Self::finish_chunk) to take it a chunk at a
    /// time). Returns the pointer to send inside a message.
    ///
    /// # Errors
    /// [`AttachmentError::Finished`] if [`finish_chunk`](Self::finish_chunk) already returned
    /// the pointer.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<AttachmentPointer, AttachmentError> {
        loop {
            if let Some(pointer) = self.finish_chunk(out)? {
                return Ok(pointer);
            }
        }
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            out.extend_from_slice(&self.header);
            self.digest.update(self.header);
            self.header_written = true;
        }
    }

    /// Seals the stream bytes in `out[start..]` as the next chunk, in place, and hashes it.
    fn seal_next(&mut self, last: bool, out: &mut Vec<u8>, start: usize) {
        // Cannot fail: the counter stays below 2^32 (MAX_ATTACHMENT_LEN / 4 KiB chunks is
        // 2^24), a chunk is at most 4 MiB (XChaCha20 refuses 256 GiB), and `Tail` grows.
        let position = u32::try_from(self.next_chunk).unwrap_or(u32::MAX);
        let _ = self.cipher.encrypt_in_place(
            position,
            last,
            &self.header,
            &mut Tail { vec: out, start },
        );
        self.digest.update(out.get(start..).unwrap_or_default());
        self.next_chunk = self.next_chunk.saturating_add(1);
    }
}

impl core::fmt::Debug for AttachmentEncryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AttachmentEncryptor")
            .field("chunk_size", &self.secrets.chunk_size.bytes())
            .field("plaintext_len", &self.plaintext_len)
            .field("chunks_written", &self.next_chunk)
            .field("finished", &self.done)
            .finish_non_exhaustive()
    }
}

/// Random access to one file: decrypts chunk `k`, or a byte range, alone (for video seeking
/// and resumed downloads). Needs only the pointer and the chunks' bytes, not the header.
pub struct AttachmentReader {
    layout: Layout,
    header: [u8; ATTACHMENT_HEADER_LEN],
    cipher: ChunkCipher,
}

impl AttachmentReader {
    /// The reader of the file `pointer` names.
    pub fn new(pointer: &AttachmentPointer) -> Self {
        let secrets = pointer.secrets();
        AttachmentReader {
            layout: pointer.layout(),
            header: secrets.header(),
            cipher: secrets.cipher(),
        }
    }

    /// Decrypts chunk `index` alone and appends its file bytes to `out` (none for a chunk of
    /// padding only). `chunk` is exactly the object's bytes
    /// [`AttachmentPointer::chunk_range`]`(index)`.
    ///
    /// # Errors
    /// [`AttachmentError::ChunkOutOfRange`], [`AttachmentError::CiphertextLength`], or the
    /// chunk's own failure: `ChunkTampered`, `ChunkReordered`, `ChunkDuplicated` (another
    /// chunk of this file stands there), `InvalidPadding`, `LengthMismatch` (final chunk).
    /// `out` is unchanged on error.
    pub fn decrypt_chunk(
        &self,
        index: u64,
        chunk: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), AttachmentError> {
        if index >= self.layout.chunks {
            return Err(AttachmentError::ChunkOutOfRange {
                index,
                chunks: self.layout.chunks,
            });
        }
        let expected = self.layout.sealed_len(index);
        if to_u64(chunk.len()) != expected {
            return Err(AttachmentError::CiphertextLength {
                len: to_u64(chunk.len()),
                expected,
            });
        }
        let start = out.len();
        out.extend_from_slice(chunk);
        self.open(index, out, start)
    }

    /// Decrypts the file bytes `range` and appends exactly them to `out`. `ciphertext` is
    /// exactly the object's bytes [`AttachmentPointer::ciphertext_range`]`(range)`: the
    /// chunks that hold them, each verified.
    ///
    /// # Errors
    /// [`AttachmentError::RangeOutOfBounds`], [`AttachmentError::CiphertextLength`], or the
    /// first failing chunk's error as in [`decrypt_chunk`](Self::decrypt_chunk). `out` is
    /// unchanged on error.
    pub fn decrypt_range(
        &self,
        range: Range<u64>,
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), AttachmentError> {
        let chunks = self.layout.chunks_for(range.clone())?;
        if chunks.is_empty() {
            return match ciphertext.len() {
                0 => Ok(()),
                len => Err(AttachmentError::CiphertextLength {
                    len: to_u64(len),
                    expected: 0,
                }),
            };
        }
        let expected = self.layout.object_span(chunks.clone());
        if to_u64(ciphertext.len()) != expected.end - expected.start {
            return Err(AttachmentError::CiphertextLength {
                len: to_u64(ciphertext.len()),
                expected: expected.end - expected.start,
            });
        }
        let entry = out.len();
        let mut rest = ciphertext;
        for index in chunks.clone() {
            let (chunk, tail) =
                rest.split_at(to_usize(self.layout.sealed_len(index)).min(rest.len()));
            rest = tail;
            let start = out.len();
            out.extend_from_slice(chunk);
            if let Err(e) = self.open(index, out, start) {
                wipe_from(out, entry);
                return Err(e);
            }
        }
        // `out[entry..]` holds the file from the first chunk's start: keep `range` only.
        let skip = to_usize(range.start - self.layout.stream_offset(chunks.start));
        let want = to_usize(range.end - range.start);
        let from = entry.saturating_add(skip);
        let to = from.saturating_add(want);
        if to > out.len() {
            // Cannot happen: the chunks decrypted hold the whole range.
            wipe_from(out, entry);
            return Err(AttachmentError::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len: self.layout.plaintext_len,
            });
        }
        out.copy_within(from..to, entry);
        wipe_from(out, entry.saturating_add(want));
        Ok(())
    }

    /// Checks an object header against the pointer's.
    fn check_header(&self, header: &[u8]) -> Result<(), AttachmentError> {
        parse_header(header)?;
        if header == self.header {
            Ok(())
        } else {
            Err(AttachmentError::HeaderMismatch)
        }
    }

    /// Opens the sealed chunk `index` held in `out[start..]`, leaving there its file bytes
    /// only. On error `out` is cut back to `start` (what it held there zeroized).
    fn open(&self, index: u64, out: &mut Vec<u8>, start: usize) -> Result<(), AttachmentError> {
        let result = self.open_in_place(index, out, start);
        match result {
            Ok(data_len) => {
                out.truncate(start.saturating_add(data_len));
                Ok(())
            }
            Err(e) => {
                wipe_from(out, start);
                Err(e)
            }
        }
    }

    fn try_decrypt(&self, index: u64, out: &mut Vec<u8>, start: usize) -> bool {
        let Ok(position) = u32::try_from(index) else {
            return false;
        };
        self.cipher
            .decrypt_in_place(
                position,
                self.layout.is_last(index),
                &self.header,
                &mut Tail { vec: out, start },
            )
            .is_ok()
    }

    /// Decrypts in place and checks padding and trailer; returns the chunk's file bytes.
    fn open_in_place(
        &self,
        index: u64,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<usize, AttachmentError> {
        if !self.try_decrypt(index, out, start) {
            return Err(self.diagnose(index, out, start));
        }
        let plain = out.get(start..).unwrap_or_default();
        let data_len = to_usize(self.layout.data_len(index));
        let last = self.layout.is_last(index);
        let padding_end = if last {
            plain.len().saturating_sub(TRAILER_LEN)
        } else {
            plain.len()
        };
        let padding = plain.get(data_len..padding_end).unwrap_or_default();
        if padding.iter().any(|&b| b != 0) {
            return Err(AttachmentError::InvalidPadding { index });
        }
        if last {
            let mut trailer = [0u8; TRAILER_LEN];
            trailer.copy_from_slice(plain.get(padding_end..).unwrap_or(&[0; TRAILER_LEN]));
            let stream = u64::from_be_bytes(trailer);
            if stream != self.layout.plaintext_len {
                return Err(AttachmentError::LengthMismatch {
                    pointer: self.layout.plaintext_len,
                    stream,
                });
            }
        }
        Ok(data_len)
    }

    /// Names the failure of chunk `index`: another chunk of this file within
    /// [`REORDER_SEARCH_WINDOW`] positions (nearest first, earlier before later), or tampering.
    fn diagnose(&self, index: u64, out: &mut Vec<u8>, start: usize) -> AttachmentError {
        for distance in 1..=REORDER_SEARCH_WINDOW {
            let before = index.checked_sub(distance);
            let after = index
                .checked_add(distance)
                .filter(|&j| j < self.layout.chunks);
            for found in [before, after].into_iter().flatten() {
                if self.try_decrypt(found, out, start) {
                    wipe_from(out, start);
                    return if found < index {
                        AttachmentError::ChunkDuplicated { index, found }
                    } else {
                        AttachmentError::ChunkReordered { index, found }
                    };
                }
            }
        }
        AttachmentError::ChunkTampered { index }
    }
}

impl core::fmt::Debug for AttachmentReader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AttachmentReader")
            .field("plaintext_len", &self.layout.plaintext_len)
            .field("chunks", &self.layout.chunks)
            .finish_non_exhaustive()
    }
}

/// Decrypts one file as its stored object streams in: [`push`](Self::push) the object's bytes
/// in pieces of any size, in order; each chunk's file bytes are appended to the caller's
/// buffer only once that chunk verified. [`finish`](Self::finish) then says whether the file
/// is complete: an object that ends early is an error, never a short file. Holds less than
/// one chunk of ciphertext.
pub struct AttachmentDecryptor {
    /// Boxed: the decryptor travels back in `finish`'s error.
    reader: Box<AttachmentReader>,
    /// Object bytes after `received`: a partial header or chunk.
    pending: Vec<u8>,
    /// Object bytes verified (the header, then whole chunks).
    received: u64,
    next_chunk: u64,
}

impl AttachmentDecryptor {
    /// The decryptor of the file `pointer` names.
    pub fn new(pointer: &AttachmentPointer) -> Self {
        AttachmentDecryptor {
            // Never longer than a sealed chunk less one byte: allocated once.
            pending: Vec::with_capacity(pointer.chunk_size().bytes().saturating_add(CHUNK_TAG_LEN)),
            reader: Box::new(AttachmentReader::new(pointer)),
            received: 0,
            next_chunk: 0,
        }
    }

    /// Object bytes taken so far (the offset to resume a download from).
    pub fn position(&self) -> u64 {
        self.received.saturating_add(to_u64(self.pending.len()))
    }

    /// Whether the final chunk verified: the whole file was released.
    pub fn is_complete(&self) -> bool {
        self.next_chunk == self.reader.layout.chunks
    }

    /// Takes the next `ciphertext` bytes of the object and appends to `out` the file bytes of
    /// every chunk this completes, each verified.
    ///
    /// # Errors
    /// [`AttachmentError::TrailingData`] past the object's length; for the header
    /// `Malformed` or `HeaderMismatch`; for a chunk `ChunkTampered`, `ChunkReordered`,
    /// `ChunkDuplicated`, `InvalidPadding` or `LengthMismatch`. On error nothing changes:
    /// `out` is as before (what this call had appended is zeroized) and the decryptor still
    /// expects the bytes from [`position`](Self::position) on, so the right bytes can be
    /// pushed again.
    pub fn push(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        let expected = self.reader.layout.object_len();
        let len = self.position().saturating_add(to_u64(ciphertext.len()));
        if len > expected {
            return Err(AttachmentError::TrailingData { len, expected });
        }
        let entry = out.len();
        let result = self.take(ciphertext, out);
        if result.is_err() {
            wipe_from(out, entry);
        }
        result
    }

    /// Checks that the whole file arrived.
    ///
    /// # Errors
    /// [`AttachmentError::MissingFinalChunk`] if every chunk but the final one verified and
    /// nothing more came; [`AttachmentError::Truncated`] if the object ended earlier or inside
    /// a chunk. The decryptor comes back with the error, unchanged: push the rest (for
    /// example a resumed download from [`position`](Self::position)) and finish again.
    pub fn finish(self) -> Result<(), (Self, AttachmentError)> {
        let layout = self.reader.layout;
        if self.is_complete() {
            return Ok(());
        }
        let error = if self.pending.is_empty()
            && self.received >= to_u64(ATTACHMENT_HEADER_LEN)
            && self.next_chunk.saturating_add(1) == layout.chunks
        {
            AttachmentError::MissingFinalChunk {
                chunks: layout.chunks,
            }
        } else {
            AttachmentError::Truncated {
                len: self.position(),
                expected: layout.object_len(),
            }
        };
        Err((self, error))
    }

    /// The work of `push`, committed only at the end; `out` is cleaned up by the caller.
    fn take(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        let layout = self.reader.layout;
        let mut received = self.received;
        let mut next = self.next_chunk;
        let mut rest = ciphertext;
        // Bytes of `self.pending` in front of `rest`, not yet used.
        let mut carried = self.pending.len();
        if received < to_u64(ATTACHMENT_HEADER_LEN) {
            let need = ATTACHMENT_HEADER_LEN.saturating_sub(carried);
            if rest.len() < need {
                self.pending.extend_from_slice(rest);
                return Ok(());
            }
            let (head, tail) = rest.split_at(need);
            let mut header = [0u8; ATTACHMENT_HEADER_LEN];
            let (front, back) = header.split_at_mut(carried.min(ATTACHMENT_HEADER_LEN));
            front.copy_from_slice(self.pending.get(..front.len()).unwrap_or_default());
            back.copy_from_slice(head.get(..back.len()).unwrap_or_default());
            self.reader.check_header(&header)?;
            received = to_u64(ATTACHMENT_HEADER_LEN);
            rest = tail;
            carried = 0;
        }
        while next < layout.chunks {
            let need = to_usize(layout.sealed_len(next)).saturating_sub(carried);
            if rest.len() < need {
                break;
            }
            let (head, tail) = rest.split_at(need);
            let start = out.len();
            out.reserve(need.saturating_add(carried));
            if carried > 0 {
                out.extend_from_slice(&self.pending);
            }
            out.extend_from_slice(head);
            self.reader.open(next, out, start)?;
            received = received.saturating_add(layout.sealed_len(next));
            next = next.saturating_add(1);
            rest = tail;
            carried = 0;
        }
        if carried == 0 {
            self.pending.clear();
        }
        self.pending.extend_from_slice(rest);
        self.received = received;
        self.next_chunk = next;
        Ok(())
    }
}

impl core::fmt::Debug for AttachmentDecryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AttachmentDecryptor")
            .field("plaintext_len", &self.reader.layout.plaintext_len)
            .field("chunks", &self.reader.layout.chunks)
            .field("chunks_verified", &self.next_chunk)
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The length limit, at and one past its edge (a 64 GiB file is not pushed for real).
    #[test]
    fn push_refuses_more_than_the_maximum_and_changes_nothing() {
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1);
        let mut encryptor = AttachmentEncryptor::with_chunk_size(ChunkSize::DEFAULT, &mut rng);
        let mut out = Vec::new();
        encryptor.push(b"abc", &mut out).unwrap();
        // As if the file had reached 3 bytes short of the limit.
        encryptor.plaintext_len = MAX_ATTACHMENT_LEN - 3;
        let before = format!("{encryptor:?}");
        let out_before = out.clone();
        assert_eq!(
            encryptor.push(b"four", &mut out),
            Err(AttachmentError::TooLarge {
                len: MAX_ATTACHMENT_LEN + 1,
                max: MAX_ATTACHMENT_LEN
            })
        );
        assert_eq!(format!("{encryptor:?}"), before);
        assert_eq!(out, out_before);
        encryptor.push(b"end", &mut out).unwrap();
        assert_eq!(encryptor.plaintext_len(), MAX_ATTACHMENT_LEN);
        assert_eq!(
            encryptor.push(b"x", &mut out),
            Err(AttachmentError::TooLarge {
                len: MAX_ATTACHMENT_LEN + 1,
                max: MAX_ATTACHMENT_LEN
            })
        );
    }
}
