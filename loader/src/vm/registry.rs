//! The process-wide registry of loaded wasm code, which the signal handler
//! asks whether a faulting program counter lies in wasm code.
//!
//! The handler's question must always get the true answer: a wasm fault
//! taken for a foreign one goes to the previous (usually default) handler
//! and kills the process. So the lookup is wait-free and never fails
//! because another thread is loading or dropping a module at that moment:
//!
//! * Writers ([`register`], [`unregister`]; a module load or drop) take a
//!   mutex, build a new immutable [`Snapshot`] (the sorted ranges in a
//!   boxed slice), publish it with one `swap` of the [`AtomicPtr`], wait
//!   until they observe the reader count at zero once, and only then free
//!   the snapshot they replaced.
//! * Readers ([`is_wasm_code`], the signal handler) increment the reader
//!   count, load the pointer, binary-search the snapshot and decrement the
//!   count: a fixed number of instructions plus a logarithmic search. They
//!   never allocate, block or retry.
//!
//! Why a reader never sees a freed snapshot (every access to `current` and
//! `readers` is `SeqCst`, so they all lie in one total order S): let a
//! reader load the old pointer at `b`, after its increment `a` (so `a`
//! precedes `b` in S). Its load read a value the writer's swap `s` then
//! replaced, so `b` precedes `s` in S, and `s` precedes the writer's load
//! `l` that saw zero readers. Every change of `readers` is a
//! read-modify-write, so its modification order follows S: `a` comes
//! before the value `l` read. Zero means as many decrements as increments
//! before that point, and a decrement always follows its own thread's
//! increment; so the reader's decrement `c` is before it too (otherwise
//! the decrements there would pair with fewer increments than there are).
//! `c` is a release, `l` an acquire reading `c`'s value or a later
//! read-modify-write's, so `c` synchronises with `l`: everything the reader
//! did with the old snapshot happens before the writer frees it. A reader
//! whose increment comes after `l` in S loads the pointer after `s`, so it
//! gets the new snapshot (or a later one, protected by its own writer's
//! wait in the same way).
//!
//! The writer's wait ends as soon as no lookup is in flight; each lookup
//! takes nanoseconds, so only faults arriving back to back on several
//! threads for the whole wait could delay a load or drop (never a trap).
//! A load or drop copies the ranges once (16 bytes per loaded module).

use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// An immutable, sorted list of non-overlapping `[start, end)` code ranges.
struct Snapshot {
    ranges: Box<[(usize, usize)]>,
}

impl Snapshot {
    fn contains(&self, pc: usize) -> bool {
        // The first range starting after `pc`; the one before it is the
        // only one that can contain `pc`.
        let after = self.ranges.partition_point(|&(start, _)| start <= pc);
        after.checked_sub(1).is_some_and(|i| pc < self.ranges[i].1)
    }
}

/// A set of code ranges with a wait-free membership test (see the module
/// documentation for the protocol and its proof).
pub(crate) struct Registry {
    /// The ranges, sorted by start; the writers' copy, behind their lock.
    ranges: Mutex<Vec<(usize, usize)>>,
    /// The published snapshot (`Box::into_raw`), or null when empty.
    current: AtomicPtr<Snapshot>,
    /// How many lookups are between their increment and decrement.
    readers: AtomicUsize,
}

impl Registry {
    pub(crate) const fn new() -> Registry {
        Registry { ranges: Mutex::new(Vec::new()), current: AtomicPtr::new(null_mut()), readers: AtomicUsize::new(0) }
    }

    /// Records `[start, start + len)`. Empty ranges are ignored.
    pub(crate) fn register(&self, start: usize, len: usize) {
        if len == 0 {
            return;
        }
        let end = start.saturating_add(len);
        self.update(|ranges| {
            let at = ranges.partition_point(|&(s, _)| s < start);
            ranges.insert(at, (start, end));
        });
    }

    /// Forgets the range registered at `start`, if any.
    pub(crate) fn unregister(&self, start: usize) {
        self.update(|ranges| ranges.retain(|&(s, _)| s != start));
    }

