//! The subcommands: each turns parsed arguments into output or a [`Failure`].

use crate::args::{BuildArgs, CapsArgs, CheckArgs, DisasmArgs, LimitArgs, PolicyArgs, RunArgs};
use crate::failure::Failure;
use crate::host::{self, HostConfig};
use crate::load::{load_module, load_verified};
use chronicle_core::caps::{NegotiationError, Policy, Registry, Session};
use chronicle_core::vm::{NoObserver, RuntimeError, TrapKind};
use chronicle_core::{format, Limits, Value, VerifiedModule};
use serde_json::json;
use std::io::Write;

/// `chronicle run`: verify, negotiate, run, print the result literal.
///
/// Negotiation comes first and no plugin instruction runs unless it
/// succeeds: the VM is only reachable through the negotiated session.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let module = load_verified(&args.plugin)?;
    let setup = Setup::new(&args.policy, &args.limits)?;
    let mut registry = host::builtins(&setup.config);
    let mut session = setup.negotiate(&mut registry, &module, &args.policy)?;
    let mut machine = session.vm(setup.limits, NoObserver);
    let outcome = machine.run();
    let executed = machine.instructions_executed();
    print_outcome(outcome, executed, args.json)
}

/// What a run needs besides the module: the policy, the limits (flags,
/// then the policy's `[limits]`, then the defaults) and the host's
/// configuration. Shared by `run` and `trace`, so that a traced run is
/// exactly a run.
pub struct Setup {
    /// The policy of `--policy` (deny-all without one).
    pub policy: Policy,
    /// The run's limits.
    pub limits: Limits,
    /// What the built-in capabilities need.
    pub config: HostConfig,
}

impl Setup {
    /// Reads the policy and works out the limits and the host configuration.
    pub fn new(policy: &PolicyArgs, limits: &LimitArgs) -> Result<Setup, Failure> {
        let parsed = load_policy(policy)?;
        let limits = limits.limits(&parsed);
        let config = host_config(policy, &parsed, limits)?;
        Ok(Setup {
            policy: parsed,
            limits,
            config,
        })
    }

    /// Negotiates `module`'s imports with `registry` under the policy:
    /// nothing runs unless this succeeds.
    pub fn negotiate<'r, 'a, 'm>(
        &self,
        registry: &'r mut Registry<'a>,
        module: &'m VerifiedModule,
        args: &PolicyArgs,
    ) -> Result<Session<'r, 'a, 'm>, Failure> {
        registry
            .negotiate(module, &self.policy)
            .map_err(|e| negotiation_failure(&e, args))
    }
}

/// Prints a run's outcome as `run` does (the result literal, or one JSON
/// object with `json`); a runtime error becomes a runtime failure (exit 1).
pub fn print_outcome(
    outcome: Result<Value, RuntimeError>,
    executed: u64,
    json: bool,
) -> Result<(), Failure> {
    match outcome {
        Ok(value) => {
            if json {
                print_line(&json!({ "ok": true, "result": to_json(&value), "literal": value.to_string(), "instructions": executed }).to_string());
            } else if value != Value::Unit {
                print_line(&value.to_string());
            }
            Ok(())
        }
        Err(error) => {
            if json {
                print_line(
                    &json!({ "ok": false, "error": error_json(&error), "instructions": executed })
                        .to_string(),
                );
            }
            Err(runtime_failure(&error))
        }
    }
}

/// `chronicle caps`: the negotiation table (import, offered version,
/// decision, scope) on stdout, without running anything. Exit 0 if
/// negotiation succeeds, 2 with one line per problem if it does not.
pub fn caps(args: &CapsArgs) -> Result<(), Failure> {
    let module = load_verified(&args.plugin)?;
    let policy = load_policy(&args.policy)?;
    let config = host_config(&args.policy, &policy, policy.limits())?;
    let registry = host::builtins(&config);
    let table = chronicle_core::caps::negotiate(module.module(), registry.offers(), &policy)
        .map_err(|e| negotiation_failure(&e, &args.policy))?;
    let text = table.table_with(|entry| host::scope_text(entry, &config));
    let mut out = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not an error.
    let _ = out.write_all(text.as_bytes());
    Ok(())
}

/// The policy of `--policy`, or the deny-all policy without one. A policy
/// that cannot be read or parsed is an input failure: it grants nothing.
fn load_policy(args: &PolicyArgs) -> Result<Policy, Failure> {
    let Some(path) = &args.policy else {
        return Ok(Policy::deny_all());
    };
    let bytes = crate::load::read_bounded(path, "policy ")?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::input(format!(
            "policy {}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
        .hint("a policy is a TOML text file")
    })?;
    Policy::parse(&path.display().to_string(), &text).map_err(|e| {
        Failure::input(format!("invalid policy: {e}"))
            .hint("a policy that does not parse grants nothing; see docs/POLICY.md for the format")
    })
}

