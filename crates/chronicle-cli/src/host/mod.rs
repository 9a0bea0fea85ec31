//! The CLI's built-in capabilities (SPEC §5), one module per family, all
//! version 1.0:
//!
//! | capability | module |
//! | --- | --- |
//! | `fs.read@1(path: str) -> str`, `fs.list@1(dir: str) -> [str]` | [`fs`] (path-scoped) |
//! | `clock.now@1() -> int` | [`clock`] |
//! | `random.int@1(lo: int, hi: int) -> int` | [`random`] |
//! | `env.get@1(name: str) -> str` | [`env`] |
//! | `log.write@1(level: str, msg: str)` | [`log`] |
//! | `kv.get@1(key: str) -> str`, `kv.put@1(key: str, value: str)` | [`kv`] |
//!
//! They live here, not in `chronicle-core`: the core knows no file, clock
//! or environment; an embedder brings its own capabilities. Whether a
//! plugin may call them is the policy's business, negotiated by the core
//! before the run; these functions only carry out granted calls, and the
//! path-scoped ones enforce their scope on every call.

pub mod clock;
pub mod env;
pub mod fs;
pub mod kv;
pub mod log;
pub mod random;

use chronicle_core::caps::{Binding, Decision, Entry, Registry};
use chronicle_core::types::{Signature, Type};
use chronicle_core::Limits;
use std::path::PathBuf;

/// What the built-ins need from the command line.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// The run's limits: reads are bounded by `string_bytes` and `array_len`.
    pub limits: Limits,
    /// The directory relative paths and policy globs are resolved against.
    pub cwd: PathBuf,
    /// The key-value store's file, if one was given (`--kv-store`).
    pub kv_store: Option<PathBuf>,
    /// The most bytes of keys plus values the store may hold (the policy's
    /// `max_bytes` on `kv.put@1`, else [`kv::DEFAULT_MAX_BYTES`]).
    pub kv_max_bytes: u64,
}

/// A registry offering every built-in capability.
pub fn builtins(config: &HostConfig) -> Registry<'static> {
    let mut registry = Registry::new();
    fs::register(&mut registry, config);
    clock::register(&mut registry);
    random::register(&mut registry);
    env::register(&mut registry);
    log::register(&mut registry);
    kv::register(&mut registry, config);
    registry
}

/// The scope column of `chronicle caps` (and of a trace's header): the
/// core's, plus where the key-value store lives for a kv grant, and its
/// `max_bytes` for kv.put.
pub fn scope_text(entry: &Entry, config: &HostConfig) -> String {
    let granted =
        entry.decision == Decision::Grant && matches!(entry.binding, Binding::Host { .. });
    if granted && entry.import.name.starts_with("kv.") {
        return match &config.kv_store {
            Some(path) if entry.import.name == "kv.put" => format!(
                "store {}, max_bytes {}",
                path.display(),
                config.kv_max_bytes
            ),
            Some(path) => format!("store {}", path.display()),
            None => "no store: calls fail (pass --kv-store FILE)".into(),
        };
    }
    entry.scope_text()
}

/// `(params) -> ret` in one expression.
fn sig(params: &[Type], ret: Option<Type>) -> Signature {
    Signature {
        params: params.to_vec(),
        ret,
    }
}

/// The string argument `i` (the VM has checked the types against the signature).
fn str_arg(args: &[chronicle_core::Value], i: usize) -> &str {
    args.get(i).and_then(|v| v.as_str()).unwrap_or_default()
}

/// The int argument `i`.
fn int_arg(args: &[chronicle_core::Value], i: usize) -> i64 {
    args.get(i).and_then(|v| v.as_int()).unwrap_or_default()
}
