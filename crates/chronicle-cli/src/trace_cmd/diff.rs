//! `chronicle diff A B`: where two recorded runs part, which capability
//! calls differ, and how each ended, as text or as one JSON object (shape:
//! docs/DIFF_JSON.md).
//!
//! Both traces are read in lockstep, one event from each at a time, under
//! the reader's caps, so memory stays bounded whatever their length: no
//! event is kept but the few that are reported and the capability calls
//! still waiting for their partner (calls are paired by capability name
//! and ordinal: the n-th `fs.read` of A with the n-th `fs.read` of B, and
//! a pair is dropped as soon as it is compared).
//!
//! Runs of one module are compared event by event. Runs of two modules
//! (two versions of a plugin: their module hashes differ) are compared by
//! function name and source line instead of pc and register: consecutive
//! steps on one line count as one, and a step's register writes are not
//! compared (registers are laid out per module); calls, returns,
//! capability calls and results are compared by value.
//!
//! Exit codes as `diff(1)`: 0 the runs are identical (same module, same
//! events), 1 they differ, 2 bad input (not a trace, a header over a reader
//! cap), 3 a damaged trace (as `audit`).

use super::report::{event_json, value_json};
use super::{open_file, trace_failure};
use crate::args::ReaderCapArgs;
use crate::commands::{error_json, print_line};
use crate::failure::Failure;
use chronicle_core::trace::{hex, Event, Outcome, Reader};
use chronicle_core::vm::{CapabilityError, RuntimeError};
use chronicle_core::{Module, Value};
use clap::Args;
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `chronicle diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first trace (A, e.g. last night's run).
    pub a: PathBuf,
    /// The second trace (B, e.g. tonight's run).
    pub b: PathBuf,
    /// Print one JSON object (see docs/DIFF_JSON.md).
    #[arg(long)]
    pub json: bool,
    /// What reading each trace may cost.
    #[command(flatten)]
    pub caps: ReaderCapArgs,
}

/// The most differing capability calls reported one by one (all are counted).
const MAX_REPORTED_CALLS: usize = 50;

/// The most characters of a value or a source line shown in the text report.
const MAX_SHOWN: usize = 72;

/// `chronicle diff`: prints the comparison; 0 identical, 1 differ, 2 bad
/// input, 3 a damaged trace.
pub fn diff(args: &DiffArgs) -> ExitCode {
    match compare(args) {
        Ok(report) => {
            let identical = report.identical();
            if args.json {
                print_line(&report.json().to_string());
            } else {
                let mut out = std::io::stdout().lock();
                // A closed pipe (e.g. `| head`) is not an error.
                let _ = out.write_all(report.text().as_bytes());
            }
            ExitCode::from(if identical { 0 } else { 1 })
        }
        Err(failure) => {
            failure.report();
            failure.exit_code()
        }
    }
}

/// One trace being read.
struct Side {
    path: PathBuf,
    reader: Reader<BufReader<File>>,
    /// Events read so far (the next event's index).
    events: u64,
    /// Step events read.
    steps: u64,
    /// Capability events read.
    calls: u64,
    /// Whether the trace has been read to its end (footer checked).
    done: bool,
    outcome: Option<Outcome>,
    trap: Option<RuntimeError>,
    /// The (function, line) of the last step, when nothing but steps
    /// followed it (for collapsing steps on one line across modules).
    last_line: Option<(u16, u32)>,
    /// Calls per capability name so far, for their ordinals.
    ordinals: BTreeMap<String, u64>,
}

impl Side {
    fn open(path: &Path, caps: &ReaderCapArgs) -> Result<Side, Failure> {
        let file = open_file(path)?;
        let reader = Reader::open_capped(BufReader::new(file), caps.caps())
            .map_err(|e| trace_failure(path, &e))?;
        Ok(Side {
            path: path.to_path_buf(),
            reader,
            events: 0,
            steps: 0,
            calls: 0,
            done: false,
            outcome: None,
            trap: None,
            last_line: None,
            ordinals: BTreeMap::new(),
        })
    }

    fn module(&self) -> &Module {
        self.reader.module().module()
    }

    /// The next event and its index, or `None` at the end; counts it.
    fn next(&mut self) -> Result<Option<(u64, Event)>, Failure> {
        if self.done {
            return Ok(None);
        }
        match self.reader.next_event() {
            Ok(Some(e)) => {
                let index = self.events;
                self.events += 1;
                match &e {
                    Event::Step { .. } => self.steps += 1,
                    Event::Capability { .. } => self.calls += 1,
                    Event::Trap { error } => self.trap = Some(error.clone()),
                    Event::End { outcome } => self.outcome = Some(outcome.clone()),
                    _ => {}
                }
                Ok(Some((index, e)))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => Err(trace_failure(&self.path, &e)),
        }
    }

    /// The next event to compare: with `collapse`, a step on the line of
    /// the step just before it is counted but skipped.
    fn next_compared(&mut self, collapse: bool) -> Result<Option<(u64, Event)>, Failure> {
        loop {
            let Some((index, e)) = self.next()? else {
                return Ok(None);
            };
            if let Event::Step { func, line, .. } = &e {
                let here = Some((*func, *line));
                if collapse && self.last_line == here {
                    continue;
                }
                self.last_line = here;
            } else {
                self.last_line = None;
            }
            return Ok(Some((index, e)));
        }
    }

    /// Where event `e`, just read, happened: its function, pc and line
    /// (`None` for the end, or a return from the entry function).
    fn location(&self, e: &Event) -> Option<Location> {
        let m = self.module();
        let at = |func: u16, pc: u16| {
            let f = m.funcs.get(usize::from(func));
            Location {
                function: f.map_or_else(|| format!("f{func}"), |f| f.name.clone()),
                pc,
                line: f
                    .and_then(|f| f.lines.get(usize::from(pc)))
                    .copied()
                    .unwrap_or(0),
            }
        };
        Some(match e {
            Event::Step { func, pc, line, .. } => Location {
                line: *line,
                ..at(*func, *pc)
            },
            Event::Enter { func, .. } => at(*func, 0),
            Event::Trap { error } => Location {
                function: error.func_name.clone(),
                pc: error.pc,
                line: error.line,
            },
            Event::End { .. } => return None,
            // A capability call: the `cap` instruction, whose step follows;
            // a return: the caller, at its call.
            Event::Capability { .. } | Event::Return { .. } => {
                let top = self.reader.frames().last()?;
                at(top.func, top.pc)
            }
        })
    }

    /// Source line `line` from the trace's embedded source, if it has one.
    fn source_line(&self, line: u32) -> Option<String> {
        let n = usize::try_from(line).ok()?.checked_sub(1)?;
        let text = self.reader.header().source.as_deref()?.lines().nth(n)?;
        Some(text.trim().to_string())
    }

    /// One side's end of the report on event `e` (`None`: the trace ended).
    fn point(&self, e: Option<&(u64, Event)>) -> Point {
        match e {
            Some((index, e)) => {
                let location = self.location(e);
                let source = location.as_ref().and_then(|l| self.source_line(l.line));
                Point {
                    index: Some(*index),
                    text: describe(e, self.module()),
                    json: event_json(*index, e, self.module()),
                    location,
                    source,
                }
            }
            None => Point {
                index: None,
                text: format!("(the trace ends after {} events)", self.events),
                json: serde_json::Value::Null,
                location: None,
                source: None,
            },
        }
    }

    fn outcome_text(&self) -> String {
        match (&self.outcome, &self.trap) {
            (Some(Outcome::Returned(Value::Unit)), _) => "returned nothing".into(),
            (Some(Outcome::Returned(v)), _) => format!("returned {v}"),
            (Some(Outcome::Failed), Some(t)) => format!("failed: {t}"),
            _ => "did not end".into(),
        }
    }

    fn outcome_json(&self) -> serde_json::Value {
        match (&self.outcome, &self.trap) {
            (Some(Outcome::Returned(v)), _) => {
                json!({ "ok": true, "result": value_json(v), "literal": v.to_string() })
            }
            (Some(Outcome::Failed), Some(t)) => json!({ "ok": false, "error": error_json(t) }),
            _ => serde_json::Value::Null,
        }
    }

    fn json(&self) -> serde_json::Value {
        let h = self.reader.header();
        json!({
            "trace": self.path.display().to_string(),
            "plugin": h.plugin_name,
            "module_hash": hex(&h.module_hash()),
            "policy_hash": h.policy_hash().map(|p| hex(&p)),
            "events": self.events,
            "instructions": self.steps,
            "capability_calls": self.calls,
            "outcome": self.outcome_json(),
        })
    }
}

/// A function, pc and source line.
struct Location {
    function: String,
    pc: u16,
    line: u32,
}

/// One side of a reported event.
struct Point {
    /// Its index; `None` if the trace had ended.
    index: Option<u64>,
    text: String,
    json: serde_json::Value,
    location: Option<Location>,
    source: Option<String>,
}

impl Point {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "index": self.index,
            "event": self.json,
            "location": self.location.as_ref().map(|l| json!({
                "function": l.function, "pc": l.pc, "line": l.line, "source": self.source,
            })),
        })
    }
}

/// A capability call, waiting for its partner on the other side.
struct Call {
    index: u64,
    ordinal: u64,
    args: Vec<Value>,
    outcome: Result<Value, CapabilityError>,
    opened: Option<String>,
}

impl Call {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "index": self.index,
            "args": self.args.iter().map(value_json).collect::<Vec<_>>(),
            "outcome": match &self.outcome {
                Ok(v) => json!({ "ok": true, "value": value_json(v) }),
                Err(e) => json!({ "ok": false, "error": e.reason }),
            },
            "opened": self.opened,
        })
    }
}

/// A pair of calls that differ, or a call with no partner.
struct CallDiff {
    name: String,
    ordinal: u64,
    a: Option<Call>,
    b: Option<Call>,
}

/// The capability calls of both sides, paired by name and ordinal.
#[derive(Default)]
struct Calls {
    /// Per name, the calls of A (`.0`) or B (`.1`) not yet paired.
    waiting: BTreeMap<String, (VecDeque<Call>, VecDeque<Call>)>,
    reported: Vec<CallDiff>,
    differing: u64,
}

impl Calls {
    fn note(&mut self, side: &mut Side, is_a: bool, index: u64, e: &Event) {
        let Event::Capability {
            import,
            args,
            outcome,
            opened,
        } = e
        else {
            return;
        };
        let name = side
            .module()
            .imports
            .get(usize::from(*import))
            .map_or_else(|| format!("c{import}"), |i| i.name.clone());
        let ordinal = side.ordinals.entry(name.clone()).or_insert(0);
        *ordinal += 1;
        let call = Call {
            index,
            ordinal: *ordinal,
            args: args.clone(),
            outcome: outcome.clone(),
            opened: opened.clone(),
        };
        let queues = self.waiting.entry(name.clone()).or_default();
        let (mine, theirs) = if is_a {
            (&mut queues.0, &mut queues.1)
        } else {
            (&mut queues.1, &mut queues.0)
        };
        match theirs.pop_front() {
            Some(other) => {
                let (a, b) = if is_a { (call, other) } else { (other, call) };
                if a.args != b.args || a.outcome != b.outcome || a.opened != b.opened {
                    self.push(CallDiff {
                        name,
                        ordinal: a.ordinal,
                        a: Some(a),
                        b: Some(b),
                    });
                }
            }
            None => mine.push_back(call),
        }
    }

    fn push(&mut self, d: CallDiff) {
        self.differing += 1;
        if self.reported.len() < MAX_REPORTED_CALLS {
            self.reported.push(d);
        }
    }

    /// Reports the calls left without a partner, in order of name.
    fn finish(&mut self) {
        for (name, (a, b)) in std::mem::take(&mut self.waiting) {
            for call in a {
                self.push(CallDiff {
                    name: name.clone(),
                    ordinal: call.ordinal,
                    a: Some(call),
                    b: None,
                });
            }
            for call in b {
                self.push(CallDiff {
                    name: name.clone(),
                    ordinal: call.ordinal,
                    a: None,
                    b: Some(call),
                });
            }
        }
    }
}

/// Everything the report says.
struct Report {
    a: Side,
    b: Side,
    same_module: bool,
    /// The first pair of compared events that differ.
    first: Option<(Point, Point)>,
    /// The first pair at different places (kind, function, line; pc within
    /// one module), or where one trace ends before the other.
    part: Option<(Point, Point)>,
    calls: Calls,
}

fn compare(args: &DiffArgs) -> Result<Report, Failure> {
    let mut a = Side::open(&args.a, &args.caps)?;
    let mut b = Side::open(&args.b, &args.caps)?;
    let same_module = a.reader.header().module_hash() == b.reader.header().module_hash();
    let collapse = !same_module;
    let mut calls = Calls::default();
    let mut first = None;
    let mut part = None;
    // In lockstep until the paths part, then each to its end (still
    // alternating, so that paired calls are dropped early).
    loop {
        let ea = a.next_compared(collapse)?;
        let eb = b.next_compared(collapse)?;
        if let Some((i, e)) = &ea {
            calls.note(&mut a, true, *i, e);
        }
        if let Some((i, e)) = &eb {
            calls.note(&mut b, false, *i, e);
        }
        if ea.is_none() && eb.is_none() {
            break;
        }
        if part.is_some() {
            continue;
        }
        let parted = match (&ea, &eb) {
            (Some((_, x)), Some((_, y))) => {
                place(x, a.module(), same_module) != place(y, b.module(), same_module)
            }
            _ => true,
        };
        let differ = parted
            || match (&ea, &eb) {
                (Some((_, x)), Some((_, y))) => !same(x, a.module(), y, b.module(), same_module),
                _ => true,
            };
        if differ && first.is_none() {
            first = Some(points(&a, ea.as_ref(), &b, eb.as_ref()));
        }
        if parted {
            part = Some(points(&a, ea.as_ref(), &b, eb.as_ref()));
        }
    }
    calls.finish();
    Ok(Report {
        a,
        b,
        same_module,
        first,
        part,
        calls,
    })
}

/// Both sides of a reported pair of events. Two capability calls are
/// shown around where their arguments or results differ.
fn points(
    a: &Side,
    ea: Option<&(u64, Event)>,
    b: &Side,
    eb: Option<&(u64, Event)>,
) -> (Point, Point) {
    let (mut pa, mut pb) = (a.point(ea), b.point(eb));
    if let (
        Some((
            _,
            Event::Capability {
                args: xa,
                outcome: xo,
                ..
            },
        )),
        Some((
            _,
            Event::Capability {
                args: ya,
                outcome: yo,
                ..
            },
        )),
    ) = (ea, eb)
    {
        let name = |t: &str| {
            t.split_once('(')
                .map_or(String::new(), |(n, _)| n.to_string())
        };
        let (args_a, args_b) = if xa == ya {
            (shown_args(xa), shown_args(ya))
        } else {
            shown_pair(&args_text(xa), &args_text(ya))
        };
        let (out_a, out_b) = if xo == yo {
            (shown_outcome(xo), shown_outcome(yo))
        } else {
            shown_pair(&outcome_text(xo), &outcome_text(yo))
        };
        pa.text = format!("{}{args_a} -> {out_a}", name(&pa.text));
        pb.text = format!("{}{args_b} -> {out_b}", name(&pb.text));
    }
    (pa, pb)
}

/// Where an event happens, as compared: its kind, function and line, and
/// its pc within one module (a capability call: its capability's name).
/// Borrowed, so that comparing allocates nothing.
fn place<'a>(e: &'a Event, m: &'a Module, same_module: bool) -> (u8, &'a str, u32, u16) {
    let name = |f: u16| m.funcs.get(usize::from(f)).map_or("?", |f| f.name.as_str());
    let pc = |pc: u16| if same_module { pc } else { 0 };
    let kind = e.kind() as u8;
    match e {
        Event::Enter { func, .. } | Event::Return { func, .. } => (kind, name(*func), 0, 0),
        Event::Step {
            func, pc: p, line, ..
        } => (kind, name(*func), *line, pc(*p)),
        Event::Capability { import, .. } => {
            let imp = m.imports.get(usize::from(*import));
            (kind, imp.map_or("?", |i| i.name.as_str()), 0, 0)
        }
        Event::Trap { error } => (kind, error.func_name.as_str(), error.line, pc(error.pc)),
        Event::End { .. } => (kind, "", 0, 0),
    }
}

/// Whether two events at the same place are the same: equal within one
/// module; across modules, equal in what does not depend on the module's
/// layout (values passed, returned and received; not register writes).
fn same(x: &Event, mx: &Module, y: &Event, my: &Module, same_module: bool) -> bool {
    if same_module {
        return x == y;
    }
    match (x, y) {
        (Event::Enter { args: p, .. }, Event::Enter { args: q, .. }) => p == q,
        (Event::Step { .. }, Event::Step { .. }) => true,
        (Event::Return { value: p, .. }, Event::Return { value: q, .. }) => p == q,
        (
            Event::Capability {
                args: pa,
                outcome: po,
                opened: pp,
                ..
            },
            Event::Capability {
                args: qa,
                outcome: qo,
                opened: qp,
                ..
            },
        ) => pa == qa && po == qo && pp == qp,
        (Event::Trap { error: p }, Event::Trap { error: q }) => p.kind == q.kind,
        (Event::End { outcome: p }, Event::End { outcome: q }) => p == q,
        _ => place(x, mx, false) == place(y, my, false),
    }
}

/// A value for the text report, cut to [`MAX_SHOWN`] characters.
fn shown(v: &Value) -> String {
    cut(&v.to_string())
}

/// `s` cut to [`MAX_SHOWN`] characters, with `…` if it was longer.
fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_SHOWN) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn shown_args(args: &[Value]) -> String {
    let list: Vec<String> = args.iter().map(shown).collect();
    format!("({})", list.join(", "))
}

/// Two renderings `x` and `y` for the text report, each cut to
/// [`MAX_SHOWN`] characters around where they first differ, so that the
/// difference shows even deep in a long string.
fn shown_pair(x: &str, y: &str) -> (String, String) {
    let differ_at = x.chars().zip(y.chars()).take_while(|(p, q)| p == q).count();
    let from = differ_at.saturating_sub(MAX_SHOWN / 3);
    let window = |s: &str| {
        let rest: String = s.chars().skip(from).collect();
        let rest = cut(&rest);
        if from > 0 {
            format!("…{rest}")
        } else {
            rest
        }
    };
    (window(x), window(y))
}

/// A capability call's arguments in full (cut only by [`shown_pair`]).
fn args_text(args: &[Value]) -> String {
    let list: Vec<String> = args.iter().map(Value::to_string).collect();
    format!("({})", list.join(", "))
}

/// A capability call's outcome in full (cut only by [`shown_pair`]).
fn outcome_text(o: &Result<Value, CapabilityError>) -> String {
    match o {
        Ok(Value::Unit) => "ok".into(),
        Ok(v) => v.to_string(),
        Err(e) => format!("error: {}", e.reason),
    }
}

fn shown_outcome(o: &Result<Value, CapabilityError>) -> String {
    match o {
        Ok(Value::Unit) => "ok".into(),
        Ok(v) => shown(v),
        Err(e) => format!("error: {}", cut(&e.reason)),
    }
}

/// One event with names: `clock.now() -> 1700000000`, `step main pc 3 (line 5)`.
fn describe(e: &Event, m: &Module) -> String {
    let name = |f: u16| {
        m.funcs
            .get(usize::from(f))
            .map_or_else(|| format!("f{f}"), |f| f.name.clone())
    };
    match e {
        Event::Enter { func, args } => format!("enter {}{}", name(*func), shown_args(args)),
        Event::Step {
            func,
            pc,
            line,
            writes,
        } => {
            let mut s = format!("step {} pc {pc} (line {line})", name(*func));
            for (r, v) in writes.iter() {
                let _ = write!(s, " r{r} = {}", shown(v));
            }
            s
        }
        Event::Return { func, value } => format!("{} returns {}", name(*func), shown(value)),
        Event::Capability {
            import,
            args,
            outcome,
            ..
        } => {
            let cap = m
                .imports
                .get(usize::from(*import))
                .map_or_else(|| format!("c{import}"), |i| i.name.clone());
            format!("{cap}{} -> {}", shown_args(args), shown_outcome(outcome))
        }
        Event::Trap { error } => format!("runtime error: {error}"),
        Event::End {
            outcome: Outcome::Returned(v),
        } => format!("end: returned {}", shown(v)),
        Event::End {
            outcome: Outcome::Failed,
        } => "end: failed".into(),
    }
}

impl Report {
    /// Identical runs: the same module and no differing event.
    fn identical(&self) -> bool {
        self.same_module && self.first.is_none() && self.calls.differing == 0
    }

    fn text(&self) -> String {
        let mut s = String::new();
        let (a, b) = (&self.a, &self.b);
        let (ha, hb) = (a.reader.header(), b.reader.header());
        let short = |h: [u8; 32]| hex(&h)[..16].to_string();
        let _ = writeln!(
            s,
            "A: {} ({}, module {})",
            a.path.display(),
            ha.plugin_name,
            short(ha.module_hash())
        );
        let _ = writeln!(
            s,
            "B: {} ({}, {})",
            b.path.display(),
            hb.plugin_name,
            if self.same_module {
                "the same module".to_string()
            } else {
                format!(
                    "module {}: the modules differ, compared by function and line",
                    short(hb.module_hash())
                )
            }
        );
        if ha.policy_hash() != hb.policy_hash() {
            let _ = writeln!(s, "   the embedded policies differ");
        }
        if self.identical() {
            let _ = writeln!(
                s,
                "identical runs: {} events, {} instructions, {} capability calls; both {}",
                a.events,
                a.steps,
                a.calls,
                a.outcome_text()
            );
            return s;
        }
        let _ = writeln!(s, "A {}", a.outcome_text());
        let _ = writeln!(s, "B {}", b.outcome_text());

        let point = |s: &mut String, side: &str, p: &Point| {
            let index = p
                .index
                .map_or_else(|| "--".to_string(), |i| format!("#{i}"));
            let _ = writeln!(s, "  {side} {index} {}", p.text);
            if let Some(l) = &p.location {
                let _ = write!(s, "       in {}, pc {}, line {}", l.function, l.pc, l.line);
                match &p.source {
                    Some(src) => {
                        let _ = writeln!(s, ": {}", cut(src));
                    }
                    None => s.push('\n'),
                }
            }
        };
        let same_place = matches!((&self.first, &self.part), (Some(f), Some(p))
            if f.0.index == p.0.index && f.1.index == p.1.index);
        if let Some((pa, pb)) = &self.first {
            let _ = writeln!(
                s,
                "\nfirst difference{}",
                if same_place {
                    " (the paths part here)"
                } else {
                    ""
                }
            );
            point(&mut s, "A", pa);
            point(&mut s, "B", pb);
        }
        if let (false, Some((pa, pb))) = (same_place, &self.part) {
            let _ = writeln!(s, "\nthe paths part");
            point(&mut s, "A", pa);
            point(&mut s, "B", pb);
        }
        if !self.same_module && self.first.is_none() {
            let _ = writeln!(
                s,
                "\nthe runs match by function and line: only the modules differ"
            );
        }
        if self.part.is_none() && self.first.is_some() {
            let _ = writeln!(
                s,
                "\nthe paths never part: the same code ran on other values"
            );
        }

        let _ = writeln!(
            s,
            "\ncapability calls that differ: {} (the n-th call of a capability in A paired with its n-th call in B)",
            self.calls.differing
        );
        for d in &self.calls.reported {
            let at = |c: &Option<Call>| c.as_ref().map_or("--".into(), |c| format!("#{}", c.index));
            let _ = writeln!(
                s,
                "  {} call {} (A {}, B {})",
                d.name,
                d.ordinal,
                at(&d.a),
                at(&d.b)
            );
            match (&d.a, &d.b) {
                (Some(x), Some(y)) => {
                    if x.args != y.args {
                        let (p, q) = shown_pair(&args_text(&x.args), &args_text(&y.args));
                        let _ = writeln!(s, "    args    A {p}");
                        let _ = writeln!(s, "            B {q}");
                    }
                    if x.outcome != y.outcome {
                        let (p, q) =
                            shown_pair(&outcome_text(&x.outcome), &outcome_text(&y.outcome));
                        let _ = writeln!(s, "    result  A {p}");
                        let _ = writeln!(s, "            B {q}");
                    }
                    if x.opened != y.opened {
                        let o = |c: &Call| c.opened.clone().unwrap_or_else(|| "-".into());
                        let _ = writeln!(s, "    opened  A {}", o(x));
                        let _ = writeln!(s, "            B {}", o(y));
                    }
                }
                (Some(x), None) | (None, Some(x)) => {
                    let side = if d.a.is_some() { "A" } else { "B" };
                    let _ = writeln!(
                        s,
                        "    only in {side}: {} -> {}",
                        shown_args(&x.args),
                        shown_outcome(&x.outcome)
                    );
                }
                (None, None) => {}
            }
        }
        let more = self.calls.differing - self.calls.reported.len() as u64;
        if more > 0 {
            let _ = writeln!(s, "  ... and {more} more");
        }

        let _ = writeln!(s, "\nsummary");
        let _ = writeln!(s, "  {:<18} {:>12} {:>12}", "", "A", "B");
        let row = |s: &mut String, what: &str, x: u64, y: u64| {
            let _ = writeln!(s, "  {what:<18} {x:>12} {y:>12}");
        };
        row(&mut s, "events", a.events, b.events);
        row(&mut s, "instructions", a.steps, b.steps);
        row(&mut s, "capability calls", a.calls, b.calls);
        let at = |p: &Point| {
            p.index
                .map_or_else(|| "end".to_string(), |i| format!("#{i}"))
        };
        if let Some((pa, pb)) = &self.first {
            let _ = writeln!(
                s,
                "  {:<18} {:>12} {:>12}",
                "first difference",
                at(pa),
                at(pb)
            );
        }
        if let Some((pa, pb)) = &self.part {
            let _ = writeln!(s, "  {:<18} {:>12} {:>12}", "paths part", at(pa), at(pb));
        }
        s
    }

    fn json(&self) -> serde_json::Value {
        let pair = |p: &Option<(Point, Point)>| {
            p.as_ref()
                .map(|(x, y)| json!({ "a": x.to_json(), "b": y.to_json() }))
        };
        json!({
            "identical": self.identical(),
            "same_module": self.same_module,
            "compared_by": if self.same_module { "event" } else { "function_and_line" },
            "a": self.a.json(),
            "b": self.b.json(),
            "first_difference": pair(&self.first),
            "paths_part": pair(&self.part),
            "capability_pairing": "name_and_ordinal",
            "capability_differences_total": self.calls.differing,
            "capability_differences": self.calls.reported.iter().map(|d| json!({
                "name": d.name,
                "ordinal": d.ordinal,
                "a": d.a.as_ref().map(Call::to_json),
                "b": d.b.as_ref().map(Call::to_json),
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_char_boundaries() {
        let long = "é".repeat(MAX_SHOWN + 5);
        let c = cut(&long);
        assert_eq!(c.chars().count(), MAX_SHOWN + 1);
        assert!(c.ends_with('…'));
        assert_eq!(cut("short"), "short");
    }

    #[test]
    fn a_pair_is_shown_around_its_first_difference() {
        let head = "x".repeat(200);
        let (a, b) = shown_pair(&format!("{head}AAA"), &format!("{head}BBB"));
        assert!(a.starts_with('…') && a.ends_with("AAA"), "{a}");
        assert!(b.starts_with('…') && b.ends_with("BBB"), "{b}");
        assert_eq!(shown_pair("ab", "ac"), ("ab".to_string(), "ac".to_string()));
    }
}
