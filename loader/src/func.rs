//! Functions: [`Func`] handles, host functions ([`HostFunc`], [`Caller`])
//! and calls in both directions.

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use smallvec::{smallvec, SmallVec};
use wasmc_abi::meta::FuncType;
use wasmc_abi::TrapKind;

use crate::error::{Error, HostError, Trap};
use crate::externals::{Extern, Memory};
use crate::instance::Instance;
use crate::into_func::WasmTy;
use crate::store::{AsContext, AsContextMut, StoreContext, StoreContextMut, StoreOpaque};
use crate::values::Val;
use crate::vm::store::StoreId;
use crate::vm::traphandler::{self, Unwind};
use crate::vm::{VMFuncRef, VMHostFuncContextHeader, ValRaw};

/// A host function working on [`Val`]s ([`crate::Linker::func_new`]): the
/// store's data type is erased, and the closure it wraps rebuilds its
/// `Caller<'_, T>`.
pub(crate) type DynamicFn =
    dyn Fn(&mut StoreOpaque, Option<Instance>, &[Val], &mut [Val]) -> Result<(), HostError> + Send + Sync;

/// A typed host function ([`crate::Linker::func_wrap`], or
/// [`crate::Linker::func_new_raw`] for numbers): reads its arguments from
/// the values array and writes its results over them, with the types it
/// was defined with, so nothing is converted or checked per call.
pub(crate) type TypedFn =
    dyn Fn(&mut StoreOpaque, Option<Instance>, RawValues<'_>) -> Result<(), HostError> + Send + Sync;

/// The two forms a host function is kept in.
pub(crate) enum HostFn {
    Dynamic(Box<DynamicFn>),
    Typed(Box<TypedFn>),
}

/// A host call's values array ([`crate::Linker::func_new_raw`]): the
/// arguments, then the results written over them, slot `i` for argument
/// or result `i`. A slot is 16 bytes; a value sits in its low bytes, as
/// [`WasmTy::to_bits`](crate::WasmTy) writes it: an `i32` or `f32` in the
/// low 32 bits, an `i64` or `f64` in the low 64, a `v128` in all 128; the
/// bits above are not read.
pub struct RawValues<'a> {
    slots: *mut ValRaw,
    len: usize,
    _borrow: PhantomData<&'a mut [ValRaw]>,
}

impl<'a> RawValues<'a> {
    /// The slots of `values`.
    fn new(values: &'a mut [ValRaw]) -> RawValues<'a> {
        RawValues { slots: values.as_mut_ptr(), len: values.len(), _borrow: PhantomData }
    }

    /// The `len` slots at `slots`.
    ///
    /// # Safety
    /// `slots` must point to `len` slots of 16 bytes (of any alignment)
    /// that nothing else reads or writes for `'a`.
    unsafe fn from_raw_parts(slots: *mut ValRaw, len: usize) -> RawValues<'a> {
        RawValues { slots, len, _borrow: PhantomData }
    }

    /// How many slots: at least as many as the function has parameters,
    /// and as it has results.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no slots (a function of no parameters or results).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bits of slot `i` (zero past the end; a typed function's slots
    /// are its type's, checked when it was linked).
    pub fn get(&self, i: usize) -> u128 {
        if i >= self.len {
            return 0;
        }
        // SAFETY: `i` is in bounds of the slots this borrows (`new`,
        // `from_raw_parts`); they may be unaligned, hence `read_unaligned`.
        unsafe { self.slots.add(i).read_unaligned() }.u128()
    }

    /// Slot `i` as a `V` (a zero past the end).
    pub fn get_as<V: WasmTy>(&self, i: usize) -> V {
        V::from_bits(self.get(i))
    }

    /// Sets slot `i` to `value` (nothing past the end).
    pub fn set_as<V: WasmTy>(&mut self, i: usize, value: V) {
        self.set(i, value.to_bits());
    }

