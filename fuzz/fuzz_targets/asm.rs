//! Fuzz target: arbitrary bytes, as lossy UTF-8, through the assembler.
//! Parsed text must print back to the same module, round-trip through the
//! binary format, and, if it verifies, run within small limits to a value or
//! a structured error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    chronicle_fuzz::oracle::check_asm(&String::from_utf8_lossy(data));
});
