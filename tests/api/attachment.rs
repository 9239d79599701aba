//! Attachments (SPEC.md §16): round trips at every interesting length, the typed refusal of
//! truncated, reordered, duplicated, flipped and spliced objects, random access, pointers
//! inside real messages, property tests, and the fixed vectors of
//! `tests/vectors/attachment/` checked against an independent reference.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

#[path = "../vectors/attachment/reference.rs"]
mod reference;

use crate::common::vector_file;

use crate::common::vector_json;

use std::convert::Infallible;

use hushwire::attachment::{
    self, AttachmentDecryptor, AttachmentEncryptor, AttachmentError, AttachmentPointer,
    AttachmentReader, ChunkSize, MAX_ATTACHMENT_LEN, ciphertext_len, padded_len,
};
use hushwire::{DecodeError, ErrorKind};
use proptest::prelude::*;
use rand_core::{TryCryptoRng, TryRng};

const HEADER: usize = attachment::ATTACHMENT_HEADER_LEN;

fn cs(log2: u8) -> ChunkSize {
    ChunkSize::from_log2(log2).unwrap()
}

/// A file whose bytes differ at every position of a chunk and between files.
fn file(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(37) ^ ((i >> 12) as u8))
        .collect()
}

/// Encrypts `plaintext` pushed in pieces of `piece` bytes; returns the object and pointer.
fn encrypt_in_pieces(
    plaintext: &[u8],
    chunk: ChunkSize,
    piece: usize,
    seed: u64,
) -> (Vec<u8>, AttachmentPointer) {
    let mut rng = common::rng(seed);
    let mut encryptor = AttachmentEncryptor::with_chunk_size(chunk, &mut rng);
    let mut object = Vec::new();
    for part in plaintext.chunks(piece.max(1)) {
        encryptor.push(part, &mut object).unwrap();
    }
    let pointer = encryptor.finish(&mut object).unwrap();
    (object, pointer)
}

fn encrypt(plaintext: &[u8], chunk: ChunkSize, seed: u64) -> (Vec<u8>, AttachmentPointer) {
    encrypt_in_pieces(plaintext, chunk, 1000, seed)
}

/// Streams `object` into a decryptor in one push, then finishes: the file, or the first
/// error with what had been released before it.
fn stream_decrypt(
    pointer: &AttachmentPointer,
    object: &[u8],
) -> Result<Vec<u8>, (AttachmentError, Vec<u8>)> {
    let mut decryptor = AttachmentDecryptor::new(pointer);
    let mut out = Vec::new();
    decryptor
        .push(object, &mut out)
        .map_err(|e| (e, out.clone()))?;
    decryptor.finish().map_err(|(_, e)| (e, out.clone()))?;
    Ok(out)
}

/// Streams `object` in pieces of `piece` bytes: the file, or the first error with what had
/// been released before it.
fn stream_decrypt_in_pieces(
    pointer: &AttachmentPointer,
    object: &[u8],
    piece: usize,
) -> Result<Vec<u8>, (AttachmentError, Vec<u8>)> {
    let mut decryptor = AttachmentDecryptor::new(pointer);
    let mut out = Vec::new();
    for part in object.chunks(piece.max(1)) {
        decryptor
            .push(part, &mut out)
            .map_err(|e| (e, out.clone()))?;
    }
    decryptor.finish().map_err(|(_, e)| (e, out.clone()))?;
    Ok(out)
}

/// Streams `object` pushing the header, then each chunk (by the pointer's layout), then any
/// rest, each in its own push: the file, or the first error with what had been released.
fn stream_decrypt_by_chunk(
    pointer: &AttachmentPointer,
    object: &[u8],
) -> Result<Vec<u8>, (AttachmentError, Vec<u8>)> {
    let mut cuts = vec![0, HEADER];
    cuts.extend((0..pointer.chunk_count()).map(|k| pointer.chunk_range(k).unwrap().end as usize));
    cuts.push(object.len());
    let mut decryptor = AttachmentDecryptor::new(pointer);
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0].min(object.len()), w[1].min(object.len()));
        if a < b {
            decryptor
                .push(&object[a..b], &mut out)
                .map_err(|e| (e, out.clone()))?;
        }
    }
    decryptor.finish().map_err(|(_, e)| (e, out.clone()))?;
    Ok(out)
}

/// The object bytes of chunk `k`.
fn chunk_of<'a>(pointer: &AttachmentPointer, object: &'a [u8], k: u64) -> &'a [u8] {
    let r = pointer.chunk_range(k).unwrap();
    &object[r.start as usize..r.end as usize]
}

/// `object` with its chunks replaced by `chunks` (header kept).
fn reassemble(header: &[u8], chunks: &[&[u8]]) -> Vec<u8> {
    let mut out = header.to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out
}

fn chunks_of<'a>(pointer: &AttachmentPointer, object: &'a [u8]) -> Vec<&'a [u8]> {
    (0..pointer.chunk_count())
        .map(|k| chunk_of(pointer, object, k))
        .collect()
}

/// Hands out scripted bytes, then zeros: for two files under the same key.
struct ScriptedRng(Vec<u8>);

impl TryRng for ScriptedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for d in dst.iter_mut() {
            *d = if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            };
        }
        Ok(())
    }
}

impl TryCryptoRng for ScriptedRng {}

/// Encrypts with the given key and salt (the encryptor draws the key, then the salt).
fn encrypt_with_key(
    plaintext: &[u8],
    chunk: ChunkSize,
    key: [u8; 32],
    salt: [u8; 32],
) -> (Vec<u8>, AttachmentPointer) {
    let mut rng = ScriptedRng([key, salt].concat());
    let mut encryptor = AttachmentEncryptor::with_chunk_size(chunk, &mut rng);
    let mut object = Vec::new();
    encryptor.push(plaintext, &mut object).unwrap();
    let pointer = encryptor.finish(&mut object).unwrap();
    (object, pointer)
}

// ─── round trips ──────────────────────────────────────────────────────────────────────────────

#[test]
fn round_trips_at_every_interesting_length() {
    for log2 in [12u8, 16] {
        let c = 1usize << log2;
        for len in [
            0,
            1,
            4_087,
            4_088,
            4_089,
            c - 1,
            c,
            c + 1,
            2 * c,
            3 * c - 8,
            3 * c - 7,
            3 * c + 5,
            200_000,
        ] {
            let plain = file(len, 1);
            let (object, pointer) = encrypt(&plain, cs(log2), len as u64);
            assert_eq!(&object[..4], b"HWAT");
            assert_eq!(object.len() as u64, pointer.ciphertext_len(), "{len}");
            assert_eq!(
                pointer.ciphertext_len(),
                ciphertext_len(len as u64, cs(log2))
            );
            assert_eq!(pointer.plaintext_len(), len as u64);
            assert_eq!(pointer.chunk_size(), cs(log2));
            pointer.verify_digest(&object).unwrap();
            assert_eq!(attachment::decrypt(&pointer, &object).unwrap(), plain);
            for piece in [1usize, 37, c, c + 17] {
                if piece < 100 && object.len() > 20_000 {
                    continue;
                }
                assert_eq!(
                    stream_decrypt_in_pieces(&pointer, &object, piece).unwrap(),
                    plain,
                    "len {len}, chunk {c}, piece {piece}"
                );
            }
            // The pointer survives its encoding.
            let bytes = pointer.to_bytes();
            assert_eq!(AttachmentPointer::from_bytes(&bytes).unwrap(), pointer);
        }
    }
}

