//! Secure fields (`hushwire::mask::SecureField`, SPEC.md §17.5): the customer's device seals
//! a raw value (a card number typed in a payment field) to a payment vault; the operator gets
//! only the masked form and a reference (the masked field), and the vault checks the
//! operator's copy before it charges.
//!
//! Kinds and policies are bytes: `HW_KIND_CARD` (1), `HW_KIND_IBAN` (2), `HW_KIND_EMAIL` (3),
//! `HW_KIND_PHONE` (4) or a vendor's kind `0x80..=0xFF`; `HW_POLICY_KEEP_LAST4` (1),
//! `HW_POLICY_KEEP_FIRST6_LAST4` (2), `HW_POLICY_MASK_ALL` (3) (`HW_POLICY_FLAG_ONLY`, 4, is a
//! masker's, never a secure field's).

use std::sync::Mutex;

use hushwire::SenderCertificate;
use hushwire::mask::{MaskedField, Policy, SecureField, SensitiveKind, VaultedField};

use crate::boundary::{
    Failure, Out, call, call_value, free_handle, handle, input, into_handle, key32, lock,
};
use crate::{
    hw_account, hw_bytes, hw_error, hw_status, hw_trust_store, identity_key, rng, time, utf8,
};

/// Kind byte of a payment card number.
pub const HW_KIND_CARD: u8 = 0x01;
/// Kind byte of an IBAN.
pub const HW_KIND_IBAN: u8 = 0x02;
/// Kind byte of an e-mail address.
pub const HW_KIND_EMAIL: u8 = 0x03;
/// Kind byte of a telephone number.
pub const HW_KIND_PHONE: u8 = 0x04;
/// Policy byte: keep the last 4 significant characters.
pub const HW_POLICY_KEEP_LAST4: u8 = 0x01;
/// Policy byte: keep the first 6 and the last 4 significant characters.
pub const HW_POLICY_KEEP_FIRST6_LAST4: u8 = 0x02;
/// Policy byte: mask every significant character.
pub const HW_POLICY_MASK_ALL: u8 = 0x03;
/// Policy byte of a masker (`hw_masker_new`, `hw_mask_find`) that only reports a match and
/// leaves the text as it is; never a secure field's policy.
pub const HW_POLICY_FLAG_ONLY: u8 = 0x04;

/// A secure field as the vault holds it: the sender, the raw value, and what the operator's
/// copy must match. Wiped on free. Thread-safe (internally locked).
#[allow(non_camel_case_types)]
pub struct hw_vaulted_field(Mutex<VaultedField>);

fn policy(byte: u8) -> Result<Policy, Failure> {
    match byte {
        HW_POLICY_KEEP_LAST4 => Ok(Policy::KeepLast4),
        HW_POLICY_KEEP_FIRST6_LAST4 => Ok(Policy::KeepFirst6Last4),
        HW_POLICY_MASK_ALL => Ok(Policy::MaskAll),
        other => Err(Failure::invalid(format!("{other} is not a policy byte"))),
    }
}

/// The `HW_POLICY_*` byte of a policy (0 for one from a newer core).
pub(crate) fn policy_byte(policy: Policy) -> u8 {
    match policy {
        Policy::KeepLast4 => HW_POLICY_KEEP_LAST4,
        Policy::KeepFirst6Last4 => HW_POLICY_KEEP_FIRST6_LAST4,
        Policy::MaskAll => HW_POLICY_MASK_ALL,
        Policy::FlagOnly => HW_POLICY_FLAG_ONLY,
        _ => 0,
    }
}

fn kind(byte: u8) -> Result<SensitiveKind, Failure> {
    SensitiveKind::from_byte(byte)
        .ok_or_else(|| Failure::invalid(format!("{byte} is not a sensitive kind byte")))
}

/// Seals `value` (UTF-8, 1 to 256 bytes; for example the card number typed in a payment
/// field) from the account to the payment vault's 32-byte identity key `vault`, with the
/// account's sender `certificate`, as data of `kind` masked with `policy` (the bytes of this
/// module's docs; another byte is `HW_INVALID_ARGUMENT`). The operator's copy (the masked
/// field: kind, policy, a reference, a commitment and the masked form) goes to
/// `masked_field`: send it to the operator inside an ordinary message. The sealed envelope
/// goes to `envelope`: send it to the vault. `HW_INVALID_INPUT` for an empty value
/// (`secure_field.empty_value`), `HW_LIMIT_EXCEEDED` for a longer one than 256 bytes
/// (`secure_field.value_too_long`), `HW_INVALID_ARGUMENT` for text that is not UTF-8.
///
/// # Safety
/// `account` is an account handle; `certificate` points to `certificate_len` readable
/// bytes, `vault` to 32, `value` to `value_len`; `masked_field` and `envelope` to writable
/// `hw_bytes`; `err` is NULL or points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_secure_field_seal(
    account: *const hw_account,
    certificate: *const u8,
    certificate_len: usize,
    vault: *const u8,
    kind_byte: u8,
    policy_byte: u8,
    value: *const u8,
    value_len: usize,
    now: u64,
    masked_field: *mut hw_bytes,
    envelope: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let certificate =
            SenderCertificate::from_bytes(input(certificate, certificate_len, "certificate")?)?;
        let vault = identity_key(key32(vault, "vault")?)?;
        let kind = kind(kind_byte)?;
        let policy = policy(policy_byte)?;
        let value = utf8(value, value_len, "value")?;
        let masked_field = Out::new(masked_field, "masked_field")?;
        let envelope = Out::new(envelope, "envelope")?;
        let mut rng = rng::for_call()?;
        let field = SecureField::seal(
            lock(&account.0)?.account().identity_key_pair(),
            &certificate,
            &vault,
            kind,
            policy,
            value,
            time(now),
            &mut rng,
        )?;
        let (masked, sealed) = field.into_parts();
        masked_field.write(hw_bytes::from_vec(masked.to_bytes()));
        envelope.write(hw_bytes::from_vec(sealed));
        Ok(())
    })
}

