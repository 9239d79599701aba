//! A support conversation's assignment roster (SPEC.md §20.3): who, besides the visitor, can
//! read the conversation, changed only by changes a certified dispatcher signs.
//!
//! The roster holds the conversation id, a version (0 at genesis, one more per change), the
//! hash of the previous roster, the version of the last removal (`rekey_version`), the
//! visitor's key, a closed flag and the operator devices, each with its identity certificate,
//! its role in the conversation ([`AssignmentRole`]) and the version it was added at.

use core::fmt;

use sha2::{Digest, Sha256};

use super::dispatcher::{DispatcherCertificate, MAX_DISPATCHER_CERTIFICATE_LEN};
use super::{MAX_CONVERSATION_OPERATORS, SupportError};
use crate::certificate::SIGNATURE_LEN;
use crate::error::DecodeError;
use crate::group::{GroupId, GroupRole, Roster, RosterMember};
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::labels::{
    LABEL_SIG_SUPPORT_CHANGE, LABEL_SIG_SUPPORT_ROSTER, LABEL_SUPPORT_ROSTER_HASH,
};
use crate::verify::{IdentityCertificate, MAX_IDENTITY_CERTIFICATE_LEN};
use crate::wire::{
    Reader, TYPE_SUPPORT_ADD_SUPERVISOR, TYPE_SUPPORT_ASSIGN, TYPE_SUPPORT_CLOSE,
    TYPE_SUPPORT_REASSIGN, TYPE_SUPPORT_REMOVE, TYPE_SUPPORT_ROSTER, WIRE_VERSION, expect_header,
    expect_header_any,
};

/// Bytes of a roster body with no operator: conversation id, version, previous hash,
/// rekey version, visitor key, closed flag, operator count.
pub const SUPPORT_ROSTER_BODY_FIXED_LEN: usize = 32 + 8 + 32 + 8 + 32 + 1 + 1;

/// Bytes one operator entry adds to a roster body besides its certificate: role, added
/// version, certificate length.
pub const SUPPORT_ROSTER_ENTRY_FIXED_LEN: usize = 1 + 8 + 2;

/// The longest signed roster (type `0x25`): [`MAX_CONVERSATION_OPERATORS`] entries with the
/// longest certificates, the longest dispatcher certificate.
pub const MAX_SUPPORT_ROSTER_LEN: usize = 2
    + SUPPORT_ROSTER_BODY_FIXED_LEN
    + MAX_CONVERSATION_OPERATORS * (SUPPORT_ROSTER_ENTRY_FIXED_LEN + MAX_IDENTITY_CERTIFICATE_LEN)
    + 2
    + MAX_DISPATCHER_CERTIFICATE_LEN
    + SIGNATURE_LEN;

/// Bytes of a roster change's header: version, type, conversation id, new version,
/// previous hash.
pub const SUPPORT_CHANGE_HEADER_LEN: usize = 2 + 32 + 8 + 32;

/// The longest roster change (a reassignment with the longest certificates).
pub const MAX_SUPPORT_CHANGE_LEN: usize = SUPPORT_CHANGE_HEADER_LEN
    + 32
    + 2
    + MAX_IDENTITY_CERTIFICATE_LEN
    + 2
    + MAX_DISPATCHER_CERTIFICATE_LEN
    + SIGNATURE_LEN;

/// An operator device's role in one conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssignmentRole {
    /// The operator the conversation is assigned to (byte `0x01`).
    Assigned,
    /// A supervisor added to it (byte `0x02`).
    Supervisor,
}

impl AssignmentRole {
    fn to_byte(self) -> u8 {
        match self {
            AssignmentRole::Assigned => 0x01,
            AssignmentRole::Supervisor => 0x02,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0x01 => Some(AssignmentRole::Assigned),
            0x02 => Some(AssignmentRole::Supervisor),
            _ => None,
        }
    }
}

