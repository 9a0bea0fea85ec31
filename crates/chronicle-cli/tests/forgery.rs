//! The forger's suite: signed traces against someone who edits a trace and
//! re-seals it correctly (hash chain and footer recomputed, as the core's
//! writer computes them), through the `chronicle` binary.
//!
//! Each forgery edits one thing of a signed trace of the audit example: a
//! capability result, an argument, the embedded policy, the limits, the
//! result. Re-sealed as unsigned, plain `audit` can only say "unsigned"
//! (and passes every one: the chain proves integrity, not origin), and `audit
//! --trusted-key` fails every one; re-sealed with the original signature
//! kept, both fail on the signature. Also: stripping the signature, a
//! trace signed by another key, key files good and bad, and `keygen`'s
//! care with the secret key file.

use chronicle_core::trace::{self, testing, Event, Reader, Recorder, TraceHeader};
use chronicle_core::vm::{CapabilityError, Host, Vm};
use chronicle_core::{format, Value};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chronicle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chronicle"))
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A key pair made by `chronicle keygen` in `dir`: (secret, public).
fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(name);
    let out = chronicle()
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ed25519:"));
    (key.clone(), dir.join(format!("{name}.pub")))
}

/// The audit example traced in the repository root, signed with `key`.
fn signed_trace(dir: &Path, key: &Path) -> PathBuf {
    let out = dir.join("signed.ctrace");
    let o = chronicle()
        .current_dir(repo(""))
        .args([
            "trace",
            "examples/audit-plugin.chr",
            "--policy",
            "examples/audit-policy.toml",
            "--sign",
        ])
        .arg(key)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "130\n");
    assert!(text(&o.stderr).contains(", signed by key ed25519:"));
    out
}

/// `chronicle audit TRACE [--trusted-key K]...` in the repository root.
fn audit(t: &Path, trusted: &[&Path], extra: &[&str]) -> Output {
    let mut cmd = chronicle();
    cmd.current_dir(repo("")).arg("audit").arg(t).args(extra);
    for k in trusted {
        cmd.arg("--trusted-key").arg(k);
    }
    cmd.output().unwrap()
}

