//! The verifier: the only way from a [`Module`] to a [`VerifiedModule`].
//!
//! **Invariant:** for a verified module, every register operand is inside its
//! frame and has the type its instruction requires, every constant, function,
//! import and jump index is in range, every call and capability call passes
//! exactly the callee's arity with the callee's parameter types, and no
//! function can fall off its end. The interpreter relies on this: it does no
//! type checks of its own, and an ill-typed register can only be reported as
//! an internal error, never a panic.

use crate::format::MAX_ENTRIES;
use crate::isa::{Instr, OperandKind, RegClass};
use crate::module::{Const, Function, Module};
use crate::types::{Type, MAX_TYPE_DEPTH};
use std::fmt;
use thiserror::Error;

/// A module that passed [`verify`]: the only form the VM runs.
#[derive(Clone, Debug)]
pub struct VerifiedModule {
    module: Module,
    pub(crate) frames: Vec<FrameLayout>,
}

/// What the VM needs to set up a function's frame, computed once at verification.
#[derive(Clone, Debug)]
pub(crate) struct FrameLayout {
    /// Registers in the frame (what the `registers` limit counts).
    pub size: usize,
    /// Slots the frame takes in the integer file: one past its highest
    /// `int`/`bool` register.
    pub int_size: usize,
    /// Slots the frame takes in the reference file: one past its highest
    /// `str`/array register.
    pub ref_size: usize,
    /// Whether each parameter lives in the reference file.
    pub param_is_ref: Vec<bool>,
    /// True when no parameter does (the common, fast case).
    pub scalar_params: bool,
    /// Reference registers that start as an empty string or array.
    pub ref_init: Vec<(u16, RefInit)>,
}

/// The initial value of a reference register.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RefInit {
    Str,
    IntArray,
    BoolArray,
    RefArray,
}

impl VerifiedModule {
    /// The verified module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Gives the module back.
    pub fn into_module(self) -> Module {
        self.module
    }
}

/// Why a module was rejected: what, and in which function and instruction.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct VerifyError {
    /// The function, if the problem is inside one: its index and name.
    pub func: Option<(u16, String)>,
    /// The instruction index, if the problem is an instruction.
    pub pc: Option<u16>,
    /// What is wrong.
    pub kind: VerifyErrorKind,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((i, name)) = &self.func {
            write!(f, "in function `{name}` (#{i})")?;
            if let Some(pc) = self.pc {
                write!(f, " at pc {pc}")?;
            }
            f.write_str(": ")?;
        }
        write!(f, "{}", self.kind)
    }
}

/// The rules a module can break.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// The entry function index is out of range.
    #[error("entry function {0} does not exist")]
    BadEntry(u16),
    /// The entry function takes parameters.
    #[error("the entry function must take no parameters")]
    EntryHasParams,
    /// More parameters than registers.
    #[error("{params} parameters but only {regs} registers")]
    ParamsExceedRegisters {
        /// Declared parameters.
        params: u16,
        /// Declared registers.
        regs: usize,
    },
    /// A table is larger than 16-bit indices can address.
    #[error("{what}: {count} entries, at most {MAX_ENTRIES} allowed")]
    TooMany {
        /// Which table.
        what: &'static str,
        /// Its size.
        count: usize,
    },
    /// An array type nested deeper than [`MAX_TYPE_DEPTH`].
    #[error("array type nested deeper than {MAX_TYPE_DEPTH} levels")]
    TypeTooDeep,
    /// The line table does not have one entry per instruction.
    #[error("line table has {lines} entries for {code} instructions")]
    LineTable {
        /// Line entries.
        lines: usize,
        /// Instructions.
        code: usize,
    },
    /// Execution can run past the last instruction.
    #[error("execution can fall off the end of the function")]
    FallsOffEnd,
    /// A register operand outside the frame.
    #[error("operand `{operand}`: register r{reg} is outside the frame of {size} registers")]
    RegisterOutOfRange {
        /// Operand name.
        operand: &'static str,
        /// The register.
        reg: u32,
        /// The frame size.
        size: usize,
    },
    /// A constant index out of range.
    #[error("constant k{0} does not exist")]
    ConstOutOfRange(u16),
    /// A function index out of range.
    #[error("function f{0} does not exist")]
    FuncOutOfRange(u16),
    /// An import index out of range.
    #[error("capability import c{0} does not exist")]
    ImportOutOfRange(u16),
    /// A jump to an instruction that does not exist.
    #[error("jump target {target} is outside the function's {len} instructions")]
    JumpOutOfRange {
        /// The target.
        target: u16,
        /// Instructions in the function.
        len: usize,
    },
    /// A call passes a different number of arguments than the callee takes.
    #[error("call passes {found} arguments but `{callee}` takes {expected}")]
    ArityMismatch {
        /// The callee's name.
        callee: String,
        /// Its arity.
        expected: usize,
        /// Arguments passed.
        found: u16,
    },
    /// An operand of the wrong type.
    #[error("operand `{operand}`: expected {expected}, found {found}")]
    TypeMismatch {
        /// Operand name.
        operand: &'static str,
        /// What the instruction requires.
        expected: String,
        /// The register's (or constant's) type.
        found: String,
    },
    /// An immediate outside its range.
    #[error("immediate {0} is out of range for this instruction")]
    BadImmediate(i16),
}

