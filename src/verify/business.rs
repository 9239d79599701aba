//! Certified business identities (SPEC.md §15.6): an organization certifies the identity
//! keys of its operators' devices; a customer's app pins the organization's root.
//!
//! The chain is the one of [`crate::certificate`]: the organization's **root** (pinned by
//! customers, kept offline) certifies an **organization key** with a [`ServerCertificate`];
//! the organization key certifies each operator device with an [`IdentityCertificate`]
//! (organization, operator name, role, identity key, validity of at most
//! [`MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS`]).
//!
//! **Revocation.** Identity certificates are short-lived: at most 7 days, enforced when
//! issuing and again when verifying, so a certificate that leaked or belongs to an operator
//! who left stops verifying within a week of the organization's backend no longer renewing
//! it. Renewal is automatic and cheap (one signature), and a week is the signed-prekey
//! rotation period ([`crate::PREKEY_ROTATION_SECS`]), so an operator app can renew both
//! together and an operator who is off for a long weekend or a holiday week does not come back
//! unverified. For faster removal, customers' apps that fetch a revocation list feed it to
//! [`OrganizationRoots::revoke_certificate`] (one certificate, by serial) or
//! [`OrganizationRoots::revoke_organization_key`] (everything an organization key signed),
//! each scoped by the organization's root id.

use core::fmt;
use std::collections::BTreeMap;

use super::VerifyError;
use crate::certificate::signed::{CertificateBody, LeafBody, Signed, validate_leaf};
use crate::certificate::{
    CertificateError, CertificateKind, IssuerKey, IssuerKeyPair, SERVER_CERTIFICATE_LEN,
    SIGNATURE_LEN, ServerCertificate, TrustStore, Validity,
};
use crate::error::DecodeError;
use crate::keys::IdentityKey;
use crate::labels::LABEL_SIG_IDENTITY_CERTIFICATE;
use crate::time::Timestamp;
use crate::wire::{Reader, TYPE_IDENTITY_CERTIFICATE};

/// Longest organization name, in UTF-8 bytes.
pub const MAX_ORGANIZATION_LEN: usize = 64;
/// Longest operator name, in UTF-8 bytes.
pub const MAX_OPERATOR_NAME_LEN: usize = 64;
/// Longest role, in UTF-8 bytes.
pub const MAX_ROLE_LEN: usize = 64;

/// Longest validity window of an identity certificate: 7 days. Certificates are revoked by
/// letting them lapse (see the module documentation); a longer one is refused when issuing and
/// when verifying.
pub const MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// Length of an encoded identity certificate whose three texts are empty: version, type,
/// serial, identity key, validity window, organization-key certificate, three length bytes,
/// signature. Add the lengths of the organization, operator name and role.
pub const IDENTITY_CERTIFICATE_BASE_LEN: usize =
    2 + 8 + 32 + 16 + SERVER_CERTIFICATE_LEN + 3 + SIGNATURE_LEN;

/// The longest encoded identity certificate.
pub const MAX_IDENTITY_CERTIFICATE_LEN: usize =
    IDENTITY_CERTIFICATE_BASE_LEN + MAX_ORGANIZATION_LEN + MAX_OPERATOR_NAME_LEN + MAX_ROLE_LEN;

/// Whether `c` may not appear in a displayed certificate text: control characters, line and
/// paragraph separators, invisible characters, and bidirectional controls (which can make a
/// text display as another).
pub(crate) fn disallowed(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Checks a certificate text: 1..=`max` bytes, no disallowed character, no white space at
/// either end.
pub(crate) fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), VerifyError> {
    if text.is_empty() || text.len() > max {
        return Err(VerifyError::TextLength {
            field,
            len: text.len(),
            max,
        });
    }
    if text.trim() != text || text.chars().any(disallowed) {
        return Err(VerifyError::InvalidText { field });
    }
    Ok(())
}

