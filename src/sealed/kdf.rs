//! Key derivations of sealed envelopes, with their labels (SPEC.md §13).

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::keys::secret::SharedSecret;
use crate::keys::{KEM_CIPHERTEXT_LEN, KEM_PUBLIC_KEY_LEN};
use crate::labels::{
    LABEL_MULTI_AUTH, LABEL_MULTI_HYBRID_AUTH, LABEL_MULTI_HYBRID_WRAP, LABEL_MULTI_KEYS,
    LABEL_MULTI_WRAP, LABEL_SEALED_EPHEMERAL, LABEL_SEALED_HYBRID, LABEL_SEALED_STATIC,
};

/// Length of the per-recipient authentication tag.
pub(crate) const AUTH_TAG_LEN: usize = 16;

/// All-zero HKDF salt (as in SPEC.md §4.2).
const ZERO_SALT: [u8; 32] = [0u8; 32];

/// HKDF-SHA256 into a fixed-size array.
fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; N]> {
    const { assert!(N <= 255 * 32) };
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut out = Zeroizing::new([0u8; N]);
    // Cannot fail: N is at most 255 hash lengths, checked at compile time above.
    let _ = hk.expand_multi_info(info, out.as_mut());
    out
}

fn half(okm: &[u8; 64], second: bool) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    let range = if second { 32..64 } else { 0..32 };
    if let Some(part) = okm.get(range) {
        out.copy_from_slice(part);
    }
    out
}

/// The keys of the ephemeral stage.
pub(crate) struct EphemeralKeys {
    /// Salt of the static stage.
    pub(crate) chain_key: Zeroizing<[u8; 32]>,
    /// Encrypts the sender's identity key.
    pub(crate) static_key: Zeroizing<[u8; 32]>,
}

/// `HKDF(0x00*32, DH(e, R), LABEL_SEALED_EPHEMERAL || E || R, 64)` split into chain key and
/// static key.
pub(crate) fn ephemeral_keys(
    dh: &SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
) -> EphemeralKeys {
    let okm = hkdf::<64>(
        &ZERO_SALT,
        dh.as_bytes(),
        &[LABEL_SEALED_EPHEMERAL, ephemeral, recipient],
    );
    EphemeralKeys {
        chain_key: half(&okm, false),
        static_key: half(&okm, true),
    }
}

/// `HKDF(chain_key, DH(s, R), LABEL_SEALED_STATIC || E || R || encrypted_static, 32)`.
pub(crate) fn content_key(
    chain_key: &[u8; 32],
    dh: &SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    encrypted_static: &[u8],
) -> Zeroizing<[u8; 32]> {
    hkdf::<32>(
        chain_key,
        dh.as_bytes(),
        &[LABEL_SEALED_STATIC, ephemeral, recipient, encrypted_static],
    )
}

/// `HKDF(0x00*32, M, LABEL_MULTI_KEYS, 64)`: the ephemeral secret (first half, clamped by
/// X25519) and the body key (second half) of a multi-recipient message.
pub(crate) fn multi_keys(message_key: &[u8; 32]) -> (StaticSecret, Zeroizing<[u8; 32]>) {
    let okm = hkdf::<64>(&ZERO_SALT, message_key, &[LABEL_MULTI_KEYS]);
    // x25519-dalek takes the scalar by value: that stack copy is not wiped (SPEC.md §9.3).
    let ephemeral = StaticSecret::from(*half(&okm, false));
    (ephemeral, half(&okm, true))
}

/// `HKDF(0x00*32, DH(e, R), LABEL_MULTI_WRAP || E || R, 32)`: XORed with `M`.
pub(crate) fn wrap_key(
    dh: &SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
) -> Zeroizing<[u8; 32]> {
    hkdf::<32>(
        &ZERO_SALT,
        dh.as_bytes(),
        &[LABEL_MULTI_WRAP, ephemeral, recipient],
    )
}

/// `HKDF(0x00*32, DH(s, R), LABEL_MULTI_AUTH || E || R || C || S || SHA256(body), 16)`.
pub(crate) fn auth_tag(
    dh: &SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    wrapped: &[u8; 32],
    sender: &[u8; 32],
    body_digest: &[u8; 32],
) -> [u8; AUTH_TAG_LEN] {
    *hkdf::<AUTH_TAG_LEN>(
        &ZERO_SALT,
        dh.as_bytes(),
        &[
            LABEL_MULTI_AUTH,
            ephemeral,
            recipient,
            wrapped,
            sender,
            body_digest,
        ],
    )
}

