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

// ─── attachments, masking, verification, relay challenges, roster changes ───────────────────

/// `take` for a buffer variable that is used again.
fn taken(b: &mut hw_bytes) -> Vec<u8> {
    take(std::mem::replace(b, hw_bytes::EMPTY))
}

fn code_of(err: *mut hw_error) -> String {
    // SAFETY: an error object from the library (or NULL), freed here once.
    unsafe {
        let code = std::ffi::CStr::from_ptr(hw_error_code(err))
            .to_str()
            .unwrap()
            .to_owned();
        hw_error_free(err);
        code
    }
}

fn identity_of(account: *const hw_account) -> [u8; 32] {
    let mut key = [0u8; 32];
    // SAFETY: a live handle and a 32-byte output.
    ok(unsafe { hw_account_identity_key(account, &mut key, null_mut()) });
    key
}

/// A file of `len` bytes that is not all one value.
fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn an_attachment_round_trips_with_its_texts_and_a_tampered_object_is_refused() {
    let invoice = file(100_000);
    let ct = "application/pdf";
    let name = "invoice-1042.pdf";
    // SAFETY: valid buffers and outputs throughout.
    unsafe {
        let (mut object, mut pointer) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_attachment_encrypt(
            invoice.as_ptr(),
            invoice.len(),
            ct.as_ptr(),
            ct.len(),
            name.as_ptr(),
            name.len(),
            &mut object,
            &mut pointer,
            null_mut(),
        ));
        let (mut object, pointer) = (taken(&mut object), taken(&mut pointer));
        assert!(object.len() > invoice.len());

        // The digest check a download can make before decrypting.
        let digest = |object: &[u8]| {
            let mut err = null_mut();
            let s = hw_attachment_verify_digest(
                pointer.as_ptr(),
                pointer.len(),
                object.as_ptr(),
                object.len(),
                &mut err,
            );
            if s == hw_status::HW_OK {
                (s, String::new())
            } else {
                (s, code_of(err))
            }
        };
        assert_eq!(digest(&object).0, hw_status::HW_OK);
        let (s, code) = digest(&object[..object.len() - 1]);
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "attachment.truncated")
        );
        let mut altered = object.clone();
        altered[10] ^= 1;
        let (s, code) = digest(&altered);
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "attachment.digest_mismatch")
        );

        let (mut plaintext_len, mut object_len) = (0u64, 0u64);
        let (mut got_ct, mut got_name) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_attachment_pointer_info(
            pointer.as_ptr(),
            pointer.len(),
            &mut plaintext_len,
            &mut object_len,
            &mut got_ct,
            &mut got_name,
            null_mut(),
        ));
        assert_eq!(plaintext_len, invoice.len() as u64);
        assert_eq!(object_len, object.len() as u64);
        assert_eq!(taken(&mut got_ct), ct.as_bytes());
        assert_eq!(taken(&mut got_name), name.as_bytes());
        // Every output of the info call is optional.
        ok(hw_attachment_pointer_info(
            pointer.as_ptr(),
            pointer.len(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
        ));

        let mut out = hw_bytes::EMPTY;
        ok(hw_attachment_decrypt(
            pointer.as_ptr(),
            pointer.len(),
            object.as_ptr(),
            object.len(),
            &mut out,
            null_mut(),
        ));
        assert_eq!(taken(&mut out), invoice);

        object[500] ^= 1;
        let mut err = null_mut();
        let s = hw_attachment_decrypt(
            pointer.as_ptr(),
            pointer.len(),
            object.as_ptr(),
            object.len(),
            &mut out,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_TAMPERED);
        assert!(code_of(err).starts_with("attachment."));
        assert!(out.data.is_null());

        // A pointer that is not one.
        let mut err = null_mut();
        let s = hw_attachment_pointer_info(
            b"junk".as_ptr(),
            4,
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            &mut err,
        );
        assert_eq!(s, hw_status::HW_MALFORMED);
        hw_error_free(err);
    }
}

