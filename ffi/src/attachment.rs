//! Attachments (`hushwire::attachment`, SPEC.md §16): a file encrypted into an object to upload
//! anywhere, plus a small pointer (key, digest, lengths, content type, file name) to send
//! inside an ordinary encrypted message. One-shot calls for files held in memory, and
//! streaming handles (`hw_attachment_encryptor`, `hw_attachment_decryptor`) that hold less
//! than one chunk (64 KiB) whatever the file's size (the encryptor's final output carries
//! the padding, at most 1/32 of the file).

use std::sync::Mutex;

use hushwire::attachment::{
    self, AttachmentDecryptor, AttachmentEncryptor, AttachmentPointer, AttachmentReader, ChunkSize,
};

use crate::boundary::{
    Failure, Out, call, call_value, free_handle, handle, input, into_handle, lock,
};
use crate::{hw_bytes, hw_error, hw_status, rng, utf8};

/// A streaming attachment encryptor: push the file in pieces of any size, then finish it
/// for the pointer. Once finished it refuses further use (`HW_INVALID_INPUT`, code
/// `attachment.finished`). Thread-safe (internally locked).
#[allow(non_camel_case_types)]
pub struct hw_attachment_encryptor(Mutex<Option<AttachmentEncryptor>>);

/// A streaming attachment decryptor for the file one pointer names: push the object in
/// pieces of any size, in order, then finish it to check the file is complete. Thread-safe
/// (internally locked).
#[allow(non_camel_case_types)]
pub struct hw_attachment_decryptor(Mutex<Option<AttachmentDecryptor>>);

/// Sets the pointer's content type and file name (empty = not set), with the pointer's own
/// rules.
fn set_texts(
    pointer: &mut AttachmentPointer,
    content_type: &str,
    file_name: &str,
) -> Result<(), Failure> {
    if !content_type.is_empty() {
        pointer.set_content_type(content_type)?;
    }
    if !file_name.is_empty() {
        pointer.set_file_name(file_name)?;
    }
    Ok(())
}

/// Checks a content type and file name before a pointer exists (before an encryptor is
/// finished, which cannot be undone): the rules are applied to the pointer of an empty
/// throwaway file.
fn check_texts(content_type: &str, file_name: &str) -> Result<(), Failure> {
    if content_type.is_empty() && file_name.is_empty() {
        return Ok(());
    }
    let mut rng = rng::for_call()?;
    let (_, mut probe) = attachment::encrypt(&[], &mut rng)?;
    set_texts(&mut probe, content_type, file_name)
}

fn pointer_bytes(pointer: &AttachmentPointer) -> hw_bytes {
    hw_bytes::from_vec(std::mem::take(&mut *pointer.to_bytes()))
}

/// Encrypts a whole file held in memory: the object to upload goes to `object`, the encoded
/// pointer to send inside a message (it holds the key) to `pointer`. `content_type`
/// (printable ASCII, at most 128 bytes) and `file_name` (UTF-8, at most 255 bytes, no path
/// separators) are optional: length 0 leaves them unset. Non-UTF-8 text is
/// `HW_INVALID_ARGUMENT`; text breaking the pointer's rules `HW_INVALID_INPUT`.
///
/// # Safety
/// `plaintext` points to `plaintext_len` readable bytes, `content_type` to
/// `content_type_len`, `file_name` to `file_name_len`; `object` and `pointer` to writable
/// `hw_bytes`; `err` is NULL or points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_encrypt(
    plaintext: *const u8,
    plaintext_len: usize,
    content_type: *const u8,
    content_type_len: usize,
    file_name: *const u8,
    file_name_len: usize,
    object: *mut hw_bytes,
    pointer: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let plaintext = input(plaintext, plaintext_len, "plaintext")?;
        let content_type = utf8(content_type, content_type_len, "content_type")?;
        let file_name = utf8(file_name, file_name_len, "file_name")?;
        let object_out = Out::new(object, "object")?;
        let pointer_out = Out::new(pointer, "pointer")?;
        let mut rng = rng::for_call()?;
        let (object, mut pointer) = attachment::encrypt(plaintext, &mut rng)?;
        set_texts(&mut pointer, content_type, file_name)?;
        pointer_out.write(pointer_bytes(&pointer));
        object_out.write(hw_bytes::from_vec(object));
        Ok(())
    })
}

