//! Instantiation of a small plugin (one page of memory with a data
//! segment, a table with an element segment, a global): wasmc's
//! `Instance::new`, `InstancePool::instantiate` and
//! `InstancePool::instantiate_pre` (imports found once) against wasmtime's
//! default (on-demand) and pooling allocators, through an `InstancePre`.
//! Each iteration creates a store, instantiates, and drops the store (which
//! frees the instance or returns its slot) on both sides.
//!
//! `cargo bench -p wasmc-benches --features wasmtime --bench instantiate`

use criterion::{criterion_group, criterion_main, Criterion};
use wasmc::BoundsChecks;
use wasmc_benches::wt::{self, Flavor};
use wasmc_loader::{Instance, InstancePool, Linker, PoolConfig, Store};

fn instantiate(c: &mut Criterion) {
    let wasm = wasmc_benches::wat_to_wasm(wasmc_benches::SMALL_PLUGIN);
    let mut group = c.benchmark_group("instantiate");
    for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
        let module = wasmc_benches::load(&wasmc_benches::compile(&wasm, &wasmc_benches::options(mode)));
        let linker = Linker::new();
        let name = wasmc_benches::mode_name(mode);
        group.bench_function(format!("wasmc_{name}_instance_new"), |b| {
            b.iter(|| {
                let mut store = Store::default();
                Instance::new(&mut store, &module, &linker).expect("instantiates");
            })
        });
        let pool = InstancePool::new(&module, PoolConfig { capacity: 100, ..PoolConfig::default() }).expect("pool");
        group.bench_function(format!("wasmc_{name}_pool"), |b| {
            b.iter(|| {
                let mut store = Store::default();
                pool.instantiate(&mut store, &linker).expect("instantiates");
            })
        });
        let pre = linker.instantiate_pre(&module).expect("links");
        group.bench_function(format!("wasmc_{name}_pool_pre"), |b| {
            b.iter(|| {
                let mut store = Store::default();
                pool.instantiate_pre(&mut store, &pre).expect("instantiates");
            })
        });
    }
    for flavor in [Flavor::Default, Flavor::Explicit] {
        for (allocator, engine) in [("default", wt::engine(flavor)), ("pooling", wt::pooling_engine(flavor, 100))] {
            let module = wasmtime::Module::new(&engine, &wasm).expect("compiles");
            let pre = wasmtime::Linker::new(&engine).instantiate_pre(&module).expect("links");
            group.bench_function(format!("{}_{allocator}", flavor.name()), |b| {
                b.iter(|| {
                    let mut store = wt::store(&engine);
                    pre.instantiate(&mut store).expect("instantiates");
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = instantiate
}
criterion_main!(benches);
