//! Short authentication strings from a commit-then-reveal run inside a session
//! (`hushwire::verify::start_sas`, `accept_sas`; SPEC.md §15.4): the starter sends a start
//! message, the peer answers with an accept message, the starter reveals its nonce; both then
//! show the same 7 emoji (or three 4-digit numbers), which the users compare. If they match,
//! mark the peer's key verified.
//!
//! A run is an `hw_sas` handle that moves through its states (awaiting accept, awaiting
//! reveal, ready). A step that fails leaves the run in its state: a message of another run is
//! refused and the run keeps waiting. Each message travels as the plaintext of a message on
//! the session being verified. Every step names that session either as an `hw_session`, or
//! (with `session` NULL) as the account-held active session with `peer`.

use std::sync::Mutex;

use hushwire::verify::{
    SasAwaitingAccept, SasAwaitingReveal, SasReady, ShortAuthString, accept_sas, start_sas,
};
use hushwire::{PeerError, Session};

use crate::boundary::{Failure, Out, call, call_value, free_handle, handle, input, into_handle};
use crate::boundary::{key32, lock};
use crate::{hw_account, hw_bytes, hw_error, hw_session, hw_status, identity_key, rng, time};

/// The state of a run.
enum SasState {
    AwaitingAccept(SasAwaitingAccept),
    AwaitingReveal(SasAwaitingReveal),
    Ready(Box<SasReady>),
}

/// A short-authentication-string run on one side. Thread-safe (internally locked).
#[allow(non_camel_case_types)]
pub struct hw_sas(Mutex<Option<SasState>>);

/// Runs `f` on the session a step names: `session`, or the account's active session with
/// `peer` when `session` is NULL. Locks account, then session.
fn on_session<T>(
    session: *const hw_session,
    account: *const hw_account,
    peer: *const u8,
    f: impl FnOnce(&Session) -> Result<T, Failure>,
) -> Result<T, Failure> {
    if !session.is_null() {
        let session = handle(session, "session")?;
        return f(&*lock(&session.0)?);
    }
    let account = handle(account, "account (or session)")?;
    let peer = identity_key(key32(peer, "peer")?)?;
    let account = lock(&account.0)?;
    let active = account
        .active_session(&peer)
        .ok_or(PeerError::UnknownPeer)?;
    f(active)
}

/// The string of a completed run.
fn ready(sas: &hw_sas) -> Result<(ShortAuthString, [u8; 32]), Failure> {
    match &*lock(&sas.0)? {
        Some(SasState::Ready(r)) => Ok((*r.sas(), r.remote_identity().to_bytes())),
        _ => Err(Failure::invalid("the run is not complete".into())),
    }
}

/// Starts a run on the session as the *starter*: the run goes to `out` and the start message
/// to `message` (send it on that session). `HW_INVALID_INPUT` (code
/// `verify.session_not_established`) until the session has decrypted a message from the peer.
/// A run expires 10 minutes after it starts (`HW_LIMIT_EXCEEDED`, `verify.sas_expired`).
///
/// # Safety
/// `session` is a session handle, or NULL with `account` an account handle and `peer`
/// pointing to 32 readable bytes (the account-held active session with that peer); `out`
/// points to writable storage for a pointer; `message` to a writable `hw_bytes`; `err` is
/// NULL or points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_start(
    session: *const hw_session,
    account: *const hw_account,
    peer: *const u8,
    now: u64,
    out: *mut *mut hw_sas,
    message: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let out = Out::new(out, "out")?;
        let message = Out::new(message, "message")?;
        let mut rng = rng::for_call()?;
        let (run, start) = on_session(session, account, peer, |s| {
            Ok(start_sas(s, time(now), &mut rng)?)
        })?;
        message.write(hw_bytes::from_vec(start.to_vec()));
        out.write(into_handle(hw_sas(Mutex::new(Some(
            SasState::AwaitingAccept(run),
        )))));
        Ok(())
    })
}

