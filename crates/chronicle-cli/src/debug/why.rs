//! `why [REG]`: data flow backward from a value. The step that wrote it,
//! then, recursively, the values its instruction read, through calls (a
//! result back to the callee's `ret`, an argument back to the caller's
//! register) down to constants and capability results, as a tree of bounded
//! depth.
//!
//! The search walks the timeline backward one window at a time (windows
//! whose frames are all deeper than the one searched are skipped by their
//! summary), keeps the windows it read in a small cache (of light events:
//! strings and arrays left out, so that the cache holds no copy of what the
//! reader shares; a value shown is read from its event, whole), and gives up
//! on a branch after a fixed number of events, saying so.

use super::names::Names;
use super::render;
use super::session::Location;
use super::timeline::{Placed, Timeline};
use chronicle_core::isa::{Access, Instr, OperandKind};
use chronicle_core::trace::{Event, TraceError};
use chronicle_core::{Module, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::io::{Read, Seek};
use std::rc::Rc;

/// How deep the tree goes.
pub const MAX_DEPTH: usize = 6;
/// The most nodes one answer shows.
const MAX_NODES: usize = 40;
/// The most events one origin search reads.
const SEARCH_BOUND: u64 = 4_000_000;
/// The most events the cache keeps (the last window read is kept whatever
/// its size).
const CACHED_EVENTS: usize = 32 * 4096;

/// Where a register's value came from.
enum Origin {
    /// A step of the frame wrote it.
    Written(Placed),
    /// A call's result: the callee's return, and the call step.
    Returned { ret: Placed, call: Placed },
    /// Argument `k` of the frame, entered at this event.
    Argument { enter: Placed, k: u16 },
    /// Never written in the frame.
    Initial,
    /// The search bound was reached.
    Unknown,
}

struct Walker<'a, R> {
    tl: &'a mut Timeline<R>,
    m: &'a Module,
    lines: Vec<&'a str>,
    names: Option<&'a Names>,
    cache: BTreeMap<usize, Rc<Vec<Placed>>>,
    /// The events in `cache`.
    cached: usize,
    nodes: usize,
    seen: BTreeSet<(u64, u16)>,
}

/// Explains the value of `reg` (or of the register last written) in the
/// current frame; the session stays at its event.
pub fn explain<R: Read + Seek>(
    tl: &mut Timeline<R>,
    m: &Module,
    source: Option<&str>,
    names: Option<&Names>,
    loc: Location,
    reg: Option<&str>,
) -> Result<String, TraceError> {
    let pos = tl.position();
    let mut out = String::new();
    let frame_regs = tl
        .reader()
        .frames()
        .last()
        .map(|f| (f.func, f.registers.len()));
    let Some((func, nregs)) = frame_regs else {
        return Ok("no frame: the run has ended; `back` or `jump` to an earlier event\n".into());
    };
    let mut w = Walker {
        tl,
        m,
        lines: source.map_or(Vec::new(), |s| s.lines().collect()),
        names,
        cache: BTreeMap::new(),
        cached: 0,
        nodes: 0,
        seen: BTreeSet::new(),
    };
    let target = match reg {
        Some(text) => match parse_reg(text, names, func, loc.pc) {
            Some(r) if usize::from(r) < nregs => r,
            Some(r) => {
                let _ = writeln!(
                    out,
                    "no register r{r} in {}: it has {nregs} (r0..r{})",
                    render::func(m, func),
                    nregs.saturating_sub(1)
                );
                return Ok(out);
            }
            None => {
                let _ = writeln!(
                    out,
                    "`{text}` is not a register here: give one like `r3`{}",
                    if names.is_some() {
                        " or a variable in scope"
                    } else {
                        ""
                    }
                );
                return Ok(out);
            }
        },
        None => match w.last_written(loc.depth, pos)? {
            Some(r) => r,
            None => {
                out.push_str("nothing has been written in this frame yet\n");
                w.tl.seek(pos)?;
                return Ok(out);
            }
        },
    };
    let origin = w.find(target, loc.depth, pos)?;
    if let Origin::Initial = origin {
        let _ = writeln!(
            out,
            "{} has not been written in this frame (it holds its initial value); \
             `regs` marks the registers that were",
            render::reg(names, func, target, loc.pc)
        );
    } else {
        w.node(target, func, loc.depth, origin, 0, &mut out)?;
    }
    w.tl.seek(pos)?;
    Ok(out)
}