/// Reads `len(1) text(len)`, as checked by [`check_text`].
pub(crate) fn decode_text(
    r: &mut Reader<'_>,
    len_field: &'static str,
    field: &'static str,
    max: usize,
) -> Result<String, DecodeError> {
    let len = usize::from(r.u8()?);
    if len == 0 || len > max {
        return Err(DecodeError::InvalidField { field: len_field });
    }
    let text =
        core::str::from_utf8(r.take(len)?).map_err(|_| DecodeError::InvalidField { field })?;
    check_text(field, text, max).map_err(|_| DecodeError::InvalidField { field })?;
    Ok(text.to_owned())
}

pub(crate) fn encode_text(out: &mut Vec<u8>, text: &str) {
    // Cannot saturate: issuing bounds every text by its maximum (< 256).
    out.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(text.as_bytes());
}

fn lifetime_secs(validity: &Validity) -> u64 {
    validity
        .expires_at()
        .as_unix_secs()
        .saturating_sub(validity.not_before().as_unix_secs())
}

fn check_lifetime(validity: &Validity) -> Result<(), VerifyError> {
    let lifetime_secs = lifetime_secs(validity);
    if lifetime_secs > MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS {
        return Err(VerifyError::LifetimeTooLong {
            lifetime_secs,
            max_secs: MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS,
        });
    }
    Ok(())
}

/// What an organization certifies about one operator device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OperatorInfo {
    /// A serial unique among the certificates of the issuing organization key (revocation
    /// names it).
    pub serial: u64,
    /// The organization's name, exactly as customers pin it with its root (1 to
    /// [`MAX_ORGANIZATION_LEN`] bytes of displayable UTF-8).
    pub organization: String,
    /// The operator's name as customers should see it (1 to [`MAX_OPERATOR_NAME_LEN`] bytes).
    pub operator_name: String,
    /// The operator's role, for example "Customer support" (1 to [`MAX_ROLE_LEN`] bytes).
    pub role: String,
    /// The identity key of the operator's device.
    pub identity_key: IdentityKey,
    /// When the certificate is valid: at most [`MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS`].
    pub validity: Validity,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct IdentityBody {
    info: OperatorInfo,
    issuer: ServerCertificate,
}

impl CertificateBody for IdentityBody {
    const TYPE: u8 = TYPE_IDENTITY_CERTIFICATE;
    const LABEL: &'static [u8] = LABEL_SIG_IDENTITY_CERTIFICATE;
    // `CertificateKind` has no identity variant yet; the kind only appears in the
    // `CertificateError`s that `IdentityCertificate::verify` maps to `VerifyError`s.
    const KIND: CertificateKind = CertificateKind::Sender;
    const MAX_LEN: usize = MAX_IDENTITY_CERTIFICATE_LEN;

