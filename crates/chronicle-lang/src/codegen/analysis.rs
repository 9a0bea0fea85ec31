//! Syntactic facts the code generator asks about a function before or while
//! it compiles it: which locals are mutated in place, whether a loop body
//! writes a variable, whether an expression pops from one, and which
//! literals a loop should keep in registers.
//!
//! Everything here is a pure walk over the checked syntax tree; nothing
//! emits code. Walks are bounded by the parser's nesting limit.

use std::collections::HashSet;

use crate::ast::{BinaryOp, Block, Else, Expr, ExprKind, Stmt, StmtKind};
use crate::check::{Builtin, CheckedProgram, LocalId, Resolution};
use crate::types::Type;

/// A literal value that a loop may keep in a register for its whole run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Lit {
    /// An `int` literal.
    Int(i64),
    /// A `bool` literal.
    Bool(bool),
    /// A (short) `str` literal.
    Str(String),
}

/// String literals longer than this are never hoisted out of a loop: loading
/// one checks the `string_bytes` limit, which must only happen where the
/// program actually evaluates the literal.
pub(super) const MAX_HOISTED_STR: usize = 32;

/// Whether `v` fits the 16-bit immediate of `ldi` / `addi`.
pub(super) fn fits_imm(v: i64) -> bool {
    i16::try_from(v).is_ok()
}

/// Calls `f` on `e` and every expression nested in it; stops at the first `true`.
pub(super) fn any_expr(e: &Expr, f: &mut dyn FnMut(&Expr) -> bool) -> bool {
    if f(e) {
        return true;
    }
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Var(_) => false,
        ExprKind::Array(items) => items.iter().any(|x| any_expr(x, f)),
        ExprKind::Unary { operand, .. } => any_expr(operand, f),
        ExprKind::Binary { lhs, rhs, .. } => any_expr(lhs, f) || any_expr(rhs, f),
        ExprKind::Call { args, .. } => args.iter().any(|x| any_expr(x, f)),
        ExprKind::Index { base, index } => any_expr(base, f) || any_expr(index, f),
    }
}

/// Calls `on_stmt` on every statement of `block` (nested ones included) and
/// `on_expr` on every expression in them; stops at the first `true`.
pub(super) fn any_in_block(
    block: &Block,
    on_stmt: &mut dyn FnMut(&Stmt) -> bool,
    on_expr: &mut dyn FnMut(&Expr) -> bool,
) -> bool {
    block.stmts.iter().any(|s| any_in_stmt(s, on_stmt, on_expr))
}

fn any_in_stmt(
    stmt: &Stmt,
    on_stmt: &mut dyn FnMut(&Stmt) -> bool,
    on_expr: &mut dyn FnMut(&Expr) -> bool,
) -> bool {
    if on_stmt(stmt) {
        return true;
    }
    match &stmt.kind {
        StmtKind::Let { init, .. } => any_expr(init, on_expr),
        StmtKind::Assign { target, value } => any_expr(target, on_expr) || any_expr(value, on_expr),
        StmtKind::Expr(e) => any_expr(e, on_expr),
        StmtKind::If(if_stmt) => {
            let mut next = Some(if_stmt);
            while let Some(s) = next {
                if any_expr(&s.cond, on_expr) || any_in_block(&s.then_block, on_stmt, on_expr) {
                    return true;
                }
                next = match &s.else_branch {
                    Some(Else::If(inner)) => Some(inner),
                    Some(Else::Block(b)) => return any_in_block(b, on_stmt, on_expr),
                    None => None,
                };
            }
            false
        }
        StmtKind::While { cond, body } => {
            any_expr(cond, on_expr) || any_in_block(body, on_stmt, on_expr)
        }
        StmtKind::ForRange {
            start, end, body, ..
        } => {
            any_expr(start, on_expr)
                || any_expr(end, on_expr)
                || any_in_block(body, on_stmt, on_expr)
        }
        StmtKind::ForEach { iterable, body, .. } => {
            any_expr(iterable, on_expr) || any_in_block(body, on_stmt, on_expr)
        }
        StmtKind::Return(Some(e)) => any_expr(e, on_expr),
        StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => false,
        StmtKind::Block(b) => any_in_block(b, on_stmt, on_expr),
    }
}

