//! Per-peer session records held by the device behind `hw_account` (`Device::start_session`, `encrypt_for`,
//! `decrypt_from`, `forget_peer`; SPEC.md §12) and the reset protocol (`reset_request`,
//! `answer_reset`; SPEC.md §12.4): the account keeps the sessions with each peer device,
//! keyed by its 32-byte identity key, so the app never holds an `hw_session` for them.
//!
//! Events (a peer evicted, a session reset, prekeys consumed, ...) are handed back as text:
//! the events' stable codes (`event.session_reset`, `event.peer_evicted`, ...; SPEC.md §8.4)
//! joined by `'\n'`, in order, without a trailing newline; an empty buffer when there is none.

use hushwire::{
    Event, PreKeyBundle, RatchetConfig, ResetReason, ResetRequest, UserId, VerificationState,
};

use crate::boundary::{Failure, Out, call, handle, input, key32, lock};
use crate::{
    HW_RESET_NO_SESSION, HW_RESET_PEER_FORKED, HW_RESET_STATE_BEHIND, HW_RESET_TOO_FAR_BEHIND,
    hw_account, hw_bytes, hw_error, hw_session, hw_status, hw_trust_store, identity_key,
    reset_reason_code, rng, time,
};

/// The events' codes joined by `'\n'` (an empty buffer for none).
pub(crate) fn events_text(events: &[Event]) -> hw_bytes {
    let codes: Vec<&str> = events.iter().map(Event::code).collect();
    hw_bytes::from_vec(codes.join("\n").into_bytes())
}

/// Writes the events to an optional output.
fn write_events(out: Option<Out<hw_bytes>>, events: &[Event]) {
    if let Some(out) = out {
        out.write(events_text(events));
    }
}

/// A reason byte of this ABI (`HW_RESET_*`).
fn reset_reason(code: u8) -> Result<ResetReason, Failure> {
    match code {
        HW_RESET_NO_SESSION => Ok(ResetReason::NoSession),
        HW_RESET_STATE_BEHIND => Ok(ResetReason::StateBehind),
        HW_RESET_PEER_FORKED => Ok(ResetReason::PeerForked),
        HW_RESET_TOO_FAR_BEHIND => Ok(ResetReason::TooFarBehind),
        other => Err(Failure::invalid(format!(
            "{other} is not a reset reason (HW_RESET_NO_SESSION ..= HW_RESET_TOO_FAR_BEHIND)"
        ))),
    }
}

/// Starts a session with the owner of `bundle` (verifying its signatures) and makes it the
/// active session for that peer, held by the account: encrypt to the peer with
/// `hw_account_encrypt_for`. The new session's 32-byte id goes to `session_id` and the events
/// (`event.peer_evicted` when the account was full and a peer was evicted to make room) to
/// `events`, each when not NULL. Persist the account afterwards. Unchanged on error.
///
/// # Safety
/// `account` is an account handle; `bundle` points to `bundle_len` readable bytes;
/// `session_id` is NULL or points to 32 writable bytes; `events` is NULL or points to a
/// writable `hw_bytes`; `err` is NULL or points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_start_session(
    account: *mut hw_account,
    bundle: *const u8,
    bundle_len: usize,
    session_id: *mut [u8; 32],
    events: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let bundle = PreKeyBundle::from_bytes(input(bundle, bundle_len, "bundle")?)?;
        let mut rng = rng::for_call()?;
        let started = lock(&account.0)?.start_session(&bundle, &mut rng)?;
        if let Some(out) = Out::optional(session_id) {
            out.write(*started.session_id.as_bytes());
        }
        write_events(Out::optional(events), &started.events);
        Ok(())
    })
}

