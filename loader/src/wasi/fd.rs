//! Descriptor syscalls: read, write, seek, stat, close, preopens, readdir.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use super::ctx::{Descriptor, Kind, Stdio};
use super::mem::Env;
use super::types::{
    encode_dirent, encode_fdstat, encode_filestat, encode_stdio_filestat, filetype, filetype_of, flags,
};
use super::wait::{self, Wait, Waited};
use super::{Args, Errno};

/// The most bytes one host read or write moves at a time.
const CHUNK: u32 = 64 * 1024;

/// The file behind a descriptor that must be a regular file (or other
/// non-directory opened by path).
fn file<'e>(env: &'e mut Env<'_, '_>, fd: u32) -> Result<&'e mut std::fs::File, Errno> {
    match &mut env.ctx.get(fd)?.kind {
        Kind::File(f) => Ok(f),
        Kind::Dir { .. } => Err(Errno::ISDIR),
        _ => Err(Errno::SPIPE),
    }
}

/// Whether the program asked for `fd` to be non-blocking.
fn nonblocking(d: &Descriptor) -> bool {
    d.fdflags & flags::FD_NONBLOCK != 0
}

pub(crate) fn fd_write(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, iovs, n, out) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    let iovs = env.iovecs(iovs, n)?;
    let deadline = env.deadline();
    let mut total: u32 = 0;
    for (buf, len) in iovs {
        let mut done = 0;
        while done < len {
            let step = (len - done).min(CHUNK);
            env.budget(u64::from(step))?;
            let (ctx, data) = env.ctx_and_bytes(buf + done, step)?;
            let d = ctx.get(fd)?;
            let wait = Wait::for_transfer(nonblocking(d), total, deadline);
            let written = match &mut d.kind {
                Kind::Stdio(Stdio::HostStdout) => {
                    // Locked (no host thread writes in between) and with the
                    // host's own buffered output written first.
                    let mut stdout = std::io::stdout().lock();
                    stdout.flush()?;
                    match wait::write_shared(stdout.as_fd(), data, wait)? {
                        Waited::Done(n) => n,
                        Waited::Interrupted => return Err(env.interrupt()),
                    }
                }
                Kind::Stdio(Stdio::HostStderr) => {
                    match wait::write_shared(std::io::stderr().lock().as_fd(), data, wait)? {
                        Waited::Done(n) => n,
                        Waited::Interrupted => return Err(env.interrupt()),
                    }
                }
                // A full sink fails the write only if it took nothing.
                // The count is clamped: a sink claiming more than it was
                // given cannot move the program past its buffer.
                Kind::Stdio(Stdio::Output(sink)) => match sink.write(data)?.min(data.len()) {
                    0 if total == 0 => return Err(Errno::NOSPC),
                    n => n,
                },
                Kind::File(f) => match wait::write(f.as_fd(), data, wait)? {
                    Waited::Done(n) => n,
                    Waited::Interrupted => return Err(env.interrupt()),
                },
                Kind::Stream(s) => match wait::write(s.as_fd(), data, wait)? {
                    Waited::Done(n) => n,
                    Waited::Interrupted => return Err(env.interrupt()),
                },
                Kind::Stdio(Stdio::HostStdin | Stdio::Input(_)) | Kind::Listener(_) => return Err(Errno::BADF),
                Kind::Dir { .. } => return Err(Errno::ISDIR),
            };
            done += written as u32;
            total = total.saturating_add(written as u32);
            if written < step as usize {
                return env.write_u32(out, total);
            }
        }
    }
    env.write_u32(out, total)
}

pub(crate) fn fd_read(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, iovs, n, out) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    let iovs = env.iovecs(iovs, n)?;
    let deadline = env.deadline();
    let mut total: u32 = 0;
    for (buf, len) in iovs {
        let mut done = 0;
        while done < len {
            let step = (len - done).min(CHUNK);
            env.budget(u64::from(step))?;
            // Read straight into the program's memory.
            let (ctx, data) = env.ctx_and_bytes_mut(buf + done, step)?;
            let d = ctx.get(fd)?;
            let wait = Wait::for_transfer(nonblocking(d), total, deadline);
            let waited = match &mut d.kind {
                Kind::Stdio(Stdio::HostStdin) => wait::read(std::io::stdin().as_fd(), data, wait)?,
                Kind::Stdio(Stdio::Input(bytes)) => Waited::Done(bytes.read(data)?),
                Kind::File(f) => wait::read(f.as_fd(), data, wait)?,
                Kind::Stream(s) => wait::read(s.as_fd(), data, wait)?,
                Kind::Stdio(Stdio::HostStdout | Stdio::HostStderr | Stdio::Output(_)) | Kind::Listener(_) => {
                    return Err(Errno::BADF)
                }
                Kind::Dir { .. } => return Err(Errno::ISDIR),
            };
            let Waited::Done(got) = waited else { return Err(env.interrupt()) };
            done += got as u32;
            total = total.saturating_add(got as u32);
            if got < step as usize {
                return env.write_u32(out, total);
            }
        }
    }
    env.write_u32(out, total)
}

