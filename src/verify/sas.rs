//! Short authentication strings: the verification key of a session, the emoji table, and how
//! the 6 SAS bytes of a verification run are shown (SPEC.md §15.4). The run itself is in
//! `sas_exchange`.

use core::fmt;

/// Emoji in a short authentication string (6 bits each: 42 bits).
pub const SAS_EMOJI_COUNT: usize = 7;
/// Numbers in the decimal form (13 bits each, shown as 1000..=9191: 39 bits).
pub const SAS_DECIMAL_COUNT: usize = 3;
/// Bytes of SAS output of a run: 48 bits, of which the emoji use the first 42, the numbers the
/// first 39.
pub const SAS_LEN: usize = 6;

/// One entry of the emoji table: its index (0..=63), the emoji, and its English name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SasEmoji {
    index: u8,
    symbol: &'static str,
    name: &'static str,
}

impl SasEmoji {
    /// Its position in [`SAS_EMOJI_TABLE`].
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The emoji, as a Unicode string (some include the emoji variation selector U+FE0F).
    pub fn symbol(&self) -> &'static str {
        self.symbol
    }

    /// Its English name, to read aloud or show under the emoji.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

const fn e(index: u8, symbol: &'static str, name: &'static str) -> SasEmoji {
    SasEmoji {
        index,
        symbol,
        name,
    }
}

/// The 64 emoji of short authentication strings, by 6-bit value (SPEC.md §15.4.3). It is
/// the table of Matrix's SAS verification, chosen there for emoji that look different on every
/// platform and have unambiguous names; reusing it lets apps reuse its translations.
pub const SAS_EMOJI_TABLE: [SasEmoji; 64] = [
    e(0, "\u{1F436}", "Dog"),
    e(1, "\u{1F431}", "Cat"),
    e(2, "\u{1F981}", "Lion"),
    e(3, "\u{1F40E}", "Horse"),
    e(4, "\u{1F984}", "Unicorn"),
    e(5, "\u{1F437}", "Pig"),
    e(6, "\u{1F418}", "Elephant"),
    e(7, "\u{1F430}", "Rabbit"),
    e(8, "\u{1F43C}", "Panda"),
    e(9, "\u{1F413}", "Rooster"),
    e(10, "\u{1F427}", "Penguin"),
    e(11, "\u{1F422}", "Turtle"),
    e(12, "\u{1F41F}", "Fish"),
    e(13, "\u{1F419}", "Octopus"),
    e(14, "\u{1F98B}", "Butterfly"),
    e(15, "\u{1F337}", "Flower"),
    e(16, "\u{1F333}", "Tree"),
    e(17, "\u{1F335}", "Cactus"),
    e(18, "\u{1F344}", "Mushroom"),
    e(19, "\u{1F30F}", "Globe"),
    e(20, "\u{1F319}", "Moon"),
    e(21, "\u{2601}\u{FE0F}", "Cloud"),
    e(22, "\u{1F525}", "Fire"),
    e(23, "\u{1F34C}", "Banana"),
    e(24, "\u{1F34E}", "Apple"),
    e(25, "\u{1F353}", "Strawberry"),
    e(26, "\u{1F33D}", "Corn"),
    e(27, "\u{1F355}", "Pizza"),
    e(28, "\u{1F382}", "Cake"),
    e(29, "\u{2764}\u{FE0F}", "Heart"),
    e(30, "\u{1F600}", "Smiley"),
    e(31, "\u{1F916}", "Robot"),
    e(32, "\u{1F3A9}", "Hat"),
    e(33, "\u{1F453}", "Glasses"),
    e(34, "\u{1F527}", "Spanner"),
    e(35, "\u{1F385}", "Santa"),
    e(36, "\u{1F44D}", "Thumbs Up"),
    e(37, "\u{2602}\u{FE0F}", "Umbrella"),
    e(38, "\u{231B}", "Hourglass"),
    e(39, "\u{23F0}", "Clock"),
    e(40, "\u{1F381}", "Gift"),
    e(41, "\u{1F4A1}", "Light Bulb"),
    e(42, "\u{1F4D5}", "Book"),
    e(43, "\u{270F}\u{FE0F}", "Pencil"),
    e(44, "\u{1F4CE}", "Paperclip"),
    e(45, "\u{2702}\u{FE0F}", "Scissors"),
    e(46, "\u{1F512}", "Lock"),
    e(47, "\u{1F511}", "Key"),
    e(48, "\u{1F528}", "Hammer"),
    e(49, "\u{260E}\u{FE0F}", "Telephone"),
    e(50, "\u{1F3C1}", "Flag"),
    e(51, "\u{1F682}", "Train"),
    e(52, "\u{1F6B2}", "Bicycle"),
    e(53, "\u{2708}\u{FE0F}", "Aeroplane"),
    e(54, "\u{1F680}", "Rocket"),
    e(55, "\u{1F3C6}", "Trophy"),
    e(56, "\u{26BD}", "Ball"),
    e(57, "\u{1F3B8}", "Guitar"),
    e(58, "\u{1F3BA}", "Trumpet"),
    e(59, "\u{1F514}", "Bell"),
    e(60, "\u{2693}", "Anchor"),
    e(61, "\u{1F3A7}", "Headphones"),
    e(62, "\u{1F4C1}", "Folder"),
    e(63, "\u{1F4CC}", "Pin"),
];

