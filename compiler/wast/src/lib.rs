//! Runs WebAssembly spec-test scripts (`.wast`) through the real path:
//! every module is compiled to artifact bytes, loaded by the loader from
//! those bytes, instantiated and called, exactly as a server would.
//!
//! Test support, apart from both libraries: `wasmc wast` (`wasmc-cli`) and
//! the spec-testsuite test (`tests/spec.rs`) use it.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use wasmc::{compile, CompileOptions};
use wasmc_loader::{
    Config, Error, Global, GlobalType, Instance, Linker, Memory, MemoryType, Module, Store, Table, TableType, TrapKind,
    Val, ValType,
};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

/// The outcome of one script.
#[derive(Debug, Default)]
pub struct WastReport {
    /// Directives that behaved as the script asserts.
    pub passed: usize,
    /// Directives that did not, or could not be run.
    pub failed: usize,
    /// One line per failure: `file:line:col: what went wrong`.
    pub failures: Vec<String>,
}

impl WastReport {
    /// Adds another report's counts and failures to this one.
    pub fn absorb(&mut self, other: WastReport) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.failures.extend(other.failures);
    }
}

/// Runs the script at `path`, compiling every module with `options`.
pub fn run_file(path: &Path, options: &CompileOptions) -> WastReport {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => run_script(&name, &text, options),
        Err(e) => WastReport { passed: 0, failed: 1, failures: vec![format!("{name}: {e}")] },
    }
}

/// Runs a script given as text; `name` is used in failure messages.
pub fn run_script(name: &str, text: &str, options: &CompileOptions) -> WastReport {
    let mut report = WastReport::default();
    let unparsable = |mut e: wast::Error| {
        e.set_path(Path::new(name));
        e.set_text(text);
        WastReport { passed: 0, failed: 1, failures: vec![e.to_string()] }
    };
    // The spec's names.wast uses Unicode that the lexer flags as confusing
    // by default; the scripts are trusted test input.
    let mut lexer = Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(buf) => buf,
        Err(e) => return unparsable(e),
    };
    let script = match parser::parse::<Wast>(&buf) {
        Ok(script) => script,
        Err(e) => return unparsable(e),
    };
    let mut ctx = match Context::new(options.clone()) {
        Ok(ctx) => ctx,
        Err(e) => {
            report.failed += 1;
            report.failures.push(format!("{name}: setting up the spectest module: {e}"));
            return report;
        }
    };
    for directive in script.directives {
        let (line, col) = directive.span().linecol_in(text);
        let outcome = catch_unwind(AssertUnwindSafe(|| ctx.run(directive)))
            .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&*panic))));
        match outcome {
            Ok(()) => report.passed += 1,
            Err(msg) => {
                report.failed += 1;
                report.failures.push(format!("{name}:{}:{}: {msg}", line + 1, col + 1));
            }
        }
    }
    report
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic".to_string()
    }
}

/// The state of one script: the store, the `spectest` host module,
/// registered instances and the most recent module.
struct Context {
    options: CompileOptions,
    store: Store,
    linker: Linker,
    named: HashMap<String, Instance>,
    current: Option<Instance>,
}

type Outcome = Result<(), String>;

