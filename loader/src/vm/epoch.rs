//! The process-wide epoch counter and the ticker thread that advances it.
//!
//! Generated code compares the counter (through `VMCTX_EPOCH_PTR`) with its
//! store's deadline at function entry and at every loop header. The counter
//! counts [`TICK`]s since the first use: the ticker recomputes it from a
//! monotonic clock on every wake-up, so a late wake-up never makes the epoch
//! fall behind real time.
//!
//! The ticker is one thread for the process, started by the first
//! [`crate::Store::set_call_timeout`] with a timeout. While a call with a
//! deadline runs ([`ActiveDeadline`] counts them) it wakes once per tick.
//! Between calls it does not tick: it naps, each nap no longer than the
//! shortest timeout any call has had ([`ActiveDeadline::new`] keeps it), so
//! a call that starts during a nap is seen running, and ticked for, before
//! its deadline; a call with a shorter timeout than any before wakes it at
//! once. After [`PARK_AFTER`] with no call it parks, and the next call
//! wakes it. A server making many short calls (a Proxy-Wasm filter: several
//! per request, a few microseconds each) thus neither wakes the ticker on
//! every call (a futex wake and a context switch each) nor has it tick a
//! thousand times a second for calls that end long before a tick.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::vm::trap::VmError;

/// Granularity of deadlines.
pub(crate) const TICK: Duration = Duration::from_millis(1);
/// [`TICK`] in nanoseconds, for `u64` arithmetic (a `u128` division is a
/// library call, on the path of every call with a deadline).
const TICK_NS: u64 = TICK.as_nanos() as u64;

/// How long the ticker goes without seeing a call start before it parks.
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// Ticks since [`start`]; only ever increases.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Calls with a deadline in progress, in all stores.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Set when a call with a deadline starts, cleared by the ticker when it
/// looks (its sign of activity). A call writes it only when it finds it
/// clear, so calls on many threads do not pass its cache line around.
static STARTED: AtomicBool = AtomicBool::new(false);
/// Set by the ticker before it parks; a call that finds it set wakes it.
static PARKED: AtomicBool = AtomicBool::new(false);
/// The shortest timeout of any call so far, in nanoseconds (at least one
/// tick): the longest nap of the ticker between calls.
static NAP_NS: AtomicU64 = AtomicU64::new(u64::MAX);
/// The ticker thread, once started.
static TICKER: OnceLock<Thread> = OnceLock::new();
/// Serialises starting the ticker.
static STARTING: Mutex<()> = Mutex::new(());

/// The counter generated code reads; its address is stable for the process.
pub(crate) fn counter() -> *const AtomicU64 {
    &EPOCH
}

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Nanoseconds in `d`, saturating.
fn nanos(d: Duration) -> u64 {
    d.as_secs().saturating_mul(1_000_000_000).saturating_add(u64::from(d.subsec_nanos()))
}

/// Brings the counter up to date with the clock and returns it.
pub(crate) fn advance() -> u64 {
    let ticks = nanos(start().elapsed()) / TICK_NS;
    // Within a tick, or while the ticker keeps up, the counter is already
    // there: only a newer value needs the read-modify-write.
    let epoch = EPOCH.load(Ordering::Relaxed);
    if epoch >= ticks {
        return epoch;
    }
    EPOCH.fetch_max(ticks, Ordering::Relaxed).max(ticks)
}

/// The current epoch, as generated code sees it.
pub(crate) fn current() -> u64 {
    EPOCH.load(Ordering::Relaxed)
}

/// The epoch at which a call starting now has run for at least `timeout`:
/// the current tick may be partly over, so one tick is added to the
/// rounded-up length.
pub(crate) fn deadline_after(timeout: Duration) -> u64 {
    // Past u64 nanoseconds (584 years), never.
    let ticks = match nanos(timeout) {
        u64::MAX => u64::MAX,
        ns => ns.div_ceil(TICK_NS),
    };
    advance().saturating_add(ticks).saturating_add(1)
}

/// Starts the ticker thread if it is not running yet.
///
/// # Errors
/// [`VmError::Resource`] if the operating system refuses the thread.
pub(crate) fn ensure_ticker() -> Result<(), VmError> {
    if TICKER.get().is_some() {
        return Ok(());
    }
    let _guard = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if TICKER.get().is_some() {
        return Ok(());
    }
    start();
    let handle = std::thread::Builder::new()
        .name("wasmc-epoch".into())
        .spawn(ticker_loop)
        .map_err(|e| VmError::resource_io("cannot start the epoch ticker thread", e))?;
    let _ = TICKER.set(handle.thread().clone());
    Ok(())
}

