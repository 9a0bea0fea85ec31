//! The seekable timeline of a trace: one forward pass builds an index of
//! checkpoints and per-window summaries; then any event's state is at most
//! one checkpoint interval of decoding away.
//!
//! The state "at event N" is the state after event N: the reader has read
//! events `0..=N`. A window is the events between two checkpoints; its
//! summary (the smallest call depth in it, the source lines its steps ran)
//! lets scans for a line or a breakpoint skip windows that cannot match, so
//! `next` over a long call and `rcontinue` over a long run cost a few
//! windows, not the whole trace.
//!
//! **Bound:** memory is the reader's state, the checkpoints (registers and
//! predictors, shared with the reader until mutated) and the windows'
//! summaries. When the checkpoints' and summaries' estimated size passes
//! [`CHECKPOINT_BUDGET`], every other checkpoint is dropped and the interval
//! doubles, so memory stays bounded on any trace. The reader is a capped
//! one (`Reader::open_capped`): every copy it makes of a value that a
//! checkpoint still shares is charged to its `alloc_bytes` cap (within
//! twice the cap), so a trace that makes the reader copy without end stops
//! with its error. No event is held while the next one is read (an event
//! shares values with the reader, and would make it copy them): scans look
//! at one event at a time, and [`Timeline::window_all`] gives the events of
//! a window without their strings and arrays.

use chronicle_core::trace::{Checkpoint, Event, Outcome, Reader, TraceError, Writes};
use chronicle_core::Value;
use std::io::{Read, Seek};
use std::rc::Rc;

/// The default number of events between two checkpoints.
pub const DEFAULT_INTERVAL: u64 = 4096;

/// The estimated bytes all checkpoints and window summaries may hold
/// before they are thinned.
pub const CHECKPOINT_BUDGET: usize = 128 << 20;

/// An event with where it ran.
#[derive(Clone, Debug)]
pub struct Placed {
    /// Its index.
    pub index: u64,
    /// The event.
    pub event: Event,
    /// The call depth it ran at (1 = the entry function; a `return` is at
    /// the depth of the returning frame).
    pub depth: usize,
}

/// What one window between two checkpoints contains.
#[derive(Clone, Debug)]
pub struct Window {
    /// The smallest call depth of its events.
    pub min_depth: usize,
    /// The module's distinct source lines, sorted (shared by all windows):
    /// the bit set is over their indices, so its size is bounded by the
    /// module's instructions, whatever line numbers the module claims.
    known: Rc<[u32]>,
    /// The source lines its steps ran, as a bit set over `known`.
    lines: Vec<u64>,
    /// The line added last (steps repeat lines: no search for those).
    last: Option<u32>,
}

impl Window {
    /// An empty window over the lines `known`.
    fn new(known: &Rc<[u32]>) -> Self {
        Window {
            min_depth: usize::MAX,
            known: Rc::clone(known),
            lines: Vec::new(),
            last: None,
        }
    }

    fn add_line(&mut self, line: u32) {
        if self.last == Some(line) {
            return;
        }
        self.last = Some(line);
        let Ok(i) = self.known.binary_search(&line) else {
            return;
        };
        let (w, b) = (i / 64, i % 64);
        if self.lines.len() <= w {
            self.lines.resize(w + 1, 0);
        }
        self.lines[w] |= 1 << b;
    }

    /// Whether a step of this window ran `line`.
    pub fn has_line(&self, line: u32) -> bool {
        let Ok(i) = self.known.binary_search(&line) else {
            return false;
        };
        let (w, b) = (i / 64, i % 64);
        self.lines.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    /// The bytes its summary holds.
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + 8 * self.lines.capacity()
    }

    fn merge(&mut self, other: &Window) {
        self.min_depth = self.min_depth.min(other.min_depth);
        if self.lines.len() < other.lines.len() {
            self.lines.resize(other.lines.len(), 0);
        }
        for (a, b) in self.lines.iter_mut().zip(&other.lines) {
            *a |= b;
        }
    }
}

