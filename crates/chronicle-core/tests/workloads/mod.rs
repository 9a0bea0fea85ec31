//! The four benchmark workloads of `crates/chronicle-bench/workloads/`
//! (fib, loop, sieve, strings) and one hostile program, built with `Instr`
//! directly so that the core's tests and examples need no assembler. Shared
//! by `tests/trace.rs`, `tests/limits.rs` and `examples/trace_cost.rs`.
#![allow(dead_code)]

use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Function, Module};
use chronicle_core::types::Type;

/// A function whose instruction `i` is on source line `i + 1`.
pub fn func(
    name: &str,
    params: u16,
    regs: Vec<Type>,
    ret: Option<Type>,
    code: Vec<Instr>,
) -> Function {
    let lines = (1..=code.len() as u32).collect();
    Function {
        name: name.into(),
        params,
        regs,
        ret,
        code,
        lines,
    }
}

/// An `i16` immediate as its operand bits.
pub fn imm(v: i16) -> u16 {
    v as u16
}

/// `fib.chasm`: recursive Fibonacci of `n`.
pub fn fib(n: i64) -> Module {
    use Instr::*;
    let main = func(
        "main",
        0,
        vec![Type::Int; 2],
        Some(Type::Int),
        vec![
            LoadConst { d: 0, k: 0 },
            Call {
                d: 1,
                f: 1,
                a: 0,
                n: 1,
            },
            Ret { a: 1 },
        ],
    );
    let fib = func(
        "fib",
        1,
        vec![Type::Int; 5],
        Some(Type::Int),
        vec![
            LoadInt { d: 1, imm: 2 },
            JumpGe { a: 0, b: 1, t: 3 },
            Ret { a: 0 },
            AddImm {
                d: 2,
                a: 0,
                imm: imm(-1),
            },
            Call {
                d: 3,
                f: 1,
                a: 2,
                n: 1,
            },
            AddImm {
                d: 2,
                a: 0,
                imm: imm(-2),
            },
            Call {
                d: 4,
                f: 1,
                a: 2,
                n: 1,
            },
            Add { d: 3, a: 3, b: 4 },
            Ret { a: 3 },
        ],
    );
    Module {
        consts: vec![Const::Int(n)],
        funcs: vec![main, fib],
        ..Module::default()
    }
}

/// `loop.chasm`: the sum of (i * i) % 7 for i < n.
pub fn sum_loop(n: i64) -> Module {
    use Instr::*;
    let main = func(
        "main",
        0,
        vec![Type::Int; 5],
        Some(Type::Int),
        vec![
            LoadInt { d: 0, imm: 0 },
            LoadConst { d: 1, k: 0 },
            LoadInt { d: 2, imm: 0 },
            LoadInt { d: 4, imm: 7 },
            JumpGe { a: 0, b: 1, t: 10 },
            Mul { d: 3, a: 0, b: 0 },
            Rem { d: 3, a: 3, b: 4 },
            Add { d: 2, a: 2, b: 3 },
            AddImm { d: 0, a: 0, imm: 1 },
            JumpLt { a: 0, b: 1, t: 5 },
            Ret { a: 2 },
        ],
    );
    Module {
        consts: vec![Const::Int(n)],
        funcs: vec![main],
        ..Module::default()
    }
}