impl fmt::Display for AssignmentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AssignmentRole::Assigned => "assigned",
            AssignmentRole::Supervisor => "supervisor",
        })
    }
}

/// One operator device in a roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignedOperator {
    certificate: IdentityCertificate,
    role: AssignmentRole,
    added_version: u64,
}

impl AssignedOperator {
    /// Its identity certificate (verify it with the roots at the time you show it).
    pub fn certificate(&self) -> &IdentityCertificate {
        &self.certificate
    }

    /// The device key.
    pub fn identity_key(&self) -> &IdentityKey {
        self.certificate.identity_key()
    }

    /// Its role in the conversation.
    pub fn role(&self) -> AssignmentRole {
        self.role
    }

    /// The version that added it.
    pub fn added_version(&self) -> u64 {
        self.added_version
    }
}

/// One roster change, as a dispatcher signs it (SPEC.md §20.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // Transient: built, signed or applied, then dropped.
#[non_exhaustive]
pub enum AssignmentOp {
    /// Assign an operator device (type `0x26`).
    Assign(IdentityCertificate),
    /// Hand over from one assigned operator device to another (type `0x27`): the first is
    /// removed (everyone rotates) and the second assigned.
    Reassign {
        /// The assigned operator device handing over.
        from: IdentityKey,
        /// The one taking over.
        to: IdentityCertificate,
    },
    /// Add a supervisor device (type `0x28`).
    AddSupervisor(IdentityCertificate),
    /// Remove an operator device, assigned or supervisor (type `0x29`).
    Remove(IdentityKey),
    /// Close the conversation (type `0x2A`): every operator is removed; nothing follows.
    Close,
}

impl AssignmentOp {
    pub(crate) fn type_byte(&self) -> u8 {
        match self {
            AssignmentOp::Assign(_) => TYPE_SUPPORT_ASSIGN,
            AssignmentOp::Reassign { .. } => TYPE_SUPPORT_REASSIGN,
            AssignmentOp::AddSupervisor(_) => TYPE_SUPPORT_ADD_SUPERVISOR,
            AssignmentOp::Remove(_) => TYPE_SUPPORT_REMOVE,
            AssignmentOp::Close => TYPE_SUPPORT_CLOSE,
        }
    }

    /// The certificate of the operator device this change adds, if any.
    pub fn added(&self) -> Option<&IdentityCertificate> {
        match self {
            AssignmentOp::Assign(c) | AssignmentOp::AddSupervisor(c) => Some(c),
            AssignmentOp::Reassign { to, .. } => Some(to),
            AssignmentOp::Remove(_) | AssignmentOp::Close => None,
        }
    }
}

/// A support conversation's assignment roster at one version (SPEC.md §20.3).
#[derive(Clone, PartialEq, Eq)]
pub struct AssignmentRoster {
    conversation_id: GroupId,
    version: u64,
    previous_hash: [u8; 32],
    rekey_version: u64,
    visitor: IdentityKey,
    closed: bool,
    operators: Vec<AssignedOperator>,
}

