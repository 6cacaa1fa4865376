//! WASI preview 1 (`wasi_snapshot_preview1`) for programs built with
//! `rustc --target wasm32-wasip1` or C with wasi-libc, and preview 0
//! (`wasi_unstable`) for those built by older toolchains (`preview0.rs`).
//!
//! Deny by default: a program gets only what its [`WasiCtx`] grants
//! (arguments, environment variables, stdio, preopened directories,
//! listening sockets). Every preview-1 function is implemented
//! (`proc_raise`, deprecated in preview 1, answers `ENOTSUP` as wasmtime
//! does: a program cannot signal itself):
//! arguments, environment, clocks, random, `proc_exit`, `sched_yield`,
//! stdio, files and directories under preopens (open, read, write, seek,
//! stat, readdir, mkdir, rmdir, unlink, rename, readlink, hard links and
//! symlinks, timestamps, advice, allocation, flags), `poll_oneoff` and
//! sockets the embedder grants ([`WasiCtxBuilder::preopen_socket`]; any
//! other descriptor is `ENOTSOCK`).
//!
//! Paths resolve beneath their directory descriptor and can never leave it
//! (`..`, absolute paths, symlinks: see [`path`]); an attempt fails with
//! `ENOTCAPABLE`. A symlink may be created with any relative text (the
//! spec stores it unresolved) but following one that leads out fails; an
//! absolute text is refused.
//!
//! **Rights.** Each descriptor holds base and inheriting rights, checked
//! before a syscall runs, in this order: the descriptor exists (`EBADF`),
//! it is of a type the operation applies to (`EISDIR` for reading,
//! writing, seeking, allocating or resizing a directory), it holds the
//! right (`ENOTCAPABLE`). Directories report and honour the directory
//! rights (path operations, readdir, stat, timestamps; never `FD_READ`,
//! `FD_WRITE`, `FD_SEEK` or `FD_FILESTAT_SET_SIZE`); a file gets the rights
//! it was opened with, within what its directory passes on.
//! `fd_fdstat_set_rights` can only drop rights.
//!
//! **Blocking.** `poll_oneoff` (clocks, relative and absolute; reads and
//! writes on stdio, files, pipes and sockets), socket waits and reads and
//! writes that wait (see `wait.rs`) never wait past the call's deadline
//! ([`crate::Store::set_call_timeout`]): when it passes, the call into
//! wasm ends with an `Interrupted` trap.
//!
//! Guest pointers and lengths are checked against linear memory
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
mod fdmeta;
mod links;
mod mem;
mod output;
pub mod path;
mod pathops;
mod poll;
mod preview0;
mod sock;
mod times;
mod types;
mod wait;

pub use ctx::{WasiCtx, WasiCtxBuilder, WasiError};
pub use output::OutputBuffer;
pub use preview0::MODULE as MODULE_PREVIEW0;
use types::rights;
pub use types::Errno;

use crate::{Caller, FuncType, HostError, Linker, Val, ValType};

/// The import module name (preview 0's: [`MODULE_PREVIEW0`]).
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

/// What a syscall's first argument must be, checked before it runs, in
/// this order: an open descriptor (`EBADF`), of a type the right applies
/// to (`EISDIR` for a file-only right on a directory), holding the right
/// (`ENOTCAPABLE`).
#[derive(Clone, Copy)]
enum Fd0 {
    /// The first argument is not a descriptor.
    No,
    /// A descriptor holding these base rights (0: any open descriptor).
    Needs(u64),
}

use rights as r;
use Fd0::{Needs, No};