#[test]
fn attachment_texts_and_arguments_are_checked() {
    // SAFETY: valid buffers, or NULL where the functions must refuse it.
    unsafe {
        let (mut object, mut pointer, mut err) = (hw_bytes::EMPTY, hw_bytes::EMPTY, null_mut());
        let bad_utf8 = [0x61u8, 0xFF, 0x62];
        let s = hw_attachment_encrypt(
            b"x".as_ptr(),
            1,
            bad_utf8.as_ptr(),
            bad_utf8.len(),
            null(),
            0,
            &mut object,
            &mut pointer,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        assert_eq!(code_of(err), "ffi.invalid_argument");
        let mut err = null_mut();
        let s = hw_attachment_encrypt(
            b"x".as_ptr(),
            1,
            null(),
            0,
            b"../etc/passwd".as_ptr(),
            13,
            &mut object,
            &mut pointer,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        assert!(code_of(err).starts_with("attachment."));
        assert!(object.data.is_null() && pointer.data.is_null());
        let s = hw_attachment_encrypt(
            b"x".as_ptr(),
            1,
            null(),
            0,
            null(),
            0,
            null_mut(),
            &mut pointer,
            null_mut(),
        );
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let s = hw_attachment_decrypt(null(), 3, b"x".as_ptr(), 1, &mut object, null_mut());
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        // An empty file is a file.
        ok(hw_attachment_encrypt(
            null(),
            0,
            null(),
            0,
            null(),
            0,
            &mut object,
            &mut pointer,
            null_mut(),
        ));
        let (object, pointer) = (taken(&mut object), taken(&mut pointer));
        let mut out = hw_bytes::EMPTY;
        ok(hw_attachment_decrypt(
            pointer.as_ptr(),
            pointer.len(),
            object.as_ptr(),
            object.len(),
            &mut out,
            null_mut(),
        ));
        assert!(taken(&mut out).is_empty());
        hw_attachment_encryptor_free(null_mut());
        hw_attachment_decryptor_free(null_mut());
    }
}

/// Streams a file through an encryptor in two pushes; returns the object and the pointer.
fn stream_encrypt(data: &[u8], split: usize) -> (Vec<u8>, Vec<u8>) {
    // SAFETY: a live handle and valid buffers.
    unsafe {
        let mut enc = null_mut();
        ok(hw_attachment_encryptor_new(&mut enc, null_mut()));
        let mut object = Vec::new();
        for part in [&data[..split], &data[split..]] {
            let mut out = hw_bytes::EMPTY;
            ok(hw_attachment_encryptor_push(
                enc,
                part.as_ptr(),
                part.len(),
                &mut out,
                null_mut(),
            ));
            object.extend(taken(&mut out));
        }
        // A file name the pointer refuses changes nothing: the encryptor can still finish.
        let (mut out, mut pointer, mut err) = (hw_bytes::EMPTY, hw_bytes::EMPTY, null_mut());
        let s = hw_attachment_encryptor_finish(
            enc,
            null(),
            0,
            b"a/b".as_ptr(),
            3,
            &mut out,
            &mut pointer,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        hw_error_free(err);
        let name = "clip.mp4";
        ok(hw_attachment_encryptor_finish(
            enc,
            b"video/mp4".as_ptr(),
            9,
            name.as_ptr(),
            name.len(),
            &mut out,
            &mut pointer,
            null_mut(),
        ));
        object.extend(taken(&mut out));
        let pointer = taken(&mut pointer);

        // Finished: further use is refused with its own code, and changes nothing.
        let (mut more, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_attachment_encryptor_push(enc, b"late".as_ptr(), 4, &mut more, &mut err);
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        assert_eq!(code_of(err), "attachment.finished");
        assert!(more.data.is_null());
        let (mut err, mut no_pointer) = (null_mut(), hw_bytes::EMPTY);
        let s = hw_attachment_encryptor_finish(
            enc,
            null(),
            0,
            null(),
            0,
            &mut more,
            &mut no_pointer,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        assert_eq!(code_of(err), "attachment.finished");
        hw_attachment_encryptor_free(enc);
        (object, pointer)
    }
}

#[test]
fn a_streamed_attachment_decrypts_in_pieces_and_a_tampered_chunk_leaves_the_decryptor_usable() {
    let data = file(150_000);
    let (object, pointer) = stream_encrypt(&data, 70_000);
    // SAFETY: live handles and valid buffers.
    unsafe {
        let mut one_shot = hw_bytes::EMPTY;
        ok(hw_attachment_decrypt(
            pointer.as_ptr(),
            pointer.len(),
            object.as_ptr(),
            object.len(),
            &mut one_shot,
            null_mut(),
        ));
        assert_eq!(taken(&mut one_shot), data);

        let mut dec = null_mut();
        ok(hw_attachment_decryptor_new(
            pointer.as_ptr(),
            pointer.len(),
            &mut dec,
            null_mut(),
        ));
        let mut plain = Vec::new();
        let (first, rest) = object.split_at(80_000);

        // The first piece with a byte of chunk 0 flipped: refused, nothing released.
        let mut bad = first.to_vec();
        bad[1_000] ^= 0x80;
        let (mut out, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_attachment_decryptor_push(dec, bad.as_ptr(), bad.len(), &mut out, &mut err);
        assert_eq!(s, hw_status::HW_TAMPERED);
        assert_eq!(code_of(err), "attachment.chunk_tampered");
        assert!(out.data.is_null());
        let mut position = 1u64;
        ok(hw_attachment_decryptor_position(
            dec,
            &mut position,
            null_mut(),
        ));
        assert_eq!(position, 0);

        // The genuine bytes still go through.
        ok(hw_attachment_decryptor_push(
            dec,
            first.as_ptr(),
            first.len(),
            &mut out,
            null_mut(),
        ));
        plain.extend(taken(&mut out));
        ok(hw_attachment_decryptor_position(
            dec,
            &mut position,
            null_mut(),
        ));
        assert_eq!(position, first.len() as u64);

        // Finishing early: incomplete, and the decryptor goes on.
        let mut err = null_mut();
        let s = hw_attachment_decryptor_finish(dec, &mut err);
        assert_eq!(s, hw_status::HW_TAMPERED);
        assert!(code_of(err).starts_with("attachment."));

        ok(hw_attachment_decryptor_push(
            dec,
            rest.as_ptr(),
            rest.len(),
            &mut out,
            null_mut(),
        ));
        plain.extend(taken(&mut out));
        ok(hw_attachment_decryptor_finish(dec, null_mut()));
        ok(hw_attachment_decryptor_finish(dec, null_mut()));
        assert_eq!(plain, data);

        // Bytes past the object's end.
        let mut err = null_mut();
        let s = hw_attachment_decryptor_push(dec, b"x".as_ptr(), 1, &mut out, &mut err);
        assert_eq!(s, hw_status::HW_TAMPERED);
        hw_error_free(err);
        assert_eq!(
            hw_attachment_decryptor_push(null_mut(), b"x".as_ptr(), 1, &mut out, null_mut()),
            hw_status::HW_NULL_ARGUMENT
        );
        assert_eq!(
            hw_attachment_decryptor_position(dec, null_mut(), null_mut()),
            hw_status::HW_NULL_ARGUMENT
        );
        hw_attachment_decryptor_free(dec);

        let mut none = null_mut();
        let s = hw_attachment_decryptor_new(b"junk".as_ptr(), 4, &mut none, null_mut());
        assert_eq!(s, hw_status::HW_MALFORMED);
        assert!(none.is_null());
    }
}

#[test]
fn masking_hides_a_card_number_and_the_check_refuses_an_unmasked_one() {
    let text = "my card is 4242 4242 4242 4242, thanks";
    // SAFETY: valid buffers and outputs.
    unsafe {
        let (mut out, mut changed) = (hw_bytes::EMPTY, 0u8);
        ok(hw_mask_text(
            text.as_ptr(),
            text.len(),
            &mut out,
            &mut changed,
            null_mut(),
        ));
        let masked = String::from_utf8(taken(&mut out)).unwrap();
        assert_eq!(changed, 1);
        assert!(
            masked.contains("4242") && !masked.contains("4242 4242"),
            "{masked}"
        );
        ok(hw_mask_check(masked.as_ptr(), masked.len(), null_mut()));

        let mut err = null_mut();
        let s = hw_mask_check(text.as_ptr(), text.len(), &mut err);
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        assert_eq!(code_of(err), "mask_check.unmasked");

        let plain = "nothing to hide";
        ok(hw_mask_text(
            plain.as_ptr(),
            plain.len(),
            &mut out,
            &mut changed,
            null_mut(),
        ));
        assert_eq!(changed, 0);
        assert_eq!(taken(&mut out), plain.as_bytes());
        // The flag is optional; empty text is text.
        ok(hw_mask_text(null(), 0, &mut out, null_mut(), null_mut()));
        assert!(taken(&mut out).is_empty());

        let bad = [b'4', 0xC0, b'2'];
        let mut err = null_mut();
        let s = hw_mask_text(bad.as_ptr(), bad.len(), &mut out, null_mut(), &mut err);
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        assert_eq!(code_of(err), "ffi.invalid_argument");
        assert_eq!(
            hw_mask_check(bad.as_ptr(), bad.len(), null_mut()),
            hw_status::HW_INVALID_ARGUMENT
        );
        assert_eq!(
            hw_mask_text(
                text.as_ptr(),
                text.len(),
                null_mut(),
                null_mut(),
                null_mut()
            ),
            hw_status::HW_NULL_ARGUMENT
        );
    }
}

#[test]
fn the_safety_number_is_the_same_on_both_sides_and_a_scanned_code_is_checked() {
    let p = pair();
    let (alice, bob) = (identity_of(p.0), identity_of(p.1));
    let (a, b) = (b"alice@example.com", b"bob@example.com");
    // SAFETY: valid buffers and outputs.
    unsafe {
        let number = |lu: &[u8], lk: &[u8; 32], ru: &[u8], rk: &[u8; 32]| {
            let mut out = hw_bytes::EMPTY;
            ok(hw_safety_number(
                lu.as_ptr(),
                lu.len(),
                lk.as_ptr(),
                ru.as_ptr(),
                ru.len(),
                rk.as_ptr(),
                &mut out,
                null_mut(),
            ));
            String::from_utf8(taken(&mut out)).unwrap()
        };
        let on_alice = number(a, &alice, b, &bob);
        let on_bob = number(b, &bob, a, &alice);
        assert_eq!(on_alice, on_bob);
        assert_eq!(on_alice.len(), 60);
        assert!(on_alice.bytes().all(|c| c.is_ascii_digit()));

        let mut qr = hw_bytes::EMPTY;
        ok(hw_safety_number_qr(
            b.as_ptr(),
            b.len(),
            bob.as_ptr(),
            a.as_ptr(),
            a.len(),
            alice.as_ptr(),
            &mut qr,
            null_mut(),
        ));
        let qr = taken(&mut qr);
        assert_eq!(qr.len(), 67);
        let scan = |lk: &[u8; 32], rk: &[u8; 32], payload: &[u8]| {
            let mut err = null_mut();
            let s = hw_safety_number_verify_scanned(
                a.as_ptr(),
                a.len(),
                lk.as_ptr(),
                b.as_ptr(),
                b.len(),
                rk.as_ptr(),
                payload.as_ptr(),
                payload.len(),
                &mut err,
            );
            if s == hw_status::HW_OK {
                assert!(err.is_null());
                (s, String::new())
            } else {
                (s, code_of(err))
            }
        };
        // Alice scans Bob's screen.
        assert_eq!(scan(&alice, &bob, &qr).0, hw_status::HW_OK);
        // Alice believes Bob has another key: a mismatch.
        let (s, code) = scan(&alice, &alice, &qr);
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "verify.other_pair")
        );
        // Her own code, scanned back.
        let mut own = hw_bytes::EMPTY;
        ok(hw_safety_number_qr(
            a.as_ptr(),
            a.len(),
            alice.as_ptr(),
            b.as_ptr(),
            b.len(),
            bob.as_ptr(),
            &mut own,
            null_mut(),
        ));
        let own = taken(&mut own);
        let (s, code) = scan(&alice, &bob, &own);
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "verify.swapped")
        );
        let (s, _) = scan(&alice, &bob, b"not a qr code");
        assert_eq!(s, hw_status::HW_MALFORMED);

        // An empty user id, a NULL key, a NULL output.
        let mut out = hw_bytes::EMPTY;
        let mut err = null_mut();
        let s = hw_safety_number(
            null(),
            0,
            alice.as_ptr(),
            b.as_ptr(),
            b.len(),
            bob.as_ptr(),
            &mut out,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        assert_eq!(code_of(err), "verify.user_id_length");
        let s = hw_safety_number(
            a.as_ptr(),
            a.len(),
            null(),
            b.as_ptr(),
            b.len(),
            bob.as_ptr(),
            &mut out,
            null_mut(),
        );
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let s = hw_safety_number_qr(
            a.as_ptr(),
            a.len(),
            alice.as_ptr(),
            b.as_ptr(),
            b.len(),
            bob.as_ptr(),
            null_mut(),
            null_mut(),
        );
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
    }
    free_pair(p);
}

const DAY: u64 = 86_400;

/// An organization: its root, its key certified by the root (root id 1, key id 5), and the
/// certificate.
struct Org {
    root: *mut hw_issuer,
    key: *mut hw_issuer,
    key_cert: Vec<u8>,
    root_key: [u8; 32],
}

fn org() -> Org {
    // SAFETY: fresh handles and valid outputs.
    unsafe {
        let (mut root, mut key) = (null_mut(), null_mut());
        ok(hw_issuer_new(&mut root, null_mut()));
        ok(hw_issuer_new(&mut key, null_mut()));
        let (mut root_key, mut public) = ([0u8; 32], [0u8; 32]);
        ok(hw_issuer_public_key(root, &mut root_key, null_mut()));
        ok(hw_issuer_public_key(key, &mut public, null_mut()));
        let mut cert = hw_bytes::EMPTY;
        ok(hw_server_certificate_issue(
            root,
            1,
            5,
            public.as_ptr(),
            0,
            NOW + 365 * DAY,
            &mut cert,
            null_mut(),
        ));
        Org {
            root,
            key,
            key_cert: taken(&mut cert),
            root_key,
        }
    }
}

fn issue(o: &Org, serial: u64, operator: &[u8; 32], days: u64) -> (hw_status, Vec<u8>, String) {
    let (org_name, name, role) = ("Acme Bank", "Dana Smith", "Card support");
    // SAFETY: live handles and valid buffers.
    unsafe {
        let (mut out, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_identity_certificate_issue(
            o.key,
            o.key_cert.as_ptr(),
            o.key_cert.len(),
            serial,
            org_name.as_ptr(),
            org_name.len(),
            name.as_ptr(),
            name.len(),
            role.as_ptr(),
            role.len(),
            operator.as_ptr(),
            NOW,
            NOW + days * DAY,
            &mut out,
            &mut err,
        );
        if s == hw_status::HW_OK {
            (s, taken(&mut out), String::new())
        } else {
            (s, Vec::new(), code_of(err))
        }
    }
}

fn verify_operator(
    cert: &[u8],
    operator: &[u8; 32],
    roots: *const hw_organization_roots,
    now: u64,
) -> Result<String, (hw_status, String)> {
    // SAFETY: a live handle and valid buffers.
    unsafe {
        let (mut display, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_verify_operator(
            cert.as_ptr(),
            cert.len(),
            operator.as_ptr(),
            roots,
            now,
            &mut display,
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            &mut err,
        );
        if s == hw_status::HW_OK {
            Ok(String::from_utf8(taken(&mut display)).unwrap())
        } else {
            assert!(display.data.is_null());
            Err((s, code_of(err)))
        }
    }
}

#[test]
fn an_operator_certificate_verifies_against_pinned_roots_and_fails_for_the_right_reasons() {
    let p = pair();
    let operator = identity_of(p.1);
    let stranger = identity_of(p.0);
    let o = org();
    // SAFETY: live handles and valid buffers.
    unsafe {
        let mut roots = null_mut();
        ok(hw_organization_roots_new(&mut roots, null_mut()));
        let (s, cert, _) = issue(&o, 9, &operator, 7);
        ok(s);

        // Nothing pinned yet.
        let e = verify_operator(&cert, &operator, roots, NOW + 60).unwrap_err();
        assert_eq!(
            e,
            (
                hw_status::HW_UNTRUSTED,
                "verify.foreign_organization".into()
            )
        );

        let acme = "Acme Bank";
        ok(hw_organization_roots_pin(
            roots,
            1,
            o.root_key.as_ptr(),
            acme.as_ptr(),
            acme.len(),
            null_mut(),
        ));
        // Pinning it again is a no-op; another organization under the same id is refused.
        ok(hw_organization_roots_pin(
            roots,
            1,
            o.root_key.as_ptr(),
            acme.as_ptr(),
            acme.len(),
            null_mut(),
        ));
        let mut err = null_mut();
        let s = hw_organization_roots_pin(
            roots,
            1,
            o.root_key.as_ptr(),
            b"Evil Bank".as_ptr(),
            9,
            &mut err,
        );
        assert_ne!(s, hw_status::HW_OK);
        hw_error_free(err);
        let s = hw_organization_roots_pin(
            roots,
            2,
            o.root_key.as_ptr(),
            [0xFFu8].as_ptr(),
            1,
            null_mut(),
        );
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);

        assert_eq!(
            verify_operator(&cert, &operator, roots, NOW + 60).unwrap(),
            "verified as Acme Bank, Dana Smith, Card support"
        );
        // The parts, when asked for.
        let (mut display, mut org_out, mut name_out, mut role_out, mut until) = (
            hw_bytes::EMPTY,
            hw_bytes::EMPTY,
            hw_bytes::EMPTY,
            hw_bytes::EMPTY,
            0u64,
        );
        ok(hw_verify_operator(
            cert.as_ptr(),
            cert.len(),
            operator.as_ptr(),
            roots,
            NOW + 60,
            &mut display,
            &mut org_out,
            &mut name_out,
            &mut role_out,
            &mut until,
            null_mut(),
        ));
        taken(&mut display);
        assert_eq!(taken(&mut org_out), b"Acme Bank");
        assert_eq!(taken(&mut name_out), b"Dana Smith");
        assert_eq!(taken(&mut role_out), b"Card support");
        assert_eq!(until, NOW + 7 * DAY);

        // Another session's key, expired, malformed, NULL roots.
        let e = verify_operator(&cert, &stranger, roots, NOW + 60).unwrap_err();
        assert_eq!(
            e,
            (
                hw_status::HW_TAMPERED,
                "verify.operator_key_mismatch".into()
            )
        );
        let e = verify_operator(&cert, &operator, roots, NOW + 8 * DAY).unwrap_err();
        assert_eq!(e, (hw_status::HW_UNTRUSTED, "verify.expired".into()));
        let e = verify_operator(b"junk", &operator, roots, NOW).unwrap_err();
        assert_eq!(e.0, hw_status::HW_MALFORMED);
        let e = verify_operator(&cert, &operator, null(), NOW).unwrap_err();
        assert_eq!(e.0, hw_status::HW_NULL_ARGUMENT);

        // Revoked certificate, then revoked organization key.
        ok(hw_organization_roots_revoke_certificate(
            roots,
            1,
            5,
            9,
            null_mut(),
        ));
        let e = verify_operator(&cert, &operator, roots, NOW + 60).unwrap_err();
        assert_eq!(e, (hw_status::HW_UNTRUSTED, "verify.revoked".into()));
        let (s, cert2, _) = issue(&o, 10, &operator, 1);
        ok(s);
        assert!(verify_operator(&cert2, &operator, roots, NOW + 60).is_ok());
        ok(hw_organization_roots_revoke_key(roots, 1, 5, null_mut()));
        let e = verify_operator(&cert2, &operator, roots, NOW + 60).unwrap_err();
        assert_eq!(e.1, "verify.revoked");

        // Unpinning.
        let mut was = 0u8;
        ok(hw_organization_roots_unpin(roots, 1, &mut was, null_mut()));
        assert_eq!(was, 1);
        ok(hw_organization_roots_unpin(roots, 1, &mut was, null_mut()));
        assert_eq!(was, 0);

        // Issuing: a lifetime above 7 days, and the wrong organization key.
        let (s, _, code) = issue(&o, 11, &operator, 8);
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_UNTRUSTED, "verify.lifetime_too_long")
        );
        let wrong = Org {
            root: null_mut(),
            key: o.root,
            key_cert: o.key_cert.clone(),
            root_key: o.root_key,
        };
        let (s, _, code) = issue(&wrong, 12, &operator, 1);
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "verify.issuer_mismatch")
        );

        hw_organization_roots_free(roots);
        hw_organization_roots_free(null_mut());
        hw_issuer_free(o.root);
        hw_issuer_free(o.key);
    }
    free_pair(p);
}

#[test]
fn a_relay_challenge_signature_verifies_for_that_key_and_challenge_only() {
    let p = pair();
    let (alice, bob) = (identity_of(p.0), identity_of(p.1));
    let challenge = b"relay.example.com nonce 0123456789abcdef";
    // SAFETY: live handles and valid buffers.
    unsafe {
        let mut sig = [0u8; 64];
        ok(hw_account_sign_relay_challenge(
            p.0,
            challenge.as_ptr(),
            challenge.len(),
            &mut sig,
            null_mut(),
        ));
        let check = |key: &[u8; 32], c: &[u8], sig: &[u8; 64]| {
            let mut valid = 9u8;
            ok(hw_relay_challenge_verify(
                key.as_ptr(),
                c.as_ptr(),
                c.len(),
                sig.as_ptr(),
                &mut valid,
                null_mut(),
            ));
            valid
        };
        assert_eq!(check(&alice, challenge, &sig), 1);
        assert_eq!(check(&bob, challenge, &sig), 0);
        assert_eq!(check(&alice, b"another challenge", &sig), 0);
        let s = hw_account_sign_relay_challenge(
            p.0,
            challenge.as_ptr(),
            challenge.len(),
            null_mut(),
            null_mut(),
        );
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let mut valid = 0u8;
        let s = hw_relay_challenge_verify(
            alice.as_ptr(),
            challenge.as_ptr(),
            challenge.len(),
            null(),
            &mut valid,
            null_mut(),
        );
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
    }
    free_pair(p);
}

/// Sends `payload` over a 1:1 session and returns what the other side decrypted.
fn carry(from: *mut hw_session, to: *mut hw_session, payload: &[u8]) -> Vec<u8> {
    // SAFETY: live handles and valid buffers.
    unsafe {
        let (mut wire, mut plain) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_session_encrypt(
            from,
            payload.as_ptr(),
            payload.len(),
            &mut wire,
            null_mut(),
        ));
        let wire = taken(&mut wire);
        ok(hw_session_decrypt(
            to,
            wire.as_ptr(),
            wire.len(),
            &mut plain,
            null_mut(),
        ));
        taken(&mut plain)
    }
}

