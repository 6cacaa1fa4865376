//! Bulk operations (`memory.fill`/`copy`, table operations) are bound by
//! the call's deadline and charged fuel by the byte or element, and many
//! small `table.grow`s take linear time (issue #11, findings 4 and 5).

mod common;

use common::{i32s, interrupted};

use std::time::{Duration, Instant};

use wasmc::{compile, BoundsChecks, CompileOptions};
use wasmc_loader::{Instance, Linker, Module, Store, Val};

/// 4 GiB of memory (guard mode reserves it; pages are touched only when
/// written) and a table, with exports running the bulk operators.
const PROGRAM: &str = r#"
(module
  (memory (export "memory") 65536)
  (table $t 16 funcref)
  (func (export "fill") (param $dst i32) (param $byte i32) (param $len i32)
    (memory.fill (local.get $dst) (local.get $byte) (local.get $len)))
  (func (export "copy") (param $dst i32) (param $src i32) (param $len i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len)))
  (func (export "load") (param $at i32) (result i32) (i32.load8_u (local.get $at)))
  (func (export "store") (param $at i32) (param $v i32) (i32.store8 (local.get $at) (local.get $v)))
  (func (export "memory_grow") (param $n i32) (result i32) (memory.grow (local.get $n)))
  (func (export "table_grow") (param $n i32) (result i32) (table.grow $t (ref.null func) (local.get $n)))
  (func (export "table_fill") (param $dst i32) (param $len i32)
    (table.fill $t (local.get $dst) (ref.func $f) (local.get $len)))
  (func $f (export "grows") (param $count i32) (param $delta i32) (result i32)
    (loop $l
      (drop (table.grow $t (ref.null func) (local.get $delta)))
      (local.set $count (i32.sub (local.get $count) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $count) (i32.const 0))))
    (table.size $t)))
"#;

fn module(fuel_metering: bool) -> Module {
    let wasm = wat::parse_str(PROGRAM).expect("valid text");
    let options = CompileOptions { fuel_metering, bounds_checks: BoundsChecks::Guard, ..CompileOptions::default() };
    common::load(&compile(&wasm, &options).expect("compiles")).expect("loads")
}

/// 4 GiB - 1 as an i32 argument.
const ALMOST_4_GIB: i32 = -1;

#[test]
fn a_4_gib_memory_copy_or_fill_stops_soon_after_a_short_deadline() {
    let module = module(false);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    store.set_call_timeout(Some(Duration::from_millis(20)));
    // Overlapping, to a higher address: the copy runs backwards.
    for (name, args) in [
        ("copy", [Val::I32(1), Val::I32(0), Val::I32(ALMOST_4_GIB)]),
        ("copy", [Val::I32(0), Val::I32(1), Val::I32(ALMOST_4_GIB)]),
        ("fill", [Val::I32(0), Val::I32(7), Val::I32(ALMOST_4_GIB)]),
    ] {
        let t0 = Instant::now();
        let message = interrupted(instance.call(&mut store, name, &args));
        let elapsed = t0.elapsed();
        assert_eq!(message, "deadline exceeded", "{name}");
        assert!(elapsed >= Duration::from_millis(20), "{name} interrupted early: {elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{name} ran {elapsed:?} with a 20 ms deadline");
    }
    // The instance stays usable, and a copy done in many chunks to an
    // overlapping higher address is still a memmove.
    store.set_call_timeout(None);
    let len = 3 << 20;
    for i in 0..8 {
        instance.call(&mut store, "store", &[Val::I32(i << 19), Val::I32(i + 1)]).unwrap();
    }
    instance.call(&mut store, "copy", &[Val::I32(5), Val::I32(0), Val::I32(len)]).unwrap();
    for i in 0..6 {
        let at = (i << 19) + 5;
        assert_eq!(i32s(instance.call(&mut store, "load", &[Val::I32(at)]).unwrap()), vec![i + 1], "byte {at}");
    }
}

#[test]
fn memory_fill_costs_fuel_by_the_byte_and_an_unaffordable_one_writes_nothing() {
    let module = module(true);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    // The rate: 1 unit per 64 bytes, whatever else the call costs.
    let mut used = |len: i32| {
        store.set_fuel(1_000_000);
        instance.call(&mut store, "fill", &[Val::I32(0), Val::I32(1), Val::I32(len)]).unwrap();
        1_000_000 - store.fuel_remaining().unwrap()
    };
    assert_eq!(used(64_000) - used(0), 1000);
    assert_eq!(used(64_001) - used(0), 1001);

    // 1 GiB with 1,000 units: interrupted before writing anything.
    store.set_fuel(1000);
    let t0 = Instant::now();
    let message = interrupted(instance.call(&mut store, "fill", &[Val::I32(0), Val::I32(9), Val::I32(1 << 30)]));
    assert_eq!(message, "all fuel consumed");
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
    assert_eq!(store.fuel_remaining(), Some(0));
    store.set_fuel(1000);
    assert_eq!(i32s(instance.call(&mut store, "load", &[Val::I32(0)]).unwrap()), vec![1]);
    assert_eq!(i32s(instance.call(&mut store, "load", &[Val::I32((1 << 30) - 1)]).unwrap()), vec![0]);

    // Copies and table operations are charged the same way.
    store.set_fuel(1000);
    let message = interrupted(instance.call(&mut store, "copy", &[Val::I32(1 << 20), Val::I32(0), Val::I32(1 << 20)]));
    assert_eq!(message, "all fuel consumed");
    store.set_fuel(1000);
    assert_eq!(interrupted(instance.call(&mut store, "table_grow", &[Val::I32(100_000)])), "all fuel consumed");
    store.set_fuel(1_000_000);
    assert_eq!(i32s(instance.call(&mut store, "table_grow", &[Val::I32(100_000)]).unwrap()), vec![16]);
    store.set_fuel(1000);
    interrupted(instance.call(&mut store, "table_fill", &[Val::I32(0), Val::I32(100_000)]));
    // A grow past the limits is -1, not a fuel trap, however big it is.
    store.set_fuel(1000);
    assert_eq!(i32s(instance.call(&mut store, "table_grow", &[Val::I32(-1)]).unwrap()), vec![-1]);
    assert_eq!(i32s(instance.call(&mut store, "memory_grow", &[Val::I32(-1)]).unwrap()), vec![-1]);
}

