//! Differential execution: a wasm-smith module (Wasm 2.0 with SIMD,
//! extended constant expressions and tail calls, every item exported, NaNs
//! canonicalised, loops and calls bounded by wasm-smith's
//! `ensure_termination` fuel global) runs in wasmc (both bounds-check
//! modes) and in wasmi 1.1 (an interpreter, so no code shared with wasmc's
//! Cranelift); each exported
//! function is called in export order with zero arguments, and results,
//! traps (with their kind) and, at the end, every exported global and
//! memory must match bit for bit, `v128` values included.
//!
//! Exact comparison of floats is sound because the spec's only
//! nondeterminism in Wasm 2.0 without relaxed SIMD is the NaN an operator
//! returns, and wasm-smith's `canonicalize_nans` follows every operator
//! that may make a new NaN (scalar and `f32x4`/`f64x2` add, sub, mul, div,
//! min, max, sqrt, ceil, floor, trunc, nearest) with a select that replaces
//! any NaN lane by the positive canonical NaN. What it leaves alone is
//! deterministic in the spec (abs, neg, copysign, pmin, pmax, conversions
//! from integers, loads, reinterpretations) or, for promote and demote
//! (scalar and `f64x2.promote_low_f32x4`, `f32x4.demote_f64x2_zero`), the
//! conversion, which both engines leave to x86's conversion instructions
//! (wasmi through Rust's `as`); a divergence there in a NaN's payload alone
//! would be allowed by the spec, not a bug.
//!
//! Not comparable, so the rest of the module is skipped: a stack overflow
//! on either side (the engines' stack limits differ), and wasmi running out
//! of its own fuel.

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
        wasmi::Val::V128(x) => Value::Bits(4, x.as_u128()),
        wasmi::Val::FuncRef(f) => Value::Ref(f.is_null()),
        wasmi::Val::ExternRef(r) => Value::Ref(r.is_null()),
    }
}

