//! The client's trust store: pinned roots and revocations.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use super::{CertificateError, IssuerKey};

/// Most trust roots a store pins.
pub const MAX_TRUST_ROOTS: usize = 16;
/// Most revoked server keys a store holds (each named by its root id and key id).
pub const MAX_REVOKED_SERVER_KEYS: usize = 1_024;
/// Most revoked certificates a store holds (each named by root id, server key id and serial).
/// Sender certificates are short-lived, so a revocation can be dropped
/// ([`TrustStore::unrevoke_certificate`]) once the certificate it names has expired.
pub const MAX_REVOKED_CERTIFICATES: usize = 65_536;

/// What a client trusts: pinned trust roots (by root id) and revoked server keys and
/// certificates. Filled by the app from its configuration and the server's revocation list;
/// hushwire only reads it.
///
/// Revocations are scoped by root: key ids are chosen by each root's operator, so key 7 under
/// root 1 and key 7 under root 2 are different keys, and revoking one leaves the other
/// trusted. Serials are likewise scoped by root and server key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustStore {
    roots: BTreeMap<u32, IssuerKey>,
    /// `(root_id, key_id)`.
    revoked_server_keys: BTreeSet<(u32, u32)>,
    /// `(root_id, server_key_id, serial)`.
    revoked_certificates: BTreeSet<(u32, u32, u64)>,
}

impl TrustStore {
    /// An empty store: it trusts nothing.
    pub fn new() -> Self {
        TrustStore::default()
    }

    /// Pins `key` as trust root `root_id`. Pinning the same key again is a no-op.
    ///
    /// # Errors
    /// [`CertificateError::DuplicateRoot`] if another key is pinned under `root_id`;
    /// [`CertificateError::TrustStoreFull`] past [`MAX_TRUST_ROOTS`]. The store is unchanged
    /// on error.
    pub fn add_root(&mut self, root_id: u32, key: IssuerKey) -> Result<(), CertificateError> {
        match self.roots.get(&root_id) {
            Some(held) if *held == key => return Ok(()),
            Some(_) => return Err(CertificateError::DuplicateRoot { root_id }),
            None => {}
        }
        if self.roots.len() >= MAX_TRUST_ROOTS {
            return Err(CertificateError::TrustStoreFull {
                max: MAX_TRUST_ROOTS,
            });
        }
        self.roots.insert(root_id, key);
        Ok(())
    }

    /// Unpins trust root `root_id`. Returns whether it was pinned. Its revocations are kept
    /// (they still apply if the root is pinned again).
    pub fn remove_root(&mut self, root_id: u32) -> bool {
        self.roots.remove(&root_id).is_some()
    }

    /// The key pinned as `root_id`.
    pub fn root(&self, root_id: u32) -> Option<&IssuerKey> {
        self.roots.get(&root_id)
    }

    /// Revokes server key `key_id` of root `root_id`: every certificate of that key (and
    /// everything it signed) stops validating. The same key id under another root is not
    /// affected.
    ///
    /// # Errors
    /// [`CertificateError::TrustStoreFull`] past [`MAX_REVOKED_SERVER_KEYS`] (revoking a key
    /// already revoked always succeeds). The store is unchanged on error.
    pub fn revoke_server_key(&mut self, root_id: u32, key_id: u32) -> Result<(), CertificateError> {
        let entry = (root_id, key_id);
        if !self.revoked_server_keys.contains(&entry)
            && self.revoked_server_keys.len() >= MAX_REVOKED_SERVER_KEYS
        {
            return Err(CertificateError::TrustStoreFull {
                max: MAX_REVOKED_SERVER_KEYS,
            });
        }
        self.revoked_server_keys.insert(entry);
        Ok(())
    }

    /// Revokes the certificate with `serial` issued by server key `server_key_id` of root
    /// `root_id`.
    ///
    /// # Errors
    /// [`CertificateError::TrustStoreFull`] past [`MAX_REVOKED_CERTIFICATES`] (revoking a
    /// certificate already revoked always succeeds). The store is unchanged on error.
    pub fn revoke_certificate(
        &mut self,
        root_id: u32,
        server_key_id: u32,
        serial: u64,
    ) -> Result<(), CertificateError> {
        let entry = (root_id, server_key_id, serial);
        if !self.revoked_certificates.contains(&entry)
            && self.revoked_certificates.len() >= MAX_REVOKED_CERTIFICATES
        {
            return Err(CertificateError::TrustStoreFull {
                max: MAX_REVOKED_CERTIFICATES,
            });
        }
        self.revoked_certificates.insert(entry);
        Ok(())
    }

