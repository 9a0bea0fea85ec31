//! What each instruction does to the registers, as the trace records it: the
//! effect table, and the code map written into the header for viewers.
//!
//! The recorder, the reader and a viewer all walk the same state machine:
//! the current frame and pc select an instruction, and the instruction's
//! [`Effect`] says what the next step record carries (a scalar residual, a
//! full value, appended bytes, or nothing because the new value follows from
//! the registers) and where execution goes next. This file is the one place
//! that maps opcodes to effects; a new opcode fails to compile here until it
//! is given one.

use super::wire::{put_bytes, put_ret, put_type, put_varint, zigzag};
use crate::isa::Instr;
use crate::module::{Const, Module};
use crate::value::Value;

/// The recorded effect of one instruction. Register operands are frame
/// registers; every read sees the values from before the instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// No register changes (`assert`).
    None,
    /// Scalar register `d` gets a new value, stored as a predictor residual.
    Scalar { d: u16 },
    /// Reference register `d` gets a new value, stored in full.
    Full { d: u16 },
    /// String register `d` gets bytes appended, stored (`concat d, d, b`).
    Append { d: u16, b: u16 },
    /// `d` = string constant `k`.
    Str { d: u16, k: u16 },
    /// `d` = the value of `a`.
    Copy { d: u16, a: u16 },
    /// `d` = element `i` (an int register) of array `a`.
    Elem { d: u16, a: u16, i: u16 },
    /// Array `a` gets the value of `v` pushed.
    Push { a: u16, v: u16 },
    /// Element `i` (an int register) of array `a` becomes the value of `v`.
    Set { a: u16, i: u16, v: u16 },
    /// `d` = the last element of array `a`, which loses it.
    Pop { d: u16, a: u16 },
    /// Continue at `t`.
    Jump { t: u16 },
    /// Continue at `t` if taken (one bit in the step record), else at pc + 1.
    Branch { t: u16 },
    /// Scalar register `d` gets a new value (as [`Effect::Scalar`]); then
    /// continue at `t` if the new `d` is less than `end`, else at pc + 1.
    Loop { d: u16, end: u16, t: u16 },
    /// Call `f` with registers `a .. a + n`; the result goes to `dst`.
    Call {
        f: u16,
        a: u16,
        n: u16,
        dst: Option<u16>,
    },
    /// Return the value of `a` (unit if `None`).
    Ret { a: Option<u16> },
    /// Capability call of import `c`; the result goes to `dst`.
    Cap { c: u16, dst: Option<u16> },
}

/// Effect codes in the code map (see `docs/TRACE_FORMAT.md`, "Code map").
mod code {
    pub const NONE: u8 = 0;
    pub const SCALAR: u8 = 1;
    pub const FULL: u8 = 2;
    pub const APPEND: u8 = 3;
    pub const STR: u8 = 4;
    pub const COPY: u8 = 5;
    pub const ELEM: u8 = 6;
    pub const PUSH: u8 = 7;
    pub const SET: u8 = 8;
    pub const POP: u8 = 9;
    pub const JUMP: u8 = 10;
    pub const BRANCH: u8 = 11;
    pub const CALL: u8 = 12;
    pub const RET: u8 = 13;
    pub const CAP: u8 = 14;
    pub const LOOP: u8 = 15;
}

