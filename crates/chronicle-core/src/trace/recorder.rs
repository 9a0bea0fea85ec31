//! The recorder: an [`Observer`] that streams a run into a `.ctrace`.

use super::effect::{code_map, ExecMap};
use super::encode::Encoder;
use super::error::RecordError;
use super::header::{self, Hash, TraceHeader};
use super::sign::{SecretKey, Signature};
use super::writer::{ChunkWriter, RecorderOptions};
use crate::format;
use crate::isa::Instr;
use crate::value::Value;
use crate::verify::{verify, VerifiedModule};
use crate::vm::{CapabilityError, FrameView, Host, Observer, RuntimeError, Vm};
use std::io::{self, Write};

/// Records one run into a trace written to `W`, as it happens.
///
/// [`Recorder::new`] writes the header at once; the hooks append events in
/// chunks of at most 64 KiB; [`Recorder::finish`] writes the end of the run
/// and the footer. A recorder dropped without `finish` (a crash, a kill)
/// leaves a file that every reader reports as truncated. `finish` works as
/// well after a runtime error or a limit as after a result.
///
/// Use it as the observer of a [`Vm`] (by value, or as `&mut Recorder`), or
/// let [`record`](super::record) do everything.
///
/// ```
/// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
/// use chronicle_core::trace::{Recorder, TraceHeader};
/// use chronicle_core::vm::{NoHost, Vm};
/// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
/// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
/// #     lines: vec![1, 1] };
/// # let module = Module { funcs: vec![main], ..Module::default() };
/// let header = TraceHeader::new(&module);
/// let mut recorder = Recorder::new(Vec::new(), header)?;
/// let verified = recorder.module().clone();
/// let limits = recorder.header().limits;
/// let outcome = Vm::with_observer(&verified, limits, NoHost, &mut recorder).run();
/// let finished = recorder.finish(&outcome)?;
/// assert_eq!(finished.events, 5); // enter, 2 steps, return, end
/// assert!(chronicle_core::trace::verify(&finished.writer[..]).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Recorder<W: Write> {
    header: TraceHeader,
    module: VerifiedModule,
    enc: Encoder,
    out: Option<ChunkWriter<W>>,
    /// The buffer length that triggers writing chunks (the chunk size).
    flush_at: usize,
    error: Option<io::Error>,
    key: Option<SecretKey>,
}

/// What [`Recorder::finish`] wrote.
#[derive(Debug)]
pub struct Finished<W> {
    /// The writer, flushed.
    pub writer: W,
    /// Events recorded (implied ones included; see `docs/TRACE_FORMAT.md`).
    pub events: u64,
    /// Step events recorded (instructions that completed).
    pub steps: u64,
    /// Chunks written.
    pub chunks: u64,
    /// Bytes written in all.
    pub bytes: u64,
    /// The end of the hash chain, as in the footer: publish or sign it to
    /// make later substitution of the whole file detectable.
    pub final_hash: Hash,
    /// The footer's signature, if the recorder signed ([`Recorder::sign_with`]).
    pub signature: Option<Signature>,
}

impl<W: Write> Recorder<W> {
    /// Starts a trace of a run of `header.module` on `writer`, with the
    /// default options, and writes the header.
    pub fn new(writer: W, header: TraceHeader) -> Result<Self, RecordError> {
        Recorder::with_options(writer, header, RecorderOptions::default())
    }

    /// [`Recorder::new`] with explicit chunking options.
    pub fn with_options(
        writer: W,
        header: TraceHeader,
        options: RecorderOptions,
    ) -> Result<Self, RecordError> {
        let module = format::decode(&header.module).map_err(RecordError::BadModule)?;
        let module = verify(module).map_err(RecordError::UnverifiableModule)?;
        let map = ExecMap::new(module.module());
        let fields = header::encode(&header, &code_map(module.module(), &map));
        let out = ChunkWriter::start(writer, &fields, options)?;
        Ok(Recorder {
            header,
            module,
            enc: Encoder::new(map),
            flush_at: out.chunk_size(),
            out: Some(out),
            error: None,
            key: None,
        })
    }

    /// The module being recorded, decoded and verified from the header: run
    /// this one, so that the trace and the run agree.
    pub fn module(&self) -> &VerifiedModule {
        &self.module
    }

