//! Memory, table and global handles, and [`Extern`].

use std::ptr::NonNull;

use wasmc_abi::meta::{GlobalType, MemoryType, TableType, ValType};
use wasmc_abi::BoundsChecks;

use crate::error::Error;
use crate::func::Func;
use crate::store::StoreOpaque;
use crate::store::{AsContext, AsContextMut, StoreContext, StoreContextMut};
use crate::values::Val;
use crate::vm::memory::LinearMemory;
use crate::vm::store::{GlobalData, MemoryData, StoreId, TableData};
use crate::vm::table::TableElements;
use crate::vm::vmctx::VmBox;
use crate::vm::{VMGlobal, VMTableDefinition};

/// Anything an instance can import or export.
#[derive(Clone, Copy, Debug)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A linear memory.
    Memory(Memory),
    /// A global.
    Global(Global),
}

impl Extern {
    pub(crate) fn store_id(&self) -> StoreId {
        match self {
            Extern::Func(f) => f.store,
            Extern::Table(t) => t.store,
            Extern::Memory(m) => m.store,
            Extern::Global(g) => g.store,
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}

const WRONG_STORE: &str = "handle used with a store it does not belong to";

/// A linear memory in a [`Store`](crate::Store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Memory {
    /// A host-created memory (e.g. the spec tests' `spectest.memory`).
    ///
    /// It always has the guard-mode layout (a 4 GiB reservation plus
    /// guard), so modules compiled in either bounds-check mode can import it.
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory, Error> {
        let store = store.as_context_mut().0;
        let memory = LinearMemory::new(ty, BoundsChecks::Guard, store.config().max_memory_bytes)?;
        let owned = VmBox::new(memory.definition());
        let def = NonNull::new(owned.as_ptr()).ok_or_else(|| Error::resource("null box"))?;
        Ok(store.push_memory(MemoryData { memory, ty, def, _owned_def: Some(owned) }))
    }

    fn data_of<'s>(&self, store: &'s StoreOpaque) -> Result<&'s MemoryData, Error> {
        store.check(self.store)?;
        Ok(&store.vm().memories()[self.index as usize])
    }

    /// Current size in bytes.
    ///
    /// # Panics
    /// If the memory belongs to another store (as do all accessors that
    /// cannot return an error).
    pub fn size(&self, store: impl AsContext) -> u64 {
        let store = store.as_context().0;
        self.data_of(store).expect(WRONG_STORE).memory.len() as u64
    }

    /// The memory's type, with its current size as minimum.
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        let store = store.as_context().0;
        let data = self.data_of(store).expect(WRONG_STORE);
        MemoryType { min_pages: data.memory.pages(), max_pages: data.ty.max_pages }
    }

    /// The accessible bytes.
    pub fn data<'s, T: 's>(&self, store: impl Into<StoreContext<'s, T>>) -> &'s [u8] {
        let store = store.into().0;
        self.data_of(store).expect(WRONG_STORE).memory.bytes()
    }

    /// The accessible bytes, mutably.
    pub fn data_mut<'s, T: 's>(&self, store: impl Into<StoreContextMut<'s, T>>) -> &'s mut [u8] {
        let store = store.into().0;
        store.check(self.store).expect(WRONG_STORE);
        store.vm_mut().memories_mut()[self.index as usize].memory.bytes_mut()
    }

    /// The address of the first accessible byte, for embedders that hand
    /// the memory to code outside Rust (the C API); [`Memory::size`] bytes
    /// follow it. Unlike [`Memory::data`], it works with a store of any
    /// data type. The pointer stays valid while the store lives and the
    /// memory does not grow (growth may move an explicit-mode memory); what
    /// is done through it is the caller's `unsafe` business.
    ///
    /// # Panics
    /// If the memory belongs to another store.
    pub fn data_ptr(&self, store: impl AsContext) -> *mut u8 {
        let store = store.as_context().0;
        self.data_of(store).expect(WRONG_STORE).memory.base()
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    pub fn read(&self, store: impl AsContext, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let store = store.as_context().0;
        let bytes = self.data_of(store)?.memory.bytes();
        let range = byte_range(offset, buf.len(), bytes.len())?;
        buf.copy_from_slice(&bytes[range]);
        Ok(())
    }

    /// Copies `data` to `offset`.
    pub fn write(&self, mut store: impl AsContextMut, offset: u64, data: &[u8]) -> Result<(), Error> {
        let store = store.as_context_mut().0;
        store.check(self.store)?;
        let bytes = store.vm_mut().memories_mut()[self.index as usize].memory.bytes_mut();
        let range = byte_range(offset, data.len(), bytes.len())?;
        bytes[range].copy_from_slice(data);
        Ok(())
    }

    /// Grows by `delta_pages`; returns the old size in pages.
    ///
    /// # Errors
    /// [`Error::Resource`] past the memory's maximum or the store's limit.
    pub fn grow(&self, mut store: impl AsContextMut, delta_pages: u32) -> Result<u32, Error> {
        let store = store.as_context_mut().0;
        store.check(self.store)?;
        store
            .vm_mut()
            .grow_memory(self.index, delta_pages)
            .ok_or_else(|| Error::resource(format!("memory cannot grow by {delta_pages} pages")))
    }
}

fn byte_range(offset: u64, len: usize, size: usize) -> Result<std::ops::Range<usize>, Error> {
    let start = usize::try_from(offset).ok();
    match start.and_then(|s| s.checked_add(len).map(|e| (s, e))) {
        Some((s, e)) if e <= size => Ok(s..e),
        _ => Err(Error::OutOfBounds(format!("{len} bytes at offset {offset} in a memory of {size} bytes"))),
    }
}

/// A table in a [`Store`](crate::Store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Table {
    /// A host-created table of `ty.min` elements set to `init`.
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table, Error> {
        let store = store.as_context_mut().0;
        check_ref(ty.element, &init)?;
        let word = init.ref_word(store)?;
        let elements = TableElements::new(ty, word, store.config().max_table_elements)?;
        let owned = VmBox::new(VMTableDefinition { base: elements.base(), current_elements: elements.len(), _pad: 0 });
        let def = NonNull::new(owned.as_ptr()).ok_or_else(|| Error::resource("null box"))?;
        Ok(store.push_table(TableData { elements, ty, def, _owned_def: Some(owned) }))
    }

    fn data_of<'s>(&self, store: &'s StoreOpaque) -> Result<&'s TableData, Error> {
        store.check(self.store)?;
        Ok(&store.vm().tables()[self.index as usize])
    }

    /// Current number of elements.
    pub fn size(&self, store: impl AsContext) -> u32 {
        let store = store.as_context().0;
        self.data_of(store).expect(WRONG_STORE).elements.len()
    }

    /// The table's type, with its current size as minimum.
    pub fn ty(&self, store: impl AsContext) -> TableType {
        let store = store.as_context().0;
        let data = self.data_of(store).expect(WRONG_STORE);
        TableType { min: data.elements.len(), ..data.ty }
    }

    /// Element `index`, or `None` out of bounds (or for another store).
    pub fn get(&self, store: impl AsContext, index: u32) -> Option<Val> {
        let store = store.as_context().0;
        let data = self.data_of(store).ok()?;
        let word = *data.elements.as_slice().get(index as usize)?;
        Some(Val::from_ref_word(store, data.ty.element, word))
    }

    /// Sets element `index`.
    pub fn set(&self, mut store: impl AsContextMut, index: u32, value: Val) -> Result<(), Error> {
        let store = store.as_context_mut().0;
        let data = self.data_of(store)?;
        check_ref(data.ty.element, &value)?;
        let word = value.ref_word(store)?;
        let elements = store.vm_mut().tables_mut()[self.index as usize].elements.as_mut_slice();
        let len = elements.len();
        let slot = elements
            .get_mut(index as usize)
            .ok_or_else(|| Error::OutOfBounds(format!("element {index} of a table of {len}")))?;
        *slot = word;
        Ok(())
    }

    /// Grows by `delta` elements set to `init`; returns the old size.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u32, init: Val) -> Result<u32, Error> {
        let store = store.as_context_mut().0;
        let data = self.data_of(store)?;
        check_ref(data.ty.element, &init)?;
        let word = init.ref_word(store)?;
        store
            .vm_mut()
            .grow_table(self.index, delta, word)
            .ok_or_else(|| Error::resource(format!("table cannot grow by {delta} elements")))
    }
}

