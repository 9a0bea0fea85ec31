//! Proptest strategies for modules (feature `testing`).
//!
//! Two generators, for two kinds of test:
//! - [`any_module`]: structurally arbitrary modules, most of which do not
//!   verify, for round trips through the binary format and the assembler.
//! - [`valid_module`]: modules that pass [`crate::verify()`], for tests that run
//!   code or need well-formed input.
//!
//! Both stay within the binary format's limits (small tables, array types at
//! most [`MAX_TYPE_DEPTH`] deep, one line-table entry per instruction), so
//! that `decode(encode(m)) == m` holds for everything they produce.

use crate::isa::{ElemClass, Opcode};
use crate::isa::{Instr, OperandKind, RegClass, MAX_OPERANDS};
use crate::module::{Const, Function, Import, Module};
use crate::types::{Signature, Type, Version, MAX_TYPE_DEPTH};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// Structurally arbitrary modules within the format's limits.
///
/// Everything a module can hold appears: integer and string constants
/// (strings with Unicode, quotes, backslashes, control and bidirectional
/// characters), imports with arbitrary names, versions and signatures, types
/// nested up to [`MAX_TYPE_DEPTH`], functions with any parameter count (also
/// beyond the frame), duplicate and awkward names (`f1`, `""`, `end`), every
/// opcode of [`Opcode::ALL`] with arbitrary operands (mostly small, sometimes
/// any `u16`), arbitrary source lines and an arbitrary entry index. Most of
/// these modules do not verify.
pub fn any_module() -> impl Strategy<Value = Module> {
    (
        vec(any_const(), 0..6),
        vec(any_import(), 0..4),
        vec(any_function(), 0..5),
        prop_oneof![4 => 0u16..6, 1 => any::<u16>()],
    )
        .prop_map(|(consts, imports, funcs, entry)| Module {
            consts,
            imports,
            funcs,
            entry,
        })
}

/// Modules that pass [`crate::verify()`], built from random choices.
///
/// Each module has one to four functions. Code is straight-line over
/// registers of the right types (registers are declared as operands need
/// them), with forward jumps only, calls only to functions of a higher index
/// with the callee's exact arity and parameter types, capability calls that
/// match the import's signature, and a final return of the function's result
/// type. Every opcode of [`Opcode::ALL`] can appear. Since jumps go forward
/// and calls go to higher indices, every run terminates within a few hundred
/// instructions (it may still stop with a runtime error such as an overflow,
/// or a capability error under a host that grants nothing).
pub fn valid_module() -> impl Strategy<Value = Module> {
    vec(any::<u32>(), 0..2000).prop_map(|choices| {
        build_valid(&mut Choices {
            data: &choices,
            pos: 0,
        })
    })
}

fn any_const() -> impl Strategy<Value = Const> {
    prop_oneof![
        any::<i64>().prop_map(Const::Int),
        prop_oneof![Just(0i64), Just(-1), Just(i64::MIN), Just(i64::MAX)].prop_map(Const::Int),
        any_string().prop_map(Const::Str),
    ]
}

/// Strings that stress quoting: plain names, dotted names, look-alikes of
/// syntax, and arbitrary Unicode.
fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,6}",
        "[a-z]{1,4}(\\.[a-z]{1,4}){0,2}",
        select(
            &[
                "", "f0", "f1", "r0", "k0", "c0", "L0", "int", "end", "func", "main", "1", "-1",
                "a.", ".a"
            ][..]
        )
        .prop_map(String::from),
        "[\"\\\\\n\r\t;#@ ,:\\[\\]{}a-z0-9\u{7f}\u{85}\u{200b}\u{202e}\u{2028}\u{feff}é😀-]{0,10}",
        vec(any::<char>(), 0..12).prop_map(String::from_iter),
    ]
}

/// Any type, arrays nested up to [`MAX_TYPE_DEPTH`] (mostly shallow).
fn any_type() -> impl Strategy<Value = Type> {
    let base = prop_oneof![Just(Type::Int), Just(Type::Bool), Just(Type::Str)];
    let depth = prop_oneof![8 => 0usize..3, 1 => 0..=MAX_TYPE_DEPTH];
    (base, depth).prop_map(|(base, depth)| nest(base, depth))
}

