//! `kv.get@1(key: str) -> str` and `kv.put@1(key: str, value: str)`: a
//! string-to-string store kept in one file, an embedded `redb` database.
//!
//! **Where it lives:** the file given with `--kv-store FILE` (relative to
//! the current directory). Without the flag there is no store and every kv
//! call is a capability error, so a plugin never writes where nobody said
//! it could. The policy decides *whether* a plugin may use the store; the
//! command line decides *which* store.
//!
//! **Format:** a `redb` database with one table, `kv`, of string keys and
//! values. A missing file is an empty store; it is created by the first
//! `kv.put`. `kv.get` of a key that is not there returns `""`.
//!
//! **Cost:** each `kv.put` is one write transaction: it writes the pages
//! of the B-tree path to its entry and syncs, O(size of the entry), not
//! O(size of the store). Each put is durable when it returns, and a crash
//! leaves the store as of the last committed put (redb is crash-safe).
//!
//! **Bounds:** the store holds at most `max_bytes` bytes of keys plus
//! values (the policy's `max_bytes` on `kv.put@1`, default
//! [`DEFAULT_MAX_BYTES`]); a put that would grow it past that is a
//! capability error and changes nothing. A put that shrinks the store is
//! always allowed.
//!
//! **Files:** the store is opened and created with `O_NOFOLLOW` (created
//! with `O_EXCL`): a store path that is a symbolic link is refused, so a
//! link planted at the path cannot redirect the writes. The file is locked
//! while a run uses it; a second run on the same store fails its kv calls
//! with "in use by another run".
//!
//! **Migration:** a file in the JSON format of earlier versions (an object
//! of strings) is converted on first use: its entries are written to a new
//! database beside it, the JSON is kept as `FILE.v1.json`, and the new
//! database is renamed over `FILE`. A file that is neither is refused.

use super::HostConfig;
use chronicle_core::caps::Registry;
use chronicle_core::types::{Type, Version};
use chronicle_core::vm::CapabilityError;
use chronicle_core::Value;
use redb::{Database, ReadableTable, TableDefinition};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The default `max_bytes`: bytes of keys plus values a store may hold.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// The largest JSON store of an earlier version that is migrated.
const MAX_JSON_BYTES: u64 = 64 << 20;

/// redb's page cache for the store (its default is 1 GiB).
const CACHE_BYTES: usize = 4 << 20;

/// The first bytes of every redb database file.
const REDB_MAGIC: &[u8] = b"redb\x1a\x0a\xa9\x0d\x0a";

/// The one table of a store.
const TABLE: TableDefinition<&str, &str> = TableDefinition::new("kv");

