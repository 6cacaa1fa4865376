//! Anonymous in-memory files (`memfd_create`): the backing of memory images
//! that pool slots map copy-on-write.

use std::fs::File;
use std::io;
use std::os::fd::FromRawFd;
use std::os::unix::fs::FileExt;

/// A new anonymous file of `len` bytes (a sparse hole: unwritten ranges
/// cost no memory and read as zero), named `name` for `/proc/*/maps`.
pub(crate) fn create(name: &std::ffi::CStr, len: u64) -> io::Result<File> {
    // SAFETY: `name` is a valid C string; the result is checked.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(len)?;
    Ok(file)
}

/// Writes `bytes` at `offset` of `file`.
pub(crate) fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    file.write_all_at(bytes, offset)
}
