//! Loading a plugin from a file: `.chasm` assembly or `.cbc` module, verified.

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
}

impl Kind {
    /// The kind of `path`, from its extension.
    pub fn of(path: &Path) -> Result<Kind, Failure> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("chasm") => Ok(Kind::Assembly),
            Some("cbc") => Ok(Kind::Binary),
            Some("chr") => Err(Failure::input(format!(
                "{}: .chr plugins need the language compiler, which this build does not include yet",
                path.display()
            ))
            .hint("assemble the plugin as .chasm, or use a .cbc module")),
            _ => Err(Failure::input(format!("{}: unknown plugin file type", path.display()))
                .hint("plugins are .chasm (assembly) or .cbc (binary module) files")),
        }
    }
}

/// The largest plugin file the CLI reads (source, assembly or module):
/// hostile input must not make it allocate without bound.
pub const MAX_PLUGIN_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a plugin file, refusing one larger than [`MAX_PLUGIN_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        Failure::input(format!("cannot read {}: {e}", path.display()))
            .hint("check the path and its permissions")
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_PLUGIN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PLUGIN_BYTES {
        return Err(Failure::input(format!(
            "{}: larger than {} MiB, the most a plugin file may be",
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
    let bytes = read_bounded(path)?;
    match kind {
        Kind::Binary => format::decode(&bytes).map_err(|e| {
            Failure::input(format!("{}: {e}", path.display())).hint(
                "the file is not a valid ChronicleVM module; rebuild it with `chronicle build`",
            )
        }),
        Kind::Assembly => {
            let text = std::str::from_utf8(&bytes).map_err(|e| {
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

/// Loads and verifies the plugin in `path`.
pub fn load_verified(path: &Path) -> Result<VerifiedModule, Failure> {
    let module = load_module(path)?;
    verify(module).map_err(|e| {
        Failure::input(format!("{}: verification failed: {e}", path.display()))
            .hint("the module is ill-formed; fix the assembly or rebuild it")
    })
}
