//! Fuzz target: arbitrary bytes through the module decoder, the verifier and
//! a tightly bounded run. Any panic, hang or runaway allocation is a finding.
//!
//! Each input is tried twice: as given (almost always stopped by the
//! checksum), and re-sealed with a correct checksum, so that structurally
//! valid mutations reach the verifier and the interpreter.
#![no_main]

use chronicle_core::format::{self, CHECKSUM_LEN};
use chronicle_core::vm::{NoHost, Vm};
use chronicle_core::{verify, Limits};
use libfuzzer_sys::fuzz_target;

/// Small enough that every run ends quickly, whatever the module does.
const LIMITS: Limits = Limits {
    instructions: 10_000,
    call_depth: 64,
    registers: 1024,
    array_len: 10_000,
    string_bytes: 65_536,
    alloc_bytes: 1 << 20,
};

fn check(bytes: &[u8]) {
    let Ok(module) = format::decode(std::hint::black_box(bytes)) else {
        return;
    };
    assert_eq!(
        format::encode(&module),
        bytes,
        "decode accepted a non-canonical encoding"
    );
    let Ok(verified) = verify(module) else { return };
    let mut vm = Vm::new(&verified, LIMITS, NoHost);
    let _ = std::hint::black_box(vm.run());
    assert!(vm.instructions_executed() <= LIMITS.instructions);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(body) = data.len().checked_sub(CHECKSUM_LEN).map(|n| &data[..n]) {
        let mut sealed = body.to_vec();
        sealed.extend_from_slice(blake3::hash(body).as_bytes());
        check(&sealed);
    }
});
