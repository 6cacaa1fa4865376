//! [`Store`]: owns every instance, memory, table, global and function
//! created in it. Handles ([`crate::Func`], [`crate::Memory`], ...) are a
//! store id plus an index, so using one with another store is an error and
//! never undefined behaviour.

use std::any::Any;
use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use wasmc_abi::meta::FuncType;

use crate::error::Error;
use crate::func::HostFunc;
use crate::instance::InstanceData;
use crate::vm::instance::VmInstance;
use crate::vm::limits::StoreLimits;
use crate::vm::slot::SlotLease;
use crate::vm::store::{reserve, StoreData, StoreId, VMStore};
use crate::vm::VMFuncRef;

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

/// A function in the store.
pub(crate) struct FuncData {
    /// Its funcref (in some instance's vmctx; stable while the store lives).
    pub func_ref: NonNull<VMFuncRef>,
    pub ty: Arc<FuncType>,
    /// The host function, if it is one (then `array_call` is null).
    pub host: Option<Arc<HostFunc>>,
}

/// Everything a store owns, behind the public [`Store`]'s box. Code inside
/// the loader works on this; host functions reach it only through a
/// [`StoreContextMut`], which cannot move or replace it.
pub(crate) struct StoreOpaque {
    /// What the vm layer works on: memories, tables, globals, deadline and
    /// fuel (`vm/store.rs`).
    vm: StoreData,
    config: Config,
    /// Each instance: its vm record and its public side.
    instances: Vec<InstanceData>,
    funcs: Vec<FuncData>,
    /// Funcref address to function index, for turning raw references into
    /// [`crate::Func`] handles.
    func_by_ref: rustc_hash::FxHashMap<usize, u32>,
    /// The WASI state of the program running in this store, if any: each
    /// store has its own descriptor table, never shared through a linker.
    wasi: Option<Box<crate::wasi::WasiCtx>>,
    /// The embedder's `T` of a [`Store<T>`], for host functions.
    data: Box<dyn Any + Send>,
    _not_sync: PhantomData<Cell<()>>,
    /// Pool slots of pooled instances. Declared last so it drops last:
    /// a slot goes back to its pool only after everything that can reach
    /// it (instances, memories) is gone.
    leases: Vec<SlotLease>,
}

/// The one way the vm layer reaches a store.
impl VMStore for StoreOpaque {
    #[inline]
    fn vm(&self) -> &StoreData {
        &self.vm
    }

    #[inline]
    fn vm_mut(&mut self) -> &mut StoreData {
        &mut self.vm
    }

    #[inline]
    fn instance_count(&self) -> usize {
        self.instances.len()
    }

    #[inline]
    fn instance(&self, index: u32) -> Option<&VmInstance> {
        self.instances.get(index as usize).map(|i| &i.vm)
    }

    #[inline]
    fn instance_mut(&mut self, index: u32) -> Option<(&mut StoreData, &mut VmInstance)> {
        let instance = self.instances.get_mut(index as usize)?;
        Some((&mut self.vm, &mut instance.vm))
    }
}

// SAFETY: every raw pointer in the store points into memory the store owns
// (vmctx allocations, boxes, mappings) or into module code kept alive by the
// store's `Module` clones; none is tied to a thread. Host closures are
// `Send + Sync`.
unsafe impl Send for StoreOpaque {}

impl StoreOpaque {
    fn new(config: Config, data: Box<dyn Any + Send>) -> StoreOpaque {
        StoreOpaque {
            data,
            vm: StoreData::new(config.max_wasm_stack),
            config,
            instances: Vec::new(),
            funcs: Vec::new(),
            func_by_ref: rustc_hash::FxHashMap::default(),
            wasi: None,
            _not_sync: PhantomData,
            leases: Vec::new(),
        }
    }

