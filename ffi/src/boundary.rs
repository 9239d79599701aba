//! The boundary: status codes, the error object, owned buffers, and the only unsafe code of
//! the crate (reading borrowed inputs, writing outputs, handle dereference and release).
//!
//! Every exported function runs its body through [`call`], which catches panics. Every
//! pointer it receives goes through one of the helpers here, which check it for NULL first.
//! Their soundness rests on the contract every exported function states in its `# Safety`
//! section (and the header repeats): a non-NULL pointer points to what its type says, valid
//! for the call, and a handle is one this library returned and that was not freed.

use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

use zeroize::Zeroize;

/// The result of every call: 0 is success, anything else a failure (details in the optional
/// `hw_error`). The values never change once released.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hw_status {
    /// Success.
    HW_OK = 0,
    /// A required pointer argument was NULL (or a NULL buffer with a non-zero length).
    HW_NULL_ARGUMENT = 1,
    /// An argument is out of range (a length above `PTRDIFF_MAX`, a count that overflows).
    HW_INVALID_ARGUMENT = 2,
    /// The library panicked inside the call (a bug): nothing unwound into C. A handle that
    /// was in use is poisoned.
    HW_PANIC = 3,
    /// The handle is poisoned: an earlier call panicked while using it. Free it.
    HW_POISONED = 4,
    /// The operating system's random number generator failed; nothing was changed.
    HW_RNG_FAILURE = 5,
    /// Malformed input: not a well-formed hushwire structure.
    HW_MALFORMED = 10,
    /// Authentication failed: forged, tampered with, or under keys this state does not have.
    HW_TAMPERED = 11,
    /// The message belongs to a session (or prekey) this state does not know.
    HW_UNKNOWN_SESSION = 12,
    /// Already processed (a replay or a duplicate delivery).
    HW_REPLAY = 13,
    /// A configured or protocol limit was hit.
    HW_LIMIT_EXCEEDED = 14,
    /// A caller-supplied value is invalid (for example an out-of-range configuration or an
    /// invalid key).
    HW_INVALID_INPUT = 15,
    /// Our state or the peer's is out of step: reset the session.
    HW_STATE_OUT_OF_SYNC = 16,
    /// The credential behind the data is not trusted now (expired, revoked, unknown root).
    HW_UNTRUSTED = 17,
    /// An error of a kind this ABI version does not name (from a newer core).
    HW_OTHER = 99,
}

/// A failure, before it becomes a status and an optional `hw_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    status: hw_status,
    kind: &'static str,
    code: &'static str,
    message: String,
    /// The `HW_RESET_*` reason to answer the failure with (0: none).
    reset_reason: u8,
    /// The core's error, if the failure is one: its message and JSON object (SPEC.md §8.4)
    /// are written only when the caller asks for an `hw_error`, not on every failure. Boxed
    /// so that every `Result<_, Failure>` stays small.
    source: Option<Box<hushwire::Error>>,
}

/// The shared encoder of SPEC.md §8.4 (the vector tests use the same file, strictly).
#[path = "../../tests/common/vector_json.rs"]
mod vector_json;

impl Failure {
    fn ffi(status: hw_status, kind: &'static str, message: String) -> Self {
        let code = match status {
            hw_status::HW_NULL_ARGUMENT => "ffi.null_argument",
            hw_status::HW_INVALID_ARGUMENT => "ffi.invalid_argument",
            hw_status::HW_PANIC => "ffi.panic",
            hw_status::HW_POISONED => "ffi.poisoned",
            hw_status::HW_RNG_FAILURE => "ffi.rng_failure",
            _ => "ffi.other",
        };
        Failure {
            status,
            kind,
            code,
            message,
            reset_reason: crate::HW_RESET_NONE,
            source: None,
        }
    }

    /// A NULL pointer where one was required.
    pub(crate) fn null(what: &str) -> Self {
        Self::ffi(
            hw_status::HW_NULL_ARGUMENT,
            "null_argument",
            format!("`{what}` is NULL"),
        )
    }

    /// An out-of-range argument.
    pub(crate) fn invalid(message: String) -> Self {
        Self::ffi(hw_status::HW_INVALID_ARGUMENT, "invalid_argument", message)
    }

    fn panic() -> Self {
        Self::ffi(
            hw_status::HW_PANIC,
            "panic",
            "hushwire panicked inside the call (a bug); the handle in use is poisoned".into(),
        )
    }

    fn poisoned() -> Self {
        Self::ffi(
            hw_status::HW_POISONED,
            "poisoned",
            "the handle is poisoned by an earlier panic; free it".into(),
        )
    }

    /// The OS RNG failed.
    pub(crate) fn rng() -> Self {
        Self::ffi(
            hw_status::HW_RNG_FAILURE,
            "rng_failure",
            "the operating system's random number generator failed".into(),
        )
    }

    #[cfg(test)]
    pub(crate) fn status(&self) -> hw_status {
        self.status
    }
}

