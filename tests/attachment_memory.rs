//! Heap use of the attachment encryptor and decryptor, measured with `dhat` (SPEC.md §16.5.3):
//! whatever the file size, streaming a file through them holds at most two chunks plus a
//! constant, the caller's output buffer included.
//!
//! One test in its own binary: `dhat` counts every allocation of the process while it runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hushwire::attachment::{AttachmentDecryptor, AttachmentEncryptor, ChunkSize};
use rand_core::SeedableRng;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Bytes allowed beyond two sealed chunks and the header: the decryptor's boxed reader and
/// small allocations of the test itself.
const CONSTANT: usize = 1_024;

/// Peak heap bytes while `f` runs (allocations made before it are not counted).
fn peak(f: impl FnOnce()) -> usize {
    let _profiler = dhat::Profiler::builder().testing().build();
    f();
    dhat::HeapStats::get().max_bytes
}

#[test]
fn streaming_holds_at_most_two_chunks_whatever_the_file_size() {
    for (log2, file_len) in [(16u8, 32usize << 20), (20, 64 << 20)] {
        let chunk = ChunkSize::from_log2(log2).unwrap();
        let size = chunk.bytes();
        // Pieces that do not line up with chunks, as a file reader gives them.
        let piece = vec![0x5a_u8; 10_007];
        let pieces = file_len / piece.len();
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(u64::from(log2));

        // Encrypt, keeping the object for the decryption below (outside the measurement).
        let mut object = Vec::new();
        let mut pointer = None;
        let encrypt_peak = peak(|| {
            let mut encryptor = AttachmentEncryptor::with_chunk_size(chunk, &mut rng);
            let mut out = Vec::new();
            for _ in 0..pieces {
                encryptor.push(&piece, &mut out).unwrap();
                out.clear();
            }
            loop {
                let done = encryptor.finish_chunk(&mut out).unwrap();
                out.clear();
                if let Some(p) = done {
                    pointer = Some(p);
                    break;
                }
            }
        });
        let pointer = pointer.unwrap();
        {
            let mut rng = chacha20::ChaCha20Rng::seed_from_u64(u64::from(log2));
            let mut encryptor = AttachmentEncryptor::with_chunk_size(chunk, &mut rng);
            for _ in 0..pieces {
                encryptor.push(&piece, &mut object).unwrap();
            }
            assert_eq!(encryptor.finish(&mut object).unwrap(), pointer);
        }

        let mut released = 0usize;
        let decrypt_peak = peak(|| {
            let mut decryptor = AttachmentDecryptor::new(&pointer);
            let mut out = Vec::new();
            for part in object.chunks(10_007) {
                decryptor.push(part, &mut out).unwrap();
                released += out.len();
                out.clear();
            }
            decryptor.finish().map_err(|(_, e)| e).unwrap();
        });
        assert_eq!(released, pieces * piece.len());

        let bound = 2 * (size + 16) + 38 + CONSTANT;
        eprintln!(
            "chunk {size} B, file {file_len} B: peak heap encrypting {encrypt_peak} B, \
             decrypting {decrypt_peak} B; bound 2 chunks + constant = {bound} B"
        );
        assert!(encrypt_peak <= bound, "encrypt peak {encrypt_peak}");
        assert!(decrypt_peak <= bound, "decrypt peak {decrypt_peak}");
    }
}
