//! Static types of registers, constants and capability signatures.

use std::fmt;

/// The type of a register, a function parameter or a capability argument.
///
/// `int` and `bool` live in a frame's integer file; `str` and arrays live in
/// its reference file (see [`crate::vm`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// 64-bit signed integer.
    Int,
    /// Boolean.
    Bool,
    /// UTF-8 string (a value: copy-on-write).
    Str,
    /// Growable array of the element type (a value: copy-on-write).
    Array(Box<Type>),
}

/// The deepest array nesting a module may declare (`[[[...]]]`).
pub const MAX_TYPE_DEPTH: usize = 32;

impl Type {
    /// Shorthand for `[elem]`.
    pub fn array_of(elem: Type) -> Type {
        Type::Array(Box::new(elem))
    }

    /// True for `str` and arrays, the types stored in the reference file.
    pub fn is_ref(&self) -> bool {
        matches!(self, Type::Str | Type::Array(_))
    }

    /// The element type, for arrays.
    pub fn elem(&self) -> Option<&Type> {
        match self {
            Type::Array(e) => Some(e),
            _ => None,
        }
    }

    /// Array nesting depth: 0 for scalars and strings.
    pub fn depth(&self) -> usize {
        match self {
            Type::Array(e) => 1 + e.depth(),
            _ => 0,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int => f.write_str("int"),
            Type::Bool => f.write_str("bool"),
            Type::Str => f.write_str("str"),
            Type::Array(e) => write!(f, "[{e}]"),
        }
    }
}

/// A typed signature: parameter types and an optional result (`None` is unit).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Signature {
    /// Parameter types, in order.
    pub params: Vec<Type>,
    /// Result type; `None` means the call returns unit.
    pub ret: Option<Type>,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        f.write_str(")")?;
        if let Some(r) = &self.ret {
            write!(f, " -> {r}")?;
        }
        Ok(())
    }
}

/// A capability version: `major.minor`. Compatible when the majors are equal
/// and the offered minor is at least the requested one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Version {
    /// Incompatible changes bump the major.
    pub major: u16,
    /// Compatible additions bump the minor.
    pub minor: u16,
}

impl Version {
    /// A version `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Self {
        Version { major, minor }
    }

    /// Whether an offer of `self` satisfies a request for `requested`.
    pub fn satisfies(self, requested: Version) -> bool {
        self.major == requested.major && self.minor >= requested.minor
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