/// A capability call, as the index remembers it.
#[derive(Clone, Copy, Debug)]
pub struct CapCall {
    /// The event index.
    pub index: u64,
    /// The source line of the `cap` instruction.
    pub line: u32,
}

/// A trace, indexed for seeking. The reader's state is always that of
/// [`Timeline::position`].
pub struct Timeline<R> {
    reader: Reader<R>,
    interval: u64,
    checkpoints: Vec<Checkpoint>,
    windows: Vec<Window>,
    /// Events in the trace.
    total: u64,
    /// The last event read (the current one).
    current: Option<Placed>,
    /// Every capability call.
    pub caps: Vec<CapCall>,
    /// Checkpoint restores so far (for tests and measurements).
    pub restores: u64,
}

/// The call depth an event ran at, given the depth after it.
fn depth_of(event: &Event, after: usize) -> usize {
    match event {
        Event::Return { .. } => after + 1,
        _ => after,
    }
}

impl<R: Read + Seek> Timeline<R> {
    /// Reads the whole trace once (checking its integrity on the way),
    /// taking a checkpoint every `interval` events, then goes to event 0.
    pub fn open(mut reader: Reader<R>, interval: u64) -> Result<Self, TraceError> {
        let mut interval = interval.max(1);
        let mut known: Vec<u32> = (reader.module().module().funcs.iter())
            .flat_map(|f| f.lines.iter().copied())
            .collect();
        known.sort_unstable();
        known.dedup();
        let known: Rc<[u32]> = known.into();
        let mut checkpoints = vec![reader.checkpoint()];
        let mut windows = vec![Window::new(&known)];
        let mut caps = Vec::new();
        let mut bytes = checkpoints[0].approx_bytes();
        while let Some(event) = reader.next_event()? {
            let index = reader.position() - 1;
            let after = reader.frames().count();
            let depth = depth_of(&event, after);
            let w = windows.last_mut().expect("one window at least");
            w.min_depth = w.min_depth.min(depth);
            match &event {
                Event::Step { line, .. } => w.add_line(*line),
                Event::Capability { .. } => {
                    let line = reader.frames().last().map_or(0, |f| {
                        reader.module().module().funcs[usize::from(f.func)].line(usize::from(f.pc))
                    });
                    caps.push(CapCall { index, line });
                }
                _ => {}
            }
            if reader.position() % interval == 0 {
                let cp = reader.checkpoint();
                bytes += cp.approx_bytes() + windows.last().map_or(0, Window::bytes);
                checkpoints.push(cp);
                windows.push(Window::new(&known));
                if bytes > CHECKPOINT_BUDGET && checkpoints.len() > 2 {
                    // Thin out: keep the even checkpoints, merge window pairs.
                    interval *= 2;
                    let kept: Vec<Checkpoint> = checkpoints.into_iter().step_by(2).collect();
                    let mut merged = Vec::with_capacity(windows.len() / 2 + 1);
                    for pair in windows.chunks(2) {
                        let mut w = pair[0].clone();
                        if let Some(b) = pair.get(1) {
                            w.merge(b);
                        }
                        merged.push(w);
                    }
                    checkpoints = kept;
                    windows = merged;
                    // The last window may now be a merged, complete one; a
                    // new (open) window follows the last checkpoint.
                    windows.truncate(checkpoints.len());
                    if windows.len() < checkpoints.len() {
                        windows.push(Window::new(&known));
                    }
                    bytes = checkpoints
                        .iter()
                        .map(Checkpoint::approx_bytes)
                        .sum::<usize>()
                        + windows.iter().map(Window::bytes).sum::<usize>();
                }
            }
        }
        let total = reader.position();
        let mut t = Timeline {
            reader,
            interval,
            checkpoints,
            windows,
            total,
            current: None,
            caps,
            restores: 0,
        };
        if total > 0 {
            t.seek(0)?;
        }
        Ok(t)
    }

