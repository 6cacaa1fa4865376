//! `poll_oneoff`: waits for clocks (relative or absolute) and for
//! descriptors to become readable or writable, never past the call's
//! deadline.
//!
//! Regular files are always ready (as on a host). Stdio, pipes and
//! sockets are waited on with the host's `poll`; clocks become a timeout.
//! The wait is cut at the call's deadline ([`Env::deadline`]): if it
//! passes first, the syscall stops ([`Env::interrupt`]) and the call into
//! wasm ends with an `Interrupted` trap.

use std::io::Seek;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::event::{PollFd, PollFlags, Timespec};

use super::ctx::{Kind, Stdio, WasiCtx};
use super::mem::Env;
use super::types::rights;
use super::{Args, Errno};

/// Bytes of one `event`.
const EVENT: u32 = 32;

/// Where the fields of a `subscription` are: its size, and the offsets of
/// a clock subscription's `id`, `timeout` and `flags`. Preview 0's clock
/// subscription has one more field first (an `identifier`), so they
/// differ; the rest is the same.
pub(crate) struct SubscriptionLayout {
    size: u32,
    clock_id: usize,
    timeout: usize,
    flags: usize,
}

/// Preview 1's `subscription`.
pub(crate) const PREVIEW1: SubscriptionLayout = SubscriptionLayout { size: 48, clock_id: 16, timeout: 24, flags: 40 };

/// Preview 0's (`wasi_unstable`).
pub(crate) const PREVIEW0: SubscriptionLayout = SubscriptionLayout { size: 56, clock_id: 24, timeout: 32, flags: 48 };

/// `eventtype`.
const CLOCK: u8 = 0;
const FD_READ: u8 = 1;
const FD_WRITE: u8 = 2;

/// `subclockflags`: the timeout is an absolute time of the clock.
const ABSTIME: u16 = 1;
/// `eventrwflags`: the peer hung up.
const HANGUP: u16 = 1;

/// One `event` to report.
struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
    hangup: bool,
}

impl Event {
    fn encode(&self) -> [u8; EVENT as usize] {
        let mut b = [0u8; EVENT as usize];
        b[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&self.error.0.to_le_bytes());
        b[10] = self.kind;
        b[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        b[24..26].copy_from_slice(&(if self.hangup { HANGUP } else { 0 }).to_le_bytes());
        b
    }

    fn error(userdata: u64, kind: u8, error: Errno) -> Event {
        Event { userdata, error, kind, nbytes: 0, hangup: false }
    }

    /// A descriptor ready now; a read reports the bytes `left()` before
    /// the end (asked only for a read).
    fn ready(userdata: u64, kind: u8, left: impl FnOnce() -> u64) -> Event {
        let nbytes = if kind == FD_READ { left() } else { 0 };
        Event { userdata, error: Errno::SUCCESS, kind, nbytes, hangup: false }
    }
}

/// A subscription still waited for.
enum Wait {
    /// A clock that fires at this instant (`None`: too far to matter).
    Clock { userdata: u64, at: Option<Instant> },
    /// A host descriptor to poll (index into the poll set).
    Host { userdata: u64, kind: u8, slot: usize },
}

/// When a clock subscription fires, as an instant of this process.
fn clock_instant(ctx: &WasiCtx, id: u32, timeout: u64, flags: u16, now: Instant) -> Result<Option<Instant>, Errno> {
    let after = if flags & ABSTIME == 0 {
        match id {
            0..=3 => timeout,
            _ => return Err(Errno::INVAL),
        }
    } else {
        let clock_now = match id {
            0 => u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos())
                .unwrap_or(u64::MAX),
            1 => u64::try_from(ctx.start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            // CPU-time clocks do not advance while the program waits.
            2 | 3 => return Err(Errno::NOTSUP),
            _ => return Err(Errno::INVAL),
        };
        timeout.saturating_sub(clock_now)
    };
    Ok(now.checked_add(Duration::from_nanos(after)))
}

/// The host descriptor behind `fd` for a read or write subscription, or
/// the event to report at once (files and the embedder's streams are
/// always ready; errors).
fn classify<'c>(ctx: &'c WasiCtx, fd: u32, userdata: u64, kind: u8) -> Result<BorrowedFd<'c>, Event> {
    let Some(d) = ctx.fds.get(&fd) else {
        return Err(Event::error(userdata, kind, Errno::BADF));
    };
    let needs = if kind == FD_READ { rights::FD_READ } else { rights::FD_WRITE };
    if d.base & rights::POLL_FD_READWRITE == 0 && d.base & needs == 0 {
        return Err(Event::error(userdata, kind, Errno::NOTCAPABLE));
    }
    match &d.kind {
        Kind::File(f) => Err(Event::ready(userdata, kind, || {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let mut handle = f;
            len.saturating_sub(handle.stream_position().unwrap_or(len))
        })),
        Kind::Stdio(Stdio::Input(bytes)) => {
            Err(Event::ready(userdata, kind, || (bytes.get_ref().len() as u64).saturating_sub(bytes.position())))
        }
        Kind::Stdio(Stdio::Output(_)) => Err(Event::ready(userdata, kind, || 0)),
        Kind::Dir { .. } => Err(Event::error(userdata, kind, Errno::BADF)),
        Kind::Stdio(Stdio::HostStdin) => Ok(rustix::stdio::stdin()),
        Kind::Stdio(Stdio::HostStdout) => Ok(rustix::stdio::stdout()),
        Kind::Stdio(Stdio::HostStderr) => Ok(rustix::stdio::stderr()),
        Kind::Listener(l) => Ok(l.as_fd()),
        Kind::Stream(s) => Ok(s.as_fd()),
    }
}

