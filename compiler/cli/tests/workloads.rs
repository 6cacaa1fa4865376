//! The benchmark workloads in `corpus/workloads/` (Rust compiled to
//! wasm32-unknown-unknown, committed as .wasm) give, through wasmc and the
//! loader and in both bounds-check modes, the checksums that the native build
//! of the same source wrote to `corpus/workloads/expected.txt`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wasmc_loader::{Linker, Store};

/// Every module the corpus commits, and so every module expected.txt must cover.
const MODULES: [&str; 7] = ["json", "regex", "markdown", "sha2", "deflate", "headers", "tiny"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/workloads")
}

/// expected.txt as module name -> [(n, checksum)].
fn expected() -> BTreeMap<String, Vec<(i32, u64)>> {
    let text = std::fs::read_to_string(dir().join("expected.txt")).expect("corpus/workloads/expected.txt");
    let mut cases: BTreeMap<String, Vec<(i32, u64)>> = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [name, n, checksum] = words[..] else { panic!("expected.txt line is not `name n checksum`: {line}") };
        let n = n.parse().unwrap_or_else(|e| panic!("bad n in {line:?}: {e}"));
        let checksum = checksum.parse().unwrap_or_else(|e| panic!("bad checksum in {line:?}: {e}"));
        cases.entry(name.to_string()).or_default().push((n, checksum));
    }
    cases
}

fn wasm(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("{name}.wasm"))).unwrap_or_else(|e| panic!("{name}.wasm: {e}"))
}

#[test]
fn workloads_give_the_native_checksums_in_both_modes() {
    let cases = expected();
    assert_eq!(cases.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut names = MODULES.to_vec();
        names.sort_unstable();
        names
    });
    for (name, runs) in &cases {
        let wasm = wasm(name);
        for mode in common::MODES {
            let artifact = wasmc::compile(&wasm, &common::options(mode))
                .unwrap_or_else(|e| panic!("{name}.wasm ({mode:?}) does not compile: {e}"));
            let module = common::load(&artifact).expect("fresh artifact loads");
            assert!(module.imports().is_empty(), "{name}.wasm must import nothing");
            for &(n, checksum) in runs {
                // A fresh instance per run, as a server instantiating per request would.
                let mut store = Store::default();
                let instance = wasmc_loader::Instance::new(&mut store, &module, &Linker::new())
                    .unwrap_or_else(|e| panic!("{name}.wasm ({mode:?}) does not instantiate: {e}"));
                let run = instance.get_typed_func::<i32, i64>(&store, "run").expect("run: (i32) -> i64");
                let got = run.call(&mut store, n).unwrap_or_else(|e| panic!("{name} run({n}) ({mode:?}): {e}"));
                assert_eq!(got as u64, checksum, "{name} run({n}) ({mode:?}) differs from the native build");
            }
        }
    }
}

/// The start-up latency path the benchmarks time: `wasmc compile`, then
/// `wasmrun --invoke run tiny.cwasm N`.
#[test]
fn tiny_plugin_runs_under_wasmrun() {
    let (n, checksum) = expected()["tiny"][0];
    let scratch = std::env::temp_dir().join(format!("wasmc-workloads-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let artifact = scratch.join("tiny.cwasm");
    let artifact = artifact.to_str().unwrap();
    let source = dir().join("tiny.wasm");
    let out = common::wasmc(&["compile", source.to_str().unwrap(), "-o", artifact]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let out = common::wasmrun(&["--invoke", "run", artifact, &n.to_string()]);
    assert_eq!(common::text(&out.stdout), format!("{}\n", checksum as i64), "{}", common::text(&out.stderr));
    std::fs::remove_dir_all(&scratch).unwrap();
}