    fn encode_body(&self, out: &mut Vec<u8>) {
        let info = &self.info;
        out.extend_from_slice(&info.serial.to_be_bytes());
        out.extend_from_slice(info.identity_key.as_bytes());
        info.validity.encode(out);
        out.extend_from_slice(self.issuer.as_bytes());
        encode_text(out, &info.organization);
        encode_text(out, &info.operator_name);
        encode_text(out, &info.role);
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let serial = u64::from_be_bytes(r.array::<8>()?);
        let identity_key =
            IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField {
                field: "identity_key",
            })?;
        let validity = Validity::decode(r)?;
        let issuer = ServerCertificate::from_bytes(r.take(SERVER_CERTIFICATE_LEN)?)?;
        let organization =
            decode_text(r, "organization_len", "organization", MAX_ORGANIZATION_LEN)?;
        let operator_name = decode_text(
            r,
            "operator_name_len",
            "operator_name",
            MAX_OPERATOR_NAME_LEN,
        )?;
        let role = decode_text(r, "role_len", "role", MAX_ROLE_LEN)?;
        Ok(IdentityBody {
            info: OperatorInfo {
                serial,
                organization,
                operator_name,
                role,
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

impl LeafBody for IdentityBody {
    fn issuer(&self) -> &ServerCertificate {
        &self.issuer
    }

    fn serial(&self) -> u64 {
        self.info.serial
    }
}

/// An operator device's identity key certified by its organization (SPEC.md §15.6.2):
/// `version(1) type(1)=0x42 serial(8) identity_key(32) not_before(8) expires_at(8)
/// organization_key_certificate(122) organization_len(1) organization(n)
/// operator_name_len(1) operator_name(n) role_len(1) role(n) signature(64)`.
///
/// The operator's app sends it to customers (for example with its first message); the
/// customer's app checks it with [`verify_business_identity`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdentityCertificate(Signed<IdentityBody>);

impl IdentityCertificate {
    /// Certifies an operator device with the organization key `organization_key`, whose
    /// certificate (signed by the organization's root) is `issuer`.
    ///
    /// # Errors
    /// [`VerifyError::TextLength`] or [`VerifyError::InvalidText`] for a text that is empty,
    /// too long or not displayable; [`VerifyError::LifetimeTooLong`] for a validity window
    /// longer than [`MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS`]; [`VerifyError::IssuerMismatch`]
    /// if `organization_key` is not the key `issuer` certifies.
    pub fn issue(
        organization_key: &IssuerKeyPair,
        issuer: &ServerCertificate,
        info: OperatorInfo,
    ) -> Result<Self, VerifyError> {
        check_text("organization", &info.organization, MAX_ORGANIZATION_LEN)?;
        check_text("operator_name", &info.operator_name, MAX_OPERATOR_NAME_LEN)?;
        check_text("role", &info.role, MAX_ROLE_LEN)?;
        check_lifetime(&info.validity)?;
        if organization_key.public() != *issuer.key() {
            return Err(VerifyError::IssuerMismatch);
        }
        Ok(IdentityCertificate(Signed::sign(
            IdentityBody {
                info,
                issuer: issuer.clone(),
            },
            organization_key,
        )))
    }

    /// Decodes strictly. Signatures are not checked here (see [`IdentityCertificate::verify`]).
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout, including an invalid identity key
    /// (`InvalidField("identity_key")`), a text length outside its bounds
    /// (`InvalidField("organization_len")`, ...), a text that is not displayable UTF-8
    /// (`InvalidField("organization")`, ...) and a malformed organization-key certificate.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Signed::decode(bytes).map(IdentityCertificate)
    }

    /// Checks the certificate for a session with `operator` (pass
    /// [`Session::remote_identity`](crate::Session::remote_identity)) against the pinned
    /// organization roots at `now`. In this order: every signature from the root down, then
    /// revocation, then both validity windows (a root that is not pinned is
    /// `ForeignOrganization`); then the certificate's lifetime; then that it names the
    /// organization pinned under its root; then that it certifies `operator`.
    ///
    /// # Errors
    /// [`VerifyError::ForeignOrganization`], [`VerifyError::Forged`],
    /// [`VerifyError::Revoked`], [`VerifyError::NotYetValid`], [`VerifyError::Expired`],
    /// [`VerifyError::LifetimeTooLong`], [`VerifyError::OrganizationMismatch`] or
    /// [`VerifyError::OperatorKeyMismatch`]: the first check that fails. Nothing changes.
    pub fn verify(
        &self,
        operator: &IdentityKey,
        roots: &OrganizationRoots,
        now: Timestamp,
    ) -> Result<BusinessIdentity, VerifyError> {
        validate_leaf(&self.0, &roots.trust, now).map_err(|e| match e {
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
        check_lifetime(self.validity())?;
        let root_id = self.organization_key_certificate().root_id();
        match roots.names.get(&root_id) {
            Some(pinned) if *pinned == self.organization() => {}
            Some(_) => return Err(VerifyError::OrganizationMismatch { root_id }),
            None => return Err(VerifyError::ForeignOrganization { root_id }),
        }
        if self.identity_key() != operator {
            return Err(VerifyError::OperatorKeyMismatch);
        }
        let info = &self.0.body().info;
        let valid_until = info
            .validity
            .expires_at()
            .min(self.organization_key_certificate().validity().expires_at());
        Ok(BusinessIdentity {
            organization: info.organization.clone(),
            operator_name: info.operator_name.clone(),
            role: info.role.clone(),
            identity_key: info.identity_key,
            root_id,
            serial: info.serial,
            valid_until,
        })
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The encoding, copied.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }

    /// The serial assigned by the organization.
    pub fn serial(&self) -> u64 {
        self.0.body().info.serial
    }

    /// The organization's name, as the certificate states it (not yet checked).
    pub fn organization(&self) -> &str {
        &self.0.body().info.organization
    }

    /// The operator's name, as the certificate states it (not yet checked).
    pub fn operator_name(&self) -> &str {
        &self.0.body().info.operator_name
    }

    /// The operator's role, as the certificate states it (not yet checked).
    pub fn role(&self) -> &str {
        &self.0.body().info.role
    }

    /// The certified identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        &self.0.body().info.identity_key
    }

    /// The validity window.
    pub fn validity(&self) -> &Validity {
        &self.0.body().info.validity
    }

    /// The certificate of the organization key that signed this one.
    pub fn organization_key_certificate(&self) -> &ServerCertificate {
        &self.0.body().issuer
    }

    /// The organization key's signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        self.0.signature()
    }
}

impl TryFrom<&[u8]> for IdentityCertificate {
    type Error = DecodeError;

    fn try_from(bytes: &[u8]) -> Result<Self, DecodeError> {
        IdentityCertificate::from_bytes(bytes)
    }
}

impl fmt::Debug for IdentityCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityCertificate")
            .field("serial", &self.serial())
            .field("organization", &self.organization())
            .field("operator_name", &self.operator_name())
            .field("role", &self.role())
            .field("identity_key", self.identity_key())
            .field("validity", self.validity())
            .field(
                "organization_key_id",
                &self.organization_key_certificate().key_id(),
            )
            .finish_non_exhaustive()
    }
}

/// A verified business identity: who the session is with, as certified by a pinned
/// organization root. Only [`verify_business_identity`] (or [`IdentityCertificate::verify`])
/// makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BusinessIdentity {
    /// The organization, as pinned with its root.
    pub organization: String,
    /// The operator's name.
    pub operator_name: String,
    /// The operator's role.
    pub role: String,
    /// The operator device's identity key (the session's remote identity).
    pub identity_key: IdentityKey,
    /// The pinned root that vouches for it.
    pub root_id: u32,
    /// The certificate's serial.
    pub serial: u64,
    /// When the certificate, or the organization key's certificate, expires, whichever is
    /// first: check again (with a renewed certificate) from then on.
    pub valid_until: Timestamp,
}

