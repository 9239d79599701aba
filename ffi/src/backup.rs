//! Encrypted key backup under a recovery key (`hushwire::backup`, SPEC.md §18): the recovery
//! key the user writes down, a device's writer that appends entries without it, the stored
//! encoding, and the restore on a new device.
//!
//! A writer's append hands back its sealed entries as an **entry list**: each entry as a
//! 4-byte big-endian length followed by its bytes. Two lists concatenated are a list, so the
//! app keeps one growing buffer (append every new list to it) and the latest manifest, and
//! passes both to `hw_backup_encode` to get the bytes to store.
//!
//! A recovery key may also be wrapped under a passphrase with Argon2id
//! (`hw_recovery_key_wrap`): the wrap is stored with the backup (`hw_backup_encode`), named by
//! the manifest (`hw_backup_writer_create`), and opened with `hw_backup_unwrap_recovery_key`.

use std::sync::Mutex;

use hushwire::backup::{
    self, Appended, Argon2Params, BackupItem, BackupOptions, BackupPublicKey, BackupWriter,
    RestoredBackup, WrappedRecoveryKey,
};
use hushwire::{IdentityKeyPair, RecoveryKey};

use crate::boundary::{
    Failure, Out, call, call_value, free_handle, handle, input, into_handle, key32, lock,
};
use crate::{hw_account, hw_bytes, hw_error, hw_group, hw_status, rng, time, utf8};

/// The user's recovery key: the one secret that opens the backup. Wiped on free.
/// Thread-safe (internally locked).
#[allow(non_camel_case_types)]
pub struct hw_recovery_key(Mutex<RecoveryKey>);

/// A device's handle on a backup: appends entries without the recovery key, reads none.
/// Thread-safe (internally locked).
#[allow(non_camel_case_types)]
pub struct hw_backup_writer(Mutex<BackupWriter>);

/// What a restore gave back: group sessions, the peers to start fresh sessions with, the app's
/// records and, if it was backed up, the identity key. Thread-safe (internally locked).
#[allow(non_camel_case_types)]
pub struct hw_restored_backup(Mutex<RestoredBackup>);

/// Encodes entries as an entry list (4-byte big-endian length, then the bytes, each).
fn entry_list(entries: &[Vec<u8>]) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 4).sum());
    for entry in entries {
        let len = u32::try_from(entry.len())
            .map_err(|_| Failure::invalid("a backup entry is over 4 GiB".into()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Decodes an entry list; anything else is `HW_INVALID_ARGUMENT`.
fn parse_entry_list(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, Failure> {
    let bad = || Failure::invalid("`entries` is not an entry list of hw_backup_writer".into());
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_at_checked(4).ok_or_else(bad)?;
        let len: [u8; 4] = len.try_into().map_err(|_| bad())?;
        let len = usize::try_from(u32::from_be_bytes(len)).map_err(|_| bad())?;
        let (entry, rest) = rest.split_at_checked(len).ok_or_else(bad)?;
        entries.push(entry.to_vec());
        bytes = rest;
    }
    Ok(entries)
}

/// An optional passphrase wrap: an empty input means none.
fn optional_wrap(ptr: *const u8, len: usize) -> Result<Option<WrappedRecoveryKey>, Failure> {
    let bytes = input(ptr, len, "wrapped")?;
    if bytes.is_empty() {
        return Ok(None);
    }
    Ok(Some(WrappedRecoveryKey::from_bytes(bytes)?))
}

/// Hands an append's entries and manifest to the outputs.
fn write_appended(
    appended: Appended,
    entries: Out<hw_bytes>,
    manifest: Out<hw_bytes>,
) -> Result<(), Failure> {
    let list = entry_list(&appended.entries)?;
    entries.write(hw_bytes::from_vec(list));
    manifest.write(hw_bytes::from_vec(appended.manifest));
    Ok(())
}

// ─── recovery key ────────────────────────────────────────────────────────────────────────────

/// Draws a new recovery key from the OS. Show it to the user once
/// (`hw_recovery_key_to_display`) and start the backup with `hw_backup_writer_create`.
///
/// # Safety
/// `out` points to writable storage for a pointer; `err` is NULL or points to writable
/// storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_recovery_key_generate(
    out: *mut *mut hw_recovery_key,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let key = RecoveryKey::generate(&mut rng);
        out.write(into_handle(hw_recovery_key(Mutex::new(key))));
        Ok(())
    })
}

