//! Every `tests/diagnostics/*.chr` program must fail to compile; its rendered
//! diagnostics are pinned by insta snapshots in `tests/lang/snapshots/`.

use std::path::Path;

use chronicle_lang::{check_source, render_diagnostics, RenderConfig};

#[test]
fn diagnostics_render_as_snapshotted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chr"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 30,
        "only {} diagnostic programs",
        paths.len()
    );
    for path in paths {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let file = format!("{name}.chr");
        let src = std::fs::read_to_string(&path).unwrap();
        let errors = match check_source(&file, &src) {
            Ok(_) => panic!("{file} compiles but should not"),
            Err(errors) => errors,
        };
        let text = render_diagnostics(&file, &src, &errors, RenderConfig::default());
        // Every report has a position, carets and a hint.
        for report in text.split("Error: ").skip(1) {
            assert!(
                report.contains(&format!("{file}:")),
                "{file}: no position in\n{report}"
            );
            assert!(report.contains('^'), "{file}: no caret in\n{report}");
            assert!(report.contains("Help: "), "{file}: no hint in\n{report}");
        }
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, text);
        });
    }
}
