//! `Reader::skip_to` and `Reader::next_event_or_nth_step`: reading on
//! without making events gives the same positions, events, counts, outcome
//! and errors as reading every event, on the golden traces of every format
//! version and on a hostile one.

use chronicle_core::trace::{Event, EventKind, Reader, TraceError};
use chronicle_core::Limits;
use std::path::PathBuf;

fn golden(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const TRACES: [&str; 6] = [
    "v1/audit.ctrace",
    "v1/fib-depth-limit.ctrace",
    "v2/audit.ctrace",
    "v2/fib-depth-limit.ctrace",
    "v3/audit.ctrace",
    "v3/fib-depth-limit.ctrace",
];

fn all_events(bytes: &[u8]) -> Vec<Event> {
    let mut r = Reader::open(bytes).unwrap();
    let mut all = Vec::new();
    while let Some(e) = r.next_event().unwrap() {
        all.push(e);
    }
    all
}

#[test]
fn skipping_to_n_then_reading_gives_event_n() {
    for name in TRACES {
        let bytes = golden(name);
        let all = all_events(&bytes);
        let n = all.len() as u64;
        assert!(n > 10, "{name}");
        for to in [0, 1, n / 3, n / 2, n - 2, n - 1] {
            let mut r = Reader::open(&bytes[..]).unwrap();
            assert_eq!(r.skip_to(to).unwrap(), to, "{name} {to}");
            assert_eq!(r.position(), to);
            let e = r.next_event().unwrap();
            assert_eq!(e.as_ref(), all.get(to as usize), "{name}: event {to}");
        }
        // Past the end: the whole trace is read and its footer checked.
        let mut r = Reader::open(&bytes[..]).unwrap();
        assert_eq!(r.skip_to(u64::MAX).unwrap(), n, "{name}");
        assert!(r.footer().is_some(), "{name}: footer checked");
        assert_eq!(r.next_event().unwrap(), None);
        // The same counts and outcome as a reader of every event.
        let mut full = Reader::open(&bytes[..]).unwrap();
        while full.next_event().unwrap().is_some() {}
        assert_eq!(r.counts(), full.counts(), "{name}");
        assert!(r.ended().is_some(), "{name}");
        assert_eq!(r.ended(), full.ended(), "{name}");
        let kinds: u64 = EventKind::ALL.iter().map(|&k| r.counts().get(k)).sum();
        assert_eq!(kinds, n);
    }
}

#[test]
fn next_event_or_nth_step_passes_over_steps_only() {
    for name in TRACES {
        let bytes = golden(name);
        let all = all_events(&bytes);
        for every in [1u64, 2, 7, 1000] {
            let mut r = Reader::open(&bytes[..]).unwrap();
            let mut got = Vec::new();
            while let Some(e) = r.next_event_or_nth_step(every).unwrap() {
                got.push((r.position() - 1, e));
            }
            let mut want = Vec::new();
            let mut run = 0;
            for (i, e) in all.iter().enumerate() {
                if matches!(e, Event::Step { .. }) {
                    run += 1;
                    if run < every {
                        continue;
                    }
                }
                run = 0;
                want.push((i as u64, e.clone()));
            }
            assert_eq!(got, want, "{name}, every {every}");
            assert_eq!(r.position(), all.len() as u64);
            assert!(r.footer().is_some());
        }
    }
}

/// The first error of a reader under `caps`, and the position it stopped at.
fn first_error(
    bytes: &[u8],
    caps: Limits,
    read: impl Fn(&mut Reader<&[u8]>) -> Result<bool, TraceError>,
) -> (String, u64) {
    let mut r = Reader::open_capped(bytes, caps).unwrap();
    loop {
        match read(&mut r) {
            Ok(true) => {}
            Ok(false) => panic!("read to the end without an error"),
            Err(e) => return (e.to_string(), r.position()),
        }
    }
}

#[test]
fn a_hostile_trace_fails_at_the_same_event_however_it_is_read() {
    // Copy-on-write pushes past the reader's alloc_bytes cap: reading
    // every event stops at the cap; so must skipping.
    let bytes = golden("hostile/cow-push-default.ctrace");
    let caps = Limits::DEFAULT;
    let by_event = first_error(&bytes, caps, |r| Ok(r.next_event()?.is_some()));
    let by_skip = first_error(&bytes, caps, |r| {
        let at = r.position();
        Ok(r.skip_to(at + 1000)? == at + 1000)
    });
    let by_step = first_error(&bytes, caps, |r| {
        Ok(r.next_event_or_nth_step(100)?.is_some())
    });
    assert!(by_event.0.contains("alloc_bytes cap"), "{}", by_event.0);
    assert_eq!(by_skip, by_event);
    assert_eq!(by_step, by_event);
    // After an error, every call returns it.
    let mut r = Reader::open_capped(&bytes[..], caps).unwrap();
    let e = r.skip_to(u64::MAX).unwrap_err();
    assert_eq!(r.skip_to(u64::MAX).unwrap_err(), e);
    assert_eq!(r.next_event().unwrap_err(), e);
}

/// Reads `bytes` to the end either way: the outcome (the error, or the
/// events read) and where the reader stopped.
fn read_both(bytes: &[u8]) -> [(Result<u64, TraceError>, u64); 2] {
    let mut a = Reader::open(bytes).unwrap();
    let by_event = loop {
        match a.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(a.position()),
            Err(e) => break Err(e),
        }
    };
    let mut b = Reader::open(bytes).unwrap();
    let by_skip = b.skip_to(u64::MAX);
    [(by_event, a.position()), (by_skip, b.position())]
}

#[test]
fn damage_is_reported_at_the_same_event_and_offset() {
    let bytes = golden("v3/audit.ctrace");
    // A byte of the last chunk: its hash link fails.
    let mut bad = bytes.clone();
    let at = bad.len() - 70;
    bad[at] ^= 0x40;
    let [a, b] = read_both(&bad);
    assert!(a.0.is_err(), "damage not detected");
    assert_eq!(a, b);
    // Bytes of the event stream changed and the chain re-sealed: the
    // decoder, not the chain, finds what is wrong (or reads another run),
    // the same way both ways.
    let mut errors = 0;
    let mut tried = 0;
    for at in (0..bytes.len() - 57).step_by(13) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x5a;
        let bad = chronicle_core::trace::testing::reseal(&bad);
        if Reader::open(&bad[..]).is_err() {
            continue; // the header: no event is read either way
        }
        tried += 1;
        let [a, b] = read_both(&bad);
        errors += usize::from(a.0.is_err());
        assert_eq!(a, b, "byte {at}");
    }
    assert!(tried > 10, "{tried} event-stream bytes changed");
    assert!(errors > 0);
}
