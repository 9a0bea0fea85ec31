//! `chronicle export`: a trace in another tool's format. Today one format,
//! `chrome`: the Chrome Trace Event format (the JSON object form,
//! `{"traceEvents": [...]}`) that Perfetto UI and `chrome://tracing` open.
//!
//! What a trace becomes (one process and one thread, pid 1 and tid 1,
//! both named after the plugin):
//!
//! - every call is a `B`/`E` span named after its function (the module's
//!   function names), the `B` carrying the arguments, the `E` the value
//!   returned; spans left open by a runtime error are closed at the end;
//! - every capability call is an instant event (`ph: "i"`) named `cap
//!   NAME` with the arguments, the result or error, what it opened, and the
//!   decision and scope the embedded policy gave the capability;
//! - a runtime error is an instant event `error: KIND`, the end of the run
//!   one named `end` with the outcome;
//! - a counter `instructions` (`ph: "C"`) gives the instructions executed
//!   so far, at every span boundary, capability call and error, every
//!   [`COUNTER_EVERY`] instructions in between, and at the end.
//!
//! **Time.** A trace has no clock per event, so `ts` is the event's index
//! in the trace, read as microseconds: one event, one µs. The top-level
//! `otherData.clock` says so, and the UI's durations are event counts.
//!
//! **Streaming.** Events are read one at a time through the core's capped
//! reader (the reader's `--max-*` caps) and written as they come; memory is
//! one event plus a stack of open spans, which the reader's call-depth cap
//! bounds. With `-o FILE` the output goes to a temporary file beside it,
//! renamed into place once the whole trace has been read and verified, so
//! a damaged trace (exit 3) leaves nothing at FILE. Without `-o`, or with
//! `-o -`, it goes to stdout as it is made: a damaged trace then stops it
//! part-way, still with exit 3.

use super::report::{rfc3339, value_json};
use super::{open_file, trace_failure, ExportArgs, ExportFormat, TempFile};
use crate::commands::error_json;
use crate::failure::Failure;
use chronicle_core::trace::{hex, Event, EventKind, Outcome, Reader, TraceHeader};
use chronicle_core::Module;
use serde_json::{json, Value as Json};
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// Steps between two `instructions` counter events inside one span.
pub const COUNTER_EVERY: u64 = 1 << 16;

/// `chronicle export`.
pub fn export(args: &ExportArgs) -> Result<(), Failure> {
    match args.format {
        ExportFormat::Chrome => {}
    }
    let path = &args.trace;
    let file = open_file(path)?;
    let mut reader = Reader::open_capped(BufReader::new(file), args.caps.caps())
        .map_err(|e| trace_failure(path, &e))?;
    match args.out.as_deref() {
        None => write_stdout(path, &mut reader),
        Some(out) if out == Path::new("-") => write_stdout(path, &mut reader),
        Some(out) => {
            let tmp = TempFile::create(out)?;
            let mut w = BufWriter::with_capacity(64 * 1024, tmp.file()?);
            match chrome(&mut reader, &mut w) {
                Ok(()) => tmp.commit(w),
                Err(Stop::Trace(e)) => Err(trace_failure(path, &e)),
                Err(Stop::Write(e)) => Err(write_failure(out, &e)),
            }
        }
    }
}

fn write_stdout<R: std::io::Read>(path: &Path, reader: &mut Reader<R>) -> Result<(), Failure> {
    let mut w = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    match chrome(reader, &mut w).and_then(|()| w.flush().map_err(Stop::Write)) {
        Ok(()) => Ok(()),
        Err(Stop::Trace(e)) => {
            let _ = w.flush();
            Err(trace_failure(path, &e))
        }
        // A closed pipe (e.g. `| head`): stop quietly.
        Err(Stop::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(Stop::Write(e)) => Err(write_failure(Path::new("stdout"), &e)),
    }
}

fn write_failure(out: &Path, e: &std::io::Error) -> Failure {
    Failure::input(format!("writing {} failed: {e}", out.display()))
        .hint("check the disk space and the directory's permissions")
}

/// Why an export stopped.
enum Stop {
    /// The trace is damaged or over a cap.
    Trace(chronicle_core::trace::TraceError),
    /// The output could not be written.
    Write(std::io::Error),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Stop::Write(e)
    }
}

/// The event writer: comma placement, the common fields.
struct Out<'w, W: Write> {
    w: &'w mut W,
    first: bool,
    /// The value of the last `instructions` counter written.
    counted: Option<u64>,
}

impl<W: Write> Out<'_, W> {
    /// One trace event: `ph`, `ts`, `pid`, `tid`, `name`, then `extra`'s fields.
    fn event(&mut self, ph: &str, ts: u64, name: &str, extra: Json) -> Result<(), Stop> {
        let mut o = json!({ "ph": ph, "ts": ts, "pid": 1, "tid": 1, "name": name });
        if let (Some(o), Json::Object(extra)) = (o.as_object_mut(), extra) {
            o.extend(extra);
        }
        self.w.write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut *self.w, &o).map_err(|e| Stop::Write(e.into()))?;
        Ok(())
    }

    /// The `instructions` counter, unless it already shows `steps`.
    fn counter(&mut self, ts: u64, steps: u64) -> Result<(), Stop> {
        if self.counted == Some(steps) {
            return Ok(());
        }
        self.counted = Some(steps);
        self.event(
            "C",
            ts,
            "instructions",
            json!({ "args": { "instructions": steps } }),
        )
    }
}