    /// Sets slot `i` (nothing past the end).
    pub fn set(&mut self, i: usize, bits: u128) {
        if i < self.len {
            // SAFETY: as for `get`; the borrow is exclusive.
            unsafe { self.slots.add(i).write_unaligned(ValRaw::from_u128(bits)) };
        }
    }
}

/// A host function and its type. (Public but unnameable outside the crate:
/// it appears in [`crate::IntoFunc`]'s hidden method.)
pub struct HostFunc {
    pub(crate) ty: FuncType,
    pub(crate) func: HostFn,
}

impl HostFunc {
    /// Calls the function with `Val`s (the host calling it directly),
    /// checking the result types a dynamic function produced.
    fn call(
        &self,
        store: &mut StoreOpaque,
        instance: Option<Instance>,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostOutcome> {
        let f = match &self.func {
            HostFn::Dynamic(f) => f,
            HostFn::Typed(_) => {
                let mut raw = vec![ValRaw::default(); self.ty.params.len().max(self.ty.results.len())];
                for (slot, arg) in raw.iter_mut().zip(args) {
                    *slot = arg.to_raw(store).map_err(|e| host_trap(e.to_string()))?;
                }
                self.call_raw(store, instance, RawValues::new(&mut raw))?;
                for (r, (&t, raw)) in results.iter_mut().zip(self.ty.results.iter().zip(&raw)) {
                    *r = Val::from_raw(store, t, raw);
                }
                return Ok(());
            }
        };
        f(store, instance, args, results).map_err(HostOutcome::from_error)?;
        for (v, &t) in results.iter().zip(&self.ty.results) {
            if v.ty() != t {
                return Err(HostOutcome::Trap(host_trap(format!(
                    "host function returned {} where {t} was expected",
                    v.ty()
                ))));
            }
        }
        Ok(())
    }

    /// Calls the function with a values array holding at least as many
    /// slots as it has parameters and results (the caller checks). Inlined:
    /// the typed case is the frequent one, from every host trampoline.
    #[inline(always)]
    fn call_raw(
        &self,
        store: &mut StoreOpaque,
        instance: Option<Instance>,
        values: RawValues<'_>,
    ) -> Result<(), HostOutcome> {
        match &self.func {
            HostFn::Typed(f) => f(store, instance, values).map_err(HostOutcome::from_error),
            HostFn::Dynamic(_) => self.call_dynamic_raw(store, instance, values),
        }
    }

    /// [`HostFunc::call_raw`] for a function on `Val`s: the values array
    /// converted to `Val`s and back. Never inlined, so that the typed path
    /// it is beside stays small (its frame holds 24 `Val`s).
    #[inline(never)]
    fn call_dynamic_raw(
        &self,
        store: &mut StoreOpaque,
        instance: Option<Instance>,
        mut values: RawValues<'_>,
    ) -> Result<(), HostOutcome> {
        // Arguments and results on the stack for the usual few (no
        // allocation on a frequent path), on the heap past that.
        let mut args: SmallVec<[Val; INLINE_VALUES]> = smallvec![Val::I32(0); self.ty.params.len()];
        let mut results: SmallVec<[Val; INLINE_VALUES]> = smallvec![Val::I32(0); self.ty.results.len()];
        for (i, (a, &t)) in args.iter_mut().zip(&self.ty.params).enumerate() {
            *a = Val::from_raw(store, t, &ValRaw::from_u128(values.get(i)));
        }
        for (r, &t) in results.iter_mut().zip(&self.ty.results) {
            *r = Val::zero(t);
        }
        self.call(store, instance, &args, &mut results)?;
        for (i, v) in results.iter().enumerate() {
            values.set(i, v.to_raw(store).map_err(|e| host_trap(e.to_string()))?.u128());
        }
        Ok(())
    }
}

/// A host function's failure as a trap.
fn host_trap(message: String) -> Trap {
    Trap { message: Some(message), ..Trap::new(TrapKind::HostError) }
}

/// How a host function call ended, when not normally.
pub(crate) enum HostOutcome {
    /// The calling wasm code traps.
    Trap(Trap),
    /// The program exits with this code ([`HostError::exit`]).
    Exit(i32),
}

impl HostOutcome {
    /// What a host function's error makes of the call.
    fn from_error(mut e: HostError) -> HostOutcome {
        match (e.exit_code(), e.take_source()) {
            (Some(code), _) => HostOutcome::Exit(code),
            // The cause is the trap's source; repeating its text as the
            // message would print it twice in an error chain.
            (None, Some(source)) => HostOutcome::Trap(Trap { source: Some(source), ..Trap::new(TrapKind::HostError) }),
            (None, None) => HostOutcome::Trap(host_trap(e.message().to_string())),
        }
    }
}

impl From<Trap> for HostOutcome {
    fn from(trap: Trap) -> HostOutcome {
        HostOutcome::Trap(trap)
    }
}

impl From<HostOutcome> for Error {
    fn from(outcome: HostOutcome) -> Error {
        match outcome {
            HostOutcome::Trap(trap) => Error::Trap(trap),
            HostOutcome::Exit(code) => Error::Exit(code),
        }
    }
}

/// A host function's context as wasm code sees it: the ABI header, then
/// the loader's private fields.
#[repr(C)]
pub(crate) struct HostFuncContext {
    pub header: VMHostFuncContextHeader,
    pub func: Arc<HostFunc>,
}

/// What a host function gets besides its arguments: the store's contents,
/// and the instance whose code called it (for its exports, e.g. its
/// memory).
///
/// A `Caller` is a context ([`AsContext`], [`AsContextMut`]): pass `&mut
/// caller` wherever the API takes a store, to call back into wasm, grow a
/// memory, read a global. It never hands out the [`crate::Store`] itself,
/// so a host function cannot move, replace or drop the store whose wasm
/// frames are waiting for it to return:
///
/// ```compile_fail
/// use wasmc_loader::{AsContextMut, Caller, Linker, Store};
/// let mut linker = Linker::new();
/// linker.func_wrap("env", "swap", |mut caller: Caller<'_>| {
///     // A context is not a store: there is no `&mut Store` to replace.
///     let _old: Store = std::mem::replace(caller.as_context_mut(), Store::default());
/// });
/// ```
pub struct Caller<'a, T = ()> {
    store: &'a mut StoreOpaque,
    instance: Option<Instance>,
    _data: PhantomData<fn() -> T>,
}

