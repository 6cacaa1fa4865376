//! Tables.
//!
//! A defined table's `VMTableDefinition` sits inline in the vmctx; an
//! imported one is reached through the pointer in the vmctx. Tables grow and
//! move, so base and size are never loaded read-only. Element accesses are
//! bounds-checked with Spectre mitigation: an out-of-bounds index becomes a
//! null address whose access faults and is recorded as `TableOutOfBounds`.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use wasmc_abi::builtins::Builtin;
use wasmc_abi::vmctx::{TABLE_BASE, TABLE_CURRENT_ELEMENTS, TABLE_ELEMENT_SIZE};

use super::{offset32, trap, FuncEnv};
use crate::translate::{WasmError, WasmResult};

/// Where a table is described: the vmctx holds its `VMTableDefinition`
/// inline at `def_offset`, or (an import) points to it from `pointer_at`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableData {
    pointer_at: Option<u32>,
    def_offset: u32,
}

impl FuncEnv<'_> {
    /// The description of table `index` (imports first).
    fn table_data(&mut self, index: u32) -> WasmResult<TableData> {
        let slot = self.tables.get(index as usize).ok_or_else(|| WasmError::invalid("table index out of range"))?;
        if let Some(data) = slot {
            return Ok(*data);
        }
        let offsets = self.module.offsets;
        let data = if index < self.module.imported_tables {
            TableData { pointer_at: Some(offsets.imported_table(index)), def_offset: 0 }
        } else {
            TableData { pointer_at: None, def_offset: offsets.defined_table(index - self.module.imported_tables) }
        };
        self.tables[index as usize] = Some(data);
        Ok(data)
    }

    /// The table's current size, an `i32`, and its base.
    fn table_size_and_base(&mut self, builder: &mut FunctionBuilder, table: u32) -> WasmResult<(ir::Value, ir::Value)> {
        let data = self.table_data(table)?;
        let def = self.vm_struct(builder, data.pointer_at)?;
        let flags = ir::MemFlagsData::trusted();
        let size = builder.ins().load(types::I32, flags, def, offset32(data.def_offset + TABLE_CURRENT_ELEMENTS)?);
        let base = builder.ins().load(types::I64, flags, def, offset32(data.def_offset + TABLE_BASE)?);
        Ok((size, base))
    }

    /// The address of element `index` of `table` and the flags to access it
    /// with (they carry the `TableOutOfBounds` trap code).
    pub(super) fn table_element_addr(
        &mut self,
        builder: &mut FunctionBuilder,
        table: u32,
        index: ir::Value,
    ) -> WasmResult<(ir::Value, ir::MemFlagsData)> {
        let (size, base) = self.table_size_and_base(builder, table)?;
        let oob = builder.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, size);
        let index = builder.ins().uextend(types::I64, index);
        let offset = builder.ins().imul_imm_u(index, i64::from(TABLE_ELEMENT_SIZE));
        let addr = builder.ins().iadd(base, offset);
        let null = builder.ins().iconst(types::I64, 0);
        let addr = builder.ins().select_spectre_guard(oob, null, addr);
        let flags = ir::MemFlagsData::new().with_aligned().with_trap_code(Some(trap::TABLE_OUT_OF_BOUNDS));
        Ok((addr, flags))
    }

    /// `table.get`.
    pub(crate) fn table_get(
        &mut self,
        builder: &mut FunctionBuilder,
        table: u32,
        index: ir::Value,
    ) -> WasmResult<ir::Value> {
        let (addr, flags) = self.table_element_addr(builder, table, index)?;
        Ok(builder.ins().load(types::I64, flags, addr, 0))
    }

    /// `table.set`.
    pub(crate) fn table_set(
        &mut self,
        builder: &mut FunctionBuilder,
        table: u32,
        value: ir::Value,
        index: ir::Value,
    ) -> WasmResult<()> {
        let (addr, flags) = self.table_element_addr(builder, table, index)?;
        builder.ins().store(flags, value, addr, 0);
        Ok(())
    }

    /// `table.size`.
    pub(crate) fn table_size(&mut self, builder: &mut FunctionBuilder, table: u32) -> WasmResult<ir::Value> {
        let data = self.table_data(table)?;
        let def = self.vm_struct(builder, data.pointer_at)?;
        let offset = offset32(data.def_offset + TABLE_CURRENT_ELEMENTS)?;
        Ok(builder.ins().load(types::I32, ir::MemFlagsData::trusted(), def, offset))
    }

    /// `table.grow` through the builtin.
    pub(crate) fn table_grow(
        &mut self,
        builder: &mut FunctionBuilder,
        table: u32,
        delta: ir::Value,
        init: ir::Value,
    ) -> WasmResult<ir::Value> {
        let table = builder.ins().iconst(types::I32, i64::from(table));
        self.call_builtin_value(builder, Builtin::TableGrow, &[table, delta, init])
    }

    /// `table.fill` through the builtin.
    pub(crate) fn table_fill(
        &mut self,
        builder: &mut FunctionBuilder,
        table: u32,
        dst: ir::Value,
        value: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let table = builder.ins().iconst(types::I32, i64::from(table));
        self.call_builtin(builder, Builtin::TableFill, &[table, dst, value, len])?;
        Ok(())
    }

    /// `table.copy` through the builtin.
    pub(crate) fn table_copy(
        &mut self,
        builder: &mut FunctionBuilder,
        dst_table: u32,
        src_table: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let dst_table = builder.ins().iconst(types::I32, i64::from(dst_table));
        let src_table = builder.ins().iconst(types::I32, i64::from(src_table));
        self.call_builtin(builder, Builtin::TableCopy, &[dst_table, src_table, dst, src, len])?;
        Ok(())
    }

    /// `table.init` through the builtin.
    pub(crate) fn table_init(
        &mut self,
        builder: &mut FunctionBuilder,
        segment: u32,
        table: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let table = builder.ins().iconst(types::I32, i64::from(table));
        let segment = builder.ins().iconst(types::I32, i64::from(segment));
        self.call_builtin(builder, Builtin::TableInit, &[table, segment, dst, src, len])?;
        Ok(())
    }

    /// `elem.drop` through the builtin.
    pub(crate) fn elem_drop(&mut self, builder: &mut FunctionBuilder, segment: u32) -> WasmResult<()> {
        let segment = builder.ins().iconst(types::I32, i64::from(segment));
        self.call_builtin(builder, Builtin::ElemDrop, &[segment])?;
        Ok(())
    }
}
