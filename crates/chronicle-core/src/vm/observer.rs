//! The observer hook: how a trace recorder (or a test) sees execution.

use super::error::RuntimeError;
use super::host::CapabilityError;
use crate::isa::Instr;
use crate::types::Type;
use crate::value::Value;

/// Sees every executed instruction, register write, call, return and
/// capability call of a run.
///
/// The interpreter is generic over its observer; every hook call is guarded by
/// [`Observer::ACTIVE`], so with [`NoObserver`] the hooks compile away.
///
/// Order of events: [`enter`](Observer::enter) for the entry function, then per
/// instruction [`step`](Observer::step) once its effects are visible. For
/// `call`/`callu`, `step` comes when the call is made, then `enter` for the
/// callee; the callee's `ret` is stepped, then [`exit`](Observer::exit) reports
/// the returned value (already written to the caller's result register).
/// `cap`/`capu` report [`capability`](Observer::capability) before their `step`.
/// A failing instruction is not stepped: [`trap`](Observer::trap) reports it.
///
/// An observer must not change the run. One that keeps a string or array
/// beyond the hook must keep [`Value::unshared`] copies: a kept clone shares
/// storage with the run, which would then copy on its next write to it and
/// charge that copy to `alloc_bytes`, unlike an unobserved run.
#[allow(unused_variables)]
pub trait Observer {
    /// False only for observers whose hooks do nothing.
    const ACTIVE: bool = true;

    /// A frame of function `func` was entered, its arguments in place.
    fn enter(&mut self, func: u16, frame: FrameView<'_>) {}

    /// Instruction `pc` of `func` executed; its writes are visible in `frame`.
    fn step(&mut self, func: u16, pc: u16, instr: Instr, frame: FrameView<'_>) {}

    /// Function `func` returned `value` (unit for `retu`).
    fn exit(&mut self, func: u16, value: &Value) {}

    /// Capability import `import` was called with `args`, with this outcome.
    fn capability(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
    ) {
    }

    /// The hook the VM calls for a capability call: [`Observer::capability`]
    /// with what a successful call reported opening ([`Host::opened`](super::Host::opened)).
    /// By default it forwards to [`Observer::capability`], dropping `opened`;
    /// a recorder overrides it to keep the path.
    fn capability_opened(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
        opened: Option<&str>,
    ) {
        let _ = opened;
        self.capability(import, args, outcome);
    }

    /// The run stopped with this error (not
    /// [`TrapKind::Halted`](super::TrapKind::Halted), which the observer
    /// asked for).
    fn trap(&mut self, error: &RuntimeError) {}

    /// Whether the run should stop. Asked every [`HALT_CHECK_EVERY`] units
    /// of fuel or so; when true, the run ends with
    /// [`TrapKind::Halted`](super::TrapKind::Halted).
    /// Replay halts a run that has diverged from its recording, so that it
    /// does not go on to the recorded limit.
    fn halted(&self) -> bool {
        false
    }
}

/// How much fuel a run with an active observer uses between two
/// [`Observer::halted`] questions (at most; the end of the run comes first).
pub const HALT_CHECK_EVERY: u64 = 1 << 16;

/// The observer that observes nothing, at no cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    const ACTIVE: bool = false;
}

/// Read access to the registers of the current frame.
#[derive(Clone, Copy)]
pub struct FrameView<'a> {
    pub(crate) ints: &'a [i64],
    pub(crate) refs: &'a [Value],
    pub(crate) types: &'a [Type],
}

impl<'a> FrameView<'a> {
    /// The integer file's value of an `int` or `bool` register (`bool` as
    /// 0 or 1), without building a [`Value`]; `None` if `reg` is outside the
    /// frame or holds a `str` or an array.
    #[inline]
    pub fn scalar(&self, reg: u16) -> Option<i64> {
        let r = usize::from(reg);
        match self.types.get(r)? {
            Type::Int | Type::Bool => self.ints.get(r).copied(),
            Type::Str | Type::Array(_) => None,
        }
    }

    /// The reference file's value of a `str` or array register, borrowed;
    /// `None` if `reg` is outside the frame or holds an `int` or `bool`.
    #[inline]
    pub fn reference(&self, reg: u16) -> Option<&'a Value> {
        let r = usize::from(reg);
        match self.types.get(r)? {
            Type::Str | Type::Array(_) => self.refs.get(r),
            Type::Int | Type::Bool => None,
        }
    }

    /// The number of registers.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the frame has no registers.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The value of register `reg`, typed by the function's register table;
    /// `None` if `reg` is outside the frame.
    #[inline]
    pub fn get(&self, reg: u16) -> Option<Value> {
        let r = usize::from(reg);
        Some(match self.types.get(r)? {
            Type::Int => Value::Int(*self.ints.get(r)?),
            Type::Bool => Value::Bool(*self.ints.get(r)? != 0),
            Type::Str | Type::Array(_) => self.refs.get(r)?.clone(),
        })
    }
}
