//! Interruption: epoch deadline checks (always) and fuel metering (with
//! `CompileOptions::fuel_metering`).
//!
//! Both read the store's `VMRuntimeLimits` through `VMCTX_RUNTIME_LIMITS`;
//! the pointers in the vmctx header never change, so their loads are
//! read-only and movable, and Cranelift may hoist them and keep them in
//! registers.
//!
//! * Epoch: at function entry and every loop header, load the epoch counter
//!   (an atomic load, so it is re-read on every iteration even in a loop
//!   with no stores or calls) and compare it with the deadline; trap with
//!   `TrapCode::Interrupt` when `epoch >= deadline` (a conditional branch to
//!   an out-of-line trap). The deadline does not change while wasm runs
//!   (`RUNTIME_LIMITS_EPOCH_DEADLINE`), so its load is read-only: Cranelift
//!   hoists it out of loops and a loop's check is one load and a compare.
//! * Fuel: remaining fuel lives in a variable while the function runs.
//!   Operators are counted at translation time and subtracted at every
//!   control-flow boundary; the variable is stored to the limits before
//!   calls, returns and `unreachable` and reloaded after calls (including
//!   the builtins of bulk and grow operators, which charge for the bytes
//!   or elements they touch; a small `memory.copy` or `memory.fill` is
//!   charged inline at the same rate, see `memory.rs`). It is
//!   checked (negative: store it, then trap with `TrapCode::Interrupt`) at
//!   function entry, loop headers and returns, so no call completes and no
//!   loop iterates once the budget is spent; a call can overrun by at most
//!   one straight-line stretch of code.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_frontend::{FunctionBuilder, Variable};
use wasmc_abi::builtins::BYTES_PER_FUEL;
use wasmc_abi::vmctx::{RUNTIME_LIMITS_EPOCH_DEADLINE, RUNTIME_LIMITS_FUEL, VMCTX_EPOCH_PTR, VMCTX_RUNTIME_LIMITS};
use wasmparser::Operator;

use super::{offset32, readonly, trap, FuncEnv};
use crate::translate::WasmResult;

/// Which checks to compile in, and the per-function state they need.
#[derive(Default)]
pub(crate) struct Interrupts {
    /// Epoch deadline checks (always on except in benchmarks).
    pub epoch: bool,
    /// Fuel metering.
    pub fuel: bool,
    /// Remaining fuel, while the function runs (declared at function entry).
    fuel_var: Option<Variable>,
    /// Operators translated since fuel was last subtracted.
    unflushed: i64,
}

/// What an operator costs in fuel: structure and no-ops are free.
fn fuel_cost(op: &Operator) -> i64 {
    match op {
        Operator::Nop
        | Operator::Drop
        | Operator::Block { .. }
        | Operator::Loop { .. }
        | Operator::End
        | Operator::Else => 0,
        _ => 1,
    }
}

/// Whether `op` is done by a builtin that charges fuel for the bytes or
/// elements it touches (`loader/src/vm/builtins.rs`): like a call, the
/// variable is stored before it and reloaded after it.
fn calls_charging_builtin(op: &Operator) -> bool {
    matches!(
        op,
        Operator::MemoryGrow { .. }
            | Operator::MemoryFill { .. }
            | Operator::MemoryCopy { .. }
            | Operator::MemoryInit { .. }
            | Operator::TableGrow { .. }
            | Operator::TableFill { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. }
    )
}