fn nest(base: Type, depth: usize) -> Type {
    (0..depth).fold(base, |t, _| Type::array_of(t))
}

fn any_import() -> impl Strategy<Value = Import> {
    (
        any_string(),
        any::<u16>(),
        any::<u16>(),
        vec(any_type(), 0..4),
        proptest::option::of(any_type()),
    )
        .prop_map(|(name, major, minor, params, ret)| Import {
            name,
            version: Version::new(major, minor),
            sig: Signature { params, ret },
        })
}

/// An operand value: mostly small (so that many are in range), sometimes any.
fn any_operand() -> impl Strategy<Value = u16> {
    prop_oneof![4 => 0u16..10, 1 => any::<u16>()]
}

fn any_instr() -> impl Strategy<Value = Instr> {
    (
        select(Opcode::ALL),
        [any_operand(), any_operand(), any_operand(), any_operand()],
    )
        .prop_map(|(op, vals)| {
            let n = op.operands().len().min(MAX_OPERANDS);
            op.with_operands(&vals[..n]).unwrap_or(Instr::RetUnit {})
        })
}

fn any_line() -> impl Strategy<Value = u32> {
    prop_oneof![2 => Just(0u32), 2 => 1u32..100, 1 => any::<u32>()]
}

fn any_function() -> impl Strategy<Value = Function> {
    (
        any_string(),
        prop_oneof![4 => 0u16..4, 1 => any::<u16>()],
        vec(any_type(), 0..8),
        proptest::option::of(any_type()),
        vec((any_instr(), any_line()), 0..12),
    )
        .prop_map(|(name, params, regs, ret, code)| {
            let (code, lines) = code.into_iter().unzip();
            Function {
                name,
                params,
                regs,
                ret,
                code,
                lines,
            }
        })
}

/// A source of choices: the next random number, or 0 once exhausted (so that
/// a shrunk, empty choice list builds the smallest module).
struct Choices<'a> {
    data: &'a [u32],
    pos: usize,
}

impl Choices<'_> {
    fn next(&mut self) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    /// A number in `0..n` (0 if `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.next() as usize % n
        }
    }

    /// True with probability `num / den`; false once exhausted.
    fn chance(&mut self, num: u32, den: u32) -> bool {
        self.next() % den >= den - num
    }

    /// A type with arrays at most `max_depth` deep (usually 0 or 1).
    fn ty(&mut self, max_depth: usize) -> Type {
        let base = [Type::Int, Type::Bool, Type::Str][self.below(3)].clone();
        let depth = if self.chance(1, 40) {
            max_depth
        } else {
            self.below(3).saturating_sub(1)
        };
        nest(base, depth.min(max_depth))
    }

    /// `str` or an array type.
    fn ref_ty(&mut self, max_depth: usize) -> Type {
        if self.chance(1, 2) {
            Type::Str
        } else {
            Type::array_of(self.ty(max_depth.saturating_sub(1)))
        }
    }
}

const FUNC_NAMES: &[&str] = &["main", "fib", "helper", "sum", "go"];
const IMPORT_NAMES: &[&str] = &["fs.read", "clock.now", "log", "kv.get"];

fn build_valid(ch: &mut Choices<'_>) -> Module {
    let nfuncs = 1 + ch.below(4);
    let entry = ch.below(nfuncs);
    let sigs: Vec<Signature> = (0..nfuncs)
        .map(|i| {
            let params = if i == entry {
                Vec::new()
            } else {
                (0..ch.below(4)).map(|_| ch.ty(MAX_TYPE_DEPTH)).collect()
            };
            let ret = if ch.chance(1, 4) {
                None
            } else {
                Some(ch.ty(MAX_TYPE_DEPTH))
            };
            Signature { params, ret }
        })
        .collect();
    let mut consts: Vec<Const> = (0..ch.below(4))
        .map(|_| {
            if ch.chance(1, 2) {
                Const::Int(i64::from(ch.next() as i32))
            } else {
                Const::Str(word(ch))
            }
        })
        .collect();
    let imports: Vec<Import> = (0..ch.below(3))
        .map(|_| Import {
            name: IMPORT_NAMES[ch.below(IMPORT_NAMES.len())].to_owned(),
            version: Version::new(ch.below(3) as u16, ch.below(3) as u16),
            sig: Signature {
                params: (0..ch.below(3)).map(|_| ch.ty(2)).collect(),
                ret: if ch.chance(1, 3) {
                    None
                } else {
                    Some(ch.ty(2))
                },
            },
        })
        .collect();
    let mut funcs = Vec::with_capacity(nfuncs);
    for me in 0..nfuncs {
        let sig = &sigs[me];
        let mut b = FuncBuilder {
            regs: sig.params.clone(),
            code: Vec::new(),
            lines: Vec::new(),
            consts: &mut consts,
            imports: &imports,
            sigs: &sigs,
            me,
            ret: sig.ret.clone(),
            body_len: ch.below(16),
        };
        b.build(ch);
        funcs.push(Function {
            name: format!("{}{me}", FUNC_NAMES[ch.below(FUNC_NAMES.len())]),
            params: sig.params.len() as u16,
            regs: b.regs,
            ret: sig.ret.clone(),
            code: b.code,
            lines: b.lines,
        });
    }
    Module {
        consts,
        imports,
        funcs,
        entry: entry as u16,
    }
}

