//! Owned memory mappings.
//!
//! [`Mmap`] owns one `mmap` region and unmaps it on drop. Every other module
//! reaches the operating system's mapping calls through here.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

/// Access rights of mapped pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protection {
    /// No access: reserved address space.
    None,
    /// Read only.
    Read,
    /// Read and write.
    ReadWrite,
    /// Read and execute: loaded machine code.
    ReadExec,
}

impl Protection {
    fn flags(self) -> libc::c_int {
        match self {
            Protection::None => libc::PROT_NONE,
            Protection::Read => libc::PROT_READ,
            Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
            Protection::ReadExec => libc::PROT_READ | libc::PROT_EXEC,
        }
    }
}

/// The host's page size (asked once: instantiation needs it often).
pub(crate) fn page_size() -> usize {
    static PAGE_SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).ok().filter(|s| s.is_power_of_two()).unwrap_or(4096)
    })
}

/// Rounds `n` up to a multiple of the page size, or `None` on overflow.
pub(crate) fn round_up_to_page(n: usize) -> Option<usize> {
    let page = page_size();
    n.checked_add(page - 1).map(|v| v & !(page - 1))
}

/// One mapping, unmapped on drop. Never empty.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a mapping is plain memory; whoever hands out references to its
// contents (always through `&self`/`&mut self`) is responsible for aliasing.
unsafe impl Send for Mmap {}
// SAFETY: as above; `&Mmap` only allows reads.
unsafe impl Sync for Mmap {}

impl Mmap {
    fn map(len: usize, prot: Protection, flags: libc::c_int, fd: libc::c_int, offset: u64) -> io::Result<Mmap> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        let offset = libc::off_t::try_from(offset).map_err(|_| io::Error::other("file offset too large"))?;
        // SAFETY: a fresh mapping at an address the kernel chooses cannot
        // alias any existing Rust object; the result is checked below.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot.flags(), flags, fd, offset) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mmap { ptr, len })
    }

    /// Zeroed, private, read-write anonymous memory of `len` bytes.
    pub(crate) fn anonymous(len: usize) -> io::Result<Mmap> {
        Mmap::map(len, Protection::ReadWrite, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    }

    /// `len` bytes of inaccessible address space that commit no memory.
    pub(crate) fn reserve(len: usize) -> io::Result<Mmap> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        Mmap::map(len, Protection::None, flags, -1, 0)
    }

    /// `len` bytes of zeroed, read-write address space that commits memory
    /// only for the pages that are touched (the explicit-mode pool region).
    pub(crate) fn anonymous_noreserve(len: usize) -> io::Result<Mmap> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        Mmap::map(len, Protection::ReadWrite, flags, -1, 0)
    }

    /// The first `len` bytes of `file`, mapped private (copy-on-write) and
    /// read-only.
    pub(crate) fn file_private(file: &File, len: usize) -> io::Result<Mmap> {
        Mmap::map(len, Protection::Read, libc::MAP_PRIVATE, file.as_raw_fd(), 0)
    }

    /// `len` bytes of `file` from `offset` (a multiple of the page size),
    /// mapped private and read-execute: code run in place, with no
    /// protection change later (which would flush TLBs).
    pub(crate) fn file_exec(file: &File, offset: u64, len: usize) -> io::Result<Mmap> {
        Mmap::map(len, Protection::ReadExec, libc::MAP_PRIVATE, file.as_raw_fd(), offset)
    }

    /// Start of the mapping (page aligned).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The whole mapping as bytes.
    ///
    /// # Safety
    /// Every page of the mapping must be readable, and nobody may write to
    /// it while the slice lives.
    pub(crate) unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes long and alive while `self` is;
        // readability and the absence of writers are the caller's promise.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Changes the protection of `len` bytes at `offset`; both must be page
    /// aligned and inside the mapping (whose last page counts whole).
    pub(crate) fn protect(&self, offset: usize, len: usize, prot: Protection) -> io::Result<()> {
        self.check_range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside this mapping (checked above), which
        // only this object owns; references into it are handed out through
        // `&self`/`&mut self` by callers that know the current protection.
        let rc = unsafe { libc::mprotect(self.ptr.as_ptr().add(offset).cast(), len, prot.flags()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Checks that `offset..offset + len` is page aligned and lies inside
    /// the mapping.
    fn check_range(&self, offset: usize, len: usize) -> io::Result<()> {
        let page = page_size();
        let mapped = round_up_to_page(self.len).unwrap_or(self.len);
        let in_range = offset.checked_add(len).is_some_and(|end| end <= mapped);
        if !in_range || offset % page != 0 || len % page != 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "unaligned or out-of-range range"));
        }
        Ok(())
    }

    /// Throws away the contents of `len` bytes at `offset` (`madvise
    /// MADV_DONTNEED`): anonymous pages read as zero afterwards, pages of a
    /// private file mapping as the file's contents again. Page aligned and
    /// inside the mapping.
    pub(crate) fn discard(&self, offset: usize, len: usize) -> io::Result<()> {
        self.check_range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside this mapping (checked above); its
        // owner calls this only when no reference into the range is alive
        // (a pooled memory being reset), so changed contents are unobserved.
        let rc = unsafe { libc::madvise(self.ptr.as_ptr().add(offset).cast(), len, libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Zeroes `len` bytes at `offset` in place, keeping the pages resident.
    /// Page aligned and inside the mapping (else an error).
    ///
    /// # Safety
    /// The range must be read-write, and nothing may refer to it.
    pub(crate) unsafe fn zero(&self, offset: usize, len: usize) -> io::Result<()> {
        self.check_range(offset, len)?;
        // SAFETY: the range lies inside this mapping (checked above); it is
        // writable and unreferenced by the caller's promise.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(offset), 0, len) };
        Ok(())
    }

    /// Replaces `len` bytes at `offset` with a private, read-write,
    /// copy-on-write mapping of `file` from `file_offset`. Page aligned and
    /// inside the mapping.
    pub(crate) fn map_file_over(&self, offset: usize, len: usize, file: &File, file_offset: u64) -> io::Result<()> {
        self.check_range(offset, len)?;
        let file_offset = libc::off_t::try_from(file_offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: MAP_FIXED replaces only pages inside this mapping (checked
        // above), which this object owns; the caller holds no reference into
        // the range (a pool slot being prepared), and the result is checked.
        let ptr = unsafe {
            libc::mmap(
                self.ptr.as_ptr().add(offset).cast(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                file.as_raw_fd(),
                file_offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Resizes the mapping to `new_len` bytes, moving it if needed; new
    /// bytes are zero. Only for anonymous read-write mappings.
    pub(crate) fn remap(&mut self, new_len: usize) -> io::Result<()> {
        if new_len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        // SAFETY: `self` owns the whole old range and `&mut self` guarantees
        // no references into it survive; the kernel returns a valid mapping
        // of `new_len` bytes or MAP_FAILED (checked below).
        let ptr = unsafe { libc::mremap(self.ptr.as_ptr().cast(), self.len, new_len, libc::MREMAP_MAYMOVE) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        self.ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mremap returned null"))?;
        self.len = new_len;
        Ok(())
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: the range is a mapping this object owns and nothing
        // borrows it any more (we are being dropped).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
