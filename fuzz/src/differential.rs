//! Differential execution: a wasm-smith module (Wasm 2.0, every item
//! exported, NaNs canonicalised, loops and calls bounded by wasm-smith's
//! `ensure_termination` fuel global) runs in wasmc (both bounds-check
//! modes) and in wasmi; each exported function is called in export order
//! with zero arguments, and results, traps (with their kind) and, at the
//! end, every exported global and memory must match.
//!
//! Not comparable, so the rest of the module is skipped: a stack overflow
//! on either side (the engines' stack limits differ), and wasmi running out
//! of its own fuel. SIMD is disabled here: wasmi 0.38 does not run it (the
//! compiler target and the spec suite cover SIMD).

use arbitrary::Unstructured;
use wasmc_loader::{Config, Error, Extern, Instance, Linker, Store, TrapKind, Val};

/// Fuel of the termination global that wasm-smith injects.
const TERMINATION_FUEL: u32 = 300;
/// wasmi's own fuel per call: far above what the injected fuel allows.
const WASMI_FUEL: u64 = 10_000_000;
/// The largest table either engine may make, so that a `table.grow` past
/// it returns -1 in both (wasmi has no limit of its own; without this a
/// grow to 64M elements succeeded there and failed at wasmc's default).
const TABLE_LIMIT: u32 = 10_000_000;

/// What a call did, in engine-neutral form.
#[derive(Debug, PartialEq)]
enum Outcome {
    Values(Vec<Value>),
    Trap(TrapKind),
}

/// A value, with references reduced to null or not.
#[derive(Debug, PartialEq)]
enum Value {
    Bits(u8, u128),
    Ref(bool),
}

fn ours(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::Bits(0, *x as u32 as u128),
        Val::I64(x) => Value::Bits(1, *x as u64 as u128),
        Val::F32(x) => Value::Bits(2, *x as u128),
        Val::F64(x) => Value::Bits(3, *x as u128),
        Val::V128(x) => Value::Bits(4, *x),
        Val::FuncRef(f) => Value::Ref(f.is_none()),
        Val::ExternRef(r) => Value::Ref(r.is_none()),
    }
}

fn theirs(v: &wasmi::Val) -> Value {
    match v {
        wasmi::Val::I32(x) => Value::Bits(0, *x as u32 as u128),
        wasmi::Val::I64(x) => Value::Bits(1, *x as u64 as u128),
        wasmi::Val::F32(x) => Value::Bits(2, x.to_bits() as u128),
        wasmi::Val::F64(x) => Value::Bits(3, x.to_bits() as u128),
        wasmi::Val::FuncRef(f) => Value::Ref(f.is_null()),
        wasmi::Val::ExternRef(r) => Value::Ref(r.is_null()),
    }
}

fn trap_kind(code: wasmi::core::TrapCode) -> Option<TrapKind> {
    use wasmi::core::TrapCode as C;
    Some(match code {
        C::UnreachableCodeReached => TrapKind::UnreachableCodeReached,
        C::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        C::TableOutOfBounds => TrapKind::TableOutOfBounds,
        C::IndirectCallToNull => TrapKind::IndirectCallToNull,
        C::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        C::IntegerOverflow => TrapKind::IntegerOverflow,
        C::BadConversionToInteger => TrapKind::BadConversionToInteger,
        C::BadSignature => TrapKind::BadSignature,
        C::StackOverflow => TrapKind::StackOverflow,
        C::OutOfFuel | C::GrowthOperationLimited => return None,
    })
}

fn zero(ty: wasmc_loader::ValType) -> Val {
    use wasmc_loader::ValType as T;
    match ty {
        T::I32 => Val::I32(0),
        T::I64 => Val::I64(0),
        T::F32 => Val::F32(0),
        T::F64 => Val::F64(0),
        T::V128 => Val::V128(0),
        T::FuncRef => Val::FuncRef(None),
        T::ExternRef => Val::ExternRef(None),
    }
}

/// wasmi's outcome; `None` when it is not comparable (own fuel, limits).
fn theirs_outcome(r: Result<(), wasmi::Error>, results: &[wasmi::Val]) -> Result<Option<Outcome>, String> {
    match r {
        Ok(()) => Ok(Some(Outcome::Values(results.iter().map(theirs).collect()))),
        Err(e) => match e.as_trap_code() {
            Some(code) => Ok(trap_kind(code).map(Outcome::Trap)),
            None => Err(format!("wasmi failed without a trap: {e}")),
        },
    }
}

fn ours_outcome(r: Result<Vec<Val>, Error>) -> Result<Outcome, String> {
    match r {
        Ok(values) => Ok(Outcome::Values(values.iter().map(ours).collect())),
        Err(Error::Trap(t)) => Ok(Outcome::Trap(t.kind)),
        Err(e) => Err(format!("wasmc failed without a trap: {e}")),
    }
}

/// The generated module, or `None` when the input is too short for one.
pub fn module(data: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(data);
    let mut config = crate::smith_config();
    config.simd_enabled = false;
    let mut module = wasm_smith::Module::new(config, &mut u).ok()?;
    module.ensure_termination(TERMINATION_FUEL).ok()?;
    Some(module.to_bytes())
}

