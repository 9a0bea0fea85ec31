//! The reader: opens a trace from any `io::Read`, checks the header, then
//! streams events chunk by chunk, checking each chunk's link in the hash
//! chain before decoding it and the footer at the end.
//!
//! Hardened like the module decoder: every failure is a [`TraceError`]
//! with a kind and a byte offset, never a panic; memory is bounded by one
//! chunk, the header, and what the recorded run itself held.

use super::error::{TraceError, TraceErrorKind};
use super::event::{Event, EventKind, Outcome};
use super::header::{self, Hash, TraceHeader};
use super::machine::{Machine, Rec, Stream};
use super::sign::{PublicKey, Signature};
use super::wire::{Bytes, Slice};
use super::{
    footer_len, CHUNK_LZ4, CHUNK_RAW, FOOTER, FOOTER_BODY_LEN, FOOTER_LEN, MAGIC, MAX_CHUNK,
    MAX_HEADER, OLDEST_TRACE_FORMAT_VERSION, SIG_ED25519, SIG_NONE, TRACE_FORMAT_VERSION,
};
use crate::limits::{Limit, Limits};
use crate::value::Value;
use crate::verify::VerifiedModule;
use crate::vm::RuntimeError;
use std::io::{self, Read};

/// The footer's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// Chunks in the file.
    pub chunks: u64,
    /// Events in the stream (implied ones included).
    pub events: u64,
    /// Step events (instructions that completed).
    pub steps: u64,
    /// The end of the hash chain.
    pub final_hash: Hash,
    /// The signature block (version 4 on), if the trace is signed. Once
    /// the reader has checked the footer (`Reader::footer`), a signature
    /// here is valid for its key.
    pub signature: Option<Signature>,
}

impl Footer {
    /// Parses the bytes of a footer (its tag first): [`FOOTER_BODY_LEN`]
    /// before version 4, [`FOOTER_LEN`] from it. `None` if malformed (an
    /// unknown signature kind, or an unsigned block that is not all zero).
    pub(super) fn parse(b: &[u8]) -> Option<Footer> {
        if (b.len() != FOOTER_LEN && b.len() != FOOTER_BODY_LEN) || b[0] != FOOTER {
            return None;
        }
        let u = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let signature = match b.get(FOOTER_BODY_LEN..) {
            None | Some([]) => None,
            Some([SIG_NONE, rest @ ..]) if rest.iter().all(|&x| x == 0) => None,
            Some([SIG_ED25519, rest @ ..]) => Some(Signature {
                key: PublicKey(rest[..32].try_into().ok()?),
                bytes: rest[32..].try_into().ok()?,
            }),
            Some(_) => return None,
        };
        Some(Footer {
            chunks: u(1),
            events: u(9),
            steps: u(17),
            final_hash: b[25..57].try_into().ok()?,
            signature,
        })
    }
}

/// The framed byte stream: chunks in, raw event bytes out.
pub(super) struct Source<R> {
    pub(super) src: R,
    /// File offset of the next byte of `src`.
    pub(super) offset: u64,
    pub(super) chain: Hash,
    pub(super) chunks: u64,
    pub(super) raw: Vec<u8>,
    pub(super) at: usize,
    stored: Vec<u8>,
    /// File offset of the chunk `raw` came from.
    pub(super) chunk_offset: u64,
    /// The hash chain before the chunk in `raw` (for [`super::seek`]).
    pub prev_chain: Hash,
    /// Index of the event being decoded (for error reports).
    event: u64,
    /// When set, every byte consumed is also appended to `captured`.
    pub capture: bool,
    pub captured: Vec<u8>,
    pub footer: Option<Footer>,
    /// The footer's length in this file's format version.
    pub(super) footer_len: usize,
    /// The footer's first [`FOOTER_BODY_LEN`] bytes, once read (what a
    /// signature signs).
    pub(super) footer_body: [u8; FOOTER_BODY_LEN],
    /// The header hash (where the chain starts; a signature covers it).
    pub(super) header_hash: Hash,
}

