//! Policies: which capabilities a plugin may use, how, and within which limits.
//!
//! A policy is TOML text (see `docs/POLICY.md` for the full format):
//!
//! ```toml
//! [limits]                       # omitted keys take the defaults
//! instructions = 5_000_000
//!
//! [capabilities."fs.read@1"]     # keyed by name@major, whatever minor the plugin asks for
//! decision = "grant"             # grant | mock | deny
//! paths = ["examples/data/**"]   # the scope of a path capability
//!
//! [capabilities."clock.now@1"]
//! decision = "mock"
//! returns = [1700000000, 1700000042]   # successive calls; the last repeats
//! ```
//!
//! **Deny by default:** a capability the policy does not name is denied.
//! Parsing is strict: an unknown key, a value of the wrong type, a bad glob
//! or a malformed `name@major` key is a [`PolicyError`] naming the file, the
//! line and column, and the key, and a policy that fails to parse grants
//! nothing. Mock values can only be checked against a signature, so a mock
//! of the wrong type is reported by [`negotiate`](crate::caps::negotiate),
//! in the same `file:line:col: key: message` form.
//!
//! This module reads text, never files: the embedder supplies the text and
//! the file name to use in messages.

use super::glob::Glob;
use crate::limits::{Limit, Limits};
use crate::types::Type;
use crate::value::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A parsed policy.
///
/// ```
/// use chronicle_core::caps::{Decision, Policy};
/// use chronicle_core::Limit;
///
/// let policy = Policy::parse("policy.toml", r#"
/// [limits]
/// call_depth = 16
///
/// [capabilities."fs.read@1"]
/// decision = "grant"
/// paths = ["data/**"]
/// "#).unwrap();
/// assert_eq!(policy.limits().call_depth, 16);
/// assert_eq!(policy.limit(Limit::Instructions), None); // not set: the default applies
/// let rule = policy.rule("fs.read@1").unwrap();
/// assert_eq!(rule.decision(), Decision::Grant);
/// assert!(rule.scope().unwrap().allows("data/app.log"));
/// assert!(policy.rule("env.get@1").is_none()); // not named: denied
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    file: String,
    text: String,
    limits: [Option<u64>; Limit::ALL.len()],
    rules: BTreeMap<String, Rule>,
}

/// What a policy decides for one capability.
///
/// ```
/// use chronicle_core::caps::{Decision, Policy};
///
/// let p = Policy::parse("p.toml", "[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = 0\n").unwrap();
/// assert_eq!(p.rule("clock.now@1").map(|r| r.decision()), Some(Decision::Mock));
/// assert_eq!(Decision::Grant.to_string(), "grant");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The host's function runs, within the rule's scope if it has one.
    Grant,
    /// The policy's values are returned in order (the last repeats); the
    /// host is never called.
    Mock,
    /// Every use is refused (the default for capabilities a policy does not name).
    Deny,
}

impl Decision {
    /// `grant`, `mock` or `deny`, as written in policies.
    ///
    /// ```
    /// use chronicle_core::caps::Decision;
    /// assert_eq!(Decision::Mock.name(), "mock");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Decision::Grant => "grant",
            Decision::Mock => "mock",
            Decision::Deny => "deny",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The policy's table for one capability, `[capabilities."name@major"]`.
///
/// ```
/// use chronicle_core::caps::{Decision, Policy};
///
/// let p = Policy::parse("p.toml", r#"
/// [capabilities."fs.read@1"]
/// decision = "grant"
/// paths = ["logs/*.log"]
/// optional = true
/// "#).unwrap();
/// let rule = p.rule("fs.read@1").unwrap();
/// assert_eq!((rule.decision(), rule.optional(), rule.line()), (Decision::Grant, true, 2));
/// assert!(rule.scope().unwrap().allows("logs/app.log"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    key: String,
    decision: Decision,
    scope: Option<Scope>,
    optional: bool,
    returns: Option<Returns>,
    /// Where the table's key is.
    at: Pos,
    /// Where its `paths` key is, if it has one.
    paths_at: Option<Pos>,
    /// The `max_bytes` bound of a grant, and where its key is.
    max_bytes: Option<(u64, Pos)>,
}

impl Rule {
    /// The rule's key, `name@major`.
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// let p = Policy::parse("p.toml", "[capabilities.\"kv.get@1\"]\ndecision = \"deny\"\n").unwrap();
    /// assert_eq!(p.rule("kv.get@1").unwrap().key(), "kv.get@1");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The decision.
    ///
    /// ```
    /// # use chronicle_core::caps::{Decision, Policy};
    /// let p = Policy::parse("p.toml", "[capabilities.\"kv.get@1\"]\ndecision = \"deny\"\n").unwrap();
    /// assert_eq!(p.rule("kv.get@1").unwrap().decision(), Decision::Deny);
    /// ```
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// The `paths` scope, if the rule gives one.
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// let p = Policy::parse("p.toml", "[capabilities.\"fs.list@1\"]\ndecision = \"grant\"\npaths = [\"a/**\"]\n").unwrap();
    /// assert_eq!(p.rule("fs.list@1").unwrap().scope().unwrap().to_string(), "a/**");
    /// ```
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// Whether the plugin may run without this capability (`optional = true`):
    /// if it is denied or the host lacks it, calls fail at run time instead
    /// of the negotiation failing.
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// let p = Policy::parse("p.toml", "[capabilities.\"kv.get@1\"]\ndecision = \"deny\"\noptional = true\n").unwrap();
    /// assert!(p.rule("kv.get@1").unwrap().optional());
    /// ```
    pub fn optional(&self) -> bool {
        self.optional
    }

