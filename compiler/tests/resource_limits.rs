//! Per-store limits on memory and tables: exceeding them is a failed grow
//! or an instantiation error, never an abort of the host.

mod common;

use common::i32s;

use wasmc_loader::{Config, Error, Instance, Linker, Store, Val};

fn instantiate(wat: &str, config: Config) -> Result<(Store, Instance), Error> {
    let module = common::module(wat, wasmc::BoundsChecks::Guard);
    let mut store = Store::new(config);
    let instance = Instance::new(&mut store, &module, &Linker::new())?;
    Ok((store, instance))
}

#[test]
fn memory_beyond_the_store_limit_is_refused_or_fails_to_grow() {
    let config = Config { max_memory_bytes: Some(4 * 65536), ..Config::default() };
    match instantiate("(module (memory 5))", config.clone()) {
        Err(Error::Resource(_)) => {}
        other => panic!("expected a resource error, got {other:?}"),
    }
    let (mut store, instance) = instantiate(
        r#"(module (memory 1)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
        config,
    )
    .unwrap();
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(3)]).unwrap()), vec![1]);
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(1)]).unwrap()), vec![-1]);
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(65536)]).unwrap()), vec![-1]);
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(-1)]).unwrap()), vec![-1]);
}

#[test]
fn huge_tables_are_errors_not_aborts() {
    let huge = "(module (table 10000000 funcref))"; // the largest minimum validation accepts
    let limited = Config { max_table_elements: Some(1000), ..Config::default() };
    match instantiate(huge, limited.clone()) {
        Err(Error::Resource(_)) => {}
        other => panic!("expected a resource error, got {other:?}"),
    }
    let (mut store, instance) = instantiate(
        r#"(module (table 10 funcref)
             (func (export "grow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))"#,
        limited,
    )
    .unwrap();
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(990)]).unwrap()), vec![10]);
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(1)]).unwrap()), vec![-1]);
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(-1)]).unwrap()), vec![-1]);
}

#[test]
fn unlimited_tables_still_stop_at_the_default_ceiling() {
    // A wasm-smith module in the differential smoke run grew a table by
    // 0xA2F9_0000 elements with no limit anywhere, and the host filled
    // tens of GiB until the kernel killed it.
    let (mut store, instance) = instantiate(
        r#"(module (table 19 funcref)
             (func $f (export "grow") (param i32) (result i32) (table.grow (ref.func $f) (local.get 0))))"#,
        Config::default(),
    )
    .unwrap();
    let rss_before = rss_bytes();
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(-1_559_838_773)]).unwrap()), vec![-1]);
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(10_000_000 - 19 + 1)]).unwrap()), vec![-1]);
    assert_eq!(i32s(instance.call(&mut store, "grow", &[Val::I32(81)]).unwrap()), vec![19]);
    assert!(rss_bytes() < rss_before + (64 << 20), "a refused grow must not touch memory");
}

/// Resident bytes, from /proc/self/statm (4 KiB pages are enough for a bound).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("statm resident field");
    pages * 4096
}
