//! Text -> module.
//!
//! The parser reads one statement per line. An error ends the statement, not
//! the parse: the next line is read as usual, so one run reports every
//! independent error (up to [`MAX_ERRORS`]). Function names and labels may be
//! used before they are defined; they are resolved when their scope closes.
//!
//! Instruction operands are read from the instruction table
//! ([`Opcode::operands`]): the parser knows operand *kinds*, never opcodes.
//!
//! **Invariant:** the parser never panics and allocates at most a small
//! multiple of the input's length (every register, instruction, type level
//! and table entry takes at least one character of input).

use crate::lex::{lex_line, shorten, Tok, Token};
use crate::syntax::{
    index_digits, DIR_LINE, DIR_PARAMS, DIR_REGS, KEYWORDS, TYPE_BOOL, TYPE_INT, TYPE_STR,
};
use crate::AsmError;
use chronicle_core::format::MAX_ENTRIES;
use chronicle_core::isa::{Instr, Opcode, OperandKind, OperandSpec};
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::types::{Signature, Type, Version, MAX_TYPE_DEPTH};
use std::collections::HashMap;

/// The most errors one parse reports.
pub(crate) const MAX_ERRORS: usize = 50;

type Result<T> = std::result::Result<T, AsmError>;

/// Parses a whole file, returning the module or every error found (sorted by position).
pub(crate) fn parse(src: &str) -> std::result::Result<Module, Vec<AsmError>> {
    let src = src.strip_prefix('\u{FEFF}').unwrap_or(src);
    let mut p = Parser::default();
    let mut eof = Pos { line: 1, col: 1 };
    for (i, line) in src.split('\n').enumerate() {
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let width = u32::try_from(line.chars().count()).unwrap_or(u32::MAX);
        eof = Pos {
            line: lineno,
            col: width.saturating_add(1),
        };
        match lex_line(line, lineno) {
            Ok((toks, end)) if !toks.is_empty() => {
                let mut line = Line {
                    toks: &toks,
                    next: 0,
                    lineno,
                    end,
                };
                if let Err(e) = p.statement(&mut line) {
                    p.errors.push(e);
                }
            }
            Ok(_) => {}
            Err(e) => p.errors.push(e),
        }
        if p.errors.len() >= MAX_ERRORS {
            break;
        }
    }
    p.finish(eof)
}

/// The tokens of one line and a cursor over them.
struct Line<'t, 'a> {
    toks: &'t [Token<'a>],
    next: usize,
    lineno: u32,
    /// The column just past the last token.
    end: u32,
}

