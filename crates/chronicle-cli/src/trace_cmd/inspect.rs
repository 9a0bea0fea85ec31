//! `chronicle inspect`: a trace's header and provenance, statistics per
//! event kind, and raw events, as text or as one JSON object (shape:
//! docs/INSPECT_JSON.md). Reads the whole trace once, so the statistics
//! and the footer are checked; a damaged trace is reported after what
//! could be read (exit 3). Only the events of `--events` are made into
//! [`chronicle_core::trace::Event`]s; the others are decoded, checked and
//! counted without (`Reader::skip_to`), about 3.5x cheaper. The text
//! window is printed as it is read, before the rest of the trace is
//! verified: the footer line says `(verified)` only once all of it was,
//! and damage after the window is still an error (exit 3). Read under the reader's caps: a header over one
//! is refused (exit 2); reading past `--max-alloc-bytes` stops there and is
//! reported as damage is (exit 3).

use super::report::{event_json, header_json, header_text, value_json};
use super::{open_file, trace_failure, InspectArgs};
use crate::commands::{error_json, print_line};
use crate::failure::Failure;
use chronicle_core::trace::{hex, EventKind, Reader};
use serde_json::json;
use std::io::{BufReader, Write};
use std::ops::Range;

/// `chronicle inspect`.
pub fn inspect(args: &InspectArgs) -> Result<(), Failure> {
    let path = &args.trace;
    let range = match &args.events {
        Some(text) => Some(parse_range(text)?),
        None => None,
    };
    let file = open_file(path)?;
    // Not a trace or over a cap: exit 2; a damaged header: exit 3.
    let mut reader = Reader::open_capped(BufReader::new(file), args.caps.caps())
        .map_err(|e| trace_failure(path, &e))?;
    let header = reader.header().clone();
    let header_hash = reader.header_hash();
    let module = reader.module().module().clone();
    let format_version = reader.format_version();
    let mut out = std::io::stdout().lock();
    if !args.json {
        let _ = writeln!(
            out,
            "trace {} (format version {format_version})",
            path.display()
        );
        let _ = write!(out, "{}", header_text(&header, &header_hash));
        if range.is_some() {
            let _ = writeln!(out, "events");
        }
    }
    // The events before the window are decoded, checked and counted but
    // never made into `Event`s (`skip_to`), and so are those after it: the
    // whole trace is still read and its chain and footer verified, at a
    // fraction of the cost of dressing every event.
    let window = range.clone().unwrap_or(u64::MAX..u64::MAX);
    let mut listed = Vec::new();
    let mut error = reader.skip_to(window.start).err();
    while error.is_none() && reader.position() < window.end {
        let index = reader.position();
        match reader.next_event() {
            Ok(Some(e)) => {
                if args.json {
                    listed.push(event_json(index, &e, &module));
                } else if writeln!(out, "#{index} {e}").is_err() {
                    // A closed pipe (e.g. `| head`): stop quietly.
                    return Ok(());
                }
            }
            Ok(None) => break,
            Err(e) => error = Some(e),
        }
    }
    if error.is_none() {
        error = reader.skip_to(u64::MAX).err();
    }
    let counts = reader.counts();
    let index = reader.position();
    let ended = reader.ended();
    let footer = reader.footer();
    if args.json {
        let mut counts_obj = serde_json::Map::new();
        for k in EventKind::ALL {
            counts_obj.insert(k.name().into(), json!(counts.get(k)));
        }
        let outcome_json = match &ended {
            Some(Ok(v)) => {
                json!({ "ok": true, "result": value_json(v), "literal": v.to_string() })
            }
            Some(Err(t)) => json!({ "ok": false, "error": error_json(t) }),
            None => serde_json::Value::Null,
        };
        let obj = json!({
            "trace": path.display().to_string(),
            "format_version": format_version,
            "header": header_json(&header, &header_hash),
            "functions": module.funcs.iter().enumerate().map(|(i, f)| json!({
                "index": i, "name": f.name, "params": f.params, "registers": f.regs.len(),
                "instructions": f.code.len(),
            })).collect::<Vec<_>>(),
            "imports": module.imports.iter().enumerate().map(|(i, imp)| json!({
                "index": i, "name": imp.name, "version": imp.version.to_string(),
                "signature": imp.sig.to_string(),
            })).collect::<Vec<_>>(),
            "counts": counts_obj,
            "events_total": index,
            "footer": footer.map(|f| json!({
                "chunks": f.chunks, "events": f.events, "steps": f.steps,
                "final_hash": hex(&f.final_hash),
            })),
            "outcome": outcome_json,
            "integrity": match &error {
                None => json!({ "ok": true, "error": null, "offset": null }),
                Some(e) => json!({ "ok": false, "error": e.kind.to_string(), "offset": e.offset }),
            },
            "events": range.as_ref().map(|_| listed),
        });
        drop(out);
        print_line(&obj.to_string());
    } else {
        let _ = writeln!(out, "statistics");
        for k in EventKind::ALL {
            let _ = writeln!(out, "  {:<13} {}", k.name(), counts.get(k));
        }
        let _ = writeln!(out, "  {:<13} {index}", "total");
        if let Some(f) = footer {
            let _ = writeln!(
                out,
                "  {:<13} {} chunks, final hash {} (verified)",
                "footer",
                f.chunks,
                hex(&f.final_hash)
            );
        }
        match &ended {
            Some(Ok(v)) => {
                let _ = writeln!(out, "outcome\n  returned {v}");
            }
            Some(Err(t)) => {
                let _ = writeln!(out, "outcome\n  runtime error: {t}");
            }
            None => {}
        }
    }
    match error {
        None => Ok(()),
        Some(e) => Err(trace_failure(path, &e)),
    }
}

/// `A..B`, `A..=B`, `A..`, `..B` or `N` as a half-open range of event indices.
fn parse_range(text: &str) -> Result<Range<u64>, Failure> {
    let bad = || {
        Failure::input(format!("--events {text}: not a range of event indices"))
            .hint("write A..B (B excluded), A..=B, A.., ..B or a single index N")
    };
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let t = text.trim();
    if let Some((a, b)) = t.split_once("..") {
        let start = if a.trim().is_empty() { 0 } else { num(a)? };
        let end = if let Some(b) = b.strip_prefix('=') {
            num(b)?.checked_add(1).ok_or_else(bad)?
        } else if b.trim().is_empty() {
            u64::MAX
        } else {
            num(b)?
        };
        if start > end {
            return Err(bad());
        }
        Ok(start..end)
    } else {
        let n = num(t)?;
        Ok(n..n.saturating_add(1))
    }
}
