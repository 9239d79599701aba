//! Labelled state blobs (`to_encrypted_labeled`, `Expected::with_label`; SPEC.md §11.7) and
//! the blob header readable without the key (`peek_blob`). A label is the app's name for the
//! slot a blob is stored in (for example `session/bob/phone`, at most 255 bytes): bound into
//! the blob, so a blob copied into another slot is refused on restore
//! (`HW_TAMPERED`, code `restore.wrong_object`).

use std::sync::Mutex;

use hushwire::group::GroupSession;
use hushwire::persist::{BlobLabel, Expected, peek_blob};
use hushwire::{Device, Session, StorageKey};

use crate::boundary::{
    Failure, Out, call, handle, input, into_handle, key32, lock, optional_key32,
};
use crate::{hw_account, hw_bytes, hw_error, hw_group, hw_session, hw_status, identity_key, rng};

fn label(ptr: *const u8, len: usize) -> Result<BlobLabel, Failure> {
    Ok(BlobLabel::new(input(ptr, len, "label")?)?)
}

fn storage_key(ptr: *const u8) -> Result<StorageKey, Failure> {
    Ok(StorageKey::from_bytes(key32(ptr, "storage_key")?))
}

/// Reads a state blob's header without the key (for routing and rollback bookkeeping): its
/// type tag (1 account, 2 session, 3 group session) to `type_tag`, the generation it was
/// exported with to `generation` and its format version to `version`, each when not NULL.
/// `HW_MALFORMED` for bytes that are not a state blob. Nothing is checked beyond the header.
///
/// # Safety
/// `blob` points to `blob_len` readable bytes; `type_tag` is NULL or points to a writable
/// `uint8_t`, `generation` NULL or a writable `uint64_t`, `version` NULL or a writable
/// `uint16_t`; `err` is NULL or points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_blob_info(
    blob: *const u8,
    blob_len: usize,
    type_tag: *mut u8,
    generation: *mut u64,
    version: *mut u16,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let info = peek_blob(input(blob, blob_len, "blob")?)?;
        if let Some(out) = Out::optional(type_tag) {
            out.write(info.type_tag);
        }
        if let Some(out) = Out::optional(generation) {
            out.write(info.generation);
        }
        if let Some(out) = Out::optional(version) {
            out.write(info.version);
        }
        Ok(())
    })
}

/// As `hw_account_to_encrypted`, and binds the slot's `label` (at most 255 bytes; longer is
/// `HW_INVALID_INPUT`) into the blob: restore it with `hw_account_from_encrypted_labeled`.
///
/// # Safety
/// `account` is an account handle; `storage_key` points to 32 readable bytes, `label` to
/// `label_len`; `out` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_to_encrypted_labeled(
    account: *const hw_account,
    storage_key_bytes: *const u8,
    label_bytes: *const u8,
    label_len: usize,
    generation: u64,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let key = storage_key(storage_key_bytes)?;
        let label = label(label_bytes, label_len)?;
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let blob = lock(&account.0)?.to_encrypted_labeled(&key, &label, generation, &mut rng);
        out.write(hw_bytes::from_vec(blob));
        Ok(())
    })
}

/// Restores an account from a blob of `hw_account_to_encrypted_labeled` stored in the slot
/// `label`: a blob of another slot is `HW_TAMPERED` (`restore.wrong_object`). Otherwise as
/// `hw_account_from_encrypted`.
///
/// # Safety
/// `blob` points to `blob_len` readable bytes, `storage_key` to 32, `label` to `label_len`;
/// `out` to writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_from_encrypted_labeled(
    blob: *const u8,
    blob_len: usize,
    storage_key_bytes: *const u8,
    min_generation: u64,
    label_bytes: *const u8,
    label_len: usize,
    out: *mut *mut hw_account,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let blob = input(blob, blob_len, "blob")?;
        let key = storage_key(storage_key_bytes)?;
        let expected = Expected::any().with_label(&label(label_bytes, label_len)?);
        let out = Out::new(out, "out")?;
        let account = Device::from_encrypted(blob, &key, min_generation, &expected)?;
        out.write(into_handle(hw_account(Mutex::new(account))));
        Ok(())
    })
}

