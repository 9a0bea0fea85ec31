//! Resource exhaustion through the CLI: one hostile plugin per sandbox limit
//! (SPEC §6), run by the real `chronicle` binary with the default limits,
//! proving two things each time:
//!
//! - the run stopped for the right reason: exit 1 and the exact
//!   `limit exceeded: <name>` words on stderr (so a test cannot pass because
//!   the plugin failed some other way);
//! - the peak resident memory (RSS) of the `chronicle` process stayed within
//!   a baseline plus a headroom derived from the limit, the baseline being
//!   the peak of `chronicle run` on a plugin that just returns 0.
//!
//! The plugins are in `tests/exhaustion/`. Recording is covered too: a
//! 5-million-step run traced to disk, then audited and replayed, stays
//! bounded (the trace is streamed, never held whole in memory). So is
//! reading hostile traces: the two committed reader bombs
//! (`chronicle-core/tests/golden/hostile/`, long runs of copy-on-write
//! pushes of a large array) through `inspect`, `debug`, `audit` and
//! `replay`, each stopped with its structured error within the reader's
//! caps (`--max-*`), and the bound follows `--max-alloc-bytes`.
//!
//! How peak memory is measured, exactly and for the `chronicle` process
//! alone: the kernel's `ru_maxrss` of `getrusage(RUSAGE_CHILDREN)` is the
//! largest peak over every child a process has waited for, and all the tests
//! of this file run as threads of one process. So each measurement re-runs
//! this very test binary as a *probe* process (the [`rss_probe`] test, active
//! only when [`PROBE_ENV`] names a directory) whose one and only child is
//! `chronicle`; the probe waits for it and writes its exit status, its peak
//! RSS and its output to that directory, which the test then reads. One
//! subtlety: a child's `ru_maxrss` also covers its image before `exec`,
//! which shares the probe's memory, so the probe records its own peak too
//! and every measurement checks that it is below the child's: the figure is
//! then `chronicle`'s own. The probe also caps the child's address space
//! ([`SAFETY_NET_BYTES`]) and time ([`TIMEOUT`]), so that a limit that does
//! not hold fails this test instead of exhausting the machine.
//!
//! Linux only: `ru_maxrss` is in KiB there (bytes on macOS), and the other
//! platforms' accounting differs; the limits themselves are tested
//! everywhere by `tests/cli.rs`. `cargo test` builds `chronicle` in debug
//! mode: the whole file takes a few seconds of wall time (see each test).
//! Run with `--nocapture` to read the measured figures.
#![cfg(target_os = "linux")]
#![forbid(unsafe_code)]

use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable that turns [`rss_probe`] on: the directory
/// holding its command line (file `command`) and receiving its report.
const PROBE_ENV: &str = "CHRONICLE_RSS_PROBE";

/// The name of the probe test, as `--exact` needs it.
const PROBE_TEST: &str = "rss_probe";

/// The address space the probe allows `chronicle` (2 GiB): far above every
/// bound asserted here (the largest is the baseline plus 320 MiB), so it
/// never decides a passing run, but a limit that fails to bound memory makes
/// the child's allocation fail (an abort: the test then fails on the exit
/// status, showing the peak) instead of eating the machine's memory.
const SAFETY_NET_BYTES: u64 = 2 << 30;

/// The wall time the probe allows `chronicle` before killing it.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A mebibyte, in KiB (the unit of `ru_maxrss` and of every figure here).
const MIB: u64 = 1024;

/// A gibibyte, in KiB: the issue's ceiling for any reader on a hostile trace.
const GIB: u64 = 1024 * MIB;

/// One `chronicle` process, as the probe saw it.
#[derive(Debug)]
struct Measured {
    /// The command line after `chronicle`, for messages.
    what: String,
    /// The exit code, `None` when a signal ended the process.
    code: Option<i32>,
    /// Whether the probe killed it at [`TIMEOUT`].
    timed_out: bool,
    stdout: String,
    stderr: String,
    /// Peak RSS of the child, in KiB.
    peak_kib: u64,
    /// Peak RSS of the probe process itself (its `VmHWM`), in KiB.
    probe_kib: u64,
    /// Wall time of the child.
    wall: Duration,
}

