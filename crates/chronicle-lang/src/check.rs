//! The type checker: resolves names, computes the type of every expression and
//! checks every rule of the language, producing a [`CheckedProgram`].
//!
//! The checker does not stop at the first problem. An expression whose type
//! cannot be known gets [`Type::Error`], which every later check accepts
//! silently, so each mistake is reported once and independent mistakes are
//! all reported together.
//!
//! **Architecture invariant:** the result is the untouched syntax tree plus
//! side tables indexed by [`ExprId`] and [`BindingId`]; nothing here knows
//! about bytecode. A [`CheckedProgram`] only exists for a program without
//! errors, so its consumer (the code generator) may rely on every fact in it.

use std::collections::HashMap;

use crate::ast::*;
use crate::diagnostics::{Diagnostic, Stage, MAX_DIAGNOSTICS};
use crate::parser::MAX_NESTING;
use crate::span::{LineCol, LineIndex, Span};
use crate::suggest::closest;
use crate::types::Type;

/// Index of a function in [`CheckedProgram::functions`] (and in
/// `program.functions`: the order is the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FnId(pub u32);

/// Index of a capability import in [`CheckedProgram::capabilities`] (and in
/// `program.uses`: the order is the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapId(pub u32);

/// Index of a local variable in its function's [`FunctionInfo::locals`].
/// Parameters come first, in order; every declaration gets its own slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(pub u32);

/// The builtin functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `len(str|[T]) -> int`: bytes of a string or elements of an array.
    Len,
    /// `push(xs: [T], v: T)`: appends to the place `xs`.
    Push,
    /// `pop(xs: [T]) -> T`: removes the last element of the place `xs`.
    Pop,
    /// `str(int|bool) -> str`: decimal digits, or `"true"` / `"false"`.
    Str,
    /// `parse_int(s: str) -> int`: runtime error `invalid number` if not a number.
    ParseInt,
    /// `split(s: str, sep: str) -> [str]`: runtime error `invalid argument` if `sep` is empty.
    Split,
    /// `contains(s: str, sub: str) -> bool`.
    Contains,
    /// `substr(s: str, start: int, end: int) -> str`: byte offsets on char boundaries.
    Substr,
    /// `assert(cond: bool, msg: str)`: runtime error `assertion failed: msg` if false.
    Assert,
}

impl Builtin {
    /// Every builtin, for listings and suggestions.
    pub const ALL: [Builtin; 9] = [
        Builtin::Len,
        Builtin::Push,
        Builtin::Pop,
        Builtin::Str,
        Builtin::ParseInt,
        Builtin::Split,
        Builtin::Contains,
        Builtin::Substr,
        Builtin::Assert,
    ];

    /// The builtin called `name`, if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The name a program calls it by.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Len => "len",
            Builtin::Push => "push",
            Builtin::Pop => "pop",
            Builtin::Str => "str",
            Builtin::ParseInt => "parse_int",
            Builtin::Split => "split",
            Builtin::Contains => "contains",
            Builtin::Substr => "substr",
            Builtin::Assert => "assert",
        }
    }

    /// The signature as documented, for hints.
    pub fn signature(self) -> &'static str {
        match self {
            Builtin::Len => "len(x: str | [T]) -> int",
            Builtin::Push => "push(xs: [T], value: T)",
            Builtin::Pop => "pop(xs: [T]) -> T",
            Builtin::Str => "str(x: int | bool) -> str",
            Builtin::ParseInt => "parse_int(s: str) -> int",
            Builtin::Split => "split(s: str, sep: str) -> [str]",
            Builtin::Contains => "contains(s: str, sub: str) -> bool",
            Builtin::Substr => "substr(s: str, start: int, end: int) -> str",
            Builtin::Assert => "assert(cond: bool, message: str)",
        }
    }

    fn arity(self) -> usize {
        match self {
            Builtin::Len | Builtin::Pop | Builtin::Str | Builtin::ParseInt => 1,
            Builtin::Push | Builtin::Split | Builtin::Contains | Builtin::Assert => 2,
            Builtin::Substr => 3,
        }
    }
}

/// What a name in an expression refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// A local variable (or parameter) of the enclosing function.
    Local(LocalId),
    /// A user function.
    Function(FnId),
    /// A declared capability.
    Capability(CapId),
    /// A builtin function.
    Builtin(Builtin),
}

/// A local variable slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalInfo {
    /// Its name in the source.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Where it is declared.
    pub span: Span,
}

/// A function's resolved signature and local slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Its name.
    pub name: String,
    /// Parameter types, in order.
    pub params: Vec<Type>,
    /// Return type ([`Type::Unit`] without `->`).
    pub ret: Type,
    /// Every local slot; the first `params.len()` are the parameters.
    pub locals: Vec<LocalInfo>,
    /// The span of its name.
    pub span: Span,
}

/// A capability import's resolved signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilityInfo {
    /// The dotted name, like `fs.read`.
    pub name: String,
    /// The requested version.
    pub version: Version,
    /// Parameter types, in order.
    pub params: Vec<Type>,
    /// Return type ([`Type::Unit`] without `->`).
    pub ret: Type,
    /// The span of the `use` declaration.
    pub span: Span,
}

