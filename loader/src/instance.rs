//! [`Instance`] handles and the per-instance state the store keeps.

use wasmc_abi::meta::{ConstExpr, ExternKind};
use wasmc_abi::vmctx::VMCTX_MAGIC;

use crate::error::Error;
use crate::externals::{Extern, Global, Memory, Table};
use crate::func::{Func, HostFuncContext};
use crate::module::Module;
use crate::store::{AsContext, AsContextMut, StoreContext};
use crate::store::{StoreId, StoreOpaque};
use crate::typed::{TypedFunc, WasmParams, WasmResults};
use crate::values::Val;
use crate::vm::{VMContextHeader, VMGlobal, ValRaw};
use crate::vm::vmctx::{VmBox, VmCtx};

/// What `VMCTX_INSTANCE` points to: enough to find the instance again.
#[derive(Debug)]
pub(crate) struct InstanceRef {
    pub store: StoreId,
    pub index: u32,
}

/// Everything one instance owns besides the store-wide entities.
pub(crate) struct InstanceData {
    pub module: Module,
    pub vmctx: VmCtx,
    pub _backref: VmBox<InstanceRef>,
    /// Store indices of the instance's functions, tables, memories and
    /// globals, imports first (the module's index spaces).
    pub funcs: Vec<u32>,
    pub tables: Vec<u32>,
    pub memories: Vec<u32>,
    pub globals: Vec<u32>,
    pub _host_ctxs: Vec<VmBox<HostFuncContext>>,
    /// Whether each element / data segment has been dropped.
    pub dropped_elems: Vec<bool>,
    pub dropped_data: Vec<bool>,
}

impl InstanceData {
    pub(crate) fn module(&self) -> &Module {
        &self.module
    }
}

/// An instantiated module in a [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Instance {
    /// The instance whose `VMContext` is `vmctx`, if it is one of `store`'s.
    ///
    /// # Safety
    /// `vmctx` must be null or point to a live `VMContext` or
    /// `VMHostFuncContext` (both start with a magic number).
    pub(crate) unsafe fn from_vmctx(store: &StoreOpaque, vmctx: *mut u8) -> Option<Instance> {
        if vmctx.is_null() {
            return None;
        }
        // SAFETY: per the contract the magic is readable; only a
        // `VMContext` (magic checked) has the instance field, which points
        // to a live `InstanceRef` owned by its instance.
        let backref = unsafe {
            let header = vmctx.cast::<VMContextHeader>();
            if (*header).magic != VMCTX_MAGIC {
                return None;
            }
            &*((*header).instance.cast::<InstanceRef>())
        };
        (backref.store == store.id && (backref.index as usize) < store.instances.len())
            .then_some(Instance { store: store.id, index: backref.index })
    }

    pub(crate) fn data<'s>(&self, store: &'s StoreOpaque) -> Result<&'s InstanceData, Error> {
        store.check(self.store)?;
        Ok(&store.instances[self.index as usize])
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
        Some(match export.kind {
            ExternKind::Func => Extern::Func(Func { store: store.id, index: *data.funcs.get(i)? }),
            ExternKind::Table => Extern::Table(Table { store: store.id, index: *data.tables.get(i)? }),
            ExternKind::Memory => Extern::Memory(Memory { store: store.id, index: *data.memories.get(i)? }),
            ExternKind::Global => Extern::Global(Global { store: store.id, index: *data.globals.get(i)? }),
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
        self.data(store)?;
        let func = self.get_func(store, name).ok_or_else(|| Error::ExportNotFound(name.to_string()))?;
        TypedFunc::new(store, func)
    }

    /// Calls the exported function `name`.
    pub fn call(&self, mut store: impl AsContextMut, name: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
        let store = store.as_context_mut().0;
        self.data(store)?;
        let func = self.get_func(&*store, name).ok_or_else(|| Error::ExportNotFound(name.to_string()))?;
        func.call(store, args)
    }
}

/// Evaluates a constant expression to its raw value. `global` gives the
/// storage of the instance's global `g` (only imported globals can be read
/// by validated constant expressions).
pub(crate) fn eval_const(expr: &ConstExpr, vmctx: &VmCtx, global: impl Fn(u32) -> *mut VMGlobal) -> ValRaw {
    match *expr {
        ConstExpr::I32(v) => ValRaw::from_u128(u128::from(v as u32)),
        ConstExpr::I64(v) => ValRaw::from_u128(u128::from(v as u64)),
        ConstExpr::F32(v) => ValRaw::from_u128(u128::from(v)),
        ConstExpr::F64(v) => ValRaw::from_u128(u128::from(v)),
        ConstExpr::V128(v) => ValRaw::from_u128(v),
        // SAFETY: import slots point at live globals owned by the store.
        ConstExpr::GlobalGet(g) => ValRaw(unsafe { (*global(g)).bytes }),
        ConstExpr::RefNull(_) => ValRaw::default(),
        ConstExpr::RefFunc(f) => ValRaw::from_u128(vmctx.func_ref(f) as usize as u128),
    }
}