/// The local a place (`x`, `x[i]`, `x[i][j]`, ...) is rooted at.
pub(super) fn place_root(p: &CheckedProgram, e: &Expr) -> Option<LocalId> {
    let mut cur = e;
    loop {
        match &cur.kind {
            ExprKind::Var(_) => {
                return match p.resolution(cur.id) {
                    Some(Resolution::Local(l)) => Some(l),
                    _ => None,
                }
            }
            ExprKind::Index { base, .. } => cur = base,
            _ => return None,
        }
    }
}

/// The builtin an expression calls, if it is a builtin call.
pub(super) fn builtin_of(p: &CheckedProgram, e: &Expr) -> Option<Builtin> {
    match (&e.kind, p.resolution(e.id)) {
        (ExprKind::Call { .. }, Some(Resolution::Builtin(b))) => Some(b),
        _ => None,
    }
}

/// The local a variable expression names.
pub(super) fn var_local(p: &CheckedProgram, e: &Expr) -> Option<LocalId> {
    match (&e.kind, p.resolution(e.id)) {
        (ExprKind::Var(_), Some(Resolution::Local(l))) => Some(l),
        _ => None,
    }
}

/// The place argument of a `push` or `pop` call.
fn mutated_place<'e>(p: &CheckedProgram, e: &'e Expr) -> Option<&'e Expr> {
    match (&e.kind, builtin_of(p, e)) {
        (ExprKind::Call { args, .. }, Some(Builtin::Push | Builtin::Pop)) => args.first(),
        _ => None,
    }
}

/// The leaves of a left-nested chain of `str` concatenations
/// (`((a + b) + c) + d` gives `a, b, c, d`), each with the line-giving
/// operator span of the `+` that appends it (`None` for the first leaf).
pub(super) fn concat_leaves<'e>(
    p: &CheckedProgram,
    e: &'e Expr,
) -> Vec<(&'e Expr, Option<crate::span::Span>)> {
    let mut leaves = Vec::new();
    let mut cur = e;
    while let ExprKind::Binary {
        op: BinaryOp::Add,
        op_span,
        lhs,
        rhs,
    } = &cur.kind
    {
        if *p.expr_type(cur.id) != Type::Str {
            break;
        }
        leaves.push((&**rhs, Some(*op_span)));
        cur = lhs;
    }
    leaves.push((cur, None));
    leaves.reverse();
    leaves
}

/// Locals whose register a function mutates in place: the roots of `push`,
/// `pop` and element assignments, and strings appended to with
/// `s = s + ...`. A temporary that shares such a local's value (or one of
/// its elements) is cleared when it dies, so that the next in-place
/// mutation finds the value uniquely owned instead of copying it.
pub(super) fn mutated_in_place(p: &CheckedProgram, body: &Block) -> HashSet<LocalId> {
    let mut from_stmts = Vec::new();
    let mut from_exprs = Vec::new();
    any_in_block(
        body,
        &mut |s| {
            if let StmtKind::Assign { target, value } = &s.kind {
                match &target.kind {
                    ExprKind::Index { .. } => from_stmts.extend(place_root(p, target)),
                    ExprKind::Var(_) if *p.expr_type(value.id) == Type::Str => {
                        let leaves = concat_leaves(p, value);
                        let target = var_local(p, target);
                        if leaves.len() > 1
                            && target.is_some()
                            && var_local(p, leaves[0].0) == target
                        {
                            from_stmts.extend(target);
                        }
                    }
                    _ => {}
                }
            }
            false
        },
        &mut |e| {
            if let Some(place) = mutated_place(p, e) {
                from_exprs.extend(place_root(p, place));
            }
            false
        },
    );
    from_stmts.into_iter().chain(from_exprs).collect()
}

