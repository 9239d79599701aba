//! Who am I talking to? Identity verification (SPEC.md §15).
//!
//! End-to-end encryption is only as good as the check that the key at the other end belongs to
//! the person (or business) the user thinks it does. This module gives an app four tools:
//!
//! - **Safety numbers** ([`SafetyNumber`]): a 60-digit code, in 12 groups of 5, computed from
//!   both identity keys and the app's stable user ids. Both sides compute the same code, so
//!   users can compare it on screen or read it out. Each half is the output of a deliberately
//!   slow hash ([`FINGERPRINT_ITERATIONS`] rounds of SHA-512), which makes it costly to search
//!   for a key whose code matches on the digits a hurried user compares. The same numbers
//!   travel as a 67-byte QR payload ([`SafetyNumber::to_qr_payload`]) that one side scans from
//!   the other's screen and checks in one call ([`SafetyNumber::verify_scanned`]).
//! - **Short authentication strings** ([`ShortAuthString`]): 7 emoji from a fixed table of 64
//!   (or three 4-digit numbers), for reading aloud on a call. They come out of a three-message
//!   commit-then-reveal run inside an established [`Session`](crate::Session)
//!   ([`start_sas`], [`accept_sas`]): bound to the session and to a fresh nonce from each
//!   side, so that someone in the middle gets one guess per run, not a search.
//! - **Verification state** in the [`Account`](crate::Account), per user: unverified,
//!   verified, or *changed since verification*. A changed key raises
//!   [`Event::IdentityChanged`](crate::Event::IdentityChanged), and
//!   [`Account::encrypt_for`](crate::Account::encrypt_for) refuses to encrypt to the new key
//!   until the app accepts it ([`Account::accept_identity_change`](crate::Account::accept_identity_change))
//!   or the user verifies it.
//! - **Certified business identities** ([`IdentityCertificate`]): an organization certifies its
//!   operators' device identity keys (organization, name, role, a validity of at most
//!   [`MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS`]) with the certificate machinery of
//!   [`crate::certificate`]. A customer's app pins the organization's root
//!   ([`OrganizationRoots`]) and [`verify_business_identity`] reports
//!   `verified as <Org>, <name>, <role>`, or a typed reason it is not.
//!
//! ```
//! use hushwire::verify::{SafetyNumber, UserId};
//! use hushwire::{IdentityKeyPair, Timestamp};
//! use rand_core::SeedableRng;
//! # fn main() -> Result<(), hushwire::Error> {
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
//! let alice = IdentityKeyPair::generate(&mut rng);
//! let bob = IdentityKeyPair::generate(&mut rng);
//! let (alice_id, bob_id) = (UserId::new(b"alice")?, UserId::new(b"bob")?);
//!
//! let on_alices_phone = SafetyNumber::new(&alice_id, alice.public(), &bob_id, bob.public());
//! let on_bobs_phone = SafetyNumber::new(&bob_id, bob.public(), &alice_id, alice.public());
//! assert_eq!(on_alices_phone.to_string(), on_bobs_phone.to_string());
//!
//! // Bob shows a QR code; Alice scans it.
//! on_alices_phone.verify_scanned(&on_bobs_phone.to_qr_payload())?;
//! # Ok(())
//! # }
//! ```

mod business;
mod safety;
mod sas;
mod sas_exchange;
mod sas_messages;
mod state;
mod user;

pub use business::{
    BusinessIdentity, IDENTITY_CERTIFICATE_BASE_LEN, IdentityCertificate,
    MAX_IDENTITY_CERTIFICATE_LEN, MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS, MAX_OPERATOR_NAME_LEN,
    MAX_ORGANIZATION_LEN, MAX_ROLE_LEN, OperatorInfo, OrganizationRoots, verify_business_identity,
};
pub(crate) use business::{check_text, decode_text, encode_text};
pub use safety::{
    FINGERPRINT_ITERATIONS, FINGERPRINT_LEN, Fingerprint, QR_PAYLOAD_LEN, SAFETY_NUMBER_DIGITS,
    SAFETY_NUMBER_GROUPS, SAFETY_NUMBER_VERSION, SafetyNumber,
};
pub use sas::{
    SAS_DECIMAL_COUNT, SAS_EMOJI_COUNT, SAS_EMOJI_TABLE, SAS_LEN, SasEmoji, ShortAuthString,
};
pub use sas_exchange::{
    SAS_RUN_TIMEOUT_SECS, SasAwaitingAccept, SasAwaitingReveal, SasReady, accept_sas, start_sas,
};
pub use sas_messages::{
    SAS_COMMITMENT_LEN, SAS_MESSAGE_LEN, SAS_NONCE_LEN, SAS_RUN_ID_LEN, SasAccept, SasMessage,
    SasReveal, SasRunId, SasStart,
};
pub use state::{MAX_IDENTITY_RECORDS, VerificationState};
pub use user::{MAX_USER_ID_LEN, UserId};

