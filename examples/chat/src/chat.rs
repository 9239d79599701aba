//! A chat peer on top of the relay client: the glue between hushwire's no-I/O calls and the
//! relay's frames, shared by `peer.rs`, `demo.rs` and `tests/transport.rs`.
//!
//! Sending: look the name up on the relay (recording the identity in the account, which
//! reports a changed key), start a session from a fetched bundle if there is none, encrypt with
//! the account, seal the result under the relay-issued sender certificate, hand it to the
//! relay. Receiving: open the envelope (validating the sender certificate under the pinned
//! relay root), decrypt with the account. The relay sees the recipient and the envelope's
//! padded size, nothing else.
//!
//! Envelopes are hybrid (X25519 + ML-KEM-768, SPEC.md §13.8) to every recipient that
//! published an envelope KEM key, classical to the others: a new [`Peer`] turns hybrid
//! envelopes on and publishes its key with its prekeys ([`Peer::publish_prekeys`]); a sender
//! fetches the recipient's key from the relay, checks its owner and signature, and keeps it
//! (see [`Peer::envelope_key_for`]), so that a relay that stops handing it out cannot switch
//! the sender back to classical envelopes while the key is still good.
//!
//! A message's plaintext is a [`crate::body`]: text, a file's pointer (files travel through
//! the relay's blob store, see `files`), the masked copy of a secure field (masking before
//! encryption and the payment vault, see `masking`), or a group's invitation or sender key
//! (groups, their messages and the key backup: see `groups`).
//!
//! A device that lost its sessions (restored from a backup) asks each peer for a fresh one
//! with a reset request (SPEC.md §12.4), sealed as content type [`RESET_REQUEST`]:
//! [`Peer::request_reset`] sends one, [`Peer::answer_reset`] answers it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use zeroize::Zeroizing;

use hushwire::attachment::AttachmentPointer;
use hushwire::mask::{MaskedField, SECURE_FIELD_CONTENT_TYPE, SecureFieldError, VaultedField};
use hushwire::sealed::{ContentType, EnvelopeKeyPublic, Metadata};
use hushwire::verify::verify_business_identity;
use hushwire::{
    BusinessIdentity, DecryptError, Device, Event, HandshakeError, IdentityKey, IssuerKey,
    KemPreKeyKind, OrganizationRoots, PREKEY_GRACE_SECS, PeerError, PreKeyBundle, ResetReason,
    SealedSessionError, SenderCertificate, Timestamp, TrustStore, UserId, VerificationState,
    VerifyError,
};
use rand_core::{CryptoRng, SeedableRng};

use crate::body::{self, Body};
use crate::client::{BlobId, ClientError, Link, RelayClient};
use crate::frame::valid_name;
use crate::relay::RELAY_ROOT_ID;
use crate::tls::{Fingerprint, Pin, show_fingerprint};

mod devices;
mod files;
mod groups;
mod masking;
pub use devices::{LinkSas, Linked};
pub use files::{Progress, SentFile, content_type_for};
pub use groups::{ChatGroup, RestartPeer, RestoreReport};
pub use masking::{MaskedSend, kind_name};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Application-defined content type of a sealed envelope carrying the sender's
/// [`hushwire::IdentityCertificate`] (how an operator presents its organization certificate).
pub const IDENTITY_CERTIFICATE: u8 = 0x80;
/// Application-defined content type of a sealed envelope carrying a reset request
/// (SPEC.md §12.4): the sender lost its session with us and asks for a fresh one.
pub const RESET_REQUEST: u8 = 0x81;
/// One-time prekeys of each kind a peer keeps on the relay.
pub const ONE_TIME_PREKEYS: u32 = 20;
/// Below this many left, a peer generates and publishes more.
const ONE_TIME_PREKEYS_REFILL: usize = 5;
/// How long a sender uses a recipient's envelope KEM key before asking the relay for the
/// current one (recipients rotate theirs weekly, with the signed prekey).
pub const ENVELOPE_KEY_REFRESH_SECS: u64 = 24 * 3600;
/// How long a sender keeps sealing to an envelope key it fetched when the relay stops handing
/// one out: the recipient opens envelopes to a retired key for [`PREKEY_GRACE_SECS`] after
/// retiring it, so a key fetched at `t` opens until at least `t` + that grace.
pub const ENVELOPE_KEY_KEEP_SECS: u64 = PREKEY_GRACE_SECS;

