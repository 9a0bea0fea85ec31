//! The syntax tree produced by the [parser](crate::parser).
//!
//! Every node carries the [`Span`] of the source it came from. Expressions
//! carry an [`ExprId`] and every place that declares a local variable (a
//! parameter, `let`, a `for` variable) carries a [`BindingId`]; both are dense
//! indices assigned by the parser in source order, so later stages keep their
//! facts in side tables (`Vec`s indexed by id) instead of mutating the tree.
//!
//! **Architecture invariant:** the tree is purely syntactic. Names are not
//! resolved and types are not known here; that is the [checker](crate::check)'s job.

use crate::span::Span;

/// Identifies one expression node; indexes the checker's side tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

/// Identifies one declaration of a local variable (parameter, `let` or `for`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BindingId(pub u32);

/// A whole `.chr` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The capability imports, in source order.
    pub uses: Vec<UseDecl>,
    /// The functions, in source order.
    pub functions: Vec<FnDecl>,
    /// Number of expressions: every [`ExprId`] is below this.
    pub expr_count: u32,
    /// Number of bindings: every [`BindingId`] is below this.
    pub binding_count: u32,
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A possibly dotted name: `count` or `fs.read`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The dot-separated parts; never empty.
    pub segments: Vec<Ident>,
    /// The span of the whole path.
    pub span: Span,
}

impl Path {
    /// The path as written, segments joined by `.`.
    pub fn dotted(&self) -> String {
        let parts: Vec<&str> = self.segments.iter().map(|s| s.name.as_str()).collect();
        parts.join(".")
    }

    /// Whether this is a capability name (it has a dot).
    pub fn is_dotted(&self) -> bool {
        self.segments.len() > 1
    }
}

/// A capability version: `@1` or `@1.2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    /// The major version; hosts must offer the same major.
    pub major: u32,
    /// The minor version; `@1` means minor `0`.
    pub minor: u32,
}

/// `use fs.read@1(path: str) -> str;`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UseDecl {
    /// The dotted capability name.
    pub name: Path,
    /// The requested version.
    pub version: Version,
    /// The typed parameters (their names are documentation only).
    pub params: Vec<CapParam>,
    /// The return type; `None` means unit.
    pub ret: Option<TypeExpr>,
    /// The whole declaration including `;`.
    pub span: Span,
}

/// One parameter of a capability signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapParam {
    /// The documented name.
    pub name: Ident,
    /// The type.
    pub ty: TypeExpr,
}

/// `fn name(p: T, ...) -> T { ... }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnDecl {
    /// The function name.
    pub name: Ident,
    /// The parameters, which are the function's first locals.
    pub params: Vec<Param>,
    /// The return type; `None` means unit.
    pub ret: Option<TypeExpr>,
    /// The body.
    pub body: Block,
    /// From `fn` to the closing `}`.
    pub span: Span,
}

/// One function parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The local variable it declares.
    pub binding: BindingId,
    /// Its name.
    pub name: Ident,
    /// Its declared type.
    pub ty: TypeExpr,
}

/// A type as written: `int`, `[str]`, ...
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeExpr {
    /// The shape.
    pub kind: TypeExprKind,
    /// Where it is written.
    pub span: Span,
}

/// The shape of a written type. Names are resolved by the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeExprKind {
    /// A type name such as `int`, `bool` or `str`.
    Named(Ident),
    /// `[T]`
    Array(Box<TypeExpr>),
}

/// `{ stmt* }`, which opens a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}

/// A statement with its span (including a trailing `;`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    /// What the statement is.
    pub kind: StmtKind,
    /// Where it is.
    pub span: Span,
}

