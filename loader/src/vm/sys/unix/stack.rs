//! The current thread's stack bounds, for the wasm stack limit.

use std::cell::Cell;

thread_local! {
    /// Lowest usable address of this thread's stack; 0 until first asked,
    /// 1 when it could not be determined.
    static STACK_LOW: Cell<usize> = const { Cell::new(0) };
}

/// Lowest address of the current thread's stack (above its guard page), if
/// the system can tell.
pub(crate) fn current_stack_low() -> Option<usize> {
    let cached = STACK_LOW.with(Cell::get);
    let low = if cached != 0 {
        cached
    } else {
        let low = query_stack_low().unwrap_or(1);
        STACK_LOW.with(|c| c.set(low));
        low
    };
    (low != 1).then_some(low)
}

fn query_stack_low() -> Option<usize> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises `attr` when it returns 0; we
    // only read it then, and destroy it exactly once.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let mut guard: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0
            && libc::pthread_attr_getguardsize(attr.as_ptr(), &mut guard) == 0;
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if !ok || addr.is_null() {
            return None;
        }
        // glibc reports the guard inside [addr, addr + size) for threads it
        // created; skipping it for the main thread too only costs a page.
        Some(addr as usize + guard)
    }
}
