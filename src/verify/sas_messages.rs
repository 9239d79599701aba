//! The three messages of an interactive SAS verification (SPEC.md §15.4.5).
//!
//! They travel as the plaintext of ordinary messages on the session they verify; this module
//! only encodes and decodes them, strictly: fixed length, known version and type.

use core::fmt;

use crate::error::DecodeError;
use crate::wire::{
    Reader, TYPE_SAS_ACCEPT, TYPE_SAS_REVEAL, TYPE_SAS_START, WIRE_VERSION, expect_header,
};

/// Bytes of a run id, drawn at random by the starter to name one verification run.
pub const SAS_RUN_ID_LEN: usize = 16;
/// Bytes of each side's random contribution (nonce) to a verification run.
pub const SAS_NONCE_LEN: usize = 32;
/// Bytes of the starter's commitment (a SHA-256 output).
pub const SAS_COMMITMENT_LEN: usize = 32;
/// Bytes of every SAS message: version, type, run id, then a 32-byte commitment or nonce.
pub const SAS_MESSAGE_LEN: usize = 2 + SAS_RUN_ID_LEN + 32;

/// The random name of one verification run, carried in each of its messages, so that a
/// message of another run (an older one, a replay, one the peer started at the same time) is
/// told apart. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SasRunId([u8; SAS_RUN_ID_LEN]);

impl SasRunId {
    pub(crate) fn from_bytes(bytes: [u8; SAS_RUN_ID_LEN]) -> Self {
        SasRunId(bytes)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; SAS_RUN_ID_LEN] {
        &self.0
    }
}

impl fmt::Debug for SasRunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SasRunId(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// Writes `version || type || run_id || field`.
fn encode(kind: u8, run_id: &SasRunId, field: &[u8; 32]) -> [u8; SAS_MESSAGE_LEN] {
    let mut out = [0u8; SAS_MESSAGE_LEN];
    let (header, rest) = out.split_at_mut(2);
    header.copy_from_slice(&[WIRE_VERSION, kind]);
    let (id, tail) = rest.split_at_mut(SAS_RUN_ID_LEN);
    id.copy_from_slice(&run_id.0);
    tail.copy_from_slice(field);
    out
}

/// Reads `run_id || field` after the header, then requires the end of the input.
fn decode_body(mut r: Reader<'_>) -> Result<(SasRunId, [u8; 32]), DecodeError> {
    let run_id = SasRunId(r.array()?);
    let field = r.array()?;
    r.finish()?;
    Ok((run_id, field))
}

/// Decodes a message of type `kind`: version, type, length at most [`SAS_MESSAGE_LEN`],
/// then the fields (SPEC.md §15.4.5).
fn decode(kind: u8, bytes: &[u8]) -> Result<(SasRunId, [u8; 32]), DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(&mut r, bytes.len(), kind, SAS_MESSAGE_LEN)?;
    decode_body(r)
}

/// The first message of a run, from the starter: the run id and a commitment to the
/// starter's nonce, which stays hidden until the accepter has sent its own.
///
/// Layout: `version(1)=0x01 type(1)=0x51 run_id(16) commitment(32)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SasStart {
    run_id: SasRunId,
    commitment: [u8; SAS_COMMITMENT_LEN],
}

impl SasStart {
    pub(crate) fn new(run_id: SasRunId, commitment: [u8; SAS_COMMITMENT_LEN]) -> Self {
        SasStart { run_id, commitment }
    }

    /// Decodes a start message.
    ///
    /// # Errors
    /// [`DecodeError`]: empty or truncated input, a version other than `0x01`, another type
    /// byte (`WrongType` for a known type, else `UnknownType`), or more than
    /// [`SAS_MESSAGE_LEN`] bytes (`TooLarge`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (run_id, commitment) = decode(TYPE_SAS_START, bytes)?;
        Ok(SasStart { run_id, commitment })
    }

    /// The 50-byte encoding.
    pub fn to_bytes(&self) -> [u8; SAS_MESSAGE_LEN] {
        encode(TYPE_SAS_START, &self.run_id, &self.commitment)
    }

    /// The run this message starts.
    pub fn run_id(&self) -> SasRunId {
        self.run_id
    }

    /// The starter's commitment to its nonce.
    pub fn commitment(&self) -> &[u8; SAS_COMMITMENT_LEN] {
        &self.commitment
    }
}

impl fmt::Debug for SasStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasStart")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// The accepter's answer: its nonce, in clear.
///
/// Layout: `version(1)=0x01 type(1)=0x52 run_id(16) accepter_nonce(32)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SasAccept {
    run_id: SasRunId,
    nonce: [u8; SAS_NONCE_LEN],
}

