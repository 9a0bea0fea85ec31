//! `random.int@1(lo: int, hi: int) -> int`: a uniformly random integer in the
//! **inclusive** range `lo..=hi`; `lo > hi` is a capability error.
//!
//! The generator is SplitMix64, seeded once per process from the standard
//! library's per-process random hash keys (which come from the operating
//! system). It is not cryptographic: plugins that need reproducible
//! randomness should run under a policy that mocks `random.int`, and every
//! live result is what a trace records.

use chronicle_core::caps::Registry;
use chronicle_core::types::{Type, Version};
use chronicle_core::vm::CapabilityError;
use chronicle_core::Value;
use std::hash::{BuildHasher, Hasher};

/// Offers `random.int@1.0`.
pub fn register(registry: &mut Registry<'static>) {
    let mut rng = SplitMix64::from_os();
    registry.register(
        "random.int",
        Version::new(1, 0),
        super::sig(&[Type::Int, Type::Int], Some(Type::Int)),
        move |args| {
            let (lo, hi) = (super::int_arg(args, 0), super::int_arg(args, 1));
            rng.in_range(lo, hi).map(Value::Int)
        },
    );
}

/// A small, fast, non-cryptographic generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn from_os() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        SplitMix64(hasher.finish())
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`, without modulo bias: draws below `2^64 mod span`
    /// are rejected.
    fn in_range(&mut self, lo: i64, hi: i64) -> Result<i64, CapabilityError> {
        if lo > hi {
            return Err(CapabilityError::new(format!(
                "empty range: lo ({lo}) is greater than hi ({hi}); both bounds are inclusive"
            )));
        }
        let span = (i128::from(hi) - i128::from(lo) + 1) as u128;
        if span > u128::from(u64::MAX) {
            return Ok(self.next() as i64); // the whole i64 range
        }
        let span = span as u64;
        let reject_below = span.wrapping_neg() % span;
        loop {
            let x = self.next();
            if x >= reject_below {
                return Ok((i128::from(lo) + i128::from(x % span)) as i64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_every_value_appears() {
        let mut rng = SplitMix64(7);
        let mut seen = [false; 3];
        for _ in 0..200 {
            let v = rng.in_range(-1, 1).unwrap();
            seen[(v + 1) as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
        assert_eq!(rng.in_range(5, 5).unwrap(), 5);
        let wide = rng.in_range(i64::MIN, i64::MAX);
        assert!(wide.is_ok());
        assert!((i64::MAX - 1..=i64::MAX).contains(&rng.in_range(i64::MAX - 1, i64::MAX).unwrap()));
    }

    #[test]
    fn an_empty_range_is_an_error() {
        assert_eq!(
            SplitMix64(1).in_range(3, 2).unwrap_err().reason,
            "empty range: lo (3) is greater than hi (2); both bounds are inclusive"
        );
    }
}
