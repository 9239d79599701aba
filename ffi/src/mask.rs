//! Masking (`hushwire::mask`, SPEC.md §17) with the default `Masker` or a configured one
//! (`hw_masker`): card numbers, IBANs, e-mail addresses and phone numbers are masked before a
//! message is encrypted, and a receiver can refuse decrypted text that still holds them.

use std::sync::Mutex;

use hushwire::Masker;
use hushwire::mask::{Policy, SensitiveKind};

use crate::boundary::{Failure, Out, call, call_value, free_handle, handle, into_handle, lock};
use crate::secure_field::{
    HW_POLICY_FLAG_ONLY, HW_POLICY_KEEP_FIRST6_LAST4, HW_POLICY_KEEP_LAST4, HW_POLICY_MASK_ALL,
    policy_byte,
};
use crate::{hw_bytes, hw_error, hw_status, utf8};

/// A masker with the app's own policy per kind (`hw_masker_new`). Thread-safe (internally
/// locked).
#[allow(non_camel_case_types)]
pub struct hw_masker(Mutex<Masker>);

/// Bytes of one record of `hw_mask_find`.
pub const HW_MASK_FINDING_LEN: usize = 10;

/// Masks `text` (UTF-8) with the default masker: every card number, IBAN, e-mail address and
/// phone number it masks is replaced by its masked form (a card keeps its last four digits:
/// `•••• •••• •••• 4242`). The masked text (UTF-8) goes to `out`; `changed` (if not NULL)
/// receives 1 if anything was masked, else 0. Masking the result again gives the same text.
/// Text that is not UTF-8 is `HW_INVALID_ARGUMENT`.
///
/// # Safety
/// `text` points to `text_len` readable bytes; `out` to a writable `hw_bytes`; `changed` is
/// NULL or points to a writable `uint8_t`; `err` is NULL or points to writable storage for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_mask_text(
    text: *const u8,
    text_len: usize,
    out: *mut hw_bytes,
    changed: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let text = utf8(text, text_len, "text")?;
        let out = Out::new(out, "out")?;
        let masked = Masker::new().mask(text);
        if let Some(flag) = Out::optional(changed) {
            flag.write(u8::from(masked.changed()));
        }
        out.write(hw_bytes::from_vec(masked.into_text().into_bytes()));
        Ok(())
    })
}

/// The receiver's check of decrypted `text` (UTF-8): `HW_OK` if it holds nothing the default
/// masker would mask, else `HW_INVALID_INPUT` with code `mask_check.unmasked` (the message
/// names the kind and byte range of the first match) — for example unmasked card data from
/// an old client. Text that is not UTF-8 is `HW_INVALID_ARGUMENT`.
///
/// # Safety
/// `text` points to `text_len` readable bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_mask_check(
    text: *const u8,
    text_len: usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let text = utf8(text, text_len, "text")?;
        Masker::new().check(text)?;
        Ok(())
    })
}

/// Finds what the default masker would mask in `text` (UTF-8), without masking it: for a UI
/// that offers to send a card number as a secure field (`hw_secure_field_seal` of that part),
/// or asks before sending. The matches go to `out` as records of `HW_MASK_FINDING_LEN` (10)
/// bytes, in text order: the kind (`HW_KIND_*`), the policy (`HW_POLICY_*`;
/// `HW_POLICY_FLAG_ONLY` for a match that is only reported), then the start and end byte
/// offsets of the match in `text`, each a 4-byte big-endian number. An empty buffer when
/// nothing matches. Text that is not UTF-8, or longer than 4 GiB, is `HW_INVALID_ARGUMENT`.
///
/// # Safety
/// `text` points to `text_len` readable bytes; `out` to a writable `hw_bytes`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_mask_find(
    text: *const u8,
    text_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let text = utf8(text, text_len, "text")?;
        let out = Out::new(out, "out")?;
        out.write(hw_bytes::from_vec(findings(&Masker::new(), text)?));
        Ok(())
    })
}

/// The records of `hw_mask_find`.
fn findings(masker: &Masker, text: &str) -> Result<Vec<u8>, Failure> {
    let offset = |at: usize| {
        u32::try_from(at)
            .map(u32::to_be_bytes)
            .map_err(|_| Failure::invalid("`text` is longer than 4 GiB".into()))
    };
    let mut records = Vec::new();
    for finding in masker.find(text) {
        let range = finding.range();
        records.push(finding.kind().to_byte());
        records.push(policy_byte(finding.policy()));
        records.extend_from_slice(&offset(range.start)?);
        records.extend_from_slice(&offset(range.end)?);
    }
    Ok(records)
}