/// Positioned reads and writes move at most [`CHUNK`] bytes per iovec (a
/// short transfer, which programs handle), so they need no waiting: the
/// descriptor is a file (`ESPIPE` otherwise).
pub(crate) fn fd_pread(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, iovs, n, mut offset, out) = (a.u32(0), a.u32(1), a.u32(2), a.u64(3), a.u32(4));
    let iovs = env.iovecs(iovs, n)?;
    let mut total: u32 = 0;
    for (buf, len) in iovs {
        let step = len.min(CHUNK);
        env.budget(u64::from(step))?;
        file(env, fd)?;
        let (ctx, data) = env.ctx_and_bytes_mut(buf, step)?;
        let Kind::File(f) = &mut ctx.get(fd)?.kind else { return Err(Errno::SPIPE) };
        let got = f.read_at(data, offset)?;
        total = total.saturating_add(got as u32);
        offset += got as u64;
        if got < len as usize {
            break;
        }
    }
    env.write_u32(out, total)
}

pub(crate) fn fd_pwrite(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, iovs, n, mut offset, out) = (a.u32(0), a.u32(1), a.u32(2), a.u64(3), a.u32(4));
    let iovs = env.iovecs(iovs, n)?;
    let mut total: u32 = 0;
    for (buf, len) in iovs {
        let step = len.min(CHUNK);
        env.budget(u64::from(step))?;
        file(env, fd)?;
        let (ctx, data) = env.ctx_and_bytes(buf, step)?;
        let Kind::File(f) = &mut ctx.get(fd)?.kind else { return Err(Errno::SPIPE) };
        let put = f.write_at(data, offset)?;
        total = total.saturating_add(put as u32);
        offset += put as u64;
        if put < len as usize {
            break;
        }
    }
    env.write_u32(out, total)
}

pub(crate) fn fd_seek(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, offset, whence, out) = (a.u32(0), a.u64(1) as i64, a.u32(2), a.u32(3));
    let pos = match whence {
        0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Err(Errno::INVAL),
    };
    let new = file(env, fd)?.seek(pos)?;
    env.write_u64(out, new)
}

pub(crate) fn fd_tell(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let at = file(env, a.u32(0))?.stream_position()?;
    env.write_u64(a.u32(1), at)
}

pub(crate) fn fd_close(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    env.ctx.fds.remove(&a.u32(0)).map(drop).ok_or(Errno::BADF)
}

pub(crate) fn fd_renumber(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (from, to) = (a.u32(0), a.u32(1));
    if !env.ctx.fds.contains_key(&to) {
        return Err(Errno::BADF);
    }
    let d = env.ctx.fds.remove(&from).ok_or(Errno::BADF)?;
    env.ctx.fds.insert(to, d);
    Ok(())
}

/// The file or directory behind `fd`, for syncing (a directory syncs its
/// entries).
fn syncable<'e>(env: &'e mut Env<'_, '_>, fd: u32) -> Result<&'e std::fs::File, Errno> {
    match &env.ctx.get(fd)?.kind {
        Kind::File(f) | Kind::Dir { dir: f, .. } => Ok(f),
        _ => Err(Errno::INVAL),
    }
}

pub(crate) fn fd_sync(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    Ok(syncable(env, a.u32(0))?.sync_all()?)
}

pub(crate) fn fd_datasync(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    Ok(syncable(env, a.u32(0))?.sync_data()?)
}

pub(crate) fn fd_filestat_set_size(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    Ok(file(env, a.u32(0))?.set_len(a.u64(1))?)
}

pub(crate) fn fd_fdstat_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let d: &Descriptor = env.ctx.get(a.u32(0))?;
    let ty = match &d.kind {
        Kind::Stdio(stream) => stream.filetype(),
        Kind::Dir { .. } => filetype::DIRECTORY,
        Kind::File(f) => filetype_of(f.metadata()?.file_type()),
        Kind::Listener(_) | Kind::Stream(_) => filetype::SOCKET_STREAM,
    };
    let stat = encode_fdstat(ty, d.fdflags, d.base, d.inheriting);
    env.write(a.u32(1), &stat)
}

