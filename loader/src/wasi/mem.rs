//! Checked access to a program's linear memory for syscalls: every guest
//! pointer and length is checked against the memory's current size, and
//! a bad one is `EFAULT`, never a host fault.

use super::ctx::WasiCtx;
use super::Errno;
use crate::vm::limits::{fuel_for_bytes, Deadline};
use crate::{Caller, Memory};

/// The most iovecs one call may pass (as Linux's `IOV_MAX`).
const MAX_IOVS: u32 = 1024;

/// The longest path a program may pass (Linux's `PATH_MAX`): a longer one
/// is `ENAMETOOLONG` before any host buffer is made for it.
const MAX_PATH: u32 = 4096;

/// What a syscall works on: the context and the calling instance.
pub(crate) struct Env<'a, 'b> {
    pub ctx: &'a mut WasiCtx,
    caller: Caller<'b>,
    memory: Option<Memory>,
    /// Set when the call's deadline passed or its fuel ran out during the
    /// syscall: the call then traps instead of returning an errno.
    interrupted: bool,
}

impl<'a, 'b> Env<'a, 'b> {
    pub fn new(ctx: &'a mut WasiCtx, caller: Caller<'b>) -> Self {
        let memory = caller.memory();
        Env { ctx, caller, memory, interrupted: false }
    }

    /// Whether the syscall stopped because of the call's deadline or fuel
    /// (see [`Env::interrupt`]).
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Marks the syscall as stopped by the call's limits; the errno it
    /// returns is ignored and the call traps with `Interrupted`.
    pub fn interrupt(&mut self) -> Errno {
        self.interrupted = true;
        Errno::INTR
    }

    /// The deadline of the call this syscall belongs to.
    pub fn deadline(&self) -> Deadline {
        self.caller.opaque().limits().deadline()
    }

    /// Before moving up to `bytes` bytes of guest memory: charges fuel for
    /// them (when the calling code is metered) and checks the deadline.
    pub fn budget(&mut self, bytes: u64) -> Result<(), Errno> {
        let instance = self.caller.instance();
        let store = self.caller.opaque_mut();
        let within = store
            .charge_fuel(instance.map(|i| i.index()), fuel_for_bytes(bytes))
            .and_then(|()| store.limits().deadline().check());
        within.map_err(|_| self.interrupt())
    }

    /// `len` bytes at `ptr`.
    pub fn read(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let memory = self.memory.ok_or(Errno::FAULT)?;
        let data = memory.data(&self.caller);
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::FAULT)?;
        data.get(start..end).ok_or(Errno::FAULT)
    }

    /// `len` bytes at `ptr`, with the context (to write them somewhere).
    pub fn ctx_and_bytes(&mut self, ptr: u32, len: u32) -> Result<(&mut WasiCtx, &[u8]), Errno> {
        let memory = self.memory.ok_or(Errno::FAULT)?;
        let data = memory.data(&self.caller);
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::FAULT)?;
        Ok((&mut *self.ctx, data.get(start..end).ok_or(Errno::FAULT)?))
    }

    /// `len` bytes at `ptr`, mutably, with the context (to fill them in
    /// place from a descriptor, never through a host buffer).
    pub fn ctx_and_bytes_mut(&mut self, ptr: u32, len: u32) -> Result<(&mut WasiCtx, &mut [u8]), Errno> {
        let memory = self.memory.ok_or(Errno::FAULT)?;
        let data = memory.data_mut(&mut self.caller);
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::FAULT)?;
        Ok((&mut *self.ctx, data.get_mut(start..end).ok_or(Errno::FAULT)?))
    }

    /// A UTF-8 string at `ptr` (`EILSEQ` if it is not UTF-8,
    /// `ENAMETOOLONG` past [`MAX_PATH`] bytes).
    pub fn string(&self, ptr: u32, len: u32) -> Result<String, Errno> {
        if len > MAX_PATH {
            return Err(Errno::NAMETOOLONG);
        }
        let bytes = self.read(ptr, len)?;
        std::str::from_utf8(bytes).map(str::to_string).map_err(|_| Errno::ILSEQ)
    }

    /// Writes `data` at `ptr`.
    pub fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let memory = self.memory.ok_or(Errno::FAULT)?;
        let mem = memory.data_mut(&mut self.caller);
        let start = ptr as usize;
        let end = start.checked_add(data.len()).ok_or(Errno::FAULT)?;
        mem.get_mut(start..end).ok_or(Errno::FAULT)?.copy_from_slice(data);
        Ok(())
    }

    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// The `(buf, len)` pairs of `count` iovecs at `ptr`, each checked to
    /// lie in memory.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<(u32, u32)>, Errno> {
        if count > MAX_IOVS {
            return Err(Errno::INVAL);
        }
        let raw = self.read(ptr, count * 8)?;
        let iovs: Vec<(u32, u32)> = raw
            .chunks_exact(8)
            .map(|c| (u32::from_le_bytes([c[0], c[1], c[2], c[3]]), u32::from_le_bytes([c[4], c[5], c[6], c[7]])))
            .collect();
        for &(buf, len) in &iovs {
            self.read(buf, len)?;
        }
        Ok(iovs)
    }
}
