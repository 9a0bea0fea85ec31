//! The module model: what a `.cbc` file, an assembly file or the compiler produces.
//!
//! A [`Module`] is plain data: it may be ill-formed until
//! [`crate::verify::verify`] turns it into a [`crate::verify::VerifiedModule`],
//! the only form the VM runs.

use crate::isa::Instr;
use crate::types::{Signature, Type, Version};

/// A compiled plugin: constants, capability imports, functions and the entry point.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Module {
    /// The constant pool, indexed by `ldk` / `lds`.
    pub consts: Vec<Const>,
    /// The capabilities the plugin needs, indexed by `cap` / `capu`.
    pub imports: Vec<Import>,
    /// The function table, indexed by `call` / `callu`.
    pub funcs: Vec<Function>,
    /// The function that runs first; it takes no parameters.
    pub entry: u16,
}

/// A constant pool entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Const {
    /// An integer.
    Int(i64),
    /// A UTF-8 string.
    Str(String),
}

impl Const {
    /// The constant's type.
    pub fn ty(&self) -> Type {
        match self {
            Const::Int(_) => Type::Int,
            Const::Str(_) => Type::Str,
        }
    }
}

/// A capability the plugin imports: `name@version` with its typed signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Import {
    /// Dotted capability name, e.g. `fs.read`.
    pub name: String,
    /// The version requested.
    pub version: Version,
    /// The signature the plugin expects.
    pub sig: Signature,
}

impl Import {
    /// The policy key of this import: `name@major`.
    pub fn key(&self) -> String {
        format!("{}@{}", self.name, self.version.major)
    }
}

/// A function: its frame layout, code and line table.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Function {
    /// Name, for diagnostics, disassembly and traces.
    pub name: String,
    /// The number of parameters: they arrive in registers `0 .. params`.
    pub params: u16,
    /// The type of every register of the frame (parameters first).
    pub regs: Vec<Type>,
    /// Result type; `None` means unit.
    pub ret: Option<Type>,
    /// The instructions.
    pub code: Vec<Instr>,
    /// The source line of each instruction (`lines.len() == code.len()`);
    /// 0 where no source line is known.
    pub lines: Vec<u32>,
}

impl Function {
    /// The parameter types.
    pub fn param_types(&self) -> &[Type] {
        &self.regs[..usize::from(self.params).min(self.regs.len())]
    }

    /// The function's signature.
    pub fn signature(&self) -> Signature {
        Signature {
            params: self.param_types().to_vec(),
            ret: self.ret.clone(),
        }
    }

    /// The source line of instruction `pc`, 0 if unknown.
    pub fn line(&self, pc: usize) -> u32 {
        self.lines.get(pc).copied().unwrap_or(0)
    }
}