/// Offers `kv.get@1.0` and `kv.put@1.0`, sharing one store.
pub fn register(registry: &mut Registry<'static>, config: &HostConfig) {
    let store = Rc::new(RefCell::new(Store::new(
        config.kv_store.as_ref().map(|p| config.cwd.join(p)),
        config.kv_max_bytes,
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

/// The store: its file, its bound, and the open database once used.
struct Store {
    path: Option<PathBuf>,
    max_bytes: u64,
    open: Option<Open>,
}

/// An open database and the bytes of keys plus values it holds.
struct Open {
    db: Database,
    bytes: u64,
}

impl Open {
    /// Opens `db`, counting what it holds.
    fn new(db: Database, path: &Path) -> Result<Open, CapabilityError> {
        let fail = |e: &dyn std::fmt::Display| {
            CapabilityError::new(format!("cannot read the store {}: {e}", path.display()))
        };
        let txn = db.begin_read().map_err(|e| fail(&e))?;
        let mut bytes = 0u64;
        match txn.open_table(TABLE) {
            Ok(table) => {
                for entry in table.iter().map_err(|e| fail(&e))? {
                    let (k, v) = entry.map_err(|e| fail(&e))?;
                    bytes += (k.value().len() + v.value().len()) as u64;
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(fail(&e)),
        }
        drop(txn);
        Ok(Open { db, bytes })
    }
}

impl Store {
    fn new(path: Option<PathBuf>, max_bytes: u64) -> Self {
        Store {
            path,
            max_bytes,
            open: None,
        }
    }

    fn path(&self) -> Result<&Path, CapabilityError> {
        self.path
            .as_deref()
            .ok_or_else(|| CapabilityError::new("no key-value store: run with --kv-store FILE"))
    }

    /// The open store; `None` if there is no file yet and `create` is false.
    fn open(&mut self, create: bool) -> Result<Option<&mut Open>, CapabilityError> {
        if self.open.is_none() {
            let path = self.path()?.to_path_buf();
            self.open = open_store(&path, create)?;
        }
        Ok(self.open.as_mut())
    }

    fn get(&mut self, key: &str) -> Result<String, CapabilityError> {
        let path = self.path()?.to_path_buf();
        let Some(open) = self.open(false)? else {
            return Ok(String::new());
        };
        let fail = |e: &dyn std::fmt::Display| {
            CapabilityError::new(format!("cannot read the store {}: {e}", path.display()))
        };
        let txn = open.db.begin_read().map_err(|e| fail(&e))?;
        let table = match txn.open_table(TABLE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(String::new()),
            Err(e) => return Err(fail(&e)),
        };
        let value = table.get(key).map_err(|e| fail(&e))?;
        Ok(value.map(|v| v.value().to_owned()).unwrap_or_default())
    }

    fn put(&mut self, key: &str, value: &str) -> Result<(), CapabilityError> {
        let path = self.path()?.to_path_buf();
        let max_bytes = self.max_bytes;
        let open = self
            .open(true)?
            .ok_or_else(|| CapabilityError::new("the store could not be created"))?;
        let fail = |e: &dyn std::fmt::Display| {
            CapabilityError::new(format!("cannot write the store {}: {e}", path.display()))
        };
        let txn = open.db.begin_write().map_err(|e| fail(&e))?;
        let bytes = {
            let mut table = txn.open_table(TABLE).map_err(|e| fail(&e))?;
            let old = table
                .get(key)
                .map_err(|e| fail(&e))?
                .map_or(0, |v| (key.len() + v.value().len()) as u64);
            let bytes = open.bytes.saturating_sub(old) + (key.len() + value.len()) as u64;
            if bytes > max_bytes && bytes > open.bytes {
                return Err(CapabilityError::new(format!(
                    "the store would hold {bytes} bytes of keys and values, over its max_bytes \
                     of {max_bytes} (set max_bytes on kv.put@1 in the policy)"
                )));
            }
            table.insert(key, value).map_err(|e| fail(&e))?;
            bytes
        };
        txn.commit().map_err(|e| fail(&e))?;
        open.bytes = bytes;
        Ok(())
    }
}

/// Read-write, never through a symbolic link; with `create`, only a new file.
fn open_no_follow(path: &Path, create: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(create)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens the store at `path` (migrating a JSON store), or creates it if
/// `create`; `None` if it does not exist and `create` is false.
fn open_store(path: &Path, create: bool) -> Result<Option<Open>, CapabilityError> {
    let shown = path.display();
    let io_fail = |what: &str, e: std::io::Error| {
        CapabilityError::new(format!("cannot {what} the store {shown}: {e}"))
    };
    let file = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !create {
                return Ok(None);
            }
            open_no_follow(path, true).map_err(|e| io_fail("create", e))?
        }
        Err(e) => return Err(io_fail("open", e)),
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(CapabilityError::new(format!(
                "the store {shown} is a symbolic link: refused (give the path of the file itself)"
            )))
        }
        Ok(meta) if !meta.is_file() => {
            return Err(CapabilityError::new(format!(
                "the store {shown} is not a regular file"
            )))
        }
        Ok(_) => open_no_follow(path, false).map_err(|e| io_fail("open", e))?,
    };
    let mut head = Vec::new();
    (&file)
        .take(REDB_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|e| io_fail("read", e))?;
    if !head.is_empty() && !head.starts_with(REDB_MAGIC) {
        if head.trim_ascii_start().first() == Some(&b'{') {
            drop(file);
            let file = migrate_json(path)?;
            return open_db(file, path).map(Some);
        }
        return Err(CapabilityError::new(format!(
            "the store {shown} is neither a key-value store nor a JSON store of an earlier version"
        )));
    }
    open_db(file, path).map(Some)
}

/// A database in `file` (empty: a new one).
fn open_db(file: File, path: &Path) -> Result<Open, CapabilityError> {
    let db = redb::Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create_file(file)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => CapabilityError::new(format!(
                "the store {} is in use by another run",
                path.display()
            )),
            e => CapabilityError::new(format!(
                "the store {} is not a valid key-value store: {e}",
                path.display()
            )),
        })?;
    Open::new(db, path)
}

/// Converts the JSON store at `path` into a database: written beside it,
/// the JSON kept as `FILE.v1.json`, the database renamed over `FILE`.
/// Returns the new store, open.
fn migrate_json(path: &Path) -> Result<File, CapabilityError> {
    let shown = path.display();
    let fail = |e: &dyn std::fmt::Display| {
        CapabilityError::new(format!("cannot migrate the JSON store {shown}: {e}"))
    };
    let file = open_no_follow(path, false).map_err(|e| fail(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(fail(&format!("larger than {MAX_JSON_BYTES} bytes")));
    }
    let entries: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|e| {
        CapabilityError::new(format!(
            "the store {shown} is not a key-value store, nor a JSON object of strings: {e}"
        ))
    })?;
    let sibling = |suffix: &str| {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        path.with_file_name(name)
    };
    let (tmp, backup) = (sibling(".migrating"), sibling(".v1.json"));
    let new = open_no_follow(&tmp, true).map_err(|e| {
        fail(&format!(
            "cannot create {}: {e} (remove it if no run is migrating)",
            tmp.display()
        ))
    })?;
    let written = (|| -> Result<(), CapabilityError> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create_file(new.try_clone().map_err(|e| fail(&e))?)
            .map_err(|e| fail(&e))?;
        let txn = db.begin_write().map_err(|e| fail(&e))?;
        {
            let mut table = txn.open_table(TABLE).map_err(|e| fail(&e))?;
            for (k, v) in &entries {
                table.insert(k.as_str(), v.as_str()).map_err(|e| fail(&e))?;
            }
        }
        txn.commit().map_err(|e| fail(&e))?;
        drop(db);
        // A hard link never overwrites: an earlier backup is kept.
        std::fs::hard_link(path, &backup)
            .map_err(|e| fail(&format!("cannot keep it as {}: {e}", backup.display())))?;
        std::fs::rename(&tmp, path).map_err(|e| fail(&e))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    drop(new);
    open_no_follow(path, false).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// Why `kv.get` fails on the store at `path`.
    fn get_error(path: &Path) -> String {
        Store::new(Some(path.to_path_buf()), DEFAULT_MAX_BYTES)
            .get("k")
            .unwrap_err()
            .reason
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn put_then_get_survives_a_new_store_and_leaves_one_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kv.db");
        let mut store = Store::new(Some(path.clone()), DEFAULT_MAX_BYTES);
        assert_eq!(store.get("runs").unwrap(), "");
        assert!(!path.exists(), "a get creates nothing");
        store.put("runs", "1").unwrap();
        store.put("last", "ok\n\"quoted\"").unwrap();
        store.put("runs", "2").unwrap();
        assert_eq!(store.get("missing").unwrap(), "");
        drop(store);
        let mut again = Store::new(Some(path.clone()), DEFAULT_MAX_BYTES);
        assert_eq!(again.get("runs").unwrap(), "2");
        assert_eq!(again.get("last").unwrap(), "ok\n\"quoted\"");
        assert_eq!(again.open(false).unwrap().unwrap().bytes, 4 + 1 + 4 + 11);
        assert_eq!(names(tmp.path()), ["kv.db"]);
    }

    #[test]
    fn no_store_and_bad_stores_are_capability_errors() {
        assert_eq!(
            Store::new(None, DEFAULT_MAX_BYTES)
                .get("k")
                .unwrap_err()
                .reason,
            "no key-value store: run with --kv-store FILE"
        );
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kv.db");
        std::fs::write(&path, "[1, 2]").unwrap();
        let err = get_error(&path);
        assert!(
            err.ends_with("is neither a key-value store nor a JSON store of an earlier version"),
            "{err}"
        );
        std::fs::write(&path, "{\"a\": 1}").unwrap();
        let err = get_error(&path);
        assert!(err.contains("nor a JSON object of strings"), "{err}");
        assert_eq!(
            names(tmp.path()),
            ["kv.db"],
            "a failed migration leaves no file"
        );
        // A database header over garbage, or cut short.
        for cut in [REDB_MAGIC.len(), 600, 5000] {
            let mut bytes = REDB_MAGIC.to_vec();
            bytes.resize(cut, 0xA5);
            std::fs::write(&path, &bytes).unwrap();
            let err = get_error(&path);
            assert!(
                err.contains("is not a valid key-value store"),
                "{cut}: {err}"
            );
        }
        let mut store = Store::new(Some(tmp.path().join("missing-dir/kv.db")), 100);
        let err = store.put("a", "2").unwrap_err().reason;
        assert!(err.starts_with("cannot create the store"), "{err}");
    }

    #[test]
    fn a_second_run_on_the_same_store_is_refused_while_the_first_holds_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kv.db");
        let mut first = Store::new(Some(path.clone()), DEFAULT_MAX_BYTES);
        first.put("a", "1").unwrap();
        let err = Store::new(Some(path), DEFAULT_MAX_BYTES)
            .get("a")
            .unwrap_err()
            .reason;
        assert!(err.ends_with("is in use by another run"), "{err}");
    }

    #[test]
    fn a_json_store_is_migrated_and_kept_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kv.json");
        let json = "{\n  \"last\": \"ok\",\n  \"runs\": \"3\"\n}";
        std::fs::write(&path, json).unwrap();
        let mut store = Store::new(Some(path.clone()), DEFAULT_MAX_BYTES);
        assert_eq!(store.get("runs").unwrap(), "3");
        store.put("runs", "4").unwrap();
        drop(store);
        assert_eq!(names(tmp.path()), ["kv.json", "kv.json.v1.json"]);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("kv.json.v1.json")).unwrap(),
            json
        );
        let head = std::fs::read(&path).unwrap();
        assert!(head.starts_with(REDB_MAGIC));
        let mut again = Store::new(Some(path), DEFAULT_MAX_BYTES);
        assert_eq!(again.get("runs").unwrap(), "4");
        assert_eq!(again.get("last").unwrap(), "ok");
    }

    #[test]
    fn a_store_that_is_a_symlink_is_refused_and_its_target_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        let link = tmp.path().join("kv.db");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for put in [false, true] {
            let mut store = Store::new(Some(link.clone()), DEFAULT_MAX_BYTES);
            let err = if put {
                store.put("a", "1").unwrap_err()
            } else {
                store.get("a").unwrap_err()
            };
            assert!(err.reason.contains("is a symbolic link: refused"), "{err}");
        }
        // A dangling link: creating the store would follow it.
        let dangling = tmp.path().join("dangling.db");
        std::os::unix::fs::symlink(tmp.path().join("nothing-here"), &dangling).unwrap();
        let err = Store::new(Some(dangling), DEFAULT_MAX_BYTES)
            .put("a", "1")
            .unwrap_err();
        assert!(err.reason.contains("is a symbolic link: refused"), "{err}");
        assert!(!tmp.path().join("nothing-here").exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        // And the open itself never follows one, whatever the check saw.
        let err = open_no_follow(&link, false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "ELOOP: {err}");
        assert!(open_no_follow(&tmp.path().join("dangling.db"), true).is_err());
    }

    #[test]
    fn max_bytes_refuses_a_put_that_would_grow_past_it_and_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kv.db");
        let mut store = Store::new(Some(path.clone()), 10);
        store.put("ab", "12345678").unwrap(); // 10 bytes: at the cap
        let err = store.put("c", "1").unwrap_err().reason;
        assert_eq!(
            err,
            "the store would hold 12 bytes of keys and values, over its max_bytes of 10 \
             (set max_bytes on kv.put@1 in the policy)"
        );
        assert_eq!(store.get("c").unwrap(), "");
        // Replacing a value counts the difference; shrinking is always allowed.
        assert!(store.put("ab", "123456789").is_err());
        store.put("ab", "1").unwrap();
        store.put("c", "123456").unwrap(); // 10 again
        drop(store);
        // A tighter bound on a full store still lets it shrink.
        let mut tight = Store::new(Some(path), 4);
        assert!(tight.put("d", "").is_err());
        tight.put("c", "").unwrap();
        assert_eq!(tight.get("ab").unwrap(), "1");
    }

    /// A storage backend in memory that counts the bytes written to it.
    #[derive(Debug)]
    struct Counting {
        inner: redb::backends::InMemoryBackend,
        written: Arc<AtomicU64>,
    }

    impl redb::StorageBackend for Counting {
        fn len(&self) -> Result<u64, std::io::Error> {
            self.inner.len()
        }
        fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, std::io::Error> {
            self.inner.read(offset, len)
        }
        fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
            self.inner.set_len(len)
        }
        fn sync_data(&self, eventual: bool) -> Result<(), std::io::Error> {
            self.inner.sync_data(eventual)
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
            self.written.fetch_add(data.len() as u64, Ordering::Relaxed);
            self.inner.write(offset, data)
        }
    }

    /// Bytes the store writes for `n` puts of distinct 40-byte entries.
    fn bytes_written_by(n: usize) -> u64 {
        let written = Arc::new(AtomicU64::new(0));
        let backend = Counting {
            inner: redb::backends::InMemoryBackend::new(),
            written: Arc::clone(&written),
        };
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(backend)
            .unwrap();
        let mut store = Store::new(Some(PathBuf::from("counted")), DEFAULT_MAX_BYTES);
        store.open = Some(Open::new(db, Path::new("counted")).unwrap());
        let before = written.load(Ordering::Relaxed);
        for i in 0..n {
            store
                .put(&format!("key-{i:08}"), &format!("value-{i:020}-xxxx"))
                .unwrap();
        }
        assert_eq!(
            store.get("key-00000000").unwrap(),
            format!("value-{:020}-xxxx", 0)
        );
        written.load(Ordering::Relaxed) - before
    }

    #[test]
    fn puts_write_bytes_in_proportion_to_their_number_not_to_the_store() {
        let (small, large) = (bytes_written_by(2_000), bytes_written_by(16_000));
        let ratio = large as f64 / small as f64;
        eprintln!("2,000 puts wrote {small} bytes, 16,000 wrote {large}: {ratio:.2}x");
        // 8x the puts: about 8x the bytes, the B-tree a level deeper (the
        // whole-store rewrite of earlier versions was 61x).
        assert!(
            (7.0..12.0).contains(&ratio),
            "{small} -> {large}: {ratio:.2}x"
        );
        // And each put writes a bounded number of pages, whatever the store holds.
        assert!(
            large / 16_000 < 64 << 10,
            "{} bytes per put",
            large / 16_000
        );
    }
}
