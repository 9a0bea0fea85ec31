//! Oracles: what must hold for an input, whatever it is. Each panics (a
//! fuzzing finding) with a message that says which property broke.

use crate::host::ScriptedHost;
use crate::program::Program;
use chronicle_core::caps::{Binding, Decision, Policy, Registry};
use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::trace::{self, testing::reseal, Reader, RecorderOptions, TraceHeader};
use chronicle_core::types::{Signature, Type, Version};
use chronicle_core::vm::{CapabilityError, NoHost, RuntimeError, TrapKind, Vm};
use chronicle_core::{format, verify, Limit, Limits, Value, VerifiedModule};
use std::io::Cursor;
use std::sync::OnceLock;

/// Small enough that every run of an arbitrary module ends quickly.
pub const SMALL_LIMITS: Limits = Limits {
    instructions: 10_000,
    call_depth: 64,
    registers: 1024,
    array_len: 10_000,
    string_bytes: 65_536,
    alloc_bytes: 1 << 20,
};

/// The caps every trace reader here runs under: a trace recording a limit
/// above them is refused before any event, and decoding or replaying one
/// allocates at most their `alloc_bytes` (twice that with checkpoints).
/// The CLI's default caps ([`Limits::DEFAULT`]) but for `alloc_bytes`,
/// 4 MiB instead of 256 MiB, so that an input which makes a reader copy up
/// to its cap (the seeds `cow-push-*.ctrace`) costs milliseconds, not
/// seconds, per execution. Every limit a generated [`Program`] records is
/// within them.
pub const READER_CAPS: Limits = Limits {
    alloc_bytes: 4 << 20,
    ..Limits::DEFAULT
};

/// [`trace::replay_capped_with`] under [`READER_CAPS`], ignoring the calls.
pub fn replay_capped(bytes: &[u8]) -> Result<trace::ReplayReport, trace::ReplayError> {
    trace::replay_capped_with(Cursor::new(bytes), READER_CAPS, &mut |_, _, _| {})
}

/// One run's observable behaviour.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    /// The result or the runtime error.
    pub outcome: Result<Value, RuntimeError>,
    /// Instructions executed.
    pub instructions: u64,
    /// Bytes allocated, as the `alloc_bytes` limit counts them.
    pub allocated: u64,
    /// Capability calls, in order: import and arguments.
    pub calls: Vec<(u16, Vec<Value>)>,
}

/// A finished run is a value of the entry function's result type or a
/// structured runtime error (never an internal one: that is a verifier or
/// VM bug), within the instruction and allocation limits.
pub fn check_outcome(module: &VerifiedModule, limits: Limits, run: &Run) {
    assert!(
        run.instructions <= limits.instructions,
        "{} instructions executed under a limit of {}",
        run.instructions,
        limits.instructions
    );
    assert!(
        run.allocated <= limits.alloc_bytes,
        "{} bytes allocated under a limit of {}",
        run.allocated,
        limits.alloc_bytes
    );
    let m = module.module();
    match &run.outcome {
        Ok(v) => {
            let ret = m.funcs[usize::from(m.entry)].ret.as_ref();
            assert!(v.has_type(ret), "the run returned {v:?}, not a {ret:?}");
        }
        Err(e) => assert!(
            !matches!(e.kind, TrapKind::Internal(_)),
            "verified code hit {e}"
        ),
    }
}

/// Runs a verified module without capabilities within [`SMALL_LIMITS`]
/// and checks its outcome.
pub fn run_bounded(module: &VerifiedModule) {
    let mut vm = Vm::new(module, SMALL_LIMITS, NoHost);
    let outcome = vm.run();
    let run = Run {
        outcome,
        instructions: vm.instructions_executed(),
        allocated: vm.bytes_allocated(),
        calls: Vec::new(),
    };
    check_outcome(module, SMALL_LIMITS, &run);
}

/// Runs a generated program with a fresh scripted host and checks the outcome;
/// a wrongly typed capability result must end the run with a capability error.
pub fn run_program(module: &VerifiedModule, p: &Program) -> Run {
    let mut vm = Vm::new(
        module,
        p.limits,
        ScriptedHost::new(&p.module.imports, &p.answers),
    );
    let outcome = vm.run();
    let instructions = vm.instructions_executed();
    let allocated = vm.bytes_allocated();
    let (host, _) = vm.into_parts();
    if host.gave_wrong_type {
        assert!(
            matches!(
                &outcome,
                Err(RuntimeError {
                    kind: TrapKind::Capability { .. },
                    ..
                })
            ),
            "a wrongly typed capability result did not stop the run: {outcome:?}"
        );
    }
    let run = Run {
        outcome,
        instructions,
        allocated,
        calls: host.calls,
    };
    check_outcome(module, p.limits, &run);
    run
}

