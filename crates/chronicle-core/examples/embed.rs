//! Embedding ChronicleVM in an application: a shop that lets plugins price
//! orders through a capability of its own.
//!
//! ```text
//! cargo run -p chronicle-core --example embed
//! ```
//!
//! The application offers two capabilities, `shop.rate@1(currency: str) -> int`
//! (an exchange rate, in cents) and `shop.log@1(msg: str)`, as Rust closures.
//! It loads a plugin module, negotiates the plugin's imports against a policy
//! before anything runs, runs the plugin within the policy's limits and
//! prints the result. It then shows a policy that refuses the plugin, and
//! one that mocks the rate so the run is reproducible.

use chronicle_core::caps::{Policy, Registry};
use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::types::{Signature, Type, Version};
use chronicle_core::vm::CapabilityError;
use chronicle_core::{format, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;

/// The plugin, as the bytes of a `.cbc` file. In a real application these
/// come from disk, built by `chronicle build plugin.chr -o plugin.cbc`;
/// here the module is written out by hand so the example needs nothing else.
///
/// ```text
/// use shop.rate@1(currency: str) -> int;
/// use shop.log@1(msg: str);
///
/// fn main() -> int {
///     let rate = shop.rate("EUR");
///     shop.log("rate for EUR: " + str(rate));
///     return rate * 3;             // three items at one euro each, in cents
/// }
/// ```
fn plugin_bytes() -> Vec<u8> {
    let sig = |params: Vec<Type>, ret: Option<Type>| Signature { params, ret };
    let module = Module {
        consts: vec![
            Const::Str("EUR".into()),
            Const::Str("rate for EUR: ".into()),
        ],
        imports: vec![
            Import {
                name: "shop.rate".into(),
                version: Version::new(1, 0),
                sig: sig(vec![Type::Str], Some(Type::Int)),
            },
            Import {
                name: "shop.log".into(),
                version: Version::new(1, 0),
                sig: sig(vec![Type::Str], None),
            },
        ],
        funcs: vec![Function {
            name: "main".into(),
            params: 0,
            regs: vec![
                Type::Str,
                Type::Int,
                Type::Str,
                Type::Str,
                Type::Int,
                Type::Int,
            ],
            ret: Some(Type::Int),
            code: vec![
                Instr::LoadStr { d: 0, k: 0 },
                Instr::Cap {
                    d: 1,
                    c: 0,
                    a: 0,
                    n: 1,
                },
                Instr::LoadStr { d: 2, k: 1 },
                Instr::IntToStr { d: 3, a: 1 },
                Instr::Concat { d: 2, a: 2, b: 3 },
                Instr::CapUnit { c: 1, a: 2, n: 1 },
                Instr::LoadInt { d: 4, imm: 3 },
                Instr::Mul { d: 5, a: 1, b: 4 },
                Instr::Ret { a: 5 },
            ],
            lines: vec![5, 5, 6, 6, 6, 6, 7, 7, 7],
        }],
        entry: 0,
    };
    format::encode(&module)
}

/// The policy the shop runs plugins under.
const POLICY: &str = r#"
[limits]
instructions = 10_000
call_depth = 16

[capabilities."shop.rate@1"]
decision = "grant"

[capabilities."shop.log@1"]
decision = "grant"
"#;

fn main() -> Result<(), Box<dyn Error>> {
    // The application's own state, which the capabilities use.
    let rates: HashMap<&str, i64> = [("EUR", 108), ("GBP", 127)].into_iter().collect();
    let log = RefCell::new(Vec::new());

    // 1. Register the capabilities: name, version, typed signature, closure.
    let mut host = Registry::new();
    host.register(
        "shop.rate",
        Version::new(1, 0),
        Signature {
            params: vec![Type::Str],
            ret: Some(Type::Int),
        },
        |args| {
            let currency = args[0].as_str().unwrap_or_default();
            rates
                .get(currency)
                .map(|&cents| Value::Int(cents))
                .ok_or_else(|| CapabilityError::new(format!("no rate for {currency:?}")))
        },
    );
    host.register(
        "shop.log",
        Version::new(1, 0),
        Signature {
            params: vec![Type::Str],
            ret: None,
        },
        |args| {
            log.borrow_mut()
                .push(args[0].as_str().unwrap_or_default().to_owned());
            Ok(Value::Unit)
        },
    );

    // 2. Load the plugin: decode and verify.
    let module = chronicle_core::load(&plugin_bytes())?;

    // 3. Negotiate against the policy, before any plugin instruction runs.
    let policy = Policy::parse("shop-policy.toml", POLICY)?;
    let mut session = host.negotiate(&module, &policy)?;
    println!("negotiated:\n{}", session.negotiation());

    // 4. Run within the policy's limits and get the result.
    let total = session.run(policy.limits())?;
    println!("result: {total}");
    println!("the plugin logged: {:?}", log.borrow());
    drop(session);

    // A policy that does not grant shop.log refuses the plugin up front,
    // naming every problem; nothing runs and no closure is called.
    let strict = Policy::parse(
        "strict.toml",
        "[capabilities.\"shop.rate@1\"]\ndecision = \"grant\"\n",
    )?;
    match host.negotiate(&module, &strict) {
        Ok(_) => return Err("the strict policy should refuse the plugin".into()),
        Err(refusal) => println!("\nunder strict.toml: {refusal}"),
    }

    // A policy that mocks the rate makes the run reproducible: the closure
    // for shop.rate is never called.
    let mocked = Policy::parse(
        "mocked.toml",
        "[capabilities.\"shop.rate@1\"]\ndecision = \"mock\"\nreturns = 100\n\n\
         [capabilities.\"shop.log@1\"]\ndecision = \"mock\"\n",
    )?;
    let mut session = host.negotiate(&module, &mocked)?;
    println!("\nunder mocked.toml:\n{}", session.negotiation());
    println!("result: {}", session.run(mocked.limits())?);
    Ok(())
}