/// What the built-ins need: the limits, the directory, the store and its
/// bound. `max_bytes` belongs on `kv.put@1` only: elsewhere it is an
/// input failure at its `file:line:col`, as a policy error is.
pub fn host_config(
    args: &PolicyArgs,
    policy: &Policy,
    limits: Limits,
) -> Result<HostConfig, Failure> {
    if let Some(rule) = policy
        .rules()
        .find(|r| r.max_bytes().is_some() && r.key() != "kv.put@1")
    {
        let e = policy.max_bytes_error(
            rule,
            format!(
                "{} stores nothing: `max_bytes` bounds the key-value store, on kv.put@1",
                rule.key()
            ),
        );
        return Err(Failure::input(format!("invalid policy: {e}"))
            .hint("see docs/POLICY.md for the format"));
    }
    let kv_max_bytes = policy
        .rule("kv.put@1")
        .and_then(|r| r.max_bytes())
        .unwrap_or(host::kv::DEFAULT_MAX_BYTES);
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Failure::input(format!("cannot resolve the current directory: {e}")))?;
    Ok(HostConfig {
        limits,
        cwd,
        kv_store: args.kv_store.clone(),
        kv_max_bytes,
    })
}

/// Negotiation failed: every problem on its own line, before anything ran.
fn negotiation_failure(error: &NegotiationError, args: &PolicyArgs) -> Failure {
    let hint = match &args.policy {
        None => "capabilities are denied by default: pass --policy P.toml granting them (see docs/POLICY.md)",
        Some(_) => "fix the policy or the plugin's imports; `chronicle caps PLUGIN --policy P` shows the negotiation",
    };
    Failure::input(error).hint(hint)
}

/// `chronicle check`: type-check a `.chr` plugin; nothing runs.
pub fn check(args: &CheckArgs) -> Result<(), Failure> {
    crate::load::check_source(&args.plugin)?;
    eprintln!("{}: no errors", args.plugin.display());
    Ok(())
}

/// `chronicle build`: compile or assemble (or re-encode) and write a `.cbc` module.
pub fn build(args: &BuildArgs) -> Result<(), Failure> {
    let module = load_verified(&args.plugin)?;
    let bytes = format::encode(module.module());
    write_atomically(&args.out, &bytes)?;
    eprintln!("wrote {} ({} bytes)", args.out.display(), bytes.len());
    Ok(())
}

/// `chronicle disasm`: print a module as assembly. The module is not
/// verified, so ill-formed modules can be inspected too.
pub fn disasm(args: &DisasmArgs) -> Result<(), Failure> {
    let module = load_module(&args.module)?;
    let text = chronicle_asm::print(&module);
    let mut out = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not an error.
    let _ = out.write_all(text.as_bytes());
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that
/// an interrupted write never leaves a partial module behind.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let fail = |e: std::io::Error| Failure::input(format!("cannot write {}: {e}", path.display()));
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

pub fn runtime_failure(error: &RuntimeError) -> Failure {
    let hint = match &error.kind {
        TrapKind::LimitExceeded { limit, .. } => {
            format!(
                "raise the limit with --{} N, or pass --unbounded for trusted plugins",
                limit.name().replace('_', "-")
            )
        }
        TrapKind::Capability { .. } => {
            "check the capability's grant and scope in the policy".to_string()
        }
        TrapKind::Internal(_) => {
            "this is a bug in ChronicleVM; please report it with the module".to_string()
        }
        _ => "the plugin stopped with a runtime error".to_string(),
    };
    Failure::runtime(error).hint(hint)
}

pub fn error_json(error: &RuntimeError) -> serde_json::Value {
    let mut obj = json!({
        "kind": error.kind.name(),
        "message": error.kind.to_string(),
        "function": error.func_name,
        "pc": error.pc,
        "line": error.line,
    });
    if let TrapKind::LimitExceeded { limit, value } = &error.kind {
        obj["limit"] = json!(limit.name());
        obj["value"] = json!(value);
    }
    obj
}

/// A value as JSON: unit is `null`.
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Unit => serde_json::Value::Null,
        Value::Int(v) => json!(v),
        Value::Bool(v) => json!(v),
        Value::Str(s) => json!(s.as_str()),
        Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|v| to_json(&v)).collect())
        }
    }
}

/// Prints one line on stdout; a closed pipe is not an error.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}
