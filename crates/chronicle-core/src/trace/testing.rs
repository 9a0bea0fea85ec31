//! Tools for testing trace readers (feature `testing`): re-sealing altered
//! bytes with a valid hash chain (as a forger would: see [`reseal`],
//! [`reseal_unsigned`], [`reseal_signed`]), so that tests and fuzzers reach
//! the event decoder behind the integrity checks, and locating event
//! records in a file.

use super::reader::Reader;
use super::sign::SecretKey;
use super::wire::{Bytes, Slice};
use super::{
    CHUNK_LZ4, CHUNK_RAW, FOOTER, FOOTER_BODY_LEN, FOOTER_LEN, MAGIC, SIG_ED25519, SIG_NONE,
};
use crate::limits::Limits;
use crate::module::Module;
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
/// footer's final hash recomputed, so that only structural checks (and a
/// signature, which is left as it is) can reject it. Returns the input
/// unchanged where its framing does not parse.
pub fn reseal(bytes: &[u8]) -> Vec<u8> {
    reseal_inner(bytes, Seal::Keep)
}

/// [`reseal`], then the footer's signature block cleared (a version 4
/// trace): the forger's copy, unsigned, that verifies as intact.
pub fn reseal_unsigned(bytes: &[u8]) -> Vec<u8> {
    reseal_inner(bytes, Seal::Clear)
}

/// [`reseal`], then the footer signed anew with `key` (a version 4 trace):
/// what the holder of a key can do with any bytes.
pub fn reseal_signed(bytes: &[u8], key: &SecretKey) -> Vec<u8> {
    reseal_inner(bytes, Seal::Sign(key))
}

enum Seal<'k> {
    Keep,
    Clear,
    Sign(&'k SecretKey),
}

fn reseal_inner(bytes: &[u8], seal: Seal<'_>) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let Some(l) = layout(bytes) else {
        return out;
    };
    if l.header_end + 32 > out.len() {
        return out;
    }
    let header_hash = *blake3::hash(&out[..l.header_end]).as_bytes();
    let mut chain = header_hash;
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
        let len = out.len() - f;
        if len == FOOTER_LEN || len == FOOTER_BODY_LEN {
            out[f + 25..f + 57].copy_from_slice(&chain);
        }
        if len == FOOTER_LEN {
            let body = f..f + FOOTER_BODY_LEN;
            match seal {
                Seal::Keep => {}
                Seal::Clear => {
                    out[body.end] = SIG_NONE;
                    out[body.end + 1..].fill(0);
                }
                Seal::Sign(key) => {
                    let sig = key.sign(&header_hash, &out[body.clone()]);
                    out[body.end] = SIG_ED25519;
                    out[body.end + 1..body.end + 33].copy_from_slice(&sig.key.0);
                    out[body.end + 33..].copy_from_slice(&sig.bytes);
                }
            }
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

/// The plugin behind [`cow_push_bomb`]: `n` iterations of pushing `0` onto
/// an `[int]` array `x` and then `x` onto an `[[int]]` array, so that every
/// push onto `x` copies it (the outer array shares it): the run's
/// copy-on-write copies grow quadratically while its steps grow linearly.
/// Returns `n`.
pub fn cow_push_module(n: i64) -> Module {
    use crate::isa::Instr;
    use crate::module::{Const, Function};
    use crate::types::Type;
    let ints = Type::Array(Box::new(Type::Int));
    let main = Function {
        name: "main".into(),
        params: 0,
        // i, n, x, outer, zero
        regs: vec![
            Type::Int,
            Type::Int,
            ints.clone(),
            Type::Array(Box::new(ints)),
            Type::Int,
        ],
        ret: Some(Type::Int),
        code: vec![
            Instr::LoadConst { d: 1, k: 0 },
            Instr::PushInt { a: 2, v: 4 },
            Instr::PushRef { a: 3, v: 2 },
            Instr::ForNext { i: 0, end: 1, t: 1 },
            Instr::Ret { a: 0 },
        ],
        lines: vec![1, 2, 3, 4, 5],
    };
    Module {
        consts: vec![Const::Int(n)],
        funcs: vec![main],
        ..Module::default()
    }
}

/// A correctly hash-chained trace of [`cow_push_module`]`(n)` recorded
/// under `limits` (`n` at least 2), written directly from the records the
/// recorder would write, without running it (a run of a large `n` would
/// allocate what the trace makes its readers allocate): `3n + 2` steps of
/// tiny, highly compressible records. With `n = 100_000` and the default
/// limits it is about 2 KB, yet a reader that does not charge copies
/// builds 40 GB; its genuine run stops at `alloc_bytes` long before, so
/// readers that check the recording refuse it there. With `n = 3_000_000`
/// and [`Limits::UNBOUNDED`] it is about 40 KB and a genuine recording (a
/// run with no limits), which only the reader's own caps can stop.
pub fn cow_push_bomb(n: u64, limits: Limits) -> Vec<u8> {
    use super::effect::{code_map, ExecMap};
    use super::encode::tag;
    use super::header::{encode, TraceHeader};
    use super::wire::{put_varint, zigzag};
    use super::writer::{ChunkWriter, RecorderOptions};
    let n = n.max(2);
    let module = cow_push_module(i64::try_from(n).unwrap_or(i64::MAX));
    let mut header = TraceHeader::new(&module);
    header.limits = limits;
    header.tool_version = "chronicle testing".into();
    header.plugin_name = "cow_push_bomb".into();
    let fields = encode(&header, &code_map(&module, &ExecMap::new(&module)));
    let options = RecorderOptions::default();
    let mut w = ChunkWriter::start(Vec::new(), &fields, options).expect("a Vec never fails");
    let mut buf = vec![tag::ENTER];
    // `ldk`: the predictor expects 0, the residual is n.
    let zz = zigzag(n as i64);
    if zz < 0x80 {
        buf.push(tag::STEP_SMALL | zz as u8);
    } else {
        buf.push(tag::STEP_WIDE);
        put_varint(&mut buf, zz);
    }
    for k in 0..n {
        buf.extend_from_slice(&[tag::STEP, tag::STEP]);
        // `fornext`: 1 is 1 off the first prediction (0), then on stride.
        buf.push(tag::STEP_SMALL | if k == 0 { 2 } else { 0 });
        if buf.len() >= 1 << 20 {
            w.flush_full(&mut buf).expect("a Vec never fails");
        }
    }
    buf.extend_from_slice(&[tag::STEP, tag::END, 0, 1]);
    put_varint(&mut buf, zz);
    let steps = 3 * n + 2;
    let (out, _) = w
        .finish(&mut buf, steps + 3, steps, None)
        .expect("a Vec never fails");
    out
}
