//! The binary module format (`.cbc`) under hostile input.
//!
//! Round trips (`decode(encode(m)) == m`), every truncation, tens of
//! thousands of random mutations, pathological counts, and one test per
//! [`DecodeErrorKind`] pinning the byte offset it reports. Raw inputs are
//! written from the grammar in `chronicle_core::format`'s documentation and
//! sealed with a correct checksum, so that each structural error is caught
//! for its own reason, not by the checksum.
//!
//! The property tests over generated modules need the `testing` feature
//! (`cargo test -p chronicle-core --features testing`; a workspace-wide
//! `cargo test` enables it through `chronicle-asm`'s dev-dependency).

use chronicle_core::format::{
    decode, encode, DecodeError, DecodeErrorKind, CHECKSUM_LEN, FORMAT_VERSION, MAGIC, MAX_ENTRIES,
};
use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::types::{Signature, Type, Version, MAX_TYPE_DEPTH};
use std::time::{Duration, Instant};

// ---- the format's tags, as documented in `chronicle_core::format` ----

const SEC_CONSTS: u8 = 1;
const SEC_IMPORTS: u8 = 2;
const SEC_FUNCS: u8 = 3;
const SEC_ENTRY: u8 = 4;
const TY_UNIT: u8 = 0;
const TY_INT: u8 = 1;
const TY_STR: u8 = 3;
const TY_ARRAY: u8 = 4;
const CONST_INT: u8 = 1;
const CONST_STR: u8 = 2;
/// `magic` + `version:u16le`.
const HEADER_LEN: usize = 6;

// ---- helpers ----

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn header() -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out
}