#[test]
fn empty_file() {
    let (object, pointer) = encrypt(b"", ChunkSize::DEFAULT, 1);
    // One chunk: 4,088 zero bytes and the trailer, sealed.
    assert_eq!(pointer.chunk_count(), 1);
    assert_eq!(object.len(), HEADER + 4_096 + 16);
    assert_eq!(stream_decrypt(&pointer, &object).unwrap(), b"");
    // Without its only chunk it is not an empty file.
    assert_eq!(
        stream_decrypt(&pointer, &object[..HEADER]).unwrap_err(),
        (AttachmentError::MissingFinalChunk { chunks: 1 }, vec![])
    );
    assert_eq!(
        stream_decrypt(&pointer, &[]).unwrap_err().0,
        AttachmentError::Truncated {
            len: 0,
            expected: object.len() as u64
        }
    );
}

#[test]
fn exact_multiple_of_the_chunk_size() {
    // 3 full chunks of file; the trailer and padding make a 4th, padding-only chunk.
    let plain = file(3 * 4_096, 2);
    let (object, pointer) = encrypt(&plain, cs(12), 2);
    assert_eq!(padded_len(3 * 4_096), 12_544);
    assert_eq!(pointer.chunk_count(), 4);
    assert_eq!(chunk_of(&pointer, &object, 3).len(), 256 + 16);
    assert_eq!(stream_decrypt(&pointer, &object).unwrap(), plain);
    // Every file byte is out before the final chunk, but the file is not complete without it.
    let cut = pointer.chunk_range(3).unwrap().start as usize;
    assert_eq!(
        stream_decrypt(&pointer, &object[..cut]).unwrap_err(),
        (AttachmentError::MissingFinalChunk { chunks: 4 }, plain)
    );
}

#[test]
fn object_length_reveals_only_the_bucket() {
    let lens = |a: usize, b: usize| {
        let (x, _) = encrypt(&file(a, 3), ChunkSize::DEFAULT, 3);
        let (y, _) = encrypt(&file(b, 4), ChunkSize::DEFAULT, 4);
        (x.len(), y.len())
    };
    let (a, b) = lens(10, 4_000);
    assert_eq!(a, b);
    let (a, b) = lens(1_000_000, 1_015_800);
    assert_eq!(a, b);
    // Overhead above 4 KiB stays under 1/32 of the file plus header and tags.
    for len in [
        5_000u64,
        65_536,
        1 << 20,
        10 << 20,
        100 << 20,
        MAX_ATTACHMENT_LEN,
    ] {
        let total = ciphertext_len(len, ChunkSize::DEFAULT);
        let tags = padded_len(len).div_ceil(65_536) * 16;
        assert!(
            (total - len - 38 - tags) * 32 <= len + 8,
            "{len} -> {total}"
        );
    }
}

// ─── truncation, reordering, duplication, tampering, splicing ─────────────────────────────────

#[test]
fn truncation_at_every_chunk_boundary_and_inside_chunks() {
    let plain = file(5 * 4_096 + 1_000, 5);
    let (object, pointer) = encrypt(&plain, cs(12), 5);
    let n = pointer.chunk_count();
    assert_eq!(n, 6);
    let mut cuts = vec![0, 1, HEADER - 1, HEADER, HEADER + 1];
    for k in 0..n {
        let r = pointer.chunk_range(k).unwrap();
        let (s, e) = (r.start as usize, r.end as usize);
        cuts.extend([s, s + 1, s + 4_000, e - 16, e - 1]);
    }
    let full = object.len();
    for cut in cuts {
        if cut >= full {
            continue;
        }
        // Chunks entirely before the cut verify and release their file bytes, nothing else.
        let verified = (0..n)
            .filter(|&k| pointer.chunk_range(k).unwrap().end as usize <= cut)
            .count();
        let released = (verified * 4_096).min(plain.len());
        let final_start = pointer.chunk_range(n - 1).unwrap().start as usize;
        let expected = if cut == final_start {
            AttachmentError::MissingFinalChunk { chunks: n }
        } else {
            AttachmentError::Truncated {
                len: cut as u64,
                expected: full as u64,
            }
        };
        for piece in [full, 1_000] {
            let (error, out) =
                stream_decrypt_in_pieces(&pointer, &object[..cut], piece).unwrap_err();
            assert_eq!(error, expected, "cut at {cut}");
            assert_eq!(out, plain[..released], "cut at {cut}");
        }
        assert_eq!(error_kind(expected), ErrorKind::Tampered);
    }
}

fn error_kind(e: AttachmentError) -> ErrorKind {
    hushwire::Error::from(e).kind()
}

