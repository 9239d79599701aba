//! Live-chat support conversations (SPEC.md §20): anonymous website visitors, operators the
//! visitor trusts without a safety number, and conversations whose readers a certified
//! dispatcher assigns.
//!
//! - **Visitor identities** ([`VisitorIdentity`], §20.0): an ephemeral device identity with a
//!   time to live ([`DEFAULT_VISITOR_TTL_SECS`], configurable within
//!   [`MIN_VISITOR_TTL_SECS`]`..=`[`MAX_VISITOR_TTL_SECS`]), created in the widget; only its
//!   public prekeys are uploaded. After the TTL it refuses to encrypt
//!   ([`SupportError::VisitorExpired`]). Operators see it as "unverified visitor".
//! - **Certified operators** ([`verify_operator`], §20.1): the widget pins the tenant's
//!   organization root ([`crate::verify::OrganizationRoots`]); an operator device is
//!   accepted only with a valid identity certificate (SPEC.md §15.6) covering its key, shown
//!   as `Acme Bank · Dana Smith · Card support`. No trust on first use.
//! - **Assignment roster** ([`AssignmentRoster`], [`Dispatcher`], §20.2–§20.3): a support
//!   conversation is a group whose membership changes (assign, reassign, add a supervisor,
//!   remove, close) are signed by a [`DispatcherCertificate`]d key of the tenant, never by
//!   the relay. Only the roster's devices get sender keys; a removal rotates them.
//!   [`SupportConversation::readers`] lists who can read, as verified names.
//! - **Visitor upgrade** ([`LinkStatement`], §20.4): a visitor who logs in links the
//!   ephemeral key to her account; operators then see "visitor verified as <user>".
//!
//! No I/O: every input is bytes, time and randomness passed in; every output is bytes to
//! send and typed events.
//!
//! ```
//! use hushwire::support::{
//!     AssignmentOp, Dispatcher, DispatcherCertificate, DispatcherInfo, SupportConversation,
//!     VisitorConfig, VisitorIdentity,
//! };
//! use hushwire::verify::{IdentityCertificate, OperatorInfo, OrganizationRoots};
//! use hushwire::{IdentityKeyPair, IssuerKeyPair, ServerCertificate, Timestamp, Validity};
//! use rand_core::SeedableRng;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let week = Validity::new(now, now.plus_secs(7 * 24 * 3600))?;
//!
//! // The tenant: a root (pinned in the widget), an organization key, a dispatcher, Dana.
//! let root = IssuerKeyPair::generate(&mut rng);
//! let org_key = IssuerKeyPair::generate(&mut rng);
//! let org_cert = ServerCertificate::issue(&root, 1, 1, &org_key.public(), week);
//! let mut roots = OrganizationRoots::new();
//! roots.pin(1, root.public(), "Acme Bank")?;
//! let dispatcher_key = IdentityKeyPair::generate(&mut rng);
//! let dispatcher = Dispatcher::new(
//!     dispatcher_key.clone(),
//!     DispatcherCertificate::issue(&org_key, &org_cert, DispatcherInfo {
//!         serial: 1,
//!         organization: "Acme Bank".into(),
//!         name: "Card desk".into(),
//!         dispatcher_key: *dispatcher_key.public(),
//!         validity: week,
//!     })?,
//! )?;
//! let dana = IdentityKeyPair::generate(&mut rng);
//! let dana_cert = IdentityCertificate::issue(&org_key, &org_cert, OperatorInfo {
//!     serial: 2,
//!     organization: "Acme Bank".into(),
//!     operator_name: "Dana Smith".into(),
//!     role: "Card support".into(),
//!     identity_key: *dana.public(),
//!     validity: week,
//! })?;
//!
//! // The visitor opens a conversation; the dispatcher assigns Dana.
//! let visitor = VisitorIdentity::new(VisitorConfig::default(), now, &mut rng);
//! let mut chat = SupportConversation::open(&visitor, now, &mut rng)?;
//! let roster = hushwire::support::AssignmentRoster::genesis(chat.id(), *visitor.identity_key());
//! let signed = dispatcher.sign_change(&roster, AssignmentOp::Assign(dana_cert), &mut rng)?;
//! let update = chat.apply_change(&signed.change, &roots, now, &mut rng)?;
//! assert_eq!(update.added[0].to_string(), "Acme Bank · Dana Smith · Card support");
//!
//! // Dana joins from the welcome; the visitor lists who can read.
//! let welcome = signed.welcome.expect("Dana was added");
//! let joined = SupportConversation::join(&dana, &welcome, &roots, now, &mut rng)?;
//! assert_eq!(joined.conversation.visitor_status().to_string(), "unverified visitor");
//! let readers: Vec<String> = chat.readers(&roots, now).iter().map(|r| r.to_string()).collect();
//! assert_eq!(readers, ["unverified visitor", "Acme Bank · Dana Smith · Card support (assigned)"]);
//! # Ok(())
//! # }
//! ```

