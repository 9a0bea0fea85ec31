//! Byte spans into the source text and the line index that turns them into
//! `line:col` positions.
//!
//! Every token, AST node and diagnostic carries a [`Span`]. Spans are byte
//! offsets (not character offsets) so slicing the source is O(1); the
//! [`LineIndex`] maps an offset to a 1-based line and a 1-based column counted
//! in characters, which is what a user sees in an editor.

use std::ops::Range;

/// A half-open byte range `start..end` into one source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// Builds a span from byte offsets; `end` is clamped so that `start <= end`.
    pub fn new(start: usize, end: usize) -> Span {
        let start = clamp_u32(start);
        let end = clamp_u32(end).max(start);
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span as a `usize` range, ready to slice the source with.
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Number of bytes covered.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span covers no byte at all.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A 1-based line and column; the column counts characters, not bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineCol {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column in characters, starting at 1.
    pub col: u32,
}

/// Maps byte offsets of one source text to lines and columns.
///
/// Built once per source in O(n); each lookup is a binary search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIndex {
    /// Byte offset at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<u32>,
    text: String,
}

impl LineIndex {
    /// Indexes `src`. Lines end at `\n` (a preceding `\r` stays part of the line).
    pub fn new(src: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| clamp_u32(i + 1)),
        );
        LineIndex {
            line_starts,
            text: src.to_owned(),
        }
    }

    /// The 1-based line and character column of byte `offset`.
    ///
    /// Offsets past the end, or inside a multi-byte character, are clamped to
    /// the nearest valid position before them.
    pub fn line_col(&self, offset: u32) -> LineCol {
        let offset = (offset as usize).min(self.text.len());
        let line = self
            .line_starts
            .partition_point(|&start| start as usize <= offset)
            .saturating_sub(1);
        let start = self.line_starts[line] as usize;
        let col = self.text[start..]
            .char_indices()
            .take_while(|&(i, _)| start + i < offset)
            .count();
        LineCol {
            line: clamp_u32(line + 1),
            col: clamp_u32(col + 1),
        }
    }

    /// The 1-based line on which `span` starts.
    pub fn line(&self, span: Span) -> u32 {
        self.line_col(span.start).line
    }

    /// Number of lines in the source (an empty source has one line).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let idx = LineIndex::new("ab\né x\n");
        assert_eq!(idx.line_col(0), LineCol { line: 1, col: 1 });
        assert_eq!(idx.line_col(3), LineCol { line: 2, col: 1 });
        // `x` is after a two-byte `é` and a space: byte 6, column 3.
        assert_eq!(idx.line_col(6), LineCol { line: 2, col: 3 });
        assert_eq!(idx.line_col(1000), LineCol { line: 3, col: 1 });
    }

    #[test]
    fn spans_never_run_backwards() {
        assert_eq!(Span::new(5, 2), Span { start: 5, end: 5 });
        assert_eq!(Span::new(1, 2).to(Span::new(4, 6)), Span::new(1, 6));
    }
}
