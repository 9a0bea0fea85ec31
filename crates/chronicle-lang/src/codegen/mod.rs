//! The code generator: a [`CheckedProgram`] in, a [`chronicle_core::Module`]
//! out, ready for [`chronicle_core::verify()`].
//!
//! # Shape of the output
//! - One bytecode function per `fn`, in source order, each named after it;
//!   `main` is the module's `entry`. Each `use` becomes an import (name,
//!   `major.minor`, typed signature) in source order, called with `cap` /
//!   `capu`.
//! - Every instruction carries the 1-based source line of the statement or
//!   expression it came from (binary operators: the line of the operator), so
//!   runtime errors and traces point at the source.
//! - Small integers are `ldi`/`addi` immediates; other integers and all
//!   strings live in a deduplicated constant pool.
//!
//! # Registers
//! Registers are typed for the whole function, so they are allocated per
//! type and reused (see `regs`): a local gets a register when it is declared
//! and gives it back when its block ends; a temporary gives its register back
//! as soon as the instruction that reads it is emitted, so `a + b * c` needs
//! one temporary, and an operation's result may reuse an operand's register.
//! Values are computed straight into their destination (`x = a + b` is one
//! `add x, a, b`; `i = i + 1` one `addi`; `s = s + t` is `concat s, s, t`,
//! which the VM performs in place). Call arguments and array literal elements
//! are computed into a run of consecutive registers, unless they already are
//! one (a lone variable argument is passed from its own register).
//!
//! A few registers have fixed roles: per array type, an *empty* register
//! that is never written (the VM starts it as an empty value) and a
//! *scratch* register used to take an element out of its array while it is
//! modified in place (`push(xs[i], v)`, `xs[i][j] = v`) and for the
//! intermediate rows of nested reads. Inside loops, literals that would be
//! loaded on every iteration are loaded once before the loop.
//!
//! # Control flow
//! Conditions compile to compare-and-branch (`jge a, b, else`), `&&`/`||`
//! to jumps. `while` loops test at the bottom; `for i in a..b` keeps `i` (or,
//! when the body assigns `i`, a hidden counter) and the bound in registers:
//! a guard `jge i, end, exit`, then the body and `fornext i, end, top`
//! (`i = i + 1`, and back to the top while `i < end`); `while i < n { ...;
//! i = i + 1; }` compiles to the same shape. `for x in xs` iterates over `xs`'s register directly when the body
//! cannot change `xs`, else over a copy (copy-on-write makes it cheap).
//! Unreachable code is not emitted.
//!
//! **Architecture invariant:** the generator trusts the checker (every
//! expression is typed, every name resolved) but never panics on what it is
//! given: a program that exceeds a 16-bit index space (instructions,
//! registers, constants, functions, imports) or the module format's type
//! depth gets a diagnostic.

mod analysis;
mod expr;
mod regs;
mod stmt;

use std::collections::{HashMap, HashSet};

use chronicle_core::format::MAX_ENTRIES;
use chronicle_core::isa::Instr;
use chronicle_core::module::{Const, Function, Import, Module};
use chronicle_core::types::{Signature, Type as CType, Version as CVersion, MAX_TYPE_DEPTH};

use crate::check::{CheckedProgram, FnId, FunctionInfo, LocalId};
use crate::diagnostics::{Diagnostic, Stage};
use crate::span::{LineIndex, Span};
use crate::types::Type;

use analysis::Lit;
use regs::Registers;

/// Turns byte offsets into 1-based source lines.
pub(crate) enum Lines<'a> {
    /// The byte offset at which each line starts (from the source text).
    Starts(Vec<u32>),
    /// The checker's index (costs a scan of the line per lookup).
    Index(&'a LineIndex),
}

impl Lines<'_> {
    /// Indexes the lines of `src`.
    pub(crate) fn of_source(src: &str) -> Lines<'static> {
        let mut starts = vec![0];
        starts.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        );
        Lines::Starts(starts)
    }

    fn line(&self, span: Span) -> u32 {
        match self {
            Lines::Starts(starts) => {
                let n = starts.partition_point(|&s| s <= span.start);
                u32::try_from(n.max(1)).unwrap_or(u32::MAX)
            }
            Lines::Index(index) => index.line(span),
        }
    }
}

