//! What `wasmrun` and `wasmc run`/`wasmc inspect` share: parsing command-line
//! arguments by parameter type, printing values, choosing the export to
//! run, and describing an artifact.

use std::fmt::Write as _;

use crate::{ArtifactInfo, Error, ExternKind, ImportType, Linker, Module, Store, Val, ValType};

/// Why [`run_module`] did not produce results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command line does not fit the module: no such export, wrong
    /// number of arguments, an argument that does not parse.
    #[error("{0}")]
    Usage(String),
    /// Instantiating or calling failed, a trap included.
    #[error(transparent)]
    Wasm(#[from] Error),
}

/// Parses one command-line argument as a value of type `ty`.
///
/// Integers are decimal or `0x` hexadecimal (negative values allowed);
/// floats are decimal, `inf`, `-inf` or `nan`; `v128` is a 128-bit integer;
/// references can only be `null`.
pub fn parse_val(ty: ValType, text: &str) -> Result<Val, String> {
    let bad = || format!("cannot parse {text:?} as {ty}");
    let int = |text: &str| -> Option<i128> {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let value = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
            Some(hex) => i128::from_str_radix(hex, 16).ok()?,
            None => digits.parse::<i128>().ok()?,
        };
        Some(if neg { -value } else { value })
    };
    Ok(match ty {
        // Accept the signed and the unsigned reading of the same bits.
        ValType::I32 => {
            let v = int(text).filter(|v| (i128::from(i32::MIN)..=i128::from(u32::MAX)).contains(v)).ok_or_else(bad)?;
            Val::I32(v as u32 as i32)
        }
        ValType::I64 => {
            let v = int(text).filter(|v| (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(v)).ok_or_else(bad)?;
            Val::I64(v as u64 as i64)
        }
        ValType::F32 => Val::F32(text.parse::<f32>().map_err(|_| bad())?.to_bits()),
        ValType::F64 => Val::F64(text.parse::<f64>().map_err(|_| bad())?.to_bits()),
        ValType::V128 => {
            let v = int(text).filter(|v| *v >= 0).ok_or_else(bad)?;
            Val::V128(v as u128)
        }
        ValType::FuncRef | ValType::ExternRef => match text {
            "null" => Val::null(ty).ok_or_else(bad)?,
            _ => return Err(bad()),
        },
    })
}

