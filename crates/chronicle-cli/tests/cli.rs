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
    assert!(
        text(&out.stderr).contains("larger than 64 MiB"),
        "{}",
        text(&out.stderr)
    );
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

// ---- capabilities and policies (plugins under tests/caps/) ----

fn caps_plugin(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/caps")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs `chronicle args...` in `dir` with extra environment variables.
fn run_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    chronicle()
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("chronicle runs")
}

/// A directory holding `policy.toml` with `text`.
/// The entries of the key-value store at `path` (a redb database, as
/// `--kv-store` keeps it).
fn read_store(path: &Path) -> serde_json::Value {
    use redb::ReadableTable;
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let table = txn
        .open_table(redb::TableDefinition::<&str, &str>::new("kv"))
        .unwrap();
    let mut out = serde_json::Map::new();
    for entry in table.iter().unwrap() {
        let (k, v) = entry.unwrap();
        out.insert(k.value().to_owned(), v.value().into());
    }
    serde_json::Value::Object(out)
}

fn policy_dir(text: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("policy.toml"), text).unwrap();
    tmp
}

/// A sandbox for the file-system capabilities: `data/` is granted, and
/// outside it sit a canary file, a FIFO (opening it for reading would block
/// until a writer comes, so a run that opened it would hang) and symlinks
/// from inside `data/` to both.
fn fs_sandbox() -> tempfile::TempDir {
    let tmp = policy_dir(
        "[capabilities.\"env.get@1\"]\ndecision = \"grant\"\n\n\
         [capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = [\"data/**\"]\n\n\
         [capabilities.\"fs.list@1\"]\ndecision = \"grant\"\npaths = [\"data/**\"]\n",
    );
    let root = tmp.path();
    std::fs::create_dir_all(root.join("data/sub")).unwrap();
    std::fs::write(root.join("data/app.log"), "INFO ok\nERROR boom\n").unwrap();
    std::fs::write(root.join("data/sub/nested.txt"), "nested").unwrap();
    std::fs::write(root.join("canary.txt"), "CANARY-SECRET").unwrap();
    let fifo = Command::new("mkfifo")
        .arg(root.join("canary.fifo"))
        .status()
        .expect("mkfifo runs");
    assert!(fifo.success());
    std::os::unix::fs::symlink("../canary.txt", root.join("data/escape")).unwrap();
    std::os::unix::fs::symlink("../canary.fifo", root.join("data/escape-fifo")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("data/inner")).unwrap();
    tmp
}