/// Writes the form shown to the user to `out` (UTF-8, no NUL): 55 Crockford base32
/// characters in 11 groups of 5 joined by `-`. Free the buffer as soon as it is shown (it
/// is wiped).
///
/// # Safety
/// `key` is a recovery key handle; `out` points to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_recovery_key_to_display(
    key: *const hw_recovery_key,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let key = handle(key, "key")?;
        let out = Out::new(out, "out")?;
        let shown = lock(&key.0)?.to_display();
        out.write(hw_bytes::from_vec(shown.as_bytes().to_vec()));
        Ok(())
    })
}

/// Reads a recovery key the user typed (UTF-8; case, spaces and `-` ignored). A wrong length
/// or a character outside the alphabet is `HW_INVALID_INPUT` with code
/// `backup.recovery_key_format`; a failed checksum (a mistyped character: ask the user to
/// check it) `HW_INVALID_INPUT` with `backup.recovery_key_mistyped`.
///
/// # Safety
/// `text` points to `text_len` readable bytes; `out` to writable storage for a pointer;
/// `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_recovery_key_from_display(
    text: *const u8,
    text_len: usize,
    out: *mut *mut hw_recovery_key,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let text = utf8(text, text_len, "text")?;
        let out = Out::new(out, "out")?;
        let key = RecoveryKey::from_display(text)?;
        out.write(into_handle(hw_recovery_key(Mutex::new(key))));
        Ok(())
    })
}

/// Wraps the recovery key under `passphrase` with Argon2id, so that the user may type the
/// passphrase instead of the key; the wrap goes to `out` (pass it to `hw_backup_writer_create`
/// and `hw_backup_encode`). `memory_kib`, `iterations` and `lanes` are the Argon2id
/// parameters, all 0 for the defaults (64 MiB, 3 passes, 1 lane: a fraction of a second);
/// outside the bounds of SPEC.md §18.2.2 is `HW_LIMIT_EXCEEDED`
/// (`backup.kdf_params_out_of_range`).
///
/// # Safety
/// `key` is a recovery key handle; `passphrase` points to `passphrase_len` readable bytes;
/// `out` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_recovery_key_wrap(
    key: *const hw_recovery_key,
    passphrase: *const u8,
    passphrase_len: usize,
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let key = handle(key, "key")?;
        let passphrase = input(passphrase, passphrase_len, "passphrase")?;
        let out = Out::new(out, "out")?;
        let params = if (memory_kib, iterations, lanes) == (0, 0, 0) {
            Argon2Params::default()
        } else {
            Argon2Params::new(memory_kib, iterations, lanes)?
        };
        let mut rng = rng::for_call()?;
        let wrapped = WrappedRecoveryKey::wrap(&*lock(&key.0)?, passphrase, params, &mut rng)?;
        out.write(hw_bytes::from_vec(wrapped.to_bytes()));
        Ok(())
    })
}

/// Opens the passphrase wrap stored in a backup (the bytes of `hw_backup_encode`) and writes
/// the recovery key to `out`. `HW_TAMPERED` (`backup.wrong_passphrase`) for a wrong
/// passphrase; `HW_INVALID_INPUT` (`backup.not_passphrase_protected`) for a backup without a
/// wrap; `HW_LIMIT_EXCEEDED` for stored parameters above the bounds (checked before hashing).
///
/// # Safety
/// `backup` points to `backup_len` readable bytes, `passphrase` to `passphrase_len`; `out` to
/// writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_unwrap_recovery_key(
    backup: *const u8,
    backup_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    out: *mut *mut hw_recovery_key,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let stored = input(backup, backup_len, "backup")?;
        let passphrase = input(passphrase, passphrase_len, "passphrase")?;
        let out = Out::new(out, "out")?;
        let key = backup::unwrap_recovery_key(stored, passphrase)?;
        out.write(into_handle(hw_recovery_key(Mutex::new(key))));
        Ok(())
    })
}

/// Frees a recovery key (NULL is a no-op); it is wiped.
///
/// # Safety
/// `key` is NULL or a recovery key handle, freed once and not in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_recovery_key_free(key: *mut hw_recovery_key) {
    call_value((), || free_handle(key))
}

// ─── writer ──────────────────────────────────────────────────────────────────────────────────

