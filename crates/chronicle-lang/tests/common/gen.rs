//! A generator of random, well-typed, terminating `.chr` programs.
//!
//! Programs come from a seed, so a failing case is reproduced by its seed
//! alone. Termination holds by construction:
//! - functions only call functions defined before them, except the
//!   recursive ones, which count a read-only `n` (a literal at the call site,
//!   at most 6) down to zero;
//! - `while` loops carry a read-only counter, incremented first thing in the
//!   body and bounded by a small literal; `for` ranges have literal bounds or
//!   iterate over an array;
//! - an estimate of each function's cost keeps calls inside loops cheap.
//!
//! Growth is bounded too: inside a loop, a string or array declared outside
//! that loop only grows by a small piece per iteration (`s = s + "x"`,
//! `push(xs, 1)`), so values stay far below the sandbox limits in practice.
//!
//! No capability calls are generated; every runtime error kind except
//! `capability error` can occur (overflow, division by zero, index out of
//! range, invalid number/argument, empty array, failed assertions).

/// A small deterministic PRNG (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ty {
    Int,
    Bool,
    Str,
    Arr(Box<Ty>),
}

impl Ty {
    fn arr(t: Ty) -> Ty {
        Ty::Arr(Box::new(t))
    }

    fn text(&self) -> String {
        match self {
            Ty::Int => "int".into(),
            Ty::Bool => "bool".into(),
            Ty::Str => "str".into(),
            Ty::Arr(t) => format!("[{}]", t.text()),
        }
    }

    fn grows(&self) -> bool {
        matches!(self, Ty::Str | Ty::Arr(_))
    }
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    ty: Ty,
    /// Loop depth at the declaration.
    level: u32,
    readonly: bool,
}

#[derive(Clone, Debug)]
struct FnSig {
    name: String,
    params: Vec<Ty>,
    ret: Option<Ty>,
    /// Estimated steps per call.
    cost: u64,
    /// Recursive functions take a literal depth as first argument.
    recursive: bool,
}

/// Steps a single call inside loops may cost, estimated.
const CALL_BUDGET: u64 = 20_000;

struct Gen {
    rng: Rng,
    out: String,
    indent: usize,
    scopes: Vec<Vec<Var>>,
    fns: Vec<FnSig>,
    loop_depth: u32,
    /// Product of the iteration bounds of the enclosing loops.
    mult: u64,
    cost: u64,
    ret: Option<Ty>,
    next_name: u32,
    /// Statements left for the current function.
    stmts_left: u32,
}

/// Generates one program from `seed`.
pub fn program(seed: u64) -> String {
    let mut g = Gen {
        rng: Rng::new(seed),
        out: String::new(),
        indent: 0,
        scopes: Vec::new(),
        fns: Vec::new(),
        loop_depth: 0,
        mult: 1,
        cost: 0,
        ret: None,
        next_name: 0,
        stmts_left: 0,
    };
    g.out.push_str(&format!("// generated from seed {seed}\n"));
    let helpers = g.rng.below(5);
    for i in 0..helpers {
        if g.rng.chance(1, 4) {
            g.recursive_fn(i);
        } else {
            g.helper_fn(i);
        }
    }
    g.main_fn();
    g.out
}