impl fmt::Debug for AssignmentRoster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssignmentRoster")
            .field("conversation_id", &self.conversation_id)
            .field("version", &self.version)
            .field("rekey_version", &self.rekey_version)
            .field("visitor", &self.visitor)
            .field("closed", &self.closed)
            .field(
                "operators",
                &self
                    .operators
                    .iter()
                    .map(|o| (o.operator_label(), o.role))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl AssignedOperator {
    fn operator_label(&self) -> &str {
        self.certificate.operator_name()
    }
}

impl AssignmentRoster {
    /// The roster at version 0: the visitor alone (SPEC.md §20.3). The visitor's widget and
    /// the dispatcher both build it from the conversation id and the visitor key.
    pub fn genesis(conversation_id: GroupId, visitor: IdentityKey) -> Self {
        AssignmentRoster {
            conversation_id,
            version: 0,
            previous_hash: [0u8; 32],
            rekey_version: 0,
            visitor,
            closed: false,
            operators: Vec::new(),
        }
    }

    /// The conversation id.
    pub fn conversation_id(&self) -> GroupId {
        self.conversation_id
    }

    /// The version: 0 at genesis, one more per change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The hash of the previous version's roster (zeros at genesis).
    pub fn previous_hash(&self) -> &[u8; 32] {
        &self.previous_hash
    }

    /// The version of the last change that removed an operator (0 if none).
    pub fn rekey_version(&self) -> u64 {
        self.rekey_version
    }

    /// The visitor's key.
    pub fn visitor(&self) -> &IdentityKey {
        &self.visitor
    }

    /// Whether the conversation is closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The operator devices, sorted by device key.
    pub fn operators(&self) -> &[AssignedOperator] {
        &self.operators
    }

    /// The entry of an operator device, if it is in the roster.
    pub fn operator(&self, key: &IdentityKey) -> Option<&AssignedOperator> {
        self.position(key).ok().and_then(|i| self.operators.get(i))
    }

    fn position(&self, key: &IdentityKey) -> Result<usize, usize> {
        self.operators
            .binary_search_by(|o| o.identity_key().as_bytes().cmp(key.as_bytes()))
    }

    /// The roster hash (SPEC.md §20.3): SHA-256 of the label and the roster body. The next
    /// change names it.
    pub fn hash(&self) -> [u8; 32] {
        let mut body = Vec::new();
        self.encode_body(&mut body);
        let mut h = Sha256::new();
        h.update(LABEL_SUPPORT_ROSTER_HASH);
        h.update(&body);
        h.finalize().into()
    }

    /// The roster after `op`, at the next version. Checks the change's meaning only (no
    /// signature, no certificate validity): `self` is not changed.
    ///
    /// # Errors
    /// [`SupportError::Closed`], [`SupportError::VersionExhausted`],
    /// [`SupportError::AlreadyAssigned`] (the device is in the roster, or is the visitor),
    /// [`SupportError::NotAssigned`] (removing a device that is not there, or reassigning
    /// from one that is not the assigned operator), [`SupportError::TooManyOperators`].
    pub fn apply(&self, op: &AssignmentOp) -> Result<Self, SupportError> {
        if self.closed {
            return Err(SupportError::Closed);
        }
        let version = self
            .version
            .checked_add(1)
            .ok_or(SupportError::VersionExhausted)?;
        let mut next = self.clone();
        next.version = version;
        next.previous_hash = self.hash();
        match op {
            AssignmentOp::Assign(c) => next.add(c, AssignmentRole::Assigned)?,
            AssignmentOp::AddSupervisor(c) => next.add(c, AssignmentRole::Supervisor)?,
            AssignmentOp::Reassign { from, to } => {
                if self.operator(from).map(AssignedOperator::role) != Some(AssignmentRole::Assigned)
                {
                    return Err(SupportError::NotAssigned {
                        operator: from.to_bytes(),
                    });
                }
                if self.operator(to.identity_key()).is_some() {
                    return Err(SupportError::AlreadyAssigned {
                        operator: to.identity_key().to_bytes(),
                    });
                }
                next.remove(from)?;
                next.add(to, AssignmentRole::Assigned)?;
                next.rekey_version = version;
            }
            AssignmentOp::Remove(key) => {
                next.remove(key)?;
                next.rekey_version = version;
            }
            AssignmentOp::Close => {
                next.operators.clear();
                next.closed = true;
                next.rekey_version = version;
            }
        }
        Ok(next)
    }

    fn add(
        &mut self,
        cert: &IdentityCertificate,
        role: AssignmentRole,
    ) -> Result<(), SupportError> {
        let key = *cert.identity_key();
        if key == self.visitor {
            return Err(SupportError::AlreadyAssigned {
                operator: key.to_bytes(),
            });
        }
        match self.position(&key) {
            Ok(_) => Err(SupportError::AlreadyAssigned {
                operator: key.to_bytes(),
            }),
            Err(at) => {
                if self.operators.len() >= MAX_CONVERSATION_OPERATORS {
                    return Err(SupportError::TooManyOperators {
                        max: MAX_CONVERSATION_OPERATORS,
                    });
                }
                self.operators.insert(
                    at,
                    AssignedOperator {
                        certificate: cert.clone(),
                        role,
                        added_version: self.version,
                    },
                );
                Ok(())
            }
        }
    }

    fn remove(&mut self, key: &IdentityKey) -> Result<(), SupportError> {
        let at = self.position(key).map_err(|_| SupportError::NotAssigned {
            operator: key.to_bytes(),
        })?;
        self.operators.remove(at);
        Ok(())
    }

    /// The group-layer roster this roster maps to (SPEC.md §20.3): epoch = version,
    /// rekey epoch = rekey version, the visitor as the one admin (added at 0), each operator
    /// device as a member added at its version.
    pub(crate) fn group_roster(&self) -> Roster {
        let mut members: Vec<RosterMember> = core::iter::once(RosterMember {
            identity: self.visitor,
            role: GroupRole::Admin,
            added_epoch: 0,
        })
        .chain(self.operators.iter().map(|o| RosterMember {
            identity: *o.identity_key(),
            role: GroupRole::Member,
            added_epoch: o.added_version,
        }))
        .collect();
        members.sort_by(|a, b| a.identity.as_bytes().cmp(b.identity.as_bytes()));
        Roster {
            group_id: self.conversation_id,
            epoch: self.version,
            previous_hash: self.previous_hash,
            rekey_epoch: self.rekey_version,
            members,
        }
    }

    /// Appends the roster body (SPEC.md §20.3).
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.conversation_id.as_bytes());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.previous_hash);
        out.extend_from_slice(&self.rekey_version.to_be_bytes());
        out.extend_from_slice(self.visitor.as_bytes());
        out.push(u8::from(self.closed));
        // Cannot saturate: at most MAX_CONVERSATION_OPERATORS (< 256) entries.
        out.push(u8::try_from(self.operators.len()).unwrap_or(u8::MAX));
        for o in &self.operators {
            out.push(o.role.to_byte());
            out.extend_from_slice(&o.added_version.to_be_bytes());
            encode_certificate(out, o.certificate.as_bytes());
        }
    }

    /// Reads a roster body strictly.
    pub(crate) fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let conversation_id = GroupId::from_bytes(r.array::<32>()?);
        let version = u64::from_be_bytes(r.array::<8>()?);
        let previous_hash = r.array::<32>()?;
        let rekey_version = u64::from_be_bytes(r.array::<8>()?);
        let visitor =
            IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField {
                field: "visitor_key",
            })?;
        let closed = r.flag("closed")?;
        let count = usize::from(r.u8()?);
        if count > MAX_CONVERSATION_OPERATORS || (closed && count > 0) {
            return Err(DecodeError::InvalidField {
                field: "operator_count",
            });
        }
        if version == 0 && previous_hash != [0u8; 32] {
            return Err(DecodeError::InvalidField {
                field: "previous_hash",
            });
        }
        if rekey_version > version {
            return Err(DecodeError::InvalidField {
                field: "rekey_version",
            });
        }
        let mut operators: Vec<AssignedOperator> = Vec::with_capacity(count);
        for _ in 0..count {
            let role = AssignmentRole::from_byte(r.u8()?)
                .ok_or(DecodeError::InvalidField { field: "role" })?;
            let added_version = u64::from_be_bytes(r.array::<8>()?);
            if added_version > version || added_version == 0 {
                return Err(DecodeError::InvalidField {
                    field: "added_version",
                });
            }
            let certificate = decode_certificate(r)?;
            let key = certificate.identity_key();
            if *key == visitor
                || operators
                    .last()
                    .is_some_and(|p| p.identity_key().as_bytes() >= key.as_bytes())
            {
                return Err(DecodeError::InvalidField {
                    field: "operator_order",
                });
            }
            operators.push(AssignedOperator {
                certificate,
                role,
                added_version,
            });
        }
        Ok(AssignmentRoster {
            conversation_id,
            version,
            previous_hash,
            rekey_version,
            visitor,
            closed,
            operators,
        })
    }
}