impl fmt::Display for BusinessIdentity {
    /// `verified as <organization>, <operator name>, <role>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "verified as {}, {}, {}",
            self.organization, self.operator_name, self.role
        )
    }
}

/// The organization roots a customer's app pins, each with the organization's name. Filled by
/// the app from its configuration (never from the network); hushwire only reads it.
///
/// Keep it apart from the sealed-sender [`TrustStore`]: both use [`ServerCertificate`]s, so a
/// root pinned in both would let an organization key issue sender certificates, and the
/// messaging provider's keys issue identity certificates.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OrganizationRoots {
    trust: TrustStore,
    names: BTreeMap<u32, String>,
}

impl OrganizationRoots {
    /// An empty set: no organization is trusted.
    pub fn new() -> Self {
        OrganizationRoots::default()
    }

    /// Pins `key` as the root of `organization` under `root_id`. Pinning the same root again
    /// is a no-op.
    ///
    /// # Errors
    /// [`VerifyError::TextLength`] or [`VerifyError::InvalidText`] for an organization name
    /// that could not appear in a certificate; [`VerifyError::Certificate`] with
    /// [`CertificateError::DuplicateRoot`] if `root_id` is pinned to another key or another
    /// organization, or [`CertificateError::TrustStoreFull`] past
    /// [`crate::certificate::MAX_TRUST_ROOTS`]. Unchanged on error.
    pub fn pin(
        &mut self,
        root_id: u32,
        key: IssuerKey,
        organization: &str,
    ) -> Result<(), VerifyError> {
        check_text("organization", organization, MAX_ORGANIZATION_LEN)?;
        if self.names.get(&root_id).is_some_and(|n| n != organization) {
            return Err(VerifyError::Certificate(CertificateError::DuplicateRoot {
                root_id,
            }));
        }
        self.trust
            .add_root(root_id, key)
            .map_err(VerifyError::Certificate)?;
        self.names.insert(root_id, organization.to_owned());
        Ok(())
    }