/// Runs the differential check on the module generated from `data`.
pub fn run(data: &[u8]) -> Result<(), String> {
    let Some(wasm) = module(data) else { return Ok(()) };
    for mode in crate::MODES {
        compare(&wasm, mode).map_err(|e| format!("{mode:?}: {e}"))?;
    }
    Ok(())
}

fn compare(wasm: &[u8], mode: wasmc::BoundsChecks) -> Result<(), String> {
    let artifact = wasmc::compile(wasm, &crate::options(mode)).map_err(|e| format!("valid module refused: {e}"))?;
    // SAFETY: the artifact was just compiled by wasmc.
    let module = unsafe { wasmc_loader::Module::from_bytes(&artifact) }.map_err(|e| e.to_string())?;

    let mut config = wasmi::Config::default();
    config.consume_fuel(true);
    let engine = wasmi::Engine::new(&config);
    let reference = wasmi::Module::new(&engine, wasm).map_err(|e| format!("wasmi refused the module: {e}"))?;
    let limits = wasmi::StoreLimitsBuilder::new().table_elements(TABLE_LIMIT).build();
    let mut their_store = wasmi::Store::new(&engine, limits);
    their_store.limiter(|limits| limits);
    their_store.set_fuel(WASMI_FUEL).map_err(|e| e.to_string())?;
    let their_instance = wasmi::Linker::<wasmi::StoreLimits>::new(&engine)
        .instantiate(&mut their_store, &reference)
        .and_then(|pre| pre.start(&mut their_store));

    let mut store = Store::new(Config { max_table_elements: Some(TABLE_LIMIT), ..Config::default() });
    let instance = Instance::new(&mut store, &module, &Linker::new());
    let (instance, their_instance) = match (instance, their_instance) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(Error::Trap(a)), Err(b)) => {
            let theirs = b.as_trap_code().and_then(trap_kind);
            return match theirs {
                Some(k) if k != a.kind => Err(format!("instantiation traps differ: wasmc {:?}, wasmi {k:?}", a.kind)),
                _ => Ok(()),
            };
        }
        // A table above the limit at instantiation: refused by both.
        (Err(Error::Resource(_)), Err(_)) => return Ok(()),
        (a, b) => return Err(format!("instantiation differs: wasmc {:?}, wasmi {:?}", a.err(), b.err())),
    };

    for export in module.exports() {
        let Some(Extern::Func(func)) = instance.get_export(&store, &export.name) else { continue };
        let ty = func.ty(&store);
        let args: Vec<Val> = ty.params.iter().map(|t| zero(*t)).collect();
        let their_func = their_instance.get_func(&their_store, &export.name).ok_or("wasmi lacks an export")?;
        let their_ty = their_func.ty(&their_store);
        let their_args: Vec<wasmi::Val> = their_ty.params().iter().map(|t| wasmi::Val::default(*t)).collect();
        let mut their_results: Vec<wasmi::Val> = their_ty.results().iter().map(|t| wasmi::Val::default(*t)).collect();
        their_store.set_fuel(WASMI_FUEL).map_err(|e| e.to_string())?;
        let r = their_func.call(&mut their_store, &their_args, &mut their_results);
        let Some(expected) = theirs_outcome(r, &their_results)? else { return Ok(()) };
        if expected == Outcome::Trap(TrapKind::StackOverflow) {
            return Ok(());
        }
        let got = ours_outcome(func.call(&mut store, &args))?;
        if got == Outcome::Trap(TrapKind::StackOverflow) {
            return Ok(());
        }
        if got != expected {
            return Err(format!("export {:?}: wasmc {got:?}, wasmi {expected:?}", export.name));
        }
    }
    compare_state(&module, &instance, &store, &their_instance, &their_store)
}

/// Exported globals and memories must hold the same values and bytes.
fn compare_state(
    module: &wasmc_loader::Module,
    instance: &Instance,
    store: &Store,
    their_instance: &wasmi::Instance,
    their_store: &wasmi::Store<wasmi::StoreLimits>,
) -> Result<(), String> {
    for export in module.exports() {
        match instance.get_export(store, &export.name) {
            Some(Extern::Global(g)) => {
                let theirs_g = their_instance.get_global(their_store, &export.name).ok_or("wasmi lacks a global")?;
                let (a, b) = (ours(&g.get(store)), theirs(&theirs_g.get(their_store)));
                if a != b {
                    return Err(format!("global {:?}: wasmc {a:?}, wasmi {b:?}", export.name));
                }
            }
            Some(Extern::Memory(m)) => {
                let theirs_m = their_instance.get_memory(their_store, &export.name).ok_or("wasmi lacks a memory")?;
                let (a, b) = (m.data(store), theirs_m.data(their_store));
                if a != b {
                    let at = a.iter().zip(b).position(|(x, y)| x != y);
                    return Err(format!(
                        "memory {:?}: wasmc {} bytes, wasmi {} bytes, first difference at {at:?}",
                        export.name,
                        a.len(),
                        b.len()
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
