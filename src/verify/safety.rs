//! Safety numbers and their QR payload (SPEC.md §15.2 and §15.3).

use core::fmt;

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use super::{UserId, VerifyError};
use crate::error::DecodeError;
use crate::keys::IdentityKey;
use crate::labels::LABEL_SAFETY_NUMBER;
use crate::wire::{Reader, TYPE_SAFETY_NUMBER_QR, WIRE_VERSION, expect_header};

/// The version of the safety-number derivation this build computes. It is hashed into every
/// fingerprint and carried in the QR payload, so a future derivation (another hash, another
/// iteration count) cannot be confused with this one.
pub const SAFETY_NUMBER_VERSION: u8 = 1;

/// SHA-512 iterations per fingerprint: 5,200, as Signal's numeric fingerprints. One
/// fingerprint costs about 1.7 ms on a current laptop core, a safety number (two of them)
/// about 3.5 ms. An attacker looking for an identity key whose code matches the digits a user
/// compares pays the same for every candidate key, about 100 times the cost of generating the
/// key itself. That matters for users who compare only the first groups; the full 30-digit
/// half (about 99.7 bits) and the QR payload (256-bit fingerprints) are out of reach anyway.
pub const FINGERPRINT_ITERATIONS: u32 = 5_200;

/// Bytes of a fingerprint: the first 32 bytes of the last SHA-512 output.
pub const FINGERPRINT_LEN: usize = 32;

/// Digits of a safety number: 30 per identity.
pub const SAFETY_NUMBER_DIGITS: usize = 60;

/// Groups of five digits in a safety number.
pub const SAFETY_NUMBER_GROUPS: usize = SAFETY_NUMBER_DIGITS / GROUP_DIGITS;

/// Length of the QR payload: wire version, type, safety-number version, two fingerprints.
pub const QR_PAYLOAD_LEN: usize = 3 + 2 * FINGERPRINT_LEN;

const GROUP_DIGITS: usize = 5;
/// Bytes of the fingerprint read per group of five digits.
const GROUP_BYTES: usize = 5;
/// Groups per identity.
const GROUPS_PER_SIDE: usize = SAFETY_NUMBER_GROUPS / 2;

/// One identity's half of a safety number: a slow hash of its identity key and user id.
///
/// `X_0 = "hushwire/v1/safety-number" || version(1) || identity_key(32) || len(1) || user_id`,
/// `X_i = SHA-512(X_{i-1} || identity_key)` for `i = 1..=`[`FINGERPRINT_ITERATIONS`]; the
/// fingerprint is the first 32 bytes of the last `X`. It is public: it only names the key.
///
/// Computing one takes a few milliseconds; an app may cache its own.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; FINGERPRINT_LEN]);

impl Fingerprint {
    /// Computes the fingerprint of `identity_key` as the key of `user_id`.
    pub fn compute(user_id: &UserId, identity_key: &IdentityKey) -> Self {
        let key = identity_key.as_bytes();
        let mut first = Sha512::new();
        first.update(LABEL_SAFETY_NUMBER);
        first.update([SAFETY_NUMBER_VERSION]);
        first.update(key);
        first.update([user_id.len_byte()]);
        first.update(user_id.as_bytes());
        first.update(key);
        let mut x = first.finalize();
        for _ in 1..FINGERPRINT_ITERATIONS {
            let mut h = Sha512::new();
            h.update(x);
            h.update(key);
            x = h.finalize();
        }
        let mut out = [0u8; FINGERPRINT_LEN];
        for (o, b) in out.iter_mut().zip(x.iter()) {
            *o = *b;
        }
        Fingerprint(out)
    }

