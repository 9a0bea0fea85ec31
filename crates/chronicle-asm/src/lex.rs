//! Splits one line of assembly into tokens.
//!
//! Every statement fits on one line, so the lexer works line by line and the
//! parser can resume at the next line after an error. Columns count Unicode
//! characters from 1.

use crate::syntax::{is_name_char, is_name_start};
use crate::AsmError;

/// One token and the column of its first character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub col: u32,
}

/// The kinds of token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// A name: segments `[A-Za-z_][A-Za-z0-9_]*` joined by single dots.
    Word(&'a str),
    /// `.name`: a directive inside a function body (the name without the dot).
    Directive(&'a str),
    /// `-?[0-9]+`, as written; the parser checks its range in context.
    Int(&'a str),
    /// A string literal, escapes decoded.
    Str(String),
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `@`
    At,
    /// `=`
    Eq,
    /// `->`
    Arrow,
    /// `.` (in versions such as `1.0`)
    Dot,
}

impl Tok<'_> {
    /// How the token reads in an error message (long tokens are shortened).
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{}`", shorten(w)),
            Tok::Directive(d) => format!("`.{}`", shorten(d)),
            Tok::Int(n) => format!("`{}`", shorten(n)),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Comma => "`,`".to_owned(),
            Tok::Colon => "`:`".to_owned(),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::LBracket => "`[`".to_owned(),
            Tok::RBracket => "`]`".to_owned(),
            Tok::At => "`@`".to_owned(),
            Tok::Eq => "`=`".to_owned(),
            Tok::Arrow => "`->`".to_owned(),
            Tok::Dot => "`.`".to_owned(),
        }
    }
}

/// `s`, cut to a length fit for an error message.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    let mut chars = s.chars();
    let mut out: String = chars.by_ref().take(MAX).collect();
    if chars.next().is_some() {
        out.push_str("...");
    }
    out
}

/// A character cursor over one line that tracks the column.
struct Cursor<'a> {
    line: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    /// Column of the next character (1-based, in characters).
    col: u32,
    lineno: u32,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.line[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.line[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        self.col = self.col.saturating_add(1);
        Some(c)
    }

    /// Consumes characters while `f` holds and returns them.
    fn eat_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        &self.line[start..self.pos]
    }

    fn error(&self, col: u32, message: impl Into<String>) -> AsmError {
        AsmError {
            line: self.lineno,
            col,
            message: message.into(),
        }
    }
}

/// Tokenizes `line` (without its newline), stopping at a `;` or `#` comment.
/// Also returns the column just past the last character read, where the
/// parser reports what is missing at the end of the line.
pub(crate) fn lex_line(line: &str, lineno: u32) -> Result<(Vec<Token<'_>>, u32), AsmError> {
    let mut cur = Cursor {
        line,
        pos: 0,
        col: 1,
        lineno,
    };
    let mut out = Vec::new();
    let mut end = 1;
    while let Some(c) = cur.peek() {
        let col = cur.col;
        let tok = match c {
            ';' | '#' => break,
            c if c.is_whitespace() => {
                cur.bump();
                continue;
            }
            c if is_name_start(c) => Tok::Word(word(&mut cur)),
            '0'..='9' => number(&mut cur, col)?,
            '-' => match cur.peek2() {
                Some('>') => {
                    cur.bump();
                    cur.bump();
                    Tok::Arrow
                }
                Some('0'..='9') => number(&mut cur, col)?,
                _ => return Err(cur.error(col, "expected `->` or a negative number after `-`")),
            },
            '.' => {
                cur.bump();
                if cur.peek().is_some_and(is_name_start) {
                    Tok::Directive(cur.eat_while(is_name_char))
                } else {
                    Tok::Dot
                }
            }
            '"' => Tok::Str(string(&mut cur, col)?),
            _ => {
                cur.bump();
                match c {
                    ',' => Tok::Comma,
                    ':' => Tok::Colon,
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    '@' => Tok::At,
                    '=' => Tok::Eq,
                    _ => return Err(cur.error(col, format!("unexpected character {c:?}"))),
                }
            }
        };
        out.push(Token { tok, col });
        end = cur.col;
    }
    Ok((out, end))
}

/// A name; a dot continues it only when a name segment follows (`fs.read`,
/// but `r1..` and `a.1` stop before the dot).
fn word<'a>(cur: &mut Cursor<'a>) -> &'a str {
    let start = cur.pos;
    loop {
        cur.eat_while(is_name_char);
        if cur.peek() == Some('.') && cur.peek2().is_some_and(is_name_start) {
            cur.bump();
        } else {
            break;
        }
    }
    &cur.line[start..cur.pos]
}

