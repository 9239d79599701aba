//! Randomness: every call that draws seeds a ChaCha20 RNG with 32 bytes from the operating
//! system (`getrandom`), used for that call only and wiped when it ends. A failing OS RNG is
//! `HW_RNG_FAILURE` before anything changes. With the `testing` feature,
//! `hw_testing_seed_rng` makes the seeds come from a seeded generator instead.

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::Zeroizing;

use crate::boundary::Failure;

/// The RNG for one call.
pub(crate) fn for_call() -> Result<ChaCha20Rng, Failure> {
    let mut seed = Zeroizing::new([0u8; 32]);
    #[cfg(feature = "testing")]
    if testing::fill(&mut seed) {
        return Ok(ChaCha20Rng::from_seed(*seed));
    }
    getrandom::fill(seed.as_mut()).map_err(|_| Failure::rng())?;
    Ok(ChaCha20Rng::from_seed(*seed))
}

#[cfg(feature = "testing")]
pub(crate) mod testing {
    use std::sync::Mutex;

    use chacha20::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    static SEEDED: Mutex<Option<ChaCha20Rng>> = Mutex::new(None);

    pub(crate) fn seed(seed: u64) {
        if let Ok(mut g) = SEEDED.lock() {
            *g = Some(ChaCha20Rng::seed_from_u64(seed));
        }
    }

    /// Fills `out` from the seeded generator; false when none is set.
    pub(crate) fn fill(out: &mut [u8; 32]) -> bool {
        match SEEDED.lock() {
            Ok(mut g) => match g.as_mut() {
                Some(rng) => {
                    rng.fill_bytes(out);
                    true
                }
                None => false,
            },
            Err(_) => false,
        }
    }
}
