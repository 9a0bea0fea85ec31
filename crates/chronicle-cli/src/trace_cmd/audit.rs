//! `chronicle audit`: may this trace be trusted, and did the run keep to
//! its policy?
//!
//! One streaming pass over the events (core `replay_capped_with`, under the
//! reader's caps: `--max-*`, `--unbounded`): the hash chain
//! and the footer are checked chunk by chunk, the embedded module is
//! re-executed with the recorded capability results and every event is
//! compared, and each recorded capability call is checked, as it is
//! answered, against the policy embedded in the header:
//!
//! - a call of an import the policy denies (or does not name) must have
//!   failed: a denied call that returned a value is a violation;
//! - a mocked import's results must be the policy's `returns` values in
//!   order, the last one repeating;
//! - a granted path-scoped import (`fs.read`, `fs.list`) must not have
//!   returned anything for a path outside its `paths` globs. From trace
//!   format version 3 on, the path checked is the one the host recorded
//!   opening (relative to the granted root, after every link was
//!   resolved): a successful scoped call without one, or with one that is
//!   not a plain path inside the globs, is a violation. Older traces do not
//!   record it, and the report says so: their check is on the plugin's
//!   spelling (normalised lexically), which cannot see a link swapped in
//!   during the run. Both are matched with the core's globs.
//!
//! Before that, the header itself is checked: the embedded hashes (by the
//! reader), the policy parses, the plugin's source compiles to the embedded
//! module, and the recorded capability table is what negotiating the
//! module under the embedded policy gives. The verdict is PASS only if
//! everything holds. Memory is bounded: the reader's chunk and the run's
//! own state, within the reader's caps; at most [`MAX_LISTED`] violations
//! are kept for the report. A header recording a limit above a cap is
//! refused before the audit starts (exit 2, no report); reading that would
//! allocate past `--max-alloc-bytes` is an integrity failure of the report
//! (FAIL, exit 3), with a hint naming the flag.
//!
//! Origin: the report says whether the trace is signed (format version 4)
//! and by which key (its fingerprint); a signature that does not verify is
//! an integrity failure (the reader checks it). With `--trusted-key` (files
//! of public keys, repeatable) the audit passes only if one of those keys
//! signed this exact trace: an unsigned trace, or one signed by another
//! key, fails. Without it, an unsigned trace proves its integrity only, not
//! its origin: anyone can edit a trace and re-seal its hash chain.

use super::report::{header_json, header_text, value_json};
use super::{
    alloc_cap_hint, not_a_trace, open_file, serves, stopped_by_cap, trace_failure, AuditArgs,
};
use crate::commands::{error_json, print_line};
use crate::failure::Failure;
use crate::host::{self, HostConfig};
use chronicle_core::caps::{self, Binding, Negotiation, Policy};
use chronicle_core::trace::{
    self, hex, AnsweredCall, PublicKey, Reader, ReplayError, TraceError, TraceErrorKind,
    TraceHeader, OPENED_PATHS_SINCE,
};
use chronicle_core::vm::RuntimeError;
use chronicle_core::{format, Module, Value};
use serde_json::json;
use std::fmt::Write as _;
use std::io::BufReader;

/// The most violations a report lists (the total is always counted).
const MAX_LISTED: usize = 100;

