//! Frames: the register stacks, the current-frame cursor, calls and returns.
//!
//! Shared by both loops ([`super::fast`] and [`super::interp`]), so a call
//! or a return means the same thing wherever it executes.

use super::error::TrapKind;
use super::observer::{FrameView, Observer};
use crate::isa::Instr;
use crate::limits::{alloc_cost, Limit, Limits};
use crate::module::Function;
use crate::types::Type;
use crate::value::{Array, Value};
use crate::verify::{RefInit, VerifiedModule};
use std::rc::Rc;

/// What does not change during a run.
pub(super) struct Ctx<'m> {
    pub module: &'m VerifiedModule,
    pub funcs: &'m [Function],
    pub limits: Limits,
    /// Integer constants by pool index (0 for string constants).
    pub const_ints: Vec<i64>,
    /// String constants by pool index (unit for integer constants).
    pub const_refs: Vec<Value>,
    /// Whether capability calls take fuel for the bytes they move
    /// ([`super::Vm::charge_host_work`]).
    pub host_work: bool,
    empty_str: Value,
    empty_ints: Value,
    empty_bools: Value,
    empty_refs: Value,
}

impl<'m> Ctx<'m> {
    pub fn new(module: &'m VerifiedModule, limits: Limits) -> Self {
        let consts = &module.module().consts;
        let const_ints = consts
            .iter()
            .map(|c| match c {
                crate::module::Const::Int(v) => *v,
                crate::module::Const::Str(_) => 0,
            })
            .collect();
        let const_refs = consts
            .iter()
            .map(|c| match c {
                crate::module::Const::Int(_) => Value::Unit,
                crate::module::Const::Str(s) => Value::Str(Rc::new(s.clone())),
            })
            .collect();
        Ctx {
            module,
            funcs: &module.module().funcs,
            limits,
            const_ints,
            const_refs,
            host_work: true,
            empty_str: Value::Str(Rc::new(String::new())),
            empty_ints: Value::Array(Rc::new(Array::Int(Vec::new()))),
            empty_bools: Value::Array(Rc::new(Array::Bool(Vec::new()))),
            empty_refs: Value::Array(Rc::new(Array::Ref(Vec::new()))),
        }
    }

    /// The error for hitting `limit`.
    pub fn limit(&self, limit: Limit) -> TrapKind {
        TrapKind::LimitExceeded {
            limit,
            value: self.limits.get(limit),
        }
    }
}

/// The register stacks and the suspended callers.
///
/// **Invariant:** `ints.len()` and `refs.len()` are the tops of the current
/// frame: each frame occupies `[base, base + slots)` of each file.
#[derive(Default)]
pub(super) struct Stack {
    pub ints: Vec<i64>,
    pub refs: Vec<Value>,
    pub frames: Vec<SavedFrame>,
    /// Bytes the run may still allocate before the `alloc_bytes` limit
    /// (see [`crate::limits::alloc_cost`]).
    pub alloc_left: u64,
    /// Fuel taken for work beyond one unit an instruction (see `isa`, "Fuel").
    pub work: u64,
}

/// A caller suspended by a call: where it resumes and where its result goes.
#[derive(Clone, Copy, Debug)]
pub(super) struct SavedFrame {
    func: u16,
    pc: u16,
    int_base: usize,
    ref_base: usize,
    dst: u16,
}

/// The current frame and position.
#[derive(Clone, Copy)]
pub(super) struct Cursor<'m> {
    pub func: usize,
    pub code: &'m [Instr],
    pub pc: usize,
    pub ibase: usize,
    pub rbase: usize,
}

impl Stack {
    /// The current frame's registers.
    pub fn view<'a>(&'a self, ctx: &'a Ctx<'_>, cur: &Cursor<'_>) -> FrameView<'a> {
        FrameView {
            ints: &self.ints[cur.ibase..],
            refs: &self.refs[cur.rbase..],
            types: &ctx.funcs[cur.func].regs,
        }
    }

    /// Pushes an initialised frame for `func` and returns its bases.
    #[inline(always)]
    fn push(&mut self, ctx: &Ctx<'_>, func: usize) -> (usize, usize) {
        let layout = &ctx.module.frames[func];
        let bases = (self.ints.len(), self.refs.len());
        self.ints.extend(std::iter::repeat_n(0, layout.int_size));
        if layout.ref_size > 0 {
            self.refs.resize(bases.1 + layout.ref_size, Value::Unit);
            for &(r, init) in &layout.ref_init {
                self.refs[bases.1 + usize::from(r)] = match init {
                    RefInit::Str => ctx.empty_str.clone(),
                    RefInit::IntArray => ctx.empty_ints.clone(),
                    RefInit::BoolArray => ctx.empty_bools.clone(),
                    RefInit::RefArray => ctx.empty_refs.clone(),
                };
            }
        }
        bases
    }
}

/// Enters the entry function: checks its frame against the `registers` limit.
pub(super) fn enter_entry<'m, O: Observer>(
    ctx: &Ctx<'m>,
    stack: &mut Stack,
    observer: &mut O,
) -> Result<Cursor<'m>, (Cursor<'m>, TrapKind)> {
    let func = usize::from(ctx.module.module().entry);
    let mut cur = Cursor {
        func,
        code: &ctx.funcs[func].code,
        pc: 0,
        ibase: 0,
        rbase: 0,
    };
    if ctx.module.frames[func].size as u64 > ctx.limits.registers {
        return Err((cur, ctx.limit(Limit::Registers)));
    }
    (cur.ibase, cur.rbase) = stack.push(ctx, func);
    if O::ACTIVE {
        observer.enter(func as u16, stack.view(ctx, &cur));
    }
    Ok(cur)
}

