//! Fuzz target: structure-aware VM fuzzing. The bytes describe a program
//! that passes the verifier by construction (see `chronicle_fuzz::program`);
//! it must verify, survive the binary format and the assembler, and run to a
//! value or a structured error, identically twice.
#![no_main]

use chronicle_fuzz::program::Program;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|program: Program| {
    chronicle_fuzz::oracle::check_program(&program);
});
