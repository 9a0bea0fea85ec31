//! Negotiation: each import of a module against the host's offers and the
//! policy, before any plugin instruction runs.
//!
//! For each import, in order:
//!
//! 1. The policy's rule for `name@major` gives the decision; a capability
//!    the policy does not name is **denied** (deny by default).
//! 2. `deny`: a problem, unless the rule says `optional = true`, in which
//!    case the plugin runs and every call to the import fails.
//! 3. `grant`: the host must offer the name (else the import is **missing**,
//!    again a runtime failure instead if `optional`), with the same major
//!    version and at least the requested minor, and exactly the import's
//!    signature. A path-scoped offer gets the rule's `paths` as its scope
//!    (no `paths`: an empty scope, which allows nothing); `paths` on an
//!    offer that takes no scope is a problem.
//! 4. `mock`: the policy's `returns` must type-check against the import's
//!    signature. A mock never calls the host, so it needs no offer; if the
//!    host does offer the name, the version and signature rules still
//!    apply, so a mocked run and a granted one see the same types.
//!
//! The result is a [`Negotiation`] (one [`Entry`] per import, printable as a
//! table) or a [`NegotiationError`] listing **every** problem, one line each.

use super::policy::{Decision, Policy, PolicyError, Rule, Scope};
use crate::module::{Import, Module};
use crate::types::{Signature, Version};
use crate::value::Value;
use std::fmt;

/// One capability a host offers: what a plugin's import is matched against.
///
/// ```
/// use chronicle_core::caps::Offer;
/// use chronicle_core::types::{Signature, Type, Version};
///
/// let offer = Offer::new("clock.now", Version::new(1, 0), Signature { params: vec![], ret: Some(Type::Int) });
/// assert_eq!(offer.to_string(), "clock.now@1.0 () -> int");
/// assert!(!offer.scoped);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Offer {
    /// Dotted name, e.g. `fs.read`.
    pub name: String,
    /// The version offered.
    pub version: Version,
    /// The signature offered.
    pub sig: Signature,
    /// Whether the capability takes a path scope (the policy's `paths`).
    pub scoped: bool,
}

impl Offer {
    /// An offer that takes no scope.
    ///
    /// ```
    /// # use chronicle_core::caps::Offer;
    /// # use chronicle_core::types::{Signature, Version};
    /// let offer = Offer::new("log.write", Version::new(1, 2), Signature::default());
    /// assert_eq!(offer.version, Version::new(1, 2));
    /// ```
    pub fn new(name: impl Into<String>, version: Version, sig: Signature) -> Offer {
        Offer {
            name: name.into(),
            version,
            sig,
            scoped: false,
        }
    }
}

impl fmt::Display for Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} {}", self.name, self.version, self.sig)
    }
}

/// The outcome of a successful negotiation: one entry per import, in import
/// order. Its `Display` is the table `chronicle caps` prints.
///
/// ```
/// use chronicle_core::caps::{negotiate, Offer, Policy};
/// use chronicle_core::module::{Import, Module};
/// use chronicle_core::types::{Signature, Type, Version};
///
/// let sig = Signature { params: vec![Type::Int, Type::Int], ret: Some(Type::Int) };
/// let module = Module {
///     imports: vec![Import { name: "random.int".into(), version: Version::new(1, 0), sig: sig.clone() }],
///     ..Module::default()
/// };
/// let offers = [Offer::new("random.int", Version::new(1, 1), sig)];
/// let policy = Policy::parse("p.toml", "[capabilities.\"random.int@1\"]\ndecision = \"grant\"\n").unwrap();
/// let table = negotiate(&module, &offers, &policy).unwrap();
/// assert_eq!(table.to_string(), "\
/// import                            offered  decision  scope
/// random.int@1.0 (int, int) -> int  1.1      grant     -
/// ");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiation {
    entries: Vec<Entry>,
}

