//! Bytes -> module, for hostile input.

use super::{const_tag, section, type_tag, CHECKSUM_LEN, FORMAT_VERSION, MAGIC, MAX_ENTRIES};
use crate::isa::Opcode;
use crate::module::{Const, Function, Import, Module};
use crate::types::{Signature, Type, Version, MAX_TYPE_DEPTH};
use thiserror::Error;

/// Why a byte string is not a valid module, and where.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{kind} at byte {offset}")]
pub struct DecodeError {
    /// What is wrong.
    pub kind: DecodeErrorKind,
    /// The byte offset where the problem was found.
    pub offset: usize,
}

/// The kinds of [`DecodeError`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input does not start with [`MAGIC`].
    #[error("not a ChronicleVM module (bad magic number)")]
    BadMagic,
    /// The format version is not the one this build reads.
    #[error("unsupported module format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The input ends in the middle of an item.
    #[error("truncated module: unexpected end of input")]
    Truncated,
    /// Bytes follow the checksum.
    #[error("trailing bytes after the module")]
    TrailingBytes,
    /// A section tag other than the one expected next.
    #[error("bad section tag {found} (expected section {expected})")]
    BadSection {
        /// The tag found.
        found: u8,
        /// The tag expected at this point.
        expected: u8,
    },
    /// A section's payload was not consumed exactly by its contents.
    #[error("section {section} has {extra} unused bytes")]
    SectionTrailing {
        /// The section tag.
        section: u8,
        /// How many bytes were left over.
        extra: usize,
    },
    /// A varint is overlong, non-minimal or wider than 64 bits.
    #[error("malformed varint")]
    BadVarint,
    /// A count, length or value exceeds what the format allows or the input holds.
    #[error("{what} {value} exceeds the maximum {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The largest value allowed here.
        max: u64,
    },
    /// A string is not UTF-8.
    #[error("invalid UTF-8 in {what}")]
    InvalidUtf8 {
        /// Which string.
        what: &'static str,
    },
    /// An unknown tag byte.
    #[error("bad {what} tag {tag}")]
    BadTag {
        /// Which kind of tag.
        what: &'static str,
        /// The byte found.
        tag: u8,
    },
    /// Array types nested deeper than [`MAX_TYPE_DEPTH`].
    #[error("array type nested deeper than {MAX_TYPE_DEPTH} levels")]
    TypeTooDeep,
    /// An unknown opcode byte.
    #[error("unknown opcode 0x{0:02x}")]
    BadOpcode(u8),
    /// The structure is valid but the checksum does not match: the file was altered.
    #[error("checksum mismatch: the module was altered or corrupted")]
    ChecksumMismatch,
}

type Result<T> = std::result::Result<T, DecodeError>;

/// Decodes a `.cbc` module. Never panics; allocation is bounded by the input's length.
pub fn decode(bytes: &[u8]) -> Result<Module> {
    let mut r = Reader {
        bytes,
        pos: 0,
        end: bytes.len(),
    };
    if r.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
        return Err(DecodeError {
            kind: DecodeErrorKind::BadMagic,
            offset: 0,
        });
    }
    let version = r.u16()?;
    if version != FORMAT_VERSION {
        return Err(r.err_at(
            MAGIC.len(),
            DecodeErrorKind::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            },
        ));
    }
    let mut module = Module::default();
    r.section(section::CONSTS, |r| {
        module.consts = r.list("constant count", 2, |r| r.constant())?;
        Ok(())
    })?;
    r.section(section::IMPORTS, |r| {
        module.imports = r.list("import count", 5, |r| r.import())?;
        Ok(())
    })?;
    r.section(section::FUNCS, |r| {
        module.funcs = r.list("function count", 5, |r| r.function())?;
        Ok(())
    })?;
    r.section(section::ENTRY, |r| {
        module.entry = r.index("entry function")?;
        Ok(())
    })?;
    let body_end = r.pos;
    let sum = r.take(CHECKSUM_LEN)?;
    if r.pos != bytes.len() {
        return Err(r.err(DecodeErrorKind::TrailingBytes));
    }
    if blake3::hash(&bytes[..body_end]).as_bytes()[..] != sum[..] {
        return Err(r.err_at(body_end, DecodeErrorKind::ChecksumMismatch));
    }
    Ok(module)
}

