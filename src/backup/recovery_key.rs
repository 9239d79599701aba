//! The recovery key: its display form, its passphrase wrap, and the keys derived from it
//! (SPEC.md §18.2, §18.3).

use core::fmt;

use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{BackupError, read_header};
use crate::aead::{NONCE_LEN, TAG_LEN, open_into, seal_into};
use crate::keys::{KEM_PUBLIC_KEY_LEN, KemKeyPair};
use crate::labels::{
    LABEL_BACKUP_ENCRYPTION_KEY, LABEL_BACKUP_ID, LABEL_BACKUP_SIGNING_KEY,
    LABEL_RECOVERY_KEY_CHECK,
};
use crate::wire::{Reader, WIRE_VERSION};
use crate::wire::{TYPE_BACKUP_PUBLIC_KEY, TYPE_WRAPPED_RECOVERY_KEY};

/// Crockford's base32 alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters carrying the 256 key bits (the last one holds 1 bit and 4 zero bits).
const DATA_CHARS: usize = 52;
/// Characters of the hash check (10 bits of SHA-256).
const HASH_CHARS: usize = 2;
/// Characters of the displayed recovery key: data, hash check, Luhn mod 32 check character.
pub const RECOVERY_KEY_DISPLAY_LEN: usize = DATA_CHARS + HASH_CHARS + 1;
/// Characters per group in the display form.
const GROUP_LEN: usize = 5;

/// Argon2id memory of a new wrap, in KiB (64 MiB).
pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes of a new wrap.
pub const DEFAULT_ARGON2_ITERATIONS: u32 = 3;
/// Argon2id lanes of a new wrap.
pub const DEFAULT_ARGON2_LANES: u32 = 1;
/// Most Argon2id memory a wrap may ask for, in KiB (256 MiB): checked before hashing.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
/// Most Argon2id passes a wrap may ask for: checked before hashing.
pub const MAX_ARGON2_ITERATIONS: u32 = 10;
/// Most Argon2id lanes a wrap may ask for: checked before hashing.
pub const MAX_ARGON2_LANES: u32 = 4;
/// Fewest KiB of Argon2id memory per lane (Argon2's own minimum).
pub const MIN_ARGON2_MEMORY_KIB_PER_LANE: u32 = 8;
/// Fewest Argon2id passes.
pub const MIN_ARGON2_ITERATIONS: u32 = 1;
/// Fewest Argon2id lanes.
pub const MIN_ARGON2_LANES: u32 = 1;
/// Bytes of the Argon2id salt.
const SALT_LEN: usize = 16;
/// Bytes of an encoded [`WrappedRecoveryKey`].
pub const WRAPPED_RECOVERY_KEY_LEN: usize = 2 + 12 + SALT_LEN + 32 + TAG_LEN;
/// Bytes of an encoded [`BackupPublicKey`].
pub(crate) const BACKUP_PUBLIC_KEY_LEN: usize = 2 + 32 + 32 + 32 + KEM_PUBLIC_KEY_LEN;

/// HKDF-SHA256 with no salt from the recovery key.
fn derive<const N: usize>(key: &[u8; 32], info: &[u8]) -> Zeroizing<[u8; N]> {
    let hk = Hkdf::<Sha256>::new(None, key);
    let mut out = Zeroizing::new([0u8; N]);
    // Cannot fail: every N used here is far below HKDF's limit of 255 hash lengths.
    let _ = hk.expand(info, out.as_mut());
    out
}

/// The user's recovery key: 32 random bytes, the one secret that opens the backup.
///
/// Zeroized on drop, compared in constant time, never printed by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RecoveryKey([u8; 32]);

