//! The store-side state the vm layer works on ([`StoreData`]: memories,
//! tables, globals, the runtime limits) and the one interface through
//! which it reaches the store that owns it and its instances ([`VMStore`]).
//!
//! The public `StoreOpaque` (`crate::store`) holds a `StoreData` and the
//! instances (each with its [`VmInstance`]) in private fields and
//! implements `VMStore`; while wasm runs, the entry
//! ([`crate::vm::traphandler::invoke`]) publishes it as a `*mut dyn
//! VMStore`, through which builtins reach the `StoreData` and their
//! instance, and host functions (above this layer) get their store back.

use std::any::Any;
use std::num::NonZeroU64;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmc_abi::meta::{GlobalType, MemoryType, TableType};

use crate::vm::instance::VmInstance;
use crate::vm::limits::StoreLimits;
use crate::vm::memory::LinearMemory;
use crate::vm::table::TableElements;
use crate::vm::vmctx::VmBox;
use crate::vm::{VMGlobal, VMMemoryDefinition, VMTableDefinition, ValRaw};

/// Identifies one store, for checking handles. Never zero, so that an
/// `Option<Instance>` (a host call's caller) is two words, passed in
/// registers rather than through memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(NonZeroU64);

impl StoreId {
    /// A store id never handed out before.
    pub(crate) fn fresh() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        // Counting from 1, zero comes back after 2^64 stores: never.
        StoreId(NonZeroU64::new(id).expect("store ids do not wrap"))
    }

    /// The number, for `Debug` output.
    pub(crate) fn as_u64(self) -> u64 {
        self.0.get()
    }
}