impl<'t, 'a> Line<'t, 'a> {
    fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.next)
    }

    fn next(&mut self) -> Option<&'t Token<'a>> {
        let t = self.toks.get(self.next)?;
        self.next += 1;
        Some(t)
    }

    fn error(&self, col: u32, message: impl Into<String>) -> AsmError {
        AsmError {
            line: self.lineno,
            col,
            message: message.into(),
        }
    }

    /// An error at the next token, or at the end of the line: "expected X, found Y".
    fn expected(&self, what: &str) -> AsmError {
        match self.peek() {
            Some(t) => self.error(
                t.col,
                format!("expected {what}, found {}", t.tok.describe()),
            ),
            None => self.error(self.end, format!("expected {what} at the end of the line")),
        }
    }

    /// Consumes the next token if it equals `tok`.
    fn eat(&mut self, tok: &Tok<'_>) -> bool {
        if self.peek().is_some_and(|t| &t.tok == tok) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok<'_>, what: &str) -> Result<&'t Token<'a>> {
        match self.peek() {
            Some(t) if &t.tok == tok => {
                self.next += 1;
                Ok(t)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Requires that nothing follows on the line.
    fn finish(&self, after: &str) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(self.error(
                t.col,
                format!("unexpected {} after {after}", t.tok.describe()),
            )),
        }
    }

    /// A `prefix<digits>` index such as `k3`, or an error naming `what`.
    fn index(&mut self, prefix: char, what: &str) -> Result<(u16, &'t Token<'a>)> {
        match self.peek() {
            Some(
                t @ Token {
                    tok: Tok::Word(w), ..
                },
            ) => match index_digits(w, prefix) {
                Some(digits) => {
                    self.next += 1;
                    Ok((parse_index(digits, prefix, t, self.lineno)?, t))
                }
                None => Err(self.expected(&format!("{what} ({prefix}0, {prefix}1, ...)"))),
            },
            _ => Err(self.expected(&format!("{what} ({prefix}0, {prefix}1, ...)"))),
        }
    }

    /// An integer token converted by `conv`; `range` describes the allowed values.
    fn number<T>(
        &mut self,
        what: &str,
        range: &str,
        conv: impl Fn(&str) -> Option<T>,
    ) -> Result<T> {
        match self.peek() {
            Some(
                t @ Token {
                    tok: Tok::Int(n), ..
                },
            ) => {
                self.next += 1;
                conv(n).ok_or_else(|| {
                    self.error(
                        t.col,
                        format!("{what} `{}` is out of range ({range})", shorten(n)),
                    )
                })
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A function or import name: a plain name or a string.
    fn name(&mut self, what: &str) -> Result<String> {
        match self.peek() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => {
                self.next += 1;
                Ok((*w).to_owned())
            }
            Some(Token {
                tok: Tok::Str(s), ..
            }) => {
                self.next += 1;
                Ok(s.clone())
            }
            _ => Err(self.expected(what)),
        }
    }

    /// `int`, `bool`, `str` or `[T]`.
    fn ty(&mut self) -> Result<Type> {
        let mut depth = 0;
        while let Some(t) = self.peek().filter(|t| t.tok == Tok::LBracket) {
            depth += 1;
            if depth > MAX_TYPE_DEPTH {
                return Err(self.error(
                    t.col,
                    format!("array type nested deeper than {MAX_TYPE_DEPTH} levels"),
                ));
            }
            self.next += 1;
        }
        let mut ty = match self.peek() {
            Some(Token {
                tok: Tok::Word(w),
                col,
            }) => {
                let ty =
                    match *w {
                        TYPE_INT => Type::Int,
                        TYPE_BOOL => Type::Bool,
                        TYPE_STR => Type::Str,
                        "unit" => return Err(self.error(
                            *col,
                            "`unit` is not a value type (leave out `-> type` for a unit result)",
                        )),
                        other => {
                            return Err(self.error(
                                *col,
                                format!(
                                    "unknown type `{}` (expected int, bool, str or [T])",
                                    shorten(other)
                                ),
                            ))
                        }
                    };
                self.next += 1;
                ty
            }
            _ => return Err(self.expected("a type (int, bool, str or [T])")),
        };
        for _ in 0..depth {
            self.expect(&Tok::RBracket, "`]` to close the array type")?;
            ty = Type::array_of(ty);
        }
        Ok(ty)
    }

    /// `-> type`, or nothing for unit.
    fn ret(&mut self) -> Result<Option<Type>> {
        if self.eat(&Tok::Arrow) {
            Ok(Some(self.ty()?))
        } else {
            Ok(None)
        }
    }
}

/// Converts the digits of an index operand, naming the operand on overflow.
fn parse_index(digits: &str, prefix: char, t: &Token<'_>, lineno: u32) -> Result<u16> {
    digits.parse::<u16>().map_err(|_| AsmError {
        line: lineno,
        col: t.col,
        message: format!(
            "index `{prefix}{}` is out of range (at most {prefix}{})",
            shorten(digits),
            u16::MAX
        ),
    })
}

/// A position in the source.
#[derive(Clone, Copy, Debug)]
struct Pos {
    line: u32,
    col: u32,
}

impl Pos {
    fn error(self, message: impl Into<String>) -> AsmError {
        AsmError {
            line: self.line,
            col: self.col,
            message: message.into(),
        }
    }
}

/// A function named in an operand, resolved once every function is known.
struct NameUse<'a> {
    name: &'a str,
    at: Pos,
    /// `(function, pc, operand)` to patch.
    slot: (usize, usize, usize),
}

/// A label used as a jump target, resolved at the function's `end`.
struct LabelUse<'a> {
    label: &'a str,
    at: Pos,
    pc: usize,
    operand: usize,
}

