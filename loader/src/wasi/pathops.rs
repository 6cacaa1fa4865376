//! Path syscalls: every path is resolved beneath its directory
//! descriptor by [`super::path`].

use std::fs::File;

use rustix::fs::{AtFlags, Mode, OFlags};

use super::ctx::{Descriptor, Kind};
use super::mem::Env;
use super::path::{open_beneath, parent_and_name};
use super::types::{encode_filestat, flags, rights};
use super::{Args, Errno};

/// The directory behind descriptor `fd` (cloned, so the context is free
/// for other use meanwhile) and the guest path at `ptr`/`len`.
pub(crate) fn dir_and_path(env: &mut Env<'_, '_>, fd: u32, ptr: u32, len: u32) -> Result<(File, String), Errno> {
    let path = env.string(ptr, len)?;
    let dir = match &env.ctx.get(fd)?.kind {
        Kind::Dir { dir, .. } => dir.try_clone()?,
        _ => return Err(Errno::NOTDIR),
    };
    Ok((dir, path))
}

/// Descriptor `fd` must hold `right` (for a syscall's second descriptor;
/// the first is checked by the dispatcher).
pub(crate) fn need(env: &mut Env<'_, '_>, fd: u32, right: u64) -> Result<(), Errno> {
    if env.ctx.get(fd)?.base & right == right {
        Ok(())
    } else {
        Err(Errno::NOTCAPABLE)
    }
}

/// Opens a file or directory. The new descriptor's rights are those asked
/// for, within what the directory passes on (its inheriting rights) and
/// what its kind supports ([`rights::FILE`], [`rights::DIRECTORY`]); the
/// host file is opened for reading and/or writing as those rights say.
/// Creating needs `PATH_CREATE_FILE` on the directory, truncating
/// `PATH_FILESTAT_SET_SIZE`.
pub(crate) fn path_open(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, lookup, path_ptr, path_len) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    let (oflags, base, inheriting, fdflags, out) = (a.u32(4) as u16, a.u64(5), a.u64(6), a.u32(7) as u16, a.u32(8));
    let (dir, path) = dir_and_path(env, fd, path_ptr, path_len)?;
    if oflags & flags::O_CREAT != 0 {
        need(env, fd, rights::PATH_CREATE_FILE)?;
    }
    if oflags & flags::O_TRUNC != 0 {
        need(env, fd, rights::PATH_FILESTAT_SET_SIZE)?;
    }
    let passed_on = env.ctx.get(fd)?.inheriting;
    let (base, inheriting) = (base & passed_on, inheriting & passed_on);
    let read = base & (rights::FD_READ | rights::FD_READDIR) != 0;
    let write = base & (rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE) != 0;
    let mut host = match (read, write) {
        // A directory cannot be written; the rights directories report
        // (`rights::DIRECTORY`) hold no writing right.
        (_, true) if oflags & flags::O_DIRECTORY != 0 => return Err(Errno::ISDIR),
        (true, true) => OFlags::RDWR,
        (false, true) => OFlags::WRONLY,
        _ => OFlags::RDONLY,
    };
    for (bit, flag) in [
        (flags::O_CREAT, OFlags::CREATE),
        (flags::O_DIRECTORY, OFlags::DIRECTORY),
        (flags::O_EXCL, OFlags::EXCL),
        (flags::O_TRUNC, OFlags::TRUNC),
    ] {
        if oflags & bit != 0 {
            host |= flag;
        }
    }
    for (bit, flag) in [
        (flags::FD_APPEND, OFlags::APPEND),
        (flags::FD_DSYNC, OFlags::DSYNC),
        (flags::FD_RSYNC, OFlags::RSYNC),
        (flags::FD_SYNC, OFlags::SYNC),
    ] {
        if fdflags & bit != 0 {
            host |= flag;
        }
    }
    let follow = lookup & flags::LOOKUP_SYMLINK_FOLLOW != 0;
    // Always non-blocking on the host, so that opening a FIFO cannot hang
    // the call; reads and writes wait, within the deadline, unless the
    // program asked for `FD_NONBLOCK` (see `wait.rs`).
    host |= OFlags::NONBLOCK;
    let opened = File::from(open_beneath(&dir, &path, host | OFlags::NOCTTY, Mode::from_bits_truncate(0o666), follow)?);
    let (kind, base, inheriting) = if opened.metadata()?.is_dir() {
        (Kind::Dir { dir: opened, preopen: None }, base & rights::DIRECTORY, inheriting)
    } else {
        let mut base = base & rights::FILE;
        if !read {
            base &= !rights::FD_READ;
        }
        if !write {
            base &= !(rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE);
        }
        (Kind::File(opened), base, inheriting & rights::FILE)
    };
    let new_fd = env.ctx.insert(Descriptor { kind, fdflags, base, inheriting })?;
    if let Err(e) = env.write_u32(out, new_fd) {
        env.ctx.fds.remove(&new_fd);
        return Err(e);
    }
    Ok(())
}