/// A program that passed every check, with everything a code generator needs.
#[derive(Clone, Debug)]
pub struct CheckedProgram {
    /// The file name diagnostics and line tables refer to.
    pub file_name: String,
    /// The syntax tree, unchanged.
    pub program: Program,
    /// One entry per `program.functions[i]`, same order.
    pub functions: Vec<FunctionInfo>,
    /// One entry per `program.uses[i]`, same order.
    pub capabilities: Vec<CapabilityInfo>,
    /// The entry point.
    pub main: FnId,
    /// Line numbers for any span.
    pub lines: LineIndex,
    expr_types: Vec<Type>,
    resolutions: Vec<Option<Resolution>>,
    bindings: Vec<LocalId>,
}

impl CheckedProgram {
    /// The type of an expression. Never [`Type::Error`].
    pub fn expr_type(&self, id: ExprId) -> &Type {
        &self.expr_types[id.0 as usize]
    }

    /// What a [`ExprKind::Var`] or [`ExprKind::Call`] refers to; `None` for
    /// other expressions.
    pub fn resolution(&self, id: ExprId) -> Option<Resolution> {
        self.resolutions[id.0 as usize]
    }

    /// The local slot declared by a parameter, `let` or `for` variable.
    pub fn binding(&self, id: BindingId) -> LocalId {
        self.bindings[id.0 as usize]
    }

    /// The function declaration and its checked information.
    pub fn function(&self, id: FnId) -> (&FnDecl, &FunctionInfo) {
        let i = id.0 as usize;
        (&self.program.functions[i], &self.functions[i])
    }

    /// The 1-based source line of a span's start, for line tables.
    pub fn line_of(&self, span: Span) -> u32 {
        self.lines.line(span)
    }

    /// The 1-based line and column of a span's start.
    pub fn line_col(&self, span: Span) -> LineCol {
        self.lines.line_col(span.start)
    }
}

/// Checks a parsed program. `src` is the text it was parsed from (for line
/// numbers); `file_name` is recorded in the result.
pub fn check(
    file_name: &str,
    src: &str,
    program: Program,
) -> Result<CheckedProgram, Vec<Diagnostic>> {
    let mut checker = Checker {
        lines: LineIndex::new(src),
        diagnostics: Vec::new(),
        expr_types: vec![Type::Error; program.expr_count as usize],
        resolutions: vec![None; program.expr_count as usize],
        bindings: vec![LocalId(u32::MAX); program.binding_count as usize],
        functions: Vec::new(),
        function_ids: HashMap::new(),
        capabilities: Vec::new(),
        capability_ids: HashMap::new(),
        scopes: Vec::new(),
        locals: Vec::new(),
        ret: Type::Unit,
        fn_name: String::new(),
        loop_depth: 0,
        depth: 0,
    };
    let main = checker.program(&program);
    if !checker.diagnostics.is_empty() {
        return Err(checker.diagnostics);
    }
    let main = main.expect("no diagnostics means `main` was found");
    Ok(CheckedProgram {
        file_name: file_name.to_owned(),
        program,
        functions: checker.functions,
        capabilities: checker.capabilities,
        main,
        lines: checker.lines,
        expr_types: checker.expr_types,
        resolutions: checker.resolutions,
        bindings: checker.bindings,
    })
}

struct Checker {
    lines: LineIndex,
    diagnostics: Vec<Diagnostic>,
    expr_types: Vec<Type>,
    resolutions: Vec<Option<Resolution>>,
    bindings: Vec<LocalId>,
    functions: Vec<FunctionInfo>,
    function_ids: HashMap<String, FnId>,
    capabilities: Vec<CapabilityInfo>,
    capability_ids: HashMap<String, CapId>,
    // Per-function state.
    scopes: Vec<Vec<(String, LocalId)>>,
    locals: Vec<LocalInfo>,
    ret: Type,
    fn_name: String,
    loop_depth: u32,
    depth: u32,
}

/// Whether an expression's type can only come from its context (`[]`, `[[]]`).
fn needs_context(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Array(elems) => elems.iter().all(needs_context),
        _ => false,
    }
}

