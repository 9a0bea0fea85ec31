//! One test per sandbox limit: a program that reaches the limit exactly runs,
//! and the same program with the limit lowered by one stops with
//! `limit exceeded: <name>` at the right place.

use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Function, Module};
use chronicle_core::types::Type;
use chronicle_core::vm::{NoHost, RuntimeError, TrapKind, Vm};
use chronicle_core::{verify, Limit, Limits, Value};

mod workloads;
use workloads::{copies_kept_alive, func};

fn module(funcs: Vec<Function>, consts: Vec<Const>) -> Module {
    Module {
        consts,
        imports: vec![],
        funcs,
        entry: 0,
    }
}

/// Runs `m`, and again with an observer (whose runs take their fuel in
/// slices, see `HALT_CHECK_EVERY`): both must end alike.
fn run(m: &Module, limits: Limits) -> (Result<Value, RuntimeError>, u64) {
    let verified = verify(m.clone()).expect("test module verifies");
    let mut vm = Vm::new(&verified, limits, NoHost);
    let result = vm.run();
    let counts = (
        vm.instructions_executed(),
        vm.fuel_used(),
        vm.bytes_allocated(),
    );
    let never = HaltAfter::after(u64::MAX);
    let mut observed = Vm::with_observer(&verified, limits, NoHost, never);
    assert_eq!(observed.run(), result, "an observed run ends alike");
    let observed_counts = (
        observed.instructions_executed(),
        observed.fuel_used(),
        observed.bytes_allocated(),
    );
    assert_eq!(observed_counts, counts);
    (result, counts.0)
}

/// Runs `m` with `limit` set to `at` (must succeed) and to `at - 1` (must
/// fail on that limit); returns the failure.
fn exactly(m: &Module, limit: Limit, at: u64) -> RuntimeError {
    let mut limits = Limits::DEFAULT;
    let set = |l: &mut Limits, v| match limit {
        Limit::Instructions => l.instructions = v,
        Limit::CallDepth => l.call_depth = v,
        Limit::Registers => l.registers = v,
        Limit::ArrayLen => l.array_len = v,
        Limit::StringBytes => l.string_bytes = v,
        Limit::AllocBytes => l.alloc_bytes = v,
    };
    set(&mut limits, at);
    run(m, limits)
        .0
        .unwrap_or_else(|e| panic!("at the limit ({at}) the run must succeed: {e}"));
    set(&mut limits, at - 1);
    let err = run(m, limits).0.expect_err("one past the limit must fail");
    assert_eq!(
        err.kind,
        TrapKind::LimitExceeded {
            limit,
            value: at - 1
        }
    );
    assert!(
        err.to_string()
            .starts_with(&format!("limit exceeded: {}", limit.name())),
        "{err}"
    );
    err
}

#[test]
fn instructions() {
    // 9 loads and a return: exactly 10 instructions.
    let mut code = vec![Instr::LoadInt { d: 0, imm: 1 }; 9];
    code.push(Instr::Ret { a: 0 });
    let m = module(
        vec![func("main", 0, vec![Type::Int], Some(Type::Int), code)],
        vec![],
    );
    assert_eq!(run(&m, Limits::DEFAULT).1, 10);
    let err = exactly(&m, Limit::Instructions, 10);
    assert_eq!(
        (err.pc, err.line),
        (9, 10),
        "stops before the 11th would-be instruction"
    );
}

#[test]
fn instruction_count_is_stable_fuel() {
    // A loop: the count is a pure function of the program, the same on every run.
    let code = vec![
        Instr::LoadInt { d: 0, imm: 0 },
        Instr::LoadInt { d: 1, imm: 1000 },
        Instr::AddImm { d: 0, a: 0, imm: 1 },
        Instr::JumpLt { a: 0, b: 1, t: 2 },
        Instr::Ret { a: 0 },
    ];
    let m = module(
        vec![func(
            "main",
            0,
            vec![Type::Int, Type::Int],
            Some(Type::Int),
            code,
        )],
        vec![],
    );
    let (result, count) = run(&m, Limits::DEFAULT);
    assert_eq!(result, Ok(Value::Int(1000)));
    assert_eq!(count, 2 + 2 * 1000 + 1);
}

