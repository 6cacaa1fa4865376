//! A host function written in C gets every C value kind from wasm and
//! returns them, bit for bit, through `wasmc_func_call` and back; a result
//! of the wrong kind makes the calling wasm code trap, naming it.

use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};

use wasmc_capi::error::*;
use wasmc_capi::instance::*;
use wasmc_capi::linker::*;
use wasmc_capi::module::*;
use wasmc_capi::store::*;
use wasmc_capi::val::*;

/// `mix` is imported as `(i32, i64, f32, f64) -> (f64, f32, i64, i32)` and
/// re-exported through a wasm function, so the values cross both ways.
const MODULE: &str = r#"(module
  (import "host" "mix" (func $mix (param i32 i64 f32 f64) (result f64 f32 i64 i32)))
  (func (export "through") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (call $mix (local.get 0) (local.get 1) (local.get 2) (local.get 3))))"#;

const KINDS: [wasmc_valkind_t; 4] = [WASMC_I32, WASMC_I64, WASMC_F32, WASMC_F64];
const REVERSED: [wasmc_valkind_t; 4] = [WASMC_F64, WASMC_F32, WASMC_I64, WASMC_I32];

/// Each result a different function of its argument, so a value in the
/// wrong slot, truncated or widened shows.
unsafe extern "C" fn mix(
    _env: *mut c_void,
    _caller: *mut wasmc_caller_t<'_>,
    args: *const wasmc_val_t,
    nargs: usize,
    results: *mut wasmc_val_t,
    nresults: usize,
) -> *mut wasmc_trap_t {
    assert_eq!((nargs, nresults), (4, 4));
    // SAFETY: wasmc passes 4 arguments and 4 result slots, as declared.
    unsafe {
        let args = std::slice::from_raw_parts(args, 4);
        let results = std::slice::from_raw_parts_mut(results, 4);
        assert_eq!(args.iter().map(|a| a.kind).collect::<Vec<_>>(), KINDS);
        assert_eq!(results.iter().map(|r| r.kind).collect::<Vec<_>>(), REVERSED);
        results[0].of.f64 = f64::from_bits(args[3].of.f64.to_bits() ^ (1 << 63));
        results[1].of.f32 = f32::from_bits(args[2].of.f32.to_bits() ^ 1);
        results[2].of.i64 = args[1].of.i64.wrapping_neg();
        results[3].of.i32 = args[0].of.i32 - 1;
    }
    null_mut()
}

/// Writes an `i64` where the function returns an `i32`.
unsafe extern "C" fn wrong_kind(
    _env: *mut c_void,
    _caller: *mut wasmc_caller_t<'_>,
    _args: *const wasmc_val_t,
    _nargs: usize,
    results: *mut wasmc_val_t,
    _nresults: usize,
) -> *mut wasmc_trap_t {
    // SAFETY: one result slot, as declared.
    unsafe { *results = wasmc_val_t { kind: WASMC_I64, of: wasmc_valunion_t { i64: 7 } } };
    null_mut()
}

fn ok(error: *mut wasmc_error_t) {
    if !error.is_null() {
        // SAFETY: a live error just returned by wasmc.
        let message = unsafe { CStr::from_ptr(wasmc_error_message(error)) }.to_string_lossy().into_owned();
        panic!("{message}");
    }
}

/// Defines `host.mix` with `callback` of type `params -> results`,
/// instantiates `wat`, calls its export `name` with `args`; returns the
/// results, or the trap's message.
fn call(
    wat: &str,
    callback: wasmc_func_callback_t,
    (params, results): (&[wasmc_valkind_t], &[wasmc_valkind_t]),
    name: &CStr,
    args: &[wasmc_val_t],
    nresults: usize,
) -> Result<Vec<wasmc_val_t>, String> {
    let artifact = wasmc::compile(&wat::parse_str(wat).unwrap(), &wasmc::CompileOptions::default()).unwrap();
    let zero = wasmc_val_t { kind: WASMC_I32, of: wasmc_valunion_t { i64: 0 } };
    let mut out = vec![zero; nresults];
    let (mut module, mut instance, mut func, mut trap) = (null_mut(), null_mut(), null_mut(), null_mut());
    // SAFETY: every pointer passed is live or an out-parameter to fill, the
    // strings are NUL-terminated, and each handle is freed once.
    unsafe {
        ok(wasmc_module_from_bytes(artifact.as_ptr(), artifact.len(), &mut module));
        let linker = wasmc_linker_new();
        ok(wasmc_linker_define_func(
            linker,
            c"host".as_ptr(),
            c"mix".as_ptr(),
            params.as_ptr(),
            params.len(),
            results.as_ptr(),
            results.len(),
            Some(callback),
            null_mut(),
            None,
        ));
        let store = wasmc_store_new(null(), null_mut(), None);
        ok(wasmc_linker_instantiate(linker, store, module, &mut instance, &mut trap));
        ok(wasmc_instance_get_func(store, instance, name.as_ptr(), &mut func));
        ok(wasmc_func_call(store, func, args.as_ptr(), args.len(), out.as_mut_ptr(), nresults, &mut trap));
        let outcome = if trap.is_null() {
            Ok(out)
        } else {
            let message = CStr::from_ptr(wasmc_trap_message(trap)).to_string_lossy().into_owned();
            wasmc_trap_delete(trap);
            Err(message)
        };
        wasmc_func_delete(func);
        wasmc_instance_delete(instance);
        wasmc_store_delete(store);
        wasmc_linker_delete(linker);
        wasmc_module_delete(module);
        outcome
    }
}