#[test]
fn an_admin_adds_and_removes_members_and_the_others_apply_the_changes() {
    let p = pair();
    let (alice, bob) = (identity_of(p.0), identity_of(p.1));
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let mut carol_account = null_mut();
        ok(hw_account_new(NOW, &mut carol_account, null_mut()));
        let carol = identity_of(carol_account);

        let (mut ag, mut bg) = (null_mut(), null_mut());
        let (mut welcome, mut adist, mut bdist) =
            (hw_bytes::EMPTY, hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_group_create(
            p.0,
            bob.as_ptr(),
            1,
            &mut ag,
            &mut welcome,
            &mut adist,
            null_mut(),
        ));
        let w = carry(p.2, p.3, &taken(&mut welcome));
        ok(hw_group_join(
            p.1,
            w.as_ptr(),
            w.len(),
            alice.as_ptr(),
            &mut bg,
            &mut bdist,
            null_mut(),
        ));
        let d = carry(p.2, p.3, &taken(&mut adist));
        ok(hw_group_receive_distribution(
            bg,
            p.3,
            d.as_ptr(),
            d.len(),
            null_mut(),
        ));
        let d = carry(p.3, p.2, &taken(&mut bdist));
        ok(hw_group_receive_distribution(
            ag,
            p.2,
            d.as_ptr(),
            d.len(),
            null_mut(),
        ));

        // Bob is no admin: his change is refused and nothing is handed back.
        let (mut change, mut welcome, mut dist, mut err) = (
            hw_bytes::EMPTY,
            hw_bytes::EMPTY,
            hw_bytes::EMPTY,
            null_mut(),
        );
        let s = hw_group_add_member(
            p.1,
            bg,
            carol.as_ptr(),
            0,
            &mut change,
            &mut welcome,
            &mut dist,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_TAMPERED);
        assert_eq!(code_of(err), "roster.not_admin");
        assert!(change.data.is_null() && welcome.data.is_null() && dist.data.is_null());

        // Alice adds Carol; Bob applies the change; Carol joins from the welcome.
        ok(hw_group_add_member(
            p.0,
            ag,
            carol.as_ptr(),
            0,
            &mut change,
            &mut welcome,
            &mut dist,
            null_mut(),
        ));
        let (change_bytes, welcome_bytes, dist_bytes) =
            (taken(&mut change), taken(&mut welcome), taken(&mut dist));
        assert!(!change_bytes.is_empty() && !welcome_bytes.is_empty() && !dist_bytes.is_empty());
        let mut bob_dist = hw_bytes::EMPTY;
        ok(hw_group_apply_roster_change(
            p.1,
            bg,
            change_bytes.as_ptr(),
            change_bytes.len(),
            NOW,
            &mut bob_dist,
            null_mut(),
        ));
        assert!(!taken(&mut bob_dist).is_empty());
        // The same change again is a replay.
        let (mut again, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_group_apply_roster_change(
            p.1,
            bg,
            change_bytes.as_ptr(),
            change_bytes.len(),
            NOW,
            &mut again,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_REPLAY);
        hw_error_free(err);
        let (mut cg, mut cdist) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_group_join(
            carol_account,
            welcome_bytes.as_ptr(),
            welcome_bytes.len(),
            alice.as_ptr(),
            &mut cg,
            &mut cdist,
            null_mut(),
        ));
        taken(&mut cdist);
        // Adding her twice is refused.
        let mut err = null_mut();
        let s = hw_group_add_member(
            p.0,
            ag,
            carol.as_ptr(),
            1,
            &mut change,
            &mut welcome,
            &mut dist,
            &mut err,
        );
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        assert_eq!(code_of(err), "roster.already_member");

        // Alice is the only admin: she may not leave. She promotes Bob; the others apply it.
        let (mut change, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_group_leave(p.0, ag, &mut change, &mut err);
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        assert_eq!(code_of(err), "roster.last_admin");
        assert!(change.data.is_null());
        ok(hw_group_set_role(
            p.0,
            ag,
            bob.as_ptr(),
            1,
            &mut change,
            null_mut(),
        ));
        let promotion = taken(&mut change);
        for (account, group) in [(p.1, bg), (carol_account, cg)] {
            let mut none = hw_bytes::EMPTY;
            ok(hw_group_apply_roster_change(
                account,
                group,
                promotion.as_ptr(),
                promotion.len(),
                NOW,
                &mut none,
                null_mut(),
            ));
            taken(&mut none);
        }

        // Carol leaves; the others apply her removal.
        ok(hw_group_leave(carol_account, cg, &mut change, null_mut()));
        let leaving = taken(&mut change);
        for (account, group) in [(p.0, ag), (p.1, bg)] {
            let mut fresh = hw_bytes::EMPTY;
            ok(hw_group_apply_roster_change(
                account,
                group,
                leaving.as_ptr(),
                leaving.len(),
                NOW,
                &mut fresh,
                null_mut(),
            ));
            taken(&mut fresh);
        }
        let (mut none, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_group_rotate_sender_key(carol_account, cg, &mut none, &mut err);
        assert_ne!(s, hw_status::HW_OK);
        hw_error_free(err);

        // Alice rotates her sender key; Bob takes it over their session and reads her.
        let mut rotated = hw_bytes::EMPTY;
        ok(hw_group_rotate_sender_key(
            p.0,
            ag,
            &mut rotated,
            null_mut(),
        ));
        let d = carry(p.2, p.3, &taken(&mut rotated));
        ok(hw_group_receive_distribution(
            bg,
            p.3,
            d.as_ptr(),
            d.len(),
            null_mut(),
        ));
        let (mut msg, mut out) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_group_encrypt(
            ag,
            b"new key".as_ptr(),
            7,
            &mut msg,
            null_mut(),
        ));
        let msg_bytes = taken(&mut msg);
        ok(hw_group_decrypt(
            bg,
            msg_bytes.as_ptr(),
            msg_bytes.len(),
            NOW,
            &mut out,
            null_mut(),
            null_mut(),
        ));
        assert_eq!(taken(&mut out), b"new key");

        // Alice removes Bob: he learns it from the change, and a fresh sender key goes out.
        let (mut change, mut dist) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_group_remove_member(
            p.0,
            ag,
            bob.as_ptr(),
            NOW,
            &mut change,
            &mut dist,
            null_mut(),
        ));
        let (change_bytes, dist_bytes) = (taken(&mut change), taken(&mut dist));
        assert!(!change_bytes.is_empty() && !dist_bytes.is_empty());
        let mut bob_dist = hw_bytes::EMPTY;
        ok(hw_group_apply_roster_change(
            p.1,
            bg,
            change_bytes.as_ptr(),
            change_bytes.len(),
            NOW,
            &mut bob_dist,
            null_mut(),
        ));
        taken(&mut bob_dist);
        // The rosters as each side now sees them.
        let (mut epoch, mut member) = (0u64, 9u8);
        ok(hw_group_epoch(bg, null_mut(), &mut member, null_mut()));
        assert_eq!(member, 0);
        ok(hw_group_epoch(ag, &mut epoch, &mut member, null_mut()));
        assert!(epoch > 0 && member == 1);
        let mut roster = hw_bytes::EMPTY;
        ok(hw_group_members(ag, &mut roster, null_mut()));
        let roster = taken(&mut roster);
        assert_eq!(roster.len(), HW_GROUP_MEMBER_LEN);
        assert_eq!((&roster[..32], roster[32]), (&alice[..], 1));
        let (mut msg, mut err) = (hw_bytes::EMPTY, null_mut());
        let s = hw_group_encrypt(bg, b"still here?".as_ptr(), 11, &mut msg, &mut err);
        assert_ne!(s, hw_status::HW_OK);
        hw_error_free(err);
        // NULL outputs are refused before anything changes.
        let s = hw_group_remove_member(
            p.0,
            ag,
            carol.as_ptr(),
            NOW,
            null_mut(),
            &mut dist,
            null_mut(),
        );
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);

        hw_group_free(ag);
        hw_group_free(bg);
        hw_group_free(cg);
        hw_account_free(carol_account);
    }
    free_pair(p);
}

/// The claim that every handle may be used from any thread rests on its state being `Send`
/// (its mutex then makes it `Sync`): checked here for every handle type.
#[test]
fn every_handle_type_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<hw_account>();
    shareable::<hw_session>();
    shareable::<hw_group>();
    shareable::<hw_issuer>();
    shareable::<hw_trust_store>();
    shareable::<hw_organization_roots>();
    shareable::<hw_attachment_encryptor>();
    shareable::<hw_attachment_decryptor>();
    shareable::<hw_recovery_key>();
    shareable::<hw_backup_writer>();
    shareable::<hw_restored_backup>();
    shareable::<hw_sas>();
    shareable::<hw_vaulted_field>();
    shareable::<hw_masker>();
    shareable::<hw_error>();
}

// ─── account-held sessions, resets, identities, backup, short authentication strings ───────

/// A buffer output for a call that is expected to fail (and so not to fill it).
fn scratch() -> hw_bytes {
    hw_bytes::EMPTY
}

/// A failed call: its status, its error's code and reset reason.
type Failed = (hw_status, String, u8);

/// Runs a call that must fail: its status, its error's code and reset reason.
fn failing(f: impl FnOnce(*mut *mut hw_error) -> hw_status) -> Failed {
    let mut err = null_mut();
    let status = f(&mut err);
    assert_ne!(status, hw_status::HW_OK);
    // SAFETY: the error object the failed call just wrote.
    let reason = unsafe { hw_error_reset_reason(err) };
    (status, code_of(err), reason)
}

fn bundle_of(account: *mut hw_account) -> Vec<u8> {
    let mut b = hw_bytes::EMPTY;
    // SAFETY: a live handle and a writable buffer.
    ok(unsafe { hw_account_prekey_bundle(account, &mut b, null_mut()) });
    taken(&mut b)
}

fn encrypt_for(from: *mut hw_account, to: &[u8; 32], text: &[u8]) -> Vec<u8> {
    let mut m = hw_bytes::EMPTY;
    // SAFETY: a live handle and valid buffers.
    ok(unsafe {
        hw_account_encrypt_for(
            from,
            to.as_ptr(),
            text.as_ptr(),
            text.len(),
            &mut m,
            null_mut(),
        )
    });
    taken(&mut m)
}

/// Decrypts on the account: the plaintext, the session id and the events' codes.
fn decrypt_from(
    on: *mut hw_account,
    from: &[u8; 32],
    m: &[u8],
) -> Result<(Vec<u8>, [u8; 32], String), Failed> {
    let (mut out, mut events, mut id) = (hw_bytes::EMPTY, hw_bytes::EMPTY, [0u8; 32]);
    let mut err = null_mut();
    // SAFETY: a live handle and valid buffers.
    let status = unsafe {
        hw_account_decrypt_from(
            on,
            from.as_ptr(),
            m.as_ptr(),
            m.len(),
            NOW,
            &mut out,
            &mut id,
            &mut events,
            &mut err,
        )
    };
    if status != hw_status::HW_OK {
        // SAFETY: the error object the failed call just wrote.
        let reason = unsafe { hw_error_reset_reason(err) };
        return Err((status, code_of(err), reason));
    }
    let events = String::from_utf8(taken(&mut events)).unwrap();
    Ok((taken(&mut out), id, events))
}

fn new_account() -> *mut hw_account {
    let mut a = null_mut();
    // SAFETY: a writable output.
    ok(unsafe { hw_account_new(NOW, &mut a, null_mut()) });
    a
}