/// The statement forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    /// `let name (: ty)? = init;`
    Let {
        /// The local it declares (in scope after the statement).
        binding: BindingId,
        /// The variable name.
        name: Ident,
        /// The annotation, if any.
        ty: Option<TypeExpr>,
        /// The initial value.
        init: Expr,
    },
    /// `target = value;` where `target` is a place: a variable or an index
    /// of a place (`x`, `xs[i]`, `xs[i][j]`); see [`Expr::is_place`].
    Assign {
        /// The place written.
        target: Expr,
        /// The value stored.
        value: Expr,
    },
    /// `expr;`
    Expr(Expr),
    /// `if c { } else if c { } else { }`
    If(IfStmt),
    /// `while cond { body }`
    While {
        /// Evaluated before each iteration.
        cond: Expr,
        /// The loop body.
        body: Block,
    },
    /// `for var in start..end { body }`
    ForRange {
        /// The loop variable's local.
        binding: BindingId,
        /// The loop variable.
        var: Ident,
        /// Evaluated once, first.
        start: Expr,
        /// Evaluated once, second; the range is empty when `start >= end`.
        end: Expr,
        /// The loop body.
        body: Block,
    },
    /// `for var in iterable { body }` over an array as it was when the loop began.
    ForEach {
        /// The loop variable's local.
        binding: BindingId,
        /// The loop variable.
        var: Ident,
        /// The array iterated over, evaluated once.
        iterable: Expr,
        /// The loop body.
        body: Block,
    },
    /// `break;`
    Break,
    /// `continue;`
    Continue,
    /// `return;` or `return e;`
    Return(Option<Expr>),
    /// A nested `{ ... }` block.
    Block(Block),
}

/// An `if` with its optional `else` chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfStmt {
    /// The condition.
    pub cond: Expr,
    /// Runs when the condition is true.
    pub then_block: Block,
    /// Runs otherwise.
    pub else_branch: Option<Else>,
    /// From `if` to the end of the whole chain.
    pub span: Span,
}

/// What follows `else`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Else {
    /// `else if ...`
    If(Box<IfStmt>),
    /// `else { ... }`
    Block(Block),
}

/// An expression node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// Index into the checker's side tables.
    pub id: ExprId,
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it is (parentheses around it are not included).
    pub span: Span,
}

impl Expr {
    /// Whether this expression names a place that can be assigned, pushed to
    /// or popped from: a variable, or an index whose base is a place.
    pub fn is_place(&self) -> bool {
        match &self.kind {
            ExprKind::Var(_) => true,
            ExprKind::Index { base, .. } => base.is_place(),
            _ => false,
        }
    }
}

/// The expression forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// An integer literal; `-5` and `-9223372036854775808` are single literals.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// A string literal with escapes decoded.
    Str(String),
    /// `[a, b, c]`
    Array(Vec<Expr>),
    /// A variable use.
    Var(Ident),
    /// `-e` or `!e`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Where the operator is written.
        op_span: Span,
        /// Evaluated first.
        lhs: Box<Expr>,
        /// Evaluated second (unless `&&`/`||` short-circuit).
        rhs: Box<Expr>,
    },
    /// `f(args)`, `len(xs)` or `fs.read(p)`; which one is resolved by the checker.
    Call {
        /// The called name; dotted for a capability.
        callee: Path,
        /// Arguments, evaluated left to right.
        args: Vec<Expr>,
    },
    /// `base[index]`.
    Index {
        /// The array.
        base: Box<Expr>,
        /// The position, evaluated after `base`.
        index: Box<Expr>,
    },
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`, checked negation of an `int`.
    Neg,
    /// `!`, negation of a `bool`.
    Not,
}

/// Infix operators, in increasing precedence groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `||`, short-circuit.
    Or,
    /// `&&`, short-circuit.
    And,
    /// `==`, any two values of one type.
    Eq,
    /// `!=`, any two values of one type.
    Ne,
    /// `<`, ints only.
    Lt,
    /// `<=`, ints only.
    Le,
    /// `>`, ints only.
    Gt,
    /// `>=`, ints only.
    Ge,
    /// `+`, checked int addition or string concatenation.
    Add,
    /// `-`, checked.
    Sub,
    /// `*`, checked.
    Mul,
    /// `/`, truncating toward zero; checked.
    Div,
    /// `%`, with the dividend's sign; checked.
    Rem,
}

impl BinaryOp {
    /// Binding strength: a higher number binds tighter. All are left-associative.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 6,
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

impl UnaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
        }
    }
}
