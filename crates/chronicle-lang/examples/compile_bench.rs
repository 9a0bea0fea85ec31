//! Measures compile time (check + code generation) of a generated
//! 10,000-line program and prints the best of several runs.
//!
//! ```text
//! cargo run --release -p chronicle-lang --example compile_bench [LINES]
//! ```
//!
//! The program comes from `tests/common/big.rs`, the generator the test
//! suite also compiles and runs; the target is under 100 ms for 10,000 lines.

#[path = "../tests/common/big.rs"]
mod big;

use std::time::{Duration, Instant};

fn main() {
    let lines: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let src = big::program(lines);
    let (mut check, mut total) = (Duration::MAX, Duration::MAX);
    let mut module = None;
    for _ in 0..10 {
        let started = Instant::now();
        let checked = chronicle_lang::check_source("big.chr", &src).expect("checks");
        check = check.min(started.elapsed());
        let started = Instant::now();
        module = Some(chronicle_lang::compile("big.chr", &src).expect("compiles"));
        total = total.min(started.elapsed());
        drop(checked);
    }
    let module = module.expect("ran");
    let instructions: usize = module.funcs.iter().map(|f| f.code.len()).sum();
    let widest = module.funcs.iter().map(|f| f.regs.len()).max().unwrap_or(0);
    println!(
        "{} lines, {} bytes: compile {total:.2?} (check {check:.2?}, code generation {:.2?}); \
         {} functions, {instructions} instructions, at most {widest} registers per frame",
        src.lines().count(),
        src.len(),
        total.saturating_sub(check),
        module.funcs.len(),
    );
}
