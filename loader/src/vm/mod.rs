//! The vm layer: everything generated code touches, and nothing of the
//! public API.
//!
//! The `#[repr(C)]` structures generated code reads and writes
//! ([`vmcontext`]), the `VMContext` allocation ([`vmctx`]), linear memories
//! and tables, the builtins, element and data segments, chunked bulk
//! operations, deadlines and fuel, entering wasm and turning faults into
//! traps, the signal handler's code registry, pool slots and the allocator
//! that places an instance fresh or in one, and the
//! operating-system layer ([`sys`]).
//!
//! The public API modules (`store.rs`, `instance.rs`, `func.rs`, ...) call
//! down into this layer. See `docs/ARCHITECTURE.md`, "The loader, file by
//! file".

pub(crate) mod allocator;
pub(crate) mod builtins;
pub(crate) mod bulk;
pub(crate) mod epoch;
pub(crate) mod instance;
pub(crate) mod limits;
pub(crate) mod memory;
pub(crate) mod module_info;
pub(crate) mod registry;
pub(crate) mod segments;
pub(crate) mod slot;
pub(crate) mod store;
pub(crate) mod sys;
pub(crate) mod table;
pub(crate) mod trap;
pub(crate) mod traphandler;
pub(crate) mod vmcontext;
pub(crate) mod vmctx;

pub(crate) use vmcontext::*;
