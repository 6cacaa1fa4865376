//! Laying out the text section and resolving calls between functions.
//!
//! Functions come first, in index order, then trampolines; each starts on a
//! [`FUNC_ALIGN`] boundary. Direct calls between wasm functions are
//! PC-relative and patched here, so the artifact needs no relocation at load
//! time. Any other relocation is an error.

use std::collections::HashSet;

use cranelift_codegen::binemit::Reloc;
use wasmc_abi::meta::{FuncDef, ModuleMeta, TrapSite, TypeTrampolines};
use wasmc_targets::Arch;

use crate::codegen::CompiledCode;
use crate::trampolines::Trampolines;
use crate::CompileError;

/// Alignment of each function and trampoline in the text.
pub(crate) const FUNC_ALIGN: usize = 16;

/// A symbol for `objdump`: name, text offset, size.
pub(crate) struct Symbol {
    /// Symbol name, unique in the artifact.
    pub name: String,
    /// Offset in the text section.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
}

/// The linked text.
pub(crate) struct Linked {
    /// Machine code, unpadded.
    pub text: Vec<u8>,
    /// One symbol per function and trampoline.
    pub symbols: Vec<Symbol>,
}

/// The byte used between functions: a trap instruction where one byte is one
/// (`int3` on x86_64), zero elsewhere (`udf #0` on aarch64 when aligned).
pub(crate) fn padding_byte(arch: Arch) -> u8 {
    match arch {
        Arch::X86_64 => 0xcc,
        Arch::Aarch64 => 0,
    }
}

fn codegen_err(func: u32, message: impl Into<String>) -> CompileError {
    CompileError::Codegen { func, message: message.into() }
}

fn to_u32(v: usize, func: u32) -> Result<u32, CompileError> {
    u32::try_from(v).map_err(|_| codegen_err(func, "text section larger than 4 GiB"))
}

/// Appends `code` at the next aligned offset and returns that offset.
fn place(text: &mut Vec<u8>, code: &CompiledCode, pad: u8) -> Result<u32, CompileError> {
    let start = text.len().next_multiple_of(FUNC_ALIGN);
    text.resize(start, pad);
    text.extend_from_slice(&code.code);
    to_u32(start, code.func)?;
    to_u32(text.len(), code.func)?;
    Ok(start as u32)
}

/// Patches one relocation at `site` (text offset) to point at `target`.
fn patch(
    text: &mut [u8],
    arch: Arch,
    kind: Reloc,
    site: u32,
    target: u32,
    addend: i64,
    func: u32,
) -> Result<(), CompileError> {
    let delta = i64::from(target) + addend - i64::from(site);
    let at = site as usize;
    let field = text.get_mut(at..at + 4).ok_or_else(|| codegen_err(func, "relocation outside the function"))?;
    match (arch, kind) {
        (Arch::X86_64, Reloc::X86CallPCRel4 | Reloc::X86PCRel4) => {
            let v = i32::try_from(delta).map_err(|_| codegen_err(func, "call displacement out of range"))?;
            field.copy_from_slice(&v.to_le_bytes());
        }
        (Arch::Aarch64, Reloc::Arm64Call) => {
            if delta % 4 != 0 || !(-(1i64 << 27)..(1i64 << 27)).contains(&delta) {
                return Err(codegen_err(func, "call displacement out of the ±128 MiB branch range"));
            }
            let insn = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
            let imm26 = ((delta >> 2) as u32) & 0x03ff_ffff;
            field.copy_from_slice(&((insn & 0xfc00_0000) | imm26).to_le_bytes());
        }
        _ => return Err(codegen_err(func, format!("unsupported relocation {kind:?} on {arch}"))),
    }
    Ok(())
}

/// Unique symbol names: the name-section name or `wasm_func_N`.
fn func_symbol_names(meta: &ModuleMeta, imported: u32, count: usize) -> Vec<String> {
    let mut used = HashSet::new();
    let mut names = Vec::with_capacity(count);
    let mut named = meta.lists.func_names.iter().peekable();
    for i in 0..count {
        let index = imported + i as u32;
        while named.peek().is_some_and(|(f, _)| *f < index) {
            named.next();
        }
        let base = match named.peek() {
            Some((f, n)) if *f == index && !n.is_empty() => n.clone(),
            _ => format!("wasm_func_{index}"),
        };
        let mut name = base.clone();
        let mut k = 0u32;
        while !used.insert(name.clone()) {
            name = if k == 0 { format!("{base}.{index}") } else { format!("{base}.{index}.{k}") };
            k += 1;
        }
        names.push(name);
    }
    names
}

/// Lays out `funcs` (defined functions in index order) and the trampolines,
/// resolves calls, and fills in the code offsets, trampolines and trap table
/// of `meta`.
pub(crate) fn link(
    meta: &mut ModuleMeta,
    arch: Arch,
    imported_funcs: u32,
    funcs: Vec<CompiledCode>,
    tramps: Trampolines,
) -> Result<Linked, CompileError> {
    let pad = padding_byte(arch);
    let mut text = Vec::new();
    let mut symbols = Vec::new();
    let mut traps = Vec::new();
    let names = func_symbol_names(meta, imported_funcs, funcs.len());

    let mut func_offsets = Vec::with_capacity(funcs.len());
    for (f, name) in funcs.iter().zip(names) {
        let offset = place(&mut text, f, pad)?;
        func_offsets.push(offset);
        symbols.push(Symbol { name, offset: u64::from(offset), size: f.code.len() as u64 });
    }
    for (f, &offset) in funcs.iter().zip(&func_offsets) {
        for r in &f.relocs {
            let callee =
                r.callee.checked_sub(imported_funcs).and_then(|d| func_offsets.get(d as usize)).ok_or_else(|| {
                    codegen_err(f.func, format!("direct call to function {} which is not defined here", r.callee))
                })?;
            patch(&mut text, arch, r.kind, offset + r.offset, *callee, r.addend, f.func)?;
        }
        for t in &f.traps {
            traps.push(TrapSite { code_offset: offset + t.offset, kind: t.kind, wasm_offset: t.wasm_offset });
        }
    }

    let mut tramp_offsets = Vec::with_capacity(tramps.code.len());
    for (t, name) in tramps.code.iter().zip(&tramps.names) {
        let offset = place(&mut text, t, pad)?;
        tramp_offsets.push(offset);
        symbols.push(Symbol { name: name.clone(), offset: u64::from(offset), size: t.code.len() as u64 });
        for trap in &t.traps {
            traps.push(TrapSite { code_offset: offset + trap.offset, kind: trap.kind, wasm_offset: trap.wasm_offset });
        }
    }

    if meta.lists.funcs.len() != funcs.len() {
        return Err(codegen_err(u32::MAX, "function count does not match the bodies"));
    }
    for ((def, f), offset) in meta.lists.funcs.iter_mut().zip(&funcs).zip(&func_offsets) {
        *def = FuncDef { code_offset: *offset, code_len: to_u32(f.code.len(), f.func)?, ..*def };
    }
    meta.trampolines = tramps
        .entry
        .iter()
        .zip(&tramps.host)
        .map(|(&e, h)| TypeTrampolines { entry: tramp_offsets[e], host: h.map(|h| tramp_offsets[h]) })
        .collect();
    traps.sort_by_key(|t| t.code_offset);
    meta.lists.traps = traps;
    Ok(Linked { text, symbols })
}
