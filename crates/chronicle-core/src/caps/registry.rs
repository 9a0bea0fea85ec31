//! The host SDK: a [`Registry`] of capabilities backed by Rust closures, and
//! the [`Session`] that serves one negotiated module.
//!
//! **Invariants:** a session exists only after a successful negotiation, so
//! no plugin instruction can run before it; a mock never calls the host; an
//! import is served only as its negotiated [`Binding`] says.

use super::negotiate::{negotiate, Binding, Negotiation, NegotiationError, Offer};
use super::policy::{Policy, Scope};
use crate::limits::Limits;
use crate::types::{Signature, Version};
use crate::value::Value;
use crate::verify::VerifiedModule;
use crate::vm::{CapabilityError, Host, NoObserver, Observer, RuntimeError, Vm};

type PlainFn<'a> = dyn FnMut(&[Value]) -> Result<Value, CapabilityError> + 'a;
type ScopedFn<'a> = dyn FnMut(&Scope, &[Value]) -> Result<Value, CapabilityError> + 'a;
type ReportingFn<'a> =
    dyn FnMut(&Scope, &[Value], &mut CallReport) -> Result<Value, CapabilityError> + 'a;

enum Func<'a> {
    Plain(Box<PlainFn<'a>>),
    Scoped(Box<ScopedFn<'a>>),
    Reporting(Box<ReportingFn<'a>>),
}

/// What a capability registered with [`Registry::register_scoped_reporting`]
/// says about a call besides its result: what it actually opened. A trace
/// records it with the call (so an audit can check what was opened rather
/// than how the plugin spelled it); it is kept only for a call that
/// succeeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallReport {
    opened: Option<String>,
}

impl CallReport {
    /// Reports that this call opened `path` (spelled so that it can be
    /// matched against the policy's globs). A second report replaces the first.
    ///
    /// ```
    /// # use chronicle_core::caps::CallReport;
    /// let mut report = CallReport::default();
    /// report.opened("data/a.txt");
    /// assert_eq!(report.opened_path(), Some("data/a.txt"));
    /// ```
    pub fn opened(&mut self, path: impl Into<String>) {
        self.opened = Some(path.into());
    }

    /// The reported path, if any.
    ///
    /// ```
    /// # use chronicle_core::caps::CallReport;
    /// assert_eq!(CallReport::default().opened_path(), None);
    /// ```
    pub fn opened_path(&self) -> Option<&str> {
        self.opened.as_deref()
    }
}

/// The capabilities a host offers: each a name, a version, a typed
/// signature and a Rust closure. Closures may borrow from the embedder
/// (lifetime `'a`) and keep state (`FnMut`).
///
/// The VM checks the arguments against the import's signature before a call
/// and the result after it: a closure that returns a value of the wrong type
/// fails the call with a `capability error`, it cannot corrupt the run.
///
/// ```
/// use chronicle_core::caps::Registry;
/// use chronicle_core::types::{Signature, Type, Version};
/// use chronicle_core::vm::CapabilityError;
/// use chronicle_core::Value;
///
/// let mut host = Registry::new();
/// host.register(
///     "text.upper",
///     Version::new(1, 0),
///     Signature { params: vec![Type::Str], ret: Some(Type::Str) },
///     |args| match args {
///         [Value::Str(s)] => Ok(Value::str(s.to_uppercase())),
///         _ => Err(CapabilityError::new("expected one string")),
///     },
/// );
/// assert_eq!(host.offers()[0].to_string(), "text.upper@1.0 (str) -> str");
/// ```
#[derive(Default)]
pub struct Registry<'a> {
    offers: Vec<Offer>,
    funcs: Vec<Func<'a>>,
}

impl<'a> Registry<'a> {
    /// A registry that offers nothing.
    ///
    /// ```
    /// # use chronicle_core::caps::Registry;
    /// assert!(Registry::new().offers().is_empty());
    /// ```
    pub fn new() -> Self {
        Registry::default()
    }

    /// Offers capability `name@version` with signature `sig`, carried out by
    /// `f`. `f` receives the arguments (already checked against `sig`) and
    /// returns the result (`Value::Unit` for a unit capability) or why the
    /// call failed. Registering the same name and version again replaces
    /// the earlier offer.
    ///
    /// ```
    /// use chronicle_core::caps::Registry;
    /// use chronicle_core::types::{Signature, Type, Version};
    /// use chronicle_core::Value;
    ///
    /// let mut calls = 0;
    /// let mut host = Registry::new();
    /// host.register("counter.next", Version::new(1, 0), Signature { params: vec![], ret: Some(Type::Int) }, |_| {
    ///     calls += 1;
    ///     Ok(Value::Int(calls))
    /// });
    /// assert_eq!(host.offers().len(), 1);
    /// ```
    pub fn register(
        &mut self,
        name: impl Into<String>,
        version: Version,
        sig: Signature,
        f: impl FnMut(&[Value]) -> Result<Value, CapabilityError> + 'a,
    ) -> &mut Self {
        self.insert(Offer::new(name, version, sig), Func::Plain(Box::new(f)))
    }

