//! Stress and leaks: many threads instantiating, calling, trapping and
//! dropping at once for a bounded time; then 100,000 instantiate/drop cycles
//! after which the process's mappings (/proc/self/maps) and resident memory
//! (/proc/self/statm) are back near where they started.
//!
//! Both tests run in one test function, one after the other, so that no other
//! test of this file maps or unmaps memory while the leak check measures.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmc_loader::{Error, Instance, Linker, Module, Store, TrapKind, Val};

const PLUGIN: &str = r#"
(module
  (memory (export "mem") 1 4)
  (table 2 funcref)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 16) "sentinel")
  (func (export "work") (param i32) (result i32) (local i32)
    (loop $l
      (i32.store (i32.add (i32.const 1024) (i32.and (local.get 1) (i32.const 0x3ffc))) (local.get 1))
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.load (i32.const 16)))
  (func (export "oob") (param i32) (result i32) (i32.load (local.get 0)))
  (func $r (export "recurse") (param i32) (result i32) (i32.add (call $r (local.get 0)) (i32.const 1)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
)
"#;

fn maps_lines() -> usize {
    std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps").lines().count()
}

/// Resident pages, from /proc/self/statm.
fn resident_pages() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("statm resident field")
}

fn one_round(module: &Module, i: u32) -> Result<(), String> {
    let mut store = Store::default();
    let instance = Instance::new(&mut store, module, &Linker::new()).map_err(|e| e.to_string())?;
    let got = instance.call(&mut store, "work", &[Val::I32(200 + (i % 50) as i32)]).map_err(|e| e.to_string())?;
    if !matches!(got[..], [Val::I32(v)] if v == i32::from_le_bytes(*b"sent")) {
        return Err(format!("work returned {got:?}"));
    }
    let expect_trap = |r: Result<Vec<Val>, Error>, kind: TrapKind| match r {
        Err(Error::Trap(t)) if t.kind == kind => Ok(()),
        other => Err(format!("expected {kind:?}, got {other:?}")),
    };
    match i % 3 {
        0 => expect_trap(instance.call(&mut store, "oob", &[Val::I32(-4)]), TrapKind::MemoryOutOfBounds)?,
        1 => expect_trap(instance.call(&mut store, "recurse", &[Val::I32(0)]), TrapKind::StackOverflow)?,
        _ => {
            instance.call(&mut store, "grow", &[]).map_err(|e| e.to_string())?;
        }
    }
    // The instance still works after its trap.
    instance.call(&mut store, "work", &[Val::I32(4)]).map_err(|e| e.to_string())?;
    Ok(())
}

fn threads_at_once(modules: &[Module], duration: Duration) -> u64 {
    let rounds = AtomicU64::new(0);
    let deadline = Instant::now() + duration;
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let (rounds, module) = (&rounds, &modules[t as usize % modules.len()]);
            s.spawn(move || {
                let mut i = t;
                while Instant::now() < deadline {
                    one_round(module, i).unwrap_or_else(|e| panic!("thread {t}, round {i}: {e}"));
                    rounds.fetch_add(1, Ordering::Relaxed);
                    i += 8;
                }
            });
        }
    });
    rounds.into_inner()
}

fn cycles(module: &Module, n: u32) {
    for _ in 0..n {
        let mut store = Store::default();
        // `Instance` is a handle; dropping the store frees the instance.
        Instance::new(&mut store, module, &Linker::new()).expect("instantiate");
        drop(store);
    }
}

#[test]
fn threads_stress_then_instantiate_drop_cycles_leave_no_leak() {
    let modules: Vec<Module> = common::MODES.iter().map(|&m| common::module(PLUGIN, m)).collect();
    let rounds = threads_at_once(&modules, Duration::from_secs(3));
    assert!(rounds >= 8, "only {rounds} rounds in 3 s");
    eprintln!("stress: {rounds} instantiate/call/trap/drop rounds on 8 threads in 3 s");

    for (module, mode) in modules.iter().zip(common::MODES) {
        let n = 100_000;
        // Warm up: allocator pools, the signal stack of this thread, caches.
        cycles(module, 1_000);
        let (maps, rss) = (maps_lines(), resident_pages());
        let start = Instant::now();
        cycles(module, n);
        let (maps_after, rss_after) = (maps_lines(), resident_pages());
        eprintln!(
            "{mode:?}: {n} cycles in {:?}; maps {maps} -> {maps_after} lines, resident {rss} -> {rss_after} pages",
            start.elapsed()
        );
        assert!(maps_after <= maps + 8, "{mode:?}: mappings grew from {maps} to {maps_after} lines");
        // 4 KiB pages: allow 4 MiB of allocator noise, far below one leaked page per cycle.
        assert!(rss_after <= rss + 1024, "{mode:?}: resident memory grew from {rss} to {rss_after} pages");
    }
}