/// Decrypts a whole stored object held in memory with its `pointer` (as received inside a
/// message); the file goes to `out`. Every chunk is authenticated: an altered, cut,
/// reordered or foreign object is `HW_TAMPERED` (code `attachment.*`), a malformed pointer
/// `HW_MALFORMED`.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes, `object` to `object_len`; `out` to a
/// writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_decrypt(
    pointer: *const u8,
    pointer_len: usize,
    object: *const u8,
    object_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        let object = input(object, object_len, "object")?;
        let out = Out::new(out, "out")?;
        let plaintext = attachment::decrypt(&pointer, object)?;
        out.write(hw_bytes::from_vec(plaintext));
        Ok(())
    })
}

/// Decodes a pointer and writes what it says: the file's true length to `plaintext_len`,
/// the stored object's length (what to download) to `object_len`, its content type and file
/// name (UTF-8, empty if unset) to `content_type` and `file_name`. Every output may be NULL.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes; `plaintext_len` and `object_len` are
/// NULL or point to a writable `uint64_t`; `content_type` and `file_name` are NULL or point
/// to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_pointer_info(
    pointer: *const u8,
    pointer_len: usize,
    plaintext_len: *mut u64,
    object_len: *mut u64,
    content_type: *mut hw_bytes,
    file_name: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        if let Some(out) = Out::optional(plaintext_len) {
            out.write(pointer.plaintext_len());
        }
        if let Some(out) = Out::optional(object_len) {
            out.write(pointer.ciphertext_len());
        }
        if let Some(out) = Out::optional(content_type) {
            out.write(hw_bytes::from_vec(
                pointer.content_type().as_bytes().to_vec(),
            ));
        }
        if let Some(out) = Out::optional(file_name) {
            out.write(hw_bytes::from_vec(pointer.file_name().as_bytes().to_vec()));
        }
        Ok(())
    })
}

/// Writes the pointer's inline thumbnail (its format is the app's business) to `out`: an
/// empty buffer when it has none.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes; `out` to a writable `hw_bytes`; `err`
/// as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_pointer_thumbnail(
    pointer: *const u8,
    pointer_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        let out = Out::new(out, "out")?;
        out.write(hw_bytes::from_vec(
            pointer.thumbnail().unwrap_or_default().to_vec(),
        ));
        Ok(())
    })
}

/// Writes a copy of `pointer` carrying the inline `thumbnail` (at most the pointer's limit;
/// length 0 removes it) to `out`: the thumbnail travels inside the message that carries the
/// pointer, encrypted with it. `HW_INVALID_INPUT` (`attachment.field_too_long`) for a
/// larger one.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes, `thumbnail` to `thumbnail_len`; `out`
/// to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_pointer_set_thumbnail(
    pointer: *const u8,
    pointer_len: usize,
    thumbnail: *const u8,
    thumbnail_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let mut pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        let thumbnail = input(thumbnail, thumbnail_len, "thumbnail")?;
        let out = Out::new(out, "out")?;
        pointer.set_thumbnail(thumbnail)?;
        out.write(pointer_bytes(&pointer));
        Ok(())
    })
}

/// Random access: writes the range of object bytes to fetch (for example with an HTTP range
/// request) to read the file bytes `start ..< end`, as `object_start ..< object_end` (whole
/// chunks; empty for an empty range). `HW_INVALID_INPUT` (`attachment.range_out_of_bounds`)
/// unless `start <= end <=` the file's length.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes; `object_start` and `object_end` to
/// writable `uint64_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_object_range(
    pointer: *const u8,
    pointer_len: usize,
    start: u64,
    end: u64,
    object_start: *mut u64,
    object_end: *mut u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        let object_start = Out::new(object_start, "object_start")?;
        let object_end = Out::new(object_end, "object_end")?;
        let range = pointer.ciphertext_range(start..end)?;
        object_start.write(range.start);
        object_end.write(range.end);
        Ok(())
    })
}