/// `chronicle audit`.
pub fn audit(args: &AuditArgs) -> Result<(), Failure> {
    let path = &args.trace;
    let trusted = trusted_keys(&args.trusted_key)?;
    let file = open_file(path)?;
    let caps = args.caps.caps();
    let mut report = Report {
        trusted,
        ..Report::default()
    };
    let reader = match Reader::open_capped(BufReader::new(file), caps) {
        Ok(r) => Some(r),
        Err(e) if not_a_trace(&e) || matches!(e.kind, TraceErrorKind::OverReaderCap { .. }) => {
            return Err(trace_failure(path, &e))
        }
        Err(e) => {
            report.integrity_failed(&e);
            None
        }
    };
    if let Some(reader) = reader {
        let header = reader.header().clone();
        let header_hash = reader.header_hash();
        let module = reader.module().module().clone();
        report.format_version = reader.format_version();
        drop(reader);
        let mut checker = Checker::new(&header, &module, &mut report);
        let src = BufReader::new(open_file(path)?);
        let replayed = trace::replay_calls(src, caps, &mut |c| checker.call(c));
        checker.finish();
        match replayed {
            Ok(r) => {
                report.events = Some((r.events, r.steps));
                report.final_hash = Some(r.final_hash);
                report.outcome = Some(r.outcome);
                report.signer = r.signature.map(|s| s.key);
            }
            Err(ReplayError::Trace(e)) => report.integrity_failed(&e),
            Err(ReplayError::Diverged(d)) => {
                if stopped_by_cap(&d, header.limits, caps) {
                    report.alloc_cap = Some(caps.alloc_bytes);
                }
                report.divergence = Some(d.to_string());
            }
        }
        report.header = Some((header, header_hash));
    }
    let pass = report.pass();
    if args.json {
        print_line(&report.json(path).to_string());
    } else {
        let mut out = std::io::stdout().lock();
        let _ = std::io::Write::write_all(&mut out, report.text(path).as_bytes());
    }
    if pass {
        return Ok(());
    }
    let failure = Failure::audit(format!(
        "audit of {} failed: {}",
        path.display(),
        report.reason()
    ));
    Err(match report.alloc_cap {
        Some(cap) => failure.hint(alloc_cap_hint(cap)),
        None => failure.hint("do not trust this trace's results; see the report above"),
    })
}

/// The keys of every `--trusted-key` file (`None` without the flag). A
/// file that cannot be read or holds no valid public key is an input error
/// (exit 2).
fn trusted_keys(files: &[std::path::PathBuf]) -> Result<Option<Vec<PublicKey>>, Failure> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut keys = Vec::new();
    for f in files {
        let text = crate::keygen::read_key_file(f)?;
        let found = PublicKey::parse_list(&text).map_err(|e| {
            Failure::input(format!("{}: not a public key file: {e}", f.display())).hint(
                "pass the .pub file `chronicle keygen` wrote (or a file of such lines), never the secret key",
            )
        })?;
        keys.extend(found);
    }
    Ok(Some(keys))
}

/// What the audit found.
#[derive(Default)]
struct Report {
    header: Option<(TraceHeader, [u8; 32])>,
    /// Why the trace's integrity failed, and where.
    integrity: Option<String>,
    integrity_offset: Option<u64>,
    /// The reader's `alloc_bytes` cap, when reading or the replay stopped there.
    alloc_cap: Option<u64>,
    divergence: Option<String>,
    /// Events and steps replayed (an intact, matching trace).
    events: Option<(u64, u64)>,
    final_hash: Option<[u8; 32]>,
    outcome: Option<Result<Value, RuntimeError>>,
    usage: Vec<Usage>,
    violations: Vec<String>,
    violation_count: u64,
    /// The trace's format version: from [`OPENED_PATHS_SINCE`] on, scoped
    /// calls are checked on the paths they recorded opening.
    format_version: u16,
    /// Successful scoped calls checked, and (at most [`MAX_LISTED`]) what
    /// each asked for and opened.
    scoped_calls: u64,
    opened: Vec<Opened>,
    /// The key whose signature the reader checked (an intact signed trace).
    signer: Option<PublicKey>,
    /// The `--trusted-key` keys, if any were given.
    trusted: Option<Vec<PublicKey>>,
}

/// What one successful scoped call asked for and what it recorded opening
/// (each cut to 80 bytes).
#[derive(Clone, Debug)]
struct Opened {
    event: u64,
    key: String,
    asked: String,
    opened: Option<String>,
}

/// One import's calls.
#[derive(Clone, Debug)]
struct Usage {
    key: String,
    decision: &'static str,
    ok: u64,
    failed: u64,
}

impl Report {
    /// The trace cannot be read to its end: damage, or the reader's cap.
    fn integrity_failed(&mut self, e: &TraceError) {
        self.integrity = Some(e.kind.to_string());
        self.integrity_offset = Some(e.offset);
        if let TraceErrorKind::ReaderAllocCap { cap, .. } = e.kind {
            self.alloc_cap = Some(cap);
        }
    }

