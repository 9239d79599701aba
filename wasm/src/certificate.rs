//! Trust roots, operator verification by organization certificate, and issuing (for servers
//! and tests).

use hushwire::certificate::SenderCertificateInfo;
use hushwire::verify::{IdentityCertificate, OperatorInfo, verify_business_identity};
use hushwire::{IssuerKey, IssuerKeyPair, ServerCertificate, Timestamp, Validity};
use wasm_bindgen::prelude::*;

use crate::{JsResult, array, identity_key, now, number, rng, throw, whole};

fn issuer_key(bytes: &[u8]) -> JsResult<IssuerKey> {
    IssuerKey::from_bytes(&array::<32>("issuer_key", bytes)?).map_err(throw)
}

fn validity(not_before: f64, expires_at: f64) -> JsResult<Validity> {
    Validity::new(
        Timestamp::from_unix_secs(whole("not_before", not_before)?),
        Timestamp::from_unix_secs(whole("expires_at", expires_at)?),
    )
    .map_err(throw)
}

/// The roots that sender certificates (sealed envelopes) must chain to: the messaging
/// service's root keys.
#[wasm_bindgen]
#[derive(Default)]
pub struct TrustStore {
    pub(crate) inner: hushwire::TrustStore,
}

#[wasm_bindgen]
impl TrustStore {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> TrustStore {
        TrustStore::default()
    }

    /// Trusts `key` (32 bytes) as root `rootId`.
    ///
    /// # Errors
    /// `certificate.duplicate_root`, `certificate.trust_store_full`, `decode.invalid_field`.
    #[wasm_bindgen(js_name = addRoot)]
    pub fn add_root(&mut self, root_id: u32, key: &[u8]) -> JsResult<()> {
        self.inner
            .add_root(root_id, issuer_key(key)?)
            .map_err(throw)
    }
}

/// The organization roots a widget pins, each with the organization's name, from its own
/// configuration (never from the network).
#[wasm_bindgen]
#[derive(Default)]
pub struct OrganizationRoots {
    inner: hushwire::OrganizationRoots,
}

#[wasm_bindgen]
impl OrganizationRoots {
    /// No organization trusted yet.
    #[wasm_bindgen(constructor)]
    pub fn new() -> OrganizationRoots {
        OrganizationRoots::default()
    }

    /// Pins `key` (32 bytes) as the root of `organization` under `rootId`.
    ///
    /// # Errors
    /// `verify.text_length`, `verify.invalid_text`, `verify.certificate` (root id pinned to
    /// another key or name, too many roots).
    pub fn pin(&mut self, root_id: u32, key: &[u8], organization: &str) -> JsResult<()> {
        self.inner
            .pin(root_id, issuer_key(key)?, organization)
            .map_err(throw)
    }
}

/// Who a session is with, as certified by a pinned organization.
#[wasm_bindgen]
pub struct BusinessIdentity {
    inner: hushwire::BusinessIdentity,
}

#[wasm_bindgen]
impl BusinessIdentity {
    /// The organization, as pinned.
    #[wasm_bindgen(getter)]
    pub fn organization(&self) -> String {
        self.inner.organization.clone()
    }

    /// The operator's name.
    #[wasm_bindgen(getter, js_name = operatorName)]
    pub fn operator_name(&self) -> String {
        self.inner.operator_name.clone()
    }

    /// The operator's role.
    #[wasm_bindgen(getter)]
    pub fn role(&self) -> String {
        self.inner.role.clone()
    }

    /// The operator device's identity key.
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Vec<u8> {
        self.inner.identity_key.to_bytes().to_vec()
    }

    /// The pinned root that vouches for it.
    #[wasm_bindgen(getter, js_name = rootId)]
    pub fn root_id(&self) -> u32 {
        self.inner.root_id
    }

    /// Until when (unix seconds) the verification holds; check again after.
    #[wasm_bindgen(getter, js_name = validUntil)]
    pub fn valid_until(&self) -> f64 {
        number(self.inner.valid_until.as_unix_secs())
    }

    /// `verified as <organization>, <operator name>, <role>`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_display(&self) -> String {
        self.inner.to_string()
    }
}