#[test]
fn small_copies_and_fills_cost_what_large_ones_cost_and_an_unaffordable_one_writes_nothing() {
    // Up to 1 MiB in bounds, generated code checks and charges a copy or
    // fill itself; past it, the loader does: one rate on both sides.
    let module = module(true);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    let mut used = |name: &str, len: i32| {
        store.set_fuel(1_000_000);
        instance.call(&mut store, name, &[Val::I32(4 << 20), Val::I32(1), Val::I32(len)]).unwrap();
        1_000_000 - store.fuel_remaining().unwrap()
    };
    for name in ["copy", "fill"] {
        let base = used(name, 0);
        assert_eq!(used(name, 1) - base, 1, "{name}");
        assert_eq!(used(name, 64) - base, 1, "{name}");
        assert_eq!(used(name, 65) - base, 2, "{name}");
        assert_eq!(used(name, 1 << 20) - base, 16_384, "{name}: the largest done inline");
        assert_eq!(used(name, (1 << 20) + 1) - base, 16_385, "{name}: the smallest done by the loader");
    }

    // 1,000 bytes (16 units) with 5 units, less what the call itself
    // costs: interrupted as by the loader, count at zero, nothing written.
    instance.call(&mut store, "store", &[Val::I32(0), Val::I32(42)]).unwrap();
    for (name, args) in [
        ("copy", [Val::I32(8 << 20), Val::I32(0), Val::I32(1000)]),
        ("fill", [Val::I32(8 << 20), Val::I32(42), Val::I32(1000)]),
    ] {
        store.set_fuel(5);
        assert_eq!(interrupted(instance.call(&mut store, name, &args)), "all fuel consumed", "{name}");
        assert_eq!(store.fuel_remaining(), Some(0), "{name}");
        store.set_fuel(1000);
        assert_eq!(i32s(instance.call(&mut store, "load", &[Val::I32(8 << 20)]).unwrap()), vec![0], "{name}");
    }
}

#[test]
fn memory_grow_costs_fuel_by_the_page() {
    let wasm = wat::parse_str(
        "(module (memory 1) (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))",
    )
    .unwrap();
    let options = CompileOptions { fuel_metering: true, ..CompileOptions::default() };
    let module = common::load(&compile(&wasm, &options).unwrap()).unwrap();
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    let mut used = |pages: i32| {
        store.set_fuel(1_000_000);
        assert!(i32s(instance.call(&mut store, "grow", &[Val::I32(pages)]).unwrap())[0] > 0);
        1_000_000 - store.fuel_remaining().unwrap()
    };
    assert_eq!(used(10) - used(0), 10);
    store.set_fuel(5);
    assert_eq!(interrupted(instance.call(&mut store, "grow", &[Val::I32(100)])), "all fuel consumed");
    store.set_fuel(1000);
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(0)]).unwrap()), vec![11]);
}

#[test]
fn eighty_thousand_small_table_grows_take_linear_time() {
    let module = module(false);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    let t0 = Instant::now();
    let size = i32s(instance.call(&mut store, "grows", &[Val::I32(80_000), Val::I32(10)]).unwrap());
    let elapsed = t0.elapsed();
    assert_eq!(size, vec![16 + 800_000]);
    assert!(elapsed < Duration::from_secs(5), "80,000 grows of 10 elements took {elapsed:?}");
    // The limit is still exact: the table is as big as asked, no bigger.
    assert_eq!(i32s(instance.call(&mut store, "table_grow", &[Val::I32(0)]).unwrap()), vec![800_016]);
    let max_left = 10_000_000 - 800_016;
    assert_eq!(i32s(instance.call(&mut store, "table_grow", &[Val::I32(max_left + 1)]).unwrap()), vec![-1]);
    assert_eq!(i32s(instance.call(&mut store, "table_grow", &[Val::I32(max_left)]).unwrap()), vec![800_016]);
    assert_eq!(i32s(instance.call(&mut store, "table_grow", &[Val::I32(1)]).unwrap()), vec![-1]);
}
