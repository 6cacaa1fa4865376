//! Our WebAssembly-to-CLIF translator.
//!
//! [`translate_function`] reads a function body operator by operator,
//! validating each one with wasmparser's function validator, and builds
//! CLIF with a [`FunctionBuilder`]. The translator keeps the wasm operand
//! stack as CLIF values and the control stack as [`control::Frame`]s; locals
//! are frontend variables, so SSA construction is the frontend's.
//! Everything that reaches outside the function (globals, memories, tables,
//! calls, builtins, interruption checks) is asked of the function
//! environment, [`FuncEnv`].
//!
//! The work is split by concern: `control` (blocks, branches, unreachable
//! code), `scalar` (integer and float operators), `memory` (scalar and
//! `v128` loads and stores, memory builtins), `simd` (the other
//! fixed-width SIMD operators), and this file (the driver, locals,
//! globals, tables, references and calls).
//!
//! `v128` values are `i8x16` on the operand stack, in locals and across
//! blocks and calls; SIMD operators bitcast to the lane type they need.

mod control;
mod memory;
mod scalar;
mod simd;

use std::collections::HashMap;

use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use wasmparser::{FuncValidator, FunctionBody, Operator, ValidatorResources};

use crate::func_env::{CallKind, FuncEnv, HIDDEN_PARAMS};

/// Why a function could not be translated.
#[derive(Debug)]
pub(crate) enum WasmError {
    /// The input is not valid WebAssembly (`offset` 0: not known here).
    InvalidWebAssembly {
        /// What is wrong.
        message: String,
        /// Byte offset in the module.
        offset: usize,
    },
    /// Valid WebAssembly outside what wasmc supports.
    Unsupported(String),
    /// A limit of the code generator or of the vmctx layout.
    ImplLimitExceeded,
}

impl WasmError {
    /// An [`WasmError::InvalidWebAssembly`] found without an offset.
    pub(crate) fn invalid(message: &str) -> WasmError {
        WasmError::InvalidWebAssembly { message: message.to_string(), offset: 0 }
    }
}

impl From<wasmparser::BinaryReaderError> for WasmError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        WasmError::InvalidWebAssembly { message: e.message().to_string(), offset: e.offset() }
    }
}

/// The result of translation steps.
pub(crate) type WasmResult<T> = Result<T, WasmError>;

/// The CLIF type of a wasm value type (see [`func_env::clif_type`]).
pub(crate) fn clif_val_type(ty: wasmparser::ValType) -> WasmResult<ir::Type> {
    Ok(match ty {
        wasmparser::ValType::I32 => types::I32,
        wasmparser::ValType::I64 => types::I64,
        wasmparser::ValType::F32 => types::F32,
        wasmparser::ValType::F64 => types::F64,
        wasmparser::ValType::V128 => types::I8X16,
        wasmparser::ValType::Ref(_) => types::I64,
    })
}

/// Refuses the threads proposal's operators, which validation should
/// already have rejected, so a validator change can never let them reach
/// codegen (any other unsupported operator ends in the translator's
/// `Unsupported` catch-all).
fn reject_non_wasm2(op: &Operator) -> WasmResult<()> {
    match op {
        Operator::MemoryAtomicNotify { .. }
        | Operator::MemoryAtomicWait32 { .. }
        | Operator::MemoryAtomicWait64 { .. }
        | Operator::AtomicFence => Err(WasmError::Unsupported("threads".into())),
        _ => Ok(()),
    }
}

/// Translates one function body into `func`, whose signature is set.
pub(crate) fn translate_function(
    func: &mut ir::Function,
    env: &mut FuncEnv<'_>,
    validator: &mut FuncValidator<ValidatorResources>,
    body: &FunctionBody<'_>,
) -> WasmResult<()> {
    let mut ctx = FunctionBuilderContext::new();
    let builder = FunctionBuilder::new(func, &mut ctx);
    let config = env.frontend_config();
    let mut t = Translator {
        builder,
        env,
        locals: Vec::new(),
        stack: Vec::new(),
        control: Vec::new(),
        reachable: true,
        dead_depth: 0,
        func_refs: HashMap::new(),
        sig_refs: HashMap::new(),
    };
    t.translate_body(validator, body)?;
    t.builder.finalize(config);
    Ok(())
}

/// The state of translating one function.
struct Translator<'a, 'e, 'm> {
    builder: FunctionBuilder<'a>,
    env: &'e mut FuncEnv<'m>,
    /// Every local (parameters first) and its CLIF type.
    locals: Vec<(Variable, ir::Type)>,
    /// The wasm operand stack.
    stack: Vec<ir::Value>,
    /// The wasm control stack; the function body is the outermost frame.
    control: Vec<control::Frame>,
    /// Whether the code being translated can run.
    reachable: bool,
    /// Blocks opened in unreachable code and not closed yet: they have no
    /// frame, only their `end` (and `else`) need to be matched.
    dead_depth: u32,
    /// Callee references of direct calls, by function index.
    func_refs: HashMap<u32, ir::FuncRef>,
    /// Signatures of indirect calls, by type index.
    sig_refs: HashMap<u32, ir::SigRef>,
}