    /// The trust store of the pinned roots and revocations (for other certificate kinds
    /// issued under the same organization keys, SPEC.md §20.2).
    pub(crate) fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// Unpins root `root_id`. Returns whether it was pinned.
    pub fn unpin(&mut self, root_id: u32) -> bool {
        self.names.remove(&root_id);
        self.trust.remove_root(root_id)
    }

    /// The organization pinned under `root_id`.
    pub fn organization(&self, root_id: u32) -> Option<&str> {
        self.names.get(&root_id).map(String::as_str)
    }

    /// Revokes every certificate signed by organization key `key_id` of the organization
    /// pinned under `root_id`. Organizations number their keys independently: another
    /// organization's key with the same id stays trusted.
    ///
    /// # Errors
    /// [`VerifyError::Certificate`] with [`CertificateError::TrustStoreFull`] past
    /// [`crate::certificate::MAX_REVOKED_SERVER_KEYS`]. Unchanged on error.
    pub fn revoke_organization_key(
        &mut self,
        root_id: u32,
        key_id: u32,
    ) -> Result<(), VerifyError> {
        self.trust
            .revoke_server_key(root_id, key_id)
            .map_err(VerifyError::Certificate)
    }

    /// Revokes the identity certificate with `serial` of organization key `key_id` of the
    /// organization pinned under `root_id`.
    ///
    /// # Errors
    /// [`VerifyError::Certificate`] with [`CertificateError::TrustStoreFull`] past
    /// [`crate::certificate::MAX_REVOKED_CERTIFICATES`]. Unchanged on error.
    pub fn revoke_certificate(
        &mut self,
        root_id: u32,
        key_id: u32,
        serial: u64,
    ) -> Result<(), VerifyError> {
        self.trust
            .revoke_certificate(root_id, key_id, serial)
            .map_err(VerifyError::Certificate)
    }
}

impl fmt::Debug for OrganizationRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrganizationRoots")
            .field("organizations", &self.names)
            .field("trust", &self.trust)
            .finish()
    }
}

