//! Tools for testing trace readers (feature `testing`): re-sealing altered
//! bytes with a valid hash chain, so that tests and fuzzers reach the event
//! decoder behind the integrity checks, and locating event records in a file.

use super::reader::Reader;
use super::wire::{Bytes, Slice};
use super::{CHUNK_LZ4, CHUNK_RAW, FOOTER, FOOTER_LEN, MAGIC};
use std::ops::Range;

/// The frames of a trace: the header's extent and each chunk's parts.
struct Layout {
    /// End of the header fields (the header checksum follows).
    header_end: usize,
    /// Per chunk: (frame start, payload range, raw length, compressed).
    chunks: Vec<(usize, Range<usize>, usize, bool)>,
    /// Start of the footer, if the frames parse up to one.
    footer: Option<usize>,
}

fn layout(bytes: &[u8]) -> Option<Layout> {
    if bytes.len() < 10 || bytes[..8] != MAGIC {
        return None;
    }
    let mut s = Slice::new(bytes, 0);
    s.pos = 10;
    let len = usize::try_from(s.varint().ok()?).ok()?;
    let header_end = s.pos.checked_add(len)?;
    s.pos = header_end.checked_add(32)?;
    let mut chunks = Vec::new();
    while s.pos < bytes.len() {
        let start = s.pos;
        let kind = s.byte().ok()?;
        if kind == FOOTER {
            return Some(Layout {
                header_end,
                chunks,
                footer: Some(start),
            });
        }
        if kind != CHUNK_RAW && kind != CHUNK_LZ4 {
            return None;
        }
        let raw = usize::try_from(s.varint().ok()?).ok()?;
        let stored = if kind == CHUNK_LZ4 {
            usize::try_from(s.varint().ok()?).ok()?
        } else {
            raw
        };
        let payload = s.pos..s.pos.checked_add(stored)?;
        s.pos = payload.end.checked_add(32)?;
        if s.pos > bytes.len() {
            return None;
        }
        chunks.push((start, payload, raw, kind == CHUNK_LZ4));
    }
    Some(Layout {
        header_end,
        chunks,
        footer: None,
    })
}

/// `bytes` with the header checksum, every chunk's hash-chain link and the
/// footer's final hash recomputed, so that only structural checks can
/// reject it. Returns the input unchanged where its framing does not parse.
pub fn reseal(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let Some(l) = layout(bytes) else {
        return out;
    };
    if l.header_end + 32 > out.len() {
        return out;
    }
    let mut chain = *blake3::hash(&out[..l.header_end]).as_bytes();
    out[l.header_end..l.header_end + 32].copy_from_slice(&chain);
    for (start, payload, _, _) in &l.chunks {
        chain = *blake3::Hasher::new()
            .update(&chain)
            .update(&out[*start..payload.end])
            .finalize()
            .as_bytes();
        out[payload.end..payload.end + 32].copy_from_slice(&chain);
    }
    if let Some(f) = l.footer {
        if f + FOOTER_LEN == out.len() {
            out[f + 25..f + 57].copy_from_slice(&chain);
        }
    }
    out
}

/// The file byte ranges of the stored records of a trace whose chunks are
/// all uncompressed, in order (implied events have none); records that
/// span two chunks are left out. `None` if the trace does not read whole.
pub fn record_spans(bytes: &[u8]) -> Option<Vec<Range<usize>>> {
    let l = layout(bytes)?;
    if l.chunks.iter().any(|c| c.3) {
        return None;
    }
    // Raw stream offset -> file offset.
    let file_offset = |raw: usize| -> Option<usize> {
        let mut base = 0;
        for (_, payload, len, _) in &l.chunks {
            if raw < base + len {
                return Some(payload.start + raw - base);
            }
            base += len;
        }
        None
    };
    let mut reader = Reader::open(bytes).ok()?;
    let mut spans = Vec::new();
    let mut raw = 0;
    while let Some((_, rec)) = reader.next_rec_captured().ok()? {
        if rec.is_empty() {
            continue;
        }
        let (start, end) = (file_offset(raw)?, file_offset(raw + rec.len() - 1)? + 1);
        if end - start == rec.len() {
            spans.push(start..end);
        }
        raw += rec.len();
    }
    Some(spans)
}
