//! Expressions (values and branch conditions), calls, builtins and places.
//!
//! Evaluation is left to right everywhere. A variable operand is read from
//! its own register; that is only unsafe for an array that a later operand
//! pops from (`xs == [pop(xs)]`), which then reads a copy taken first.

use chronicle_core::isa::Instr;
use chronicle_core::types::Type as CType;

use super::analysis::{self, Lit};
use super::{Dest, Gen, Label, Opnd};
use crate::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::check::{Builtin, LocalId, Resolution};
use crate::span::Span;

/// Array literals with more elements are built `CHUNK` elements at a time
/// and then pushed, so that they need few consecutive registers.
const CHUNK: usize = 16;

/// A place being modified: a variable and the indices, outermost first,
/// each with the type of the element it selects.
pub(super) struct Place {
    root: u16,
    indices: Vec<(Opnd, CType)>,
}

impl Gen<'_, '_> {
    /// Compiles `e`; the result is in the returned register (which is
    /// `dest`'s register unless `dest` is [`Dest::Any`]).
    pub(super) fn expr(&mut self, e: &Expr, dest: Dest) -> Opnd {
        let saved = self.line;
        self.line = self.line_of(e.span);
        let out = self.expr_kind(e, dest);
        self.line = saved;
        out
    }

    fn expr_kind(&mut self, e: &Expr, dest: Dest) -> Opnd {
        match &e.kind {
            ExprKind::Int(v) => self.literal(Lit::Int(*v), dest),
            ExprKind::Bool(b) => self.literal(Lit::Bool(*b), dest),
            ExprKind::Str(s) => self.literal(Lit::Str(s.clone()), dest),
            ExprKind::Array(items) => self.array(e, items, dest),
            ExprKind::Var(_) => {
                let r = match analysis::var_local(self.program, e) {
                    Some(l) => self.local(l),
                    None => {
                        self.internal = Some("a variable does not resolve to a local");
                        0
                    }
                };
                match dest {
                    Dest::Any => Opnd::borrowed(r),
                    Dest::Into(d) | Dest::Var(d, _) => {
                        self.mov(d, r);
                        Opnd::borrowed(d)
                    }
                }
            }
            ExprKind::Unary { op, operand } => {
                let a = self.expr(operand, Dest::Any);
                let ty = self.ty(e);
                self.finish(dest, &ty, &[a], |d| match op {
                    UnaryOp::Neg => Instr::Neg { d, a: a.reg },
                    UnaryOp::Not => Instr::Not { d, a: a.reg },
                })
            }
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => self.binary(e, *op, *op_span, lhs, rhs, dest),
            ExprKind::Call { args, .. } => self.call(e, args, dest),
            ExprKind::Index { base, index } => self.index(e, base, index, dest),
        }
    }

    fn literal(&mut self, lit: Lit, dest: Dest) -> Opnd {
        match dest {
            Dest::Any => {
                if let Some(&r) = self.hoisted.get(&lit) {
                    return Opnd::borrowed(r);
                }
                let ty = match lit {
                    Lit::Int(_) => CType::Int,
                    Lit::Bool(_) => CType::Bool,
                    Lit::Str(_) => CType::Str,
                };
                let r = self.temp(&ty);
                self.load(&lit, r);
                Opnd::temp(r)
            }
            Dest::Into(d) | Dest::Var(d, _) => {
                self.load(&lit, d);
                Opnd::borrowed(d)
            }
        }
    }

    /// An operand that is evaluated before `later`: a variable is read in
    /// place unless `later` pops from it; an array-typed element goes to
    /// the scratch register unless `later` may use scratch registers.
    pub(super) fn operand(&mut self, e: &Expr, later: &[&Expr]) -> Opnd {
        let ty = self.ty(e);
        match &e.kind {
            ExprKind::Var(_) => {
                let Some(l) = analysis::var_local(self.program, e) else {
                    return self.expr(e, Dest::Any);
                };
                let r = self.local(l);
                let popped = matches!(ty, CType::Array(_))
                    && later
                        .iter()
                        .any(|x| analysis::pops_from(self.program, x, l));
                if !popped {
                    return Opnd::borrowed(r);
                }
                let t = self.temp(&ty);
                self.mov(t, r);
                Opnd {
                    reg: t,
                    owned: true,
                    clear: self.mutated.contains(&l),
                }
            }
            ExprKind::Index { .. }
                if matches!(ty, CType::Array(_))
                    && !later
                        .iter()
                        .any(|x| analysis::uses_scratch(self.program, x)) =>
            {
                let s = self.scratch(&ty);
                self.expr(e, Dest::Into(s));
                Opnd::borrowed(s)
            }
            _ => self.expr(e, Dest::Any),
        }
    }