/// The function being parsed.
struct OpenFunc<'a> {
    f: Function,
    opened: Pos,
    /// Registers listed in the header (the parameters).
    header_params: usize,
    /// A `.params N` directive.
    explicit_params: Option<(u16, Pos)>,
    labels: HashMap<&'a str, (u16, u32)>,
    label_uses: Vec<LabelUse<'a>>,
    /// The source line given to the next instruction (`.line`).
    line: u32,
    /// Set by the first instruction or label; declarations must come before.
    in_code: bool,
}

#[derive(Default)]
struct Parser<'a> {
    module: Module,
    errors: Vec<AsmError>,
    open: Option<OpenFunc<'a>>,
    entry: Option<(Pos, EntryRef<'a>)>,
    name_uses: Vec<NameUse<'a>>,
}

enum EntryRef<'a> {
    Index(u16),
    Name(&'a str),
}

/// An operand's value, or a name to resolve later.
enum Val<'a> {
    Ready(u16),
    Label(&'a str),
    Func(&'a str),
}

impl<'a> Parser<'a> {
    fn statement<'t>(&mut self, l: &mut Line<'t, 'a>) -> Result<()> {
        let Some(first) = l.peek() else { return Ok(()) };
        let at = Pos {
            line: l.lineno,
            col: first.col,
        };
        let fidx = self.module.funcs.len();
        match (&first.tok, self.open.is_some()) {
            (Tok::Word("func"), open) => {
                if open {
                    // Report the missing `end`, then carry on with the new function.
                    let name = self
                        .open
                        .as_ref()
                        .map(|o| o.f.name.clone())
                        .unwrap_or_default();
                    self.close_function();
                    self.errors.push(at.error(format!(
                        "`func` inside function `{}`: close it with `end` first",
                        shorten(&name)
                    )));
                }
                self.function_header(l, at)
            }
            (Tok::Word(kw @ ("const" | "import" | "entry")), true) => Err(at.error(format!(
                "`{kw}` inside a function: declare it at the top level, outside `func` ... `end`"
            ))),
            (Tok::Word("const"), false) => self.constant(l),
            (Tok::Word("import"), false) => self.import(l),
            (Tok::Word("entry"), false) => self.entry(l, at),
            (Tok::Word("end"), false) => Err(at.error("`end` outside a function")),
            (Tok::Word("end"), true) => {
                l.next();
                // Close the function even if junk follows `end`.
                self.close_function();
                l.finish("`end`")
            }
            (Tok::Directive(d), true) => match self.open.as_mut() {
                Some(open) => open.directive(l, d, at),
                None => Ok(()),
            },
            (Tok::Word(_), true) => match self.open.as_mut() {
                Some(open) => open.labelled_instruction(l, fidx, &mut self.name_uses),
                None => Ok(()),
            },
            (Tok::Directive(d), false) => {
                Err(at.error(format!("`.{}` outside a function", shorten(d))))
            }
            (Tok::Word(w), false) if Opcode::from_mnemonic(w).is_some() => Err(at.error(format!(
                "instruction `{w}` outside a function (start one with `func name() ... end`)"
            ))),
            (Tok::Word(w), false) if l.toks.get(1).is_some_and(|t| t.tok == Tok::Colon) => {
                Err(at.error(format!("label `{}` outside a function", shorten(w))))
            }
            (tok, open) => {
                let expected = if open {
                    "an instruction, a label, `.regs`, `.params`, `.line` or `end`"
                } else {
                    "`const`, `import`, `entry` or `func`"
                };
                Err(at.error(format!("expected {expected}, found {}", tok.describe())))
            }
        }
    }

    /// `const kN = 42` or `const kN = "text"`.
    fn constant(&mut self, l: &mut Line<'_, 'a>) -> Result<()> {
        l.next();
        let (k, t) = l.index('k', "a constant index")?;
        let expected = self.module.consts.len();
        if usize::from(k) != expected {
            return Err(l.error(
                t.col,
                format!("expected k{expected} here: constants are numbered in order from k0"),
            ));
        }
        if expected >= MAX_ENTRIES {
            return Err(l.error(
                t.col,
                format!("too many constants (the format allows {MAX_ENTRIES})"),
            ));
        }
        l.expect(&Tok::Eq, "`=`")?;
        let value = match l.peek() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => {
                l.next();
                Const::Str(s.clone())
            }
            Some(Token {
                tok: Tok::Int(_), ..
            }) => Const::Int(l.number("integer constant", "a 64-bit signed int", |s| {
                s.parse().ok()
            })?),
            _ => return Err(l.expected("an integer or a string")),
        };
        l.finish("the constant")?;
        self.module.consts.push(value);
        Ok(())
    }

    /// `import cN name@major.minor(types) -> type`.
    fn import(&mut self, l: &mut Line<'_, 'a>) -> Result<()> {
        l.next();
        let (c, t) = l.index('c', "an import index")?;
        let expected = self.module.imports.len();
        if usize::from(c) != expected {
            return Err(l.error(
                t.col,
                format!("expected c{expected} here: imports are numbered in order from c0"),
            ));
        }
        if expected >= MAX_ENTRIES {
            return Err(l.error(
                t.col,
                format!("too many imports (the format allows {MAX_ENTRIES})"),
            ));
        }
        let name = l.name("a capability name (e.g. fs.read or \"any text\")")?;
        l.expect(&Tok::At, "`@` and a version (e.g. @1.0)")?;
        let major = l.number("major version", "0..=65535", |s| s.parse::<u16>().ok())?;
        l.expect(&Tok::Dot, "`.` and a minor version (e.g. @1.0)")?;
        let minor = l.number("minor version", "0..=65535", |s| s.parse::<u16>().ok())?;
        l.expect(&Tok::LParen, "`(` and the parameter types")?;
        let mut params = Vec::new();
        if !l.eat(&Tok::RParen) {
            loop {
                if params.len() >= MAX_ENTRIES {
                    return Err(l.expected("`)` (too many parameters)"));
                }
                params.push(l.ty()?);
                if l.eat(&Tok::RParen) {
                    break;
                }
                l.expect(&Tok::Comma, "`,` or `)`")?;
            }
        }
        let ret = l.ret()?;
        l.finish("the import's signature")?;
        self.module.imports.push(Import {
            name,
            version: Version::new(major, minor),
            sig: Signature { params, ret },
        });
        Ok(())
    }

    /// `entry name` or `entry fN`.
    fn entry(&mut self, l: &mut Line<'_, 'a>, at: Pos) -> Result<()> {
        l.next();
        if let Some((first, _)) = &self.entry {
            return Err(at.error(format!(
                "duplicate `entry` (the first is on line {})",
                first.line
            )));
        }
        let (r, col) = match l.peek() {
            Some(
                t @ Token {
                    tok: Tok::Word(w),
                    col,
                },
            ) => {
                l.next();
                match index_digits(w, 'f') {
                    Some(d) => (EntryRef::Index(parse_index(d, 'f', t, l.lineno)?), *col),
                    None => (EntryRef::Name(w), *col),
                }
            }
            _ => return Err(l.expected("the entry function (its name or f0, f1, ...)")),
        };
        l.finish("the entry function")?;
        self.entry = Some((
            Pos {
                line: l.lineno,
                col,
            },
            r,
        ));
        Ok(())
    }

    /// `func name(r0: type, ...) -> type`.
    fn function_header(&mut self, l: &mut Line<'_, 'a>, at: Pos) -> Result<()> {
        l.next();
        let mut open = OpenFunc {
            f: Function::default(),
            opened: at,
            header_params: 0,
            explicit_params: None,
            labels: HashMap::new(),
            label_uses: Vec::new(),
            line: 0,
            in_code: false,
        };
        let result = if self.module.funcs.len() >= MAX_ENTRIES {
            Err(at.error(format!(
                "too many functions (the format allows {MAX_ENTRIES})"
            )))
        } else {
            open.header(l)
        };
        // The function is open even when its header has an error, so that
        // its body is read as a body rather than as a cascade of errors.
        self.open = Some(open);
        result
    }
}

