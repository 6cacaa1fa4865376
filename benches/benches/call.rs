//! Host-to-wasm call of a trivial export `add(i32, i32) -> i32`, typed
//! (`TypedFunc`) and untyped (`Func::call` with `Val`s), wasmc against
//! wasmtime. Both sides' code has an epoch check at function entry except
//! plain `wasmtime` (its default has none).
//!
//! `cargo bench -p wasmc-benches --features wasmtime --bench call`

use criterion::{criterion_group, criterion_main, Criterion};
use wasmc::BoundsChecks;
use wasmc_benches::wt::{self, Flavor};
use wasmc_loader::Val;

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

    for flavor in [Flavor::Default, Flavor::Epoch] {
        let engine = wt::engine(flavor);
        let module = wasmtime::Module::new(&engine, &wasm).expect("compiles");
        let mut store = wt::store(&engine);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiates");
        let typed = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add").expect("typed export");
        group.bench_function(format!("{}_typed", flavor.name()), |b| {
            b.iter(|| typed.call(&mut store, (1, 2)).expect("runs"))
        });
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = call
}
criterion_main!(benches);
