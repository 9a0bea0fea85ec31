//! Command-line arguments: one definition per flag, with its documentation.

use chronicle_core::Limits;
use clap::{Args, Parser, Subcommand};
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
    /// Verify and run a plugin (.chasm or .cbc) and print its result on stdout.
    Run(RunArgs),
    /// Assemble a plugin into a binary module file (.cbc).
    Build(BuildArgs),
    /// Print a module (.cbc, or any plugin) as assembly.
    Disasm(DisasmArgs),
}

/// `chronicle run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plugin: a .chasm assembly file or a .cbc module.
    pub plugin: PathBuf,
    /// Sandbox limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Print one JSON object (result or error) instead of a literal.
    #[arg(long)]
    pub json: bool,
}

/// `chronicle build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The plugin: a .chasm assembly file (or a .cbc module, re-encoded).
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
#[derive(Debug, Args)]
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
    /// Lift every limit (trusted plugins only: time and memory become unbounded).
    #[arg(long, conflicts_with_all = ["instructions", "call_depth", "registers", "array_len", "string_bytes"])]
    pub unbounded: bool,
}

impl LimitArgs {
    /// The limits these flags select.
    pub fn limits(&self) -> Limits {
        if self.unbounded {
            return Limits::UNBOUNDED;
        }
        Limits {
            instructions: self.instructions,
            call_depth: self.call_depth,
            registers: self.registers,
            array_len: self.array_len,
            string_bytes: self.string_bytes,
        }
    }
}
