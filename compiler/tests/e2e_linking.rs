//! Host functions, import type checks, typed calls, exports, and the limits
//! on memory and table growth.

mod common;

use common::{instance, instance_with, module, MODES};
use wasmc_loader::{
    BoundsChecks, Config, Error, ExternKind, FuncType, Instance, LinkError, Linker, Store, Val, ValType,
};

const IMPORTS: &str = r#"(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "scale" (func $scale (param f64) (result f64)))
  (func (export "run") (param i32) (result i32) (call $add (local.get 0) (i32.const 100)))
  (func (export "half") (param f64) (result f64) (call $scale (local.get 0))))"#;

fn host_linker() -> Linker {
    let mut linker = Linker::new();
    linker.func_wrap("env", "add", |a: i32, b: i32| a.wrapping_add(b)).func_new(
        "env",
        "scale",
        FuncType { params: vec![ValType::F64], results: vec![ValType::F64] },
        |_caller, args, results| {
            let Val::F64(bits) = args[0] else { unreachable!("checked signature") };
            results[0] = Val::F64((f64::from_bits(bits) / 2.0).to_bits());
            Ok(())
        },
    );
    linker
}

#[test]
fn host_functions_are_called_with_and_return_values() {
    for mode in MODES {
        let (mut store, inst) = instance_with(IMPORTS, mode, &host_linker(), Config::default());
        let run = inst.get_typed_func::<i32, i32>(&store, "run").unwrap();
        assert_eq!(run.call(&mut store, 23).unwrap(), 123);
        let half = inst.get_typed_func::<f64, f64>(&store, "half").unwrap();
        assert_eq!(half.call(&mut store, 5.0).unwrap(), 2.5);
    }
}

#[test]
fn missing_import_names_module_field_and_kind() {
    let mut linker = Linker::new();
    linker.func_wrap("env", "add", |a: i32, b: i32| a + b);
    let mut store = Store::default();
    match Instance::new(&mut store, &module(IMPORTS, BoundsChecks::Guard), &linker) {
        Err(Error::Link(LinkError::Missing { module, name, kind })) => {
            assert_eq!((module.as_str(), name.as_str(), kind), ("env", "scale", ExternKind::Func));
        }
        other => panic!("expected a missing-import error, got {other:?}"),
    }
}

#[test]
fn mistyped_import_is_refused_at_instantiation() {
    let mut linker = host_linker();
    linker.func_wrap("env", "add", |a: i64, b: i64| a + b);
    let mut store = Store::default();
    match Instance::new(&mut store, &module(IMPORTS, BoundsChecks::Guard), &linker) {
        Err(Error::Link(LinkError::Incompatible { module, name, .. })) => {
            assert_eq!((module.as_str(), name.as_str()), ("env", "add"));
        }
        other => panic!("expected an incompatible-import error, got {other:?}"),
    }
}

#[test]
fn typed_func_with_wrong_signature_is_an_error() {
    let (store, inst) = instance_with(IMPORTS, BoundsChecks::Guard, &host_linker(), Config::default());
    assert!(inst.get_typed_func::<i64, i32>(&store, "run").is_err());
    assert!(inst.get_typed_func::<i32, ()>(&store, "run").is_err());
    assert!(inst.get_typed_func::<i32, i32>(&store, "nope").is_err());
}

#[test]
fn dynamic_call_checks_argument_types() {
    let (mut store, inst) = instance_with(IMPORTS, BoundsChecks::Guard, &host_linker(), Config::default());
    assert!(inst.call(&mut store, "run", &[Val::I64(1)]).is_err());
    assert!(inst.call(&mut store, "run", &[]).is_err());
    assert!(matches!(inst.call(&mut store, "run", &[Val::I32(1)]).as_deref(), Ok([Val::I32(101)])));
}