    /// Signs the trace with `key` when it is finished: the footer then
    /// names the key and carries an ed25519 signature of the header hash
    /// and the footer's counts and final hash (see [`SecretKey`]).
    ///
    /// ```
    /// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
    /// use chronicle_core::trace::{self, Recorder, SecretKey, TraceHeader};
    /// use chronicle_core::vm::{NoHost, Vm};
    /// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
    /// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
    /// #     lines: vec![1, 1] };
    /// # let module = Module { funcs: vec![main], ..Module::default() };
    /// let key = SecretKey::from_seed([42; 32]); // use a random seed
    /// let mut recorder = Recorder::new(Vec::new(), TraceHeader::new(&module))?;
    /// recorder.sign_with(key.clone());
    /// let verified = recorder.module().clone();
    /// let limits = recorder.header().limits;
    /// let outcome = Vm::with_observer(&verified, limits, NoHost, &mut recorder).run();
    /// let bytes = recorder.finish(&outcome)?.writer;
    /// // Verification checks the signature; the summary names the key.
    /// let summary = trace::verify(&bytes[..])?;
    /// assert_eq!(summary.signature.map(|s| s.key), Some(key.public_key()));
    /// // Any altered byte, the signature's included, fails verification.
    /// let mut forged = bytes.clone();
    /// let last = forged.len() - 1;
    /// forged[last] ^= 1;
    /// assert!(trace::verify(&forged[..]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign_with(&mut self, key: SecretKey) {
        self.key = Some(key);
    }

    /// The header as written.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// Events recorded so far.
    pub fn events(&self) -> u64 {
        self.enc.events
    }

    /// Writes the end of the run (`outcome`, as the VM returned it) and the
    /// footer, and gives the writer back.
    ///
    /// Fails if a write failed earlier (the trace then reads as truncated),
    /// or if `outcome` is not what the observed run produced.
    pub fn finish(
        mut self,
        outcome: &Result<Value, RuntimeError>,
    ) -> Result<Finished<W>, RecordError> {
        if let Some(e) = self.error.take() {
            return Err(RecordError::Io(e));
        }
        self.enc.end(outcome).map_err(RecordError::Misuse)?;
        let out = self
            .out
            .take()
            .ok_or(RecordError::Misuse("finished twice"))?;
        let (writer, totals) = out.finish(
            &mut self.enc.buf,
            self.enc.events,
            self.enc.steps,
            self.key.as_ref(),
        )?;
        Ok(Finished {
            writer,
            events: self.enc.events,
            steps: self.enc.steps,
            chunks: totals.chunks,
            bytes: totals.bytes,
            final_hash: totals.final_hash,
            signature: totals.signature,
        })
    }

    /// Writes out full chunks once the buffer holds one.
    #[inline(always)]
    fn flush(&mut self) {
        if self.enc.buf.len() >= self.flush_at {
            self.flush_chunks();
        }
    }

    #[inline(never)]
    fn flush_chunks(&mut self) {
        match &mut self.out {
            Some(out) => {
                if let Err(e) = out.flush_full(&mut self.enc.buf) {
                    // Stop writing: the file stays truncated, and finish reports it.
                    self.error.get_or_insert(e);
                    self.out = None;
                }
            }
            None => self.enc.buf.clear(),
        }
    }
}

impl<W: Write> Observer for Recorder<W> {
    #[inline]
    fn enter(&mut self, _func: u16, _frame: FrameView<'_>) {
        self.enc.enter();
    }

    #[inline(always)]
    fn step(&mut self, func: u16, pc: u16, instr: Instr, frame: FrameView<'_>) {
        self.enc.step(func, pc, instr, frame);
        self.flush();
    }

    #[inline]
    fn exit(&mut self, _func: u16, _value: &Value) {
        self.enc.exit();
    }

    fn capability(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
    ) {
        self.capability_opened(import, args, outcome, None);
    }

    /// Records the call with the path it opened, if the host reported one.
    fn capability_opened(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
        opened: Option<&str>,
    ) {
        self.enc.capability(import, args, outcome, opened);
        self.flush();
    }

    fn trap(&mut self, error: &RuntimeError) {
        self.enc.trap(error);
        self.flush();
    }
}

impl<W: Write> Observer for &mut Recorder<W> {
    #[inline]
    fn enter(&mut self, func: u16, frame: FrameView<'_>) {
        (**self).enter(func, frame)
    }
    #[inline(always)]
    fn step(&mut self, func: u16, pc: u16, instr: Instr, frame: FrameView<'_>) {
        (**self).step(func, pc, instr, frame)
    }
    #[inline]
    fn exit(&mut self, func: u16, value: &Value) {
        (**self).exit(func, value)
    }
    fn capability(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
    ) {
        (**self).capability(import, args, outcome)
    }
    fn capability_opened(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
        opened: Option<&str>,
    ) {
        (**self).capability_opened(import, args, outcome, opened)
    }
    fn trap(&mut self, error: &RuntimeError) {
        (**self).trap(error)
    }
}

/// A recorded run: its outcome and what the recorder wrote.
#[derive(Debug)]
pub struct Recording<W> {
    /// The run's result or runtime error.
    pub outcome: Result<Value, RuntimeError>,
    /// The finished trace.
    pub trace: Finished<W>,
}

/// Runs `header.module` within `header.limits` against `host`, recording
/// the run into `writer`: [`Recorder`] and [`Vm`] in one call.
///
/// ```
/// # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
/// use chronicle_core::trace::{self, TraceHeader};
/// use chronicle_core::{vm::NoHost, Value};
/// # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
/// #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
/// #     lines: vec![1, 1] };
/// # let module = Module { funcs: vec![main], ..Module::default() };
/// let mut header = TraceHeader::new(&module);
/// header.plugin_name = "seven".into();
/// let recording = trace::record(NoHost, header, Vec::new())?;
/// assert_eq!(recording.outcome, Ok(Value::Int(7)));
/// let bytes = recording.trace.writer;
/// let report = trace::replay(std::io::Cursor::new(&bytes))?;
/// assert_eq!(report.outcome, Ok(Value::Int(7)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn record<H: Host, W: Write>(
    host: H,
    header: TraceHeader,
    writer: W,
) -> Result<Recording<W>, RecordError> {
    record_with(host, header, writer, RecorderOptions::default())
}

/// [`record`] with explicit chunking options.
pub fn record_with<H: Host, W: Write>(
    host: H,
    header: TraceHeader,
    writer: W,
    options: RecorderOptions,
) -> Result<Recording<W>, RecordError> {
    let mut recorder = Recorder::with_options(writer, header, options)?;
    let module = recorder.module.clone();
    let limits = recorder.header.limits;
    let outcome = Vm::with_observer(&module, limits, host, &mut recorder).run();
    let trace = recorder.finish(&outcome)?;
    Ok(Recording { outcome, trace })
}
