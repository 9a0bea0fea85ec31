//! The debugger's command language: one command per line (or per `;`-separated
//! item of `--commands`), parsed into [`Command`]. Parsing never fails hard:
//! a bad line becomes a one-line hint and the session goes on.

/// One debugger command (SPEC §9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `source` / `list`: the code around the current line.
    Source,
    /// `next`: to the next source line (stepping over calls).
    Next,
    /// `step`: to the next event.
    Step,
    /// `back`: to the previous source line (stepping over calls).
    Back,
    /// `prev`: to the previous event.
    Prev,
    /// `continue`: to the next breakpoint, or the end.
    Continue,
    /// `rcontinue`: to the previous breakpoint, or the start.
    Rcontinue,
    /// `break LINE`.
    Break(u32),
    /// `delete LINE`.
    Delete(u32),
    /// `jump N`: to event N.
    Jump(u64),
    /// `regs`: the registers of the current frame.
    Regs,
    /// `caps`: the capability calls so far.
    Caps,
    /// `where`: the call stack.
    Where,
    /// `event`: the raw current event.
    Event,
    /// `why [REG]`: where a value came from.
    Why(Option<String>),
    /// `help`.
    Help,
    /// `quit`.
    Quit,
}

/// Every command word, for completion and the unknown-command hint.
pub const WORDS: &[&str] = &[
    "source",
    "list",
    "next",
    "step",
    "back",
    "prev",
    "continue",
    "rcontinue",
    "break",
    "delete",
    "jump",
    "regs",
    "caps",
    "where",
    "event",
    "why",
    "help",
    "quit",
];

/// The `help` text: one line per command.
pub const HELP: &str = "\
commands:
  source, list     the code around the current line (=> marks it, * a breakpoint)
  next             to the next source line, stepping over calls
  step             to the next event
  back             to the previous source line, stepping over calls
  prev             to the previous event
  continue         to the next breakpoint, or the end
  rcontinue        to the previous breakpoint, or the start
  break LINE       set a breakpoint on a source line
  delete LINE      remove the breakpoint on a line
  jump N           to event N
  regs             registers of the current frame (* marks the ones this event changed)
  caps             capability calls so far, with arguments and results
  where            the call stack, innermost frame first
  event            the raw current event
  why [REG]        where the value in REG (or the value last written) came from
  help             this text
  quit             leave the debugger";

/// Parses one command line; `Ok(None)` for a blank one, `Err` with a
/// one-line message for a bad one.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let mut words = line.split_whitespace();
    let Some(word) = words.next() else {
        return Ok(None);
    };
    let arg = words.next();
    if let Some(extra) = words.next() {
        return Err(format!(
            "`{word}`: unexpected `{extra}`; type `help` for the commands"
        ));
    }
    let no_arg = |c: Command| match arg {
        None => Ok(Some(c)),
        Some(a) => Err(format!("`{word}` takes no argument (got `{a}`)")),
    };
    let line_arg = |what: &str| -> Result<u32, String> {
        let a = arg.ok_or_else(|| format!("`{word}` needs a {what}, e.g. `{word} 12`"))?;
        a.parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("`{word}`: `{a}` is not a {what}, e.g. `{word} 12`"))
    };
    match word {
        "source" | "list" => no_arg(Command::Source),
        "next" | "n" => no_arg(Command::Next),
        "step" | "s" => no_arg(Command::Step),
        "back" | "b" => no_arg(Command::Back),
        "prev" | "p" => no_arg(Command::Prev),
        "continue" | "c" => no_arg(Command::Continue),
        "rcontinue" | "rc" => no_arg(Command::Rcontinue),
        "break" => line_arg("line number").map(|l| Some(Command::Break(l))),
        "delete" => line_arg("line number").map(|l| Some(Command::Delete(l))),
        "jump" => {
            let a = arg.ok_or("`jump` needs an event number, e.g. `jump 20`")?;
            a.parse::<u64>()
                .map(|n| Some(Command::Jump(n)))
                .map_err(|_| format!("`jump`: `{a}` is not an event number, e.g. `jump 20`"))
        }
        "regs" => no_arg(Command::Regs),
        "caps" => no_arg(Command::Caps),
        "where" | "bt" => no_arg(Command::Where),
        "event" => no_arg(Command::Event),
        "why" => Ok(Some(Command::Why(arg.map(str::to_owned)))),
        "help" | "h" | "?" => no_arg(Command::Help),
        "quit" | "q" | "exit" => no_arg(Command::Quit),
        _ => {
            let close = WORDS
                .iter()
                .find(|w| w.starts_with(word) || word.starts_with(*w));
            Err(match close {
                Some(w) => format!(
                    "unknown command `{word}` (did you mean `{w}`?); type `help` for the commands"
                ),
                None => format!("unknown command `{word}`; type `help` for the commands"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments_and_bad_ones_say_why() {
        assert_eq!(parse("  jump 20 "), Ok(Some(Command::Jump(20))));
        assert_eq!(parse("list"), Ok(Some(Command::Source)));
        assert_eq!(parse("why r3"), Ok(Some(Command::Why(Some("r3".into())))));
        assert_eq!(parse(""), Ok(None));
        assert!(parse("break x").unwrap_err().contains("not a line number"));
        assert!(parse("jump").unwrap_err().contains("needs an event number"));
        assert!(parse("frobnicate")
            .unwrap_err()
            .starts_with("unknown command `frobnicate`"));
        assert!(parse("regs 3").unwrap_err().contains("takes no argument"));
    }
}