/// Encrypts `plaintext` for `peer` (32-byte identity key) on its active session; the wire
/// bytes go to `out` (the first messages of a session started here are prekey messages).
/// `HW_UNKNOWN_SESSION` (code `peer.unknown_peer`) without a session: start one with
/// `hw_account_start_session`; `HW_UNTRUSTED` (`peer.identity_changed`) if `peer` is the new
/// key of a user whose verified key changed and the change was not accepted. Unchanged on
/// error.
///
/// # Safety
/// `account` is an account handle; `peer` points to 32 readable bytes, `plaintext` to
/// `plaintext_len`; `out` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_encrypt_for(
    account: *mut hw_account,
    peer: *const u8,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let peer = identity_key(key32(peer, "peer")?)?;
        let plaintext = input(plaintext, plaintext_len, "plaintext")?;
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let message = lock(&account.0)?.encrypt_for(&peer, plaintext, &mut rng)?;
        out.write(hw_bytes::from_vec(message));
        Ok(())
    })
}

/// Decrypts a message from `peer` (32-byte identity key, as named by the transport or by
/// `hw_open`) into `out`: a prekey message of a new session creates that session (consuming
/// its one-time prekeys); otherwise the active session is tried, then the older ones, and one
/// that decrypts becomes active. The session's 32-byte id goes to `session_id` and the events
/// (`event.session_established`, `event.session_reset`, `event.one_time_prekey_consumed`, ...)
/// to `events`, each when not NULL. Persist the account afterwards.
///
/// All or nothing: on any error the account, its prekeys and every session are unchanged.
/// `hw_error_reset_reason` of the error says whether to answer with a reset request
/// (`hw_account_reset_request`) and with which reason.
///
/// # Safety
/// `account` is an account handle; `peer` points to 32 readable bytes, `message` to
/// `message_len`; `out` to a writable `hw_bytes`; `session_id` is NULL or points to 32
/// writable bytes; `events` is NULL or points to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_decrypt_from(
    account: *mut hw_account,
    peer: *const u8,
    message: *const u8,
    message_len: usize,
    now: u64,
    out: *mut hw_bytes,
    session_id: *mut [u8; 32],
    events: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let peer = identity_key(key32(peer, "peer")?)?;
        let message = input(message, message_len, "message")?;
        let out = Out::new(out, "out")?;
        let decrypted = lock(&account.0)?.decrypt_from(&peer, message, time(now))?;
        if let Some(id) = Out::optional(session_id) {
            id.write(*decrypted.session_id.as_bytes());
        }
        write_events(Out::optional(events), &decrypted.events);
        out.write(hw_bytes::from_vec(decrypted.plaintext));
        Ok(())
    })
}

/// Forgets everything about `peer` (32-byte identity key): all its sessions are dropped and
/// their keys wiped, and its reset bookkeeping is erased. `forgotten` (if not NULL) receives
/// 1 if anything was held, else 0. Persist the account afterwards.
///
/// # Safety
/// `account` is an account handle; `peer` points to 32 readable bytes; `forgotten` is NULL or
/// points to a writable `uint8_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_forget_peer(
    account: *mut hw_account,
    peer: *const u8,
    forgotten: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let peer = identity_key(key32(peer, "peer")?)?;
        let held = lock(&account.0)?.forget_peer(&peer);
        if let Some(out) = Out::optional(forgotten) {
            out.write(u8::from(held));
        }
        Ok(())
    })
}

/// Writes the identity keys of the peers the account holds sessions with to `out`: 32 bytes
/// each, back to back (an empty buffer for none), in key order.
///
/// # Safety
/// `account` is an account handle; `out` points to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_peers(
    account: *const hw_account,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let out = Out::new(out, "out")?;
        let peers = lock(&account.0)?.peers();
        out.write(hw_bytes::from_vec(
            peers.iter().flat_map(|k| k.to_bytes()).collect(),
        ));
        Ok(())
    })
}

/// Writes the ids of the sessions the account holds with `peer` (32-byte identity key) to
/// `out`: 32 bytes each, back to back, the active one first (an empty buffer for none).
///
/// # Safety
/// `account` is an account handle; `peer` points to 32 readable bytes; `out` to a writable
/// `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_sessions_with(
    account: *const hw_account,
    peer: *const u8,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let peer = identity_key(key32(peer, "peer")?)?;
        let out = Out::new(out, "out")?;
        let ids = lock(&account.0)?.sessions_with(&peer);
        out.write(hw_bytes::from_vec(
            ids.iter().flat_map(|id| *id.as_bytes()).collect(),
        ));
        Ok(())
    })
}

