//! The front end of the `.chr` plugin language: source text in, a
//! [`CheckedProgram`] (syntax tree plus type and name side tables) or a list
//! of [`Diagnostic`]s out.
//!
//! The pipeline is one module per stage:
//!
//! | stage | module | produces |
//! | --- | --- | --- |
//! | lexing | [`lexer`] | tokens with byte spans |
//! | parsing | [`parser`] | an [`ast::Program`] and parse errors |
//! | checking | [`check`] | a [`CheckedProgram`] or type errors |
//! | code generation | [`codegen`] | a [`chronicle_core::Module`] |
//! | reporting | [`diagnostics`] | rendered `file:line:col` reports |
//!
//! [`compile`] runs the whole pipeline:
//!
//! ```
//! use chronicle_core::{verify, vm, Limits, Value};
//!
//! let module = chronicle_lang::compile("six.chr", "fn main() -> int { return 6 * 7; }")
//!     .expect("compiles");
//! let verified = verify(module).expect("compiled code always verifies");
//! let result = vm::run(&verified, Limits::DEFAULT, vm::NoHost).expect("runs");
//! assert_eq!(result, Value::Int(42));
//! ```
//!
//! ```
//! use chronicle_lang::{check_source, render_diagnostics, RenderConfig};
//!
//! let ok = check_source("ok.chr", "fn main() -> int { return 6 * 7; }");
//! assert!(ok.is_ok());
//!
//! let src = "fn main() -> int { let count = 1; return cout; }";
//! let errors = check_source("bad.chr", src).unwrap_err();
//! let text = render_diagnostics("bad.chr", src, &errors, RenderConfig::default());
//! assert!(text.contains("bad.chr:1:42"));
//! assert!(text.contains("did you mean `count`?"));
//! ```
//!
//! **Architecture invariants:**
//! - Any `&str` (or any bytes, through [`check_bytes`]) gives a result or
//!   diagnostics, never a panic; nesting is bounded by
//!   [`parser::MAX_NESTING`], so no input overflows the stack.
//! - Only [`codegen`] knows about bytecode; it consumes a [`CheckedProgram`]
//!   and may trust it. What it produces always passes
//!   [`chronicle_core::verify()`].

#![forbid(unsafe_code)]

pub mod ast;
pub mod check;
pub mod codegen;
pub mod diagnostics;
pub mod lexer;
pub mod parser;
pub mod span;
pub mod suggest;
pub mod types;

pub use check::{
    Builtin, CapId, CapabilityInfo, CheckedProgram, FnId, FunctionInfo, LocalId, LocalInfo,
    Resolution,
};
pub use diagnostics::{render_diagnostics, Diagnostic, RenderConfig, Stage};
pub use span::{LineCol, LineIndex, Span};
pub use types::Type;

/// Lexes, parses and checks one source file.
///
/// On failure, the diagnostics of the first stage that found problems are
/// returned: lexical errors alone if there are any, else parse errors, else
/// type errors. Type checking is skipped when the file does not parse, so a
/// syntax error never causes follow-up type errors.
pub fn check_source(file_name: &str, src: &str) -> Result<CheckedProgram, Vec<Diagnostic>> {
    let (program, errors) = parser::parse(src);
    if !errors.is_empty() {
        // A lexical error (an unclosed string, a stray character) mostly
        // causes parse errors that vanish once it is fixed: report it alone.
        let lexical: Vec<Diagnostic> = errors
            .iter()
            .filter(|d| d.stage == Stage::Lex)
            .cloned()
            .collect();
        return Err(if lexical.is_empty() { errors } else { lexical });
    }
    check::check(file_name, src, program)
}

/// Compiles one source file to a bytecode module: [`check_source`], then
/// code generation. The module is ready for [`chronicle_core::verify()`]
/// (which it always passes) and names `main` as its entry.
///
/// Besides the checker's diagnostics, a program that does not fit the
/// module format (more than 65,535 instructions in a function, registers
/// in a frame, constants, functions or imports; arrays nested more than 32
/// deep) gets a diagnostic pointing at the offending function or statement.
pub fn compile(file_name: &str, src: &str) -> Result<chronicle_core::Module, Vec<Diagnostic>> {
    let checked = check_source(file_name, src)?;
    codegen::generate(&checked, &codegen::Lines::of_source(src))
}

/// Like [`compile`], also giving where each source variable lives (function,
/// register, instruction range): what a debugger needs to show names, which
/// the module format does not carry. The module is exactly [`compile`]'s.
///
/// ```
/// let (module, vars) = chronicle_lang::compile_with_names(
///     "x.chr",
///     "fn main() -> int {\n    let answer = 42;\n    return answer;\n}\n",
/// ).unwrap();
/// assert_eq!(module, chronicle_lang::compile("x.chr", "fn main() -> int {\n    let answer = 42;\n    return answer;\n}\n").unwrap());
/// assert!(vars.iter().any(|v| v.name == "answer" && v.func == 0));
/// ```
pub fn compile_with_names(
    file_name: &str,
    src: &str,
) -> Result<(chronicle_core::Module, Vec<codegen::VarInfo>), Vec<Diagnostic>> {
    let checked = check_source(file_name, src)?;
    codegen::generate_named(&checked, &codegen::Lines::of_source(src))
}

/// Like [`compile`], for raw bytes (see [`check_bytes`]).
pub fn compile_bytes(
    file_name: &str,
    bytes: &[u8],
) -> Result<chronicle_core::Module, Vec<Diagnostic>> {
    let src = decode(bytes).map_err(|d| vec![d])?;
    compile(file_name, src)
}

/// Generates the module of an already checked program (the code generation
/// stage of [`compile`] alone).
///
/// Line numbers come from [`CheckedProgram::lines`]; [`compile`], which has
/// the source text, computes them faster on very long lines.
pub fn compile_checked(
    program: &CheckedProgram,
) -> Result<chronicle_core::Module, Vec<Diagnostic>> {
    codegen::generate(program, &codegen::Lines::Index(&program.lines))
}

/// Like [`check_source`], for raw bytes: input that is not UTF-8 gives one
/// diagnostic pointing at the first invalid byte.
pub fn check_bytes(file_name: &str, bytes: &[u8]) -> Result<CheckedProgram, Vec<Diagnostic>> {
    let src = decode(bytes).map_err(|d| vec![d])?;
    check_source(file_name, src)
}

/// Decodes source bytes as UTF-8, or explains where they are not.
///
/// The diagnostic's span is a byte offset into `bytes`; render it against
/// [`String::from_utf8_lossy`] of the same bytes, which keeps every valid
/// prefix at the same offset.
pub fn decode(bytes: &[u8]) -> Result<&str, Diagnostic> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let len = e.error_len().unwrap_or(bytes.len() - at);
        Diagnostic::new(
            Stage::Encoding,
            Span::new(at, at + len),
            format!("source is not valid UTF-8 (invalid byte at offset {at})"),
            "save the file as UTF-8; `.chr` sources are text",
        )
        .with_label("invalid UTF-8")
    })
}
