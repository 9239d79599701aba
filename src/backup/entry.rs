//! Backup entries: what may be backed up, and each entry sealed to the backup public key
//! (SPEC.md §18.4).

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::recovery_key::{BackupPublicKey, BackupSecrets};
use super::{BackupError, MAX_ENTRY_PAYLOAD_LEN, read_header};
use crate::aead::{NONCE_LEN, TAG_LEN, open_into, seal_into};
use crate::error::DecodeError;
use crate::group::GroupSession;
use crate::keys::{IdentityKeyPair, KEM_CIPHERTEXT_LEN, dh_checked, kem_encapsulate};
use crate::labels::{LABEL_BACKUP_ENTRY_DIGEST, LABEL_BACKUP_ENTRY_KEY};
use crate::wire::TYPE_BACKUP_ENTRY;
use crate::wire::{Reader, WIRE_VERSION};

/// Bytes of an entry before its ciphertext: version, type, backup id, kind, id, sequence
/// number, ephemeral X25519 key, ML-KEM ciphertext. All of it is associated data.
pub(crate) const ENTRY_HEADER_LEN: usize = 2 + 32 + 1 + 32 + 8 + 32 + KEM_CIPHERTEXT_LEN;
/// Bytes an entry adds to its payload: header and tag.
pub const ENTRY_OVERHEAD: usize = ENTRY_HEADER_LEN + TAG_LEN;

/// What an entry holds (its kind byte, SPEC.md §18.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EntryKind {
    /// A group session: sender keys at their current iteration and the roster (`0x01`).
    GroupSession,
    /// The identity book: the identity key recorded for each user and its verification
    /// state (`0x02`).
    IdentityBook,
    /// The device's identity key pair, only when the app opts in (`0x03`).
    IdentityKey,
    /// The app's own record (device lists, contact names), opaque to hushwire (`0x04`).
    AppData,
}

impl EntryKind {
    /// The kind byte.
    pub fn to_byte(self) -> u8 {
        match self {
            EntryKind::GroupSession => 0x01,
            EntryKind::IdentityBook => 0x02,
            EntryKind::IdentityKey => 0x03,
            EntryKind::AppData => 0x04,
        }
    }

    /// The kind of a kind byte, `None` for an unknown one.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0x01 => Some(EntryKind::GroupSession),
            0x02 => Some(EntryKind::IdentityBook),
            0x03 => Some(EntryKind::IdentityKey),
            0x04 => Some(EntryKind::AppData),
            _ => None,
        }
    }
}

/// One thing to back up. There is deliberately no item for a 1:1 [`crate::Session`]:
/// restoring Double Ratchet state duplicates message keys and wedges sessions (SPEC.md
/// §18.1); a restored device starts fresh sessions instead.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum BackupItem<'a> {
    /// A group session (id: the group id).
    GroupSession(&'a GroupSession),
    /// The device's identity book (id: 32 zero bytes).
    IdentityBook(&'a crate::device::Device),
    /// An identity key pair (id: 32 zero bytes). Back it up only if the user opted in
    /// ([`super::BackupOptions::include_identity_key`]).
    IdentityKey(&'a IdentityKeyPair),
    /// The app's own bytes under its own 32-byte id, at most [`MAX_ENTRY_PAYLOAD_LEN`].
    AppData {
        /// The app's id for the record; a later entry with the same id replaces it.
        id: [u8; 32],
        /// The record.
        bytes: &'a [u8],
    },
}

impl core::fmt::Debug for BackupItem<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BackupItem::GroupSession(g) => f.debug_tuple("GroupSession").field(g).finish(),
            BackupItem::IdentityBook(_) => f.write_str("IdentityBook(..)"),
            BackupItem::IdentityKey(k) => f.debug_tuple("IdentityKey").field(k).finish(),
            BackupItem::AppData { bytes, .. } => f
                .debug_struct("AppData")
                .field("len", &bytes.len())
                .finish_non_exhaustive(),
        }
    }
}

impl BackupItem<'_> {
    /// The kind, the id and the payload (SPEC.md §18.4.1).
    pub(crate) fn encode(&self) -> (EntryKind, [u8; 32], Zeroizing<Vec<u8>>) {
        match self {
            BackupItem::GroupSession(g) => (
                EntryKind::GroupSession,
                *g.group_id().as_bytes(),
                crate::group::encode_snapshot(g),
            ),
            BackupItem::IdentityBook(device) => (
                EntryKind::IdentityBook,
                [0; 32],
                crate::persist::encode_wiping(&device.identities.to_snapshot()),
            ),
            BackupItem::IdentityKey(pair) => (
                EntryKind::IdentityKey,
                [0; 32],
                Zeroizing::new(pair.dangerous_to_seed().to_vec()),
            ),
            BackupItem::AppData { id, bytes } => {
                (EntryKind::AppData, *id, Zeroizing::new(bytes.to_vec()))
            }
        }
    }
}

/// A decoded entry (not yet opened).
pub(crate) struct SealedEntry<'a> {
    pub(crate) backup_id: [u8; 32],
    pub(crate) kind: EntryKind,
    pub(crate) id: [u8; 32],
    pub(crate) seq: u64,
    ephemeral: [u8; 32],
    kem_ciphertext: &'a [u8; KEM_CIPHERTEXT_LEN],
    header: &'a [u8],
    ciphertext: &'a [u8],
}

/// The digest of an entry's bytes, as the manifest lists it.
pub(crate) fn entry_digest(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_BACKUP_ENTRY_DIGEST);
    h.update(bytes);
    h.finalize().into()
}

