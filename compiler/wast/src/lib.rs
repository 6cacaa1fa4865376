//! Runs WebAssembly spec-test scripts (`.wast`) through the real path:
//! every module is compiled to artifact bytes, loaded by the loader from
//! those bytes, instantiated and called, exactly as a server would.
//!
//! Test support, apart from both libraries: `wasmc wast` (`wasmc-cli`) and
//! the spec-testsuite test (`tests/spec.rs`) use it.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::thread::{Scope, ScopedJoinHandle};

use wasmc::{compile, CompileError, CompileOptions};
use wasmc_loader::{
    Config, Error, Global, GlobalType, Instance, Linker, Memory, MemoryType, Module, Store, Table, TableType, TrapKind,
    Val, ValType,
};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, WastThread};

mod link_messages;
use link_messages::link_error_matches;

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
    std::thread::scope(|scope| Script { name, text, options, scope }.run_thread(script.directives))
}

/// What every thread of one script shares: the name and text that failure
/// lines quote, the compile options, and the scope `thread` blocks run in.
#[derive(Clone, Copy)]
struct Script<'s, 'scope, 'env> {
    name: &'s str,
    text: &'s str,
    options: &'s CompileOptions,
    scope: &'scope Scope<'scope, 'env>,
}

impl<'s: 'scope, 'scope, 'env> Script<'s, 'scope, 'env> {
    /// Runs `directives` with a store and `spectest` module of their own:
    /// the script itself, or one `(thread ...)` block on its own OS thread.
    fn run_thread(self, directives: Vec<WastDirective<'s>>) -> WastReport {
        let mut report = WastReport::default();
        let mut ctx = match Context::new(self.options.clone()) {
            Ok(ctx) => ctx,
            Err(e) => {
                report.failed += 1;
                report.failures.push(format!("{}: setting up the spectest module: {e}", self.name));
                return report;
            }
        };
        let mut threads = BTreeMap::new();
        for directive in directives {
            let (line, col) = directive.span().linecol_in(self.text);
            let outcome = match directive {
                WastDirective::Thread(thread) => self.spawn(thread, &mut threads),
                WastDirective::Wait { thread, .. } => match threads.remove(thread.name()) {
                    Some(handle) => self.join(handle, &mut report),
                    None => Err(format!("(wait ${}): no such thread is running", thread.name())),
                },
                directive => catch_unwind(AssertUnwindSafe(|| ctx.run(directive)))
                    .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&*panic)))),
            };
            match outcome {
                Ok(()) => report.passed += 1,
                Err(msg) => {
                    report.failed += 1;
                    report.failures.push(format!("{}:{}:{}: {msg}", self.name, line + 1, col + 1));
                }
            }
        }
        // A thread nobody waited for still counts (in name order).
        for (name, handle) in threads {
            if let Err(msg) = self.join(handle, &mut report) {
                report.failed += 1;
                report.failures.push(format!("{}: thread ${name}: {msg}", self.name));
            }
        }
        report
    }

    /// `(thread $t ...)`: its directives run on a new OS thread, in a new
    /// store; `(wait $t)` adds its report to this one.
    fn spawn(
        self,
        thread: WastThread<'s>,
        threads: &mut BTreeMap<&'s str, ScopedJoinHandle<'scope, WastReport>>,
    ) -> Outcome {
        let name = thread.name.name();
        if let Some(shared) = thread.shared_module {
            // No kept script shares a module; a store's instances stay on its thread.
            return Err(format!("thread ${name}: sharing module ${} with a thread is not supported", shared.name()));
        }
        if threads.contains_key(name) {
            return Err(format!("thread ${name} is already running"));
        }
        let directives = thread.directives;
        threads.insert(name, self.scope.spawn(move || self.run_thread(directives)));
        Ok(())
    }

    fn join(self, handle: ScopedJoinHandle<'scope, WastReport>, report: &mut WastReport) -> Outcome {
        let thread = handle.join().map_err(|panic| format!("thread panicked: {}", panic_message(&*panic)))?;
        report.absorb(thread);
        Ok(())
    }
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

