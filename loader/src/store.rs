//! [`Store`]: owns every instance, memory, table, global and function
//! created in it. Handles ([`crate::Func`], [`crate::Memory`], ...) are a
//! store id plus an index, so using one with another store is an error and
//! never undefined behaviour.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wasmc_abi::meta::{FuncType, GlobalType, MemoryType, TableType};

use crate::error::Error;
use crate::func::HostFunc;
use crate::instance::InstanceData;
use crate::memory::LinearMemory;
use crate::table::TableElements;
use crate::vm::{VMFuncRef, VMGlobal, VMMemoryDefinition, VMTableDefinition};
use crate::vmctx::VmBox;

/// Limits applied to everything in a [`Store`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Bytes of native stack wasm code may use below the point where the
    /// host first calls into it (default 512 KiB). Lowered automatically
    /// when the thread's stack is smaller.
    pub max_wasm_stack: usize,
    /// Largest size any linear memory may reach, in bytes.
    pub max_memory_bytes: Option<u64>,
    /// Largest size any table may reach, in elements. `None`: 10,000,000,
    /// the largest minimum validation accepts.
    pub max_table_elements: Option<u32>,
}

impl Default for Config {
    fn default() -> Config {
        Config { max_wasm_stack: 512 * 1024, max_memory_bytes: None, max_table_elements: None }
    }
}

/// Identifies one store, for checking handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(u64);

impl StoreId {
    fn fresh() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A function in the store.
pub(crate) struct FuncData {
    /// Its funcref (in some instance's vmctx; stable while the store lives).
    pub func_ref: NonNull<VMFuncRef>,
    pub ty: Arc<FuncType>,
    /// The host function, if it is one (then `array_call` is null).
    pub host: Option<Arc<HostFunc>>,
}

/// A memory in the store.
pub(crate) struct MemoryData {
    pub memory: LinearMemory,
    pub ty: MemoryType,
    /// Where generated code finds base and length: in the defining
    /// instance's vmctx, or in `owned_def` for host-created memories.
    pub def: NonNull<VMMemoryDefinition>,
    /// Keeps a host-created memory's definition alive.
    pub _owned_def: Option<VmBox<VMMemoryDefinition>>,
}

impl MemoryData {
    /// Publishes the memory's current base and length to generated code.
    pub(crate) fn sync(&mut self) {
        // SAFETY: `def` points to a live definition owned by this store
        // (an instance's vmctx or `owned_def`).
        unsafe { self.def.as_ptr().write(self.memory.definition()) }
    }
}

/// A table in the store.
pub(crate) struct TableData {
    pub elements: TableElements,
    pub ty: TableType,
    pub def: NonNull<VMTableDefinition>,
    /// Keeps a host-created table's definition alive.
    pub _owned_def: Option<VmBox<VMTableDefinition>>,
}

impl TableData {
    /// Publishes the table's current base and size to generated code.
    pub(crate) fn sync(&mut self) {
        let def = VMTableDefinition { base: self.elements.base(), current_elements: self.elements.len(), _pad: 0 };
        // SAFETY: `def` points to a live definition owned by this store.
        unsafe { self.def.as_ptr().write(def) }
    }
}

/// A global in the store.
pub(crate) struct GlobalData {
    pub ty: GlobalType,
    pub storage: NonNull<VMGlobal>,
    /// Keeps a host-created global's storage alive.
    pub _owned: Option<VmBox<VMGlobal>>,
}

/// Owns all instance state. `Send` (it can move to another thread between
/// calls) but not `Sync`: `&mut Store` serialises all access.
pub struct Store {
    pub(crate) id: StoreId,
    config: Config,
    pub(crate) instances: Vec<InstanceData>,
    pub(crate) funcs: Vec<FuncData>,
    /// Funcref address to function index, for turning raw references into
    /// [`crate::Func`] handles.
    pub(crate) func_by_ref: rustc_hash::FxHashMap<usize, u32>,
    pub(crate) memories: Vec<MemoryData>,
    pub(crate) tables: Vec<TableData>,
    pub(crate) globals: Vec<GlobalData>,
    /// Deadline and fuel (see `limits.rs`).
    pub(crate) limits: crate::limits::StoreLimits,
    _not_sync: PhantomData<Cell<()>>,
    /// Pool slots of pooled instances. Declared last so it drops last:
    /// a slot goes back to its pool only after everything that can reach
    /// it (instances, memories) is gone.
    pub(crate) leases: Vec<crate::pool::SlotLease>,
}

// SAFETY: every raw pointer in the store points into memory the store owns
// (vmctx allocations, boxes, mappings) or into module code kept alive by the
// store's `Module` clones; none is tied to a thread. Host closures are
// `Send + Sync`.
unsafe impl Send for Store {}

impl Default for Store {
    fn default() -> Store {
        Store::new(Config::default())
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("id", &self.id.0).field("instances", &self.instances.len()).finish()
    }
}

impl Store {
    /// An empty store with these limits.
    pub fn new(config: Config) -> Store {
        crate::sys::unix::signals::init();
        Store {
            id: StoreId::fresh(),
            config,
            instances: Vec::new(),
            funcs: Vec::new(),
            func_by_ref: rustc_hash::FxHashMap::default(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            limits: crate::limits::StoreLimits::new(),
            _not_sync: PhantomData,
            leases: Vec::new(),
        }
    }

    /// The limits of this store.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `Ok` if a handle made by store `id` may be used here.
    pub(crate) fn check(&self, id: StoreId) -> Result<(), Error> {
        if id == self.id {
            Ok(())
        } else {
            Err(Error::WrongStore)
        }
    }

    /// Adds a function whose funcref is at `func_ref`; an existing entry
    /// for the same funcref is reused.
    pub(crate) fn push_func(
        &mut self,
        func_ref: NonNull<VMFuncRef>,
        ty: Arc<FuncType>,
        host: Option<Arc<HostFunc>>,
    ) -> u32 {
        let index = self.funcs.len() as u32;
        self.funcs.push(FuncData { func_ref, ty, host });
        self.func_by_ref.insert(func_ref.as_ptr() as usize, index);
        index
    }

    /// Makes room for an instance with `funcs` functions (imports
    /// included), `tables` tables, `memories` memories and `globals`
    /// globals. A store's first instance gets exactly that: most stores
    /// hold one instance, and a vector's first growth would make room for
    /// four, which for the larger records takes the allocator's slow path
    /// (about a tenth of a pooled instantiation). Amortized growth after
    /// that.
    pub(crate) fn reserve(&mut self, funcs: usize, tables: usize, memories: usize, globals: usize) {
        fn room<T>(v: &mut Vec<T>, additional: usize) {
            if v.capacity() == 0 {
                v.reserve_exact(additional);
            } else {
                v.reserve(additional);
            }
        }
        room(&mut self.instances, 1);
        room(&mut self.leases, 1);
        room(&mut self.funcs, funcs);
        room(&mut self.tables, tables);
        room(&mut self.memories, memories);
        room(&mut self.globals, globals);
        self.func_by_ref.reserve(funcs);
    }

    /// Makes the funcref at `alias` stand for existing function `index`
    /// (an imported function's copy in the importer's vmctx).
    pub(crate) fn alias_func(&mut self, alias: NonNull<VMFuncRef>, index: u32) {
        self.func_by_ref.insert(alias.as_ptr() as usize, index);
    }
}
