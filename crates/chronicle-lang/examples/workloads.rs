//! Compiles the benchmark workloads `crates/chronicle-bench/workloads/*.chr`,
//! runs each without limits and prints its result, the instructions it
//! executed and the time taken.
//!
//! ```text
//! cargo run --release -p chronicle-lang --example workloads [NAME | FILE.chr ...] [--dump]
//! ```
//!
//! A name is one of `fib`, `loop`, `sieve`, `strings`; any other `.chr` file
//! (without capabilities) can be given by path. `--dump` also prints each
//! compiled function, one instruction per line with its source line.

use std::path::Path;
use std::time::Instant;

use chronicle_core::{verify, vm, Limits};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dump = args.iter().any(|a| a == "--dump");
    let names: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let names = if names.is_empty() {
        vec!["fib", "loop", "sieve", "strings"]
    } else {
        names
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chronicle-bench/workloads");
    for name in names {
        let (file, path) = match name.strip_suffix(".chr") {
            Some(_) => (name.to_owned(), Path::new(name).to_path_buf()),
            None => (format!("{name}.chr"), dir.join(format!("{name}.chr"))),
        };
        let src = std::fs::read_to_string(&path).expect("source file");
        let started = Instant::now();
        let module = match chronicle_lang::compile(&file, &src) {
            Ok(module) => module,
            Err(errors) => {
                let text =
                    chronicle_lang::render_diagnostics(&file, &src, &errors, Default::default());
                eprintln!("{text}");
                std::process::exit(2);
            }
        };
        let compiled = started.elapsed();
        if dump {
            for f in &module.funcs {
                println!("fn {} ({} registers: {:?})", f.name, f.regs.len(), f.regs);
                for (pc, (instr, line)) in f.code.iter().zip(&f.lines).enumerate() {
                    println!("  {pc:4}  line {line:3}  {instr:?}");
                }
            }
        }
        let verified = verify(module).expect("compiled code verifies");
        let mut machine = vm::Vm::new(&verified, Limits::UNBOUNDED, vm::NoHost);
        let started = Instant::now();
        let result = machine.run();
        let ran = started.elapsed();
        match result {
            Ok(value) => println!(
                "{name:8} = {value:<10} {:>12} instructions  run {ran:>10.2?}  compile {compiled:.2?}",
                machine.instructions_executed()
            ),
            Err(e) => println!("{name:8} failed: {e}"),
        }
    }
}