    /// The `max_bytes` bound of a grant, if the rule gives one: how large
    /// the host may let what the capability stores grow (the host decides
    /// what it bounds; see `docs/POLICY.md`).
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// let p = Policy::parse("p.toml", "[capabilities.\"kv.put@1\"]\ndecision = \"grant\"\nmax_bytes = 4096\n").unwrap();
    /// assert_eq!(p.rule("kv.put@1").unwrap().max_bytes(), Some(4096));
    /// ```
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes.map(|(v, _)| v)
    }

    /// The line of the rule's table header (or dotted key), 1-based.
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// let p = Policy::parse("p.toml", "\n[capabilities.\"kv.get@1\"]\ndecision = \"deny\"\n").unwrap();
    /// assert_eq!(p.rule("kv.get@1").unwrap().line(), 2);
    /// ```
    pub fn line(&self) -> u32 {
        self.at.line
    }
}

/// The scope of a path capability: the globs of a rule's `paths`. An empty
/// scope allows nothing.
///
/// ```
/// use chronicle_core::caps::{Glob, Scope};
///
/// let scope = Scope::new(vec![Glob::new("data/**").unwrap(), Glob::new("*.toml").unwrap()]);
/// assert!(scope.allows("data/x.log") && scope.allows("app.toml"));
/// assert!(!scope.allows("secret.txt"));
/// assert!(!Scope::default().allows("data/x.log"));
/// assert_eq!(scope.to_string(), "data/**, *.toml");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    globs: Vec<Glob>,
}

impl Scope {
    /// A scope of these globs.
    ///
    /// ```
    /// # use chronicle_core::caps::{Glob, Scope};
    /// assert_eq!(Scope::new(vec![Glob::new("a/*").unwrap()]).globs().len(), 1);
    /// ```
    pub fn new(globs: Vec<Glob>) -> Scope {
        Scope { globs }
    }

    /// The globs.
    ///
    /// ```
    /// # use chronicle_core::caps::Scope;
    /// assert!(Scope::default().globs().is_empty());
    /// ```
    pub fn globs(&self) -> &[Glob] {
        &self.globs
    }

    /// Whether any glob matches `path` (see [`Glob::matches`]).
    ///
    /// ```
    /// # use chronicle_core::caps::{Glob, Scope};
    /// assert!(Scope::new(vec![Glob::new("a/*").unwrap()]).allows("a/b"));
    /// ```
    pub fn allows(&self, path: &str) -> bool {
        self.globs.iter().any(|g| g.matches(path))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.globs.is_empty() {
            return f.write_str("no paths");
        }
        for (i, g) in self.globs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

/// A policy that cannot be used: where, which key, and why.
///
/// Displayed as `file:line:column: key: message`, e.g.
/// `policy.toml:7:1: capabilities."fs.read@1".pathz: unknown key (expected decision, returns, paths, max_bytes or optional)`.
///
/// ```
/// use chronicle_core::caps::Policy;
///
/// let err = Policy::parse("p.toml", "[limits]\ninstructions = \"many\"\n").unwrap_err();
/// assert_eq!((err.line, err.key.as_str()), (2, "limits.instructions"));
/// assert_eq!(err.to_string(), "p.toml:2:16: limits.instructions: expected an integer, found a string");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The policy's file name, as given to [`Policy::parse`].
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// The dotted key path, e.g. `capabilities."fs.read@1".paths[0]`; empty
    /// for a TOML syntax error that belongs to no key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// A line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pos {
    line: u32,
    column: u32,
}

/// A mock's `returns`, kept as written until a signature types it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Returns {
    key_at: Pos,
    value: Raw,
}

/// A TOML value a mock may hold, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Raw {
    at: Pos,
    kind: RawKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum RawKind {
    Int(i64),
    Bool(bool),
    Str(String),
    Array(Vec<Raw>),
}

impl RawKind {
    fn describe(&self) -> &'static str {
        match self {
            RawKind::Int(_) => "an integer",
            RawKind::Bool(_) => "a boolean",
            RawKind::Str(_) => "a string",
            RawKind::Array(_) => "an array",
        }
    }
}

const RULE_KEYS: &str = "decision, returns, paths, max_bytes or optional";