/// How the vm layer reaches the store that owns it: implemented by the
/// public `StoreOpaque`, published to builtins and host functions as a
/// `*mut dyn VMStore` while wasm runs. The instances' vm records live in
/// the store's one vector of instances (beside their public side, so an
/// instantiation allocates one record), hence the accessors.
pub(crate) trait VMStore: Any {
    /// The vm state of the store.
    fn vm(&self) -> &StoreData;
    /// The vm state of the store, mutably.
    fn vm_mut(&mut self) -> &mut StoreData;
    /// How many instances the store holds.
    fn instance_count(&self) -> usize;
    /// Instance `index`'s vm record.
    fn instance(&self, index: u32) -> Option<&VmInstance>;
    /// Instance `index`'s vm record and the store's vm state beside it,
    /// both mutably.
    fn instance_mut(&mut self, index: u32) -> Option<(&mut StoreData, &mut VmInstance)>;
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

/// The vm state of one store: every memory, table and global in it, and
/// its deadline and fuel.
pub(crate) struct StoreData {
    pub(in crate::vm) id: StoreId,
    pub(in crate::vm) memories: Vec<MemoryData>,
    pub(in crate::vm) tables: Vec<TableData>,
    pub(in crate::vm) globals: Vec<GlobalData>,
    /// Deadline and fuel (see `limits.rs`).
    pub(in crate::vm) limits: StoreLimits,
    /// Bytes of native stack wasm code may use below the outermost entry.
    pub(in crate::vm) max_wasm_stack: usize,
}

impl StoreData {
    /// An empty store state.
    pub(crate) fn new(max_wasm_stack: usize) -> StoreData {
        StoreData {
            id: StoreId::fresh(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            limits: StoreLimits::new(),
            max_wasm_stack,
        }
    }

    /// This store's id.
    pub(crate) fn id(&self) -> StoreId {
        self.id
    }

    /// Memories, by store index.
    pub(crate) fn memories(&self) -> &[MemoryData] {
        &self.memories
    }

    /// Memories, mutably.
    pub(crate) fn memories_mut(&mut self) -> &mut [MemoryData] {
        &mut self.memories
    }

    /// Tables, by store index.
    pub(crate) fn tables(&self) -> &[TableData] {
        &self.tables
    }

    /// Tables, mutably.
    pub(crate) fn tables_mut(&mut self) -> &mut [TableData] {
        &mut self.tables
    }

    /// Globals, by store index.
    pub(crate) fn globals(&self) -> &[GlobalData] {
        &self.globals
    }

    /// Deadline and fuel.
    pub(crate) fn limits(&self) -> &StoreLimits {
        &self.limits
    }

    /// Makes room for an instance with `tables` tables, `memories`
    /// memories and `globals` globals. A store's first instance gets
    /// exactly that (see `StoreOpaque::reserve`).
    pub(crate) fn reserve(&mut self, tables: usize, memories: usize, globals: usize) {
        reserve(&mut self.tables, tables);
        reserve(&mut self.memories, memories);
        reserve(&mut self.globals, globals);
    }

    /// Adds a memory and publishes its definition; returns its index.
    pub(crate) fn push_memory(&mut self, mut data: MemoryData) -> u32 {
        data.sync();
        self.memories.push(data);
        self.memories.len() as u32 - 1
    }

    /// Adds a table and publishes its definition; returns its index.
    pub(crate) fn push_table(&mut self, mut data: TableData) -> u32 {
        data.sync();
        self.tables.push(data);
        self.tables.len() as u32 - 1
    }

    /// Adds a global; returns its index.
    pub(crate) fn push_global(&mut self, data: GlobalData) -> u32 {
        self.globals.push(data);
        self.globals.len() as u32 - 1
    }

    /// Grows memory `index` of the store; `None` past its limits. What
    /// `memory.grow` and `Memory::grow` both do.
    pub(crate) fn grow_memory(&mut self, index: u32, delta: u32) -> Option<u32> {
        let data = &mut self.memories[index as usize];
        let old = data.memory.grow(delta)?;
        data.sync();
        Some(old)
    }

    /// Grows table `index` of the store; `None` past its limits. What
    /// `table.grow` and `Table::grow` both do.
    pub(crate) fn grow_table(&mut self, index: u32, delta: u32, init: usize) -> Option<u32> {
        let data = &mut self.tables[index as usize];
        let old = data.elements.grow(delta, init)?;
        data.sync();
        Some(old)
    }

    /// The definition of memory `index`, for import slots.
    pub(crate) fn memory_def(&self, index: u32) -> *mut VMMemoryDefinition {
        self.memories[index as usize].def.as_ptr()
    }

    /// The definition of table `index`, for import slots.
    pub(crate) fn table_def(&self, index: u32) -> *mut VMTableDefinition {
        self.tables[index as usize].def.as_ptr()
    }

    /// The value of global `index`.
    pub(crate) fn global_get(&self, index: u32) -> ValRaw {
        // SAFETY: the storage is owned by this store (a vmctx or a box) and
        // wasm code writes it only while the store is mutably borrowed, so
        // not during this shared borrow.
        ValRaw(unsafe { (*self.global_storage(index)).bytes })
    }

    /// Sets the value of global `index` (mutability is the caller's check).
    pub(crate) fn global_set(&mut self, index: u32, value: ValRaw) {
        // SAFETY: as in `global_get`; `&mut self` excludes running wasm
        // code of this store.
        unsafe { (*self.global_storage(index)).bytes = value.0 }
    }

    /// The storage of global `index`, for import slots and constant
    /// expressions.
    pub(crate) fn global_storage(&self, index: u32) -> *mut VMGlobal {
        self.globals[index as usize].storage.as_ptr()
    }
}

/// Room for `additional` more: exactly that in an empty vector (most
/// stores hold one instance, and a vector's first growth would make room
/// for four, which for the larger records takes the allocator's slow
/// path), amortized growth after that.
pub(crate) fn reserve<T>(v: &mut Vec<T>, additional: usize) {
    if v.capacity() == 0 {
        v.reserve_exact(additional);
    } else {
        v.reserve(additional);
    }
}