    /// Whether the value of `e` may share a variable (or an element of one)
    /// that the function mutates in place.
    pub(super) fn aliases_mutated(&self, e: &Expr) -> bool {
        let ty = self.ty(e);
        let mutated = |l: Option<LocalId>| l.is_some_and(|l| self.mutated.contains(&l));
        match &e.kind {
            ExprKind::Var(_) => ty.is_ref() && mutated(analysis::var_local(self.program, e)),
            ExprKind::Index { .. } => {
                matches!(ty, CType::Array(_)) && mutated(analysis::place_root(self.program, e))
            }
            _ => false,
        }
    }

    // ---- arrays ----

    fn array(&mut self, e: &Expr, items: &[Expr], dest: Dest) -> Opnd {
        let ty = self.ty(e);
        let elem = ty.elem().cloned().unwrap_or(CType::Int);
        let make = |d: u16, a: u16, n: u16| match elem {
            CType::Int => Instr::ArrayInt { d, a, n },
            CType::Bool => Instr::ArrayBool { d, a, n },
            _ => Instr::ArrayRef { d, a, n },
        };
        if items.is_empty() {
            return match dest {
                // The empty register is never written: read it as is.
                Dest::Any => Opnd::borrowed(self.empty(&ty)),
                Dest::Into(d) | Dest::Var(d, _) => {
                    self.emit(make(d, 0, 0));
                    Opnd::borrowed(d)
                }
            };
        }
        let first = items.len().min(CHUNK);
        let ops = self.block_of(&items[..first], &vec![elem.clone(); first]);
        let start = ops[0].reg;
        if items.len() <= CHUNK {
            return self.finish(dest, &ty, &ops, |d| make(d, start, first as u16));
        }
        // Longer literals grow one element at a time into a register that
        // no element reads.
        let (out, via) = match dest {
            Dest::Var(d, l) if analysis::reads(self.program, e, l) => {
                let t = self.temp(&ty);
                (Opnd::temp(t), Some(d))
            }
            _ => (self.target(dest, &ty), None),
        };
        self.emit(make(out.reg, start, first as u16));
        for op in ops {
            self.release(op);
        }
        for item in &items[first..] {
            let v = self.operand(item, &[]);
            self.emit(match elem {
                CType::Int => Instr::PushInt {
                    a: out.reg,
                    v: v.reg,
                },
                CType::Bool => Instr::PushBool {
                    a: out.reg,
                    v: v.reg,
                },
                _ => Instr::PushRef {
                    a: out.reg,
                    v: v.reg,
                },
            });
            self.release(v);
        }
        match via {
            Some(d) => {
                self.mov(d, out.reg);
                self.release(Opnd { clear: true, ..out });
                Opnd::borrowed(d)
            }
            None => out,
        }
    }

