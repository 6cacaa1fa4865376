//! Load: artifact file to ready module. wasmc's `Module::from_file` (all
//! checks including the CRC-32 checksum), `from_file_trusted` (checksum
//! skipped) and `from_file_signed` (reads the file, checks the Ed25519
//! signature and the checksum) against wasmtime's `Module::deserialize_file`
//! (header and engine-compatibility checks; wasmtime has no checksum), for
//! a small and a large module, then again with 1,000 other modules loaded.
//! Dropping the module is inside the measured loop on both sides.
//!
//! `cargo bench -p wasmc-benches --features wasmtime --bench load`

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use wasmc_benches::wt::{self, Flavor};
use wasmc_loader::{Module, TrustedKeys};

struct Files {
    name: &'static str,
    wasmc: PathBuf,
    signed: PathBuf,
    wasmtime: PathBuf,
}

fn prepare(
    dir: &Path,
    name: &'static str,
    wasm: &[u8],
    key: &wasmc::sign::SecretKey,
    engine: &wasmtime::Engine,
) -> Files {
    let artifact = wasmc_benches::compile(wasm, &wasmc_benches::options(wasmc::BoundsChecks::Guard));
    let signed = wasmc::sign::sign_artifact(&artifact, key).expect("signs");
    let serialized = engine.precompile_module(wasm).expect("wasmtime compiles");
    eprintln!(
        "load/{name}: wasm {} B, wasmc artifact {} B, wasmtime artifact {} B",
        wasm.len(),
        artifact.len(),
        serialized.len()
    );
    Files {
        name,
        wasmc: wasmc_benches::write_file(dir, &format!("{name}.cwasm"), &artifact),
        signed: wasmc_benches::write_file(dir, &format!("{name}.signed.cwasm"), &signed),
        wasmtime: wasmc_benches::write_file(dir, &format!("{name}.wasmtime"), &serialized),
    }
}

fn bench_files(c: &mut Criterion, files: &[Files], keys: &TrustedKeys, engine: &wasmtime::Engine, suffix: &str) {
    for f in files {
        let mut group = c.benchmark_group(format!("load/{}{suffix}", f.name));
        group.bench_function("wasmc_trusted_no_checksum", |b| {
            // SAFETY: the file was compiled by wasmc in this process.
            b.iter(|| unsafe { Module::from_file_trusted(&f.wasmc) }.expect("loads"))
        });
        group.bench_function("wasmc_checksum", |b| {
            // SAFETY: the file was compiled by wasmc in this process.
            b.iter(|| unsafe { Module::from_file(&f.wasmc) }.expect("loads"))
        });
        group.bench_function("wasmc_signed", |b| b.iter(|| Module::from_file_signed(&f.signed, keys).expect("loads")));
        group.bench_function("wasmtime_deserialize_file", |b| {
            // SAFETY: the file was serialized by this engine in this process.
            b.iter(|| unsafe { wasmtime::Module::deserialize_file(engine, &f.wasmtime) }.expect("loads"))
        });
        group.finish();
    }
}

fn load(c: &mut Criterion) {
    let dir = wasmc_benches::scratch_dir("load");
    let key = wasmc::sign::generate().expect("key generation");
    let mut keys = TrustedKeys::new();
    keys.add(key.public_bytes());
    let engine = wt::engine(Flavor::Default);
    let files = [
        prepare(&dir, "small", &wasmc_benches::wat_to_wasm(wasmc_benches::SMALL_PLUGIN), &key, &engine),
        prepare(&dir, "large", &wasmc_benches::large_module(), &key, &engine),
    ];
    bench_files(c, &files, &keys, &engine, "");

    // 1,000 other modules alive (each its own file and mapping), then the
    // same measurements again.
    let other = wasmc_benches::wat_to_wasm(wasmc_benches::SMALL_PLUGIN);
    let artifact = wasmc_benches::compile(&other, &wasmc_benches::options(wasmc::BoundsChecks::Guard));
    let serialized = engine.precompile_module(&other).expect("wasmtime compiles");
    let mut alive_wasmc = Vec::new();
    let mut alive_wasmtime = Vec::new();
    for i in 0..1000 {
        let path = wasmc_benches::write_file(&dir, &format!("other{i}.cwasm"), &artifact);
        // SAFETY: the file was compiled by wasmc in this process.
        alive_wasmc.push(unsafe { Module::from_file(&path) }.expect("loads"));
        let path = wasmc_benches::write_file(&dir, &format!("other{i}.wasmtime"), &serialized);
        // SAFETY: the file was serialized by this engine in this process.
        alive_wasmtime.push(unsafe { wasmtime::Module::deserialize_file(&engine, &path) }.expect("loads"));
    }
    bench_files(c, &files, &keys, &engine, "/after_1000");
    drop((alive_wasmc, alive_wasmtime));
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = load
}
criterion_main!(benches);
