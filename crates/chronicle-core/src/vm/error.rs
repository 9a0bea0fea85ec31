//! Runtime errors: what stopped a run, and where.

use crate::limits::Limit;
use std::fmt;
use thiserror::Error;

/// Why a run stopped early. Display strings use the exact words of the
/// product specification (`integer overflow`, `limit exceeded: call_depth`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TrapKind {
    /// Arithmetic overflowed 64 bits.
    #[error("integer overflow")]
    IntegerOverflow,
    /// Division or remainder by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// An array index or string offset outside its bounds.
    #[error("index out of range")]
    IndexOutOfRange,
    /// A sandbox limit was hit.
    #[error("limit exceeded: {limit} (limit {value})")]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// Its configured value.
        value: u64,
    },
    /// `assert` failed with this message.
    #[error("assertion failed: {0}")]
    AssertionFailed(String),
    /// `parse_int` on text that is not a decimal integer.
    #[error("invalid number")]
    InvalidNumber,
    /// A builtin got an argument it does not accept (e.g. an empty separator).
    #[error("invalid argument")]
    InvalidArgument,
    /// `pop` on an empty array.
    #[error("empty array")]
    EmptyArray,
    /// A capability call failed: denied, out of scope, or the host reported an error.
    #[error("capability error: {name}: {reason}")]
    Capability {
        /// The capability, as `name@major.minor`.
        name: String,
        /// Why it failed.
        reason: String,
    },
    /// The observer asked the run to stop ([`Observer::halted`](super::Observer::halted)):
    /// replay does once the run has diverged from its recording. Not a
    /// failure of the plugin, and never recorded.
    #[error("halted by the observer")]
    Halted,
    /// A broken VM invariant (a verifier bug); never expected.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl TrapKind {
    /// The kind's name without details: `integer overflow`, `limit exceeded`, ...
    pub fn name(&self) -> &'static str {
        match self {
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::DivisionByZero => "division by zero",
            TrapKind::IndexOutOfRange => "index out of range",
            TrapKind::LimitExceeded { .. } => "limit exceeded",
            TrapKind::AssertionFailed(_) => "assertion failed",
            TrapKind::InvalidNumber => "invalid number",
            TrapKind::InvalidArgument => "invalid argument",
            TrapKind::EmptyArray => "empty array",
            TrapKind::Capability { .. } => "capability error",
            TrapKind::Halted => "halted",
            TrapKind::Internal(_) => "internal error",
        }
    }
}

/// A runtime error with its location.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct RuntimeError {
    /// What happened.
    pub kind: TrapKind,
    /// The function index.
    pub func: u16,
    /// The function's name.
    pub func_name: String,
    /// The instruction index.
    pub pc: u16,
    /// The source line (0 if unknown).
    pub line: u32,
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if self.line > 0 {
            write!(f, " at line {}", self.line)?;
        }
        write!(f, " (in `{}`, pc {})", self.func_name, self.pc)
    }
}
