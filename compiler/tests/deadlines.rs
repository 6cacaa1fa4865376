//! Deadlines (epoch interruption) and fuel, through the real path: compile,
//! load, instantiate, call.

mod common;

use common::{i32s, interrupted};

use std::time::{Duration, Instant};

use wasmc::{compile, CompileOptions};
use wasmc_loader::{Caller, Config, Error, HostError, Instance, Linker, Module, Store, TrapKind, Val};

const PROGRAM: &str = r#"
(module
  (import "host" "reenter" (func $reenter))
  (func $spin (export "spin") (loop $l (br $l)))
  (func $count (export "count") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i))
  (func (export "straight") (result i32)
    (i32.add (i32.const 1) (i32.add (i32.const 2) (i32.const 3))))
  (func (export "via_host") (call $reenter) (call $spin))
  (func (export "answer") (result i32) (i32.const 42)))
"#;

fn module(fuel_metering: bool) -> Module {
    let wasm = wat::parse_str(PROGRAM).expect("valid text");
    let options = CompileOptions { fuel_metering, ..CompileOptions::default() };
    common::load(&compile(&wasm, &options).expect("compiles")).expect("loads")
}

/// A linker whose `host.reenter` calls back into the calling instance's
/// `spin` export, propagating its error.
fn reentering_linker() -> Linker {
    let mut linker = Linker::new();
    linker.func_wrap("host", "reenter", |mut caller: Caller<'_>| -> Result<(), HostError> {
        let instance = caller.instance().ok_or("no calling instance")?;
        let spin = instance.get_func(&caller, "spin").ok_or("no spin export")?;
        spin.call(&mut caller, &[])?;
        Ok(())
    });
    linker
}

#[test]
fn an_infinite_loop_is_interrupted_after_its_timeout_and_the_instance_stays_usable() {
    let module = module(false);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &reentering_linker()).unwrap();
    store.set_call_timeout(Some(Duration::from_millis(50)));
    for _ in 0..2 {
        let t0 = Instant::now();
        let message = interrupted(instance.call(&mut store, "spin", &[]));
        let elapsed = t0.elapsed();
        assert_eq!(message, "deadline exceeded");
        assert!(elapsed >= Duration::from_millis(50), "interrupted early: {elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "interrupted late: {elapsed:?}");
        // The next call gets a fresh deadline.
        assert_eq!(i32s(instance.call(&mut store, "answer", &[]).unwrap()), vec![42]);
        assert_eq!(i32s(instance.call(&mut store, "count", &[Val::I32(1000)]).unwrap()), vec![1000]);
    }
    store.set_call_timeout(None);
    assert_eq!(store.call_timeout(), None);
    assert_eq!(i32s(instance.call(&mut store, "count", &[Val::I32(100_000)]).unwrap()), vec![100_000]);
}

#[test]
fn a_deadline_hit_in_wasm_called_by_a_host_function_interrupts_the_whole_call() {
    let module = module(false);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &reentering_linker()).unwrap();
    store.set_call_timeout(Some(Duration::from_millis(20)));
    let t0 = Instant::now();
    let err = instance.call(&mut store, "via_host", &[]).unwrap_err();
    // The nested call's trap, propagated by the host function with `?`,
    // stays reachable as the outer trap's source.
    let nested = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<Error>());
    assert_eq!(nested.and_then(Error::as_trap).map(|t| t.kind), Some(TrapKind::Interrupted), "{err:?}");
    let message = interrupted(Err(err));
    assert_eq!(message, "deadline exceeded (in a host function)");
    // One deadline for the outermost call: the nested call did not get a
    // fresh one, so the whole call ended after about 20 ms, not 40.
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(i32s(instance.call(&mut store, "answer", &[]).unwrap()), vec![42]);
}