/// A masker's policy byte: `Some(policy)`, or `None` for 0 (the kind is not looked for).
fn masker_policy(byte: u8, what: &str) -> Result<Option<Policy>, Failure> {
    match byte {
        0 => Ok(None),
        HW_POLICY_KEEP_LAST4 => Ok(Some(Policy::KeepLast4)),
        HW_POLICY_KEEP_FIRST6_LAST4 => Ok(Some(Policy::KeepFirst6Last4)),
        HW_POLICY_MASK_ALL => Ok(Some(Policy::MaskAll)),
        HW_POLICY_FLAG_ONLY => Ok(Some(Policy::FlagOnly)),
        other => Err(Failure::invalid(format!(
            "`{what}` = {other} is not 0 or a policy byte (HW_POLICY_*)"
        ))),
    }
}

/// Creates a masker with the app's policy for each built-in kind: `HW_POLICY_KEEP_LAST4`,
/// `HW_POLICY_KEEP_FIRST6_LAST4` (the most of a card number PCI DSS allows to be shown),
/// `HW_POLICY_MASK_ALL`, `HW_POLICY_FLAG_ONLY` (report the match, leave the text), or 0 (do
/// not look for that kind). The default masker is (`HW_POLICY_KEEP_LAST4`,
/// `HW_POLICY_KEEP_LAST4`, `HW_POLICY_FLAG_ONLY`, 0). Another byte is `HW_INVALID_ARGUMENT`.
///
/// # Safety
/// `out` points to writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_masker_new(
    card: u8,
    iban: u8,
    email: u8,
    phone: u8,
    out: *mut *mut hw_masker,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let out = Out::new(out, "out")?;
        let mut builder = Masker::builder();
        let kinds = [
            (card, "card", SensitiveKind::CARD),
            (iban, "iban", SensitiveKind::IBAN),
            (email, "email", SensitiveKind::EMAIL),
            (phone, "phone", SensitiveKind::PHONE),
        ];
        for (byte, what, kind) in kinds {
            builder = match (masker_policy(byte, what)?, kind) {
                (None, kind) => builder.without(kind),
                (Some(p), SensitiveKind::CARD) => builder.card(p),
                (Some(p), SensitiveKind::IBAN) => builder.iban(p),
                (Some(p), SensitiveKind::EMAIL) => builder.email(p),
                (Some(p), _) => builder.phone(p),
            };
        }
        out.write(into_handle(hw_masker(Mutex::new(builder.build()))));
        Ok(())
    })
}

/// As `hw_mask_text`, with this masker.
///
/// # Safety
/// `masker` is a masker handle; otherwise as `hw_mask_text`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_masker_mask(
    masker: *const hw_masker,
    text: *const u8,
    text_len: usize,
    out: *mut hw_bytes,
    changed: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let masker = handle(masker, "masker")?;
        let text = utf8(text, text_len, "text")?;
        let out = Out::new(out, "out")?;
        let masked = lock(&masker.0)?.mask(text);
        if let Some(flag) = Out::optional(changed) {
            flag.write(u8::from(masked.changed()));
        }
        out.write(hw_bytes::from_vec(masked.into_text().into_bytes()));
        Ok(())
    })
}

/// As `hw_mask_find`, with this masker.
///
/// # Safety
/// `masker` is a masker handle; otherwise as `hw_mask_find`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_masker_find(
    masker: *const hw_masker,
    text: *const u8,
    text_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let masker = handle(masker, "masker")?;
        let text = utf8(text, text_len, "text")?;
        let out = Out::new(out, "out")?;
        let records = findings(&*lock(&masker.0)?, text)?;
        out.write(hw_bytes::from_vec(records));
        Ok(())
    })
}

/// As `hw_mask_check`, with this masker (matches it only flags are allowed).
///
/// # Safety
/// `masker` is a masker handle; otherwise as `hw_mask_check`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_masker_check(
    masker: *const hw_masker,
    text: *const u8,
    text_len: usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let masker = handle(masker, "masker")?;
        let text = utf8(text, text_len, "text")?;
        lock(&masker.0)?.check(text)?;
        Ok(())
    })
}

/// Frees a masker (NULL is a no-op).
///
/// # Safety
/// `masker` is NULL or a masker handle, freed once and not in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_masker_free(masker: *mut hw_masker) {
    call_value((), || free_handle(masker))
}