#[test]
fn swapped_duplicated_dropped_and_flipped_chunks_are_refused_with_their_error() {
    let plain = file(4 * 4_096 + 100, 6);
    let (object, pointer) = encrypt(&plain, cs(12), 6);
    let c = chunks_of(&pointer, &object);
    let header = &object[..HEADER];
    assert_eq!(c.len(), 5);

    let swapped = reassemble(header, &[c[0], c[2], c[1], c[3], c[4]]);
    assert_eq!(
        stream_decrypt_in_pieces(&pointer, &swapped, 4_112).unwrap_err(),
        (
            AttachmentError::ChunkReordered { index: 1, found: 2 },
            plain[..4_096].to_vec()
        )
    );
    let duplicated = reassemble(header, &[c[0], c[1], c[1], c[3], c[4]]);
    assert_eq!(
        stream_decrypt_in_pieces(&pointer, &duplicated, 4_112)
            .unwrap_err()
            .0,
        AttachmentError::ChunkDuplicated { index: 2, found: 1 }
    );
    // A duplicate inserted (the object grows): refused at the duplicate, chunk by chunk.
    let inserted = reassemble(header, &[c[0], c[1], c[1], c[2], c[3], c[4]]);
    assert_eq!(
        stream_decrypt_in_pieces(&pointer, &inserted, 4_112)
            .unwrap_err()
            .0,
        AttachmentError::ChunkDuplicated { index: 2, found: 1 }
    );
    // ... and as trailing data when pushed whole.
    assert_eq!(
        stream_decrypt(&pointer, &inserted).unwrap_err(),
        (
            AttachmentError::TrailingData {
                len: inserted.len() as u64,
                expected: object.len() as u64
            },
            vec![]
        )
    );
    // A chunk cut out of the middle: the next one stands in its place.
    let dropped = reassemble(header, &[c[0], c[2], c[3], c[4]]);
    assert_eq!(
        stream_decrypt(&pointer, &dropped).unwrap_err(),
        (
            AttachmentError::ChunkReordered { index: 1, found: 2 },
            vec![]
        )
    );
    // The final chunk in a non-final position.
    let early_final = reassemble(header, &[c[0], c[4]]);
    assert_eq!(
        stream_decrypt(&pointer, &early_final).unwrap_err().0,
        AttachmentError::Truncated {
            len: early_final.len() as u64,
            expected: object.len() as u64
        }
    );
    // A missing final chunk.
    let no_final = reassemble(header, &c[..4]);
    assert_eq!(
        stream_decrypt(&pointer, &no_final).unwrap_err(),
        (
            AttachmentError::MissingFinalChunk { chunks: 5 },
            plain[..4 * 4_096].to_vec()
        )
    );
    // One flipped bit anywhere in a chunk: that chunk is refused, the ones before released.
    for k in 0..5u64 {
        let r = pointer.chunk_range(k).unwrap();
        for at in [r.start, (r.start + r.end) / 2, r.end - 16, r.end - 1] {
            let mut bad = object.clone();
            bad[at as usize] ^= 0x20;
            let (error, out) = stream_decrypt_by_chunk(&pointer, &bad).unwrap_err();
            assert_eq!(
                error,
                AttachmentError::ChunkTampered { index: k },
                "byte {at}"
            );
            assert_eq!(out.len(), k as usize * 4_096, "byte {at}");
            assert!(plain.starts_with(&out));
            assert_eq!(error_kind(error), ErrorKind::Tampered);
        }
    }
}

/// A misplaced chunk is named as such up to `REORDER_SEARCH_WINDOW` positions away, and as
/// tampering beyond.
#[test]
fn the_reorder_search_window_at_its_edge() {
    let window = attachment::REORDER_SEARCH_WINDOW as usize;
    assert_eq!(window, 8);
    let plain = file(12 * 4_096, 16);
    let (object, pointer) = encrypt(&plain, cs(12), 16);
    let c = chunks_of(&pointer, &object);
    let header = &object[..HEADER];
    let moved = |from: usize| {
        let mut order = c.clone();
        order[0] = c[from];
        stream_decrypt(&pointer, &reassemble(header, &order))
            .unwrap_err()
            .0
    };
    assert_eq!(
        moved(window),
        AttachmentError::ChunkReordered {
            index: 0,
            found: window as u64
        }
    );
    assert_eq!(
        moved(window + 1),
        AttachmentError::ChunkTampered { index: 0 }
    );
    let reader = AttachmentReader::new(&pointer);
    let mut out = Vec::new();
    assert_eq!(
        reader.decrypt_chunk(window as u64 + 1, c[1], &mut out),
        Err(AttachmentError::ChunkDuplicated {
            index: window as u64 + 1,
            found: 1
        })
    );
    assert_eq!(
        reader.decrypt_chunk(window as u64 + 2, c[1], &mut out),
        Err(AttachmentError::ChunkTampered {
            index: window as u64 + 2
        })
    );
}

#[test]
fn an_altered_header_is_refused_before_any_chunk() {
    let plain = file(10_000, 7);
    let (object, pointer) = encrypt(&plain, cs(12), 7);
    let with = |at: usize, value: u8| {
        let mut bad = object.clone();
        bad[at] = value;
        stream_decrypt(&pointer, &bad).unwrap_err()
    };
    assert_eq!(
        with(0, b'X'),
        (
            AttachmentError::Malformed(DecodeError::InvalidField { field: "magic" }),
            vec![]
        )
    );
    assert_eq!(
        with(4, 2).0,
        AttachmentError::Malformed(DecodeError::UnknownVersion(2))
    );
    assert_eq!(
        with(5, 30).0,
        AttachmentError::Malformed(DecodeError::InvalidField {
            field: "chunk_size_log2"
        })
    );
    assert_eq!(with(5, 13).0, AttachmentError::HeaderMismatch);
    assert_eq!(with(37, object[37] ^ 1).0, AttachmentError::HeaderMismatch);
    // Random access does not read the header: it authenticates each chunk against the
    // pointer's header, so the stored header cannot change what a chunk says.
    let reader = AttachmentReader::new(&pointer);
    let mut out = Vec::new();
    reader
        .decrypt_chunk(0, chunk_of(&pointer, &object, 0), &mut out)
        .unwrap();
    assert_eq!(out, plain[..4_096]);
}

#[test]
fn chunks_of_another_file_under_the_same_key_are_rejected() {
    let key = [0x42; 32];
    let a_plain = file(10_000, 8);
    let b_plain = file(10_000, 9);
    let (a, a_ptr) = encrypt_with_key(&a_plain, cs(12), key, [1; 32]);
    let (b, b_ptr) = encrypt_with_key(&b_plain, cs(12), key, [2; 32]);
    assert_eq!(a.len(), b.len());
    let ac = chunks_of(&a_ptr, &a);
    let bc = chunks_of(&b_ptr, &b);
    // One chunk of B spliced into A.
    let spliced = reassemble(&a[..HEADER], &[ac[0], bc[1], ac[2]]);
    assert_eq!(
        stream_decrypt(&a_ptr, &spliced).unwrap_err().0,
        AttachmentError::ChunkTampered { index: 1 }
    );
    // B's chunks behind A's header, and B whole under A's pointer.
    let relabelled = reassemble(&a[..HEADER], &bc);
    assert_eq!(
        stream_decrypt(&a_ptr, &relabelled).unwrap_err().0,
        AttachmentError::ChunkTampered { index: 0 }
    );
    assert_eq!(
        stream_decrypt(&a_ptr, &b).unwrap_err().0,
        AttachmentError::HeaderMismatch
    );
    // A file under another key entirely.
    let (d, d_ptr) = encrypt(&a_plain, cs(12), 99);
    let dc = chunks_of(&d_ptr, &d);
    assert_eq!(
        stream_decrypt(&a_ptr, &reassemble(&a[..HEADER], &[ac[0], ac[1], dc[2]]))
            .unwrap_err()
            .0,
        AttachmentError::ChunkTampered { index: 2 }
    );
}