impl<'a> OpenFunc<'a> {
    /// The rest of `func name(r0: type, ...) -> type`.
    fn header(&mut self, l: &mut Line<'_, 'a>) -> Result<()> {
        let open = self;
        open.f.name = l.name("a function name (e.g. main or \"any text\")")?;
        l.expect(&Tok::LParen, "`(` and the parameters")?;
        if !l.eat(&Tok::RParen) {
            loop {
                register_decl(l, &mut open.f.regs)?;
                open.header_params = open.f.regs.len();
                if l.eat(&Tok::RParen) {
                    break;
                }
                l.expect(&Tok::Comma, "`,` or `)`")?;
            }
        }
        open.f.params = open.header_params as u16;
        open.f.ret = l.ret()?;
        l.finish("the function header")
    }

    fn directive(&mut self, l: &mut Line<'_, 'a>, name: &str, at: Pos) -> Result<()> {
        let open = self;
        l.next();
        match name {
            DIR_LINE => {
                open.line = l.number("line number", "0..=4294967295", |s| s.parse::<u32>().ok())?;
                l.finish("the line number")
            }
            DIR_REGS | DIR_PARAMS if open.in_code => Err(at.error(format!(
                "`.{name}` after the first instruction: declare registers before the code"
            ))),
            DIR_REGS => loop {
                register_decl(l, &mut open.f.regs)?;
                if l.peek().is_none() {
                    return Ok(());
                }
                l.expect(&Tok::Comma, "`,` and another register")?;
            },
            DIR_PARAMS => {
                if open.explicit_params.is_some() {
                    return Err(at.error("duplicate `.params`"));
                }
                let n = l.number("parameter count", "0..=65535", |s| s.parse::<u16>().ok())?;
                l.finish("the parameter count")?;
                open.explicit_params = Some((n, at));
                open.f.params = n;
                Ok(())
            }
            other => Err(at.error(format!(
                "unknown directive `.{}` (expected .regs, .params or .line)",
                shorten(other)
            ))),
        }
    }

