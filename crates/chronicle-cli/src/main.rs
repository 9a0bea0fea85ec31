//! `chronicle`: the command-line front end of ChronicleVM.
//!
//! A thin binary over the library crates: parse arguments, dispatch to a
//! command, and map failures to exit codes in one place (see [`failure`]).
#![forbid(unsafe_code)]

mod args;
mod commands;
mod debug;
mod failure;
mod host;
mod keygen;
mod load;
mod trace_cmd;
mod view;

use args::Command;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::parse();
    let outcome = match &cli.command {
        Command::Run(a) => commands::run(a),
        Command::Caps(a) => commands::caps(a),
        Command::Build(a) => commands::build(a),
        Command::Disasm(a) => commands::disasm(a),
        Command::Check(a) => commands::check(a),
        Command::Trace(a) => trace_cmd::trace(a),
        Command::Replay(a) => trace_cmd::replay(a),
        Command::Audit(a) => trace_cmd::audit(a),
        Command::Inspect(a) => trace_cmd::inspect(a),
        // Exit codes as diff(1): 0 identical, 1 differ (2, 3 as the others).
        Command::Diff(a) => return trace_cmd::diff(a),
        Command::Export(a) => trace_cmd::export(a),
        Command::Debug(a) => debug::debug(a),
        Command::View(a) => view::view(a),
        Command::Keygen(a) => keygen::keygen(a),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            failure.exit_code()
        }
    }
}
