//! What the `wasmrun` binary (this package) and `wasmc run`/`wasmc inspect`
//! (`wasmc-cli`) share: parsing command-line arguments by parameter type,
//! printing values, choosing the export to run, and describing an artifact.
//!
//! Command-line glue, kept out of the loader library that servers link; it
//! uses only the loader's public API, and no compiler.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use wasmc_artifact::ArtifactInfo;
use wasmc_loader::{Config, Error, ExternKind, ImportType, Instance, Linker, Module, Store, Val, ValType};

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
    let is_func = |name: &str| module.export(name).is_some_and(|e| e.kind == ExternKind::Func);
    let name = match invoke {
        Some(name) => name,
        None if is_func("_start") => "_start",
        None => {
            let funcs: Vec<&str> = module.exports().filter(|e| e.kind == ExternKind::Func).map(|e| e.name).collect();
            return Err(RunError::Usage(format!(
                "no _start export; choose a function with --invoke (exported functions: {})",
                if funcs.is_empty() { "none".to_string() } else { funcs.join(", ") }
            )));
        }
    };
    if !is_func(name) {
        return Err(RunError::Usage(format!("no exported function named {name:?}")));
    }
    let instance = Instance::new(&mut *store, module, linker)?;
    let func = instance
        .get_func(&*store, name)
        .ok_or_else(|| RunError::Usage(format!("no exported function named {name:?}")))?;
    let ty = func.ty(&*store);
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

/// What a run command line grants a WASI program besides its arguments.
#[derive(Clone, Debug, Default)]
pub struct WasiOptions {
    /// Preopened directories: host path, guest name (`--dir HOST::GUEST`).
    pub dirs: Vec<(PathBuf, String)>,
    /// Environment variables (`--env NAME=VALUE`).
    pub env: Vec<(String, String)>,
}

impl WasiOptions {
    /// Adds a `--dir` value: `HOST::GUEST`, or `DIR` (the same name in both).
    pub fn add_dir(&mut self, spec: &str) -> Result<(), String> {
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() || guest.is_empty() {
            return Err(format!("--dir {spec:?}: expected HOST::GUEST or DIR"));
        }
        self.dirs.push((PathBuf::from(host), guest.to_string()));
        Ok(())
    }

    /// Adds an `--env` value: `NAME=VALUE`.
    pub fn add_env(&mut self, spec: &str) -> Result<(), String> {
        match spec.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                self.env.push((name.to_string(), value.to_string()));
                Ok(())
            }
            _ => Err(format!("--env {spec:?}: expected NAME=VALUE")),
        }
    }
}

/// How a program run ended without error.
#[derive(Debug)]
pub enum Outcome {
    /// The export returned these results (none for `_start`).
    Returned(Vec<Val>),
    /// The program called WASI `proc_exit` with this code.
    Exited(i32),
}

impl Outcome {
    /// The process exit status for this outcome: the program's exit code
    /// (modulo 256), or 0 when it returned.
    pub fn exit_status(&self) -> u8 {
        match self {
            Outcome::Returned(_) => 0,
            Outcome::Exited(code) => *code as u8,
        }
    }
}

/// Runs a program as `wasmc run` and `wasmrun` do, with WASI available:
/// without `invoke`, `_start` runs and `args` are the program's arguments
/// (after `program`, its `argv[0]`), with inherited stdio, `wasi`'s
/// environment and preopens; with `invoke`, `args` are that export's
/// parameters. A module that imports nothing from WASI is unaffected.
pub fn run_program(
    store: &mut Store,
    module: &Module,
    program: &str,
    invoke: Option<&str>,
    args: &[String],
    wasi: &WasiOptions,
) -> Result<Outcome, RunError> {
    let start_without_params = invoke.is_none()
        && module
            .export("_start")
            .filter(|e| e.kind == ExternKind::Func)
            .and_then(|e| module.func_type_of(e.index))
            .is_some_and(|t| t.params.is_empty());
    let (argv, typed): (Vec<&str>, &[String]) = if start_without_params {
        (std::iter::once(program).chain(args.iter().map(String::as_str)).collect(), &[])
    } else {
        (vec![program], args)
    };
    let mut builder = wasmc_loader::wasi::WasiCtx::builder().args(argv).inherit_stdio();
    for (name, value) in &wasi.env {
        builder = builder.env(name, value);
    }
    for (host, guest) in &wasi.dirs {
        builder = builder.preopen_dir(host, guest).map_err(|e| RunError::Usage(e.to_string()))?;
    }
    let ctx = builder.build().map_err(|e| RunError::Usage(e.to_string()))?;
    store.set_wasi(ctx);
    let mut linker = Linker::new();
    wasmc_loader::wasi::add_to_linker(&mut linker);
    match run_module(store, module, &linker, invoke, typed) {
        Ok(results) => Ok(Outcome::Returned(results)),
        Err(RunError::Wasm(Error::Exit(code))) => Ok(Outcome::Exited(code)),
        Err(e) => Err(e),
    }
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
        if self.fuel.is_some() && !module.fuel_metering() {
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
    let code_end = meta.lists.funcs.iter().map(|f| f.code_offset + f.code_len).max().unwrap_or(0);
    let _ = writeln!(
        s,
        "code:           {code_end} bytes in {} functions, then trampolines ({} byte text section)",
        meta.lists.funcs.len(),
        info.text_size
    );
    let _ = writeln!(s, "data:           {} bytes in {} segments", info.data_size, meta.data.len());
    let image = match &meta.memory_image {
        Some(runs) => {
            let bytes: u64 = runs.iter().map(|r| r.len).sum();
            format!("{bytes} bytes in {} runs (mapped copy-on-write into new memories)", runs.len())
        }
        None => "none (data segments are copied at instantiation)".to_string(),
    };
    let _ = writeln!(s, "memory image:   {image}");
    let _ = writeln!(s, "trap sites:     {}", meta.lists.traps.len());
    match info.signed_by {
        Some(id) => {
            let _ = writeln!(s, "signed by:      key {id} (not verified; loading with --trust does)");
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
    let _ = writeln!(s, "exports:        {}", meta.lists.exports.len());
    for e in &meta.lists.exports {
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
