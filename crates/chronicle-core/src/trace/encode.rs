//! Observer hooks -> event records: the encoder shared by the recorder and
//! by replay, which re-encodes the replayed run and compares bytes.
//!
//! The encoder appends records to a byte buffer and allocates nothing per
//! event: a step of an instruction that writes a scalar is one byte when the
//! new value is within 64 of the per-instruction stride prediction.

use super::effect::{Effect, ExecMap};
use super::wire::{put_bytes, put_value, put_varint, zigzag};
use crate::isa::Instr;
use crate::limits::Limit;
use crate::value::Value;
use crate::vm::{CapabilityError, FrameView, RuntimeError, TrapKind};

/// Record tags (see `docs/TRACE_FORMAT.md`, "Records").
pub(super) mod tag {
    /// A step with no scalar residual; for a branch, not taken.
    pub const STEP: u8 = 0x00;
    /// A step of a branch that was taken.
    pub const STEP_TAKEN: u8 = 0x01;
    /// A step whose scalar residual follows as a zigzag varint (>= 128 zigzagged).
    pub const STEP_WIDE: u8 = 0x02;
    /// The entry function's frame was entered: the run starts.
    pub const ENTER: u8 = 0x03;
    /// A capability call that returned a value.
    pub const CAP_OK: u8 = 0x04;
    /// A capability call that failed.
    pub const CAP_ERR: u8 = 0x05;
    /// A runtime error stopped the run.
    pub const TRAP: u8 = 0x06;
    /// The end of the run.
    pub const END: u8 = 0x07;
    /// A capability call that returned a value, with the path it opened
    /// (format version 3 on).
    pub const CAP_OK_OPENED: u8 = 0x08;
    /// Tags from here on are steps with the zigzagged residual in the low 7 bits.
    pub const STEP_SMALL: u8 = 0x80;
}

/// The longest opened path a record holds, in bytes (readers refuse longer).
pub(super) const MAX_OPENED_PATH: u64 = 1 << 16;

/// Trap kind codes in `TRAP` records.
pub(super) mod trap_code {
    pub const INTEGER_OVERFLOW: u8 = 1;
    pub const DIVISION_BY_ZERO: u8 = 2;
    pub const INDEX_OUT_OF_RANGE: u8 = 3;
    pub const LIMIT_EXCEEDED: u8 = 4;
    pub const ASSERTION_FAILED: u8 = 5;
    pub const INVALID_NUMBER: u8 = 6;
    pub const INVALID_ARGUMENT: u8 = 7;
    pub const EMPTY_ARRAY: u8 = 8;
    pub const CAPABILITY: u8 = 9;
    pub const INTERNAL: u8 = 10;
}

/// The code of a limit in `TRAP` records.
pub(super) fn limit_code(l: Limit) -> u8 {
    match l {
        Limit::Instructions => 1,
        Limit::CallDepth => 2,
        Limit::Registers => 3,
        Limit::ArrayLen => 4,
        Limit::StringBytes => 5,
        Limit::AllocBytes => 6,
    }
}

/// The scalar predictor of one instruction: the next value is guessed as
/// `last + stride`, and the record stores the (wrapping) difference.
#[derive(Clone, Copy, Default)]
pub(super) struct Predictor {
    pub last: i64,
    pub stride: i64,
}

impl Predictor {
    /// Records `v`; returns its residual against the prediction.
    #[inline]
    pub fn residual(&mut self, v: i64) -> i64 {
        let r = v.wrapping_sub(self.last.wrapping_add(self.stride));
        self.stride = v.wrapping_sub(self.last);
        self.last = v;
        r
    }

    /// Recovers a value from its residual (the inverse of [`Self::residual`]).
    #[inline]
    pub fn value(&mut self, r: i64) -> i64 {
        let v = self.last.wrapping_add(self.stride).wrapping_add(r);
        self.stride = v.wrapping_sub(self.last);
        self.last = v;
        v
    }
}

/// Where the encoded run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Nothing observed yet.
    Start,
    /// The entry frame is live.
    Running,
    /// The entry function returned.
    Returned,
    /// A trap was observed.
    Trapped,
    /// The end record was written.
    Ended,
}

/// One instruction's effect and its scalar predictor, side by side so that
/// a step touches one cache line.
#[derive(Clone, Copy)]
struct Slot {
    effect: Effect,
    pred: Predictor,
}

