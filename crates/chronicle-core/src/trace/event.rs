//! The event model: what a trace says happened, one [`Event`] per observer
//! hook, as the reader decodes it and as [`Collector`] sees it live.

use super::effect::{Effect, ExecMap};
use super::encode::MAX_OPENED_PATH;
use crate::isa::Instr;
use crate::module::Module;
use crate::value::Value;
use crate::verify::VerifiedModule;
use crate::vm::{CapabilityError, FrameView, Observer, RuntimeError};
use std::fmt;

/// One event of a run, in the order the VM's observer hooks report them.
///
/// Values are shared (reference-counted) with the reader's register state,
/// so events are cheap to make; holding one while reading on costs a copy
/// of a string or array only if a later event mutates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A frame of `func` was entered: the entry function at the start of the
    /// run, or a callee after the caller's `call` step.
    Enter {
        /// The function.
        func: u16,
        /// Its arguments (registers `0 .. params`).
        args: Vec<Value>,
    },
    /// Instruction `pc` of `func` executed.
    Step {
        /// The function.
        func: u16,
        /// The instruction index.
        pc: u16,
        /// Its source line (0 if unknown), from the module's line table.
        line: u32,
        /// The registers it changed, with their new values. A call's result
        /// register is written by the callee's [`Event::Return`] instead.
        writes: Writes,
    },
    /// `func` returned `value` (unit for `retu`); in the caller, the value
    /// is now in the call's result register.
    Return {
        /// The function that returned.
        func: u16,
        /// The value it returned.
        value: Value,
    },
    /// A capability call: import `import` of the module, its arguments and
    /// its result or error (as the VM received it). The `cap` instruction's
    /// step follows unless the call failed or its result broke a limit.
    Capability {
        /// The import index (see [`Module::imports`]).
        import: u16,
        /// The arguments.
        args: Vec<Value>,
        /// The result, or why the call failed.
        outcome: Result<Value, CapabilityError>,
        /// What a successful call reported opening: for `fs.read` and
        /// `fs.list`, the path relative to the granted root, spelled after
        /// the policy glob that allowed it. `None` when the host reported
        /// nothing, and always in traces before format version 3.
        opened: Option<String>,
    },
    /// A runtime error stopped the run.
    Trap {
        /// The error, with its location.
        error: RuntimeError,
    },
    /// The end of the run (always the last event).
    End {
        /// How it ended.
        outcome: Outcome,
    },
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The entry function returned this value.
    Returned(Value),
    /// A runtime error stopped it (the [`Event::Trap`] before says which).
    Failed,
}

/// The kinds of [`Event`], for statistics and filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// [`Event::Enter`].
    Enter,
    /// [`Event::Step`].
    Step,
    /// [`Event::Return`].
    Return,
    /// [`Event::Capability`].
    Capability,
    /// [`Event::Trap`].
    Trap,
    /// [`Event::End`].
    End,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 6] = [
        EventKind::Enter,
        EventKind::Step,
        EventKind::Return,
        EventKind::Capability,
        EventKind::Trap,
        EventKind::End,
    ];

    /// Lowercase name: `enter`, `step`, `return`, `capability`, `trap`, `end`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Enter => "enter",
            EventKind::Step => "step",
            EventKind::Return => "return",
            EventKind::Capability => "capability",
            EventKind::Trap => "trap",
            EventKind::End => "end",
        }
    }
}

impl Event {
    /// This event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Enter { .. } => EventKind::Enter,
            Event::Step { .. } => EventKind::Step,
            Event::Return { .. } => EventKind::Return,
            Event::Capability { .. } => EventKind::Capability,
            Event::Trap { .. } => EventKind::Trap,
            Event::End { .. } => EventKind::End,
        }
    }
}

/// The registers one step changed (at most two: `pop` changes its result
/// and its array), with their new values, in instruction operand order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    regs: [(u16, Value); 2],
    len: u8,
}

impl Writes {
    /// No writes.
    pub fn new() -> Self {
        Writes::default()
    }

    /// Adds a write (ignored beyond two).
    pub fn push(&mut self, reg: u16, value: Value) {
        if let Some(slot) = self.regs.get_mut(usize::from(self.len)) {
            *slot = (reg, value);
            self.len += 1;
        }
    }

    /// The writes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &(u16, Value)> {
        self.regs[..usize::from(self.len)].iter()
    }

    /// The number of writes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the step changed no register.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The new value of `reg`, if the step changed it.
    pub fn get(&self, reg: u16) -> Option<&Value> {
        self.iter().find(|(r, _)| *r == reg).map(|(_, v)| v)
    }
}

/// One line per event, with indices rather than names (which need the
/// module): `step f1 pc 3 (line 5) r2 = 7`, `capability c0("x") -> 42`.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, vs: &[Value]| -> fmt::Result {
            for (i, v) in vs.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            Ok(())
        };
        match self {
            Event::Enter { func, args } => {
                write!(f, "enter f{func}(")?;
                list(f, args)?;
                f.write_str(")")
            }
            Event::Step {
                func,
                pc,
                line,
                writes,
            } => {
                write!(f, "step f{func} pc {pc} (line {line})")?;
                for (i, (r, v)) in writes.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    let v = if v == &Value::Unit {
                        "()".to_string()
                    } else {
                        v.to_string()
                    };
                    write!(f, "{sep} r{r} = {v}")?;
                }
                Ok(())
            }
            Event::Return { func, value } => write!(f, "return f{func} -> {value}"),
            Event::Capability {
                import,
                args,
                outcome,
                opened,
            } => {
                write!(f, "capability c{import}(")?;
                list(f, args)?;
                match outcome {
                    Ok(v) => write!(f, ") -> {v}")?,
                    Err(e) => write!(f, ") failed: {e}")?,
                }
                match opened {
                    Some(p) => {
                        f.write_str(" (opened ")?;
                        crate::value::write_escaped(f, p)?;
                        f.write_str(")")
                    }
                    None => Ok(()),
                }
            }
            Event::Trap { error } => write!(f, "trap: {error}"),
            Event::End {
                outcome: Outcome::Returned(v),
            } => write!(f, "end: returned {v}"),
            Event::End {
                outcome: Outcome::Failed,
            } => f.write_str("end: failed"),
        }
    }
}

