//! A tree-walking reference evaluator for checked `.chr` programs.
//!
//! It is deliberately simple and slow: values are plain Rust values and are
//! cloned wherever the language copies (assignment, argument passing, reading
//! a variable), which gives value semantics by construction. It exists to pin
//! down the semantics of SPEC §3 and to be the oracle the compiled VM is
//! differentially tested against.
//!
//! Semantic choices the spec leaves open, decided here:
//! - Evaluation is left to right everywhere: operands, arguments, array
//!   literal elements, `a..b` bounds (each evaluated once, before the loop).
//! - Assignment `xs[i][j] = e` evaluates the indices `i`, `j` left to right,
//!   then `e`, and only then checks the indices against the array as it is at
//!   that moment and stores. `push(xs[i], v)` likewise evaluates `i`, then `v`,
//!   then checks and pushes; `pop(xs[i])` evaluates `i`, then checks and pops.
//!   Reading `xs[i][j]` checks `i` before evaluating `j`.
//! - `/` truncates toward zero, `%` has the dividend's sign, both are
//!   `division by zero` on a zero divisor; `i64::MIN / -1` and `-i64::MIN`
//!   are `integer overflow`, while `i64::MIN % -1` is `0` (the result is
//!   representable).
//! - `parse_int` accepts exactly what Rust's `i64::from_str` accepts (an
//!   optional `+` or `-`, then ASCII digits; no spaces); anything else,
//!   including out-of-range numbers, is `invalid number`.
//! - `split(s, sep)` behaves like Rust's `str::split` (`split("a,", ",")` is
//!   `["a", ""]`, `split("", ",")` is `[""]`); an empty `sep` is `invalid argument`.
//! - `contains(s, "")` is `true`.
//! - `substr(s, start, end)`: `start < 0`, `end < 0`, `start > len` or
//!   `end > len` is `index out of range`; otherwise `start > end`, or an
//!   offset inside a multi-byte character, is `invalid argument`.
//! - `assert(c, msg)` evaluates both arguments, then fails with
//!   `assertion failed: <msg>` if `c` is false.
//! - In `for i in a..b`, the loop counter is hidden: assigning to `i` in the
//!   body changes `i` for the rest of that iteration only.
//! - A capability with no scripted result that returns unit succeeds with
//!   unit; one that returns a value fails with `capability error`.

use std::fmt;

use chronicle_lang::ast::*;
use chronicle_lang::{Builtin, CheckedProgram, FnId, LocalId, Resolution};

/// A runtime value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
    Unit,
}

impl Value {
    /// The value as the CLI prints a result: `42`, `"a\n"`, `[1, 2]`; unit is `unit`.
    pub fn literal(&self) -> String {
        let mut out = String::new();
        self.write_literal(&mut out);
        out
    }

    fn write_literal(&self, out: &mut String) {
        match self {
            Value::Int(v) => out.push_str(&v.to_string()),
            Value::Bool(b) => out.push_str(&b.to_string()),
            Value::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_literal(out);
                }
                out.push(']');
            }
            Value::Unit => out.push_str("unit"),
        }
    }

    fn int(&self) -> i64 {
        match self {
            Value::Int(v) => *v,
            other => unreachable!("checked program: expected int, got {other:?}"),
        }
    }

    fn bool(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            other => unreachable!("checked program: expected bool, got {other:?}"),
        }
    }

    fn into_str(self) -> String {
        match self {
            Value::Str(s) => s,
            other => unreachable!("checked program: expected str, got {other:?}"),
        }
    }

    fn into_array(self) -> Vec<Value> {
        match self {
            Value::Array(items) => items,
            other => unreachable!("checked program: expected array, got {other:?}"),
        }
    }
}

/// Which sandbox limit stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The step budget (the reference's stand-in for instructions).
    Instructions,
    CallDepth,
    ArrayLen,
    StringBytes,
}

