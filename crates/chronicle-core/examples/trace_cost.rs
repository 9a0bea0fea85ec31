//! What tracing costs on the benchmark workloads: bytes per executed
//! instruction on disk, and the time of a traced run, of verifying and of
//! replaying, against an untraced run. Figures only, nothing asserted:
//!
//! ```text
//! cargo run --release -p chronicle-core --example trace_cost [-- --reps 5]
//! ```

#[path = "../tests/workloads/mod.rs"]
mod workloads;

use chronicle_core::module::Module;
use chronicle_core::trace::{self, RecorderOptions, TraceHeader};
use chronicle_core::vm::{NoHost, Vm};
use chronicle_core::{verify, Limits};
use std::io::Cursor;
use std::time::{Duration, Instant};

/// An observer whose hooks are called and do nothing: the VM's own cost
/// of observing.
struct Hooked;

impl chronicle_core::vm::Observer for Hooked {}

/// The median of `reps` timings of `f`.
fn median(reps: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn measure(name: &str, m: Module, reps: usize, options: RecorderOptions) {
    if std::env::var_os("TRACE_COST_RECORD_ONLY").is_some() {
        // For profiling the recorder alone.
        let mut header = TraceHeader::new(&m);
        header.limits = Limits::UNBOUNDED;
        for _ in 0..reps {
            trace::record_with(NoHost, header.clone(), std::io::sink(), options).expect("records");
        }
        return;
    }
    let verified = verify(m.clone()).expect("workload verifies");
    let untraced = median(reps, || {
        Vm::new(&verified, Limits::UNBOUNDED, NoHost)
            .run()
            .expect("runs");
    });
    let hooked = median(reps, || {
        Vm::with_observer(&verified, Limits::UNBOUNDED, NoHost, Hooked)
            .run()
            .expect("runs");
    });
    let mut header = TraceHeader::new(&m);
    header.limits = Limits::UNBOUNDED;
    let mut bytes = Vec::new();
    let traced = median(reps, || {
        let rec = trace::record_with(NoHost, header.clone(), Vec::new(), options).expect("records");
        bytes = rec.trace.writer;
    });
    let verifying = median(reps, || {
        trace::verify(&bytes[..]).expect("verifies");
    });
    let replaying = median(reps, || {
        trace::replay(Cursor::new(&bytes)).expect("replays");
    });
    let steps = trace::verify(&bytes[..]).expect("verifies").steps;
    let header_bytes = header.module.len();
    let per = (bytes.len() - header_bytes) as f64 / steps as f64;
    let ratio = |d: Duration| d.as_secs_f64() / untraced.as_secs_f64();
    println!(
        "{name:8} {steps:>11} instr {:>10} B {per:6.3} B/instr | untraced {untraced:>9.2?} \
         hooks only {hooked:>9.2?} ({:4.2}x) traced {traced:>9.2?} ({:4.2}x) verify {verifying:>9.2?} ({:4.2}x) replay {replaying:>9.2?} ({:4.2}x)",
        bytes.len(),
        ratio(hooked),
        ratio(traced),
        ratio(verifying),
        ratio(replaying),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(3);
    for (label, options) in [
        ("lz4", RecorderOptions::default()),
        (
            "raw",
            RecorderOptions {
                compress: false,
                ..RecorderOptions::default()
            },
        ),
    ] {
        println!("chunks: {label}");
        measure("fib", workloads::fib(27), reps, options);
        measure("loop", workloads::sum_loop(5_000_000), reps, options);
        measure("sieve", workloads::sieve(2_000_000), reps, options);
        measure("strings", workloads::strings(200_000), reps, options);
        measure("for", workloads::for_sum(10_000_000), reps, options);
    }
}
