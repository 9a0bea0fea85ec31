//! Primitive encodings shared by the header and the event stream: varints,
//! zigzag integers, strings, types and self-describing values.
//!
//! Writers append to a `Vec<u8>`; readers pull bytes from a [`Bytes`]
//! source, which reports errors with its own notion of position.

use super::error::{TraceError, TraceErrorKind};
use crate::types::{Type, MAX_TYPE_DEPTH};
use crate::value::{Array, Value};
use std::rc::Rc;

/// Value tags (see `docs/TRACE_FORMAT.md`, "Values").
pub(super) mod value_tag {
    pub const UNIT: u8 = 0x00;
    pub const INT: u8 = 0x01;
    pub const FALSE: u8 = 0x02;
    pub const TRUE: u8 = 0x03;
    pub const STR: u8 = 0x04;
    pub const INT_ARRAY: u8 = 0x05;
    pub const BOOL_ARRAY: u8 = 0x06;
    pub const REF_ARRAY: u8 = 0x07;
}

/// Type tags, as in the `.cbc` format.
pub(super) mod type_tag {
    pub const UNIT: u8 = 0;
    pub const INT: u8 = 1;
    pub const BOOL: u8 = 2;
    pub const STR: u8 = 3;
    pub const ARRAY: u8 = 4;
}

pub(super) use crate::varint::{put as put_varint, unzigzag, zigzag};

/// Appends a length-prefixed byte string.
pub(super) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends a type.
pub(super) fn put_type(out: &mut Vec<u8>, t: &Type) {
    match t {
        Type::Int => out.push(type_tag::INT),
        Type::Bool => out.push(type_tag::BOOL),
        Type::Str => out.push(type_tag::STR),
        Type::Array(e) => {
            out.push(type_tag::ARRAY);
            put_type(out, e);
        }
    }
}

/// Appends a result type (`None` is unit).
pub(super) fn put_ret(out: &mut Vec<u8>, t: Option<&Type>) {
    match t {
        None => out.push(type_tag::UNIT),
        Some(t) => put_type(out, t),
    }
}

/// Appends a self-describing value.
pub(super) fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Unit => out.push(value_tag::UNIT),
        Value::Int(i) => {
            out.push(value_tag::INT);
            put_varint(out, zigzag(*i));
        }
        Value::Bool(false) => out.push(value_tag::FALSE),
        Value::Bool(true) => out.push(value_tag::TRUE),
        Value::Str(s) => {
            out.push(value_tag::STR);
            put_bytes(out, s.as_bytes());
        }
        Value::Array(a) => match &**a {
            Array::Int(items) => {
                out.push(value_tag::INT_ARRAY);
                put_varint(out, items.len() as u64);
                for &i in items {
                    put_varint(out, zigzag(i));
                }
            }
            Array::Bool(items) => {
                out.push(value_tag::BOOL_ARRAY);
                put_varint(out, items.len() as u64);
                out.extend(items.iter().map(|&b| u8::from(b)));
            }
            Array::Ref(items) => {
                out.push(value_tag::REF_ARRAY);
                put_varint(out, items.len() as u64);
                for item in items {
                    put_value(out, item);
                }
            }
        },
    }
}

/// Whether `v` has type `ty` (`None` is unit) in exactly the representation
/// the VM keeps in registers: arrays use the variant of their element class,
/// also when empty.
pub(super) fn conforms(v: &Value, ty: Option<&Type>) -> bool {
    match (v, ty) {
        (Value::Unit, None) => true,
        (Value::Int(_), Some(Type::Int)) | (Value::Bool(_), Some(Type::Bool)) => true,
        (Value::Str(_), Some(Type::Str)) => true,
        (Value::Array(a), Some(Type::Array(elem))) => match (&**a, &**elem) {
            (Array::Int(_), Type::Int) | (Array::Bool(_), Type::Bool) => true,
            (Array::Ref(items), elem @ (Type::Str | Type::Array(_))) => {
                items.iter().all(|i| conforms(i, Some(elem)))
            }
            _ => false,
        },
        _ => false,
    }
}

/// The initial value of a register of type `t`: 0, false, "" or an empty array.
pub(super) fn initial(t: &Type) -> Value {
    match t {
        Type::Int => Value::Int(0),
        Type::Bool => Value::Bool(false),
        Type::Str => Value::Str(Rc::new(String::new())),
        Type::Array(e) => Value::Array(Rc::new(Array::empty(e))),
    }
}

/// A source of bytes for the decoders.
pub(super) trait Bytes {
    /// The next byte.
    fn byte(&mut self) -> Result<u8, TraceError>;

    /// Appends the next `n` bytes to `out`. Implementations grow `out` only
    /// as bytes actually arrive, so a hostile length cannot allocate.
    fn take_into(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), TraceError>;

    /// An error of `kind` at the current position.
    fn error(&self, kind: TraceErrorKind) -> TraceError;

