//! Per-store limits on memory and tables: exceeding them is a failed grow
//! or an instantiation error, never an abort of the host.

mod common;

use wasmc_loader::{Config, Error, Instance, Linker, Store, Val};

/// The i32 results of a call.
fn i32s(values: Vec<Val>) -> Vec<i32> {
    values.iter().map(|v| if let Val::I32(x) = v { *x } else { panic!("not an i32: {v:?}") }).collect()
}

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
