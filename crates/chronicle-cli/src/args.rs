//! Command-line arguments: one definition per flag, with its documentation.

use chronicle_core::{Limit, Limits, Policy};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// ChronicleVM: run untrusted plugins in a bounded, inspectable sandbox.
#[derive(Debug, Parser)]
#[command(name = "chronicle", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify and run a plugin (.chr, .chasm or .cbc) and print its result on stdout.
    Run(RunArgs),
    /// Print the capability negotiation table of a plugin under a policy, without running it.
    Caps(CapsArgs),
    /// Compile or assemble a plugin into a binary module file (.cbc).
    Build(BuildArgs),
    /// Print a module (.cbc, or any plugin) as assembly.
    Disasm(DisasmArgs),
    /// Type-check a .chr plugin without running it.
    Check(CheckArgs),
    /// Run a plugin like `run`, recording a provenance-rich trace (.ctrace).
    Trace(crate::trace_cmd::TraceArgs),
    /// Re-execute a trace with its recorded capability results (no live host call).
    Replay(crate::trace_cmd::ReplayArgs),
    /// Verify a trace's integrity, replay it and check it against its policy.
    Audit(crate::trace_cmd::AuditArgs),
    /// Print a trace's header, provenance, statistics and raw events.
    Inspect(crate::trace_cmd::InspectArgs),
    /// Compare two traces: where the runs part, which capability calls differ, both results.
    Diff(crate::trace_cmd::DiffArgs),
    /// Write a trace in another tool's format (chrome: Perfetto UI, chrome://tracing).
    Export(crate::trace_cmd::ExportArgs),
    /// Step through a trace both ways, with breakpoints and `why`.
    Debug(crate::debug::DebugArgs),
    /// Open a trace in the browser viewer (served on 127.0.0.1).
    View(crate::view::ViewArgs),
    /// Make an ed25519 key pair for signing traces (`trace --sign`, `audit --trusted-key`).
    Keygen(crate::keygen::KeygenArgs),
}

/// `chronicle check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plugin source (.chr).
    pub plugin: PathBuf,
}

/// `chronicle run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plugin: .chr source, .chasm assembly or a .cbc module.
    pub plugin: PathBuf,
    /// The policy and the host's resources.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Print one JSON object (result or error) instead of a literal.
    #[arg(long)]
    pub json: bool,
    /// Sandbox limits (declared last: their help heading applies to what follows).
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `chronicle caps`.
#[derive(Debug, Args)]
pub struct CapsArgs {
    /// The plugin: .chr source, .chasm assembly or a .cbc module.
    pub plugin: PathBuf,
    /// The policy and the host's resources.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Which policy governs a run, and where the host keeps what capabilities
/// need. See docs/POLICY.md.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The policy (TOML): which capabilities the plugin may use and its
    /// limits. Without it every capability is denied and the default limits
    /// apply.
    #[arg(long, value_name = "P.toml")]
    pub policy: Option<PathBuf>,
    /// The file behind kv.get/kv.put (a redb database, created on the first
    /// kv.put; a JSON store of an earlier version is migrated). Without it,
    /// kv calls fail.
    #[arg(long, value_name = "FILE")]
    pub kv_store: Option<PathBuf>,
}

/// `chronicle build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The plugin: .chr source, .chasm assembly (or a .cbc module, re-encoded).
    pub plugin: PathBuf,
    /// Where to write the module.
    #[arg(short = 'o', long = "out", value_name = "M.cbc")]
    pub out: PathBuf,
}

/// `chronicle disasm`.
#[derive(Debug, Args)]
pub struct DisasmArgs {
    /// The module: a .cbc file (a .chasm file is parsed and printed back).
    pub module: PathBuf,
}

/// The limits of one run. Every run is bounded unless `--unbounded` is given.
///
/// Precedence, per limit: a flag given on the command line, else the
/// policy's `[limits]` value, else the default shown in `--help`.
/// `--unbounded` lifts every limit, the policy's included.
#[derive(Debug, Args)]
#[command(
    next_help_heading = "Limits (a flag overrides the policy's [limits], which overrides the default)"
)]
pub struct LimitArgs {
    /// Most instructions executed.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.instructions)]
    pub instructions: u64,
    /// Most active call frames (the entry function counts as one).
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.call_depth)]
    pub call_depth: u64,
    /// Most registers in one function frame.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.registers)]
    pub registers: u64,
    /// Most elements in one array.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.array_len)]
    pub array_len: u64,
    /// Most bytes in one string.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.string_bytes)]
    pub string_bytes: u64,
    /// Most bytes of strings and arrays allocated over the whole run.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.alloc_bytes)]
    pub alloc_bytes: u64,
    /// Lift every limit (trusted plugins only: time and memory become unbounded).
    #[arg(long, conflicts_with_all = ["instructions", "call_depth", "registers", "array_len", "string_bytes", "alloc_bytes"])]
    pub unbounded: bool,
    /// The limits given explicitly on the command line (filled in by [`parse`]).
    #[arg(skip)]
    pub explicit: Vec<Limit>,
}