impl Policy {
    /// Parses the policy `text`; `file` names it in error messages.
    ///
    /// ```
    /// use chronicle_core::caps::Policy;
    ///
    /// let err = Policy::parse("p.toml", "[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npathz = []\n")
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "p.toml:3:1: capabilities.\"fs.read@1\".pathz: unknown key (expected decision, returns, paths, max_bytes or optional)"
    /// );
    /// ```
    pub fn parse(file: &str, text: &str) -> Result<Policy, PolicyError> {
        let parser = Parser { file, text };
        let doc = DeTable::parse(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            parser.error(&span, String::new(), e.message().to_string())
        })?;
        let mut policy = Policy {
            file: file.to_owned(),
            text: text.to_owned(),
            limits: [None; Limit::ALL.len()],
            rules: BTreeMap::new(),
        };
        let mut errors = Vec::new();
        for (key, value) in doc.get_ref() {
            match key.get_ref().as_ref() {
                "limits" => parser.limits(value, &mut policy.limits, &mut errors),
                "capabilities" => parser.capabilities(value, &mut policy.rules, &mut errors),
                other => errors.push(parser.error(
                    &key.span(),
                    quote_key(other),
                    "unknown key (expected limits or capabilities)".into(),
                )),
            }
        }
        // The table is sorted by key: report the error that comes first in the file.
        match errors.into_iter().min_by_key(|e| (e.line, e.column)) {
            Some(e) => Err(e),
            None => Ok(policy),
        }
    }

    /// The policy of a run without a policy file: no capability, default limits.
    ///
    /// ```
    /// use chronicle_core::caps::Policy;
    /// use chronicle_core::Limits;
    ///
    /// let policy = Policy::deny_all();
    /// assert_eq!(policy.limits(), Limits::DEFAULT);
    /// assert_eq!(policy.rules().count(), 0);
    /// ```
    pub fn deny_all() -> Policy {
        Policy {
            file: "<no policy>".into(),
            text: String::new(),
            limits: [None; Limit::ALL.len()],
            rules: BTreeMap::new(),
        }
    }

    /// The file name given to [`Policy::parse`].
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// assert_eq!(Policy::parse("p.toml", "").unwrap().file(), "p.toml");
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The policy's text, as parsed (for provenance records).
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// assert_eq!(Policy::parse("p.toml", "[limits]\n").unwrap().text(), "[limits]\n");
    /// ```
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value `[limits]` gives `limit`, if it gives one.
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// use chronicle_core::Limit;
    /// let p = Policy::parse("p.toml", "[limits]\narray_len = 10\n").unwrap();
    /// assert_eq!(p.limit(Limit::ArrayLen), Some(10));
    /// assert_eq!(p.limit(Limit::StringBytes), None);
    /// ```
    pub fn limit(&self, limit: Limit) -> Option<u64> {
        let i = Limit::ALL.iter().position(|&l| l == limit)?;
        self.limits[i]
    }

    /// The limits of a run under this policy: `[limits]` over
    /// [`Limits::DEFAULT`].
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// use chronicle_core::Limits;
    /// let p = Policy::parse("p.toml", "[limits]\nregisters = 64\n").unwrap();
    /// assert_eq!(p.limits(), Limits { registers: 64, ..Limits::DEFAULT });
    /// ```
    pub fn limits(&self) -> Limits {
        let mut limits = Limits::DEFAULT;
        for limit in Limit::ALL {
            if let Some(v) = self.limit(limit) {
                *limit_mut(&mut limits, limit) = v;
            }
        }
        limits
    }

    /// The rule for `key` (`name@major`), if the policy names it.
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// let p = Policy::parse("p.toml", "[capabilities.\"log.write@1\"]\ndecision = \"grant\"\n").unwrap();
    /// assert!(p.rule("log.write@1").is_some());
    /// assert!(p.rule("log.write@2").is_none());
    /// ```
    pub fn rule(&self, key: &str) -> Option<&Rule> {
        self.rules.get(key)
    }

    /// Every rule, in key order.
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// let p = Policy::parse("p.toml", "[capabilities.\"b@1\"]\ndecision = \"deny\"\n[capabilities.\"a@1\"]\ndecision = \"deny\"\n").unwrap();
    /// let keys: Vec<&str> = p.rules().map(|r| r.key()).collect();
    /// assert_eq!(keys, ["a@1", "b@1"]);
    /// ```
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values()
    }

    /// The values a mock rule returns for a capability with result type
    /// `ret` (`None` is unit), in call order; `label` names the capability
    /// in messages. See `docs/POLICY.md` for the rules: `returns` is a
    /// sequence of results, and a single non-array value is shorthand for a
    /// one-element sequence; for a capability whose result is an array,
    /// `returns` is always written as a sequence.
    pub(crate) fn mock_values(
        &self,
        rule: &Rule,
        ret: Option<&Type>,
        label: &str,
    ) -> Result<Vec<Value>, PolicyError> {
        let key = format!("capabilities.{}", quote_key(&rule.key));
        let err = |at: Pos, key: String, message: String| PolicyError {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            key,
            message,
        };
        let returns_key = format!("{key}.returns");
        let (ret, returns) = match (ret, &rule.returns) {
            (None, None) => return Ok(vec![Value::Unit]),
            (None, Some(r)) => {
                return Err(err(
                    r.key_at,
                    returns_key,
                    format!("{label} returns unit: a mock of it takes no `returns`"),
                ))
            }
            (Some(t), None) => {
                return Err(err(
                    rule.at,
                    key,
                    format!("a mock needs `returns`: a sequence of {t} results"),
                ))
            }
            (Some(t), Some(r)) => (t, r),
        };
        let sequence = match (&returns.value.kind, ret) {
            (RawKind::Array(items), _) => items,
            (_, Type::Array(_)) => {
                return Err(err(
                    returns.value.at,
                    returns_key,
                    format!(
                        "expected a sequence of {ret} results, found {}: for a capability \
                         that returns an array, `returns` is always a sequence (write [[...]] for one result)",
                        returns.value.kind.describe()
                    ),
                ))
            }
            (_, _) => std::slice::from_ref(&returns.value),
        };
        if sequence.is_empty() {
            return Err(err(
                returns.value.at,
                returns_key,
                "`returns` is empty: give at least one value".into(),
            ));
        }
        let single = !matches!(returns.value.kind, RawKind::Array(_));
        sequence
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let path = if single {
                    returns_key.clone()
                } else {
                    format!("{returns_key}[{i}]")
                };
                typed(raw, ret, &path).map_err(|(at, key, mut message)| {
                    if matches!(ret, Type::Array(_))
                        && key == path
                        && !matches!(raw.kind, RawKind::Array(_))
                    {
                        message.push_str(
                            " (for a capability that returns an array, `returns` is a \
                             sequence of results: write [[...]] for one result)",
                        );
                    }
                    err(at, key, message)
                })
            })
            .collect()
    }
}

