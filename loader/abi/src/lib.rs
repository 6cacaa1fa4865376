//! The one contract between the wasmc compiler and the wasmc loader.
//!
//! Everything that both sides must agree on lives here and nowhere else:
//!
//! * [`artifact`]: section names, magic, format version, checksum placement;
//! * [`meta`]: the module metadata and its binary encoding;
//! * [`vmctx`]: the layout of the per-instance `VMContext` and of every
//!   structure generated code reads or writes;
//! * [`builtins`]: the runtime functions generated code calls, by index;
//! * [`TrapKind`]: the trap codes recorded in the artifact's trap table.
//!
//! This crate has no dependencies, so the loader can use it without pulling
//! in the compiler, and the compiler takes every offset from it instead of
//! writing one down a second time.

pub mod artifact;
pub mod builtins;
pub mod meta;
pub mod trap;
pub mod vmctx;

pub use trap::TrapKind;

/// Size of a WebAssembly page in bytes.
pub const WASM_PAGE_SIZE: u64 = 65536;

/// Largest number of pages a 32-bit linear memory can have.
pub const WASM_MAX_PAGES: u64 = 65536;

/// How the compiler makes linear-memory accesses safe. Recorded in the
/// artifact, because the loader must lay out memory to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoundsChecks {
    /// Reserve [`GUARD_RESERVATION`] bytes of address space plus
    /// [`GUARD_SIZE`] bytes of guard per memory; generated code omits the
    /// checks a fault on the reservation can stand in for. The memory never
    /// moves.
    Guard,
    /// Every access is compared with the current length in the
    /// `VMMemoryDefinition`; the reservation is only as large as the memory.
    /// The memory may move when it grows, so code reloads its base.
    Explicit,
}

impl BoundsChecks {
    /// The name used on the command line and by `wasmc inspect`.
    pub fn name(self) -> &'static str {
        match self {
            BoundsChecks::Guard => "guard",
            BoundsChecks::Explicit => "explicit",
        }
    }

    /// Parses [`BoundsChecks::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "guard" => Some(BoundsChecks::Guard),
            "explicit" => Some(BoundsChecks::Explicit),
            _ => None,
        }
    }
}

/// In guard mode, the bytes of address space reserved for each linear
/// memory's index space (all of a 32-bit index space).
pub const GUARD_RESERVATION: u64 = 1 << 32;

/// In guard mode, the inaccessible bytes that follow [`GUARD_RESERVATION`].
/// A static offset below this needs no explicit bounds check.
pub const GUARD_SIZE: u64 = 2 << 30;

/// The size of one slot in the values array that host-to-wasm entry
/// trampolines and wasm-to-host trampolines use to pass arguments and results.
///
/// Each value sits at the start of its slot, little-endian: `i32`/`f32` in 4
/// bytes, `i64`/`f64` in 8, `v128` in 16, references as a pointer-sized word.
pub const VAL_RAW_SIZE: u32 = 16;
