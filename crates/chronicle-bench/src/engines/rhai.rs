//! Rhai. Each `workloads/<name>.rhai` script defines `fn run(n)`; compiling it to an
//! AST is the untimed part, calling `run` is timed.

use super::{Error, Runner};
use crate::workload::Workload;
use rhai::{CallFnOptions, Scope};

/// Prepares the Rhai version of `workload`.
pub fn prepare(workload: Workload, n: i64) -> Result<Option<Runner>, Error> {
    let source = match workload {
        Workload::Fib => include_str!("../../workloads/fib.rhai"),
        Workload::Loop => include_str!("../../workloads/loop.rhai"),
        Workload::Sieve => include_str!("../../workloads/sieve.rhai"),
        Workload::Strings => include_str!("../../workloads/strings.rhai"),
    };
    let mut engine = rhai::Engine::new();
    // Debug builds of Rhai default to 8 call levels, too few for fib.
    engine.set_max_call_levels(256);
    let ast = engine.compile(source)?;
    let mut scope = Scope::new();
    Ok(Some(Box::new(move || {
        // The scripts have no top-level statements, so skip evaluating the AST body.
        let options = CallFnOptions::new().eval_ast(false);
        Ok(engine.call_fn_with_options::<i64>(options, &mut scope, &ast, "run", (n,))?)
    })))
}
