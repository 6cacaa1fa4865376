//! The function environment: how wasm operators that touch the
//! instance (globals, memories, tables, calls, builtins) become CLIF against
//! the vmctx layout of [`wasmc_abi::vmctx`].
//!
//! Every wasm function has the signature
//! `(callee_vmctx, caller_vmctx, wasm params...) -> wasm results` in
//! Cranelift's `tail` convention; see `docs/ARCHITECTURE.md`.
//!
//! The translator (`crate::translate`) calls the methods of [`FuncEnv`] for
//! every operator that reaches outside the function; they are split by
//! concern into `memory`, `table`, `call`, `builtins` and `interrupt`.

mod builtins;
mod call;
mod interrupt;
mod memory;
mod table;

pub(crate) use call::{CallKind, WASM_FUNC_NAMESPACE};

use cranelift_codegen::ir::immediates::Offset32;
use cranelift_codegen::ir::{self, types, AbiParam, ArgumentPurpose, InstBuilder};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig, TargetIsa};
use cranelift_frontend::FunctionBuilder;
use wasmc_abi::meta::{FuncType, ValType};
use wasmc_abi::vmctx::VMCTX_STACK_LIMIT;
use wasmc_abi::BoundsChecks;

use crate::module::ModuleInfo;
use crate::translate::{WasmError, WasmResult};

pub(crate) use memory::{heap_flags, MemoryAccess};
use table::TableData;

/// Trap codes of the traps generated code raises, beyond Cranelift's own
/// (stack overflow, heap out of bounds, integer overflow, division by zero,
/// bad conversion to integer). `codegen::trap_kind` maps every one to the
/// artifact's [`wasmc_abi::TrapKind`], so their numbers never reach the
/// artifact.
pub(crate) mod trap {
    use cranelift_codegen::ir::TrapCode;

    /// An epoch deadline or the fuel ran out.
    pub const INTERRUPT: TrapCode = TrapCode::unwrap_user(1);
    /// A table index at or past the table's size.
    pub const TABLE_OUT_OF_BOUNDS: TrapCode = TrapCode::unwrap_user(2);
    /// `call_indirect` of a null element.
    pub const INDIRECT_CALL_TO_NULL: TrapCode = TrapCode::unwrap_user(3);
    /// `call_indirect` of a function of another type.
    pub const BAD_SIGNATURE: TrapCode = TrapCode::unwrap_user(4);
    /// The `unreachable` operator.
    pub const UNREACHABLE: TrapCode = TrapCode::unwrap_user(5);
    /// A null reference where one is not allowed (typed function references).
    pub const NULL_REFERENCE: TrapCode = TrapCode::unwrap_user(6);
}

/// The CLIF type of a wasm value: references are pointer-sized words, `v128`
/// is `i8x16` (the translator bitcasts to the lane type it needs).
pub(crate) fn clif_type(ty: ValType) -> ir::Type {
    match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::V128 => types::I8X16,
        ValType::FuncRef | ValType::ExternRef => types::I64,
    }
}

/// The CLIF signature of a wasm function of type `ty`.
pub(crate) fn wasm_signature(ty: &FuncType) -> ir::Signature {
    let mut sig = ir::Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::special(types::I64, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.extend(ty.params.iter().map(|t| AbiParam::new(clif_type(*t))));
    sig.returns.extend(ty.results.iter().map(|t| AbiParam::new(clif_type(*t))));
    sig
}

/// Number of leading non-wasm parameters in [`wasm_signature`].
pub(crate) const HIDDEN_PARAMS: usize = 2;

/// Memory flags for loads from the vmctx and structures it points to that
/// never change while code runs (and are always accessible, so Cranelift
/// may move them out of loops).
pub(crate) fn readonly() -> ir::MemFlagsData {
    ir::MemFlagsData::trusted().with_readonly().with_can_move()
}

/// Converts a vmctx offset from the ABI into a CLIF offset.
pub(crate) fn offset32(offset: u32) -> WasmResult<Offset32> {
    i32::try_from(offset).map(Offset32::new).map_err(|_| WasmError::ImplLimitExceeded)
}

/// The environment for translating one function.
pub(crate) struct FuncEnv<'m> {
    module: &'m ModuleInfo,
    isa: &'m dyn TargetIsa,
    bounds_checks: BoundsChecks,
    vmctx: Option<ir::GlobalValue>,
    /// The vmctx parameter, once the entry block exists.
    vmctx_param: Option<ir::Value>,
    /// Base and length of each memory used so far, by memory index.
    memories: Vec<Option<memory::MemoryData>>,
    /// Base and size of each table used so far, by table index.
    tables: Vec<Option<TableData>>,
    builtin_sigs: [Option<ir::SigRef>; wasmc_abi::builtins::Builtin::COUNT],
    interrupts: interrupt::Interrupts,
}

