//! Calls across the boundary, wasmc against wasmtime. `call`: the host
//! calls a trivial export `add(i32, i32) -> i32`, typed (`TypedFunc`) and
//! untyped (`Func::call` with `Val`s), through the C API (`wasmc_func_call`,
//! `wasmc_c`), and typed with a deadline on every
//! call (`Store::set_call_timeout`; wasmtime: `set_epoch_deadline` before
//! each call), as a server calls, also from two threads at once (time per
//! call on each). `host_call`: wasm calls an imported
//! host function `inc(i32) -> i32` 1,000 times in a loop, typed
//! (`Linker::func_wrap`), working on `Val`s (`Linker::func_new`), and
//! written in C (`wasmc_linker_define_func`, `wasmc_c`); one iteration is
//! 1,000 host calls. Both sides' code has an epoch check at
//! function entry and loop headers except plain `wasmtime` (its default
//! has none).
//!
//! `cargo bench -p wasmc-benches --features wasmtime --bench call`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use wasmc::BoundsChecks;
use wasmc_benches::wt::{self, Flavor};
use wasmc_loader::{FuncType, Instance, Linker, Store, Val, ValType};

/// Calls the imported `inc` `n` times, feeding each result to the next.
const HOST_CALLS: &str = r#"(module
  (import "host" "inc" (func $inc (param i32) (result i32)))
  (func (export "calls") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $inc (local.get $acc)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $acc)))"#;

fn call(c: &mut Criterion) {
    let wasm = wasmc_benches::wat_to_wasm(wasmc_benches::SMALL_PLUGIN);
    let mut group = c.benchmark_group("call");

    let (mut store, instance) = wasmc_benches::instantiate_wasm(&wasm, &wasmc_benches::options(BoundsChecks::Guard));
    let typed = instance.get_typed_func::<(i32, i32), i32>(&store, "add").expect("typed export");
    group.bench_function("wasmc_typed", |b| b.iter(|| typed.call(&mut store, (1, 2)).expect("runs")));
    let func = instance.get_func(&store, "add").expect("export");
    group.bench_function("wasmc_untyped", |b| {
        b.iter(|| func.call(&mut store, &[Val::I32(1), Val::I32(2)]).expect("runs"))
    });
    c_api_call(&mut group, "wasmc_c", &wasm, c"add", &[1, 2], 3);
    // As a server calls: every call under a deadline.
    store.set_call_timeout(Some(Duration::from_secs(1)));
    group.bench_function("wasmc_typed_deadline", |b| b.iter(|| typed.call(&mut store, (1, 2)).expect("runs")));
    // The same on two threads at once, each with its own store: what the
    // deadline's process-wide bookkeeping costs when workers share it.
    let module = wasmc_benches::load(&wasmc_benches::compile(&wasm, &wasmc_benches::options(BoundsChecks::Guard)));
    group.bench_function("wasmc_typed_deadline_2_threads", |b| {
        b.iter_custom(|iters| {
            let started = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        let mut store = Store::default();
                        store.set_call_timeout(Some(Duration::from_secs(1)));
                        let instance = Instance::new(&mut store, &module, &Linker::new()).expect("instantiates");
                        let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add").expect("typed export");
                        for _ in 0..iters {
                            add.call(&mut store, (1, 2)).expect("runs");
                        }
                    });
                }
            });
            started.elapsed()
        })
    });

    for flavor in [Flavor::Default, Flavor::Epoch] {
        let engine = wt::engine(flavor);
        let module = wasmtime::Module::new(&engine, &wasm).expect("compiles");
        let mut store = wt::store(&engine);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiates");
        let typed = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add").expect("typed export");
        group.bench_function(format!("{}_typed", flavor.name()), |b| {
            b.iter(|| typed.call(&mut store, (1, 2)).expect("runs"))
        });
        if flavor == Flavor::Epoch {
            group.bench_function("wasmtime_epoch_typed_deadline", |b| {
                b.iter(|| {
                    store.set_epoch_deadline(1000);
                    typed.call(&mut store, (1, 2)).expect("runs")
                })
            });
        }
        let func = instance.get_func(&mut store, "add").expect("export");
        let mut results = [wasmtime::Val::I32(0)];
        group.bench_function(format!("{}_untyped", flavor.name()), |b| {
            b.iter(|| {
                func.call(&mut store, &[wasmtime::Val::I32(1), wasmtime::Val::I32(2)], &mut results).expect("runs")
            })
        });
    }
    group.finish();
}

