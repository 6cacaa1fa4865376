//! Linear-memory operators: loads and stores (scalar and `v128`),
//! `memory.size`/`grow`, the bulk operators and `data.drop`. Addresses and bounds checks come from
//! [`crate::func_env::FuncEnv::memory_access`], which knows the memory's
//! index type and the bounds-check mode.

use cranelift_codegen::ir::types::{I16X8, I32X4, I64X2, I8X16};
use cranelift_codegen::ir::{self, types, InstBuilder, Opcode};
use wasmparser::{MemArg, Operator};

use super::{Translator, WasmResult};
use crate::func_env::MemoryAccess;

impl Translator<'_, '_, '_> {
    /// The address for an access of `size` bytes described by `memarg`, the
    /// index popped; `None` (and unreachable) if it always traps.
    pub(super) fn heap_address(
        &mut self,
        memarg: &MemArg,
        index: ir::Value,
        size: u8,
    ) -> WasmResult<Option<(ir::Value, ir::MemFlagsData)>> {
        match self.env.memory_access(&mut self.builder, memarg.memory, index, memarg.offset, size)? {
            MemoryAccess::At { address, flags } => Ok(Some((address, flags))),
            MemoryAccess::AlwaysTraps => {
                self.reachable = false;
                Ok(None)
            }
        }
    }

    /// A load of `size` bytes, extended (by `opcode`) to `ty`.
    pub(super) fn load(&mut self, memarg: &MemArg, opcode: Opcode, ty: ir::Type, size: u8) -> WasmResult<()> {
        let index = self.pop();
        let Some((addr, flags)) = self.heap_address(memarg, index, size)? else { return Ok(()) };
        let ins = self.builder.ins();
        let v = match opcode {
            Opcode::Load => ins.load(ty, flags, addr, 0),
            Opcode::Uload8 => ins.uload8(ty, flags, addr, 0),
            Opcode::Sload8 => ins.sload8(ty, flags, addr, 0),
            Opcode::Uload16 => ins.uload16(ty, flags, addr, 0),
            Opcode::Sload16 => ins.sload16(ty, flags, addr, 0),
            Opcode::Uload32 => ins.uload32(flags, addr, 0),
            Opcode::Sload32 => ins.sload32(flags, addr, 0),
            _ => unreachable!("not a load opcode: {opcode}"),
        };
        self.push(v);
        Ok(())
    }

    /// A store of the low `size` bytes of the top value.
    pub(super) fn store(&mut self, memarg: &MemArg, size: u8) -> WasmResult<()> {
        let (index, value) = self.pop2();
        let Some((addr, flags)) = self.heap_address(memarg, index, size)? else { return Ok(()) };
        let value_size = self.builder.func.dfg.value_type(value).bytes();
        let ins = self.builder.ins();
        match (size, value_size) {
            (1, _) => ins.istore8(flags, value, addr, 0),
            (2, _) => ins.istore16(flags, value, addr, 0),
            (4, 8) => ins.istore32(flags, value, addr, 0),
            _ => ins.store(flags, value, addr, 0),
        };
        Ok(())
    }

    /// Loads a scalar of type `ty` from linear memory; `None` if it always traps.
    fn load_scalar(&mut self, memarg: &MemArg, ty: ir::Type) -> WasmResult<Option<ir::Value>> {
        let index = self.pop();
        let Some((addr, flags)) = self.heap_address(memarg, index, ty.bytes() as u8)? else { return Ok(None) };
        Ok(Some(self.builder.ins().load(ty, flags, addr, 0)))
    }

    /// `v128.loadNxM_s/u`: eight, four or two lanes, extended.
    fn load_extend(&mut self, memarg: &MemArg, lanes: u8, signed: bool) -> WasmResult<()> {
        let index = self.pop();
        let Some((addr, flags)) = self.heap_address(memarg, index, 8)? else { return Ok(()) };
        let ins = self.builder.ins();
        let v = match (lanes, signed) {
            (8, true) => ins.sload8x8(flags, addr, 0),
            (8, false) => ins.uload8x8(flags, addr, 0),
            (4, true) => ins.sload16x4(flags, addr, 0),
            (4, false) => ins.uload16x4(flags, addr, 0),
            (_, true) => ins.sload32x2(flags, addr, 0),
            (_, false) => ins.uload32x2(flags, addr, 0),
        };
        self.push_vector(v);
        Ok(())
    }

    /// `v128.loadN_splat`.
    fn load_splat(&mut self, memarg: &MemArg, ty: ir::Type) -> WasmResult<()> {
        let Some(x) = self.load_scalar(memarg, ty.lane_type())? else { return Ok(()) };
        let v = self.builder.ins().splat(ty, x);
        self.push_vector(v);
        Ok(())
    }

    /// `v128.loadN_zero`.
    fn load_zero(&mut self, memarg: &MemArg, ty: ir::Type) -> WasmResult<()> {
        let Some(x) = self.load_scalar(memarg, ty.lane_type())? else { return Ok(()) };
        let v = self.builder.ins().scalar_to_vector(ty, x);
        self.push_vector(v);
        Ok(())
    }

    /// `v128.loadN_lane`.
    fn load_lane(&mut self, memarg: &MemArg, ty: ir::Type, lane: u8) -> WasmResult<()> {
        let vector = self.pop_vector(ty);
        let Some(x) = self.load_scalar(memarg, ty.lane_type())? else { return Ok(()) };
        let v = self.builder.ins().insertlane(vector, x, lane);
        self.push_vector(v);
        Ok(())
    }

    /// `v128.storeN_lane`.
    fn store_lane(&mut self, memarg: &MemArg, ty: ir::Type, lane: u8) -> WasmResult<()> {
        let vector = self.pop_vector(ty);
        let index = self.pop();
        let Some((addr, flags)) = self.heap_address(memarg, index, ty.lane_type().bytes() as u8)? else {
            return Ok(());
        };
        let x = self.builder.ins().extractlane(vector, lane);
        self.builder.ins().store(flags, x, addr, 0);
        Ok(())
    }

    /// Translates a memory operator; `false` if `op` is not one.
    pub(super) fn memory_operator(&mut self, op: &Operator<'_>) -> WasmResult<bool> {
        use types::{F32, F64, I32, I64};
        use Opcode as C;
        use Operator as O;
        match *op {
            O::I32Load { ref memarg } => self.load(memarg, C::Load, I32, 4)?,
            O::I64Load { ref memarg } => self.load(memarg, C::Load, I64, 8)?,
            O::F32Load { ref memarg } => self.load(memarg, C::Load, F32, 4)?,
            O::F64Load { ref memarg } => self.load(memarg, C::Load, F64, 8)?,
            O::I32Load8S { ref memarg } => self.load(memarg, C::Sload8, I32, 1)?,
            O::I32Load8U { ref memarg } => self.load(memarg, C::Uload8, I32, 1)?,
            O::I32Load16S { ref memarg } => self.load(memarg, C::Sload16, I32, 2)?,
            O::I32Load16U { ref memarg } => self.load(memarg, C::Uload16, I32, 2)?,
            O::I64Load8S { ref memarg } => self.load(memarg, C::Sload8, I64, 1)?,
            O::I64Load8U { ref memarg } => self.load(memarg, C::Uload8, I64, 1)?,
            O::I64Load16S { ref memarg } => self.load(memarg, C::Sload16, I64, 2)?,
            O::I64Load16U { ref memarg } => self.load(memarg, C::Uload16, I64, 2)?,
            O::I64Load32S { ref memarg } => self.load(memarg, C::Sload32, I64, 4)?,
            O::I64Load32U { ref memarg } => self.load(memarg, C::Uload32, I64, 4)?,
            O::I32Store { ref memarg } | O::F32Store { ref memarg } => self.store(memarg, 4)?,
            O::I64Store { ref memarg } | O::F64Store { ref memarg } => self.store(memarg, 8)?,
            O::I32Store8 { ref memarg } | O::I64Store8 { ref memarg } => self.store(memarg, 1)?,
            O::I32Store16 { ref memarg } | O::I64Store16 { ref memarg } => self.store(memarg, 2)?,
            O::I64Store32 { ref memarg } => self.store(memarg, 4)?,
            O::V128Load { ref memarg } => {
                let Some(v) = self.load_scalar(memarg, I8X16)? else { return Ok(true) };
                self.push(v);
            }
            O::V128Store { ref memarg } => {
                let (index, value) = self.pop2();
                if let Some((addr, flags)) = self.heap_address(memarg, index, 16)? {
                    self.builder.ins().store(flags, value, addr, 0);
                }
            }
            O::V128Load8x8S { ref memarg } => self.load_extend(memarg, 8, true)?,
            O::V128Load8x8U { ref memarg } => self.load_extend(memarg, 8, false)?,
            O::V128Load16x4S { ref memarg } => self.load_extend(memarg, 4, true)?,
            O::V128Load16x4U { ref memarg } => self.load_extend(memarg, 4, false)?,
            O::V128Load32x2S { ref memarg } => self.load_extend(memarg, 2, true)?,
            O::V128Load32x2U { ref memarg } => self.load_extend(memarg, 2, false)?,
            O::V128Load8Splat { ref memarg } => self.load_splat(memarg, I8X16)?,
            O::V128Load16Splat { ref memarg } => self.load_splat(memarg, I16X8)?,
            O::V128Load32Splat { ref memarg } => self.load_splat(memarg, I32X4)?,
            O::V128Load64Splat { ref memarg } => self.load_splat(memarg, I64X2)?,
            O::V128Load32Zero { ref memarg } => self.load_zero(memarg, I32X4)?,
            O::V128Load64Zero { ref memarg } => self.load_zero(memarg, I64X2)?,
            O::V128Load8Lane { ref memarg, lane } => self.load_lane(memarg, I8X16, lane)?,
            O::V128Load16Lane { ref memarg, lane } => self.load_lane(memarg, I16X8, lane)?,
            O::V128Load32Lane { ref memarg, lane } => self.load_lane(memarg, I32X4, lane)?,
            O::V128Load64Lane { ref memarg, lane } => self.load_lane(memarg, I64X2, lane)?,
            O::V128Store8Lane { ref memarg, lane } => self.store_lane(memarg, I8X16, lane)?,
            O::V128Store16Lane { ref memarg, lane } => self.store_lane(memarg, I16X8, lane)?,
            O::V128Store32Lane { ref memarg, lane } => self.store_lane(memarg, I32X4, lane)?,
            O::V128Store64Lane { ref memarg, lane } => self.store_lane(memarg, I64X2, lane)?,
            O::MemorySize { mem } => {
                let v = self.env.memory_size(&mut self.builder, mem)?;
                self.push(v);
            }
            O::MemoryGrow { mem } => {
                let delta = self.pop();
                let v = self.env.memory_grow(&mut self.builder, mem, delta)?;
                self.push(v);
            }
            O::MemoryFill { mem } => {
                let (dst, byte, len) = self.pop3();
                self.env.memory_fill(&mut self.builder, mem, dst, byte, len)?;
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let (dst, src, len) = self.pop3();
                self.env.memory_copy(&mut self.builder, src_mem, dst_mem, dst, src, len)?;
            }
            O::MemoryInit { data_index, mem } => {
                let (dst, src, len) = self.pop3();
                self.env.memory_init(&mut self.builder, mem, data_index, dst, src, len)?;
            }
            O::DataDrop { data_index } => self.env.data_drop(&mut self.builder, data_index)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}
