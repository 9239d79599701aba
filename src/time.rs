//! Time as the caller tells it: hushwire never reads a clock.

/// A point in time, in whole seconds since the Unix epoch, supplied by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timestamp(u64);

impl Timestamp {
    /// A timestamp `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: u64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_unix_secs(self) -> u64 {
        self.0
    }

    /// This time plus `secs` seconds, saturating at the far future.
    pub const fn plus_secs(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }
}
