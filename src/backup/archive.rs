//! A backup as a whole: the writer that appends to it, the stored encoding, and the restore
//! (SPEC.md §18.6, §18.7).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ed25519_dalek::SigningKey;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::entry::{ENTRY_OVERHEAD, EntryKind, SealedEntry, entry_digest, seal_entry};
use super::manifest::{DeviceCertificate, EntryRecord, Manifest, manifest_hash, wrap_digest};
use super::recovery_key::{
    BackupPublicKey, RecoveryKey, WRAPPED_RECOVERY_KEY_LEN, WrappedRecoveryKey,
};
use super::{
    BackupError, BackupItem, MAX_BACKUP_DEVICES, MAX_BACKUP_ENTRIES, MAX_BACKUP_LEN,
    MAX_ENTRY_PAYLOAD_LEN, read_header,
};
use crate::device::Device;
use crate::error::DecodeError;
use crate::group::GroupSession;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::persist::RestoreError;
use crate::time::Timestamp;
use crate::verify::IdentityBook;
use crate::verify::IdentityRecordV1;
use crate::wire::TYPE_BACKUP;
use crate::wire::{Reader, WIRE_VERSION};

/// What to back up besides group sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupOptions {
    /// Back up the identity key pair too (off by default). With it, a restored device is the
    /// same device to its peers and can still sign roster changes as a group admin; without
    /// it, the restored device gets a new identity (peers see an identity change) and reads
    /// and sends group messages with its restored sender keys.
    pub include_identity_key: bool,
}

impl BackupOptions {
    /// The defaults, with the identity key included.
    pub fn with_identity_key() -> Self {
        BackupOptions {
            include_identity_key: true,
        }
    }
}

/// What one append produced: the new entries and the manifest that replaces the stored one.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct Appended {
    /// The sealed entries, in order: store them after the entries already stored.
    pub entries: Vec<Vec<u8>>,
    /// The new signed manifest: replaces the stored one.
    pub manifest: Vec<u8>,
}

impl fmt::Debug for Appended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Appended")
            .field("entries", &self.entries.len())
            .field("manifest_len", &self.manifest.len())
            .finish()
    }
}

/// A device's handle on the backup: the backup public key, its certified device signing key
/// and the latest manifest it knows. It appends entries without the recovery key, and can
/// read none of them.
#[derive(Clone)]
pub struct BackupWriter {
    public: BackupPublicKey,
    device: SigningKey,
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
}

impl fmt::Debug for BackupWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupWriter")
            .field("public", &self.public)
            .field("counter", &self.manifest.counter)
            .field("entries", &self.manifest.records.len())
            .finish_non_exhaustive()
    }
}

impl BackupWriter {
    /// Starts a new, empty backup under `key` (manifest counter 0) and certifies a fresh
    /// device key for this device. `wrapped`, if given, is the passphrase wrap that will be
    /// stored with the backup ([`encode_backup`]); the manifest names its digest, so it cannot
    /// be swapped. Store the returned manifest; after this call the app may forget the
    /// recovery key (the user keeps it).
    pub fn create<R: CryptoRng + ?Sized>(
        key: &RecoveryKey,
        wrapped: Option<&WrappedRecoveryKey>,
        now: Timestamp,
        rng: &mut R,
    ) -> (BackupWriter, Vec<u8>) {
        let secrets = key.secrets();
        let device = new_device_key(rng);
        let mut manifest = Manifest {
            backup_id: secrets.backup_id,
            counter: 0,
            previous: [0; 32],
            written_at: now.as_unix_secs(),
            wrap_digest: wrapped.map_or([0; 32], |w| wrap_digest(&w.to_bytes())),
            devices: vec![DeviceCertificate::issue(
                &secrets.signing,
                &secrets.backup_id,
                device.verifying_key().to_bytes(),
                now.as_unix_secs(),
            )],
            records: Vec::new(),
            signer: [0; 32],
            signature: [0; 64],
        };
        let manifest_bytes = manifest.sign(&secrets.signing);
        let writer = BackupWriter {
            public: secrets.public_key(),
            device,
            manifest,
            manifest_bytes: manifest_bytes.clone(),
        };
        (writer, manifest_bytes)
    }