impl<R: Read> Source<R> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), TraceError> {
        let at = self.offset;
        self.src
            .read_exact(buf)
            .map_err(|e| TraceError::new(e.into(), at))?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn read_u8(&mut self) -> Result<u8, TraceError> {
        let mut b = [0];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// A varint read straight from the file (frame headers), with the bytes
    /// appended to `raw` for hashing.
    fn frame_varint(&mut self, raw: &mut Vec<u8>) -> Result<u64, TraceError> {
        let start = raw.len();
        for _ in 0..10 {
            let b = self.read_u8()?;
            raw.push(b);
            if b & 0x80 == 0 {
                break;
            }
        }
        let mut s = Slice::new(&raw[start..], self.offset - (raw.len() - start) as u64);
        let v = s.varint()?;
        if s.remaining() != 0 {
            return Err(s.error(TraceErrorKind::BadVarint));
        }
        Ok(v)
    }

    /// Reads the next frame: a chunk into `raw`, or the footer.
    pub(super) fn next_frame(&mut self) -> Result<(), TraceError> {
        let at = self.offset;
        let chunk = self.chunks;
        let bad = |what| TraceError::new(TraceErrorKind::BadChunk { chunk, what }, at);
        let mut head = Vec::with_capacity(21);
        let kind = self.read_u8()?;
        head.push(kind);
        match kind {
            CHUNK_RAW | CHUNK_LZ4 => {}
            FOOTER => {
                let mut b = [0u8; FOOTER_LEN];
                b[0] = FOOTER;
                let b = &mut b[..self.footer_len];
                self.read_exact(&mut b[1..])?;
                self.footer = Some(Footer::parse(b).ok_or_else(|| {
                    TraceError::new(
                        TraceErrorKind::BadFooter {
                            what: "malformed signature block",
                        },
                        at,
                    )
                })?);
                self.footer_body.copy_from_slice(&b[..FOOTER_BODY_LEN]);
                return Ok(());
            }
            k => {
                return Err(TraceError::new(
                    TraceErrorKind::BadTag {
                        what: "frame",
                        tag: k.into(),
                    },
                    at,
                ))
            }
        }
        let raw_len = self.frame_varint(&mut head)?;
        if raw_len == 0 || raw_len > MAX_CHUNK as u64 {
            return Err(bad("raw length out of range"));
        }
        let stored_len = if kind == CHUNK_LZ4 {
            let n = self.frame_varint(&mut head)?;
            if n == 0 || n >= raw_len {
                return Err(bad("compressed length out of range"));
            }
            n
        } else {
            raw_len
        };
        let mut stored = std::mem::take(&mut self.stored);
        stored.resize(stored_len as usize, 0);
        self.read_exact(&mut stored)?;
        let mut link = [0u8; 32];
        self.read_exact(&mut link)?;
        let chain = *blake3::Hasher::new()
            .update(&self.chain)
            .update(&head)
            .update(&stored)
            .finalize()
            .as_bytes();
        if chain != link {
            return Err(TraceError::new(
                TraceErrorKind::HashMismatch {
                    chunk,
                    first_event: self.event,
                },
                at,
            ));
        }
        self.raw.clear();
        if kind == CHUNK_LZ4 {
            self.raw.resize(raw_len as usize, 0);
            match lz4_flex::block::decompress_into(&stored, &mut self.raw) {
                Ok(n) if n == raw_len as usize => {}
                _ => {
                    return Err(bad(
                        "the compressed payload does not decompress to its length",
                    ))
                }
            }
        } else {
            self.raw.extend_from_slice(&stored);
        }
        self.stored = stored;
        self.prev_chain = self.chain;
        self.chain = chain;
        self.chunks += 1;
        self.at = 0;
        self.chunk_offset = at;
        Ok(())
    }

    /// Loads the next chunk; fails if the footer comes first.
    fn refill(&mut self) -> Result<(), TraceError> {
        let at = self.offset;
        self.next_frame()?;
        if self.footer.is_some() {
            return Err(TraceError::new(
                TraceErrorKind::BadFooter {
                    what: "the event stream ends before its end record",
                },
                at,
            ));
        }
        Ok(())
    }
}

impl<R: Read> Bytes for Source<R> {
    #[inline]
    fn byte(&mut self) -> Result<u8, TraceError> {
        if self.at == self.raw.len() {
            self.refill()?;
        }
        let b = self.raw[self.at];
        self.at += 1;
        if self.capture {
            self.captured.push(b);
        }
        Ok(b)
    }