fn section(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    out.push(tag);
    varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// A module body (without checksum) from raw section payloads, and the
/// offset where each payload starts: `[consts, imports, funcs, entry]`.
fn layout(consts: &[u8], imports: &[u8], funcs: &[u8], entry: &[u8]) -> (Vec<u8>, [usize; 4]) {
    let mut out = header();
    let mut starts = [0; 4];
    for (i, (tag, payload)) in [
        (SEC_CONSTS, consts),
        (SEC_IMPORTS, imports),
        (SEC_FUNCS, funcs),
        (SEC_ENTRY, entry),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(tag);
        varint(&mut out, payload.len() as u64);
        starts[i] = out.len();
        out.extend_from_slice(payload);
    }
    (out, starts)
}

fn body(consts: &[u8], imports: &[u8], funcs: &[u8], entry: &[u8]) -> Vec<u8> {
    layout(consts, imports, funcs, entry).0
}

/// A sealed module with these section payloads, and where each payload starts.
fn sealed(consts: &[u8], imports: &[u8], funcs: &[u8], entry: &[u8]) -> (Vec<u8>, [usize; 4]) {
    let (bytes, starts) = layout(consts, imports, funcs, entry);
    (seal(bytes), starts)
}

/// Payload start of the constants section.
const CONSTS_AT: usize = HEADER_LEN + 2;

/// Appends the checksum: BLAKE3 of every byte before it.
fn seal(mut bytes: Vec<u8>) -> Vec<u8> {
    let sum = blake3::hash(&bytes);
    bytes.extend_from_slice(&sum.as_bytes()[..CHECKSUM_LEN]);
    bytes
}

/// Decodes input that must be rejected, checking that the reported offset
/// lies within the input.
fn reject(bytes: &[u8]) -> DecodeError {
    match decode(bytes) {
        Ok(m) => panic!("accepted {} bytes as {m:?}", bytes.len()),
        Err(e) => {
            assert!(
                e.offset <= bytes.len(),
                "offset {} beyond input of {} bytes: {e}",
                e.offset,
                bytes.len()
            );
            e
        }
    }
}

fn expect_error(bytes: &[u8], kind: DecodeErrorKind, offset: usize) {
    let e = reject(bytes);
    assert_eq!((e.kind, e.offset), (kind, offset), "for input {bytes:02x?}");
}

/// The smallest well-formed function: `func main() -> int { ldi r0, 42; ret r0 }`.
fn main_returning(v: i16) -> Function {
    Function {
        name: "main".into(),
        params: 0,
        regs: vec![Type::Int],
        ret: Some(Type::Int),
        code: vec![
            Instr::LoadInt {
                d: 0,
                imm: v as u16,
            },
            Instr::Ret { a: 0 },
        ],
        lines: vec![1, 2],
    }
}

/// Modules that exercise every section and item kind.
fn samples() -> Vec<Module> {
    let tiny = Module {
        funcs: vec![main_returning(42)],
        ..Module::default()
    };
    let rich = Module {
        consts: vec![
            Const::Int(i64::MIN),
            Const::Str("héllo, \"world\"\n😀".into()),
            Const::Int(7),
            Const::Str(String::new()),
        ],
        imports: vec![
            Import {
                name: "fs.read".into(),
                version: Version::new(1, 2),
                sig: Signature {
                    params: vec![Type::Str],
                    ret: Some(Type::Str),
                },
            },
            Import {
                name: "log".into(),
                version: Version::new(300, 0),
                sig: Signature {
                    params: vec![Type::array_of(Type::array_of(Type::Bool)), Type::Int],
                    ret: None,
                },
            },
        ],
        funcs: vec![
            Function {
                name: "helper".into(),
                params: 2,
                regs: vec![Type::Int, Type::Str, Type::array_of(Type::Str), Type::Bool],
                ret: None,
                code: vec![
                    Instr::Split { d: 2, s: 1, sep: 1 },
                    Instr::JumpIfNot { c: 3, t: 3 },
                    Instr::CapUnit { c: 1, a: 0, n: 2 },
                    Instr::RetUnit {},
                ],
                lines: vec![10, 11, 200_000, 0],
            },
            main_returning(-1),
        ],
        entry: 1,
    };
    let fib = fib_module();
    vec![tiny, rich, fib, Module::default()]
}

/// `fib(20)`, a realistic module with calls and jumps.
fn fib_module() -> Module {
    let main = Function {
        name: "main".into(),
        params: 0,
        regs: vec![Type::Int, Type::Int],
        ret: Some(Type::Int),
        code: vec![
            Instr::LoadInt { d: 0, imm: 20 },
            Instr::Call {
                d: 1,
                f: 1,
                a: 0,
                n: 1,
            },
            Instr::Ret { a: 1 },
        ],
        lines: vec![1, 1, 1],
    };
    let fib = Function {
        name: "fib".into(),
        params: 1,
        regs: vec![Type::Int; 5],
        ret: Some(Type::Int),
        code: vec![
            Instr::LoadInt { d: 1, imm: 2 },
            Instr::JumpLt { a: 0, b: 1, t: 7 },
            Instr::AddImm {
                d: 2,
                a: 0,
                imm: (-1i16) as u16,
            },
            Instr::Call {
                d: 3,
                f: 1,
                a: 2,
                n: 1,
            },
            Instr::AddImm {
                d: 2,
                a: 0,
                imm: (-2i16) as u16,
            },
            Instr::Call {
                d: 4,
                f: 1,
                a: 2,
                n: 1,
            },
            Instr::Add { d: 0, a: 3, b: 4 },
            Instr::Ret { a: 0 },
        ],
        lines: vec![2, 2, 3, 3, 3, 3, 3, 2],
    };
    Module {
        funcs: vec![main, fib],
        ..Module::default()
    }
}

/// A small deterministic generator (SplitMix64), so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Applies one random edit to `bytes`: flip, overwrite, insert, delete,
/// duplicate or swap. Every edit changes the bytes.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    match rng.below(6) {
        0 if len > 0 => {
            let i = rng.below(len);
            bytes[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            let old = bytes[i];
            bytes[i] = old.wrapping_add(1 + rng.below(255) as u8);
        }
        2 if len > 0 => {
            bytes.remove(rng.below(len));
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below(8.min(len - i));
            let chunk = bytes[i..i + n].to_vec();
            bytes.splice(i..i, chunk);
        }
        4 if len > 1 => {
            // Swap two different bytes, or flip one if they are equal.
            let i = rng.below(len);
            let j = (i + 1 + rng.below(len - 1)) % len;
            if bytes[i] == bytes[j] {
                bytes[i] ^= 0x80;
            } else {
                bytes.swap(i, j);
            }
        }
        _ => {
            let i = rng.below(len + 1);
            bytes.insert(i, rng.byte());
        }
    }
}

// ---- round trips ----

#[test]
fn samples_round_trip() {
    for m in samples() {
        let bytes = encode(&m);
        assert_eq!(decode(&bytes), Ok(m.clone()));
        assert_eq!(
            encode(&decode(&bytes).unwrap()),
            bytes,
            "re-encoding is canonical"
        );
    }
}

