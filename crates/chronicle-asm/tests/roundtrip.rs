//! The assembler's contract, as tests:
//! - `parse(print(m)) == m` and identical encodings, for arbitrary modules;
//! - every error names what and where (`line:col: message`), one table row
//!   per mistake;
//! - no input makes the parser panic or take unbounded time;
//! - the example programs and the document's example assemble, verify and run.

use chronicle_asm::{parse, parse_with_diagnostics, print, AsmError};
use chronicle_core::format::encode;
use chronicle_core::isa::{Instr, Opcode};
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::testing::proptest_cases;
use chronicle_core::testing::{any_module, valid_module};
use chronicle_core::types::{Signature, Type, Version};
use chronicle_core::vm::{self, CapabilityError, Host, NoHost};
use chronicle_core::{verify, Limits, Value};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Prints `m`, parses the text back and checks both equalities.
fn assert_round_trip(m: &Module) -> Result<(), TestCaseError> {
    let text = print(m);
    let back =
        parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n--- text ---\n{text}")))?;
    prop_assert_eq!(&back, m, "text:\n{}", text);
    prop_assert_eq!(encode(&back), encode(m));
    // Printing is a function of the module: the text is stable.
    prop_assert_eq!(print(&back), text);
    Ok(())
}

// ---- round trips ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(512)))]

    #[test]
    fn print_then_parse_gives_the_module_back(m in any_module()) {
        assert_round_trip(&m)?;
    }

    #[test]
    fn valid_modules_stay_valid_through_text(m in valid_module()) {
        assert_round_trip(&m)?;
        let back = parse(&print(&m)).expect("round trip checked above");
        prop_assert!(verify(back).is_ok());
    }
}

#[test]
fn lines_beyond_the_code_are_dropped_like_the_encoder_does() {
    // The line table is out of step with the code: `encode` writes one line
    // per instruction (0 where missing), and so does the text.
    let f = Function {
        name: "main".into(),
        code: vec![Instr::RetUnit {}, Instr::RetUnit {}],
        lines: vec![5],
        ..Function::default()
    };
    let m = Module {
        funcs: vec![f],
        ..Module::default()
    };
    let back = parse(&print(&m)).unwrap();
    assert_eq!(back.funcs[0].lines, vec![5, 0]);
    assert_eq!(encode(&back), encode(&m));
}

#[test]
fn ill_formed_modules_print_exactly() {
    let f = Function {
        name: "weird \"name\"\n".into(),
        params: 9, // beyond the two registers
        regs: vec![Type::Int, Type::array_of(Type::array_of(Type::Str))],
        ret: Some(Type::Bool),
        code: vec![
            Instr::Jump { t: 40 },
            Instr::Call {
                d: 300,
                f: 7,
                a: 2,
                n: 65535,
            },
            Instr::LoadConst { d: 0, k: 12 },
            Instr::Cap {
                d: 1,
                c: 3,
                a: 0,
                n: 0,
            },
            Instr::LoadBool { d: 0, imm: 0x8000 },
        ],
        lines: vec![0, u32::MAX, 3, 3, 0],
    };
    let g = Function {
        name: "f0".into(),
        ..Function::default()
    };
    let h = Function {
        name: "f0".into(),
        ..Function::default()
    };
    let m = Module {
        consts: vec![Const::Str("\u{202e}\u{0}\\".into())],
        imports: vec![Import {
            name: String::new(),
            version: Version::new(65535, 0),
            sig: Signature {
                params: vec![],
                ret: None,
            },
        }],
        funcs: vec![f, g, h],
        entry: 99,
    };
    let text = print(&m);
    assert_eq!(parse(&text), Ok(m), "{text}");
    for expected in [
        "func \"weird \\\"name\\\"\\n\"(r0: int, r1: [[str]]) -> bool    ; f0",
        "    .params 9",
        "    jmp @40",
        "    call r300, f7, r2, 65535",
        "    ldb r0, -32768",
        "entry f99",
        "const k0 = \"\\u{202e}\\0\\\\\"",
        "import c0 \"\"@65535.0()",
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "missing {expected:?} in\n{text}"
        );
    }
}

#[test]
fn printed_text_reads_well() {
    let src = std::fs::read_to_string(repo_root().join("examples/asm/fib.chasm")).unwrap();
    let text = print(&parse(&src).unwrap());
    let expected = "\
entry main

func fib(r0: int) -> int    ; f0
    .regs r1: int, r2: int, r3: int, r4: int
    .line 2
    ldi r1, 2
    jge r0, r1, L3
    ret r0
L3:
    .line 3
    addi r2, r0, -1
    call r3, fib, r2, 1
    addi r2, r0, -2
    call r4, fib, r2, 1
    add r0, r3, r4
    ret r0
end

func main() -> int    ; f1
    .regs r0: int, r1: int
    .line 5
    ldi r0, 20
    call r1, fib, r0, 1
    ret r1
end
";
    assert_eq!(text, expected);
}