/// The structure-aware VM oracle: a generated program verifies, survives
/// the binary format and the assembler unchanged, and runs to a value or a
/// structured error, the same way twice (result, instruction count and
/// capability calls).
pub fn check_program(p: &Program) {
    let asm = || chronicle_asm::print(&p.module);
    let verified = verify(p.module.clone())
        .unwrap_or_else(|e| panic!("a generated module does not verify: {e}\n{}", asm()));
    let bytes = format::encode(&p.module);
    assert_eq!(
        format::decode(&bytes).as_ref(),
        Ok(&p.module),
        "decode(encode(m)) != m"
    );
    assert_eq!(
        chronicle_asm::parse(&asm()).as_ref(),
        Ok(&p.module),
        "parse(print(m)) != m"
    );
    let first = run_program(&verified, p);
    let second = run_program(&verified, p);
    assert_eq!(
        first,
        second,
        "two runs of the same program differ\n{}",
        asm()
    );
}

/// The assembler oracle: text that parses prints back to the same module,
/// round-trips through the binary format, and, if it verifies, runs within
/// small limits to a value or a structured error.
pub fn check_asm(text: &str) {
    let Ok(module) = chronicle_asm::parse(text) else {
        return;
    };
    let printed = chronicle_asm::print(&module);
    assert_eq!(
        chronicle_asm::parse(&printed).as_ref(),
        Ok(&module),
        "parse(print(m)) != m; printed:\n{printed}"
    );
    let bytes = format::encode(&module);
    assert_eq!(
        format::decode(&bytes).as_ref(),
        Ok(&module),
        "decode(encode(m)) != m; module:\n{printed}"
    );
    if let Ok(verified) = verify(module) {
        run_bounded(&verified);
    }
}

/// The audit oracle on arbitrary bytes, read under [`READER_CAPS`]:
/// `verify` and `replay` never panic (nor exhaust memory: the fuzzer's RSS
/// limit is far above the caps), a replay that passes implies a trace that
/// verifies with the same outcome, counts and signer, and a verified trace's
/// embedded policy parses or is refused without panicking.
pub fn check_trace(bytes: &[u8]) {
    let verified = trace::verify_capped(bytes, READER_CAPS);
    let replayed = replay_capped(bytes);
    if let Ok(report) = &replayed {
        let summary = verified
            .as_ref()
            .unwrap_or_else(|e| panic!("replay passed a trace that verify refuses: {e}"));
        assert_eq!(
            report.outcome, summary.outcome,
            "replay and verify disagree on the outcome"
        );
        assert_eq!(
            report.steps, summary.steps,
            "replay and verify disagree on the steps"
        );
        assert_eq!(
            report.final_hash, summary.final_hash,
            "replay and verify disagree on the hash"
        );
        assert_eq!(
            report.signature, summary.signature,
            "replay and verify disagree on the signature"
        );
    }
    if verified.is_ok() {
        let reader = Reader::open_capped(bytes, READER_CAPS).expect("a verified trace opens");
        if let Some(text) = &reader.header().policy {
            if let Ok(policy) = Policy::parse("embedded.toml", text) {
                let _ = chronicle_core::caps::negotiate(reader.module().module(), &[], &policy);
            }
        }
    }
}

