//! Translating and compiling function bodies, in parallel.

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, UserFuncName};
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::{Context, FinalizedRelocTarget};
use rayon::prelude::*;
use wasmc_abi::{BoundsChecks, TrapKind};
use wasmc_targets::Arch;
use wasmparser::FuncValidatorAllocations;

use crate::func_env::{trap, wasm_signature, FuncEnv};
use crate::isa::TargetIsa as Target;
use crate::module::{Body, ModuleInfo};
use crate::translate::{translate_function, WasmError};
use crate::{CompileError, CompileOptions};

/// A call site to patch: a direct call to a wasm function.
#[derive(Clone, Debug)]
pub(crate) struct CallReloc {
    /// Offset of the relocated field in the function's code.
    pub offset: u32,
    /// Relocation kind (PC-relative call or address).
    pub kind: Reloc,
    /// The called function's index (imports first).
    pub callee: u32,
    /// Constant added to the target address.
    pub addend: i64,
}

/// A trapping instruction, relative to its function.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trap {
    /// Offset in the function's code.
    pub offset: u32,
    /// Why it traps.
    pub kind: TrapKind,
    /// Offset in the wasm binary of the operator it came from.
    pub wasm_offset: u32,
}

/// Machine code for one function or trampoline.
#[derive(Clone, Debug)]
pub(crate) struct CompiledCode {
    /// Function index (imports first), or `u32::MAX` for trampolines.
    pub func: u32,
    /// The machine code.
    pub code: Vec<u8>,
    /// Calls to patch.
    pub relocs: Vec<CallReloc>,
    /// Trapping instructions, sorted by offset.
    pub traps: Vec<Trap>,
}

/// Maps a Cranelift trap code to the artifact's trap kind.
pub(crate) fn trap_kind(code: ir::TrapCode) -> TrapKind {
    use ir::TrapCode as T;
    match code {
        T::STACK_OVERFLOW => TrapKind::StackOverflow,
        T::HEAP_OUT_OF_BOUNDS => TrapKind::MemoryOutOfBounds,
        T::INTEGER_OVERFLOW => TrapKind::IntegerOverflow,
        T::INTEGER_DIVISION_BY_ZERO => TrapKind::IntegerDivisionByZero,
        T::BAD_CONVERSION_TO_INTEGER => TrapKind::BadConversionToInteger,
        trap::TABLE_OUT_OF_BOUNDS => TrapKind::TableOutOfBounds,
        trap::INDIRECT_CALL_TO_NULL => TrapKind::IndirectCallToNull,
        trap::BAD_SIGNATURE => TrapKind::BadSignature,
        trap::UNREACHABLE => TrapKind::UnreachableCodeReached,
        trap::INTERRUPT => TrapKind::Interrupted,
        trap::NULL_REFERENCE => TrapKind::NullReference,
        _ => TrapKind::UnknownFault,
    }
}

/// Turns a translation error into a [`CompileError`] for function `func`.
fn wasm_error(e: WasmError, body_offset: usize) -> CompileError {
    match e {
        WasmError::InvalidWebAssembly { message, offset } => CompileError::Invalid { offset, message },
        WasmError::Unsupported(message) => CompileError::Unsupported { offset: body_offset, message },
        WasmError::ImplLimitExceeded => {
            CompileError::Unsupported { offset: body_offset, message: "implementation limit exceeded".into() }
        }
    }
}

/// The largest function body accepted, in bytes: wasmparser's limit
/// (`MAX_WASM_FUNCTION_SIZE`). Its validator refuses larger bodies with a
/// generic error; `module::oversized_body` checks first, so the error names
/// the function, and translation checks again.
pub const MAX_FUNCTION_BODY_BYTES: usize = 7_654_321;

/// How many instructions, blocks or values a CLIF function may have.
///
/// Cranelift 0.112 packed instruction, block and value numbers into 24-bit
/// fields and, in release builds, silently truncated larger numbers
/// (GHSA-897f-g5gm-fmxm). Cranelift 0.135 uses 32-bit fields, so this is
/// no longer a correctness limit but a resource one, kept as documented: a
/// function this large takes minutes and gigabytes to compile. Counts only
/// grow, so the function is checked after translation and after the
/// optimiser.
const MAX_CLIF_ENTITIES: usize = (1 << 24) - 1;

/// Which entity of `func` has more than [`MAX_CLIF_ENTITIES`], if any.
fn too_many_entities(func: &ir::Function) -> Option<String> {
    let dfg = &func.dfg;
    [("instructions", dfg.num_insts()), ("blocks", dfg.num_blocks()), ("values", dfg.num_values())]
        .into_iter()
        .find(|&(_, count)| count > MAX_CLIF_ENTITIES)
        .map(|(what, count)| format!("it needs {count} Cranelift {what}, more than the limit of {MAX_CLIF_ENTITIES}"))
}

