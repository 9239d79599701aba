//! Encrypted key backup and recovery under a recovery key (SPEC.md §18).
//!
//! A backup lets a user who lost every device get back into their group conversations
//! without the storage provider (the vendor's server, a cloud drive) ever being able to read
//! it. Everything here is pure: the app stores the bytes wherever it likes.
//!
//! - **Recovery key** ([`RecoveryKey`]): 32 random bytes from the caller's RNG, shown to the
//!   user as 55 Crockford base32 characters in 11 groups of 5 with two checks (a Luhn mod 32
//!   character that catches every single mistyped character, and a 10-bit hash). Optionally
//!   wrapped under a passphrase with Argon2id ([`WrappedRecoveryKey`]), with parameters stored
//!   beside it and bounded on unwrap ([`MAX_ARGON2_MEMORY_KIB`], [`MAX_ARGON2_ITERATIONS`],
//!   [`MAX_ARGON2_LANES`]).
//! - **Derived keys** (HKDF-SHA256): a public backup id, the encryption key pair (X25519 and
//!   ML-KEM-768, whose public half is the [`BackupPublicKey`]) and the recovery signing key.
//! - **Entries** ([`BackupItem`]): group sessions (sender keys at their current iteration,
//!   with the roster), the identity book (verification state), the app's own records (for
//!   example device lists), and the identity key only when the app opts in
//!   ([`BackupOptions::include_identity_key`]). **Never Double Ratchet sessions**: there is no
//!   way to put one in. Each entry is sealed to the backup public key (a fresh hybrid
//!   encapsulation per entry) with its kind, id and sequence number as associated data.
//! - **Manifest**: lists every entry by digest, carries a counter and the hash of the manifest
//!   it replaces, and is signed by the recovery signing key or by a device key that key
//!   certified. A device that holds only a [`BackupWriter`] (the public key and its device
//!   key) can append, but cannot read the backup; someone who holds only the public key can
//!   seal an entry, but no manifest will list it.
//! - **Restore** ([`restore`]): checks everything before returning anything; an injected,
//!   dropped, reordered, altered or rolled-back entry or manifest is a typed [`BackupError`].
//!   Group messages sent after the backup decrypt at once; 1:1 sessions are not restored, and
//!   [`RestoredBackup::sessions_to_restart`] lists the peers to start fresh sessions with.
//!
//! ```
//! use hushwire::backup::{self, BackupOptions, BackupWriter, RecoveryKey};
//! use hushwire::{Device, Timestamp};
//! use rand_core::SeedableRng;
//! # fn main() -> Result<(), hushwire::Error> {
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let device = Device::new(now, &mut rng);
//!
//! // Once, on the first device: make the key, show it to the user, start the backup.
//! let key = RecoveryKey::generate(&mut rng);
//! let shown = key.to_display();
//! let (mut writer, manifest) = BackupWriter::create(&key, None, now, &mut rng);
//! let mut entries = Vec::new();
//! // From then on, without the recovery key: append as state changes.
//! let appended = writer.append_device(&device, &BackupOptions::default(), now, &mut rng)?;
//! entries.extend(appended.entries);
//! let stored = backup::encode_backup(None, &appended.manifest, &entries)?;
//!
//! // On a new device: the user types the key back in.
//! let typed = RecoveryKey::from_display(&shown)?;
//! let restored = backup::restore(&typed, &stored, 0)?;
//! assert_eq!(restored.counter, 1);
//! assert!(restored.identity.is_none()); // the identity key is opt-in
//! # let _ = manifest;
//! # Ok(())
//! # }
//! ```

mod archive;
mod entry;
mod manifest;
mod recovery_key;

pub use archive::{
    Appended, BackupOptions, BackupWriter, RestoredBackup, encode_backup, restore,
    unwrap_recovery_key,
};
pub use entry::{BackupItem, ENTRY_OVERHEAD, EntryKind};
pub use recovery_key::{
    Argon2Params, BackupPublicKey, DEFAULT_ARGON2_ITERATIONS, DEFAULT_ARGON2_LANES,
    DEFAULT_ARGON2_MEMORY_KIB, MAX_ARGON2_ITERATIONS, MAX_ARGON2_LANES, MAX_ARGON2_MEMORY_KIB,
    MIN_ARGON2_ITERATIONS, MIN_ARGON2_LANES, MIN_ARGON2_MEMORY_KIB_PER_LANE,
    RECOVERY_KEY_DISPLAY_LEN, RecoveryKey, WRAPPED_RECOVERY_KEY_LEN, WrappedRecoveryKey,
};

