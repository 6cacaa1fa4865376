//! The fuzz targets' logic, shared by the libFuzzer entry points
//! (`fuzz_targets/`, run with `cargo fuzz`) and the deterministic smoke
//! runner (`src/bin/smoke.rs`, run on stable Rust in CI).
//!
//! Every target returns `Ok(())` for input that behaved, `Err(message)`
//! for a finding; the entry points panic on `Err` so libFuzzer records a
//! crash, and a panic inside wasmc is a finding too.

pub mod differential;

use arbitrary::Unstructured;
use wasmc::{compile, BoundsChecks, CompileOptions};
use wasmc_artifact::reader::{self, Layout};

/// Both bounds-check modes.
pub const MODES: [BoundsChecks; 2] = [BoundsChecks::Guard, BoundsChecks::Explicit];

/// Options for `mode` with the host's baseline target.
pub fn options(mode: BoundsChecks) -> CompileOptions {
    CompileOptions { bounds_checks: mode, ..CompileOptions::default() }
}

/// The wasm-smith configuration: exactly the features wasmc supports (Wasm
/// 2.0, extended constant expressions and tail calls), one memory, small
/// limits.
pub fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        simd_enabled: true,
        relaxed_simd_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        threads_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        // Wasm 3.0's, which wasmc compiles (wasmi enables both by default).
        // With no imports, extended constant expressions fold into
        // constants at compile time: the proposal's scripts cover the ones
        // that read globals.
        extended_const_enabled: true,
        tail_call_enabled: true,
        // Enabled by default in wasm-smith 0.254, none of them Wasm 2.0.
        wide_arithmetic_enabled: false,
        shared_everything_threads_enabled: false,
        custom_descriptors_enabled: false,
        max_memories: 1,
        max_memory32_bytes: 4 << 16,
        max_table_elements: 100,
        max_imports: 0,
        allow_start_export: false,
        export_everything: true,
        canonicalize_nans: true,
        ..wasm_smith::Config::default()
    }
}

/// Compiler robustness on arbitrary bytes: compiling never panics; bytes
/// that are not a valid module give an error.
pub fn compile_bytes(data: &[u8]) -> Result<(), String> {
    let valid = wasmparser_valid(data);
    for mode in MODES {
        match compile(data, &options(mode)) {
            Ok(_) if !valid => return Err(format!("{mode:?}: invalid module compiled")),
            _ => {}
        }
    }
    Ok(())
}

/// A cheap independent validity check: the wasm magic and version. Full
/// validation is the compiler's job; this only catches garbage accepted.
fn wasmparser_valid(data: &[u8]) -> bool {
    data.starts_with(b"\0asm\x01\0\0\0")
}

/// Compiler robustness on valid modules: every wasm-smith module (see
/// [`smith_config`]) compiles in both modes, and the artifact loads.
pub fn compile_smith(data: &[u8]) -> Result<(), String> {
    let mut u = Unstructured::new(data);
    let Ok(module) = wasm_smith::Module::new(smith_config(), &mut u) else { return Ok(()) };
    let wasm = module.to_bytes();
    for mode in MODES {
        let artifact = compile(&wasm, &options(mode)).map_err(|e| format!("{mode:?}: valid module refused: {e}"))?;
        // SAFETY: the artifact was just compiled by wasmc.
        unsafe { wasmc_loader::Module::from_bytes(&artifact) }
            .map_err(|e| format!("{mode:?}: fresh artifact refused: {e}"))?;
    }
    Ok(())
}

/// Loader robustness: a valid artifact (from the wasm-smith module made of
/// the first half of `data`), damaged as the second half says (bytes
/// flipped, cut short, bytes inserted), is refused with an error or, when
/// the damage left it byte-for-byte valid, loads; never a crash. Damaged
/// artifacts with a recomputed checksum go through the structural checks.
pub fn load_mutated(data: &[u8], base: &[u8]) -> Result<(), String> {
    let mut u = Unstructured::new(data);
    let mut bytes = base.to_vec();
    let edits: u8 = u.int_in_range(1..=8).unwrap_or(1);
    for _ in 0..edits {
        let len = bytes.len().max(1);
        let at: usize = u.int_in_range(0..=len - 1).unwrap_or(0);
        match u.int_in_range(0..=3u8).unwrap_or(0) {
            0 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= u.arbitrary::<u8>().unwrap_or(1).max(1);
                }
            }
            1 => bytes.truncate(at),
            2 => bytes.insert(at.min(bytes.len()), u.arbitrary().unwrap_or(0)),
            _ => {
                // Overwrite a little-endian u64 (offsets, sizes, counts).
                let v: u64 = u.arbitrary().unwrap_or(u64::MAX);
                for (i, b) in v.to_le_bytes().iter().enumerate() {
                    if let Some(x) = bytes.get_mut(at + i) {
                        *x = *b;
                    }
                }
            }
        }
    }
    let fix_crc: bool = u.arbitrary().unwrap_or(false);
    if fix_crc {
        fix_checksum(&mut bytes);
    }
    let changed = bytes != base;
    // SAFETY: the bytes are a wasmc artifact or a damaged copy of one; a
    // damaged copy must be refused (that is what this target checks) and
    // an undamaged one is the artifact we compiled.
    let result = unsafe { wasmc_loader::Module::from_bytes(&bytes) };
    // `inspect`'s path reads the same bytes without mapping them.
    let info = wasmc_artifact::ArtifactInfo::read(&bytes);
    if let Ok(module) = &result {
        // The per-function lists are read in place and checked where used:
        // look every export up and instantiate (which reads every function
        // record), without running code (damaged code may do anything).
        for export in module.exports() {
            let _ = (module.export(export.name), module.func_type_of(export.index));
        }
        let head = Layout::read(&bytes, reader::Checksum::Skip).and_then(|layout| layout.metadata(&bytes));
        if head.is_ok_and(|meta| meta.start.is_none()) {
            let mut store = wasmc_loader::Store::default();
            let _ = wasmc_loader::Instance::new(&mut store, module, &wasmc_loader::Linker::new());
        }
    }
    match (result, info, changed) {
        (Ok(_), _, true) if !fix_crc => Err("a damaged artifact with a stale checksum loaded".into()),
        (Err(e), _, false) => Err(format!("an undamaged artifact was refused: {e}")),
        (_, Ok(_), true) if !fix_crc => Err("inspect accepted a damaged artifact with a stale checksum".into()),
        _ => Ok(()),
    }
}

/// Recomputes the checksum the way the compiler does, when the section can
/// still be found; a forger can always do this.
pub fn fix_checksum(bytes: &mut [u8]) {
    // A damaged file whose checksum section cannot be found keeps its bytes.
    let _ = wasmc_artifact::checksum::fill(bytes);
}

/// The artifact that the loader target damages: a small module with code,
/// data, a table and exports, compiled once per mode.
pub fn load_base(mode: BoundsChecks) -> Vec<u8> {
    let wat = r#"(module (memory (export "m") 1 2) (data (i32.const 8) "hello") (table 2 funcref)
        (elem (i32.const 0) $f) (global (export "g") (mut i32) (i32.const 7))
        (func $f (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.load (i32.const 8)))))"#;
    let wasm = wat::parse_str(wat).expect("the base module is valid text");
    compile(&wasm, &options(mode)).expect("the base module compiles")
}
