//! The debugger session: the state machine that runs commands against the
//! timeline and breakpoints, writing each command's output to a string so
//! scripted and interactive modes print exactly the same.

use super::commands::{Command, HELP};
use super::names::Names;
use super::render;
use super::timeline::{Placed, Timeline};
use super::why;
use chronicle_core::isa::Instr;
use chronicle_core::trace::{Event, TraceError};
use chronicle_core::Module;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::io::{Read, Seek};

/// Whether the session goes on after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Go,
    /// `quit`.
    Quit,
}

/// How many capability calls `caps` lists (the latest ones).
const CAPS_SHOWN: usize = 20;

/// Lines of source `source` shows on each side of the current one.
const CONTEXT: u32 = 4;

/// A debugging session over one trace.
pub struct Session<R> {
    timeline: Timeline<R>,
    module: Module,
    source: Option<String>,
    names: Option<Names>,
    breakpoints: BTreeSet<u32>,
}

/// Where the current event is: function, source line and call depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// The function (of the innermost frame).
    pub func: u16,
    /// The pc shown (the instruction that ran, or runs next).
    pub pc: u16,
    /// Its source line (0 if unknown).
    pub line: u32,
    /// The call depth.
    pub depth: usize,
}

impl<R: Read + Seek> Session<R> {
    /// A session at event 0 of `timeline`.
    pub fn new(timeline: Timeline<R>, names: Option<Names>) -> Self {
        let module = timeline.reader().module().module().clone();
        let source = timeline.reader().header().source.clone();
        Session {
            timeline,
            module,
            source,
            names,
            breakpoints: BTreeSet::new(),
        }
    }

    /// The opening lines: what the trace is, and where the session starts.
    pub fn banner(&self, out: &mut String) {
        let h = self.timeline.reader().header();
        let name = if h.plugin_name.is_empty() {
            "(unnamed plugin)"
        } else {
            &h.plugin_name
        };
        let _ = writeln!(
            out,
            "{name}: {} events, {} capability calls{}; type `help` for the commands",
            self.timeline.len(),
            self.timeline.caps.len(),
            if self.names.is_some() {
                ", variable names from the embedded source"
            } else {
                ""
            }
        );
        self.here(out);
    }

    /// Runs one command, appending its output to `out`.
    pub fn run(&mut self, cmd: &Command, out: &mut String) -> Result<Flow, TraceError> {
        match cmd {
            Command::Source => self.source(out),
            Command::Next => self.next(out)?,
            Command::Step => {
                let pos = self.timeline.position();
                if pos + 1 >= self.timeline.len() {
                    let _ = writeln!(out, "already at the last event ({pos})");
                } else {
                    self.timeline.seek(pos + 1)?;
                }
                self.here(out);
            }
            Command::Back => self.back(out)?,
            Command::Prev => {
                let pos = self.timeline.position();
                if pos == 0 {
                    let _ = writeln!(out, "already at the first event");
                } else {
                    self.timeline.seek(pos - 1)?;
                }
                self.here(out);
            }
            Command::Continue => self.cont(out, true)?,
            Command::Rcontinue => self.cont(out, false)?,
            Command::Break(line) => self.set_break(*line, out),
            Command::Delete(line) => {
                if self.breakpoints.remove(line) {
                    let _ = writeln!(out, "breakpoint on line {line} deleted");
                } else {
                    let _ = writeln!(out, "no breakpoint on line {line}{}", self.list_breaks());
                }
            }
            Command::Jump(n) => {
                let total = self.timeline.len();
                if *n >= total {
                    let _ = writeln!(
                        out,
                        "event {n} is out of range: the trace has {total} events (0..{})",
                        total.saturating_sub(1)
                    );
                } else {
                    self.timeline.seek(*n)?;
                    self.here(out);
                }
            }
            Command::Regs => self.regs(out),
            Command::Caps => self.caps(out)?,
            Command::Where => self.backtrace(out),
            Command::Event => {
                let p = self.timeline.current();
                let _ = writeln!(out, "event {}: {}", p.index, p.event);
                let _ = writeln!(out, "  = {}", render::event(&self.module, &p.event));
            }
            Command::Why(reg) => {
                let loc = self.location();
                let text = why::explain(
                    &mut self.timeline,
                    &self.module,
                    self.source.as_deref(),
                    self.names.as_ref(),
                    loc,
                    reg.as_deref(),
                )?;
                out.push_str(&text);
            }
            Command::Help => {
                out.push_str(HELP);
                out.push('\n');
            }
            Command::Quit => return Ok(Flow::Quit),
        }
        Ok(Flow::Go)
    }