#[test]
fn fuel_is_deterministic_and_running_out_traps() {
    let module = module(true);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &reentering_linker()).unwrap();
    assert_eq!(store.fuel_remaining(), None);

    store.set_fuel(1_000_000);
    assert_eq!(i32s(instance.call(&mut store, "count", &[Val::I32(100)]).unwrap()), vec![100]);
    let used_100 = 1_000_000 - store.fuel_remaining().unwrap();
    store.set_fuel(1_000_000);
    assert_eq!(i32s(instance.call(&mut store, "count", &[Val::I32(200)]).unwrap()), vec![200]);
    let used_200 = 1_000_000 - store.fuel_remaining().unwrap();
    // The same work costs the same fuel, and each iteration costs the same.
    store.set_fuel(1_000_000);
    instance.call(&mut store, "count", &[Val::I32(100)]).unwrap();
    assert_eq!(1_000_000 - store.fuel_remaining().unwrap(), used_100);
    let per_iteration = (used_200 - used_100) / 100;
    assert!((5..=20).contains(&per_iteration), "{per_iteration} units per loop iteration");
    assert_eq!((used_200 - used_100) % 100, 0);

    // Not enough for 1000 iterations: traps, and nothing is left.
    store.set_fuel(used_100);
    let message = interrupted(instance.call(&mut store, "count", &[Val::I32(1000)]));
    assert_eq!(message, "all fuel consumed");
    assert_eq!(store.fuel_remaining(), Some(0));
    // An infinite loop ends too.
    store.set_fuel(10_000);
    interrupted(instance.call(&mut store, "spin", &[]));
    // Refilled: usable again.
    store.set_fuel(u64::MAX);
    assert_eq!(i32s(instance.call(&mut store, "count", &[Val::I32(1000)]).unwrap()), vec![1000]);
    assert!(store.fuel_remaining().unwrap() > i64::MAX as u64 - 100_000);
}

#[test]
fn loop_free_code_cannot_finish_without_fuel() {
    let module = module(true);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &reentering_linker()).unwrap();
    // Never set: no fuel at all.
    let message = interrupted(instance.call(&mut store, "straight", &[]));
    assert!(message.starts_with("all fuel consumed"), "{message}");
    store.set_fuel(2);
    interrupted(instance.call(&mut store, "straight", &[]));
    store.set_fuel(100);
    assert_eq!(i32s(instance.call(&mut store, "straight", &[]).unwrap()), vec![6]);
    assert!(store.fuel_remaining().unwrap() < 100);
}

#[test]
fn fuel_ignores_unmetered_code_and_deadlines_apply_to_metered_code() {
    let plain = module(false);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &plain, &reentering_linker()).unwrap();
    store.set_fuel(10);
    assert_eq!(i32s(instance.call(&mut store, "count", &[Val::I32(10_000)]).unwrap()), vec![10_000]);
    assert_eq!(store.fuel_remaining(), Some(10));

    let metered = module(true);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &metered, &reentering_linker()).unwrap();
    store.set_fuel(u64::MAX);
    store.set_call_timeout(Some(Duration::from_millis(10)));
    assert_eq!(interrupted(instance.call(&mut store, "spin", &[])), "deadline exceeded");
}

#[test]
fn a_start_function_is_bound_by_the_deadline() {
    let wasm = wat::parse_str("(module (func $s (loop $l (br $l))) (start $s))").unwrap();
    let module = common::load(&compile(&wasm, &CompileOptions::default()).unwrap()).unwrap();
    let mut store = Store::new(Config::default());
    store.set_call_timeout(Some(Duration::from_millis(10)));
    match Instance::new(&mut store, &module, &Linker::new()) {
        Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::Interrupted),
        other => panic!("expected an interrupted start function, got {other:?}"),
    }
}

/// A host function that panics unwinds out of the call (the host sees the
/// panic), and the store's deadlines keep working afterwards: once the
/// unwind skipped the entry's bookkeeping, every later call counted as
/// nested, kept the stale deadline, and an endless loop ran for good.
#[test]
fn a_panicking_host_function_leaves_deadlines_working() {
    let wat = r#"(module
      (import "host" "panic" (func $panic))
      (func (export "panic") (call $panic))
      (func (export "spin") (loop $l (br $l))))"#;
    let wasm = wat::parse_str(wat).unwrap();
    let module = common::load(&compile(&wasm, &CompileOptions::default()).unwrap()).unwrap();
    let mut linker = Linker::new();
    linker.func_wrap("host", "panic", || -> () { panic!("host function gave up") });
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &linker).unwrap();
    store.set_call_timeout(Some(Duration::from_millis(50)));
    let panic = instance.get_func(&store, "panic").unwrap();
    let spin = instance.get_func(&store, "spin").unwrap();
    for _ in 0..2 {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| panic.call(&mut store, &[])));
        assert!(unwound.is_err(), "the host function's panic reaches the host");
    }
    // If deadlines were off, `spin` would never return: watch it from here.
    let (done, finished) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let result = spin.call(&mut store, &[]);
        let _ = done.send(result);
    });
    let result = finished.recv_timeout(Duration::from_secs(5)).expect("spin ran past 5 s with a 50 ms timeout");
    assert!(interrupted(result).contains("deadline exceeded"));
    assert!(started.elapsed() < Duration::from_secs(5));
}