fn number<'a>(cur: &mut Cursor<'a>, col: u32) -> Result<Tok<'a>, AsmError> {
    let start = cur.pos;
    if cur.peek() == Some('-') {
        cur.bump();
    }
    cur.eat_while(|c| c.is_ascii_digit());
    if cur.peek().is_some_and(is_name_char) {
        cur.eat_while(is_name_char);
        let text = &cur.line[start..cur.pos];
        return Err(cur.error(
            col,
            format!(
                "malformed number `{}` (numbers are decimal digits)",
                shorten(text)
            ),
        ));
    }
    Ok(Tok::Int(&cur.line[start..cur.pos]))
}

/// A string literal starting at the opening quote.
fn string(cur: &mut Cursor<'_>, col: u32) -> Result<String, AsmError> {
    cur.bump();
    let mut out = String::new();
    loop {
        let at = cur.col;
        match cur.bump() {
            None => return Err(cur.error(col, "unterminated string (missing closing `\"`)")),
            Some('"') => return Ok(out),
            Some('\\') => out.push(escape(cur, at)?),
            Some(c) => out.push(c),
        }
    }
}

/// The character an escape stands for; `at` is the backslash's column.
fn escape(cur: &mut Cursor<'_>, at: u32) -> Result<char, AsmError> {
    let bad = |cur: &Cursor<'_>| {
        cur.error(
            at,
            "unknown escape (use \\n \\t \\r \\0 \\\\ \\\" or \\u{hex})",
        )
    };
    match cur.bump() {
        Some('n') => Ok('\n'),
        Some('t') => Ok('\t'),
        Some('r') => Ok('\r'),
        Some('0') => Ok('\0'),
        Some('\\') => Ok('\\'),
        Some('"') => Ok('"'),
        Some('u') => {
            if cur.bump() != Some('{') {
                return Err(cur.error(at, "expected `{` after `\\u`"));
            }
            let hex = cur.eat_while(|c| c.is_ascii_hexdigit());
            if cur.bump() != Some('}') || hex.is_empty() || hex.len() > 6 {
                return Err(cur.error(
                    at,
                    "malformed unicode escape (expected \\u{1-6 hex digits})",
                ));
            }
            u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| cur.error(at, format!("\\u{{{hex}}} is not a Unicode scalar value")))
        }
        _ => Err(bad(cur)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        lex_line(s, 1)
            .unwrap()
            .0
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn versions_and_dotted_names() {
        assert_eq!(
            toks("import c0 fs.read@1.0(str) -> str ; comment"),
            vec![
                Tok::Word("import"),
                Tok::Word("c0"),
                Tok::Word("fs.read"),
                Tok::At,
                Tok::Int("1"),
                Tok::Dot,
                Tok::Int("0"),
                Tok::LParen,
                Tok::Word("str"),
                Tok::RParen,
                Tok::Arrow,
                Tok::Word("str"),
            ]
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(r#""a\n\"\u{1F600};" # x"#),
            vec![Tok::Str("a\n\"😀;".into())]
        );
        assert_eq!(
            lex_line(r#"  "abc"#, 3).unwrap_err().to_string(),
            "3:3: unterminated string (missing closing `\"`)"
        );
        assert_eq!(lex_line(r#""\q""#, 1).unwrap_err().col, 2);
        assert!(lex_line(r#""\u{d800}""#, 1).is_err());
    }
}