/// Starts a new, empty backup under `key` (manifest counter 0) and certifies a fresh device
/// key for this device. `wrapped` is the passphrase wrap that will be stored with the backup
/// (`hw_recovery_key_wrap`), or NULL with length 0 for none: the manifest names it, so it
/// cannot be swapped. The writer goes to `out` and the first manifest to `manifest`: store
/// it. After this call the app may forget the recovery key (the user keeps it).
///
/// # Safety
/// `key` is a recovery key handle; `wrapped` points to `wrapped_len` readable bytes; `out` to
/// writable storage for a pointer; `manifest` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_create(
    key: *const hw_recovery_key,
    wrapped: *const u8,
    wrapped_len: usize,
    now: u64,
    out: *mut *mut hw_backup_writer,
    manifest: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let key = handle(key, "key")?;
        let wrapped = optional_wrap(wrapped, wrapped_len)?;
        let out = Out::new(out, "out")?;
        let manifest = Out::new(manifest, "manifest")?;
        let mut rng = rng::for_call()?;
        let (writer, first) =
            BackupWriter::create(&*lock(&key.0)?, wrapped.as_ref(), time(now), &mut rng);
        manifest.write(hw_bytes::from_vec(first));
        out.write(into_handle(hw_backup_writer(Mutex::new(writer))));
        Ok(())
    })
}

/// Certifies this device into an existing backup with the recovery key: checks the stored
/// `manifest` and writes the new writer to `out` and the manifest that replaces the stored
/// one to `new_manifest`. `HW_TAMPERED` (`backup.wrong_recovery_key`, `backup.bad_signature`,
/// ...) for a manifest of another backup or a forged one.
///
/// # Safety
/// `key` is a recovery key handle; `manifest` points to `manifest_len` readable bytes; `out`
/// to writable storage for a pointer; `new_manifest` to a writable `hw_bytes`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_enroll(
    key: *const hw_recovery_key,
    manifest: *const u8,
    manifest_len: usize,
    now: u64,
    out: *mut *mut hw_backup_writer,
    new_manifest: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let key = handle(key, "key")?;
        let manifest = input(manifest, manifest_len, "manifest")?;
        let out = Out::new(out, "out")?;
        let new_manifest = Out::new(new_manifest, "new_manifest")?;
        let mut rng = rng::for_call()?;
        let (writer, bytes) = BackupWriter::enroll(&*lock(&key.0)?, manifest, time(now), &mut rng)?;
        new_manifest.write(hw_bytes::from_vec(bytes));
        out.write(into_handle(hw_backup_writer(Mutex::new(writer))));
        Ok(())
    })
}

/// Appends the account's identity book (who is verified) and, if `include_identity` is not
/// 0, its identity key pair (the user's opt-in: a restored device is then the same device to
/// its peers). Never its sessions. The new entries go to `entries` as an entry list (append
/// it to the stored ones) and the new manifest to `manifest` (it replaces the stored one).
/// Unchanged on error (`HW_LIMIT_EXCEEDED`, `backup.backup_full`, ...).
///
/// # Safety
/// `writer` is a backup writer handle, `account` an account handle; `entries` and `manifest`
/// point to writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_append_account(
    writer: *mut hw_backup_writer,
    account: *const hw_account,
    include_identity: u8,
    now: u64,
    entries: *mut hw_bytes,
    manifest: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let writer = handle(writer, "writer")?;
        let account = handle(account, "account")?;
        let entries = Out::new(entries, "entries")?;
        let manifest = Out::new(manifest, "manifest")?;
        let options = if include_identity != 0 {
            BackupOptions::with_identity_key()
        } else {
            BackupOptions::default()
        };
        let mut rng = rng::for_call()?;
        // Lock order: account before writer.
        let account = lock(&account.0)?;
        let appended = lock(&writer.0)?.append_device(&account, &options, time(now), &mut rng)?;
        write_appended(appended, entries, manifest)
    })
}

/// Appends a group session (its sender keys at their current iteration and the roster: on
/// restore, messages sent after this entry decrypt at once). Outputs and errors as
/// `hw_backup_writer_append_account`.
///
/// # Safety
/// `writer` is a backup writer handle, `group` a group handle; `entries` and `manifest` point
/// to writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_append_group(
    writer: *mut hw_backup_writer,
    group: *const hw_group,
    now: u64,
    entries: *mut hw_bytes,
    manifest: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let writer = handle(writer, "writer")?;
        let group = handle(group, "group")?;
        let entries = Out::new(entries, "entries")?;
        let manifest = Out::new(manifest, "manifest")?;
        let mut rng = rng::for_call()?;
        // Lock order: group before writer.
        let group = lock(&group.0)?;
        let appended =
            lock(&writer.0)?.append(&[BackupItem::GroupSession(&group)], time(now), &mut rng)?;
        write_appended(appended, entries, manifest)
    })
}

