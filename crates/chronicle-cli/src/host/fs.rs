//! `fs.read@1(path: str) -> str` and `fs.list@1(dir: str) -> [str]`, the
//! path-scoped capabilities.
//!
//! **Scope rule.** The policy's `paths` globs are relative to the current
//! directory of the `chronicle` process (absolute globs stay absolute). A
//! request is allowed only if its **canonical** path (absolute, every
//! symlink, `.` and `..` resolved by the operating system) matches a glob
//! whose leading literal directories (its *root*) have been canonicalised
//! the same way. So `data/../secret`, `/etc/passwd` and a symlink inside the
//! scope that points outside it are all refused, with a capability error
//! that names only the path the plugin asked for (never where it resolves).
//! A symlink whose target stays in scope is followed.
//!
//! **Check, then open through handles.** After the check, nothing is opened
//! by name: the glob's root is opened with no symlink allowed anywhere on
//! it, and the rest of the canonical path is opened relative to that
//! handle with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)`, or, where the kernel lacks `openat2`, one
//! component at a time with `O_NOFOLLOW` (`O_DIRECTORY` for directories).
//! The canonical path had no link in it when it was checked, so a link met
//! while opening means the tree changed in between (another process swapped
//! a directory for a symlink): the call is refused with a capability error.
//! Type, size and contents all come from the opened handle (`fstat`, then
//! reads), and `fs.list` reads the directory through its handle.
//!
//! **What is recorded.** Each successful call reports what it opened: the
//! path below the glob's root, spelled after the policy glob's literal
//! prefix (`data/**` and canonical `/abs/data/sub/b.txt` give
//! `data/sub/b.txt`), so it matches the policy's own globs as the canonical
//! path matched the rooted one. The trace stores it and `chronicle audit`
//! checks it, not the plugin's spelling.
//!
//! A path that does not exist is reported as missing only if it would be in
//! scope; otherwise it is refused like any other path outside the scope.
//! Hard links inside a granted tree are readable, whatever other name the
//! file has (as in WASI): a link is a name in the tree, not a path out of it.
//!
//! **Limits.** `fs.read` never reads more than the run's `string_bytes`
//! limit (plus one byte, to notice a file that grew): a larger file is a
//! capability error before its contents are read. `fs.list` stops reading a
//! directory once it has more in-scope entries than `array_len`.

use super::HostConfig;
use chronicle_core::caps::{Glob, Registry, Scope};
use chronicle_core::types::{Type, Version};
use chronicle_core::vm::CapabilityError;
use chronicle_core::{Limits, Value};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// Offers `fs.read@1.0` and `fs.list@1.0`, both path-scoped; each call
/// reports the path it opened.
pub fn register(registry: &mut Registry<'static>, config: &HostConfig) {
    let (limits, cwd) = (config.limits, config.cwd.clone());
    registry.register_scoped_reporting(
        "fs.read",
        Version::new(1, 0),
        super::sig(&[Type::Str], Some(Type::Str)),
        move |scope, args, report| {
            let got = read(scope, &cwd, limits, super::str_arg(args, 0))?;
            report.opened(got.path);
            Ok(Value::str(got.value))
        },
    );
    let cwd = config.cwd.clone();
    registry.register_scoped_reporting(
        "fs.list",
        Version::new(1, 0),
        super::sig(&[Type::Str], Some(Type::array_of(Type::Str))),
        move |scope, args, report| {
            let got = list(scope, &cwd, limits, super::str_arg(args, 0))?;
            report.opened(got.path);
            Ok(Value::array(
                got.value.into_iter().map(Value::str).collect(),
            ))
        },
    );
}

/// A call's result with the path it opened, spelled for the trace (see the
/// module doc, "What is recorded").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened<T> {
    /// The result.
    pub value: T,
    /// What was opened: the policy glob's literal prefix joined with the
    /// path below the glob's root.
    pub path: String,
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
) -> Result<Opened<String>, CapabilityError> {
    read_with(scope, cwd, limits, requested, Open::Best)
}

