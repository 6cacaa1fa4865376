//! Entering wasm, and coming back out of it when it traps.
//!
//! The host enters wasm only through [`invoke`], which records per-thread
//! call state and calls the module's entry trampoline under a C jump buffer
//! (`sys/unix/unwind.c`). A trap comes back in one of two ways:
//!
//! * a fault in wasm code: the signal handler calls [`handle_fault`], which
//!   records the signal, program counter and fault address (plain `Copy`
//!   data in a constant-initialised thread-local, so no allocation) and
//!   jumps back; [`invoke`] then turns the record into a [`Trap`] using the
//!   store's modules (trap table, function ranges) and memories;
//! * a builtin or host function: it moves its [`Unwind`] reason into a
//!   thread-local and calls [`raise`], which jumps back. Its callers own
//!   nothing with a destructor at that point.
//!
//! The stack limit is set at the outermost entry on a thread and kept by
//! nested entries (host function calling wasm again).

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ptr::{null_mut, NonNull};

use wasmc_abi::TrapKind;

use crate::vm::instance::instance_of_vmctx;
use crate::vm::module_info::ModuleInfo;
use crate::vm::store::VMStore;
use crate::vm::sys::unix::{signals, stack, unwind};
use crate::vm::trap::{Trap, VmError};
use crate::vm::{VMFuncRef, ValRaw};

/// Why a builtin or host function unwinds.
pub(crate) enum Unwind {
    /// A trap to report.
    Trap(Trap),
    /// A host function panicked: resumed on the host side after unwinding.
    Panic(Box<dyn Any + Send>),
    /// A host function ended the program ([`crate::HostError::exit`]).
    Exit(i32),
}

/// What the signal handler saw.
#[derive(Clone, Copy, Debug)]
struct Fault {
    signal: i32,
    pc: usize,
    address: usize,
}

/// Stack kept free below the wasm limit for host functions and handlers.
const HOST_STACK_RESERVE: usize = 128 * 1024;

thread_local! {
    /// The innermost entry's jump buffer; null when not in wasm.
    static JMPBUF: Cell<*mut c_void> = const { Cell::new(null_mut()) };
    /// Written by the signal handler just before it jumps.
    static FAULT: Cell<Option<Fault>> = const { Cell::new(None) };
    /// The stack limit of the outermost entry; 0 when not in wasm.
    static STACK_LIMIT: Cell<usize> = const { Cell::new(0) };
    /// The store of the innermost entry, for builtins and host functions,
    /// and its concrete type.
    static STORE: Cell<Option<(NonNull<dyn VMStore>, TypeId)>> = const { Cell::new(None) };
    /// Set by [`raise`].
    static UNWIND: RefCell<Option<Unwind>> = const { RefCell::new(None) };
}

/// The store wasm code on this thread is running in, if any.
///
/// Only builtins and host functions called from wasm may use it, and only
/// while they run: the entry that set it holds the store's `&mut`.
pub(crate) fn current_store() -> Option<NonNull<dyn VMStore>> {
    STORE.with(Cell::get).map(|(store, _)| store)
}

/// [`current_store`] if it is an `S` (what a downcast through `Any` would
/// find, without its two virtual calls on every host call).
pub(crate) fn current_store_as<S: VMStore>() -> Option<NonNull<S>> {
    let (store, ty) = STORE.with(Cell::get)?;
    // `invoke` recorded the type the pointer was made from.
    (ty == TypeId::of::<S>()).then(|| store.cast::<S>())
}

/// Calls `func_ref` (a wasm function) with the arguments in `values`,
/// leaving its results there.
///
/// # Safety
/// `func_ref` must be a funcref of a wasm function owned by `store`, and
/// `values` must have at least as many slots as the function has
/// parameters or results, holding arguments of its parameter types.
#[inline]
pub(crate) unsafe fn invoke<S: VMStore>(
    store: &mut S,
    func_ref: VMFuncRef,
    values: &mut [ValRaw],
) -> Result<(), VmError> {
    signals::init();
    signals::ensure_alt_stack();
    let deadline = store.vm_mut().limits.enter()?;
    // SAFETY: as this function's.
    let outcome = unsafe { invoke_inner(store, func_ref, values) };
    // Before a host function's panic goes on unwinding: a store whose
    // bookkeeping still counted this entry would treat every later call as
    // nested and run it without a deadline.
    let store = store.vm_mut();
    store.limits.exit();
    drop(deadline);
    let result = match outcome {
        Ok(result) => result,
        Err(Panicked(payload)) => std::panic::resume_unwind(payload),
    };
    result.map_err(|e| match e {
        VmError::Trap(trap) => VmError::Trap(store.limits.explain(trap)),
        other => other,
    })
}

