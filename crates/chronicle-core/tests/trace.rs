//! Traces: recording, reading, integrity and replay, as a user of the
//! `chronicle_core::trace` API sees them.
//!
//! The modules are built in Rust: the four benchmark workloads (fib, loop,
//! sieve, strings, as in `crates/chronicle-bench/workloads/*.chasm`), an
//! audit-like plugin that uses capabilities, strings, arrays and calls, and
//! small programs that fail. The golden traces under `tests/golden/` guard
//! the format: they must keep verifying and replaying, and recording them
//! again must give the same bytes (`CHRONICLE_BLESS=1` rewrites them after
//! a deliberate, versioned format change).

use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Import, Module};
use chronicle_core::testing::proptest_cases;
use chronicle_core::testing::valid_module;
use chronicle_core::trace::{
    self, testing, Collector, Decision, Event, EventKind, NegotiatedEntry, Reader, RecordError,
    RecorderOptions, ReplayError, SecretKey, TraceError, TraceErrorKind, TraceHeader,
    TRACE_FORMAT_VERSION,
};
use chronicle_core::types::{Signature, Type, Version};
use chronicle_core::value::Array;
use chronicle_core::vm::{CapabilityError, Host, NoHost, RuntimeError, TrapKind, Vm};
use chronicle_core::{verify, Limit, Limits, Value};
use proptest::prelude::*;
use std::cell::{Cell, RefCell};
use std::io::{self, Cursor, Write};
use std::path::PathBuf;
use std::rc::Rc;

// ---------------------------------------------------------------- modules

mod workloads;

use workloads::{copies_kept_alive, fib, for_sum, func, sieve, strings, sum_loop};

const LOG: &str = "boot ok\nERROR disk\nwarn\nERROR net\nok";

fn import(name: &str, params: Vec<Type>, ret: Option<Type>) -> Import {
    Import {
        name: name.into(),
        version: Version::new(1, 0),
        sig: Signature { params, ret },
    }
}

/// An audit-like plugin: reads a log through `fs.read`, counts `ERROR`
/// lines, reads the clock, logs, draws a random number, builds arrays of
/// ints and strings (push, set, pop, get), calls a helper with an array
/// argument, and returns a checksum. `assert_ok` false makes it fail an
/// assertion at the end instead.
fn audit(assert_ok: bool) -> Module {
    use Instr::*;
    let (i, s, b) = (Type::Int, Type::Str, Type::Bool);
    let (ai, as_) = (Type::array_of(Type::Int), Type::array_of(Type::Str));
    // r0 path, r1 text, r2 lines, r3 i, r4 n, r5 line, r6 needle, r7 hit,
    // r8 hits, r9 t0, r10 msg, r11 tmp, r12 xs, r13 k, r14 lo, r15 hi,
    // r16 rnd, r17 level, r18 msg arg, r19 words, r20 result, r21 ok
    let regs = vec![
        s.clone(),
        s.clone(),
        as_.clone(),
        i.clone(),
        i.clone(),
        s.clone(),
        s.clone(),
        b.clone(),
        i.clone(),
        i.clone(),
        s.clone(),
        s.clone(),
        ai.clone(),
        i.clone(),
        i.clone(),
        i.clone(),
        i.clone(),
        s.clone(),
        s.clone(),
        as_,
        i.clone(),
        b,
    ];
    let main = func(
        "main",
        0,
        regs,
        Some(Type::Int),
        vec![
            LoadStr { d: 0, k: 0 }, // 0  path = "app.log"
            Cap {
                d: 1,
                c: 0,
                a: 0,
                n: 1,
            }, // 1  text = fs.read(path)
            LoadStr { d: 11, k: 1 }, // 2  "\n"
            Split {
                d: 2,
                s: 1,
                sep: 11,
            }, // 3  lines
            ArrayLen { d: 4, a: 2 }, // 4  n
            LoadStr { d: 6, k: 2 }, // 5  "ERROR"
            LoadInt { d: 3, imm: 0 }, // 6
            LoadInt { d: 8, imm: 0 }, // 7
            JumpGe { a: 3, b: 4, t: 16 }, // 8
            GetRef { d: 5, a: 2, i: 3 }, // 9  line = lines[i]
            Contains { d: 7, s: 5, sub: 6 }, // 10
            JumpIfNot { c: 7, t: 14 }, // 11
            AddImm { d: 8, a: 8, imm: 1 }, // 12
            PushRef { a: 19, v: 5 }, // 13 words.push(line)
            AddImm { d: 3, a: 3, imm: 1 }, // 14
            Jump { t: 8 },          // 15
            Cap {
                d: 9,
                c: 1,
                a: 0,
                n: 0,
            }, // 16 t0 = clock.now()
            LoadStr { d: 10, k: 3 }, // 17 "errors: "
            IntToStr { d: 11, a: 8 }, // 18
            Concat {
                d: 10,
                a: 10,
                b: 11,
            }, // 19 msg += str(hits)
            LoadStr { d: 17, k: 4 }, // 20 "info"
            MoveRef { d: 18, a: 10 }, // 21
            CapUnit { c: 2, a: 17, n: 2 }, // 22 log.write("info", msg)
            LoadInt { d: 14, imm: 1 }, // 23
            LoadInt { d: 15, imm: 6 }, // 24
            Cap {
                d: 16,
                c: 3,
                a: 14,
                n: 2,
            }, // 25 rnd = random.int(1, 6)
            PushInt { a: 12, v: 8 }, // 26 xs = [hits, rnd, t0]
            PushInt { a: 12, v: 16 }, // 27
            PushInt { a: 12, v: 9 }, // 28
            LoadInt { d: 13, imm: 0 }, // 29
            SetInt {
                a: 12,
                i: 13,
                v: 16,
            }, // 30 xs[0] = rnd
            PopInt { d: 13, a: 12 }, // 31 k = xs.pop() (t0)
            PushInt { a: 12, v: 4 }, // 32 xs.push(n)
            Call {
                d: 20,
                f: 1,
                a: 12,
                n: 1,
            }, // 33 result = sum(xs)
            Add {
                d: 20,
                a: 20,
                b: 13,
            }, // 34 result += k
            PopRef { d: 11, a: 19 }, // 35 tmp = words.pop()
            Concat {
                d: 10,
                a: 11,
                b: 10,
            }, // 36 msg = tmp + msg
            StrLen { d: 13, a: 10 }, // 37
            Add {
                d: 20,
                a: 20,
                b: 13,
            }, // 38
            LoadBool {
                d: 21,
                imm: u16::from(assert_ok),
            }, // 39
            Assert { c: 21, m: 10 }, // 40
            Ret { a: 20 },          // 41
        ],
    );
    let sum = func(
        "sum",
        1,
        vec![
            Type::array_of(Type::Int),
            i.clone(),
            i.clone(),
            i.clone(),
            i,
        ],
        Some(Type::Int),
        vec![
            ArrayLen { d: 1, a: 0 },       // 0 n
            LoadInt { d: 2, imm: 0 },      // 1 i
            LoadInt { d: 3, imm: 0 },      // 2 total
            JumpGe { a: 2, b: 1, t: 8 },   // 3
            GetInt { d: 4, a: 0, i: 2 },   // 4
            Add { d: 3, a: 3, b: 4 },      // 5
            AddImm { d: 2, a: 2, imm: 1 }, // 6
            JumpLt { a: 2, b: 1, t: 4 },   // 7
            Ret { a: 3 },                  // 8
        ],
    );
    Module {
        consts: ["app.log", "\n", "ERROR", "errors: ", "info"]
            .into_iter()
            .map(|s| Const::Str(s.into()))
            .collect(),
        imports: vec![
            import("fs.read", vec![Type::Str], Some(Type::Str)),
            import("clock.now", vec![], Some(Type::Int)),
            import("log.write", vec![Type::Str, Type::Str], None),
            import("random.int", vec![Type::Int, Type::Int], Some(Type::Int)),
        ],
        funcs: vec![main, sum],
        entry: 0,
    }
}

/// `main() -> int { return 7 / 0; }` style failures: division by zero.
fn divide_by_zero() -> Module {
    use Instr::*;
    Module {
        funcs: vec![func(
            "main",
            0,
            vec![Type::Int; 3],
            Some(Type::Int),
            vec![
                LoadInt { d: 0, imm: 7 },
                LoadInt { d: 1, imm: 0 },
                Div { d: 2, a: 0, b: 1 },
                Ret { a: 2 },
            ],
        )],
        ..Module::default()
    }
}