    fn violation(&mut self, what: String) {
        self.violation_count += 1;
        if self.violations.len() < MAX_LISTED {
            self.violations.push(what);
        }
    }

    fn pass(&self) -> bool {
        self.integrity.is_none()
            && self.divergence.is_none()
            && self.violation_count == 0
            && self.events.is_some()
            && self.origin_ok()
    }

    /// Whether the trace's origin is what `--trusted-key` demands: without
    /// it, always; with it, signed by one of those keys.
    fn origin_ok(&self) -> bool {
        match (&self.trusted, self.signer) {
            (None, _) => true,
            (Some(keys), Some(k)) => keys.contains(&k),
            (Some(_), None) => false,
        }
    }

    /// The signature check in one line.
    fn signature_note(&self) -> String {
        if self.events.is_none() {
            return match &self.integrity {
                Some(e) if e.contains("signature") => format!("FAIL: {e}"),
                _ => "not checked: the trace does not read to its footer".into(),
            };
        }
        let unsigned = "unsigned: the hash chain proves integrity, not origin (anyone can edit a trace and re-seal it)";
        match (&self.trusted, self.signer) {
            (None, Some(k)) => format!(
                "signed by key {} (valid; not checked against a trusted key: pass --trusted-key)",
                k.fingerprint()
            ),
            (None, None) => unsigned.into(),
            (Some(keys), Some(k)) if keys.contains(&k) => {
                format!("ok: signed by trusted key {}", k.fingerprint())
            }
            (Some(_), Some(k)) => format!(
                "FAIL: signed by key {}, which is not a trusted key",
                k.fingerprint()
            ),
            (Some(_), None) => format!("FAIL: {unsigned}; --trusted-key needs a signed trace"),
        }
    }

    /// The first reason the audit fails.
    fn reason(&self) -> String {
        if let Some(e) = &self.integrity {
            return format!(
                "integrity: {e} (at byte {})",
                self.integrity_offset.unwrap_or_default()
            );
        }
        if let Some(d) = &self.divergence {
            return d.clone();
        }
        if !self.origin_ok() && self.events.is_some() {
            return format!(
                "signature: {}",
                self.signature_note().trim_start_matches("FAIL: ")
            );
        }
        match self.violations.first() {
            Some(v) => format!(
                "{} policy violation{}: {v}",
                self.violation_count,
                if self.violation_count == 1 { "" } else { "s" }
            ),
            None => "incomplete".into(),
        }
    }

