//! Fuzz target: the audit pipeline (`trace::verify`, then `trace::replay`).
//!
//! An input that starts with the trace magic is a trace: it is audited as
//! given and re-sealed with valid checksums (so that altered traces reach
//! the event decoder and replay). Any other input describes a program
//! (see `chronicle_fuzz::program`): its fresh recording must verify and
//! replay to the recorded outcome, and then altered copies are audited.
#![no_main]

use chronicle_core::trace::{testing::reseal, MAGIC};
use chronicle_fuzz::oracle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(&MAGIC) {
        oracle::check_trace(data);
        oracle::check_trace(&reseal(data));
    } else if let Ok((program, options, edits)) = oracle::recording_input(data) {
        oracle::check_recording(&program, options, &edits);
    }
});