impl LimitArgs {
    /// The limits of a run under `policy`: explicit flags, then the
    /// policy's `[limits]`, then the defaults; `--unbounded` lifts them all.
    pub fn limits(&self, policy: &Policy) -> Limits {
        if self.unbounded {
            return Limits::UNBOUNDED;
        }
        let mut limits = policy.limits();
        for &limit in &self.explicit {
            let (slot, flag) = match limit {
                Limit::Instructions => (&mut limits.instructions, self.instructions),
                Limit::CallDepth => (&mut limits.call_depth, self.call_depth),
                Limit::Registers => (&mut limits.registers, self.registers),
                Limit::ArrayLen => (&mut limits.array_len, self.array_len),
                Limit::StringBytes => (&mut limits.string_bytes, self.string_bytes),
                Limit::AllocBytes => (&mut limits.alloc_bytes, self.alloc_bytes),
            };
            *slot = flag;
        }
        limits
    }

    /// Records which limit flags `matches` (the subcommand's) got from the command line.
    fn note_explicit(&mut self, matches: &ArgMatches) {
        self.explicit = Limit::ALL
            .into_iter()
            .filter(|l| matches.value_source(l.name()) == Some(ValueSource::CommandLine))
            .collect();
    }
}

/// The caps of a command that reads a trace (`replay`, `audit`, `inspect`,
/// `debug`, `export`): what reading it may cost, whatever its header says. A trace
/// whose header records a limit above its cap is refused before any event
/// is read; reading stops with an error where it would allocate more than
/// `--max-alloc-bytes` (the debugger's checkpoints count, within twice it).
/// The defaults are `run`'s default limits, so every trace recorded with
/// them reads.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Reader caps (a trace recording a limit above its cap is refused)")]
pub struct ReaderCapArgs {
    /// The most instructions the trace may record as its limit.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.instructions)]
    pub max_instructions: u64,
    /// The most call frames the trace may record as its limit.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.call_depth)]
    pub max_call_depth: u64,
    /// The most registers per frame the trace may record as its limit.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.registers)]
    pub max_registers: u64,
    /// The most array elements the trace may record as its limit.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.array_len)]
    pub max_array_len: u64,
    /// The most string bytes the trace may record as its limit.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.string_bytes)]
    pub max_string_bytes: u64,
    /// The most bytes the trace may record as its limit, and the most the
    /// reader allocates in all while reading it.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.alloc_bytes)]
    pub max_alloc_bytes: u64,
    /// Lift every cap (trusted traces only: reading may take unbounded time and memory).
    #[arg(long, conflicts_with_all = READER_CAP_FLAGS)]
    pub unbounded: bool,
}

/// The ids of the `--max-*` flags (`--unbounded` conflicts with each).
const READER_CAP_FLAGS: [&str; 6] = [
    "max_instructions",
    "max_call_depth",
    "max_registers",
    "max_array_len",
    "max_string_bytes",
    "max_alloc_bytes",
];

impl ReaderCapArgs {
    /// The reader's caps: the flags, or [`Limits::UNBOUNDED`] with `--unbounded`.
    pub fn caps(&self) -> Limits {
        if self.unbounded {
            return Limits::UNBOUNDED;
        }
        Limits {
            instructions: self.max_instructions,
            call_depth: self.max_call_depth,
            registers: self.max_registers,
            array_len: self.max_array_len,
            string_bytes: self.max_string_bytes,
            alloc_bytes: self.max_alloc_bytes,
        }
    }
}

/// The flag that raises the reader's cap on `limit`, e.g. `--max-instructions`.
pub fn reader_cap_flag(limit: Limit) -> String {
    format!("--max-{}", limit.name().replace('_', "-"))
}

/// Parses the command line (exiting with clap's usage error, code 2, on bad
/// usage), noting which limit flags were given explicitly so that they, and
/// only they, override a policy's `[limits]`.
pub fn parse() -> Cli {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Every subcommand that flattens `LimitArgs` must be listed here, or its
    // limit flags would lose to the policy's `[limits]`.
    match (&mut cli.command, matches.subcommand()) {
        (Command::Run(run), Some(("run", sub))) => run.limits.note_explicit(sub),
        (Command::Trace(trace), Some(("trace", sub))) => trace.run.limits.note_explicit(sub),
        _ => {}
    }
    cli
}