mod conversation;
mod dispatcher;
mod error;
mod history;
mod link;
mod operator;
mod roster;
mod snapshot;
mod visitor;

pub use conversation::{
    ConversationReader, SupportConversation, SupportEvent, SupportJoined, SupportMessage,
    SupportUpdate, VisitorStatus,
};
pub use dispatcher::{
    DISPATCHER_CERTIFICATE_BASE_LEN, Dispatched, Dispatcher, DispatcherCertificate, DispatcherInfo,
    MAX_DISPATCHER_CERTIFICATE_LEN, MAX_DISPATCHER_CERTIFICATE_LIFETIME_SECS,
    MAX_DISPATCHER_NAME_LEN,
};
pub use error::SupportError;
pub use link::{
    LINK_STATEMENT_BASE_LEN, LinkStatement, MAX_LINK_STATEMENT_LEN, MAX_LINK_USER_ID_LEN,
};
pub use operator::{VerifiedOperator, verify_operator, verify_operator_certificate};
pub use roster::{
    AssignedOperator, AssignmentOp, AssignmentRole, AssignmentRoster, MAX_SUPPORT_CHANGE_LEN,
    MAX_SUPPORT_ROSTER_LEN, SUPPORT_CHANGE_HEADER_LEN, SUPPORT_ROSTER_BODY_FIXED_LEN,
    SUPPORT_ROSTER_ENTRY_FIXED_LEN,
};
pub use visitor::{LinkedAccount, VisitorConfig, VisitorIdentity};

/// Default time to live of a visitor identity: 24 hours.
pub const DEFAULT_VISITOR_TTL_SECS: u64 = 24 * 3600;
/// Shortest configurable visitor TTL: 5 minutes.
pub const MIN_VISITOR_TTL_SECS: u64 = 5 * 60;
/// Longest configurable visitor TTL: 7 days.
pub const MAX_VISITOR_TTL_SECS: u64 = 7 * 24 * 3600;
/// Most operator devices (assigned and supervisors) in one conversation's roster.
pub const MAX_CONVERSATION_OPERATORS: usize = 8;
/// Oldest link statement accepted, in seconds after it was made: 24 hours.
pub const MAX_LINK_STATEMENT_AGE_SECS: u64 = 24 * 3600;
/// How far ahead of the receiver's clock a link statement may be dated: 5 minutes.
pub const MAX_LINK_CLOCK_SKEW_SECS: u64 = 300;

/// Decodes every support structure (signed roster, roster change, dispatcher certificate,
/// link statement) without checking signatures: what the fuzz target drives.
#[doc(hidden)]
pub fn decode_any(bytes: &[u8]) -> bool {
    roster::decode_welcome(bytes).is_ok()
        || roster::decode_change(bytes).is_ok()
        || DispatcherCertificate::from_bytes(bytes).is_ok()
        || LinkStatement::from_bytes(bytes).is_ok()
}