impl Context {
    fn new(options: CompileOptions) -> Result<Context, Error> {
        let mut store = Store::new(Config::default());
        if options.fuel_metering {
            // Scripts must behave exactly as without metering: unlimited fuel.
            store.set_fuel(u64::MAX);
        }
        let mut linker = Linker::new();
        linker
            .func_wrap("spectest", "print", || {})
            .func_wrap("spectest", "print_i32", |_: i32| {})
            .func_wrap("spectest", "print_i64", |_: i64| {})
            .func_wrap("spectest", "print_f32", |_: f32| {})
            .func_wrap("spectest", "print_f64", |_: f64| {})
            .func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {})
            .func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {});
        let globals = [
            ("global_i32", ValType::I32, Val::I32(666)),
            ("global_i64", ValType::I64, Val::I64(666)),
            ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
            ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
        ];
        for (name, ty, value) in globals {
            let global = Global::new(&mut store, GlobalType { ty, mutable: false }, value)?;
            linker.define("spectest", name, global);
        }
        let table_ty = TableType { element: ValType::FuncRef, min: 10, max: Some(20) };
        let table = Table::new(&mut store, table_ty, Val::FuncRef(None))?;
        linker.define("spectest", "table", table);
        let memory = Memory::new(&mut store, MemoryType { min_pages: 1, max_pages: Some(2) })?;
        linker.define("spectest", "memory", memory);
        Ok(Context { options, store, linker, named: HashMap::new(), current: None })
    }

    fn run(&mut self, directive: WastDirective<'_>) -> Outcome {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let bytes = module.encode().map_err(|e| format!("encoding the module: {e}"))?;
                let instance = self.instantiate(&bytes).map_err(|e| e.to_string())?;
                if let Some(name) = name {
                    self.named.insert(name, instance);
                }
                self.current = Some(instance);
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let instance = self.instance(module.map(|id| id.name()))?;
                self.linker.instance(&self.store, name, instance);
                Ok(())
            }
            WastDirective::Invoke(invoke) => self.invoke(&invoke).map(drop).map_err(|e| e.to_string()),
            WastDirective::AssertReturn { exec, results, .. } => {
                let actual = self.execute(exec).map_err(|e| format!("expected results, got: {e}"))?;
                check_results(&actual, &results)
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec) {
                Ok(values) => Err(format!("expected trap {message:?}, got {values:?}")),
                Err(e) => check_trap(&e, message),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Ok(values) => Err(format!("expected {message:?}, got {values:?}")),
                Err(e) => check_trap(&e, message),
            },
            WastDirective::AssertInvalid { module, message, .. }
            | WastDirective::AssertMalformed { module, message, .. } => self.assert_rejected(module, message),
            WastDirective::AssertUnlinkable { mut module, message, .. } => {
                let bytes = module.encode().map_err(|e| format!("encoding the module: {e}"))?;
                match self.instantiate(&bytes) {
                    Ok(_) => Err(format!("expected a link error {message:?}, but it instantiated")),
                    Err(WastError::Runtime(Error::Link(_))) => Ok(()),
                    Err(e) => Err(format!("expected a link error {message:?}, got: {e}")),
                }
            }
            other => Err(format!("unsupported directive at {:?}", other.span())),
        }
    }

    /// `assert_invalid` and `assert_malformed`: the text may fail to parse
    /// or encode, otherwise the compiler must refuse it.
    fn assert_rejected(&mut self, mut module: QuoteWat<'_>, message: &str) -> Outcome {
        let Ok(bytes) = module.encode() else {
            return Ok(());
        };
        match compile(&bytes, &self.options) {
            Err(_) => Ok(()),
            Ok(_) => Err(format!("expected the module to be rejected ({message:?}), but it compiled")),
        }
    }

    fn instance(&self, name: Option<&str>) -> Result<Instance, String> {
        match name {
            Some(name) => self.named.get(name).copied().ok_or_else(|| format!("no module named ${name}")),
            None => self.current.ok_or_else(|| "no module has been instantiated".to_string()),
        }
    }

    fn instantiate(&mut self, wasm: &[u8]) -> Result<Instance, WastError> {
        let artifact = compile(wasm, &self.options).map_err(|e| WastError::Compile(e.to_string()))?;
        // SAFETY: the artifact was compiled by this process a moment ago.
        let module = unsafe { Module::from_bytes(&artifact) }.map_err(|e| WastError::Runtime(e.into()))?;
        Instance::new(&mut self.store, &module, &self.linker).map_err(WastError::Runtime)
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Vec<Val>, WastError> {
        let instance = self.instance(invoke.module.map(|id| id.name())).map_err(WastError::Script)?;
        let args = invoke.args.iter().map(arg_value).collect::<Result<Vec<_>, _>>().map_err(WastError::Script)?;
        instance.call(&mut self.store, invoke.name, &args).map_err(WastError::Runtime)
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Vec<Val>, WastError> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Wat(mut module) => {
                let bytes = module.encode().map_err(|e| WastError::Script(format!("encoding the module: {e}")))?;
                self.instantiate(&bytes).map(|_| Vec::new())
            }
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(module.map(|id| id.name())).map_err(WastError::Script)?;
                let g = instance
                    .get_global(&self.store, global)
                    .ok_or_else(|| WastError::Script(format!("no global export {global:?}")))?;
                Ok(vec![g.get(&self.store)])
            }
        }
    }
}