/// Random access: decrypts the file bytes `start ..< end` from `ciphertext`, exactly the
/// object bytes `hw_attachment_object_range` names for them (each chunk is authenticated);
/// exactly those file bytes go to `out`. For video seeking and resumed downloads.
/// `HW_TAMPERED` for an altered or misplaced chunk, `HW_INVALID_INPUT` for a range out of
/// bounds or ciphertext of the wrong length; nothing is written on error.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes, `ciphertext` to `ciphertext_len`; `out`
/// to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_decrypt_range(
    pointer: *const u8,
    pointer_len: usize,
    start: u64,
    end: u64,
    ciphertext: *const u8,
    ciphertext_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        let ciphertext = input(ciphertext, ciphertext_len, "ciphertext")?;
        let out = Out::new(out, "out")?;
        let mut file = Vec::new();
        AttachmentReader::new(&pointer).decrypt_range(start..end, ciphertext, &mut file)?;
        out.write(hw_bytes::from_vec(file));
        Ok(())
    })
}

/// Checks a downloaded `object` against the length and SHA-256 its `pointer` names, before
/// decrypting it: `HW_OK`, or `HW_TAMPERED` (code `attachment.truncated`,
/// `attachment.trailing_data` or `attachment.digest_mismatch`). Decryption authenticates
/// every chunk anyway; this catches a wrong or damaged object in one pass.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes, `object` to `object_len`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_verify_digest(
    pointer: *const u8,
    pointer_len: usize,
    object: *const u8,
    object_len: usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        pointer.verify_digest(input(object, object_len, "object")?)?;
        Ok(())
    })
}

/// Random access by chunk: writes the object bytes of chunk `index` to `object_start ..<
/// object_end` (for a range request) and the file's number of chunks to `chunk_count` when it
/// is not NULL. `HW_INVALID_INPUT` (`attachment.chunk_out_of_range`) for an index past the
/// last chunk.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes; `object_start` and `object_end` to
/// writable `uint64_t`; `chunk_count` is NULL or points to a writable `uint64_t`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_chunk_range(
    pointer: *const u8,
    pointer_len: usize,
    index: u64,
    object_start: *mut u64,
    object_end: *mut u64,
    chunk_count: *mut u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        let object_start = Out::new(object_start, "object_start")?;
        let object_end = Out::new(object_end, "object_end")?;
        if let Some(out) = Out::optional(chunk_count) {
            out.write(pointer.chunk_count());
        }
        let range = pointer.chunk_range(index)?;
        object_start.write(range.start);
        object_end.write(range.end);
        Ok(())
    })
}

/// Decrypts chunk `index` alone from `chunk`, exactly the object bytes
/// `hw_attachment_chunk_range` names for it; its file bytes go to `out` (none for a chunk of
/// padding only). `HW_TAMPERED` for an altered chunk or another chunk of the file in its
/// place, `HW_INVALID_INPUT` for a wrong length or index; nothing is written on error.
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes, `chunk` to `chunk_len`; `out` to a
/// writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_decrypt_chunk(
    pointer: *const u8,
    pointer_len: usize,
    index: u64,
    chunk: *const u8,
    chunk_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        let chunk = input(chunk, chunk_len, "chunk")?;
        let out = Out::new(out, "out")?;
        let mut file = Vec::new();
        AttachmentReader::new(&pointer).decrypt_chunk(index, chunk, &mut file)?;
        out.write(hw_bytes::from_vec(file));
        Ok(())
    })
}

// ─── streaming encryption ────────────────────────────────────────────────────────────────────

/// Starts encrypting a file of any length (up to the library's maximum), with the default
/// chunk size; its key is drawn from the OS.
///
/// # Safety
/// `out` points to writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_encryptor_new(
    out: *mut *mut hw_attachment_encryptor,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let encryptor = AttachmentEncryptor::new(&mut rng);
        out.write(into_handle(hw_attachment_encryptor(Mutex::new(Some(
            encryptor,
        )))));
        Ok(())
    })
}

