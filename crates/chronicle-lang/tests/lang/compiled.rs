//! Compiled execution: every corpus script and thousands of generated
//! programs run through `compile` + `verify` + the VM and must agree with
//! their `// expect` lines and with the reference evaluator.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chronicle_core::module::Module;
use chronicle_core::{verify, Limits as VmLimits};
use chronicle_lang::check_source;

use crate::common::compiled::{compile_or_render, run_checked, run_module, Run};
use crate::common::reference::{self, Limit, Limits, RuntimeError};
use crate::common::{big, gen, parse_script, Expect, ScriptHost};

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chr"))
        .collect();
    paths.sort();
    paths
}

/// Compiles and runs a source with the default limits and no capabilities.
fn run(src: &str) -> Run {
    let module = compile_or_render("test.chr", src).unwrap_or_else(|e| panic!("{e}"));
    run_module(module, &mut ScriptHost::default(), VmLimits::DEFAULT).unwrap()
}

fn value(src: &str) -> String {
    match run(src).outcome {
        Expect::Value(v) => v,
        other => panic!("expected a value, got {other:?}"),
    }
}

#[test]
fn corpus_programs_compile_verify_and_meet_their_expectations() {
    let paths = corpus();
    assert!(paths.len() >= 60);
    let mut failures = Vec::new();
    for path in &paths {
        let src = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut script = parse_script(&src).unwrap();
        let result = compile_or_render(&name, &src)
            .and_then(|module| run_module(module, &mut script.host, VmLimits::DEFAULT));
        match result {
            Ok(run) if run.outcome == script.expect => {}
            Ok(run) => failures.push(format!(
                "{name}: expected {:?}, got {:?}",
                script.expect, run.outcome
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_frames_stay_small() {
    for path in corpus() {
        let src = std::fs::read_to_string(&path).unwrap();
        let module = compile_or_render("p.chr", &src).unwrap();
        for f in &module.funcs {
            assert!(
                f.regs.len() <= 24,
                "{}: `{}` uses {} registers",
                path.display(),
                f.name,
                f.regs.len()
            );
        }
    }
}

/// The reference evaluator's budget counts statements and expressions, the
/// VM's instructions: the VM gets a budget no program that finishes within
/// the reference's can exhaust, and runs the reference stopped are skipped.
const VM_LIMITS: VmLimits = VmLimits {
    instructions: 100_000_000,
    ..VmLimits::DEFAULT
};

/// Compiles and runs generated program `seed` both ways; `Ok(false)` if the
/// reference ran out of budget, `Err` on any disagreement.
fn differential(seed: u64) -> Result<bool, String> {
    let src = gen::program(seed);
    let program = check_source("gen.chr", &src).map_err(|e| format!("seed {seed}: {e:?}"))?;
    let reference = reference::run(&program, &mut ScriptHost::default(), Limits::default());
    let expected = match reference {
        Err(RuntimeError::LimitExceeded(Limit::Instructions)) => return Ok(false),
        Ok(v) => Expect::Value(v.literal()),
        Err(e) => Expect::RuntimeError(e.to_string()),
    };
    let run = run_checked(&program, &mut ScriptHost::default(), VM_LIMITS)
        .map_err(|e| format!("seed {seed}: {e}\n{src}"))?;
    if run.outcome != expected {
        return Err(format!(
            "seed {seed}: reference {expected:?}, compiled {:?}\n{src}",
            run.outcome
        ));
    }
    Ok(true)
}

/// 5,000 generated programs per run (`CHR_DIFF_SEEDS=N` for more, and
/// `CHR_DIFF_START=S` to look elsewhere), on two threads with big stacks.
#[test]
fn compiled_programs_agree_with_the_reference_evaluator() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (start, count) = (var("CHR_DIFF_START", 0), var("CHR_DIFF_SEEDS", 5_000));
    let started = Instant::now();
    let threads = 2;
    let results: Vec<(u64, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                std::thread::Builder::new()
                    .stack_size(256 << 20)
                    .spawn_scoped(scope, move || {
                        let mut compared = 0;
                        let mut failures = Vec::new();
                        for seed in (start + t..start + count).step_by(threads as usize) {
                            match differential(seed) {
                                Ok(ran) => compared += u64::from(ran),
                                Err(e) => failures.push(e),
                            }
                        }
                        (compared, failures)
                    })
                    .unwrap()
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let compared: u64 = results.iter().map(|r| r.0).sum();
    let failures: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
    println!(
        "differential: {compared} of {count} programs compared in {:.2?}",
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements, first:\n{}",
        failures.len(),
        failures[0]
    );
    assert!(compared >= count * 95 / 100, "only {compared} compared");
}

#[test]
fn generated_programs_use_few_registers() {
    let mut widest = 0;
    for seed in 0..300 {
        let module = compile_or_render("gen.chr", &gen::program(seed)).unwrap();
        widest = module
            .funcs
            .iter()
            .map(|f| f.regs.len())
            .max()
            .unwrap_or(0)
            .max(widest);
    }
    assert!(widest <= 64, "a generated function uses {widest} registers");
}

// ---- linear in-place updates ----

/// Runs `src` with `N` replaced by `n`, unbounded but for `alloc_bytes`.
fn run_sized(src: &str, n: u64, alloc_bytes: u64) -> Run {
    let module = compile_or_render("lin.chr", &src.replace('N', &n.to_string())).unwrap();
    let limits = VmLimits {
        alloc_bytes,
        ..VmLimits::UNBOUNDED
    };
    run_module(module, &mut ScriptHost::default(), limits).unwrap()
}

/// Asserts that `src` allocates linearly in `N`: every new string or array,
/// growth and copy-on-write copy is charged to `alloc_bytes`, so a program
/// that copied its value at each of `10 * small` iterations (quadratic
/// work) would pass a budget of 4 KiB an iteration many times over. Counted,
/// not timed, so it cannot flake on a loaded machine.
fn assert_linear(src: &str, small: u64) {
    let n = small * 10;
    let run = run_sized(src, n, 4096 * n);
    assert!(
        matches!(run.outcome, Expect::Value(_)),
        "{n} iterations within {} bytes: {run:?}",
        4096 * n
    );
}

#[test]
fn appending_to_a_string_in_a_loop_is_linear() {
    let src = "fn main() -> int {
        let s = \"\";
        for i in 0..N { s = s + str(i); }
        return len(s);
    }";
    let run = run_sized(src, 200_000, u64::MAX);
    assert_eq!(run.outcome, Expect::Value("1088890".into()));
    // Three instructions per iteration: itos, concat (in place), fornext.
    assert!(run.instructions <= 3 * 200_000 + 10, "{}", run.instructions);
    assert_linear(src, 20_000);
}

#[test]
fn in_place_updates_stay_linear_next_to_copies() {
    // Each loop shares the mutated value with a temporary (an argument, a
    // capability argument, a nested read) before mutating it again.
    assert_linear(
        "fn size(xs: [int]) -> int { return len(xs); }
         fn main() -> int {
             let xs: [int] = [];
             let total = 0;
             for i in 0..N { push(xs, i); total = total + size(xs); }
             return total;
         }",
        20_000,
    );
    assert_linear(
        "fn main() -> int {
             let grid = [[0], [0]];
             for i in 0..N { push(grid[1], i); grid[1][0] = len(grid[1]) + grid[1][i / 2]; }
             return len(grid[1]);
         }",
        20_000,
    );
    assert_linear(
        "fn show(s: str) -> int { return len(s); }
         fn main() -> int {
             let s = \"\";
             let n = 0;
             for i in 0..N { s = s + \"ab\" + str(i % 10); n = n + show(s); }
             return n % 1000;
         }",
        20_000,
    );
    assert_linear(
        "fn main() -> int {
             let rows: [[int]] = [];
             for i in 0..N { push(rows, [i]); }
             let sum = 0;
             for row in rows { sum = sum + row[0]; push(rows[0], 1); }
             return sum;
         }",
        20_000,
    );
}

// ---- what the generated code looks like ----

#[test]
fn functions_are_named_and_main_is_the_entry() {
    let module = compile_or_render(
        "n.chr",
        "use clock.now@1.2() -> int;
         use log.write@2(level: str, msg: str);
         fn helper(x: int) -> int { return x + clock.now(); }
         fn main() { log.write(\"info\", str(helper(1))); }",
    )
    .unwrap();
    let names: Vec<&str> = module.funcs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["helper", "main"]);
    assert_eq!(module.entry, 1);
    let imports: Vec<String> = module
        .imports
        .iter()
        .map(|i| format!("{}@{} {}", i.name, i.version, i.sig))
        .collect();
    assert_eq!(
        imports,
        ["clock.now@1.2 () -> int", "log.write@2.0 (str, str)"]
    );
    verify(module).unwrap();
}

#[test]
fn runtime_errors_report_their_source_line() {
    let src = "fn div(a: int, b: int) -> int {
    let q = a
        / b;
    return q;
}
fn main() -> int {
    let xs = [1, 2];
    let i = div(4, 2);
    let j = div(1, 0);
    return xs[i + j];
}";
    let run = run(src);
    assert_eq!(run.outcome, Expect::RuntimeError("division by zero".into()));
    assert_eq!(run.error_line, Some(3), "the line of the `/` operator");
    let run2 = self::run(&src.replace("div(1, 0)", "div(1, 1)"));
    assert_eq!(
        run2.outcome,
        Expect::RuntimeError("index out of range".into())
    );
    assert_eq!(run2.error_line, Some(10));
}

#[test]
fn every_instruction_has_a_line() {
    for path in corpus() {
        let src = std::fs::read_to_string(&path).unwrap();
        let lines = src.lines().count() as u32;
        let module = compile_or_render("p.chr", &src).unwrap();
        for f in &module.funcs {
            assert_eq!(f.lines.len(), f.code.len());
            assert!(
                f.lines.iter().all(|&l| (1..=lines).contains(&l)),
                "{}: `{}` lines {:?}",
                path.display(),
                f.name,
                f.lines
            );
        }
    }
}

#[test]
fn constants_are_deduplicated_and_small_ints_are_immediates() {
    let module = compile_or_render(
        "k.chr",
        "fn main() -> str {
            let a = 100000 + 100000 + 7;
            let s = \"x\" + \"x\" + str(a);
            return s + \"x\";
        }",
    )
    .unwrap();
    assert_eq!(module.consts.len(), 2, "{:?}", module.consts);
}

#[test]
fn evaluation_order_and_snapshots() {
    // Operands left to right even when a later one pops the earlier.
    assert_eq!(
        value(
            "fn main() -> [bool] {
                let xs = [1, 2];
                let a = xs == [pop(xs)];
                let ys = [[1], [2]];
                let b = ys[0] == [pop(ys[0])];
                return [a, b, len(xs) == 1, len(ys[0]) == 0];
            }"
        ),
        "[false, true, true, true]"
    );
    // An index operand that pops from the indexed array.
    assert_eq!(
        value(
            "fn main() -> int {
                let xs = [10, 20, 1];
                return xs[pop(xs)];
            }"
        ),
        "20"
    );
    // `for` bounds once; `for x in xs` over a snapshot; hidden counters.
    assert_eq!(
        value(
            "fn main() -> [int] {
                let n = 3;
                let out: [int] = [];
                for i in 0..n { n = n + 1; push(out, i); i = i * 10; push(out, i); }
                for x in out { if len(out) < 10 { push(out, x); } }
                return out;
            }"
        ),
        "[0, 0, 1, 10, 2, 20, 0, 0, 1, 10]"
    );
    // Regression (differential seed 227628): an inner `&&` computed into the
    // assigned variable must not clobber it before `p || p` reads it.
    assert_eq!(
        value(
            "fn main() -> bool {
                let p = false;
                p = (true && (p || p)) || 1 > 2;
                return p;
            }"
        ),
        "false"
    );
    // `s = s + ... + s` reads the old `s` last.
    assert_eq!(
        value(
            "fn main() -> str {
                let s = \"ab\";
                s = s + \"-\" + s;
                let t = \"x\";
                t = \"<\" + t + \">\" + t;
                let b = true;
                b = false || b;
                b = b && !b;
                return s + t + str(b);
            }"
        ),
        "\"ab-ab<x>xfalse\""
    );
}