/// Why a module or call did not produce a value.
#[derive(Debug)]
enum WastError {
    /// The script itself is wrong or uses something unsupported.
    Script(String),
    /// The compiler refused the module.
    Compile(String),
    /// The loader refused, failed to link, or the code trapped.
    Runtime(Error),
}

impl std::fmt::Display for WastError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WastError::Script(msg) => f.write_str(msg),
            WastError::Compile(msg) => write!(f, "compile error: {msg}"),
            WastError::Runtime(e) => write!(f, "{e}"),
        }
    }
}

/// Which trap kinds satisfy an expected spec-test trap message.
fn expected_trap_kinds(message: &str) -> Option<&'static [TrapKind]> {
    Some(match message {
        m if m.starts_with("out of bounds memory access") => &[TrapKind::MemoryOutOfBounds],
        m if m.starts_with("out of bounds table access") || m.starts_with("undefined element") => {
            &[TrapKind::TableOutOfBounds]
        }
        m if m.starts_with("uninitialized element") => &[TrapKind::IndirectCallToNull],
        m if m.starts_with("indirect call type mismatch") => &[TrapKind::BadSignature],
        m if m.starts_with("integer divide by zero") => &[TrapKind::IntegerDivisionByZero],
        m if m.starts_with("integer overflow") => &[TrapKind::IntegerOverflow],
        m if m.starts_with("invalid conversion to integer") => &[TrapKind::BadConversionToInteger],
        m if m.starts_with("unreachable") => &[TrapKind::UnreachableCodeReached],
        m if m.starts_with("call stack exhausted") => &[TrapKind::StackOverflow],
        _ => return None,
    })
}

fn check_trap(error: &WastError, message: &str) -> Outcome {
    let WastError::Runtime(Error::Trap(trap)) = error else {
        return Err(format!("expected trap {message:?}, got: {error}"));
    };
    match expected_trap_kinds(message) {
        Some(kinds) if !kinds.contains(&trap.kind) => {
            Err(format!("expected trap {message:?}, got trap {:?} ({trap})", trap.kind))
        }
        _ => Ok(()),
    }
}

fn arg_value(arg: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(arg) = arg else {
        return Err("component-model arguments are not supported".to_string());
    };
    Ok(match arg {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Func, .. }) => Val::FuncRef(None),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Extern, .. }) => Val::ExternRef(None),
        WastArgCore::RefExtern(n) => Val::ExternRef(extern_handle(*n)),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

/// Spec scripts number extern references from 0; the loader's externrefs
/// are non-zero host words, so reference `n` is handle `n + 1`.
fn extern_handle(n: u32) -> Option<NonZeroU64> {
    NonZeroU64::new(u64::from(n) + 1)
}

