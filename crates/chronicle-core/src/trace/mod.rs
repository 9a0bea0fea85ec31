//! Traces (`.ctrace`): recording a run, reading and verifying a recording,
//! and replaying it without a live host.
//!
//! A trace is self-contained: its header holds the provenance (tool, plugin,
//! policy, negotiated capabilities, limits, host, time) and the module and
//! source themselves; its events say, per executed instruction, which
//! registers changed to what, plus every call, return, capability call
//! (arguments and result or error), runtime error and the end of the run.
//! A BLAKE3 hash chain over the chunks and a footer (event count, final
//! hash) make any modification, reordering or truncation detectable; an
//! ed25519 signature in the footer (from version 4, optional; see
//! [`SecretKey`] and [`Recorder::sign_with`]) says which key sealed it. The
//! byte layout is specified in `docs/TRACE_FORMAT.md`, precisely enough for
//! an independent reader.
//!
//! ```text
//!  Vm + Recorder (Observer) ──> .ctrace ──> Reader::open ─> header(), events()
//!                                        ├─> verify()  ─> Summary | TraceError
//!                                        └─> replay()  ─> ReplayReport | Divergence
//! ```
//!
//! ```
//! # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
//! use chronicle_core::trace::{self, Event, Reader, TraceHeader};
//! use chronicle_core::{vm::NoHost, Value};
//! # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int, Type::Int],
//! #     ret: Some(Type::Int),
//! #     code: vec![Instr::LoadInt { d: 0, imm: 40 }, Instr::AddImm { d: 1, a: 0, imm: 2 },
//! #                Instr::Ret { a: 1 }],
//! #     lines: vec![1, 1, 1] };
//! # let module = Module { funcs: vec![main], ..Module::default() };
//! // Record a run of `module` (here: `return 40 + 2;`).
//! let mut header = TraceHeader::new(&module);
//! header.plugin_name = "answer".into();
//! let recording = trace::record(NoHost, header, Vec::new())?;
//! assert_eq!(recording.outcome, Ok(Value::Int(42)));
//! let bytes = recording.trace.writer;
//!
//! // Check it, read it, replay it.
//! assert_eq!(trace::verify(&bytes[..])?.steps, 3);
//! let mut reader = Reader::open(&bytes[..])?;
//! assert_eq!(reader.header().plugin_name, "answer");
//! let second = reader.events().nth(2).unwrap()?;
//! assert_eq!(second.to_string(), "step f0 pc 1 (line 1) r1 = 42");
//! assert!(matches!(second, Event::Step { .. }));
//! assert_eq!(trace::replay(std::io::Cursor::new(&bytes))?.outcome, Ok(Value::Int(42)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Invariants:** this module uses only the public observer, host, value
//! and module APIs, never VM internals. Recording allocates nothing per
//! event and holds at most one chunk; reading holds at most one chunk plus
//! what the recorded run held. Nothing here reads a clock: the recording
//! time is given by the caller. Event tags are append-only, and
//! [`TRACE_FORMAT_VERSION`] changes whenever an older reader would misread a
//! newer trace; readers refuse versions they do not know.

mod effect;
mod encode;
mod error;
mod event;
mod header;
mod machine;
mod reader;
mod recorder;
mod replay;
mod seek;
mod sign;
#[cfg(feature = "testing")]
pub mod testing;
mod wire;
mod writer;

pub use error::{hex, RecordError, TraceError, TraceErrorKind};
pub use event::{Collector, Event, EventKind, Outcome, Writes};
pub use header::{Decision, Hash, NegotiatedEntry, TraceHeader};
pub use reader::{verify, verify_capped, EventCounts, Events, Footer, FrameState, Reader, Summary};
pub use recorder::{record, record_with, Finished, Recorder, Recording};
pub use replay::{
    replay, replay_calls, replay_capped_with, replay_with, AnsweredCall, Divergence, OnAnswered,
    OnCall, ReplayError, ReplayReport,
};
pub use seek::Checkpoint;
pub use sign::{signed_message, KeyError, PublicKey, SecretKey, Signature, SIGNATURE_SINCE};
pub use writer::RecorderOptions;

/// The first bytes of every `.ctrace` file.
pub const MAGIC: [u8; 8] = *b"CHRTRACE";

/// The trace format version this build writes, and the newest it reads.
///
/// Version 2 added the `alloc_bytes` limit to the header's limits field;
/// a version 1 trace has none (its run was not bounded by it). Version 3
/// added the `CAP_OK_OPENED` record (a successful capability call with the
/// path it opened) and charges capability calls fuel for their bytes.
/// Version 4 added the footer's signature block ([`Signature`]): a trace
/// may be signed by an ed25519 key.
pub const TRACE_FORMAT_VERSION: u16 = 4;

/// The first trace format version that records what a capability call
/// opened ([`Event::Capability`]'s `opened`); older traces never say.
pub const OPENED_PATHS_SINCE: u16 = 3;

/// The oldest trace format version this build reads.
pub const OLDEST_TRACE_FORMAT_VERSION: u16 = 1;

/// The largest raw (uncompressed) chunk payload, and the writer's default.
pub const MAX_CHUNK: usize = 64 * 1024;

/// The largest header a reader accepts (the module, source and policy are in it).
pub const MAX_HEADER: u64 = 1 << 30;

/// Frame kind: a chunk stored as is.
const CHUNK_RAW: u8 = 0x01;
/// Frame kind: a chunk stored as one LZ4 block.
const CHUNK_LZ4: u8 = 0x02;
/// Frame kind: the footer.
const FOOTER: u8 = 0xFF;
/// The footer's length from version 4 on: kind, three `u64`s, the final
/// hash ([`FOOTER_BODY_LEN`]), then the signature block (a kind byte, the
/// public key and the signature; zeros when unsigned).
pub const FOOTER_LEN: usize = FOOTER_BODY_LEN + 1 + 32 + 64;

/// The footer's length before version 4, and the part of a version 4
/// footer that a signature signs: kind, three `u64`s and the final hash.
pub const FOOTER_BODY_LEN: usize = 1 + 8 * 3 + 32;

/// The footer's length in a trace of format `version`.
pub const fn footer_len(version: u16) -> usize {
    if version >= SIGNATURE_SINCE {
        FOOTER_LEN
    } else {
        FOOTER_BODY_LEN
    }
}

/// Signature block kind: unsigned (key and signature all zero).
const SIG_NONE: u8 = 0x00;
/// Signature block kind: an ed25519 signature.
const SIG_ED25519: u8 = 0x01;
