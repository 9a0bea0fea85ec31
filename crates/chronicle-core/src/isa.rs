//! The instruction set: the ONE place where every opcode is defined.
//!
//! Each entry of the `instructions!` table below gives an opcode's byte, its
//! Rust name, its assembly mnemonic, its operands (each a 16-bit field with a
//! kind) and, in its doc comment, its effect and type rule. The macro expands
//! the table into the [`Instr`] enum, the [`Opcode`] enum, the binary
//! encoding, the operand metadata that the verifier, the assembler and the
//! disassembler read, and the read/write sets the trace recorder uses. There is
//! no second opcode list anywhere in the code base.
//!
//! # Encoding
//! An instruction is its opcode byte followed by each operand as a
//! little-endian `u16`, in table order. Jump targets are absolute instruction
//! indices within the function. Immediates are `i16` stored as `u16`.
//!
//! # Fuel
//! Every executed instruction costs one unit of the `instructions` limit,
//! whatever its opcode, including calls, returns and capability calls. The
//! instructions whose work grows with their operands without allocating
//! cost one more unit per 64 bytes they go through, taken before the work:
//! `eqr`/`ner` (the contents compared, 8 bytes an `int`, 16 a reference,
//! recursively; storage both share is equal for free), `contains` (both
//! strings) and `parse` (the string). A capability call (`cap`, `capu`)
//! costs one more unit per 64 bytes of its `str` and array arguments,
//! counted as `alloc_bytes` counts them, taken before the host is called,
//! and one per 64 bytes of its result, taken after, so a plugin cannot make
//! the host do unbounded work within its budget. Other variable work
//! allocates and is bounded by `alloc_bytes`. So no single instruction can
//! run for long: a comparison of two arrays that share one large string many
//! times stops at the limit. This rule is part of the replay contract (since
//! trace format version 2; version 1 recordings counted one unit an
//! instruction, which differs only for runs that compared, searched or
//! parsed 64 bytes or more and came within that much of their limit).
//! Replay charges capability calls for recordings of the version that
//! introduced that charge and later, and not for older ones (see
//! [`crate::vm::Vm::charge_host_work`]).

/// How an instruction uses a register operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The register is read.
    Read,
    /// The register is overwritten.
    Write,
    /// The register is read and mutated in place (arrays).
    Modify,
}

/// The register types a register operand accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegClass {
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// `int` or `bool` (the integer file).
    Scalar,
    /// `str`.
    Str,
    /// Any array type.
    Array,
    /// `str` or any array (the reference file).
    Ref,
    /// Any type; the verifier applies the instruction's own rule.
    Any,
}

/// What a 16-bit operand means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperandKind {
    /// A register of the current frame.
    Reg(Access, RegClass),
    /// The first register of a run of consecutive registers (call arguments,
    /// array literal elements) whose length another operand or the callee fixes.
    Regs,
    /// An index into the constant pool.
    Const,
    /// An index into the function table.
    Func,
    /// An index into the capability import table.
    Import,
    /// An instruction index within the current function.
    Target,
    /// A signed 16-bit immediate.
    Imm,
    /// A count.
    Count,
}

/// One operand of an opcode: its name in docs and assembly errors, and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperandSpec {
    /// Field name, as in the [`Instr`] variant.
    pub name: &'static str,
    /// What the operand means.
    pub kind: OperandKind,
}

/// The most operands any instruction has.
pub const MAX_OPERANDS: usize = 4;

/// The operand values of one instruction, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Operands {
    vals: [u16; MAX_OPERANDS],
    len: u8,
}

impl Operands {
    fn from_slice(s: &[u16]) -> Self {
        let mut vals = [0; MAX_OPERANDS];
        vals[..s.len()].copy_from_slice(s);
        Operands {
            vals,
            len: s.len() as u8,
        }
    }

    /// The operand values as a slice.
    pub fn as_slice(&self) -> &[u16] {
        &self.vals[..usize::from(self.len)]
    }
}

const fn r(c: RegClass) -> OperandKind {
    OperandKind::Reg(Access::Read, c)
}
const fn w(c: RegClass) -> OperandKind {
    OperandKind::Reg(Access::Write, c)
}
const fn m(c: RegClass) -> OperandKind {
    OperandKind::Reg(Access::Modify, c)
}
use OperandKind::{
    Const as K, Count as N, Func as F, Imm as I, Import as C, Regs as RS, Target as T,
};
use RegClass::{Any, Array as Arr, Bool, Int, Ref, Scalar, Str};