    /// Offers a path-scoped capability: the policy's `paths` for it become
    /// a [`Scope`] that `f` receives with every call, and `f` must refuse
    /// paths outside it. (A grant without `paths` gets an empty scope, which
    /// allows nothing.) How a path is resolved before matching, e.g.
    /// canonicalised against a directory, is the closure's business.
    ///
    /// ```
    /// use chronicle_core::caps::Registry;
    /// use chronicle_core::types::{Signature, Type, Version};
    /// use chronicle_core::vm::CapabilityError;
    /// use chronicle_core::Value;
    ///
    /// let mut host = Registry::new();
    /// host.register_scoped(
    ///     "doc.get",
    ///     Version::new(1, 0),
    ///     Signature { params: vec![Type::Str], ret: Some(Type::Str) },
    ///     |scope, args| {
    ///         let path = args[0].as_str().unwrap_or_default();
    ///         if !scope.allows(path) {
    ///             return Err(CapabilityError::new(format!("path {path:?} is outside the granted scope")));
    ///         }
    ///         Ok(Value::str(format!("contents of {path}")))
    ///     },
    /// );
    /// assert!(host.offers()[0].scoped);
    /// ```
    pub fn register_scoped(
        &mut self,
        name: impl Into<String>,
        version: Version,
        sig: Signature,
        f: impl FnMut(&Scope, &[Value]) -> Result<Value, CapabilityError> + 'a,
    ) -> &mut Self {
        let offer = Offer {
            scoped: true,
            ..Offer::new(name, version, sig)
        };
        self.insert(offer, Func::Scoped(Box::new(f)))
    }

    /// [`Registry::register_scoped`] for a capability that also reports
    /// what each call opened, through the [`CallReport`] it receives; a
    /// recorded run keeps the report with the call's event.
    ///
    /// ```
    /// use chronicle_core::caps::Registry;
    /// use chronicle_core::types::{Signature, Type, Version};
    /// use chronicle_core::vm::CapabilityError;
    /// use chronicle_core::Value;
    ///
    /// let mut host = Registry::new();
    /// host.register_scoped_reporting(
    ///     "doc.get",
    ///     Version::new(1, 0),
    ///     Signature { params: vec![Type::Str], ret: Some(Type::Str) },
    ///     |scope, args, report| {
    ///         let path = args[0].as_str().unwrap_or_default();
    ///         if !scope.allows(path) {
    ///             return Err(CapabilityError::new(format!("path {path:?} is outside the granted scope")));
    ///         }
    ///         report.opened(path);
    ///         Ok(Value::str(format!("contents of {path}")))
    ///     },
    /// );
    /// assert!(host.offers()[0].scoped);
    /// ```
    pub fn register_scoped_reporting(
        &mut self,
        name: impl Into<String>,
        version: Version,
        sig: Signature,
        f: impl FnMut(&Scope, &[Value], &mut CallReport) -> Result<Value, CapabilityError> + 'a,
    ) -> &mut Self {
        let offer = Offer {
            scoped: true,
            ..Offer::new(name, version, sig)
        };
        self.insert(offer, Func::Reporting(Box::new(f)))
    }

    fn insert(&mut self, offer: Offer, func: Func<'a>) -> &mut Self {
        let same = self
            .offers
            .iter()
            .position(|o| o.name == offer.name && o.version == offer.version);
        match same {
            Some(i) => {
                self.offers[i] = offer;
                self.funcs[i] = func;
            }
            None => {
                self.offers.push(offer);
                self.funcs.push(func);
            }
        }
        self
    }

    /// What the registry offers, in registration order.
    ///
    /// ```
    /// # use chronicle_core::caps::Registry;
    /// # use chronicle_core::types::{Signature, Version};
    /// # use chronicle_core::Value;
    /// let mut host = Registry::new();
    /// host.register("a", Version::new(1, 0), Signature::default(), |_| Ok(Value::Unit));
    /// host.register("b", Version::new(2, 1), Signature::default(), |_| Ok(Value::Unit));
    /// let names: Vec<String> = host.offers().iter().map(|o| o.to_string()).collect();
    /// assert_eq!(names, ["a@1.0 ()", "b@2.1 ()"]);
    /// ```
    pub fn offers(&self) -> &[Offer] {
        &self.offers
    }