/// Writes the whole trace as Chrome trace JSON.
fn chrome<R: std::io::Read, W: Write>(reader: &mut Reader<R>, w: &mut W) -> Result<(), Stop> {
    let header = reader.header().clone();
    let header_hash = reader.header_hash();
    let format_version = reader.format_version();
    let module = reader.module().module().clone();
    let entry_name = func_name(&module, module.entry);
    w.write_all(b"{\"traceEvents\":[")?;
    let mut out = Out {
        w,
        first: true,
        counted: None,
    };
    let plugin = header.plugin_name.as_str();
    out.event(
        "M",
        0,
        "process_name",
        json!({ "args": { "name": plugin } }),
    )?;
    out.event(
        "M",
        0,
        "thread_name",
        json!({ "args": { "name": format!("{plugin} ({entry_name})") } }),
    )?;
    // The functions of the open spans, innermost last; the reader refuses
    // a trace deeper than its call-depth cap, which bounds it.
    let mut stack: Vec<u16> = Vec::new();
    let mut steps = 0u64;
    loop {
        // Steps are only counted: the reader decodes them without making
        // events, up to the next counter's step.
        let event = match reader.next_event_or_nth_step(COUNTER_EVERY - steps % COUNTER_EVERY) {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => return Err(Stop::Trace(e)),
        };
        // The event's index, its time.
        let ts = reader.position().saturating_sub(1);
        steps = reader.counts().get(EventKind::Step);
        match event {
            Event::Step { .. } => {
                if steps % COUNTER_EVERY == 0 {
                    out.counter(ts, steps)?;
                }
            }
            Event::Enter { func, args } => {
                out.counter(ts, steps)?;
                let args: Vec<Json> = args.iter().map(value_json).collect();
                out.event(
                    "B",
                    ts,
                    func_name(&module, func),
                    json!({ "cat": "call", "args": { "function": func, "args": args } }),
                )?;
                stack.push(func);
            }
            Event::Return { func, value } => {
                stack.pop();
                out.event(
                    "E",
                    ts,
                    func_name(&module, func),
                    json!({ "cat": "call", "args": { "value": value_json(&value) } }),
                )?;
                out.counter(ts, steps)?;
            }
            Event::Capability {
                import,
                args,
                outcome,
                opened,
            } => {
                let imp = module.imports.get(usize::from(import));
                let name = imp.map_or("?", |i| i.name.as_str());
                let mut a = json!({
                    "import": import,
                    "version": imp.map(|i| i.version.to_string()),
                    "args": args.iter().map(value_json).collect::<Vec<_>>(),
                });
                let fields = match &outcome {
                    Ok(v) => json!({ "ok": true, "result": value_json(v) }),
                    Err(e) => json!({ "ok": false, "error": e.reason }),
                };
                let entry = policy_entry(&header, import, name);
                let more = json!({
                    "opened": opened,
                    "decision": entry.map(|e| e.decision.name()),
                    "scope": entry.map(|e| e.scope.as_str()),
                });
                for extra in [fields, more] {
                    if let (Some(a), Json::Object(extra)) = (a.as_object_mut(), extra) {
                        a.extend(extra);
                    }
                }
                out.event(
                    "i",
                    ts,
                    &format!("cap {name}"),
                    json!({ "cat": "capability", "s": "t", "args": a }),
                )?;
                out.counter(ts, steps)?;
            }
            Event::Trap { error } => {
                let name = format!("error: {}", error.kind.name());
                out.event(
                    "i",
                    ts,
                    &name,
                    json!({ "cat": "error", "s": "g", "args": error_json(&error) }),
                )?;
                out.counter(ts, steps)?;
            }
            Event::End { outcome } => {
                let args = match &outcome {
                    Outcome::Returned(v) => {
                        json!({ "outcome": "returned", "value": value_json(v) })
                    }
                    Outcome::Failed => json!({ "outcome": "failed", "value": null }),
                };
                out.counter(ts, steps)?;
                // Spans a runtime error left open end with the run.
                while let Some(func) = stack.pop() {
                    out.event(
                        "E",
                        ts,
                        func_name(&module, func),
                        json!({ "cat": "call", "args": { "unwound": true } }),
                    )?;
                }
                out.event(
                    "i",
                    ts,
                    "end",
                    json!({ "cat": "end", "s": "g", "args": args }),
                )?;
            }
        }
    }
    let footer = reader.footer();
    let other = json!({
        "clock": "ts is the event's index in the trace (1 us = 1 event): a trace has no wall clock per event",
        "plugin": plugin,
        "tool_version": header.tool_version,
        "host": header.host,
        "recorded_at": rfc3339(header.recorded_at_ms),
        "format_version": format_version,
        "header_hash": hex(&header_hash),
        "events": reader.position(),
        "instructions": steps,
        "final_hash": footer.map(|f| hex(&f.final_hash)),
    });
    let w = out.w;
    w.write_all(b"\n],\"displayTimeUnit\":\"ms\",\"otherData\":")?;
    serde_json::to_writer(&mut *w, &other).map_err(|e| Stop::Write(e.into()))?;
    w.write_all(b"}\n")?;
    Ok(())
}

fn func_name(m: &Module, f: u16) -> &str {
    m.funcs.get(usize::from(f)).map_or("?", |f| f.name.as_str())
}

/// The embedded negotiation's entry for import `import` (the table has one
/// per import, in import order; by name if it does not line up).
fn policy_entry<'h>(
    h: &'h TraceHeader,
    import: u16,
    name: &str,
) -> Option<&'h chronicle_core::trace::NegotiatedEntry> {
    h.capabilities
        .get(usize::from(import))
        .filter(|e| e.name == name)
        .or_else(|| h.capabilities.iter().find(|e| e.name == name))
}