/// `sieve.chasm`: the number of primes below n.
pub fn sieve(n: i64) -> Module {
    use Instr::*;
    let (i, b, ab) = (Type::Int, Type::Bool, Type::array_of(Type::Bool));
    let main = func(
        "main",
        0,
        vec![
            i.clone(),
            ab,
            i.clone(),
            i.clone(),
            i.clone(),
            b.clone(),
            i,
            b,
        ],
        Some(Type::Int),
        vec![
            LoadConst { d: 0, k: 0 },
            LoadBool { d: 7, imm: 0 },
            LoadInt { d: 2, imm: 0 },
            JumpGe { a: 2, b: 0, t: 7 },
            PushBool { a: 1, v: 7 },
            AddImm { d: 2, a: 2, imm: 1 },
            JumpLt { a: 2, b: 0, t: 4 },
            LoadInt { d: 2, imm: 2 },
            LoadBool { d: 7, imm: 1 },
            Mul { d: 6, a: 2, b: 2 },
            JumpGe { a: 6, b: 0, t: 19 },
            GetBool { d: 5, a: 1, i: 2 },
            JumpIf { c: 5, t: 17 },
            Move { d: 3, a: 6 },
            SetBool { a: 1, i: 3, v: 7 },
            Add { d: 3, a: 3, b: 2 },
            JumpLt { a: 3, b: 0, t: 14 },
            AddImm { d: 2, a: 2, imm: 1 },
            Jump { t: 9 },
            LoadInt { d: 4, imm: 0 },
            LoadInt { d: 2, imm: 2 },
            JumpGe { a: 2, b: 0, t: 27 },
            GetBool { d: 5, a: 1, i: 2 },
            JumpIf { c: 5, t: 25 },
            AddImm { d: 4, a: 4, imm: 1 },
            AddImm { d: 2, a: 2, imm: 1 },
            JumpLt { a: 2, b: 0, t: 22 },
            Ret { a: 4 },
        ],
    );
    Module {
        consts: vec![Const::Int(n)],
        funcs: vec![main],
        ..Module::default()
    }
}

/// `strings.chasm`: append str(i) for i < n to one string; its length.
pub fn strings(n: i64) -> Module {
    use Instr::*;
    let main = func(
        "main",
        0,
        vec![Type::Str, Type::Int, Type::Int, Type::Str, Type::Int],
        Some(Type::Int),
        vec![
            LoadInt { d: 1, imm: 0 },
            LoadConst { d: 2, k: 0 },
            JumpGe { a: 1, b: 2, t: 7 },
            IntToStr { d: 3, a: 1 },
            Concat { d: 0, a: 0, b: 3 },
            AddImm { d: 1, a: 1, imm: 1 },
            JumpLt { a: 1, b: 2, t: 3 },
            StrLen { d: 4, a: 0 },
            Ret { a: 4 },
        ],
    );
    Module {
        consts: vec![Const::Int(n)],
        funcs: vec![main],
        ..Module::default()
    }
}

/// `for i in 0..n { sum = sum + i; }` with `fornext`: the sum of i below n.
pub fn for_sum(n: i64) -> Module {
    use Instr::*;
    let main = func(
        "main",
        0,
        vec![Type::Int; 3],
        Some(Type::Int),
        vec![
            LoadInt { d: 0, imm: 0 },
            LoadConst { d: 1, k: 0 },
            LoadInt { d: 2, imm: 0 },
            JumpGe { a: 0, b: 1, t: 6 },
            Add { d: 2, a: 2, b: 0 },
            ForNext { i: 0, end: 1, t: 4 },
            Ret { a: 2 },
        ],
    );
    Module {
        consts: vec![Const::Int(n)],
        funcs: vec![main],
        ..Module::default()
    }
}

/// The total heap, which no per-value limit bounds: each round keeps a new
/// copy of a 100-int array alive in an `[[int]]` (a push shares it, the
/// next write to the original copies it).
pub fn copies_kept_alive(rounds: i16) -> Module {
    let regs = vec![
        Type::Int,
        Type::Int,
        Type::array_of(Type::Int),
        Type::array_of(Type::array_of(Type::Int)),
        Type::Int,
        Type::Int,
    ];
    let code = vec![
        Instr::LoadInt { d: 0, imm: 0 },
        Instr::LoadInt { d: 1, imm: 100 },
        Instr::PushInt { a: 2, v: 0 },
        Instr::AddImm { d: 0, a: 0, imm: 1 },
        Instr::JumpLt { a: 0, b: 1, t: 2 },
        Instr::LoadInt { d: 0, imm: 0 },
        Instr::LoadInt {
            d: 1,
            imm: rounds as u16,
        },
        Instr::LoadInt { d: 4, imm: 0 },
        Instr::PushRef { a: 3, v: 2 },
        Instr::SetInt { a: 2, i: 4, v: 0 },
        Instr::AddImm { d: 0, a: 0, imm: 1 },
        Instr::JumpLt { a: 0, b: 1, t: 8 },
        Instr::ArrayLen { d: 5, a: 3 },
        Instr::Ret { a: 5 },
    ];
    Module {
        funcs: vec![func("main", 0, regs, Some(Type::Int), code)],
        ..Module::default()
    }
}
