//! A small fast generator for per-packet decisions (loss, jitter): no allocation, no
//! lock, and seeded per direction so the two directions are independent.

/// SplitMix64 (Steele, Lea, Flood, OOPSLA 2014): statistically sound for simulation.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p` (0..=1).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        // 53 random bits as a float in [0, 1).
        ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }

    /// Uniform in `0..=bound`.
    pub(crate) fn below_or_eq(&mut self, bound: u64) -> u64 {
        if bound == u64::MAX {
            return self.next_u64();
        }
        ((u128::from(self.next_u64()) * (u128::from(bound) + 1)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
