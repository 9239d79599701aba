//! `attachment`: the attachment decryptor (streaming and random access) and the pointer
//! decoder, on raw bytes or on a fixture's genuine objects and pointers with edits.
//!
//! Input: mode byte. Bit 0: raw (clear) or a genuine input with edits (set; the next byte
//! picks it, the rest are edits, see `raw_or_edited`). Bit 1: pointer (set) or object (clear).
//! Bits 2–3 pick the fixture file whose pointer decrypts a raw object. Bits 4–7 set the size
//! of the pieces the object is pushed in (`1 + 613 * (mode >> 4)` bytes).
//!
//! Properties: a pointer that decodes re-encodes to exactly the input; an object decrypts
//! only if it is, byte for byte, the genuine object of its pointer, to its plaintext; on any
//! failure the released bytes are a prefix of that plaintext made of whole verified chunks,
//! and the failing push changed nothing (position, released bytes); random access to a chunk
//! succeeds only on the genuine chunk's bytes, with its slice of the plaintext.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::attachment::{
    AttachmentDecryptor, AttachmentEncryptor, AttachmentPointer, AttachmentReader, ChunkSize,
};
use rand_core::SeedableRng;

use super::{SEED, raw_or_edited};

pub(crate) struct File {
    pub(crate) name: &'static str,
    pub(crate) plaintext: Vec<u8>,
    pub(crate) object: Vec<u8>,
    pub(crate) pointer: AttachmentPointer,
    pub(crate) pointer_bytes: Vec<u8>,
}

pub(crate) struct AttachmentFixture {
    pub(crate) files: Vec<File>,
}

pub(crate) fn fixture() -> &'static AttachmentFixture {
    static FIXTURE: OnceLock<AttachmentFixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn build() -> AttachmentFixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 0xa77a);
    let chunk = ChunkSize::from_log2(12).expect("4 KiB");
    let specs: [(&'static str, Vec<u8>); 3] = [
        ("multi", (0..10_000u32).map(|i| (i % 251) as u8).collect()),
        ("empty", Vec::new()),
        (
            "exact",
            (0..8_192u32).map(|i| (i * 13 % 256) as u8).collect(),
        ),
    ];
    let files = specs
        .into_iter()
        .map(|(name, plaintext)| {
            let mut encryptor = AttachmentEncryptor::with_chunk_size(chunk, &mut rng);
            let mut object = Vec::new();
            encryptor.push(&plaintext, &mut object).expect("push");
            let mut pointer = encryptor.finish(&mut object).expect("finish");
            pointer.set_content_type("application/pdf").expect("type");
            pointer.set_file_name("invoice.pdf").expect("name");
            pointer.set_thumbnail(b"thumb").expect("thumbnail");
            let pointer_bytes = pointer.to_bytes().to_vec();
            File {
                name,
                plaintext,
                object,
                pointer,
                pointer_bytes,
            }
        })
        .collect();
    AttachmentFixture { files }
}

pub(crate) fn check_attachment(data: &[u8]) {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 2 != 0 {
        let Some(bytes) = raw_or_edited(mode, rest, &fixture.files, |f| &f.pointer_bytes) else {
            return;
        };
        check_pointer(&bytes);
        return;
    }
    let picked = usize::from((mode >> 2) & 3) % fixture.files.len();
    let piece = 1 + 613 * usize::from(mode >> 4);
    if mode & 1 == 0 {
        // A raw object under one fixture pointer.
        check_object(&fixture.files[picked], rest, piece);
        // Raw bytes are also tried as a pointer.
        check_pointer(rest);
    } else {
        let Some((&pick, _)) = rest.split_first() else {
            return;
        };
        let file = &fixture.files[usize::from(pick) % fixture.files.len()];
        let Some(bytes) = raw_or_edited(mode, rest, &fixture.files, |f| &f.object) else {
            return;
        };
        check_object(file, &bytes, piece);
    }
}

