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
    /// Bytes of strings and arrays allocated over the whole run, counted as
    /// [`alloc_cost`] says. It bounds the plugin's total heap, which the
    /// per-value limits above do not: a plugin may keep many large values.
    pub alloc_bytes: u64,
}

impl Limits {
    /// The defaults of every CLI run without `--unbounded`.
    pub const DEFAULT: Limits = Limits {
        instructions: 5_000_000,
        call_depth: 128,
        registers: 256,
        array_len: 100_000,
        string_bytes: 1_048_576,
        alloc_bytes: 268_435_456,
    };

    /// No limit at all (each bound is the largest representable value).
    /// Only for trusted code: memory and time are then unbounded.
    pub const UNBOUNDED: Limits = Limits {
        instructions: u64::MAX,
        call_depth: u64::MAX,
        registers: u64::MAX,
        array_len: u64::MAX,
        string_bytes: u64::MAX,
        alloc_bytes: u64::MAX,
    };

    /// The value of one limit.
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Instructions => self.instructions,
            Limit::CallDepth => self.call_depth,
            Limit::Registers => self.registers,
            Limit::ArrayLen => self.array_len,
            Limit::StringBytes => self.string_bytes,
            Limit::AllocBytes => self.alloc_bytes,
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
    /// [`Limits::alloc_bytes`].
    AllocBytes,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Limit; 6] = [
        Limit::Instructions,
        Limit::CallDepth,
        Limit::Registers,
        Limit::ArrayLen,
        Limit::StringBytes,
        Limit::AllocBytes,
    ];

    /// The limit's name, as in policy files and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Instructions => "instructions",
            Limit::CallDepth => "call_depth",
            Limit::Registers => "registers",
            Limit::ArrayLen => "array_len",
            Limit::StringBytes => "string_bytes",
            Limit::AllocBytes => "alloc_bytes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What allocations cost against [`Limits::alloc_bytes`]: fixed figures, the
/// same on every machine, so that a run and its replay hit the limit at the
/// same instruction.
///
/// A new string or array costs [`alloc_cost::OBJECT`] plus its contents;
/// growing one (a push, an in-place append) costs the added contents; a
/// copy-on-write copy of a shared one costs its contents. Contents cost one
/// byte per string byte or `bool` element, [`alloc_cost::INT`] per `int`
/// element and [`alloc_cost::REF`] per string or array element (a reference:
/// the element itself is counted where it was made).
pub mod alloc_cost {
    use crate::value::{Array, Value};

    /// The fixed cost of one string or array object (its header).
    pub const OBJECT: u64 = 32;
    /// The cost of one `int` element.
    pub const INT: u64 = 8;
    /// The cost of one `bool` element.
    pub const BOOL: u64 = 1;
    /// The cost of one element that is a string or an array.
    pub const REF: u64 = 16;

    /// The cost of the contents of `array` (what copying it costs).
    pub fn array_contents(array: &Array) -> u64 {
        let (n, each) = match array {
            Array::Int(v) => (v.len(), INT),
            Array::Bool(v) => (v.len(), BOOL),
            Array::Ref(v) => (v.len(), REF),
        };
        (n as u64).saturating_mul(each)
    }

    /// The cost of building `value` from nothing, every string and array
    /// in it included, each time it occurs (what a value that crosses the
    /// host boundary costs), if it is at most `budget`; `None` if it is more.
    /// Stops as soon as the budget is passed, so a value that shares one
    /// large array many times costs little to measure.
    pub fn deep_within(value: &Value, budget: u64) -> Option<u64> {
        let mut left = budget;
        take_deep(value, &mut left)?;
        Some(budget - left)
    }

    fn take_deep(value: &Value, left: &mut u64) -> Option<()> {
        let own = match value {
            Value::Unit | Value::Int(_) | Value::Bool(_) => 0,
            Value::Str(s) => OBJECT.saturating_add(s.len() as u64),
            Value::Array(a) => OBJECT.saturating_add(array_contents(a)),
        };
        *left = left.checked_sub(own)?;
        if let Value::Array(a) = value {
            if let Array::Ref(items) = &**a {
                for item in items {
                    take_deep(item, left)?;
                }
            }
        }
        Some(())
    }
}
