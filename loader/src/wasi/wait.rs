//! Reads and writes that may wait (stdin, FIFOs, terminals) without
//! outliving the call's deadline.
//!
//! A program that reads a pipe nobody writes to would otherwise block its
//! thread for good, and the epoch checks in generated code never run while
//! it does. So a read first `poll`s its descriptor for at most the time
//! left before the deadline (forever when there is none), and a write that
//! finds the descriptor full does the same; when the deadline passes, the
//! syscall stops and the call traps with `Interrupted`.
//!
//! Descriptors the program opens by path are opened `O_NONBLOCK` (so that
//! opening a FIFO never blocks either; `fd_fdstat_get` still reports the
//! flags the program asked for), which also makes a read after a `poll`
//! never block. Inherited stdin is left as the host set it; a read there
//! follows a `poll` that reported data, so it blocks only if another
//! reader of the same stdin takes the data first.

use std::os::fd::BorrowedFd;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno as HostErrno;

use super::Errno;
use crate::limits::Deadline;

/// How a wait ended.
pub(crate) enum Waited<T> {
    Done(T),
    /// The deadline passed first.
    Interrupted,
}

/// Waits until `fd` is readable (or writable), hung up or in error.
/// `Ok(false)` when the deadline passes first.
fn ready(fd: BorrowedFd<'_>, write: bool, deadline: Deadline) -> Result<bool, Errno> {
    let events = if write { PollFlags::OUT } else { PollFlags::IN };
    loop {
        let timeout = match deadline.remaining() {
            None => None,
            Some(left) if left.is_zero() => return Ok(false),
            Some(left) => Some(Timespec::try_from(left).map_err(|_| Errno::INVAL)?),
        };
        let mut fds = [PollFd::from_borrowed_fd(fd, events)];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            // A timeout: the loop sees whether the deadline has passed.
            Ok(0) | Err(HostErrno::INTR) => continue,
            Ok(_) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads from `fd` into `buf`, waiting for data unless the program asked
/// for a non-blocking descriptor (`EAGAIN` then comes back as is).
pub(crate) fn read(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    nonblocking: bool,
    deadline: Deadline,
) -> Result<Waited<usize>, Errno> {
    loop {
        // Polled first: a FIFO opened non-blocking reads as at its end
        // while no writer has it open, where a blocking read would wait.
        if !nonblocking && !ready(fd, false, deadline)? {
            return Ok(Waited::Interrupted);
        }
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Ok(Waited::Done(n)),
            Err(HostErrno::INTR) => continue,
            Err(HostErrno::AGAIN) if !nonblocking => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes `data` to `fd`, waiting for room unless the program asked for a
/// non-blocking descriptor.
pub(crate) fn write(
    fd: BorrowedFd<'_>,
    data: &[u8],
    nonblocking: bool,
    deadline: Deadline,
) -> Result<Waited<usize>, Errno> {
    loop {
        match rustix::io::write(fd, data) {
            Ok(n) => return Ok(Waited::Done(n)),
            Err(HostErrno::INTR) => continue,
            Err(HostErrno::AGAIN) if !nonblocking => {
                if !ready(fd, true, deadline)? {
                    return Ok(Waited::Interrupted);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}