impl FuncEnv<'_> {
    fn limits_ptr(&mut self, builder: &mut FunctionBuilder) -> WasmResult<ir::Value> {
        self.vm_struct(builder, Some(VMCTX_RUNTIME_LIMITS))
    }

    fn epoch_ptr(&mut self, builder: &mut FunctionBuilder) -> WasmResult<ir::Value> {
        self.vm_struct(builder, Some(VMCTX_EPOCH_PTR))
    }

    /// Traps with `Interrupt` if the epoch has reached the deadline.
    fn epoch_check(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        let epoch_ptr = self.epoch_ptr(builder)?;
        let epoch = builder.ins().atomic_load(types::I64, ir::MemFlagsData::trusted(), epoch_ptr);
        let limits = self.limits_ptr(builder)?;
        let offset = offset32(RUNTIME_LIMITS_EPOCH_DEADLINE)?;
        let deadline = builder.ins().load(types::I64, readonly(), limits, offset);
        let expired = builder.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);
        builder.ins().trapnz(expired, trap::INTERRUPT);
        Ok(())
    }

    /// Subtracts the operators counted so far from the fuel variable.
    fn fuel_flush(&mut self, builder: &mut FunctionBuilder) {
        let (Some(var), n) = (self.interrupts.fuel_var, self.interrupts.unflushed) else { return };
        if n == 0 {
            return;
        }
        let fuel = builder.use_var(var);
        let fuel = builder.ins().iadd_imm_s(fuel, -n);
        builder.def_var(var, fuel);
        self.interrupts.unflushed = 0;
    }

    /// Stores the fuel variable to the store's limits.
    fn fuel_save(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        let Some(var) = self.interrupts.fuel_var else { return Ok(()) };
        let fuel = builder.use_var(var);
        self.fuel_store(builder, fuel)
    }

    /// Stores `fuel` to the store's limits.
    fn fuel_store(&mut self, builder: &mut FunctionBuilder, fuel: ir::Value) -> WasmResult<()> {
        let limits = self.limits_ptr(builder)?;
        builder.ins().store(ir::MemFlagsData::trusted(), fuel, limits, offset32(RUNTIME_LIMITS_FUEL)?);
        Ok(())
    }

    /// For a bulk operation the generated code does itself: the fuel left
    /// after charging for `bytes` (an `i64`) at the loader's rate, one unit
    /// per [`BYTES_PER_FUEL`] rounded up, or `None` without fuel metering.
    /// Nothing is charged until [`Self::bulk_fuel_commit`]; a negative
    /// result means the builtin must do the operation (and trap).
    pub(super) fn bulk_fuel_left(
        &mut self,
        builder: &mut FunctionBuilder,
        bytes: ir::Value,
    ) -> WasmResult<Option<ir::Value>> {
        const { assert!(BYTES_PER_FUEL.is_power_of_two()) };
        let Some(var) = self.interrupts.fuel_var else { return Ok(None) };
        // `interrupt_before_op` has flushed the operator count into the
        // variable and stored it, as for any charging builtin.
        let fuel = builder.use_var(var);
        let rounded = builder.ins().iadd_imm_s(bytes, (BYTES_PER_FUEL - 1) as i64);
        let cost = builder.ins().ushr_imm_u(rounded, i64::from(BYTES_PER_FUEL.trailing_zeros()));
        Ok(Some(builder.ins().isub(fuel, cost)))
    }

    /// Charges what [`Self::bulk_fuel_left`] computed: stores it to the
    /// limits, from where `interrupt_after_op` reloads the variable.
    pub(super) fn bulk_fuel_commit(&mut self, builder: &mut FunctionBuilder, left: ir::Value) -> WasmResult<()> {
        self.fuel_store(builder, left)
    }

    /// Loads the fuel variable from the store's limits.
    fn fuel_load(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        let Some(var) = self.interrupts.fuel_var else { return Ok(()) };
        let limits = self.limits_ptr(builder)?;
        let fuel = builder.ins().load(types::I64, ir::MemFlagsData::trusted(), limits, offset32(RUNTIME_LIMITS_FUEL)?);
        builder.def_var(var, fuel);
        Ok(())
    }

    /// Traps with `Interrupt` (after saving the negative count, which tells
    /// the loader it was fuel) if the fuel variable is below zero.
    fn fuel_check(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        let Some(var) = self.interrupts.fuel_var else { return Ok(()) };
        self.fuel_flush(builder);
        let fuel = builder.use_var(var);
        let exhausted = builder.ins().icmp_imm_s(IntCC::SignedLessThan, fuel, 0);
        let out_of_fuel = builder.create_block();
        let go_on = builder.create_block();
        builder.set_cold_block(out_of_fuel);
        builder.ins().brif(exhausted, out_of_fuel, &[], go_on, &[]);
        builder.seal_block(out_of_fuel);
        builder.seal_block(go_on);
        builder.switch_to_block(out_of_fuel);
        self.fuel_save(builder)?;
        builder.ins().trap(trap::INTERRUPT);
        builder.switch_to_block(go_on);
        Ok(())
    }

    /// Function entry: load the fuel, then check fuel and epoch.
    pub(crate) fn interrupt_function_entry(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        if self.interrupts.fuel {
            self.interrupts.fuel_var = Some(builder.declare_var(types::I64));
            self.fuel_load(builder)?;
            self.fuel_check(builder)?;
        }
        if self.interrupts.epoch {
            self.epoch_check(builder)?;
        }
        Ok(())
    }

    /// The exit block (only called if reachable): charge, check and save the fuel.
    pub(crate) fn interrupt_function_exit(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        if self.interrupts.fuel_var.is_some() {
            self.fuel_check(builder)?;
            self.fuel_save(builder)?;
        }
        Ok(())
    }

    /// A loop header: check fuel and epoch on every iteration.
    pub(crate) fn interrupt_loop_header(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        self.fuel_check(builder)?;
        if self.interrupts.epoch {
            self.epoch_check(builder)?;
        }
        Ok(())
    }

    /// Counts `op` and charges the count where control flow leaves the
    /// current straight-line stretch.
    /// Only called for reachable operators.
    pub(crate) fn interrupt_before_op(&mut self, op: &Operator, builder: &mut FunctionBuilder) -> WasmResult<()> {
        if self.interrupts.fuel_var.is_none() {
            return Ok(());
        }
        self.interrupts.unflushed += fuel_cost(op);
        if calls_charging_builtin(op) {
            self.fuel_flush(builder);
            self.fuel_save(builder)?;
            return Ok(());
        }
        match op {
            Operator::Call { .. } | Operator::CallIndirect { .. } | Operator::Unreachable => {
                self.fuel_flush(builder);
                self.fuel_save(builder)?;
            }
            // A tail call returns for us: its callee checks the fuel at
            // entry, as a callee of `call` does.
            Operator::Return | Operator::ReturnCall { .. } | Operator::ReturnCallIndirect { .. } => {
                self.fuel_check(builder)?;
                self.fuel_save(builder)?;
            }
            Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. } => self.fuel_flush(builder),
            _ => {}
        }
        Ok(())
    }

    /// After a call, the callee may have used fuel: reload it.
    /// `reachable`: whether code after `op` is reachable.
    pub(crate) fn interrupt_after_op(
        &mut self,
        op: &Operator,
        builder: &mut FunctionBuilder,
        reachable: bool,
    ) -> WasmResult<()> {
        if self.interrupts.fuel_var.is_some()
            && reachable
            && (matches!(op, Operator::Call { .. } | Operator::CallIndirect { .. }) || calls_charging_builtin(op))
        {
            self.fuel_load(builder)?;
        }
        Ok(())
    }
}