/// Checks every rule of the module format and the type discipline.
pub fn verify(module: Module) -> Result<VerifiedModule, VerifyError> {
    let top = |kind| VerifyError {
        func: None,
        pc: None,
        kind,
    };
    for (what, count) in [
        ("constant pool", module.consts.len()),
        ("import table", module.imports.len()),
        ("function table", module.funcs.len()),
    ] {
        if count > MAX_ENTRIES {
            return Err(top(VerifyErrorKind::TooMany { what, count }));
        }
    }
    for imp in &module.imports {
        if imp.sig.params.len() > MAX_ENTRIES {
            return Err(top(VerifyErrorKind::TooMany {
                what: "import parameters",
                count: imp.sig.params.len(),
            }));
        }
        if imp
            .sig
            .params
            .iter()
            .chain(&imp.sig.ret)
            .any(|t| t.depth() > MAX_TYPE_DEPTH)
        {
            return Err(top(VerifyErrorKind::TypeTooDeep));
        }
    }
    let entry = module
        .funcs
        .get(usize::from(module.entry))
        .ok_or(top(VerifyErrorKind::BadEntry(module.entry)))?;
    if entry.params != 0 {
        return Err(VerifyError {
            func: Some((module.entry, entry.name.clone())),
            pc: None,
            kind: VerifyErrorKind::EntryHasParams,
        });
    }
    let mut frames = Vec::with_capacity(module.funcs.len());
    for (index, func) in module.funcs.iter().enumerate() {
        let checker = FuncChecker {
            module: &module,
            func,
            index: index as u16,
        };
        frames.push(checker.check()?);
    }
    Ok(VerifiedModule { module, frames })
}

struct FuncChecker<'m> {
    module: &'m Module,
    func: &'m Function,
    index: u16,
}