#[test]
fn account_held_sessions_converse_refuse_junk_and_recover_through_a_reset() {
    let (alice, bob) = (new_account(), new_account());
    let (ak, bk) = (identity_of(alice), identity_of(bob));
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        ok(hw_account_generate_one_time_prekeys(
            bob,
            2,
            2,
            NOW,
            null_mut(),
        ));
        let bundle = bundle_of(bob);
        let (mut started, mut events) = ([0u8; 32], hw_bytes::EMPTY);
        ok(hw_account_start_session(
            alice,
            bundle.as_ptr(),
            bundle.len(),
            &mut started,
            &mut events,
            null_mut(),
        ));
        assert!(taken(&mut events).is_empty());
        // Without a session, encrypting to a peer is refused with its code.
        let (s, code, _) = failing(|e| {
            let mut m = hw_bytes::EMPTY;
            hw_account_encrypt_for(bob, ak.as_ptr(), b"x".as_ptr(), 1, &mut m, e)
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_UNKNOWN_SESSION, "peer.unknown_peer")
        );

        let first = encrypt_for(alice, &bk, b"hello Bob");
        let (text, id, events) = decrypt_from(bob, &ak, &first).unwrap();
        assert_eq!(text, b"hello Bob");
        assert_eq!(id, started);
        assert!(
            events.split('\n').any(|e| e == "event.session_established"),
            "{events}"
        );
        assert!(
            events
                .split('\n')
                .any(|e| e == "event.one_time_prekey_consumed")
        );
        let reply = encrypt_for(bob, &ak, b"hi Alice");
        assert_eq!(decrypt_from(alice, &bk, &reply).unwrap().0, b"hi Alice");

        let (mut peers, mut ids) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_account_peers(alice, &mut peers, null_mut()));
        assert_eq!(taken(&mut peers), bk);
        ok(hw_account_sessions_with(
            alice,
            bk.as_ptr(),
            &mut ids,
            null_mut(),
        ));
        assert_eq!(taken(&mut ids), started);

        // A tampered message: refused, no reason to reset, and the conversation goes on.
        let mut junk = encrypt_for(bob, &ak, b"real");
        let last = junk.len() - 1;
        junk[last] ^= 1;
        let (s, code, reason) = decrypt_from(alice, &bk, &junk).unwrap_err();
        assert_eq!((s, code.as_str()), (hw_status::HW_TAMPERED, "peer.decrypt"));
        assert_eq!(reason, HW_RESET_NONE);
        let next = encrypt_for(bob, &ak, b"still here");
        assert_eq!(decrypt_from(alice, &bk, &next).unwrap().0, b"still here");

        // Bob loses his sessions with Alice: her next message leads into a reset.
        let mut forgotten = 9u8;
        ok(hw_account_forget_peer(
            bob,
            ak.as_ptr(),
            &mut forgotten,
            null_mut(),
        ));
        assert_eq!(forgotten, 1);
        let lost = encrypt_for(alice, &bk, b"are you there?");
        let (s, code, reason) = decrypt_from(bob, &ak, &lost).unwrap_err();
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_UNKNOWN_SESSION, "peer.unknown_peer")
        );
        assert_eq!(reason, HW_RESET_NO_SESSION);

        let (s, _, _) = failing(|e| {
            let mut r = hw_bytes::EMPTY;
            hw_account_reset_request(bob, ak.as_ptr(), 9, NOW, NOW, &mut r, e)
        });
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        let mut request = hw_bytes::EMPTY;
        ok(hw_account_reset_request(
            bob,
            ak.as_ptr(),
            reason,
            NOW - 10,
            NOW,
            &mut request,
            null_mut(),
        ));
        let request = taken(&mut request);
        let (s, code, _) = failing(|e| {
            let mut r = hw_bytes::EMPTY;
            hw_account_reset_request(bob, ak.as_ptr(), reason, NOW, NOW + 1, &mut r, e)
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_LIMIT_EXCEEDED, "reset.rate_limited")
        );

        let (mut requester, mut why, mut since) = ([0u8; 32], 0u8, 0u64);
        ok(hw_reset_request_info(
            request.as_ptr(),
            request.len(),
            &mut requester,
            &mut why,
            &mut since,
            null_mut(),
        ));
        assert_eq!((requester, why, since), (bk, HW_RESET_NO_SESSION, NOW - 10));
        let (s, _, _) = failing(|e| {
            hw_reset_request_info(b"junk".as_ptr(), 4, null_mut(), null_mut(), null_mut(), e)
        });
        assert_eq!(s, hw_status::HW_MALFORMED);

        // A tampered request is refused and changes nothing; the genuine one is answered.
        let bundle = bundle_of(bob);
        let mut forged = request.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let answer = |req: &[u8], e: *mut *mut hw_error, id: &mut [u8; 32], ev: &mut hw_bytes| {
            let mut resend = 0u64;
            let s = hw_account_answer_reset(
                alice,
                req.as_ptr(),
                req.len(),
                bundle.as_ptr(),
                bundle.len(),
                NOW + 5,
                id,
                &mut resend,
                ev,
                e,
            );
            (s, resend)
        };
        let (mut fresh, mut ev) = ([0u8; 32], hw_bytes::EMPTY);
        let (s, code, _) = failing(|e| answer(&forged, e, &mut fresh, &mut ev).0);
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "reset.bad_signature")
        );
        let (s, resend) = answer(&request, null_mut(), &mut fresh, &mut ev);
        ok(s);
        assert_eq!(resend, NOW - 10);
        assert_eq!(
            String::from_utf8(taken(&mut ev)).unwrap(),
            "event.session_reset"
        );
        let (s, code, _) = failing(|e| answer(&request, e, &mut [0u8; 32], &mut scratch()).0);
        assert_eq!((s, code.as_str()), (hw_status::HW_REPLAY, "reset.stale"));

        // Alice's next message starts the fresh session on Bob's side.
        let again = encrypt_for(alice, &bk, b"re-secured");
        let (text, id, events) = decrypt_from(bob, &ak, &again).unwrap();
        assert_eq!(text, b"re-secured");
        assert_eq!(id, fresh);
        assert!(
            events.split('\n').any(|e| e == "event.session_reset"),
            "{events}"
        );
        let back = encrypt_for(bob, &ak, b"welcome back");
        assert_eq!(decrypt_from(alice, &bk, &back).unwrap().0, b"welcome back");

        // NULL handles and outputs.
        let (s, _, _) = failing(|e| {
            hw_account_start_session(
                null_mut(),
                bundle.as_ptr(),
                bundle.len(),
                null_mut(),
                null_mut(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let (s, _, _) = failing(|e| hw_account_peers(alice, null_mut(), e));
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        let (s, _, _) = failing(|e| {
            hw_account_decrypt_from(
                alice,
                null(),
                again.as_ptr(),
                again.len(),
                NOW,
                &mut scratch(),
                null_mut(),
                null_mut(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        assert_eq!(hw_error_reset_reason(null()), HW_RESET_NONE);

        hw_account_free(alice);
        hw_account_free(bob);
    }
}

#[test]
fn a_changed_verified_key_is_refused_until_accepted() {
    let (alice, bob, carol) = (new_account(), new_account(), new_account());
    let (ak, bk, ck) = (identity_of(alice), identity_of(bob), identity_of(carol));
    let user = b"bob@example.com";
    let state = |key: &mut [u8; 32]| {
        let mut s = 0u8;
        // SAFETY: a live handle and valid buffers.
        ok(unsafe {
            hw_account_verification_state(alice, user.as_ptr(), user.len(), &mut s, key, null_mut())
        });
        s
    };
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let mut key = [0u8; 32];
        assert_eq!(state(&mut key), 0);
        let mut events = hw_bytes::EMPTY;
        ok(hw_account_record_identity(
            alice,
            user.as_ptr(),
            user.len(),
            bk.as_ptr(),
            NOW,
            &mut events,
            null_mut(),
        ));
        assert!(taken(&mut events).is_empty());
        assert_eq!((state(&mut key), key), (1, bk));
        ok(hw_account_mark_verified(
            alice,
            user.as_ptr(),
            user.len(),
            bk.as_ptr(),
            NOW,
            null_mut(),
        ));
        assert_eq!(state(&mut key), 2);
        // Bob "reinstalls" as Carol's key: the change is raised and encryption refused.
        ok(hw_account_record_identity(
            alice,
            user.as_ptr(),
            user.len(),
            ck.as_ptr(),
            NOW,
            &mut events,
            null_mut(),
        ));
        assert_eq!(taken(&mut events), b"event.identity_changed");
        assert_eq!((state(&mut key), key), (3, ck));
        let (s, code, _) = failing(|e| {
            hw_account_encrypt_for(alice, ck.as_ptr(), b"x".as_ptr(), 1, &mut scratch(), e)
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_UNTRUSTED, "peer.identity_changed")
        );
        let (s, code, _) = failing(|e| {
            hw_account_mark_verified(alice, user.as_ptr(), user.len(), bk.as_ptr(), NOW, e)
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "verify.identity_mismatch")
        );
        let (s, code, _) = failing(|e| {
            hw_account_record_identity(
                alice,
                user.as_ptr(),
                user.len(),
                ak.as_ptr(),
                NOW,
                null_mut(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "verify.own_identity")
        );
        let mut blocked = 9u8;
        ok(hw_account_is_identity_blocked(
            alice,
            ck.as_ptr(),
            &mut blocked,
            null_mut(),
        ));
        assert_eq!(blocked, 1);
        ok(hw_account_accept_identity_change(
            alice,
            user.as_ptr(),
            user.len(),
            ck.as_ptr(),
            null_mut(),
        ));
        assert_eq!((state(&mut key), key), (1, ck));
        let (s, code, _) = failing(|e| {
            hw_account_accept_identity_change(alice, b"nobody".as_ptr(), 6, ck.as_ptr(), e)
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "verify.unknown_user")
        );
        ok(hw_account_is_identity_blocked(
            alice,
            ck.as_ptr(),
            &mut blocked,
            null_mut(),
        ));
        assert_eq!(blocked, 0);
        // Verified again, then the verification dropped, then the user forgotten.
        let mut changed = 9u8;
        ok(hw_account_mark_verified(
            alice,
            user.as_ptr(),
            user.len(),
            ck.as_ptr(),
            NOW,
            null_mut(),
        ));
        ok(hw_account_clear_verification(
            alice,
            user.as_ptr(),
            user.len(),
            0,
            &mut changed,
            null_mut(),
        ));
        assert_eq!((changed, state(&mut key)), (1, 1));
        ok(hw_account_clear_verification(
            alice,
            user.as_ptr(),
            user.len(),
            0,
            &mut changed,
            null_mut(),
        ));
        assert_eq!(changed, 0);
        ok(hw_account_clear_verification(
            alice,
            user.as_ptr(),
            user.len(),
            1,
            &mut changed,
            null_mut(),
        ));
        assert_eq!((changed, state(&mut key)), (1, 0));
        hw_account_free(alice);
        hw_account_free(bob);
        hw_account_free(carol);
    }
}

fn recovery_key() -> *mut hw_recovery_key {
    let mut k = null_mut();
    // SAFETY: a writable output.
    ok(unsafe { hw_recovery_key_generate(&mut k, null_mut()) });
    k
}

fn display(key: *const hw_recovery_key) -> String {
    let mut shown = hw_bytes::EMPTY;
    // SAFETY: a live handle and a writable buffer.
    ok(unsafe { hw_recovery_key_to_display(key, &mut shown, null_mut()) });
    String::from_utf8(taken(&mut shown)).unwrap()
}

#[test]
fn a_recovery_key_round_trips_through_its_display_form_and_a_typo_is_caught() {
    let key = recovery_key();
    let shown = display(key);
    assert_eq!(shown.len(), 55 + 10);
    // SAFETY: live handles and valid buffers.
    unsafe {
        let typed = shown.to_lowercase().replace('-', " ");
        let mut back = null_mut();
        ok(hw_recovery_key_from_display(
            typed.as_ptr(),
            typed.len(),
            &mut back,
            null_mut(),
        ));
        assert_eq!(display(back), shown);
        hw_recovery_key_free(back);
        // One mistyped character.
        let mut typo = shown.clone().into_bytes();
        typo[3] = if typo[3] == b'7' { b'8' } else { b'7' };
        let (s, code, _) = failing(|e| {
            hw_recovery_key_from_display(typo.as_ptr(), typo.len(), &mut null_mut(), e)
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "backup.recovery_key_mistyped")
        );
        let (s, code, _) =
            failing(|e| hw_recovery_key_from_display(b"hello".as_ptr(), 5, &mut null_mut(), e));
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "backup.recovery_key_format")
        );
        let (s, _, _) =
            failing(|e| hw_recovery_key_from_display([0xffu8].as_ptr(), 1, &mut null_mut(), e));
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        let (s, _, _) = failing(|e| hw_recovery_key_to_display(key, null_mut(), e));
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        hw_recovery_key_free(key);
        hw_recovery_key_free(null_mut());
    }
}

#[test]
fn a_backup_restores_groups_identity_and_records_and_refuses_tampering() {
    let p = pair();
    let (alice, bob) = (identity_of(p.0), identity_of(p.1));
    let key = recovery_key();
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let (mut group, mut welcome, mut dist) = (null_mut(), hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_group_create(
            p.0,
            bob.as_ptr(),
            1,
            &mut group,
            &mut welcome,
            &mut dist,
            null_mut(),
        ));
        drop((taken(&mut welcome), taken(&mut dist)));
        let mut gid = [0u8; 32];
        ok(hw_group_id(group, &mut gid, null_mut()));

        let (mut writer, mut manifest) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_backup_writer_create(
            key,
            null(),
            0,
            NOW,
            &mut writer,
            &mut manifest,
            null_mut(),
        ));
        drop(taken(&mut manifest));
        let mut list = Vec::new();
        let (mut entries, mut manifest) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_backup_writer_append_group(
            writer,
            group,
            NOW,
            &mut entries,
            &mut manifest,
            null_mut(),
        ));
        list.extend(taken(&mut entries));
        drop(taken(&mut manifest));
        ok(hw_backup_writer_append_account(
            writer,
            p.0,
            1,
            NOW,
            &mut entries,
            &mut manifest,
            null_mut(),
        ));
        list.extend(taken(&mut entries));
        drop(taken(&mut manifest));
        let record_id = [7u8; 32];
        ok(hw_backup_writer_append_app_data(
            writer,
            record_id.as_ptr(),
            b"device list".as_ptr(),
            11,
            NOW,
            &mut entries,
            &mut manifest,
            null_mut(),
        ));
        list.extend(taken(&mut entries));
        let latest = taken(&mut manifest);
        let (mut counter, mut count) = (0u64, 0usize);
        ok(hw_backup_writer_counter(
            writer,
            &mut counter,
            &mut count,
            null_mut(),
        ));
        assert_eq!((counter, count), (3, 4));
        let mut again = hw_bytes::EMPTY;
        ok(hw_backup_writer_manifest(writer, &mut again, null_mut()));
        assert_eq!(taken(&mut again), latest);

        let mut stored = hw_bytes::EMPTY;
        ok(hw_backup_encode(
            null(),
            0,
            latest.as_ptr(),
            latest.len(),
            list.as_ptr(),
            list.len(),
            &mut stored,
            null_mut(),
        ));
        let stored = taken(&mut stored);
        let (s, _, _) = failing(|e| {
            hw_backup_encode(
                null(),
                0,
                latest.as_ptr(),
                latest.len(),
                list.as_ptr(),
                list.len() - 1,
                &mut scratch(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);

        // Restore on a "new device" with the typed key.
        let shown = display(key);
        let mut typed = null_mut();
        ok(hw_recovery_key_from_display(
            shown.as_ptr(),
            shown.len(),
            &mut typed,
            null_mut(),
        ));
        let mut restored = null_mut();
        ok(hw_backup_restore(
            typed,
            stored.as_ptr(),
            stored.len(),
            3,
            &mut restored,
            null_mut(),
        ));
        let (mut counter, mut written_at, mut groups, mut has_identity) = (0u64, 0u64, 0usize, 0u8);
        ok(hw_restored_backup_counter(
            restored,
            &mut counter,
            &mut written_at,
            null_mut(),
        ));
        assert_eq!((counter, written_at), (3, NOW));
        ok(hw_restored_backup_group_count(
            restored,
            &mut groups,
            null_mut(),
        ));
        assert_eq!(groups, 1);
        let mut back = null_mut();
        ok(hw_restored_backup_group(restored, 0, &mut back, null_mut()));
        let mut back_id = [0u8; 32];
        ok(hw_group_id(back, &mut back_id, null_mut()));
        assert_eq!(back_id, gid);
        hw_group_free(back);
        let (s, _, _) = failing(|e| hw_restored_backup_group(restored, 1, &mut null_mut(), e));
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        let mut restart = hw_bytes::EMPTY;
        ok(hw_restored_backup_sessions_to_restart(
            restored,
            &mut restart,
            null_mut(),
        ));
        assert_eq!(taken(&mut restart), bob);
        ok(hw_restored_backup_has_identity(
            restored,
            &mut has_identity,
            null_mut(),
        ));
        assert_eq!(has_identity, 1);
        let mut account = null_mut();
        ok(hw_restored_backup_to_account(
            restored,
            NOW,
            &mut account,
            null_mut(),
        ));
        assert_eq!(identity_of(account), alice);
        hw_account_free(account);
        let (mut records, mut id, mut data) = (0usize, [0u8; 32], hw_bytes::EMPTY);
        ok(hw_restored_backup_app_data_count(
            restored,
            &mut records,
            null_mut(),
        ));
        assert_eq!(records, 1);
        ok(hw_restored_backup_app_data(
            restored,
            0,
            &mut id,
            &mut data,
            null_mut(),
        ));
        assert_eq!((id, taken(&mut data)), (record_id, b"device list".to_vec()));
        hw_restored_backup_free(restored);

        // A rolled-back copy, another key, and an altered byte are each refused.
        let (s, code, _) = failing(|e| {
            hw_backup_restore(typed, stored.as_ptr(), stored.len(), 4, &mut null_mut(), e)
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_REPLAY, "backup.rolled_back")
        );
        let other = recovery_key();
        let (s, code, _) = failing(|e| {
            hw_backup_restore(other, stored.as_ptr(), stored.len(), 0, &mut null_mut(), e)
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "backup.wrong_recovery_key")
        );
        let mut altered = stored.clone();
        let at = altered.len() - 40;
        altered[at] ^= 1;
        let (s, code, _) = failing(|e| {
            hw_backup_restore(
                typed,
                altered.as_ptr(),
                altered.len(),
                0,
                &mut null_mut(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "backup.entry_tampered")
        );

        // The writer's own state: export, resume, append; an older manifest is refused.
        let (mut public, mut seed) = (hw_bytes::EMPTY, [0u8; 32]);
        ok(hw_backup_writer_export(
            writer,
            &mut public,
            &mut seed,
            null_mut(),
        ));
        let public = taken(&mut public);
        let mut resumed = null_mut();
        ok(hw_backup_writer_resume(
            public.as_ptr(),
            public.len(),
            seed.as_ptr(),
            latest.as_ptr(),
            latest.len(),
            &mut resumed,
            null_mut(),
        ));
        ok(hw_backup_writer_append_app_data(
            resumed,
            record_id.as_ptr(),
            b"v2".as_ptr(),
            2,
            NOW,
            &mut entries,
            &mut manifest,
            null_mut(),
        ));
        drop(taken(&mut entries));
        let newer = taken(&mut manifest);
        ok(hw_backup_writer_accept_manifest(
            writer,
            newer.as_ptr(),
            newer.len(),
            null_mut(),
        ));
        ok(hw_backup_writer_counter(
            writer,
            &mut counter,
            null_mut(),
            null_mut(),
        ));
        assert_eq!(counter, 4);
        let (s, code, _) =
            failing(|e| hw_backup_writer_accept_manifest(writer, latest.as_ptr(), latest.len(), e));
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_REPLAY, "backup.rolled_back")
        );
        // Enrolling a second device with the recovery key.
        let (mut second, mut enrolled) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_backup_writer_enroll(
            key,
            newer.as_ptr(),
            newer.len(),
            NOW,
            &mut second,
            &mut enrolled,
            null_mut(),
        ));
        drop(taken(&mut enrolled));
        let (s, code, _) = failing(|e| {
            hw_backup_writer_enroll(
                other,
                newer.as_ptr(),
                newer.len(),
                NOW,
                &mut null_mut(),
                &mut scratch(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "backup.wrong_recovery_key")
        );

        hw_backup_writer_free(second);
        hw_backup_writer_free(resumed);
        hw_backup_writer_free(writer);
        hw_backup_writer_free(null_mut());
        hw_restored_backup_free(null_mut());
        hw_recovery_key_free(other);
        hw_recovery_key_free(typed);
        hw_recovery_key_free(key);
        hw_group_free(group);
    }
    free_pair(p);
}

/// The text of a buffer output.
fn text_of(f: impl FnOnce(*mut hw_bytes) -> hw_status) -> String {
    let mut b = hw_bytes::EMPTY;
    ok(f(&mut b));
    String::from_utf8(taken(&mut b)).unwrap()
}

#[test]
fn a_sas_run_gives_both_sides_the_same_string_and_a_wrong_reveal_is_refused() {
    let p = pair();
    let (alice, bob) = (identity_of(p.0), identity_of(p.1));
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        // Alice's session has not heard from Bob yet.
        let (s, code, _) =
            failing(|e| hw_sas_start(p.2, null(), null(), NOW, &mut null_mut(), &mut scratch(), e));
        assert_eq!(
            (s, code.as_str()),
            (
                hw_status::HW_INVALID_INPUT,
                "verify.session_not_established"
            )
        );
        assert_eq!(carry(p.3, p.2, b"hello"), b"hello");

        let (mut starter, mut start) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_sas_start(
            p.2,
            null(),
            null(),
            NOW,
            &mut starter,
            &mut start,
            null_mut(),
        ));
        let start = taken(&mut start);
        let (mut accepter, mut accept) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_sas_accept(
            p.3,
            null(),
            null(),
            start.as_ptr(),
            start.len(),
            NOW,
            &mut accepter,
            &mut accept,
            null_mut(),
        ));
        let accept = taken(&mut accept);
        // Out of order and not yet ready.
        let (s, _, _) = failing(|e| {
            hw_sas_receive_accept(
                accepter,
                p.3,
                null(),
                null(),
                accept.as_ptr(),
                accept.len(),
                NOW,
                &mut scratch(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        let (s, _, _) = failing(|e| hw_sas_emoji(starter, &mut [0u8; 7], e));
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        // The wrong session is refused and the run keeps waiting.
        let (s, code, _) = failing(|e| {
            hw_sas_receive_accept(
                starter,
                p.3,
                null(),
                null(),
                accept.as_ptr(),
                accept.len(),
                NOW,
                &mut scratch(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "verify.sas_other_session")
        );
        let mut reveal = hw_bytes::EMPTY;
        ok(hw_sas_receive_accept(
            starter,
            p.2,
            null(),
            null(),
            accept.as_ptr(),
            accept.len(),
            NOW,
            &mut reveal,
            null_mut(),
        ));
        let reveal = taken(&mut reveal);

        // A reveal of another nonce is refused; the genuine one then completes the run.
        let mut wrong = reveal.clone();
        let last = wrong.len() - 1;
        wrong[last] ^= 1;
        let (s, code, _) = failing(|e| {
            hw_sas_receive_reveal(
                accepter,
                p.3,
                null(),
                null(),
                wrong.as_ptr(),
                wrong.len(),
                NOW,
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "verify.sas_commitment_mismatch")
        );
        let mut is_ready = 9u8;
        ok(hw_sas_is_ready(accepter, &mut is_ready, null_mut()));
        assert_eq!(is_ready, 0);
        ok(hw_sas_receive_reveal(
            accepter,
            p.3,
            null(),
            null(),
            reveal.as_ptr(),
            reveal.len(),
            NOW,
            null_mut(),
        ));
        ok(hw_sas_is_ready(accepter, &mut is_ready, null_mut()));
        assert_eq!(is_ready, 1);

        let (mut e1, mut e2) = ([0u8; 7], [0u8; 7]);
        ok(hw_sas_emoji(starter, &mut e1, null_mut()));
        ok(hw_sas_emoji(accepter, &mut e2, null_mut()));
        assert_eq!(e1, e2);
        assert!(e1.iter().all(|&i| i < 64));
        let d1 = text_of(|b| hw_sas_decimal(starter, b, null_mut()));
        assert_eq!(d1, text_of(|b| hw_sas_decimal(accepter, b, null_mut())));
        assert_eq!(d1.split(' ').count(), 3);
        let t1 = text_of(|b| hw_sas_emoji_text(starter, b, null_mut()));
        assert_eq!(t1, text_of(|b| hw_sas_emoji_text(accepter, b, null_mut())));
        assert_eq!(t1.lines().count(), 2);
        let (mut r1, mut r2) = ([0u8; 32], [0u8; 32]);
        ok(hw_sas_remote_identity(starter, &mut r1, null_mut()));
        ok(hw_sas_remote_identity(accepter, &mut r2, null_mut()));
        assert_eq!((r1, r2), (bob, alice));

        let (s, _, _) = failing(|e| {
            hw_sas_start(
                null(),
                null(),
                null(),
                NOW,
                &mut null_mut(),
                &mut scratch(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        hw_sas_free(starter);
        hw_sas_free(accepter);
        hw_sas_free(null_mut());
    }
    free_pair(p);
}

#[test]
fn a_sas_run_works_on_account_held_sessions() {
    let (alice, bob) = (new_account(), new_account());
    let (ak, bk) = (identity_of(alice), identity_of(bob));
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let bundle = bundle_of(bob);
        ok(hw_account_start_session(
            alice,
            bundle.as_ptr(),
            bundle.len(),
            null_mut(),
            null_mut(),
            null_mut(),
        ));
        let m = encrypt_for(alice, &bk, b"hi");
        decrypt_from(bob, &ak, &m).unwrap();
        let m = encrypt_for(bob, &ak, b"hello");
        decrypt_from(alice, &bk, &m).unwrap();

        let stranger = [9u8; 32];
        let (s, _, _) = failing(|e| {
            hw_sas_start(
                null(),
                alice,
                stranger.as_ptr(),
                NOW,
                &mut null_mut(),
                &mut scratch(),
                e,
            )
        });
        assert_ne!(s, hw_status::HW_OK);

        let (mut starter, mut start) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_sas_start(
            null(),
            alice,
            bk.as_ptr(),
            NOW,
            &mut starter,
            &mut start,
            null_mut(),
        ));
        let start = taken(&mut start);
        let (mut accepter, mut accept) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_sas_accept(
            null(),
            bob,
            ak.as_ptr(),
            start.as_ptr(),
            start.len(),
            NOW,
            &mut accepter,
            &mut accept,
            null_mut(),
        ));
        let accept = taken(&mut accept);
        let mut reveal = hw_bytes::EMPTY;
        ok(hw_sas_receive_accept(
            starter,
            null(),
            alice,
            bk.as_ptr(),
            accept.as_ptr(),
            accept.len(),
            NOW,
            &mut reveal,
            null_mut(),
        ));
        let reveal = taken(&mut reveal);
        ok(hw_sas_receive_reveal(
            accepter,
            null(),
            bob,
            ak.as_ptr(),
            reveal.as_ptr(),
            reveal.len(),
            NOW + 1,
            null_mut(),
        ));
        let d1 = text_of(|b| hw_sas_decimal(starter, b, null_mut()));
        assert_eq!(d1, text_of(|b| hw_sas_decimal(accepter, b, null_mut())));
        // The users compared the strings: Alice marks Bob's key verified.
        let mut remote = [0u8; 32];
        ok(hw_sas_remote_identity(starter, &mut remote, null_mut()));
        ok(hw_account_mark_verified(
            alice,
            b"bob".as_ptr(),
            3,
            remote.as_ptr(),
            NOW,
            null_mut(),
        ));
        hw_sas_free(starter);
        hw_sas_free(accepter);
        hw_account_free(alice);
        hw_account_free(bob);
    }
}

#[test]
fn a_secure_field_reaches_the_vault_and_only_the_genuine_copy_verifies() {
    let o = org();
    let (customer, vault) = (new_account(), new_account());
    let (ck, vk) = (identity_of(customer), identity_of(vault));
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let mut cert = hw_bytes::EMPTY;
        ok(hw_sender_certificate_issue(
            o.key,
            o.key_cert.as_ptr(),
            o.key_cert.len(),
            1,
            b"customer".as_ptr(),
            8,
            1,
            ck.as_ptr(),
            0,
            NOW + DAY,
            &mut cert,
            null_mut(),
        ));
        let cert = taken(&mut cert);
        let mut trust = null_mut();
        ok(hw_trust_store_new(&mut trust, null_mut()));
        ok(hw_trust_store_add_root(
            trust,
            1,
            o.root_key.as_ptr(),
            null_mut(),
        ));

        let value = "4242 4242 4242 4242";
        let seal = |kind: u8, policy: u8, v: &str, f: &mut hw_bytes, e: &mut hw_bytes, err| {
            hw_secure_field_seal(
                customer,
                cert.as_ptr(),
                cert.len(),
                vk.as_ptr(),
                kind,
                policy,
                v.as_ptr(),
                v.len(),
                NOW,
                f,
                e,
                err,
            )
        };
        let (mut field, mut envelope) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(seal(
            HW_KIND_CARD,
            HW_POLICY_KEEP_LAST4,
            value,
            &mut field,
            &mut envelope,
            null_mut(),
        ));
        let (field, envelope) = (taken(&mut field), taken(&mut envelope));
        let (s, _, _) =
            failing(|e| seal(HW_KIND_CARD, 0, value, &mut scratch(), &mut scratch(), e));
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        let (s, _, _) = failing(|e| {
            seal(
                0x10,
                HW_POLICY_MASK_ALL,
                value,
                &mut scratch(),
                &mut scratch(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        let (s, code, _) = failing(|e| {
            seal(
                HW_KIND_CARD,
                HW_POLICY_MASK_ALL,
                "",
                &mut scratch(),
                &mut scratch(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "secure_field.empty_value")
        );

        // The operator reads its copy.
        let (mut masked, mut kind, mut policy, mut reference) =
            (hw_bytes::EMPTY, 0u8, 0u8, [0u8; 16]);
        ok(hw_masked_field_info(
            field.as_ptr(),
            field.len(),
            &mut masked,
            &mut kind,
            &mut policy,
            &mut reference,
            null_mut(),
        ));
        assert_eq!(
            String::from_utf8(taken(&mut masked)).unwrap(),
            "•••• •••• •••• 4242"
        );
        assert_eq!((kind, policy), (HW_KIND_CARD, HW_POLICY_KEEP_LAST4));
        let (s, _, _) = failing(|e| {
            hw_masked_field_info(
                b"junk".as_ptr(),
                4,
                &mut scratch(),
                null_mut(),
                null_mut(),
                null_mut(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_MALFORMED);

        // The vault opens its envelope and checks the copy; an altered copy is refused.
        let mut vaulted = null_mut();
        let (s, _, _) = failing(|e| {
            hw_vaulted_field_open(
                customer,
                trust,
                envelope.as_ptr(),
                envelope.len(),
                NOW,
                &mut vaulted,
                e,
            )
        });
        assert_eq!(s, hw_status::HW_TAMPERED);
        ok(hw_vaulted_field_open(
            vault,
            trust,
            envelope.as_ptr(),
            envelope.len(),
            NOW,
            &mut vaulted,
            null_mut(),
        ));
        ok(hw_vaulted_field_verify(
            vaulted,
            field.as_ptr(),
            field.len(),
            null_mut(),
        ));
        let mut altered = field.clone();
        altered[10] ^= 1; // in the reference
        let (s, code, _) =
            failing(|e| hw_vaulted_field_verify(vaulted, altered.as_ptr(), altered.len(), e));
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "secure_field.mismatch")
        );
        let (mut raw, mut vref, mut vkind, mut sender) =
            (hw_bytes::EMPTY, [0u8; 16], 0u8, [0u8; 32]);
        ok(hw_vaulted_field_value(
            vaulted,
            &mut raw,
            &mut vref,
            &mut vkind,
            &mut sender,
            null_mut(),
        ));
        assert_eq!(taken(&mut raw), value.as_bytes());
        assert_eq!((vref, vkind, sender), (reference, HW_KIND_CARD, ck));
        let (s, _, _) = failing(|e| {
            hw_vaulted_field_value(vaulted, null_mut(), null_mut(), null_mut(), null_mut(), e)
        });
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);

        hw_vaulted_field_free(vaulted);
        hw_vaulted_field_free(null_mut());
        hw_trust_store_free(trust);
        hw_account_free(customer);
        hw_account_free(vault);
        hw_issuer_free(o.root);
        hw_issuer_free(o.key);
    }
}

#[test]
fn a_passphrase_opens_the_wrapped_recovery_key_stored_with_the_backup() {
    let key = recovery_key();
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let pass = b"correct horse battery staple";
        // The smallest parameters the bounds allow (tests only).
        let (s, code, _) = failing(|e| {
            hw_recovery_key_wrap(key, pass.as_ptr(), pass.len(), 1, 1, 1, &mut scratch(), e)
        });
        assert_eq!(
            (s, code.as_str()),
            (
                hw_status::HW_LIMIT_EXCEEDED,
                "backup.kdf_params_out_of_range"
            )
        );
        let mut wrapped = hw_bytes::EMPTY;
        ok(hw_recovery_key_wrap(
            key,
            pass.as_ptr(),
            pass.len(),
            8,
            1,
            1,
            &mut wrapped,
            null_mut(),
        ));
        let wrapped = taken(&mut wrapped);
        let (mut writer, mut manifest) = (null_mut(), hw_bytes::EMPTY);
        ok(hw_backup_writer_create(
            key,
            wrapped.as_ptr(),
            wrapped.len(),
            NOW,
            &mut writer,
            &mut manifest,
            null_mut(),
        ));
        let manifest = taken(&mut manifest);
        let mut stored = hw_bytes::EMPTY;
        ok(hw_backup_encode(
            wrapped.as_ptr(),
            wrapped.len(),
            manifest.as_ptr(),
            manifest.len(),
            null(),
            0,
            &mut stored,
            null_mut(),
        ));
        let stored = taken(&mut stored);

        let (s, code, _) = failing(|e| {
            hw_backup_unwrap_recovery_key(
                stored.as_ptr(),
                stored.len(),
                b"wrong".as_ptr(),
                5,
                &mut null_mut(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "backup.wrong_passphrase")
        );
        let mut opened = null_mut();
        ok(hw_backup_unwrap_recovery_key(
            stored.as_ptr(),
            stored.len(),
            pass.as_ptr(),
            pass.len(),
            &mut opened,
            null_mut(),
        ));
        assert_eq!(display(opened), display(key));
        let mut restored = null_mut();
        ok(hw_backup_restore(
            opened,
            stored.as_ptr(),
            stored.len(),
            0,
            &mut restored,
            null_mut(),
        ));
        hw_restored_backup_free(restored);

        // Without the wrap the manifest names, the backup is refused; a backup without one
        // has no passphrase.
        let mut bare = hw_bytes::EMPTY;
        ok(hw_backup_encode(
            null(),
            0,
            manifest.as_ptr(),
            manifest.len(),
            null(),
            0,
            &mut bare,
            null_mut(),
        ));
        let bare = taken(&mut bare);
        let (s, code, _) =
            failing(|e| hw_backup_restore(key, bare.as_ptr(), bare.len(), 0, &mut null_mut(), e));
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "backup.wrapped_key_mismatch")
        );
        let (s, code, _) = failing(|e| {
            hw_backup_unwrap_recovery_key(
                bare.as_ptr(),
                bare.len(),
                pass.as_ptr(),
                pass.len(),
                &mut null_mut(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (
                hw_status::HW_INVALID_INPUT,
                "backup.not_passphrase_protected"
            )
        );
        hw_recovery_key_free(opened);
        hw_backup_writer_free(writer);
        hw_recovery_key_free(key);
    }
}

#[test]
fn maintenance_events_name_low_prekeys_and_a_due_rotation() {
    let account = new_account();
    let events = |now: u64| {
        // SAFETY: a live handle and a writable buffer.
        text_of(|b| unsafe { hw_account_maintenance_events(account, now, b, null_mut()) })
    };
    assert_eq!(events(NOW), "event.one_time_prekeys_low");
    assert_eq!(
        events(NOW + 365 * DAY),
        "event.prekey_rotation_due\nevent.one_time_prekeys_low"
    );
    // SAFETY: live handle, freed once.
    unsafe {
        ok(hw_account_generate_one_time_prekeys(
            account,
            100,
            100,
            NOW,
            null_mut(),
        ));
        assert_eq!(events(NOW), "");
        hw_account_free(account);
    }
}

#[test]
fn the_masker_finds_a_card_to_send_as_a_secure_field() {
    let text = "my card is 4242 4242 4242 4242, thanks";
    // SAFETY: valid buffers.
    unsafe {
        let mut found = hw_bytes::EMPTY;
        ok(hw_mask_find(
            text.as_ptr(),
            text.len(),
            &mut found,
            null_mut(),
        ));
        let found = taken(&mut found);
        assert_eq!(found.len(), HW_MASK_FINDING_LEN);
        assert_eq!(found[..2], [HW_KIND_CARD, HW_POLICY_KEEP_LAST4]);
        let start = u32::from_be_bytes(found[2..6].try_into().unwrap()) as usize;
        let end = u32::from_be_bytes(found[6..10].try_into().unwrap()) as usize;
        assert_eq!(&text[start..end], "4242 4242 4242 4242");
        // Nothing found: the output is overwritten with an empty buffer.
        let mut none = hw_bytes::from_vec(vec![1]);
        let mut earlier = hw_bytes {
            data: none.data,
            len: none.len,
            capacity: none.capacity,
        };
        ok(hw_mask_find(b"hello".as_ptr(), 5, &mut none, null_mut()));
        assert!(none.data.is_null() && none.len == 0);
        hw_bytes_free(&mut earlier);
        let (s, _, _) = failing(|e| hw_mask_find([0xffu8].as_ptr(), 1, &mut scratch(), e));
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
    }
}

#[test]
fn session_limits_are_checked_and_kept() {
    let account = new_account();
    let get = || {
        let mut v = [0u32; 4];
        let [a, b, c, d] = &mut v;
        // SAFETY: a live handle and writable outputs.
        ok(unsafe { hw_account_session_config(account, a, b, c, d, null_mut()) });
        v
    };
    let before = get();
    assert!(before.iter().all(|&v| v > 0));
    // SAFETY: a live handle.
    unsafe {
        let (s, code, _) = failing(|e| hw_account_set_session_config(account, 0, 1, 1, 1, e));
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "config.out_of_range")
        );
        assert_eq!(get(), before);
        ok(hw_account_set_session_config(
            account,
            100,
            200,
            3,
            4,
            null_mut(),
        ));
        assert_eq!(get(), [100, 200, 3, 4]);
        ok(hw_account_session_config(
            account,
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
        ));
        hw_account_free(account);
    }
}

#[test]
fn a_restored_identity_book_can_replace_an_existing_accounts() {
    let (alice, bob, other) = (new_account(), new_account(), new_account());
    let bk = identity_of(bob);
    let key = recovery_key();
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        ok(hw_account_mark_verified(
            alice,
            b"bob".as_ptr(),
            3,
            bk.as_ptr(),
            NOW,
            null_mut(),
        ));
        let (mut writer, mut manifest, mut entries) =
            (null_mut(), hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_backup_writer_create(
            key,
            null(),
            0,
            NOW,
            &mut writer,
            &mut manifest,
            null_mut(),
        ));
        drop(taken(&mut manifest));
        ok(hw_backup_writer_append_account(
            writer,
            alice,
            0,
            NOW,
            &mut entries,
            &mut manifest,
            null_mut(),
        ));
        let (list, manifest) = (taken(&mut entries), taken(&mut manifest));
        let mut stored = hw_bytes::EMPTY;
        ok(hw_backup_encode(
            null(),
            0,
            manifest.as_ptr(),
            manifest.len(),
            list.as_ptr(),
            list.len(),
            &mut stored,
            null_mut(),
        ));
        let stored = taken(&mut stored);
        let mut restored = null_mut();
        ok(hw_backup_restore(
            key,
            stored.as_ptr(),
            stored.len(),
            0,
            &mut restored,
            null_mut(),
        ));
        let mut has = 9u8;
        ok(hw_restored_backup_has_identity(
            restored,
            &mut has,
            null_mut(),
        ));
        assert_eq!(has, 0);
        let mut state = 9u8;
        ok(hw_account_verification_state(
            other,
            b"bob".as_ptr(),
            3,
            &mut state,
            null_mut(),
            null_mut(),
        ));
        assert_eq!(state, 0);
        ok(hw_restored_backup_apply_identity_book(
            restored,
            other,
            null_mut(),
        ));
        ok(hw_account_verification_state(
            other,
            b"bob".as_ptr(),
            3,
            &mut state,
            null_mut(),
            null_mut(),
        ));
        assert_eq!(state, 2);
        let (s, _, _) =
            failing(|e| hw_restored_backup_apply_identity_book(restored, null_mut(), e));
        assert_eq!(s, hw_status::HW_NULL_ARGUMENT);
        hw_restored_backup_free(restored);
        hw_backup_writer_free(writer);
        hw_recovery_key_free(key);
        hw_account_free(alice);
        hw_account_free(bob);
        hw_account_free(other);
    }
}

#[test]
fn a_range_of_an_attachment_decrypts_alone_and_a_thumbnail_rides_in_the_pointer() {
    let data = file(300_000);
    // SAFETY: valid buffers throughout.
    unsafe {
        let (mut object, mut pointer) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_attachment_encrypt(
            data.as_ptr(),
            data.len(),
            null(),
            0,
            null(),
            0,
            &mut object,
            &mut pointer,
            null_mut(),
        ));
        let (object, pointer) = (taken(&mut object), taken(&mut pointer));
        let (start, end) = (100_000u64, 200_123u64);
        let (mut from, mut to) = (0u64, 0u64);
        ok(hw_attachment_object_range(
            pointer.as_ptr(),
            pointer.len(),
            start,
            end,
            &mut from,
            &mut to,
            null_mut(),
        ));
        assert!(from < to && to <= object.len() as u64);
        let slice = &object[from as usize..to as usize];
        let mut part = hw_bytes::EMPTY;
        ok(hw_attachment_decrypt_range(
            pointer.as_ptr(),
            pointer.len(),
            start,
            end,
            slice.as_ptr(),
            slice.len(),
            &mut part,
            null_mut(),
        ));
        assert_eq!(taken(&mut part), &data[start as usize..end as usize]);
        // An altered chunk, a short slice, a range past the end.
        let mut altered = slice.to_vec();
        altered[100] ^= 1;
        let (s, _, _) = failing(|e| {
            hw_attachment_decrypt_range(
                pointer.as_ptr(),
                pointer.len(),
                start,
                end,
                altered.as_ptr(),
                altered.len(),
                &mut scratch(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_TAMPERED);
        let (s, code, _) = failing(|e| {
            hw_attachment_decrypt_range(
                pointer.as_ptr(),
                pointer.len(),
                start,
                end,
                slice.as_ptr(),
                slice.len() - 1,
                &mut scratch(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "attachment.ciphertext_length")
        );
        let (s, code, _) = failing(|e| {
            hw_attachment_object_range(
                pointer.as_ptr(),
                pointer.len(),
                0,
                data.len() as u64 + 1,
                &mut from,
                &mut to,
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (
                hw_status::HW_INVALID_INPUT,
                "attachment.range_out_of_bounds"
            )
        );

        let mut thumb = hw_bytes::EMPTY;
        ok(hw_attachment_pointer_thumbnail(
            pointer.as_ptr(),
            pointer.len(),
            &mut thumb,
            null_mut(),
        ));
        assert!(taken(&mut thumb).is_empty());
        let mut with = hw_bytes::EMPTY;
        ok(hw_attachment_pointer_set_thumbnail(
            pointer.as_ptr(),
            pointer.len(),
            b"tiny jpeg".as_ptr(),
            9,
            &mut with,
            null_mut(),
        ));
        let with = taken(&mut with);
        ok(hw_attachment_pointer_thumbnail(
            with.as_ptr(),
            with.len(),
            &mut thumb,
            null_mut(),
        ));
        assert_eq!(taken(&mut thumb), b"tiny jpeg");
        let big = vec![0u8; 1 << 20];
        let (s, code, _) = failing(|e| {
            hw_attachment_pointer_set_thumbnail(
                pointer.as_ptr(),
                pointer.len(),
                big.as_ptr(),
                big.len(),
                &mut scratch(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "attachment.field_too_long")
        );
        // The pointer with a thumbnail still decrypts the object.
        let mut whole = hw_bytes::EMPTY;
        ok(hw_attachment_decrypt(
            with.as_ptr(),
            with.len(),
            object.as_ptr(),
            object.len(),
            &mut whole,
            null_mut(),
        ));
        assert_eq!(taken(&mut whole), data);
    }
}

#[test]
fn a_labelled_blob_restores_only_into_its_slot_and_its_header_is_readable() {
    let p = pair();
    let key = [5u8; 32];
    let (slot, other) = (b"session/bob/phone", b"session/bob/laptop");
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let mut blob = hw_bytes::EMPTY;
        ok(hw_session_to_encrypted_labeled(
            p.2,
            key.as_ptr(),
            slot.as_ptr(),
            slot.len(),
            7,
            &mut blob,
            null_mut(),
        ));
        let blob = taken(&mut blob);
        let (mut tag, mut generation, mut version) = (0u8, 0u64, 0u16);
        ok(hw_blob_info(
            blob.as_ptr(),
            blob.len(),
            &mut tag,
            &mut generation,
            &mut version,
            null_mut(),
        ));
        assert_eq!((tag, generation), (2, 7));
        assert!(version > 0);
        let (s, _, _) =
            failing(|e| hw_blob_info(b"nope".as_ptr(), 4, null_mut(), null_mut(), null_mut(), e));
        assert_eq!(s, hw_status::HW_MALFORMED);

        let bob = identity_of(p.1);
        let mut back = null_mut();
        let (s, code, _) = failing(|e| {
            hw_session_from_encrypted_labeled(
                blob.as_ptr(),
                blob.len(),
                key.as_ptr(),
                0,
                bob.as_ptr(),
                other.as_ptr(),
                other.len(),
                &mut back,
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_TAMPERED, "restore.wrong_object")
        );
        assert!(back.is_null());
        ok(hw_session_from_encrypted_labeled(
            blob.as_ptr(),
            blob.len(),
            key.as_ptr(),
            7,
            bob.as_ptr(),
            slot.as_ptr(),
            slot.len(),
            &mut back,
            null_mut(),
        ));
        assert_eq!(carry(p.3, back, b"restored"), b"restored");
        hw_session_free(back);

        let mut ablob = hw_bytes::EMPTY;
        ok(hw_account_to_encrypted_labeled(
            p.0,
            key.as_ptr(),
            b"account".as_ptr(),
            7,
            1,
            &mut ablob,
            null_mut(),
        ));
        let ablob = taken(&mut ablob);
        let mut account = null_mut();
        let (s, _, _) = failing(|e| {
            hw_account_from_encrypted_labeled(
                ablob.as_ptr(),
                ablob.len(),
                key.as_ptr(),
                0,
                null(),
                0,
                &mut account,
                e,
            )
        });
        assert_eq!(s, hw_status::HW_TAMPERED);
        ok(hw_account_from_encrypted_labeled(
            ablob.as_ptr(),
            ablob.len(),
            key.as_ptr(),
            0,
            b"account".as_ptr(),
            7,
            &mut account,
            null_mut(),
        ));
        assert_eq!(identity_of(account), identity_of(p.0));
        hw_account_free(account);
        let long = vec![b'x'; 256];
        let (s, code, _) = failing(|e| {
            hw_account_to_encrypted_labeled(
                p.0,
                key.as_ptr(),
                long.as_ptr(),
                long.len(),
                1,
                &mut scratch(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "config.out_of_range")
        );

        let (mut group, mut welcome, mut dist) = (null_mut(), hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_group_create(
            p.0,
            bob.as_ptr(),
            1,
            &mut group,
            &mut welcome,
            &mut dist,
            null_mut(),
        ));
        drop((taken(&mut welcome), taken(&mut dist)));
        let mut gid = [0u8; 32];
        ok(hw_group_id(group, &mut gid, null_mut()));
        let mut gblob = hw_bytes::EMPTY;
        ok(hw_group_to_encrypted_labeled(
            group,
            key.as_ptr(),
            b"group/1".as_ptr(),
            7,
            3,
            &mut gblob,
            null_mut(),
        ));
        let gblob = taken(&mut gblob);
        let mut back_group = null_mut();
        ok(hw_group_from_encrypted_labeled(
            gblob.as_ptr(),
            gblob.len(),
            key.as_ptr(),
            3,
            gid.as_ptr(),
            b"group/1".as_ptr(),
            7,
            &mut back_group,
            null_mut(),
        ));
        let (s, _, _) = failing(|e| {
            hw_group_from_encrypted_labeled(
                gblob.as_ptr(),
                gblob.len(),
                key.as_ptr(),
                0,
                gid.as_ptr(),
                b"group/2".as_ptr(),
                7,
                &mut null_mut(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_TAMPERED);
        hw_group_free(back_group);
        hw_group_free(group);
    }
    free_pair(p);
}

#[test]
fn a_configured_masker_applies_its_own_policies() {
    let text = "card 4242 4242 4242 4242, mail dana@example.com";
    let new = |card, iban, email, phone| {
        let mut m = null_mut();
        // SAFETY: a writable output.
        ok(unsafe { hw_masker_new(card, iban, email, phone, &mut m, null_mut()) });
        m
    };
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let first6 = new(HW_POLICY_KEEP_FIRST6_LAST4, 0, HW_POLICY_MASK_ALL, 0);
        let mut changed = 0u8;
        let masked = text_of(|b| {
            hw_masker_mask(
                first6,
                text.as_ptr(),
                text.len(),
                b,
                &mut changed,
                null_mut(),
            )
        });
        assert_eq!(changed, 1);
        assert!(masked.contains("4242 42•• •••• 4242"), "{masked}");
        assert!(!masked.contains("dana@"), "{masked}");
        // The default masker only flags the e-mail address; this one masks it.
        let mut found = hw_bytes::EMPTY;
        ok(hw_mask_find(
            text.as_ptr(),
            text.len(),
            &mut found,
            null_mut(),
        ));
        let found = taken(&mut found);
        assert_eq!(found.len(), 2 * HW_MASK_FINDING_LEN);
        assert_eq!(
            found[HW_MASK_FINDING_LEN..][..2],
            [HW_KIND_EMAIL, HW_POLICY_FLAG_ONLY]
        );
        let mut own = hw_bytes::EMPTY;
        ok(hw_masker_find(
            first6,
            text.as_ptr(),
            text.len(),
            &mut own,
            null_mut(),
        ));
        let own = taken(&mut own);
        assert_eq!(
            own[HW_MASK_FINDING_LEN..][..2],
            [HW_KIND_EMAIL, HW_POLICY_MASK_ALL]
        );
        let (s, code, _) = failing(|e| hw_masker_check(first6, text.as_ptr(), text.len(), e));
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "mask_check.unmasked")
        );
        ok(hw_masker_check(
            first6,
            masked.as_ptr(),
            masked.len(),
            null_mut(),
        ));
        hw_masker_free(first6);

        // Cards only flagged: the text is left alone and the check lets it through.
        let flag = new(HW_POLICY_FLAG_ONLY, 0, 0, 0);
        let same = text_of(|b| {
            hw_masker_mask(flag, text.as_ptr(), text.len(), b, &mut changed, null_mut())
        });
        assert_eq!((same.as_str(), changed), (text, 0));
        ok(hw_masker_check(flag, text.as_ptr(), text.len(), null_mut()));
        hw_masker_free(flag);

        let (s, _, _) = failing(|e| hw_masker_new(9, 0, 0, 0, &mut null_mut(), e));
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        hw_masker_free(null_mut());
    }
}

#[test]
fn small_chunks_decrypt_one_at_a_time_and_a_misplaced_chunk_is_refused() {
    let data = file(20_000);
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let (s, code, _) =
            failing(|e| hw_attachment_encryptor_new_with_chunk_size(30, &mut null_mut(), e));
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "attachment.invalid_chunk_size")
        );
        let mut enc = null_mut();
        ok(hw_attachment_encryptor_new_with_chunk_size(
            12,
            &mut enc,
            null_mut(),
        ));
        let (mut out, mut pointer) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
        ok(hw_attachment_encryptor_push(
            enc,
            data.as_ptr(),
            data.len(),
            &mut out,
            null_mut(),
        ));
        let mut object = taken(&mut out);
        ok(hw_attachment_encryptor_finish(
            enc,
            null(),
            0,
            null(),
            0,
            &mut out,
            &mut pointer,
            null_mut(),
        ));
        object.extend(taken(&mut out));
        let pointer = taken(&mut pointer);
        hw_attachment_encryptor_free(enc);

        let (mut from, mut to, mut chunks) = (0u64, 0u64, 0u64);
        ok(hw_attachment_chunk_range(
            pointer.as_ptr(),
            pointer.len(),
            1,
            &mut from,
            &mut to,
            &mut chunks,
            null_mut(),
        ));
        assert!(chunks >= 5, "{chunks}");
        let chunk = &object[from as usize..to as usize];
        let mut plain = hw_bytes::EMPTY;
        ok(hw_attachment_decrypt_chunk(
            pointer.as_ptr(),
            pointer.len(),
            1,
            chunk.as_ptr(),
            chunk.len(),
            &mut plain,
            null_mut(),
        ));
        assert_eq!(taken(&mut plain), &data[4096..8192]);
        // Chunk 1's bytes read as chunk 2: refused.
        let (s, _, _) = failing(|e| {
            hw_attachment_decrypt_chunk(
                pointer.as_ptr(),
                pointer.len(),
                2,
                chunk.as_ptr(),
                chunk.len(),
                &mut scratch(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_TAMPERED);
        let (s, code, _) = failing(|e| {
            hw_attachment_chunk_range(
                pointer.as_ptr(),
                pointer.len(),
                chunks,
                &mut from,
                &mut to,
                null_mut(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "attachment.chunk_out_of_range")
        );
        // The whole object still decrypts in one go.
        let mut whole = hw_bytes::EMPTY;
        ok(hw_attachment_decrypt(
            pointer.as_ptr(),
            pointer.len(),
            object.as_ptr(),
            object.len(),
            &mut whole,
            null_mut(),
        ));
        assert_eq!(taken(&mut whole), data);
    }
}

/// A sender certificate for `account`'s identity from the org's server key.
fn certificate_for(o: &Org, account: *const hw_account) -> Vec<u8> {
    let key = identity_of(account);
    let mut cert = hw_bytes::EMPTY;
    // SAFETY: live handles and valid buffers.
    ok(unsafe {
        hw_sender_certificate_issue(
            o.key,
            o.key_cert.as_ptr(),
            o.key_cert.len(),
            1,
            b"user".as_ptr(),
            4,
            1,
            key.as_ptr(),
            0,
            NOW + DAY,
            &mut cert,
            null_mut(),
        )
    });
    taken(&mut cert)
}

fn seal_to(from: *const hw_account, cert: &[u8], to: &[u8; 32], message: &[u8]) -> Vec<u8> {
    let mut env = hw_bytes::EMPTY;
    // SAFETY: live handles and valid buffers.
    ok(unsafe {
        hw_seal(
            from,
            cert.as_ptr(),
            cert.len(),
            to.as_ptr(),
            1,
            NOW,
            0,
            message.as_ptr(),
            message.len(),
            &mut env,
            null_mut(),
        )
    });
    taken(&mut env)
}

#[test]
fn a_sealed_envelope_opens_straight_into_the_senders_session() {
    let o = org();
    let (alice, bob) = (new_account(), new_account());
    let (ak, bk) = (identity_of(alice), identity_of(bob));
    let cert = certificate_for(&o, alice);
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let mut trust = null_mut();
        ok(hw_trust_store_new(&mut trust, null_mut()));
        ok(hw_trust_store_add_root(
            trust,
            1,
            o.root_key.as_ptr(),
            null_mut(),
        ));
        let bundle = bundle_of(bob);
        ok(hw_account_start_session(
            alice,
            bundle.as_ptr(),
            bundle.len(),
            null_mut(),
            null_mut(),
            null_mut(),
        ));
        let env = seal_to(alice, &cert, &bk, &encrypt_for(alice, &bk, b"sealed hello"));
        let (mut out, mut sender, mut events) = (hw_bytes::EMPTY, [0u8; 32], hw_bytes::EMPTY);
        ok(hw_account_open_and_decrypt(
            bob,
            trust,
            env.as_ptr(),
            env.len(),
            NOW,
            &mut out,
            &mut sender,
            null_mut(),
            &mut events,
            null_mut(),
        ));
        assert_eq!((taken(&mut out), sender), (b"sealed hello".to_vec(), ak));
        assert!(
            String::from_utf8(taken(&mut events))
                .unwrap()
                .contains("event.session_established")
        );

        // Bob loses the session: the failure names the sender and the reason to reset.
        ok(hw_account_forget_peer(
            bob,
            ak.as_ptr(),
            null_mut(),
            null_mut(),
        ));
        let env = seal_to(alice, &cert, &bk, &encrypt_for(alice, &bk, b"lost"));
        let mut who = [0u8; 32];
        let (s, code, reason) = failing(|e| {
            hw_account_open_and_decrypt(
                bob,
                trust,
                env.as_ptr(),
                env.len(),
                NOW,
                &mut scratch(),
                &mut who,
                null_mut(),
                null_mut(),
                e,
            )
        });
        // Its prekey message again, for a session Bob no longer holds: refused as a replayed
        // handshake, and a reason to ask for a fresh session.
        assert_eq!(
            (s, code.as_str(), reason),
            (
                hw_status::HW_REPLAY,
                "sealed_session.peer",
                HW_RESET_NO_SESSION
            )
        );
        assert_eq!(who, ak);
        hw_account_free(alice);
        hw_account_free(bob);
        hw_trust_store_free(trust);
    }

    let p = pair();
    let cert = certificate_for(&o, p.0);
    let bob = identity_of(p.1);
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let mut trust = null_mut();
        ok(hw_trust_store_new(&mut trust, null_mut()));
        ok(hw_trust_store_add_root(
            trust,
            1,
            o.root_key.as_ptr(),
            null_mut(),
        ));
        let mut wire = hw_bytes::EMPTY;
        ok(hw_session_encrypt(
            p.2,
            b"via session".as_ptr(),
            11,
            &mut wire,
            null_mut(),
        ));
        let env = seal_to(p.0, &cert, &bob, &taken(&mut wire));
        // Alice's own session (with Bob, not with the sender) is the wrong one.
        let (s, code, _) = failing(|e| {
            hw_session_open_and_decrypt(
                p.1,
                p.2,
                trust,
                env.as_ptr(),
                env.len(),
                NOW,
                &mut scratch(),
                null_mut(),
                e,
            )
        });
        assert_eq!(
            (s, code.as_str()),
            (hw_status::HW_INVALID_INPUT, "sealed_session.wrong_session")
        );
        let (mut out, mut sender) = (hw_bytes::EMPTY, [0u8; 32]);
        ok(hw_session_open_and_decrypt(
            p.1,
            p.3,
            trust,
            env.as_ptr(),
            env.len(),
            NOW,
            &mut out,
            &mut sender,
            null_mut(),
        ));
        assert_eq!(
            (taken(&mut out), sender),
            (b"via session".to_vec(), identity_of(p.0))
        );
        hw_trust_store_free(trust);
        hw_issuer_free(o.root);
        hw_issuer_free(o.key);
    }
    free_pair(p);
}

#[test]
fn a_multi_recipient_message_splits_into_envelopes_each_recipient_opens() {
    let o = org();
    let (alice, bob, carol) = (new_account(), new_account(), new_account());
    let (bk, ck) = (identity_of(bob), identity_of(carol));
    let cert = certificate_for(&o, alice);
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let mut trust = null_mut();
        ok(hw_trust_store_new(&mut trust, null_mut()));
        ok(hw_trust_store_add_root(
            trust,
            1,
            o.root_key.as_ptr(),
            null_mut(),
        ));
        let both = [bk, ck].concat();
        let seal = |keys: &[u8], count: usize, out: &mut hw_bytes, e| {
            hw_seal_multi(
                alice,
                cert.as_ptr(),
                cert.len(),
                keys.as_ptr(),
                count,
                0x80,
                NOW,
                0,
                b"to all".as_ptr(),
                6,
                out,
                e,
            )
        };
        let mut multi = hw_bytes::EMPTY;
        ok(seal(&both, 2, &mut multi, null_mut()));
        let multi = taken(&mut multi);
        let (s, _, _) = failing(|e| seal(&[bk, bk].concat(), 2, &mut scratch(), e));
        assert_eq!(s, hw_status::HW_INVALID_INPUT);
        let (s, _, _) = failing(|e| seal(&[], 0, &mut scratch(), e));
        assert_eq!(s, hw_status::HW_INVALID_INPUT);

        for (account, key) in [(bob, bk), (carol, ck)] {
            let (mut env, mut list) = (hw_bytes::EMPTY, hw_bytes::EMPTY);
            ok(hw_multi_recipient_envelope(
                multi.as_ptr(),
                multi.len(),
                key.as_ptr(),
                &mut env,
                &mut list,
                null_mut(),
            ));
            assert_eq!(taken(&mut list), both);
            let env = taken(&mut env);
            let (mut msg, mut content_type) = (hw_bytes::EMPTY, 0u8);
            ok(hw_open(
                account,
                trust,
                env.as_ptr(),
                env.len(),
                NOW,
                &mut msg,
                null_mut(),
                &mut content_type,
                null_mut(),
                null_mut(),
            ));
            assert_eq!((taken(&mut msg), content_type), (b"to all".to_vec(), 0x80));
        }
        let stranger = identity_of(alice);
        let (s, _, _) = failing(|e| {
            hw_multi_recipient_envelope(
                multi.as_ptr(),
                multi.len(),
                stranger.as_ptr(),
                &mut scratch(),
                null_mut(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_INVALID_ARGUMENT);
        let (s, _, _) = failing(|e| {
            hw_multi_recipient_envelope(
                b"junk".as_ptr(),
                4,
                bk.as_ptr(),
                &mut scratch(),
                null_mut(),
                e,
            )
        });
        assert_eq!(s, hw_status::HW_MALFORMED);
        hw_trust_store_free(trust);
        hw_account_free(alice);
        hw_account_free(bob);
        hw_account_free(carol);
        hw_issuer_free(o.root);
        hw_issuer_free(o.key);
    }
}

// ─── the error's JSON object (hw_error_json, SPEC.md §8.4) ─────────────────────────────────

/// The JSON object of an error (parsed), checked against its code and kind, then freed.
fn json_of(err: *mut hw_error) -> serde_json::Value {
    assert!(!err.is_null());
    // SAFETY: an error object the library just wrote, freed here once.
    unsafe {
        let text = std::ffi::CStr::from_ptr(hw_error_json(err))
            .to_str()
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        let code = std::ffi::CStr::from_ptr(hw_error_code(err))
            .to_str()
            .unwrap();
        let kind = std::ffi::CStr::from_ptr(hw_error_kind(err))
            .to_str()
            .unwrap();
        assert_eq!(json["code"], code, "{text}");
        assert_eq!(json["kind"], kind, "{text}");
        assert!(json["fields"].is_object(), "{text}");
        hw_error_free(err);
        json
    }
}

/// Runs a call that must fail and returns its error's JSON object.
fn failing_json(f: impl FnOnce(*mut *mut hw_error) -> hw_status) -> serde_json::Value {
    let mut err = null_mut();
    assert_ne!(f(&mut err), hw_status::HW_OK);
    json_of(err)
}

#[test]
fn the_error_json_carries_code_kind_and_typed_fields() {
    let p = pair();
    // SAFETY: live handles and valid buffers throughout; NULL where a function must refuse it.
    unsafe {
        let mut m = hw_bytes::EMPTY;
        ok(hw_session_encrypt(
            p.3,
            b"once".as_ptr(),
            4,
            &mut m,
            null_mut(),
        ));
        let mut m = take(m);
        // A tampered message: its code and kind, no fields.
        let last = m.len() - 1;
        m[last] ^= 1;
        let json = failing_json(|e| {
            let mut out = hw_bytes::EMPTY;
            hw_session_decrypt(p.2, m.as_ptr(), m.len(), &mut out, e)
        });
        assert_eq!(json["kind"], "tampered");
        assert!(json["code"].as_str().unwrap().starts_with("decrypt."));
        // A replayed message: the duplicate's counter.
        m[last] ^= 1;
        let mut out = hw_bytes::EMPTY;
        ok(hw_session_decrypt(
            p.2,
            m.as_ptr(),
            m.len(),
            &mut out,
            null_mut(),
        ));
        assert_eq!(take(out), b"once");
        let json = failing_json(|e| {
            let mut out = hw_bytes::EMPTY;
            hw_session_decrypt(p.2, m.as_ptr(), m.len(), &mut out, e)
        });
        assert_eq!(
            (&json["code"], &json["kind"]),
            (&"decrypt.duplicate".into(), &"replay".into())
        );
        assert!(json["fields"]["counter"].is_u64(), "{json}");

        // The boundary's own failure: empty fields.
        let json =
            failing_json(|e| hw_session_encrypt(null_mut(), b"x".as_ptr(), 1, null_mut(), e));
        assert_eq!(
            json,
            serde_json::json!({
                "code": "ffi.null_argument", "kind": "null_argument", "fields": {}
            })
        );
        assert_eq!(*hw_error_json(null()), 0);
    }
    free_pair(p);

    let (alice, bob) = (new_account(), new_account());
    let (ak, bk) = (identity_of(alice), identity_of(bob));
    // SAFETY: live handles and valid buffers throughout.
    unsafe {
        let bundle = bundle_of(bob);
        let (mut started, mut events) = ([0u8; 32], hw_bytes::EMPTY);
        ok(hw_account_start_session(
            alice,
            bundle.as_ptr(),
            bundle.len(),
            &mut started,
            &mut events,
            null_mut(),
        ));
        taken(&mut events);
        let first = encrypt_for(alice, &bk, b"hello");
        decrypt_from(bob, &ak, &first).unwrap();
        // A wrapped error: the inner error's object under `error`.
        let mut junk = encrypt_for(bob, &ak, b"real");
        let last = junk.len() - 1;
        junk[last] ^= 1;
        let json = failing_json(|e| {
            let (mut out, mut events, mut id) = (hw_bytes::EMPTY, hw_bytes::EMPTY, [0u8; 32]);
            hw_account_decrypt_from(
                alice,
                bk.as_ptr(),
                junk.as_ptr(),
                junk.len(),
                NOW,
                &mut out,
                &mut id,
                &mut events,
                e,
            )
        });
        assert_eq!(json["code"], "peer.decrypt");
        let inner = &json["fields"]["error"];
        assert!(
            inner["code"].as_str().unwrap().starts_with("decrypt."),
            "{json}"
        );
        assert_eq!(inner["kind"], "tampered");
        assert!(inner["fields"].is_object());

        // A rate-limited reset request: the seconds to wait.
        let mut request = hw_bytes::EMPTY;
        ok(hw_account_reset_request(
            bob,
            ak.as_ptr(),
            HW_RESET_NO_SESSION,
            NOW - 10,
            NOW,
            &mut request,
            null_mut(),
        ));
        taken(&mut request);
        let json = failing_json(|e| {
            let mut r = hw_bytes::EMPTY;
            hw_account_reset_request(
                bob,
                ak.as_ptr(),
                HW_RESET_NO_SESSION,
                NOW,
                NOW + 1,
                &mut r,
                e,
            )
        });
        assert_eq!(json["code"], "reset.rate_limited");
        assert_eq!(json["kind"], "limit_exceeded");
        let wait = json["fields"]["retry_after_secs"].as_u64().unwrap();
        assert!(wait > 0, "{json}");
        hw_account_free(alice);
        hw_account_free(bob);
    }
}
