//! `kv.get@1(key: str) -> str` and `kv.put@1(key: str, value: str)`: a
//! string-to-string store kept in one file.
//!
//! **Where it lives:** the file given with `--kv-store FILE` (relative to
//! the current directory). Without the flag there is no store and every kv
//! call is a capability error, so a plugin never writes where nobody said
//! it could. The policy decides *whether* a plugin may use the store; the
//! command line decides *which* store.
//!
//! **Format:** a JSON object of strings, `{"key": "value", ...}`, keys
//! sorted. A missing file is an empty store; it is created by the first
//! `kv.put`. `kv.get` of a key that is not there returns `""`.
//!
//! **Atomicity:** each `kv.put` writes the whole store to a temporary file
//! in the same directory, flushes it to disk and renames it over the store,
//! so a crash leaves either the old store or the new one, never a mix.
//! Concurrent runs sharing a store do not merge: the last put wins.
//!
//! **Bounds:** a store file over 64 MiB is refused, and so is a put that
//! would make the store larger than that.

use super::HostConfig;
use chronicle_core::caps::Registry;
use chronicle_core::types::{Type, Version};
use chronicle_core::vm::CapabilityError;
use chronicle_core::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The largest store, in bytes of JSON.
pub const MAX_STORE_BYTES: u64 = 64 << 20;

/// Offers `kv.get@1.0` and `kv.put@1.0`, sharing one store.
pub fn register(registry: &mut Registry<'static>, config: &HostConfig) {
    let store = Rc::new(RefCell::new(Store::new(
        config.kv_store.as_ref().map(|p| config.cwd.join(p)),
    )));
    let for_get = Rc::clone(&store);
    registry.register(
        "kv.get",
        Version::new(1, 0),
        super::sig(&[Type::Str], Some(Type::Str)),
        move |args| {
            for_get
                .borrow_mut()
                .get(super::str_arg(args, 0))
                .map(Value::str)
        },
    );
    registry.register(
        "kv.put",
        Version::new(1, 0),
        super::sig(&[Type::Str, Type::Str], None),
        move |args| {
            store
                .borrow_mut()
                .put(super::str_arg(args, 0), super::str_arg(args, 1))?;
            Ok(Value::Unit)
        },
    );
}

/// The store: its file, and its contents once read.
struct Store {
    path: Option<PathBuf>,
    entries: Option<BTreeMap<String, String>>,
}

impl Store {
    fn new(path: Option<PathBuf>) -> Self {
        Store {
            path,
            entries: None,
        }
    }

    fn path(&self) -> Result<&Path, CapabilityError> {
        self.path
            .as_deref()
            .ok_or_else(|| CapabilityError::new("no key-value store: run with --kv-store FILE"))
    }

    fn load(&mut self) -> Result<&mut BTreeMap<String, String>, CapabilityError> {
        if self.entries.is_none() {
            let path = self.path()?.to_path_buf();
            self.entries = Some(read_store(&path)?);
        }
        Ok(self.entries.get_or_insert_with(BTreeMap::new))
    }

    fn get(&mut self, key: &str) -> Result<String, CapabilityError> {
        Ok(self.load()?.get(key).cloned().unwrap_or_default())
    }

    fn put(&mut self, key: &str, value: &str) -> Result<(), CapabilityError> {
        let path = self.path()?.to_path_buf();
        let entries = self.load()?;
        let previous = entries.insert(key.to_owned(), value.to_owned());
        let json = serde_json::to_vec_pretty(&*entries)
            .map_err(|e| CapabilityError::new(format!("cannot encode the store: {e}")))?;
        let outcome = if json.len() as u64 > MAX_STORE_BYTES {
            Err(CapabilityError::new(format!(
                "the store would grow past {MAX_STORE_BYTES} bytes"
            )))
        } else {
            write_atomically(&path, &json)
        };
        if outcome.is_err() {
            // Keep memory and file in agreement.
            match previous {
                Some(old) => entries.insert(key.to_owned(), old),
                None => entries.remove(key),
            };
        }
        outcome
    }
}

fn read_store(path: &Path) -> Result<BTreeMap<String, String>, CapabilityError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(CapabilityError::new(format!(
                "cannot open the store {}: {e}",
                path.display()
            )))
        }
    };
    let mut bytes = Vec::new();
    file.take(MAX_STORE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            CapabilityError::new(format!("cannot read the store {}: {e}", path.display()))
        })?;
    if bytes.len() as u64 > MAX_STORE_BYTES {
        return Err(CapabilityError::new(format!(
            "the store {} is larger than {MAX_STORE_BYTES} bytes",
            path.display()
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        CapabilityError::new(format!(
            "the store {} is not a JSON object of strings: {e}",
            path.display()
        ))
    })
}

/// Writes through a temporary file in the same directory, synced, then renamed.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CapabilityError> {
    let fail = |e: std::io::Error| {
        CapabilityError::new(format!("cannot write the store {}: {e}", path.display()))
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    // Make the rename itself durable, where the platform allows it.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_then_get_survives_a_new_store_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kv.json");
        let mut store = Store::new(Some(path.clone()));
        assert_eq!(store.get("runs").unwrap(), "");
        assert!(!path.exists(), "a get creates nothing");
        store.put("runs", "1").unwrap();
        store.put("last", "ok\n\"quoted\"").unwrap();
        let mut again = Store::new(Some(path.clone()));
        assert_eq!(again.get("runs").unwrap(), "1");
        assert_eq!(again.get("last").unwrap(), "ok\n\"quoted\"");
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["kv.json"]);
    }

    #[test]
    fn no_store_and_bad_stores_are_capability_errors() {
        assert_eq!(
            Store::new(None).get("k").unwrap_err().reason,
            "no key-value store: run with --kv-store FILE"
        );
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kv.json");
        std::fs::write(&path, "[1, 2]").unwrap();
        let err = Store::new(Some(path.clone())).get("k").unwrap_err().reason;
        assert!(err.contains("is not a JSON object of strings"), "{err}");
        // A failed put leaves the file as it was.
        std::fs::write(&path, "{\"a\": \"1\"}").unwrap();
        let mut store = Store::new(Some(tmp.path().join("missing-dir/kv.json")));
        assert!(store.put("a", "2").is_err());
        assert_eq!(store.entries.as_ref().map(BTreeMap::len), Some(0));
    }
}