    /// `[label:] [mnemonic operands]`.
    fn labelled_instruction(
        &mut self,
        l: &mut Line<'_, 'a>,
        fidx: usize,
        name_uses: &mut Vec<NameUse<'a>>,
    ) -> Result<()> {
        let open = &mut *self;
        let Some(Token {
            tok: Tok::Word(word),
            col,
        }) = l.peek()
        else {
            return Err(l.expected("an instruction"));
        };
        if l.toks.get(l.next + 1).is_some_and(|t| t.tok == Tok::Colon) {
            l.next += 2;
            open.in_code = true;
            let pc = open.f.code.len() as u16;
            if let Some(&(_, first)) = open.labels.get(word) {
                return Err(l.error(
                    *col,
                    format!(
                        "duplicate label `{}` (first defined on line {first})",
                        shorten(word)
                    ),
                ));
            }
            open.labels.insert(word, (pc, l.lineno));
            if l.peek().is_none() {
                return Ok(());
            }
        }
        self.instruction(l, fidx, name_uses)
    }

    /// `mnemonic operand, operand, ...`, driven by the instruction table.
    fn instruction(
        &mut self,
        l: &mut Line<'_, 'a>,
        fidx: usize,
        name_uses: &mut Vec<NameUse<'a>>,
    ) -> Result<()> {
        let open = self;
        let (word, col) = match l.next() {
            Some(Token {
                tok: Tok::Word(w),
                col,
            }) => (*w, *col),
            Some(t) => {
                return Err(l.error(
                    t.col,
                    format!("expected an instruction, found {}", t.tok.describe()),
                ))
            }
            None => return Err(l.expected("an instruction")),
        };
        if KEYWORDS.contains(&word) {
            return Err(l.error(col, format!("`{word}` is not allowed here")));
        }
        let Some(op) = Opcode::from_mnemonic(word) else {
            return Err(l.error(col, unknown_mnemonic(word)));
        };
        open.in_code = true;
        let specs = op.operands();

        // Split the rest of the line at commas into operands.
        let mut operands: Vec<&[Token<'a>]> = Vec::new();
        let rest = &l.toks[l.next..];
        if !rest.is_empty() {
            for (i, group) in rest.split(|t| t.tok == Tok::Comma).enumerate() {
                match group {
                    [] => {
                        let col = rest
                            .iter()
                            .filter(|t| t.tok == Tok::Comma)
                            .nth(i)
                            .map_or(l.end, |t| t.col);
                        return Err(l.error(col, "missing operand"));
                    }
                    [_] | [Token { tok: Tok::At, .. }, _] => operands.push(group),
                    [Token { tok: Tok::At, .. }, _, extra, ..] | [_, extra, ..] => {
                        return Err(l.error(
                            extra.col,
                            format!(
                                "expected `,` or the end of the line, found {}",
                                extra.tok.describe()
                            ),
                        ))
                    }
                }
            }
        }
        if operands.len() != specs.len() {
            let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
            let takes = match names.len() {
                0 => "takes no operands".to_owned(),
                1 => format!("takes 1 operand ({})", names[0]),
                n => format!("takes {n} operands ({})", names.join(", ")),
            };
            let col = operands.get(specs.len()).map_or(l.end, |g| g[0].col);
            return Err(l.error(col, format!("`{word}` {takes}, found {}", operands.len())));
        }

        let pc = open.f.code.len();
        if pc >= MAX_ENTRIES {
            return Err(l.error(
                col,
                format!("too many instructions in one function (the format allows {MAX_ENTRIES})"),
            ));
        }
        let mut vals = [0u16; chronicle_core::isa::MAX_OPERANDS];
        for (i, (spec, group)) in specs.iter().zip(&operands).enumerate() {
            let at = Pos {
                line: l.lineno,
                col: group[0].col,
            };
            match operand(op, spec, group, l.lineno)? {
                Val::Ready(v) => vals[i] = v,
                Val::Label(label) => open.label_uses.push(LabelUse {
                    label,
                    at,
                    pc,
                    operand: i,
                }),
                Val::Func(name) => name_uses.push(NameUse {
                    name,
                    at,
                    slot: (fidx, pc, i),
                }),
            }
        }
        let instr = op.with_operands(&vals[..specs.len()]).ok_or_else(|| {
            l.error(
                col,
                "internal error: operand count disagrees with the instruction table",
            )
        })?;
        open.f.code.push(instr);
        open.f.lines.push(open.line);
        Ok(())
    }
}

impl<'a> Parser<'a> {
    /// Ends the open function: resolves its labels and adds it to the module.
    fn close_function(&mut self) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        for u in &open.label_uses {
            match open.labels.get(u.label) {
                Some(&(pc, _)) => patch(&mut open.f.code[u.pc], u.operand, pc),
                None => self
                    .errors
                    .push(u.at.error(format!("undefined label `{}`", shorten(u.label)))),
            }
        }
        if let Some((n, at)) = open.explicit_params {
            let regs = open.f.regs.len();
            if usize::from(n) <= regs || open.header_params != regs {
                self.errors.push(at.error(format!(
                    "`.params` is only for a parameter count beyond the frame: list every \
                     register in the header and give a count above {regs}; otherwise declare \
                     parameters in the header"
                )));
            }
        }
        self.module.funcs.push(open.f);
    }

