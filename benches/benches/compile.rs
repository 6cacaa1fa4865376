//! Compile throughput (wasm bytes per second): `wasmc::compile` for the
//! x86_64 and aarch64 baselines against wasmtime's `Module::new` and
//! `Engine::precompile_module` (without epoch checks) and `Module::new` with
//! epoch interruption (like wasmc's code), on one thread and on every core.
//!
//! `cargo bench -p wasmc-benches --features wasmtime --bench compile`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use wasmc::CompileOptions;
use wasmc_benches::wt::{self, Flavor};

fn target(name: &str) -> CompileOptions {
    let target = wasmc_targets::resolve(Some(name)).expect("baseline presets resolve");
    CompileOptions { target, ..CompileOptions::default() }
}

fn compile(c: &mut Criterion) {
    let x86_64 = target("x86_64");
    let aarch64 = target("aarch64");
    let all_cores = rayon::current_num_threads();
    let mut group = c.benchmark_group("compile");
    group.sampling_mode(SamplingMode::Flat);
    for (module, wasm) in wasmc_benches::compile_corpus() {
        group.throughput(Throughput::Bytes(wasm.len() as u64));
        for threads in [1, all_cores] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
            let mut config = wt::config(Flavor::Default);
            config.parallel_compilation(threads > 1);
            let engine = wasmtime::Engine::new(&config).expect("wasmtime engine");
            let id = |what: &str| BenchmarkId::new(format!("{what}/threads={threads}"), &module);
            group.bench_function(id("wasmc_x86_64"), |b| {
                b.iter(|| pool.install(|| wasmc::compile(&wasm, &x86_64).expect("compiles")))
            });
            group.bench_function(id("wasmc_aarch64"), |b| {
                b.iter(|| pool.install(|| wasmc::compile(&wasm, &aarch64).expect("compiles")))
            });
            group.bench_function(id("wasmtime_module_new"), |b| {
                b.iter(|| pool.install(|| wasmtime::Module::new(&engine, &wasm).expect("compiles")))
            });
            group.bench_function(id("wasmtime_precompile"), |b| {
                b.iter(|| pool.install(|| engine.precompile_module(&wasm).expect("compiles")))
            });
            // Like for like with wasmc's code, which always has epoch checks.
            let mut config = wt::config(Flavor::Epoch);
            config.parallel_compilation(threads > 1);
            let epoch_engine = wasmtime::Engine::new(&config).expect("wasmtime engine");
            group.bench_function(id("wasmtime_epoch_module_new"), |b| {
                b.iter(|| pool.install(|| wasmtime::Module::new(&epoch_engine, &wasm).expect("compiles")))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = compile
}
criterion_main!(benches);