    fn take_into(&mut self, mut n: u64, out: &mut Vec<u8>) -> Result<(), TraceError> {
        while n > 0 {
            if self.at == self.raw.len() {
                self.refill()?;
            }
            let k = (self.raw.len() - self.at).min(usize::try_from(n).unwrap_or(usize::MAX));
            let part = &self.raw[self.at..self.at + k];
            out.extend_from_slice(part);
            if self.capture {
                self.captured.extend_from_slice(part);
            }
            self.at += k;
            n -= k as u64;
        }
        Ok(())
    }

    fn error(&self, kind: TraceErrorKind) -> TraceError {
        TraceError::new(kind, self.chunk_offset)
    }
}

impl<R: Read> Stream for Source<R> {
    fn set_event(&mut self, event: u64) {
        self.event = event;
    }

    fn finish(&mut self, events: u64, steps: u64) -> Result<(), TraceError> {
        if self.at != self.raw.len() {
            return Err(self.error(TraceErrorKind::BadEvent {
                event: events,
                what: "bytes after the end record",
            }));
        }
        let at = self.offset;
        self.next_frame()?;
        let Some(f) = self.footer else {
            return Err(TraceError::new(
                TraceErrorKind::BadFooter {
                    what: "a chunk follows the end record",
                },
                at,
            ));
        };
        let mismatch = |what, recorded, actual| {
            TraceError::new(
                TraceErrorKind::FooterMismatch {
                    what,
                    recorded,
                    actual,
                },
                at,
            )
        };
        if f.chunks != self.chunks {
            return Err(mismatch("chunks", f.chunks, self.chunks));
        }
        if f.events != events {
            return Err(mismatch("events", f.events, events));
        }
        if f.steps != steps {
            return Err(mismatch("steps", f.steps, steps));
        }
        if f.final_hash != self.chain {
            return Err(TraceError::new(TraceErrorKind::FinalHashMismatch, at));
        }
        if let Some(sig) = f.signature {
            if !sig.verify(&self.header_hash, &self.footer_body) {
                return Err(TraceError::new(
                    TraceErrorKind::BadSignature {
                        key: sig.key.fingerprint(),
                    },
                    at + FOOTER_BODY_LEN as u64,
                ));
            }
        }
        let mut extra = [0u8; 1];
        loop {
            match self.src.read(&mut extra) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    return Err(TraceError::new(TraceErrorKind::TrailingBytes, self.offset));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TraceError::new(e.into(), self.offset)),
            }
        }
    }
}

/// Reads a trace: the header at [`Reader::open`], then events one at a time.
///
/// An event is returned only after the chunk holding it passed its
/// hash-chain check; the footer is checked when the stream is read to its
/// end. So a truncated or altered trace yields its good events first and
/// then the error: only reaching `None` proves the whole trace intact (as
/// [`verify`] does in one call).
///
/// ```
/// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
/// use chronicle_core::trace::{self, Event, Reader, TraceHeader};
/// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
/// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
/// #     lines: vec![1, 2] };
/// # let module = Module { funcs: vec![main], ..Module::default() };
/// let bytes = trace::record(chronicle_core::vm::NoHost, TraceHeader::new(&module), Vec::new())?
///     .trace
///     .writer;
/// let mut reader = Reader::open(&bytes[..])?;
/// assert_eq!(reader.module().module().funcs[0].name, "main");
/// let events: Vec<Event> = reader.events().collect::<Result<_, _>>()?;
/// assert!(matches!(&events[1], Event::Step { pc: 0, line: 1, .. }));
/// assert_eq!(events.len(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader<R> {
    format_version: u16,
    caps: Limits,
    header: TraceHeader,
    module: VerifiedModule,
    header_hash: Hash,
    pub(super) src: Source<R>,
    pub(super) machine: Machine,
    pub(super) error: Option<TraceError>,
    pub(super) counts: [u64; 6],
    pub(super) result: Option<Value>,
    pub(super) trap: Option<RuntimeError>,
}

