//! Replay: re-execute the embedded module with capability results taken
//! from the trace, re-encode the run and compare it with the recorded stream
//! event by event.
//!
//! The comparison is of record bytes (the same encoder wrote both), so it
//! costs what recording costs, never a full comparison of a large string at
//! every step; only at the first difference are both sides decoded into
//! [`Event`]s for the report.

use super::effect::ExecMap;
use super::encode::Encoder;
use super::error::TraceError;
use super::event::{Event, EventKind, LiveEvents, Outcome};
use super::header::Hash;
use super::machine::Rec;
use super::reader::{Footer, Reader};
use super::FOOTER_LEN;
use crate::isa::Instr;
use crate::value::Value;
use crate::vm::{CapabilityError, FrameView, Host, Observer, RuntimeError, Vm};
use std::cell::RefCell;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::rc::Rc;
use thiserror::Error;

/// A replay that matched the recording event for event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// The run's result or runtime error: the recorded one.
    pub outcome: Result<Value, RuntimeError>,
    /// Events compared (implied ones included).
    pub events: u64,
    /// Step events compared.
    pub steps: u64,
    /// Capability calls answered from the trace.
    pub capability_calls: u64,
    /// The end of the hash chain, from the verified footer.
    pub final_hash: Hash,
}

/// Why a replay failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// The trace is unreadable or was altered (before any divergence).
    #[error("{0}")]
    Trace(#[from] TraceError),
    /// The replayed run differs from the recorded one.
    #[error("{0}")]
    Diverged(Box<Divergence>),
}

/// The first event where a replay differs from its recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The event's index.
    pub index: u64,
    /// The recorded event (`None`: the recording ends here).
    pub expected: Option<Event>,
    /// The replayed event (`None`: the replay ended here).
    pub found: Option<Event>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |e: &Option<Event>| e.as_ref().map_or("nothing".to_string(), Event::to_string);
        write!(
            f,
            "replay diverges at event #{}: the trace has {}, the replay did {}",
            self.index,
            side(&self.expected),
            side(&self.found)
        )
    }
}

/// Re-executes the trace's embedded module under the recorded limits, with
/// every capability result taken from the trace (no live host is ever
/// called), and checks every event against the recording.
///
/// Also checks the whole trace's integrity as it goes (header, hash chain,
/// footer). Returns the recorded outcome, or the first divergence: a
/// capability call the trace does not have (another import, other
/// arguments, or none recorded there), or any event that differs.
///
/// `Seek` is used only to read the footer first, so that a diverging replay
/// stops after as many instructions as the recording executed.
///
/// ```
/// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
/// use chronicle_core::trace::{self, TraceHeader};
/// use chronicle_core::Value;
/// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
/// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
/// #     lines: vec![1, 1] };
/// # let module = Module { funcs: vec![main], ..Module::default() };
/// let bytes = trace::record(chronicle_core::vm::NoHost, TraceHeader::new(&module), Vec::new())?
///     .trace
///     .writer;
/// let report = trace::replay(std::io::Cursor::new(&bytes))?;
/// assert_eq!(report.outcome, Ok(Value::Int(7)));
/// assert_eq!(report.events, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn replay<R: Read + Seek>(mut src: R) -> Result<ReplayReport, ReplayError> {
    let start = src
        .stream_position()
        .map_err(|e| TraceError::new(e.into(), 0))?;
    let cap = peek_footer(&mut src).map(|f| f.steps);
    let reader = Reader::open(src)?;
    let module = reader.module().clone();
    let mut limits = reader.header().limits;
    if let Some(steps) = cap {
        // An identical run executes at most one instruction more than it
        // stepped (the one that failed); a diverging one stops there.
        limits.instructions = limits.instructions.min(steps.saturating_add(1));
    }
    let shared = Rc::new(RefCell::new(Shared {
        enc: Encoder::new(ExecMap::new(module.module())),
        live: LiveEvents::new(module.module()),
        reader,
        stash: None,
        stop: None,
        capability_calls: 0,
    }));
    let outcome = Vm::with_observer(
        &module,
        limits,
        ReplayHost(Rc::clone(&shared)),
        Checker(Rc::clone(&shared)),
    )
    .run();
    let mut s = shared.borrow_mut();
    s.end(&outcome);
    match s.stop.take() {
        Some(Stop::Trace(e)) => Err(ReplayError::Trace(e)),
        Some(Stop::Diverged(d)) => {
            drop(s);
            // A divergence is reported only for an intact trace: an altered
            // one is reported as such, wherever the alteration is.
            let Ok(shared) = Rc::try_unwrap(shared) else {
                return Err(ReplayError::Diverged(d));
            };
            let mut src = shared.into_inner().reader.into_inner();
            if src.seek(SeekFrom::Start(start)).is_ok() {
                super::verify(src)?;
            }
            Err(ReplayError::Diverged(d))
        }
        None => Ok(ReplayReport {
            outcome,
            events: s.enc.events,
            steps: s.enc.steps,
            capability_calls: s.capability_calls,
            final_hash: s.reader.footer().map_or([0; 32], |f| f.final_hash),
        }),
    }
}

