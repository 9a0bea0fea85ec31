//! ChronicleVM core: the bytecode, its binary format, the verifier and the
//! bounded interpreter that runs untrusted plugins.
//!
//! The pipeline is `bytes -> format::decode -> Module -> verify ->
//! VerifiedModule -> Vm::run`. Only a [`VerifiedModule`] can run, so the
//! interpreter can trust register types and indices.
//!
//! ```
//! use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
//! use chronicle_core::{verify, vm, Limits, Value};
//!
//! // fn main() -> int { return 40 + 2; }
//! let main = Function {
//!     name: "main".into(),
//!     params: 0,
//!     regs: vec![Type::Int, Type::Int],
//!     ret: Some(Type::Int),
//!     code: vec![
//!         Instr::LoadInt { d: 0, imm: 40 },
//!         Instr::AddImm { d: 1, a: 0, imm: 2 },
//!         Instr::Ret { a: 1 },
//!     ],
//!     lines: vec![1, 1, 1],
//! };
//! let module = Module { funcs: vec![main], ..Module::default() };
//! let verified = verify(module).expect("well-formed");
//! let result = vm::run(&verified, Limits::DEFAULT, vm::NoHost).expect("no runtime error");
//! assert_eq!(result, Value::Int(42));
//! ```
//!
//! Plugins reach the world only through capabilities. The host SDK in
//! [`caps`] registers capabilities as Rust closures, parses a [`caps::Policy`]
//! and negotiates a module's imports against both before anything runs; see
//! the [`caps`] module for an end-to-end embedding, and
//! `examples/embed.rs` for a complete program.
//!
//! Runs can be recorded as traces ([`trace`]): [`trace::Recorder`] writes
//! one, [`trace::verify`] and [`trace::replay`] check one. A trace proves
//! its own integrity, not its origin, unless it is signed: the SDK signs
//! with [`trace::Recorder::sign_with`] and a [`trace::SecretKey`], and every
//! reader verifies the signature and reports the signer's
//! [`trace::PublicKey`] (`Summary::signature`), for the embedder to check
//! against the keys it trusts:
//!
//! ```
//! # use chronicle_core::{isa::Instr, module::{Function, Module}, types::Type};
//! use chronicle_core::trace::{self, PublicKey, Recorder, SecretKey, TraceHeader};
//! use chronicle_core::vm::{NoHost, Vm};
//! # let main = Function { name: "main".into(), params: 0, regs: vec![Type::Int],
//! #     ret: Some(Type::Int), code: vec![Instr::LoadInt { d: 0, imm: 7 }, Instr::Ret { a: 0 }],
//! #     lines: vec![1, 1] };
//! # let module = Module { funcs: vec![main], ..Module::default() };
//! let key = SecretKey::from_seed([9; 32]); // a seed from the OS random source, really
//! let trusted: Vec<PublicKey> = PublicKey::parse_list(&key.public_key().to_text())?;
//!
//! let mut recorder = Recorder::new(Vec::new(), TraceHeader::new(&module))?;
//! recorder.sign_with(key);
//! let verified = recorder.module().clone();
//! let outcome = Vm::with_observer(&verified, recorder.header().limits, NoHost, &mut recorder).run();
//! let bytes = recorder.finish(&outcome)?.writer;
//!
//! let summary = trace::verify(&bytes[..])?;
//! let signer = summary.signature.map(|s| s.key);
//! assert!(signer.is_some_and(|k| trusted.contains(&k)), "not signed by a trusted key");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This crate has no C dependency and depends on no other ChronicleVM crate.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod caps;
pub mod format;
pub mod isa;
pub mod limits;
mod load;
pub mod module;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
pub mod types;
pub mod value;
mod varint;
pub mod verify;
pub mod vm;

pub use caps::{Policy, Registry};
pub use limits::{Limit, Limits};
pub use load::{load, LoadError};
pub use module::Module;
pub use value::Value;
pub use verify::{verify, VerifiedModule, VerifyError};
