//! The integration test binary of `chronicle-lang`: one binary, one module
//! per area.
//!
//! - `corpus`: every `tests/programs/*.chr` script runs through the checker and
//!   the reference evaluator and must meet its `// expect` line;
//! - `diagnostics`: every `tests/diagnostics/*.chr` must fail to compile, and
//!   its rendered diagnostics are snapshot-tested;
//! - `hostile`: garbage and pathological input gives diagnostics, never a panic;
//! - `generated`: random well-typed programs check and run;
//! - `typed`: what the checker hands to a code generator;
//! - `compiled`: the corpus and generated programs compiled and run on the
//!   VM agree with their expectations and with the reference evaluator;
//!   compiled code verifies, stays small and runs in-place updates in
//!   linear time; the benchmark workloads compute their answers.

#[path = "../common/mod.rs"]
mod common;

mod compiled;
mod corpus;
mod diagnostics;
mod generated;
mod hostile;
mod typed;