impl FuncChecker<'_> {
    fn err(&self, pc: Option<u16>, kind: VerifyErrorKind) -> VerifyError {
        VerifyError {
            func: Some((self.index, self.func.name.clone())),
            pc,
            kind,
        }
    }

    fn check(&self) -> Result<FrameLayout, VerifyError> {
        let f = self.func;
        if f.regs.len() > MAX_ENTRIES {
            return Err(self.err(
                None,
                VerifyErrorKind::TooMany {
                    what: "registers",
                    count: f.regs.len(),
                },
            ));
        }
        if f.code.len() > MAX_ENTRIES {
            return Err(self.err(
                None,
                VerifyErrorKind::TooMany {
                    what: "instructions",
                    count: f.code.len(),
                },
            ));
        }
        if usize::from(f.params) > f.regs.len() {
            return Err(self.err(
                None,
                VerifyErrorKind::ParamsExceedRegisters {
                    params: f.params,
                    regs: f.regs.len(),
                },
            ));
        }
        if f.regs
            .iter()
            .chain(&f.ret)
            .any(|t| t.depth() > MAX_TYPE_DEPTH)
        {
            return Err(self.err(None, VerifyErrorKind::TypeTooDeep));
        }
        if f.lines.len() != f.code.len() {
            return Err(self.err(
                None,
                VerifyErrorKind::LineTable {
                    lines: f.lines.len(),
                    code: f.code.len(),
                },
            ));
        }
        match f.code.last() {
            Some(last) if last.is_terminator() => {}
            _ => {
                let pc = f.code.len().checked_sub(1).map(|pc| pc as u16);
                return Err(self.err(pc, VerifyErrorKind::FallsOffEnd));
            }
        }
        for (pc, instr) in f.code.iter().enumerate() {
            self.instr(instr)
                .map_err(|kind| self.err(Some(pc as u16), kind))?;
        }
        let ref_init = f
            .regs
            .iter()
            .enumerate()
            .skip(usize::from(f.params))
            .filter_map(|(r, t)| match t {
                Type::Str => Some((r as u16, RefInit::Str)),
                Type::Array(e) => Some((
                    r as u16,
                    match **e {
                        Type::Int => RefInit::IntArray,
                        Type::Bool => RefInit::BoolArray,
                        _ => RefInit::RefArray,
                    },
                )),
                _ => None,
            })
            .collect();
        let one_past_last = |is_ref: bool| {
            f.regs
                .iter()
                .rposition(|t| t.is_ref() == is_ref)
                .map_or(0, |i| i + 1)
        };
        Ok(FrameLayout {
            size: f.regs.len(),
            int_size: one_past_last(false),
            ref_size: one_past_last(true),
            param_is_ref: f.param_types().iter().map(Type::is_ref).collect(),
            scalar_params: !f.param_types().iter().any(Type::is_ref),
            ref_init,
        })
    }

    /// The type of register `reg` named by operand `operand`.
    fn reg(&self, operand: &'static str, reg: u16) -> Result<&Type, VerifyErrorKind> {
        self.func
            .regs
            .get(usize::from(reg))
            .ok_or(VerifyErrorKind::RegisterOutOfRange {
                operand,
                reg: u32::from(reg),
                size: self.func.regs.len(),
            })
    }

    fn instr(&self, instr: &Instr) -> Result<(), VerifyErrorKind> {
        let ops = instr.operands();
        // Generic rules from the instruction table: ranges and register classes.
        for (spec, &val) in instr.opcode().operands().iter().zip(ops.as_slice()) {
            match spec.kind {
                OperandKind::Reg(_, class) => {
                    let ty = self.reg(spec.name, val)?;
                    if !class_admits(class, ty) {
                        return Err(mismatch(spec.name, class_name(class), ty));
                    }
                }
                OperandKind::Const if usize::from(val) >= self.module.consts.len() => {
                    return Err(VerifyErrorKind::ConstOutOfRange(val));
                }
                OperandKind::Func if usize::from(val) >= self.module.funcs.len() => {
                    return Err(VerifyErrorKind::FuncOutOfRange(val));
                }
                OperandKind::Import if usize::from(val) >= self.module.imports.len() => {
                    return Err(VerifyErrorKind::ImportOutOfRange(val));
                }
                OperandKind::Target if usize::from(val) >= self.func.code.len() => {
                    return Err(VerifyErrorKind::JumpOutOfRange {
                        target: val,
                        len: self.func.code.len(),
                    });
                }
                _ => {}
            }
        }
        // Relational rules, per opcode.
        match *instr {
            Instr::LoadBool { imm, .. } if !(0..=1).contains(&(imm as i16)) => {
                Err(VerifyErrorKind::BadImmediate(imm as i16))
            }
            Instr::LoadConst { k, .. } => self.constant(k, Type::Int),
            Instr::LoadStr { k, .. } => self.constant(k, Type::Str),
            Instr::Move { d, a } | Instr::MoveRef { d, a } => self.same("a", a, self.reg("d", d)?),
            Instr::Eq { a, b, .. }
            | Instr::Ne { a, b, .. }
            | Instr::EqRef { a, b, .. }
            | Instr::NeRef { a, b, .. } => self.same("b", b, self.reg("a", a)?),
            Instr::Call { d, f, a, n } => {
                let callee = &self.module.funcs[usize::from(f)];
                self.args(&callee.name, callee.param_types(), a, n)?;
                match &callee.ret {
                    Some(t) => self.same("d", d, t),
                    None => Err(VerifyErrorKind::TypeMismatch {
                        operand: "f",
                        expected: "a function with a result (use callu)".into(),
                        found: format!("`{}` returning unit", callee.name),
                    }),
                }
            }
            Instr::CallUnit { f, a, n } => {
                let callee = &self.module.funcs[usize::from(f)];
                self.args(&callee.name, callee.param_types(), a, n)?;
                self.unit_result("f", &callee.name, callee.ret.as_ref())
            }
            Instr::Cap { d, c, a, n } => {
                let imp = &self.module.imports[usize::from(c)];
                self.args(&imp.name, &imp.sig.params, a, n)?;
                match &imp.sig.ret {
                    Some(t) => self.same("d", d, t),
                    None => Err(VerifyErrorKind::TypeMismatch {
                        operand: "c",
                        expected: "a capability with a result (use capu)".into(),
                        found: format!("`{}` returning unit", imp.name),
                    }),
                }
            }
            Instr::CapUnit { c, a, n } => {
                let imp = &self.module.imports[usize::from(c)];
                self.args(&imp.name, &imp.sig.params, a, n)?;
                self.unit_result("c", &imp.name, imp.sig.ret.as_ref())
            }
            Instr::Ret { a } | Instr::RetRef { a } => match &self.func.ret {
                Some(t) => self.same("a", a, t),
                None => Err(VerifyErrorKind::TypeMismatch {
                    operand: "a",
                    expected: "no value (the function returns unit: use retu)".into(),
                    found: self.reg("a", a)?.to_string(),
                }),
            },
            Instr::RetUnit {} => match &self.func.ret {
                None => Ok(()),
                Some(t) => Err(VerifyErrorKind::TypeMismatch {
                    operand: "retu",
                    expected: format!("a returned {t} (the function's result type)"),
                    found: "unit".into(),
                }),
            },
            Instr::Split { d, .. } => self.same("d", d, &Type::array_of(Type::Str)),
            Instr::ArrayInt { d, a, n } => self.array_lit(d, a, n, Some(Type::Int)),
            Instr::ArrayBool { d, a, n } => self.array_lit(d, a, n, Some(Type::Bool)),
            Instr::ArrayRef { d, a, n } => self.array_lit(d, a, n, None),
            Instr::GetInt { d, a, .. }
            | Instr::GetBool { d, a, .. }
            | Instr::GetRef { d, a, .. }
            | Instr::PopInt { d, a }
            | Instr::PopBool { d, a }
            | Instr::PopRef { d, a } => self.element("d", d, a),
            Instr::SetInt { a, v, .. }
            | Instr::SetBool { a, v, .. }
            | Instr::SetRef { a, v, .. }
            | Instr::PushInt { a, v }
            | Instr::PushBool { a, v }
            | Instr::PushRef { a, v } => self.element("v", v, a),
            _ => Ok(()),
        }
    }

    /// Register `reg` must have the element type of array register `array`.
    /// (The opcode's table entry already fixed int, bool or reference.)
    fn element(&self, operand: &'static str, reg: u16, array: u16) -> Result<(), VerifyErrorKind> {
        let elem = self.reg("a", array)?.elem().cloned().unwrap_or(Type::Int);
        self.same(operand, reg, &elem)
    }

    fn constant(&self, k: u16, want: Type) -> Result<(), VerifyErrorKind> {
        let c = &self.module.consts[usize::from(k)];
        if c.ty() == want {
            Ok(())
        } else {
            let found = match c {
                Const::Int(_) => "an int constant",
                Const::Str(_) => "a str constant",
            };
            Err(VerifyErrorKind::TypeMismatch {
                operand: "k",
                expected: format!("a {want} constant"),
                found: found.into(),
            })
        }
    }

    /// Register `reg` (operand `operand`) must have type `want`.
    fn same(&self, operand: &'static str, reg: u16, want: &Type) -> Result<(), VerifyErrorKind> {
        let ty = self.reg(operand, reg)?;
        if ty == want {
            Ok(())
        } else {
            Err(mismatch(operand, &want.to_string(), ty))
        }
    }

    fn unit_result(
        &self,
        operand: &'static str,
        callee: &str,
        ret: Option<&Type>,
    ) -> Result<(), VerifyErrorKind> {
        match ret {
            None => Ok(()),
            Some(t) => Err(VerifyErrorKind::TypeMismatch {
                operand,
                expected: "a callee returning unit".into(),
                found: format!("`{callee}` returning {t}"),
            }),
        }
    }

    /// Arguments `a .. a + n` must match `params` in number and type.
    fn args(&self, callee: &str, params: &[Type], a: u16, n: u16) -> Result<(), VerifyErrorKind> {
        if usize::from(n) != params.len() {
            return Err(VerifyErrorKind::ArityMismatch {
                callee: callee.to_owned(),
                expected: params.len(),
                found: n,
            });
        }
        self.range(a, n)?;
        for (i, p) in params.iter().enumerate() {
            self.same("a", a + i as u16, p)?;
        }
        Ok(())
    }

    /// Registers `a .. a + n` must lie in the frame.
    fn range(&self, a: u16, n: u16) -> Result<(), VerifyErrorKind> {
        let end = u32::from(a) + u32::from(n);
        if end as usize > self.func.regs.len() {
            return Err(VerifyErrorKind::RegisterOutOfRange {
                operand: "a",
                reg: end.saturating_sub(1).max(u32::from(a)),
                size: self.func.regs.len(),
            });
        }
        Ok(())
    }

    /// `d = [a .. a + n]`: `d` is an array of `elem` (or of any reference
    /// type when `elem` is `None`) and every element register has that type.
    fn array_lit(&self, d: u16, a: u16, n: u16, elem: Option<Type>) -> Result<(), VerifyErrorKind> {
        let dt = self.reg("d", d)?;
        let e = dt.elem().cloned().unwrap_or(Type::Int);
        let ok = match &elem {
            Some(want) => &e == want,
            None => e.is_ref(),
        };
        if !ok {
            let expected = match elem {
                Some(t) => Type::array_of(t).to_string(),
                None => "an array of str or arrays".into(),
            };
            return Err(mismatch("d", &expected, dt));
        }
        self.range(a, n)?;
        for i in 0..n {
            self.same("a", a + i, &e)?;
        }
        Ok(())
    }
}

fn class_admits(class: RegClass, ty: &Type) -> bool {
    match class {
        RegClass::Int => *ty == Type::Int,
        RegClass::Bool => *ty == Type::Bool,
        RegClass::Scalar => !ty.is_ref(),
        RegClass::Str => *ty == Type::Str,
        RegClass::Array => matches!(ty, Type::Array(_)),
        RegClass::Ref => ty.is_ref(),
        RegClass::Any => true,
    }
}

fn class_name(class: RegClass) -> &'static str {
    match class {
        RegClass::Int => "int",
        RegClass::Bool => "bool",
        RegClass::Scalar => "int or bool",
        RegClass::Str => "str",
        RegClass::Array => "an array",
        RegClass::Ref => "str or an array",
        RegClass::Any => "any type",
    }
}

fn mismatch(operand: &'static str, expected: &str, found: &Type) -> VerifyErrorKind {
    VerifyErrorKind::TypeMismatch {
        operand,
        expected: expected.to_owned(),
        found: found.to_string(),
    }
}
