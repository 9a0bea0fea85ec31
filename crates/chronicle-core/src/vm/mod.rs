//! The interpreter: runs a [`VerifiedModule`] within [`Limits`].
//!
//! # Frames
//! A frame has two register files: an integer file (`int` and `bool`, as
//! `i64`) and a reference file (`str` and arrays, as [`Value`]). Register `r`
//! lives at offset `r` of the file its declared type selects, so integer
//! instructions touch plain `i64`s with no tag checks and no drop glue, and a
//! frame with no reference registers costs nothing in the reference file.
//! Frames are stacked in two growable vectors, each with its own base; a call
//! extends each by the callee's slots and a return truncates them.
//!
//! **Invariants:** the VM reads no clock, randomness, environment or file:
//! every outside input comes through [`Host`]. It allocates only for values
//! the plugin creates, each bounded by [`Limits`]. Given the same module,
//! limits and capability results, a run is deterministic, instruction count
//! included.

mod error;
mod fast;
mod frame;
mod host;
mod interp;
mod observer;

pub use error::{RuntimeError, TrapKind};
pub use host::{CapabilityError, Host, NoHost};
pub use observer::{FrameView, NoObserver, Observer, HALT_CHECK_EVERY};

use crate::limits::Limits;
use crate::value::Value;
use crate::verify::VerifiedModule;

/// One execution context: a verified module, its limits, its host and an observer.
pub struct Vm<'m, H, O = NoObserver> {
    module: &'m VerifiedModule,
    limits: Limits,
    host: H,
    observer: O,
    host_work: bool,
    state: State,
}

/// Everything a run mutates.
#[derive(Default)]
struct State {
    stack: frame::Stack,
    executed: u64,
    fuel_used: u64,
    allocated: u64,
}

impl<'m, H: Host> Vm<'m, H, NoObserver> {
    /// A VM that runs `module` within `limits`, calling capabilities on `host`.
    pub fn new(module: &'m VerifiedModule, limits: Limits, host: H) -> Self {
        Vm::with_observer(module, limits, host, NoObserver)
    }
}

impl<'m, H: Host, O: Observer> Vm<'m, H, O> {
    /// A VM whose every step `observer` sees.
    pub fn with_observer(module: &'m VerifiedModule, limits: Limits, host: H, observer: O) -> Self {
        Vm {
            module,
            limits,
            host,
            observer,
            host_work: true,
            state: State::default(),
        }
    }

    /// Whether capability calls take fuel for the bytes they move (the
    /// default, `true`): one unit per 64 bytes of the arguments, as
    /// `alloc_bytes` counts them, before the call, and one per 64 bytes of
    /// the result after it (see [`crate::isa`], "Fuel"). Replay turns it
    /// off for recordings made before the rule (trace format version 2 and
    /// earlier), so they replay as they ran.
    pub fn charge_host_work(mut self, on: bool) -> Self {
        self.host_work = on;
        self
    }

    /// Runs the entry function to completion and returns its result
    /// (`Value::Unit` for a unit entry function). Each call starts afresh.
    pub fn run(&mut self) -> Result<Value, RuntimeError> {
        self.state = State::default();
        interp::execute(self)
    }

    /// Instructions executed by the last run (the `instructions` limit's measure).
    pub fn instructions_executed(&self) -> u64 {
        self.state.executed
    }

    /// Fuel the last run used, what the `instructions` limit measures: one
    /// unit an instruction plus one per 64 bytes a comparison, search or
    /// parse goes through, or a capability call moves (see [`crate::isa`],
    /// "Fuel").
    pub fn fuel_used(&self) -> u64 {
        self.state.fuel_used
    }

    /// Bytes the last run allocated, as the `alloc_bytes` limit counts them
    /// (see [`crate::limits::alloc_cost`]).
    pub fn bytes_allocated(&self) -> u64 {
        self.state.allocated
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }

    /// The host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// Gives back the host and the observer.
    pub fn into_parts(self) -> (H, O) {
        (self.host, self.observer)
    }
}

/// Runs `module` within `limits` against `host`: the common case in one call.
pub fn run(
    module: &VerifiedModule,
    limits: Limits,
    host: impl Host,
) -> Result<Value, RuntimeError> {
    Vm::new(module, limits, host).run()
}