/// Formats a value for printing, one per line.
pub fn format_val(value: &Val) -> String {
    match value {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(v) => format!("{v:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "funcref".to_string(),
        Val::ExternRef(Some(v)) => format!("externref {v}"),
    }
}

/// Instantiates `module` and calls `invoke`, or `_start` when `invoke` is
/// `None`, with `args` parsed by the export's parameter types.
pub fn run_module(
    store: &mut Store,
    module: &Module,
    linker: &Linker,
    invoke: Option<&str>,
    args: &[String],
) -> Result<Vec<Val>, RunError> {
    let is_func = |name: &str| module.exports().iter().any(|e| e.name == name && e.kind == ExternKind::Func);
    let name = match invoke {
        Some(name) => name,
        None if is_func("_start") => "_start",
        None => {
            let funcs: Vec<&str> =
                module.exports().iter().filter(|e| e.kind == ExternKind::Func).map(|e| e.name.as_str()).collect();
            return Err(RunError::Usage(format!(
                "no _start export; choose a function with --invoke (exported functions: {})",
                if funcs.is_empty() { "none".to_string() } else { funcs.join(", ") }
            )));
        }
    };
    if !is_func(name) {
        return Err(RunError::Usage(format!("no exported function named {name:?}")));
    }
    let instance = crate::Instance::new(store, module, linker)?;
    let func = instance
        .get_func(store, name)
        .ok_or_else(|| RunError::Usage(format!("no exported function named {name:?}")))?;
    let ty = func.ty(store);
    if args.len() != ty.params.len() {
        return Err(RunError::Usage(format!(
            "{name} has type {ty}: expected {} arguments, got {}",
            ty.params.len(),
            args.len()
        )));
    }
    let values = ty
        .params
        .iter()
        .zip(args)
        .map(|(t, a)| parse_val(*t, a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RunError::Usage)?;
    Ok(func.call(store, &values)?)
}

/// A human-readable description of an artifact, for `wasmc inspect`.
pub fn describe(info: &ArtifactInfo) -> String {
    let meta = &info.meta;
    let mut s = String::new();
    let features = if meta.cpu_features.is_empty() { "none".to_string() } else { meta.cpu_features.join(", ") };
    let _ = writeln!(s, "format version: {}", wasmc_abi::artifact::FORMAT_VERSION);
    let _ = writeln!(s, "compiled by:    wasmc {}", meta.compiler_version);
    let _ = writeln!(s, "target:         {} (preset {})", meta.triple, meta.preset);
    let _ = writeln!(s, "cpu features:   {features}");
    let _ = writeln!(s, "bounds checks:  {}", meta.bounds_checks.name());
    let _ = writeln!(s, "optimisation:   {}", meta.opt_level);
    let _ = writeln!(s, "code:           {} bytes in {} functions", info.text_size, meta.funcs.len());
    let _ = writeln!(s, "data:           {} bytes in {} segments", info.data_size, meta.data.len());
    let _ = writeln!(s, "trap sites:     {}", meta.traps.len());
    match info.signed_by {
        Some(id) => {
            let _ = writeln!(s, "signed by:      key {} (not verified; loading with --trust does)", crate::KeyId(id));
        }
        None => {
            let _ = writeln!(s, "signed by:      nobody (unsigned)");
        }
    }
    for m in &meta.memories {
        let max = m.max_pages.map_or("none".to_string(), |p| p.to_string());
        let _ = writeln!(s, "memory:         {} pages, max {max}", m.min_pages);
    }
    for t in &meta.tables {
        let max = t.max.map_or("none".to_string(), |p| p.to_string());
        let _ = writeln!(s, "table:          {} x {}, max {max}", t.min, t.element);
    }
    let _ = writeln!(s, "imports:        {}", meta.imports.len());
    for i in &meta.imports {
        let ty = match &i.ty {
            ImportType::Func(t) => format!("func {}", meta.types[*t as usize]),
            ImportType::Table(t) => format!("table {} x {}", t.min, t.element),
            ImportType::Memory(m) => format!("memory {} pages", m.min_pages),
            ImportType::Global(g) => format!("global {}{}", if g.mutable { "mut " } else { "" }, g.ty),
        };
        let _ = writeln!(s, "  {}::{}: {ty}", i.module, i.name);
    }
    let _ = writeln!(s, "exports:        {}", meta.exports.len());
    for e in &meta.exports {
        let ty = match e.kind {
            ExternKind::Func => match meta.func_type_index(e.index) {
                Some(t) => format!("func {}", meta.types[t as usize]),
                None => "func".to_string(),
            },
            kind => kind.name().to_string(),
        };
        let _ = writeln!(s, "  {}: {ty}", e.name);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers_in_both_readings() {
        assert!(matches!(parse_val(ValType::I32, "-1"), Ok(Val::I32(-1))));
        assert!(matches!(parse_val(ValType::I32, "4294967295"), Ok(Val::I32(-1))));
        assert!(matches!(parse_val(ValType::I32, "0x10"), Ok(Val::I32(16))));
        assert!(parse_val(ValType::I32, "4294967296").is_err());
        assert!(matches!(parse_val(ValType::I64, "-0x8000000000000000"), Ok(Val::I64(i64::MIN))));
        assert!(parse_val(ValType::I64, "twelve").is_err());
    }

    #[test]
    fn parses_and_prints_floats() {
        let Ok(v) = parse_val(ValType::F64, "2.5") else { panic!("2.5 should parse") };
        assert_eq!(format_val(&v), "2.5");
        let Ok(v) = parse_val(ValType::F32, "inf") else { panic!("inf should parse") };
        assert_eq!(format_val(&v), "inf");
        assert!(parse_val(ValType::F32, "1.0.0").is_err());
    }
}
