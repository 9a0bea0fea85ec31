//! A structure-aware program generator: modules that pass the verifier by
//! construction, built from the fuzzer's bytes through [`arbitrary`].
//!
//! A [`Program`] is a module, the limits to run it under and the answers its
//! capability calls get. Each function has a typed frame (its parameters,
//! then registers added as operands need them); its body is a list of
//! statements, each one instruction of any opcode of [`Opcode::ALL`] whose
//! register operands are drawn from registers of the class and type the
//! instruction table and the verifier's relational rules require, sometimes
//! preceded by moves that fill a call's or an array literal's argument run.
//! Jumps go forward and backward (to any statement or to the final return),
//! calls go to any function (recursion included) with the callee's exact
//! arity and parameter types, and every function ends with a return of its
//! result type. Nothing guarantees termination: the limits do.
//!
//! When the input runs out, every further choice is the first option, so
//! even an empty input builds a (tiny) valid program.

use arbitrary::{Arbitrary, Result, Unstructured};
use chronicle_core::isa::{ElemClass, Instr, Opcode, OperandKind, RegClass, MAX_OPERANDS};
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::types::{Signature, Type, Version, MAX_TYPE_DEPTH};
use chronicle_core::Limits;

/// A generated program: a module that verifies, how to bound its runs and
/// what its capability calls answer.
#[derive(Clone, Debug)]
pub struct Program {
    /// The module; [`chronicle_core::verify`] accepts it.
    pub module: Module,
    /// The limits of its runs (small, so every run ends quickly).
    pub limits: Limits,
    /// The answers of successive capability calls, cycling (none: every call fails).
    pub answers: Vec<Answer>,
}

/// What the fuzz host answers to one capability call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A value of the import's result type, derived from this seed.
    Value(u64),
    /// A value that does NOT have the import's result type: the VM must
    /// turn it into a capability error.
    WrongType(u64),
    /// A host failure.
    Fail,
}

/// The most statements of one function body.
const MAX_BODY: usize = 24;
/// Frames stop growing here (operands then reuse registers), below the
/// smallest "roomy" `registers` limit.
const MAX_FRAME: usize = 120;
/// Array types in frames and signatures nest at most this deep, except for
/// the occasional deep one.
const USUAL_DEPTH: usize = 2;

const IMPORT_NAMES: &[&str] = &["fs.read", "clock.now", "log.write", "kv.get", "x"];
const FUNC_NAMES: &[&str] = &["main", "f", "helper", "loop", ""];
const STRINGS: &[&str] = &[
    "",
    ",",
    "a,b,,c",
    "é",
    "😀x",
    "12",
    "-7",
    "+5",
    " 1",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "\n",
    "ab",
];
const INTS: &[i64] = &[0, 1, -1, 2, 7, i64::MAX, i64::MIN, i64::MIN + 1, 1 << 32];
const IMMS: &[i16] = &[0, 1, -1, 2, i16::MAX, i16::MIN];