/// As `hw_session_to_encrypted`, and binds the slot's `label` into the blob.
///
/// # Safety
/// `session` is a session handle; `storage_key` points to 32 readable bytes, `label` to
/// `label_len`; `out` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_session_to_encrypted_labeled(
    session: *const hw_session,
    storage_key_bytes: *const u8,
    label_bytes: *const u8,
    label_len: usize,
    generation: u64,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let session = handle(session, "session")?;
        let key = storage_key(storage_key_bytes)?;
        let label = label(label_bytes, label_len)?;
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let blob = lock(&session.0)?.to_encrypted_labeled(&key, &label, generation, &mut rng);
        out.write(hw_bytes::from_vec(blob));
        Ok(())
    })
}

/// Restores a session from a blob of `hw_session_to_encrypted_labeled` stored in the slot
/// `label`; `expected_peer` as in `hw_session_from_encrypted`. A blob of another slot or
/// peer is `HW_TAMPERED` (`restore.wrong_object`).
///
/// # Safety
/// `blob` points to `blob_len` readable bytes, `storage_key` to 32, `label` to `label_len`;
/// `expected_peer` is NULL or points to 32; `out` to writable storage for a pointer; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_session_from_encrypted_labeled(
    blob: *const u8,
    blob_len: usize,
    storage_key_bytes: *const u8,
    min_generation: u64,
    expected_peer: *const u8,
    label_bytes: *const u8,
    label_len: usize,
    out: *mut *mut hw_session,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let blob = input(blob, blob_len, "blob")?;
        let key = storage_key(storage_key_bytes)?;
        let expected = match optional_key32(expected_peer, "expected_peer")? {
            Some(peer) => Expected::peer(&identity_key(peer)?),
            None => Expected::any(),
        }
        .with_label(&label(label_bytes, label_len)?);
        let out = Out::new(out, "out")?;
        let session = Session::from_encrypted(blob, &key, min_generation, &expected)?;
        out.write(into_handle(hw_session(Mutex::new(session))));
        Ok(())
    })
}

/// As `hw_group_to_encrypted`, and binds the slot's `label` into the blob.
///
/// # Safety
/// `group` is a group handle; `storage_key` points to 32 readable bytes, `label` to
/// `label_len`; `out` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_to_encrypted_labeled(
    group: *const hw_group,
    storage_key_bytes: *const u8,
    label_bytes: *const u8,
    label_len: usize,
    generation: u64,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let group = handle(group, "group")?;
        let key = storage_key(storage_key_bytes)?;
        let label = label(label_bytes, label_len)?;
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let blob = lock(&group.0)?.to_encrypted_labeled(&key, &label, generation, &mut rng);
        out.write(hw_bytes::from_vec(blob));
        Ok(())
    })
}

/// Restores a group session from a blob of `hw_group_to_encrypted_labeled` stored in the
/// slot `label`; `expected_group` as in `hw_group_from_encrypted`. A blob of another slot or
/// group is `HW_TAMPERED` (`restore.wrong_object`).
///
/// # Safety
/// `blob` points to `blob_len` readable bytes, `storage_key` to 32, `label` to `label_len`;
/// `expected_group` is NULL or points to 32; `out` to writable storage for a pointer; `err`
/// as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_from_encrypted_labeled(
    blob: *const u8,
    blob_len: usize,
    storage_key_bytes: *const u8,
    min_generation: u64,
    expected_group: *const u8,
    label_bytes: *const u8,
    label_len: usize,
    out: *mut *mut hw_group,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let blob = input(blob, blob_len, "blob")?;
        let key = storage_key(storage_key_bytes)?;
        let expected = match optional_key32(expected_group, "expected_group")? {
            Some(id) => Expected::group(&id),
            None => Expected::any(),
        }
        .with_label(&label(label_bytes, label_len)?);
        let out = Out::new(out, "out")?;
        let group = GroupSession::from_encrypted(blob, &key, min_generation, &expected)?;
        out.write(into_handle(hw_group(Mutex::new(group))));
        Ok(())
    })
}