/// Where a source variable lives: for debuggers, which cannot get this from
/// the module format (it carries no names). Registers are reused across
/// scopes, so a variable owns its register only over `pcs`, the
/// instructions of its scope after its declaration (approximate by one
/// instruction where a jump was dropped at a label).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarInfo {
    /// The function index.
    pub func: u16,
    /// The register.
    pub reg: u16,
    /// The variable's name in the source.
    pub name: String,
    /// The instructions over which the register holds the variable.
    pub pcs: std::ops::Range<u16>,
}

/// Compiles a checked program; `lines` must index the text it was checked from.
pub(crate) fn generate(
    program: &CheckedProgram,
    lines: &Lines<'_>,
) -> Result<Module, Vec<Diagnostic>> {
    generate_named(program, lines).map(|(m, _)| m)
}

/// [`generate`], also giving every variable's register and scope.
pub(crate) fn generate_named(
    program: &CheckedProgram,
    lines: &Lines<'_>,
) -> Result<(Module, Vec<VarInfo>), Vec<Diagnostic>> {
    let mut m = ModuleGen {
        vars: Vec::new(),
        program,
        lines,
        consts: Vec::new(),
        const_ids: HashMap::new(),
        const_overflow: None,
        diagnostics: Vec::new(),
    };
    let imports = m.imports();
    if program.functions.len() > MAX_ENTRIES {
        let (decl, _) = program.function(FnId(MAX_ENTRIES as u32));
        m.error(
            decl.name.span,
            format!(
                "too many functions: {}, a module holds at most {MAX_ENTRIES}",
                program.functions.len()
            ),
            "split the plugin into smaller ones",
        );
    }
    let mut funcs = Vec::with_capacity(program.functions.len());
    if m.diagnostics.is_empty() {
        for index in 0..program.functions.len() {
            let id = FnId(index as u32);
            let func = Gen::new(&mut m, id).function();
            funcs.push(func);
        }
    }
    if let Some(span) = m.const_overflow {
        m.error(
            span,
            format!("too many distinct constants: a module holds at most {MAX_ENTRIES} large integers and strings"),
            "move data into a file read through a capability, or split the plugin",
        );
    }
    if !m.diagnostics.is_empty() {
        return Err(m.diagnostics);
    }
    Ok((
        Module {
            consts: m.consts,
            imports,
            funcs,
            entry: program.main.0 as u16,
        },
        m.vars,
    ))
}

/// State shared by the functions of one module: the constant pool and the diagnostics.
struct ModuleGen<'a> {
    program: &'a CheckedProgram,
    /// Every variable's register and scope, for [`VarInfo`].
    vars: Vec<VarInfo>,
    lines: &'a Lines<'a>,
    consts: Vec<Const>,
    const_ids: HashMap<Const, u16>,
    /// Where the pool first overflowed.
    const_overflow: Option<Span>,
    diagnostics: Vec<Diagnostic>,
}

impl ModuleGen<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        if self.diagnostics.len() < crate::diagnostics::MAX_DIAGNOSTICS {
            self.diagnostics.push(
                Diagnostic::new(Stage::Check, span, message, hint).with_label("cannot be compiled"),
            );
        }
    }

    /// The pool index of `c`, added if new.
    fn constant(&mut self, c: Const, span: Span) -> u16 {
        if let Some(&k) = self.const_ids.get(&c) {
            return k;
        }
        if self.consts.len() >= MAX_ENTRIES {
            self.const_overflow.get_or_insert(span);
            return 0;
        }
        let k = self.consts.len() as u16;
        self.consts.push(c.clone());
        self.const_ids.insert(c, k);
        k
    }

    /// The import table, one entry per `use`, in source order.
    fn imports(&mut self) -> Vec<Import> {
        let program = self.program;
        if program.capabilities.len() > MAX_ENTRIES {
            let span = program.capabilities[MAX_ENTRIES].span;
            self.error(
                span,
                format!("too many capabilities: a module imports at most {MAX_ENTRIES}"),
                "split the plugin into smaller ones",
            );
        }
        let mut imports = Vec::with_capacity(program.capabilities.len());
        for cap in &program.capabilities {
            let (Ok(major), Ok(minor)) = (
                u16::try_from(cap.version.major),
                u16::try_from(cap.version.minor),
            ) else {
                self.error(
                    cap.span,
                    format!(
                        "capability version {}.{} is out of range",
                        cap.version.major, cap.version.minor
                    ),
                    format!("versions are at most {0}.{0}", u16::MAX),
                );
                continue;
            };
            let params = cap
                .params
                .iter()
                .map(|t| self.core_type(t, cap.span))
                .collect();
            let ret = self.value_type(&cap.ret, cap.span);
            imports.push(Import {
                name: cap.name.clone(),
                version: CVersion::new(major, minor),
                sig: Signature { params, ret },
            });
        }
        imports
    }

    /// The bytecode type of a value type; reports types nested deeper than
    /// the module format allows.
    fn core_type(&mut self, ty: &Type, span: Span) -> CType {
        let t = to_core(ty);
        if t.depth() > MAX_TYPE_DEPTH {
            self.error(
                span,
                format!("type `{ty}` nests arrays more than {MAX_TYPE_DEPTH} levels deep"),
                format!("bytecode types nest at most {MAX_TYPE_DEPTH} levels; flatten the data"),
            );
        }
        t
    }

    /// Like [`ModuleGen::core_type`]; unit gives `None`.
    fn value_type(&mut self, ty: &Type, span: Span) -> Option<CType> {
        (*ty != Type::Unit).then(|| self.core_type(ty, span))
    }
}

