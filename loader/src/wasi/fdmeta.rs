//! Descriptor metadata and hints: `fd_advise`, `fd_allocate`,
//! `fd_fdstat_set_flags`, `fd_fdstat_set_rights`.

use std::num::NonZeroU64;

use rustix::fs::{Advice, OFlags};

use super::ctx::Kind;
use super::mem::Env;
use super::types::flags;
use super::{Args, Errno};

/// The regular file behind `fd` (the dispatcher has checked the right, so
/// a directory never gets here; stdio and sockets are not seekable).
fn file<'e>(env: &'e mut Env<'_, '_>, fd: u32) -> Result<&'e std::fs::File, Errno> {
    match &env.ctx.get(fd)?.kind {
        Kind::File(f) => Ok(f),
        Kind::Dir { .. } => Err(Errno::ISDIR),
        _ => Err(Errno::SPIPE),
    }
}

/// `offset + len` as a file size, `EFBIG` past what a file can hold.
fn end_of(offset: u64, len: u64) -> Result<u64, Errno> {
    offset.checked_add(len).filter(|&end| end <= i64::MAX as u64).ok_or(Errno::FBIG)
}

/// Passes the access-pattern hint to the host (`posix_fadvise`).
pub(crate) fn fd_advise(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, offset, len, advice) = (a.u32(0), a.u64(1), a.u64(2), a.u32(3));
    let advice = match advice {
        0 => Advice::Normal,
        1 => Advice::Sequential,
        2 => Advice::Random,
        3 => Advice::WillNeed,
        4 => Advice::DontNeed,
        5 => Advice::NoReuse,
        _ => return Err(Errno::INVAL),
    };
    end_of(offset, len).map_err(|_| Errno::INVAL)?;
    let f = file(env, fd)?;
    Ok(rustix::fs::fadvise(f, offset, NonZeroU64::new(len), advice)?)
}

/// Makes sure the file holds at least `offset + len` bytes (it grows,
/// zero-filled, never shrinks).
pub(crate) fn fd_allocate(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, offset, len) = (a.u32(0), a.u64(1), a.u64(2));
    let end = end_of(offset, len)?;
    let f = file(env, fd)?;
    if f.metadata()?.len() < end {
        f.set_len(end)?;
    }
    Ok(())
}

/// Changes `FDFLAGS_APPEND` and `FDFLAGS_NONBLOCK` of a file or socket
/// (the synchronous-I/O flags cannot change after opening: `ENOTSUP`).
/// Stdio belongs to the host process, which may share it: its flags stay
/// as they are (`ENOTSUP` for any change).
pub(crate) fn fd_fdstat_set_flags(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, new) = (a.u32(0), a.u32(1));
    let new = u16::try_from(new).map_err(|_| Errno::INVAL)?;
    if new & !(flags::FD_APPEND | flags::FD_DSYNC | flags::FD_NONBLOCK | flags::FD_RSYNC | flags::FD_SYNC) != 0 {
        return Err(Errno::INVAL);
    }
    let d = env.ctx.get(fd)?;
    let sync = flags::FD_DSYNC | flags::FD_RSYNC | flags::FD_SYNC;
    if (new ^ d.fdflags) & sync != 0 {
        return Err(Errno::NOTSUP);
    }
    let host = match &d.kind {
        Kind::File(f) => rustix::fs::fcntl_getfl(f).map(|fl| (fl, std::os::fd::AsFd::as_fd(f)))?,
        Kind::Dir { dir, .. } => rustix::fs::fcntl_getfl(dir).map(|fl| (fl, std::os::fd::AsFd::as_fd(dir)))?,
        Kind::Listener(l) => rustix::fs::fcntl_getfl(l).map(|fl| (fl, std::os::fd::AsFd::as_fd(l)))?,
        Kind::Stream(s) => rustix::fs::fcntl_getfl(s).map(|fl| (fl, std::os::fd::AsFd::as_fd(s)))?,
        Kind::Stdio(_) if new == d.fdflags => return Ok(()),
        Kind::Stdio(_) => return Err(Errno::NOTSUP),
    };
    // Only the append mode changes on the host: descriptors stay
    // non-blocking there, and `FDFLAGS_NONBLOCK` decides whether a read or
    // write waits (see `super::wait`).
    let (mut host_flags, host_fd) = host;
    host_flags.set(OFlags::APPEND, new & flags::FD_APPEND != 0);
    rustix::fs::fcntl_setfl(host_fd, host_flags)?;
    d.fdflags = new;
    Ok(())
}

/// Drops rights: asking for one the descriptor does not hold is
/// `ENOTCAPABLE`; rights never come back.
pub(crate) fn fd_fdstat_set_rights(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, base, inheriting) = (a.u32(0), a.u64(1), a.u64(2));
    let d = env.ctx.get(fd)?;
    if base & !d.base != 0 || inheriting & !d.inheriting != 0 {
        return Err(Errno::NOTCAPABLE);
    }
    d.base = base;
    d.inheriting = inheriting;
    Ok(())
}