/// Answers the peer's `start` message as the *accepter*: the run goes to `out` and the accept
/// message to `message` (send it on the session). `HW_MALFORMED` if `start` is not a start
/// message; `HW_INVALID_INPUT` (`verify.session_not_established`).
///
/// # Safety
/// As `hw_sas_start`, with `start` pointing to `start_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_accept(
    session: *const hw_session,
    account: *const hw_account,
    peer: *const u8,
    start: *const u8,
    start_len: usize,
    now: u64,
    out: *mut *mut hw_sas,
    message: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let start = input(start, start_len, "start")?;
        let out = Out::new(out, "out")?;
        let message = Out::new(message, "message")?;
        let mut rng = rng::for_call()?;
        let (run, accept) = on_session(session, account, peer, |s| {
            Ok(accept_sas(s, start, time(now), &mut rng)?)
        })?;
        message.write(hw_bytes::from_vec(accept.to_vec()));
        out.write(into_handle(hw_sas(Mutex::new(Some(
            SasState::AwaitingReveal(run),
        )))));
        Ok(())
    })
}

/// The starter's step: reads the peer's `accept` message; the run is then ready (show the
/// string now) and the reveal message goes to `reveal` (send it on the session). On error the
/// run is unchanged: `HW_UNKNOWN_SESSION` (`verify.sas_other_run`: not this run's answer, keep
/// waiting), `HW_INVALID_INPUT` (`verify.sas_other_session`), `HW_MALFORMED`,
/// `HW_LIMIT_EXCEEDED` (`verify.sas_expired`: free the run and start again);
/// `HW_INVALID_ARGUMENT` for a run that is not waiting for an accept message.
///
/// # Safety
/// `sas` is a run handle; the session as in `hw_sas_start`; `accept` points to `accept_len`
/// readable bytes; `reveal` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_receive_accept(
    sas: *mut hw_sas,
    session: *const hw_session,
    account: *const hw_account,
    peer: *const u8,
    accept: *const u8,
    accept_len: usize,
    now: u64,
    reveal: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let sas = handle(sas, "sas")?;
        let accept = input(accept, accept_len, "accept")?;
        let reveal = Out::new(reveal, "reveal")?;
        // Lock order: account, session, then the run.
        on_session(session, account, peer, |s| {
            let mut state = lock(&sas.0)?;
            let run = match state.take() {
                Some(SasState::AwaitingAccept(run)) => run,
                other => {
                    *state = other;
                    return Err(Failure::invalid(
                        "the run is not waiting for an accept message".into(),
                    ));
                }
            };
            match run.receive_accept(s, accept, time(now)) {
                Ok((ready, bytes)) => {
                    *state = Some(SasState::Ready(Box::new(ready)));
                    reveal.write(hw_bytes::from_vec(bytes.to_vec()));
                    Ok(())
                }
                Err((run, e)) => {
                    *state = Some(SasState::AwaitingAccept(run));
                    Err(e.into())
                }
            }
        })
    })
}

/// The accepter's step: reads the peer's `reveal` message, checks it opens the commitment of
/// the start message; the run is then ready (show the string). On error the run is
/// unchanged: `HW_TAMPERED` (`verify.sas_commitment_mismatch`: treat it as a failed
/// verification and warn the user), and as `hw_sas_receive_accept` otherwise.
///
/// # Safety
/// `sas` is a run handle; the session as in `hw_sas_start`; `reveal` points to `reveal_len`
/// readable bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_receive_reveal(
    sas: *mut hw_sas,
    session: *const hw_session,
    account: *const hw_account,
    peer: *const u8,
    reveal: *const u8,
    reveal_len: usize,
    now: u64,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let sas = handle(sas, "sas")?;
        let reveal = input(reveal, reveal_len, "reveal")?;
        // Lock order: account, session, then the run.
        on_session(session, account, peer, |s| {
            let mut state = lock(&sas.0)?;
            let run = match state.take() {
                Some(SasState::AwaitingReveal(run)) => run,
                other => {
                    *state = other;
                    return Err(Failure::invalid(
                        "the run is not waiting for a reveal message".into(),
                    ));
                }
            };
            match run.receive_reveal(s, reveal, time(now)) {
                Ok(ready) => {
                    *state = Some(SasState::Ready(Box::new(ready)));
                    Ok(())
                }
                Err((run, e)) => {
                    *state = Some(SasState::AwaitingReveal(run));
                    Err(e.into())
                }
            }
        })
    })
}

