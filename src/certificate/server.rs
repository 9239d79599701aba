//! Server (organization) certificates: a server key certified by a trust root.

use core::fmt;

use super::signed::{CertificateBody, Signed};
use super::{
    CertificateError, CertificateKind, IssuerKey, IssuerKeyPair, SIGNATURE_LEN, TrustStore,
    Validity,
};
use crate::error::DecodeError;
use crate::labels::LABEL_SIG_SERVER_CERTIFICATE;
use crate::time::Timestamp;
use crate::wire::Reader;
use crate::wire::TYPE_SERVER_CERTIFICATE;

/// Length of an encoded server certificate: version, type, root id, key id, key,
/// validity window, signature.
pub const SERVER_CERTIFICATE_LEN: usize = 2 + 4 + 4 + 32 + 16 + SIGNATURE_LEN;

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ServerBody {
    root_id: u32,
    key_id: u32,
    key: IssuerKey,
    validity: Validity,
}

impl CertificateBody for ServerBody {
    const TYPE: u8 = TYPE_SERVER_CERTIFICATE;
    const LABEL: &'static [u8] = LABEL_SIG_SERVER_CERTIFICATE;
    const KIND: CertificateKind = CertificateKind::Server;
    const MAX_LEN: usize = SERVER_CERTIFICATE_LEN;

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.root_id.to_be_bytes());
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(self.key.as_bytes());
        self.validity.encode(out);
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let root_id = r.u32()?;
        let key_id = r.u32()?;
        let key = IssuerKey::from_bytes(&r.array::<32>()?)
            .map_err(|_| DecodeError::InvalidField { field: "key" })?;
        let validity = Validity::decode(r)?;
        Ok(ServerBody {
            root_id,
            key_id,
            key,
            validity,
        })
    }

    fn validity(&self) -> &Validity {
        &self.validity
    }
}

/// A server (or organization) key certified by a trust root (SPEC.md
/// §13.1.2): `version(1) type(1)=0x40 root_id(4) key_id(4) key(32) not_before(8)
/// expires_at(8) signature(64)`.
///
/// Key ids are unique within a deployment (across all of its roots): revocation names them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerCertificate(Signed<ServerBody>);

impl ServerCertificate {
    /// Certifies `key` under the trust root `root` (pinned by clients as `root_id`).
    pub fn issue(
        root: &IssuerKeyPair,
        root_id: u32,
        key_id: u32,
        key: &IssuerKey,
        validity: Validity,
    ) -> Self {
        ServerCertificate(Signed::sign(
            ServerBody {
                root_id,
                key_id,
                key: *key,
                validity,
            },
            root,
        ))
    }

    /// Decodes strictly. The signature is not checked here (see [`ServerCertificate::validate`]).
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout, including a key that is not a valid
    /// Ed25519 point (`InvalidField("key")`) and an empty validity window
    /// (`InvalidField("expires_at")`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Signed::decode(bytes).map(ServerCertificate)
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The encoding, copied.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }

    /// The id of the trust root that signed it.
    pub fn root_id(&self) -> u32 {
        self.0.body().root_id
    }

    /// The certified key's id.
    pub fn key_id(&self) -> u32 {
        self.0.body().key_id
    }

    /// The certified server key.
    pub fn key(&self) -> &IssuerKey {
        &self.0.body().key
    }

    /// The validity window.
    pub fn validity(&self) -> &Validity {
        &self.0.body().validity
    }

    /// The trust root's signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        self.0.signature()
    }

    /// Validates the certificate against `trust` at `now`: known root, signature, revocation
    /// of the key id, validity window (in that order).
    ///
    /// # Errors
    /// [`CertificateError::UnknownRoot`], [`CertificateError::BadSignature`],
    /// [`CertificateError::ServerKeyRevoked`], [`CertificateError::NotYetValid`] or
    /// [`CertificateError::Expired`].
    pub fn validate(&self, trust: &TrustStore, now: Timestamp) -> Result<(), CertificateError> {
        self.verify_signature(trust)?;
        self.check_revocation(trust)?;
        self.check_time(now)
    }

    pub(crate) fn verify_signature(&self, trust: &TrustStore) -> Result<(), CertificateError> {
        let root_id = self.root_id();
        let root = trust
            .root(root_id)
            .ok_or(CertificateError::UnknownRoot { root_id })?;
        self.0.verify(root)
    }

    pub(crate) fn check_revocation(&self, trust: &TrustStore) -> Result<(), CertificateError> {
        if trust.is_server_key_revoked(self.root_id(), self.key_id()) {
            Err(CertificateError::ServerKeyRevoked {
                key_id: self.key_id(),
            })
        } else {
            Ok(())
        }
    }

    pub(crate) fn check_time(&self, now: Timestamp) -> Result<(), CertificateError> {
        self.0.check_time(now)
    }
}

