//! Masking (`hushwire::mask`, SPEC.md §17) with the default `Masker`: card numbers, IBANs,
//! e-mail addresses and phone numbers are masked before a message is encrypted, and a
//! receiver can refuse decrypted text that still holds them.

use hushwire::Masker;

use crate::boundary::{Failure, Out, call};
use crate::secure_field::policy_byte;
use crate::{hw_bytes, hw_error, hw_status, utf8};

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
/// bytes, in text order: the kind (`HW_KIND_*`), the policy (`HW_POLICY_*`, 0 for a match
/// that is only flagged), then the start and end byte offsets of the match in `text`, each
/// a 4-byte big-endian number. An empty buffer when nothing matches. Text that is not UTF-8,
/// or longer than 4 GiB, is `HW_INVALID_ARGUMENT`.
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
        let offset = |at: usize| {
            u32::try_from(at)
                .map(u32::to_be_bytes)
                .map_err(|_| Failure::invalid("`text` is longer than 4 GiB".into()))
        };
        let mut records = Vec::new();
        for finding in Masker::new().find(text) {
            let range = finding.range();
            records.push(finding.kind().to_byte());
            records.push(policy_byte(finding.policy()));
            records.extend_from_slice(&offset(range.start)?);
            records.extend_from_slice(&offset(range.end)?);
        }
        out.write(hw_bytes::from_vec(records));
        Ok(())
    })
}
