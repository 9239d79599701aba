//! Sender certificates: a device (user id, device id, identity key) certified by a server key.

use core::fmt;

use super::signed::{CertificateBody, LeafBody, Signed, validate_leaf};
use super::{
    CertificateError, CertificateKind, IssuerKeyPair, SERVER_CERTIFICATE_LEN, SIGNATURE_LEN,
    ServerCertificate, TrustStore, Validity,
};
use crate::error::DecodeError;
use crate::keys::IdentityKey;
use crate::labels::LABEL_SIG_SENDER_CERTIFICATE;
use crate::time::Timestamp;
use crate::wire::Reader;
use crate::wire::TYPE_SENDER_CERTIFICATE;

/// The longest user id a sender certificate carries, in bytes (an opaque identifier chosen by
/// the server: a UUID, an account number, an e-mail address).
pub const MAX_USER_ID_LEN: usize = crate::ids::MAX_USER_ID_LEN;

/// Length of an encoded sender certificate without its user id: version, type, serial,
/// device id, identity key, validity window, server certificate, user id length, signature.
pub(crate) const BASE_LEN: usize = 2 + 8 + 4 + 32 + 16 + SERVER_CERTIFICATE_LEN + 1 + SIGNATURE_LEN;

/// What a server certifies about a device.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SenderCertificateInfo {
    /// A serial unique among the certificates of the issuing server key (revocation names it).
    pub serial: u64,
    /// The user's id, 1 to [`MAX_USER_ID_LEN`] opaque bytes.
    pub user_id: Vec<u8>,
    /// The device's id within the user's account.
    pub device_id: u32,
    /// The device's identity key.
    pub identity_key: IdentityKey,
    /// When the certificate is valid.
    pub validity: Validity,
}

impl fmt::Debug for SenderCertificateInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderCertificateInfo")
            .field("serial", &self.serial)
            .field("user_id_len", &self.user_id.len())
            .field("device_id", &self.device_id)
            .field("identity_key", &self.identity_key)
            .field("validity", &self.validity)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct SenderBody {
    info: SenderCertificateInfo,
    issuer: ServerCertificate,
}

impl CertificateBody for SenderBody {
    const TYPE: u8 = TYPE_SENDER_CERTIFICATE;
    const LABEL: &'static [u8] = LABEL_SIG_SENDER_CERTIFICATE;
    const KIND: CertificateKind = CertificateKind::Sender;
    const MAX_LEN: usize = BASE_LEN + MAX_USER_ID_LEN;

    fn encode_body(&self, out: &mut Vec<u8>) {
        let info = &self.info;
        out.extend_from_slice(&info.serial.to_be_bytes());
        out.extend_from_slice(&info.device_id.to_be_bytes());
        out.extend_from_slice(info.identity_key.as_bytes());
        info.validity.encode(out);
        out.extend_from_slice(self.issuer.as_bytes());
        // Cannot truncate: issuing checks the length is at most MAX_USER_ID_LEN (< 256).
        out.push(u8::try_from(info.user_id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&info.user_id);
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let serial = u64::from_be_bytes(r.array::<8>()?);
        let device_id = r.u32()?;
        let identity_key =
            IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField {
                field: "identity_key",
            })?;
        let validity = Validity::decode(r)?;
        let issuer = ServerCertificate::from_bytes(r.take(SERVER_CERTIFICATE_LEN)?)?;
        let user_id_len = usize::from(r.u8()?);
        if user_id_len == 0 || user_id_len > MAX_USER_ID_LEN {
            return Err(DecodeError::InvalidField {
                field: "user_id_len",
            });
        }
        let user_id = r.take(user_id_len)?.to_vec();
        Ok(SenderBody {
            info: SenderCertificateInfo {
                serial,
                user_id,
                device_id,
                identity_key,
                validity,
            },
            issuer,
        })
    }

    fn validity(&self) -> &Validity {
        &self.info.validity
    }
}

impl LeafBody for SenderBody {
    fn issuer(&self) -> &ServerCertificate {
        &self.issuer
    }

    fn serial(&self) -> u64 {
        self.info.serial
    }
}

/// A device certified by a server key (SPEC.md §13.1):
/// `version(1) type(1)=0x41 serial(8) device_id(4) identity_key(32) not_before(8)
/// expires_at(8) server_certificate(122) user_id_len(1) user_id(n) signature(64)`.
///
/// It travels inside every sealed envelope: the recipient validates it and checks that its
/// identity key is the one that authenticated the envelope.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SenderCertificate(Signed<SenderBody>);

