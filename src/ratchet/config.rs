//! The configurable limits of the ratchet, with safe defaults and hard ceilings.

use crate::error::ConfigError;

/// Default: how far ahead in one chain a message may be (keys derived and skipped).
pub const DEFAULT_MAX_JUMP: u32 = 25_000;
/// Ceiling for [`RatchetConfig::max_jump`].
pub const HARD_MAX_JUMP: u32 = 1_000_000;
/// Default: total message keys stored for delayed messages, across all chains.
pub const DEFAULT_MAX_SKIPPED_KEYS: u32 = 2_000;
/// Ceiling for [`RatchetConfig::max_skipped_keys`].
pub const HARD_MAX_SKIPPED_KEYS: u32 = 100_000;
/// Default: receiving chains remembered after the peer ratcheted away from them.
pub const DEFAULT_MAX_RECEIVING_CHAINS: u32 = 10;
/// Ceiling for [`RatchetConfig::max_receiving_chains`].
pub const HARD_MAX_RECEIVING_CHAINS: u32 = 100;
/// Default: the stored keys of a past chain are dropped once more than this many newer
/// receiving chains exist (with 5, on the 6th receiving ratchet step after the chain ended).
pub const DEFAULT_SKIPPED_KEY_MAX_AGE: u32 = 5;
/// Ceiling for [`RatchetConfig::skipped_key_max_age`] (no use exceeding the chains kept).
pub const HARD_MAX_SKIPPED_KEY_MAX_AGE: u32 = HARD_MAX_RECEIVING_CHAINS;

/// Default K: the initiator of a version-2 session attaches an ML-KEM key to every K-th
/// sending chain (SPEC.md §5.9.6); 1 is every chain.
pub const DEFAULT_KEM_INTERVAL: u32 = 1;
/// Ceiling for [`RatchetConfig::kem_interval`]: healing never waits more than this many of
/// the initiator's turns for a KEM exchange to start.
pub const HARD_MAX_KEM_INTERVAL: u32 = 16;
/// Default: after this many messages (sent and received by the initiator) since its last
/// KEM key, its next sending chain carries one whatever K says.
pub const DEFAULT_KEM_MESSAGE_BOUND: u32 = 1_000;
/// Ceiling for [`RatchetConfig::kem_message_bound`].
pub const HARD_MAX_KEM_MESSAGE_BOUND: u32 = 100_000;

/// Bytes one stored skipped key costs in memory (counter, key, and queue slot), used for the
/// worst-case figures in SPEC.md.
pub const SKIPPED_KEY_MEMORY_BYTES: usize = 36;

/// Limits that bound what a peer (or an attacker holding a header key) can make a session
/// compute and store. They are stored in the session, so a restored session keeps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RatchetConfig {
    max_jump: u32,
    max_skipped_keys: u32,
    max_receiving_chains: u32,
    skipped_key_max_age: u32,
    kem_interval: u32,
    kem_message_bound: u32,
}

impl Default for RatchetConfig {
    fn default() -> Self {
        RatchetConfig {
            max_jump: DEFAULT_MAX_JUMP,
            max_skipped_keys: DEFAULT_MAX_SKIPPED_KEYS,
            max_receiving_chains: DEFAULT_MAX_RECEIVING_CHAINS,
            skipped_key_max_age: DEFAULT_SKIPPED_KEY_MAX_AGE,
            kem_interval: DEFAULT_KEM_INTERVAL,
            kem_message_bound: DEFAULT_KEM_MESSAGE_BOUND,
        }
    }
}

fn check(name: &'static str, value: u32, max: u32) -> Result<u32, ConfigError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::OutOfRange {
            name,
            value: u64::from(value),
            min: 1,
            max: u64::from(max),
        })
    }
}

impl RatchetConfig {
    /// Builds a configuration, checking every limit against its ceiling.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] if any value is zero or above its `HARD_MAX_*` ceiling.
    pub fn new(
        max_jump: u32,
        max_skipped_keys: u32,
        max_receiving_chains: u32,
        skipped_key_max_age: u32,
    ) -> Result<Self, ConfigError> {
        Ok(RatchetConfig {
            max_jump: check("max_jump", max_jump, HARD_MAX_JUMP)?,
            max_skipped_keys: check("max_skipped_keys", max_skipped_keys, HARD_MAX_SKIPPED_KEYS)?,
            max_receiving_chains: check(
                "max_receiving_chains",
                max_receiving_chains,
                HARD_MAX_RECEIVING_CHAINS,
            )?,
            skipped_key_max_age: check(
                "skipped_key_max_age",
                skipped_key_max_age,
                HARD_MAX_SKIPPED_KEY_MAX_AGE,
            )?,
            kem_interval: DEFAULT_KEM_INTERVAL,
            kem_message_bound: DEFAULT_KEM_MESSAGE_BOUND,
        })
    }

