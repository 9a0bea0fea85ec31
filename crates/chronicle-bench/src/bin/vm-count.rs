//! Runs one hand-written benchmark workload on ChronicleVM and prints the
//! number of VM instructions it executed: with a host-instruction counter
//! around it (`valgrind --tool=callgrind`), the host instructions spent per
//! VM instruction, which `scripts/bench-check.sh` compares with a committed
//! baseline.
//!
//! ```text
//! vm-count WORKLOAD N [--traced]   # WORKLOAD: fib | loop | sieve | strings
//! ```
//!
//! With `--traced` the run is recorded as `chronicle trace` records it: a
//! [`Recorder`] with the default options (64 KiB chunks, LZ4, the BLAKE3
//! chain) as the VM's observer, then `finish`. The trace goes to
//! [`std::io::sink`], so what is counted is the recorder's work (encoding,
//! compressing, hashing), not a file system's.
#![forbid(unsafe_code)]

use chronicle_core::module::{Const, Module};
use chronicle_core::trace::{Recorder, TraceHeader};
use chronicle_core::vm::{NoHost, Vm};
use chronicle_core::{verify, Limits};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (name, n, traced) = match &args[..] {
        [name, n] => (name, n, false),
        [name, n, flag] if flag == "--traced" => (name, n, true),
        _ => {
            eprintln!("usage: vm-count fib|loop|sieve|strings N [--traced]");
            return ExitCode::from(2);
        }
    };
    let counted = workload(name, n).and_then(|m| if traced { traced_run(m) } else { run(m) });
    match counted {
        Ok(executed) => {
            println!("{executed}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vm-count: {e}");
            ExitCode::from(1)
        }
    }
}

/// Assembles `workloads/<name>.chasm` with size `n` (constant `k0`).
fn workload(name: &str, n: &str) -> Result<Module, String> {
    let n: i64 = n.parse().map_err(|e| format!("size {n:?}: {e}"))?;
    if !["fib", "loop", "sieve", "strings"].contains(&name) {
        return Err(format!("unknown workload {name:?}"));
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("workloads/{name}.chasm"));
    let source = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut module = chronicle_asm::parse(&source).map_err(|e| format!("{name}.chasm:{e}"))?;
    match module.consts.first_mut() {
        Some(k0 @ Const::Int(_)) => *k0 = Const::Int(n),
        _ => {
            return Err(format!(
                "{name}.chasm: constant k0 must be the problem size"
            ))
        }
    }
    Ok(module)
}

/// Runs `module` unbounded and returns the instructions executed.
fn run(module: Module) -> Result<u64, String> {
    let verified = verify(module).map_err(|e| e.to_string())?;
    let mut vm = Vm::new(&verified, Limits::UNBOUNDED, NoHost);
    vm.run().map_err(|e| e.to_string())?;
    Ok(vm.instructions_executed())
}

/// Runs `module` unbounded while recording a trace of it, and returns the
/// instructions executed (checked against the steps the trace recorded).
fn traced_run(module: Module) -> Result<u64, String> {
    let mut header = TraceHeader::new(&module);
    header.limits = Limits::UNBOUNDED;
    let mut recorder = Recorder::new(std::io::sink(), header).map_err(|e| e.to_string())?;
    let verified = recorder.module().clone();
    let limits = recorder.header().limits;
    let mut vm = Vm::with_observer(&verified, limits, NoHost, &mut recorder);
    let outcome = vm.run();
    let executed = vm.instructions_executed();
    drop(vm);
    let finished = recorder.finish(&outcome).map_err(|e| e.to_string())?;
    outcome.map_err(|e| e.to_string())?;
    if finished.steps != executed {
        return Err(format!(
            "the trace records {} steps, the VM executed {executed} instructions",
            finished.steps
        ));
    }
    Ok(executed)
}