/// Builds the events of a live run from observer hooks.
pub(super) struct LiveEvents {
    pub map: ExecMap,
}

impl LiveEvents {
    pub fn new(module: &Module) -> Self {
        LiveEvents {
            map: ExecMap::new(module),
        }
    }

    pub fn enter(&self, func: u16, frame: &FrameView<'_>) -> Event {
        let params = self
            .map
            .funcs
            .get(usize::from(func))
            .map_or(0, |f| f.params);
        Event::Enter {
            func,
            args: (0..params)
                .map(|r| frame.get(r).unwrap_or_default().unshared())
                .collect(),
        }
    }

    pub fn step(&self, module: &Module, func: u16, pc: u16, frame: &FrameView<'_>) -> Event {
        let mut writes = Writes::new();
        let effect = self
            .map
            .index(func, pc)
            .map_or(Effect::None, |i| self.map.effects[i]);
        let (regs, n) = effect.writes();
        for &r in &regs[..n] {
            writes.push(r, frame.get(r).unwrap_or_default().unshared());
        }
        Event::Step {
            func,
            pc,
            line: line(module, func, pc),
            writes,
        }
    }
}

/// The source line of (`func`, `pc`), 0 if unknown.
pub(super) fn line(module: &Module, func: u16, pc: u16) -> u32 {
    module
        .funcs
        .get(usize::from(func))
        .map_or(0, |f| f.line(usize::from(pc)))
}

/// An observer that keeps every event of a run in memory: for tests, and
/// for runs small enough to hold whole. The events equal those a
/// [`Reader`](super::Reader) decodes from a recording of the same run.
/// It keeps values [unshared](Value::unshared), so that the observed run
/// copies (and charges to `alloc_bytes`) exactly what an unobserved one does.
///
/// ```
/// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
/// use chronicle_core::trace::{Collector, Event};
/// use chronicle_core::{verify, vm::{NoHost, Vm}, Limits};
/// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
/// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
/// #     lines: vec![1, 1] };
/// # let module = Module { funcs: vec![main], ..Module::default() };
/// let verified = verify(module).unwrap();
/// let mut collector = Collector::new(&verified);
/// let outcome = Vm::with_observer(&verified, Limits::DEFAULT, NoHost, &mut collector).run();
/// collector.finish(&outcome);
/// assert_eq!(collector.events().len(), 5); // enter, 2 steps, return, end
/// assert!(matches!(collector.events()[4], Event::End { .. }));
/// ```
pub struct Collector {
    module: Module,
    live: LiveEvents,
    events: Vec<Event>,
}

impl Collector {
    /// A collector for runs of `module`.
    pub fn new(module: &VerifiedModule) -> Self {
        Collector {
            module: module.module().clone(),
            live: LiveEvents::new(module.module()),
            events: Vec::new(),
        }
    }

    /// Adds the final [`Event::End`] for the run's outcome.
    pub fn finish(&mut self, outcome: &Result<Value, RuntimeError>) {
        self.events.push(Event::End {
            outcome: match outcome {
                Ok(v) => Outcome::Returned(v.clone()),
                Err(_) => Outcome::Failed,
            },
        });
    }

    /// The events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The events, taken.
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

impl Observer for Collector {
    fn enter(&mut self, func: u16, frame: FrameView<'_>) {
        self.events.push(self.live.enter(func, &frame));
    }

    fn step(&mut self, func: u16, pc: u16, _instr: Instr, frame: FrameView<'_>) {
        let e = self.live.step(&self.module, func, pc, &frame);
        self.events.push(e);
    }

    fn exit(&mut self, func: u16, value: &Value) {
        self.events.push(Event::Return {
            func,
            value: value.clone().unshared(),
        });
    }

    fn capability(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
    ) {
        self.capability_opened(import, args, outcome, None);
    }

    fn capability_opened(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
        opened: Option<&str>,
    ) {
        self.events.push(Event::Capability {
            import,
            args: args.iter().map(|v| v.clone().unshared()).collect(),
            outcome: outcome.map(|v| v.clone().unshared()).map_err(Clone::clone),
            opened: opened
                .filter(|p| outcome.is_ok() && p.len() as u64 <= MAX_OPENED_PATH)
                .map(str::to_string),
        });
    }

    fn trap(&mut self, error: &RuntimeError) {
        self.events.push(Event::Trap {
            error: error.clone(),
        });
    }
}

impl Observer for &mut Collector {
    fn enter(&mut self, func: u16, frame: FrameView<'_>) {
        (**self).enter(func, frame)
    }
    fn step(&mut self, func: u16, pc: u16, instr: Instr, frame: FrameView<'_>) {
        (**self).step(func, pc, instr, frame)
    }
    fn exit(&mut self, func: u16, value: &Value) {
        (**self).exit(func, value)
    }
    fn capability(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
    ) {
        (**self).capability(import, args, outcome)
    }
    fn capability_opened(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
        opened: Option<&str>,
    ) {
        (**self).capability_opened(import, args, outcome, opened)
    }
    fn trap(&mut self, error: &RuntimeError) {
        (**self).trap(error)
    }
}