/// `SHA256(ek)`: the recipient's encapsulation key as bound into the hybrid derivations.
pub(crate) fn key_digest(key: &[u8; KEM_PUBLIC_KEY_LEN]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// `DH || KEM shared secret`, the input key material of the hybrid derivations.
fn hybrid_ikm(dh: &SharedSecret, kem: &SharedSecret) -> Zeroizing<[u8; 64]> {
    let mut ikm = Zeroizing::new([0u8; 64]);
    let (first, second) = ikm.split_at_mut(32);
    first.copy_from_slice(dh.as_bytes());
    second.copy_from_slice(kem.as_bytes());
    ikm
}

/// `HKDF(0x00*32, DH(e, R) || SS, LABEL_SEALED_HYBRID || E || R || key_id || SHA256(ek) ||
/// kem_ciphertext, 64)` split into chain key and static key (type `0x33`).
pub(crate) fn hybrid_keys(
    dh: &SharedSecret,
    kem: &SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    key_id: u32,
    key_digest: &[u8; 32],
    kem_ciphertext: &[u8; KEM_CIPHERTEXT_LEN],
) -> EphemeralKeys {
    let okm = hkdf::<64>(
        &ZERO_SALT,
        hybrid_ikm(dh, kem).as_ref(),
        &[
            LABEL_SEALED_HYBRID,
            ephemeral,
            recipient,
            &key_id.to_be_bytes(),
            key_digest,
            kem_ciphertext,
        ],
    );
    EphemeralKeys {
        chain_key: half(&okm, false),
        static_key: half(&okm, true),
    }
}

/// `HKDF(0x00*32, DH(e, R) || SS, LABEL_MULTI_HYBRID_WRAP || E || R || key_id || SHA256(ek)
/// || kem_ciphertext, 32)`: XORed with `M` (type `0x34`).
pub(crate) fn hybrid_wrap_key(
    dh: &SharedSecret,
    kem: &SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    key_id: u32,
    key_digest: &[u8; 32],
    kem_ciphertext: &[u8; KEM_CIPHERTEXT_LEN],
) -> Zeroizing<[u8; 32]> {
    hkdf::<32>(
        &ZERO_SALT,
        hybrid_ikm(dh, kem).as_ref(),
        &[
            LABEL_MULTI_HYBRID_WRAP,
            ephemeral,
            recipient,
            &key_id.to_be_bytes(),
            key_digest,
            kem_ciphertext,
        ],
    )
}

/// `HKDF(0x00*32, DH(s, R), LABEL_MULTI_HYBRID_AUTH || E || R || key_id || kem_ciphertext ||
/// C || S || SHA256(body), 16)` (type `0x34`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn hybrid_auth_tag(
    dh: &SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    key_id: u32,
    kem_ciphertext: &[u8; KEM_CIPHERTEXT_LEN],
    wrapped: &[u8; 32],
    sender: &[u8; 32],
    body_digest: &[u8; 32],
) -> [u8; AUTH_TAG_LEN] {
    *hkdf::<AUTH_TAG_LEN>(
        &ZERO_SALT,
        dh.as_bytes(),
        &[
            LABEL_MULTI_HYBRID_AUTH,
            ephemeral,
            recipient,
            &key_id.to_be_bytes(),
            kem_ciphertext,
            wrapped,
            sender,
            body_digest,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_differ_and_depend_on_the_transcript() {
        let dh = SharedSecret::from_bytes([3u8; 32]);
        let a = ephemeral_keys(&dh, &[1u8; 32], &[2u8; 32]);
        let b = ephemeral_keys(&dh, &[1u8; 32], &[4u8; 32]);
        assert_ne!(*a.chain_key, *a.static_key);
        assert_ne!(*a.chain_key, *b.chain_key);
        let k1 = content_key(&a.chain_key, &dh, &[1u8; 32], &[2u8; 32], &[0u8; 48]);
        let k2 = content_key(&a.chain_key, &dh, &[1u8; 32], &[2u8; 32], &[1u8; 48]);
        assert_ne!(*k1, *k2);
    }

    /// The hybrid keys depend on both secrets and on every transcript field.
    #[test]
    fn hybrid_keys_bind_both_secrets_and_the_transcript() {
        let dh = SharedSecret::from_bytes([3u8; 32]);
        let kem = SharedSecret::from_bytes([4u8; 32]);
        let ct = [5u8; KEM_CIPHERTEXT_LEN];
        let base = hybrid_keys(&dh, &kem, &[1; 32], &[2; 32], 7, &[6; 32], &ct);
        let mut ct2 = ct;
        ct2[1000] ^= 1;
        let variants = [
            hybrid_keys(&kem, &kem, &[1; 32], &[2; 32], 7, &[6; 32], &ct),
            hybrid_keys(&dh, &dh, &[1; 32], &[2; 32], 7, &[6; 32], &ct),
            hybrid_keys(&dh, &kem, &[9; 32], &[2; 32], 7, &[6; 32], &ct),
            hybrid_keys(&dh, &kem, &[1; 32], &[9; 32], 7, &[6; 32], &ct),
            hybrid_keys(&dh, &kem, &[1; 32], &[2; 32], 8, &[6; 32], &ct),
            hybrid_keys(&dh, &kem, &[1; 32], &[2; 32], 7, &[9; 32], &ct),
            hybrid_keys(&dh, &kem, &[1; 32], &[2; 32], 7, &[6; 32], &ct2),
        ];
        for v in &variants {
            assert_ne!(*v.chain_key, *base.chain_key);
            assert_ne!(*v.static_key, *base.static_key);
        }
        let classical = ephemeral_keys(&dh, &[1; 32], &[2; 32]);
        assert_ne!(*classical.chain_key, *base.chain_key);
    }
}
