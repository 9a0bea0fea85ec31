//! Trace signatures: ed25519 keys, their text files, and the signature a
//! version 4 footer carries (`docs/TRACE_FORMAT.md`, section 5).
//!
//! The hash chain makes a trace tamper-evident only against someone who
//! cannot recompute it, and anyone can. A signature by a key the auditor
//! trusts binds the exact trace to that key: it covers the header hash and
//! the footer's counts and final hash ([`signed_message`]), and the final
//! hash is the end of a chain that starts at the header hash, so no byte of
//! the file can change without invalidating it. It proves who sealed the
//! trace, not that the host told the truth: whoever holds the secret key
//! signs anything.
//!
//! The core signs and verifies but never generates a key (it reads no
//! random source): make a seed with the operating system's random source
//! and pass it to [`SecretKey::from_seed`].
//!
//! ```
//! use chronicle_core::trace::{PublicKey, SecretKey};
//! let key = SecretKey::from_seed([7; 32]);
//! let public = key.public_key();
//! // The key files `chronicle keygen` writes, and back.
//! let secret_text = key.to_text();
//! let public_text = public.to_text();
//! assert!(secret_text.starts_with("chronicle-ed25519-secret "));
//! assert_eq!(SecretKey::parse(&secret_text)?.public_key(), public);
//! assert_eq!(PublicKey::parse_list(&public_text)?, vec![public]);
//! assert!(public.fingerprint().starts_with("ed25519:"));
//! // A public key where a secret one is expected is an error.
//! assert!(SecretKey::parse(&public_text).is_err());
//! # Ok::<(), chronicle_core::trace::KeyError>(())
//! ```

use super::header::Hash;
use ed25519_dalek::Signer as _;
use std::fmt;

/// The first trace format version whose footer has a signature block.
pub const SIGNATURE_SINCE: u16 = 4;

/// The first word of a secret key file.
const SECRET_TAG: &str = "chronicle-ed25519-secret";
/// The first word of a public key line.
const PUBLIC_TAG: &str = "chronicle-ed25519-public";
/// Domain separation: what the signed bytes start with.
const DOMAIN: &[u8] = b"chronicle trace signature v1\0";

/// A key file or key line that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct KeyError {
    /// The 1-based line of the text.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// An ed25519 secret key (the signing host's). Its `Debug` shows only the
/// public key's fingerprint.
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public_key().fingerprint())
    }
}

impl SecretKey {
    /// The key of a 32-byte seed (which must come from a secure random
    /// source: anyone who knows it signs as this key).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Parses a secret key file: one line `chronicle-ed25519-secret HEX`
    /// (the 32-byte seed in 64 hexadecimal digits).
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let mut lines = key_lines(text);
        let Some((line, l)) = lines.next() else {
            return Err(KeyError {
                line: 1,
                message: format!("empty key file: expected `{SECRET_TAG} <64 hex digits>`"),
            });
        };
        let seed = parse_line(line, l, SECRET_TAG)?;
        if let Some((line, _)) = lines.next() {
            return Err(KeyError {
                line,
                message: "a secret key file holds one key".into(),
            });
        }
        Ok(SecretKey::from_seed(seed))
    }

    /// The key file's text (one line, newline-terminated).
    pub fn to_text(&self) -> String {
        format!("{SECRET_TAG} {}\n", super::hex(&self.0.to_bytes()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The signature block for a trace with this header hash and footer
    /// body (see [`signed_message`]).
    pub fn sign(&self, header_hash: &Hash, footer_body: &[u8]) -> Signature {
        let sig = self.0.sign(&signed_message(header_hash, footer_body));
        Signature {
            key: self.public_key(),
            bytes: sig.to_bytes(),
        }
    }
}

/// An ed25519 public key: who may have signed a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The line of a public key file: `chronicle-ed25519-public HEX`.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_TAG} {}\n", super::hex(&self.0))
    }

    /// The key's short name: `ed25519:` and 32 hexadecimal digits (the
    /// first 16 bytes of the BLAKE3 hash of the key).
    pub fn fingerprint(&self) -> String {
        format!(
            "ed25519:{}",
            super::hex(&blake3::hash(&self.0).as_bytes()[..16])
        )
    }

    /// Parses a public key file or a list of trusted keys: one
    /// `chronicle-ed25519-public HEX` line per key (anything after the
    /// digits is a comment), blank lines and lines starting with `#`
    /// ignored. At least one key.
    pub fn parse_list(text: &str) -> Result<Vec<PublicKey>, KeyError> {
        let mut keys = Vec::new();
        for (line, l) in key_lines(text) {
            let key = PublicKey(parse_line(line, l, PUBLIC_TAG)?);
            if ed25519_dalek::VerifyingKey::from_bytes(&key.0).is_err() {
                return Err(KeyError {
                    line,
                    message: "not a valid ed25519 public key".into(),
                });
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(KeyError {
                line: 1,
                message: format!("no key: expected `{PUBLIC_TAG} <64 hex digits>` lines"),
            });
        }
        Ok(keys)
    }
}

/// The signature block of a signed trace: the key that signed and the
/// signature. A [`Reader`](super::Reader) reports it only once it checked
/// it, so a reported signature is always valid for its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The signer's public key, as the footer names it.
    pub key: PublicKey,
    /// The ed25519 signature of [`signed_message`].
    pub bytes: [u8; 64],
}

impl Signature {
    /// Whether this is a valid signature by `key` of the trace with this
    /// header hash and footer body.
    pub fn verify(&self, header_hash: &Hash, footer_body: &[u8]) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.key.0) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(&self.bytes);
        key.verify_strict(&signed_message(header_hash, footer_body), &sig)
            .is_ok()
    }
}

/// The bytes a trace signature signs: the domain string
/// `"chronicle trace signature v1\0"`, the header hash (32 bytes), then the
/// footer body: its first 57 bytes (tag, chunks, events, steps, final hash).
pub fn signed_message(header_hash: &Hash, footer_body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 32 + footer_body.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(header_hash);
    m.extend_from_slice(footer_body);
    m
}

/// The non-blank, non-comment lines of `text`, numbered from 1.
fn key_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// The 32 bytes of a `TAG HEX [comment]` line.
fn parse_line(line: usize, l: &str, tag: &str) -> Result<[u8; 32], KeyError> {
    let err = |message: String| KeyError { line, message };
    let mut words = l.split_whitespace();
    let first = words.next().unwrap_or_default();
    if first != tag {
        let other = if tag == SECRET_TAG {
            PUBLIC_TAG
        } else {
            SECRET_TAG
        };
        return Err(err(if first == other {
            format!("this is a `{other}` key where a `{tag}` key is expected")
        } else {
            format!("expected `{tag} <64 hex digits>`")
        }));
    }
    let digits = words.next().unwrap_or_default();
    if digits.len() != 64 {
        return Err(err(format!(
            "a key is 64 hexadecimal digits (32 bytes), found {} characters",
            digits.len()
        )));
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.as_bytes().chunks(2).enumerate() {
        let v = std::str::from_utf8(pair)
            .ok()
            .filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|p| u8::from_str_radix(p, 16).ok())
            .ok_or_else(|| err("a key is hexadecimal digits only".into()))?;
        out[i] = v;
    }
    Ok(out)
}