impl RecoveryKey {
    /// Draws a new recovery key from the caller's CSPRNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        RecoveryKey(bytes)
    }

    /// Wraps 32 bytes the app kept (for example in a platform key store).
    pub fn dangerous_from_bytes(bytes: [u8; 32]) -> Self {
        RecoveryKey(bytes)
    }

    /// A copy of the 32 bytes (the whole secret).
    pub fn dangerous_to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0)
    }

    /// The form shown to the user: 55 Crockford base32 characters in 11 groups of 5, joined
    /// by `-` (SPEC.md §18.2.1). Show it once and let the user write it down.
    pub fn to_display(&self) -> Zeroizing<String> {
        let chars = self.chars();
        let mut out = Zeroizing::new(String::with_capacity(RECOVERY_KEY_DISPLAY_LEN + 10));
        for (i, &c) in chars.iter().enumerate() {
            if i > 0 && i % GROUP_LEN == 0 {
                out.push('-');
            }
            out.push(char::from(
                ALPHABET.get(usize::from(c)).copied().unwrap_or(b'0'),
            ));
        }
        out
    }

    /// Reads a recovery key the user typed. Case, spaces and `-` are ignored; `O` reads as
    /// `0` and `I`, `L` as `1` (Crockford's rule).
    ///
    /// # Errors
    /// [`BackupError::RecoveryKeyFormat`] for a wrong length or a character outside the
    /// alphabet; [`BackupError::RecoveryKeyMistyped`] when the checks fail (any single
    /// mistyped character is caught, SPEC.md §18.2.1).
    pub fn from_display(text: &str) -> Result<Self, BackupError> {
        let mut values = Zeroizing::new([0u8; RECOVERY_KEY_DISPLAY_LEN]);
        let mut n = 0usize;
        for c in text.chars() {
            if c.is_whitespace() || c == '-' {
                continue;
            }
            let v = char_value(c).ok_or(BackupError::RecoveryKeyFormat)?;
            let slot = values.get_mut(n).ok_or(BackupError::RecoveryKeyFormat)?;
            *slot = v;
            n += 1;
        }
        if n != RECOVERY_KEY_DISPLAY_LEN {
            return Err(BackupError::RecoveryKeyFormat);
        }
        if !luhn_valid(values.as_ref()) {
            return Err(BackupError::RecoveryKeyMistyped);
        }
        let data = values.get(..DATA_CHARS).unwrap_or_default();
        let mut bytes = [0u8; 32];
        let mut acc: u32 = 0;
        let mut bits = 0u32;
        let mut out = 0usize;
        for &v in data {
            acc = (acc << 5) | u32::from(v);
            bits += 5;
            while bits >= 8 && out < 32 {
                bits -= 8;
                if let Some(b) = bytes.get_mut(out) {
                    *b = u8::try_from((acc >> bits) & 0xff).unwrap_or(0);
                }
                out += 1;
                acc &= (1 << bits) - 1;
            }
        }
        acc.zeroize();
        // The 4 padding bits of the last data character must be zero.
        let key = RecoveryKey(bytes);
        bytes.zeroize();
        if bits != 4 || !bool::from(key.chars().as_slice().ct_eq(values.as_slice())) {
            return Err(BackupError::RecoveryKeyMistyped);
        }
        Ok(key)
    }

    /// The 55 character values: data, hash check, Luhn check.
    fn chars(&self) -> Zeroizing<[u8; RECOVERY_KEY_DISPLAY_LEN]> {
        let mut out = Zeroizing::new([0u8; RECOVERY_KEY_DISPLAY_LEN]);
        // 256 bits, then 4 zero bits: 52 groups of 5, most significant first.
        let mut i = 0usize;
        let mut acc: u32 = 0;
        let mut bits = 0u32;
        for &b in self.0.iter() {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                if let Some(o) = out.get_mut(i) {
                    *o = u8::try_from((acc >> bits) & 31).unwrap_or(0);
                }
                i += 1;
                acc &= (1 << bits) - 1;
            }
        }
        if let Some(o) = out.get_mut(i) {
            *o = u8::try_from((acc << (5 - bits)) & 31).unwrap_or(0);
        }
        acc.zeroize();
        let mut h = Sha256::new();
        h.update(LABEL_RECOVERY_KEY_CHECK);
        h.update(self.0);
        let digest: [u8; 32] = h.finalize().into();
        let (d0, d1) = (digest.first().copied(), digest.get(1).copied());
        let ten = (u16::from(d0.unwrap_or(0)) << 2) | u16::from(d1.unwrap_or(0) >> 6);
        if let Some(o) = out.get_mut(DATA_CHARS) {
            *o = u8::try_from(ten >> 5).unwrap_or(0);
        }
        if let Some(o) = out.get_mut(DATA_CHARS + 1) {
            *o = u8::try_from(ten & 31).unwrap_or(0);
        }
        let check = luhn_check_char(out.get(..DATA_CHARS + HASH_CHARS).unwrap_or_default());
        if let Some(o) = out.get_mut(DATA_CHARS + HASH_CHARS) {
            *o = check;
        }
        out
    }

    /// The keys derived from the recovery key (SPEC.md §18.3).
    pub(crate) fn secrets(&self) -> BackupSecrets {
        let backup_id = *derive::<32>(&self.0, LABEL_BACKUP_ID);
        let enc = derive::<96>(&self.0, LABEL_BACKUP_ENCRYPTION_KEY);
        let mut x = [0u8; 32];
        let mut seed = Zeroizing::new([0u8; 64]);
        x.copy_from_slice(enc.get(..32).unwrap_or(&[0u8; 32]));
        seed.copy_from_slice(enc.get(32..96).unwrap_or(&[0u8; 64]));
        let x25519 = StaticSecret::from(x);
        x.zeroize();
        let signing_seed = derive::<32>(&self.0, LABEL_BACKUP_SIGNING_KEY);
        BackupSecrets {
            backup_id,
            x25519,
            kem: KemKeyPair::from_seed(&seed),
            signing: SigningKey::from_bytes(&signing_seed),
        }
    }

    /// The backup public key devices append under (SPEC.md §18.3).
    pub fn public_key(&self) -> BackupPublicKey {
        self.secrets().public_key()
    }

    /// The backup id: public, derived from the key, the name under which the storage
    /// provider keeps this user's backup.
    pub fn backup_id(&self) -> [u8; 32] {
        *derive::<32>(&self.0, LABEL_BACKUP_ID)
    }
}

