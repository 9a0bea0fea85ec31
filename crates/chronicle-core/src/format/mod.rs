//! The binary module format (`.cbc`).
//!
//! ```text
//! module   := MAGIC version:u16le section* checksum
//! section  := tag:u8 length:varint payload      (tags 1..=4, each once, in order)
//!   1 consts   := count (tag:u8 (1 int:zigzag | 2 str:string))*
//!   2 imports  := count (name:string major:varint minor:varint signature)*
//!   3 funcs    := count (name:string params:varint count type* ret
//!                        count instr* line:varint*)*      (one line per instr)
//!   4 entry    := func:varint
//! checksum := BLAKE3 of every byte before it (32 bytes)
//! type     := 1 int | 2 bool | 3 str | 4 type (array of)
//! ret      := 0 unit | type
//! signature:= count type* ret
//! string   := length:varint utf8-bytes
//! instr    := opcode:u8 operand:u16le*          (operands as in crate::isa)
//! varint   := unsigned LEB128, minimal, at most 64 bits
//! ```
//!
//! The decoder checks structure first and the checksum last, so that every
//! byte of a hostile file is parsed under the same bounded rules, and then a
//! structurally valid but altered file is still refused.
//!
//! **Invariants:** decoding never panics and never allocates more than a
//! small multiple of the input's length; every accepted input re-encodes to
//! the identical bytes.

mod decode;
mod encode;

pub use decode::{decode, DecodeError, DecodeErrorKind};
pub use encode::encode;

/// The first bytes of every `.cbc` file.
pub const MAGIC: [u8; 4] = *b"CHBC";

/// The module format version this build reads and writes.
pub const FORMAT_VERSION: u16 = 1;

/// Length of the trailing checksum.
pub const CHECKSUM_LEN: usize = 32;

/// Section tags, in the order they must appear.
pub(crate) mod section {
    pub const CONSTS: u8 = 1;
    pub const IMPORTS: u8 = 2;
    pub const FUNCS: u8 = 3;
    pub const ENTRY: u8 = 4;
}

/// Type tags.
pub(crate) mod type_tag {
    pub const UNIT: u8 = 0;
    pub const INT: u8 = 1;
    pub const BOOL: u8 = 2;
    pub const STR: u8 = 3;
    pub const ARRAY: u8 = 4;
}

/// Constant tags.
pub(crate) mod const_tag {
    pub const INT: u8 = 1;
    pub const STR: u8 = 2;
}

/// The most entries of any index space (constants, imports, functions,
/// registers of a frame, instructions of a function): indices are 16-bit.
pub const MAX_ENTRIES: usize = u16::MAX as usize;