pub(crate) fn fd_filestat_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let stat = fd_filestat(env, a.u32(0))?;
    env.write(a.u32(1), &stat)
}

/// The encoded `filestat` of descriptor `fd`.
pub(crate) fn fd_filestat(env: &mut Env<'_, '_>, fd: u32) -> Result<[u8; 64], Errno> {
    Ok(match &env.ctx.get(fd)?.kind {
        Kind::Stdio(stream) => encode_stdio_filestat(stream.filetype()),
        Kind::Dir { dir, .. } => encode_filestat(&dir.metadata()?),
        Kind::File(f) => encode_filestat(&f.metadata()?),
        Kind::Listener(l) => encode_socket_filestat(std::os::fd::AsFd::as_fd(l))?,
        Kind::Stream(s) => encode_socket_filestat(std::os::fd::AsFd::as_fd(s))?,
    })
}

/// A `filestat` for a socket: its inode, type and link count.
fn encode_socket_filestat(fd: std::os::fd::BorrowedFd<'_>) -> Result<[u8; 64], Errno> {
    let st = rustix::fs::fstat(fd)?;
    let mut b = [0u8; 64];
    b[0..8].copy_from_slice(&st.st_dev.to_le_bytes());
    b[8..16].copy_from_slice(&st.st_ino.to_le_bytes());
    b[16] = filetype::SOCKET_STREAM;
    b[24..32].copy_from_slice(&1u64.to_le_bytes());
    Ok(b)
}

/// The guest name of preopen `fd`.
fn preopen_name(env: &mut Env<'_, '_>, fd: u32) -> Result<String, Errno> {
    match &env.ctx.get(fd)?.kind {
        Kind::Dir { preopen: Some(name), .. } => Ok(name.clone()),
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn fd_prestat_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let name = preopen_name(env, a.u32(0))?;
    let mut prestat = [0u8; 8];
    prestat[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
    env.write(a.u32(1), &prestat)
}

pub(crate) fn fd_prestat_dir_name(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let name = preopen_name(env, a.u32(0))?;
    if (a.u32(2) as usize) < name.len() {
        return Err(Errno::NAMETOOLONG);
    }
    env.write(a.u32(1), name.as_bytes())
}

/// Entries read between two deadline checks in `fd_readdir`.
const DIRENTS_PER_CHECK: usize = 1024;

/// Writes directory entries from `cookie` on (cookie n = the n-th entry)
/// until the buffer is full; a full buffer tells the program to call again.
/// Entries go straight into the program's memory, the deadline is checked
/// every [`DIRENTS_PER_CHECK`] entries (also those skipped to reach
/// `cookie`), and fuel is charged for the bytes written.
pub(crate) fn fd_readdir(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, buf, len, cookie, out) = (a.u32(0), a.u32(1), a.u32(2), a.u64(3), a.u32(4));
    env.read(buf, len)?;
    let dir = match &env.ctx.get(fd)?.kind {
        Kind::Dir { dir, .. } => rustix::fs::Dir::read_from(dir)?,
        _ => return Err(Errno::NOTDIR),
    };
    let deadline = env.deadline();
    let skip = usize::try_from(cookie).unwrap_or(usize::MAX);
    let mut written: u32 = 0;
    for (i, entry) in dir.enumerate() {
        if i % DIRENTS_PER_CHECK == DIRENTS_PER_CHECK - 1 && deadline.check().is_err() {
            return Err(env.interrupt());
        }
        if i < skip {
            continue;
        }
        let entry = entry?;
        let ty = match entry.file_type() {
            rustix::fs::FileType::Directory => filetype::DIRECTORY,
            rustix::fs::FileType::RegularFile => filetype::REGULAR_FILE,
            rustix::fs::FileType::Symlink => filetype::SYMBOLIC_LINK,
            rustix::fs::FileType::CharacterDevice => filetype::CHARACTER_DEVICE,
            rustix::fs::FileType::BlockDevice => filetype::BLOCK_DEVICE,
            rustix::fs::FileType::Socket => filetype::SOCKET_STREAM,
            _ => filetype::UNKNOWN,
        };
        let bytes = encode_dirent(i as u64 + 1, entry.ino(), entry.file_name().to_bytes(), ty);
        // The last entry that fits only in part is cut (the program sees a
        // full buffer and calls again from its cookie).
        let room = (len - written) as usize;
        let piece = &bytes[..bytes.len().min(room)];
        env.budget(piece.len() as u64)?;
        env.write(buf + written, piece)?;
        written += piece.len() as u32;
        if written == len {
            break;
        }
    }
    env.write_u32(out, written)
}