impl PartialEq for RecoveryKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for RecoveryKey {}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(..)")
    }
}

/// The value of a typed character, or `None` outside the alphabet.
fn char_value(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    let byte = u8::try_from(u32::from(c)).ok()?;
    let pos = ALPHABET.iter().position(|&a| a == byte)?;
    u8::try_from(pos).ok()
}

/// Luhn mod 32: the sum over the values from the right, every second one doubled and folded.
fn luhn_sum(values: &[u8], double_first: bool) -> u32 {
    let mut sum = 0u32;
    let mut double = double_first;
    for &v in values.iter().rev() {
        let mut addend = u32::from(v) * if double { 2 } else { 1 };
        addend = addend / 32 + addend % 32;
        sum += addend;
        double = !double;
    }
    sum
}

/// The Luhn mod 32 check character of `values`.
fn luhn_check_char(values: &[u8]) -> u8 {
    let sum = luhn_sum(values, true);
    u8::try_from((32 - sum % 32) % 32).unwrap_or(0)
}

/// Whether `values` ends with its Luhn mod 32 check character.
fn luhn_valid(values: &[u8]) -> bool {
    luhn_sum(values, false).is_multiple_of(32)
}

/// Everything derived from the recovery key.
pub(crate) struct BackupSecrets {
    pub(crate) backup_id: [u8; 32],
    pub(crate) x25519: StaticSecret,
    pub(crate) kem: KemKeyPair,
    pub(crate) signing: SigningKey,
}

