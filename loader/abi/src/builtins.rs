//! Runtime functions that generated code calls.
//!
//! The `VMContext` header holds a pointer ([`crate::vmctx::VMCTX_BUILTINS`])
//! to an array of function pointers, one per [`Builtin`], in the order of
//! [`Builtin::ALL`]. Each uses the platform's C calling convention
//! (`extern "C"`), takes the caller's `*mut VMContext` first, and the
//! remaining parameters as [`Builtin::signature`] lists them. Index
//! arguments are in the module's own index spaces (imports first).
//!
//! A builtin that traps does not return: the loader unwinds to the host.

/// The kind of one builtin parameter or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinType {
    /// A 32-bit integer (`u32` in Rust).
    I32,
    /// A pointer-sized word (`usize` in Rust): a raw reference value.
    Pointer,
}

/// One runtime function generated code may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Builtin {
    /// `(vmctx, memory, delta_pages) -> old_pages`, or `u32::MAX` when the
    /// memory cannot grow that far.
    MemoryGrow,
    /// `(vmctx, memory, dst, byte, len)`: `memory.fill`.
    MemoryFill,
    /// `(vmctx, dst_memory, dst, src_memory, src, len)`: `memory.copy`.
    MemoryCopy,
    /// `(vmctx, memory, data_segment, dst, src, len)`: `memory.init`.
    MemoryInit,
    /// `(vmctx, data_segment)`: `data.drop`.
    DataDrop,
    /// `(vmctx, table, delta, init_ref) -> old_size`, or `u32::MAX`.
    TableGrow,
    /// `(vmctx, table, dst, ref, len)`: `table.fill`.
    TableFill,
    /// `(vmctx, dst_table, src_table, dst, src, len)`: `table.copy`.
    TableCopy,
    /// `(vmctx, table, elem_segment, dst, src, len)`: `table.init`.
    TableInit,
    /// `(vmctx, elem_segment)`: `elem.drop`.
    ElemDrop,
}

impl Builtin {
    /// Every builtin, in the order of the function-pointer array.
    pub const ALL: [Builtin; 10] = [
        Builtin::MemoryGrow,
        Builtin::MemoryFill,
        Builtin::MemoryCopy,
        Builtin::MemoryInit,
        Builtin::DataDrop,
        Builtin::TableGrow,
        Builtin::TableFill,
        Builtin::TableCopy,
        Builtin::TableInit,
        Builtin::ElemDrop,
    ];

    /// Number of builtins: the length of the function-pointer array.
    pub const COUNT: usize = Builtin::ALL.len();

    /// Position in the function-pointer array.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Byte offset of this builtin's pointer in the array.
    pub fn offset(self, pointer_size: u8) -> u32 {
        self as u32 * u32::from(pointer_size)
    }

    /// Parameters after the leading `vmctx` pointer, and the result if any.
    pub fn signature(self) -> (&'static [BuiltinType], Option<BuiltinType>) {
        use BuiltinType::{Pointer as P, I32};
        match self {
            Builtin::MemoryGrow => (&[I32, I32], Some(I32)),
            Builtin::MemoryFill => (&[I32, I32, I32, I32], None),
            Builtin::MemoryCopy => (&[I32, I32, I32, I32, I32], None),
            Builtin::MemoryInit => (&[I32, I32, I32, I32, I32], None),
            Builtin::DataDrop => (&[I32], None),
            Builtin::TableGrow => (&[I32, I32, P], Some(I32)),
            Builtin::TableFill => (&[I32, I32, P, I32], None),
            Builtin::TableCopy => (&[I32, I32, I32, I32, I32], None),
            Builtin::TableInit => (&[I32, I32, I32, I32, I32], None),
            Builtin::ElemDrop => (&[I32], None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matches_discriminants() {
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(b.index(), i);
        }
    }
}