impl Effect {
    /// The effect of `instr`.
    pub fn of(instr: &Instr) -> Effect {
        use Instr as I;
        match *instr {
            I::LoadInt { d, .. }
            | I::LoadBool { d, .. }
            | I::LoadConst { d, .. }
            | I::Move { d, .. }
            | I::Add { d, .. }
            | I::Sub { d, .. }
            | I::Mul { d, .. }
            | I::Div { d, .. }
            | I::Rem { d, .. }
            | I::Neg { d, .. }
            | I::AddImm { d, .. }
            | I::Lt { d, .. }
            | I::Le { d, .. }
            | I::Gt { d, .. }
            | I::Ge { d, .. }
            | I::Eq { d, .. }
            | I::Ne { d, .. }
            | I::EqRef { d, .. }
            | I::NeRef { d, .. }
            | I::Not { d, .. }
            | I::StrLen { d, .. }
            | I::Contains { d, .. }
            | I::ParseInt { d, .. }
            | I::GetInt { d, .. }
            | I::GetBool { d, .. }
            | I::ArrayLen { d, .. } => Effect::Scalar { d },
            I::LoadStr { d, k } => Effect::Str { d, k },
            I::MoveRef { d, a } => Effect::Copy { d, a },
            I::Concat { d, a, b } if d == a => Effect::Append { d, b },
            I::Concat { d, .. }
            | I::IntToStr { d, .. }
            | I::BoolToStr { d, .. }
            | I::Substr { d, .. }
            | I::Split { d, .. }
            | I::ArrayInt { d, .. }
            | I::ArrayBool { d, .. }
            | I::ArrayRef { d, .. } => Effect::Full { d },
            I::GetRef { d, a, i } => Effect::Elem { d, a, i },
            I::SetInt { a, i, v } | I::SetBool { a, i, v } | I::SetRef { a, i, v } => {
                Effect::Set { a, i, v }
            }
            I::PushInt { a, v } | I::PushBool { a, v } | I::PushRef { a, v } => {
                Effect::Push { a, v }
            }
            I::PopInt { d, a } | I::PopBool { d, a } | I::PopRef { d, a } => Effect::Pop { d, a },
            I::Jump { t } => Effect::Jump { t },
            I::JumpIf { t, .. }
            | I::JumpIfNot { t, .. }
            | I::JumpLt { t, .. }
            | I::JumpLe { t, .. }
            | I::JumpGt { t, .. }
            | I::JumpGe { t, .. } => Effect::Branch { t },
            I::ForNext { i, end, t } => Effect::Loop { d: i, end, t },
            I::Call { d, f, a, n } => Effect::Call {
                f,
                a,
                n,
                dst: Some(d),
            },
            I::CallUnit { f, a, n } => Effect::Call { f, a, n, dst: None },
            I::Ret { a } | I::RetRef { a } => Effect::Ret { a: Some(a) },
            I::RetUnit {} => Effect::Ret { a: None },
            I::Cap { d, c, .. } => Effect::Cap { c, dst: Some(d) },
            I::CapUnit { c, .. } => Effect::Cap { c, dst: None },
            I::Assert { .. } => Effect::None,
        }
    }

    /// The registers a step of this effect changes, in the order a step
    /// event lists them. A call's result register is not among them: it
    /// changes when the callee returns.
    pub fn writes(&self) -> ([u16; 2], usize) {
        match *self {
            Effect::Scalar { d }
            | Effect::Loop { d, .. }
            | Effect::Full { d }
            | Effect::Append { d, .. }
            | Effect::Str { d, .. }
            | Effect::Copy { d, .. }
            | Effect::Elem { d, .. }
            | Effect::Cap { dst: Some(d), .. } => ([d, 0], 1),
            Effect::Push { a, .. } | Effect::Set { a, .. } => ([a, 0], 1),
            Effect::Pop { d, a } => ([d, a], 2),
            Effect::None
            | Effect::Jump { .. }
            | Effect::Branch { .. }
            | Effect::Call { .. }
            | Effect::Ret { .. }
            | Effect::Cap { dst: None, .. } => ([0, 0], 0),
        }
    }

    /// Appends this effect's code-map encoding.
    fn encode(&self, out: &mut Vec<u8>) {
        let opt = |r: Option<u16>| r.map_or(0, |r| u64::from(r) + 1);
        let (tag, ops): (u8, &[u64]) = match *self {
            Effect::None => (code::NONE, &[]),
            Effect::Scalar { d } => (code::SCALAR, &[d.into()]),
            Effect::Full { d } => (code::FULL, &[d.into()]),
            Effect::Append { d, b } => (code::APPEND, &[d.into(), b.into()]),
            Effect::Str { d, k } => (code::STR, &[d.into(), k.into()]),
            Effect::Copy { d, a } => (code::COPY, &[d.into(), a.into()]),
            Effect::Elem { d, a, i } => (code::ELEM, &[d.into(), a.into(), i.into()]),
            Effect::Push { a, v } => (code::PUSH, &[a.into(), v.into()]),
            Effect::Set { a, i, v } => (code::SET, &[a.into(), i.into(), v.into()]),
            Effect::Pop { d, a } => (code::POP, &[d.into(), a.into()]),
            Effect::Jump { t } => (code::JUMP, &[t.into()]),
            Effect::Branch { t } => (code::BRANCH, &[t.into()]),
            Effect::Loop { d, end, t } => (code::LOOP, &[d.into(), end.into(), t.into()]),
            Effect::Call { f, a, n, dst } => {
                out.push(code::CALL);
                for v in [f.into(), a.into(), n.into(), opt(dst)] {
                    put_varint(out, v);
                }
                return;
            }
            Effect::Ret { a } => {
                out.push(code::RET);
                put_varint(out, opt(a));
                return;
            }
            Effect::Cap { c, dst } => {
                out.push(code::CAP);
                put_varint(out, c.into());
                put_varint(out, opt(dst));
                return;
            }
        };
        out.push(tag);
        for &v in ops {
            put_varint(out, v);
        }
    }
}