    /// The location of the current event.
    pub fn location(&self) -> Location {
        let p = self.timeline.current();
        let m = &self.module;
        let line_of = |f: u16, pc: u16| {
            m.funcs
                .get(usize::from(f))
                .map_or(0, |f| f.line(usize::from(pc)))
        };
        let top = self.timeline.reader().frames().last();
        let (func, pc) = match &p.event {
            Event::Step { func, pc, .. } => (*func, *pc),
            Event::Return { .. } => top.map_or((m.entry, 0), |f| (f.func, f.pc.saturating_sub(1))),
            Event::Trap { error } => (error.func, error.pc),
            _ => top.map_or((m.entry, 0), |f| (f.func, f.pc)),
        };
        let line = match &p.event {
            Event::Step { line, .. } => *line,
            Event::End { .. } => 0,
            _ => line_of(func, pc),
        };
        Location {
            func,
            pc,
            line,
            depth: p.depth,
        }
    }

    /// Prints where the session is: the event, the function and line, the
    /// source text, and for anything but a step the event itself.
    fn here(&self, out: &mut String) {
        let p = self.timeline.current();
        let loc = self.location();
        let fname = render::func(&self.module, loc.func);
        if let Event::End { .. } = p.event {
            let _ = writeln!(
                out,
                "event {} of {}: {}",
                p.index,
                self.timeline.len(),
                render::event(&self.module, &p.event)
            );
            return;
        }
        let _ = write!(
            out,
            "event {} of {}, in {fname}",
            p.index,
            self.timeline.len()
        );
        if loc.line > 0 {
            let _ = write!(out, ", line {}", loc.line);
        }
        out.push('\n');
        if let Some(text) = self.text_of(loc.line) {
            let _ = writeln!(out, "  {:>4} | {text}", loc.line);
        }
        if !matches!(p.event, Event::Step { .. }) {
            let _ = writeln!(out, "  {}", render::event(&self.module, &p.event));
        }
    }

    fn lines(&self) -> Vec<&str> {
        self.source
            .as_deref()
            .map_or(Vec::new(), |s| s.lines().collect())
    }

    fn text_of(&self, line: u32) -> Option<String> {
        render::source_line(&self.lines(), line)
    }

    fn source(&self, out: &mut String) {
        let lines = self.lines();
        let loc = self.location();
        if lines.is_empty() {
            let _ = writeln!(
                out,
                "the trace holds no source text (the plugin was not compiled from .chr); \
                 at {} pc {}, line {}",
                render::func(&self.module, loc.func),
                loc.pc,
                loc.line
            );
            return;
        }
        let at = loc.line.max(1);
        let from = at.saturating_sub(CONTEXT).max(1);
        let to = (at + CONTEXT).min(lines.len() as u32);
        for n in from..=to {
            let mark = if n == loc.line { "=>" } else { "  " };
            let bp = if self.breakpoints.contains(&n) {
                "*"
            } else {
                " "
            };
            let _ = writeln!(out, "{mark}{bp}{n:>4} | {}", lines[n as usize - 1]);
        }
    }

    /// `next` and `back`: the nearest step, forward or backward, on another
    /// line at the same call depth or shallower (calls are stepped over).
    fn next(&mut self, out: &mut String) -> Result<(), TraceError> {
        let loc = self.location();
        let found = self.timeline.scan_forward(
            |w| w.min_depth <= loc.depth,
            |p| match &p.event {
                Event::Step { line, .. } => *line != loc.line && *line != 0 && p.depth <= loc.depth,
                Event::Trap { .. } | Event::End { .. } => true,
                _ => false,
            },
        )?;
        if found.is_none() {
            let _ = writeln!(out, "at the end of the trace");
        }
        self.here(out);
        Ok(())
    }

    fn back(&mut self, out: &mut String) -> Result<(), TraceError> {
        let loc = self.location();
        let found = self.timeline.scan_backward(
            |w| w.min_depth <= loc.depth,
            |p| match &p.event {
                Event::Step { line, .. } => *line != loc.line && *line != 0 && p.depth <= loc.depth,
                _ => false,
            },
        )?;
        if found.is_none() {
            if self.timeline.position() == 0 {
                let _ = writeln!(out, "already at the first event");
            } else {
                self.timeline.seek(0)?;
                let _ = writeln!(out, "no earlier line: at the start of the trace");
            }
        }
        self.here(out);
        Ok(())
    }

    /// `continue` (forward) and `rcontinue`: the nearest step that enters a
    /// breakpoint's line, or the end / the start.
    fn cont(&mut self, out: &mut String, forward: bool) -> Result<(), TraceError> {
        let bps = self.breakpoints.clone();
        let start_line = self.location().line;
        let may = |w: &super::timeline::Window| bps.iter().any(|&l| w.has_line(l));
        // A breakpoint hits when a step enters its line (the previous step
        // in the scan ran another line).
        let mut prev: Option<(u64, u32)> =
            forward.then_some((self.timeline.position(), start_line));
        let hit = |p: &Placed| {
            let Event::Step { line, .. } = p.event else {
                return false;
            };
            let entered = match prev {
                Some((i, l)) if i + 1 == p.index => l != line,
                _ => true,
            };
            prev = Some((p.index, line));
            entered && bps.contains(&line)
        };
        let found = if forward {
            self.timeline.scan_forward(may, hit)?
        } else {
            self.timeline.scan_backward(may, hit)?
        };
        if found.is_none() {
            let what = if bps.is_empty() {
                "no breakpoints set"
            } else {
                "no breakpoint hit"
            };
            if forward {
                let _ = writeln!(out, "{what}: at the end of the trace");
            } else {
                self.timeline.seek(0)?;
                let _ = writeln!(out, "{what}: at the start of the trace");
            }
        } else {
            let _ = writeln!(out, "breakpoint on line {}", self.location().line);
        }
        self.here(out);
        Ok(())
    }

