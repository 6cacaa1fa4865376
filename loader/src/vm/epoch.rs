//! The process-wide epoch counter and the ticker thread that advances it.
//!
//! Generated code compares the counter (through `VMCTX_EPOCH_PTR`) with its
//! store's deadline at function entry and at every loop header. The counter
//! counts [`TICK`]s since the first use: the ticker recomputes it from a
//! monotonic clock on every wake-up, so a late wake-up never makes the epoch
//! fall behind real time.
//!
//! The ticker is one thread for the process, started by the first
//! [`crate::Store::set_call_timeout`] with a timeout. It parks while no call
//! with a deadline is running ([`ActiveDeadline`] counts them) and otherwise
//! wakes once per tick.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::vm::trap::VmError;

/// Granularity of deadlines.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// Ticks since [`start`]; only ever increases.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Calls with a deadline in progress, in all stores.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
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
    loop {
        if ACTIVE.load(Ordering::Acquire) == 0 {
            // `unpark` before `park` makes `park` return at once, so a call
            // that starts between the check and here is not missed.
            std::thread::park();
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
        if ACTIVE.fetch_add(1, Ordering::AcqRel) == 0 {
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
}
