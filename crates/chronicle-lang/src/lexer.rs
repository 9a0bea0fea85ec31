//! Source text to tokens.
//!
//! [`lex`] never fails: it returns every token it could form (always ending in
//! [`TokenKind::Eof`]) together with the problems it met, so the parser can
//! still run and report more. Runs of unexpected characters are reported once.
//!
//! **Architecture invariant:** the lexer knows nothing about the grammar; the
//! only context it keeps is "inside a string literal".

use std::fmt;

use crate::diagnostics::{Diagnostic, Stage, MAX_DIAGNOSTICS};
use crate::span::Span;

/// What a token is. Identifier text is recovered from the source by span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A name: `[A-Za-z_][A-Za-z0-9_]*` that is not a keyword.
    Ident,
    /// An unsigned integer literal. Values above `2^63` are reported by the
    /// lexer and replaced by `0`; exactly `2^63` is only valid after a `-`.
    Int(u64),
    /// A string literal, escapes already decoded.
    Str(String),
    /// `fn`
    Fn,
    /// `let`
    Let,
    /// `if`
    If,
    /// `else`
    Else,
    /// `while`
    While,
    /// `for`
    For,
    /// `in`
    In,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `return`
    Return,
    /// `use`
    Use,
    /// `true`
    True,
    /// `false`
    False,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `:`
    Colon,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// `->`
    Arrow,
    /// `@`
    At,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `!`
    Bang,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    BangEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// End of input (an empty span at the end of the source).
    Eof,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TokenKind::Ident => "identifier",
            TokenKind::Int(_) => "integer literal",
            TokenKind::Str(_) => "string literal",
            TokenKind::Fn => "`fn`",
            TokenKind::Let => "`let`",
            TokenKind::If => "`if`",
            TokenKind::Else => "`else`",
            TokenKind::While => "`while`",
            TokenKind::For => "`for`",
            TokenKind::In => "`in`",
            TokenKind::Break => "`break`",
            TokenKind::Continue => "`continue`",
            TokenKind::Return => "`return`",
            TokenKind::Use => "`use`",
            TokenKind::True => "`true`",
            TokenKind::False => "`false`",
            TokenKind::LParen => "`(`",
            TokenKind::RParen => "`)`",
            TokenKind::LBrace => "`{`",
            TokenKind::RBrace => "`}`",
            TokenKind::LBracket => "`[`",
            TokenKind::RBracket => "`]`",
            TokenKind::Comma => "`,`",
            TokenKind::Semi => "`;`",
            TokenKind::Colon => "`:`",
            TokenKind::Dot => "`.`",
            TokenKind::DotDot => "`..`",
            TokenKind::Arrow => "`->`",
            TokenKind::At => "`@`",
            TokenKind::Plus => "`+`",
            TokenKind::Minus => "`-`",
            TokenKind::Star => "`*`",
            TokenKind::Slash => "`/`",
            TokenKind::Percent => "`%`",
            TokenKind::Bang => "`!`",
            TokenKind::Eq => "`=`",
            TokenKind::EqEq => "`==`",
            TokenKind::BangEq => "`!=`",
            TokenKind::Lt => "`<`",
            TokenKind::Le => "`<=`",
            TokenKind::Gt => "`>`",
            TokenKind::Ge => "`>=`",
            TokenKind::AndAnd => "`&&`",
            TokenKind::OrOr => "`||`",
            TokenKind::Eof => "end of file",
        };
        f.write_str(text)
    }
}

/// A token and the bytes it was formed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Where it is in the source.
    pub span: Span,
}

/// Splits `src` into tokens, ending with [`TokenKind::Eof`], plus the lexical
/// errors found on the way (at most [`MAX_DIAGNOSTICS`]).
pub fn lex(src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer {
        src,
        pos: 0,
        tokens: Vec::new(),
        errors: Vec::new(),
    };
    lexer.run();
    (lexer.tokens, lexer.errors)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    errors: Vec<Diagnostic>,
}

/// `2^63`, the magnitude of `i64::MIN`: the largest literal the lexer accepts.
const MAX_LITERAL: u64 = 1 << 63;