/// The bytecode type of a (non-unit) language type.
fn to_core(ty: &Type) -> CType {
    match ty {
        Type::Int | Type::Unit | Type::Error => CType::Int,
        Type::Bool => CType::Bool,
        Type::Str => CType::Str,
        Type::Array(elem) => CType::array_of(to_core(elem)),
    }
}

/// A jump target inside the function being compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Label(usize);

#[derive(Debug, Default)]
struct LabelState {
    /// Where the label is bound, once it is.
    pos: Option<usize>,
    /// Jumps emitted before the label was bound, to patch.
    patches: Vec<usize>,
}

/// Where an expression's value should go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    /// Any register: the expression picks (a variable's own register, a
    /// loop-invariant literal, or a new temporary).
    Any,
    /// This register, which the expression does not read.
    Into(u16),
    /// The register of this variable, which the expression may read: its
    /// old value must stay readable until the last step.
    Var(u16, LocalId),
}

/// A register holding an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Opnd {
    reg: u16,
    /// A temporary to free once read.
    owned: bool,
    /// A temporary that shares a value some variable mutates in place: it is
    /// overwritten with an empty value when freed so that the variable stays
    /// uniquely owned.
    clear: bool,
}

impl Opnd {
    /// A register the operand does not own (a variable, a hoisted literal).
    fn borrowed(reg: u16) -> Opnd {
        Opnd {
            reg,
            owned: false,
            clear: false,
        }
    }

    /// A temporary.
    fn temp(reg: u16) -> Opnd {
        Opnd {
            reg,
            owned: true,
            clear: false,
        }
    }

    /// The placeholder result of a unit expression.
    fn unit() -> Opnd {
        Opnd::borrowed(0)
    }
}

/// The jump targets of the innermost loop.
#[derive(Clone, Copy, Debug)]
struct LoopLabels {
    brk: Label,
    cont: Label,
}

/// Most literals one loop keeps in registers, and in all enclosing loops together.
const MAX_HOISTED_PER_LOOP: usize = 12;
const MAX_HOISTED: usize = 40;

/// The state of one function under construction.
struct Gen<'m, 'a> {
    m: &'m mut ModuleGen<'a>,
    program: &'a CheckedProgram,
    id: FnId,
    info: &'a FunctionInfo,
    code: Vec<Instr>,
    lines: Vec<u32>,
    /// The line new instructions get.
    line: u32,
    /// The span diagnostics about the current statement point at.
    span: Span,
    regs: Registers,
    /// The register of each local, once declared.
    locals: Vec<Option<u16>>,
    /// Locals declared in each open block, to free when it ends.
    scopes: Vec<Vec<LocalId>>,
    labels: Vec<LabelState>,
    /// Code position of the last label bound.
    last_bind: usize,
    /// Whether the next instruction can execute; unreachable code is not emitted.
    reachable: bool,
    loops: Vec<LoopLabels>,
    /// Literals loaded into registers before the enclosing loops.
    hoisted: HashMap<Lit, u16>,
    /// Locals mutated in place somewhere in the function.
    mutated: HashSet<LocalId>,
    /// Per array type: a register never written (always empty).
    empty: HashMap<CType, u16>,
    /// Per array type: the scratch register for elements taken out.
    scratch: HashMap<CType, u16>,
    /// Something the checker should have ruled out; reported, never panicked on.
    internal: Option<&'static str>,
    /// Where each live local's register took it: (register, first pc).
    var_start: HashMap<u32, (u16, usize)>,
}

