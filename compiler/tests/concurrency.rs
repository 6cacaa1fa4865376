//! One `Module` shared by many threads, each instantiating and calling at
//! once; traps, stack exhaustion, deadlines and fuel exhaustion on some
//! threads leave the others unaffected.

mod common;

use common::i32s;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmc::{compile, CompileOptions};
use wasmc_loader::{Config, Error, Instance, Linker, Module, Store, TrapKind, Val};

const PROGRAM: &str = r#"
(module
  (memory 1)
  (func (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (i32.store (i32.const 0) (local.get $i))
      (local.set $acc (i32.add (local.get $acc) (i32.load (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func (export "trap") unreachable)
  (func $deep (export "deep") (param i64) (result i64)
    (i64.add (call $deep (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
  (func (export "spin") (loop $l (br $l))))
"#;

fn module(fuel_metering: bool) -> Module {
    let wasm = wat::parse_str(PROGRAM).expect("valid text");
    let options = CompileOptions { fuel_metering, ..CompileOptions::default() };
    common::load(&compile(&wasm, &options).expect("compiles")).expect("loads")
}

fn expect_trap(result: Result<Vec<Val>, Error>, kind: TrapKind) {
    match result {
        Err(Error::Trap(t)) => assert_eq!(t.kind, kind, "{t}"),
        other => panic!("expected a {kind:?} trap, got {other:?}"),
    }
}

/// What each misbehaving thread does, round after round, on its own store.
fn misbehave(plain: &Module, metered: &Module, thread: usize) {
    let mut store = Store::new(Config { max_wasm_stack: 256 * 1024, ..Config::default() });
    let instance = Instance::new(&mut store, plain, &Linker::new()).unwrap();
    match thread % 4 {
        0 => expect_trap(instance.call(&mut store, "trap", &[]), TrapKind::UnreachableCodeReached),
        1 => expect_trap(instance.call(&mut store, "deep", &[Val::I64(0)]), TrapKind::StackOverflow),
        2 => {
            store.set_call_timeout(Some(Duration::from_millis(5)));
            expect_trap(instance.call(&mut store, "spin", &[]), TrapKind::Interrupted);
            // A generous deadline for the check below: this machine is busy.
            store.set_call_timeout(Some(Duration::from_secs(10)));
        }
        _ => {
            let instance = Instance::new(&mut store, metered, &Linker::new()).unwrap();
            store.set_fuel(50_000);
            expect_trap(instance.call(&mut store, "spin", &[]), TrapKind::Interrupted);
            assert_eq!(store.fuel_remaining(), Some(0));
        }
    }
    // The same instance still works after its trap.
    assert_eq!(i32s(instance.call(&mut store, "sum", &[Val::I32(100)]).unwrap()), vec![4950]);
}

#[test]
fn threads_sharing_a_module_do_not_disturb_each_other() {
    let plain = module(false);
    let metered = module(true);
    let stop = AtomicBool::new(false);
    let good_calls = AtomicU64::new(0);
    let bad_rounds = AtomicU64::new(0);
    let run_for = Duration::from_millis(1500);
    std::thread::scope(|s| {
        // Well-behaved threads: fresh instances, correct results throughout.
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let mut store = Store::default();
                    store.set_call_timeout(Some(Duration::from_secs(10)));
                    let instance = Instance::new(&mut store, &plain, &Linker::new()).unwrap();
                    for n in [10, 1000, 5000] {
                        let expected = n * (n - 1) / 2;
                        assert_eq!(i32s(instance.call(&mut store, "sum", &[Val::I32(n)]).unwrap()), vec![expected]);
                        good_calls.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        // Misbehaving threads: one of each kind of failure.
        for thread in 0..4 {
            let (plain, metered, bad_rounds, stop) = (&plain, &metered, &bad_rounds, &stop);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    misbehave(plain, metered, thread);
                    bad_rounds.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let t0 = Instant::now();
        while t0.elapsed() < run_for {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(good_calls.load(Ordering::Relaxed) >= 6, "the well-behaved threads made no progress");
    assert!(bad_rounds.load(Ordering::Relaxed) >= 4, "the misbehaving threads made no progress");
}
