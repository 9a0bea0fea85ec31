//! Module -> bytes.

use super::{const_tag, section, type_tag, CHECKSUM_LEN, FORMAT_VERSION, MAGIC};
use crate::module::{Const, Module};
use crate::types::{Signature, Type};
use crate::varint::{put as varint, zigzag};

/// Encodes a module into the `.cbc` format.
///
/// Encoding is total: any module encodes, and the bytes are canonical
/// (the same module always gives the same bytes). Whether the result
/// decodes depends on the module respecting the format's size limits.
pub fn encode(module: &Module) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());

    let mut body = Vec::new();
    varint(&mut body, module.consts.len() as u64);
    for c in &module.consts {
        match c {
            Const::Int(v) => {
                body.push(const_tag::INT);
                varint(&mut body, zigzag(*v));
            }
            Const::Str(s) => {
                body.push(const_tag::STR);
                string(&mut body, s);
            }
        }
    }
    emit_section(&mut out, section::CONSTS, &mut body);

    varint(&mut body, module.imports.len() as u64);
    for imp in &module.imports {
        string(&mut body, &imp.name);
        varint(&mut body, u64::from(imp.version.major));
        varint(&mut body, u64::from(imp.version.minor));
        signature(&mut body, &imp.sig);
    }
    emit_section(&mut out, section::IMPORTS, &mut body);

    varint(&mut body, module.funcs.len() as u64);
    for f in &module.funcs {
        string(&mut body, &f.name);
        varint(&mut body, u64::from(f.params));
        varint(&mut body, f.regs.len() as u64);
        for t in &f.regs {
            ty(&mut body, t);
        }
        ret(&mut body, f.ret.as_ref());
        varint(&mut body, f.code.len() as u64);
        for instr in &f.code {
            body.push(instr.opcode() as u8);
            for op in instr.operands().as_slice() {
                body.extend_from_slice(&op.to_le_bytes());
            }
        }
        for i in 0..f.code.len() {
            varint(&mut body, u64::from(f.lines.get(i).copied().unwrap_or(0)));
        }
    }
    emit_section(&mut out, section::FUNCS, &mut body);

    varint(&mut body, u64::from(module.entry));
    emit_section(&mut out, section::ENTRY, &mut body);

    let sum = blake3::hash(&out);
    out.extend_from_slice(&sum.as_bytes()[..CHECKSUM_LEN]);
    out
}

fn emit_section(out: &mut Vec<u8>, tag: u8, body: &mut Vec<u8>) {
    out.push(tag);
    varint(out, body.len() as u64);
    out.append(body);
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn ty(out: &mut Vec<u8>, t: &Type) {
    match t {
        Type::Int => out.push(type_tag::INT),
        Type::Bool => out.push(type_tag::BOOL),
        Type::Str => out.push(type_tag::STR),
        Type::Array(e) => {
            out.push(type_tag::ARRAY);
            ty(out, e);
        }
    }
}

fn ret(out: &mut Vec<u8>, t: Option<&Type>) {
    match t {
        None => out.push(type_tag::UNIT),
        Some(t) => ty(out, t),
    }
}

fn signature(out: &mut Vec<u8>, sig: &Signature) {
    varint(out, sig.params.len() as u64);
    for p in &sig.params {
        ty(out, p);
    }
    ret(out, sig.ret.as_ref());
}