    fn finish(mut self, eof: Pos) -> std::result::Result<Module, Vec<AsmError>> {
        if let Some(open) = &self.open {
            let e = eof.error(format!(
                "end of input inside function `{}` (opened on line {}): expected `end`",
                shorten(&open.f.name),
                open.opened.line
            ));
            self.close_function();
            self.errors.push(e);
        }

        // Resolve function names: a name must denote exactly one function.
        let mut by_name: HashMap<&str, (u16, usize)> = HashMap::new();
        for (i, f) in self.module.funcs.iter().enumerate() {
            by_name.entry(f.name.as_str()).or_insert((i as u16, 0)).1 += 1;
        }
        let mut patches = Vec::new();
        let resolve = |name: &str, at: Pos, errors: &mut Vec<AsmError>| match by_name.get(name) {
            Some(&(i, 1)) => Some(i),
            Some(&(_, n)) => {
                errors.push(at.error(format!(
                    "function name `{}` is ambiguous ({n} functions have it): refer to one by index (f0, f1, ...)",
                    shorten(name)
                )));
                None
            }
            None => {
                errors.push(at.error(format!("unknown function `{}`", shorten(name))));
                None
            }
        };
        for u in &self.name_uses {
            if let Some(i) = resolve(u.name, u.at, &mut self.errors) {
                patches.push((u.slot, i));
            }
        }
        match &self.entry {
            Some((_, EntryRef::Index(i))) => self.module.entry = *i,
            Some((at, EntryRef::Name(name))) => {
                if let Some(i) = resolve(name, *at, &mut self.errors) {
                    self.module.entry = i;
                }
            }
            None => self.module.entry = 0,
        }
        for ((f, pc, operand), i) in patches {
            if let Some(instr) = self
                .module
                .funcs
                .get_mut(f)
                .and_then(|f| f.code.get_mut(pc))
            {
                patch(instr, operand, i);
            }
        }

        if self.errors.is_empty() {
            Ok(self.module)
        } else {
            self.errors.sort_by_key(|e| (e.line, e.col));
            self.errors.truncate(MAX_ERRORS);
            Err(self.errors)
        }
    }
}

