//! Runs one hand-written benchmark workload on ChronicleVM and prints the
//! number of VM instructions it executed: with a host-instruction counter
//! around it (`valgrind --tool=callgrind`), the host instructions spent per
//! VM instruction, which `scripts/bench-check.sh` compares with a committed
//! baseline.
//!
//! ```text
//! vm-count WORKLOAD N     # WORKLOAD: fib | loop | sieve | strings
//! ```
#![forbid(unsafe_code)]

use chronicle_core::module::Const;
use chronicle_core::vm::{NoHost, Vm};
use chronicle_core::{verify, Limits};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, n] = &args[..] else {
        eprintln!("usage: vm-count fib|loop|sieve|strings N");
        return ExitCode::from(2);
    };
    match count(name, n) {
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

/// Assembles `workloads/<name>.chasm` with size `n` (constant `k0`), runs it
/// unbounded and returns the instructions executed.
fn count(name: &str, n: &str) -> Result<u64, String> {
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
    let verified = verify(module).map_err(|e| e.to_string())?;
    let mut vm = Vm::new(&verified, Limits::UNBOUNDED, NoHost);
    vm.run().map_err(|e| e.to_string())?;
    Ok(vm.instructions_executed())
}
