//! The trace commands: `trace` (run and record), `replay`, `audit` and
//! `inspect`. The format and its checks live in `chronicle_core::trace`;
//! this module adds files, policies, reports and exit codes.
//!
//! - [`trace`]: exactly `run` (shared code in `commands.rs`), with a
//!   [`Recorder`] as the VM's observer, streaming to a temporary file in the
//!   output's directory that is renamed into place once the footer is
//!   written, also after a runtime error or a limit.
//! - [`replay`]: core `replay_capped_with` (no live host), logs from the
//!   recorded `log.write` calls, the result printed as `run` prints it.
//! - [`audit`] (`audit.rs`): integrity, replay and policy checks in one pass.
//! - [`inspect`] (`inspect.rs`): header, statistics, raw events; the JSON
//!   shape is documented in `docs/INSPECT_JSON.md`.
//! - [`diff`] (`diff.rs`): two traces read in lockstep: where the runs
//!   part, the capability calls that differ, both results; the JSON shape
//!   is documented in `docs/DIFF_JSON.md`.
//! - [`export`] (`export.rs`): the trace as Chrome Trace Event JSON, for
//!   Perfetto UI and `chrome://tracing`.
//!
//! Every command that reads a trace reads it under the reader's caps
//! ([`ReaderCapArgs`], `--max-*` and `--unbounded`), through the core's
//! capped API: a header recording a limit above its cap is refused before
//! any event (exit 2, see [`reader_cap_failure`]); reading that would
//! allocate past `--max-alloc-bytes` stops as a trace that cannot be
//! trusted stops (exit 3).

mod audit;
mod diff;
mod export;
mod inspect;
mod report;

use crate::args::{reader_cap_flag, ReaderCapArgs, RunArgs};
use crate::commands::{print_outcome, Setup};
use crate::failure::Failure;
use crate::host;
use crate::load::load_with_source;
use chronicle_core::caps::Binding;
use chronicle_core::trace::{
    self, hex, Divergence, Event, NegotiatedEntry, Recorder, ReplayError, TraceError,
    TraceErrorKind, TraceHeader,
};
use chronicle_core::vm::{CapabilityError, TrapKind};
use chronicle_core::{Limit, Limits, Value};
use clap::Args;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

pub use audit::audit;
pub use diff::{diff, DiffArgs};
pub use export::export;
pub use inspect::inspect;

/// `chronicle trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Where to write the trace (.ctrace). It appears only once complete.
    #[arg(long, short = 'o', value_name = "T.ctrace")]
    pub out: PathBuf,
    /// Sign the trace with this secret key (written by `chronicle keygen`).
    #[arg(long, value_name = "HOST.key")]
    pub sign: Option<PathBuf>,
    /// The plugin, policy, output and limit options of `run`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `chronicle replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The trace.
    pub trace: PathBuf,
    /// Print one JSON object (result or error) instead of a literal, as `run --json`.
    #[arg(long)]
    pub json: bool,
    /// What reading the trace may cost.
    #[command(flatten)]
    pub caps: ReaderCapArgs,
}

/// `chronicle audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The trace.
    pub trace: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Pass only if one of these public keys signed the trace: a .pub file
    /// from `chronicle keygen`, or a file of such lines (repeatable).
    #[arg(long, value_name = "KEY.pub")]
    pub trusted_key: Vec<PathBuf>,
    /// What reading the trace may cost.
    #[command(flatten)]
    pub caps: ReaderCapArgs,
}

/// `chronicle inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The trace.
    pub trace: PathBuf,
    /// Also print the raw events in this range of event indices: `A..B`
    /// (B excluded), `A..=B`, `A..`, `..B` or `N`.
    #[arg(long, value_name = "A..B")]
    pub events: Option<String>,
    /// Print one JSON object (see docs/INSPECT_JSON.md).
    #[arg(long)]
    pub json: bool,
    /// What reading the trace may cost.
    #[command(flatten)]
    pub caps: ReaderCapArgs,
}