#[test]
fn call_depth() {
    // main calls down(5): down(n) = n == 0 ? 0 : down(n - 1); 7 frames at the deepest.
    let main = func(
        "main",
        0,
        vec![Type::Int, Type::Int],
        Some(Type::Int),
        vec![
            Instr::LoadInt { d: 0, imm: 5 },
            Instr::Call {
                d: 1,
                f: 1,
                a: 0,
                n: 1,
            },
            Instr::Ret { a: 1 },
        ],
    );
    let down = func(
        "down",
        1,
        vec![Type::Int, Type::Int, Type::Int],
        Some(Type::Int),
        vec![
            Instr::LoadInt { d: 1, imm: 0 },
            Instr::JumpGt { a: 0, b: 1, t: 3 },
            Instr::Ret { a: 0 },
            Instr::AddImm {
                d: 1,
                a: 0,
                imm: -1i16 as u16,
            },
            Instr::Call {
                d: 2,
                f: 1,
                a: 1,
                n: 1,
            },
            Instr::Ret { a: 2 },
        ],
    );
    let m = module(vec![main, down], vec![]);
    let err = exactly(&m, Limit::CallDepth, 7);
    assert_eq!(
        (err.func_name.as_str(), err.pc),
        ("down", 4),
        "the failing call is named"
    );
}

#[test]
fn registers() {
    let code = vec![Instr::LoadInt { d: 11, imm: 3 }, Instr::Ret { a: 11 }];
    let m = module(
        vec![func("main", 0, vec![Type::Int; 12], Some(Type::Int), code)],
        vec![],
    );
    exactly(&m, Limit::Registers, 12);
}

#[test]
fn registers_of_a_callee() {
    let main = func(
        "main",
        0,
        vec![Type::Int],
        Some(Type::Int),
        vec![
            Instr::Call {
                d: 0,
                f: 1,
                a: 0,
                n: 0,
            },
            Instr::Ret { a: 0 },
        ],
    );
    let big = func(
        "big",
        0,
        vec![Type::Int; 30],
        Some(Type::Int),
        vec![Instr::Ret { a: 29 }],
    );
    let err = exactly(&module(vec![main, big], vec![]), Limit::Registers, 30);
    assert_eq!((err.func_name.as_str(), err.pc, err.line), ("main", 0, 1));
}

#[test]
fn array_len() {
    // push 50 ints.
    let code = vec![
        Instr::LoadInt { d: 0, imm: 0 },
        Instr::LoadInt { d: 1, imm: 50 },
        Instr::PushInt { a: 2, v: 0 },
        Instr::AddImm { d: 0, a: 0, imm: 1 },
        Instr::JumpLt { a: 0, b: 1, t: 2 },
        Instr::ArrayLen { d: 0, a: 2 },
        Instr::Ret { a: 0 },
    ];
    let regs = vec![Type::Int, Type::Int, Type::array_of(Type::Int)];
    let m = module(vec![func("main", 0, regs, Some(Type::Int), code)], vec![]);
    let err = exactly(&m, Limit::ArrayLen, 50);
    assert_eq!(err.line, 3);
}

#[test]
fn array_len_of_a_literal_and_a_split() {
    let code = vec![
        Instr::LoadStr { d: 0, k: 0 },
        Instr::LoadStr { d: 1, k: 1 },
        Instr::Split { d: 2, s: 0, sep: 1 },
        Instr::ArrayLen { d: 3, a: 2 },
        Instr::Ret { a: 3 },
    ];
    let regs = vec![Type::Str, Type::Str, Type::array_of(Type::Str), Type::Int];
    let m = module(
        vec![func("main", 0, regs, Some(Type::Int), code)],
        vec![Const::Str("a,b,c,d".into()), Const::Str(",".into())],
    );
    exactly(&m, Limit::ArrayLen, 4);
}

#[test]
fn string_bytes() {
    // s = "ab"; then s = s + s three times: 16 bytes.
    let code = vec![
        Instr::LoadStr { d: 0, k: 0 },
        Instr::Concat { d: 0, a: 0, b: 0 },
        Instr::Concat { d: 0, a: 0, b: 0 },
        Instr::Concat { d: 0, a: 0, b: 0 },
        Instr::StrLen { d: 1, a: 0 },
        Instr::Ret { a: 1 },
    ];
    let m = module(
        vec![func(
            "main",
            0,
            vec![Type::Str, Type::Int],
            Some(Type::Int),
            code,
        )],
        vec![Const::Str("ab".into())],
    );
    assert_eq!(run(&m, Limits::DEFAULT).0, Ok(Value::Int(16)));
    let err = exactly(&m, Limit::StringBytes, 16);
    assert_eq!(err.pc, 3);
}

