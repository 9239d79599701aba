//! Verification (`hushwire::verify`, SPEC.md §15): safety numbers compared aloud or by QR
//! code, and business identities: an organization certifies its operators' devices, a
//! customer's app pins the organization's root and shows "verified as Acme Bank, Dana Smith,
//! Card support".

use std::sync::Mutex;

use hushwire::verify::{IdentityCertificate, OperatorInfo, verify_business_identity};
use hushwire::{IssuerKey, OrganizationRoots, SafetyNumber, ServerCertificate, UserId, Validity};

use crate::boundary::{
    Failure, Out, call, call_value, free_handle, handle, input, into_handle, key32, lock,
};
use crate::{hw_bytes, hw_error, hw_issuer, hw_status, identity_key, time, utf8};

/// The organization roots a customer's app pins, each with the organization's name (from
/// the app's configuration, never from the network). Keep it apart from the sealed-sender
/// `hw_trust_store`. Thread-safe (internally locked).
#[allow(non_camel_case_types)]
pub struct hw_organization_roots(Mutex<OrganizationRoots>);

/// The safety number between us and a peer, from raw inputs.
fn safety_number(
    local_user: *const u8,
    local_user_len: usize,
    local_key: *const u8,
    remote_user: *const u8,
    remote_user_len: usize,
    remote_key: *const u8,
) -> Result<SafetyNumber, Failure> {
    let local_user = UserId::new(input(local_user, local_user_len, "local_user")?)?;
    let local_key = identity_key(key32(local_key, "local_key")?)?;
    let remote_user = UserId::new(input(remote_user, remote_user_len, "remote_user")?)?;
    let remote_key = identity_key(key32(remote_key, "remote_key")?)?;
    Ok(SafetyNumber::new(
        &local_user,
        &local_key,
        &remote_user,
        &remote_key,
    ))
}

/// Writes the safety number between us (`local_user`, 1 to 128 bytes, and our 32-byte
/// identity key `local_key`) and the peer (`remote_user`, `remote_key`) to `out`: 60 ASCII
/// digits without spaces (show them in 12 groups of five), the same on both sides. Costs a
/// few milliseconds.
///
/// # Safety
/// `local_user` points to `local_user_len` readable bytes, `remote_user` to
/// `remote_user_len`, `local_key` and `remote_key` to 32 each; `out` to a writable
/// `hw_bytes`; `err` is NULL or points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_safety_number(
    local_user: *const u8,
    local_user_len: usize,
    local_key: *const u8,
    remote_user: *const u8,
    remote_user_len: usize,
    remote_key: *const u8,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let number = safety_number(
            local_user,
            local_user_len,
            local_key,
            remote_user,
            remote_user_len,
            remote_key,
        )?;
        let out = Out::new(out, "out")?;
        out.write(hw_bytes::from_vec(number.digits().into_bytes()));
        Ok(())
    })
}

/// Writes the bytes to show as a QR code for the peer to scan (67 bytes; SPEC.md §15.3) to
/// `out`. Arguments as `hw_safety_number`.
///
/// # Safety
/// As `hw_safety_number`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_safety_number_qr(
    local_user: *const u8,
    local_user_len: usize,
    local_key: *const u8,
    remote_user: *const u8,
    remote_user_len: usize,
    remote_key: *const u8,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let number = safety_number(
            local_user,
            local_user_len,
            local_key,
            remote_user,
            remote_user_len,
            remote_key,
        )?;
        let out = Out::new(out, "out")?;
        out.write(hw_bytes::from_vec(number.to_qr_payload().to_vec()));
        Ok(())
    })
}

