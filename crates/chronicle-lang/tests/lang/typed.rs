//! What the checker hands to a code generator: types per expression, name
//! resolutions, local slots and line numbers.

use chronicle_lang::ast::{ExprKind, StmtKind, Version};
use chronicle_lang::{check_source, Builtin, CheckedProgram, LocalId, Resolution, Type};

const SRC: &str = "use clock.now@1.2() -> int;
fn twice(x: int) -> int {
    return x * 2;
}
fn main() -> [str] {
    let n = twice(clock.now());
    let out: [str] = [];
    for i in 0..n {
        let n = str(i);
        push(out, n);
    }
    return out;
}
";

fn checked() -> CheckedProgram {
    check_source("typed.chr", SRC).expect("compiles")
}

#[test]
fn signatures_and_capabilities() {
    let p = checked();
    assert_eq!(p.functions[0].name, "twice");
    assert_eq!(p.functions[0].params, [Type::Int]);
    assert_eq!(p.functions[1].ret, Type::array(Type::Str));
    assert_eq!(p.main.0, 1);
    assert_eq!(p.capabilities[0].name, "clock.now");
    assert_eq!(p.capabilities[0].version, Version { major: 1, minor: 2 });
    assert_eq!(p.capabilities[0].ret, Type::Int);
}

#[test]
fn locals_get_one_slot_per_declaration() {
    let p = checked();
    let (decl, info) = p.function(p.main);
    let names: Vec<(&str, &Type)> = info
        .locals
        .iter()
        .map(|l| (l.name.as_str(), &l.ty))
        .collect();
    // The shadowing `n` inside the loop is a slot of its own.
    assert_eq!(
        names,
        [
            ("n", &Type::Int),
            ("out", &Type::array(Type::Str)),
            ("i", &Type::Int),
            ("n", &Type::Str)
        ]
    );
    let StmtKind::Let { binding, init, .. } = &decl.body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(p.binding(*binding), LocalId(0));
    assert_eq!(p.expr_type(init.id), &Type::Int);
    // The call resolves to `twice`, its argument to the capability.
    let ExprKind::Call { args, .. } = &init.kind else {
        panic!()
    };
    assert_eq!(
        p.resolution(init.id),
        Some(Resolution::Function(chronicle_lang::FnId(0)))
    );
    assert_eq!(
        p.resolution(args[0].id),
        Some(Resolution::Capability(chronicle_lang::CapId(0)))
    );
}

#[test]
fn uses_resolve_to_the_innermost_declaration() {
    let p = checked();
    let (decl, _) = p.function(p.main);
    let StmtKind::ForRange { body, binding, .. } = &decl.body.stmts[2].kind else {
        panic!()
    };
    assert_eq!(p.binding(*binding), LocalId(2));
    let StmtKind::Expr(push) = &body.stmts[1].kind else {
        panic!()
    };
    assert_eq!(
        p.resolution(push.id),
        Some(Resolution::Builtin(Builtin::Push))
    );
    assert_eq!(p.expr_type(push.id), &Type::Unit);
    let ExprKind::Call { args, .. } = &push.kind else {
        panic!()
    };
    assert_eq!(
        p.resolution(args[0].id),
        Some(Resolution::Local(LocalId(1)))
    );
    assert_eq!(
        p.resolution(args[1].id),
        Some(Resolution::Local(LocalId(3)))
    );
}

#[test]
fn every_statement_and_expression_has_a_line() {
    let p = checked();
    let (decl, _) = p.function(p.main);
    let lines: Vec<u32> = decl.body.stmts.iter().map(|s| p.line_of(s.span)).collect();
    assert_eq!(lines, [6, 7, 8, 12]);
    let StmtKind::Return(Some(e)) = &decl.body.stmts[3].kind else {
        panic!()
    };
    let pos = p.line_col(e.span);
    assert_eq!((pos.line, pos.col), (12, 12));
}

#[test]
fn every_expression_is_typed() {
    // No expression of a checked program is left with the error type.
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/word_frequency.chr"),
    )
    .unwrap();
    let p = check_source("wf.chr", &src).unwrap();
    for id in 0..p.program.expr_count {
        assert!(
            !p.expr_type(chronicle_lang::ast::ExprId(id)).is_error(),
            "expr {id}"
        );
    }
}