/// Writes the account's housekeeping events at `now` to `out` (codes joined by `'\n'`, an
/// empty buffer for none): `event.prekey_rotation_due` (call `hw_account_rotate_prekeys` and
/// publish) and `event.one_time_prekeys_low` (generate and upload more). Call it when the app
/// wakes up or after publishing keys.
///
/// # Safety
/// `account` is an account handle; `out` points to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_maintenance_events(
    account: *const hw_account,
    now: u64,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let out = Out::new(out, "out")?;
        let events = lock(&account.0)?.account().maintenance_events(time(now));
        out.write(events_text(&events));
        Ok(())
    })
}

/// Sets the limits of the sessions the account starts from now on (`max_jump`,
/// `max_skipped_keys`, `max_receiving_chains`, `skipped_key_max_age`; SPEC.md §5.5): each
/// from 1 to its hard ceiling, else `HW_INVALID_INPUT` (`config.out_of_range`) and nothing
/// changes. Existing sessions keep theirs. Persist the account afterwards.
///
/// # Safety
/// `account` is an account handle; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_set_session_config(
    account: *mut hw_account,
    max_jump: u32,
    max_skipped_keys: u32,
    max_receiving_chains: u32,
    skipped_key_max_age: u32,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let config = RatchetConfig::new(
            max_jump,
            max_skipped_keys,
            max_receiving_chains,
            skipped_key_max_age,
        )?;
        lock(&account.0)?.account_mut().set_session_config(config);
        Ok(())
    })
}

/// Writes the limits of the sessions the account starts to the outputs that are not NULL
/// (as `hw_account_set_session_config`).
///
/// # Safety
/// `account` is an account handle; each output is NULL or points to a writable `uint32_t`;
/// `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_session_config(
    account: *const hw_account,
    max_jump: *mut u32,
    max_skipped_keys: *mut u32,
    max_receiving_chains: *mut u32,
    skipped_key_max_age: *mut u32,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let config = *lock(&account.0)?.account().session_config();
        let values = [
            (max_jump, config.max_jump()),
            (max_skipped_keys, config.max_skipped_keys()),
            (max_receiving_chains, config.max_receiving_chains()),
            (skipped_key_max_age, config.skipped_key_max_age()),
        ];
        for (ptr, value) in values {
            if let Some(out) = Out::optional(ptr) {
                out.write(value);
            }
        }
        Ok(())
    })
}

// ─── sealed envelopes straight into sessions ─────────────────────────────────────────────────

/// Opens a sealed envelope addressed to the account (validating the sender's certificate
/// against `trust` at `now`, as `hw_open`) and decrypts the session message inside with the
/// sessions the account holds for the sender, creating one from a prekey message (as
/// `hw_account_decrypt_from`, which refuses a prekey message of another identity than the
/// envelope's sender). The plaintext goes to `out`; the session id and the events to
/// `session_id` and `events` when not NULL. `sender` (if not NULL) receives the sender's
/// identity key as soon as the envelope opened, even when the decryption then fails: with
/// `hw_error_reset_reason`, it is whom to send a reset request to. `HW_INVALID_INPUT`
/// (`sealed_session.not_session_content`) for an envelope of another content type. The
/// account is unchanged on every error; persist it afterwards.
///
/// # Safety
/// `account` is an account handle, `trust` a trust store handle; `envelope` points to
/// `envelope_len` readable bytes; `out` to a writable `hw_bytes`; `sender` and `session_id`
/// are NULL or point to 32 writable bytes, `events` NULL or a writable `hw_bytes`; `err` as
/// usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_open_and_decrypt(
    account: *mut hw_account,
    trust: *const hw_trust_store,
    envelope: *const u8,
    envelope_len: usize,
    now: u64,
    out: *mut hw_bytes,
    sender: *mut [u8; 32],
    session_id: *mut [u8; 32],
    events: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let trust = handle(trust, "trust")?;
        let envelope = input(envelope, envelope_len, "envelope")?;
        let out = Out::new(out, "out")?;
        // Lock order: account before trust store.
        let mut account = lock(&account.0)?;
        let opened = hushwire::sealed::open(
            account.account().identity_key_pair(),
            envelope,
            &*lock(&trust.0)?,
            time(now),
        )?;
        if let Some(s) = Out::optional(sender) {
            s.write(opened.sender_identity().to_bytes());
        }
        let decrypted = account.decrypt_sealed(&opened, time(now))?;
        if let Some(id) = Out::optional(session_id) {
            id.write(*decrypted.session_id.as_bytes());
        }
        write_events(Out::optional(events), &decrypted.events);
        out.write(hw_bytes::from_vec(decrypted.plaintext));
        Ok(())
    })
}