impl<T: 'static> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext::new(self.store)
    }
}

impl<T: 'static> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut::new(self.store)
    }
}

impl<'a, T: 'static> Caller<'a, T> {
    /// A caller over the store a host function was called in. Only the
    /// host-function wrappers of a `Linker<T>` make one, for stores made as
    /// `Store<T>` (a linker instantiates only into those).
    pub(crate) fn new(store: &'a mut StoreOpaque, instance: Option<Instance>) -> Self {
        Caller { store, instance, _data: PhantomData }
    }

    /// The store's data (the `T` of `Store<T>`).
    pub fn data(&self) -> &T {
        self.as_context().data()
    }

    /// The store's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// The store's contents, for the loader's own host functions.
    pub(crate) fn opaque(&self) -> &StoreOpaque {
        self.store
    }

    /// The store's contents, mutably, for the loader's own host functions.
    pub(crate) fn opaque_mut(&mut self) -> &mut StoreOpaque {
        self.store
    }

    /// The calling instance; `None` when the host called the function.
    pub fn instance(&self) -> Option<Instance> {
        self.instance
    }

    /// An export of the calling instance.
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        self.instance?.get_export(&*self.store, name)
    }

    /// The calling instance's memory exported as `"memory"`.
    pub fn memory(&self) -> Option<Memory> {
        match self.get_export("memory")? {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// Reads from the caller's exported `"memory"`.
    pub fn memory_read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let memory = self.memory().ok_or_else(|| Error::ExportNotFound("memory".into()))?;
        memory.read(&*self.store, offset, buf)
    }

    /// Writes to the caller's exported `"memory"`.
    pub fn memory_write(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let memory = self.memory().ok_or_else(|| Error::ExportNotFound("memory".into()))?;
        memory.write(&mut *self.store, offset, data)
    }
}

