//! Reads and writes that may wait (stdin, FIFOs, terminals) without
//! outliving the call's deadline.
//!
//! A program that reads a pipe nobody writes to would otherwise block its
//! thread for good, and the epoch checks in generated code never run while
//! it does. So a read first `poll`s its descriptor for at most the time
//! left before the deadline (forever when there is none), and a write that
//! finds the descriptor full does the same; when the deadline passes, the
//! syscall stops and the call traps with `Interrupted`. Only the first
//! piece of a transfer waits: once some bytes have moved, a descriptor
//! that is not ready ends it, and the syscall returns the count.
//!
//! Descriptors the program opens by path are opened `O_NONBLOCK` (so that
//! opening a FIFO never blocks either; `fd_fdstat_get` still reports the
//! flags the program asked for), which also makes a read after a `poll`
//! never block. Inherited stdin is left as the host set it; a read there
//! follows a `poll` that reported data, so it blocks only if another
//! reader of the same stdin takes the data first. Inherited stdout and
//! stderr are left as the host set them too (usually blocking, and shared
//! with the host): a write there waits for room with `poll` and then
//! writes at most `PIPE_BUF` bytes at a time, which a pipe reporting room
//! takes without blocking ([`write_shared`]).

use std::os::fd::BorrowedFd;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno as HostErrno;

use super::Errno;
use crate::vm::limits::Deadline;

/// How a wait ended.
pub(crate) enum Waited<T> {
    Done(T),
    /// The deadline passed first.
    Interrupted,
}

/// Whether a read or write may wait for its descriptor.
#[derive(Clone, Copy)]
pub(crate) enum Wait {
    /// Until the call's deadline (forever without one): a blocking
    /// descriptor as the program sees it.
    Until(Deadline),
    /// Not at all, and `EAGAIN` is the answer: the program asked for a
    /// non-blocking descriptor.
    Never,
    /// Not at all, and a descriptor that is not ready ends the transfer
    /// (`Done(0)`): the syscall already moved some bytes, which it returns,
    /// as `readv`/`writev` do.
    NotAgain,
}

impl Wait {
    /// How the next piece of a transfer that has moved `moved` bytes so
    /// far waits, on a descriptor the program asked to be non-blocking or
    /// not.
    pub(crate) fn for_transfer(nonblocking: bool, moved: u32, deadline: Deadline) -> Wait {
        match (moved, nonblocking) {
            (1.., _) => Wait::NotAgain,
            (0, true) => Wait::Never,
            (0, false) => Wait::Until(deadline),
        }
    }
}

/// Waits until `fd` is readable (or writable), hung up or in error, at
/// most until `deadline` (`None`: not at all, just look). `Ok(false)` when
/// it is not ready by then.
pub(crate) fn ready(fd: BorrowedFd<'_>, write: bool, deadline: Option<Deadline>) -> Result<bool, Errno> {
    let events = if write { PollFlags::OUT } else { PollFlags::IN };
    loop {
        let timeout = match deadline.map(Deadline::remaining) {
            // Now: a zero timeout.
            None => Some(Timespec { tv_sec: 0, tv_nsec: 0 }),
            // No deadline: no timeout.
            Some(None) => None,
            Some(Some(left)) if left.is_zero() => return Ok(false),
            Some(Some(left)) => Some(Timespec::try_from(left).map_err(|_| Errno::INVAL)?),
        };
        let mut fds = [PollFd::from_borrowed_fd(fd, events)];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) if deadline.is_none() => return Ok(false),
            // A timeout: the loop sees whether the deadline has passed.
            Ok(0) | Err(HostErrno::INTR) => continue,
            Ok(_) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads from `fd` into `buf`, waiting for data as `wait` says.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8], wait: Wait) -> Result<Waited<usize>, Errno> {
    loop {
        // Polled first: a FIFO opened non-blocking reads as at its end
        // while no writer has it open, where a blocking read would wait.
        match wait {
            Wait::Until(deadline) if !ready(fd, false, Some(deadline))? => return Ok(Waited::Interrupted),
            Wait::NotAgain if !ready(fd, false, None)? => return Ok(Waited::Done(0)),
            _ => {}
        }
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Ok(Waited::Done(n)),
            Err(HostErrno::INTR) => continue,
            Err(HostErrno::AGAIN) => match wait {
                Wait::Until(_) => continue,
                Wait::NotAgain => return Ok(Waited::Done(0)),
                Wait::Never => return Err(Errno::AGAIN),
            },
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes `data` to `fd`, waiting for room as `wait` says.
pub(crate) fn write(fd: BorrowedFd<'_>, data: &[u8], wait: Wait) -> Result<Waited<usize>, Errno> {
    loop {
        match rustix::io::write(fd, data) {
            Ok(n) => return Ok(Waited::Done(n)),
            Err(HostErrno::INTR) => continue,
            Err(HostErrno::AGAIN) => match wait {
                Wait::Until(deadline) => {
                    if !ready(fd, true, Some(deadline))? {
                        return Ok(Waited::Interrupted);
                    }
                }
                Wait::NotAgain => return Ok(Waited::Done(0)),
                Wait::Never => return Err(Errno::AGAIN),
            },
            Err(e) => return Err(e.into()),
        }
    }
}

/// Bytes a pipe that `poll` reports writable takes in one write without
/// blocking (POSIX's `PIPE_BUF` on Linux).
const PIPE_BUF: usize = 4096;

/// Writes `data` to a descriptor the host shares and may have left
/// blocking (inherited stdout and stderr): each piece of at most
/// [`PIPE_BUF`] bytes waits for room as `wait` says (the first) or not at
/// all (the rest: a full descriptor ends the transfer with what was
/// written), so a reader that stops draining the pipe holds the call up to
/// its deadline, not for good.
pub(crate) fn write_shared(fd: BorrowedFd<'_>, data: &[u8], wait: Wait) -> Result<Waited<usize>, Errno> {
    let mut done = 0;
    while done < data.len() {
        let room = match (done, wait) {
            (0, Wait::Until(deadline)) => ready(fd, true, Some(deadline))?,
            _ => ready(fd, true, None)?,
        };
        if !room {
            return match (done, wait) {
                (0, Wait::Until(_)) => Ok(Waited::Interrupted),
                (0, Wait::Never) => Err(Errno::AGAIN),
                _ => Ok(Waited::Done(done)),
            };
        }
        let piece = &data[done..data.len().min(done + PIPE_BUF)];
        match rustix::io::write(fd, piece) {
            Ok(n) => done += n,
            Err(HostErrno::INTR) => continue,
            Err(HostErrno::AGAIN) => continue,
            Err(e) if done == 0 => return Err(e.into()),
            Err(_) => break,
        }
    }
    Ok(Waited::Done(done))
}
