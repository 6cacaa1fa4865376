//! Function types are interned process-wide (so `call_indirect` can compare
//! ids across modules) but only while a loaded module uses them: a server
//! that loads and drops many untrusted modules must not grow without
//! bound. One test, alone in its process, so the count it reads is its own.

mod common;

use wasmc::{compile, BoundsChecks, CompileOptions, OptLevel};
use wasmc_loader::{interned_func_types, Error, Instance, Linker, Module, Store, TrapKind, Val};

const VALTYPES: [&str; 4] = ["i32", "i64", "f32", "f64"];

/// A module whose one function has a type no other `n` gives: its params
/// spell `n` in base 4 (seven digits, so up to 16,384 types).
fn unique_type_module(n: usize) -> Vec<u8> {
    let params: Vec<&str> = (0..7).map(|digit| VALTYPES[n / 4usize.pow(digit) % 4]).collect();
    let wat = format!(r#"(module (func (export "f") (param {}) (result i32) i32.const 7))"#, params.join(" "));
    let wasm = wat::parse_str(&wat).unwrap();
    let options = CompileOptions {
        bounds_checks: BoundsChecks::Explicit,
        opt_level: OptLevel::None,
        ..CompileOptions::default()
    };
    compile(&wasm, &options).unwrap()
}

/// Compiles modules `range` on two threads.
fn compile_all(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    let mid = range.start + range.len() / 2;
    std::thread::scope(|s| {
        let first = s.spawn(|| (range.start..mid).map(unique_type_module).collect::<Vec<_>>());
        let mut second: Vec<Vec<u8>> = (mid..range.end).map(unique_type_module).collect();
        let mut all = first.join().unwrap();
        all.append(&mut second);
        all
    })
}

const TABLE_OWNER: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (table (export "t") 2 funcref)
  (func $double (type $t) local.get 0 i32.const 2 i32.mul)
  (func $wide (param i64) (result i64) local.get 0)
  (elem (i32.const 0) $double $wide))"#;

const CALLER: &str = r#"(module
  (type $u (func (param i32) (result i32)))
  (import "owner" "t" (table 2 funcref))
  (func (export "call") (param i32 i32) (result i32)
    local.get 0 local.get 1 call_indirect (type $u)))"#;

fn call(store: &mut Store, instance: Instance, index: i32) -> Result<i32, Error> {
    match instance.call(store, "call", &[Val::I32(21), Val::I32(index)])?.as_slice() {
        [Val::I32(v)] => Ok(*v),
        other => panic!("call returned {other:?}"),
    }
}

#[test]
fn dropping_modules_frees_their_function_types_and_call_indirect_still_matches() {
    let baseline = interned_func_types();

    // A module holding (i32) -> i32 from before the churn.
    let owner = common::module(TABLE_OWNER, BoundsChecks::Guard);
    let with_owner = interned_func_types();
    assert!(with_owner > baseline, "loading a module interns its types");

    // 10,240 modules, each with a function type no other has, in batches
    // of 1,024 loaded at once.
    for batch in 0..10 {
        let artifacts = compile_all(batch * 1024..(batch + 1) * 1024);
        let modules: Vec<Module> = artifacts.iter().map(|a| common::load(a).unwrap()).collect();
        assert!(interned_func_types() >= with_owner + 1024, "each module's type is interned while it is loaded");
        drop(modules);
        assert_eq!(interned_func_types(), with_owner, "batch {batch}: dropped modules left their types behind");
    }

    // After the churn (ids freed and reused), a module loaded now with an
    // equal type gets the owner's id: call_indirect across the two modules
    // matches equal types and still refuses a different one.
    let caller = common::module(CALLER, BoundsChecks::Guard);
    let mut store = Store::default();
    let owner_instance = Instance::new(&mut store, &owner, &Linker::new()).unwrap();
    let mut linker = Linker::new();
    linker.instance(&store, "owner", owner_instance);
    let caller_instance = Instance::new(&mut store, &caller, &linker).unwrap();
    assert_eq!(call(&mut store, caller_instance, 0).unwrap(), 42);
    match call(&mut store, caller_instance, 1) {
        Err(Error::Trap(trap)) => assert_eq!(trap.kind, TrapKind::BadSignature),
        other => panic!("expected a signature mismatch trap, got {other:?}"),
    }

    // The modules live on in the store after these handles are dropped.
    drop((owner, caller));
    assert_eq!(call(&mut store, caller_instance, 0).unwrap(), 42);
    assert!(interned_func_types() > baseline, "a store keeps its modules' types");
    drop(store);
    assert_eq!(interned_func_types(), baseline);
}