/// `rN: type`, where `N` must be the next register of the frame.
fn register_decl(l: &mut Line<'_, '_>, regs: &mut Vec<Type>) -> Result<()> {
    let (r, t) = l.index('r', "a register")?;
    if usize::from(r) != regs.len() {
        return Err(l.error(
            t.col,
            format!(
                "expected r{} here: registers are declared in order from r0",
                regs.len()
            ),
        ));
    }
    if regs.len() >= MAX_ENTRIES {
        return Err(l.error(
            t.col,
            format!("too many registers (the format allows {MAX_ENTRIES})"),
        ));
    }
    l.expect(&Tok::Colon, "`:` and the register's type")?;
    regs.push(l.ty()?);
    Ok(())
}

/// Reads one operand of kind `spec.kind` from its tokens.
fn operand<'a>(op: Opcode, spec: &OperandSpec, toks: &[Token<'a>], lineno: u32) -> Result<Val<'a>> {
    let first = &toks[0];
    let err = |col: u32, msg: String| AsmError {
        line: lineno,
        col,
        message: msg,
    };
    let mismatch = || {
        let found = match &first.tok {
            Tok::At => "`@...`".to_owned(),
            t => t.describe(),
        };
        err(
            first.col,
            format!(
                "operand `{}` of `{}` must be {}, found {found}",
                spec.name,
                op.mnemonic(),
                kind_description(spec.kind)
            ),
        )
    };
    let index = |prefix: char| match &first.tok {
        Tok::Word(w) => match index_digits(w, prefix) {
            Some(d) => parse_index(d, prefix, first, lineno).map(Val::Ready),
            None => Err(mismatch()),
        },
        _ => Err(mismatch()),
    };
    match spec.kind {
        OperandKind::Reg(..) | OperandKind::Regs => index('r'),
        OperandKind::Const => index('k'),
        OperandKind::Import => index('c'),
        OperandKind::Func => match &first.tok {
            Tok::Word(w) if index_digits(w, 'f').is_some() => index('f'),
            Tok::Word(w) => Ok(Val::Func(w)),
            _ => Err(mismatch()),
        },
        OperandKind::Target => match (&first.tok, toks.get(1)) {
            (Tok::Word(w), None) => Ok(Val::Label(w)),
            (
                Tok::At,
                Some(Token {
                    tok: Tok::Int(n),
                    col,
                }),
            ) => n.parse::<u16>().map(Val::Ready).map_err(|_| {
                err(
                    *col,
                    format!("jump target `@{}` is out of range (0..=65535)", shorten(n)),
                )
            }),
            (Tok::At, _) => Err(err(
                first.col,
                "expected an instruction index after `@` (e.g. @7)".into(),
            )),
            _ => Err(mismatch()),
        },
        OperandKind::Imm => match &first.tok {
            Tok::Int(n) => n.parse::<i16>().map(|v| Val::Ready(v as u16)).map_err(|_| {
                err(
                    first.col,
                    format!(
                        "immediate `{}` is out of range (-32768..=32767)",
                        shorten(n)
                    ),
                )
            }),
            _ => Err(mismatch()),
        },
        OperandKind::Count => match &first.tok {
            Tok::Int(n) => n.parse::<u16>().map(Val::Ready).map_err(|_| {
                err(
                    first.col,
                    format!("count `{}` is out of range (0..=65535)", shorten(n)),
                )
            }),
            _ => Err(mismatch()),
        },
    }
}

