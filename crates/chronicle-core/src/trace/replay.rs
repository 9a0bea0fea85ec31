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
use super::sign::Signature;
use super::{footer_len, FOOTER_LEN};
use crate::isa::Instr;
use crate::limits::Limits;
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
    /// The footer's signature, checked (see [`super::Summary::signature`]):
    /// `Some` only for a trace validly signed by that key.
    pub signature: Option<Signature>,
}

impl ReplayReport {
    /// [`replay_with`]: a replay that reports every capability call it
    /// answers from the trace to `on_call` (what an audit checks against
    /// the policy), in the same single streaming pass.
    ///
    /// ```
    /// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
    /// use chronicle_core::trace::{self, ReplayReport, TraceHeader};
    /// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
    /// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
    /// #     lines: vec![1, 1] };
    /// # let module = Module { funcs: vec![main], ..Module::default() };
    /// let bytes = trace::record(chronicle_core::vm::NoHost, TraceHeader::new(&module), Vec::new())?
    ///     .trace
    ///     .writer;
    /// let mut calls = 0;
    /// let report = ReplayReport::replay_with(std::io::Cursor::new(&bytes), &mut |_, _, _| calls += 1)?;
    /// assert_eq!((report.events, calls), (5, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replay_with<R: Read + Seek>(
        src: R,
        on_call: &mut OnCall<'_>,
    ) -> Result<ReplayReport, ReplayError> {
        replay_with(src, on_call)
    }
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
/// `Seek` lets the fast path look at the footer first and start again from
/// the beginning when it cannot answer. A diverging run stops at the
/// recorded `instructions` limit.
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
pub fn replay<R: Read + Seek>(src: R) -> Result<ReplayReport, ReplayError> {
    replay_with(src, &mut |_, _, _| {})
}

/// What [`replay_with`] reports for each capability call it answers: the
/// import index, the arguments, and the recorded result or error.
pub type OnCall<'f> = dyn FnMut(u16, &[Value], Result<&Value, &CapabilityError>) + 'f;

/// One capability call as a replay answers it from the trace, as
/// [`replay_calls`] reports it.
#[derive(Clone, Copy, Debug)]
pub struct AnsweredCall<'a> {
    /// The index of its capability event in the trace.
    pub event: u64,
    /// The import index.
    pub import: u16,
    /// The arguments.
    pub args: &'a [Value],
    /// The recorded result or error.
    pub outcome: Result<&'a Value, &'a CapabilityError>,
    /// What the call recorded opening (see [`Event::Capability`]).
    pub opened: Option<&'a str>,
}

/// What [`replay_calls`] calls for each capability call it answers.
pub type OnAnswered<'f> = dyn FnMut(&AnsweredCall<'_>) + 'f;

/// [`replay`], also calling `on_call` with every capability call as it is
/// answered from the trace, in order: an auditor checks the calls against
/// the policy in the same single pass. Calls are reported only from chunks
/// that passed their hash-chain check and only where the replayed run made
/// the same call; if the replay fails, `on_call` has seen a prefix of the
/// calls at most.
pub fn replay_with<R: Read + Seek>(
    src: R,
    on_call: &mut OnCall<'_>,
) -> Result<ReplayReport, ReplayError> {
    replay_capped_with(src, Limits::UNBOUNDED, on_call)
}

/// [`replay_with`] under the reader's own `caps`, as
/// [`Reader::open_capped`] applies them: a trace that records a limit above
/// its cap is refused before anything runs, and the run re-executes under
/// the recorded limits each at most its cap
/// ([`Reader::replay_limits`]), whatever the header says.
pub fn replay_capped_with<R: Read + Seek>(
    src: R,
    caps: Limits,
    on_call: &mut OnCall<'_>,
) -> Result<ReplayReport, ReplayError> {
    replay_calls(src, caps, &mut |c| on_call(c.import, c.args, c.outcome))
}