    /// The number of events.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// The current checkpoint interval (after any thinning).
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// The number of checkpoints.
    #[cfg(test)]
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len()
    }

    /// The reader, whose state is that after the current event.
    pub fn reader(&self) -> &Reader<R> {
        &self.reader
    }

    /// The current event.
    pub fn current(&self) -> &Placed {
        self.current.as_ref().expect("a trace has events")
    }

    /// The current event's index.
    pub fn position(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.index)
    }

    /// Reads the next event into `current` (dropping the current one
    /// first, so that the reader need not copy what it shares).
    fn read_one(&mut self) -> Result<Option<&Placed>, TraceError> {
        let last = self.current.take();
        let Some(event) = self.reader.next_event()? else {
            self.current = last;
            return Ok(None);
        };
        let index = self.reader.position() - 1;
        let depth = depth_of(&event, self.reader.frames().count());
        self.current = Some(Placed {
            index,
            event,
            depth,
        });
        Ok(self.current.as_ref())
    }

    /// Makes event `n` (< [`Timeline::len`]) the current one.
    pub fn seek(&mut self, n: u64) -> Result<&Placed, TraceError> {
        let n = n.min(self.total.saturating_sub(1));
        let next = self.reader.position();
        let w = (n / self.interval) as usize;
        let cp_pos = self.checkpoints[w].position();
        // Read on from here when that is no further than from the checkpoint.
        let forward = self.current.is_some() && next <= n + 1 && next >= cp_pos;
        if !forward {
            self.reader.restore(&self.checkpoints[w])?;
            self.restores += 1;
            self.current = None;
        }
        while self.reader.position() <= n {
            if self.read_one()?.is_none() {
                break;
            }
        }
        Ok(self.current())
    }

    /// Calls `each` on the events `from..to` in order (reads them; the
    /// current event changes to `to - 1`). No event is kept.
    fn window_events(
        &mut self,
        from: u64,
        to: u64,
        mut each: impl FnMut(&Placed),
    ) -> Result<(), TraceError> {
        each(self.seek(from)?);
        while self.reader.position() < to {
            match self.read_one()? {
                Some(p) => each(p),
                None => break,
            }
        }
        Ok(())
    }

    /// The first event after the current one that `hit` accepts, skipping
    /// windows `may` rejects; `None` at the end (the current event is then
    /// the last one).
    pub fn scan_forward(
        &mut self,
        may: impl Fn(&Window) -> bool,
        mut hit: impl FnMut(&Placed) -> bool,
    ) -> Result<Option<u64>, TraceError> {
        let mut at = self.position() + 1;
        while at < self.total {
            let w = (at / self.interval) as usize;
            if !may(&self.windows[w]) {
                at = (w as u64 + 1) * self.interval;
                continue;
            }
            let p = self.seek(at)?;
            if hit(p) {
                return Ok(Some(at));
            }
            at += 1;
        }
        self.seek(self.total.saturating_sub(1))?;
        Ok(None)
    }

    /// The last event before the current one that `hit` accepts, skipping
    /// windows `may` rejects; `None` if there is none (the current event
    /// is then unchanged). `hit` sees the events of each window in order.
    pub fn scan_backward(
        &mut self,
        may: impl Fn(&Window) -> bool,
        mut hit: impl FnMut(&Placed) -> bool,
    ) -> Result<Option<u64>, TraceError> {
        let start = self.position();
        let mut end = start; // exclusive
        while end > 0 {
            let w = ((end - 1) / self.interval) as usize;
            let from = w as u64 * self.interval;
            if may(&self.windows[w]) {
                // Forward order for stateful predicates, then take the last hit.
                let mut last = None;
                self.window_events(from, end, |p| {
                    if hit(p) {
                        last = Some(p.index);
                    }
                })?;
                if let Some(i) = last {
                    self.seek(i)?;
                    return Ok(Some(i));
                }
            }
            end = from;
        }
        self.seek(start)?;
        Ok(None)
    }

    /// The summary of window `w` (events `w * interval ..`).
    pub fn window(&self, w: usize) -> &Window {
        &self.windows[w]
    }

    /// Every event of window `w`, each [`light`]: without its strings and
    /// arrays ([`Timeline::seek`] to one gives it whole). The current event
    /// changes.
    pub fn window_all(&mut self, w: usize) -> Result<Vec<Placed>, TraceError> {
        let from = w as u64 * self.interval;
        let to = (from + self.interval).min(self.total);
        let mut out = Vec::new();
        self.window_events(from, to, |p| out.push(light(p)))?;
        Ok(out)
    }
}

