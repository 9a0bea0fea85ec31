//! How the CLI fails: one line, a hint, and an exit code.
//!
//! Exit codes (SPEC §8): 0 ok, 1 the plugin failed at run time, 2 usage or
//! input error, 3 audit or replay mismatch.

use std::fmt;
use std::process::ExitCode;

/// Why a command failed.
#[derive(Debug)]
pub struct Failure {
    /// Which class of failure, hence the exit code.
    pub class: Class,
    /// One line saying what went wrong and where.
    pub message: String,
    /// One line saying what to do about it.
    pub hint: Option<String>,
    /// Rendered compiler diagnostics, printed before the error line.
    pub detail: Option<String>,
}

/// The classes of failure, each with its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The plugin failed at run time (exit 1).
    Runtime,
    /// Bad usage or bad input: a file, a module, a verification or negotiation failure (exit 2).
    Input,
    /// An audit or replay found a mismatch: an altered, truncated or
    /// diverging trace, or a policy violation (exit 3).
    Audit,
}

impl Failure {
    /// An input failure (exit 2).
    pub fn input(message: impl fmt::Display) -> Self {
        Failure {
            class: Class::Input,
            message: message.to_string(),
            hint: None,
            detail: None,
        }
    }

    /// A runtime failure (exit 1).
    pub fn runtime(message: impl fmt::Display) -> Self {
        Failure {
            class: Class::Runtime,
            message: message.to_string(),
            hint: None,
            detail: None,
        }
    }

    /// An audit or replay mismatch (exit 3).
    pub fn audit(message: impl fmt::Display) -> Self {
        Failure {
            class: Class::Audit,
            message: message.to_string(),
            hint: None,
            detail: None,
        }
    }

    /// Adds rendered diagnostics to print above the error line.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl fmt::Display) -> Self {
        self.hint = Some(hint.to_string());
        self
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self.class {
            Class::Runtime => 1,
            Class::Input => 2,
            Class::Audit => 3,
        })
    }

    /// Prints the failure to stderr.
    pub fn report(&self) {
        if let Some(detail) = &self.detail {
            eprint!("{detail}");
            if !detail.ends_with('\n') {
                eprintln!();
            }
        }
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("  hint: {hint}");
        }
    }
}