    /// A varint (see [`put_varint`]); rejects overlong and non-minimal forms.
    fn varint(&mut self) -> Result<u64, TraceError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.byte()?;
            if i == 9 && byte > 1 {
                return Err(self.error(TraceErrorKind::BadVarint));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return Err(self.error(TraceErrorKind::BadVarint));
                }
                return Ok(value);
            }
        }
        Err(self.error(TraceErrorKind::BadVarint))
    }

    /// A varint no larger than `max`.
    fn bounded(&mut self, what: &'static str, max: u64) -> Result<u64, TraceError> {
        let v = self.varint()?;
        if v > max {
            return Err(self.error(TraceErrorKind::TooLarge {
                what,
                value: v,
                max,
            }));
        }
        Ok(v)
    }

    /// A 16-bit index.
    fn index(&mut self, what: &'static str) -> Result<u16, TraceError> {
        Ok(self.bounded(what, u64::from(u16::MAX))? as u16)
    }

    /// A length-prefixed UTF-8 string.
    fn string(&mut self, what: &'static str) -> Result<String, TraceError> {
        let n = self.varint()?;
        let mut buf = Vec::new();
        self.take_into(n, &mut buf)?;
        String::from_utf8(buf).map_err(|_| self.error(TraceErrorKind::InvalidUtf8 { what }))
    }

    /// A self-describing value, arrays nested at most [`MAX_TYPE_DEPTH`] deep.
    fn value(&mut self) -> Result<Value, TraceError> {
        self.value_at(0)
    }

    /// A value at nesting depth `depth`.
    fn value_at(&mut self, depth: usize) -> Result<Value, TraceError> {
        let tag = self.byte()?;
        Ok(match tag {
            value_tag::UNIT => Value::Unit,
            value_tag::INT => Value::Int(unzigzag(self.varint()?)),
            value_tag::FALSE => Value::Bool(false),
            value_tag::TRUE => Value::Bool(true),
            value_tag::STR => Value::Str(Rc::new(self.string("string value")?)),
            value_tag::INT_ARRAY | value_tag::BOOL_ARRAY | value_tag::REF_ARRAY => {
                if depth >= MAX_TYPE_DEPTH {
                    return Err(self.error(TraceErrorKind::TooLarge {
                        what: "array nesting depth",
                        value: depth as u64 + 1,
                        max: MAX_TYPE_DEPTH as u64,
                    }));
                }
                let n = self.varint()?;
                // Grow as elements arrive: every element takes at least one byte.
                let cap = n.min(4096) as usize;
                let array = match tag {
                    value_tag::INT_ARRAY => {
                        let mut items = Vec::with_capacity(cap);
                        for _ in 0..n {
                            items.push(unzigzag(self.varint()?));
                        }
                        Array::Int(items)
                    }
                    value_tag::BOOL_ARRAY => {
                        let mut items = Vec::with_capacity(cap);
                        for _ in 0..n {
                            items.push(match self.byte()? {
                                0 => false,
                                1 => true,
                                b => {
                                    return Err(self.error(TraceErrorKind::BadTag {
                                        what: "bool element",
                                        tag: u64::from(b),
                                    }))
                                }
                            });
                        }
                        Array::Bool(items)
                    }
                    _ => {
                        let mut items = Vec::with_capacity(cap);
                        for _ in 0..n {
                            items.push(self.value_at(depth + 1)?);
                        }
                        Array::Ref(items)
                    }
                };
                Value::Array(Rc::new(array))
            }
            tag => {
                return Err(self.error(TraceErrorKind::BadTag {
                    what: "value",
                    tag: u64::from(tag),
                }))
            }
        })
    }
}

/// A [`Bytes`] source over an in-memory slice; positions are `base + index`.
pub(super) struct Slice<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
    pub base: u64,
}

impl<'a> Slice<'a> {
    /// A cursor at the start of `bytes`, which begin at file offset `base`.
    pub fn new(bytes: &'a [u8], base: u64) -> Self {
        Slice {
            bytes,
            pos: 0,
            base,
        }
    }

    /// The next `n` bytes as a slice.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], TraceError> {
        if n > self.bytes.len() - self.pos {
            return Err(self.error(TraceErrorKind::Truncated));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

impl Bytes for Slice<'_> {
    fn byte(&mut self) -> Result<u8, TraceError> {
        Ok(self.take(1)?[0])
    }

    fn take_into(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), TraceError> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        out.extend_from_slice(self.take(n)?);
        Ok(())
    }

    fn error(&self, kind: TraceErrorKind) -> TraceError {
        TraceError::new(kind, self.base + self.pos as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert!(out.len() <= 10);
            assert_eq!(Slice::new(&out, 0).varint(), Ok(v));
        }
        for v in [0i64, -1, 1, -64, 63, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        // Non-minimal and overlong forms are refused.
        assert!(Slice::new(&[0x80, 0x00], 0).varint().is_err());
        assert!(Slice::new(&[0xff; 10], 0).varint().is_err());
        assert!(Slice::new(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            0
        )
        .varint()
        .is_err());
    }

    #[test]
    fn values_round_trip() {
        let values = [
            Value::Unit,
            Value::Int(-5),
            Value::Bool(true),
            Value::str("héllo"),
            Value::array(vec![1.into(), 2.into()]),
            Value::array(vec![true.into()]),
            Value::array(vec!["a".into(), "b".into()]),
            Value::Array(Rc::new(Array::Int(Vec::new()))),
        ];
        for v in values {
            let mut out = Vec::new();
            put_value(&mut out, &v);
            let mut s = Slice::new(&out, 0);
            assert_eq!(s.value().as_ref(), Ok(&v));
            assert_eq!(s.remaining(), 0);
        }
    }
}