impl BackupSecrets {
    pub(crate) fn public_key(&self) -> BackupPublicKey {
        BackupPublicKey {
            backup_id: self.backup_id,
            signing: self.signing.verifying_key().to_bytes(),
            x25519: XPublicKey::from(&self.x25519).to_bytes(),
            kem: Box::new(*self.kem.public()),
        }
    }
}

/// The public half of the backup's encryption key pair (X25519 and ML-KEM-768), with the
/// backup id and the recovery signing key's public key: what a device needs to seal entries
/// and check manifests without the recovery key.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupPublicKey {
    pub(crate) backup_id: [u8; 32],
    pub(crate) signing: [u8; 32],
    pub(crate) x25519: [u8; 32],
    pub(crate) kem: Box<[u8; KEM_PUBLIC_KEY_LEN]>,
}

impl BackupPublicKey {
    /// The backup id.
    pub fn backup_id(&self) -> [u8; 32] {
        self.backup_id
    }

    /// The encoding (SPEC.md §18.3): version, type `0x81`, backup id, recovery signing public
    /// key, X25519 key, ML-KEM key.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BACKUP_PUBLIC_KEY_LEN);
        out.extend_from_slice(&[WIRE_VERSION, TYPE_BACKUP_PUBLIC_KEY]);
        out.extend_from_slice(&self.backup_id);
        out.extend_from_slice(&self.signing);
        out.extend_from_slice(&self.x25519);
        out.extend_from_slice(self.kem.as_ref());
        out
    }

    /// Decodes [`BackupPublicKey::to_bytes`]. The keys are checked when an entry is sealed.
    ///
    /// # Errors
    /// [`BackupError::Malformed`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BackupError> {
        let mut r = Reader::new(bytes);
        read_header(&mut r, TYPE_BACKUP_PUBLIC_KEY)?;
        let backup_id = r.array::<32>()?;
        let signing = r.array::<32>()?;
        let x25519 = r.array::<32>()?;
        let kem = Box::new(r.array::<KEM_PUBLIC_KEY_LEN>()?);
        r.finish()?;
        Ok(BackupPublicKey {
            backup_id,
            signing,
            x25519,
            kem,
        })
    }
}

impl fmt::Debug for BackupPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackupPublicKey(")?;
        for b in self.backup_id.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// Argon2id parameters of a passphrase wrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params {
            memory_kib: DEFAULT_ARGON2_MEMORY_KIB,
            iterations: DEFAULT_ARGON2_ITERATIONS,
            lanes: DEFAULT_ARGON2_LANES,
        }
    }
}

impl Argon2Params {
    /// Parameters within the bounds (SPEC.md §18.2.2). Use [`Argon2Params::default`] unless
    /// you measured the devices that will unwrap; smaller ones are for tests.
    ///
    /// # Errors
    /// [`BackupError::KdfParamsOutOfRange`] for the first parameter outside its bounds.
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Result<Self, BackupError> {
        let p = Argon2Params {
            memory_kib,
            iterations,
            lanes,
        };
        p.check()?;
        Ok(p)
    }

    /// Memory in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Passes.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Lanes.
    pub fn lanes(&self) -> u32 {
        self.lanes
    }

    fn check(&self) -> Result<(), BackupError> {
        let out = |name, value, min, max| BackupError::KdfParamsOutOfRange {
            name,
            value,
            min,
            max,
        };
        if !(MIN_ARGON2_LANES..=MAX_ARGON2_LANES).contains(&self.lanes) {
            return Err(out("lanes", self.lanes, MIN_ARGON2_LANES, MAX_ARGON2_LANES));
        }
        let min_memory = MIN_ARGON2_MEMORY_KIB_PER_LANE * self.lanes;
        if !(min_memory..=MAX_ARGON2_MEMORY_KIB).contains(&self.memory_kib) {
            return Err(out(
                "memory_kib",
                self.memory_kib,
                min_memory,
                MAX_ARGON2_MEMORY_KIB,
            ));
        }
        if !(MIN_ARGON2_ITERATIONS..=MAX_ARGON2_ITERATIONS).contains(&self.iterations) {
            return Err(out(
                "iterations",
                self.iterations,
                MIN_ARGON2_ITERATIONS,
                MAX_ARGON2_ITERATIONS,
            ));
        }
        Ok(())
    }