impl Checker {
    fn error(&mut self, diagnostic: Diagnostic) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(diagnostic);
        }
    }

    /// Whether it is still worth computing an expensive suggestion.
    fn reporting(&self) -> bool {
        self.diagnostics.len() < MAX_DIAGNOSTICS
    }

    // ---- items ----

    fn program(&mut self, program: &Program) -> Option<FnId> {
        for decl in &program.uses {
            self.declare_capability(decl);
        }
        for decl in &program.functions {
            self.declare_function(decl);
        }
        let main = self.find_main(program);
        for (i, decl) in program.functions.iter().enumerate() {
            self.function_body(i, decl);
        }
        main
    }

    fn declare_capability(&mut self, decl: &UseDecl) {
        let name = decl.name.dotted();
        let params = decl
            .params
            .iter()
            .map(|p| self.resolve_type(&p.ty))
            .collect();
        let ret = decl
            .ret
            .as_ref()
            .map_or(Type::Unit, |t| self.resolve_type(t));
        let id = CapId(self.capabilities.len() as u32);
        if let Some(&previous) = self.capability_ids.get(&name) {
            let previous = self.capabilities[previous.0 as usize].span;
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    decl.name.span,
                    format!("capability `{name}` is imported twice"),
                    format!(
                        "keep one `use {name}@...` line (the first is on line {})",
                        self.lines.line(previous)
                    ),
                )
                .with_label("imported again here"),
            );
        } else {
            self.capability_ids.insert(name.clone(), id);
        }
        self.capabilities.push(CapabilityInfo {
            name,
            version: decl.version,
            params,
            ret,
            span: decl.span,
        });
    }

    fn declare_function(&mut self, decl: &FnDecl) {
        let name = decl.name.name.clone();
        let params = decl
            .params
            .iter()
            .map(|p| self.resolve_type(&p.ty))
            .collect();
        let ret = decl
            .ret
            .as_ref()
            .map_or(Type::Unit, |t| self.resolve_type(t));
        let id = FnId(self.functions.len() as u32);
        if Builtin::from_name(&name).is_some() {
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    decl.name.span,
                    format!("`{name}` is a builtin function and cannot be redefined"),
                    "choose another name for this function",
                )
                .with_label("builtin name"),
            );
        } else if self.function_ids.contains_key(&name) {
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    decl.name.span,
                    format!("function `{name}` is defined twice"),
                    "rename one of the two functions",
                )
                .with_label("defined again here"),
            );
        } else {
            self.function_ids.insert(name.clone(), id);
        }
        self.functions.push(FunctionInfo {
            name,
            params,
            ret,
            locals: Vec::new(),
            span: decl.name.span,
        });
    }

    fn find_main(&mut self, program: &Program) -> Option<FnId> {
        let Some(&id) = self.function_ids.get("main") else {
            let hint = match closest("main", self.function_ids.keys().map(String::as_str)) {
                Some(near) => {
                    format!("did you mean `{near}`? the entry point must be called `main`")
                }
                None => "add an entry point: `fn main() -> int { return 0; }`".to_owned(),
            };
            self.error(
                Diagnostic::new(Stage::Check, Span::new(0, 0), "no `main` function", hint)
                    .with_label("the program needs a `fn main()`"),
            );
            return None;
        };
        let decl = &program.functions[id.0 as usize];
        if let (Some(first), Some(last)) = (decl.params.first(), decl.params.last()) {
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    first.name.span.to(last.ty.span),
                    "`main` must not take parameters",
                    "inputs come from capabilities: write `fn main()` and read them with e.g. `env.get`",
                )
                .with_label("remove these parameters"),
            );
        }
        Some(id)
    }

    fn resolve_type(&mut self, ty: &TypeExpr) -> Type {
        match &ty.kind {
            TypeExprKind::Array(elem) => Type::array(self.resolve_type(elem)),
            TypeExprKind::Named(name) => match name.name.as_str() {
                "int" => Type::Int,
                "bool" => Type::Bool,
                "str" => Type::Str,
                other => {
                    let hint = match closest(other, ["int", "bool", "str"]) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => {
                            "the types are `int`, `bool`, `str` and arrays like `[int]`".to_owned()
                        }
                    };
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            name.span,
                            format!("unknown type `{other}`"),
                            hint,
                        )
                        .with_label("not a type"),
                    );
                    Type::Error
                }
            },
        }
    }

    fn function_body(&mut self, index: usize, decl: &FnDecl) {
        let info = &self.functions[index];
        self.ret = info.ret.clone();
        self.fn_name = info.name.clone();
        let param_types = info.params.clone();
        self.locals = Vec::new();
        self.scopes = vec![Vec::new()];
        self.loop_depth = 0;
        for (param, ty) in decl.params.iter().zip(param_types) {
            self.declare_local(param.binding, &param.name, ty);
        }
        self.block(&decl.body);
        if self.ret != Type::Unit && !self.ret.is_error() && !block_returns(&decl.body) {
            let end = decl.body.span.end as usize;
            let name = &decl.name.name;
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    Span::new(end.saturating_sub(1), end),
                    format!("function `{name}` can reach its end without returning a value"),
                    format!(
                        "add `return <{}>;` at the end of `{name}`, or on every path",
                        self.ret
                    ),
                )
                .with_label(format!(
                    "`{name}` must return a value of type `{}` before here",
                    self.ret
                )),
            );
        }
        self.functions[index].locals = std::mem::take(&mut self.locals);
    }

    // ---- scopes ----

    fn declare_local(&mut self, binding: BindingId, name: &Ident, ty: Type) {
        let id = LocalId(self.locals.len() as u32);
        let scope = self.scopes.last_mut().expect("a function has a scope");
        if let Some(entry) = scope.iter_mut().find(|(n, _)| *n == name.name) {
            // Point at the new declaration; keep checking with the new type.
            entry.1 = id;
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    name.span,
                    format!("`{}` is already declared in this scope", name.name),
                    format!(
                        "to change it write `{} = ...;`; to declare a new one, use another name or an inner block",
                        name.name
                    ),
                )
                .with_label("declared again here"),
            );
        } else {
            scope.push((name.name.clone(), id));
        }
        self.bindings[binding.0 as usize] = id;
        self.locals.push(LocalInfo {
            name: name.name.clone(),
            ty,
            span: name.span,
        });
    }

    fn lookup(&self, name: &str) -> Option<LocalId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|(n, _)| n == name)
            .map(|&(_, id)| id)
    }

    fn visible_names(&self) -> impl Iterator<Item = &str> {
        self.scopes
            .iter()
            .flat_map(|scope| scope.iter().map(|(n, _)| n.as_str()))
    }

    fn in_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.scopes.push(Vec::new());
        let result = f(self);
        self.scopes.pop();
        result
    }

    /// Runs `f` one level deeper; past the nesting bound it reports and
    /// returns `None` instead of recursing (the parser normally stops such
    /// input first, this is defence in depth).
    fn nested<T>(&mut self, span: Span, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.depth >= 2 * MAX_NESTING {
            self.error(Diagnostic::new(
                Stage::Check,
                span,
                "nesting too deep",
                "split this into smaller functions or `let` statements",
            ));
            return None;
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        Some(result)
    }

    // ---- statements ----

    fn block(&mut self, block: &Block) {
        self.nested(block.span, |c| {
            c.in_scope(|c| {
                for stmt in &block.stmts {
                    c.stmt(stmt);
                }
            })
        });
    }

    fn loop_body(&mut self, body: &Block) {
        self.loop_depth += 1;
        self.block(body);
        self.loop_depth -= 1;
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Let {
                binding,
                name,
                ty,
                init,
            } => {
                let annotated = ty.as_ref().map(|t| self.resolve_type(t));
                let found = self.expr(init, annotated.as_ref());
                let ty = match annotated {
                    Some(want) => {
                        self.expect_type(
                            &want,
                            &found,
                            init,
                            "the value must match the annotation",
                        );
                        want
                    }
                    None => {
                        self.expect_value(&found, init);
                        found
                    }
                };
                self.declare_local(*binding, name, ty);
            }
            StmtKind::Assign { target, value } => {
                let want = self.place(target);
                let found = self.expr(value, Some(&want));
                self.expect_type(
                    &want,
                    &found,
                    value,
                    "a variable keeps the type it was declared with",
                );
            }
            StmtKind::Expr(expr) => {
                self.expr(expr, None);
            }
            StmtKind::If(if_stmt) => self.if_stmt(if_stmt),
            StmtKind::While { cond, body } => {
                self.condition(cond, "while");
                self.loop_body(body);
            }
            StmtKind::ForRange {
                binding,
                var,
                start,
                end,
                body,
            } => {
                for bound in [start, end] {
                    let found = self.expr(bound, Some(&Type::Int));
                    self.expect_type(
                        &Type::Int,
                        &found,
                        bound,
                        "a range `a..b` counts over `int`s",
                    );
                }
                self.in_scope(|c| {
                    c.declare_local(*binding, var, Type::Int);
                    c.loop_body(body);
                });
            }
            StmtKind::ForEach {
                binding,
                var,
                iterable,
                body,
            } => {
                let found = self.expr(iterable, None);
                let elem = match &found {
                    Type::Array(elem) => (**elem).clone(),
                    Type::Error => Type::Error,
                    other => {
                        let hint = if *other == Type::Int {
                            "to count, write a range: `for i in 0..n { ... }`"
                        } else {
                            "`for x in xs` iterates over an array"
                        };
                        self.error(
                            Diagnostic::new(
                                Stage::Check,
                                iterable.span,
                                format!("cannot iterate over a value of type `{other}`"),
                                hint,
                            )
                            .with_label(format!("this is `{other}`, not an array")),
                        );
                        Type::Error
                    }
                };
                self.in_scope(|c| {
                    c.declare_local(*binding, var, elem);
                    c.loop_body(body);
                });
            }
            StmtKind::Break | StmtKind::Continue => {
                if self.loop_depth == 0 {
                    let word = if matches!(stmt.kind, StmtKind::Break) {
                        "break"
                    } else {
                        "continue"
                    };
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            stmt.span,
                            format!("`{word}` outside of a loop"),
                            format!("`{word}` can only be used inside `while` or `for`"),
                        )
                        .with_label("not inside a loop"),
                    );
                }
            }
            StmtKind::Return(value) => self.return_stmt(stmt.span, value.as_ref()),
            StmtKind::Block(block) => self.block(block),
        }
    }

    fn if_stmt(&mut self, if_stmt: &IfStmt) {
        self.nested(if_stmt.span, |c| {
            c.condition(&if_stmt.cond, "if");
            c.block(&if_stmt.then_block);
            match &if_stmt.else_branch {
                Some(Else::If(next)) => c.if_stmt(next),
                Some(Else::Block(block)) => c.block(block),
                None => {}
            }
        });
    }

    fn condition(&mut self, cond: &Expr, keyword: &str) {
        let found = self.expr(cond, Some(&Type::Bool));
        let hint = format!(
            "the condition of `{keyword}` must be a `bool`; compare explicitly, like `n != 0`"
        );
        self.expect_type(&Type::Bool, &found, cond, &hint);
    }

    fn return_stmt(&mut self, span: Span, value: Option<&Expr>) {
        let ret = self.ret.clone();
        match (value, &ret) {
            (None, Type::Unit) => {}
            (None, _) => self.error(
                Diagnostic::new(
                    Stage::Check,
                    span,
                    format!("`return;` without a value in a function that returns `{ret}`"),
                    format!("return a value of type `{ret}`: `return <value>;`"),
                )
                .with_label("missing value"),
            ),
            (Some(value), Type::Unit) => {
                self.expr(value, None);
                let name = self.fn_name.clone();
                self.error(
                    Diagnostic::new(
                        Stage::Check,
                        value.span,
                        format!("function `{name}` has no return type but returns a value"),
                        format!(
                            "declare the return type: `fn {name}(...) -> T`, or write `return;`"
                        ),
                    )
                    .with_label("unexpected value"),
                );
            }
            (Some(value), ret) => {
                let found = self.expr(value, Some(ret));
                let hint = format!("`{}` is declared to return `{ret}`", self.fn_name);
                self.expect_type(ret, &found, value, &hint);
            }
        }
    }

    /// Types an assignment target, reporting undeclared variables as such.
    fn place(&mut self, target: &Expr) -> Type {
        if let ExprKind::Var(name) = &target.kind {
            if self.lookup(&name.name).is_none() {
                let hint = self.name_hint(&name.name, || {
                    format!("declare it first: `let {} = ...;`", name.name)
                });
                self.error(
                    Diagnostic::new(
                        Stage::Check,
                        name.span,
                        format!("cannot assign to undeclared variable `{}`", name.name),
                        hint,
                    )
                    .with_label("not declared"),
                );
                return Type::Error;
            }
        }
        self.expr(target, None)
    }

    // ---- type helpers ----

    /// Reports a mismatch unless `found` fits `want`.
    fn expect_type(&mut self, want: &Type, found: &Type, expr: &Expr, hint: &str) {
        if !want.accepts(found) {
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    expr.span,
                    format!("mismatched types: expected `{want}`, found `{found}`"),
                    hint,
                )
                .with_label(format!("this is `{found}`")),
            );
        }
    }

    /// Reports a unit value used where a value is needed.
    fn expect_value(&mut self, found: &Type, expr: &Expr) {
        if *found == Type::Unit {
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    expr.span,
                    "this expression produces no value",
                    "it returns unit; call it as a statement on its own instead",
                )
                .with_label("returns nothing"),
            );
        }
    }

    /// "did you mean `x`?" among visible locals, else `fallback`.
    fn name_hint(&self, name: &str, fallback: impl FnOnce() -> String) -> String {
        let near = if self.reporting() {
            closest(name, self.visible_names())
        } else {
            None
        };
        match near {
            Some(near) => format!("did you mean `{near}`?"),
            None => fallback(),
        }
    }

    // ---- expressions ----

    /// Types `expr`, records the type, and returns it. `expected` is only a
    /// hint that gives `[]` its element type; callers check compatibility.
    fn expr(&mut self, expr: &Expr, expected: Option<&Type>) -> Type {
        let ty = self
            .nested(expr.span, |c| c.expr_kind(expr, expected))
            .unwrap_or(Type::Error);
        self.expr_types[expr.id.0 as usize] = ty.clone();
        ty
    }

    fn expr_kind(&mut self, expr: &Expr, expected: Option<&Type>) -> Type {
        match &expr.kind {
            ExprKind::Int(_) => Type::Int,
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Str(_) => Type::Str,
            ExprKind::Array(elems) => self.array(expr, elems, expected),
            ExprKind::Var(name) => self.var(expr, name),
            ExprKind::Unary { op, operand } => {
                let (want, hint) = match op {
                    UnaryOp::Neg => (Type::Int, "`-` negates an `int`"),
                    UnaryOp::Not => (Type::Bool, "`!` negates a `bool`"),
                };
                let found = self.expr(operand, Some(&want));
                self.expect_type(&want, &found, operand, hint);
                want
            }
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => self.binary(*op, *op_span, lhs, rhs),
            ExprKind::Call { callee, args } => self.call(expr, callee, args),
            ExprKind::Index { base, index } => {
                let base_ty = self.expr(base, None);
                let index_ty = self.expr(index, Some(&Type::Int));
                self.expect_type(&Type::Int, &index_ty, index, "array indices are `int`s");
                match base_ty {
                    Type::Array(elem) => *elem,
                    Type::Error => Type::Error,
                    Type::Str => {
                        self.error(
                            Diagnostic::new(
                                Stage::Check,
                                base.span,
                                "strings cannot be indexed",
                                "take a piece with `substr(s, start, end)`",
                            )
                            .with_label("this is `str`"),
                        );
                        Type::Error
                    }
                    other => {
                        self.error(
                            Diagnostic::new(
                                Stage::Check,
                                base.span,
                                format!("cannot index into a value of type `{other}`"),
                                "only arrays can be indexed: `xs[i]`",
                            )
                            .with_label(format!("this is `{other}`")),
                        );
                        Type::Error
                    }
                }
            }
        }
    }

    fn array(&mut self, expr: &Expr, elems: &[Expr], expected: Option<&Type>) -> Type {
        let mut elem_ty: Option<Type> = match expected {
            Some(Type::Array(elem)) => Some((**elem).clone()),
            Some(Type::Error) => Some(Type::Error),
            _ => None,
        };
        if elems.is_empty() {
            return match elem_ty {
                Some(elem) => Type::array(elem),
                None => {
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            expr.span,
                            "cannot infer the element type of this empty array",
                            "give it a type, like `let xs: [int] = [];`",
                        )
                        .with_label("type of `[]` unknown"),
                    );
                    Type::Error
                }
            };
        }
        for elem in elems {
            let found = self.expr(elem, elem_ty.as_ref());
            match &elem_ty {
                Some(want) => self.expect_type(
                    want,
                    &found,
                    elem,
                    "all elements of an array have the same type",
                ),
                None => {
                    self.expect_value(&found, elem);
                    elem_ty = Some(found);
                }
            }
        }
        Type::array(elem_ty.unwrap_or(Type::Error))
    }

    fn var(&mut self, expr: &Expr, name: &Ident) -> Type {
        if let Some(id) = self.lookup(&name.name) {
            self.resolutions[expr.id.0 as usize] = Some(Resolution::Local(id));
            return self.locals[id.0 as usize].ty.clone();
        }
        let is_function =
            self.function_ids.contains_key(&name.name) || Builtin::from_name(&name.name).is_some();
        let hint = if is_function {
            format!("`{0}` is a function; call it: `{0}(...)`", name.name)
        } else {
            self.name_hint(&name.name, || {
                format!("declare it before use: `let {} = ...;`", name.name)
            })
        };
        self.error(
            Diagnostic::new(
                Stage::Check,
                name.span,
                format!("cannot find variable `{}` in this scope", name.name),
                hint,
            )
            .with_label("not found"),
        );
        Type::Error
    }

    fn binary(&mut self, op: BinaryOp, op_span: Span, lhs: &Expr, rhs: &Expr) -> Type {
        let sym = op.symbol();
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for side in [lhs, rhs] {
                    let found = self.expr(side, Some(&Type::Bool));
                    let hint = format!("`{sym}` combines two `bool`s");
                    self.expect_type(&Type::Bool, &found, side, &hint);
                }
                Type::Bool
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                // `[] == xs`: type the side that can stand alone first.
                let (l, r) = if needs_context(lhs) && !needs_context(rhs) {
                    let r = self.expr(rhs, None);
                    (self.expr(lhs, Some(&r)), r)
                } else {
                    let l = self.expr(lhs, None);
                    (l.clone(), self.expr(rhs, Some(&l)))
                };
                if l == Type::Unit || r == Type::Unit {
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            op_span,
                            format!("`{sym}` cannot compare values of type `unit`"),
                            "only values (`int`, `bool`, `str`, arrays) can be compared",
                        )
                        .with_label("no value to compare"),
                    );
                } else if !l.accepts(&r) {
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            op_span,
                            format!("`{sym}` compares values of one type, found `{l}` and `{r}`"),
                            "convert one side first, e.g. with `str(n)` or `parse_int(s)`",
                        )
                        .with_label(format!("`{l}` {sym} `{r}`")),
                    );
                }
                Type::Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let l = self.expr(lhs, Some(&Type::Int));
                let r = self.expr(rhs, Some(&Type::Int));
                if !Type::Int.accepts(&l) || !Type::Int.accepts(&r) {
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            op_span,
                            format!("`{sym}` compares `int`s, found `{l}` and `{r}`"),
                            "`<`, `<=`, `>` and `>=` only take `int`s; use `==` or `!=` for other types",
                        )
                        .with_label(format!("`{l}` {sym} `{r}`")),
                    );
                }
                Type::Bool
            }
            BinaryOp::Add => {
                let l = self.expr(lhs, None);
                let r = self.expr(rhs, Some(&l));
                match (&l, &r) {
                    (Type::Error, other) | (other, Type::Error) => match other {
                        Type::Int | Type::Str => other.clone(),
                        _ => Type::Error,
                    },
                    (Type::Int, Type::Int) => Type::Int,
                    (Type::Str, Type::Str) => Type::Str,
                    _ => {
                        let hint = if matches!(
                            (&l, &r),
                            (Type::Str, Type::Int) | (Type::Int, Type::Str)
                        ) {
                            "convert the number first: `\"n = \" + str(n)`"
                        } else {
                            "`+` adds two `int`s or concatenates two `str`s"
                        };
                        self.error(
                            Diagnostic::new(
                                Stage::Check,
                                op_span,
                                format!("cannot add `{l}` and `{r}`"),
                                hint,
                            )
                            .with_label(format!("`{l}` + `{r}`")),
                        );
                        Type::Error
                    }
                }
            }
            BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                let l = self.expr(lhs, Some(&Type::Int));
                let r = self.expr(rhs, Some(&Type::Int));
                if !Type::Int.accepts(&l) || !Type::Int.accepts(&r) {
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            op_span,
                            format!("`{sym}` takes two `int`s, found `{l}` and `{r}`"),
                            format!("arithmetic `{sym}` is only defined on `int`"),
                        )
                        .with_label(format!("`{l}` {sym} `{r}`")),
                    );
                }
                Type::Int
            }
        }
    }

    // ---- calls ----

    fn call(&mut self, expr: &Expr, callee: &Path, args: &[Expr]) -> Type {
        let name = callee.dotted();
        if callee.is_dotted() {
            let Some(&id) = self.capability_ids.get(&name) else {
                let near = if self.reporting() {
                    closest(&name, self.capability_ids.keys().map(String::as_str))
                } else {
                    None
                };
                let hint = match near {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("declare it at the top of the file: `use {name}@1(...) -> T;`"),
                };
                self.error(
                    Diagnostic::new(
                        Stage::Check,
                        callee.span,
                        format!("capability `{name}` is not declared"),
                        hint,
                    )
                    .with_label("undeclared capability"),
                );
                self.args_unchecked(args);
                return Type::Error;
            };
            self.resolutions[expr.id.0 as usize] = Some(Resolution::Capability(id));
            let info = &self.capabilities[id.0 as usize];
            let (params, ret) = (info.params.clone(), info.ret.clone());
            let signature = signature(&name, &params, &ret);
            self.fixed_args(expr, &name, &signature, &params, args);
            return ret;
        }
        if let Some(&id) = self.function_ids.get(&name) {
            self.resolutions[expr.id.0 as usize] = Some(Resolution::Function(id));
            let info = &self.functions[id.0 as usize];
            let (params, ret) = (info.params.clone(), info.ret.clone());
            let signature = signature(&name, &params, &ret);
            self.fixed_args(expr, &name, &signature, &params, args);
            return ret;
        }
        if let Some(builtin) = Builtin::from_name(&name) {
            self.resolutions[expr.id.0 as usize] = Some(Resolution::Builtin(builtin));
            return self.builtin(expr, builtin, args);
        }
        let near = if self.reporting() {
            let builtins = Builtin::ALL.iter().map(|b| b.name());
            closest(
                &name,
                self.function_ids.keys().map(String::as_str).chain(builtins),
            )
        } else {
            None
        };
        let hint = match near {
            Some(near) => format!("did you mean `{near}`?"),
            None if self.lookup(&name).is_some() => {
                format!("`{name}` is a variable, not a function")
            }
            None => format!("define it: `fn {name}(...) {{ ... }}`"),
        };
        self.error(
            Diagnostic::new(
                Stage::Check,
                callee.span,
                format!("cannot find function `{name}`"),
                hint,
            )
            .with_label("not found"),
        );
        self.args_unchecked(args);
        Type::Error
    }

    /// Types arguments whose parameters are unknown, for their own errors.
    fn args_unchecked(&mut self, args: &[Expr]) {
        for arg in args {
            self.expr(arg, Some(&Type::Error));
        }
    }

    /// Reports an arity mismatch; returns whether the count is right.
    fn arity(
        &mut self,
        call: &Expr,
        name: &str,
        signature: &str,
        want: usize,
        args: &[Expr],
    ) -> bool {
        if args.len() == want {
            return true;
        }
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        self.error(
            Diagnostic::new(
                Stage::Check,
                call.span,
                format!(
                    "`{name}` takes {want} {} but {} {} given",
                    plural(want),
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" }
                ),
                format!("the signature is `{signature}`"),
            )
            .with_label(format!("expected {want} {}", plural(want))),
        );
        false
    }

    fn fixed_args(
        &mut self,
        call: &Expr,
        name: &str,
        signature: &str,
        params: &[Type],
        args: &[Expr],
    ) {
        if !self.arity(call, name, signature, params.len(), args) {
            self.args_unchecked(args);
            return;
        }
        for (arg, want) in args.iter().zip(params) {
            let found = self.expr(arg, Some(want));
            let hint = format!("the signature is `{signature}`");
            self.expect_type(want, &found, arg, &hint);
        }
    }

    fn builtin(&mut self, call: &Expr, builtin: Builtin, args: &[Expr]) -> Type {
        let name = builtin.name();
        let signature = builtin.signature();
        if !self.arity(call, name, signature, builtin.arity(), args) {
            self.args_unchecked(args);
            return match builtin {
                Builtin::Len | Builtin::ParseInt => Type::Int,
                Builtin::Str | Builtin::Substr => Type::Str,
                Builtin::Split => Type::array(Type::Str),
                Builtin::Contains => Type::Bool,
                Builtin::Push | Builtin::Assert => Type::Unit,
                Builtin::Pop => Type::Error,
            };
        }
        let hint = format!("the signature is `{signature}`");
        let fixed = |c: &mut Self, params: &[Type]| {
            for (arg, want) in args.iter().zip(params) {
                let found = c.expr(arg, Some(want));
                c.expect_type(want, &found, arg, &hint);
            }
        };
        match builtin {
            Builtin::Len => {
                let found = self.expr(&args[0], None);
                if !matches!(found, Type::Str | Type::Array(_) | Type::Error) {
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            args[0].span,
                            format!("`len` takes a `str` or an array, found `{found}`"),
                            "the signature is `len(x: str | [T]) -> int`",
                        )
                        .with_label(format!("this is `{found}`")),
                    );
                }
                Type::Int
            }
            Builtin::Str => {
                let found = self.expr(&args[0], None);
                if !matches!(found, Type::Int | Type::Bool | Type::Error) {
                    self.error(
                        Diagnostic::new(
                            Stage::Check,
                            args[0].span,
                            format!("`str` takes an `int` or a `bool`, found `{found}`"),
                            "the signature is `str(x: int | bool) -> str`",
                        )
                        .with_label(format!("this is `{found}`")),
                    );
                }
                Type::Str
            }
            Builtin::Push | Builtin::Pop => {
                let elem = self.array_place(name, &args[0]);
                if builtin == Builtin::Pop {
                    return elem;
                }
                let found = self.expr(&args[1], Some(&elem));
                let hint = format!("`push` onto a `[{elem}]` takes a value of type `{elem}`");
                self.expect_type(&elem, &found, &args[1], &hint);
                Type::Unit
            }
            Builtin::ParseInt => {
                fixed(self, &[Type::Str]);
                Type::Int
            }
            Builtin::Split => {
                fixed(self, &[Type::Str, Type::Str]);
                Type::array(Type::Str)
            }
            Builtin::Contains => {
                fixed(self, &[Type::Str, Type::Str]);
                Type::Bool
            }
            Builtin::Substr => {
                fixed(self, &[Type::Str, Type::Int, Type::Int]);
                Type::Str
            }
            Builtin::Assert => {
                fixed(self, &[Type::Bool, Type::Str]);
                Type::Unit
            }
        }
    }

    /// Checks the first argument of `push`/`pop`: a place holding an array.
    /// Returns the element type.
    fn array_place(&mut self, name: &str, arg: &Expr) -> Type {
        let found = self.expr(arg, None);
        if !arg.is_place() {
            self.error(
                Diagnostic::new(
                    Stage::Check,
                    arg.span,
                    format!("`{name}` needs a variable or an indexed element to modify"),
                    format!(
                        "store the array in a variable first: `let xs = ...; {name}(xs, ...);`"
                    ),
                )
                .with_label("not a place"),
            );
        }
        match found {
            Type::Array(elem) => *elem,
            Type::Error => Type::Error,
            other => {
                self.error(
                    Diagnostic::new(
                        Stage::Check,
                        arg.span,
                        format!("`{name}` takes an array, found `{other}`"),
                        format!(
                            "the signature is `{}`",
                            Builtin::from_name(name).map_or("", |b| b.signature())
                        ),
                    )
                    .with_label(format!("this is `{other}`")),
                );
                Type::Error
            }
        }
    }
}