/// Appends the app's own record `data` (device lists, contact names; at most 4 MiB) under its
/// 32-byte `id`: a later record with the same id replaces it on restore. Outputs and errors
/// as `hw_backup_writer_append_account` (`HW_LIMIT_EXCEEDED`, `backup.payload_too_large`).
///
/// # Safety
/// `writer` is a backup writer handle; `id` points to 32 readable bytes, `data` to
/// `data_len`; `entries` and `manifest` to writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_append_app_data(
    writer: *mut hw_backup_writer,
    id: *const u8,
    data: *const u8,
    data_len: usize,
    now: u64,
    entries: *mut hw_bytes,
    manifest: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let writer = handle(writer, "writer")?;
        let id = key32(id, "id")?;
        let bytes = input(data, data_len, "data")?;
        let entries = Out::new(entries, "entries")?;
        let manifest = Out::new(manifest, "manifest")?;
        let mut rng = rng::for_call()?;
        let appended =
            lock(&writer.0)?.append(&[BackupItem::AppData { id, bytes }], time(now), &mut rng)?;
        write_appended(appended, entries, manifest)
    })
}

/// Writes the latest manifest's counter to `counter` (remember it and pass it to
/// `hw_backup_restore` as `min_counter`) and the number of entries the backup lists to
/// `entries`, each when not NULL.
///
/// # Safety
/// `writer` is a backup writer handle; `counter` is NULL or points to a writable `uint64_t`,
/// `entries` NULL or a writable `size_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_counter(
    writer: *const hw_backup_writer,
    counter: *mut u64,
    entries: *mut usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let writer = handle(writer, "writer")?;
        let writer = lock(&writer.0)?;
        if let Some(out) = Out::optional(counter) {
            out.write(writer.counter());
        }
        if let Some(out) = Out::optional(entries) {
            out.write(writer.entry_count());
        }
        Ok(())
    })
}

/// Writes the latest manifest the writer knows to `out`.
///
/// # Safety
/// `writer` is a backup writer handle; `out` points to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_manifest(
    writer: *const hw_backup_writer,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let writer = handle(writer, "writer")?;
        let out = Out::new(out, "out")?;
        out.write(hw_bytes::from_vec(lock(&writer.0)?.manifest().to_vec()));
        Ok(())
    })
}

/// Exports what the app keeps to rebuild the writer with `hw_backup_writer_resume`: the
/// backup public key to `public_key` and the device key's 32-byte seed to `device_seed`
/// (keep it in the platform's key store: it lets its holder append to the backup, not read
/// it). The manifest comes from `hw_backup_writer_manifest`.
///
/// # Safety
/// `writer` is a backup writer handle; `public_key` points to a writable `hw_bytes`,
/// `device_seed` to 32 writable bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_export(
    writer: *const hw_backup_writer,
    public_key: *mut hw_bytes,
    device_seed: *mut [u8; 32],
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let writer = handle(writer, "writer")?;
        let public_key = Out::new(public_key, "public_key")?;
        let device_seed = Out::new(device_seed, "device_seed")?;
        let writer = lock(&writer.0)?;
        let seed = writer.dangerous_device_seed();
        device_seed.write(*seed);
        public_key.write(hw_bytes::from_vec(writer.public_key().to_bytes()));
        Ok(())
    })
}

/// Rebuilds a writer the app kept (`hw_backup_writer_export`) with its latest manifest.
/// `HW_TAMPERED` (`backup.unknown_signer`) if the manifest does not certify this device key,
/// as `hw_backup_writer_accept_manifest` otherwise.
///
/// # Safety
/// `public_key` points to `public_key_len` readable bytes, `device_seed` to 32, `manifest`
/// to `manifest_len`; `out` to writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_resume(
    public_key: *const u8,
    public_key_len: usize,
    device_seed: *const u8,
    manifest: *const u8,
    manifest_len: usize,
    out: *mut *mut hw_backup_writer,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let public = BackupPublicKey::from_bytes(input(public_key, public_key_len, "public_key")?)?;
        let seed = zeroize::Zeroizing::new(key32(device_seed, "device_seed")?);
        let manifest = input(manifest, manifest_len, "manifest")?;
        let out = Out::new(out, "out")?;
        let writer = BackupWriter::resume(public, &seed, manifest)?;
        out.write(into_handle(hw_backup_writer(Mutex::new(writer))));
        Ok(())
    })
}