    /// Argon2id of the passphrase and salt into a 32-byte key (parameters checked first).
    fn hash(
        &self,
        passphrase: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<Zeroizing<[u8; 32]>, BackupError> {
        self.check()?;
        let too_much = BackupError::KdfParamsOutOfRange {
            name: "memory_kib",
            value: self.memory_kib,
            min: MIN_ARGON2_MEMORY_KIB_PER_LANE * self.lanes,
            max: MAX_ARGON2_MEMORY_KIB,
        };
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.lanes, Some(32))
            .map_err(|_| too_much)?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase, salt, out.as_mut())
            .map_err(|_| too_much)?;
        Ok(out)
    }
}

/// A recovery key encrypted under a passphrase with Argon2id (SPEC.md §18.2.2), stored beside
/// the backup so that the user may type a passphrase instead of the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedRecoveryKey {
    params: Argon2Params,
    salt: [u8; SALT_LEN],
    sealed: [u8; 32 + TAG_LEN],
}

impl WrappedRecoveryKey {
    /// Wraps `key` under `passphrase` with a fresh salt. This runs Argon2id once: at the
    /// default parameters, a fraction of a second and 64 MiB.
    ///
    /// # Errors
    /// [`BackupError::KdfParamsOutOfRange`] (not for parameters made by
    /// [`Argon2Params::new`] or `default`).
    pub fn wrap<R: CryptoRng + ?Sized>(
        key: &RecoveryKey,
        passphrase: &[u8],
        params: Argon2Params,
        rng: &mut R,
    ) -> Result<Self, BackupError> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let kek = params.hash(passphrase, &salt)?;
        let mut w = WrappedRecoveryKey {
            params,
            salt,
            sealed: [0u8; 32 + TAG_LEN],
        };
        let mut out = Vec::with_capacity(32 + TAG_LEN);
        seal_into(&kek, &[0u8; NONCE_LEN], &w.header(), &key.0, &mut out);
        w.sealed
            .copy_from_slice(out.get(..32 + TAG_LEN).unwrap_or(&[0u8; 48]));
        out.zeroize();
        Ok(w)
    }

    /// The Argon2id parameters it was wrapped with.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Opens the wrap with the passphrase. The parameters are checked against the maxima
    /// before any hashing.
    ///
    /// # Errors
    /// [`BackupError::KdfParamsOutOfRange`] for stored parameters outside the bounds;
    /// [`BackupError::WrongPassphrase`] if the passphrase (or the wrap) is wrong.
    pub fn unwrap(&self, passphrase: &[u8]) -> Result<RecoveryKey, BackupError> {
        let kek = self.params.hash(passphrase, &self.salt)?;
        let mut plain = Zeroizing::new(Vec::with_capacity(32));
        if !open_into(
            &kek,
            &[0u8; NONCE_LEN],
            &self.header(),
            &self.sealed,
            &mut plain,
        ) {
            return Err(BackupError::WrongPassphrase);
        }
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| BackupError::WrongPassphrase)?;
        Ok(RecoveryKey(bytes))
    }

    /// Version, type, parameters and salt: the associated data of the wrap.
    fn header(&self) -> [u8; 2 + 12 + SALT_LEN] {
        let mut h = [0u8; 2 + 12 + SALT_LEN];
        let mut w = h.iter_mut();
        let fields = [WIRE_VERSION, TYPE_WRAPPED_RECOVERY_KEY]
            .into_iter()
            .chain(self.params.memory_kib.to_be_bytes())
            .chain(self.params.iterations.to_be_bytes())
            .chain(self.params.lanes.to_be_bytes())
            .chain(self.salt);
        for (slot, b) in w.by_ref().zip(fields) {
            *slot = b;
        }
        h
    }

    /// The encoding (SPEC.md §18.2.2), [`WRAPPED_RECOVERY_KEY_LEN`] bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAPPED_RECOVERY_KEY_LEN);
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Decodes [`WrappedRecoveryKey::to_bytes`]. Parameters are checked by
    /// [`WrappedRecoveryKey::unwrap`], not here.
    ///
    /// # Errors
    /// [`BackupError::Malformed`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BackupError> {
        let mut r = Reader::new(bytes);
        read_header(&mut r, TYPE_WRAPPED_RECOVERY_KEY)?;
        let memory_kib = r.u32()?;
        let iterations = r.u32()?;
        let lanes = r.u32()?;
        let salt = r.array::<SALT_LEN>()?;
        let sealed = r.array::<{ 32 + TAG_LEN }>()?;
        r.finish()?;
        Ok(WrappedRecoveryKey {
            params: Argon2Params {
                memory_kib,
                iterations,
                lanes,
            },
            salt,
            sealed,
        })
    }
}