impl Lexer<'_> {
    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c.is_ascii_whitespace() {
                self.pos += 1;
            } else if self.src[start..].starts_with("//") {
                self.pos = self.src[start..]
                    .find('\n')
                    .map_or(self.src.len(), |i| start + i);
            } else if c.is_ascii_digit() {
                self.number(start);
            } else if c.is_ascii_alphabetic() || c == '_' {
                self.word(start);
            } else if c == '"' {
                self.string(start);
            } else if let Some((kind, len)) = self.punct() {
                self.pos += len;
                self.push(kind, start);
            } else {
                self.unexpected(start);
            }
        }
        let end = self.src.len();
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: Span::new(end, end),
        });
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
        });
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        if self.errors.len() < MAX_DIAGNOSTICS {
            self.errors.push(diagnostic);
        }
    }

    fn number(&mut self, start: usize) {
        let digits = self.src[start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        self.pos = start + digits;
        let text = &self.src[start..self.pos];
        let span = Span::new(start, self.pos);
        let value = if !text.bytes().all(|b| b.is_ascii_digit()) {
            self.error(
                Diagnostic::new(
                    Stage::Lex,
                    span,
                    format!("invalid integer literal `{text}`"),
                    "integer literals are decimal digits only, like `123`",
                )
                .with_label("not a number"),
            );
            0
        } else {
            match text.parse::<u64>() {
                Ok(v) if v <= MAX_LITERAL => v,
                _ => {
                    self.error(
                        Diagnostic::new(
                            Stage::Lex,
                            span,
                            "integer literal is too large for `int`",
                            "an `int` is 64-bit signed: at most 9223372036854775807",
                        )
                        .with_label("does not fit in 64 bits"),
                    );
                    0
                }
            }
        };
        self.push(TokenKind::Int(value), start);
    }

    fn word(&mut self, start: usize) {
        let len = self.src[start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        self.pos = start + len;
        let kind = match &self.src[start..self.pos] {
            "fn" => TokenKind::Fn,
            "let" => TokenKind::Let,
            "if" => TokenKind::If,
            "else" => TokenKind::Else,
            "while" => TokenKind::While,
            "for" => TokenKind::For,
            "in" => TokenKind::In,
            "break" => TokenKind::Break,
            "continue" => TokenKind::Continue,
            "return" => TokenKind::Return,
            "use" => TokenKind::Use,
            "true" => TokenKind::True,
            "false" => TokenKind::False,
            _ => TokenKind::Ident,
        };
        self.push(kind, start);
    }

    fn string(&mut self, start: usize) {
        self.pos += 1; // opening quote
        let mut value = String::new();
        loop {
            let Some(c) = self.peek() else {
                return self.unterminated(start, value);
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return self.push(TokenKind::Str(value), start);
                }
                '\n' => return self.unterminated(start, value),
                '\\' => {
                    let escape_start = self.pos;
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return self.unterminated(start, value);
                    };
                    self.pos += e.len_utf8();
                    match e {
                        'n' => value.push('\n'),
                        't' => value.push('\t'),
                        '"' => value.push('"'),
                        '\\' => value.push('\\'),
                        '\n' => return self.unterminated(start, value),
                        other => self.error(
                            Diagnostic::new(
                                Stage::Lex,
                                Span::new(escape_start, self.pos),
                                format!("unknown escape `\\{}`", other.escape_debug()),
                                r#"the escapes are `\n`, `\t`, `\"` and `\\`"#,
                            )
                            .with_label("unknown escape"),
                        ),
                    }
                }
                c => {
                    self.pos += c.len_utf8();
                    value.push(c);
                }
            }
        }
    }

    fn unterminated(&mut self, start: usize, value: String) {
        self.error(
            Diagnostic::new(
                Stage::Lex,
                Span::new(start, start + 1),
                "unterminated string literal",
                "close the string with `\"` on the same line",
            )
            .with_label("this string is never closed"),
        );
        self.push(TokenKind::Str(value), start);
    }

    fn punct(&self) -> Option<(TokenKind, usize)> {
        let rest = &self.src.as_bytes()[self.pos..];
        let two = match rest {
            [b'.', b'.', ..] => Some(TokenKind::DotDot),
            [b'-', b'>', ..] => Some(TokenKind::Arrow),
            [b'=', b'=', ..] => Some(TokenKind::EqEq),
            [b'!', b'=', ..] => Some(TokenKind::BangEq),
            [b'<', b'=', ..] => Some(TokenKind::Le),
            [b'>', b'=', ..] => Some(TokenKind::Ge),
            [b'&', b'&', ..] => Some(TokenKind::AndAnd),
            [b'|', b'|', ..] => Some(TokenKind::OrOr),
            _ => None,
        };
        if let Some(kind) = two {
            return Some((kind, 2));
        }
        let one = match rest.first()? {
            b'(' => TokenKind::LParen,
            b')' => TokenKind::RParen,
            b'{' => TokenKind::LBrace,
            b'}' => TokenKind::RBrace,
            b'[' => TokenKind::LBracket,
            b']' => TokenKind::RBracket,
            b',' => TokenKind::Comma,
            b';' => TokenKind::Semi,
            b':' => TokenKind::Colon,
            b'.' => TokenKind::Dot,
            b'@' => TokenKind::At,
            b'+' => TokenKind::Plus,
            b'-' => TokenKind::Minus,
            b'*' => TokenKind::Star,
            b'/' => TokenKind::Slash,
            b'%' => TokenKind::Percent,
            b'!' => TokenKind::Bang,
            b'=' => TokenKind::Eq,
            b'<' => TokenKind::Lt,
            b'>' => TokenKind::Gt,
            _ => return None,
        };
        Some((one, 1))
    }

    /// Reports a run of characters that start no token, as one diagnostic.
    fn unexpected(&mut self, start: usize) {
        while let Some(c) = self.peek() {
            let starts_token = c.is_ascii_alphanumeric()
                || c.is_ascii_whitespace()
                || c == '_'
                || c == '"'
                || self.punct().is_some();
            if starts_token && self.pos > start {
                break;
            }
            self.pos += c.len_utf8();
        }
        let text = &self.src[start..self.pos];
        let shown: String = text.chars().take(8).flat_map(char::escape_debug).collect();
        let hint = match text {
            "&" => "logical and is written `&&`",
            "|" => "logical or is written `||`",
            "'" => "strings are written with double quotes: \"text\"",
            _ => "remove it, or put it inside a string literal",
        };
        let message = if text.chars().count() > 8 {
            format!("unexpected characters `{shown}...`")
        } else if text.chars().count() > 1 {
            format!("unexpected characters `{shown}`")
        } else {
            format!("unexpected character `{shown}`")
        };
        self.error(
            Diagnostic::new(Stage::Lex, Span::new(start, self.pos), message, hint)
                .with_label("not part of the language"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let (tokens, errors) = lex(src);
        assert!(errors.is_empty(), "{errors:?}");
        tokens.into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn operators_take_the_longest_match() {
        use TokenKind::*;
        assert_eq!(
            kinds("a..b->c<=d==e&&f||!g"),
            [
                Ident, DotDot, Ident, Arrow, Ident, Le, Ident, EqEq, Ident, AndAnd, Ident, OrOr,
                Bang, Ident, Eof
            ]
        );
    }

    #[test]
    fn string_escapes_are_decoded() {
        assert_eq!(
            kinds(r#""a\n\t\"\\b""#),
            [TokenKind::Str("a\n\t\"\\b".into()), TokenKind::Eof]
        );
    }

    #[test]
    fn garbage_is_one_error_not_one_per_byte() {
        let (tokens, errors) = lex("x ¤¤¤¤ y");
        assert_eq!(errors.len(), 1);
        assert_eq!(tokens.len(), 3);
    }

    #[test]
    fn largest_literal_is_two_to_the_63() {
        assert_eq!(kinds("9223372036854775808")[0], TokenKind::Int(1 << 63));
        let (_, errors) = lex("9223372036854775809");
        assert_eq!(errors.len(), 1);
    }
}