    fn text(&self, path: &std::path::Path) -> String {
        let mut o = String::new();
        let verdict = if self.pass() { "PASS" } else { "FAIL" };
        let _ = writeln!(o, "audit of {}: {verdict}", path.display());
        let _ = writeln!(o, "provenance");
        match &self.header {
            Some((h, hash)) => o.push_str(&header_text(h, hash)),
            None => o.push_str("  unavailable: the header cannot be trusted\n"),
        }
        let _ = writeln!(o, "checks");
        let integrity = match (&self.integrity, self.integrity_offset) {
            (Some(e), off) => format!("FAIL: {e} (at byte {})", off.unwrap_or_default()),
            (None, _) => match (self.events, self.final_hash) {
                (Some(_), Some(h)) => {
                    format!("ok: hash chain and footer verified, final hash {}", hex(&h))
                }
                _ => "not completed".into(),
            },
        };
        let _ = writeln!(o, "  {:<13} {integrity}", "integrity");
        let _ = writeln!(o, "  {:<13} {}", "signature", self.signature_note());
        let replay = match (&self.divergence, self.events) {
            (Some(d), _) => format!("FAIL: {d}"),
            (None, Some((events, steps))) => {
                format!("ok: {events} events ({steps} instructions) re-executed and identical")
            }
            (None, None) => "not completed".into(),
        };
        let _ = writeln!(o, "  {:<13} {replay}", "replay");
        let policy = if self.violation_count == 0 {
            "ok: every capability call keeps to the embedded policy".to_string()
        } else {
            format!("FAIL: {} violation(s)", self.violation_count)
        };
        let _ = writeln!(o, "  {:<13} {policy}", "policy");
        let _ = writeln!(o, "  {:<13} {}", "paths", self.paths_note());
        let _ = writeln!(o, "outcome");
        match &self.outcome {
            Some(Ok(v)) => {
                let _ = writeln!(o, "  returned {v}");
            }
            Some(Err(e)) => {
                let _ = writeln!(o, "  runtime error: {e}");
            }
            None => o.push_str("  unknown (the replay did not complete)\n"),
        }
        let _ = writeln!(o, "capabilities used");
        let used: Vec<_> = self.usage.iter().filter(|u| u.ok + u.failed > 0).collect();
        if used.is_empty() {
            o.push_str("  none\n");
        }
        for u in used {
            let _ = writeln!(
                o,
                "  {:<16} {:<6} {} call{} ({} ok, {} failed)",
                u.key,
                u.decision,
                u.ok + u.failed,
                if u.ok + u.failed == 1 { "" } else { "s" },
                u.ok,
                u.failed
            );
        }
        if self.opened_recorded() && !self.opened.is_empty() {
            let _ = writeln!(o, "paths opened");
            for c in &self.opened {
                let opened = c
                    .opened
                    .as_ref()
                    .map_or("nothing recorded".into(), |p| format!("{p:?}"));
                let _ = writeln!(
                    o,
                    "  event #{:<6} {}({:?}) opened {opened}",
                    c.event, c.key, c.asked
                );
            }
            if self.scoped_calls > self.opened.len() as u64 {
                let _ = writeln!(
                    o,
                    "  ... and {} more",
                    self.scoped_calls - self.opened.len() as u64
                );
            }
        }
        let _ = writeln!(o, "violations");
        if self.violations.is_empty() {
            o.push_str("  none\n");
        }
        for v in &self.violations {
            let _ = writeln!(o, "  - {v}");
        }
        if self.violation_count > self.violations.len() as u64 {
            let _ = writeln!(
                o,
                "  ... and {} more",
                self.violation_count - self.violations.len() as u64
            );
        }
        o
    }

    fn json(&self, path: &std::path::Path) -> serde_json::Value {
        json!({
            "trace": path.display().to_string(),
            "verdict": if self.pass() { "pass" } else { "fail" },
            "provenance": self.header.as_ref().map(|(h, hash)| header_json(h, hash)),
            "integrity": {
                "ok": self.integrity.is_none() && self.events.is_some(),
                "error": self.integrity,
                "offset": self.integrity_offset,
                "final_hash": self.final_hash.map(|h| hex(&h)),
            },
            "signature": {
                "signed": self.signer.is_some(),
                "key": self.signer.map(|k| k.fingerprint()),
                "public_key": self.signer.map(|k| hex(&k.0)),
                "trusted_keys": self.trusted.as_ref().map(|k| k.iter().map(PublicKey::fingerprint).collect::<Vec<_>>()),
                "trusted": self.trusted.as_ref().map(|_| self.origin_ok() && self.events.is_some()),
                "note": self.signature_note(),
            },
            "replay": {
                "ok": self.divergence.is_none() && self.events.is_some(),
                "divergence": self.divergence,
                "events": self.events.map(|e| e.0),
                "instructions": self.events.map(|e| e.1),
            },
            "outcome": match &self.outcome {
                Some(Ok(v)) => json!({ "ok": true, "result": value_json(v), "literal": v.to_string() }),
                Some(Err(e)) => json!({ "ok": false, "error": error_json(e) }),
                None => serde_json::Value::Null,
            },
            "capabilities": self.usage.iter().map(|u| json!({
                "capability": u.key,
                "decision": u.decision,
                "calls": u.ok + u.failed,
                "ok": u.ok,
                "failed": u.failed,
            })).collect::<Vec<_>>(),
            "paths": {
                "opened_recorded": self.opened_recorded(),
                "scoped_calls": self.scoped_calls,
                "note": self.paths_note(),
                "opened": self.opened.iter().map(|c| json!({
                    "event": c.event,
                    "capability": c.key,
                    "asked": c.asked,
                    "opened": c.opened,
                })).collect::<Vec<_>>(),
            },
            "violations": self.violations,
            "violation_count": self.violation_count,
        })
    }