/// Per-function facts the recorder and the reader need, derived from a
/// verified module.
pub(crate) struct FuncInfo {
    /// Index of this function's first instruction in the flat tables.
    pub base: usize,
    /// Parameter count.
    pub params: u16,
    /// Initial register values (parameters are overwritten by arguments).
    pub init: Vec<Value>,
}

/// The effect of every instruction of a module, in one flat table indexed
/// by [`FuncInfo::base`] + pc.
pub(crate) struct ExecMap {
    pub funcs: Vec<FuncInfo>,
    pub effects: Vec<Effect>,
}

impl ExecMap {
    /// The map of `module` (which must be verified).
    pub fn new(module: &Module) -> Self {
        let mut effects = Vec::new();
        let funcs = module
            .funcs
            .iter()
            .map(|f| {
                let base = effects.len();
                effects.extend(f.code.iter().map(Effect::of));
                FuncInfo {
                    base,
                    params: f.params,
                    init: f.regs.iter().map(super::wire::initial).collect(),
                }
            })
            .collect();
        ExecMap { funcs, effects }
    }

    /// The flat index of (`func`, `pc`), if it exists.
    #[inline]
    pub fn index(&self, func: u16, pc: u16) -> Option<usize> {
        let f = self.funcs.get(usize::from(func))?;
        let i = f.base + usize::from(pc);
        let next = self
            .funcs
            .get(usize::from(func) + 1)
            .map_or(self.effects.len(), |n| n.base);
        (i < next).then_some(i)
    }
}

/// The code map of `module`: the header field that lets a viewer follow
/// the event stream without decoding bytecode (see `docs/TRACE_FORMAT.md`).
pub(crate) fn code_map(module: &Module, map: &ExecMap) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, module.consts.len() as u64);
    for c in &module.consts {
        match c {
            Const::Int(v) => {
                out.push(1);
                put_varint(&mut out, zigzag(*v));
            }
            Const::Str(s) => {
                out.push(2);
                put_bytes(&mut out, s.as_bytes());
            }
        }
    }
    put_varint(&mut out, module.imports.len() as u64);
    for imp in &module.imports {
        put_bytes(&mut out, imp.name.as_bytes());
        put_varint(&mut out, imp.version.major.into());
        put_varint(&mut out, imp.version.minor.into());
        put_varint(&mut out, imp.sig.params.len() as u64);
        for t in &imp.sig.params {
            put_type(&mut out, t);
        }
        put_ret(&mut out, imp.sig.ret.as_ref());
    }
    put_varint(&mut out, module.funcs.len() as u64);
    for (f, info) in module.funcs.iter().zip(&map.funcs) {
        put_bytes(&mut out, f.name.as_bytes());
        put_varint(&mut out, f.params.into());
        put_varint(&mut out, f.regs.len() as u64);
        for t in &f.regs {
            put_type(&mut out, t);
        }
        put_ret(&mut out, f.ret.as_ref());
        put_varint(&mut out, f.code.len() as u64);
        for (pc, effect) in map.effects[info.base..info.base + f.code.len()]
            .iter()
            .enumerate()
        {
            put_varint(&mut out, u64::from(f.line(pc)));
            effect.encode(&mut out);
        }
    }
    put_varint(&mut out, module.entry.into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Opcode;

    /// The effect table agrees with the ISA's written-register sets: a step
    /// event lists exactly the registers the instruction writes, except the
    /// result of a call, which the callee's return delivers.
    #[test]
    fn effects_write_what_the_isa_says() {
        for &op in Opcode::ALL {
            let n = op.operands().len() as u16;
            let ops: Vec<u16> = (10..10 + n).collect();
            let instr = op.with_operands(&ops).expect("operand count matches");
            let (regs, len) = Effect::of(&instr).writes();
            let mut expected: Vec<u16> = instr.written_registers().collect();
            if matches!(op, Opcode::Call) {
                expected.clear();
            }
            assert_eq!(&regs[..len], &expected[..], "{op:?}");
        }
    }
}
