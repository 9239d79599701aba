//! # hushwire-wasm
//!
//! hushwire for a chat widget in the browser: a wasm-bindgen JavaScript/TypeScript API over
//! the no-I/O core. The page does the I/O (WebSocket, IndexedDB); this crate turns bytes into
//! bytes.
//!
//! - **Identity**: [`Account`] is the visitor's device (identity key, prekeys).
//! - **Operator check**: [`verify_operator`] checks an operator's organization certificate
//!   against the roots the widget pins ([`OrganizationRoots`]).
//! - **Sessions**: [`Account::create_outbound_session`] from a bundle, [`Session::encrypt`],
//!   [`Session::decrypt`]; sealed envelopes with [`Account::seal`] and [`Account::open_sealed`].
//! - **Groups** ([`GroupSession`]), **masking** ([`Masker`]), **attachments**
//!   ([`encrypt_attachment`]).
//! - **State**: every stateful object exports to an encrypted blob under a 32-byte storage
//!   key (`exportState`) and comes back with `importState`, for IndexedDB.
//!
//! Randomness comes from the Web Crypto API (`crypto.getRandomValues`, through getrandom's
//! `wasm_js` backend): each call that needs it seeds a ChaCha20 generator with 32 fresh bytes.
//! Times are unix seconds (`number`); where a `now` argument is optional, the default is the
//! page's clock (`Date.now()`).
//!
//! Errors are thrown as JavaScript `Error`s named `HushwireError`, with `code` (the Rust
//! error's stable `code()`, SPEC.md §8.4, for example `"decrypt.duplicate"`) and `kind`
//! (`ErrorKind::code()`, for example `"replay"`). A failed decrypt, open, verify or import
//! leaves every object as it was.

mod attachment;
mod certificate;
mod group;
mod mask;
mod session;

use chacha20::ChaCha20Rng;
use hushwire::{ConfigError, DecodeError, IdentityKey, StorageKey, Timestamp};
use js_sys::Reflect;
use rand_core::SeedableRng;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

pub use attachment::{
    AttachmentInfo, EncryptedAttachment, attachment_info, decrypt_attachment, encrypt_attachment,
};
pub use certificate::{BusinessIdentity, Issuer, OrganizationRoots, TrustStore, verify_operator};
pub use group::{GroupCreated, GroupDecrypted, GroupJoined, GroupSession};
pub use mask::{MaskSpan, Masked, Masker};
pub use session::{Account, InboundSession, Opened, Session};

#[wasm_bindgen(typescript_custom_section)]
const HUSHWIRE_ERROR: &'static str = r#"
/** What every hushwire call throws: a JavaScript Error with the Rust error's codes. */
export interface HushwireError extends Error {
  name: "HushwireError";
  /** The stable error code (SPEC.md §8.4), for example "decrypt.duplicate". */
  code: string;
  /** The broad class: "malformed", "tampered", "unknown_session", "replay",
   * "limit_exceeded", "invalid_input", "state_out_of_sync", "untrusted" (or "unavailable"
   * for "random.unavailable", the binding's only own code). */
  kind: string;
}
"#;

/// The code thrown when the platform has no `crypto.getRandomValues` (the only error that
/// is the binding's own, not the core's).
const RANDOM_UNAVAILABLE: &str = "random.unavailable";

/// Results of calls that can throw.
pub(crate) type JsResult<T> = Result<T, JsValue>;

/// The JavaScript exception for a core error: `HushwireError` with `code` and `kind`.
pub(crate) fn throw(error: impl Into<hushwire::Error>) -> JsValue {
    let error: hushwire::Error = error.into();
    js_error(error.code(), error.kind().code(), &error.to_string())
}

fn js_error(code: &str, kind: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("HushwireError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    let _ = Reflect::set(&error, &JsValue::from_str("kind"), &JsValue::from_str(kind));
    error.into()
}

/// A generator seeded with 32 bytes from the Web Crypto API, for one call.
pub(crate) fn rng() -> JsResult<ChaCha20Rng> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| {
        js_error(
            RANDOM_UNAVAILABLE,
            "unavailable",
            &format!("no secure random source (crypto.getRandomValues): {e}"),
        )
    })?;
    Ok(ChaCha20Rng::from_seed(*seed))
}

/// The largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A non-negative whole JavaScript number as `u64`, or `ConfigError::OutOfRange` naming it.
pub(crate) fn whole(name: &'static str, value: f64) -> JsResult<u64> {
    if (0.0..=MAX_SAFE_INTEGER).contains(&value) && value.fract() == 0.0 {
        // Exact: a whole number in 0..=2^53-1.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(value as u64)
    } else {
        Err(throw(ConfigError::OutOfRange {
            name,
            value: 0,
            min: 0,
            max: 9_007_199_254_740_991,
        }))
    }
}

/// A `u64` as a JavaScript number (exact up to 2^53; counters and times stay far below).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn number(value: u64) -> f64 {
    value as f64
}

/// `now` in unix seconds, or the page's clock when the caller passed none.
pub(crate) fn now(now: Option<f64>) -> JsResult<Timestamp> {
    let secs = match now {
        Some(secs) => secs,
        None => (js_sys::Date::now() / 1000.0).floor(),
    };
    Ok(Timestamp::from_unix_secs(whole("now", secs)?))
}

/// Exactly `N` bytes, or `DecodeError::InvalidField { field }`.
pub(crate) fn array<const N: usize>(field: &'static str, bytes: &[u8]) -> JsResult<[u8; N]> {
    <[u8; N]>::try_from(bytes).map_err(|_| throw(DecodeError::InvalidField { field }))
}

/// An identity key from its 32 bytes.
pub(crate) fn identity_key(field: &'static str, bytes: &[u8]) -> JsResult<IdentityKey> {
    IdentityKey::from_bytes(&array::<32>(field, bytes)?).map_err(throw)
}

/// The app's storage key from its 32 bytes (the copy is wiped).
pub(crate) fn storage_key(bytes: &[u8]) -> JsResult<StorageKey> {
    let bytes = Zeroizing::new(array::<32>("storage_key", bytes)?);
    Ok(StorageKey::from_bytes(*bytes))
}
