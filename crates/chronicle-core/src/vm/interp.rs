//! The outer loop: runs the inner loop of [`super::fast`] and executes the
//! instructions it hands back (strings, reference arrays, capability calls),
//! then turns a trap into a located [`RuntimeError`].

use super::error::{RuntimeError, TrapKind};
use super::fast::{self, Exit};
use super::frame::{self, enter_entry, Ctx, Stack};
use super::host::{CapabilityError, Host};
use super::observer::{Observer, HALT_CHECK_EVERY};
use super::Vm;
use crate::isa::Instr;
use crate::limits::{alloc_cost, Limit};
use crate::types::Type;
use crate::value::{Array, Value};
use std::fmt::Write as _;
use std::rc::Rc;

pub(super) fn execute<H: Host, O: Observer>(vm: &mut Vm<'_, H, O>) -> Result<Value, RuntimeError> {
    let mut ctx = Ctx::new(vm.module, vm.limits);
    ctx.host_work = vm.host_work;
    let stack = &mut vm.state.stack;
    let observer = &mut vm.observer;
    let host = &mut vm.host;
    // Fuel left before the `instructions` limit: the inner loop's slice,
    // and the reserve it is refilled from. Only an active observer can
    // halt a run, so only its runs are sliced.
    let mut fuel: u64 = ctx.limits.instructions;
    let mut reserve = 0;
    if O::ACTIVE {
        reserve = fuel.saturating_sub(HALT_CHECK_EVERY);
        fuel -= reserve;
    }
    stack.alloc_left = ctx.limits.alloc_bytes;
    stack.work = 0;

    let (cur, result) = match enter_entry(&ctx, stack, observer) {
        Err((cur, kind)) => (cur, Err(kind)),
        Ok(mut cur) => {
            let fuel = Fuel {
                slice: &mut fuel,
                reserve: &mut reserve,
            };
            let result = outer_loop(&ctx, stack, &mut cur, fuel, host, observer);
            (cur, result)
        }
    };
    vm.state.fuel_used = ctx.limits.instructions - fuel - reserve;
    vm.state.executed = vm.state.fuel_used - stack.work;
    vm.state.allocated = ctx.limits.alloc_bytes - stack.alloc_left;
    result.map_err(|kind| {
        let f = &ctx.funcs[cur.func];
        let error = RuntimeError {
            kind,
            func: cur.func as u16,
            func_name: f.name.clone(),
            pc: cur.pc as u16,
            line: f.line(cur.pc),
        };
        if O::ACTIVE && error.kind != TrapKind::Halted {
            vm.observer.trap(&error);
        }
        error
    })
}

