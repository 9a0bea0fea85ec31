//! House rules, checked on every `cargo test`: file headers, `unsafe`,
//! ignored tests, and the layering between crates.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn all_sources() -> Vec<(PathBuf, String)> {
    let mut files = rust_files(&root().join("crates"));
    files.extend(rust_files(&root().join("fuzz/fuzz_targets")));
    files
        .into_iter()
        .map(|p| {
            (
                p.clone(),
                std::fs::read_to_string(&p).expect("readable source"),
            )
        })
        .collect()
}

#[test]
fn every_file_opens_with_a_module_doc() {
    let missing: Vec<String> = all_sources()
        .into_iter()
        .filter(|(_, src)| !src.trim_start().starts_with("//!"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` line:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_crate_forbids_unsafe_code() {
    for krate in [
        "chronicle-core/src/lib.rs",
        "chronicle-asm/src/lib.rs",
        "chronicle-lang/src/lib.rs",
        "chronicle-cli/src/main.rs",
        "chronicle-bench/src/main.rs",
    ] {
        let src = std::fs::read_to_string(root().join("crates").join(krate)).expect("crate root");
        assert!(
            src.contains("#![forbid(unsafe_code)]"),
            "{krate} lacks #![forbid(unsafe_code)]"
        );
    }
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("unsafe_code = \"forbid\""),
        "the workspace lints forbid unsafe code"
    );
}

#[test]
fn no_ignored_tests_and_no_unsafe_blocks() {
    let ignore = ["#[", "ignore]"].concat();
    let unsafe_block = ["unsafe", " {"].concat();
    for (path, src) in all_sources() {
        assert!(
            !src.contains(&ignore),
            "{} has an ignored test",
            path.display()
        );
        assert!(
            !src.contains(&unsafe_block),
            "{} has an unsafe block",
            path.display()
        );
    }
}

/// The `[dependencies]` table of a crate's manifest, as `name` lines.
fn dependencies(krate: &str) -> Vec<String> {
    let manifest =
        std::fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line
                .split(['=', '.', ' '])
                .next()
                .unwrap_or_default()
                .to_owned();
            deps.push(name);
        }
    }
    deps
}

#[test]
fn layering() {
    // The core depends on no other crate of ours, and only on pure-Rust crates.
    let core = dependencies("chronicle-core");
    for dep in &core {
        assert!(
            [
                "thiserror",
                "blake3",
                "lz4_flex",
                "toml",
                "ed25519-dalek",
                "proptest"
            ]
            .contains(&dep.as_str()),
            "chronicle-core must not depend on {dep}"
        );
    }
    // The assembler and the language depend on the core only, among our crates.
    for krate in ["chronicle-asm", "chronicle-lang"] {
        for dep in dependencies(krate) {
            assert!(
                !dep.starts_with("chronicle-") || dep == "chronicle-core",
                "{krate} must not depend on {dep}"
            );
        }
    }
    // Peer engines are the benchmark's business only.
    for krate in [
        "chronicle-core",
        "chronicle-asm",
        "chronicle-lang",
        "chronicle-cli",
    ] {
        let manifest =
            std::fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).unwrap();
        for peer in ["mlua", "wasmi", "rhai", "wat"] {
            assert!(
                !manifest.lines().any(|l| l.trim_start().starts_with(peer)),
                "{krate} must not depend on {peer}"
            );
        }
    }
    // The core's blake3 is the pure-Rust build.
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let blake3 = workspace
        .lines()
        .find(|l| l.starts_with("blake3"))
        .expect("blake3 in workspace deps");
    assert!(
        blake3.contains("\"pure\"") && blake3.contains("default-features = false"),
        "{blake3}"
    );
}

#[test]
fn the_ci_script_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let command = "cargo test --workspace";
    assert!(
        readme.contains(&format!("```\n{command}\n```")),
        "README gives the test command"
    );
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run runs exactly that command"
    );
}
