//! The host functions of the Proxy-Wasm ABI (`env` module), defined once
//! per plugin in its linker. Each returns a [`Status`]; a bad pointer or
//! length from the guest is `InvalidMemoryAccess` or `BadArgument`, never
//! a host panic. Only a trap in the guest's own allocator, called back
//! while a host function hands it memory, makes a host function trap.

mod context;
mod http;
mod shared;
mod stdio;
mod unimplemented;

use wasmc_loader::{Caller, FuncType, HostError, Linker, ValType};

use crate::abi::Status;
use crate::state::HostState;

/// Defines every host function of ABI v0.2.1 and v0.2.0 in `linker`, the
/// two functions filters built with Emscripten (the C++ SDK's toolchain)
/// import besides, and `fd_write` to the plugin's log (`stdio.rs`, which
/// replaces the loader's WASI one: call after `wasi::add_to_linker`).
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) {
    context::add_to_linker(linker);
    http::add_to_linker(linker);
    shared::add_to_linker(linker);
    stdio::add_to_linker(linker);
    unimplemented::add_to_linker(linker);
    // Told that the filter grew its memory: the host reads the memory's
    // length on every access, so there is nothing to update.
    linker.func_wrap(ENV, "emscripten_notify_memory_growth", |_memory: i32| {});
    // A filter has one thread: two thread ids are equal when they are.
    linker.func_wrap(ENV, "pthread_equal", |a: i32, b: i32| i32::from(a == b));
}

/// The `i32` a host function returns for `result`.
fn status(result: Result<(), Status>) -> i32 {
    match result {
        Ok(()) => Status::Ok as i32,
        Err(s) => s as i32,
    }
}

/// The ABI's module name for host functions.
const ENV: &str = "env";

/// The most parameters of a host function defined by [`define_i32s`].
const MAX_I32S: usize = 12;

/// Defines `name` taking `params` (at most [`MAX_I32S`]) `i32`s and
/// returning an `i32`, for the host functions with more parameters than
/// [`Linker::func_wrap`] takes.
fn define_i32s(
    linker: &mut Linker<HostState>,
    name: &str,
    params: usize,
    f: impl Fn(Caller<'_, HostState>, &[i32]) -> Result<i32, HostError> + Send + Sync + 'static,
) {
    assert!(params <= MAX_I32S, "{name}: {params} parameters");
    let ty = FuncType { params: vec![ValType::I32; params], results: vec![ValType::I32] };
    let defined = linker.func_new_raw(ENV, name, ty, move |c, values| {
        let mut args = [0i32; MAX_I32S];
        for (i, arg) in args[..params].iter_mut().enumerate() {
            *arg = values.get_as(i);
        }
        let result = f(c, &args[..params])?;
        values.set_as(0, result);
        Ok(())
    });
    // Numbers only: a raw host function cannot be refused.
    defined.expect("i32 parameters and result");
}