impl Translator<'_, '_, '_> {
    fn translate_body(
        &mut self,
        validator: &mut FuncValidator<ValidatorResources>,
        body: &FunctionBody<'_>,
    ) -> WasmResult<()> {
        let entry = self.builder.create_block();
        self.builder.append_block_params_for_function_params(entry);
        self.builder.switch_to_block(entry);
        self.builder.seal_block(entry);
        self.env.set_entry_block(&self.builder, entry);
        self.declare_params(entry);

        let mut locals = body.get_locals_reader()?;
        for _ in 0..locals.get_count() {
            let offset = locals.original_position();
            let (count, ty) = locals.read()?;
            validator.define_locals(offset, count, ty)?;
            self.declare_locals(count, clif_val_type(ty)?);
        }

        self.env.interrupt_function_entry(&mut self.builder)?;
        let results: Vec<ir::Type> = self.builder.func.signature.returns.iter().map(|p| p.value_type).collect();
        let exit = self.builder.create_block();
        for ty in &results {
            self.builder.append_block_param(exit, *ty);
        }
        self.control.push(control::Frame::function(exit, results.len()));

        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let offset = reader.original_position();
            let op = reader.read()?;
            validator.op(offset, &op)?;
            let srcloc = u32::try_from(offset).map_err(|_| WasmError::ImplLimitExceeded)?;
            self.builder.set_srcloc(ir::SourceLoc::new(srcloc));
            self.operator(&op)?;
        }
        reader.finish()?;

        // The last `end` closed the body's frame and, if anything reaches
        // the exit block, switched to it with the results on the stack.
        if self.reachable {
            self.env.interrupt_function_exit(&mut self.builder)?;
            let results = std::mem::take(&mut self.stack);
            self.builder.ins().return_(&results);
        }
        Ok(())
    }

    /// Parameters become variables defined by the entry block's parameters.
    fn declare_params(&mut self, entry: ir::Block) {
        let params = self.builder.block_params(entry)[HIDDEN_PARAMS..].to_vec();
        for value in params {
            let ty = self.builder.func.dfg.value_type(value);
            let var = self.builder.declare_var(ty);
            self.builder.def_var(var, value);
            self.locals.push((var, ty));
        }
    }

    /// Declared locals start at zero.
    fn declare_locals(&mut self, count: u32, ty: ir::Type) {
        if count == 0 {
            return;
        }
        let zero = self.zero(ty);
        for _ in 0..count {
            let var = self.builder.declare_var(ty);
            self.builder.def_var(var, zero);
            self.locals.push((var, ty));
        }
    }

    /// The zero (or null) value of `ty`.
    fn zero(&mut self, ty: ir::Type) -> ir::Value {
        match ty {
            types::F32 => self.builder.ins().f32const(0.0),
            types::F64 => self.builder.ins().f64const(0.0),
            types::I8X16 => simd::vconst(&mut self.builder, 0),
            ty => self.builder.ins().iconst(ty, 0),
        }
    }

    fn push(&mut self, value: ir::Value) {
        self.stack.push(value);
    }

    fn pop(&mut self) -> ir::Value {
        self.stack.pop().expect("validated: operand stack underflow")
    }

    fn pop2(&mut self) -> (ir::Value, ir::Value) {
        let b = self.pop();
        let a = self.pop();
        (a, b)
    }

    fn pop3(&mut self) -> (ir::Value, ir::Value, ir::Value) {
        let c = self.pop();
        let (a, b) = self.pop2();
        (a, b, c)
    }

    /// The top `n` values, bottom first, left on the stack.
    fn peek(&self, n: usize) -> &[ir::Value] {
        &self.stack[self.stack.len() - n..]
    }

    /// Pops the top `n` values, bottom first.
    fn pop_n(&mut self, n: usize) -> Vec<ir::Value> {
        self.stack.split_off(self.stack.len() - n)
    }

    fn local(&self, index: u32) -> WasmResult<(Variable, ir::Type)> {
        self.locals.get(index as usize).copied().ok_or_else(|| WasmError::invalid("local index out of range"))
    }

    /// Translates one operator, with the environment's hooks around it.
    fn operator(&mut self, op: &Operator<'_>) -> WasmResult<()> {
        reject_non_wasm2(op)?;
        if !self.reachable {
            return self.unreachable_operator(op);
        }
        self.env.interrupt_before_op(op, &mut self.builder)?;
        self.reachable_operator(op)?;
        self.env.interrupt_after_op(op, &mut self.builder, self.reachable)
    }

    fn reachable_operator(&mut self, op: &Operator<'_>) -> WasmResult<()> {
        if self.control_operator(op)? || self.scalar_operator(op)? || self.memory_operator(op)? {
            return Ok(());
        }
        if self.simd_operator(op)? {
            return Ok(());
        }
        use Operator as O;
        match *op {
            O::Nop => {}
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let (a, b, cond) = self.pop3();
                let v = self.builder.ins().select(cond, a, b);
                self.push(v);
            }
            O::LocalGet { local_index } => {
                let (var, _) = self.local(local_index)?;
                let v = self.builder.use_var(var);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let (var, _) = self.local(local_index)?;
                let v = self.pop();
                self.builder.def_var(var, v);
            }
            O::LocalTee { local_index } => {
                let (var, _) = self.local(local_index)?;
                let v = *self.stack.last().expect("validated: local.tee operand");
                self.builder.def_var(var, v);
            }
            O::GlobalGet { global_index } => {
                let g = self.env.global(&mut self.builder, global_index)?;
                let v = self.builder.ins().load(g.ty, ir::MemFlagsData::trusted(), g.base, g.offset);
                self.push(v);
            }
            O::GlobalSet { global_index } => {
                let g = self.env.global(&mut self.builder, global_index)?;
                let v = self.pop();
                self.builder.ins().store(ir::MemFlagsData::trusted(), v, g.base, g.offset);
            }
            O::RefNull { .. } => {
                let v = self.builder.ins().iconst(types::I64, 0);
                self.push(v);
            }
            O::RefIsNull => {
                let r = self.pop();
                let is_null = self.builder.ins().icmp_imm_s(ir::condcodes::IntCC::Equal, r, 0);
                let v = self.builder.ins().uextend(types::I32, is_null);
                self.push(v);
            }
            O::RefFunc { function_index } => {
                let v = self.env.ref_func(&mut self.builder, function_index)?;
                self.push(v);
            }
            O::TableGet { table } => {
                let index = self.pop();
                let v = self.env.table_get(&mut self.builder, table, index)?;
                self.push(v);
            }
            O::TableSet { table } => {
                let (index, value) = self.pop2();
                self.env.table_set(&mut self.builder, table, value, index)?;
            }
            O::TableSize { table } => {
                let v = self.env.table_size(&mut self.builder, table)?;
                self.push(v);
            }
            O::TableGrow { table } => {
                let (init, delta) = self.pop2();
                let v = self.env.table_grow(&mut self.builder, table, delta, init)?;
                self.push(v);
            }
            O::TableFill { table } => {
                let (dst, value, len) = self.pop3();
                self.env.table_fill(&mut self.builder, table, dst, value, len)?;
            }
            O::TableCopy { dst_table, src_table } => {
                let (dst, src, len) = self.pop3();
                self.env.table_copy(&mut self.builder, dst_table, src_table, dst, src, len)?;
            }
            O::TableInit { elem_index, table } => {
                let (dst, src, len) = self.pop3();
                self.env.table_init(&mut self.builder, elem_index, table, dst, src, len)?;
            }
            O::ElemDrop { elem_index } => self.env.elem_drop(&mut self.builder, elem_index)?,
            O::Call { function_index } => self.call(CallKind::Normal, function_index)?,
            O::CallIndirect { type_index, table_index } => {
                self.call_indirect(CallKind::Normal, type_index, table_index)?
            }
            O::ReturnCall { function_index } => self.call(CallKind::Tail, function_index)?,
            O::ReturnCallIndirect { type_index, table_index } => {
                self.call_indirect(CallKind::Tail, type_index, table_index)?
            }
            ref other => return Err(WasmError::Unsupported(format!("operator {other:?}"))),
        }
        Ok(())
    }

    /// `call`, or `return_call`.
    fn call(&mut self, kind: CallKind, index: u32) -> WasmResult<()> {
        let callee = match self.func_refs.get(&index) {
            Some(callee) => *callee,
            None => {
                let callee = self.env.direct_func(self.builder.func, index)?;
                *self.func_refs.entry(index).or_insert(callee)
            }
        };
        let ty = self.env.module().func_type(index).ok_or_else(|| WasmError::invalid("function without a type"))?;
        let args = self.pop_n(ty.params.len());
        let call = self.env.call(&mut self.builder, kind, index, callee, &args)?;
        self.call_results(kind, call);
        Ok(())
    }

    /// `call_indirect`, or `return_call_indirect`.
    fn call_indirect(&mut self, kind: CallKind, type_index: u32, table: u32) -> WasmResult<()> {
        let sig = match self.sig_refs.get(&type_index) {
            Some(sig) => *sig,
            None => {
                let sig = self.env.indirect_sig(self.builder.func, type_index)?;
                *self.sig_refs.entry(type_index).or_insert(sig)
            }
        };
        let ty = self.env.type_of(type_index)?;
        let callee = self.pop();
        let args = self.pop_n(ty.params.len());
        let call = self.env.call_indirect(&mut self.builder, kind, table, type_index, sig, callee, &args)?;
        self.call_results(kind, call);
        Ok(())
    }

    /// A call's results go on the stack; after a tail call, nothing follows.
    fn call_results(&mut self, kind: CallKind, call: ir::Inst) {
        match kind {
            CallKind::Normal => {
                let results = self.builder.inst_results(call).to_vec();
                self.stack.extend(results);
            }
            CallKind::Tail => self.reachable = false,
        }
    }
}