    /// Whether `pc` lies in a registered range. Async-signal-safe and
    /// wait-free: no allocation, no lock, no retry.
    pub(crate) fn contains(&self, pc: usize) -> bool {
        self.readers.fetch_add(1, SeqCst);
        let snapshot = self.current.load(SeqCst);
        // SAFETY: a non-null `current` came from `Box::into_raw` in
        // `update`, and the writer that replaces it frees it only after
        // observing `readers == 0` after the replacement; our increment
        // above precedes our load, so that observation cannot happen before
        // our decrement below (proof in the module documentation).
        let found = !snapshot.is_null() && unsafe { &*snapshot }.contains(pc);
        self.readers.fetch_sub(1, SeqCst);
        found
    }

    /// Applies `change` to the ranges and publishes the result.
    fn update(&self, change: impl FnOnce(&mut Vec<(usize, usize)>)) {
        // A panic while holding the lock (an allocation failure in `change`)
        // leaves the vector valid; the published snapshot is unaffected.
        let mut ranges = self.ranges.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut ranges);
        let fresh = if ranges.is_empty() {
            null_mut()
        } else {
            Box::into_raw(Box::new(Snapshot { ranges: ranges.as_slice().into() }))
        };
        let old = self.current.swap(fresh, SeqCst);
        if old.is_null() {
            return;
        }
        // Wait until no lookup can still hold `old`: one observation of zero
        // after the swap suffices (module documentation).
        while self.readers.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
        // SAFETY: `old` came from `Box::into_raw` in an earlier `update`
        // (made under the same lock, which we hold, so nobody else frees it),
        // is no longer published, and no lookup can still be reading it.
        drop(unsafe { Box::from_raw(old) });
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        if !current.is_null() {
            // SAFETY: `current` came from `Box::into_raw` and, with `&mut
            // self`, no lookup can be running.
            drop(unsafe { Box::from_raw(current) });
        }
    }
}

/// The process's wasm code.
static CODE: Registry = Registry::new();

/// Records `[start, start + len)` as wasm code. Empty ranges are ignored.
pub(crate) fn register(start: usize, len: usize) {
    CODE.register(start, len);
}

/// Forgets the range registered at `start`.
pub(crate) fn unregister(start: usize) {
    CODE.unregister(start);
}

/// Whether `pc` lies in registered wasm code. Safe to call from a signal
/// handler: wait-free, never allocates, and never wrong because another
/// thread is loading or dropping a module.
pub(crate) fn is_wasm_code(pc: usize) -> bool {
    CODE.contains(pc)
}

#[cfg(test)]
mod tests {
    use super::Registry;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn finds_exactly_the_registered_ranges() {
        let registry = Registry::new();
        assert!(!registry.contains(0x1000));
        registry.register(0x3000, 0x100);
        registry.register(0x1000, 0x100);
        registry.register(0x2000, 0);
        assert!(registry.contains(0x1000) && registry.contains(0x10ff) && registry.contains(0x3080));
        assert!(!registry.contains(0xfff) && !registry.contains(0x1100) && !registry.contains(0x2000));
        registry.unregister(0x1000);
        assert!(!registry.contains(0x1000) && registry.contains(0x3000));
        registry.unregister(0x3000);
        assert!(!registry.contains(0x3000));
    }

    /// Lookups of a range that stays registered always succeed while other
    /// threads register and unregister ranges around it (under Miri this
    /// also checks the protocol for data races and use after free).
    #[test]
    fn a_stable_range_is_always_found_during_concurrent_changes() {
        let registry = Registry::new();
        registry.register(0x10_0000, 0x1000);
        let stop = AtomicBool::new(false);
        let rounds = if cfg!(miri) { 20 } else { 20_000 };
        std::thread::scope(|scope| {
            let (registry, stop) = (&registry, &stop);
            let reader = scope.spawn(move || {
                let mut lookups = 0u64;
                while !stop.load(Ordering::Relaxed) || lookups < 100 {
                    assert!(registry.contains(0x10_0800));
                    assert!(!registry.contains(0x10_1000));
                    lookups += 1;
                }
            });
            let writers: Vec<_> = (0..2usize)
                .map(|writer| {
                    scope.spawn(move || {
                        for i in 0..rounds {
                            let start = 0x20_0000 + (writer * rounds + i) * 0x1000;
                            registry.register(start, 0x800);
                            registry.unregister(start);
                        }
                    })
                })
                .collect();
            for writer in writers {
                writer.join().expect("a writer does not panic");
            }
            stop.store(true, Ordering::Relaxed);
            reader.join().expect("every lookup found the stable range");
        });
        assert!(registry.contains(0x10_0000));
    }
}
