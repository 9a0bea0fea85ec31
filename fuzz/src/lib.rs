//! Generators and oracles shared by ChronicleVM's fuzz targets.
//!
//! As in Wasmtime's `crates/fuzzing`, a target in `fuzz_targets/` is a few
//! lines that glue an input to an oracle; the generators and the oracles
//! live here, in the fuzz crate, never in the product crates:
//! - [`program`]: [`program::Program`], modules that pass the verifier by
//!   construction (typed registers, every opcode, loops, recursion,
//!   capability calls), built from the fuzzer's bytes with `arbitrary`;
//! - [`host`]: a deterministic, scripted capability host that checks the
//!   arguments the VM passes;
//! - [`oracle`]: the properties each target asserts.
#![forbid(unsafe_code)]

pub mod host;
pub mod oracle;
pub mod program;