impl Gen {
    // ---- output ----

    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{prefix}{}", self.next_name)
    }

    // ---- scopes ----

    fn vars(&self) -> impl Iterator<Item = &Var> {
        self.scopes.iter().rev().flat_map(|s| s.iter().rev())
    }

    /// Visible variables (innermost binding of each name) of type `ty`.
    fn visible(&self, ty: &Ty) -> Vec<Var> {
        let mut seen = std::collections::HashSet::new();
        self.vars()
            .filter(|v| seen.insert(v.name.clone()))
            .filter(|v| v.ty == *ty)
            .cloned()
            .collect()
    }

    fn declare(&mut self, name: String, ty: Ty, readonly: bool) {
        let level = self.loop_depth;
        self.scopes.last_mut().expect("scope").push(Var {
            name,
            ty,
            level,
            readonly,
        });
    }

    fn random_ty(&mut self) -> Ty {
        match self.rng.below(10) {
            0..=3 => Ty::Int,
            4 => Ty::Bool,
            5 | 6 => Ty::Str,
            7 => Ty::arr(Ty::Int),
            8 => Ty::arr(Ty::Str),
            _ => match self.rng.below(2) {
                0 => Ty::arr(Ty::Bool),
                _ => Ty::arr(Ty::arr(Ty::Int)),
            },
        }
    }

    // ---- functions ----

    fn params(&mut self, count: u64) -> (Vec<(String, Ty)>, String) {
        let params: Vec<(String, Ty)> = (0..count)
            .map(|_| {
                let ty = self.random_ty();
                (self.fresh("p"), ty)
            })
            .collect();
        let text = params
            .iter()
            .map(|(n, t)| format!("{n}: {}", t.text()))
            .collect::<Vec<_>>()
            .join(", ");
        (params, text)
    }

    fn helper_fn(&mut self, index: u64) {
        let name = format!("f{index}");
        let count = self.rng.below(4);
        let (params, text) = self.params(count);
        let ret = if self.rng.chance(1, 6) {
            None
        } else {
            Some(self.random_ty())
        };
        let arrow = ret
            .as_ref()
            .map_or(String::new(), |t| format!(" -> {}", t.text()));
        self.line(&format!("fn {name}({text}){arrow} {{"));
        let cost = self.body(&params, ret.clone(), 8);
        self.line("}");
        self.fns.push(FnSig {
            name,
            params: params.into_iter().map(|(_, t)| t).collect(),
            ret,
            cost,
            recursive: false,
        });
    }

    fn recursive_fn(&mut self, index: u64) {
        let name = format!("r{index}");
        let count = self.rng.below(3);
        let (mut params, text) = self.params(count);
        let ret = self.random_ty();
        let n = self.fresh("n");
        let sep = if text.is_empty() { "" } else { ", " };
        self.line(&format!(
            "fn {name}({n}: int{sep}{text}) -> {} {{",
            ret.text()
        ));
        self.indent += 1;
        self.scopes = vec![Vec::new()];
        self.declare(n.clone(), Ty::Int, true);
        for (p, t) in &params {
            self.declare(p.clone(), t.clone(), false);
        }
        self.ret = Some(ret.clone());
        self.cost = 0;
        self.mult = 1;
        self.loop_depth = 0;
        self.stmts_left = 4;
        let base = self.expr(&ret, 2, true);
        self.line(&format!("if {n} <= 0 {{ return {base}; }}"));
        self.stmts(3);
        let mut args = vec![format!("{n} - 1")];
        for (_, t) in params.clone() {
            args.push(self.expr(&t, 2, true));
        }
        let call = format!("{name}({})", args.join(", "));
        let result = match ret {
            Ty::Int => format!("{call} + {}", self.expr(&Ty::Int, 1, false)),
            Ty::Str => format!("{} + {call}", self.small(&Ty::Str)),
            _ => call,
        };
        self.line(&format!("return {result};"));
        self.indent -= 1;
        self.line("}");
        params.insert(0, (n, Ty::Int));
        // Depth up to 7, each level costing the body: a rough bound.
        let cost = (self.cost + 20) * 8;
        self.fns.push(FnSig {
            name,
            params: params.into_iter().map(|(_, t)| t).collect(),
            ret: Some(ret),
            cost,
            recursive: true,
        });
    }

    fn main_fn(&mut self) {
        let ret = if self.rng.chance(1, 8) {
            None
        } else {
            Some(self.random_ty())
        };
        let arrow = ret
            .as_ref()
            .map_or(String::new(), |t| format!(" -> {}", t.text()));
        self.line(&format!("fn main(){arrow} {{"));
        self.body(&[], ret, 24);
        self.line("}");
    }

    /// Emits a function body; returns its estimated cost.
    fn body(&mut self, params: &[(String, Ty)], ret: Option<Ty>, stmts: u32) -> u64 {
        self.indent += 1;
        self.scopes = vec![Vec::new()];
        for (p, t) in params {
            self.declare(p.clone(), t.clone(), false);
        }
        self.ret = ret.clone();
        self.cost = 0;
        self.mult = 1;
        self.loop_depth = 0;
        self.stmts_left = stmts;
        let n = if self.fns.is_empty() || stmts < 20 {
            self.rng.range(2, 6)
        } else {
            self.rng.range(5, 12)
        };
        self.stmts(n as u32);
        if let Some(ret) = &ret {
            let e = self.expr(ret, 3, true);
            self.line(&format!("return {e};"));
        }
        self.indent -= 1;
        self.cost + 10
    }

    // ---- statements ----

    fn stmts(&mut self, n: u32) {
        for _ in 0..n {
            if self.stmts_left == 0 {
                break;
            }
            self.stmts_left -= 1;
            self.stmt();
        }
    }

    fn block(&mut self, n: u32, header: &str) {
        self.line(&format!("{header} {{"));
        self.indent += 1;
        self.scopes.push(Vec::new());
        self.stmts(n);
        self.scopes.pop();
        self.indent -= 1;
    }

    fn stmt(&mut self) {
        self.cost += self.mult * 4;
        let nested = self.indent < 5;
        match self.rng.below(22) {
            0..=4 => self.let_stmt(),
            5..=7 => self.assign(),
            8 => self.index_assign(),
            9 => self.push_pop(),
            10 | 11 if nested => self.if_stmt(),
            12 if nested => self.while_stmt(),
            13 | 14 if nested => self.for_range(),
            15 if nested => self.for_each(),
            16 if self.loop_depth > 0 => {
                let cond = self.expr(&Ty::Bool, 2, false);
                let word = if self.rng.chance(1, 2) {
                    "break"
                } else {
                    "continue"
                };
                self.line(&format!("if {cond} {{ {word}; }}"));
            }
            17 if nested => {
                self.block(2, "");
                self.line("}");
            }
            18 => self.call_stmt(),
            19 if self.rng.chance(1, 3) => {
                let cond = self.expr(&Ty::Bool, 2, false);
                let msg = self.rng.pick(&["check", "x > 0", "é\\n"]).to_string();
                self.line(&format!("assert({cond}, \"{msg}\");"));
            }
            20 if self.ret.is_some() && self.rng.chance(1, 2) => {
                let ret = self.ret.clone().expect("checked");
                let cond = self.expr(&Ty::Bool, 2, false);
                let e = self.expr(&ret, 2, true);
                self.line(&format!("if {cond} {{ return {e}; }}"));
            }
            21 => self.shadow(),
            _ => self.let_stmt(),
        }
    }

    fn let_stmt(&mut self) {
        let name = self.fresh("v");
        let valued: Vec<FnSig> = self
            .callable()
            .into_iter()
            .filter(|f| f.ret.is_some())
            .collect();
        if !valued.is_empty() && self.rng.chance(1, 3) {
            let f = self.rng.pick(&valued).clone();
            let call = self.call(&f);
            self.line(&format!("let {name} = {call};"));
            let ty = f.ret.expect("filtered");
            return self.declare(name, ty, false);
        }
        let ty = self.random_ty();
        if self.rng.chance(1, 3) {
            let e = self.expr(&ty, 3, true);
            self.line(&format!("let {name}: {} = {e};", ty.text()));
        } else {
            let e = self.expr(&ty, 3, false);
            self.line(&format!("let {name} = {e};"));
        }
        self.declare(name, ty, false);
    }

    /// Re-declares an outer variable's name in the current (inner) scope.
    fn shadow(&mut self) {
        if self.scopes.len() < 2 {
            return self.let_stmt();
        }
        let current: Vec<String> = self
            .scopes
            .last()
            .expect("scope")
            .iter()
            .map(|v| v.name.clone())
            .collect();
        let outer: Vec<Var> = self.scopes[..self.scopes.len() - 1]
            .iter()
            .flatten()
            .filter(|v| !current.contains(&v.name))
            .cloned()
            .collect();
        if outer.is_empty() {
            return self.let_stmt();
        }
        let victim = self.rng.pick(&outer).clone();
        let ty = self.random_ty();
        let e = self.expr(&ty, 2, false);
        self.line(&format!("let {} = {e};", victim.name));
        self.declare(victim.name, ty, false);
    }

    fn assignable(&self) -> Vec<Var> {
        let mut seen = std::collections::HashSet::new();
        self.vars()
            .filter(|v| seen.insert(v.name.clone()))
            .filter(|v| !v.readonly)
            .cloned()
            .collect()
    }

    /// Whether writes to `var` here could compound across loop iterations.
    fn restricted(&self, var: &Var) -> bool {
        var.ty.grows() && var.level < self.loop_depth
    }

    fn assign(&mut self) {
        let vars = self.assignable();
        if vars.is_empty() {
            return self.let_stmt();
        }
        let var = self.rng.pick(&vars).clone();
        let value = if self.restricted(&var) {
            match &var.ty {
                Ty::Str => format!("{} + {}", var.name, self.small(&Ty::Str)),
                _ => self.small(&var.ty),
            }
        } else {
            self.expr(&var.ty, 3, true)
        };
        self.line(&format!("{} = {value};", var.name));
    }

    /// An array place of the given element type, e.g. `xs` or `xss[i]`.
    fn array_places(&self) -> Vec<(String, Ty, bool)> {
        let mut places = Vec::new();
        for var in self.assignable() {
            if let Ty::Arr(elem) = &var.ty {
                let restricted = self.restricted(&var);
                places.push((var.name.clone(), (**elem).clone(), restricted));
            }
        }
        places
    }

    fn index(&mut self) -> String {
        let ints = self.visible(&Ty::Int);
        match self.rng.below(12) {
            0 if !ints.is_empty() => self.rng.pick(&ints).name.clone(),
            1 => self.expr(&Ty::Int, 1, false),
            2 if self.rng.chance(1, 3) => "-1".to_owned(),
            3 => "1".to_owned(),
            _ => "0".to_owned(),
        }
    }

    fn index_assign(&mut self) {
        let places = self.array_places();
        if places.is_empty() {
            return self.let_stmt();
        }
        let (name, elem, restricted) = self.rng.pick(&places).clone();
        let i = self.index();
        let (target, ty) = match &elem {
            Ty::Arr(inner) if self.rng.chance(1, 2) => {
                let j = self.index();
                (format!("{name}[{i}][{j}]"), (**inner).clone())
            }
            _ => (format!("{name}[{i}]"), elem.clone()),
        };
        let value = if restricted {
            self.small(&ty)
        } else {
            self.expr(&ty, 2, true)
        };
        self.line(&format!("{target} = {value};"));
    }

    fn push_pop(&mut self) {
        let places = self.array_places();
        if places.is_empty() {
            return self.let_stmt();
        }
        let (name, elem, restricted) = self.rng.pick(&places).clone();
        let (place, ty) = match &elem {
            Ty::Arr(inner) if self.rng.chance(1, 2) => {
                let i = self.index();
                (format!("{name}[{i}]"), (**inner).clone())
            }
            _ => (name.clone(), elem.clone()),
        };
        if self.rng.chance(2, 3) {
            let value = if restricted {
                self.small(&ty)
            } else {
                self.expr(&ty, 2, true)
            };
            self.line(&format!("push({place}, {value});"));
        } else {
            self.line(&format!("pop({place});"));
        }
    }

    fn call_stmt(&mut self) {
        let units: Vec<FnSig> = self
            .callable()
            .into_iter()
            .filter(|f| f.ret.is_none())
            .collect();
        if units.is_empty() {
            let e = self.expr(&Ty::Int, 2, false);
            return self.line(&format!("{e};"));
        }
        let f = self.rng.pick(&units).clone();
        let call = self.call(&f);
        self.line(&format!("{call};"));
    }

    fn if_stmt(&mut self) {
        let cond = self.expr(&Ty::Bool, 3, false);
        let n = self.rng.range(1, 3) as u32;
        self.block(n, &format!("if {cond}"));
        let mut chain = self.rng.below(3);
        while chain > 1 {
            let cond = self.expr(&Ty::Bool, 2, false);
            self.line("}");
            self.block(1, &format!("else if {cond}"));
            chain -= 1;
        }
        if chain == 1 {
            self.line("}");
            self.block(1, "else");
        }
        self.line("}");
    }

    fn enter_loop(&mut self, iterations: u64) -> u64 {
        let saved = self.mult;
        self.mult = self.mult.saturating_mul(iterations.max(1));
        self.loop_depth += 1;
        saved
    }

    fn leave_loop(&mut self, saved: u64) {
        self.mult = saved;
        self.loop_depth -= 1;
    }

    fn while_stmt(&mut self) {
        let counter = self.fresh("w");
        let bound = self.rng.range(0, 6);
        self.line(&format!("let {counter} = 0;"));
        self.declare(counter.clone(), Ty::Int, true);
        let extra = if self.rng.chance(1, 2) {
            format!(" && {}", self.expr(&Ty::Bool, 2, false))
        } else {
            String::new()
        };
        let saved = self.enter_loop(bound as u64);
        self.line(&format!("while {counter} < {bound}{extra} {{"));
        self.indent += 1;
        self.line(&format!("{counter} = {counter} + 1;"));
        self.indent -= 1;
        let n = self.rng.range(1, 3) as u32;
        self.scopes.push(Vec::new());
        self.indent += 1;
        self.stmts(n);
        self.indent -= 1;
        self.scopes.pop();
        self.line("}");
        self.leave_loop(saved);
    }

    fn for_range(&mut self) {
        let var = self.fresh("i");
        let start = self.rng.range(-2, 2);
        let end = self.rng.range(-1, 6);
        let saved = self.enter_loop((end - start).max(0) as u64);
        self.scopes.push(Vec::new());
        self.declare(var.clone(), Ty::Int, false);
        let n = self.rng.range(1, 3) as u32;
        self.block(n, &format!("for {var} in {start}..{end}"));
        self.line("}");
        self.scopes.pop();
        self.leave_loop(saved);
    }

    fn for_each(&mut self) {
        let elem = self.random_ty();
        let iterable = if self.mult == 1 {
            self.expr(&Ty::arr(elem.clone()), 2, false)
        } else {
            self.small(&Ty::arr(elem.clone()))
        };
        let var = self.fresh("x");
        let saved = self.enter_loop(8);
        self.scopes.push(Vec::new());
        self.declare(var.clone(), elem, false);
        let n = self.rng.range(1, 3) as u32;
        self.block(n, &format!("for {var} in {iterable}"));
        self.line("}");
        self.scopes.pop();
        self.leave_loop(saved);
    }

    // ---- expressions ----

    fn callable(&self) -> Vec<FnSig> {
        let budget = CALL_BUDGET / self.mult.max(1);
        self.fns
            .iter()
            .filter(|f| f.cost <= budget)
            .cloned()
            .collect()
    }

    fn call(&mut self, f: &FnSig) -> String {
        self.cost += self.mult * f.cost;
        let mut args = Vec::new();
        for (i, ty) in f.params.iter().enumerate() {
            if f.recursive && i == 0 {
                args.push(self.rng.range(0, 6).to_string());
            } else {
                args.push(self.expr(ty, 1, true));
            }
        }
        format!("{}({})", f.name, args.join(", "))
    }

    /// A value that is cheap and does not grow with any variable.
    fn small(&mut self, ty: &Ty) -> String {
        match ty {
            Ty::Int => self.int_literal(),
            Ty::Bool => self.rng.pick(&["true", "false"]).to_string(),
            Ty::Str => match self.rng.below(3) {
                0 => format!("str({})", self.int_literal()),
                _ => self.str_literal(),
            },
            Ty::Arr(elem) => {
                let n = self.rng.below(3);
                let items: Vec<String> = (0..n).map(|_| self.small(elem)).collect();
                if items.is_empty() {
                    // An annotation-free context: give the element type by example.
                    let one = self.small(elem);
                    format!("[{one}]")
                } else {
                    format!("[{}]", items.join(", "))
                }
            }
        }
    }

    fn int_literal(&mut self) -> String {
        match self.rng.below(40) {
            0 => "9223372036854775807".into(),
            1 => "-9223372036854775808".into(),
            2 => "4294967296".into(),
            3..=6 => format!("{}", self.rng.range(-1000, 1000)),
            _ => format!("{}", self.rng.range(-10, 10)),
        }
    }

    fn str_literal(&mut self) -> String {
        let pool = [
            r#""""#,
            r#""a""#,
            r#""abc""#,
            r#""a,b,,c""#,
            r#""héllo""#,
            r#""x\ny""#,
            r#""tab\tq""#,
            r#""\"q\"""#,
            r#""\\""#,
            r#""12""#,
            r#""-7""#,
            r#""+3""#,
            r#""9223372036854775808""#,
            r#"" 1""#,
            r#"",""#,
        ];
        self.rng.pick(&pool).to_string()
    }

    /// An expression of type `ty`; `ctx` says the position gives `[]` its type.
    fn expr(&mut self, ty: &Ty, depth: u32, ctx: bool) -> String {
        self.cost += self.mult;
        if depth == 0 || self.rng.chance(1, 4) {
            return self.leaf(ty);
        }
        let d = depth - 1;
        // Calls of earlier functions (or the recursive call site), any type.
        if self.rng.chance(1, 8) {
            let fns: Vec<FnSig> = self
                .callable()
                .into_iter()
                .filter(|f| f.ret.as_ref() == Some(ty))
                .collect();
            if !fns.is_empty() {
                let f = self.rng.pick(&fns).clone();
                return self.call(&f);
            }
        }
        // Indexing into an array of this type, or popping from a place.
        if self.rng.chance(1, 10) {
            let places = self.array_places();
            let matching: Vec<_> = places.iter().filter(|(_, e, _)| e == ty).cloned().collect();
            if !matching.is_empty() {
                let (name, _, _) = self.rng.pick(&matching).clone();
                if self.rng.chance(1, 3) {
                    return format!("pop({name})");
                }
                let i = self.index();
                return format!("{name}[{i}]");
            }
        }
        match ty {
            Ty::Int => match self.rng.below(10) {
                0..=4 => {
                    let op = *self.rng.pick(&["+", "-", "*", "/", "%", "+", "-"]);
                    let l = self.expr(&Ty::Int, d, false);
                    let r = self.expr(&Ty::Int, d, false);
                    format!("({l} {op} {r})")
                }
                5 => format!("-{}", self.paren(&Ty::Int, d)),
                6 => {
                    let t = if self.rng.chance(1, 2) {
                        Ty::Str
                    } else {
                        self.random_array_ty()
                    };
                    format!("len({})", self.expr(&t, d, false))
                }
                7 => match self.rng.below(5) {
                    0 => format!("parse_int({})", self.expr(&Ty::Str, d, false)),
                    _ => format!("parse_int(str({}))", self.expr(&Ty::Int, d, false)),
                },
                _ => self.leaf(ty),
            },
            Ty::Bool => match self.rng.below(9) {
                0 | 1 => {
                    let op = *self.rng.pick(&["<", "<=", ">", ">="]);
                    let l = self.expr(&Ty::Int, d, false);
                    let r = self.expr(&Ty::Int, d, false);
                    format!("({l} {op} {r})")
                }
                2 | 3 => {
                    let op = *self.rng.pick(&["==", "!="]);
                    let t = self.random_ty();
                    let l = self.expr(&t, d, false);
                    let r = self.expr(&t, d, true);
                    format!("({l} {op} {r})")
                }
                4 | 5 => {
                    let op = *self.rng.pick(&["&&", "||"]);
                    let l = self.expr(&Ty::Bool, d, false);
                    let r = self.expr(&Ty::Bool, d, false);
                    format!("({l} {op} {r})")
                }
                6 => format!("!{}", self.paren(&Ty::Bool, d)),
                7 => {
                    let s = self.expr(&Ty::Str, d, false);
                    let sub = self.expr(&Ty::Str, d, false);
                    format!("contains({s}, {sub})")
                }
                _ => self.leaf(ty),
            },
            Ty::Str => match self.rng.below(8) {
                0..=2 => {
                    let l = self.expr(&Ty::Str, d, false);
                    let r = self.expr(&Ty::Str, d, false);
                    format!("({l} + {r})")
                }
                3 => format!("str({})", self.expr(&Ty::Int, d, false)),
                4 => format!("str({})", self.expr(&Ty::Bool, d, false)),
                5 => {
                    let s = self.expr(&Ty::Str, d, false);
                    let (a, b) = if self.rng.chance(1, 4) {
                        (self.rng.range(-1, 4), self.rng.range(-1, 5))
                    } else {
                        (0, self.rng.range(0, 1))
                    };
                    format!("substr({s}, {a}, {b})")
                }
                _ => self.leaf(ty),
            },
            Ty::Arr(elem) => match self.rng.below(6) {
                0..=2 => {
                    let n = if ctx {
                        self.rng.below(4)
                    } else {
                        self.rng.range(1, 3) as u64
                    };
                    let items: Vec<String> =
                        (0..n).map(|i| self.expr(elem, d, ctx || i > 0)).collect();
                    format!("[{}]", items.join(", "))
                }
                3 if **elem == Ty::Str => {
                    let s = self.expr(&Ty::Str, d, false);
                    let sep = *self
                        .rng
                        .pick(&["\",\"", "\"b\"", "\"\\n\"", "\",\"", "\"a\"", "\"\""]);
                    format!("split({s}, {sep})")
                }
                _ => self.leaf(ty),
            },
        }
    }

    fn paren(&mut self, ty: &Ty, depth: u32) -> String {
        let e = self.expr(ty, depth, false);
        format!("({e})")
    }

    fn random_array_ty(&mut self) -> Ty {
        loop {
            if let t @ Ty::Arr(_) = self.random_ty() {
                return t;
            }
        }
    }

    fn leaf(&mut self, ty: &Ty) -> String {
        let vars = self.visible(ty);
        if !vars.is_empty() && self.rng.chance(2, 3) {
            return self.rng.pick(&vars).name.clone();
        }
        self.small(ty)
    }
}