/// The audit oracle on a generated program: its recording (in chunks and
/// with compression as `options` says) matches a plain run, verifies and
/// replays with the same outcome; then the trace altered at `edits`
/// (offset, xor) and re-sealed passes [`check_trace`].
pub fn check_recording(p: &Program, options: RecorderOptions, edits: &[(u32, u8)]) {
    let verified = verify(p.module.clone()).expect("a generated module verifies");
    let plain = run_program(&verified, p);
    let mut header = TraceHeader::new(&p.module);
    header.limits = p.limits;
    header.plugin_name = "fuzz".into();
    let mut host = ScriptedHost::new(&p.module.imports, &p.answers);
    let rec =
        trace::record_with(&mut host, header, Vec::new(), options).expect("recording into memory");
    assert_eq!(
        rec.outcome, plain.outcome,
        "a recorded run differs from a plain one"
    );
    let bytes = rec.trace.writer;
    let summary = trace::verify_capped(&bytes[..], READER_CAPS)
        .unwrap_or_else(|e| panic!("a fresh recording does not verify under the caps: {e}"));
    assert_eq!(
        (summary.outcome, summary.steps),
        (rec.outcome.clone(), rec.trace.steps)
    );
    let report = replay_capped(&bytes)
        .unwrap_or_else(|e| panic!("a fresh recording does not replay under the caps: {e}"));
    assert_eq!(report.outcome, rec.outcome, "replay gives another outcome");
    assert_eq!(
        report.capability_calls,
        plain.calls.len() as u64,
        "replay answered another number of calls"
    );
    if edits.is_empty() {
        return;
    }
    let mut altered = bytes;
    for &(at, x) in edits {
        let i = at as usize % altered.len();
        altered[i] ^= x.max(1);
    }
    check_trace(&altered);
    check_trace(&reseal(&altered));
}

/// The built-in capabilities of the CLI (SPEC §5): name, signature, scoped.
fn builtins() -> Vec<(&'static str, Signature, bool)> {
    let sig = |params: &[Type], ret: Option<Type>| Signature {
        params: params.to_vec(),
        ret,
    };
    let (s, i) = (Type::Str, Type::Int);
    vec![
        ("fs.read", sig(&[s.clone()], Some(s.clone())), true),
        (
            "fs.list",
            sig(&[s.clone()], Some(Type::array_of(s.clone()))),
            true,
        ),
        ("clock.now", sig(&[], Some(i.clone())), false),
        (
            "random.int",
            sig(&[i.clone(), i.clone()], Some(i.clone())),
            false,
        ),
        ("env.get", sig(&[s.clone()], Some(s.clone())), false),
        ("log.write", sig(&[s.clone(), s.clone()], None), false),
        ("kv.get", sig(&[s.clone()], Some(s.clone())), false),
        ("kv.put", sig(&[s.clone(), s.clone()], None), false),
    ]
}

/// One fixed module per built-in capability: `main` calls it twice with
/// fixed arguments (strings `"data/app.log"`, ints 1 and 6) and returns the
/// second result.
fn policy_modules() -> &'static [VerifiedModule] {
    static MODULES: OnceLock<Vec<VerifiedModule>> = OnceLock::new();
    MODULES.get_or_init(|| {
        builtins()
            .into_iter()
            .map(|(name, sig, _)| {
                let mut regs = sig.params.clone();
                let mut code = Vec::new();
                for (r, t) in sig.params.iter().enumerate() {
                    let d = r as u16;
                    code.push(match t {
                        Type::Int => Instr::LoadInt {
                            d,
                            imm: [1, 6][r % 2],
                        },
                        _ => Instr::LoadStr { d, k: 0 },
                    });
                }
                let n = sig.params.len() as u16;
                match &sig.ret {
                    Some(t) => {
                        regs.push(t.clone());
                        let d = n;
                        code.push(Instr::Cap { d, c: 0, a: 0, n });
                        code.push(Instr::Cap { d, c: 0, a: 0, n });
                        code.push(if t.is_ref() {
                            Instr::RetRef { a: d }
                        } else {
                            Instr::Ret { a: d }
                        });
                    }
                    None => {
                        code.push(Instr::CapUnit { c: 0, a: 0, n });
                        code.push(Instr::CapUnit { c: 0, a: 0, n });
                        code.push(Instr::RetUnit {});
                    }
                }
                let main = Function {
                    name: "main".into(),
                    params: 0,
                    regs,
                    ret: sig.ret.clone(),
                    lines: vec![1; code.len()],
                    code,
                };
                let import = Import {
                    name: name.into(),
                    version: Version::new(1, 0),
                    sig,
                };
                let module = Module {
                    consts: vec![Const::Str("data/app.log".into())],
                    imports: vec![import],
                    funcs: vec![main],
                    entry: 0,
                };
                verify(module).expect("a fixed policy module verifies")
            })
            .collect()
    })
}

