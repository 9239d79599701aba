//! The signed manifest: which entries a backup holds, in which order, and who may write it
//! (SPEC.md §18.5).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::entry::EntryKind;
use super::{BackupError, MAX_BACKUP_DEVICES, MAX_BACKUP_ENTRIES, read_header};
use crate::error::DecodeError;
use crate::labels::{
    LABEL_BACKUP_MANIFEST_HASH, LABEL_BACKUP_WRAP_DIGEST, LABEL_SIG_BACKUP_DEVICE,
    LABEL_SIG_BACKUP_MANIFEST,
};
use crate::wire::TYPE_BACKUP_MANIFEST;
use crate::wire::{Reader, WIRE_VERSION};

/// Bytes of one device certificate in a manifest.
const DEVICE_LEN: usize = 32 + 8 + 64;
/// Bytes of one entry record in a manifest.
pub(crate) const RECORD_LEN: usize = 1 + 32 + 32;
/// Bytes of a manifest with no devices and no records.
pub(crate) const MANIFEST_BASE_LEN: usize = 2 + 32 + 8 + 32 + 8 + 32 + 1 + 4 + 32 + 64;

/// A device key the recovery signing key allows to sign manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeviceCertificate {
    pub(crate) device_key: [u8; 32],
    pub(crate) issued_at: u64,
    pub(crate) signature: [u8; 64],
}

/// What the recovery signing key signs to certify a device key.
fn device_message(backup_id: &[u8; 32], device_key: &[u8; 32], issued_at: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL_SIG_BACKUP_DEVICE.len() + 72);
    m.extend_from_slice(LABEL_SIG_BACKUP_DEVICE);
    m.extend_from_slice(backup_id);
    m.extend_from_slice(device_key);
    m.extend_from_slice(&issued_at.to_be_bytes());
    m
}

impl DeviceCertificate {
    /// Certifies `device_key` with the recovery signing key.
    pub(crate) fn issue(
        recovery: &SigningKey,
        backup_id: &[u8; 32],
        device_key: [u8; 32],
        issued_at: u64,
    ) -> Self {
        let signature = recovery
            .sign(&device_message(backup_id, &device_key, issued_at))
            .to_bytes();
        DeviceCertificate {
            device_key,
            issued_at,
            signature,
        }
    }
}

/// One entry as the manifest lists it; its sequence number is its position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntryRecord {
    pub(crate) kind: EntryKind,
    pub(crate) id: [u8; 32],
    pub(crate) digest: [u8; 32],
}

/// A decoded manifest, signature included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) backup_id: [u8; 32],
    pub(crate) counter: u64,
    pub(crate) previous: [u8; 32],
    pub(crate) written_at: u64,
    /// [`wrap_digest`] of the stored passphrase wrap, all zeros for none.
    pub(crate) wrap_digest: [u8; 32],
    pub(crate) devices: Vec<DeviceCertificate>,
    pub(crate) records: Vec<EntryRecord>,
    pub(crate) signer: [u8; 32],
    pub(crate) signature: [u8; 64],
}

/// The digest of an encoded passphrase wrap, as the manifest names it.
pub(crate) fn wrap_digest(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_BACKUP_WRAP_DIGEST);
    h.update(bytes);
    h.finalize().into()
}

/// The hash of an encoded manifest, as the next one names it.
pub(crate) fn manifest_hash(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_BACKUP_MANIFEST_HASH);
    h.update(bytes);
    h.finalize().into()
}