/// A function in a [`Store`](crate::Store): defined by an instance, or a host function
/// an instance imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Func {
    /// The handle of the function whose funcref is at `word` (0: null).
    pub(crate) fn from_ref_word(store: &StoreOpaque, word: usize) -> Option<Func> {
        let index = store.func_by_ref(word)?;
        Some(Func { store: store.id(), index })
    }

    /// This function's funcref.
    pub(crate) fn func_ref_ptr(&self, store: &StoreOpaque) -> Result<*const VMFuncRef, Error> {
        store.check(self.store)?;
        Ok(store.func(self.index).func_ref.as_ptr())
    }

    /// The function's type.
    ///
    /// # Panics
    /// If the function belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let store = store.as_context().0;
        assert!(store.check(self.store).is_ok(), "Func used with a store it does not belong to");
        FuncType::clone(&store.func(self.index).ty)
    }

    /// Calls the function with `args`, returning its results.
    ///
    /// # Errors
    /// [`Error::WrongStore`], [`Error::Type`] for arguments that do not
    /// match the function's parameters, or [`Error::Trap`].
    pub fn call(&self, mut store: impl AsContextMut, args: &[Val]) -> Result<Vec<Val>, Error> {
        let store = store.as_context_mut().0;
        store.check(self.store)?;
        let mut results = vec![Val::I32(0); store.func(self.index).ty.results.len()];
        self.call_into(store, args, &mut results)?;
        Ok(results)
    }

    /// As [`Func::call`], writing the results into `results`, which must
    /// have room for exactly as many as the function returns: no
    /// allocation for functions of up to 12 parameters and results.
    ///
    /// # Errors
    /// As for [`Func::call`]; also [`Error::Type`] for a `results` of
    /// another length.
    pub fn call_into(&self, mut store: impl AsContextMut, args: &[Val], results: &mut [Val]) -> Result<(), Error> {
        let store = store.as_context_mut().0;
        store.check(self.store)?;
        let data = store.func(self.index);
        let ty = data.ty.clone();
        check_args(&ty, args)?;
        if results.len() != ty.results.len() {
            return Err(Error::Type(format!(
                "function {ty} returns {} values, room for {} given",
                ty.results.len(),
                results.len()
            )));
        }
        if let Some(host) = data.host.clone() {
            for (r, &t) in results.iter_mut().zip(&ty.results) {
                *r = Val::zero(t);
            }
            return Ok(host.call(store, None, args, results)?);
        }
        // SAFETY: the funcref is owned by the store and stays valid.
        let func_ref = unsafe { *data.func_ref.as_ptr() };
        let len = ty.params.len().max(ty.results.len()).max(1);
        let mut values: SmallVec<[ValRaw; INLINE_VALUES]> = smallvec![ValRaw::default(); len];
        for (slot, arg) in values.iter_mut().zip(args) {
            *slot = arg.to_raw(store)?;
        }
        // SAFETY: a wasm funcref of this store, a values array as large as
        // its parameters and results, holding arguments of its types
        // (checked above).
        unsafe { invoke(store, func_ref, &mut values)? };
        for (r, (&t, raw)) in results.iter_mut().zip(ty.results.iter().zip(values.iter())) {
            *r = Val::from_raw(store, t, raw);
        }
        Ok(())
    }
}

/// Calls wasm through the vm layer's entry, [`traphandler::invoke`]:
/// instantiated here once for `StoreOpaque`, so that the typed calls
/// (generic, compiled in the embedder's crate) call the entry as one
/// function of this crate.
///
/// # Safety
/// As for [`traphandler::invoke`].
pub(crate) unsafe fn invoke(store: &mut StoreOpaque, func_ref: VMFuncRef, values: &mut [ValRaw]) -> Result<(), Error> {
    // SAFETY: as this function's.
    Ok(unsafe { traphandler::invoke(store, func_ref, values) }?)
}