/// A host function called from wasm panicked; the payload is resumed once
/// the entry's state is restored.
struct Panicked(Box<dyn Any + Send>);

/// [`invoke`] once the store's deadline is set.
///
/// # Safety
/// As for [`invoke`].
#[inline]
unsafe fn invoke_inner<S: VMStore>(
    store: &mut S,
    func_ref: VMFuncRef,
    values: &mut [ValRaw],
) -> Result<Result<(), VmError>, Panicked> {
    let outermost = STACK_LIMIT.with(Cell::get) == 0;
    if outermost {
        STACK_LIMIT.with(|c| c.set(stack_limit(store.vm().max_wasm_stack)));
    }
    let limit = STACK_LIMIT.with(Cell::get);
    // SAFETY: a wasm funcref's vmctx is a live instance `VMContext`.
    unsafe { crate::vm::vmctx::set_stack_limit(func_ref.vmctx, limit) };
    let store_ptr: NonNull<dyn VMStore> = NonNull::from(store as &mut dyn VMStore);
    let previous_store = STORE.with(|c| c.replace(Some((store_ptr, TypeId::of::<S>()))));
    // SAFETY: `array_call` is the module's entry trampoline for the callee's
    // type (non-null for wasm functions), with the C signature of
    // `EntryFn`; the jump buffer slot is this thread's. The frames between
    // here and any `raise` own nothing with a destructor.
    let returned = unsafe {
        let entry: unwind::EntryFn = std::mem::transmute(func_ref.array_call);
        unwind::wasmc_call_trampoline(
            JMPBUF.with(|c| c.as_ptr()),
            entry,
            func_ref.wasm_call,
            func_ref.vmctx,
            func_ref.vmctx,
            values.as_mut_ptr().cast(),
        )
    };
    STORE.with(|c| c.set(previous_store));
    if outermost {
        STACK_LIMIT.with(|c| c.set(0));
    }
    if returned != 0 {
        return Ok(Ok(()));
    }
    if let Some(fault) = FAULT.with(Cell::take) {
        // SAFETY: we are back on the host side and hold the only use of the
        // store pointer we handed out.
        return Ok(Err(VmError::Trap(trap_for_fault(unsafe { store_ptr.as_ref() }, fault))));
    }
    match UNWIND.with(|u| u.borrow_mut().take()) {
        Some(Unwind::Trap(trap)) => Ok(Err(VmError::Trap(trap))),
        Some(Unwind::Panic(payload)) => Err(Panicked(payload)),
        Some(Unwind::Exit(code)) => Ok(Err(VmError::Exit(code))),
        None => Ok(Err(VmError::Trap(Trap::new(TrapKind::UnknownFault)))),
    }
}

/// Approximately the current stack pointer minus `max`, but never closer
/// than [`HOST_STACK_RESERVE`] to the end of the thread's stack.
fn stack_limit(max: usize) -> usize {
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    let mut limit = sp.saturating_sub(max);
    if let Some(low) = stack::current_stack_low() {
        limit = limit.max(low.saturating_add(HOST_STACK_RESERVE));
    }
    limit.max(1)
}

/// Unwinds to the innermost [`invoke`] with `reason`.
///
/// # Safety
/// Must be called from a builtin or host function that wasm code called
/// on this thread, and every frame up to that entry (including the
/// caller's) must own nothing with a destructor: it is skipped.
pub(crate) unsafe fn raise(reason: Unwind) -> ! {
    UNWIND.with(|u| *u.borrow_mut() = Some(reason));
    let jmpbuf = JMPBUF.with(Cell::get);
    if jmpbuf.is_null() {
        // Unreachable by the contract above; refuse to jump nowhere.
        std::process::abort();
    }
    // SAFETY: the buffer belongs to a live `wasmc_call_trampoline` frame
    // further up this thread's stack (the caller's contract).
    unsafe { unwind::wasmc_unwind(jmpbuf) }
}