    /// Computes `items` into consecutive registers of types `tys`; returns
    /// them as operands (their first is the run's start).
    fn block_of(&mut self, items: &[Expr], tys: &[CType]) -> Vec<Opnd> {
        let start = self.regs.alloc_block(tys);
        let mut ops = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let r = start.wrapping_add(i as u16);
            self.expr(item, Dest::Into(r));
            ops.push(Opnd {
                reg: r,
                owned: true,
                clear: self.aliases_mutated(item),
            });
        }
        ops
    }

    // ---- operators ----

    fn binary(
        &mut self,
        e: &Expr,
        op: BinaryOp,
        op_span: Span,
        lhs: &Expr,
        rhs: &Expr,
        dest: Dest,
    ) -> Opnd {
        let ty = self.ty(e);
        match op {
            BinaryOp::And | BinaryOp::Or => return self.logic(op, lhs, rhs, dest),
            BinaryOp::Add if ty == CType::Str => return self.concat(e, dest),
            _ => {}
        }
        // `x + 3`, `3 + x`, `x - 3`: one `addi`.
        let imm = match (op, &lhs.kind, &rhs.kind) {
            (BinaryOp::Add, _, ExprKind::Int(v)) if analysis::fits_imm(*v) => Some((lhs, *v)),
            (BinaryOp::Add, ExprKind::Int(v), _) if analysis::fits_imm(*v) => Some((rhs, *v)),
            (BinaryOp::Sub, _, ExprKind::Int(v))
                if v.checked_neg().is_some_and(analysis::fits_imm) =>
            {
                Some((lhs, -*v))
            }
            _ => None,
        };
        if let Some((x, v)) = imm {
            let a = self.expr(x, Dest::Any);
            self.line = self.line_of(op_span);
            return self.finish(dest, &ty, &[a], |d| Instr::AddImm {
                d,
                a: a.reg,
                imm: v as i16 as u16,
            });
        }
        let a = self.operand(lhs, &[rhs]);
        let b = self.operand(rhs, &[]);
        self.line = self.line_of(op_span);
        let scalar = !self.regs.ty(a.reg).is_ref();
        let (ra, rb) = (a.reg, b.reg);
        self.finish(dest, &ty, &[a, b], |d| match op {
            BinaryOp::Add => Instr::Add { d, a: ra, b: rb },
            BinaryOp::Sub => Instr::Sub { d, a: ra, b: rb },
            BinaryOp::Mul => Instr::Mul { d, a: ra, b: rb },
            BinaryOp::Div => Instr::Div { d, a: ra, b: rb },
            BinaryOp::Rem => Instr::Rem { d, a: ra, b: rb },
            BinaryOp::Lt => Instr::Lt { d, a: ra, b: rb },
            BinaryOp::Le => Instr::Le { d, a: ra, b: rb },
            BinaryOp::Gt => Instr::Gt { d, a: ra, b: rb },
            BinaryOp::Ge => Instr::Ge { d, a: ra, b: rb },
            BinaryOp::Eq if scalar => Instr::Eq { d, a: ra, b: rb },
            BinaryOp::Ne if scalar => Instr::Ne { d, a: ra, b: rb },
            BinaryOp::Eq => Instr::EqRef { d, a: ra, b: rb },
            BinaryOp::Ne => Instr::NeRef { d, a: ra, b: rb },
            BinaryOp::And | BinaryOp::Or => unreachable!("handled above"),
        })
    }

    /// `a && b` / `a || b` as a value: `d = a; if d is decisive skip; d = b`.
    ///
    /// The variable being assigned is written before `b` runs, and, when `a`
    /// is itself `&&`/`||`, before `a` is done: if those parts read it, the
    /// value is built in a temporary instead.
    fn logic(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, dest: Dest) -> Opnd {
        let early = |e: &Expr| {
            matches!(
                e.kind,
                ExprKind::Binary {
                    op: BinaryOp::And | BinaryOp::Or,
                    ..
                }
            )
        };
        let (out, via) = match dest {
            Dest::Var(d, l)
                if analysis::reads(self.program, rhs, l)
                    || (early(lhs) && analysis::reads(self.program, lhs, l)) =>
            {
                (Opnd::temp(self.temp(&CType::Bool)), Some(d))
            }
            _ => (self.target(dest, &CType::Bool), None),
        };
        let end = self.label();
        self.expr(lhs, Dest::Into(out.reg));
        if op == BinaryOp::And {
            self.emit_jump(Instr::JumpIfNot { c: out.reg, t: 0 }, end);
        } else {
            self.emit_jump(Instr::JumpIf { c: out.reg, t: 0 }, end);
        }
        self.expr(rhs, Dest::Into(out.reg));
        self.bind(end);
        match via {
            Some(d) => {
                self.emit(Instr::Move { d, a: out.reg });
                self.release(out);
                Opnd::borrowed(d)
            }
            None => out,
        }
    }

    /// A chain of string concatenations `x1 + x2 + ... + xn`: the first `+`
    /// makes a new string, each further one appends to it in place
    /// (`concat d, d, x`); `s = s + a + b` appends to `s` in place.
    fn concat(&mut self, e: &Expr, dest: Dest) -> Opnd {
        let leaves = analysis::concat_leaves(self.program, e);
        let line = |g: &Self, span: Option<Span>| span.map_or(g.line, |s| g.line_of(s));
        if let Dest::Var(d, l) = dest {
            let first_is_var = analysis::var_local(self.program, leaves[0].0) == Some(l);
            let later_reads = |from: usize| {
                leaves[from..]
                    .iter()
                    .any(|(x, _)| analysis::reads(self.program, x, l))
            };
            if first_is_var && !later_reads(1) {
                for &(x, span) in &leaves[1..] {
                    let b = self.expr(x, Dest::Any);
                    self.line = line(self, span);
                    self.emit(Instr::Concat { d, a: d, b: b.reg });
                    self.release(b);
                }
                return Opnd::borrowed(d);
            }
            if leaves.len() > 2 && later_reads(2) {
                // Build in a temporary; the last `+` writes the variable.
                let (last, last_span) = leaves[leaves.len() - 1];
                let t = self.concat_into(&leaves[..leaves.len() - 1], Dest::Any);
                let b = self.expr(last, Dest::Any);
                self.line = line(self, last_span);
                self.emit(Instr::Concat {
                    d,
                    a: t.reg,
                    b: b.reg,
                });
                self.release(b);
                self.release(t);
                return Opnd::borrowed(d);
            }
        }
        self.concat_into(&leaves, dest)
    }

    fn concat_into(&mut self, leaves: &[(&Expr, Option<Span>)], dest: Dest) -> Opnd {
        let a = self.expr(leaves[0].0, Dest::Any);
        if leaves.len() == 1 {
            // Only reached for a chain cut short by `concat`: copy the value.
            let out = self.target(dest, &CType::Str);
            self.mov(out.reg, a.reg);
            self.release(a);
            return out;
        }
        let b = self.expr(leaves[1].0, Dest::Any);
        self.line = leaves[1].1.map_or(self.line, |s| self.line_of(s));
        let (ra, rb) = (a.reg, b.reg);
        let out = self.finish(dest, &CType::Str, &[a, b], |d| Instr::Concat {
            d,
            a: ra,
            b: rb,
        });
        for &(x, span) in &leaves[2..] {
            let b = self.expr(x, Dest::Any);
            self.line = span.map_or(self.line, |s| self.line_of(s));
            self.emit(Instr::Concat {
                d: out.reg,
                a: out.reg,
                b: b.reg,
            });
            self.release(b);
        }
        out
    }

    // ---- conditions ----

    /// Emits a jump to `target` taken exactly when `e` evaluates to `when`.
    pub(super) fn cond(&mut self, e: &Expr, when: bool, target: Label) {
        let saved = self.line;
        self.line = self.line_of(e.span);
        match &e.kind {
            ExprKind::Bool(b) => {
                if *b == when {
                    self.jump(target);
                }
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => self.cond(operand, !when, target),
            ExprKind::Binary {
                op: op @ (BinaryOp::And | BinaryOp::Or),
                lhs,
                rhs,
                ..
            } => {
                // `a && b` is false as soon as `a` is; `a || b` true as soon as `a` is.
                let decisive = *op == BinaryOp::Or;
                if when == decisive {
                    self.cond(lhs, when, target);
                    self.cond(rhs, when, target);
                } else {
                    let skip = self.label();
                    self.cond(lhs, decisive, skip);
                    self.cond(rhs, when, target);
                    self.bind(skip);
                }
            }
            ExprKind::Binary {
                op: op @ (BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge),
                op_span,
                lhs,
                rhs,
            } => {
                let x = self.expr(lhs, Dest::Any);
                let y = self.expr(rhs, Dest::Any);
                self.line = self.line_of(*op_span);
                let (a, b) = (x.reg, y.reg);
                let jump = match (op, when) {
                    (BinaryOp::Lt, true) | (BinaryOp::Ge, false) => Instr::JumpLt { a, b, t: 0 },
                    (BinaryOp::Le, true) | (BinaryOp::Gt, false) => Instr::JumpLe { a, b, t: 0 },
                    (BinaryOp::Gt, true) | (BinaryOp::Le, false) => Instr::JumpGt { a, b, t: 0 },
                    _ => Instr::JumpGe { a, b, t: 0 },
                };
                self.emit_jump(jump, target);
                self.release(x);
                self.release(y);
            }
            _ => {
                let c = self.expr(e, Dest::Any);
                let jump = if when {
                    Instr::JumpIf { c: c.reg, t: 0 }
                } else {
                    Instr::JumpIfNot { c: c.reg, t: 0 }
                };
                self.emit_jump(jump, target);
                self.release(c);
            }
        }
        self.line = saved;
    }

    // ---- indexing ----

    /// `base[index]`: the base is evaluated (and, when it is itself an
    /// element, bounds-checked) before the index.
    fn index(&mut self, e: &Expr, base: &Expr, index: &Expr, dest: Dest) -> Opnd {
        let arr = self.operand(base, &[index]);
        let i = self.expr(index, Dest::Any);
        let ty = self.ty(e);
        let (ra, ri) = (arr.reg, i.reg);
        let clear = dest == Dest::Any && self.aliases_mutated(e);
        let out = self.finish(dest, &ty, &[arr, i], |d| match ty {
            CType::Int => Instr::GetInt { d, a: ra, i: ri },
            CType::Bool => Instr::GetBool { d, a: ra, i: ri },
            _ => Instr::GetRef { d, a: ra, i: ri },
        });
        Opnd { clear, ..out }
    }

    /// Evaluates the indices of a place, outermost first.
    pub(super) fn place(&mut self, e: &Expr) -> Place {
        match &e.kind {
            ExprKind::Index { base, index } => {
                let mut place = self.place(base);
                let i = self.expr(index, Dest::Any);
                place.indices.push((i, self.ty(e)));
                place
            }
            _ => {
                let root = match analysis::var_local(self.program, e) {
                    Some(l) => self.local(l),
                    None => {
                        self.internal = Some("a modified value is not a place");
                        0
                    }
                };
                Place {
                    root,
                    indices: Vec::new(),
                }
            }
        }
    }

    /// Runs `f` on the register holding the array `place` names, uniquely
    /// owned so that `f` mutates it in place: each element on the way is
    /// taken out of its array (replaced by an empty value) into the scratch
    /// register of its type, and put back afterwards. Bounds are checked
    /// outermost first. Frees the place's index registers.
    pub(super) fn with_place(&mut self, place: &Place, f: impl FnOnce(&mut Self, u16)) {
        let mut chain = vec![place.root];
        for (i, ty) in &place.indices {
            let scratch = self.scratch(ty);
            let empty = self.empty(ty);
            let outer = chain[chain.len() - 1];
            self.emit(Instr::GetRef {
                d: scratch,
                a: outer,
                i: i.reg,
            });
            self.emit(Instr::SetRef {
                a: outer,
                i: i.reg,
                v: empty,
            });
            chain.push(scratch);
        }
        f(self, chain[chain.len() - 1]);
        for (k, (i, _)) in place.indices.iter().enumerate().rev() {
            self.emit(Instr::SetRef {
                a: chain[k],
                i: i.reg,
                v: chain[k + 1],
            });
        }
        for &(i, _) in &place.indices {
            self.release(i);
        }
    }

    // ---- calls ----

    fn call(&mut self, e: &Expr, args: &[Expr], dest: Dest) -> Opnd {
        match self.program.resolution(e.id) {
            Some(Resolution::Builtin(b)) => self.builtin(e, b, args, dest),
            Some(Resolution::Function(f)) => {
                let info = &self.program.functions[f.0 as usize];
                let params: Vec<CType> = info.params.iter().map(super::to_core).collect();
                let unit = info.ret == crate::types::Type::Unit;
                let (a, ops) = self.args(args, &params);
                let (f, n) = (f.0 as u16, args.len() as u16);
                if unit {
                    self.emit(Instr::CallUnit { f, a, n });
                    ops.into_iter().for_each(|op| self.release(op));
                    Opnd::unit()
                } else {
                    let ty = self.ty(e);
                    self.finish(dest, &ty, &ops, |d| Instr::Call { d, f, a, n })
                }
            }
            Some(Resolution::Capability(c)) => {
                let info = &self.program.capabilities[c.0 as usize];
                let params: Vec<CType> = info.params.iter().map(super::to_core).collect();
                let unit = info.ret == crate::types::Type::Unit;
                let (a, ops) = self.args(args, &params);
                let (c, n) = (c.0 as u16, args.len() as u16);
                if unit {
                    self.emit(Instr::CapUnit { c, a, n });
                    ops.into_iter().for_each(|op| self.release(op));
                    Opnd::unit()
                } else {
                    let ty = self.ty(e);
                    self.finish(dest, &ty, &ops, |d| Instr::Cap { d, c, a, n })
                }
            }
            Some(Resolution::Local(_)) | None => {
                self.internal = Some("a call does not resolve to a function");
                Opnd::unit()
            }
        }
    }

    /// Arguments in consecutive registers; returns the first and the
    /// operands to release after the call. Variables and hoisted literals
    /// that already sit in consecutive registers (a lone variable always
    /// does) are passed where they are.
    fn args(&mut self, args: &[Expr], params: &[CType]) -> (u16, Vec<Opnd>) {
        if args.is_empty() {
            return (0, Vec::new());
        }
        let direct: Option<Vec<u16>> = args
            .iter()
            .map(|x| match &x.kind {
                ExprKind::Var(_) => {
                    analysis::var_local(self.program, x).and_then(|l| self.locals[l.0 as usize])
                }
                ExprKind::Int(v) => self.hoisted.get(&Lit::Int(*v)).copied(),
                ExprKind::Bool(b) => self.hoisted.get(&Lit::Bool(*b)).copied(),
                ExprKind::Str(s) => self.hoisted.get(&Lit::Str(s.clone())).copied(),
                _ => None,
            })
            .collect();
        if let Some(regs) = direct {
            let first = u32::from(regs[0]);
            if regs
                .iter()
                .zip(0..)
                .all(|(&r, k)| u32::from(r) == first + k)
            {
                return (regs[0], Vec::new());
            }
        }
        let ops = self.block_of(args, params);
        (ops[0].reg, ops)
    }

    fn builtin(&mut self, e: &Expr, b: Builtin, args: &[Expr], dest: Dest) -> Opnd {
        let ty = self.ty(e);
        match b {
            Builtin::Push => {
                let place = self.place(&args[0]);
                // The value is shallower than every array of the place.
                let v = self.operand(&args[1], &[]);
                let elem = self.ty(&args[1]);
                let vr = v.reg;
                self.with_place(&place, |g, a| {
                    g.emit(match elem {
                        CType::Int => Instr::PushInt { a, v: vr },
                        CType::Bool => Instr::PushBool { a, v: vr },
                        _ => Instr::PushRef { a, v: vr },
                    })
                });
                self.release(v);
                Opnd::unit()
            }
            Builtin::Pop => {
                let place = self.place(&args[0]);
                let out = self.target(dest, &ty);
                let d = out.reg;
                self.with_place(&place, |g, a| {
                    g.emit(match ty {
                        CType::Int => Instr::PopInt { d, a },
                        CType::Bool => Instr::PopBool { d, a },
                        _ => Instr::PopRef { d, a },
                    })
                });
                out
            }
            Builtin::Assert => {
                let c = self.expr(&args[0], Dest::Any);
                let m = self.expr(&args[1], Dest::Any);
                self.emit(Instr::Assert { c: c.reg, m: m.reg });
                self.release(c);
                self.release(m);
                Opnd::unit()
            }
            Builtin::Len => {
                let a = self.operand(&args[0], &[]);
                let string = self.ty(&args[0]) == CType::Str;
                self.finish(dest, &ty, &[a], |d| {
                    if string {
                        Instr::StrLen { d, a: a.reg }
                    } else {
                        Instr::ArrayLen { d, a: a.reg }
                    }
                })
            }
            Builtin::Str => {
                let a = self.expr(&args[0], Dest::Any);
                let int = self.ty(&args[0]) == CType::Int;
                self.finish(dest, &ty, &[a], |d| {
                    if int {
                        Instr::IntToStr { d, a: a.reg }
                    } else {
                        Instr::BoolToStr { d, a: a.reg }
                    }
                })
            }
            Builtin::ParseInt => {
                let s = self.expr(&args[0], Dest::Any);
                self.finish(dest, &ty, &[s], |d| Instr::ParseInt { d, s: s.reg })
            }
            Builtin::Split | Builtin::Contains => {
                let s = self.expr(&args[0], Dest::Any);
                let x = self.expr(&args[1], Dest::Any);
                let (rs, rx) = (s.reg, x.reg);
                self.finish(dest, &ty, &[s, x], |d| {
                    if b == Builtin::Split {
                        Instr::Split { d, s: rs, sep: rx }
                    } else {
                        Instr::Contains { d, s: rs, sub: rx }
                    }
                })
            }
            Builtin::Substr => {
                let s = self.expr(&args[0], Dest::Any);
                let a = self.expr(&args[1], Dest::Any);
                let z = self.expr(&args[2], Dest::Any);
                let (rs, ra, rz) = (s.reg, a.reg, z.reg);
                self.finish(dest, &ty, &[s, a, z], |d| Instr::Substr {
                    d,
                    s: rs,
                    a: ra,
                    b: rz,
                })
            }
        }
    }
}