// ---------------------------------------------------------------- hosts

/// The audit plugin's host: deterministic answers, a call counter, and an
/// alarm that turns every later call into a panic. A successful `fs.read`
/// reports opening `data/` and the path asked for.
#[derive(Clone, Default)]
struct ScriptHost {
    calls: Rc<Cell<u32>>,
    panic_now: Rc<Cell<bool>>,
    fail_reads: bool,
    opened: Option<String>,
}

impl Host for ScriptHost {
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        assert!(
            !self.panic_now.get(),
            "a live capability call during replay"
        );
        self.calls.set(self.calls.get() + 1);
        match import {
            0 if self.fail_reads => Err(CapabilityError::new("path is outside the granted scope")),
            0 => {
                let asked = args[0].as_str().unwrap_or_default();
                self.opened = Some(format!("data/{asked}"));
                Ok(Value::str(LOG))
            }
            1 => Ok(Value::Int(1_700_000_000_000 + i64::from(self.calls.get()))),
            2 => Ok(Value::Unit),
            3 => {
                let lo = args[0].as_int().unwrap_or(0);
                Ok(Value::Int(lo + 3))
            }
            _ => Err(CapabilityError::new("no such capability")),
        }
    }

    fn opened(&mut self) -> Option<String> {
        self.opened.take()
    }
}

/// A host that must never be called.
struct PanicHost;

impl Host for PanicHost {
    fn call(&mut self, _import: u16, _args: &[Value]) -> Result<Value, CapabilityError> {
        panic!("a live capability call")
    }
}

/// A host for generated modules: a value of the import's result type,
/// made from a counter, or now and then an error; every third call that
/// succeeds reports having opened a path.
struct GenHost {
    rets: Vec<Option<Type>>,
    n: i64,
    opened: Option<String>,
}

impl GenHost {
    fn new(m: &Module) -> Self {
        GenHost {
            rets: m.imports.iter().map(|i| i.sig.ret.clone()).collect(),
            n: 0,
            opened: None,
        }
    }

    fn value(&self, t: &Type, depth: usize) -> Value {
        let n = self.n;
        match t {
            Type::Int => Value::Int(n * 1_000_003 - 77),
            Type::Bool => Value::Bool(n % 2 == 0),
            Type::Str => Value::str(format!("v{n}é")),
            Type::Array(e) => {
                let len = if depth > 2 { 0 } else { (n % 3) as usize };
                let items: Vec<Value> = (0..len).map(|_| self.value(e, depth + 1)).collect();
                Value::Array(Rc::new(match **e {
                    Type::Int => Array::Int(items.iter().filter_map(Value::as_int).collect()),
                    Type::Bool => {
                        Array::Bool(items.iter().map(|v| v == &Value::Bool(true)).collect())
                    }
                    _ => Array::Ref(items),
                }))
            }
        }
    }
}

impl Host for GenHost {
    fn call(&mut self, import: u16, _args: &[Value]) -> Result<Value, CapabilityError> {
        self.n += 1;
        if self.n % 7 == 0 {
            return Err(CapabilityError::new(format!("refused call {}", self.n)));
        }
        if self.n % 3 == 0 {
            self.opened = Some(format!("d/é{}", self.n));
        }
        Ok(match self.rets.get(usize::from(import)) {
            Some(Some(t)) => self.value(t, 0),
            _ => Value::Unit,
        })
    }

    fn opened(&mut self) -> Option<String> {
        self.opened.take()
    }
}

// ---------------------------------------------------------------- helpers

/// A header with every field set.
fn header(m: &Module, limits: Limits) -> TraceHeader {
    let mut h = TraceHeader::new(m);
    h.tool_version = "chronicle 0.1.0 (test)".into();
    h.plugin_name = "audit-plugin.chr".into();
    h.source = Some("fn main() -> int { ... }\n".into());
    h.policy = Some("[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\n".into());
    h.capabilities = vec![
        NegotiatedEntry {
            name: "fs.read".into(),
            requested: Version::new(1, 0),
            offered: Some(Version::new(1, 2)),
            decision: Decision::Grant,
            scope: "paths = [\"examples/data/**\"]".into(),
        },
        NegotiatedEntry {
            name: "clock.now".into(),
            requested: Version::new(1, 0),
            offered: None,
            decision: Decision::Mock,
            scope: "returns = [1700000000]".into(),
        },
    ];
    h.limits = limits;
    h.host = "test host".into();
    h.recorded_at_ms = 1_700_000_000_123;
    h
}

fn record_opts(
    m: &Module,
    host: impl Host,
    limits: Limits,
    options: RecorderOptions,
) -> (Result<Value, RuntimeError>, Vec<u8>) {
    let r = trace::record_with(host, header(m, limits), Vec::new(), options).expect("records");
    (r.outcome, r.trace.writer)
}

fn record(m: &Module, host: impl Host, limits: Limits) -> (Result<Value, RuntimeError>, Vec<u8>) {
    record_opts(m, host, limits, RecorderOptions::default())
}

/// A trace of `m` signed with `key`.
fn record_signed(m: &Module, host: impl Host, limits: Limits, key: &SecretKey) -> Vec<u8> {
    let mut recorder = trace::Recorder::new(Vec::new(), header(m, limits)).expect("starts");
    recorder.sign_with(key.clone());
    let verified = recorder.module().clone();
    let outcome = Vm::with_observer(&verified, limits, host, &mut recorder).run();
    let finished = recorder.finish(&outcome).expect("finishes");
    assert_eq!(finished.signature.map(|s| s.key), Some(key.public_key()));
    finished.writer
}

/// The golden traces' signing key (a fixed seed: signatures are deterministic).
fn golden_key() -> SecretKey {
    SecretKey::from_seed([0x5e; 32])
}

/// The events of a live run, as the collector sees them.
fn live_events(m: &Module, host: impl Host, limits: Limits) -> Vec<Event> {
    let verified = verify(m.clone()).expect("verifies");
    let mut c = Collector::new(&verified);
    let outcome = Vm::with_observer(&verified, limits, host, &mut c).run();
    c.finish(&outcome);
    c.into_events()
}

fn read_events(bytes: &[u8]) -> Vec<Event> {
    let mut r = Reader::open(bytes).expect("opens");
    r.events().collect::<Result<_, _>>().expect("reads")
}

const UNCOMPRESSED: RecorderOptions = RecorderOptions {
    chunk_size: 64 * 1024,
    compress: false,
};

// ---------------------------------------------------------------- tests

#[test]
fn header_round_trips_with_every_field() {
    let m = audit(true);
    let (_, bytes) = record(&m, ScriptHost::default(), Limits::DEFAULT);
    let r = Reader::open(&bytes[..]).expect("opens");
    assert_eq!(r.header(), &header(&m, Limits::DEFAULT));
    assert_eq!(r.module().module(), &m);
    let h = r.header();
    assert_eq!(
        h.module_hash(),
        *blake3::hash(&chronicle_core::format::encode(&m)).as_bytes()
    );
    assert_eq!(
        h.module_format_version(),
        chronicle_core::format::FORMAT_VERSION
    );
    assert!(h.source_hash().is_some() && h.policy_hash().is_some());
    assert_eq!(
        h.negotiated("fs.read", Version::new(1, 0))
            .map(|e| e.decision),
        Some(Decision::Grant)
    );
}

#[test]
fn decoded_events_are_the_live_events() {
    let cases: Vec<(Module, Limits)> = vec![
        (audit(true), Limits::DEFAULT),
        (audit(false), Limits::DEFAULT),
        (fib(10), Limits::DEFAULT),
        (sum_loop(300), Limits::DEFAULT),
        (sieve(200), Limits::DEFAULT),
        (strings(300), Limits::DEFAULT),
        (for_sum(50), Limits::DEFAULT),
        (
            for_sum(i64::MAX),
            Limits {
                instructions: 333,
                ..Limits::DEFAULT
            },
        ),
        (divide_by_zero(), Limits::DEFAULT),
        (
            fib(12),
            Limits {
                call_depth: 6,
                ..Limits::DEFAULT
            },
        ),
        (
            sum_loop(1000),
            Limits {
                instructions: 777,
                ..Limits::DEFAULT
            },
        ),
        (
            sieve(100),
            Limits {
                array_len: 60,
                ..Limits::DEFAULT
            },
        ),
        (
            strings(100),
            Limits {
                string_bytes: 50,
                ..Limits::DEFAULT
            },
        ),
    ];
    for (m, limits) in cases {
        let live = live_events(&m, ScriptHost::default(), limits);
        for options in [
            RecorderOptions::default(),
            RecorderOptions {
                chunk_size: 7,
                compress: true,
            },
        ] {
            let (_, bytes) = record_opts(&m, ScriptHost::default(), limits, options);
            let decoded = read_events(&bytes);
            assert_eq!(decoded.len(), live.len());
            for (i, (d, l)) in decoded.iter().zip(&live).enumerate() {
                assert_eq!(d, l, "event #{i}");
            }
        }
    }
}

