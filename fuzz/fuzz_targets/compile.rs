//! Fuzz target: arbitrary bytes through the `.chr` compiler. Whatever
//! compiles must verify, and must run under tight limits without panicking.
#![no_main]

use chronicle_core::vm::{NoHost, Vm};
use chronicle_core::{verify, Limits};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    instructions: 10_000,
    call_depth: 64,
    registers: 1024,
    array_len: 10_000,
    string_bytes: 65_536,
    alloc_bytes: 1 << 20,
};

fuzz_target!(|data: &[u8]| {
    let Ok(module) = chronicle_lang::compile_bytes("fuzz.chr", data) else {
        return;
    };
    let verified = verify(module).expect("compiled code must verify");
    let mut vm = Vm::new(&verified, LIMITS, NoHost);
    let _ = std::hint::black_box(vm.run());
    assert!(vm.instructions_executed() <= LIMITS.instructions);
    assert!(vm.bytes_allocated() <= LIMITS.alloc_bytes);
});