impl<E: Into<hushwire::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        let e: hushwire::Error = e.into();
        let kind = e.kind();
        let status = match kind {
            hushwire::ErrorKind::Malformed => hw_status::HW_MALFORMED,
            hushwire::ErrorKind::Tampered => hw_status::HW_TAMPERED,
            hushwire::ErrorKind::UnknownSession => hw_status::HW_UNKNOWN_SESSION,
            hushwire::ErrorKind::Replay => hw_status::HW_REPLAY,
            hushwire::ErrorKind::LimitExceeded => hw_status::HW_LIMIT_EXCEEDED,
            hushwire::ErrorKind::InvalidInput => hw_status::HW_INVALID_INPUT,
            hushwire::ErrorKind::StateOutOfSync => hw_status::HW_STATE_OUT_OF_SYNC,
            hushwire::ErrorKind::Untrusted => hw_status::HW_UNTRUSTED,
            _ => hw_status::HW_OTHER,
        };
        let reset_reason = match &e {
            hushwire::Error::Peer(p)
            | hushwire::Error::SealedSession(hushwire::SealedSessionError::Peer(p)) => p
                .reset_reason()
                .map_or(crate::HW_RESET_NONE, crate::reset_reason_code),
            _ => crate::HW_RESET_NONE,
        };
        Failure {
            status,
            kind: kind.code(),
            code: e.code(),
            message: String::new(),
            reset_reason,
            source: Some(Box::new(e)),
        }
    }
}

/// The details of a failed call: its status, the error kind and the stable code of the Rust
/// error (SPEC.md §8.4), its JSON object with the typed fields (§8.4), and a message for
/// logs. Immutable: it may be read from any thread. Free it with `hw_error_free`.
#[allow(non_camel_case_types)]
pub struct hw_error {
    pub(crate) status: hw_status,
    pub(crate) kind: CString,
    pub(crate) code: CString,
    pub(crate) message: CString,
    pub(crate) reset_reason: u8,
    pub(crate) json: CString,
}

impl hw_error {
    fn new(f: Failure) -> Self {
        // The strings come from the core's codes and `Display`, which hold no NUL; a NUL is
        // dropped rather than failing the report.
        let c = |s: &str| CString::new(s.replace('\0', "")).unwrap_or_default();
        hw_error {
            status: f.status,
            kind: c(f.kind),
            code: c(f.code),
            message: c(&f.source.as_ref().map_or(f.message, |e| e.to_string())),
            reset_reason: f.reset_reason,
            json: c(&match f.source {
                Some(e) => vector_json::error_json_lenient(*e),
                None => serde_json::json!({ "code": f.code, "kind": f.kind, "fields": {} }),
            }
            .to_string()),
        }
    }
}

/// Runs the body of an exported function: catches a panic (reported as `HW_PANIC`), turns a
/// failure into its status, and hands the error object to `err` when it is not NULL.
pub(crate) fn call<F>(err: *mut *mut hw_error, body: F) -> hw_status
where
    F: FnOnce() -> Result<(), Failure>,
{
    // A panic inside `body` unwinds through any `MutexGuard` it holds, which poisons that
    // handle's mutex: later calls on it get `HW_POISONED` (see `lock`). Nothing else is
    // observed after a panic, so asserting unwind safety is sound.
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return hw_status::HW_OK,
        Ok(Err(failure)) => failure,
        Err(_) => Failure::panic(),
    };
    let status = failure.status;
    if let Some(out) = Out::optional(err) {
        out.write(into_handle(hw_error::new(failure)));
    }
    status
}

/// Runs an infallible accessor, mapping a panic to `fallback` (used where the C signature
/// has no status, such as the error accessors).
pub(crate) fn call_value<T, F: FnOnce() -> T>(fallback: T, body: F) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Locks a handle's state; a handle poisoned by a panic refuses further use.
pub(crate) fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, Failure> {
    m.lock().map_err(|_| Failure::poisoned())
}

/// An owned byte buffer returned by the library. Read `data[0..len]`; free it with
/// `hw_bytes_free`, which overwrites it with zeros first. `capacity` is the library's
/// bookkeeping: never change any field. An empty buffer has `data == NULL`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct hw_bytes {
    /// The first byte (NULL when `len` is 0).
    pub data: *mut u8,
    /// Number of bytes.
    pub len: usize,
    /// The allocation's size (for `hw_bytes_free` only).
    pub capacity: usize,
}

impl hw_bytes {
    /// An empty buffer.
    pub const EMPTY: hw_bytes = hw_bytes {
        data: std::ptr::null_mut(),
        len: 0,
        capacity: 0,
    };

    /// Hands a vector over to C without copying it.
    pub(crate) fn from_vec(v: Vec<u8>) -> Self {
        if v.capacity() == 0 {
            return hw_bytes::EMPTY;
        }
        let mut v = std::mem::ManuallyDrop::new(v);
        hw_bytes {
            data: v.as_mut_ptr(),
            len: v.len(),
            capacity: v.capacity(),
        }
    }

