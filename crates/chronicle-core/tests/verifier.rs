//! One test per verifier rule: each module breaks exactly that rule.

use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::types::{Signature, Type, Version};
use chronicle_core::verify::{verify, VerifyErrorKind};

/// `main() -> int` returning 1, plus `id(int) -> int`, one str constant and
/// one import: a valid module that every test breaks in one place.
fn base() -> Module {
    Module {
        consts: vec![Const::Int(7), Const::Str("hi".into())],
        imports: vec![Import {
            name: "clock.now".into(),
            version: Version::new(1, 0),
            sig: Signature {
                params: vec![],
                ret: Some(Type::Int),
            },
        }],
        funcs: vec![
            Function {
                name: "main".into(),
                params: 0,
                regs: vec![Type::Int, Type::Int, Type::Bool, Type::Str],
                ret: Some(Type::Int),
                code: vec![
                    Instr::LoadInt { d: 0, imm: 1 },
                    Instr::Call {
                        d: 1,
                        f: 1,
                        a: 0,
                        n: 1,
                    },
                    Instr::Ret { a: 1 },
                ],
                lines: vec![1, 2, 3],
            },
            Function {
                name: "id".into(),
                params: 1,
                regs: vec![Type::Int],
                ret: Some(Type::Int),
                code: vec![Instr::Ret { a: 0 }],
                lines: vec![5],
            },
        ],
        entry: 0,
    }
}

/// Replaces main's code (lines follow) and returns the verifier's complaint.
fn main_with(code: Vec<Instr>) -> VerifyErrorKind {
    let mut m = base();
    m.funcs[0].lines = vec![1; code.len()];
    m.funcs[0].code = code;
    verify(m).expect_err("the module must be rejected").kind
}

#[test]
fn the_base_module_is_valid() {
    verify(base()).expect("base module verifies");
}

#[test]
fn register_index_beyond_frame() {
    let kind = main_with(vec![Instr::LoadInt { d: 4, imm: 0 }, Instr::Ret { a: 0 }]);
    assert_eq!(
        kind,
        VerifyErrorKind::RegisterOutOfRange {
            operand: "d",
            reg: 4,
            size: 4
        }
    );
}

#[test]
fn jump_into_nowhere() {
    let kind = main_with(vec![Instr::Jump { t: 2 }, Instr::Ret { a: 0 }]);
    assert_eq!(kind, VerifyErrorKind::JumpOutOfRange { target: 2, len: 2 });
}

#[test]
fn constant_index_out_of_range() {
    let kind = main_with(vec![Instr::LoadConst { d: 0, k: 2 }, Instr::Ret { a: 0 }]);
    assert_eq!(kind, VerifyErrorKind::ConstOutOfRange(2));
}

#[test]
fn function_index_out_of_range() {
    let kind = main_with(vec![
        Instr::Call {
            d: 0,
            f: 2,
            a: 0,
            n: 1,
        },
        Instr::Ret { a: 0 },
    ]);
    assert_eq!(kind, VerifyErrorKind::FuncOutOfRange(2));
}

#[test]
fn import_index_out_of_range() {
    let kind = main_with(vec![
        Instr::Cap {
            d: 0,
            c: 1,
            a: 0,
            n: 0,
        },
        Instr::Ret { a: 0 },
    ]);
    assert_eq!(kind, VerifyErrorKind::ImportOutOfRange(1));
}

#[test]
fn call_arity_mismatch() {
    let kind = main_with(vec![
        Instr::Call {
            d: 1,
            f: 1,
            a: 0,
            n: 2,
        },
        Instr::Ret { a: 1 },
    ]);
    assert_eq!(
        kind,
        VerifyErrorKind::ArityMismatch {
            callee: "id".into(),
            expected: 1,
            found: 2
        }
    );
}

#[test]
fn capability_arity_mismatch() {
    let kind = main_with(vec![
        Instr::Cap {
            d: 0,
            c: 0,
            a: 0,
            n: 1,
        },
        Instr::Ret { a: 0 },
    ]);
    assert_eq!(
        kind,
        VerifyErrorKind::ArityMismatch {
            callee: "clock.now".into(),
            expected: 0,
            found: 1
        }
    );
}

#[test]
fn falling_off_the_end() {
    let kind = main_with(vec![Instr::LoadInt { d: 0, imm: 1 }]);
    assert_eq!(kind, VerifyErrorKind::FallsOffEnd);
}

#[test]
fn conditional_jump_as_last_instruction_falls_off() {
    let kind = main_with(vec![
        Instr::LoadBool { d: 2, imm: 1 },
        Instr::JumpIf { c: 2, t: 0 },
    ]);
    assert_eq!(kind, VerifyErrorKind::FallsOffEnd);
}

#[test]
fn empty_function_falls_off() {
    assert_eq!(main_with(vec![]), VerifyErrorKind::FallsOffEnd);
}