impl<'a> Arbitrary<'a> for Program {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let nfuncs = 1 + u.choose_index(4)?;
        let entry = u.choose_index(nfuncs)?;
        let mut sigs = Vec::with_capacity(nfuncs);
        for i in 0..nfuncs {
            let nparams = if i == entry { 0 } else { u.choose_index(4)? };
            let params = (0..nparams)
                .map(|_| ty(u, USUAL_DEPTH))
                .collect::<Result<_>>()?;
            let ret = if u.ratio(1, 5)? {
                None
            } else {
                Some(ty(u, USUAL_DEPTH)?)
            };
            sigs.push(Signature { params, ret });
        }
        let mut imports = Vec::new();
        for _ in 0..u.choose_index(4)? {
            let name = IMPORT_NAMES[u.choose_index(IMPORT_NAMES.len())?].to_owned();
            let version = Version::new(u.int_in_range(0..=2)?, u.int_in_range(0..=2)?);
            let nparams = u.choose_index(3)?;
            let params = (0..nparams)
                .map(|_| ty(u, USUAL_DEPTH))
                .collect::<Result<_>>()?;
            let ret = if u.ratio(1, 3)? {
                None
            } else {
                Some(ty(u, USUAL_DEPTH)?)
            };
            imports.push(Import {
                name,
                version,
                sig: Signature { params, ret },
            });
        }
        let mut consts = Vec::new();
        let mut funcs = Vec::with_capacity(nfuncs);
        for (me, sig) in sigs.iter().enumerate() {
            let mut b = FuncBuilder {
                regs: sig.params.clone(),
                ret: sig.ret.clone(),
                body_len: u.choose_index(MAX_BODY + 1)?,
                consts: &mut consts,
                imports: &imports,
                sigs: &sigs,
            };
            let (code, lines) = b.build(u)?;
            funcs.push(Function {
                name: format!("{}{me}", FUNC_NAMES[u.choose_index(FUNC_NAMES.len())?]),
                params: sig.params.len() as u16,
                regs: b.regs,
                ret: sig.ret.clone(),
                code,
                lines,
            });
        }
        let module = Module {
            consts,
            imports,
            funcs,
            entry: entry as u16,
        };
        // Roomy unless the input asks for tight limits (an exhausted input is roomy).
        let limits = if u.ratio(3, 4)? {
            Limits {
                instructions: 4_000,
                call_depth: 64,
                registers: 256,
                array_len: 1_000,
                string_bytes: 4_096,
                alloc_bytes: 65_536,
            }
        } else {
            Limits {
                instructions: u.int_in_range(0..=2_000)?,
                call_depth: u.int_in_range(0..=8)?,
                registers: u.int_in_range(0..=24)?,
                array_len: u.int_in_range(0..=8)?,
                string_bytes: u.int_in_range(0..=32)?,
                alloc_bytes: u.int_in_range(0..=512)?,
            }
        };
        let mut answers = Vec::new();
        for _ in 0..u.choose_index(6)? {
            answers.push(match u.int_in_range(0..=9)? {
                0..=6 => Answer::Value(u.arbitrary()?),
                7..=8 => Answer::WrongType(u.arbitrary()?),
                _ => Answer::Fail,
            });
        }
        Ok(Program {
            module,
            limits,
            answers,
        })
    }
}

/// A type: mostly a scalar or `str`, sometimes an array, rarely a deep one.
fn ty(u: &mut Unstructured<'_>, max_depth: usize) -> Result<Type> {
    let base = [Type::Int, Type::Bool, Type::Str][u.choose_index(3)?].clone();
    let depth = match u.int_in_range(0..=19)? {
        0..=12 => 0,
        13..=18 => 1,
        _ => u.int_in_range(2..=MAX_TYPE_DEPTH)?,
    };
    Ok((0..depth.min(max_depth)).fold(base, |t, _| Type::array_of(t)))
}

/// `str` or an array type whose depth stays within `max_depth`.
fn ref_ty(u: &mut Unstructured<'_>, max_depth: usize) -> Result<Type> {
    if u.ratio(1, 2)? || max_depth == 0 {
        Ok(Type::Str)
    } else {
        Ok(Type::array_of(ty(u, max_depth - 1)?))
    }
}

/// Builds one function over a frame that grows as operands need registers.
struct FuncBuilder<'m> {
    regs: Vec<Type>,
    ret: Option<Type>,
    /// Statements before the final return (whose statement index this is).
    body_len: usize,
    consts: &'m mut Vec<Const>,
    imports: &'m [Import],
    sigs: &'m [Signature],
}