/// Every preview-1 function returning an errno: name, parameter types
/// (`i`: i32, `I`: i64), what its first argument must be, implementation.
const SYSCALLS: &[(&str, &str, Fd0, Syscall)] = &[
    ("args_get", "ii", No, env::args_get),
    ("args_sizes_get", "ii", No, env::args_sizes_get),
    ("environ_get", "ii", No, env::environ_get),
    ("environ_sizes_get", "ii", No, env::environ_sizes_get),
    ("clock_res_get", "ii", No, env::clock_res_get),
    ("clock_time_get", "iIi", No, env::clock_time_get),
    ("random_get", "ii", No, env::random_get),
    ("sched_yield", "", No, env::sched_yield),
    ("fd_advise", "iIIi", Needs(r::FD_ADVISE), fdmeta::fd_advise),
    ("fd_allocate", "iII", Needs(r::FD_ALLOCATE), fdmeta::fd_allocate),
    ("fd_close", "i", Needs(0), fd::fd_close),
    ("fd_datasync", "i", Needs(r::FD_DATASYNC), fd::fd_datasync),
    ("fd_fdstat_get", "ii", Needs(0), fd::fd_fdstat_get),
    ("fd_fdstat_set_flags", "ii", Needs(r::FD_FDSTAT_SET_FLAGS), fdmeta::fd_fdstat_set_flags),
    ("fd_fdstat_set_rights", "iII", Needs(0), fdmeta::fd_fdstat_set_rights),
    ("fd_filestat_get", "ii", Needs(r::FD_FILESTAT_GET), fd::fd_filestat_get),
    ("fd_filestat_set_size", "iI", Needs(r::FD_FILESTAT_SET_SIZE), fd::fd_filestat_set_size),
    ("fd_filestat_set_times", "iIIi", Needs(r::FD_FILESTAT_SET_TIMES), times::fd_filestat_set_times),
    ("fd_pread", "iiiIi", Needs(r::FD_READ | r::FD_SEEK), fd::fd_pread),
    ("fd_prestat_get", "ii", Needs(0), fd::fd_prestat_get),
    ("fd_prestat_dir_name", "iii", Needs(0), fd::fd_prestat_dir_name),
    ("fd_pwrite", "iiiIi", Needs(r::FD_WRITE | r::FD_SEEK), fd::fd_pwrite),
    ("fd_read", "iiii", Needs(r::FD_READ), fd::fd_read),
    ("fd_readdir", "iiiIi", Needs(r::FD_READDIR), fd::fd_readdir),
    ("fd_renumber", "ii", Needs(0), fd::fd_renumber),
    ("fd_seek", "iIii", Needs(r::FD_SEEK), fd::fd_seek),
    ("fd_sync", "i", Needs(r::FD_SYNC), fd::fd_sync),
    ("fd_tell", "ii", Needs(r::FD_TELL), fd::fd_tell),
    ("fd_write", "iiii", Needs(r::FD_WRITE), fd::fd_write),
    ("path_create_directory", "iii", Needs(r::PATH_CREATE_DIRECTORY), pathops::path_create_directory),
    ("path_filestat_get", "iiiii", Needs(r::PATH_FILESTAT_GET), pathops::path_filestat_get),
    ("path_filestat_set_times", "iiiiIIi", Needs(r::PATH_FILESTAT_SET_TIMES), times::path_filestat_set_times),
    ("path_link", "iiiiiii", Needs(r::PATH_LINK_SOURCE), links::path_link),
    ("path_open", "iiiiiIIii", Needs(r::PATH_OPEN), pathops::path_open),
    ("path_readlink", "iiiiii", Needs(r::PATH_READLINK), pathops::path_readlink),
    ("path_remove_directory", "iii", Needs(r::PATH_REMOVE_DIRECTORY), pathops::path_remove_directory),
    ("path_rename", "iiiiii", Needs(r::PATH_RENAME_SOURCE), pathops::path_rename),
    ("path_symlink", "iiiii", No, links::path_symlink),
    ("path_unlink_file", "iii", Needs(r::PATH_UNLINK_FILE), pathops::path_unlink_file),
    ("poll_oneoff", "iiii", No, poll::poll_oneoff),
    ("proc_raise", "i", No, proc_raise),
    ("sock_accept", "iii", Needs(0), sock::sock_accept),
    ("sock_recv", "iiiiii", Needs(0), sock::sock_recv),
    ("sock_send", "iiiii", Needs(0), sock::sock_send),
    ("sock_shutdown", "ii", Needs(0), sock::sock_shutdown),
];