#[test]
fn operands_of_every_form_are_accepted() {
    let src = r#"
const k0 = -9223372036854775808
const k1 = "tab\t, quote\", unicode \u{1F600} 😀"
import c0 "odd name"@0.65535([[int]], bool) -> [str]
import c1 a.b.c@1.0()
entry f1

func "a b"() -> int
    .regs r0: int
    ldk r0, k0
    jmp @3          ; a numeric target
    jmp end_label   ; labels may be any name
    ret r0
end_label:
end

func main()
    .regs r0: [str], r1: bool
    cap r0, c0, r1, 0
    callu f0, r0, 0
    retu
end
"#;
    let m = parse(src).unwrap();
    assert_eq!(
        m.consts,
        vec![
            Const::Int(i64::MIN),
            Const::Str("tab\t, quote\", unicode 😀 😀".into())
        ]
    );
    assert_eq!(m.imports[0].name, "odd name");
    assert_eq!(
        m.imports[0].sig.params[0],
        Type::array_of(Type::array_of(Type::Int))
    );
    assert_eq!(m.entry, 1);
    assert_eq!(m.funcs[0].name, "a b");
    assert_eq!(m.funcs[0].code[1], Instr::Jump { t: 3 });
    // A label before `end` denotes the index past the last instruction.
    assert_eq!(m.funcs[0].code[2], Instr::Jump { t: 4 });
    assert_eq!(m.funcs[1].ret, None);
    assert_eq!(m.funcs[1].code[1], Instr::CallUnit { f: 0, a: 0, n: 0 });
}

#[test]
fn crlf_tabs_comments_and_bom_are_accepted() {
    let src = "\u{feff}# hash comment\r\nfunc main() -> int\t; f0\r\n\t.regs r0: int\r\n\tldi r0,7\r\n\tret r0 # done\r\nend\r\n";
    let m = parse(src).unwrap();
    let verified = verify(m).unwrap();
    assert_eq!(
        vm::run(&verified, Limits::DEFAULT, NoHost),
        Ok(Value::Int(7))
    );
}

// ---- errors: one row per mistake ----

