//! Timestamps: `fd_filestat_set_times` and `path_filestat_set_times`.

use std::os::fd::AsFd;

use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps, UTIME_NOW, UTIME_OMIT};

use super::ctx::Kind;
use super::mem::Env;
use super::path::open_beneath;
use super::pathops::dir_and_path;
use super::types::flags;
use super::{Args, Errno};

/// The host timestamps for WASI's `atim`, `mtim` and `fstflags`: a time
/// given (`ATIM`), now (`ATIM_NOW`) or unchanged (neither); asking for
/// both a time and now, or an unknown flag, is `EINVAL`.
fn timestamps(atim: u64, mtim: u64, fstflags: u32) -> Result<Timestamps, Errno> {
    let fst = u16::try_from(fstflags).map_err(|_| Errno::INVAL)?;
    if fst & !(flags::ATIM | flags::ATIM_NOW | flags::MTIM | flags::MTIM_NOW) != 0 {
        return Err(Errno::INVAL);
    }
    let one = |time: u64, set: u16, now: u16| -> Result<Timespec, Errno> {
        match (fst & set != 0, fst & now != 0) {
            (true, true) => Err(Errno::INVAL),
            (true, false) => Ok(Timespec {
                tv_sec: i64::try_from(time / 1_000_000_000).map_err(|_| Errno::INVAL)?,
                tv_nsec: (time % 1_000_000_000) as _,
            }),
            (false, true) => Ok(Timespec { tv_sec: 0, tv_nsec: UTIME_NOW }),
            (false, false) => Ok(Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT }),
        }
    };
    Ok(Timestamps {
        last_access: one(atim, flags::ATIM, flags::ATIM_NOW)?,
        last_modification: one(mtim, flags::MTIM, flags::MTIM_NOW)?,
    })
}

pub(crate) fn fd_filestat_set_times(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, atim, mtim, fst) = (a.u32(0), a.u64(1), a.u64(2), a.u32(3));
    let times = timestamps(atim, mtim, fst)?;
    let host = match &env.ctx.get(fd)?.kind {
        Kind::File(f) => f.as_fd(),
        Kind::Dir { dir, .. } => dir.as_fd(),
        // Stdio and sockets hold no rights to timestamps (the dispatcher
        // refused already); never touch the host's terminal.
        _ => return Err(Errno::BADF),
    };
    Ok(rustix::fs::futimens(host, &times)?)
}

/// Sets the times of what `path` names beneath the directory; with
/// `LOOKUPFLAGS_SYMLINK_FOLLOW` a final symlink is followed (and must stay
/// beneath), otherwise the link itself changes.
pub(crate) fn path_filestat_set_times(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, lookup, path_ptr, path_len) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    let (atim, mtim, fst) = (a.u64(4), a.u64(5), a.u32(6));
    let times = timestamps(atim, mtim, fst)?;
    let (dir, path) = dir_and_path(env, fd, path_ptr, path_len)?;
    let follow = lookup & flags::LOOKUP_SYMLINK_FOLLOW != 0;
    // Resolved beneath the directory to an O_PATH descriptor of the object
    // itself (the link, without follow), whose times change through it.
    let target = open_beneath(&dir, &path, OFlags::PATH, Mode::empty(), follow)?;
    Ok(rustix::fs::utimensat(&target, "", &times, AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_and_now_for_the_same_stamp_or_an_unknown_flag_is_einval() {
        let both = [flags::ATIM | flags::ATIM_NOW, flags::MTIM | flags::MTIM_NOW].map(u32::from);
        for bad in both.into_iter().chain([16, 0x1_0000]) {
            assert_eq!(timestamps(1, 2, bad).err(), Some(Errno::INVAL), "{bad:#x}");
        }
    }

    #[test]
    fn stamps_are_given_now_or_left_alone() {
        let t = timestamps(1_500_000_000_123_456_789, 0, u32::from(flags::ATIM | flags::MTIM_NOW)).unwrap();
        assert_eq!((t.last_access.tv_sec, t.last_access.tv_nsec), (1_500_000_000, 123_456_789));
        assert_eq!(t.last_modification.tv_nsec, UTIME_NOW);
        let t = timestamps(7, 7, 0).unwrap();
        assert_eq!((t.last_access.tv_nsec, t.last_modification.tv_nsec), (UTIME_OMIT, UTIME_OMIT));
    }
}
