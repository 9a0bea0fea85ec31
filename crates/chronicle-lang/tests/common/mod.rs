//! Test support shared by the integration tests: the reference evaluator,
//! the random program generator, the large-program generator, compiled
//! execution on the VM and the `.chr` script harness.
#![allow(dead_code)]

pub mod big;
pub mod compiled;
pub mod gen;
pub mod reference;

use std::collections::HashMap;

use chronicle_lang::ast::Version;
use chronicle_lang::{check_source, render_diagnostics, RenderConfig};
use reference::{Host, Limits, RuntimeError, Value};

/// What running a source text gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `main` returned this value.
    Value(Value),
    /// The run stopped with a runtime error.
    RuntimeError(RuntimeError),
    /// The program did not compile; the rendered diagnostics.
    CompileError(String),
}

/// Checks `src` and runs it on the reference evaluator, on a thread with a
/// generous stack so deep (bounded) recursion is safe in debug builds.
pub fn run_source(name: &str, src: &str, host: &mut (dyn Host + Send), limits: Limits) -> Outcome {
    let checked = match check_source(name, src) {
        Ok(checked) => checked,
        Err(errors) => {
            return Outcome::CompileError(render_diagnostics(
                name,
                src,
                &errors,
                RenderConfig::default(),
            ))
        }
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(scope, || match reference::run(&checked, host, limits) {
                Ok(value) => Outcome::Value(value),
                Err(error) => Outcome::RuntimeError(error),
            })
            .expect("spawn evaluator thread")
            .join()
            .expect("evaluator panicked")
    })
}

/// A scripted result for one capability call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mock {
    Returns(Value),
    Fails,
}

/// A capability host answering from `// mock:` lines: successive calls take
/// successive results, and the last one repeats. Every call is recorded.
#[derive(Clone, Debug, Default)]
pub struct ScriptHost {
    mocks: HashMap<String, Vec<Mock>>,
    used: HashMap<String, usize>,
    pub calls: Vec<(String, Vec<Value>)>,
}

impl ScriptHost {
    /// Adds a result for `key` (`name@major`).
    pub fn mock(&mut self, key: &str, mock: Mock) {
        self.mocks.entry(key.to_owned()).or_default().push(mock);
    }
}

impl Host for ScriptHost {
    fn call(&mut self, name: &str, version: Version, args: &[Value]) -> Result<Value, ()> {
        let key = format!("{name}@{}", version.major);
        self.calls.push((key.clone(), args.to_vec()));
        let Some(results) = self.mocks.get(&key) else {
            // Unscripted: unit capabilities (like `log.write`) succeed.
            return if name == "log.write" || name == "kv.put" {
                Ok(Value::Unit)
            } else {
                Err(())
            };
        };
        let n = self.used.entry(key).or_default();
        let mock = &results[(*n).min(results.len() - 1)];
        *n += 1;
        match mock {
            Mock::Returns(v) => Ok(v.clone()),
            Mock::Fails => Err(()),
        }
    }
}

/// What a corpus script expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `// expect: <literal>` (or `unit`).
    Value(String),
    /// `// expect runtime error: <words>`.
    RuntimeError(String),
}

/// A parsed corpus script: its expectation and its mocks.
#[derive(Clone, Debug)]
pub struct Script {
    pub expect: Expect,
    pub host: ScriptHost,
}

/// Reads the `// expect...` and `// mock: name@major = <literal|error>` lines.
pub fn parse_script(src: &str) -> Result<Script, String> {
    let mut expect = None;
    let mut host = ScriptHost::default();
    for line in src.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("// expect runtime error:") {
            expect = Some(Expect::RuntimeError(rest.trim().to_owned()));
        } else if let Some(rest) = line.strip_prefix("// expect:") {
            expect = Some(Expect::Value(rest.trim().to_owned()));
        } else if let Some(rest) = line.strip_prefix("// mock:") {
            let (key, value) = rest
                .split_once('=')
                .ok_or_else(|| format!("bad mock line: {line}"))?;
            let value = value.trim();
            let mock = if value == "error" {
                Mock::Fails
            } else {
                Mock::Returns(
                    parse_literal(value).ok_or_else(|| format!("bad mock value: {value}"))?,
                )
            };
            host.mock(key.trim(), mock);
        }
    }
    let expect = expect.ok_or("no `// expect:` line")?;
    Ok(Script { expect, host })
}

/// Parses a value literal as printed by [`Value::literal`]: an int, `true`,
/// `false`, a string with `\n \t \" \\` escapes, or an array of those.
pub fn parse_literal(text: &str) -> Option<Value> {
    let mut chars = text.trim().chars().peekable();
    let value = literal(&mut chars)?;
    chars.all(char::is_whitespace).then_some(value)
}

fn literal(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<Value> {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    match *chars.peek()? {
        '"' => {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next()? {
                    '"' => return Some(Value::Str(s)),
                    '\\' => s.push(match chars.next()? {
                        'n' => '\n',
                        't' => '\t',
                        c => c,
                    }),
                    c => s.push(c),
                }
            }
        }
        '[' => {
            chars.next();
            let mut items = Vec::new();
            loop {
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                if chars.next_if_eq(&']').is_some() {
                    return Some(Value::Array(items));
                }
                items.push(literal(chars)?);
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                chars.next_if_eq(&',');
            }
        }
        _ => {
            let mut word = String::new();
            while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '-') {
                word.push(c);
            }
            match word.as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                w => w.parse().ok().map(Value::Int),
            }
        }
    }
}