impl Policy {
    /// An error about `rule`'s `max_bytes`, at that key (at the rule's
    /// table if it has none), in the parser's `file:line:col: key: message`
    /// form: for a host that finds the bound on a capability it does not
    /// apply to.
    ///
    /// ```
    /// # use chronicle_core::caps::Policy;
    /// let p = Policy::parse("p.toml", "[capabilities.\"env.get@1\"]\ndecision = \"grant\"\nmax_bytes = 1\n").unwrap();
    /// let e = p.max_bytes_error(p.rule("env.get@1").unwrap(), "env.get@1 stores nothing".into());
    /// assert_eq!(e.to_string(), "p.toml:3:1: capabilities.\"env.get@1\".max_bytes: env.get@1 stores nothing");
    /// ```
    pub fn max_bytes_error(&self, rule: &Rule, message: String) -> PolicyError {
        let at = rule.max_bytes.map_or(rule.at, |(_, at)| at);
        PolicyError {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            key: format!("capabilities.{}.max_bytes", quote_key(&rule.key)),
            message,
        }
    }

    /// An error about `rule`'s `paths` (at the `paths` key).
    pub(crate) fn paths_error(&self, rule: &Rule, message: String) -> PolicyError {
        let at = rule.paths_at.unwrap_or(rule.at);
        PolicyError {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            key: format!("capabilities.{}.paths", quote_key(&rule.key)),
            message,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::deny_all()
    }
}

fn limit_mut(limits: &mut Limits, limit: Limit) -> &mut u64 {
    match limit {
        Limit::Instructions => &mut limits.instructions,
        Limit::CallDepth => &mut limits.call_depth,
        Limit::Registers => &mut limits.registers,
        Limit::ArrayLen => &mut limits.array_len,
        Limit::StringBytes => &mut limits.string_bytes,
        Limit::AllocBytes => &mut limits.alloc_bytes,
    }
}

/// Types one mock value; on failure, where, which key, and why.
fn typed(raw: &Raw, ty: &Type, key: &str) -> Result<Value, (Pos, String, String)> {
    let mismatch = || {
        (
            raw.at,
            key.to_owned(),
            format!("expected {ty}, found {}", raw.kind.describe()),
        )
    };
    match (&raw.kind, ty) {
        (RawKind::Int(v), Type::Int) => Ok(Value::Int(*v)),
        (RawKind::Bool(v), Type::Bool) => Ok(Value::Bool(*v)),
        (RawKind::Str(s), Type::Str) => Ok(Value::str(s.as_str())),
        (RawKind::Array(items), Type::Array(elem)) => {
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| typed(item, elem, &format!("{key}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Value::array(values)
                .normalized(Some(ty))
                .ok_or_else(mismatch)
        }
        _ => Err(mismatch()),
    }
}

/// `key` as it would be written in a dotted TOML key path.
fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        let mut out = String::new();
        // Escaping as a literal of the language does is also valid TOML for
        // every character a key plausibly holds.
        let _ = crate::value::write_escaped(&mut out, key);
        out
    }
}

/// Checks a capabilities table key: `name@major`, the name dotted
/// identifiers, the major a decimal `u16` without leading zeros.
fn check_capability_key(key: &str) -> Result<(), String> {
    let Some((name, major)) = key.rsplit_once('@') else {
        return Err("malformed capability key: expected \"name@major\", e.g. \"fs.read@1\"".into());
    };
    let plain = |seg: &str| {
        let mut chars = seg.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !name.split('.').all(plain) {
        return Err(format!(
            "malformed capability key: `{name}` is not a dotted name \
             (letters, digits and `_`, joined by single dots)"
        ));
    }
    if let Some((maj, _)) = major.split_once('.') {
        return Err(format!(
            "malformed capability key: tables are keyed by name@major, without the minor \
             (write \"{name}@{maj}\")"
        ));
    }
    let digits = !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit());
    let canonical = major == "0" || !major.starts_with('0');
    if !digits || !canonical || major.parse::<u16>().is_err() {
        return Err(format!(
            "malformed capability key: the major version `{major}` is not a number from 0 to 65535"
        ));
    }
    Ok(())
}

struct Parser<'t> {
    file: &'t str,
    text: &'t str,
}

