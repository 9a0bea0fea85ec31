//! How the debugger shows things: values cut to one line, events with the
//! module's names, source lines. Pure functions of the module and the data.

use super::names::Names;
use chronicle_core::trace::{Event, Outcome};
use chronicle_core::{Module, Value};
use std::fmt::{self, Write};

/// The most characters of a value shown on one line.
pub const VALUE_WIDTH: usize = 60;

/// A `fmt::Write` that takes at most `room` characters, then fails.
struct Bounded {
    out: String,
    room: usize,
}

impl Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.room == 0 {
                return Err(fmt::Error);
            }
            self.out.push(c);
            self.room -= 1;
        }
        Ok(())
    }
}

/// `v` as a literal on one line, cut to [`VALUE_WIDTH`] characters with
/// `...` and the full size when longer. Never formats more than it shows.
pub fn value(v: &Value) -> String {
    if *v == Value::Unit {
        return "()".into();
    }
    let mut b = Bounded {
        out: String::new(),
        room: VALUE_WIDTH,
    };
    if write!(b, "{v}").is_ok() {
        return b.out;
    }
    let size = match v {
        Value::Str(s) => format!("{} bytes", s.len()),
        Value::Array(a) => format!("{} items", a.len()),
        _ => String::new(),
    };
    format!("{}... ({size})", b.out)
}

/// Comma-separated values.
pub fn values(vs: &[Value]) -> String {
    vs.iter().map(value).collect::<Vec<_>>().join(", ")
}

/// The name of function `f`.
pub fn func(m: &Module, f: u16) -> &str {
    m.funcs.get(usize::from(f)).map_or("?", |f| f.name.as_str())
}

/// `rN`, or `rN (name)` when the register holds a named variable there.
pub fn reg(names: Option<&Names>, func: u16, reg: u16, pc: u16) -> String {
    match names.and_then(|n| n.name(func, reg, pc)) {
        Some(name) => format!("r{reg} ({name})"),
        None => format!("r{reg}"),
    }
}

/// A capability call as the plugin wrote it: `fs.read("x")`.
pub fn capability(m: &Module, import: u16, args: &[Value]) -> String {
    let name = m
        .imports
        .get(usize::from(import))
        .map_or("?", |i| i.name.as_str());
    format!("{name}({})", values(args))
}

/// An event with names instead of indices, on one line.
pub fn event(m: &Module, e: &Event) -> String {
    match e {
        Event::Enter { func: f, args } => format!("enter {}({})", func(m, *f), values(args)),
        Event::Step {
            func: f,
            pc,
            writes,
            ..
        } => {
            let instr = m.funcs[usize::from(*f)].code[usize::from(*pc)];
            let mut s = format!(
                "step {} pc {pc}: {}",
                func(m, *f),
                instr.opcode().mnemonic()
            );
            for (i, (r, v)) in writes.iter().enumerate() {
                let sep = if i == 0 { " ->" } else { "," };
                let _ = write!(s, "{sep} r{r} = {}", value(v));
            }
            s
        }
        Event::Return { func: f, value: v } => {
            format!("return from {} -> {}", func(m, *f), value(v))
        }
        Event::Capability {
            import,
            args,
            outcome,
            ..
        } => match outcome {
            Ok(v) => format!(
                "capability {} -> {}",
                capability(m, *import, args),
                value(v)
            ),
            Err(e) => format!("capability {} failed: {e}", capability(m, *import, args)),
        },
        Event::Trap { error } => format!("runtime error: {error}"),
        Event::End {
            outcome: Outcome::Returned(v),
        } => format!("end: returned {}", value(v)),
        Event::End {
            outcome: Outcome::Failed,
        } => "end: failed".into(),
    }
}

/// Source line `line` (1-based) without its indentation, if there is one.
pub fn source_line(lines: &[&str], line: u32) -> Option<String> {
    let text = lines.get((line as usize).checked_sub(1)?)?.trim();
    Some(text.to_owned())
}