fn outer_loop<'m, H: Host, O: Observer>(
    ctx: &Ctx<'m>,
    stack: &mut Stack,
    cur: &mut super::frame::Cursor<'m>,
    fuel: Fuel<'_>,
    host: &mut H,
    observer: &mut O,
) -> Result<Value, TrapKind> {
    let limits = ctx.limits;
    let Fuel {
        slice: fuel,
        reserve,
    } = fuel;
    macro_rules! trap {
        ($kind:expr) => {
            return Err($kind)
        };
    }
    macro_rules! limit {
        ($limit:ident) => {
            trap!(ctx.limit(Limit::$limit))
        };
    }
    macro_rules! int {
        ($r:expr) => {
            stack.ints[cur.ibase + usize::from($r)]
        };
    }
    macro_rules! reg {
        ($r:expr) => {
            stack.refs[cur.rbase + usize::from($r)]
        };
    }
    macro_rules! internal {
        ($what:literal) => {
            trap!(TrapKind::Internal($what))
        };
    }
    // The `str` in register `r`, as a shared handle.
    macro_rules! string {
        ($r:expr) => {
            match &reg!($r) {
                Value::Str(s) => Rc::clone(s),
                _ => internal!("register does not hold a str"),
            }
        };
    }
    macro_rules! array {
        ($r:expr) => {
            match &reg!($r) {
                Value::Array(a) => &**a,
                _ => internal!("register does not hold an array"),
            }
        };
    }
    macro_rules! array_mut {
        ($r:expr) => {
            match &mut reg!($r) {
                Value::Array(a) => a,
                _ => internal!("register does not hold an array"),
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
    macro_rules! check_str_len {
        ($len:expr) => {
            if $len as u64 > limits.string_bytes {
                limit!(StringBytes)
            }
        };
    }
    // Moves fuel from the reserve into an empty slice, first asking the
    // observer whether to go on; false when there is none left.
    macro_rules! refill {
        () => {{
            if *reserve == 0 {
                false
            } else {
                if observer.halted() {
                    trap!(TrapKind::Halted)
                }
                let take = (*reserve).min(HALT_CHECK_EVERY);
                *fuel += take;
                *reserve -= take;
                true
            }
        }};
    }
    // Takes the fuel of `bytes` of work (`isa`, "Fuel") before the work,
    // from the slice and then the reserve.
    macro_rules! work {
        ($bytes:expr) => {{
            let units = $bytes as u64 / WORK_BYTES;
            if *fuel + *reserve < units {
                limit!(Instructions)
            }
            let from_slice = units.min(*fuel);
            *fuel -= from_slice;
            *reserve -= units - from_slice;
            stack.work += units;
        }};
    }
    // Takes `cost` from what the run may still allocate (`alloc_bytes`).
    macro_rules! charge {
        ($cost:expr) => {
            if !frame::charge(&mut stack.alloc_left, $cost) {
                limit!(AllocBytes)
            }
        };
    }
    // The deep cost of a value that crosses the host boundary; evaluates
    // to that cost.
    macro_rules! charge_deep {
        ($v:expr) => {
            match alloc_cost::deep_within($v, stack.alloc_left) {
                Some(cost) => {
                    stack.alloc_left -= cost;
                    cost
                }
                None => limit!(AllocBytes),
            }
        };
    }
    // A new string of `len` bytes: both string limits.
    macro_rules! new_str {
        ($len:expr) => {{
            let len = $len;
            check_str_len!(len);
            charge!(alloc_cost::OBJECT + len as u64);
        }};
    }
    // `frame::unique` on an array or string, charged to `alloc_bytes`.
    macro_rules! unique {
        ($rc:expr) => {
            match frame::unique($rc, &mut stack.alloc_left) {
                Some(contents) => contents,
                None => limit!(AllocBytes),
            }
        };
    }

    loop {
        match fast::run(ctx, stack, cur, fuel, observer) {
            Exit::Slow => {}
            Exit::OutOfFuel => {
                if refill!() {
                    continue;
                }
                limit!(Instructions)
            }
            Exit::Trap(kind) => trap!(kind),
            Exit::Done(value) => return Ok(value),
        }
        // The inner loop left fuel for this instruction uncharged.
        if *fuel == 0 && !refill!() {
            limit!(Instructions);
        }
        *fuel -= 1;
        match cur.code[cur.pc] {
            Instr::LoadStr { d, k } => {
                let v = &ctx.const_refs[usize::from(k)];
                if let Value::Str(s) = v {
                    check_str_len!(s.len());
                }
                reg!(d) = v.clone();
            }
            Instr::MoveRef { d, a } => {
                let v = reg!(a).clone();
                reg!(d) = v;
            }

            Instr::EqRef { d, a, b } | Instr::NeRef { d, a, b } => {
                let all = (*fuel + *reserve).saturating_mul(WORK_BYTES);
                let mut budget = all;
                let Some(equal) = equal_within(&reg!(a), &reg!(b), &mut budget) else {
                    limit!(Instructions)
                };
                let used = all - budget;
                work!(used);
                let ne = matches!(cur.code[cur.pc], Instr::NeRef { .. });
                int!(d) = i64::from(equal != ne);
            }
            Instr::Cap { c, a, n, .. } | Instr::CapUnit { c, a, n } => {
                let import = &ctx.module.module().imports[usize::from(c)];
                let a = usize::from(a);
                // Arguments leave as unshared copies, charged in full: what
                // the host keeps cannot change what the run copies later.
                let mut args = Vec::with_capacity(usize::from(n));
                let mut arg_bytes = 0u64;
                for (i, t) in import.sig.params.iter().take(usize::from(n)).enumerate() {
                    args.push(match t {
                        Type::Int => Value::Int(stack.ints[cur.ibase + a + i]),
                        Type::Bool => Value::Bool(stack.ints[cur.ibase + a + i] != 0),
                        Type::Str | Type::Array(_) => {
                            let v = &stack.refs[cur.rbase + a + i];
                            arg_bytes += charge_deep!(v);
                            v.clone().unshared()
                        }
                    });
                }
                // The host's work on what it is given is fuel (`isa`,
                // "Fuel"), taken before it starts.
                if ctx.host_work {
                    work!(arg_bytes);
                }
                let outcome = host.call(c, &args).and_then(|v| {
                    v.normalized(import.sig.ret.as_ref()).ok_or_else(|| {
                        CapabilityError::new(format!(
                            "the host returned a value of the wrong type (expected {})",
                            import
                                .sig
                                .ret
                                .as_ref()
                                .map_or("unit".to_string(), Type::to_string)
                        ))
                    })
                });
                if O::ACTIVE {
                    let opened = if outcome.is_ok() { host.opened() } else { None };
                    observer.capability_opened(c, &args, outcome.as_ref(), opened.as_deref());
                }
                let value = match outcome {
                    Ok(v) => v,
                    Err(e) => trap!(TrapKind::Capability {
                        name: format!("{}@{}", import.name, import.version),
                        reason: e.reason,
                    }),
                };
                let (elems, bytes) = value.extent();
                if elems as u64 > ctx.limits.array_len {
                    limit!(ArrayLen);
                }
                check_str_len!(bytes);
                let result_bytes = charge_deep!(&value);
                if ctx.host_work {
                    work!(result_bytes);
                }
                let value = value.unshared();
                if let Instr::Cap { d, .. } = cur.code[cur.pc] {
                    match value {
                        Value::Int(v) => int!(d) = v,
                        Value::Bool(v) => int!(d) = i64::from(v),
                        Value::Unit => internal!("unit result for a valued capability"),
                        v => reg!(d) = v,
                    }
                }
            }

            Instr::Concat { d, a, b } => {
                let rhs = string!(b);
                if d == a {
                    let Value::Str(s) = &mut reg!(d) else {
                        internal!("register does not hold a str")
                    };
                    check_str_len!(s.len() + rhs.len());
                    let s = unique!(s);
                    charge!(rhs.len() as u64);
                    s.push_str(&rhs);
                } else {
                    let lhs = string!(a);
                    new_str!(lhs.len() + rhs.len());
                    put_str(&mut reg!(d), |out| {
                        out.push_str(&lhs);
                        out.push_str(&rhs);
                    });
                }
            }
            Instr::IntToStr { d, a } => {
                let v = int!(a);
                new_str!(decimal_len(v));
                put_str(&mut reg!(d), |out| {
                    let _ = write!(out, "{v}");
                });
            }
            Instr::BoolToStr { d, a } => {
                let text = if int!(a) != 0 { "true" } else { "false" };
                new_str!(text.len());
                put_str(&mut reg!(d), |out| out.push_str(text));
            }
            Instr::StrLen { d, a } => {
                let len = match &reg!(a) {
                    Value::Str(s) => s.len(),
                    _ => internal!("register does not hold a str"),
                };
                int!(d) = len as i64;
            }
            Instr::Substr { d, s, a, b } => {
                let src = string!(s);
                let (start, end) = (int!(a), int!(b));
                let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
                    trap!(TrapKind::IndexOutOfRange)
                };
                if start > src.len() || end > src.len() {
                    trap!(TrapKind::IndexOutOfRange);
                }
                let Some(part) = src.get(start..end) else {
                    trap!(TrapKind::InvalidArgument)
                };
                new_str!(part.len());
                put_str(&mut reg!(d), |out| out.push_str(part));
            }
            Instr::Contains { d, s, sub } => {
                let (hay, needle) = (string!(s), string!(sub));
                work!(hay.len() + needle.len());
                int!(d) = i64::from(hay.contains(needle.as_str()));
            }
            Instr::Split { d, s, sep } => {
                let (text, sep) = (string!(s), string!(sep));
                if sep.is_empty() {
                    trap!(TrapKind::InvalidArgument);
                }
                charge!(alloc_cost::OBJECT);
                let mut parts = Vec::new();
                for part in text.split(sep.as_str()) {
                    if parts.len() as u64 == ctx.limits.array_len {
                        limit!(ArrayLen);
                    }
                    charge!(alloc_cost::REF + alloc_cost::OBJECT + part.len() as u64);
                    parts.push(Value::str(part));
                }
                reg!(d) = Value::Array(Rc::new(Array::Ref(parts)));
            }
            Instr::ParseInt { d, s } => {
                let text = string!(s);
                work!(text.len());
                int!(d) = match parse_int(&text) {
                    Some(v) => v,
                    None => trap!(TrapKind::InvalidNumber),
                };
            }

            Instr::ArrayInt { d, a, n }
            | Instr::ArrayBool { d, a, n }
            | Instr::ArrayRef { d, a, n } => {
                if u64::from(n) > ctx.limits.array_len {
                    limit!(ArrayLen);
                }
                match cur.code[cur.pc] {
                    Instr::ArrayInt { .. } => {
                        charge!(alloc_cost::OBJECT + u64::from(n) * alloc_cost::INT)
                    }
                    Instr::ArrayBool { .. } => {
                        charge!(alloc_cost::OBJECT + u64::from(n) * alloc_cost::BOOL)
                    }
                    // A trace records the new array in full: its elements are
                    // charged in full too, however much they share.
                    _ => {
                        charge!(alloc_cost::OBJECT + u64::from(n) * alloc_cost::REF);
                        for i in usize::from(a)..usize::from(a) + usize::from(n) {
                            charge_deep!(&stack.refs[cur.rbase + i]);
                        }
                    }
                }
                // The elements live in the file of the element type. With no
                // elements `a` may name the end of the frame: take nothing.
                let elems = usize::from(a)..usize::from(a) + usize::from(n);
                let empty = n == 0;
                let items = match cur.code[cur.pc] {
                    Instr::ArrayInt { .. } if empty => Array::Int(Vec::new()),
                    Instr::ArrayBool { .. } if empty => Array::Bool(Vec::new()),
                    _ if empty => Array::Ref(Vec::new()),
                    Instr::ArrayInt { .. } => Array::Int(stack.ints[cur.ibase..][elems].to_vec()),
                    Instr::ArrayBool { .. } => Array::Bool(
                        stack.ints[cur.ibase..][elems]
                            .iter()
                            .map(|&v| v != 0)
                            .collect(),
                    ),
                    _ => Array::Ref(stack.refs[cur.rbase..][elems].to_vec()),
                };
                reg!(d) = Value::Array(Rc::new(items));
            }
            Instr::GetRef { d, a, i } => {
                let Array::Ref(arr) = array!(a) else {
                    internal!("array is not of references")
                };
                let i = index!(arr.len(), int!(i));
                let v = arr[i].clone();
                reg!(d) = v;
            }
            Instr::SetRef { a, i, v } => {
                let (idx, value) = (int!(i), reg!(v).clone());
                let arr = array_mut!(a);
                let idx = index!(arr.len(), idx);
                let Array::Ref(items) = unique!(arr) else {
                    internal!("array is not of references")
                };
                items[idx] = value;
            }
            Instr::PushRef { a, v } => {
                let x = reg!(v).clone();
                let arr = array_mut!(a);
                if arr.len() as u64 >= ctx.limits.array_len {
                    limit!(ArrayLen);
                }
                let Array::Ref(items) = unique!(arr) else {
                    internal!("array is not of references")
                };
                charge!(alloc_cost::REF);
                items.push(x);
            }
            Instr::PopInt { d, a } | Instr::PopBool { d, a } | Instr::PopRef { d, a } => {
                let arr = array_mut!(a);
                if arr.is_empty() {
                    trap!(TrapKind::EmptyArray);
                }
                match unique!(arr) {
                    Array::Int(items) => {
                        let x = items.pop().unwrap_or_default();
                        int!(d) = x;
                    }
                    Array::Bool(items) => {
                        let x = items.pop().unwrap_or_default();
                        int!(d) = i64::from(x);
                    }
                    Array::Ref(items) => {
                        let x = items.pop().unwrap_or_default();
                        reg!(d) = x;
                    }
                }
            }
            Instr::Assert { c, m } => {
                if int!(c) == 0 {
                    let message = string!(m);
                    trap!(TrapKind::AssertionFailed(message.as_str().to_owned()));
                }
            }
            _ => internal!("an inner-loop instruction reached the outer loop"),
        }
        if O::ACTIVE {
            observer.step(
                cur.func as u16,
                cur.pc as u16,
                cur.code[cur.pc],
                stack.view(ctx, cur),
            );
        }
        cur.pc += 1;
    }
}
/// The fuel of a run: the slice the inner loop spends, and the reserve the
/// outer loop refills it from (see [`HALT_CHECK_EVERY`]).
struct Fuel<'a> {
    slice: &'a mut u64,
    reserve: &'a mut u64,
}

/// Bytes of work that cost one unit of fuel beyond the instruction's own
/// (`isa`, "Fuel"): comparisons, searches and parses that allocate nothing
/// (work that allocates is bounded by `alloc_bytes` instead).
const WORK_BYTES: u64 = 64;

/// Whether `a` equals `b`, taking from `budget` the bytes compared (their
/// contents as [`alloc_cost`] counts them; storage shared by both is equal
/// at no cost); `None`, part way, when the budget runs out.
fn equal_within(a: &Value, b: &Value, budget: &mut u64) -> Option<bool> {
    let mut take = |bytes: u64| -> Option<()> {
        *budget = budget.checked_sub(bytes)?;
        Some(())
    };
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => {
            if Rc::ptr_eq(x, y) || x.len() != y.len() {
                return Some(Rc::ptr_eq(x, y));
            }
            take(x.len() as u64)?;
            Some(x == y)
        }
        (Value::Array(x), Value::Array(y)) => {
            if Rc::ptr_eq(x, y) || x.len() != y.len() {
                return Some(Rc::ptr_eq(x, y));
            }
            take(alloc_cost::array_contents(x))?;
            match (&**x, &**y) {
                (Array::Ref(xs), Array::Ref(ys)) => {
                    for (x, y) in xs.iter().zip(ys) {
                        if !equal_within(x, y, budget)? {
                            return Some(false);
                        }
                    }
                    Some(true)
                }
                (x, y) => Some(x == y),
            }
        }
        (x, y) => Some(x == y),
    }
}

/// Writes a new string into `slot`, reusing its buffer when not shared.
fn put_str(slot: &mut Value, fill: impl FnOnce(&mut String)) {
    if let Value::Str(rc) = slot {
        if let Some(s) = Rc::get_mut(rc) {
            s.clear();
            fill(s);
            return;
        }
    }
    let mut s = String::new();
    fill(&mut s);
    *slot = Value::Str(Rc::new(s));
}

/// The length of `v` in decimal.
fn decimal_len(v: i64) -> usize {
    let sign = usize::from(v < 0);
    let mut n = v.unsigned_abs();
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    sign + digits
}

/// `parse_int`: an optional `-` or `+` and one or more ASCII digits, in range.
fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