use thiserror::Error;

use crate::error::{DecodeError, ErrorKind};
use crate::persist::RestoreError;

/// Most entries one backup lists. A manifest with this many records is about 1 MiB.
pub const MAX_BACKUP_ENTRIES: usize = 16_384;
/// Most devices one manifest certifies as writers.
pub const MAX_BACKUP_DEVICES: usize = 32;
/// Most bytes of one entry's plaintext (a group session with many members and stored keys
/// is the largest).
pub const MAX_ENTRY_PAYLOAD_LEN: usize = 4 * 1024 * 1024;
/// Most bytes of a whole encoded backup ([`encode_backup`]) that [`restore`] reads.
pub const MAX_BACKUP_LEN: usize = 256 * 1024 * 1024;

/// Errors from making, appending to, unwrapping and restoring a backup.
///
/// Restoring is a pure function: on any of these nothing is returned and nothing changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BackupError {
    /// A backup structure is not well formed (truncated, trailing bytes, unknown version or
    /// type, a count above its limit).
    #[error("malformed backup structure: {0}")]
    Malformed(DecodeError),
    /// The text is not a recovery key: wrong length, or a character outside the alphabet.
    #[error("not a recovery key: expected {RECOVERY_KEY_DISPLAY_LEN} base32 characters")]
    RecoveryKeyFormat,
    /// The text has the shape of a recovery key but its checksum fails: a character was
    /// mistyped. Ask the user to check it.
    #[error("recovery key checksum failed: a character is mistyped")]
    RecoveryKeyMistyped,
    /// The backup was made under another recovery key (its backup id is not this key's).
    #[error("this backup was made under another recovery key")]
    WrongRecoveryKey,
    /// The passphrase does not open the wrapped recovery key (or the wrap was altered).
    #[error("the passphrase does not open the wrapped recovery key")]
    WrongPassphrase,
    /// The backup holds no passphrase-wrapped recovery key: ask for the recovery key itself.
    #[error("this backup has no passphrase: enter the recovery key")]
    NotPassphraseProtected,
    /// An Argon2id parameter is outside its bounds: on wrapping, or, in a stored wrap, above
    /// the maximum this build will spend (a crafted wrap cannot make a device hash for hours).
    #[error("Argon2id parameter `{name}` = {value} is outside {min}..={max}")]
    KdfParamsOutOfRange {
        /// Which parameter: `"memory_kib"`, `"iterations"` or `"lanes"`.
        name: &'static str,
        /// Its value.
        value: u32,
        /// The smallest allowed.
        min: u32,
        /// The largest allowed.
        max: u32,
    },
    /// A device certificate or the manifest signature does not verify.
    #[error("bad signature on the backup manifest or a device certificate")]
    BadSignature,
    /// The manifest is signed by a key that is neither the recovery signing key nor a device
    /// key it certified.
    #[error("the manifest is signed by a key the recovery key never certified")]
    UnknownSigner,
    /// The manifest is older than the newest one this app has seen.
    #[error("backup manifest {found} is older than {minimum}: rolled back")]
    RolledBack {
        /// The manifest's counter.
        found: u64,
        /// The smallest counter the caller accepts.
        minimum: u64,
    },
    /// The manifest lists an entry that is not in the backup (dropped by the store).
    #[error("entry {seq} listed in the manifest is missing")]
    EntryMissing {
        /// Its sequence number.
        seq: u64,
    },
    /// The backup holds an entry the manifest does not list (injected).
    #[error("entry at position {seq} is not listed in the manifest")]
    EntryUnlisted {
        /// Its position in the backup.
        seq: u64,
    },
    /// An entry carries another sequence number than its position (reordered).
    #[error("entry at position {position} has sequence number {seq}")]
    EntryOutOfOrder {
        /// Its position in the backup.
        position: u64,
        /// The sequence number it carries.
        seq: u64,
    },
    /// The stored passphrase wrap is not the one the manifest names (swapped, altered,
    /// added or removed).
    #[error("the passphrase-wrapped key is not the one the manifest names")]
    WrappedKeyMismatch,
    /// An entry's bytes differ from what the manifest lists, or it fails to decrypt.
    #[error("entry {seq} was altered")]
    EntryTampered {
        /// Its sequence number.
        seq: u64,
    },
    /// An authentic entry's content breaks a limit or invariant of the state it holds.
    #[error("invalid entry content: {0}")]
    EntryContent(RestoreError),
    /// A manifest offered to [`BackupWriter::accept_manifest`] does not extend the one the
    /// writer holds (another history of the same backup).
    #[error("the manifest does not extend this writer's manifest")]
    ManifestForked,
    /// The manifest already lists [`MAX_BACKUP_ENTRIES`] entries, or certifies
    /// [`MAX_BACKUP_DEVICES`] devices.
    #[error("the backup is full: at most {max}")]
    BackupFull {
        /// The limit reached.
        max: usize,
    },
    /// An entry's payload is longer than [`MAX_ENTRY_PAYLOAD_LEN`].
    #[error("entry payload of {len} bytes exceeds the maximum of {max}")]
    PayloadTooLarge {
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The backup public key is not valid (its ML-KEM half fails the FIPS 203 check, or its
    /// X25519 half gives no contributory secret).
    #[error("invalid backup public key")]
    InvalidPublicKey,
}

impl BackupError {
    /// A stable, language-neutral name of this error, `"backup.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::Malformed(_) => "backup.malformed",
            BackupError::RecoveryKeyFormat => "backup.recovery_key_format",
            BackupError::RecoveryKeyMistyped => "backup.recovery_key_mistyped",
            BackupError::WrongRecoveryKey => "backup.wrong_recovery_key",
            BackupError::WrongPassphrase => "backup.wrong_passphrase",
            BackupError::NotPassphraseProtected => "backup.not_passphrase_protected",
            BackupError::KdfParamsOutOfRange { .. } => "backup.kdf_params_out_of_range",
            BackupError::BadSignature => "backup.bad_signature",
            BackupError::UnknownSigner => "backup.unknown_signer",
            BackupError::RolledBack { .. } => "backup.rolled_back",
            BackupError::EntryMissing { .. } => "backup.entry_missing",
            BackupError::EntryUnlisted { .. } => "backup.entry_unlisted",
            BackupError::EntryOutOfOrder { .. } => "backup.entry_out_of_order",
            BackupError::WrappedKeyMismatch => "backup.wrapped_key_mismatch",
            BackupError::EntryTampered { .. } => "backup.entry_tampered",
            BackupError::EntryContent(_) => "backup.entry_content",
            BackupError::ManifestForked => "backup.manifest_forked",
            BackupError::BackupFull { .. } => "backup.backup_full",
            BackupError::PayloadTooLarge { .. } => "backup.payload_too_large",
            BackupError::InvalidPublicKey => "backup.invalid_public_key",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BackupError::Malformed(e) => e.kind(),
            BackupError::EntryContent(e) => e.kind(),
            BackupError::RecoveryKeyFormat
            | BackupError::RecoveryKeyMistyped
            | BackupError::NotPassphraseProtected => ErrorKind::InvalidInput,
            BackupError::WrongRecoveryKey
            | BackupError::WrongPassphrase
            | BackupError::BadSignature
            | BackupError::UnknownSigner
            | BackupError::EntryMissing { .. }
            | BackupError::EntryUnlisted { .. }
            | BackupError::EntryOutOfOrder { .. }
            | BackupError::WrappedKeyMismatch
            | BackupError::EntryTampered { .. }
            | BackupError::ManifestForked
            | BackupError::InvalidPublicKey => ErrorKind::Tampered,
            BackupError::RolledBack { .. } => ErrorKind::Replay,
            BackupError::KdfParamsOutOfRange { .. }
            | BackupError::BackupFull { .. }
            | BackupError::PayloadTooLarge { .. } => ErrorKind::LimitExceeded,
        }
    }
}

impl From<DecodeError> for BackupError {
    fn from(e: DecodeError) -> Self {
        BackupError::Malformed(e)
    }
}

/// Checks the version and type bytes at the start of a backup structure (SPEC.md §1.4.1:
/// version first, then type).
pub(crate) fn read_header(
    r: &mut crate::wire::Reader<'_>,
    expected: u8,
) -> Result<(), DecodeError> {
    // No length limit here: each backup structure checks its own sizes as it reads.
    crate::wire::expect_header(r, 0, expected, usize::MAX)
}