pub(crate) use state::{IdentityBook, IdentityRecordV1};

use thiserror::Error;

use crate::certificate::CertificateError;
use crate::error::{DecodeError, ErrorKind};
use crate::time::Timestamp;

/// Errors of identity verification: safety numbers and their QR payload, short
/// authentication string runs, the account's verification state, and business identity
/// certificates. On every error nothing changes: the account, the trust roots and every
/// session are left as they were, and a SAS run's state is handed back unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes (a scanned QR payload, an identity certificate) are not well formed: truncated,
    /// trailing bytes, an unknown wire version, another structure's type byte, or a field out
    /// of range.
    #[error("malformed verification data: {0}")]
    Malformed(#[from] DecodeError),
    /// The scanned QR payload was made with another safety-number version than this build's
    /// ([`SAFETY_NUMBER_VERSION`]): both apps must run a version that shares one.
    #[error("safety number version {theirs} scanned, this build computes version {ours}")]
    SafetyNumberVersion {
        /// The version this build computes.
        ours: u8,
        /// The version in the scanned payload.
        theirs: u8,
    },
    /// The scanned code belongs to another pair of identities: the other phone sees another
    /// key for one of the two users (a key change, or someone in the middle), or it is the
    /// code of another conversation. Do not mark the contact verified.
    #[error("the scanned code is for another pair of identities (key changed or intercepted)")]
    OtherPair,
    /// The scanned code names this pair the other way round: it was made on this side (a
    /// screenshot of our own code, or a code reflected back). Scan the other phone's screen.
    #[error("the scanned code was made by this side; scan the other phone's code")]
    Swapped,
    /// A user id is empty or longer than [`MAX_USER_ID_LEN`].
    #[error("user id of {len} bytes is outside 1..={max}")]
    UserIdLength {
        /// Length of the user id given.
        len: usize,
        /// The maximum, [`MAX_USER_ID_LEN`].
        max: usize,
    },
    /// The session has not been confirmed by the peer yet (no message from it was decrypted):
    /// a SAS run needs a session both ends hold.
    #[error("the session has not received a message from the peer yet")]
    SessionNotEstablished,
    /// A SAS message of another run than this one: an older run, a replay, or a run the peer
    /// started at the same time. The run continues; drop the message.
    #[error("the SAS message belongs to another verification run")]
    SasOtherRun,
    /// A SAS step was given another session than the one its run started on.
    #[error("the SAS run belongs to another session")]
    SasOtherSession,
    /// The peer's reveal does not open the commitment it sent first: the peer, or whoever
    /// holds the session's keys, tried to change its contribution after seeing ours. Treat
    /// the verification as failed and warn the user.
    #[error("the SAS reveal does not match its commitment")]
    SasCommitmentMismatch,
    /// The run is older than [`SAS_RUN_TIMEOUT_SECS`]: start a new one (a run that does not
    /// complete is a warning sign too, SPEC.md §15.4.7).
    #[error("the SAS run expired at {}", .expired_at.as_unix_secs())]
    SasExpired {
        /// When the run expired.
        expired_at: Timestamp,
    },
    /// The account holds no identity for this user: call
    /// [`Account::record_identity`](crate::Account::record_identity) first.
    #[error("no identity is recorded for this user")]
    UnknownUser,
    /// The identity key given is not the one recorded for this user.
    #[error("the identity key is not the one recorded for this user")]
    IdentityMismatch,
    /// The identity key given is this account's own.
    #[error("the identity key is this account's own")]
    OwnIdentity,
    /// The account already holds [`MAX_IDENTITY_RECORDS`] users: forget some first
    /// ([`Account::forget_identity`](crate::Account::forget_identity)).
    #[error("the account already holds {max} user identities")]
    TooManyIdentities {
        /// The limit, [`MAX_IDENTITY_RECORDS`].
        max: usize,
    },
    /// A text field (organization, operator name, role) is empty or too long.
    #[error("`{field}` of {len} bytes is outside 1..={max}")]
    TextLength {
        /// Name of the field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The maximum for this field.
        max: usize,
    },
    /// A text field is not valid for display: it holds a control character or a
    /// bidirectional-override character, or starts or ends with white space.
    #[error("`{field}` holds characters that are not allowed")]
    InvalidText {
        /// Name of the field.
        field: &'static str,
    },
    /// Issuing: the signing key is not the key the issuer certificate certifies.
    #[error("the signing key is not the key certified by the issuer certificate")]
    IssuerMismatch,
    /// The certificate's validity window is longer than
    /// [`MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS`]: it is refused (when issuing and when
    /// verifying), so that a certificate the organization stops renewing lapses soon.
    #[error("certificate valid for {lifetime_secs} s, the maximum is {max_secs} s")]
    LifetimeTooLong {
        /// The window's length in seconds.
        lifetime_secs: u64,
        /// The maximum, [`MAX_IDENTITY_CERTIFICATE_LIFETIME_SECS`].
        max_secs: u64,
    },
    /// A signature in the certificate chain does not verify: forged or altered.
    #[error("the identity certificate is forged or altered")]
    Forged,
    /// The certificate chains to an organization root that is not pinned.
    #[error("the certificate is from organization root {root_id}, which is not pinned")]
    ForeignOrganization {
        /// The root id named by the certificate.
        root_id: u32,
    },
    /// The certificate chains to a pinned root, but names another organization than the one
    /// pinned under that root.
    #[error("the certificate names another organization than the one pinned as root {root_id}")]
    OrganizationMismatch {
        /// The root that signed the chain.
        root_id: u32,
    },
    /// The current time is at or past the expiry of the certificate or of the organization
    /// key that signed it.
    #[error("the certificate expired at {}", .expires_at.as_unix_secs())]
    Expired {
        /// When it expired.
        expires_at: Timestamp,
    },
    /// The current time is before the validity window of the certificate or of the
    /// organization key that signed it.
    #[error("the certificate is not valid before {}", .not_before.as_unix_secs())]
    NotYetValid {
        /// When it becomes valid.
        not_before: Timestamp,
    },
    /// The certificate, or the organization key that signed it, was revoked.
    #[error("the certificate or its organization key is revoked")]
    Revoked,
    /// The certificate is valid but certifies another identity key than the one the session
    /// is with: it belongs to another operator (or another device of theirs).
    #[error("the certificate is for another identity key than the session's")]
    OperatorKeyMismatch,
    /// Pinning an organization root failed (root id taken by another key, or the store is
    /// full); see [`CertificateError`].
    #[error(transparent)]
    Certificate(CertificateError),
}