    /// Whether the trace records what each call opened.
    fn opened_recorded(&self) -> bool {
        self.format_version >= OPENED_PATHS_SINCE
    }

    /// What the check of scoped paths was made on, in one line.
    fn paths_note(&self) -> String {
        if self.opened_recorded() {
            let n = self.scoped_calls;
            format!(
                "checked on what was opened: {n} successful scoped call{} with the path {} recorded opening",
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "each" }
            )
        } else {
            format!(
                "not recorded: a format version {} trace does not record what was opened; scoped calls are checked on the plugin's spelling only",
                self.format_version
            )
        }
    }
}

/// Checks each recorded capability call against the embedded policy.
struct Checker<'r> {
    report: &'r mut Report,
    /// The embedded policy's negotiation of the module, if it succeeds.
    negotiation: Option<Negotiation>,
    usage: Vec<Usage>,
    /// Per import, the index of the next mock value.
    cursors: Vec<usize>,
    calls: u64,
}

impl<'r> Checker<'r> {
    /// Checks the header (policy, source, capability table) and prepares
    /// the per-call checks.
    fn new(h: &TraceHeader, module: &Module, report: &'r mut Report) -> Self {
        let policy = match &h.policy {
            None => Policy::deny_all(),
            Some(text) => Policy::parse("(embedded policy)", text).unwrap_or_else(|e| {
                report.violation(format!("the embedded policy does not parse: {e}"));
                Policy::deny_all()
            }),
        };
        source_matches(h, module, report);
        let config = HostConfig {
            limits: h.limits,
            cwd: std::path::PathBuf::from("."),
            kv_store: None,
            kv_max_bytes: host::kv::DEFAULT_MAX_BYTES,
        };
        let registry = host::builtins(&config);
        let negotiation = match caps::negotiate(module, registry.offers(), &policy) {
            Ok(n) => Some(n),
            Err(e) => {
                report.violation(format!(
                    "the embedded policy does not admit this plugin (negotiation fails: {})",
                    e.to_string().replace('\n', "; ")
                ));
                None
            }
        };
        if let Some(n) = &negotiation {
            table_matches(h, n, report);
        }
        let usage = module
            .imports
            .iter()
            .enumerate()
            .map(|(i, imp)| Usage {
                key: format!("{}@{}", imp.name, imp.version),
                decision: negotiation
                    .as_ref()
                    .and_then(|n| n.entries().get(i))
                    .map_or("deny", |e| e.decision.name()),
                ok: 0,
                failed: 0,
            })
            .collect();
        Checker {
            report,
            negotiation,
            usage,
            cursors: vec![0; module.imports.len()],
            calls: 0,
        }
    }

    /// Puts the per-import counts into the report.
    fn finish(self) {
        self.report.usage = self.usage;
    }

