//! Precise store traps on aarch64 in guard mode.
//!
//! Guard mode lets the MMU catch out-of-bounds accesses. A multi-byte store
//! that straddles the end of the accessible memory faults, but the Arm
//! architecture allows it to keep the bytes before the page boundary
//! (x86_64 never does), while Wasm requires a trapping store to write
//! nothing. So on aarch64 each heap store wider than a byte is preceded by
//! a one-byte load of the last byte it writes: if any byte is out of
//! bounds the last one is (memory is contiguous from its base, and the
//! address only grows through the access), and the load faults before the
//! store runs. The probe touches only a byte the store itself writes, so
//! it can fault only where the store would have.
//!
//! This runs on the translated function, where every heap access is a
//! plain load or store whose flags carry the heap-out-of-bounds trap code.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::{self, types, InstBuilder, InstructionData, Opcode, TrapCode};

/// Inserts a probe load before every heap store wider than one byte.
pub(crate) fn insert(func: &mut ir::Function) {
    let mut pos = FuncCursor::new(func);
    while pos.next_block().is_some() {
        while let Some(inst) = pos.next_inst() {
            let InstructionData::Store { opcode, args: [value, addr], flags, offset } = pos.func.dfg.insts[inst] else {
                continue;
            };
            if pos.func.dfg.mem_flags[flags].trap_code() != Some(TrapCode::HEAP_OUT_OF_BOUNDS) {
                continue;
            }
            let width = match opcode {
                Opcode::Store => pos.func.dfg.value_type(value).bytes(),
                Opcode::Istore16 => 2,
                Opcode::Istore32 => 4,
                _ => continue,
            };
            if width < 2 {
                continue;
            }
            let Some(last) = i32::from(offset).checked_add(width as i32 - 1) else { continue };
            let srcloc = pos.func.srcloc(inst);
            pos.set_srcloc(srcloc);
            // The flags of a heap access: may trap, with the heap-out-of-bounds
            // code (so the fault is the store's trap); a load that may trap
            // is never removed as dead.
            pos.ins().load(types::I8, crate::func_env::heap_flags(), addr, last);
        }
    }
}