impl VerifyError {
    /// A stable, language-neutral name of this error, `"verify.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "verify.malformed",
            VerifyError::SafetyNumberVersion { .. } => "verify.safety_number_version",
            VerifyError::OtherPair => "verify.other_pair",
            VerifyError::Swapped => "verify.swapped",
            VerifyError::UserIdLength { .. } => "verify.user_id_length",
            VerifyError::SessionNotEstablished => "verify.session_not_established",
            VerifyError::SasOtherRun => "verify.sas_other_run",
            VerifyError::SasOtherSession => "verify.sas_other_session",
            VerifyError::SasCommitmentMismatch => "verify.sas_commitment_mismatch",
            VerifyError::SasExpired { .. } => "verify.sas_expired",
            VerifyError::UnknownUser => "verify.unknown_user",
            VerifyError::IdentityMismatch => "verify.identity_mismatch",
            VerifyError::OwnIdentity => "verify.own_identity",
            VerifyError::TooManyIdentities { .. } => "verify.too_many_identities",
            VerifyError::TextLength { .. } => "verify.text_length",
            VerifyError::InvalidText { .. } => "verify.invalid_text",
            VerifyError::IssuerMismatch => "verify.issuer_mismatch",
            VerifyError::LifetimeTooLong { .. } => "verify.lifetime_too_long",
            VerifyError::Forged => "verify.forged",
            VerifyError::ForeignOrganization { .. } => "verify.foreign_organization",
            VerifyError::OrganizationMismatch { .. } => "verify.organization_mismatch",
            VerifyError::Expired { .. } => "verify.expired",
            VerifyError::NotYetValid { .. } => "verify.not_yet_valid",
            VerifyError::Revoked => "verify.revoked",
            VerifyError::OperatorKeyMismatch => "verify.operator_key_mismatch",
            VerifyError::Certificate(_) => "verify.certificate",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            VerifyError::Malformed(e) => e.kind(),
            VerifyError::SafetyNumberVersion { .. } => ErrorKind::Malformed,
            VerifyError::OtherPair
            | VerifyError::SasCommitmentMismatch
            | VerifyError::Forged
            | VerifyError::OperatorKeyMismatch
            | VerifyError::OwnIdentity => ErrorKind::Tampered,
            VerifyError::Swapped
            | VerifyError::UserIdLength { .. }
            | VerifyError::SessionNotEstablished
            | VerifyError::SasOtherSession
            | VerifyError::UnknownUser
            | VerifyError::IdentityMismatch
            | VerifyError::TextLength { .. }
            | VerifyError::InvalidText { .. }
            | VerifyError::IssuerMismatch => ErrorKind::InvalidInput,
            VerifyError::SasOtherRun => ErrorKind::UnknownSession,
            VerifyError::TooManyIdentities { .. } | VerifyError::SasExpired { .. } => {
                ErrorKind::LimitExceeded
            }
            VerifyError::LifetimeTooLong { .. }
            | VerifyError::ForeignOrganization { .. }
            | VerifyError::OrganizationMismatch { .. }
            | VerifyError::Expired { .. }
            | VerifyError::NotYetValid { .. }
            | VerifyError::Revoked => ErrorKind::Untrusted,
            VerifyError::Certificate(e) => e.kind(),
        }
    }
}