fn host_call(c: &mut Criterion) {
    let wasm = wasmc_benches::wat_to_wasm(HOST_CALLS);
    let module = wasmc_benches::load(&wasmc_benches::compile(&wasm, &wasmc_benches::options(BoundsChecks::Guard)));
    let mut group = c.benchmark_group("host_call");

    let mut typed = Linker::new();
    typed.func_wrap("host", "inc", |x: i32| x.wrapping_add(1));
    let mut dynamic = Linker::new();
    let ty = FuncType { params: vec![ValType::I32], results: vec![ValType::I32] };
    dynamic.func_new("host", "inc", ty, |_, args: &[Val], results: &mut [Val]| {
        if let (Val::I32(x), Some(out)) = (args[0], results.first_mut()) {
            *out = Val::I32(x.wrapping_add(1));
        }
        Ok(())
    });
    for (name, linker) in [("wasmc_typed", &typed), ("wasmc_untyped", &dynamic)] {
        let mut store = Store::default();
        let instance = Instance::new(&mut store, &module, linker).expect("instantiates");
        let calls = instance.get_typed_func::<i32, i32>(&store, "calls").expect("typed export");
        group.bench_function(name, |b| b.iter(|| assert_eq!(calls.call(&mut store, 1000).expect("runs"), 1000)));
    }

    c_api_call(&mut group, "wasmc_c", &wasm, c"calls", &[1000], 1000);

    for flavor in [Flavor::Default, Flavor::Epoch] {
        let engine = wt::engine(flavor);
        let module = wasmtime::Module::new(&engine, &wasm).expect("compiles");
        let mut typed = wasmtime::Linker::new(&engine);
        typed.func_wrap("host", "inc", |x: i32| x.wrapping_add(1)).expect("defines");
        let mut dynamic = wasmtime::Linker::new(&engine);
        let ty = wasmtime::FuncType::new(&engine, [wasmtime::ValType::I32], [wasmtime::ValType::I32]);
        dynamic
            .func_new("host", "inc", ty, |_, args, results| {
                results[0] = wasmtime::Val::I32(args[0].unwrap_i32().wrapping_add(1));
                Ok(())
            })
            .expect("defines");
        for (kind, linker) in [("typed", &typed), ("untyped", &dynamic)] {
            let mut store = wt::store(&engine);
            let instance = linker.instantiate(&mut store, &module).expect("instantiates");
            let calls = instance.get_typed_func::<i32, i32>(&mut store, "calls").expect("typed export");
            group.bench_function(format!("{}_{kind}", flavor.name()), |b| {
                b.iter(|| assert_eq!(calls.call(&mut store, 1000).expect("runs"), 1000))
            });
        }
    }
    group.finish();
}

/// `name`: the export `export` of `wasm` called with `args` through the C
/// API (`include/wasmc.h`), with `host.inc` a C function, as a C server
/// defines and calls them.
fn c_api_call(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    wasm: &[u8],
    export: &std::ffi::CStr,
    args: &[i32],
    expected: i32,
) {
    use std::ptr;
    use wasmc_capi::{error, instance, linker, module, store, val};

    unsafe extern "C" fn inc(
        _env: *mut std::ffi::c_void,
        _caller: *mut linker::wasmc_caller_t<'_>,
        args: *const val::wasmc_val_t,
        _nargs: usize,
        results: *mut val::wasmc_val_t,
        _nresults: usize,
    ) -> *mut error::wasmc_trap_t {
        // SAFETY: the function is defined as (i32) -> (i32): one argument
        // and one result slot, both i32.
        unsafe { (*results).of.i32 = (*args).of.i32.wrapping_add(1) };
        ptr::null_mut()
    }

    let artifact = wasmc_benches::compile(wasm, &wasmc_benches::options(BoundsChecks::Guard));
    let ok = |e: *mut error::wasmc_error_t| assert!(e.is_null(), "the C API fails");
    let i32_kind = [val::WASMC_I32];
    let (mut module, mut instance, mut func) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    let mut trap = ptr::null_mut();
    // SAFETY: every pointer passed is live or an out-parameter to fill,
    // strings are NUL-terminated, and `inc` matches the declared type.
    let (store, linker) = unsafe {
        ok(module::wasmc_module_from_bytes(artifact.as_ptr(), artifact.len(), &mut module));
        let linker = linker::wasmc_linker_new();
        ok(linker::wasmc_linker_define_func(
            linker,
            c"host".as_ptr(),
            c"inc".as_ptr(),
            i32_kind.as_ptr(),
            1,
            i32_kind.as_ptr(),
            1,
            Some(inc),
            ptr::null_mut(),
            None,
        ));
        let store = store::wasmc_store_new(ptr::null(), ptr::null_mut(), None);
        ok(instance::wasmc_linker_instantiate(linker, store, module, &mut instance, &mut trap));
        ok(instance::wasmc_instance_get_func(store, instance, export.as_ptr(), &mut func));
        (store, linker)
    };
    let args: Vec<val::wasmc_val_t> =
        args.iter().map(|&i32| val::wasmc_val_t { kind: val::WASMC_I32, of: val::wasmc_valunion_t { i32 } }).collect();
    let mut result = val::wasmc_val_t { kind: val::WASMC_I32, of: val::wasmc_valunion_t { i32: 0 } };
    group.bench_function(name, |b| {
        b.iter(|| {
            // SAFETY: as above; the export takes these arguments and
            // returns one i32.
            unsafe { ok(instance::wasmc_func_call(store, func, args.as_ptr(), args.len(), &mut result, 1, &mut trap)) };
            // SAFETY: the export returns an i32.
            assert_eq!(unsafe { result.of.i32 }, expected);
        })
    });
    // SAFETY: each handle is live and freed once.
    unsafe {
        instance::wasmc_func_delete(func);
        instance::wasmc_instance_delete(instance);
        store::wasmc_store_delete(store);
        linker::wasmc_linker_delete(linker);
        module::wasmc_module_delete(module);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = call, host_call
}
criterion_main!(benches);