    fn list_breaks(&self) -> String {
        if self.breakpoints.is_empty() {
            " (none set)".into()
        } else {
            let l: Vec<String> = self.breakpoints.iter().map(u32::to_string).collect();
            format!(" (set: {})", l.join(", "))
        }
    }

    fn set_break(&mut self, line: u32, out: &mut String) {
        let code_lines: BTreeSet<u32> = self
            .module
            .funcs
            .iter()
            .flat_map(|f| f.lines.iter().copied())
            .filter(|&l| l > 0)
            .collect();
        if code_lines.contains(&line) {
            self.breakpoints.insert(line);
            let text = self.text_of(line).unwrap_or_default();
            let _ = writeln!(out, "breakpoint on line {line}: {text}");
            return;
        }
        let count = self.lines().len();
        if count > 0 && line as usize > count {
            let _ = writeln!(
                out,
                "line {line} is past the end of the source ({count} lines)"
            );
            return;
        }
        let after = code_lines.range(line..).next();
        let before = code_lines.range(..line).next_back();
        let near = match (before, after) {
            (_, Some(a)) => format!("; the next line with code is {a}"),
            (Some(b), None) => format!("; the last line with code is {b}"),
            _ => String::new(),
        };
        let _ = writeln!(out, "no code on line {line}, so no breakpoint set{near}");
    }

    fn regs(&self, out: &mut String) {
        let p = self.timeline.current();
        let loc = self.location();
        let Some(top) = self.timeline.reader().frames().last() else {
            let _ = writeln!(out, "no frame: the run has ended");
            return;
        };
        let changed: Vec<u16> = match &p.event {
            Event::Step { writes, .. } => writes.iter().map(|(r, _)| *r).collect(),
            Event::Enter { args, .. } => (0..args.len() as u16).collect(),
            Event::Return { .. } => {
                let call = self.module.funcs[usize::from(top.func)]
                    .code
                    .get(usize::from(top.pc.wrapping_sub(1)))
                    .copied();
                match call {
                    Some(Instr::Call { d, .. }) => vec![d],
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        let _ = writeln!(
            out,
            "registers of {} (* = changed by event {}):",
            render::func(&self.module, top.func),
            p.index
        );
        let labels: Vec<String> = (0..top.registers.len() as u16)
            .map(|r| render::reg(self.names.as_ref(), top.func, r, loc.pc))
            .collect();
        let width = labels.iter().map(String::len).max().unwrap_or(0);
        for (r, v) in top.registers.iter().enumerate() {
            let mark = if changed.contains(&(r as u16)) {
                "*"
            } else {
                " "
            };
            let _ = writeln!(out, " {mark} {:<width$} = {}", labels[r], render::value(v));
        }
    }

    fn caps(&mut self, out: &mut String) -> Result<(), TraceError> {
        let pos = self.timeline.position();
        let so_far: Vec<_> = self
            .timeline
            .caps
            .iter()
            .copied()
            .take_while(|c| c.index <= pos)
            .collect();
        if so_far.is_empty() {
            let _ = writeln!(out, "no capability calls so far");
            return Ok(());
        }
        let skip = so_far.len().saturating_sub(CAPS_SHOWN);
        let _ = write!(out, "{} capability call(s) so far", so_far.len());
        if skip > 0 {
            let _ = write!(out, " (the last {CAPS_SHOWN} shown)");
        }
        out.push_str(":\n");
        for c in &so_far[skip..] {
            let p = self.timeline.seek(c.index)?;
            if let Event::Capability {
                import,
                args,
                outcome,
                ..
            } = &p.event
            {
                let call = render::capability(&self.module, *import, args);
                let result = match outcome {
                    Ok(v) => format!("-> {}", render::value(v)),
                    Err(e) => format!("failed: {e}"),
                };
                let _ = writeln!(out, "  event {}, line {}: {call} {result}", c.index, c.line);
            }
        }
        self.timeline.seek(pos)?;
        Ok(())
    }

    fn backtrace(&self, out: &mut String) {
        let loc = self.location();
        let frames: Vec<_> = self.timeline.reader().frames().collect();
        if frames.is_empty() {
            let _ = writeln!(out, "no frame: the run has ended");
            return;
        }
        for (k, f) in frames.iter().rev().enumerate() {
            let line = if k == 0 {
                loc.line
            } else {
                self.module.funcs[usize::from(f.func)].line(usize::from(f.pc))
            };
            let _ = writeln!(
                out,
                "  #{k} {} at line {line}: {}",
                render::func(&self.module, f.func),
                self.text_of(line).unwrap_or_default()
            );
        }
    }
}