    /// The limits of this store.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The embedder's data, as the `T` of the `Store<T>` that made this
    /// store.
    pub(crate) fn data<T: 'static>(&self) -> &T {
        // Only `Store::<T>::with_data` sets the data, and every context and
        // caller that asks for a `T` was made from that `Store<T>` (their
        // types carry it), so the type always matches.
        self.data.downcast_ref().expect("a store's data is the T of its Store<T>")
    }

    pub(crate) fn data_mut<T: 'static>(&mut self) -> &mut T {
        self.data.downcast_mut().expect("a store's data is the T of its Store<T>")
    }

    /// `Ok` if a handle made by store `id` may be used here.
    pub(crate) fn check(&self, id: StoreId) -> Result<(), Error> {
        if id == self.vm.id() {
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
        reserve(&mut self.instances, 1);
        reserve(&mut self.leases, 1);
        reserve(&mut self.funcs, funcs);
        self.vm.reserve(tables, memories, globals);
        self.func_by_ref.reserve(funcs);
    }

    /// Makes the funcref at `alias` stand for existing function `index`
    /// (an imported function's copy in the importer's vmctx).
    pub(crate) fn alias_func(&mut self, alias: NonNull<VMFuncRef>, index: u32) {
        self.func_by_ref.insert(alias.as_ptr() as usize, index);
    }

    /// This store's id, for handles.
    pub(crate) fn id(&self) -> StoreId {
        self.vm.id()
    }

    /// The vm state (memories, tables, globals, limits).
    pub(crate) fn vm(&self) -> &StoreData {
        &self.vm
    }

    /// The vm state, mutably.
    pub(crate) fn vm_mut(&mut self) -> &mut StoreData {
        &mut self.vm
    }

    /// Deadline and fuel.
    pub(crate) fn limits(&self) -> &StoreLimits {
        self.vm.limits()
    }

    /// Instance `index`.
    pub(crate) fn instance(&self, index: u32) -> &InstanceData {
        &self.instances[index as usize]
    }

    /// How many instances the store holds (the next one's index).
    pub(crate) fn instance_count(&self) -> u32 {
        self.instances.len() as u32
    }

    /// Adds an instance; returns its index.
    pub(crate) fn push_instance(&mut self, data: InstanceData) -> u32 {
        self.instances.push(data);
        self.instances.len() as u32 - 1
    }

    /// Applies instance `index`'s active segments (see
    /// `StoreData::initialize_segments`).
    pub(crate) fn initialize_segments(&mut self, index: u32, preloaded: bool) -> Result<(), crate::Trap> {
        self.vm.initialize_segments(&mut self.instances[index as usize].vm, preloaded)
    }

    /// Charges fuel for work done on behalf of instance `caller`'s code
    /// (see `StoreData::charge_fuel`).
    pub(crate) fn charge_fuel(&mut self, caller: Option<u32>, units: u64) -> Result<(), wasmc_abi::TrapKind> {
        let caller = caller.and_then(|i| self.instances.get(i as usize)).map(|i| &i.vm);
        self.vm.charge_fuel(caller, units)
    }

    /// Function `index`.
    pub(crate) fn func(&self, index: u32) -> &FuncData {
        &self.funcs[index as usize]
    }

    /// The function whose funcref is at address `word`.
    pub(crate) fn func_by_ref(&self, word: usize) -> Option<u32> {
        self.func_by_ref.get(&word).copied()
    }

    /// Keeps a pool slot's lease until the store drops.
    pub(crate) fn push_lease(&mut self, lease: SlotLease) {
        self.leases.push(lease);
    }

    /// Takes the WASI state out for a syscall (put back with
    /// [`StoreOpaque::put_wasi`]).
    pub(crate) fn take_wasi(&mut self) -> Option<Box<crate::wasi::WasiCtx>> {
        self.wasi.take()
    }

    /// Puts back what [`StoreOpaque::take_wasi`] took.
    pub(crate) fn put_wasi(&mut self, ctx: Box<crate::wasi::WasiCtx>) {
        self.wasi = Some(ctx);
    }

    /// See [`Store::set_call_timeout`].
    pub(crate) fn set_call_timeout(&mut self, timeout: Option<Duration>) {
        self.vm.set_call_timeout(timeout)
    }

    /// See [`Store::call_timeout`].
    pub(crate) fn call_timeout(&self) -> Option<Duration> {
        self.vm.call_timeout()
    }

    /// See [`Store::set_fuel`].
    pub(crate) fn set_fuel(&mut self, fuel: u64) {
        self.vm.set_fuel(fuel)
    }

    /// See [`Store::fuel_remaining`].
    pub(crate) fn fuel_remaining(&self) -> Option<u64> {
        self.vm.fuel_remaining()
    }
}

