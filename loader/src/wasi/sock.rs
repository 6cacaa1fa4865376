//! Sockets: `sock_accept`, `sock_recv`, `sock_send`, `sock_shutdown`.
//!
//! A program has no socket unless the embedder grants a listener
//! ([`super::WasiCtxBuilder::preopen_socket`]); it can accept connections
//! on it and talk on those. On any other descriptor these calls fail with
//! `ENOTSOCK`. A blocking wait (accept, receive, send) waits no longer
//! than the call's deadline; past it, the call ends with an
//! `Interrupted` trap.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;

use super::ctx::{Descriptor, Kind};
use super::mem::Env;
use super::types::{flags, rights};
use super::wait::ready;
use super::{Args, Errno};

/// `riflags`, `sdflags` bits.
const RECV_PEEK: u16 = 1;
const RECV_WAITALL: u16 = 2;
const SHUT_RD: u32 = 1;
const SHUT_WR: u32 = 2;

/// The errno for a socket call on a descriptor that is not a connection.
fn not_a_stream(kind: &Kind) -> Errno {
    match kind {
        Kind::Listener(_) => Errno::NOTCONN,
        _ => Errno::NOTSOCK,
    }
}

pub(crate) fn sock_accept(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, fdflags, out) = (a.u32(0), a.u32(1), a.u32(2));
    let fdflags = u16::try_from(fdflags).map_err(|_| Errno::INVAL)?;
    if fdflags & !flags::FD_NONBLOCK != 0 {
        return Err(Errno::INVAL);
    }
    env.read(out, 4)?;
    let deadline = env.deadline();
    let d = env.ctx.get(fd)?;
    let Kind::Listener(listener) = &d.kind else {
        return Err(match d.kind {
            Kind::Stream(_) => Errno::INVAL,
            _ => Errno::NOTSOCK,
        });
    };
    if d.base & rights::SOCK_ACCEPT == 0 {
        return Err(Errno::NOTCAPABLE);
    }
    if d.fdflags & flags::FD_NONBLOCK == 0 && !ready(listener.as_fd(), false, Some(deadline))? {
        return Err(env.interrupt());
    }
    let (stream, _) = match listener.accept() {
        Ok(accepted) => accepted,
        Err(e) if e.kind() == ErrorKind::WouldBlock => return Err(Errno::AGAIN),
        Err(e) => return Err(e.into()),
    };
    // Non-blocking on the host, as files are: waits go through `poll`
    // within the deadline (see `super::wait`); `fdflags` says whether the program
    // asked to wait at all.
    stream.set_nonblocking(true)?;
    let new_fd = env.ctx.insert(Descriptor::new(Kind::Stream(stream), fdflags))?;
    if let Err(e) = env.write_u32(out, new_fd) {
        env.ctx.fds.remove(&new_fd);
        return Err(e);
    }
    Ok(())
}

pub(crate) fn sock_recv(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, iovs, n, riflags, out_len, out_flags) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3), a.u32(4), a.u32(5));
    let riflags = u16::try_from(riflags).map_err(|_| Errno::INVAL)?;
    if riflags & !(RECV_PEEK | RECV_WAITALL) != 0 {
        return Err(Errno::INVAL);
    }
    let iovs = env.iovecs(iovs, n)?;
    env.read(out_len, 4)?;
    env.read(out_flags, 2)?;
    let want: usize = iovs.iter().map(|&(_, len)| len as usize).sum();
    let deadline = env.deadline();
    let d = env.ctx.get(fd)?;
    if d.base & rights::FD_READ == 0 {
        return Err(Errno::NOTCAPABLE);
    }
    let blocking = d.fdflags & flags::FD_NONBLOCK == 0;
    let Kind::Stream(stream) = &mut d.kind else {
        return Err(not_a_stream(&d.kind));
    };
    let mut data = vec![0u8; want.min(1 << 20)];
    let mut got = 0;
    while got < data.len() {
        if blocking && !ready(stream.as_fd(), false, Some(deadline))? {
            return Err(env.interrupt());
        }
        let r = if riflags & RECV_PEEK != 0 { stream.peek(&mut data[got..]) } else { stream.read(&mut data[got..]) };
        match r {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == ErrorKind::WouldBlock && got > 0 => break,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Err(Errno::AGAIN),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        if riflags & RECV_WAITALL == 0 || riflags & RECV_PEEK != 0 {
            break;
        }
    }
    let mut at = 0;
    for (buf, len) in iovs {
        let take = (len as usize).min(got - at);
        env.write(buf, &data[at..at + take])?;
        at += take;
    }
    env.write_u32(out_len, got as u32)?;
    env.write(out_flags, &0u16.to_le_bytes())
}

pub(crate) fn sock_send(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, iovs, n, siflags, out_len) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3), a.u32(4));
    if siflags != 0 {
        return Err(Errno::INVAL);
    }
    let iovs = env.iovecs(iovs, n)?;
    env.read(out_len, 4)?;
    let mut data = Vec::new();
    for &(buf, len) in &iovs {
        data.extend_from_slice(env.read(buf, len)?);
    }
    let deadline = env.deadline();
    let d = env.ctx.get(fd)?;
    if d.base & rights::FD_WRITE == 0 {
        return Err(Errno::NOTCAPABLE);
    }
    let blocking = d.fdflags & flags::FD_NONBLOCK == 0;
    let Kind::Stream(stream) = &mut d.kind else {
        return Err(not_a_stream(&d.kind));
    };
    let sent = loop {
        if blocking && !data.is_empty() && !ready(stream.as_fd(), true, Some(deadline))? {
            return Err(env.interrupt());
        }
        match stream.write(&data) {
            Ok(k) => break k,
            Err(e) if e.kind() == ErrorKind::WouldBlock && blocking => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Err(Errno::AGAIN),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    };
    env.write_u32(out_len, sent as u32)
}

pub(crate) fn sock_shutdown(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (fd, how) = (a.u32(0), a.u32(1));
    let d = env.ctx.get(fd)?;
    let Kind::Stream(stream) = &d.kind else {
        return Err(not_a_stream(&d.kind));
    };
    if d.base & rights::SOCK_SHUTDOWN == 0 {
        return Err(Errno::NOTCAPABLE);
    }
    let how = match how {
        SHUT_RD => Shutdown::Read,
        SHUT_WR => Shutdown::Write,
        3 => Shutdown::Both,
        _ => return Err(Errno::INVAL),
    };
    Ok(stream.shutdown(how)?)
}
