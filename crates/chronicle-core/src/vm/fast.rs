//! The inner loop: scalar arithmetic, comparisons, jumps, calls, returns and
//! `int`/`bool` array element access.
//!
//! It is a separate function with little live state (the cursor, the fuel,
//! the stacks) so that the compiler keeps that state in machine registers.
//! Instructions that allocate or reach the host (strings, reference arrays,
//! capability calls, ...) return [`Exit::Slow`] with the cursor at that
//! instruction, and the outer loop in [`super::interp`] executes it.

use super::error::TrapKind;
use super::frame::{self, Ctx, Cursor, Returned, Stack};
use super::observer::{FrameView, Observer};
use crate::isa::Instr;
use crate::limits::{alloc_cost, Limit};
use crate::value::{Array, Value};

/// Why the inner loop returned.
pub(super) enum Exit {
    /// The instruction at the cursor is for the outer loop; its fuel has not been charged.
    Slow,
    /// The `instructions` limit is reached before the instruction at the cursor.
    OutOfFuel,
    /// The instruction at the cursor failed.
    Trap(TrapKind),
    /// The entry function returned this value.
    Done(Value),
}

/// Runs instructions from the cursor until a slow one, a trap, the end of
/// fuel or the end of the run.
#[inline(never)]
pub(super) fn run<'m, O: Observer>(
    ctx: &Ctx<'m>,
    stack: &mut Stack,
    cursor: &mut Cursor<'m>,
    fuel: &mut u64,
    observer: &mut O,
) -> Exit {
    let mut c = *cursor;
    let mut f = *fuel;
    // The current frame's register slices, re-taken after every call and return.
    let mut ints: &mut [i64] = &mut stack.ints[c.ibase..];
    let mut refs: &mut [Value] = &mut stack.refs[c.rbase..];

    macro_rules! int {
        ($r:expr) => {
            ints[usize::from($r)]
        };
    }
    macro_rules! reslice {
        () => {{
            ints = &mut stack.ints[c.ibase..];
            refs = &mut stack.refs[c.rbase..];
        }};
    }
    let exit = 'run: loop {
        macro_rules! trap {
            ($kind:expr) => {
                break 'run Exit::Trap($kind)
            };
        }
        macro_rules! checked {
            ($e:expr) => {
                match $e {
                    Some(v) => v,
                    None => trap!(TrapKind::IntegerOverflow),
                }
            };
        }
        macro_rules! index {
            ($len:expr, $i:expr) => {
                match usize::try_from($i) {
                    Ok(i) if i < $len => i,
                    _ => trap!(TrapKind::IndexOutOfRange),
                }
            };
        }
        macro_rules! array {
            ($r:expr) => {
                match &refs[usize::from($r)] {
                    Value::Array(a) => &**a,
                    _ => trap!(TrapKind::Internal("register does not hold an array")),
                }
            };
        }
        macro_rules! array_mut {
            ($r:expr) => {
                match &mut refs[usize::from($r)] {
                    Value::Array(a) => a,
                    _ => trap!(TrapKind::Internal("register does not hold an array")),
                }
            };
        }
        macro_rules! step {
            () => {
                if O::ACTIVE {
                    let view = FrameView {
                        ints,
                        refs,
                        types: &ctx.funcs[c.func].regs,
                    };
                    observer.step(c.func as u16, c.pc as u16, c.code[c.pc], view);
                }
            };
        }
        macro_rules! jump_if {
            ($cond:expr, $t:expr) => {{
                let taken = $cond;
                step!();
                c.pc = if taken { usize::from($t) } else { c.pc + 1 };
                continue;
            }};
        }
        macro_rules! returned {
            ($value:expr) => {{
                match frame::ret(ctx, stack, &mut c, $value, observer) {
                    Some(result) => break 'run Exit::Done(result),
                    None => {
                        reslice!();
                        continue;
                    }
                }
            }};
        }

        if f == 0 {
            break Exit::OutOfFuel;
        }
        f -= 1;
        match c.code[c.pc] {
            Instr::LoadInt { d, imm } => int!(d) = i64::from(imm as i16),
            Instr::LoadBool { d, imm } => int!(d) = i64::from(imm != 0),
            Instr::LoadConst { d, k } => int!(d) = ctx.const_ints[usize::from(k)],
            Instr::Move { d, a } => int!(d) = int!(a),

            Instr::Add { d, a, b } => int!(d) = checked!(int!(a).checked_add(int!(b))),
            Instr::Sub { d, a, b } => int!(d) = checked!(int!(a).checked_sub(int!(b))),
            Instr::Mul { d, a, b } => int!(d) = checked!(int!(a).checked_mul(int!(b))),
            Instr::Div { d, a, b } => {
                let y = int!(b);
                if y == 0 {
                    trap!(TrapKind::DivisionByZero);
                }
                int!(d) = checked!(int!(a).checked_div(y));
            }
            Instr::Rem { d, a, b } => {
                let y = int!(b);
                if y == 0 {
                    trap!(TrapKind::DivisionByZero);
                }
                // `MIN % -1` is 0, which is representable: not an overflow.
                int!(d) = int!(a).wrapping_rem(y);
            }
            Instr::Neg { d, a } => int!(d) = checked!(int!(a).checked_neg()),
            Instr::AddImm { d, a, imm } => {
                int!(d) = checked!(int!(a).checked_add(i64::from(imm as i16)))
            }

            Instr::Lt { d, a, b } => int!(d) = i64::from(int!(a) < int!(b)),
            Instr::Le { d, a, b } => int!(d) = i64::from(int!(a) <= int!(b)),
            Instr::Gt { d, a, b } => int!(d) = i64::from(int!(a) > int!(b)),
            Instr::Ge { d, a, b } => int!(d) = i64::from(int!(a) >= int!(b)),
            Instr::Eq { d, a, b } => int!(d) = i64::from(int!(a) == int!(b)),
            Instr::Ne { d, a, b } => int!(d) = i64::from(int!(a) != int!(b)),
            Instr::Not { d, a } => int!(d) = i64::from(int!(a) == 0),

            Instr::Call {
                d, f: callee, a, ..
            }
            | Instr::CallUnit { f: callee, a, n: d } => {
                // For `callu` the saved destination is never used.
                match frame::call(ctx, stack, &mut c, usize::from(callee), a, d, observer) {
                    Ok(()) => {
                        reslice!();
                        continue;
                    }
                    Err(kind) => trap!(kind),
                }
            }
            Instr::Ret { a } => {
                let v = int!(a);
                returned!(Returned::Int(v))
            }
            Instr::RetRef { a } => {
                let v = std::mem::take(&mut refs[usize::from(a)]);
                // The run's result leaves for the host (and a trace's END
                // record) in full: charged in full, however much it shares.
                if stack.frames.is_empty() {
                    match alloc_cost::deep_within(&v, stack.alloc_left) {
                        Some(cost) => stack.alloc_left -= cost,
                        None => trap!(ctx.limit(Limit::AllocBytes)),
                    }
                }
                returned!(Returned::Ref(v))
            }
            Instr::RetUnit {} => returned!(Returned::Unit),

            Instr::Jump { t } => jump_if!(true, t),
            Instr::JumpIf { c, t } => jump_if!(int!(c) != 0, t),
            Instr::JumpIfNot { c, t } => jump_if!(int!(c) == 0, t),
            Instr::JumpLt { a, b, t } => jump_if!(int!(a) < int!(b), t),
            Instr::JumpLe { a, b, t } => jump_if!(int!(a) <= int!(b), t),
            Instr::JumpGt { a, b, t } => jump_if!(int!(a) > int!(b), t),
            Instr::JumpGe { a, b, t } => jump_if!(int!(a) >= int!(b), t),
            Instr::ForNext { i, end, t } => {
                let next = checked!(int!(i).checked_add(1));
                int!(i) = next;
                jump_if!(next < int!(end), t)
            }

            Instr::GetInt { d, a, i } => {
                let Array::Int(arr) = array!(a) else {
                    trap!(TrapKind::Internal("array is not an [int]"))
                };
                let i = index!(arr.len(), int!(i));
                int!(d) = arr[i];
            }
            Instr::GetBool { d, a, i } => {
                let Array::Bool(arr) = array!(a) else {
                    trap!(TrapKind::Internal("array is not a [bool]"))
                };
                let i = index!(arr.len(), int!(i));
                int!(d) = i64::from(arr[i]);
            }
            Instr::SetInt { a, i, v } => {
                let (idx, value) = (int!(i), int!(v));
                let arr = array_mut!(a);
                let idx = index!(arr.len(), idx);
                let Some(arr) = frame::unique(arr, &mut stack.alloc_left) else {
                    trap!(ctx.limit(Limit::AllocBytes))
                };
                let Array::Int(items) = arr else {
                    trap!(TrapKind::Internal("array is not an [int]"))
                };
                items[idx] = value;
            }
            Instr::SetBool { a, i, v } => {
                let (idx, value) = (int!(i), int!(v) != 0);
                let arr = array_mut!(a);
                let idx = index!(arr.len(), idx);
                let Some(arr) = frame::unique(arr, &mut stack.alloc_left) else {
                    trap!(ctx.limit(Limit::AllocBytes))
                };
                let Array::Bool(items) = arr else {
                    trap!(TrapKind::Internal("array is not a [bool]"))
                };
                items[idx] = value;
            }
            Instr::PushInt { a, v } => {
                let x = int!(v);
                let arr = array_mut!(a);
                if arr.len() as u64 >= ctx.limits.array_len {
                    trap!(ctx.limit(Limit::ArrayLen));
                }
                let Some(arr) = frame::unique(arr, &mut stack.alloc_left) else {
                    trap!(ctx.limit(Limit::AllocBytes))
                };
                let Array::Int(items) = arr else {
                    trap!(TrapKind::Internal("array is not an [int]"))
                };
                if !frame::charge(&mut stack.alloc_left, alloc_cost::INT) {
                    trap!(ctx.limit(Limit::AllocBytes));
                }
                items.push(x);
            }
            Instr::PushBool { a, v } => {
                let x = int!(v) != 0;
                let arr = array_mut!(a);
                if arr.len() as u64 >= ctx.limits.array_len {
                    trap!(ctx.limit(Limit::ArrayLen));
                }
                let Some(arr) = frame::unique(arr, &mut stack.alloc_left) else {
                    trap!(ctx.limit(Limit::AllocBytes))
                };
                let Array::Bool(items) = arr else {
                    trap!(TrapKind::Internal("array is not a [bool]"))
                };
                if !frame::charge(&mut stack.alloc_left, alloc_cost::BOOL) {
                    trap!(ctx.limit(Limit::AllocBytes));
                }
                items.push(x);
            }
            Instr::ArrayLen { d, a } => {
                let len = array!(a).len();
                int!(d) = len as i64;
            }
            _ => {
                f += 1;
                break Exit::Slow;
            }
        }
        step!();
        c.pc += 1;
    };
    *cursor = c;
    *fuel = f;
    exit
}
