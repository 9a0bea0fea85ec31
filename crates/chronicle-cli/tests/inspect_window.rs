//! `chronicle inspect --events A..B`: the window skips what comes before
//! it without making events of it, yet lists exactly what a full decode
//! through the core reader gives, and the whole trace is still verified
//! (statistics, footer, a damaged byte anywhere).

use chronicle_core::trace::{Reader, FOOTER_LEN};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

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

/// A plugin with calls, a loop of `n` rounds, string work and a
/// capability call, recorded by `chronicle trace` (about 10 events a round).
fn record(dir: &Path, n: u32) -> PathBuf {
    let src = "use clock.now@1() -> int;\n\nfn f(x: int) -> int {\n    return (x * 31 + 7) % 1009;\n}\n\nfn main() -> int {\n    let acc = clock.now();\n    let s = \"\";\n    for i in 0..ROUNDS {\n        acc = f(acc);\n        if acc % 10 == 0 {\n            s = s + str(acc);\n        }\n    }\n    return acc + len(s);\n}\n";
    let p = dir.join("w.chr");
    std::fs::write(&p, src.replace("ROUNDS", &n.to_string())).unwrap();
    let policy = dir.join("w.toml");
    std::fs::write(
        &policy,
        "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [5]\n",
    )
    .unwrap();
    let t = dir.join("w.ctrace");
    let out = chronicle(&[
        "trace",
        p.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "-o",
        t.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    t
}

/// The first `n` events of `t` (all with `usize::MAX`) as `inspect`
/// prints them, from a full decode through the core reader.
fn full_decode(t: &Path, n: usize) -> Vec<String> {
    let mut r = Reader::open(std::io::BufReader::new(std::fs::File::open(t).unwrap())).unwrap();
    let mut all = Vec::new();
    while all.len() < n {
        let Some(e) = r.next_event().unwrap() else {
            break;
        };
        all.push(format!("#{} {e}", all.len()));
    }
    all
}

/// `inspect T --events RANGE`: the listed event lines and the rest.
fn window(t: &Path, range: &str) -> (Vec<String>, String) {
    let out = chronicle(&["inspect", t.to_str().unwrap(), "--events", range]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let listed = stdout
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let rest = stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    (listed, rest)
}

#[test]
fn windows_list_exactly_what_a_full_decode_gives() {
    let dir = tempfile::tempdir().unwrap();
    let t = record(dir.path(), 300);
    let all = full_decode(&t, usize::MAX);
    let n = all.len();
    assert!(n > 2000, "{n} events");
    let (_, whole_rest) = window(&t, "0..");
    let mid = n / 2;
    let cases: Vec<(String, std::ops::Range<usize>)> = vec![
        ("0..5".into(), 0..5),
        (format!("{mid}..{}", mid + 7), mid..mid + 7),
        (format!("{}..", n - 4), n - 4..n),
        (format!("{}..={}", n - 3, n - 1), n - 3..n),
        (format!("{}", mid + 1), mid + 1..mid + 2),
        (format!("{}..{}", n + 10, n + 20), n..n),
        (format!("{mid}..{mid}"), mid..mid),
        ("0..".into(), 0..n),
    ];
    for (range, want) in cases {
        let (listed, rest) = window(&t, &range);
        assert_eq!(listed, all[want].to_vec(), "--events {range}");
        // Header, statistics, footer and outcome do not depend on the window.
        assert_eq!(rest, whole_rest, "--events {range}");
    }
    assert!(
        whole_rest.contains(&format!("total         {n}")),
        "{whole_rest}"
    );
    assert!(whole_rest.contains("(verified)"), "{whole_rest}");
}

#[test]
fn json_windows_match_the_full_listing() {
    let dir = tempfile::tempdir().unwrap();
    let t = record(dir.path(), 300);
    let json = |range: &str| -> Json {
        let out = chronicle(&["inspect", t.to_str().unwrap(), "--json", "--events", range]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let full = json("0..");
    let all = full["events"].as_array().unwrap();
    let n = all.len();
    assert_eq!(full["events_total"], n);
    for (a, b) in [(0, 3), (n / 3, n / 3 + 9), (n - 2, n), (n + 5, n + 6)] {
        let doc = json(&format!("{a}..{b}"));
        let want = &all[a.min(n)..b.min(n)];
        assert_eq!(doc["events"].as_array().unwrap(), want, "{a}..{b}");
        for key in ["counts", "events_total", "footer", "outcome", "integrity"] {
            assert_eq!(doc[key], full[key], "{key} for {a}..{b}");
        }
    }
}

/// A trace of several chunks.
fn big(dir: &Path) -> PathBuf {
    let t = record(dir, 60_000);
    let len = std::fs::metadata(&t).unwrap().len();
    let summary = chronicle_core::trace::verify(std::fs::File::open(&t).unwrap()).unwrap();
    assert!(
        summary.chunks >= 4,
        "{} chunks, {len} bytes",
        summary.chunks
    );
    t
}

#[test]
fn damage_after_the_window_is_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Many chunks (a chunk holds 64 KiB of events), the damage in the last.
    let t = big(dir.path());
    let all = full_decode(&t, 3);
    let mut bytes = std::fs::read(&t).unwrap();
    let at = bytes.len() - FOOTER_LEN - 40; // in the last chunk, after the window
    bytes[at] ^= 0x01;
    let bad = dir.path().join("bad.ctrace");
    std::fs::write(&bad, &bytes).unwrap();
    let out = chronicle(&["inspect", bad.to_str().unwrap(), "--events", "0..3"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("integrity check failed"));
    let stdout = text(&out.stdout);
    let listed: Vec<&str> = stdout.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        listed,
        all[..3].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(!stdout.contains("(verified)"), "{stdout}");
    // JSON: the integrity object says so too.
    let out = chronicle(&[
        "inspect",
        bad.to_str().unwrap(),
        "--json",
        "--events",
        "0..3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["integrity"]["ok"], false);
    assert_eq!(doc["events"].as_array().unwrap().len(), 3);
}

#[test]
fn damage_before_the_window_stops_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let t = big(dir.path());
    let n = full_decode(&t, usize::MAX).len();
    let mut bytes = std::fs::read(&t).unwrap();
    // In the last chunk, before the footer: the window's events are there.
    let at = bytes.len() - FOOTER_LEN - 40;
    bytes[at] ^= 0x01;
    let bad = dir.path().join("bad.ctrace");
    std::fs::write(&bad, &bytes).unwrap();
    let out = chronicle(&[
        "inspect",
        bad.to_str().unwrap(),
        "--events",
        &format!("{}..", n - 2),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("integrity check failed"));
    assert!(!text(&out.stdout).lines().any(|l| l.starts_with('#')));
}
