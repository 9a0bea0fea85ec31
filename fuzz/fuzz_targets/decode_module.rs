//! Fuzz target: arbitrary bytes through the module decoder, the verifier and
//! a tightly bounded run. Any panic, hang or runaway allocation is a finding.
#![no_main]

use chronicle_core::vm::{NoHost, Vm};
use chronicle_core::{format, verify, Limits};
use libfuzzer_sys::fuzz_target;

/// Small enough that every run ends quickly, whatever the module does.
const LIMITS: Limits = Limits {
    instructions: 10_000,
    call_depth: 64,
    registers: 1024,
    array_len: 10_000,
    string_bytes: 65_536,
};

fuzz_target!(|data: &[u8]| {
    let Ok(module) = format::decode(std::hint::black_box(data)) else { return };
    // Every accepted input is canonical: it re-encodes to the same bytes.
    assert_eq!(format::encode(&module), data, "decode accepted a non-canonical encoding");
    let Ok(verified) = verify(module) else { return };
    let mut vm = Vm::new(&verified, LIMITS, NoHost);
    let _ = std::hint::black_box(vm.run());
    assert!(vm.instructions_executed() <= LIMITS.instructions);
});
