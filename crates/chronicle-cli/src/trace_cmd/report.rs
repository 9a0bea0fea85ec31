//! What `audit` and `inspect` print about a trace: provenance as text and
//! as JSON, values and events as JSON (shape: docs/INSPECT_JSON.md).

use crate::commands::error_json;
use chronicle_core::trace::{hex, Event, Outcome, TraceHeader};
use chronicle_core::{Module, Value};
use serde_json::{json, Map};
use std::fmt::Write as _;

/// The largest integer a JSON number carries exactly (2^53 − 1).
const MAX_SAFE: i64 = (1 << 53) - 1;

/// A value as JSON: unit `null`, bools, strings and arrays as themselves,
/// an int as a number if |v| <= 2^53 − 1, else `{"int": "<decimal>"}`.
pub fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Unit => serde_json::Value::Null,
        Value::Int(i) => int_json(*i),
        Value::Bool(b) => json!(b),
        Value::Str(s) => json!(s.as_str()),
        Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|x| value_json(&x)).collect())
        }
    }
}

/// An int as JSON, by the rule of [`value_json`].
pub fn int_json(i: i64) -> serde_json::Value {
    if (-MAX_SAFE..=MAX_SAFE).contains(&i) {
        json!(i)
    } else {
        json!({ "int": i.to_string() })
    }
}

/// `ms` since the Unix epoch as an RFC 3339 UTC time, e.g.
/// `2024-05-01T12:00:00.250Z`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The provenance of a trace as JSON (see docs/INSPECT_JSON.md, "header").
pub fn header_json(h: &TraceHeader, header_hash: &[u8; 32]) -> serde_json::Value {
    let l = &h.limits;
    json!({
        "tool_version": h.tool_version,
        "plugin_name": h.plugin_name,
        "recorded_at_ms": h.recorded_at_ms,
        "recorded_at": rfc3339(h.recorded_at_ms),
        "host": h.host,
        "module_format_version": h.module_format_version(),
        "module_bytes": h.module.len(),
        "module_hash": hex(&h.module_hash()),
        "source_hash": h.source_hash().map(|x| hex(&x)),
        "source_bytes": h.source.as_ref().map(String::len),
        "policy_hash": h.policy_hash().map(|x| hex(&x)),
        "policy": h.policy,
        "header_hash": hex(header_hash),
        "limits": {
            "instructions": l.instructions,
            "call_depth": l.call_depth,
            "registers": l.registers,
            "array_len": l.array_len,
            "string_bytes": l.string_bytes,
            "alloc_bytes": l.alloc_bytes,
        },
        "capabilities": h.capabilities.iter().map(|e| json!({
            "name": e.name,
            "requested": e.requested.to_string(),
            "offered": e.offered.map(|v| v.to_string()),
            "decision": e.decision.name(),
            "scope": e.scope,
        })).collect::<Vec<_>>(),
    })
}

/// The provenance of a trace as aligned text lines.
pub fn header_text(h: &TraceHeader, header_hash: &[u8; 32]) -> String {
    let mut out = String::new();
    let none = || "none".to_string();
    let l = &h.limits;
    let rows = [
        ("plugin", h.plugin_name.clone()),
        ("tool", h.tool_version.clone()),
        ("host", h.host.clone()),
        (
            "recorded at",
            format!("{} (metadata only)", rfc3339(h.recorded_at_ms)),
        ),
        (
            "module",
            format!(
                "blake3 {} ({} bytes)",
                hex(&h.module_hash()),
                h.module.len()
            ),
        ),
        (
            "source",
            h.source_hash().map_or_else(none, |x| {
                format!(
                    "blake3 {} ({} bytes)",
                    hex(&x),
                    h.source.as_ref().map_or(0, String::len)
                )
            }),
        ),
        (
            "policy",
            h.policy_hash().map_or_else(
                || "none (every capability denied)".into(),
                |x| format!("blake3 {}", hex(&x)),
            ),
        ),
        ("header", format!("blake3 {}", hex(header_hash))),
        (
            "limits",
            format!(
                "instructions {}, call_depth {}, registers {}, array_len {}, string_bytes {}, alloc_bytes {}",
                l.instructions, l.call_depth, l.registers, l.array_len, l.string_bytes, l.alloc_bytes
            ),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<13} {v}");
    }
    if h.capabilities.is_empty() {
        let _ = writeln!(out, "  {:<13} none imported", "capabilities");
    }
    for (i, e) in h.capabilities.iter().enumerate() {
        let label = if i == 0 { "capabilities" } else { "" };
        let offered = e.offered.map_or("-".into(), |v| v.to_string());
        let scope = if e.scope.is_empty() {
            String::new()
        } else {
            format!("  {}", e.scope)
        };
        let _ = writeln!(
            out,
            "  {label:<13} {}@{} offered {offered} {}{scope}",
            e.name,
            e.requested,
            e.decision.name()
        );
    }
    out
}

