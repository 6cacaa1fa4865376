//! Helpers shared by the benchmarks in `benches/`: corpus programs, compiled
//! artifacts on disk, and (with the `wasmtime` feature) wasmtime engines
//! configured like wasmc.

use std::path::{Path, PathBuf};

use wasmc::{BoundsChecks, CompileOptions};
use wasmc_loader::{Instance, Linker, Module, Store};

#[cfg(feature = "wasmtime")]
pub mod wt;

pub mod native;

/// The repository's `corpus/` directory.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

/// The text of `corpus/<name>`.
///
/// # Panics
/// If the file cannot be read (benchmarks run from the repository).
pub fn corpus(name: &str) -> String {
    let path = corpus_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The wasm binary of a corpus program: `.wat` text is assembled, `.wasm`
/// read as is.
///
/// # Panics
/// If the file cannot be read or assembled.
pub fn corpus_wasm(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    if name.ends_with(".wat") {
        wat::parse_file(&path).unwrap_or_else(|e| panic!("assembling {}: {e}", path.display()))
    } else {
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }
}

/// Compile options for the host baseline with `mode` bounds checks.
pub fn options(mode: BoundsChecks) -> CompileOptions {
    CompileOptions { bounds_checks: mode, ..CompileOptions::default() }
}

/// Compiles `wasm` with `options`.
///
/// # Panics
/// If it does not compile.
pub fn compile(wasm: &[u8], options: &CompileOptions) -> Vec<u8> {
    wasmc::compile(wasm, options).expect("benchmark programs compile")
}

/// Loads an artifact this process compiled.
///
/// # Panics
/// If it does not load.
pub fn load(artifact: &[u8]) -> Module {
    // SAFETY: every artifact the benchmarks load was compiled by wasmc in
    // this process.
    unsafe { Module::from_bytes(artifact) }.expect("fresh artifacts load")
}

/// Compiles `wat` with `options` and instantiates it in a fresh store.
///
/// # Panics
/// If the program does not compile, load or instantiate.
pub fn instantiate(wat: &str, options: &CompileOptions) -> (Store, Instance) {
    let wasm = wat::parse_str(wat).expect("corpus programs are valid text");
    instantiate_wasm(&wasm, options)
}

/// Compiles `wasm` with `options` and instantiates it in a fresh store.
///
/// # Panics
/// If the program does not compile, load or instantiate.
pub fn instantiate_wasm(wasm: &[u8], options: &CompileOptions) -> (Store, Instance) {
    let module = load(&compile(wasm, options));
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).expect("corpus programs instantiate");
    (store, instance)
}

/// A fresh scratch directory for benchmark files in the system's temporary
/// directory, named for this process and `name`.
///
/// # Panics
/// If it cannot be created.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-benches-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// Writes `bytes` to `dir/name` and returns the path.
///
/// # Panics
/// If the file cannot be written.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// A plugin-like module for instantiation and call benchmarks: one page of
/// memory with a data segment, a 4-element table, a mutable global, and a
/// trivial export `add(i32, i32) -> i32`.
pub const SMALL_PLUGIN: &str = r#"(module
  (memory (export "memory") 1 2)
  (data (i32.const 16) "plugin configuration")
  (table 4 funcref)
  (elem (i32.const 0) $add)
  (global $calls (mut i32) (i32.const 0))
  (func $add (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func (export "bump") (result i32)
    global.get $calls i32.const 1 i32.add global.set $calls global.get $calls))"#;

/// A large synthetic module: `funcs` functions, each a loop of memory and
/// arithmetic work, so its artifact is about `funcs` times 250 bytes of
/// code. Used where the corpus has no module of the wanted size.
pub fn synthetic_module(funcs: usize) -> Vec<u8> {
    let mut text = String::from("(module (memory 1)\n");
    for i in 0..funcs {
        text.push_str(&format!(
            "(func (export \"f{i}\") (param i32) (result i32) (local i32)
  (loop $l
    (local.set 1 (i32.add (local.get 1)
      (i32.load (i32.and (i32.mul (local.get 0) (i32.const {k})) (i32.const 0xfffc)))))
    (i32.store (i32.and (local.get 1) (i32.const 0xfffc)) (i32.xor (local.get 1) (i32.const {i})))
    (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
    (br_if $l (local.get 0)))
  (i32.rotl (local.get 1) (i32.const {r})))\n",
            k = 2 * i + 1,
            r = i % 31
        ));
    }
    text.push(')');
    wat::parse_str(&text).expect("the synthetic module is valid")
}

