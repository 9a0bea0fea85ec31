//! The CLI's integration tests, one binary: script tests that carry their own
//! expectations, and tests of each command's behaviour on good and bad input.
//!
//! A script under `tests/scripts/` is a `.chasm` plugin with expectation lines:
//!
//! - `; expect: <literal>`: `chronicle run` prints exactly this on stdout and exits 0
//!   (`; expect: unit` for no output);
//! - `; expect runtime error: <words>`: exit 1, stderr's first line contains the words
//!   (e.g. `integer overflow`, `limit exceeded: call_depth`) and, if given,
//!   `; expect line: N` names the source line;
//! - `; expect error: <words>`: exit 2 (bad input) and stderr contains the words;
//! - `; args: --flag value ...`: extra arguments for `chronicle run`.
//!
//! Every script also runs as a binary module: built with `chronicle build`,
//! run from the `.cbc`, it must behave the same.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chronicle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chronicle"))
}

fn run(args: &[&str]) -> Output {
    chronicle().args(args).output().expect("chronicle runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The expectations a script declares.
#[derive(Debug, Default)]
struct Expect {
    stdout: Option<String>,
    runtime_error: Option<String>,
    input_error: Option<String>,
    line: Option<u32>,
    args: Vec<String>,
}

fn expectations(src: &str) -> Expect {
    let mut e = Expect::default();
    for line in src.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix(';') else {
            continue;
        };
        let rest = rest.trim();
        if let Some(v) = rest.strip_prefix("expect runtime error:") {
            e.runtime_error = Some(v.trim().to_owned());
        } else if let Some(v) = rest.strip_prefix("expect error:") {
            e.input_error = Some(v.trim().to_owned());
        } else if let Some(v) = rest.strip_prefix("expect line:") {
            e.line = Some(v.trim().parse().expect("line number"));
        } else if let Some(v) = rest.strip_prefix("expect:") {
            e.stdout = Some(v.trim().to_owned());
        } else if let Some(v) = rest.strip_prefix("args:") {
            e.args = v.split_whitespace().map(str::to_owned).collect();
        }
    }
    e
}

fn check_script(path: &Path, plugin: &Path) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let e = expectations(&src);
    let mut cmd = chronicle();
    cmd.arg("run").arg(plugin).args(&e.args);
    let out = cmd.output().map_err(|e| e.to_string())?;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let code = out.status.code();
    let fail = |what: String| {
        Err(format!(
            "{what}\n  exit: {code:?}\n  stdout: {stdout}\n  stderr: {stderr}"
        ))
    };
    if let Some(want) = &e.stdout {
        let want = if want == "unit" { "" } else { want.as_str() };
        if code != Some(0) || stdout.trim_end_matches('\n') != want {
            return fail(format!("expected result {want:?}"));
        }
    } else if let Some(want) = &e.runtime_error {
        let first = stderr.lines().next().unwrap_or_default();
        if code != Some(1) || !first.contains(want.as_str()) {
            return fail(format!("expected runtime error {want:?}"));
        }
        if let Some(line) = e.line {
            if !first.contains(&format!("at line {line} ")) {
                return fail(format!("expected the error at line {line}"));
            }
        }
        if !stdout.is_empty() {
            return fail("a failed run must print nothing on stdout".into());
        }
    } else if let Some(want) = &e.input_error {
        if code != Some(2) || !stderr.contains(want.as_str()) {
            return fail(format!("expected input error {want:?}"));
        }
    } else {
        return Err("the script declares no expectation".into());
    }
    Ok(())
}