/// `proc_raise`: deprecated in preview 1 and gone from its successors. A
/// program cannot send itself signals: `ENOTSUP`, as wasmtime answers.
fn proc_raise(_: &mut mem::Env<'_, '_>, _: &Args<'_>) -> Result<(), Errno> {
    Err(Errno::NOTSUP)
}

/// The checks of [`Fd0`] on descriptor `fd`.
fn check_fd(ctx: &mut WasiCtx, fd: u32, needs: u64) -> Result<(), Errno> {
    let d = ctx.get(fd)?;
    if d.base & needs == needs {
        return Ok(());
    }
    match d.kind {
        ctx::Kind::Dir { .. } if needs & rights::FILE_ONLY != 0 => Err(Errno::ISDIR),
        // Stdio cannot seek; reading stdout or writing stdin is a bad
        // descriptor for that direction, as on a host.
        ctx::Kind::Stdio(_) if needs & (r::FD_SEEK | r::FD_TELL) != 0 => Err(Errno::SPIPE),
        ctx::Kind::Stdio(_) => Err(Errno::BADF),
        _ => Err(Errno::NOTCAPABLE),
    }
}

/// Defines every `wasi_snapshot_preview1` function in `linker`, and every
/// `wasi_unstable` (preview 0) function, which older toolchains import (see
/// `preview0.rs` for how the two differ). Each works on the WASI context
/// of the store it is called in ([`crate::Store::set_wasi`]).
///
/// `proc_exit(code)` stops the program: the call into wasm returns
/// [`crate::Error::Exit`] with the code; the host process goes on.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>) {
    for &(name, params, fd0, syscall) in SYSCALLS {
        define(linker, MODULE, name, params, fd0, syscall);
        match preview0::CHANGED.iter().find(|(changed, _)| *changed == name) {
            None => define(linker, preview0::MODULE, name, params, fd0, syscall),
            Some(&(_, Some(instead))) => define(linker, preview0::MODULE, name, params, fd0, instead),
            Some((_, None)) => {}
        }
    }
    for module in [MODULE, preview0::MODULE] {
        let ty = FuncType { params: vec![ValType::I32], results: vec![] };
        linker.func_new(module, "proc_exit", ty, |_caller: Caller<'_, T>, args: &[Val], _results: &mut [Val]| {
            Err(HostError::exit(Args(args).u32(0) as i32))
        });
    }
}

/// Defines `module::name`: `syscall` with parameters `params` (`i`: i32,
/// `I`: i64) after the checks `fd0` asks for, returning its errno.
fn define<T: 'static>(
    linker: &mut Linker<T>,
    module: &'static str,
    name: &'static str,
    params: &str,
    fd0: Fd0,
    syscall: Syscall,
) {
    let params = params.chars().map(|c| if c == 'I' { ValType::I64 } else { ValType::I32 }).collect();
    let ty = FuncType { params, results: vec![ValType::I32] };
    linker.func_new(module, name, ty, move |mut caller: Caller<'_, T>, args: &[Val], results: &mut [Val]| {
        // Taken out of the store while the call runs, so the syscall can
        // borrow both it and the caller's memory; put back after.
        let Some(mut ctx) = caller.opaque_mut().take_wasi() else {
            return Err(HostError::new(format!(
                "{module}::{name} called in a store without a WASI context (see Store::set_wasi)"
            )));
        };
        let args = Args(args);
        let outcome = match fd0 {
            Needs(needs) => check_fd(&mut ctx, args.u32(0), needs),
            No => Ok(()),
        };
        let instance = caller.instance();
        let (outcome, interrupted) = {
            let mut env = mem::Env::new(&mut ctx, Caller::new(caller.opaque_mut(), instance));
            let outcome = outcome.and_then(|()| syscall(&mut env, &args));
            let interrupted = outcome.is_err() && env.interrupted();
            (outcome, interrupted)
        };
        caller.opaque_mut().put_wasi(ctx);
        if interrupted {
            // Past the deadline or out of fuel: the call traps with
            // `Interrupted` (the loader names the reason).
            return Err(HostError::new(format!("{name} stopped")));
        }
        results[0] = Val::I32(i32::from(outcome.err().unwrap_or(Errno::SUCCESS).0));
        Ok(())
    });
}