fn encode_certificate(out: &mut Vec<u8>, cert: &[u8]) {
    // Cannot saturate: certificates are at most MAX_*_CERTIFICATE_LEN (< 65536) bytes.
    out.extend_from_slice(&u16::try_from(cert.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(cert);
}

fn take_certificate<'a>(
    r: &mut Reader<'a>,
    field: &'static str,
    max: usize,
) -> Result<&'a [u8], DecodeError> {
    let len = usize::from(u16::from_be_bytes(r.array::<2>()?));
    if len == 0 || len > max {
        return Err(DecodeError::InvalidField { field });
    }
    r.take(len)
}

fn decode_certificate(r: &mut Reader<'_>) -> Result<IdentityCertificate, DecodeError> {
    IdentityCertificate::from_bytes(take_certificate(
        r,
        "certificate_len",
        MAX_IDENTITY_CERTIFICATE_LEN,
    )?)
}

fn decode_dispatcher(r: &mut Reader<'_>) -> Result<DispatcherCertificate, DecodeError> {
    DispatcherCertificate::from_bytes(take_certificate(
        r,
        "dispatcher_certificate_len",
        MAX_DISPATCHER_CERTIFICATE_LEN,
    )?)
}

fn sign_into(out: &mut Vec<u8>, label: &[u8], key: &IdentityKeyPair) {
    let mut m = Vec::with_capacity(label.len() + out.len());
    m.extend_from_slice(label);
    m.extend_from_slice(out);
    let signature = key.sign(&m);
    out.extend_from_slice(&signature);
}