impl<R: Read> Reader<R> {
    /// Reads and checks the preamble and the header: magic number, format
    /// version, header checksum, embedded hashes, the embedded module
    /// (decoded and verified) and the code map.
    ///
    /// The reader refuses no recorded limit; what it allocates is bounded
    /// by the larger of the recorded `alloc_bytes` and the default one
    /// ([`Limits::DEFAULT`]), copies made for events the caller keeps
    /// included. A header with no limits thus reads without bound: open a
    /// trace from an untrusted source with [`Reader::open_capped`].
    pub fn open(src: R) -> Result<Self, TraceError> {
        Self::open_with(src, Limits::UNBOUNDED, true)
    }

    /// [`Reader::open`] under the reader's own `caps`: a trace whose header
    /// records a limit above its cap is refused
    /// ([`TraceErrorKind::OverReaderCap`]), except the `alloc_bytes` that a
    /// version 1 trace does not record (it is read under the cap instead),
    /// and decoding allocates at most the `alloc_bytes` cap, copies made
    /// for events or checkpoints the caller keeps included
    /// ([`TraceErrorKind::ReaderAllocCap`]; twice the cap with checkpoints).
    pub fn open_capped(src: R, caps: Limits) -> Result<Self, TraceError> {
        Self::open_with(src, caps, false)
    }

    /// [`Reader::open_capped`]; with `default_budget`, the `alloc_bytes`
    /// cap is the larger of the recorded and the default one instead.
    fn open_with(mut src: R, caps: Limits, default_budget: bool) -> Result<Self, TraceError> {
        let mut pre = [0u8; 10];
        let mut got = 0;
        while got < pre.len() {
            match src.read(&mut pre[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TraceError::new(e.into(), got as u64)),
            }
        }
        let magic_len = got.min(MAGIC.len());
        if pre[..magic_len] != MAGIC[..magic_len] {
            return Err(TraceError::new(TraceErrorKind::BadMagic, 0));
        }
        if got < pre.len() {
            return Err(TraceError::new(TraceErrorKind::Truncated, got as u64));
        }
        let version = u16::from_le_bytes([pre[8], pre[9]]);
        if !(OLDEST_TRACE_FORMAT_VERSION..=TRACE_FORMAT_VERSION).contains(&version) {
            return Err(TraceError::new(
                TraceErrorKind::UnsupportedVersion {
                    found: version,
                    supported: TRACE_FORMAT_VERSION,
                },
                8,
            ));
        }
        let mut s = Source {
            src,
            offset: pre.len() as u64,
            chain: [0; 32],
            chunks: 0,
            raw: Vec::new(),
            at: 0,
            stored: Vec::new(),
            chunk_offset: 0,
            prev_chain: [0; 32],
            event: 0,
            capture: false,
            captured: Vec::new(),
            footer: None,
            footer_len: footer_len(version),
            footer_body: [0; FOOTER_BODY_LEN],
            header_hash: [0; 32],
        };
        let mut hashed = pre.to_vec();
        let len = s.frame_varint(&mut hashed)?;
        if len > MAX_HEADER {
            return Err(TraceError::new(
                TraceErrorKind::TooLarge {
                    what: "header length",
                    value: len,
                    max: MAX_HEADER,
                },
                pre.len() as u64,
            ));
        }
        let header_at = s.offset;
        let got = (&mut s.src).take(len).read_to_end(&mut hashed);
        let got = got.map_err(|e| TraceError::new(e.into(), header_at))?;
        s.offset += got as u64;
        if (got as u64) < len {
            return Err(TraceError::new(TraceErrorKind::Truncated, s.offset));
        }
        let mut check = [0u8; 32];
        s.read_exact(&mut check)?;
        let header_hash = *blake3::hash(&hashed).as_bytes();
        if check != header_hash {
            return Err(TraceError::new(
                TraceErrorKind::HeaderHashMismatch,
                s.offset - 32,
            ));
        }
        let fields = &hashed[hashed.len() - len as usize..];
        let parsed = header::decode(fields, header_at, version)?;
        let recorded = parsed.header.limits;
        for limit in Limit::ALL {
            let unrecorded = version == 1 && limit == Limit::AllocBytes;
            if recorded.get(limit) > caps.get(limit) && !unrecorded {
                return Err(TraceError::new(
                    TraceErrorKind::OverReaderCap {
                        limit,
                        recorded: recorded.get(limit),
                        cap: caps.get(limit),
                    },
                    header_at,
                ));
            }
        }
        s.chain = header_hash;
        s.header_hash = header_hash;
        s.chunk_offset = s.offset;
        let budget = if default_budget {
            recorded.alloc_bytes.max(Limits::DEFAULT.alloc_bytes)
        } else {
            caps.alloc_bytes
        };
        let mut machine = Machine::new(parsed.module.module(), recorded, budget);
        machine.opened_paths = version >= super::OPENED_PATHS_SINCE;
        Ok(Reader {
            format_version: version,
            caps,
            header: parsed.header,
            module: parsed.module,
            header_hash,
            src: s,
            machine,
            error: None,
            counts: [0; 6],
            result: None,
            trap: None,
        })
    }

