//! Errors, grouped by who can act on them: [`LoadError`] (the artifact),
//! [`LinkError`] (the imports offered), [`Trap`] (the running code) and
//! [`Error`], which wraps them all for operations that can fail in several
//! ways.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use wasmc_abi::meta::ExternKind;

use crate::vm::trap::{Cause, VmError};
pub use crate::vm::trap::{ResourceError, Trap};

/// Why an artifact was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened, read or mapped.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The path names something other than a regular file (a device such
    /// as `/dev/zero`, a FIFO, a directory), which is refused before any
    /// read.
    #[error("cannot read {}: not a regular file ({what})", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is instead ("a character device", "a FIFO", ...).
        what: &'static str,
    },
    /// The file is larger than the limit
    /// ([`LoadOptions::max_artifact_bytes`](crate::LoadOptions::max_artifact_bytes)),
    /// which is checked before any read.
    #[error("cannot read {}: the file is {len} bytes, more than the limit of {limit} bytes for artifacts", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// Not an ELF file at all.
    #[error("not a wasmc artifact: {0}")]
    NotElf(String),
    /// An ELF file whose structure is damaged or cut short.
    #[error("corrupt artifact: {0}")]
    Corrupt(String),
    /// A section every artifact has is absent.
    #[error("not a wasmc artifact: section {0} is missing")]
    MissingSection(&'static str),
    /// Wrong metadata magic or format version.
    #[error("{0}")]
    Header(wasmc_abi::artifact::HeaderError),
    /// The file's checksum does not match its contents.
    #[error("artifact checksum mismatch (expected {expected:#010x}, computed {actual:#010x}): the file is damaged")]
    Checksum {
        /// The checksum stored in the file.
        expected: u32,
        /// The checksum of the bytes read.
        actual: u32,
    },
    /// The metadata could not be decoded or is inconsistent.
    #[error("{0}")]
    Metadata(wasmc_abi::meta::MetaError),
    /// The artifact was compiled for another architecture.
    #[error("artifact was compiled for {artifact}, but this host is {host}")]
    WrongArchitecture {
        /// The artifact's architecture (or what its file says).
        artifact: String,
        /// This host's architecture.
        host: String,
    },
    /// The artifact needs CPU features this host does not have.
    #[error("artifact needs CPU features this host lacks: {}", missing.join(", "))]
    MissingCpuFeatures {
        /// The features the host lacks.
        missing: Vec<String>,
    },
    /// The loader could not map the code.
    #[error("cannot map the artifact's code")]
    Map(#[source] std::io::Error),
    /// A signed load found no signature in the artifact.
    #[error("artifact is not signed, and only artifacts signed by a trusted key are accepted")]
    Unsigned,
    /// A signed load found a signature by a key that is not trusted.
    #[error("artifact is signed by key {key_id}, which is not one of the trusted keys")]
    UntrustedKey {
        /// The id of the key that signed the artifact.
        key_id: crate::signature::KeyId,
    },
    /// The signature does not match the artifact's contents.
    #[error("artifact signature by key {key_id} does not match its contents: the file was altered after signing")]
    BadSignature {
        /// The id of the trusted key named by the signature.
        key_id: crate::signature::KeyId,
    },
}

/// Why the imports offered do not satisfy a module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Nothing was defined under this name.
    #[error("unknown import: {kind} \"{module}\" \"{name}\" is not defined", kind = kind.name())]
    Missing {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// What the module imports.
        kind: ExternKind,
    },
    /// Something was defined under this name, but it does not fit.
    #[error("incompatible import type for \"{module}\" \"{name}\": {reason}")]
    Incompatible {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// Why it does not fit.
        reason: String,
    },
}

/// The error a host function returns to make the calling wasm code trap
/// (with [`TrapKind::HostError`](crate::TrapKind::HostError) and this message).
#[derive(Clone, Debug)]
pub struct HostError {
    message: String,
    /// Set by [`HostError::exit`]: the program asked to exit with this code.
    exit_code: Option<i32>,
    /// Set by [`HostError::from_error`]; becomes the trap's source.
    source: Option<Cause>,
}