/// Owns all instance state, and the embedder's data `T` (per request
/// state, say) that host functions reach through their
/// [`Caller`](crate::Caller). `Send` (it can move to another thread between
/// calls) but not `Sync`: `&mut Store` serialises all access.
///
/// The state lives in a box that only the `Store` can free. Host functions
/// get a [`Caller`](crate::Caller), and through it a [`StoreContextMut`]:
/// everything a `&mut Store` allows except moving, replacing or dropping the
/// store whose wasm frames are waiting for the host function to return.
pub struct Store<T = ()> {
    inner: Box<StoreOpaque>,
    _data: PhantomData<fn() -> T>,
}

impl Default for Store {
    fn default() -> Store {
        Store::new(Config::default())
    }
}

impl<T> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.inner.id().as_u64())
            .field("instances", &self.inner.instances.len())
            .finish()
    }
}

impl Store {
    /// An empty store with these limits and no data of the embedder's (see
    /// [`Store::with_data`]).
    pub fn new(config: Config) -> Store {
        Store::with_data(config, ())
    }
}

impl<T: Send + 'static> Store<T> {
    /// An empty store with these limits, holding `data` for host functions
    /// ([`Caller::data`](crate::Caller::data)).
    pub fn with_data(config: Config, data: T) -> Store<T> {
        crate::vm::sys::unix::signals::init();
        Store { inner: Box::new(StoreOpaque::new(config, Box::new(data))), _data: PhantomData }
    }

    /// The embedder's data.
    pub fn data(&self) -> &T {
        self.inner.data()
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.inner.data_mut()
    }

    /// Drops the store's instances and gives the data back.
    pub fn into_data(self) -> T {
        let Store { mut inner, .. } = self;
        let data = std::mem::replace(&mut inner.data, Box::new(()));
        drop(inner);
        *data.downcast().expect("a store's data is the T of its Store<T>")
    }

    /// The limits of this store.
    pub fn config(&self) -> &Config {
        self.inner.config()
    }

    /// Every call from the host into wasm in this store (outermost entry)
    /// must finish within `timeout`; past it the call returns
    /// `Err(Error::Trap(t))` with `t.kind == TrapKind::Interrupted`. `None`
    /// (the default) means no deadline.
    ///
    /// Deadlines are checked at function entry and loop headers, between
    /// the chunks of bulk operations and WASI calls, and while a WASI read
    /// waits for data, against an epoch advanced once per millisecond by one
    /// background thread for the process (started by the first call with
    /// `Some`; it ticks only while a call with a deadline runs, looks for
    /// calls at most every shortest timeout between them, and parks after a
    /// second without any). An operation
    /// interrupted in the middle may have written a prefix of its
    /// destination. A call is never interrupted before `timeout`;
    /// it is interrupted within about one millisecond plus the thread's
    /// scheduling delay after it. The instance stays usable: the next call
    /// gets a fresh deadline. If the ticker thread cannot be started, calls
    /// fail with [`Error::Resource`] rather than run without a deadline.
    ///
    /// [`TrapKind::Interrupted`]: crate::TrapKind::Interrupted
    pub fn set_call_timeout(&mut self, timeout: Option<Duration>) {
        self.inner.set_call_timeout(timeout)
    }

    /// The timeout set by [`Store::set_call_timeout`].
    pub fn call_timeout(&self) -> Option<Duration> {
        self.inner.call_timeout()
    }

    /// Sets the fuel budget shared by all calls into this store's
    /// instances compiled with fuel metering (`CompileOptions::fuel_metering`;
    /// others ignore it). Each executed wasm operator costs one unit (`nop`,
    /// `drop`, `block`, `loop`, `end` and `else` are free); bulk memory and
    /// table operators and WASI reads and writes cost one more per 64 bytes
    /// they touch (a table element counts as 8), `memory.grow` one more per
    /// page. A call that runs out traps with [`TrapKind::Interrupted`] and
    /// the message "all fuel consumed"; an operation the remaining fuel
    /// does not cover is not started. Fuel is not refilled between calls.
    /// Until this is called a store has no fuel, so metered code traps at
    /// once.
    ///
    /// Never fails: fuel above `i64::MAX` (the width of the counter generated
    /// code uses) is clamped to `i64::MAX`, which no call can use up.
    ///
    /// [`TrapKind::Interrupted`]: crate::TrapKind::Interrupted
    pub fn set_fuel(&mut self, fuel: u64) {
        self.inner.set_fuel(fuel)
    }

    /// Fuel left, as of the end of the latest call; `None` when
    /// [`Store::set_fuel`] was never called. After a trap other than running
    /// out of fuel, the count may include operators of the trapping call's
    /// last straight-line stretch, which were not charged.
    pub fn fuel_remaining(&self) -> Option<u64> {
        self.inner.fuel_remaining()
    }

    /// Gives the program in this store its WASI state (arguments,
    /// environment, stdio, preopened directories, open descriptors), which
    /// the functions [`crate::wasi::add_to_linker`] defines work on. The
    /// state belongs to this store alone: a linker shared between stores,
    /// threads or pool slots never shares descriptors. Replaces (and
    /// returns) any earlier one.
    pub fn set_wasi(&mut self, ctx: crate::wasi::WasiCtx) -> Option<crate::wasi::WasiCtx> {
        self.inner.wasi.replace(Box::new(ctx)).map(|ctx| *ctx)
    }

    /// This store's WASI state, if [`Store::set_wasi`] gave it one.
    pub fn wasi(&self) -> Option<&crate::wasi::WasiCtx> {
        self.inner.wasi.as_deref()
    }

    /// This store's WASI state, mutably.
    pub fn wasi_mut(&mut self) -> Option<&mut crate::wasi::WasiCtx> {
        self.inner.wasi.as_deref_mut()
    }
}

