//! [`Instance`] handles and the per-instance state the store keeps.

use wasmc_abi::meta::ExternKind;

use crate::error::Error;
use crate::externals::{Extern, Global, Memory, Table};
use crate::func::{Func, HostFuncContext};
use crate::module::Module;
use crate::store::StoreOpaque;
use crate::store::{AsContext, AsContextMut, StoreContext};
use crate::typed::{TypedFunc, WasmParams, WasmResults};
use crate::values::Val;
use crate::vm::instance::{instance_of_vmctx, InlineList, VmInstance};
use crate::vm::store::StoreId;
use crate::vm::vmctx::VmBox;

/// One instance: its vm record and its public side (module, functions).
pub(crate) struct InstanceData {
    /// What the vm layer works on.
    pub vm: VmInstance,
    pub module: Module,
    /// Store indices of the instance's functions, imports first.
    pub funcs: InlineList<u32, 8>,
    pub _host_ctxs: Vec<VmBox<HostFuncContext>>,
}

/// An instantiated module in a [`Store`](crate::Store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    pub(crate) store: StoreId,
    /// The index in the store (a `u32`), held in a full word: a host call
    /// builds an `Instance` and hands it on by copy at once, and a copy
    /// reading a word of which only four bytes were just written waits for
    /// that write to reach the cache (docs/benchmarks.md, "host_call").
    index: u64,
}

// A host call's `Option<Instance>` fits two registers (the store id's niche
// holds `None`); a larger one goes through memory, read back at once.
const _: () = assert!(std::mem::size_of::<Option<Instance>>() == 16);

impl Instance {
    /// The instance whose `VMContext` is `vmctx`, if it is one of `store`'s.
    ///
    /// # Safety
    /// `vmctx` must be null or point to a live `VMContext` or
    /// `VMHostFuncContext` (both start with a magic number).
    pub(crate) unsafe fn from_vmctx(store: &StoreOpaque, vmctx: *mut u8) -> Option<Instance> {
        // SAFETY: as this function's.
        let index = unsafe { instance_of_vmctx(store, vmctx) }?;
        Some(Instance::from_parts(store.id(), index))
    }

    /// Instance `index` of store `store`.
    pub(crate) fn from_parts(store: StoreId, index: u32) -> Instance {
        Instance { store, index: u64::from(index) }
    }

    /// The index in the store.
    pub(crate) fn index(&self) -> u32 {
        // Only `from_parts` sets it, from a `u32`.
        self.index as u32
    }

    pub(crate) fn data<'s>(&self, store: &'s StoreOpaque) -> Result<&'s InstanceData, Error> {
        store.check(self.store)?;
        Ok(store.instance(self.index()))
    }

    /// The module this is an instance of.
    pub fn module<'s, T: 's>(&self, store: impl Into<StoreContext<'s, T>>) -> Option<&'s Module> {
        let store = store.into().0;
        Some(&self.data(store).ok()?.module)
    }

    /// The export called `name`.
    pub fn get_export(&self, store: impl AsContext, name: &str) -> Option<Extern> {
        let store = store.as_context().0;
        let data = self.data(store).ok()?;
        let export = data.module.export(name)?;
        let i = export.index as usize;
        let vm = &data.vm;
        let id = store.id();
        Some(match export.kind {
            ExternKind::Func => Extern::Func(Func { store: id, index: *data.funcs.get(i)? }),
            ExternKind::Table => Extern::Table(Table { store: id, index: *vm.tables.get(i)? }),
            ExternKind::Memory => Extern::Memory(Memory { store: id, index: *vm.memories.get(i)? }),
            ExternKind::Global => Extern::Global(Global { store: id, index: *vm.globals.get(i)? }),
        })
    }

    /// Every export, by name, in the module's order.
    pub fn exports(&self, store: impl AsContext) -> Vec<(String, Extern)> {
        let store = store.as_context().0;
        let Ok(data) = self.data(store) else { return Vec::new() };
        data.module.exports().filter_map(|e| Some((e.name.to_string(), self.get_export(store, e.name)?))).collect()
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: impl AsContext, name: &str) -> Option<Func> {
        let store = store.as_context().0;
        match self.get_export(store, name)? {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, store: impl AsContext, name: &str) -> Option<Memory> {
        let store = store.as_context().0;
        match self.get_export(store, name)? {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: impl AsContext, name: &str) -> Option<Global> {
        let store = store.as_context().0;
        match self.get_export(store, name)? {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: impl AsContext, name: &str) -> Option<Table> {
        let store = store.as_context().0;
        match self.get_export(store, name)? {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The exported function `name` with a static signature.
    ///
    /// # Errors
    /// [`Error::ExportNotFound`], or [`Error::Type`] if the function's type
    /// is not `P -> R`.
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
        name: &str,
    ) -> Result<TypedFunc<P, R>, Error> {
        let store = store.as_context().0;
        TypedFunc::new(store, self.exported_func(store, name)?)
    }

    /// Calls the exported function `name`.
    pub fn call(&self, mut store: impl AsContextMut, name: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
        let store = store.as_context_mut().0;
        self.exported_func(store, name)?.call(store, args)
    }

    /// Calls the exported function `name`, writing its results into
    /// `results` ([`Func::call_into`]).
    pub fn call_into(
        &self,
        mut store: impl AsContextMut,
        name: &str,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        let store = store.as_context_mut().0;
        self.exported_func(store, name)?.call_into(store, args, results)
    }

    /// The exported function `name` of this instance of `store`.
    fn exported_func(&self, store: &StoreOpaque, name: &str) -> Result<Func, Error> {
        self.data(store)?;
        self.get_func(store, name).ok_or_else(|| Error::ExportNotFound(name.to_string()))
    }
}