/// Encodes and signs a roster (type `0x25`).
pub(crate) fn encode_welcome(
    roster: &AssignmentRoster,
    dispatcher: &DispatcherCertificate,
    key: &IdentityKeyPair,
) -> Vec<u8> {
    let mut out = vec![WIRE_VERSION, TYPE_SUPPORT_ROSTER];
    roster.encode_body(&mut out);
    encode_certificate(&mut out, dispatcher.as_bytes());
    sign_into(&mut out, LABEL_SIG_SUPPORT_ROSTER, key);
    out
}

/// Encodes and signs the change `op` on `roster` (types `0x26`–`0x2A`).
pub(crate) fn encode_change(
    roster: &AssignmentRoster,
    op: &AssignmentOp,
    dispatcher: &DispatcherCertificate,
    key: &IdentityKeyPair,
) -> Vec<u8> {
    let mut out = vec![WIRE_VERSION, op.type_byte()];
    out.extend_from_slice(roster.conversation_id.as_bytes());
    out.extend_from_slice(&roster.version.saturating_add(1).to_be_bytes());
    out.extend_from_slice(&roster.hash());
    match op {
        AssignmentOp::Assign(c) | AssignmentOp::AddSupervisor(c) => {
            encode_certificate(&mut out, c.as_bytes());
        }
        AssignmentOp::Reassign { from, to } => {
            out.extend_from_slice(from.as_bytes());
            encode_certificate(&mut out, to.as_bytes());
        }
        AssignmentOp::Remove(key) => out.extend_from_slice(key.as_bytes()),
        AssignmentOp::Close => {}
    }
    encode_certificate(&mut out, dispatcher.as_bytes());
    sign_into(&mut out, LABEL_SIG_SUPPORT_CHANGE, key);
    out
}

/// A decoded signed roster (type `0x25`), signature not yet checked.
pub(crate) struct RosterWire<'a> {
    pub(crate) roster: AssignmentRoster,
    pub(crate) dispatcher: DispatcherCertificate,
    pub(crate) signed: &'a [u8],
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