/// Encodes observer hooks as records into [`Encoder::buf`].
pub(super) struct Encoder {
    pub map: ExecMap,
    slots: Vec<Slot>,
    /// The function of the last step, its first slot and its length: most
    /// steps stay in the function of the step before.
    cur: (u16, usize, usize),
    /// Encoded records not yet taken by the caller.
    pub buf: Vec<u8>,
    /// Frames entered and not returned from.
    depth: u64,
    /// Logical events so far (implied ones included).
    pub events: u64,
    /// Step events so far.
    pub steps: u64,
    pub phase: Phase,
    /// Set when a hook could not belong to the recorded module's run.
    pub misuse: Option<&'static str>,
}

impl Encoder {
    /// An encoder for runs of the module `map` was built from.
    pub fn new(map: ExecMap) -> Self {
        let slots = map
            .effects
            .iter()
            .map(|&effect| Slot {
                effect,
                pred: Predictor::default(),
            })
            .collect();
        Encoder {
            slots,
            map,
            cur: (u16::MAX, 0, 0),
            buf: Vec::new(),
            depth: 0,
            events: 0,
            steps: 0,
            phase: Phase::Start,
            misuse: None,
        }
    }

    fn misuse(&mut self, what: &'static str) {
        self.misuse.get_or_insert(what);
    }

    /// The `enter` hook.
    #[inline]
    pub fn enter(&mut self) {
        if self.depth == 0 {
            if self.phase != Phase::Start {
                return self.misuse("a second run was observed");
            }
            self.phase = Phase::Running;
            self.buf.push(tag::ENTER);
        }
        self.depth += 1;
        self.events += 1;
    }

