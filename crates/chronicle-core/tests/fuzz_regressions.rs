//! Regression tests for bugs found by fuzzing (`fuzz/`, see
//! `docs/HARDENING.md`), each named after its bug and reduced to the
//! smallest input that showed it.

use chronicle_core::isa::Instr;
use chronicle_core::module::{Function, Import, Module};
use chronicle_core::types::{Signature, Type, Version};
use chronicle_core::value::Array;
use chronicle_core::vm::{self, CapabilityError, Host};
use chronicle_core::{verify, Limits, Value};
use std::rc::Rc;

/// A host whose only capability returns `[1, 2]` (or `[true, false]`) as a
/// plain list of values, a representation `Value::has_type` accepts for
/// `[int]` and `[bool]`.
struct ListHost(Value);

impl Host for ListHost {
    fn call(&mut self, _import: u16, _args: &[Value]) -> Result<Value, CapabilityError> {
        Ok(self.0.clone())
    }
}

/// `fn main() -> int { return len(nums()); }` with `nums@1() -> [elem]`.
fn len_of_capability_result(elem: Type, host_value: Value) -> Result<Value, vm::RuntimeError> {
    let array = Type::array_of(elem);
    let main = Function {
        name: "main".into(),
        params: 0,
        regs: vec![array.clone(), Type::Int],
        ret: Some(Type::Int),
        code: vec![
            Instr::Cap {
                d: 0,
                c: 0,
                a: 0,
                n: 0,
            },
            Instr::ArrayLen { d: 1, a: 0 },
            Instr::Ret { a: 1 },
        ],
        lines: vec![1, 1, 1],
    };
    let nums = Import {
        name: "nums".into(),
        version: Version::new(1, 0),
        sig: Signature {
            params: vec![],
            ret: Some(array),
        },
    };
    let module = Module {
        imports: vec![nums],
        funcs: vec![main],
        ..Module::default()
    };
    let module = verify(module).expect("verifies");
    vm::run(&module, Limits::DEFAULT, ListHost(host_value))
}

/// Found by `vm_structured`: a host result of type `[int]` or `[bool]` given
/// as `Array::Ref` of scalar values passed the type check, then tripped a
/// debug assertion in `Value::normalized`; release builds silently replaced
/// it with an EMPTY array, so the plugin saw `[]` instead of the host's data.
#[test]
fn host_array_of_scalars_as_value_list_keeps_its_elements() {
    let ints = Value::Array(Rc::new(Array::Ref(vec![Value::Int(1), Value::Int(2)])));
    let int_type = Type::array_of(Type::Int);
    assert!(ints.has_type(Some(&int_type)));
    assert_eq!(
        ints.clone().normalized(Some(&int_type)),
        Some(Value::Array(Rc::new(Array::Int(vec![1, 2]))))
    );
    assert_eq!(len_of_capability_result(Type::Int, ints), Ok(Value::Int(2)));

    let bools = Value::Array(Rc::new(Array::Ref(vec![
        Value::Bool(true),
        Value::Bool(false),
    ])));
    let bool_type = Type::array_of(Type::Bool);
    assert_eq!(
        bools.clone().normalized(Some(&bool_type)),
        Some(Value::Array(Rc::new(Array::Bool(vec![true, false]))))
    );
    assert_eq!(
        len_of_capability_result(Type::Bool, bools),
        Ok(Value::Int(2))
    );

    // Nested: `[[int]]` whose inner arrays are value lists.
    let nested = Value::Array(Rc::new(Array::Ref(vec![Value::Array(Rc::new(
        Array::Ref(vec![Value::Int(7)]),
    ))])));
    let nested_type = Type::array_of(int_type);
    let fixed = nested.normalized(Some(&nested_type)).expect("has the type");
    assert_eq!(
        fixed,
        Value::Array(Rc::new(Array::Ref(vec![Value::Array(Rc::new(
            Array::Int(vec![7])
        ))])))
    );
}

/// A host that may keep what crosses the boundary: the arguments it gets
/// and the result it returns (`[7]`).
struct Keeper {
    keeps: bool,
    kept: Vec<Value>,
}

impl Host for Keeper {
    fn call(&mut self, _import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        let result = Value::array(vec![Value::Int(7)]);
        if self.keeps {
            self.kept.extend(args.iter().cloned());
            self.kept.push(result.clone());
        }
        Ok(result)
    }
}

/// Found by `audit` (after the `alloc_bytes` limit was added): a host that
/// kept its argument (the fuzz host records every call) shared the array
/// with the plugin's register, so the plugin's next write copied it and
/// was charged for it; the replay host keeps nothing, so the replayed run
/// allocated less, did not hit `alloc_bytes` where the recording had, and
/// the fresh recording failed to replay. Arguments now leave unshared and
/// results are kept unshared: what a host keeps changes nothing.
#[test]
fn what_a_host_keeps_does_not_change_what_the_run_allocates() {
    let ints = Type::array_of(Type::Int);
    let main = Function {
        name: "main".into(),
        params: 0,
        regs: vec![ints.clone(), Type::Int, ints.clone(), Type::Int],
        ret: Some(Type::Int),
        code: vec![
            Instr::LoadInt { d: 1, imm: 5 },
            Instr::ArrayInt { d: 0, a: 1, n: 1 },
            Instr::Cap {
                d: 2,
                c: 0,
                a: 0,
                n: 1,
            },
            // Write to the argument, then to the result.
            Instr::SetInt { a: 0, i: 3, v: 1 },
            Instr::SetInt { a: 2, i: 3, v: 1 },
            Instr::ArrayLen { d: 1, a: 2 },
            Instr::Ret { a: 1 },
        ],
        lines: vec![1; 7],
    };
    let keep = Import {
        name: "keep".into(),
        version: Version::new(1, 0),
        sig: Signature {
            params: vec![ints.clone()],
            ret: Some(ints),
        },
    };
    let module = Module {
        imports: vec![keep],
        funcs: vec![main],
        ..Module::default()
    };
    let module = verify(module).expect("verifies");
    let run = |keeps| {
        let host = Keeper {
            keeps,
            kept: Vec::new(),
        };
        let mut vm = vm::Vm::new(&module, Limits::DEFAULT, host);
        let result = vm.run();
        (result, vm.bytes_allocated(), vm.host().kept.len())
    };
    let (forgetful, keeping) = (run(false), run(true));
    assert_eq!(
        keeping.2, 2,
        "the keeping host kept its argument and result"
    );
    assert_eq!(forgetful.0, Ok(Value::Int(1)));
    assert_eq!((forgetful.0, forgetful.1), (keeping.0, keeping.1));
}
