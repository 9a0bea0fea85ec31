//! The framing writer: preamble and header, then the event stream cut into
//! chunks (each optionally LZ4-compressed and linked into the BLAKE3 hash
//! chain), then the footer. Memory is bounded by one chunk plus the record
//! being written.

use super::header::Hash;
use super::sign::{SecretKey, Signature};
use super::wire::put_varint;
use super::{
    CHUNK_LZ4, CHUNK_RAW, FOOTER, FOOTER_BODY_LEN, FOOTER_LEN, MAGIC, MAX_CHUNK, SIG_ED25519,
    SIG_NONE, TRACE_FORMAT_VERSION,
};
use lz4_flex::block::{compress_into_with_table, get_maximum_output_size, CompressTable};
use std::io::{self, Write};

/// How a recording is cut into chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecorderOptions {
    /// Raw event bytes per chunk, 1 ..= 65536 (default 65536). Smaller
    /// chunks cost 33+ bytes each and compress worse; they are for tests.
    pub chunk_size: usize,
    /// Whether chunks are LZ4-compressed when that makes them smaller
    /// (default true).
    pub compress: bool,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            chunk_size: MAX_CHUNK,
            compress: true,
        }
    }
}

/// What a finished stream wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Totals {
    pub chunks: u64,
    pub bytes: u64,
    pub final_hash: Hash,
    pub signature: Option<Signature>,
}

pub(super) struct ChunkWriter<W> {
    out: W,
    header_hash: Hash,
    chunk_size: usize,
    table: Option<CompressTable>,
    scratch: Vec<u8>,
    chain: Hash,
    chunks: u64,
    bytes: u64,
}

impl<W: Write> ChunkWriter<W> {
    /// Writes the preamble and `header` (encoded fields) and starts the chain.
    pub fn start(mut out: W, header: &[u8], options: RecorderOptions) -> io::Result<Self> {
        let mut head = Vec::with_capacity(header.len() + 32);
        head.extend_from_slice(&MAGIC);
        head.extend_from_slice(&TRACE_FORMAT_VERSION.to_le_bytes());
        put_varint(&mut head, header.len() as u64);
        head.extend_from_slice(header);
        let chain = *blake3::hash(&head).as_bytes();
        out.write_all(&head)?;
        out.write_all(&chain)?;
        let chunk_size = options.chunk_size.clamp(1, MAX_CHUNK);
        Ok(ChunkWriter {
            out,
            header_hash: chain,
            chunk_size,
            table: options.compress.then(CompressTable::large),
            scratch: if options.compress {
                vec![0; get_maximum_output_size(chunk_size)]
            } else {
                Vec::new()
            },
            chain,
            chunks: 0,
            bytes: (head.len() + 32) as u64,
        })
    }

    /// The raw chunk size.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Writes every full chunk at the front of `buf` and removes it.
    pub fn flush_full(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let n = self.chunk_size;
        let mut done = 0;
        while buf.len() - done >= n {
            self.chunk(&buf[done..done + n])?;
            done += n;
        }
        if done > 0 {
            buf.copy_within(done.., 0);
            buf.truncate(buf.len() - done);
        }
        Ok(())
    }

    /// Writes `buf` (the end of the stream) as chunks, then the footer,
    /// signed with `key` if given.
    pub fn finish(
        mut self,
        buf: &mut Vec<u8>,
        events: u64,
        steps: u64,
        key: Option<&SecretKey>,
    ) -> io::Result<(W, Totals)> {
        self.flush_full(buf)?;
        if !buf.is_empty() {
            let rest = std::mem::take(buf);
            self.chunk(&rest)?;
        }
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        footer.push(FOOTER);
        footer.extend_from_slice(&self.chunks.to_le_bytes());
        footer.extend_from_slice(&events.to_le_bytes());
        footer.extend_from_slice(&steps.to_le_bytes());
        footer.extend_from_slice(&self.chain);
        let signature = key.map(|k| k.sign(&self.header_hash, &footer[..FOOTER_BODY_LEN]));
        match &signature {
            Some(sig) => {
                footer.push(SIG_ED25519);
                footer.extend_from_slice(&sig.key.0);
                footer.extend_from_slice(&sig.bytes);
            }
            None => {
                footer.push(SIG_NONE);
                footer.resize(FOOTER_LEN, 0);
            }
        }
        self.out.write_all(&footer)?;
        self.out.flush()?;
        let totals = Totals {
            chunks: self.chunks,
            bytes: self.bytes + FOOTER_LEN as u64,
            final_hash: self.chain,
            signature,
        };
        Ok((self.out, totals))
    }

    /// Writes one chunk of `raw` event bytes.
    fn chunk(&mut self, raw: &[u8]) -> io::Result<()> {
        let mut h = Vec::with_capacity(21);
        let mut stored = raw;
        if let Some(table) = &mut self.table {
            if let Ok(n) = compress_into_with_table(raw, &mut self.scratch, table) {
                if n < raw.len() {
                    stored = &self.scratch[..n];
                }
            }
        }
        if stored.len() < raw.len() {
            h.push(CHUNK_LZ4);
            put_varint(&mut h, raw.len() as u64);
            put_varint(&mut h, stored.len() as u64);
        } else {
            h.push(CHUNK_RAW);
            put_varint(&mut h, raw.len() as u64);
        }
        let head = &h[..];
        let chain = *blake3::Hasher::new()
            .update(&self.chain)
            .update(head)
            .update(stored)
            .finalize()
            .as_bytes();
        self.out.write_all(head)?;
        self.out.write_all(stored)?;
        self.out.write_all(&chain)?;
        self.chain = chain;
        self.chunks += 1;
        self.bytes += (head.len() + stored.len() + 32) as u64;
        Ok(())
    }
}
