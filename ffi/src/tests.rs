//! The ABI driven from Rust: the claims the C and Python tests cannot easily make (threads,
//! NULL everywhere, error objects). The full two-party flow is in `ffi/tests/flow.c`.

use std::ptr::{null, null_mut};

use super::*;

const NOW: u64 = 1_700_000_000;

fn ok(status: hw_status) {
    assert_eq!(status, hw_status::HW_OK);
}

fn take(mut b: hw_bytes) -> Vec<u8> {
    let v = if b.data.is_null() {
        Vec::new()
    } else {
        // SAFETY: a buffer the library just returned.
        unsafe { std::slice::from_raw_parts(b.data, b.len) }.to_vec()
    };
    // SAFETY: as above.
    unsafe { hw_bytes_free(&mut b) };
    v
}

/// Alice and Bob with a session each way (Bob's built from Alice's first message).
fn pair() -> (
    *mut hw_account,
    *mut hw_account,
    *mut hw_session,
    *mut hw_session,
) {
    // SAFETY: every pointer is valid or NULL as the functions allow.
    unsafe {
        let (mut alice, mut bob) = (null_mut(), null_mut());
        ok(hw_account_new(NOW, &mut alice, null_mut()));
        ok(hw_account_new(NOW, &mut bob, null_mut()));
        ok(hw_account_generate_one_time_prekeys(
            bob,
            2,
            2,
            NOW,
            null_mut(),
        ));
        let mut bundle = hw_bytes::EMPTY;
        ok(hw_account_prekey_bundle(bob, &mut bundle, null_mut()));
        let bundle = take(bundle);
        let mut a2b = null_mut();
        ok(hw_account_create_outbound_session(
            alice,
            bundle.as_ptr(),
            bundle.len(),
            &mut a2b,
            null_mut(),
        ));
        let mut first = hw_bytes::EMPTY;
        ok(hw_session_encrypt(
            a2b,
            b"hi".as_ptr(),
            2,
            &mut first,
            null_mut(),
        ));
        let first = take(first);
        let (mut b2a, mut plaintext) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_account_create_inbound_session(
            bob,
            first.as_ptr(),
            first.len(),
            NOW,
            &mut b2a,
            &mut plaintext,
            null_mut(),
        ));
        assert_eq!(take(plaintext), b"hi");
        (alice, bob, a2b, b2a)
    }
}

fn free_pair(
    p: (
        *mut hw_account,
        *mut hw_account,
        *mut hw_session,
        *mut hw_session,
    ),
) {
    // SAFETY: handles from `pair`, freed once.
    unsafe {
        hw_session_free(p.2);
        hw_session_free(p.3);
        hw_account_free(p.0);
        hw_account_free(p.1);
    }
}

#[test]
fn a_tampered_message_has_its_status_and_code_and_the_session_goes_on() {
    let p = pair();
    // SAFETY: valid handles and buffers.
    unsafe {
        let mut m = hw_bytes::EMPTY;
        ok(hw_session_encrypt(
            p.3,
            b"reply".as_ptr(),
            5,
            &mut m,
            null_mut(),
        ));
        let mut m = take(m);
        let last = m.len() - 1;
        m[last] ^= 1;
        let (mut out, mut err) = (hw_bytes::EMPTY, null_mut());
        let status = hw_session_decrypt(p.2, m.as_ptr(), m.len(), &mut out, &mut err);
        assert_eq!(status, hw_status::HW_TAMPERED);
        assert_eq!(hw_error_status(err), hw_status::HW_TAMPERED);
        let kind = std::ffi::CStr::from_ptr(hw_error_kind(err));
        assert_eq!(kind.to_str().unwrap(), "tampered");
        let code = std::ffi::CStr::from_ptr(hw_error_code(err));
        assert!(code.to_str().unwrap().starts_with("decrypt."), "{code:?}");
        hw_error_free(err);
        assert!(out.data.is_null());

        m[last] ^= 1;
        ok(hw_session_decrypt(
            p.2,
            m.as_ptr(),
            m.len(),
            &mut out,
            null_mut(),
        ));
        assert_eq!(take(out), b"reply");
    }
    free_pair(p);
}