#[test]
fn empty_module_is_magic_version_four_empty_sections_and_checksum() {
    let bytes = encode(&Module::default());
    let expected = seal(body(&[0], &[0], &[0], &[0]));
    assert_eq!(bytes, expected);
    assert_eq!(bytes.len(), HEADER_LEN + 4 * 3 + CHECKSUM_LEN);
}

mod generated {
    use super::*;
    use chronicle_core::testing::proptest_cases;
    use chronicle_core::testing::{any_module, valid_module};
    use chronicle_core::verify;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

        #[test]
        fn decode_inverts_encode(m in any_module()) {
            let bytes = encode(&m);
            prop_assert_eq!(decode(&bytes), Ok(m));
            prop_assert_eq!(encode(&decode(&bytes).unwrap()), bytes);
        }

        /// Also checks the generator: everything `valid_module` makes verifies.
        #[test]
        fn valid_modules_round_trip_and_verify(m in valid_module()) {
            let bytes = encode(&m);
            let decoded = decode(&bytes).expect("decodes");
            prop_assert_eq!(&decoded, &m);
            verify(decoded).map_err(|e| TestCaseError::fail(format!("{e}\n{m:#?}")))?;
        }

        #[test]
        fn mutated_generated_modules_are_rejected(m in any_module(), seed in any::<u64>()) {
            let mut bytes = encode(&m);
            let mut rng = Rng(seed);
            mutate(&mut rng, &mut bytes);
            reject(&bytes);
        }
    }
}

// ---- hostile input ----

#[test]
fn every_truncation_is_an_error() {
    for m in samples() {
        let bytes = encode(&m);
        for len in 0..bytes.len() {
            let e = reject(&bytes[..len]);
            if len < MAGIC.len() {
                assert_eq!((e.kind, e.offset), (DecodeErrorKind::BadMagic, 0));
            } else if len < HEADER_LEN {
                assert_eq!(
                    (e.kind, e.offset),
                    (DecodeErrorKind::Truncated, MAGIC.len())
                );
            }
        }
        assert!(decode(&bytes).is_ok());
    }
}

#[test]
fn ten_thousand_random_mutations_are_rejected() {
    let mut rng = Rng(0x5EED_C4B1);
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let mut total = 0;
    for m in samples() {
        let original = encode(&m);
        for round in 0..3_000 {
            let mut bytes = original.clone();
            // Mostly one edit; sometimes several at once.
            let edits = if round % 4 == 0 { 1 + rng.below(4) } else { 1 };
            for _ in 0..edits {
                mutate(&mut rng, &mut bytes);
            }
            if bytes == original {
                continue; // Two edits undid each other.
            }
            let e = reject(&bytes);
            let name = format!("{:?}", e.kind);
            *kinds
                .entry(name.split([' ', '(', '{']).next().unwrap_or("").to_owned())
                .or_default() += 1;
            total += 1;
        }
    }
    assert!(total >= 10_000, "only {total} mutations");
    // The decoder found structural errors as well as checksum mismatches.
    assert!(
        kinds.get("ChecksumMismatch").copied().unwrap_or(0) > 100,
        "{kinds:?}"
    );
    assert!(kinds.len() >= 5, "{kinds:?}");
}

/// With a recomputed checksum, a mutated body is either rejected for its
/// structure or decodes to a module that re-encodes to exactly those bytes:
/// the format has one encoding per module.
#[test]
fn resealed_mutations_are_rejected_or_canonical() {
    let mut rng = Rng(0xC4_0000_1CA1);
    let mut accepted = 0;
    for m in samples() {
        let encoded = encode(&m);
        let original = encoded[..encoded.len() - CHECKSUM_LEN].to_vec();
        for _ in 0..2_500 {
            let mut body = original.clone();
            mutate(&mut rng, &mut body);
            let bytes = seal(body);
            match decode(&bytes) {
                Ok(decoded) => {
                    accepted += 1;
                    assert_eq!(encode(&decoded), bytes, "accepted a non-canonical encoding");
                }
                Err(e) => assert!(e.offset <= bytes.len()),
            }
        }
    }
    // Some mutations (e.g. of an operand or a string byte) keep the structure.
    assert!(accepted > 0);
}