/// Each row: assembly text and the exact error `parse` reports.
const BAD: &[(&str, &str)] = &[
    // Lexical.
    ("func main()\n    ldi r0, 0x10\nend", "2:13: malformed number `0x10` (numbers are decimal digits)"),
    ("const k0 = \"abc", "1:12: unterminated string (missing closing `\"`)"),
    ("const k0 = \"a\\qb\"", "1:14: unknown escape (use \\n \\t \\r \\0 \\\\ \\\" or \\u{hex})"),
    ("const k0 = \"\\u{110000}\"", "1:13: \\u{110000} is not a Unicode scalar value"),
    ("const k0 = \"\\u{}\"", "1:13: malformed unicode escape (expected \\u{1-6 hex digits})"),
    ("func main() {\nend", "1:13: unexpected character '{'"),
    ("func main() - int\nend", "1:13: expected `->` or a negative number after `-`"),
    // Top level.
    ("ldi r0, 1", "1:1: instruction `ldi` outside a function (start one with `func name() ... end`)"),
    ("loop:", "1:1: label `loop` outside a function"),
    ("end", "1:1: `end` outside a function"),
    (".regs r0: int", "1:1: `.regs` outside a function"),
    ("42", "1:1: expected `const`, `import`, `entry` or `func`, found `42`"),
    ("const k1 = 5", "1:7: expected k0 here: constants are numbered in order from k0"),
    ("const k0 5", "1:10: expected `=`, found `5`"),
    ("const k0 =", "1:11: expected an integer or a string at the end of the line"),
    ("const k0 = 9223372036854775808", "1:12: integer constant `9223372036854775808` is out of range (a 64-bit signed int)"),
    ("const k0 = 1 2", "1:14: unexpected `2` after the constant"),
    ("import c0 fs.read@1(str)", "1:20: expected `.` and a minor version (e.g. @1.0), found `(`"),
    ("import c0 fs.read@1.70000()", "1:21: minor version `70000` is out of range (0..=65535)"),
    ("import c0 fs.read@1.0(str", "1:26: expected `,` or `)` at the end of the line"),
    ("import c0 fs.read@1.0(string)", "1:23: unknown type `string` (expected int, bool, str or [T])"),
    ("import c0 fs.read@1.0() -> unit", "1:28: `unit` is not a value type (leave out `-> type` for a unit result)"),
    ("import c0 log@1.0([int)", "1:23: expected `]` to close the array type, found `)`"),
    ("entry", "1:6: expected the entry function (its name or f0, f1, ...) at the end of the line"),
    ("entry f0\nentry f0", "2:1: duplicate `entry` (the first is on line 1)"),
    ("entry nowhere", "1:7: unknown function `nowhere`"),
    ("entry f70000", "1:7: index `f70000` is out of range (at most f65535)"),
    // Function headers and declarations.
    ("func (r0: int)\nend", "1:6: expected a function name (e.g. main or \"any text\"), found `(`"),
    ("func f(r1: int)\nend", "1:8: expected r0 here: registers are declared in order from r0"),
    ("func f(r0 int)\nend", "1:11: expected `:` and the register's type, found `int`"),
    ("func f()\n    .regs r0: int, r2: int\nend", "2:20: expected r1 here: registers are declared in order from r0"),
    ("func f()\n    retu\n    .regs r0: int\nend", "3:5: `.regs` after the first instruction: declare registers before the code"),
    ("func f()\n    .frame 3\nend", "2:5: unknown directive `.frame` (expected .regs, .params or .line)"),
    ("func f()\n    .line -1\nend", "2:11: line number `-1` is out of range (0..=4294967295)"),
    ("func f(r0: int)\n    .params 1\nend", "2:5: `.params` is only for a parameter count beyond the frame: list every register in the header and give a count above 1; otherwise declare parameters in the header"),
    ("func f()\n    retu", "2:9: end of input inside function `f` (opened on line 1): expected `end`"),
    ("func f()\nfunc g()\nend", "2:1: `func` inside function `f`: close it with `end` first"),
    ("func f()\n    const k0 = 1\nend", "2:5: `const` inside a function: declare it at the top level, outside `func` ... `end`"),
    ("func f()\n    end 1", "2:9: unexpected `1` after `end`"),
    ("func f(r0: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[int]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])\nend", "1:44: array type nested deeper than 32 levels"),
    // Instructions.
    ("func f()\n    ad r0, r1, r2\nend", "2:5: unknown instruction `ad`; did you mean `add`?"),
    ("func f()\n    LDI r0, 1\nend", "2:5: unknown instruction `LDI`; did you mean `ldi`?"),
    ("func f()\n    frobnicate r0\nend", "2:5: unknown instruction `frobnicate`"),
    ("func f()\n    add r0, r1\nend", "2:15: `add` takes 3 operands (d, a, b), found 2"),
    ("func f()\n    retu r0\nend", "2:10: `retu` takes no operands, found 1"),
    ("func f()\n    neg r0, r1, r2\nend", "2:17: `neg` takes 2 operands (d, a), found 3"),
    ("func f()\n    add r0, r1 r2\nend", "2:16: expected `,` or the end of the line, found `r2`"),
    ("func f()\n    add r0,, r2\nend", "2:12: missing operand"),
    ("func f()\n    add r0, r1,\nend", "2:16: missing operand"),
    ("func f()\n    add r0, k1, r2\nend", "2:13: operand `a` of `add` must be a register (r0, r1, ...), found `k1`"),
    ("func f()\n    ldk r0, r1\nend", "2:13: operand `k` of `ldk` must be a constant (k0, k1, ...), found `r1`"),
    ("func f()\n    cap r0, fs, r1, 1\nend", "2:13: operand `c` of `cap` must be a capability import (c0, c1, ...), found `fs`"),
    ("func f()\n    ldi r0, r1\nend", "2:13: operand `imm` of `ldi` must be an integer immediate (-32768..=32767), found `r1`"),
    ("func f()\n    ldi r0, 32768\nend", "2:13: immediate `32768` is out of range (-32768..=32767)"),
    ("func f()\n    ldi r0, -32769\nend", "2:13: immediate `-32769` is out of range (-32768..=32767)"),
    ("func f()\n    ldi r65536, 1\nend", "2:9: index `r65536` is out of range (at most r65535)"),
    ("func f()\n    arri r0, r1, 65536\nend", "2:18: count `65536` is out of range (0..=65535)"),
    ("func f()\n    arri r0, r1, -1\nend", "2:18: count `-1` is out of range (0..=65535)"),
    ("func f()\n    jmp 3\nend", "2:9: operand `t` of `jmp` must be a jump target (a label, or @ and an instruction index), found `3`"),
    ("func f()\n    jmp @\nend", "2:9: expected an instruction index after `@` (e.g. @7)"),
    ("func f()\n    jmp @70000\nend", "2:10: jump target `@70000` is out of range (0..=65535)"),
    ("func f()\n    jmp nowhere\nend", "2:9: undefined label `nowhere`"),
    ("func f()\nx:\nx:\n    retu\nend", "3:1: duplicate label `x` (first defined on line 2)"),
    ("func f()\n    callu g, r0, 0\nend", "2:11: unknown function `g`"),
    ("func g()\nend\nfunc g()\nend\nfunc f()\n    callu g, r0, 0\nend", "6:11: function name `g` is ambiguous (2 functions have it): refer to one by index (f0, f1, ...)"),
    ("func f()\n    ldi r0, 99999999999999999999999999\nend", "2:13: immediate `99999999999999999999999999` is out of range (-32768..=32767)"),
];

