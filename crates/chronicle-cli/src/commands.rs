//! The subcommands: each turns parsed arguments into output or a [`Failure`].

use crate::args::{BuildArgs, DisasmArgs, RunArgs};
use crate::failure::Failure;
use crate::load::{load_module, load_verified};
use chronicle_core::vm::{self, NoHost, RuntimeError, TrapKind};
use chronicle_core::{format, Value, VerifiedModule};
use serde_json::json;
use std::io::Write;

/// `chronicle run`: verify, negotiate, run, print the result literal.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let module = load_verified(&args.plugin)?;
    negotiate(&module)?;
    let limits = args.limits.limits();
    let mut machine = vm::Vm::new(&module, limits, NoHost);
    let outcome = machine.run();
    let executed = machine.instructions_executed();
    match outcome {
        Ok(value) => {
            if args.json {
                print_line(&json!({ "ok": true, "result": to_json(&value), "literal": value.to_string(), "instructions": executed }).to_string());
            } else if value != Value::Unit {
                print_line(&value.to_string());
            }
            Ok(())
        }
        Err(error) => {
            if args.json {
                print_line(
                    &json!({ "ok": false, "error": error_json(&error), "instructions": executed })
                        .to_string(),
                );
            }
            Err(runtime_failure(&error))
        }
    }
}

/// Capability negotiation. Policies are not supported by this build, so
/// every import is denied (deny by default) and the run fails before any
/// plugin instruction executes, with one line per import.
fn negotiate(module: &VerifiedModule) -> Result<(), Failure> {
    let imports = &module.module().imports;
    if imports.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = imports
        .iter()
        .map(|imp| {
            format!(
                "  capability {}@{}{}: denied (no policy grants it)",
                imp.name, imp.version, imp.sig
            )
        })
        .collect();
    Err(Failure::input(format!(
        "capability negotiation failed: {} capabilit{} denied\n{}",
        imports.len(),
        if imports.len() == 1 { "y" } else { "ies" },
        lines.join("\n")
    ))
    .hint("capabilities are denied by default; this build runs only plugins that import none"))
}

/// `chronicle build`: assemble (or re-encode) and write a `.cbc` module.
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

fn runtime_failure(error: &RuntimeError) -> Failure {
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

fn error_json(error: &RuntimeError) -> serde_json::Value {
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
fn to_json(value: &Value) -> serde_json::Value {
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
fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}
