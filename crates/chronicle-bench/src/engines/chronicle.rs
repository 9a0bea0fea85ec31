//! ChronicleVM engines: hand-written assembly ("chronicle-asm" column) and
//! compiled `.chr` source ("chronicle-chr" column).
//!
//! `workloads/<name>.chasm` reads the problem size `n` from constant `k0`;
//! in `workloads/<name>.chr` the size is the integer literal on the line
//! marked `// n`. Preparation (untimed) reads the file, sets the size,
//! assembles or compiles it and verifies the module; the timed runner executes
//! the entry function once on the interpreter, without any limit
//! (`Limits::UNBOUNDED`), and returns its `int` result.

use super::{Error, Runner};
use crate::workload::Workload;
use chronicle_core::module::Const;
use chronicle_core::{verify, vm, Limits, Value};
use std::path::PathBuf;

/// Path of the hand-written assembly source of workload `name` (`"fib"`, `"loop"`,
/// `"sieve"` or `"strings"`): `crates/chronicle-bench/workloads/<name>.chasm`.
pub fn asm_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("workloads")
        .join(format!("{name}.chasm"))
}

/// Engine entry point for the registry: dispatches to the per-workload functions.
pub fn prepare(workload: Workload, n: i64) -> Result<Option<Runner>, Error> {
    match workload {
        Workload::Fib => fib(n),
        Workload::Loop => loop_(n),
        Workload::Sieve => sieve(n),
        Workload::Strings => strings(n),
    }
}

/// Prepares `workloads/fib.chasm`: recursive fib(n).
pub fn fib(n: i64) -> Result<Option<Runner>, Error> {
    prepare_asm("fib", n)
}

/// Prepares `workloads/loop.chasm`: sum of (i*i) % 7 for i in 0..n.
pub fn loop_(n: i64) -> Result<Option<Runner>, Error> {
    prepare_asm("loop", n)
}

/// Prepares `workloads/sieve.chasm`: number of primes below n.
pub fn sieve(n: i64) -> Result<Option<Runner>, Error> {
    prepare_asm("sieve", n)
}

/// Prepares `workloads/strings.chasm`: byte length of the decimal strings of
/// 0..n appended to one string.
pub fn strings(n: i64) -> Result<Option<Runner>, Error> {
    prepare_asm("strings", n)
}

/// Assembles `workloads/<name>.chasm` with `k0 = n` and verifies it.
fn prepare_asm(name: &str, n: i64) -> Result<Option<Runner>, Error> {
    let source = std::fs::read_to_string(asm_path(name))?;
    let mut module = chronicle_asm::parse(&source).map_err(|e| format!("{name}.chasm:{e}"))?;
    match module.consts.first_mut() {
        Some(k0 @ Const::Int(_)) => *k0 = Const::Int(n),
        _ => return Err(format!("{name}.chasm: constant k0 must be the int problem size").into()),
    }
    runner(name, module)
}

/// Engine entry point for compiled `.chr` workloads.
pub fn prepare_chr(workload: Workload, n: i64) -> Result<Option<Runner>, Error> {
    let name = match workload {
        Workload::Fib => "fib",
        Workload::Loop => "loop",
        Workload::Sieve => "sieve",
        Workload::Strings => "strings",
    };
    let path = asm_path(name).with_extension("chr");
    let source = std::fs::read_to_string(&path)?;
    let sized = with_size(&source, n)
        .ok_or_else(|| format!("{name}.chr: no integer literal on a line marked `// n`"))?;
    let module = chronicle_lang::compile(&format!("{name}.chr"), &sized).map_err(|errors| {
        format!(
            "{name}.chr: {}",
            chronicle_lang::render_diagnostics(
                &format!("{name}.chr"),
                &sized,
                &errors,
                Default::default()
            )
        )
    })?;
    runner(name, module)
}

/// `source` with the last integer literal before the `// n` comment that
/// ends a line replaced by `n`.
fn with_size(source: &str, n: i64) -> Option<String> {
    let mut out = String::with_capacity(source.len());
    let mut found = false;
    for line in source.split_inclusive('\n') {
        let code = line.trim_end().strip_suffix("// n").filter(|_| !found);
        let Some(code) = code else {
            out.push_str(line);
            continue;
        };
        let end = code.rfind(|c: char| c.is_ascii_digit())? + 1;
        let start = code[..end]
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        out.push_str(&line[..start]);
        out.push_str(&n.to_string());
        out.push_str(&line[end..]);
        found = true;
    }
    found.then_some(out)
}

/// Verifies `module` and returns the runner that executes it.
fn runner(name: &str, module: chronicle_core::Module) -> Result<Option<Runner>, Error> {
    let verified = verify(module).map_err(|e| format!("{name}: {e}"))?;
    let name = name.to_owned();
    Ok(Some(Box::new(move || {
        match vm::run(&verified, Limits::UNBOUNDED, vm::NoHost)? {
            Value::Int(v) => Ok(v),
            other => Err(format!("{name} returned {other}, not an int").into()),
        }
    })))
}
