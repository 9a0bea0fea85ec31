//! Seeking in a trace: [`Checkpoint`]s of a [`Reader`]'s whole state, to
//! restore later on a seekable input and read on from there.
//!
//! A debugger takes a checkpoint every few thousand events on one forward
//! pass, then answers "go to event N" by restoring the nearest checkpoint
//! before N and reading forward: the cost of a jump is bounded by the
//! checkpoint interval, not by N.
//!
//! A checkpoint holds where the byte stream stands (the file offset of the
//! current chunk, the hash chain before it, the offset within it) and the
//! decoding machine's state (every live frame's registers, the predictors).
//! Restoring re-reads that one chunk and checks its link in the hash chain
//! again, so a file changed since the checkpoint was taken is detected, not
//! misread. Register values are shared with the reader (reference-counted),
//! so a checkpoint costs a copy of a value only once the run mutates it.
//!
//! ```
//! # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
//! use chronicle_core::trace::{self, Reader, TraceHeader};
//! # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int, Type::Int],
//! #     ret: Some(Type::Int),
//! #     code: vec![Instr::LoadInt { d: 0, imm: 40 }, Instr::AddImm { d: 1, a: 0, imm: 2 },
//! #                Instr::Ret { a: 1 }],
//! #     lines: vec![1, 1, 1] };
//! # let module = Module { funcs: vec![main], ..Module::default() };
//! let bytes = trace::record(chronicle_core::vm::NoHost, TraceHeader::new(&module), Vec::new())?
//!     .trace
//!     .writer;
//! let mut reader = Reader::open(std::io::Cursor::new(&bytes))?;
//! reader.next_event()?;
//! let at_one = reader.checkpoint();
//! let second = reader.next_event()?;
//! while reader.next_event()?.is_some() {}
//! reader.restore(&at_one)?;
//! assert_eq!(reader.position(), 1);
//! assert_eq!(reader.next_event()?, second);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::error::{TraceError, TraceErrorKind};
use super::event::Event;
use super::header::Hash;
use super::machine::{MachineState, Rec};
use super::reader::{Footer, Reader};
use crate::value::{Array, Value};
use crate::vm::RuntimeError;
use std::io::{Read, Seek, SeekFrom};

/// A [`Reader`]'s state between two events; see the [module docs](self).
#[derive(Clone)]
pub struct Checkpoint {
    /// File offset of the next byte to read.
    offset: u64,
    /// The hash chain after the chunks read so far.
    chain: Hash,
    /// Chunks read so far.
    chunks: u64,
    /// The chunk being decoded, if one is loaded: its file offset, the hash
    /// chain before it, and how many of its bytes were consumed.
    chunk: Option<(u64, Hash, usize)>,
    footer: Option<Footer>,
    machine: MachineState,
    counts: [u64; 6],
    result: Option<Value>,
    trap: Option<RuntimeError>,
}

impl Checkpoint {
    /// The number of events read before this checkpoint: the index of the
    /// event the restored reader returns next.
    pub fn position(&self) -> u64 {
        self.machine.events
    }

    /// An upper bound of the bytes this checkpoint can come to hold, if
    /// every value it shares with the reader were copied (for callers that
    /// budget their checkpoints).
    pub fn approx_bytes(&self) -> usize {
        fn size(v: &Value) -> usize {
            16 + match v {
                Value::Str(s) => s.len(),
                Value::Array(a) => match &**a {
                    Array::Int(x) => 8 * x.len(),
                    Array::Bool(x) => x.len(),
                    Array::Ref(x) => x.iter().map(size).sum(),
                },
                _ => 0,
            }
        }
        std::mem::size_of::<Self>() + self.machine.approx_bytes(size)
    }
}

impl<R: Read> Reader<R> {
    /// The reader's state now, to [`restore`](Reader::restore) later.
    pub fn checkpoint(&self) -> Checkpoint {
        let s = &self.src;
        Checkpoint {
            offset: s.offset,
            chain: s.chain,
            chunks: s.chunks,
            chunk: (!s.raw.is_empty()).then_some((s.chunk_offset, s.prev_chain, s.at)),
            footer: s.footer,
            machine: self.machine.snapshot(),
            counts: self.counts,
            result: self.result.clone(),
            trap: self.trap.clone(),
        }
    }
}

