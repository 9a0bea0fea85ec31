//! `chronicle keygen`: a new ed25519 key for signing traces, and reading
//! key files for `trace --sign` and `audit --trusted-key`.
//!
//! The secret key file (`--out`) is created with mode 0600, exclusively:
//! never through a symbolic link, never over an existing file unless
//! `--force`, and then by renaming a fresh 0600 file into place (a rename
//! replaces a link, it does not follow it). The public key goes beside it,
//! with `.pub` appended. Formats: `chronicle_core::trace::SecretKey` and
//! `PublicKey` (one `chronicle-ed25519-secret|public HEX` line).

use crate::failure::Failure;
use chronicle_core::trace::SecretKey;
use clap::Args;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The largest key file read (a key file is one short line).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// `chronicle keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (mode 0600); the public key goes to
    /// the same path with `.pub` appended.
    #[arg(long, short = 'o', value_name = "HOST.key")]
    pub out: PathBuf,
    /// Replace existing key files (by renaming new ones into place).
    #[arg(long)]
    pub force: bool,
}

/// `chronicle keygen`: writes a new key pair; prints its fingerprint.
pub fn keygen(args: &KeygenArgs) -> Result<(), Failure> {
    let secret_path = &args.out;
    let mut public_path = secret_path.clone().into_os_string();
    public_path.push(".pub");
    let public_path = PathBuf::from(public_path);
    if !args.force {
        for p in [secret_path, &public_path] {
            if fs::symlink_metadata(p).is_ok() {
                return Err(Failure::input(format!("{} already exists", p.display()))
                    .hint("choose another --out, or pass --force to replace the key (traces signed by the old key stay signed by it)"));
            }
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        Failure::input(format!("no random source for a new key: {e}"))
            .hint("the operating system's random source must be available")
    })?;
    let key = SecretKey::from_seed(seed);
    seed.fill(0);
    let public = key.public_key();
    write_new(secret_path, key.to_text().as_bytes(), 0o600, args.force)?;
    if let Err(e) = write_new(&public_path, public.to_text().as_bytes(), 0o644, args.force) {
        let _ = fs::remove_file(secret_path);
        return Err(e);
    }
    eprintln!(
        "keygen: secret key written to {} (mode 0600: keep it secret), public key to {}",
        secret_path.display(),
        public_path.display()
    );
    println!("{}", public.fingerprint());
    Ok(())
}

/// Writes `bytes` to a new file at `path` with `mode`: created exclusively
/// (a link or file there is an error), or with `force` written to a fresh
/// file beside it and renamed over `path`.
fn write_new(path: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<(), Failure> {
    let cannot = |e: std::io::Error, p: &Path| {
        Failure::input(format!("cannot write {}: {e}", p.display()))
            .hint("check the directory exists and is writable")
    };
    let target = if force {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        PathBuf::from(tmp)
    } else {
        path.to_path_buf()
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&target)
        .map_err(|e| cannot(e, &target))?;
    // The umask may have narrowed the mode, never widened it; set it exactly.
    let written = f
        .set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| f.write_all(bytes))
        .and_then(|()| f.sync_all());
    drop(f);
    let done = written.and_then(|()| {
        if force {
            fs::rename(&target, path)
        } else {
            Ok(())
        }
    });
    done.map_err(|e| {
        let _ = fs::remove_file(&target);
        cannot(e, path)
    })
}

/// The text of a key file, at most [`MAX_KEY_FILE`] bytes.
pub fn read_key_file(path: &Path) -> Result<String, Failure> {
    let cannot = |what: String| {
        Failure::input(format!("cannot read key file {}: {what}", path.display()))
            .hint("pass a key file written by `chronicle keygen`")
    };
    let f = File::open(path).map_err(|e| cannot(e.to_string()))?;
    let mut bytes = Vec::new();
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(e.to_string()))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(cannot(format!("larger than {MAX_KEY_FILE} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| cannot("not UTF-8 text".into()))
}

/// The secret key of `trace --sign FILE` (a warning on stderr if other
/// users may read the file).
pub fn read_secret_key(path: &Path) -> Result<SecretKey, Failure> {
    let text = read_key_file(path)?;
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: the secret key {} is readable by other users (mode {mode:04o}): chmod 600 it",
                path.display()
            );
        }
    }
    SecretKey::parse(&text).map_err(|e| {
        Failure::input(format!("{}: not a secret key file: {e}", path.display()))
            .hint("pass the secret key `chronicle keygen --out FILE` wrote to FILE (not FILE.pub)")
    })
}
