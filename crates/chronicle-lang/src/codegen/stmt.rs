//! Statements: blocks and scopes, assignments, `if`, the three loops,
//! `break`/`continue` and `return`.

use chronicle_core::isa::Instr;
use chronicle_core::types::Type as CType;

use super::analysis::{self, Lit};
use super::{Dest, Gen, Label, LoopLabels, Opnd};
use crate::ast::{BinaryOp, Block, Else, Expr, ExprKind, IfStmt, Stmt, StmtKind};

impl Gen<'_, '_> {
    /// A block: its own scope; statements after one that cannot complete
    /// (`return`, `break`, ...) are unreachable and not compiled.
    pub(super) fn block(&mut self, block: &Block) {
        self.enter_scope();
        for stmt in &block.stmts {
            if !self.reachable {
                break;
            }
            self.stmt(stmt);
        }
        self.leave_scope();
    }

    fn stmt(&mut self, stmt: &Stmt) {
        self.line = self.line_of(stmt.span);
        self.span = stmt.span;
        match &stmt.kind {
            StmtKind::Let { binding, init, .. } => {
                // The initializer cannot see the new local, so it may be
                // computed straight into the local's register.
                let r = self.declare(self.program.binding(*binding));
                self.expr(init, Dest::Into(r));
            }
            StmtKind::Assign { target, value } => match &target.kind {
                ExprKind::Index { base, index } => self.assign_element(target, base, index, value),
                _ => match analysis::var_local(self.program, target) {
                    Some(l) => {
                        let r = self.local(l);
                        self.expr(value, Dest::Var(r, l));
                    }
                    None => self.internal = Some("an assignment target is not a place"),
                },
            },
            StmtKind::Expr(e) => {
                let op = self.expr(e, Dest::Any);
                self.release(op);
            }
            StmtKind::If(if_stmt) => self.if_stmt(if_stmt),
            StmtKind::While { cond, body } => self.while_loop(stmt, cond, body),
            StmtKind::ForRange {
                binding,
                start,
                end,
                body,
                ..
            } => {
                let i = self.program.binding(*binding);
                self.for_range(stmt, i, start, end, body);
            }
            StmtKind::ForEach {
                binding,
                iterable,
                body,
                ..
            } => {
                let x = self.program.binding(*binding);
                self.for_each(stmt, x, iterable, body);
            }
            StmtKind::Break | StmtKind::Continue => match self.loops.last().copied() {
                Some(labels) => {
                    let to = if matches!(stmt.kind, StmtKind::Break) {
                        labels.brk
                    } else {
                        labels.cont
                    };
                    self.jump(to);
                }
                None => self.internal = Some("`break` or `continue` outside a loop"),
            },
            StmtKind::Return(None) => self.emit(Instr::RetUnit {}),
            StmtKind::Return(Some(e)) => {
                let op = self.expr(e, Dest::Any);
                if self.regs.ty(op.reg).is_ref() {
                    self.emit(Instr::RetRef { a: op.reg });
                } else {
                    self.emit(Instr::Ret { a: op.reg });
                }
                self.release(op);
            }
            StmtKind::Block(b) => self.block(b),
        }
    }

    /// `base[index] = value`: indices left to right, then the value, then
    /// the bounds checks (outermost first) and the store.
    fn assign_element(&mut self, target: &Expr, base: &Expr, index: &Expr, value: &Expr) {
        let place = self.place(base);
        let i = self.expr(index, Dest::Any);
        // The value's type is shallower than every array of the place, so
        // it may use the scratch register of its own type.
        let v = self.operand(value, &[]);
        let (i_reg, v_reg) = (i.reg, v.reg);
        let elem = self.ty(target);
        self.with_place(&place, |g, a| {
            g.emit(match elem {
                CType::Int => Instr::SetInt {
                    a,
                    i: i_reg,
                    v: v_reg,
                },
                CType::Bool => Instr::SetBool {
                    a,
                    i: i_reg,
                    v: v_reg,
                },
                _ => Instr::SetRef {
                    a,
                    i: i_reg,
                    v: v_reg,
                },
            })
        });
        self.release(v);
        self.release(i);
    }