impl SenderCertificate {
    /// Certifies a device with the server key `server`, whose certificate is `issuer`.
    ///
    /// # Errors
    /// [`CertificateError::UserIdLength`] if the user id is empty or longer than
    /// [`MAX_USER_ID_LEN`]; [`CertificateError::IssuerMismatch`] if `server` is not the key
    /// `issuer` certifies.
    pub fn issue(
        server: &IssuerKeyPair,
        issuer: &ServerCertificate,
        info: SenderCertificateInfo,
    ) -> Result<Self, CertificateError> {
        let len = info.user_id.len();
        if len == 0 || len > MAX_USER_ID_LEN {
            return Err(CertificateError::UserIdLength {
                len,
                max: MAX_USER_ID_LEN,
            });
        }
        if server.public() != *issuer.key() {
            return Err(CertificateError::IssuerMismatch);
        }
        Ok(SenderCertificate(Signed::sign(
            SenderBody {
                info,
                issuer: issuer.clone(),
            },
            server,
        )))
    }

    /// Decodes strictly. Signatures are not checked here (see [`SenderCertificate::validate`]).
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout, including an invalid identity key
    /// (`InvalidField("identity_key")`), a user id length outside 1..=[`MAX_USER_ID_LEN`]
    /// (`InvalidField("user_id_len")`) and a malformed embedded server certificate.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Signed::decode(bytes).map(SenderCertificate)
    }

    /// Validates the whole chain against `trust` at `now`: the server certificate's root and
    /// signature, this certificate's signature under the server key, revocation of the server
    /// key id and of this serial, then both validity windows.
    ///
    /// # Errors
    /// The first failing check, as a [`CertificateError`].
    pub fn validate(&self, trust: &TrustStore, now: Timestamp) -> Result<(), CertificateError> {
        validate_leaf(&self.0, trust, now)
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The encoding, copied.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }

    /// The serial assigned by the server.
    pub fn serial(&self) -> u64 {
        self.0.body().info.serial
    }

    /// The user's id.
    pub fn user_id(&self) -> &[u8] {
        &self.0.body().info.user_id
    }

    /// The device's id.
    pub fn device_id(&self) -> u32 {
        self.0.body().info.device_id
    }

    /// The device's identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        &self.0.body().info.identity_key
    }

    /// The validity window.
    pub fn validity(&self) -> &Validity {
        &self.0.body().info.validity
    }

    /// The certificate of the server key that signed this one.
    pub fn server_certificate(&self) -> &ServerCertificate {
        &self.0.body().issuer
    }

    /// The server key's signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        self.0.signature()
    }
}

impl TryFrom<&[u8]> for SenderCertificate {
    type Error = DecodeError;

    fn try_from(bytes: &[u8]) -> Result<Self, DecodeError> {
        SenderCertificate::from_bytes(bytes)
    }
}