/// Compiles a CLIF function and collects its code, calls and traps. Traps
/// get the wasm offset of their source location, or `default_wasm_offset`.
/// `too_large` makes the error for a function over Cranelift's limits.
pub(crate) fn compile_clif(
    isa: &dyn TargetIsa,
    ctx: &mut Context,
    func: u32,
    default_wasm_offset: u32,
    too_large: impl Fn(String) -> CompileError,
) -> Result<CompiledCode, CompileError> {
    if let Some(reason) = too_many_entities(&ctx.func) {
        return Err(too_large(reason));
    }
    let codegen_err = |e: cranelift_codegen::CodegenError| CompileError::Codegen { func, message: format!("{e:?}") };
    let user_names = ctx.func.params.user_named_funcs().clone();
    let mut ctrl = ControlPlane::default();
    // `Context::compile` verifies, optimises and lowers; the optimiser adds
    // values and instructions, so the optimised function (`ctx.func`
    // afterwards) is checked again.
    ctx.compile(isa, &mut ctrl).map_err(|e| codegen_err(e.inner))?;
    if let Some(reason) = too_many_entities(&ctx.func) {
        return Err(too_large(reason));
    }
    let compiled = ctx
        .take_compiled_code()
        .ok_or_else(|| CompileError::Codegen { func, message: "Cranelift returned no code".into() })?;
    let buffer = &compiled.buffer;
    let srclocs = buffer.get_srclocs_sorted();
    let wasm_offset_at = |offset: u32| -> u32 {
        // Source-location ranges are sorted and disjoint.
        let i = srclocs.partition_point(|s| s.end <= offset);
        match srclocs.get(i) {
            Some(s) if s.start <= offset && !s.loc.is_default() => s.loc.bits(),
            _ => default_wasm_offset,
        }
    };
    let mut traps: Vec<Trap> = buffer
        .traps()
        .iter()
        .map(|t| Trap { offset: t.offset, kind: trap_kind(t.code), wasm_offset: wasm_offset_at(t.offset) })
        .collect();
    traps.sort_by_key(|t| t.offset);

    let mut relocs = Vec::new();
    for r in buffer.relocs() {
        let callee = match &r.target {
            FinalizedRelocTarget::ExternalName(ir::ExternalName::User(name)) => {
                let name = &user_names[*name];
                if name.namespace != crate::func_env::WASM_FUNC_NAMESPACE {
                    return Err(CompileError::Codegen {
                        func,
                        message: format!("relocation to unknown name {name:?}"),
                    });
                }
                name.index
            }
            other => {
                return Err(CompileError::Codegen {
                    func,
                    message: format!("unsupported relocation {:?} to {other:?}", r.kind),
                })
            }
        };
        relocs.push(CallReloc { offset: r.offset, kind: r.kind, callee, addend: r.addend });
    }
    Ok(CompiledCode { func, code: buffer.data().to_vec(), relocs, traps })
}

/// Translates and compiles one function body.
fn compile_body(
    module: &ModuleInfo,
    target: &Target,
    options: &CompileOptions,
    body: Body<'_>,
) -> Result<CompiledCode, CompileError> {
    let index = body.func_index;
    let body_offset = body.body.range().start;
    let too_large =
        |reason: String| CompileError::FunctionTooLarge { func: index, name: module.func_name(index), reason };
    let body_len = body.body.range().len();
    if body_len > MAX_FUNCTION_BODY_BYTES {
        return Err(too_large(format!(
            "its body is {body_len} bytes, more than the limit of {MAX_FUNCTION_BODY_BYTES}"
        )));
    }
    let ty = module
        .func_type(index)
        .ok_or_else(|| CompileError::Invalid { offset: body_offset, message: "function without a type".into() })?;
    let mut ctx = Context::new();
    ctx.func.signature = wasm_signature(ty);
    ctx.func.name = UserFuncName::user(crate::func_env::WASM_FUNC_NAMESPACE, index);
    let mut env = FuncEnv::new(module, &*target.isa, options.bounds_checks);
    env.set_interrupts(!options.omit_epoch_checks_for_benchmarks, options.fuel_metering);
    env.set_stack_limit(&mut ctx.func).map_err(|e| wasm_error(e, body_offset))?;
    let mut validator = body.validator.into_validator(FuncValidatorAllocations::default());
    translate_function(&mut ctx.func, &mut env, &mut validator, &body.body).map_err(|e| wasm_error(e, body_offset))?;
    if options.bounds_checks == BoundsChecks::Guard && target.arch == Arch::Aarch64 {
        crate::store_probe::insert(&mut ctx.func);
    }
    let default_offset = u32::try_from(body_offset).unwrap_or(u32::MAX);
    compile_clif(&*target.isa, &mut ctx, index, default_offset, too_large)
}

/// Runs `f`, turning a panic (a Cranelift bug, not bad input: the input was
/// validated) into a [`CompileError::Codegen`] for `func`, so one function
/// cannot take down a server that compiles modules.
pub(crate) fn catch_panic<T>(func: u32, f: impl FnOnce() -> Result<T, CompileError>) -> Result<T, CompileError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(CompileError::Codegen { func, message: format!("internal compiler error: {message}") })
    })
}

/// Compiles every defined function, in parallel; the result is in function
/// index order. On failure, the error of the lowest-indexed failing function.
pub(crate) fn compile_functions(
    module: &ModuleInfo,
    bodies: Vec<Body<'_>>,
    target: &Target,
    options: &CompileOptions,
) -> Result<Vec<CompiledCode>, CompileError> {
    bodies
        .into_par_iter()
        .map(|body| {
            let func = body.func_index;
            catch_panic(func, || compile_body(module, target, options, body))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}
