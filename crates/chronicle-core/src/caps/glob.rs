//! Path globs, the scope of a path capability: `examples/data/**`, `logs/*.log`.
//!
//! A glob is a `/`-separated sequence of segments, each matched against one
//! path component:
//!
//! | segment | matches |
//! | --- | --- |
//! | `**` (a whole segment) | zero or more components |
//! | `*` | any run of characters inside one component (dot files included) |
//! | `?` | one character |
//! | `[abc]`, `[a-z]`, `[!a-z]` | one character of (or, with `!` or `^`, not of) the class |
//! | `\c` | the character `c` itself |
//!
//! Empty segments and `.` segments are ignored; a leading `/` makes the glob
//! absolute (it then matches absolute paths only). `..` may appear only among
//! the leading literal segments (`../shared/**`), where it names a directory
//! rather than matching one. Brace alternatives (`{a,b}`) are not supported
//! and are refused rather than matched literally: list each pattern instead.
//!
//! Globs match path *strings*; they never touch the file system. Deciding
//! which path a request really names (canonicalisation, symlinks) is the job
//! of the host function that holds the scope.

use std::fmt;

/// A parsed path glob.
///
/// ```
/// use chronicle_core::caps::Glob;
///
/// let glob = Glob::new("examples/data/**/*.log").unwrap();
/// assert!(glob.matches("examples/data/app.log"));
/// assert!(glob.matches("examples/data/old/2023.log"));
/// assert!(!glob.matches("examples/data/app.toml"));
/// assert!(!glob.matches("examples/secret.log"));
/// assert!(Glob::new("data/[a-").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    text: String,
    absolute: bool,
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this component.
    Literal(String),
    /// Matches a component character by character.
    Pattern(Vec<Token>),
    /// `**`: zero or more components.
    AnyDepth,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    AnyChar,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Why a pattern is not a glob.
///
/// ```
/// use chronicle_core::caps::Glob;
///
/// let err = Glob::new("logs/{a,b}.log").unwrap_err();
/// assert_eq!(err.message, "`{...}` alternatives are not supported: list each pattern separately");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobError {
    /// What is wrong, in one line.
    pub message: String,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GlobError {}

fn error(message: impl Into<String>) -> GlobError {
    GlobError {
        message: message.into(),
    }
}