/// A short authentication string: 7 emoji (or three 4-digit numbers) for two users to
/// compare, for example on a call.
///
/// Only a completed verification run makes one ([`SasReady::sas`](super::SasReady::sas), from
/// [`start_sas`](super::start_sas) and [`accept_sas`](super::accept_sas)): it binds the
/// session (its id, both identity keys and a secret only its two ends hold) and a fresh nonce
/// from each side, the starter's committed before it saw the other. An attacker in the middle
/// gets one guess per run: 2^-42 for the emoji, 2^-39 for the numbers (SPEC.md §15.4.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortAuthString {
    bytes: [u8; SAS_LEN],
}

impl ShortAuthString {
    pub(crate) fn from_bytes(bytes: [u8; SAS_LEN]) -> Self {
        ShortAuthString { bytes }
    }

    /// The 6 SAS bytes the emoji and numbers are read from (not secret: they are shown).
    pub fn as_bytes(&self) -> &[u8; SAS_LEN] {
        &self.bytes
    }

    fn bits(&self) -> u64 {
        self.bytes
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    }

    /// The 7 emoji: the first 42 bits of the SAS bytes, 6 bits each, most significant first.
    pub fn emoji(&self) -> [SasEmoji; SAS_EMOJI_COUNT] {
        let bits = self.bits();
        core::array::from_fn(|i| {
            let shift = 42 - 6 * i;
            let index = usize::try_from((bits >> shift) & 0x3f).unwrap_or_default();
            SAS_EMOJI_TABLE
                .get(index)
                .copied()
                .unwrap_or(SAS_EMOJI_TABLE[0])
        })
    }

    /// The three numbers, each 1000..=9191: the first 39 bits, 13 bits each, plus 1000.
    pub fn decimal(&self) -> [u16; SAS_DECIMAL_COUNT] {
        let bits = self.bits();
        core::array::from_fn(|i| {
            let shift = 35 - 13 * i;
            let value = u16::try_from((bits >> shift) & 0x1fff).unwrap_or_default();
            value + 1000
        })
    }

    /// The emoji names joined by commas, to read aloud ("Dog, Cat, ...").
    pub fn emoji_names(&self) -> String {
        self.emoji()
            .iter()
            .map(SasEmoji::name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ShortAuthString {
    /// The decimal form: three numbers separated by spaces, e.g. `4821 1093 7710`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.decimal();
        write!(f, "{a} {b} {c}")
    }
}

impl fmt::Debug for ShortAuthString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShortAuthString")
            .field("decimal", &self.decimal())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_unambiguous() {
        for (i, entry) in SAS_EMOJI_TABLE.iter().enumerate() {
            assert_eq!(usize::from(entry.index()), i);
        }
        let mut names: Vec<_> = SAS_EMOJI_TABLE.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 64);
        let mut symbols: Vec<_> = SAS_EMOJI_TABLE.iter().map(|e| e.symbol()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        assert_eq!(symbols.len(), 64);
    }

    #[test]
    fn bit_extraction_at_the_extremes() {
        let zero = ShortAuthString { bytes: [0; 6] };
        assert!(zero.emoji().iter().all(|e| e.index() == 0));
        assert_eq!(zero.decimal(), [1000, 1000, 1000]);
        let ones = ShortAuthString { bytes: [0xff; 6] };
        assert!(ones.emoji().iter().all(|e| e.index() == 63));
        assert_eq!(ones.decimal(), [9191, 9191, 9191]);
        assert_eq!(ones.to_string(), "9191 9191 9191");
        // Only the first 42 bits reach the emoji and the first 39 the numbers.
        let low = ShortAuthString {
            bytes: [0, 0, 0, 0, 0, 0x3f],
        };
        assert!(low.emoji().iter().all(|e| e.index() == 0));
        assert_eq!(low.decimal(), [1000, 1000, 1000]);
        let bit42 = ShortAuthString {
            bytes: [0, 0, 0, 0, 0, 0x40],
        };
        assert_eq!(bit42.emoji()[6].index(), 1);
        let below39 = ShortAuthString {
            bytes: [0, 0, 0, 0, 0x01, 0],
        };
        assert_eq!(below39.decimal(), [1000, 1000, 1000]);
        let bit39 = ShortAuthString {
            bytes: [0, 0, 0, 0, 0x02, 0],
        };
        assert_eq!(bit39.decimal(), [1000, 1000, 1001]);
    }

    #[test]
    fn verification_key_is_hkdf_as_specified() {
        use crate::ids::SessionId;
        use crate::kdf::derive_verification_key;
        use crate::keys::secret::SessionTagKey;
        use crate::labels::LABEL_VERIFICATION_KEY;
        use hkdf::Hkdf;
        use sha2::Sha256;
        let tag_key = SessionTagKey::from_bytes([7; 32]);
        let session_id = SessionId::from_bytes([8; 32]);
        let vk = derive_verification_key(&tag_key, &session_id);
        let mut expected = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&[0u8; 32]), &[7; 32])
            .expand(&[LABEL_VERIFICATION_KEY, &[8; 32]].concat(), &mut expected)
            .unwrap();
        assert_eq!(*vk, expected);
    }
}
