//! [`Trap`]: how wasm code stopped, and [`VmError`]: what the vm layer
//! fails with. The public API re-exports `Trap` and turns a `VmError` into
//! its `Error` (`crate::error`).

use std::fmt;

use wasmc_abi::TrapKind;

/// Wasm code stopped with a trap.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
}

impl Trap {
    /// A trap of `kind` with no location.
    pub fn new(kind: TrapKind) -> Trap {
        Trap { kind, func_index: None, func_name: None, wasm_offset: None, message: None }
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
    Resource(String),
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
