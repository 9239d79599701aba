//! Randomness from the operating system, without a system call on every call.
//!
//! Each thread keeps a ChaCha20 generator seeded with 32 bytes from the OS (`getrandom`),
//! reseeded from the OS every [`RESEED_AFTER`] calls and whenever the process id changed (a
//! `fork` must not give parent and child the same stream). Each call that draws gets a
//! generator of its own, seeded from the thread's, which is then rekeyed with its own next
//! output ("fast key erasure", as in the Linux kernel and OpenBSD's arc4random): what a call
//! drew cannot be recomputed from memory afterwards. A failing OS RNG is `HW_RNG_FAILURE`
//! before anything changes. With the `testing` feature, `hw_testing_seed_rng` makes the
//! seeds come from a seeded generator instead.

use std::cell::RefCell;

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use zeroize::Zeroizing;

use crate::boundary::Failure;

/// Calls served by one OS seed before the thread's generator is reseeded from the OS.
pub(crate) const RESEED_AFTER: u32 = 256;

struct ThreadRng {
    rng: ChaCha20Rng,
    pid: u32,
    calls: u32,
}

thread_local! {
    static THREAD: RefCell<Option<ThreadRng>> = const { RefCell::new(None) };
}

fn os_seeded() -> Result<ChaCha20Rng, Failure> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|_| Failure::rng())?;
    Ok(ChaCha20Rng::from_seed(*seed))
}

/// The RNG for one call.
pub(crate) fn for_call() -> Result<ChaCha20Rng, Failure> {
    let mut seed = Zeroizing::new([0u8; 32]);
    #[cfg(feature = "testing")]
    if testing::fill(&mut seed) {
        return Ok(ChaCha20Rng::from_seed(*seed));
    }
    THREAD.with(|cell| {
        // No call re-enters this one (there are no callbacks), so the borrow is free.
        let mut slot = cell.try_borrow_mut().map_err(|_| Failure::rng())?;
        let pid = std::process::id();
        let stale = slot
            .as_ref()
            .is_none_or(|t| t.pid != pid || t.calls >= RESEED_AFTER);
        if stale {
            *slot = Some(ThreadRng {
                rng: os_seeded()?,
                pid,
                calls: 0,
            });
        }
        let thread = slot.as_mut().ok_or_else(Failure::rng)?;
        thread.calls += 1;
        thread.rng.fill_bytes(seed.as_mut());
        let mut next = Zeroizing::new([0u8; 32]);
        thread.rng.fill_bytes(next.as_mut());
        thread.rng = ChaCha20Rng::from_seed(*next);
        Ok(ChaCha20Rng::from_seed(*seed))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_get_distinct_streams_and_the_thread_reseeds() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..(2 * RESEED_AFTER + 3) {
            let mut out = [0u8; 32];
            for_call().unwrap().fill_bytes(&mut out);
            assert!(seen.insert(out));
        }
        let calls = THREAD.with(|c| c.borrow().as_ref().map(|t| t.calls));
        assert_eq!(calls, Some(3));
    }
}