    /// Negotiates `module`'s imports against these offers and `policy` (see
    /// [`negotiate`]) and, if every import is served, returns the
    /// [`Session`] that runs it. On failure nothing has run and no closure
    /// has been called: the error lists every problem.
    ///
    /// ```
    /// use chronicle_core::caps::{Policy, Registry};
    /// use chronicle_core::module::{Import, Module};
    /// use chronicle_core::types::{Signature, Version};
    /// use chronicle_core::verify;
    ///
    /// # let main = chronicle_core::module::Function { name: "main".into(), params: 0, regs: vec![], ret: None,
    /// #     code: vec![chronicle_core::isa::Instr::RetUnit {}], lines: vec![1] };
    /// let import = Import { name: "net.get".into(), version: Version::new(1, 0), sig: Signature::default() };
    /// let module = verify(Module { imports: vec![import], funcs: vec![main], ..Module::default() }).unwrap();
    /// let mut host = Registry::new();
    /// let err = host.negotiate(&module, &Policy::deny_all()).err().unwrap();
    /// assert_eq!(
    ///     err.problems()[0].to_string(),
    ///     "capability net.get@1.0: denied: the policy does not name net.get@1 (deny by default)"
    /// );
    /// ```
    pub fn negotiate<'r, 'm>(
        &'r mut self,
        module: &'m VerifiedModule,
        policy: &Policy,
    ) -> Result<Session<'r, 'a, 'm>, NegotiationError> {
        let negotiation = negotiate(module.module(), &self.offers, policy)?;
        let cursors = vec![0; negotiation.entries().len()];
        Ok(Session {
            module,
            negotiation,
            registry: self,
            cursors,
            opened: None,
        })
    }
}

/// A negotiated module with the registry that serves it: the [`Host`] of its runs.
///
/// Obtained from [`Registry::negotiate`] only, so a session is proof that
/// negotiation succeeded. Each call of an import does what its negotiated
/// [`Binding`] says: a granted import calls its closure, a mocked one
/// returns the policy's next value (the last one repeating) without calling
/// anything, an optional unavailable one fails with a capability error.
///
/// ```
/// use chronicle_core::caps::{Policy, Registry};
/// use chronicle_core::isa::Instr;
/// use chronicle_core::module::{Function, Import, Module};
/// use chronicle_core::types::{Signature, Type, Version};
/// use chronicle_core::{verify, Limits, Value};
///
/// // fn main() -> int { return clock.now() + clock.now(); }
/// let clock = Import { name: "clock.now".into(), version: Version::new(1, 0),
///                      sig: Signature { params: vec![], ret: Some(Type::Int) } };
/// let main = Function {
///     name: "main".into(), params: 0, regs: vec![Type::Int, Type::Int, Type::Int], ret: Some(Type::Int),
///     code: vec![
///         Instr::Cap { d: 0, c: 0, a: 0, n: 0 },
///         Instr::Cap { d: 1, c: 0, a: 0, n: 0 },
///         Instr::Add { d: 2, a: 0, b: 1 },
///         Instr::Ret { a: 2 },
///     ],
///     lines: vec![1, 1, 1, 1],
/// };
/// let module = verify(Module { imports: vec![clock], funcs: vec![main], ..Module::default() }).unwrap();
/// let policy = Policy::parse("p.toml", "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [10, 32]\n").unwrap();
///
/// let mut host = Registry::new(); // offers nothing: a mock needs no host function
/// let mut session = host.negotiate(&module, &policy).unwrap();
/// assert_eq!(session.run(Limits::DEFAULT), Ok(Value::Int(42)));
/// ```
pub struct Session<'r, 'a, 'm> {
    module: &'m VerifiedModule,
    negotiation: Negotiation,
    registry: &'r mut Registry<'a>,
    /// Per import, the index of the next mock value.
    cursors: Vec<usize>,
    /// What the last call reported opening, until [`Host::opened`] takes it.
    opened: Option<String>,
}

impl<'m> Session<'_, '_, 'm> {
    /// The negotiation table (print it for a `caps`-style report).
    ///
    /// ```
    /// # use chronicle_core::caps::{Policy, Registry};
    /// # use chronicle_core::{verify, Module};
    /// # let main = chronicle_core::module::Function { name: "main".into(), params: 0, regs: vec![], ret: None,
    /// #     code: vec![chronicle_core::isa::Instr::RetUnit {}], lines: vec![1] };
    /// let module = verify(Module { funcs: vec![main], ..Module::default() }).unwrap();
    /// let mut host = Registry::new();
    /// let session = host.negotiate(&module, &Policy::deny_all()).unwrap();
    /// assert!(session.negotiation().entries().is_empty());
    /// ```
    pub fn negotiation(&self) -> &Negotiation {
        &self.negotiation
    }