/// A pointer must describe its object: a true length that disagrees with the final chunk is
/// refused, whether its padding shows it first or the trailer.
#[test]
fn a_pointer_with_another_length_is_refused() {
    let mut plain = file(10_000, 10);
    *plain.last_mut().unwrap() = 0;
    let (object, pointer) = encrypt(&plain, cs(12), 10);
    let with_len = |len: u64| {
        let mut bytes = pointer.to_bytes().to_vec();
        bytes[100..108].copy_from_slice(&len.to_be_bytes());
        // Same bucket: the object length field still matches.
        assert_eq!(ciphertext_len(len, cs(12)), ciphertext_len(10_000, cs(12)));
        AttachmentPointer::from_bytes(&bytes).unwrap()
    };
    // One byte shorter: the last file byte (a zero) reads as padding; the trailer disagrees.
    assert_eq!(
        stream_decrypt(&with_len(9_999), &object).unwrap_err().0,
        AttachmentError::LengthMismatch {
            pointer: 9_999,
            stream: 10_000
        }
    );
    // Two shorter: a non-zero file byte where padding must be.
    assert_eq!(
        stream_decrypt(&with_len(9_998), &object).unwrap_err().0,
        AttachmentError::InvalidPadding { index: 2 }
    );
    // Longer: a padding byte would be released as file, then the trailer disagrees. (Pushed
    // chunk by chunk, the two chunks before the final one are out; a single push releases
    // nothing.)
    assert_eq!(
        stream_decrypt(&with_len(10_001), &object).unwrap_err(),
        (
            AttachmentError::LengthMismatch {
                pointer: 10_001,
                stream: 10_000
            },
            vec![]
        )
    );
    assert_eq!(
        stream_decrypt_by_chunk(&with_len(10_001), &object).unwrap_err(),
        (
            AttachmentError::LengthMismatch {
                pointer: 10_001,
                stream: 10_000
            },
            plain[..8_192].to_vec()
        )
    );
}

// ─── state on error, resuming ─────────────────────────────────────────────────────────────────

#[test]
fn a_failed_push_changes_nothing_and_the_right_bytes_still_decrypt() {
    let plain = file(4 * 4_096, 11);
    let (object, pointer) = encrypt(&plain, cs(12), 11);
    let c = chunks_of(&pointer, &object);
    let mut decryptor = AttachmentDecryptor::new(&pointer);
    let mut out = b"earlier output".to_vec();
    decryptor.push(&object[..HEADER + 100], &mut out).unwrap();
    let before = format!("{decryptor:?}");
    assert_eq!(decryptor.position(), HEADER as u64 + 100);

    // The rest of chunk 0 and all of a tampered chunk 1: nothing is released, nothing moves.
    let mut bad = object[HEADER + 100..HEADER + 2 * 4_112].to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        decryptor.push(&bad, &mut out),
        Err(AttachmentError::ChunkTampered { index: 1 })
    );
    assert_eq!(out, b"earlier output");
    assert_eq!(format!("{decryptor:?}"), before);
    assert_eq!(decryptor.position(), HEADER as u64 + 100);

    // A push past the end changes nothing either.
    assert_eq!(
        decryptor.push(&vec![0; object.len()], &mut out),
        Err(AttachmentError::TrailingData {
            len: (HEADER + 100 + object.len()) as u64,
            expected: object.len() as u64
        })
    );
    assert_eq!(format!("{decryptor:?}"), before);

    // The genuine bytes from where it stands.
    decryptor
        .push(&object[HEADER + 100..HEADER + 4_112 + 10], &mut out)
        .unwrap();
    assert_eq!(out[14..], plain[..4_096]);
    // A chunk pushed whole, then the rest.
    decryptor.push(&c[1][10..], &mut out).unwrap();
    let (decryptor, error) = decryptor.finish().unwrap_err();
    assert_eq!(
        error,
        AttachmentError::Truncated {
            len: (HEADER + 2 * 4_112) as u64,
            expected: object.len() as u64
        }
    );
    // finish hands the decryptor back: the download resumes from its position.
    let mut decryptor = decryptor;
    let resume = decryptor.position() as usize;
    decryptor.push(&object[resume..], &mut out).unwrap();
    assert!(decryptor.is_complete());
    decryptor.finish().unwrap();
    assert_eq!(out[14..], plain);
}

#[test]
fn the_encryptor_emits_padding_a_chunk_at_a_time_and_refuses_use_after_finish() {
    // 100 KiB with 4 KiB chunks: padding 3 KiB; 1 MiB: 32 KiB of padding, 8 padding chunks.
    let plain = file(1 << 20, 12);
    let mut rng = common::rng(12);
    let mut encryptor = AttachmentEncryptor::with_chunk_size(cs(12), &mut rng);
    let mut object = Vec::new();
    let mut piece = Vec::new();
    for part in plain.chunks(4_096) {
        piece.clear();
        encryptor.push(part, &mut piece).unwrap();
        object.extend_from_slice(&piece);
    }
    assert_eq!(encryptor.plaintext_len(), 1 << 20);
    let mut calls = 0;
    let pointer = loop {
        piece.clear();
        let done = encryptor.finish_chunk(&mut piece).unwrap();
        assert!(piece.len() <= 4_096 + 16);
        object.extend_from_slice(&piece);
        calls += 1;
        if let Some(p) = done {
            break p;
        }
    };
    assert_eq!(calls, 8);
    assert_eq!(pointer.chunk_count(), 256 + 8);
    assert_eq!(
        encryptor.finish_chunk(&mut piece),
        Err(AttachmentError::Finished)
    );
    assert_eq!(
        encryptor.push(b"more", &mut piece),
        Err(AttachmentError::Finished)
    );
    assert_eq!(
        encryptor.finish(&mut piece).unwrap_err(),
        AttachmentError::Finished
    );
    assert_eq!(attachment::decrypt(&pointer, &object).unwrap(), plain);
}

// ─── random access ────────────────────────────────────────────────────────────────────────────

