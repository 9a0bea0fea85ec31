//! Properties of the interpreter over generated modules.

use chronicle_core::isa::Instr;
use chronicle_core::testing::proptest_cases;
use chronicle_core::testing::valid_module;
use chronicle_core::vm::{FrameView, NoHost, Observer, RuntimeError, TrapKind, Vm};
use chronicle_core::{verify, Limits};
use chronicle_core::{Limit, Value};
use proptest::prelude::*;

/// Small bounds, so that every generated run ends quickly.
const LIMITS: Limits = Limits {
    instructions: 5_000,
    call_depth: 32,
    registers: 512,
    array_len: 1_000,
    string_bytes: 4_096,
    alloc_bytes: 65_536,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(1024)))]

    /// A verified module never panics the VM: every run ends in a value or a
    /// structured error, within the instruction limit, and runs the same way twice.
    #[test]
    fn verified_modules_run_without_panicking_and_deterministically(m in valid_module()) {
        let verified = verify(m).expect("valid_module generates verifiable modules");
        let mut vm = Vm::new(&verified, LIMITS, NoHost);
        let first = vm.run();
        let count = vm.instructions_executed();
        prop_assert!(count <= LIMITS.instructions);
        let second = vm.run();
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(vm.instructions_executed(), count);

        // Observed, the run is the same, and every executed instruction is
        // stepped once, except one that fails after being charged.
        let mut observed = Vm::with_observer(&verified, LIMITS, NoHost, Counter::default());
        prop_assert_eq!(&observed.run(), &first);
        prop_assert_eq!(observed.instructions_executed(), count);
        let counter = observed.observer();
        // Running out of fuel stops before the next instruction is charged;
        // an entry frame over the register limit stops before any.
        let out_of_fuel = |e: &RuntimeError| matches!(e.kind, TrapKind::LimitExceeded { limit: Limit::Instructions, .. });
        let uncharged = matches!(&first, Err(e) if out_of_fuel(e) || count == 0);
        let expected_steps = if first.is_ok() || uncharged { count } else { count - 1 };
        prop_assert_eq!(counter.steps, expected_steps);
        prop_assert_eq!(counter.traps, u64::from(first.is_err()));
        // Every entered frame exits, except those a trap abandons.
        if first.is_ok() {
            prop_assert_eq!(counter.enters, counter.exits);
        }
    }
}

/// Counts observer events.
#[derive(Default)]
struct Counter {
    steps: u64,
    enters: u64,
    exits: u64,
    traps: u64,
}

impl Observer for Counter {
    fn enter(&mut self, _func: u16, _frame: FrameView<'_>) {
        self.enters += 1;
    }
    fn step(&mut self, _func: u16, _pc: u16, instr: Instr, frame: FrameView<'_>) {
        self.steps += 1;
        // Every register the instruction writes is readable afterwards.
        for r in instr.written_registers() {
            if !matches!(instr, Instr::Call { .. } | Instr::Cap { .. }) {
                assert!(
                    frame.get(r).is_some(),
                    "r{r} written by {instr:?} is readable"
                );
            }
        }
    }
    fn exit(&mut self, _func: u16, _value: &Value) {
        self.exits += 1;
    }
    fn trap(&mut self, _error: &RuntimeError) {
        self.traps += 1;
    }
}

/// The reproducer that found the empty array literal slicing past the frame.
#[test]
fn empty_array_literal_at_the_end_of_the_frame() {
    let m = chronicle_asm_free_module();
    let verified = verify(m).expect("verifies");
    let result = chronicle_core::vm::run(&verified, Limits::DEFAULT, NoHost);
    assert_eq!(result.map(|v| v.to_string()), Ok("[]".to_string()));
}

/// `func main() -> [str] { .regs r0: [str], r1: int, r2: int; arrr r0, r3, 0; retr r0 }`
fn chronicle_asm_free_module() -> chronicle_core::Module {
    use chronicle_core::isa::Instr;
    use chronicle_core::module::{Function, Module};
    use chronicle_core::types::Type;
    Module {
        funcs: vec![Function {
            name: "main".into(),
            params: 0,
            regs: vec![Type::array_of(Type::Str), Type::Int, Type::Int],
            ret: Some(Type::array_of(Type::Str)),
            code: vec![Instr::ArrayRef { d: 0, a: 3, n: 0 }, Instr::RetRef { a: 0 }],
            lines: vec![1, 1],
        }],
        ..Module::default()
    }
}
