//! Helpers shared by the benchmarks in `benches/`: compile a corpus program
//! with given options and get a callable instance.

use std::path::PathBuf;

use wasmc::CompileOptions;
use wasmc_loader::{Instance, Linker, Module, Store};

/// The text of `corpus/<name>`.
///
/// # Panics
/// If the file cannot be read (benchmarks run from the repository).
pub fn corpus(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Compiles `wat` with `options` and instantiates it in a fresh store.
///
/// # Panics
/// If the program does not compile, load or instantiate.
pub fn instantiate(wat: &str, options: &CompileOptions) -> (Store, Instance) {
    let wasm = wat::parse_str(wat).expect("corpus programs are valid text");
    let artifact = wasmc::compile(&wasm, options).expect("corpus programs compile");
    // SAFETY: the artifact was produced just above by this process.
    let module = unsafe { Module::from_bytes(&artifact) }.expect("fresh artifacts load");
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).expect("corpus programs instantiate");
    (store, instance)
}