#[test]
fn random_access_to_chunks() {
    let plain = file(3 * 4_096 + 10, 13);
    let (object, pointer) = encrypt(&plain, cs(12), 13);
    let reader = AttachmentReader::new(&pointer);
    let mut all = Vec::new();
    for k in 0..pointer.chunk_count() {
        reader
            .decrypt_chunk(k, chunk_of(&pointer, &object, k), &mut all)
            .unwrap();
    }
    assert_eq!(all, plain);
    let mut out = b"x".to_vec();
    assert_eq!(
        reader.decrypt_chunk(4, &[], &mut out),
        Err(AttachmentError::ChunkOutOfRange {
            index: 4,
            chunks: 4
        })
    );
    assert_eq!(
        reader.decrypt_chunk(0, &object[HEADER..HEADER + 10], &mut out),
        Err(AttachmentError::CiphertextLength {
            len: 10,
            expected: 4_112
        })
    );
    // The CDN answers a range request with the wrong chunk.
    assert_eq!(
        reader.decrypt_chunk(1, chunk_of(&pointer, &object, 2), &mut out),
        Err(AttachmentError::ChunkReordered { index: 1, found: 2 })
    );
    assert_eq!(
        reader.decrypt_chunk(2, chunk_of(&pointer, &object, 0), &mut out),
        Err(AttachmentError::ChunkDuplicated { index: 2, found: 0 })
    );
    let mut bad = chunk_of(&pointer, &object, 1).to_vec();
    bad[7] ^= 4;
    assert_eq!(
        reader.decrypt_chunk(1, &bad, &mut out),
        Err(AttachmentError::ChunkTampered { index: 1 })
    );
    assert_eq!(out, b"x");

    // Ranges.
    let read = |range: std::ops::Range<u64>| {
        let span = pointer.ciphertext_range(range.clone()).unwrap();
        let mut out = Vec::new();
        reader
            .decrypt_range(
                range,
                &object[span.start as usize..span.end as usize],
                &mut out,
            )
            .map(|()| out)
    };
    assert_eq!(read(0..0).unwrap(), b"");
    assert_eq!(read(4_090..4_100).unwrap(), plain[4_090..4_100]);
    assert_eq!(read(0..plain.len() as u64).unwrap(), plain);
    assert_eq!(
        pointer.ciphertext_range(core::ops::Range { start: 5, end: 4 }),
        Err(AttachmentError::RangeOutOfBounds {
            start: 5,
            end: 4,
            len: plain.len() as u64
        })
    );
    assert_eq!(
        reader.decrypt_range(0..plain.len() as u64 + 1, &object, &mut out),
        Err(AttachmentError::RangeOutOfBounds {
            start: 0,
            end: plain.len() as u64 + 1,
            len: plain.len() as u64
        })
    );
    assert_eq!(
        reader.decrypt_range(0..1, &object, &mut out),
        Err(AttachmentError::CiphertextLength {
            len: object.len() as u64,
            expected: 4_112
        })
    );
    assert_eq!(
        reader.decrypt_range(0..0, b"x", &mut out),
        Err(AttachmentError::CiphertextLength {
            len: 1,
            expected: 0
        })
    );
    // A tampered chunk inside a range: nothing of the range is released.
    let span = pointer.ciphertext_range(0..plain.len() as u64).unwrap();
    let mut bad = object[span.start as usize..span.end as usize].to_vec();
    bad[3 * 4_112 + 5] ^= 1;
    assert_eq!(
        reader.decrypt_range(0..plain.len() as u64, &bad, &mut out),
        Err(AttachmentError::ChunkTampered { index: 3 })
    );
    assert_eq!(out, b"x");
    assert_eq!(
        pointer.chunk_range(4),
        Err(AttachmentError::ChunkOutOfRange {
            index: 4,
            chunks: 4
        })
    );
}

// ─── pointers ─────────────────────────────────────────────────────────────────────────────────

#[test]
fn the_pointer_travels_inside_an_ordinary_encrypted_message() {
    let plain = file(50_000, 14);
    let mut pair = common::pair(14);
    let (object, mut pointer) = attachment::encrypt(&plain, &mut pair.rng).unwrap();
    pointer.set_content_type("image/png").unwrap();
    pointer.set_file_name("screenshot 2026-12-07.png").unwrap();
    pointer.set_thumbnail(&[0x89, b'P', b'N', b'G']).unwrap();
    let message = pair
        .alice
        .encrypt(&pointer.to_bytes(), &mut pair.rng)
        .unwrap();
    let received = pair.bob.decrypt(&message).unwrap();
    let pointer = AttachmentPointer::from_bytes(&received.plaintext).unwrap();
    assert_eq!(pointer.file_name(), "screenshot 2026-12-07.png");
    assert_eq!(pointer.content_type(), "image/png");
    assert_eq!(pointer.thumbnail(), Some(&[0x89, b'P', b'N', b'G'][..]));
    pointer.verify_digest(&object).unwrap();
    assert_eq!(attachment::decrypt(&pointer, &object).unwrap(), plain);
}

#[test]
fn verify_digest_checks_length_and_hash() {
    let (object, pointer) = encrypt(&file(9_000, 15), cs(12), 15);
    let mut bad = object.clone();
    bad[1_000] ^= 1;
    assert_eq!(
        pointer.verify_digest(&bad),
        Err(AttachmentError::DigestMismatch)
    );
    assert_eq!(
        pointer.verify_digest(&object[1..]),
        Err(AttachmentError::Truncated {
            len: object.len() as u64 - 1,
            expected: object.len() as u64
        })
    );
    bad = object.clone();
    bad.push(0);
    assert_eq!(
        pointer.verify_digest(&bad),
        Err(AttachmentError::TrailingData {
            len: object.len() as u64 + 1,
            expected: object.len() as u64
        })
    );
    assert_eq!(
        error_kind(AttachmentError::DigestMismatch),
        ErrorKind::Tampered
    );
}

#[test]
fn debug_output_names_lengths_never_keys_or_names() {
    let mut rng = ScriptedRng(vec![0xab; 64]);
    let mut encryptor = AttachmentEncryptor::with_chunk_size(cs(12), &mut rng);
    let mut object = Vec::new();
    encryptor.push(&[1; 5_000], &mut object).unwrap();
    assert_eq!(
        format!("{encryptor:?}"),
        "AttachmentEncryptor { chunk_size: 4096, plaintext_len: 5000, chunks_written: 1, \
         finished: false, .. }"
    );
    let mut pointer = encryptor.finish(&mut object).unwrap();
    pointer.set_file_name("id-scan-jane-doe.jpg").unwrap();
    let shown = format!(
        "{pointer:?} {:?} {:?}",
        AttachmentReader::new(&pointer),
        AttachmentDecryptor::new(&pointer)
    );
    assert_eq!(
        shown,
        "AttachmentPointer { chunk_size: 4096, plaintext_len: 5000, ciphertext_len: 5190, \
         content_type: \"\", file_name_len: 20, thumbnail_len: 0, .. } \
         AttachmentReader { plaintext_len: 5000, chunks: 2, .. } \
         AttachmentDecryptor { plaintext_len: 5000, chunks: 2, chunks_verified: 0, position: 0, .. }"
    );
    assert!(!shown.contains("ab, ab") && !shown.contains("jane"));
}

/// README.md's file-transfer example is the doctest of `src/attachment/mod.rs`.
#[test]
fn readme_file_transfer_example_is_the_module_doctest() {
    let readme = include_str!("../../README.md");
    let module = include_str!("../../src/attachment/mod.rs");
    let block = |lines: Vec<&str>, fence: &str| -> Vec<String> {
        let start = (0..lines.len() - 1)
            .find(|&i| {
                lines[i].trim() == fence && lines[i + 1].starts_with("use hushwire::attachment")
            })
            .unwrap()
            + 1;
        let end = start
            + lines[start..]
                .iter()
                .position(|l| l.trim() == "```")
                .unwrap();
        lines[start..end]
            .iter()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| (*l).to_owned())
            .collect()
    };
    let doc: Vec<&str> = module
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let readme_lines: Vec<&str> = readme.lines().collect();
    assert_eq!(
        block(readme_lines, "```rust,ignore"),
        block(doc, "```"),
        "README.md's file-transfer example differs from src/attachment/mod.rs's doctest"
    );
}

