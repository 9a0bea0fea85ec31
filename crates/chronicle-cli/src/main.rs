//! `chronicle`: the command-line front end of ChronicleVM.
//!
//! A thin binary over the library crates: parse arguments, dispatch to a
//! command, and map failures to exit codes in one place (see [`failure`]).
#![forbid(unsafe_code)]

mod args;
mod commands;
mod failure;
mod load;

use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Run(a) => commands::run(a),
        Command::Build(a) => commands::build(a),
        Command::Disasm(a) => commands::disasm(a),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            failure.exit_code()
        }
    }
}