fn check_pointer(bytes: &[u8]) {
    if let Ok(pointer) = AttachmentPointer::from_bytes(bytes) {
        assert_eq!(pointer.to_bytes().as_slice(), bytes);
        assert_eq!(AttachmentPointer::try_from(bytes), Ok(pointer.clone()));
        assert!(pointer.chunk_count() >= 1);
        // Every decoded pointer gives a usable layout.
        let last = pointer
            .chunk_range(pointer.chunk_count() - 1)
            .expect("last chunk");
        assert_eq!(last.end, pointer.ciphertext_len());
        let all = pointer
            .ciphertext_range(0..pointer.plaintext_len())
            .expect("whole file");
        assert!(all.end <= pointer.ciphertext_len());
    }
}

fn check_object(file: &File, object: &[u8], piece: usize) {
    let genuine = object == file.object.as_slice();

    // Streaming, in pieces.
    let mut decryptor = AttachmentDecryptor::new(&file.pointer);
    let mut out = Vec::new();
    let mut failed = false;
    for part in object.chunks(piece) {
        let position = decryptor.position();
        let released = out.len();
        if decryptor.push(part, &mut out).is_err() {
            assert_eq!(decryptor.position(), position, "a failed push moved");
            assert_eq!(out.len(), released, "a failed push released bytes");
            failed = true;
            break;
        }
    }
    assert!(
        file.plaintext.starts_with(&out),
        "released bytes not genuine"
    );
    assert!(out.len() % 4_096 == 0 || out.len() == file.plaintext.len());
    let finished = !failed && decryptor.finish().is_ok();
    assert_eq!(
        finished, genuine,
        "decrypted: {finished}, genuine: {genuine}"
    );
    if finished {
        assert_eq!(out, file.plaintext);
    }

    // Random access to each chunk, at the offsets the pointer names.
    let reader = AttachmentReader::new(&file.pointer);
    for k in 0..file.pointer.chunk_count() {
        let range = file.pointer.chunk_range(k).expect("chunk");
        let (start, end) = (range.start as usize, range.end as usize);
        let Some(bytes) = object.get(start..end.min(object.len())) else {
            continue;
        };
        let mut out = vec![0xee];
        if reader.decrypt_chunk(k, bytes, &mut out).is_ok() {
            assert_eq!(bytes, &file.object[start..end], "a forged chunk {k} opened");
            let from = (k as usize * 4_096).min(file.plaintext.len());
            assert_eq!(&out[1..], &file.plaintext[from..from + out.len() - 1]);
        } else {
            assert_eq!(out, [0xee], "a failed chunk changed the output");
        }
    }
}

pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, f) in fixture().files.iter().enumerate() {
        let pick = u8::try_from(i).expect("few files");
        // Raw object under its own pointer, in 614-byte pieces; raw pointer.
        let mut raw = vec![(pick << 2) | 0x10];
        raw.extend_from_slice(&f.object);
        out.push((format!("raw-object-{}", f.name), raw));
        let mut raw = vec![2u8];
        raw.extend_from_slice(&f.pointer_bytes);
        out.push((format!("raw-pointer-{}", f.name), raw));
        // Genuine, and with one flipped bit in the header, the first chunk and the last byte.
        out.push((format!("mutate-object-{}-none", f.name), vec![0x21, pick]));
        let last = u16::try_from(f.object.len() - 1).expect("small object");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("mutate-object-{}-flips", f.name),
            vec![0x21, pick, 0, 0, 10, 0x01, 0, 0, 100, 0x02, 0, hi, lo, 0x80],
        ));
        // Cut at the final chunk, and a chunk-sized removal (a dropped chunk).
        let cut = u16::try_from(f.object.len() - 300).expect("small object");
        let [hi, lo] = cut.to_be_bytes();
        out.push((
            format!("mutate-object-{}-cut", f.name),
            vec![0x01, pick, 1, hi, lo, 0],
        ));
        out.push((format!("mutate-pointer-{}-none", f.name), vec![3, pick]));
        out.push((
            format!("mutate-pointer-{}-flips", f.name),
            vec![3, pick, 0, 0, 110, 0x01, 0, 0, 117, 0x20],
        ));
    }
    out
}