// ─── properties ───────────────────────────────────────────────────────────────────────────────

proptest! {
    #![proptest_config(crate::common::proptest_config(64))]

    /// Any byte range reads back as exactly that slice of the file, from only the chunks
    /// `ciphertext_range` names.
    #[test]
    fn random_range_reads_equal_the_plaintext_slice(
        len in 0usize..40_000,
        log2 in 12u8..=13,
        a in any::<u64>(),
        b in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let plain = file(len, seed as u8);
        let (object, pointer) = encrypt(&plain, cs(log2), seed);
        let (mut start, mut end) = (a % (len as u64 + 1), b % (len as u64 + 1));
        if start > end {
            core::mem::swap(&mut start, &mut end);
        }
        let span = pointer.ciphertext_range(start..end).unwrap();
        prop_assert!(span.end <= object.len() as u64);
        let mut out = vec![9];
        AttachmentReader::new(&pointer)
            .decrypt_range(start..end, &object[span.start as usize..span.end as usize], &mut out)
            .unwrap();
        prop_assert_eq!(&out[1..], &plain[start as usize..end as usize]);
    }

    /// The object does not depend on how the file was cut into pushes, and decrypts whatever
    /// way it is cut.
    #[test]
    fn any_push_pieces_give_the_same_object(
        len in 0usize..30_000,
        piece in 1usize..9_000,
        read_piece in 1usize..9_000,
        seed in any::<u64>(),
    ) {
        let plain = file(len, seed as u8);
        let (whole, pointer) = encrypt_in_pieces(&plain, cs(12), usize::MAX, seed);
        let (cut, _) = encrypt_in_pieces(&plain, cs(12), piece, seed);
        prop_assert_eq!(&whole, &cut);
        prop_assert_eq!(stream_decrypt_in_pieces(&pointer, &whole, read_piece).unwrap(), plain);
    }

    /// A bit flipped anywhere in the object is refused, and whatever was released before is
    /// a prefix of the file made of whole verified chunks.
    #[test]
    fn any_flipped_bit_is_refused(len in 0usize..20_000, at in any::<usize>(), bit in 0u8..8) {
        let plain = file(len, 3);
        let (mut object, pointer) = encrypt(&plain, cs(12), 3);
        let at = at % object.len();
        object[at] ^= 1 << bit;
        let (error, out) = stream_decrypt_by_chunk(&pointer, &object).unwrap_err();
        // Only the magic, format and chunk-size bytes can make the object malformed.
        let kind = error_kind(error);
        prop_assert!(kind == ErrorKind::Tampered || (kind == ErrorKind::Malformed && at < 6));
        prop_assert!(plain.starts_with(&out));
        prop_assert!(out.len() % 4_096 == 0 || out.len() == plain.len());
    }
}

#[test]
fn error_kinds() {
    assert_eq!(
        error_kind(AttachmentError::TooLarge { len: 1, max: 0 }),
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        error_kind(AttachmentError::InvalidText { field: "file_name" }),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        error_kind(AttachmentError::Malformed(DecodeError::UnknownType(9))),
        ErrorKind::Malformed
    );
    assert_eq!(
        error_kind(AttachmentError::ChunkDuplicated { index: 2, found: 1 }),
        ErrorKind::Tampered
    );
}

// ─── fixed vectors ────────────────────────────────────────────────────────────────────────────