/// Decodes an identity certificate and checks it for a session with `operator` (pass
/// [`Session::remote_identity`](crate::Session::remote_identity)):
/// `verified as <Org>, <name>, <role>` ([`BusinessIdentity`]'s `Display`), or the reason it
/// is not.
///
/// # Errors
/// [`VerifyError::Malformed`] for bytes that are not an identity certificate; otherwise as
/// [`IdentityCertificate::verify`]. Nothing changes on error.
pub fn verify_business_identity(
    certificate: &[u8],
    operator: &IdentityKey,
    roots: &OrganizationRoots,
    now: Timestamp,
) -> Result<BusinessIdentity, VerifyError> {
    IdentityCertificate::from_bytes(certificate)?.verify(operator, roots, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKeyPair;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    const DAY: u64 = 24 * 3600;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    struct Org {
        root: IssuerKeyPair,
        key: IssuerKeyPair,
        key_cert: ServerCertificate,
        roots: OrganizationRoots,
        operator: IdentityKeyPair,
    }

    fn org(seed: u64) -> Org {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let root = IssuerKeyPair::generate(&mut rng);
        let key = IssuerKeyPair::generate(&mut rng);
        let operator = IdentityKeyPair::generate(&mut rng);
        let key_cert = ServerCertificate::issue(
            &root,
            1,
            5,
            &key.public(),
            Validity::new(t(0), t(365 * DAY)).unwrap(),
        );
        let mut roots = OrganizationRoots::new();
        roots.pin(1, root.public(), "Acme Bank").unwrap();
        Org {
            root,
            key,
            key_cert,
            roots,
            operator,
        }
    }

    fn info(o: &Org) -> OperatorInfo {
        OperatorInfo {
            serial: 9,
            organization: "Acme Bank".into(),
            operator_name: "Dana".into(),
            role: "Support".into(),
            identity_key: *o.operator.public(),
            validity: Validity::new(t(10 * DAY), t(17 * DAY)).unwrap(),
        }
    }

    #[test]
    fn round_trip_and_lengths() {
        let o = org(820);
        let cert = IdentityCertificate::issue(&o.key, &o.key_cert, info(&o)).unwrap();
        assert_eq!(
            cert.as_bytes().len(),
            IDENTITY_CERTIFICATE_BASE_LEN + "Acme Bank".len() + 4 + 7
        );
        assert_eq!(
            IdentityCertificate::from_bytes(cert.as_bytes()).unwrap(),
            cert
        );
        let got = cert
            .verify(o.operator.public(), &o.roots, t(11 * DAY))
            .unwrap();
        assert_eq!(got.to_string(), "verified as Acme Bank, Dana, Support");
        assert_eq!(got.valid_until, t(17 * DAY));
        let _ = &o.root;
    }

    #[test]
    fn texts_at_and_past_their_limits() {
        let o = org(821);
        for (field, max) in [
            ("organization", MAX_ORGANIZATION_LEN),
            ("operator_name", MAX_OPERATOR_NAME_LEN),
            ("role", MAX_ROLE_LEN),
        ] {
            let with = |text: String| {
                let mut i = info(&o);
                match field {
                    "organization" => i.organization = text,
                    "operator_name" => i.operator_name = text,
                    _ => i.role = text,
                }
                IdentityCertificate::issue(&o.key, &o.key_cert, i)
            };
            let at = with("é".repeat(max / 2)).unwrap();
            assert!(IdentityCertificate::from_bytes(at.as_bytes()).is_ok());
            assert_eq!(
                with("x".repeat(max + 1)),
                Err(VerifyError::TextLength {
                    field,
                    len: max + 1,
                    max
                })
            );
            assert_eq!(
                with(String::new()),
                Err(VerifyError::TextLength { field, len: 0, max })
            );
            for bad in [
                "a\nb",
                " lead",
                "trail ",
                "a\u{202E}b",
                "a\u{0}b",
                "a\u{2028}b",
            ] {
                assert_eq!(
                    with(bad.into()),
                    Err(VerifyError::InvalidText { field }),
                    "{bad:?}"
                );
            }
        }
        let mut longest = info(&o);
        longest.organization = "o".repeat(MAX_ORGANIZATION_LEN);
        longest.operator_name = "n".repeat(MAX_OPERATOR_NAME_LEN);
        longest.role = "r".repeat(MAX_ROLE_LEN);
        let cert = IdentityCertificate::issue(&o.key, &o.key_cert, longest).unwrap();
        assert_eq!(cert.as_bytes().len(), MAX_IDENTITY_CERTIFICATE_LEN);
        let mut bytes = cert.to_bytes();
        bytes.push(0);
        assert_eq!(
            IdentityCertificate::from_bytes(&bytes),
            Err(DecodeError::TooLarge {
                len: MAX_IDENTITY_CERTIFICATE_LEN + 1,
                max: MAX_IDENTITY_CERTIFICATE_LEN
            })
        );
    }

    #[test]
    fn decoding_refuses_bad_texts_even_when_signed() {
        let o = org(822);
        let cert = IdentityCertificate::issue(&o.key, &o.key_cert, info(&o)).unwrap();
        // Offsets: organization_len right after the organization-key certificate.
        let org_len_at = 2 + 8 + 32 + 16 + SERVER_CERTIFICATE_LEN;
        for (offset, value, field) in [
            (org_len_at, 0u8, "organization_len"),
            (
                org_len_at,
                (MAX_ORGANIZATION_LEN + 1) as u8,
                "organization_len",
            ),
            (org_len_at + 1, b'\n', "organization"),
            (org_len_at + 1, 0xff, "organization"),
        ] {
            let mut bytes = cert.to_bytes();
            bytes[offset] = value;
            assert_eq!(
                IdentityCertificate::from_bytes(&bytes),
                Err(DecodeError::InvalidField { field }),
                "{field} = {value}"
            );
        }
    }

    #[test]
    fn lifetime_at_and_past_the_limit() {
        let o = org(823);
        let mut i = info(&o);
        i.validity =
            Validity::new(t(DAY), t(DAY + MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS)).unwrap();
        let at = IdentityCertificate::issue(&o.key, &o.key_cert, i.clone()).unwrap();
        assert!(at.verify(o.operator.public(), &o.roots, t(2 * DAY)).is_ok());
        i.validity =
            Validity::new(t(DAY), t(DAY + MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS + 1)).unwrap();
        let too_long = Err(VerifyError::LifetimeTooLong {
            lifetime_secs: MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS + 1,
            max_secs: MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS,
        });
        assert_eq!(
            IdentityCertificate::issue(&o.key, &o.key_cert, i.clone()).map(|_| ()),
            too_long
        );
        // Signed anyway (a careless issuer): refused when verifying.
        let signed = IdentityCertificate(Signed::sign(
            IdentityBody {
                info: i,
                issuer: o.key_cert.clone(),
            },
            &o.key,
        ));
        assert_eq!(
            signed
                .verify(o.operator.public(), &o.roots, t(2 * DAY))
                .map(|_| ()),
            too_long
        );
    }

    #[test]
    fn pinning() {
        let o = org(824);
        let mut roots = o.roots.clone();
        roots.pin(1, o.root.public(), "Acme Bank").unwrap();
        assert_eq!(
            roots.pin(1, o.root.public(), "Other Bank"),
            Err(VerifyError::Certificate(CertificateError::DuplicateRoot {
                root_id: 1
            }))
        );
        assert_eq!(
            roots.pin(1, o.key.public(), "Acme Bank"),
            Err(VerifyError::Certificate(CertificateError::DuplicateRoot {
                root_id: 1
            }))
        );
        assert_eq!(
            roots.pin(2, o.key.public(), " Acme"),
            Err(VerifyError::InvalidText {
                field: "organization"
            })
        );
        assert!(roots == o.roots);
        assert_eq!(roots.organization(1), Some("Acme Bank"));
        assert!(roots.unpin(1));
        assert_eq!(roots.organization(1), None);
        assert!(!roots.unpin(1));
    }

    #[test]
    fn issuer_must_match() {
        let o = org(825);
        assert_eq!(
            IdentityCertificate::issue(&o.root, &o.key_cert, info(&o)).map(|_| ()),
            Err(VerifyError::IssuerMismatch)
        );
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let o = org(826);
        let cert = IdentityCertificate::issue(&o.key, &o.key_cert, info(&o)).unwrap();
        let now = t(11 * DAY);
        for i in 0..cert.as_bytes().len() * 8 {
            let mut bad = cert.to_bytes();
            bad[i / 8] ^= 1 << (i % 8);
            if let Ok(parsed) = IdentityCertificate::from_bytes(&bad) {
                assert!(
                    parsed.verify(o.operator.public(), &o.roots, now).is_err(),
                    "bit {i} accepted"
                );
            }
        }
    }
}
