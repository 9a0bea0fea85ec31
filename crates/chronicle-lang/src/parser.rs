//! Tokens to the [syntax tree](crate::ast), by recursive descent with
//! precedence climbing for binary operators.
//!
//! [`parse`] returns the tree AND its errors, recovering at statement and item
//! boundaries so that one missing `;` does not hide the next problem.
//!
//! **Architecture invariant:** the parser's recursion, and the height of every
//! tree it builds, is bounded by [`MAX_NESTING`]. Deeper input (a hundred
//! thousand `(`, `[`, `{`, `-`, chained `+` or `[i]`) stops parsing with one
//! "nesting too deep" diagnostic, so neither the parser nor any later pass that
//! walks the tree recursively can overflow the stack.

use crate::ast::*;
use crate::diagnostics::{Diagnostic, Stage, MAX_DIAGNOSTICS};
use crate::lexer::{lex, Token, TokenKind};
use crate::span::Span;

/// How deeply blocks, expressions, types, `else if` chains and operator chains
/// may nest.
pub const MAX_NESTING: u32 = 256;

/// Parses a whole `.chr` source. The program is complete only when the
/// returned diagnostics are empty; otherwise it holds what could be parsed.
pub fn parse(src: &str) -> (Program, Vec<Diagnostic>) {
    let (tokens, errors) = lex(src);
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        fatal: false,
        errors,
        next_expr: 0,
        next_binding: 0,
    };
    let program = parser.program();
    (program, parser.errors)
}

/// Marks a failed parse; the diagnostic has already been recorded.
struct Failed;

type PResult<T> = Result<T, Failed>;

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: u32,
    /// Set after "nesting too deep": stop, do not try to recover.
    fatal: bool,
    errors: Vec<Diagnostic>,
    next_expr: u32,
    next_binding: u32,
}

/// Tokens at which statement-level recovery resumes.
fn starts_statement(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Let
            | TokenKind::If
            | TokenKind::While
            | TokenKind::For
            | TokenKind::Return
            | TokenKind::Break
            | TokenKind::Continue
            | TokenKind::Fn
            | TokenKind::Use
    )
}

fn binary_op(kind: &TokenKind) -> Option<BinaryOp> {
    Some(match kind {
        TokenKind::OrOr => BinaryOp::Or,
        TokenKind::AndAnd => BinaryOp::And,
        TokenKind::EqEq => BinaryOp::Eq,
        TokenKind::BangEq => BinaryOp::Ne,
        TokenKind::Lt => BinaryOp::Lt,
        TokenKind::Le => BinaryOp::Le,
        TokenKind::Gt => BinaryOp::Gt,
        TokenKind::Ge => BinaryOp::Ge,
        TokenKind::Plus => BinaryOp::Add,
        TokenKind::Minus => BinaryOp::Sub,
        TokenKind::Star => BinaryOp::Mul,
        TokenKind::Slash => BinaryOp::Div,
        TokenKind::Percent => BinaryOp::Rem,
        _ => return None,
    })
}

