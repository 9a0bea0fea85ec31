//! Source-level variable names for registers, recovered without changing
//! the module format: the debugger recompiles the trace's embedded `.chr`
//! source and trusts the compiler's register map only if the recompiled
//! module encodes to exactly the embedded module bytes.

use chronicle_core::format;
use chronicle_core::trace::TraceHeader;
use chronicle_lang::codegen::VarInfo;

/// The variables of a module: which register holds which variable over
/// which instructions.
#[derive(Clone, Debug, Default)]
pub struct Names {
    vars: Vec<VarInfo>,
}

impl Names {
    /// The names for a trace, if its header holds `.chr` source that
    /// recompiles to the very module that ran.
    pub fn from_header(h: &TraceHeader) -> Option<Names> {
        let src = h.source.as_deref()?;
        let (module, vars) = chronicle_lang::compile_with_names(&h.plugin_name, src).ok()?;
        (format::encode(&module) == h.module).then_some(Names { vars })
    }

    /// The variable in register `reg` of function `func` at instruction `pc`.
    pub fn name(&self, func: u16, reg: u16, pc: u16) -> Option<&str> {
        self.vars
            .iter()
            .filter(|v| v.func == func && v.reg == reg && v.pcs.contains(&pc))
            .min_by_key(|v| v.pcs.len())
            .map(|v| v.name.as_str())
    }

    /// The register holding variable `name` in `func` at `pc`.
    pub fn register(&self, func: u16, name: &str, pc: u16) -> Option<u16> {
        self.vars
            .iter()
            .filter(|v| v.func == func && v.name == name && v.pcs.contains(&pc))
            .min_by_key(|v| v.pcs.len())
            .map(|v| v.reg)
    }
}
