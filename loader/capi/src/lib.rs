//! The C API of the wasmc loader, declared in `include/wasmc.h`.
//!
//! Built as a static library (`libwasmc_capi.a`) and a shared one
//! (`libwasmc_capi.so`). Every function is `extern "C"`, named like
//! `wasmtime.h` where a C programmer would look for the same thing
//! (`wasmc_module_t`, `wasmc_linker_define_func`, `wasmc_func_call` with a
//! `wasmc_trap_t **` out-parameter, `wasmc_*_delete`), and follows these
//! rules, stated once in the header:
//!
//! - An entry point that can fail returns a `wasmc_error_t *` (null on
//!   success) that the caller frees with `wasmc_error_delete`. A null
//!   pointer or a bad argument (a string that is not UTF-8, a value kind
//!   wasmc does not know) is such an error, never a crash; a panic inside
//!   the library is caught at the entry point and becomes one too.
//! - Objects are created by `wasmc_*_new` or an out-parameter and freed by
//!   their `wasmc_*_delete`; handles (instance, func, memory) are small
//!   heap objects too, so nothing needs a struct layout but `wasmc_val_t`.
//!
//! The header is written by hand; `tests/header.rs` parses it and checks
//! every declaration and constant against the Rust definitions here.
//!
//! One file per object family: [`error`] (errors, traps, the entry guard),
//! [`val`], [`module`] (loading, trusted keys), [`store`] (limits, user
//! data, deadlines, fuel, WASI), [`linker`] (host functions, the caller,
//! `instantiate_pre`), [`instance`] (instantiation fresh or pooled, calls,
//! memories).

// The C names (`wasmc_store_t`, ...) are the API; Rust spelling would hide them.
#![allow(non_camel_case_types)]

pub mod error;
pub mod instance;
pub mod linker;
pub mod module;
pub mod store;
pub mod val;
pub mod wasi;