fn word(ch: &mut Choices<'_>) -> String {
    const WORDS: &[&str] = &[
        "", "a", "fib = ", ", ", "héllo", "\"q\"\n", "1,2,3", "-42", "😀",
    ];
    WORDS[ch.below(WORDS.len())].to_owned()
}

/// Builds one function's code over a frame that grows as operands need registers.
struct FuncBuilder<'m> {
    regs: Vec<Type>,
    code: Vec<Instr>,
    lines: Vec<u32>,
    consts: &'m mut Vec<Const>,
    imports: &'m [Import],
    sigs: &'m [Signature],
    me: usize,
    ret: Option<Type>,
    /// Instructions before the final return (whose index this is).
    body_len: usize,
}

impl FuncBuilder<'_> {
    fn build(&mut self, ch: &mut Choices<'_>) {
        let mut line = 0;
        for pc in 0..self.body_len {
            let start = ch.below(Opcode::ALL.len());
            // Try opcodes from a random start until one fits (`ldi` always does).
            let instr = (0..Opcode::ALL.len())
                .find_map(|i| self.instr(ch, Opcode::ALL[(start + i) % Opcode::ALL.len()], pc))
                .unwrap_or(Instr::LoadInt {
                    d: self.reg(ch, &Type::Int),
                    imm: 0,
                });
            if ch.chance(1, 3) {
                line = ch.below(50) as u32;
            }
            self.code.push(instr);
            self.lines.push(line);
        }
        let ret = match self.ret.clone() {
            None => Instr::RetUnit {},
            Some(t) if t.is_ref() => Instr::RetRef {
                a: self.reg(ch, &t),
            },
            Some(t) => Instr::Ret {
                a: self.reg(ch, &t),
            },
        };
        self.code.push(ret);
        self.lines.push(line);
    }

    /// A register of type `t`: an existing one, or a new one.
    fn reg(&mut self, ch: &mut Choices<'_>, t: &Type) -> u16 {
        let existing: Vec<usize> = (0..self.regs.len())
            .filter(|&r| &self.regs[r] == t)
            .collect();
        if !existing.is_empty() && !ch.chance(1, 5) {
            return existing[ch.below(existing.len())] as u16;
        }
        self.regs.push(t.clone());
        (self.regs.len() - 1) as u16
    }

    /// A run of new consecutive registers of these types: its first register.
    fn run(&mut self, types: &[Type]) -> u16 {
        let a = self.regs.len() as u16;
        self.regs.extend_from_slice(types);
        a
    }

    /// A constant of type `t`, added if none exists.
    fn constant(&mut self, ch: &mut Choices<'_>, t: &Type) -> u16 {
        let existing: Vec<usize> = (0..self.consts.len())
            .filter(|&k| &self.consts[k].ty() == t)
            .collect();
        if !existing.is_empty() && !ch.chance(1, 4) {
            return existing[ch.below(existing.len())] as u16;
        }
        self.consts.push(if *t == Type::Int {
            Const::Int(i64::from(ch.next() as i32))
        } else {
            Const::Str(word(ch))
        });
        (self.consts.len() - 1) as u16
    }

    /// A well-typed instance of `op` at `pc`, or `None` if `op` cannot be
    /// used here (e.g. `call` with no callee of the right kind).
    fn instr(&mut self, ch: &mut Choices<'_>, op: Opcode, pc: usize) -> Option<Instr> {
        // The instruction's type parameters, fixed by its relational rules.
        let mut scalar = if ch.chance(1, 2) {
            Type::Int
        } else {
            Type::Bool
        };
        let mut reference = ch.ref_ty(MAX_TYPE_DEPTH - 1);
        let elem = match (op.element_class(), op) {
            (Some(ElemClass::Int), _) => Type::Int,
            (Some(ElemClass::Bool), _) => Type::Bool,
            (Some(ElemClass::Ref), _) => {
                reference = ch.ref_ty(MAX_TYPE_DEPTH - 1);
                reference.clone()
            }
            (None, Opcode::Split) => Type::Str,
            (None, _) => ch.ty(MAX_TYPE_DEPTH - 1),
        };
        // The callee and argument run, for calls and array literals.
        let mut result: Option<Type> = None;
        let mut target = 0u16;
        let mut run = (0u16, 0u16);
        match op {
            Opcode::Ret => match &self.ret {
                Some(t) if !t.is_ref() => scalar = t.clone(),
                _ => return None,
            },
            Opcode::RetRef => match &self.ret {
                Some(t) if t.is_ref() => reference = t.clone(),
                _ => return None,
            },
            Opcode::RetUnit if self.ret.is_some() => return None,
            Opcode::Call | Opcode::CallUnit => {
                let want_unit = op == Opcode::CallUnit;
                let callees: Vec<usize> = (self.me + 1..self.sigs.len())
                    .filter(|&f| self.sigs[f].ret.is_none() == want_unit)
                    .collect();
                if callees.is_empty() {
                    return None;
                }
                let f = callees[ch.below(callees.len())];
                let sig = &self.sigs[f];
                result = sig.ret.clone();
                run = (self.run(&sig.params), sig.params.len() as u16);
                target = f as u16;
            }
            Opcode::Cap | Opcode::CapUnit => {
                let want_unit = op == Opcode::CapUnit;
                let caps: Vec<usize> = (0..self.imports.len())
                    .filter(|&c| self.imports[c].sig.ret.is_none() == want_unit)
                    .collect();
                if caps.is_empty() {
                    return None;
                }
                let c = caps[ch.below(caps.len())];
                let sig = &self.imports[c].sig;
                result = sig.ret.clone();
                run = (self.run(&sig.params), sig.params.len() as u16);
                target = c as u16;
            }
            Opcode::ArrayInt | Opcode::ArrayBool | Opcode::ArrayRef => {
                let n = ch.below(4);
                run = (self.run(&vec![elem.clone(); n]), n as u16);
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
                        RegClass::Any => result.clone()?,
                    };
                    self.reg(ch, &t)
                }
                OperandKind::Regs => run.0,
                OperandKind::Count => run.1,
                OperandKind::Func | OperandKind::Import => target,
                OperandKind::Const => {
                    let t = if op == Opcode::LoadStr {
                        Type::Str
                    } else {
                        Type::Int
                    };
                    self.constant(ch, &t)
                }
                // Forward only: to a later instruction of the body or the final return.
                OperandKind::Target => (pc + 1 + ch.below(self.body_len - pc)) as u16,
                OperandKind::Imm if op == Opcode::LoadBool => ch.below(2) as u16,
                OperandKind::Imm => ch.next() as u16,
            };
        }
        op.with_operands(&vals[..op.operands().len()])
    }
}

/// The case count of a `proptest!` block whose default is `default`: that
/// many times `CHRONICLE_PROPTEST_SCALE` when it is set, so CI can run every
/// property test at full strength (docs/HARDENING.md, "Property tests").
/// Panics on a value that is not a whole number >= 1, so that a typo cannot
/// quietly run the defaults.
pub fn proptest_cases(default: u32) -> u32 {
    let Ok(scale) = std::env::var("CHRONICLE_PROPTEST_SCALE") else {
        return default;
    };
    match scale.parse::<u32>() {
        Ok(k) if k >= 1 => default.saturating_mul(k),
        _ => panic!("CHRONICLE_PROPTEST_SCALE={scale:?}: expected a whole number >= 1"),
    }
}
