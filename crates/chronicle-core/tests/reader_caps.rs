//! The reader's own caps: traces that make readers allocate far beyond
//! their size (long runs of copy-on-write pushes of a large array, as
//! `trace::testing::cow_push_bomb` writes them) are stopped with a
//! structured error, by every reader: `verify`, replay, the event reader
//! (also when the caller keeps every event) and a reader taking checkpoints;
//! a header that records limits above the reader's caps is refused before
//! any event.

use chronicle_core::trace::testing::{cow_push_bomb, cow_push_module};
use chronicle_core::trace::{
    self, replay_capped_with, verify_capped, Event, Reader, ReplayError, TraceErrorKind,
    TraceHeader,
};
use chronicle_core::vm::NoHost;
use chronicle_core::{Limit, Limits, Value};
use std::io::Cursor;
use std::path::PathBuf;

/// Shape (a): default limits in the header, 100,000 copy-on-write pushes.
fn shape_a() -> Vec<u8> {
    cow_push_bomb(100_000, Limits::DEFAULT)
}

/// A cap error, or the test fails showing what came instead.
fn assert_cap_error(e: &TraceErrorKind) -> u64 {
    match e {
        TraceErrorKind::ReaderAllocCap { cap, .. } => *cap,
        other => panic!("expected the reader's alloc_bytes cap, got {other:?}"),
    }
}

/// The default limits with `alloc_bytes` lowered to `bytes`.
fn alloc_capped(bytes: u64) -> Limits {
    Limits {
        alloc_bytes: bytes,
        ..Limits::DEFAULT
    }
}

#[test]
fn the_forged_bomb_is_byte_for_byte_what_the_recorder_writes() {
    for n in [2, 5, 70, 300] {
        let module = cow_push_module(n);
        let mut header = TraceHeader::new(&module);
        header.tool_version = "chronicle testing".into();
        header.plugin_name = "cow_push_bomb".into();
        let recorded = trace::record(NoHost, header, Vec::new())
            .unwrap()
            .trace
            .writer;
        let forged = cow_push_bomb(n as u64, Limits::DEFAULT);
        assert_eq!(forged, recorded, "n = {n}");
        let report = trace::replay(Cursor::new(&forged)).unwrap();
        assert_eq!(report.outcome, Ok(Value::Int(n)));
    }
}

#[test]
fn shape_a_is_small() {
    let a = shape_a();
    assert!(a.len() < 24 << 10, "{} bytes", a.len());
}

#[test]
fn verify_stops_shape_a_at_the_recorded_alloc_bytes() {
    let e = trace::verify(&shape_a()[..]).unwrap_err();
    assert!(
        matches!(
            e.kind,
            TraceErrorKind::BadEvent { what, .. } if what.contains("recorded alloc_bytes")
        ),
        "{e}"
    );
}

#[test]
fn replay_refuses_shape_a() {
    let a = shape_a();
    match replay_capped_with(Cursor::new(&a), Limits::DEFAULT, &mut |_, _, _| {}) {
        Err(ReplayError::Trace(e)) => assert!(e.to_string().contains("alloc_bytes"), "{e}"),
        Err(ReplayError::Diverged(d)) => panic!("an unintact trace reported as diverged: {d}"),
        Ok(r) => panic!("replayed: {r:?}"),
    }
}

#[test]
fn the_event_reader_charges_every_copy_it_makes() {
    let a = shape_a();
    let mut reader = Reader::open(&a[..]).unwrap();
    let mut events = 0u64;
    let err = loop {
        match reader.next_event() {
            Ok(Some(_)) => events += 1,
            Ok(None) => panic!("read to the end"),
            Err(e) => break e,
        }
    };
    assert_eq!(assert_cap_error(&err.kind), Limits::DEFAULT.alloc_bytes);
    // 8 bytes per element copied: about sqrt(2 * 2^28 / 8) pushes.
    assert!(events < 3 * 9_000, "{events} events");
    assert!(
        err.to_string().contains("alloc_bytes cap of 268435456"),
        "{err}"
    );
}

#[test]
fn a_caller_that_keeps_every_event_cannot_push_the_reader_past_its_cap() {
    let small = alloc_capped(8 << 20);
    let a = cow_push_bomb(100_000, small);
    let mut reader = Reader::open_capped(&a[..], small).unwrap();
    let mut kept: Vec<Event> = Vec::new();
    let err = loop {
        match reader.next_event() {
            Ok(Some(e)) => kept.push(e),
            Ok(None) => panic!("read to the end"),
            Err(e) => break e,
        }
    };
    assert_eq!(assert_cap_error(&err.kind), 8 << 20);
    assert!(!kept.is_empty());
}

#[test]
fn a_reader_taking_checkpoints_stops_within_twice_its_cap() {
    let small = alloc_capped(8 << 20);
    let a = cow_push_bomb(100_000, small);
    let mut reader = Reader::open_capped(Cursor::new(&a), small).unwrap();
    let mut checkpoints = Vec::new();
    let err = loop {
        if reader.position() % 100 == 0 {
            checkpoints.push(reader.checkpoint());
        }
        match reader.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("read to the end"),
            Err(e) => break e,
        }
    };
    assert_cap_error(&err.kind);
    // Without the snapshots' allowance the reader would stop at the cap;
    // with it, it goes further, but each copy it made is in the budget:
    // at most twice the cap, 16 MiB of 8-byte elements.
    let copied_elements: u64 = reader.position() / 3;
    assert!(
        copied_elements * copied_elements * 8 / 2 <= 2 * (8 << 20) + (1 << 20),
        "{} events read",
        reader.position()
    );
}