/// A runtime error; `Display` gives the exact words of SPEC §8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeError {
    IntegerOverflow,
    DivisionByZero,
    IndexOutOfRange,
    InvalidNumber,
    InvalidArgument,
    EmptyArray,
    AssertionFailed(String),
    CapabilityError,
    LimitExceeded(Limit),
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::IntegerOverflow => f.write_str("integer overflow"),
            RuntimeError::DivisionByZero => f.write_str("division by zero"),
            RuntimeError::IndexOutOfRange => f.write_str("index out of range"),
            RuntimeError::InvalidNumber => f.write_str("invalid number"),
            RuntimeError::InvalidArgument => f.write_str("invalid argument"),
            RuntimeError::EmptyArray => f.write_str("empty array"),
            RuntimeError::AssertionFailed(msg) => write!(f, "assertion failed: {msg}"),
            RuntimeError::CapabilityError => f.write_str("capability error"),
            RuntimeError::LimitExceeded(limit) => {
                let name = match limit {
                    Limit::Instructions => "instructions",
                    Limit::CallDepth => "call_depth",
                    Limit::ArrayLen => "array_len",
                    Limit::StringBytes => "string_bytes",
                };
                write!(f, "limit exceeded: {name}")
            }
        }
    }
}

/// Answers capability calls; tests script it.
pub trait Host {
    /// Calls capability `name@major` with `args`; `Err` is a capability error.
    fn call(&mut self, name: &str, version: Version, args: &[Value]) -> Result<Value, ()>;
}

/// Bounds on a run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub steps: u64,
    pub call_depth: u32,
    pub array_len: usize,
    pub string_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            steps: 5_000_000,
            call_depth: 128,
            array_len: 100_000,
            string_bytes: 1_048_576,
        }
    }
}

/// Runs `main` of a checked program.
pub fn run(
    program: &CheckedProgram,
    host: &mut dyn Host,
    limits: Limits,
) -> Result<Value, RuntimeError> {
    let mut eval = Eval {
        program,
        host,
        limits,
        steps: 0,
        depth: 0,
    };
    eval.call(program.main, Vec::new())
}

type R<T> = Result<T, RuntimeError>;

enum Flow {
    Normal,
    Break,
    Continue,
    Return(Value),
}

struct Eval<'a> {
    program: &'a CheckedProgram,
    host: &'a mut dyn Host,
    limits: Limits,
    steps: u64,
    depth: u32,
}