/// `chronicle args...` in `dir` with `CHR_PATH=path`, killed after 20 s (a
/// run that opened the canary FIFO would block forever).
fn run_with_path(dir: &Path, plugin: &str, path: &str) -> Output {
    let child = chronicle()
        .current_dir(dir)
        .env("CHR_PATH", path)
        .args(["run", &caps_plugin(plugin), "--policy", "policy.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chronicle starts");
    let id = child.id();
    let (done, waiting) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match waiting.recv_timeout(std::time::Duration::from_secs(20)) {
        Ok(out) => out.expect("chronicle finishes"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("reading {path:?} hung: something opened the canary FIFO outside the scope");
        }
    }
}

#[test]
fn scope_escapes_are_refused_and_nothing_outside_is_read() {
    let tmp = fs_sandbox();
    let root = tmp.path();
    let canary = root.join("canary.txt").to_string_lossy().into_owned();
    let fifo = root.join("canary.fifo").to_string_lossy().into_owned();
    let escapes = [
        "../canary.txt",
        "data/../canary.txt",
        "data/sub/../../canary.txt",
        canary.as_str(),
        fifo.as_str(),
        "data/escape",
        "data/escape-fifo",
        "canary.fifo",
        "/etc/passwd",
        "data/nope/../../canary.txt",
    ];
    for path in escapes {
        let out = run_with_path(root, "read_from_env.chasm", path);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!(
                "error: capability error: fs.read@1.0: path {path:?} is outside the granted scope"
            )),
            "{path}: {err}"
        );
        assert!(first.contains(" at line 11 "), "{path}: {err}");
        assert!(out.stdout.is_empty(), "{path}");
        assert!(!err.contains("CANARY-SECRET"), "{path}");
        assert!(!err.contains("resolves to"), "{path}: {err}");
    }
    // A refusal names only what was asked for, never where it resolves:
    // `/proc/self/exe` must not reveal where the host binary lives.
    let out = run_with_path(root, "read_from_env.chasm", "/proc/self/exe");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(
            "error: capability error: fs.read@1.0: path \"/proc/self/exe\" is outside the granted scope at line 11"
        ),
        "{err}"
    );
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_chronicle")).unwrap();
    assert!(!err.contains(&*exe.to_string_lossy()), "{err}");
    // Inside the scope: plain reads, `..` that stays inside, a symlink that stays inside.
    for (path, want) in [
        ("data/app.log", "\"INFO ok\\nERROR boom\\n\""),
        ("data/sub/../app.log", "\"INFO ok\\nERROR boom\\n\""),
        ("./data/inner/nested.txt", "\"nested\""),
    ] {
        let out = run_with_path(root, "read_from_env.chasm", path);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim_end(), want, "{path}");
    }
    // A missing file in scope is reported as missing; a directory is not a file.
    let out = run_with_path(root, "read_from_env.chasm", "data/missing.log");
    assert!(text(&out.stderr).contains(
        "capability error: fs.read@1.0: cannot read \"data/missing.log\": no such file or directory at line 11"
    ));
    let out = run_with_path(root, "read_from_env.chasm", "data/sub");
    assert!(text(&out.stderr).contains("it is a directory"));
    // Listing: sorted names, the scope's directory only.
    let out = run_with_path(root, "list_from_env.chasm", "data");
    assert_eq!(
        text(&out.stdout).trim_end(),
        r#"["app.log", "escape", "escape-fifo", "inner", "sub"]"#
    );
    for path in [".", "..", "data/.."] {
        let out = run_with_path(root, "list_from_env.chasm", path);
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert!(
            text(&out.stderr).contains(&format!(
                "capability error: fs.list@1.0: path {path:?} is outside the granted scope"
            )),
            "{path}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn fs_read_is_bounded_by_the_string_bytes_limit() {
    let tmp = fs_sandbox();
    let big = vec![b'x'; 64 * 1024];
    std::fs::write(tmp.path().join("data/big.txt"), &big).unwrap();
    let out = run_in(
        tmp.path(),
        &[("CHR_PATH", "data/big.txt")],
        &[
            "run",
            &caps_plugin("read_from_env.chasm"),
            "--policy",
            "policy.toml",
            "--string-bytes",
            "1000",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "capability error: fs.read@1.0: cannot read \"data/big.txt\": it is 65536 bytes, over the string_bytes limit (1000)"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn caps_prints_the_negotiation_table_without_running() {
    let tmp = policy_dir(
        "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\n\n\
         [capabilities.\"kv.get@1\"]\ndecision = \"mock\"\nreturns = [\"7\", \"8\"]\n\n\
         [capabilities.\"kv.put@1\"]\ndecision = \"grant\"\n",
    );
    let plugin = caps_plugin("log_and_kv.chasm");
    let args = ["caps", plugin.as_str(), "--policy", "policy.toml"];
    let out = run_in(tmp.path(), &[], &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
import                    offered  decision  scope
log.write@1.0 (str, str)  1.0      grant     -
kv.get@1.0 (str) -> str   1.0      mock      returns \"7\", \"8\" (the last repeats)
kv.put@1.0 (str, str)     1.0      grant     no store: calls fail (pass --kv-store FILE)
"
    );
    // Nothing ran: no log line, no store written.
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
    let mut with_store = args.to_vec();
    with_store.extend(["--kv-store", "state.json"]);
    let out = run_in(tmp.path(), &[], &with_store);
    assert!(text(&out.stdout).contains(
        "kv.put@1.0 (str, str)     1.0      grant     store state.json, max_bytes 67108864\n"
    ));
    assert!(!tmp.path().join("state.json").exists());
    // A plugin without imports.
    let out = run(&["caps", &example("fib.chasm")]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "no capabilities imported\n");
}

#[test]
fn caps_lists_every_negotiation_problem_and_exits_2() {
    let tmp = policy_dir(
        "[capabilities.\"log.write@1\"]\ndecision = \"deny\"\n\n\
         [capabilities.\"kv.get@1\"]\ndecision = \"mock\"\nreturns = 5\n",
    );
    let plugin = caps_plugin("log_and_kv.chasm");
    for command in ["caps", "run"] {
        let out = run_in(
            tmp.path(),
            &[],
            &[command, &plugin, "--policy", "policy.toml"],
        );
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(out.stdout.is_empty(), "{command}");
        assert_eq!(
            text(&out.stderr),
            "\
error: capability negotiation failed: 3 problems
  capability log.write@1.0: denied by the policy (policy.toml:1)
  capability kv.get@1.0: policy.toml:6:11: capabilities.\"kv.get@1\".returns: expected str, found an integer
  capability kv.put@1.0: denied: the policy does not name kv.put@1 (deny by default)
  hint: fix the policy or the plugin's imports; `chronicle caps PLUGIN --policy P` shows the negotiation
",
            "{command}"
        );
    }
}

#[test]
fn a_failed_negotiation_runs_no_plugin_instruction_counted_by_side_effects() {
    // log_and_kv's first instructions log a line and its third writes the
    // store: with kv.put denied, neither may happen.
    let tmp = policy_dir(
        "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\n\n\
         [capabilities.\"kv.get@1\"]\ndecision = \"grant\"\n",
    );
    let plugin = caps_plugin("log_and_kv.chasm");
    let args = [
        "run",
        plugin.as_str(),
        "--policy",
        "policy.toml",
        "--kv-store",
        "kv.json",
        "--json",
    ];
    let out = run_in(tmp.path(), &[], &args);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("capability kv.put@1.0: denied"), "{err}");
    assert!(!err.contains("[info]"), "log.write ran: {err}");
    assert!(out.stdout.is_empty());
    assert!(!tmp.path().join("kv.json").exists(), "kv.put ran");
    // Granted, the same run logs, writes, and counts its instructions.
    std::fs::write(
        tmp.path().join("policy.toml"),
        "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\n\
         [capabilities.\"kv.get@1\"]\ndecision = \"grant\"\n\
         [capabilities.\"kv.put@1\"]\ndecision = \"grant\"\n",
    )
    .unwrap();
    let out = run_in(tmp.path(), &[], &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["instructions"], 8);
    assert_eq!(text(&out.stderr), "[info] plugin started\n");
    assert!(tmp.path().join("kv.json").exists());
}

#[test]
fn mocks_return_the_policy_values_in_order_and_the_last_repeats() {
    let tmp = policy_dir(
        "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [1700000000, 1700000042, 7]\n",
    );
    let plugin = caps_plugin("clock_five_times.chasm");
    for _ in 0..2 {
        let out = run_in(
            tmp.path(),
            &[],
            &["run", &plugin, "--policy", "policy.toml"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "[1700000000, 1700000042, 7, 7, 7]\n");
    }
    // A single value is every call's result.
    std::fs::write(
        tmp.path().join("policy.toml"),
        "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = 5\n",
    )
    .unwrap();
    let out = run_in(
        tmp.path(),
        &[],
        &["run", &plugin, "--policy", "policy.toml"],
    );
    assert_eq!(text(&out.stdout), "[5, 5, 5, 5, 5]\n");
    // A mocked fs.read reads nothing: the path does not even exist.
    let tmp = policy_dir(
        "[capabilities.\"env.get@1\"]\ndecision = \"mock\"\nreturns = \"/no/such/file\"\n\n\
         [capabilities.\"fs.read@1\"]\ndecision = \"mock\"\nreturns = [\"first\", \"then this\"]\n",
    );
    let out = run_in(
        tmp.path(),
        &[],
        &[
            "run",
            &caps_plugin("read_from_env.chasm"),
            "--policy",
            "policy.toml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "\"first\"\n");
}

#[test]
fn capability_errors_are_runtime_errors_with_the_source_line() {
    let tmp = policy_dir(
        "[capabilities.\"random.int@1\"]\ndecision = \"grant\"\n\n\
         [capabilities.\"log.write@1\"]\ndecision = \"grant\"\n\n\
         [capabilities.\"kv.get@1\"]\ndecision = \"deny\"\noptional = true\n\n\
         [capabilities.\"kv.put@1\"]\ndecision = \"grant\"\n",
    );
    let cases = [
        (
            "random_bounds.chasm",
            "error: capability error: random.int@1.0: empty range: lo (5) is greater than hi (3); both bounds are inclusive at line 14 (in `main`, pc 13)",
        ),
        (
            "log_and_kv.chasm",
            "error: capability error: kv.get@1.0: denied by the policy (policy.toml:7; optional) at line 13 (in `main`, pc 4)",
        ),
    ];
    for (plugin, want) in cases {
        let plugin = caps_plugin(plugin);
        let out = run_in(
            tmp.path(),
            &[],
            &["run", &plugin, "--policy", "policy.toml"],
        );
        assert_eq!(out.status.code(), Some(1), "{plugin}");
        assert!(out.stdout.is_empty());
        let err = text(&out.stderr);
        let first = err
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default();
        assert_eq!(first, want, "{plugin}: {err}");
        assert!(err.contains("  hint: "), "{err}");
    }
    // The JSON form names the kind and the line.
    let out = run_in(
        tmp.path(),
        &[],
        &[
            "run",
            &caps_plugin("random_bounds.chasm"),
            "--policy",
            "policy.toml",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "capability error");
    assert_eq!(v["error"]["line"], 14);
}

#[test]
fn the_key_value_store_persists_between_runs() {
    let tmp = policy_dir(&kv_policy(""));
    let first = run_kv(tmp.path(), "kv.db");
    assert_eq!(text(&first.stdout), "\"\"\n", "{}", text(&first.stderr));
    let second = run_kv(tmp.path(), "kv.db");
    assert_eq!(text(&second.stdout), "\"1\"\n");
    let stored = read_store(&tmp.path().join("kv.db"));
    assert_eq!(stored, serde_json::json!({ "runs": "1" }));
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["kv.db", "policy.toml"], "no temporary file is left");
    // Without --kv-store there is no store: a capability error, nothing written.
    let plugin = caps_plugin("log_and_kv.chasm");
    let out = run_in(
        tmp.path(),
        &[],
        &["run", &plugin, "--policy", "policy.toml"],
    );
    assert_fails_with(
        &out,
        1,
        "capability error: kv.get@1.0: no key-value store: run with --kv-store FILE at line 13",
    );
}

/// Runs `log_and_kv.chasm` in `dir` under its `policy.toml`, with `store`.
fn run_kv(dir: &Path, store: &str) -> Output {
    let plugin = caps_plugin("log_and_kv.chasm");
    let args = [
        "run",
        &plugin,
        "--policy",
        "policy.toml",
        "--kv-store",
        store,
    ];
    run_in(dir, &[], &args)
}

/// Asserts that `out` exited with `code` and that its stderr says `needle`.
fn assert_fails_with(out: &Output, code: i32, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
}

/// The policy of `log_and_kv.chasm` with the store granted, `extra` on kv.put.
fn kv_policy(extra: &str) -> String {
    format!(
        "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\n\
         [capabilities.\"kv.get@1\"]\ndecision = \"grant\"\n\
         [capabilities.\"kv.put@1\"]\ndecision = \"grant\"\n{extra}"
    )
}

#[test]
fn a_json_store_of_an_earlier_version_is_migrated_and_kept() {
    let tmp = policy_dir(&kv_policy(""));
    std::fs::write(
        tmp.path().join("kv.json"),
        "{\"runs\": \"5\", \"x\": \"y\"}",
    )
    .unwrap();
    let out = run_kv(tmp.path(), "kv.json");
    assert_eq!(text(&out.stdout), "\"5\"\n", "{}", text(&out.stderr));
    assert_eq!(
        read_store(&tmp.path().join("kv.json")),
        serde_json::json!({ "runs": "1", "x": "y" })
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("kv.json.v1.json")).unwrap(),
        "{\"runs\": \"5\", \"x\": \"y\"}"
    );
    // A file that is neither is refused, and left alone.
    std::fs::write(tmp.path().join("notes.txt"), "hello").unwrap();
    let out = run_kv(tmp.path(), "notes.txt");
    assert_fails_with(
        &out,
        1,
        "notes.txt is neither a key-value store nor a JSON store of an earlier version",
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("notes.txt")).unwrap(),
        "hello"
    );
}

#[test]
fn a_store_path_that_is_a_symlink_is_refused() {
    let tmp = policy_dir(&kv_policy(""));
    std::os::unix::fs::symlink(tmp.path().join("target.db"), tmp.path().join("kv.db")).unwrap();
    let out = run_kv(tmp.path(), "kv.db");
    assert_fails_with(&out, 1, "kv.db is a symbolic link: refused");
    assert!(
        !tmp.path().join("target.db").exists(),
        "the link was followed"
    );
}

#[test]
fn max_bytes_bounds_the_store_and_belongs_on_kv_put_only() {
    // "runs" + "1" is 5 bytes: over a max_bytes of 4.
    let tmp = policy_dir(&kv_policy("max_bytes = 4\n"));
    assert_fails_with(
        &run_kv(tmp.path(), "kv.db"),
        1,
        "capability error: kv.put@1.0: the store would hold 5 bytes of keys and values, \
         over its max_bytes of 4 (set max_bytes on kv.put@1 in the policy) at line 14",
    );
    std::fs::write(tmp.path().join("policy.toml"), kv_policy("max_bytes = 5\n")).unwrap();
    let out = run_kv(tmp.path(), "kv.db");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // On another capability it is a policy error, before anything runs.
    std::fs::write(
        tmp.path().join("policy.toml"),
        kv_policy("").replace(
            "[capabilities.\"kv.get@1\"]\ndecision = \"grant\"\n",
            "[capabilities.\"kv.get@1\"]\ndecision = \"grant\"\nmax_bytes = 9\n",
        ),
    )
    .unwrap();
    let out = run_kv(tmp.path(), "kv.db");
    assert_fails_with(
        &out,
        2,
        "invalid policy: policy.toml:5:1: capabilities.\"kv.get@1\".max_bytes: kv.get@1 stores nothing",
    );
    assert!(!text(&out.stderr).contains("[info]"), "nothing ran");
}

#[test]
fn policy_errors_name_file_line_and_key_and_exit_2() {
    let cases = [
        (
            "[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npathz = [\"data/**\"]\n",
            "policy.toml:3:1: capabilities.\"fs.read@1\".pathz: unknown key (expected decision, returns, paths, max_bytes or optional)",
        ),
        (
            "[limits]\ninstructions = \"lots\"\n",
            "policy.toml:2:16: limits.instructions: expected an integer, found a string",
        ),
        (
            "\n[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = [\"data/[a-\"]\n",
            "policy.toml:4:10: capabilities.\"fs.read@1\".paths[0]: bad glob \"data/[a-\": unclosed `[` character class",
        ),
        (
            "[capabilities.\"fs.read\"]\ndecision = \"grant\"\n",
            "policy.toml:1:15: capabilities.\"fs.read\": malformed capability key: expected \"name@major\", e.g. \"fs.read@1\"",
        ),
        (
            "[capabilities.\"clock.now@1.0\"]\ndecision = \"grant\"\n",
            "policy.toml:1:15: capabilities.\"clock.now@1.0\": malformed capability key: tables are keyed by name@major, without the minor (write \"clock.now@1\")",
        ),
        (
            "[capabilities.\"clock.now@1\"]\ndecision = \"allow\"\n",
            "policy.toml:2:12: capabilities.\"clock.now@1\".decision: expected \"grant\", \"mock\" or \"deny\", found \"allow\"",
        ),
        ("[limits\n", "policy.toml:1:8: unclosed table, expected `]`"),
    ];
    let plugin = caps_plugin("clock_five_times.chasm");
    for (policy, want) in cases {
        let tmp = policy_dir(policy);
        for command in ["run", "caps"] {
            let out = run_in(
                tmp.path(),
                &[],
                &[command, &plugin, "--policy", "policy.toml"],
            );
            assert_eq!(out.status.code(), Some(2), "{command} {policy:?}");
            assert!(out.stdout.is_empty());
            let err = text(&out.stderr);
            assert_eq!(
                err.lines().next().unwrap_or_default(),
                format!("error: invalid policy: {want}"),
                "{command} {policy:?}"
            );
            assert!(
                err.contains("hint: a policy that does not parse grants nothing"),
                "{err}"
            );
            assert_eq!(err.lines().count(), 2, "one line and a hint: {err}");
        }
    }
    // A mock value of the wrong type is found at negotiation, in the same form.
    let tmp =
        policy_dir("[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [1, \"2\"]\n");
    let out = run_in(
        tmp.path(),
        &[],
        &["run", &plugin, "--policy", "policy.toml"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(
        "capability clock.now@1.0: policy.toml:3:15: capabilities.\"clock.now@1\".returns[1]: expected int, found a string"
    ));
    // An unreadable policy.
    let out = run(&["run", &plugin, "--policy", "/nonexistent/policy.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read policy /nonexistent/policy.toml"));
}

#[test]
fn limits_come_from_flags_then_the_policy_then_the_defaults() {
    let tmp = policy_dir("[limits]\ninstructions = 50\ncall_depth = 3\n");
    let fib = example("fib.chasm");
    let with = |extra: &[&str]| {
        let mut args = vec!["run", fib.as_str(), "--policy", "policy.toml", "--json"];
        args.extend(extra);
        let out = run_in(tmp.path(), &[], &args);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    // The policy's call_depth (3) stops fib before its instruction limit does.
    let v = with(&[]);
    assert_eq!(v["error"]["limit"], "call_depth");
    assert_eq!(v["error"]["value"], 3);
    // A flag overrides that one limit; the policy's instructions (50) still applies.
    let v = with(&["--call-depth", "64"]);
    assert_eq!(v["error"]["limit"], "instructions");
    assert_eq!(v["error"]["value"], 50);
    // Flags for both: the defaults of the others are irrelevant here, and fib completes.
    let v = with(&["--call-depth", "64", "--instructions", "5000000"]);
    assert_eq!(v["result"], 6765);
    // --unbounded lifts the policy's limits too.
    assert_eq!(with(&["--unbounded"])["result"], 6765);
}

#[test]
fn the_example_policy_grants_what_the_audit_plugin_imports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = run_in(
        &root,
        &[],
        &[
            "caps",
            &caps_plugin("audit_imports.chasm"),
            "--policy",
            "examples/audit-policy.toml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
import                            offered  decision  scope
fs.read@1.0 (str) -> str          1.0      grant     paths examples/data/**
clock.now@1.0 () -> int           1.0      mock      returns 1700000000, 1700000042 (the last repeats)
random.int@1.0 (int, int) -> int  1.0      grant     -
log.write@1.0 (str, str)          1.0      grant     -
"
    );
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_audit_example_runs_from_source_under_its_policy() {
    // Run from the repository root, as the README does: the policy's paths are relative to it.
    let out = chronicle()
        .current_dir(repo(""))
        .args([
            "run",
            "examples/audit-plugin.chr",
            "--policy",
            "examples/audit-policy.toml",
        ])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout), "130\n");
    assert!(
        err.contains("[warn] finding (+40): the admin password is the default one"),
        "{err}"
    );
}

#[test]
fn compile_errors_are_rendered_with_location_caret_and_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.chr");
    std::fs::write(
        &bad,
        "fn main() -> int {\n    let count = 1;\n    return cout;\n}\n",
    )
    .unwrap();
    for command in ["run", "check", "build"] {
        let mut args = vec![command.to_string(), bad.to_string_lossy().into_owned()];
        if command == "build" {
            args.extend([
                "-o".into(),
                tmp.path().join("bad.cbc").to_string_lossy().into_owned(),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = text(&out.stderr);
        assert!(err.contains("bad.chr:3:12"), "{command}: {err}");
        assert!(err.contains("^^^^"), "{command}: {err}");
        assert!(err.contains("did you mean `count`?"), "{command}: {err}");
        assert!(
            err.contains("error: ") && err.contains("nothing was run"),
            "{command}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
    assert!(
        !tmp.path().join("bad.cbc").exists(),
        "no module is written for a source with errors"
    );
}

#[test]
fn a_chr_runtime_error_names_its_source_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("div.chr");
    std::fs::write(&p, "fn half(x: int, y: int) -> int {\n    return x / y;\n}\n\nfn main() -> int {\n    return half(1, 0);\n}\n").unwrap();
    let out = run(&["run", &p.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: division by zero at line 2 "),
        "{err}"
    );
}

#[test]
fn check_accepts_a_good_source_and_refuses_other_files() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = tmp.path().join("ok.chr");
    std::fs::write(&ok, "fn main() -> int { return 6 * 7; }\n").unwrap();
    let out = run(&["check", &ok.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "check runs nothing and prints no result"
    );
    assert_eq!(
        run(&["check", &example("fib.chasm")]).status.code(),
        Some(2)
    );
    // A compiled source runs the same as built.
    let cbc = tmp.path().join("ok.cbc");
    assert!(
        run(&["build", &ok.to_string_lossy(), "-o", &cbc.to_string_lossy()])
            .status
            .success()
    );
    assert_eq!(text(&run(&["run", &cbc.to_string_lossy()]).stdout), "42\n");
}

/// `chronicle run examples/<name>.chr --policy POLICY EXTRA...` from the
/// repository root (policy paths are relative to it), POLICY being
/// `examples/<name>-policy.toml` unless given: the exit code, stdout, stderr.
fn run_example(name: &str, policy: Option<&str>, extra: &[&str]) -> (Option<i32>, String, String) {
    let plugin = format!("examples/{name}.chr");
    let policy = policy.map_or_else(|| format!("examples/{name}-policy.toml"), str::to_owned);
    let out = chronicle()
        .current_dir(repo(""))
        .args(["run", &plugin, "--policy", &policy])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn the_log_stats_example_counts_status_classes() {
    let (code, stdout, stderr) = run_example("log-stats", None, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "[22, 4, 11, 2]\n");
    assert!(
        stderr.contains(
            "[info] 39 requests from 5 clients (1 malformed lines skipped): \
             2xx 22, 3xx 4, 4xx 11, 5xx 2"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("[warn] most 4xx responses: 45.83.64.1 (8 of 8)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[info] slowest endpoint: /api/checkout (avg 2185 ms over 2 requests)"),
        "{stderr}"
    );
}

#[test]
fn the_csv_report_example_totals_revenue_and_skips_bad_rows() {
    let (code, stdout, stderr) = run_example("csv-report", None, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "\"NA 7756.21, EU 5894.46, APAC 3086.77, LATAM 941.89, total 17679.33\"\n"
    );
    assert!(
        stderr.contains("[warn] sales.csv:26: skipped: unit price is not a number: \"twelve\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("[info] 23 rows in 4 regions, 4 bad rows skipped"),
        "{stderr}"
    );
}

#[test]
fn the_config_lint_example_lists_reads_and_counts_findings() {
    let (code, stdout, stderr) = run_example("config-lint", None, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "7\n");
    assert!(
        stderr.contains("[warn] cache.conf:3: open to every interface without authentication"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[info] metrics.conf: 0 finding(s)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("README.txt"),
        "only *.conf files are linted: {stderr}"
    );
    assert!(stderr.contains("[info] 7 findings in 4 files"), "{stderr}");
}

#[test]
fn the_rate_limiter_example_enforces_its_window_across_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("kv.db");
    let store = store.to_string_lossy().into_owned();
    // Variants of the example policy: the same client later, another client now.
    let policy = std::fs::read_to_string(repo("examples/rate-limiter-policy.toml")).unwrap();
    let variant = |name: &str, from: &str, to: &str| {
        assert!(policy.contains(from), "the example policy has {from}");
        let path = tmp.path().join(name);
        std::fs::write(&path, policy.replace(from, to)).unwrap();
        path.to_string_lossy().into_owned()
    };
    let now = "returns = 1700000000000";
    let later = |ms: u64| {
        variant(
            &format!("at-{ms}.toml"),
            now,
            &format!("returns = {}", 1_700_000_000_000 + ms),
        )
    };
    let other_client = variant(
        "other.toml",
        "returns = \"client-42\"",
        "returns = \"client-7\"",
    );
    let decide = |policy: Option<&str>| {
        let (code, stdout, stderr) = run_example("rate-limiter", policy, &["--kv-store", &store]);
        assert_eq!(code, Some(0), "{stderr}");
        (stdout, stderr)
    };

    for n in 1..=3 {
        let (stdout, stderr) = decide(None);
        assert_eq!(stdout, "true\n", "request {n}");
        assert!(
            stderr.contains(&format!("[info] allow client-42: request {n} of 3 in 60 s")),
            "{stderr}"
        );
    }
    let (stdout, stderr) = decide(None);
    assert_eq!(
        stdout, "false\n",
        "the fourth request in the window is denied"
    );
    assert!(
        stderr.contains("[warn] deny client-42: 3 requests in the last 60 s, retry in 60 s"),
        "{stderr}"
    );
    let (stdout, _) = decide(Some(&other_client));
    assert_eq!(stdout, "true\n", "each client has its own budget");
    let (stdout, stderr) = decide(Some(&later(30_000)));
    assert_eq!(stdout, "false\n");
    assert!(stderr.contains("retry in 30 s"), "{stderr}");
    let (stdout, stderr) = decide(Some(&later(61_000)));
    assert_eq!(
        stdout, "true\n",
        "the window has slid past the first requests"
    );
    assert!(
        stderr.contains("[info] allow client-42: request 1 of 3 in 60 s"),
        "{stderr}"
    );

    let stored = read_store(&tmp.path().join("kv.db"));
    assert_eq!(
        stored,
        serde_json::json!({
            "ratelimit:client-42": "1700000061000",
            "ratelimit:client-42:denied": "2",
            "ratelimit:client-7": "1700000000000",
        })
    );
}

// ---- The trace debugger (`chronicle debug`, SPEC §9) ----

mod debug {
    //! Golden debugger sessions (insta snapshots) on traces recorded here
    //! through the core API with fixed capability results, so a recording
    //! is the same every time (the audit plugin calls `random.int`); and
    //! the debugger's answers to bad input.

    use super::{chronicle, repo, text};
    use chronicle_core::trace::{self, TraceHeader};
    use chronicle_core::vm::{CapabilityError, Host};
    use chronicle_core::{Module, Value};
    use std::path::{Path, PathBuf};

    /// The built-in capabilities the examples use, with fixed results:
    /// files from the repository, a clock at 1700000000 then 1700000042,
    /// `random.int` always 4242, logs dropped.
    struct FixedHost {
        imports: Vec<String>,
        clock: i64,
    }

    impl Host for FixedHost {
        fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
            match self.imports[usize::from(import)].as_str() {
                "fs.read" => {
                    let path = args[0].as_str().unwrap_or_default();
                    std::fs::read_to_string(repo(path))
                        .map(Value::str)
                        .map_err(|e| CapabilityError::new(e.to_string()))
                }
                "clock.now" => {
                    let now = self.clock;
                    self.clock = 1_700_000_042;
                    Ok(Value::Int(now))
                }
                "random.int" => Ok(Value::Int(4242)),
                "log.write" => Ok(Value::Unit),
                other => Err(CapabilityError::new(format!("{other} is not offered"))),
            }
        }
    }

    /// Records `examples/NAME.chr` into `dir`, returning the trace's path.
    pub fn record_example(dir: &Path, name: &str) -> PathBuf {
        let file = format!("examples/{name}.chr");
        let src = std::fs::read_to_string(repo(&file)).unwrap();
        let module: Module = chronicle_lang::compile(&file, &src).unwrap();
        let mut header = TraceHeader::new(&module);
        header.plugin_name = format!("{name}.chr");
        header.source = Some(src);
        let host = FixedHost {
            imports: module.imports.iter().map(|i| i.name.clone()).collect(),
            clock: 1_700_000_000,
        };
        let out = dir.join(format!("{name}.ctrace"));
        let file = std::fs::File::create(&out).unwrap();
        trace::record(host, header, std::io::BufWriter::new(file)).unwrap();
        out
    }

    /// Runs `chronicle debug TRACE --commands CMDS` from the repository root.
    pub(super) fn session(trace: &Path, cmds: &str) -> String {
        let out = chronicle()
            .current_dir(repo(""))
            .args(["debug", trace.to_str().unwrap(), "--commands", cmds])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    }

    #[test]
    fn the_five_minute_demo_session() {
        let dir = tempfile::tempdir().unwrap();
        let t = record_example(dir.path(), "audit-plugin");
        let out = session(&t, "source;next;regs;caps;jump 20;why;quit");
        insta::assert_snapshot!(out);
    }
}

mod debug_sessions {
    //! More golden sessions and the debugger's bad-input answers.

    use super::debug::{record_example, session};
    use super::{chronicle, repo, text};

    #[test]
    fn breakpoints_calls_and_data_flow_backward_and_forward() {
        let dir = tempfile::tempdir().unwrap();
        let t = record_example(dir.path(), "audit-plugin");
        let out = session(
            &t,
            "break 49;continue;where;regs;why n;continue;rcontinue;back;prev;step;event;\
             delete 49;continue;event;rcontinue;break 133;continue;why;why attempts;why config;quit",
        );
        insta::assert_snapshot!(out);
    }

    #[test]
    fn bad_input_gets_a_hint_and_the_session_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let t = record_example(dir.path(), "audit-plugin");
        let out = session(
            &t,
            "frobnicate;jump 99999999;jump x;break 3;break 9999;delete 7;why r999;why r15;\
             why nosuch;regs 1;stpe;help;quit;step",
        );
        insta::assert_snapshot!(out);
        // `quit` ends the script: the `step` after it does not run.
        assert!(!out.contains("(chronicle) step"), "{out}");
    }

    #[test]
    fn commands_from_a_pipe_print_what_the_script_prints() {
        let dir = tempfile::tempdir().unwrap();
        let t = record_example(dir.path(), "audit-plugin");
        let scripted = session(&t, "next;regs;quit");
        let mut child = chronicle()
            .current_dir(repo(""))
            .args(["debug", t.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"next\nregs\nquit\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(text(&out.stdout), scripted);
    }

    #[test]
    fn a_damaged_trace_is_refused_with_exit_2() {
        let dir = tempfile::tempdir().unwrap();
        let t = record_example(dir.path(), "audit-plugin");
        let mut bytes = std::fs::read(&t).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0x55;
        std::fs::write(&t, &bytes).unwrap();
        let out = chronicle()
            .args(["debug", t.to_str().unwrap(), "--commands", "quit"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("chronicle audit"),
            "{}",
            text(&out.stderr)
        );
    }

    #[test]
    fn other_examples_debug_to_their_end() {
        let dir = tempfile::tempdir().unwrap();
        let t = record_example(dir.path(), "log-stats");
        let out = session(&t, "continue;rcontinue;jump 5;why;quit");
        assert!(
            out.contains("no breakpoints set: at the end of the trace"),
            "{out}"
        );
        assert!(out.contains("end: returned"), "{out}");
    }
}

// ---- traces: trace, replay, audit, inspect ----

/// `chronicle trace PLUGIN [args] --out DIR/t.ctrace` in the repository
/// root: the output, and the trace's path.
fn trace_in(dir: &Path, plugin: &str, args: &[&str]) -> (Output, PathBuf) {
    let out = dir.join("t.ctrace");
    let output = chronicle()
        .current_dir(repo(""))
        .args(["trace", plugin, "--out"])
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    (output, out)
}

fn audit_of(trace: &Path, json: bool) -> Output {
    let mut cmd = chronicle();
    cmd.arg("audit").arg(trace);
    if json {
        cmd.arg("--json");
    }
    cmd.output().unwrap()
}

/// A plugin that puts a value of 64 << `doublings` bytes 20 times.
fn big_puts(doublings: u32) -> String {
    format!(
        "use kv.put@1(key: str, value: str);\n\
         fn main() -> int {{\n\
         \x20   let v = \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\";\n\
         \x20   for i in 0..{doublings} {{ v = v + v; }}\n\
         \x20   for i in 0..20 {{ kv.put(\"k\", v); }}\n\
         \x20   return len(v);\n\
         }}\n"
    )
}

#[test]
fn big_capability_calls_hit_the_instruction_limit_sooner_and_audit_alike() {
    let tmp = policy_dir(&kv_policy(""));
    std::fs::write(tmp.path().join("small.chr"), big_puts(0)).unwrap();
    std::fs::write(tmp.path().join("big.chr"), big_puts(10)).unwrap();
    let limits = [
        "--instructions",
        "2000",
        "--kv-store",
        "kv.db",
        "--policy",
        "policy.toml",
    ];
    let run = |plugin: &str| {
        let mut args = vec!["run", plugin];
        args.extend(limits);
        run_in(tmp.path(), &[], &args)
    };
    // 20 puts of 64 bytes fit in 2,000 units; of 64 KiB (1,024 units each) they do not.
    let small = run("small.chr");
    assert_eq!(text(&small.stdout), "64\n", "{}", text(&small.stderr));
    let big = run("big.chr");
    assert_eq!(big.status.code(), Some(1));
    let err = text(&big.stderr);
    assert!(
        err.contains("limit exceeded: instructions (limit 2000) at line 5"),
        "{err}"
    );
    // Traced, the run audits and replays to the same error.
    let mut args = vec!["trace", "big.chr", "--out", "big.ctrace"];
    args.extend(limits);
    let traced = run_in(tmp.path(), &[], &args);
    assert_eq!(traced.status.code(), Some(1));
    assert!(text(&traced.stderr).contains("limit exceeded: instructions (limit 2000) at line 5"));
    let audit = audit_of(&tmp.path().join("big.ctrace"), false);
    assert_eq!(audit.status.code(), Some(0), "{}", text(&audit.stdout));
    let replay = run_in(tmp.path(), &[], &["replay", "big.ctrace"]);
    assert_eq!(replay.status.code(), Some(1));
    assert!(
        text(&replay.stderr).contains("limit exceeded: instructions (limit 2000) at line 5"),
        "{}",
        text(&replay.stderr)
    );
}

#[test]
fn a_traced_run_prints_what_run_prints_and_passes_audit_and_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = ["--policy", "examples/audit-policy.toml"];
    let (out, t) = trace_in(tmp.path(), "examples/audit-plugin.chr", &policy);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout), "130\n");
    assert!(err.contains("[warn] finding (+40)"), "{err}");
    assert!(
        err.contains("events") && err.contains("bytes written to"),
        "{err}"
    );
    // No temporary file is left beside the trace.
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("t.ctrace")]);

    let audit = audit_of(&t, false);
    let report = text(&audit.stdout);
    assert_eq!(
        audit.status.code(),
        Some(0),
        "{report}{}",
        text(&audit.stderr)
    );
    assert!(report.contains(": PASS"), "{report}");
    for want in [
        "audit-plugin.chr",
        "fs.read@1.0",
        "2 calls",
        "clock.now@1.0",
        "mock",
        "returned 130",
        "violations\n  none",
    ] {
        assert!(report.contains(want), "missing {want:?} in\n{report}");
    }

    let replay = chronicle().arg("replay").arg(&t).output().unwrap();
    assert_eq!(replay.status.code(), Some(0), "{}", text(&replay.stderr));
    assert_eq!(text(&replay.stdout), "130\n");
    // The logs come from the trace, not from a live log.write.
    assert!(text(&replay.stderr).contains("[warn] finding (+40)"));
}

#[test]
fn runtime_errors_and_limit_hits_are_traced_completely() {
    let tmp = tempfile::tempdir().unwrap();
    // A runtime error: exit 1 like `run`, and the trace is complete.
    let (out, t) = trace_in(tmp.path(), &example("fib.chasm"), &["--call-depth", "5"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("limit exceeded: call_depth"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let audit = audit_of(&t, false);
    assert_eq!(audit.status.code(), Some(0), "{}", text(&audit.stdout));
    assert!(text(&audit.stdout).contains("runtime error: limit exceeded: call_depth"));
    let replay = chronicle().arg("replay").arg(&t).output().unwrap();
    assert_eq!(replay.status.code(), Some(1));
    assert!(text(&replay.stderr).contains("limit exceeded: call_depth"));

    // An instruction limit.
    let (out, t) = trace_in(
        tmp.path(),
        &example("fib.chasm"),
        &["--instructions", "1000"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("limit exceeded: instructions"));
    assert_eq!(audit_of(&t, false).status.code(), Some(0));

    // A runtime error that is not a limit (integer overflow).
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/add_overflow.chasm");
    let (out, t) = trace_in(tmp.path(), script.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let audit = audit_of(&t, true);
    assert_eq!(audit.status.code(), Some(0), "{}", text(&audit.stdout));
    let report: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["outcome"]["ok"], false);
    assert_eq!(report["outcome"]["error"]["kind"], "integer overflow");
}

#[test]
fn trace_takes_chr_chasm_and_cbc_plugins_and_replay_prints_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let cbc = tmp.path().join("fib.cbc");
    assert!(
        run(&["build", &example("fib.chasm"), "-o", cbc.to_str().unwrap()])
            .status
            .success()
    );
    let expected = text(&run(&["run", &example("fib.chasm")]).stdout);
    for plugin in [example("fib.chasm"), cbc.display().to_string()] {
        let (out, t) = trace_in(tmp.path(), &plugin, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), expected);
        let replay = chronicle().arg("replay").arg(&t).output().unwrap();
        assert_eq!(text(&replay.stdout), expected);
        assert_eq!(audit_of(&t, false).status.code(), Some(0));
    }
    let chr = tmp.path().join("answer.chr");
    std::fs::write(&chr, "fn main() -> int {\n    return 6 * 7;\n}\n").unwrap();
    let (out, t) = trace_in(tmp.path(), chr.to_str().unwrap(), &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["result"], 42);
    let inspect = chronicle()
        .arg("inspect")
        .arg(&t)
        .arg("--json")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(json["header"]["plugin_name"], "answer.chr");
    assert!(json["header"]["source_hash"].is_string());
}

#[test]
fn tampered_or_truncated_traces_fail_audit_with_a_byte_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, t) = trace_in(tmp.path(), &example("fib.chasm"), &[]);
    assert!(out.status.success());
    let bytes = std::fs::read(&t).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flip in the header", {
            let mut b = bytes.clone();
            b[40] ^= 0x01;
            b
        }),
        ("flip in the events", {
            let mut b = bytes.clone();
            let at = b.len() - chronicle_core::trace::FOOTER_LEN - 10;
            b[at] ^= 0x40;
            b
        }),
        ("flip in the footer", {
            let mut b = bytes.clone();
            let at = b.len() - 5;
            b[at] ^= 0x01;
            b
        }),
        ("truncated", bytes[..bytes.len() - 10].to_vec()),
        ("cut in half", bytes[..bytes.len() / 2].to_vec()),
        ("trailing byte", [&bytes[..], &[0]].concat()),
    ];
    for (what, b) in cases {
        let bad = tmp.path().join("bad.ctrace");
        std::fs::write(&bad, &b).unwrap();
        let audit = audit_of(&bad, false);
        let err = text(&audit.stderr);
        assert_eq!(audit.status.code(), Some(3), "{what}: {err}");
        assert!(text(&audit.stdout).contains(": FAIL"), "{what}");
        assert!(err.contains("at byte "), "{what}: {err}");
        let replay = chronicle().arg("replay").arg(&bad).output().unwrap();
        assert_eq!(
            replay.status.code(),
            Some(3),
            "{what}: {}",
            text(&replay.stderr)
        );
        assert!(replay.stdout.is_empty(), "{what}");
        assert!(text(&replay.stderr).contains("at byte "), "{what}");
        let json = audit_of(&bad, true);
        let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(report["verdict"], "fail", "{what}");
        assert!(report["integrity"]["offset"].is_u64(), "{what}: {report}");
    }
}

#[test]
fn a_file_that_is_not_a_trace_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.ctrace");
    std::fs::write(&empty, b"").unwrap();
    let module = tmp.path().join("fib.cbc");
    assert!(run(&[
        "build",
        &example("fib.chasm"),
        "-o",
        module.to_str().unwrap()
    ])
    .status
    .success());
    for file in [empty, module, tmp.path().join("missing.ctrace")] {
        for cmd in ["replay", "audit", "inspect"] {
            let out = chronicle().arg(cmd).arg(&file).output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} {}: {}",
                file.display(),
                text(&out.stderr)
            );
            assert_eq!(
                text(&out.stderr).lines().count(),
                2,
                "{}",
                text(&out.stderr)
            );
        }
    }
}

/// Records a run of `trace`'s module with the capability results recorded
/// in it, but with `policy` embedded in the header: a forged trace whose
/// hash chain is consistent.
fn forge_with_policy(trace: &[u8], policy: &str) -> Vec<u8> {
    forge(trace, Some(policy), |_, recorded| recorded)
}

/// Records a run of `trace`'s module with the capability results recorded
/// in it, with `policy` embedded instead (if given), and with what the
/// `n`th call opened as `opened(n, recorded)` says: a forged trace whose
/// hash chain is consistent.
fn forge(
    trace: &[u8],
    policy: Option<&str>,
    opened: impl Fn(usize, Option<String>) -> Option<String>,
) -> Vec<u8> {
    use chronicle_core::trace::{Event, Reader, Recorder};
    use chronicle_core::vm::{CapabilityError, Host, Vm};
    use chronicle_core::Value;
    type Call = (Result<Value, CapabilityError>, Option<String>);
    struct Recorded(std::collections::VecDeque<Call>, Option<String>);
    impl Host for Recorded {
        fn call(&mut self, _: u16, _: &[Value]) -> Result<Value, CapabilityError> {
            let (outcome, opened) = self.0.pop_front().unwrap();
            self.1 = opened;
            outcome
        }
        fn opened(&mut self) -> Option<String> {
            self.1.take()
        }
    }
    let mut reader = Reader::open(trace).unwrap();
    let mut header = reader.header().clone();
    let calls = reader
        .events()
        .filter_map(|e| match e.unwrap() {
            Event::Capability {
                outcome, opened: o, ..
            } => Some((outcome, o)),
            _ => None,
        })
        .enumerate()
        .map(|(n, (outcome, o))| (outcome, opened(n, o)))
        .collect();
    if let Some(policy) = policy {
        header.policy = Some(policy.to_string());
    }
    let mut recorder = Recorder::new(Vec::new(), header.clone()).unwrap();
    let module = recorder.module().clone();
    let outcome =
        Vm::with_observer(&module, header.limits, Recorded(calls, None), &mut recorder).run();
    recorder.finish(&outcome).unwrap().writer
}

/// Reads two files (one through a link that stays inside `data/`) and
/// lists a directory.
const FS_PLUGIN: &str = "use fs.read@1(path: str) -> str;\n\
    use fs.list@1(path: str) -> [str];\n\
    fn main() -> int {\n\
    \x20   let a = fs.read(\"data/app.log\");\n\
    \x20   let b = fs.read(\"data/inner/nested.txt\");\n\
    \x20   let names = fs.list(\"data/sub/\");\n\
    \x20   return len(a) + len(b) + len(names);\n\
    }\n";

/// [`FS_PLUGIN`] traced in [`fs_sandbox`]: the sandbox and the trace's bytes.
fn traced_fs_plugin() -> (tempfile::TempDir, Vec<u8>) {
    let tmp = fs_sandbox();
    std::fs::write(tmp.path().join("fs.chr"), FS_PLUGIN).unwrap();
    let args = [
        "trace",
        "fs.chr",
        "--policy",
        "policy.toml",
        "--out",
        "t.ctrace",
    ];
    let out = run_in(tmp.path(), &[], &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "26\n");
    let bytes = std::fs::read(tmp.path().join("t.ctrace")).unwrap();
    (tmp, bytes)
}

#[test]
fn audit_checks_what_fs_calls_opened_and_shows_it() {
    let (tmp, _) = traced_fs_plugin();
    let t = tmp.path().join("t.ctrace");
    let audit = audit_of(&t, false);
    let report = text(&audit.stdout);
    assert_eq!(audit.status.code(), Some(0), "{report}");
    // The link `data/inner` is resolved: what was opened is its target.
    for want in [
        "  paths         checked on what was opened: 3 successful scoped calls",
        "fs.read@1.0(\"data/app.log\") opened \"data/app.log\"",
        "fs.read@1.0(\"data/inner/nested.txt\") opened \"data/sub/nested.txt\"",
        "fs.list@1.0(\"data/sub/\") opened \"data/sub\"",
    ] {
        assert!(report.contains(want), "missing {want:?} in\n{report}");
    }
    let json: serde_json::Value = serde_json::from_slice(&audit_of(&t, true).stdout).unwrap();
    let paths = &json["paths"];
    assert_eq!(paths["opened_recorded"], true);
    assert_eq!(paths["scoped_calls"], 3);
    assert_eq!(paths["opened"][1]["asked"], "data/inner/nested.txt");
    assert_eq!(paths["opened"][1]["opened"], "data/sub/nested.txt");
    assert_eq!(paths["opened"][1]["capability"], "fs.read@1.0");
    assert!(paths["opened"][1]["event"].is_u64());
    // inspect shows the same on the capability events.
    let inspect = chronicle()
        .arg("inspect")
        .arg(&t)
        .args(["--events", "0..", "--json"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let opened: Vec<_> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "capability")
        .map(|e| e["opened"].clone())
        .collect();
    assert_eq!(
        opened,
        [
            serde_json::json!("data/app.log"),
            serde_json::json!("data/sub/nested.txt"),
            serde_json::json!("data/sub")
        ]
    );
    let inspect = chronicle()
        .arg("inspect")
        .arg(&t)
        .args(["--events", "0.."])
        .output()
        .unwrap();
    assert!(
        text(&inspect.stdout).contains(") -> \"nested\" (opened \"data/sub/nested.txt\")"),
        "{}",
        text(&inspect.stdout)
    );
}

#[test]
fn a_trace_whose_opened_path_is_outside_the_scope_or_missing_fails_audit() {
    let (tmp, bytes) = traced_fs_plugin();
    let forged = tmp.path().join("forged.ctrace");
    // The forger's copy with the recorded paths passes.
    std::fs::write(&forged, forge(&bytes, None, |_, o| o)).unwrap();
    assert_eq!(audit_of(&forged, false).status.code(), Some(0));
    type Opened = Box<dyn Fn(usize, Option<String>) -> Option<String>>;
    let cases: [(&str, Opened, &str); 4] = [
        (
            "a link followed out of the scope",
            Box::new(|n, o| if n == 1 { Some("canary.txt".into()) } else { o }),
            "asked for \"data/inner/nested.txt\" but opened \"canary.txt\", outside the granted paths (data/**)",
        ),
        (
            "a path that climbs out",
            Box::new(|n, o| if n == 1 { Some("data/../canary.txt".into()) } else { o }),
            "but opened \"data/../canary.txt\", outside the granted paths",
        ),
        (
            "nothing recorded for the read",
            Box::new(|n, o| if n == 0 { None } else { o }),
            "fs.read@1.0(\"data/app.log\") was answered but the trace does not record what it opened",
        ),
        (
            "nothing recorded for the list",
            Box::new(|n, o| if n == 2 { None } else { o }),
            "fs.list@1.0(\"data/sub/\") was answered but the trace does not record what it opened",
        ),
    ];
    let events = |b: &[u8]| -> Vec<chronicle_core::trace::Event> {
        let mut r = chronicle_core::trace::Reader::open(b).unwrap();
        r.events().collect::<Result<_, _>>().unwrap()
    };
    for (what, opened, want) in cases {
        let b = forge(&bytes, None, opened);
        std::fs::write(&forged, &b).unwrap();
        let audit = audit_of(&forged, false);
        let report = text(&audit.stdout);
        assert_eq!(audit.status.code(), Some(3), "{what}: {report}");
        assert!(
            report.contains(want),
            "{what}: missing {want:?} in\n{report}"
        );
        // The violation names the call's event.
        let index = events(&b)
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, chronicle_core::trace::Event::Capability { .. }))
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        let json: serde_json::Value =
            serde_json::from_slice(&audit_of(&forged, true).stdout).unwrap();
        assert_eq!(json["violation_count"], 1, "{what}: {json}");
        let v = json["violations"][0].as_str().unwrap();
        assert!(
            index.iter().any(|i| v.contains(&format!("(event #{i})"))),
            "{what}: {v}"
        );
        assert_eq!(json["integrity"]["ok"], true, "{what}");
        assert_eq!(json["replay"]["ok"], true, "{what}");
    }
}

#[test]
fn audit_of_an_older_trace_says_opened_paths_were_not_recorded() {
    let golden = repo("crates/chronicle-core/tests/golden/v2/audit.ctrace");
    let audit = audit_of(Path::new(&golden), false);
    let report = text(&audit.stdout);
    let note = "not recorded: a format version 2 trace does not record what was opened; \
                scoped calls are checked on the plugin's spelling only";
    assert_eq!(report.matches(note).count(), 1, "{report}");
    assert!(!report.contains("paths opened"), "{report}");
    let json: serde_json::Value =
        serde_json::from_slice(&audit_of(Path::new(&golden), true).stdout).unwrap();
    assert_eq!(json["paths"]["opened_recorded"], false);
    assert_eq!(json["paths"]["note"], note);
}

#[test]
fn a_trace_whose_embedded_policy_was_swapped_fails_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, t) = trace_in(
        tmp.path(),
        "examples/audit-plugin.chr",
        &["--policy", "examples/audit-policy.toml"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let original = std::fs::read(&t).unwrap();
    let policy = std::fs::read_to_string(repo("examples/audit-policy.toml")).unwrap();
    // The forger's own copy with the original policy passes: the check is
    // of the calls against the policy, not of the file's history.
    let same = tmp.path().join("same.ctrace");
    std::fs::write(&same, forge_with_policy(&original, &policy)).unwrap();
    assert_eq!(
        audit_of(&same, false).status.code(),
        Some(0),
        "{}",
        text(&audit_of(&same, false).stdout)
    );

    let swaps = [
        // Other mock values for the clock.
        (
            "mock",
            policy.replace("returns = [1700000000, 1700000042]", "returns = [5]"),
        ),
        // fs.read restricted to a directory the plugin did not read.
        (
            "outside the granted paths",
            policy.replace("examples/data/**", "elsewhere/**"),
        ),
        // random.int denied (optional, so negotiation passes).
        (
            "denies random.int",
            policy.replace(
                "[capabilities.\"random.int@1\"]\ndecision = \"grant\"",
                "[capabilities.\"random.int@1\"]\ndecision = \"deny\"\noptional = true",
            ),
        ),
    ];
    for (want, swapped) in swaps {
        assert_ne!(swapped, policy);
        let forged = tmp.path().join("forged.ctrace");
        std::fs::write(&forged, forge_with_policy(&original, &swapped)).unwrap();
        let audit = audit_of(&forged, false);
        let report = text(&audit.stdout);
        assert_eq!(audit.status.code(), Some(3), "{want}: {report}");
        assert!(
            report.contains(": FAIL") && report.contains(want),
            "{want}: {report}"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&audit_of(&forged, true).stdout).unwrap();
        assert_eq!(json["verdict"], "fail");
        assert!(json["violation_count"].as_u64().unwrap() >= 1);
        // The hash chain itself is intact: only the policy check fails.
        assert_eq!(json["integrity"]["ok"], true);
        assert_eq!(json["replay"]["ok"], true);
    }
}

#[test]
fn inspect_json_has_the_documented_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, t) = trace_in(
        tmp.path(),
        "examples/audit-plugin.chr",
        &["--policy", "examples/audit-policy.toml"],
    );
    assert!(out.status.success());
    let out = chronicle()
        .arg("inspect")
        .arg(&t)
        .args(["--events", "0..40", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let h = &j["header"];
    for key in [
        "tool_version",
        "plugin_name",
        "recorded_at_ms",
        "recorded_at",
        "host",
        "module_format_version",
        "module_bytes",
        "module_hash",
        "source_hash",
        "source_bytes",
        "policy_hash",
        "policy",
        "header_hash",
        "limits",
        "capabilities",
    ] {
        assert!(h.get(key).is_some(), "header.{key} missing: {h}");
    }
    assert_eq!(h["plugin_name"], "audit-plugin.chr");
    assert_eq!(h["limits"]["instructions"], 5_000_000);
    assert_eq!(h["limits"]["alloc_bytes"], 268_435_456);
    assert_eq!(h["capabilities"][0]["name"], "fs.read");
    assert_eq!(h["capabilities"][0]["decision"], "grant");
    assert_eq!(h["capabilities"][0]["requested"], "1.0");
    assert_eq!(j["format_version"], 4);
    for kind in ["enter", "step", "return", "capability", "trap", "end"] {
        assert!(j["counts"][kind].is_u64(), "counts.{kind}");
    }
    assert_eq!(j["counts"]["end"], 1);
    assert_eq!(j["footer"]["events"], j["events_total"]);
    assert_eq!(j["integrity"]["ok"], true);
    assert_eq!(j["outcome"]["result"], 130);
    assert_eq!(j["functions"][6]["name"], "main");
    let events = j["events"].as_array().unwrap();
    assert_eq!(events.len(), 40);
    assert_eq!(events[0]["kind"], "enter");
    assert_eq!(events[0]["index"], 0);
    assert_eq!(events[0]["function_name"], "main");
    let step = events.iter().find(|e| e["kind"] == "step").unwrap();
    for key in ["function", "function_name", "pc", "line", "writes"] {
        assert!(step.get(key).is_some(), "step.{key}");
    }
    assert_eq!(events[2]["writes"][0]["register"], 0);
    assert_eq!(events[2]["writes"][0]["value"], 1_700_000_000i64);
    let cap = events.iter().find(|e| e["kind"] == "capability").unwrap();
    assert_eq!(cap["name"], "clock.now");
    assert_eq!(cap["version"], "1.0");
    assert_eq!(cap["args"], serde_json::json!([]));
    assert_eq!(
        cap["outcome"],
        serde_json::json!({ "ok": true, "value": 1_700_000_000i64 })
    );
    assert_eq!(
        cap["opened"],
        serde_json::Value::Null,
        "the clock opens nothing"
    );
    let read = events.iter().find(|e| e["name"] == "fs.read").unwrap();
    assert_eq!(read["args"], serde_json::json!(["examples/data/app.conf"]));
    assert_eq!(read["opened"], "examples/data/app.conf");
    // Text: one event per line, as `Event` displays it.
    let out = chronicle()
        .arg("inspect")
        .arg(&t)
        .args(["--events", "1..3"])
        .output()
        .unwrap();
    let s = text(&out.stdout);
    assert!(
        s.contains("#1 capability c1() -> 1700000000\n#2 step f6 pc 0 (line "),
        "{s}"
    );
    assert!(s.contains("step ") && s.contains("statistics"), "{s}");
}

#[test]
fn the_spec_demo_commands_work_from_the_repository_root() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("audit.ctrace");
    let t = t.to_str().unwrap();
    let in_repo = |args: &[&str]| {
        chronicle()
            .current_dir(repo(""))
            .args(args)
            .output()
            .unwrap()
    };
    let out = in_repo(&[
        "trace",
        "examples/audit-plugin.chr",
        "--policy",
        "examples/audit-policy.toml",
        "--out",
        t,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "130\n");
    let out = in_repo(&["audit", t]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("PASS"));
    let out = in_repo(&["replay", t]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "130\n");
}

#[test]
fn the_spec_demo_debug_line_works_on_a_trace_from_chronicle_trace() {
    // The last command of SPEC §1, verbatim, on a trace the CLI recorded
    // (its `random.int` result varies, so only the shape is checked here;
    // the golden session is `debug::the_five_minute_demo_session`).
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("audit.ctrace");
    let t = t.to_str().unwrap();
    let rec = chronicle()
        .current_dir(repo(""))
        .args([
            "trace",
            "examples/audit-plugin.chr",
            "--policy",
            "examples/audit-policy.toml",
            "--out",
            t,
        ])
        .output()
        .unwrap();
    assert_eq!(rec.status.code(), Some(0), "{}", text(&rec.stderr));
    let out = chronicle()
        .current_dir(repo(""))
        .args([
            "debug",
            t,
            "--commands",
            "source;next;regs;caps;jump 20;why;quit",
        ])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for part in [
        "=>  101 |",
        "r0 (started) = 1700000000",
        "clock.now() -> 1700000000",
        "event 20 of",
        "(chronicle) quit",
    ] {
        assert!(stdout.contains(part), "{part} missing in:\n{stdout}");
    }
}

// ---- reader caps: `--max-*` and `--unbounded` on replay, audit, inspect, debug ----

/// The commands that read a trace, each with what makes it read the whole
/// trace and end (the trace path goes after the first word).
const READERS: [&[&str]; 4] = [
    &["inspect"],
    &["replay"],
    &["audit"],
    &["debug", "--commands", "continue;rcontinue;quit"],
];

/// `chronicle CMD TRACE REST... EXTRA...` for one of [`READERS`].
fn read_trace(cmd: &[&str], trace: &Path, extra: &[&str]) -> Output {
    chronicle()
        .current_dir(repo(""))
        .arg(cmd[0])
        .arg(trace)
        .args(&cmd[1..])
        .args(extra)
        .output()
        .unwrap()
}

/// `chronicle run`'s flag for `limit` (`--call-depth`) and the reader's
/// cap flag for it (`--max-call-depth`).
fn limit_flags(limit: chronicle_core::Limit) -> (String, String) {
    let flag = limit.name().replace('_', "-");
    (format!("--{flag}"), format!("--max-{flag}"))
}

/// Asserts that every reader command reads `trace` whole with `extra`:
/// exit 0 (`replay`: `replay_code`, the recorded run's), `audit` passing.
fn assert_reads(trace: &Path, extra: &[&str], replay_code: i32) {
    for cmd in READERS {
        let out = read_trace(cmd, trace, extra);
        let want = if cmd[0] == "replay" { replay_code } else { 0 };
        assert_eq!(
            out.status.code(),
            Some(want),
            "{} {} {extra:?}: {}",
            cmd[0],
            trace.display(),
            text(&out.stderr)
        );
        if cmd[0] == "audit" {
            assert!(
                text(&out.stdout).contains(": PASS"),
                "{}",
                text(&out.stdout)
            );
        }
    }
}

#[test]
fn a_header_over_a_reader_cap_is_refused_naming_the_limit_the_value_and_the_flag() {
    use chronicle_core::{Limit, Limits};
    let tmp = tempfile::tempdir().unwrap();
    for limit in Limit::ALL {
        let (run_flag, cap_flag) = limit_flags(limit);
        let cap = Limits::DEFAULT.get(limit);
        let recorded = (2 * cap).to_string();
        let (out, t) = trace_in(tmp.path(), &example("fib.chasm"), &[&run_flag, &recorded]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        for cmd in READERS {
            let out = read_trace(cmd, &t, &[]);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{} {limit}: {err}", cmd[0]);
            assert!(out.stdout.is_empty(), "{} {limit}: nothing read", cmd[0]);
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(
                lines.len(),
                2,
                "{} {limit}: one line and a hint: {err}",
                cmd[0]
            );
            assert!(
                lines[0].starts_with("error: ")
                    && lines[0].ends_with(&format!(
                        ": the trace's recorded {limit} limit {recorded} is above this reader's cap {cap}"
                    )),
                "{} {limit}: {err}",
                cmd[0]
            );
            assert!(
                lines[1].contains(&format!("{cap_flag} {recorded} "))
                    && lines[1].contains("--unbounded"),
                "{} {limit}: {err}",
                cmd[0]
            );
        }
        // Raising that one cap to the recorded value lets the genuine trace through.
        assert_reads(&t, &[&cap_flag, &recorded], 0);
        // One below it does not.
        let below = (2 * cap - 1).to_string();
        let out = read_trace(READERS[0], &t, &[&cap_flag, &below]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!("is above this reader's cap {below}")),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn unbounded_reads_a_trace_recorded_without_limits_and_conflicts_with_every_max_flag() {
    use chronicle_core::Limit;
    let tmp = tempfile::tempdir().unwrap();
    let (out, t) = trace_in(tmp.path(), &example("fib.chasm"), &["--unbounded"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let max = u64::MAX.to_string();
    for cmd in READERS {
        // The first limit over its cap is named (the header is refused whole).
        let out = read_trace(cmd, &t, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!(
                "recorded instructions limit {max} is above this reader's cap 5000000"
            )),
            "{}",
            text(&out.stderr)
        );
        // Raising one cap moves the refusal on to the next limit.
        let out = read_trace(cmd, &t, &["--max-instructions", &max]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("recorded call_depth limit"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_reads(&t, &["--unbounded"], 0);
    // Every cap raised by its own flag is the same as --unbounded.
    let all: Vec<String> = Limit::ALL
        .into_iter()
        .flat_map(|l| [limit_flags(l).1, max.clone()])
        .collect();
    assert_reads(&t, &all.iter().map(String::as_str).collect::<Vec<_>>(), 0);
    // --unbounded and any --max-* flag: a usage error, nothing read.
    for limit in Limit::ALL {
        let (_, cap_flag) = limit_flags(limit);
        for cmd in READERS {
            let out = read_trace(cmd, &t, &["--unbounded", &cap_flag, "10"]);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{} {cap_flag}: {err}", cmd[0]);
            assert!(
                err.contains("cannot be used with") && err.contains(&cap_flag),
                "{} {cap_flag}: {err}",
                cmd[0]
            );
            assert!(out.stdout.is_empty());
        }
    }
}

/// The `[default: N]` that `--help` of `chronicle ARGS` shows for `flag`.
fn help_default(args: &[&str], flag: &str) -> u64 {
    let help = text(&run(args).stdout);
    let after = help
        .split_once(&format!("{flag} <N>"))
        .unwrap_or_else(|| panic!("{flag} in `{}`", args.join(" ")))
        .1;
    let value = after
        .split_once("[default: ")
        .and_then(|(_, v)| v.split_once(']'))
        .unwrap_or_else(|| panic!("a default for {flag}"))
        .0;
    value.parse().unwrap()
}

#[test]
fn the_default_caps_are_the_run_defaults_and_read_every_trace_recorded_with_them() {
    use chronicle_core::Limit;
    // The caps' defaults are `run`'s defaults, flag for flag, in every reader.
    for limit in Limit::ALL {
        let (run_flag, cap_flag) = limit_flags(limit);
        let run_default = help_default(&["run", "--help"], &run_flag);
        for cmd in READERS {
            assert_eq!(
                help_default(&[cmd[0], "--help"], &cap_flag),
                run_default,
                "{} {cap_flag}",
                cmd[0]
            );
        }
    }
    // Traces recorded with the default limits, the hardest ones included:
    // runs stopped at each limit (the exhaustion plugins, alloc_bytes at its
    // 256 MiB), the examples under their policies, a plain run.
    let tmp = tempfile::tempdir().unwrap();
    let exhaustion = |name: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/exhaustion")
            .join(name)
            .to_string_lossy()
            .into_owned()
    };
    let mut cases: Vec<(String, Vec<String>, i32)> = vec![(example("fib.chasm"), vec![], 0)];
    for name in [
        "instructions.chr",
        "call_depth.chr",
        "registers.chasm",
        "array_len.chr",
        "string_bytes.chr",
        "alloc_bytes.chr",
        "shared_result.chr",
    ] {
        cases.push((exhaustion(name), vec![], 1));
    }
    for name in ["audit-plugin", "log-stats", "csv-report", "config-lint"] {
        let policy = if name == "audit-plugin" {
            "examples/audit-policy.toml".to_string()
        } else {
            format!("examples/{name}-policy.toml")
        };
        cases.push((
            format!("examples/{name}.chr"),
            vec!["--policy".into(), policy],
            0,
        ));
    }
    for (plugin, args, code) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (out, t) = trace_in(tmp.path(), &plugin, &args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{plugin}: {}",
            text(&out.stderr)
        );
        assert_reads(&t, &[], code);
    }
}

#[test]
fn debug_steps_back_and_explains_through_a_long_run_of_pushes() {
    // Every push copies the array if anything else holds it: a debugger
    // that kept the events it scans (or the last one) while reading on made
    // the reader copy 50,000 elements per push, past its cap.
    let tmp = tempfile::tempdir().unwrap();
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/exhaustion/array_len.chr");
    let (out, t) = trace_in(tmp.path(), &plugin.to_string_lossy(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = debug::session(
        &t,
        "jump 150000;next;back;why xs;break 6;rcontinue;continue;step;quit",
    );
    assert!(
        out.contains("(50000 items): computed by `pushi` at event 150000"),
        "{out}"
    );
    assert!(out.contains("breakpoint on line 6"), "{out}");
}

#[test]
fn reading_past_the_alloc_cap_stops_with_the_event_the_cap_and_the_flag() {
    use chronicle_core::trace::testing::cow_push_bomb;
    use chronicle_core::Limits;
    // Shape (a) of the reader bombs, recorded under an 8 MiB alloc_bytes
    // and read under the same cap: each push copies the array the outer
    // one shares (the recorded run would have stopped at its limit).
    let cap = 8u64 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("bomb.ctrace");
    let limits = Limits {
        alloc_bytes: cap,
        ..Limits::DEFAULT
    };
    std::fs::write(&t, cow_push_bomb(100_000, limits)).unwrap();
    let flag = ["--max-alloc-bytes", &cap.to_string()];
    let words = format!("needs more than this reader's alloc_bytes cap of {cap} bytes");
    // The readers that hand out events stop at the cap: inspect as a
    // damaged trace (exit 3), debug as any trace it cannot read (exit 2).
    for (cmd, code) in [(READERS[0], 3), (READERS[3], 2)] {
        let out = read_trace(cmd, &t, &flag);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{}: {err}", cmd[0]);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{}: {err}", cmd[0]);
        assert!(
            lines[0].contains(": reading event #") && lines[0].contains(&words),
            "{}: {err}",
            cmd[0]
        );
        assert!(
            lines[1].contains(&format!("--max-alloc-bytes {}", 2 * cap)),
            "{}: {err}",
            cmd[0]
        );
    }
    let out = read_trace(&["inspect", "--json"], &t, &flag);
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["integrity"]["ok"], false, "{json}");
    assert!(
        json["integrity"]["error"]
            .as_str()
            .unwrap()
            .contains(&words),
        "{json}"
    );
    // Replay and audit check the recording against its own limits and
    // stop where it claims more than they allow: a failed audit.
    let out = read_trace(READERS[1], &t, &flag);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("alloc_bytes"),
        "{}",
        text(&out.stderr)
    );
    let out = read_trace(&["audit", "--json"], &t, &flag);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "fail", "{json}");
    assert_eq!(json["integrity"]["ok"], false, "{json}");
    assert!(
        json["integrity"]["error"]
            .as_str()
            .unwrap()
            .contains("alloc_bytes"),
        "{json}"
    );
    let out = read_trace(READERS[2], &t, &flag);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout).contains(": FAIL"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_version_1_trace_reads_under_the_alloc_cap_and_names_the_flag_when_it_is_too_low() {
    // A version 1 trace records no alloc_bytes: it is read, and replayed,
    // under `--max-alloc-bytes`. Too low a cap stops it with the flag named.
    let t = Path::new(&repo("crates/chronicle-core/tests/golden/v1/audit.ctrace")).to_path_buf();
    for cmd in [READERS[0], READERS[1], READERS[3]] {
        let out = read_trace(cmd, &t, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    // Its audit fails on its embedded source (of an older language), but
    // it is read and replayed whole under the default caps.
    let out = read_trace(&["audit", "--json"], &t, &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["integrity"]["ok"], true, "{json}");
    assert_eq!(json["replay"]["ok"], true, "{json}");
    let low = ["--max-alloc-bytes", "100"];
    let hint = "raise --max-alloc-bytes (now 100, e.g. --max-alloc-bytes 1048576)";
    for cmd in [READERS[1], READERS[2]] {
        let out = read_trace(cmd, &t, &low);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{}: {err}", cmd[0]);
        assert!(
            err.contains("limit exceeded: alloc_bytes (limit 100)") && err.contains(hint),
            "{}: {err}",
            cmd[0]
        );
    }
    let out = read_trace(&["audit", "--json"], &t, &low);
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "fail", "{json}");
    assert_eq!(json["replay"]["ok"], false, "{json}");
    // The event reader stops at the cap where it copies or appends past it.
    let out = read_trace(READERS[0], &t, &["--max-alloc-bytes", "10"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("needs more than this reader's alloc_bytes cap of 10 bytes")
            && err.contains("--max-alloc-bytes"),
        "{err}"
    );
}
