//! Side-by-side benchmark of ChronicleVM against Lua 5.4 (mlua), wasmi 2 and Rhai.
//!
//! ```text
//! cargo run -p chronicle-bench --release -- [--reps N] [--quick] [--only W[,W]]
//!     [--engines E[,E]] [--baseline E] [--lua-naive] [--json]
//! ```
//!
//! Workloads (sources in `crates/chronicle-bench/workloads/`): `fib` (recursive
//! fib(30)), `loop` (sum of (i*i) % 7 for i in 0..20M), `sieve` (primes below 2M)
//! and `strings` (byte length of the decimal strings of 0..200k appended).
//!
//! The harness first CHECKS, at small sizes, that every selected engine returns the
//! Rust reference answer for every workload, and exits with status 1 listing every
//! disagreement otherwise. It then prepares each (workload, engine) pair outside the
//! timed region, times `--reps` runs (each answer is checked again), and prints the
//! median per pair plus `peer / baseline` ratios as a markdown table (or JSON).
//! Progress goes to stderr, the report to stdout. `--quick` (1 rep, small sizes) is
//! the CI smoke test.
#![forbid(unsafe_code)]

mod engines;
mod report;
mod workload;

use engines::Engine;
use report::{Outcome, Report, Row};
use std::process::ExitCode;
use std::time::Instant;
use workload::Workload;

const USAGE: &str = "\
usage: chronicle-bench [options]
  --reps N          timed repetitions per workload and engine (default 5; 1 with --quick)
  --quick           small problem sizes, 1 repetition: checks that all engines agree
  --only W[,W]      workloads to run: fib, loop, sieve, strings (default: all)
  --engines E[,E]   engines to run (default: all except opt-in ones)
  --baseline E      engine the ratios are computed against (default: chronicle-asm)
  --lua-naive       also run the quadratic `s = s .. i` Lua strings variant (lua-naive)
  --json            print JSON instead of a markdown table
  -h, --help        this help";

/// Parsed command line.
struct Options {
    reps: usize,
    quick: bool,
    workloads: Vec<Workload>,
    engines: Vec<&'static Engine>,
    baseline: &'static str,
    json: bool,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut reps = None;
    let mut quick = false;
    let mut json = false;
    let mut lua_naive = false;
    let mut only: Option<Vec<Workload>> = None;
    let mut engine_names: Option<Vec<&'static Engine>> = None;
    let mut baseline = engines::BASELINE;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--reps" => {
                let v = value("--reps")?;
                reps = Some(
                    v.parse()
                        .ok()
                        .filter(|&r| r > 0)
                        .ok_or(format!("bad --reps {v:?}"))?,
                );
            }
            "--quick" => quick = true,
            "--json" => json = true,
            "--lua-naive" => lua_naive = true,
            "--only" => {
                let list = value("--only")?;
                let ws = list
                    .split(',')
                    .map(|w| Workload::from_name(w).ok_or(format!("unknown workload {w:?}")));
                only = Some(ws.collect::<Result<_, _>>()?);
            }
            "--engines" => {
                let list = value("--engines")?;
                let es = list
                    .split(',')
                    .map(|e| engines::by_name(e).ok_or(format!("unknown engine {e:?}")));
                engine_names = Some(es.collect::<Result<_, _>>()?);
            }
            "--baseline" => {
                let v = value("--baseline")?;
                baseline = engines::by_name(&v)
                    .ok_or(format!("unknown engine {v:?}"))?
                    .name;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    // Registry order, so that columns are stable whatever order the user typed.
    let engines = engines::ALL
        .iter()
        .filter(|e| {
            let default = !e.opt_in && engine_names.is_none();
            let named = engine_names.iter().flatten().any(|n| n.name == e.name);
            default || named || (lua_naive && e.name == "lua-naive")
        })
        .collect();
    let mut workloads = only.unwrap_or_else(|| Workload::ALL.to_vec());
    workloads.sort_by_key(|w| Workload::ALL.iter().position(|x| x == w));
    workloads.dedup();
    let reps = reps.unwrap_or(if quick { 1 } else { 5 });
    Ok(Options {
        reps,
        quick,
        workloads,
        engines,
        baseline,
        json,
    })
}

/// Prepares and runs one pair once at size `n`, checking the answer.
/// `Ok(None)`: engine not available for this workload.
fn check_one(engine: &Engine, workload: Workload, n: i64) -> Result<Option<()>, String> {
    let expected = workload.expected(n);
    let Some(mut run) =
        (engine.prepare)(workload, n).map_err(|e| format!("prepare failed: {e}"))?
    else {
        return Ok(None);
    };
    match run() {
        Ok(got) if got == expected => Ok(Some(())),
        Ok(got) => Err(format!("returned {got}, expected {expected} (n = {n})")),
        Err(e) => Err(format!("run failed: {e}")),
    }
}