    /// Rebuilds a fingerprint from its bytes (for example one the app cached).
    pub fn from_bytes(bytes: [u8; FINGERPRINT_LEN]) -> Self {
        Fingerprint(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; FINGERPRINT_LEN] {
        &self.0
    }

    /// The 30 digits of this identity's half of a safety number: six groups, each the
    /// big-endian integer of 5 fingerprint bytes modulo 100,000, written with 5 digits.
    pub fn digits(&self) -> String {
        let mut out = String::with_capacity(SAFETY_NUMBER_DIGITS / 2);
        for chunk in self.0.chunks_exact(GROUP_BYTES).take(GROUPS_PER_SIDE) {
            let value = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            out.push_str(&format!("{:05}", value % 100_000));
        }
        out
    }

    fn ct_eq(&self, other: &[u8; FINGERPRINT_LEN]) -> bool {
        self.0.ct_eq(other).into()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint(")?;
        for b in self.0.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// The safety number of a pair of identities, as one side sees it.
///
/// Both sides show the same 60 digits: the two 30-digit halves are written smaller first,
/// whoever is local. Compare all 60 digits, or scan the other side's QR code
/// ([`SafetyNumber::to_qr_payload`], [`SafetyNumber::verify_scanned`]), which compares the full
/// 256-bit fingerprints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SafetyNumber {
    local: Fingerprint,
    remote: Fingerprint,
}

impl SafetyNumber {
    /// Computes the safety number between us (`local_user`, `local_key`) and the peer
    /// (`remote_user`, `remote_key`). Costs two fingerprints (a few milliseconds).
    pub fn new(
        local_user: &UserId,
        local_key: &IdentityKey,
        remote_user: &UserId,
        remote_key: &IdentityKey,
    ) -> Self {
        SafetyNumber {
            local: Fingerprint::compute(local_user, local_key),
            remote: Fingerprint::compute(remote_user, remote_key),
        }
    }

    /// Builds the safety number from fingerprints already computed.
    pub fn from_fingerprints(local: Fingerprint, remote: Fingerprint) -> Self {
        SafetyNumber { local, remote }
    }

    /// Our fingerprint.
    pub fn local(&self) -> &Fingerprint {
        &self.local
    }

    /// The peer's fingerprint.
    pub fn remote(&self) -> &Fingerprint {
        &self.remote
    }

    /// The 60 digits, without spaces: the smaller 30-digit half first.
    pub fn digits(&self) -> String {
        let (a, b) = (self.local.digits(), self.remote.digits());
        if a <= b { a + &b } else { b + &a }
    }

    /// The 60 digits in [`SAFETY_NUMBER_GROUPS`] groups of five.
    pub fn groups(&self) -> [String; SAFETY_NUMBER_GROUPS] {
        let digits = self.digits();
        core::array::from_fn(|i| {
            digits
                .get(i * GROUP_DIGITS..(i + 1) * GROUP_DIGITS)
                .unwrap_or_default()
                .to_owned()
        })
    }

    /// The bytes to show as a QR code for the peer to scan (SPEC.md §15.3):
    /// `version(1)=0x01 type(1)=0x50 safety_number_version(1) our_fingerprint(32)
    /// their_fingerprint(32)`.
    pub fn to_qr_payload(&self) -> [u8; QR_PAYLOAD_LEN] {
        let mut out = [0u8; QR_PAYLOAD_LEN];
        let header = [WIRE_VERSION, TYPE_SAFETY_NUMBER_QR, SAFETY_NUMBER_VERSION];
        let parts = header
            .iter()
            .chain(self.local.0.iter())
            .chain(self.remote.0.iter());
        for (o, b) in out.iter_mut().zip(parts) {
            *o = *b;
        }
        out
    }

    /// Checks a QR payload scanned from the peer's screen: it must name the same two
    /// fingerprints, the peer's as the displaying side.
    ///
    /// # Errors
    /// [`VerifyError::Malformed`] for bytes that are not a QR payload (an unknown wire version
    /// is `Malformed(UnknownVersion)`); [`VerifyError::SafetyNumberVersion`] for a payload of
    /// another safety-number version; [`VerifyError::Swapped`] for a payload made on this side;
    /// [`VerifyError::OtherPair`] for any other pair of fingerprints (the peer sees another key
    /// for one of us, or it is another conversation's code). Nothing changes on error.
    pub fn verify_scanned(&self, payload: &[u8]) -> Result<(), VerifyError> {
        let mut r = Reader::new(payload);
        // The size is checked after both version bytes, so a newer payload is reported as a
        // version mismatch, not as oversize.
        expect_header(&mut r, payload.len(), TYPE_SAFETY_NUMBER_QR, usize::MAX)?;
        let version = r.u8()?;
        if version != SAFETY_NUMBER_VERSION {
            return Err(VerifyError::SafetyNumberVersion {
                ours: SAFETY_NUMBER_VERSION,
                theirs: version,
            });
        }
        if payload.len() > QR_PAYLOAD_LEN {
            return Err(DecodeError::TooLarge {
                len: payload.len(),
                max: QR_PAYLOAD_LEN,
            }
            .into());
        }
        let displayer = r.array::<FINGERPRINT_LEN>()?;
        let scanner = r.array::<FINGERPRINT_LEN>()?;
        r.finish()?;
        let theirs = self.remote.ct_eq(&displayer) & self.local.ct_eq(&scanner);
        let ours = self.local.ct_eq(&displayer) & self.remote.ct_eq(&scanner);
        if theirs {
            Ok(())
        } else if ours {
            Err(VerifyError::Swapped)
        } else {
            Err(VerifyError::OtherPair)
        }
    }
}

impl fmt::Display for SafetyNumber {
    /// The 60 digits in 12 groups of five, separated by spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.groups().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(group)?;
        }
        Ok(())
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafetyNumber")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKeyPair;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn reference_fingerprint(user: &[u8], key: &[u8; 32]) -> [u8; 32] {
        let mut x = [
            &b"hushwire/v1/safety-number"[..],
            &[1u8],
            key,
            &[user.len() as u8],
            user,
        ]
        .concat();
        for _ in 0..5_200 {
            x = Sha512::digest([&x[..], key].concat()).to_vec();
        }
        x[..32].try_into().unwrap()
    }

    #[test]
    fn fingerprint_matches_a_plain_reading_of_the_spec() {
        let mut rng = ChaCha20Rng::seed_from_u64(800);
        let key = *IdentityKeyPair::generate(&mut rng).public();
        let user = UserId::new(b"alice").unwrap();
        let fp = Fingerprint::compute(&user, &key);
        assert_eq!(
            fp.as_bytes(),
            &reference_fingerprint(b"alice", key.as_bytes())
        );
        let digits = fp.digits();
        assert_eq!(digits.len(), 30);
        let expected: String = fp.as_bytes()[..30]
            .chunks(5)
            .map(|c| {
                let v = c.iter().fold(0u64, |a, b| a * 256 + u64::from(*b));
                format!("{:05}", v % 100_000)
            })
            .collect();
        assert_eq!(digits, expected);
    }

    #[test]
    fn digits_keep_leading_zeros() {
        let fp = Fingerprint::from_bytes([0u8; 32]);
        assert_eq!(fp.digits(), "0".repeat(30));
        let mut bytes = [0u8; 32];
        bytes[4] = 7;
        assert_eq!(&Fingerprint::from_bytes(bytes).digits()[..5], "00007");
        // 2^40 - 1 = 1099511627775, mod 100000 = 27775.
        bytes[..5].copy_from_slice(&[0xff; 5]);
        assert_eq!(&Fingerprint::from_bytes(bytes).digits()[..5], "27775");
    }

    #[test]
    fn qr_decoding_is_strict() {
        let sn = SafetyNumber::from_fingerprints(
            Fingerprint::from_bytes([1; 32]),
            Fingerprint::from_bytes([2; 32]),
        );
        let theirs = SafetyNumber::from_fingerprints(
            Fingerprint::from_bytes([2; 32]),
            Fingerprint::from_bytes([1; 32]),
        );
        let good = theirs.to_qr_payload();
        assert_eq!(sn.verify_scanned(&good), Ok(()));
        assert_eq!(
            sn.verify_scanned(&good[..QR_PAYLOAD_LEN - 1]),
            Err(VerifyError::Malformed(DecodeError::Truncated { needed: 1 }))
        );
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(
            sn.verify_scanned(&long),
            Err(VerifyError::Malformed(DecodeError::TooLarge {
                len: QR_PAYLOAD_LEN + 1,
                max: QR_PAYLOAD_LEN
            }))
        );
        assert_eq!(
            sn.verify_scanned(&[]),
            Err(VerifyError::Malformed(DecodeError::Truncated { needed: 1 }))
        );
        let mut v = good;
        v[0] = 2;
        assert_eq!(
            sn.verify_scanned(&v),
            Err(VerifyError::Malformed(DecodeError::UnknownVersion(2)))
        );
        let mut t = good;
        t[1] = 0x01;
        assert_eq!(
            sn.verify_scanned(&t),
            Err(VerifyError::Malformed(DecodeError::WrongType {
                expected: 0x50,
                found: 0x01
            }))
        );
        t[1] = 0x5f;
        assert_eq!(
            sn.verify_scanned(&t),
            Err(VerifyError::Malformed(DecodeError::UnknownType(0x5f)))
        );
        // A newer safety-number version is reported as such even if longer.
        let mut newer = good.to_vec();
        newer[2] = 2;
        newer.extend_from_slice(&[0; 32]);
        assert_eq!(
            sn.verify_scanned(&newer),
            Err(VerifyError::SafetyNumberVersion { ours: 1, theirs: 2 })
        );
        assert_eq!(
            sn.verify_scanned(&sn.to_qr_payload()),
            Err(VerifyError::Swapped)
        );
        for i in 3..QR_PAYLOAD_LEN {
            let mut bad = good;
            bad[i] ^= 0x80;
            assert_eq!(
                sn.verify_scanned(&bad),
                Err(VerifyError::OtherPair),
                "byte {i}"
            );
        }
    }

    #[test]
    fn groups_and_display() {
        let sn = SafetyNumber::from_fingerprints(
            Fingerprint::from_bytes([9; 32]),
            Fingerprint::from_bytes([0; 32]),
        );
        let groups = sn.groups();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| g.len() == 5));
        assert_eq!(groups[0], "00000");
        assert_eq!(sn.to_string(), groups.join(" "));
        assert_eq!(sn.to_string().len(), 60 + 11);
    }
}