/// The entry key from the two shared secrets (SPEC.md §18.4.2).
fn entry_key(
    dh: &[u8; 32],
    kem: &[u8; 32],
    backup_id: &[u8; 32],
    ephemeral: &[u8; 32],
    kem_ciphertext: &[u8],
) -> Zeroizing<[u8; 32]> {
    let mut ikm = Zeroizing::new([0u8; 64]);
    if let (Some(a), Some(b)) = (ikm.get_mut(..32), Some(dh)) {
        a.copy_from_slice(b);
    }
    if let Some(a) = ikm.get_mut(32..) {
        a.copy_from_slice(kem);
    }
    let ct_hash: [u8; 32] = Sha256::digest(kem_ciphertext).into();
    let hk = Hkdf::<Sha256>::new(None, ikm.as_ref());
    let mut out = Zeroizing::new([0u8; 32]);
    // Cannot fail: 32 bytes is far below HKDF's limit.
    let _ = hk.expand_multi_info(
        &[LABEL_BACKUP_ENTRY_KEY, backup_id, ephemeral, &ct_hash],
        out.as_mut(),
    );
    out
}

/// Seals one entry to the backup public key (SPEC.md §18.4.2).
pub(crate) fn seal_entry<R: CryptoRng + ?Sized>(
    public: &BackupPublicKey,
    kind: EntryKind,
    id: &[u8; 32],
    seq: u64,
    payload: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, BackupError> {
    if payload.len() > MAX_ENTRY_PAYLOAD_LEN {
        return Err(BackupError::PayloadTooLarge {
            len: payload.len(),
            max: MAX_ENTRY_PAYLOAD_LEN,
        });
    }
    let mut eph_bytes = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(eph_bytes.as_mut());
    let eph = StaticSecret::from(*eph_bytes);
    let eph_public = XPublicKey::from(&eph).to_bytes();
    let dh =
        dh_checked(&eph, &XPublicKey::from(public.x25519)).ok_or(BackupError::InvalidPublicKey)?;
    let (kem_ct, kem_ss) =
        kem_encapsulate(&public.kem, rng).map_err(|_| BackupError::InvalidPublicKey)?;
    let key = entry_key(
        dh.as_bytes(),
        kem_ss.as_bytes(),
        &public.backup_id,
        &eph_public,
        &kem_ct,
    );
    let mut out = Vec::with_capacity(ENTRY_OVERHEAD + payload.len());
    out.extend_from_slice(&[WIRE_VERSION, TYPE_BACKUP_ENTRY]);
    out.extend_from_slice(&public.backup_id);
    out.push(kind.to_byte());
    out.extend_from_slice(id);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&eph_public);
    out.extend_from_slice(&kem_ct);
    let header = out.clone();
    seal_into(&key, &[0u8; NONCE_LEN], &header, payload, &mut out);
    Ok(out)
}

impl<'a> SealedEntry<'a> {
    /// Decodes an entry's header (SPEC.md §18.4.2); nothing is decrypted.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        read_header(&mut r, TYPE_BACKUP_ENTRY)?;
        let max = ENTRY_OVERHEAD + MAX_ENTRY_PAYLOAD_LEN;
        if bytes.len() > max {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max,
            });
        }
        let backup_id = r.array::<32>()?;
        let kind =
            EntryKind::from_byte(r.u8()?).ok_or(DecodeError::InvalidField { field: "kind" })?;
        let id = r.array::<32>()?;
        let seq = u64::from_be_bytes(r.array::<8>()?);
        let ephemeral = r.array::<32>()?;
        let kem_ciphertext: &[u8; KEM_CIPHERTEXT_LEN] = r
            .take(KEM_CIPHERTEXT_LEN)?
            .try_into()
            .map_err(|_| DecodeError::Truncated { needed: 0 })?;
        let ciphertext = r.rest();
        if ciphertext.len() < TAG_LEN {
            return Err(DecodeError::Truncated {
                needed: TAG_LEN - ciphertext.len(),
            });
        }
        Ok(SealedEntry {
            backup_id,
            kind,
            id,
            seq,
            ephemeral,
            kem_ciphertext,
            header: bytes.get(..ENTRY_HEADER_LEN).unwrap_or_default(),
            ciphertext,
        })
    }

    /// Decrypts the payload with the recovery key's secrets.
    ///
    /// # Errors
    /// [`BackupError::EntryTampered`] if it does not authenticate.
    pub(crate) fn open(&self, secrets: &BackupSecrets) -> Result<Zeroizing<Vec<u8>>, BackupError> {
        let tampered = BackupError::EntryTampered { seq: self.seq };
        let dh = dh_checked(&secrets.x25519, &XPublicKey::from(self.ephemeral)).ok_or(tampered)?;
        let kem = secrets.kem.decapsulate(self.kem_ciphertext);
        let key = entry_key(
            dh.as_bytes(),
            kem.as_bytes(),
            &secrets.backup_id,
            &self.ephemeral,
            self.kem_ciphertext,
        );
        let mut out = Zeroizing::new(Vec::new());
        if !open_into(
            &key,
            &[0u8; NONCE_LEN],
            self.header,
            self.ciphertext,
            &mut out,
        ) {
            return Err(tampered);
        }
        Ok(out)
    }
}

impl BackupPublicKey {
    /// Seals one item as the entry with sequence number `seq`, as [`super::BackupWriter`]
    /// does for each item it appends. On its own this makes an entry that no manifest lists:
    /// a restore refuses it unless a certified device signs a manifest naming its digest.
    ///
    /// # Errors
    /// [`BackupError::PayloadTooLarge`]; [`BackupError::InvalidPublicKey`].
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        item: &BackupItem<'_>,
        seq: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>, BackupError> {
        let (kind, id, payload) = item.encode();
        seal_entry(self, kind, &id, seq, &payload, rng)
    }
}