impl fmt::Debug for WrappedRecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedRecoveryKey")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn display_round_trips_and_ignores_case_and_separators() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for _ in 0..50 {
            let key = RecoveryKey::generate(&mut rng);
            let shown = key.to_display();
            assert_eq!(shown.len(), RECOVERY_KEY_DISPLAY_LEN + 10);
            assert_eq!(RecoveryKey::from_display(&shown).unwrap(), key);
            let loose = shown.to_lowercase().replace('-', " ");
            assert_eq!(RecoveryKey::from_display(&loose).unwrap(), key);
        }
    }

    #[test]
    fn every_single_mistyped_character_is_caught() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for _ in 0..4 {
            let key = RecoveryKey::generate(&mut rng);
            let compact: Vec<u8> = key.to_display().bytes().filter(|&b| b != b'-').collect();
            for i in 0..compact.len() {
                for &c in ALPHABET.iter() {
                    if c == compact[i] {
                        continue;
                    }
                    let mut typo = compact.clone();
                    typo[i] = c;
                    let text = String::from_utf8(typo).unwrap();
                    assert_eq!(
                        RecoveryKey::from_display(&text),
                        Err(BackupError::RecoveryKeyMistyped),
                        "position {i}, {}",
                        char::from(c)
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_length_and_foreign_characters_are_format_errors() {
        let key = RecoveryKey::generate(&mut ChaCha20Rng::seed_from_u64(3));
        let shown = key.to_display();
        assert_eq!(
            RecoveryKey::from_display(&shown[..shown.len() - 1]),
            Err(BackupError::RecoveryKeyFormat)
        );
        assert_eq!(
            RecoveryKey::from_display(&format!("{}0", &*shown)),
            Err(BackupError::RecoveryKeyFormat)
        );
        let with_u = format!("U{}", &shown[1..]);
        assert_eq!(
            RecoveryKey::from_display(&with_u),
            Err(BackupError::RecoveryKeyFormat)
        );
        assert_eq!(
            RecoveryKey::from_display(""),
            Err(BackupError::RecoveryKeyFormat)
        );
    }

    #[test]
    fn debug_redacts() {
        let key = RecoveryKey::generate(&mut ChaCha20Rng::seed_from_u64(4));
        assert_eq!(format!("{key:?}"), "RecoveryKey(..)");
    }

    #[test]
    fn derived_keys_are_distinct_and_deterministic() {
        let key = RecoveryKey::dangerous_from_bytes([9; 32]);
        let a = key.secrets();
        let b = key.secrets();
        assert_eq!(a.backup_id, b.backup_id);
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.backup_id, a.signing.to_bytes());
        assert_ne!(a.backup_id, a.x25519.to_bytes());
        assert_ne!(a.signing.to_bytes(), a.x25519.to_bytes());
        let other = RecoveryKey::dangerous_from_bytes([8; 32]).secrets();
        assert_ne!(a.backup_id, other.backup_id);
    }

    #[test]
    fn public_key_round_trips() {
        let pk = RecoveryKey::dangerous_from_bytes([1; 32]).public_key();
        let bytes = pk.to_bytes();
        assert_eq!(bytes.len(), BACKUP_PUBLIC_KEY_LEN);
        assert_eq!(BackupPublicKey::from_bytes(&bytes).unwrap(), pk);
        assert!(BackupPublicKey::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn wrap_round_trips_and_refuses_a_wrong_passphrase() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let key = RecoveryKey::generate(&mut rng);
        let params = Argon2Params::new(64, 1, 1).unwrap();
        let wrapped = WrappedRecoveryKey::wrap(&key, b"correct horse", params, &mut rng).unwrap();
        let bytes = wrapped.to_bytes();
        assert_eq!(bytes.len(), WRAPPED_RECOVERY_KEY_LEN);
        let decoded = WrappedRecoveryKey::from_bytes(&bytes).unwrap();
        assert_eq!(decoded.unwrap(b"correct horse").unwrap(), key);
        assert_eq!(
            decoded.unwrap(b"correct horsf"),
            Err(BackupError::WrongPassphrase)
        );
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            if let Ok(w) = WrappedRecoveryKey::from_bytes(&b) {
                assert!(w.unwrap(b"correct horse").is_err(), "byte {i}");
            }
        }
    }

    #[test]
    fn params_are_bounded_at_and_past_the_edge() {
        assert!(
            Argon2Params::new(
                MAX_ARGON2_MEMORY_KIB,
                MAX_ARGON2_ITERATIONS,
                MAX_ARGON2_LANES
            )
            .is_ok()
        );
        assert!(Argon2Params::new(8, 1, 1).is_ok());
        assert!(matches!(
            Argon2Params::new(MAX_ARGON2_MEMORY_KIB + 1, 1, 1),
            Err(BackupError::KdfParamsOutOfRange {
                name: "memory_kib",
                ..
            })
        ));
        assert!(matches!(
            Argon2Params::new(64, MAX_ARGON2_ITERATIONS + 1, 1),
            Err(BackupError::KdfParamsOutOfRange {
                name: "iterations",
                ..
            })
        ));
        assert!(matches!(
            Argon2Params::new(64, 1, MAX_ARGON2_LANES + 1),
            Err(BackupError::KdfParamsOutOfRange { name: "lanes", .. })
        ));
        assert!(matches!(
            Argon2Params::new(15, 1, 2),
            Err(BackupError::KdfParamsOutOfRange {
                name: "memory_kib",
                min: 16,
                ..
            })
        ));
        assert!(Argon2Params::new(64, 0, 1).is_err());
        // A stored wrap asking for more is refused before hashing.
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let key = RecoveryKey::generate(&mut rng);
        let w = WrappedRecoveryKey::wrap(&key, b"p", Argon2Params::new(8, 1, 1).unwrap(), &mut rng)
            .unwrap();
        let mut bytes = w.to_bytes();
        bytes[2..6].copy_from_slice(&(MAX_ARGON2_MEMORY_KIB + 1).to_be_bytes());
        let crafted = WrappedRecoveryKey::from_bytes(&bytes).unwrap();
        assert!(matches!(
            crafted.unwrap(b"p"),
            Err(BackupError::KdfParamsOutOfRange {
                name: "memory_kib",
                ..
            })
        ));
        bytes[2..6].copy_from_slice(&8u32.to_be_bytes());
        bytes[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        let crafted = WrappedRecoveryKey::from_bytes(&bytes).unwrap();
        assert!(matches!(
            crafted.unwrap(b"p"),
            Err(BackupError::KdfParamsOutOfRange {
                name: "iterations",
                ..
            })
        ));
    }
}
