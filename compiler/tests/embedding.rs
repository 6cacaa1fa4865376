//! The embedding API servers build on: per-store data (`Store<T>`) that
//! host functions reach through their `Caller`, a `Linker<T>` built once
//! and shared between threads, and `InstancePre` (imports found once, then
//! many fresh or pooled instantiations).

mod common;

use std::sync::Arc;

use common::{module, MODES};
use wasmc_loader::{
    Caller, Config, Error, Global, GlobalType, Instance, InstancePool, LinkError, Linker, PoolConfig, Store, Val,
    ValType,
};

/// Per-request state of a server.
#[derive(Default)]
struct Request {
    id: i32,
    log: Vec<i32>,
}

/// Logs a value through the host and asks the host for the request id.
const PLUGIN: &str = r#"(module
  (import "host" "log" (func $log (param i32)))
  (import "host" "request_id" (func $id (result i32)))
  (memory (export "memory") 1)
  (func (export "handle") (param $x i32) (result i32)
    (call $log (local.get $x))
    (call $log (i32.mul (local.get $x) (i32.const 2)))
    (i32.add (call $id) (local.get $x))))"#;

fn linker() -> Linker<Request> {
    let mut linker = Linker::new();
    linker.func_wrap("host", "log", |mut caller: Caller<'_, Request>, v: i32| caller.data_mut().log.push(v));
    linker.func_wrap("host", "request_id", |caller: Caller<'_, Request>| caller.data().id);
    linker
}

#[test]
fn host_functions_reach_the_stores_data() {
    for mode in MODES {
        let module = module(PLUGIN, mode);
        let mut store = Store::with_data(Config::default(), Request { id: 1000, log: Vec::new() });
        let instance = Instance::new(&mut store, &module, &linker()).unwrap();
        let handle = instance.get_typed_func::<i32, i32>(&store, "handle").unwrap();
        assert_eq!(handle.call(&mut store, 7).unwrap(), 1007);
        store.data_mut().id = 2000;
        assert_eq!(handle.call(&mut store, 1).unwrap(), 2001);
        assert_eq!(store.data().log, [7, 14, 1, 2]);
        let request = store.into_data();
        assert_eq!(request.log.len(), 4, "{mode:?}");
    }
}

/// One linker and one `InstancePre` for the process; each worker thread
/// instantiates per request, fresh or from a shared pool, with its own
/// state, and sees only its own.
#[test]
fn one_instance_pre_serves_many_threads_fresh_and_pooled() {
    for mode in MODES {
        let module = module(PLUGIN, mode);
        let pre = Arc::new(linker().instantiate_pre(&module).unwrap());
        let pool = Arc::new(InstancePool::new(&module, PoolConfig { capacity: 4, ..PoolConfig::default() }).unwrap());
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let (pre, pool) = (pre.clone(), pool.clone());
                std::thread::spawn(move || {
                    for request in 0..200 {
                        let id = worker * 10_000 + request;
                        let mut store = Store::with_data(Config::default(), Request { id, log: Vec::new() });
                        let instance = if request % 2 == 0 {
                            pre.instantiate(&mut store).unwrap()
                        } else {
                            pool.instantiate_pre(&mut store, &pre).unwrap()
                        };
                        let handle = instance.get_typed_func::<i32, i32>(&store, "handle").unwrap();
                        assert_eq!(handle.call(&mut store, 3).unwrap(), id + 3);
                        assert_eq!(store.data().log, [3, 6]);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(pool.available(), 4, "{mode:?}: every slot back");
    }
}

#[test]
fn instance_pre_checks_imports_once_and_refuses_what_cannot_work() {
    let module = module(PLUGIN, wasmc::BoundsChecks::Guard);
    let mut missing = Linker::<Request>::new();
    missing.func_wrap("host", "log", |_: i32| {});
    match missing.instantiate_pre(&module) {
        Err(Error::Link(LinkError::Missing { name, .. })) => assert_eq!(name, "request_id"),
        other => panic!("expected a missing import, got {other:?}"),
    }
    let mut wrong = linker();
    wrong.func_wrap("host", "request_id", || 1i64);
    match wrong.instantiate_pre(&module) {
        Err(Error::Link(LinkError::Incompatible { name, reason, .. })) => {
            assert_eq!(name, "request_id");
            assert!(reason.contains("expected function type"), "{reason}");
        }
        other => panic!("expected an incompatible import, got {other:?}"),
    }
    // A pool instantiates only its own module.
    let other = common::module(r#"(module (memory 1))"#, wasmc::BoundsChecks::Guard);
    let pool = InstancePool::new(&other, PoolConfig { capacity: 1, ..PoolConfig::default() }).unwrap();
    let pre = linker().instantiate_pre(&module).unwrap();
    let mut store = Store::with_data(Config::default(), Request::default());
    assert!(matches!(pool.instantiate_pre(&mut store, &pre), Err(Error::Type(_))));
}

/// A store item in a linker belongs to its store: an `InstancePre` made
/// with one works in that store and is refused in any other.
#[test]
fn instance_pre_with_a_store_item_is_bound_to_that_store() {
    let wat = r#"(module (import "env" "g" (global i32)) (func (export "get") (result i32) (global.get 0)))"#;
    let module = module(wat, wasmc::BoundsChecks::Guard);
    let mut store = Store::default();
    let g = Global::new(&mut store, GlobalType { ty: ValType::I32, mutable: false }, Val::I32(5)).unwrap();
    let mut linker = Linker::new();
    linker.define("env", "g", g);
    let pre = linker.instantiate_pre(&module).unwrap();
    let instance = pre.instantiate(&mut store).unwrap();
    assert_eq!(instance.get_typed_func::<(), i32>(&store, "get").unwrap().call(&mut store, ()).unwrap(), 5);
    let mut other = Store::default();
    assert!(matches!(pre.instantiate(&mut other), Err(Error::WrongStore)));
}

/// Memory and module accessors work with any store data type, from the
/// store and from a host function's caller.
#[test]
fn memory_is_reachable_with_any_store_data() {
    let wat = r#"(module
      (import "host" "peek" (func $peek))
      (memory (export "memory") 1)
      (data (i32.const 8) "wasm")
      (func (export "run") (call $peek)))"#;
    let module = module(wat, wasmc::BoundsChecks::Guard);
    let mut linker: Linker<Request> = Linker::new();
    linker.func_wrap("host", "peek", |mut caller: Caller<'_, Request>| {
        let memory = caller.memory().expect("exported memory");
        let seen = memory.data(&caller)[8..12].to_vec();
        memory.data_mut(&mut caller)[12] = b'!';
        caller.data_mut().log.push(i32::from(seen == b"wasm"));
    });
    let mut store = Store::with_data(Config::default(), Request::default());
    let instance = Instance::new(&mut store, &module, &linker).unwrap();
    instance.call(&mut store, "run", &[]).unwrap();
    let memory = instance.get_memory(&store, "memory").unwrap();
    assert_eq!(&memory.data(&store)[8..13], b"wasm!");
    assert_eq!(store.data().log, [1]);
    assert!(instance.module(&store).is_some());
}

/// Passes one value of each type in and hands them back swapped.
const SWAP: &str = r#"(module
  (import "host" "swap" (func $swap (param i32 i64 f32 f64 v128) (result v128 f64 f32 i64 i32)))
  (export "swap" (func $swap))
  (func (export "through") (param i32 i64 f32 f64 v128) (result v128 f64 f32 i64 i32)
    (call $swap (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4))))"#;

/// Host functions get and return every value type bit for bit, called
/// from wasm and from the host, whether typed (`func_wrap`) or working on
/// `Val`s (`func_new`): negative integers, a NaN with a payload, all 128
/// bits of a vector.
#[test]
fn host_functions_pass_every_value_type_both_ways() {
    use wasmc_loader::{FuncType, HostError};

    let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
    let nan = 0x7fa0_0001_u32;
    let args = [Val::I32(-5), Val::I64(i64::MIN + 3), Val::F32(nan), Val::F64((-0.25f64).to_bits()), Val::V128(v)];
    // Each result a different function of its argument, so that a value
    // in the wrong slot, truncated or widened shows.
    let expected = [
        Val::V128(v.rotate_left(8)),
        Val::F64((-0.25f64).to_bits() ^ (1 << 63)),
        Val::F32(nan ^ 1),
        Val::I64((i64::MIN + 3).wrapping_neg()),
        Val::I32(-6),
    ];
    let mut typed = Linker::<()>::new();
    typed.func_wrap("host", "swap", |a: i32, b: i64, c: f32, d: f64, e: u128| {
        (e.rotate_left(8), -d, f32::from_bits(c.to_bits() ^ 1), b.wrapping_neg(), a - 1)
    });
    let mut dynamic = Linker::<()>::new();
    let ty = FuncType {
        params: vec![ValType::I32, ValType::I64, ValType::F32, ValType::F64, ValType::V128],
        results: vec![ValType::V128, ValType::F64, ValType::F32, ValType::I64, ValType::I32],
    };
    dynamic.func_new("host", "swap", ty, |_, args: &[Val], results: &mut [Val]| {
        let [Val::I32(a), Val::I64(b), Val::F32(c), Val::F64(d), Val::V128(e)] = *args else {
            return Err(HostError::new("unexpected argument types"));
        };
        results.copy_from_slice(&[
            Val::V128(e.rotate_left(8)),
            Val::F64(d ^ (1 << 63)),
            Val::F32(c ^ 1),
            Val::I64(b.wrapping_neg()),
            Val::I32(a - 1),
        ]);
        Ok(())
    });
    // The same on the raw slots, as the C API defines its functions.
    let mut raw = Linker::<()>::new();
    let ty = FuncType {
        params: vec![ValType::I32, ValType::I64, ValType::F32, ValType::F64, ValType::V128],
        results: vec![ValType::V128, ValType::F64, ValType::F32, ValType::I64, ValType::I32],
    };
    raw.func_new_raw("host", "swap", ty, |_, values| {
        let (a, b, c, d, e) =
            (values.get(0) as u32, values.get(1) as u64, values.get(2) as u32, values.get(3), values.get(4));
        values.set(0, e.rotate_left(8));
        values.set(1, u128::from(d as u64 ^ (1 << 63)));
        values.set(2, u128::from(c ^ 1));
        values.set(3, u128::from(b.wrapping_neg()));
        values.set(4, u128::from(a.wrapping_sub(1)));
        Ok(())
    })
    .unwrap();
    for mode in MODES {
        let module = module(SWAP, mode);
        for (kind, linker) in [("typed", &typed), ("dynamic", &dynamic), ("raw", &raw)] {
            let mut store = Store::new(Config::default());
            let instance = Instance::new(&mut store, &module, linker).unwrap();
            for export in ["through", "swap"] {
                let results = instance.get_func(&store, export).unwrap().call(&mut store, &args).unwrap();
                // `Val` has no equality (references); its debug form shows every bit.
                assert_eq!(
                    format!("{results:?}"),
                    format!("{expected:?}"),
                    "{kind} host function through {export:?}, {mode:?}"
                );
            }
        }
    }
}

/// A raw host function works on numbers only: any bits are a valid number,
/// not a valid reference.
#[test]
fn a_raw_host_function_refuses_reference_types() {
    use wasmc_loader::{Error, FuncType};

    for t in [ValType::FuncRef, ValType::ExternRef] {
        let mut linker = Linker::<()>::new();
        let ty = FuncType { params: vec![ValType::I32], results: vec![t] };
        let Err(error) = linker.func_new_raw("host", "r", ty, |_, _| Ok(())) else { panic!("{t} accepted") };
        assert!(matches!(&error, Error::Type(m) if m.contains("host.r") && m.contains("numbers")), "{error}");
    }
}

/// A raw host function that writes past its slots (a host bug) changes
/// nothing there: the caller's frame, the wasm stack and the other values
/// stay intact, and the call returns what the function set in its own slot.
#[test]
fn a_raw_host_function_writing_past_its_slots_changes_nothing() {
    use wasmc_loader::FuncType;

    let wat = r#"(module
  (import "host" "f" (func $f (param i32) (result i32)))
  (func (export "call") (param i32) (result i32 i32)
    (local.get 0)
    (call $f (i32.const 5))))"#;
    let mut linker = Linker::<()>::new();
    let ty = FuncType { params: vec![ValType::I32], results: vec![ValType::I32] };
    linker
        .func_new_raw("host", "f", ty, |_, values| {
            for i in 1..1000 {
                values.set(i, u128::MAX);
            }
            assert_eq!(values.get(1000), 0);
            values.set(0, values.get(0) * 2);
            Ok(())
        })
        .unwrap();
    for mode in MODES {
        let mut store = Store::new(Config::default());
        let instance = Instance::new(&mut store, &module(wat, mode), &linker).unwrap();
        let results = instance.call(&mut store, "call", &[Val::I32(77)]).unwrap();
        assert_eq!(format!("{results:?}"), format!("{:?}", [Val::I32(77), Val::I32(10)]), "{mode:?}");
    }
}

/// A host function on `Val`s with more parameters than the host call keeps
/// on the stack (12) gets them all, in order, from wasm and from the host.
#[test]
fn a_host_function_with_sixteen_parameters_gets_them_all() {
    use wasmc_loader::FuncType;

    let params = (0..16).map(|_| "i64").collect::<Vec<_>>().join(" ");
    let args = (0..16).map(|i| format!("(i64.const {})", 1i64 << (3 * i))).collect::<String>();
    let wat = format!(
        r#"(module
  (import "host" "mix" (func $mix (param {params}) (result i64 i32)))
  (export "mix" (func $mix))
  (func (export "call") (result i64 i32) (call $mix {args})))"#
    );
    let mut linker = Linker::<()>::new();
    let ty = FuncType { params: vec![ValType::I64; 16], results: vec![ValType::I64, ValType::I32] };
    linker.func_new("host", "mix", ty, |_, args: &[Val], results: &mut [Val]| {
        // Each argument weighted by its position: a swap or a drop shows.
        let mut mixed = 0i64;
        for (i, a) in args.iter().enumerate() {
            if let Val::I64(v) = a {
                mixed = mixed.wrapping_add(v.wrapping_mul(i as i64 + 1));
            }
        }
        results[0] = Val::I64(mixed);
        results[1] = Val::I32(args.len() as i32);
        Ok(())
    });
    let expected: i64 = (0..16).map(|i| (1i64 << (3 * i)).wrapping_mul(i + 1)).fold(0, i64::wrapping_add);
    for mode in MODES {
        let module = module(&wat, mode);
        let mut store = Store::new(Config::default());
        let instance = Instance::new(&mut store, &module, &linker).unwrap();
        let from_wasm = instance.get_func(&store, "call").unwrap().call(&mut store, &[]).unwrap();
        assert_eq!(format!("{from_wasm:?}"), format!("{:?}", [Val::I64(expected), Val::I32(16)]), "{mode:?}");
        let args: Vec<Val> = (0..16).map(|i| Val::I64(1i64 << (3 * i))).collect();
        let from_host = instance.get_func(&store, "mix").unwrap().call(&mut store, &args).unwrap();
        assert_eq!(format!("{from_host:?}"), format!("{:?}", [Val::I64(expected), Val::I32(16)]), "{mode:?}");
    }
}