/// The footer at the end of `src`, leaving `src` where it was.
fn peek_footer<R: Read + Seek>(src: &mut R) -> Option<Footer> {
    let start = src.stream_position().ok()?;
    let end = src.seek(SeekFrom::End(0)).ok()?;
    let mut footer = None;
    if end >= start + FOOTER_LEN as u64 {
        let mut b = [0u8; FOOTER_LEN];
        if src.seek(SeekFrom::End(-(FOOTER_LEN as i64))).is_ok() && src.read_exact(&mut b).is_ok() {
            footer = Footer::parse(&b);
        }
    }
    src.seek(SeekFrom::Start(start)).ok()?;
    footer
}

enum Stop {
    Trace(TraceError),
    Diverged(Box<Divergence>),
}

/// The state the replay host and the checking observer share.
struct Shared<R> {
    reader: Reader<R>,
    enc: Encoder,
    live: LiveEvents,
    /// A recorded capability event the host already read.
    stash: Option<(Rec, Vec<u8>)>,
    stop: Option<Stop>,
    capability_calls: u64,
}

impl<R: Read> Shared<R> {
    /// The next recorded event with its bytes; `None` if replay must stop.
    fn recorded(&mut self) -> Option<Option<(Rec, Vec<u8>)>> {
        if let Some(x) = self.stash.take() {
            return Some(Some(x));
        }
        match self.reader.next_rec_captured() {
            Ok(x) => Some(x),
            Err(e) => {
                self.stop = Some(Stop::Trace(e));
                None
            }
        }
    }

    /// Compares the event the encoder just encoded (of `kind`, in function
    /// `func` for an enter or a return) with the next recorded one; `found`
    /// builds the replayed event for a report.
    fn check(&mut self, kind: EventKind, func: Option<u16>, found: impl FnOnce(&Self) -> Event) {
        let index = self.enc.events.saturating_sub(1);
        let Some(recorded) = self.recorded() else {
            return;
        };
        // Implied events (a callee's enter, a return) have no bytes: the
        // steps before them matched, so only their kind and function can
        // differ, and those follow from the module.
        let same = recorded.as_ref().is_some_and(|(rec, bytes)| {
            *bytes == self.enc.buf
                && rec.kind() == kind
                && match rec {
                    Rec::Enter { func: f } | Rec::Return { func: f, .. } => Some(*f) == func,
                    _ => true,
                }
        });
        self.enc.buf.clear();
        if !same {
            let found = found(self);
            let expected = recorded.map(|(rec, _)| self.reader.dress(rec));
            self.diverge(index, expected, Some(found));
        }
    }

