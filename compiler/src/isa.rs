//! Cranelift ISA and settings for a [`wasmc_targets::Target`].

use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use wasmc_targets::Arch;

use crate::{CompileError, CompileOptions, OptLevel};

/// A configured Cranelift ISA plus what the artifact records about it.
pub(crate) struct TargetIsa {
    /// The Cranelift ISA.
    pub isa: OwnedTargetIsa,
    /// Architecture.
    pub arch: Arch,
    /// CPU features the code requires, sorted and deduplicated: the target's
    /// features plus the architecture's baseline.
    pub features: Vec<String>,
}

fn target_err(what: impl std::fmt::Display) -> CompileError {
    CompileError::Target(what.to_string())
}

fn set(b: &mut dyn Configurable, name: &str, value: &str) -> Result<(), CompileError> {
    b.set(name, value).map_err(|e| target_err(format!("setting {name}={value}: {e}")))
}

/// Maps a `wasmc-targets` feature to the Cranelift ISA flags it enables.
fn isa_flags(arch: Arch, feature: &str) -> &'static [&'static str] {
    match (arch, feature) {
        (Arch::X86_64, "sse3") => &["has_sse3"],
        (Arch::X86_64, "ssse3") => &["has_ssse3"],
        (Arch::X86_64, "sse4.1") => &["has_sse41"],
        (Arch::X86_64, "sse4.2") => &["has_sse42"],
        (Arch::X86_64, "popcnt") => &["has_popcnt"],
        (Arch::X86_64, "avx") => &["has_avx"],
        (Arch::X86_64, "avx2") => &["has_avx2"],
        (Arch::X86_64, "bmi1") => &["has_bmi1"],
        (Arch::X86_64, "bmi2") => &["has_bmi2"],
        (Arch::X86_64, "fma") => &["has_fma"],
        (Arch::X86_64, "lzcnt") => &["has_lzcnt"],
        (Arch::Aarch64, "lse") => &["has_lse"],
        (Arch::Aarch64, "paca") => &["has_pauth", "sign_return_address"],
        (Arch::Aarch64, "bti") => &["use_bti"],
        // Features Cranelift has no use for (e.g. cmpxchg16b): recorded, not used.
        _ => &[],
    }
}

/// Builds the ISA for `options`.
///
/// # Errors
///
/// [`CompileError::Target`] if the triple does not parse or Cranelift does
/// not support it.
pub(crate) fn build(options: &CompileOptions) -> Result<TargetIsa, CompileError> {
    let target = &options.target;
    let triple: target_lexicon::Triple =
        target.triple.parse().map_err(|e| target_err(format!("{:?}: {e}", target.triple)))?;

    let mut shared = settings::builder();
    let opt = match options.opt_level {
        OptLevel::None => "none",
        OptLevel::Speed => "speed",
        OptLevel::Size => "speed_and_size",
    };
    set(&mut shared, "opt_level", opt)?;
    let verifier = if cfg!(debug_assertions) { "true" } else { "false" };
    set(&mut shared, "enable_verifier", verifier)?;
    // Prologues compare the stack pointer with vmctx.stack_limit, covering
    // the whole frame, so no stack probes are needed.
    set(&mut shared, "enable_probestack", "false")?;
    set(&mut shared, "unwind_info", "false")?;
    set(&mut shared, "preserve_frame_pointers", "true")?;
    set(&mut shared, "enable_heap_access_spectre_mitigation", "true")?;
    set(&mut shared, "enable_table_access_spectre_mitigation", "true")?;
    set(&mut shared, "enable_nan_canonicalization", "false")?;
    set(&mut shared, "enable_llvm_abi_extensions", "false")?;
    set(&mut shared, "regalloc_checker", "false")?;
    set(&mut shared, "is_pic", "false")?;
    // Wasm functions may return more values than fit in registers (multi-value);
    // the rest go through a return area the caller passes.
    set(&mut shared, "enable_multi_ret_implicit_sret", "true")?;

    let mut builder = isa::lookup(triple).map_err(|e| target_err(format!("{}: {e}", target.triple)))?;
    // Every target gets at least its architecture's baseline: for x86_64,
    // SSE4.1 and SSSE3, without which Cranelift turns float rounding
    // and byte shuffles into libcalls that an artifact cannot contain. This
    // matters for `native` on an old CPU (which then fails with a clear
    // error) and for bare triples.
    let mut features: Vec<String> = target.features.clone();
    features.extend(wasmc_targets::baseline(target.arch).features.iter().map(|s| s.to_string()));
    features.sort();
    features.dedup();
    for feature in &features {
        for flag in isa_flags(target.arch, feature) {
            set(&mut builder, flag, "true")?;
        }
    }
    let isa =
        builder.finish(settings::Flags::new(shared)).map_err(|e| target_err(format!("{}: {e}", target.triple)))?;
    Ok(TargetIsa { isa, arch: target.arch, features })
}
