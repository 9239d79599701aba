//! The example relay's frame parser (`examples/chat/src/frame.rs`) on arbitrary bytes, as a
//! stream and as a single body: no panic, and every frame that decodes re-encodes to exactly
//! the bytes it came from (one encoding per frame).
//!
//! `examples/chat/tests/transport.rs` replays `fuzz/corpus/relay_frame/` through the same check on stable.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/chat/src/frame.rs"]
mod frame;

fuzz_target!(|data: &[u8]| check(data));

fn check(data: &[u8]) {
    // As a stream of frames: split until the bytes run out or stop being frames.
    let mut rest = data;
    while let Ok(Some((parsed, used))) = frame::split_frame(rest) {
        assert!(used > frame::HEADER_LEN && used <= rest.len());
        let (bytes, tail) = rest.split_at(used);
        assert_eq!(parsed.encode().ok().as_deref(), Some(bytes), "{parsed:?}");
        rest = tail;
    }
    // As one body (what the relay decodes after reading a length prefix).
    if let Ok(parsed) = frame::Frame::decode(data) {
        assert_eq!(parsed.encode_body(), data, "{parsed:?}");
        assert_eq!(
            frame::Frame::decode(&parsed.encode_body()).ok(),
            Some(parsed)
        );
    }
    // The length prefix alone.
    if let Some(header) = data.first_chunk::<{ frame::HEADER_LEN }>() {
        if let Ok(len) = frame::body_len(*header) {
            assert!((1..=frame::MAX_FRAME_LEN).contains(&len));
        }
    }
}
