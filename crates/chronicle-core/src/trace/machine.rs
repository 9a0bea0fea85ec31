//! The decoding state machine: turns records back into events by following
//! the run through the embedded module, keeping every frame's registers.
//!
//! This mirrors the recorder's encoder and the VM: the top frame's pc selects
//! an instruction, its [`Effect`] says what the step record holds, and
//! calls and returns imply `enter` and `return` events with no bytes of
//! their own. Anything that a genuine recording cannot contain (a pop from
//! an empty array, a step past a limit, a value of the wrong type, a record
//! out of place) is an error, never a panic.
//!
//! **Bound:** the machine holds what the recorded run held, and checks the
//! recorded limits as the VM did (call depth, frame size, array length,
//! string bytes); values it builds from bytes are bounded by those bytes.
//! What it allocates without bytes (pushes, appends, copy-on-write copies)
//! is charged against the recorded `alloc_bytes` as the VM charged it, so a
//! hostile trace cannot make a reader copy a large array at every step.
//! Copies are charged only while no event has been handed out: an event's
//! values share storage with the registers, and a caller that keeps events
//! would make the machine copy what the run did not (so `verify` and replay,
//! which keep no event, check copies; a reader of events checks pushes and
//! appends). Checkpoints share values too: each snapshot and restore adds
//! what its values hold to the allowance (the checkpoint holds that much).
//!
//! **Reader's cap:** apart from that check of the recording, every byte the
//! machine itself allocates without bytes of the trace (pushes, appends and
//! every copy-on-write copy it actually makes, whoever shares the value) is
//! charged against the reader's own allowance, its `alloc_bytes` cap. A caller that keeps events makes the
//! machine copy what the run did not, and pays for it from that allowance,
//! so it cannot push the reader past its cap. Snapshots raise it by what
//! they share, up to the cap once in all: a reader with checkpoints
//! allocates at most twice its cap.

use super::effect::{Effect, ExecMap};
use super::encode::{tag, trap_code, Predictor, MAX_OPENED_PATH};
use super::error::{TraceError, TraceErrorKind};
use super::event::{line, Event, EventKind, Outcome, Writes};
use super::wire::{conforms, unzigzag, Bytes};
use crate::limits::{alloc_cost, Limit, Limits};
use crate::module::{Const, Module};
use crate::types::Type;
use crate::value::{Array, Value};
use crate::vm::{CapabilityError, RuntimeError, TrapKind};
use std::cell::Cell;
use std::rc::Rc;

/// A decoded record, before it is dressed as an [`Event`] from the state.
#[derive(Debug)]
pub(super) enum Rec {
    Enter { func: u16 },
    Step { func: u16, pc: u16 },
    Return { func: u16, value: Value },
    Capability(Box<CapRec>),
    Trap(Box<RuntimeError>),
    End(Outcome),
}

/// A capability call record.
#[derive(Debug)]
pub(super) struct CapRec {
    pub import: u16,
    pub args: Vec<Value>,
    pub outcome: Result<Value, CapabilityError>,
    pub opened: Option<String>,
}

