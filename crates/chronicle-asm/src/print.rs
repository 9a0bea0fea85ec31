//! Module -> text.
//!
//! Printing is total: every module prints, including one that would not
//! verify (operands out of range, a parameter count beyond the frame, an
//! entry that does not exist). Operands are written from the instruction
//! table, like the parser reads them.
//!
//! **Invariant:** `parse(print(m)) == m` for every module within the
//! format's limits whose line table has one entry per instruction; in every
//! case `encode(parse(print(m))) == encode(m)`.

use crate::syntax::{
    is_plain_name, write_name, write_quoted, write_quoted_prefix, DIR_LINE, DIR_PARAMS, DIR_REGS,
};
use chronicle_core::isa::{Instr, OperandKind};
use chronicle_core::module::{Const, Function, Module};
use chronicle_core::types::{Signature, Type};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Registers per `.regs` line.
const REGS_PER_LINE: usize = 8;

/// Characters of a constant shown in an informative comment.
const COMMENT_CHARS: usize = 32;

pub(crate) fn print(module: &Module) -> String {
    let mut out = String::new();
    let names = FuncNames::new(module);

    for (i, c) in module.consts.iter().enumerate() {
        let _ = write!(out, "const k{i} = ");
        match c {
            Const::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Const::Str(s) => write_quoted(&mut out, s),
        }
        out.push('\n');
    }
    if !module.consts.is_empty() {
        out.push('\n');
    }

    for (i, imp) in module.imports.iter().enumerate() {
        let _ = write!(out, "import c{i} ");
        write_name(&mut out, &imp.name);
        let _ = write!(out, "@{}", imp.version);
        signature(&mut out, &imp.sig);
        out.push('\n');
    }
    if !module.imports.is_empty() {
        out.push('\n');
    }

    out.push_str("entry ");
    names.write_ref(&mut out, module.entry);
    out.push('\n');

    for (i, f) in module.funcs.iter().enumerate() {
        out.push('\n');
        function(&mut out, module, &names, i, f);
    }
    out
}

/// How each function is referred to: by name when the name is plain, unique
/// and cannot be read as an index; otherwise as `fN`.
struct FuncNames<'m> {
    funcs: &'m [Function],
    counts: HashMap<&'m str, usize>,
}

impl<'m> FuncNames<'m> {
    fn new(module: &'m Module) -> Self {
        let mut counts = HashMap::new();
        for f in &module.funcs {
            *counts.entry(f.name.as_str()).or_insert(0) += 1;
        }
        FuncNames {
            funcs: &module.funcs,
            counts,
        }
    }

    /// The function's name, if it is how the function is referred to.
    fn by_name(&self, i: u16) -> Option<&'m str> {
        let name = self.funcs.get(usize::from(i))?.name.as_str();
        let usable = is_plain_name(name)
            && self.counts.get(name) == Some(&1)
            && crate::syntax::index_digits(name, 'f').is_none();
        usable.then_some(name)
    }

    fn write_ref(&self, out: &mut String, i: u16) {
        match self.by_name(i) {
            Some(name) => out.push_str(name),
            None => {
                let _ = write!(out, "f{i}");
            }
        }
    }
}

fn signature(out: &mut String, sig: &Signature) {
    out.push('(');
    for (i, t) in sig.params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        ty(out, t);
    }
    out.push(')');
    ret(out, sig.ret.as_ref());
}

fn ret(out: &mut String, t: Option<&Type>) {
    if let Some(t) = t {
        out.push_str(" -> ");
        ty(out, t);
    }
}

/// Writes a type without recursion (types may be nested deeply).
fn ty(out: &mut String, t: &Type) {
    let mut depth = 0;
    let mut base = t;
    while let Type::Array(e) = base {
        depth += 1;
        base = e;
    }
    for _ in 0..depth {
        out.push('[');
    }
    let _ = write!(out, "{base}");
    for _ in 0..depth {
        out.push(']');
    }
}