/// `tests/vectors/attachment/attachment.json` (layout in `LAYOUT.md` there): every object
/// and pointer is built by hushwire and by the independent reference in `reference.rs`, which
/// must agree byte for byte; every refusal is what hushwire's decryptor or decoder returns,
/// written in the language-neutral error encoding of SPEC.md §8.4.
mod vectors {
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};

    use super::vector_file::{canonical_text, check_vector_file, json_file_names};
    use super::*;

    const TAPE_GENERATION: &str = "SHA-256(utf8(seed) || u32_be(i)) for i = 0, 1, 2, ..., \
                                   concatenated; the key is bytes 0..32, the salt bytes 32..64";

    fn tape(seed: &str, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0u32;
        while out.len() < len {
            let mut h = Sha256::new();
            h.update(seed.as_bytes());
            h.update(i.to_be_bytes());
            out.extend_from_slice(&h.finalize());
            i += 1;
        }
        out.truncate(len);
        out
    }

    fn hx(b: &[u8]) -> String {
        hex::encode(b)
    }

    struct Spec {
        name: &'static str,
        description: &'static str,
        chunk_log2: u8,
        plaintext: Vec<u8>,
        content_type: &'static str,
        file_name: &'static str,
        thumbnail: Vec<u8>,
        /// Take the key of this earlier file instead of the tape's.
        key_from: Option<&'static str>,
    }

    struct Built {
        spec: Spec,
        key: [u8; 32],
        object: Vec<u8>,
        pointer: AttachmentPointer,
        json: Value,
    }

    fn specs() -> Vec<Spec> {
        let log_line = b"2026-12-07 10:41:07 INFO widget connected, session 7f3a\n";
        let mut short: Vec<u8> = log_line.iter().copied().cycle().take(1_000).collect();
        short.truncate(1_000);
        vec![
            Spec {
                name: "empty",
                description: "An empty file: one chunk of 4,088 zero bytes and the trailer.",
                chunk_log2: 12,
                plaintext: Vec::new(),
                content_type: "",
                file_name: "",
                thumbnail: Vec::new(),
                key_from: None,
            },
            Spec {
                name: "short",
                description: "A 1,000-byte log file at the default chunk size (64 KiB): one \
                              chunk of 4,096 bytes.",
                chunk_log2: 16,
                plaintext: short,
                content_type: "text/plain; charset=utf-8",
                file_name: "support-log.txt",
                thumbnail: Vec::new(),
                key_from: None,
            },
            Spec {
                name: "multi_chunk",
                description: "10,000 bytes (byte i = i mod 251) in 4 KiB chunks: padded to \
                              10,240, three chunks of 4,096, 4,096 and 2,048 bytes.",
                chunk_log2: 12,
                plaintext: (0..10_000).map(|i| (i % 251) as u8).collect(),
                content_type: "application/pdf",
                file_name: "invoice-1042.pdf",
                thumbnail: [0xff, 0xd8, 0xff, 0xe0].repeat(4),
                key_from: None,
            },
            Spec {
                name: "exact_multiple",
                description: "8,192 bytes (byte i = 13 i mod 256), exactly two 4 KiB chunks: \
                              padded to 8,448, the third chunk holds only padding and the \
                              trailer.",
                chunk_log2: 12,
                plaintext: (0..8_192u32).map(|i| (i * 13 % 256) as u8).collect(),
                content_type: "image/png",
                file_name: "screenshot.png",
                thumbnail: Vec::new(),
                key_from: None,
            },
            Spec {
                name: "same_key",
                description: "5,000 bytes (byte i = 250 - i mod 251) under multi_chunk's key \
                              with its own salt (an app that reused a file key): two chunks.",
                chunk_log2: 12,
                plaintext: (0..5_000).map(|i| (250 - i % 251) as u8).collect(),
                content_type: "application/pdf",
                file_name: "invoice-1043.pdf",
                thumbnail: Vec::new(),
                key_from: Some("multi_chunk"),
            },
        ]
    }

    fn build(spec: Spec, earlier: &[Built]) -> Built {
        let seed = format!("hushwire/v1/test-vectors/attachment/{}", spec.name);
        let t = tape(&seed, 64);
        let mut key: [u8; 32] = t[..32].try_into().unwrap();
        let mut salt: [u8; 32] = t[32..].try_into().unwrap();
        if let Some(from) = spec.key_from {
            key = earlier.iter().find(|b| b.spec.name == from).unwrap().key;
            salt = t[..32].try_into().unwrap();
        }
        let (object, mut pointer) =
            encrypt_with_key(&spec.plaintext, cs(spec.chunk_log2), key, salt);
        pointer.set_content_type(spec.content_type).unwrap();
        pointer.set_file_name(spec.file_name).unwrap();
        pointer.set_thumbnail(&spec.thumbnail).unwrap();

        // The reference, from SPEC.md alone.
        let r = reference::encrypt(&key, &salt, spec.chunk_log2, &spec.plaintext);
        assert_eq!(object, r.object, "{}: object", spec.name);
        let len = spec.plaintext.len() as u64;
        let pointer_bytes = reference::pointer(
            spec.chunk_log2,
            &key,
            &salt,
            &r.sha256,
            len,
            r.object.len() as u64,
            spec.content_type,
            spec.file_name,
            &spec.thumbnail,
        );
        assert_eq!(*pointer.to_bytes(), pointer_bytes, "{}: pointer", spec.name);
        assert_eq!(pointer.ciphertext_sha256(), &r.sha256);
        assert_eq!(padded_len(len), r.padded_len);
        assert_eq!(
            attachment::decrypt(&pointer, &object).unwrap(),
            spec.plaintext
        );

        let size = 1u64 << spec.chunk_log2;
        let chunks: Vec<Value> = r
            .chunks
            .iter()
            .map(|c| {
                let k = u64::from(c.index);
                let range = pointer.chunk_range(k).unwrap();
                let data = len.saturating_sub(k * size).min(c.plain.len() as u64);
                json!({
                    "index": c.index,
                    "last": c.last,
                    "nonce": hx(&c.nonce),
                    "object_offset": range.start,
                    "sealed_len": c.sealed.len(),
                    "data_len": data,
                    "tag": hx(&c.sealed[c.sealed.len() - 16..]),
                })
            })
            .collect();
        let json = json!({
            "name": spec.name,
            "description": spec.description,
            "tape_seed": if spec.key_from.is_some() { Value::Null } else { json!(seed) },
            "salt_tape_seed": if spec.key_from.is_some() { json!(seed) } else { Value::Null },
            "key": hx(&key),
            "salt": hx(&salt),
            "chunk_size_log2": spec.chunk_log2,
            "chunk_size": size,
            "plaintext_len": len,
            "plaintext": hx(&spec.plaintext),
            "header": hx(&r.header),
            "stream_key": hx(&r.stream_key),
            "nonce_prefix": hx(&r.nonce_prefix),
            "padded_len": r.padded_len,
            "chunk_count": r.chunks.len(),
            "chunks": chunks,
            "object_len": object.len(),
            "object": hx(&object),
            "object_sha256": hx(&r.sha256),
            "pointer": {
                "content_type": spec.content_type,
                "file_name": spec.file_name,
                "thumbnail": hx(&spec.thumbnail),
                "bytes": hx(&pointer_bytes),
            },
        });
        Built {
            spec,
            key,
            object,
            pointer,
            json,
        }
    }

    /// An edit of a stored object, as the vectors describe it.
    enum Edit {
        SetByte(usize, u8),
        XorByte(usize, u8),
        Truncate(usize),
        Append(Vec<u8>),
        /// This file's header, then its chunks in this order.
        Chunks(Vec<u64>),
        /// Chunk `index` replaced by chunk `chunk` of file `from`.
        Splice {
            index: u64,
            from: &'static str,
            chunk: u64,
        },
        /// This file's header, then all chunks of file `from`.
        OtherChunks(&'static str),
        /// The whole object of file `from`.
        OtherObject(&'static str),
    }

    impl Edit {
        fn json(&self) -> Value {
            match self {
                Edit::SetByte(o, v) => json!({"op": "set_byte", "offset": o, "value": v}),
                Edit::XorByte(o, m) => json!({"op": "xor_byte", "offset": o, "mask": m}),
                Edit::Truncate(l) => json!({"op": "truncate", "len": l}),
                Edit::Append(b) => json!({"op": "append", "bytes": hx(b)}),
                Edit::Chunks(order) => json!({"op": "chunks", "order": order}),
                Edit::Splice { index, from, chunk } => {
                    json!({"op": "splice", "index": index, "from": from, "chunk": chunk})
                }
                Edit::OtherChunks(from) => json!({"op": "other_chunks", "from": from}),
                Edit::OtherObject(from) => json!({"op": "other_object", "from": from}),
            }
        }

        fn apply(&self, file: &Built, all: &[Built]) -> Vec<u8> {
            let other = |name: &str| all.iter().find(|b| b.spec.name == name).unwrap();
            let header = &file.object[..HEADER];
            let mut o = file.object.clone();
            match self {
                Edit::SetByte(at, v) => o[*at] = *v,
                Edit::XorByte(at, m) => o[*at] ^= m,
                Edit::Truncate(len) => o.truncate(*len),
                Edit::Append(b) => o.extend_from_slice(b),
                Edit::Chunks(order) => {
                    let c = chunks_of(&file.pointer, &file.object);
                    let picked: Vec<&[u8]> = order.iter().map(|&k| c[k as usize]).collect();
                    o = reassemble(header, &picked);
                }
                Edit::Splice { index, from, chunk } => {
                    let f = other(from);
                    let mut c = chunks_of(&file.pointer, &file.object);
                    c[*index as usize] = chunk_of(&f.pointer, &f.object, *chunk);
                    o = reassemble(header, &c);
                }
                Edit::OtherChunks(from) => {
                    let f = other(from);
                    o = reassemble(header, &chunks_of(&f.pointer, &f.object));
                }
                Edit::OtherObject(from) => o = other(from).object.clone(),
            }
            o
        }
    }

    fn rejected_objects(all: &[Built]) -> Vec<Value> {
        let file = all.iter().find(|b| b.spec.name == "multi_chunk").unwrap();
        let c1 = 38 + 4_112;
        let c2 = 38 + 2 * 4_112;
        let len = file.object.len();
        let cases: Vec<(&str, Edit)> = vec![
            ("magic", Edit::SetByte(0, b'X')),
            ("format_2", Edit::SetByte(4, 2)),
            ("chunk_size_out_of_range", Edit::SetByte(5, 23)),
            ("chunk_size_other", Edit::SetByte(5, 13)),
            ("salt_flipped", Edit::XorByte(20, 0x01)),
            ("chunk_0_ciphertext_flipped", Edit::XorByte(38, 0x80)),
            ("chunk_1_tag_flipped", Edit::XorByte(c2 - 1, 0x01)),
            ("final_chunk_flipped", Edit::XorByte(c2 + 100, 0x04)),
            ("swap_0_1", Edit::Chunks(vec![1, 0, 2])),
            ("duplicate_0_for_1", Edit::Chunks(vec![0, 0, 2])),
            ("drop_1", Edit::Chunks(vec![0, 2])),
            ("cut_at_0", Edit::Truncate(0)),
            ("cut_in_header", Edit::Truncate(37)),
            ("cut_after_header", Edit::Truncate(38)),
            ("cut_in_chunk_0", Edit::Truncate(100)),
            ("cut_after_chunk_0", Edit::Truncate(c1)),
            ("cut_in_chunk_1", Edit::Truncate(c2 - 1)),
            ("missing_final_chunk", Edit::Truncate(c2)),
            ("cut_in_final_chunk", Edit::Truncate(len - 1)),
            ("trailing_byte", Edit::Append(vec![0])),
            (
                "spliced_same_key_chunk",
                Edit::Splice {
                    index: 1,
                    from: "same_key",
                    chunk: 0,
                },
            ),
            (
                "same_key_chunks_under_this_header",
                Edit::OtherChunks("same_key"),
            ),
            ("same_key_object", Edit::OtherObject("same_key")),
        ];
        cases
            .into_iter()
            .map(|(name, edit)| {
                let bytes = edit.apply(file, all);
                let (error, released) = stream_decrypt(&file.pointer, &bytes).unwrap_err();
                json!({
                    "name": name,
                    "file": "multi_chunk",
                    "edit": edit.json(),
                    "error": super::vector_json::error_json(error),
                    "released_len": released.len(),
                })
            })
            .collect()
    }

    fn rejected_pointers(all: &[Built]) -> Vec<Value> {
        let file = all.iter().find(|b| b.spec.name == "multi_chunk").unwrap();
        let good = file.pointer.to_bytes().to_vec();
        let set = |at: usize, v: &[u8]| {
            let mut b = good.clone();
            b[at..at + v.len()].copy_from_slice(v);
            b
        };
        let mut long_thumb = good.clone();
        let n = long_thumb.len();
        long_thumb[n - 18..n - 16].copy_from_slice(&32_769u16.to_be_bytes());
        let file_name_at = 117 + file.spec.content_type.len() + 1;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("wire_version_2", set(0, &[2])),
            ("type_ratchet", set(1, &[0x01])),
            ("type_unknown", set(1, &[0x61])),
            ("format_2", set(2, &[2])),
            ("chunk_size_11", set(3, &[11])),
            (
                "plaintext_len_above_max",
                set(100, &(MAX_ATTACHMENT_LEN + 1).to_be_bytes()),
            ),
            (
                "ciphertext_len_off_by_one",
                set(108, &(file.object.len() as u64 + 1).to_be_bytes()),
            ),
            ("content_type_len_129", set(116, &[129])),
            ("content_type_control", set(117, b"\n")),
            ("file_name_slash", set(file_name_at, b"/")),
            ("file_name_not_utf8", set(file_name_at, &[0xff])),
            ("thumbnail_len_32769", long_thumb),
            ("truncated", good[..good.len() - 1].to_vec()),
            ("trailing_byte", [good.clone(), vec![0]].concat()),
        ];
        cases
            .into_iter()
            .map(|(name, bytes)| {
                let error = AttachmentPointer::from_bytes(&bytes).unwrap_err();
                json!({"name": name, "bytes": hx(&bytes), "error": super::vector_json::error_json(error)})
            })
            .collect()
    }

    fn range_reads(all: &[Built]) -> Vec<Value> {
        let file = all.iter().find(|b| b.spec.name == "multi_chunk").unwrap();
        let reader = AttachmentReader::new(&file.pointer);
        [
            (0u64, 0u64),
            (0, 10),
            (4_090, 4_100),
            (8_000, 10_000),
            (0, 10_000),
        ]
        .into_iter()
        .map(|(start, end)| {
            let span = file.pointer.ciphertext_range(start..end).unwrap();
            let mut out = Vec::new();
            reader
                .decrypt_range(
                    start..end,
                    &file.object[span.start as usize..span.end as usize],
                    &mut out,
                )
                .unwrap();
            assert_eq!(out, file.spec.plaintext[start as usize..end as usize]);
            json!({
                "start": start,
                "end": end,
                "ciphertext_range": [span.start, span.end],
                "plaintext_sha256": hx(&Sha256::digest(&out)),
            })
        })
        .collect()
    }

    fn padding_table() -> Vec<Value> {
        [
            0u64,
            1,
            4_088,
            4_089,
            8_184,
            8_185,
            10_000,
            65_528,
            65_529,
            1_000_000,
            1 << 20,
            100 << 20,
            MAX_ATTACHMENT_LEN,
        ]
        .into_iter()
        .map(|len| {
            assert_eq!(padded_len(len), reference::padded_len(len));
            json!({
                "plaintext_len": len,
                "padded_len": padded_len(len),
                "object_len_4k": ciphertext_len(len, cs(12)),
                "object_len_64k": ciphertext_len(len, ChunkSize::DEFAULT),
            })
        })
        .collect()
    }

    #[test]
    fn attachment_vectors() {
        let mut built: Vec<Built> = Vec::new();
        for spec in specs() {
            let b = build(spec, &built);
            built.push(b);
        }
        let doc = json!({
            "vector": "attachment",
            "description": "Encrypted attachments (SPEC.md §16): five files byte for byte \
                            (key and salt from a tape, header, HKDF output, per-chunk nonces \
                            and tags, the stored object and its SHA-256, the pointer), the \
                            padding buckets, range reads, and objects and pointers that must \
                            be refused with their error.",
            "protocol": "hushwire/v1",
            "wire_version": 1,
            "format_version": 1,
            "label": {
                "ascii": String::from_utf8(reference::LABEL.to_vec()).unwrap(),
                "hex": hx(reference::LABEL),
            },
            "tape_generation": TAPE_GENERATION,
            "files": built.iter().map(|b| b.json.clone()).collect::<Vec<_>>(),
            "padding": padding_table(),
            "range_reads": range_reads(&built),
            "rejected_objects": rejected_objects(&built),
            "rejected_pointers": rejected_pointers(&built),
        });
        check_vector_file("attachment", "attachment", &canonical_text(&doc));
        assert_eq!(json_file_names("attachment"), ["attachment.json"]);
    }
}
