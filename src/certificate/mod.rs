//! Certificates: trust roots, server (or organization) certificates and sender certificates
//! (SPEC.md §13.1).
//!
//! A client pins one or more **trust roots** (Ed25519 public keys, each under a `u32` root id)
//! in a [`TrustStore`]. A trust root certifies **server keys** with a [`ServerCertificate`]
//! (root id, key id, key, validity window). A server key certifies a device with a
//! [`SenderCertificate`] (serial, user id, device id, identity key, validity window, and the
//! server certificate itself). A sealed envelope carries the sender certificate, so the
//! recipient learns, and can check, who sent it while the relay cannot.
//!
//! Validation takes the current time from the caller and checks, in this order: every
//! signature from the root down (unknown root id, then a bad signature at either level), then
//! revocation (server key id, then the leaf's serial), then the validity windows (server, then
//! leaf). Each failure has its own [`CertificateError`] variant.
//!
//! # Reuse for other certificate kinds
//!
//! The signing, strict decoding, time checks and chain validation are generic over a
//! crate-internal `CertificateBody` trait (module `signed`): a new kind of leaf certificate
//! (for example an organization certifying an operator's device identity with a name and a
//! role) is a new body type with its own type byte (`0x42..=0x4F`) and signature label, and it
//! gets issuing, decoding and validation against the same [`TrustStore`] (roots, revoked
//! server keys, revoked serials) for free.

mod key;
mod sender;
mod server;
pub(crate) mod signed;
mod trust;

pub use key::{IssuerKey, IssuerKeyPair};
pub use sender::{MAX_USER_ID_LEN, SenderCertificate, SenderCertificateInfo};
pub use server::{SERVER_CERTIFICATE_LEN, ServerCertificate};
pub use trust::{MAX_REVOKED_CERTIFICATES, MAX_REVOKED_SERVER_KEYS, MAX_TRUST_ROOTS, TrustStore};

/// Length of the Ed25519 signature that ends every certificate.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an encoded sender certificate with a user id of `n` bytes is
/// `SENDER_CERTIFICATE_BASE_LEN + n`.
pub const SENDER_CERTIFICATE_BASE_LEN: usize = sender::BASE_LEN;
/// The longest encoded sender certificate (a user id of [`MAX_USER_ID_LEN`] bytes).
pub const MAX_SENDER_CERTIFICATE_LEN: usize = SENDER_CERTIFICATE_BASE_LEN + MAX_USER_ID_LEN;

use thiserror::Error;

use crate::error::{DecodeError, ErrorKind};
use crate::time::Timestamp;
use crate::wire::Reader;

/// Which certificate of a chain an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertificateKind {
    /// A [`ServerCertificate`]: a server or organization key certified by a trust root.
    Server,
    /// A [`SenderCertificate`]: a device certified by a server key.
    Sender,
}

/// The window in which a certificate is valid: from `not_before` (inclusive) to `expires_at`
/// (exclusive), in the caller's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Validity {
    not_before: Timestamp,
    expires_at: Timestamp,
}

impl Validity {
    /// A window from `not_before` (inclusive) to `expires_at` (exclusive).
    ///
    /// # Errors
    /// [`CertificateError::InvalidValidity`] unless `not_before < expires_at`.
    pub fn new(not_before: Timestamp, expires_at: Timestamp) -> Result<Self, CertificateError> {
        if not_before < expires_at {
            Ok(Validity {
                not_before,
                expires_at,
            })
        } else {
            Err(CertificateError::InvalidValidity)
        }
    }

    /// The first second the certificate is valid.
    pub fn not_before(&self) -> Timestamp {
        self.not_before
    }

    /// The first second the certificate is no longer valid.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Whether `now` is inside the window.
    pub fn contains(&self, now: Timestamp) -> bool {
        self.not_before <= now && now < self.expires_at
    }

    /// Checks `now` against the window, naming `kind` in the error.
    pub(crate) fn check(
        &self,
        kind: CertificateKind,
        now: Timestamp,
    ) -> Result<(), CertificateError> {
        if now < self.not_before {
            Err(CertificateError::NotYetValid {
                kind,
                not_before: self.not_before,
            })
        } else if now >= self.expires_at {
            Err(CertificateError::Expired {
                kind,
                expires_at: self.expires_at,
            })
        } else {
            Ok(())
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.not_before.as_unix_secs().to_be_bytes());
        out.extend_from_slice(&self.expires_at.as_unix_secs().to_be_bytes());
    }

    /// Reads `not_before(8) expires_at(8)`; an empty window is `InvalidField("expires_at")`.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let not_before = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>()?));
        let expires_at = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>()?));
        Validity::new(not_before, expires_at).map_err(|_| DecodeError::InvalidField {
            field: "expires_at",
        })
    }
}