#[test]
fn errors_name_what_and_where() {
    let mut failures = Vec::new();
    for (src, expected) in BAD {
        match parse(src) {
            Ok(m) => failures.push(format!("{src:?}\n  accepted as {m:?}")),
            Err(e) if e.to_string() != *expected => {
                failures.push(format!("{src:?}\n  expected: {expected}\n  found:    {e}"))
            }
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ:\n{}",
        failures.len(),
        BAD.len(),
        failures.join("\n")
    );
}

#[test]
fn every_error_is_reported_in_one_run() {
    let src = "func f()\n    ad r0\n    ldi r0, 1\n    jmp nowhere\n    retu 3\nend\nentry g\n";
    let errors = parse_with_diagnostics(src).unwrap_err();
    let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 4, 5, 7], "{errors:#?}");
    assert_eq!(parse(src).unwrap_err(), errors[0]);
}

#[test]
fn error_display_is_line_col_message() {
    let e = AsmError {
        line: 3,
        col: 14,
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "3:14: boom");
}

// ---- hostile input ----

/// Pieces of assembly, so that random text reaches deep into the parser.
fn soup() -> impl Strategy<Value = String> {
    let mut words: Vec<&'static str> = vec![
        "const",
        "import",
        "entry",
        "func",
        "end",
        ".regs",
        ".params",
        ".line",
        ".x",
        "r0",
        "r1",
        "r65535",
        "r65536",
        "k0",
        "k1",
        "f0",
        "f1",
        "c0",
        "L0",
        "main",
        "fs.read",
        "int",
        "bool",
        "str",
        "unit",
        "[",
        "]",
        "(",
        ")",
        "->",
        "-",
        ",",
        ":",
        "=",
        "@",
        ".",
        "0",
        "1",
        "-1",
        "32768",
        "-32769",
        "99999999999999999999",
        "\"s\"",
        "\"\\u{41}\"",
        "\"\\q\"",
        "\"",
        ";",
        "#",
        "\\",
        "é",
        "\u{feff}",
        "\r",
        "\t",
    ];
    words.extend(Opcode::ALL.iter().map(|op| op.mnemonic()));
    let piece = proptest::sample::select(words);
    let sep = proptest::sample::select(vec![" ", ", ", "\n", "", "\n    "]);
    proptest::collection::vec((piece, sep), 0..60)
        .prop_map(|parts| parts.into_iter().flat_map(|(w, s)| [w, s]).collect())
}

fn check_no_panic(src: &str) -> Result<(), TestCaseError> {
    match parse_with_diagnostics(src) {
        Ok(m) => {
            // Whatever parses prints and parses back to itself.
            let text = print(&m);
            prop_assert_eq!(parse(&text), Ok(m));
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty() && errors.len() <= 50);
            let lines = src.split('\n').count() as u32;
            for e in &errors {
                prop_assert!(
                    e.line >= 1 && e.line <= lines && e.col >= 1,
                    "{e} for {src:?}"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(1024)))]

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        check_no_panic(&src)?;
    }

    #[test]
    fn assembly_soup_never_panics(src in soup()) {
        check_no_panic(&src)?;
    }

    #[test]
    fn edited_printed_modules_never_panic(m in any_module(), edits in proptest::collection::vec((any::<usize>(), any::<char>(), 0..3u8), 1..6)) {
        let mut text: Vec<char> = print(&m).chars().collect();
        for (at, c, kind) in edits {
            let i = at % (text.len() + 1);
            match kind {
                0 if i < text.len() => { text.remove(i); }
                1 if i < text.len() => text[i] = c,
                _ => text.insert(i, c),
            }
        }
        check_no_panic(&text.into_iter().collect::<String>())?;
    }

    #[test]
    fn binary_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_no_panic(&String::from_utf8_lossy(&bytes))?;
    }
}

