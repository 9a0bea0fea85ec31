//! Sandbox limits: every run is bounded unless the embedder says otherwise.

use std::fmt;

/// The bounds of one run. Hitting one stops the run with
/// `limit exceeded: <name>` (see [`crate::vm::TrapKind::LimitExceeded`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Instructions executed (every instruction costs one; see [`crate::isa`]).
    pub instructions: u64,
    /// Active call frames, the entry function's included.
    pub call_depth: u64,
    /// Registers of one function frame.
    pub registers: u64,
    /// Elements of one array.
    pub array_len: u64,
    /// Bytes of one string.
    pub string_bytes: u64,
}

impl Limits {
    /// The defaults of every CLI run without `--unbounded`.
    pub const DEFAULT: Limits = Limits {
        instructions: 5_000_000,
        call_depth: 128,
        registers: 256,
        array_len: 100_000,
        string_bytes: 1_048_576,
    };

    /// No limit at all (each bound is the largest representable value).
    /// Only for trusted code: memory and time are then unbounded.
    pub const UNBOUNDED: Limits = Limits {
        instructions: u64::MAX,
        call_depth: u64::MAX,
        registers: u64::MAX,
        array_len: u64::MAX,
        string_bytes: u64::MAX,
    };

    /// The value of one limit.
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Instructions => self.instructions,
            Limit::CallDepth => self.call_depth,
            Limit::Registers => self.registers,
            Limit::ArrayLen => self.array_len,
            Limit::StringBytes => self.string_bytes,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// One of the bounds of [`Limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`Limits::instructions`].
    Instructions,
    /// [`Limits::call_depth`].
    CallDepth,
    /// [`Limits::registers`].
    Registers,
    /// [`Limits::array_len`].
    ArrayLen,
    /// [`Limits::string_bytes`].
    StringBytes,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Limit; 5] = [
        Limit::Instructions,
        Limit::CallDepth,
        Limit::Registers,
        Limit::ArrayLen,
        Limit::StringBytes,
    ];

    /// The limit's name, as in policy files and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Instructions => "instructions",
            Limit::CallDepth => "call_depth",
            Limit::Registers => "registers",
            Limit::ArrayLen => "array_len",
            Limit::StringBytes => "string_bytes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