impl fmt::Debug for SenderCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderCertificate")
            .field("serial", &self.serial())
            .field("user_id_len", &self.user_id().len())
            .field("device_id", &self.device_id())
            .field("identity_key", self.identity_key())
            .field("validity", self.validity())
            .field("server_key_id", &self.server_certificate().key_id())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::IssuerKey;
    use crate::keys::IdentityKeyPair;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    struct Chain {
        root: IssuerKeyPair,
        server: IssuerKeyPair,
        server_cert: ServerCertificate,
        trust: TrustStore,
        device: IdentityKeyPair,
    }

    fn secs(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    fn chain(seed: u64) -> Chain {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let root = IssuerKeyPair::generate(&mut rng);
        let server = IssuerKeyPair::generate(&mut rng);
        let device = IdentityKeyPair::generate(&mut rng);
        let server_cert = ServerCertificate::issue(
            &root,
            1,
            10,
            &server.public(),
            Validity::new(secs(0), secs(1_000)).unwrap(),
        );
        let mut trust = TrustStore::new();
        trust.add_root(1, root.public()).unwrap();
        Chain {
            root,
            server,
            server_cert,
            trust,
            device,
        }
    }

    fn info(c: &Chain, user_id: &[u8]) -> SenderCertificateInfo {
        SenderCertificateInfo {
            serial: 77,
            user_id: user_id.to_vec(),
            device_id: 3,
            identity_key: *c.device.public(),
            validity: Validity::new(secs(100), secs(200)).unwrap(),
        }
    }

    #[test]
    fn round_trip_and_validate() {
        let c = chain(60);
        let cert = SenderCertificate::issue(&c.server, &c.server_cert, info(&c, b"alice")).unwrap();
        assert_eq!(cert.as_bytes().len(), BASE_LEN + 5);
        let back = SenderCertificate::from_bytes(cert.as_bytes()).unwrap();
        assert_eq!(back, cert);
        assert_eq!(back.user_id(), b"alice");
        assert_eq!(back.device_id(), 3);
        assert_eq!(back.serial(), 77);
        assert_eq!(back.identity_key(), c.device.public());
        assert_eq!(back.server_certificate(), &c.server_cert);
        assert_eq!(back.validate(&c.trust, secs(150)), Ok(()));
    }

    #[test]
    fn user_id_length_limits_at_and_past_the_edge() {
        let c = chain(61);
        let max = vec![b'u'; MAX_USER_ID_LEN];
        let cert = SenderCertificate::issue(&c.server, &c.server_cert, info(&c, &max)).unwrap();
        assert_eq!(cert.as_bytes().len(), BASE_LEN + MAX_USER_ID_LEN);
        assert_eq!(
            cert.as_bytes().len(),
            crate::certificate::MAX_SENDER_CERTIFICATE_LEN
        );
        assert!(SenderCertificate::from_bytes(cert.as_bytes()).is_ok());
        let too_long = vec![b'u'; MAX_USER_ID_LEN + 1];
        assert_eq!(
            SenderCertificate::issue(&c.server, &c.server_cert, info(&c, &too_long)),
            Err(CertificateError::UserIdLength {
                len: MAX_USER_ID_LEN + 1,
                max: MAX_USER_ID_LEN
            })
        );
        assert_eq!(
            SenderCertificate::issue(&c.server, &c.server_cert, info(&c, b"")),
            Err(CertificateError::UserIdLength {
                len: 0,
                max: MAX_USER_ID_LEN
            })
        );
        // A hand-built encoding one byte past the limit is refused by size first.
        let mut bytes = cert.to_bytes();
        bytes.insert(BASE_LEN - SIGNATURE_LEN, b'u');
        bytes[BASE_LEN - SIGNATURE_LEN - 1] = (MAX_USER_ID_LEN + 1) as u8;
        assert_eq!(
            SenderCertificate::from_bytes(&bytes),
            Err(DecodeError::TooLarge {
                len: BASE_LEN + MAX_USER_ID_LEN + 1,
                max: BASE_LEN + MAX_USER_ID_LEN
            })
        );
        // A length byte past the limit in a short encoding is an invalid field.
        let short = SenderCertificate::issue(&c.server, &c.server_cert, info(&c, b"a")).unwrap();
        let mut bytes = short.to_bytes();
        bytes[BASE_LEN - SIGNATURE_LEN - 1] = (MAX_USER_ID_LEN + 1) as u8;
        assert_eq!(
            SenderCertificate::from_bytes(&bytes),
            Err(DecodeError::InvalidField {
                field: "user_id_len"
            })
        );
        bytes[BASE_LEN - SIGNATURE_LEN - 1] = 0;
        assert_eq!(
            SenderCertificate::from_bytes(&bytes),
            Err(DecodeError::InvalidField {
                field: "user_id_len"
            })
        );
    }

    #[test]
    fn issuer_must_match() {
        let c = chain(62);
        assert_eq!(
            SenderCertificate::issue(&c.root, &c.server_cert, info(&c, b"a")),
            Err(CertificateError::IssuerMismatch)
        );
    }

    #[test]
    fn each_failure_has_its_own_error() {
        let c = chain(63);
        let cert = SenderCertificate::issue(&c.server, &c.server_cert, info(&c, b"a")).unwrap();
        let now = secs(150);
        assert_eq!(
            cert.validate(&c.trust, secs(99)),
            Err(CertificateError::NotYetValid {
                kind: CertificateKind::Sender,
                not_before: secs(100)
            })
        );
        assert_eq!(
            cert.validate(&c.trust, secs(200)),
            Err(CertificateError::Expired {
                kind: CertificateKind::Sender,
                expires_at: secs(200)
            })
        );
        assert_eq!(
            cert.validate(&c.trust, secs(1_000)),
            Err(CertificateError::Expired {
                kind: CertificateKind::Server,
                expires_at: secs(1_000)
            })
        );
        // Server key 10 of another root, and its certificate 77, are other ones.
        let mut other_root = c.trust.clone();
        other_root.revoke_certificate(2, 10, 77).unwrap();
        other_root.revoke_server_key(2, 10).unwrap();
        assert_eq!(cert.validate(&other_root, now), Ok(()));
        let mut revoked = c.trust.clone();
        revoked.revoke_certificate(1, 10, 77).unwrap();
        assert_eq!(
            cert.validate(&revoked, now),
            Err(CertificateError::CertificateRevoked {
                kind: CertificateKind::Sender,
                server_key_id: 10,
                serial: 77
            })
        );
        let mut revoked = c.trust.clone();
        revoked.revoke_server_key(1, 10).unwrap();
        assert_eq!(
            cert.validate(&revoked, now),
            Err(CertificateError::ServerKeyRevoked { key_id: 10 })
        );
        // Signed by a key the server certificate does not certify: a forgery.
        let mut rng = ChaCha20Rng::seed_from_u64(64);
        let other = IssuerKeyPair::generate(&mut rng);
        let forged = SenderCertificate(Signed::sign(
            SenderBody {
                info: info(&c, b"a"),
                issuer: c.server_cert.clone(),
            },
            &other,
        ));
        assert_eq!(
            forged.validate(&c.trust, now),
            Err(CertificateError::BadSignature(CertificateKind::Sender))
        );
        // A server certificate from an unpinned root.
        let other_server_cert = ServerCertificate::issue(
            &other,
            2,
            10,
            &c.server.public(),
            Validity::new(secs(0), secs(1_000)).unwrap(),
        );
        let wrong_root =
            SenderCertificate::issue(&c.server, &other_server_cert, info(&c, b"a")).unwrap();
        assert_eq!(
            wrong_root.validate(&c.trust, now),
            Err(CertificateError::UnknownRoot { root_id: 2 })
        );
        // The same, claiming the pinned root's id.
        let claims_root = ServerCertificate::issue(
            &other,
            1,
            10,
            &c.server.public(),
            Validity::new(secs(0), secs(1_000)).unwrap(),
        );
        let claims = SenderCertificate::issue(&c.server, &claims_root, info(&c, b"a")).unwrap();
        assert_eq!(
            claims.validate(&c.trust, now),
            Err(CertificateError::BadSignature(CertificateKind::Server))
        );
        let _: IssuerKey = c.root.public();
    }

    #[test]
    fn signatures_are_checked_before_revocation_and_time() {
        let c = chain(65);
        let cert = SenderCertificate::issue(&c.server, &c.server_cert, info(&c, b"a")).unwrap();
        let mut bytes = cert.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let forged = SenderCertificate::from_bytes(&bytes).unwrap();
        let mut revoked = c.trust.clone();
        revoked.revoke_certificate(1, 10, 77).unwrap();
        assert_eq!(
            forged.validate(&revoked, secs(5_000)),
            Err(CertificateError::BadSignature(CertificateKind::Sender))
        );
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let c = chain(66);
        let cert = SenderCertificate::issue(&c.server, &c.server_cert, info(&c, b"bob")).unwrap();
        for i in 0..cert.as_bytes().len() * 8 {
            let mut bad = cert.to_bytes();
            bad[i / 8] ^= 1 << (i % 8);
            if let Ok(parsed) = SenderCertificate::from_bytes(&bad) {
                assert!(
                    parsed.validate(&c.trust, secs(150)).is_err(),
                    "bit {i} accepted"
                );
            }
        }
    }

    #[test]
    fn debug_hides_the_user_id() {
        let c = chain(67);
        let cert =
            SenderCertificate::issue(&c.server, &c.server_cert, info(&c, b"secret-user")).unwrap();
        let shown = format!("{cert:?}");
        assert!(!shown.contains("user_id:"));
        assert!(!shown.contains("115, 101, 99")); // "sec" as Debug bytes
        assert!(
            shown.starts_with("SenderCertificate { serial: 77, user_id_len: 11, device_id: 3,")
        );
    }
}