impl Measured {
    /// Asserts the process ended the way a plugin hitting `limit` ends:
    /// exit 1, nothing on stdout, and an `error: limit exceeded: <limit>`
    /// line on stderr naming exactly that limit (`trace` and `replay` write
    /// a summary line before it).
    fn assert_limit_hit(&self, limit: &str) {
        let words = format!("error: limit exceeded: {limit}");
        let named = self.stderr.lines().any(|line| {
            line.strip_prefix(&words)
                .is_some_and(|rest| !rest.starts_with(|c: char| c == '_' || c.is_alphanumeric()))
        });
        assert!(
            self.code == Some(1) && named && self.stdout.is_empty(),
            "expected exit 1 with `limit exceeded: {limit}`\n{self:#?}"
        );
    }

    /// Asserts the peak RSS is at most the baseline plus `headroom_kib`,
    /// printing the figures either way.
    fn assert_peak_within(&self, label: &str, headroom_kib: u64) {
        let base = baseline();
        let bound = base + headroom_kib;
        eprintln!(
            "exhaustion: {label:<30} peak RSS {:>7} KiB = baseline {base} KiB {:>+8} KiB \
             (bound: baseline + {headroom_kib} KiB), {:.2} s",
            self.peak_kib,
            self.peak_kib as i64 - base as i64,
            self.wall.as_secs_f64()
        );
        assert!(
            self.peak_kib <= bound,
            "{label}: `chronicle {}`: peak RSS {} KiB is over baseline {base} KiB + headroom \
             {headroom_kib} KiB\n{self:#?}",
            self.what,
            self.peak_kib
        );
    }
}

/// Runs `chronicle ARGS` through a probe process and returns what it did.
fn measure<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    let args: Vec<OsString> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    // One word per line (no word here contains a newline).
    let mut command = env!("CARGO_BIN_EXE_chronicle").to_owned();
    for arg in &args {
        let arg = arg.to_str().expect("UTF-8 argument");
        assert!(!arg.contains('\n'));
        command.push('\n');
        command.push_str(arg);
    }
    std::fs::write(dir.path().join("command"), command).expect("write command");
    let me = std::env::current_exe().expect("the test binary");
    let probe = Command::new(me)
        .args([PROBE_TEST, "--exact", "--test-threads=1", "--quiet"])
        .env(PROBE_ENV, dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("the probe runs");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let report = read("report");
    assert!(
        probe.status.success() && !report.is_empty(),
        "the probe failed: {}\nstdout: {}\nstderr: {}",
        probe.status,
        String::from_utf8_lossy(&probe.stdout),
        String::from_utf8_lossy(&probe.stderr)
    );
    let field = |key: &str| -> String {
        report
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in the probe's report:\n{report}"))
            .to_owned()
    };
    let number = |key: &str| -> u64 { field(key).parse().expect("a number") };
    let measured = Measured {
        what: args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        code: field("code").parse().ok(),
        timed_out: field("timed_out") == "true",
        stdout: read("stdout"),
        stderr: read("stderr"),
        peak_kib: number("child_maxrss_kib"),
        probe_kib: number("probe_maxrss_kib"),
        wall: Duration::from_micros(number("wall_us")),
    };
    // The child's figure covers the probe's memory it started from (see
    // the module doc): it is `chronicle`'s own only if it is larger.
    assert!(
        measured.probe_kib < measured.peak_kib,
        "the probe's own peak RSS hides the child's\n{measured:#?}"
    );
    assert!(
        !measured.timed_out,
        "killed after {TIMEOUT:?}\n{measured:#?}"
    );
    measured
}

