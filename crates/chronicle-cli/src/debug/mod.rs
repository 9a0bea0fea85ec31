//! The trace debugger: `chronicle debug T` (SPEC §9).
//!
//! It works on a recording only (no live host), so moving backward costs
//! what moving forward does. The pieces, one concept each:
//!
//! - [`timeline`]: one forward pass indexes the trace (checkpoints every
//!   few thousand events plus per-window summaries); any event's state is
//!   then one checkpoint restore and at most one interval of decoding away;
//! - [`commands`]: the command language, parsed into [`commands::Command`];
//! - [`session`]: the state machine running commands against the timeline
//!   and the breakpoints, writing each command's output to a string, so the
//!   interactive and the scripted (`--commands "a;b;c"`) modes print the same;
//! - [`why`]: data flow backward from a value, as a tree;
//! - [`names`]: variable names from the embedded source, trusted only if it
//!   recompiles to the very module that ran;
//! - [`render`]: values, events and source lines as text.
//!
//! **Invariant:** a bad command never ends the session: it prints a one-line
//! hint and the next command runs. Only a damaged trace (a failed hash-chain
//! check while seeking), the reader's caps or `quit` end it.
//!
//! The trace is read under the reader's caps (`--max-*`, `--unbounded`): a
//! header recording a limit above a cap is refused, and the reader charges
//! every copy it makes to `--max-alloc-bytes`, copies of what the
//! checkpoints share included (within twice the cap); the debugger holds no
//! event while it reads the next one, and `why` keeps only light events (no
//! strings or arrays). So a hostile trace stops with an error, in bounded
//! memory. Both exit 2, as any trace the debugger cannot read does.

mod commands;
mod names;
mod render;
mod session;
mod timeline;
mod why;

use crate::args::ReaderCapArgs;
use crate::failure::{Class, Failure};
use crate::trace_cmd::reader_cap_failure;
use chronicle_core::trace::{Reader, TraceError};
use chronicle_core::Limits;
use clap::Args;
use session::{Flow, Session};
use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// `chronicle debug`.
#[derive(Debug, Args)]
pub struct DebugArgs {
    /// The trace.
    pub trace: PathBuf,
    /// Run these `;`-separated commands instead of reading them interactively,
    /// e.g. `--commands "source;next;regs;caps;jump 20;why;quit"`.
    #[arg(long, value_name = "CMDS")]
    pub commands: Option<String>,
    /// What reading the trace may cost.
    #[command(flatten)]
    pub caps: ReaderCapArgs,
}

/// `chronicle debug`.
pub fn debug(args: &DebugArgs) -> Result<(), Failure> {
    let mut session = open(&args.trace, timeline::DEFAULT_INTERVAL, args.caps.caps())?;
    let mut out = String::new();
    session.banner(&mut out);
    emit(&out)?;
    match &args.commands {
        Some(script) => scripted(&mut session, script, &args.trace),
        None => interactive(&mut session, &args.trace),
    }
}

/// Opens and indexes a trace file under the reader's `caps`.
fn open(path: &Path, interval: u64, caps: Limits) -> Result<Session<BufReader<File>>, Failure> {
    let file = File::open(path).map_err(|e| {
        Failure::input(format!("{}: {e}", path.display())).hint("give the path of a .ctrace file")
    })?;
    let damaged = |e: TraceError| {
        unreadable(
            path,
            &e,
            "the trace is damaged or not a trace; `chronicle audit` says more",
        )
    };
    let reader =
        Reader::open_capped(BufReader::with_capacity(1 << 16, file), caps).map_err(damaged)?;
    let names = names::Names::from_header(reader.header());
    let timeline = timeline::Timeline::open(reader, interval).map_err(damaged)?;
    if timeline.len() == 0 {
        return Err(Failure::input(format!(
            "{}: the trace has no events",
            path.display()
        )));
    }
    Ok(Session::new(timeline, names))
}

/// A trace the debugger cannot read on: over the reader's caps (the flag
/// to raise is in the hint), else damaged (`hint`). Exit 2 either way.
fn unreadable(path: &Path, e: &TraceError, hint: &str) -> Failure {
    match reader_cap_failure(path, e) {
        Some(f) => Failure {
            class: Class::Input,
            ..f
        },
        None => Failure::input(format!("{}: {e}", path.display())).hint(hint),
    }
}

fn emit(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::input(format!("cannot write the output: {e}"))),
    }
}

/// Runs one command line; `Ok(false)` after `quit`.
fn one<R: std::io::Read + std::io::Seek>(
    session: &mut Session<R>,
    line: &str,
    trace: &Path,
    out: &mut String,
) -> Result<bool, Failure> {
    match commands::parse(line) {
        Ok(None) => Ok(true),
        Ok(Some(cmd)) => match session.run(&cmd, out) {
            Ok(Flow::Go) => Ok(true),
            Ok(Flow::Quit) => Ok(false),
            Err(e) => Err(unreadable(
                trace,
                &e,
                "the trace changed or is damaged; `chronicle audit` says more",
            )),
        },
        Err(msg) => {
            out.push_str(&msg);
            out.push('\n');
            Ok(true)
        }
    }
}

fn scripted<R: std::io::Read + std::io::Seek>(
    session: &mut Session<R>,
    script: &str,
    trace: &Path,
) -> Result<(), Failure> {
    for line in script.split(';') {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut out = format!("(chronicle) {line}\n");
        let go = one(session, line, trace, &mut out)?;
        emit(&out)?;
        if !go {
            break;
        }
    }
    Ok(())
}

fn interactive<R: std::io::Read + std::io::Seek>(
    session: &mut Session<R>,
    trace: &Path,
) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        // Commands from a pipe: one per line, as with `--commands`.
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Failure::input(format!("cannot read the commands: {e}")))?;
        return scripted(session, &text.replace('\n', ";"), trace);
    }
    let mut editor =
        rustyline::Editor::<complete::Words, rustyline::history::DefaultHistory>::new()
            .map_err(|e| Failure::input(format!("cannot start the line editor: {e}")))?;
    editor.set_helper(Some(complete::Words));
    let mut last = String::new();
    loop {
        match editor.readline("(chronicle) ") {
            Ok(line) => {
                // An empty line repeats the last command, as in gdb.
                let line = if line.trim().is_empty() {
                    last.clone()
                } else {
                    line
                };
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let mut out = String::new();
                let go = one(session, &line, trace, &mut out)?;
                emit(&out)?;
                if !go {
                    return Ok(());
                }
                last = line;
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(Failure::input(format!("cannot read a command: {e}"))),
        }
    }
}

/// Command-word completion for the interactive editor.
mod complete {
    use rustyline::completion::{Completer, Pair};
    use rustyline::Context;

    /// Completes the first word of a line from [`super::commands::WORDS`].
    pub struct Words;

    impl Completer for Words {
        type Candidate = Pair;

        fn complete(
            &self,
            line: &str,
            pos: usize,
            _ctx: &Context<'_>,
        ) -> rustyline::Result<(usize, Vec<Pair>)> {
            let head = &line[..pos];
            if head.contains(char::is_whitespace) {
                return Ok((pos, Vec::new()));
            }
            let found = super::commands::WORDS
                .iter()
                .filter(|w| w.starts_with(head))
                .map(|w| Pair {
                    display: (*w).to_owned(),
                    replacement: format!("{w} "),
                })
                .collect();
            Ok((0, found))
        }
    }

    impl rustyline::hint::Hinter for Words {
        type Hint = String;
    }
    impl rustyline::highlight::Highlighter for Words {}
    impl rustyline::validate::Validator for Words {}
    impl rustyline::Helper for Words {}
}