/// The state of one script (or thread): the store, the `spectest` host
/// module, named instances and module definitions, and the most recent of
/// each.
struct Context {
    options: CompileOptions,
    store: Store,
    linker: Linker,
    named: HashMap<String, Instance>,
    current: Option<Instance>,
    definitions: HashMap<String, Module>,
    last_definition: Option<Module>,
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
        Ok(Context {
            options,
            store,
            linker,
            named: HashMap::new(),
            current: None,
            definitions: HashMap::new(),
            last_definition: None,
        })
    }

    fn run(&mut self, directive: WastDirective<'_>) -> Outcome {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let bytes = module.encode().map_err(|e| format!("encoding the module: {e}"))?;
                let instance = self.instantiate(&bytes).map_err(|e| e.to_string())?;
                self.set_current(name, instance);
                Ok(())
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let bytes = module.encode().map_err(|e| format!("encoding the module: {e}"))?;
                let module = self.load(&bytes).map_err(|e| e.to_string())?;
                if let Some(name) = name {
                    self.definitions.insert(name, module.clone());
                }
                self.last_definition = Some(module);
                Ok(())
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let definition = match module {
                    Some(id) => {
                        self.definitions.get(id.name()).ok_or_else(|| format!("no module definition ${}", id.name()))
                    }
                    None => self.last_definition.as_ref().ok_or_else(|| "no module has been defined".to_string()),
                }?;
                let instance_of =
                    Instance::new(&mut self.store, definition, &self.linker).map_err(|e| e.to_string())?;
                self.set_current(instance.map(|id| id.name().to_string()), instance_of);
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
            WastDirective::AssertInvalid { module, message, .. } => self.assert_rejected(module, message, false),
            WastDirective::AssertMalformed { module, message, .. } => self.assert_rejected(module, message, true),
            WastDirective::AssertUnlinkable { mut module, message, .. } => {
                let bytes = module.encode().map_err(|e| format!("encoding the module: {e}"))?;
                let expected = format!("expected a link error {message:?}");
                let module = self.load(&bytes).map_err(|e| format!("{expected}, got: {e}"))?;
                match Instance::new(&mut self.store, &module, &self.linker) {
                    Ok(_) => Err(format!("{expected}, but it instantiated")),
                    Err(Error::Link(link)) if link_error_matches(&link, message) => Ok(()),
                    Err(Error::Link(link)) => Err(format!("{expected}, got another link error: {link}")),
                    Err(e) => Err(format!("{expected}, got: {e}")),
                }
            }
            other => Err(format!("unsupported directive at {:?}", other.span())),
        }
    }

    /// Makes `instance` the one unnamed directives use and, if it has a
    /// name, also registers it for imports under that name (wasmtime's
    /// convention, as if `(register "m" $m)` followed `(module $m ...)`).
    fn set_current(&mut self, name: Option<String>, instance: Instance) {
        if let Some(name) = name {
            self.linker.instance(&self.store, &name, instance);
            self.named.insert(name, instance);
        }
        self.current = Some(instance);
    }

    /// `assert_invalid` and `assert_malformed`: the compiler must refuse the
    /// module as invalid or malformed (`CompileError::Invalid`), not as
    /// unsupported or failed code generation. A quoted text module in
    /// `assert_malformed` may instead fail to parse as text.
    fn assert_rejected(&mut self, mut module: QuoteWat<'_>, message: &str, malformed: bool) -> Outcome {
        let quoted = matches!(module, QuoteWat::QuoteModule(..));
        let bytes = match module.encode() {
            Ok(bytes) => bytes,
            Err(_) if malformed && quoted => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "expected the compiler to reject the module ({message:?}), but its text did not encode: {e}"
                ))
            }
        };
        match compile(&bytes, &self.options) {
            Err(CompileError::Invalid { .. }) => Ok(()),
            Err(e) => Err(format!("expected an invalid-module error ({message:?}), got: {e}")),
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
        let module = self.load(wasm)?;
        Instance::new(&mut self.store, &module, &self.linker).map_err(WastError::Runtime)
    }

    /// Compiles `wasm` to artifact bytes and loads them.
    fn load(&self, wasm: &[u8]) -> Result<Module, WastError> {
        let artifact = compile(wasm, &self.options).map_err(|e| WastError::Compile(e.to_string()))?;
        // SAFETY: the artifact was compiled by this process a moment ago.
        unsafe { Module::from_bytes(&artifact) }.map_err(|e| WastError::Runtime(e.into()))
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
        // wasmtime's scripts say only "out of bounds" for either.
        "out of bounds" => &[TrapKind::MemoryOutOfBounds, TrapKind::TableOutOfBounds],
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
        Some(kinds) if kinds.contains(&trap.kind) => Ok(()),
        Some(_) => Err(format!("expected trap {message:?}, got trap {:?} ({trap})", trap.kind)),
        // A message the runner cannot map to a kind would accept any trap.
        None => Err(format!("expected trap {message:?}, which names no trap kind the runner knows; got {trap}")),
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
        (value, WastRetCore::Either(alternatives)) => alternatives.iter().any(|want| matches_ret(value, want)),
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

    /// Runs `script` in guard mode; returns (passed, failed, failure lines).
    fn run(script: &str) -> (usize, usize, Vec<String>) {
        let report = run_script("t.wast", script, &CompileOptions::default());
        (report.passed, report.failed, report.failures)
    }

    /// Asserts that the script's only assertion (after `setup` directives
    /// that pass) fails, with a line that contains `says`.
    fn assert_fails(script: &str, setup: usize, says: &str) {
        let (passed, failed, failures) = run(script);
        assert_eq!((passed, failed), (setup, 1), "{failures:?}");
        assert!(failures[0].contains(says), "{failures:?}");
    }

    #[test]
    fn either_passes_on_any_alternative_and_fails_on_none() {
        let module = r#"(module (func (export "f") (result i32) i32.const 1))"#;
        let (passed, failed, _) =
            run(&format!("{module} (assert_return (invoke \"f\") (either (i32.const 0) (i32.const 1)))"));
        assert_eq!((passed, failed), (2, 0));
        assert_fails(
            &format!("{module} (assert_return (invoke \"f\") (either (i32.const 0) (i32.const 2)))"),
            1,
            "expected Either",
        );
    }

    #[test]
    fn a_named_module_is_registered_under_its_name() {
        let (passed, failed, failures) = run(r#"
            (module $m (func (export "seven") (result i32) i32.const 7))
            (module (import "m" "seven" (func $seven (result i32)))
                    (func (export "g") (result i32) call $seven))
            (assert_return (invoke "g") (i32.const 7))
            (assert_return (invoke $m "seven") (i32.const 7))"#);
        assert_eq!((passed, failed), (4, 0), "{failures:?}");
    }

    #[test]
    fn module_definitions_are_instantiated_on_demand() {
        let (passed, failed, failures) = run(r#"
            (module definition $d (global (export "g") (mut i32) (i32.const 3))
                                  (func (export "bump") (global.set 0 (i32.add (global.get 0) (i32.const 1)))))
            (module instance $a $d)
            (module instance $b $d)
            (invoke $a "bump")
            (assert_return (get $a "g") (i32.const 4))
            (assert_return (get $b "g") (i32.const 3))
            (module definition (func (export "f") (result i32) i32.const 5))
            (module instance)
            (assert_return (invoke "f") (i32.const 5))"#);
        assert_eq!((passed, failed), (9, 0), "{failures:?}");
        assert_fails("(module instance $i $nothing)", 0, "no module definition $nothing");
    }

    #[test]
    fn threads_run_their_directives_and_report_their_failures() {
        // The wast crate reads a script that starts with `thread` as a module.
        let (passed, failed, failures) = run(r#"(module)
            (thread $t1 (module (func (export "f") (result i32) i32.const 1))
                        (assert_return (invoke "f") (i32.const 1)))
            (thread $t2 (module (func (export "f") (result i32) i32.const 1))
                        (assert_return (invoke "f") (i32.const 2)))
            (wait $t1)
            (wait $t2)"#);
        // A module, two spawns, two waits, three passing directives inside, one failing.
        assert_eq!((passed, failed), (8, 1), "{failures:?}");
        assert!(failures[0].contains("t.wast:5:"), "{failures:?}");
        assert_fails("(module) (wait $nobody)", 1, "no such thread");
        // Never waited for: its failure still counts.
        assert_fails(r#"(module) (thread $t (assert_return (invoke "none")))"#, 2, "no module has been instantiated");
    }

    #[test]
    fn assert_invalid_needs_an_invalid_module_error() {
        assert_fails("(assert_invalid (module (func)) \"type mismatch\")", 0, "but it compiled");
        // The text format refusing an unknown label is not the compiler validating.
        assert_fails("(assert_invalid (module (func (br $nowhere))) \"unknown label\")", 0, "did not encode");
        let (passed, failed, _) = run("(assert_invalid (module (func (result i32))) \"type mismatch\")");
        assert_eq!((passed, failed), (1, 0));
    }

    #[test]
    fn assert_malformed_needs_a_decoding_or_text_error() {
        assert_fails(
            r#"(assert_malformed (module binary "\00asm\01\00\00\00") "unexpected end")"#,
            0,
            "but it compiled",
        );
        assert_fails(r#"(assert_malformed (module quote "(func)") "unexpected token")"#, 0, "but it compiled");
        let (passed, failed, _) = run(r#"
            (assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
            (assert_malformed (module quote "(func (i32.const))") "unexpected token")"#);
        assert_eq!((passed, failed), (2, 0));
    }

    #[test]
    fn assert_unlinkable_needs_the_named_link_error() {
        // Instantiation traps: not a link error.
        assert_fails(
            r#"(assert_unlinkable (module (func $s unreachable) (start $s)) "unknown import")"#,
            0,
            "expected a link error \"unknown import\", got: wasm trap",
        );
        // A link error, but not the one named.
        assert_fails(
            r#"(assert_unlinkable (module (import "nowhere" "f" (func))) "incompatible import type")"#,
            0,
            "got another link error: unknown import",
        );
        assert_fails(
            r#"(assert_unlinkable (module (import "spectest" "print_i32" (func))) "some other words")"#,
            0,
            "got another link error",
        );
        // Refused by the compiler: not a link error either.
        assert_fails(r#"(assert_unlinkable (module (func (result i32))) "unknown import")"#, 0, "compile error");
        let (passed, failed, _) = run(r#"
            (assert_unlinkable (module (import "nowhere" "f" (func))) "unknown import")
            (assert_unlinkable (module (import "spectest" "print_i32" (func))) "incompatible import type")"#);
        assert_eq!((passed, failed), (2, 0));
    }

    #[test]
    fn assert_trap_on_a_module_needs_that_trap_at_instantiation() {
        let traps = r#"(module (func $s unreachable) (start $s))"#;
        let (passed, failed, _) = run(&format!("(assert_trap {traps} \"unreachable\")"));
        assert_eq!((passed, failed), (1, 0));
        assert_fails(&format!("(assert_trap {traps} \"integer divide by zero\")"), 0, "got trap");
        assert_fails(&format!("(assert_trap {traps} \"some words\")"), 0, "names no trap kind");
        assert_fails(
            r#"(assert_trap (module (import "nowhere" "f" (func))) "unreachable")"#,
            0,
            "expected trap \"unreachable\", got: unknown import",
        );
    }

    #[test]
    fn trap_messages_map_to_kinds() {
        assert_eq!(expected_trap_kinds("integer divide by zero"), Some(&[TrapKind::IntegerDivisionByZero][..]));
        assert_eq!(expected_trap_kinds("undefined element 7"), Some(&[TrapKind::TableOutOfBounds][..]));
        assert_eq!(expected_trap_kinds("something new"), None);
    }
}
