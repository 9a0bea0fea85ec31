//! Compile errors as data, and their rendering.
//!
//! Every stage (lexer, parser, checker) reports problems as [`Diagnostic`]
//! values instead of failing on the first one; [`render_diagnostics`] turns
//! them into the text a user reads: a `file:line:col` header, the source line,
//! carets under the span and a one-line hint.
//!
//! **Architecture invariant:** nothing in this crate prints. Rendering returns a
//! `String`; the caller decides where it goes.

use std::fmt;
use std::ops::Range;

use ariadne::{CharSet, Config, IndexType, Label, Report, ReportKind, Source};

use crate::span::{LineIndex, Span};

/// The most diagnostics a single compilation reports; more are dropped so that
/// megabytes of garbage input cannot produce megabytes of errors.
pub const MAX_DIAGNOSTICS: usize = 64;

/// The pipeline stage that found a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The input was not valid UTF-8.
    Encoding,
    /// The lexer could not form a token.
    Lex,
    /// The token stream does not follow the grammar (or nests too deeply).
    Parse,
    /// Names, types or control flow are wrong.
    Check,
}

/// One compile error: where, what, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stage that reported it.
    pub stage: Stage,
    /// The source range the carets go under.
    pub span: Span,
    /// What is wrong, as one sentence without a trailing period.
    pub message: String,
    /// A short note printed next to the carets, if any.
    pub label: Option<String>,
    /// One line telling the user what to do about it.
    pub hint: String,
}

impl Diagnostic {
    /// A diagnostic with no caret label.
    pub fn new(
        stage: Stage,
        span: Span,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            stage,
            span,
            message: message.into(),
            label: None,
            hint: hint.into(),
        }
    }

    /// Adds the note printed next to the carets.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// One line `file:line:col: error: message (hint: ...)`, for logs and
    /// terse command-line output.
    pub fn one_line(&self, file_name: &str, lines: &LineIndex) -> String {
        let pos = lines.line_col(self.span.start);
        format!(
            "{file_name}:{}:{}: error: {} (hint: {})",
            pos.line, pos.col, self.message, self.hint
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (hint: {})", self.message, self.hint)
    }
}

/// How [`render_diagnostics`] draws its output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderConfig {
    /// Use ANSI colours (for a terminal); off gives plain text for files and tests.
    pub color: bool,
}

/// Source lines longer than this many bytes are shown as an excerpt around
/// the span, so a megabyte-long line does not end up in every report.
const MAX_SHOWN_LINE: usize = 160;

