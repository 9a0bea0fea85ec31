//! The boundary through which a plugin reaches its host: capability calls.

use crate::value::Value;
use std::fmt;

/// Carries out the capability calls of one run. Import indices are the
/// module's; the VM has checked the arguments against the import's signature
/// and checks the result the same way.
///
/// **Invariant:** the VM itself never reads a clock, a random source, the
/// environment or a file: every input from the world enters here.
pub trait Host {
    /// Performs capability import `import` with `args`; returns its result
    /// (`Value::Unit` for a unit capability) or why it failed.
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError>;

    /// What the last successful [`Host::call`] opened, if it says (e.g. the
    /// path a file capability opened, relative to its granted root), taken
    /// so that a second question gets `None`. The VM asks right after each
    /// successful call of an observed run and hands the answer to
    /// [`Observer::capability_opened`](super::Observer::capability_opened).
    /// Default: nothing.
    fn opened(&mut self) -> Option<String> {
        None
    }
}

/// A host that grants nothing: every call fails. Useful for modules that import no capability.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHost;

impl Host for NoHost {
    fn call(&mut self, _import: u16, _args: &[Value]) -> Result<Value, CapabilityError> {
        Err(CapabilityError::new(
            "no capability is available to this run",
        ))
    }
}

impl<H: Host + ?Sized> Host for &mut H {
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        (**self).call(import, args)
    }

    fn opened(&mut self) -> Option<String> {
        (**self).opened()
    }
}

/// Why a capability call failed, as the host reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilityError {
    /// A one-line reason, e.g. `path "/etc/passwd" is outside the granted scope`.
    pub reason: String,
}

impl CapabilityError {
    /// An error with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        CapabilityError {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CapabilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for CapabilityError {}