#[test]
fn a_c_host_function_gets_and_returns_every_value_kind() {
    let nan = f32::from_bits(0x7fa0_0001);
    let args = [
        wasmc_val_t { kind: WASMC_I32, of: wasmc_valunion_t { i32: -5 } },
        wasmc_val_t { kind: WASMC_I64, of: wasmc_valunion_t { i64: i64::MIN + 3 } },
        wasmc_val_t { kind: WASMC_F32, of: wasmc_valunion_t { f32: nan } },
        wasmc_val_t { kind: WASMC_F64, of: wasmc_valunion_t { f64: -0.25 } },
    ];
    let results = call(MODULE, mix, (&KINDS, &REVERSED), c"through", &args, 4).unwrap();
    assert_eq!(results.iter().map(|r| r.kind).collect::<Vec<_>>(), REVERSED);
    // SAFETY: each union member read is the one its kind names.
    unsafe {
        assert_eq!(results[0].of.f64.to_bits(), (-0.25f64).to_bits() ^ (1 << 63));
        assert_eq!(results[1].of.f32.to_bits(), 0x7fa0_0001 ^ 1);
        assert_eq!(results[2].of.i64, (i64::MIN + 3).wrapping_neg());
        assert_eq!(results[3].of.i32, -6);
    }
}

#[test]
fn a_result_of_the_wrong_kind_traps_its_caller() {
    let wat = r#"(module
  (import "host" "mix" (func $f (result i32)))
  (func (export "call") (result i32) (call $f)))"#;
    let Err(message) = call(wat, wrong_kind, (&[], &[WASMC_I32]), c"call", &[], 1) else {
        panic!("no trap for an i64 returned as an i32");
    };
    assert!(message.contains("bad value") && message.contains("i64") && message.contains("i32"), "{message}");
}

#[test]
fn a_call_with_room_for_the_wrong_number_of_results_is_a_type_error() {
    let wat = r#"(module (func (export "one") (result i32) (i32.const 1)))"#;
    let artifact = wasmc::compile(&wat::parse_str(wat).unwrap(), &wasmc::CompileOptions::default()).unwrap();
    let zero = wasmc_val_t { kind: WASMC_I32, of: wasmc_valunion_t { i64: 0 } };
    let (mut module, mut instance, mut trap) = (null_mut(), null_mut(), null_mut());
    // SAFETY: every pointer passed is live or an out-parameter to fill, the
    // strings are NUL-terminated, and each handle is freed once.
    unsafe {
        ok(wasmc_module_from_bytes(artifact.as_ptr(), artifact.len(), &mut module));
        let linker = wasmc_linker_new();
        let store = wasmc_store_new(null(), null_mut(), None);
        ok(wasmc_linker_instantiate(linker, store, module, &mut instance, &mut trap));
        for nresults in [0, 2] {
            let mut results = [zero; 2];
            let error = wasmc_instance_call(
                store,
                instance,
                c"one".as_ptr(),
                null(),
                0,
                results.as_mut_ptr(),
                nresults,
                &mut trap,
            );
            assert!(!error.is_null() && trap.is_null(), "room for {nresults} results accepted");
            let message = CStr::from_ptr(wasmc_error_message(error)).to_string_lossy().into_owned();
            assert_eq!(wasmc_error_kind(error), WASMC_ERROR_TYPE, "{message}");
            assert!(message.contains("returns 1 values"), "{message}");
            wasmc_error_delete(error);
        }
        let mut results = [zero; 1];
        ok(wasmc_instance_call(store, instance, c"one".as_ptr(), null(), 0, results.as_mut_ptr(), 1, &mut trap));
        assert_eq!(results[0].of.i32, 1);
        wasmc_instance_delete(instance);
        wasmc_store_delete(store);
        wasmc_linker_delete(linker);
        wasmc_module_delete(module);
    }
}