/// Reads a masked field (the operator's copy): its masked form (UTF-8, such as `•••• ••••
/// •••• 4242`) goes to `masked`, and its kind, policy and 16-byte reference (to name the
/// value to the vault) to `kind`, `policy` and `reference` when those are not NULL.
/// `HW_MALFORMED` for bytes that are not a masked field.
///
/// # Safety
/// `masked_field` points to `masked_field_len` readable bytes; `masked` to a writable
/// `hw_bytes`; `kind` and `policy` are NULL or point to a writable `uint8_t`, `reference`
/// NULL or to 16 writable bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_masked_field_info(
    masked_field: *const u8,
    masked_field_len: usize,
    masked: *mut hw_bytes,
    kind: *mut u8,
    policy: *mut u8,
    reference: *mut [u8; 16],
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let field =
            MaskedField::from_bytes(input(masked_field, masked_field_len, "masked_field")?)?;
        let masked = Out::new(masked, "masked")?;
        if let Some(out) = Out::optional(kind) {
            out.write(field.kind().to_byte());
        }
        if let Some(out) = Out::optional(policy) {
            out.write(policy_byte(field.policy()));
        }
        if let Some(out) = Out::optional(reference) {
            out.write(*field.reference());
        }
        masked.write(hw_bytes::from_vec(field.masked().as_bytes().to_vec()));
        Ok(())
    })
}

/// The vault's side: opens a secure-field envelope addressed to the account (the vault's)
/// and validates the sender's certificate against `trust` at `now`; the vaulted field goes
/// to `out`. `HW_INVALID_INPUT` (`secure_field.not_secure_field`) for an envelope of another
/// content type; the statuses of `hw_open` otherwise (code `secure_field.open`). Opening
/// changes no state.
///
/// # Safety
/// `account` is an account handle, `trust` a trust store handle; `envelope` points to
/// `envelope_len` readable bytes; `out` to writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_vaulted_field_open(
    account: *const hw_account,
    trust: *const hw_trust_store,
    envelope: *const u8,
    envelope_len: usize,
    now: u64,
    out: *mut *mut hw_vaulted_field,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let trust = handle(trust, "trust")?;
        let envelope = input(envelope, envelope_len, "envelope")?;
        let out = Out::new(out, "out")?;
        // Lock order: account before trust store.
        let account = lock(&account.0)?;
        let trust = lock(&trust.0)?;
        let field = VaultedField::open(
            account.account().identity_key_pair(),
            envelope,
            &trust,
            time(now),
        )?;
        out.write(into_handle(hw_vaulted_field(Mutex::new(field))));
        Ok(())
    })
}

/// Checks that `masked_field` (the copy an operator hands in) is the operator's copy of this
/// value: same reference, kind and policy, a commitment that opens to the value, and its
/// masked form. `HW_TAMPERED` (`secure_field.mismatch`) otherwise; `HW_MALFORMED` for bytes
/// that are not a masked field.
///
/// # Safety
/// `field` is a vaulted field handle; `masked_field` points to `masked_field_len` readable
/// bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_vaulted_field_verify(
    field: *const hw_vaulted_field,
    masked_field: *const u8,
    masked_field_len: usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let field = handle(field, "field")?;
        let copy = MaskedField::from_bytes(input(masked_field, masked_field_len, "masked_field")?)?;
        lock(&field.0)?.verify(&copy)?;
        Ok(())
    })
}

/// Writes the raw value (UTF-8: a card number, an IBAN, ...) to `value` (free the buffer as
/// soon as it is used: it is wiped), and the field's 16-byte reference, kind and the
/// sender's 32-byte identity key to `reference`, `kind` and `sender` when those are not NULL.
///
/// # Safety
/// `field` is a vaulted field handle; `value` points to a writable `hw_bytes`; `reference`
/// is NULL or points to 16 writable bytes, `kind` NULL or 1, `sender` NULL or 32; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_vaulted_field_value(
    field: *const hw_vaulted_field,
    value: *mut hw_bytes,
    reference: *mut [u8; 16],
    kind: *mut u8,
    sender: *mut [u8; 32],
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let field = handle(field, "field")?;
        let value = Out::new(value, "value")?;
        let field = lock(&field.0)?;
        if let Some(out) = Out::optional(reference) {
            out.write(*field.reference());
        }
        if let Some(out) = Out::optional(kind) {
            out.write(field.kind().to_byte());
        }
        if let Some(out) = Out::optional(sender) {
            out.write(field.sender().identity_key().to_bytes());
        }
        value.write(hw_bytes::from_vec(
            field.dangerous_value().as_bytes().to_vec(),
        ));
        Ok(())
    })
}

/// Frees a vaulted field (NULL is a no-op); the value is wiped.
///
/// # Safety
/// `field` is NULL or a vaulted field handle, freed once and not in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_vaulted_field_free(field: *mut hw_vaulted_field) {
    call_value((), || free_handle(field))
}