impl<R: Read> Reader<R> {
    /// Reads on until [`position`](Reader::position) is `index` (or the
    /// trace ends), without making an [`Event`](super::Event) of what it
    /// passes: every chunk's hash is checked and every record decoded and
    /// counted as [`next_event`](Reader::next_event) would (the same
    /// checks, the same errors at the same events), only cheaper.
    /// Returns the position reached; `Ok` below `index` means the whole
    /// trace was read and its footer checked. After an error, every call
    /// returns that error.
    pub fn skip_to(&mut self, index: u64) -> Result<u64, TraceError> {
        while self.machine.events < index {
            if self.next_rec()?.is_none() {
                break;
            }
            // Charged as `next_event` charges: the same errors at the same
            // events (see the machine's reader's cap).
            self.machine.as_if_handed_out();
        }
        Ok(self.machine.events)
    }

    /// The next event that is not a step, or the `n`th step from here if
    /// it comes first (`n` = 1: the next event, as
    /// [`next_event`](Reader::next_event)); the steps before it are read as
    /// [`skip_to`](Reader::skip_to) reads them, never made into events.
    /// For a consumer of calls and capability calls that only counts steps
    /// ([`position`](Reader::position) and [`counts`](Reader::counts) say
    /// where it stands).
    pub fn next_event_or_nth_step(&mut self, n: u64) -> Result<Option<Event>, TraceError> {
        let mut left = n.max(1);
        loop {
            match self.next_rec()? {
                None => return Ok(None),
                Some(Rec::Step { .. }) if left > 1 => {
                    left -= 1;
                    self.machine.as_if_handed_out();
                }
                Some(rec) => return Ok(Some(self.dress(rec))),
            }
        }
    }

    /// How the run ended, once its end event has been read: the value
    /// returned, or the runtime error that stopped it.
    pub fn ended(&self) -> Option<Result<Value, RuntimeError>> {
        if self.counts[super::EventKind::End as usize] == 0 {
            return None;
        }
        match (&self.result, &self.trap) {
            (_, Some(t)) => Some(Err(t.clone())),
            (Some(v), None) => Some(Ok(v.clone())),
            (None, None) => None,
        }
    }

    /// How many events of each kind were read so far.
    pub fn counts(&self) -> super::reader::EventCounts {
        super::reader::EventCounts(self.counts)
    }
}

impl<R: Read + Seek> Reader<R> {
    /// Puts the reader back where [`checkpoint`](Reader::checkpoint) was
    /// called (on this trace): the next event read is the one that followed
    /// then. The chunk being decoded is read again and its hash-chain link
    /// checked again.
    pub fn restore(&mut self, cp: &Checkpoint) -> Result<(), TraceError> {
        let s = &mut self.src;
        let seek_to = |s: &mut super::reader::Source<R>, at: u64| {
            s.src
                .seek(SeekFrom::Start(at))
                .map_err(|e| TraceError::new(e.into(), at))?;
            s.offset = at;
            Ok::<(), TraceError>(())
        };
        s.footer = None;
        match cp.chunk {
            Some((start, prev_chain, at)) => {
                seek_to(s, start)?;
                s.chain = prev_chain;
                s.chunks = cp.chunks.saturating_sub(1);
                s.next_frame()?;
                if s.chain != cp.chain || s.offset != cp.offset || at > s.raw.len() {
                    return Err(TraceError::new(
                        TraceErrorKind::BadChunk {
                            chunk: s.chunks,
                            what: "the chunk changed since the checkpoint",
                        },
                        start,
                    ));
                }
                s.at = at;
            }
            None => {
                seek_to(s, cp.offset)?;
                s.chain = cp.chain;
                s.chunks = cp.chunks;
                s.raw.clear();
                s.at = 0;
            }
        }
        s.footer = cp.footer;
        self.machine.restore(&cp.machine);
        self.counts = cp.counts;
        self.result.clone_from(&cp.result);
        self.trap.clone_from(&cp.trap);
        self.error = None;
        Ok(())
    }
}
