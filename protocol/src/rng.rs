//! A tiny seeded PRNG (SplitMix64), the one copy the server and the load
//! generator share. Publish schedules, poll phases and backoff jitter must
//! be reproducible from `--seed` across versions and platforms, which
//! `rand`'s small RNGs do not promise; this is a few lines of pure code.

/// SplitMix64 (Steele, Lea, Flood 2014): fast, 64-bit state, good enough for
/// schedules and jitter (not for cryptography).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// An independent stream for a sub-component (`stream` = client or publisher index).
    pub fn derive(seed: u64, domain: u64, stream: u64) -> Self {
        let mut r = SplitMix64(seed ^ domain.wrapping_mul(0xA24B_AED4_963E_E407));
        r.0 ^= r
            .next_u64()
            .wrapping_add(stream.wrapping_mul(0x9FB2_1C65_1E98_DF25));
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (0..=1): per-packet loss and the like.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// Uniform in `0..=bound` (a multiply-shift: no modulo bias worth
    /// measuring, no loop).
    pub fn below_or_eq(&mut self, bound: u64) -> u64 {
        if bound == u64::MAX {
            return self.next_u64();
        }
        ((u128::from(self.next_u64()) * (u128::from(bound) + 1)) >> 64) as u64
    }

    /// Exponentially distributed with the given mean (Poisson-process gaps).
    pub fn exp(&mut self, mean: f64) -> f64 {
        // 1 - u is in (0, 1]: ln never sees 0.
        -(1.0 - self.next_f64()).ln() * mean
    }
}

/// SplitMix64's output function: a bijection that scatters the bits of
/// `z`, for hashing a value (an id, a clock reading) to a uniform one.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_roughly_uniform() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::derive(42, 1, 7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SplitMix64::derive(42, 1, 7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        let mut r = SplitMix64::new(1);
        let n = 100_000;
        let mean: f64 = (0..n).map(|_| r.exp(2.0)).sum::<f64>() / n as f64;
        assert!((mean - 2.0).abs() < 0.05, "{mean}");
        let u: f64 = (0..n).map(|_| r.next_f64()).sum::<f64>() / n as f64;
        assert!((u - 0.5).abs() < 0.01, "{u}");
    }

    #[test]
    fn chance_matches_its_probability() {
        let mut rng = SplitMix64::new(7);
        let hits = (0..200_000).filter(|_| rng.chance(0.1)).count();
        // sd = sqrt(200000·0.1·0.9) ≈ 134; allow 5 sd.
        assert!((hits as i64 - 20_000).abs() < 700, "{hits}");
        assert!(!(0..1000).any(|_| rng.chance(0.0)));
    }

    #[test]
    fn below_or_eq_stays_in_range_and_reaches_both_ends() {
        let mut rng = SplitMix64::new(1);
        let draws: Vec<u64> = (0..10_000).map(|_| rng.below_or_eq(4)).collect();
        assert!(draws.iter().all(|d| *d <= 4));
        assert!(draws.contains(&0) && draws.contains(&4));
        let _ = rng.below_or_eq(u64::MAX);
    }

    #[test]
    fn matches_the_reference_sequence() {
        // SplitMix64 seeded with 0 (the reference implementation's output).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(mix64(GAMMA), 0xE220_A839_7B1D_CDAF);
    }
}