pub(crate) fn path_filestat_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let stat = path_filestat(env, a)?;
    env.write(a.u32(4), &stat)
}

/// The encoded `filestat` of the path `path_filestat_get`'s arguments name.
pub(crate) fn path_filestat(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<[u8; 64], Errno> {
    let (fd, lookup, path_ptr, path_len) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    let (dir, path) = dir_and_path(env, fd, path_ptr, path_len)?;
    let follow = lookup & flags::LOOKUP_SYMLINK_FOLLOW != 0;
    let target = File::from(open_beneath(&dir, &path, OFlags::PATH, Mode::empty(), follow)?);
    Ok(encode_filestat(&target.metadata()?))
}

pub(crate) fn path_create_directory(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path(env, a.u32(0), a.u32(1), a.u32(2))?;
    let (parent, name) = parent_and_name(&dir, &path)?;
    Ok(rustix::fs::mkdirat(&parent, name.as_str(), Mode::from_bits_truncate(0o777))?)
}

pub(crate) fn path_remove_directory(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path(env, a.u32(0), a.u32(1), a.u32(2))?;
    let (parent, name) = parent_and_name(&dir, &path)?;
    Ok(rustix::fs::unlinkat(&parent, name.as_str(), AtFlags::REMOVEDIR)?)
}

pub(crate) fn path_unlink_file(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path(env, a.u32(0), a.u32(1), a.u32(2))?;
    if path.ends_with('/') {
        // "name/" names a directory: unlinking it is EISDIR if it is one,
        // ENOTDIR if it is anything else.
        let (parent, name) = parent_and_name(&dir, &path)?;
        let st = rustix::fs::statat(&parent, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        return Err(match rustix::fs::FileType::from_raw_mode(st.st_mode) {
            rustix::fs::FileType::Directory => Errno::ISDIR,
            _ => Errno::NOTDIR,
        });
    }
    let (parent, name) = parent_and_name(&dir, &path)?;
    Ok(rustix::fs::unlinkat(&parent, name.as_str(), AtFlags::empty())?)
}

pub(crate) fn path_rename(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (old_dir, old_path) = dir_and_path(env, a.u32(0), a.u32(1), a.u32(2))?;
    need(env, a.u32(3), rights::PATH_RENAME_TARGET)?;
    let (new_dir, new_path) = dir_and_path(env, a.u32(3), a.u32(4), a.u32(5))?;
    let (old_parent, old_name) = parent_and_name(&old_dir, &old_path)?;
    let (new_parent, new_name) = parent_and_name(&new_dir, &new_path)?;
    Ok(rustix::fs::renameat(&old_parent, old_name.as_str(), &new_parent, new_name.as_str())?)
}

pub(crate) fn path_readlink(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (dir, path) = dir_and_path(env, a.u32(0), a.u32(1), a.u32(2))?;
    let (buf, buf_len, out) = (a.u32(3), a.u32(4), a.u32(5));
    let (parent, name) = parent_and_name(&dir, &path)?;
    let target = rustix::fs::readlinkat(&parent, name.as_str(), Vec::new())?;
    let bytes = target.as_bytes();
    let n = bytes.len().min(buf_len as usize);
    env.write(buf, &bytes[..n])?;
    env.write_u32(out, n as u32)
}