/// [`replay_capped_with`], reporting each answered call whole: with the
/// index of its event and the path it recorded opening, what an audit
/// checks against the granted paths.
///
/// ```
/// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
/// use chronicle_core::trace::{self, TraceHeader};
/// use chronicle_core::Limits;
/// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
/// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
/// #     lines: vec![1, 1] };
/// # let module = Module { funcs: vec![main], ..Module::default() };
/// let bytes = trace::record(chronicle_core::vm::NoHost, TraceHeader::new(&module), Vec::new())?
///     .trace
///     .writer;
/// let mut opened = Vec::new();
/// let src = std::io::Cursor::new(&bytes);
/// let report = trace::replay_calls(src, Limits::DEFAULT, &mut |c| opened.push(c.opened.map(String::from)))?;
/// assert_eq!((report.capability_calls, opened.len()), (0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn replay_calls<R: Read + Seek>(
    mut src: R,
    caps: Limits,
    on_call: &mut OnAnswered<'_>,
) -> Result<ReplayReport, ReplayError> {
    let start = src
        .stream_position()
        .map_err(|e| TraceError::new(e.into(), 0))?;
    // The fast path compares bytes only and builds no event; on any
    // problem, the trace is replayed again event by event for the report.
    if let Some(report) = fast::replay(&mut src, caps, on_call) {
        return Ok(report);
    }
    src.seek(SeekFrom::Start(start))
        .map_err(|e| TraceError::new(e.into(), start))?;
    let reader = Reader::open_capped(src, caps)?;
    let module = reader.module().clone();
    // The recorded limits, as they were: a run's fuel is more than its steps
    // when it compared, searched or parsed (`isa`, "Fuel"), so the steps
    // cannot cap it. A diverging run stops at the recorded limit (or the
    // reader's cap, for the `alloc_bytes` a version 1 trace lacks).
    let limits = reader.replay_limits();
    let host_work = reader.format_version() >= HOST_WORK_SINCE;
    let shared = Rc::new(RefCell::new(Shared {
        enc: Encoder::new(ExecMap::new(module.module())),
        live: LiveEvents::new(module.module()),
        reader,
        stash: None,
        opened: None,
        stop: None,
        capability_calls: 0,
    }));
    let outcome = Vm::with_observer(
        &module,
        limits,
        ReplayHost(Rc::clone(&shared)),
        Checker(Rc::clone(&shared)),
    )
    .charge_host_work(host_work)
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
            signature: s.reader.footer().and_then(|f| f.signature),
        }),
    }
}

/// The first trace format version whose runs charged capability calls fuel
/// for the bytes they move ([`Vm::charge_host_work`]); an older recording
/// replays without that charge, as it ran.
const HOST_WORK_SINCE: u16 = 3;

