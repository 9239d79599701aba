//! The visitor's account, its sessions, and sealed envelopes.

use hushwire::persist::Expected;
use hushwire::sealed::{self, ContentType, Metadata};
use hushwire::{DecodeError, PreKeyBundle, SenderCertificate};
use wasm_bindgen::prelude::*;

use crate::certificate::TrustStore;
use crate::{JsResult, identity_key, now, number, rng, storage_key, throw, whole};

/// A device: its identity key and prekeys. For a widget, the visitor's identity: create it
/// once, keep its exported state in IndexedDB.
#[wasm_bindgen]
pub struct Account {
    /// A device, so a state blob holding peers (written through the C ABI, say) restores
    /// here without dropping them; this binding uses its account.
    pub(crate) inner: hushwire::Device,
}

#[wasm_bindgen]
impl Account {
    /// A new identity (Ed25519/X25519 identity key, signed prekey, last-resort ML-KEM prekey),
    /// with no one-time prekeys: a visitor who only starts sessions needs none.
    ///
    /// # Errors
    /// `random.unavailable` without a secure random source.
    #[wasm_bindgen(constructor)]
    pub fn new(now_secs: Option<f64>) -> JsResult<Account> {
        let now = now(now_secs)?;
        Ok(Account {
            inner: hushwire::Device::new(now, &mut rng()?),
        })
    }

    /// The 32-byte public identity key.
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.inner.identity_key().to_bytes().to_vec()
    }

    /// Adds one-time prekeys (X25519 and ML-KEM) for peers to start sessions with.
    ///
    /// # Errors
    /// `config.out_of_range` past the account's limits; the account is unchanged.
    #[wasm_bindgen(js_name = generateOneTimePrekeys)]
    pub fn generate_one_time_prekeys(
        &mut self,
        x25519: u32,
        kem: u32,
        now_secs: Option<f64>,
    ) -> JsResult<()> {
        let now = now(now_secs)?;
        self.inner
            .account_mut()
            .generate_one_time_prekeys(x25519, kem, now, &mut rng()?)
            .map_err(throw)
    }

    /// Every bundle to publish (each one-time prekey once, then the last-resort one), encoded.
    #[wasm_bindgen(js_name = publishedBundles)]
    pub fn published_bundles(&self) -> Vec<js_sys::Uint8Array> {
        let mut published = self.inner.account().published_prekeys();
        let most = published.one_time_prekeys.len() + published.one_time_kem_prekeys.len() + 1;
        let mut bundles = Vec::new();
        for _ in 0..most {
            let bundle = published.take_bundle();
            let last = bundle.one_time_prekey.is_none()
                && bundle.kem_prekey.kind == hushwire::KemPreKeyKind::LastResort;
            bundles.push(js_sys::Uint8Array::from(bundle.to_bytes().as_slice()));
            if last {
                break;
            }
        }
        bundles
    }

    /// Starts a session with the device whose prekey bundle this is (its signatures are
    /// checked first). The session's first messages are prekey messages.
    ///
    /// # Errors
    /// `decode.*` for a malformed bundle, `key.*` for a bad signature, `handshake.*`.
    #[wasm_bindgen(js_name = createOutboundSession)]
    pub fn create_outbound_session(&self, bundle: &[u8]) -> JsResult<Session> {
        let bundle = PreKeyBundle::from_bytes(bundle).map_err(throw)?;
        bundle.verify().map_err(throw)?;
        let inner = self
            .inner
            .account()
            .create_outbound_session(&bundle, &mut rng()?)
            .map_err(throw)?;
        Ok(Session { inner })
    }

    /// Accepts a session from a peer's first (prekey) message.
    ///
    /// # Errors
    /// `handshake.*` (replayed message, unknown or used prekey, forged); the account is
    /// unchanged.
    #[wasm_bindgen(js_name = createInboundSession)]
    pub fn create_inbound_session(
        &mut self,
        message: &[u8],
        now_secs: Option<f64>,
    ) -> JsResult<InboundSession> {
        let now = now(now_secs)?;
        let inbound = self
            .inner
            .account_mut()
            .create_inbound_session(message, now)
            .map_err(throw)?;
        Ok(InboundSession {
            plaintext: inbound.plaintext,
            session: Session {
                inner: inbound.session,
            },
        })
    }

    /// Signs a relay's sign-in challenge with the identity key (a signature only valid as
    /// one, SPEC.md: the relay-challenge label). 64 bytes.
    #[wasm_bindgen(js_name = signRelayChallenge)]
    pub fn sign_relay_challenge(&self, challenge: &[u8]) -> Vec<u8> {
        self.inner
            .account()
            .identity_key_pair()
            .sign_relay_challenge(challenge)
            .to_vec()
    }

    /// Seals `message` (usually `Session.encrypt`'s output) to `recipient` under this
    /// device's sender certificate. `contentType` defaults to 1 (a session message).
    ///
    /// # Errors
    /// `decode.*` for a malformed certificate or key, `seal.*` (certificate of another
    /// device, message too large).
    pub fn seal(
        &self,
        certificate: &[u8],
        recipient: &[u8],
        message: &[u8],
        content_type: Option<u8>,
        now_secs: Option<f64>,
    ) -> JsResult<Vec<u8>> {
        let now = now(now_secs)?;
        let certificate = SenderCertificate::from_bytes(certificate).map_err(throw)?;
        let recipient = identity_key("recipient", recipient)?;
        let content_type = ContentType::from_byte(content_type.unwrap_or(1)).ok_or_else(|| {
            throw(DecodeError::InvalidField {
                field: "content_type",
            })
        })?;
        sealed::seal(
            self.inner.account().identity_key_pair(),
            &certificate,
            &recipient,
            &Metadata::new(content_type, now),
            message,
            &mut rng()?,
        )
        .map_err(throw)
    }

    /// Opens an envelope addressed to this device and validates its sender certificate
    /// against `trust`. Then `opened.decrypt(session)` or
    /// `opened.createInboundSession(account)` reads a session message inside.
    ///
    /// # Errors
    /// `open.*` (not for us, tampered, untrusted or expired sender certificate), `decode.*`.
    #[wasm_bindgen(js_name = openSealed)]
    pub fn open_sealed(
        &self,
        envelope: &[u8],
        trust: &TrustStore,
        now_secs: Option<f64>,
    ) -> JsResult<Opened> {
        let now = now(now_secs)?;
        let inner = sealed::open(
            self.inner.account().identity_key_pair(),
            envelope,
            &trust.inner,
            now,
        )
        .map_err(throw)?;
        Ok(Opened { inner })
    }

    /// The account as an encrypted blob (SPEC.md §11) under the app's 32-byte storage key,
    /// stamped with `generation` (the app's counter for this object: store the latest one
    /// beside the blob and pass it to `importState` to refuse a rolled-back copy).
    ///
    /// # Errors
    /// `decode.invalid_field` for a storage key that is not 32 bytes; `config.out_of_range`
    /// for a generation that is not a whole number.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self, storage_key_bytes: &[u8], generation: f64) -> JsResult<Vec<u8>> {
        let key = storage_key(storage_key_bytes)?;
        let generation = whole("generation", generation)?;
        Ok(self.inner.to_encrypted(&key, generation, &mut rng()?))
    }

    /// Restores an account from `exportState`'s blob, refusing generations below
    /// `minGeneration`.
    ///
    /// # Errors
    /// `restore.*`: wrong key or tampered, another type, rolled back, and so on.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(
        blob: &[u8],
        storage_key_bytes: &[u8],
        min_generation: f64,
    ) -> JsResult<Account> {
        let key = storage_key(storage_key_bytes)?;
        let min_generation = whole("min_generation", min_generation)?;
        let inner = hushwire::Device::from_encrypted(blob, &key, min_generation, &Expected::any())
            .map_err(throw)?;
        Ok(Account { inner })
    }
}