/// Moves the writer to a newer manifest written by another device of the same backup, after
/// checking it. The same manifest again is accepted as is. Unchanged on error: `HW_REPLAY`
/// (`backup.rolled_back`) for an older one, `HW_TAMPERED` (`backup.manifest_forked`,
/// `backup.wrong_recovery_key`, `backup.bad_signature`, ...).
///
/// # Safety
/// `writer` is a backup writer handle; `manifest` points to `manifest_len` readable bytes;
/// `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_accept_manifest(
    writer: *mut hw_backup_writer,
    manifest: *const u8,
    manifest_len: usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let writer = handle(writer, "writer")?;
        let manifest = input(manifest, manifest_len, "manifest")?;
        lock(&writer.0)?.accept_manifest(manifest)?;
        Ok(())
    })
}

/// Frees a backup writer (NULL is a no-op); its device key is wiped.
///
/// # Safety
/// `writer` is NULL or a backup writer handle, freed once and not in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_writer_free(writer: *mut hw_backup_writer) {
    call_value((), || free_handle(writer))
}

// ─── stored bytes and restore ────────────────────────────────────────────────────────────────

/// Encodes the backup to store: the passphrase wrap named at creation (`wrapped`, or NULL
/// with length 0 for none), the latest `manifest` and every entry so far, as one entry list
/// (`entries`: the lists of every append, concatenated in order). A buffer that is not an
/// entry list is `HW_INVALID_ARGUMENT`; `HW_LIMIT_EXCEEDED` past the size limits.
///
/// # Safety
/// `wrapped` points to `wrapped_len` readable bytes, `manifest` to `manifest_len`, `entries`
/// to `entries_len`; `out` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_encode(
    wrapped: *const u8,
    wrapped_len: usize,
    manifest: *const u8,
    manifest_len: usize,
    entries: *const u8,
    entries_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let wrapped = optional_wrap(wrapped, wrapped_len)?;
        let manifest = input(manifest, manifest_len, "manifest")?;
        let entries = parse_entry_list(input(entries, entries_len, "entries")?)?;
        let out = Out::new(out, "out")?;
        let stored = backup::encode_backup(wrapped.as_ref(), manifest, &entries)?;
        out.write(hw_bytes::from_vec(stored));
        Ok(())
    })
}

/// Restores a backup (the bytes of `hw_backup_encode`) with the recovery key, refusing a
/// manifest whose counter is below `min_counter` (0 if the app remembers none). Every check
/// runs before anything is returned: `HW_TAMPERED` (`backup.wrong_recovery_key`,
/// `backup.entry_tampered`, `backup.entry_missing`, `backup.entry_unlisted`, ...),
/// `HW_REPLAY` (`backup.rolled_back`), `HW_MALFORMED`. The result goes to `out`.
///
/// # Safety
/// `key` is a recovery key handle; `backup` points to `backup_len` readable bytes; `out` to
/// writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_backup_restore(
    key: *const hw_recovery_key,
    backup: *const u8,
    backup_len: usize,
    min_counter: u64,
    out: *mut *mut hw_restored_backup,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let key = handle(key, "key")?;
        let stored = input(backup, backup_len, "backup")?;
        let out = Out::new(out, "out")?;
        let restored = backup::restore(&*lock(&key.0)?, stored, min_counter)?;
        out.write(into_handle(hw_restored_backup(Mutex::new(restored))));
        Ok(())
    })
}

/// Writes the restored manifest's counter (remember it: the next restore's `min_counter`) to
/// `counter` and its time (Unix seconds, the writer's clock) to `written_at`, each when not
/// NULL.
///
/// # Safety
/// `restored` is a restored backup handle; `counter` and `written_at` are NULL or point to a
/// writable `uint64_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_counter(
    restored: *const hw_restored_backup,
    counter: *mut u64,
    written_at: *mut u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let restored = lock(&restored.0)?;
        if let Some(out) = Out::optional(counter) {
            out.write(restored.counter);
        }
        if let Some(out) = Out::optional(written_at) {
            out.write(restored.written_at.as_unix_secs());
        }
        Ok(())
    })
}

/// Writes the number of restored group sessions to `out`.
///
/// # Safety
/// `restored` is a restored backup handle; `out` points to a writable `size_t`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_group_count(
    restored: *const hw_restored_backup,
    out: *mut usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let out = Out::new(out, "out")?;
        out.write(lock(&restored.0)?.groups.len());
        Ok(())
    })
}

