//! What `wasmrun` and `wasmc run`/`wasmc inspect` share: parsing command-line
//! arguments by parameter type, printing values, choosing the export to
//! run, and describing an artifact.

use std::fmt::Write as _;
use std::time::Duration;

use crate::{ArtifactInfo, Config, Error, ExternKind, ImportType, Linker, Module, Store, Val, ValType};

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

/// Parses a duration: a number followed by `s`, `ms`, `us` or `ns`
/// (`2s`, `100ms`, `500us`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("cannot parse {text:?} as a duration (examples: 2s, 100ms, 500us)");
    let (digits, unit) = split_unit(text);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match unit {
        "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "us" => Ok(Duration::from_micros(n)),
        "ns" => Ok(Duration::from_nanos(n)),
        _ => Err(bad()),
    }
}

/// Parses a byte count: plain bytes, or a number followed by `KiB`, `MiB`
/// or `GiB` (`64MiB`, `512KiB`, `65536`).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let bad = || format!("cannot parse {text:?} as a size (examples: 64MiB, 512KiB, 65536)");
    let (digits, unit) = split_unit(text);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(|| format!("{text:?} is too large"))
}

fn split_unit(text: &str) -> (&str, &str) {
    let end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    text.split_at(end)
}

/// The limits `--timeout`, `--fuel` and `--max-memory` ask for.
#[derive(Clone, Debug, Default)]
pub struct RunLimits {
    /// Deadline of the call (and of instantiation, start function included).
    pub timeout: Option<Duration>,
    /// Fuel budget; the module must be compiled with fuel metering.
    pub fuel: Option<u64>,
    /// Largest size of any linear memory, in bytes.
    pub max_memory: Option<u64>,
}

impl RunLimits {
    /// A store for running `module` under these limits.
    ///
    /// # Errors
    /// [`RunError::Usage`] when fuel is asked for but `module` was compiled
    /// without fuel metering.
    pub fn store_for(&self, module: &Module) -> Result<Store, RunError> {
        if self.fuel.is_some() && !module.meta().fuel_metering {
            return Err(RunError::Usage(
                "--fuel needs an artifact compiled with fuel metering (wasmc compile --fuel-metering)".into(),
            ));
        }
        let mut store = Store::new(Config { max_memory_bytes: self.max_memory, ..Config::default() });
        store.set_call_timeout(self.timeout);
        if let Some(fuel) = self.fuel {
            store.set_fuel(fuel);
        }
        Ok(store)
    }
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
    let _ = writeln!(s, "fuel metering:  {}", if meta.fuel_metering { "yes" } else { "no" });
    let _ = writeln!(s, "code:           {} bytes in {} functions", info.text_size, meta.funcs.len());
    let _ = writeln!(s, "data:           {} bytes in {} segments", info.data_size, meta.data.len());
    let _ = writeln!(s, "trap sites:     {}", meta.traps.len());
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
    fn parses_durations_and_sizes() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert!(parse_duration("100").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("ms").is_err());
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert!(parse_bytes("64MB").is_err());
        assert!(parse_bytes("99999999999999GiB").is_err());
        assert!(parse_bytes("").is_err());
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
