//! Instantiation (WebAssembly 2.0 order): resolve imports, build the
//! `VMContext` and create tables and memories (the vm allocator, fresh or
//! pooled), fill in imports and funcrefs, initialise globals, apply
//! element then data segments in order, run the start function. A module
//! with a memory image gets its active data segments by mapping the image
//! into its new memories instead.
//!
//! Everything that can fail for lack of resources happens before the store
//! is touched. Segment application and the start function can trap; the
//! instance then stays in the store, and writes already made to imported
//! tables and memories remain visible, as the spec requires.

use std::ptr::NonNull;
use std::sync::Arc;

use wasmc_abi::meta::ImportType;
use wasmc_abi::vmctx::HOST_CTX_MAGIC;

use crate::error::Error;
use crate::func::{host_entry, Func, HostFunc, HostFuncContext};
use crate::instance::{Instance, InstanceData};
use crate::linker::{InstancePre, Linker, Resolved};
use crate::module::Module;
use crate::store::{AsContextMut, StoreOpaque};
use crate::vm::allocator::{self, Allocation, EntityLimits, Placement};
use crate::vm::instance::{eval_const, InlineList, VmInstance};
use crate::vm::store::{GlobalData, MemoryData, TableData};
use crate::vm::vmctx::VmBox;
use crate::vm::{VMFuncRef, VMFunctionImport, VMGlobal, VMHostFuncContextHeader};

impl Instance {
    /// Instantiates `module` in `store`, taking imports from `linker`.
    ///
    /// # Errors
    /// [`Error::Link`] for a missing or mismatched import,
    /// [`Error::WrongStore`] for a linker item from another store,
    /// [`Error::Resource`] when a table or memory cannot be created, and
    /// [`Error::Trap`] when a segment does not fit or the start function
    /// traps (the partly initialised instance then stays in the store).
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
        linker: &Linker<T>,
    ) -> Result<Instance, Error> {
        let store = store.as_context_mut().0;
        let imports = linker.resolve(store, module)?;
        let instance = allocate(store, module, imports, Placement::Fresh)?;
        initialize(store, instance, module.memory_image().is_some())?;
        Ok(instance)
    }
}

impl<T: 'static> InstancePre<T> {
    /// Instantiates the module in `store` with the imports found when this
    /// was made; as [`Instance::new`] otherwise.
    ///
    /// # Errors
    /// As [`Instance::new`] ([`Error::WrongStore`] for a store item of the
    /// linker used with another store).
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> Result<Instance, Error> {
        let store = store.as_context_mut().0;
        let imports = self.resolve(store)?;
        let instance = allocate(store, self.module(), imports, Placement::Fresh)?;
        initialize(store, instance, self.module().memory_image().is_some())?;
        Ok(instance)
    }
}

fn null_ptr<T>(p: *mut T) -> Result<NonNull<T>, Error> {
    NonNull::new(p).ok_or_else(|| Error::resource("null pointer"))
}