/// Shared access to a store: what [`AsContext::as_context`] gives.
pub struct StoreContext<'a, T = ()>(pub(crate) &'a StoreOpaque, PhantomData<fn() -> T>);

impl<T> Clone for StoreContext<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for StoreContext<'_, T> {}

/// Exclusive access to a store's contents, without the power to move,
/// replace or drop the store itself: what a host function gets (through
/// its [`Caller`](crate::Caller)) while wasm frames of that store wait for
/// it, and what [`AsContextMut::as_context_mut`] gives.
pub struct StoreContextMut<'a, T = ()>(pub(crate) &'a mut StoreOpaque, PhantomData<fn() -> T>);

impl<'a, T> StoreContext<'a, T> {
    pub(crate) fn new(store: &'a StoreOpaque) -> Self {
        StoreContext(store, PhantomData)
    }
}

impl<'a, T> StoreContextMut<'a, T> {
    pub(crate) fn new(store: &'a mut StoreOpaque) -> Self {
        StoreContextMut(store, PhantomData)
    }
}

impl<T> std::fmt::Debug for StoreContext<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreContext").field("id", &self.0.id().as_u64()).finish()
    }
}

impl<T> std::fmt::Debug for StoreContextMut<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreContextMut").field("id", &self.0.id().as_u64()).finish()
    }
}

