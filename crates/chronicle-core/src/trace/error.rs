//! Trace errors: why a `.ctrace` cannot be read or trusted, and where; why a
//! recording could not be written.

use crate::format::DecodeError;
use crate::limits::Limit;
use crate::verify::VerifyError;
use std::fmt;
use std::io;
use thiserror::Error;

/// Why a byte stream is not a valid, intact trace, and where.
///
/// `offset` is a byte offset in the trace file. For a problem inside an
/// event it is the offset of the chunk that holds the event's first byte,
/// since chunk payloads may be compressed; the kind then names the event.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{kind} (at byte {offset})")]
pub struct TraceError {
    /// What is wrong.
    pub kind: TraceErrorKind,
    /// Where it was found.
    pub offset: u64,
}

impl TraceError {
    /// An error of `kind` found at `offset`.
    pub fn new(kind: TraceErrorKind, offset: u64) -> Self {
        TraceError { kind, offset }
    }

    /// True when the reader refused the trace for its own caps (a recorded
    /// limit above a cap, or decoding that needs more than the cap): the
    /// trace may be intact; a reader with higher caps may read it.
    pub fn is_reader_cap(&self) -> bool {
        matches!(
            self.kind,
            TraceErrorKind::OverReaderCap { .. } | TraceErrorKind::ReaderAllocCap { .. }
        )
    }

    /// True for the failures an interrupted write produces: the input ends
    /// before the footer.
    pub fn is_truncation(&self) -> bool {
        matches!(self.kind, TraceErrorKind::Truncated)
    }

    /// True for failures of the integrity data (the header checksum, the
    /// hash chain, the footer): the bytes were altered, reordered or cut.
    pub fn is_integrity(&self) -> bool {
        matches!(
            self.kind,
            TraceErrorKind::Truncated
                | TraceErrorKind::HeaderHashMismatch
                | TraceErrorKind::ContentHashMismatch { .. }
                | TraceErrorKind::HashMismatch { .. }
                | TraceErrorKind::BadFooter { .. }
                | TraceErrorKind::FooterMismatch { .. }
                | TraceErrorKind::FinalHashMismatch
                | TraceErrorKind::BadSignature { .. }
                | TraceErrorKind::TrailingBytes
        )
    }
}

