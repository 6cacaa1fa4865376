//! Globals and linear memories.
//!
//! A defined memory's `VMMemoryDefinition` sits inline in the vmctx; an
//! imported one is reached through the pointer in the vmctx. In guard mode the
//! memory never moves, so its base is loaded read-only and bounds checks
//! covered by the reservation and guard are left out; in explicit mode base
//! and length are reloaded as needed (calls may grow and move the memory).
//!
//! Every access the translator makes goes through [`FuncEnv::memory_access`]:
//! it takes the memory index and the index value in the memory's index type
//! (`i32` for now; a 64-bit memory changes only [`MemoryData::index_type`]
//! and the checks that assume 32-bit indices), and returns the address to
//! access and the flags carrying the heap-out-of-bounds trap code.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use wasmc_abi::builtins::{Builtin, BULK_CHUNK_BYTES};
use wasmc_abi::vmctx::{MEMORY_BASE, MEMORY_CURRENT_LENGTH};
use wasmc_abi::{BoundsChecks, GUARD_RESERVATION, GUARD_SIZE, WASM_PAGE_SIZE};

use super::{clif_type, offset32, readonly, FuncEnv};
use crate::translate::{WasmError, WasmResult};

/// Where a global lives: `ty` at `base + offset`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GlobalAccess {
    /// The address the offset is relative to.
    pub base: ir::Value,
    /// Byte offset from `base`.
    pub offset: i32,
    /// The global's CLIF type.
    pub ty: ir::Type,
}

/// A memory as the code of one function sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct MemoryData {
    /// Where the vmctx points to its `VMMemoryDefinition` (an import), or
    /// `None` if the definition is inline.
    pointer_at: Option<u32>,
    /// Offset of the definition in the vmctx or from that pointer.
    def_offset: u32,
    /// The type of its indices (`i32`; `i64` with the memory64 proposal).
    index_type: ir::Type,
}

/// The result of [`FuncEnv::memory_access`].
pub(crate) enum MemoryAccess {
    /// Access `address` (with offset 0) using `flags`.
    At { address: ir::Value, flags: ir::MemFlagsData },
    /// The access is out of bounds whatever the index: a trap was emitted
    /// and the code after it is unreachable.
    AlwaysTraps,
}

/// Flags of a linear-memory access: may be unaligned, little-endian, and a
/// fault is a heap-out-of-bounds trap.
pub(crate) fn heap_flags() -> ir::MemFlagsData {
    ir::MemFlagsData::new()
        .with_endianness(ir::Endianness::Little)
        .with_trap_code(Some(ir::TrapCode::HEAP_OUT_OF_BOUNDS))
}