/// Whether `block` may change local `l` in any way: assign it or one of its
/// elements, push to or pop from it.
pub(super) fn block_writes(p: &CheckedProgram, block: &Block, l: LocalId) -> bool {
    any_in_block(
        block,
        &mut |s| matches!(&s.kind, StmtKind::Assign { target, .. } if place_root(p, target) == Some(l)),
        &mut |e| mutated_place(p, e).is_some_and(|place| place_root(p, place) == Some(l)),
    )
}

/// Whether `block` contains a `continue` of the loop it is the body of
/// (not of a nested loop).
pub(super) fn continues(block: &Block) -> bool {
    block.stmts.iter().any(|s| match &s.kind {
        StmtKind::Continue => true,
        StmtKind::Block(b) => continues(b),
        StmtKind::If(if_stmt) => {
            let mut next = Some(if_stmt);
            while let Some(s) = next {
                if continues(&s.then_block) {
                    return true;
                }
                next = match &s.else_branch {
                    Some(Else::If(inner)) => Some(inner),
                    Some(Else::Block(b)) => return continues(b),
                    None => None,
                };
            }
            false
        }
        _ => false,
    })
}

/// Whether `stmt` is `v = v + 1` (or `v = 1 + v`) for local `v`.
pub(super) fn is_increment(p: &CheckedProgram, stmt: &Stmt, v: LocalId) -> bool {
    let StmtKind::Assign { target, value } = &stmt.kind else {
        return false;
    };
    let ExprKind::Binary {
        op: BinaryOp::Add,
        lhs,
        rhs,
        ..
    } = &value.kind
    else {
        return false;
    };
    let one = |e: &Expr| matches!(e.kind, ExprKind::Int(1));
    let is_v = |e: &Expr| var_local(p, e) == Some(v);
    is_v(target) && ((is_v(lhs) && one(rhs)) || (one(lhs) && is_v(rhs)))
}

/// Whether evaluating `e` may pop from local `l` (the only way an
/// expression changes a variable).
pub(super) fn pops_from(p: &CheckedProgram, e: &Expr, l: LocalId) -> bool {
    any_expr(e, &mut |x| {
        builtin_of(p, x) == Some(Builtin::Pop)
            && mutated_place(p, x).is_some_and(|place| place_root(p, place) == Some(l))
    })
}

/// Whether `e` reads local `l`.
pub(super) fn reads(p: &CheckedProgram, e: &Expr, l: LocalId) -> bool {
    any_expr(e, &mut |x| var_local(p, x) == Some(l))
}

/// Whether compiling `e` may use a scratch register: it indexes with an
/// array-typed result (a nested read, or a `push`/`pop` on an element).
pub(super) fn uses_scratch(p: &CheckedProgram, e: &Expr) -> bool {
    any_expr(e, &mut |x| {
        matches!(x.kind, ExprKind::Index { .. }) && matches!(p.expr_type(x.id), Type::Array(_))
    })
}

/// The literals of a loop (its condition and body, nested loops included)
/// that the code generator would otherwise load into a register on every
/// iteration, in order of first appearance.
pub(super) fn loop_literals(p: &CheckedProgram, cond: Option<&Expr>, body: &Block) -> Vec<Lit> {
    let mut found = LoopLiterals { p, out: Vec::new() };
    if let Some(c) = cond {
        found.cond(c);
    }
    found.block(body);
    found.out
}

struct LoopLiterals<'p> {
    p: &'p CheckedProgram,
    out: Vec<Lit>,
}