/// How an operand kind is written, for error messages.
fn kind_description(kind: OperandKind) -> &'static str {
    match kind {
        OperandKind::Reg(..) => "a register (r0, r1, ...)",
        OperandKind::Regs => "the first register of a run (r0, r1, ...)",
        OperandKind::Const => "a constant (k0, k1, ...)",
        OperandKind::Func => "a function (its name, or f0, f1, ...)",
        OperandKind::Import => "a capability import (c0, c1, ...)",
        OperandKind::Target => "a jump target (a label, or @ and an instruction index)",
        OperandKind::Imm => "an integer immediate (-32768..=32767)",
        OperandKind::Count => "a count (0..=65535)",
    }
}

/// Sets operand `i` of `instr` to `v`.
fn patch(instr: &mut Instr, i: usize, v: u16) {
    let ops = instr.operands();
    let mut vals = [0u16; chronicle_core::isa::MAX_OPERANDS];
    let n = ops.as_slice().len();
    vals[..n].copy_from_slice(ops.as_slice());
    if let Some(slot) = vals[..n].get_mut(i) {
        *slot = v;
    }
    if let Some(new) = instr.opcode().with_operands(&vals[..n]) {
        *instr = new;
    }
}

/// "unknown instruction", with the closest mnemonic of the table if one is close.
fn unknown_mnemonic(word: &str) -> String {
    let mut msg = format!("unknown instruction `{}`", shorten(word));
    if word.len() <= 16 {
        let lower = word.to_ascii_lowercase();
        let best = Opcode::ALL
            .iter()
            .map(|op| (edit_distance(&lower, op.mnemonic()), op.mnemonic()))
            .min_by_key(|&(d, _)| d);
        if let Some((d, m)) = best {
            if d <= 2 && d < word.len() {
                msg.push_str(&format!("; did you mean `{m}`?"));
            }
        }
    }
    msg
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("ad", "add"), 1);
        assert_eq!(edit_distance("jump", "jmp"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