impl SasAccept {
    pub(crate) fn new(run_id: SasRunId, nonce: [u8; SAS_NONCE_LEN]) -> Self {
        SasAccept { run_id, nonce }
    }

    /// Decodes an accept message.
    ///
    /// # Errors
    /// As [`SasStart::from_bytes`], with type byte `0x52`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (run_id, nonce) = decode(TYPE_SAS_ACCEPT, bytes)?;
        Ok(SasAccept { run_id, nonce })
    }

    /// The 50-byte encoding.
    pub fn to_bytes(&self) -> [u8; SAS_MESSAGE_LEN] {
        encode(TYPE_SAS_ACCEPT, &self.run_id, &self.nonce)
    }

    /// The run this message answers.
    pub fn run_id(&self) -> SasRunId {
        self.run_id
    }

    /// The accepter's nonce.
    pub fn nonce(&self) -> &[u8; SAS_NONCE_LEN] {
        &self.nonce
    }
}

impl fmt::Debug for SasAccept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasAccept")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// The starter's last message: the nonce it committed to.
///
/// Layout: `version(1)=0x01 type(1)=0x53 run_id(16) starter_nonce(32)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SasReveal {
    run_id: SasRunId,
    nonce: [u8; SAS_NONCE_LEN],
}

impl SasReveal {
    pub(crate) fn new(run_id: SasRunId, nonce: [u8; SAS_NONCE_LEN]) -> Self {
        SasReveal { run_id, nonce }
    }

    /// Decodes a reveal message.
    ///
    /// # Errors
    /// As [`SasStart::from_bytes`], with type byte `0x53`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (run_id, nonce) = decode(TYPE_SAS_REVEAL, bytes)?;
        Ok(SasReveal { run_id, nonce })
    }

    /// The 50-byte encoding.
    pub fn to_bytes(&self) -> [u8; SAS_MESSAGE_LEN] {
        encode(TYPE_SAS_REVEAL, &self.run_id, &self.nonce)
    }

    /// The run this message ends.
    pub fn run_id(&self) -> SasRunId {
        self.run_id
    }

    /// The starter's nonce.
    pub fn nonce(&self) -> &[u8; SAS_NONCE_LEN] {
        &self.nonce
    }
}

impl fmt::Debug for SasReveal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasReveal")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// Any SAS message, for an app that receives session plaintexts and must route them: decode
/// once, then hand it to the run its [`run_id`](Self::run_id) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SasMessage {
    /// Type `0x51`: a peer starts a run (answer with [`accept_sas`](super::accept_sas)).
    Start(SasStart),
    /// Type `0x52`: the answer to a run this side started.
    Accept(SasAccept),
    /// Type `0x53`: the end of a run this side accepted.
    Reveal(SasReveal),
}

