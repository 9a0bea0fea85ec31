//! Lexical rules shared by the parser and the printer, so that what one
//! writes the other reads: plain names, quoting, index operands, keywords.

use std::fmt::Write as _;

/// Top-level keywords. No mnemonic may equal one of these (a test checks it).
pub(crate) const KEYWORDS: &[&str] = &["const", "import", "entry", "func", "end"];

/// Register declarations beyond the header's parameters.
pub(crate) const DIR_REGS: &str = "regs";
/// A parameter count larger than the frame (ill-formed modules only).
pub(crate) const DIR_PARAMS: &str = "params";
/// The source line of the instructions that follow.
pub(crate) const DIR_LINE: &str = "line";

/// The base type names.
pub(crate) const TYPE_INT: &str = "int";
pub(crate) const TYPE_BOOL: &str = "bool";
pub(crate) const TYPE_STR: &str = "str";

/// True for a character that may start a name segment.
pub(crate) fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// True for a character that may continue a name segment.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A plain name is one or more segments `[A-Za-z_][A-Za-z0-9_]*` joined by
/// single dots (`main`, `fs.read`). Anything else is written quoted.
pub(crate) fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            let mut chars = seg.chars();
            chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
        })
}

/// If `word` is `prefix` followed by decimal digits (`r12`, `k0`), the
/// digits; the caller converts them and reports overflow.
pub(crate) fn index_digits(word: &str, prefix: char) -> Option<&str> {
    let digits = word.strip_prefix(prefix)?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Characters that would hide or reorder text on screen: they are always
/// escaped when printed, so that what a reader sees is what is there.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

/// Appends `s` as a double-quoted string literal with escapes.
pub(crate) fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        write_escaped_char(out, c);
    }
    out.push('"');
}

/// Appends at most `max_chars` characters of `s`, quoted, with `...` when cut.
/// For informative comments only.
pub(crate) fn write_quoted_prefix(out: &mut String, s: &str, max_chars: usize) {
    out.push('"');
    let mut chars = s.chars();
    for c in chars.by_ref().take(max_chars) {
        write_escaped_char(out, c);
    }
    out.push('"');
    if chars.next().is_some() {
        out.push_str("...");
    }
}

fn write_escaped_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '"' => out.push_str("\\\""),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\0' => out.push_str("\\0"),
        c if c.is_control() || is_invisible(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Appends a name: bare if plain, quoted otherwise.
pub(crate) fn write_name(out: &mut String, s: &str) {
    if is_plain_name(s) {
        out.push_str(s);
    } else {
        write_quoted(out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        for ok in ["main", "fs.read", "_x1", "a.b.c", "f3", "int"] {
            assert!(is_plain_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a.", ".a", "a..b", "a-b", "a b", "é", "a.1"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn no_mnemonic_is_a_keyword() {
        for op in chronicle_core::isa::Opcode::ALL {
            assert!(!KEYWORDS.contains(&op.mnemonic()), "{}", op.mnemonic());
        }
    }
}