fn check_results(actual: &[Val], expected: &[WastRet<'_>]) -> Outcome {
    if actual.len() != expected.len() {
        return Err(format!("expected {} results, got {actual:?}", expected.len()));
    }
    for (i, (value, want)) in actual.iter().zip(expected).enumerate() {
        let WastRet::Core(want) = want else {
            return Err("component-model results are not supported".to_string());
        };
        if !matches_ret(value, want) {
            return Err(format!("result {i}: expected {want:?}, got {value:?}"));
        }
    }
    Ok(())
}

fn matches_ret(value: &Val, want: &WastRetCore<'_>) -> bool {
    match (value, want) {
        (Val::I32(a), WastRetCore::I32(b)) => a == b,
        (Val::I64(a), WastRetCore::I64(b)) => a == b,
        (Val::F32(a), WastRetCore::F32(p)) => f32_matches(*a, p),
        (Val::F64(a), WastRetCore::F64(p)) => f64_matches(*a, p),
        (Val::V128(a), WastRetCore::V128(p)) => v128_matches(*a, p),
        (Val::FuncRef(f), WastRetCore::RefNull(ty)) => {
            f.is_none() && ty.as_ref().map_or(true, |t| is_abstract(t, AbstractHeapType::Func))
        }
        (Val::ExternRef(e), WastRetCore::RefNull(ty)) => {
            e.is_none() && ty.as_ref().map_or(true, |t| is_abstract(t, AbstractHeapType::Extern))
        }
        (Val::ExternRef(e), WastRetCore::RefExtern(n)) => match n {
            Some(n) => *e == extern_handle(*n),
            None => e.is_some(),
        },
        (Val::FuncRef(f), WastRetCore::RefFunc(_)) => f.is_some(),
        _ => false,
    }
}

fn is_abstract(ty: &HeapType<'_>, want: AbstractHeapType) -> bool {
    matches!(ty, HeapType::Abstract { ty, .. } if std::mem::discriminant(ty) == std::mem::discriminant(&want))
}

fn f32_matches(bits: u32, pattern: &NanPattern<wast::token::F32>) -> bool {
    match pattern {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => bits == v.bits,
    }
}

fn f64_matches(bits: u64, pattern: &NanPattern<wast::token::F64>) -> bool {
    match pattern {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => bits == v.bits,
    }
}

fn v128_matches(value: u128, pattern: &V128Pattern) -> bool {
    let bytes = value.to_le_bytes();
    let lane = |i: usize, width: usize| {
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(&bytes[i * width..(i + 1) * width]);
        u64::from_le_bytes(b)
    };
    match pattern {
        V128Pattern::I8x16(v) => v.iter().enumerate().all(|(i, x)| lane(i, 1) == u64::from(*x as u8)),
        V128Pattern::I16x8(v) => v.iter().enumerate().all(|(i, x)| lane(i, 2) == u64::from(*x as u16)),
        V128Pattern::I32x4(v) => v.iter().enumerate().all(|(i, x)| lane(i, 4) == u64::from(*x as u32)),
        V128Pattern::I64x2(v) => v.iter().enumerate().all(|(i, x)| lane(i, 8) == *x as u64),
        V128Pattern::F32x4(v) => v.iter().enumerate().all(|(i, p)| f32_matches(lane(i, 4) as u32, p)),
        V128Pattern::F64x2(v) => v.iter().enumerate().all(|(i, p)| f64_matches(lane(i, 8), p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_patterns() {
        assert!(f32_matches(0x7fc0_0000, &NanPattern::CanonicalNan));
        assert!(f32_matches(0xffc0_0000, &NanPattern::CanonicalNan));
        assert!(!f32_matches(0x7fc0_0001, &NanPattern::CanonicalNan));
        assert!(f32_matches(0x7fc0_0001, &NanPattern::ArithmeticNan));
        assert!(!f32_matches(0x7f80_0001, &NanPattern::ArithmeticNan));
        assert!(f64_matches(0x7ff8_0000_0000_0000, &NanPattern::CanonicalNan));
        assert!(!f64_matches(0x7ff0_0000_0000_0001, &NanPattern::ArithmeticNan));
    }

    #[test]
    fn trap_messages_map_to_kinds() {
        assert_eq!(expected_trap_kinds("integer divide by zero"), Some(&[TrapKind::IntegerDivisionByZero][..]));
        assert_eq!(expected_trap_kinds("undefined element 7"), Some(&[TrapKind::TableOutOfBounds][..]));
        assert_eq!(expected_trap_kinds("something new"), None);
    }
}
