//! The host functions of the Proxy-Wasm ABI (`env` module), defined once
//! per plugin in its linker. Each returns a [`Status`]; a bad pointer or
//! length from the guest is `InvalidMemoryAccess` or `BadArgument`, never
//! a host panic. Only a trap in the guest's own allocator, called back
//! while a host function hands it memory, makes a host function trap.

mod context;
mod http;
mod shared;
mod unimplemented;

use wasmc_loader::{Caller, FuncType, HostError, Linker, Val, ValType};

use crate::abi::Status;
use crate::state::HostState;

/// Defines every host function of ABI v0.2.1 and v0.2.0 in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) {
    context::add_to_linker(linker);
    http::add_to_linker(linker);
    shared::add_to_linker(linker);
    unimplemented::add_to_linker(linker);
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

/// Defines `name` taking `params` `i32`s and returning an `i32`, for the
/// host functions with more parameters than [`Linker::func_wrap`] takes.
fn define_i32s(
    linker: &mut Linker<HostState>,
    name: &str,
    params: usize,
    f: impl Fn(Caller<'_, HostState>, &[i32]) -> Result<i32, HostError> + Send + Sync + 'static,
) {
    let ty = FuncType { params: vec![ValType::I32; params], results: vec![ValType::I32] };
    linker.func_new(ENV, name, ty, move |c, args, results| {
        // The linker checked the import's type: every argument is an i32.
        let args: Vec<i32> = args.iter().map(|a| if let Val::I32(v) = a { *v } else { 0 }).collect();
        results[0] = Val::I32(f(c, &args)?);
        Ok(())
    });
}
