//! The wasmc loader: maps artifacts written by the wasmc compiler,
//! instantiates them, calls into them and turns faults into [`Trap`]s.
//!
//! ```no_run
//! use wasmc_loader::{Caller, Linker, Module, Store, Instance};
//!
//! # fn main() -> Result<(), wasmc_loader::Error> {
//! // SAFETY: our own build pipeline compiled this artifact with wasmc.
//! let module = unsafe { Module::from_file("plugin.cwasm") }?;
//! let mut linker = Linker::new();
//! linker.func_wrap("env", "log", |caller: Caller<'_>, ptr: i32, len: i32| {
//!     let mut buf = vec![0; len as usize];
//!     caller.memory_read(ptr as u64, &mut buf)?;
//!     println!("{}", String::from_utf8_lossy(&buf));
//!     Ok::<(), wasmc_loader::HostError>(())
//! });
//! let mut store = Store::default();
//! let instance = Instance::new(&mut store, &module, &linker)?;
//! let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
//! assert_eq!(add.call(&mut store, (2, 3))?, 5);
//! # Ok(())
//! # }
//! ```
//!
//! A [`Store`] owns everything instantiated in it; [`Instance`], [`Func`],
//! [`Memory`], [`Table`] and [`Global`] are handles into one store, and
//! using one with another store returns [`Error::WrongStore`] (or panics,
//! for the few accessors that cannot return an error).
//!
//! Faults in wasm code are caught by signal handlers for SIGSEGV, SIGBUS,
//! SIGILL and SIGFPE that the loader installs once per process (when the
//! first [`Store`] is created); faults elsewhere go to the handlers that
//! were installed before.

// Lets unit tests reuse `tests/common` (which names the crate) verbatim.
#[cfg(test)]
extern crate self as wasmc_loader;

mod artifact;
mod error;
mod externals;
mod func;
mod instance;
mod instantiate;
mod into_func;
mod linker;
mod load_options;
mod module;
mod pool;
mod signature;
mod store;
mod typed;
mod types;
mod values;
mod vm;
pub mod wasi;

pub use error::{error_chain, Error, HostError, LinkError, LoadError, ResourceError, Trap};
pub use externals::{Extern, Global, Memory, Table};
pub use func::{Caller, Func, RawValues};
pub use instance::Instance;
pub use into_func::{IntoFunc, WasmRet, WasmTy};
pub use linker::{InstancePre, Linker};
pub use load_options::{LoadOptions, DEFAULT_MAX_ARTIFACT_BYTES};
pub use module::Module;
pub use pool::{InstancePool, PoolConfig, DEFAULT_KEEP_RESIDENT_BYTES};
pub use signature::{KeyError, KeyId, TrustedKeys};
pub use store::{AsContext, AsContextMut, Config, Store, StoreContext, StoreContextMut};
pub use typed::{TypedFunc, WasmParams, WasmResults};
pub use values::Val;
pub use wasmc_abi::meta::{
    Export, ExportRef, ExternKind, FuncType, GlobalType, Import, ImportType, MemoryType, TableType, ValType,
};
pub use wasmc_abi::{BoundsChecks, TrapKind};

/// How many distinct function types the loaded modules hold now (each
/// type is kept once for the whole process while a module uses it). For
/// tests that check that dropping modules releases them.
#[doc(hidden)]
pub fn interned_func_types() -> usize {
    types::interned_count()
}

/// Installs the loader's signal handlers now (otherwise done when the
/// first [`Store`] is created). Handlers installed before this call keep
/// receiving every fault that is not a wasm trap.
pub fn init_trap_handlers() {
    vm::sys::unix::signals::init();
}