/// Sealed-envelope type bytes (SPEC.md §13.0, §13.8), for telling what a relay stored.
const ENVELOPE_CLASSICAL: u8 = 0x30;
const ENVELOPE_CLASSICAL_SPLIT: u8 = 0x32;
const ENVELOPE_HYBRID: u8 = 0x33;
const ENVELOPE_HYBRID_SPLIT: u8 = 0x35;

/// Which kind of sealed envelope `envelope` is, from its type byte: `Some(true)` hybrid
/// (`0x33`, `0x35`), `Some(false)` classical (`0x30`, `0x32`), `None` anything else. It does
/// not check the rest (the relay's and the demo's view of a stored envelope).
pub fn envelope_is_hybrid(envelope: &[u8]) -> Option<bool> {
    match envelope.get(1).copied()? {
        ENVELOPE_HYBRID | ENVELOPE_HYBRID_SPLIT => Some(true),
        ENVELOPE_CLASSICAL | ENVELOPE_CLASSICAL_SPLIT => Some(false),
        _ => None,
    }
}

/// "hybrid" or "classical", as `envelope`'s type byte says ("?" for anything else): what
/// the peer and the demo print for a stored or sent envelope.
pub fn envelope_kind(envelope: &[u8]) -> &'static str {
    match envelope_is_hybrid(envelope) {
        Some(true) => "hybrid",
        Some(false) => "classical",
        None => "?",
    }
}

/// A recipient's envelope KEM key as fetched, and when.
struct FetchedEnvelopeKey {
    key: EnvelopeKeyPublic,
    fetched_at: Timestamp,
}

/// A device: its account, its name on the relay, and what it pins.
pub struct Peer {
    pub name: String,
    pub device: Device,
    /// The relay's root key, pinned when the peer first signed in.
    pub relay_root: Option<[u8; 32]>,
    /// The relay's TLS certificate (SHA-256), pinned with the root.
    pub relay_cert: Option<Fingerprint>,
    /// Organization roots whose certified operators are reported as verified.
    pub org_roots: OrganizationRoots,
    trust: TrustStore,
    certificate: Option<SenderCertificate>,
    /// The groups this device is in, by name (see `groups`).
    groups: BTreeMap<String, ChatGroup>,
    /// Sender keys to send after joining a group: (member, distribution message).
    pending_keys: Vec<(String, Zeroizing<Vec<u8>>)>,
    /// Draws this device's sender key when it joins a group while reading (seeded from the
    /// caller's RNG in [`Peer::new`], else from the OS at the first join).
    group_rng: Option<ChaCha20Rng>,
    /// Recipients' envelope KEM keys, by identity key (see [`Peer::envelope_key_for`]).
    envelope_keys: BTreeMap<[u8; 32], FetchedEnvelopeKey>,
}

/// What an envelope turned out to be.
pub enum Incoming {
    /// A message, decrypted.
    Text {
        from: String,
        identity: IdentityKey,
        text: String,
        events: Vec<Event>,
    },
    /// An operator's organization certificate, checked against the pinned roots.
    Business {
        from: String,
        result: Result<BusinessIdentity, VerifyError>,
    },
    /// A file: where it is on the relay, and the pointer that decrypts it (fetch it with
    /// [`Peer::fetch_file`]).
    File {
        from: String,
        identity: IdentityKey,
        blob: BlobId,
        pointer: Box<AttachmentPointer>,
        events: Vec<Event>,
    },
    /// The operator's copy of a secure field: the masked form and a reference; the value went
    /// to the vault.
    MaskedField {
        from: String,
        identity: IdentityKey,
        field: Box<MaskedField>,
        events: Vec<Event>,
    },
    /// An invitation to a group, read and accepted: this device joined `group`. Its own
    /// sender key is queued for the other members: send it with [`Peer::send_group_keys`].
    GroupJoined {
        group: String,
        from: String,
        members: Vec<String>,
    },
    /// A member's sender key for `group`, accepted: its group messages now decrypt.
    GroupKey { group: String, from: String },
    /// A group message, decrypted (signed by `from`'s sender key).
    GroupText {
        group: String,
        from: String,
        identity: IdentityKey,
        text: String,
    },
    /// `from` lost its session with us (a restored device, say) and asks for a fresh one:
    /// answer with [`Peer::answer_reset`].
    ResetRequested {
        from: String,
        identity: IdentityKey,
        request: Vec<u8>,
    },
    /// A secure field's raw value, sealed to this device as the vault (content type `0x03`).
    Vaulted {
        from: String,
        result: Result<Box<VaultedField>, SecureFieldError>,
    },
    /// A message of a device-linking run (hushwire SPEC.md §19.11), decrypted from a direct
    /// delivery: hand it to the run ([`Peer::link_new_device`], [`Peer::join_user`]).
    Link {
        identity: IdentityKey,
        plaintext: Vec<u8>,
    },
    /// A message already read (redelivered after a reconnect): drop it.
    Duplicate,
    /// Anything else that fails: tampered, not for us, untrusted sender, unknown session.
    Rejected(String),
}