pub(crate) fn poll_oneoff(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    poll_oneoff_in(env, a, &PREVIEW1)
}

/// `poll_oneoff` of subscriptions laid out as `layout` says.
pub(crate) fn poll_oneoff_in(env: &mut Env<'_, '_>, a: &Args<'_>, layout: &SubscriptionLayout) -> Result<(), Errno> {
    let (in_ptr, out_ptr, n, out_count) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    if n == 0 {
        return Err(Errno::INVAL);
    }
    let raw = env.read(in_ptr, n.checked_mul(layout.size).ok_or(Errno::FAULT)?)?.to_vec();
    env.read(out_ptr, n.checked_mul(EVENT).ok_or(Errno::FAULT)?)?;
    env.read(out_count, 4)?;
    let deadline = env.deadline();
    let ctx: &WasiCtx = env.ctx;
    let now = Instant::now();
    let mut ready: Vec<Event> = Vec::new();
    let mut waits: Vec<Wait> = Vec::new();
    let mut host: Vec<PollFd<'_>> = Vec::new();
    for sub in raw.chunks_exact(layout.size as usize) {
        let u64_at = |i: usize| u64::from_le_bytes(sub[i..i + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |i: usize| u32::from_le_bytes(sub[i..i + 4].try_into().unwrap_or([0; 4]));
        let userdata = u64_at(0);
        match sub[8] {
            CLOCK => {
                let flags = u16::from_le_bytes([sub[layout.flags], sub[layout.flags + 1]]);
                match clock_instant(ctx, u32_at(layout.clock_id), u64_at(layout.timeout), flags, now) {
                    Ok(at) => waits.push(Wait::Clock { userdata, at }),
                    Err(e) => ready.push(Event::error(userdata, CLOCK, e)),
                }
            }
            kind @ (FD_READ | FD_WRITE) => match classify(ctx, u32_at(16), userdata, kind) {
                Ok(fd) => {
                    let flags = if kind == FD_READ { PollFlags::IN } else { PollFlags::OUT };
                    waits.push(Wait::Host { userdata, kind, slot: host.len() });
                    host.push(PollFd::from_borrowed_fd(fd, flags));
                }
                Err(event) => ready.push(event),
            },
            _ => return Err(Errno::INVAL),
        }
    }
    loop {
        let now = Instant::now();
        // Wait until the first clock fires, no longer than the deadline;
        // not at all when something is ready already.
        let first_clock = waits.iter().filter_map(|w| if let Wait::Clock { at, .. } = w { *at } else { None }).min();
        let until = [first_clock, deadline.remaining().map(|left| now + left)].into_iter().flatten().min();
        let timeout =
            if ready.is_empty() { until.map(|t| t.saturating_duration_since(now)) } else { Some(Duration::ZERO) };
        if host.is_empty() {
            // Only clocks (there is at least one subscription).
            if let Some(t) = timeout {
                std::thread::sleep(t);
            }
        } else {
            let spec = timeout.map(|t| Timespec {
                tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: t.subsec_nanos().into(),
            });
            match rustix::event::poll(&mut host, spec.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let now = Instant::now();
        for w in &waits {
            match *w {
                Wait::Clock { userdata, at } if at.is_some_and(|at| at <= now) => {
                    ready.push(Event::error(userdata, CLOCK, Errno::SUCCESS));
                }
                Wait::Host { userdata, kind, slot } => {
                    let revents = host.get(slot).map(PollFd::revents).unwrap_or(PollFlags::empty());
                    if revents.intersects(PollFlags::IN | PollFlags::OUT | PollFlags::HUP | PollFlags::ERR) {
                        let error = if revents.contains(PollFlags::NVAL) { Errno::BADF } else { Errno::SUCCESS };
                        let hangup = revents.contains(PollFlags::HUP);
                        ready.push(Event { userdata, error, kind, nbytes: 0, hangup });
                    } else if revents.contains(PollFlags::NVAL) {
                        ready.push(Event::error(userdata, kind, Errno::BADF));
                    }
                }
                Wait::Clock { .. } => {}
            }
        }
        if !ready.is_empty() {
            break;
        }
        if deadline.remaining().is_some_and(|left| left.is_zero()) {
            return Err(env.interrupt());
        }
    }
    let count = ready.len() as u32;
    for (i, event) in ready.iter().enumerate() {
        env.write(out_ptr + i as u32 * EVENT, &event.encode())?;
    }
    env.write_u32(out_count, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_has_the_witx_layout() {
        let e = Event { userdata: 0x0102_0304_0506_0708, error: Errno::BADF, kind: FD_WRITE, nbytes: 9, hangup: true };
        let b = e.encode();
        assert_eq!(&b[0..8], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(u16::from_le_bytes([b[8], b[9]]), 8);
        assert_eq!(b[10], FD_WRITE);
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 9);
        assert_eq!(u16::from_le_bytes([b[24], b[25]]), HANGUP);
    }

    #[test]
    fn absolute_clocks_in_the_past_fire_at_once_and_unknown_clocks_are_einval() {
        let ctx = WasiCtx::builder().build().unwrap();
        let now = Instant::now();
        assert_eq!(clock_instant(&ctx, 0, 0, ABSTIME, now), Ok(Some(now)));
        assert_eq!(clock_instant(&ctx, 1, 0, ABSTIME, now), Ok(Some(now)));
        assert_eq!(clock_instant(&ctx, 1, 5, 0, now), Ok(Some(now + Duration::from_nanos(5))));
        assert_eq!(clock_instant(&ctx, 9, 5, 0, now), Err(Errno::INVAL));
    }
}