/// The correctness gate: every selected pair at quick size. Returns every failure.
fn check_all(opts: &Options) -> Vec<String> {
    let mut failures = Vec::new();
    for &workload in &opts.workloads {
        let mut line = format!("check {:<8}", workload.name());
        for engine in &opts.engines {
            let status = match check_one(engine, workload, workload.quick_size()) {
                Ok(Some(())) => "ok",
                Ok(None) => "n/a",
                Err(e) => {
                    failures.push(format!("{} on {}: {e}", engine.name, workload.name()));
                    "FAILED"
                }
            };
            line += &format!(" {}={status}", engine.name);
        }
        eprintln!("{line}");
    }
    failures
}

/// Prepares (untimed) and times `reps` runs of one pair, checking every answer.
fn measure(
    engine: &Engine,
    workload: Workload,
    n: i64,
    expected: i64,
    reps: usize,
) -> Result<Outcome, String> {
    let fail = |msg: String| format!("{} on {} (n = {n}): {msg}", engine.name, workload.name());
    let Some(mut run) =
        (engine.prepare)(workload, n).map_err(|e| fail(format!("prepare failed: {e}")))?
    else {
        return Ok(Outcome::NotAvailable);
    };
    let mut runs_ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        let answer = run();
        let elapsed = start.elapsed();
        match answer {
            Ok(got) if got == expected => runs_ms.push(elapsed.as_secs_f64() * 1e3),
            Ok(got) => return Err(fail(format!("returned {got}, expected {expected}"))),
            Err(e) => return Err(fail(format!("run failed: {e}"))),
        }
    }
    Ok(Outcome::Measured(runs_ms))
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(opts) => opts,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("chronicle-bench: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let failures = check_all(&opts);
    if !failures.is_empty() {
        eprintln!("\nCHECK FAILED: engines disagree with the expected answers:");
        for f in &failures {
            eprintln!("  - {f}");
        }
        return ExitCode::FAILURE;
    }

    let mut rows = Vec::new();
    for &workload in &opts.workloads {
        let n = if opts.quick {
            workload.quick_size()
        } else {
            workload.full_size()
        };
        let expected = workload.expected(n);
        let mut cells = Vec::new();
        for engine in &opts.engines {
            let outcome = match measure(engine, workload, n, expected, opts.reps) {
                Ok(outcome) => outcome,
                Err(msg) => {
                    eprintln!("\nCHECK FAILED during measurement: {msg}");
                    return ExitCode::FAILURE;
                }
            };
            let shown = outcome
                .median_ms()
                .map_or("n/a".to_string(), |ms| format!("{ms:.1} ms"));
            eprintln!("{:<8} {:<14} {shown}", workload.name(), engine.name);
            cells.push((engine.name, outcome));
        }
        rows.push(Row {
            workload,
            n,
            expected,
            cells,
        });
    }

    let report = Report {
        reps: opts.reps,
        quick: opts.quick,
        baseline: opts
            .engines
            .iter()
            .any(|e| e.name == opts.baseline)
            .then_some(opts.baseline),
        cpu: cpu_model(),
        engines: opts
            .engines
            .iter()
            .map(|e| (e.name, e.description))
            .collect(),
        rows,
    };
    print!(
        "{}",
        if opts.json {
            report.json()
        } else {
            report.markdown()
        }
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CI gate in test form: every engine agrees with the reference at quick size.
    #[test]
    fn all_engines_agree_at_quick_sizes() {
        let opts = parse_args(["--lua-naive".to_string()]).unwrap();
        assert_eq!(check_all(&opts), Vec::<String>::new());
    }

    /// ChronicleVM itself implements every workload (no "n/a" column).
    #[test]
    fn chronicle_runs_every_workload() {
        let opts = parse_args(Vec::new()).unwrap();
        let engine = engines::by_name("chronicle-asm").unwrap();
        for &w in &opts.workloads {
            assert_eq!(
                check_one(engine, w, w.quick_size()),
                Ok(Some(())),
                "{}",
                w.name()
            );
        }
    }

    #[test]
    fn filters_and_defaults() {
        let args = |s: &str| parse_args(s.split_whitespace().map(String::from));
        let o = args("--quick --only sieve,fib --engines rhai,lua").unwrap();
        assert_eq!((o.reps, o.quick), (1, true));
        assert_eq!(o.workloads, [Workload::Fib, Workload::Sieve]);
        assert_eq!(
            o.engines.iter().map(|e| e.name).collect::<Vec<_>>(),
            ["lua", "rhai"]
        );
        let o = args("").unwrap();
        assert_eq!(o.reps, 5);
        assert!(o.engines.iter().all(|e| e.name != "lua-naive"));
        let o = args("--engines lua --lua-naive").unwrap();
        assert_eq!(
            o.engines.iter().map(|e| e.name).collect::<Vec<_>>(),
            ["lua", "lua-naive"]
        );
        assert!(args("--only nope").is_err());
        assert!(args("--reps 0").is_err());
    }
}