type Entry<'i> = (
    &'i Spanned<std::borrow::Cow<'i, str>>,
    &'i Spanned<DeValue<'i>>,
);

impl Parser<'_> {
    fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    fn error(&self, span: &Range<usize>, key: String, message: String) -> PolicyError {
        let at = self.pos(span.start);
        PolicyError {
            file: self.file.to_owned(),
            line: at.line,
            column: at.column,
            key,
            message,
        }
    }

    fn table<'a, 'i>(
        &self,
        value: &'a Spanned<DeValue<'i>>,
        key: &str,
        hint: &str,
        errors: &mut Vec<PolicyError>,
    ) -> Option<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                errors.push(self.error(
                    &value.span(),
                    key.to_owned(),
                    format!(
                        "expected a table{hint}, found {}",
                        article(other.type_str())
                    ),
                ));
                None
            }
        }
    }

    fn limits(
        &self,
        value: &Spanned<DeValue<'_>>,
        out: &mut [Option<u64>; Limit::ALL.len()],
        errors: &mut Vec<PolicyError>,
    ) {
        let Some(table) = self.table(value, "limits", "", errors) else {
            return;
        };
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let path = format!("limits.{}", quote_key(name));
            let Some(i) = Limit::ALL.iter().position(|l| l.name() == name) else {
                let names: Vec<&str> = Limit::ALL.iter().map(|l| l.name()).collect();
                errors.push(self.error(
                    &key.span(),
                    path,
                    format!("unknown limit (expected one of {})", names.join(", ")),
                ));
                continue;
            };
            match self.integer(value, &path) {
                Ok(v) if v < 0 => errors.push(self.error(
                    &value.span(),
                    path,
                    "a limit cannot be negative".into(),
                )),
                Ok(v) => out[i] = Some(v.unsigned_abs()),
                Err(e) => errors.push(e),
            }
        }
    }

    fn integer(&self, value: &Spanned<DeValue<'_>>, path: &str) -> Result<i64, PolicyError> {
        match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
                self.error(
                    &value.span(),
                    path.to_owned(),
                    "integer out of range (at most 64-bit signed)".into(),
                )
            }),
            other => Err(self.error(
                &value.span(),
                path.to_owned(),
                format!("expected an integer, found {}", article(other.type_str())),
            )),
        }
    }

    fn capabilities(
        &self,
        value: &Spanned<DeValue<'_>>,
        rules: &mut BTreeMap<String, Rule>,
        errors: &mut Vec<PolicyError>,
    ) {
        let Some(table) = self.table(value, "capabilities", "", errors) else {
            return;
        };
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let path = format!("capabilities.{}", quote_key(name));
            if let Err(message) = check_capability_key(name) {
                errors.push(self.error(&key.span(), path, message));
                continue;
            }
            let hint = format!(" (write [{path}] and its keys)");
            let Some(entries) = self.table(value, &path, &hint, errors) else {
                continue;
            };
            if let Some(rule) = self.rule(name, &key.span(), entries, &path, errors) {
                rules.insert(name.to_owned(), rule);
            }
        }
    }

    fn rule(
        &self,
        name: &str,
        key_span: &Range<usize>,
        entries: &DeTable<'_>,
        path: &str,
        errors: &mut Vec<PolicyError>,
    ) -> Option<Rule> {
        let before = errors.len();
        let mut decision: Option<(Decision, Range<usize>)> = None;
        let mut returns: Option<Entry<'_>> = None;
        let mut paths: Option<Entry<'_>> = None;
        let mut max_bytes: Option<Entry<'_>> = None;
        let mut optional = false;
        for entry @ (key, value) in entries {
            let k = key.get_ref().as_ref();
            let kpath = format!("{path}.{}", quote_key(k));
            match k {
                "decision" => match value.get_ref() {
                    DeValue::String(s) => match s.as_ref() {
                        "grant" => decision = Some((Decision::Grant, key.span())),
                        "mock" => decision = Some((Decision::Mock, key.span())),
                        "deny" => decision = Some((Decision::Deny, key.span())),
                        other => errors.push(self.error(
                            &value.span(),
                            kpath,
                            format!("expected \"grant\", \"mock\" or \"deny\", found \"{other}\""),
                        )),
                    },
                    other => errors.push(self.error(
                        &value.span(),
                        kpath,
                        format!(
                            "expected a string (\"grant\", \"mock\" or \"deny\"), found {}",
                            article(other.type_str())
                        ),
                    )),
                },
                "returns" => returns = Some(entry),
                "paths" => paths = Some(entry),
                "max_bytes" => max_bytes = Some(entry),
                "optional" => match value.get_ref() {
                    DeValue::Boolean(b) => optional = *b,
                    other => errors.push(self.error(
                        &value.span(),
                        kpath,
                        format!("expected a boolean, found {}", article(other.type_str())),
                    )),
                },
                _ => errors.push(self.error(
                    &key.span(),
                    kpath,
                    format!("unknown key (expected {RULE_KEYS})"),
                )),
            }
        }
        let decision = match decision {
            Some((d, _)) => d,
            None => {
                if errors.len() == before {
                    errors.push(self.error(
                        key_span,
                        path.to_owned(),
                        "missing `decision` (\"grant\", \"mock\" or \"deny\")".into(),
                    ));
                }
                return None;
            }
        };
        let returns = returns.and_then(|(key, value)| {
            let kpath = format!("{path}.returns");
            if decision != Decision::Mock {
                errors.push(self.error(
                    &key.span(),
                    kpath,
                    format!(
                        "`returns` gives a mock's values; it is not allowed with decision = \"{decision}\""
                    ),
                ));
                return None;
            }
            match self.raw(value, &kpath) {
                Ok(raw) => Some(Returns {
                    key_at: self.pos(key.span().start),
                    value: raw,
                }),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        });
        let scope = paths.and_then(|(key, value)| {
            let kpath = format!("{path}.paths");
            if decision != Decision::Grant {
                errors.push(self.error(
                    &key.span(),
                    kpath,
                    format!(
                        "`paths` scopes a grant; it is not allowed with decision = \"{decision}\""
                    ),
                ));
                return None;
            }
            let DeValue::Array(items) = value.get_ref() else {
                errors.push(self.error(
                    &value.span(),
                    kpath,
                    format!(
                        "expected an array of glob strings, found {}",
                        article(value.get_ref().type_str())
                    ),
                ));
                return None;
            };
            let mut globs = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ipath = format!("{kpath}[{i}]");
                match item.get_ref() {
                    DeValue::String(s) => match Glob::new(s) {
                        Ok(g) => globs.push(g),
                        Err(e) => errors.push(self.error(
                            &item.span(),
                            ipath,
                            format!("bad glob \"{s}\": {e}"),
                        )),
                    },
                    other => errors.push(self.error(
                        &item.span(),
                        ipath,
                        format!(
                            "expected a glob string, found {}",
                            article(other.type_str())
                        ),
                    )),
                }
            }
            Some(Scope::new(globs))
        });
        let max_bytes = max_bytes.and_then(|(key, value)| {
            let kpath = format!("{path}.max_bytes");
            if decision != Decision::Grant {
                errors.push(self.error(
                    &key.span(),
                    kpath,
                    format!(
                        "`max_bytes` bounds a grant; it is not allowed with decision = \"{decision}\""
                    ),
                ));
                return None;
            }
            match self.integer(value, &kpath) {
                Ok(v) if v < 0 => {
                    errors.push(self.error(
                        &value.span(),
                        kpath,
                        "`max_bytes` cannot be negative".into(),
                    ));
                    None
                }
                Ok(v) => Some((v.unsigned_abs(), self.pos(key.span().start))),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        });
        if errors.len() > before {
            return None;
        }
        Some(Rule {
            key: name.to_owned(),
            decision,
            scope,
            optional,
            returns,
            at: self.pos(key_span.start),
            paths_at: paths.map(|(key, _)| self.pos(key.span().start)),
            max_bytes,
        })
    }

    fn raw(&self, value: &Spanned<DeValue<'_>>, path: &str) -> Result<Raw, PolicyError> {
        let at = self.pos(value.span().start);
        let kind = match value.get_ref() {
            DeValue::Integer(_) => RawKind::Int(self.integer(value, path)?),
            DeValue::Boolean(b) => RawKind::Bool(*b),
            DeValue::String(s) => RawKind::Str(s.to_string()),
            DeValue::Array(items) => RawKind::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.raw(item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(self.error(
                    &value.span(),
                    path.to_owned(),
                    format!(
                        "mock values are integers, booleans, strings and arrays of them; found {}",
                        article(other.type_str())
                    ),
                ))
            }
        };
        Ok(Raw { at, kind })
    }
}