macro_rules! instructions {
    ($(
        $(#[doc = $doc:literal])*
        $code:literal $name:ident $mnemonic:literal { $($field:ident : $kind:expr),* $(,)? }
    )*) => {
        /// One bytecode instruction. Register operands are indices into the
        /// current function's frame; see each variant for its effect and type rule.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Instr {
            $( $(#[doc = $doc])* $name { $(#[allow(missing_docs)] $field: u16),* }, )*
        }

        /// The opcode of an instruction, without operands.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Opcode {
            $( #[allow(missing_docs)] $name = $code, )*
        }

        impl Opcode {
            /// Every opcode, in table order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name),*];

            /// The opcode with this encoding byte.
            pub fn from_byte(byte: u8) -> Option<Opcode> {
                match byte {
                    $( $code => Some(Opcode::$name), )*
                    _ => None,
                }
            }

            /// The opcode with this assembly mnemonic.
            pub fn from_mnemonic(s: &str) -> Option<Opcode> {
                match s {
                    $( $mnemonic => Some(Opcode::$name), )*
                    _ => None,
                }
            }

            /// The assembly mnemonic.
            pub fn mnemonic(self) -> &'static str {
                match self {
                    $( Opcode::$name => $mnemonic, )*
                }
            }

            /// The operands, in encoding order.
            pub fn operands(self) -> &'static [OperandSpec] {
                match self {
                    $( Opcode::$name => {
                        const SPECS: &[OperandSpec] = &[$(OperandSpec { name: stringify!($field), kind: $kind }),*];
                        SPECS
                    } )*
                }
            }

            /// Builds the instruction from operand values in table order;
            /// `None` if the count is wrong.
            pub fn with_operands(self, ops: &[u16]) -> Option<Instr> {
                match self {
                    $( Opcode::$name => {
                        let &[$($field),*] = ops else { return None };
                        Some(Instr::$name { $($field),* })
                    } )*
                }
            }
        }

        impl Instr {
            /// This instruction's opcode.
            pub fn opcode(&self) -> Opcode {
                match self {
                    $( Instr::$name { .. } => Opcode::$name, )*
                }
            }

            /// The operand values, in table order.
            pub fn operands(&self) -> Operands {
                match *self {
                    $( Instr::$name { $($field),* } => Operands::from_slice(&[$($field),*]), )*
                }
            }
        }
    };
}