impl Parser<'_> {
    // ---- token helpers ----

    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never passes it.
        &self.tokens[self.pos]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    fn nth_kind(&self, n: usize) -> &TokenKind {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + n).min(last)].kind
    }

    fn at(&self, kind: &TokenKind) -> bool {
        self.peek_kind() == kind
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, kind: &TokenKind) -> Option<Token> {
        self.at(kind).then(|| self.bump())
    }

    fn prev_span(&self) -> Span {
        self.pos
            .checked_sub(1)
            .map_or(Span::default(), |i| self.tokens[i].span)
    }

    fn text(&self, span: Span) -> &str {
        &self.src[span.range()]
    }

    fn error(&mut self, diagnostic: Diagnostic) -> Failed {
        if self.errors.len() < MAX_DIAGNOSTICS {
            self.errors.push(diagnostic);
        }
        Failed
    }

    /// "expected X, found Y" at the current token.
    fn expected(&mut self, what: &str, hint: &str) -> Failed {
        let token = self.peek().clone();
        let found = describe(&token, self.text(token.span));
        self.error(
            Diagnostic::new(
                Stage::Parse,
                token.span,
                format!("expected {what}, found {found}"),
                hint,
            )
            .with_label(format!("expected {what} here")),
        )
    }

    fn expect(&mut self, kind: TokenKind, hint: &str) -> PResult<Token> {
        if let Some(token) = self.eat(&kind) {
            return Ok(token);
        }
        // A missing `;` or `)` is best shown right after the previous token.
        if matches!(kind, TokenKind::Semi) && self.pos > 0 {
            let prev = self.prev_span();
            let token = self.peek().clone();
            let found = describe(&token, self.text(token.span));
            return Err(self.error(
                Diagnostic::new(
                    Stage::Parse,
                    prev,
                    format!("expected `;`, found {found}"),
                    hint,
                )
                .with_label("expected `;` after this"),
            ));
        }
        Err(self.expected(&kind.to_string(), hint))
    }

    fn ident(&mut self, what: &str, hint: &str) -> PResult<Ident> {
        if self.at(&TokenKind::Ident) {
            let token = self.bump();
            return Ok(Ident {
                name: self.text(token.span).to_owned(),
                span: token.span,
            });
        }
        Err(self.expected(what, hint))
    }

    /// Runs `f` one nesting level deeper, failing fatally past [`MAX_NESTING`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.enter()?;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            let span = self.peek().span;
            self.fatal = true;
            return Err(self.error(
                Diagnostic::new(
                    Stage::Parse,
                    span,
                    "nesting too deep",
                    format!(
                        "blocks, expressions and types may nest at most {MAX_NESTING} levels; \
                         split this into smaller functions or `let` statements"
                    ),
                )
                .with_label("too deeply nested"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn new_expr(&mut self, kind: ExprKind, span: Span) -> Expr {
        let id = ExprId(self.next_expr);
        self.next_expr += 1;
        Expr { id, kind, span }
    }

    fn new_binding(&mut self) -> BindingId {
        let id = BindingId(self.next_binding);
        self.next_binding += 1;
        id
    }

    // ---- items ----

    fn program(&mut self) -> Program {
        let mut uses = Vec::new();
        let mut functions = Vec::new();
        while !self.at(&TokenKind::Eof) && !self.fatal {
            let start = self.pos;
            let item = match self.peek_kind() {
                TokenKind::Use => self.use_decl().map(|u| uses.push(u)),
                TokenKind::Fn => self.fn_decl().map(|f| functions.push(f)),
                _ => Err(self.expected(
                    "`fn` or `use`",
                    "a file holds only `use` capability imports and `fn` definitions",
                )),
            };
            if item.is_err() && !self.fatal {
                self.recover_item(start);
            }
        }
        Program {
            uses,
            functions,
            expr_count: self.next_expr,
            binding_count: self.next_binding,
        }
    }

    /// Skips to the next `fn` or `use` outside any braces.
    fn recover_item(&mut self, start: usize) {
        if self.pos == start {
            self.bump();
        }
        let mut braces = 0u32;
        loop {
            match self.peek_kind() {
                TokenKind::Eof => return,
                TokenKind::Fn | TokenKind::Use if braces == 0 => return,
                TokenKind::LBrace => braces += 1,
                TokenKind::RBrace => braces = braces.saturating_sub(1),
                _ => {}
            }
            self.bump();
        }
    }

    fn use_decl(&mut self) -> PResult<UseDecl> {
        let start = self.bump().span; // `use`
        let name = self.path("a capability name like `fs.read`")?;
        if !name.is_dotted() {
            self.error(
                Diagnostic::new(
                    Stage::Parse,
                    name.span,
                    format!("capability name `{}` has no dot", name.dotted()),
                    "capability names are dotted, like `fs.read` or `clock.now`",
                )
                .with_label("not a dotted name"),
            );
        }
        self.expect(
            TokenKind::At,
            "capability imports need a version: `use fs.read@1(path: str) -> str;`",
        )?;
        let major = self.version_number()?;
        let minor = if self.eat(&TokenKind::Dot).is_some() {
            self.version_number()?
        } else {
            0
        };
        self.expect(TokenKind::LParen, "write the parameter list: `(path: str)`")?;
        let mut params = Vec::new();
        while !self.at(&TokenKind::RParen) {
            let name = self.ident("a parameter name", "parameters are written `name: type`")?;
            self.expect(TokenKind::Colon, "parameters are written `name: type`")?;
            let ty = self.type_expr()?;
            params.push(CapParam { name, ty });
            if self.eat(&TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect(TokenKind::RParen, "close the parameter list with `)`")?;
        let ret = self.return_type()?;
        self.expect(
            TokenKind::Semi,
            "a capability import ends with `;`: `use clock.now@1() -> int;`",
        )?;
        Ok(UseDecl {
            name,
            version: Version { major, minor },
            params,
            ret,
            span: start.to(self.prev_span()),
        })
    }

    fn version_number(&mut self) -> PResult<u32> {
        let token = self.peek().clone();
        if let TokenKind::Int(v) = token.kind {
            self.bump();
            return u32::try_from(v).map_err(|_| {
                self.error(Diagnostic::new(
                    Stage::Parse,
                    token.span,
                    "version number is too large",
                    "versions are small numbers, like `@1` or `@1.2`",
                ))
            });
        }
        Err(self.expected(
            "a version number",
            "versions are written `@major` or `@major.minor`, like `@1` or `@1.2`",
        ))
    }

    fn path(&mut self, what: &str) -> PResult<Path> {
        let first = self.ident(what, "names are letters, digits and `_`")?;
        let mut segments = vec![first];
        while self.at(&TokenKind::Dot) && matches!(self.nth_kind(1), TokenKind::Ident) {
            self.bump();
            segments.push(self.ident(what, "names are letters, digits and `_`")?);
        }
        let span = segments[0].span.to(segments[segments.len() - 1].span);
        Ok(Path { segments, span })
    }

    fn return_type(&mut self) -> PResult<Option<TypeExpr>> {
        if self.eat(&TokenKind::Arrow).is_some() {
            Ok(Some(self.type_expr()?))
        } else {
            Ok(None)
        }
    }

    fn fn_decl(&mut self) -> PResult<FnDecl> {
        let start = self.bump().span; // `fn`
        let name = self.ident("a function name", "write `fn name(params) -> type { ... }`")?;
        self.expect(
            TokenKind::LParen,
            "write the parameter list, like `(x: int)`",
        )?;
        let mut params = Vec::new();
        while !self.at(&TokenKind::RParen) {
            let name = self.ident("a parameter name", "parameters are written `name: type`")?;
            self.expect(TokenKind::Colon, "parameters are written `name: type`")?;
            let ty = self.type_expr()?;
            let binding = self.new_binding();
            params.push(Param { binding, name, ty });
            if self.eat(&TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect(TokenKind::RParen, "close the parameter list with `)`")?;
        let ret = self.return_type()?;
        let body = self.block()?;
        Ok(FnDecl {
            name,
            params,
            ret,
            span: start.to(body.span),
            body,
        })
    }

    fn type_expr(&mut self) -> PResult<TypeExpr> {
        self.nested(|p| {
            if let Some(open) = p.eat(&TokenKind::LBracket) {
                let inner = p.type_expr()?;
                let close = p.expect(TokenKind::RBracket, "array types are written `[T]`")?;
                return Ok(TypeExpr {
                    kind: TypeExprKind::Array(Box::new(inner)),
                    span: open.span.to(close.span),
                });
            }
            let name = p.ident("a type", "the types are `int`, `bool`, `str` and `[T]`")?;
            Ok(TypeExpr {
                span: name.span,
                kind: TypeExprKind::Named(name),
            })
        })
    }

    // ---- statements ----

    fn block(&mut self) -> PResult<Block> {
        self.nested(|p| {
            let open = p.expect(TokenKind::LBrace, "a block starts with `{`")?;
            let mut stmts = Vec::new();
            loop {
                match p.peek_kind() {
                    TokenKind::RBrace => break,
                    TokenKind::Eof => {
                        return Err(p.error(
                            Diagnostic::new(
                                Stage::Parse,
                                open.span,
                                "this block is never closed",
                                "add the missing `}`",
                            )
                            .with_label("unclosed `{`"),
                        ));
                    }
                    // A `fn` here almost always means the previous function
                    // lacks its closing brace.
                    TokenKind::Fn | TokenKind::Use => {
                        return Err(p.error(
                            Diagnostic::new(
                                Stage::Parse,
                                open.span,
                                "this block is never closed",
                                "add the missing `}` before the next `fn`",
                            )
                            .with_label("unclosed `{`"),
                        ));
                    }
                    _ => {}
                }
                let start = p.pos;
                match p.stmt() {
                    Ok(stmt) => stmts.push(stmt),
                    Err(Failed) if p.fatal => return Err(Failed),
                    Err(Failed) => p.recover_stmt(start),
                }
            }
            let close = p.bump();
            Ok(Block {
                stmts,
                span: open.span.to(close.span),
            })
        })
    }

    /// Skips past the next `;`, or up to a `}` or statement keyword, at the
    /// current brace level.
    fn recover_stmt(&mut self, start: usize) {
        if self.pos == start {
            self.bump();
        }
        let mut braces = 0u32;
        loop {
            let kind = self.peek_kind();
            match kind {
                TokenKind::Eof => return,
                TokenKind::Semi if braces == 0 => {
                    self.bump();
                    return;
                }
                TokenKind::RBrace if braces == 0 => return,
                k if braces == 0 && starts_statement(k) => return,
                TokenKind::LBrace => braces += 1,
                TokenKind::RBrace => braces -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    fn stmt(&mut self) -> PResult<Stmt> {
        let start = self.peek().span;
        let kind = match self.peek_kind() {
            TokenKind::Let => self.let_stmt()?,
            TokenKind::If => StmtKind::If(self.if_stmt()?),
            TokenKind::While => {
                self.bump();
                let cond = self.expr()?;
                let body = self.block()?;
                StmtKind::While { cond, body }
            }
            TokenKind::For => self.for_stmt()?,
            TokenKind::Break => {
                self.bump();
                self.expect(TokenKind::Semi, "write `break;`")?;
                StmtKind::Break
            }
            TokenKind::Continue => {
                self.bump();
                self.expect(TokenKind::Semi, "write `continue;`")?;
                StmtKind::Continue
            }
            TokenKind::Return => {
                self.bump();
                let value = if self.at(&TokenKind::Semi) {
                    None
                } else {
                    Some(self.expr()?)
                };
                self.expect(TokenKind::Semi, "a `return` statement ends with `;`")?;
                StmtKind::Return(value)
            }
            TokenKind::LBrace => StmtKind::Block(self.block()?),
            _ => self.expr_or_assign()?,
        };
        Ok(Stmt {
            kind,
            span: start.to(self.prev_span()),
        })
    }

    fn let_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // `let`
        let name = self.ident("a variable name", "write `let name = value;`")?;
        let ty = if self.eat(&TokenKind::Colon).is_some() {
            Some(self.type_expr()?)
        } else {
            None
        };
        self.expect(
            TokenKind::Eq,
            "a `let` needs an initial value: `let name = value;`",
        )?;
        let init = self.expr()?;
        self.expect(TokenKind::Semi, "a `let` statement ends with `;`")?;
        let binding = self.new_binding();
        Ok(StmtKind::Let {
            binding,
            name,
            ty,
            init,
        })
    }

    fn if_stmt(&mut self) -> PResult<IfStmt> {
        self.nested(|p| {
            let start = p.bump().span; // `if`
            let cond = p.expr()?;
            let then_block = p.block()?;
            let else_branch = if p.eat(&TokenKind::Else).is_some() {
                if p.at(&TokenKind::If) {
                    Some(Else::If(Box::new(p.if_stmt()?)))
                } else {
                    Some(Else::Block(p.block()?))
                }
            } else {
                None
            };
            Ok(IfStmt {
                cond,
                then_block,
                else_branch,
                span: start.to(p.prev_span()),
            })
        })
    }

    fn for_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // `for`
        let var = self.ident(
            "a loop variable",
            "write `for i in 0..n { ... }` or `for x in xs { ... }`",
        )?;
        self.expect(
            TokenKind::In,
            "write `for i in 0..n { ... }` or `for x in xs { ... }`",
        )?;
        let first = self.expr()?;
        let binding = self.new_binding();
        if self.eat(&TokenKind::DotDot).is_some() {
            let end = self.expr()?;
            let body = self.block()?;
            return Ok(StmtKind::ForRange {
                binding,
                var,
                start: first,
                end,
                body,
            });
        }
        let body = self.block()?;
        Ok(StmtKind::ForEach {
            binding,
            var,
            iterable: first,
            body,
        })
    }

    fn expr_or_assign(&mut self) -> PResult<StmtKind> {
        let expr = self.expr()?;
        if self.eat(&TokenKind::Eq).is_some() {
            if !expr.is_place() {
                return Err(self.error(
                    Diagnostic::new(
                        Stage::Parse,
                        expr.span,
                        "cannot assign to this expression",
                        "only a variable or an indexed element can be assigned: `x = e;` or `xs[i] = e;`",
                    )
                    .with_label("not a variable or an indexed element"),
                ));
            }
            let value = self.expr()?;
            self.expect(TokenKind::Semi, "an assignment ends with `;`")?;
            return Ok(StmtKind::Assign {
                target: expr,
                value,
            });
        }
        self.expect(TokenKind::Semi, "a statement ends with `;`")?;
        Ok(StmtKind::Expr(expr))
    }

    // ---- expressions ----

    fn expr(&mut self) -> PResult<Expr> {
        self.nested(|p| p.binary(1))
    }

    /// Precedence climbing: parses operators binding at least as tight as `min`.
    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        // Each fold makes the tree one level taller, so it counts as nesting.
        let mut folds = 0;
        let result = loop {
            let Some(op) = binary_op(self.peek_kind()) else {
                break Ok(lhs);
            };
            if op.precedence() < min {
                break Ok(lhs);
            }
            if let Err(e) = self.enter() {
                break Err(e);
            }
            folds += 1;
            let op_span = self.bump().span;
            let rhs = match self.binary(op.precedence() + 1) {
                Ok(rhs) => rhs,
                Err(e) => break Err(e),
            };
            let span = lhs.span.to(rhs.span);
            let kind = ExprKind::Binary {
                op,
                op_span,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
            lhs = self.new_expr(kind, span);
        };
        self.depth -= folds;
        result
    }

    fn unary(&mut self) -> PResult<Expr> {
        let op = match self.peek_kind() {
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Bang => UnaryOp::Not,
            _ => return self.postfix(),
        };
        let op_token = self.bump();
        // `-123` is one literal, so that `-9223372036854775808` is expressible.
        if op == UnaryOp::Neg {
            if let TokenKind::Int(v) = *self.peek_kind() {
                let lit = self.bump();
                let value = (-i128::from(v)) as i64; // v <= 2^63, checked by the lexer
                return Ok(self.new_expr(ExprKind::Int(value), op_token.span.to(lit.span)));
            }
        }
        let operand = self.nested(|p| p.unary())?;
        let span = op_token.span.to(operand.span);
        Ok(self.new_expr(
            ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
            span,
        ))
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut expr = self.primary()?;
        let mut folds = 0;
        let result = loop {
            if !self.at(&TokenKind::LBracket) {
                break Ok(expr);
            }
            if let Err(e) = self.enter() {
                break Err(e);
            }
            folds += 1;
            self.bump();
            let index = match self.expr() {
                Ok(index) => index,
                Err(e) => break Err(e),
            };
            let close = match self.expect(TokenKind::RBracket, "close the index with `]`") {
                Ok(close) => close,
                Err(e) => break Err(e),
            };
            let span = expr.span.to(close.span);
            let kind = ExprKind::Index {
                base: Box::new(expr),
                index: Box::new(index),
            };
            expr = self.new_expr(kind, span);
        };
        self.depth -= folds;
        result
    }

    fn primary(&mut self) -> PResult<Expr> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Int(v) => {
                self.bump();
                let value = i64::try_from(v).unwrap_or_else(|_| {
                    self.error(
                        Diagnostic::new(
                            Stage::Parse,
                            token.span,
                            "integer literal is too large for `int`",
                            "an `int` is 64-bit signed: at most 9223372036854775807 \
                             (only `-9223372036854775808` may be written with a minus)",
                        )
                        .with_label("does not fit in 64 bits"),
                    );
                    0
                });
                Ok(self.new_expr(ExprKind::Int(value), token.span))
            }
            TokenKind::Str(s) => {
                self.bump();
                Ok(self.new_expr(ExprKind::Str(s), token.span))
            }
            TokenKind::True | TokenKind::False => {
                self.bump();
                let value = token.kind == TokenKind::True;
                Ok(self.new_expr(ExprKind::Bool(value), token.span))
            }
            TokenKind::LParen => {
                self.bump();
                let inner = self.expr()?;
                self.expect(TokenKind::RParen, "close the parenthesis with `)`")?;
                Ok(inner)
            }
            TokenKind::LBracket => {
                self.bump();
                let elems = self.list(TokenKind::RBracket, "close the array with `]`")?;
                let span = token.span.to(self.prev_span());
                Ok(self.new_expr(ExprKind::Array(elems), span))
            }
            TokenKind::Ident => {
                let path = self.path("a name")?;
                if self.eat(&TokenKind::LParen).is_some() {
                    let args = self.list(TokenKind::RParen, "close the argument list with `)`")?;
                    let span = path.span.to(self.prev_span());
                    return Ok(self.new_expr(ExprKind::Call { callee: path, args }, span));
                }
                if path.is_dotted() {
                    return Err(self.error(
                        Diagnostic::new(
                            Stage::Parse,
                            path.span,
                            format!("capability `{}` must be called", path.dotted()),
                            format!("write `{}(...)`; values have no fields", path.dotted()),
                        )
                        .with_label("a capability, not a value"),
                    ));
                }
                let ident = path
                    .segments
                    .into_iter()
                    .next()
                    .expect("a path has a segment");
                Ok(self.new_expr(ExprKind::Var(ident.clone()), ident.span))
            }
            _ => Err(self.expected(
                "an expression",
                "an expression is a literal, a name, a call, `(...)` or `[...]`",
            )),
        }
    }

    /// Comma-separated expressions up to `close` (consumed); a trailing comma is allowed.
    fn list(&mut self, close: TokenKind, hint: &str) -> PResult<Vec<Expr>> {
        let mut items = Vec::new();
        while !self.at(&close) {
            items.push(self.expr()?);
            if self.eat(&TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect(close, hint)?;
        Ok(items)
    }
}

/// How a token is named in "found ..." messages.
fn describe(token: &Token, text: &str) -> String {
    match token.kind {
        TokenKind::Ident => format!("`{text}`"),
        TokenKind::Int(_) => format!("`{text}`"),
        _ => token.kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_expr(src: &str) -> Expr {
        let (program, errors) = parse(&format!("fn main() {{ {src}; }}"));
        assert!(errors.is_empty(), "{errors:?}");
        match &program.functions[0].body.stmts[0].kind {
            StmtKind::Expr(e) => e.clone(),
            other => panic!("not an expression statement: {other:?}"),
        }
    }

    /// Prints the tree with explicit parentheses, to pin precedence.
    fn sexpr(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(v) => v.to_string(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Var(v) => v.name.clone(),
            ExprKind::Array(xs) => {
                format!("[{}]", xs.iter().map(sexpr).collect::<Vec<_>>().join(" "))
            }
            ExprKind::Unary { op, operand } => format!("({}{})", op.symbol(), sexpr(operand)),
            ExprKind::Binary { op, lhs, rhs, .. } => {
                format!("({} {} {})", sexpr(lhs), op.symbol(), sexpr(rhs))
            }
            ExprKind::Call { callee, args } => format!(
                "{}({})",
                callee.dotted(),
                args.iter().map(sexpr).collect::<Vec<_>>().join(" ")
            ),
            ExprKind::Index { base, index } => format!("{}[{}]", sexpr(base), sexpr(index)),
        }
    }

    #[test]
    fn precedence_follows_the_spec() {
        let cases = [
            ("a || b && c", "(a || (b && c))"),
            ("a == b < c", "(a == (b < c))"),
            ("a < b + c", "(a < (b + c))"),
            ("a + b * c % d", "(a + ((b * c) % d))"),
            ("a - b - c", "((a - b) - c)"),
            ("-a * b", "((-a) * b)"),
            ("!a == b", "((!a) == b)"),
            ("-xs[0]", "(-xs[0])"),
            ("-5 - -5", "(-5 - -5)"),
            ("- -9223372036854775808", "(--9223372036854775808)"),
            ("fs.read(p)[1][2]", "fs.read(p)[1][2]"),
            ("(a || b) && c", "((a || b) && c)"),
        ];
        for (src, want) in cases {
            assert_eq!(sexpr(&body_expr(src)), want, "{src}");
        }
    }

    #[test]
    fn ids_are_dense() {
        let (program, errors) = parse("fn main() { let x = 1 + 2 * 3; }");
        assert!(errors.is_empty());
        assert_eq!(program.expr_count, 5);
        assert_eq!(program.binding_count, 1);
    }

    #[test]
    fn recovery_reports_several_errors() {
        let (_, errors) = parse("fn main() { let x = ; let y = 2 let z = 3; }");
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
