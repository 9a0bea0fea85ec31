//! Runs the `.chr` scripts in `tests/programs/` against their expectations.

use std::path::Path;

use crate::common::reference::Limits;
use crate::common::{parse_script, run_source, Expect, Outcome};

fn run_script(path: &Path) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut script = parse_script(&src)?;
    let outcome = run_source(&name, &src, &mut script.host, Limits::default());
    let got = match &outcome {
        Outcome::Value(v) => Expect::Value(v.literal()),
        Outcome::RuntimeError(e) => Expect::RuntimeError(e.to_string()),
        Outcome::CompileError(text) => return Err(format!("does not compile:\n{text}")),
    };
    if got == script.expect {
        Ok(())
    } else {
        Err(format!("expected {:?}, got {:?}", script.expect, got))
    }
}

#[test]
fn corpus_programs_meet_their_expectations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chr"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 60,
        "the corpus has only {} programs",
        paths.len()
    );
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|p| run_script(p).err().map(|e| format!("{}: {e}", p.display())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_runtime_error_kind_is_covered_by_the_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let all: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for kind in [
        "integer overflow",
        "division by zero",
        "index out of range",
        "invalid number",
        "invalid argument",
        "empty array",
        "assertion failed: ",
        "capability error",
    ] {
        assert!(
            all.contains(&format!("// expect runtime error: {kind}")),
            "no corpus program expects `{kind}`"
        );
    }
}
