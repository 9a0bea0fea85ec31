//! Running compiled programs: `compile` + `verify` + the chronicle-core VM,
//! with the same scripted capability host and the same result and error
//! words as the reference evaluator, so the two can be compared directly.

use std::rc::Rc;

use chronicle_core::value::Array;
use chronicle_core::vm::{CapabilityError, Host as VmHost, TrapKind, Vm};
use chronicle_core::{verify, Limits as VmLimits, Module, Value as VmValue};
use chronicle_lang::ast::Version;
use chronicle_lang::{compile, render_diagnostics, CheckedProgram, RenderConfig};

use super::reference::{Host, Value};
use super::Expect;

/// What a compiled run gave, in the words the corpus expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The value or the runtime error, as `// expect` lines write them.
    pub outcome: Expect,
    /// Instructions executed.
    pub instructions: u64,
    /// The source line the VM reported for a runtime error.
    pub error_line: Option<u32>,
}

/// Compiles `src` or renders its diagnostics.
pub fn compile_or_render(name: &str, src: &str) -> Result<Module, String> {
    compile(name, src)
        .map_err(|errors| render_diagnostics(name, src, &errors, RenderConfig::default()))
}

/// Verifies and runs a compiled module against a reference-style host.
pub fn run_module(module: Module, host: &mut dyn Host, limits: VmLimits) -> Result<Run, String> {
    let imports: Vec<(String, Version)> = module
        .imports
        .iter()
        .map(|i| {
            let v = Version {
                major: u32::from(i.version.major),
                minor: u32::from(i.version.minor),
            };
            (i.name.clone(), v)
        })
        .collect();
    let ret = module.funcs[usize::from(module.entry)].ret.clone();
    let verified = verify(module).map_err(|e| format!("compiled module fails to verify: {e}"))?;
    let mut vm = Vm::new(&verified, limits, Adapter { imports, host });
    let result = vm.run();
    let instructions = vm.instructions_executed();
    Ok(match result {
        Ok(value) => {
            debug_assert!(value.has_type(ret.as_ref()));
            Run {
                outcome: Expect::Value(to_reference(&value).literal()),
                instructions,
                error_line: None,
            }
        }
        Err(e) => Run {
            outcome: Expect::RuntimeError(trap_words(&e.kind)),
            instructions,
            error_line: Some(e.line),
        },
    })
}

/// Compiles a checked program and runs it.
pub fn run_checked(
    program: &CheckedProgram,
    host: &mut dyn Host,
    limits: VmLimits,
) -> Result<Run, String> {
    let module = chronicle_lang::compile_checked(program)
        .map_err(|e| format!("checked program does not compile: {e:?}"))?;
    run_module(module, host, limits)
}

/// A runtime error in the words of SPEC §8, without the limit's value or
/// the capability's reason (the reference evaluator knows neither).
pub fn trap_words(kind: &TrapKind) -> String {
    match kind {
        TrapKind::LimitExceeded { limit, .. } => format!("limit exceeded: {limit}"),
        TrapKind::Capability { .. } => "capability error".to_owned(),
        other => other.to_string(),
    }
}

/// A VM value as a reference value.
pub fn to_reference(v: &VmValue) -> Value {
    match v {
        VmValue::Unit => Value::Unit,
        VmValue::Int(i) => Value::Int(*i),
        VmValue::Bool(b) => Value::Bool(*b),
        VmValue::Str(s) => Value::Str(s.as_str().to_owned()),
        VmValue::Array(a) => Value::Array(a.iter().map(|x| to_reference(&x)).collect()),
    }
}

/// A reference value as a VM value (the VM normalises empty arrays).
pub fn to_vm(v: &Value) -> VmValue {
    match v {
        Value::Unit => VmValue::Unit,
        Value::Int(i) => VmValue::Int(*i),
        Value::Bool(b) => VmValue::Bool(*b),
        Value::Str(s) => VmValue::str(s.as_str()),
        Value::Array(items) if items.is_empty() => VmValue::Array(Rc::new(Array::Ref(Vec::new()))),
        Value::Array(items) => VmValue::array(items.iter().map(to_vm).collect()),
    }
}

/// Serves the VM's capability calls from a reference-evaluator host.
struct Adapter<'h> {
    imports: Vec<(String, Version)>,
    host: &'h mut dyn Host,
}

impl VmHost for Adapter<'_> {
    fn call(&mut self, import: u16, args: &[VmValue]) -> Result<VmValue, CapabilityError> {
        let (name, version) = &self.imports[usize::from(import)];
        let args: Vec<Value> = args.iter().map(to_reference).collect();
        self.host
            .call(name, *version, &args)
            .map(|v| to_vm(&v))
            .map_err(|()| CapabilityError::new("scripted failure"))
    }
}
