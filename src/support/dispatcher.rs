//! The tenant's dispatcher (SPEC.md §20.2): a role certified by the organization, not the
//! relay, whose key signs every change of a support conversation's assignment roster.
//!
//! A [`DispatcherCertificate`] (type `0x43`) is issued by an organization key (itself
//! certified by the organization's root, as for operators' identity certificates) and names
//! the organization, the dispatcher's name and its Ed25519 key (an identity key). It lives at
//! most [`MAX_DISPATCHER_CERTIFICATE_LIFETIME_SECS`] and is revoked like identity
//! certificates, through [`OrganizationRoots`].

use core::fmt;

use rand_core::CryptoRng;

use super::SupportError;
use super::roster::{AssignmentOp, AssignmentRoster, encode_change, encode_welcome};
use crate::certificate::signed::{CertificateBody, LeafBody, Signed, validate_leaf};
use crate::certificate::{
    CertificateError, CertificateKind, IssuerKeyPair, SERVER_CERTIFICATE_LEN, SIGNATURE_LEN,
    ServerCertificate, Validity,
};
use crate::error::DecodeError;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::labels::LABEL_SIG_DISPATCHER_CERTIFICATE;
use crate::time::Timestamp;
use crate::verify::{
    MAX_ORGANIZATION_LEN, OrganizationRoots, VerifyError, check_text, decode_text, encode_text,
};
use crate::wire::{Reader, TYPE_DISPATCHER_CERTIFICATE};

/// Longest dispatcher name, in UTF-8 bytes.
pub const MAX_DISPATCHER_NAME_LEN: usize = 64;

/// Longest validity window of a dispatcher certificate: 7 days, as identity certificates
/// (revocation by lapse, SPEC.md §15.6.5).
pub const MAX_DISPATCHER_CERTIFICATE_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// Length of an encoded dispatcher certificate whose texts are empty: add the lengths of the
/// organization and the name.
pub const DISPATCHER_CERTIFICATE_BASE_LEN: usize =
    2 + 8 + 32 + 16 + SERVER_CERTIFICATE_LEN + 2 + SIGNATURE_LEN;

/// The longest encoded dispatcher certificate.
pub const MAX_DISPATCHER_CERTIFICATE_LEN: usize =
    DISPATCHER_CERTIFICATE_BASE_LEN + MAX_ORGANIZATION_LEN + MAX_DISPATCHER_NAME_LEN;

/// What an organization certifies about its dispatcher.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DispatcherInfo {
    /// A serial unique among the certificates of the issuing organization key.
    pub serial: u64,
    /// The organization's name, exactly as pinned with its root.
    pub organization: String,
    /// The dispatcher's name, for example "Card support desk" (1 to
    /// [`MAX_DISPATCHER_NAME_LEN`] bytes).
    pub name: String,
    /// The key that signs roster changes.
    pub dispatcher_key: IdentityKey,
    /// When the certificate is valid: at most [`MAX_DISPATCHER_CERTIFICATE_LIFETIME_SECS`].
    pub validity: Validity,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct DispatcherBody {
    info: DispatcherInfo,
    issuer: ServerCertificate,
}

impl CertificateBody for DispatcherBody {
    const TYPE: u8 = TYPE_DISPATCHER_CERTIFICATE;
    const LABEL: &'static [u8] = LABEL_SIG_DISPATCHER_CERTIFICATE;
    const KIND: CertificateKind = CertificateKind::Sender;
    const MAX_LEN: usize = MAX_DISPATCHER_CERTIFICATE_LEN;

    fn encode_body(&self, out: &mut Vec<u8>) {
        let info = &self.info;
        out.extend_from_slice(&info.serial.to_be_bytes());
        out.extend_from_slice(info.dispatcher_key.as_bytes());
        info.validity.encode(out);
        out.extend_from_slice(self.issuer.as_bytes());
        encode_text(out, &info.organization);
        encode_text(out, &info.name);
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let serial = u64::from_be_bytes(r.array::<8>()?);
        let dispatcher_key =
            IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField {
                field: "dispatcher_key",
            })?;
        let validity = Validity::decode(r)?;
        let issuer = ServerCertificate::from_bytes(r.take(SERVER_CERTIFICATE_LEN)?)?;
        let organization =
            decode_text(r, "organization_len", "organization", MAX_ORGANIZATION_LEN)?;
        let name = decode_text(r, "name_len", "name", MAX_DISPATCHER_NAME_LEN)?;
        Ok(DispatcherBody {
            info: DispatcherInfo {
                serial,
                organization,
                name,
                dispatcher_key,
                validity,
            },
            issuer,
        })
    }

    fn validity(&self) -> &Validity {
        &self.info.validity
    }
}