impl Rec {
    /// The kind of event this record becomes.
    pub fn kind(&self) -> EventKind {
        match self {
            Rec::Enter { .. } => EventKind::Enter,
            Rec::Step { .. } => EventKind::Step,
            Rec::Return { .. } => EventKind::Return,
            Rec::Capability(_) => EventKind::Capability,
            Rec::Trap(_) => EventKind::Trap,
            Rec::End(_) => EventKind::End,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    func: u16,
    pc: u16,
    base: usize,
}

#[derive(Clone, Debug)]
enum Phase {
    Start,
    Running,
    AfterCapOk(Value),
    AfterCapErr,
    Returned(Value),
    Trapped,
    Ended,
    Done,
}

/// An event implied by the step before it.
#[derive(Clone, Copy, Debug)]
enum Pending {
    /// The callee's frame is entered.
    Enter { f: u16, args: usize, n: u16 },
    /// The top frame returns the value of its register (unit if `None`).
    Return { a: Option<u16> },
}

/// Where the decoding stands, plus everything the run holds.
pub(super) struct Machine {
    map: ExecMap,
    preds: Vec<Predictor>,
    consts: Vec<Value>,
    regs: Vec<Value>,
    frames: Vec<Frame>,
    phase: Phase,
    pending: Option<Pending>,
    limits: Limits,
    /// Bytes the machine may still allocate without bytes of the trace
    /// (a `Cell`: taking a snapshot raises it).
    alloc_left: Cell<u64>,
    /// Whether copy-on-write copies are charged: until an event is handed out.
    copies_charged: Cell<bool>,
    /// The reader's `alloc_bytes` cap, and what it may still allocate
    /// under it: every copy it makes is charged, whether or not the run
    /// made it.
    reader_cap: u64,
    reader_left: Cell<u64>,
    /// What snapshots may still add to `reader_left` (the cap, once).
    raise_left: Cell<u64>,
    /// Logical events decoded so far.
    pub events: u64,
    /// Step events decoded so far.
    pub steps: u64,
    /// Whether the last event came from a record (false if it was implied).
    pub last_had_record: bool,
    /// Whether `CAP_OK_OPENED` records may appear (format version 3 on).
    pub opened_paths: bool,
}

/// The mutable part of a [`Machine`], as [`Machine::snapshot`] copies it.
#[derive(Clone)]
pub(super) struct MachineState {
    preds: Vec<Predictor>,
    regs: Vec<Value>,
    frames: Vec<Frame>,
    phase: Phase,
    pending: Option<Pending>,
    pub events: u64,
    steps: u64,
    last_had_record: bool,
    alloc_left: u64,
    reader_left: u64,
}

impl MachineState {
    /// The bytes this state holds, with `value` sizing each register.
    pub fn approx_bytes(&self, value: impl Fn(&Value) -> usize) -> usize {
        self.preds.len() * std::mem::size_of::<Predictor>()
            + self.frames.len() * std::mem::size_of::<Frame>()
            + self.regs.iter().map(value).sum::<usize>()
    }
}

/// What the machine needs from the byte stream beyond [`Bytes`].
pub(super) trait Stream: Bytes {
    /// Called before each record with the index of the event it starts.
    fn set_event(&mut self, event: u64);
    /// The end of the stream, after the end record: checks the footer.
    fn finish(&mut self, events: u64, steps: u64) -> Result<(), TraceError>;
}

impl Machine {
    /// A machine for a run of `module` recorded under `limits`, read under
    /// the reader's `cap` on what it allocates (`alloc_bytes`).
    pub fn new(module: &Module, limits: Limits, cap: u64) -> Self {
        let map = ExecMap::new(module);
        let reader_cap = cap;
        Machine {
            preds: vec![Predictor::default(); map.effects.len()],
            consts: module
                .consts
                .iter()
                .map(|c| match c {
                    Const::Str(s) => Value::str(s.as_str()),
                    Const::Int(v) => Value::Int(*v),
                })
                .collect(),
            map,
            regs: Vec::new(),
            frames: Vec::new(),
            phase: Phase::Start,
            pending: None,
            limits,
            alloc_left: Cell::new(limits.alloc_bytes),
            copies_charged: Cell::new(true),
            reader_cap,
            reader_left: Cell::new(reader_cap),
            raise_left: Cell::new(reader_cap),
            events: 0,
            steps: 0,
            last_had_record: false,
            opened_paths: true,
        }
    }

    /// A copy of everything decoding changes (not the module's fixed
    /// tables), for [`super::seek`]: values are shared, not deep-copied.
    pub fn snapshot(&self) -> MachineState {
        let shared = held_bytes(&self.regs, self.limits.alloc_bytes);
        self.alloc_left
            .set(self.alloc_left.get().saturating_add(shared));
        let raise = held_bytes(&self.regs, self.raise_left.get());
        self.raise_left.set(self.raise_left.get() - raise);
        self.reader_left
            .set(self.reader_left.get().saturating_add(raise));
        MachineState {
            preds: self.preds.clone(),
            regs: self.regs.clone(),
            frames: self.frames.clone(),
            phase: self.phase.clone(),
            pending: self.pending,
            events: self.events,
            steps: self.steps,
            last_had_record: self.last_had_record,
            alloc_left: self.alloc_left.get(),
            reader_left: self.reader_left.get(),
        }
    }

    /// Puts the machine back in a state [`Machine::snapshot`] took.
    pub fn restore(&mut self, st: &MachineState) {
        self.preds.clone_from(&st.preds);
        self.regs.clone_from(&st.regs);
        self.frames.clone_from(&st.frames);
        self.phase = st.phase.clone();
        self.pending = st.pending;
        self.events = st.events;
        self.steps = st.steps;
        self.last_had_record = st.last_had_record;
        let shared = held_bytes(&st.regs, self.limits.alloc_bytes);
        self.alloc_left.set(st.alloc_left.saturating_add(shared));
        // What the snapshot granted for sharing with it covers the restored
        // state, which shares the same values again.
        self.reader_left.set(st.reader_left);
    }

    /// Whether the stream has been read to its verified end.
    pub fn done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The live frames, outermost first: function, pc and registers.
    pub fn frames(&self) -> impl Iterator<Item = (u16, u16, &[Value])> + '_ {
        self.frames.iter().enumerate().map(|(k, f)| {
            let end = self.frames.get(k + 1).map_or(self.regs.len(), |n| n.base);
            (f.func, f.pc, &self.regs[f.base..end])
        })
    }

    /// The next event, or `None` after the footer checked out.
    pub fn next<S: Stream>(&mut self, s: &mut S, m: &Module) -> Result<Option<Rec>, TraceError> {
        if let Some(p) = self.pending.take() {
            self.last_had_record = false;
            let rec = match p {
                Pending::Enter { f, args, n } => self.enter(s, m, f, Some((args, n)))?,
                Pending::Return { a } => self.ret(a),
            };
            self.events += 1;
            return Ok(Some(rec));
        }
        match self.phase {
            Phase::Done => return Ok(None),
            Phase::Ended => {
                s.finish(self.events, self.steps)?;
                self.phase = Phase::Done;
                return Ok(None);
            }
            _ => {}
        }
        s.set_event(self.events);
        self.last_had_record = true;
        let t = s.byte()?;
        let rec = match t {
            tag::ENTER => {
                if !matches!(self.phase, Phase::Start) {
                    return Err(self.bad(s, "the run is entered twice"));
                }
                self.phase = Phase::Running;
                self.enter(s, m, m.entry, None)?
            }
            tag::CAP_OK | tag::CAP_ERR => self.capability(s, m, t)?,
            tag::CAP_OK_OPENED if self.opened_paths => self.capability(s, m, t)?,
            tag::TRAP => self.trap(s, m)?,
            tag::END => self.end(s)?,
            tag::STEP | tag::STEP_TAKEN | tag::STEP_WIDE | tag::STEP_SMALL..=0xff => {
                self.step(s, m, t)?
            }
            t => {
                return Err(s.error(TraceErrorKind::BadTag {
                    what: "event record",
                    tag: t.into(),
                }))
            }
        };
        self.events += 1;
        Ok(Some(rec))
    }

    /// From now on, copies are charged as once an event has been handed
    /// out (to the reader's cap only), without making one: for a caller
    /// that skips events yet must read as a reader of events does.
    pub fn as_if_handed_out(&self) {
        self.copies_charged.set(false);
    }

    /// Dresses `rec` (the event just decoded) as an [`Event`] from the state.
    pub fn event(&self, rec: Rec, m: &Module) -> Event {
        self.copies_charged.set(false);
        match rec {
            Rec::Enter { func } => {
                let params = self.map.funcs[usize::from(func)].params;
                let base = self.frames.last().map_or(0, |f| f.base);
                Event::Enter {
                    func,
                    args: self.regs[base..base + usize::from(params)].to_vec(),
                }
            }
            Rec::Step { func, pc } => {
                let mut writes = Writes::new();
                if let (Some(i), Some(top)) = (self.map.index(func, pc), self.frames.last()) {
                    let (regs, n) = self.map.effects[i].writes();
                    for &r in &regs[..n] {
                        let v = self.regs.get(top.base + usize::from(r)).cloned();
                        writes.push(r, v.unwrap_or_default());
                    }
                }
                Event::Step {
                    func,
                    pc,
                    line: line(m, func, pc),
                    writes,
                }
            }
            Rec::Return { func, value } => Event::Return { func, value },
            Rec::Capability(c) => Event::Capability {
                import: c.import,
                args: c.args,
                outcome: c.outcome,
                opened: c.opened,
            },
            Rec::Trap(error) => Event::Trap { error: *error },
            Rec::End(outcome) => Event::End { outcome },
        }
    }

    fn bad<S: Stream>(&self, s: &S, what: &'static str) -> TraceError {
        s.error(TraceErrorKind::BadEvent {
            event: self.events,
            what,
        })
    }

    /// Enters `f`: with arguments `n` registers from `args` (a call), or
    /// none (the entry function).
    fn enter<S: Stream>(
        &mut self,
        s: &S,
        m: &Module,
        f: u16,
        args: Option<(usize, u16)>,
    ) -> Result<Rec, TraceError> {
        let func = &m.funcs[usize::from(f)];
        let too_deep = args.is_some() && self.frames.len() as u64 >= self.limits.call_depth;
        if too_deep || func.regs.len() as u64 > self.limits.registers {
            return Err(self.bad(s, "a frame beyond the recorded limits"));
        }
        let base = self.regs.len();
        self.regs
            .extend_from_slice(&self.map.funcs[usize::from(f)].init);
        if let Some((from, n)) = args {
            for j in 0..usize::from(n) {
                self.regs[base + j] = self.regs[from + j].clone();
            }
        }
        self.frames.push(Frame {
            func: f,
            pc: 0,
            base,
        });
        Ok(Rec::Enter { func: f })
    }

    /// The top frame returns.
    fn ret(&mut self, a: Option<u16>) -> Rec {
        let Some(top) = self.frames.pop() else {
            return Rec::Return {
                func: 0,
                value: Value::Unit,
            };
        };
        let value = a.map_or(Value::Unit, |a| {
            std::mem::take(&mut self.regs[top.base + usize::from(a)])
        });
        self.regs.truncate(top.base);
        match self.frames.last_mut() {
            Some(caller) => {
                let i = self.map.index(caller.func, caller.pc);
                if let Some(Effect::Call { dst: Some(d), .. }) = i.map(|i| self.map.effects[i]) {
                    self.regs[caller.base + usize::from(d)] = value.clone();
                }
                caller.pc += 1;
            }
            None => self.phase = Phase::Returned(value.clone()),
        }
        Rec::Return {
            func: top.func,
            value,
        }
    }

    fn step<S: Stream>(&mut self, s: &mut S, m: &Module, t: u8) -> Result<Rec, TraceError> {
        let cap_result = match std::mem::replace(&mut self.phase, Phase::Running) {
            Phase::Running => None,
            Phase::AfterCapOk(v) => Some(v),
            other => {
                self.phase = other;
                return Err(self.bad(s, "a step outside a running frame"));
            }
        };
        let top = *self
            .frames
            .last()
            .ok_or_else(|| self.bad(s, "a step with no frame"))?;
        let (func, pc, b) = (top.func, top.pc, top.base);
        let i = self
            .map
            .index(func, pc)
            .ok_or_else(|| self.bad(s, "a step past the end of a function"))?;
        self.steps += 1;
        if self.steps > self.limits.instructions {
            return Err(self.bad(s, "more steps than the instruction limit allows"));
        }
        let effect = self.map.effects[i];
        let tag_fits = match effect {
            Effect::Scalar { .. } | Effect::Loop { .. } => {
                t == tag::STEP_WIDE || t >= tag::STEP_SMALL
            }
            Effect::Branch { .. } => t == tag::STEP || t == tag::STEP_TAKEN,
            _ => t == tag::STEP,
        };
        if !tag_fits {
            return Err(self.bad(s, "a step tag that does not fit the instruction"));
        }
        if cap_result.is_some() != matches!(effect, Effect::Cap { .. }) {
            return Err(self.bad(s, "a capability step without its call"));
        }
        let regs_of = &m.funcs[usize::from(func)].regs;
        let mut next = pc.wrapping_add(1);
        match effect {
            Effect::Scalar { d } | Effect::Loop { d, .. } => {
                let zz = if t == tag::STEP_WIDE {
                    let zz = s.varint()?;
                    if zz < 0x80 {
                        return Err(self.bad(s, "a wide residual that fits in the tag"));
                    }
                    zz
                } else {
                    u64::from(t & 0x7f)
                };
                let v = self.preds[i].value(unzigzag(zz));
                let value = match regs_of.get(usize::from(d)) {
                    Some(Type::Bool) if v == 0 || v == 1 => Value::Bool(v == 1),
                    Some(Type::Int) => Value::Int(v),
                    _ => return Err(self.bad(s, "a scalar value of the wrong type")),
                };
                self.regs[b + usize::from(d)] = value;
                if let Effect::Loop { end, t, .. } = effect {
                    if self.int(b, d) < self.int(b, end) {
                        next = t;
                    }
                }
            }
            Effect::Branch { t: target } => {
                if t == tag::STEP_TAKEN {
                    next = target;
                }
            }
            Effect::Full { d } => {
                let v = s.value()?;
                if !conforms(&v, regs_of.get(usize::from(d))) {
                    return Err(self.bad(s, "a value of the wrong type"));
                }
                self.regs[b + usize::from(d)] = v;
            }
            Effect::Append { d, .. } => {
                let n = s.varint()?;
                let mut bytes = Vec::new();
                s.take_into(n, &mut bytes)?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    s.error(TraceErrorKind::InvalidUtf8 {
                        what: "appended bytes",
                    })
                })?;
                let limit = self.limits.string_bytes;
                let Value::Str(old) = &mut self.regs[b + usize::from(d)] else {
                    return Err(self.bad(s, "an append to a register that holds no string"));
                };
                if (old.len() as u64).saturating_add(text.len() as u64) > limit {
                    return Err(self.bad(s, "a string beyond the recorded limit"));
                }
                let copy = if Rc::get_mut(old).is_none() {
                    old.len() as u64
                } else {
                    0
                };
                let grow = text.len() as u64;
                let charged = if self.copies_charged.get() { copy } else { 0 };
                if !charge(&self.alloc_left, charged.saturating_add(grow)) {
                    return Err(self.bad(s, ALLOC_BEYOND));
                }
                if !charge(&self.reader_left, copy.saturating_add(grow)) {
                    return Err(self.over_cap(s));
                }
                Rc::make_mut(old).push_str(&text);
            }
            Effect::Str { d, k } => {
                let v = self.consts.get(usize::from(k)).cloned();
                self.regs[b + usize::from(d)] = v.unwrap_or_default();
            }
            Effect::Copy { d, a } => {
                self.regs[b + usize::from(d)] = self.regs[b + usize::from(a)].clone();
            }
            Effect::Elem { d, a, i } => {
                let idx = self.int(b, i);
                let item = match &self.regs[b + usize::from(a)] {
                    Value::Array(arr) => match &**arr {
                        Array::Ref(items) => index(items.len(), idx).map(|k| items[k].clone()),
                        _ => None,
                    },
                    _ => None,
                };
                let item = item.ok_or_else(|| self.bad(s, "an element read that failed"))?;
                self.regs[b + usize::from(d)] = item;
            }
            Effect::Push { a, v } => {
                let x = self.regs[b + usize::from(v)].clone();
                let limit = self.limits.array_len;
                let ok = self.with_array(b, a, true, |arr| {
                    if arr.len() as u64 >= limit {
                        return false;
                    }
                    match (arr, x) {
                        (Array::Int(items), Value::Int(x)) => items.push(x),
                        (Array::Bool(items), Value::Bool(x)) => items.push(x),
                        (Array::Ref(items), x @ (Value::Str(_) | Value::Array(_))) => items.push(x),
                        _ => return false,
                    }
                    true
                });
                match ok {
                    Err(e) => return Err(self.over(s, e)),
                    Ok(false) => return Err(self.bad(s, "a push that failed")),
                    Ok(true) => {}
                }
            }
            Effect::Set { a, i, v } => {
                let idx = self.int(b, i);
                let x = self.regs[b + usize::from(v)].clone();
                let ok = self.with_array(b, a, false, |arr| {
                    let Some(k) = index(arr.len(), idx) else {
                        return false;
                    };
                    match (arr, x) {
                        (Array::Int(items), Value::Int(x)) => items[k] = x,
                        (Array::Bool(items), Value::Bool(x)) => items[k] = x,
                        (Array::Ref(items), x @ (Value::Str(_) | Value::Array(_))) => items[k] = x,
                        _ => return false,
                    }
                    true
                });
                match ok {
                    Err(e) => return Err(self.over(s, e)),
                    Ok(false) => return Err(self.bad(s, "an element write that failed")),
                    Ok(true) => {}
                }
            }
            Effect::Pop { d, a } => {
                let mut popped = None;
                let ok = self.with_array(b, a, false, |arr| {
                    popped = match arr {
                        Array::Int(items) => items.pop().map(Value::Int),
                        Array::Bool(items) => items.pop().map(Value::Bool),
                        Array::Ref(items) => items.pop(),
                    };
                    true
                });
                if let Err(e) = ok {
                    return Err(self.over(s, e));
                }
                let x = popped.ok_or_else(|| self.bad(s, "a pop that failed"))?;
                self.regs[b + usize::from(d)] = x;
            }
            Effect::Jump { t } => next = t,
            Effect::Call { f, a, n, .. } => {
                self.pending = Some(Pending::Enter {
                    f,
                    args: b + usize::from(a),
                    n,
                });
                next = pc;
            }
            Effect::Ret { a } => {
                self.pending = Some(Pending::Return { a });
                next = pc;
            }
            Effect::Cap { dst, .. } => {
                if let (Some(d), Some(v)) = (dst, cap_result) {
                    self.regs[b + usize::from(d)] = v;
                }
            }
            Effect::None => {}
        }
        if let Some(top) = self.frames.last_mut() {
            top.pc = next;
        }
        Ok(Rec::Step { func, pc })
    }

    /// The int in register `r` of the frame at `b`.
    fn int(&self, b: usize, r: u16) -> i64 {
        match self.regs[b + usize::from(r)] {
            Value::Int(v) => v,
            _ => -1,
        }
    }

    /// The error of a step past the reader's `alloc_bytes` cap.
    fn over_cap<S: Stream>(&self, s: &S) -> TraceError {
        s.error(TraceErrorKind::ReaderAllocCap {
            event: self.events,
            cap: self.reader_cap,
        })
    }

    /// The error of a step whose allocations pass a budget.
    fn over<S: Stream>(&self, s: &S, e: Over) -> TraceError {
        match e {
            Over::Recorded => self.bad(s, ALLOC_BEYOND),
            Over::Cap => self.over_cap(s),
        }
    }

    /// Runs `f` on the array in register `r` of the frame at `b`, made
    /// unique first (copy-on-write) and charged as the VM charges it: the
    /// copy, plus one element if `grows` (and the reader's cap is charged
    /// the copy whoever shares the array). `Ok(false)` if there is no array
    /// or `f` fails; an error past the recorded `alloc_bytes` or the cap.
    fn with_array(
        &mut self,
        b: usize,
        r: u16,
        grows: bool,
        f: impl FnOnce(&mut Array) -> bool,
    ) -> Result<bool, Over> {
        let Value::Array(arr) = &mut self.regs[b + usize::from(r)] else {
            return Ok(false);
        };
        let copy = if Rc::get_mut(arr).is_none() {
            alloc_cost::array_contents(arr)
        } else {
            0
        };
        let element = match &**arr {
            Array::Int(_) => alloc_cost::INT,
            Array::Bool(_) => alloc_cost::BOOL,
            Array::Ref(_) => alloc_cost::REF,
        };
        let grow = if grows { element } else { 0 };
        let charged = if self.copies_charged.get() { copy } else { 0 };
        if !charge(&self.alloc_left, charged.saturating_add(grow)) {
            return Err(Over::Recorded);
        }
        if !charge(&self.reader_left, copy.saturating_add(grow)) {
            return Err(Over::Cap);
        }
        Ok(f(Rc::make_mut(arr)))
    }

    fn capability<S: Stream>(&mut self, s: &mut S, m: &Module, t: u8) -> Result<Rec, TraceError> {
        let ok = t != tag::CAP_ERR;
        if !matches!(self.phase, Phase::Running) {
            return Err(self.bad(s, "a capability call out of place"));
        }
        let top = self.frames.last().copied();
        let effect = top.and_then(|t| self.map.index(t.func, t.pc).map(|i| self.map.effects[i]));
        let Some(Effect::Cap { c, .. }) = effect else {
            return Err(self.bad(s, "a capability call where the code makes none"));
        };
        let import = s.index("import")?;
        if import != c {
            return Err(self.bad(s, "a capability call of another import"));
        }
        let sig = &m.imports[usize::from(c)].sig;
        let n = s.varint()?;
        if n != sig.params.len() as u64 {
            return Err(self.bad(s, "a capability call with the wrong number of arguments"));
        }
        let mut args = Vec::with_capacity(sig.params.len());
        for t in &sig.params {
            let v = s.value()?;
            if !conforms(&v, Some(t)) {
                return Err(self.bad(s, "a capability argument of the wrong type"));
            }
            args.push(v);
        }
        let outcome = if ok {
            let v = s.value()?;
            if !conforms(&v, sig.ret.as_ref()) {
                return Err(self.bad(s, "a capability result of the wrong type"));
            }
            self.phase = Phase::AfterCapOk(v.clone());
            Ok(v)
        } else {
            self.phase = Phase::AfterCapErr;
            Err(CapabilityError::new(s.string("capability error")?))
        };
        let opened = if t == tag::CAP_OK_OPENED {
            Some(opened_path(s)?)
        } else {
            None
        };
        Ok(Rec::Capability(Box::new(CapRec {
            import,
            args,
            outcome,
            opened,
        })))
    }

    fn trap<S: Stream>(&mut self, s: &mut S, m: &Module) -> Result<Rec, TraceError> {
        if !matches!(
            self.phase,
            Phase::Start | Phase::Running | Phase::AfterCapOk(_) | Phase::AfterCapErr
        ) {
            return Err(self.bad(s, "a runtime error out of place"));
        }
        let code = s.byte()?;
        let kind = match code {
            trap_code::INTEGER_OVERFLOW => TrapKind::IntegerOverflow,
            trap_code::DIVISION_BY_ZERO => TrapKind::DivisionByZero,
            trap_code::INDEX_OUT_OF_RANGE => TrapKind::IndexOutOfRange,
            trap_code::LIMIT_EXCEEDED => {
                let l = s.byte()?;
                let limit = match l {
                    1 => Limit::Instructions,
                    2 => Limit::CallDepth,
                    3 => Limit::Registers,
                    4 => Limit::ArrayLen,
                    5 => Limit::StringBytes,
                    6 => Limit::AllocBytes,
                    _ => {
                        return Err(s.error(TraceErrorKind::BadTag {
                            what: "limit",
                            tag: l.into(),
                        }))
                    }
                };
                TrapKind::LimitExceeded {
                    limit,
                    value: s.varint()?,
                }
            }
            trap_code::ASSERTION_FAILED => {
                TrapKind::AssertionFailed(s.string("assertion message")?)
            }
            trap_code::INVALID_NUMBER => TrapKind::InvalidNumber,
            trap_code::INVALID_ARGUMENT => TrapKind::InvalidArgument,
            trap_code::EMPTY_ARRAY => TrapKind::EmptyArray,
            trap_code::CAPABILITY => TrapKind::Capability {
                name: s.string("capability name")?,
                reason: s.string("capability error")?,
            },
            trap_code::INTERNAL => {
                // The text cannot become a `&'static str` again; it is kept
                // only in the record.
                s.string("internal error")?;
                TrapKind::Internal("internal error (as recorded)")
            }
            _ => {
                return Err(s.error(TraceErrorKind::BadTag {
                    what: "runtime error kind",
                    tag: code.into(),
                }))
            }
        };
        let func = s.index("function")?;
        let pc = s.index("pc")?;
        let here = self.frames.last().map_or((m.entry, 0), |f| (f.func, f.pc));
        if (func, pc) != here {
            return Err(self.bad(s, "a runtime error away from the current instruction"));
        }
        self.phase = Phase::Trapped;
        Ok(Rec::Trap(Box::new(RuntimeError {
            kind,
            func,
            func_name: m.funcs[usize::from(func)].name.clone(),
            pc,
            line: line(m, func, pc),
        })))
    }

    fn end<S: Stream>(&mut self, s: &mut S) -> Result<Rec, TraceError> {
        let status = s.byte()?;
        let outcome = match (status, &self.phase) {
            (0, Phase::Returned(v)) => {
                let found = s.value()?;
                if &found != v {
                    return Err(self.bad(s, "an end value that is not the returned value"));
                }
                Outcome::Returned(found)
            }
            (1, Phase::Trapped) => Outcome::Failed,
            (0 | 1, _) => return Err(self.bad(s, "an end record out of place")),
            (t, _) => {
                return Err(s.error(TraceErrorKind::BadTag {
                    what: "end status",
                    tag: t.into(),
                }))
            }
        };
        self.phase = Phase::Ended;
        Ok(Rec::End(outcome))
    }
}