    /// The file's trace format version (see [`super::TRACE_FORMAT_VERSION`]).
    pub fn format_version(&self) -> u16 {
        self.format_version
    }

    /// The reader's caps (see [`Reader::open_capped`]).
    pub fn caps(&self) -> Limits {
        self.caps
    }

    /// The limits a re-execution of this trace runs under: the recorded
    /// ones, each at most the reader's cap (so a version 1 trace, which
    /// records no `alloc_bytes`, replays under the cap).
    pub fn replay_limits(&self) -> Limits {
        let (r, c) = (self.header.limits, self.caps);
        Limits {
            instructions: r.instructions.min(c.instructions),
            call_depth: r.call_depth.min(c.call_depth),
            registers: r.registers.min(c.registers),
            array_len: r.array_len.min(c.array_len),
            string_bytes: r.string_bytes.min(c.string_bytes),
            alloc_bytes: r.alloc_bytes.min(c.alloc_bytes),
        }
    }

    /// The header, as recorded.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// The embedded module, decoded and verified.
    pub fn module(&self) -> &VerifiedModule {
        &self.module
    }

    /// BLAKE3 of the preamble and header bytes: the start of the hash chain.
    pub fn header_hash(&self) -> Hash {
        self.header_hash
    }

    /// Events read so far.
    pub fn position(&self) -> u64 {
        self.machine.events
    }

    /// The call stack after the last event read, outermost frame first:
    /// each frame's function, pc (the instruction that runs next, or the
    /// call it is in) and registers. For debuggers: the registers at any
    /// event are the state after it.
    pub fn frames(&self) -> impl Iterator<Item = FrameState<'_>> + '_ {
        self.machine
            .frames()
            .map(|(func, pc, registers)| FrameState {
                func,
                pc,
                registers,
            })
    }

    /// Gives back the underlying input.
    pub fn into_inner(self) -> R {
        self.src.src
    }

    /// The footer, once the stream has been read to its end and checked.
    pub fn footer(&self) -> Option<Footer> {
        self.machine.done().then_some(self.src.footer).flatten()
    }

    /// The next event; `Ok(None)` once the whole trace has been read and
    /// its footer checked. After an error, every call returns that error.
    pub fn next_event(&mut self) -> Result<Option<Event>, TraceError> {
        let rec = self.next_rec()?;
        Ok(rec.map(|r| self.machine.event(r, self.module.module())))
    }

