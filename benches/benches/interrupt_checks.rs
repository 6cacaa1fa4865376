//! What the interruption checks cost: loop-heavy corpus programs compiled
//! without epoch checks (benchmark-only option), with them (the default),
//! and with fuel metering on top.
//!
//! `cargo bench -p wasmc-benches --bench interrupt_checks`

use criterion::{criterion_group, criterion_main, Criterion};
use wasmc::CompileOptions;
use wasmc_loader::Val;

fn variants() -> [(&'static str, CompileOptions); 3] {
    let base = CompileOptions::default();
    [
        ("no_checks", CompileOptions { omit_epoch_checks_for_benchmarks: true, ..base.clone() }),
        ("epoch", base.clone()),
        ("epoch_and_fuel", CompileOptions { fuel_metering: true, ..base }),
    ]
}

fn bench(c: &mut Criterion, program: &str, export: &str, arg: i32) {
    let text = wasmc_benches::corpus(program);
    let mut group = c.benchmark_group(format!("interrupt_checks/{export}"));
    for (name, options) in variants() {
        let (mut store, instance) = wasmc_benches::instantiate(&text, &options);
        store.set_fuel(u64::MAX);
        store.set_call_timeout(Some(std::time::Duration::from_secs(60)));
        let func = instance.get_func(&store, export).expect("export exists");
        group.bench_function(name, |b| {
            b.iter(|| func.call(&mut store, &[Val::I32(arg)]).expect("runs"));
        });
    }
    group.finish();
}

fn interrupt_checks(c: &mut Criterion) {
    bench(c, "sieve.wat", "count_primes", 100_000);
    bench(c, "fib.wat", "fib", 20);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = interrupt_checks
}
criterion_main!(benches);
