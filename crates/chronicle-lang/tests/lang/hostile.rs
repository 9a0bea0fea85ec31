//! Hostile input: garbage bytes, pathological nesting and huge inputs give
//! diagnostics, never a panic, a stack overflow or unbounded output.
//!
//! These tests run on the default test thread (2 MiB of stack in debug
//! builds), which is the point: nesting is bounded, not lucky.

use chronicle_core::testing::proptest_cases;
use chronicle_lang::ast::*;
use chronicle_lang::diagnostics::MAX_DIAGNOSTICS;
use chronicle_lang::{check_bytes, check_source, render_diagnostics, RenderConfig, Span, Stage};
use proptest::prelude::*;

const DEEP: usize = 100_000;

/// Compiles `src`, which must fail, and renders the errors.
fn errors_of(src: &str) -> String {
    let errors = check_source("hostile.chr", src).expect_err("must not compile");
    assert!(!errors.is_empty() && errors.len() <= MAX_DIAGNOSTICS);
    render_diagnostics("hostile.chr", src, &errors, RenderConfig::default())
}

fn assert_too_deep(src: &str) {
    let text = errors_of(src);
    assert!(text.contains("nesting too deep"), "{text}");
}

#[test]
fn deep_parentheses() {
    let src = format!(
        "fn main() -> int {{ return {}1{}; }}",
        "(".repeat(DEEP),
        ")".repeat(DEEP)
    );
    assert_too_deep(&src);
    // Unclosed, too.
    assert_too_deep(&format!("fn main() -> int {{ return {}", "(".repeat(DEEP)));
}

#[test]
fn deep_brackets_blocks_and_types() {
    assert_too_deep(&format!("fn main() {{ let x = {}; }}", "[".repeat(DEEP)));
    assert_too_deep(&format!("fn main() {}", "{".repeat(DEEP)));
    assert_too_deep(&format!(
        "fn main() {} {}",
        "{".repeat(DEEP),
        "}".repeat(DEEP)
    ));
    assert_too_deep(&format!(
        "fn f(x: {}int{}) {{}}",
        "[".repeat(DEEP),
        "]".repeat(DEEP)
    ));
}

#[test]
fn long_operator_chains_are_bounded_too() {
    // A left-deep chain is as tall as deep nesting, so it is bounded the same way.
    assert_too_deep(&format!(
        "fn main() -> int {{ return 1{}; }}",
        " + 1".repeat(DEEP)
    ));
    assert_too_deep(&format!(
        "fn main() -> int {{ return {}1; }}",
        "-".repeat(DEEP)
    ));
    assert_too_deep(&format!(
        "fn main() -> bool {{ return {}true; }}",
        "!".repeat(DEEP)
    ));
    assert_too_deep(&format!(
        "fn main() {{ let x = [1]; x{}; }}",
        "[0]".repeat(DEEP)
    ));
    let chain = "if true { } else ".repeat(DEEP);
    assert_too_deep(&format!("fn main() {{ {chain} {{ }} }}"));
}

#[test]
fn moderate_nesting_is_fine() {
    let src = format!(
        "fn main() -> int {{ return {}1{}; }}",
        "(".repeat(100),
        ")".repeat(100)
    );
    check_source("ok.chr", &src).expect("100 parentheses are fine");
    let sum = format!("fn main() -> int {{ return 0{}; }}", " + 1".repeat(100));
    check_source("ok.chr", &sum).expect("a 100-term sum is fine");
}

#[test]
fn many_statements_are_not_nesting() {
    let src = format!(
        "fn main() -> int {{ let x = 0; {} return x; }}",
        "x = x + 1; ".repeat(DEEP)
    );
    check_source("long.chr", &src).expect("long flat code is fine");
}

#[test]
fn megabytes_of_garbage_give_few_diagnostics() {
    let garbage = "¤ 1a $ ' # ~ ` \\ ".repeat(50_000);
    let errors = check_source("garbage.chr", &garbage).expect_err("garbage");
    assert!(errors.len() <= MAX_DIAGNOSTICS);
    let text = render_diagnostics("garbage.chr", &garbage, &errors, RenderConfig::default());
    assert!(
        text.len() < 64 * 1024,
        "{} bytes of diagnostics",
        text.len()
    );
}

#[test]
fn many_type_errors_are_capped() {
    let src = format!("fn main() {{ {} }}", "let x = 1 + true; ".repeat(10_000));
    let errors = check_source("many.chr", &src).expect_err("type errors");
    assert_eq!(errors.len(), MAX_DIAGNOSTICS);
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let bytes = b"fn main() -> int { return \xff\xfe 1; }";
    let errors = check_bytes("bin.chr", bytes).expect_err("not UTF-8");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].stage, Stage::Encoding);
    assert_eq!(errors[0].span, Span::new(26, 27));
    let text = render_diagnostics(
        "bin.chr",
        &String::from_utf8_lossy(bytes),
        &errors,
        RenderConfig::default(),
    );
    assert!(text.contains("bin.chr:1:27"), "{text}");
}