    /// One recorded call, as the replay answers it.
    fn call(&mut self, c: &AnsweredCall<'_>) {
        let (import, args, outcome) = (c.import, c.args, c.outcome);
        let n = self.calls;
        self.calls += 1;
        let i = usize::from(import);
        let Some(u) = self.usage.get_mut(i) else {
            return;
        };
        match outcome {
            Ok(_) => u.ok += 1,
            Err(_) => u.failed += 1,
        }
        let key = u.key.clone();
        let shown = |v: &Value| clip(&v.to_string());
        let call = format!(
            "capability call #{n} (event #{}) {key}({})",
            c.event,
            args.iter().map(shown).collect::<Vec<_>>().join(", ")
        );
        let binding = self
            .negotiation
            .as_ref()
            .and_then(|neg| neg.entries().get(i))
            .filter(|e| e.decision != caps::Decision::Deny && serves(&e.binding))
            .map(|e| e.binding.clone());
        match (binding, outcome) {
            (None, Ok(v)) => self.report.violation(format!(
                "{call} returned {} but the embedded policy denies {key}",
                shown(v)
            )),
            (None, Err(_)) => {} // refused, as the policy says
            (Some(Binding::Mock { values }), outcome) => {
                let k = self.cursors[i];
                self.cursors[i] += 1;
                let want = values.get(k.min(values.len().saturating_sub(1)));
                let ok = matches!((want, outcome), (Some(w), Ok(v)) if w == v);
                if !ok {
                    let got = match outcome {
                        Ok(v) => shown(v),
                        Err(e) => format!("an error ({})", e.reason),
                    };
                    let want = want.map_or("nothing".into(), shown);
                    self.report.violation(format!(
                        "{call} returned {got} but the policy mocks {key} with {want} for call {} of it",
                        k + 1
                    ));
                }
            }
            (
                Some(Binding::Host {
                    scope: Some(scope), ..
                }),
                Ok(_),
            ) => {
                let path = args.first().and_then(Value::as_str).unwrap_or_default();
                if !self.report.opened_recorded() {
                    let inside = normalize(path).is_some_and(|p| scope.allows(&p));
                    if !inside {
                        self.report.violation(format!(
                            "{call} was answered but {path:?} is outside the granted paths ({scope})"
                        ));
                    }
                    return;
                }
                self.report.scoped_calls += 1;
                if self.report.opened.len() < MAX_LISTED {
                    self.report.opened.push(Opened {
                        event: c.event,
                        key: key.clone(),
                        asked: clip(path),
                        opened: c.opened.map(clip),
                    });
                }
                match c.opened {
                    None => self.report.violation(format!(
                        "{call} was answered but the trace does not record what it opened"
                    )),
                    // Only a plain path counts: `..` or `.` could match a
                    // glob's `*` while naming something outside it.
                    Some(opened) if normalize(opened).as_deref() != Some(opened) || !scope.allows(opened) => {
                        self.report.violation(format!(
                            "{call} asked for {} but opened {}, outside the granted paths ({scope})",
                            shown(&Value::str(path)),
                            shown(&Value::str(opened))
                        ))
                    }
                    Some(_) => {}
                }
            }
            (Some(_), _) => {}
        }
    }
}

/// `s`, cut to at most 80 bytes (77 and `...`) for a report line.
fn clip(s: &str) -> String {
    if s.len() > 80 {
        let mut end = 77;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

/// Whether the embedded source compiles (or assembles) to the embedded module.
fn source_matches(h: &TraceHeader, module: &Module, report: &mut Report) {
    let Some(source) = &h.source else {
        return;
    };
    let name = &h.plugin_name;
    let rebuilt = if name.ends_with(".chasm") {
        chronicle_asm::parse(source).ok()
    } else {
        chronicle_lang::compile_bytes(name, source.as_bytes()).ok()
    };
    match rebuilt {
        Some(m) if format::encode(&m) == format::encode(module) => {}
        Some(_) => report.violation(format!(
            "the embedded source of {name} does not compile to the embedded module"
        )),
        None => report.violation(format!("the embedded source of {name} does not compile")),
    }
}

/// Whether the header's capability table is what negotiating the module
/// under the embedded policy decides.
fn table_matches(h: &TraceHeader, n: &Negotiation, report: &mut Report) {
    let entries = n.entries();
    if entries.len() != h.capabilities.len() {
        report.violation(format!(
            "the header's capability table has {} entries but the module imports {}",
            h.capabilities.len(),
            entries.len()
        ));
        return;
    }
    for (e, rec) in entries.iter().zip(&h.capabilities) {
        let same = rec.name == e.import.name
            && rec.requested == e.import.version
            && rec.offered == e.offered
            && rec.decision.name() == e.decision.name();
        if !same {
            report.violation(format!(
                "the header's capability table says {}@{} {} but the embedded policy decides {}",
                rec.name,
                rec.requested,
                rec.decision.name(),
                e.decision.name()
            ));
        }
    }
}

/// `path` with `.` and `..` components resolved lexically and repeated
/// slashes removed; `None` if a `..` would climb above its start.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    Some(if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    })
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(normalize("a/./b//c").as_deref(), Some("a/b/c"));
        assert_eq!(normalize("a/b/../c").as_deref(), Some("a/c"));
        assert_eq!(normalize("/x/../y").as_deref(), Some("/y"));
        assert_eq!(normalize("a/../../etc"), None);
    }
}