impl LoopLiterals<'_> {
    fn add(&mut self, lit: Lit) {
        if !self.out.contains(&lit) {
            self.out.push(lit);
        }
    }

    fn block(&mut self, block: &Block) {
        for stmt in &block.stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Let { init, .. } => self.expr(init, false),
            StmtKind::Assign { target, value } => match &target.kind {
                ExprKind::Index { .. } => {
                    self.place(target);
                    self.expr(value, true);
                }
                _ => self.expr(value, false),
            },
            StmtKind::Expr(e) => self.expr(e, true),
            StmtKind::If(if_stmt) => {
                let mut next = Some(if_stmt);
                while let Some(s) = next {
                    self.cond(&s.cond);
                    self.block(&s.then_block);
                    next = match &s.else_branch {
                        Some(Else::If(inner)) => Some(inner),
                        Some(Else::Block(b)) => {
                            self.block(b);
                            None
                        }
                        None => None,
                    };
                }
            }
            StmtKind::While { cond, body } => {
                self.cond(cond);
                self.block(body);
            }
            StmtKind::ForRange {
                start, end, body, ..
            } => {
                self.expr(start, false);
                self.expr(end, true);
                self.block(body);
            }
            StmtKind::ForEach { iterable, body, .. } => {
                self.expr(iterable, true);
                self.block(body);
            }
            StmtKind::Return(Some(e)) => self.expr(e, false),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
            StmtKind::Block(b) => self.block(b),
        }
    }

    fn place(&mut self, e: &Expr) {
        if let ExprKind::Index { base, index } = &e.kind {
            self.place(base);
            self.expr(index, true);
        }
    }

    fn cond(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Bool(_) => {}
            ExprKind::Unary { operand, .. } => self.cond(operand),
            ExprKind::Binary {
                op: BinaryOp::And | BinaryOp::Or,
                lhs,
                rhs,
                ..
            } => {
                self.cond(lhs);
                self.cond(rhs);
            }
            _ => self.expr(e, true),
        }
    }

    /// `operand`: whether the value is read from a register (rather than
    /// computed straight into a destination).
    fn expr(&mut self, e: &Expr, operand: bool) {
        match &e.kind {
            ExprKind::Int(v) if operand => self.add(Lit::Int(*v)),
            ExprKind::Bool(b) if operand => self.add(Lit::Bool(*b)),
            ExprKind::Str(s) if operand && s.len() <= MAX_HOISTED_STR => {
                self.add(Lit::Str(s.clone()))
            }
            ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Var(_) => {}
            ExprKind::Array(items) => items.iter().for_each(|x| self.expr(x, false)),
            ExprKind::Unary { operand, .. } => self.expr(operand, true),
            ExprKind::Binary { op, lhs, rhs, .. } => match op {
                BinaryOp::And | BinaryOp::Or => {
                    self.expr(lhs, false);
                    self.expr(rhs, false);
                }
                BinaryOp::Add if *self.p.expr_type(e.id) == Type::Int => {
                    match (&lhs.kind, &rhs.kind) {
                        (_, ExprKind::Int(v)) if fits_imm(*v) => self.expr(lhs, true),
                        (ExprKind::Int(v), _) if fits_imm(*v) => self.expr(rhs, true),
                        _ => {
                            self.expr(lhs, true);
                            self.expr(rhs, true);
                        }
                    }
                }
                BinaryOp::Sub => match &rhs.kind {
                    ExprKind::Int(v) if v.checked_neg().is_some_and(fits_imm) => {
                        self.expr(lhs, true)
                    }
                    _ => {
                        self.expr(lhs, true);
                        self.expr(rhs, true);
                    }
                },
                _ => {
                    self.expr(lhs, true);
                    self.expr(rhs, true);
                }
            },
            ExprKind::Call { args, .. } => match self.p.resolution(e.id) {
                Some(Resolution::Builtin(Builtin::Push | Builtin::Pop)) => {
                    self.place(&args[0]);
                    if let Some(v) = args.get(1) {
                        self.expr(v, true);
                    }
                }
                Some(Resolution::Builtin(_)) => args.iter().for_each(|x| self.expr(x, true)),
                // A lone argument can be passed straight from its register.
                _ => {
                    let lone = args.len() == 1;
                    args.iter().for_each(|x| self.expr(x, lone));
                }
            },
            ExprKind::Index { base, index } => {
                self.expr(base, true);
                self.expr(index, true);
            }
        }
    }
}