/// `idx` as an index into `len` elements.
fn index(len: usize, idx: i64) -> Option<usize> {
    usize::try_from(idx).ok().filter(|&i| i < len)
}

/// Which allowance a step's allocations passed.
#[derive(Debug)]
enum Over {
    /// The recorded `alloc_bytes` (the recording is not genuine).
    Recorded,
    /// The reader's cap.
    Cap,
}

/// The error of a step whose allocations pass the recorded `alloc_bytes`.
const ALLOC_BEYOND: &str = "allocations beyond the recorded alloc_bytes limit";

/// Takes `cost` from `left`; `false` (and nothing taken) if it is not there.
fn charge(left: &Cell<u64>, cost: u64) -> bool {
    match left.get().checked_sub(cost) {
        Some(rest) => {
            left.set(rest);
            true
        }
        None => false,
    }
}

/// What the values in `regs` hold, as [`alloc_cost::deep_within`] counts
/// it, up to `cap`: the most that copy-on-write copies of them can cost (a
/// genuine run never held more than its `alloc_bytes`, so `cap` is that).
fn held_bytes(regs: &[Value], cap: u64) -> u64 {
    let mut left = cap;
    for v in regs {
        match alloc_cost::deep_within(v, left) {
            Some(cost) => left -= cost,
            None => return cap,
        }
    }
    cap - left
}

/// The opened path of a `CAP_OK_OPENED` record: a string of at most
/// [`MAX_OPENED_PATH`] bytes.
pub(super) fn opened_path<S: Bytes + ?Sized>(s: &mut S) -> Result<String, TraceError> {
    let n = s.bounded("opened path length", MAX_OPENED_PATH)?;
    let mut buf = Vec::new();
    s.take_into(n, &mut buf)?;
    String::from_utf8(buf).map_err(|_| {
        s.error(TraceErrorKind::InvalidUtf8 {
            what: "opened path",
        })
    })
}