impl FuncBuilder<'_> {
    /// The code and line table. Jump targets are chosen as statement
    /// indices and resolved to instruction indices once the layout is known.
    fn build(&mut self, u: &mut Unstructured<'_>) -> Result<(Vec<Instr>, Vec<u32>)> {
        let mut stmts: Vec<Vec<Instr>> = Vec::with_capacity(self.body_len + 1);
        for _ in 0..self.body_len {
            let start = u.choose_index(Opcode::ALL.len())?;
            let mut stmt = Vec::new();
            // From a random opcode on, the first that fits here (`ldi` always does).
            for i in 0..Opcode::ALL.len() {
                let op = Opcode::ALL[(start + i) % Opcode::ALL.len()];
                if let Some(instr) = self.instr(u, op, &mut stmt)? {
                    stmt.push(instr);
                    break;
                }
                stmt.clear();
            }
            stmts.push(stmt);
        }
        let ret = match self.ret.clone() {
            None => Instr::RetUnit {},
            Some(t) if t.is_ref() => Instr::RetRef {
                a: self.reg(u, &t)?,
            },
            Some(t) => Instr::Ret {
                a: self.reg(u, &t)?,
            },
        };
        stmts.push(vec![ret]);
        let mut start_pc = Vec::with_capacity(stmts.len());
        let mut pc = 0u16;
        for s in &stmts {
            start_pc.push(pc);
            pc += s.len() as u16;
        }
        let mut code = Vec::with_capacity(usize::from(pc));
        let mut lines = Vec::with_capacity(usize::from(pc));
        let mut line = 0u32;
        for s in stmts {
            if u.ratio(1, 3)? {
                line = u.int_in_range(0..=60)?;
            }
            for instr in s {
                code.push(resolve(instr, &start_pc));
                lines.push(line);
            }
        }
        Ok((code, lines))
    }

    /// A register of type `t`: usually an existing one, else a new one.
    fn reg(&mut self, u: &mut Unstructured<'_>, t: &Type) -> Result<u16> {
        let existing: Vec<usize> = (0..self.regs.len())
            .filter(|&r| &self.regs[r] == t)
            .collect();
        if !existing.is_empty() && (self.regs.len() >= MAX_FRAME || !u.ratio(1, 6)?) {
            return Ok(existing[u.choose_index(existing.len())?] as u16);
        }
        self.regs.push(t.clone());
        Ok((self.regs.len() - 1) as u16)
    }

    /// The first register of a run of registers of these types: an existing
    /// run, or new registers, some filled by moves added to `stmt`.
    fn run(
        &mut self,
        u: &mut Unstructured<'_>,
        types: &[Type],
        stmt: &mut Vec<Instr>,
    ) -> Result<u16> {
        let fits = |a: usize| self.regs.get(a..a + types.len()) == Some(types);
        let existing: Vec<usize> = (0..=self.regs.len()).filter(|&a| fits(a)).collect();
        if !existing.is_empty() && (self.regs.len() >= MAX_FRAME || u.ratio(1, 2)?) {
            return Ok(existing[u.choose_index(existing.len())?] as u16);
        }
        let a = self.regs.len();
        self.regs.extend_from_slice(types);
        for (i, t) in types.iter().enumerate() {
            let sources: Vec<usize> = (0..a).filter(|&r| &self.regs[r] == t).collect();
            if !sources.is_empty() && u.ratio(2, 3)? {
                let (d, s) = (
                    (a + i) as u16,
                    sources[u.choose_index(sources.len())?] as u16,
                );
                stmt.push(if t.is_ref() {
                    Instr::MoveRef { d, a: s }
                } else {
                    Instr::Move { d, a: s }
                });
            }
        }
        Ok(a as u16)
    }

    /// A constant of type `t`: an existing one, or a new one.
    fn constant(&mut self, u: &mut Unstructured<'_>, t: &Type) -> Result<u16> {
        let existing: Vec<usize> = (0..self.consts.len())
            .filter(|&k| &self.consts[k].ty() == t)
            .collect();
        if !existing.is_empty() && !u.ratio(1, 4)? {
            return Ok(existing[u.choose_index(existing.len())?] as u16);
        }
        let c = if *t == Type::Int {
            Const::Int(if u.ratio(1, 2)? {
                *u.choose(INTS)?
            } else {
                u.arbitrary()?
            })
        } else if u.ratio(2, 3)? {
            Const::Str(STRINGS[u.choose_index(STRINGS.len())?].to_owned())
        } else {
            let s: &str = u.arbitrary()?;
            let mut end = s.len().min(40);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            Const::Str(s[..end].to_owned())
        };
        self.consts.push(c);
        Ok((self.consts.len() - 1) as u16)
    }

    /// A well-typed instance of `op` (after the moves it pushed on `stmt`),
    /// or `None` if `op` cannot be used here (e.g. `call` without a callee
    /// of the right kind, `ret` of the wrong kind).
    fn instr(
        &mut self,
        u: &mut Unstructured<'_>,
        op: Opcode,
        stmt: &mut Vec<Instr>,
    ) -> Result<Option<Instr>> {
        // The instruction's type parameters, fixed by its relational rules.
        let mut scalar = if u.ratio(1, 2)? {
            Type::Int
        } else {
            Type::Bool
        };
        let mut reference = ref_ty(u, USUAL_DEPTH)?;
        let elem = match (op.element_class(), op) {
            (Some(ElemClass::Int), _) => Type::Int,
            (Some(ElemClass::Bool), _) => Type::Bool,
            (Some(ElemClass::Ref), _) => {
                reference = ref_ty(u, MAX_TYPE_DEPTH - 1)?;
                reference.clone()
            }
            (None, Opcode::Split) => Type::Str,
            (None, _) => ty(u, USUAL_DEPTH)?,
        };
        let mut result: Option<Type> = None;
        let mut index = 0u16;
        let mut run = (0u16, 0u16);
        match op {
            Opcode::Ret => match &self.ret {
                Some(t) if !t.is_ref() => scalar = t.clone(),
                _ => return Ok(None),
            },
            Opcode::RetRef => match &self.ret {
                Some(t) if t.is_ref() => reference = t.clone(),
                _ => return Ok(None),
            },
            Opcode::RetUnit if self.ret.is_some() => return Ok(None),
            Opcode::Call | Opcode::CallUnit => {
                let unit = op == Opcode::CallUnit;
                let callees: Vec<usize> = (0..self.sigs.len())
                    .filter(|&f| self.sigs[f].ret.is_none() == unit)
                    .collect();
                if callees.is_empty() {
                    return Ok(None);
                }
                let f = callees[u.choose_index(callees.len())?];
                let sigs = self.sigs;
                let sig = &sigs[f];
                result = sig.ret.clone();
                run = (self.run(u, &sig.params, stmt)?, sig.params.len() as u16);
                index = f as u16;
            }
            Opcode::Cap | Opcode::CapUnit => {
                let unit = op == Opcode::CapUnit;
                let caps: Vec<usize> = (0..self.imports.len())
                    .filter(|&c| self.imports[c].sig.ret.is_none() == unit)
                    .collect();
                if caps.is_empty() {
                    return Ok(None);
                }
                let c = caps[u.choose_index(caps.len())?];
                let imports = self.imports;
                let sig = &imports[c].sig;
                result = sig.ret.clone();
                run = (self.run(u, &sig.params, stmt)?, sig.params.len() as u16);
                index = c as u16;
            }
            Opcode::ArrayInt | Opcode::ArrayBool | Opcode::ArrayRef => {
                let n = u.choose_index(4)?;
                run = (self.run(u, &vec![elem.clone(); n], stmt)?, n as u16);
            }
            _ => {}
        }
        let mut vals = [0u16; MAX_OPERANDS];
        for (i, spec) in op.operands().iter().enumerate() {
            vals[i] = match spec.kind {
                OperandKind::Reg(_, class) => {
                    let t = match class {
                        RegClass::Int => Type::Int,
                        RegClass::Bool => Type::Bool,
                        RegClass::Str => Type::Str,
                        RegClass::Scalar => scalar.clone(),
                        RegClass::Ref => reference.clone(),
                        RegClass::Array => Type::array_of(elem.clone()),
                        RegClass::Any => match &result {
                            Some(t) => t.clone(),
                            None => return Ok(None),
                        },
                    };
                    self.reg(u, &t)?
                }
                OperandKind::Regs => run.0,
                OperandKind::Count => run.1,
                OperandKind::Func | OperandKind::Import => index,
                OperandKind::Const => {
                    let t = if op == Opcode::LoadStr {
                        Type::Str
                    } else {
                        Type::Int
                    };
                    self.constant(u, &t)?
                }
                // A statement index (the final return included), resolved later.
                OperandKind::Target => u.int_in_range(0..=self.body_len as u16)?,
                OperandKind::Imm if op == Opcode::LoadBool => u.int_in_range(0..=1)?,
                OperandKind::Imm => {
                    (if u.ratio(1, 2)? {
                        *u.choose(IMMS)?
                    } else {
                        u.arbitrary::<i16>()?
                    }) as u16
                }
            };
        }
        Ok(op.with_operands(&vals[..op.operands().len()]))
    }
}

/// `instr` with its jump target, a statement index, replaced by that
/// statement's first instruction index.
fn resolve(instr: Instr, start_pc: &[u16]) -> Instr {
    let op = instr.opcode();
    let mut vals = instr.operands().as_slice().to_vec();
    for (spec, v) in op.operands().iter().zip(&mut vals) {
        if spec.kind == OperandKind::Target {
            *v = start_pc[usize::from(*v)];
        }
    }
    op.with_operands(&vals).unwrap_or(instr)
}
