//! `chronicle export --format chrome` on traces the CLI records: a golden
//! export of the demo plugin, the Chrome Trace Event structure (common
//! fields, nesting spans, capability instants, counters), and damaged
//! traces and bad usage.

use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// `chronicle ARGS` from the repository root.
fn chronicle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chronicle"))
        .current_dir(repo(""))
        .args(args)
        .output()
        .expect("chronicle runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Records the demo plugin with `chronicle trace` under the demo policy,
/// `random.int` mocked so that the recording is the same every time.
fn record_demo(dir: &Path) -> PathBuf {
    let policy = std::fs::read_to_string(repo("examples/audit-policy.toml")).unwrap();
    let policy = policy.replace(
        "[capabilities.\"random.int@1\"]\ndecision = \"grant\"",
        "[capabilities.\"random.int@1\"]\ndecision = \"mock\"\nreturns = [4242]",
    );
    assert!(
        policy.contains("returns = [4242]"),
        "the demo policy changed"
    );
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy).unwrap();
    let t = dir.join("audit.ctrace");
    let out = chronicle(&[
        "trace",
        "examples/audit-plugin.chr",
        "--policy",
        policy_path.to_str().unwrap(),
        "-o",
        t.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    t
}

/// Records `src` (a .chr plugin, no capability) with `chronicle trace`.
fn record_source(dir: &Path, name: &str, src: &str) -> PathBuf {
    let p = dir.join(format!("{name}.chr"));
    std::fs::write(&p, src).unwrap();
    let t = dir.join(format!("{name}.ctrace"));
    let out = chronicle(&["trace", p.to_str().unwrap(), "-o", t.to_str().unwrap()]);
    assert!(out.status.code().is_some(), "{}", text(&out.stderr));
    assert!(t.exists(), "{}", text(&out.stderr));
    t
}

/// Exports `t` to `t.json` and parses it.
fn export(t: &Path) -> Json {
    let out_path = t.with_extension("json");
    let out = chronicle(&[
        "export",
        t.to_str().unwrap(),
        "--format",
        "chrome",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&std::fs::read(&out_path).unwrap()).expect("valid JSON")
}

fn events(doc: &Json) -> &Vec<Json> {
    doc["traceEvents"].as_array().expect("traceEvents")
}

/// Checks the structure every viewer relies on; returns the span names in
/// the order they opened.
fn check_structure(doc: &Json) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut opened = Vec::new();
    let mut last_ts = 0;
    let mut last_counter = 0;
    for e in events(doc) {
        for field in ["ph", "ts", "pid", "tid", "name"] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
        let ts = e["ts"].as_u64().expect("ts is a number");
        assert!(ts >= last_ts, "ts goes back at {e}");
        last_ts = ts;
        let name = e["name"].as_str().unwrap().to_string();
        match e["ph"].as_str().unwrap() {
            "B" => {
                opened.push(name.clone());
                stack.push(name);
            }
            "E" => assert_eq!(
                stack.pop().as_deref(),
                Some(name.as_str()),
                "E without B: {e}"
            ),
            "C" => {
                let n = e["args"]["instructions"].as_u64().expect("counter value");
                assert!(
                    n >= last_counter,
                    "the instruction counter goes back at {e}"
                );
                last_counter = n;
            }
            "i" => assert!(e["s"].is_string(), "instant without a scope: {e}"),
            "M" => assert!(e["args"]["name"].is_string()),
            other => panic!("unexpected phase {other}"),
        }
    }
    assert!(stack.is_empty(), "spans left open: {stack:?}");
    assert_eq!(
        last_counter,
        doc["otherData"]["instructions"].as_u64().unwrap(),
        "the last counter shows every instruction"
    );
    assert!(doc["otherData"]["clock"]
        .as_str()
        .unwrap()
        .contains("event's index"));
    opened
}

#[test]
fn the_demo_plugin_exports_as_golden_chrome_json() {
    let dir = tempfile::tempdir().unwrap();
    let t = record_demo(dir.path());
    let mut doc = export(&t);
    // What depends on the machine, the time or the tool's version.
    let other = doc["otherData"].as_object_mut().unwrap();
    assert!(other["format_version"].as_u64().unwrap() >= 3);
    other.insert("format_version".into(), "[format_version]".into());
    for key in [
        "recorded_at",
        "host",
        "tool_version",
        "header_hash",
        "final_hash",
    ] {
        assert!(other[key].is_string(), "{key}");
        other.insert(key.into(), Json::String(format!("[{key}]")));
    }
    insta::assert_snapshot!(serde_json::to_string_pretty(&doc).unwrap());
}

#[test]
fn spans_nest_and_every_event_has_the_common_fields() {
    let dir = tempfile::tempdir().unwrap();
    let doc = export(&record_demo(dir.path()));
    let opened = check_structure(&doc);
    assert_eq!(opened.first().map(String::as_str), Some("main"));
    assert!(opened.iter().any(|n| n == "trim"), "{opened:?}");
    let meta: Vec<_> = events(&doc)
        .iter()
        .filter(|e| e["ph"] == "M")
        .map(|e| {
            (
                e["name"].as_str().unwrap(),
                e["args"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        meta,
        [
            ("process_name", "audit-plugin.chr"),
            ("thread_name", "audit-plugin.chr (main)")
        ]
    );
    assert_eq!(doc["otherData"]["plugin"], "audit-plugin.chr");
}

#[test]
fn capability_instants_carry_args_results_and_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let doc = export(&record_demo(dir.path()));
    let caps: Vec<&Json> = events(&doc)
        .iter()
        .filter(|e| e["cat"] == "capability")
        .collect();
    let read = caps
        .iter()
        .find(|e| e["name"] == "cap fs.read")
        .expect("an fs.read instant");
    assert_eq!(read["ph"], "i");
    assert_eq!(read["args"]["args"][0], "examples/data/app.conf");
    assert_eq!(read["args"]["ok"], true);
    let conf = std::fs::read_to_string(repo("examples/data/app.conf")).unwrap();
    assert_eq!(read["args"]["result"], conf.as_str());
    assert_eq!(read["args"]["decision"], "grant");
    assert_eq!(read["args"]["scope"], "paths examples/data/**");
    assert_eq!(read["args"]["opened"], "examples/data/app.conf");
    let random = caps.iter().find(|e| e["name"] == "cap random.int").unwrap();
    assert_eq!(random["args"]["args"], serde_json::json!([1000, 9999]));
    assert_eq!(random["args"]["result"], 4242);
    assert_eq!(random["args"]["decision"], "mock");
    let end = events(&doc).iter().find(|e| e["name"] == "end").unwrap();
    assert_eq!(end["args"]["outcome"], "returned");
    assert_eq!(end["args"]["value"], 130);
}

#[test]
fn a_runtime_error_is_an_instant_and_closes_the_open_spans() {
    let dir = tempfile::tempdir().unwrap();
    let t = record_source(
        dir.path(),
        "fails",
        "fn inner(x: int) -> int {\n    return 10 / x;\n}\n\nfn outer(x: int) -> int {\n    return inner(x) + 1;\n}\n\nfn main() -> int {\n    return outer(0);\n}\n",
    );
    let doc = export(&t);
    assert_eq!(check_structure(&doc), ["main", "outer", "inner"]);
    let ev = events(&doc);
    let error = ev
        .iter()
        .position(|e| e["cat"] == "error")
        .expect("an error instant");
    assert_eq!(ev[error]["name"], "error: division by zero");
    assert_eq!(ev[error]["args"]["line"], 2);
    let unwound: Vec<_> = ev[error..]
        .iter()
        .filter(|e| e["ph"] == "E")
        .map(|e| (e["name"].as_str().unwrap(), e["args"]["unwound"].clone()))
        .collect();
    assert_eq!(
        unwound,
        [
            ("inner", Json::Bool(true)),
            ("outer", Json::Bool(true)),
            ("main", Json::Bool(true))
        ]
    );
}

#[test]
fn a_long_loop_gets_instruction_counters_between_spans() {
    let dir = tempfile::tempdir().unwrap();
    let t = record_source(
        dir.path(),
        "loop",
        "fn main() -> int {\n    let s = 0;\n    let i = 0;\n    while i < 100000 {\n        s = s + i;\n        i = i + 1;\n    }\n    return s;\n}\n",
    );
    let doc = export(&t);
    check_structure(&doc);
    let counters = events(&doc).iter().filter(|e| e["ph"] == "C").count();
    let steps = doc["otherData"]["instructions"].as_u64().unwrap();
    assert!(steps > 150_000, "{steps}");
    // One every 65536 instructions, plus the first (0) and the last.
    assert_eq!(counters as u64, steps / 65536 + 2, "{counters} counters");
}

#[test]
fn stdout_gets_the_same_json_as_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let t = record_demo(dir.path());
    let file = export(&t);
    for extra in [&["-o", "-"][..], &[][..]] {
        let mut args = vec!["export", t.to_str().unwrap(), "--format", "chrome"];
        args.extend_from_slice(extra);
        let out = chronicle(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let doc: Json = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc, file, "{extra:?}");
    }
}

#[test]
fn a_damaged_trace_exits_3_and_leaves_nothing_at_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let t = record_demo(dir.path());
    let mut bytes = std::fs::read(&t).unwrap();
    let at = bytes.len() - 200;
    bytes[at] ^= 0x20;
    let bad = dir.path().join("bad.ctrace");
    std::fs::write(&bad, &bytes).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let json = out_dir.join("bad.json");
    let out = chronicle(&[
        "export",
        bad.to_str().unwrap(),
        "--format",
        "chrome",
        "-o",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("integrity check failed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&out_dir).unwrap().count(),
        0,
        "nothing written, no temporary file left"
    );
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let t = record_source(dir.path(), "one", "fn main() -> int {\n    return 1;\n}\n");
    let out = chronicle(&["export", t.to_str().unwrap(), "--format", "parquet"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("parquet") && err.contains("chrome"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_trace_over_the_reader_caps_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = record_source(dir.path(), "one", "fn main() -> int {\n    return 1;\n}\n");
    let out = chronicle(&[
        "export",
        t.to_str().unwrap(),
        "--format",
        "chrome",
        "--max-instructions",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--max-instructions"));
    assert!(out.stdout.is_empty());
}