/// `BoundsChecks` name as used in benchmark ids.
pub fn mode_name(mode: BoundsChecks) -> &'static str {
    match mode {
        BoundsChecks::Guard => "guard",
        BoundsChecks::Explicit => "explicit",
    }
}

/// The wasm binary of module text.
///
/// # Panics
/// If the text is invalid.
pub fn wat_to_wasm(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("benchmark module text is valid")
}

/// The large module of the load benchmark: 8,000 synthetic functions
/// (about 2.5 MB of wasmc artifact).
pub fn large_module() -> Vec<u8> {
    synthetic_module(8000)
}

/// The modules whose compilation is measured, by name: the plugin-sized Rust
/// workloads of `corpus/workloads/` (json 167 KB, markdown 298 KB, regex
/// 1.1 MB of wasm).
pub fn compile_corpus() -> Vec<(String, Vec<u8>)> {
    ["json", "markdown", "regex"]
        .into_iter()
        .map(|name| (name.to_string(), corpus_wasm(&format!("workloads/{name}.wasm"))))
        .collect()
}

/// One workload of the execution benchmark.
pub struct Workload {
    /// Name in benchmark ids.
    pub name: &'static str,
    /// The module.
    pub wasm: Vec<u8>,
    /// The export to call with `arg`.
    pub export: &'static str,
    /// Argument.
    pub arg: i32,
    /// The native build of the same algorithm; returns the export's result
    /// as the bits of a `u64` (i32 zero-extended, f64 bit pattern).
    pub native: fn(u32) -> u64,
}

/// The execution benchmark's workloads: the `.wat` corpus programs with
/// their native Rust versions, sized to run for about a millisecond.
pub fn workloads() -> Vec<Workload> {
    let w = |name, file, export, arg, native| Workload { name, wasm: corpus_wasm(file), export, arg, native };
    vec![
        w("fib", "fib.wat", "fib", 25, |n| u64::from(native::fib(n))),
        w("sieve", "sieve.wat", "count_primes", 1_000_000, |n| u64::from(native::count_primes(n))),
        w("crc32", "crc32.wat", "run", 100_000, |n| u64::from(native::crc32_run(n))),
        w("matmul", "matmul.wat", "matmul", 64, |n| native::matmul(n).to_bits()),
    ]
}

/// The checksum `corpus/workloads/expected.txt` records for workload `name`
/// at `n`, if listed.
///
/// # Panics
/// If the file cannot be read or a line is malformed.
pub fn expected_checksum(name: &str, n: u32) -> Option<u64> {
    let text = corpus("workloads/expected.txt");
    text.lines().filter(|line| !line.starts_with('#') && !line.trim().is_empty()).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [file_name, file_n, checksum] = fields[..] else { panic!("malformed expected.txt line {line:?}") };
        let parse = |s: &str| s.parse::<u64>().unwrap_or_else(|e| panic!("expected.txt line {line:?}: {e}"));
        (file_name == name && parse(file_n) == u64::from(n)).then(|| parse(checksum))
    })
}

/// The Rust workloads of `corpus/workloads/` (json, regex, markdown, sha2,
/// deflate, headers): module `<name>.wasm`, export `run(n: i32) -> i64`
/// called with `n` = 1 (one unit of work, about 0.2 to 2 ms natively), and
/// the native build of the same source (`wasmc_workloads::WORKLOADS`).
///
/// # Panics
/// If a module cannot be read, or the native build's checksum differs from
/// the one `expected.txt` records.
#[cfg(feature = "wasmtime")]
pub fn rust_workloads() -> Vec<Workload> {
    wasmc_workloads::WORKLOADS
        .into_iter()
        .map(|(name, native)| {
            let arg = 1;
            let expected = expected_checksum(name, arg).unwrap_or_else(|| panic!("expected.txt lists {name} {arg}"));
            assert_eq!(native(arg), expected, "native {name}({arg}) matches corpus/workloads/expected.txt");
            Workload { name, wasm: corpus_wasm(&format!("workloads/{name}.wasm")), export: "run", arg: 1, native }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::expected_checksum;

    #[test]
    fn expected_checksums_are_read_from_the_corpus() {
        assert_eq!(expected_checksum("json", 1), Some(9_520_255_869_543_057_196));
        assert_eq!(expected_checksum("tiny", 12345), Some(11_613_906_213_746_014_520));
        assert_eq!(expected_checksum("json", 2), None);
        assert_eq!(expected_checksum("no_such_workload", 1), None);
    }
}