/// How one import is served.
///
/// ```
/// use chronicle_core::caps::{negotiate, Binding, Decision, Policy};
/// use chronicle_core::module::{Import, Module};
/// use chronicle_core::types::{Signature, Version};
///
/// let module = Module {
///     imports: vec![Import { name: "kv.put".into(), version: Version::new(1, 0), sig: Signature::default() }],
///     ..Module::default()
/// };
/// let policy = Policy::parse("p.toml", "[capabilities.\"kv.put@1\"]\ndecision = \"deny\"\noptional = true\n").unwrap();
/// let table = negotiate(&module, &[], &policy).unwrap();
/// let entry = &table.entries()[0];
/// assert_eq!((entry.import.key(), entry.decision, entry.offered), ("kv.put@1".to_string(), Decision::Deny, None));
/// assert!(matches!(entry.binding, Binding::Unavailable { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The import, as the module declares it.
    pub import: Import,
    /// The version of the offer that serves it, if one does.
    pub offered: Option<Version>,
    /// The policy's decision (`deny` for an import the policy does not name).
    pub decision: Decision,
    /// What a call does.
    pub binding: Binding,
}

/// What a call to an import does.
///
/// ```
/// use chronicle_core::caps::{negotiate, Binding, Policy};
/// use chronicle_core::module::{Import, Module};
/// use chronicle_core::types::{Signature, Type, Version};
/// use chronicle_core::Value;
///
/// let module = Module {
///     imports: vec![Import {
///         name: "clock.now".into(),
///         version: Version::new(1, 0),
///         sig: Signature { params: vec![], ret: Some(Type::Int) },
///     }],
///     ..Module::default()
/// };
/// let policy = Policy::parse("p.toml", "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [1, 2]\n").unwrap();
/// let table = negotiate(&module, &[], &policy).unwrap();
/// assert_eq!(table.entries()[0].binding, Binding::Mock { values: vec![Value::Int(1), Value::Int(2)] });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Calls the host's offer number `offer` (an index into the offers given
    /// to [`negotiate`]), with this scope if the offer is path-scoped.
    Host {
        /// Index of the offer.
        offer: usize,
        /// The scope, for a path-scoped offer.
        scope: Option<Scope>,
    },
    /// Returns these values in order, the last one repeating; never calls the host.
    Mock {
        /// The values, already typed by the import's signature.
        values: Vec<Value>,
    },
    /// An `optional` import that is denied or missing: every call fails with this reason.
    Unavailable {
        /// Why, e.g. `denied by the policy (optional)`.
        reason: String,
    },
}

impl Entry {
    /// The entry's scope column: the paths of a scoped grant, the values of
    /// a mock, why an optional import is unavailable, or `-`.
    ///
    /// ```
    /// use chronicle_core::caps::{negotiate, Offer, Policy};
    /// use chronicle_core::module::{Import, Module};
    /// use chronicle_core::types::{Signature, Type, Version};
    ///
    /// let sig = Signature { params: vec![], ret: Some(Type::Int) };
    /// let module = Module {
    ///     imports: vec![Import { name: "clock.now".into(), version: Version::new(1, 0), sig }],
    ///     ..Module::default()
    /// };
    /// let policy = Policy::parse("p.toml", "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [1, 2]\n").unwrap();
    /// let table = negotiate(&module, &[], &policy).unwrap();
    /// assert_eq!(table.entries()[0].scope_text(), "returns 1, 2 (the last repeats)");
    /// ```
    pub fn scope_text(&self) -> String {
        match &self.binding {
            Binding::Host {
                scope: Some(scope), ..
            } if scope.globs().is_empty() => "no paths: every path is refused".into(),
            Binding::Host {
                scope: Some(scope), ..
            } => format!("paths {scope}"),
            Binding::Host { scope: None, .. } => "-".into(),
            Binding::Mock { values } if values == &[Value::Unit] => "returns nothing".into(),
            Binding::Mock { values } => {
                let shown: Vec<String> = values.iter().map(Value::to_string).collect();
                let mut text = format!("returns {}", shown.join(", "));
                if text.len() > 60 {
                    text = format!("returns {} values", values.len());
                }
                if values.len() > 1 {
                    text.push_str(" (the last repeats)");
                }
                text
            }
            Binding::Unavailable { reason } => format!("unavailable: {reason}"),
        }
    }
}