/// A message handed to the relay.
pub struct Sent {
    pub relay_id: u64,
    pub envelope: Vec<u8>,
    pub to: IdentityKey,
    /// The same message to the recipient's other devices (its signed device list), one
    /// envelope per device.
    pub copies: Vec<Sent>,
}

impl Peer {
    /// A new device named `name`, with one-time prekeys ready to publish and hybrid sealed
    /// envelopes on (its envelope KEM key is published with its prekeys).
    pub fn new<R: CryptoRng + ?Sized>(
        name: &str,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Peer, BoxError> {
        let mut device = Device::new(now, rng);
        device.account_mut().enable_hybrid_envelopes(now, rng);
        device.account_mut().generate_one_time_prekeys(
            ONE_TIME_PREKEYS,
            ONE_TIME_PREKEYS,
            now,
            rng,
        )?;
        let mut peer = Peer::from_parts(name, device, None, None);
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        peer.group_rng = Some(ChaCha20Rng::from_seed(*seed));
        Ok(peer)
    }

    /// A device restored from its parts.
    pub fn from_parts(
        name: &str,
        device: Device,
        relay_root: Option<[u8; 32]>,
        relay_cert: Option<Fingerprint>,
    ) -> Peer {
        Peer {
            name: name.to_owned(),
            device,
            relay_root,
            relay_cert,
            org_roots: OrganizationRoots::new(),
            trust: TrustStore::new(),
            certificate: None,
            groups: BTreeMap::new(),
            pending_keys: Vec::new(),
            group_rng: None,
            envelope_keys: BTreeMap::new(),
        }
    }

    /// How to reach the relay: TLS with this device's pin (first use if none yet), or plain
    /// TCP when `insecure`.
    pub fn link(&self, wait: Duration, insecure: bool) -> Link {
        if insecure {
            Link::insecure(wait)
        } else {
            Link::tls(self.relay_cert.map_or(Pin::FirstUse, Pin::Pinned), wait)
        }
    }

    /// Connects and signs in. Pins the relay's root key and TLS certificate at the first
    /// sign-in and refuses a relay that presents others afterwards ([`RelayChanged`], or
    /// [`ClientError::CertificateChanged`] from the handshake). Fetches a sender certificate
    /// if the device is registered (`registered`).
    pub async fn connect(
        &mut self,
        addr: SocketAddr,
        link: &Link,
        registered: bool,
        now: Timestamp,
    ) -> Result<RelayClient, BoxError> {
        let mut client =
            RelayClient::connect(addr, self.device.account().identity_key_pair(), link).await?;
        let welcome = client.welcome();
        let root_changed = self
            .relay_root
            .is_some_and(|pinned| pinned != welcome.root || welcome.root_id != RELAY_ROOT_ID);
        let cert_changed = matches!(
            (self.relay_cert, welcome.tls_fingerprint),
            (Some(pinned), Some(now)) if pinned != now
        );
        if root_changed || cert_changed {
            return Err(Box::new(RelayChanged {
                pinned_root: self.relay_root,
                root: welcome.root,
                pinned_cert: self.relay_cert,
                cert: welcome.tls_fingerprint,
            }));
        }
        let root = IssuerKey::from_bytes(&welcome.root)?;
        let mut trust = TrustStore::new();
        trust.add_root(welcome.root_id, root)?;
        self.trust = trust;
        self.relay_root = Some(welcome.root);
        if welcome.tls_fingerprint.is_some() {
            self.relay_cert = welcome.tls_fingerprint;
        }
        if registered {
            self.refresh_certificate(&mut client, now).await?;
        }
        Ok(client)
    }

    /// Registers the name, publishes prekeys and fetches a sender certificate.
    pub async fn register<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<usize, BoxError> {
        self.register_name(client, false).await?;
        let published = self.publish_prekeys(client, now, rng).await?;
        self.refresh_certificate(client, now).await?;
        Ok(published)
    }

    /// Registers the name only: with `replace`, takes it from the device that holds it.
    pub async fn register_name(
        &mut self,
        client: &mut RelayClient,
        replace: bool,
    ) -> Result<(), BoxError> {
        let result = if replace {
            client.reregister(&self.name).await
        } else {
            client.register(&self.name).await
        };
        result.map_err(|e| match e {
            ClientError::Relay(code) => format!("cannot register `{}`: {code}", self.name).into(),
            other => BoxError::from(other),
        })
    }

    /// Rotates the signed prekey (and the envelope KEM key with it) if due, tops up one-time
    /// prekeys, and publishes every unused one (the relay ignores those it already has, and
    /// never hands one out twice), then the current envelope KEM key if hybrid envelopes are
    /// on. Returns how many bundles were published.
    pub async fn publish_prekeys<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<usize, BoxError> {
        if self.device.account().prekeys_due_for_rotation(now) {
            self.device.account_mut().rotate_prekeys(now, rng);
        }
        let (x25519, kem) = self.device.account().one_time_prekey_counts();
        if x25519 < ONE_TIME_PREKEYS_REFILL || kem < ONE_TIME_PREKEYS_REFILL {
            let want = |held: usize| {
                ONE_TIME_PREKEYS.saturating_sub(u32::try_from(held).unwrap_or(u32::MAX))
            };
            self.device.account_mut().generate_one_time_prekeys(
                want(x25519),
                want(kem),
                now,
                rng,
            )?;
        }
        let mut published = self.device.account().published_prekeys();
        let most = published.one_time_prekeys.len() + published.one_time_kem_prekeys.len() + 1;
        let mut count = 0;
        for _ in 0..most {
            let bundle = published.take_bundle();
            let last = bundle.one_time_prekey.is_none()
                && bundle.kem_prekey.kind == KemPreKeyKind::LastResort;
            client.publish_bundle(bundle.to_bytes()).await?;
            count += 1;
            if last {
                break;
            }
        }
        if let Some(key) = published.envelope_key {
            client.publish_envelope_key(key.encode()).await?;
        }
        Ok(count)
    }

    /// Gets a fresh sender certificate and checks it chains to the pinned relay root.
    pub async fn refresh_certificate(
        &mut self,
        client: &mut RelayClient,
        now: Timestamp,
    ) -> Result<(), BoxError> {
        let bytes = client.certificate().await.map_err(|e| match e {
            ClientError::Relay(_) => BoxError::from(format!(
                "`{}` is not registered with this relay: run `register` first",
                self.name
            )),
            other => BoxError::from(other),
        })?;
        let certificate = SenderCertificate::from_bytes(&bytes)?;
        certificate.validate(&self.trust, now)?;
        if certificate.identity_key() != self.device.identity_key() {
            return Err("the relay certified another identity key than this device's".into());
        }
        self.certificate = Some(certificate);
        Ok(())
    }

    /// The identity key registered under `name`, recorded in the account (which reports a
    /// changed key as [`Event::IdentityChanged`]).
    pub async fn resolve(
        &mut self,
        client: &mut RelayClient,
        name: &str,
        now: Timestamp,
    ) -> Result<(IdentityKey, Vec<Event>), BoxError> {
        if !valid_name(name) {
            return Err(format!("`{name}` is not a valid peer name").into());
        }
        let user = UserId::new(name.as_bytes())?;
        let key = match client.lookup(name).await {
            Ok(key) => IdentityKey::from_bytes(&key)?,
            Err(ClientError::Relay(_)) => return Err(Box::new(UnknownPeer(name.to_owned()))),
            Err(e) => return Err(e.into()),
        };
        let listed = self
            .device
            .device_list(&user)
            .is_some_and(|l| l.device_with_key(&key).is_some());
        let events = if &key == self.device.identity_key() || listed {
            Vec::new()
        } else {
            self.device.record_identity(&user, &key, now)?
        };
        Ok((key, events))
    }

    /// The identity key the account has on record for `name`, without asking the relay.
    pub fn known_identity(&self, name: &str) -> Option<IdentityKey> {
        let user = UserId::new(name.as_bytes()).ok()?;
        match self.device.verification_state(&user)? {
            VerificationState::Unverified { identity_key }
            | VerificationState::Verified { identity_key, .. } => Some(identity_key),
            VerificationState::ChangedSinceVerification { current_key, .. } => Some(current_key),
            _ => None,
        }
    }

    /// The envelope KEM key to seal to `recipient` with, `None` for classical envelopes
    /// (SPEC.md §13.8.4). A key fetched less than [`ENVELOPE_KEY_REFRESH_SECS`] ago is used as
    /// it is; else the relay is asked for the current one. A key from the relay must belong to
    /// `recipient` and carry its valid signature (else an error: the relay tampered, and
    /// nothing is sealed). When the relay has none, a key fetched less than
    /// [`ENVELOPE_KEY_KEEP_SECS`] ago is still used: withholding it then downgrades nothing.
    pub async fn envelope_key_for(
        &mut self,
        client: &mut RelayClient,
        recipient: &IdentityKey,
        now: Timestamp,
    ) -> Result<Option<EnvelopeKeyPublic>, BoxError> {
        let id = recipient.to_bytes();
        let age = |fetched: &FetchedEnvelopeKey| {
            now.as_unix_secs()
                .saturating_sub(fetched.fetched_at.as_unix_secs())
        };
        if let Some(fetched) = self.envelope_keys.get(&id)
            && age(fetched) < ENVELOPE_KEY_REFRESH_SECS
        {
            return Ok(Some(fetched.key.clone()));
        }
        match client.fetch_envelope_key(id).await? {
            Some(bytes) => {
                let key = EnvelopeKeyPublic::decode(&bytes)
                    .map_err(|e| format!("the relay sent a malformed envelope key: {e}"))?;
                if key.identity_key() != recipient || !key.verify() {
                    return Err("the relay sent an envelope key that its owner did not sign".into());
                }
                self.envelope_keys.insert(
                    id,
                    FetchedEnvelopeKey {
                        key: key.clone(),
                        fetched_at: now,
                    },
                );
                Ok(Some(key))
            }
            None => match self.envelope_keys.get(&id) {
                Some(fetched) if age(fetched) < ENVELOPE_KEY_KEEP_SECS => {
                    Ok(Some(fetched.key.clone()))
                }
                _ => {
                    self.envelope_keys.remove(&id);
                    Ok(None)
                }
            },
        }
    }

    /// Encrypts `text` for `to` (starting a session from a fetched bundle if needed), seals
    /// it and hands it to the relay.
    pub async fn send_text<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        to: &str,
        text: &str,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Sent, BoxError> {
        let bytes = body::text(text).ok_or("a message may not start with U+0000")?;
        self.send_body(client, to, &bytes, now, rng).await
    }

    /// Encrypts a message body (see [`crate::body`]) for `to`, starting a session from a
    /// fetched bundle if needed, seals it and hands it to the relay.
    pub async fn send_body<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        to: &str,
        body: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Sent, BoxError> {
        let (key, _events) = self.resolve(client, to, now).await?;
        let devices = self.devices_of_user(client, to, &key, now).await?;
        let mut sent: Option<Sent> = None;
        for device in devices {
            let one = self
                .send_body_to(client, to, device, body, now, rng)
                .await?;
            match &mut sent {
                None => sent = Some(one),
                Some(first) => first.copies.push(one),
            }
        }
        sent.ok_or_else(|| format!("`{to}` has no device to send to").into())
    }

    /// Encrypts and seals `body` for one device `key` of `to` and hands it to the relay.
    async fn send_body_to<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        to: &str,
        key: IdentityKey,
        body: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Sent, BoxError> {
        if self.device.active_session(&key).is_none() {
            let bytes = client
                .fetch_bundle(key.to_bytes())
                .await
                .map_err(|e| match e {
                    ClientError::Relay(code) => {
                        format!("cannot start a session with `{to}`: {code}").into()
                    }
                    other => BoxError::from(other),
                })?;
            let bundle = PreKeyBundle::from_bytes(&bytes)?;
            if bundle.identity_key != key {
                return Err(format!("the relay sent a bundle of another device for `{to}`").into());
            }
            bundle.verify()?;
            // A peer evicted to make room (`SessionStarted::events`) needs nothing here: its
            // next message names an unknown peer, which leads into a reset.
            let _started = self.device.start_session(&bundle, rng)?;
        }
        let message = self
            .device
            .encrypt_for(&key, body, rng)
            .map_err(|e| match e {
                PeerError::IdentityChanged => BoxError::from(format!(
                    "`{to}`'s identity key changed since you verified it: compare safety \
                     numbers again before sending"
                )),
                other => BoxError::from(other),
            })?;
        let envelope_key = self.envelope_key_for(client, &key, now).await?;
        let envelope = self.seal(
            &key,
            envelope_key.as_ref(),
            ContentType::SESSION,
            &message,
            now,
            rng,
        )?;
        let relay_id = client.send(envelope.clone()).await?;
        Ok(Sent {
            relay_id,
            envelope,
            to: key,
            copies: Vec::new(),
        })
    }

    /// Sends this operator's organization certificate to `to`, sealed.
    pub async fn send_identity_certificate<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        to: &str,
        certificate: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Sent, BoxError> {
        let (key, _) = self.resolve(client, to, now).await?;
        let content = ContentType::from_byte(IDENTITY_CERTIFICATE).ok_or("content type")?;
        let envelope_key = self.envelope_key_for(client, &key, now).await?;
        let envelope = self.seal(&key, envelope_key.as_ref(), content, certificate, now, rng)?;
        let relay_id = client.send(envelope.clone()).await?;
        Ok(Sent {
            relay_id,
            envelope,
            to: key,
            copies: Vec::new(),
        })
    }

    /// Seals for `to`: hybrid to `envelope_key` (from [`Peer::envelope_key_for`]), classical
    /// without one.
    fn seal<R: CryptoRng + ?Sized>(
        &self,
        to: &IdentityKey,
        envelope_key: Option<&EnvelopeKeyPublic>,
        content: ContentType,
        message: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Vec<u8>, BoxError> {
        let certificate = self
            .certificate
            .as_ref()
            .ok_or("no sender certificate: sign in as a registered device first")?;
        Ok(self.device.seal_for(
            certificate,
            to,
            envelope_key,
            &Metadata::new(content, now),
            message,
            rng,
        )?)
    }

    /// Opens and reads one delivered envelope. The device changes only if a message was
    /// read.
    pub fn open(&mut self, envelope: &[u8], now: Timestamp) -> Incoming {
        if let Some(incoming) = self.open_direct(envelope, now) {
            return incoming;
        }
        let opened = match self.device.open_sealed(envelope, &self.trust, now) {
            Ok(opened) => opened,
            Err(e) => return Incoming::Rejected(format!("envelope rejected: {e}")),
        };
        let from = String::from_utf8_lossy(opened.sender().user_id()).into_owned();
        let sender = *opened.sender_identity();
        if opened.metadata().content_type().to_byte() == IDENTITY_CERTIFICATE {
            let result = verify_business_identity(opened.message(), &sender, &self.org_roots, now);
            return Incoming::Business { from, result };
        }
        if opened.metadata().content_type().to_byte() == RESET_REQUEST {
            return Incoming::ResetRequested {
                from,
                identity: sender,
                request: opened.into_message(),
            };
        }
        if opened.metadata().content_type() == ContentType::GROUP {
            return self.read_group_message(from, sender, opened.message(), now);
        }
        if opened.metadata().content_type() == SECURE_FIELD_CONTENT_TYPE {
            let result = VaultedField::open(
                self.device.account().identity_key_pair(),
                envelope,
                &self.trust,
                now,
            )
            .map(Box::new);
            return Incoming::Vaulted { from, result };
        }
        match self.device.decrypt_sealed(&opened, now) {
            Ok(read) => {
                let mut events = read.events;
                if let Ok(user) = UserId::new(from.as_bytes())
                    && !self.is_listed_device(&user, &sender)
                    && let Ok(more) = self.device.record_identity(&user, &sender, now)
                {
                    events.extend(more);
                }
                match body::decode(&read.plaintext) {
                    Ok(Body::Text(text)) => Incoming::Text {
                        from,
                        identity: sender,
                        text,
                        events,
                    },
                    Ok(Body::File { blob, pointer }) => Incoming::File {
                        from,
                        identity: sender,
                        blob,
                        pointer: Box::new(pointer),
                        events,
                    },
                    Ok(Body::MaskedField(field)) => Incoming::MaskedField {
                        from,
                        identity: sender,
                        field: Box::new(field),
                        events,
                    },
                    Ok(Body::GroupInvite { names, welcome }) => {
                        let mut rng = match self.group_rng.take() {
                            Some(rng) => rng,
                            None => match os_seeded() {
                                Some(rng) => rng,
                                None => {
                                    return Incoming::Rejected(
                                        "the OS random number generator failed".into(),
                                    );
                                }
                            },
                        };
                        let incoming = self.join_group(&from, &sender, names, &welcome, &mut rng);
                        self.group_rng = Some(rng);
                        incoming
                    }
                    Ok(Body::GroupKey(distribution)) => {
                        self.accept_group_key(&from, &sender, &distribution)
                    }
                    // The session advanced (the message was authentic): only its body is
                    // unreadable.
                    Err(e) => Incoming::Rejected(format!("message from `{from}` unreadable: {e}")),
                }
            }
            Err(SealedSessionError::Peer(
                PeerError::Decrypt(DecryptError::Duplicate { .. })
                | PeerError::Handshake(
                    HandshakeError::ReplayedInitialMessage
                    | HandshakeError::OneTimePreKeyReused(_)
                    | HandshakeError::KemPreKeyReused(_),
                ),
            )) => Incoming::Duplicate,
            Err(e) => Incoming::Rejected(format!("message from `{from}` rejected: {e}")),
        }
    }
}

fn os_seeded() -> Option<ChaCha20Rng> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).ok()?;
    Some(ChaCha20Rng::from_seed(*seed))
}