fn read_with(
    scope: &Scope,
    cwd: &Path,
    limits: Limits,
    requested: &str,
    how: Open,
) -> Result<Opened<String>, CapabilityError> {
    let target = resolve_in_scope(scope, cwd, requested)?;
    let cannot = |why: String| fail(format!("cannot read {requested:?}: {why}"));
    let fd = open_beneath(&target, false, how).map_err(|e| cannot(open_reason(e)))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| cannot(io_reason(&e.into())))?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => {}
        FileType::Directory => return Err(cannot("it is a directory (use fs.list)".into())),
        _ => return Err(cannot("not a regular file".into())),
    }
    let too_big = |size: u64| {
        cannot(format!(
            "it is {size} bytes, over the string_bytes limit ({})",
            limits.string_bytes
        ))
    };
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > limits.string_bytes {
        return Err(too_big(size));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(limits.string_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(io_reason(&e)))?;
    if bytes.len() as u64 > limits.string_bytes {
        return Err(too_big(bytes.len() as u64));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        cannot(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(Opened {
        value: text,
        path: target.opened,
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
) -> Result<Opened<Vec<String>>, CapabilityError> {
    list_with(scope, cwd, limits, requested, Open::Best)
}

fn list_with(
    scope: &Scope,
    cwd: &Path,
    limits: Limits,
    requested: &str,
    how: Open,
) -> Result<Opened<Vec<String>>, CapabilityError> {
    let target = resolve_in_scope(scope, cwd, requested)?;
    let cannot = |why: String| fail(format!("cannot list {requested:?}: {why}"));
    let rooted = rooted(scope, cwd);
    let dir_text = utf8(&target.canonical, requested)?;
    let fd = open_beneath(&target, true, how).map_err(|e| cannot(open_reason(e)))?;
    let entries = rustix::fs::Dir::new(fd).map_err(|e| cannot(io_reason(&e.into())))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| cannot(io_reason(&e.into())))?;
        let raw = entry.file_name().to_bytes();
        if raw == b"." || raw == b".." {
            continue;
        }
        let Ok(name) = std::str::from_utf8(raw) else {
            return Err(cannot(format!(
                "an entry's name is not UTF-8 ({})",
                String::from_utf8_lossy(raw)
            )));
        };
        let full = format!("{}/{name}", dir_text.trim_end_matches('/'));
        if !rooted.iter().any(|r| r.glob.matches(&full)) {
            continue;
        }
        if names.len() as u64 >= limits.array_len {
            return Err(cannot(format!(
                "more than {} entries, the array_len limit",
                limits.array_len
            )));
        }
        names.push(name.to_owned());
    }
    names.sort();
    Ok(Opened {
        value: names,
        path: target.opened,
    })
}

/// A checked request: where it resolved and how to open it.
struct Target {
    /// The canonical path (checked against the rooted globs).
    canonical: PathBuf,
    /// The canonical root of the glob that allowed it.
    root: PathBuf,
    /// `canonical` below `root` (empty for the root itself).
    below: PathBuf,
    /// What the trace records (see [`Opened::path`]).
    opened: String,
}

/// The canonical path `requested` names, if the scope allows it.
fn resolve_in_scope(scope: &Scope, cwd: &Path, requested: &str) -> Result<Target, CapabilityError> {
    if requested.is_empty() {
        return Err(fail("the path is empty".into()));
    }
    if requested.contains('\0') {
        return Err(fail(format!("{requested:?} contains a NUL byte")));
    }
    let joined = cwd.join(requested);
    let rooted = rooted(scope, cwd);
    let allowing = |p: &Path| {
        let text = p.to_str()?;
        rooted
            .iter()
            .find(|r| r.glob.matches(text) && p.starts_with(&r.root))
    };
    match joined.canonicalize() {
        Ok(canonical) => match allowing(&canonical) {
            Some(r) => {
                let below = canonical
                    .strip_prefix(&r.root)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let opened = spell(&r.prefix, utf8(&below, requested)?);
                Ok(Target {
                    root: r.root.clone(),
                    canonical,
                    below,
                    opened,
                })
            }
            None => Err(outside(requested)),
        },
        Err(e) => {
            // Say "missing" only for what the scope would allow.
            if allowing(&lenient_canonical(&joined)).is_some() {
                Err(fail(format!(
                    "cannot read {requested:?}: {}",
                    io_reason(&e)
                )))
            } else {
                Err(outside(requested))
            }
        }
    }
}

/// `prefix` joined with `below` by one `/` (either may be empty).
fn spell(prefix: &str, below: &str) -> String {
    match (prefix, below) {
        (p, "") => p.to_owned(),
        ("", b) => b.to_owned(),
        (p, b) if p.ends_with('/') => format!("{p}{b}"),
        (p, b) => format!("{p}/{b}"),
    }
}

/// The refusal: names what the plugin asked for, never where it resolves
/// (`/proc/self/exe` would reveal the host binary's location).
fn outside(requested: &str) -> CapabilityError {
    fail(format!("path {requested:?} is outside the granted scope"))
}

/// A policy glob rooted at a canonical directory.
struct Rooted {
    /// The glob with its literal prefix replaced by `root`.
    glob: Glob,
    /// The canonical form of the literal prefix.
    root: PathBuf,
    /// The literal prefix as the policy spells it.
    prefix: String,
}

/// The scope's globs rooted at canonical directories: each glob's literal
/// prefix is joined to `cwd` and canonicalised (or, if it does not exist,
/// resolved as far as it does).
fn rooted(scope: &Scope, cwd: &Path) -> Vec<Rooted> {
    scope
        .globs()
        .iter()
        .filter_map(|glob| {
            let prefix = glob.literal_prefix();
            let root = lenient_canonical(&cwd.join(&prefix));
            let rebased = root.to_str().map(|b| glob.rebase(b))?;
            Some(Rooted {
                glob: rebased,
                root,
                prefix,
            })
        })
        .collect()
}

/// How to open: `openat2` where the kernel has it, else the walk; tests
/// force the walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Best,
    #[cfg_attr(not(test), allow(dead_code))]
    Walk,
}

/// Why an open through handles failed.
enum OpenError {
    /// A symlink (or a magic link, or a way out of the root) was met: the
    /// tree changed since the check.
    Link,
    /// Anything else, as the OS reported it.
    Io(std::io::Error),
}

fn open_reason(e: OpenError) -> String {
    match e {
        OpenError::Link => {
            "the path changed while it was opened (a symbolic link appeared on it); refused".into()
        }
        OpenError::Io(e) => io_reason(&e),
    }
}

fn classify(e: Errno) -> OpenError {
    // ELOOP: a symlink under RESOLVE_NO_SYMLINKS or O_NOFOLLOW; EXDEV: a
    // way out under RESOLVE_BENEATH; ENOTDIR under O_NOFOLLOW|O_DIRECTORY
    // can also be a symlink, but is reported as it is.
    if e == Errno::LOOP || e == Errno::XDEV {
        OpenError::Link
    } else {
        OpenError::Io(e.into())
    }
}

/// An open flag set for a directory handle that is only walked through.
#[cfg(target_os = "linux")]
const THROUGH: OFlags = OFlags::PATH;
#[cfg(not(target_os = "linux"))]
const THROUGH: OFlags = OFlags::RDONLY;

/// Opens `target` (a directory if `dir`) without following any link: its
/// root with no symlink on the way, then the rest beneath that handle.
fn open_beneath(target: &Target, dir: bool, how: Open) -> Result<OwnedFd, OpenError> {
    // Non-blocking, so a FIFO in scope cannot hang the run (it is refused
    // after fstat); it changes nothing for regular files and directories.
    let mut leaf = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
    if dir {
        leaf |= OFlags::DIRECTORY;
    }
    let through = THROUGH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let last = target.below.as_os_str().is_empty();
    #[cfg(target_os = "linux")]
    if how == Open::Best {
        use rustix::fs::ResolveFlags;
        let strict = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let root_flags = if last { leaf } else { through };
        match rustix::fs::openat2(
            rustix::fs::CWD,
            &target.root,
            root_flags,
            Mode::empty(),
            strict,
        ) {
            Err(Errno::NOSYS) | Err(Errno::PERM) => {} // no openat2 (or filtered): walk
            Err(e) => return Err(classify(e)),
            Ok(root) if last => return Ok(root),
            Ok(root) => {
                return rustix::fs::openat2(
                    &root,
                    &target.below,
                    leaf,
                    Mode::empty(),
                    strict | ResolveFlags::BENEATH,
                )
                .map_err(classify)
            }
        }
    }
    let _ = how;
    walk(&target.root.join(&target.below), leaf, through)
}

/// The walk: from `/`, each component opened relative to the one before
/// with `O_NOFOLLOW`, directories with `O_DIRECTORY`.
fn walk(path: &Path, leaf: OFlags, through: OFlags) -> Result<OwnedFd, OpenError> {
    let parts: Vec<&std::ffi::OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(Some(p)),
            Component::RootDir => None,
            // A canonical path has neither; refuse rather than guess.
            _ => Some(None),
        })
        .collect::<Option<_>>()
        .ok_or(OpenError::Link)?;
    let root_flags = if parts.is_empty() { leaf } else { through };
    let mut fd = rustix::fs::open("/", root_flags, Mode::empty()).map_err(classify)?;
    for (i, part) in parts.iter().enumerate() {
        let flags = if i + 1 == parts.len() { leaf } else { through };
        fd = match rustix::fs::openat(&fd, *part, flags, Mode::empty()) {
            Ok(next) => next,
            // `O_NOFOLLOW | O_DIRECTORY` on a link says "not a directory".
            Err(e) => {
                let stat = rustix::fs::statat(&fd, *part, rustix::fs::AtFlags::SYMLINK_NOFOLLOW);
                return Err(match stat {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                        OpenError::Link
                    }
                    _ => classify(e),
                });
            }
        };
    }
    Ok(fd)
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
        std::io::ErrorKind::NotADirectory => "not a directory".into(),
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
        std::os::unix::fs::symlink("../secret.txt", root.join("data/link")).unwrap();
        std::os::unix::fs::symlink("sub/b.txt", root.join("data/inner-link")).unwrap();
        (tmp, root)
    }

    fn text(s: &Scope, root: &Path, path: &str) -> Result<(String, String), String> {
        read(s, root, LIMITS, path)
            .map(|o| (o.value, o.path))
            .map_err(|e| e.reason)
    }

    #[test]
    fn reads_inside_the_scope_and_refuses_escapes() {
        let (_tmp, root) = sandbox();
        let s = scope(&["data/**"]);
        let alpha = || Ok(("alpha".to_string(), "data/a.txt".to_string()));
        assert_eq!(text(&s, &root, "data/a.txt"), alpha());
        assert_eq!(text(&s, &root, "data/sub/../a.txt"), alpha());
        // A link that stays inside is followed; what was opened is its target.
        assert_eq!(
            text(&s, &root, "data/inner-link"),
            Ok(("beta".into(), "data/sub/b.txt".into()))
        );
        let abs = root.join("secret.txt").display().to_string();
        for escape in [
            "data/../secret.txt",
            "secret.txt",
            abs.as_str(),
            "data/link",
            "/etc/passwd",
            "/proc/self/exe",
        ] {
            let err = text(&s, &root, escape).unwrap_err();
            // Only what was asked for: never where it resolves.
            assert_eq!(
                err,
                format!("path {escape:?} is outside the granted scope"),
                "{escape}"
            );
        }
        let err = text(&s, &root, "data/nope.txt").unwrap_err();
        assert_eq!(
            err,
            "cannot read \"data/nope.txt\": no such file or directory"
        );
        let err = text(&s, &root, "nope/../../x").unwrap_err();
        assert!(err.contains("outside the granted scope"), "{err}");
        assert!(read(&Scope::default(), &root, LIMITS, "data/a.txt").is_err());
    }

    #[test]
    fn the_opened_path_is_spelled_after_the_glob_that_allowed_it() {
        let (_tmp, root) = sandbox();
        let abs = format!("{}/data/sub/*.txt", root.display());
        let s = scope(&["./data/*.txt", &abs]);
        assert_eq!(text(&s, &root, "data/a.txt").unwrap().1, "data/a.txt");
        // An absolute glob: the absolute prefix, as the policy spells it.
        let got = text(&s, &root, "data/sub/b.txt").unwrap().1;
        assert_eq!(got, format!("{}/data/sub/b.txt", root.display()));
        assert!(Glob::new(&abs).unwrap().matches(&got));
        // A fully literal glob: its root is the file itself.
        let exact = scope(&["data/a.txt"]);
        assert_eq!(text(&exact, &root, "data/a.txt").unwrap().1, "data/a.txt");
        let listed = list(&scope(&["data/**"]), &root, LIMITS, "data/sub/").unwrap();
        assert_eq!(listed.path, "data/sub");
        assert_eq!(listed.value, ["b.txt"]);
    }

    #[test]
    fn a_link_met_while_opening_is_refused_by_openat2_and_by_the_walk() {
        let (_tmp, root) = sandbox();
        // What the check saw: `data/sub/b.txt`, no link on it. Then the
        // tree changes: `sub` becomes a link to a directory outside.
        let s = scope(&["data/**"]);
        let target = resolve_in_scope(&s, &root, "data/sub/b.txt").ok().unwrap();
        std::fs::create_dir(root.join("outside")).unwrap();
        std::fs::write(root.join("outside/b.txt"), "CANARY").unwrap();
        std::fs::rename(root.join("data/sub"), root.join("data/sub.old")).unwrap();
        std::os::unix::fs::symlink("../outside", root.join("data/sub")).unwrap();
        for how in [Open::Best, Open::Walk] {
            let err = open_beneath(&target, false, how).err().unwrap();
            assert!(matches!(err, OpenError::Link));
        }
        // The final component swapped for a link, too.
        let target = resolve_in_scope(&s, &root, "data/a.txt").ok().unwrap();
        std::fs::rename(root.join("data/a.txt"), root.join("data/a.old")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("data/a.txt")).unwrap();
        for how in [Open::Best, Open::Walk] {
            assert!(matches!(
                open_beneath(&target, false, how).err().unwrap(),
                OpenError::Link
            ));
        }
        // And the walk reads like openat2 when nothing changed.
        let (v, _) = read_with(&s, &root, LIMITS, "data/sub.old/b.txt", Open::Walk)
            .map(|o| (o.value, o.path))
            .unwrap();
        assert_eq!(v, "beta");
        let names = list_with(&s, &root, LIMITS, "data/sub.old", Open::Walk).unwrap();
        assert_eq!(names.value, ["b.txt"]);
    }

    #[test]
    fn fifos_and_hard_links_in_scope() {
        let (_tmp, root) = sandbox();
        let s = scope(&["data/**"]);
        // A hard link inside the tree is a name in the tree: readable (as in WASI).
        std::fs::hard_link(root.join("secret.txt"), root.join("data/hard")).unwrap();
        assert_eq!(text(&s, &root, "data/hard").unwrap().0, "CANARY");
        // A FIFO is refused without blocking.
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            root.join("data/fifo"),
            Mode::RUSR | Mode::WUSR,
        )
        .unwrap();
        assert_eq!(
            text(&s, &root, "data/fifo").unwrap_err(),
            "cannot read \"data/fifo\": not a regular file"
        );
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
            list(&s, &root, LIMITS, "data").unwrap().value,
            ["0.log", "a.txt", "inner-link", "link", "sub"]
        );
        // Only names the scope covers.
        let narrow = scope(&["data", "data/*.txt"]);
        let got = list(&narrow, &root, LIMITS, "data").unwrap();
        assert_eq!(
            (got.value, got.path.as_str()),
            (vec!["a.txt".to_string()], "data")
        );
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
        assert_eq!(
            list(&s, &root, LIMITS, "data/a.txt").unwrap_err().reason,
            "cannot list \"data/a.txt\": not a directory"
        );
    }

    /// Another process swaps a directory in the scope with a symlink to
    /// outside it (`renameat2(RENAME_EXCHANGE)`) in a loop while reads and
    /// lists run through the handler's code: the canary outside is never
    /// returned, and some reads succeed (so the race was really run).
    #[test]
    fn a_swapper_racing_reads_never_gets_the_canary_out() {
        let (_tmp, root) = sandbox();
        std::fs::create_dir(root.join("data/d")).unwrap();
        std::fs::write(root.join("data/d/f.txt"), "inside").unwrap();
        std::fs::create_dir(root.join("outside")).unwrap();
        std::fs::write(root.join("outside/f.txt"), "CANARY").unwrap();
        std::fs::write(root.join("outside/canary-only.txt"), "CANARY").unwrap();
        std::os::unix::fs::symlink("../outside", root.join("data/swap")).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (stop, data) = (stop.clone(), root.join("data"));
            std::thread::spawn(move || {
                let dir = rustix::fs::open(&data, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
                    .unwrap();
                let mut swaps = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && swaps < 50_000_000 {
                    let flags = rustix::fs::RenameFlags::EXCHANGE;
                    rustix::fs::renameat_with(&dir, "d", &dir, "swap", flags).unwrap();
                    swaps += 1;
                }
                swaps
            })
        };
        let s = scope(&["data/**"]);
        let (mut ok, mut refused, mut listed) = (0u32, 0u32, 0u32);
        let started = std::time::Instant::now();
        for i in 0..20_000u32 {
            if started.elapsed() > std::time::Duration::from_secs(20) {
                break;
            }
            for path in ["data/d/f.txt", "data/swap/f.txt"] {
                match read(&s, &root, LIMITS, path) {
                    Ok(got) => {
                        assert_eq!(got.value, "inside", "{path}: the canary got out");
                        assert!(got.path.ends_with("/f.txt"), "{}", got.path);
                        ok += 1;
                    }
                    Err(e) => {
                        assert!(!e.reason.contains("CANARY"), "{}", e.reason);
                        refused += 1;
                    }
                }
            }
            if i % 8 == 0 {
                if let Ok(names) = list(&s, &root, LIMITS, "data/d") {
                    assert!(!names.value.iter().any(|n| n == "canary-only.txt"));
                    listed += 1;
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps = swapper.join().unwrap();
        assert!(swaps > 100, "the swapper ran ({swaps} swaps)");
        assert!(ok > 100, "{ok} reads succeeded, {refused} were refused");
        assert!(refused > 0, "the race was never hit ({ok} reads)");
        assert!(listed > 0);
    }
}