impl Negotiation {
    /// The entries, one per import, in import order.
    ///
    /// ```
    /// use chronicle_core::caps::{negotiate, Policy};
    /// use chronicle_core::Module;
    ///
    /// let table = negotiate(&Module::default(), &[], &Policy::deny_all()).unwrap();
    /// assert!(table.entries().is_empty());
    /// ```
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The table with a scope column of the caller's making (a host may know
    /// more about a grant's scope than the policy says, e.g. where a store lives).
    ///
    /// ```
    /// use chronicle_core::caps::{negotiate, Policy};
    /// use chronicle_core::Module;
    ///
    /// let table = negotiate(&Module::default(), &[], &Policy::deny_all()).unwrap();
    /// assert_eq!(table.table_with(|e| e.scope_text()), "no capabilities imported\n");
    /// ```
    pub fn table_with(&self, scope: impl Fn(&Entry) -> String) -> String {
        if self.entries.is_empty() {
            return "no capabilities imported\n".into();
        }
        let header = ["import", "offered", "decision", "scope"];
        let rows: Vec<[String; 4]> = self
            .entries
            .iter()
            .map(|e| {
                [
                    format!("{}@{} {}", e.import.name, e.import.version, e.import.sig),
                    e.offered.map_or("-".into(), |v| v.to_string()),
                    e.decision.to_string(),
                    scope(e),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: [&str; 4]| {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i == 3 {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<w$}  "));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(header);
        for row in &rows {
            line([&row[0], &row[1], &row[2], &row[3]]);
        }
        out
    }
}

/// The negotiation table: import, offered version, decision and scope, one
/// import per line under a header.
impl fmt::Display for Negotiation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table_with(Entry::scope_text))
    }
}

/// Why a module cannot run under this host and policy: every problem found.
///
/// Displayed as a summary line followed by one indented line per problem.
///
/// ```
/// use chronicle_core::caps::{negotiate, Policy};
/// use chronicle_core::module::{Import, Module};
/// use chronicle_core::types::{Signature, Version};
///
/// let module = Module {
///     imports: vec![Import { name: "env.get".into(), version: Version::new(1, 0), sig: Signature::default() }],
///     ..Module::default()
/// };
/// let err = negotiate(&module, &[], &Policy::deny_all()).unwrap_err();
/// assert_eq!(err.problems().len(), 1);
/// assert_eq!(
///     err.to_string(),
///     "capability negotiation failed: 1 problem\n  capability env.get@1.0: denied: the policy does not name env.get@1 (deny by default)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiationError {
    problems: Vec<Problem>,
}