impl<'m, 'a> Gen<'m, 'a> {
    fn new(m: &'m mut ModuleGen<'a>, id: FnId) -> Self {
        let program = m.program;
        let (decl, info) = program.function(id);
        let mutated = analysis::mutated_in_place(program, &decl.body);
        Gen {
            m,
            program,
            id,
            info,
            code: Vec::new(),
            lines: Vec::new(),
            line: 0,
            span: decl.name.span,
            regs: Registers::default(),
            locals: vec![None; info.locals.len()],
            scopes: Vec::new(),
            labels: Vec::new(),
            last_bind: 0,
            reachable: true,
            loops: Vec::new(),
            hoisted: HashMap::new(),
            mutated,
            empty: HashMap::new(),
            scratch: HashMap::new(),
            internal: None,
            var_start: HashMap::new(),
        }
    }

    /// Compiles the whole function.
    fn function(mut self) -> Function {
        let (decl, info) = self.program.function(self.id);
        self.line = self.m.lines.line(decl.span);
        let mut params = Vec::with_capacity(info.params.len());
        for (i, ty) in info.params.iter().enumerate() {
            let ty = self.m.core_type(ty, decl.params[i].ty.span);
            params.push(ty.clone());
            let r = self.regs.push(&ty);
            self.locals[i] = Some(r);
            self.var_start.insert(i as u32, (r, 0));
        }
        let ret = self.m.value_type(&info.ret, decl.name.span);
        self.block(&decl.body);
        if self.reachable {
            self.line = self.m.lines.line(Span::new(
                (decl.body.span.end as usize).saturating_sub(1),
                decl.body.span.end as usize,
            ));
            if ret.is_none() {
                self.emit(Instr::RetUnit {});
            } else {
                self.internal = Some("a function with a result can reach its end");
            }
        }
        self.finish_checks(decl.name.span);
        let open: Vec<u32> = self.var_start.keys().copied().collect();
        for l in open {
            self.var_end(LocalId(l));
        }
        Function {
            name: info.name.clone(),
            params: params.len() as u16,
            regs: self.regs.into_types(),
            ret,
            code: self.code,
            lines: self.lines,
        }
    }

    /// Reports what made this function impossible to encode.
    fn finish_checks(&mut self, span: Span) {
        let name = &self.info.name;
        if self.code.len() > MAX_ENTRIES {
            let message = format!(
                "function `{name}` is too large: {} instructions, at most {MAX_ENTRIES}",
                self.code.len()
            );
            self.m
                .error(span, message, "split it into smaller functions");
        }
        if self.regs.overflowed() {
            let message = format!("function `{name}` needs more than {MAX_ENTRIES} registers");
            self.m.error(
                span,
                message,
                "split it into smaller functions, or declare fewer variables in one block",
            );
        }
        if self.regs.max_depth() > MAX_TYPE_DEPTH {
            let message = format!("function `{name}` computes a value whose type nests arrays more than {MAX_TYPE_DEPTH} levels deep");
            self.m.error(
                span,
                message,
                format!("bytecode types nest at most {MAX_TYPE_DEPTH} levels; flatten the data"),
            );
        }
        if self.params_overflow() {
            let message = format!("function `{name}` has more than {MAX_ENTRIES} parameters");
            self.m
                .error(span, message, "pass the values in arrays instead");
        }
        if let Some(what) = self.internal {
            let message = format!("internal compiler error in `{name}`: {what}");
            self.m
                .error(span, message, "please report this program as a bug");
        }
    }

    fn params_overflow(&self) -> bool {
        self.info.params.len() > MAX_ENTRIES
    }

    // ---- emission ----

    /// Appends an instruction (unless the code here is unreachable).
    fn emit(&mut self, instr: Instr) {
        if !self.reachable {
            return;
        }
        if instr.is_terminator() {
            self.reachable = false;
        }
        self.code.push(instr);
        self.lines.push(self.line);
    }

    fn label(&mut self) -> Label {
        self.labels.push(LabelState::default());
        Label(self.labels.len() - 1)
    }