/// Called by the signal handler: if this thread is running wasm and `pc`
/// is in wasm code, records the fault and unwinds (never returns).
/// Otherwise returns, and the handler forwards the signal.
///
/// Async-signal-safe: reads constant-initialised thread-locals, asks the
/// code registry without blocking, and jumps.
pub(crate) fn handle_fault(signal: i32, pc: usize, address: usize) {
    let jmpbuf = JMPBUF.with(Cell::get);
    if jmpbuf.is_null() || !crate::vm::registry::is_wasm_code(pc) {
        return;
    }
    FAULT.with(|f| f.set(Some(Fault { signal, pc, address })));
    // SAFETY: a non-null slot is the jump buffer of the live entry frame on
    // this thread; the frames skipped are wasm frames and the signal
    // handler's own, which own nothing.
    unsafe { unwind::wasmc_unwind(jmpbuf) }
}

/// Describes a fault in wasm code: the trap table entry at `pc` if there is
/// one, otherwise a guess from the signal and fault address.
fn trap_for_fault(store: &dyn VMStore, fault: Fault) -> Trap {
    let module = (0..store.instance_count() as u32)
        .filter_map(|i| store.instance(i))
        .map(|i| &*i.module)
        .find(|m| m.contains_pc(fault.pc));
    let Some(module) = module else { return Trap::new(TrapKind::UnknownFault) };
    let offset = (fault.pc - module.text_base()) as u32;
    let site = module.lists().trap_at(offset);
    let kind = match site {
        Some(site) => site.kind,
        None if fault.signal == libc::SIGSEGV || fault.signal == libc::SIGBUS => {
            if store.vm().memories().iter().any(|m| m.memory.reservation_contains(fault.address)) {
                TrapKind::MemoryOutOfBounds
            } else if near_stack_end(fault.address) {
                TrapKind::StackOverflow
            } else {
                TrapKind::UnknownFault
            }
        }
        None => TrapKind::UnknownFault,
    };
    let mut trap = Trap::new(kind);
    trap.wasm_offset = site.map(|s| s.wasm_offset);
    if let Some(defined) = module.lists().defined_func_at(offset) {
        name_function(&mut trap, module, defined);
    }
    trap
}

/// Sets the function index and name of `trap`, which lies in `module`'s
/// defined function `defined`.
fn name_function(trap: &mut Trap, module: &dyn ModuleInfo, defined: u32) {
    let index = module.meta().imported(wasmc_abi::meta::ExternKind::Func) + defined;
    trap.func_index = Some(index);
    trap.func_name = module.lists().func_name(index).map(str::to_string);
}

/// Gives a trap raised outside wasm code (by a builtin or a host function
/// that `vmctx`'s code called) the wasm location of that call, which
/// generated code stores at `VMCTX_LAST_WASM_OFFSET` before calling out.
///
/// # Safety
/// `vmctx` must be null or a live `VMContext` or `VMHostFuncContext`, and
/// this must run on the thread that entered wasm, while wasm is suspended.
pub(crate) unsafe fn locate_call(trap: &mut Trap, vmctx: *mut u8) {
    let Some(store_ptr) = current_store() else { return };
    if trap.wasm_offset.is_some() {
        return;
    }
    // SAFETY: the entry that set the current store holds its `&mut` and
    // does not use it until wasm returns to it; we only read.
    let store = unsafe { store_ptr.as_ref() };
    // SAFETY: per the contract.
    let Some(instance) = (unsafe { instance_of_vmctx(store, vmctx) }).and_then(|i| store.instance(i)) else { return };
    // SAFETY: `from_vmctx` found a live instance `VMContext`, whose header
    // has this field.
    let offset = unsafe { (*vmctx.cast::<crate::vm::VMContextHeader>()).last_wasm_offset };
    if offset == u32::MAX {
        return;
    }
    let module = &*instance.module;
    // Function bodies lie in the binary in index order: the call is in the
    // last body that starts at or before its offset.
    if let Some(defined) = module.lists().defined_func_at_wasm_offset(offset) {
        trap.wasm_offset = Some(offset);
        name_function(trap, module, defined);
    }
}

/// Whether `address` is in or just below this thread's stack guard.
fn near_stack_end(address: usize) -> bool {
    const SLACK: usize = 1024 * 1024;
    stack::current_stack_low().is_some_and(|low| address < low && address >= low.saturating_sub(SLACK))
}
