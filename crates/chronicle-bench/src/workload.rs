//! The four benchmark workloads, their problem sizes and Rust reference answers.
//!
//! Every engine implements each workload as an entry point `run(n) -> i64`; the
//! harness compares what it returns with [`Workload::expected`], computed here
//! natively so that any size (full or `--quick`) can be checked.

/// One benchmark workload. Sources live in `workloads/<name>.<ext>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Recursive `fib(n) = n < 2 ? n : fib(n-1) + fib(n-2)`.
    Fib,
    /// `sum of (i*i) % 7 for i in 0..n`, 64-bit integers.
    Loop,
    /// Number of primes below `n`, sieve of Eratosthenes over a boolean array.
    Sieve,
    /// Byte length of the concatenated decimal strings of `0..n`.
    Strings,
}

impl Workload {
    /// All workloads, in table order.
    pub const ALL: [Workload; 4] = [
        Workload::Fib,
        Workload::Loop,
        Workload::Sieve,
        Workload::Strings,
    ];

    /// Short name, used on the command line (`--only`), in file names and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Fib => "fib",
            Workload::Loop => "loop",
            Workload::Sieve => "sieve",
            Workload::Strings => "strings",
        }
    }

    /// Looks a workload up by [`Workload::name`].
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Problem size `n` of a real measurement.
    pub fn full_size(self) -> i64 {
        match self {
            Workload::Fib => 30,
            Workload::Loop => 20_000_000,
            Workload::Sieve => 2_000_000,
            Workload::Strings => 200_000,
        }
    }

    /// Small problem size for the correctness check and `--quick` smoke runs.
    pub fn quick_size(self) -> i64 {
        match self {
            Workload::Fib => 20,
            Workload::Loop => 200_000,
            Workload::Sieve => 20_000,
            Workload::Strings => 2_000,
        }
    }

    /// The answer every engine must return for size `n`, computed in Rust.
    pub fn expected(self, n: i64) -> i64 {
        match self {
            Workload::Fib => fib(n),
            Workload::Loop => (0..n).map(|i| (i * i) % 7).sum(),
            Workload::Sieve => sieve(n),
            Workload::Strings => (0..n).map(|i| i.to_string().len() as i64).sum(),
        }
    }
}

fn fib(n: i64) -> i64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn sieve(n: i64) -> i64 {
    let n = usize::try_from(n).unwrap_or(0);
    let mut is_prime = vec![true; n];
    let mut i = 2;
    while i * i < n {
        if is_prime[i] {
            for j in (i * i..n).step_by(i) {
                is_prime[j] = false;
            }
        }
        i += 1;
    }
    is_prime.iter().skip(2).filter(|&&p| p).count() as i64
}

#[cfg(test)]
mod tests {
    use super::Workload::*;

    #[test]
    fn reference_answers_match_the_spec() {
        assert_eq!(Fib.expected(Fib.full_size()), 832_040);
        assert_eq!(Sieve.expected(Sieve.full_size()), 148_933);
        assert_eq!(Strings.expected(Strings.full_size()), 1_088_890);
        // (i*i) % 7 is 7-periodic: 0,1,4,2,2,4,1 (sum 14); 20M = 7 * 2_857_142 + 6.
        assert_eq!(Loop.expected(Loop.full_size()), 40_000_001);
        assert_eq!(Sieve.expected(0) + Sieve.expected(2), 0);
        assert_eq!(Sieve.expected(3), 1);
    }
}