/// The kinds of [`TraceError`]. Display strings are one line, without the offset.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TraceErrorKind {
    /// Reading the input failed (other than by ending early).
    #[error("read error: {message}")]
    Io {
        /// The I/O error's kind.
        kind: io::ErrorKind,
        /// Its message.
        message: String,
    },
    /// The input does not start with the trace magic number.
    #[error("not a ChronicleVM trace (bad magic number)")]
    BadMagic,
    /// The trace format version is not one this build reads.
    #[error("{}", unsupported(*.found, *.supported, "trace format"))]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The embedded module uses a bytecode format version this build does not run.
    #[error("{}", unsupported(*.found, *.supported, "bytecode format"))]
    UnsupportedModuleVersion {
        /// The version in the header.
        found: u16,
        /// The version this build runs.
        supported: u16,
    },
    /// The input ends before the footer: an interrupted or cut-off write.
    #[error("truncated trace: the input ends before the footer (an interrupted write?)")]
    Truncated,
    /// Bytes follow the footer.
    #[error("trailing bytes after the footer")]
    TrailingBytes,
    /// A varint is overlong, non-minimal or wider than 64 bits.
    #[error("malformed varint")]
    BadVarint,
    /// A count, length or value exceeds what the format allows.
    #[error("{what} {value} exceeds the maximum {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The largest value allowed here.
        max: u64,
    },
    /// A string is not UTF-8.
    #[error("invalid UTF-8 in {what}")]
    InvalidUtf8 {
        /// Which string.
        what: &'static str,
    },
    /// An unknown tag.
    #[error("unknown {what} tag {tag}")]
    BadTag {
        /// Which kind of tag.
        what: &'static str,
        /// The tag found.
        tag: u64,
    },
    /// The header is malformed: a field is missing, repeated, out of order or
    /// of the wrong length.
    #[error("malformed header: {what}")]
    BadHeader {
        /// What is wrong.
        what: &'static str,
    },
    /// The header's checksum does not match: the header was altered.
    #[error("header checksum mismatch: the header was altered or corrupted")]
    HeaderHashMismatch,
    /// An embedded text or module does not match the hash recorded beside it.
    #[error("the embedded {what} does not match its recorded BLAKE3 hash")]
    ContentHashMismatch {
        /// `module`, `source` or `policy`.
        what: &'static str,
    },
    /// The embedded module does not decode.
    #[error("the embedded module does not decode: {0}")]
    BadModule(Box<DecodeError>),
    /// The embedded module does not verify.
    #[error("the embedded module does not verify: {0}")]
    UnverifiableModule(Box<VerifyError>),
    /// The header's code map is not the one the embedded module implies.
    #[error("the header's code map does not match the embedded module")]
    CodeMapMismatch,
    /// A chunk frame is malformed (bad lengths, undecodable compression).
    #[error("malformed chunk {chunk}: {what}")]
    BadChunk {
        /// The chunk's index (0-based).
        chunk: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A chunk's hash-chain value does not match its bytes and the chain so
    /// far: the chunk (or one before it, or the header) was altered, removed
    /// or reordered.
    #[error("hash chain mismatch at chunk {chunk} (events from #{first_event}): the trace was altered, reordered or corrupted")]
    HashMismatch {
        /// The chunk's index (0-based).
        chunk: u64,
        /// The index of the first event that starts in this chunk (or the
        /// next event to be read).
        first_event: u64,
    },
    /// An event is malformed or inconsistent with the module and the events
    /// before it. With an intact hash chain this means the writer was faulty.
    #[error("malformed event #{event}: {what}")]
    BadEvent {
        /// The event's index (0-based).
        event: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The footer is malformed or misplaced.
    #[error("bad footer: {what}")]
    BadFooter {
        /// What is wrong.
        what: &'static str,
    },
    /// A footer count disagrees with the stream.
    #[error("footer says {recorded} {what} but the stream has {actual}")]
    FooterMismatch {
        /// `chunks`, `events` or `steps`.
        what: &'static str,
        /// The footer's number.
        recorded: u64,
        /// The number counted.
        actual: u64,
    },
    /// The footer's final hash is not the end of the hash chain.
    #[error("the footer's final hash does not match the hash chain")]
    FinalHashMismatch,
    /// The footer's signature is not a valid signature of this trace by
    /// the key it names: the trace was altered after it was signed.
    #[error(
        "the footer's signature by {key} does not verify: the trace was altered after signing"
    )]
    BadSignature {
        /// The named key's fingerprint.
        key: String,
    },
    /// The header records a limit above the reader's cap for it: the
    /// reader refuses the trace before decoding any event.
    #[error("the trace's recorded {limit} limit {recorded} is above this reader's cap {cap}")]
    OverReaderCap {
        /// The limit.
        limit: Limit,
        /// Its value in the header.
        recorded: u64,
        /// The reader's cap.
        cap: u64,
    },
    /// Decoding needs more bytes than the reader's `alloc_bytes` cap: every
    /// copy the reader makes counts, including copies of values that events or
    /// checkpoints the caller keeps still share.
    #[error("reading event #{event} needs more than this reader's alloc_bytes cap of {cap} bytes")]
    ReaderAllocCap {
        /// The event being decoded.
        event: u64,
        /// The cap.
        cap: u64,
    },
}

fn unsupported(found: u16, supported: u16, what: &str) -> String {
    let why = if found > supported {
        "written by a newer ChronicleVM: upgrade to read it"
    } else {
        "not a version this build knows"
    };
    format!("unsupported {what} version {found} ({why}; this build reads version {supported})")
}

impl From<io::Error> for TraceErrorKind {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            TraceErrorKind::Truncated
        } else {
            TraceErrorKind::Io {
                kind: e.kind(),
                message: e.to_string(),
            }
        }
    }
}

/// Why a recording could not be made or finished.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Writing the trace failed; the file is incomplete (and reads as truncated).
    #[error("writing the trace failed: {0}")]
    Io(#[from] io::Error),
    /// The header's module bytes do not decode.
    #[error("the header's module does not decode: {0}")]
    BadModule(DecodeError),
    /// The header's module does not verify.
    #[error("the header's module does not verify: {0}")]
    UnverifiableModule(VerifyError),
    /// The header cannot be represented (e.g. a field too large).
    #[error("the header cannot be written: {0}")]
    BadHeader(&'static str),
    /// The recorder was used in a way that cannot give a valid trace: it saw
    /// hooks of a different module, a second run, or an outcome that the
    /// observed run did not produce.
    #[error("recorder misuse: {0}")]
    Misuse(&'static str),
}

/// Lowercase hexadecimal of a hash, for reports.
pub fn hex(bytes: &[u8]) -> String {
    struct Hex<'a>(&'a [u8]);
    impl fmt::Display for Hex<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
    Hex(bytes).to_string()
}