/// Executes the call instruction at `cur.pc`: calls `callee` with the
/// arguments in registers `a ..`; the result will go to register `dst`.
#[inline(always)]
pub(super) fn call<'m, O: Observer>(
    ctx: &Ctx<'m>,
    stack: &mut Stack,
    cur: &mut Cursor<'m>,
    callee: usize,
    a: u16,
    dst: u16,
    observer: &mut O,
) -> Result<(), TrapKind> {
    if stack.frames.len() as u64 + 1 >= ctx.limits.call_depth {
        return Err(ctx.limit(Limit::CallDepth));
    }
    let layout = &ctx.module.frames[callee];
    if layout.size as u64 > ctx.limits.registers {
        return Err(ctx.limit(Limit::Registers));
    }
    if O::ACTIVE {
        observer.step(
            cur.func as u16,
            cur.pc as u16,
            cur.code[cur.pc],
            stack.view(ctx, cur),
        );
    }
    let (ibase, rbase) = stack.push(ctx, callee);
    let a = usize::from(a);
    if layout.scalar_params {
        for i in 0..layout.param_is_ref.len() {
            stack.ints[ibase + i] = stack.ints[cur.ibase + a + i];
        }
    } else {
        for (i, &is_ref) in layout.param_is_ref.iter().enumerate() {
            if is_ref {
                stack.refs[rbase + i] = stack.refs[cur.rbase + a + i].clone();
            } else {
                stack.ints[ibase + i] = stack.ints[cur.ibase + a + i];
            }
        }
    }
    stack.frames.push(SavedFrame {
        func: cur.func as u16,
        pc: cur.pc as u16,
        int_base: cur.ibase,
        ref_base: cur.rbase,
        dst,
    });
    *cur = Cursor {
        func: callee,
        code: &ctx.funcs[callee].code,
        pc: 0,
        ibase,
        rbase,
    };
    if O::ACTIVE {
        observer.enter(callee as u16, stack.view(ctx, cur));
    }
    Ok(())
}

/// A value on its way from a returning frame to its caller.
pub(super) enum Returned {
    Int(i64),
    Ref(Value),
    Unit,
}

/// Executes the return instruction at `cur.pc`, handing `returned` to the
/// caller. Returns the run's result when the entry function returns.
#[inline(always)]
pub(super) fn ret<'m, O: Observer>(
    ctx: &Ctx<'m>,
    stack: &mut Stack,
    cur: &mut Cursor<'m>,
    returned: Returned,
    observer: &mut O,
) -> Option<Value> {
    if O::ACTIVE {
        observer.step(
            cur.func as u16,
            cur.pc as u16,
            cur.code[cur.pc],
            stack.view(ctx, cur),
        );
    }
    stack.ints.truncate(cur.ibase);
    if stack.refs.len() > cur.rbase {
        stack.refs.truncate(cur.rbase);
    }
    let returning = cur.func;
    let Some(caller) = stack.frames.pop() else {
        let value = match (returned, &ctx.funcs[returning].ret) {
            (Returned::Int(v), Some(Type::Bool)) => Value::Bool(v != 0),
            (Returned::Int(v), _) => Value::Int(v),
            (Returned::Ref(v), _) => v,
            (Returned::Unit, _) => Value::Unit,
        };
        if O::ACTIVE {
            observer.exit(returning as u16, &value);
        }
        return Some(value);
    };
    let func = usize::from(caller.func);
    *cur = Cursor {
        func,
        code: &ctx.funcs[func].code,
        pc: usize::from(caller.pc) + 1,
        ibase: caller.int_base,
        rbase: caller.ref_base,
    };
    let is_unit = matches!(returned, Returned::Unit);
    match returned {
        Returned::Int(v) => stack.ints[cur.ibase + usize::from(caller.dst)] = v,
        Returned::Ref(v) => stack.refs[cur.rbase + usize::from(caller.dst)] = v,
        Returned::Unit => {}
    }
    if O::ACTIVE {
        let value = if is_unit {
            Value::Unit
        } else {
            stack.view(ctx, cur).get(caller.dst).unwrap_or_default()
        };
        observer.exit(returning as u16, &value);
    }
    None
}

/// Contents that a copy-on-write copy duplicates, with what copying costs.
pub(super) trait Contents: Clone {
    /// The cost of a copy against `alloc_bytes`.
    fn copy_cost(&self) -> u64;
}

impl Contents for String {
    fn copy_cost(&self) -> u64 {
        self.len() as u64
    }
}

impl Contents for Array {
    fn copy_cost(&self) -> u64 {
        alloc_cost::array_contents(self)
    }
}

/// Takes `cost` bytes from what the run may still allocate; `false` (and
/// nothing taken) when that would pass the `alloc_bytes` limit.
#[inline(always)]
pub(super) fn charge(alloc_left: &mut u64, cost: u64) -> bool {
    match alloc_left.checked_sub(cost) {
        Some(left) => {
            *alloc_left = left;
            true
        }
        None => false,
    }
}

/// Makes `rc` uniquely owned, copying its contents first if they are shared
/// (copy-on-write, charged to `alloc_left`), and returns them mutably. The
/// unshared case is a couple of inlined compares; `None` means the copy
/// would pass the `alloc_bytes` limit (after a copy, `get_mut` cannot fail).
#[inline(always)]
pub(super) fn unique<'a, T: Contents>(
    rc: &'a mut Rc<T>,
    alloc_left: &mut u64,
) -> Option<&'a mut T> {
    if Rc::get_mut(rc).is_none() {
        if !charge(alloc_left, rc.copy_cost()) {
            return None;
        }
        *rc = Rc::new(T::clone(rc));
    }
    Rc::get_mut(rc)
}