    /// Certifies a new device into an existing backup, with the recovery key: checks the
    /// stored manifest, adds the device (counter + 1) and signs with the recovery key. Store
    /// the returned manifest.
    ///
    /// # Errors
    /// As [`restore`] for the manifest (`WrongRecoveryKey`, `BadSignature`, `UnknownSigner`,
    /// `Malformed`); [`BackupError::BackupFull`] at [`MAX_BACKUP_DEVICES`].
    pub fn enroll<R: CryptoRng + ?Sized>(
        key: &RecoveryKey,
        manifest: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(BackupWriter, Vec<u8>), BackupError> {
        let secrets = key.secrets();
        let mut current =
            checked_manifest(manifest, &secrets.backup_id, &secrets.public_key().signing)?;
        if current.devices.len() >= MAX_BACKUP_DEVICES {
            return Err(BackupError::BackupFull {
                max: MAX_BACKUP_DEVICES,
            });
        }
        let device = new_device_key(rng);
        current.devices.push(DeviceCertificate::issue(
            &secrets.signing,
            &secrets.backup_id,
            device.verifying_key().to_bytes(),
            now.as_unix_secs(),
        ));
        current.previous = manifest_hash(manifest);
        current.counter = current
            .counter
            .checked_add(1)
            .ok_or(BackupError::BackupFull {
                max: MAX_BACKUP_ENTRIES,
            })?;
        current.written_at = now.as_unix_secs();
        let bytes = current.sign(&secrets.signing);
        Ok((
            BackupWriter {
                public: secrets.public_key(),
                device,
                manifest: current,
                manifest_bytes: bytes.clone(),
            },
            bytes,
        ))
    }

    /// Rebuilds a writer the app kept: the public key, the device key's seed
    /// ([`BackupWriter::dangerous_device_seed`]) and the latest manifest.
    ///
    /// # Errors
    /// As [`BackupWriter::accept_manifest`] for the manifest; [`BackupError::UnknownSigner`]
    /// if the manifest does not certify this device key.
    pub fn resume(
        public: BackupPublicKey,
        device_seed: &[u8; 32],
        manifest: &[u8],
    ) -> Result<BackupWriter, BackupError> {
        let parsed = checked_manifest(manifest, &public.backup_id, &public.signing)?;
        let device = SigningKey::from_bytes(device_seed);
        let key = device.verifying_key().to_bytes();
        if !parsed.devices.iter().any(|d| d.device_key == key) {
            return Err(BackupError::UnknownSigner);
        }
        Ok(BackupWriter {
            public,
            device,
            manifest: parsed,
            manifest_bytes: manifest.to_vec(),
        })
    }

    /// The device key's seed, for the app's key store (with [`BackupWriter::resume`]). It
    /// lets its holder append to the backup, not read it.
    pub fn dangerous_device_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.device.to_bytes())
    }

    /// The backup public key.
    pub fn public_key(&self) -> &BackupPublicKey {
        &self.public
    }

    /// The latest manifest this writer knows.
    pub fn manifest(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// The latest manifest's counter: the app remembers it and passes it to [`restore`] as
    /// `min_counter`, so that an older manifest is refused.
    pub fn counter(&self) -> u64 {
        self.manifest.counter
    }

    /// How many entries the backup lists.
    pub fn entry_count(&self) -> usize {
        self.manifest.records.len()
    }

    /// Seals `items` as new entries and signs the manifest that lists them. The writer moves
    /// to the new manifest only if every item sealed.
    ///
    /// # Errors
    /// [`BackupError::BackupFull`] past [`MAX_BACKUP_ENTRIES`];
    /// [`BackupError::PayloadTooLarge`] for an item over [`MAX_ENTRY_PAYLOAD_LEN`];
    /// [`BackupError::InvalidPublicKey`]. The writer is unchanged on error.
    pub fn append<R: CryptoRng + ?Sized>(
        &mut self,
        items: &[BackupItem<'_>],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Appended, BackupError> {
        let count = self.manifest.records.len();
        if count.saturating_add(items.len()) > MAX_BACKUP_ENTRIES {
            return Err(BackupError::BackupFull {
                max: MAX_BACKUP_ENTRIES,
            });
        }
        let mut next = self.manifest.clone();
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let (kind, id, payload) = item.encode();
            let seq = u64::try_from(count + i).unwrap_or(u64::MAX);
            let sealed = seal_entry(&self.public, kind, &id, seq, &payload, rng)?;
            next.records.push(EntryRecord {
                kind,
                id,
                digest: entry_digest(&sealed),
            });
            entries.push(sealed);
        }
        next.counter = next.counter.checked_add(1).ok_or(BackupError::BackupFull {
            max: MAX_BACKUP_ENTRIES,
        })?;
        next.previous = manifest_hash(&self.manifest_bytes);
        next.written_at = now.as_unix_secs();
        let manifest = next.sign(&self.device);
        self.manifest = next;
        self.manifest_bytes = manifest.clone();
        Ok(Appended { entries, manifest })
    }

    /// Appends the device's identity book and, if `options` say so, its identity key pair.
    /// Never its sessions.
    ///
    /// # Errors
    /// As [`BackupWriter::append`].
    pub fn append_device<R: CryptoRng + ?Sized>(
        &mut self,
        device: &Device,
        options: &BackupOptions,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Appended, BackupError> {
        let mut items = vec![BackupItem::IdentityBook(device)];
        if options.include_identity_key {
            items.push(BackupItem::IdentityKey(
                device.account().identity_key_pair(),
            ));
        }
        self.append(&items, now, rng)
    }

    /// Moves to a newer manifest written by another device of the same backup, after
    /// checking it: signed by a certified key, a higher counter, and listing every entry this
    /// writer's manifest lists, in the same order (and, for the next counter, naming this
    /// writer's manifest as `previous`). The same manifest again is accepted as is.
    ///
    /// # Errors
    /// [`BackupError::WrongRecoveryKey`] for another backup's manifest; `Malformed`,
    /// `BadSignature`, `UnknownSigner`; [`BackupError::RolledBack`] for an older one;
    /// [`BackupError::ManifestForked`] for another history (another manifest with this
    /// writer's counter, or one that does not extend it). The writer is unchanged on error.
    pub fn accept_manifest(&mut self, manifest: &[u8]) -> Result<(), BackupError> {
        if manifest == self.manifest_bytes.as_slice() {
            return Ok(());
        }
        let newer = checked_manifest(manifest, &self.public.backup_id, &self.public.signing)?;
        if newer.counter == self.manifest.counter {
            return Err(BackupError::ManifestForked);
        }
        let minimum = self.manifest.counter.saturating_add(1);
        if newer.counter < minimum {
            return Err(BackupError::RolledBack {
                found: newer.counter,
                minimum,
            });
        }
        let extends = newer.records.len() >= self.manifest.records.len()
            && newer
                .records
                .iter()
                .zip(&self.manifest.records)
                .all(|(a, b)| a == b);
        let chained =
            newer.counter != minimum || newer.previous == manifest_hash(&self.manifest_bytes);
        if !extends || !chained {
            return Err(BackupError::ManifestForked);
        }
        self.manifest = newer;
        self.manifest_bytes = manifest.to_vec();
        Ok(())
    }
}

fn new_device_key<R: CryptoRng + ?Sized>(rng: &mut R) -> SigningKey {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut());
    SigningKey::from_bytes(&seed)
}

