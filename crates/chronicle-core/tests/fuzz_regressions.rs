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
