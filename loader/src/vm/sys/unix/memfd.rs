//! Anonymous in-memory files (`memfd_create`): the backing of artifacts
//! loaded from bytes, so their memory images can be mapped copy-on-write
//! like those of artifacts loaded from files.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;

/// A new anonymous file holding a copy of `bytes`, sealed so that it can
/// no longer be written, shrunk or grown (by anyone holding the
/// descriptor), and named `name` for `/proc/*/maps`.
pub(crate) fn sealed_copy(name: &std::ffi::CStr, bytes: &[u8]) -> io::Result<File> {
    // SAFETY: `name` is a valid C string; the result is checked.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(bytes.len() as u64)?;
    file.write_all_at(bytes, 0)?;
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: plain fcntl on a descriptor we own; the result is checked.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}