/// Builds the instance and adds it and its entities to the store.
pub(crate) fn allocate(
    store: &mut StoreOpaque,
    module: &Module,
    imports: Vec<Resolved>,
    placement: Placement<'_>,
) -> Result<Instance, Error> {
    let meta = module.meta();
    let counts = meta.vm_counts();
    let index = store.instance_count();
    // Fallible resources first, before the store changes.
    let config = store.config();
    let limits =
        EntityLimits { max_memory_bytes: config.max_memory_bytes, max_table_elements: config.max_table_elements };
    let Allocation { vmctx, backref, tables, memories } =
        allocator::allocate(store.vm(), index, module.as_info(), module.type_ids(), placement, limits)?;

    // Imports.
    let mut funcs = InlineList::<u32, 8>::with_capacity(counts.functions as usize);
    let mut host_ctxs = Vec::new();
    let mut vm = VmInstance {
        module: module.info(),
        vmctx,
        _backref: backref,
        tables: InlineList::with_capacity((counts.imported_tables + counts.defined_tables) as usize),
        memories: InlineList::with_capacity((counts.imported_memories + counts.defined_memories) as usize),
        globals: InlineList::with_capacity((counts.imported_globals + counts.defined_globals) as usize),
        dropped_elems: smallvec::smallvec![false; meta.elements.len()],
        dropped_data: smallvec::smallvec![false; meta.data.len()],
    };
    let mut host_funcs: Vec<(u32, u32, Arc<HostFunc>)> = Vec::new();
    let mut aliases: Vec<(u32, u32)> = Vec::new();
    for (import, resolved) in meta.imports.iter().zip(imports) {
        match (import.ty, resolved) {
            (ImportType::Func(t), resolved) => {
                let i = funcs.len() as u32;
                let type_id = module.type_ids()[t as usize];
                let func_ref = match resolved {
                    Resolved::HostFunc(host) => {
                        let ctx = VmBox::new(HostFuncContext {
                            header: VMHostFuncContextHeader {
                                magic: HOST_CTX_MAGIC,
                                _pad: 0,
                                stack_limit: 0,
                                func: host_entry,
                            },
                            func: host.clone(),
                        });
                        // `validate` guarantees imported types have a host trampoline.
                        let trampoline = meta.trampolines[t as usize].host.unwrap_or(0);
                        let func_ref = VMFuncRef {
                            wasm_call: module.code_at(trampoline),
                            array_call: std::ptr::null(),
                            vmctx: ctx.as_ptr().cast(),
                            type_id,
                            _pad: 0,
                        };
                        host_ctxs.push(ctx);
                        host_funcs.push((i, t, host));
                        funcs.push(u32::MAX); // filled in below
                        func_ref
                    }
                    Resolved::Func(f) => {
                        funcs.push(f);
                        aliases.push((i, f));
                        // SAFETY: funcrefs of store functions stay valid while the store lives.
                        unsafe { *store.func(f).func_ref.as_ptr() }
                    }
                    _ => unreachable_import(),
                };
                vm.vmctx
                    .set_function_import(i, VMFunctionImport { wasm_call: func_ref.wasm_call, vmctx: func_ref.vmctx });
                vm.vmctx.set_func_ref(i, func_ref);
            }
            (ImportType::Table(_), Resolved::Table(t)) => {
                vm.vmctx.set_imported_table(vm.tables.len() as u32, store.vm().table_def(t));
                vm.tables.push(t);
            }
            (ImportType::Memory(_), Resolved::Memory(m)) => {
                vm.vmctx.set_imported_memory(vm.memories.len() as u32, store.vm().memory_def(m));
                vm.memories.push(m);
            }
            (ImportType::Global(_), Resolved::Global(g)) => {
                vm.vmctx.set_imported_global(vm.globals.len() as u32, store.vm().global_storage(g));
                vm.globals.push(g);
            }
            _ => unreachable_import(),
        }
    }

    // Defined functions' funcrefs.
    let imported_funcs = funcs.len() as u32;
    let defined_funcs = module.defined_funcs()?;
    for (j, f) in defined_funcs.clone().enumerate() {
        let func_ref = VMFuncRef {
            wasm_call: module.code_at(f.code_offset),
            array_call: module.code_at(meta.trampolines[f.type_index as usize].entry),
            vmctx: vm.vmctx.as_ptr(),
            type_id: module.type_ids()[f.type_index as usize],
            _pad: 0,
        };
        vm.vmctx.set_func_ref(imported_funcs + j as u32, func_ref);
    }

    // Defined globals (initialisers may read imported globals and funcrefs).
    for (j, g) in meta.globals.iter().enumerate() {
        let value =
            eval_const(&g.init, &meta.const_ops, &vm.vmctx, |k| store.vm().global_storage(vm.globals[k as usize]));
        vm.vmctx.set_defined_global(j as u32, VMGlobal { bytes: value.0 });
    }

    // From here on nothing fails: publish everything to the store.
    store.reserve(counts.functions as usize, meta.tables.len(), meta.memories.len(), meta.globals.len());
    // (An imported host function's type equals the import's: checked by
    // `Linker::resolve`.)
    for (i, t, host) in host_funcs {
        let ty = Arc::clone(module.func_type(t));
        let f = store.push_func(null_ptr(vm.vmctx.func_ref(i))?, ty, Some(host));
        funcs[i as usize] = f;
    }
    for (i, f) in aliases {
        store.alias_func(null_ptr(vm.vmctx.func_ref(i))?, f);
    }
    for (j, f) in defined_funcs.enumerate() {
        let i = imported_funcs + j as u32;
        let ty = Arc::clone(module.func_type(f.type_index));
        let index = store.push_func(null_ptr(vm.vmctx.func_ref(i))?, ty, None);
        funcs.push(index);
    }
    for (j, (elements, &ty)) in tables.into_iter().zip(&meta.tables).enumerate() {
        let def = null_ptr(vm.vmctx.defined_table(j as u32))?;
        vm.tables.push(store.vm_mut().push_table(TableData { elements, ty, def, _owned_def: None }));
    }
    for (j, (memory, &ty)) in memories.into_iter().zip(&meta.memories).enumerate() {
        let def = null_ptr(vm.vmctx.defined_memory(j as u32))?;
        vm.memories.push(store.vm_mut().push_memory(MemoryData { memory, ty, def, _owned_def: None }));
    }
    for (j, g) in meta.globals.iter().enumerate() {
        let storage = null_ptr(vm.vmctx.defined_global(j as u32))?;
        vm.globals.push(store.vm_mut().push_global(GlobalData { ty: g.ty, storage, _owned: None }));
    }
    let data = InstanceData { vm, module: module.clone(), funcs, _host_ctxs: host_ctxs };
    let pushed = store.push_instance(data);
    debug_assert_eq!(pushed, index);
    Ok(Instance::from_parts(store.id(), index))
}

/// `Linker::resolve` returns one entry of the import's kind per import.
fn unreachable_import() -> ! {
    unreachable!("resolved import of the wrong kind")
}

/// Applies segments (`StoreData::initialize_segments`, which `preloaded`
/// tells that the defined memories already hold the module's memory image)
/// and runs the start function.
pub(crate) fn initialize(store: &mut StoreOpaque, instance: Instance, preloaded: bool) -> Result<(), Error> {
    store.initialize_segments(instance.index(), preloaded)?;
    let data = store.instance(instance.index());
    if let Some(start) = data.module.meta().start {
        let index = data.funcs[start as usize];
        Func { store: store.id(), index }.call(store, &[])?;
    }
    Ok(())
}