#[test]
fn alloc_bytes_charges_each_kind_of_allocation() {
    let regs = vec![
        Type::Int,
        Type::Int,
        Type::Int,
        Type::array_of(Type::Int),
        Type::array_of(Type::Int),
        Type::Str,
        Type::Str,
        Type::Str,
        Type::array_of(Type::Str),
    ];
    let code = vec![
        Instr::LoadInt { d: 0, imm: 1 },
        Instr::LoadInt { d: 1, imm: 12345 },
        Instr::LoadInt { d: 2, imm: 3 },
        // A new [int] of 3: its header and 3 ints (32 + 24).
        Instr::ArrayInt { d: 3, a: 0, n: 3 },
        // Growth by one int (8).
        Instr::PushInt { a: 3, v: 0 },
        // Sharing costs nothing ...
        Instr::MoveRef { d: 4, a: 3 },
        // ... until a write copies the 4 ints (32).
        Instr::SetInt { a: 4, i: 0, v: 2 },
        // A new string of 5 bytes (32 + 5).
        Instr::IntToStr { d: 5, a: 1 },
        // Constants are shared: free.
        Instr::LoadStr { d: 6, k: 0 },
        Instr::LoadStr { d: 7, k: 1 },
        // A [str] of 3 one-byte parts: 32 + 3 * (16 + 32 + 1).
        Instr::Split { d: 8, s: 6, sep: 7 },
        // An in-place append of one byte (1).
        Instr::Concat { d: 5, a: 5, b: 7 },
        Instr::Ret { a: 0 },
    ];
    let m = module(
        vec![func("main", 0, regs, Some(Type::Int), code)],
        vec![Const::Str("a,b,c".into()), Const::Str(",".into())],
    );
    let total = 56 + 8 + 32 + 37 + 179 + 1;
    let verified = verify(m.clone()).unwrap();
    let mut vm = Vm::new(&verified, Limits::DEFAULT, NoHost);
    assert_eq!(vm.run(), Ok(Value::Int(1)));
    assert_eq!(vm.bytes_allocated(), total);
    let err = exactly(&m, Limit::AllocBytes, total);
    assert_eq!(err.pc, 11, "the last allocation is the one past the limit");
}

#[test]
fn alloc_bytes_bounds_copies_kept_alive() {
    let verified = verify(copies_kept_alive(1000)).unwrap();
    let mut vm = Vm::new(&verified, Limits::DEFAULT, NoHost);
    assert_eq!(vm.run(), Ok(Value::Int(1000)));
    // 100 pushed ints, then per round a reference (16) and a copy (800).
    assert_eq!(vm.bytes_allocated(), 800 + 1000 * 816);

    let limits = Limits {
        alloc_bytes: 100_000,
        ..Limits::DEFAULT
    };
    let mut vm = Vm::new(&verified, limits, NoHost);
    let err = vm.run().expect_err("the copies pass the limit");
    assert_eq!(
        err.kind,
        TrapKind::LimitExceeded {
            limit: Limit::AllocBytes,
            value: 100_000
        }
    );
    assert_eq!(err.pc, 9, "the copy of round 122 is refused");
    assert_eq!(vm.bytes_allocated(), 800 + 121 * 816 + 16);
    assert!(err.to_string().starts_with("limit exceeded: alloc_bytes"));
}

#[test]
fn unbounded_lifts_every_limit() {
    let m = module(
        vec![func(
            "main",
            0,
            vec![Type::Int; 300],
            Some(Type::Int),
            vec![Instr::LoadInt { d: 299, imm: 1 }, Instr::Ret { a: 299 }],
        )],
        vec![],
    );
    assert!(run(&m, Limits::DEFAULT).0.is_err());
    assert_eq!(run(&m, Limits::UNBOUNDED).0, Ok(Value::Int(1)));
}