#[test]
fn integer_literal_bounds() {
    check_source(
        "min.chr",
        "fn main() -> int { return -9223372036854775808; }",
    )
    .expect("i64::MIN");
    check_source(
        "max.chr",
        "fn main() -> int { return 9223372036854775807; }",
    )
    .expect("i64::MAX");
    for lit in [
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999999",
    ] {
        let text = errors_of(&format!("fn main() -> int {{ return {lit}; }}"));
        assert!(text.contains("too large"), "{text}");
    }
}

/// Builds `depth` nested negations by hand, bypassing the parser's bound.
fn deep_ast(depth: u32) -> Program {
    let mut expr = Expr {
        id: ExprId(0),
        kind: ExprKind::Int(1),
        span: Span::new(0, 1),
    };
    for i in 1..=depth {
        expr = Expr {
            id: ExprId(i),
            kind: ExprKind::Unary {
                op: UnaryOp::Neg,
                operand: Box::new(expr),
            },
            span: Span::new(0, 1),
        };
    }
    let body = Block {
        stmts: vec![Stmt {
            kind: StmtKind::Return(Some(expr)),
            span: Span::new(0, 1),
        }],
        span: Span::new(0, 1),
    };
    let name = Ident {
        name: "main".into(),
        span: Span::new(0, 1),
    };
    let ret = TypeExpr {
        kind: TypeExprKind::Named(Ident {
            name: "int".into(),
            span: Span::new(0, 1),
        }),
        span: Span::new(0, 1),
    };
    Program {
        uses: vec![],
        functions: vec![FnDecl {
            name,
            params: vec![],
            ret: Some(ret),
            body,
            span: Span::new(0, 1),
        }],
        expr_count: depth + 1,
        binding_count: 0,
    }
}

#[test]
fn the_checker_bounds_its_own_recursion() {
    let program = deep_ast(1_500);
    let errors = chronicle_lang::check::check("deep.chr", "x", program).expect_err("too deep");
    assert!(
        errors.iter().any(|d| d.message == "nesting too deep"),
        "{errors:?}"
    );
    // A tree the parser could have produced checks fine.
    chronicle_lang::check::check("ok.chr", "x", deep_ast(200)).expect("200 levels are fine");
}

/// Fragments that make random input look like code, to reach deep parser states.
const FRAGMENTS: &[&str] = &[
    "fn",
    "main",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "let",
    "x",
    "=",
    ";",
    "if",
    "else",
    "while",
    "for",
    "in",
    "..",
    "return",
    "break",
    "continue",
    "use",
    "fs.read",
    "@1",
    ".2",
    "->",
    "int",
    "str",
    "bool",
    ":",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<",
    "<=",
    "==",
    "!=",
    "&&",
    "||",
    "!",
    "1",
    "-9223372036854775808",
    "99999999999999999999",
    "\"s\\n\"",
    "\"unterminated",
    "true",
    "len",
    "push",
    "pop",
    "xs",
    "[]",
    "é",
    "\u{0}",
    "\\",
    "// c\n",
    "\n",
    "\t",
    "¤",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(errors) = check_bytes("fuzz.chr", &bytes) {
            prop_assert!(!errors.is_empty());
            let src = String::from_utf8_lossy(&bytes);
            render_diagnostics("fuzz.chr", &src, &errors, RenderConfig::default());
        }
    }

    #[test]
    fn token_soup_never_panics(parts in proptest::collection::vec(0..FRAGMENTS.len(), 0..200)) {
        let src: Vec<&str> = parts.iter().map(|&i| FRAGMENTS[i]).collect();
        let src = src.join(" ");
        if let Err(errors) = check_source("soup.chr", &src) {
            let text = render_diagnostics("soup.chr", &src, &errors, RenderConfig { color: true });
            prop_assert!(text.contains("soup.chr:"));
        }
    }

    #[test]
    fn mutated_valid_programs_never_panic(seed in any::<u64>(), cut in any::<usize>(), junk in 0..FRAGMENTS.len()) {
        let mut src = crate::common::gen::program(seed);
        let mut at = cut % (src.len() + 1);
        while !src.is_char_boundary(at) { at -= 1; }
        src.insert_str(at, FRAGMENTS[junk]);
        if let Err(errors) = check_source("mutant.chr", &src) {
            render_diagnostics("mutant.chr", &src, &errors, RenderConfig::default());
        }
    }
}