/// A decoded roster change, signature not yet checked.
pub(crate) struct ChangeWire<'a> {
    pub(crate) conversation_id: GroupId,
    pub(crate) version: u64,
    pub(crate) previous_hash: [u8; 32],
    pub(crate) op: AssignmentOp,
    pub(crate) dispatcher: DispatcherCertificate,
    pub(crate) signed: &'a [u8],
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

fn split_signature(bytes: &[u8]) -> Result<&[u8], DecodeError> {
    bytes
        .get(..bytes.len().saturating_sub(SIGNATURE_LEN))
        .ok_or(DecodeError::Truncated {
            needed: SIGNATURE_LEN,
        })
}

/// Decodes a signed roster strictly (SPEC.md §20.3).
pub(crate) fn decode_welcome(bytes: &[u8]) -> Result<RosterWire<'_>, DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(
        &mut r,
        bytes.len(),
        TYPE_SUPPORT_ROSTER,
        MAX_SUPPORT_ROSTER_LEN,
    )?;
    let roster = AssignmentRoster::decode_body(&mut r)?;
    let dispatcher = decode_dispatcher(&mut r)?;
    let signature = r.array::<SIGNATURE_LEN>()?;
    r.finish()?;
    Ok(RosterWire {
        roster,
        dispatcher,
        signed: split_signature(bytes)?,
        signature,
    })
}

/// Decodes a roster change strictly (SPEC.md §20.3).
pub(crate) fn decode_change(bytes: &[u8]) -> Result<ChangeWire<'_>, DecodeError> {
    let mut r = Reader::new(bytes);
    let kind = expect_header_any(
        &mut r,
        bytes.len(),
        &[
            TYPE_SUPPORT_ASSIGN,
            TYPE_SUPPORT_REASSIGN,
            TYPE_SUPPORT_ADD_SUPERVISOR,
            TYPE_SUPPORT_REMOVE,
            TYPE_SUPPORT_CLOSE,
        ],
        MAX_SUPPORT_CHANGE_LEN,
    )?;
    let conversation_id = GroupId::from_bytes(r.array::<32>()?);
    let version = u64::from_be_bytes(r.array::<8>()?);
    if version == 0 {
        return Err(DecodeError::InvalidField { field: "version" });
    }
    let previous_hash = r.array::<32>()?;
    let key = |r: &mut Reader<'_>, field| {
        IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField { field })
    };
    let op = match kind {
        TYPE_SUPPORT_ASSIGN => AssignmentOp::Assign(decode_certificate(&mut r)?),
        TYPE_SUPPORT_REASSIGN => AssignmentOp::Reassign {
            from: key(&mut r, "from_key")?,
            to: decode_certificate(&mut r)?,
        },
        TYPE_SUPPORT_ADD_SUPERVISOR => AssignmentOp::AddSupervisor(decode_certificate(&mut r)?),
        TYPE_SUPPORT_REMOVE => AssignmentOp::Remove(key(&mut r, "operator_key")?),
        _ => AssignmentOp::Close,
    };
    let dispatcher = decode_dispatcher(&mut r)?;
    let signature = r.array::<SIGNATURE_LEN>()?;
    r.finish()?;
    Ok(ChangeWire {
        conversation_id,
        version,
        previous_hash,
        op,
        dispatcher,
        signed: split_signature(bytes)?,
        signature,
    })
}

/// Checks a dispatcher's signature under `label`.
pub(crate) fn verify_dispatcher_signature(
    dispatcher: &DispatcherCertificate,
    label: &[u8],
    signed: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> bool {
    let mut m = Vec::with_capacity(label.len() + signed.len());
    m.extend_from_slice(label);
    m.extend_from_slice(signed);
    dispatcher.dispatcher_key().verify(&m, signature)
}