    fn if_stmt(&mut self, s: &IfStmt) {
        // `if c { break; }` and `if c { continue; }`: one conditional jump.
        if let (None, [only], Some(labels)) =
            (&s.else_branch, &s.then_block.stmts[..], self.loops.last())
        {
            let to = match only.kind {
                StmtKind::Break => Some(labels.brk),
                StmtKind::Continue => Some(labels.cont),
                _ => None,
            };
            if let Some(to) = to {
                self.cond(&s.cond, true, to);
                return;
            }
        }
        let otherwise = self.label();
        self.cond(&s.cond, false, otherwise);
        self.block(&s.then_block);
        match &s.else_branch {
            None => self.bind(otherwise),
            Some(branch) => {
                let end = self.label();
                self.jump(end);
                self.bind(otherwise);
                match branch {
                    Else::If(next) => {
                        self.line = self.line_of(next.span);
                        self.if_stmt(next);
                    }
                    Else::Block(b) => self.block(b),
                }
                self.bind(end);
            }
        }
    }

    /// `while c { body }`: `jmp test; top: body; test: if c goto top`.
    fn while_loop(&mut self, stmt: &Stmt, cond: &Expr, body: &Block) {
        if matches!(cond.kind, ExprKind::Bool(false)) {
            return;
        }
        let forever = matches!(cond.kind, ExprKind::Bool(true));
        let hoisted = self.hoist(Some(cond), body);
        if let Some((counter, end)) = self.counted(cond, body) {
            self.counted_while(stmt, counter, end, body);
            self.unhoist(hoisted);
            return;
        }
        let (top, test, exit) = (self.label(), self.label(), self.label());
        if !forever {
            self.jump(test);
        }
        self.bind(top);
        // Reached from the test at the bottom.
        self.reachable = true;
        self.loop_body(body, exit, test);
        self.bind(test);
        self.line = self.line_of(stmt.span);
        if forever {
            self.jump(top);
        } else {
            self.cond(cond, true, top);
        }
        self.bind(exit);
        self.unhoist(hoisted);
    }

    /// For `while i < n { ...; i = i + 1; }` with `n` a variable or a
    /// hoisted literal and no `continue`: the registers of `i` and `n`.
    fn counted(&mut self, cond: &Expr, body: &Block) -> Option<(u16, u16)> {
        let ExprKind::Binary {
            op: BinaryOp::Lt,
            lhs,
            rhs,
            ..
        } = &cond.kind
        else {
            return None;
        };
        let i = analysis::var_local(self.program, lhs)?;
        let last = body.stmts.last()?;
        if !analysis::is_increment(self.program, last, i) || analysis::continues(body) {
            return None;
        }
        let end = match &rhs.kind {
            ExprKind::Int(v) => *self.hoisted.get(&Lit::Int(*v))?,
            _ => match analysis::var_local(self.program, rhs)? {
                n if n == i => return None,
                n => self.local(n),
            },
        };
        Some((self.local(i), end))
    }

    /// A counted `while` (see [`Gen::counted`]): a guard, the body without
    /// its final increment, then `fornext i, n, top`.
    fn counted_while(&mut self, stmt: &Stmt, counter: u16, end: u16, body: &Block) {
        let (top, exit) = (self.label(), self.label());
        self.line = self.line_of(stmt.span);
        self.emit_jump(
            Instr::JumpGe {
                a: counter,
                b: end,
                t: 0,
            },
            exit,
        );
        self.bind(top);
        let (init, last) = body.stmts.split_at(body.stmts.len() - 1);
        self.loops.push(LoopLabels {
            brk: exit,
            cont: exit,
        });
        self.enter_scope();
        for s in init {
            if !self.reachable {
                break;
            }
            self.stmt(s);
        }
        self.line = self.line_of(last[0].span);
        self.emit_jump(
            Instr::ForNext {
                i: counter,
                end,
                t: 0,
            },
            top,
        );
        self.leave_scope();
        self.loops.pop();
        self.bind(exit);
    }

    fn loop_body(&mut self, body: &Block, brk: Label, cont: Label) {
        self.loops.push(LoopLabels { brk, cont });
        self.block(body);
        self.loops.pop();
    }