/// Opens a sealed envelope addressed to the account (as `hw_open`) and decrypts the session
/// message inside with `session`, which must be the session with the envelope's sender
/// (else `HW_INVALID_INPUT`, `sealed_session.wrong_session`). The plaintext goes to `out`,
/// the sender's identity key to `sender` when not NULL. The session is unchanged on every
/// error.
///
/// # Safety
/// `account` is an account handle, `session` a session handle, `trust` a trust store handle;
/// `envelope` points to `envelope_len` readable bytes; `out` to a writable `hw_bytes`;
/// `sender` is NULL or points to 32 writable bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_session_open_and_decrypt(
    account: *const hw_account,
    session: *mut hw_session,
    trust: *const hw_trust_store,
    envelope: *const u8,
    envelope_len: usize,
    now: u64,
    out: *mut hw_bytes,
    sender: *mut [u8; 32],
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let session = handle(session, "session")?;
        let trust = handle(trust, "trust")?;
        let envelope = input(envelope, envelope_len, "envelope")?;
        let out = Out::new(out, "out")?;
        // Lock order: account, session, trust store.
        let account = lock(&account.0)?;
        let mut session = lock(&session.0)?;
        let opened = hushwire::sealed::open(
            account.account().identity_key_pair(),
            envelope,
            &*lock(&trust.0)?,
            time(now),
        )?;
        let decrypted = opened.decrypt(&mut session)?;
        if let Some(s) = Out::optional(sender) {
            s.write(opened.sender_identity().to_bytes());
        }
        out.write(hw_bytes::from_vec(decrypted.plaintext));
        Ok(())
    })
}

// ─── resets ──────────────────────────────────────────────────────────────────────────────────

/// Builds an authenticated reset request for `peer` (32-byte identity key), to send back to
/// it (sealed, like any message) when its messages cannot be decrypted: `reason` is the
/// `hw_error_reset_reason` of the failed `hw_account_decrypt_from` (`HW_RESET_*`; another
/// value is `HW_INVALID_ARGUMENT`), `since` the last time a message from the peer was read.
/// The request goes to `out`. `HW_LIMIT_EXCEEDED` (code `reset.rate_limited`) within 60
/// seconds of the previous request to this peer; nothing changes then. Persist the account
/// afterwards.
///
/// # Safety
/// `account` is an account handle; `peer` points to 32 readable bytes; `out` to a writable
/// `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_reset_request(
    account: *mut hw_account,
    peer: *const u8,
    reason: u8,
    since: u64,
    now: u64,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let peer = identity_key(key32(peer, "peer")?)?;
        let reason = reset_reason(reason)?;
        let out = Out::new(out, "out")?;
        let mut rng = rng::for_call()?;
        let request =
            lock(&account.0)?.reset_request(&peer, reason, time(since), time(now), &mut rng)?;
        out.write(hw_bytes::from_vec(request));
        Ok(())
    })
}

/// Reads a reset request without checking it (the account checks it when answering): the
/// requester's 32-byte identity key goes to `requester` (fetch its prekey bundle to answer),
/// the reason (`HW_RESET_*`) to `reason` and the time from which to re-send to `since`, each
/// when not NULL. `HW_MALFORMED` for bytes that are not a reset request.
///
/// # Safety
/// `request` points to `request_len` readable bytes; `requester` is NULL or points to 32
/// writable bytes, `reason` NULL or 1, `since` NULL or a writable `uint64_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_reset_request_info(
    request: *const u8,
    request_len: usize,
    requester: *mut [u8; 32],
    reason: *mut u8,
    since: *mut u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let request = ResetRequest::from_bytes(input(request, request_len, "request")?)?;
        if let Some(out) = Out::optional(requester) {
            out.write(request.requester().to_bytes());
        }
        if let Some(out) = Out::optional(reason) {
            out.write(reset_reason_code(request.reason()));
        }
        if let Some(out) = Out::optional(since) {
            out.write(request.since().as_unix_secs());
        }
        Ok(())
    })
}

