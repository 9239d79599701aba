//! # hushwire
//!
//! End-to-end encryption for chat products, as a library with no I/O: you pass in bytes,
//! randomness and the current time; you get bytes, typed errors and security events back.
//!
//! - **Post-quantum hybrid key agreement** (PQXDH-style): X25519 signed and one-time
//!   prekeys plus an ML-KEM-768 encapsulation, all signed by one Ed25519 identity key.
//! - **Double Ratchet with header encryption**: forward secrecy and post-compromise
//!   security, with bounded, configurable out-of-order delivery and replay rejection.
//! - **Transactional decrypt**: a message that fails for any reason changes nothing.
//!
//! The protocol is specified byte for byte in `SPEC.md`, with test vectors in
//! `tests/vectors/`.
//!
//! ```text
//!  Alice                     server (sees only this)                Bob
//!  Account::create_outbound_session(bundle) <-- PreKeyBundle <-- Account::published_prekeys
//!  Session::encrypt ----------> PreKeyMessage ------------> Account::create_inbound_session
//!  Session::decrypt <---------- RatchetMessage <----------- Session::encrypt
//! ```
//!
//! ```
//! use hushwire::{Account, Timestamp};
//! use rand_core::SeedableRng;
//! # fn main() -> Result<(), hushwire::Error> {
//! // Use the OS RNG in an app; a seeded one makes this example deterministic.
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//!
//! let alice = Account::new(now, &mut rng);
//! let mut bob = Account::new(now, &mut rng);
//! bob.generate_one_time_prekeys(10, 10, now, &mut rng)?;
//!
//! // The server stores Bob's published keys and hands Alice one bundle.
//! let bundle = bob.published_prekeys().take_bundle();
//! let mut to_bob = alice.create_outbound_session(&bundle, &mut rng)?;
//! let first = to_bob.encrypt(b"hi Bob, is my order shipped?", &mut rng)?;
//!
//! // Bob builds his side from Alice's first message.
//! let inbound = bob.create_inbound_session(&first, now)?;
//! assert_eq!(inbound.plaintext, b"hi Bob, is my order shipped?");
//! let mut to_alice = inbound.session;
//!
//! let reply = to_alice.encrypt(b"yes, it left this morning", &mut rng)?;
//! let read = to_bob.decrypt(&reply)?;
//! assert_eq!(read.plaintext, b"yes, it left this morning");
//! assert_eq!(to_bob.session_id(), to_alice.session_id());
//! # Ok(())
//! # }
//! ```
//!
//! The same conversation with the device layer ([`Device`]), which keeps the sessions per peer
//! device: use it for "just give me a chat"; use [`Account`] and [`Session`] when the app
//! manages sessions itself.
//!
//! ```
//! use hushwire::{Device, Timestamp};
//! use rand_core::SeedableRng;
//! # fn main() -> Result<(), hushwire::Error> {
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//!
//! let mut alice = Device::new(now, &mut rng);
//! let mut bob = Device::new(now, &mut rng);
//! bob.account_mut().generate_one_time_prekeys(10, 10, now, &mut rng)?;
//!
//! // Alice starts a conversation from Bob's bundle; the device keeps the session.
//! let bundle = bob.account().published_prekeys().take_bundle();
//! let _ = alice.start_session(&bundle, &mut rng)?;
//! let first = alice.encrypt_for(bob.identity_key(), b"hi Bob, is my order shipped?", &mut rng)?;
//!
//! // Bob reads it as coming from Alice's identity key (named by the transport or a sealed
//! // envelope); the first message creates his session.
//! let read = bob.decrypt_from(alice.identity_key(), &first, now)?;
//! assert_eq!(read.plaintext, b"hi Bob, is my order shipped?");
//! let reply = bob.encrypt_for(alice.identity_key(), b"yes, it left this morning", &mut rng)?;
//! let read = alice.decrypt_from(bob.identity_key(), &reply, now)?;
//! assert_eq!(read.plaintext, b"yes, it left this morning");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
mod aead;
pub mod attachment;
pub mod backup;
pub mod certificate;
pub mod device;
mod error;
mod event;
pub mod group;
mod ids;
mod kdf;
mod keys;
mod labels;
#[cfg(feature = "mask")]
pub mod mask;
pub mod persist;
mod ratchet;
pub mod sealed;
mod session;
mod time;
mod umbrella;
pub mod verify;
pub mod wire;
#[cfg(test)]
mod wycheproof_tests;
mod x3dh;