fn check_ref(element: ValType, value: &Val) -> Result<(), Error> {
    if value.ty() == element {
        Ok(())
    } else {
        Err(Error::Type(format!("a {element} table cannot hold a {}", value.ty())))
    }
}

/// A global in a [`Store`](crate::Store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Global {
    /// A host-created global.
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, value: Val) -> Result<Global, Error> {
        let store = store.as_context_mut().0;
        if value.ty() != ty.ty {
            return Err(Error::Type(format!("a {} global cannot hold a {}", ty.ty, value.ty())));
        }
        let owned = VmBox::new(VMGlobal { bytes: value.to_raw(store)?.0 });
        let storage = NonNull::new(owned.as_ptr()).ok_or_else(|| Error::resource("null box"))?;
        Ok(store.push_global(GlobalData { ty, storage, _owned: Some(owned) }))
    }

    /// The global's type.
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        let store = store.as_context().0;
        store.check(self.store).expect(WRONG_STORE);
        store.vm().globals()[self.index as usize].ty
    }

    /// The current value.
    pub fn get(&self, store: impl AsContext) -> Val {
        let store = store.as_context().0;
        store.check(self.store).expect(WRONG_STORE);
        let raw = store.vm().global_get(self.index);
        Val::from_raw(store, store.vm().globals()[self.index as usize].ty.ty, &raw)
    }

    /// Sets the value of a mutable global.
    pub fn set(&self, mut store: impl AsContextMut, value: Val) -> Result<(), Error> {
        let store = store.as_context_mut().0;
        store.check(self.store)?;
        let data = &store.vm().globals()[self.index as usize];
        if !data.ty.mutable {
            return Err(Error::Type("cannot set an immutable global".into()));
        }
        if value.ty() != data.ty.ty {
            return Err(Error::Type(format!("a {} global cannot hold a {}", data.ty.ty, value.ty())));
        }
        let raw = value.to_raw(store)?;
        store.vm_mut().global_set(self.index, raw);
        Ok(())
    }
}

impl StoreOpaque {
    pub(crate) fn push_memory(&mut self, data: MemoryData) -> Memory {
        Memory { store: self.id(), index: self.vm_mut().push_memory(data) }
    }

    pub(crate) fn push_table(&mut self, data: TableData) -> Table {
        Table { store: self.id(), index: self.vm_mut().push_table(data) }
    }

    pub(crate) fn push_global(&mut self, data: GlobalData) -> Global {
        Global { store: self.id(), index: self.vm_mut().push_global(data) }
    }
}