/// The `signature` line of an audit report.
fn signature_line(out: &Output) -> String {
    text(&out.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("signature "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The fingerprint `keygen` wrote for a public key file.
fn fingerprint(public: &Path) -> String {
    let text = std::fs::read_to_string(public).unwrap();
    trace::PublicKey::parse_list(&text).unwrap()[0].fingerprint()
}

/// Answers each capability call with what `answer(n, recorded)` says of the
/// `n`th recorded call (its outcome and what it opened).
type Call = (Result<Value, CapabilityError>, Option<String>);
struct Scripted(VecDeque<Call>, Option<String>);
impl Host for Scripted {
    fn call(&mut self, _: u16, _: &[Value]) -> Result<Value, CapabilityError> {
        let (outcome, opened) = self.0.pop_front().expect("a recorded call");
        self.1 = opened;
        outcome
    }
    fn opened(&mut self) -> Option<String> {
        self.1.take()
    }
}

/// The forger's tool: the run of `bytes`' module (after `edit` changed the
/// header) re-recorded with the recorded capability results (after
/// `answer` changed them), so the hash chain and the footer are computed
/// afresh and correctly. The result is unsigned: the forger has no key.
fn forge(
    bytes: &[u8],
    edit: impl FnOnce(&mut TraceHeader),
    answer: impl Fn(usize, Call) -> Call,
) -> Vec<u8> {
    let mut reader = Reader::open(bytes).unwrap();
    let mut header = reader.header().clone();
    let calls = reader
        .events()
        .filter_map(|e| match e.unwrap() {
            Event::Capability {
                outcome, opened, ..
            } => Some((outcome, opened)),
            _ => None,
        })
        .enumerate()
        .map(|(n, c)| answer(n, c))
        .collect();
    edit(&mut header);
    let mut recorder = Recorder::new(Vec::new(), header.clone()).unwrap();
    let module = recorder.module().clone();
    let outcome =
        Vm::with_observer(&module, header.limits, Scripted(calls, None), &mut recorder).run();
    recorder.finish(&outcome).unwrap().writer
}

/// `header` with its source edited by `f` and the module recompiled from it.
fn recompile(header: &mut TraceHeader, f: impl FnOnce(&str) -> String) {
    let source = f(header.source.as_deref().unwrap());
    let module = chronicle_lang::compile("audit-plugin.chr", &source).unwrap();
    header.module = format::encode(&module);
    header.source = Some(source);
}

/// `forged` with the signature block of `signed` put back in its footer.
fn with_signature_of(forged: &[u8], signed: &[u8]) -> Vec<u8> {
    let block = trace::FOOTER_LEN - trace::FOOTER_BODY_LEN;
    let mut out = forged.to_vec();
    let n = out.len();
    out[n - block..].copy_from_slice(&signed[signed.len() - block..]);
    out
}

#[test]
fn every_resealed_forgery_fails_audit_with_the_trusted_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "host.key");
    let t = signed_trace(dir.path(), &key);
    let signed = std::fs::read(&t).unwrap();
    let fp = fingerprint(&public);

    // The genuine trace passes, naming its signer.
    let out = audit(&t, &[&public], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        signature_line(&out),
        format!("signature     ok: signed by trusted key {fp}")
    );
    let out = audit(&t, &[], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(signature_line(&out).contains(&format!(
        "signed by key {fp} (valid; not checked against a trusted key"
    )));

    // The calls: clock.now, random.int, log.write, fs.read, ...
    let random_int = |n: usize| n == 1;
    let forgeries: Vec<(&str, Vec<u8>)> = vec![
        (
            "a capability result (what random.int returned)",
            forge(
                &signed,
                |_| {},
                |n, c| {
                    if random_int(n) {
                        (Ok(Value::Int(1234)), c.1)
                    } else {
                        c
                    }
                },
            ),
        ),
        (
            "an argument (which file fs.read read)",
            forge(
                &signed,
                |h| {
                    recompile(h, |s| {
                        s.replace(
                            "fs.read(\"examples/data/app.conf\")",
                            "fs.read(\"examples/data/app.log\")",
                        )
                    })
                },
                |_, c| c,
            ),
        ),
        (
            "the embedded policy (fs.read's scope widened to everything)",
            forge(
                &signed,
                |h| {
                    let p = h.policy.as_deref().unwrap();
                    h.policy =
                        Some(p.replace("paths = [\"examples/data/**\"]", "paths = [\"**\"]"));
                    h.capabilities[0].scope = "paths = [\"**\"]".into();
                },
                |_, c| c,
            ),
        ),
        (
            "the limits",
            forge(&signed, |h| h.limits.instructions = 4_000_000, |_, c| c),
        ),
        (
            "the result",
            forge(
                &signed,
                |h| {
                    recompile(h, |s| {
                        s.replace("    return score;", "    return score - 100;")
                    })
                },
                |_, c| c,
            ),
        ),
    ];
    for (what, forged) in forgeries {
        assert_ne!(forged, signed, "{what}");
        // Correctly sealed: the core verifies it, and it names no key.
        let summary = trace::verify(&forged[..]).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(summary.signature, None, "{what}");
        let f = dir.path().join("forged.ctrace");
        std::fs::write(&f, &forged).unwrap();

        let plain = audit(&f, &[], &[]);
        assert!(
            signature_line(&plain)
                .starts_with("signature     unsigned: the hash chain proves integrity, not origin"),
            "{what}: {}",
            text(&plain.stdout)
        );
        // The chain alone cannot tell: every forgery passes plain audit.
        assert_eq!(
            plain.status.code(),
            Some(0),
            "{what}: {}",
            text(&plain.stdout)
        );
        let strict = audit(&f, &[&public], &[]);
        assert_eq!(
            strict.status.code(),
            Some(3),
            "{what}: {}",
            text(&strict.stdout)
        );
        assert!(text(&strict.stdout).starts_with(&format!("audit of {}: FAIL", f.display())));
        assert!(
            signature_line(&strict).starts_with("signature     FAIL: unsigned"),
            "{what}: {}",
            text(&strict.stdout)
        );
        assert!(
            text(&strict.stderr).contains("failed: signature: unsigned"),
            "{what}: {}",
            text(&strict.stderr)
        );

        // The forgery with the original signature kept: it no longer verifies.
        let kept = with_signature_of(&forged, &signed);
        std::fs::write(&f, &kept).unwrap();
        for out in [audit(&f, &[], &[]), audit(&f, &[&public], &[])] {
            assert_eq!(out.status.code(), Some(3), "{what}: {}", text(&out.stdout));
            let s = text(&out.stdout);
            assert!(
                s.contains(&format!("the footer's signature by {fp} does not verify")),
                "{what}: {s}"
            );
            assert!(
                signature_line(&out).starts_with("signature     FAIL:"),
                "{what}: {s}"
            );
        }
    }
}

#[test]
fn stripping_or_replacing_the_signature_fails_the_trusted_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "host.key");
    let (other_key, other_public) = keygen(dir.path(), "other.key");
    let t = signed_trace(dir.path(), &key);
    let signed = std::fs::read(&t).unwrap();

    // Stripped: the same trace re-sealed as unsigned.
    let stripped = testing::reseal_unsigned(&signed);
    assert_ne!(stripped, signed);
    let f = dir.path().join("stripped.ctrace");
    std::fs::write(&f, &stripped).unwrap();
    let out = audit(&f, &[], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(signature_line(&out).starts_with("signature     unsigned"));
    let out = audit(&f, &[&public], &["--json"]);
    assert_eq!(out.status.code(), Some(3));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["verdict"], "fail");
    assert_eq!(j["signature"]["signed"], false);
    assert_eq!(j["signature"]["key"], serde_json::Value::Null);
    assert_eq!(j["signature"]["trusted"], false);
    assert_eq!(j["integrity"]["ok"], true);

    // Re-signed by another key (what any key holder can do): named, and
    // not trusted unless that key is.
    let other = std::fs::read_to_string(&other_key).unwrap();
    let other = trace::SecretKey::parse(&other).unwrap();
    let resigned = testing::reseal_signed(&signed, &other);
    std::fs::write(&f, &resigned).unwrap();
    let ofp = fingerprint(&other_public);
    let out = audit(&f, &[&public], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        signature_line(&out),
        format!("signature     FAIL: signed by key {ofp}, which is not a trusted key")
    );
    // A file listing both keys (comments and blank lines allowed) trusts it.
    let list = dir.path().join("trusted.keys");
    std::fs::write(
        &list,
        format!(
            "# our hosts\n{}\n{}",
            std::fs::read_to_string(&public).unwrap(),
            std::fs::read_to_string(&other_public).unwrap()
        ),
    )
    .unwrap();
    let out = audit(&f, &[&list], &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["signature"]["key"], ofp.as_str());
    assert_eq!(j["signature"]["trusted"], true);
    assert_eq!(j["signature"]["trusted_keys"].as_array().unwrap().len(), 2);
    // Repeating the flag works as the list does.
    let out = audit(&f, &[&public, &other_public], &[]);
    assert_eq!(out.status.code(), Some(0));
    // The genuine trace, --json, names its signer.
    let out = audit(&t, &[&public], &["--json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["verdict"], "pass");
    assert_eq!(j["signature"]["key"], fingerprint(&public).as_str());
    assert_eq!(j["signature"]["signed"], true);
    assert_eq!(j["signature"]["public_key"].as_str().unwrap().len(), 64);
}

#[test]
fn a_version_3_trace_audits_as_unsigned() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = keygen(dir.path(), "host.key");
    let v3 = repo("crates/chronicle-core/tests/golden/v3/audit.ctrace");
    let out = audit(&v3, &[], &[]);
    assert!(
        signature_line(&out).starts_with("signature     unsigned"),
        "{}",
        text(&out.stdout)
    );
    let out = audit(&v3, &[&public], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(signature_line(&out).starts_with("signature     FAIL: unsigned"));
}

#[test]
fn bad_key_files_are_clear_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "host.key");
    let t = signed_trace(dir.path(), &key);
    let short = dir.path().join("short.key");
    std::fs::write(&short, "chronicle-ed25519-secret 0123abcd\n").unwrap();
    let garbage = dir.path().join("garbage.key");
    std::fs::write(&garbage, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let words = dir.path().join("words.key");
    std::fs::write(&words, "hello world\n").unwrap();
    let trace_args = |k: &Path| {
        chronicle()
            .current_dir(repo(""))
            .args([
                "trace",
                "examples/audit-plugin.chr",
                "--policy",
                "examples/audit-policy.toml",
                "--sign",
            ])
            .arg(k)
            .arg("--out")
            .arg(dir.path().join("never.ctrace"))
            .output()
            .unwrap()
    };
    for (k, needle) in [
        (&short, "64 hexadecimal digits"),
        (&garbage, "not UTF-8"),
        (&words, "expected `chronicle-ed25519-secret"),
        (
            &public,
            "a `chronicle-ed25519-public` key where a `chronicle-ed25519-secret` key is expected",
        ),
        (&dir.path().join("missing.key"), "cannot read key file"),
    ] {
        let out = trace_args(k);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(err.contains("hint:"), "{err}");
        // Refused before running: nothing ran, nothing was written.
        assert!(!err.contains("[info]"), "{err}");
        assert!(!dir.path().join("never.ctrace").exists());
    }
    for (k, needle) in [
        (
            &key,
            "a `chronicle-ed25519-secret` key where a `chronicle-ed25519-public` key is expected",
        ),
        (&short, "where a `chronicle-ed25519-public` key is expected"),
        (&garbage, "not UTF-8"),
    ] {
        let out = audit(&t, &[k], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(needle),
            "{needle}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    // A line of 64 hex digits that is no curve point is refused too.
    let bad_point = dir.path().join("bad.pub");
    std::fs::write(
        &bad_point,
        format!("chronicle-ed25519-public {}\n", "f".repeat(63) + "7"),
    )
    .unwrap();
    let out = audit(&t, &[&bad_point], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn keygen_writes_the_secret_0600_exclusively_and_never_through_a_link() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "host.key");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&public), 0o644);
    let secret = std::fs::read_to_string(&key).unwrap();
    let parsed = trace::SecretKey::parse(&secret).unwrap();
    let listed = trace::PublicKey::parse_list(&std::fs::read_to_string(&public).unwrap()).unwrap();
    assert_eq!(listed, vec![parsed.public_key()]);

    // Not over an existing key without --force.
    let out = chronicle()
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), secret);
    // With --force: a new key, still 0600.
    let out = chronicle()
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .arg("--force")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_ne!(std::fs::read_to_string(&key).unwrap(), secret);
    assert_eq!(mode(&key), 0o600);

    // Never through a symbolic link: refused, the target untouched; with
    // --force the link itself is replaced, the target still untouched.
    let target = dir.path().join("target.txt");
    std::fs::write(&target, "precious\n").unwrap();
    let link = dir.path().join("link.key");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = chronicle()
        .arg("keygen")
        .arg("--out")
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    let out = chronicle()
        .arg("keygen")
        .arg("--out")
        .arg(&link)
        .arg("--force")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(!std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(mode(&link), 0o600);
    // A secret key others may read still signs, with a warning.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = chronicle()
        .current_dir(repo(""))
        .args(["trace", "examples/asm/fib.chasm", "--sign"])
        .arg(&key)
        .arg("--out")
        .arg(dir.path().join("hello.ctrace"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is readable by other users (mode 0644): chmod 600 it"),
        "{}",
        text(&out.stderr)
    );
    // A directory that does not exist: exit 2.
    let out = chronicle()
        .arg("keygen")
        .arg("--out")
        .arg(dir.path().join("no/such/dir.key"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