impl SasMessage {
    /// Decodes any of the three SAS messages.
    ///
    /// # Errors
    /// As [`SasStart::from_bytes`]; a type byte other than `0x51`–`0x53` gives `WrongType {
    /// expected: 0x51, found }` if it is another known type, else `UnknownType`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let kind = match bytes.get(..2) {
            Some([WIRE_VERSION, kind @ (TYPE_SAS_ACCEPT | TYPE_SAS_REVEAL)]) => *kind,
            _ => TYPE_SAS_START,
        };
        let (run_id, field) = decode(kind, bytes)?;
        Ok(match kind {
            TYPE_SAS_ACCEPT => SasMessage::Accept(SasAccept {
                run_id,
                nonce: field,
            }),
            TYPE_SAS_REVEAL => SasMessage::Reveal(SasReveal {
                run_id,
                nonce: field,
            }),
            _ => SasMessage::Start(SasStart {
                run_id,
                commitment: field,
            }),
        })
    }

    /// The run the message belongs to.
    pub fn run_id(&self) -> SasRunId {
        match self {
            SasMessage::Start(m) => m.run_id,
            SasMessage::Accept(m) => m.run_id,
            SasMessage::Reveal(m) => m.run_id,
        }
    }

    /// The encoding.
    pub fn to_bytes(&self) -> [u8; SAS_MESSAGE_LEN] {
        match self {
            SasMessage::Start(m) => m.to_bytes(),
            SasMessage::Accept(m) => m.to_bytes(),
            SasMessage::Reveal(m) => m.to_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_id() -> SasRunId {
        SasRunId::from_bytes(core::array::from_fn(|i| i as u8))
    }

    #[test]
    fn layouts_are_as_specified() {
        let start = SasStart::new(run_id(), [0xcc; 32]).to_bytes();
        assert_eq!(start.len(), 50);
        assert_eq!(&start[..2], &[0x01, 0x51]);
        assert_eq!(&start[2..18], run_id().as_bytes());
        assert_eq!(&start[18..], &[0xcc; 32]);
        let accept = SasAccept::new(run_id(), [0xaa; 32]).to_bytes();
        assert_eq!(&accept[..2], &[0x01, 0x52]);
        assert_eq!(&accept[18..], &[0xaa; 32]);
        let reveal = SasReveal::new(run_id(), [0xbb; 32]).to_bytes();
        assert_eq!(&reveal[..2], &[0x01, 0x53]);
        assert_eq!(&reveal[2..18], run_id().as_bytes());
        for bytes in [start, accept, reveal] {
            let m = SasMessage::from_bytes(&bytes).unwrap();
            assert_eq!(m.to_bytes(), bytes);
            assert_eq!(m.run_id(), run_id());
        }
        assert_eq!(
            SasStart::from_bytes(&start).unwrap().commitment(),
            &[0xcc; 32]
        );
        assert_eq!(SasAccept::from_bytes(&accept).unwrap().nonce(), &[0xaa; 32]);
        assert_eq!(SasReveal::from_bytes(&reveal).unwrap().nonce(), &[0xbb; 32]);
    }

    #[test]
    fn decoding_is_strict_at_the_length_edges() {
        let good = SasAccept::new(run_id(), [7; 32]).to_bytes();
        assert!(SasAccept::from_bytes(&good).is_ok());
        assert_eq!(
            SasAccept::from_bytes(&good[..SAS_MESSAGE_LEN - 1]),
            Err(DecodeError::Truncated { needed: 1 })
        );
        let long = [&good[..], &[0]].concat();
        assert_eq!(
            SasAccept::from_bytes(&long),
            Err(DecodeError::TooLarge {
                len: SAS_MESSAGE_LEN + 1,
                max: SAS_MESSAGE_LEN
            })
        );
        assert_eq!(
            SasAccept::from_bytes(&[]),
            Err(DecodeError::Truncated { needed: 1 })
        );
        assert_eq!(
            SasAccept::from_bytes(&[1]),
            Err(DecodeError::Truncated { needed: 1 })
        );
        let mut v2 = good;
        v2[0] = 2;
        assert_eq!(
            SasAccept::from_bytes(&v2),
            Err(DecodeError::UnknownVersion(2))
        );
        assert_eq!(
            SasMessage::from_bytes(&v2),
            Err(DecodeError::UnknownVersion(2))
        );
        // A newer version is reported as such even when oversize.
        assert_eq!(
            SasAccept::from_bytes(&[&v2[..], &[0; 10]].concat()),
            Err(DecodeError::UnknownVersion(2))
        );
    }

    #[test]
    fn each_decoder_names_the_other_types() {
        let start = SasStart::new(run_id(), [1; 32]).to_bytes();
        let accept = SasAccept::new(run_id(), [2; 32]).to_bytes();
        let reveal = SasReveal::new(run_id(), [3; 32]).to_bytes();
        assert_eq!(
            SasAccept::from_bytes(&start),
            Err(DecodeError::WrongType {
                expected: 0x52,
                found: 0x51
            })
        );
        assert_eq!(
            SasReveal::from_bytes(&accept),
            Err(DecodeError::WrongType {
                expected: 0x53,
                found: 0x52
            })
        );
        assert_eq!(
            SasStart::from_bytes(&reveal),
            Err(DecodeError::WrongType {
                expected: 0x51,
                found: 0x53
            })
        );
        let mut other = start;
        other[1] = 0x50;
        assert_eq!(
            SasMessage::from_bytes(&other),
            Err(DecodeError::WrongType {
                expected: 0x51,
                found: 0x50
            })
        );
        other[1] = 0x5F;
        assert_eq!(
            SasMessage::from_bytes(&other),
            Err(DecodeError::UnknownType(0x5F))
        );
        for t in [TYPE_SAS_START, TYPE_SAS_ACCEPT, TYPE_SAS_REVEAL] {
            assert!(crate::wire::KNOWN_TYPES.contains(&t));
        }
    }

    #[test]
    fn debug_names_only_the_run() {
        let start = SasStart::new(run_id(), [0xcc; 32]);
        assert_eq!(
            format!("{start:?}"),
            "SasStart { run_id: SasRunId(000102030405060708090a0b0c0d0e0f), .. }"
        );
        let reveal = SasReveal::new(run_id(), [0xbb; 32]);
        assert!(!format!("{reveal:?}").contains("bb"));
    }
}