#[test]
fn recording_twice_gives_identical_traces() {
    let m = audit(true);
    let (a_out, a) = record(&m, ScriptHost::default(), Limits::DEFAULT);
    let (b_out, b) = record(&m, ScriptHost::default(), Limits::DEFAULT);
    assert_eq!(a_out, b_out);
    assert_eq!(a, b, "same module, same capability results: same bytes");
    assert_eq!(read_events(&a), read_events(&b));
}

#[test]
fn replay_of_a_successful_run_returns_the_recorded_result() {
    let m = audit(true);
    let host = ScriptHost::default();
    let (outcome, bytes) = record(&m, host.clone(), Limits::DEFAULT);
    let calls = host.calls.get();
    assert_eq!(calls, 4);
    host.panic_now.set(true);
    let report = trace::replay(Cursor::new(&bytes)).expect("replays");
    assert_eq!(report.outcome, outcome);
    assert!(report.outcome.is_ok());
    assert_eq!(report.capability_calls, 4);
    assert_eq!(
        host.calls.get(),
        calls,
        "replay made no live capability call"
    );
    let summary = trace::verify(&bytes[..]).expect("verifies");
    assert_eq!(report.events, summary.events);
    assert_eq!(report.final_hash, summary.final_hash);
    assert_eq!(summary.counts.get(EventKind::Capability), 4);
    assert_eq!(summary.counts.get(EventKind::End), 1);
}

#[test]
fn replay_of_runtime_errors_returns_the_same_error() {
    let cases: Vec<(Module, ScriptHost, &str)> = vec![
        (audit(false), ScriptHost::default(), "assertion failed"),
        (divide_by_zero(), ScriptHost::default(), "division by zero"),
        (
            audit(true),
            ScriptHost {
                fail_reads: true,
                ..ScriptHost::default()
            },
            "capability error",
        ),
    ];
    for (m, host, kind) in cases {
        let (outcome, bytes) = record(&m, host, Limits::DEFAULT);
        let error = outcome.clone().expect_err("fails");
        assert_eq!(error.kind.name(), kind);
        let report = trace::replay(Cursor::new(&bytes)).expect("replays");
        assert_eq!(report.outcome, outcome);
        let summary = trace::verify(&bytes[..]).expect("verifies");
        assert_eq!(summary.outcome, outcome);
        assert_eq!(summary.counts.get(EventKind::Trap), 1);
    }
}

#[test]
fn replay_of_every_limit_hit_passes() {
    let cases = [
        (
            sum_loop(1000),
            Limits {
                instructions: 500,
                ..Limits::DEFAULT
            },
            Limit::Instructions,
        ),
        (
            fib(12),
            Limits {
                call_depth: 5,
                ..Limits::DEFAULT
            },
            Limit::CallDepth,
        ),
        (
            fib(3),
            Limits {
                registers: 4,
                ..Limits::DEFAULT
            },
            Limit::Registers,
        ),
        (
            sieve(100),
            Limits {
                array_len: 40,
                ..Limits::DEFAULT
            },
            Limit::ArrayLen,
        ),
        (
            strings(100),
            Limits {
                string_bytes: 64,
                ..Limits::DEFAULT
            },
            Limit::StringBytes,
        ),
        (
            audit(true),
            Limits {
                string_bytes: 20,
                ..Limits::DEFAULT
            },
            Limit::StringBytes,
        ),
    ];
    for (m, limits, limit) in cases {
        let (outcome, bytes) = record(&m, ScriptHost::default(), limits);
        let error = outcome.clone().expect_err("hits the limit");
        assert!(
            matches!(error.kind, TrapKind::LimitExceeded { limit: l, .. } if l == limit),
            "{error}"
        );
        let report = trace::replay(Cursor::new(&bytes)).expect("replays");
        assert_eq!(report.outcome, outcome);
    }
}

#[test]
fn replay_needs_no_host_at_all() {
    // The recording host is armed to panic on any call after recording;
    // replay has no host parameter, so it cannot reach one.
    let m = audit(true);
    let (outcome, bytes) = record(&m, ScriptHost::default(), Limits::DEFAULT);
    let verified = verify(m).expect("verifies");
    // A live run under a panicking host would panic at the first call.
    let live = std::panic::catch_unwind(|| Vm::new(&verified, Limits::DEFAULT, PanicHost).run());
    assert!(live.is_err());
    assert_eq!(
        trace::replay(Cursor::new(&bytes)).expect("replays").outcome,
        outcome
    );
}

#[test]
fn a_run_stopped_by_alloc_bytes_is_traced_verified_and_replayed() {
    let m = copies_kept_alive(1000);
    let limits = Limits {
        alloc_bytes: 100_000,
        ..Limits::DEFAULT
    };
    let (outcome, bytes) = record(&m, NoHost, limits);
    let e = outcome.expect_err("the copies pass the limit");
    let kind = TrapKind::LimitExceeded {
        limit: Limit::AllocBytes,
        value: 100_000,
    };
    assert_eq!(e.kind, kind);
    let summary = trace::verify(&bytes[..]).unwrap();
    assert_eq!(summary.outcome.map_err(|e| e.kind), Err(kind.clone()));
    let report = trace::replay(Cursor::new(&bytes)).unwrap();
    assert_eq!(report.outcome.map_err(|e| e.kind), Err(kind));
    let reader = Reader::open(&bytes[..]).unwrap();
    assert_eq!(reader.header().limits.alloc_bytes, 100_000);
}

#[test]
fn keeping_every_event_of_a_trace_at_its_alloc_bytes_limit_reads_it_whole() {
    // Kept events share arrays with the reader's registers, so the reader
    // copies at each later push or write what the run did not: those copies
    // must not count against the recorded limit (set here to what the run
    // needed, to the byte).
    let need = 800 + 200 * 816;
    let limits = Limits {
        alloc_bytes: need,
        ..Limits::DEFAULT
    };
    let (outcome, bytes) = record(&copies_kept_alive(200), NoHost, limits);
    assert_eq!(outcome, Ok(Value::Int(200)));
    trace::verify(&bytes[..]).expect("verifies");
    let kept = read_events(&bytes);
    assert!(matches!(kept.last(), Some(Event::End { .. })));
    let short = Limits {
        alloc_bytes: need - 1,
        ..Limits::DEFAULT
    };
    assert!(record(&copies_kept_alive(200), NoHost, short).0.is_err());
}

/// LEB128, as the trace format writes varints.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn a_trace_that_copies_past_its_recorded_alloc_bytes_is_refused() {
    // A genuine run within 1,000,000 bytes (it allocates 816,800), whose
    // header is then forged to say 100,000: the reader's copies of the
    // array (no bytes of the trace pay for them) pass the recorded limit.
    let limits = Limits {
        alloc_bytes: 1_000_000,
        ..Limits::DEFAULT
    };
    let (outcome, bytes) = record(&copies_kept_alive(1000), NoHost, limits);
    assert_eq!(outcome, Ok(Value::Int(1000)));
    let l = Limits::DEFAULT;
    let field: Vec<u8> = [
        l.instructions,
        l.call_depth,
        l.registers,
        l.array_len,
        l.string_bytes,
        1_000_000,
    ]
    .into_iter()
    .flat_map(varint)
    .collect();
    let at = bytes
        .windows(field.len())
        .position(|w| w == field)
        .expect("the limits field");
    let (old, new) = (varint(1_000_000), varint(100_000));
    assert_eq!(old.len(), new.len());
    let mut forged = bytes.clone();
    let end = at + field.len();
    forged[end - new.len()..end].copy_from_slice(&new);
    let forged = testing::reseal(&forged);
    let e = trace::verify(&forged[..]).unwrap_err();
    assert!(
        e.to_string()
            .contains("allocations beyond the recorded alloc_bytes limit"),
        "{e}"
    );
    assert!(trace::replay(Cursor::new(&forged)).is_err());
}