/// `chronicle export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The trace.
    pub trace: PathBuf,
    /// The output format: `chrome` (Chrome Trace Event JSON, for Perfetto
    /// UI and chrome://tracing; `ts` is the event index, not wall time).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: ExportFormat,
    /// Where to write (it appears only once the whole trace has been read
    /// and verified); `-` or no `-o` writes to stdout as it goes.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// What reading the trace may cost.
    #[command(flatten)]
    pub caps: ReaderCapArgs,
}

/// The formats `chronicle export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// The Chrome Trace Event format (JSON object form).
    Chrome,
}

/// `chronicle trace`: `run`, recording a trace of the run.
pub fn trace(args: &TraceArgs) -> Result<(), Failure> {
    let run = &args.run;
    let key = args
        .sign
        .as_deref()
        .map(crate::keygen::read_secret_key)
        .transpose()?;
    let (module, source) = load_with_source(&run.plugin)?;
    let setup = Setup::new(&run.policy, &run.limits)?;
    let mut registry = host::builtins(&setup.config);
    let mut session = setup.negotiate(&mut registry, &module, &run.policy)?;

    let mut header = TraceHeader::new(module.module());
    header.tool_version = format!("chronicle {}", env!("CARGO_PKG_VERSION"));
    header.plugin_name = run.plugin.file_name().map_or_else(
        || run.plugin.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    header.source = source;
    header.policy = run
        .policy
        .policy
        .as_ref()
        .map(|_| setup.policy.text().to_string());
    header.capabilities = session
        .negotiation()
        .entries()
        .iter()
        .map(|e| NegotiatedEntry {
            name: e.import.name.clone(),
            requested: e.import.version,
            offered: e.offered,
            decision: e.decision,
            scope: match host::scope_text(e, &setup.config) {
                s if s == "-" => String::new(),
                s => s,
            },
        })
        .collect();
    header.limits = setup.limits;
    header.host = host_description();
    header.recorded_at_ms = now_ms();

    let out = TempFile::create(&args.out)?;
    let writer = BufWriter::with_capacity(64 * 1024, out.file()?);
    let mut recorder = Recorder::new(writer, header)
        .map_err(|e| Failure::input(format!("cannot record {}: {e}", args.out.display())))?;
    if recorder.module().module() != module.module() {
        return Err(Failure::input(
            "internal error: the recorded module differs from the loaded one",
        )
        .hint("this is a bug in ChronicleVM; please report it with the plugin"));
    }
    if let Some(key) = key {
        recorder.sign_with(key);
    }
    let mut machine = session.vm(setup.limits, &mut recorder);
    let outcome = machine.run();
    let executed = machine.instructions_executed();
    drop(machine);
    let finished = recorder.finish(&outcome).map_err(|e| {
        Failure::input(format!("writing {} failed: {e}", args.out.display()))
            .hint("no trace was written; check the disk space and the directory's permissions")
    })?;
    out.commit(finished.writer)?;
    eprintln!(
        "trace: {} events ({} instructions), {} bytes written to {} (final hash {}{})",
        finished.events,
        finished.steps,
        finished.bytes,
        args.out.display(),
        hex(&finished.final_hash),
        finished.signature.map_or_else(
            || ", unsigned".to_string(),
            |s| format!(", signed by key {}", s.key.fingerprint())
        )
    );
    print_outcome(outcome, executed, run.json)
}

/// `chronicle replay`: re-execute a trace with its recorded capability
/// results; print the result as `run` would.
pub fn replay(args: &ReplayArgs) -> Result<(), Failure> {
    let caps = args.caps.caps();
    let (file, header) = open_trace(&args.trace, caps)?;
    let (imports, recorded) = (header.imports, header.limits);
    let mut on_call =
        |import: u16, call_args: &[Value], outcome: Result<&Value, &CapabilityError>| {
            // What `log.write` printed when the trace was recorded.
            if imports.get(usize::from(import)).map(String::as_str) == Some("log.write")
                && outcome.is_ok()
            {
                let s = |i: usize| call_args.get(i).and_then(Value::as_str).unwrap_or_default();
                eprintln!("[{}] {}", s(0), s(1));
            }
        };
    let report = trace::replay_capped_with(file, caps, &mut on_call)
        .map_err(|e| replay_failure(&args.trace, &e, recorded, caps))?;
    eprintln!(
        "replay: {} events ({} instructions, {} capability calls answered from the trace) match the recording",
        report.events, report.steps, report.capability_calls
    );
    // Instructions executed: the steps, plus the one that failed, if one did.
    let executed = report.steps + u64::from(report.outcome.is_err());
    print_outcome(report.outcome, executed, args.json)
}

/// A replay that failed: the trace's integrity (exit 3), a divergence
/// (exit 3), or not a trace at all (exit 2).
fn replay_failure(path: &Path, e: &ReplayError, recorded: Limits, caps: Limits) -> Failure {
    match e {
        ReplayError::Trace(t) => trace_failure(path, t),
        ReplayError::Diverged(d) if stopped_by_cap(d, recorded, caps) => {
            Failure::audit(format!("{}: {d}", path.display())).hint(alloc_cap_hint(caps.alloc_bytes))
        }
        ReplayError::Diverged(d) => Failure::audit(format!("{}: {d}", path.display()))
            .hint("the trace does not describe a run of its own module: it was altered or recorded by a faulty tool"),
    }
}

/// Whether divergence `d` is the replayed run stopping at an `alloc_bytes`
/// limit that the reader's cap set rather than the recording (a trace that
/// records none, format version 1, replays under `--max-alloc-bytes`).
pub(crate) fn stopped_by_cap(d: &Divergence, recorded: Limits, caps: Limits) -> bool {
    recorded.alloc_bytes > caps.alloc_bytes
        && matches!(&d.found, Some(Event::Trap { error })
            if matches!(error.kind, TrapKind::LimitExceeded { limit: Limit::AllocBytes, .. }))
}

/// A trace that cannot be read or trusted. Not a trace at all, or a header
/// recording a limit above the reader's cap, is an input error (exit 2);
/// anything else means the file was altered or cut, or cannot be read
/// within `--max-alloc-bytes` (exit 3).
pub(crate) fn trace_failure(path: &Path, e: &TraceError) -> Failure {
    if not_a_trace(e) {
        return Failure::input(format!("{}: {e}", path.display()))
            .hint("pass a .ctrace file written by `chronicle trace`");
    }
    if let Some(failure) = reader_cap_failure(path, e) {
        return failure;
    }
    let hint = if e.is_truncation() {
        "the trace is incomplete (an interrupted write?): record it again"
    } else {
        "the trace was altered or corrupted: do not trust it; record it again"
    };
    Failure::audit(format!("{}: integrity check failed: {e}", path.display())).hint(hint)
}

/// A trace refused for the reader's own caps, with the flag that raises the
/// cap in question: a header recording a limit above its cap (exit 2: the
/// command was asked to read less than the trace needs), or reading that
/// would allocate more than `--max-alloc-bytes` (exit 3, as for a damaged
/// trace: a trace of a run within its recorded limits never needs that);
/// `None` for any other error.
pub(crate) fn reader_cap_failure(path: &Path, e: &TraceError) -> Option<Failure> {
    match e.kind {
        TraceErrorKind::OverReaderCap {
            limit, recorded, ..
        } => Some(
            Failure::input(format!("{}: {}", path.display(), e.kind)).hint(format!(
                "if you trust this trace, raise the cap: {} {recorded} (or --unbounded to lift every cap)",
                reader_cap_flag(limit)
            )),
        ),
        TraceErrorKind::ReaderAllocCap { cap, .. } => Some(
            Failure::audit(format!("{}: {e}", path.display())).hint(alloc_cap_hint(cap)),
        ),
        _ => None,
    }
}

/// The hint for reading stopped at the `alloc_bytes` cap `cap`.
pub(crate) fn alloc_cap_hint(cap: u64) -> String {
    format!(
        "the trace makes its reader allocate more than it records its run allowed, or it was \
         recorded without that limit; if you trust it, raise --max-alloc-bytes (now {cap}, \
         e.g. --max-alloc-bytes {})",
        cap.saturating_mul(2).max(1 << 20)
    )
}

/// Whether `e` says the input is not a trace (rather than a damaged one).
pub(crate) fn not_a_trace(e: &TraceError) -> bool {
    matches!(
        e.kind,
        TraceErrorKind::BadMagic
            | TraceErrorKind::UnsupportedVersion { .. }
            | TraceErrorKind::Io { .. }
    )
}

/// What the commands need from a trace's header before reading on.
pub(crate) struct Opened {
    /// The import names, by index.
    pub imports: Vec<String>,
    /// The limits the header records.
    pub limits: Limits,
}

/// Opens a trace for reading from its start under the reader's `caps`,
/// checking that it is one: an empty or unreadable file, a file that is not
/// a trace or a header over a cap is an input failure (exit 2); a damaged
/// header is an integrity failure (exit 3).
pub(crate) fn open_trace(path: &Path, caps: Limits) -> Result<(BufReader<File>, Opened), Failure> {
    let file = open_file(path)?;
    let reader = trace::Reader::open_capped(BufReader::new(file), caps)
        .map_err(|e| trace_failure(path, &e))?;
    let imports = reader
        .module()
        .module()
        .imports
        .iter()
        .map(|i| i.name.clone())
        .collect();
    let limits = reader.header().limits;
    Ok((BufReader::new(open_file(path)?), Opened { imports, limits }))
}

/// Opens a file that should be a trace; an empty one is not a trace.
pub(crate) fn open_file(path: &Path) -> Result<File, Failure> {
    let cannot = |e: std::io::Error| {
        Failure::input(format!("cannot read {}: {e}", path.display()))
            .hint("check the path and its permissions")
    };
    let file = File::open(path).map_err(cannot)?;
    if file.metadata().map_err(cannot)?.len() == 0 {
        return Err(
            Failure::input(format!("{}: an empty file, not a trace", path.display()))
                .hint("pass a .ctrace file written by `chronicle trace`"),
        );
    }
    Ok(file)
}

/// Whether a negotiated binding serves calls (a denied optional import does not).
pub(crate) fn serves(binding: &Binding) -> bool {
    !matches!(binding, Binding::Unavailable { .. })
}

/// `chronicle-cli 0.1.0 on linux/x86_64`.
fn host_description() -> String {
    format!(
        "chronicle-cli {} on {}/{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Milliseconds since the Unix epoch: provenance metadata only, never an
/// input to the run.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A file being written (a trace, an export): a temporary file beside the output, renamed
/// into place only when the trace is complete, and removed otherwise (a
/// crash leaves only the temporary file, which reads as truncated).
pub(crate) struct TempFile {
    tmp: PathBuf,
    out: PathBuf,
    file: Option<File>,
    done: bool,
}

impl TempFile {
    pub(crate) fn create(out: &Path) -> Result<TempFile, Failure> {
        let name = out.file_name().ok_or_else(|| {
            Failure::input(format!("--out {}: not a file name", out.display()))
                .hint("give the path of the trace file to write, e.g. --out run.ctrace")
        })?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = out.with_file_name(tmp_name);
        let file = File::create(&tmp).map_err(|e| {
            Failure::input(format!("cannot write {}: {e}", out.display()))
                .hint("check that the directory exists and is writable")
        })?;
        Ok(TempFile {
            tmp,
            out: out.to_path_buf(),
            file: Some(file),
            done: false,
        })
    }

    pub(crate) fn file(&self) -> Result<File, Failure> {
        let file = self.file.as_ref().expect("created with a file");
        file.try_clone()
            .map_err(|e| Failure::input(format!("cannot write {}: {e}", self.out.display())))
    }

    /// Flushes `writer`, syncs and renames the file into place.
    pub(crate) fn commit(mut self, writer: BufWriter<File>) -> Result<(), Failure> {
        let fail = |e: std::io::Error| {
            Failure::input(format!("writing {} failed: {e}", self.out.display()))
                .hint("no trace was written; check the disk space and the directory's permissions")
        };
        let file = writer.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        drop(file);
        self.file = None;
        std::fs::rename(&self.tmp, &self.out).map_err(fail)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