#[test]
fn alloc_bytes_charges_a_shared_result_in_full() {
    // An [[int]] holding one 1000-int array 1000 times costs little to build
    // (a reference a push) but is printed and recorded in full: returning it
    // costs 32 + 1000 * 16 + 1000 * (32 + 8000) bytes.
    let regs = vec![
        Type::Int,
        Type::Int,
        Type::array_of(Type::Int),
        Type::array_of(Type::array_of(Type::Int)),
    ];
    let code = vec![
        Instr::LoadInt { d: 0, imm: 0 },
        Instr::LoadInt { d: 1, imm: 1000 },
        Instr::PushInt { a: 2, v: 0 },
        Instr::ForNext { i: 0, end: 1, t: 2 },
        Instr::LoadInt { d: 0, imm: 0 },
        Instr::PushRef { a: 3, v: 2 },
        Instr::ForNext { i: 0, end: 1, t: 5 },
        Instr::RetRef { a: 3 },
    ];
    let ret = Some(Type::array_of(Type::array_of(Type::Int)));
    let m = module(vec![func("main", 0, regs, ret, code)], vec![]);
    let built = 1000 * 8 + 1000 * 16;
    let result = 32 + 1000 * 16 + 1000 * (32 + 8000);
    let err = exactly(&m, Limit::AllocBytes, built + result);
    assert_eq!(err.pc, 7, "the return is refused, not the pushes");
}

#[test]
fn instructions_count_the_work_of_comparisons_searches_and_parses() {
    // Two equal 6,400-byte strings that share no storage: comparing them
    // goes through 6,400 bytes, 100 units of fuel beyond the instruction's.
    let big = "x".repeat(6400);
    let code = vec![
        Instr::LoadStr { d: 0, k: 0 },
        Instr::LoadStr { d: 1, k: 1 },
        Instr::EqRef { d: 2, a: 0, b: 1 },
        Instr::Ret { a: 2 },
    ];
    let regs = vec![Type::Str, Type::Str, Type::Bool];
    let m = module(
        vec![func("main", 0, regs, Some(Type::Bool), code)],
        vec![Const::Str(big.clone()), Const::Str(big)],
    );
    let verified = verify(m.clone()).unwrap();
    let mut vm = Vm::new(&verified, Limits::DEFAULT, NoHost);
    assert_eq!(vm.run(), Ok(Value::Bool(true)));
    assert_eq!((vm.instructions_executed(), vm.fuel_used()), (4, 104));
    exactly(&m, Limit::Instructions, 104);
    let short = Limits {
        instructions: 102,
        ..Limits::DEFAULT
    };
    let err = Vm::new(&verified, short, NoHost).run().unwrap_err();
    assert_eq!(err.pc, 2, "the comparison is refused before it runs");

    // contains: both strings (6,400 + 64 bytes, 101 units); parse: the string.
    let code = vec![
        Instr::LoadStr { d: 0, k: 0 },
        Instr::LoadStr { d: 1, k: 1 },
        Instr::Contains { d: 2, s: 0, sub: 1 },
        Instr::Ret { a: 2 },
    ];
    let regs = vec![Type::Str, Type::Str, Type::Bool];
    let m = module(
        vec![func("main", 0, regs, Some(Type::Bool), code)],
        vec![Const::Str("y".repeat(6400)), Const::Str("y".repeat(64))],
    );
    exactly(&m, Limit::Instructions, 4 + 101);
    let code = vec![
        Instr::LoadStr { d: 0, k: 0 },
        Instr::ParseInt { d: 1, s: 0 },
        Instr::Ret { a: 1 },
    ];
    let m = module(
        vec![func(
            "main",
            0,
            vec![Type::Str, Type::Int],
            Some(Type::Int),
            code,
        )],
        vec![Const::Str(format!("{}7", "0".repeat(127)))],
    );
    exactly(&m, Limit::Instructions, 3 + 2);
}