#[test]
fn a_changed_capability_result_is_a_divergence() {
    // Record, then change the recorded clock value and reseal the chain:
    // the trace verifies, but the replayed run writes another value.
    let m = audit(true);
    let (_, bytes) = record_opts(&m, ScriptHost::default(), Limits::DEFAULT, UNCOMPRESSED);
    let events = read_events(&bytes);
    let clock_index = events
        .iter()
        .position(|e| matches!(e, Event::Capability { import: 1, .. }))
        .expect("a clock call");
    let spans = testing::record_spans(&bytes).expect("spans");
    // Stored records in order; find the clock call's record (tag 0x04, import 1).
    let span = spans
        .iter()
        .find(|s| bytes[s.start] == 0x04 && bytes[s.start + 1] == 1)
        .expect("the clock record")
        .clone();
    let mut forged = bytes.clone();
    // The result is the last varint of the record: bump its low bits.
    forged[span.end - 1] ^= 0x02;
    let forged = testing::reseal(&forged);
    assert!(
        trace::verify(&forged[..]).is_ok(),
        "a resealed trace verifies"
    );
    match trace::replay(Cursor::new(&forged)) {
        Err(ReplayError::Diverged(d)) => {
            assert!(d.index > clock_index as u64, "{d}");
            assert!(matches!(d.expected, Some(Event::Step { .. })), "{d}");
            assert!(d.to_string().contains("replay diverges at event #"));
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

/// A host whose only capability (`clock@1() -> int`) returns 1.
struct One;

impl Host for One {
    fn call(&mut self, _import: u16, _args: &[Value]) -> Result<Value, CapabilityError> {
        Ok(Value::Int(1))
    }
}

#[test]
fn a_replay_that_diverges_into_an_endless_loop_stops_at_the_divergence() {
    // x = clock(); while x <= 0 {} return 7. Recorded with x = 1 under a
    // limit of 200 million instructions; forged to x = 0, the replayed run
    // loops. The replay observer halts it once it has diverged, instead of
    // letting it run to the recorded limit.
    let main = func(
        "main",
        0,
        vec![Type::Int, Type::Int],
        Some(Type::Int),
        vec![
            Instr::Cap {
                d: 0,
                c: 0,
                a: 0,
                n: 0,
            },
            Instr::LoadInt { d: 1, imm: 0 },
            Instr::JumpGt { a: 0, b: 1, t: 4 },
            Instr::Jump { t: 3 },
            Instr::LoadInt { d: 1, imm: 7 },
            Instr::Ret { a: 1 },
        ],
    );
    let m = Module {
        imports: vec![import("clock", vec![], Some(Type::Int))],
        funcs: vec![main],
        ..Module::default()
    };
    let limits = Limits {
        instructions: 200_000_000,
        ..Limits::DEFAULT
    };
    let (outcome, bytes) = record_opts(&m, One, limits, UNCOMPRESSED);
    assert_eq!(outcome, Ok(Value::Int(7)));
    let spans = testing::record_spans(&bytes).expect("spans");
    let span = spans
        .iter()
        .find(|s| bytes[s.start] == 0x04)
        .expect("the clock record")
        .clone();
    let mut forged = bytes.clone();
    // The result is the record's last varint: zigzag 2 (1) becomes 0 (0).
    assert_eq!(forged[span.end - 1], 2);
    forged[span.end - 1] = 0;
    let forged = testing::reseal(&forged);
    trace::verify(&forged[..]).expect("a resealed trace verifies");
    match trace::replay(Cursor::new(&forged)) {
        Err(ReplayError::Diverged(d)) => {
            assert!(matches!(d.expected, Some(Event::Step { pc: 2, .. })), "{d}")
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_changed_capability_argument_is_a_divergence_at_that_call() {
    let m = audit(true);
    let (_, bytes) = record_opts(&m, ScriptHost::default(), Limits::DEFAULT, UNCOMPRESSED);
    let spans = testing::record_spans(&bytes).expect("spans");
    // The fs.read record: CAP_OK_OPENED, import 0, 1 argument, the path "app.log".
    let span = spans
        .iter()
        .find(|s| bytes[s.start] == 0x08 && bytes[s.start + 1] == 0)
        .expect("the fs.read record")
        .clone();
    let at = span.start + 5; // tag, import, argc, value tag, length: then "app.log"
    assert_eq!(bytes[at], b'a');
    let mut forged = bytes.clone();
    forged[at] = b'b';
    let forged = testing::reseal(&forged);
    trace::verify(&forged[..]).expect("a resealed trace verifies");
    let events = read_events(&bytes);
    let index = events
        .iter()
        .position(|e| matches!(e, Event::Capability { import: 0, .. }))
        .unwrap() as u64;
    match trace::replay(Cursor::new(&forged)) {
        Err(ReplayError::Diverged(d)) => {
            assert_eq!(d.index, index);
            let Some(Event::Capability { args, .. }) = &d.expected else {
                panic!("{d}")
            };
            assert_eq!(args, &vec![Value::str("bpp.log")]);
            let Some(Event::Capability { args, outcome, .. }) = &d.found else {
                panic!("{d}")
            };
            assert_eq!(args, &vec![Value::str("app.log")]);
            assert!(
                outcome.is_err(),
                "the replay host refuses an unrecorded call"
            );
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_trace_whose_module_or_policy_was_swapped_fails() {
    let m = audit(true);
    let (_, a) = record_opts(&m, ScriptHost::default(), Limits::DEFAULT, UNCOMPRESSED);
    // Another plugin's header in front of this run's events.
    let other = fib(5);
    let (_, b) = record_opts(&other, NoHost, Limits::DEFAULT, UNCOMPRESSED);
    let header_end = |bytes: &[u8]| {
        let r = Reader::open(bytes).expect("opens");
        drop(r);
        // The first chunk frame starts after the header checksum: find it
        // as the first offset whose suffix is a[..] events.
        let mut s = 10;
        let mut len = 0u64;
        let mut shift = 0;
        loop {
            let byte = bytes[s];
            len |= u64::from(byte & 0x7f) << shift;
            s += 1;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        s + len as usize + 32
    };
    let mut spliced = b[..header_end(&b)].to_vec();
    spliced.extend_from_slice(&a[header_end(&a)..]);
    let e = trace::verify(&spliced[..]).unwrap_err();
    assert_eq!(
        e.kind,
        TraceErrorKind::HashMismatch {
            chunk: 0,
            first_event: 0
        },
        "{e}"
    );

    // The policy text edited in place: the header checksum fails; resealed
    // (a forger recomputing the chain), the policy's own hash still fails.
    let at = a
        .windows(5)
        .position(|w| w == b"grant")
        .expect("the policy text is embedded");
    let mut edited = a.clone();
    edited[at..at + 5].copy_from_slice(b"allow");
    let e = trace::verify(&edited[..]).unwrap_err();
    assert_eq!(e.kind, TraceErrorKind::HeaderHashMismatch, "{e}");
    let e = trace::verify(&testing::reseal(&edited)[..]).unwrap_err();
    assert_eq!(
        e.kind,
        TraceErrorKind::ContentHashMismatch { what: "policy" },
        "{e}"
    );

    // The module edited in place (a constant string), resealed: its hash fails.
    let at = a
        .windows(7)
        .position(|w| w == b"app.log")
        .expect("module constant");
    let mut edited = a.clone();
    edited[at] = b'b';
    let e = trace::verify(&testing::reseal(&edited)[..]).unwrap_err();
    assert_eq!(
        e.kind,
        TraceErrorKind::ContentHashMismatch { what: "module" },
        "{e}"
    );
}

/// A small trace with several chunks, compressed and not.
fn small_traces() -> Vec<Vec<u8>> {
    let m = audit(true);
    [
        RecorderOptions {
            chunk_size: 24,
            compress: false,
        },
        RecorderOptions {
            chunk_size: 40,
            compress: true,
        },
    ]
    .into_iter()
    .map(|o| record_opts(&m, ScriptHost::default(), Limits::DEFAULT, o).1)
    .collect()
}

#[test]
fn every_single_byte_change_is_detected() {
    for bytes in small_traces() {
        trace::verify(&bytes[..]).expect("the original verifies");
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut t = bytes.clone();
                t[i] ^= mask;
                let e = trace::verify(&t[..]).expect_err("a changed byte is detected");
                // Integrity data catches every change before any decoder
                // sees it, except in the preamble.
                assert!(
                    e.is_integrity()
                        || matches!(
                            e.kind,
                            TraceErrorKind::BadMagic
                                | TraceErrorKind::UnsupportedVersion { .. }
                                | TraceErrorKind::BadVarint
                                | TraceErrorKind::TooLarge { .. }
                                | TraceErrorKind::BadTag { .. }
                                | TraceErrorKind::BadChunk { .. }
                        ),
                    "byte {i} ^ {mask:#x}: {e}"
                );
            }
        }
    }
}

#[test]
fn every_truncation_is_reported_as_truncated() {
    for bytes in small_traces() {
        for len in 0..bytes.len() {
            let e = trace::verify(&bytes[..len]).expect_err("a cut trace fails");
            assert_eq!(e.kind, TraceErrorKind::Truncated, "cut at {len}: {e}");
            assert!(e.is_truncation());
        }
        // And every extension is refused too.
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            trace::verify(&longer[..]).unwrap_err().kind,
            TraceErrorKind::TrailingBytes
        );
    }
}

#[test]
fn every_swap_of_adjacent_events_or_chunks_is_detected() {
    let m = audit(true);
    let (_, bytes) = record_opts(&m, ScriptHost::default(), Limits::DEFAULT, UNCOMPRESSED);
    let spans = testing::record_spans(&bytes).expect("spans");
    assert!(spans.len() > 50);
    let mut swaps = 0;
    for w in spans.windows(2) {
        let (x, y) = (&bytes[w[0].clone()], &bytes[w[1].clone()]);
        if x == y {
            continue;
        }
        let mut t = bytes[..w[0].start].to_vec();
        t.extend_from_slice(y);
        t.extend_from_slice(x);
        t.extend_from_slice(&bytes[w[1].end..]);
        let e = trace::verify(&t[..]).expect_err("a swap is detected");
        assert!(
            matches!(e.kind, TraceErrorKind::HashMismatch { chunk: 0, .. }),
            "{e}"
        );
        // Even with the chain recomputed, the swapped stream does not pass
        // both the decoder's checks and replay.
        let resealed = testing::reseal(&t);
        if trace::verify(&resealed[..]).is_ok() {
            assert!(trace::replay(Cursor::new(&resealed)).is_err());
        }
        swaps += 1;
    }
    assert!(swaps > 40);

    // Adjacent chunks of a many-chunk trace.
    let (_, bytes) = record_opts(
        &m,
        ScriptHost::default(),
        Limits::DEFAULT,
        RecorderOptions {
            chunk_size: 16,
            compress: false,
        },
    );
    let mut frames = Vec::new();
    let mut at = bytes.len() - trace::FOOTER_LEN;
    // Walk back from the footer: each chunk is kind, varint, 16 (or fewer)
    // bytes, 32 hash bytes. Walk forward instead, from the first chunk.
    let first = bytes
        .windows(2)
        .enumerate()
        .skip(10)
        .find(|(_, w)| w[0] == 0x01 && w[1] == 16)
        .map(|(i, _)| i)
        .expect("first chunk");
    let mut s = first;
    while s < at {
        let len = usize::from(bytes[s + 1]);
        frames.push(s..s + 2 + len + 32);
        s += 2 + len + 32;
    }
    at = s;
    assert_eq!(at, bytes.len() - trace::FOOTER_LEN);
    for (k, w) in frames.windows(2).enumerate() {
        let mut t = bytes[..w[0].start].to_vec();
        t.extend_from_slice(&bytes[w[1].clone()]);
        t.extend_from_slice(&bytes[w[0].clone()]);
        t.extend_from_slice(&bytes[w[1].end..]);
        if t == bytes {
            continue;
        }
        let e = trace::verify(&t[..]).expect_err("a chunk swap is detected");
        assert!(
            matches!(e.kind, TraceErrorKind::HashMismatch { chunk, .. } if chunk == k as u64),
            "{e}"
        );
    }
}

/// A writer that fails after `limit` bytes, like a full disk, keeping
/// what it wrote where the test can see it.
struct FailingWriter {
    limit: usize,
    written: Rc<RefCell<Vec<u8>>>,
}

impl Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut w = self.written.borrow_mut();
        if w.len() >= self.limit {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.limit - w.len());
        w.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_interrupted_write_reads_as_truncated() {
    let m = audit(true);
    let options = RecorderOptions {
        chunk_size: 32,
        compress: true,
    };
    let (_, full) = record_opts(&m, ScriptHost::default(), Limits::DEFAULT, options);
    for limit in 0..full.len() {
        let written = Rc::new(RefCell::new(Vec::new()));
        let w = FailingWriter {
            limit,
            written: Rc::clone(&written),
        };
        match trace::Recorder::with_options(w, header(&m, Limits::DEFAULT), options) {
            Err(RecordError::Io(_)) => {} // the header did not fit
            Err(e) => panic!("{e}"),
            Ok(mut rec) => {
                let verified = rec.module().clone();
                let host = ScriptHost::default();
                let outcome = Vm::with_observer(&verified, Limits::DEFAULT, host, &mut rec).run();
                assert!(outcome.is_ok());
                assert!(matches!(rec.finish(&outcome), Err(RecordError::Io(_))));
            }
        }
        let e = trace::verify(&written.borrow()[..]).expect_err("an interrupted trace fails");
        assert_eq!(
            e.kind,
            TraceErrorKind::Truncated,
            "disk full at {limit}: {e}"
        );
    }

    // A recorder dropped before `finish` (a killed process) leaves a
    // truncated file too.
    let mut out = Vec::new();
    {
        let mut rec = trace::Recorder::new(&mut out, header(&m, Limits::DEFAULT)).unwrap();
        let verified = rec.module().clone();
        let _ =
            Vm::with_observer(&verified, Limits::DEFAULT, ScriptHost::default(), &mut rec).run();
    }
    assert_eq!(
        trace::verify(&out[..]).unwrap_err().kind,
        TraceErrorKind::Truncated
    );
}

#[test]
fn finish_refuses_an_outcome_the_run_did_not_have() {
    let m = fib(5);
    let mut rec = trace::Recorder::new(Vec::new(), TraceHeader::new(&m)).unwrap();
    let verified = rec.module().clone();
    let outcome = Vm::with_observer(&verified, Limits::DEFAULT, NoHost, &mut rec).run();
    assert_eq!(outcome, Ok(Value::Int(5)));
    let wrong = Err(RuntimeError {
        kind: TrapKind::DivisionByZero,
        func: 0,
        func_name: "main".into(),
        pc: 0,
        line: 1,
    });
    assert!(matches!(rec.finish(&wrong), Err(RecordError::Misuse(_))));
}

#[test]
fn newer_versions_and_other_files_are_refused_clearly() {
    let (_, bytes) = record(&fib(3), NoHost, Limits::DEFAULT);
    let mut newer = bytes.clone();
    newer[8] = 5;
    let e = trace::verify(&newer[..]).unwrap_err();
    assert_eq!(
        e.kind,
        TraceErrorKind::UnsupportedVersion {
            found: 5,
            supported: 4
        }
    );
    assert!(e.to_string().contains("newer"), "{e}");
    let module_bytes = chronicle_core::format::encode(&fib(3));
    let e = trace::verify(&module_bytes[..]).unwrap_err();
    assert_eq!(e.kind, TraceErrorKind::BadMagic);
    assert_eq!(
        trace::verify(&b""[..]).unwrap_err().kind,
        TraceErrorKind::Truncated
    );
}

#[test]
fn a_reader_that_gets_one_byte_at_a_time_reads_the_same() {
    struct Trickle<'a>(&'a [u8]);
    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }
    let (_, bytes) = record(&audit(true), ScriptHost::default(), Limits::DEFAULT);
    assert_eq!(
        trace::verify(Trickle(&bytes)).expect("verifies"),
        trace::verify(&bytes[..]).expect("verifies")
    );
}

/// Bytes per executed instruction on the benchmark workloads (the format's
/// budget is 4). Times are measured by `examples/trace_cost.rs`.
#[test]
fn the_benchmark_workloads_cost_at_most_four_bytes_per_instruction() {
    let cases = [
        ("fib", fib(18)),
        ("loop", sum_loop(40_000)),
        ("sieve", sieve(40_000)),
        ("strings", strings(20_000)),
        ("for", for_sum(40_000)),
    ];
    for (name, m) in cases {
        let (outcome, bytes) = record(&m, NoHost, Limits::UNBOUNDED);
        assert!(outcome.is_ok());
        let steps = trace::verify(&bytes[..]).expect("verifies").steps;
        let header = Reader::open(&bytes[..]).unwrap();
        let header_len = chronicle_core::format::encode(header.module().module()).len();
        let per = (bytes.len() - header_len) as f64 / steps as f64;
        println!(
            "{name}: {steps} instructions, {} bytes, {per:.3} bytes/instruction",
            bytes.len()
        );
        assert!(per <= 4.0, "{name}: {per} bytes per instruction");
    }
}

// ---------------------------------------------------------------- golden

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// The golden traces and how to record them again.
fn golden_cases() -> Vec<(&'static str, Vec<u8>)> {
    let a = record(&audit(true), ScriptHost::default(), Limits::DEFAULT).1;
    let b = record(
        &fib(12),
        NoHost,
        Limits {
            call_depth: 6,
            ..Limits::DEFAULT
        },
    )
    .1;
    let c = record_signed(
        &audit(true),
        ScriptHost::default(),
        Limits::DEFAULT,
        &golden_key(),
    );
    vec![
        ("audit.ctrace", a),
        ("fib-depth-limit.ctrace", b),
        ("audit-signed.ctrace", c),
    ]
}

#[test]
fn golden_traces_keep_verifying_replaying_and_recording_the_same() {
    let bless = std::env::var_os("CHRONICLE_BLESS").is_some();
    for (name, fresh) in golden_cases() {
        let path = golden(&format!("v{TRACE_FORMAT_VERSION}/{name}"));
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &fresh).unwrap();
        }
        let stored = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (CHRONICLE_BLESS=1 records it)", path.display()));
        let summary = trace::verify(&stored[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = trace::replay(Cursor::new(&stored)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.final_hash, summary.final_hash);
        assert!(stored.len() < 8 * 1024, "{name} stays small");
        assert!(
            stored == fresh,
            "{name}: recording the same run gives other bytes; if the format \
             changed on purpose, bump TRACE_FORMAT_VERSION, keep reading the \
             old version (its golden traces stay), and record the new ones \
             with CHRONICLE_BLESS=1"
        );
    }
}

/// Traces written by older versions of the format still verify and replay:
/// their golden files are kept, never re-recorded.
#[test]
fn golden_traces_of_older_versions_still_verify_and_replay() {
    for name in ["audit.ctrace", "fib-depth-limit.ctrace"] {
        // Version 3: the footer has no signature block; it reads as unsigned.
        let stored = std::fs::read(golden(&format!("v3/{name}"))).unwrap();
        assert_eq!(u16::from_le_bytes([stored[8], stored[9]]), 3);
        let summary = trace::verify(&stored[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(summary.signature, None, "{name}");
        let report = trace::replay(Cursor::new(&stored)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.final_hash, summary.final_hash, "{name}");
        assert_eq!(report.outcome, summary.outcome, "{name}");
        assert_eq!(report.signature, None, "{name}");
        // A version 3 footer is 57 bytes: re-sealing keeps it readable.
        assert!(
            trace::verify(&testing::reseal(&stored)[..]).is_ok(),
            "{name}"
        );

        // Version 2: no opened paths (its fs.read is a plain CAP_OK), and
        // replayed without the fuel charge for host work it ran without.
        let stored = std::fs::read(golden(&format!("v2/{name}"))).unwrap();
        assert_eq!(u16::from_le_bytes([stored[8], stored[9]]), 2);
        let summary = trace::verify(&stored[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = trace::replay(Cursor::new(&stored)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.final_hash, summary.final_hash, "{name}");
        assert_eq!(report.outcome, summary.outcome, "{name}");
        let reader = Reader::open(&stored[..]).unwrap();
        assert_eq!(reader.format_version(), 2);
        assert_eq!(
            reader.header().limits.alloc_bytes,
            Limits::DEFAULT.alloc_bytes
        );
        let events = read_events(&stored);
        assert!(
            events.iter().all(|e| !matches!(
                e,
                Event::Capability {
                    opened: Some(_),
                    ..
                }
            )),
            "{name}"
        );
        let mut opened = Vec::new();
        trace::replay_calls(Cursor::new(&stored), Limits::UNBOUNDED, &mut |c| {
            opened.push(c.opened.map(str::to_string))
        })
        .unwrap();
        assert_eq!(opened.len() as u64, report.capability_calls);
        assert!(opened.iter().all(Option::is_none), "{name}");

        let stored = std::fs::read(golden(&format!("v1/{name}"))).unwrap();
        assert_eq!(u16::from_le_bytes([stored[8], stored[9]]), 1);
        let summary = trace::verify(&stored[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = trace::replay(Cursor::new(&stored)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.final_hash, summary.final_hash, "{name}");
        let reader = Reader::open(&stored[..]).unwrap();
        assert_eq!(reader.format_version(), 1);
        // Version 1 had no `alloc_bytes`: its runs were not bounded by it.
        assert_eq!(reader.header().limits.alloc_bytes, u64::MAX, "{name}");
        assert_eq!(
            reader.header().limits.instructions,
            Limits::DEFAULT.instructions
        );
        // The same bytes labelled version 2 lack the sixth limit: refused.
        let mut relabelled = stored.clone();
        relabelled[8] = 2;
        let relabelled = testing::reseal(&relabelled);
        let e = trace::verify(&relabelled[..]).unwrap_err();
        assert!(
            matches!(
                e.kind,
                TraceErrorKind::Truncated | TraceErrorKind::BadHeader { .. }
            ),
            "{name}: {e}"
        );
    }
}

// ---------------------------------------------------------------- opened paths

/// The index of the first `fs.read` (import 0) event and the event itself.
fn first_read(events: &[Event]) -> (u64, &Event) {
    let i = events
        .iter()
        .position(|e| matches!(e, Event::Capability { import: 0, .. }))
        .expect("an fs.read call");
    (i as u64, &events[i])
}

#[test]
fn what_a_call_opened_is_recorded_read_and_replayed() {
    let m = audit(true);
    let (_, bytes) = record(&m, ScriptHost::default(), Limits::DEFAULT);
    assert_eq!(
        u16::from_le_bytes([bytes[8], bytes[9]]),
        TRACE_FORMAT_VERSION
    );
    let events = read_events(&bytes);
    assert_eq!(
        events,
        live_events(&m, ScriptHost::default(), Limits::DEFAULT)
    );
    let (index, read) = first_read(&events);
    let Event::Capability { opened, .. } = read else {
        unreachable!()
    };
    assert_eq!(opened.as_deref(), Some("data/app.log"));
    assert!(
        read.to_string().ends_with(" (opened \"data/app.log\")"),
        "{read}"
    );
    // Only what the host reported: the other calls opened nothing.
    let with_path = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Capability {
                    opened: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(with_path, 1);
    // Replay hands the recorded path to the replayed run (else its bytes
    // would differ) and reports it with the call's event index.
    let mut calls = Vec::new();
    let report = trace::replay_calls(Cursor::new(&bytes), Limits::DEFAULT, &mut |c| {
        calls.push((c.event, c.import, c.opened.map(str::to_string)))
    })
    .expect("replays");
    assert_eq!(calls.len() as u64, report.capability_calls);
    assert_eq!(calls[0], (index, 0, Some("data/app.log".to_string())));
    for (event, import, _) in &calls {
        assert!(
            matches!(&events[*event as usize], Event::Capability { import: i, .. } if i == import),
            "event {event}"
        );
    }
    // A failed read opened nothing and records nothing.
    let failing = ScriptHost {
        fail_reads: true,
        ..ScriptHost::default()
    };
    let (_, bytes) = record(&m, failing, Limits::DEFAULT);
    let events = read_events(&bytes);
    assert!(matches!(
        first_read(&events).1,
        Event::Capability {
            outcome: Err(_),
            opened: None,
            ..
        }
    ));
}

#[test]
fn the_event_by_event_replay_reproduces_opened_paths() {
    // A divergence after the fs.read call makes replay go event by event:
    // it must pass the call's record (with its path) and stop later.
    let m = audit(true);
    let (_, bytes) = record_opts(&m, ScriptHost::default(), Limits::DEFAULT, UNCOMPRESSED);
    let events = read_events(&bytes);
    let (read_at, _) = first_read(&events);
    let spans = testing::record_spans(&bytes).expect("spans");
    // The clock's record (CAP_OK, import 1): its result's last byte.
    let clock = spans
        .iter()
        .find(|s| bytes[s.start] == 0x04 && bytes[s.start + 1] == 1)
        .expect("the clock record");
    let mut forged = bytes.clone();
    forged[clock.end - 1] ^= 0x04;
    assert_ne!(forged[clock.end - 1], 0);
    let forged = testing::reseal(&forged);
    trace::verify(&forged[..]).expect("a resealed trace verifies");
    match trace::replay(Cursor::new(&forged)) {
        Err(ReplayError::Diverged(d)) => {
            assert!(d.index > read_at, "{d}");
            assert!(matches!(d.expected, Some(Event::Step { .. })), "{d}");
        }
        other => panic!("expected a divergence after the clock, got {other:?}"),
    }
}

#[test]
fn an_opened_path_record_in_an_older_version_is_refused() {
    let m = audit(true);
    let (_, bytes) = record(&m, ScriptHost::default(), Limits::DEFAULT);
    let mut relabelled = bytes.clone();
    relabelled[8] = 2;
    let relabelled = testing::reseal(&relabelled);
    let e = trace::verify(&relabelled[..]).unwrap_err();
    assert!(
        matches!(e.kind, TraceErrorKind::BadTag { tag: 0x08, .. }),
        "{e}"
    );
    assert!(matches!(
        trace::replay(Cursor::new(&relabelled)),
        Err(ReplayError::Trace(t)) if matches!(t.kind, TraceErrorKind::BadTag { tag: 0x08, .. })
    ));
}

/// [`ScriptHost`], reporting an opened path of `len` bytes.
#[derive(Default)]
struct LongPathHost(ScriptHost, usize);

impl Host for LongPathHost {
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        self.0.call(import, args)
    }

    fn opened(&mut self) -> Option<String> {
        self.0
            .opened()
            .map(|_| "d/".to_string() + &"x".repeat(self.1 - 2))
    }
}

#[test]
fn opened_paths_are_bounded_when_written_and_when_read() {
    let m = audit(true);
    // Past the bound (64 KiB), a path is not recorded.
    let host = LongPathHost(ScriptHost::default(), (1 << 16) + 1);
    let (_, bytes) = record(&m, host, Limits::DEFAULT);
    let events = read_events(&bytes);
    assert!(matches!(
        first_read(&events).1,
        Event::Capability { opened: None, .. }
    ));
    let host = LongPathHost(ScriptHost::default(), (1 << 16) + 1);
    assert_eq!(events, live_events(&m, host, Limits::DEFAULT));
    // At 20,000 bytes it is (a 3-byte length); a forged length past the
    // bound is refused before any byte of it is read.
    let len = 20_000;
    let host = LongPathHost(ScriptHost::default(), len);
    let (_, bytes) = record_opts(&m, host, Limits::DEFAULT, UNCOMPRESSED);
    let events = read_events(&bytes);
    let Event::Capability {
        opened: Some(p), ..
    } = first_read(&events).1
    else {
        panic!("no opened path")
    };
    assert_eq!(p.len(), len);
    let span = testing::record_spans(&bytes)
        .expect("spans")
        .into_iter()
        .find(|s| bytes[s.start] == 0x08)
        .expect("the fs.read record");
    let at = span.end - len - 3;
    assert_eq!(&bytes[at..at + 3], &[0xA0, 0x9C, 0x01]); // 20,000
    let mut forged = bytes.clone();
    forged[at..at + 3].copy_from_slice(&[0x80, 0x80, 0x40]); // 2^20
    let forged = testing::reseal(&forged);
    let e = trace::verify(&forged[..]).unwrap_err();
    assert!(
        matches!(
            e.kind,
            TraceErrorKind::TooLarge {
                what: "opened path length",
                value: 1_048_576,
                max: 65_536
            }
        ),
        "{e}"
    );
    assert!(trace::replay(Cursor::new(&forged)).is_err());
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(128)))]

    /// Any verified module: the trace verifies, decodes to the live events,
    /// replays to the recorded outcome; a changed byte or a cut is
    /// detected; a changed and resealed trace never panics the reader.
    #[test]
    fn generated_runs_record_verify_and_replay(
        m in valid_module(),
        compress in any::<bool>(),
        chunk in 1usize..200,
        flip in any::<proptest::sample::Index>(),
        mask in 1u8..=255,
        cut in any::<proptest::sample::Index>(),
    ) {
        let limits = Limits {
            instructions: 5_000,
            call_depth: 32,
            registers: 512,
            array_len: 1_000,
            string_bytes: 4_096,
            alloc_bytes: 16_384,
        };
        let options = RecorderOptions { chunk_size: chunk, compress };
        let (outcome, bytes) = record_opts(&m, GenHost::new(&m), limits, options);
        let summary = trace::verify(&bytes[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&summary.outcome.clone().map_err(|e| e.kind), &outcome.clone().map_err(|e| e.kind));
        let live = live_events(&m, GenHost::new(&m), limits);
        prop_assert_eq!(&read_events(&bytes), &live);
        let report = trace::replay(Cursor::new(&bytes)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&report.outcome, &outcome);
        // Each answered call is reported with its event and what it opened.
        let mut answered = Vec::new();
        trace::replay_calls(Cursor::new(&bytes), Limits::UNBOUNDED, &mut |c| {
            answered.push((c.event, c.opened.map(str::to_string)))
        })
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let recorded: Vec<_> = live
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Event::Capability { opened, .. } => Some((i as u64, opened.clone())),
                _ => None,
            })
            .collect();
        prop_assert_eq!(answered, recorded);

        let mut t = bytes.clone();
        t[flip.index(bytes.len())] ^= mask;
        prop_assert!(trace::verify(&t[..]).is_err());
        let resealed = testing::reseal(&t);
        if let Ok(mut r) = Reader::open(&resealed[..]) {
            for e in r.events() {
                if e.is_err() {
                    break;
                }
            }
        }
        let _ = trace::replay(Cursor::new(&resealed));

        let len = cut.index(bytes.len());
        let e = trace::verify(&bytes[..len]).unwrap_err();
        prop_assert_eq!(e.kind, TraceErrorKind::Truncated);
    }
}

/// A trace error's offset points into the file.
#[test]
fn errors_carry_offsets_inside_the_file() {
    let (_, bytes) = record(&audit(true), ScriptHost::default(), Limits::DEFAULT);
    for i in (0..bytes.len()).step_by(13) {
        let mut t = bytes.clone();
        t[i] ^= 0x10;
        let e: TraceError = trace::verify(&t[..]).unwrap_err();
        assert!(e.offset <= bytes.len() as u64, "{e}");
    }
}

#[test]
fn replay_reports_an_altered_trace_as_altered_not_as_a_divergence() {
    let (_, bytes) = record(&sum_loop(100), NoHost, Limits::DEFAULT);
    // The footer's step count lowered: replay stops early, but the reason
    // given is the alteration.
    let mut t = bytes.clone();
    let at = t.len() - trace::FOOTER_LEN + 17;
    t[at..at + 8].copy_from_slice(&3u64.to_le_bytes());
    match trace::replay(Cursor::new(&t)) {
        Err(ReplayError::Trace(e)) => assert!(
            matches!(e.kind, TraceErrorKind::FooterMismatch { what: "steps", .. }),
            "{e}"
        ),
        other => panic!("expected a trace error, got {other:?}"),
    }
}

#[test]
fn the_reader_exposes_the_call_stack_and_its_registers() {
    let (_, bytes) = record(&fib(5), NoHost, Limits::DEFAULT);
    let mut r = Reader::open(&bytes[..]).unwrap();
    let mut deepest = 0;
    while let Some(e) = r.next_event().unwrap() {
        let frames: Vec<_> = r.frames().collect();
        deepest = deepest.max(frames.len());
        if let Event::Step { func, writes, .. } = &e {
            let top = frames.last().expect("a step runs in a frame");
            assert_eq!(top.func, *func);
            for (reg, v) in writes.iter() {
                assert_eq!(&top.registers[usize::from(*reg)], v);
            }
        }
    }
    assert_eq!(deepest, 6, "main, then fib(5) down to fib(1)");
    assert!(r.footer().is_some());
}

// ------------------------------------------------ fuel of capability calls

/// `blob.get(n)` returns `n` bytes; `blob.put(s)` takes them. Counts the
/// calls that reached it.
#[derive(Default)]
struct BlobHost {
    calls: Rc<Cell<u32>>,
}

impl Host for BlobHost {
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        self.calls.set(self.calls.get() + 1);
        match (import, args) {
            (0, [Value::Int(n)]) => Ok(Value::str("x".repeat(*n as usize))),
            (1, [Value::Str(_)]) => Ok(Value::Unit),
            _ => Err(CapabilityError::new("unexpected call")),
        }
    }
}

/// Gets 6,400 bytes from the host and gives them back: 4 instructions.
fn blob_round_trip() -> Module {
    let code = vec![
        Instr::LoadInt { d: 0, imm: 6400 },
        Instr::Cap {
            d: 1,
            c: 0,
            a: 0,
            n: 1,
        },
        Instr::CapUnit { c: 1, a: 1, n: 1 },
        Instr::RetUnit {},
    ];
    Module {
        consts: vec![],
        imports: vec![
            import("blob.get", vec![Type::Int], Some(Type::Str)),
            import("blob.put", vec![Type::Str], None),
        ],
        funcs: vec![func("main", 0, vec![Type::Int, Type::Str], None, code)],
        entry: 0,
    }
}

#[test]
fn capability_calls_take_fuel_for_the_bytes_they_move_and_replay_alike() {
    let m = blob_round_trip();
    let verified = verify(m.clone()).unwrap();
    // A 6,400-byte string costs 32 + 6,400 bytes as alloc_bytes counts it:
    // 100 units as the result of `get`, 100 more as the argument of `put`.
    let mut vm = Vm::new(&verified, Limits::DEFAULT, BlobHost::default());
    assert_eq!(vm.run(), Ok(Value::Unit));
    assert_eq!((vm.instructions_executed(), vm.fuel_used()), (4, 204));
    let mut uncharged =
        Vm::new(&verified, Limits::DEFAULT, BlobHost::default()).charge_host_work(false);
    assert_eq!(uncharged.run(), Ok(Value::Unit));
    assert_eq!(uncharged.fuel_used(), 4);

    // `put` needs 203 units by its end: one short, it is refused before
    // the host sees it.
    let short = Limits {
        instructions: 202,
        ..Limits::DEFAULT
    };
    let host = BlobHost::default();
    let calls = Rc::clone(&host.calls);
    let err = Vm::new(&verified, short, host).run().unwrap_err();
    assert_eq!(
        err.kind.to_string(),
        "limit exceeded: instructions (limit 202)"
    );
    assert_eq!((err.pc, calls.get()), (2, 1), "only `get` reached the host");
    // Short of the result's charge: the run stops at `get`, after it.
    let shorter = Limits {
        instructions: 100,
        ..Limits::DEFAULT
    };
    let err = Vm::new(&verified, shorter, BlobHost::default())
        .run()
        .unwrap_err();
    assert_eq!(
        (err.kind.to_string().as_str(), err.pc),
        ("limit exceeded: instructions (limit 100)", 1)
    );

    // Recorded, each run replays as it ran: the charge follows from the
    // recorded arguments and results.
    for limits in [Limits::DEFAULT, short, shorter] {
        let (outcome, bytes) = record(&m, BlobHost::default(), limits);
        let report = trace::replay(Cursor::new(&bytes)).expect("replays");
        assert_eq!(report.outcome, outcome);
    }
    // The charge is part of the replay contract from format version 3 on:
    // the same records labelled version 2 replay uncharged, as version 2
    // runs ran, so the run stopped for fuel goes on and diverges.
    let (_, bytes) = record(&m, BlobHost::default(), short);
    let mut v2 = bytes.clone();
    v2[8] = 2;
    // A version 2 footer has no signature block.
    v2.truncate(v2.len() - (trace::FOOTER_LEN - trace::FOOTER_BODY_LEN));
    let v2 = testing::reseal(&v2);
    trace::verify(&v2[..]).expect("a version 2 trace");
    assert!(matches!(
        trace::replay(Cursor::new(&v2)),
        Err(ReplayError::Diverged(_))
    ));
}

// ---------------------------------------------------------------- signatures

#[test]
fn a_signed_trace_verifies_replays_and_names_its_key() {
    let key = golden_key();
    let m = audit(true);
    let signed = record_signed(&m, ScriptHost::default(), Limits::DEFAULT, &key);
    let (_, unsigned) = record(&m, ScriptHost::default(), Limits::DEFAULT);
    // Same run, same bytes but the signature block.
    assert_eq!(signed.len(), unsigned.len());
    let body = signed.len() - trace::FOOTER_LEN + trace::FOOTER_BODY_LEN;
    assert_eq!(signed[..body], unsigned[..body]);
    assert_eq!(signed[body], 1);
    assert!(unsigned[body..].iter().all(|&b| b == 0));

    let summary = trace::verify(&signed[..]).unwrap();
    assert_eq!(summary.signature.map(|s| s.key), Some(key.public_key()));
    assert_eq!(trace::verify(&unsigned[..]).unwrap().signature, None);
    // Both replay paths report the checked signature.
    let report = trace::replay(Cursor::new(&signed)).unwrap();
    assert_eq!(report.signature, summary.signature);
    let report = trace::replay_calls(Cursor::new(&signed), Limits::DEFAULT, &mut |_| {}).unwrap();
    assert_eq!(report.signature, summary.signature);
    let mut r = Reader::open(&signed[..]).unwrap();
    for e in r.events() {
        e.unwrap();
    }
    assert_eq!(r.footer().and_then(|f| f.signature), summary.signature);
    // The signature covers exactly the header hash and the footer body.
    let sig = summary.signature.unwrap();
    let footer_body = &signed[body - trace::FOOTER_BODY_LEN..body];
    assert!(sig.verify(&summary.header_hash, footer_body));
    let mut other = footer_body.to_vec();
    other[9] ^= 1;
    assert!(!sig.verify(&summary.header_hash, &other));
}

#[test]
fn any_altered_byte_of_a_signed_trace_fails_and_resealing_cannot_keep_the_key() {
    let key = golden_key();
    let signed = record_signed(&fib(5), NoHost, Limits::DEFAULT, &key);
    for i in 0..signed.len() {
        let mut t = signed.clone();
        t[i] ^= 0x10;
        assert!(trace::verify(&t[..]).is_err(), "byte {i}");
        assert!(trace::replay(Cursor::new(&t)).is_err(), "byte {i} replays");
    }
    // A byte of the signature or of the named key: a signature error.
    let sig_at = signed.len() - 64 - 32;
    for i in [sig_at, sig_at + 31, sig_at + 32, signed.len() - 1] {
        let mut t = signed.clone();
        t[i] ^= 0x01;
        let e = trace::verify(&t[..]).unwrap_err();
        assert!(e.is_integrity(), "{e}");
        assert!(
            matches!(e.kind, TraceErrorKind::BadSignature { .. }),
            "byte {i}: {e}"
        );
    }
    // An edit re-sealed with the signature left in place fails on it;
    // re-sealed as unsigned it verifies, but names no key; re-signed by
    // another key it names that key, never the original one.
    let mut edited = signed.clone();
    let plugin = edited
        .windows(12)
        .position(|w| w == b"audit-plugin")
        .expect("the plugin's name");
    edited[plugin] = b'A';
    let e = trace::verify(&testing::reseal(&edited)[..]).unwrap_err();
    assert!(matches!(e.kind, TraceErrorKind::BadSignature { .. }), "{e}");
    let stripped = testing::reseal_unsigned(&edited);
    assert_eq!(trace::verify(&stripped[..]).unwrap().signature, None);
    let mallory = SecretKey::from_seed([0x66; 32]);
    let resigned = testing::reseal_signed(&edited, &mallory);
    let sig = trace::verify(&resigned[..]).unwrap().signature.unwrap();
    assert_eq!(sig.key, mallory.public_key());
    assert_ne!(sig.key.fingerprint(), key.public_key().fingerprint());
    // A compromised key signs anything: the forgery verifies under it.
    let forged = testing::reseal_signed(&edited, &key);
    assert_eq!(
        trace::verify(&forged[..]).unwrap().signature.map(|s| s.key),
        Some(key.public_key())
    );
}

#[test]
fn a_malformed_signature_block_is_a_bad_footer() {
    let (_, unsigned) = record(&fib(3), NoHost, Limits::DEFAULT);
    let kind_at = unsigned.len() - trace::FOOTER_LEN + trace::FOOTER_BODY_LEN;
    for (at, v) in [(kind_at, 2u8), (kind_at + 1, 1), (unsigned.len() - 1, 1)] {
        let mut t = unsigned.clone();
        t[at] = v;
        let e = trace::verify(&t[..]).unwrap_err();
        assert!(
            matches!(e.kind, TraceErrorKind::BadFooter { .. }),
            "byte {at}: {e}"
        );
        assert_eq!(e.offset, (unsigned.len() - trace::FOOTER_LEN) as u64);
    }
    // A version 4 trace cut inside its signature block is truncated.
    let e = trace::verify(&unsigned[..unsigned.len() - 10]).unwrap_err();
    assert!(e.is_truncation(), "{e}");
}