    /// `for i in a..b { body }`: both bounds evaluated once, first `a`; the
    /// counter is `i`'s own register unless the body assigns `i`.
    fn for_range(
        &mut self,
        stmt: &Stmt,
        i: crate::check::LocalId,
        start: &Expr,
        end: &Expr,
        body: &Block,
    ) {
        if let (ExprKind::Int(a), ExprKind::Int(b)) = (&start.kind, &end.kind) {
            if a >= b {
                return;
            }
        }
        self.enter_scope();
        let i_reg = self.declare(i);
        let hidden = analysis::block_writes(self.program, body, i);
        let counter = if hidden {
            Opnd::temp(self.temp(&CType::Int))
        } else {
            Opnd::borrowed(i_reg)
        };
        self.expr(start, Dest::Into(counter.reg));
        let bound = match analysis::var_local(self.program, end) {
            Some(l) if !analysis::block_writes(self.program, body, l) => {
                Opnd::borrowed(self.local(l))
            }
            Some(_) => {
                let t = self.temp(&CType::Int);
                self.expr(end, Dest::Into(t));
                Opnd::temp(t)
            }
            None => self.expr(end, Dest::Any),
        };
        let hoisted = self.hoist(None, body);
        let (top, cont, exit) = (self.label(), self.label(), self.label());
        self.line = self.line_of(stmt.span);
        let literal = matches!(
            (&start.kind, &end.kind),
            (ExprKind::Int(_), ExprKind::Int(_))
        );
        if !literal {
            let guard = Instr::JumpGe {
                a: counter.reg,
                b: bound.reg,
                t: 0,
            };
            self.emit_jump(guard, exit);
        }
        self.bind(top);
        if hidden {
            self.mov(i_reg, counter.reg);
        }
        self.loop_body(body, exit, cont);
        self.bind(cont);
        self.line = self.line_of(stmt.span);
        // `counter < bound <= i64::MAX`, so the increment cannot overflow.
        let next = Instr::ForNext {
            i: counter.reg,
            end: bound.reg,
            t: 0,
        };
        self.emit_jump(next, top);
        self.bind(exit);
        self.unhoist(hoisted);
        self.release(bound);
        self.release(counter);
        self.leave_scope();
    }

    /// `for x in xs { body }` over `xs` as it was when the loop began.
    fn for_each(&mut self, stmt: &Stmt, x: crate::check::LocalId, iterable: &Expr, body: &Block) {
        let arr = match analysis::var_local(self.program, iterable) {
            Some(l) if !analysis::block_writes(self.program, body, l) => {
                Opnd::borrowed(self.local(l))
            }
            _ => {
                let op = self.expr(iterable, Dest::Any);
                if op.owned {
                    op
                } else {
                    // A variable the body changes (or a register that must
                    // not be touched): iterate over a copy.
                    let ty = self.ty(iterable);
                    let t = self.temp(&ty);
                    self.mov(t, op.reg);
                    Opnd {
                        reg: t,
                        owned: true,
                        clear: self.aliases_mutated(iterable),
                    }
                }
            }
        };
        self.line = self.line_of(stmt.span);
        let idx = self.temp(&CType::Int);
        let len = self.temp(&CType::Int);
        self.emit(Instr::LoadInt { d: idx, imm: 0 });
        self.emit(Instr::ArrayLen { d: len, a: arr.reg });
        self.enter_scope();
        let x_reg = self.declare(x);
        let hoisted = self.hoist(None, body);
        let (top, cont, exit) = (self.label(), self.label(), self.label());
        self.line = self.line_of(stmt.span);
        self.emit_jump(
            Instr::JumpGe {
                a: idx,
                b: len,
                t: 0,
            },
            exit,
        );
        self.bind(top);
        let elem = self.regs.ty(x_reg).clone();
        self.emit(match elem {
            CType::Int => Instr::GetInt {
                d: x_reg,
                a: arr.reg,
                i: idx,
            },
            CType::Bool => Instr::GetBool {
                d: x_reg,
                a: arr.reg,
                i: idx,
            },
            _ => Instr::GetRef {
                d: x_reg,
                a: arr.reg,
                i: idx,
            },
        });
        self.loop_body(body, exit, cont);
        self.bind(cont);
        self.line = self.line_of(stmt.span);
        let next = Instr::ForNext {
            i: idx,
            end: len,
            t: 0,
        };
        self.emit_jump(next, top);
        self.bind(exit);
        self.unhoist(hoisted);
        self.leave_scope();
        self.regs.free(len);
        self.regs.free(idx);
        self.release(arr);
    }
}
