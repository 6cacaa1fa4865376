//! Helpers shared by the end-to-end tests: compile text with given options
//! and instantiate the artifact through the loader, as a server would.

#![allow(dead_code, reason = "each test file uses a different subset")]

use wasmc::{compile, BoundsChecks, CompileOptions};
use wasmc_loader::{Config, Error, Instance, Linker, Module, Store, TrapKind, Val};

/// Both bounds-check modes, for tests that must hold in each.
pub const MODES: [BoundsChecks; 2] = [BoundsChecks::Guard, BoundsChecks::Explicit];

/// Host-baseline options with the given bounds-check mode.
pub fn options(mode: BoundsChecks) -> CompileOptions {
    CompileOptions { bounds_checks: mode, ..CompileOptions::default() }
}

/// Compiles WebAssembly text to artifact bytes.
pub fn artifact(wat: &str, mode: BoundsChecks) -> Vec<u8> {
    let wasm = wat::parse_str(wat).expect("test module should be valid text");
    compile(&wasm, &options(mode)).expect("test module should compile")
}

/// Loads artifact bytes that a test produced or derived itself.
pub fn load(bytes: &[u8]) -> Result<Module, wasmc_loader::LoadError> {
    // SAFETY: tests load only artifacts they compiled (or damaged) themselves.
    unsafe { Module::from_bytes(bytes) }
}

/// Compiles and loads WebAssembly text.
pub fn module(wat: &str, mode: BoundsChecks) -> Module {
    load(&artifact(wat, mode)).expect("fresh artifact should load")
}

/// Compiles, loads and instantiates WebAssembly text with no imports.
pub fn instance(wat: &str, mode: BoundsChecks) -> (Store, Instance) {
    instance_with(wat, mode, &Linker::new(), Config::default())
}

/// Compiles, loads and instantiates WebAssembly text.
pub fn instance_with(wat: &str, mode: BoundsChecks, linker: &Linker, config: Config) -> (Store, Instance) {
    let mut store = Store::new(config);
    let instance = Instance::new(&mut store, &module(wat, mode), linker).expect("instantiation should succeed");
    (store, instance)
}

/// A module whose data segments make a memory image: `fill_len` bytes of
/// "abab…" at 100, "XYZ" over part of them at 101, "far" at 200000, zero
/// pages between; memory of 4 pages (max 8), exports `poke(addr)` (stores
/// 0x21) and `grow(pages)`.
pub fn image_module(fill_len: usize) -> String {
    let fill = "ab".repeat(fill_len / 2);
    format!(
        r#"(module (memory (export "mem") 4 8)
          (data (i32.const 100) "{fill}")
          (data (i32.const 101) "XYZ")
          (data (i32.const 200000) "far")
          (func (export "poke") (param i32) (i32.store8 (local.get 0) (i32.const 0x21)))
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#
    )
}

/// A command that runs `program`, a binary built for this test's target.
///
/// When the tests themselves run under an emulator (cargo's `runner`, e.g.
/// `qemu-aarch64` on an x86_64 host, where the kernel cannot exec aarch64
/// binaries without binfmt), a child must run under it too:
/// `scripts/test-aarch64` names it in `WASMC_TEST_RUNNER` (a space-separated
/// command), and it is put in front of `program`.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let runner = std::env::var("WASMC_TEST_RUNNER").unwrap_or_default();
    let mut runner = runner.split_whitespace();
    match runner.next() {
        Some(emulator) => {
            let mut command = std::process::Command::new(emulator);
            command.args(runner).arg(program);
            command
        }
        None => std::process::Command::new(program),
    }
}

/// Program output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The i32 results of a call.
pub fn i32s(values: Vec<Val>) -> Vec<i32> {
    values.iter().map(|v| if let Val::I32(x) = v { *x } else { panic!("not an i32: {v:?}") }).collect()
}

/// The message of an `Interrupted` trap (deadline or fuel); panics on any
/// other outcome.
pub fn interrupted(result: Result<Vec<Val>, Error>) -> String {
    match result {
        Err(Error::Trap(t)) if t.kind == TrapKind::Interrupted => t.message.unwrap_or_default(),
        other => panic!("expected an interrupted trap, got {other:?}"),
    }
}

/// Offset of a byte inside the text section (machine code) of `artifact`.
pub fn code_byte(artifact: &[u8]) -> usize {
    use object::{Object as _, ObjectSection as _};
    let file = object::File::parse(artifact).unwrap();
    let (offset, _) = file.section_by_name(".text").unwrap().file_range().unwrap();
    offset as usize + 1
}

/// Stores a correct checksum for `bytes`, as a forger would.
pub fn fix_checksum(bytes: &mut [u8]) {
    wasmc_artifact::checksum::fill(bytes).unwrap();
}