impl HostError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> HostError {
        HostError { message: message.into(), exit_code: None, source: None }
    }

    /// An error that keeps `error` as its cause: the trap it becomes has
    /// `error` as its [`source`](std::error::Error::source), so the caller
    /// of the wasm code can downcast it back to its own type.
    ///
    /// ```
    /// use std::error::Error as _;
    /// use wasmc_loader::HostError;
    ///
    /// let host = HostError::from_error(std::io::Error::other("disk full"));
    /// assert_eq!(host.message(), "disk full");
    /// // After the call: `err.source()?.downcast_ref::<std::io::Error>()`.
    /// assert!(host.source().unwrap().downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn from_error(error: impl std::error::Error + Send + Sync + 'static) -> HostError {
        HostError { message: error.to_string(), exit_code: None, source: Some(Arc::new(error)) }
    }

    /// Stops the running wasm code as a program exit with `code` (e.g.
    /// WASI `proc_exit`): the outermost call returns [`Error::Exit`], not
    /// a trap.
    pub fn exit(code: i32) -> HostError {
        HostError { message: format!("program exited with code {code}"), exit_code: Some(code), source: None }
    }

    /// The exit code, for an error made by [`HostError::exit`].
    pub fn exit_code(&self) -> Option<i32> {
        self.exit_code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Host errors are equal when their messages and exit codes are (their
/// sources are not compared).
impl PartialEq for HostError {
    fn eq(&self, other: &HostError) -> bool {
        (&self.message, self.exit_code) == (&other.message, other.exit_code)
    }
}

impl Eq for HostError {}

impl HostError {
    /// The cause given to [`HostError::from_error`], for the trap.
    pub(crate) fn take_source(&mut self) -> Option<Cause> {
        self.source.take()
    }
}

impl From<String> for HostError {
    fn from(message: String) -> HostError {
        HostError::new(message)
    }
}

impl From<&str> for HostError {
    fn from(message: &str) -> HostError {
        HostError::new(message)
    }
}

impl From<Error> for HostError {
    /// Lets a host function propagate a nested call's error with `?`.
    /// A nested [`Error::Exit`] stays an exit.
    fn from(error: Error) -> HostError {
        match error {
            Error::Exit(code) => HostError::exit(code),
            other => HostError::from_error(other),
        }
    }
}

/// Any failure of the loader's operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The artifact was refused.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The imports do not satisfy the module.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Wasm code trapped.
    #[error(transparent)]
    Trap(#[from] Trap),
    /// A reservation, mapping or configured limit was exceeded; when the
    /// operating system refused, the error's
    /// [`source`](std::error::Error::source) is its `io::Error`.
    #[error(transparent)]
    Resource(ResourceError),
    /// Arguments, results or a typed signature do not match.
    #[error("type mismatch: {0}")]
    Type(String),
    /// The instance has no export of this name (or not of the kind asked).
    #[error("no export named \"{0}\"")]
    ExportNotFound(String),
    /// A handle was used with a store it does not belong to.
    #[error("object used with a store it does not belong to")]
    WrongStore,
    /// An access outside a memory's or table's current size, by the host.
    #[error("out of bounds: {0}")]
    OutOfBounds(String),
    /// The program exited on purpose with this code (a host function
    /// returned [`HostError::exit`], e.g. WASI `proc_exit`). Not a trap.
    #[error("program exited with code {0}")]
    Exit(i32),
}

impl Error {
    /// The trap, if this error is one.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(trap) => Some(trap),
            _ => None,
        }
    }
}

/// What the vm layer fails with, as the public API reports it.
impl From<VmError> for Error {
    fn from(e: VmError) -> Error {
        match e {
            VmError::Resource(refusal) => Error::Resource(refusal),
            VmError::Trap(trap) => Error::Trap(trap),
            VmError::Exit(code) => Error::Exit(code),
        }
    }
}

impl Error {
    /// A [`Error::Resource`] refused by a limit or the loader itself.
    pub(crate) fn resource(message: impl Into<String>) -> Error {
        Error::Resource(ResourceError::new(message))
    }

    /// A [`Error::Resource`] refused by the operating system.
    pub(crate) fn resource_io(message: impl Into<String>, source: std::io::Error) -> Error {
        Error::Resource(ResourceError::io(message, source))
    }
}

/// `error`'s message followed by each of its causes', joined by ": ", as
/// command-line tools and logs print an error (each error's own message
/// leaves its cause out, as the standard library's errors do).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}