impl NegotiationError {
    /// The problems, in import order (at least one).
    ///
    /// ```
    /// # use chronicle_core::caps::{negotiate, Policy, ProblemKind};
    /// # use chronicle_core::module::{Import, Module};
    /// # use chronicle_core::types::{Signature, Version};
    /// let module = Module {
    ///     imports: vec![Import { name: "env.get".into(), version: Version::new(1, 0), sig: Signature::default() }],
    ///     ..Module::default()
    /// };
    /// let err = negotiate(&module, &[], &Policy::deny_all()).unwrap_err();
    /// assert!(matches!(err.problems()[0].kind, ProblemKind::NotNamed { .. }));
    /// ```
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "capability negotiation failed: {n} problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NegotiationError {}

/// One problem with one import; displayed as `capability name@version: what`.
///
/// ```
/// use chronicle_core::caps::{negotiate, Offer, Policy, ProblemKind};
/// use chronicle_core::module::{Import, Module};
/// use chronicle_core::types::{Signature, Type, Version};
///
/// let module = Module {
///     imports: vec![Import { name: "fs.read".into(), version: Version::new(1, 0), sig: Signature::default() }],
///     ..Module::default()
/// };
/// let offered = Signature { params: vec![Type::Str], ret: Some(Type::Str) };
/// let offers = [Offer::new("fs.read", Version::new(1, 0), offered)];
/// let policy = Policy::parse("p.toml", "[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\n").unwrap();
/// let err = negotiate(&module, &offers, &policy).unwrap_err();
/// let problem = &err.problems()[0];
/// assert_eq!((problem.import, problem.label.as_str()), (0, "fs.read@1.0"));
/// assert!(matches!(problem.kind, ProblemKind::SignatureMismatch { .. }));
/// assert_eq!(
///     problem.to_string(),
///     "capability fs.read@1.0: signature mismatch: the plugin expects (), the host offers (str) -> str"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The import's index in the module.
    pub import: u16,
    /// The import, as `name@major.minor`.
    pub label: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What can be wrong with an import.
///
/// ```
/// use chronicle_core::caps::{negotiate, Offer, Policy, ProblemKind};
/// use chronicle_core::module::{Import, Module};
/// use chronicle_core::types::{Signature, Version};
///
/// let import = |major, minor| Import { name: "log.write".into(), version: Version::new(major, minor), sig: Signature::default() };
/// let module = Module { imports: vec![import(1, 4), import(2, 0)], ..Module::default() };
/// let offers = [Offer::new("log.write", Version::new(1, 2), Signature::default())];
/// let policy = Policy::parse("p.toml", "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\n[capabilities.\"log.write@2\"]\ndecision = \"grant\"\n").unwrap();
/// let kinds: Vec<ProblemKind> = negotiate(&module, &offers, &policy).unwrap_err().problems().iter().map(|p| p.kind.clone()).collect();
/// assert_eq!(kinds, [
///     ProblemKind::MinorTooOld { offered: Version::new(1, 2) },
///     ProblemKind::MajorMismatch { offered: vec![Version::new(1, 2)] },
/// ]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// Granted, but the host offers no capability of this name.
    Missing,
    /// The policy has no table for the import's `name@major`.
    NotNamed {
        /// The key the policy would need, `name@major`.
        key: String,
    },
    /// The policy's table says `decision = "deny"`.
    Denied {
        /// Where: `file:line`.
        at: String,
    },
    /// The host offers the name, but under other majors only.
    MajorMismatch {
        /// The versions offered.
        offered: Vec<Version>,
    },
    /// The host offers the major, but an older minor.
    MinorTooOld {
        /// The newest version offered with the requested major.
        offered: Version,
    },
    /// The host's signature differs from the import's.
    SignatureMismatch {
        /// What the plugin expects.
        expected: Signature,
        /// What the host offers.
        offered: Signature,
    },
    /// The policy's rule does not fit the import (a mock value of the wrong
    /// type, `paths` for a capability without a scope).
    Policy(PolicyError),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "capability {}: ", self.label)?;
        let name = self.label.split('@').next().unwrap_or_default();
        match &self.kind {
            ProblemKind::Missing => {
                write!(f, "missing: the host offers no capability named {name}")
            }
            ProblemKind::NotNamed { key } => {
                write!(f, "denied: the policy does not name {key} (deny by default)")
            }
            ProblemKind::Denied { at } => write!(f, "denied by the policy ({at})"),
            ProblemKind::MajorMismatch { offered } => {
                let offered: Vec<String> =
                    offered.iter().map(|v| format!("{name}@{v}")).collect();
                write!(
                    f,
                    "major version mismatch: the host offers {}",
                    offered.join(", ")
                )
            }
            ProblemKind::MinorTooOld { offered } => write!(
                f,
                "minor version too old: the host offers {name}@{offered}, older than the {} requested",
                self.label
            ),
            ProblemKind::SignatureMismatch { expected, offered } => write!(
                f,
                "signature mismatch: the plugin expects {expected}, the host offers {offered}"
            ),
            ProblemKind::Policy(e) => write!(f, "{e}"),
        }
    }
}

/// Negotiates every import of `module` against `offers` and `policy`. No
/// plugin code runs: this only reads the module's import table.
///
/// ```
/// use chronicle_core::caps::{negotiate, Binding, Decision, Offer, Policy};
/// use chronicle_core::module::{Import, Module};
/// use chronicle_core::types::{Signature, Type, Version};
///
/// let sig = Signature { params: vec![Type::Str], ret: Some(Type::Str) };
/// let module = Module {
///     imports: vec![Import { name: "fs.read".into(), version: Version::new(1, 0), sig: sig.clone() }],
///     ..Module::default()
/// };
/// let offers = [Offer { scoped: true, ..Offer::new("fs.read", Version::new(1, 2), sig) }];
/// let policy = Policy::parse("p.toml", "[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = [\"data/**\"]\n").unwrap();
/// let table = negotiate(&module, &offers, &policy).unwrap();
/// let entry = &table.entries()[0];
/// assert_eq!((entry.decision, entry.offered), (Decision::Grant, Some(Version::new(1, 2))));
/// assert!(matches!(&entry.binding, Binding::Host { offer: 0, scope: Some(_) }));
/// assert_eq!(entry.scope_text(), "paths data/**");
/// ```
pub fn negotiate(
    module: &Module,
    offers: &[Offer],
    policy: &Policy,
) -> Result<Negotiation, NegotiationError> {
    let mut entries = Vec::with_capacity(module.imports.len());
    let mut problems = Vec::new();
    for (index, import) in module.imports.iter().enumerate() {
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        let mut found = Vec::new();
        match one(import, offers, policy, &mut found) {
            Some(entry) if found.is_empty() => entries.push(entry),
            _ => problems.extend(found.into_iter().map(|kind| Problem {
                import: index,
                label: format!("{}@{}", import.name, import.version),
                kind,
            })),
        }
    }
    if problems.is_empty() {
        Ok(Negotiation { entries })
    } else {
        Err(NegotiationError { problems })
    }
}