const GROW: &str = r#"(module
  (memory (export "memory") 1 4)
  (table $t 1 3 funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "table_grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#;

#[test]
fn memory_grows_up_to_the_module_maximum_and_no_further() {
    for mode in MODES {
        let (mut store, inst) = instance(GROW, mode);
        inst.call(&mut store, "poke", &[Val::I32(65535), Val::I32(9)]).unwrap();
        assert!(matches!(inst.call(&mut store, "grow", &[Val::I32(2)]).as_deref(), Ok([Val::I32(1)])));
        assert!(matches!(inst.call(&mut store, "size", &[]).as_deref(), Ok([Val::I32(3)])));
        // Old contents survive growth (explicit mode may move the memory).
        assert!(matches!(inst.call(&mut store, "peek", &[Val::I32(65535)]).as_deref(), Ok([Val::I32(9)])));
        inst.call(&mut store, "poke", &[Val::I32(3 * 65536 - 1), Val::I32(5)]).unwrap();
        assert!(matches!(inst.call(&mut store, "grow", &[Val::I32(2)]).as_deref(), Ok([Val::I32(-1)])));
        assert!(matches!(inst.call(&mut store, "grow", &[Val::I32(1)]).as_deref(), Ok([Val::I32(3)])));
        assert!(matches!(inst.call(&mut store, "grow", &[Val::I32(1)]).as_deref(), Ok([Val::I32(-1)])));
        assert!(matches!(inst.call(&mut store, "size", &[]).as_deref(), Ok([Val::I32(4)])));
        let memory = inst.get_memory(&store, "memory").unwrap();
        assert_eq!(memory.size(&store), 4 * 65536);
    }
}

#[test]
fn host_memory_limit_caps_growth() {
    let unbounded = r#"(module (memory 1)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;
    for mode in MODES {
        let config = Config { max_memory_bytes: Some(3 * 65536), ..Config::default() };
        let (mut store, inst) = instance_with(unbounded, mode, &Linker::new(), config);
        assert!(matches!(inst.call(&mut store, "grow", &[Val::I32(2)]).as_deref(), Ok([Val::I32(1)])));
        assert!(matches!(inst.call(&mut store, "grow", &[Val::I32(1)]).as_deref(), Ok([Val::I32(-1)])));
        assert!(matches!(inst.call(&mut store, "grow", &[Val::I32(65536)]).as_deref(), Ok([Val::I32(-1)])));
        let (mut store, inst) = instance(unbounded, mode);
        assert!(matches!(inst.call(&mut store, "grow", &[Val::I32(65536)]).as_deref(), Ok([Val::I32(-1)])));
    }
}

#[test]
fn memory_below_its_minimum_is_refused_by_the_limit() {
    let big = r#"(module (memory 10))"#;
    let config = Config { max_memory_bytes: Some(65536), ..Config::default() };
    let mut store = Store::new(config);
    assert!(Instance::new(&mut store, &module(big, BoundsChecks::Guard), &Linker::new()).is_err());
}

#[test]
fn table_grows_up_to_its_maximum_and_the_host_limit() {
    for mode in MODES {
        let (mut store, inst) = instance(GROW, mode);
        assert!(matches!(inst.call(&mut store, "table_grow", &[Val::I32(2)]).as_deref(), Ok([Val::I32(1)])));
        assert!(matches!(inst.call(&mut store, "table_grow", &[Val::I32(1)]).as_deref(), Ok([Val::I32(-1)])));
        let config = Config { max_table_elements: Some(2), ..Config::default() };
        let (mut store, inst) = instance_with(GROW, mode, &Linker::new(), config);
        assert!(matches!(inst.call(&mut store, "table_grow", &[Val::I32(2)]).as_deref(), Ok([Val::I32(-1)])));
        assert!(matches!(inst.call(&mut store, "table_grow", &[Val::I32(1)]).as_deref(), Ok([Val::I32(1)])));
    }
}

#[test]
fn exported_memory_and_globals_are_reachable_from_the_host() {
    let wat = r#"(module (memory (export "memory") 1) (global (export "g") (mut i32) (i32.const 5))
      (func (export "bump") (global.set 0 (i32.add (global.get 0) (i32.load (i32.const 8))))))"#;
    for mode in MODES {
        let (mut store, inst) = instance(wat, mode);
        let memory = inst.get_memory(&store, "memory").unwrap();
        memory.write(&mut store, 8, &7i32.to_le_bytes()).unwrap();
        assert!(memory.write(&mut store, 65535, &[1, 2]).is_err());
        inst.call(&mut store, "bump", &[]).unwrap();
        let global = inst.get_global(&store, "g").unwrap();
        assert!(matches!(global.get(&store), Val::I32(12)));
        global.set(&mut store, Val::I32(1)).unwrap();
        assert!(global.set(&mut store, Val::I64(1)).is_err());
        inst.call(&mut store, "bump", &[]).unwrap();
        assert!(matches!(global.get(&store), Val::I32(8)));
    }
}