/// Declared counts and lengths are checked against the bytes that remain
/// before anything is allocated for them, so a tiny input claiming huge
/// tables fails at once.
#[test]
fn huge_declared_counts_fail_fast() {
    let start = Instant::now();
    // 65535 constants declared, none present.
    let mut consts = Vec::new();
    varint(&mut consts, MAX_ENTRIES as u64);
    let e = reject(&seal(body(&consts, &[0], &[0], &[0])));
    assert_eq!(e.kind, DecodeErrorKind::Truncated);

    // A section length of 2^63.
    let mut bytes = header();
    bytes.push(SEC_CONSTS);
    varint(&mut bytes, 1 << 63);
    expect_error(
        &seal(bytes),
        DecodeErrorKind::TooLarge {
            what: "section length",
            value: 1 << 63,
            max: CHECKSUM_LEN as u64,
        },
        HEADER_LEN + 1,
    );

    // A string of 2^40 bytes declared, a few present.
    let mut consts = vec![1, CONST_STR];
    varint(&mut consts, 1 << 40);
    consts.extend_from_slice(b"abc");
    let e = reject(&seal(body(&consts, &[0], &[0], &[0])));
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::Truncated, CONSTS_AT + 2)
    );

    // Thousands of functions, each claiming the most registers and
    // instructions, in ~200 KB: every claim is refused when the bytes run out.
    let mut funcs = Vec::new();
    varint(&mut funcs, MAX_ENTRIES as u64);
    for _ in 0..20_000 {
        funcs.extend_from_slice(&[0, 0]); // name "", 0 params
        varint(&mut funcs, 3); // 3 registers
        funcs.extend_from_slice(&[TY_INT, TY_INT, TY_INT, TY_UNIT]);
        varint(&mut funcs, 0); // no code
    }
    let mut last = Vec::new();
    varint(&mut last, 0);
    varint(&mut last, 0);
    varint(&mut last, MAX_ENTRIES as u64);
    funcs.extend_from_slice(&last);
    let e = reject(&seal(body(&[0], &[0], &funcs, &[0])));
    assert_eq!(e.kind, DecodeErrorKind::Truncated);

    // Debug builds decode ~1 MB in milliseconds; this bound only catches
    // quadratic or allocation-bound behaviour.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_module_at_the_format_limits_decodes() {
    // One function with the most registers and instructions the format allows.
    let f = Function {
        name: "big".into(),
        params: 0,
        regs: vec![Type::Int; MAX_ENTRIES],
        ret: None,
        code: vec![Instr::RetUnit {}; MAX_ENTRIES],
        lines: vec![u32::MAX; MAX_ENTRIES],
    };
    let m = Module {
        funcs: vec![f],
        entry: u16::MAX,
        ..Module::default()
    };
    let start = Instant::now();
    assert_eq!(decode(&encode(&m)), Ok(m));
    assert!(start.elapsed() < Duration::from_secs(5));
}

// ---- one test per error kind, with its offset ----

#[test]
fn bad_magic() {
    expect_error(b"", DecodeErrorKind::BadMagic, 0);
    expect_error(b"CHB", DecodeErrorKind::BadMagic, 0);
    let mut bytes = encode(&Module::default());
    bytes[3] = b'X';
    expect_error(&bytes, DecodeErrorKind::BadMagic, 0);
}

#[test]
fn unsupported_version() {
    let mut bytes = encode(&Module::default());
    bytes[4..6].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    expect_error(
        &bytes,
        DecodeErrorKind::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION,
        },
        MAGIC.len(),
    );
}

#[test]
fn truncated() {
    expect_error(&MAGIC, DecodeErrorKind::Truncated, MAGIC.len());
    expect_error(&header(), DecodeErrorKind::Truncated, HEADER_LEN);
    // Everything but the checksum's last byte.
    let bytes = encode(&Module::default());
    let body_len = bytes.len() - CHECKSUM_LEN;
    expect_error(
        &bytes[..bytes.len() - 1],
        DecodeErrorKind::Truncated,
        body_len,
    );
    // An instruction cut inside its operands, in a sealed file.
    let mut funcs = vec![1, 0, 0, 0, TY_UNIT, 1];
    funcs.extend_from_slice(&[0x10, 1, 0]); // `add` with one byte of its six
    let (bytes, at) = sealed(&[0], &[0], &funcs, &[0]);
    expect_error(&bytes, DecodeErrorKind::Truncated, at[2] + 9); // the `add`'s second operand
}

#[test]
fn trailing_bytes() {
    let mut bytes = encode(&Module::default());
    let len = bytes.len();
    bytes.push(0);
    expect_error(&bytes, DecodeErrorKind::TrailingBytes, len);
}

