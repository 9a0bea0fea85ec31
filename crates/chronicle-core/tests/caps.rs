//! Capabilities, policies and negotiation, through the public SDK: every
//! negotiation outcome with its exact message, sessions (grants, mocks,
//! optional imports), a counted proof that nothing runs when negotiation
//! fails, and a property: a run with only mocked capabilities is deterministic.

use chronicle_core::caps::{negotiate, Offer, Policy, Registry};
use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::testing::proptest_cases;
use chronicle_core::testing::valid_module;
use chronicle_core::types::{Signature, Type, Version};
use chronicle_core::vm::{CapabilityError, FrameView, Observer, RuntimeError, TrapKind};
use chronicle_core::{verify, Limits, Value};
use proptest::prelude::*;
use std::cell::Cell;
use std::rc::Rc;

// ---- a compact notation for imports and offers: `name@1.0 (str, int) -> [str]` ----

fn parse_type(s: &str) -> Type {
    match s.trim() {
        "int" => Type::Int,
        "bool" => Type::Bool,
        "str" => Type::Str,
        t if t.starts_with('[') && t.ends_with(']') => {
            Type::array_of(parse_type(&t[1..t.len() - 1]))
        }
        t => panic!("bad type {t:?}"),
    }
}

/// `name@major.minor (params) [-> ret]`
fn parse_cap(s: &str) -> (String, Version, Signature) {
    let (head, rest) = s.split_once(' ').expect("name@version (sig)");
    let (name, version) = head.split_once('@').expect("name@version");
    let (major, minor) = version.split_once('.').expect("major.minor");
    let (params, ret) = match rest.split_once("->") {
        Some((p, r)) => (p, Some(parse_type(r))),
        None => (rest, None),
    };
    let params = params.trim().trim_start_matches('(').trim_end_matches(')');
    let params = params
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(parse_type)
        .collect();
    (
        name.to_owned(),
        Version::new(major.parse().unwrap(), minor.parse().unwrap()),
        Signature { params, ret },
    )
}

fn import(s: &str) -> Import {
    let (name, version, sig) = parse_cap(s);
    Import { name, version, sig }
}

/// The host of the negotiation table: like the CLI's, plus a second major of `fs.read`.
fn host_offers() -> Vec<Offer> {
    [
        ("fs.read@1.0 (str) -> str", true),
        ("fs.read@2.1 (str) -> str", true),
        ("fs.list@1.0 (str) -> [str]", true),
        ("clock.now@1.0 () -> int", false),
        ("random.int@1.2 (int, int) -> int", false),
        ("log.write@1.0 (str, str)", false),
    ]
    .into_iter()
    .map(|(s, scoped)| {
        let (name, version, sig) = parse_cap(s);
        Offer {
            scoped,
            ..Offer::new(name, version, sig)
        }
    })
    .collect()
}

/// The negotiation table, or the error's text.
fn check(imports: &[&str], policy: &str) -> String {
    let module = Module {
        imports: imports.iter().map(|s| import(s)).collect(),
        ..Module::default()
    };
    let policy = Policy::parse("p.toml", policy).expect("the case's policy parses");
    match negotiate(&module, &host_offers(), &policy) {
        Ok(table) => table.to_string(),
        Err(e) => e.to_string(),
    }
}

const GRANTS: &str = r#"
[capabilities."fs.read@1"]
decision = "grant"
paths = ["data/**", "*.toml"]

[capabilities."clock.now@1"]
decision = "mock"
returns = [1700000000, 1700000042]

[capabilities."random.int@1"]
decision = "grant"

[capabilities."log.write@1"]
decision = "mock"

[capabilities."fs.list@1"]
decision = "grant"

[capabilities."kv.get@1"]
decision = "deny"
optional = true

[capabilities."net.get@1"]
decision = "grant"
optional = true

[capabilities."weather.now@1"]
decision = "mock"
returns = [["sunny", "21C"]]
"#;