#[test]
fn a_comparison_of_much_shared_storage_stops_at_the_limit() {
    // xs and ys hold 1,000 references each, to two equal 6,400-byte strings
    // that share no storage: one `eqr` would go through 6.4 MB. It costs
    // 1,000 * 16 bytes (250 units) plus 100 units an element; under a limit
    // of 60,000 it stops part way, at the comparison.
    let big = "x".repeat(6400);
    let strs = Type::array_of(Type::Str);
    let regs = vec![
        Type::Str,
        Type::Str,
        strs.clone(),
        strs,
        Type::Int,
        Type::Int,
        Type::Bool,
    ];
    let code = vec![
        Instr::LoadStr { d: 0, k: 0 },
        Instr::LoadStr { d: 1, k: 1 },
        Instr::LoadInt { d: 4, imm: 0 },
        Instr::LoadInt { d: 5, imm: 1000 },
        Instr::PushRef { a: 2, v: 0 },
        Instr::PushRef { a: 3, v: 1 },
        Instr::ForNext { i: 4, end: 5, t: 4 },
        Instr::EqRef { d: 6, a: 2, b: 3 },
        Instr::Ret { a: 6 },
    ];
    let m = module(
        vec![func("main", 0, regs, Some(Type::Bool), code)],
        vec![Const::Str(big.clone()), Const::Str(big)],
    );
    let verified = verify(m.clone()).unwrap();
    let mut vm = Vm::new(&verified, Limits::DEFAULT, NoHost);
    assert_eq!(vm.run(), Ok(Value::Bool(true)));
    let steps = 4 + 3 * 1000 + 2;
    assert_eq!(vm.instructions_executed(), steps);
    assert_eq!(vm.fuel_used(), steps + 250 + 1000 * 100);
    // Observed, the run takes its fuel in slices of 65,536: the comparison
    // draws on the reserve, and ends alike.
    let never = HaltAfter::after(u64::MAX);
    let mut observed = Vm::with_observer(&verified, Limits::DEFAULT, NoHost, never);
    assert_eq!(observed.run(), Ok(Value::Bool(true)));
    assert_eq!(observed.fuel_used(), steps + 250 + 1000 * 100);
    let limits = Limits {
        instructions: 60_000,
        ..Limits::DEFAULT
    };
    let mut vm = Vm::new(&verified, limits, NoHost);
    let err = vm.run().expect_err("the comparison passes the limit");
    assert_eq!(
        (err.kind, err.pc),
        (
            TrapKind::LimitExceeded {
                limit: Limit::Instructions,
                value: 60_000
            },
            7
        )
    );
}

/// Halts the run once it has seen `after` steps; counts trap reports.
struct HaltAfter {
    after: u64,
    steps: u64,
    traps: u32,
}

impl HaltAfter {
    fn after(steps: u64) -> HaltAfter {
        HaltAfter {
            after: steps,
            steps: 0,
            traps: 0,
        }
    }
}

impl chronicle_core::vm::Observer for HaltAfter {
    fn step(&mut self, _: u16, _: u16, _: Instr, _: chronicle_core::vm::FrameView<'_>) {
        self.steps += 1;
    }
    fn trap(&mut self, _: &RuntimeError) {
        self.traps += 1;
    }
    fn halted(&self) -> bool {
        self.steps >= self.after
    }
}

#[test]
fn an_observer_can_halt_an_endless_run_within_one_check_interval() {
    use chronicle_core::vm::HALT_CHECK_EVERY;
    let code = vec![Instr::Jump { t: 0 }];
    let m = module(
        vec![func("main", 0, vec![Type::Int], Some(Type::Int), code)],
        vec![],
    );
    let verified = verify(m).unwrap();
    let observer = HaltAfter::after(1000);
    let mut vm = Vm::with_observer(&verified, Limits::DEFAULT, NoHost, observer);
    let err = vm.run().expect_err("halted");
    assert_eq!(err.kind, TrapKind::Halted);
    let executed = vm.instructions_executed();
    assert!(
        (1000..=1000 + HALT_CHECK_EVERY).contains(&executed),
        "{executed} instructions"
    );
    assert_eq!(vm.observer().traps, 0, "a halt is not reported as a trap");
    // An observer that never halts: the run goes on to its limit.
    let never = HaltAfter::after(u64::MAX);
    let mut vm = Vm::with_observer(&verified, Limits::DEFAULT, NoHost, never);
    let err = vm.run().expect_err("the limit");
    assert!(matches!(err.kind, TrapKind::LimitExceeded { .. }));
    assert_eq!(vm.instructions_executed(), Limits::DEFAULT.instructions);
    assert_eq!(vm.observer().traps, 1);
}