impl Eval<'_> {
    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > self.limits.steps {
            return Err(RuntimeError::LimitExceeded(Limit::Instructions));
        }
        Ok(())
    }

    fn check_str(&self, s: String) -> R<Value> {
        if s.len() > self.limits.string_bytes {
            return Err(RuntimeError::LimitExceeded(Limit::StringBytes));
        }
        Ok(Value::Str(s))
    }

    fn check_len(&self, len: usize) -> R<()> {
        if len > self.limits.array_len {
            return Err(RuntimeError::LimitExceeded(Limit::ArrayLen));
        }
        Ok(())
    }

    fn call(&mut self, id: FnId, args: Vec<Value>) -> R<Value> {
        if self.depth >= self.limits.call_depth {
            return Err(RuntimeError::LimitExceeded(Limit::CallDepth));
        }
        self.depth += 1;
        let (decl, info) = self.program.function(id);
        let mut frame = vec![Value::Unit; info.locals.len()];
        for (slot, arg) in frame.iter_mut().zip(args) {
            *slot = arg;
        }
        let flow = self.block(&mut frame, &decl.body);
        self.depth -= 1;
        match flow? {
            Flow::Return(value) => Ok(value),
            // The checker guarantees only unit functions fall off their end.
            _ => Ok(Value::Unit),
        }
    }

    fn slot(&self, binding: BindingId) -> usize {
        self.program.binding(binding).0 as usize
    }

    fn block(&mut self, frame: &mut [Value], block: &Block) -> R<Flow> {
        for stmt in &block.stmts {
            match self.stmt(frame, stmt)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn stmt(&mut self, frame: &mut [Value], stmt: &Stmt) -> R<Flow> {
        self.step()?;
        match &stmt.kind {
            StmtKind::Let { binding, init, .. } => {
                let value = self.expr(frame, init)?;
                frame[self.slot(*binding)] = value;
            }
            StmtKind::Assign { target, value } => {
                let (local, indices) = self.place_indices(frame, target)?;
                let value = self.expr(frame, value)?;
                *place_mut(frame, local, &indices)? = value;
            }
            StmtKind::Expr(expr) => {
                self.expr(frame, expr)?;
            }
            StmtKind::If(if_stmt) => return self.if_stmt(frame, if_stmt),
            StmtKind::While { cond, body } => loop {
                self.step()?;
                if !self.expr(frame, cond)?.bool() {
                    break;
                }
                match self.block(frame, body)? {
                    Flow::Break => break,
                    Flow::Return(v) => return Ok(Flow::Return(v)),
                    Flow::Normal | Flow::Continue => {}
                }
            },
            StmtKind::ForRange {
                binding,
                start,
                end,
                body,
                ..
            } => {
                let start = self.expr(frame, start)?.int();
                let end = self.expr(frame, end)?.int();
                let slot = self.slot(*binding);
                let mut i = start;
                while i < end {
                    self.step()?;
                    frame[slot] = Value::Int(i);
                    match self.block(frame, body)? {
                        Flow::Break => break,
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Normal | Flow::Continue => {}
                    }
                    i += 1; // cannot overflow: i < end <= i64::MAX
                }
            }
            StmtKind::ForEach {
                binding,
                iterable,
                body,
                ..
            } => {
                let items = self.expr(frame, iterable)?.into_array();
                let slot = self.slot(*binding);
                for item in items {
                    self.step()?;
                    frame[slot] = item;
                    match self.block(frame, body)? {
                        Flow::Break => break,
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Normal | Flow::Continue => {}
                    }
                }
            }
            StmtKind::Break => return Ok(Flow::Break),
            StmtKind::Continue => return Ok(Flow::Continue),
            StmtKind::Return(value) => {
                let value = match value {
                    Some(e) => self.expr(frame, e)?,
                    None => Value::Unit,
                };
                return Ok(Flow::Return(value));
            }
            StmtKind::Block(block) => return self.block(frame, block),
        }
        Ok(Flow::Normal)
    }

    fn if_stmt(&mut self, frame: &mut [Value], if_stmt: &IfStmt) -> R<Flow> {
        if self.expr(frame, &if_stmt.cond)?.bool() {
            return self.block(frame, &if_stmt.then_block);
        }
        match &if_stmt.else_branch {
            Some(Else::If(next)) => self.if_stmt(frame, next),
            Some(Else::Block(block)) => self.block(frame, block),
            None => Ok(Flow::Normal),
        }
    }

    /// Evaluates the index expressions of a place, outermost array first.
    fn place_indices(&mut self, frame: &mut [Value], place: &Expr) -> R<(usize, Vec<i64>)> {
        match &place.kind {
            ExprKind::Var(_) => Ok((self.local(place).0 as usize, Vec::new())),
            ExprKind::Index { base, index } => {
                let (local, mut indices) = self.place_indices(frame, base)?;
                indices.push(self.expr(frame, index)?.int());
                Ok((local, indices))
            }
            other => unreachable!("checked program: not a place: {other:?}"),
        }
    }

    fn local(&self, expr: &Expr) -> LocalId {
        match self.program.resolution(expr.id) {
            Some(Resolution::Local(id)) => id,
            other => unreachable!("checked program: variable resolved to {other:?}"),
        }
    }

    fn expr(&mut self, frame: &mut [Value], expr: &Expr) -> R<Value> {
        self.step()?;
        match &expr.kind {
            ExprKind::Int(v) => Ok(Value::Int(*v)),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::Array(elems) => {
                let mut items = Vec::with_capacity(elems.len());
                for elem in elems {
                    items.push(self.expr(frame, elem)?);
                }
                self.check_len(items.len())?;
                Ok(Value::Array(items))
            }
            ExprKind::Var(_) => Ok(frame[self.local(expr).0 as usize].clone()),
            ExprKind::Unary { op, operand } => {
                let v = self.expr(frame, operand)?;
                match op {
                    UnaryOp::Neg => v
                        .int()
                        .checked_neg()
                        .map(Value::Int)
                        .ok_or(RuntimeError::IntegerOverflow),
                    UnaryOp::Not => Ok(Value::Bool(!v.bool())),
                }
            }
            ExprKind::Binary { op, lhs, rhs, .. } => self.binary(frame, *op, lhs, rhs),
            ExprKind::Index { base, index } => {
                let items = self.expr(frame, base)?.into_array();
                let i = self.expr(frame, index)?.int();
                let i = usize::try_from(i).map_err(|_| RuntimeError::IndexOutOfRange)?;
                items
                    .into_iter()
                    .nth(i)
                    .ok_or(RuntimeError::IndexOutOfRange)
            }
            ExprKind::Call { args, .. } => self.call_expr(frame, expr, args),
        }
    }

    fn binary(&mut self, frame: &mut [Value], op: BinaryOp, lhs: &Expr, rhs: &Expr) -> R<Value> {
        let l = self.expr(frame, lhs)?;
        match op {
            BinaryOp::And if !l.bool() => return Ok(Value::Bool(false)),
            BinaryOp::Or if l.bool() => return Ok(Value::Bool(true)),
            _ => {}
        }
        let r = self.expr(frame, rhs)?;
        let overflow = RuntimeError::IntegerOverflow;
        Ok(match op {
            BinaryOp::And | BinaryOp::Or => r,
            BinaryOp::Eq => Value::Bool(l == r),
            BinaryOp::Ne => Value::Bool(l != r),
            BinaryOp::Lt => Value::Bool(l.int() < r.int()),
            BinaryOp::Le => Value::Bool(l.int() <= r.int()),
            BinaryOp::Gt => Value::Bool(l.int() > r.int()),
            BinaryOp::Ge => Value::Bool(l.int() >= r.int()),
            BinaryOp::Add => match (l, r) {
                (Value::Str(a), Value::Str(b)) => self.check_str(a + &b)?,
                (a, b) => Value::Int(a.int().checked_add(b.int()).ok_or(overflow)?),
            },
            BinaryOp::Sub => Value::Int(l.int().checked_sub(r.int()).ok_or(overflow)?),
            BinaryOp::Mul => Value::Int(l.int().checked_mul(r.int()).ok_or(overflow)?),
            BinaryOp::Div => {
                let (a, b) = (l.int(), r.int());
                if b == 0 {
                    return Err(RuntimeError::DivisionByZero);
                }
                Value::Int(a.checked_div(b).ok_or(overflow)?)
            }
            BinaryOp::Rem => {
                let (a, b) = (l.int(), r.int());
                if b == 0 {
                    return Err(RuntimeError::DivisionByZero);
                }
                // i64::MIN % -1 is 0: representable, so not an overflow.
                Value::Int(a.wrapping_rem(b))
            }
        })
    }

    fn call_expr(&mut self, frame: &mut [Value], call: &Expr, args: &[Expr]) -> R<Value> {
        let resolution = self
            .program
            .resolution(call.id)
            .expect("checked program: every call is resolved");
        match resolution {
            Resolution::Builtin(builtin) => self.builtin(frame, builtin, args),
            Resolution::Function(id) => {
                let values = self.args(frame, args)?;
                self.call(id, values)
            }
            Resolution::Capability(id) => {
                let values = self.args(frame, args)?;
                let info = &self.program.capabilities[id.0 as usize];
                self.host
                    .call(&info.name, info.version, &values)
                    .map_err(|()| RuntimeError::CapabilityError)
            }
            Resolution::Local(_) => unreachable!("checked program: call of a local"),
        }
    }

    fn args(&mut self, frame: &mut [Value], args: &[Expr]) -> R<Vec<Value>> {
        args.iter().map(|arg| self.expr(frame, arg)).collect()
    }

    fn builtin(&mut self, frame: &mut [Value], builtin: Builtin, args: &[Expr]) -> R<Value> {
        match builtin {
            Builtin::Push => {
                let (local, indices) = self.place_indices(frame, &args[0])?;
                let value = self.expr(frame, &args[1])?;
                let limit = self.limits.array_len;
                match place_mut(frame, local, &indices)? {
                    Value::Array(items) => {
                        if items.len() >= limit {
                            return Err(RuntimeError::LimitExceeded(Limit::ArrayLen));
                        }
                        items.push(value);
                    }
                    other => unreachable!("checked program: push onto {other:?}"),
                }
                return Ok(Value::Unit);
            }
            Builtin::Pop => {
                let (local, indices) = self.place_indices(frame, &args[0])?;
                return match place_mut(frame, local, &indices)? {
                    Value::Array(items) => items.pop().ok_or(RuntimeError::EmptyArray),
                    other => unreachable!("checked program: pop from {other:?}"),
                };
            }
            _ => {}
        }
        let mut values = self.args(frame, args)?.into_iter();
        let mut next = || values.next().expect("checked program: arity");
        Ok(match builtin {
            Builtin::Len => match next() {
                Value::Str(s) => Value::Int(s.len() as i64),
                Value::Array(items) => Value::Int(items.len() as i64),
                other => unreachable!("checked program: len of {other:?}"),
            },
            Builtin::Str => match next() {
                Value::Int(v) => Value::Str(v.to_string()),
                Value::Bool(b) => Value::Str(b.to_string()),
                other => unreachable!("checked program: str of {other:?}"),
            },
            Builtin::ParseInt => {
                let s = next().into_str();
                Value::Int(s.parse::<i64>().map_err(|_| RuntimeError::InvalidNumber)?)
            }
            Builtin::Split => {
                let (s, sep) = (next().into_str(), next().into_str());
                if sep.is_empty() {
                    return Err(RuntimeError::InvalidArgument);
                }
                let parts: Vec<Value> = s
                    .split(sep.as_str())
                    .map(|p| Value::Str(p.to_owned()))
                    .collect();
                self.check_len(parts.len())?;
                Value::Array(parts)
            }
            Builtin::Contains => {
                let (s, sub) = (next().into_str(), next().into_str());
                Value::Bool(s.contains(sub.as_str()))
            }
            Builtin::Substr => {
                let (s, start, end) = (next().into_str(), next().int(), next().int());
                let len = s.len() as i64;
                if start < 0 || end < 0 || start > len || end > len {
                    return Err(RuntimeError::IndexOutOfRange);
                }
                let (start, end) = (start as usize, end as usize);
                match s.get(start..end) {
                    Some(piece) if start <= end => Value::Str(piece.to_owned()),
                    _ => return Err(RuntimeError::InvalidArgument),
                }
            }
            Builtin::Assert => {
                let (cond, msg) = (next().bool(), next().into_str());
                if !cond {
                    return Err(RuntimeError::AssertionFailed(msg));
                }
                Value::Unit
            }
            Builtin::Push | Builtin::Pop => unreachable!("handled above"),
        })
    }
}

/// The value a place names, after bounds checks, outermost index first.
fn place_mut<'f>(frame: &'f mut [Value], local: usize, indices: &[i64]) -> R<&'f mut Value> {
    let mut value = &mut frame[local];
    for &i in indices {
        let Value::Array(items) = value else {
            unreachable!("checked program: index into a non-array place")
        };
        let i = usize::try_from(i).map_err(|_| RuntimeError::IndexOutOfRange)?;
        value = items.get_mut(i).ok_or(RuntimeError::IndexOutOfRange)?;
    }
    Ok(value)
}