    /// Drops a certificate revocation (for example once the certificate has expired).
    /// Returns whether it was held.
    pub fn unrevoke_certificate(&mut self, root_id: u32, server_key_id: u32, serial: u64) -> bool {
        self.revoked_certificates
            .remove(&(root_id, server_key_id, serial))
    }

    /// Whether server key `key_id` of root `root_id` is revoked.
    pub fn is_server_key_revoked(&self, root_id: u32, key_id: u32) -> bool {
        self.revoked_server_keys.contains(&(root_id, key_id))
    }

    /// Whether the certificate with `serial` of server key `server_key_id` of root `root_id`
    /// is revoked.
    pub fn is_certificate_revoked(&self, root_id: u32, server_key_id: u32, serial: u64) -> bool {
        self.revoked_certificates
            .contains(&(root_id, server_key_id, serial))
    }
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field("root_ids", &self.roots.keys().collect::<Vec<_>>())
            .field("revoked_server_keys", &self.revoked_server_keys.len())
            .field("revoked_certificates", &self.revoked_certificates.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::IssuerKeyPair;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn keys(n: usize) -> Vec<IssuerKey> {
        let mut rng = ChaCha20Rng::seed_from_u64(70);
        (0..n)
            .map(|_| IssuerKeyPair::generate(&mut rng).public())
            .collect()
    }

    #[test]
    fn roots_at_and_past_the_limit() {
        let keys = keys(MAX_TRUST_ROOTS + 1);
        let mut store = TrustStore::new();
        for (id, key) in keys.iter().take(MAX_TRUST_ROOTS).enumerate() {
            store.add_root(id as u32, *key).unwrap();
        }
        // Re-pinning the same key is fine even when full.
        store.add_root(0, keys[0]).unwrap();
        let before = store.clone();
        assert_eq!(
            store.add_root(1_000, keys[MAX_TRUST_ROOTS]),
            Err(CertificateError::TrustStoreFull {
                max: MAX_TRUST_ROOTS
            })
        );
        assert_eq!(
            store.add_root(0, keys[1]),
            Err(CertificateError::DuplicateRoot { root_id: 0 })
        );
        assert_eq!(store, before);
        assert!(store.remove_root(0));
        store.add_root(1_000, keys[MAX_TRUST_ROOTS]).unwrap();
        assert_eq!(store.root(1_000), Some(&keys[MAX_TRUST_ROOTS]));
    }

    #[test]
    fn revocations_at_and_past_the_limits() {
        let mut store = TrustStore::new();
        for id in 0..MAX_REVOKED_SERVER_KEYS as u32 {
            store.revoke_server_key(1, id).unwrap();
        }
        store.revoke_server_key(1, 0).unwrap();
        let before = store.clone();
        assert_eq!(
            store.revoke_server_key(1, u32::MAX),
            Err(CertificateError::TrustStoreFull {
                max: MAX_REVOKED_SERVER_KEYS
            })
        );
        // Another root's key 0 is another key: not revoked, and it counts against the limit.
        assert_eq!(
            store.revoke_server_key(2, 0),
            Err(CertificateError::TrustStoreFull {
                max: MAX_REVOKED_SERVER_KEYS
            })
        );
        assert_eq!(store, before);
        assert!(store.is_server_key_revoked(1, 0));
        assert!(!store.is_server_key_revoked(2, 0));
        assert!(!store.is_server_key_revoked(1, u32::MAX));
        for serial in 0..MAX_REVOKED_CERTIFICATES as u64 {
            store.revoke_certificate(1, 1, serial).unwrap();
        }
        store.revoke_certificate(1, 1, 0).unwrap();
        assert_eq!(
            store.revoke_certificate(1, 2, 0),
            Err(CertificateError::TrustStoreFull {
                max: MAX_REVOKED_CERTIFICATES
            })
        );
        assert!(store.is_certificate_revoked(1, 1, 5));
        assert!(!store.is_certificate_revoked(1, 2, 5));
        assert!(!store.is_certificate_revoked(2, 1, 5));
        assert!(!store.unrevoke_certificate(2, 1, 5));
        assert!(store.unrevoke_certificate(1, 1, 5));
        store.revoke_certificate(2, 1, 5).unwrap();
        assert!(store.is_certificate_revoked(2, 1, 5));
        assert!(!store.is_certificate_revoked(1, 1, 5));
        let shown = format!("{store:?}");
        assert_eq!(
            shown,
            "TrustStore { root_ids: [], revoked_server_keys: 1024, revoked_certificates: 65536 }"
        );
    }
}