/// The footer at the end of `src`, leaving `src` where it was.
fn peek_footer<R: Read + Seek>(src: &mut R) -> Option<Footer> {
    let start = src.stream_position().ok()?;
    let mut pre = [0u8; 10];
    let version = match src.read_exact(&mut pre) {
        Ok(()) => u16::from_le_bytes([pre[8], pre[9]]),
        Err(_) => 0,
    };
    let len = footer_len(version);
    let end = src.seek(SeekFrom::End(0)).ok()?;
    let mut footer = None;
    if end >= start + len as u64 {
        let mut b = [0u8; FOOTER_LEN];
        let b = &mut b[..len];
        if src.seek(SeekFrom::End(-(len as i64))).is_ok() && src.read_exact(b).is_ok() {
            footer = Footer::parse(b);
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
    /// What the call the host just answered recorded opening.
    opened: Option<String>,
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
                s.opened.clone_from(&c.opened);
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

    /// The recorded opened path, so that the replayed run re-encodes it.
    fn opened(&mut self) -> Option<String> {
        self.0.borrow_mut().opened.take()
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
        self.capability_opened(import, args, outcome, None);
    }

    fn capability_opened(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
        opened: Option<&str>,
    ) {
        let mut s = self.0.borrow_mut();
        if s.stop.is_some() {
            return;
        }
        s.enc.capability(import, args, outcome, opened);
        s.check(EventKind::Capability, None, |_| Event::Capability {
            import,
            args: args.to_vec(),
            outcome: outcome.cloned().map_err(Clone::clone),
            opened: opened.map(str::to_string),
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

    /// A run that has diverged (or gone past the recording) stops.
    fn halted(&self) -> bool {
        self.0.borrow().stop.is_some()
    }
}

/// The fast path of replay: the replayed run is re-encoded and its bytes
/// compared in bulk with the recorded stream (chunks checked against the
/// hash chain as they are loaded), capability records are parsed only
/// where the run makes a call, and no event is built. It answers only
/// "identical and intact"; anything else returns `None`, and the caller
/// replays event by event for a precise report.
mod fast {
    use super::super::effect::ExecMap;
    use super::super::encode::{tag, Encoder};
    use super::super::error::{TraceError, TraceErrorKind};
    use super::super::header::Hash;
    use super::super::machine::opened_path;
    use super::super::reader::{Footer, Reader};
    use super::super::wire::{conforms, Bytes};
    use super::super::{
        footer_len, CHUNK_LZ4, CHUNK_RAW, FOOTER, FOOTER_BODY_LEN, FOOTER_LEN, MAX_CHUNK,
        OPENED_PATHS_SINCE,
    };
    use super::{peek_footer, AnsweredCall, OnAnswered, ReplayReport};
    use crate::isa::Instr;
    use crate::limits::Limits;
    use crate::module::Module;
    use crate::value::Value;
    use crate::vm::{CapabilityError, FrameView, Host, Observer, RuntimeError, Vm};
    use std::cell::RefCell;
    use std::io::{BufReader, Read, Seek};
    use std::rc::Rc;

    /// Encoded bytes buffered before they are compared.
    const COMPARE_AT: usize = 32 * 1024;

    /// The recorded event stream, chunk by chunk, each checked before use.
    struct Frames<R> {
        src: R,
        chain: Hash,
        chunks: u64,
        raw: Vec<u8>,
        at: usize,
        stored: Vec<u8>,
        head: Vec<u8>,
        /// When set, bytes consumed through [`Bytes`] are appended to `captured`.
        capture: bool,
        captured: Vec<u8>,
        /// The footer's length in this format version.
        footer_len: usize,
        /// The footer's first bytes, once read (what a signature signs).
        footer_body: [u8; FOOTER_BODY_LEN],
    }

    impl<R: Read> Frames<R> {
        fn read_u8(&mut self) -> Option<u8> {
            let mut b = [0u8];
            self.src.read_exact(&mut b).ok()?;
            Some(b[0])
        }

        fn frame_varint(&mut self) -> Option<u64> {
            let mut v = 0u64;
            for i in 0..10 {
                let b = self.read_u8()?;
                self.head.push(b);
                if i == 9 && b > 1 {
                    return None;
                }
                v |= u64::from(b & 0x7f) << (7 * i);
                if b & 0x80 == 0 {
                    return (i == 0 || b != 0).then_some(v);
                }
            }
            None
        }

        /// Reads the next frame: `Some(None)` for a chunk (now in `raw`),
        /// `Some(Some(footer))` for the footer, `None` for anything wrong.
        fn next_frame(&mut self) -> Option<Option<Footer>> {
            self.head.clear();
            let kind = self.read_u8()?;
            self.head.push(kind);
            match kind {
                CHUNK_RAW | CHUNK_LZ4 => {}
                FOOTER => {
                    let mut b = [0u8; FOOTER_LEN];
                    b[0] = FOOTER;
                    let b = &mut b[..self.footer_len];
                    self.src.read_exact(&mut b[1..]).ok()?;
                    self.footer_body.copy_from_slice(&b[..FOOTER_BODY_LEN]);
                    return Footer::parse(b).map(Some);
                }
                _ => return None,
            }
            let raw_len = self.frame_varint()?;
            if raw_len == 0 || raw_len > MAX_CHUNK as u64 {
                return None;
            }
            let stored_len = if kind == CHUNK_LZ4 {
                let n = self.frame_varint()?;
                if n == 0 || n >= raw_len {
                    return None;
                }
                n
            } else {
                raw_len
            };
            let mut stored = std::mem::take(&mut self.stored);
            stored.resize(stored_len as usize, 0);
            self.src.read_exact(&mut stored).ok()?;
            let mut link = [0u8; 32];
            self.src.read_exact(&mut link).ok()?;
            let chain = *blake3::Hasher::new()
                .update(&self.chain)
                .update(&self.head)
                .update(&stored)
                .finalize()
                .as_bytes();
            if chain != link {
                return None;
            }
            if kind == CHUNK_LZ4 {
                self.raw.resize(raw_len as usize, 0);
                match lz4_flex::block::decompress_into(&stored, &mut self.raw) {
                    Ok(n) if n == raw_len as usize => {}
                    _ => return None,
                }
            } else {
                self.raw.clear();
                self.raw.extend_from_slice(&stored);
            }
            self.stored = stored;
            self.chain = chain;
            self.chunks += 1;
            self.at = 0;
            Some(None)
        }

        /// Makes at least one unread byte available; false at the footer or
        /// on any problem.
        fn fill(&mut self) -> bool {
            while self.at == self.raw.len() {
                if !matches!(self.next_frame(), Some(None)) {
                    return false;
                }
            }
            true
        }

        /// Consumes `bytes` from the stream if they are next.
        fn expect(&mut self, mut bytes: &[u8]) -> bool {
            while !bytes.is_empty() {
                if !self.fill() {
                    return false;
                }
                let k = (self.raw.len() - self.at).min(bytes.len());
                if self.raw[self.at..self.at + k] != bytes[..k] {
                    return false;
                }
                self.at += k;
                bytes = &bytes[k..];
            }
            true
        }
    }

    impl<R: Read> Bytes for Frames<R> {
        fn byte(&mut self) -> Result<u8, TraceError> {
            if !self.fill() {
                return Err(self.error(TraceErrorKind::Truncated));
            }
            let b = self.raw[self.at];
            self.at += 1;
            if self.capture {
                self.captured.push(b);
            }
            Ok(b)
        }

        fn take_into(&mut self, mut n: u64, out: &mut Vec<u8>) -> Result<(), TraceError> {
            while n > 0 {
                if !self.fill() {
                    return Err(self.error(TraceErrorKind::Truncated));
                }
                let k = (self.raw.len() - self.at).min(usize::try_from(n).unwrap_or(usize::MAX));
                let part = &self.raw[self.at..self.at + k];
                out.extend_from_slice(part);
                if self.capture {
                    self.captured.extend_from_slice(part);
                }
                self.at += k;
                n -= k as u64;
            }
            Ok(())
        }

        fn error(&self, kind: TraceErrorKind) -> TraceError {
            // The fast path only needs to know that something is wrong.
            TraceError::new(kind, 0)
        }
    }

    struct State<'f, R> {
        frames: Frames<R>,
        enc: Encoder,
        module: Module,
        ok: bool,
        /// The bytes of the capability record the host just answered from.
        cap: Vec<u8>,
        /// What that record says the call opened, until the VM asks.
        opened: Option<String>,
        /// Whether `CAP_OK_OPENED` records may appear (the format version).
        opened_paths: bool,
        capability_calls: u64,
        on_call: &'f mut OnAnswered<'f>,
    }

    impl<R: Read> State<'_, R> {
        /// Compares the encoded bytes so far with the stream.
        fn compare(&mut self) {
            if self.ok && !self.frames.expect(&self.enc.buf) {
                self.ok = false;
            }
            self.enc.buf.clear();
        }

        /// Reads the recorded capability record, which must be a call of
        /// `import` with `args`: its outcome and what it opened.
        fn recorded_call(&mut self, import: u16, args: &[Value]) -> Result<Answer, TraceError> {
            let bad = || TraceError::new(TraceErrorKind::Truncated, 0);
            let f = &mut self.frames;
            f.capture = true;
            f.captured.clear();
            let t = f.byte()?;
            let known = match t {
                tag::CAP_OK | tag::CAP_ERR => true,
                tag::CAP_OK_OPENED => self.opened_paths,
                _ => false,
            };
            if !known || f.index("import")? != import {
                return Err(bad());
            }
            let sig = &self
                .module
                .imports
                .get(usize::from(import))
                .ok_or_else(bad)?
                .sig;
            if f.varint()? != sig.params.len() as u64 || args.len() != sig.params.len() {
                return Err(bad());
            }
            for (ty, live) in sig.params.iter().zip(args) {
                let v = f.value()?;
                if !conforms(&v, Some(ty)) || &v != live {
                    return Err(bad());
                }
            }
            let outcome = if t == tag::CAP_ERR {
                Err(CapabilityError::new(f.string("capability error")?))
            } else {
                let v = f.value()?;
                if !conforms(&v, sig.ret.as_ref()) {
                    return Err(bad());
                }
                Ok(v)
            };
            let opened = if t == tag::CAP_OK_OPENED {
                Some(opened_path(f)?)
            } else {
                None
            };
            f.capture = false;
            self.cap = std::mem::take(&mut f.captured);
            Ok((outcome, opened))
        }
    }

    /// A recorded call's outcome and what it opened.
    type Answer = (Result<Value, CapabilityError>, Option<String>);

    type Shared<'f, R> = Rc<RefCell<State<'f, R>>>;

    struct FastHost<'f, R>(Shared<'f, R>);

    impl<R: Read> Host for FastHost<'_, R> {
        fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
            let mut s = self.0.borrow_mut();
            let stopped = || Err(CapabilityError::new("replay stopped"));
            s.compare();
            if !s.ok {
                return stopped();
            }
            match s.recorded_call(import, args) {
                Ok((outcome, opened)) => {
                    s.capability_calls += 1;
                    let call = AnsweredCall {
                        event: s.enc.events,
                        import,
                        args,
                        outcome: outcome.as_ref(),
                        opened: opened.as_deref(),
                    };
                    (s.on_call)(&call);
                    s.opened = opened;
                    outcome
                }
                Err(_) => {
                    s.ok = false;
                    stopped()
                }
            }
        }

        /// The recorded opened path, so that the replayed run re-encodes it.
        fn opened(&mut self) -> Option<String> {
            self.0.borrow_mut().opened.take()
        }
    }

    struct FastChecker<'f, R>(Shared<'f, R>);

    impl<R: Read> Observer for FastChecker<'_, R> {
        #[inline]
        fn enter(&mut self, _func: u16, _frame: FrameView<'_>) {
            self.0.borrow_mut().enc.enter();
        }

        #[inline(always)]
        fn step(&mut self, func: u16, pc: u16, instr: Instr, frame: FrameView<'_>) {
            let mut s = self.0.borrow_mut();
            s.enc.step(func, pc, instr, frame);
            if s.enc.buf.len() >= COMPARE_AT {
                s.compare();
            }
        }

        #[inline]
        fn exit(&mut self, _func: u16, _value: &Value) {
            self.0.borrow_mut().enc.exit();
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
            let mut s = self.0.borrow_mut();
            s.enc.capability(import, args, outcome, opened);
            // The host consumed the recorded record: the encoding must equal it.
            if s.enc.buf != s.cap {
                s.ok = false;
            }
            s.enc.buf.clear();
            s.cap.clear();
        }

        fn trap(&mut self, error: &RuntimeError) {
            self.0.borrow_mut().enc.trap(error);
        }

        /// A run whose bytes already differ stops: the slow path reports it.
        fn halted(&self) -> bool {
            !self.0.borrow().ok
        }
    }

    /// The fast replay of the trace at the current position of `src`.
    pub(super) fn replay<R: Read + Seek>(
        src: &mut R,
        caps: Limits,
        on_call: &mut OnAnswered<'_>,
    ) -> Option<ReplayReport> {
        // A trace without a footer is not intact: the event-by-event path
        // names the damage.
        peek_footer(src)?;
        let reader = Reader::open_capped(&mut *src, caps).ok()?;
        let module = reader.module().clone();
        let chain = reader.header_hash();
        let limits = reader.replay_limits();
        let host_work = reader.format_version() >= super::HOST_WORK_SINCE;
        let opened_paths = reader.format_version() >= OPENED_PATHS_SINCE;
        let footer_len = footer_len(reader.format_version());
        drop(reader);
        let state = Rc::new(RefCell::new(State {
            frames: Frames {
                src: BufReader::with_capacity(64 * 1024, &mut *src),
                chain,
                chunks: 0,
                raw: Vec::new(),
                at: 0,
                stored: Vec::new(),
                head: Vec::with_capacity(21),
                capture: false,
                captured: Vec::new(),
                footer_len,
                footer_body: [0; FOOTER_BODY_LEN],
            },
            enc: Encoder::new(ExecMap::new(module.module())),
            module: module.module().clone(),
            ok: true,
            cap: Vec::new(),
            opened: None,
            opened_paths,
            capability_calls: 0,
            on_call,
        }));
        let outcome = Vm::with_observer(
            &module,
            limits,
            FastHost(Rc::clone(&state)),
            FastChecker(Rc::clone(&state)),
        )
        .charge_host_work(host_work)
        .run();
        let mut s = state.borrow_mut();
        s.enc.end(&outcome).ok()?;
        s.compare();
        if !s.ok || s.frames.at != s.frames.raw.len() {
            return None;
        }
        let f = s.frames.next_frame()??;
        let intact = f.chunks == s.frames.chunks
            && f.events == s.enc.events
            && f.steps == s.enc.steps
            && f.final_hash == s.frames.chain
            && f.signature
                .is_none_or(|sig| sig.verify(&chain, &s.frames.footer_body))
            && matches!(s.frames.src.read(&mut [0u8]), Ok(0));
        intact.then(|| ReplayReport {
            outcome,
            events: s.enc.events,
            steps: s.enc.steps,
            capability_calls: s.capability_calls,
            final_hash: f.final_hash,
            signature: f.signature,
        })
    }
}