#[test]
fn bad_section() {
    // The imports section first.
    let mut bytes = header();
    section(&mut bytes, SEC_IMPORTS, &[0]);
    expect_error(
        &seal(bytes),
        DecodeErrorKind::BadSection {
            found: SEC_IMPORTS,
            expected: SEC_CONSTS,
        },
        HEADER_LEN,
    );
    // A repeated constants section where imports belong.
    let mut bytes = header();
    section(&mut bytes, SEC_CONSTS, &[0]);
    section(&mut bytes, SEC_CONSTS, &[0]);
    expect_error(
        &seal(bytes),
        DecodeErrorKind::BadSection {
            found: SEC_CONSTS,
            expected: SEC_IMPORTS,
        },
        HEADER_LEN + 3,
    );
}

#[test]
fn section_trailing() {
    // A constants section of count 0 with one extra byte.
    let bytes = seal(body(&[0, 0xAB], &[0], &[0], &[0]));
    expect_error(
        &bytes,
        DecodeErrorKind::SectionTrailing {
            section: SEC_CONSTS,
            extra: 1,
        },
        CONSTS_AT + 1,
    );
    // An entry section with two extra bytes.
    let (bytes, at) = sealed(&[0], &[0], &[0], &[0, 1, 2]);
    expect_error(
        &bytes,
        DecodeErrorKind::SectionTrailing {
            section: SEC_ENTRY,
            extra: 2,
        },
        at[3] + 1,
    );
}

#[test]
fn bad_varint() {
    let count_at = CONSTS_AT;
    // Non-minimal: zero as two bytes.
    expect_error(
        &seal(body(&[0x80, 0x00], &[0], &[0], &[0])),
        DecodeErrorKind::BadVarint,
        count_at,
    );
    // Non-minimal: one as two bytes.
    expect_error(
        &seal(body(&[0x81, 0x00], &[0], &[0], &[0])),
        DecodeErrorKind::BadVarint,
        count_at,
    );
    // Wider than 64 bits: a tenth byte above 1.
    let mut wide = vec![0xFF; 9];
    wide.push(0x02);
    expect_error(
        &seal(body(&wide, &[0], &[0], &[0])),
        DecodeErrorKind::BadVarint,
        count_at,
    );
    // Overlong: eleven bytes.
    let mut long = vec![0x80; 10];
    long.push(0x01);
    expect_error(
        &seal(body(&long, &[0], &[0], &[0])),
        DecodeErrorKind::BadVarint,
        count_at,
    );
    // A non-minimal integer constant, deeper in the section.
    expect_error(
        &seal(body(&[1, CONST_INT, 0x80, 0x00], &[0], &[0], &[0])),
        DecodeErrorKind::BadVarint,
        count_at + 2,
    );
}

#[test]
fn too_large() {
    let mut consts = Vec::new();
    varint(&mut consts, MAX_ENTRIES as u64 + 1);
    expect_error(
        &seal(body(&consts, &[0], &[0], &[0])),
        DecodeErrorKind::TooLarge {
            what: "constant count",
            value: MAX_ENTRIES as u64 + 1,
            max: MAX_ENTRIES as u64,
        },
        CONSTS_AT,
    );
    // An entry index beyond 16 bits.
    let mut entry = Vec::new();
    varint(&mut entry, 70_000);
    let (bytes, at) = sealed(&[0], &[0], &[0], &entry);
    expect_error(
        &bytes,
        DecodeErrorKind::TooLarge {
            what: "entry function",
            value: 70_000,
            max: MAX_ENTRIES as u64,
        },
        at[3],
    );
    // A line number beyond 32 bits.
    let mut funcs = vec![1, 0, 0, 0, TY_UNIT, 1, 0x44]; // `retu`
    let line_at = funcs.len();
    varint(&mut funcs, 1 << 32);
    let (bytes, at) = sealed(&[0], &[0], &funcs, &[0]);
    expect_error(
        &bytes,
        DecodeErrorKind::TooLarge {
            what: "line number",
            value: 1 << 32,
            max: u64::from(u32::MAX),
        },
        at[2] + line_at,
    );
}

