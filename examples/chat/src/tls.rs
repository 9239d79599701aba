//! TLS between peers and the relay (rustls on ring, TLS 1.3 only).
//!
//! End-to-end encryption hides what people say; TLS hides who signs in, who receives what and
//! when from anyone on the path, so the relay serves TLS unless started with `--insecure`.
//!
//! - The relay makes a self-signed certificate (rcgen) at first start and keeps it beside its
//!   data (`tls.crt`, `tls.key`). There is no certificate authority: a peer pins the
//!   certificate's SHA-256 when it registers (trust on first use, shown to the person so they
//!   can compare it with what the relay printed) and refuses any other afterwards.
//! - The sign-in signature covers the relay's nonce and a TLS exporter value
//!   ([`channel_binding`]), so a signature made on one connection (for example by a
//!   man-in-the-middle relaying a challenge) is worthless on any other.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// The TLS exporter label of the sign-in binding (RFC 8446 §7.5); no context.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-hushwire-example-relay-sign-in";
/// Bytes of the exporter value appended to the relay's nonce before signing.
pub const BINDING_LEN: usize = 32;
/// The first byte of every TLS connection (a handshake record): how the relay tells a plain
/// TCP client from a TLS one.
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// SHA-256 of a certificate (DER): what peers pin.
pub type Fingerprint = [u8; 32];

/// A certificate's fingerprint.
pub fn fingerprint(certificate: &[u8]) -> Fingerprint {
    Sha256::digest(certificate).into()
}

/// A fingerprint as people compare it: hex in groups of four.
pub fn show_fingerprint(fp: &Fingerprint) -> String {
    let hex = hex::encode(fp);
    let groups: Vec<&str> = hex
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups.join(" ")
}

/// Parses a fingerprint typed by a person (hex, spaces and colons ignored).
pub fn parse_fingerprint(text: &str) -> Option<Fingerprint> {
    let hex: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(hex).ok()?.try_into().ok()
}

/// ring's provider, as the examples use no C toolchain beyond ring's. rustls marks it
/// deprecated because ring has no post-quantum key exchange: the TLS layer (metadata) is then
/// protected classically, while the messages inside stay under hushwire's hybrid keys.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why TLS could not be set up.
#[derive(Debug)]
pub enum TlsSetupError {
    Io(std::io::Error),
    Generate(rcgen::Error),
    Rustls(rustls::Error),
    Pem(&'static str),
}

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsSetupError::Io(e) => write!(f, "{e}"),
            TlsSetupError::Generate(e) => write!(f, "cannot make a certificate: {e}"),
            TlsSetupError::Rustls(e) => write!(f, "TLS: {e}"),
            TlsSetupError::Pem(what) => write!(f, "cannot read the {what} (PEM)"),
        }
    }
}

impl std::error::Error for TlsSetupError {}

/// The relay's certificate and key, loaded from `cert` and `key` or made and written there.
pub struct ServerIdentity {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: Fingerprint,
    /// Whether the certificate was made now (first start in this data directory).
    pub created: bool,
}

/// Loads the relay's TLS certificate and key, or makes a self-signed pair at first start.
///
/// # Errors
/// [`TlsSetupError`] if the files cannot be read or written, or do not parse.
pub fn server_identity(cert: &Path, key: &Path) -> Result<ServerIdentity, TlsSetupError> {
    let created = !cert.exists();
    if created {
        let made = rcgen::generate_simple_self_signed(vec![
            "hushwire-relay".to_owned(),
            "localhost".to_owned(),
        ])
        .map_err(TlsSetupError::Generate)?;
        super::relay::write_private(key, made.signing_key.serialize_pem().as_bytes())
            .map_err(TlsSetupError::Io)?;
        super::relay::write_private(cert, made.cert.pem().as_bytes()).map_err(TlsSetupError::Io)?;
    }
    let cert_der =
        CertificateDer::from_pem_file(cert).map_err(|_| TlsSetupError::Pem("certificate"))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|_| TlsSetupError::Pem("key"))?;
    let fingerprint = fingerprint(&cert_der);
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsSetupError::Rustls)?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .map_err(TlsSetupError::Rustls)?;
    Ok(ServerIdentity {
        config: Arc::new(config),
        fingerprint,
        created,
    })
}

/// Where the client's verifier records the certificate the relay presented.
pub type PresentedSlot = Arc<Mutex<Option<Fingerprint>>>;

/// What the client accepts as the relay's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// Any certificate (first registration: it is pinned afterwards).
    FirstUse,
    /// Only the certificate with this fingerprint.
    Pinned(Fingerprint),
}

/// Accepts exactly the pinned certificate (no certificate authority, no name check: the pin
/// is stronger than both), and records what the relay presented so a refusal can show it.
#[derive(Debug)]
struct PinnedVerifier {
    pin: Pin,
    presented: Arc<Mutex<Option<Fingerprint>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint(end_entity);
        if let Ok(mut slot) = self.presented.lock() {
            *slot = Some(presented);
        }
        match self.pin {
            Pin::Pinned(pinned) if pinned != presented => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration that accepts what `pin` says; the returned slot receives the
/// fingerprint the relay presented (also when it is refused).
///
/// # Errors
/// A rustls error if TLS 1.3 is not available (it always is with ring).
pub fn client_config(
    pin: Pin,
) -> Result<(Arc<rustls::ClientConfig>, PresentedSlot), rustls::Error> {
    let presented = Arc::new(Mutex::new(None));
    let provider = provider();
    let verifier = PinnedVerifier {
        pin,
        presented: Arc::clone(&presented),
        provider: Arc::clone(&provider),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok((Arc::new(config), presented))
}

/// The channel binding both ends compute after the handshake: the TLS exporter value under
/// [`EXPORTER_LABEL`].
///
/// # Errors
/// A rustls error if the handshake has not completed.
pub fn channel_binding<D>(
    connection: &rustls::ConnectionCommon<D>,
) -> Result<[u8; BINDING_LEN], rustls::Error> {
    connection.export_keying_material([0u8; BINDING_LEN], EXPORTER_LABEL, None)
}

/// The bytes the device signs to sign in: the relay's nonce, then the channel binding (empty
/// on a plain connection).
pub fn sign_in_challenge(nonce: &[u8; 32], binding: &[u8]) -> Vec<u8> {
    let mut challenge = nonce.to_vec();
    challenge.extend_from_slice(binding);
    challenge
}
