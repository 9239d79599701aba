//! Encrypted attachments (SPEC.md §16): the object goes to any storage, the small pointer
//! (which holds the key) inside an ordinary encrypted message.

use hushwire::AttachmentPointer;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::{JsResult, number, rng, throw};

/// An encrypted file: the object to upload and the pointer to send in a message.
#[wasm_bindgen]
pub struct EncryptedAttachment {
    object: Vec<u8>,
    pointer: Zeroizing<Vec<u8>>,
}

#[wasm_bindgen]
impl EncryptedAttachment {
    /// The padded ciphertext to upload (it reveals only a size bucket).
    #[wasm_bindgen(getter)]
    pub fn object(&self) -> Vec<u8> {
        self.object.clone()
    }

    /// The pointer: key, digest, length, type and name. Secret: send it only inside an
    /// encrypted message.
    #[wasm_bindgen(getter)]
    pub fn pointer(&self) -> Vec<u8> {
        self.pointer.to_vec()
    }
}

/// Encrypts a file held in memory.
///
/// # Errors
/// `attachment.too_large`, `attachment.*` for a content type or file name that is too long.
#[wasm_bindgen(js_name = encryptAttachment)]
pub fn encrypt_attachment(
    data: &[u8],
    content_type: Option<String>,
    file_name: Option<String>,
) -> JsResult<EncryptedAttachment> {
    let (object, mut pointer) = hushwire::attachment::encrypt(data, &mut rng()?).map_err(throw)?;
    if let Some(content_type) = content_type {
        pointer.set_content_type(&content_type).map_err(throw)?;
    }
    if let Some(file_name) = file_name {
        pointer.set_file_name(&file_name).map_err(throw)?;
    }
    Ok(EncryptedAttachment {
        object,
        pointer: pointer.to_bytes(),
    })
}

/// Checks a downloaded object against the pointer's digest and decrypts it.
///
/// # Errors
/// `attachment.*` (digest mismatch, truncated, tampered chunk).
#[wasm_bindgen(js_name = decryptAttachment)]
pub fn decrypt_attachment(pointer: &[u8], object: &[u8]) -> JsResult<Vec<u8>> {
    let pointer = AttachmentPointer::from_bytes(pointer).map_err(throw)?;
    pointer.verify_digest(object).map_err(throw)?;
    hushwire::attachment::decrypt(&pointer, object).map_err(throw)
}

/// What a pointer says about its file.
#[wasm_bindgen]
pub struct AttachmentInfo {
    content_type: String,
    file_name: String,
    size: u64,
    object_size: u64,
}

#[wasm_bindgen]
impl AttachmentInfo {
    /// The MIME type the sender gave (may be empty).
    #[wasm_bindgen(getter, js_name = contentType)]
    pub fn content_type(&self) -> String {
        self.content_type.clone()
    }

    /// The file name the sender gave (may be empty).
    #[wasm_bindgen(getter, js_name = fileName)]
    pub fn file_name(&self) -> String {
        self.file_name.clone()
    }

    /// The file's size in bytes.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> f64 {
        number(self.size)
    }

    /// The stored object's size in bytes (what to download).
    #[wasm_bindgen(getter, js_name = objectSize)]
    pub fn object_size(&self) -> f64 {
        number(self.object_size)
    }
}

/// Reads a pointer (from a decrypted message).
///
/// # Errors
/// `attachment.*` for a malformed pointer.
#[wasm_bindgen(js_name = attachmentInfo)]
pub fn attachment_info(pointer: &[u8]) -> JsResult<AttachmentInfo> {
    let pointer = AttachmentPointer::from_bytes(pointer).map_err(throw)?;
    Ok(AttachmentInfo {
        content_type: pointer.content_type().to_owned(),
        file_name: pointer.file_name().to_owned(),
        size: pointer.plaintext_len(),
        object_size: pointer.ciphertext_len(),
    })
}