    fn diverge(&mut self, index: u64, expected: Option<Event>, found: Option<Event>) {
        if self.stop.is_none() {
            self.stop = Some(Stop::Diverged(Box::new(Divergence {
                index,
                expected,
                found,
            })));
        }
    }

    /// After the run: the end event, then the end of the recorded stream.
    fn end(&mut self, outcome: &Result<Value, RuntimeError>) {
        if self.stop.is_some() {
            return;
        }
        let found = Event::End {
            outcome: match outcome {
                Ok(v) => Outcome::Returned(v.clone()),
                Err(_) => Outcome::Failed,
            },
        };
        if self.enc.end(outcome).is_err() {
            let index = self.enc.events;
            let expected = match self.recorded() {
                Some(Some((rec, _))) => Some(self.reader.dress(rec)),
                _ => None,
            };
            return self.diverge(index, expected, Some(found));
        }
        self.check(EventKind::End, None, |_| found);
        if self.stop.is_some() {
            return;
        }
        match self.recorded() {
            Some(None) | None => {}
            Some(Some((rec, _))) => {
                let expected = Some(self.reader.dress(rec));
                let index = self.enc.events;
                self.diverge(index, expected, None);
            }
        }
    }
}

/// The host of a replay: answers each capability call with the next
/// recorded capability event, if it is a call of the same import with the
/// same arguments; never reaches a live host.
struct ReplayHost<R>(Rc<RefCell<Shared<R>>>);

impl<R: Read> Host for ReplayHost<R> {
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        let mut s = self.0.borrow_mut();
        if s.stop.is_some() {
            return Err(CapabilityError::new("replay stopped"));
        }
        let Some(next) = s.recorded() else {
            return Err(CapabilityError::new("replay stopped"));
        };
        let answer = match &next {
            Some((Rec::Capability(c), _)) if c.import == import && c.args[..] == args[..] => {
                s.capability_calls += 1;
                c.outcome.clone()
            }
            _ => Err(CapabilityError::new(
                "replay divergence: the trace has no such capability call here",
            )),
        };
        // The capability hook compares the recorded event (or its absence).
        s.stash = next;
        answer
    }
}

/// The observer of a replay: re-encodes each event and compares.
struct Checker<R>(Rc<RefCell<Shared<R>>>);

impl<R: Read> Observer for Checker<R> {
    fn enter(&mut self, func: u16, frame: FrameView<'_>) {
        let mut s = self.0.borrow_mut();
        if s.stop.is_some() {
            return;
        }
        s.enc.enter();
        s.check(EventKind::Enter, Some(func), |s| s.live.enter(func, &frame));
    }

    fn step(&mut self, func: u16, pc: u16, instr: Instr, frame: FrameView<'_>) {
        let mut s = self.0.borrow_mut();
        if s.stop.is_some() {
            return;
        }
        s.enc.step(func, pc, instr, frame);
        s.check(EventKind::Step, None, |s| {
            s.live.step(s.reader.module().module(), func, pc, &frame)
        });
    }

    fn exit(&mut self, func: u16, value: &Value) {
        let mut s = self.0.borrow_mut();
        if s.stop.is_some() {
            return;
        }
        s.enc.exit();
        s.check(EventKind::Return, Some(func), |_| Event::Return {
            func,
            value: value.clone(),
        });
    }

    fn capability(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
    ) {
        let mut s = self.0.borrow_mut();
        if s.stop.is_some() {
            return;
        }
        s.enc.capability(import, args, outcome);
        s.check(EventKind::Capability, None, |_| Event::Capability {
            import,
            args: args.to_vec(),
            outcome: outcome.cloned().map_err(Clone::clone),
        });
    }

    fn trap(&mut self, error: &RuntimeError) {
        let mut s = self.0.borrow_mut();
        if s.stop.is_some() {
            return;
        }
        s.enc.trap(error);
        s.check(EventKind::Trap, None, |_| Event::Trap {
            error: error.clone(),
        });
    }
}