pub use account::{
    Account, InboundSession, MAX_ONE_TIME_KEM_PREKEYS, MAX_ONE_TIME_PREKEYS, MAX_REPLAY_RECORDS,
    MAX_RETIRED_PREKEYS, ONE_TIME_PREKEYS_LOW, PREKEY_GRACE_SECS, PREKEY_ROTATION_SECS,
    PublishedPreKeys,
};
pub use attachment::{AttachmentError, AttachmentPointer};
pub use backup::{BackupError, RecoveryKey};
pub use certificate::{
    CertificateError, IssuerKey, IssuerKeyPair, SenderCertificate, ServerCertificate, TrustStore,
    Validity,
};
pub use device::{
    Changes as DeviceChanges, Device, DeviceRef, FanOut, FanOutDecrypted, FanOutEnvelope,
    FanOutError, FanOutMessage, FanOutSkip, FanOutUpdate, MAX_PEERS, MAX_RESET_LOGS,
    MAX_SESSIONS_PER_PEER, MismatchAnswer, PeerDecrypted, PeerError, RESET_MAX_AGE_SECS,
    RESET_MAX_FUTURE_SKEW_SECS, RESET_MIN_INTERVAL_SECS, RESET_REQUEST_LEN, ResetAnswered,
    ResetError, ResetReason, ResetRequest, SealedSessionError, SessionStarted,
};
pub use error::{ConfigError, DecodeError, ErrorKind, KeyError, SignedKeyKind};
pub use event::Event;
pub use group::{GroupError, GroupSession, RosterError};
pub use keys::{EnvelopeKeyPair, IdentityKey, IdentityKeyPair, KemPreKeyKind};
#[cfg(feature = "mask")]
pub use mask::{MaskCheckError, Masker, SecureFieldError};
pub use persist::{RestoreError, StorageKey};
pub use ratchet::{
    DEFAULT_KEM_INTERVAL, DEFAULT_KEM_MESSAGE_BOUND, DEFAULT_MAX_JUMP,
    DEFAULT_MAX_RECEIVING_CHAINS, DEFAULT_MAX_SKIPPED_KEYS, DEFAULT_SKIPPED_KEY_MAX_AGE,
    DecryptError, EncryptError, HARD_MAX_JUMP, HARD_MAX_KEM_INTERVAL, HARD_MAX_KEM_MESSAGE_BOUND,
    HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEY_MAX_AGE, HARD_MAX_SKIPPED_KEYS, RatchetConfig,
    SKIPPED_KEY_MEMORY_BYTES,
};
pub use sealed::{ContentType, Metadata, OpenError, Opened, SealError};
pub use session::{Decrypted, Role, Session, SessionId};
pub use time::Timestamp;
pub use umbrella::Error;
pub use verify::{
    BusinessIdentity, IdentityCertificate, OrganizationRoots, SafetyNumber, ShortAuthString,
    UserId, VerificationState, VerifyError,
};
pub use wire::{MAX_MESSAGE_LEN, MAX_PLAINTEXT_LEN, RATCHET_MESSAGE_OVERHEAD, WIRE_VERSION};
pub use x3dh::{
    BUNDLE_LEN_WITHOUT_ONE_TIME, HandshakeError, KemPreKeyPublic, OneTimePreKeyPublic,
    PreKeyBundle, SignedPreKeyPublic,
};