impl LeafBody for DispatcherBody {
    fn issuer(&self) -> &ServerCertificate {
        &self.issuer
    }

    fn serial(&self) -> u64 {
        self.info.serial
    }
}

fn lifetime(validity: &Validity) -> Result<(), VerifyError> {
    let lifetime_secs = validity
        .expires_at()
        .as_unix_secs()
        .saturating_sub(validity.not_before().as_unix_secs());
    if lifetime_secs > MAX_DISPATCHER_CERTIFICATE_LIFETIME_SECS {
        return Err(VerifyError::LifetimeTooLong {
            lifetime_secs,
            max_secs: MAX_DISPATCHER_CERTIFICATE_LIFETIME_SECS,
        });
    }
    Ok(())
}

/// A dispatcher key certified by its organization (SPEC.md §20.2):
/// `version(1) type(1)=0x43 serial(8) dispatcher_key(32) not_before(8) expires_at(8)
/// organization_key_certificate(122) organization_len(1) organization(n) name_len(1) name(n)
/// signature(64)`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DispatcherCertificate(Signed<DispatcherBody>);

impl DispatcherCertificate {
    /// Certifies a dispatcher key with the organization key `organization_key`, whose
    /// certificate is `issuer`.
    ///
    /// # Errors
    /// [`VerifyError::TextLength`] or [`VerifyError::InvalidText`] for a bad text;
    /// [`VerifyError::LifetimeTooLong`]; [`VerifyError::IssuerMismatch`] if
    /// `organization_key` is not the key `issuer` certifies.
    pub fn issue(
        organization_key: &IssuerKeyPair,
        issuer: &ServerCertificate,
        info: DispatcherInfo,
    ) -> Result<Self, VerifyError> {
        check_text("organization", &info.organization, MAX_ORGANIZATION_LEN)?;
        check_text("name", &info.name, MAX_DISPATCHER_NAME_LEN)?;
        lifetime(&info.validity)?;
        if organization_key.public() != *issuer.key() {
            return Err(VerifyError::IssuerMismatch);
        }
        Ok(DispatcherCertificate(Signed::sign(
            DispatcherBody {
                info,
                issuer: issuer.clone(),
            },
            organization_key,
        )))
    }

    /// Decodes strictly; signatures are checked by [`DispatcherCertificate::verify`].
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Signed::decode(bytes).map(DispatcherCertificate)
    }

    /// Checks the certificate against the pinned organization roots at `now`, in the order
    /// of identity certificates (SPEC.md §15.6.3): signatures from the root down, revocation,
    /// validity windows, lifetime, organization name. Returns the root id it is under.
    ///
    /// # Errors
    /// [`VerifyError::ForeignOrganization`], [`VerifyError::Forged`],
    /// [`VerifyError::Revoked`], [`VerifyError::NotYetValid`], [`VerifyError::Expired`],
    /// [`VerifyError::LifetimeTooLong`] or [`VerifyError::OrganizationMismatch`].
    pub fn verify(&self, roots: &OrganizationRoots, now: Timestamp) -> Result<u32, VerifyError> {
        validate_leaf(&self.0, roots.trust(), now).map_err(|e| match e {
            CertificateError::UnknownRoot { root_id } => {
                VerifyError::ForeignOrganization { root_id }
            }
            CertificateError::BadSignature(_) => VerifyError::Forged,
            CertificateError::ServerKeyRevoked { .. }
            | CertificateError::CertificateRevoked { .. } => VerifyError::Revoked,
            CertificateError::Expired { expires_at, .. } => VerifyError::Expired { expires_at },
            CertificateError::NotYetValid { not_before, .. } => {
                VerifyError::NotYetValid { not_before }
            }
            other => VerifyError::Certificate(other),
        })?;
        lifetime(self.validity())?;
        let root_id = self.organization_key_certificate().root_id();
        match roots.organization(root_id) {
            Some(pinned) if pinned == self.organization() => Ok(root_id),
            Some(_) => Err(VerifyError::OrganizationMismatch { root_id }),
            None => Err(VerifyError::ForeignOrganization { root_id }),
        }
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The serial.
    pub fn serial(&self) -> u64 {
        self.0.body().info.serial
    }

    /// The organization, as stated (not yet checked).
    pub fn organization(&self) -> &str {
        &self.0.body().info.organization
    }

    /// The dispatcher's name, as stated.
    pub fn name(&self) -> &str {
        &self.0.body().info.name
    }

    /// The certified dispatcher key.
    pub fn dispatcher_key(&self) -> &IdentityKey {
        &self.0.body().info.dispatcher_key
    }

    /// The validity window.
    pub fn validity(&self) -> &Validity {
        &self.0.body().info.validity
    }

    /// The certificate of the organization key that signed this one.
    pub fn organization_key_certificate(&self) -> &ServerCertificate {
        &self.0.body().issuer
    }
}