#[test]
fn long_array_literals_need_few_registers() {
    let items: Vec<String> = (0..1000).map(|i| (i * 3).to_string()).collect();
    let src = format!(
        "fn main() -> int {{ let xs = [{}]; xs = [xs[999], {}]; return len(xs) + xs[0]; }}",
        items.join(", "),
        items.join(", ")
    );
    let module = compile_or_render("long.chr", &src).unwrap();
    assert!(module.funcs[0].regs.len() < 40);
    assert_eq!(
        run_module(module, &mut ScriptHost::default(), VmLimits::DEFAULT)
            .unwrap()
            .outcome,
        Expect::Value((1001 + 2997).to_string())
    );
}

// ---- limits of the module format ----

fn compile_error(src: &str) -> String {
    match chronicle_lang::compile("big.chr", src) {
        Ok(_) => panic!("compiles"),
        Err(errors) => chronicle_lang::render_diagnostics(
            "big.chr",
            src,
            &errors,
            chronicle_lang::RenderConfig::default(),
        ),
    }
}

#[test]
fn oversized_functions_are_diagnostics_not_panics() {
    let body = "x = x * 3;\n".repeat(70_000);
    let text = compile_error(&format!(
        "fn main() -> int {{ let x = 1;\n{body} return x; }}"
    ));
    assert!(text.contains("too large"), "{text}");
    assert!(text.contains("big.chr:1:4"), "{text}");

    // (Register overflow itself is tested in `codegen::regs`: reaching it
    // here takes 65,536 locals in one block, which the checker handles in
    // quadratic time.)
    let consts: String = (0..70_000).map(|i| format!("x = \"c{i}\";\n")).collect();
    let text = compile_error(&format!("fn main() {{ let x = \"\";\n{consts}}}"));
    assert!(text.contains("too many distinct constants"), "{text}");

    let deep = format!(
        "fn main() {{ let x = {}1{}; }}",
        "[".repeat(40),
        "]".repeat(40)
    );
    let text = compile_error(&deep);
    assert!(text.contains("32 levels"), "{text}");
}