/// Checks a QR payload scanned from the peer's screen against the safety number computed
/// here (arguments as `hw_safety_number`): `HW_OK` if it names the same two keys, the peer's
/// as the displaying side. Otherwise `HW_TAMPERED` with code `verify.other_pair` (the peer
/// sees another key for one of us, or it is another conversation's code),
/// `HW_INVALID_INPUT` with `verify.swapped` (the payload was made on this side), or
/// `HW_MALFORMED` (not a QR payload, or another safety-number version).
///
/// # Safety
/// As `hw_safety_number`, with `payload` pointing to `payload_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_safety_number_verify_scanned(
    local_user: *const u8,
    local_user_len: usize,
    local_key: *const u8,
    remote_user: *const u8,
    remote_user_len: usize,
    remote_key: *const u8,
    payload: *const u8,
    payload_len: usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let number = safety_number(
            local_user,
            local_user_len,
            local_key,
            remote_user,
            remote_user_len,
            remote_key,
        )?;
        number.verify_scanned(input(payload, payload_len, "payload")?)?;
        Ok(())
    })
}

// ─── business identities ─────────────────────────────────────────────────────────────────────

/// Creates an empty set of organization roots: no organization is trusted.
///
/// # Safety
/// `out` points to writable storage for a pointer; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_organization_roots_new(
    out: *mut *mut hw_organization_roots,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let out = Out::new(out, "out")?;
        out.write(into_handle(hw_organization_roots(Mutex::new(
            OrganizationRoots::new(),
        ))));
        Ok(())
    })
}

/// Frees a set of organization roots (NULL is a no-op).
///
/// # Safety
/// `roots` is NULL or an organization roots handle, freed once and not in use by another
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_organization_roots_free(roots: *mut hw_organization_roots) {
    call_value((), || free_handle(roots))
}

/// Pins the 32-byte `root_key` as the root of `organization` (UTF-8, 1 to 64 bytes, exactly
/// as its certificates name it) under `root_id`. Pinning the same root again is a no-op;
/// `root_id` pinned to another key or organization is refused. Unchanged on error.
///
/// # Safety
/// `roots` is an organization roots handle; `root_key` points to 32 readable bytes,
/// `organization` to `organization_len`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_organization_roots_pin(
    roots: *mut hw_organization_roots,
    root_id: u32,
    root_key: *const u8,
    organization: *const u8,
    organization_len: usize,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let roots = handle(roots, "roots")?;
        let key = IssuerKey::from_bytes(&key32(root_key, "root_key")?)?;
        let organization = utf8(organization, organization_len, "organization")?;
        lock(&roots.0)?.pin(root_id, key, organization)?;
        Ok(())
    })
}

/// Unpins root `root_id`; `was_pinned` (if not NULL) receives 1 if it was pinned, else 0.
///
/// # Safety
/// `roots` is an organization roots handle; `was_pinned` is NULL or points to a writable
/// `uint8_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_organization_roots_unpin(
    roots: *mut hw_organization_roots,
    root_id: u32,
    was_pinned: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let roots = handle(roots, "roots")?;
        let removed = lock(&roots.0)?.unpin(root_id);
        if let Some(out) = Out::optional(was_pinned) {
            out.write(u8::from(removed));
        }
        Ok(())
    })
}

/// Revokes every certificate signed by organization key `key_id` of the organization pinned
/// under `root_id`. Unchanged on error.
///
/// # Safety
/// `roots` is an organization roots handle; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_organization_roots_revoke_key(
    roots: *mut hw_organization_roots,
    root_id: u32,
    key_id: u32,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let roots = handle(roots, "roots")?;
        lock(&roots.0)?.revoke_organization_key(root_id, key_id)?;
        Ok(())
    })
}

/// Revokes the identity certificate `serial` of organization key `key_id` of the
/// organization pinned under `root_id`. Unchanged on error.
///
/// # Safety
/// `roots` is an organization roots handle; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_organization_roots_revoke_certificate(
    roots: *mut hw_organization_roots,
    root_id: u32,
    key_id: u32,
    serial: u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let roots = handle(roots, "roots")?;
        lock(&roots.0)?.revoke_certificate(root_id, key_id, serial)?;
        Ok(())
    })
}

