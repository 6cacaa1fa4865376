//! Globals and linear memories.
//!
//! A defined memory's `VMMemoryDefinition` sits inline in the vmctx; an
//! imported one is reached through the pointer in the vmctx. In guard mode the
//! memory never moves, so its base is loaded read-only and Cranelift elides
//! bounds checks covered by the reservation and guard; in explicit mode base
//! and length are reloaded as needed (calls may grow and move the memory).

use cranelift_codegen::cursor::FuncCursor;
use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_wasm::{GlobalVariable, Heap, HeapData, HeapStyle, WasmError, WasmResult};
use wasmc_abi::builtins::Builtin;
use wasmc_abi::vmctx::{MEMORY_BASE, MEMORY_CURRENT_LENGTH};
use wasmc_abi::{BoundsChecks, GUARD_RESERVATION, GUARD_SIZE, WASM_PAGE_SIZE};

use super::{clif_type, offset32, readonly, FuncEnv};

fn out_of_range(what: &str) -> WasmError {
    WasmError::InvalidWebAssembly { message: format!("{what} index out of range"), offset: 0 }
}

impl FuncEnv<'_> {
    /// `global.get`/`global.set` access for global `index` (imports first).
    pub(super) fn global(&mut self, func: &mut ir::Function, index: u32) -> WasmResult<GlobalVariable> {
        let ty = self.module.globals.get(index as usize).ok_or_else(|| out_of_range("global"))?;
        let ty = clif_type(ty.ty);
        let vmctx = self.vmctx_gv(func);
        let offsets = self.module.offsets;
        if index < self.module.imported_globals {
            let gv = Self::load_gv(func, vmctx, offsets.imported_global(index), types::I64, readonly())?;
            Ok(GlobalVariable::Memory { gv, offset: offset32(0)?, ty })
        } else {
            let defined = index - self.module.imported_globals;
            Ok(GlobalVariable::Memory { gv: vmctx, offset: offset32(offsets.defined_global(defined))?, ty })
        }
    }

    /// The heap for memory `index` (imports first).
    pub(super) fn heap(&mut self, func: &mut ir::Function, index: u32) -> WasmResult<Heap> {
        let mem = *self.module.memories.get(index as usize).ok_or_else(|| out_of_range("memory"))?;
        let vmctx = self.vmctx_gv(func);
        let offsets = self.module.offsets;
        let (def, def_offset) = if index < self.module.imported_memories {
            let ptr = Self::load_gv(func, vmctx, offsets.imported_memory(index), types::I64, readonly())?;
            (ptr, 0)
        } else {
            (vmctx, offsets.defined_memory(index - self.module.imported_memories))
        };
        let guard = self.bounds_checks == BoundsChecks::Guard;
        let base_flags = if guard { readonly() } else { ir::MemFlags::trusted() };
        let base = Self::load_gv(func, def, def_offset + MEMORY_BASE, types::I64, base_flags)?;
        let length = Self::load_gv(func, def, def_offset + MEMORY_CURRENT_LENGTH, types::I64, ir::MemFlags::trusted())?;
        let (style, offset_guard_size) = if guard {
            (HeapStyle::Static { bound: GUARD_RESERVATION }, GUARD_SIZE)
        } else {
            (HeapStyle::Dynamic { bound_gv: length }, 0)
        };
        let heap = self.heaps.push(HeapData {
            base,
            min_size: u64::from(mem.min_pages) * WASM_PAGE_SIZE,
            max_size: mem.max_pages.map(|p| u64::from(p) * WASM_PAGE_SIZE),
            offset_guard_size,
            style,
            index_type: types::I32,
            memory_type: None,
            page_size_log2: 16,
        });
        debug_assert_eq!(heap.as_u32() as usize, self.heap_lengths.len());
        self.heap_lengths.push(length);
        Ok(heap)
    }

    /// `memory.size`: the current length in pages.
    pub(super) fn memory_size(&mut self, mut pos: FuncCursor, heap: Heap) -> WasmResult<ir::Value> {
        let length = *self.heap_lengths.get(heap.as_u32() as usize).ok_or_else(|| out_of_range("heap"))?;
        let bytes = pos.ins().global_value(types::I64, length);
        let pages = pos.ins().ushr_imm(bytes, i64::from(WASM_PAGE_SIZE.trailing_zeros()));
        Ok(pos.ins().ireduce(types::I32, pages))
    }

    /// `memory.grow` through the builtin.
    pub(super) fn memory_grow(&mut self, mut pos: FuncCursor, memory: u32, delta: ir::Value) -> WasmResult<ir::Value> {
        let memory = pos.ins().iconst(types::I32, i64::from(memory));
        let result = self.call_builtin(&mut pos, Builtin::MemoryGrow, &[memory, delta])?;
        result.ok_or_else(|| WasmError::Unsupported("memory.grow builtin returns nothing".into()))
    }

    /// `memory.copy` through the builtin.
    pub(super) fn memory_copy(
        &mut self,
        mut pos: FuncCursor,
        src_memory: u32,
        dst_memory: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let dst_memory = pos.ins().iconst(types::I32, i64::from(dst_memory));
        let src_memory = pos.ins().iconst(types::I32, i64::from(src_memory));
        self.call_builtin(&mut pos, Builtin::MemoryCopy, &[dst_memory, dst, src_memory, src, len])?;
        Ok(())
    }

    /// `memory.fill` through the builtin.
    pub(super) fn memory_fill(
        &mut self,
        mut pos: FuncCursor,
        memory: u32,
        dst: ir::Value,
        byte: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let memory = pos.ins().iconst(types::I32, i64::from(memory));
        self.call_builtin(&mut pos, Builtin::MemoryFill, &[memory, dst, byte, len])?;
        Ok(())
    }

    /// `memory.init` through the builtin.
    pub(super) fn memory_init(
        &mut self,
        mut pos: FuncCursor,
        memory: u32,
        segment: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let memory = pos.ins().iconst(types::I32, i64::from(memory));
        let segment = pos.ins().iconst(types::I32, i64::from(segment));
        self.call_builtin(&mut pos, Builtin::MemoryInit, &[memory, segment, dst, src, len])?;
        Ok(())
    }

    /// `data.drop` through the builtin.
    pub(super) fn data_drop(&mut self, mut pos: FuncCursor, segment: u32) -> WasmResult<()> {
        let segment = pos.ins().iconst(types::I32, i64::from(segment));
        self.call_builtin(&mut pos, Builtin::DataDrop, &[segment])?;
        Ok(())
    }
}
