//! Fuzz target: arbitrary bytes through the trace reader, `verify` and
//! `replay`, all under the reader caps the CLI uses by default
//! (`oracle::READER_CAPS`). Any panic, hang or runaway allocation is a
//! finding: a trace recording limits above the caps is refused at its
//! header, and decoding charges every copy it makes (the committed seeds
//! `cow-push-*.ctrace` are the two shapes that exhausted uncapped readers).
//!
//! Each input is tried twice: as given (almost always stopped by the header
//! checksum or the hash chain), and re-sealed with valid checksums, so that
//! the header parser, the event decoder and replay see structurally altered
//! traces too.
#![no_main]

use chronicle_core::trace::{self, testing::reseal, Reader};
use chronicle_fuzz::oracle::{replay_capped, READER_CAPS};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    let verified = trace::verify_capped(bytes, READER_CAPS);
    if let Ok(mut reader) = Reader::open_capped(bytes, READER_CAPS) {
        // The events a caller keeps are charged too: keeping them all
        // cannot take the reader past its cap.
        // Keeping them costs more than verify's pass, so the two may differ
        // only by a reader cap error.
        let mut kept = Vec::new();
        let mut failed = None;
        for event in reader.events() {
            match event {
                Ok(e) => kept.push(e),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        std::hint::black_box(&kept);
        let capped = failed.as_ref().is_some_and(|e| e.is_reader_cap())
            || verified.as_ref().is_err_and(|e| e.is_reader_cap());
        if !capped {
            assert_eq!(
                failed.is_none(),
                verified.is_ok(),
                "events() and verify() disagree: {failed:?} vs {verified:?}"
            );
        }
    }
    if verified.is_ok() {
        let _ = std::hint::black_box(replay_capped(bytes));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&reseal(data));
});
