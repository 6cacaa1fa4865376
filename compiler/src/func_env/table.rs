//! Tables.
//!
//! A defined table's `VMTableDefinition` sits inline in the vmctx; an
//! imported one is reached through the pointer in the vmctx. Tables grow and
//! move, so base and size are never loaded read-only. Element accesses use
//! Cranelift's bounds-checked `prepare_table_addr` with Spectre mitigation:
//! an out-of-bounds index becomes a null address whose access faults and is
//! recorded as `TableOutOfBounds`.

use cranelift_codegen::cursor::FuncCursor;
use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use cranelift_wasm::{TableData, TableSize, WasmError, WasmResult};
use wasmc_abi::builtins::Builtin;
use wasmc_abi::vmctx::{TABLE_BASE, TABLE_CURRENT_ELEMENTS, TABLE_ELEMENT_SIZE};

use super::{readonly, FuncEnv};

impl FuncEnv<'_> {
    /// The table description for table `index` (imports first).
    pub(super) fn table_data(&mut self, func: &mut ir::Function, index: u32) -> WasmResult<TableData> {
        let slot = self
            .tables
            .get(index as usize)
            .ok_or_else(|| WasmError::InvalidWebAssembly { message: "table index out of range".into(), offset: 0 })?;
        if let Some(data) = slot {
            return Ok(data.clone());
        }
        let vmctx = self.vmctx_gv(func);
        let offsets = self.module.offsets;
        let (def, def_offset) = if index < self.module.imported_tables {
            let ptr = Self::load_gv(func, vmctx, offsets.imported_table(index), types::I64, readonly())?;
            (ptr, 0)
        } else {
            (vmctx, offsets.defined_table(index - self.module.imported_tables))
        };
        let flags = ir::MemFlags::trusted();
        let base_gv = Self::load_gv(func, def, def_offset + TABLE_BASE, types::I64, flags)?;
        let bound_gv = Self::load_gv(func, def, def_offset + TABLE_CURRENT_ELEMENTS, types::I32, flags)?;
        let data = TableData { base_gv, bound: TableSize::Dynamic { bound_gv }, element_size: TABLE_ELEMENT_SIZE };
        self.tables[index as usize] = Some(data.clone());
        Ok(data)
    }

    /// The address of element `index` of `table` and the flags to access it
    /// with (they carry the `TableOutOfBounds` trap code).
    pub(super) fn table_element_addr(
        &mut self,
        builder: &mut FunctionBuilder,
        table: u32,
        index: ir::Value,
    ) -> WasmResult<(ir::Value, ir::MemFlags)> {
        let data = self.table_data(builder.func, table)?;
        Ok(data.prepare_table_addr(builder, index, types::I64, true))
    }

    /// `table.get`.
    pub(super) fn table_get(
        &mut self,
        builder: &mut FunctionBuilder,
        table: u32,
        index: ir::Value,
    ) -> WasmResult<ir::Value> {
        let (addr, flags) = self.table_element_addr(builder, table, index)?;
        Ok(builder.ins().load(types::I64, flags, addr, 0))
    }

    /// `table.set`.
    pub(super) fn table_set(
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
    pub(super) fn table_size(&mut self, pos: FuncCursor, table: u32) -> WasmResult<ir::Value> {
        let data = self.table_data(pos.func, table)?;
        Ok(data.bound.bound(pos, types::I32))
    }

    /// `table.grow` through the builtin.
    pub(super) fn table_grow(
        &mut self,
        mut pos: FuncCursor,
        table: u32,
        delta: ir::Value,
        init: ir::Value,
    ) -> WasmResult<ir::Value> {
        let table = pos.ins().iconst(types::I32, i64::from(table));
        let result = self.call_builtin(&mut pos, Builtin::TableGrow, &[table, delta, init])?;
        result.ok_or_else(|| WasmError::Unsupported("table.grow builtin returns nothing".into()))
    }

    /// `table.fill` through the builtin.
    pub(super) fn table_fill(
        &mut self,
        mut pos: FuncCursor,
        table: u32,
        dst: ir::Value,
        value: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let table = pos.ins().iconst(types::I32, i64::from(table));
        self.call_builtin(&mut pos, Builtin::TableFill, &[table, dst, value, len])?;
        Ok(())
    }

    /// `table.copy` through the builtin.
    pub(super) fn table_copy(
        &mut self,
        mut pos: FuncCursor,
        dst_table: u32,
        src_table: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let dst_table = pos.ins().iconst(types::I32, i64::from(dst_table));
        let src_table = pos.ins().iconst(types::I32, i64::from(src_table));
        self.call_builtin(&mut pos, Builtin::TableCopy, &[dst_table, src_table, dst, src, len])?;
        Ok(())
    }

    /// `table.init` through the builtin.
    pub(super) fn table_init(
        &mut self,
        mut pos: FuncCursor,
        segment: u32,
        table: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let table = pos.ins().iconst(types::I32, i64::from(table));
        let segment = pos.ins().iconst(types::I32, i64::from(segment));
        self.call_builtin(&mut pos, Builtin::TableInit, &[table, segment, dst, src, len])?;
        Ok(())
    }

    /// `elem.drop` through the builtin.
    pub(super) fn elem_drop(&mut self, mut pos: FuncCursor, segment: u32) -> WasmResult<()> {
        let segment = pos.ins().iconst(types::I32, i64::from(segment));
        self.call_builtin(&mut pos, Builtin::ElemDrop, &[segment])?;
        Ok(())
    }
}