fn function(out: &mut String, module: &Module, names: &FuncNames<'_>, index: usize, f: &Function) {
    // The header lists the parameters; a count beyond the frame (ill-formed)
    // is kept exact with `.params`.
    let header_params = usize::from(f.params).min(f.regs.len());
    out.push_str("func ");
    write_name(out, &f.name);
    out.push('(');
    for (r, t) in f.regs[..header_params].iter().enumerate() {
        if r > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "r{r}: ");
        ty(out, t);
    }
    out.push(')');
    ret(out, f.ret.as_ref());
    let _ = writeln!(out, "    ; f{index}");
    if usize::from(f.params) > f.regs.len() {
        let _ = writeln!(out, "    .{DIR_PARAMS} {}", f.params);
    }
    let locals: Vec<(usize, &Type)> = f.regs.iter().enumerate().skip(header_params).collect();
    for chunk in locals.chunks(REGS_PER_LINE) {
        let _ = write!(out, "    .{DIR_REGS} ");
        for (j, (r, t)) in chunk.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "r{r}: ");
            ty(out, t);
        }
        out.push('\n');
    }

    let len = f.code.len();
    let mut targeted = vec![false; len];
    for instr in &f.code {
        for (spec, &v) in instr
            .opcode()
            .operands()
            .iter()
            .zip(instr.operands().as_slice())
        {
            if spec.kind == OperandKind::Target && usize::from(v) < len {
                targeted[usize::from(v)] = true;
            }
        }
    }
    let mut line = 0;
    for (pc, instr) in f.code.iter().enumerate() {
        if targeted[pc] {
            let _ = writeln!(out, "L{pc}:");
        }
        if f.line(pc) != line {
            line = f.line(pc);
            let _ = writeln!(out, "    .{DIR_LINE} {line}");
        }
        out.push_str("    ");
        instruction(out, module, names, len, instr);
        out.push('\n');
    }
    out.push_str("end\n");
}

fn instruction(
    out: &mut String,
    module: &Module,
    names: &FuncNames<'_>,
    len: usize,
    instr: &Instr,
) {
    let op = instr.opcode();
    out.push_str(op.mnemonic());
    let mut note = String::new();
    for (i, (spec, &v)) in op
        .operands()
        .iter()
        .zip(instr.operands().as_slice())
        .enumerate()
    {
        out.push_str(if i == 0 { " " } else { ", " });
        match spec.kind {
            OperandKind::Reg(..) | OperandKind::Regs => {
                let _ = write!(out, "r{v}");
            }
            OperandKind::Const => {
                let _ = write!(out, "k{v}");
                match module.consts.get(usize::from(v)) {
                    Some(Const::Int(n)) => {
                        let _ = write!(note, "{n}");
                    }
                    Some(Const::Str(s)) => write_quoted_prefix(&mut note, s, COMMENT_CHARS),
                    None => {}
                }
            }
            OperandKind::Func => {
                names.write_ref(out, v);
                if names.by_name(v).is_none() {
                    if let Some(f) = module.funcs.get(usize::from(v)) {
                        write_quoted_prefix(&mut note, &f.name, COMMENT_CHARS);
                    }
                }
            }
            OperandKind::Import => {
                let _ = write!(out, "c{v}");
                if let Some(imp) = module.imports.get(usize::from(v)) {
                    if is_plain_name(&imp.name) {
                        note.push_str(&imp.name);
                    } else {
                        write_quoted_prefix(&mut note, &imp.name, COMMENT_CHARS);
                    }
                    let _ = write!(note, "@{}", imp.version);
                }
            }
            OperandKind::Target if usize::from(v) < len => {
                let _ = write!(out, "L{v}");
            }
            OperandKind::Target => {
                let _ = write!(out, "@{v}");
            }
            OperandKind::Imm => {
                let _ = write!(out, "{}", v as i16);
            }
            OperandKind::Count => {
                let _ = write!(out, "{v}");
            }
        }
    }
    if !note.is_empty() {
        out.push_str("    ; ");
        out.push_str(&note);
    }
}