    /// Takes a buffer back and wipes it (its whole allocation) before freeing it.
    pub(crate) fn free(&mut self) {
        let taken = std::mem::replace(self, hw_bytes::EMPTY);
        if taken.data.is_null() || taken.capacity == 0 || taken.len > taken.capacity {
            return;
        }
        // SAFETY: a non-NULL `data` with its `len` and `capacity` unchanged comes from
        // `from_vec` (the contract of `hw_bytes_free`): it is exactly the parts of a
        // `Vec<u8>` that was forgotten, not freed since (the struct is reset to empty here,
        // so the same value cannot be freed twice through this pointer).
        let mut v = unsafe { Vec::from_raw_parts(taken.data, taken.len, taken.capacity) };
        // `Vec::zeroize` wipes the whole capacity, not only `len` bytes.
        v.zeroize();
    }
}

/// A borrowed input buffer: `len` bytes at `ptr`. `ptr` may be NULL only when `len` is 0.
pub(crate) fn input<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    if isize::try_from(len).is_err() {
        return Err(Failure::invalid(format!(
            "`{what}` length {len} is too large"
        )));
    }
    // SAFETY: `ptr` is not NULL, `len` fits `isize`, and the caller guarantees (the contract
    // of every exported function) that `ptr` points to `len` initialized bytes that stay
    // valid and unmodified for the duration of the call, which bounds the borrow.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A borrowed 32-byte key (identity key, storage key, group id).
pub(crate) fn key32(ptr: *const u8, what: &str) -> Result<[u8; 32], Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    let bytes = input(ptr, 32, what)?;
    bytes
        .try_into()
        .map_err(|_| Failure::invalid(format!("`{what}` is not 32 bytes")))
}

/// An optional borrowed 32-byte key: NULL means none.
pub(crate) fn optional_key32(ptr: *const u8, what: &str) -> Result<Option<[u8; 32]>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        key32(ptr, what).map(Some)
    }
}

/// An output location, checked for NULL before any work is done, so that a call never
/// changes state and then fails to hand back its result.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// A required output.
    pub(crate) fn new(ptr: *mut T, what: &str) -> Result<Self, Failure> {
        NonNull::new(ptr)
            .map(Out)
            .ok_or_else(|| Failure::null(what))
    }

    /// An optional output: NULL means the caller does not want it.
    pub(crate) fn optional(ptr: *mut T) -> Option<Self> {
        NonNull::new(ptr).map(Out)
    }

    /// Writes the value, without reading or dropping what was there.
    pub(crate) fn write(self, value: T) {
        // SAFETY: the pointer is not NULL, and the caller guarantees it is valid for writes
        // of a `T` and suitably aligned (the contract of every exported function). `write`
        // neither reads nor drops the previous contents, which may be uninitialized.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// Moves a value to the heap and hands C an owning pointer to it.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Borrows a handle for the duration of a call.
pub(crate) fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: not NULL; the caller guarantees it is a live handle of this type returned by
    // this library (from `into_handle`) and not yet freed. Handles are only ever borrowed
    // shared (`&T`): their state sits behind a `Mutex`, so concurrent calls are sound.
    Ok(unsafe { &*ptr })
}

/// Frees a handle (NULL is a no-op).
pub(crate) fn free_handle<T>(ptr: *mut T) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: not NULL; the caller guarantees it came from `into_handle` with this type, is
    // freed once, and that no other call uses it at the same time or after.
    drop(unsafe { Box::from_raw(ptr) });
}

/// A pointer to a static NUL-terminated string.
pub(crate) fn static_cstr(s: &'static std::ffi::CStr) -> *const c_char {
    s.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_a_status_and_poisons_the_handle() {
        let m = Mutex::new(5u32);
        let mut err: *mut hw_error = std::ptr::null_mut();
        let status = call(&mut err, || {
            let _guard = lock(&m)?;
            #[allow(clippy::panic)]
            {
                panic!("a bug inside the call")
            }
        });
        assert_eq!(status, hw_status::HW_PANIC);
        let e = handle(err, "err").unwrap();
        assert_eq!(e.code.to_str().unwrap(), "ffi.panic");
        let json: serde_json::Value = serde_json::from_str(e.json.to_str().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "code": "ffi.panic", "kind": "panic", "fields": {} })
        );
        free_handle(err);

        let status = call(std::ptr::null_mut(), || lock(&m).map(|_| ()));
        assert_eq!(status, hw_status::HW_POISONED);
    }

    #[test]
    fn null_and_oversized_inputs_have_their_own_status() {
        assert_eq!(
            input(std::ptr::null(), 3, "x").unwrap_err().status(),
            hw_status::HW_NULL_ARGUMENT
        );
        assert!(input(std::ptr::null(), 0, "x").unwrap().is_empty());
        let b = [0u8; 1];
        assert_eq!(
            input(b.as_ptr(), usize::MAX, "x").unwrap_err().status(),
            hw_status::HW_INVALID_ARGUMENT
        );
        assert!(Out::<u8>::new(std::ptr::null_mut(), "out").is_err());
    }

    #[test]
    fn freeing_a_buffer_empties_it_and_a_second_free_is_harmless() {
        let mut b = hw_bytes::from_vec(vec![1, 2, 3]);
        assert_eq!(b.len, 3);
        b.free();
        assert!(b.data.is_null());
        b.free();
        let mut empty = hw_bytes::from_vec(Vec::new());
        assert!(empty.data.is_null());
        empty.free();
    }
}