#[test]
fn null_arguments_return_their_status_and_change_nothing() {
    let p = pair();
    // SAFETY: NULL where the functions must reject it; valid handles otherwise.
    unsafe {
        let mut err = null_mut();
        let s = hw_session_encrypt(null_mut(), b"x".as_ptr(), 1, null_mut(), &mut err);
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let code = std::ffi::CStr::from_ptr(hw_error_code(err));
        assert_eq!(code.to_str().unwrap(), "ffi.null_argument");
        hw_error_free(err);
        // A missing output is refused before encrypting: the chain does not move.
        let s = hw_session_encrypt(p.3, b"x".as_ptr(), 1, null_mut(), null_mut());
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let mut unused = hw_bytes::EMPTY;
        let s = hw_session_encrypt(p.3, null(), 1, &mut unused, null_mut());
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let s = hw_account_new(NOW, null_mut(), null_mut());
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let s = hw_session_id(p.2, null_mut(), null_mut());
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        assert_eq!(hw_error_status(null()), hw_status::HW_NULL_ARGUMENT);
        assert_eq!(*hw_error_code(null()), 0);
        hw_bytes_free(null_mut());
        hw_session_free(null_mut());
        // Zero-length input with a NULL pointer is an empty message.
        let mut m = hw_bytes::EMPTY;
        ok(hw_session_encrypt(p.3, null(), 0, &mut m, null_mut()));
        let m = take(m);
        let mut out = hw_bytes::EMPTY;
        ok(hw_session_decrypt(
            p.2,
            m.as_ptr(),
            m.len(),
            &mut out,
            null_mut(),
        ));
        assert!(take(out).is_empty());
    }
    free_pair(p);
}

/// The thread-safety claim: one session used from four threads at once gives distinct
/// messages that all decrypt.
#[test]
fn a_session_handle_may_be_shared_between_threads() {
    let p = pair();
    struct Shared(*mut hw_session);
    // SAFETY: handles are internally locked (the claim under test).
    unsafe impl Send for Shared {}
    // SAFETY: as above.
    unsafe impl Sync for Shared {}
    let sender = Shared(p.3);
    let messages: Vec<Vec<u8>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4u8)
            .map(|t| {
                let sender = &sender;
                s.spawn(move || {
                    (0..10u8)
                        .map(|i| {
                            let mut m = hw_bytes::EMPTY;
                            // SAFETY: a live handle and valid buffers.
                            ok(unsafe {
                                hw_session_encrypt(sender.0, [t, i].as_ptr(), 2, &mut m, null_mut())
                            });
                            take(m)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut seen = std::collections::BTreeSet::new();
    for m in &messages {
        let mut out = hw_bytes::EMPTY;
        // SAFETY: a live handle and valid buffers.
        ok(unsafe { hw_session_decrypt(p.2, m.as_ptr(), m.len(), &mut out, null_mut()) });
        assert!(seen.insert(take(out)));
    }
    assert_eq!(seen.len(), 40);
    free_pair(p);
}

#[test]
fn the_abi_version_is_the_header_constant() {
    assert_eq!(hw_abi_version(), HW_ABI_VERSION);
}

/// A panic while a session is in use poisons that session: every later call on it is
/// refused with `HW_POISONED` (and freeing it still works); other handles are unaffected.
#[test]
fn a_panic_during_a_call_poisons_the_session_it_used() {
    let p = pair();
    let session = boundary::handle(p.2, "session").unwrap();
    let status = boundary::call(null_mut(), || {
        let _in_use = boundary::lock(&session.0)?;
        #[allow(clippy::panic)]
        {
            panic!("a bug while the session is locked")
        }
    });
    assert_eq!(status, hw_status::HW_PANIC);
    // SAFETY: live handles and valid buffers.
    unsafe {
        let (mut m, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_session_encrypt(p.2, b"x".as_ptr(), 1, &mut m, &mut err);
        assert_eq!(s, hw_status::HW_POISONED);
        let code = std::ffi::CStr::from_ptr(hw_error_code(err));
        assert_eq!(code.to_str().unwrap(), "ffi.poisoned");
        hw_error_free(err);
        assert!(m.data.is_null());
        ok(hw_session_encrypt(
            p.3,
            b"x".as_ptr(),
            1,
            &mut m,
            null_mut(),
        ));
        take(m);
    }
    free_pair(p);
}
