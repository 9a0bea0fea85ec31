//! Capabilities and policy: how a plugin reaches the world, and who decides.
//!
//! A plugin declares each capability it imports with a versioned, typed
//! signature ([`crate::module::Import`]). A host offers capabilities
//! ([`Offer`]), an embedder registers them with Rust closures
//! ([`Registry`]), and a [`Policy`] (TOML text) decides for each one:
//! `grant` (the host function runs, within a path [`Scope`] if it takes
//! one), `mock` (values from the policy, no host call) or `deny`, the
//! default for anything the policy does not name.
//!
//! [`negotiate`] matches every import against the offers and the policy
//! **before any plugin instruction runs**, and either returns a
//! [`Negotiation`] (printable as a table) or a [`NegotiationError`] that
//! lists every problem, one line each. A successful negotiation through
//! [`Registry::negotiate`] yields a [`Session`], the [`crate::vm::Host`]
//! that serves the run.
//!
//! The whole embedding, end to end:
//!
//! ```
//! use chronicle_core::caps::{Policy, Registry};
//! use chronicle_core::isa::Instr;
//! use chronicle_core::module::{Const, Function, Import, Module};
//! use chronicle_core::types::{Signature, Type, Version};
//! use chronicle_core::{format, Limits, Value};
//!
//! // A plugin: fn main() -> str { return greet("world"); }
//! // (normally compiled from .chr or assembled from .chasm; here built by hand)
//! let greet = Import {
//!     name: "app.greet".into(),
//!     version: Version::new(1, 0),
//!     sig: Signature { params: vec![Type::Str], ret: Some(Type::Str) },
//! };
//! let main = Function {
//!     name: "main".into(),
//!     params: 0,
//!     regs: vec![Type::Str, Type::Str],
//!     ret: Some(Type::Str),
//!     code: vec![
//!         Instr::LoadStr { d: 0, k: 0 },
//!         Instr::Cap { d: 1, c: 0, a: 0, n: 1 },
//!         Instr::RetRef { a: 1 },
//!     ],
//!     lines: vec![1, 1, 1],
//! };
//! let plugin = Module {
//!     consts: vec![Const::Str("world".into())],
//!     imports: vec![greet],
//!     funcs: vec![main],
//!     entry: 0,
//! };
//! let bytes = format::encode(&plugin); // what a .cbc file holds
//!
//! // The host: one capability of its own.
//! let mut host = Registry::new();
//! host.register(
//!     "app.greet",
//!     Version::new(1, 0),
//!     Signature { params: vec![Type::Str], ret: Some(Type::Str) },
//!     |args| Ok(Value::str(format!("hello, {}", args[0].as_str().unwrap_or("?")))),
//! );
//!
//! // The policy grants it; everything else would be denied.
//! let policy = Policy::parse("app-policy.toml", r#"
//! [limits]
//! instructions = 10_000
//!
//! [capabilities."app.greet@1"]
//! decision = "grant"
//! "#)?;
//!
//! let module = chronicle_core::load(&bytes)?;          // decode + verify
//! let mut session = host.negotiate(&module, &policy)?; // before any instruction runs
//! let result = session.run(policy.limits())?;
//! assert_eq!(result, Value::str("hello, world"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Invariants:** negotiation reads only the module's import table, so a
//! failed negotiation runs nothing; a mock never calls the host; a policy
//! that fails to parse grants nothing (there is no partial policy); this
//! module touches no file: policy text and paths are strings.

mod glob;
mod negotiate;
mod policy;
mod registry;

pub use glob::{Glob, GlobError};
pub use negotiate::{
    negotiate, Binding, Entry, Negotiation, NegotiationError, Offer, Problem, ProblemKind,
};
pub use policy::{Decision, Policy, PolicyError, Rule, Scope};
pub use registry::{CallReport, Registry, Session};
