//! Operators a visitor trusts without a safety number (SPEC.md §20.1): an operator's device
//! key is accepted only with a valid, unexpired, unrevoked identity certificate (SPEC.md
//! §15.6) under the tenant's pinned organization root. There is no trust on first use.

use core::fmt;

use super::SupportError;
use crate::keys::IdentityKey;
use crate::time::Timestamp;
use crate::verify::{BusinessIdentity, IdentityCertificate, OrganizationRoots};

/// An operator device whose identity certificate verified against a pinned organization
/// root. Only [`verify_operator`] (and the conversation, which calls it) makes one.
///
/// Its `Display` is what the widget shows: `Acme Bank · Dana Smith · Card support`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedOperator {
    identity: BusinessIdentity,
}

impl VerifiedOperator {
    pub(crate) fn new(identity: BusinessIdentity) -> Self {
        VerifiedOperator { identity }
    }

    /// The organization, as pinned with its root.
    pub fn organization(&self) -> &str {
        &self.identity.organization
    }

    /// The operator's name.
    pub fn operator_name(&self) -> &str {
        &self.identity.operator_name
    }

    /// The operator's role.
    pub fn role(&self) -> &str {
        &self.identity.role
    }

    /// The certified device key.
    pub fn identity_key(&self) -> &IdentityKey {
        &self.identity.identity_key
    }

    /// When the certificate (or its organization key's) expires: verify again from then on.
    pub fn valid_until(&self) -> Timestamp {
        self.identity.valid_until
    }

    /// The verified business identity underneath.
    pub fn business_identity(&self) -> &BusinessIdentity {
        &self.identity
    }
}

impl fmt::Display for VerifiedOperator {
    /// `<organization> · <operator name> · <role>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} \u{b7} {} \u{b7} {}",
            self.identity.organization, self.identity.operator_name, self.identity.role
        )
    }
}

/// Checks that `certificate` (an identity certificate, type `0x42`) covers the operator
/// device key `device_key` under one of `roots` at `now` (SPEC.md §20.1).
///
/// # Errors
/// [`SupportError::OperatorNotCertified`] with the reason ([`crate::verify::VerifyError`]):
/// malformed, forged, revoked, expired, not yet valid, another organization, or a device key
/// the certificate does not cover (a substituted key). Nothing changes.
pub fn verify_operator(
    certificate: &[u8],
    device_key: &IdentityKey,
    roots: &OrganizationRoots,
    now: Timestamp,
) -> Result<VerifiedOperator, SupportError> {
    let cert = IdentityCertificate::from_bytes(certificate)
        .map_err(|e| SupportError::OperatorNotCertified(e.into()))?;
    verify_operator_certificate(&cert, device_key, roots, now)
}

/// [`verify_operator`] on a decoded certificate.
///
/// # Errors
/// As [`verify_operator`].
pub fn verify_operator_certificate(
    certificate: &IdentityCertificate,
    device_key: &IdentityKey,
    roots: &OrganizationRoots,
    now: Timestamp,
) -> Result<VerifiedOperator, SupportError> {
    certificate
        .verify(device_key, roots, now)
        .map(VerifiedOperator::new)
        .map_err(SupportError::OperatorNotCertified)
}
