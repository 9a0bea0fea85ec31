//! ChronicleVM engine ("chronicle-asm" column): hand-written assembly.
//!
//! Each workload is `crates/chronicle-bench/workloads/<name>.chasm`, whose
//! entry function reads the problem size `n` from constant `k0`. Preparation
//! (untimed) reads the file, assembles it, sets `k0 = n`, verifies the module;
//! the timed runner executes the entry function once on the interpreter,
//! without any limit (`Limits::UNBOUNDED`), and returns its `int` result.

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
    let verified = verify(module).map_err(|e| format!("{name}.chasm: {e}"))?;
    let name = name.to_owned();
    Ok(Some(Box::new(move || {
        match vm::run(&verified, Limits::UNBOUNDED, vm::NoHost)? {
            Value::Int(v) => Ok(v),
            other => Err(format!("{name}.chasm returned {other}, not an int").into()),
        }
    })))
}