    /// An iterator over the remaining events; it ends after the first error.
    pub fn events(&mut self) -> Events<'_, R> {
        Events {
            reader: self,
            failed: false,
        }
    }

    /// The next record, counted.
    pub(super) fn next_rec(&mut self) -> Result<Option<Rec>, TraceError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.machine.next(&mut self.src, self.module.module()) {
            Ok(rec) => {
                if let Some(r) = &rec {
                    self.counts[r.kind() as usize] += 1;
                    match r {
                        Rec::End(Outcome::Returned(v)) => self.result = Some(v.clone()),
                        Rec::Trap(e) => self.trap = Some((**e).clone()),
                        _ => {}
                    }
                }
                Ok(rec)
            }
            Err(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The next record and, when capturing, the bytes it was read from
    /// (empty for an implied event).
    pub(super) fn next_rec_captured(&mut self) -> Result<Option<(Rec, Vec<u8>)>, TraceError> {
        self.src.capture = true;
        self.src.captured.clear();
        let rec = self.next_rec()?;
        let bytes = std::mem::take(&mut self.src.captured);
        Ok(rec.map(|r| (r, bytes)))
    }

    /// Dresses a record just read as an event.
    pub(super) fn dress(&self, rec: Rec) -> Event {
        self.machine.event(rec, self.module.module())
    }

    /// The summary of a trace read to its end.
    fn summary(&self) -> Summary {
        let footer = self.src.footer.unwrap_or(Footer {
            chunks: 0,
            events: 0,
            steps: 0,
            final_hash: [0; 32],
            signature: None,
        });
        Summary {
            events: self.machine.events,
            steps: self.machine.steps,
            chunks: footer.chunks,
            counts: EventCounts(self.counts),
            final_hash: footer.final_hash,
            header_hash: self.header_hash,
            signature: footer.signature,
            outcome: match (&self.result, &self.trap) {
                (_, Some(e)) => Err(e.clone()),
                (Some(v), None) => Ok(v.clone()),
                (None, None) => Ok(Value::Unit),
            },
        }
    }
}

/// One frame of the call stack, as the events so far left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameState<'a> {
    /// The function.
    pub func: u16,
    /// The next instruction to run (for a caller: its call instruction).
    pub pc: u16,
    /// The value of every register of the frame.
    pub registers: &'a [Value],
}

/// The events of a [`Reader`], as an iterator.
pub struct Events<'a, R> {
    reader: &'a mut Reader<R>,
    failed: bool,
}

impl<R: Read> Iterator for Events<'_, R> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.reader.next_event() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Event counts per [`EventKind`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCounts(pub(super) [u64; 6]);

impl EventCounts {
    /// The number of events of `kind`.
    pub fn get(&self, kind: EventKind) -> u64 {
        self.0[kind as usize]
    }

    /// `(kind, count)` for every kind.
    pub fn iter(&self) -> impl Iterator<Item = (EventKind, u64)> + '_ {
        EventKind::ALL.iter().map(|&k| (k, self.get(k)))
    }
}

/// What [`verify`] found in an intact trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Events, implied ones included.
    pub events: u64,
    /// Step events (instructions that completed).
    pub steps: u64,
    /// Chunks.
    pub chunks: u64,
    /// Events per kind.
    pub counts: EventCounts,
    /// The end of the hash chain (as in the footer).
    pub final_hash: Hash,
    /// The start of the hash chain (BLAKE3 of preamble and header).
    pub header_hash: Hash,
    /// The footer's signature, checked: `Some` only for a trace validly
    /// signed by that key (whether the key is trusted is the caller's call).
    pub signature: Option<Signature>,
    /// The recorded result, or the recorded runtime error.
    pub outcome: Result<Value, RuntimeError>,
}

/// Checks a whole trace in one streaming pass with bounded memory: the
/// header (checksum, embedded hashes, module, code map), every chunk's link
/// in the hash chain, every event's structure and consistency with the
/// module, and the footer (counts and final hash). Any modification,
/// reordering or truncation fails with a precise [`TraceError`].
///
/// ```
/// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
/// use chronicle_core::trace::{self, TraceErrorKind, TraceHeader};
/// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
/// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
/// #     lines: vec![1, 1] };
/// # let module = Module { funcs: vec![main], ..Module::default() };
/// let bytes = trace::record(chronicle_core::vm::NoHost, TraceHeader::new(&module), Vec::new())?
///     .trace
///     .writer;
/// let summary = trace::verify(&bytes[..])?;
/// assert_eq!((summary.events, summary.steps), (5, 2));
/// let cut = trace::verify(&bytes[..bytes.len() - 1]).unwrap_err();
/// assert_eq!(cut.kind, TraceErrorKind::Truncated);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify<R: Read>(src: R) -> Result<Summary, TraceError> {
    let mut r = Reader::open(src)?;
    while r.next_rec()?.is_some() {}
    Ok(r.summary())
}

/// [`verify`] under the reader's own `caps` (see [`Reader::open_capped`]).
pub fn verify_capped<R: Read>(src: R, caps: Limits) -> Result<Summary, TraceError> {
    let mut r = Reader::open_capped(src, caps)?;
    while r.next_rec()?.is_some() {}
    Ok(r.summary())
}