#[test]
fn scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scripts exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "chasm"))
        .collect();
    scripts.sort();
    assert!(
        scripts.len() >= 10,
        "expected the script corpus, found {}",
        scripts.len()
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    for script in &scripts {
        let name = script
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Err(why) = check_script(script, script) {
            failures.push(format!("{name}: {why}"));
            continue;
        }
        // The same plugin, built into a module, behaves the same.
        let cbc = tmp.path().join(name.replace(".chasm", ".cbc"));
        let built = run(&[
            "build",
            &script.to_string_lossy(),
            "-o",
            &cbc.to_string_lossy(),
        ]);
        if built.status.success() {
            if let Err(why) = check_script(script, &cbc) {
                failures.push(format!("{name} (as .cbc): {why}"));
            }
        } else if expectations(&std::fs::read_to_string(script).unwrap_or_default())
            .input_error
            .is_none()
        {
            failures.push(format!("{name}: build failed: {}", text(&built.stderr)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scripts failed:\n{}",
        failures.len(),
        scripts.len(),
        failures.join("\n")
    );
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/asm")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn build_then_disasm_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("fib.cbc");
    assert!(run(&[
        "build",
        &example("fib.chasm"),
        "-o",
        &first.to_string_lossy()
    ])
    .status
    .success());
    let listing = run(&["disasm", &first.to_string_lossy()]);
    assert!(listing.status.success());
    let chasm = tmp.path().join("again.chasm");
    std::fs::write(&chasm, &listing.stdout).unwrap();
    let second = tmp.path().join("again.cbc");
    assert!(run(&[
        "build",
        &chasm.to_string_lossy(),
        "-o",
        &second.to_string_lossy()
    ])
    .status
    .success());
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
        "print -> parse -> encode is byte-identical"
    );
}

#[test]
fn a_corrupted_module_is_refused_with_its_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let cbc = tmp.path().join("fib.cbc");
    assert!(
        run(&["build", &example("fib.chasm"), "-o", &cbc.to_string_lossy()])
            .status
            .success()
    );
    let mut bytes = std::fs::read(&cbc).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&cbc, &bytes).unwrap();
    let out = run(&["run", &cbc.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("at byte "), "{err}");
    assert!(out.stdout.is_empty());
    // Truncation and garbage too.
    std::fs::write(&cbc, &bytes[..at]).unwrap();
    assert_eq!(run(&["run", &cbc.to_string_lossy()]).status.code(), Some(2));
    std::fs::write(&cbc, b"\x00garbage").unwrap();
    let out = run(&["run", &cbc.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad magic"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_assembly_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.chasm");
    std::fs::write(&bad, "func main() -> int\n    .regs r0: int\n    ldi r0, 1\n    frobnicate r0\n    ret r0\nend\n").unwrap();
    let out = run(&["run", &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.chasm:4:5"), "{err}");
    assert_eq!(err.lines().count(), 2, "one line and a hint: {err}");
}

#[test]
fn input_errors_exit_2_with_one_line_and_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["run".into(), "/nonexistent/plugin.chasm".into()],
            "cannot read",
        ),
        (
            vec!["run".into(), "plugin.txt".into()],
            "unknown plugin file type",
        ),
        (vec!["run".into(), "plugin.chr".into()], ".chr"),
        (
            vec![
                "disasm".into(),
                tmp.path().join("none.cbc").to_string_lossy().into_owned(),
            ],
            "cannot read",
        ),
    ];
    for (args, words) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains(words),
            "{args:?}: {err}"
        );
        assert!(err.contains("hint: "), "{args:?}: {err}");
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["run"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        run(&["run", "x.chasm", "--instructions", "many"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["run", "x.chasm", "--unbounded", "--instructions", "5"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn an_oversized_plugin_file_is_refused_without_reading_it_all() {
    let tmp = tempfile::tempdir().unwrap();
    let huge = tmp.path().join("huge.cbc");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(65 * 1024 * 1024).unwrap(); // sparse: costs no disk
    let out = run(&["run", &huge.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("larger than 64 MiB"), "{}", text(&out.stderr));
}

#[test]
fn help_shows_every_limit_default() {
    let help = text(&run(&["run", "--help"]).stdout);
    for (flag, default) in [
        ("--instructions", "5000000"),
        ("--call-depth", "128"),
        ("--registers", "256"),
        ("--array-len", "100000"),
        ("--string-bytes", "1048576"),
    ] {
        let line = help
            .lines()
            .find(|l| l.contains(flag))
            .unwrap_or_else(|| panic!("{flag} in help"));
        assert!(line.contains(&format!("[default: {default}]")), "{line}");
    }
    assert!(help.contains("--unbounded"));
}

#[test]
fn json_output_for_results_and_errors() {
    let out = run(&["run", &example("fib.chasm"), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["result"], 6765);
    let out = run(&["run", &example("fib.chasm"), "--json", "--call-depth", "5"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "limit exceeded");
    assert_eq!(v["error"]["limit"], "call_depth");
    assert_eq!(v["error"]["value"], 5);
}

#[test]
fn a_plugin_importing_capabilities_is_refused_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("caps.chasm");
    std::fs::write(
        &p,
        "import c0 fs.read@1.0(str) -> str\nimport c1 clock.now@1.2() -> int\n\nfunc main() -> int\n    .regs r0: int\n    cap r0, c1, r0, 0\n    ret r0\nend\n",
    )
    .unwrap();
    let out = run(&["run", &p.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("fs.read@1.0") && err.contains("clock.now@1.2"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