#[test]
fn huge_inputs_are_handled_in_linear_time() {
    let long = 100_000;
    let cases: Vec<String> = vec![
        "[".repeat(long),
        format!(
            "func f(r0: {}int{})\nend",
            "[".repeat(long),
            "]".repeat(long)
        ),
        format!("const k0 = {}", "9".repeat(long)),
        format!("const k0 = -{}", "1".repeat(long)),
        format!("func f()\n    {} r0\nend", "x".repeat(long)),
        format!("func f()\n    add r0{}\nend", ", r1".repeat(long)),
        format!("func f()\n    add {}\nend", ",".repeat(long)),
        format!("const k0 = \"{}\"", "\\n".repeat(long)),
        format!("const k0 = \"{}", "a".repeat(long)),
        format!("func {}()\nend", "a.".repeat(long) + "b"),
        "func f()\n".to_owned() + &"    retu\n".repeat(long) + "end",
        "func f()\n".to_owned() + &"x:\n".repeat(long) + "end",
        "func f()\n".to_owned() + &"    jmp nowhere\n".repeat(long) + "end",
        "entry nowhere\n".repeat(long),
        "\n".repeat(long),
        "\u{0}".repeat(long),
    ];
    for src in &cases {
        let start = Instant::now();
        let _ = parse_with_diagnostics(src);
        let took = start.elapsed();
        // Debug builds take milliseconds; this only catches quadratic behaviour.
        assert!(
            took < Duration::from_secs(5),
            "{took:?} for input starting {:?}",
            &src[..40.min(src.len())]
        );
    }
    // The big function parses: 100k instructions exceed the format's table.
    let err = parse(&cases[10]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "65537:5: too many instructions in one function (the format allows 65535)"
    );
}

// ---- programs ----

/// Runs a program and compares its result with its `; expect:` line.
fn check_program(name: &str, src: &str, host: impl Host) {
    let module = parse(src).unwrap_or_else(|e| panic!("{name}:{e}"));
    let expected = src
        .lines()
        .find_map(|l| l.trim().strip_prefix("; expect: "))
        .unwrap_or_else(|| panic!("{name} has no `; expect:` line"));
    let verified = verify(module).unwrap_or_else(|e| panic!("{name}: {e}"));
    let result =
        vm::run(&verified, Limits::DEFAULT, host).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(result.to_string(), expected, "{name}");
    assert_round_trip(verified.module()).unwrap();
}

#[test]
fn example_programs_run() {
    let dir = repo_root().join("examples/asm");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "chasm") {
            check_program(
                &path.display().to_string(),
                &std::fs::read_to_string(&path).unwrap(),
                NoHost,
            );
            count += 1;
        }
    }
    assert!(count >= 2, "examples missing from {}", dir.display());
}

/// A host granting `log.write`: it records each message.
#[derive(Default)]
struct LogHost {
    messages: Vec<String>,
}

impl Host for &mut LogHost {
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        match (import, args) {
            (0, [Value::Str(s)]) => {
                self.messages.push(s.to_string());
                Ok(Value::Unit)
            }
            _ => Err(CapabilityError::new("unexpected call")),
        }
    }
}

/// The complete example of `docs/ASSEMBLY.md` assembles, verifies and runs.
#[test]
fn the_documented_example_runs() {
    let doc = std::fs::read_to_string(repo_root().join("docs/ASSEMBLY.md")).unwrap();
    let (_, rest) = doc.split_once("```chasm\n").expect("a ```chasm block");
    let (src, _) = rest.split_once("```").unwrap();
    let mut host = LogHost::default();
    check_program("docs/ASSEMBLY.md", src, &mut host);
    assert_eq!(
        host.messages,
        [
            "long word: quick",
            "long word: brown",
            "long word: jumps",
            "long word: over",
            "long word: lazy"
        ]
    );
}

/// The error messages quoted in `docs/ASSEMBLY.md` are ones the parser gives.
#[test]
fn the_documented_errors_are_real() {
    let doc = std::fs::read_to_string(repo_root().join("docs/ASSEMBLY.md")).unwrap();
    let (_, errors) = doc.split_once("## Errors").expect("an Errors section");
    let (_, rest) = errors.split_once("```text\n").expect("a block of examples");
    let (block, _) = rest.split_once("```").unwrap();
    for line in block.lines() {
        assert!(
            BAD.iter().any(|(_, e)| *e == line),
            "docs/ASSEMBLY.md quotes an error the table does not check: {line}"
        );
    }
}
