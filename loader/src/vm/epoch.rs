//! The process-wide epoch counter and the ticker thread that advances it.
//!
//! Generated code compares the counter (through `VMCTX_EPOCH_PTR`) with its
//! store's deadline at function entry and at every loop header. The counter
//! counts [`TICK`]s since the first use: the ticker recomputes it from a
//! monotonic clock on every wake-up, so a late wake-up never makes the epoch
//! fall behind real time.
//!
//! The ticker is one thread for the process, started by the first
//! [`crate::Store::set_call_timeout`] with a timeout. It wakes once per tick
//! while calls with a deadline run ([`ActiveDeadline`] counts them) and for
//! [`LINGER_TICKS`] after the last one, then parks until the next call. The
//! lingering keeps a server that makes many short calls (a Proxy-Wasm
//! filter: several per request) from waking the parked ticker on almost
//! every call, a futex wake on the caller's thread and a context switch
//! each.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::vm::trap::VmError;

/// Granularity of deadlines.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// Ticks since [`start`]; only ever increases.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Ticks the ticker goes on ticking after the last call with a deadline
/// ended, before it parks.
pub(crate) const LINGER_TICKS: u32 = 10;

/// Calls with a deadline in progress, in all stores.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Calls with a deadline started so far (the ticker's sign of activity).
static STARTED: AtomicU64 = AtomicU64::new(0);
/// Set by the ticker before it parks; a call that finds it set wakes it.
static PARKED: AtomicBool = AtomicBool::new(false);
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

/// Brings the counter up to date with the clock and returns it.
pub(crate) fn advance() -> u64 {
    let ticks = u64::try_from(start().elapsed().as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX);
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
    let ticks = timeout.as_nanos().div_ceil(TICK.as_nanos());
    let ticks = u64::try_from(ticks).unwrap_or(u64::MAX);
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
    let idle = |seen: u64| ACTIVE.load(Ordering::SeqCst) == 0 && STARTED.load(Ordering::SeqCst) == seen;
    let mut seen = STARTED.load(Ordering::SeqCst);
    let mut idle_ticks = 0;
    loop {
        if !idle(seen) {
            idle_ticks = 0;
            seen = STARTED.load(Ordering::SeqCst);
        } else if idle_ticks < LINGER_TICKS {
            idle_ticks += 1;
        } else {
            PARKED.store(true, Ordering::SeqCst);
            // A call that starts after this check finds PARKED set and
            // unparks us (`unpark` before `park` makes `park` return at
            // once); one that started before it changed STARTED.
            if idle(seen) {
                std::thread::park();
            }
            PARKED.store(false, Ordering::SeqCst);
            idle_ticks = 0;
            continue;
        }
        let now = start().elapsed();
        let next_tick = (now.as_nanos() / TICK.as_nanos() + 1) * TICK.as_nanos();
        let wait = u64::try_from(next_tick - now.as_nanos()).unwrap_or(u64::MAX);
        std::thread::sleep(Duration::from_nanos(wait));
        advance();
    }
}

/// Keeps the ticker awake while a call with a deadline runs.
#[derive(Debug)]
pub(crate) struct ActiveDeadline(());

impl ActiveDeadline {
    /// Marks a call with a deadline as running.
    ///
    /// # Errors
    /// [`VmError::Resource`] if the ticker thread cannot be started.
    pub(crate) fn new() -> Result<ActiveDeadline, VmError> {
        ensure_ticker()?;
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        STARTED.fetch_add(1, Ordering::SeqCst);
        if PARKED.load(Ordering::SeqCst) && PARKED.swap(false, Ordering::SeqCst) {
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
        let guard = ActiveDeadline::new().expect("ticker starts");
        let before = current();
        let t0 = Instant::now();
        while current() < before + 3 {
            assert!(t0.elapsed() < Duration::from_secs(5), "the epoch did not advance");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(guard);
    }

    #[test]
    fn a_call_after_the_ticker_parked_wakes_it() {
        drop(ActiveDeadline::new().expect("ticker starts"));
        // Long enough for the ticker to linger and park (unless another
        // test keeps it busy, which this test must survive too).
        std::thread::sleep(TICK * (LINGER_TICKS + 20));
        let guard = ActiveDeadline::new().expect("ticker running");
        let before = current();
        let t0 = Instant::now();
        while current() < before + 3 {
            assert!(t0.elapsed() < Duration::from_secs(5), "the parked ticker was not woken");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(guard);
    }
}
