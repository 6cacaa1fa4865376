//! [`Trap`]: how wasm code stopped, and [`VmError`]: what the vm layer
//! fails with. The public API re-exports `Trap` and turns a `VmError` into
//! its `Error` (`crate::error`).

use std::fmt;
use std::sync::Arc;

use wasmc_abi::TrapKind;

/// Wasm code stopped with a trap.
#[derive(Clone, Debug)]
pub struct Trap {
    /// Why it stopped.
    pub kind: TrapKind,
    /// Index (imports first) of the function that trapped, if known.
    pub func_index: Option<u32>,
    /// That function's name from the name section, if any.
    pub func_name: Option<String>,
    /// Offset in the wasm binary of the instruction that trapped, if known.
    pub wasm_offset: Option<u32>,
    /// More detail, e.g. a host function's error message.
    pub message: Option<String>,
    /// The error a host function stopped the code with, when it gave one
    /// (`HostError::from_error`): [`std::error::Error::source`] returns it,
    /// so a server can downcast it to its own error type.
    pub(crate) source: Option<Cause>,
}

/// An error kept as the cause of another: shared, so the errors that
/// carry it stay `Clone`.
pub(crate) type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Traps are equal when everything but their `source` is.
impl PartialEq for Trap {
    fn eq(&self, other: &Trap) -> bool {
        (self.kind, &self.func_index, &self.func_name, &self.wasm_offset, &self.message)
            == (other.kind, &other.func_index, &other.func_name, &other.wasm_offset, &other.message)
    }
}

impl Eq for Trap {}

impl std::error::Error for Trap {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The error itself, not the `Arc` around it, so it downcasts.
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Trap {
    /// A trap of `kind` with no location.
    pub fn new(kind: TrapKind) -> Trap {
        Trap { kind, func_index: None, func_name: None, wasm_offset: None, message: None, source: None }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.kind)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(index) = self.func_index {
            write!(f, ", in function {index}")?;
            if let Some(name) = &self.func_name {
                write!(f, " ({name})")?;
            }
        }
        if let Some(offset) = self.wasm_offset {
            write!(f, " at wasm offset {offset:#x}")?;
        }
        Ok(())
    }
}

/// A failure of the vm layer.
#[derive(Debug)]
pub(crate) enum VmError {
    /// The limits or the system refused a memory, table, mapping, vmctx or
    /// thread (the public `Error::Resource`).
    Resource(ResourceError),
    /// The call trapped.
    Trap(Trap),
    /// A host function ended the program with this exit code.
    Exit(i32),
}

impl From<Trap> for VmError {
    fn from(trap: Trap) -> VmError {
        VmError::Trap(trap)
    }
}

impl VmError {
    /// A [`VmError::Resource`] with this message.
    pub(crate) fn resource(message: impl Into<String>) -> VmError {
        VmError::Resource(ResourceError::new(message))
    }

    /// A [`VmError::Resource`]: the system refused with `source`.
    pub(crate) fn resource_io(message: impl Into<String>, source: std::io::Error) -> VmError {
        VmError::Resource(ResourceError::io(message, source))
    }
}

/// What refused a memory, table, mapping, instance or thread: a configured
/// limit, the pool, or the operating system (then
/// [`source`](std::error::Error::source) is its `io::Error`).
#[derive(Debug, thiserror::Error)]
#[error("resource limit: {message}")]
pub struct ResourceError {
    message: String,
    #[source]
    source: Option<std::io::Error>,
}

impl ResourceError {
    /// A refusal by a limit or the loader itself.
    pub(crate) fn new(message: impl Into<String>) -> ResourceError {
        ResourceError { message: message.into(), source: None }
    }

    /// A refusal by the operating system.
    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> ResourceError {
        ResourceError { message: message.into(), source: Some(source) }
    }

    /// What was refused, without the operating system's error.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The operating system's error, when it refused.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        self.source.as_ref()
    }
}