/// Errors from issuing, decoding and validating certificates, and from filling a
/// [`TrustStore`]. Validation never changes anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The certificate bytes are not well formed.
    #[error("malformed certificate: {0}")]
    Malformed(#[from] DecodeError),
    /// The server certificate names a trust root id that is not pinned in the trust store
    /// (a certificate from another deployment, or a root that was removed).
    #[error("the server certificate names trust root {root_id}, which is not pinned")]
    UnknownRoot {
        /// The root id named by the certificate.
        root_id: u32,
    },
    /// A signature in the chain does not verify: the certificate was forged or altered.
    #[error("bad signature on the {0:?} certificate (forged or tampered)")]
    BadSignature(CertificateKind),
    /// The current time is at or past the certificate's expiry.
    #[error("the {kind:?} certificate expired at {}", .expires_at.as_unix_secs())]
    Expired {
        /// Which certificate expired.
        kind: CertificateKind,
        /// When it expired.
        expires_at: Timestamp,
    },
    /// The current time is before the certificate's validity window.
    #[error("the {kind:?} certificate is not valid before {}", .not_before.as_unix_secs())]
    NotYetValid {
        /// Which certificate is not yet valid.
        kind: CertificateKind,
        /// When it becomes valid.
        not_before: Timestamp,
    },
    /// The server key that signed the chain was revoked in the trust store.
    #[error("server key {key_id} is revoked")]
    ServerKeyRevoked {
        /// The revoked key id.
        key_id: u32,
    },
    /// The certificate's serial was revoked in the trust store.
    #[error(
        "the {kind:?} certificate with serial {serial} of server key {server_key_id} is revoked"
    )]
    CertificateRevoked {
        /// Which kind of certificate.
        kind: CertificateKind,
        /// The id of the server key that issued it.
        server_key_id: u32,
        /// Its serial.
        serial: u64,
    },
    /// The bytes are not a valid Ed25519 public key (not canonical, or of small order).
    #[error("invalid Ed25519 issuer key")]
    InvalidKey,
    /// Issuing: the validity window is empty (`not_before` must be before `expires_at`).
    #[error("empty validity window")]
    InvalidValidity,
    /// Issuing: the user id is empty or longer than [`MAX_USER_ID_LEN`].
    #[error("user id of {len} bytes is outside 1..={max}")]
    UserIdLength {
        /// Length of the user id given.
        len: usize,
        /// The maximum, [`MAX_USER_ID_LEN`].
        max: usize,
    },
    /// Issuing: the signing key is not the key the issuer certificate certifies.
    #[error("the signing key is not the key certified by the issuer certificate")]
    IssuerMismatch,
    /// The trust store already pins another key under this root id.
    #[error("trust root {root_id} is already pinned to another key")]
    DuplicateRoot {
        /// The root id.
        root_id: u32,
    },
    /// The trust store holds the maximum number of entries of this kind
    /// ([`MAX_TRUST_ROOTS`], [`MAX_REVOKED_SERVER_KEYS`] or [`MAX_REVOKED_CERTIFICATES`]).
    #[error("trust store list is full ({max} entries)")]
    TrustStoreFull {
        /// The limit that was hit.
        max: usize,
    },
}

impl CertificateError {
    /// A stable, language-neutral name of this error, `"certificate.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            CertificateError::Malformed(_) => "certificate.malformed",
            CertificateError::UnknownRoot { .. } => "certificate.unknown_root",
            CertificateError::BadSignature(_) => "certificate.bad_signature",
            CertificateError::Expired { .. } => "certificate.expired",
            CertificateError::NotYetValid { .. } => "certificate.not_yet_valid",
            CertificateError::ServerKeyRevoked { .. } => "certificate.server_key_revoked",
            CertificateError::CertificateRevoked { .. } => "certificate.certificate_revoked",
            CertificateError::InvalidKey => "certificate.invalid_key",
            CertificateError::InvalidValidity => "certificate.invalid_validity",
            CertificateError::UserIdLength { .. } => "certificate.user_id_length",
            CertificateError::IssuerMismatch => "certificate.issuer_mismatch",
            CertificateError::DuplicateRoot { .. } => "certificate.duplicate_root",
            CertificateError::TrustStoreFull { .. } => "certificate.trust_store_full",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CertificateError::Malformed(e) => e.kind(),
            CertificateError::InvalidKey => ErrorKind::Malformed,
            CertificateError::BadSignature(_) => ErrorKind::Tampered,
            CertificateError::UnknownRoot { .. }
            | CertificateError::Expired { .. }
            | CertificateError::NotYetValid { .. }
            | CertificateError::ServerKeyRevoked { .. }
            | CertificateError::CertificateRevoked { .. } => ErrorKind::Untrusted,
            CertificateError::InvalidValidity
            | CertificateError::UserIdLength { .. }
            | CertificateError::IssuerMismatch
            | CertificateError::DuplicateRoot { .. } => ErrorKind::InvalidInput,
            CertificateError::TrustStoreFull { .. } => ErrorKind::LimitExceeded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_window_is_half_open() {
        let v =
            Validity::new(Timestamp::from_unix_secs(10), Timestamp::from_unix_secs(20)).unwrap();
        assert!(!v.contains(Timestamp::from_unix_secs(9)));
        assert!(v.contains(Timestamp::from_unix_secs(10)));
        assert!(v.contains(Timestamp::from_unix_secs(19)));
        assert!(!v.contains(Timestamp::from_unix_secs(20)));
        assert_eq!(
            v.check(CertificateKind::Sender, Timestamp::from_unix_secs(9)),
            Err(CertificateError::NotYetValid {
                kind: CertificateKind::Sender,
                not_before: Timestamp::from_unix_secs(10)
            })
        );
        assert_eq!(
            v.check(CertificateKind::Server, Timestamp::from_unix_secs(20)),
            Err(CertificateError::Expired {
                kind: CertificateKind::Server,
                expires_at: Timestamp::from_unix_secs(20)
            })
        );
    }

    #[test]
    fn empty_window_is_refused() {
        let t = Timestamp::from_unix_secs(5);
        assert_eq!(Validity::new(t, t), Err(CertificateError::InvalidValidity));
        assert_eq!(
            Validity::new(t.plus_secs(1), t),
            Err(CertificateError::InvalidValidity)
        );
    }
}