/// Answers a reset request: checks it (addressed to the account, authentic, fresh, not
/// answered before, rate limit), then starts a fresh session with the requester from
/// `bundle` (its prekey bundle, fetched as for any new session) and makes it active: send
/// the next message with `hw_account_encrypt_for`. The new session's id goes to
/// `session_id`, the time after which sent messages should be re-sent to `resend_since`, and
/// the events (`event.session_reset`, then `event.peer_evicted` if a peer was evicted) to
/// `events`, each when not NULL. Persist the account afterwards.
///
/// Unchanged on error: `HW_TAMPERED` (codes `reset.bad_signature`, `reset.not_for_us`,
/// `reset.bundle_mismatch`), `HW_REPLAY` (`reset.stale`), `HW_LIMIT_EXCEEDED`
/// (`reset.rate_limited`), `HW_MALFORMED`.
///
/// # Safety
/// `account` is an account handle; `request` points to `request_len` readable bytes,
/// `bundle` to `bundle_len`; `session_id` is NULL or points to 32 writable bytes,
/// `resend_since` NULL or a writable `uint64_t`, `events` NULL or a writable `hw_bytes`; `err`
/// as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_answer_reset(
    account: *mut hw_account,
    request: *const u8,
    request_len: usize,
    bundle: *const u8,
    bundle_len: usize,
    now: u64,
    session_id: *mut [u8; 32],
    resend_since: *mut u64,
    events: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let request = input(request, request_len, "request")?;
        let bundle = PreKeyBundle::from_bytes(input(bundle, bundle_len, "bundle")?)?;
        let mut rng = rng::for_call()?;
        let answered = lock(&account.0)?.answer_reset(request, &bundle, time(now), &mut rng)?;
        if let Some(out) = Out::optional(session_id) {
            out.write(*answered.session_id.as_bytes());
        }
        if let Some(out) = Out::optional(resend_since) {
            out.write(answered.resend_since.as_unix_secs());
        }
        write_events(Out::optional(events), &answered.events);
        Ok(())
    })
}

// ─── identities of users ─────────────────────────────────────────────────────────────────────

/// Tells the account which identity key (32 bytes) the user `user` (1 to 128 bytes) has now,
/// as the app learned it: a user seen for the first time is recorded as unverified; the same
/// key again changes nothing; another key raises `event.identity_changed` (in `events`, when
/// not NULL), and if the user had verified the previous key, `hw_account_encrypt_for`
/// refuses the new one (`HW_UNTRUSTED`) until `hw_account_accept_identity_change` or
/// `hw_account_mark_verified`. Persist the account afterwards. Unchanged on error
/// (`HW_TAMPERED`, `verify.own_identity`; `HW_LIMIT_EXCEEDED`).
///
/// # Safety
/// `account` is an account handle; `user` points to `user_len` readable bytes,
/// `identity_key` to 32; `events` is NULL or points to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_record_identity(
    account: *mut hw_account,
    user: *const u8,
    user_len: usize,
    identity_key: *const u8,
    now: u64,
    events: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let user = UserId::new(input(user, user_len, "user")?)?;
        let key = crate::identity_key(key32(identity_key, "identity_key")?)?;
        let raised = lock(&account.0)?.record_identity(&user, &key, time(now))?;
        write_events(Out::optional(events), &raised);
        Ok(())
    })
}

/// Marks `identity_key` (32 bytes) as verified for `user`, after the users compared the
/// safety number, scanned its QR code or compared a short authentication string. Records the
/// user if it is new; verifying the new key of a user whose key changed ends the refusal.
/// Unchanged on error: `HW_INVALID_INPUT` (`verify.identity_mismatch`: another key is recorded
/// for the user; record the new one first).
///
/// # Safety
/// `account` is an account handle; `user` points to `user_len` readable bytes,
/// `identity_key` to 32; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_mark_verified(
    account: *mut hw_account,
    user: *const u8,
    user_len: usize,
    identity_key: *const u8,
    now: u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let user = UserId::new(input(user, user_len, "user")?)?;
        let key = crate::identity_key(key32(identity_key, "identity_key")?)?;
        lock(&account.0)?.mark_verified(&user, &key, time(now))?;
        Ok(())
    })
}

