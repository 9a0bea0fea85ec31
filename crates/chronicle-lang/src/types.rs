//! The types of `.chr` values.

use std::fmt;

/// A `.chr` type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// 64-bit signed integer with checked arithmetic.
    Int,
    /// `true` or `false`.
    Bool,
    /// A UTF-8 string value.
    Str,
    /// A growable array value, `[T]`.
    Array(Box<Type>),
    /// No value: the result of a function without `->` and of some builtins.
    Unit,
    /// The type of an expression that already has an error reported. It is
    /// compatible with everything, which suppresses cascades; it never
    /// appears in a [`CheckedProgram`](crate::check::CheckedProgram).
    Error,
}

impl Type {
    /// `[elem]`.
    pub fn array(elem: Type) -> Type {
        Type::Array(Box::new(elem))
    }

    /// The element type, if this is an array.
    pub fn elem(&self) -> Option<&Type> {
        match self {
            Type::Array(elem) => Some(elem),
            _ => None,
        }
    }

    /// Whether this is the error type or contains it.
    pub fn is_error(&self) -> bool {
        match self {
            Type::Error => true,
            Type::Array(elem) => elem.is_error(),
            _ => false,
        }
    }

    /// Whether a value of type `found` may be used where `self` is expected:
    /// equal types, with [`Type::Error`] matching anything.
    pub fn accepts(&self, found: &Type) -> bool {
        match (self, found) {
            (Type::Error, _) | (_, Type::Error) => true,
            (Type::Array(a), Type::Array(b)) => a.accepts(b),
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int => f.write_str("int"),
            Type::Bool => f.write_str("bool"),
            Type::Str => f.write_str("str"),
            Type::Array(elem) => write!(f, "[{elem}]"),
            Type::Unit => f.write_str("unit"),
            Type::Error => f.write_str("{unknown}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_compatibility() {
        let t = Type::array(Type::array(Type::Str));
        assert_eq!(t.to_string(), "[[str]]");
        assert!(t.accepts(&Type::array(Type::Error)));
        assert!(!t.accepts(&Type::array(Type::Int)));
    }
}