/// Negotiates one import; pushes its problems to `problems`.
fn one(
    import: &Import,
    offers: &[Offer],
    policy: &Policy,
    problems: &mut Vec<ProblemKind>,
) -> Option<Entry> {
    let label = format!("{}@{}", import.name, import.version);
    let key = import.key();
    let entry = |offered, decision, binding| Entry {
        import: import.clone(),
        offered,
        decision,
        binding,
    };
    let Some(rule) = policy.rule(&key) else {
        problems.push(ProblemKind::NotNamed { key });
        return None;
    };
    let at = format!("{}:{}", policy.file(), rule.line());
    match rule.decision() {
        Decision::Deny if rule.optional() => Some(entry(
            None,
            Decision::Deny,
            Binding::Unavailable {
                reason: format!("denied by the policy ({at}; optional)"),
            },
        )),
        Decision::Deny => {
            problems.push(ProblemKind::Denied { at });
            None
        }
        Decision::Grant => {
            let Some((offer, found)) = matching_offer(import, offers, problems) else {
                if rule.optional() && problems.is_empty() {
                    return Some(entry(
                        None,
                        Decision::Grant,
                        Binding::Unavailable {
                            reason: "the host does not offer it (optional)".into(),
                        },
                    ));
                }
                if problems.is_empty() {
                    problems.push(ProblemKind::Missing);
                }
                return None;
            };
            let scope = scope_for(policy, rule, found, &label, problems);
            Some(entry(
                Some(found.version),
                Decision::Grant,
                Binding::Host { offer, scope },
            ))
        }
        Decision::Mock => {
            let offered = matching_offer(import, offers, problems).map(|(_, o)| o.version);
            match policy.mock_values(rule, import.sig.ret.as_ref(), &label) {
                Ok(values) => Some(entry(offered, Decision::Mock, Binding::Mock { values })),
                Err(e) => {
                    problems.push(ProblemKind::Policy(e));
                    None
                }
            }
        }
    }
}

/// The offer serving `import`: the newest minor of the requested major. No
/// offer of the name at all is `None` with no problem (the caller decides
/// whether that matters); an incompatible one is `None` with its problems.
fn matching_offer<'o>(
    import: &Import,
    offers: &'o [Offer],
    problems: &mut Vec<ProblemKind>,
) -> Option<(usize, &'o Offer)> {
    let named: Vec<(usize, &Offer)> = offers
        .iter()
        .enumerate()
        .filter(|(_, o)| o.name == import.name)
        .collect();
    if named.is_empty() {
        return None;
    }
    let same_major = named
        .iter()
        .filter(|(_, o)| o.version.major == import.version.major)
        .max_by_key(|(_, o)| o.version.minor);
    let Some(&(index, offer)) = same_major else {
        let mut offered: Vec<Version> = named.iter().map(|(_, o)| o.version).collect();
        offered.sort();
        problems.push(ProblemKind::MajorMismatch { offered });
        return None;
    };
    let before = problems.len();
    if !offer.version.satisfies(import.version) {
        problems.push(ProblemKind::MinorTooOld {
            offered: offer.version,
        });
    }
    if offer.sig != import.sig {
        problems.push(ProblemKind::SignatureMismatch {
            expected: import.sig.clone(),
            offered: offer.sig.clone(),
        });
    }
    (problems.len() == before).then_some((index, offer))
}

/// The scope a granted offer gets: the rule's `paths` (none: an empty scope)
/// for a scoped offer; `paths` for an unscoped offer is a problem.
fn scope_for(
    policy: &Policy,
    rule: &Rule,
    offer: &Offer,
    label: &str,
    problems: &mut Vec<ProblemKind>,
) -> Option<Scope> {
    match (offer.scoped, rule.scope()) {
        (true, scope) => Some(scope.cloned().unwrap_or_default()),
        (false, None) => None,
        (false, Some(_)) => {
            problems.push(ProblemKind::Policy(policy.paths_error(
                rule,
                format!("{label} takes no path scope: remove `paths`"),
            )));
            None
        }
    }
}