/// One event as JSON (see docs/INSPECT_JSON.md, "events").
pub fn event_json(index: u64, e: &Event, m: &Module) -> serde_json::Value {
    let mut o = Map::new();
    o.insert("index".into(), json!(index));
    o.insert("kind".into(), json!(e.kind().name()));
    let func_name = |f: u16| m.funcs.get(usize::from(f)).map_or("?", |f| f.name.as_str());
    let func = |o: &mut Map<String, serde_json::Value>, f: u16| {
        o.insert("function".into(), json!(f));
        o.insert("function_name".into(), json!(func_name(f)));
    };
    match e {
        Event::Enter { func: f, args } => {
            func(&mut o, *f);
            o.insert("args".into(), args.iter().map(value_json).collect());
        }
        Event::Step {
            func: f,
            pc,
            line,
            writes,
        } => {
            func(&mut o, *f);
            o.insert("pc".into(), json!(pc));
            o.insert("line".into(), json!(line));
            let w: Vec<_> = writes
                .iter()
                .map(|(r, v)| json!({ "register": r, "value": value_json(v) }))
                .collect();
            o.insert("writes".into(), json!(w));
        }
        Event::Return { func: f, value } => {
            func(&mut o, *f);
            o.insert("value".into(), value_json(value));
        }
        Event::Capability {
            import,
            args,
            outcome,
            opened,
        } => {
            let imp = m.imports.get(usize::from(*import));
            o.insert("import".into(), json!(import));
            o.insert("name".into(), json!(imp.map_or("?", |i| i.name.as_str())));
            o.insert("version".into(), json!(imp.map(|i| i.version.to_string())));
            o.insert("args".into(), args.iter().map(value_json).collect());
            o.insert(
                "outcome".into(),
                match outcome {
                    Ok(v) => json!({ "ok": true, "value": value_json(v) }),
                    Err(err) => json!({ "ok": false, "error": err.reason }),
                },
            );
            o.insert("opened".into(), json!(opened));
        }
        Event::Trap { error } => {
            o.insert("error".into(), error_json(error));
        }
        Event::End { outcome } => {
            let (status, value) = match outcome {
                Outcome::Returned(v) => ("returned", value_json(v)),
                Outcome::Failed => ("failed", serde_json::Value::Null),
            };
            o.insert("outcome".into(), json!(status));
            o.insert("value".into(), value);
        }
    }
    serde_json::Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_beyond_2_53_are_tagged_strings() {
        assert_eq!(int_json(MAX_SAFE), json!(9_007_199_254_740_991i64));
        assert_eq!(int_json(-MAX_SAFE), json!(-9_007_199_254_740_991i64));
        assert_eq!(int_json(MAX_SAFE + 1), json!({ "int": "9007199254740992" }));
        assert_eq!(int_json(i64::MIN), json!({ "int": "-9223372036854775808" }));
        assert_eq!(value_json(&Value::Unit), serde_json::Value::Null);
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_250), "2023-11-14T22:13:20.250Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