impl Manifest {
    /// Everything up to and including the signer: what the signature covers, after its label.
    fn signed_part(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            MANIFEST_BASE_LEN + DEVICE_LEN * self.devices.len() + RECORD_LEN * self.records.len(),
        );
        out.extend_from_slice(&[WIRE_VERSION, TYPE_BACKUP_MANIFEST]);
        out.extend_from_slice(&self.backup_id);
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(&self.previous);
        out.extend_from_slice(&self.written_at.to_be_bytes());
        out.extend_from_slice(&self.wrap_digest);
        out.push(u8::try_from(self.devices.len()).unwrap_or(u8::MAX));
        for d in &self.devices {
            out.extend_from_slice(&d.device_key);
            out.extend_from_slice(&d.issued_at.to_be_bytes());
            out.extend_from_slice(&d.signature);
        }
        out.extend_from_slice(
            &u32::try_from(self.records.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for r in &self.records {
            out.push(r.kind.to_byte());
            out.extend_from_slice(&r.id);
            out.extend_from_slice(&r.digest);
        }
        out.extend_from_slice(&self.signer);
        out
    }

    /// Signs with `key` (the recovery signing key or a certified device key) and encodes.
    pub(crate) fn sign(&mut self, key: &SigningKey) -> Vec<u8> {
        self.signer = key.verifying_key().to_bytes();
        let mut out = self.signed_part();
        let mut message = Vec::with_capacity(LABEL_SIG_BACKUP_MANIFEST.len() + out.len());
        message.extend_from_slice(LABEL_SIG_BACKUP_MANIFEST);
        message.extend_from_slice(&out);
        self.signature = key.sign(&message).to_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes a manifest (SPEC.md §18.5.1); nothing is verified.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        read_header(&mut r, TYPE_BACKUP_MANIFEST)?;
        let backup_id = r.array::<32>()?;
        let counter = u64::from_be_bytes(r.array::<8>()?);
        let previous = r.array::<32>()?;
        let written_at = u64::from_be_bytes(r.array::<8>()?);
        let wrap_digest = r.array::<32>()?;
        let device_count = usize::from(r.u8()?);
        if device_count > MAX_BACKUP_DEVICES {
            return Err(DecodeError::TooLarge {
                len: device_count,
                max: MAX_BACKUP_DEVICES,
            });
        }
        let mut devices = Vec::with_capacity(device_count);
        for _ in 0..device_count {
            devices.push(DeviceCertificate {
                device_key: r.array::<32>()?,
                issued_at: u64::from_be_bytes(r.array::<8>()?),
                signature: r.array::<64>()?,
            });
        }
        let record_count = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
        if record_count > MAX_BACKUP_ENTRIES {
            return Err(DecodeError::TooLarge {
                len: record_count,
                max: MAX_BACKUP_ENTRIES,
            });
        }
        let mut records = Vec::with_capacity(record_count);
        for _ in 0..record_count {
            let kind = EntryKind::from_byte(r.u8()?).ok_or(DecodeError::InvalidField {
                field: "record kind",
            })?;
            records.push(EntryRecord {
                kind,
                id: r.array::<32>()?,
                digest: r.array::<32>()?,
            });
        }
        let signer = r.array::<32>()?;
        let signature = r.array::<64>()?;
        r.finish()?;
        Ok(Manifest {
            backup_id,
            counter,
            previous,
            written_at,
            wrap_digest,
            devices,
            records,
            signer,
            signature,
        })
    }

    /// Checks the device certificates and the signature under the recovery verifying key
    /// (SPEC.md §18.5.2 steps 2–4). The backup id is checked by the caller first.
    pub(crate) fn verify(&self, recovery: &[u8; 32]) -> Result<(), BackupError> {
        let recovery_key =
            VerifyingKey::from_bytes(recovery).map_err(|_| BackupError::BadSignature)?;
        for (i, d) in self.devices.iter().enumerate() {
            let sig = Signature::from_bytes(&d.signature);
            recovery_key
                .verify_strict(
                    &device_message(&self.backup_id, &d.device_key, d.issued_at),
                    &sig,
                )
                .map_err(|_| BackupError::BadSignature)?;
            if self
                .devices
                .iter()
                .take(i)
                .any(|e| e.device_key == d.device_key)
            {
                return Err(BackupError::Malformed(DecodeError::InvalidField {
                    field: "devices",
                }));
            }
        }
        let certified =
            self.signer == *recovery || self.devices.iter().any(|d| d.device_key == self.signer);
        if !certified {
            return Err(BackupError::UnknownSigner);
        }
        let signer =
            VerifyingKey::from_bytes(&self.signer).map_err(|_| BackupError::BadSignature)?;
        let mut message = Vec::with_capacity(LABEL_SIG_BACKUP_MANIFEST.len() + 256);
        message.extend_from_slice(LABEL_SIG_BACKUP_MANIFEST);
        message.extend_from_slice(&self.signed_part());
        signer
            .verify_strict(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| BackupError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(records: usize, devices: usize) -> (Manifest, SigningKey) {
        let recovery = SigningKey::from_bytes(&[7; 32]);
        let m = Manifest {
            backup_id: [1; 32],
            counter: 3,
            previous: [2; 32],
            written_at: 1_700_000_000,
            wrap_digest: [0; 32],
            devices: (0..devices)
                .map(|i| {
                    let key = SigningKey::from_bytes(&[u8::try_from(i).unwrap() + 10; 32]);
                    DeviceCertificate::issue(&recovery, &[1; 32], key.verifying_key().to_bytes(), 5)
                })
                .collect(),
            records: (0..records)
                .map(|i| EntryRecord {
                    kind: EntryKind::AppData,
                    id: [u8::try_from(i % 256).unwrap(); 32],
                    digest: [3; 32],
                })
                .collect(),
            signer: [0; 32],
            signature: [0; 64],
        };
        (m, recovery)
    }

    #[test]
    fn round_trips_and_verifies_at_the_limits() {
        let (mut m, recovery) = manifest(MAX_BACKUP_ENTRIES, MAX_BACKUP_DEVICES);
        let bytes = m.sign(&recovery);
        assert_eq!(
            bytes.len(),
            MANIFEST_BASE_LEN + MAX_BACKUP_DEVICES * DEVICE_LEN + MAX_BACKUP_ENTRIES * RECORD_LEN
        );
        let decoded = Manifest::decode(&bytes).unwrap();
        assert_eq!(decoded, m);
        decoded
            .verify(&recovery.verifying_key().to_bytes())
            .unwrap();
    }

    #[test]
    fn one_past_each_limit_is_refused_before_reading_on() {
        let (mut m, recovery) = manifest(1, 1);
        let bytes = m.sign(&recovery);
        let devices_at = 2 + 32 + 8 + 32 + 8 + 32;
        let mut b = bytes.clone();
        b[devices_at] = u8::try_from(MAX_BACKUP_DEVICES + 1).unwrap();
        assert_eq!(
            Manifest::decode(&b),
            Err(DecodeError::TooLarge {
                len: MAX_BACKUP_DEVICES + 1,
                max: MAX_BACKUP_DEVICES
            })
        );
        let records_at = devices_at + 1 + DEVICE_LEN;
        let mut b = bytes;
        b[records_at..records_at + 4]
            .copy_from_slice(&u32::try_from(MAX_BACKUP_ENTRIES + 1).unwrap().to_be_bytes());
        assert_eq!(
            Manifest::decode(&b),
            Err(DecodeError::TooLarge {
                len: MAX_BACKUP_ENTRIES + 1,
                max: MAX_BACKUP_ENTRIES
            })
        );
    }

    #[test]
    fn an_uncertified_signer_is_refused() {
        let (mut m, recovery) = manifest(2, 1);
        let stranger = SigningKey::from_bytes(&[99; 32]);
        let bytes = m.sign(&stranger);
        let decoded = Manifest::decode(&bytes).unwrap();
        assert_eq!(
            decoded.verify(&recovery.verifying_key().to_bytes()),
            Err(BackupError::UnknownSigner)
        );
        // A certified device signs fine.
        let device = SigningKey::from_bytes(&[10; 32]);
        let bytes = m.sign(&device);
        Manifest::decode(&bytes)
            .unwrap()
            .verify(&recovery.verifying_key().to_bytes())
            .unwrap();
    }
}