/// As `hw_attachment_encryptor_new`, with chunks of `2^chunk_size_log2` file bytes (smaller
/// chunks make random access finer, larger ones the object smaller; the default is 2^16).
/// A size outside the bounds of SPEC.md §16 is `HW_INVALID_INPUT`
/// (`attachment.invalid_chunk_size`).
///
/// # Safety
/// `out` points to writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_encryptor_new_with_chunk_size(
    chunk_size_log2: u8,
    out: *mut *mut hw_attachment_encryptor,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let chunk_size = ChunkSize::from_log2(chunk_size_log2)?;
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let encryptor = AttachmentEncryptor::with_chunk_size(chunk_size, &mut rng);
        out.write(into_handle(hw_attachment_encryptor(Mutex::new(Some(
            encryptor,
        )))));
        Ok(())
    })
}

/// Adds `plaintext` to the file; the object bytes now ready (the header on the first call,
/// then every completed chunk; often none) go to `out`, to upload in order. Unchanged on
/// error (`HW_LIMIT_EXCEEDED` past the maximum length; `HW_INVALID_INPUT` once finished).
///
/// # Safety
/// `encryptor` is an encryptor handle; `plaintext` points to `plaintext_len` readable bytes;
/// `out` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_encryptor_push(
    encryptor: *mut hw_attachment_encryptor,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let encryptor = handle(encryptor, "encryptor")?;
        let plaintext = input(plaintext, plaintext_len, "plaintext")?;
        let out = Out::new(out, "out")?;
        let mut guard = lock(&encryptor.0)?;
        let encryptor = guard
            .as_mut()
            .ok_or(attachment::AttachmentError::Finished)?;
        let mut object = Vec::new();
        encryptor.push(plaintext, &mut object)?;
        out.write(hw_bytes::from_vec(object));
        Ok(())
    })
}

/// Ends the file: the rest of the object (the last chunk and the padding, which adds at most
/// 1/32 of the file, so a few MiB for a very large one) goes to `out`, the encoded
/// pointer to `pointer`, with the optional `content_type` and `file_name` (as in
/// `hw_attachment_encrypt`; checked before anything is finished, so a refused text changes
/// nothing). The encryptor is finished afterwards: any further push or finish is refused
/// with `HW_INVALID_INPUT` (code `attachment.finished`). Free it as usual.
///
/// # Safety
/// `encryptor` is an encryptor handle; `content_type` points to `content_type_len` readable
/// bytes, `file_name` to `file_name_len`; `out` and `pointer` to writable `hw_bytes`; `err`
/// as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_encryptor_finish(
    encryptor: *mut hw_attachment_encryptor,
    content_type: *const u8,
    content_type_len: usize,
    file_name: *const u8,
    file_name_len: usize,
    out: *mut hw_bytes,
    pointer: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let encryptor = handle(encryptor, "encryptor")?;
        let content_type = utf8(content_type, content_type_len, "content_type")?;
        let file_name = utf8(file_name, file_name_len, "file_name")?;
        let out = Out::new(out, "out")?;
        let pointer_out = Out::new(pointer, "pointer")?;
        let mut guard = lock(&encryptor.0)?;
        if guard.is_none() {
            return Err(attachment::AttachmentError::Finished.into());
        }
        check_texts(content_type, file_name)?;
        let encryptor = guard.take().ok_or(attachment::AttachmentError::Finished)?;
        let mut object = Vec::new();
        let mut pointer = encryptor.finish(&mut object)?;
        set_texts(&mut pointer, content_type, file_name)?;
        pointer_out.write(pointer_bytes(&pointer));
        out.write(hw_bytes::from_vec(object));
        Ok(())
    })
}

/// Frees an encryptor (NULL is a no-op); its key is wiped. An unfinished file is abandoned.
///
/// # Safety
/// `encryptor` is NULL or an encryptor handle, freed once and not in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_encryptor_free(encryptor: *mut hw_attachment_encryptor) {
    call_value((), || free_handle(encryptor))
}

// ─── streaming decryption ────────────────────────────────────────────────────────────────────