/// Renders `diagnostics` against the source they refer to, one report after
/// another, each with a `file:line:col` header, the source line, carets under
/// the span and the hint.
pub fn render_diagnostics(
    file_name: &str,
    src: &str,
    diagnostics: &[Diagnostic],
    config: RenderConfig,
) -> String {
    let lines = LineIndex::new(src);
    let mut full = (file_name.to_owned(), Source::from(src));
    let mut out = String::new();
    for diagnostic in diagnostics {
        let range = display_range(src, diagnostic.span);
        let line_start = src[..range.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[range.start..]
            .find('\n')
            .map_or(src.len(), |i| range.start + i);
        let text = if line_end - line_start <= MAX_SHOWN_LINE {
            report(file_name, diagnostic, range, config, &mut full)
        } else {
            // Show a window of the long line; ariadne then reports the
            // column within the window, which is put right afterwards.
            let (excerpt, window_range, window_col) =
                excerpt(src, line_start, line_end, range.clone());
            let line = lines.line_col(range.start as u32);
            // Empty lines before the excerpt keep ariadne's line number right.
            let pad = "\n".repeat(line.line as usize - 1);
            let window_range = window_range.start + pad.len()..window_range.end + pad.len();
            let mut cache = (file_name.to_owned(), Source::from(pad + &excerpt));
            let text = report(file_name, diagnostic, window_range, config, &mut cache);
            text.replacen(
                &format!("{file_name}:{}:{window_col}", line.line),
                &format!("{file_name}:{}:{}", line.line, line.col),
                1,
            )
        };
        out.push_str(&text);
    }
    out
}

fn report<S: AsRef<str>>(
    file_name: &str,
    diagnostic: &Diagnostic,
    range: Range<usize>,
    config: RenderConfig,
    cache: &mut (String, Source<S>),
) -> String {
    let text = cache.1.text();
    let span = (file_name.to_owned(), range.clone());
    // ariadne draws its label arrow over one column of the underline, which
    // would hide the only caret of a one-character span. So the carets come
    // from a label without a message, and the message hangs off a second,
    // one-character label just beside the span.
    let note = diagnostic.label.as_deref().unwrap_or("here");
    let beside = beside(text, range.clone());
    let labels = match beside {
        Some(beside) => vec![
            Label::new(span.clone()),
            // ariadne draws underlines on the row of the first label, so
            // the one with the message must sort first.
            Label::new((file_name.to_owned(), beside))
                .with_message(note)
                .with_order(-1),
        ],
        None => vec![Label::new(span.clone()).with_message(note)],
    };
    let report = Report::build(ReportKind::Error, span)
        .with_config(
            Config::new()
                .with_color(config.color)
                .with_char_set(CharSet::Ascii)
                .with_index_type(IndexType::Byte),
        )
        .with_message(&diagnostic.message)
        .with_labels(labels)
        .with_help(&diagnostic.hint)
        .finish();
    let mut out = Vec::new();
    // Writing into a Vec cannot fail; should ariadne ever refuse, fall back
    // to the one-line form so no diagnostic is lost.
    if report.write(cache, &mut out).is_err() {
        out = format!("error: {diagnostic}\n").into_bytes();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A one-character range right after `range` (possibly its line's `\n`),
/// or else right before it on the same line, where a label arrow can go without covering a caret.
fn beside(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    if text[range.clone()].contains('\n') {
        return None;
    }
    // The line's own `\n` counts as a column of that line for ariadne.
    if let Some(c) = text[range.end..].chars().next() {
        return Some(range.end..range.end + c.len_utf8());
    }
    let c = text[..range.start]
        .chars()
        .next_back()
        .filter(|&c| c != '\n')?;
    Some(range.start - c.len_utf8()..range.start)
}

/// A window of at most about [`MAX_SHOWN_LINE`] bytes of the line
/// `line_start..line_end` around `range`, marked with `...` where cut; the
/// range within the window; and the 1-based column ariadne will compute.
fn excerpt(
    src: &str,
    line_start: usize,
    line_end: usize,
    range: Range<usize>,
) -> (String, Range<usize>, usize) {
    let floor = |mut i: usize| {
        while !src.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(range.start.saturating_sub(40).max(line_start));
    let end = floor((range.start + MAX_SHOWN_LINE - 40).min(line_end));
    let prefix = if start > line_start { "..." } else { "" };
    let suffix = if end < line_end { "..." } else { "" };
    let excerpt = format!("{prefix}{}{suffix}", &src[start..end]);
    let shift = |i: usize| i.clamp(start, end) - start + prefix.len();
    let mut window = shift(range.start)..shift(range.end);
    if window.is_empty() {
        window.end = (window.start + 1).min(excerpt.len());
        window.start = window.end.saturating_sub(1);
    }
    let col = excerpt[..window.start].chars().count() + 1;
    (excerpt, window, col)
}

/// Clamps `span` into `src` on character boundaries and widens an empty span
/// to one visible character, so every report gets at least one caret.
fn display_range(src: &str, span: Span) -> Range<usize> {
    let floor = |mut i: usize| {
        i = i.min(src.len());
        while !src.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start as usize);
    let mut end = floor(span.end as usize).max(start);
    if start == end {
        if let Some(c) = src[start..].chars().next() {
            end = start + c.len_utf8();
        } else if let Some(c) = src[..start].chars().next_back() {
            return start - c.len_utf8()..start;
        }
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_out_of_range_spans_still_render() {
        let d = Diagnostic::new(Stage::Parse, Span::new(99, 99), "boom", "fix it");
        for src in ["", "x", "é", "a\n", "\n\n"] {
            let text = render_diagnostics(
                "t.chr",
                src,
                std::slice::from_ref(&d),
                RenderConfig::default(),
            );
            assert!(text.contains("boom") && text.contains("fix it"), "{text}");
        }
    }

    #[test]
    fn long_lines_are_cut_but_keep_the_true_column() {
        let src = format!("{}BAD{}", "a".repeat(5000), "b".repeat(5000));
        let d = Diagnostic::new(Stage::Lex, Span::new(5000, 5003), "bad", "fix");
        let text = render_diagnostics("t.chr", &src, &[d], RenderConfig::default());
        assert!(text.contains("t.chr:1:5001"), "{text}");
        assert!(text.contains("...") && text.len() < 1000, "{text}");
    }
}