impl fmt::Debug for DispatcherCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherCertificate")
            .field("serial", &self.serial())
            .field("organization", &self.organization())
            .field("name", &self.name())
            .field("dispatcher_key", self.dispatcher_key())
            .field("validity", self.validity())
            .finish_non_exhaustive()
    }
}

/// What a dispatcher signed for one roster change: the change for every current member, the
/// roster it leads to and, when an operator is added, the welcome for the new operator.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct Dispatched {
    /// The signed change (types `0x26`–`0x2A`): send it to the visitor and every operator of
    /// the previous roster (the removed one included, so it learns it).
    pub change: Vec<u8>,
    /// The roster after the change (the dispatcher keeps it for the next change).
    pub roster: AssignmentRoster,
    /// For an operator added by this change: the signed roster after it (type `0x25`), for
    /// [`super::SupportConversation::join`]. `None` when nobody is added.
    pub welcome: Option<Vec<u8>>,
    /// The operator device added by this change, if any.
    pub added: Option<IdentityKey>,
}

impl fmt::Debug for Dispatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatched")
            .field("change_len", &self.change.len())
            .field("version", &self.roster.version())
            .field("welcome", &self.welcome.as_ref().map(Vec::len))
            .field("added", &self.added)
            .finish()
    }
}

/// The tenant's dispatcher: its key and its certificate. It lives in the tenant's backend
/// (never in the relay) and signs assignments.
pub struct Dispatcher {
    key: IdentityKeyPair,
    certificate: DispatcherCertificate,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher signing with `key`, certified by `certificate`.
    ///
    /// # Errors
    /// [`SupportError::BadSignature`] if `certificate` certifies another key.
    pub fn new(
        key: IdentityKeyPair,
        certificate: DispatcherCertificate,
    ) -> Result<Self, SupportError> {
        if key.public() != certificate.dispatcher_key() {
            return Err(SupportError::BadSignature);
        }
        Ok(Dispatcher { key, certificate })
    }

    /// The certificate.
    pub fn certificate(&self) -> &DispatcherCertificate {
        &self.certificate
    }

    /// Signs `op` on `roster` (the dispatcher's copy at the current version): the change to
    /// version + 1. The randomness is unused today (signatures are deterministic) and kept
    /// so that the signature scheme can change.
    ///
    /// # Errors
    /// As [`AssignmentRoster::apply`]: [`SupportError::Closed`],
    /// [`SupportError::AlreadyAssigned`], [`SupportError::NotAssigned`],
    /// [`SupportError::TooManyOperators`], [`SupportError::VersionExhausted`].
    pub fn sign_change<R: CryptoRng + ?Sized>(
        &self,
        roster: &AssignmentRoster,
        op: AssignmentOp,
        _rng: &mut R,
    ) -> Result<Dispatched, SupportError> {
        let next = roster.apply(&op)?;
        let change = encode_change(roster, &op, &self.certificate, &self.key);
        let added = op.added().map(|c| *c.identity_key());
        let welcome = added
            .is_some()
            .then(|| encode_welcome(&next, &self.certificate, &self.key));
        Ok(Dispatched {
            change,
            roster: next,
            welcome,
            added,
        })
    }

    /// The signed roster (type `0x25`) at its current version, for an operator that must
    /// (re)join it.
    pub fn welcome(&self, roster: &AssignmentRoster) -> Vec<u8> {
        encode_welcome(roster, &self.certificate, &self.key)
    }
}