#[test]
fn an_unbounded_header_is_refused_before_any_event() {
    let b = cow_push_bomb(3_000_000, Limits::UNBOUNDED);
    assert!(b.len() < 44 << 10, "{} bytes", b.len());
    let e = Reader::open_capped(&b[..], Limits::DEFAULT)
        .err()
        .expect("refused");
    assert_eq!(
        e.kind,
        TraceErrorKind::OverReaderCap {
            limit: Limit::Instructions,
            recorded: u64::MAX,
            cap: Limits::DEFAULT.instructions,
        }
    );
    assert!(e.is_reader_cap() && !e.is_integrity());
    assert!(verify_capped(&b[..], Limits::DEFAULT).is_err());
    match replay_capped_with(Cursor::new(&b), Limits::DEFAULT, &mut |_, _, _| {}) {
        Err(ReplayError::Trace(t)) => assert_eq!(t.kind, e.kind),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_refusal_names_the_first_limit_over_its_cap() {
    let b = cow_push_bomb(10, Limits::UNBOUNDED);
    let caps = Limits {
        instructions: u64::MAX,
        call_depth: u64::MAX,
        ..Limits::DEFAULT
    };
    let e = Reader::open_capped(&b[..], caps).err().expect("refused");
    assert!(
        matches!(
            e.kind,
            TraceErrorKind::OverReaderCap {
                limit: Limit::Registers,
                ..
            }
        ),
        "{e}"
    );
    // Lifted caps read it whole.
    assert!(verify_capped(&b[..], Limits::UNBOUNDED).is_ok());
}

#[test]
fn limits_at_their_caps_are_accepted() {
    let caps = Limits {
        instructions: 1000,
        ..Limits::DEFAULT
    };
    let exact = cow_push_bomb(10, caps);
    assert!(verify_capped(&exact[..], caps).is_ok());
    let above = Limits {
        instructions: 999,
        ..caps
    };
    let e = verify_capped(&exact[..], above).unwrap_err();
    assert_eq!(
        e.kind,
        TraceErrorKind::OverReaderCap {
            limit: Limit::Instructions,
            recorded: 1000,
            cap: 999
        }
    );
}

#[test]
fn a_version_1_trace_is_read_and_replayed_under_the_alloc_bytes_cap() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1");
    let caps = Limits {
        alloc_bytes: 1 << 20,
        ..Limits::DEFAULT
    };
    for name in ["audit.ctrace", "fib-depth-limit.ctrace"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let reader = Reader::open_capped(&bytes[..], caps).unwrap();
        assert_eq!(reader.format_version(), 1);
        assert_eq!(reader.header().limits.alloc_bytes, u64::MAX);
        assert_eq!(reader.replay_limits().alloc_bytes, 1 << 20);
        assert!(verify_capped(&bytes[..], caps).is_ok(), "{name}");
        replay_capped_with(Cursor::new(&bytes), caps, &mut |_, _, _| {}).unwrap();
    }
}

/// The committed copies of both shapes: file name and the bytes it must
/// hold. As the issue found them, read by the CLI's memory tests
/// (`crates/chronicle-cli/tests/exhaustion.rs`) and the viewer's tests; and
/// as seeds of the fuzz targets that read traces, shape (a) there recorded
/// under the fuzzers' 4 MiB `alloc_bytes` cap (`READER_CAPS` in
/// `fuzz/src/oracle.rs`), so that it reaches the charging of copies rather
/// than a refusal of its header.
fn committed_bombs() -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let unbounded = cow_push_bomb(3_000_000, Limits::UNBOUNDED);
    let mut out = vec![
        (
            root.join("crates/chronicle-core/tests/golden/hostile/cow-push-default.ctrace"),
            shape_a(),
        ),
        (
            root.join("crates/chronicle-core/tests/golden/hostile/cow-push-unbounded.ctrace"),
            unbounded.clone(),
        ),
    ];
    for target in ["trace_reader", "audit"] {
        let seeds = root.join("fuzz/seeds").join(target);
        out.push((
            seeds.join("cow-push-4mib.ctrace"),
            cow_push_bomb(100_000, alloc_capped(4 << 20)),
        ));
        out.push((seeds.join("cow-push-unbounded.ctrace"), unbounded.clone()));
    }
    out
}

#[test]
fn the_committed_bombs_are_what_cow_push_bomb_writes() {
    let bless = std::env::var_os("CHRONICLE_BLESS").is_some();
    for (path, bytes) in committed_bombs() {
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (CHRONICLE_BLESS=1 writes it)", path.display()));
        assert!(
            stored == bytes,
            "{} is not what cow_push_bomb writes now: CHRONICLE_BLESS=1 rewrites it",
            path.display()
        );
    }
}
