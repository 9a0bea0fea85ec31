//! `log.write@1(level: str, msg: str)`: prints `[level] msg` on stderr.
//!
//! Control characters in either argument (newlines included) are printed as
//! escapes (`\n`, `\u{1b}`), so a plugin's log line is always exactly one
//! line and cannot forge the tool's own output or drive the terminal.
//! Tabs are kept.

use chronicle_core::caps::Registry;
use chronicle_core::types::{Type, Version};
use chronicle_core::Value;
use std::io::Write;

/// Offers `log.write@1.0`.
pub fn register(registry: &mut Registry<'static>) {
    registry.register(
        "log.write",
        Version::new(1, 0),
        super::sig(&[Type::Str, Type::Str], None),
        |args| {
            let line = format_line(super::str_arg(args, 0), super::str_arg(args, 1));
            // A closed stderr is not the plugin's failure.
            let _ = writeln!(std::io::stderr().lock(), "{line}");
            Ok(Value::Unit)
        },
    );
}

fn format_line(level: &str, msg: &str) -> String {
    format!("[{}] {}", escape(level), escape(msg))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_per_call() {
        assert_eq!(super::format_line("info", "errors: 3"), "[info] errors: 3");
        assert_eq!(
            super::format_line("warn", "a\nerror: forged\x1b[2J"),
            "[warn] a\\nerror: forged\\u{1b}[2J"
        );
    }
}