fn ticker_loop() {
    let mut idle_since = Instant::now();
    loop {
        if ACTIVE.load(Ordering::SeqCst) > 0 {
            // A call runs: tick, so that it meets its deadline.
            let now = nanos(start().elapsed());
            std::thread::sleep(Duration::from_nanos(TICK_NS - now % TICK_NS));
            advance();
            STARTED.store(false, Ordering::SeqCst);
            idle_since = Instant::now();
            continue;
        }
        if STARTED.swap(false, Ordering::SeqCst) {
            idle_since = Instant::now();
        } else if idle_since.elapsed() >= PARK_AFTER {
            PARKED.store(true, Ordering::SeqCst);
            // A call that starts after this check finds PARKED set and
            // unparks us (`unpark` before `park` makes `park` return at
            // once); one that started before it set STARTED.
            if ACTIVE.load(Ordering::SeqCst) == 0 && !STARTED.load(Ordering::SeqCst) {
                std::thread::park();
            }
            PARKED.store(false, Ordering::SeqCst);
            idle_since = Instant::now();
            continue;
        }
        // No call runs. One that starts during the nap is still running at
        // its end only if it runs longer than the nap, which is no longer
        // than its timeout: it is ticked for before its deadline. A call
        // with a shorter timeout cuts the nap short.
        let nap = Duration::from_nanos(NAP_NS.load(Ordering::SeqCst)).min(PARK_AFTER);
        std::thread::park_timeout(nap);
        advance();
    }
}

/// Keeps the ticker awake while a call with a deadline runs.
#[derive(Debug)]
pub(crate) struct ActiveDeadline(());

impl ActiveDeadline {
    /// Marks a call with a deadline `timeout` from now as running.
    ///
    /// # Errors
    /// [`VmError::Resource`] if the ticker thread cannot be started.
    pub(crate) fn new(timeout: Duration) -> Result<ActiveDeadline, VmError> {
        ensure_ticker()?;
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        // Read before written: most calls find the flag set and the nap no
        // longer than their timeout, and write neither.
        if !STARTED.load(Ordering::Relaxed) {
            STARTED.store(true, Ordering::SeqCst);
        }
        let nap = nanos(timeout).max(TICK_NS);
        let shorter = nap < NAP_NS.load(Ordering::SeqCst) && NAP_NS.fetch_min(nap, Ordering::SeqCst) > nap;
        if shorter || (PARKED.load(Ordering::SeqCst) && PARKED.swap(false, Ordering::SeqCst)) {
            if let Some(ticker) = TICKER.get() {
                ticker.unpark();
            }
        }
        Ok(ActiveDeadline(()))
    }
}

impl Drop for ActiveDeadline {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_never_fall_in_the_past() {
        let now = advance();
        let d = deadline_after(Duration::from_micros(1500));
        assert!(d >= now + 3, "1.5 ms is 2 ticks plus the partial current tick: {d} vs {now}");
        assert!(deadline_after(Duration::ZERO) > now);
        assert_eq!(deadline_after(Duration::MAX), u64::MAX);
    }

    #[test]
    fn the_ticker_advances_the_epoch_while_a_deadline_is_active() {
        let guard = ActiveDeadline::new(Duration::from_millis(100)).expect("ticker starts");
        let before = current();
        let t0 = Instant::now();
        while current() < before + 3 {
            assert!(t0.elapsed() < Duration::from_secs(5), "the epoch did not advance");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(guard);
    }

    /// Waits until the ticker has advanced the epoch by 3 ticks past
    /// `before` (never long while a call runs), or fails.
    fn ticks_within(before: u64, limit: Duration, why: &str) {
        let t0 = Instant::now();
        while current() < before + 3 {
            assert!(t0.elapsed() < limit, "{why}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_call_after_the_ticker_parked_wakes_it() {
        drop(ActiveDeadline::new(Duration::from_secs(60)).expect("ticker starts"));
        // Long enough for the ticker to park (unless another test keeps it
        // busy, which this test must survive too).
        std::thread::sleep(PARK_AFTER + Duration::from_millis(200));
        let guard = ActiveDeadline::new(Duration::from_secs(60)).expect("ticker running");
        ticks_within(current(), Duration::from_secs(5), "the parked ticker was not woken");
        drop(guard);
    }

    #[test]
    fn a_call_that_starts_while_the_ticker_naps_is_ticked_for_before_its_deadline() {
        // Short calls, as a server makes them: the ticker naps between them.
        for _ in 0..100 {
            drop(ActiveDeadline::new(Duration::from_millis(200)).expect("ticker starts"));
        }
        std::thread::sleep(Duration::from_millis(20));
        // A long call: the epoch must be advancing well before its 200 ms
        // are up (the nap is at most 200 ms, or shorter for other tests).
        let guard = ActiveDeadline::new(Duration::from_millis(200)).expect("ticker running");
        let before = current();
        ticks_within(before, Duration::from_millis(200) + Duration::from_millis(100), "not ticked for in time");
        drop(guard);
    }
}