impl<'m> FuncEnv<'m> {
    /// An environment for translating one function of `module`.
    pub fn new(module: &'m ModuleInfo, isa: &'m dyn TargetIsa, bounds_checks: BoundsChecks) -> Self {
        let mut env = FuncEnv {
            module,
            isa,
            bounds_checks,
            vmctx: None,
            vmctx_param: None,
            memories: vec![None; module.memories.len()],
            tables: vec![None; module.tables.len()],
            builtin_sigs: [None; wasmc_abi::builtins::Builtin::COUNT],
            interrupts: interrupt::Interrupts::default(),
        };
        env.interrupts.epoch = true;
        env
    }

    /// Chooses the interruption checks: epoch deadline checks (on unless
    /// a benchmark turns them off) and fuel metering.
    pub fn set_interrupts(&mut self, epoch: bool, fuel: bool) {
        self.interrupts.epoch = epoch;
        self.interrupts.fuel = fuel;
    }

    /// The `vmctx` global value (the callee vmctx parameter).
    fn vmctx_gv(&mut self, func: &mut ir::Function) -> ir::GlobalValue {
        *self.vmctx.get_or_insert_with(|| func.create_global_value(ir::GlobalValueData::VMContext))
    }

    /// Records the entry block, whose first parameter is the vmctx.
    pub fn set_entry_block(&mut self, builder: &FunctionBuilder, entry: ir::Block) {
        self.vmctx_param = builder.block_params(entry).first().copied();
    }

    /// The vmctx parameter.
    fn vmctx_value(&mut self, _builder: &mut FunctionBuilder) -> ir::Value {
        self.vmctx_param.expect("the translator sets the entry block first")
    }

    /// The address of a structure the vmctx holds inline (`pointer_at`
    /// `None`) or points to from offset `pointer_at` (an import).
    fn vm_struct(&mut self, builder: &mut FunctionBuilder, pointer_at: Option<u32>) -> WasmResult<ir::Value> {
        let vmctx = self.vmctx_value(builder);
        match pointer_at {
            None => Ok(vmctx),
            Some(offset) => Ok(builder.ins().load(types::I64, readonly(), vmctx, offset32(offset)?)),
        }
    }

    /// The target's configuration, for finishing a function.
    pub fn frontend_config(&self) -> TargetFrontendConfig {
        self.isa.frontend_config()
    }

    /// The module being compiled.
    pub fn module(&self) -> &'m ModuleInfo {
        self.module
    }

    /// A load of a word at `base + offset`, as a global value (only the
    /// stack limit still needs one: Cranelift's prologue reads it).
    fn load_gv(
        func: &mut ir::Function,
        base: ir::GlobalValue,
        offset: u32,
        ty: ir::Type,
        flags: ir::MemFlagsData,
    ) -> WasmResult<ir::GlobalValue> {
        let flags = func.dfg.mem_flags.insert(flags).map_err(|_| WasmError::ImplLimitExceeded)?;
        Ok(func.create_global_value(ir::GlobalValueData::Load {
            base,
            offset: offset32(offset)?,
            global_type: ty,
            flags,
        }))
    }

    /// Sets the function's stack limit to `vmctx.stack_limit`, so the
    /// prologue checks the stack pointer against it. The loader changes the
    /// limit between calls, so it is a plain load, not a read-only one.
    pub fn set_stack_limit(&mut self, func: &mut ir::Function) -> WasmResult<()> {
        let vmctx = self.vmctx_gv(func);
        let limit = Self::load_gv(func, vmctx, VMCTX_STACK_LIMIT, types::I64, ir::MemFlagsData::trusted())?;
        func.stack_limit = Some(limit);
        Ok(())
    }

    /// The function type at `index` in the type section.
    pub fn type_of(&self, index: u32) -> WasmResult<&'m FuncType> {
        self.module.meta.types.get(index as usize).ok_or_else(|| WasmError::invalid("type index out of range"))
    }

    /// The signature to call a function of type `index` through a pointer.
    pub fn indirect_sig(&mut self, func: &mut ir::Function, index: u32) -> WasmResult<ir::SigRef> {
        let ty = self.type_of(index)?;
        Ok(func.import_signature(wasm_signature(ty)))
    }

    /// `ref.func`: the address of the function's `VMFuncRef` in our vmctx.
    pub fn ref_func(&mut self, builder: &mut FunctionBuilder, index: u32) -> WasmResult<ir::Value> {
        if index as usize >= self.module.func_types.len() {
            return Err(WasmError::invalid("function index out of range"));
        }
        let offset = self.module.offsets.func_ref(index);
        let vmctx = self.vmctx_value(builder);
        Ok(builder.ins().iadd_imm_s(vmctx, i64::from(offset)))
    }
}