impl Peer {
    /// Asks `to` (whose session this device lost: restored from a backup) for a fresh
    /// session, with a reset request sealed to `identity`.
    ///
    /// # Errors
    /// Rate-limited (one request per peer per minute), no sender certificate, a failed send.
    pub async fn request_reset<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        identity: &IdentityKey,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Sent, BoxError> {
        let request = self
            .device
            .reset_request(identity, ResetReason::NoSession, now, now, rng)?;
        let content = ContentType::from_byte(RESET_REQUEST).ok_or("content type")?;
        let envelope_key = self.envelope_key_for(client, identity, now).await?;
        let envelope = self.seal(identity, envelope_key.as_ref(), content, &request, now, rng)?;
        let relay_id = client.send(envelope.clone()).await?;
        Ok(Sent {
            relay_id,
            envelope,
            to: *identity,
            copies: Vec::new(),
        })
    }

    /// Answers a reset request from `from`: fetches its bundle and starts a fresh session,
    /// now the active one (send the next message on it). Returns the account's events
    /// ([`Event::SessionReset`] first).
    ///
    /// # Errors
    /// The request is refused (forged, stale, rate-limited, not for us) or no bundle.
    pub async fn answer_reset<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        identity: &IdentityKey,
        request: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Vec<Event>, BoxError> {
        let bytes = client.fetch_bundle(identity.to_bytes()).await?;
        let bundle = PreKeyBundle::from_bytes(&bytes)?;
        bundle.verify()?;
        let answered = self.device.answer_reset(request, &bundle, now, rng)?;
        // A device restored with its identity key has new envelope keys (they are not backed
        // up): seal to the one it publishes now.
        self.envelope_keys.remove(&identity.to_bytes());
        Ok(answered.events)
    }
}

/// The relay presents another root key or certificate than the ones this device pinned.
#[derive(Debug)]
pub struct RelayChanged {
    pub pinned_root: Option<[u8; 32]>,
    pub root: [u8; 32],
    pub pinned_cert: Option<Fingerprint>,
    pub cert: Option<Fingerprint>,
}

impl std::fmt::Display for RelayChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let root = |r: Option<[u8; 32]>| r.map_or_else(|| "-".into(), hex::encode);
        let cert = |c: Option<Fingerprint>| c.map_or_else(|| "-".into(), |c| show_fingerprint(&c));
        write!(
            f,
            "the relay presents another identity than the one pinned at registration\n  \
             pinned:    root key {}, TLS certificate {}\n  presented: root key {}, TLS certificate {}",
            root(self.pinned_root),
            cert(self.pinned_cert),
            root(Some(self.root)),
            cert(self.cert),
        )
    }
}

impl std::error::Error for RelayChanged {}

/// Nobody registered this name on the relay (yet).
#[derive(Debug)]
pub struct UnknownPeer(pub String);

impl std::fmt::Display for UnknownPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown peer `{}`: nobody registered that name on this relay (yet)",
            self.0
        )
    }
}

impl std::error::Error for UnknownPeer {}