    /// The module this session runs.
    ///
    /// ```
    /// # use chronicle_core::caps::{Policy, Registry};
    /// # use chronicle_core::{verify, Module};
    /// # let main = chronicle_core::module::Function { name: "main".into(), params: 0, regs: vec![], ret: None,
    /// #     code: vec![chronicle_core::isa::Instr::RetUnit {}], lines: vec![1] };
    /// let module = verify(Module { funcs: vec![main], ..Module::default() }).unwrap();
    /// let mut host = Registry::new();
    /// let session = host.negotiate(&module, &Policy::deny_all()).unwrap();
    /// assert_eq!(session.module().module().funcs[0].name, "main");
    /// ```
    pub fn module(&self) -> &'m VerifiedModule {
        self.module
    }

    /// Runs the module's entry function within `limits` and returns its
    /// result. Mock sequences start from their first value.
    ///
    /// ```
    /// # use chronicle_core::caps::{Policy, Registry};
    /// # use chronicle_core::{verify, Limits, Module, Value};
    /// # let main = chronicle_core::module::Function { name: "main".into(), params: 0, regs: vec![], ret: None,
    /// #     code: vec![chronicle_core::isa::Instr::RetUnit {}], lines: vec![1] };
    /// let module = verify(Module { funcs: vec![main], ..Module::default() }).unwrap();
    /// let mut host = Registry::new();
    /// let mut session = host.negotiate(&module, &Policy::deny_all()).unwrap();
    /// assert_eq!(session.run(Limits::DEFAULT), Ok(Value::Unit));
    /// ```
    pub fn run(&mut self, limits: Limits) -> Result<Value, RuntimeError> {
        self.vm(limits, NoObserver).run()
    }

    /// A VM over this session, for what [`Session::run`] does not give: an
    /// observer (a trace recorder), the instruction count. Mock sequences
    /// start from their first value; they continue, rather than restart, if
    /// the same VM runs twice.
    ///
    /// ```
    /// # use chronicle_core::caps::{Policy, Registry};
    /// # use chronicle_core::{verify, Limits, Module, Value};
    /// use chronicle_core::vm::NoObserver;
    /// # let main = chronicle_core::module::Function { name: "main".into(), params: 0, regs: vec![], ret: None,
    /// #     code: vec![chronicle_core::isa::Instr::RetUnit {}], lines: vec![1] };
    /// let module = verify(Module { funcs: vec![main], ..Module::default() }).unwrap();
    /// let mut host = Registry::new();
    /// let mut session = host.negotiate(&module, &Policy::deny_all()).unwrap();
    /// let mut vm = session.vm(Limits::DEFAULT, NoObserver);
    /// assert_eq!(vm.run(), Ok(Value::Unit));
    /// assert_eq!(vm.instructions_executed(), 1);
    /// ```
    pub fn vm<'s, O: Observer>(
        &'s mut self,
        limits: Limits,
        observer: O,
    ) -> Vm<'m, &'s mut Self, O> {
        self.cursors.iter_mut().for_each(|c| *c = 0);
        let module = self.module;
        Vm::with_observer(module, limits, self, observer)
    }
}

impl Host for Session<'_, '_, '_> {
    fn call(&mut self, import: u16, args: &[Value]) -> Result<Value, CapabilityError> {
        let i = usize::from(import);
        self.opened = None;
        let Some(entry) = self.negotiation.entries().get(i) else {
            return Err(CapabilityError::new(format!(
                "import c{import} was not negotiated"
            )));
        };
        match &entry.binding {
            Binding::Host { offer, scope } => match self.registry.funcs.get_mut(*offer) {
                Some(Func::Plain(f)) => f(args),
                Some(Func::Scoped(f)) => match scope {
                    Some(scope) => f(scope, args),
                    None => f(&Scope::default(), args),
                },
                Some(Func::Reporting(f)) => {
                    let mut report = CallReport::default();
                    let empty = Scope::default();
                    let result = f(scope.as_ref().unwrap_or(&empty), args, &mut report);
                    if result.is_ok() {
                        self.opened = report.opened;
                    }
                    result
                }
                None => Err(CapabilityError::new("the host function is gone")),
            },
            Binding::Mock { values } => {
                let cursor = self.cursors.get_mut(i);
                let next = cursor.as_ref().map_or(0, |c| **c);
                if let Some(c) = cursor {
                    *c = c.saturating_add(1);
                }
                Ok(values
                    .get(next)
                    .or(values.last())
                    .cloned()
                    .unwrap_or(Value::Unit))
            }
            Binding::Unavailable { reason } => Err(CapabilityError::new(reason.clone())),
        }
    }

    fn opened(&mut self) -> Option<String> {
        self.opened.take()
    }
}
