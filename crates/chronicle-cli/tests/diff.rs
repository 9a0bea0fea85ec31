//! `chronicle diff`: golden reports on traces the CLI records of the audit
//! plugin (examples/audit-plugin.chr) under two policies, over two inputs
//! and in two versions; identical runs; damaged and foreign inputs; the
//! JSON shape of docs/DIFF_JSON.md.
//!
//! Every run happens in a temporary directory holding a copy of the plugin
//! and its data, with `random.int` mocked so that runs repeat exactly, and
//! traces named relative to it, so that reports are the same on every
//! machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's `examples/` directory.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn chronicle(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chronicle"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("chronicle runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The audit policy with `random.int` mocked (4242) and, if given, the
/// clock's two readings replaced.
fn policy(clock: Option<&str>) -> String {
    let original = std::fs::read_to_string(examples().join("audit-policy.toml")).unwrap();
    let grant = "[capabilities.\"random.int@1\"]\ndecision = \"grant\"";
    assert!(original.contains(grant), "the example policy changed");
    let mut p = original.replace(
        grant,
        "[capabilities.\"random.int@1\"]\ndecision = \"mock\"\nreturns = [4242]",
    );
    if let Some(clock) = clock {
        let old = "returns = [1700000000, 1700000042]";
        assert!(p.contains(old), "the example policy changed");
        p = p.replace(old, clock);
    }
    p
}

/// A directory holding `audit-plugin.chr`, `examples/data/` (as the
/// examples' policy scopes fs.read) and the policies `a.toml` (the
/// example's clock) and `b.toml` (another clock).
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("examples/data");
    std::fs::create_dir_all(&data).unwrap();
    for f in ["app.conf", "app.log"] {
        std::fs::copy(examples().join("data").join(f), data.join(f)).unwrap();
    }
    std::fs::copy(
        examples().join("audit-plugin.chr"),
        dir.path().join("audit-plugin.chr"),
    )
    .unwrap();
    std::fs::write(dir.path().join("a.toml"), policy(None)).unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        policy(Some("returns = [1800000000, 1800000090]")),
    )
    .unwrap();
    dir
}