    /// The same limits with another schedule of ML-KEM steps for version-2 sessions this
    /// side initiates (SPEC.md §5.9.6): a key on every `kem_interval`-th sending chain, and on
    /// the next chain once `kem_message_bound` messages passed since the last key. A
    /// responder answers every key whatever its own values.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] if a value is zero or above its `HARD_MAX_KEM_*` ceiling.
    pub fn with_pq_schedule(
        self,
        kem_interval: u32,
        kem_message_bound: u32,
    ) -> Result<Self, ConfigError> {
        Ok(RatchetConfig {
            kem_interval: check("kem_interval", kem_interval, HARD_MAX_KEM_INTERVAL)?,
            kem_message_bound: check(
                "kem_message_bound",
                kem_message_bound,
                HARD_MAX_KEM_MESSAGE_BOUND,
            )?,
            ..self
        })
    }

    /// K: the initiator of a version-2 session attaches an ML-KEM key to every K-th chain.
    pub fn kem_interval(&self) -> u32 {
        self.kem_interval
    }

    /// Messages after which the initiator's next chain carries an ML-KEM key whatever K says.
    pub fn kem_message_bound(&self) -> u32 {
        self.kem_message_bound
    }

    /// How many message keys one chain may be skipped ahead by a single message.
    pub fn max_jump(&self) -> u32 {
        self.max_jump
    }

    /// How many skipped message keys are stored in total; the oldest are evicted first.
    pub fn max_skipped_keys(&self) -> u32 {
        self.max_skipped_keys
    }

    /// How many past receiving chains are remembered (for late messages and replay detection).
    pub fn max_receiving_chains(&self) -> u32 {
        self.max_receiving_chains
    }

    /// The stored keys of a past chain are dropped once more than this many newer receiving
    /// chains exist.
    pub fn skipped_key_max_age(&self) -> u32 {
        self.skipped_key_max_age
    }

    /// Worst-case bytes of stored skipped keys under this configuration.
    pub fn worst_case_skipped_bytes(&self) -> usize {
        usize::try_from(self.max_skipped_keys)
            .unwrap_or(usize::MAX)
            .saturating_mul(SKIPPED_KEY_MEMORY_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_at_and_past_their_edges() {
        assert!(RatchetConfig::new(HARD_MAX_JUMP, 1, 1, 1).is_ok());
        assert!(matches!(
            RatchetConfig::new(HARD_MAX_JUMP + 1, 1, 1, 1),
            Err(ConfigError::OutOfRange {
                name: "max_jump",
                ..
            })
        ));
        assert!(RatchetConfig::new(1, HARD_MAX_SKIPPED_KEYS, 1, 1).is_ok());
        assert!(RatchetConfig::new(1, HARD_MAX_SKIPPED_KEYS + 1, 1, 1).is_err());
        assert!(RatchetConfig::new(1, 1, HARD_MAX_RECEIVING_CHAINS + 1, 1).is_err());
        assert!(RatchetConfig::new(1, 1, 1, HARD_MAX_SKIPPED_KEY_MAX_AGE + 1).is_err());
        assert!(RatchetConfig::new(0, 1, 1, 1).is_err());
    }

    #[test]
    fn pq_schedule_is_checked_at_and_past_its_edges() {
        let base = RatchetConfig::default();
        assert_eq!((base.kem_interval(), base.kem_message_bound()), (1, 1_000));
        let edge = base
            .with_pq_schedule(HARD_MAX_KEM_INTERVAL, HARD_MAX_KEM_MESSAGE_BOUND)
            .unwrap();
        assert_eq!(edge.kem_interval(), HARD_MAX_KEM_INTERVAL);
        assert_eq!(edge.kem_message_bound(), HARD_MAX_KEM_MESSAGE_BOUND);
        assert_eq!(edge.max_jump(), base.max_jump());
        for (interval, bound, name) in [
            (HARD_MAX_KEM_INTERVAL + 1, 1, "kem_interval"),
            (0, 1, "kem_interval"),
            (1, HARD_MAX_KEM_MESSAGE_BOUND + 1, "kem_message_bound"),
            (1, 0, "kem_message_bound"),
        ] {
            assert!(matches!(
                base.with_pq_schedule(interval, bound),
                Err(ConfigError::OutOfRange { name: n, .. }) if n == name
            ));
        }
        assert!(base.with_pq_schedule(1, 1).is_ok());
    }

    #[test]
    fn default_worst_case_memory_is_documented_figure() {
        // SPEC.md §5.5 states 72,000 bytes for the default skipped-key store.
        assert_eq!(RatchetConfig::default().worst_case_skipped_bytes(), 72_000);
    }
}