#[test]
fn a_frame_past_the_register_limit_fails_at_run_time() {
    let lets: String = (0..300).map(|i| format!("let v{i} = {i};\n")).collect();
    let module = compile_or_render("wide.chr", &format!("fn main() {{\n{lets}}}")).unwrap();
    assert_eq!(module.funcs[0].regs.len(), 300);
    let run = run_module(module, &mut ScriptHost::default(), VmLimits::DEFAULT).unwrap();
    assert_eq!(
        run.outcome,
        Expect::RuntimeError("limit exceeded: registers".into())
    );
}

#[test]
fn a_ten_thousand_line_program_compiles_and_runs() {
    let src = big::program(10_000);
    assert!(src.lines().count() >= 10_000);
    let started = Instant::now();
    let module = compile_or_render("big.chr", &src).unwrap();
    println!(
        "10,000 lines compiled in {:.2?} (debug build)",
        started.elapsed()
    );
    let run = run_module(module, &mut ScriptHost::default(), VmLimits::DEFAULT).unwrap();
    let reference = crate::common::run_source(
        "big.chr",
        &src,
        &mut ScriptHost::default(),
        Limits::default(),
    );
    let crate::common::Outcome::Value(expected) = reference else {
        panic!("{reference:?}")
    };
    assert_eq!(run.outcome, Expect::Value(expected.literal()));
}