fn trap_kind(code: wasmi::TrapCode) -> Option<TrapKind> {
    use wasmi::TrapCode as C;
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

/// The trap code of a wasmi error. wasmi 1.1's own `as_trap_code` leaves
/// out `table.copy` out of bounds, which it reports as a table error.
fn their_trap_code(e: &wasmi::Error) -> Option<wasmi::TrapCode> {
    use wasmi::errors::{ErrorKind, TableError};
    match e.kind() {
        ErrorKind::Table(TableError::CopyOutOfBounds) => Some(wasmi::TrapCode::TableOutOfBounds),
        _ => e.as_trap_code(),
    }
}

/// wasmi's outcome; `None` when it is not comparable (own fuel, limits).
fn theirs_outcome(r: Result<(), wasmi::Error>, results: &[wasmi::Val]) -> Result<Option<Outcome>, String> {
    match r {
        Ok(()) => Ok(Some(Outcome::Values(results.iter().map(theirs).collect()))),
        Err(e) => match their_trap_code(&e) {
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
    let mut module = wasm_smith::Module::new(crate::smith_config(), &mut u).ok()?;
    module.ensure_termination(TERMINATION_FUEL).ok()?;
    Some(module.to_bytes())
}

/// Whether `wasm` uses SIMD (a `v128` type or operator anywhere): it fails
/// validation with the SIMD proposal turned off. The smoke runner counts
/// these modules.
pub fn uses_simd(wasm: &[u8]) -> bool {
    use wasmparser::WasmFeatures as F;
    let features = F::default().difference(F::SIMD | F::RELAXED_SIMD);
    wasmparser::Validator::new_with_features(features).validate_all(wasm).is_err()
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
    // The Wasm features wasmc supports: wasmi's default set has relaxed
    // SIMD, which wasm-smith never generates here; refuse it all the same.
    config.wasm_relaxed_simd(false);
    let engine = wasmi::Engine::new(&config);
    let reference = wasmi::Module::new(&engine, wasm).map_err(|e| format!("wasmi refused the module: {e}"))?;
    let limits = wasmi::StoreLimitsBuilder::new().table_elements(usize::try_from(TABLE_LIMIT).expect("a u32 fits a 64-bit usize")).build();
    let mut their_store = wasmi::Store::new(&engine, limits);
    their_store.limiter(|limits| limits);
    their_store.set_fuel(WASMI_FUEL).map_err(|e| e.to_string())?;
    let their_instance = wasmi::Linker::<wasmi::StoreLimits>::new(&engine)
        .instantiate_and_start(&mut their_store, &reference);

    let mut store = Store::new(Config { max_table_elements: Some(TABLE_LIMIT), ..Config::default() });
    let instance = Instance::new(&mut store, &module, &Linker::new());
    let (instance, their_instance) = match (instance, their_instance) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(Error::Trap(a)), Err(b)) => {
            let theirs = their_trap_code(&b).and_then(trap_kind);
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
        let Some(Extern::Func(func)) = instance.get_export(&store, export.name) else { continue };
        let ty = func.ty(&store);
        let args: Vec<Val> = ty.params.iter().map(|t| zero(*t)).collect();
        let their_func = their_instance.get_func(&their_store, export.name).ok_or("wasmi lacks an export")?;
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
        match instance.get_export(store, export.name) {
            Some(Extern::Global(g)) => {
                let theirs_g = their_instance.get_global(their_store, export.name).ok_or("wasmi lacks a global")?;
                let (a, b) = (ours(&g.get(store)), theirs(&theirs_g.get(their_store)));
                if a != b {
                    return Err(format!("global {:?}: wasmc {a:?}, wasmi {b:?}", export.name));
                }
            }
            Some(Extern::Memory(m)) => {
                let theirs_m = their_instance.get_memory(their_store, export.name).ok_or("wasmi lacks a memory")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A function, a global and a memory that all hold `v128` values.
    const SIMD: &str = r#"(module
        (memory (export "m") 1)
        (global (export "g") (mut v128) (v128.const i32x4 0 0 0 0))
        (func (export "f") (result v128)
            (global.set 0 (f32x4.sqrt (v128.const f32x4 1 4 9 16)))
            (v128.store (i32.const 16) (i16x8.add_sat_s (global.get 0) (v128.const i16x8 32767 1 2 3 4 5 6 7)))
            (v128.const i32x4 1 2 3 4)))"#;

    fn lanes_1_2_3_4() -> Vec<Value> {
        vec![Value::Bits(4, 0x0000_0004_0000_0003_0000_0002_0000_0001)]
    }

    /// Both engines hand a `v128` over with lane 0 in the low bits, so a
    /// lane that differs is a difference in the compared value.
    #[test]
    fn v128_lanes_come_in_the_same_order_from_both_engines() {
        let wasm = wat::parse_str(SIMD).unwrap();
        let artifact = wasmc::compile(&wasm, &crate::options(wasmc::BoundsChecks::Guard)).unwrap();
        // SAFETY: the artifact was just compiled by wasmc.
        let module = unsafe { wasmc_loader::Module::from_bytes(&artifact) }.unwrap();
        let mut store = Store::default();
        let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
        let got = instance.call(&mut store, "f", &[]).unwrap();
        assert_eq!(got.iter().map(ours).collect::<Vec<_>>(), lanes_1_2_3_4());

        let engine = wasmi::Engine::default();
        let reference = wasmi::Module::new(&engine, &wasm).unwrap();
        let mut their_store = wasmi::Store::new(&engine, ());
        let their_instance = wasmi::Linker::new(&engine).instantiate_and_start(&mut their_store, &reference).unwrap();
        let mut results = [wasmi::Val::default(wasmi::ValType::V128)];
        let f = their_instance.get_func(&their_store, "f").unwrap();
        f.call(&mut their_store, &[], &mut results).unwrap();
        assert_eq!(results.iter().map(theirs).collect::<Vec<_>>(), lanes_1_2_3_4());
    }

    /// wasmi runs the SIMD operators, and results, globals and memories
    /// holding `v128` values compare equal in both modes.
    #[test]
    fn a_simd_module_compares_equal_in_both_modes() {
        let wasm = wat::parse_str(SIMD).unwrap();
        assert!(uses_simd(&wasm));
        for mode in crate::MODES {
            compare(&wasm, mode).unwrap();
        }
    }

    /// wasmi 2.0.0 jumps to a garbage address (the process dies of SIGSEGV)
    /// on `v128.store8_lane` and `v128.store16_lane` with an offset above
    /// 65535 and a vector only known at run time; this target found it on
    /// 2026-11-30 and runs wasmi 1.1 because of it. Each store here is out
    /// of bounds and crashed wasmi 2.0.0; the engines must agree on both.
    #[test]
    fn lane_stores_past_a_16_bit_offset_trap_in_both_engines() {
        let wasm = wat::parse_str(
            r#"(module (memory (export "m") 1)
                (func (export "8") (v128.store8_lane offset=248398683 3 (i32.const 0) (v128.load offset=6064 (i32.const 1))))
                (func (export "16") (v128.store16_lane offset=65536 3 (i32.const 0) (v128.load offset=6064 (i32.const 1)))))"#,
        )
        .unwrap();
        for mode in crate::MODES {
            compare(&wasm, mode).unwrap();
        }
    }
}