/// The measuring side of [`measure`]: active only in a process started by
/// it (with [`PROBE_ENV`] set); in an ordinary test run it does nothing.
#[test]
fn rss_probe() {
    let Some(dir) = std::env::var_os(PROBE_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let command = std::fs::read_to_string(dir.join("command")).expect("command");
    let mut words = command.lines();
    let program = words.next().expect("a program");

    // The child inherits this cap on its address space (the probe itself
    // is far below it).
    let (_, hard) = getrlimit(Resource::RLIMIT_AS).expect("getrlimit");
    setrlimit(Resource::RLIMIT_AS, SAFETY_NET_BYTES.min(hard), hard).expect("setrlimit");

    let before = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    assert_eq!(before.max_rss(), 0, "the probe has had no child before");

    let create = |name: &str| File::create(dir.join(name)).expect("output file");
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(words)
        .stdin(Stdio::null())
        .stdout(create("stdout"))
        .stderr(create("stderr"))
        .spawn()
        .expect("chronicle starts");
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = start.elapsed();
    // The one child this process ever had, waited for above.
    let child_kib = getrusage(UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss();
    // The probe's own peak, the most of it the child's figure can include.
    // Not `getrusage(RUSAGE_SELF)`: that one also covers the memory of the
    // test process that spawned the probe (the same rule, one level up).
    let status_file = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let probe_kib = status_file
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("VmHWM in /proc/self/status");

    let code = status
        .code()
        .map_or_else(|| "none".to_owned(), |c| c.to_string());
    let report = format!(
        "code={code}\nstatus={status}\ntimed_out={timed_out}\nchild_maxrss_kib={child_kib}\n\
         probe_maxrss_kib={probe_kib}\nwall_us={}\n",
        wall.as_micros()
    );
    std::fs::write(dir.join("report"), report).expect("write report");
}

/// A plugin of `tests/exhaustion/`.
fn plugin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/exhaustion")
        .join(name)
}

/// The peak RSS of `chronicle run` on a plugin that returns 0: the process
/// with its code, the module and the VM, and no plugin data to speak of.
/// Measured once per test process.
fn baseline() -> u64 {
    static BASELINE: OnceLock<u64> = OnceLock::new();
    *BASELINE.get_or_init(|| {
        let m = measure(&[OsString::from("run"), plugin("trivial.chr").into()]);
        assert_eq!(m.code, Some(0), "{m:#?}");
        assert_eq!(m.stdout, "0\n", "{m:#?}");
        eprintln!(
            "exhaustion: baseline (run trivial.chr)  peak RSS {:>7} KiB",
            m.peak_kib
        );
        m.peak_kib
    })
}

/// `chronicle run PLUGIN EXTRA...`.
fn run(name: &str, extra: &[&str]) -> Measured {
    let mut args = vec![OsString::from("run"), plugin(name).into()];
    args.extend(extra.iter().map(OsString::from));
    measure(&args)
}

#[test]
fn instructions_an_endless_loop_stops_in_constant_memory() {
    let m = run("instructions.chr", &[]);
    m.assert_limit_hit("instructions");
    // A loop over one int register allocates nothing per instruction: 8 MiB
    // is allocator and page-cache noise, not plugin data.
    m.assert_peak_within("instructions (5M steps)", 8 * MIB);
}

#[test]
fn call_depth_endless_recursion_stops_in_bounded_memory() {
    let m = run("call_depth.chr", &[]);
    m.assert_limit_hit("call_depth");
    // 128 frames of 3 registers each: a few KiB of stack frames.
    m.assert_peak_within("call_depth (128 frames)", 8 * MIB);
}

#[test]
fn registers_a_frame_over_the_limit_is_refused_at_the_call() {
    // The registers limit is not the verifier's (it knows no limits): it is
    // checked at run time when a frame is about to be pushed, so the error
    // names the call instruction in `main` (line 12 of the file), before
    // any register of the 512-register frame exists.
    let m = run("registers.chasm", &[]);
    m.assert_limit_hit("registers");
    assert!(
        m.stderr.contains("(limit 256) at line 12 (in `main`"),
        "{m:#?}"
    );
    // Nothing was allocated for the refused frame.
    m.assert_peak_within("registers (512 > 256)", 8 * MIB);
}

#[test]
fn array_len_endless_pushes_stop_in_bounded_memory() {
    let m = run("array_len.chr", &[]);
    m.assert_limit_hit("array_len");
    // 100_000 ints are 800 KB; growing by doubling briefly holds the old
    // and the new buffer (up to ~2.4 MB): 16 MiB leaves room for the
    // allocator, and is far below what an unbounded array would reach.
    m.assert_peak_within("array_len (100k ints)", 16 * MIB);
}

#[test]
fn string_bytes_endless_doubling_stops_in_bounded_memory() {
    let m = run("string_bytes.chr", &[]);
    m.assert_limit_hit("string_bytes");
    // The largest string allowed is 1 MiB; `s = s + s` holds at most the
    // operand and the result (and a growing buffer's old and new copy):
    // ~2-3 copies of at most 2 MiB, well within 16 MiB. Unbounded, the
    // 5M-instruction budget would double it far past the machine's memory.
    m.assert_peak_within("string_bytes (1 MiB)", 16 * MIB);
}

#[test]
fn alloc_bytes_endless_copies_stop_in_bounded_memory() {
    // Each iteration keeps a new ~800 KB copy of a 99_999-int array alive,
    // every value within the per-value limits: only alloc_bytes (the bytes
    // of strings and arrays a run allocates in all, default 256 MiB) stops
    // it. Without it this reached 1.5 GB in 2000 copies.
    let m = run("alloc_bytes.chr", &[]);
    m.assert_limit_hit("alloc_bytes");
    // The limit counts what the run allocates, so the live data stays under
    // 256 MiB; 64 MiB of slack covers allocator overhead (page rounding of
    // each block, the outer array's growth) and memory freed but not yet
    // returned to the system.
    m.assert_peak_within("alloc_bytes (256 MiB)", 256 * MIB + 64 * MIB);

    // The bound follows the flag: a quarter of the default allows a quarter
    // of the memory.
    let m = run("alloc_bytes.chr", &["--alloc-bytes", "67108864"]);
    m.assert_limit_hit("alloc_bytes");
    m.assert_peak_within("alloc_bytes (64 MiB flag)", 64 * MIB + 32 * MIB);
}

#[test]
fn a_result_sharing_one_string_many_times_is_refused_before_it_is_printed() {
    // Found by this file: printing a [str] that holds one 1 MiB string
    // 100,000 times (within array_len and string_bytes, cheap to build) took
    // gigabytes until the machine ran out. The run's result is now charged
    // in full against alloc_bytes when it is returned.
    let m = run("shared_result.chr", &[]);
    m.assert_limit_hit("alloc_bytes");
    // The run holds one 1 MiB string (and the doubling's last copies) and
    // 100,000 references: a few MiB.
    m.assert_peak_within("shared result", 16 * MIB);
    // `--json` built the whole result as a JSON tree too.
    let m = run("shared_result.chr", &["--json"]);
    assert!(
        m.code == Some(1) && m.stdout.contains(r#""limit":"alloc_bytes""#),
        "{m:#?}"
    );
    m.assert_peak_within("shared result (--json)", 16 * MIB);
}

#[test]
fn a_comparison_of_much_shared_storage_stops_at_the_instruction_limit() {
    // Found by this file: `xs == ys` over arrays sharing one large value
    // many times was a single instruction doing gigabytes of work (100 s for
    // a smaller case). Comparisons cost fuel for what they go through.
    let m = run("shared_compare.chr", &[]);
    m.assert_limit_hit("instructions");
    m.assert_peak_within("shared comparison", 16 * MIB);
}

/// Records `plugin` with `chronicle trace` (default limits: it hits the
/// instructions limit after 5M steps), then audits and replays the trace,
/// asserting each process's outcome and peak RSS. Returns the trace's size.
fn trace_audit_replay(name: &str, headroom_kib: u64) -> u64 {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("out.ctrace");

    // `trace` runs exactly as `run` does (exit 1 on a limit) and still
    // writes the complete trace (SPEC §6, §7).
    let mut args = vec![OsString::from("trace"), plugin(name).into()];
    args.extend([OsString::from("-o"), out.clone().into()]);
    let m = measure(&args);
    m.assert_limit_hit("instructions");
    let size = std::fs::metadata(&out)
        .unwrap_or_else(|e| panic!("no trace at {}: {e}\n{m:#?}", out.display()))
        .len();
    m.assert_peak_within(&format!("trace {name}"), headroom_kib);

    // A run that hit a limit is a faithful trace, not an audit failure:
    // audit exits 0 (non-zero is for a failed audit, SPEC §8) and reports
    // the outcome.
    let m = measure(&[OsString::from("audit"), out.clone().into()]);
    assert_eq!(m.code, Some(0), "{m:#?}");
    assert!(m.stdout.contains(": PASS"), "{m:#?}");
    assert!(
        m.stdout
            .contains("runtime error: limit exceeded: instructions"),
        "{m:#?}"
    );
    assert!(m.stdout.contains("5000000 instructions"), "{m:#?}");
    m.assert_peak_within(&format!("audit {name}"), headroom_kib);

    // Replay re-executes the run and ends as it did: exit 1, the limit.
    let m = measure(&[OsString::from("replay"), out.into()]);
    m.assert_limit_hit("instructions");
    assert!(m.stderr.contains("match the recording"), "{m:#?}");
    m.assert_peak_within(&format!("replay {name}"), headroom_kib);
    size
}

#[test]
fn tracing_an_endless_loop_streams_to_disk_in_bounded_memory() {
    // 5M events: held in memory, even at a few bytes each, they would be
    // tens of MiB. Writing (buffers, compression, hashing), reading back
    // (audit, replay) and re-executing stay within 16 MiB.
    let size = trace_audit_replay("instructions.chr", 16 * MIB);
    eprintln!("exhaustion: trace of instructions.chr: {size} bytes");
}

#[test]
fn tracing_incompressible_steps_streams_to_disk_in_bounded_memory() {
    // The loop of instructions.chr compresses to almost nothing; this one
    // writes a pseudo-random register value at every step, so the trace
    // file itself is larger than the headroom: had any of trace, audit or
    // replay held the file (or its events) whole, it would not fit.
    let headroom = 16 * MIB;
    let size = trace_audit_replay("instructions_noisy.chr", headroom);
    eprintln!("exhaustion: trace of instructions_noisy.chr: {size} bytes");
    assert!(
        size > headroom * 1024,
        "the trace ({size} bytes) must be larger than the headroom to prove anything"
    );
}

// ---- Hostile traces: the readers stop at their own caps ----

/// A committed reader bomb (`chronicle-core/tests/golden/hostile/NAME`),
/// read from its path, whatever its format version.
fn bomb(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../chronicle-core/tests/golden/hostile")
        .join(name)
}

/// `chronicle CMD TRACE EXTRA...`; `debug` is scripted (`--commands quit`).
fn read(cmd: &str, trace: &Path, extra: &[&str]) -> Measured {
    let mut args = vec![OsString::from(cmd), trace.into()];
    if cmd == "debug" {
        args.extend(["--commands", "quit"].map(OsString::from));
    }
    args.extend(extra.iter().map(OsString::from));
    measure(&args)
}

impl Measured {
    /// Asserts exit `code` and that stderr has an `error:` line with every
    /// one of `words`, and a hint line with `hint`.
    fn assert_refused(&self, code: i32, words: &[&str], hint: &str) {
        let error = self
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default();
        let hinted = self
            .stderr
            .lines()
            .any(|l| l.starts_with("  hint: ") && l.contains(hint));
        assert!(
            self.code == Some(code) && words.iter().all(|w| error.contains(w)) && hinted,
            "expected exit {code}, an error with {words:?} and a hint with {hint:?}\n{self:#?}"
        );
    }

    /// [`Measured::assert_peak_within`], and under [`GIB`] in all.
    fn assert_reader_peak(&self, label: &str, headroom_kib: u64) {
        self.assert_peak_within(label, headroom_kib);
        assert!(self.peak_kib < GIB, "{label}: {} KiB", self.peak_kib);
    }
}

/// The reader's default `alloc_bytes` cap (that of `chronicle run`), in KiB.
const CAP: u64 = 256 * MIB;

#[test]
fn the_default_limits_bomb_stops_every_reader_within_its_alloc_cap() {
    // Shape (a): default limits in the header, 100,000 copy-on-write pushes
    // of a large array; a reader that does not charge copies builds ~40 GB.
    let t = bomb("cow-push-default.ctrace");
    let cap_words = "needs more than this reader's alloc_bytes cap of 268435456 bytes";

    // inspect: the reader charges every copy it makes to its cap (the
    // events it hands out may share what it would mutate) and stops there,
    // as on a trace it cannot trust (exit 3). It holds what it copied: the
    // cap, plus slack for the allocator and the outer array's growth.
    let m = read("inspect", &t, &[]);
    m.assert_refused(3, &["reading event #", cap_words], "--max-alloc-bytes");
    assert!(m.stdout.contains("statistics"), "{m:#?}");
    m.assert_reader_peak("inspect cow-push-default", CAP + 64 * MIB);

    // debug: the same, while it keeps checkpoints that share the reader's
    // state; the reader allows them as much again (twice the cap in all).
    // Every trace the debugger cannot read is exit 2.
    let m = read("debug", &t, &[]);
    m.assert_refused(2, &["reading event #", cap_words], "--max-alloc-bytes");
    assert!(m.stdout.is_empty(), "{m:#?}");
    m.assert_reader_peak("debug cow-push-default", 2 * CAP + 96 * MIB);

    // replay and audit check the recording against its own limits: it
    // claims copies past its alloc_bytes, so it is not a genuine run (an
    // integrity failure, exit 3). They hold the re-executed run (within the
    // recorded alloc_bytes) and the reader's state (within the cap) at once,
    // after a first, byte-comparing pass that held the run alone: twice the
    // cap, and slack for the allocator keeping what that pass freed.
    let recorded = "allocations beyond the recorded alloc_bytes limit";
    let m = read("replay", &t, &[]);
    m.assert_refused(3, &["integrity check failed", recorded], "do not trust it");
    assert!(m.stdout.is_empty(), "{m:#?}");
    m.assert_reader_peak("replay cow-push-default", 2 * CAP + 96 * MIB);

    let m = read("audit", &t, &[]);
    m.assert_refused(3, &["failed: integrity", recorded], "do not trust");
    assert!(
        m.stdout.contains(": FAIL") && m.stdout.contains(&format!("FAIL: malformed event #")),
        "{m:#?}"
    );
    m.assert_reader_peak("audit cow-push-default", 2 * CAP + 96 * MIB);
    let m = read("audit", &t, &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&m.stdout).expect("one JSON object");
    assert_eq!(m.code, Some(3), "{m:#?}");
    assert_eq!(report["verdict"], "fail", "{report}");
    assert_eq!(report["integrity"]["ok"], false, "{report}");
    assert!(
        report["integrity"]["error"]
            .as_str()
            .is_some_and(|e| e.contains(recorded)),
        "{report}"
    );
    m.assert_reader_peak("audit --json cow-push-default", 2 * CAP + 96 * MIB);
}

#[test]
fn the_unbounded_bomb_is_refused_before_any_event_by_every_reader() {
    // Shape (b): a genuine recording of a run without limits (3,000,000
    // pushes); only the reader's own caps can stop it, and they do at the
    // header, naming the first limit over its cap and the flag to raise.
    let t = bomb("cow-push-unbounded.ctrace");
    let words = [
        "the trace's recorded instructions limit 18446744073709551615",
        "is above this reader's cap 5000000",
    ];
    for cmd in ["inspect", "debug", "audit", "replay"] {
        let m = read(cmd, &t, &[]);
        m.assert_refused(2, &words, "--max-instructions 18446744073709551615");
        assert!(m.stderr.contains("--unbounded"), "{m:#?}");
        assert!(m.stdout.is_empty(), "{cmd}: nothing read\n{m:#?}");
        // Nothing was decoded: the process's own code and the header.
        m.assert_reader_peak(&format!("{cmd} cow-push-unbounded"), 8 * MIB);
    }
    // With `--unbounded` the reader would rebuild what the run built
    // (about 36 TB: unbounded, as the flag says). Every other cap lifted,
    // `--max-alloc-bytes` alone keeps it out, before any event.
    let max = u64::MAX.to_string();
    let mut others = Vec::new();
    for flag in [
        "--max-instructions",
        "--max-call-depth",
        "--max-registers",
        "--max-array-len",
        "--max-string-bytes",
    ] {
        others.extend([flag, max.as_str()]);
    }
    others.extend(["--max-alloc-bytes", "67108864"]);
    for cmd in ["inspect", "debug", "audit", "replay"] {
        let m = read(cmd, &t, &others);
        m.assert_refused(
            2,
            &["recorded alloc_bytes limit 18446744073709551615 is above this reader's cap 67108864"],
            "--max-alloc-bytes 18446744073709551615",
        );
        m.assert_reader_peak(&format!("{cmd} cow-push-unbounded (alloc cap)"), 8 * MIB);
    }
}

#[test]
fn the_memory_of_a_reader_follows_its_alloc_cap() {
    // Shape (a) recorded under a 64 MiB alloc_bytes, read under a 64 MiB
    // cap: a quarter of the default cap allows about a quarter of the
    // memory (`debug` twice that, for its checkpoints).
    use chronicle_core::trace::testing::cow_push_bomb;
    use chronicle_core::Limits;
    let cap = 64u64 << 20;
    let tmp = tempfile::tempdir().expect("temp dir");
    let t = tmp.path().join("bomb-64m.ctrace");
    let limits = Limits {
        alloc_bytes: cap,
        ..Limits::DEFAULT
    };
    std::fs::write(&t, cow_push_bomb(100_000, limits)).expect("write the bomb");
    let flag = ["--max-alloc-bytes", "67108864"];
    let words = ["reading event #", "alloc_bytes cap of 67108864 bytes"];
    let m = read("inspect", &t, &flag);
    m.assert_refused(3, &words, "--max-alloc-bytes 134217728");
    m.assert_reader_peak("inspect bomb (64 MiB cap)", 64 * MIB + 32 * MIB);
    let m = read("debug", &t, &flag);
    m.assert_refused(2, &words, "--max-alloc-bytes 134217728");
    m.assert_reader_peak("debug bomb (64 MiB cap)", 2 * 64 * MIB + 48 * MIB);
}