impl<'a, T: 'static> StoreContext<'a, T> {
    /// The embedder's data.
    pub fn data(&self) -> &'a T {
        self.0.data()
    }

    /// The limits of this store.
    pub fn config(&self) -> &Config {
        self.0.config()
    }

    /// See [`Store::call_timeout`].
    pub fn call_timeout(&self) -> Option<Duration> {
        self.0.call_timeout()
    }

    /// See [`Store::fuel_remaining`].
    pub fn fuel_remaining(&self) -> Option<u64> {
        self.0.fuel_remaining()
    }
}

impl<T: 'static> StoreContextMut<'_, T> {
    /// The embedder's data.
    pub fn data(&self) -> &T {
        self.0.data()
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.0.data_mut()
    }

    /// The limits of this store.
    pub fn config(&self) -> &Config {
        self.0.config()
    }

    /// See [`Store::set_call_timeout`]. Inside a host function it applies
    /// from the next outermost call; the running call keeps its deadline.
    pub fn set_call_timeout(&mut self, timeout: Option<Duration>) {
        self.0.set_call_timeout(timeout)
    }

    /// See [`Store::call_timeout`].
    pub fn call_timeout(&self) -> Option<Duration> {
        self.0.call_timeout()
    }

    /// See [`Store::set_fuel`]. Inside a host function it replaces what the
    /// running call has left.
    pub fn set_fuel(&mut self, fuel: u64) {
        self.0.set_fuel(fuel)
    }

    /// See [`Store::fuel_remaining`].
    pub fn fuel_remaining(&self) -> Option<u64> {
        self.0.fuel_remaining()
    }
}

/// Anything that gives shared access to a store: [`Store`], a
/// [`Caller`](crate::Caller), a [`StoreContext`] or [`StoreContextMut`], and
/// references to them. Every API that reads a store takes one.
pub trait AsContext {
    /// The embedder's data type of the store (`T` of `Store<T>`).
    type Data: 'static;
    /// The store, shared.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Anything that gives exclusive access to a store's contents. Every API
/// that changes a store or runs wasm takes one.
pub trait AsContextMut: AsContext {
    /// The store's contents, exclusive.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T: 'static> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext::new(&self.inner)
    }
}

impl<T: 'static> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut::new(&mut self.inner)
    }
}

impl<T: 'static> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext::new(self.0)
    }
}

impl<T: 'static> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext::new(self.0)
    }
}

impl<T: 'static> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut::new(self.0)
    }
}

impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        C::as_context(*self)
    }
}

impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        C::as_context(*self)
    }
}

impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        C::as_context_mut(*self)
    }
}

impl<'a, C: AsContext + ?Sized> From<&'a C> for StoreContext<'a, C::Data> {
    fn from(c: &'a C) -> Self {
        c.as_context()
    }
}

impl<'a, C: AsContext + ?Sized> From<&'a mut C> for StoreContext<'a, C::Data> {
    fn from(c: &'a mut C) -> Self {
        C::as_context(c)
    }
}

impl<'a, C: AsContextMut + ?Sized> From<&'a mut C> for StoreContextMut<'a, C::Data> {
    fn from(c: &'a mut C) -> Self {
        c.as_context_mut()
    }
}

impl<'a, T> From<StoreContextMut<'a, T>> for StoreContext<'a, T> {
    fn from(c: StoreContextMut<'a, T>) -> Self {
        StoreContext::new(c.0)
    }
}

// Inside the loader, public operations call each other with the store they
// were given.
// (Their data type does not matter there: only host functions read it,
// through their own typed `Caller`.)
impl AsContext for StoreOpaque {
    type Data = ();
    fn as_context(&self) -> StoreContext<'_> {
        StoreContext::new(self)
    }
}

impl AsContextMut for StoreOpaque {
    fn as_context_mut(&mut self) -> StoreContextMut<'_> {
        StoreContextMut::new(self)
    }
}