    /// Emits a jump instruction (its target operand is set here) to `label`.
    fn emit_jump(&mut self, instr: Instr, label: Label) {
        if !self.reachable {
            return;
        }
        let at = self.code.len();
        match self.labels[label.0].pos {
            Some(pos) => self.emit(with_target(instr, pos)),
            None => {
                self.emit(instr);
                self.labels[label.0].patches.push(at);
            }
        }
    }

    fn jump(&mut self, label: Label) {
        self.emit_jump(Instr::Jump { t: 0 }, label);
    }

    /// Binds `label` to the next instruction and patches the jumps to it.
    fn bind(&mut self, label: Label) {
        let state = &mut self.labels[label.0];
        // A `jmp` straight to the next instruction is dropped (unless a label
        // already points past it).
        if self.last_bind < self.code.len()
            && matches!(self.code.last(), Some(Instr::Jump { .. }))
            && state.patches.last() == Some(&(self.code.len() - 1))
        {
            state.patches.pop();
            self.code.pop();
            self.lines.pop();
            self.reachable = true;
        }
        let pos = self.code.len();
        state.pos = Some(pos);
        if !state.patches.is_empty() {
            self.reachable = true;
        }
        for at in std::mem::take(&mut state.patches) {
            self.code[at] = with_target(self.code[at], pos);
        }
        self.last_bind = pos;
    }

    /// The line of `span`.
    fn line_of(&self, span: Span) -> u32 {
        self.m.lines.line(span)
    }

    // ---- registers ----

    /// The bytecode type of an expression.
    fn ty(&self, e: &crate::ast::Expr) -> CType {
        to_core(self.program.expr_type(e.id))
    }

    /// A new temporary of type `ty`.
    fn temp(&mut self, ty: &CType) -> u16 {
        self.regs.alloc(ty)
    }

    /// The register of a declared local.
    fn local(&mut self, l: LocalId) -> u16 {
        match self.locals.get(l.0 as usize).copied().flatten() {
            Some(r) => r,
            None => {
                self.internal = Some("a variable is used before its declaration was compiled");
                0
            }
        }
    }

    /// Declares local `l` in the innermost block and gives it a register.
    fn declare(&mut self, l: LocalId) -> u16 {
        let ty = to_core(&self.info.locals[l.0 as usize].ty);
        let r = self.temp(&ty);
        if let Some(slot) = self.locals.get_mut(l.0 as usize) {
            *slot = Some(r);
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(l);
        }
        self.var_end(l);
        self.var_start.insert(l.0, (r, self.code.len()));
        r
    }

    /// Records local `l`'s scope as ending here, if it is open.
    fn var_end(&mut self, l: LocalId) {
        if let Some((reg, start)) = self.var_start.remove(&l.0) {
            let name = self.info.locals[l.0 as usize].name.clone();
            let end = self.code.len().min(usize::from(u16::MAX));
            self.m.vars.push(VarInfo {
                func: self.id.0 as u16,
                reg,
                name,
                pcs: start.min(end) as u16..end as u16,
            });
        }
    }

    fn enter_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// Ends the innermost block: its locals' registers are free again.
    fn leave_scope(&mut self) {
        for l in self.scopes.pop().unwrap_or_default() {
            self.var_end(l);
            if let Some(r) = self.locals[l.0 as usize].take() {
                self.regs.free(r);
            }
        }
    }

    /// The register of type `ty` that always holds an empty value.
    fn empty(&mut self, ty: &CType) -> u16 {
        if let Some(&r) = self.empty.get(ty) {
            return r;
        }
        // A new register: a reused one may hold a stale value.
        let r = self.regs.push(ty);
        self.empty.insert(ty.clone(), r);
        r
    }

    /// The scratch register of type `ty`.
    fn scratch(&mut self, ty: &CType) -> u16 {
        if let Some(&r) = self.scratch.get(ty) {
            return r;
        }
        let r = self.temp(ty);
        self.scratch.insert(ty.clone(), r);
        r
    }

    /// The register `dest` names, or a new temporary of type `ty`.
    fn target(&mut self, dest: Dest, ty: &CType) -> Opnd {
        match dest {
            Dest::Any => Opnd::temp(self.temp(ty)),
            Dest::Into(r) | Dest::Var(r, _) => Opnd::borrowed(r),
        }
    }

    /// Frees an operand's temporary before the instruction that reads it is
    /// emitted (so that the result may reuse it), unless it must be cleared.
    fn release_early(&mut self, op: Opnd) {
        if op.owned && !op.clear {
            self.regs.free(op.reg);
        }
    }

