//! `fs.read@1(path: str) -> str` and `fs.list@1(dir: str) -> [str]`, the
//! path-scoped capabilities.
//!
//! **Scope rule.** The policy's `paths` globs are relative to the current
//! directory of the `chronicle` process (absolute globs stay absolute). A
//! request is allowed only if its **canonical** path (absolute, every
//! symlink, `.` and `..` resolved by the operating system) matches a glob
//! whose leading literal directories have been canonicalised the same way.
//! So `data/../secret`, `/etc/passwd` and a symlink inside the scope that
//! points outside it are all refused, with a capability error naming the
//! path, and nothing outside the scope is ever opened: the check comes
//! before the open. (Resolving a path looks at directory entries, i.e. file
//! *names*, along it; no file's contents are read.)
//!
//! A path that does not exist is reported as missing only if it would be in
//! scope; otherwise it is refused like any other path outside the scope.
//!
//! **Limits.** `fs.read` never reads more than the run's `string_bytes`
//! limit (plus one byte, to notice a file that grew): a larger file is a
//! capability error before its contents are read. `fs.list` stops reading a
//! directory once it has more in-scope entries than `array_len`.
//!
//! Known gap: between the check and the open, another process could swap a
//! directory on the path for a symlink. The plugin itself cannot (no
//! capability creates links), so this only matters on a machine shared with
//! a hostile process.

use super::HostConfig;
use chronicle_core::caps::{Glob, Registry, Scope};
use chronicle_core::types::{Type, Version};
use chronicle_core::vm::CapabilityError;
use chronicle_core::{Limits, Value};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Offers `fs.read@1.0` and `fs.list@1.0`, both path-scoped.
pub fn register(registry: &mut Registry<'static>, config: &HostConfig) {
    let (limits, cwd) = (config.limits, config.cwd.clone());
    registry.register_scoped(
        "fs.read",
        Version::new(1, 0),
        super::sig(&[Type::Str], Some(Type::Str)),
        move |scope, args| read(scope, &cwd, limits, super::str_arg(args, 0)).map(Value::str),
    );
    let cwd = config.cwd.clone();
    registry.register_scoped(
        "fs.list",
        Version::new(1, 0),
        super::sig(&[Type::Str], Some(Type::array_of(Type::Str))),
        move |scope, args| {
            let names = list(scope, &cwd, limits, super::str_arg(args, 0))?;
            Ok(Value::array(names.into_iter().map(Value::str).collect()))
        },
    );
}

fn fail(message: String) -> CapabilityError {
    CapabilityError::new(message)
}

/// Reads the file `requested`, if the scope allows it, within `string_bytes`.
pub fn read(
    scope: &Scope,
    cwd: &Path,
    limits: Limits,
    requested: &str,
) -> Result<String, CapabilityError> {
    let path = resolve_in_scope(scope, cwd, requested)?;
    let meta = std::fs::metadata(&path)
        .map_err(|e| fail(format!("cannot read {requested:?}: {}", io_reason(&e))))?;
    if meta.is_dir() {
        return Err(fail(format!(
            "cannot read {requested:?}: it is a directory (use fs.list)"
        )));
    }
    if !meta.is_file() {
        return Err(fail(format!(
            "cannot read {requested:?}: not a regular file"
        )));
    }
    let too_big = |size: u64| {
        fail(format!(
            "cannot read {requested:?}: it is {size} bytes, over the string_bytes limit ({})",
            limits.string_bytes
        ))
    };
    if meta.len() > limits.string_bytes {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(&path)
        .map_err(|e| fail(format!("cannot read {requested:?}: {}", io_reason(&e))))?;
    let mut bytes = Vec::new();
    file.take(limits.string_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read {requested:?}: {}", io_reason(&e))))?;
    if bytes.len() as u64 > limits.string_bytes {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "cannot read {requested:?}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// The names in directory `requested` that are in scope, sorted bytewise.
/// The directory itself must be in scope; entries are matched by name
/// (`dir/name`), so a symlink inside the scope is listed, and refused only
/// if it is read and leads out.
pub fn list(
    scope: &Scope,
    cwd: &Path,
    limits: Limits,
    requested: &str,
) -> Result<Vec<String>, CapabilityError> {
    let dir = resolve_in_scope(scope, cwd, requested)?;
    let rooted = rooted(scope, cwd);
    let dir_text = utf8(&dir, requested)?;
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| fail(format!("cannot list {requested:?}: {}", io_reason(&e))))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| fail(format!("cannot list {requested:?}: {}", io_reason(&e))))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(fail(format!(
                "cannot list {requested:?}: an entry's name is not UTF-8 ({})",
                name.to_string_lossy()
            )));
        };
        let full = format!("{}/{name}", dir_text.trim_end_matches('/'));
        if !rooted.iter().any(|g| g.matches(&full)) {
            continue;
        }
        if names.len() as u64 >= limits.array_len {
            return Err(fail(format!(
                "cannot list {requested:?}: more than {} entries, the array_len limit",
                limits.array_len
            )));
        }
        names.push(name.to_owned());
    }
    names.sort();
    Ok(names)
}