impl Glob {
    /// Parses `pattern`.
    ///
    /// ```
    /// use chronicle_core::caps::Glob;
    ///
    /// assert!(Glob::new("logs/*.log").is_ok());
    /// let err = Glob::new("logs/a**").unwrap_err();
    /// assert_eq!(err.to_string(), "`**` must be a whole path segment (write `a/**/b`, not `a**b`)");
    /// ```
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        if pattern.is_empty() {
            return Err(error("empty pattern"));
        }
        let absolute = pattern.starts_with('/');
        let mut segments = Vec::new();
        let mut wildcard_seen = false;
        for part in pattern.split('/') {
            if part.is_empty() || part == "." {
                continue;
            }
            let segment = parse_segment(part)?;
            match &segment {
                Segment::Literal(s) if s == ".." && wildcard_seen => {
                    return Err(error(
                        "`..` may appear only before the first wildcard segment",
                    ));
                }
                Segment::Literal(_) => {}
                Segment::Pattern(_) | Segment::AnyDepth => wildcard_seen = true,
            }
            segments.push(segment);
        }
        if segments.is_empty() && !absolute {
            return Err(error(
                "the pattern names no path (write `**` for everything)",
            ));
        }
        Ok(Glob {
            text: pattern.to_owned(),
            absolute,
            segments,
        })
    }

    /// The pattern as written.
    ///
    /// ```
    /// use chronicle_core::caps::Glob;
    /// assert_eq!(Glob::new("a/*.txt").unwrap().as_str(), "a/*.txt");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the glob starts with `/`.
    ///
    /// ```
    /// use chronicle_core::caps::Glob;
    /// assert!(Glob::new("/srv/**").unwrap().is_absolute());
    /// assert!(!Glob::new("srv/**").unwrap().is_absolute());
    /// ```
    pub fn is_absolute(&self) -> bool {
        self.absolute
    }

    /// Whether `path` matches. Components are separated by `/`; empty and
    /// `.` components are ignored; a relative glob never matches an absolute
    /// path and vice versa. `..` components are not resolved: pass a
    /// normalised path.
    ///
    /// ```
    /// use chronicle_core::caps::Glob;
    ///
    /// let glob = Glob::new("data/**").unwrap();
    /// assert!(glob.matches("data"));
    /// assert!(glob.matches("data/a/b.txt"));
    /// assert!(!glob.matches("/data/a"));
    /// assert!(!glob.matches("database"));
    /// ```
    pub fn matches(&self, path: &str) -> bool {
        if path.starts_with('/') != self.absolute {
            return false;
        }
        let components: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        match_segments(&self.segments, &components)
    }

    /// The leading segments that contain no wildcard, joined by `/` (with a
    /// leading `/` for an absolute glob): the directory the glob is rooted
    /// in. Empty for a relative glob that starts with a wildcard.
    ///
    /// ```
    /// use chronicle_core::caps::Glob;
    /// assert_eq!(Glob::new("examples/data/**").unwrap().literal_prefix(), "examples/data");
    /// assert_eq!(Glob::new("/srv/*.log").unwrap().literal_prefix(), "/srv");
    /// assert_eq!(Glob::new("*.log").unwrap().literal_prefix(), "");
    /// ```
    pub fn literal_prefix(&self) -> String {
        let literals: Vec<&str> = self
            .segments
            .iter()
            .map_while(|s| match s {
                Segment::Literal(l) => Some(l.as_str()),
                _ => None,
            })
            .collect();
        let joined = literals.join("/");
        if self.absolute {
            format!("/{joined}")
        } else {
            joined
        }
    }

    /// This glob with its [literal prefix](Glob::literal_prefix) replaced by
    /// the directory `base`, taken literally (its characters are never
    /// wildcards). A host uses it to root a policy's relative glob at a
    /// canonical directory.
    ///
    /// ```
    /// use chronicle_core::caps::Glob;
    ///
    /// let glob = Glob::new("examples/data/*.log").unwrap();
    /// let rooted = glob.rebase("/home/me/[project]/examples/data");
    /// assert!(rooted.matches("/home/me/[project]/examples/data/app.log"));
    /// assert!(!rooted.matches("/home/me/p/examples/data/app.log"));
    /// assert_eq!(rooted.as_str(), "/home/me/[project]/examples/data/*.log");
    /// ```
    pub fn rebase(&self, base: &str) -> Glob {
        let rest: Vec<Segment> = self
            .segments
            .iter()
            .skip_while(|s| matches!(s, Segment::Literal(_)))
            .cloned()
            .collect();
        let mut segments: Vec<Segment> = base
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(|c| Segment::Literal(c.to_owned()))
            .collect();
        // The source text of the rest: the pattern's segments after its prefix.
        let prefix_len = self.segments.len() - rest.len();
        let rest_text: Vec<&str> = self
            .text
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .skip(prefix_len)
            .collect();
        segments.extend(rest);
        let mut text = base.trim_end_matches('/').to_owned();
        for part in rest_text {
            text.push('/');
            text.push_str(part);
        }
        Glob {
            text,
            absolute: base.starts_with('/'),
            segments,
        }
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_segment(part: &str) -> Result<Segment, GlobError> {
    if part == "**" {
        return Ok(Segment::AnyDepth);
    }
    let mut tokens = Vec::new();
    let mut chars = part.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            '\\' => match chars.next() {
                Some(e) => Token::Char(e),
                None => return Err(error("a pattern cannot end with `\\`")),
            },
            '*' => {
                if chars.peek() == Some(&'*') {
                    return Err(error(
                        "`**` must be a whole path segment (write `a/**/b`, not `a**b`)",
                    ));
                }
                Token::Star
            }
            '?' => Token::AnyChar,
            '[' => parse_class(&mut chars)?,
            '{' | '}' => {
                return Err(error(
                    "`{...}` alternatives are not supported: list each pattern separately",
                ))
            }
            c => Token::Char(c),
        };
        tokens.push(token);
    }
    if tokens.iter().all(|t| matches!(t, Token::Char(_))) {
        let literal: String = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Char(c) => Some(*c),
                _ => None,
            })
            .collect();
        return Ok(Segment::Literal(literal));
    }
    Ok(Segment::Pattern(tokens))
}

