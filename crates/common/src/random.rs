//! Injected randomness and time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    /// Fills `out` with random bytes.
    fn fill(&self, out: &mut [u8]);
}

/// A source of the current time, in seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> i64;
}

/// A random opaque token of 256 bits, base64url without padding (43 characters).
///
/// Authorization codes, refresh tokens, session cookies and request handles all use it,
/// which keeps every one of them well above the 128-bit minimum.
pub fn token(rng: &dyn Random) -> String {
    let mut b = [0u8; 32];
    rng.fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// A random identifier of 128 bits, lowercase hex, for non-secret ids (sid, jti, kid).
pub fn id128(rng: &dyn Random) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    hex::encode(b)
}

/// Deterministic generators for tests and for seeded data generation.
pub mod testing {
    use super::{Clock, Random};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicI64, Ordering};

    /// A clock that only moves when told to.
    pub struct FixedClock(pub AtomicI64);

    impl FixedClock {
        /// A clock at `t`.
        pub fn at(t: i64) -> Self {
            Self(AtomicI64::new(t))
        }
        /// Moves the clock forward.
        pub fn advance(&self, secs: i64) {
            self.0.fetch_add(secs, Ordering::SeqCst);
        }
    }

    impl Clock for FixedClock {
        fn now(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// A small deterministic generator (SplitMix64). Not for secrets: only for seeded test data
    /// and reproducible unit tests.
    pub struct SeededRandom(Mutex<u64>);

    impl SeededRandom {
        /// A generator seeded with `seed`.
        pub fn new(seed: u64) -> Self {
            Self(Mutex::new(seed))
        }
        /// The next 64-bit value.
        pub fn next_u64(&self) -> u64 {
            let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
            *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// A value in `0..n`.
        pub fn below(&self, n: u64) -> u64 {
            if n == 0 { 0 } else { self.next_u64() % n }
        }
    }

    impl Random for SeededRandom {
        fn fill(&self, out: &mut [u8]) {
            for chunk in out.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
    }
}