    /// Clears and frees an operand that [`Gen::release_early`] kept.
    fn release_late(&mut self, op: Opnd) {
        if op.owned && op.clear {
            let ty = self.regs.ty(op.reg).clone();
            let empty = self.empty(&ty);
            self.emit(Instr::MoveRef {
                d: op.reg,
                a: empty,
            });
            self.regs.free(op.reg);
        }
    }

    /// Frees an operand once its reader is emitted.
    fn release(&mut self, op: Opnd) {
        self.release_early(op);
        self.release_late(op);
    }

    /// Emits the instruction `make(result)` reading `ops`, with the result
    /// in `dest` (or a new temporary of type `ty`).
    fn finish(
        &mut self,
        dest: Dest,
        ty: &CType,
        ops: &[Opnd],
        make: impl FnOnce(u16) -> Instr,
    ) -> Opnd {
        for &op in ops {
            self.release_early(op);
        }
        let out = self.target(dest, ty);
        self.emit(make(out.reg));
        for &op in ops {
            self.release_late(op);
        }
        out
    }

    /// Copies register `a` into `d` (nothing if they are the same).
    fn mov(&mut self, d: u16, a: u16) {
        if d != a {
            if self.regs.ty(a).is_ref() {
                self.emit(Instr::MoveRef { d, a });
            } else {
                self.emit(Instr::Move { d, a });
            }
        }
    }

    // ---- literals ----

    /// Loads a literal into register `d`.
    fn load(&mut self, lit: &Lit, d: u16) {
        let span = self.span;
        match *lit {
            Lit::Int(v) if analysis::fits_imm(v) => self.emit(Instr::LoadInt {
                d,
                imm: v as i16 as u16,
            }),
            Lit::Int(v) => {
                let k = self.m.constant(Const::Int(v), span);
                self.emit(Instr::LoadConst { d, k });
            }
            Lit::Bool(b) => self.emit(Instr::LoadBool {
                d,
                imm: u16::from(b),
            }),
            Lit::Str(ref s) => {
                let k = self.m.constant(Const::Str(s.clone()), span);
                self.emit(Instr::LoadStr { d, k });
            }
        }
    }

    /// Loads the literals a loop reads on every iteration into registers
    /// (before the loop); returns them for [`Gen::unhoist`].
    fn hoist(&mut self, cond: Option<&crate::ast::Expr>, body: &crate::ast::Block) -> Vec<Lit> {
        let mut added = Vec::new();
        for lit in analysis::loop_literals(self.program, cond, body) {
            if added.len() >= MAX_HOISTED_PER_LOOP || self.hoisted.len() >= MAX_HOISTED {
                break;
            }
            if self.hoisted.contains_key(&lit) {
                continue;
            }
            let ty = match lit {
                Lit::Int(_) => CType::Int,
                Lit::Bool(_) => CType::Bool,
                Lit::Str(_) => CType::Str,
            };
            let r = self.temp(&ty);
            self.load(&lit, r);
            self.hoisted.insert(lit.clone(), r);
            added.push(lit);
        }
        added
    }

    /// Ends the hoisting of [`Gen::hoist`].
    fn unhoist(&mut self, added: Vec<Lit>) {
        for lit in added {
            if let Some(r) = self.hoisted.remove(&lit) {
                self.regs.free(r);
            }
        }
    }
}

/// `instr` (a jump) with its target set to `pos`.
fn with_target(instr: Instr, pos: usize) -> Instr {
    // Positions past 16 bits only occur in functions reported as too large.
    let t = u16::try_from(pos).unwrap_or(u16::MAX);
    match instr {
        Instr::Jump { .. } => Instr::Jump { t },
        Instr::JumpIf { c, .. } => Instr::JumpIf { c, t },
        Instr::JumpIfNot { c, .. } => Instr::JumpIfNot { c, t },
        Instr::JumpLt { a, b, .. } => Instr::JumpLt { a, b, t },
        Instr::JumpLe { a, b, .. } => Instr::JumpLe { a, b, t },
        Instr::JumpGt { a, b, .. } => Instr::JumpGt { a, b, t },
        Instr::JumpGe { a, b, .. } => Instr::JumpGe { a, b, t },
        Instr::ForNext { i, end, .. } => Instr::ForNext { i, end, t },
        other => other,
    }
}