impl FuncEnv<'_> {
    /// Where global `index` (imports first) lives.
    pub(crate) fn global(&mut self, builder: &mut FunctionBuilder, index: u32) -> WasmResult<GlobalAccess> {
        let ty =
            self.module.globals.get(index as usize).ok_or_else(|| WasmError::invalid("global index out of range"))?;
        let ty = clif_type(ty.ty);
        let offsets = self.module.offsets;
        if index < self.module.imported_globals {
            let base = self.vm_struct(builder, Some(offsets.imported_global(index)))?;
            Ok(GlobalAccess { base, offset: 0, ty })
        } else {
            let defined = index - self.module.imported_globals;
            let base = self.vm_struct(builder, None)?;
            Ok(GlobalAccess { base, offset: offset32(offsets.defined_global(defined))?.into(), ty })
        }
    }

    /// Where memory `index` (imports first) is described.
    fn memory_data(&mut self, index: u32) -> WasmResult<MemoryData> {
        let slot = self.memories.get(index as usize).ok_or_else(|| WasmError::invalid("memory index out of range"))?;
        if let Some(data) = slot {
            return Ok(*data);
        }
        let offsets = self.module.offsets;
        let (pointer_at, def_offset) = if index < self.module.imported_memories {
            (Some(offsets.imported_memory(index)), 0)
        } else {
            (None, offsets.defined_memory(index - self.module.imported_memories))
        };
        let data = MemoryData { pointer_at, def_offset, index_type: types::I32 };
        self.memories[index as usize] = Some(data);
        Ok(data)
    }

    /// The base address of a memory: fixed in guard mode, reloaded in explicit mode.
    fn memory_base(&mut self, builder: &mut FunctionBuilder, data: MemoryData) -> WasmResult<ir::Value> {
        let def = self.vm_struct(builder, data.pointer_at)?;
        let flags = if self.bounds_checks == BoundsChecks::Guard { readonly() } else { ir::MemFlagsData::trusted() };
        Ok(builder.ins().load(types::I64, flags, def, offset32(data.def_offset + MEMORY_BASE)?))
    }

    /// The current length in bytes of a memory.
    fn memory_length(&mut self, builder: &mut FunctionBuilder, data: MemoryData) -> WasmResult<ir::Value> {
        let def = self.vm_struct(builder, data.pointer_at)?;
        let offset = offset32(data.def_offset + MEMORY_CURRENT_LENGTH)?;
        Ok(builder.ins().load(types::I64, ir::MemFlagsData::trusted(), def, offset))
    }

    /// The address of an access of `size` bytes at `index + offset` in
    /// memory `memory`, bounds-checked as the bounds-check mode requires.
    ///
    /// A failed check makes the address null (`select_spectre_guard`, so
    /// no speculation past the check either): the access faults and the
    /// fault is recorded as a heap-out-of-bounds trap.
    pub(crate) fn memory_access(
        &mut self,
        builder: &mut FunctionBuilder,
        memory: u32,
        index: ir::Value,
        offset: u64,
        size: u8,
    ) -> WasmResult<MemoryAccess> {
        let data = self.memory_data(memory)?;
        debug_assert_eq!(builder.func.dfg.value_type(index), data.index_type);
        // A 32-bit index and offset: their sum plus the size fits in 64 bits.
        let end = offset + u64::from(size);
        // No memory of 32-bit indices is larger than 4 GiB.
        let max_length = 1u64 << 32;
        if end > max_length {
            builder.ins().trap(ir::TrapCode::HEAP_OUT_OF_BOUNDS);
            return Ok(MemoryAccess::AlwaysTraps);
        }
        let index = builder.ins().uextend(types::I64, index);
        let base = self.memory_base(builder, data)?;
        let oob = match self.bounds_checks {
            // Any index below 4 GiB plus `end` stays within the reservation
            // and guard, where every inaccessible byte faults.
            BoundsChecks::Guard if (max_length - 1) + end <= GUARD_RESERVATION + GUARD_SIZE => None,
            BoundsChecks::Guard => {
                let limit = builder.ins().iconst(types::I64, (GUARD_RESERVATION - end) as i64);
                Some(builder.ins().icmp(IntCC::UnsignedGreaterThan, index, limit))
            }
            BoundsChecks::Explicit => {
                let length = self.memory_length(builder, data)?;
                let access_end = builder.ins().iadd_imm_s(index, end as i64);
                Some(builder.ins().icmp(IntCC::UnsignedGreaterThan, access_end, length))
            }
        };
        let address = builder.ins().iadd(base, index);
        let address = if offset == 0 { address } else { builder.ins().iadd_imm_s(address, offset as i64) };
        let address = match oob {
            None => address,
            Some(oob) => {
                let null = builder.ins().iconst(types::I64, 0);
                builder.ins().select_spectre_guard(oob, null, address)
            }
        };
        Ok(MemoryAccess::At { address, flags: heap_flags() })
    }

    /// `memory.size`: the current length in pages.
    pub(crate) fn memory_size(&mut self, builder: &mut FunctionBuilder, memory: u32) -> WasmResult<ir::Value> {
        let data = self.memory_data(memory)?;
        let bytes = self.memory_length(builder, data)?;
        let pages = builder.ins().ushr_imm_u(bytes, i64::from(WASM_PAGE_SIZE.trailing_zeros()));
        Ok(builder.ins().ireduce(types::I32, pages))
    }

    /// `memory.grow` through the builtin.
    pub(crate) fn memory_grow(
        &mut self,
        builder: &mut FunctionBuilder,
        memory: u32,
        delta: ir::Value,
    ) -> WasmResult<ir::Value> {
        let memory = builder.ins().iconst(types::I32, i64::from(memory));
        self.call_builtin_value(builder, Builtin::MemoryGrow, &[memory, delta])
    }

    /// `memory.copy`. When both ranges are in bounds, the length is at most
    /// [`BULK_CHUNK_BYTES`] and the fuel covers it, the code checks and
    /// charges inline and calls `Memmove`, which is just the copy (a parser's
    /// many small `memcpy`s cost little more than the copy). Anything else
    /// goes to the `MemoryCopy` builtin, which traps or copies in chunks
    /// under the deadline: the same outcome, for the same charge.
    pub(crate) fn memory_copy(
        &mut self,
        builder: &mut FunctionBuilder,
        src_memory: u32,
        dst_memory: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let len64 = builder.ins().uextend(types::I64, len);
        let (dst_address, dst_ok) = self.bulk_range(builder, dst_memory, dst, len64)?;
        let (src_address, src_ok) = self.bulk_range(builder, src_memory, src, len64)?;
        let in_bounds = builder.ins().band(dst_ok, src_ok);
        self.bulk_inline_or_builtin(
            builder,
            in_bounds,
            len64,
            |env, builder| env.call_builtin(builder, Builtin::Memmove, &[dst_address, src_address, len64]),
            |env, builder| {
                let dst_memory = builder.ins().iconst(types::I32, i64::from(dst_memory));
                let src_memory = builder.ins().iconst(types::I32, i64::from(src_memory));
                env.call_builtin(builder, Builtin::MemoryCopy, &[dst_memory, dst, src_memory, src, len])
            },
        )
    }

    /// `memory.fill`, inline and through `Memset` under the same conditions
    /// as [`Self::memory_copy`], otherwise through the `MemoryFill` builtin.
    pub(crate) fn memory_fill(
        &mut self,
        builder: &mut FunctionBuilder,
        memory: u32,
        dst: ir::Value,
        byte: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let len64 = builder.ins().uextend(types::I64, len);
        let (address, in_bounds) = self.bulk_range(builder, memory, dst, len64)?;
        self.bulk_inline_or_builtin(
            builder,
            in_bounds,
            len64,
            |env, builder| env.call_builtin(builder, Builtin::Memset, &[address, byte, len64]),
            |env, builder| {
                let memory = builder.ins().iconst(types::I32, i64::from(memory));
                env.call_builtin(builder, Builtin::MemoryFill, &[memory, dst, byte, len])
            },
        )
    }

    /// For a bulk operation on `len` (an `i64`) bytes at `index` of
    /// `memory`: the host address, and whether the range lies within the
    /// memory's current length. Out of bounds, the address is null
    /// (`select_spectre_guard`), so not even a mispredicted branch touches
    /// memory outside the sandbox through it.
    fn bulk_range(
        &mut self,
        builder: &mut FunctionBuilder,
        memory: u32,
        index: ir::Value,
        len: ir::Value,
    ) -> WasmResult<(ir::Value, ir::Value)> {
        let data = self.memory_data(memory)?;
        let index = builder.ins().uextend(types::I64, index);
        // Both below 2^32: the sum cannot wrap.
        let end = builder.ins().iadd(index, len);
        let length = self.memory_length(builder, data)?;
        let in_bounds = builder.ins().icmp(IntCC::UnsignedLessThanOrEqual, end, length);
        let base = self.memory_base(builder, data)?;
        let address = builder.ins().iadd(base, index);
        let null = builder.ins().iconst(types::I64, 0);
        let address = builder.ins().select_spectre_guard(in_bounds, address, null);
        Ok((address, in_bounds))
    }

    /// Runs `inline` when `in_bounds`, `len` is at most [`BULK_CHUNK_BYTES`]
    /// and the fuel (if metered) covers it, charging the fuel first;
    /// `builtin` otherwise, in a cold block.
    fn bulk_inline_or_builtin(
        &mut self,
        builder: &mut FunctionBuilder,
        in_bounds: ir::Value,
        len: ir::Value,
        inline: impl FnOnce(&mut Self, &mut FunctionBuilder) -> WasmResult<Option<ir::Value>>,
        builtin: impl FnOnce(&mut Self, &mut FunctionBuilder) -> WasmResult<Option<ir::Value>>,
    ) -> WasmResult<()> {
        let small = builder.ins().icmp_imm_u(IntCC::UnsignedLessThanOrEqual, len, BULK_CHUNK_BYTES as i64);
        let mut take_inline = builder.ins().band(in_bounds, small);
        let fuel_left = self.bulk_fuel_left(builder, len)?;
        if let Some(left) = fuel_left {
            let covered = builder.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, left, 0);
            take_inline = builder.ins().band(take_inline, covered);
        }
        let inline_block = builder.create_block();
        let builtin_block = builder.create_block();
        let done = builder.create_block();
        builder.set_cold_block(builtin_block);
        builder.ins().brif(take_inline, inline_block, &[], builtin_block, &[]);
        builder.seal_block(inline_block);
        builder.seal_block(builtin_block);

        builder.switch_to_block(inline_block);
        if let Some(left) = fuel_left {
            self.bulk_fuel_commit(builder, left)?;
        }
        inline(self, builder)?;
        builder.ins().jump(done, &[]);

        builder.switch_to_block(builtin_block);
        builtin(self, builder)?;
        builder.ins().jump(done, &[]);

        builder.seal_block(done);
        builder.switch_to_block(done);
        Ok(())
    }

    /// `memory.init` through the builtin.
    pub(crate) fn memory_init(
        &mut self,
        builder: &mut FunctionBuilder,
        memory: u32,
        segment: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        let memory = builder.ins().iconst(types::I32, i64::from(memory));
        let segment = builder.ins().iconst(types::I32, i64::from(segment));
        self.call_builtin(builder, Builtin::MemoryInit, &[memory, segment, dst, src, len])?;
        Ok(())
    }

    /// `data.drop` through the builtin.
    pub(crate) fn data_drop(&mut self, builder: &mut FunctionBuilder, segment: u32) -> WasmResult<()> {
        let segment = builder.ins().iconst(types::I32, i64::from(segment));
        self.call_builtin(builder, Builtin::DataDrop, &[segment])?;
        Ok(())
    }
}