/// A Double Ratchet session with one peer device.
#[wasm_bindgen]
pub struct Session {
    pub(crate) inner: hushwire::Session,
}

#[wasm_bindgen]
impl Session {
    /// Encrypts `plaintext` (at most `MAX_PLAINTEXT_LEN` bytes) for the peer.
    ///
    /// # Errors
    /// `encrypt.plaintext_too_large`, `encrypt.*`.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> JsResult<Vec<u8>> {
        self.inner.encrypt(plaintext, &mut rng()?).map_err(throw)
    }

    /// Decrypts a message from the peer. All or nothing: on error the session is unchanged.
    ///
    /// # Errors
    /// `decrypt.*` (tampered, duplicate, too far ahead), `decode.*`.
    pub fn decrypt(&mut self, message: &[u8]) -> JsResult<Vec<u8>> {
        self.inner
            .decrypt(message)
            .map(|read| read.plaintext)
            .map_err(throw)
    }

    /// The 32-byte session id (the same on both sides).
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> Vec<u8> {
        self.inner.session_id().as_bytes().to_vec()
    }

    /// The peer device's 32-byte identity key.
    #[wasm_bindgen(getter, js_name = remoteIdentity)]
    pub fn remote_identity(&self) -> Vec<u8> {
        self.inner.remote_identity().to_bytes().to_vec()
    }

    /// Whether the peer answered yet (until then, messages are prekey messages).
    #[wasm_bindgen(getter, js_name = hasReceivedMessage)]
    pub fn has_received_message(&self) -> bool {
        self.inner.has_received_message()
    }

    /// The session as an encrypted blob; see `Account.exportState`.
    ///
    /// # Errors
    /// As `Account.exportState`.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self, storage_key_bytes: &[u8], generation: f64) -> JsResult<Vec<u8>> {
        let key = storage_key(storage_key_bytes)?;
        let generation = whole("generation", generation)?;
        Ok(self.inner.to_encrypted(&key, generation, &mut rng()?))
    }

    /// Restores the session kept for the peer with identity key `peer`: another peer's
    /// session is refused (`restore.wrong_object`).
    ///
    /// # Errors
    /// `restore.*`, `decode.invalid_field` for a key of the wrong length.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(
        blob: &[u8],
        storage_key_bytes: &[u8],
        min_generation: f64,
        peer: &[u8],
    ) -> JsResult<Session> {
        let key = storage_key(storage_key_bytes)?;
        let min_generation = whole("min_generation", min_generation)?;
        let peer = identity_key("peer", peer)?;
        let inner =
            hushwire::Session::from_encrypted(blob, &key, min_generation, &Expected::peer(&peer))
                .map_err(throw)?;
        Ok(Session { inner })
    }
}

