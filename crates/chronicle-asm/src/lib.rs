//! ChronicleVM assembly (`.chasm`): a readable text form of a bytecode
//! [`Module`], with a parser ([`parse()`]) and a printer ([`print()`]).
//!
//! The text says everything the module holds, in pool order: constants,
//! capability imports, the entry function, and each function's name,
//! parameters, register types, result type, code and source lines. So
//! `parse(&print(&m))` gives back `m`, and encoding it gives the same bytes
//! as encoding `m`; the printer works on any module, even one that would not
//! verify, which makes it the disassembler too.
//!
//! ```
//! use chronicle_core::{verify, vm, Limits, Value};
//!
//! let src = r#"
//! ; fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2)
//! entry main
//!
//! func main() -> int
//!     .regs r0: int, r1: int
//!     ldi r0, 20
//!     call r1, fib, r0, 1        ; r1 = fib(r0), one argument
//!     ret r1
//! end
//!
//! func fib(r0: int) -> int
//!     .regs r1: int, r2: int, r3: int, r4: int
//!     .line 2                    ; the source line of what follows
//!     ldi r1, 2
//!     jlt r0, r1, done
//!     addi r2, r0, -1
//!     call r3, fib, r2, 1
//!     addi r2, r0, -2
//!     call r4, fib, r2, 1
//!     add r0, r3, r4
//! done:
//!     ret r0
//! end
//! "#;
//! let module = chronicle_asm::parse(src).expect("assembles");
//! let verified = verify(module).expect("verifies");
//! let result = vm::run(&verified, Limits::DEFAULT, vm::NoHost).expect("runs");
//! assert_eq!(result, Value::Int(6765));
//!
//! // The printer writes the same module back; labels become `L<index>`.
//! let text = chronicle_asm::print(verified.module());
//! assert!(text.contains("jlt r0, r1, L7"));
//! assert_eq!(chronicle_asm::parse(&text).as_ref(), Ok(verified.module()));
//! ```
//!
//! # Syntax in brief
//! One statement per line; `;` or `#` starts a comment.
//!
//! | Statement | Meaning |
//! |---|---|
//! | `const k0 = 42`, `const k1 = "a\n"` | constant pool entries, numbered in order |
//! | `import c0 fs.read@1.0(str) -> str` | capability imports, numbered in order |
//! | `entry main` (or `entry f0`) | the entry function (default `f0`) |
//! | `func name(r0: int, r1: str) -> int` ... `end` | a function; header registers are its parameters |
//! | `.regs r2: bool, r3: [str]` | the function's other registers, in order |
//! | `.line 12` | the source line of the instructions that follow (0 = none) |
//! | `loop:` | a label: the index of the next instruction |
//! | `add r2, r0, r1` | an instruction: its mnemonic, then its operands |
//!
//! Operands follow the instruction table ([`chronicle_core::isa`]): registers
//! `r3`, constants `k2`, functions by name or `f1`, imports `c0`, jump
//! targets as labels or `@7`, immediates and counts in decimal. Types are
//! `int`, `bool`, `str` and `[T]`; no `->` means a unit result. Names that
//! are not plain identifiers (dotted segments of `[A-Za-z_][A-Za-z0-9_]*`)
//! are written as strings. The full description is `docs/ASSEMBLY.md`.
//!
//! **Architecture invariant:** this crate knows no opcode. The parser and the
//! printer read mnemonics and operand kinds from [`chronicle_core::isa`], so
//! a new instruction needs no change here.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod lex;
mod parse;
mod print;
mod syntax;

use chronicle_core::Module;
use thiserror::Error;

/// A syntax error: where it is and what is wrong.
///
/// Displays as `line:col: message`, so a tool can prefix the file name.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{line}:{col}: {message}")]
pub struct AsmError {
    /// The line, counted from 1.
    pub line: u32,
    /// The column, counted from 1 in Unicode characters.
    pub col: u32,
    /// What is wrong, in one line (e.g. ``unknown instruction `ad`; did you mean `add`?``).
    pub message: String,
}

/// Parses assembly text into a module, or returns its first error.
///
/// The module is not verified: use [`chronicle_core::verify()`] before running
/// it. Any input is safe: parsing never panics, and allocates in proportion
/// to the input's length.
pub fn parse(src: &str) -> Result<Module, AsmError> {
    parse::parse(src).map_err(|errors| {
        errors.into_iter().next().unwrap_or(AsmError {
            line: 1,
            col: 1,
            message: "invalid assembly".to_owned(),
        })
    })
}

/// Like [`parse`], but reports every error found (up to 50, in source order),
/// for tools that show all diagnostics at once.
///
/// The returned vector is never empty.
pub fn parse_with_diagnostics(src: &str) -> Result<Module, Vec<AsmError>> {
    parse::parse(src)
}

/// Prints a module as assembly text that [`parse`] reads back.
///
/// Any module prints, even one that would not verify. `parse(&print(m))`
/// equals `m` whenever `m` fits the binary format (at most 65535 entries per
/// table, array types at most [`chronicle_core::types::MAX_TYPE_DEPTH`]
/// deep) and has one line-table entry per instruction, as every decoded
/// module does; encoding the result always gives the same bytes as encoding
/// `m`.
///
/// Besides the statements, the text carries informative comments (the index
/// of each function, the value of a constant operand, the name of an import
/// operand) that the parser ignores.
pub fn print(module: &Module) -> String {
    print::print(module)
}
