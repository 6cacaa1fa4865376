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

/// Bytes a bulk operation (`memory.fill`/`copy`/`init`, the table
/// operations, WASI reads and writes) may touch per unit of fuel, rounded
/// up: generated code charges a small `memory.copy` or `memory.fill`
/// itself, the loader everything else.
pub const BYTES_PER_FUEL: u64 = 64;

/// The most bytes a bulk operation moves between two deadline checks.
/// Generated code does a `memory.copy` or `memory.fill` of at most this many
/// bytes, in bounds, through [`Builtin::Memmove`] or [`Builtin::Memset`]
/// (no deadline check, as the loader makes none before its first piece);
/// the others go through [`Builtin::MemoryCopy`] or [`Builtin::MemoryFill`].
pub const BULK_CHUNK_BYTES: u64 = 1 << 20;

/// The kind of one builtin parameter or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinType {
    /// A 32-bit integer (`u32` in Rust).
    I32,
    /// A pointer-sized word (`usize` in Rust): a raw reference value.
    Pointer,
}

/// The one list of builtins, in the order of the function-pointer array:
/// variant, function name, parameters after the leading `vmctx` pointer
/// (each `I32` or `Pointer`, as [`BuiltinType`]), and the result if any.
/// It calls `$m!` with the list; this crate derives [`Builtin`] and
/// [`Builtin::signature`] from it (which the compiler declares its calls
/// with), and the loader derives the type its implementation of each must
/// have, so a signature cannot differ between the two sides.
#[macro_export]
macro_rules! for_each_builtin {
    ($m:ident) => {
        $m! {
            /// `(vmctx, memory, delta_pages) -> old_pages`, or `u32::MAX` when the
            /// memory cannot grow that far.
            MemoryGrow memory_grow(memory: I32, delta: I32) -> I32;
            /// `(vmctx, memory, dst, byte, len)`: `memory.fill`.
            MemoryFill memory_fill(memory: I32, dst: I32, byte: I32, len: I32);
            /// `(vmctx, dst_memory, dst, src_memory, src, len)`: `memory.copy`.
            MemoryCopy memory_copy(dst_memory: I32, dst: I32, src_memory: I32, src: I32, len: I32);
            /// `(vmctx, memory, data_segment, dst, src, len)`: `memory.init`.
            MemoryInit memory_init(memory: I32, segment: I32, dst: I32, src: I32, len: I32);
            /// `(vmctx, data_segment)`: `data.drop`.
            DataDrop data_drop(segment: I32);
            /// `(vmctx, table, delta, init_ref) -> old_size`, or `u32::MAX`.
            TableGrow table_grow(table: I32, delta: I32, init: Pointer) -> I32;
            /// `(vmctx, table, dst, ref, len)`: `table.fill`.
            TableFill table_fill(table: I32, dst: I32, value: Pointer, len: I32);
            /// `(vmctx, dst_table, src_table, dst, src, len)`: `table.copy`.
            TableCopy table_copy(dst_table: I32, src_table: I32, dst: I32, src: I32, len: I32);
            /// `(vmctx, table, elem_segment, dst, src, len)`: `table.init`.
            TableInit table_init(table: I32, segment: I32, dst: I32, src: I32, len: I32);
            /// `(vmctx, elem_segment)`: `elem.drop`.
            ElemDrop elem_drop(segment: I32);
            /// `(vmctx, dst, src, len)`: `memmove` of host addresses the
            /// caller has checked, for a `memory.copy` of at most
            /// [`BULK_CHUNK_BYTES`](crate::builtins::BULK_CHUNK_BYTES) in bounds bytes (and fuel
            /// charged, when metered). Never traps.
            Memmove memmove(dst: Pointer, src: Pointer, len: Pointer);
            /// `(vmctx, dst, byte, len)`: `memset` of host addresses the
            /// caller has checked, for a `memory.fill` like [`Memmove`](crate::builtins::Builtin::Memmove)'s.
            /// Never traps.
            Memset memset(dst: Pointer, byte: I32, len: Pointer);
        }
    };
}

macro_rules! define_builtins {
    ($($(#[$doc:meta])* $variant:ident $name:ident($($param:ident: $ty:ident),*) $(-> $result:ident)?;)*) => {
        /// One runtime function generated code may call.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Builtin {
            $($(#[$doc])* $variant,)*
        }

        impl Builtin {
            /// Every builtin, in the order of the function-pointer array.
            pub const ALL: [Builtin; [$(Builtin::$variant),*].len()] = [$(Builtin::$variant),*];

            /// Parameters after the leading `vmctx` pointer, and the result if any.
            pub fn signature(self) -> (&'static [BuiltinType], Option<BuiltinType>) {
                match self {
                    $(Builtin::$variant => (&[$(BuiltinType::$ty),*], None$(.or(Some(BuiltinType::$result)))?),)*
                }
            }

            /// The builtin's name, as the loader's function is named.
            pub fn name(self) -> &'static str {
                match self {
                    $(Builtin::$variant => stringify!($name),)*
                }
            }
        }
    };
}

for_each_builtin!(define_builtins);

impl Builtin {
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

    #[test]
    fn signatures_come_from_the_list() {
        use BuiltinType::{Pointer as P, I32};
        assert_eq!(Builtin::COUNT, 12);
        assert_eq!(Builtin::MemoryGrow.signature(), (&[I32, I32][..], Some(I32)));
        assert_eq!(Builtin::TableFill.signature(), (&[I32, I32, P, I32][..], None));
        assert_eq!(Builtin::ElemDrop.name(), "elem_drop");
        assert_eq!(Builtin::Memmove.signature(), (&[P, P, P][..], None));
        assert_eq!(Builtin::Memset.signature(), (&[P, I32, P][..], None));
    }
}
