//! The engine abstraction and the registry of engines the harness knows.
//!
//! An engine is one function, [`Engine::prepare`]: given a workload and its size it
//! does everything that must stay *outside* the timed region (parse, compile,
//! validate, instantiate, define functions) and returns a [`Runner`], or `None` if
//! the engine does not implement that workload (reported as "n/a"). The harness then
//! times only calls of the runner. Adding an engine (e.g. a future "chronicle-chr"
//! variant running compiled `.chr` programs) means writing one `prepare` function and
//! adding one line to [`ALL`].

pub mod chronicle;
pub mod lua;
pub mod rhai;
pub mod wasmi;

use crate::workload::Workload;

/// Any error an engine reports while preparing or running a workload.
pub type Error = Box<dyn std::error::Error>;

/// A prepared workload: each call runs it once (this is the timed part) and returns
/// its answer. It may be called several times.
pub type Runner = Box<dyn FnMut() -> Result<i64, Error>>;

/// Prepares `workload` with problem size `n` (untimed). `Ok(None)` means the engine
/// has no implementation of this workload, or is not available at all.
pub type PrepareFn = fn(workload: Workload, n: i64) -> Result<Option<Runner>, Error>;

/// One engine (one column of the report).
pub struct Engine {
    /// Short name, used with `--engines`, `--baseline` and as the column header.
    pub name: &'static str,
    /// Human-readable description (engine and version / how it is driven).
    pub description: &'static str,
    /// Only run when asked for explicitly (`--engines NAME` or its own flag).
    pub opt_in: bool,
    /// Untimed preparation, see [`PrepareFn`].
    pub prepare: PrepareFn,
}

/// Name of the engine the ratios are computed against by default.
pub const BASELINE: &str = "chronicle-asm";

/// Every engine, in column order.
pub const ALL: &[Engine] = &[
    Engine {
        name: "chronicle-asm",
        description: "ChronicleVM, hand-written .chasm via chronicle-asm",
        opt_in: false,
        prepare: chronicle::prepare,
    },
    Engine {
        name: "chronicle-chr",
        description: "ChronicleVM, .chr source compiled by chronicle-lang",
        opt_in: false,
        prepare: chronicle::prepare_chr,
    },
    Engine {
        name: "lua",
        description: "Lua 5.4 (mlua, vendored)",
        opt_in: false,
        prepare: lua::prepare,
    },
    Engine {
        name: "lua-naive",
        description: "Lua 5.4, strings with quadratic `s = s .. i`",
        opt_in: true,
        prepare: lua::prepare_naive,
    },
    Engine {
        name: "wasmi",
        description: "wasmi 2 (WAT compiled eagerly)",
        opt_in: false,
        prepare: wasmi::prepare,
    },
    Engine {
        name: "rhai",
        description: "Rhai 1 (scripts compiled to AST)",
        opt_in: false,
        prepare: rhai::prepare,
    },
];

/// Looks an engine up by [`Engine::name`].
pub fn by_name(name: &str) -> Option<&'static Engine> {
    ALL.iter().find(|e| e.name == name)
}
