//! WASI preview 1 (`wasi_snapshot_preview1`) for programs built with
//! `rustc --target wasm32-wasip1` or C with wasi-libc.
//!
//! Deny by default: a program gets only what its [`WasiCtx`] grants
//! (arguments, environment variables, stdio, preopened directories).
//! Implemented: arguments, environment, clocks, random, `proc_exit`,
//! `sched_yield`, stdio, and files and directories under preopens
//! (open, read, write, seek, stat, readdir, mkdir, rmdir, unlink, rename,
//! readlink). Paths resolve beneath their directory descriptor and can
//! never leave it (`..`, absolute paths, symlinks: see [`path`]); an
//! attempt fails with `ENOTCAPABLE`. Everything else (sockets,
//! `poll_oneoff`, symlink and hard-link creation, timestamps) returns
//! `ENOSYS`. Guest pointers and lengths are checked against linear memory
//! (`EFAULT`); nothing a program passes makes the host panic.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wasmc_loader::{wasi, Error, Instance, Linker, Module, Store};
//! // SAFETY: our own pipeline compiled this artifact with wasmc.
//! let module = unsafe { Module::from_file("app.cwasm") }?;
//! let mut linker = Linker::new(); // built once, shared by every store
//! wasi::add_to_linker(&mut linker);
//! let ctx = wasi::WasiCtx::builder().args(["app", "hello"]).inherit_stdio().preopen_dir("data", "/data")?.build()?;
//! let mut store = Store::default();
//! store.set_wasi(ctx);
//! let instance = Instance::new(&mut store, &module, &linker)?;
//! let start = instance.get_typed_func::<(), ()>(&store, "_start")?;
//! let code = match start.call(&mut store, ()) {
//!     Ok(()) => 0,
//!     Err(Error::Exit(code)) => code, // proc_exit: not a trap
//!     Err(e) => return Err(e.into()),
//! };
//! # Ok(()) }
//! ```
//!
//! The context is per store ([`crate::Store::set_wasi`]): the functions
//! [`add_to_linker`] defines hold no state and find the calling store's
//! context, so one linker serves any number of stores, threads and pool
//! slots, and no program ever sees another's descriptors. A WASI function
//! called in a store without a context traps with a message saying so.

mod ctx;
mod env;
mod fd;
mod mem;
pub mod path;
mod pathops;
mod types;
mod wait;

pub use ctx::{WasiCtx, WasiCtxBuilder, WasiError};
pub use types::Errno;

use crate::{Caller, FuncType, HostError, Linker, Val, ValType};

/// The import module name.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// A syscall's arguments, by position (their types were checked against
/// the import's signature when linking).
pub(crate) struct Args<'a>(&'a [Val]);

impl Args<'_> {
    /// Argument `i` as an `i32`'s bits.
    pub fn u32(&self, i: usize) -> u32 {
        match self.0.get(i) {
            Some(Val::I32(v)) => *v as u32,
            _ => 0,
        }
    }

    /// Argument `i` as an `i64`'s bits.
    pub fn u64(&self, i: usize) -> u64 {
        match self.0.get(i) {
            Some(Val::I64(v)) => *v as u64,
            _ => 0,
        }
    }
}

