//! Lua 5.4 through mlua (vendored). Each `workloads/<name>.lua` chunk returns its
//! entry function `run(n)`; loading and running the chunk is the untimed part.

use super::{Error, Runner};
use crate::workload::Workload;

/// Prepares the idiomatic Lua version of `workload` (strings via `table.concat`).
pub fn prepare(workload: Workload, n: i64) -> Result<Option<Runner>, Error> {
    let source = match workload {
        Workload::Fib => include_str!("../../workloads/fib.lua"),
        Workload::Loop => include_str!("../../workloads/loop.lua"),
        Workload::Sieve => include_str!("../../workloads/sieve.lua"),
        Workload::Strings => include_str!("../../workloads/strings.lua"),
    };
    load(workload.name(), source, n).map(Some)
}

/// Prepares the naive, quadratic `s = s .. i` strings version; other workloads are n/a.
pub fn prepare_naive(workload: Workload, n: i64) -> Result<Option<Runner>, Error> {
    match workload {
        Workload::Strings => load(
            "strings_naive",
            include_str!("../../workloads/strings_naive.lua"),
            n,
        )
        .map(Some),
        _ => Ok(None),
    }
}

fn load(name: &str, source: &str, n: i64) -> Result<Runner, Error> {
    let lua = mlua::Lua::new();
    let run: mlua::Function = lua.load(source).set_name(format!("@{name}.lua")).eval()?;
    Ok(Box::new(move || {
        let _keep_state_alive = &lua;
        Ok(run.call::<i64>(n)?)
    }))
}