#[test]
fn invalid_utf8() {
    // "a" then a lone continuation byte, in a string constant.
    let bytes = seal(body(&[1, CONST_STR, 2, b'a', 0x80], &[0], &[0], &[0]));
    expect_error(
        &bytes,
        DecodeErrorKind::InvalidUtf8 {
            what: "string constant",
        },
        CONSTS_AT + 4,
    );
    // A truncated multi-byte character in a function name.
    let (bytes, at) = sealed(&[0], &[0], &[1, 2, 0xC3, b'x', 0, 0, TY_UNIT, 0], &[0]);
    expect_error(
        &bytes,
        DecodeErrorKind::InvalidUtf8 {
            what: "function name",
        },
        at[2] + 2,
    );
}

#[test]
fn bad_tag() {
    expect_error(
        &seal(body(&[1, 3, 0], &[0], &[0], &[0])),
        DecodeErrorKind::BadTag {
            what: "constant",
            tag: 3,
        },
        CONSTS_AT + 1,
    );
    // A register of type tag 9.
    let (bytes, at) = sealed(&[0], &[0], &[1, 0, 0, 1, 9, TY_UNIT, 0], &[0]);
    expect_error(
        &bytes,
        DecodeErrorKind::BadTag {
            what: "type",
            tag: 9,
        },
        at[2] + 4,
    );
    // The unit tag where a value type is required (an import parameter).
    let (bytes, at) = sealed(&[0], &[1, 0, 1, 0, 1, TY_UNIT, TY_UNIT], &[0], &[0]);
    expect_error(
        &bytes,
        DecodeErrorKind::BadTag {
            what: "type",
            tag: TY_UNIT,
        },
        at[1] + 5,
    );
    // An array of tag 7: the offset is the bad tag's, after two array tags.
    let (bytes, at) = sealed(
        &[0],
        &[0],
        &[1, 0, 0, 1, TY_ARRAY, TY_ARRAY, 7, TY_UNIT, 0],
        &[0],
    );
    expect_error(
        &bytes,
        DecodeErrorKind::BadTag {
            what: "type",
            tag: 7,
        },
        at[2] + 6,
    );
}

#[test]
fn type_too_deep() {
    let ok = [vec![TY_ARRAY; MAX_TYPE_DEPTH], vec![TY_STR]].concat();
    let deep = [vec![TY_ARRAY; MAX_TYPE_DEPTH + 1], vec![TY_STR]].concat();
    let func = |ty: &[u8]| [&[1, 0, 0, 1][..], ty, &[TY_UNIT, 0]].concat();
    let bytes = seal(body(&[0], &[0], &func(&ok), &[0]));
    assert_eq!(
        decode(&bytes).unwrap().funcs[0].regs[0].depth(),
        MAX_TYPE_DEPTH
    );
    let (bytes, at) = sealed(&[0], &[0], &func(&deep), &[0]);
    expect_error(&bytes, DecodeErrorKind::TypeTooDeep, at[2] + 4);
    // Deep nesting in a result type is caught the same way.
    let mut deep_ret = vec![1, 0, 0, 0];
    deep_ret.extend(std::iter::repeat_n(TY_ARRAY, 10_000));
    deep_ret.push(TY_INT);
    deep_ret.push(0);
    let (bytes, at) = sealed(&[0], &[0], &deep_ret, &[0]);
    expect_error(&bytes, DecodeErrorKind::TypeTooDeep, at[2] + 4);
}

#[test]
fn bad_opcode() {
    for byte in [0x00, 0x07, 0x71, 0xFF] {
        let (bytes, at) = sealed(&[0], &[0], &[1, 0, 0, 0, TY_UNIT, 1, byte], &[0]);
        expect_error(&bytes, DecodeErrorKind::BadOpcode(byte), at[2] + 6);
    }
}

#[test]
fn checksum_mismatch() {
    let m = Module {
        consts: vec![Const::Str("abc".into())],
        ..Module::default()
    };
    let mut bytes = encode(&m);
    let body_len = bytes.len() - CHECKSUM_LEN;
    // Change the string's last byte: still valid UTF-8 and well-formed.
    assert_eq!(bytes[CONSTS_AT + 5], b'c');
    bytes[CONSTS_AT + 5] = b'd';
    expect_error(&bytes, DecodeErrorKind::ChecksumMismatch, body_len);
    // Change the checksum itself.
    let mut bytes = encode(&m);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    expect_error(&bytes, DecodeErrorKind::ChecksumMismatch, body_len);
}

#[test]
fn errors_display_kind_and_offset() {
    let e = reject(b"nope");
    assert_eq!(
        e.to_string(),
        "not a ChronicleVM module (bad magic number) at byte 0"
    );
}