/// Writes 1 to `out` if the run is complete (the string can be shown), else 0.
///
/// # Safety
/// `sas` is a run handle; `out` points to a writable `uint8_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_is_ready(
    sas: *const hw_sas,
    out: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let sas = handle(sas, "sas")?;
        let out = Out::new(out, "out")?;
        let is_ready = matches!(&*lock(&sas.0)?, Some(SasState::Ready(_)));
        out.write(u8::from(is_ready));
        Ok(())
    })
}

/// Writes the 7 emoji of a complete run to `out` as indices (0..=63) into the SAS emoji
/// table of SPEC.md §15.4 (`hushwire::verify::SAS_EMOJI_TABLE`). `HW_INVALID_ARGUMENT`
/// before the run is complete.
///
/// # Safety
/// `sas` is a run handle; `out` points to 7 writable bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_emoji(
    sas: *const hw_sas,
    out: *mut [u8; 7],
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let sas = handle(sas, "sas")?;
        let out = Out::new(out, "out")?;
        let (string, _) = ready(sas)?;
        out.write(string.emoji().map(|e| e.index()));
        Ok(())
    })
}

/// Writes the emoji of a complete run to `out` as text (UTF-8): the 7 symbols separated by
/// spaces, a newline, then their names separated by `", "` to read aloud ("Dog, Cat, ...").
/// `HW_INVALID_ARGUMENT` before the run is complete.
///
/// # Safety
/// `sas` is a run handle; `out` points to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_emoji_text(
    sas: *const hw_sas,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let sas = handle(sas, "sas")?;
        let out = Out::new(out, "out")?;
        let (string, _) = ready(sas)?;
        let symbols: Vec<&str> = string.emoji().iter().map(|e| e.symbol()).collect();
        let text = format!("{}\n{}", symbols.join(" "), string.emoji_names());
        out.write(hw_bytes::from_vec(text.into_bytes()));
        Ok(())
    })
}

/// Writes the decimal form of a complete run to `out` (ASCII): three numbers from 1000 to
/// 9191 separated by spaces, such as `4821 1093 7710`. `HW_INVALID_ARGUMENT` before the run
/// is complete.
///
/// # Safety
/// `sas` is a run handle; `out` points to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_decimal(
    sas: *const hw_sas,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let sas = handle(sas, "sas")?;
        let out = Out::new(out, "out")?;
        let (string, _) = ready(sas)?;
        out.write(hw_bytes::from_vec(string.to_string().into_bytes()));
        Ok(())
    })
}

/// Writes the 32-byte identity key a complete run verifies (the peer's) to `out`: if the
/// users found the strings equal, mark it verified. `HW_INVALID_ARGUMENT` before the run is
/// complete.
///
/// # Safety
/// `sas` is a run handle; `out` points to 32 writable bytes; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_remote_identity(
    sas: *const hw_sas,
    out: *mut [u8; 32],
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let sas = handle(sas, "sas")?;
        let out = Out::new(out, "out")?;
        let (_, key) = ready(sas)?;
        out.write(key);
        Ok(())
    })
}

/// Frees a run (NULL is a no-op): an unfinished run is cancelled, its nonce wiped.
///
/// # Safety
/// `sas` is NULL or a run handle, freed once and not in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_sas_free(sas: *mut hw_sas) {
    call_value((), || free_handle(sas))
}