/// Accepts the new key (32 bytes, the one the user was shown) of a user whose key changed
/// since verification, without verifying it: the user becomes unverified with that key and
/// `hw_account_encrypt_for` encrypts to it again. Unchanged on error: `HW_INVALID_INPUT`
/// (`verify.unknown_user`, `verify.identity_mismatch`).
///
/// # Safety
/// `account` is an account handle; `user` points to `user_len` readable bytes,
/// `identity_key` to 32; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_accept_identity_change(
    account: *mut hw_account,
    user: *const u8,
    user_len: usize,
    identity_key: *const u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let user = UserId::new(input(user, user_len, "user")?)?;
        let key = crate::identity_key(key32(identity_key, "identity_key")?)?;
        lock(&account.0)?.accept_identity_change(&user, &key)?;
        Ok(())
    })
}

/// Writes the user's verification state to `state`: 0 if nothing is recorded for the user,
/// 1 unverified, 2 verified, 3 changed since verification (the new key is refused until
/// accepted or verified). The identity key now recorded goes to `identity_key` when it is not
/// NULL and a key is recorded.
///
/// # Safety
/// `account` is an account handle; `user` points to `user_len` readable bytes; `state` to a
/// writable `uint8_t`; `identity_key` is NULL or points to 32 writable bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_verification_state(
    account: *const hw_account,
    user: *const u8,
    user_len: usize,
    state: *mut u8,
    identity_key: *mut [u8; 32],
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let user = UserId::new(input(user, user_len, "user")?)?;
        let state = Out::new(state, "state")?;
        let found = lock(&account.0)?.verification_state(&user);
        let (code, key) = match found {
            None => (0, None),
            Some(VerificationState::Unverified { identity_key }) => (1, Some(identity_key)),
            Some(VerificationState::Verified { identity_key, .. }) => (2, Some(identity_key)),
            Some(VerificationState::ChangedSinceVerification { current_key, .. }) => {
                (3, Some(current_key))
            }
            Some(_) => (1, None),
        };
        if let (Some(out), Some(key)) = (Out::optional(identity_key), key) {
            out.write(key.to_bytes());
        }
        state.write(code);
        Ok(())
    })
}

/// Drops the user's verification (it becomes unverified with its current key), or, with
/// `forget` not 0, everything recorded about the user's identity (sessions are not touched:
/// see `hw_account_forget_peer`). `changed` (if not NULL) receives 1 if there was anything
/// to drop, else 0. Persist the account afterwards.
///
/// # Safety
/// `account` is an account handle; `user` points to `user_len` readable bytes; `changed` is
/// NULL or points to a writable `uint8_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_clear_verification(
    account: *mut hw_account,
    user: *const u8,
    user_len: usize,
    forget: u8,
    changed: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let user = UserId::new(input(user, user_len, "user")?)?;
        let mut account = lock(&account.0)?;
        let dropped = if forget != 0 {
            account.forget_identity(&user)
        } else {
            account.clear_verification(&user)
        };
        if let Some(out) = Out::optional(changed) {
            out.write(u8::from(dropped));
        }
        Ok(())
    })
}

/// Writes 1 to `blocked` if `hw_account_encrypt_for` refuses `identity_key` (32 bytes): it
/// is the new key of a user whose verified key changed, not yet accepted; else 0.
///
/// # Safety
/// `account` is an account handle; `identity_key` points to 32 readable bytes; `blocked` to
/// a writable `uint8_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_account_is_identity_blocked(
    account: *const hw_account,
    identity_key: *const u8,
    blocked: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let key = crate::identity_key(key32(identity_key, "identity_key")?)?;
        let blocked = Out::new(blocked, "blocked")?;
        blocked.write(u8::from(lock(&account.0)?.is_identity_blocked(&key)));
        Ok(())
    })
}
