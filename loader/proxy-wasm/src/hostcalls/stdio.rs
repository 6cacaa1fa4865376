//! A filter's standard output and error go to the plugin's log, as in
//! Envoy's host: what it writes to descriptor 1 at `info`, to 2 at
//! `error`. SDKs print there where they have no `proxy_log` at hand
//! (TinyGo's panics, `printf` in a filter built with Emscripten).

use wasmc_loader::wasi::{self, Errno};
use wasmc_loader::Linker;

use crate::abi::LogLevel;
use crate::guest::{i, u, view, write_u32, Ctx};
use crate::maps::len32;
use crate::state::HostState;

/// The most bytes one `fd_write` takes: past it the write is short, and
/// the filter writes the rest with its next call (as after a short write
/// to a pipe). Bounds what one call makes the host copy, whatever
/// overlapping buffers it names.
const STDIO_CHUNK: usize = 64 * 1024;

/// The most buffers one `fd_write` reads (POSIX's `IOV_MAX`), so that the
/// work of a call is bounded however many empty buffers it names.
const IOV_MAX: u32 = 1024;

/// Defines `fd_write` of both WASI modules, in place of the loader's
/// (which answers `EBADF` for the stdio a filter is not granted): call
/// after `wasi::add_to_linker`.
pub(super) fn add_to_linker(linker: &mut Linker<HostState>) {
    for module in [wasi::MODULE, wasi::MODULE_PREVIEW0] {
        linker.func_wrap(module, "fd_write", |mut c: Ctx<'_>, fd: i32, iovs: i32, count: i32, written: i32| -> i32 {
            let outcome = fd_write(&mut c, fd, iovs, count, written);
            i32::from(outcome.err().unwrap_or(Errno::SUCCESS).0)
        });
    }
}

/// `fd_write(fd, iovs, count, written)` on stdout or stderr: up to
/// [`STDIO_CHUNK`] bytes of the first `count` (at most [`IOV_MAX`])
/// buffers at `iovs` become one log
/// line (without its final newline), and their length is written at
/// `written`. Any other descriptor is `EBADF`: a filter has no files.
fn fd_write(c: &mut Ctx<'_>, fd: i32, iovs: i32, count: i32, written: i32) -> Result<(), Errno> {
    let level = match fd {
        1 => LogLevel::Info,
        2 => LogLevel::Error,
        _ => return Err(Errno::BADF),
    };
    let mut text = Vec::new();
    for n in 0..u(count).min(IOV_MAX) {
        if text.len() == STDIO_CHUNK {
            break;
        }
        let at = n.checked_mul(8).and_then(|offset| u(iovs).checked_add(offset)).ok_or(Errno::FAULT)?;
        let iovec = view(c, i(at), 8).map_err(|_| Errno::FAULT)?;
        let (ptr, len) = (le32(&iovec[..4]), le32(&iovec[4..]));
        let take = len.min(len32(STDIO_CHUNK - text.len()));
        text.extend_from_slice(view(c, i(ptr), i(take)).map_err(|_| Errno::FAULT)?);
    }
    write_u32(c, written, len32(text.len())).map_err(|_| Errno::FAULT)?;
    let plugin = &c.data().plugin;
    if level >= plugin.config.log_level && !text.is_empty() {
        let line = text.strip_suffix(b"\n").unwrap_or(&text);
        plugin.log(level, &String::from_utf8_lossy(line));
    }
    Ok(())
}

/// The little-endian `u32` in `bytes` (4 of them).
fn le32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().unwrap_or([0; 4]))
}