impl TryFrom<&[u8]> for ServerCertificate {
    type Error = DecodeError;

    fn try_from(bytes: &[u8]) -> Result<Self, DecodeError> {
        ServerCertificate::from_bytes(bytes)
    }
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("root_id", &self.root_id())
            .field("key_id", &self.key_id())
            .field("key", self.key())
            .field("validity", self.validity())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn window() -> Validity {
        Validity::new(
            Timestamp::from_unix_secs(100),
            Timestamp::from_unix_secs(200),
        )
        .unwrap()
    }

    #[test]
    fn issue_encode_decode_validate() {
        let mut rng = ChaCha20Rng::seed_from_u64(50);
        let root = IssuerKeyPair::generate(&mut rng);
        let server = IssuerKeyPair::generate(&mut rng);
        let cert = ServerCertificate::issue(&root, 7, 9, &server.public(), window());
        assert_eq!(cert.as_bytes().len(), SERVER_CERTIFICATE_LEN);
        let back = ServerCertificate::from_bytes(cert.as_bytes()).unwrap();
        assert_eq!(back, cert);
        assert_eq!((back.root_id(), back.key_id()), (7, 9));
        let mut trust = TrustStore::new();
        trust.add_root(7, root.public()).unwrap();
        assert_eq!(
            cert.validate(&trust, Timestamp::from_unix_secs(150)),
            Ok(())
        );
        assert_eq!(
            cert.validate(&trust, Timestamp::from_unix_secs(200)),
            Err(CertificateError::Expired {
                kind: CertificateKind::Server,
                expires_at: Timestamp::from_unix_secs(200)
            })
        );
        // Key 9 of another root is another key.
        trust.revoke_server_key(8, 9).unwrap();
        assert_eq!(
            cert.validate(&trust, Timestamp::from_unix_secs(150)),
            Ok(())
        );
        trust.revoke_server_key(7, 9).unwrap();
        assert_eq!(
            cert.validate(&trust, Timestamp::from_unix_secs(150)),
            Err(CertificateError::ServerKeyRevoked { key_id: 9 })
        );
        let empty = TrustStore::new();
        assert_eq!(
            cert.validate(&empty, Timestamp::from_unix_secs(150)),
            Err(CertificateError::UnknownRoot { root_id: 7 })
        );
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(51);
        let root = IssuerKeyPair::generate(&mut rng);
        let server = IssuerKeyPair::generate(&mut rng);
        let cert = ServerCertificate::issue(&root, 1, 2, &server.public(), window());
        let mut trust = TrustStore::new();
        trust.add_root(1, root.public()).unwrap();
        let now = Timestamp::from_unix_secs(150);
        for i in 0..cert.as_bytes().len() * 8 {
            let mut bad = cert.to_bytes();
            bad[i / 8] ^= 1 << (i % 8);
            match ServerCertificate::from_bytes(&bad) {
                Err(_) => {}
                Ok(c) => assert!(c.validate(&trust, now).is_err(), "bit {i} accepted"),
            }
        }
    }

    #[test]
    fn strict_decoding() {
        let mut rng = ChaCha20Rng::seed_from_u64(52);
        let root = IssuerKeyPair::generate(&mut rng);
        let cert = ServerCertificate::issue(&root, 1, 2, &root.public(), window());
        let bytes = cert.to_bytes();
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            ServerCertificate::from_bytes(&long),
            Err(DecodeError::TooLarge {
                len: SERVER_CERTIFICATE_LEN + 1,
                max: SERVER_CERTIFICATE_LEN
            })
        );
        assert_eq!(
            ServerCertificate::from_bytes(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated { needed: 1 })
        );
        let mut empty_window = bytes.clone();
        empty_window[50..58].copy_from_slice(&100u64.to_be_bytes());
        assert_eq!(
            ServerCertificate::from_bytes(&empty_window),
            Err(DecodeError::InvalidField {
                field: "expires_at"
            })
        );
        let mut weak_key = bytes.clone();
        weak_key[10..42].copy_from_slice(&[0u8; 32]);
        weak_key[10] = 1;
        assert_eq!(
            ServerCertificate::from_bytes(&weak_key),
            Err(DecodeError::InvalidField { field: "key" })
        );
    }

    #[test]
    fn debug_shows_ids() {
        let mut rng = ChaCha20Rng::seed_from_u64(53);
        let root = IssuerKeyPair::generate(&mut rng);
        let cert = ServerCertificate::issue(&root, 3, 4, &root.public(), window());
        let shown = format!("{cert:?}");
        assert!(shown.starts_with("ServerCertificate { root_id: 3, key_id: 4, key: IssuerKey("));
    }
}