fn parse_class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Token, GlobError> {
    let negated = matches!(chars.peek(), Some('!' | '^'));
    if negated {
        chars.next();
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = match chars.next() {
            None => return Err(error("unclosed `[` character class")),
            Some(']') if !first => break,
            Some('\\') => chars
                .next()
                .ok_or_else(|| error("unclosed `[` character class"))?,
            Some(c) => c,
        };
        first = false;
        let mut lookahead = chars.clone();
        if lookahead.next() == Some('-') && !matches!(lookahead.peek(), Some(']') | None) {
            chars.next();
            let hi = match chars.next() {
                Some('\\') => chars
                    .next()
                    .ok_or_else(|| error("unclosed `[` character class"))?,
                Some(h) => h,
                None => return Err(error("unclosed `[` character class")),
            };
            if hi < c {
                return Err(error(format!("character range `{c}-{hi}` is reversed")));
            }
            ranges.push((c, hi));
        } else {
            ranges.push((c, c));
        }
    }
    Ok(Token::Class { negated, ranges })
}

/// Matches segments against components; `**` backtracks over components.
/// With one kind of star, resuming from the latest star is enough, so this
/// runs in O(segments × components) at worst.
fn match_segments(segments: &[Segment], components: &[&str]) -> bool {
    let (mut s, mut c) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while c < components.len() {
        match segments.get(s) {
            Some(Segment::AnyDepth) => {
                resume = Some((s, c));
                s += 1;
                continue;
            }
            Some(segment) if segment_matches(segment, components[c]) => {
                s += 1;
                c += 1;
                continue;
            }
            _ => {}
        }
        match resume {
            Some((star, from)) => {
                s = star + 1;
                c = from + 1;
                resume = Some((star, from + 1));
            }
            None => return false,
        }
    }
    segments[s..].iter().all(|seg| *seg == Segment::AnyDepth)
}

fn segment_matches(segment: &Segment, component: &str) -> bool {
    match segment {
        Segment::Literal(l) => l == component,
        Segment::Pattern(tokens) => {
            let chars: Vec<char> = component.chars().collect();
            match_tokens(tokens, &chars)
        }
        Segment::AnyDepth => true,
    }
}

