//! Fuzz target: arbitrary bytes, as lossy UTF-8, through the policy parser.
//! Parsing never panics; an accepted policy reads back consistently, and a
//! fixed module per built-in capability negotiates against it and runs (or
//! is refused) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chronicle_fuzz::oracle::check_policy(&String::from_utf8_lossy(data));
});
