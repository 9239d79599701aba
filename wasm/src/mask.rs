//! Sensitive-data masking before encryption (SPEC.md §17): card numbers, IBANs, e-mail
//! addresses and phone numbers.

use hushwire::mask::{Policy, SensitiveKind};
use wasm_bindgen::prelude::*;

use crate::{JsResult, throw};

/// Finds and masks sensitive data in a message before it is encrypted.
#[wasm_bindgen]
pub struct Masker {
    inner: hushwire::Masker,
}

/// A masking policy by name: `"keepLast4"`, `"keepFirst6Last4"`, `"maskAll"`, `"flagOnly"`.
fn policy(name: &str) -> Option<Policy> {
    match name {
        "keepLast4" => Some(Policy::KeepLast4),
        "keepFirst6Last4" => Some(Policy::KeepFirst6Last4),
        "maskAll" => Some(Policy::MaskAll),
        "flagOnly" => Some(Policy::FlagOnly),
        _ => None,
    }
}

fn kind_name(kind: SensitiveKind) -> String {
    match kind {
        SensitiveKind::CARD => "card".to_owned(),
        SensitiveKind::IBAN => "iban".to_owned(),
        SensitiveKind::EMAIL => "email".to_owned(),
        SensitiveKind::PHONE => "phone".to_owned(),
        other => format!("custom:{}", other.to_byte()),
    }
}

/// The UTF-16 offset (what JavaScript strings index by) of byte offset `byte` in `text`.
fn utf16_offset(text: &str, byte: usize) -> u32 {
    let units = text.get(..byte).map_or(0, |s| s.encode_utf16().count());
    u32::try_from(units).unwrap_or(u32::MAX)
}

#[wasm_bindgen]
impl Masker {
    /// A masker with the default detectors (cards, IBANs, e-mail addresses, phone numbers).
    /// `policies` optionally overrides one kind's policy: `{ card: "keepFirst6Last4", phone:
    /// "keepLast4", email: "flagOnly" }` (policies: `keepLast4`, `keepFirst6Last4`,
    /// `maskAll`, `flagOnly`).
    ///
    /// # Errors
    /// `decode.invalid_field` for an unknown kind or policy name.
    #[wasm_bindgen(constructor)]
    pub fn new(policies: Option<js_sys::Object>) -> JsResult<Masker> {
        let mut builder = hushwire::Masker::builder();
        if let Some(policies) = policies {
            for entry in js_sys::Object::entries(&policies).iter() {
                let pair = js_sys::Array::from(&entry);
                let kind = pair.get(0).as_string().unwrap_or_default();
                let chosen = pair
                    .get(1)
                    .as_string()
                    .and_then(|name| policy(&name))
                    .ok_or_else(|| {
                        throw(hushwire::DecodeError::InvalidField { field: "policy" })
                    })?;
                builder = match kind.as_str() {
                    "card" => builder.card(chosen),
                    "iban" => builder.iban(chosen),
                    "email" => builder.email(chosen),
                    "phone" => builder.phone(chosen),
                    _ => {
                        return Err(throw(hushwire::DecodeError::InvalidField { field: "kind" }));
                    }
                };
            }
        }
        Ok(Masker {
            inner: builder.build(),
        })
    }

    /// Masks `text`: the masked text and where each finding is.
    pub fn mask(&self, text: &str) -> Masked {
        let masked = self.inner.mask(text);
        let spans = masked
            .spans()
            .iter()
            .map(|span| MaskSpan {
                kind: kind_name(span.kind()),
                masked: span.is_masked(),
                start: utf16_offset(text, span.original().start),
                end: utf16_offset(text, span.original().end),
                masked_start: utf16_offset(masked.text(), span.masked().start),
                masked_end: utf16_offset(masked.text(), span.masked().end),
            })
            .collect();
        Masked {
            changed: masked.changed(),
            text: masked.into_text(),
            spans,
        }
    }

    /// For a receiver: throws if `text` holds data this masker would mask (for example an
    /// unmasked card number from an old client), so it is not stored as it is.
    ///
    /// # Errors
    /// `mask_check.*`.
    pub fn check(&self, text: &str) -> JsResult<()> {
        self.inner.check(text).map_err(throw)
    }
}

/// A masked text and its findings.
#[wasm_bindgen]
pub struct Masked {
    text: String,
    changed: bool,
    spans: Vec<MaskSpan>,
}

#[wasm_bindgen]
impl Masked {
    /// The text to send.
    #[wasm_bindgen(getter)]
    pub fn text(&self) -> String {
        self.text.clone()
    }

    /// Whether anything was masked.
    #[wasm_bindgen(getter)]
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Each finding, in order.
    #[wasm_bindgen(getter)]
    pub fn spans(&self) -> Vec<MaskSpan> {
        self.spans.clone()
    }
}

/// One finding: its kind and where it is, in UTF-16 offsets (JavaScript string indices) in
/// the original and in the masked text.
#[wasm_bindgen]
#[derive(Clone)]
pub struct MaskSpan {
    kind: String,
    masked: bool,
    start: u32,
    end: u32,
    masked_start: u32,
    masked_end: u32,
}

#[wasm_bindgen]
impl MaskSpan {
    /// `"card"`, `"iban"`, `"email"`, `"phone"` (or `"custom:<code>"`).
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.kind.clone()
    }

    /// Whether it was masked (`false` under the `flagOnly` policy).
    #[wasm_bindgen(getter)]
    pub fn masked(&self) -> bool {
        self.masked
    }

    /// Start in the original text.
    #[wasm_bindgen(getter)]
    pub fn start(&self) -> u32 {
        self.start
    }

    /// End in the original text.
    #[wasm_bindgen(getter)]
    pub fn end(&self) -> u32 {
        self.end
    }

    /// Start in the masked text.
    #[wasm_bindgen(getter, js_name = maskedStart)]
    pub fn masked_start(&self) -> u32 {
        self.masked_start
    }

    /// End in the masked text.
    #[wasm_bindgen(getter, js_name = maskedEnd)]
    pub fn masked_end(&self) -> u32 {
        self.masked_end
    }
}