/// Decodes a manifest, checks its backup id, then its certificates and signature.
fn checked_manifest(
    bytes: &[u8],
    backup_id: &[u8; 32],
    recovery_signing: &[u8; 32],
) -> Result<Manifest, BackupError> {
    let manifest = Manifest::decode(bytes)?;
    if manifest.backup_id != *backup_id {
        return Err(BackupError::WrongRecoveryKey);
    }
    manifest.verify(recovery_signing)?;
    Ok(manifest)
}

/// Most bytes of an encoded manifest.
const MAX_MANIFEST_LEN: usize = super::manifest::MANIFEST_BASE_LEN
    + MAX_BACKUP_DEVICES * (32 + 8 + 64)
    + MAX_BACKUP_ENTRIES * super::manifest::RECORD_LEN;

/// Encodes a whole backup as stored (SPEC.md §18.6): the optional passphrase wrap, the
/// manifest, and the entries in order.
///
/// # Errors
/// [`BackupError::BackupFull`] for more than [`MAX_BACKUP_ENTRIES`] entries;
/// [`BackupError::PayloadTooLarge`] for a manifest or an entry longer than a stored one may
/// be, or a whole backup over [`MAX_BACKUP_LEN`].
pub fn encode_backup(
    wrapped: Option<&WrappedRecoveryKey>,
    manifest: &[u8],
    entries: &[Vec<u8>],
) -> Result<Vec<u8>, BackupError> {
    if entries.len() > MAX_BACKUP_ENTRIES {
        return Err(BackupError::BackupFull {
            max: MAX_BACKUP_ENTRIES,
        });
    }
    let too_large = |len: usize, max: usize| BackupError::PayloadTooLarge { len, max };
    if manifest.len() > MAX_MANIFEST_LEN {
        return Err(too_large(manifest.len(), MAX_MANIFEST_LEN));
    }
    let total = 2
        + 1
        + WRAPPED_RECOVERY_KEY_LEN
        + 4
        + manifest.len()
        + 4
        + entries.iter().map(|e| 4 + e.len()).sum::<usize>();
    if total > MAX_BACKUP_LEN {
        return Err(too_large(total, MAX_BACKUP_LEN));
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&[WIRE_VERSION, TYPE_BACKUP]);
    match wrapped {
        Some(w) => {
            out.push(1);
            out.extend_from_slice(&w.to_bytes());
        }
        None => out.push(0),
    }
    // Lengths fit in u32: the manifest and entries are bounded far below 4 GiB above.
    out.extend_from_slice(
        &u32::try_from(manifest.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(manifest);
    out.extend_from_slice(
        &u32::try_from(entries.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    for e in entries {
        if e.len() > MAX_ENTRY_LEN {
            return Err(too_large(e.len(), MAX_ENTRY_LEN));
        }
        out.extend_from_slice(&u32::try_from(e.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Most bytes of one sealed entry.
const MAX_ENTRY_LEN: usize = ENTRY_OVERHEAD + MAX_ENTRY_PAYLOAD_LEN;

/// A decoded backup container.
struct Stored<'a> {
    wrapped: Option<WrappedRecoveryKey>,
    manifest: &'a [u8],
    entries: Vec<&'a [u8]>,
}

/// Reads a `u32` length and checks it against `max`.
fn length(r: &mut Reader<'_>, max: usize) -> Result<usize, DecodeError> {
    let len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
    if len > max {
        return Err(DecodeError::TooLarge { len, max });
    }
    Ok(len)
}

fn decode_stored(bytes: &[u8]) -> Result<Stored<'_>, BackupError> {
    let mut r = Reader::new(bytes);
    read_header(&mut r, TYPE_BACKUP)?;
    if bytes.len() > MAX_BACKUP_LEN {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: MAX_BACKUP_LEN,
        }
        .into());
    }
    let wrapped = if r.flag("wrapped key")? {
        Some(WrappedRecoveryKey::from_bytes(
            r.take(WRAPPED_RECOVERY_KEY_LEN)?,
        )?)
    } else {
        None
    };
    let manifest_len = length(&mut r, MAX_MANIFEST_LEN)?;
    let manifest = r.take(manifest_len)?;
    let count = length(&mut r, MAX_BACKUP_ENTRIES)?;
    let mut entries = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = length(&mut r, MAX_ENTRY_LEN)?;
        entries.push(r.take(len)?);
    }
    r.finish()?;
    Ok(Stored {
        wrapped,
        manifest,
        entries,
    })
}

/// Opens the passphrase-wrapped recovery key stored in a backup (SPEC.md §18.2.2). Then call
/// [`restore`] with it.
///
/// # Errors
/// `Malformed` for a backup that does not decode; [`BackupError::NotPassphraseProtected`];
/// [`BackupError::KdfParamsOutOfRange`] (checked before hashing);
/// [`BackupError::WrongPassphrase`].
pub fn unwrap_recovery_key(backup: &[u8], passphrase: &[u8]) -> Result<RecoveryKey, BackupError> {
    let stored = decode_stored(backup)?;
    stored
        .wrapped
        .ok_or(BackupError::NotPassphraseProtected)?
        .unwrap(passphrase)
}

/// What a restore gives back. 1:1 sessions are not in it, by design (SPEC.md §18.1): start
/// fresh sessions with [`RestoredBackup::sessions_to_restart`] (the reset path of §12.4 if
/// the peer still holds the old one), and tell the user the conversations were re-secured.
#[non_exhaustive]
pub struct RestoredBackup {
    /// The manifest's counter: remember it, and pass it as `min_counter` next time.
    pub counter: u64,
    /// When the manifest was written (the writer's clock).
    pub written_at: Timestamp,
    /// The identity key pair, if the user opted in to backing it up.
    pub identity: Option<IdentityKeyPair>,
    /// The group sessions, the latest entry of each group: new group messages decrypt at
    /// once.
    pub groups: Vec<GroupSession>,
    /// The app's own records, the latest entry of each id.
    pub app_data: Vec<([u8; 32], Zeroizing<Vec<u8>>)>,
    /// Every peer a 1:1 session must be started with afresh: the identity book's users and
    /// the groups' other members. No Double Ratchet state was restored.
    pub sessions_to_restart: Vec<IdentityKey>,
    identity_book: Option<IdentityBook>,
}

impl fmt::Debug for RestoredBackup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestoredBackup")
            .field("counter", &self.counter)
            .field("identity", &self.identity)
            .field("groups", &self.groups.len())
            .field("app_data", &self.app_data.len())
            .field("identity_records", &self.identity_record_count())
            .field("sessions_to_restart", &self.sessions_to_restart.len())
            .finish_non_exhaustive()
    }
}

impl RestoredBackup {
    /// How many users the restored identity book records (0 if none was backed up).
    pub fn identity_record_count(&self) -> usize {
        self.identity_book.as_ref().map_or(0, IdentityBook::len)
    }

    /// The restored device: the restored identity (or `fallback_identity` if none was
    /// backed up) with fresh prekeys, no sessions, and the restored identity book.
    pub fn to_device<R: CryptoRng + ?Sized>(
        &self,
        fallback_identity: IdentityKeyPair,
        now: Timestamp,
        rng: &mut R,
    ) -> Device {
        let identity = self.identity.clone().unwrap_or(fallback_identity);
        let account = crate::account::Account::from_identity(identity, now, rng);
        let mut device = Device::from_account(account);
        self.apply_identity_book(&mut device);
        device
    }

    /// Replaces the device's identity book with the restored one, if one was backed up.
    pub fn apply_identity_book(&self, device: &mut Device) {
        if let Some(book) = &self.identity_book {
            device.identities = book.clone();
        }
    }
}

/// Restores a backup encoded by [`encode_backup`] with the recovery key (SPEC.md §18.7).
/// Every check runs before anything is returned: backup id, certificates, manifest signature,
/// counter, then every entry's position, digest and decryption.
///
/// # Errors
/// [`BackupError::Malformed`]; [`BackupError::WrongRecoveryKey`];
/// [`BackupError::BadSignature`] / [`BackupError::UnknownSigner`] for a forged manifest;
/// [`BackupError::RolledBack`] when its counter is below `min_counter` (pass 0 if the app
/// knows none); [`BackupError::EntryUnlisted`], [`BackupError::EntryOutOfOrder`],
/// [`BackupError::EntryTampered`], [`BackupError::EntryMissing`] for entries injected,
/// reordered, altered or dropped; [`BackupError::EntryContent`] for authentic content that
/// breaks a limit.
pub fn restore(
    key: &RecoveryKey,
    backup: &[u8],
    min_counter: u64,
) -> Result<RestoredBackup, BackupError> {
    let stored = decode_stored(backup)?;
    let secrets = key.secrets();
    let public = secrets.public_key();
    let manifest = checked_manifest(stored.manifest, &secrets.backup_id, &public.signing)?;
    if manifest.counter < min_counter {
        return Err(BackupError::RolledBack {
            found: manifest.counter,
            minimum: min_counter,
        });
    }
    let stored_wrap = stored
        .wrapped
        .as_ref()
        .map_or([0; 32], |w| wrap_digest(&w.to_bytes()));
    if stored_wrap != manifest.wrap_digest {
        return Err(BackupError::WrappedKeyMismatch);
    }
    let listed = manifest.records.len();
    if stored.entries.len() > listed {
        return Err(BackupError::EntryUnlisted {
            seq: u64::try_from(listed).unwrap_or(u64::MAX),
        });
    }
    let mut decoded = Vec::with_capacity(stored.entries.len());
    for (position, (bytes, record)) in stored.entries.iter().zip(&manifest.records).enumerate() {
        let position = u64::try_from(position).unwrap_or(u64::MAX);
        let entry = SealedEntry::decode(bytes)?;
        if entry.seq != position {
            return Err(BackupError::EntryOutOfOrder {
                position,
                seq: entry.seq,
            });
        }
        if entry_digest(bytes) != record.digest
            || entry.kind != record.kind
            || entry.id != record.id
            || entry.backup_id != secrets.backup_id
        {
            return Err(BackupError::EntryTampered { seq: position });
        }
        decoded.push(entry);
    }
    if stored.entries.len() < listed {
        return Err(BackupError::EntryMissing {
            seq: u64::try_from(stored.entries.len()).unwrap_or(u64::MAX),
        });
    }
    // The latest entry of each (kind, id) is the one restored; earlier ones are superseded
    // (their bytes were checked against the signed digests above).
    let mut latest: BTreeMap<(EntryKind, [u8; 32]), usize> = BTreeMap::new();
    for (i, e) in decoded.iter().enumerate() {
        latest.insert((e.kind, e.id), i);
    }
    let mut identity = None;
    let mut identity_book = None;
    let mut groups = Vec::new();
    let mut app_data = Vec::new();
    for (&(kind, id), &i) in &latest {
        let Some(entry) = decoded.get(i) else {
            continue;
        };
        let payload = entry.open(&secrets)?;
        let content = BackupError::EntryContent;
        match kind {
            EntryKind::GroupSession => {
                let group = crate::group::decode_snapshot(&payload).map_err(content)?;
                if *group.group_id().as_bytes() != id {
                    return Err(content(RestoreError::Corrupt));
                }
                groups.push(group);
            }
            EntryKind::IdentityBook => {
                let records: Vec<IdentityRecordV1> =
                    crate::persist::decode_exact(&payload).map_err(content)?;
                identity_book = Some(
                    IdentityBook::from_snapshot(&records, crate::persist::KeyChecks::Full)
                        .map_err(content)?,
                );
            }
            EntryKind::IdentityKey => {
                let seed: &[u8; 32] = payload
                    .as_slice()
                    .try_into()
                    .map_err(|_| content(RestoreError::Corrupt))?;
                identity = Some(IdentityKeyPair::dangerous_from_seed(seed));
            }
            EntryKind::AppData => app_data.push((id, payload)),
        }
    }
    let mut peers: BTreeSet<IdentityKey> = BTreeSet::new();
    if let Some(book) = &identity_book {
        peers.extend(book.current_keys());
    }
    for g in &groups {
        peers.extend(
            g.roster()
                .members()
                .iter()
                .map(|m| *m.identity())
                .filter(|k| k != g.own_identity()),
        );
    }
    if let Some(own) = &identity {
        peers.remove(own.public());
    }
    Ok(RestoredBackup {
        counter: manifest.counter,
        written_at: Timestamp::from_unix_secs(manifest.written_at),
        identity,
        groups,
        app_data,
        sessions_to_restart: peers.into_iter().collect(),
        identity_book,
    })
}
