//! [`VmInstance`]: the vm record of one instance (its `VMContext`, the
//! store indices of its tables, memories and globals, its dropped-segment
//! flags, its module), and finding it again from a vmctx.

use std::sync::Arc;

use smallvec::SmallVec;
use wasmc_abi::meta::{ConstExpr, ConstOp};
use wasmc_abi::vmctx::VMCTX_MAGIC;

use crate::vm::module_info::ModuleInfo;
use crate::vm::store::{StoreData, StoreId, VMStore};
use crate::vm::vmctx::{VmBox, VmCtx};
use crate::vm::{VMContextHeader, VMGlobal, ValRaw};

/// What `VMCTX_INSTANCE` points to: enough to find the instance again.
#[derive(Debug)]
pub(crate) struct InstanceRef {
    store: StoreId,
    index: u32,
}

impl InstanceRef {
    /// The back-reference of instance `index` of store `store`, boxed at a
    /// stable address for the vmctx header.
    pub(crate) fn boxed(store: StoreId, index: u32) -> VmBox<InstanceRef> {
        VmBox::new(InstanceRef { store, index })
    }
}

/// A short list of an instance's, inline up to `N` entries (most modules
/// have a table or two, a memory, a few globals and segments), so that
/// instantiating allocates nothing for it.
pub(crate) type InlineList<T, const N: usize> = SmallVec<[T; N]>;

/// Everything of one instance the vm layer uses besides the store-wide
/// entities.
pub(crate) struct VmInstance {
    pub module: Arc<dyn ModuleInfo>,
    pub vmctx: VmCtx,
    pub _backref: VmBox<InstanceRef>,
    /// Store indices of the instance's tables, memories and globals,
    /// imports first (the module's index spaces).
    pub tables: InlineList<u32, 2>,
    pub memories: InlineList<u32, 2>,
    pub globals: InlineList<u32, 4>,
    /// Whether each element / data segment has been dropped.
    pub dropped_elems: InlineList<bool, 16>,
    pub dropped_data: InlineList<bool, 16>,
}

/// The index of the instance whose `VMContext` is `vmctx`, if it is one of
/// `store`'s.
///
/// # Safety
/// `vmctx` must be null or point to a live `VMContext` or
/// `VMHostFuncContext` (both start with a magic number).
pub(crate) unsafe fn instance_of_vmctx<S: VMStore + ?Sized>(store: &S, vmctx: *mut u8) -> Option<u32> {
    if vmctx.is_null() {
        return None;
    }
    // SAFETY: per the contract the magic is readable; only a `VMContext`
    // (magic checked) has the instance field, which points to a live
    // `InstanceRef` owned by its instance.
    let backref = unsafe {
        let header = vmctx.cast::<VMContextHeader>();
        if (*header).magic != VMCTX_MAGIC {
            return None;
        }
        &*((*header).instance.cast::<InstanceRef>())
    };
    (backref.store == store.vm().id && (backref.index as usize) < store.instance_count()).then_some(backref.index)
}

impl StoreData {
    /// Evaluates a constant expression of `instance` (its imported globals
    /// and its funcrefs are all one can read).
    pub(crate) fn eval_const(&self, instance: &VmInstance, expr: &ConstExpr) -> ValRaw {
        let ops = &instance.module.meta().const_ops;
        eval_const(expr, ops, &instance.vmctx, |g| self.global_storage(instance.globals[g as usize]))
    }
}

/// Evaluates a constant expression to its raw value. `ops` is the module's
/// [`ModuleMeta::const_ops`](wasmc_abi::meta::ModuleMeta::const_ops);
/// `global` gives the storage of the instance's global `g` (only imported
/// globals can be read by validated constant expressions).
pub(crate) fn eval_const(
    expr: &ConstExpr,
    ops: &[ConstOp],
    vmctx: &VmCtx,
    global: impl Fn(u32) -> *mut VMGlobal,
) -> ValRaw {
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
        ConstExpr::Ops { start, len } => {
            // In range and leaving one value: checked at load
            // (`ModuleMeta::validate_head`).
            let ops = ops.get(start as usize..).and_then(|ops| ops.get(..len as usize)).unwrap_or_default();
            let mut stack = Vec::with_capacity(ops.len());
            for op in ops {
                // SAFETY: import slots point at live globals owned by the
                // store; the low bytes hold an i32's or i64's value.
                op.run(&mut stack, |g| ValRaw(unsafe { (*global(g)).bytes }).u64());
            }
            ValRaw::from_u128(u128::from(stack.pop().unwrap_or(0)))
        }
    }
}