/// A session accepted from a prekey message, with that message's plaintext.
#[wasm_bindgen]
pub struct InboundSession {
    plaintext: Vec<u8>,
    session: Session,
}

#[wasm_bindgen]
impl InboundSession {
    /// The first message's plaintext.
    #[wasm_bindgen(getter)]
    pub fn plaintext(&self) -> Vec<u8> {
        self.plaintext.clone()
    }

    /// The session (this object is used up: a session is never copied).
    #[wasm_bindgen(js_name = intoSession)]
    pub fn into_session(self) -> Session {
        self.session
    }
}

/// An opened sealed envelope: who sent it (certified), its metadata and its message.
#[wasm_bindgen]
pub struct Opened {
    inner: hushwire::Opened,
}

#[wasm_bindgen]
impl Opened {
    /// The sender's identity key (from its validated certificate).
    #[wasm_bindgen(getter, js_name = senderIdentity)]
    pub fn sender_identity(&self) -> Vec<u8> {
        self.inner.sender_identity().to_bytes().to_vec()
    }

    /// The sender's user id as the server certified it (UTF-8, lossy).
    #[wasm_bindgen(getter, js_name = senderName)]
    pub fn sender_name(&self) -> String {
        String::from_utf8_lossy(self.inner.sender().user_id()).into_owned()
    }

    /// The sender's device id.
    #[wasm_bindgen(getter, js_name = senderDevice)]
    pub fn sender_device(&self) -> u32 {
        self.inner.sender().device_id()
    }

    /// The content type byte (1: session message, 2: group message, 0x80 and up: the app's).
    #[wasm_bindgen(getter, js_name = contentType)]
    pub fn content_type(&self) -> u8 {
        self.inner.metadata().content_type().to_byte()
    }

    /// When the sender says it sent the message (unix seconds, its clock).
    #[wasm_bindgen(getter, js_name = sentAt)]
    pub fn sent_at(&self) -> f64 {
        number(self.inner.metadata().sent_at().as_unix_secs())
    }

    /// The sealed message.
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> Vec<u8> {
        self.inner.message().to_vec()
    }

    /// Decrypts the session message inside with `session`, which must be the session with
    /// the certified sender.
    ///
    /// # Errors
    /// `sealed_session.wrong_session` for a session with another device, `decrypt.*`; the
    /// session is unchanged.
    pub fn decrypt(&self, session: &mut Session) -> JsResult<Vec<u8>> {
        self.inner
            .decrypt(&mut session.inner)
            .map(|read| read.plaintext)
            .map_err(throw)
    }

    /// Accepts a session from the prekey message inside, checking it comes from the certified
    /// sender.
    ///
    /// # Errors
    /// `sealed_session.sender_mismatch`, `handshake.*`; the account is unchanged.
    #[wasm_bindgen(js_name = createInboundSession)]
    pub fn create_inbound_session(
        &self,
        account: &mut Account,
        now_secs: Option<f64>,
    ) -> JsResult<InboundSession> {
        let now = now(now_secs)?;
        let inbound = self
            .inner
            .create_inbound_session(account.inner.account_mut(), now)
            .map_err(throw)?;
        Ok(InboundSession {
            plaintext: inbound.plaintext,
            session: Session {
                inner: inbound.session,
            },
        })
    }
}