/// The policy oracle: parsing never panics, an error points inside the
/// text, and an accepted policy's limits and rules read back consistently;
/// then each built-in capability's fixed module is negotiated against it
/// and, if that succeeds, run through the session: a value of the right
/// type (a mock's value, for a mock), or a structured error.
pub fn check_policy(text: &str) {
    let lines = text.split('\n').count() as u32;
    let policy = match Policy::parse("fuzz.toml", text) {
        Ok(p) => p,
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= lines,
                "error line {} outside the text: {e}",
                e.line
            );
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(policy.text(), text);
    let limits = policy.limits();
    for l in Limit::ALL {
        assert_eq!(
            limits.get(l),
            policy.limit(l).unwrap_or(Limits::DEFAULT.get(l)),
            "limit {l}"
        );
    }
    for rule in policy.rules() {
        assert_eq!(
            policy.rule(rule.key()),
            Some(rule),
            "rule {} is not found by its key",
            rule.key()
        );
        assert!(
            rule.line() >= 1 && rule.line() <= lines,
            "rule {} on line {}",
            rule.key(),
            rule.line()
        );
        if rule.max_bytes().is_some() {
            let e = policy.max_bytes_error(rule, "checked".into());
            assert!(
                e.line >= 1 && e.line <= lines,
                "max_bytes of {} on line {}",
                rule.key(),
                e.line
            );
        }
        if let Some(scope) = rule.scope() {
            let _ = scope.to_string();
            for path in ["data/app.log", "/etc/passwd", "a/b/c", "", "."] {
                let _ = scope.allows(path);
            }
        }
    }
    let mut registry = Registry::new();
    for (name, sig, scoped) in builtins() {
        let ret = sig.ret.clone();
        let answer = move || {
            Ok(crate::host::value_of(
                ret.as_ref(),
                &mut crate::host::Rng(7),
            ))
        };
        if scoped {
            registry.register_scoped(name, Version::new(1, 0), sig, move |scope, args| {
                let path = args.first().and_then(Value::as_str).unwrap_or_default();
                if scope.allows(path) {
                    answer()
                } else {
                    Err(CapabilityError::new("out of scope"))
                }
            });
        } else {
            registry.register(name, Version::new(1, 0), sig, move |_| answer());
        }
    }
    for module in policy_modules() {
        let import = &module.module().imports[0];
        let mut session = match registry.negotiate(module, &policy) {
            Ok(s) => s,
            Err(e) => {
                assert!(
                    !e.problems().is_empty(),
                    "a failed negotiation without a problem"
                );
                let _ = e.to_string();
                continue;
            }
        };
        let rule = policy.rule(&import.key());
        let entry = session.negotiation().entries()[0].clone();
        assert_eq!(
            Some(entry.decision),
            rule.map(|r| r.decision()),
            "{} negotiated without its rule",
            import.key()
        );
        let _ = session.negotiation().table_with(|e| e.scope_text());
        let outcome = session.run(limits);
        match (&outcome, &entry.binding) {
            (Ok(v), Binding::Mock { values }) => {
                assert!(
                    values.contains(v),
                    "mock {} returned {v:?}, not one of {values:?}",
                    import.key()
                )
            }
            (Ok(v), _) => assert!(
                v.has_type(import.sig.ret.as_ref()),
                "{} returned {v:?}",
                import.key()
            ),
            (Err(e), _) => {
                assert!(
                    !matches!(e.kind, TrapKind::Internal(_)),
                    "{}: {e}",
                    import.key()
                );
                assert!(
                    entry.decision != Decision::Mock
                        || !matches!(e.kind, TrapKind::Capability { .. }),
                    "a mock of {} failed: {e}",
                    import.key()
                );
            }
        }
    }
}

/// Reads a program and what to do with its recording from fuzzer bytes.
pub fn recording_input(
    data: &[u8],
) -> arbitrary::Result<(Program, RecorderOptions, Vec<(u32, u8)>)> {
    use arbitrary::{Arbitrary, Unstructured};
    let mut u = Unstructured::new(data);
    let p = Program::arbitrary(&mut u)?;
    let options = RecorderOptions {
        chunk_size: if u.ratio(1, 2)? {
            trace::MAX_CHUNK
        } else {
            u.int_in_range(1..=512)?
        },
        compress: u.arbitrary()?,
    };
    let edits: Vec<(u32, u8)> = u
        .arbitrary_take_rest_iter()?
        .take(4)
        .collect::<arbitrary::Result<_>>()?;
    Ok((p, options, edits))
}