/// `p` with every string and array value replaced by unit (scalars kept):
/// what the debugger keeps of events it holds, so that holding many costs
/// no copy of what the reader shares with them.
pub fn light(p: &Placed) -> Placed {
    let v = |v: &Value| match v {
        Value::Str(_) | Value::Array(_) => Value::Unit,
        other => other.clone(),
    };
    let event = match &p.event {
        Event::Enter { func, args } => Event::Enter {
            func: *func,
            args: args.iter().map(v).collect(),
        },
        Event::Step {
            func,
            pc,
            line,
            writes,
        } => {
            let mut light = Writes::new();
            for (r, value) in writes.iter() {
                light.push(*r, v(value));
            }
            Event::Step {
                func: *func,
                pc: *pc,
                line: *line,
                writes: light,
            }
        }
        Event::Return { func, value } => Event::Return {
            func: *func,
            value: v(value),
        },
        Event::Capability {
            import,
            args,
            outcome,
            opened: _,
        } => Event::Capability {
            import: *import,
            args: args.iter().map(v).collect(),
            outcome: outcome.as_ref().map(v).map_err(Clone::clone),
            // A string like any other, and `why` never explains a path.
            opened: None,
        },
        Event::Trap { error } => Event::Trap {
            error: error.clone(),
        },
        Event::End { outcome } => Event::End {
            outcome: match outcome {
                Outcome::Returned(x) => Outcome::Returned(v(x)),
                other => other.clone(),
            },
        },
    };
    Placed {
        index: p.index,
        event,
        depth: p.depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chronicle_core::testing::proptest_cases;
    use chronicle_core::trace::{self, TraceHeader};
    use chronicle_core::vm::NoHost;
    use chronicle_core::Value;
    use proptest::prelude::*;
    use std::io::Cursor;

    /// A recording of a small program with calls, loops, strings and arrays.
    fn recording() -> Vec<u8> {
        let src = "fn f(x: int, s: str) -> str {\n    let t = s;\n    for i in 0..x {\n        t = t + str(i);\n    }\n    return t;\n}\n\
                   fn main() -> int {\n    let xs: [str] = [];\n    let n = 0;\n    while n < 12 {\n        push(xs, f(n, \"a\"));\n        n = n + 1;\n    }\n    return len(xs[11]);\n}\n";
        let module = chronicle_lang::compile("t.chr", src).unwrap();
        let mut header = TraceHeader::new(&module);
        header.source = Some(src.into());
        // Small chunks, so checkpoints fall inside and between chunks.
        let options = trace::RecorderOptions {
            chunk_size: 256,
            ..trace::RecorderOptions::default()
        };
        let rec = trace::record_with(NoHost, header, Vec::new(), options).unwrap();
        assert!(rec.outcome.is_ok());
        rec.trace.writer
    }

    /// The state after event `n`, read from the start with no index.
    fn from_scratch(bytes: &[u8], n: u64) -> (Event, Vec<(u16, u16, Vec<Value>)>) {
        let mut r = Reader::open(bytes).unwrap();
        let mut last = None;
        for _ in 0..=n {
            last = r.next_event().unwrap();
        }
        let frames = r
            .frames()
            .map(|f| (f.func, f.pc, f.registers.to_vec()))
            .collect();
        (last.unwrap(), frames)
    }

    fn state<R: Read + Seek>(t: &Timeline<R>) -> (Event, Vec<(u16, u16, Vec<Value>)>) {
        let frames = t
            .reader()
            .frames()
            .map(|f| (f.func, f.pc, f.registers.to_vec()))
            .collect();
        (t.current().event.clone(), frames)
    }

    #[derive(Clone, Debug)]
    enum Move {
        Forward,
        Backward,
        Jump(u64),
    }

    fn moves() -> impl Strategy<Value = Vec<Move>> {
        prop::collection::vec(
            prop_oneof![
                Just(Move::Forward),
                Just(Move::Backward),
                (0u64..100_000).prop_map(Move::Jump),
            ],
            1..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(proptest_cases(48)))]
        #[test]
        fn any_moves_end_in_the_state_rebuilt_from_scratch(ms in moves(), interval in 1u64..64) {
            let bytes = recording();
            let reader = Reader::open(Cursor::new(bytes.clone())).unwrap();
            let mut t = Timeline::open(reader, interval).unwrap();
            let total = t.len();
            for m in ms {
                let at = t.position();
                let to = match m {
                    Move::Forward => (at + 1).min(total - 1),
                    Move::Backward => at.saturating_sub(1),
                    Move::Jump(n) => n % total,
                };
                t.seek(to).unwrap();
                prop_assert_eq!(t.position(), to);
            }
            let got = state(&t);
            let want = from_scratch(&bytes, t.position());
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_window_summary_is_sized_by_the_module_lines_not_their_numbers() {
        // A hostile module may claim any line number: a bit set indexed by
        // the numbers themselves would be 512 MiB per window for u32::MAX.
        let known: Rc<[u32]> = vec![1, 7, u32::MAX].into();
        let mut w = Window::new(&known);
        w.add_line(u32::MAX);
        w.add_line(7);
        w.add_line(5); // no instruction has it: ignored
        assert!(w.has_line(u32::MAX) && w.has_line(7));
        assert!(!w.has_line(1) && !w.has_line(5) && !w.has_line(u32::MAX - 1));
        assert_eq!(w.lines.len(), 1);
    }

    #[test]
    fn light_events_keep_scalars_and_drop_strings_and_arrays() {
        let bytes = recording();
        let mut r = Reader::open(&bytes[..]).unwrap();
        let (mut strings, mut ints) = (0, 0);
        let mut index = 0;
        while let Some(event) = r.next_event().unwrap() {
            let p = Placed {
                index,
                event,
                depth: 1,
            };
            index += 1;
            let l = light(&p);
            assert_eq!(
                (l.index, l.depth, l.event.kind()),
                (p.index, 1, p.event.kind())
            );
            if let (Event::Step { writes: full, .. }, Event::Step { writes: kept, .. }) =
                (&p.event, &l.event)
            {
                assert_eq!(full.len(), kept.len());
                for ((r1, v1), (r2, v2)) in full.iter().zip(kept.iter()) {
                    assert_eq!(r1, r2);
                    match v1 {
                        Value::Str(_) | Value::Array(_) => {
                            strings += 1;
                            assert_eq!(*v2, Value::Unit);
                        }
                        _ => {
                            ints += 1;
                            assert_eq!(v1, v2);
                        }
                    }
                }
            }
        }
        assert!(strings > 0 && ints > 0, "{strings} {ints}");
    }

    #[test]
    fn scans_skip_windows_and_find_the_same_events_as_a_plain_walk() {
        let bytes = recording();
        let mut t = Timeline::open(Reader::open(Cursor::new(bytes.clone())).unwrap(), 8).unwrap();
        // Every step on line 4 (the loop body in `f`), forward then backward.
        let mut forward = Vec::new();
        while let Some(i) = t
            .scan_forward(
                |w| w.has_line(4),
                |p| matches!(p.event, Event::Step { line: 4, .. }),
            )
            .unwrap()
        {
            forward.push(i);
        }
        let mut backward = Vec::new();
        while let Some(i) = t
            .scan_backward(
                |w| w.has_line(4),
                |p| matches!(p.event, Event::Step { line: 4, .. }),
            )
            .unwrap()
        {
            backward.push(i);
        }
        backward.reverse();
        let mut r = Reader::open(&bytes[..]).unwrap();
        let mut plain = Vec::new();
        let mut i = 0;
        while let Some(e) = r.next_event().unwrap() {
            if matches!(e, Event::Step { line: 4, .. }) {
                plain.push(i);
            }
            i += 1;
        }
        assert!(!plain.is_empty());
        assert_eq!(forward, plain);
        assert_eq!(backward, plain);
        assert!(t.checkpoints() > 10);
    }
}
