//! Loading a plugin from a file: `.chr` source, `.chasm` assembly or `.cbc` module, verified.

use crate::failure::Failure;
use chronicle_core::{format, verify, Module, VerifiedModule};
use std::path::Path;

/// The plugin formats the CLI reads, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `.chasm`: assembly text.
    Assembly,
    /// `.cbc`: binary module.
    Binary,
    /// `.chr`: source in the plugin language.
    Source,
}

impl Kind {
    /// The kind of `path`, from its extension.
    pub fn of(path: &Path) -> Result<Kind, Failure> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("chasm") => Ok(Kind::Assembly),
            Some("cbc") => Ok(Kind::Binary),
            Some("chr") => Ok(Kind::Source),
            _ => Err(
                Failure::input(format!("{}: unknown plugin file type", path.display())).hint(
                    "plugins are .chr (source), .chasm (assembly) or .cbc (binary module) files",
                ),
            ),
        }
    }
}

/// The largest plugin file the CLI reads (source, assembly or module):
/// hostile input must not make it allocate without bound.
pub const MAX_PLUGIN_BYTES: u64 = 64 * 1024 * 1024;

/// Reads an input file (plugin or policy), refusing one larger than
/// [`MAX_PLUGIN_BYTES`].
pub fn read_bounded(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        Failure::input(format!("cannot read {what}{}: {e}", path.display()))
            .hint("check the path and its permissions")
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_PLUGIN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PLUGIN_BYTES {
        return Err(Failure::input(format!(
            "{what}{}: larger than {} MiB, the most an input file may be",
            path.display(),
            MAX_PLUGIN_BYTES >> 20
        ))
        .hint("check the path: no plugin is this large"));
    }
    Ok(bytes)
}

/// Reads and decodes (or assembles) the module in `path`, without verifying it.
pub fn load_module(path: &Path) -> Result<Module, Failure> {
    let kind = Kind::of(path)?;
    let bytes = read_bounded(path, "")?;
    module_of(path, kind, &bytes)
}

/// Loads and verifies the plugin in `path`, with its source text (for a
/// `.chr` or `.chasm` file) as read: what a trace embeds.
pub fn load_with_source(path: &Path) -> Result<(VerifiedModule, Option<String>), Failure> {
    let kind = Kind::of(path)?;
    let bytes = read_bounded(path, "")?;
    let module = verified(path, module_of(path, kind, &bytes)?)?;
    let source = match kind {
        Kind::Binary => None,
        // The module compiled, so the text is UTF-8.
        Kind::Source | Kind::Assembly => Some(String::from_utf8_lossy(&bytes).into_owned()),
    };
    Ok((module, source))
}

/// The module in `bytes`, read from `path`, of the given kind.
fn module_of(path: &Path, kind: Kind, bytes: &[u8]) -> Result<Module, Failure> {
    match kind {
        Kind::Source => compile(path, bytes),
        Kind::Binary => format::decode(bytes).map_err(|e| {
            Failure::input(format!("{}: {e}", path.display())).hint(
                "the file is not a valid ChronicleVM module; rebuild it with `chronicle build`",
            )
        }),
        Kind::Assembly => {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                Failure::input(format!(
                    "{}: not UTF-8 text (invalid byte at offset {})",
                    path.display(),
                    e.valid_up_to()
                ))
            })?;
            chronicle_asm::parse(text).map_err(|e| {
                Failure::input(format!("{}:{e}", path.display()))
                    .hint("see docs/ASSEMBLY.md for the assembly syntax")
            })
        }
    }
}

/// The file name diagnostics show for `path`.
fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// Compiles `.chr` source; compile errors come back rendered, all of them.
fn compile(path: &Path, bytes: &[u8]) -> Result<Module, Failure> {
    let name = display_name(path);
    chronicle_lang::compile_bytes(&name, bytes)
        .map_err(|diagnostics| compile_failure(&name, bytes, &diagnostics))
}

/// Type-checks `.chr` source without generating code (`chronicle check`).
pub fn check_source(path: &Path) -> Result<(), Failure> {
    if Kind::of(path)? != Kind::Source {
        return Err(Failure::input(format!(
            "{}: `check` takes a .chr source file",
            path.display()
        ))
        .hint("assembly and modules are checked by `chronicle run` or `chronicle build`"));
    }
    let bytes = read_bounded(path, "")?;
    let name = display_name(path);
    chronicle_lang::check_bytes(&name, &bytes)
        .map(|_| ())
        .map_err(|diagnostics| compile_failure(&name, &bytes, &diagnostics))
}

fn compile_failure(
    name: &str,
    bytes: &[u8],
    diagnostics: &[chronicle_lang::Diagnostic],
) -> Failure {
    let src = String::from_utf8_lossy(bytes);
    let rendered = chronicle_lang::render_diagnostics(
        name,
        &src,
        diagnostics,
        chronicle_lang::RenderConfig::default(),
    );
    let n = diagnostics.len();
    Failure::input(format!(
        "{name}: {n} error{} found, nothing was run",
        if n == 1 { "" } else { "s" }
    ))
    .detail(rendered)
    .hint("fix the errors above; `chronicle check FILE.chr` type-checks without running")
}

/// Loads and verifies the plugin in `path`.
pub fn load_verified(path: &Path) -> Result<VerifiedModule, Failure> {
    verified(path, load_module(path)?)
}

fn verified(path: &Path, module: Module) -> Result<VerifiedModule, Failure> {
    verify(module).map_err(|e| {
        Failure::input(format!("{}: verification failed: {e}", path.display()))
            .hint("the module is ill-formed; fix the assembly or rebuild it")
    })
}