    /// The `exit` hook.
    #[inline]
    pub fn exit(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            self.phase = Phase::Returned;
        }
        self.events += 1;
    }

    /// The `step` hook. Scalar writes, the common case, take the short path.
    #[inline(always)]
    pub fn step(&mut self, func: u16, pc: u16, instr: Instr, frame: FrameView<'_>) {
        let (f, base, len) = self.cur;
        let i = if func == f && usize::from(pc) < len {
            base + usize::from(pc)
        } else {
            match self.locate(func, pc) {
                Some(i) => i,
                None => return self.misuse("a step outside the recorded module"),
            }
        };
        self.events += 1;
        self.steps += 1;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if let Effect::Scalar { d } | Effect::Loop { d, .. } = slot.effect {
            let zz = zigzag(slot.pred.residual(scalar(&frame, d)));
            if zz < 0x80 {
                self.buf.push(tag::STEP_SMALL | zz as u8);
            } else {
                self.buf.push(tag::STEP_WIDE);
                put_varint(&mut self.buf, zz);
            }
        } else if let Effect::Branch { .. } = slot.effect {
            let taken = taken(instr, &frame);
            self.buf
                .push(if taken { tag::STEP_TAKEN } else { tag::STEP });
        } else {
            let effect = slot.effect;
            self.step_other(effect, frame);
        }
    }

    /// The slot of (`func`, `pc`), caching the function.
    #[cold]
    fn locate(&mut self, func: u16, pc: u16) -> Option<usize> {
        let i = self.map.index(func, pc)?;
        let f = &self.map.funcs[usize::from(func)];
        let end = self
            .map
            .funcs
            .get(usize::from(func) + 1)
            .map_or(self.map.effects.len(), |n| n.base);
        self.cur = (func, f.base, end - f.base);
        Some(i)
    }

    /// A step of anything but a scalar write.
    #[inline(never)]
    fn step_other(&mut self, effect: Effect, frame: FrameView<'_>) {
        match effect {
            Effect::Full { d } => {
                self.buf.push(tag::STEP);
                put_value(&mut self.buf, &frame.get(d).unwrap_or_default());
            }
            Effect::Append { d, b } => {
                self.buf.push(tag::STEP);
                let s = frame.get(d).unwrap_or_default();
                let s = s.as_str().unwrap_or_default();
                // `b`'s old length: if `b` is `d`, the string doubled.
                let added = if b == d {
                    s.len() / 2
                } else {
                    frame
                        .get(b)
                        .unwrap_or_default()
                        .as_str()
                        .map_or(0, str::len)
                };
                put_bytes(&mut self.buf, &s.as_bytes()[s.len() - added.min(s.len())..]);
            }
            _ => self.buf.push(tag::STEP),
        }
    }

    /// The `capability` and `capability_opened` hooks: a successful call that reported what
    /// it opened is a `CAP_OK_OPENED` record, unless the path is longer
    /// than [`MAX_OPENED_PATH`] (no real path is; it is then left out, and
    /// an audit fails the call for lack of it).
    pub fn capability(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
        opened: Option<&str>,
    ) {
        self.events += 1;
        let opened = opened.filter(|p| p.len() as u64 <= MAX_OPENED_PATH && outcome.is_ok());
        self.buf.push(match (outcome, opened) {
            (Ok(_), Some(_)) => tag::CAP_OK_OPENED,
            (Ok(_), None) => tag::CAP_OK,
            (Err(_), _) => tag::CAP_ERR,
        });
        put_varint(&mut self.buf, import.into());
        put_varint(&mut self.buf, args.len() as u64);
        for a in args {
            put_value(&mut self.buf, a);
        }
        match outcome {
            Ok(v) => put_value(&mut self.buf, v),
            Err(e) => put_bytes(&mut self.buf, e.reason.as_bytes()),
        }
        if let Some(p) = opened {
            put_bytes(&mut self.buf, p.as_bytes());
        }
    }

    /// The `trap` hook.
    pub fn trap(&mut self, e: &RuntimeError) {
        if matches!(self.phase, Phase::Trapped | Phase::Ended) {
            return self.misuse("a second trap was observed");
        }
        self.phase = Phase::Trapped;
        self.events += 1;
        let b = &mut self.buf;
        b.push(tag::TRAP);
        match &e.kind {
            TrapKind::IntegerOverflow => b.push(trap_code::INTEGER_OVERFLOW),
            TrapKind::DivisionByZero => b.push(trap_code::DIVISION_BY_ZERO),
            TrapKind::IndexOutOfRange => b.push(trap_code::INDEX_OUT_OF_RANGE),
            TrapKind::LimitExceeded { limit, value } => {
                b.push(trap_code::LIMIT_EXCEEDED);
                b.push(limit_code(*limit));
                put_varint(b, *value);
            }
            TrapKind::AssertionFailed(m) => {
                b.push(trap_code::ASSERTION_FAILED);
                put_bytes(b, m.as_bytes());
            }
            TrapKind::InvalidNumber => b.push(trap_code::INVALID_NUMBER),
            TrapKind::InvalidArgument => b.push(trap_code::INVALID_ARGUMENT),
            TrapKind::EmptyArray => b.push(trap_code::EMPTY_ARRAY),
            TrapKind::Capability { name, reason } => {
                b.push(trap_code::CAPABILITY);
                put_bytes(b, name.as_bytes());
                put_bytes(b, reason.as_bytes());
            }
            TrapKind::Internal(m) => {
                b.push(trap_code::INTERNAL);
                put_bytes(b, m.as_bytes());
            }
            // The VM reports a halt to no observer, so a recorder never sees
            // one; a caller that hands one to `finish` gets this.
            TrapKind::Halted => {
                b.push(trap_code::INTERNAL);
                put_bytes(b, b"halted by the observer");
            }
        }
        put_varint(b, e.func.into());
        put_varint(b, e.pc.into());
    }

    /// The end record for `outcome`. Fails if the observed run does not
    /// match the outcome (nothing is encoded then).
    pub fn end(&mut self, outcome: &Result<Value, RuntimeError>) -> Result<(), &'static str> {
        if let Some(m) = self.misuse {
            return Err(m);
        }
        match (outcome, self.phase) {
            (Ok(v), Phase::Returned) => {
                self.buf.push(tag::END);
                self.buf.push(0);
                put_value(&mut self.buf, v);
            }
            (Err(_), Phase::Trapped) => {
                self.buf.push(tag::END);
                self.buf.push(1);
            }
            (_, Phase::Ended) => return Err("the run was already finished"),
            (Ok(_), _) => return Err("the observed run did not return"),
            (Err(_), _) => return Err("the observed run did not trap"),
        }
        self.phase = Phase::Ended;
        self.events += 1;
        Ok(())
    }
}

/// The value of scalar register `r` as an `i64` (bools as 0 and 1).
#[inline(always)]
pub(super) fn scalar(frame: &FrameView<'_>, r: u16) -> i64 {
    frame.scalar(r).unwrap_or(0)
}

/// Whether the conditional jump `instr` was taken, from the registers it
/// read (a jump writes none, so they are unchanged).
#[inline(always)]
fn taken(instr: Instr, frame: &FrameView<'_>) -> bool {
    let r = |reg| scalar(frame, reg);
    match instr {
        Instr::JumpIf { c, .. } => r(c) != 0,
        Instr::JumpIfNot { c, .. } => r(c) == 0,
        Instr::JumpLt { a, b, .. } => r(a) < r(b),
        Instr::JumpLe { a, b, .. } => r(a) <= r(b),
        Instr::JumpGt { a, b, .. } => r(a) > r(b),
        Instr::JumpGe { a, b, .. } => r(a) >= r(b),
        _ => false,
    }
}