/// Writes a new group handle holding a copy of the restored group session number `index`
/// (0 ..< `hw_restored_backup_group_count`) to `out`; another index is
/// `HW_INVALID_ARGUMENT`. Free it with `hw_group_free`.
///
/// # Safety
/// `restored` is a restored backup handle; `out` points to writable storage for a pointer;
/// `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_group(
    restored: *const hw_restored_backup,
    index: usize,
    out: *mut *mut hw_group,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let out = Out::new(out, "out")?;
        let group = lock(&restored.0)?
            .groups
            .get(index)
            .cloned()
            .ok_or_else(|| Failure::invalid(format!("no restored group {index}")))?;
        out.write(into_handle(hw_group(Mutex::new(group))));
        Ok(())
    })
}

/// Writes the identity keys of every peer a 1:1 session must be started with afresh (the
/// identity book's users and the groups' other members; no 1:1 session is ever restored) to
/// `out`: 32 bytes each, back to back.
///
/// # Safety
/// `restored` is a restored backup handle; `out` points to a writable `hw_bytes`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_sessions_to_restart(
    restored: *const hw_restored_backup,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let out = Out::new(out, "out")?;
        let keys: Vec<u8> = lock(&restored.0)?
            .sessions_to_restart
            .iter()
            .flat_map(|k| k.to_bytes())
            .collect();
        out.write(hw_bytes::from_vec(keys));
        Ok(())
    })
}

/// Writes 1 to `out` if the identity key pair was backed up (the user opted in), else 0.
///
/// # Safety
/// `restored` is a restored backup handle; `out` points to a writable `uint8_t`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_has_identity(
    restored: *const hw_restored_backup,
    out: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let out = Out::new(out, "out")?;
        out.write(u8::from(lock(&restored.0)?.identity.is_some()));
        Ok(())
    })
}

/// Writes an account for the restored device to `out`: the restored identity key if it was
/// backed up (else a fresh one: peers then see an identity change), fresh prekeys, no
/// sessions, and the restored identity book. Publish its bundle and start sessions with
/// `hw_restored_backup_sessions_to_restart`.
///
/// # Safety
/// `restored` is a restored backup handle; `out` points to writable storage for a pointer;
/// `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_to_account(
    restored: *const hw_restored_backup,
    now: u64,
    out: *mut *mut hw_account,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let restored = lock(&restored.0)?;
        let fallback = IdentityKeyPair::generate(&mut rng);
        let account = restored.to_device(fallback, time(now), &mut rng);
        out.write(into_handle(hw_account(Mutex::new(account))));
        Ok(())
    })
}

/// Replaces the identity book (who is verified) of an existing `account` with the restored
/// one, if one was backed up; nothing changes otherwise. Persist the account afterwards.
///
/// # Safety
/// `restored` is a restored backup handle, `account` an account handle; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_apply_identity_book(
    restored: *const hw_restored_backup,
    account: *mut hw_account,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let account = handle(account, "account")?;
        // Lock order: account before the restored backup.
        let mut account = lock(&account.0)?;
        lock(&restored.0)?.apply_identity_book(&mut account);
        Ok(())
    })
}

/// Writes the number of the app's restored records to `out`.
///
/// # Safety
/// `restored` is a restored backup handle; `out` points to a writable `size_t`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_app_data_count(
    restored: *const hw_restored_backup,
    out: *mut usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let out = Out::new(out, "out")?;
        out.write(lock(&restored.0)?.app_data.len());
        Ok(())
    })
}

/// Writes the app's restored record number `index` (0 ..<
/// `hw_restored_backup_app_data_count`, the latest of each id): its 32-byte id to `id` and
/// its bytes to `out`. Another index is `HW_INVALID_ARGUMENT`.
///
/// # Safety
/// `restored` is a restored backup handle; `id` points to 32 writable bytes; `out` to a
/// writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_app_data(
    restored: *const hw_restored_backup,
    index: usize,
    id: *mut [u8; 32],
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let restored = handle(restored, "restored")?;
        let id = Out::new(id, "id")?;
        let out = Out::new(out, "out")?;
        let restored = lock(&restored.0)?;
        let (record_id, bytes) = restored
            .app_data
            .get(index)
            .ok_or_else(|| Failure::invalid(format!("no restored record {index}")))?;
        id.write(*record_id);
        out.write(hw_bytes::from_vec(bytes.to_vec()));
        Ok(())
    })
}

/// Frees a restored backup (NULL is a no-op); its secrets are wiped.
///
/// # Safety
/// `restored` is NULL or a restored backup handle, freed once and not in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_restored_backup_free(restored: *mut hw_restored_backup) {
    call_value((), || free_handle(restored))
}