/// Checks an operator's organization certificate for the session's peer (`operator`: pass
/// `session.remoteIdentity`) against the pinned organization roots.
///
/// # Errors
/// `verify.malformed`, `verify.forged`, `verify.foreign_organization`, `verify.expired`,
/// `verify.revoked`, `verify.operator_key_mismatch`, ...: the first check that fails.
#[wasm_bindgen(js_name = verifyOperator)]
pub fn verify_operator(
    certificate: &[u8],
    operator: &[u8],
    roots: &OrganizationRoots,
    now_secs: Option<f64>,
) -> JsResult<BusinessIdentity> {
    let operator = identity_key("operator", operator)?;
    let now = now(now_secs)?;
    let inner =
        verify_business_identity(certificate, &operator, &roots.inner, now).map_err(throw)?;
    Ok(BusinessIdentity { inner })
}

/// A certificate issuer's key pair (a root, a server key or an organization key): what a
/// relay or an organization's backend written in JavaScript needs, and the tests.
#[wasm_bindgen]
pub struct Issuer {
    inner: IssuerKeyPair,
}

#[wasm_bindgen]
impl Issuer {
    /// A new random issuer key.
    ///
    /// # Errors
    /// `random.unavailable`.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsResult<Issuer> {
        Ok(Issuer {
            inner: IssuerKeyPair::generate(&mut rng()?),
        })
    }

    /// The 32-byte public key.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> Vec<u8> {
        self.inner.public().to_bytes().to_vec()
    }

    /// As a root `rootId`: certifies `key` as its server (or organization) key `keyId`.
    ///
    /// # Errors
    /// `certificate.*` for an empty validity window, `decode.invalid_field`.
    #[wasm_bindgen(js_name = issueServerCertificate)]
    pub fn issue_server_certificate(
        &self,
        root_id: u32,
        key_id: u32,
        key: &[u8],
        not_before: f64,
        expires_at: f64,
    ) -> JsResult<Vec<u8>> {
        Ok(ServerCertificate::issue(
            &self.inner,
            root_id,
            key_id,
            &issuer_key(key)?,
            validity(not_before, expires_at)?,
        )
        .to_bytes())
    }

    /// As a server key certified by `serverCertificate`: certifies a device for sealed
    /// envelopes.
    ///
    /// # Errors
    /// `certificate.*`, `decode.*`.
    #[wasm_bindgen(js_name = issueSenderCertificate)]
    #[allow(clippy::too_many_arguments)]
    pub fn issue_sender_certificate(
        &self,
        server_certificate: &[u8],
        serial: f64,
        user_id: &str,
        device_id: u32,
        identity: &[u8],
        not_before: f64,
        expires_at: f64,
    ) -> JsResult<Vec<u8>> {
        let issuer = ServerCertificate::from_bytes(server_certificate).map_err(throw)?;
        let info = SenderCertificateInfo {
            serial: whole("serial", serial)?,
            user_id: user_id.as_bytes().to_vec(),
            device_id,
            identity_key: identity_key("identity_key", identity)?,
            validity: validity(not_before, expires_at)?,
        };
        hushwire::SenderCertificate::issue(&self.inner, &issuer, info)
            .map(|c| c.to_bytes())
            .map_err(throw)
    }

    /// As an organization key certified by `organizationKeyCertificate`: certifies an
    /// operator device (at most 7 days).
    ///
    /// # Errors
    /// `verify.*` (text too long or not displayable, lifetime too long), `decode.*`.
    #[wasm_bindgen(js_name = issueIdentityCertificate)]
    #[allow(clippy::too_many_arguments)]
    pub fn issue_identity_certificate(
        &self,
        organization_key_certificate: &[u8],
        serial: f64,
        organization: &str,
        operator_name: &str,
        role: &str,
        identity: &[u8],
        not_before: f64,
        expires_at: f64,
    ) -> JsResult<Vec<u8>> {
        let issuer = ServerCertificate::from_bytes(organization_key_certificate).map_err(throw)?;
        let info = OperatorInfo {
            serial: whole("serial", serial)?,
            organization: organization.to_owned(),
            operator_name: operator_name.to_owned(),
            role: role.to_owned(),
            identity_key: identity_key("identity_key", identity)?,
            validity: validity(not_before, expires_at)?,
        };
        IdentityCertificate::issue(&self.inner, &issuer, info)
            .map(|c| c.to_bytes())
            .map_err(throw)
    }
}
