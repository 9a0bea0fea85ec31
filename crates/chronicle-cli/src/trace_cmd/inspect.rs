//! `chronicle inspect`: a trace's header and provenance, statistics per
//! event kind, and raw events, as text or as one JSON object (shape:
//! docs/INSPECT_JSON.md). Reads the whole trace once, so the statistics
//! and the footer are checked; a damaged trace is reported after what
//! could be read (exit 3). Read under the reader's caps: a header over one
//! is refused (exit 2); reading past `--max-alloc-bytes` stops there and is
//! reported as damage is (exit 3).

use super::report::{event_json, header_json, header_text, value_json};
use super::{open_file, trace_failure, InspectArgs};
use crate::commands::{error_json, print_line};
use crate::failure::Failure;
use chronicle_core::trace::{hex, Event, EventKind, Outcome, Reader};
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
    let mut counts = [0u64; 6];
    let mut listed = Vec::new();
    let mut index = 0u64;
    let mut outcome = None;
    let mut trap = None;
    let mut error = None;
    loop {
        match reader.next_event() {
            Ok(Some(e)) => {
                counts[e.kind() as usize] += 1;
                if range.as_ref().is_some_and(|r| r.contains(&index)) {
                    if args.json {
                        listed.push(event_json(index, &e, &module));
                    } else if writeln!(out, "#{index} {e}").is_err() {
                        // A closed pipe (e.g. `| head`): stop quietly.
                        return Ok(());
                    }
                }
                match e {
                    Event::End { outcome: o } => outcome = Some(o),
                    Event::Trap { error: t } => trap = Some(t),
                    _ => {}
                }
                index += 1;
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let footer = reader.footer();
    if args.json {
        let mut counts_obj = serde_json::Map::new();
        for k in EventKind::ALL {
            counts_obj.insert(k.name().into(), json!(counts[k as usize]));
        }
        let outcome_json = match (&outcome, &trap) {
            (Some(Outcome::Returned(v)), _) => {
                json!({ "ok": true, "result": value_json(v), "literal": v.to_string() })
            }
            (Some(Outcome::Failed), Some(t)) => json!({ "ok": false, "error": error_json(t) }),
            _ => serde_json::Value::Null,
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
            let _ = writeln!(out, "  {:<13} {}", k.name(), counts[k as usize]);
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
        match (&outcome, &trap) {
            (Some(Outcome::Returned(v)), _) => {
                let _ = writeln!(out, "outcome\n  returned {v}");
            }
            (Some(Outcome::Failed), Some(t)) => {
                let _ = writeln!(out, "outcome\n  runtime error: {t}");
            }
            _ => {}
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
