//! Execution time of each corpus workload: wasmc in guard and explicit
//! mode for the host's portable baseline, wasmc in guard mode for the host
//! (`--target native`, like wasmtime, which compiles for the CPU it runs
//! on), wasmtime with its defaults, with epoch checks (as wasmc's code
//! always has), and with explicit bounds checks, and the native build of
//! the same source. Every side's result is checked equal first.
//!
//! The workloads: the Rust ones of `corpus/workloads/` (json, regex,
//! markdown, sha2, deflate, headers; `run(1)`, one unit of work), then the
//! small `.wat` kernels (fib, sieve, crc32, matmul).
//!
//! `cargo bench -p wasmc-benches --features wasmtime --bench execution`

use criterion::{criterion_group, criterion_main, Criterion};
use wasmc::{BoundsChecks, CompileOptions};
use wasmc_benches::wt::{self, Flavor};
use wasmc_benches::Workload;

fn wasmc_side(workload: &Workload, options: &CompileOptions) -> impl FnMut() -> u64 {
    let (mut store, instance) = wasmc_benches::instantiate_wasm(&workload.wasm, options);
    let func = instance.get_func(&store, workload.export).expect("export exists");
    let arg = workload.arg;
    move || {
        let results = func.call(&mut store, &[wasmc_loader::Val::I32(arg)]).expect("runs");
        match results[..] {
            [wasmc_loader::Val::I32(v)] => u64::from(v as u32),
            [wasmc_loader::Val::I64(v)] => v as u64,
            [wasmc_loader::Val::F64(bits)] => bits,
            _ => panic!("unexpected results {results:?}"),
        }
    }
}

fn wasmtime_side(workload: &Workload, flavor: Flavor) -> impl FnMut() -> u64 {
    let engine = wt::engine(flavor);
    let module = wasmtime::Module::new(&engine, &workload.wasm).expect("compiles");
    let mut store = wt::store(&engine);
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiates");
    let func = instance.get_func(&mut store, workload.export).expect("export exists");
    let arg = workload.arg;
    let mut results = [wasmtime::Val::I32(0)];
    move || {
        func.call(&mut store, &[wasmtime::Val::I32(arg)], &mut results).expect("runs");
        match results[0] {
            wasmtime::Val::I32(v) => u64::from(v as u32),
            wasmtime::Val::I64(v) => v as u64,
            wasmtime::Val::F64(bits) => bits,
            ref other => panic!("unexpected result {other:?}"),
        }
    }
}

fn execution(c: &mut Criterion) {
    for workload in wasmc_benches::rust_workloads().into_iter().chain(wasmc_benches::workloads()) {
        let mut group = c.benchmark_group(format!("execution/{}", workload.name));
        let expected = (workload.native)(workload.arg as u32);
        let for_host = CompileOptions {
            target: wasmc_targets::resolve(Some("native")).expect("the host resolves"),
            ..wasmc_benches::options(BoundsChecks::Guard)
        };
        let mut sides: Vec<(String, Box<dyn FnMut() -> u64>)> = vec![
            ("wasmc_guard".into(), Box::new(wasmc_side(&workload, &wasmc_benches::options(BoundsChecks::Guard)))),
            ("wasmc_explicit".into(), Box::new(wasmc_side(&workload, &wasmc_benches::options(BoundsChecks::Explicit)))),
            ("wasmc_native".into(), Box::new(wasmc_side(&workload, &for_host))),
        ];
        for flavor in [Flavor::Default, Flavor::Epoch, Flavor::Explicit] {
            sides.push((flavor.name().into(), Box::new(wasmtime_side(&workload, flavor))));
        }
        for (name, mut run) in sides {
            assert_eq!(run(), expected, "{name} computes what native {} computes", workload.name);
            group.bench_function(name, |b| b.iter(&mut run));
        }
        let native = workload.native;
        let arg = workload.arg as u32;
        group.bench_function("native", |b| b.iter(|| native(std::hint::black_box(arg))));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = execution
}
criterion_main!(benches);