/// `r3`, `3` or a variable name in scope at (`func`, `pc`).
fn parse_reg(text: &str, names: Option<&Names>, func: u16, pc: u16) -> Option<u16> {
    let digits = text.strip_prefix('r').unwrap_or(text);
    if let Ok(r) = digits.parse::<u16>() {
        return Some(r);
    }
    names.and_then(|n| n.register(func, text, pc))
}

/// The registers an instruction reads (its read and modified operands, and
/// the runs of argument or element registers).
fn read_registers(instr: &Instr) -> Vec<u16> {
    let ops = instr.operands();
    let vals = ops.as_slice();
    let specs = instr.opcode().operands();
    let count = specs
        .iter()
        .zip(vals)
        .find(|(s, _)| s.kind == OperandKind::Count)
        .map_or(0, |(_, v)| *v);
    let mut out = Vec::new();
    for (spec, &v) in specs.iter().zip(vals) {
        match spec.kind {
            OperandKind::Reg(Access::Read | Access::Modify, _) => out.push(v),
            OperandKind::Regs => out.extend(v..v.saturating_add(count)),
            _ => {}
        }
    }
    out
}

impl<R: Read + Seek> Walker<'_, R> {
    fn instr(&self, func: u16, pc: u16) -> Option<Instr> {
        self.m
            .funcs
            .get(usize::from(func))?
            .code
            .get(usize::from(pc))
            .copied()
    }

    fn event(&mut self, i: u64) -> Result<Rc<Vec<Placed>>, TraceError> {
        let w = (i / self.tl.interval()) as usize;
        if let Some(v) = self.cache.get(&w) {
            return Ok(v.clone());
        }
        let v = Rc::new(self.tl.window_all(w)?);
        while self.cached + v.len() > CACHED_EVENTS {
            let Some((_, old)) = self.cache.pop_first() else {
                break;
            };
            self.cached -= old.len();
        }
        self.cached += v.len();
        self.cache.insert(w, v.clone());
        Ok(v)
    }

    /// `show` applied to event `i` whole (the cache's events are light).
    fn whole<T>(&mut self, i: u64, show: impl FnOnce(&Event) -> T) -> Result<T, TraceError> {
        Ok(show(&self.tl.seek(i)?.event))
    }

    fn at(&mut self, i: u64) -> Result<Placed, TraceError> {
        let base = i / self.tl.interval() * self.tl.interval();
        let v = self.event(i)?;
        Ok(v[(i - base) as usize].clone())
    }

    /// The register the latest step of the frame at `depth` wrote, at or before `from`.
    fn last_written(&mut self, depth: usize, from: u64) -> Result<Option<u16>, TraceError> {
        let mut i = from;
        loop {
            let p = self.at(i)?;
            match &p.event {
                Event::Step { writes, .. } if p.depth == depth => {
                    if let Some((r, _)) = writes.iter().next() {
                        return Ok(Some(*r));
                    }
                }
                Event::Return { .. } if p.depth == depth + 1 => {
                    // The call's result register, written by this return.
                    if let Some(Instr::Call { d, .. }) = self.call_before_return(depth, i)? {
                        return Ok(Some(d));
                    }
                }
                Event::Enter { .. } if p.depth == depth => return Ok(None),
                _ => {}
            }
            if i == 0 || from - i > SEARCH_BOUND {
                return Ok(None);
            }
            i -= 1;
        }
    }

    /// The call instruction a return at event `ret` (into the frame at
    /// `depth`) returns to: the latest step of that frame before it.
    fn call_before_return(&mut self, depth: usize, ret: u64) -> Result<Option<Instr>, TraceError> {
        let mut i = ret;
        while i > 0 && ret - i < SEARCH_BOUND {
            i -= 1;
            let p = self.at(i)?;
            if let Event::Step { func, pc, .. } = p.event {
                if p.depth == depth {
                    return Ok(self.instr(func, pc));
                }
            }
        }
        Ok(None)
    }

    /// Where the value of `reg` in the frame at `depth`, after event `from`, came from.
    fn find(&mut self, reg: u16, depth: usize, from: u64) -> Result<Origin, TraceError> {
        let interval = self.tl.interval();
        let mut i = from as i64;
        let mut pending: Option<Placed> = None;
        let mut read = 0u64;
        while i >= 0 {
            let w = (i as u64 / interval) as usize;
            let deepest = if pending.is_some() { depth } else { depth + 1 };
            if self.tl.window(w).min_depth > deepest {
                i = w as i64 * interval as i64 - 1;
                continue;
            }
            read += 1;
            if read > SEARCH_BOUND {
                return Ok(Origin::Unknown);
            }
            let p = self.at(i as u64)?;
            i -= 1;
            match &p.event {
                Event::Step {
                    func, pc, writes, ..
                } if p.depth == depth => {
                    if let Some(ret) = pending.take() {
                        let d = match self.instr(*func, *pc) {
                            Some(Instr::Call { d, .. }) => Some(d),
                            _ => None,
                        };
                        if d == Some(reg) {
                            return Ok(Origin::Returned { ret, call: p });
                        }
                    }
                    if writes.get(reg).is_some() {
                        return Ok(Origin::Written(p));
                    }
                }
                Event::Return { .. } if p.depth == depth + 1 => pending = Some(p),
                Event::Enter { args, .. } if p.depth == depth => {
                    return Ok(if usize::from(reg) < args.len() {
                        Origin::Argument { enter: p, k: reg }
                    } else {
                        Origin::Initial
                    });
                }
                _ => {}
            }
        }
        Ok(Origin::Initial)
    }

    fn where_(&self, index: u64, func: u16, pc: u16) -> String {
        let line = self.m.funcs[usize::from(func)].line(usize::from(pc));
        let text = render::source_line(&self.lines, line)
            .map(|t| format!(": {t}"))
            .unwrap_or_default();
        format!("event {index}, line {line}{text}")
    }

    /// Writes the node for `reg` (in `func`, at `depth`) with `origin`, and its inputs.
    fn node(
        &mut self,
        reg: u16,
        func: u16,
        depth: usize,
        origin: Origin,
        level: usize,
        out: &mut String,
    ) -> Result<(), TraceError> {
        let indent = if level == 0 {
            String::new()
        } else {
            format!("{}<- ", "   ".repeat(level - 1))
        };
        self.nodes += 1;
        let pc_of = |o: &Origin| match o {
            Origin::Written(p) | Origin::Returned { call: p, .. } => match p.event {
                Event::Step { pc, .. } => pc,
                _ => 0,
            },
            _ => 0,
        };
        let label = render::reg(self.names, func, reg, pc_of(&origin));
        let key = match &origin {
            Origin::Written(p)
            | Origin::Returned { ret: p, .. }
            | Origin::Argument { enter: p, .. } => Some((p.index, reg)),
            _ => None,
        };
        if let Some(k) = key {
            if !self.seen.insert(k) {
                let _ = writeln!(out, "{indent}{label}: (as above, event {})", k.0);
                return Ok(());
            }
        }
        let more = level < MAX_DEPTH && self.nodes < MAX_NODES;
        match origin {
            Origin::Written(p) => {
                let Event::Step { func, pc, .. } = p.event else {
                    return Ok(());
                };
                let v = self.whole(p.index, |e| match e {
                    Event::Step { writes, .. } => {
                        render::value(writes.get(reg).unwrap_or(&Value::Unit))
                    }
                    _ => render::value(&Value::Unit),
                })?;
                let Some(instr) = self.instr(func, pc) else {
                    return Ok(());
                };
                let at = self.where_(p.index, func, pc);
                match instr {
                    Instr::Cap { .. } => {
                        let call = if p.index > 0 {
                            self.at(p.index - 1)?
                        } else {
                            p.clone()
                        };
                        let m = self.m;
                        let what = self.whole(call.index, |e| match e {
                            Event::Capability { import, args, .. } => {
                                render::capability(m, *import, args)
                            }
                            _ => "a capability".into(),
                        })?;
                        let _ =
                            writeln!(out, "{indent}{label} = {v}: the result of {what} at {at}");
                    }
                    Instr::LoadInt { .. }
                    | Instr::LoadBool { .. }
                    | Instr::LoadConst { .. }
                    | Instr::LoadStr { .. } => {
                        let _ = writeln!(out, "{indent}{label} = {v}: a constant, at {at}");
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "{indent}{label} = {v}: computed by `{}` at {at}",
                            instr.opcode().mnemonic()
                        );
                        let inputs = read_registers(&instr);
                        if !more && !inputs.is_empty() {
                            let _ = writeln!(
                                out,
                                "{}   ... (inputs not shown: depth or size bound)",
                                indent_of(level)
                            );
                            return Ok(());
                        }
                        let mut done = BTreeSet::new();
                        for r in inputs {
                            if !done.insert(r) {
                                continue;
                            }
                            let o = if p.index == 0 {
                                Origin::Initial
                            } else {
                                self.find(r, depth, p.index - 1)?
                            };
                            self.node(r, func, depth, o, level + 1, out)?;
                        }
                    }
                }
            }
            Origin::Returned { ret, call } => {
                let Event::Return { func: callee, .. } = ret.event else {
                    return Ok(());
                };
                let value = self.whole(ret.index, |e| match e {
                    Event::Return { value, .. } => render::value(value),
                    _ => render::value(&Value::Unit),
                })?;
                let Event::Step {
                    func: cf, pc: cpc, ..
                } = call.event
                else {
                    return Ok(());
                };
                let _ = writeln!(
                    out,
                    "{indent}{label} = {value}: returned by {} at event {}, called at {}",
                    render::func(self.m, callee),
                    ret.index,
                    self.where_(call.index, cf, cpc)
                );
                if more && ret.index > 0 {
                    let step = self.at(ret.index - 1)?;
                    if let Event::Step { func: f, pc, .. } = step.event {
                        if let Some(Instr::Ret { a } | Instr::RetRef { a }) = self.instr(f, pc) {
                            let o = self.find(a, depth + 1, step.index)?;
                            self.node(a, f, depth + 1, o, level + 1, out)?;
                        }
                    }
                }
            }
            Origin::Argument { enter, k } => {
                let Event::Enter { func: f, .. } = enter.event else {
                    return Ok(());
                };
                let f = &f;
                let v = self.whole(enter.index, |e| match e {
                    Event::Enter { args, .. } => {
                        render::value(args.get(usize::from(k)).unwrap_or(&Value::Unit))
                    }
                    _ => render::value(&Value::Unit),
                })?;
                let call = if enter.index > 0 {
                    Some(self.at(enter.index - 1)?)
                } else {
                    None
                };
                match call.as_ref().map(|c| (c, &c.event)) {
                    Some((
                        c,
                        &Event::Step {
                            func: cf, pc: cpc, ..
                        },
                    )) => {
                        let _ = writeln!(
                            out,
                            "{indent}{label} = {}: argument {} of {}, passed at {}",
                            v,
                            k + 1,
                            render::func(self.m, *f),
                            self.where_(c.index, cf, cpc)
                        );
                        let base = match self.instr(cf, cpc) {
                            Some(Instr::Call { a, .. } | Instr::CallUnit { a, .. }) => Some(a),
                            _ => None,
                        };
                        if let (true, Some(a)) = (more, base) {
                            let r = a + k;
                            let o = self.find(r, depth - 1, c.index)?;
                            self.node(r, cf, depth - 1, o, level + 1, out)?;
                        }
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "{indent}{label} = {}: argument {} of {}",
                            v,
                            k + 1,
                            render::func(self.m, *f)
                        );
                    }
                }
            }
            Origin::Initial => {
                let _ = writeln!(
                    out,
                    "{indent}{label}: its initial value (not written in this frame)"
                );
            }
            Origin::Unknown => {
                let _ = writeln!(
                    out,
                    "{indent}{label}: not traced further (search bound reached)"
                );
            }
        }
        Ok(())
    }
}

fn indent_of(level: usize) -> String {
    "   ".repeat(level)
}