/// Starts decrypting the file `pointer` names (the encoded pointer received in a message).
///
/// # Safety
/// `pointer` points to `pointer_len` readable bytes; `out` to writable storage for a pointer;
/// `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_decryptor_new(
    pointer: *const u8,
    pointer_len: usize,
    out: *mut *mut hw_attachment_decryptor,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let pointer = AttachmentPointer::from_bytes(input(pointer, pointer_len, "pointer")?)?;
        let out = Out::new(out, "out")?;
        let decryptor = AttachmentDecryptor::new(&pointer);
        out.write(into_handle(hw_attachment_decryptor(Mutex::new(Some(
            decryptor,
        )))));
        Ok(())
    })
}

/// Takes the next `ciphertext` bytes of the object (in order, in pieces of any size); the
/// file bytes of every chunk this completes, each verified, go to `out` (often none). On
/// error (`HW_TAMPERED` for an altered, reordered, duplicated or foreign chunk or bytes past
/// the object's end; `HW_MALFORMED` for a broken header) nothing changes: the decryptor
/// still expects the bytes from `hw_attachment_decryptor_position` on, so the right bytes can
/// be pushed again.
///
/// # Safety
/// `decryptor` is a decryptor handle; `ciphertext` points to `ciphertext_len` readable bytes;
/// `out` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_decryptor_push(
    decryptor: *mut hw_attachment_decryptor,
    ciphertext: *const u8,
    ciphertext_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let decryptor = handle(decryptor, "decryptor")?;
        let ciphertext = input(ciphertext, ciphertext_len, "ciphertext")?;
        let out = Out::new(out, "out")?;
        let mut guard = lock(&decryptor.0)?;
        let decryptor = guard.as_mut().ok_or_else(missing)?;
        let mut plaintext = Vec::new();
        decryptor.push(ciphertext, &mut plaintext)?;
        out.write(hw_bytes::from_vec(plaintext));
        Ok(())
    })
}

/// Writes the number of object bytes taken so far to `position` (where to resume a
/// download).
///
/// # Safety
/// `decryptor` is a decryptor handle; `position` points to a writable `uint64_t`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_decryptor_position(
    decryptor: *const hw_attachment_decryptor,
    position: *mut u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let decryptor = handle(decryptor, "decryptor")?;
        let position = Out::new(position, "position")?;
        let guard = lock(&decryptor.0)?;
        position.write(guard.as_ref().ok_or_else(missing)?.position());
        Ok(())
    })
}

/// Checks that the whole file arrived: `HW_OK` once the final chunk verified, else
/// `HW_TAMPERED` (code `attachment.truncated` or `attachment.missing_final_chunk`) and the
/// decryptor is unchanged: push the rest (for example a resumed download from
/// `hw_attachment_decryptor_position`) and finish again. Finishing a complete file again is
/// `HW_OK`. Until this returns `HW_OK`, treat the bytes released so far as an incomplete
/// file.
///
/// # Safety
/// `decryptor` is a decryptor handle; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_decryptor_finish(
    decryptor: *mut hw_attachment_decryptor,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let decryptor = handle(decryptor, "decryptor")?;
        let mut guard = lock(&decryptor.0)?;
        if guard.as_ref().ok_or_else(missing)?.is_complete() {
            // What `finish` would accept; the handle keeps its decryptor, so finishing again,
            // and asking its position, still work.
            return Ok(());
        }
        let d = guard.take().ok_or_else(missing)?;
        match d.finish() {
            Ok(()) => Ok(()),
            Err((d, e)) => {
                *guard = Some(d);
                Err(e.into())
            }
        }
    })
}

/// Frees a decryptor (NULL is a no-op); its key is wiped.
///
/// # Safety
/// `decryptor` is NULL or a decryptor handle, freed once and not in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_attachment_decryptor_free(decryptor: *mut hw_attachment_decryptor) {
    call_value((), || free_handle(decryptor))
}

/// The decryptor is only ever taken out of its handle inside `finish`, which puts it back on
/// error; seeing none means a panic interrupted that, and the mutex is poisoned first.
fn missing() -> Failure {
    Failure::invalid("the decryptor is no longer usable".into())
}