/// Records `plugin` under `policy` into `out` in `dir`.
fn trace(dir: &Path, plugin: &str, policy: &str, out: &str) {
    let o = chronicle(dir, &["trace", plugin, "--policy", policy, "-o", out]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

/// `chronicle diff` in `dir`: exit code and stdout, stderr empty.
fn diff(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["diff"];
    all.extend_from_slice(args);
    let o = chronicle(dir, &all);
    assert_eq!(text(&o.stderr), "", "diff writes its report to stdout");
    (o.status.code(), text(&o.stdout))
}

#[test]
fn policies_whose_mocked_clocks_differ() {
    let w = workspace();
    trace(w.path(), "audit-plugin.chr", "a.toml", "a.ctrace");
    trace(w.path(), "audit-plugin.chr", "b.toml", "b.ctrace");
    let (code, out) = diff(w.path(), &["a.ctrace", "b.ctrace"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the embedded policies differ"), "{out}");
    assert!(out.contains("the paths never part"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn identical_runs_exit_0() {
    let w = workspace();
    trace(w.path(), "audit-plugin.chr", "a.toml", "a.ctrace");
    trace(w.path(), "audit-plugin.chr", "a.toml", "again.ctrace");
    // Recorded at other times: the files differ, the runs do not.
    assert_ne!(
        std::fs::read(w.path().join("a.ctrace")).unwrap(),
        std::fs::read(w.path().join("again.ctrace")).unwrap()
    );
    let (code, out) = diff(w.path(), &["a.ctrace", "again.ctrace"]);
    assert_eq!(code, Some(0), "{out}");
    insta::assert_snapshot!(out);
    let (code, out) = diff(w.path(), &["a.ctrace", "again.ctrace", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["identical"], true);
    assert!(v["first_difference"].is_null() && v["paths_part"].is_null());
    assert_eq!(v["capability_differences_total"], 0);
}

/// Tonight's log has one more error: 130 last night, 135 tonight.
#[test]
fn other_inputs_part_the_paths() {
    let w = workspace();
    trace(w.path(), "audit-plugin.chr", "a.toml", "last-night.ctrace");
    let log = w.path().join("examples/data/app.log");
    let mut text_log = std::fs::read_to_string(&log).unwrap();
    text_log.push_str("2023-11-14T23:59:00Z ERROR disk full on /var\n");
    std::fs::write(&log, text_log).unwrap();
    trace(w.path(), "audit-plugin.chr", "a.toml", "tonight.ctrace");
    let (code, out) = diff(w.path(), &["last-night.ctrace", "tonight.ctrace"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("A returned 130\nB returned 135\n"), "{out}");
    assert!(out.contains("\nthe paths part\n"), "{out}");
    insta::assert_snapshot!(out);
}

/// A second version of the plugin weighs failed logins more: 130, then 145.
#[test]
fn two_versions_of_a_plugin() {
    let w = workspace();
    let v1 = std::fs::read_to_string(w.path().join("audit-plugin.chr")).unwrap();
    let old = "finding(25, str(attempts)";
    assert!(v1.contains(old), "the example plugin changed");
    std::fs::write(
        w.path().join("audit-plugin-v2.chr"),
        v1.replace(old, "finding(40, str(attempts)"),
    )
    .unwrap();
    trace(w.path(), "audit-plugin.chr", "a.toml", "v1.ctrace");
    trace(w.path(), "audit-plugin-v2.chr", "a.toml", "v2.ctrace");
    let (code, out) = diff(w.path(), &["v1.ctrace", "v2.ctrace"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the modules differ"), "{out}");
    assert!(out.contains("A returned 130\nB returned 145\n"), "{out}");
    insta::assert_snapshot!(out);

    let (code, out) = diff(w.path(), &["v1.ctrace", "v2.ctrace", "--json"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["same_module"], false);
    assert_eq!(v["compared_by"], "function_and_line");
    assert_ne!(v["a"]["module_hash"], v["b"]["module_hash"]);
    let first = &v["first_difference"];
    for side in ["a", "b"] {
        assert_eq!(first[side]["event"]["kind"], "enter");
        assert_eq!(first[side]["location"]["function"], "finding");
    }
    assert_eq!(first["a"]["event"]["args"][0], 25);
    assert_eq!(first["b"]["event"]["args"][0], 40);
}

/// A version that adds a function it never calls: the modules differ, the
/// runs match by function and line, and that is a difference (exit 1).
#[test]
fn versions_that_run_alike_match_by_function_and_line() {
    let w = workspace();
    let mut v2 = std::fs::read_to_string(w.path().join("audit-plugin.chr")).unwrap();
    v2.push_str("\nfn unused() -> int {\n    return 1;\n}\n");
    std::fs::write(w.path().join("v2.chr"), v2).unwrap();
    trace(w.path(), "audit-plugin.chr", "a.toml", "v1.ctrace");
    trace(w.path(), "v2.chr", "a.toml", "v2.ctrace");
    let (code, out) = diff(w.path(), &["v1.ctrace", "v2.ctrace"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the modules differ"), "{out}");
    assert!(
        out.contains("the runs match by function and line: only the modules differ"),
        "{out}"
    );
    assert!(out.contains("capability calls that differ: 0"), "{out}");
    let (_, out) = diff(w.path(), &["v1.ctrace", "v2.ctrace", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["identical"], false);
    assert!(v["first_difference"].is_null() && v["paths_part"].is_null());
}

/// A version with an extra line: the steps of the new line are where the
/// paths part, named by function and line on both sides.
#[test]
fn versions_with_other_lines_part_where_the_code_does() {
    let w = workspace();
    let v1 = std::fs::read_to_string(w.path().join("audit-plugin.chr")).unwrap();
    let old = "    let score = 0;\n";
    assert!(v1.contains(old), "the example plugin changed");
    std::fs::write(
        w.path().join("v2.chr"),
        v1.replace(old, "    let score = 0;\n    score = score + 1;\n"),
    )
    .unwrap();
    trace(w.path(), "audit-plugin.chr", "a.toml", "v1.ctrace");
    trace(w.path(), "v2.chr", "a.toml", "v2.ctrace");
    let (code, out) = diff(w.path(), &["v1.ctrace", "v2.ctrace", "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let part = &v["paths_part"];
    assert_eq!(part["a"]["location"]["function"], "main");
    assert_eq!(part["b"]["location"]["function"], "main");
    assert_eq!(part["b"]["location"]["source"], "score = score + 1;");
    assert_ne!(part["a"]["location"]["line"], part["b"]["location"]["line"]);
    assert_eq!(v["a"]["outcome"]["result"], 130);
    assert_eq!(v["b"]["outcome"]["result"], 131);
}

#[test]
fn json_names_the_differences_and_both_sides() {
    let w = workspace();
    trace(w.path(), "audit-plugin.chr", "a.toml", "a.ctrace");
    trace(w.path(), "audit-plugin.chr", "b.toml", "b.ctrace");
    let (code, out) = diff(w.path(), &["a.ctrace", "b.ctrace", "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().count(), 1, "one JSON object on one line");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["identical"], false);
    assert_eq!(v["same_module"], true);
    assert_eq!(v["compared_by"], "event");
    assert_eq!(v["capability_pairing"], "name_and_ordinal");
    for side in ["a", "b"] {
        assert_eq!(v[side]["plugin"], "audit-plugin.chr");
        assert_eq!(v[side]["outcome"]["ok"], true);
        assert_eq!(v[side]["outcome"]["result"], 130);
        assert_eq!(v[side]["capability_calls"], 13);
        assert!(v[side]["instructions"].as_u64().unwrap() > 1000);
    }
    assert_eq!(v["a"]["trace"], "a.ctrace");
    assert_eq!(v["a"]["events"], v["b"]["events"]);
    assert_ne!(v["a"]["policy_hash"], v["b"]["policy_hash"]);
    let first = &v["first_difference"];
    assert_eq!(first["a"]["index"], 1);
    assert_eq!(first["a"]["event"]["name"], "clock.now");
    assert_eq!(first["a"]["event"]["outcome"]["value"], 1_700_000_000i64);
    assert_eq!(first["b"]["event"]["outcome"]["value"], 1_800_000_000i64);
    assert_eq!(first["a"]["location"]["function"], "main");
    assert_eq!(
        first["a"]["location"]["source"],
        "let started = clock.now();"
    );
    assert!(v["paths_part"].is_null());
    let calls = v["capability_differences"].as_array().unwrap();
    assert_eq!(v["capability_differences_total"], 3);
    let names: Vec<_> = calls
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["ordinal"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("clock.now", 1), ("clock.now", 2), ("log.write", 8)]
    );
    assert_eq!(calls[1]["a"]["outcome"]["value"], 1_700_000_042i64);
    assert_eq!(calls[1]["b"]["outcome"]["value"], 1_800_000_090i64);
}

#[test]
fn a_damaged_trace_exits_3() {
    let w = workspace();
    trace(w.path(), "audit-plugin.chr", "a.toml", "a.ctrace");
    let mut bytes = std::fs::read(w.path().join("a.ctrace")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(w.path().join("damaged.ctrace"), &bytes).unwrap();
    for args in [
        ["a.ctrace", "damaged.ctrace"],
        ["damaged.ctrace", "a.ctrace"],
    ] {
        let o = chronicle(w.path(), &["diff", args[0], args[1]]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(
            err.contains("error: damaged.ctrace: integrity check failed"),
            "{err}"
        );
        assert_eq!(text(&o.stdout), "", "no report on a damaged trace");
    }
}

#[test]
fn bad_input_and_reader_caps_exit_2() {
    let w = workspace();
    trace(w.path(), "audit-plugin.chr", "a.toml", "a.ctrace");
    let o = chronicle(w.path(), &["diff", "a.ctrace", "a.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("a.toml"));
    let o = chronicle(w.path(), &["diff", "a.ctrace", "missing.ctrace"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("cannot read missing.ctrace"));
    // The policy records 5,000,000 instructions: over a cap of 1,000.
    let o = chronicle(
        w.path(),
        &["diff", "a.ctrace", "a.ctrace", "--max-instructions", "1000"],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--max-instructions 5000000"), "{err}");
    let o = chronicle(w.path(), &["diff", "a.ctrace", "a.ctrace", "--unbounded"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

/// A run stopped by its instruction limit parts where it stopped; its
/// outcome is the error.
#[test]
fn a_run_stopped_by_a_limit_parts_where_it_stopped() {
    let w = workspace();
    trace(w.path(), "audit-plugin.chr", "a.toml", "a.ctrace");
    let o = chronicle(
        w.path(),
        &[
            "trace",
            "audit-plugin.chr",
            "--policy",
            "a.toml",
            "--instructions",
            "2000",
            "-o",
            "short.ctrace",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let (code, out) = diff(w.path(), &["a.ctrace", "short.ctrace", "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["b"]["outcome"]["ok"], false);
    // Steps: fewer than the fuel, which also pays for bytes worked on.
    let steps = v["b"]["instructions"].as_u64().unwrap();
    assert!(steps > 1000 && steps <= 2000, "{steps}");
    let part = &v["paths_part"];
    assert_eq!(part["b"]["event"]["kind"], "trap");
    assert_eq!(part["a"]["event"]["kind"], "step");
    assert_eq!(part["a"]["index"], part["b"]["index"]);
    // A's remaining calls have no partner in B.
    let calls = v["capability_differences"].as_array().unwrap();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|c| c["b"].is_null() && c["a"].is_object()));
    let (_, out) = diff(w.path(), &["a.ctrace", "short.ctrace"]);
    assert!(
        out.contains("B failed: limit exceeded: instructions"),
        "{out}"
    );
}