/// The canonical path `requested` names, if the scope allows it.
fn resolve_in_scope(
    scope: &Scope,
    cwd: &Path,
    requested: &str,
) -> Result<PathBuf, CapabilityError> {
    if requested.is_empty() {
        return Err(fail("the path is empty".into()));
    }
    if requested.contains('\0') {
        return Err(fail(format!("{requested:?} contains a NUL byte")));
    }
    let joined = cwd.join(requested);
    let rooted = rooted(scope, cwd);
    let allows = |p: &Path| {
        p.to_str()
            .is_some_and(|text| rooted.iter().any(|g| g.matches(text)))
    };
    match joined.canonicalize() {
        Ok(canonical) if allows(&canonical) => Ok(canonical),
        Ok(canonical) => Err(outside(requested, &canonical)),
        Err(e) => {
            // Say "missing" only for what the scope would allow.
            let lenient = lenient_canonical(&joined);
            if allows(&lenient) {
                Err(fail(format!(
                    "cannot read {requested:?}: {}",
                    io_reason(&e)
                )))
            } else {
                Err(outside(requested, &lenient))
            }
        }
    }
}

fn outside(requested: &str, resolved: &Path) -> CapabilityError {
    if Path::new(requested) == resolved {
        return fail(format!("path {requested:?} is outside the granted scope"));
    }
    fail(format!(
        "path {requested:?} is outside the granted scope (it resolves to {})",
        resolved.display()
    ))
}

/// The scope's globs rooted at canonical directories: each glob's literal
/// prefix is joined to `cwd` and canonicalised (or, if it does not exist,
/// resolved as far as it does).
fn rooted(scope: &Scope, cwd: &Path) -> Vec<Glob> {
    scope
        .globs()
        .iter()
        .filter_map(|glob| {
            let base = lenient_canonical(&cwd.join(glob.literal_prefix()));
            base.to_str().map(|b| glob.rebase(b))
        })
        .collect()
}

/// The canonical form of `path`'s longest existing ancestor, with the rest
/// of `path` appended lexically (`..` removing a component).
fn lenient_canonical(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    let base = loop {
        if let Ok(c) = existing.canonicalize() {
            break c;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => {
                // Nothing exists (or `existing` ends in `..`): resolve lexically.
                break lexical(&existing);
            }
        }
    };
    let mut out = base;
    for part in rest.iter().rev() {
        match Path::new(part).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::CurDir) | None => {}
            _ => out.push(part),
        }
    }
    out
}

fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn utf8<'p>(path: &'p Path, requested: &str) -> Result<&'p str, CapabilityError> {
    path.to_str().ok_or_else(|| {
        fail(format!(
            "{requested:?} resolves to a path that is not UTF-8"
        ))
    })
}

/// An I/O error's reason without the OS error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(globs: &[&str]) -> Scope {
        Scope::new(globs.iter().map(|g| Glob::new(g).unwrap()).collect())
    }

    const LIMITS: Limits = Limits::DEFAULT;

    /// A sandbox: `root/data/{a.txt,sub/b.txt,link -> ../secret.txt}`, `root/secret.txt`.
    fn sandbox() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::write(root.join("data/a.txt"), "alpha").unwrap();
        std::fs::write(root.join("data/sub/b.txt"), "beta").unwrap();
        std::fs::write(root.join("secret.txt"), "CANARY").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("../secret.txt", root.join("data/link")).unwrap();
        (tmp, root)
    }

    #[test]
    fn reads_inside_the_scope_and_refuses_escapes() {
        let (_tmp, root) = sandbox();
        let s = scope(&["data/**"]);
        assert_eq!(read(&s, &root, LIMITS, "data/a.txt").unwrap(), "alpha");
        assert_eq!(
            read(&s, &root, LIMITS, "data/sub/../a.txt").unwrap(),
            "alpha"
        );
        let abs = root.join("secret.txt").display().to_string();
        for escape in [
            "data/../secret.txt",
            "secret.txt",
            abs.as_str(),
            "data/link",
            "/etc/passwd",
        ] {
            let err = read(&s, &root, LIMITS, escape).unwrap_err().reason;
            assert!(
                err.starts_with(&format!("path {escape:?} is outside the granted scope")),
                "{escape}: {err}"
            );
        }
        let err = read(&s, &root, LIMITS, "data/nope.txt").unwrap_err().reason;
        assert_eq!(
            err,
            "cannot read \"data/nope.txt\": no such file or directory"
        );
        let err = read(&s, &root, LIMITS, "nope/../../x").unwrap_err().reason;
        assert!(err.contains("outside the granted scope"), "{err}");
        assert!(read(&Scope::default(), &root, LIMITS, "data/a.txt").is_err());
    }

    #[test]
    fn reads_are_bounded_by_string_bytes() {
        let (_tmp, root) = sandbox();
        let small = Limits {
            string_bytes: 4,
            ..LIMITS
        };
        let err = read(&scope(&["data/**"]), &root, small, "data/a.txt").unwrap_err();
        assert_eq!(
            err.reason,
            "cannot read \"data/a.txt\": it is 5 bytes, over the string_bytes limit (4)"
        );
    }

    #[test]
    fn lists_sorted_in_scope_names_within_array_len() {
        let (_tmp, root) = sandbox();
        std::fs::write(root.join("data/0.log"), "").unwrap();
        let s = scope(&["data/**"]);
        assert_eq!(
            list(&s, &root, LIMITS, "data").unwrap(),
            ["0.log", "a.txt", "link", "sub"]
        );
        // Only names the scope covers.
        let narrow = scope(&["data", "data/*.txt"]);
        assert_eq!(list(&narrow, &root, LIMITS, "data").unwrap(), ["a.txt"]);
        let two = Limits {
            array_len: 2,
            ..LIMITS
        };
        assert!(list(&s, &root, two, "data")
            .unwrap_err()
            .reason
            .contains("more than 2 entries, the array_len limit"));
        assert!(list(&s, &root, LIMITS, ".")
            .unwrap_err()
            .reason
            .contains("outside the granted scope"));
    }
}