instructions! {
    // ---- constants and moves ----
    /// `d = imm` (sign-extended 16-bit immediate).
    0x01 LoadInt "ldi" { d: w(Int), imm: I }
    /// `d = imm != 0`; `imm` must be 0 or 1.
    0x02 LoadBool "ldb" { d: w(Bool), imm: I }
    /// `d = const[k]`; the constant must be an `int`.
    0x03 LoadConst "ldk" { d: w(Int), k: K }
    /// `d = const[k]`; the constant must be a `str`. Fails with
    /// `limit exceeded: string_bytes` if the constant is longer than the limit.
    0x04 LoadStr "lds" { d: w(Str), k: K }
    /// `d = a`; `d` and `a` have the same scalar type.
    0x05 Move "mov" { d: w(Scalar), a: r(Scalar) }
    /// `d = a` (a value copy, shared until one side mutates); same type.
    0x06 MoveRef "movr" { d: w(Ref), a: r(Ref) }

    // ---- integer arithmetic (overflow and division by zero are runtime errors) ----
    /// `d = a + b`.
    0x10 Add "add" { d: w(Int), a: r(Int), b: r(Int) }
    /// `d = a - b`.
    0x11 Sub "sub" { d: w(Int), a: r(Int), b: r(Int) }
    /// `d = a * b`.
    0x12 Mul "mul" { d: w(Int), a: r(Int), b: r(Int) }
    /// `d = a / b`, truncating toward zero; `MIN / -1` overflows.
    0x13 Div "div" { d: w(Int), a: r(Int), b: r(Int) }
    /// `d = a % b`, with the dividend's sign; `MIN % -1` is 0 (representable, so no overflow).
    0x14 Rem "rem" { d: w(Int), a: r(Int), b: r(Int) }
    /// `d = -a`.
    0x15 Neg "neg" { d: w(Int), a: r(Int) }
    /// `d = a + imm`.
    0x16 AddImm "addi" { d: w(Int), a: r(Int), imm: I }

    // ---- comparisons ----
    /// `d = a < b`.
    0x20 Lt "lt" { d: w(Bool), a: r(Int), b: r(Int) }
    /// `d = a <= b`.
    0x21 Le "le" { d: w(Bool), a: r(Int), b: r(Int) }
    /// `d = a > b`.
    0x22 Gt "gt" { d: w(Bool), a: r(Int), b: r(Int) }
    /// `d = a >= b`.
    0x23 Ge "ge" { d: w(Bool), a: r(Int), b: r(Int) }
    /// `d = a == b`; `a` and `b` have the same scalar type.
    0x24 Eq "eq" { d: w(Bool), a: r(Scalar), b: r(Scalar) }
    /// `d = a != b`; `a` and `b` have the same scalar type.
    0x25 Ne "ne" { d: w(Bool), a: r(Scalar), b: r(Scalar) }
    /// `d = a == b` (strings bytewise, arrays element-wise); same type.
    0x26 EqRef "eqr" { d: w(Bool), a: r(Ref), b: r(Ref) }
    /// `d = a != b` (strings bytewise, arrays element-wise); same type.
    0x27 NeRef "ner" { d: w(Bool), a: r(Ref), b: r(Ref) }
    /// `d = !a`.
    0x28 Not "not" { d: w(Bool), a: r(Bool) }

    // ---- control flow ----
    /// Continue at instruction `t`.
    0x30 Jump "jmp" { t: T }
    /// Continue at `t` if `c` is true.
    0x31 JumpIf "jt" { c: r(Bool), t: T }
    /// Continue at `t` if `c` is false.
    0x32 JumpIfNot "jf" { c: r(Bool), t: T }
    /// Continue at `t` if `a < b`.
    0x33 JumpLt "jlt" { a: r(Int), b: r(Int), t: T }
    /// Continue at `t` if `a <= b`.
    0x34 JumpLe "jle" { a: r(Int), b: r(Int), t: T }
    /// Continue at `t` if `a > b`.
    0x35 JumpGt "jgt" { a: r(Int), b: r(Int), t: T }
    /// Continue at `t` if `a >= b`.
    0x36 JumpGe "jge" { a: r(Int), b: r(Int), t: T }
    /// The step of a counted loop: `i = i + 1`, then continue at `t` if
    /// `i < end`. Overflow of `i` is a runtime error.
    0x37 ForNext "fornext" { i: m(Int), end: r(Int), t: T }

    // ---- calls ----
    /// Calls function `f` with the `n` arguments `a .. a + n`; `n` is the
    /// callee's arity and the arguments' types are its parameter types; its result is written to `d`, whose type is
    /// the callee's result type. Fails with `limit exceeded: call_depth` or
    /// `limit exceeded: registers`.
    0x40 Call "call" { d: w(Any), f: F, a: RS, n: N }
    /// Calls function `f`, which returns unit, with the `n` arguments `a .. a + n`.
    0x41 CallUnit "callu" { f: F, a: RS, n: N }
    /// Returns scalar `a`; its type is the function's result type.
    0x42 Ret "ret" { a: r(Scalar) }
    /// Returns `a` (a `str` or array); its type is the function's result type.
    0x43 RetRef "retr" { a: r(Ref) }
    /// Returns unit; the function's result type is unit.
    0x44 RetUnit "retu" { }
    /// Calls capability import `c` with the `n` arguments `a .. a + n`, typed
    /// by the import's signature; its result is written to `d`. A host failure, a
    /// denied optional capability or a result of the wrong type is a
    /// `capability error`.
    0x45 Cap "cap" { d: w(Any), c: C, a: RS, n: N }
    /// Calls capability import `c`, which returns unit, with the `n` arguments `a .. a + n`.
    0x46 CapUnit "capu" { c: C, a: RS, n: N }

    // ---- strings ----
    /// `d = a + b`. When `d == a` and the string is not shared, appends in place.
    0x50 Concat "concat" { d: w(Str), a: r(Str), b: r(Str) }
    /// `d = str(a)` for an int.
    0x51 IntToStr "itos" { d: w(Str), a: r(Int) }
    /// `d = str(a)` for a bool (`"true"` / `"false"`).
    0x52 BoolToStr "btos" { d: w(Str), a: r(Bool) }
    /// `d = len(a)`, the string's length in bytes.
    0x53 StrLen "slen" { d: w(Int), a: r(Str) }
    /// `d = s[a..b]` (byte offsets): `index out of range` if an offset is
    /// negative or past `len(s)`; otherwise `invalid argument` if `a > b` or an
    /// offset is not on a character boundary.
    0x54 Substr "substr" { d: w(Str), s: r(Str), a: r(Int), b: r(Int) }
    /// `d = contains(s, sub)`.
    0x55 Contains "contains" { d: w(Bool), s: r(Str), sub: r(Str) }
    /// `d = split(s, sep)`, `d: [str]`; an empty `sep` is `invalid argument`.
    0x56 Split "split" { d: w(Arr), s: r(Str), sep: r(Str) }
    /// `d = parse_int(s)`: optional sign and decimal digits, else `invalid number`.
    0x57 ParseInt "parse" { d: w(Int), s: r(Str) }

    // ---- arrays (element type fixed by the opcode's suffix: i int, b bool, r reference) ----
    /// `d = [a, a+1, .., a+n-1]`, `d: [int]`.
    0x60 ArrayInt "arri" { d: w(Arr), a: RS, n: N }
    /// `d = [a, a+1, .., a+n-1]`, `d: [bool]`.
    0x61 ArrayBool "arrb" { d: w(Arr), a: RS, n: N }
    /// `d = [a, a+1, .., a+n-1]`, `d: [T]` for a reference type `T`.
    0x62 ArrayRef "arrr" { d: w(Arr), a: RS, n: N }
    /// `d = a[i]`, `a: [int]`.
    0x63 GetInt "geti" { d: w(Int), a: r(Arr), i: r(Int) }
    /// `d = a[i]`, `a: [bool]`.
    0x64 GetBool "getb" { d: w(Bool), a: r(Arr), i: r(Int) }
    /// `d = a[i]`, `a: [T]` and `d: T` for a reference type `T`.
    0x65 GetRef "getr" { d: w(Ref), a: r(Arr), i: r(Int) }
    /// `a[i] = v`, `a: [int]`.
    0x66 SetInt "seti" { a: m(Arr), i: r(Int), v: r(Int) }
    /// `a[i] = v`, `a: [bool]`.
    0x67 SetBool "setb" { a: m(Arr), i: r(Int), v: r(Bool) }
    /// `a[i] = v`, `a: [T]` and `v: T` for a reference type `T`.
    0x68 SetRef "setr" { a: m(Arr), i: r(Int), v: r(Ref) }
    /// `push(a, v)`, `a: [int]`; `limit exceeded: array_len` past the limit.
    0x69 PushInt "pushi" { a: m(Arr), v: r(Int) }
    /// `push(a, v)`, `a: [bool]`.
    0x6A PushBool "pushb" { a: m(Arr), v: r(Bool) }
    /// `push(a, v)`, `a: [T]` and `v: T` for a reference type `T`.
    0x6B PushRef "pushr" { a: m(Arr), v: r(Ref) }
    /// `d = pop(a)`, `a: [int]`; `empty array` if `a` is empty.
    0x6C PopInt "popi" { d: w(Int), a: m(Arr) }
    /// `d = pop(a)`, `a: [bool]`.
    0x6D PopBool "popb" { d: w(Bool), a: m(Arr) }
    /// `d = pop(a)`, `a: [T]` and `d: T` for a reference type `T`.
    0x6E PopRef "popr" { d: w(Ref), a: m(Arr) }
    /// `d = len(a)`, the array's element count.
    0x6F ArrayLen "alen" { d: w(Int), a: r(Arr) }

    // ---- checks ----
    /// Fails with `assertion failed: <m>` unless `c` is true.
    0x70 Assert "assert" { c: r(Bool), m: r(Str) }
}