/// The same resume-from-the-latest-star matching, over characters.
fn match_tokens(tokens: &[Token], chars: &[char]) -> bool {
    let (mut t, mut c) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while c < chars.len() {
        match tokens.get(t) {
            Some(Token::Star) => {
                resume = Some((t, c));
                t += 1;
                continue;
            }
            Some(token) if token_matches(token, chars[c]) => {
                t += 1;
                c += 1;
                continue;
            }
            _ => {}
        }
        match resume {
            Some((star, from)) => {
                t = star + 1;
                c = from + 1;
                resume = Some((star, from + 1));
            }
            None => return false,
        }
    }
    tokens[t..].iter().all(|tok| *tok == Token::Star)
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Char(x) => *x == c,
        Token::AnyChar => true,
        Token::Star => true,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (pattern, path, matches?)
    const CASES: &[(&str, &str, bool)] = &[
        ("examples/data/**", "examples/data", true),
        ("examples/data/**", "examples/data/app.log", true),
        ("examples/data/**", "examples/data/a/b/c", true),
        ("examples/data/**", "examples/database", false),
        ("examples/data/**", "examples", false),
        ("examples/data/**", "/examples/data/app.log", false),
        ("examples/data/*", "examples/data/app.log", true),
        ("examples/data/*", "examples/data/a/b", false),
        ("examples/data/*", "examples/data", false),
        ("*.log", "app.log", true),
        ("*.log", ".hidden.log", true),
        ("*.log", "dir/app.log", false),
        ("**/*.log", "dir/sub/app.log", true),
        ("**/*.log", "app.log", true),
        ("**/*.log", "app.toml", false),
        ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/y/b", true),
        ("a/**/b", "a/x/y/c", false),
        ("a/**/b/**/c", "a/1/b/2/b/3/c", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("a?c", "aéc", true),
        ("[a-c]x", "bx", true),
        ("[a-c]x", "dx", false),
        ("[!a-c]x", "dx", true),
        ("[^a-c]x", "ax", false),
        ("[]]x", "]x", true),
        ("[a-]", "-", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "axb", false),
        ("*a*b*", "xxaxxbxx", true),
        ("*a*b*", "xxbxxaxx", false),
        ("/srv/**", "/srv/x", true),
        ("/srv/**", "srv/x", false),
        ("/", "/", true),
        ("/**", "/etc/passwd", true),
        ("./a//b/", "a/b", true),
        ("a/b", "a/./b", true),
        ("../shared/**", "../shared/x", true),
        ("data/**", "data/../secret", true),
    ];

    #[test]
    fn matching() {
        let mut failures = Vec::new();
        for &(pattern, path, want) in CASES {
            let glob = Glob::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            if glob.matches(path) != want {
                failures.push(format!("{pattern} vs {path}: expected {want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn bad_globs_are_refused_with_a_reason() {
        let cases = [
            ("", "empty pattern"),
            (".", "the pattern names no path (write `**` for everything)"),
            (
                "a**",
                "`**` must be a whole path segment (write `a/**/b`, not `a**b`)",
            ),
            (
                "a/***",
                "`**` must be a whole path segment (write `a/**/b`, not `a**b`)",
            ),
            ("[abc", "unclosed `[` character class"),
            ("a/[", "unclosed `[` character class"),
            ("[z-a]", "character range `z-a` is reversed"),
            ("a\\", "a pattern cannot end with `\\`"),
            (
                "{a,b}/*",
                "`{...}` alternatives are not supported: list each pattern separately",
            ),
            (
                "a/*/../b",
                "`..` may appear only before the first wildcard segment",
            ),
        ];
        for (pattern, want) in cases {
            assert_eq!(
                Glob::new(pattern).map(|_| ()).map_err(|e| e.to_string()),
                Err(want.to_string()),
                "{pattern}"
            );
        }
    }

    #[test]
    fn prefixes_and_rebasing() {
        let g = Glob::new("a/b/*.log").unwrap();
        assert_eq!(g.literal_prefix(), "a/b");
        let r = g.rebase("/x/y");
        assert_eq!(r.as_str(), "/x/y/*.log");
        assert!(r.matches("/x/y/z.log"));
        assert!(!r.matches("/x/y/z.txt"));
        let all = Glob::new("**").unwrap();
        assert_eq!(all.literal_prefix(), "");
        let r = all.rebase("/cwd");
        assert!(r.matches("/cwd") && r.matches("/cwd/deep/file"));
        assert!(!r.matches("/other"));
        // A fully literal glob is one file.
        let one = Glob::new("data/app.log").unwrap().rebase("/c/data/app.log");
        assert!(one.matches("/c/data/app.log"));
        assert!(!one.matches("/c/data/app.log2"));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let glob = Glob::new(&"*a".repeat(30)).unwrap();
        let component = "a".repeat(29) + "b";
        assert!(!glob.matches(&component));
        let deep = Glob::new(&"**/a/".repeat(20)).unwrap();
        let path = "a/".repeat(19) + "b";
        assert!(!deep.matches(&path));
    }
}