// ---- the benchmark workloads ----

/// `crates/chronicle-bench/workloads/<name>.chr`, its full-size literal and
/// a small size to run it at in a debug build.
const WORKLOADS: [(&str, &str, &str); 4] = [
    ("fib", "fib(30)", "fib(20)"),
    ("loop", "20000000", "200000"),
    ("sieve", "2000000", "20000"),
    ("strings", "200000", "2000"),
];

/// The answer of workload `name` at size `n`, computed natively.
fn answer(name: &str, n: i64) -> i64 {
    fn fib(n: i64) -> i64 {
        if n < 2 {
            n
        } else {
            fib(n - 1) + fib(n - 2)
        }
    }
    match name {
        "fib" => fib(n),
        "loop" => (0..n).map(|i| (i * i) % 7).sum(),
        "sieve" => {
            let n = n as usize;
            let mut composite = vec![false; n];
            for i in (2..n).take_while(|i| i * i < n) {
                if !composite[i] {
                    (i * i..n).step_by(i).for_each(|j| composite[j] = true);
                }
            }
            (2..n).filter(|&k| !composite[k]).count() as i64
        }
        _ => (0..n).map(|i| i.to_string().len() as i64).sum(),
    }
}

fn workload(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../chronicle-bench/workloads")
        .join(format!("{name}.chr"));
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn benchmark_workloads_compile_and_compute_their_answers() {
    for (name, full, small) in WORKLOADS {
        let src = workload(name);
        assert!(src.contains(full), "{name} has no `{full}`");
        let size = |literal: &str| -> i64 {
            literal
                .trim_start_matches("fib(")
                .trim_end_matches(')')
                .parse()
                .unwrap()
        };
        let expect = parse_script(&src).map(|s| s.expect);
        assert_eq!(
            expect,
            Ok(Expect::Value(answer(name, size(full)).to_string())),
            "{name}: the expect line"
        );
        let module: Module = compile_or_render(name, &src).unwrap();
        verify(module).unwrap();
        let quick = src.replace(full, small);
        let run = run_module(
            compile_or_render(name, &quick).unwrap(),
            &mut ScriptHost::default(),
            VmLimits::UNBOUNDED,
        )
        .unwrap();
        assert_eq!(
            run.outcome,
            Expect::Value(answer(name, size(small)).to_string()),
            "{name}"
        );
    }
}

/// Every nesting the parser accepts compiles and verifies on a default
/// (2 MiB) test thread: code generation recursion is bounded too.
#[test]
fn maximal_nesting_compiles_on_a_small_stack() {
    let deep = 250;
    let programs = [
        format!(
            "fn main() -> int {{ return {}1{}; }}",
            "(".repeat(deep),
            ")".repeat(deep)
        ),
        format!(
            "fn main() -> int {{ return {}1{}; }}",
            "-(".repeat(deep / 2),
            ")".repeat(deep / 2)
        ),
        format!("fn main() -> bool {{ return {}true; }}", "!".repeat(deep)),
        format!("fn main() -> int {{ return 0{}; }}", " + 1".repeat(deep)),
        format!(
            "fn main() -> bool {{ let b = true; return b{}; }}",
            " && b".repeat(deep)
        ),
        format!(
            "fn main() -> str {{ return \"\"{}; }}",
            " + \"x\"".repeat(deep)
        ),
        format!(
            "fn main() -> int {{ let x = 0; {} return x; }}",
            "if x < 1 { ".repeat(deep / 2) + &"x = x + 1; }".repeat(deep / 2)
        ),
        format!(
            "fn main() {{ let x = [0]; {} }}",
            "while x[0] < 1 { ".repeat(deep / 2) + &"x[0] = 1; }".repeat(deep / 2)
        ),
        format!(
            "fn main() -> int {{ let x = {}0{}; return 0; }}",
            "[".repeat(30),
            "]".repeat(30)
        ),
    ];
    for src in &programs {
        match chronicle_lang::compile("deep.chr", src) {
            Ok(module) => {
                verify(module).unwrap_or_else(|e| panic!("{e}\n{src}"));
            }
            Err(errors) => panic!("{errors:?}\n{src}"),
        }
    }
}

#[test]
#[should_panic(expected = "iterations within")]
fn the_linearity_check_catches_a_quadratic_program() {
    // `t` keeps the old string alive, so each append copies all of it.
    assert_linear(
        "fn main() -> int {
             let s = \"\";
             let t = \"\";
             for i in 0..N { t = s; s = s + str(i); }
             return len(s) + len(t);
         }",
        20_000,
    );
}
