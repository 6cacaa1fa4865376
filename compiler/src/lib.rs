//! The wasmc ahead-of-time compiler.
//!
//! [`compile`] turns a WebAssembly 2.0 module (with two features of Wasm
//! 3.0: tail calls and extended constant expressions) into a wasmc
//! artifact: an ELF object whose sections and metadata are described by
//! [`wasmc_abi`], ready for the wasmc loader.
//!
//! ```no_run
//! let wasm = std::fs::read("module.wasm").unwrap();
//! let artifact = wasmc::compile(&wasm, &wasmc::CompileOptions::default()).unwrap();
//! // A new file renamed into place, never a rewrite in place: modules
//! // already loaded from the old file keep running its code.
//! wasmc_artifact::files::replace("module.cwasm", &artifact, 0o644).unwrap();
//! ```
//!
//! The pipeline, one module per stage:
//!
//! 1. `validate`: the whole module against exactly the features wasmc
//!    supports (`validate::features`);
//! 2. `module`: parse it into a [`wasmc_abi::meta::ModuleMeta`] plus the
//!    function bodies;
//! 3. `codegen`: translate every function body with Cranelift (in
//!    parallel), using the `func_env` environment that implements the vmctx
//!    layout of [`wasmc_abi::vmctx`];
//! 4. `trampolines`: host-to-wasm and wasm-to-host trampolines per type;
//! 5. `link`: lay the code out in one text section and resolve calls;
//! 6. `artifact`: write the ELF file and its checksum.
//!
//! [`sign`] signs artifacts and makes key pairs. The file model both sides
//! share (checksum, signed message, key files, writing by rename) is
//! [`wasmc_artifact`]'s; this library never links the loader. The `wasmc`
//! binary is the `wasmc-cli` package, the spec-test runner `wasmc-wast`.

mod artifact;
mod codegen;
mod func_env;
mod image;
mod isa;
mod link;
mod module;
pub mod sign;
mod store_probe;
mod trampolines;
mod translate;
mod validate;

use std::fmt;

pub use codegen::MAX_FUNCTION_BODY_BYTES;
pub use wasmc_abi::BoundsChecks;

/// How hard Cranelift optimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptLevel {
    /// No optimisation: fastest compilation.
    None,
    /// Optimise for speed (the default).
    Speed,
    /// Optimise for speed and code size.
    Size,
}

impl OptLevel {
    /// The name used on the command line and in the artifact.
    pub fn name(self) -> &'static str {
        match self {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::Size => "size",
        }
    }

    /// Parses [`OptLevel::name`].
    pub fn from_name(name: &str) -> Option<OptLevel> {
        match name {
            "none" => Some(OptLevel::None),
            "speed" => Some(OptLevel::Speed),
            "size" => Some(OptLevel::Size),
            _ => None,
        }
    }
}

impl fmt::Display for OptLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to compile for and how.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Target architecture, triple and CPU features the code may use.
    pub target: wasmc_targets::Target,
    /// Optimisation level.
    pub opt_level: OptLevel,
    /// How linear-memory accesses are kept in bounds.
    pub bounds_checks: BoundsChecks,
    /// Count executed operators against the store's fuel
    /// (`Store::set_fuel`) and trap when it runs out. Recorded in the
    /// artifact's metadata.
    pub fuel_metering: bool,
    /// Benchmarks only: leave out the epoch deadline checks, to measure
    /// what they cost. Such code ignores `Store::set_call_timeout`.
    #[doc(hidden)]
    pub omit_epoch_checks_for_benchmarks: bool,
}

impl Default for CompileOptions {
    /// The host architecture's portable baseline, optimised for speed, with
    /// guard-page bounds checks.
    fn default() -> Self {
        let target = wasmc_targets::resolve(None).expect("the host baseline target always resolves");
        CompileOptions {
            target,
            opt_level: OptLevel::Speed,
            bounds_checks: BoundsChecks::Guard,
            fuel_metering: false,
            omit_epoch_checks_for_benchmarks: false,
        }
    }
}

/// Why a module could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The input is not a valid module with the features wasmc supports
    /// (malformed, invalid, or using a feature it does not support).
    #[error("invalid module at byte offset {offset:#x}: {message}")]
    Invalid {
        /// Byte offset in the input where the problem was found.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// The module is valid but uses something wasmc does not support.
    #[error("unsupported feature at byte offset {offset:#x}: {message}")]
    Unsupported {
        /// Byte offset in the input of the unsupported construct.
        offset: usize,
        /// What is unsupported.
        message: String,
    },
    /// Cranelift (or the linker) failed on a function.
    #[error("code generation failed in function {func}: {message}")]
    Codegen {
        /// Function index (imports included); trampolines use `u32::MAX`.
        func: u32,
        /// What failed.
        message: String,
    },
    /// The target could not be set up.
    #[error("target {0}")]
    Target(String),
    /// A function is larger than the compiler accepts: its body is over
    /// [`MAX_FUNCTION_BODY_BYTES`], or it needs more than 2^24 - 1
    /// Cranelift instructions, blocks or values. Refused, never
    /// miscompiled.
    #[error("function {func}{} is too large to compile: {reason}", name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default())]
    FunctionTooLarge {
        /// Function index (imports included).
        func: u32,
        /// The function's name from the name section, if any.
        name: Option<String>,
        /// Which limit it exceeds.
        reason: String,
    },
}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        CompileError::Invalid { offset: e.offset(), message: e.message().to_string() }
    }
}

/// Compiles a WebAssembly binary into the bytes of a wasmc artifact.
///
/// # Errors
///
/// [`CompileError::Invalid`] for input that is not a valid module with the
/// features wasmc supports,
/// [`CompileError::Unsupported`] for valid input wasmc cannot compile,
/// [`CompileError::Target`] for a target Cranelift cannot be set up for, and
/// [`CompileError::Codegen`] if code generation fails.
pub fn compile(wasm: &[u8], options: &CompileOptions) -> Result<Vec<u8>, CompileError> {
    if let Some(too_large) = module::oversized_body(wasm, codegen::MAX_FUNCTION_BODY_BYTES) {
        return Err(too_large);
    }
    validate::validate(wasm)?;
    let target = isa::build(options)?;
    let module::ParsedModule { mut info, data, bodies } = module::parse(wasm)?;
    let funcs = codegen::compile_functions(&info, bodies, &target, options)?;
    let tramps = trampolines::compile(&info, &target)?;
    let linked = link::link(&mut info.meta, target.arch, info.imported_funcs, funcs, tramps)?;

    let mut meta = info.meta;
    meta.triple = options.target.triple.clone();
    meta.preset = options.target.preset.clone();
    meta.cpu_features = target.features.clone();
    meta.bounds_checks = options.bounds_checks;
    meta.opt_level = options.opt_level.name().to_string();
    meta.fuel_metering = options.fuel_metering;
    let (memory_image, image) = image::build(&meta, &data).unzip();
    meta.memory_image = memory_image;
    let image = image.unwrap_or_default();
    let text_len = artifact::padded_text(&linked.text, target.arch).len() as u64;
    meta.validate(text_len, data.len() as u64, image.len() as u64).map_err(|e| CompileError::Codegen {
        func: u32::MAX,
        message: format!("produced inconsistent metadata: {e}"),
    })?;
    artifact::write(target.arch, &meta, &linked.text, &linked.symbols, &data, &image)
}
