//! wasmi 2. Each `workloads/<name>.wat` module exports `run(i64) -> i64`. Text to
//! binary (`wat`), eager compilation and instantiation are the untimed part.
//! There is no strings workload for WebAssembly (no string type): reported as n/a.

use super::{Error, Runner};
use crate::workload::Workload;
use wasmi::{CompilationMode, Config, Linker, Module, Store};

/// Prepares the WebAssembly version of `workload` (`None` for strings).
pub fn prepare(workload: Workload, n: i64) -> Result<Option<Runner>, Error> {
    let source = match workload {
        Workload::Fib => include_str!("../../workloads/fib.wat"),
        Workload::Loop => include_str!("../../workloads/loop.wat"),
        Workload::Sieve => include_str!("../../workloads/sieve.wat"),
        Workload::Strings => return Ok(None),
    };
    let wasm = wat::parse_str(source)?;
    let mut config = Config::default();
    // Translate every function now rather than lazily on first call (inside the timing).
    config.compilation_mode(CompilationMode::Eager);
    let engine = wasmi::Engine::new(&config);
    let module = Module::new(&engine, &wasm)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::<()>::new(&engine).instantiate_and_start(&mut store, &module)?;
    let run = instance.get_typed_func::<i64, i64>(&store, "run")?;
    Ok(Some(Box::new(move || Ok(run.call(&mut store, n)?))))
}