/// Certifies an operator's device: the organization key `organization_key`, whose
/// certificate from the organization's root is `organization_key_certificate` (from
/// `hw_server_certificate_issue`), vouches that the 32-byte `identity_key` is `operator_name`
/// (UTF-8, 1 to 64 bytes) with `role` (1 to 64 bytes) at `organization` (1 to 64 bytes,
/// exactly as customers pin it), from `not_before` to `expires_at` (Unix seconds, at most 7
/// days). The identity certificate goes to `out`; the operator sends it to customers.
///
/// # Safety
/// `organization_key` is an issuer handle; `organization_key_certificate` points to
/// `organization_key_certificate_len` readable bytes, `organization` to `organization_len`,
/// `operator_name` to `operator_name_len`, `role` to `role_len`, `identity_key` to 32; `out`
/// to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_identity_certificate_issue(
    organization_key: *const hw_issuer,
    organization_key_certificate: *const u8,
    organization_key_certificate_len: usize,
    serial: u64,
    organization: *const u8,
    organization_len: usize,
    operator_name: *const u8,
    operator_name_len: usize,
    role: *const u8,
    role_len: usize,
    identity_key: *const u8,
    not_before: u64,
    expires_at: u64,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let organization_key = handle(organization_key, "organization_key")?;
        let issuer = ServerCertificate::from_bytes(input(
            organization_key_certificate,
            organization_key_certificate_len,
            "organization_key_certificate",
        )?)?;
        let info = OperatorInfo {
            serial,
            organization: utf8(organization, organization_len, "organization")?.to_owned(),
            operator_name: utf8(operator_name, operator_name_len, "operator_name")?.to_owned(),
            role: utf8(role, role_len, "role")?.to_owned(),
            identity_key: crate::identity_key(key32(identity_key, "identity_key")?)?,
            validity: Validity::new(time(not_before), time(expires_at))?,
        };
        let out = Out::new(out, "out")?;
        let certificate = IdentityCertificate::issue(&*lock(&organization_key.0)?, &issuer, info)?;
        out.write(hw_bytes::from_vec(certificate.to_bytes()));
        Ok(())
    })
}

/// Checks an operator's identity `certificate` for a session with `operator` (32 bytes: the
/// session's remote identity, `hw_session_remote_identity`) against the pinned `roots` at
/// `now`. On success `display` receives the UTF-8 text to show, `verified as <organization>,
/// <operator name>, <role>`; `organization`, `operator_name` and `role` (UTF-8) and
/// `valid_until` (Unix seconds: check again with a renewed certificate from then on) receive
/// the parts when not NULL. Otherwise `HW_UNTRUSTED` (unknown organization, revoked, expired,
/// not yet valid), `HW_TAMPERED` (forged, or it certifies another key), `HW_MALFORMED`, ...
/// with code `verify.*`; nothing is written.
///
/// # Safety
/// `certificate` points to `certificate_len` readable bytes, `operator` to 32; `roots` is an
/// organization roots handle; `display` points to a writable `hw_bytes`; `organization`,
/// `operator_name` and `role` are NULL or point to a writable `hw_bytes`, `valid_until` NULL
/// or to a writable `uint64_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_verify_operator(
    certificate: *const u8,
    certificate_len: usize,
    operator: *const u8,
    roots: *const hw_organization_roots,
    now: u64,
    display: *mut hw_bytes,
    organization: *mut hw_bytes,
    operator_name: *mut hw_bytes,
    role: *mut hw_bytes,
    valid_until: *mut u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let certificate = input(certificate, certificate_len, "certificate")?;
        let operator = identity_key(key32(operator, "operator")?)?;
        let roots = handle(roots, "roots")?;
        let display = Out::new(display, "display")?;
        let identity =
            verify_business_identity(certificate, &operator, &*lock(&roots.0)?, time(now))?;
        let text = |s: &str| hw_bytes::from_vec(s.as_bytes().to_vec());
        if let Some(out) = Out::optional(organization) {
            out.write(text(&identity.organization));
        }
        if let Some(out) = Out::optional(operator_name) {
            out.write(text(&identity.operator_name));
        }
        if let Some(out) = Out::optional(role) {
            out.write(text(&identity.role));
        }
        if let Some(out) = Out::optional(valid_until) {
            out.write(identity.valid_until.as_unix_secs());
        }
        display.write(hw_bytes::from_vec(identity.to_string().into_bytes()));
        Ok(())
    })
}
