//! Fuzz target: arbitrary bytes through the trace reader, `verify` and
//! `replay`. Any panic, hang or runaway allocation is a finding.
//!
//! Each input is tried twice: as given (almost always stopped by the header
//! checksum or the hash chain), and re-sealed with valid checksums, so that
//! the header parser, the event decoder and replay see structurally altered
//! traces too.
#![no_main]

use chronicle_core::trace::{self, testing::reseal, Reader};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    let verified = trace::verify(bytes).is_ok();
    if let Ok(mut reader) = Reader::open(bytes) {
        let complete = reader.events().all(|e| e.is_ok());
        assert_eq!(complete, verified, "events() and verify() disagree");
    }
    if verified {
        let _ = trace::replay(std::io::Cursor::new(bytes));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&reseal(data));
});