/// Checks `args` against the parameters of `ty`.
pub(crate) fn check_args(ty: &FuncType, args: &[Val]) -> Result<(), Error> {
    if args.len() != ty.params.len() {
        return Err(Error::Type(format!("function {ty} takes {} arguments, {} given", ty.params.len(), args.len())));
    }
    for (i, (a, &p)) in args.iter().zip(&ty.params).enumerate() {
        if a.ty() != p {
            return Err(Error::Type(format!("argument {i} is {}, expected {p}", a.ty())));
        }
    }
    Ok(())
}

/// The entry point every host trampoline calls (`HOST_CTX_FUNC`).
///
/// Never unwinds through wasm frames: errors and panics are moved into the
/// thread's unwind slot and jumped back to the host entry.
pub(crate) unsafe extern "C" fn host_entry(host_ctx: *mut u8, caller_vmctx: *mut u8, values: *mut u8, len: usize) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host trampoline passes the context we registered and
        // its values array of `len` slots.
        unsafe { dispatch(host_ctx, caller_vmctx, values, len) }
    }));
    let reason = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(HostOutcome::Trap(mut trap))) => {
            // SAFETY: the host trampoline passes its caller's live vmctx;
            // the caller is suspended.
            unsafe { traphandler::locate_call(&mut trap, caller_vmctx) };
            Unwind::Trap(trap)
        }
        Ok(Err(HostOutcome::Exit(code))) => Unwind::Exit(code),
        Err(payload) => Unwind::Panic(payload),
    };
    // SAFETY: called from wasm via a host trampoline; `reason` is moved
    // into `raise`, so this frame owns nothing when it is skipped.
    unsafe { traphandler::raise(reason) }
}

/// Calls with at most this many parameters, or results, keep their values
/// on the stack.
const INLINE_VALUES: usize = 12;

/// Reads the arguments, runs the host function, writes the results.
///
/// # Safety
/// `host_ctx` must be a live [`HostFuncContext`], `values` an array of at
/// least `len` slots, and the thread's current store the one owning it.
unsafe fn dispatch(host_ctx: *mut u8, caller_vmctx: *mut u8, values: *mut u8, len: usize) -> Result<(), HostOutcome> {
    // SAFETY: per the contract, `host_ctx` is a live context. It is boxed in
    // its instance's record, which its store keeps until the store is
    // dropped (instances are never removed), and the store outlives this
    // call (a host function gets a `Caller`, never the `Store`): so the
    // function it holds outlives this borrow. Nothing mutates a `HostFunc`.
    let func: &HostFunc = unsafe { &(*host_ctx.cast::<HostFuncContext>()).func };
    // Every store the vm layer runs code for is a `StoreOpaque`.
    let Some(mut store_ptr) = traphandler::current_store_as::<StoreOpaque>() else {
        return Err(Trap::new(TrapKind::UnknownFault).into());
    };
    // SAFETY: the entry that set the current store holds its `&mut` and
    // does not use it until we return.
    let store = unsafe { store_ptr.as_mut() };
    let slots_needed = func.ty.params.len().max(func.ty.results.len());
    if len < slots_needed {
        return Err(Trap { message: Some("values array too short".into()), ..Trap::new(TrapKind::UnknownFault) }.into());
    }
    // SAFETY: `values` holds `len` 16-byte slots (trampoline contract),
    // which nothing else reads or writes until we return: the wasm frame
    // that owns them is suspended in this call.
    let values = unsafe { RawValues::from_raw_parts(values.cast::<ValRaw>(), len) };
    // SAFETY: `caller_vmctx` is the calling instance's vmctx.
    let instance = unsafe { Instance::from_vmctx(store, caller_vmctx) };
    func.call_raw(&mut *store, instance, values).map_err(|outcome| match outcome {
        HostOutcome::Trap(trap) => HostOutcome::Trap(store.limits().explain(trap)),
        exit @ HostOutcome::Exit(_) => exit,
    })?;
    Ok(())
}
