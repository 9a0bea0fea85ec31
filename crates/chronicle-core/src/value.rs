//! Runtime values as the host sees them: results, capability arguments and
//! capability results.

use crate::types::Type;
use std::fmt;
use std::rc::Rc;

/// A value crossing the VM boundary. Strings and arrays are reference-counted
/// and copy-on-write: cloning is cheap, and mutation copies only when shared.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Value {
    /// The unit value (a function or capability that returns nothing).
    #[default]
    Unit,
    /// A 64-bit signed integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(Rc<String>),
    /// An array; all elements have the array's element type.
    Array(Rc<Array>),
}

/// The elements of an array, stored by element class: `[int]` and `[bool]`
/// arrays hold plain machine values (8 and 1 bytes an element), arrays of
/// strings or arrays hold [`Value`]s.
///
/// **Invariant** inside the VM: an array in a register of type `[T]` uses the
/// variant of `T`'s class, even when empty. Values from a host are normalised
/// to that form when they enter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Array {
    /// Elements of an `[int]`.
    Int(Vec<i64>),
    /// Elements of a `[bool]`.
    Bool(Vec<bool>),
    /// Elements of a `[str]` or of an array of arrays.
    Ref(Vec<Value>),
}

impl Array {
    /// An empty array for elements of type `elem`.
    pub fn empty(elem: &Type) -> Array {
        match elem {
            Type::Int => Array::Int(Vec::new()),
            Type::Bool => Array::Bool(Vec::new()),
            Type::Str | Type::Array(_) => Array::Ref(Vec::new()),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Array::Int(v) => v.len(),
            Array::Bool(v) => v.len(),
            Array::Ref(v) => v.len(),
        }
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as a value.
    pub fn get(&self, i: usize) -> Option<Value> {
        match self {
            Array::Int(v) => v.get(i).map(|&x| Value::Int(x)),
            Array::Bool(v) => v.get(i).map(|&x| Value::Bool(x)),
            Array::Ref(v) => v.get(i).cloned(),
        }
    }

    /// The elements as values, in order.
    pub fn iter(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(Rc::new(s.into()))
    }

    /// An array value from its elements: an `[int]` if all are ints, a
    /// `[bool]` if all are bools, otherwise an array of references. (An empty
    /// array takes its element type from where it is used.)
    pub fn array(items: Vec<Value>) -> Value {
        let array = if !items.is_empty() && items.iter().all(|v| matches!(v, Value::Int(_))) {
            Array::Int(items.iter().filter_map(Value::as_int).collect())
        } else if !items.is_empty() && items.iter().all(|v| matches!(v, Value::Bool(_))) {
            Array::Bool(
                items
                    .iter()
                    .map(|v| matches!(v, Value::Bool(true)))
                    .collect(),
            )
        } else {
            Array::Ref(items)
        };
        Value::Array(Rc::new(array))
    }

    /// This value with every array in the representation its type `ty`
    /// selects (see [`Array`]); `None` if the value does not have type `ty`.
    pub fn normalized(self, ty: Option<&Type>) -> Option<Value> {
        if !self.has_type(ty) {
            return None;
        }
        Some(match (self, ty) {
            (Value::Array(a), Some(Type::Array(elem))) => {
                let fixed = match (&*a, &**elem) {
                    (Array::Int(_), Type::Int) | (Array::Bool(_), Type::Bool) => {
                        return Some(Value::Array(a))
                    }
                    // Scalars listed as values (e.g. by a host): store them
                    // unboxed (`has_type` checked that each one fits).
                    (Array::Ref(items), Type::Int) => {
                        Array::Int(items.iter().map(Value::as_int).collect::<Option<_>>()?)
                    }
                    (Array::Ref(items), Type::Bool) => Array::Bool(
                        items
                            .iter()
                            .map(|v| match v {
                                Value::Bool(b) => Some(*b),
                                _ => None,
                            })
                            .collect::<Option<_>>()?,
                    ),
                    (arr, Type::Int | Type::Bool) => {
                        debug_assert!(arr.is_empty());
                        Array::empty(elem)
                    }
                    (Array::Ref(items), elem) => Array::Ref(
                        items
                            .iter()
                            .map(|v| v.clone().normalized(Some(elem)))
                            .collect::<Option<_>>()?,
                    ),
                    (_, elem) => Array::empty(elem),
                };
                Value::Array(Rc::new(fixed))
            }
            (v, _) => v,
        })
    }

    /// Whether this value inhabits `ty` (`None` is unit), checked deeply.
    pub fn has_type(&self, ty: Option<&Type>) -> bool {
        match (self, ty) {
            (Value::Unit, None) => true,
            (Value::Int(_), Some(Type::Int)) => true,
            (Value::Bool(_), Some(Type::Bool)) => true,
            (Value::Str(_), Some(Type::Str)) => true,
            (Value::Array(a), Some(Type::Array(elem))) => match (&**a, &**elem) {
                (Array::Int(_), Type::Int) | (Array::Bool(_), Type::Bool) => true,
                (Array::Ref(items), elem) => items.iter().all(|v| v.has_type(Some(elem))),
                (a, _) => a.is_empty(),
            },
            _ => false,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// This value with no storage shared with any other value: what is
    /// shared is copied, at every depth. The VM gives hosts unshared
    /// arguments and keeps unshared results, so that what a host keeps
    /// cannot change what the run copies (and `alloc_bytes` charges); an
    /// [`Observer`](crate::vm::Observer) that keeps values should keep them
    /// unshared for the same reason. `value.clone().unshared()` is a deep copy.
    pub fn unshared(mut self) -> Value {
        match &mut self {
            Value::Str(s) => {
                Rc::make_mut(s);
            }
            Value::Array(a) => {
                if let Array::Ref(items) = Rc::make_mut(a) {
                    for item in items {
                        *item = std::mem::take(item).unshared();
                    }
                }
            }
            Value::Unit | Value::Int(_) | Value::Bool(_) => {}
        }
        self
    }

    /// The most elements and the most string bytes found anywhere in this
    /// value, to check it against the array and string limits.
    pub fn extent(&self) -> (usize, usize) {
        match self {
            Value::Str(s) => (0, s.len()),
            Value::Array(a) => match &**a {
                Array::Ref(items) => items.iter().fold((items.len(), 0), |(n, s), v| {
                    let (vn, vs) = v.extent();
                    (n.max(vn), s.max(vs))
                }),
                a => (a.len(), 0),
            },
            _ => (0, 0),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::str(v)
    }
}

/// Prints the value as a literal of the language: `42`, `true`,
/// `"a\n\"b\""`, `[1, 2]`; unit prints nothing.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => Ok(()),
            Value::Int(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(s) => write_escaped(f, s),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Writes `s` as a quoted string literal with `\n \t \r \" \\` escapes and
/// `\u{..}` for other control characters.
pub fn write_escaped(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_print_as_the_spec_says() {
        assert_eq!(Value::Int(-7).to_string(), "-7");
        assert_eq!(Value::Bool(true).to_string(), "true");
        assert_eq!(Value::str("a\n\"b\"").to_string(), r#""a\n\"b\"""#);
        assert_eq!(
            Value::array(vec![1.into(), 2.into(), 3.into()]).to_string(),
            "[1, 2, 3]"
        );
        assert_eq!(
            Value::array(vec!["x".into(), "y".into()]).to_string(),
            r#"["x", "y"]"#
        );
        assert_eq!(Value::Unit.to_string(), "");
    }
}