/// The element class an array instruction works on: its `i`, `b` or `r`
/// suffix in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemClass {
    /// `[int]`.
    Int,
    /// `[bool]`.
    Bool,
    /// Arrays of `str` or of arrays.
    Ref,
}

impl Opcode {
    /// For the array instructions with an element-class suffix (`arr*`,
    /// `get*`, `set*`, `push*`, `pop*`), that class; `None` for the others.
    pub fn element_class(self) -> Option<ElemClass> {
        use Opcode::*;
        match self {
            ArrayInt | GetInt | SetInt | PushInt | PopInt => Some(ElemClass::Int),
            ArrayBool | GetBool | SetBool | PushBool | PopBool => Some(ElemClass::Bool),
            ArrayRef | GetRef | SetRef | PushRef | PopRef => Some(ElemClass::Ref),
            _ => None,
        }
    }
}

impl Instr {
    /// True if execution never continues at the next instruction
    /// (returns and unconditional jumps).
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            Instr::Jump { .. } | Instr::Ret { .. } | Instr::RetRef { .. } | Instr::RetUnit {}
        )
    }

    /// The registers this instruction writes or mutates in place, in table
    /// order (for `call` and `cap`, the result register, written when the
    /// call returns).
    pub fn written_registers(&self) -> impl Iterator<Item = u16> {
        let ops = self.operands();
        self.opcode()
            .operands()
            .iter()
            .zip(0..)
            .filter(|(spec, _)| {
                matches!(
                    spec.kind,
                    OperandKind::Reg(Access::Write | Access::Modify, _)
                )
            })
            .map(move |(_, i)| ops.as_slice()[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_stay_compact() {
        assert!(std::mem::size_of::<Instr>() <= 10);
    }

    #[test]
    fn every_opcode_round_trips_through_its_byte_and_mnemonic() {
        for &op in Opcode::ALL {
            assert_eq!(Opcode::from_byte(op as u8), Some(op));
            assert_eq!(Opcode::from_mnemonic(op.mnemonic()), Some(op));
            assert!(op.operands().len() <= MAX_OPERANDS);
            let ops: Vec<u16> = (1..=op.operands().len() as u16).collect();
            let instr = op.with_operands(&ops).expect("operand count matches");
            assert_eq!(instr.opcode(), op);
            assert_eq!(instr.operands().as_slice(), &ops[..]);
        }
    }
}