/// A cursor over `bytes[pos..end]`; offsets in errors are absolute.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            kind,
            offset: self.pos,
        }
    }

    fn err_at(&self, offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { kind, offset }
    }

    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.err(DecodeErrorKind::Truncated));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn varint(&mut self) -> Result<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && byte > 1 {
                return Err(self.err_at(start, DecodeErrorKind::BadVarint));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    // Non-minimal: a trailing zero group.
                    return Err(self.err_at(start, DecodeErrorKind::BadVarint));
                }
                return Ok(value);
            }
        }
        Err(self.err_at(start, DecodeErrorKind::BadVarint))
    }

    /// A varint no larger than `max`.
    fn bounded(&mut self, what: &'static str, max: usize) -> Result<usize> {
        let at = self.pos;
        let v = self.varint()?;
        if v > max as u64 {
            return Err(self.err_at(
                at,
                DecodeErrorKind::TooLarge {
                    what,
                    value: v,
                    max: max as u64,
                },
            ));
        }
        Ok(v as usize)
    }

    fn index(&mut self, what: &'static str) -> Result<u16> {
        Ok(self.bounded(what, MAX_ENTRIES)? as u16)
    }

    /// A count followed by that many items, each at least `min_bytes` long.
    /// Capacity is reserved only for as many items as the bytes left can hold.
    fn list<T>(
        &mut self,
        what: &'static str,
        min_bytes: usize,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let n = self.bounded(what, MAX_ENTRIES)?;
        let mut out = Vec::with_capacity(n.min(self.remaining() / min_bytes));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn section(&mut self, tag: u8, body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let at = self.pos;
        let found = self.u8()?;
        if found != tag {
            return Err(self.err_at(
                at,
                DecodeErrorKind::BadSection {
                    found,
                    expected: tag,
                },
            ));
        }
        let len_at = self.pos;
        let len = self.varint()?;
        if len > self.remaining() as u64 {
            return Err(self.err_at(
                len_at,
                DecodeErrorKind::TooLarge {
                    what: "section length",
                    value: len,
                    max: self.remaining() as u64,
                },
            ));
        }
        let outer_end = self.end;
        self.end = self.pos + len as usize;
        body(self)?;
        if self.pos != self.end {
            let extra = self.end - self.pos;
            return Err(self.err(DecodeErrorKind::SectionTrailing {
                section: tag,
                extra,
            }));
        }
        self.end = outer_end;
        Ok(())
    }

    fn string(&mut self, what: &'static str) -> Result<String> {
        let at = self.pos;
        let len = self.varint()?;
        if len > self.remaining() as u64 {
            return Err(self.err_at(at, DecodeErrorKind::Truncated));
        }
        let start = self.pos;
        let raw = self.take(len as usize)?;
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(self.err_at(
                start + e.valid_up_to(),
                DecodeErrorKind::InvalidUtf8 { what },
            )),
        }
    }

    fn ty(&mut self) -> Result<Type> {
        let at = self.pos;
        let mut depth = 0;
        loop {
            match self.u8()? {
                type_tag::ARRAY => {
                    depth += 1;
                    if depth > MAX_TYPE_DEPTH {
                        return Err(self.err_at(at, DecodeErrorKind::TypeTooDeep));
                    }
                }
                tag => {
                    let mut t = match tag {
                        type_tag::INT => Type::Int,
                        type_tag::BOOL => Type::Bool,
                        type_tag::STR => Type::Str,
                        _ => {
                            return Err(self.err_at(
                                self.pos - 1,
                                DecodeErrorKind::BadTag { what: "type", tag },
                            ))
                        }
                    };
                    for _ in 0..depth {
                        t = Type::array_of(t);
                    }
                    return Ok(t);
                }
            }
        }
    }

    fn ret(&mut self) -> Result<Option<Type>> {
        if self.pos < self.end && self.bytes[self.pos] == type_tag::UNIT {
            self.pos += 1;
            return Ok(None);
        }
        self.ty().map(Some)
    }

    fn constant(&mut self) -> Result<Const> {
        let at = self.pos;
        match self.u8()? {
            const_tag::INT => {
                let z = self.varint()?;
                Ok(Const::Int(crate::varint::unzigzag(z)))
            }
            const_tag::STR => Ok(Const::Str(self.string("string constant")?)),
            tag => Err(self.err_at(
                at,
                DecodeErrorKind::BadTag {
                    what: "constant",
                    tag,
                },
            )),
        }
    }

    fn import(&mut self) -> Result<Import> {
        let name = self.string("import name")?;
        let major = self.bounded("version major", usize::from(u16::MAX))? as u16;
        let minor = self.bounded("version minor", usize::from(u16::MAX))? as u16;
        let params = self.list("parameter count", 1, |r| r.ty())?;
        let ret = self.ret()?;
        Ok(Import {
            name,
            version: Version::new(major, minor),
            sig: Signature { params, ret },
        })
    }

    fn function(&mut self) -> Result<Function> {
        let name = self.string("function name")?;
        let params = self.index("parameter count")?;
        let regs = self.list("register count", 1, |r| r.ty())?;
        let ret = self.ret()?;
        let code = self.list("instruction count", 1, |r| r.instr())?;
        let mut lines = Vec::with_capacity(code.len());
        for _ in 0..code.len() {
            lines.push(self.bounded("line number", u32::MAX as usize)? as u32);
        }
        Ok(Function {
            name,
            params,
            regs,
            ret,
            code,
            lines,
        })
    }

    fn instr(&mut self) -> Result<crate::isa::Instr> {
        let at = self.pos;
        let byte = self.u8()?;
        let op =
            Opcode::from_byte(byte).ok_or(self.err_at(at, DecodeErrorKind::BadOpcode(byte)))?;
        let mut vals = [0u16; crate::isa::MAX_OPERANDS];
        let n = op.operands().len();
        for v in vals.iter_mut().take(n) {
            *v = self.u16()?;
        }
        // The operand count comes from the same table, so this cannot fail.
        op.with_operands(&vals[..n])
            .ok_or(self.err_at(at, DecodeErrorKind::BadOpcode(byte)))
    }
}
