//! The generic signed-certificate core shared by every certificate kind.
//!
//! A certificate is `version(1) type(1) body(..) signature(64)`, where the signature is
//! Ed25519 by the issuer over `label || version || type || body`. A certificate kind is a
//! body type implementing [`CertificateBody`] (its type byte, label, size bounds and
//! validity window); a kind issued by a server key under a trust root also implements
//! [`LeafBody`] and is validated by [`validate_leaf`].

use super::{
    CertificateError, CertificateKind, IssuerKey, IssuerKeyPair, SIGNATURE_LEN, ServerCertificate,
    TrustStore, Validity,
};
use crate::error::DecodeError;
use crate::time::Timestamp;
use crate::wire::expect_header_any;
use crate::wire::{Reader, WIRE_VERSION};

/// The typed content of one certificate kind.
pub(crate) trait CertificateBody: Sized {
    /// The type byte of the encoding.
    const TYPE: u8;
    /// The signature's domain-separation label.
    const LABEL: &'static [u8];
    /// Which certificate this is, for errors.
    const KIND: CertificateKind;
    /// The longest valid encoding, signature included.
    const MAX_LEN: usize;

    /// Appends the body (everything between the type byte and the signature).
    fn encode_body(&self, out: &mut Vec<u8>);
    /// Reads the body strictly; the signature follows it.
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    /// The certificate's validity window.
    fn validity(&self) -> &Validity;
}

/// A body certified by a server key (itself certified by a trust root).
pub(crate) trait LeafBody: CertificateBody {
    /// The server certificate of the key that signed this one.
    fn issuer(&self) -> &ServerCertificate;
    /// The serial the server assigned, for revocation.
    fn serial(&self) -> u64;
}

/// A decoded or freshly signed certificate: its body, signature and exact encoding.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Signed<B> {
    body: B,
    signature: [u8; SIGNATURE_LEN],
    bytes: Vec<u8>,
}

impl<B: CertificateBody> Signed<B> {
    /// Encodes `body` and signs it with `issuer`.
    pub(crate) fn sign(body: B, issuer: &IssuerKeyPair) -> Self {
        let mut bytes = Vec::with_capacity(B::MAX_LEN);
        bytes.push(WIRE_VERSION);
        bytes.push(B::TYPE);
        body.encode_body(&mut bytes);
        let signature = issuer.sign(&signed_message(B::LABEL, &bytes));
        bytes.extend_from_slice(&signature);
        Signed {
            body,
            signature,
            bytes,
        }
    }

    /// Decodes strictly. The signature is not checked here (see [`Signed::verify`]).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header_any(&mut r, bytes.len(), &[B::TYPE], B::MAX_LEN)?;
        let body = B::decode_body(&mut r)?;
        let signature = r.array::<SIGNATURE_LEN>()?;
        r.finish()?;
        Ok(Signed {
            body,
            signature,
            bytes: bytes.to_vec(),
        })
    }

    /// Checks the signature under `issuer`.
    pub(crate) fn verify(&self, issuer: &IssuerKey) -> Result<(), CertificateError> {
        let signed = self
            .bytes
            .get(..self.bytes.len().saturating_sub(SIGNATURE_LEN))
            .unwrap_or_default();
        if issuer.verify(&signed_message(B::LABEL, signed), &self.signature) {
            Ok(())
        } else {
            Err(CertificateError::BadSignature(B::KIND))
        }
    }

    /// Checks `now` against the validity window.
    pub(crate) fn check_time(&self, now: Timestamp) -> Result<(), CertificateError> {
        self.body.validity().check(B::KIND, now)
    }

    pub(crate) fn body(&self) -> &B {
        &self.body
    }

    pub(crate) fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The bytes an issuer signs: `label || encoding without the signature`.
pub(crate) fn signed_message(label: &[u8], unsigned: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(label.len() + unsigned.len());
    m.extend_from_slice(label);
    m.extend_from_slice(unsigned);
    m
}

/// Validates a leaf certificate and its server certificate against `trust` at `now`:
/// signatures from the root down, then revocation, then validity windows.
pub(crate) fn validate_leaf<B: LeafBody>(
    leaf: &Signed<B>,
    trust: &TrustStore,
    now: Timestamp,
) -> Result<(), CertificateError> {
    let issuer = leaf.body().issuer();
    issuer.verify_signature(trust)?;
    leaf.verify(issuer.key())?;
    issuer.check_revocation(trust)?;
    if trust.is_certificate_revoked(issuer.root_id(), issuer.key_id(), leaf.body().serial()) {
        return Err(CertificateError::CertificateRevoked {
            kind: B::KIND,
            server_key_id: issuer.key_id(),
            serial: leaf.body().serial(),
        });
    }
    issuer.check_time(now)?;
    leaf.check_time(now)
}