/// "a string", "an integer", ...
fn article(type_name: &str) -> String {
    let an = type_name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {type_name}", if an { "an" } else { "a" })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way a policy can be wrong, with the exact message (the file is `p.toml`).
    const ERRORS: &[(&str, &str)] = &[
        // Unknown keys, at every level.
        ("colour = 1\n", "p.toml:1:1: colour: unknown key (expected limits or capabilities)"),
        ("[limits]\nfuel = 5\n", "p.toml:2:1: limits.fuel: unknown limit (expected one of instructions, call_depth, registers, array_len, string_bytes, alloc_bytes)"),
        ("[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npathz = []\n", "p.toml:3:1: capabilities.\"fs.read@1\".pathz: unknown key (expected decision, returns, paths, max_bytes or optional)"),
        // Wrong types.
        ("limits = 5\n", "p.toml:1:10: limits: expected a table, found an integer"),
        ("[limits]\ninstructions = \"many\"\n", "p.toml:2:16: limits.instructions: expected an integer, found a string"),
        ("[limits]\ncall_depth = 1.5\n", "p.toml:2:14: limits.call_depth: expected an integer, found a float"),
        ("[limits]\nregisters = -1\n", "p.toml:2:13: limits.registers: a limit cannot be negative"),
        ("[limits]\narray_len = 99999999999999999999\n", "p.toml:2:13: limits.array_len: integer out of range (at most 64-bit signed)"),
        ("capabilities = []\n", "p.toml:1:16: capabilities: expected a table, found an array"),
        ("[capabilities]\n\"fs.read@1\" = \"grant\"\n", "p.toml:2:15: capabilities.\"fs.read@1\": expected a table (write [capabilities.\"fs.read@1\"] and its keys), found a string"),
        ("[capabilities.\"fs.read@1\"]\ndecision = true\n", "p.toml:2:12: capabilities.\"fs.read@1\".decision: expected a string (\"grant\", \"mock\" or \"deny\"), found a boolean"),
        ("[capabilities.\"fs.read@1\"]\ndecision = \"allow\"\n", "p.toml:2:12: capabilities.\"fs.read@1\".decision: expected \"grant\", \"mock\" or \"deny\", found \"allow\""),
        ("[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\noptional = \"yes\"\n", "p.toml:3:12: capabilities.\"fs.read@1\".optional: expected a boolean, found a string"),
        ("[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = \"data/**\"\n", "p.toml:3:9: capabilities.\"fs.read@1\".paths: expected an array of glob strings, found a string"),
        ("[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = [\"a/**\", 7]\n", "p.toml:3:18: capabilities.\"fs.read@1\".paths[1]: expected a glob string, found an integer"),
        ("[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = 1.5\n", "p.toml:3:11: capabilities.\"clock.now@1\".returns: mock values are integers, booleans, strings and arrays of them; found a float"),
        ("[capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [1, { a = 1 }]\n", "p.toml:3:15: capabilities.\"clock.now@1\".returns[1]: mock values are integers, booleans, strings and arrays of them; found a table"),
        // Bad globs.
        ("[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = [\"data/[a-\"]\n", "p.toml:3:10: capabilities.\"fs.read@1\".paths[0]: bad glob \"data/[a-\": unclosed `[` character class"),
        ("[capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = [\"ok/**\", \"data**\"]\n", "p.toml:3:19: capabilities.\"fs.read@1\".paths[1]: bad glob \"data**\": `**` must be a whole path segment (write `a/**/b`, not `a**b`)"),
        // Malformed name@major keys.
        ("[capabilities.\"fs.read\"]\ndecision = \"grant\"\n", "p.toml:1:15: capabilities.\"fs.read\": malformed capability key: expected \"name@major\", e.g. \"fs.read@1\""),
        ("[capabilities.\"fs.read@1.2\"]\ndecision = \"grant\"\n", "p.toml:1:15: capabilities.\"fs.read@1.2\": malformed capability key: tables are keyed by name@major, without the minor (write \"fs.read@1\")"),
        ("[capabilities.\"fs..read@1\"]\ndecision = \"grant\"\n", "p.toml:1:15: capabilities.\"fs..read@1\": malformed capability key: `fs..read` is not a dotted name (letters, digits and `_`, joined by single dots)"),
        ("[capabilities.\"fs.read@v1\"]\ndecision = \"grant\"\n", "p.toml:1:15: capabilities.\"fs.read@v1\": malformed capability key: the major version `v1` is not a number from 0 to 65535"),
        ("[capabilities.\"fs.read@01\"]\ndecision = \"grant\"\n", "p.toml:1:15: capabilities.\"fs.read@01\": malformed capability key: the major version `01` is not a number from 0 to 65535"),
        ("[capabilities.\"fs.read@65536\"]\ndecision = \"grant\"\n", "p.toml:1:15: capabilities.\"fs.read@65536\": malformed capability key: the major version `65536` is not a number from 0 to 65535"),
        // Structure.
        ("[capabilities.\"fs.read@1\"]\noptional = true\n", "p.toml:1:15: capabilities.\"fs.read@1\": missing `decision` (\"grant\", \"mock\" or \"deny\")"),
        ("[capabilities.\"fs.read@1\"]\ndecision = \"deny\"\npaths = [\"a/**\"]\n", "p.toml:3:1: capabilities.\"fs.read@1\".paths: `paths` scopes a grant; it is not allowed with decision = \"deny\""),
        ("[capabilities.\"kv.put@1\"]\ndecision = \"mock\"\nmax_bytes = 5\n", "p.toml:3:1: capabilities.\"kv.put@1\".max_bytes: `max_bytes` bounds a grant; it is not allowed with decision = \"mock\""),
        ("[capabilities.\"kv.put@1\"]\ndecision = \"grant\"\nmax_bytes = \"1MB\"\n", "p.toml:3:13: capabilities.\"kv.put@1\".max_bytes: expected an integer, found a string"),
        ("[capabilities.\"kv.put@1\"]\ndecision = \"grant\"\nmax_bytes = -1\n", "p.toml:3:13: capabilities.\"kv.put@1\".max_bytes: `max_bytes` cannot be negative"),
        ("[capabilities.\"clock.now@1\"]\ndecision = \"grant\"\nreturns = 5\n", "p.toml:3:1: capabilities.\"clock.now@1\".returns: `returns` gives a mock's values; it is not allowed with decision = \"grant\""),
        // TOML syntax errors come from the parser, with their position.
        ("[limits]\ninstructions = 1\ninstructions = 2\n", "p.toml:3:1: duplicate key"),
        ("[limits\n", "p.toml:1:8: unclosed table, expected `]`"),
    ];

    #[test]
    fn every_policy_error_names_file_line_and_key() {
        let mut failures = Vec::new();
        for (text, want) in ERRORS {
            match Policy::parse("p.toml", text) {
                Ok(_) => failures.push(format!("{text:?}: parsed, expected {want}")),
                Err(e) if e.to_string() != *want => {
                    failures.push(format!("{text:?}:\n  got  {e}\n  want {want}"))
                }
                Err(_) => {}
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn the_first_error_in_the_file_is_reported() {
        // `limits` sorts before `zzz`, but `zzz` comes first in the text.
        let err = Policy::parse("p.toml", "zzz = 1\n[limits]\nfuel = 1\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn a_full_policy_parses() {
        let text = "[limits]\ninstructions = 5_000_000\ncall_depth = 128\nregisters = 256\narray_len = 100_000\nstring_bytes = 1_048_576\n\n\
            [capabilities.\"fs.read@1\"]\ndecision = \"grant\"\npaths = [\"examples/data/**\"]\n\n\
            [capabilities.\"clock.now@1\"]\ndecision = \"mock\"\nreturns = [1700000000, 1700000042]\n\n\
            [capabilities.\"random.int@1\"]\ndecision = \"grant\"\noptional = true\n";
        let p = Policy::parse("p.toml", text).unwrap();
        assert_eq!(p.limits(), Limits::DEFAULT);
        assert_eq!(p.rules().count(), 3);
        let fs = p.rule("fs.read@1").unwrap();
        assert_eq!((fs.decision(), fs.line()), (Decision::Grant, 8));
        assert_eq!(fs.scope().unwrap().to_string(), "examples/data/**");
        assert!(p.rule("random.int@1").unwrap().optional());
        let clock = p.rule("clock.now@1").unwrap();
        assert_eq!(
            p.mock_values(clock, Some(&Type::Int), "clock.now@1.0"),
            Ok(vec![Value::Int(1700000000), Value::Int(1700000042)])
        );
    }

    fn mock(returns: &str, ret: Option<Type>) -> Result<String, String> {
        let text = format!("[capabilities.\"c@1\"]\ndecision = \"mock\"\n{returns}");
        let p = Policy::parse("p.toml", &text).map_err(|e| e.to_string())?;
        let values = p
            .mock_values(p.rule("c@1").unwrap(), ret.as_ref(), "c@1.0")
            .map_err(|e| e.to_string())?;
        Ok(values
            .iter()
            .map(|v| {
                if *v == Value::Unit {
                    "()".into()
                } else {
                    v.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" | "))
    }

    #[test]
    fn mock_values_are_typed_by_the_signature() {
        use Type::*;
        let strs = || Some(Type::array_of(Str));
        let cases: Vec<(&str, Option<Type>, Result<&str, &str>)> = vec![
            ("returns = 5\n", Some(Int), Ok("5")),
            ("returns = [1, 2, 3]\n", Some(Int), Ok("1 | 2 | 3")),
            ("returns = true\n", Some(Bool), Ok("true")),
            ("returns = \"hi\"\n", Some(Str), Ok("\"hi\"")),
            ("returns = [\"a\", \"b\"]\n", Some(Str), Ok("\"a\" | \"b\"")),
            ("", None, Ok("()")),
            // For an array result, `returns` is always a sequence.
            ("returns = [[\"a\", \"b\"]]\n", strs(), Ok("[\"a\", \"b\"]")),
            ("returns = [[\"a\"], [], [\"b\", \"c\"]]\n", strs(), Ok("[\"a\"] | [] | [\"b\", \"c\"]")),
            ("returns = [[[1], []]]\n", Some(Type::array_of(Type::array_of(Int))), Ok("[[1], []]")),
            ("returns = [\"a\", \"b\"]\n", strs(), Err("p.toml:3:12: capabilities.\"c@1\".returns[0]: expected [str], found a string (for a capability that returns an array, `returns` is a sequence of results: write [[...]] for one result)")),
            ("returns = \"a\"\n", strs(), Err("p.toml:3:11: capabilities.\"c@1\".returns: expected a sequence of [str] results, found a string: for a capability that returns an array, `returns` is always a sequence (write [[...]] for one result)")),
            // Wrong types, with the element's position.
            ("returns = [1, \"x\"]\n", Some(Int), Err("p.toml:3:15: capabilities.\"c@1\".returns[1]: expected int, found a string")),
            ("returns = \"5\"\n", Some(Int), Err("p.toml:3:11: capabilities.\"c@1\".returns: expected int, found a string")),
            ("returns = [[\"a\", 1]]\n", strs(), Err("p.toml:3:18: capabilities.\"c@1\".returns[0][1]: expected str, found an integer")),
            ("returns = []\n", Some(Int), Err("p.toml:3:11: capabilities.\"c@1\".returns: `returns` is empty: give at least one value")),
            ("returns = 1\n", None, Err("p.toml:3:1: capabilities.\"c@1\".returns: c@1.0 returns unit: a mock of it takes no `returns`")),
            ("", Some(Int), Err("p.toml:1:15: capabilities.\"c@1\": a mock needs `returns`: a sequence of int results")),
        ];
        let mut failures = Vec::new();
        for (returns, ret, want) in cases {
            let got = mock(returns, ret.clone());
            let want = want.map(str::to_owned).map_err(str::to_owned);
            if got != want {
                failures.push(format!(
                    "{returns:?} as {ret:?}:\n  got  {got:?}\n  want {want:?}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