/// `name(int, str) -> bool`, for hints.
fn signature(name: &str, params: &[Type], ret: &Type) -> String {
    let params: Vec<String> = params.iter().map(Type::to_string).collect();
    match ret {
        Type::Unit => format!("{name}({})", params.join(", ")),
        ret => format!("{name}({}) -> {ret}", params.join(", ")),
    }
}

// ---- reachability: can a function fall off its end? ----

/// Whether running `block` always ends in `return` (or never ends).
fn block_returns(block: &Block) -> bool {
    block.stmts.iter().any(stmt_returns)
}

fn stmt_returns(stmt: &Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Return(_) => true,
        StmtKind::Block(block) => block_returns(block),
        StmtKind::If(if_stmt) => if_returns(if_stmt),
        // `while true` without a `break` never finishes normally.
        StmtKind::While { cond, body } => {
            matches!(cond.kind, ExprKind::Bool(true)) && !block_breaks(body)
        }
        _ => false,
    }
}

fn if_returns(if_stmt: &IfStmt) -> bool {
    block_returns(&if_stmt.then_block)
        && match &if_stmt.else_branch {
            None => false,
            Some(Else::Block(block)) => block_returns(block),
            Some(Else::If(next)) => if_returns(next),
        }
}

/// Whether `block` contains a `break` that leaves the loop it is the body of.
fn block_breaks(block: &Block) -> bool {
    block.stmts.iter().any(|stmt| match &stmt.kind {
        StmtKind::Break => true,
        StmtKind::Block(block) => block_breaks(block),
        StmtKind::If(if_stmt) => if_breaks(if_stmt),
        _ => false, // a nested loop's `break` leaves the nested loop
    })
}

fn if_breaks(if_stmt: &IfStmt) -> bool {
    block_breaks(&if_stmt.then_block)
        || match &if_stmt.else_branch {
            None => false,
            Some(Else::Block(block)) => block_breaks(block),
            Some(Else::If(next)) => if_breaks(next),
        }
}