/// A syscall: errno-returning, over the program's context and memory.
type Syscall = fn(&mut mem::Env<'_, '_>, &Args<'_>) -> Result<(), Errno>;

/// Every preview-1 function returning an errno: name, parameter types
/// (`i`: i32, `I`: i64), implementation.
const SYSCALLS: &[(&str, &str, Syscall)] = &[
    ("args_get", "ii", env::args_get),
    ("args_sizes_get", "ii", env::args_sizes_get),
    ("environ_get", "ii", env::environ_get),
    ("environ_sizes_get", "ii", env::environ_sizes_get),
    ("clock_res_get", "ii", env::clock_res_get),
    ("clock_time_get", "iIi", env::clock_time_get),
    ("random_get", "ii", env::random_get),
    ("sched_yield", "", env::sched_yield),
    ("fd_advise", "iIIi", enosys),
    ("fd_allocate", "iII", enosys),
    ("fd_close", "i", fd::fd_close),
    ("fd_datasync", "i", fd::fd_datasync),
    ("fd_fdstat_get", "ii", fd::fd_fdstat_get),
    ("fd_fdstat_set_flags", "ii", enosys),
    ("fd_fdstat_set_rights", "iII", enosys),
    ("fd_filestat_get", "ii", fd::fd_filestat_get),
    ("fd_filestat_set_size", "iI", fd::fd_filestat_set_size),
    ("fd_filestat_set_times", "iIIi", enosys),
    ("fd_pread", "iiiIi", fd::fd_pread),
    ("fd_prestat_get", "ii", fd::fd_prestat_get),
    ("fd_prestat_dir_name", "iii", fd::fd_prestat_dir_name),
    ("fd_pwrite", "iiiIi", fd::fd_pwrite),
    ("fd_read", "iiii", fd::fd_read),
    ("fd_readdir", "iiiIi", fd::fd_readdir),
    ("fd_renumber", "ii", fd::fd_renumber),
    ("fd_seek", "iIii", fd::fd_seek),
    ("fd_sync", "i", fd::fd_sync),
    ("fd_tell", "ii", fd::fd_tell),
    ("fd_write", "iiii", fd::fd_write),
    ("path_create_directory", "iii", pathops::path_create_directory),
    ("path_filestat_get", "iiiii", pathops::path_filestat_get),
    ("path_filestat_set_times", "iiiiIIi", enosys),
    ("path_link", "iiiiiii", enosys),
    ("path_open", "iiiiiIIii", pathops::path_open),
    ("path_readlink", "iiiiii", pathops::path_readlink),
    ("path_remove_directory", "iii", pathops::path_remove_directory),
    ("path_rename", "iiiiii", pathops::path_rename),
    ("path_symlink", "iiiii", enosys),
    ("path_unlink_file", "iii", pathops::path_unlink_file),
    ("poll_oneoff", "iiii", enosys),
    ("proc_raise", "i", enosys),
    ("sock_accept", "iii", enosys),
    ("sock_recv", "iiiiii", enosys),
    ("sock_send", "iiiii", enosys),
    ("sock_shutdown", "ii", enosys),
];

/// Not provided.
fn enosys(_: &mut mem::Env<'_, '_>, _: &Args<'_>) -> Result<(), Errno> {
    Err(Errno::NOSYS)
}

/// Defines every `wasi_snapshot_preview1` function in `linker`. Each works
/// on the WASI context of the store it is called in
/// ([`crate::Store::set_wasi`]).
///
/// `proc_exit(code)` stops the program: the call into wasm returns
/// [`crate::Error::Exit`] with the code; the host process goes on.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>) {
    for &(name, params, syscall) in SYSCALLS {
        let params = params.chars().map(|c| if c == 'I' { ValType::I64 } else { ValType::I32 }).collect();
        let ty = FuncType { params, results: vec![ValType::I32] };
        linker.func_new(MODULE, name, ty, move |mut caller: Caller<'_, T>, args: &[Val], results: &mut [Val]| {
            // Taken out of the store while the call runs, so the syscall can
            // borrow both it and the caller's memory; put back after.
            let Some(mut ctx) = caller.opaque_mut().wasi.take() else {
                return Err(HostError::new(format!(
                    "{MODULE}::{name} called in a store without a WASI context (see Store::set_wasi)"
                )));
            };
            let instance = caller.instance();
            let (outcome, interrupted) = {
                let mut env = mem::Env::new(&mut ctx, Caller::new(caller.opaque_mut(), instance));
                let outcome = syscall(&mut env, &Args(args));
                let interrupted = outcome.is_err() && env.interrupted();
                (outcome, interrupted)
            };
            caller.opaque_mut().wasi = Some(ctx);
            if interrupted {
                // Past the deadline or out of fuel: the call traps with
                // `Interrupted` (the loader names the reason).
                return Err(HostError::new(format!("{name} stopped")));
            }
            results[0] = Val::I32(i32::from(outcome.err().unwrap_or(Errno::SUCCESS).0));
            Ok(())
        });
    }
    let ty = FuncType { params: vec![ValType::I32], results: vec![] };
    linker.func_new(MODULE, "proc_exit", ty, |_caller: Caller<'_, T>, args: &[Val], _results: &mut [Val]| {
        Err(HostError::exit(Args(args).u32(0) as i32))
    });
}