#[test]
fn ill_typed_register_use() {
    // `add` needs ints; r2 is a bool.
    let kind = main_with(vec![Instr::Add { d: 0, a: 0, b: 2 }, Instr::Ret { a: 0 }]);
    assert!(
        matches!(kind, VerifyErrorKind::TypeMismatch { operand: "b", .. }),
        "{kind:?}"
    );
}

#[test]
fn move_between_different_types() {
    let kind = main_with(vec![Instr::Move { d: 0, a: 2 }, Instr::Ret { a: 0 }]);
    assert!(
        matches!(kind, VerifyErrorKind::TypeMismatch { operand: "a", .. }),
        "{kind:?}"
    );
}

#[test]
fn constant_of_the_wrong_type() {
    let kind = main_with(vec![Instr::LoadConst { d: 0, k: 1 }, Instr::Ret { a: 0 }]);
    assert!(
        matches!(kind, VerifyErrorKind::TypeMismatch { operand: "k", .. }),
        "{kind:?}"
    );
}

#[test]
fn return_of_the_wrong_type() {
    let kind = main_with(vec![Instr::RetRef { a: 3 }]);
    assert!(
        matches!(kind, VerifyErrorKind::TypeMismatch { operand: "a", .. }),
        "{kind:?}"
    );
}

#[test]
fn unit_return_from_a_valued_function() {
    let kind = main_with(vec![Instr::RetUnit {}]);
    assert!(
        matches!(
            kind,
            VerifyErrorKind::TypeMismatch {
                operand: "retu",
                ..
            }
        ),
        "{kind:?}"
    );
}

#[test]
fn argument_of_the_wrong_type() {
    let kind = main_with(vec![
        Instr::Call {
            d: 1,
            f: 1,
            a: 2,
            n: 1,
        },
        Instr::Ret { a: 1 },
    ]);
    assert!(
        matches!(kind, VerifyErrorKind::TypeMismatch { operand: "a", .. }),
        "{kind:?}"
    );
}

#[test]
fn argument_run_beyond_frame() {
    let kind = main_with(vec![
        Instr::Call {
            d: 1,
            f: 1,
            a: 4,
            n: 1,
        },
        Instr::Ret { a: 1 },
    ]);
    assert!(
        matches!(kind, VerifyErrorKind::RegisterOutOfRange { .. }),
        "{kind:?}"
    );
}

#[test]
fn array_element_of_the_wrong_type() {
    let mut m = base();
    m.funcs[0].regs.push(Type::array_of(Type::Str));
    m.funcs[0].code = vec![Instr::PushInt { a: 4, v: 0 }, Instr::Ret { a: 0 }];
    m.funcs[0].lines = vec![1, 1];
    let kind = verify(m).unwrap_err().kind;
    assert!(
        matches!(kind, VerifyErrorKind::TypeMismatch { operand: "v", .. }),
        "{kind:?}"
    );
}

#[test]
fn bool_immediate_out_of_range() {
    let kind = main_with(vec![Instr::LoadBool { d: 2, imm: 2 }, Instr::Ret { a: 0 }]);
    assert_eq!(kind, VerifyErrorKind::BadImmediate(2));
}

#[test]
fn line_table_of_the_wrong_length() {
    let mut m = base();
    m.funcs[0].lines.pop();
    assert_eq!(
        verify(m).unwrap_err().kind,
        VerifyErrorKind::LineTable { lines: 2, code: 3 }
    );
}

#[test]
fn entry_out_of_range() {
    let mut m = base();
    m.entry = 9;
    assert_eq!(verify(m).unwrap_err().kind, VerifyErrorKind::BadEntry(9));
}

#[test]
fn entry_with_parameters() {
    let mut m = base();
    m.entry = 1;
    assert_eq!(verify(m).unwrap_err().kind, VerifyErrorKind::EntryHasParams);
}

#[test]
fn more_parameters_than_registers() {
    let mut m = base();
    m.funcs[1].params = 2;
    assert_eq!(
        verify(m).unwrap_err().kind,
        VerifyErrorKind::ParamsExceedRegisters { params: 2, regs: 1 }
    );
}

#[test]
fn type_nested_too_deep() {
    let mut m = base();
    let mut t = Type::Int;
    for _ in 0..=chronicle_core::types::MAX_TYPE_DEPTH {
        t = Type::array_of(t);
    }
    m.funcs[0].regs.push(t);
    assert_eq!(verify(m).unwrap_err().kind, VerifyErrorKind::TypeTooDeep);
}

#[test]
fn errors_name_the_function_and_pc() {
    let mut m = base();
    m.funcs[0].code[1] = Instr::Call {
        d: 1,
        f: 1,
        a: 0,
        n: 0,
    };
    let err = verify(m).unwrap_err();
    assert_eq!(err.func, Some((0, "main".into())));
    assert_eq!(err.pc, Some(1));
    assert_eq!(
        err.to_string(),
        "in function `main` (#0) at pc 1: call passes 0 arguments but `id` takes 1"
    );
}
