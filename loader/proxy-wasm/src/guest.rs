//! The guest's memory as host functions see it: every pointer and length
//! a filter passes is checked against its memory before anything is read
//! or allocated, and comes back as [`Status::InvalidMemoryAccess`] when
//! it does not fit. Memory given to the guest is allocated by the guest
//! itself (`proxy_on_memory_allocate`, or `malloc` for SDKs that export
//! only that), so the filter owns and frees it. The memory and the
//! allocator are looked up once per instance ([`Exports`]), not by name on
//! every host call.

use wasmc_loader::{Caller, Extern, Func, HostError, Instance, Memory, Store, TypedFunc};

use crate::abi::Status;
use crate::maps::len32;
use crate::state::HostState;

pub(crate) type Ctx<'a> = Caller<'a, HostState>;

/// A guest `i32` that the ABI defines as an unsigned 32-bit value (a
/// pointer, a size or an enum): the same bits.
pub(crate) fn u(v: i32) -> u32 {
    u32::from_ne_bytes(v.to_ne_bytes())
}

/// A host `u32` passed to the guest as an `i32`: the same bits.
pub(crate) fn i(v: u32) -> i32 {
    i32::from_ne_bytes(v.to_ne_bytes())
}

/// What host functions need of the instance, found once when it starts.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Exports {
    /// The exported `memory`.
    pub memory: Option<Memory>,
    /// `proxy_on_memory_allocate`, or `malloc`.
    pub allocator: Option<Allocator>,
}

/// The guest's allocator export.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Allocator {
    /// Of the type the ABI gives it, `(i32) -> i32`.
    Typed(TypedFunc<i32, i32>),
    /// Of another type: calling it is the caller's trap.
    Mistyped(Func),
}

impl Exports {
    pub fn new(store: &Store<HostState>, instance: &Instance) -> Exports {
        let allocator =
            ["proxy_on_memory_allocate", "malloc"].iter().find_map(|name| match instance.get_export(store, name) {
                Some(Extern::Func(f)) => Some(match TypedFunc::new(store, f) {
                    Ok(typed) => Allocator::Typed(typed),
                    Err(_) => Allocator::Mistyped(f),
                }),
                _ => None,
            });
        Exports { memory: instance.get_memory(store, "memory"), allocator }
    }
}

/// The `len` bytes at `ptr`, in place.
pub(crate) fn view<'c>(c: &'c Ctx<'_>, ptr: i32, len: i32) -> Result<&'c [u8], Status> {
    let memory = c.data().exports.memory.ok_or(Status::InvalidMemoryAccess)?;
    let start = u(ptr) as usize;
    let end = start.checked_add(u(len) as usize).ok_or(Status::InvalidMemoryAccess)?;
    memory.data(c).get(start..end).ok_or(Status::InvalidMemoryAccess)
}

/// A copy of the `len` bytes at `ptr`.
pub(crate) fn read(c: &Ctx<'_>, ptr: i32, len: i32) -> Result<Vec<u8>, Status> {
    view(c, ptr, len).map(<[u8]>::to_vec)
}

/// Bytes read from the guest for the length of a host call: on the stack
/// up to the size of a usual header name or value.
pub(crate) type Bytes = smallvec::SmallVec<[u8; 128]>;

/// A copy of the `len` bytes at `ptr`, on the stack when short (header
/// names and values: copied because the map they go to is borrowed from
/// the same caller as the memory).
pub(crate) fn read_short(c: &Ctx<'_>, ptr: i32, len: i32) -> Result<Bytes, Status> {
    view(c, ptr, len).map(Bytes::from_slice)
}

/// `bytes` as text (`BadArgument` if not UTF-8).
pub(crate) fn text(bytes: &[u8]) -> Result<&str, Status> {
    std::str::from_utf8(bytes).map_err(|_| Status::BadArgument)
}

/// The `len` bytes at `ptr` as text (`BadArgument` if not UTF-8).
pub(crate) fn read_str(c: &Ctx<'_>, ptr: i32, len: i32) -> Result<String, Status> {
    String::from_utf8(read(c, ptr, len)?).map_err(|_| Status::BadArgument)
}

/// Writes `bytes` at `ptr`.
pub(crate) fn write(c: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> Result<(), Status> {
    let memory = c.data().exports.memory.ok_or(Status::InvalidMemoryAccess)?;
    memory.write(c, u64::from(u(ptr)), bytes).map_err(|_| Status::InvalidMemoryAccess)
}

/// Writes a little-endian `u32` at `ptr`.
pub(crate) fn write_u32(c: &mut Ctx<'_>, ptr: i32, value: u32) -> Result<(), Status> {
    write(c, ptr, &value.to_le_bytes())
}

/// Writes a little-endian `u64` at `ptr`.
pub(crate) fn write_u64(c: &mut Ctx<'_>, ptr: i32, value: u64) -> Result<(), Status> {
    write(c, ptr, &value.to_le_bytes())
}

/// Copies `data` into a block the guest allocates and writes the block's
/// address to `ret_ptr` and its size to `ret_size`. A trap in the guest's
/// allocator is the caller's trap (`Err`); a bad return pointer or an
/// allocator that returns null is a status.
pub(crate) fn give(c: &mut Ctx<'_>, data: &[u8], ret_ptr: i32, ret_size: i32) -> Result<Status, HostError> {
    // Check the return slots before allocating, so a bad pointer leaks nothing.
    let memory_size = c.data().exports.memory.map_or(0, |m| m.size(&*c));
    for slot in [ret_ptr, ret_size] {
        if u64::from(u(slot)) + 4 > memory_size {
            return Ok(Status::InvalidMemoryAccess);
        }
    }
    let addr = match allocate(c, len32(data.len()))? {
        Some(addr) => addr,
        // A C `malloc(0)` may answer null: nothing to copy then.
        None if data.is_empty() => 0,
        None => return Ok(Status::InternalFailure),
    };
    let written = write(c, i(addr), data)
        .and_then(|()| write_u32(c, ret_ptr, addr))
        .and_then(|()| write_u32(c, ret_size, len32(data.len())));
    Ok(match written {
        Ok(()) => Status::Ok,
        Err(status) => status,
    })
}

/// Calls the guest's allocator for `size` bytes; `None` if it returned
/// null or the module exports no allocator.
fn allocate(c: &mut Ctx<'_>, size: u32) -> Result<Option<u32>, HostError> {
    let typed = match c.data().exports.allocator {
        None => return Ok(None),
        Some(Allocator::Typed(typed)) => typed,
        // Fails, naming the type it has.
        Some(Allocator::Mistyped(func)) => TypedFunc::<i32, i32>::new(&*c, func)?,
    };
    let addr = u(typed.call(&mut *c, i(size))?);
    Ok((addr != 0).then_some(addr))
}
