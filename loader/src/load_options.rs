//! [`LoadOptions`]: how artifact files are opened and read before any of
//! their bytes are trusted.
//!
//! Every file load opens the path once, without blocking (a FIFO would
//! otherwise wait for a writer), and `fstat`s the open descriptor: it must
//! be a regular file (not a device such as `/dev/zero`, a FIFO or a
//! directory, whatever symlink led there) no larger than
//! [`LoadOptions::max_artifact_bytes`]. Only then is it mapped (unsigned
//! loads) or read (signed loads: the ELF header first, checked, then
//! exactly the length `fstat` gave, refusing a file that changed size
//! meanwhile).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::artifact::{self, Checksum};
use crate::error::LoadError;
use crate::module::Module;
use crate::signature::TrustedKeys;

/// The default of [`LoadOptions::max_artifact_bytes`]: 1 GiB.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 1 << 30;

/// How artifact files are loaded: today, the largest file accepted.
///
/// [`Module::from_file`], [`Module::from_file_trusted`] and
/// [`Module::from_file_signed`] use the defaults; a server that takes
/// artifacts from a cache it does not control sets its own limit:
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use wasmc_loader::{LoadOptions, TrustedKeys};
/// let keys = TrustedKeys::from_pub_files(["ci.pub"])?;
/// let module = LoadOptions::new().max_artifact_bytes(64 << 20).load_file_signed("plugin.cwasm", &keys)?;
/// # drop(module); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct LoadOptions {
    max_artifact_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions { max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES }
    }
}

impl LoadOptions {
    /// The defaults (a limit of [`DEFAULT_MAX_ARTIFACT_BYTES`]).
    pub fn new() -> LoadOptions {
        LoadOptions::default()
    }

    /// Refuses files larger than `bytes` ([`LoadError::TooLarge`]) before
    /// reading or mapping any of them.
    pub fn max_artifact_bytes(&mut self, bytes: u64) -> &mut LoadOptions {
        self.max_artifact_bytes = bytes;
        self
    }

    /// [`Module::from_file`] with these options.
    ///
    /// # Safety
    /// As for [`Module::from_file`].
    pub unsafe fn load_file(&self, path: impl AsRef<Path>) -> Result<Module, LoadError> {
        let path = path.as_ref();
        let (file, len) = self.open(path)?;
        Module::map_file(path, file, len, Checksum::Verify)
    }

    /// [`Module::from_file_trusted`] with these options.
    ///
    /// # Safety
    /// As for [`Module::from_file_trusted`].
    pub unsafe fn load_file_trusted(&self, path: impl AsRef<Path>) -> Result<Module, LoadError> {
        let path = path.as_ref();
        let (file, len) = self.open(path)?;
        Module::map_file(path, file, len, Checksum::Skip)
    }

    /// [`Module::from_file_signed`] with these options: the file is
    /// checked (regular, size, ELF header) before the rest of it is read.
    pub fn load_file_signed(&self, path: impl AsRef<Path>, keys: &TrustedKeys) -> Result<Module, LoadError> {
        let path = path.as_ref();
        let (mut file, len) = self.open(path)?;
        // The ELF header first: a file that is not an artifact is refused
        // before the rest of it is read.
        let head = len.min(artifact::ELF_HEADER_LEN as u64);
        let mut bytes = Vec::new();
        read_more(&mut file, path, &mut bytes, head)?;
        artifact::check_elf_header(&bytes, len)?;
        read_more(&mut file, path, &mut bytes, len - head)?;
        expect_end(&mut file, path)?;
        Module::from_bytes_signed(&bytes, keys)
    }

    /// Reads the whole file at `path` after the same checks (a regular
    /// file no larger than the limit), for tools that take artifacts or
    /// other input by name: a device, a FIFO or a huge file is an error,
    /// not a hang or an allocation failure.
    pub fn read_file(&self, path: impl AsRef<Path>) -> Result<Vec<u8>, LoadError> {
        let path = path.as_ref();
        let (mut file, len) = self.open(path)?;
        let mut bytes = Vec::new();
        read_more(&mut file, path, &mut bytes, len)?;
        expect_end(&mut file, path)?;
        Ok(bytes)
    }

    /// Opens `path` without blocking and checks what it is: a regular file
    /// no larger than the limit. Returns it and its length.
    fn open(&self, path: &Path) -> Result<(File, u64), LoadError> {
        let io_error = |source| LoadError::Io { path: path.to_path_buf(), source };
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
        // writer. It changes nothing for a regular file.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(io_error)?;
        let metadata = file.metadata().map_err(io_error)?;
        let kind = metadata.file_type();
        if !kind.is_file() {
            let what = if kind.is_dir() {
                "a directory"
            } else if kind.is_char_device() {
                "a character device"
            } else if kind.is_block_device() {
                "a block device"
            } else if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "not a file"
            };
            return Err(LoadError::NotRegularFile { path: path.to_path_buf(), what });
        }
        let len = metadata.len();
        if len > self.max_artifact_bytes {
            return Err(LoadError::TooLarge { path: path.to_path_buf(), len, limit: self.max_artifact_bytes });
        }
        Ok((file, len))
    }
}

/// Appends exactly `count` more bytes of `file` to `bytes`; a file that
/// ends sooner changed size after `fstat`.
fn read_more(file: &mut File, path: &Path, bytes: &mut Vec<u8>, count: u64) -> Result<(), LoadError> {
    let io_error = |source| LoadError::Io { path: path.to_path_buf(), source };
    let wanted = usize::try_from(count).map_err(|_| io_error(std::io::ErrorKind::OutOfMemory.into()))?;
    bytes.try_reserve_exact(wanted).map_err(|_| io_error(std::io::ErrorKind::OutOfMemory.into()))?;
    let read = file.by_ref().take(count).read_to_end(bytes).map_err(io_error)?;
    if read != wanted {
        return Err(changed(path));
    }
    Ok(())
}

/// Checks that `file` has nothing more to read: a file that grew after
/// `fstat` is refused.
fn expect_end(file: &mut File, path: &Path) -> Result<(), LoadError> {
    let mut byte = [0u8; 1];
    match file.read(&mut byte) {
        Ok(0) => Ok(()),
        Ok(_) => Err(changed(path)),
        Err(source) => Err(LoadError::Io { path: path.to_path_buf(), source }),
    }
}

fn changed(path: &Path) -> LoadError {
    LoadError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("the file changed size while it was being read"),
    }
}