/// (what, imports, policy, expected table or error)
const CASES: &[(&str, &[&str], &str, &str)] = &[
    (
        "every decision, scope and optional outcome",
        &[
            "fs.read@1.0 (str) -> str",
            "clock.now@1.0 () -> int",
            "random.int@1.1 (int, int) -> int",
            "log.write@1.0 (str, str)",
            "fs.list@1.0 (str) -> [str]",
            "kv.get@1.0 (str) -> str",
            "net.get@1.0 (str) -> str",
            "weather.now@1.0 () -> [str]",
        ],
        GRANTS,
        "\
import                            offered  decision  scope
fs.read@1.0 (str) -> str          1.0      grant     paths data/**, *.toml
clock.now@1.0 () -> int           1.0      mock      returns 1700000000, 1700000042 (the last repeats)
random.int@1.1 (int, int) -> int  1.2      grant     -
log.write@1.0 (str, str)          1.0      mock      returns nothing
fs.list@1.0 (str) -> [str]        1.0      grant     no paths: every path is refused
kv.get@1.0 (str) -> str           -        deny      unavailable: denied by the policy (p.toml:19; optional)
net.get@1.0 (str) -> str          -        grant     unavailable: the host does not offer it (optional)
weather.now@1.0 () -> [str]       -        mock      returns [\"sunny\", \"21C\"]
",
    ),
    ("no imports", &[], "", "no capabilities imported\n"),
    (
        "denied by default: the policy does not name it",
        &["env.get@1.0 (str) -> str"],
        GRANTS,
        "capability negotiation failed: 1 problem\n  capability env.get@1.0: denied: the policy does not name env.get@1 (deny by default)",
    ),
    (
        "denied by default: the policy names another major",
        &["clock.now@2.0 () -> int"],
        GRANTS,
        "capability negotiation failed: 1 problem\n  capability clock.now@2.0: denied: the policy does not name clock.now@2 (deny by default)",
    ),
    (
        "denied explicitly",
        &["fs.read@1.0 (str) -> str"],
        "\n[capabilities.\"fs.read@1\"]\ndecision = \"deny\"\n",
        "capability negotiation failed: 1 problem\n  capability fs.read@1.0: denied by the policy (p.toml:2)",
    ),
    (
        "missing: the host offers no such capability",
        &["net.get@1.0 (str) -> str"],
        "[capabilities.\"net.get@1\"]\ndecision = \"grant\"\n",
        "capability negotiation failed: 1 problem\n  capability net.get@1.0: missing: the host offers no capability named net.get",
    ),
    (
        "major mismatch: the host offers other majors only",
        &["fs.read@3.0 (str) -> str"],
        "[capabilities.\"fs.read@3\"]\ndecision = \"grant\"\n",
        "capability negotiation failed: 1 problem\n  capability fs.read@3.0: major version mismatch: the host offers fs.read@1.0, fs.read@2.1",
    ),
    (
        "minor too old",
        &["random.int@1.3 (int, int) -> int"],
        GRANTS,
        "capability negotiation failed: 1 problem\n  capability random.int@1.3: minor version too old: the host offers random.int@1.2, older than the random.int@1.3 requested",
    ),
    (
        "the policy key ignores the minor; the newest minor of the major serves",
        &["fs.read@2.1 (str) -> str"],
        "[capabilities.\"fs.read@2\"]\ndecision = \"grant\"\npaths = [\"**\"]\n",
        "import                    offered  decision  scope\nfs.read@2.1 (str) -> str  2.1      grant     paths **\n",
    ),
    (
        "signature mismatch shows both signatures",
        &["fs.read@1.0 (str) -> [str]"],
        GRANTS,
        "capability negotiation failed: 1 problem\n  capability fs.read@1.0: signature mismatch: the plugin expects (str) -> [str], the host offers (str) -> str",
    ),
    (
        "a version and a signature problem on one import: both reported",
        &["random.int@1.5 (int) -> int"],
        GRANTS,
        "capability negotiation failed: 2 problems\n  capability random.int@1.5: minor version too old: the host offers random.int@1.2, older than the random.int@1.5 requested\n  capability random.int@1.5: signature mismatch: the plugin expects (int) -> int, the host offers (int, int) -> int",
    ),
    (
        "a mock of an offered capability still follows its signature",
        &["clock.now@1.0 () -> str"],
        "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = \"noon\"\n",
        "capability negotiation failed: 1 problem\n  capability clock.now@1.0: signature mismatch: the plugin expects () -> str, the host offers () -> int",
    ),
    (
        "a mock value of the wrong type: file, line and key",
        &["clock.now@1.0 () -> int"],
        "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [1, \"two\"]\n",
        "capability negotiation failed: 1 problem\n  capability clock.now@1.0: p.toml:3:15: capabilities.\"clock.now@1\".returns[1]: expected int, found a string",
    ),
    (
        "a mock without returns",
        &["clock.now@1.0 () -> int"],
        "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\n",
        "capability negotiation failed: 1 problem\n  capability clock.now@1.0: p.toml:1:15: capabilities.\"clock.now@1\": a mock needs `returns`: a sequence of int results",
    ),
    (
        "paths for a capability that takes no scope",
        &["random.int@1.0 (int, int) -> int"],
        "[capabilities.\"random.int@1\"]\ndecision = \"grant\"\npaths = [\"**\"]\n",
        "capability negotiation failed: 1 problem\n  capability random.int@1.0: p.toml:3:1: capabilities.\"random.int@1\".paths: random.int@1.0 takes no path scope: remove `paths`",
    ),
    (
        "optional does not excuse a signature mismatch",
        &["log.write@1.0 (str)"],
        "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\noptional = true\n",
        "capability negotiation failed: 1 problem\n  capability log.write@1.0: signature mismatch: the plugin expects (str), the host offers (str, str)",
    ),
    (
        "every problem of every import, in import order",
        &[
            "env.get@1.0 (str) -> str",
            "fs.read@1.0 (str) -> str",
            "net.get@1.0 (str) -> str",
            "fs.read@4.0 (str) -> str",
            "clock.now@1.9 () -> int",
        ],
        "[capabilities.\"net.get@1\"]\ndecision = \"grant\"\n[capabilities.\"fs.read@1\"]\ndecision = \"deny\"\n[capabilities.\"fs.read@4\"]\ndecision = \"grant\"\n[capabilities.\"clock.now@1\"]\ndecision = \"grant\"\n",
        "capability negotiation failed: 5 problems\n  \
         capability env.get@1.0: denied: the policy does not name env.get@1 (deny by default)\n  \
         capability fs.read@1.0: denied by the policy (p.toml:3)\n  \
         capability net.get@1.0: missing: the host offers no capability named net.get\n  \
         capability fs.read@4.0: major version mismatch: the host offers fs.read@1.0, fs.read@2.1\n  \
         capability clock.now@1.9: minor version too old: the host offers clock.now@1.0, older than the clock.now@1.9 requested",
    ),
];

#[test]
fn every_negotiation_outcome_has_its_exact_message() {
    let mut failures = Vec::new();
    for (what, imports, policy, want) in CASES {
        let got = check(imports, policy);
        if got != *want {
            failures.push(format!("{what}:\n--- got\n{got}\n--- want\n{want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---- sessions ----

/// `main() -> [int]`: calls import 0 (`() -> int`) `n` times and returns the results.
fn collect_calls(n: u16) -> Module {
    let mut code = Vec::new();
    for i in 0..n {
        code.push(Instr::Cap {
            d: i,
            c: 0,
            a: 0,
            n: 0,
        });
    }
    code.push(Instr::ArrayInt { d: n, a: 0, n });
    code.push(Instr::RetRef { a: n });
    let mut regs = vec![Type::Int; usize::from(n)];
    regs.push(Type::array_of(Type::Int));
    Module {
        imports: vec![import("clock.now@1.0 () -> int")],
        funcs: vec![Function {
            name: "main".into(),
            params: 0,
            regs,
            ret: Some(Type::array_of(Type::Int)),
            lines: (1..=code.len() as u32).collect(),
            code,
        }],
        ..Module::default()
    }
}

#[test]
fn mocks_return_the_policy_values_in_order_the_last_repeating_without_a_host_call() {
    let module = verify(collect_calls(5)).unwrap();
    let host_calls = Cell::new(0);
    let mut host = Registry::new();
    host.register(
        "clock.now",
        Version::new(1, 0),
        Signature {
            params: vec![],
            ret: Some(Type::Int),
        },
        |_| {
            host_calls.set(host_calls.get() + 1);
            Ok(Value::Int(-1))
        },
    );
    let policy = Policy::parse(
        "p.toml",
        "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [7, 8, 9]\n",
    )
    .unwrap();
    let mut session = host.negotiate(&module, &policy).unwrap();
    let first = session.run(Limits::DEFAULT).unwrap();
    assert_eq!(first.to_string(), "[7, 8, 9, 9, 9]");
    // Each run starts the sequence afresh.
    assert_eq!(session.run(Limits::DEFAULT).unwrap(), first);
    drop(session);
    assert_eq!(host_calls.get(), 0, "a mock never calls the host");

    // The same module, granted: the host is called, once per call.
    let grant = Policy::parse(
        "p.toml",
        "[capabilities.\"clock.now@1\"]\ndecision = \"grant\"\n",
    )
    .unwrap();
    let result = host
        .negotiate(&module, &grant)
        .unwrap()
        .run(Limits::DEFAULT);
    assert_eq!(result.unwrap().to_string(), "[-1, -1, -1, -1, -1]");
    assert_eq!(host_calls.get(), 5);
}

/// Counts what an observer sees.
#[derive(Clone, Default)]
struct Counting {
    enters: Rc<Cell<u64>>,
    steps: Rc<Cell<u64>>,
    caps: Rc<Cell<u64>>,
}

impl Observer for Counting {
    fn enter(&mut self, _func: u16, _frame: FrameView<'_>) {
        self.enters.set(self.enters.get() + 1);
    }
    fn step(&mut self, _func: u16, _pc: u16, _instr: Instr, _frame: FrameView<'_>) {
        self.steps.set(self.steps.get() + 1);
    }
    fn capability(
        &mut self,
        _import: u16,
        _args: &[Value],
        _outcome: Result<&Value, &CapabilityError>,
    ) {
        self.caps.set(self.caps.get() + 1);
    }
}

/// A plugin whose very first instruction calls `log.write`, then `env.get`.
fn logs_first() -> Module {
    Module {
        consts: vec![Const::Str("info".into()), Const::Str("HOME".into())],
        imports: vec![
            import("log.write@1.0 (str, str)"),
            import("env.get@1.0 (str) -> str"),
        ],
        funcs: vec![Function {
            name: "main".into(),
            params: 0,
            regs: vec![Type::Str, Type::Str, Type::Str],
            ret: Some(Type::Str),
            code: vec![
                Instr::CapUnit { c: 0, a: 0, n: 2 },
                Instr::LoadStr { d: 0, k: 0 },
                Instr::LoadStr { d: 1, k: 1 },
                Instr::Cap {
                    d: 2,
                    c: 1,
                    a: 1,
                    n: 1,
                },
                Instr::RetRef { a: 2 },
            ],
            lines: vec![1, 2, 2, 2, 3],
        }],
        ..Module::default()
    }
}

/// Negotiates, then (only if that succeeds) runs under a counting observer:
/// the path every embedder takes.
fn negotiate_and_run(
    host: &mut Registry<'_>,
    module: &chronicle_core::VerifiedModule,
    policy: &Policy,
    observer: Counting,
) -> Result<(Value, u64), String> {
    let mut session = host.negotiate(module, policy).map_err(|e| e.to_string())?;
    let mut vm = session.vm(Limits::DEFAULT, observer);
    let value = vm.run().map_err(|e| e.to_string())?;
    Ok((value, vm.instructions_executed()))
}

#[test]
fn no_plugin_instruction_runs_when_negotiation_fails_counted() {
    let module = verify(logs_first()).unwrap();
    let logged = Cell::new(0);
    let env_reads = Cell::new(0);
    let mut host = Registry::new();
    host.register(
        "log.write",
        Version::new(1, 0),
        Signature {
            params: vec![Type::Str, Type::Str],
            ret: None,
        },
        |_| {
            logged.set(logged.get() + 1);
            Ok(Value::Unit)
        },
    );
    host.register(
        "env.get",
        Version::new(1, 0),
        Signature {
            params: vec![Type::Str],
            ret: Some(Type::Str),
        },
        |_| {
            env_reads.set(env_reads.get() + 1);
            Ok(Value::str("/home/me"))
        },
    );
    let observer = Counting::default();

    // log.write is granted, env.get is not named: negotiation fails...
    let partial = Policy::parse(
        "p.toml",
        "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\n",
    )
    .unwrap();
    let err = negotiate_and_run(&mut host, &module, &partial, observer.clone()).unwrap_err();
    assert!(err.contains("capability env.get@1.0: denied"), "{err}");
    // ...and nothing ran: no frame entered, no instruction stepped, no capability called.
    assert_eq!(observer.enters.get(), 0);
    assert_eq!(observer.steps.get(), 0);
    assert_eq!(observer.caps.get(), 0);
    assert_eq!((logged.get(), env_reads.get()), (0, 0));

    // The control: with both granted, the same harness counts the run.
    let full = Policy::parse(
        "p.toml",
        "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\n[capabilities.\"env.get@1\"]\ndecision = \"grant\"\n",
    )
    .unwrap();
    let (value, executed) = negotiate_and_run(&mut host, &module, &full, observer.clone()).unwrap();
    assert_eq!(value, Value::str("/home/me"));
    assert_eq!((executed, observer.steps.get()), (5, 5));
    assert_eq!(observer.caps.get(), 2);
    assert_eq!((logged.get(), env_reads.get()), (1, 1));
}

#[test]
fn an_optional_unavailable_capability_fails_when_called_with_its_line() {
    let module = verify(logs_first()).unwrap();
    let mut host = Registry::new();
    let policy = Policy::parse(
        "p.toml",
        "[capabilities.\"log.write@1\"]\ndecision = \"mock\"\n\n[capabilities.\"env.get@1\"]\ndecision = \"deny\"\noptional = true\n",
    )
    .unwrap();
    let err: RuntimeError = host
        .negotiate(&module, &policy)
        .unwrap()
        .run(Limits::DEFAULT)
        .unwrap_err();
    assert_eq!(
        err.kind,
        TrapKind::Capability {
            name: "env.get@1.0".into(),
            reason: "denied by the policy (p.toml:4; optional)".into()
        }
    );
    assert_eq!(err.line, 2);
    assert_eq!(
        err.to_string(),
        "capability error: env.get@1.0: denied by the policy (p.toml:4; optional) at line 2 (in `main`, pc 3)"
    );
}

#[test]
fn a_host_error_and_a_wrongly_typed_host_result_are_capability_errors() {
    let module = verify(collect_calls(1)).unwrap();
    let policy = Policy::parse(
        "p.toml",
        "[capabilities.\"clock.now@1\"]\ndecision = \"grant\"\n",
    )
    .unwrap();
    let sig = Signature {
        params: vec![],
        ret: Some(Type::Int),
    };
    let mut failing = Registry::new();
    failing.register("clock.now", Version::new(1, 0), sig.clone(), |_| {
        Err(CapabilityError::new("the clock is broken"))
    });
    let err = failing
        .negotiate(&module, &policy)
        .unwrap()
        .run(Limits::DEFAULT)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "capability error: clock.now@1.0: the clock is broken at line 1 (in `main`, pc 0)"
    );
    let mut lying = Registry::new();
    lying.register("clock.now", Version::new(1, 0), sig, |_| {
        Ok(Value::str("noon"))
    });
    let err = lying
        .negotiate(&module, &policy)
        .unwrap()
        .run(Limits::DEFAULT)
        .unwrap_err();
    assert_eq!(err.kind.name(), "capability error");
    assert!(
        err.to_string().contains("wrong type (expected int)"),
        "{err}"
    );
}

#[test]
fn a_scoped_capability_receives_the_policy_scope() {
    let module = Module {
        consts: vec![
            Const::Str("data/a.txt".into()),
            Const::Str("etc/passwd".into()),
        ],
        imports: vec![import("fs.read@1.0 (str) -> str")],
        funcs: vec![Function {
            name: "main".into(),
            params: 0,
            regs: vec![Type::Str, Type::Str, Type::Str],
            ret: Some(Type::Str),
            code: vec![
                Instr::LoadStr { d: 0, k: 0 },
                Instr::Cap {
                    d: 1,
                    c: 0,
                    a: 0,
                    n: 1,
                },
                Instr::LoadStr { d: 0, k: 1 },
                Instr::Cap {
                    d: 2,
                    c: 0,
                    a: 0,
                    n: 1,
                },
                Instr::RetRef { a: 2 },
            ],
            lines: vec![1, 1, 2, 2, 3],
        }],
        ..Module::default()
    };
    let module = verify(module).unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    let mut host = Registry::new();
    host.register_scoped(
        "fs.read",
        Version::new(1, 0),
        Signature {
            params: vec![Type::Str],
            ret: Some(Type::Str),
        },
        |scope, args| {
            let path = args[0].as_str().unwrap_or_default().to_owned();
            seen.borrow_mut().push(path.clone());
            if scope.allows(&path) {
                Ok(Value::str("contents"))
            } else {
                Err(CapabilityError::new(format!(
                    "path {path:?} is outside the granted scope"
                )))
            }
        },
    );
    let policy = Policy::parse(
        "p.toml",
        "[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = [\"data/**\"]\n",
    )
    .unwrap();
    let err = host
        .negotiate(&module, &policy)
        .unwrap()
        .run(Limits::DEFAULT)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "capability error: fs.read@1.0: path \"etc/passwd\" is outside the granted scope at line 2 (in `main`, pc 3)"
    );
    assert_eq!(*seen.borrow(), ["data/a.txt", "etc/passwd"]);
}

// ---- determinism of mocked runs ----

/// Records everything a run shows an observer.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Observer for Recorder {
    fn enter(&mut self, func: u16, frame: FrameView<'_>) {
        let regs: Vec<_> = (0..frame.len() as u16).map(|r| frame.get(r)).collect();
        self.0.push(format!("enter {func} {regs:?}"));
    }
    fn step(&mut self, func: u16, pc: u16, instr: Instr, frame: FrameView<'_>) {
        let regs: Vec<_> = (0..frame.len() as u16).map(|r| frame.get(r)).collect();
        self.0.push(format!("step {func}:{pc} {instr:?} {regs:?}"));
    }
    fn exit(&mut self, func: u16, value: &Value) {
        self.0.push(format!("exit {func} {value:?}"));
    }
    fn capability(
        &mut self,
        import: u16,
        args: &[Value],
        outcome: Result<&Value, &CapabilityError>,
    ) {
        self.0.push(format!("cap {import} {args:?} {outcome:?}"));
    }
    fn trap(&mut self, error: &RuntimeError) {
        self.0.push(format!("trap {error}"));
    }
}

/// A value of type `ty`, small.
fn value_of(ty: &Type) -> BoxedStrategy<Value> {
    match ty {
        Type::Int => any::<i64>().prop_map(Value::Int).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Str => "[a-z\"\\\\\\n é]{0,6}".prop_map(Value::str).boxed(),
        Type::Array(elem) => {
            let ty = ty.clone();
            proptest::collection::vec(value_of(elem), 0..3)
                .prop_map(move |items| Value::array(items).normalized(Some(&ty)).expect("typed"))
                .boxed()
        }
    }
}

/// `v` as a TOML literal.
fn toml_literal(v: &Value) -> String {
    match v {
        Value::Str(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|v| toml_literal(&v)).collect();
            format!("[{}]", items.join(", "))
        }
        v => v.to_string(),
    }
}

/// One mocked sequence of 1..4 values per import, as policy text; imports
/// that share a policy key take the first one's sequence.
fn with_mock_policy(m: Module) -> BoxedStrategy<(Module, String)> {
    let seqs: Vec<BoxedStrategy<Vec<Value>>> = m
        .imports
        .iter()
        .map(|imp| match &imp.sig.ret {
            Some(t) => proptest::collection::vec(value_of(t), 1..4).boxed(),
            None => Just(Vec::new()).boxed(),
        })
        .collect();
    (Just(m), seqs)
        .prop_map(|(m, seqs)| {
            let mut policy = String::new();
            let mut named = std::collections::BTreeSet::new();
            for (imp, seq) in m.imports.iter().zip(&seqs) {
                if !named.insert(imp.key()) {
                    continue;
                }
                policy.push_str(&format!(
                    "[capabilities.\"{}\"]\ndecision = \"mock\"\n",
                    imp.key()
                ));
                if !seq.is_empty() {
                    let items: Vec<String> = seq.iter().map(toml_literal).collect();
                    policy.push_str(&format!("returns = [{}]\n", items.join(", ")));
                }
            }
            (m, policy)
        })
        .boxed()
}

/// A plugin that calls each of its imports (`() -> T`) in a loop and folds
/// the results into its int result (ints added, lengths of strings and
/// arrays added), so every mocked value flows into the outcome.
fn calling_loop(rets: Vec<Type>, iterations: u16) -> Module {
    let n = rets.len() as u16;
    // r0 acc, r1 i, r2 iterations, r3 tmp, r4.. one result register per import
    let mut regs = vec![Type::Int; 4];
    regs.extend(rets.iter().cloned());
    let mut code = vec![
        Instr::LoadInt { d: 0, imm: 0 },
        Instr::LoadInt { d: 1, imm: 0 },
        Instr::LoadInt {
            d: 2,
            imm: iterations,
        },
    ];
    let top = code.len() as u16;
    code.push(Instr::JumpGe { a: 1, b: 2, t: 0 }); // patched below
    for (i, ret) in rets.iter().enumerate() {
        let (c, d) = (i as u16, 4 + i as u16);
        code.push(Instr::Cap { d, c, a: 0, n: 0 });
        match ret {
            Type::Int => code.push(Instr::Add { d: 0, a: 0, b: d }),
            Type::Bool => {}
            Type::Str => {
                code.push(Instr::StrLen { d: 3, a: d });
                code.push(Instr::Add { d: 0, a: 0, b: 3 });
            }
            Type::Array(_) => {
                code.push(Instr::ArrayLen { d: 3, a: d });
                code.push(Instr::Add { d: 0, a: 0, b: 3 });
            }
        }
    }
    code.push(Instr::AddImm { d: 1, a: 1, imm: 1 });
    code.push(Instr::Jump { t: top });
    let end = code.len() as u16;
    code[usize::from(top)] = Instr::JumpGe { a: 1, b: 2, t: end };
    code.push(Instr::Ret { a: 0 });
    let imports = rets
        .into_iter()
        .enumerate()
        .map(|(i, ret)| Import {
            name: format!("m{i}.get"),
            version: Version::new(1, 0),
            sig: Signature {
                params: vec![],
                ret: Some(ret),
            },
        })
        .collect();
    debug_assert!(n <= 8);
    Module {
        imports,
        funcs: vec![Function {
            name: "main".into(),
            params: 0,
            regs,
            ret: Some(Type::Int),
            lines: (1..=code.len() as u32).collect(),
            code,
        }],
        ..Module::default()
    }
}

fn any_result_type() -> impl Strategy<Value = Type> {
    prop_oneof![
        Just(Type::Int),
        Just(Type::Bool),
        Just(Type::Str),
        Just(Type::array_of(Type::Int)),
        Just(Type::array_of(Type::Str)),
        Just(Type::array_of(Type::array_of(Type::Bool))),
    ]
}

/// Modules whose every import is mocked: the generated valid modules (any
/// shape, few capability calls) and loops that call every import many times.
fn mocked_module() -> impl Strategy<Value = (Module, String)> {
    let loops = (proptest::collection::vec(any_result_type(), 1..5), 0u16..40)
        .prop_map(|(rets, iterations)| calling_loop(rets, iterations));
    prop_oneof![valid_module(), loops].prop_flat_map(with_mock_policy)
}

/// Small bounds, so that every generated run ends quickly.
const SMALL: Limits = Limits {
    instructions: 5_000,
    call_depth: 32,
    registers: 512,
    array_len: 1_000,
    string_bytes: 4_096,
    alloc_bytes: 65_536,
};

/// What a run shows: its result, instruction count and observed events.
type Observed = (Result<Value, RuntimeError>, u64, Vec<String>);

/// One complete embedding run from scratch: registry, negotiation, VM.
/// Every import is also offered by a host function that counts its calls;
/// returns the run (or the negotiation error) and that count.
fn mocked_run(
    module: &chronicle_core::VerifiedModule,
    policy: &Policy,
) -> (Result<Observed, String>, u32) {
    let host_calls = Cell::new(0);
    let mut host = Registry::new();
    for imp in &module.module().imports {
        host.register(imp.name.clone(), imp.version, imp.sig.clone(), |_| {
            host_calls.set(host_calls.get() + 1);
            Err(CapabilityError::new("the host was called"))
        });
    }
    let outcome = host
        .negotiate(module, policy)
        .map_err(|e| e.to_string())
        .map(|mut s| {
            let mut vm = s.vm(SMALL, Recorder::default());
            let result = vm.run();
            let executed = vm.instructions_executed();
            let (_, recorder) = vm.into_parts();
            (result, executed, recorder.0)
        });
    drop(host);
    (outcome, host_calls.get())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(256)))]

    /// A run whose capabilities are all mocked is a pure function of the
    /// module and the policy: two runs from scratch agree on the result, the
    /// instruction count and every observed event, and never call the host.
    #[test]
    fn a_run_with_only_mocked_capabilities_is_deterministic((module, policy_text) in mocked_module()) {
        let policy = Policy::parse("mocks.toml", &policy_text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{policy_text}")))?;
        let module = verify(module).expect("valid_module verifies");
        let (first, calls_first) = mocked_run(&module, &policy);
        let (second, calls_second) = mocked_run(&module, &policy);
        prop_assert_eq!((calls_first, calls_second), (0, 0), "a mock never calls the host");
        prop_assert_eq!(first, second);
    }
}
